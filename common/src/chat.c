/* Chat-completions request/response handling and error classification.
 * The classification decides whether a paper is retried, parked, or the
 * whole worker stops: a wrong key must never burn papers, and a problem of
 * one paper, or a passing limit, must never stop the fleet. The rules follow
 * the providers' own documentation (docs/providers.md cites it). */
#define _GNU_SOURCE /* strcasestr */
#include "paperq/chat.h"
#include "paperq/redact.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *pq_err_class_name(enum pq_err_class c) {
  switch (c) {
  case PQ_CLASS_OK:
    return "ok";
  case PQ_CLASS_TRANSIENT:
    return "transient";
  case PQ_CLASS_RATE:
    return "rate_limited";
  case PQ_CLASS_PERMANENT:
    return "permanent";
  case PQ_CLASS_FATAL:
    return "fatal";
  }
  return "unknown";
}

static const char *const reason_names[PQ_REASON_COUNT] = {
    "finished",       "transport",      "malformed",       "server",
    "provider_error", "rate_limit",     "inflight_budget", "weight_budget",
    "length",         "reasoning_only", "content_filter",  "bad_request",
    "auth",           "no_credit",      "key_limit",       "unknown_model"};

const char *pq_chat_reason_name(enum pq_chat_reason r) {
  return r >= 0 && r < PQ_REASON_COUNT ? reason_names[r] : "unknown";
}

static enum pq_err_class class_of(enum pq_chat_reason r) {
  switch (r) {
  case PQ_REASON_NONE:
    return PQ_CLASS_OK;
  case PQ_REASON_RATE_LIMIT:
  case PQ_REASON_INFLIGHT_BUDGET:
    return PQ_CLASS_RATE;
  case PQ_REASON_WEIGHT_BUDGET:
  case PQ_REASON_CONTENT_FILTER:
  case PQ_REASON_BAD_REQUEST:
    return PQ_CLASS_PERMANENT;
  case PQ_REASON_AUTH:
  case PQ_REASON_NO_CREDIT:
  case PQ_REASON_KEY_LIMIT:
  case PQ_REASON_UNKNOWN_MODEL:
    return PQ_CLASS_FATAL;
  default:
    return PQ_CLASS_TRANSIENT;
  }
}

static const char *const efforts[] = {"minimal", "low", "medium", "high", "xhigh", "max", NULL};

static int is_effort(const char *v) {
  for (int i = 0; efforts[i]; i++)
    if (strcmp(v, efforts[i]) == 0)
      return 1;
  return 0;
}

int pq_chat_reasoning_check(const char *v, char *err, size_t errlen) {
  long n;
  if (!v || !v[0] || strcmp(v, "off") == 0 || strcmp(v, "none") == 0 || strcmp(v, "on") == 0 ||
      is_effort(v) || pq_parse_long(v, 0, 10000000, &n) == PQ_OK)
    return PQ_OK;
  if (strncmp(v, "openai:", 7) == 0 && (is_effort(v + 7) || strcmp(v + 7, "none") == 0))
    return PQ_OK;
  snprintf(err, errlen,
           "\"%s\": expected \"\" (the model's default), off, on, minimal, low, medium, high, "
           "xhigh, max, openai:<level>, or a token budget (a whole number)",
           v);
  return PQ_ERR_PARSE;
}

/* Adds the reasoning controls for value v to root. */
static int add_reasoning(cJSON *root, const char *v) {
  long n;
  if (!v || !v[0])
    return PQ_OK;
  if (strncmp(v, "openai:", 7) == 0)
    return cJSON_AddStringToObject(root, "reasoning_effort", v + 7) ? PQ_OK : PQ_ERR_NOMEM;
  cJSON *r = cJSON_AddObjectToObject(root, "reasoning");
  if (!r)
    return PQ_ERR_NOMEM;
  if (strcmp(v, "off") == 0 || strcmp(v, "none") == 0)
    return cJSON_AddStringToObject(r, "effort", "none") ? PQ_OK : PQ_ERR_NOMEM;
  if (strcmp(v, "on") == 0)
    return cJSON_AddTrueToObject(r, "enabled") ? PQ_OK : PQ_ERR_NOMEM;
  if (is_effort(v))
    return cJSON_AddStringToObject(r, "effort", v) ? PQ_OK : PQ_ERR_NOMEM;
  if (pq_parse_long(v, 0, 10000000, &n) == PQ_OK)
    return cJSON_AddNumberToObject(r, "max_tokens", (double)n) ? PQ_OK : PQ_ERR_NOMEM;
  return PQ_ERR_PARSE;
}

