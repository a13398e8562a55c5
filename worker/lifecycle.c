/* Where a job's outcome is published and the job acked (lifecycle.h). Every
 * outcome (success event, retry copy, parked copy, hand-back) is a publish
 * whose confirm the paper waits for; only then is the delivery acked. */
#include "lifecycle.h"
#include "paperq/config.h"
#include "paperq/event.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/qa.h"
#include "paperq/util.h"
#include "retry.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the paper lists ------------------------------------------------------ */

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

/* The paper's outcome is published; it waits for the confirm of seq (0: the
 * publish failed, the connection is lost and the job returns by itself).
 * Appending keeps the list in publish order, so settling pops the head. */
static void wait_for_confirm(struct worker *w, struct paper *p, uint64_t seq) {
  work_free(p->work);
  p->work = NULL;
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

static struct paper *paper_new(struct worker *w, const struct pq_mq_delivery *d) {
  struct paper *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->w = w;
  p->tag = d->tag;
  /* An attempt header out of range makes the job undecodable (see
   * paper_receive); its events then say attempt 1, which the ledger takes. */
  p->attempt = pq_job_attempt_ok((double)d->attempt) ? (int)d->attempt : 1;
  p->delivery_count = d->delivery_count;
  p->kind = strcmp(d->type, PQ_MSG_TYPE_QA) == 0 ? &work_qa : &work_translate;
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
  return p;
}

static void paper_free(struct worker *w, struct paper *p) {
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
  work_free(p->work);
  pq_job_free(&p->job);
  free(p);
}

/* Acks (or, when an outcome publish failed, requeues) and forgets p. */
static void paper_settle(struct worker *w, struct paper *p) {
  if (p->publish_failed)
    pq_mq_nack(w->mq, p->tag, 1); /* outcome not safe: let the job run again */
  else
    pq_mq_ack(w->mq, p->tag, 0);
  paper_free(w, p);
}

/* The paper's id; the decoder fills it even for a job it refused, when the
 * message had a usable one. */
static const char *pid_of(const struct paper *p) {
  return p->job.paper_id[0] ? p->job.paper_id : "(undecodable job)";
}

/* ---- publishing ------------------------------------------------------------ */

/* Publishes ev (and frees it); returns the seq, or 0 when it failed. */
static uint64_t publish_event(struct worker *w, cJSON *ev) {
  uint64_t seq = 0;
  if (!ev || pq_event_publish(w->mq, ev, &seq) != PQ_OK)
    seq = 0;
  cJSON_Delete(ev);
  return seq;
}

/* Publishes the events p's attempt made along the way (a judge's verdict);
 * the paper's ack waits for the last of them. Returns PQ_OK, or PQ_ERR_BROKER
 * when one could not be published: then the attempt cannot go on safely (it
 * counts that verdict as given), so its requests are cancelled and the job
 * goes back to the queue unchanged, as after a lost connection. */
static int publish_work_events(struct worker *w, struct paper *p) {
  cJSON *events = p->work ? work_take_events(p->work) : NULL;
  cJSON *fields;
  int rc = PQ_OK;
  cJSON_ArrayForEach(fields, events) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(fields, "kind");
    cJSON *ev = pq_event_new(kind->valuestring, p->job.paper_id, p->job.gen, p->attempt, w->id);
    for (const cJSON *f = fields->child; ev && f; f = f->next)
      if (strcmp(f->string, "kind") != 0)
        cJSON_AddItemToObject(ev, f->string, cJSON_Duplicate(f, 1));
    uint64_t seq = publish_event(w, ev);
    if (!seq) {
      rc = PQ_ERR_BROKER;
      break;
    }
    p->wait_seq = seq;
  }
  cJSON_Delete(events);
  if (rc != PQ_OK) {
    pq_warn("paper %s: cannot publish its %s event; the job goes back to the queue",
            p->job.paper_id, p->kind->name);
    pq_mq_nack(w->mq, p->tag, 1);
    paper_free(w, p);
  }
  return rc;
}

/* The job body for a retry, a park or a hand-back: what is done so far
 * travels with it so it is not paid for again. Returns malloc'd or NULL. */
static char *encode_again(struct paper *p, size_t *len) {
  return p->job_ok ? p->kind->encode_again(&p->job, p->work, len) : NULL;
}

