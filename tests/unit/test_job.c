/* Job and event messages: what the producer encodes the worker decodes, and
 * bad bodies are rejected with a reason instead of crashing. */
#include "paperq/event.h"
#include "paperq/job.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <stdlib.h>
#include <string.h>

int main(void) {
  cJSON *rec = cJSON_Parse("{\"id\":\"p-1\",\"title\":\"标题 $x$\",\"abstract\":\"摘要\"}");
  cJSON *done = cJSON_Parse("{\"title\":\"Title $x$\"}");
  size_t len;
  char *body = pq_job_encode(rec, 2, done, &len);
  CHECK(body && len == strlen(body));
  struct pq_job job;
  char err[256];
  CHECK(pq_job_decode(body, len, &job, err, sizeof err) == PQ_OK);
  CHECK_STR(job.paper_id, "p-1");
  CHECK(job.gen == 2);
  CHECK_STR(cJSON_GetObjectItem(job.record, "title")->valuestring, "标题 $x$");
  CHECK(job.done && strcmp(cJSON_GetObjectItem(job.done, "title")->valuestring, "Title $x$") == 0);
  pq_job_free(&job);
  free(body);
  /* the record given to encode is untouched and still owned by the caller */
  CHECK_STR(cJSON_GetObjectItem(rec, "id")->valuestring, "p-1");

  CHECK(pq_job_decode("nope", 4, &job, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "not a JSON object") != NULL);
  CHECK(pq_job_decode("{\"record\":{}}", 13, &job, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "paper_id") != NULL);
  CHECK(pq_job_decode("{\"paper_id\":\"x\"}", 16, &job, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "record") != NULL);
  /* v: absent or 1 (older producers wrote it too); any other value is a
   * format this program does not know, and the job is refused, not guessed. */
  const char *v2 = "{\"v\":2,\"paper_id\":\"p-1\",\"record\":{\"id\":\"p-1\",\"title\":\"t\"}}";
  CHECK(pq_job_decode(v2, strlen(v2), &job, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "p-1: message format v 2; this program reads v 1") != NULL);
  const char *vs = "{\"v\":\"1\",\"paper_id\":\"p-1\",\"record\":{\"id\":\"p-1\",\"title\":\"t\"}}";
  CHECK(pq_job_decode(vs, strlen(vs), &job, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "v is not a number") != NULL);
  const char *v1 = "{\"v\":1,\"paper_id\":\"p-1\",\"record\":{\"id\":\"p-1\",\"title\":\"t\"}}";
  CHECK(pq_job_decode(v1, strlen(v1), &job, err, sizeof err) == PQ_OK);
  pq_job_free(&job);
  const char *v0 = "{\"paper_id\":\"p-1\",\"record\":{\"id\":\"p-1\",\"title\":\"t\"}}";
  CHECK(pq_job_decode(v0, strlen(v0), &job, err, sizeof err) == PQ_OK);
  pq_job_free(&job);

  cJSON *ev = pq_event_new("job.started", "p-1", 1, 3, "host:1");
  CHECK_STR(cJSON_GetObjectItem(ev, "kind")->valuestring, "job.started");
  CHECK(strlen(cJSON_GetObjectItem(ev, "id")->valuestring) == 32);
  CHECK(cJSON_GetObjectItem(ev, "attempt")->valueint == 3);
  CHECK(cJSON_GetObjectItem(ev, "ts")->valuedouble > 1.7e12);
  cJSON *ev2 = pq_event_new("job.started", "p-1", 1, 3, "host:1");
  CHECK(strcmp(cJSON_GetObjectItem(ev, "id")->valuestring,
               cJSON_GetObjectItem(ev2, "id")->valuestring) != 0);
  cJSON_Delete(ev);
  cJSON_Delete(ev2);
  cJSON_Delete(rec);
  cJSON_Delete(done);
  TEST_MAIN_END();
}