char *pq_chat_build(const struct pq_chat_req *q) {
  cJSON *root = cJSON_CreateObject(), *extra = NULL;
  char *out = NULL;
  if (!root)
    return NULL;
  cJSON *msgs = NULL, *m = NULL;
  if (!cJSON_AddStringToObject(root, "model", q->model) ||
      !(msgs = cJSON_AddArrayToObject(root, "messages")))
    goto cleanup;
  if (q->system && q->system[0]) {
    if (!(m = cJSON_CreateObject()))
      goto cleanup;
    cJSON_AddItemToArray(msgs, m);
    if (!cJSON_AddStringToObject(m, "role", "system") ||
        !cJSON_AddStringToObject(m, "content", q->system))
      goto cleanup;
  }
  if (!(m = cJSON_CreateObject()))
    goto cleanup;
  cJSON_AddItemToArray(msgs, m);
  if (!cJSON_AddStringToObject(m, "role", "user") ||
      !cJSON_AddStringToObject(m, "content", q->user) ||
      !cJSON_AddNumberToObject(root, "max_tokens", q->max_tokens) ||
      !cJSON_AddNumberToObject(root, "temperature", q->temperature))
    goto cleanup;
  if (add_reasoning(root, q->reasoning) != PQ_OK)
    goto cleanup;
  if (q->extra_body && q->extra_body[0]) {
    extra = cJSON_Parse(q->extra_body);
    if (!cJSON_IsObject(extra))
      goto cleanup;
    cJSON *it = extra->child;
    while (it) {
      cJSON *next = it->next;
      if (it->string && strcmp(it->string, "model") != 0 && strcmp(it->string, "messages") != 0) {
        cJSON_DetachItemViaPointer(extra, it);
        cJSON_DeleteItemFromObjectCaseSensitive(root, it->string);
        cJSON_AddItemToObject(root, it->string, it);
      }
      it = next;
    }
  }
  out = cJSON_PrintUnformatted(root);
cleanup:
  cJSON_Delete(extra);
  cJSON_Delete(root);
  return out;
}

char *pq_chat_request(const char *model, const char *system, const char *user, int max_tokens,
                      double temperature) {
  struct pq_chat_req q = {model, system, user, max_tokens, temperature, NULL, NULL};
  return pq_chat_build(&q);
}

/* What an error object says, wherever it arrived. */
struct err_info {
  long code;           /* numeric error.code in 100..599 (HTTP-like), else 0 */
  char scode[64];      /* a string code: "insufficient_quota", "1113", "Arrearage" */
  char etype[64];      /* error.type */
  char error_type[64]; /* metadata.error_type (OpenRouter's typed code) */
  char limit_source[64];
  char mreason[64]; /* metadata.reason */
  int flagged;      /* metadata.reasons / flagged_input / patterns: moderation, guardrail */
  char msg[300];
};

static void copy_str(char *dst, size_t n, const cJSON *v) {
  if (cJSON_IsString(v) && v->valuestring)
    snprintf(dst, n, "%s", v->valuestring);
}

