/* The translation job kind (worker/translate.c) driven by canned chat
 * completions: no broker, no HTTP. A real ChinaXiv paper with formulas and
 * equation blocks goes through; answers that are refused, cut off, rate
 * limited or fatal do what a user of the fleet expects. */
#include "fake_provider.h"
#include "paperq/chunk.h"
#include "paperq/config.h"
#include "paperq/job.h"
#include "paperq/log.h"
#include "paperq/record.h"
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
  CHECK(fake_env("translate: { provider = \"openai\"; base_url = \"http://provider.test/v1/\";\n"
                 "  model = \"test/translator\"; fallback_model = \"test/fallback\";\n"
                 "  check_retries = 1; chunk_tokens = 1500; glossary = \"\";\n"
                 "  price_input_per_m = 1.0; price_output_per_m = 2.0; };\n",
                 &cfg, &fp, &env, "sk-test-key", "sk-test-key") == PQ_OK);
}

/* Line `line` (0-based) of a fixture, normalized the way the producer does,
 * as a decoded job. */
static void load_job(const char *fixture, int line, struct pq_job *job) {
  char path[1024];
  const char *dir = getenv("PQ_FIXTURES");
  snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/fixtures", fixture);
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  char *buf = NULL;
  size_t cap = 0;
  for (int i = 0; i <= line; i++)
    CHECK(getline(&buf, &cap, f) > 0);
  fclose(f);
  cJSON *raw = cJSON_Parse(buf), *rec = NULL;
  free(buf);
  struct pq_record_limits lim = {1 << 22, 4096, 65536};
  char err[512];
  CHECK(pq_record_normalize(raw, 0, &lim, fixture, &rec, err, sizeof err) == PQ_OK);
  cJSON_Delete(raw);
  size_t len;
  char *body = pq_job_encode(rec, 0, NULL, &len);
  cJSON_Delete(rec);
  CHECK(pq_job_decode(body, len, job, err, sizeof err) == PQ_OK);
  free(body);
}

static struct work *start(const struct pq_job *job, enum work_status *st) {
  memset(&fp, 0, sizeof fp);
  struct work *w = work_new(&work_translate, &env, job, NULL);
  CHECK(w != NULL);
  *st = w->kind->start(w);
  return w;
}

static int has_cjk(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p == 0xE4 || (*p >= 0xE5 && *p <= 0xE9)) /* U+4E00..U+9FFF lead bytes */
      return 1;
  return 0;
}

