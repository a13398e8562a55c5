/* The worker's event loop. One thread: the AMQP socket is one more file
 * descriptor in curl_multi_poll, so deliveries, confirms and heartbeats are
 * serviced while hundreds of LLM requests are in flight. What happens to
 * each job is lifecycle.c's business; this file connects, consumes, obeys
 * control broadcasts, sends heartbeats and drains. */
#include "worker.h"
#include "lifecycle.h"
#include "paperq/cli.h"
#include "paperq/control.h"
#include "paperq/config.h"
#include "paperq/event.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern volatile sig_atomic_t worker_stop_requested;

/* Exit codes (documented in --help). */

/* The job kinds reach the provider through http.c. */
static void submit_http(void *ctx, struct http_req *req, long delay_ms) {
  http_submit(ctx, req, delay_ms);
}
static void cancel_http(void *ctx, struct http_req *req) { http_cancel(ctx, req); }
static void feedback_http(void *ctx, const struct http_req *req, int rate_limited,
                          long used_tokens) {
  http_feedback(ctx, req, rate_limited, used_tokens);
}

void worker_env_init(struct worker *w) {
  const struct pq_config *cfg = w->cfg;
  struct work_env *env = &w->env;
  env->cfg = cfg;
  env->http = (struct work_submitter){w->http, submit_http, cancel_http, feedback_http};
  env->dry_run = strcmp(cfg->translate.provider, "dry-run") == 0;
  env->glossary = w->glossary;
  work_endpoint_init(&env->translate, cfg->translate.base_url,
                     pq_config_secret(cfg->translate.api_key_env));
  work_endpoint_init(
      &env->qa, cfg->qa.base_url[0] ? cfg->qa.base_url : cfg->translate.base_url,
      pq_config_secret(cfg->qa.api_key_env[0] ? cfg->qa.api_key_env : cfg->translate.api_key_env));
}

/* Counts the answer for /metrics, then lets the lifecycle handle it. */
static void answered(void *ctx, struct http_req *req) {
  struct worker *w = ctx;
  worker_metrics_request(&w->metrics, req->status, req->finished_ms - req->started_ms);
  paper_answered(ctx, req);
}

/* Copies what the loop knows into the atomics /metrics reads. */
static void publish_metrics(struct worker *w) {
  struct worker_metrics *m = &w->metrics;
  worker_metrics_set(&m->in_flight, w->in_flight);
  worker_metrics_set(&m->succeeded, w->done);
  worker_metrics_set(&m->failed, w->failed);
  worker_metrics_set(&m->parked, w->parked);
  worker_metrics_set(&m->handed_back, w->handed_back);
  worker_metrics_set(&m->http_running, http_running(w->http));
  worker_metrics_set(&m->http_waiting, http_waiting(w->http));
  worker_metrics_set(&m->http_limit, http_limit(w->http));
}

static int start_consuming(struct worker *w) {
  int prefetch = w->cfg->worker.concurrency > 65535 ? 65535 : w->cfg->worker.concurrency;
  if (pq_mq_consume(w->mq, "jobs", (uint16_t)prefetch) != PQ_OK)
    return PQ_ERR_BROKER;
  if (w->cfg->qa.judges[0] && pq_mq_consume(w->mq, "qa", (uint16_t)(prefetch / 4 + 1)) != PQ_OK)
    return PQ_ERR_BROKER;
  w->consuming = 1;
  w->stepped_out = 0;
  w->consuming_since_ms = pq_mono_ms();
  return PQ_OK;
}

/* Since when this worker has had nothing to do: its last paper, or when it
 * (re)started consuming, whichever is later. */
static int64_t idle_since(const struct worker *w) {
  return w->last_activity_ms > w->consuming_since_ms ? w->last_activity_ms : w->consuming_since_ms;
}

/* pause/resume broadcasts (the ledger's budget stop, or an operator). */
/* Control messages are decoded by pq_control_decode (common/src/control.c,
 * fuzzed by tests/fuzz/fuzz_control.c). */
