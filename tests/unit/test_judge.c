/* The QA job kind (worker/judge.c) driven by canned chat completions: no
 * broker, no HTTP. Each verdict becomes a qa.scored event at once; an
 * unusable verdict is asked again a bounded number of times; a retried QA
 * job asks only the judges that have not answered. */
#include "fake_provider.h"
#include "paperq/config.h"
#include "paperq/job.h"
#include "paperq/log.h"
#include "paperq/util.h"
#include "pq_test.h"
#include "work.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct pq_config cfg;
static struct fake_provider fp;
static struct work_env env;

static void setup(void) {
  CHECK(
      fake_env("translate: { provider = \"openai\"; base_url = \"http://translator.test/v1\";\n"
               "  model = \"test/translator\"; check_retries = 1; glossary = \"\"; };\n"
               "qa: { judges = \"judge/a, judge/b\"; base_url = \"http://judges.test/api/\"; };\n",
               &cfg, &fp, &env, "sk-translate", "sk-judges") == PQ_OK);
}

/* A QA job as the worker publishes it for a sampled paper. */
static void qa_job(const cJSON *done, struct pq_job *job) {
  cJSON *rec = cJSON_Parse("{\"id\":\"chinaxiv-201601.00051\",\"title\":\"国史知识的语义揭示\","
                           "\"abstract\":\"本文提出了国史知识语义揭示与组织方法。\"}");
  cJSON *tr = cJSON_Parse("{\"title_en\":\"Semantic disclosure of national history knowledge\","
                          "\"abstract_en\":\"This paper proposes a method for the semantic "
                          "disclosure and organisation of national history knowledge.\"}");
  size_t len;
  char *body = pq_job_encode_qa(rec, 0, tr, done, &len);
  char err[256];
  CHECK(pq_job_decode(body, len, job, err, sizeof err) == PQ_OK);
  free(body);
  cJSON_Delete(rec);
  cJSON_Delete(tr);
}

static struct work *start(const struct pq_job *job, enum work_status *st) {
  memset(&fp, 0, sizeof fp);
  struct work *w = work_new(&work_qa, &env, job, NULL);
  CHECK(w != NULL);
  *st = w->kind->start(w);
  return w;
}

static const char *model_of(const struct http_req *req, char *out, size_t len) {
  const char *user, *model;
  cJSON *b = fake_request(req, &user, &model);
  snprintf(out, len, "%s", model);
  cJSON_Delete(b);
  return out;
}

static enum work_status verdict(struct http_req *req, const char *content) {
  char model[128];
  char *reply =
      fake_completion(model_of(req, model, sizeof model), content, "stop", 900, 60, 0.0004);
  enum work_status st = fake_answer(&fp, req, 200, reply, -1);
  free(reply);
  return st;
}

static const char *good = "{\"accuracy\": 9, \"fluency\": 8, \"terminology\": 9, "
                          "\"completeness\": 10, \"overall\": 9, \"comments\": \"faithful\"}";

/* Both judges answer: two qa.scored events with their scores, done after
 * the second, requests sent to the QA endpoint with the QA key. */
