/* The worker's event loop. One thread: the AMQP socket is one more file
 * descriptor in curl_multi_poll, so deliveries, confirms and heartbeats are
 * serviced while hundreds of LLM requests are in flight.
 *
 * A job is acked only after its outcome (success event, retry copy or parked
 * copy) has been confirmed by the broker; until then a crash returns it to
 * the queue. */
#include "worker.h"
#include "paperq/config.h"
#include "paperq/event.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"
#include "judge.h"
#include "paperq/qa.h"
#include "translate.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern volatile sig_atomic_t worker_stop_requested;

/* Exit codes (documented in --help). */
#define EXIT_OK 0
#define EXIT_BROKER 1
#define EXIT_FATAL_PROVIDER 3

/* Translation and QA jobs share the paper lifecycle; these dispatch. */
static void work_free(struct paper *p) {
  if (p->is_qa)
    judge_free(p);
  else
    xlate_free(p);
}

static void pub_unlink(struct worker *w, struct paper *p) {
  if (!p->in_pub)
    return;
  if (p->pub_prev)
    p->pub_prev->pub_next = p->pub_next;
  else
    w->pub_head = p->pub_next;
  if (p->pub_next)
    p->pub_next->pub_prev = p->pub_prev;
  else
    w->pub_tail = p->pub_prev;
  p->pub_next = p->pub_prev = NULL;
  p->in_pub = 0;
}

/* The paper's outcome is published; it waits for the confirm of wait_seq.
 * Appending keeps the list in publish order, so settling pops the head. */
static void wait_for_confirm(struct worker *w, struct paper *p, uint64_t seq) {
  p->state = PAPER_PUBLISHING;
  p->wait_seq = seq;
  pub_unlink(w, p);
  p->pub_prev = w->pub_tail;
  if (w->pub_tail)
    w->pub_tail->pub_next = p;
  else
    w->pub_head = p;
  w->pub_tail = p;
  p->in_pub = 1;
}

static void paper_unlink(struct worker *w, struct paper *p) {
  if (w->started_cursor == p)
    w->started_cursor = p->prev;
  if (p->prev)
    p->prev->next = p->next;
  else
    w->papers = p->next;
  if (p->next)
    p->next->prev = p->prev;
  else
    w->papers_tail = p->prev;
  pub_unlink(w, p);
  w->in_flight--;
}

static void paper_free(struct worker *w, struct paper *p) {
  paper_unlink(w, p);
  work_free(p);
  pq_job_free(&p->job);
  free(p);
}

static const char *pid_of(const struct paper *p) {
  return p->job_ok ? p->job.paper_id : "(undecodable job)";
}

/* The job body for a retry, a park or a hand-back: what is done so far
 * travels with it so it is not paid for again. Returns malloc'd or NULL. */
static char *encode_again(struct paper *p, size_t *len) {
  if (!p->job_ok)
    return NULL;
  char *body;
  if (p->is_qa) {
    cJSON *done = judge_done_json(p);
    body = pq_job_encode_qa(p->job.record, p->job.gen, p->job.translation, done, len);
    cJSON_Delete(done);
  } else {
    cJSON *done = xlate_done_segments(p);
    body = pq_job_encode_model(p->job.record, p->job.gen, done ? done : p->job.done, p->job.model,
                               len);
    cJSON_Delete(done);
  }
  return body;
}

/* Publishes an event about p; returns the seq or 0 on failure. */
static uint64_t publish_event(struct worker *w, cJSON *ev) {
  uint64_t seq = 0;
  if (!ev || pq_event_publish(w->mq, ev, &seq) != PQ_OK)
    seq = 0;
  cJSON_Delete(ev);
  return seq;
}

static void add_usage(struct paper *p, cJSON *ev) {
  long pt = 0, ct = 0, req = 0;
  double cost = 0;
  char model[128] = "";
  int64_t llm_ms = 0;
  if (p->is_qa)
    judge_usage(p, &pt, &ct, &req, &cost, &llm_ms);
  else
    xlate_usage(p, &pt, &ct, &req, &cost, model, sizeof model, &llm_ms);
  cJSON *u = cJSON_AddObjectToObject(ev, "usage");
  if (u) {
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)pt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)ct);
    cJSON_AddNumberToObject(u, "requests", (double)req);
  }
  cJSON_AddNumberToObject(ev, "cost_usd", cost);
  cJSON_AddStringToObject(ev, "model", model[0] ? model : p->w->cfg->translate.model);
  cJSON *t = cJSON_AddObjectToObject(ev, "timings");
  if (t) {
    cJSON_AddNumberToObject(t, "started_ms", (double)p->started_ms);
    cJSON_AddNumberToObject(t, "finished_ms", (double)pq_now_ms());
    cJSON_AddNumberToObject(t, "llm_ms", (double)llm_ms);
  }
}

