/* Chat request/response handling: what a reply means for the paper and the
 * fleet (retry, park, stop), and usage extraction. */
#include "paperq/chat.h"
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

  /* Truncated reply: parsed, finish_reason says so (the checks reject it). */
  const char *trunc =
      "{\"choices\":[{\"message\":{\"content\":\"Hel\"},\"finish_reason\":\"length\"}]}";
  pq_chat_parse(200, trunc, strlen(trunc), NULL, &r);
  CHECK(r.cls == PQ_CLASS_OK && strcmp(r.finish_reason, "length") == 0 && r.cost_usd < 0);
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
  CHECK(parse_class(400, "{\"error\":{\"message\":\"context too long\"}}", err, sizeof err) ==
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
  TEST_MAIN_END();
}
