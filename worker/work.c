/* What every job kind shares (work.h): sending chat requests, what an answer
 * means before the kind looks at it (a 429 is resent, a fatal refusal stops
 * the worker), usage accounting, cancelling, and events made along the way. */
#include "work.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void work_endpoint_init(struct work_endpoint *ep, const char *base_url, const char *key) {
  size_t blen = strlen(base_url);
  while (blen && base_url[blen - 1] == '/')
    blen--;
  snprintf(ep->url, sizeof ep->url, "%.*s/chat/completions", (int)blen, base_url);
  ep->key = key;
}

struct work *work_new(const struct work_kind *kind, const struct work_env *env,
                      const struct pq_job *job, struct paper *paper) {
  struct work *w = kind->create();
  if (!w)
    return NULL;
  w->kind = kind;
  w->env = env;
  w->job = job;
  w->paper = paper;
  w->outcome = PQ_CLASS_OK;
  return w;
}

void work_free(struct work *w) {
  if (!w)
    return;
  work_cancel_all(w);
  cJSON_Delete(w->events);
  w->kind->destroy(w);
}

void work_fail(struct work *w, enum pq_err_class cls, const char *fmt, ...) {
  va_list ap;
  w->outcome = cls;
  va_start(ap, fmt);
  vsnprintf(w->error, sizeof w->error, fmt, ap);
  va_end(ap);
}

static void activate(struct work *w, struct llm_call *c) {
  c->active = 1;
  c->prev_active = NULL;
  c->next_active = w->active;
  if (w->active)
    w->active->prev_active = c;
  w->active = c;
  w->outstanding++;
}

static void deactivate(struct work *w, struct llm_call *c) {
  if (!c->active)
    return;
  if (c->prev_active)
    c->prev_active->next_active = c->next_active;
  else
    w->active = c->next_active;
  if (c->next_active)
    c->next_active->prev_active = c->prev_active;
  c->next_active = c->prev_active = NULL;
  c->active = 0;
  w->outstanding--;
}

void work_call_release(struct llm_call *c) {
  pq_buf_free(&c->req.resp);
  free(c->body);
  c->body = NULL;
}

int work_call(struct work *w, struct llm_call *c, const struct work_endpoint *ep, const char *model,
              char *body) {
  free(c->body);
  c->body = body;
  if (!body)
    return PQ_ERR_NOMEM;
  /* A new request, not a resend: fresh counters, and the previous answer's
   * buffer freed (http.c sets up a new one when the transfer starts). */
  pq_buf_free(&c->req.resp);
  memset(&c->req, 0, sizeof c->req);
  c->req.body = body;
  c->req.url = ep->url;
  c->req.key = ep->key;
  c->work = w; /* rate_retries runs on over re-asks: 50 429s in a call's whole life */
  snprintf(c->model, sizeof c->model, "%s", model);
  activate(w, c);
  w->env->http.submit(w->env->http.ctx, &c->req, 0);
  return PQ_OK;
}

void work_cancel_all(struct work *w) {
  while (w->active) {
    struct llm_call *c = w->active;
    w->env->http.cancel(w->env->http.ctx, &c->req);
    deactivate(w, c);
  }
}

struct llm_call *work_call_of(struct http_req *req) {
  return (struct llm_call *)(void *)((char *)req - offsetof(struct llm_call, req));
}

static void account(struct work *w, struct llm_call *c, const struct pq_chat_result *res) {
  struct work_usage *u = &w->usage;
  u->llm_ms += c->req.finished_ms - c->req.started_ms;
  if (res->cls != PQ_CLASS_RATE)
    u->requests++;
  u->prompt_tokens += res->prompt_tokens;
  u->completion_tokens += res->completion_tokens;
  /* The provider's own figure when it reports one (OpenRouter does), else
   * the configured prices. */
  c->cost_usd = res->cost_usd >= 0 ? res->cost_usd
                                   : pq_config_cost(w->env->cfg, c->model, res->prompt_tokens,
                                                    res->completion_tokens);
  u->cost_usd += c->cost_usd;
}

enum work_status work_answer(struct http_req *req) {
  struct llm_call *c = work_call_of(req);
  struct work *w = c->work;
  const struct work_submitter *http = &w->env->http;
  deactivate(w, c);
  struct pq_chat_result res;
  pq_chat_parse(req->status, req->resp.data, req->resp.len, req->error, &res);
  account(w, c, &res);
  enum work_status st;
  if (res.cls == PQ_CLASS_RATE) {
    /* A 429 says nothing about the paper: wait as told and ask again. Once
     * the attempt has failed nothing new is sent. */
    http->feedback(http->ctx, req, 1);
    long delay = req->retry_after_ms >= 0 ? req->retry_after_ms : WORK_RATE_DEFAULT_DELAY_MS;
    if (w->outcome == PQ_CLASS_OK && ++c->rate_retries <= WORK_MAX_RATE_RETRIES) {
      pq_debug("paper %s: rate limited; resending in %ld ms", w->job->paper_id, delay);
      activate(w, c);
      http->submit(http->ctx, &c->req, delay);
      pq_chat_result_free(&res);
      return WORK_PENDING;
    }
    res.cls = PQ_CLASS_TRANSIENT;
    snprintf(res.error, sizeof res.error, "rate limited %d times in a row", c->rate_retries);
  } else {
    http->feedback(http->ctx, req, 0);
  }
  if (res.cls == PQ_CLASS_FATAL) {
    work_cancel_all(w);
    work_fail(w, PQ_CLASS_FATAL, "%s (%s %s)", res.error, w->kind->model_role, c->model);
    st = WORK_FATAL;
  } else {
    st = w->kind->on_answer(w, c, &res);
  }
  pq_chat_result_free(&res);
  return st;
}

int work_emit(struct work *w, const char *kind, cJSON *fields) {
  if (!fields)
    return PQ_ERR_NOMEM;
  if (!w->events)
    w->events = cJSON_CreateArray();
  if (!w->events || !cJSON_AddStringToObject(fields, "kind", kind) ||
      !cJSON_AddItemToArray(w->events, fields)) {
    cJSON_Delete(fields);
    return PQ_ERR_NOMEM;
  }
  return PQ_OK;
}

cJSON *work_take_events(struct work *w) {
  cJSON *e = w->events;
  w->events = NULL;
  return e;
}