static void on_control(struct worker *w, const struct pq_mq_delivery *d) {
  struct pq_control c;
  char err[256];
  if (pq_control_decode(d->body, d->len, &c, err, sizeof err) != PQ_OK) {
    pq_warn("ignoring a control message: %s", err);
    return;
  }
  const char *why = c.reason;
  if (c.cmd == PQ_CONTROL_PAUSE && !w->paused) {
    w->paused = 1;
    if (w->consuming) {
      pq_mq_cancel_all(w->mq);
      w->consuming = 0;
    }
    pq_warn("PAUSED (%s): taking no new papers; finishing the %d in flight; waiting for resume",
            why, w->in_flight);
  } else if (c.cmd == PQ_CONTROL_RESUME && w->paused) {
    w->paused = 0;
    if (!w->draining && !w->fatal && start_consuming(w) == PQ_OK)
      pq_info("resumed (%s): taking papers again", why);
  }
}

static void on_delivery(void *ctx, const struct pq_mq_delivery *d) {
  struct worker *w = ctx;
  if (strcmp(d->consumer_tag, PQ_CONSUMER_CONTROL) == 0)
    on_control(w, d);
  else
    paper_receive(w, d);
}

static void on_confirm(void *ctx, uint64_t seq, int multiple, int ok) {
  struct worker *w = ctx;
  if (ok)
    return;
  pq_warn("broker refused a publish (nack of %llu%s)", (unsigned long long)seq,
          multiple ? " and earlier" : "");
  papers_nacked(w, seq, multiple);
}

/* An idle worker steps out of the fleet: with no paper for STEP_OUT_MS it
 * cancels its consumers, so the consumer count (the fleet's size, below)
 * counts only workers that have papers, and those take the whole rate
 * between them. Without this a batch that one worker had prefetched ran at
 * R / N while the other N - 1 sat idle, and so did the last papers of every
 * batch. Stepped out, it asks the queues for ready messages every second
 * and steps back in when there are any; a pause or a drain leaves it out. */
#define STEP_OUT_MS 2000
#define STEP_IN_FLOOR_MS 2000

static void step_out(struct worker *w) {
  if (pq_mq_cancel_all(w->mq) != PQ_OK)
    return; /* the connection is broken: the loop reconnects */
  w->consuming = 0;
  w->stepped_out = 1;
  pq_info("idle for %d s: stepping out of the fleet (the provider's rate goes to the workers "
          "that have papers) until papers are queued again",
          STEP_OUT_MS / 1000);
}

/* Returns 1 when the worker is back in the fleet. A delivery that crossed
 * the cancel is a reason too: that paper is worked at a counted share. */
static int step_in_if_queued(struct worker *w) {
  uint32_t jobs = 0, qa = 0;
  if (w->paused || w->draining || w->fatal)
    return 0;
  if (w->in_flight == 0 &&
      (pq_mq_queue_counts(w->mq, "jobs", &jobs, NULL) != PQ_OK ||
       (w->cfg->qa.judges[0] && pq_mq_queue_counts(w->mq, "qa", &qa, NULL) != PQ_OK)))
    return 0;
  if (w->in_flight == 0 && jobs + qa == 0)
    return 0;
  if (start_consuming(w) != PQ_OK)
    return 0;
  /* The others step back in within the second too, each when it next asks:
   * until they have, count the largest fleet seen, not the few consumers
   * there are yet, or the first ones back would overrun R. */
  int64_t now = pq_mono_ms();
  w->joined_ms = now;
  w->fleet_floor_until_ms = now + STEP_IN_FLOOR_MS;
  w->fleet_polled_ms = 0;
  pq_info("%u jobs and %u QA jobs queued, %d papers held: stepping back into the fleet", jobs, qa,
          w->in_flight);
  return 1;
}

/* The provider's rate belongs to the fleet: each worker takes its share,
 * and the fleet is the consumers of the jobs queue. The broker drops a
 * consumer the moment its connection goes (a kill -9 included), so shares
 * rebalance within a second of a worker joining or leaving; asked every
 * 250 ms for the first seconds, when a fleet usually starts together. */
