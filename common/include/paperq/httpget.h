/* One blocking HTTP GET with a bounded body: what the harvester needs from
 * libcurl, with curl's error codes translated here (STYLE.md). The worker's
 * many-requests-at-once client is worker/http.c; this one is for programs
 * that fetch one page at a time. */
#ifndef PAPERQ_HTTPGET_H
#define PAPERQ_HTTPGET_H

#include <stddef.h>

struct pq_http_get_opts {
  const char *user_agent; /* sent as User-Agent; required */
  long timeout_s;         /* whole request */
  long connect_timeout_s;
  size_t max_bytes; /* a longer body is PQ_ERR_TOOBIG */
};

struct pq_http_response {
  long status;         /* HTTP status; 0 when no answer came */
  char *body;          /* NUL-terminated, owned: pq_http_response_free */
  size_t len;          /* body bytes, excluding the NUL */
  long retry_after_ms; /* the Retry-After header, -1 when absent */
};

/* GETs url. Returns PQ_OK whenever a complete answer arrived, whatever its
 * status (the caller decides what a 429 means). PQ_ERR_IO: no answer, or a
 * body cut short (fewer bytes than Content-Length: a partial download);
 * PQ_ERR_TIMEOUT; PQ_ERR_TOOBIG; PQ_ERR_NOMEM. On any error err says what
 * happened and the response holds whatever arrived. Free the response in
 * every case. */
int pq_http_get(const char *url, const struct pq_http_get_opts *o, struct pq_http_response *resp,
                char *err, size_t errlen);
void pq_http_response_free(struct pq_http_response *resp);

/* Percent-encodes s for a URL query value into a new string (free() it);
 * NULL on out of memory. */
char *pq_http_escape(const char *s);

#endif