static void test_two_verdicts(void) {
  struct pq_job job;
  qa_job(NULL, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  CHECK(st == WORK_PENDING);
  CHECK(fp.npending == 2);
  CHECK_STR(fp.pending[0]->url, "http://judges.test/api/chat/completions");
  CHECK_STR(fp.pending[0]->key, "sk-judges");
  char m0[128], m1[128];
  model_of(fp.pending[0], m0, sizeof m0);
  model_of(fp.pending[1], m1, sizeof m1);
  CHECK(strcmp(m0, m1) != 0);
  CHECK(strcmp(m0, "judge/a") == 0 || strcmp(m0, "judge/b") == 0);
  st = verdict(fp.pending[0], good);
  CHECK(st == WORK_PENDING);
  cJSON *events = work_take_events(w);
  CHECK(cJSON_GetArraySize(events) == 1); /* sent at once, not at the end */
  const cJSON *ev = cJSON_GetArrayItem(events, 0);
  CHECK_STR(cJSON_GetObjectItemCaseSensitive(ev, "kind")->valuestring, "qa.scored");
  CHECK_STR(cJSON_GetObjectItemCaseSensitive(ev, "judge")->valuestring, m0);
  const cJSON *scores = cJSON_GetObjectItemCaseSensitive(ev, "scores");
  CHECK(cJSON_GetObjectItemCaseSensitive(scores, "completeness")->valuedouble == 10);
  CHECK(cJSON_GetObjectItemCaseSensitive(scores, "overall")->valuedouble == 9);
  CHECK(cJSON_GetObjectItemCaseSensitive(ev, "cost_usd")->valuedouble == 0.0004);
  cJSON_Delete(events);
  st = verdict(fp.pending[0], good);
  CHECK(st == WORK_DONE);
  events = work_take_events(w);
  CHECK(cJSON_GetArraySize(events) == 1);
  cJSON_Delete(events);
  /* Each verdict's event carries its judge's cost; the attempt keeps none of
   * it, so a failed-attempt event could not count it twice. */
  CHECK(w->usage.requests == 0);
  CHECK(w->usage.cost_usd > -1e-12 && w->usage.cost_usd < 1e-12);
  work_free(w);
  pq_job_free(&job);
}

static int is_pending(const struct http_req *r) {
  for (int i = 0; i < fp.npending; i++)
    if (fp.pending[i] == r)
      return 1;
  return 0;
}

/* A judge that answers prose is asked again while the paper's paid judge
 * requests stay under qa.max_requests_per_paper; then the QA job is given
 * up as permanent, naming the judge and the setting. The other judge is not
 * cancelled: its verdict is paid for and kept. No unbounded loop of paid
 * re-asks, and never a stored zero. */
static void test_unusable_verdict(void) {
  struct pq_job job;
  qa_job(NULL, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  struct http_req *a = fp.pending[0], *b = fp.pending[1];
  char model[128];
  model_of(a, model, sizeof model);
  int asked = 1;
  st = WORK_PENDING;
  for (int i = 0; i < 20 && is_pending(a); i++) {
    st = verdict(a, "The translation reads well overall.");
    if (is_pending(a))
      asked++;
  }
  /* both judges' requests count: 2 at the start, a re-asked until the cap */
  CHECK(asked + 1 == cfg.qa.max_requests_per_paper);
  CHECK(st == WORK_PENDING && w->outcome == PQ_CLASS_PERMANENT);
  CHECK(strstr(w->error, model) && strstr(w->error, "qa.max_requests_per_paper"));
  CHECK(fp.cancelled == 0);
  CHECK(work_take_events(w) == NULL); /* no verdict, never a stored zero */
  CHECK(w->usage.spend.waste[PQ_WASTE_VERDICT] > 0.0004 * asked - 1e-9);
  st = verdict(b, good);
  CHECK(st == WORK_FAILED);
  cJSON *events = work_take_events(w);
  CHECK(cJSON_GetArraySize(events) == 1); /* b's verdict kept */
  cJSON_Delete(events);
  /* The count travels: a retry of this QA job sends nothing. */
  size_t len;
  char *again = w->kind->encode_again(&job, w, &len);
  work_free(w);
  struct pq_job retry;
  char err[256];
  CHECK(pq_job_decode(again, len, &retry, err, sizeof err) == PQ_OK);
  free(again);
  int before = fp.npending;
  w = start(&retry, &st);
  CHECK(st == WORK_FAILED && fp.npending == before);
  CHECK(strstr(w->error, "qa.max_requests_per_paper") != NULL);
  work_free(w);
  pq_job_free(&retry);
  pq_job_free(&job);
}

/* Judges in the wild: a decimal verdict in a fence after a <think> block is
 * a verdict, its scores kept as reals, the serving provider named. */
static void test_decimal_verdict(void) {
  struct pq_job job;
  qa_job(NULL, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  st = verdict(fp.pending[0],
               "<think>hmm</think>```json\n{\"accuracy\": 8.7, \"fluency\": \"9.25\", "
               "\"terminology\": 8, \"completeness\": 10.0, \"overall\": 8.5,}\n```");
  CHECK(st == WORK_PENDING);
  cJSON *events = work_take_events(w);
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(events, 0), "scores");
  CHECK(cJSON_GetObjectItemCaseSensitive(sc, "accuracy")->valuedouble == 8.7);
  CHECK(cJSON_GetObjectItemCaseSensitive(sc, "fluency")->valuedouble == 9.25);
  CHECK(cJSON_GetObjectItemCaseSensitive(sc, "overall")->valuedouble == 8.5);
  cJSON_Delete(events);
  work_free(w);
  pq_job_free(&job);
}

/* Judge a answers, judge b's provider fails (503): the QA job fails; its
 * retry copy carries a's verdict, so the retry asks b alone. */
static void test_retry_asks_the_rest(void) {
  struct pq_job job;
  qa_job(NULL, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  char first[128];
  model_of(fp.pending[0], first, sizeof first);
  CHECK(verdict(fp.pending[0], good) == WORK_PENDING);
  cJSON_Delete(work_take_events(w));
  st = fake_answer(&fp, fp.pending[0], 503,
                   "{\"error\":{\"message\":\"Service Unavailable\",\"code\":503}}", -1);
  CHECK(st == WORK_FAILED);
  CHECK(w->outcome == PQ_CLASS_TRANSIENT);
  struct pq_job retry;
  CHECK(fake_requeue(w, &job, &retry) == PQ_OK);
  CHECK(retry.translation != NULL);
  w = start(&retry, &st);
  CHECK(st == WORK_PENDING);
  CHECK(fp.npending == 1);
  char second[128];
  model_of(fp.pending[0], second, sizeof second);
  CHECK(strcmp(first, second) != 0);
  /* That one fails too: the next retry still knows the first judge. */
  CHECK(fake_answer(&fp, fp.pending[0], 502, "{\"error\":{\"message\":\"Bad Gateway\"}}", -1) ==
        WORK_FAILED);
  struct pq_job third;
  CHECK(fake_requeue(w, &retry, &third) == PQ_OK);
  w = start(&third, &st);
  CHECK(st == WORK_PENDING && fp.npending == 1);
  CHECK(strcmp(model_of(fp.pending[0], second, sizeof second), first) != 0);
  CHECK(verdict(fp.pending[0], good) == WORK_DONE);
  cJSON_Delete(work_take_events(w));
  work_free(w);
  pq_job_free(&third);
  pq_job_free(&retry);
  pq_job_free(&job);
}

/* A judge's 429s are resent after Retry-After; only 50 in a row fail the QA
 * job (transient). The other judge is not cancelled: its answer is paid for
 * and its verdict kept (issue 11). */
static void test_rate_limited_judge(void) {
  struct pq_job job;
  qa_job(NULL, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  struct http_req *a = fp.pending[0], *b = fp.pending[1];
  const char *body = "{\"error\":{\"message\":\"Rate limit exceeded\",\"code\":429}}";
  int resent = 0;
  st = WORK_PENDING;
  while (is_pending(a) && resent <= WORK_MAX_RATE_RETRIES + 1) {
    st = fake_answer(&fp, a, 429, body, 500);
    if (is_pending(a)) {
      CHECK(fp.last_delay_ms == 500);
      resent++;
    }
  }
  CHECK(resent == WORK_MAX_RATE_RETRIES);
  CHECK(st == WORK_PENDING); /* b is still out */
  CHECK(w->outcome == PQ_CLASS_TRANSIENT);
  CHECK(strstr(w->error, "rate limited") != NULL);
  CHECK(fp.cancelled == 0);
  CHECK(w->usage.requests == 0); /* 429s are not answers */
  st = verdict(b, good);
  CHECK(st == WORK_FAILED);
  cJSON *events = work_take_events(w);
  CHECK(cJSON_GetArraySize(events) == 1); /* b's verdict kept */
  cJSON_Delete(events);
  work_free(w);
  pq_job_free(&job);
}

/* A QA job without a translation cannot be judged: permanent, no request. */
static void test_nothing_to_judge(void) {
  cJSON *rec = cJSON_Parse("{\"id\":\"x-1\",\"title\":\"标题\",\"abstract\":\"摘要\"}");
  size_t len;
  char *body = pq_job_encode(rec, 0, NULL, &len);
  struct pq_job job;
  char err[256];
  CHECK(pq_job_decode(body, len, &job, err, sizeof err) == PQ_OK);
  free(body);
  cJSON_Delete(rec);
  enum work_status st;
  struct work *w = start(&job, &st);
  CHECK(st == WORK_FAILED);
  CHECK(w->outcome == PQ_CLASS_PERMANENT);
  CHECK(fp.submitted == 0);
  work_free(w);
  pq_job_free(&job);
}

int main(void) {
  pq_log_set_level(PQ_LOG_ERROR);
  setup();
  test_two_verdicts();
  test_unusable_verdict();
  test_decimal_verdict();
  test_retry_asks_the_rest();
  test_nothing_to_judge();
  test_rate_limited_judge();
  pq_config_free(&cfg);
  TEST_MAIN_END();
}
