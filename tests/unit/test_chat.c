/* Chat request/response handling: what a reply means for the paper and the
 * fleet (retry, park, stop), and usage extraction. */
#include "paperq/chat.h"
#include "paperq/redact.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static enum pq_err_class parse_class(long status, const char *body, char *err, size_t errlen) {
  struct pq_chat_result r;
  pq_chat_parse(status, body, body ? strlen(body) : 0, "Connection reset by peer", &r);
  snprintf(err, errlen, "%s", r.error);
  enum pq_err_class c = r.cls;
  pq_chat_result_free(&r);
  return c;
}

/* Every documented provider behaviour and what paperq makes of it. The id
 * names the row of the table in docs/providers.md; check_docs_table holds
 * the two to each other. Bodies follow the providers' documentation. */
struct tcase {
  const char *id;
  long status;
  const char *body;
  enum pq_err_class cls;
  enum pq_chat_reason reason;
};

static const struct tcase cases[] = {
    {"ok-stop", 200,
     "{\"choices\":[{\"message\":{\"content\":\"Hello\"},\"finish_reason\":\"stop\"}]}",
     PQ_CLASS_OK, PQ_REASON_NONE},
    {"finish-length", 200,
     "{\"choices\":[{\"message\":{\"content\":\"Hel\"},\"finish_reason\":\"length\"}]}",
     PQ_CLASS_TRANSIENT, PQ_REASON_LENGTH},
    {"finish-error", 200,
     "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"partial output...\"},"
     "\"finish_reason\":\"error\",\"error\":{\"code\":502,\"message\":\"Provider disconnected "
     "mid-stream\",\"metadata\":{\"error_type\":\"provider_unavailable\"}}}]}",
     PQ_CLASS_TRANSIENT, PQ_REASON_PROVIDER_ERROR},
    {"finish-error-bare", 200,
     "{\"choices\":[{\"message\":{\"content\":\"partial\"},\"finish_reason\":\"error\"}]}",
     PQ_CLASS_TRANSIENT, PQ_REASON_PROVIDER_ERROR},
    {"choice-error-429", 200,
     "{\"choices\":[{\"message\":{\"content\":\"part\"},\"finish_reason\":\"error\",\"error\":{"
     "\"code\":429,\"message\":\"Rate limit exceeded\"}}]}",
     PQ_CLASS_RATE, PQ_REASON_RATE_LIMIT},
    {"content-filter", 200,
     "{\"choices\":[{\"message\":{\"content\":\"The study of\"},\"finish_reason\":"
     "\"content_filter\"}]}",
     PQ_CLASS_PERMANENT, PQ_REASON_CONTENT_FILTER},
    {"refusal", 200,
     "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't help with that.\"},"
     "\"finish_reason\":\"stop\"}]}",
     PQ_CLASS_PERMANENT, PQ_REASON_CONTENT_FILTER},
    {"reasoning-only", 200,
     "{\"choices\":[{\"message\":{\"content\":\"\",\"reasoning\":\"Let me think\"},"
     "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":900,\"completion_tokens\":512,"
     "\"completion_tokens_details\":{\"reasoning_tokens\":512}}}",
     PQ_CLASS_TRANSIENT, PQ_REASON_REASONING_ONLY},
    {"error-in-200", 200,
     "{\"error\":{\"code\":503,\"message\":\"provider overloaded\",\"metadata\":{\"error_type\":"
     "\"provider_overloaded\"}}}",
     PQ_CLASS_TRANSIENT, PQ_REASON_SERVER},
    {"error-in-200-402-inflight", 200,
     "{\"error\":{\"code\":402,\"message\":\"in flight\",\"metadata\":{\"reason\":"
     "\"in_flight_budget_exhausted\",\"limit_source\":\"openrouter_in_flight_budget\"}}}",
     PQ_CLASS_RATE, PQ_REASON_INFLIGHT_BUDGET},
    {"error-in-200-401", 200, "{\"error\":{\"code\":401,\"message\":\"Invalid credentials\"}}",
     PQ_CLASS_FATAL, PQ_REASON_AUTH},
    {"402-inflight", 402,
     "{\"error\":{\"code\":402,\"message\":\"This request would exceed your available credits "
     "given your current in-flight requests.\",\"metadata\":{\"reason\":\"in_flight_budget_"
     "exhausted\",\"limit_source\":\"openrouter_in_flight_budget\",\"remedy_hint\":\"Retry "
     "after\"}}}",
     PQ_CLASS_RATE, PQ_REASON_INFLIGHT_BUDGET},
    {"402-weight", 402,
     "{\"error\":{\"code\":402,\"message\":\"too expensive\",\"metadata\":{\"reason\":"
     "\"weight_exceeds_budget\",\"limit_source\":\"openrouter_credits\"}}}",
     PQ_CLASS_PERMANENT, PQ_REASON_WEIGHT_BUDGET},
    {"402-credits", 402,
     "{\"error\":{\"code\":402,\"message\":\"Insufficient credits\",\"metadata\":{"
     "\"limit_source\":\"openrouter_credits\"}}}",
     PQ_CLASS_FATAL, PQ_REASON_NO_CREDIT},
    {"402-key-limit", 402,
     "{\"error\":{\"code\":402,\"message\":\"Key limit exceeded\",\"metadata\":{"
     "\"limit_source\":\"openrouter_key_limit\"}}}",
     PQ_CLASS_FATAL, PQ_REASON_NO_CREDIT},
    {"401", 401,
     "{\"error\":{\"message\":\"Invalid API key\",\"type\":\"invalid_request_error\","
     "\"code\":\"invalid_api_key\"}}",
     PQ_CLASS_FATAL, PQ_REASON_AUTH},
    {"403-key-limit", 403, "{\"error\":{\"code\":403,\"message\":\"Key limit exceeded\"}}",
     PQ_CLASS_FATAL, PQ_REASON_KEY_LIMIT},
    {"403-moderation", 403,
     "{\"error\":{\"code\":403,\"message\":\"Input was flagged\",\"metadata\":{\"reasons\":["
     "\"violence\"],\"flagged_input\":\"...\",\"provider_name\":\"OpenAI\",\"model_slug\":\"m\"}}}",
     PQ_CLASS_PERMANENT, PQ_REASON_CONTENT_FILTER},
    {"403-guardrail", 403,
     "{\"error\":{\"code\":403,\"message\":\"Request blocked: prompt injection patterns "
     "detected\",\"metadata\":{\"patterns\":[\"ignore all previous instructions\"]}}}",
     PQ_CLASS_PERMANENT, PQ_REASON_CONTENT_FILTER},
    {"404-model", 404,
     "{\"error\":{\"message\":\"The model `x` does not exist\",\"code\":\"model_not_found\"}}",
     PQ_CLASS_FATAL, PQ_REASON_UNKNOWN_MODEL},
    {"429", 429,
     "{\"error\":{\"code\":429,\"message\":\"Rate limit exceeded\",\"metadata\":{\"error_type\":"
     "\"rate_limit_exceeded\"}}}",
     PQ_CLASS_RATE, PQ_REASON_RATE_LIMIT},
    {"429-insufficient-quota", 429,
     "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":\"insufficient_quota\","
     "\"code\":\"insufficient_quota\"}}",
     PQ_CLASS_FATAL, PQ_REASON_NO_CREDIT},
    {"408", 408, "{\"error\":{\"code\":408,\"message\":\"Your request timed out\"}}",
     PQ_CLASS_TRANSIENT, PQ_REASON_SERVER},
    {"502", 502, "{\"error\":{\"code\":502,\"message\":\"model is down\"}}", PQ_CLASS_TRANSIENT,
     PQ_REASON_SERVER},
    {"503", 503, "{\"error\":{\"code\":503,\"message\":\"no provider\"}}", PQ_CLASS_TRANSIENT,
     PQ_REASON_SERVER},
    {"524", 524, "<html>A timeout occurred</html>", PQ_CLASS_TRANSIENT, PQ_REASON_SERVER},
    {"529", 529, "{\"error\":{\"message\":\"Overloaded\"}}", PQ_CLASS_TRANSIENT, PQ_REASON_SERVER},
    {"400-context", 400,
     "{\"error\":{\"code\":400,\"message\":\"too long\",\"metadata\":{\"error_type\":"
     "\"context_length_exceeded\"}}}",
     PQ_CLASS_TRANSIENT, PQ_REASON_LENGTH},
    {"400", 400, "{\"error\":{\"code\":400,\"message\":\"invalid params\"}}", PQ_CLASS_PERMANENT,
     PQ_REASON_BAD_REQUEST},
    {"zai-1113", 429, "{\"error\":{\"code\":\"1113\",\"message\":\"account in arrears\"}}",
     PQ_CLASS_FATAL, PQ_REASON_NO_CREDIT},
    {"zai-1301", 400, "{\"error\":{\"code\":\"1301\",\"message\":\"unsafe content\"}}",
     PQ_CLASS_PERMANENT, PQ_REASON_CONTENT_FILTER},
    {"dashscope-arrearage", 400,
     "{\"code\":\"Arrearage\",\"message\":\"Access denied, please make sure your account is in "
     "good standing.\",\"request_id\":\"x\"}",
     PQ_CLASS_FATAL, PQ_REASON_NO_CREDIT},
    {"dashscope-inspection", 400,
     "{\"code\":\"DataInspectionFailed\",\"message\":\"Input data may contain inappropriate "
     "content.\",\"request_id\":\"x\"}",
     PQ_CLASS_PERMANENT, PQ_REASON_CONTENT_FILTER},
    {"leading-blank-lines", 200,
     "\n\n\n{\"choices\":[{\"message\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}",
     PQ_CLASS_OK, PQ_REASON_NONE},
    {"transport", 0, NULL, PQ_CLASS_TRANSIENT, PQ_REASON_TRANSPORT},
    {"malformed", 200, "{\"id\": \"x\", \"choices\": [{\"message\": <html>", PQ_CLASS_TRANSIENT,
     PQ_REASON_MALFORMED},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void check_table(void) {
  for (size_t i = 0; i < NCASES; i++) {
    const struct tcase *c = &cases[i];
    struct pq_chat_result r;
    pq_chat_parse(c->status, c->body, c->body ? strlen(c->body) : 0, "timed out", &r);
    if (r.cls != c->cls || r.reason != c->reason)
      fprintf(stderr, "case %s: got %s/%s, want %s/%s (%s)\n", c->id, pq_err_class_name(r.cls),
              pq_chat_reason_name(r.reason), pq_err_class_name(c->cls),
              pq_chat_reason_name(c->reason), r.error);
    CHECK(r.cls == c->cls && r.reason == c->reason);
    /* Only a finished answer carries content: a partial one is never stored. */
    CHECK((r.cls == PQ_CLASS_OK) == (r.content != NULL));
    CHECK(r.cls == PQ_CLASS_OK || r.error[0]);
    pq_chat_result_free(&r);
  }
  /* Usage and provider are read from failed replies too (they are billed). */
  const char *filtered = "{\"provider\":\"Chutes\",\"choices\":[{\"message\":{\"content\":\"x\"},"
                         "\"finish_reason\":\"content_filter\"}],\"usage\":{\"prompt_tokens\":"
                         "300,\"completion_tokens\":20,\"cost\":0.00042,"
                         "\"prompt_tokens_details\":{\"cached_tokens\":100}}}";
  struct pq_chat_result r;
  pq_chat_parse(200, filtered, strlen(filtered), NULL, &r);
  CHECK(r.usage_reported && r.prompt_tokens == 300 && r.completion_tokens == 20);
  CHECK(r.cost_usd > 0.00041 && r.cost_usd < 0.00043 && r.cached_tokens == 100);
  CHECK_STR(r.provider, "Chutes");
  pq_chat_result_free(&r);
  /* A provider echoing the Authorization header: the key never leaves. */
  pq_redact_add_secret("my-secret-key-123");
  const char *echo = "{\"error\":{\"message\":\"Invalid header Authorization: Bearer "
                     "my-secret-key-123 (also sk-or-v1-abcdef0123456789)\"}}";
  pq_chat_parse(401, echo, strlen(echo), NULL, &r);
  CHECK(r.cls == PQ_CLASS_FATAL);
  CHECK(!strstr(r.error, "my-secret-key-123") && !strstr(r.error, "abcdef0123456789"));
  CHECK(strstr(r.error, "Invalid header") != NULL);
  pq_chat_result_free(&r);
}

/* docs/providers.md lists every case above, with the same class and reason,
 * and nothing else. */
static void check_docs_table(void) {
  const char *src = getenv("PQ_SOURCE_DIR");
  char path[1024], *text = NULL;
  size_t len;
  snprintf(path, sizeof path, "%s/docs/providers.md", src ? src : ".");
  CHECK(pq_read_file(path, 1 << 20, &text, &len) == 0);
  if (!text)
    return;
  size_t rows = 0;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    /* | `id` | behaviour | source | class | reason | what happens | tests | */
    char f[8][64];
    int nf = 0;
    if (strncmp(line, "| `", 3) == 0) {
      for (char *p = line + 1; *p && nf < 8;) {
        char *bar = strchr(p, '|');
        if (!bar)
          break;
        char *a = p, *e = bar;
        while (a < e && (*a == ' ' || *a == '`'))
          a++;
        while (e > a && (e[-1] == ' ' || e[-1] == '`'))
          e--;
        snprintf(f[nf++], sizeof f[0], "%.*s", (int)(e - a), a);
        p = bar + 1;
      }
    }
    line = nl ? nl + 1 : NULL;
    if (nf < 7)
      continue;
    rows++;
    const struct tcase *c = NULL;
    for (size_t i = 0; i < NCASES && !c; i++)
      if (strcmp(cases[i].id, f[0]) == 0)
        c = &cases[i];
    int ok = c && strcmp(f[3], pq_err_class_name(c->cls)) == 0 &&
             strcmp(f[4], pq_chat_reason_name(c->reason)) == 0;
    if (!ok)
      fprintf(stderr, "docs/providers.md row %s (%s, %s) does not match a tested case\n", f[0],
              f[3], f[4]);
    CHECK(ok);
  }
  if (rows != NCASES)
    fprintf(stderr, "docs/providers.md has %zu rows, the test %zu cases\n", rows, NCASES);
  CHECK(rows == NCASES);
  free(text);
}