/* Re-publishes p's job (same attempt, translated segments carried) to the
 * jobs queue and acks the original once confirmed: the job goes back
 * unharmed, without the delivery count a nack would add on a quorum queue. */
static void hand_back(struct worker *w, struct paper *p) {
  if (!p->job_ok) {
    pq_mq_nack(w->mq, p->tag, 1);
    paper_free(w, p);
    return;
  }
  size_t len;
  char *body = encode_again(p, &len);
  work_free(p);
  uint64_t seq = 0;
  struct pq_mq_props props = {0};
  props.type = p->is_qa ? PQ_MSG_TYPE_QA : PQ_MSG_TYPE_JOB;
  props.message_id = p->job.paper_id;
  props.attempt = p->attempt;
  if (!body || pq_mq_publish(w->mq, "jobs", p->is_qa ? PQ_RK_QA : PQ_RK_JOB, &props, body, len,
                             &seq) != PQ_OK) {
    pq_mq_nack(w->mq, p->tag, 1); /* second best: the broker requeues it */
    free(body);
    paper_free(w, p);
    return;
  }
  free(body);
  wait_for_confirm(w, p, seq);
  w->handed_back++;
  pq_info("paper %s: handed back to the queue (attempt %d unchanged)", p->job.paper_id, p->attempt);
}

/* Sends a sampled paper to the judges: its own job on P.qa, published
 * before the translation job is acked, so QA never delays or fails it. */
static void publish_qa_job(struct worker *w, struct paper *p, const cJSON *translation) {
  size_t len;
  char *body = pq_job_encode_qa(p->job.record, p->job.gen, translation, NULL, &len);
  struct pq_mq_props props = {0};
  props.type = PQ_MSG_TYPE_QA;
  props.message_id = p->job.paper_id;
  props.attempt = 1;
  if (!body || pq_mq_publish(w->mq, "jobs", PQ_RK_QA, &props, body, len, NULL) != PQ_OK)
    pq_warn("paper %s: could not queue its QA job", p->job.paper_id);
  free(body);
}

void worker_paper_fail(struct paper *p, enum pq_err_class cls, const char *fmt, ...) {
  va_list ap;
  p->outcome = cls;
  va_start(ap, fmt);
  vsnprintf(p->error, sizeof p->error, fmt, ap);
  va_end(ap);
}

