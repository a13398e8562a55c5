/* Logging: level check before formatting, one write(2) per line so lines from
 * concurrent processes sharing a terminal do not interleave. */
#include "paperq/log.h"
#include "paperq/redact.h"
#include "paperq/textutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "paperq";
static int log_pid; /* cached: one getpid(2) per line showed in profiles */
static enum pq_log_level log_level = PQ_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void pq_log_init(const char *program) {
  log_program = program;
  log_pid = (int)getpid();
}

void pq_log_set_level(enum pq_log_level level) { log_level = level; }

int pq_log_set_level_name(const char *name) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      log_level = (enum pq_log_level)i;
      return 0;
    }
  }
  return -1;
}

int pq_log_enabled(enum pq_log_level level) { return level >= log_level; }

void pq_log(enum pq_log_level level, const char *fmt, ...) {
  if (level < log_level)
    return;
  char line[4096];
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  int n = snprintf(
      line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s: ", tm.tm_year + 1900,
      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
      log_program, log_pid ? log_pid : (int)getpid(), level_names[level]);
  if (n < 0)
    return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
  msg[mlen] = '\0';
  if (pq_redact(msg)) /* a provider's text may echo the key */
    mlen = strlen(msg);
  /* Messages carry untrusted text (provider errors, ids, event fields): an
   * ESC sequence or a newline in it must not reach the terminal or split
   * the line. Long lines are cut, never overflow. */
  size_t len = (size_t)n + pq_text_escape(msg, mlen, line + n, sizeof line - (size_t)n - 1);
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