/* Reads e: {"code", "message", "type", "metadata"} or a plain string. */
static void err_read(const cJSON *e, struct err_info *i) {
  memset(i, 0, sizeof *i);
  if (cJSON_IsString(e)) {
    copy_str(i->msg, sizeof i->msg, e);
    return;
  }
  copy_str(i->msg, sizeof i->msg, cJSON_GetObjectItemCaseSensitive(e, "message"));
  copy_str(i->etype, sizeof i->etype, cJSON_GetObjectItemCaseSensitive(e, "type"));
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  if (cJSON_IsNumber(c)) {
    if (c->valuedouble >= 100 && c->valuedouble <= 599)
      i->code = (long)c->valuedouble;
    else
      snprintf(i->scode, sizeof i->scode, "%.0f", c->valuedouble);
  } else if (cJSON_IsString(c) && c->valuestring) {
    long n;
    if (pq_parse_long(c->valuestring, 100, 599, &n) == PQ_OK)
      i->code = n;
    else
      copy_str(i->scode, sizeof i->scode, c);
  }
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(e, "metadata");
  copy_str(i->error_type, sizeof i->error_type, cJSON_GetObjectItemCaseSensitive(md, "error_type"));
  copy_str(i->limit_source, sizeof i->limit_source,
           cJSON_GetObjectItemCaseSensitive(md, "limit_source"));
  copy_str(i->mreason, sizeof i->mreason, cJSON_GetObjectItemCaseSensitive(md, "reason"));
  i->flagged = cJSON_GetObjectItemCaseSensitive(md, "reasons") != NULL ||
               cJSON_GetObjectItemCaseSensitive(md, "flagged_input") != NULL ||
               cJSON_GetObjectItemCaseSensitive(md, "patterns") != NULL;
}

static int is(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

static int any_is(const struct err_info *i, const char *v) {
  return is(i->scode, v) || is(i->etype, v) || is(i->error_type, v);
}

static int mentions_model_not_found(const struct err_info *i) {
  const char *msg = i->msg;
  return any_is(i, "model_not_found") || strstr(msg, "model_not_found") ||
         (strcasestr(msg, "model") &&
          (strcasestr(msg, "not found") || strcasestr(msg, "does not exist") ||
           strcasestr(msg, "not a valid model") || strcasestr(msg, "invalid model")));
}

/* The documented meaning of an error (docs/providers.md, "Error bodies"). */
static enum pq_chat_reason classify(long status, const struct err_info *i) {
  long code = i->code ? i->code : status;
  /* No money, whatever the status says: OpenAI's 429 insufficient_quota,
   * Zhipu's 429 code 1113, DashScope's 400 Arrearage. */
  if (any_is(i, "insufficient_quota") || any_is(i, "Arrearage") || is(i->scode, "1113") ||
      any_is(i, "billing_hard_limit_reached") || any_is(i, "billing_not_active"))
    return PQ_REASON_NO_CREDIT;
  if (code == 401 || any_is(i, "invalid_api_key") || any_is(i, "authentication") ||
      any_is(i, "authentication_error"))
    return PQ_REASON_AUTH;
  if ((code == 400 || code == 404 || !code) && mentions_model_not_found(i))
    return PQ_REASON_UNKNOWN_MODEL;
  if (code == 402 || any_is(i, "payment_required")) {
    if (is(i->limit_source, "openrouter_in_flight_budget") ||
        is(i->mreason, "in_flight_budget_exhausted"))
      return PQ_REASON_INFLIGHT_BUDGET;
    if (is(i->mreason, "weight_exceeds_budget"))
      return PQ_REASON_WEIGHT_BUDGET;
    return PQ_REASON_NO_CREDIT;
  }
  /* Content of this paper: moderation or a guardrail on the input, a
   * provider's content policy (Zhipu 1301, DashScope DataInspectionFailed). */
  if (i->flagged || any_is(i, "content_policy_violation") || any_is(i, "refusal") ||
      any_is(i, "content_filter") || is(i->scode, "1301") || any_is(i, "DataInspectionFailed") ||
      (code == 403 && (strcasestr(i->msg, "moderation") || strcasestr(i->msg, "flagged"))))
    return PQ_REASON_CONTENT_FILTER;
  if (code == 403 || any_is(i, "permission_denied"))
    return PQ_REASON_KEY_LIMIT;
  if (code == 429 || any_is(i, "rate_limit_exceeded"))
    return PQ_REASON_RATE_LIMIT;
  if (any_is(i, "context_length_exceeded") || any_is(i, "max_tokens_exceeded") ||
      any_is(i, "token_limit_exceeded") || any_is(i, "string_too_long"))
    return PQ_REASON_LENGTH;
  if (code == 408 || code == 409 || code == 425 || code >= 500 ||
      any_is(i, "provider_overloaded") || any_is(i, "provider_unavailable") ||
      any_is(i, "timeout") || any_is(i, "server") || any_is(i, "unmapped") ||
      any_is(i, "server_error"))
    return PQ_REASON_SERVER;
  if (code == 404)
    return PQ_REASON_SERVER; /* without a model error: a proxy hiccup */
  if (code >= 400)
    return PQ_REASON_BAD_REQUEST;
  return PQ_REASON_SERVER; /* an error object with nothing to go by */
}

static void describe(struct pq_chat_result *r, const char *where, long status,
                     const struct err_info *i) {
  char extra[200] = "";
  size_t n = 0;
  if (i->code && i->code != status)
    n += (size_t)snprintf(extra + n, sizeof extra - n, " code=%ld", i->code);
  if (i->scode[0] && n < sizeof extra)
    n += (size_t)snprintf(extra + n, sizeof extra - n, " code=%s", i->scode);
  if (i->limit_source[0] && n < sizeof extra)
    n += (size_t)snprintf(extra + n, sizeof extra - n, " limit_source=%s", i->limit_source);
  if (i->mreason[0] && n < sizeof extra)
    n += (size_t)snprintf(extra + n, sizeof extra - n, " reason=%s", i->mreason);
  if (i->error_type[0] && n < sizeof extra)
    snprintf(extra + n, sizeof extra - n, " error_type=%s", i->error_type);
  snprintf(r->error, sizeof r->error, "%s%s%s%s [%s]", where, i->msg[0] ? ": " : "", i->msg, extra,
           pq_chat_reason_name(r->reason));
}

/* A token count from usage: absent or null is 0; *ok = 0 for a number out of
 * [0, PQ_CHAT_MAX_TOKENS] (checked before the cast: a double out of long's
 * range is undefined behaviour, and 9e18 tokens overflow every sum). */
static long usage_tokens(const cJSON *v, int *ok) {
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= PQ_CHAT_MAX_TOKENS)) {
    *ok = 0;
    return 0;
  }
  return (long)v->valuedouble;
}

