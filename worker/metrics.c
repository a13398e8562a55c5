/* The worker's /metrics: figures the event loop keeps in atomics, written
 * out in the Prometheus text format when scraped. */
#include "metrics.h"

#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/metrics.h"
#include "paperq/util.h"

#include <string.h>

/* Upper bounds of the latency buckets, seconds: LLM calls run from a few
 * hundred milliseconds (a title) to minutes (a long body chunk). */
static const double bucket_s[WM_BUCKETS] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300};
static const char *const outcome_names[WM_NOUTCOMES] = {"ok", "rate_limited", "client_error",
                                                        "server_error", "transport_error"};

static long long get(atomic_llong *v) { return atomic_load_explicit(v, memory_order_relaxed); }
static void add(atomic_llong *v, long long x) {
  atomic_fetch_add_explicit(v, x, memory_order_relaxed);
}

void worker_metrics_request(struct worker_metrics *m, long status, int64_t duration_ms) {
  enum wm_outcome o = status == 0                     ? WM_TRANSPORT
                      : status == 429                 ? WM_RATE_LIMITED
                      : status >= 200 && status < 300 ? WM_OK
                      : status >= 400 && status < 500 ? WM_CLIENT_ERROR
                                                      : WM_SERVER_ERROR;
  add(&m->requests[o], 1);
  if (duration_ms < 0)
    duration_ms = 0;
  double s = (double)duration_ms / 1000.0;
  for (int i = 0; i < WM_BUCKETS; i++)
    if (s <= bucket_s[i]) {
      add(&m->latency_le[i], 1);
      break;
    }
  add(&m->latency_sum_us, duration_ms * 1000);
  add(&m->latency_count, 1);
}

static int render(void *ctx, struct pq_buf *b) {
  struct worker_metrics *m = ctx;
  char le[32];
  pq_metrics_family(b, "paperq_build_info", "gauge", "The paperq version serving these metrics.");
  const char *info[] = {"program", "paperq-worker", "version", PAPERQ_VERSION, NULL};
  pq_metrics_sample(b, "paperq_build_info", info, 1);

  pq_metrics_family(b, "paperq_worker_papers_in_flight", "gauge",
                    "Papers this worker holds (delivered, not yet acked).");
  pq_metrics_sample(b, "paperq_worker_papers_in_flight", NULL, (double)get(&m->in_flight));
  pq_metrics_family(b, "paperq_worker_papers_total", "counter",
                    "Attempts this worker finished, by outcome: succeeded, failed (retried or "
                    "parked next), parked, handed_back (returned unfinished on SIGTERM or a "
                    "fatal provider error).");
  pq_metrics_sample1(b, "paperq_worker_papers_total", "outcome", "succeeded",
                     (double)get(&m->succeeded));
  pq_metrics_sample1(b, "paperq_worker_papers_total", "outcome", "failed", (double)get(&m->failed));
  pq_metrics_sample1(b, "paperq_worker_papers_total", "outcome", "parked", (double)get(&m->parked));
  pq_metrics_sample1(b, "paperq_worker_papers_total", "outcome", "handed_back",
                     (double)get(&m->handed_back));

  pq_metrics_family(b, "paperq_worker_http_requests_total", "counter",
                    "LLM HTTP requests answered, by outcome: ok (2xx), rate_limited (429), "
                    "client_error (other 4xx), server_error (5xx), transport_error (no answer).");
  for (int i = 0; i < WM_NOUTCOMES; i++)
    pq_metrics_sample1(b, "paperq_worker_http_requests_total", "outcome", outcome_names[i],
                       (double)get(&m->requests[i]));
  pq_metrics_family(b, "paperq_worker_http_rate_limited_total", "counter",
                    "LLM HTTP requests answered 429 (also counted in "
                    "paperq_worker_http_requests_total{outcome=\"rate_limited\"}).");
  pq_metrics_sample(b, "paperq_worker_http_rate_limited_total", NULL,
                    (double)get(&m->requests[WM_RATE_LIMITED]));

  pq_metrics_family(b, "paperq_worker_http_requests_running", "gauge",
                    "LLM HTTP requests on the wire now.");
  pq_metrics_sample(b, "paperq_worker_http_requests_running", NULL, (double)get(&m->http_running));
  pq_metrics_family(b, "paperq_worker_http_requests_waiting", "gauge",
                    "LLM HTTP requests queued behind the rate limiter now.");
  pq_metrics_sample(b, "paperq_worker_http_requests_waiting", NULL, (double)get(&m->http_waiting));
  pq_metrics_family(b, "paperq_worker_http_concurrency_limit", "gauge",
                    "The cap on running requests: worker.max_requests once a rate is known (the "
                    "rate then paces them), else halved on sustained 429s and grown back on "
                    "success.");
  pq_metrics_sample(b, "paperq_worker_http_concurrency_limit", NULL, (double)get(&m->http_limit));

  const char *name = "paperq_worker_http_request_duration_seconds";
  pq_metrics_family(b, name, "histogram", "LLM HTTP request duration, from start to last byte.");
  long long cum = 0;
  for (int i = 0; i < WM_BUCKETS; i++) {
    cum += get(&m->latency_le[i]);
    snprintf(le, sizeof le, "%g", bucket_s[i]);
    pq_metrics_sample1(b, "paperq_worker_http_request_duration_seconds_bucket", "le", le,
                       (double)cum);
  }
  /* Read count once and use it for +Inf and _count, so the histogram is
   * consistent even while the loop keeps adding. */
  long long count = get(&m->latency_count);
  if (count < cum)
    count = cum;
  pq_metrics_sample1(b, "paperq_worker_http_request_duration_seconds_bucket", "le", "+Inf",
                     (double)count);
  pq_metrics_sample(b, "paperq_worker_http_request_duration_seconds_sum", NULL,
                    (double)get(&m->latency_sum_us) / 1e6);
  pq_metrics_sample(b, "paperq_worker_http_request_duration_seconds_count", NULL, (double)count);

  pq_metrics_family(b, "paperq_worker_amqp_reconnects_total", "counter",
                    "Broker connections re-established after one was lost.");
  pq_metrics_sample(b, "paperq_worker_amqp_reconnects_total", NULL, (double)get(&m->reconnects));
  return PQ_OK;
}

int worker_metrics_start(const struct pq_config *cfg, struct worker_metrics *m) {
  char err[512];
  m->server = NULL;
  if (!cfg->worker.metrics_listen[0])
    return PQ_OK;
  int rc = pq_metrics_start(cfg->worker.metrics_listen, render, m, &m->server, err, sizeof err);
  if (rc != PQ_OK) {
    pq_error("worker.%s", err);
    return rc;
  }
  pq_info("Prometheus metrics: GET /metrics on %s (port %d)", cfg->worker.metrics_listen,
          pq_metrics_port(m->server));
  return PQ_OK;
}

void worker_metrics_stop(struct worker_metrics *m) {
  pq_metrics_stop(m->server);
  m->server = NULL;
}