static void add_usage(struct paper *p, cJSON *ev) {
  struct work_usage none = {0};
  const struct work_usage *u = p->work ? &p->work->usage : &none;
  cJSON *o = cJSON_AddObjectToObject(ev, "usage");
  if (o) {
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)u->prompt_tokens);
    cJSON_AddNumberToObject(o, "completion_tokens", (double)u->completion_tokens);
    cJSON_AddNumberToObject(o, "requests", (double)u->requests);
  }
  if (o) {
    cJSON *prov = NULL;
    for (int i = 0; i < WORK_MAX_PROVIDERS && u->providers[i].name[0]; i++)
      if (prov || (prov = cJSON_AddObjectToObject(o, "providers")))
        cJSON_AddNumberToObject(prov, u->providers[i].name, (double)u->providers[i].replies);
  }
  cJSON_AddNumberToObject(ev, "cost_usd", u->cost_usd);
  pq_spend_to_json(&u->spend, ev); /* used vs thrown away (the ledger's split) */
  cJSON_AddStringToObject(ev, "model", u->model[0] ? u->model : p->w->cfg->translate.model);
  cJSON *t = cJSON_AddObjectToObject(ev, "timings");
  if (t) {
    cJSON_AddNumberToObject(t, "started_ms", (double)p->started_ms);
    cJSON_AddNumberToObject(t, "finished_ms", (double)pq_now_ms());
    cJSON_AddNumberToObject(t, "llm_ms", (double)u->llm_ms);
  }
}

/* Re-publishes p's job (same attempt, what is done carried) to its queue and
 * acks the original once confirmed: the job goes back unharmed, without the
 * delivery count a nack would add on a quorum queue. */
static void hand_back(struct worker *w, struct paper *p) {
  if (!p->job_ok) {
    pq_mq_nack(w->mq, p->tag, 1);
    paper_free(w, p);
    return;
  }
  size_t len;
  char *body = encode_again(p, &len);
  uint64_t seq = 0;
  struct pq_mq_props props = {0};
  props.type = p->kind->msg_type;
  props.message_id = p->job.paper_id;
  props.attempt = p->attempt;
  if (!body ||
      pq_mq_publish(w->mq, "jobs", p->kind->routing_key, &props, body, len, &seq) != PQ_OK) {
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

/* ---- outcomes -------------------------------------------------------------- */

static void succeeded(struct worker *w, struct paper *p) {
  const struct pq_config *cfg = w->cfg;
  w->done++;
  if (!p->kind->success_event) {
    /* Its events went out along the way; ack after the last. */
    if (p->wait_seq == 0) {
      paper_settle(w, p);
      return;
    }
    wait_for_confirm(w, p, p->wait_seq);
    return;
  }
  cJSON *ev = pq_event_new(p->kind->success_event, p->job.paper_id, p->job.gen, p->attempt, w->id);
  if (ev) {
    p->kind->describe_success(p->work, ev);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "translation");
    if (p->kind == &work_translate && t && cfg->qa.judges[0] && !w->env.dry_run &&
        pq_qa_sampled(p->job.paper_id, cfg->qa.sample_rate))
      publish_qa_job(w, p, t);
    add_usage(p, ev);
  }
  uint64_t seq = publish_event(w, ev);
  /* One line per paper is for debugging; progress is logged with each
   * heartbeat (and the ledger's report is the place to watch a run). */
  pq_debug("paper %s: succeeded (attempt %d, %lld ms)", p->job.paper_id, p->attempt,
           (long long)(pq_now_ms() - p->started_ms));
  wait_for_confirm(w, p, seq);
}

/* Where a failed attempt goes: retry later or park (retry.c decides). */
static void failed(struct worker *w, struct paper *p, enum pq_err_class cls, const char *error) {
  const char *id = pid_of(p);
  struct retry_decision d;
  retry_decide(&w->retry, p->attempt, cls, error, &d);
  /* A judge's failure is QA's business only: it never marks the paper. */
  /* Without a paper id there is no paper for the ledger to mark: the parked
   * message alone tells it (recorded as a bad message). */
  cJSON *ev = p->job.paper_id[0]
                  ? pq_event_new(p->kind->failed_event, id, p->job.gen, p->attempt, w->id)
                  : NULL;
  if (ev) {
    cJSON_AddStringToObject(ev, "error_class", pq_err_class_name(cls));
    cJSON_AddStringToObject(ev, "error", error);
    cJSON_AddBoolToObject(ev, "retryable", !d.park);
    cJSON_AddNumberToObject(ev, "next_delay_ms", (double)d.delay_ms);
    add_usage(p, ev);
  }
  uint64_t seq = publish_event(w, ev);
  w->failed++;
  struct pq_mq_props props = {0};
  props.type = p->kind->msg_type;
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
    snprintf(rk, sizeof rk, "%s.%ld", p->kind->routing_key, d.tier_ms);
    props.attempt = p->attempt + 1;
    props.expiration_ms = d.delay_ms;
    rc = pq_mq_publish(w->mq, "retry", rk, &props, body, len, &seq);
    pq_warn("paper %s: attempt %d failed (%s: %s); retry in %ld ms", id, p->attempt,
            pq_err_class_name(cls), error, d.delay_ms);
  }
  int had_body = body != NULL;
  free(body);
  if (rc != PQ_OK)
    seq = 0;
  if (!had_body && d.park) {
    paper_free(w, p); /* nacked to the dead-letter target: nothing to wait for */
    return;
  }
  wait_for_confirm(w, p, seq);
}