/* Reads usage; returns 0 when a figure is absurd (issue 13: 9e18 tokens, a
 * cost of 1e300, negative numbers), and then keeps none of it. */
static int read_usage(const cJSON *root, struct pq_chat_result *r) {
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  if (!cJSON_IsObject(usage))
    return 1;
  int ok = 1;
  r->usage_reported = 1;
  r->prompt_tokens = usage_tokens(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens"), &ok);
  r->completion_tokens =
      usage_tokens(cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens"), &ok);
  r->reasoning_tokens = usage_tokens(
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens_details"), "reasoning_tokens"),
      &ok);
  r->cached_tokens = usage_tokens(
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"), "cached_tokens"),
      &ok);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, "cost");
  if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= PQ_CHAT_MAX_COST_USD)
    r->cost_usd = v->valuedouble;
  else if (v && !cJSON_IsNull(v))
    ok = 0;
  if (!ok) {
    r->usage_reported = 0;
    r->prompt_tokens = r->completion_tokens = r->reasoning_tokens = r->cached_tokens = 0;
    r->cost_usd = -1;
  }
  return ok;
}

static int blank(const char *s) {
  for (; s && *s; s++)
    if (!isspace((unsigned char)*s))
      return 0;
  return 1;
}

static void set(struct pq_chat_result *r, enum pq_chat_reason reason) {
  r->reason = reason;
  r->cls = class_of(reason);
}