/* Answers every request in English until the attempt ends. */
static enum work_status answer_all_english(struct work *w, int *requests, double *cost) {
  enum work_status st = WORK_PENDING;
  while (fp.npending > 0 && st == WORK_PENDING) {
    struct http_req *req = fp.pending[0];
    const char *user, *model;
    cJSON *body = fake_request(req, &user, &model);
    char *english = fake_english(user);
    char *reply = fake_completion(model, english, "stop", 1000, 800, 0.0015);
    st = fake_answer(&fp, req, 200, reply, -1);
    (*requests)++;
    *cost += 0.0015;
    free(reply);
    free(english);
    cJSON_Delete(body);
  }
  (void)w;
  return st;
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A real paper: formulas never reach the provider, come back restored,
 * equation blocks are copied, and usage adds up. */
static void test_whole_paper(void) {
  struct pq_job job;
  load_job("fulltext.jsonl", 7, &job); /* chinaxiv-202206.00079: formulas, equations */
  enum work_status st;
  struct work *w = start(&job, &st);
  CHECK(st == WORK_PENDING);
  CHECK(fp.npending >= 2); /* a full text is more than one request */
  for (int i = 0; i < fp.npending; i++) {
    const char *user, *model;
    cJSON *b = fake_request(fp.pending[i], &user, &model);
    CHECK(strchr(user, '$') == NULL); /* masked: [[M1]], not $...$ */
    CHECK_STR(model, "test/translator");
    cJSON_Delete(b);
  }
  CHECK_STR(fp.pending[0]->url, "http://provider.test/v1/chat/completions");
  CHECK_STR(fp.pending[0]->key, "sk-test-key");
  int requests = 0;
  double cost = 0;
  st = answer_all_english(w, &requests, &cost);
  CHECK(st == WORK_DONE);
  CHECK(w->outcome == PQ_CLASS_OK);
  CHECK(w->usage.requests == requests);
  CHECK(w->usage.prompt_tokens == 1000L * requests);
  CHECK(w->usage.cost_usd > cost - 1e-9 && w->usage.cost_usd < cost + 1e-9);

  cJSON *ev = cJSON_CreateObject();
  w->kind->describe_success(w, ev);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "translation");
  const char *title = str_of(t, "title_en"), *abstract = str_of(t, "abstract_en");
  CHECK(title && title[0] && !has_cjk(title));
  CHECK(abstract && abstract[0] && !has_cjk(abstract));
  /* Every formula of the source abstract is back, byte for byte. */
  const char *src = str_of(job.record, "abstract");
  for (const char *p = src; (p = strchr(p, '$'));) {
    const char *end = strchr(p + 1, '$');
    if (!end)
      break;
    char formula[512];
    snprintf(formula, sizeof formula, "%.*s", (int)(end + 1 - p), p);
    CHECK(strstr(abstract, formula) != NULL);
    p = end + 1;
  }
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(job.record, "body");
  const cJSON *body_en = cJSON_GetObjectItemCaseSensitive(t, "body_en");
  CHECK(cJSON_GetArraySize(body_en) == cJSON_GetArraySize(body));
  int equations = 0;
  for (int i = 0; i < cJSON_GetArraySize(body); i++) {
    const cJSON *b = cJSON_GetArrayItem(body, i), *e = cJSON_GetArrayItem(body_en, i);
    CHECK_STR(str_of(e, "kind"), str_of(b, "kind"));
    if (strcmp(str_of(b, "kind"), "equation") == 0) {
      CHECK_STR(str_of(e, "text"), str_of(b, "text"));
      equations++;
    } else {
      CHECK(!has_cjk(str_of(e, "text")));
    }
  }
  CHECK(equations == 4);
  const cJSON *checks = cJSON_GetObjectItemCaseSensitive(ev, "checks");
  CHECK(cJSON_GetObjectItemCaseSensitive(checks, "formulas")->valuedouble > 0);
  CHECK(cJSON_GetObjectItemCaseSensitive(checks, "chunks")->valuedouble == requests);
  cJSON_Delete(ev);
  work_free(w);
  pq_job_free(&job);
}

/* One chunk fails with a 500 while the others are answered: the attempt
 * fails as transient only after the paid answers are in, and the retry
 * carries them, so the next attempt asks for the failed chunk alone. */
