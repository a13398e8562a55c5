/* The ledger's read API on a real SQLite file: what ledger_db_apply wrote
 * comes back through query.h with the right rows, in the documented order,
 * NULL columns as "not known", filters applied; a callback can stop a walk;
 * the producer's read-only open finds known papers and refuses what is not
 * a ledger. */
#include "ledger_test.h"
#include "query.h"

#include "paperq/qa.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/pq-query-XXXXXX";

static void queued(const char *p, int gen, long long ts) {
  ev("{\"v\":1,\"id\":\"q-%s-%d\",\"kind\":\"job.queued\",\"ts\":%lld,\"paper_id\":\"%s\","
     "\"gen\":%d,\"origin\":\"t.jsonl:1\",\"record\":{\"id\":\"%s\",\"title\":\"题目 %s\"}}",
     p, gen, ts, p, gen, p, p);
}

static void started(const char *id, const char *p, int attempt, const char *worker, long long ts) {
  ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"job.started\",\"ts\":%lld,\"paper_id\":\"%s\","
     "\"gen\":0,\"attempt\":%d,\"worker\":\"%s\"}",
     id, ts, p, attempt, worker);
}

static void succeeded(const char *id, const char *p, int gen, long long ts, double cost) {
  ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"job.succeeded\",\"ts\":%lld,\"paper_id\":\"%s\","
     "\"gen\":%d,\"attempt\":2,\"worker\":\"w1\",\"translation\":{\"title_en\":\"T %s %d\"},"
     "\"model\":\"m1\",\"dry_run\":false,\"usage\":{\"prompt_tokens\":100,"
     "\"completion_tokens\":50},\"cost_usd\":%.6f,\"timings\":{\"started_ms\":%lld,"
     "\"finished_ms\":%lld,\"llm_ms\":900},\"checks\":{\"cjk\":0}}",
     id, ts, p, gen, p, gen, cost, ts - 1000, ts);
}

static void failed(const char *id, const char *p, int attempt, int retryable, const char *error) {
  ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"job.failed\",\"ts\":%lld,\"paper_id\":\"%s\","
     "\"gen\":0,\"attempt\":%d,\"worker\":\"w2\",\"error_class\":\"transient\",\"error\":"
     "\"%s\",\"retryable\":%s,\"cost_usd\":0}",
     id, T0 + attempt * 1000, p, attempt, error, retryable ? "true" : "false");
}

static void parked_event(const char *id, const char *p, const char *reason) {
  ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"job.parked\",\"ts\":%lld,\"paper_id\":\"%s\","
     "\"gen\":0,\"attempt\":3,\"reason\":\"%s\"}",
     id, T0 + 5000, p, reason);
}

static void judged(const char *id, const char *p, const char *judge, double overall, long long ts) {
  ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"qa.scored\",\"ts\":%lld,\"paper_id\":\"%s\",\"gen\":0,"
     "\"worker\":\"h:1\",\"judge\":\"%s\",\"scores\":{\"accuracy\":9,\"fluency\":8,"
     "\"terminology\":7,\"completeness\":6,\"overall\":%g},\"comments\":\"c %s\","
     "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":1},\"cost_usd\":0.001}",
     id, ts, p, judge, overall, id);
}

/* ---- collectors: each callback appends what it saw to a text log ---- */

static char seen[4096];

__attribute__((format(printf, 1, 2))) static void saw(const char *fmt, ...) {
  size_t n = strlen(seen);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(seen + n, sizeof seen - n, fmt, ap);
  va_end(ap);
}

static int on_paper(void *ctx, const struct ledger_paper_row *r) {
  (void)ctx;
  saw("%s:%s:%ld:%ld:%s;", r->paper_id, r->state, r->gen, r->attempts,
      r->park_reason ? r->park_reason : "-");
  return PQ_OK;
}

static struct ledger_paper_row last_paper;
static char last_title[128];
static int keep_paper(void *ctx, const struct ledger_paper_row *r) {
  (void)ctx;
  last_paper = *r;
  snprintf(last_title, sizeof last_title, "%s", r->title ? r->title : "(null)");
  last_paper.title = last_title; /* the row's own strings die with the walk */
  last_paper.paper_id = last_paper.state = last_paper.origin = last_paper.last_error = NULL;
  last_paper.park_reason = last_paper.model = NULL;
  return PQ_OK;
}

static int on_attempt(void *ctx, const struct ledger_attempt_row *r) {
  (void)ctx;
  saw("%ld#%ld:%s:%s:%s:%d;", r->gen, r->attempt, r->worker, r->outcome, r->error ? r->error : "-",
      r->started_ms.known);
  return PQ_OK;
}

