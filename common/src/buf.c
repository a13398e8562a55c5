/* Bounded dynamic buffer. */
#include "paperq/buf.h"
#include "paperq/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pq_buf_init(struct pq_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

static int buf_reserve(struct pq_buf *b, size_t extra) {
  if (extra > b->max - b->len)
    return PQ_ERR_TOOBIG;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return PQ_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p)
    return PQ_ERR_NOMEM;
  b->data = p;
  b->cap = cap;
  return PQ_OK;
}

int pq_buf_append(struct pq_buf *b, const void *data, size_t len) {
  int rc = buf_reserve(b, len);
  if (rc)
    return rc;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return PQ_OK;
}

int pq_buf_append_str(struct pq_buf *b, const char *s) { return pq_buf_append(b, s, strlen(s)); }

int pq_buf_printf(struct pq_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return PQ_ERR;
  int rc = buf_reserve(b, (size_t)n);
  if (rc)
    return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return PQ_OK;
}

void pq_buf_reset(struct pq_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void pq_buf_free(struct pq_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *pq_buf_steal(struct pq_buf *b) {
  char *p = b->data;
  if (!p)
    p = calloc(1, 1);
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