void worker_paper_done(struct paper *p) {
  struct worker *w = p->w;
  w->last_activity_ms = pq_mono_ms();
  if (w->fatal) {
    hand_back(w, p);
    return;
  }
  const char *id = pid_of(p);
  uint64_t seq = 0;
  if (p->outcome == PQ_CLASS_OK && p->is_qa) {
    /* Every verdict went out as a qa.scored event; ack after the last. */
    seq = p->wait_seq;
    w->done++;
    if (seq == 0) {
      pq_mq_ack(w->mq, p->tag, 0);
      paper_free(w, p);
      return;
    }
  } else if (p->outcome == PQ_CLASS_OK) {
    cJSON *ev = pq_event_new("job.succeeded", id, p->job.gen, p->attempt, w->id);
    if (ev) {
      cJSON *t = xlate_translation(p);
      if (t && w->cfg->qa.judges[0] && !w->dry_run && pq_qa_sampled(id, w->cfg->qa.sample_rate))
        publish_qa_job(w, p, t);
      if (t)
        cJSON_AddItemToObject(ev, "translation", t);
      cJSON *checks = xlate_checks(p);
      if (checks)
        cJSON_AddItemToObject(ev, "checks", checks);
      cJSON_AddBoolToObject(ev, "dry_run", w->dry_run);
      add_usage(p, ev);
    }
    seq = publish_event(w, ev);
    w->done++;
    /* One line per paper is for debugging; progress is logged with each
     * heartbeat (and the ledger's report is the place to watch a run). */
    pq_debug("paper %s: succeeded (attempt %d, %lld ms)", id, p->attempt,
             (long long)(pq_now_ms() - p->started_ms));
  } else {
    struct retry_decision d;
    retry_decide(&w->retry, p->attempt, p->outcome, p->error, &d);
    /* A judge's failure is QA's business only: it never marks the paper. */
    cJSON *ev =
        pq_event_new(p->is_qa ? "qa.failed" : "job.failed", id, p->job.gen, p->attempt, w->id);
    if (ev) {
      cJSON_AddStringToObject(ev, "error_class", pq_err_class_name(p->outcome));
      cJSON_AddStringToObject(ev, "error", p->error);
      cJSON_AddBoolToObject(ev, "retryable", !d.park);
      cJSON_AddNumberToObject(ev, "next_delay_ms", (double)d.delay_ms);
      add_usage(p, ev);
    }
    seq = publish_event(w, ev);
    w->failed++;
    struct pq_mq_props props = {0};
    props.type = p->is_qa ? PQ_MSG_TYPE_QA : PQ_MSG_TYPE_JOB;
    props.message_id = id;
    size_t len = 0;
    char *body = encode_again(p, &len);
    int rc;
    if (d.park) {
      props.attempt = p->attempt;
      props.park_reason = d.reason;
      /* An undecodable job is parked as the bytes it came with. */
      rc = body ? pq_mq_publish(w->mq, "parked", "", &props, body, len, &seq)
                : pq_mq_nack(w->mq, p->tag, 0);
      w->parked++;
      pq_warn("paper %s: parked: %s", id, d.reason);
    } else {
      char rk[96];
      const char *kind = p->is_qa ? PQ_RK_QA : PQ_RK_JOB;
      snprintf(rk, sizeof rk, "%s.%ld", kind, d.tier_ms);
      props.attempt = p->attempt + 1;
      props.expiration_ms = d.delay_ms;
      rc = pq_mq_publish(w->mq, "retry", rk, &props, body, len, &seq);
      pq_warn("paper %s: attempt %d failed (%s: %s); retry in %ld ms", id, p->attempt,
              pq_err_class_name(p->outcome), p->error, d.delay_ms);
    }
    int had_body = body != NULL;
    free(body);
    if (rc != PQ_OK)
      seq = 0;
    if (!had_body && d.park) {
      paper_free(w, p); /* nacked to the dead-letter target: nothing to wait for */
      return;
    }
  }
  work_free(p);
  /* seq is 0 if publishing failed: the connection is lost and the job
   * returns to the queue by itself. */
  wait_for_confirm(w, p, seq);
}

void worker_fatal(struct worker *w, const char *error) {
  if (w->fatal)
    return;
  w->fatal = 1;
  snprintf(w->fatal_error, sizeof w->fatal_error, "%s", error);
  fprintf(stderr,
          "\n*** paperq-worker: STOPPING: the provider refused the request: %s\n"
          "*** This is not a problem of any paper: check translate.api_key_env ($%s),\n"
          "*** translate.model (%s) and the account's credit, then start the workers again.\n"
          "*** Jobs held by this worker are handed back to the queue unharmed.\n\n",
          error, w->cfg->translate.api_key_env, w->cfg->translate.model);
  pq_error("fatal provider error: %s; handing back %d jobs", error, w->in_flight);
  if (w->consuming) {
    pq_mq_cancel_all(w->mq);
    w->consuming = 0;
  }
  cJSON *ev = pq_event_new("worker.fatal", NULL, 0, 0, w->id);
  if (ev) {
    cJSON_AddStringToObject(ev, "error", error);
    cJSON_AddStringToObject(ev, "model", w->cfg->translate.model);
  }
  publish_event(w, ev);
  for (struct paper *p = w->papers, *next; p; p = next) {
    next = p->next;
    if (p->state == PAPER_TRANSLATING)
      hand_back(w, p);
  }
}

static int start_consuming(struct worker *w) {
  int prefetch = w->cfg->worker.concurrency > 65535 ? 65535 : w->cfg->worker.concurrency;
  if (pq_mq_consume(w->mq, "jobs", (uint16_t)prefetch) != PQ_OK)
    return PQ_ERR_BROKER;
  if (w->cfg->qa.judges[0] && pq_mq_consume(w->mq, "qa", (uint16_t)(prefetch / 4 + 1)) != PQ_OK)
    return PQ_ERR_BROKER;
  w->consuming = 1;
  return PQ_OK;
}