void pq_chat_parse(long status, const char *body, size_t len, const char *curl_error,
                   struct pq_chat_result *r) {
  memset(r, 0, sizeof *r);
  r->cost_usd = -1;
  struct err_info ei;
  if (status == 0) {
    set(r, PQ_REASON_TRANSPORT);
    snprintf(r->error, sizeof r->error, "transport: %s", curl_error ? curl_error : "no response");
    pq_redact(r->error);
    return;
  }
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  int usage_ok = read_usage(root, r);
  copy_str(r->model, sizeof r->model, cJSON_GetObjectItemCaseSensitive(root, "model"));
  copy_str(r->provider, sizeof r->provider, cJSON_GetObjectItemCaseSensitive(root, "provider"));
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
  /* DashScope's native errors are {"code": "...", "message": "..."} at the top. */
  if (!err && !choices && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "code")))
    err = root;
  if (status < 200 || status >= 300) {
    char where[32];
    err_read(err, &ei);
    set(r, classify(status, &ei));
    snprintf(where, sizeof where, "http %ld", status);
    describe(r, where, status, &ei);
    goto cleanup;
  }
  if (!cJSON_IsObject(root)) {
    set(r, PQ_REASON_MALFORMED);
    snprintf(r->error, sizeof r->error, "malformed response: not JSON (%zu bytes)", len);
    goto cleanup;
  }
  if (!usage_ok) {
    set(r, PQ_REASON_MALFORMED);
    snprintf(r->error, sizeof r->error,
             "malformed response: usage out of range (negative, or more than %.0f tokens or $%.0f)",
             PQ_CHAT_MAX_TOKENS, PQ_CHAT_MAX_COST_USD);
    goto cleanup;
  }
  if (err) {
    /* OpenRouter: an error once the model started is reported in a 200 body;
     * its inner code says what it is. */
    err_read(err, &ei);
    set(r, classify(0, &ei));
    describe(r, "provider error in a 200 reply", 0, &ei);
    goto cleanup;
  }
  const cJSON *choice = cJSON_GetArrayItem(choices, 0);
  const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
  const cJSON *finish = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
  const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(message, "refusal");
  const cJSON *cerr = cJSON_GetObjectItemCaseSensitive(choice, "error");
  const cJSON *reasoning = cJSON_GetObjectItemCaseSensitive(message, "reasoning");
  if (!cJSON_IsString(reasoning))
    reasoning = cJSON_GetObjectItemCaseSensitive(message, "reasoning_content");
  int thought =
      r->reasoning_tokens > 0 || (cJSON_IsString(reasoning) && !blank(reasoning->valuestring));
  const char *text = cJSON_IsString(content) ? content->valuestring : NULL;
  copy_str(r->finish_reason, sizeof r->finish_reason, finish);
  const char *fr = r->finish_reason;
  if (!cJSON_IsObject(message)) {
    set(r, PQ_REASON_MALFORMED);
    snprintf(r->error, sizeof r->error, "malformed response: no choices[0].message");
  } else if (cerr || strcmp(fr, "error") == 0) {
    /* A partial answer: never stored. Its inner code may say more. */
    err_read(cerr, &ei);
    enum pq_chat_reason why = cerr ? classify(0, &ei) : PQ_REASON_PROVIDER_ERROR;
    if (why == PQ_REASON_SERVER || why == PQ_REASON_BAD_REQUEST)
      why = PQ_REASON_PROVIDER_ERROR;
    set(r, why);
    describe(r, "answer ended by a provider error (partial content discarded)", 0, &ei);
  } else if (cJSON_IsString(refusal) && !blank(refusal->valuestring)) {
    set(r, PQ_REASON_CONTENT_FILTER);
    snprintf(r->error, sizeof r->error, "the model refused: %.300s", refusal->valuestring);
  } else if (strcmp(fr, "content_filter") == 0) {
    set(r, PQ_REASON_CONTENT_FILTER);
    snprintf(r->error, sizeof r->error,
             "finish_reason content_filter: the provider's filter cut the answer");
  } else if (strcmp(fr, "length") == 0) {
    if (blank(text) && thought) {
      set(r, PQ_REASON_REASONING_ONLY);
      snprintf(r->error, sizeof r->error,
               "no answer: max_tokens was spent on reasoning (%ld reasoning tokens); lower the "
               "reasoning setting or raise max_tokens",
               r->reasoning_tokens);
    } else {
      set(r, PQ_REASON_LENGTH);
      snprintf(r->error, sizeof r->error,
               "finish_reason length: the answer was cut off at max_tokens (%ld tokens)",
               r->completion_tokens);
    }
  } else if (fr[0] && strcmp(fr, "stop") != 0) {
    set(r, PQ_REASON_PROVIDER_ERROR);
    snprintf(r->error, sizeof r->error, "unexpected finish_reason \"%s\": not a finished answer",
             fr);
  } else if (!text) {
    set(r, thought ? PQ_REASON_REASONING_ONLY : PQ_REASON_MALFORMED);
    snprintf(r->error, sizeof r->error, "%s",
             thought ? "no answer after reasoning (content is null)"
                     : "malformed response: no choices[0].message.content");
  } else if (blank(text) && thought) {
    set(r, PQ_REASON_REASONING_ONLY);
    snprintf(r->error, sizeof r->error,
             "empty answer after %ld reasoning tokens; lower the reasoning setting",
             r->reasoning_tokens);
  } else if (!(r->content = strdup(text))) {
    set(r, PQ_REASON_MALFORMED);
    snprintf(r->error, sizeof r->error, "out of memory");
  } else {
    set(r, PQ_REASON_NONE);
  }