static void hdr(struct pq_chat_hints *h, const char *line, int64_t now) {
  pq_chat_hints_header(h, line, strlen(line), now);
}

static void check_hints(void) {
  struct pq_chat_hints h;
  int64_t now = 1764750000000; /* 2025-12-03T08:20:00Z */
  pq_chat_hints_init(&h);
  CHECK(pq_chat_hints_wait_ms(&h) == -1);
  hdr(&h, "Retry-After: 7\r\n", now);
  CHECK(pq_chat_hints_wait_ms(&h) == 7000);
  /* retry-after-ms wins over Retry-After (OpenAI) */
  hdr(&h, "retry-after-ms: 250\r\n", now);
  CHECK(pq_chat_hints_wait_ms(&h) == 250);
  /* an HTTP date, 30 s after now */
  pq_chat_hints_init(&h);
  hdr(&h, "retry-after: Wed, 03 Dec 2025 08:20:30 GMT\r\n", now);
  CHECK(h.retry_after_ms == 30000);
  /* OpenRouter's 429: X-RateLimit-* with the reset in epoch ms, no Retry-After */
  pq_chat_hints_init(&h);
  hdr(&h, "X-RateLimit-Limit: 20\r\n", now);
  hdr(&h, "X-RateLimit-Remaining: 0\r\n", now);
  hdr(&h, "X-RateLimit-Reset: 1764750004500\r\n", now);
  CHECK(h.limit_requests == 20 && h.remaining_requests == 0 && h.reset_requests_ms == 4500);
  CHECK(pq_chat_hints_wait_ms(&h) == 4500);
  CHECK(!h.per_reply_window); /* the limit hit, not a window to pace by */
  /* OpenAI: requests and tokens, durations */
  pq_chat_hints_init(&h);
  hdr(&h, "x-ratelimit-limit-requests: 500\r\n", now);
  hdr(&h, "x-ratelimit-remaining-requests: 499\r\n", now);
  hdr(&h, "x-ratelimit-reset-requests: 120ms\r\n", now);
  hdr(&h, "x-ratelimit-limit-tokens: 30000\r\n", now);
  hdr(&h, "x-ratelimit-remaining-tokens: 0\r\n", now);
  hdr(&h, "x-ratelimit-reset-tokens: 6m0s\r\n", now);
  CHECK(h.limit_requests == 500 && h.remaining_requests == 499 && h.reset_requests_ms == 120);
  CHECK(h.per_reply_window);
  CHECK(h.limit_tokens == 30000 && h.remaining_tokens == 0 && h.reset_tokens_ms == 360000);
  CHECK(pq_chat_hints_wait_ms(&h) == 360000);
  /* unreadable values are ignored, never a crash */
  hdr(&h, "Retry-After: soon\r\n", now);
  hdr(&h, "x-ratelimit-remaining-requests: lots\r\n", now);
  hdr(&h, "no colon here", now);
  CHECK(h.retry_after_ms == -1 && h.remaining_requests == 499);
  CHECK(pq_chat_duration_ms("1h2m3.5s") == 3723500 && pq_chat_duration_ms("x") == -1);
}

