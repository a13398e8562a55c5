/* What every job kind shares (work.h): sending chat requests, what an answer
 * means before the kind looks at it (a 429 is resent, a fatal refusal stops
 * the worker), usage accounting, cancelling, and events made along the way. */
#include "work.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>

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

/* Providers bill an abandoned non-streaming request in full (OpenRouter,
 * "stream cancellation"): without a reply, its prompt at the model's price
 * is the estimate. */
static double estimate_usd(const struct work *w, const struct llm_call *c) {
  long pt = pq_chat_estimate_prompt_tokens(c->body ? strlen(c->body) : 0);
  return pq_config_cost(w->env->cfg, c->model, pt, 0);
}

static void add_spend(struct work *w, struct llm_call *c, double usd, int waste, int estimated) {
  pq_spend_add(&w->usage.spend, usd, waste, estimated);
  pq_spend_add(&c->spend, usd, waste, estimated);
  w->usage.cost_usd = w->usage.spend.cost_usd;
}

void work_cancel_all(struct work *w) {
  while (w->active) {
    struct llm_call *c = w->active;
    int sent = c->req.state == 2; /* running: the provider has it */
    w->env->http.cancel(w->env->http.ctx, &c->req);
    deactivate(w, c);
    if (sent)
      add_spend(w, c, estimate_usd(w, c), PQ_WASTE_CANCELLED, 1);
  }
}

struct llm_call *work_call_of(struct http_req *req) {
  return (struct llm_call *)(void *)((char *)req - offsetof(struct llm_call, req));
}

static void note_provider(struct work_usage *u, const char *name) {
  if (!name[0])
    return;
  for (int i = 0; i < WORK_MAX_PROVIDERS; i++) {
    if (!u->providers[i].name[0])
      snprintf(u->providers[i].name, sizeof u->providers[i].name, "%s", name);
    if (strcmp(u->providers[i].name, name) == 0) {
      u->providers[i].replies++;
      return;
    }
  }
}

/* Every reply's usage counts, whatever its class: partial, filtered and
 * rejected answers are billed. Cost that is not a finished answer is
 * wasted from the start; the kind moves a finished answer it cannot use
 * there too (work_waste). */
static void account(struct work *w, struct llm_call *c, const struct pq_chat_result *res) {
  struct work_usage *u = &w->usage;
  u->llm_ms += c->req.finished_ms - c->req.started_ms;
  if (res->cls != PQ_CLASS_RATE) {
    u->requests++;
    c->requests++;
  }
  u->prompt_tokens += res->prompt_tokens;
  u->completion_tokens += res->completion_tokens;
  c->prompt_tokens += res->prompt_tokens;
  c->completion_tokens += res->completion_tokens;
  note_provider(u, res->provider);
  int estimated = 0;
  /* The provider's own figure when it reports one (OpenRouter does), else
   * the configured prices. */
  if (res->cost_usd >= 0)
    c->cost_usd = res->cost_usd;
  else if (res->usage_reported)
    c->cost_usd = pq_config_cost(w->env->cfg, c->model, res->prompt_tokens, res->completion_tokens);
  else if (res->reason == PQ_REASON_TRANSPORT && strstr(c->req.error, "imed out")) {
    c->cost_usd = estimate_usd(w, c); /* timed out: billed in full, nothing reported */
    estimated = 1;
  } else
    c->cost_usd = 0;
  add_spend(w, c, c->cost_usd, res->cls == PQ_CLASS_OK ? PQ_REASON_NONE : (int)res->reason,
            estimated);
}

void work_waste(struct work *w, struct llm_call *c, int waste) {
  pq_spend_reclassify(&w->usage.spend, c->cost_usd, waste);
  pq_spend_reclassify(&c->spend, c->cost_usd, waste);
}

void work_take_spend(struct work *w, struct llm_call *c, struct pq_spend *spend,
                     long *prompt_tokens, long *completion_tokens, long *requests) {
  *spend = c->spend;
  *prompt_tokens = c->prompt_tokens;
  *completion_tokens = c->completion_tokens;
  *requests = c->requests;
  pq_spend_subtract(&w->usage.spend, &c->spend);
  w->usage.cost_usd = w->usage.spend.cost_usd;
  w->usage.prompt_tokens -= c->prompt_tokens;
  w->usage.completion_tokens -= c->completion_tokens;
  w->usage.requests -= c->requests;
  memset(&c->spend, 0, sizeof c->spend);
  c->prompt_tokens = c->completion_tokens = c->requests = 0;
}