static int on_translation(void *ctx, const struct ledger_translation_row *r) {
  (void)ctx;
  saw("%ld:%s:%s:%s;", r->gen, r->model, r->doc, r->checks);
  return PQ_OK;
}

static int on_judgement(void *ctx, const struct ledger_judgement_row *r) {
  (void)ctx;
  saw("%s:%g:%g:%d:%s;", r->judge, r->score[0], r->score[PQ_QA_OVERALL], r->current, r->comments);
  return PQ_OK;
}

static int on_export(void *ctx, const struct ledger_export_row *r) {
  (void)ctx;
  saw("%s:%ld:%s:%s:%d;", r->paper_id, r->gen, r->doc, r->record ? "record" : "no-record",
      r->finished_ms.known);
  return PQ_OK;
}

static int on_source(void *ctx, const struct ledger_source_row *r) {
  (void)ctx;
  saw("%s:%ld:%s;", r->paper_id, r->gen, r->record ? "record" : "no-record");
  return PQ_OK;
}

static int on_current(void *ctx, const struct ledger_current_row *r) {
  (void)ctx;
  saw("%s:%ld:%s:%s;", r->state, r->gen, r->record ? "record" : "-", r->doc ? r->doc : "-");
  return PQ_OK;
}

static int on_worker(void *ctx, const struct ledger_worker_row *r) {
  (void)ctx;
  saw("%s:%s:%d/%lld:%s;", r->worker, r->state, r->in_flight.known, (long long)r->in_flight.v,
      r->fatal_error ? r->fatal_error : "-");
  return PQ_OK;
}

static int on_bad(void *ctx, const struct ledger_bad_row *r) {
  (void)ctx;
  saw("%s;", r->reason);
  return PQ_OK;
}

static int on_judge(void *ctx, const struct ledger_judge_row *r) {
  (void)ctx;
  saw("%s:%lld:%g:%g:h8=%lld,h9=%lld;", r->judge, r->n, r->sum[0], r->sum[PQ_QA_OVERALL],
      r->hist[7], r->hist[8]);
  return PQ_OK;
}

static int on_low(void *ctx, const struct ledger_qa_paper_row *r) {
  (void)ctx;
  saw("%s:%g:%lld:%s;", r->paper_id, r->mean_overall, r->n, r->title ? r->title : "-");
  return PQ_OK;
}

static int stop_after_first(void *ctx, const struct ledger_paper_row *r) {
  int *n = ctx;
  (void)r;
  (*n)++;
  return 42;
}

#define RESET() (seen[0] = '\0')

static int near_zero(double d) { return d > -1e-12 && d < 1e-12; }