static void test_retry_carries_paid_work(void) {
  struct pq_job job;
  load_job("fulltext.jsonl", 7, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  int chunks = fp.npending;
  CHECK(chunks >= 3);
  st = fake_answer(&fp, fp.pending[1], 500,
                   "{\"error\":{\"message\":\"Internal server error\",\"code\":500}}", -1);
  CHECK(st == WORK_PENDING); /* the others are still in flight, and paid for */
  CHECK(w->outcome == PQ_CLASS_TRANSIENT);
  CHECK(fp.cancelled == 0);
  /* After the failure nothing new is paid for: a refused answer is not
   * asked again, a 429 is not resent. */
  const char *user, *model;
  cJSON *req = fake_request(fp.pending[0], &user, &model);
  char *echo = fake_completion(model, user, "stop", 100, 100, -1);
  CHECK(fake_answer(&fp, fp.pending[0], 200, echo, -1) == WORK_PENDING);
  free(echo);
  cJSON_Delete(req);
  CHECK(fake_answer(&fp, fp.pending[0], 429, "{\"error\":{\"message\":\"slow down\",\"code\":429}}",
                    1000) == WORK_PENDING);
  CHECK(fp.submitted == chunks);
  int requests = 0;
  double cost = 0;
  st = answer_all_english(w, &requests, &cost);
  CHECK(st == WORK_FAILED);
  CHECK(requests == chunks - 3);
  CHECK(fp.submitted == chunks); /* nothing new was sent after the failure */
  struct pq_job retry;
  CHECK(fake_requeue(w, &job, &retry) == PQ_OK);
  CHECK(retry.done != NULL);
  w = start(&retry, &st);
  CHECK(st == WORK_PENDING);
  CHECK(fp.npending == 3); /* only what was not translated: the 500, the refusal, the 429 */
  requests = 0;
  st = answer_all_english(w, &requests, &cost);
  CHECK(st == WORK_DONE);
  cJSON *ev = cJSON_CreateObject();
  w->kind->describe_success(w, ev);
  const cJSON *body_en = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(ev, "translation"), "body_en");
  const cJSON *b;
  cJSON_ArrayForEach(b, body_en) {
    if (strcmp(str_of(b, "kind"), "equation") != 0)
      CHECK(!has_cjk(str_of(b, "text")));
  }
  cJSON_Delete(ev);
  work_free(w);
  pq_job_free(&retry);
  pq_job_free(&job);
}

/* An answer still in Chinese is refused: asked again, then the fallback
 * model, then one segment per request; then the attempt fails, naming the
 * check. Nothing untranslated is ever accepted. */