/* Sends c's request again after delay_ms, to the same endpoint. */
static void resend(struct work *w, struct llm_call *c, long delay_ms) {
  activate(w, c);
  w->env->http.submit(w->env->http.ctx, &c->req, delay_ms);
}

/* The request body with max_tokens halved, or NULL when it is already at
 * WORK_MIN_MAX_TOKENS (or out of memory). *now gets the new value. */
static char *halve_max_tokens(const char *body, int *now) {
  cJSON *j = cJSON_Parse(body);
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
  char *out = NULL;
  if (cJSON_IsNumber(mt) && mt->valuedouble / 2 >= WORK_MIN_MAX_TOKENS) {
    *now = (int)(mt->valuedouble / 2);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "max_tokens", cJSON_CreateNumber(*now));
    out = cJSON_PrintUnformatted(j);
  }
  cJSON_Delete(j);
  return out;
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
  long used = res.usage_reported ? res.prompt_tokens + res.completion_tokens : -1;
  /* A 5xx that says when to come back is a passing overload: wait as told
   * and resend, like a 429 (OpenRouter sends Retry-After on 503s). */
  int told_to_wait =
      res.cls == PQ_CLASS_TRANSIENT && res.reason == PQ_REASON_SERVER && req->retry_after_ms >= 0;
  if (res.cls == PQ_CLASS_RATE || told_to_wait) {
    /* A 429 or an in-flight-budget 402 says nothing about the paper: wait
     * as told (the limiter also lowers concurrency) and ask again. Once the
     * attempt has failed nothing new is sent. */
    http->feedback(http->ctx, req, 1, used);
    long delay = pq_chat_pause_ms(req->retry_after_ms);
    if (w->outcome == PQ_CLASS_OK && ++c->rate_retries <= WORK_MAX_RATE_RETRIES) {
      pq_debug("paper %s: %s; resending in %ld ms", w->job->paper_id,
               pq_chat_reason_name(res.reason), delay);
      resend(w, c, delay);
      pq_chat_result_free(&res);
      return WORK_PENDING;
    }
    res.cls = PQ_CLASS_TRANSIENT;
    snprintf(res.error, sizeof res.error, "%s %d times in a row",
             res.reason == PQ_REASON_INFLIGHT_BUDGET ? "in-flight budget exhausted"
                                                     : "rate limited",
             c->rate_retries);
  } else {
    http->feedback(http->ctx, req, 0, used);
  }
  if (res.reason == PQ_REASON_WEIGHT_BUDGET && w->outcome == PQ_CLASS_OK) {
    /* This one request's estimate (prompt + max_tokens) is over the
     * provider's budget: retrying as is never helps, a smaller max_tokens
     * may. */
    int now = 0;
    char *smaller = halve_max_tokens(c->body, &now);
    if (smaller) {
      pq_warn("paper %s: %s; resending with max_tokens %d (lower %s.max_tokens to avoid this)",
              w->job->paper_id, res.error, now, w->kind->settings);
      free(c->body);
      c->body = smaller;
      c->req.body = smaller;
      resend(w, c, 0);
      pq_chat_result_free(&res);
      return WORK_PENDING;
    }
    snprintf(res.error + strlen(res.error), sizeof res.error - strlen(res.error),
             "; even max_tokens %d is over the budget: lower %s.max_tokens or add credits",
             WORK_MIN_MAX_TOKENS, w->kind->settings);
  }
  if (res.reason == PQ_REASON_REASONING_ONLY)
    pq_warn("paper %s: %s %s answered nothing: its max_tokens went to reasoning; set "
            "%s.reasoning (e.g. \"off\" or a token budget) or raise %s.max_tokens",
            w->job->paper_id, w->kind->model_role, c->model, w->kind->settings, w->kind->settings);
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