static void poll_fleet(struct worker *w) {
  int64_t now = pq_mono_ms();
  /* Often while the fleet may be changing: after joining, and while fewer
   * workers consume than have, so the busy ones give back the share of
   * those stepping in within a quarter second. */
  int64_t every = now - w->joined_ms < 5000 || w->fleet_now < w->fleet_peak ? 250 : 1000;
  if (now - w->fleet_polled_ms < every)
    return;
  if (w->stepped_out) {
    w->fleet_polled_ms = now;
    step_in_if_queued(w);
    return;
  }
  if (!w->consuming)
    return;
  w->fleet_polled_ms = now;
  if (w->in_flight == 0 && now - idle_since(w) >= STEP_OUT_MS && !w->paused && !w->draining &&
      !w->fatal) {
    step_out(w);
    return;
  }
  uint32_t got;
  if (pq_mq_queue_counts(w->mq, "jobs", NULL, &got) != PQ_OK)
    return;
  int n = got > 100000 ? 100000 : (int)got;
  w->fleet_now = n;
  if (n > w->fleet_peak)
    w->fleet_peak = n;
  if (now < w->fleet_floor_until_ms && n < w->fleet_peak)
    n = w->fleet_peak;
  http_set_fleet(w->http, n);
}

static void send_heartbeat(struct worker *w, const char *kind, const char *reason) {
  if (w->done || w->failed)
    pq_info("progress: %ld succeeded, %ld failed attempts, %ld parked, %d in flight, %d HTTP "
            "requests running (limit %d, pace %.0f/min)%s",
            w->done, w->failed, w->parked, w->in_flight, http_running(w->http), http_limit(w->http),
            http_pace_rpm(w->http), w->paused ? ", PAUSED" : "");
  cJSON *ev = pq_event_new(kind, NULL, 0, 0, w->id);
  if (ev) {
    cJSON_AddNumberToObject(ev, "in_flight", w->in_flight);
    cJSON_AddNumberToObject(ev, "done", (double)w->done);
    cJSON_AddNumberToObject(ev, "failed", (double)w->failed);
    cJSON_AddNumberToObject(ev, "started_ms", (double)w->started_ms);
    cJSON_AddNumberToObject(ev, "concurrency", w->cfg->worker.concurrency);
    cJSON_AddNumberToObject(ev, "http_limit", http_limit(w->http));
    if (reason)
      cJSON_AddStringToObject(ev, "reason", reason);
  }
  if (ev)
    pq_event_publish(w->mq, ev, NULL);
  cJSON_Delete(ev);
  w->last_heartbeat_ms = pq_mono_ms();
}

static int connect_and_consume(struct worker *w) {
  char err[1024];
  long backoff_ms = 500;
  for (;;) {
    if (pq_mq_open(w->cfg, "paperq-worker", &w->mq, err, sizeof err) == PQ_OK) {
      int ok = 1;
      for (int i = 0; i < w->retry.ndelays && ok; i++)
        ok = pq_mq_declare_retry_queue(w->mq, PQ_RK_JOB, w->retry.delays[i]) == PQ_OK &&
             pq_mq_declare_retry_queue(w->mq, PQ_RK_QA, w->retry.delays[i]) == PQ_OK;
      ok = ok && pq_mq_consume_control(w->mq) == PQ_OK;
      /* A resume broadcast while we were disconnected would be lost; the
       * ledger repeats its pause every 30 s, so start unpaused. */
      w->paused = 0;
      if (ok && start_consuming(w) == PQ_OK) {
        w->joined_ms = pq_mono_ms();
        w->fleet_polled_ms = 0;
        pq_info("connected; consuming %s.jobs with %d papers in flight at most",
                w->cfg->broker.prefix, w->cfg->worker.concurrency);
        return PQ_OK;
      }
      pq_mq_close(w->mq);
      w->mq = NULL;
    } else {
      pq_error("%s; retrying in %ld ms", err, backoff_ms);
    }
    int64_t until = pq_mono_ms() + backoff_ms;
    while (pq_mono_ms() < until) {
      if (worker_stop_requested)
        return PQ_ERR_BROKER;
      usleep(50000);
    }
    backoff_ms = backoff_ms * 2 > w->cfg->broker.reconnect_max_s * 1000L
                     ? w->cfg->broker.reconnect_max_s * 1000L
                     : backoff_ms * 2;
  }
}