static void test_untranslated_refused(void) {
  struct pq_job job;
  load_job("records50.jsonl", 0, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  CHECK(st == WORK_PENDING);
  int answers = 0, fallback_asked = 0;
  while (fp.npending > 0 && st == WORK_PENDING && answers < 200) {
    struct http_req *req = fp.pending[0];
    const char *user, *model;
    cJSON *b = fake_request(req, &user, &model);
    fallback_asked += strcmp(model, "test/fallback") == 0;
    char *reply = fake_completion(model, user, "stop", 100, 100, -1); /* echoes the source */
    st = fake_answer(&fp, req, 200, reply, -1);
    free(reply);
    cJSON_Delete(b);
    answers++;
  }
  CHECK(st == WORK_FAILED);
  CHECK(w->outcome == PQ_CLASS_TRANSIENT);
  CHECK(strstr(w->error, "cjk_ratio") != NULL);
  CHECK(fallback_asked > 0);
  CHECK(answers >= 3);
  /* Refused answers are still paid for: the cost is counted at the
   * configured prices (no usage.cost in these replies). */
  CHECK(w->usage.requests == answers);
  CHECK(w->usage.cost_usd > 0);
  struct pq_job retry;
  CHECK(fake_requeue(w, &job, &retry) == PQ_OK);
  /* Only what passed the checks travels (a keyword "G250" has no Chinese). */
  CHECK(cJSON_GetObjectItemCaseSensitive(retry.done, "title") == NULL);
  CHECK(cJSON_GetObjectItemCaseSensitive(retry.done, "abstract") == NULL);
  pq_job_free(&retry);
  pq_job_free(&job);
}

/* An answer cut off at max_tokens is not a translation. */
static void test_truncated_refused(void) {
  struct pq_job job;
  load_job("records50.jsonl", 1, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  struct http_req *req = fp.pending[0];
  const char *user, *model;
  cJSON *b = fake_request(req, &user, &model);
  char *english = fake_english(user);
  char *reply = fake_completion(model, english, "length", 100, 8192, -1);
  st = fake_answer(&fp, req, 200, reply, -1);
  CHECK(st == WORK_PENDING);
  CHECK(fp.npending >= 1); /* asked again, in smaller pieces when it held several */
  /* billed, and counted as thrown away (issue 11) */
  CHECK(w->usage.spend.wasted_usd > 0 && w->usage.spend.waste[PQ_REASON_LENGTH] > 0);
  free(reply);
  free(english);
  cJSON_Delete(b);
  int requests = 0;
  double cost = 0;
  CHECK(answer_all_english(w, &requests, &cost) == WORK_DONE);
  cJSON *ev = cJSON_CreateObject();
  w->kind->describe_success(w, ev);
  const cJSON *rejected = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(ev, "checks"), "rejected_answers");
  CHECK(cJSON_GetObjectItemCaseSensitive(rejected, "finish_reason") != NULL);
  cJSON_Delete(ev);
  work_free(w);
  pq_job_free(&job);
}

/* A 429 says nothing about the paper: resent after Retry-After, not counted
 * as a request, and only 50 in a row fail the attempt. */
static void test_rate_limited(void) {
  struct pq_job job;
  load_job("records50.jsonl", 2, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  struct http_req *req = fp.pending[0];
  const char *body429 = "{\"error\":{\"message\":\"Rate limit exceeded\",\"code\":429}}";
  st = fake_answer(&fp, req, 429, body429, 2000);
  CHECK(st == WORK_PENDING);
  CHECK(fp.pending[0] == req && fp.last_delay_ms == 2000);
  CHECK(fp.rate_feedback == 1);
  CHECK(w->usage.requests == 0);
  CHECK(w->outcome == PQ_CLASS_OK);
  st = fake_answer(&fp, req, 429, body429, -1);
  CHECK(fp.last_delay_ms == PQ_CHAT_DEFAULT_PAUSE_MS);
  for (int i = 2; i < WORK_MAX_RATE_RETRIES && st == WORK_PENDING; i++)
    st = fake_answer(&fp, req, 429, body429, 10);
  CHECK(st == WORK_PENDING);
  int requests = fp.npending;
  if (fp.npending > 0)
    st = fake_answer(&fp, fp.pending[0], 429, body429, 10);
  CHECK(requests == 1);
  CHECK(st == WORK_FAILED);
  CHECK(w->outcome == PQ_CLASS_TRANSIENT);
  CHECK(strstr(w->error, "rate limited") != NULL);
  work_free(w);
  pq_job_free(&job);
}

/* A 401 is nobody's paper's fault: the attempt reports it as fatal (the
 * worker stops the fleet), names the model, and every other request of the
 * paper is cancelled. */
static void test_fatal(void) {
  struct pq_job job;
  load_job("fulltext.jsonl", 7, &job);
  enum work_status st;
  struct work *w = start(&job, &st);
  CHECK(fp.npending >= 2);
  st = fake_answer(&fp, fp.pending[0], 401,
                   "{\"error\":{\"message\":\"Incorrect API key provided: sk-test-key\","
                   "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
                   -1);
  CHECK(st == WORK_FATAL);
  CHECK(w->outcome == PQ_CLASS_FATAL);
  CHECK(strstr(w->error, "test/translator") != NULL);
  CHECK(fp.npending == 0);
  CHECK(w->outstanding == 0);
  work_free(w);
  pq_job_free(&job);
}

/* A dry run sends nothing and says so in every field. */
static void test_dry_run(void) {
  struct pq_job job;
  load_job("records50.jsonl", 3, &job);
  env.dry_run = 1;
  enum work_status st;
  struct work *w = start(&job, &st);
  CHECK(st == WORK_DONE);
  CHECK(fp.submitted == 0);
  CHECK_STR(w->usage.model, "dry-run");
  cJSON *ev = cJSON_CreateObject();
  w->kind->describe_success(w, ev);
  const char *title = str_of(cJSON_GetObjectItemCaseSensitive(ev, "translation"), "title_en");
  CHECK(title && strncmp(title, "[dry-run]", 9) == 0);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "dry_run")));
  cJSON_Delete(ev);
  /* A dry run's stand-in text never travels into a real attempt. */
  struct pq_job next;
  CHECK(fake_requeue(w, &job, &next) == PQ_OK);
  CHECK(next.done == NULL);
  env.dry_run = 0;
  pq_job_free(&next);
  pq_job_free(&job);
}