/* The attempt has ended: publish its outcome. error is copied first: it may
 * live in the attempt's state, which the outcome frees. */
static void paper_finish(struct worker *w, struct paper *p, enum pq_err_class cls,
                         const char *error) {
  char why[512];
  snprintf(why, sizeof why, "%.*s", (int)sizeof why - 1, error); /* cut, never overflow */
  w->last_activity_ms = pq_mono_ms();
  if (w->fatal)
    hand_back(w, p);
  else if (cls == PQ_CLASS_OK)
    succeeded(w, p);
  else
    failed(w, p, cls, why);
}

/* What the lifecycle does with where an attempt stands. */
static void paper_progress(struct worker *w, struct paper *p, enum work_status st) {
  if (publish_work_events(w, p) != PQ_OK)
    return; /* p is gone */
  switch (st) {
  case WORK_PENDING:
    break;
  case WORK_DONE:
  case WORK_FAILED:
    paper_finish(w, p, p->work->outcome, p->work->error);
    break;
  case WORK_FATAL: {
    char why[512];
    snprintf(why, sizeof why, "%s", p->work->error);
    worker_fatal(w, why); /* hands p back with the others */
    break;
  }
  }
}

/* ---- entry points ---------------------------------------------------------- */

void paper_receive(struct worker *w, const struct pq_mq_delivery *d) {
  w->last_activity_ms = pq_mono_ms();
  struct paper *p = paper_new(w, d);
  if (!p) {
    pq_mq_nack(w->mq, d->tag, 1);
    return;
  }
  char err[512], why[600];
  if (pq_job_decode_delivery(d->body, d->len, d->attempt, &p->job, err, sizeof err) != PQ_OK) {
    /* One bad message never kills a worker: it is parked with the reason. */
    pq_warn("delivery %llu: %s; parking it", (unsigned long long)d->tag, err);
    snprintf(why, sizeof why, "undecodable job: %.400s", err);
    paper_finish(w, p, PQ_CLASS_PERMANENT, why);
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
  p->work = work_new(p->kind, &w->env, &p->job, p);
  if (!p->work) {
    paper_finish(w, p, PQ_CLASS_TRANSIENT, "out of memory");
    return;
  }
  paper_progress(w, p, p->kind->start(p->work));
}

void paper_answered(void *worker, struct http_req *req) {
  struct worker *w = worker;
  struct work *work = work_call_of(req)->work;
  enum work_status st = work_answer(req);
  paper_progress(w, work->paper, st);
}

void papers_settle(struct worker *w) {
  uint64_t upto = pq_mq_confirmed_upto(w->mq);
  struct paper *p;
  while ((p = w->pub_head) && p->wait_seq != 0 && p->wait_seq <= upto)
    paper_settle(w, p);
}

void papers_nacked(struct worker *w, uint64_t seq, int multiple) {
  for (struct paper *p = w->pub_head; p; p = p->pub_next)
    if (p->wait_seq == seq || (multiple && p->wait_seq <= seq))
      p->publish_failed = 1;
}

void papers_announce_started(struct worker *w) {
  int64_t due = pq_now_ms() - STARTED_EVENT_DELAY_MS;
  struct paper *p;
  while ((p = w->started_cursor) && p->started_ms <= due) {
    if (p->state == PAPER_TRANSLATING && p->job_ok && p->kind->announce_start && !p->started_sent) {
      cJSON *ev = pq_event_new("job.started", p->job.paper_id, p->job.gen, p->attempt, w->id);
      if (ev)
        cJSON_AddNumberToObject(ev, "started_ms", (double)p->started_ms);
      publish_event(w, ev);
      p->started_sent = 1;
    }
    w->started_cursor = p->prev; /* the next newer paper */
  }
}

void papers_hand_back_all(struct worker *w) {
  for (struct paper *p = w->papers, *next; p; p = next) {
    next = p->next;
    if (p->state == PAPER_TRANSLATING)
      hand_back(w, p);
  }
}

void papers_drop_all(struct worker *w) {
  while (w->papers)
    paper_free(w, w->papers);
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
  papers_hand_back_all(w);
}
