/* Small shared helpers: error codes, time, ids, hashing, number parsing. */
#ifndef PAPERQ_UTIL_H
#define PAPERQ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Return codes shared by the common library. */
enum {
  PQ_OK = 0,
  PQ_ERR = -1, /* generic failure; the function logged or set a message */
  PQ_ERR_NOMEM = -2,
  PQ_ERR_TOOBIG = -3, /* a bounded buffer or limit was exceeded */
  PQ_ERR_PARSE = -4,  /* input is not what the format requires */
  PQ_ERR_IO = -5,
  PQ_ERR_BROKER = -6, /* connection to RabbitMQ failed or was lost */
  PQ_ERR_TIMEOUT = -7,
  PQ_ERR_NACK = -8, /* the broker refused a publish */
};

/* Wall clock in milliseconds since the epoch, and a monotonic clock. */
int64_t pq_now_ms(void);
int64_t pq_mono_ms(void);

/* Writes a random 32-hex-char id plus NUL into out[33]. */
void pq_new_id(char out[33]);

/* FNV-1a 64-bit: stable across machines; used for QA sampling by paper id. */
uint64_t pq_hash64(const char *s);

/* Strict number parsing: the whole string must be a number in [min, max].
 * Return PQ_OK or PQ_ERR_PARSE. */
int pq_parse_long(const char *s, long min, long max, long *out);
int pq_parse_double(const char *s, double min, double max, double *out);

/* strdup that returns NULL for NULL. */
char *pq_strdup(const char *s);

/* Reads a whole file into a NUL-terminated malloc'd buffer, at most max bytes.
 * PQ_OK, PQ_ERR_IO (errno set), PQ_ERR_TOOBIG, PQ_ERR_NOMEM. */
int pq_read_file(const char *path, size_t max, char **out, size_t *len);

/* Writes len bytes to path through path.tmp and a rename, so that a reader
 * (a browser, a web server, the next run) never sees half a file. PQ_OK, or
 * PQ_ERR_IO with errno set and no .tmp left behind. */
int pq_write_file(const char *path, const void *data, size_t len);

#endif