static void begin_drain(struct worker *w, const char *why) {
  if (w->draining)
    return;
  w->draining = 1;
  w->drain_deadline_ms = pq_mono_ms() + w->cfg->worker.drain_s * 1000L;
  pq_info("%s: taking no new papers; finishing %d in flight (handing back what is left in %d s)",
          why, w->in_flight, w->cfg->worker.drain_s);
  if (w->consuming) {
    pq_mq_cancel_all(w->mq);
    w->consuming = 0;
  }
}

int worker_run(struct worker *w) {
  struct pq_mq_handler h = {w, on_delivery, on_confirm};
  int rc = PQ_EXIT_OK;
  w->started_ms = pq_now_ms();
  w->last_activity_ms = pq_mono_ms();
  if (connect_and_consume(w) != PQ_OK)
    return worker_stop_requested ? PQ_EXIT_OK : PQ_EXIT_RUNTIME;
  send_heartbeat(w, "worker.heartbeat", NULL);
  for (;;) {
    if (worker_stop_requested && !w->draining)
      begin_drain(w, "SIGTERM");
    /* Stepped out, papers may have been queued since it last asked: it
     * asks once more before it leaves. */
    if (!w->draining && !w->fatal && !w->paused && w->cfg->worker.idle_exit_s > 0 &&
        w->in_flight == 0 && pq_mono_ms() - idle_since(w) >= w->cfg->worker.idle_exit_s * 1000L &&
        !(w->stepped_out && step_in_if_queued(w)))
      begin_drain(w, "idle");
    if (w->draining && pq_mono_ms() >= w->drain_deadline_ms)
      papers_hand_back_all(w);
    int brc = pq_mq_pump(w->mq, 0, &h);
    if (brc == PQ_OK) {
      poll_fleet(w);
      http_perform(w->http, answered, w);
      papers_settle(w);
      papers_announce_started(w);
      if (pq_mono_ms() - w->last_heartbeat_ms >= w->cfg->worker.heartbeat_s * 1000L)
        send_heartbeat(w, "worker.heartbeat", NULL);
    }
    if (brc != PQ_OK || pq_mq_fd(w->mq) < 0) {
      pq_error("lost the broker connection with %d papers in flight; they return to the queue; "
               "reconnecting",
               w->in_flight);
      papers_drop_all(w);
      pq_mq_close(w->mq);
      w->mq = NULL;
      w->consuming = 0;
      publish_metrics(w);
      if (w->fatal || w->draining)
        break; /* jobs return to the queue by themselves */
      if (connect_and_consume(w) != PQ_OK)
        break;
      atomic_fetch_add_explicit(&w->metrics.reconnects, 1, memory_order_relaxed);
      continue;
    }
    publish_metrics(w);
    if ((w->draining || w->fatal) && w->in_flight == 0)
      break;
    int timeout = pq_mq_has_buffered(w->mq) ? 0 : pq_mq_next_timeout_ms(w->mq);
    if (timeout > 200)
      timeout = 200;
    http_wait(w->http, pq_mq_fd(w->mq), timeout);
  }
  if (w->mq) {
    send_heartbeat(w, "worker.stopped",
                   w->fatal                ? "fatal"
                   : worker_stop_requested ? "sigterm"
                                           : "idle");
    pq_mq_wait_confirms(w->mq, 5000, &h);
  }
  pq_info("stopped: %ld succeeded, %ld failed attempts, %ld parked, %ld handed back", w->done,
          w->failed, w->parked, w->handed_back);
  if (w->fatal) {
    fprintf(stderr, "paperq-worker: stopped because of a fatal provider error: %s\n",
            w->fatal_error);
    rc = PQ_EXIT_FATAL_PROVIDER;
  } else if (!w->mq) {
    rc = worker_stop_requested ? PQ_EXIT_OK : PQ_EXIT_RUNTIME;
  }
  pq_mq_close(w->mq);
  w->mq = NULL;
  return rc;
}
