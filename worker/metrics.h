/* The worker's own Prometheus /metrics (worker.metrics_listen): what only
 * this process knows: papers in flight, HTTP requests by outcome, 429s, the
 * adaptive concurrency limit, request latency, AMQP reconnects. The event
 * loop writes the figures (relaxed atomics, no locks); the server's thread
 * reads them at scrape time. */
#ifndef WORKER_METRICS_H
#define WORKER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

struct pq_config;
struct pq_metrics_server;

/* What an answered HTTP request is counted as. */
enum wm_outcome {
  WM_OK = 0,       /* 2xx */
  WM_RATE_LIMITED, /* 429 */
  WM_CLIENT_ERROR, /* other 4xx */
  WM_SERVER_ERROR, /* 5xx (and anything else with a status) */
  WM_TRANSPORT,    /* no status: connect error, timeout, reset, over-size */
  WM_NOUTCOMES
};

#define WM_BUCKETS 12 /* latency histogram buckets below +Inf (metrics.c) */

struct worker_metrics {
  atomic_llong in_flight;    /* papers held (delivered, not yet acked) */
  atomic_llong http_running; /* requests on the wire */
  atomic_llong http_waiting; /* requests queued behind the limiter */
  atomic_llong http_limit;   /* the adaptive concurrency cap */
  atomic_llong requests[WM_NOUTCOMES];
  atomic_llong latency_le[WM_BUCKETS]; /* requests that took <= bucket (not cumulative) */
  atomic_llong latency_count;
  atomic_llong latency_sum_us;
  atomic_llong reconnects; /* broker connections re-established after a loss */
  atomic_llong succeeded, failed, parked, handed_back; /* this process's outcomes */
  struct pq_metrics_server *server;
};

/* Starts serving when cfg->worker.metrics_listen is set. m must stay put
 * until worker_metrics_stop. PQ_OK, or an error already logged. */
int worker_metrics_start(const struct pq_config *cfg, struct worker_metrics *m);
void worker_metrics_stop(struct worker_metrics *m);

/* Counts one answered request: its HTTP status (0: transport failure) and
 * how long it took. */
void worker_metrics_request(struct worker_metrics *m, long status, int64_t duration_ms);

static inline void worker_metrics_set(atomic_llong *v, long long x) {
  atomic_store_explicit(v, x, memory_order_relaxed);
}

#endif
