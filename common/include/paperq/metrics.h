/* Prometheus /metrics over HTTP (libmicrohttpd), and the text exposition
 * format. The server runs in libmicrohttpd's own thread: the render callback
 * is called there, one scrape at a time, and must only read what is safe to
 * read from another thread (atomics, or a connection of its own). */
#ifndef PAPERQ_METRICS_H
#define PAPERQ_METRICS_H

#include "paperq/buf.h"

#include <stddef.h>

struct pq_metrics_server;

/* Fills out with the exposition text for one scrape; PQ_OK, or an error
 * code (the scrape is answered 500). Called on the server's thread. */
typedef int (*pq_metrics_render_fn)(void *ctx, struct pq_buf *out);

/* Listens on listen ("host:port", "[v6addr]:port" or ":port" for every
 * address; port 0 picks a free one) and answers GET /metrics with render's
 * text. ctx is borrowed until pq_metrics_stop. PQ_OK; PQ_ERR_PARSE (bad
 * address, message in err); PQ_ERR_IO (cannot listen, message in err). */
int pq_metrics_start(const char *listen, pq_metrics_render_fn render, void *ctx,
                     struct pq_metrics_server **out, char *err, size_t errlen);

/* The port it listens on (useful after port 0). */
int pq_metrics_port(const struct pq_metrics_server *s);

/* Stops listening, waits for a scrape in progress, frees; accepts NULL. */
void pq_metrics_stop(struct pq_metrics_server *s);

/* ---- exposition format (text 0.0.4) ---- */

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * histogram). */
void pq_metrics_family(struct pq_buf *b, const char *name, const char *type, const char *help);

/* One sample: name{l1="v1",l2="v2"} value. labels is NULL or a
 * NULL-terminated list of name, value pairs; values are escaped. */
void pq_metrics_sample(struct pq_buf *b, const char *name, const char *const *labels, double value);

/* Shorthand for a sample with at most one label (lname NULL: none). */
void pq_metrics_sample1(struct pq_buf *b, const char *name, const char *lname, const char *lvalue,
                        double value);

#endif