/* Puts a line `line` into every other text block of the job's body (the
 * paper as a hostile or odd source would have it). Returns the blocks
 * changed. */
static int insert_line(struct pq_job *job, const char *line) {
  cJSON *b;
  int i = 0, changed = 0;
  cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(job->record, "body")) {
    const char *kind = str_of(b, "kind"), *text = str_of(b, "text");
    if (!kind || !text || strcmp(kind, "equation") == 0 || i++ % 2)
      continue;
    /* after the first sentence, so the line sits inside the paragraph */
    const char *cut = strstr(text, "。");
    size_t at = cut ? (size_t)(cut - text) + strlen("。") : strlen(text);
    size_t len = strlen(text) + strlen(line) + 3;
    char *t = malloc(len);
    snprintf(t, len, "%.*s\n%s\n%s", (int)at, text, line, text + at);
    cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(b, "text"), t);
    free(t);
    changed++;
  }
  return changed;
}

/* Translates a job with fake_english answers; the number of requests, and
 * the success event (caller frees) or NULL. */
static cJSON *translate_english(const struct pq_job *job, int *requests) {
  enum work_status st;
  double cost = 0;
  struct work *w = start(job, &st);
  *requests = 0;
  st = answer_all_english(w, requests, &cost);
  cJSON *ev = NULL;
  if (st == WORK_DONE) {
    ev = cJSON_CreateObject();
    w->kind->describe_success(w, ev);
  } else {
    fprintf(stderr, "  attempt failed: %s\n", w->error);
  }
  work_free(w);
  return ev;
}

/* Issue 13, fuzz_chunk finding: a paper whose text holds marker-shaped
 * lines ("<<<2>>>" alone on a line) translates like any other: the same
 * requests as the same paper with an ordinary line there, and the line
 * comes back in place. Before the fix a chunk holding such a line was sent
 * one piece per request (and the library's split refused the faithful
 * answer to a one-piece chunk). */
static void test_marker_lines_in_source(void) {
  struct pq_job plain, hostile;
  load_job("fulltext.jsonl", 7, &plain);
  load_job("fulltext.jsonl", 7, &hostile);
  int n = insert_line(&plain, "(((2)))"); /* same length and token estimate */
  CHECK(n >= 3 && insert_line(&hostile, "<<<2>>>") == n);
  int plain_requests = 0, hostile_requests = 0;
  cJSON *ev_plain = translate_english(&plain, &plain_requests);
  cJSON *ev = translate_english(&hostile, &hostile_requests);
  CHECK(ev_plain != NULL && ev != NULL);
  fprintf(stderr, "marker lines: %d requests with an ordinary line, %d with \"<<<2>>>\"\n",
          plain_requests, hostile_requests);
  CHECK(hostile_requests == plain_requests);
  const cJSON *body_en = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(ev, "translation"), "body_en");
  int kept = 0;
  const cJSON *b;
  cJSON_ArrayForEach(b, body_en) {
    const char *t = str_of(b, "text");
    const char *at = t ? strstr(t, "\n<<<2>>>") : NULL;
    kept += at && (at[8] == '\n' || at[8] == '\0');
  }
  CHECK(kept == n);
  const cJSON *rejected = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(ev, "checks"), "rejected_answers");
  CHECK(cJSON_GetArraySize(rejected) == 0); /* nothing was asked twice */
  cJSON_Delete(ev);
  cJSON_Delete(ev_plain);
  pq_job_free(&plain);
  pq_job_free(&hostile);
}

/* The issue-4 check still holds with marker lines in the text: an answer
 * that drops one of the chunk's own markers (two paragraphs merged) is
 * refused as "markers" and asked again; nothing of it is stored. */
