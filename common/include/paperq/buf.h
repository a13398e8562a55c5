/* Bounded growable byte buffer (after curl's dynbuf): every buffer is given
 * its maximum size when created; growing past it is an error, not a crash. */
#ifndef PAPERQ_BUF_H
#define PAPERQ_BUF_H

#include <stddef.h>

struct pq_buf {
  char *data; /* NUL-terminated when len > 0 or after any append */
  size_t len; /* bytes used, excluding the NUL */
  size_t cap; /* bytes allocated */
  size_t max; /* hard limit on len */
};

/* Returns PQ_OK, PQ_ERR_NOMEM, or PQ_ERR_TOOBIG (the append would pass max;
 * the buffer is unchanged). */
void pq_buf_init(struct pq_buf *b, size_t max);
int pq_buf_append(struct pq_buf *b, const void *data, size_t len);
int pq_buf_append_str(struct pq_buf *b, const char *s);
int pq_buf_printf(struct pq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pq_buf_reset(struct pq_buf *b); /* len = 0, keeps memory */
void pq_buf_free(struct pq_buf *b);  /* frees memory; b may be reused after init */
/* Hands the data to the caller (free() it); the buffer is left empty. */
char *pq_buf_steal(struct pq_buf *b);

#endif