cleanup:
  pq_redact(r->error);
  cJSON_Delete(root);
}

void pq_chat_result_free(struct pq_chat_result *r) {
  if (!r)
    return;
  free(r->content);
  r->content = NULL;
}

/* Copies a header value without leading spaces and the trailing CRLF. */
static void value_of(const char *v, size_t n, char *out, size_t outlen) {
  while (n && (*v == ' ' || *v == '\t')) {
    v++;
    n--;
  }
  while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
    n--;
  if (n >= outlen)
    n = outlen - 1;
  memcpy(out, v, n);
  out[n] = '\0';
}

static long retry_after_at(const char *value, int64_t now_ms) {
  double secs;
  if (pq_parse_double(value, 0, 86400, &secs) == PQ_OK)
    return (long)(secs * 1000);
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end)
    return -1;
  int64_t when = (int64_t)timegm(&tm) * 1000;
  long ms = (long)(when - now_ms);
  return ms < 0 ? 0 : ms > 86400000L ? 86400000L : ms;
}

long pq_chat_retry_after_ms(const char *value) {
  char tmp[64];
  if (!value)
    return -1;
  value_of(value, strlen(value), tmp, sizeof tmp);
  return retry_after_at(tmp, pq_now_ms());
}

long pq_chat_duration_ms(const char *v) {
  double total = 0;
  int any = 0;
  while (*v == ' ')
    v++;
  while (*v && *v != '\r' && *v != '\n') {
    char *end;
    double x = strtod(v, &end);
    if (end == v || !isfinite(x))
      return -1;
    v = end;
    if (strncmp(v, "ms", 2) == 0) {
      total += x;
      v += 2;
    } else if (*v == 'h') {
      total += x * 3600000;
      v++;
    } else if (*v == 'm') {
      total += x * 60000;
      v++;
    } else if (*v == 's') {
      total += x * 1000;
      v++;
    } else if (!*v || *v == '\r' || *v == '\n' || *v == ' ') {
      total += x * 1000; /* plain seconds */
    } else {
      return -1;
    }
    any = 1;
    while (*v == ' ')
      v++;
  }
  return any && total >= 0 && total < 864e5 ? (long)total : -1;
}

/* X-RateLimit-Reset: OpenRouter sends an epoch time in ms; others send
 * epoch seconds or a duration. */
static long reset_ms(const char *v, int64_t now_ms) {
  double x;
  if (pq_parse_double(v, 0, 1e15, &x) == PQ_OK) {
    if (x > 1e11) /* epoch milliseconds */
      return x - (double)now_ms < 0 ? 0 : (long)(x - (double)now_ms);
    if (x > 1e9) /* epoch seconds */
      return x * 1000 - (double)now_ms < 0 ? 0 : (long)(x * 1000 - (double)now_ms);
  }
  return pq_chat_duration_ms(v);
}