static void check_build(void) {
  char err[256];
  struct pq_chat_req q = {"z-ai/glm-4.6",
                          "rubric",
                          "judge this",
                          1024,
                          0.0,
                          "off",
                          "{\"provider\":{\"order\":[\"DeepInfra\"],\"quantizations\":[\"fp8\"]},"
                          "\"model\":\"ignored\",\"temperature\":0.1}"};
  char *body = pq_chat_build(&q);
  cJSON *j = cJSON_Parse(body);
  CHECK_STR(cJSON_GetObjectItem(j, "model")->valuestring, "z-ai/glm-4.6");
  CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "reasoning"), "effort")->valuestring,
            "none");
  CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "provider"), "order"), 0)
                ->valuestring,
            "DeepInfra");
  CHECK(cJSON_GetObjectItem(j, "temperature")->valuedouble == 0.1);
  cJSON_Delete(j);
  free(body);
  q.reasoning = "2000";
  q.extra_body = NULL;
  body = pq_chat_build(&q);
  j = cJSON_Parse(body);
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "reasoning"), "max_tokens")->valueint == 2000);
  cJSON_Delete(j);
  free(body);
  q.reasoning = "openai:low";
  body = pq_chat_build(&q);
  j = cJSON_Parse(body);
  CHECK_STR(cJSON_GetObjectItem(j, "reasoning_effort")->valuestring, "low");
  CHECK(!cJSON_GetObjectItem(j, "reasoning"));
  cJSON_Delete(j);
  free(body);
  /* What it counts against tokens per minute: the messages' text at 3
   * bytes a token ("rubric" + "judge this" = 16 bytes: 5) plus max_tokens,
   * not the reasoning budget's max_tokens nested in "reasoning". */
  q.reasoning = "2000";
  body = pq_chat_build(&q);
  CHECK(pq_chat_request_tokens(body) == 5 + 1024);
  free(body);
  CHECK(pq_chat_request_tokens("not json at all") == 5);
  q.reasoning = "";
  q.extra_body = "[1,2]"; /* not an object: refused */
  CHECK(pq_chat_build(&q) == NULL);
  CHECK(pq_chat_reasoning_check("medium", err, sizeof err) == 0);
  CHECK(pq_chat_reasoning_check("lots", err, sizeof err) != 0 && strstr(err, "lots"));
}