/* pause/resume broadcasts (the ledger's budget stop, or an operator). */
static void on_control(struct worker *w, const struct pq_mq_delivery *d) {
  cJSON *msg = cJSON_ParseWithLength(d->body, d->len);
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(msg, "cmd");
  const cJSON *reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
  const char *why = cJSON_IsString(reason) ? reason->valuestring : "operator";
  if (cJSON_IsString(cmd) && strcmp(cmd->valuestring, "pause") == 0 && !w->paused) {
    w->paused = 1;
    if (w->consuming) {
      pq_mq_cancel_all(w->mq);
      w->consuming = 0;
    }
    pq_warn("PAUSED (%s): taking no new papers; finishing the %d in flight; waiting for resume",
            why, w->in_flight);
  } else if (cJSON_IsString(cmd) && strcmp(cmd->valuestring, "resume") == 0 && w->paused) {
    w->paused = 0;
    if (!w->draining && !w->fatal && start_consuming(w) == PQ_OK)
      pq_info("resumed (%s): taking papers again", why);
  } else if (!cJSON_IsString(cmd)) {
    pq_warn("ignoring a control message without \"cmd\" (%zu bytes)", d->len);
  }
  cJSON_Delete(msg);
}

static void on_delivery(void *ctx, const struct pq_mq_delivery *d) {
  struct worker *w = ctx;
  if (strcmp(d->consumer_tag, PQ_CONSUMER_CONTROL) == 0) {
    on_control(w, d);
    return;
  }
  w->last_activity_ms = pq_mono_ms();
  struct paper *p = calloc(1, sizeof *p);
  if (!p) {
    pq_mq_nack(w->mq, d->tag, 1);
    return;
  }
  p->w = w;
  p->tag = d->tag;
  p->attempt = d->attempt > 0 ? d->attempt : 1;
  p->delivery_count = d->delivery_count;
  p->is_qa = strcmp(d->type, PQ_MSG_TYPE_QA) == 0;
  p->started_ms = pq_now_ms();
  p->state = PAPER_TRANSLATING;
  p->next = w->papers;
  if (w->papers)
    w->papers->prev = p;
  w->papers = p;
  if (!w->papers_tail)
    w->papers_tail = p;
  if (!w->started_cursor)
    w->started_cursor = p;
  w->in_flight++;
  w->last_activity_ms = pq_mono_ms();
  char err[512];
  if (pq_job_decode(d->body, d->len, &p->job, err, sizeof err) != PQ_OK) {
    /* One bad message never kills a worker: it is parked with the reason. */
    pq_warn("delivery %llu: %s; parking it", (unsigned long long)d->tag, err);
    p->outcome = PQ_CLASS_PERMANENT;
    snprintf(p->error, sizeof p->error, "undecodable job: %.400s", err);
    worker_paper_done(p);
    return;
  }
  p->job_ok = 1;
  if (w->fatal || w->draining) {
    hand_back(w, p); /* arrived after we stopped consuming */
    return;
  }
  if (d->delivery_count > 0)
    pq_info("paper %s: redelivered (delivery %ld, attempt %d)", p->job.paper_id,
            d->delivery_count + 1, p->attempt);
  if (p->is_qa) {
    judge_start(p);
    return;
  }
  xlate_start(p);
}

static void on_confirm(void *ctx, uint64_t seq, int multiple, int ok) {
  struct worker *w = ctx;
  if (ok)
    return;
  pq_warn("broker refused a publish (nack of %llu%s)", (unsigned long long)seq,
          multiple ? " and earlier" : "");
  for (struct paper *p = w->pub_head; p; p = p->pub_next)
    if (p->wait_seq == seq || (multiple && p->wait_seq <= seq))
      p->publish_failed = 1;
}