static void test_dropped_marker_refused(void) {
  struct pq_job job;
  load_job("fulltext.jsonl", 7, &job);
  CHECK(insert_line(&job, "<<<2>>>") >= 3);
  enum work_status st;
  struct work *w = start(&job, &st);
  int dropped = 0;
  for (int i = 0; i < fp.npending && !dropped; i++) {
    struct http_req *req = fp.pending[i];
    const char *user, *model;
    cJSON *body = fake_request(req, &user, &model);
    char *english = fake_english(user);
    /* the chunk's highest marker: above 2, so never a line of the text */
    char line[32];
    char *at = NULL;
    for (int k = 3; k < 1000; k++) {
      snprintf(line, sizeof line, "\n<<<%d>>>\n", k);
      char *p = strstr(english, line);
      if (!p)
        break;
      at = p;
    }
    if (at && strstr(user, "\n<<<2>>>\n")) {
      char *eol = strchr(at + 1, '\n'); /* the marker line's end */
      memmove(at + 1, eol + 1, strlen(eol + 1) + 1);
      char *reply = fake_completion(model, english, "stop", 1000, 800, -1);
      st = fake_answer(&fp, req, 200, reply, -1);
      free(reply);
      dropped = 1;
    }
    free(english);
    cJSON_Delete(body);
  }
  CHECK(dropped == 1);
  CHECK(st == WORK_PENDING && w->outcome == PQ_CLASS_OK);
  int requests = 0;
  double cost = 0;
  st = answer_all_english(w, &requests, &cost);
  CHECK(st == WORK_DONE);
  cJSON *ev = cJSON_CreateObject();
  w->kind->describe_success(w, ev);
  const cJSON *rejected = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(ev, "checks"), "rejected_answers");
  const cJSON *markers = cJSON_GetObjectItemCaseSensitive(rejected, "markers");
  CHECK(cJSON_IsNumber(markers) && markers->valuedouble == 1);
  cJSON_Delete(ev);
  work_free(w);
  pq_job_free(&job);
}

/* One-piece requests answered with a "<<<1>>>" line the model added: the
 * marker is not part of the translation. Before the fix it was stored. */
static void test_added_marker_removed(void) {
  struct pq_job job;
  load_job("records50.jsonl", 4, &job);
  int budget = cfg.translate.chunk_tokens;
  cfg.translate.chunk_tokens = PQ_CHUNK_MIN_BUDGET; /* about one piece per request */
  enum work_status st;
  struct work *w = start(&job, &st);
  int answers = 0, added = 0;
  while (fp.npending > 0 && st == WORK_PENDING && answers < 500) {
    struct http_req *req = fp.pending[0];
    const char *user, *model;
    cJSON *body = fake_request(req, &user, &model);
    char *english = fake_english(user);
    size_t len = strlen(english) + 16;
    char *marked = malloc(len);
    /* one piece: no marker was sent, the model adds one anyway */
    int add = strstr(user, "<<<1>>>") == NULL;
    snprintf(marked, len, "%s%s", add ? "<<<1>>>\n" : "", english);
    added += add;
    char *reply = fake_completion(model, marked, "stop", 100, 80, -1);
    st = fake_answer(&fp, req, 200, reply, -1);
    free(reply);
    free(marked);
    free(english);
    cJSON_Delete(body);
    answers++;
  }
  cfg.translate.chunk_tokens = budget;
  CHECK(st == WORK_DONE);
  CHECK(added >= 3);
  cJSON *ev = cJSON_CreateObject();
  w->kind->describe_success(w, ev);
  char *text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ev, "translation"));
  CHECK(text && strstr(text, "<<<") == NULL);
  free(text);
  cJSON_Delete(ev);
  work_free(w);
  pq_job_free(&job);
}

int main(void) {
  pq_log_set_level(PQ_LOG_ERROR);
  setup();
  test_whole_paper();
  test_retry_carries_paid_work();
  test_untranslated_refused();
  test_truncated_refused();
  test_rate_limited();
  test_fatal();
  test_dry_run();
  test_marker_lines_in_source();
  test_dropped_marker_refused();
  test_added_marker_removed();
  pq_config_free(&cfg);
  TEST_MAIN_END();
}