int main(void) {
  char err[600];
  /* Request: model, system then user message, limits. */
  char *req = pq_chat_request("m1", "rules", "你好 $x^2$", 100, 0.2);
  cJSON *j = cJSON_Parse(req);
  CHECK_STR(cJSON_GetObjectItem(j, "model")->valuestring, "m1");
  cJSON *msgs = cJSON_GetObjectItem(j, "messages");
  CHECK(cJSON_GetArraySize(msgs) == 2);
  CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "role")->valuestring, "system");
  CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring, "你好 $x^2$");
  CHECK(cJSON_GetObjectItem(j, "max_tokens")->valueint == 100);
  cJSON_Delete(j);
  free(req);

  /* A good reply. */
  const char *ok =
      "{\"model\":\"m1\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
      "\"Hello $x^2$\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
      "\"completion_tokens\":5,\"cost\":0.0001}}";
  struct pq_chat_result r;
  pq_chat_parse(200, ok, strlen(ok), NULL, &r);
  CHECK(r.cls == PQ_CLASS_OK);
  CHECK_STR(r.content, "Hello $x^2$");
  CHECK_STR(r.finish_reason, "stop");
  CHECK(r.prompt_tokens == 12 && r.completion_tokens == 5);
  CHECK(r.cost_usd > 0.00009 && r.cost_usd < 0.00011);
  pq_chat_result_free(&r);

  /* Truncated reply: never a finished answer; the usage is still read. */
  const char *trunc =
      "{\"choices\":[{\"message\":{\"content\":\"Hel\"},\"finish_reason\":\"length\"}],"
      "\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":100}}";
  pq_chat_parse(200, trunc, strlen(trunc), NULL, &r);
  CHECK(r.cls == PQ_CLASS_TRANSIENT && r.reason == PQ_REASON_LENGTH && !r.content);
  CHECK(r.usage_reported && r.prompt_tokens == 40 && r.completion_tokens == 100 && r.cost_usd < 0);
  pq_chat_result_free(&r);

  /* Classification: the fleet stops on 401/402/403/unknown model ... */
  CHECK(parse_class(401,
                    "{\"error\":{\"message\":\"Invalid API key\",\"code\":\"invalid_api_key\"}}",
                    err, sizeof err) == PQ_CLASS_FATAL);
  CHECK(strstr(err, "401") && strstr(err, "Invalid API key"));
  CHECK(parse_class(402, "{\"error\":{\"message\":\"Insufficient credits\"}}", err, sizeof err) ==
        PQ_CLASS_FATAL);
  CHECK(parse_class(403, NULL, err, sizeof err) == PQ_CLASS_FATAL);
  CHECK(parse_class(
            404,
            "{\"error\":{\"message\":\"The model x does not exist\",\"code\":\"model_not_found\"}}",
            err, sizeof err) == PQ_CLASS_FATAL);
  CHECK(parse_class(400, "{\"error\":{\"message\":\"m is not a valid model ID\"}}", err,
                    sizeof err) == PQ_CLASS_FATAL);
  /* ... a paper parks on a plain 400 ... */
  CHECK(parse_class(400, "{\"error\":{\"message\":\"bad parameter\"}}", err, sizeof err) ==
        PQ_CLASS_PERMANENT);
  CHECK(strstr(err, "400") != NULL);
  /* ... and everything else is retried later. */
  CHECK(parse_class(429, "{}", err, sizeof err) == PQ_CLASS_RATE);
  CHECK(parse_class(500, "oops", err, sizeof err) == PQ_CLASS_TRANSIENT);
  CHECK(parse_class(503, NULL, err, sizeof err) == PQ_CLASS_TRANSIENT);
  CHECK(parse_class(0, NULL, err, sizeof err) == PQ_CLASS_TRANSIENT);
  CHECK(strstr(err, "reset") != NULL);
  CHECK(parse_class(200, "{not json", err, sizeof err) == PQ_CLASS_TRANSIENT);
  CHECK(strstr(err, "malformed") != NULL);
  CHECK(parse_class(200, "{\"choices\":[]}", err, sizeof err) == PQ_CLASS_TRANSIENT);
  CHECK(parse_class(200, "{\"error\":{\"message\":\"upstream overloaded\"}}", err, sizeof err) ==
        PQ_CLASS_TRANSIENT);

  /* Retry-After: seconds or an HTTP date. */
  CHECK(pq_chat_retry_after_ms("2") == 2000);
  CHECK(pq_chat_retry_after_ms(" 0.5\r\n") == 500);
  CHECK(pq_chat_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT") == 0); /* in the past */
  CHECK(pq_chat_retry_after_ms("soon") == -1);
  CHECK(pq_chat_retry_after_ms(NULL) == -1);
  check_table();
  check_docs_table();
  check_hints();
  check_build();
  TEST_MAIN_END();
}
