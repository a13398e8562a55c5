/* One-line logging to stderr for all paperq programs.
 * Format: "2026-11-29T09:00:00.123Z worker[1234] info: message".
 * Secrets must never be passed to these functions; as a second line of
 * defence every line goes through pq_redact (redact.h). */
#ifndef PAPERQ_LOG_H
#define PAPERQ_LOG_H

enum pq_log_level { PQ_LOG_DEBUG = 0, PQ_LOG_INFO, PQ_LOG_WARN, PQ_LOG_ERROR };

/* Sets the program name shown in every line (borrowed; must outlive logging). */
void pq_log_init(const char *program);

/* Returns 0 on success, -1 if name is not one of debug, info, warn, error. */
int pq_log_set_level_name(const char *name);
void pq_log_set_level(enum pq_log_level level);
int pq_log_enabled(enum pq_log_level level);

void pq_log(enum pq_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pq_debug(...) pq_log(PQ_LOG_DEBUG, __VA_ARGS__)
#define pq_info(...) pq_log(PQ_LOG_INFO, __VA_ARGS__)
#define pq_warn(...) pq_log(PQ_LOG_WARN, __VA_ARGS__)
#define pq_error(...) pq_log(PQ_LOG_ERROR, __VA_ARGS__)

#endif