void pq_chat_hints_init(struct pq_chat_hints *h) {
  h->retry_after_ms = h->retry_after_ms_hdr = -1;
  h->limit_requests = h->remaining_requests = h->reset_requests_ms = -1;
  h->limit_tokens = h->remaining_tokens = h->reset_tokens_ms = -1;
  h->per_reply_window = 0;
}

static void set_count(long *dst, const char *v) {
  long n;
  if (pq_parse_long(v, 0, 1L << 40, &n) == PQ_OK)
    *dst = n;
}

void pq_chat_hints_header(struct pq_chat_hints *h, const char *line, size_t len, int64_t now_ms) {
  const char *colon = memchr(line, ':', len);
  char name[64], v[128];
  if (!colon || (size_t)(colon - line) >= sizeof name)
    return;
  memcpy(name, line, (size_t)(colon - line));
  name[colon - line] = '\0';
  value_of(colon + 1, len - (size_t)(colon - line) - 1, v, sizeof v);
  if (is(name, "retry-after")) {
    h->retry_after_ms = retry_after_at(v, now_ms);
  } else if (is(name, "retry-after-ms")) {
    double ms;
    if (pq_parse_double(v, 0, 864e5, &ms) == PQ_OK)
      h->retry_after_ms_hdr = (long)ms;
  } else if (is(name, "x-ratelimit-limit-requests") || is(name, "x-ratelimit-limit")) {
    set_count(&h->limit_requests, v);
  } else if (is(name, "x-ratelimit-remaining-requests") || is(name, "x-ratelimit-remaining")) {
    set_count(&h->remaining_requests, v);
    if (is(name, "x-ratelimit-remaining-requests"))
      h->per_reply_window = 1;
  } else if (is(name, "x-ratelimit-reset-requests")) {
    h->reset_requests_ms = pq_chat_duration_ms(v);
  } else if (is(name, "x-ratelimit-reset")) {
    h->reset_requests_ms = reset_ms(v, now_ms);
  } else if (is(name, "x-ratelimit-limit-tokens")) {
    set_count(&h->limit_tokens, v);
  } else if (is(name, "x-ratelimit-remaining-tokens")) {
    set_count(&h->remaining_tokens, v);
  } else if (is(name, "x-ratelimit-reset-tokens")) {
    h->reset_tokens_ms = pq_chat_duration_ms(v);
  }
}

long pq_chat_hints_wait_ms(const struct pq_chat_hints *h) {
  if (h->retry_after_ms_hdr >= 0)
    return h->retry_after_ms_hdr;
  if (h->retry_after_ms >= 0)
    return h->retry_after_ms;
  long wait = -1;
  if (h->remaining_requests == 0 && h->reset_requests_ms >= 0)
    wait = h->reset_requests_ms;
  if (h->remaining_tokens == 0 && h->reset_tokens_ms > wait)
    wait = h->reset_tokens_ms;
  return wait;
}

long pq_chat_estimate_prompt_tokens(size_t body_bytes) {
  return body_bytes / 3 > 0 ? (long)(body_bytes / 3) : 1;
}

long pq_chat_request_tokens(const char *body) {
  cJSON *j = cJSON_Parse(body);
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages"), *m;
  size_t text = 0;
  double cap = 0;
  if (!cJSON_IsArray(msgs)) {
    cJSON_Delete(j);
    return pq_chat_estimate_prompt_tokens(strlen(body));
  }
  cJSON_ArrayForEach(m, msgs) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (cJSON_IsString(c))
      text += strlen(c->valuestring);
  }
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
  if (!cJSON_IsNumber(mt))
    mt = cJSON_GetObjectItemCaseSensitive(j, "max_completion_tokens");
  if (cJSON_IsNumber(mt) && mt->valuedouble > 0 && mt->valuedouble < PQ_CHAT_MAX_TOKENS)
    cap = mt->valuedouble;
  cJSON_Delete(j);
  return pq_chat_estimate_prompt_tokens(text) + (long)cap;
}

long pq_chat_pause_ms(long retry_after_ms) {
  return retry_after_ms >= 0 ? retry_after_ms : PQ_CHAT_DEFAULT_PAUSE_MS;
}