int main(void) {
  char path[512], other[512], err[512];
  if (!mkdtemp(dir))
    return 2;
  snprintf(path, sizeof path, "%s/ledger.db", dir);
  snprintf(other, sizeof other, "%s/other.db", dir);
  CHECK(ledger_db_open(path, LEDGER_DB_CREATE, &db, err, sizeof err) == PQ_OK);

  /* a: queued, two attempts on two workers, succeeded, judged twice by j1
   *    (the second is current) and once by j2.
   * b: queued, failed for good, parked (worker's reason).
   * c: parked without ever being queued here: no source record.
   * d: queued only. */
  queued("a", 0, T0);
  started("s-a-1", "a", 1, "w2", T0 + 1000);
  failed("f-a-1", "a", 1, 1, "http 500");
  started("s-a-2", "a", 2, "w1", T0 + 3000);
  succeeded("ok-a", "a", 0, T0 + 4000, 0.002);
  judged("qa1", "a", "j1", 6, T0 + 5000);
  judged("qa2", "a", "j1", 9, T0 + 6000);
  judged("qa3", "a", "j2", 8, T0 + 7000);
  queued("b", 0, T0);
  failed("f-b-1", "b", 1, 0, "bad input");
  parked_event("pk-b", "b", "permanent: bad input");
  failed("f-c-1", "c", 1, 0, "poison");
  parked_event("pk-c", "c", "max_attempts: poison");
  queued("d", 0, T0 + 9000);

  /* One paper, every column; NULL columns are "not known". */
  int found = -1;
  CHECK(ledger_query_paper(db, "a", keep_paper, NULL, &found) == PQ_OK);
  CHECK(found == 1);
  CHECK(last_paper.attempts == 2);
  CHECK(last_paper.finished_ms.known && last_paper.finished_ms.v == T0 + 4000);
  CHECK(last_paper.queued_ms.known && last_paper.queued_ms.v == T0);
  CHECK(near_zero(last_paper.cost_usd - 0.002));
  CHECK_STR(last_paper.title, "题目 a");
  CHECK(ledger_query_paper(db, "d", keep_paper, NULL, &found) == PQ_OK && found == 1);
  CHECK(!last_paper.started_ms.known && !last_paper.finished_ms.known);
  CHECK(ledger_query_paper(db, "nope", keep_paper, NULL, &found) == PQ_OK);
  CHECK(found == 0);

  /* Papers by state, by id; the state lookup the producer uses. */
  RESET();
  CHECK(ledger_query_papers_in_state(db, LEDGER_PARKED, on_paper, NULL) == PQ_OK);
  CHECK_STR(seen, "b:parked:0:3:permanent: bad input;c:parked:0:3:max_attempts: poison;");
  int state = -2;
  CHECK(ledger_query_state(db, "a", &found, &state) == PQ_OK);
  CHECK(found == 1 && state == LEDGER_SUCCEEDED);
  CHECK(ledger_query_state(db, "b", &found, &state) == PQ_OK);
  CHECK(found == 1 && state == LEDGER_PARKED);
  CHECK(ledger_query_state(db, "nope", &found, &state) == PQ_OK);
  CHECK(found == 0 && state == -1);

  /* Attempts oldest first, both workers' rows; a failure never started has
   * no start time. */
  RESET();
  CHECK(ledger_query_attempts(db, "a", on_attempt, NULL) == PQ_OK);
  CHECK_STR(seen, "0#1:w2:failed:http 500:1;0#2:w1:succeeded:-:1;");
  RESET();
  CHECK(ledger_query_attempts(db, "b", on_attempt, NULL) == PQ_OK);
  CHECK_STR(seen, "0#1:w2:failed:bad input:0;");

  RESET();
  CHECK(ledger_query_latest_translation(db, "a", on_translation, NULL) == PQ_OK);
  CHECK_STR(seen, "0:m1:{\"title_en\":\"T a 0\"}:{\"cjk\":0};");
  RESET();
  CHECK(ledger_query_latest_translation(db, "b", on_translation, NULL) == PQ_OK);
  CHECK_STR(seen, "");

  /* Judgements in the order received; only the latest of j1 is current. */
  RESET();
  CHECK(ledger_query_judgements(db, "a", on_judgement, NULL) == PQ_OK);
  CHECK_STR(seen, "j1:9:6:0:c qa1;j1:9:9:1:c qa2;j2:9:8:1:c qa3;");

  /* Export: succeeded papers with the translation of their generation. */
  RESET();
  CHECK(ledger_query_succeeded(db, on_export, NULL) == PQ_OK);
  CHECK_STR(seen, "a:0:{\"title_en\":\"T a 0\"}:record:1;");

  /* Requeue's selections: parked (optionally one), and low QA. */
  RESET();
  CHECK(ledger_query_parked_sources(db, NULL, on_source, NULL) == PQ_OK);
  CHECK_STR(seen, "b:0:record;c:0:no-record;");
  RESET();
  CHECK(ledger_query_parked_sources(db, "c", on_source, NULL) == PQ_OK);
  CHECK_STR(seen, "c:0:no-record;");
  RESET(); /* a's current mean is (9 + 8) / 2 = 8.5 */
  CHECK(ledger_query_low_qa_sources(db, 8.5, NULL, on_source, NULL) == PQ_OK);
  CHECK_STR(seen, "");
  CHECK(ledger_query_low_qa_sources(db, 8.6, NULL, on_source, NULL) == PQ_OK);
  CHECK_STR(seen, "a:0:record;");
  RESET();
  CHECK(ledger_query_low_qa_sources(db, 10, "b", on_source, NULL) == PQ_OK);
  CHECK_STR(seen, "");

  RESET();
  CHECK(ledger_query_current(db, "a", on_current, NULL, &found) == PQ_OK && found == 1);
  CHECK(ledger_query_current(db, "d", on_current, NULL, &found) == PQ_OK && found == 1);
  CHECK(ledger_query_current(db, "nope", on_current, NULL, &found) == PQ_OK && found == 0);
  CHECK_STR(seen, "succeeded:0:record:{\"title_en\":\"T a 0\"};queued:0:record:-;");

  /* The report's tables. */
  long long n = -1;
  CHECK(ledger_query_succeeded_since(db, T0 / MIN, &n) == PQ_OK && n == 1);
  CHECK(ledger_query_succeeded_since(db, T0 / MIN + 1, &n) == PQ_OK && n == 0);
  ev("{\"v\":1,\"id\":\"hb1\",\"kind\":\"worker.heartbeat\",\"ts\":%lld,\"worker\":\"w1\","
     "\"in_flight\":3,\"done\":10,\"failed\":1}",
     T0);
  ev("{\"v\":1,\"id\":\"hb2\",\"kind\":\"worker.heartbeat\",\"ts\":%lld,\"worker\":\"w0\"}", T0);
  ev("{\"v\":1,\"id\":\"fx1\",\"kind\":\"worker.fatal\",\"ts\":%lld,\"worker\":\"w0\","
     "\"error\":\"http 401\",\"model\":\"m1\"}",
     T0 + 1);
  RESET();
  CHECK(ledger_query_workers(db, on_worker, NULL) == PQ_OK);
  CHECK_STR(seen, "w0:fatal:0/0:http 401;w1:running:1/3:-;");

  RESET();
  CHECK(ledger_query_latest_bad(db, on_bad, NULL) == PQ_OK);
  CHECK_STR(seen, "");
  struct ledger_msg m = {0};
  m.type = PQ_MSG_TYPE_EVENT;
  m.body = "{not json";
  m.len = strlen(m.body);
  CHECK(ledger_db_apply(db, &m, NULL) == PQ_OK);
  m.body = "{\"v\":1}"; /* JSON, but no kind */
  m.len = strlen(m.body);
  CHECK(ledger_db_apply(db, &m, NULL) == PQ_OK);
  CHECK(ledger_db_commit(db) == PQ_OK);
  CHECK(ledger_query_latest_bad(db, on_bad, NULL) == PQ_OK);
  CHECK(strchr(seen, ';') == seen + strlen(seen) - 1); /* one row: the latest */
  CHECK(strstr(seen, "not valid JSON") == NULL);

  RESET(); /* current judgements only: j1's 9 and j2's 8 */
  CHECK(ledger_query_judges(db, on_judge, NULL) == PQ_OK);
  CHECK_STR(seen, "j1:1:9:9:h8=0,h9=1;j2:1:9:8:h8=1,h9=0;");

  queued("e", 0, T0);
  succeeded("ok-e", "e", 0, T0 + 4000, 0.001);
  judged("qa4", "e", "j1", 3, T0 + 8000);
  RESET();
  CHECK(ledger_query_lowest_qa(db, 5, on_low, NULL) == PQ_OK);
  CHECK_STR(seen, "e:3:1:题目 e;a:8.5:2:题目 a;");
  RESET();
  CHECK(ledger_query_lowest_qa(db, 1, on_low, NULL) == PQ_OK);
  CHECK_STR(seen, "e:3:1:题目 e;");

  /* A callback stops a walk with its own code. */
  int calls = 0;
  CHECK(ledger_query_papers_in_state(db, LEDGER_PARKED, stop_after_first, &calls) == 42);
  CHECK(calls == 1);

  /* A snapshot is opened only when no transaction is. */
  int own = -1;
  CHECK(ledger_query_begin(db, &own) == PQ_OK && own == 1);
  int inner = -1;
  CHECK(ledger_query_begin(db, &inner) == PQ_OK && inner == 0);
  ledger_query_end(db, inner);
  ledger_query_end(db, own);
  CHECK(ledger_db_begin(db) == PQ_OK);
  CHECK(ledger_query_begin(db, &own) == PQ_OK && own == 0);
  ledger_query_end(db, own);
  ledger_db_rollback(db);

  /* The producer's read-only open, beside the writer: known papers found. */
  struct ledger_db *ro = NULL;
  CHECK(ledger_db_open(path, LEDGER_DB_READONLY, &ro, err, sizeof err) == PQ_OK);
  CHECK(ro && ledger_query_state(ro, "b", &found, &state) == PQ_OK && found &&
        state == LEDGER_PARKED);
  CHECK(ro && ledger_query_state(ro, "d", &found, &state) == PQ_OK && found &&
        state == LEDGER_QUEUED);
  queued("f", 0, T0); /* written after the reader opened: seen on the next lookup */
  CHECK(ro && ledger_query_state(ro, "f", &found, &state) == PQ_OK && found == 1);
  ledger_db_close(ro);
  /* ...and refusals: no file, or a SQLite file that is not a ledger. */
  ro = NULL;
  CHECK(ledger_db_open(other, LEDGER_DB_READONLY, &ro, err, sizeof err) != PQ_OK && !ro);
  sqlite3 *sq = NULL;
  CHECK(sqlite3_open(other, &sq) == SQLITE_OK);
  CHECK(sqlite3_exec(sq, "CREATE TABLE papers(paper_id TEXT, state TEXT)", NULL, NULL, NULL) ==
        SQLITE_OK);
  sqlite3_close(sq);
  CHECK(ledger_db_open(other, LEDGER_DB_READONLY, &ro, err, sizeof err) != PQ_OK && !ro);
  CHECK(strstr(err, other) != NULL);

  ledger_db_close(db);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