/* Announces papers that have been in flight for STARTED_EVENT_DELAY_MS. */
static void send_started_events(struct worker *w) {
  int64_t due = pq_now_ms() - STARTED_EVENT_DELAY_MS;
  struct paper *p;
  while ((p = w->started_cursor) && p->started_ms <= due) {
    if (p->state == PAPER_TRANSLATING && p->job_ok && !p->is_qa && !p->started_sent) {
      cJSON *ev = pq_event_new("job.started", p->job.paper_id, p->job.gen, p->attempt, w->id);
      if (ev)
        cJSON_AddNumberToObject(ev, "started_ms", (double)p->started_ms);
      publish_event(w, ev);
      p->started_sent = 1;
    }
    w->started_cursor = p->prev; /* the next newer paper */
  }
}

/* Acks every paper whose outcome the broker has confirmed. */
static void settle_papers(struct worker *w) {
  uint64_t upto = pq_mq_confirmed_upto(w->mq);
  struct paper *p;
  while ((p = w->pub_head) && p->wait_seq != 0 && p->wait_seq <= upto) {
    if (p->publish_failed)
      pq_mq_nack(w->mq, p->tag, 1); /* outcome not safe: let the job run again */
    else
      pq_mq_ack(w->mq, p->tag, 0);
    paper_free(w, p);
  }
}

static void on_http_done(void *ctx, struct http_req *r) {
  (void)ctx;
  if (r->index == HTTP_OWNER_JUDGE)
    judge_on_response(r);
  else
    xlate_on_response(r->owner, r);
}

static void send_heartbeat(struct worker *w, const char *kind, const char *reason) {
  if (w->done || w->failed)
    pq_info("progress: %ld succeeded, %ld failed attempts, %ld parked, %d in flight, %d HTTP "
            "requests running (limit %d)%s",
            w->done, w->failed, w->parked, w->in_flight, http_running(w->http), http_limit(w->http),
            w->paused ? ", PAUSED" : "");
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
  publish_event(w, ev);
  w->last_heartbeat_ms = pq_mono_ms();
}

/* Drops every paper after the connection is lost: the broker returns their
 * jobs to the queue on its own. */
static void drop_all(struct worker *w) {
  while (w->papers)
    paper_free(w, w->papers);
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
      if (ok && (w->paused || start_consuming(w) == PQ_OK)) {
        pq_info("connected; consuming %s.jobs with %d papers in flight at most%s",
                w->cfg->broker.prefix, w->cfg->worker.concurrency, w->paused ? " (paused)" : "");
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
  int rc = EXIT_OK;
  w->started_ms = pq_now_ms();
  w->last_activity_ms = pq_mono_ms();
  if (connect_and_consume(w) != PQ_OK)
    return worker_stop_requested ? EXIT_OK : EXIT_BROKER;
  send_heartbeat(w, "worker.heartbeat", NULL);
  for (;;) {
    if (worker_stop_requested && !w->draining)
      begin_drain(w, "SIGTERM");
    if (!w->draining && !w->fatal && !w->paused && w->cfg->worker.idle_exit_s > 0 &&
        w->in_flight == 0 &&
        pq_mono_ms() - w->last_activity_ms >= w->cfg->worker.idle_exit_s * 1000L)
      begin_drain(w, "idle");
    if (w->draining && pq_mono_ms() >= w->drain_deadline_ms) {
      for (struct paper *p = w->papers, *next; p; p = next) {
        next = p->next;
        if (p->state == PAPER_TRANSLATING)
          hand_back(w, p);
      }
    }
    int brc = pq_mq_pump(w->mq, 0, &h);
    if (brc == PQ_OK) {
      http_perform(w->http, on_http_done, w);
      settle_papers(w);
      send_started_events(w);
      if (pq_mono_ms() - w->last_heartbeat_ms >= w->cfg->worker.heartbeat_s * 1000L)
        send_heartbeat(w, "worker.heartbeat", NULL);
    }
    if (brc != PQ_OK || pq_mq_fd(w->mq) < 0) {
      pq_error("lost the broker connection with %d papers in flight; they return to the queue; "
               "reconnecting",
               w->in_flight);
      drop_all(w);
      pq_mq_close(w->mq);
      w->mq = NULL;
      w->consuming = 0;
      if (w->fatal || w->draining)
        break; /* jobs return to the queue by themselves */
      if (connect_and_consume(w) != PQ_OK)
        break;
      continue;
    }
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
    rc = EXIT_FATAL_PROVIDER;
  } else if (!w->mq) {
    rc = worker_stop_requested ? EXIT_OK : EXIT_BROKER;
  }
  pq_mq_close(w->mq);
  w->mq = NULL;
  return rc;
}
