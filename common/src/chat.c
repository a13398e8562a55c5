/* Chat-completions request/response handling and error classification.
 * The classification decides whether a paper is retried, parked, or the
 * whole worker stops: a wrong key must never burn papers. */
#include "paperq/chat.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

char *pq_chat_request(const char *model, const char *system, const char *user, int max_tokens,
                      double temperature) {
  cJSON *root = cJSON_CreateObject();
  char *out = NULL;
  if (!root)
    return NULL;
  cJSON *msgs = NULL, *m = NULL;
  if (!cJSON_AddStringToObject(root, "model", model) ||
      !(msgs = cJSON_AddArrayToObject(root, "messages")))
    goto cleanup;
  if (system && system[0]) {
    if (!(m = cJSON_CreateObject()))
      goto cleanup;
    cJSON_AddItemToArray(msgs, m);
    if (!cJSON_AddStringToObject(m, "role", "system") ||
        !cJSON_AddStringToObject(m, "content", system))
      goto cleanup;
  }
  if (!(m = cJSON_CreateObject()))
    goto cleanup;
  cJSON_AddItemToArray(msgs, m);
  if (!cJSON_AddStringToObject(m, "role", "user") || !cJSON_AddStringToObject(m, "content", user) ||
      !cJSON_AddNumberToObject(root, "max_tokens", max_tokens) ||
      !cJSON_AddNumberToObject(root, "temperature", temperature))
    goto cleanup;
  out = cJSON_PrintUnformatted(root);
cleanup:
  cJSON_Delete(root);
  return out;
}

/* Pulls error.message / error.code out of an OpenAI-style error body. */
static void error_detail(const cJSON *root, char *msg, size_t msglen, char *code, size_t codelen) {
  msg[0] = code[0] = '\0';
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  if (cJSON_IsString(e)) {
    snprintf(msg, msglen, "%s", e->valuestring);
    return;
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  if (cJSON_IsString(m))
    snprintf(msg, msglen, "%s", m->valuestring);
  if (cJSON_IsString(c))
    snprintf(code, codelen, "%s", c->valuestring);
  else if (cJSON_IsNumber(c))
    snprintf(code, codelen, "%d", c->valueint);
}

static int mentions_model_not_found(const char *msg, const char *code) {
  return strstr(code, "model_not_found") || strstr(msg, "model_not_found") ||
         (strstr(msg, "model") &&
          (strstr(msg, "not found") || strstr(msg, "does not exist") ||
           strstr(msg, "not a valid model") || strstr(msg, "invalid model")));
}

static enum pq_err_class classify_status(long status, const char *msg, const char *code) {
  if (status == 401 || status == 402 || status == 403)
    return PQ_CLASS_FATAL;
  if ((status == 404 || status == 400) && mentions_model_not_found(msg, code))
    return PQ_CLASS_FATAL;
  if (status == 429)
    return PQ_CLASS_RATE;
  if (status == 408 || status == 409 || status == 425 || status >= 500 || status == 404)
    return PQ_CLASS_TRANSIENT; /* 404 without a model error: a proxy hiccup */
  if (status >= 400)
    return PQ_CLASS_PERMANENT;
  return PQ_CLASS_TRANSIENT;
}

/* A usage figure: absent/null is fine, else a number in [0, max]. */
static int usage_ok(const cJSON *v, double max) {
  return cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max);
}

void pq_chat_parse(long status, const char *body, size_t len, const char *curl_error,
                   struct pq_chat_result *r) {
  memset(r, 0, sizeof *r);
  r->cost_usd = -1;
  if (status == 0) {
    r->cls = PQ_CLASS_TRANSIENT;
    snprintf(r->error, sizeof r->error, "transport: %s", curl_error ? curl_error : "no response");
    return;
  }
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  if (status < 200 || status >= 300) {
    char msg[300], code[64];
    error_detail(root, msg, sizeof msg, code, sizeof code);
    r->cls = classify_status(status, msg, code);
    snprintf(r->error, sizeof r->error, "http %ld%s%s%s%s", status, msg[0] ? ": " : "", msg,
             code[0] ? " code=" : "", code);
    cJSON_Delete(root);
    return;
  }
  r->cls = PQ_CLASS_TRANSIENT; /* until the body proves otherwise */
  if (!cJSON_IsObject(root)) {
    snprintf(r->error, sizeof r->error, "malformed response: not JSON (%zu bytes)", len);
    goto cleanup;
  }
  if (cJSON_GetObjectItemCaseSensitive(root, "error")) {
    /* Some providers answer 200 with an error object. */
    char msg[300], code[64];
    error_detail(root, msg, sizeof msg, code, sizeof code);
    r->cls = mentions_model_not_found(msg, code) ? PQ_CLASS_FATAL : PQ_CLASS_TRANSIENT;
    snprintf(r->error, sizeof r->error, "provider error in a 200 reply: %s", msg);
    goto cleanup;
  }
  const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
  const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
  const cJSON *finish = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
  if (!cJSON_IsString(content)) {
    snprintf(r->error, sizeof r->error, "malformed response: no choices[0].message.content");
    goto cleanup;
  }
  if (cJSON_IsString(finish))
    snprintf(r->finish_reason, sizeof r->finish_reason, "%s", finish->valuestring);
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (cJSON_IsString(model))
    snprintf(r->model, sizeof r->model, "%s", model->valuestring);
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(usage, "cost");
  /* Absurd usage (9e18 tokens, a cost of 1e300, negative numbers) is a
   * broken reply, checked before any cast or sum (issue 13). */
  if ((pt && !usage_ok(pt, PQ_CHAT_MAX_TOKENS)) || (ct && !usage_ok(ct, PQ_CHAT_MAX_TOKENS)) ||
      (cost && !usage_ok(cost, PQ_CHAT_MAX_COST_USD))) {
    snprintf(r->error, sizeof r->error, "malformed response: usage out of range");
    goto cleanup;
  }
  r->prompt_tokens = cJSON_IsNumber(pt) ? (long)pt->valuedouble : 0;
  r->completion_tokens = cJSON_IsNumber(ct) ? (long)ct->valuedouble : 0;
  if (cJSON_IsNumber(cost))
    r->cost_usd = cost->valuedouble;
  r->content = strdup(content->valuestring);
  if (!r->content) {
    snprintf(r->error, sizeof r->error, "out of memory");
    goto cleanup;
  }
  r->cls = PQ_CLASS_OK;
cleanup:
  cJSON_Delete(root);
}

void pq_chat_result_free(struct pq_chat_result *r) {
  if (!r)
    return;
  free(r->content);
  r->content = NULL;
}

long pq_chat_retry_after_ms(const char *value) {
  if (!value)
    return -1;
  while (*value == ' ')
    value++;
  double secs;
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s", value);
  size_t n = strlen(tmp);
  while (n && (tmp[n - 1] == '\r' || tmp[n - 1] == '\n' || tmp[n - 1] == ' '))
    tmp[--n] = '\0';
  if (pq_parse_double(tmp, 0, 86400, &secs) == PQ_OK)
    return (long)(secs * 1000);
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end)
    return -1;
  time_t when = timegm(&tm);
  long ms = (long)(when - time(NULL)) * 1000;
  return ms < 0 ? 0 : ms;
}
