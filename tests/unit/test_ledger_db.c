/* Ledger rules on a real SQLite file: every paper's success recorded once
 * whatever is duplicated, reordered or late; spend counted per new event;
 * bad messages recorded, not fatal; report figures (counts, rate, cost, QA
 * means and judge agreement, targets) computed exactly. */
#include "budget.h"
#include "db.h"
#include "ledger.h"
#include "report.h"

#include "paperq/config.h"
#include "paperq/mq.h"
#include "paperq/util.h"
#include "ledger_test.h"
#include "pq_test.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/pq-ledger-XXXXXX";
static char db_path[512];

/* A parked job as it arrives on the ledger queue. */
static enum ledger_outcome parked(const char *paper, int gen, const char *park_reason,
                                  const char *death_reason, int attempt) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"v\":1,\"paper_id\":\"%s\",\"gen\":%d,\"record\":{\"id\":\"%s\",\"title\":\"标题\"}}",
           paper, gen, paper);
  struct ledger_msg m = {0};
  m.type = PQ_MSG_TYPE_JOB;
  m.message_id = paper;
  m.body = body;
  m.len = strlen(body);
  m.park_reason = park_reason;
  m.death_reason = death_reason;
  m.attempt = attempt;
  m.delivery_count = 5;
  m.received_ms = T0 + 2 * MIN;
  enum ledger_outcome out = LEDGER_BAD;
  CHECK(ledger_db_apply(db, &m, &out) == PQ_OK);
  CHECK(ledger_db_commit(db) == PQ_OK);
  return out;
}

static enum ledger_outcome raw(const char *type, const char *body) {
  struct ledger_msg m = {0};
  m.type = type;
  m.body = body;
  m.len = strlen(body);
  enum ledger_outcome out = LEDGER_APPLIED;
  CHECK(ledger_db_apply(db, &m, &out) == PQ_OK);
  CHECK(ledger_db_commit(db) == PQ_OK);
  return out;
}

/* First column of the first row of a query with one text parameter, as
 * text. The test reads the file through a connection of its own: what it
 * sees is what the ledger committed. */
static const char *q(const char *sql, const char *param) {
  static char out[1024];
  sqlite3 *sq = NULL;
  sqlite3_stmt *s = NULL;
  out[0] = '\0';
  if (sqlite3_open_v2(db_path, &sq, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(sq, sql, -1, &s, NULL) != SQLITE_OK) {
    fprintf(stderr, "bad test query %s: %s\n", sql, sqlite3_errmsg(sq));
    sqlite3_close(sq);
    return "(error)";
  }
  if (param)
    sqlite3_bind_text(s, 1, param, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
    snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(s, 0));
  else
    snprintf(out, sizeof out, "(none)");
  sqlite3_finalize(s);
  sqlite3_close(sq);
  return out;
}

static long qn(const char *sql, const char *param) { return strtol(q(sql, param), NULL, 10); }
static const char *state(const char *paper) {
  return q("SELECT state FROM papers WHERE paper_id = ?1", paper);
}

static void queued(const char *p, int gen, long long ts) {
  ev("{\"v\":1,\"id\":\"q-%s-%d\",\"kind\":\"job.queued\",\"ts\":%lld,\"paper_id\":\"%s\","
     "\"gen\":%d,\"origin\":\"t.jsonl:1\",\"record\":{\"id\":\"%s\",\"title\":\"题目 %s\","
     "\"abstract\":\"摘要\"}}",
     p, gen, ts, p, gen, p, p);
}

static enum ledger_outcome started(const char *id, const char *p, int gen, int attempt,
                                   long long ts) {
  return ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"job.started\",\"ts\":%lld,\"paper_id\":\"%s\","
            "\"gen\":%d,\"attempt\":%d,\"worker\":\"h:1\"}",
            id, ts, p, gen, attempt);
}

static enum ledger_outcome succeeded(const char *id, const char *p, int gen, int attempt,
                                     long long ts, double cost, int dry) {
  return ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"job.succeeded\",\"ts\":%lld,\"paper_id\":\"%s\","
            "\"gen\":%d,\"attempt\":%d,\"worker\":\"h:1\",\"translation\":{\"title_en\":\"T %s\","
            "\"abstract_en\":\"A\",\"keywords_en\":[],\"subjects_en\":[],\"authors_en\":[],"
            "\"body_en\":[]},\"model\":\"m1\",\"dry_run\":%s,\"usage\":{\"prompt_tokens\":100,"
            "\"completion_tokens\":50,\"requests\":2},\"cost_usd\":%.6f,\"timings\":"
            "{\"started_ms\":%lld,\"finished_ms\":%lld,\"llm_ms\":900},\"checks\":{\"cjk\":0}}",
            id, ts, p, gen, attempt, p, dry ? "true" : "false", cost, ts - 1000, ts);
}

static enum ledger_outcome failed(const char *id, const char *p, int gen, int attempt,
                                  const char *cls, int retryable, const char *error) {
  return ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"job.failed\",\"ts\":%lld,\"paper_id\":\"%s\","
            "\"gen\":%d,\"attempt\":%d,\"worker\":\"h:1\",\"error_class\":\"%s\",\"error\":"
            "\"%s\",\"retryable\":%s,\"next_delay_ms\":200,\"usage\":{\"prompt_tokens\":10,"
            "\"completion_tokens\":0},\"cost_usd\":0.0001}",
            id, T0 + attempt * 1000, p, gen, attempt, cls, error, retryable ? "true" : "false");
}

static void judged(const char *id, const char *p, const char *judge, double acc, double overall,
                   long long ts) {
  ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"qa.scored\",\"ts\":%lld,\"paper_id\":\"%s\",\"gen\":0,"
     "\"worker\":\"h:1\",\"judge\":\"%s\",\"scores\":{\"accuracy\":%g,\"fluency\":8,"
     "\"terminology\":7,\"completeness\":9,\"overall\":%g},\"comments\":\"ok\","
     "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":100},\"cost_usd\":0.001}",
     id, ts, p, judge, acc, overall);
}

static const cJSON *jget(const cJSON *o, const char *path) {
  char key[64];
  const char *dot = strchr(path, '.');
  if (!dot)
    return cJSON_GetObjectItemCaseSensitive(o, path);
  snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
  return jget(cJSON_GetObjectItemCaseSensitive(o, key), dot + 1);
}
static double jnum_at(const cJSON *o, const char *path) {
  const cJSON *v = jget(o, path);
  if (!cJSON_IsNumber(v)) {
    fprintf(stderr, "report has no number at %s\n", path);
    return NAN;
  }
  return v->valuedouble;
}
static int near(double a, double b) { return fabs(a - b) < 1e-9; }

/* Three space-separated numbers (no sscanf: house style). */
static int parse3(const char *s, double *a, double *b, double *c) {
  char *end;
  double *out[3] = {a, b, c};
  for (int i = 0; i < 3; i++) {
    *out[i] = strtod(s, &end);
    if (end == s)
      return i;
    s = end;
  }
  return 3;
}

/* The report's QA figures come from statistics maintained incrementally;
 * these scans over the judgements themselves are the oracle. */
static void check_qa_against_scan(const cJSON *r) {
  CHECK(near(jnum_at(r, "qa.judgements"),
             (double)qn("SELECT count(*) FROM qa_judgements WHERE current = 1", NULL)));
  CHECK(near(
      jnum_at(r, "qa.papers_judged"),
      (double)qn("SELECT count(DISTINCT paper_id) FROM qa_judgements WHERE current = 1", NULL)));
  if (jnum_at(r, "qa.judgements") > 0)
    CHECK(near(jnum_at(r, "qa.mean_overall"),
               atof(q("SELECT avg(overall) FROM qa_judgements WHERE current = 1", NULL))));
  const char *mad = q("SELECT avg(abs(a.overall - b.overall)) FROM qa_judgements a"
                      " JOIN qa_judgements b ON b.paper_id = a.paper_id AND b.judge > a.judge"
                      " AND b.current = 1 WHERE a.current = 1",
                      NULL);
  if (strcmp(mad, "(none)") != 0)
    CHECK(near(jnum_at(r, "qa.agreement_mad"), atof(mad)));
  const cJSON *low = cJSON_GetArrayItem(jget(r, "qa.lowest"), 0);
  if (low)
    CHECK(near(jnum_at(low, "overall"),
               atof(q("SELECT min(m) FROM (SELECT avg(overall) AS m FROM qa_judgements"
                      " WHERE current = 1 GROUP BY paper_id)",
                      NULL))));
  const cJSON *j;
  cJSON_ArrayForEach(j, jget(r, "qa.by_judge")) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT avg(accuracy) || ' ' || avg(overall) || ' ' || count(*) FROM qa_judgements"
             " WHERE current = 1 AND judge = ?1");
    double acc, ov, n;
    CHECK(parse3(q(sql, j->string), &acc, &ov, &n) == 3);
    CHECK(near(jnum_at(j, "accuracy"), acc) && near(jnum_at(j, "overall"), ov) &&
          near(jnum_at(j, "count"), n));
  }
}
static const cJSON *target(const cJSON *r, const char *name) {
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targets")) {
    if (strcmp(cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring, name) == 0)
      return t;
  }
  return NULL;
}

int main(void) {
  char err[512], conf[256];
  struct pq_config cfg;
  if (!mkdtemp(dir))
    return 2;
  snprintf(db_path, sizeof db_path, "%s/ledger.db", dir);
  snprintf(conf, sizeof conf, "%s/empty.conf", dir);
  FILE *cf = fopen(conf, "w");
  fclose(cf);
  CHECK(pq_config_load(conf, &cfg, err, sizeof err) == PQ_OK);

  /* Read commands refuse a missing database with a message naming it. */
  CHECK(ledger_db_open(db_path, 0, &db, err, sizeof err) != PQ_OK);
  CHECK(strstr(err, "no ledger database at") && strstr(err, db_path));
  CHECK(ledger_db_open(db_path, LEDGER_DB_CREATE, &db, err, sizeof err) == PQ_OK);
  CHECK(strcmp(q("PRAGMA journal_mode", NULL), "wal") == 0);

  /* p1: the normal db_path, then a duplicate event id: nothing changes. */
  queued("p1", 0, T0);
  CHECK_STR(state("p1"), "queued");
  CHECK(started("s-p1-1", "p1", 0, 1, T0 + 1000) == LEDGER_APPLIED);
  CHECK_STR(state("p1"), "running");
  CHECK(succeeded("ok-p1-a", "p1", 0, 1, T0 + 8 * MIN, 0.002, 0) == LEDGER_APPLIED);
  CHECK_STR(state("p1"), "succeeded");
  CHECK(succeeded("ok-p1-a", "p1", 0, 1, T0 + 8 * MIN, 0.002, 0) == LEDGER_DUPLICATE);
  CHECK(started("s-p1-1", "p1", 0, 1, T0 + 1000) == LEDGER_DUPLICATE);
  CHECK(qn("SELECT count(*) FROM translations WHERE paper_id = ?1", "p1") == 1);
  CHECK(near(atof(q("SELECT cost_usd FROM papers WHERE paper_id = ?1", "p1")), 0.002));

  /* A second success with a new event id (redelivery after a lost ack):
   * stored once, but its spend counts. */
  CHECK(succeeded("ok-p1-b", "p1", 0, 1, T0 + 9 * MIN, 0.003, 0) == LEDGER_KEPT);
  CHECK_STR(state("p1"), "succeeded");
  CHECK(qn("SELECT count(*) FROM translations WHERE paper_id = ?1", "p1") == 1);
  CHECK(near(atof(q("SELECT cost_usd FROM papers WHERE paper_id = ?1", "p1")), 0.005));
  CHECK_STR(q("SELECT event_id FROM translations WHERE paper_id = ?1", "p1"), "ok-p1-a");
  CHECK(qn("SELECT count(*) FROM attempts WHERE paper_id = ?1 AND outcome = 'duplicate'", "p1") ==
        0); /* same worker and attempt: one row, first outcome stays succeeded */

  /* Late start and a parked copy after the success change nothing. */
  CHECK(started("s-p1-2", "p1", 0, 2, T0 + 10 * MIN) == LEDGER_KEPT);
  CHECK_STR(state("p1"), "succeeded");
  CHECK(parked("p1", 0, "max_attempts: http 500", NULL, 5) == LEDGER_KEPT);
  CHECK_STR(state("p1"), "succeeded");
  CHECK_STR(q("SELECT coalesce(park_reason, 'none') FROM papers WHERE paper_id = ?1", "p1"),
            "none");
  queued("p1", 0, T0 + 11 * MIN); /* a re-run of the producer */
  CHECK_STR(state("p1"), "succeeded");

  /* p2: parked by the broker as poison, then a worker finishes it anyway. */
  queued("p2", 0, T0);
  started("s-p2-1", "p2", 0, 1, T0 + 1000);
  CHECK(parked("p2", 0, "", "delivery_limit", 1) == LEDGER_APPLIED);
  CHECK_STR(state("p2"), "parked");
  CHECK(strstr(q("SELECT park_reason FROM papers WHERE paper_id = ?1", "p2"), "poison") != NULL);
  CHECK(succeeded("ok-p2", "p2", 0, 1, T0 + 9 * MIN + 30000, 0.001, 1) == LEDGER_APPLIED);
  CHECK_STR(state("p2"), "succeeded");
  CHECK(qn("SELECT count(*) FROM translations WHERE paper_id = ?1", "p2") == 1);

  /* A parked QA job leaves the paper succeeded and is counted apart. */
  {
    const char *qbody = "{\"v\":1,\"paper_id\":\"p2\",\"gen\":0,\"record\":{\"id\":\"p2\"},"
                        "\"translation\":{\"title_en\":\"T\"}}";
    struct ledger_msg m = {0};
    m.type = PQ_MSG_TYPE_QA;
    m.body = qbody;
    m.len = strlen(qbody);
    m.park_reason = "max_attempts: judge reply not JSON";
    m.attempt = 5;
    CHECK(ledger_db_apply(db, &m, NULL) == PQ_OK);
    CHECK(ledger_db_commit(db) == PQ_OK);
    CHECK_STR(state("p2"), "succeeded");
    CHECK_STR(q("SELECT reason FROM qa_parked WHERE paper_id = ?1", "p2"),
              "max_attempts: judge reply not JSON");
  }

  /* p3: failures are attempts with their errors; reordering does not move
   * the state backwards; a permanent failure ends parked with the reason. */
  queued("p3", 0, T0);
  started("s-p3-1", "p3", 0, 1, T0 + 1000);
  CHECK(failed("f-p3-1", "p3", 0, 1, "transient", 1, "http 500: upstream") == LEDGER_APPLIED);
  CHECK_STR(state("p3"), "retrying");
  started("s-p3-2", "p3", 0, 2, T0 + 3000);
  CHECK_STR(state("p3"), "running");
  CHECK(failed("f-p3-1b", "p3", 0, 1, "transient", 1, "late copy") == LEDGER_KEPT);
  CHECK_STR(state("p3"), "running");
  CHECK(failed("f-p3-2", "p3", 0, 2, "permanent", 0, "http 400: bad input") == LEDGER_APPLIED);
  CHECK(parked("p3", 0, "permanent: http 400: bad input", NULL, 2) == LEDGER_APPLIED);
  CHECK_STR(state("p3"), "parked");
  CHECK(qn("SELECT count(*) FROM attempts WHERE paper_id = ?1 AND outcome = 'failed'", "p3") == 2);
  CHECK_STR(q("SELECT error FROM attempts WHERE paper_id = ?1 AND attempt = 2", "p3"),
            "http 400: bad input");
  CHECK_STR(q("SELECT park_reason FROM papers WHERE paper_id = ?1", "p3"),
            "permanent: http 400: bad input");
  CHECK(qn("SELECT attempts FROM papers WHERE paper_id = ?1", "p3") == 2);

  /* p4: a fatal error hands the job back: queued, not failed, not parked. */
  queued("p4", 0, T0);
  started("s-p4-1", "p4", 0, 1, T0 + 1000);
  failed("f-p4-1", "p4", 0, 1, "fatal", 0, "http 401: invalid API key");
  CHECK_STR(state("p4"), "queued");
  CHECK(started("s-p4-1b", "p4", 0, 1, T0 + 5000) == LEDGER_APPLIED);
  CHECK_STR(state("p4"), "running");

  /* p5: generation 1 after a requeue; events of generation 0 are history. */
  queued("p5", 0, T0);
  parked("p5", 0, "max_attempts: timeout", NULL, 5);
  CHECK(ledger_db_requeued(db, "p5", 1) == PQ_OK);
  CHECK(ledger_db_commit(db) == PQ_OK);
  CHECK_STR(state("p5"), "queued");
  CHECK(started("s-p5-old", "p5", 0, 6, T0 + 4000) == LEDGER_STALE);
  CHECK_STR(state("p5"), "queued");
  CHECK(succeeded("ok-p5-old", "p5", 0, 6, T0 + 4000, 0.001, 0) == LEDGER_STALE);
  CHECK_STR(state("p5"), "queued");
  CHECK(qn("SELECT gen FROM papers WHERE paper_id = ?1", "p5") == 1);
  CHECK(parked("p5", 0, "max_attempts: old copy", NULL, 5) == LEDGER_STALE);
  CHECK_STR(state("p5"), "queued");
  CHECK(started("s-p5-1", "p5", 1, 1, T0 + 5000) == LEDGER_APPLIED);
  CHECK_STR(state("p5"), "running");
  CHECK(ledger_db_requeued(db, "p5", 1) == PQ_ERR_PARSE); /* not newer */
  ledger_db_rollback(db);

  /* Bad messages: recorded with a reason, never fatal, not double counted. */
  CHECK(raw(PQ_MSG_TYPE_EVENT, "{not json") == LEDGER_BAD);
  CHECK(raw(PQ_MSG_TYPE_EVENT, "[1,2]") == LEDGER_BAD);
  CHECK(raw(PQ_MSG_TYPE_EVENT, "{\"v\":1,\"kind\":\"job.started\",\"paper_id\":\"x\"}") ==
        LEDGER_BAD);
  CHECK(raw(PQ_MSG_TYPE_EVENT, "{\"v\":1,\"id\":\"u1\",\"kind\":\"job.teleported\",\"paper_id\":"
                               "\"x\"}") == LEDGER_BAD);
  CHECK(raw(PQ_MSG_TYPE_EVENT, "{\"v\":1,\"id\":\"u1\",\"kind\":\"job.teleported\",\"paper_id\":"
                               "\"x\"}") == LEDGER_DUPLICATE);
  CHECK(raw(PQ_MSG_TYPE_EVENT, "{\"v\":1,\"id\":\"u2\",\"kind\":\"job.succeeded\",\"paper_id\":"
                               "\"x\"}") == LEDGER_BAD);
  CHECK(raw(PQ_MSG_TYPE_EVENT, "{\"v\":2,\"id\":\"u3\",\"kind\":\"job.started\",\"paper_id\":"
                               "\"x\"}") == LEDGER_BAD);
  CHECK(raw(PQ_MSG_TYPE_EVENT,
            "{\"v\":1,\"id\":\"u4\",\"kind\":\"qa.scored\",\"paper_id\":\"p1\","
            "\"judge\":\"j\",\"scores\":{\"accuracy\":0,\"fluency\":1,"
            "\"terminology\":1,\"completeness\":1,\"overall\":11}}") == LEDGER_BAD);
  CHECK(raw(PQ_MSG_TYPE_JOB, "{\"v\":1,\"gen\":0}") == LEDGER_BAD);
  CHECK(raw("something.else", "{}") == LEDGER_BAD);
  CHECK(qn("SELECT count(*) FROM bad_messages", NULL) == 9);
  CHECK(strcmp(q("SELECT reason FROM bad_messages WHERE id = 1", NULL), "not valid JSON") == 0);
  CHECK(strcmp(q("SELECT CAST(head AS TEXT) FROM bad_messages WHERE id = 1", NULL), "{not json") ==
        0);
  CHECK(qn("SELECT count(*) FROM papers WHERE paper_id = 'x'", NULL) == 0);

  /* Workers: live, stale, and a fatal error the report must show. */
  ev("{\"v\":1,\"id\":\"hb1\",\"kind\":\"worker.heartbeat\",\"ts\":%lld,\"worker\":\"w-live\","
     "\"in_flight\":3,\"done\":10,\"failed\":1,\"started_ms\":%lld,\"concurrency\":16}",
     T0 + 10 * MIN - 5000, T0);
  ev("{\"v\":1,\"id\":\"hb2\",\"kind\":\"worker.heartbeat\",\"ts\":%lld,\"worker\":\"w-stale\","
     "\"in_flight\":0,\"done\":1,\"failed\":0}",
     T0);
  ev("{\"v\":1,\"id\":\"hb3\",\"kind\":\"worker.heartbeat\",\"ts\":%lld,\"worker\":\"w-bad\"}",
     T0 + MIN);
  ev("{\"v\":1,\"id\":\"fx1\",\"kind\":\"worker.fatal\",\"ts\":%lld,\"worker\":\"w-bad\","
     "\"error\":\"http 401: invalid API key\",\"model\":\"m1\"}",
     T0 + 2 * MIN);
  ev("{\"v\":1,\"id\":\"st1\",\"kind\":\"worker.stopped\",\"ts\":%lld,\"worker\":\"w-bad\","
     "\"reason\":\"fatal\"}",
     T0 + 2 * MIN + 10);
  CHECK_STR(q("SELECT state FROM workers WHERE worker = ?1", "w-bad"), "fatal");

  /* QA: two judges on three papers. Overall A: 9, 8, 7; B: 8, 8, 5.
   * Means 8 and 7, all 7.5; agreement (|9-8| + |8-8| + |7-5|) / 3 = 1. */
  judged("qa1", "p1", "judge-a", 9, 9, T0 + 9 * MIN);
  judged("qa2", "p2", "judge-a", 8, 8, T0 + 9 * MIN);
  judged("qa3", "p3", "judge-a", 7, 7, T0 + 9 * MIN);
  judged("qb1", "p1", "judge-b", 10, 8, T0 + 9 * MIN);
  judged("qb2", "p2", "judge-b", 6, 8, T0 + 9 * MIN);
  judged("qb3", "p3", "judge-b", 5, 5, T0 + 9 * MIN);
  judged("qb3", "p3", "judge-b", 5, 5, T0 + 9 * MIN);     /* duplicate: ignored */
  judged("qa3-old", "p3", "judge-a", 2, 2, T0 + 8 * MIN); /* older than qa3: history */

  /* Report as of T0 + 10 min. Papers: p1 p2 succeeded, p3 parked, p4 p5
   * running. Succeeded in the 5-minute window (buckets from T0+6min, 4 min
   * of time): p1 at T0+8min, p2 at T0+9.5min -> 2 / 4 min = 0.5/min. */
  cfg.targets.qa_min = 7.0;
  cfg.targets.max_failed_ratio = 0.01;
  cfg.targets.budget_usd = 1.0;
  cfg.targets.max_hours = 0.1; /* 6 min: does not hold after 10 */
  cfg.ledger.stale_s = 60;
  cfg.budget.max_usd = 2.0;
  cJSON *r = NULL;
  CHECK(ledger_report_build(db, &cfg, T0 + 10 * MIN, &r) == PQ_OK);
  if (!r)
    TEST_MAIN_END();
  CHECK(jnum_at(r, "papers.total") == 5);
  CHECK(jnum_at(r, "papers.succeeded") == 2);
  CHECK(jnum_at(r, "papers.parked") == 1);
  CHECK(jnum_at(r, "papers.running") == 2);
  CHECK(jnum_at(r, "papers.queued") == 0);
  CHECK(jnum_at(r, "papers.retrying") == 0);
  /* Spend: p1 0.002+0.003, p2 0.001, p5 old 0.001, failures 4 x 0.0001. */
  CHECK(near(jnum_at(r, "cost.translate_usd"), 0.0074));
  CHECK(near(jnum_at(r, "cost.qa_usd"), 0.007)); /* 7 new qa events */
  CHECK(near(jnum_at(r, "cost_usd"), 0.0144));
  CHECK(near(jnum_at(r, "cost.per_paper_usd"), 0.0144 / 2));
  CHECK(near(jnum_at(r, "cost.projected_remaining_usd"), 0.0144)); /* 2 left */
  CHECK(jnum_at(r, "tokens.prompt") == 4 * 100 + 4 * 10);
  CHECK(jnum_at(r, "tokens.completion") == 4 * 50);
  CHECK(jnum_at(r, "tokens.qa_prompt") == 7000);
  CHECK(near(jnum_at(r, "rate.last_5_min"), 0.5));
  CHECK(near(jnum_at(r, "rate_per_min"), 0.5));
  CHECK(near(jnum_at(r, "eta_s"), 2 / 0.5 * 60));
  CHECK(jnum_at(r, "dry_run_papers") == 1);
  CHECK(jnum_at(r, "bad_messages") == 9);
  CHECK(jnum_at(r, "workers.live") == 1);
  CHECK(jnum_at(r, "workers.stale") == 1);
  CHECK(cJSON_GetArraySize(jget(r, "workers.fatal")) == 1);
  char *fatal = cJSON_PrintUnformatted(jget(r, "workers.fatal"));
  CHECK(fatal && strstr(fatal, "http 401: invalid API key") && strstr(fatal, "w-bad"));
  cJSON_free(fatal);
  CHECK(jnum_at(r, "qa.papers_judged") == 3);
  CHECK(jnum_at(r, "qa.jobs_parked") == 1);
  CHECK(jnum_at(r, "qa.judgements") == 6);
  CHECK(near(jnum_at(r, "qa.mean_overall"), 7.5));
  CHECK(near(jnum_at(r, "qa.by_judge.judge-a.overall"), 8));
  CHECK(near(jnum_at(r, "qa.by_judge.judge-b.overall"), 7));
  CHECK(near(jnum_at(r, "qa.by_judge.judge-a.accuracy"), 8));
  CHECK(near(jnum_at(r, "qa.by_judge.judge-b.accuracy"), 7));
  CHECK(near(jnum_at(r, "qa.by_judge.judge-b.fluency"), 8));
  CHECK(jnum_at(r, "qa.by_judge.judge-a.count") == 3);
  CHECK(near(jnum_at(r, "qa.agreement_mad"), 1.0));
  const cJSON *hist = jget(r, "qa.overall_histogram");
  CHECK(cJSON_GetArraySize(hist) == 10);
  CHECK(cJSON_GetArrayItem(hist, 7)->valuedouble == 3); /* three 8s */
  CHECK(cJSON_GetArrayItem(hist, 4)->valuedouble == 1); /* one 5 */
  const cJSON *lowest = cJSON_GetArrayItem(jget(r, "qa.lowest"), 0);
  CHECK(lowest &&
        strcmp(cJSON_GetObjectItemCaseSensitive(lowest, "paper_id")->valuestring, "p3") == 0);
  CHECK(lowest && near(jnum_at(lowest, "overall"), 6));
  const cJSON *t = target(r, "qa_min");
  CHECK(t && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "holds")));
  t = target(r, "max_failed_ratio");
  CHECK(t && near(jnum_at(t, "actual"), 0.2) &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "holds")));
  t = target(r, "budget_usd");
  CHECK(t && near(jnum_at(t, "actual"), 0.0144) &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "holds")));
  t = target(r, "max_hours");
  CHECK(t && near(jnum_at(t, "actual"), 10.0 / 60) &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "holds")));
  CHECK(near(jnum_at(r, "budget.max_usd"), 2.0));
  CHECK(cJSON_IsFalse(jget(r, "budget.stopped")));
  check_qa_against_scan(r);
  ledger_report_print(r, stderr); /* must not crash; shown in the test log */
  cJSON_Delete(r);

  /* Budget: reaching budget.max_usd records the stop (the report says so);
   * raising it above the spend clears it. mq NULL: state only. */
  struct ledger_budget budget = {0};
  cfg.budget.max_usd = 0.01;
  CHECK(ledger_budget_check(db, &cfg, NULL, &budget) == PQ_OK);
  CHECK(budget.stopped == 1);
  CHECK_STR(q("SELECT value FROM meta WHERE key = 'budget_stopped'", NULL), "1");
  CHECK(ledger_report_build(db, &cfg, T0 + 10 * MIN, &r) == PQ_OK);
  CHECK(r && cJSON_IsTrue(jget(r, "budget.stopped")) &&
        near(jnum_at(r, "budget.spent_usd"), 0.0144));
  cJSON_Delete(r);
  cfg.budget.max_usd = 1.0;
  struct ledger_budget fresh = {0}; /* a restarted ledger reads the state back */
  CHECK(ledger_budget_check(db, &cfg, NULL, &fresh) == PQ_OK);
  CHECK(fresh.stopped == 0);
  CHECK_STR(q("SELECT value FROM meta WHERE key = 'budget_stopped'", NULL), "0");
  cfg.budget.max_usd = 2.0;

  /* A newer judgement replaces the judge's current one; a requeue makes
   * the paper's judgements history. */
  judged("qa3-new", "p3", "judge-a", 9, 9, T0 + 10 * MIN);
  CHECK(ledger_report_build(db, &cfg, T0 + 10 * MIN, &r) == PQ_OK);
  CHECK(r && near(jnum_at(r, "qa.by_judge.judge-a.overall"), (9 + 8 + 9) / 3.0));
  CHECK(r && near(jnum_at(r, "qa.agreement_mad"), (1 + 0 + 4) / 3.0));
  if (r)
    check_qa_against_scan(r);
  cJSON_Delete(r);
  CHECK(ledger_db_requeued(db, "p3", 1) == PQ_OK);
  CHECK(ledger_db_commit(db) == PQ_OK);
  CHECK(ledger_report_build(db, &cfg, T0 + 10 * MIN, &r) == PQ_OK);
  CHECK(r && jnum_at(r, "qa.papers_judged") == 2);
  CHECK(r && jnum_at(r, "papers.parked") == 0 && jnum_at(r, "papers.queued") == 1);
  if (r)
    check_qa_against_scan(r);
  cJSON_Delete(r);

  /* A fast paper may succeed without any job.started: queued -> succeeded,
   * its start time taken from the success's timings. */
  queued("p6", 0, T0);
  CHECK(succeeded("ok-p6", "p6", 0, 1, T0 + 9 * MIN, 0, 0) == LEDGER_APPLIED);
  CHECK_STR(state("p6"), "succeeded");
  CHECK(qn("SELECT started_ms FROM papers WHERE paper_id = ?1", "p6") == T0 + 9 * MIN - 1000);

  /* Export: one JSON (and Markdown) file per succeeded paper; an id with
   * unsafe characters gets a safe, collision-proof file name. */
  {
    char out[300], file[400];
    queued("a/b", 0, T0);
    succeeded("ok-ab", "a/b", 0, 1, T0 + 9 * MIN, 0, 0);
    free(cfg.ledger.db);
    cfg.ledger.db = strdup(db_path);
    snprintf(out, sizeof out, "%s/export", dir);
    CHECK(ledger_export(&cfg, out, 1) == PQ_EXIT_OK);
    snprintf(file, sizeof file, "%s/p1.json", out);
    char *text = NULL;
    size_t len;
    CHECK(pq_read_file(file, 1 << 20, &text, &len) == PQ_OK);
    cJSON *x = text ? cJSON_Parse(text) : NULL;
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(x, "paper_id")), "p1");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(x, "title_en")), "T p1");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(x, "title")), "题目 p1");
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(x, "body_en")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(x, "dry_run")));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(x, "model")), "m1");
    CHECK(near(jnum_at(x, "usage.prompt_tokens"), 100));
    cJSON_Delete(x);
    free(text);
    snprintf(file, sizeof file, "%s/p1.md", out);
    CHECK(access(file, R_OK) == 0);
    snprintf(file, sizeof file, "%s/p3.json", out); /* parked: not exported */
    CHECK(access(file, F_OK) != 0);
    snprintf(file, sizeof file, "%s/a_b-%016llx.json", out, (unsigned long long)pq_hash64("a/b"));
    CHECK(access(file, R_OK) == 0);
    CHECK(ledger_show(&cfg, "no-such-paper", 0) == PQ_EXIT_RUNTIME);
    CHECK(ledger_show(&cfg, "p3", 1) == PQ_EXIT_OK);
    CHECK(ledger_failed(&cfg, 0) == PQ_EXIT_OK);
  }

  /* Churn: three judges re-judging 12 papers out of order while some are
   * requeued; the maintained statistics must still equal a full scan. */
  unsigned long long rng = 42;
  long gens[12] = {0};
  for (int i = 0; i < 12; i++) {
    char id[16];
    snprintf(id, sizeof id, "r%d", i);
    queued(id, 0, T0);
  }
  for (int step = 0; step < 400; step++) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned v = (unsigned)(rng >> 33);
    int paper = (int)(v % 12);
    char id[16], evid[32];
    snprintf(id, sizeof id, "r%d", paper);
    if (v % 17 == 0) {
      CHECK(ledger_db_requeued(db, id, gens[paper] + 1) == PQ_OK);
      CHECK(ledger_db_commit(db) == PQ_OK);
      gens[paper]++;
      continue;
    }
    long gen = gens[paper] - (long)((v >> 4) % 3 == 0 && gens[paper] > 0);
    snprintf(evid, sizeof evid, "rq%d", step);
    ev("{\"v\":1,\"id\":\"%s\",\"kind\":\"qa.scored\",\"ts\":%lld,\"paper_id\":\"%s\","
       "\"gen\":%ld,\"judge\":\"j%u\",\"scores\":{\"accuracy\":%u,\"fluency\":5,"
       "\"terminology\":5,\"completeness\":5,\"overall\":%g}}",
       evid, T0 + (long long)((v >> 8) % 1000), id, gen, (v >> 12) % 3, 1 + (v >> 16) % 10,
       1 + (double)((v >> 20) % 19) / 2);
  }
  CHECK(ledger_report_build(db, &cfg, T0 + 10 * MIN, &r) == PQ_OK);
  if (r)
    check_qa_against_scan(r);
  CHECK(qn("SELECT count(*) FROM (SELECT paper_id, judge FROM qa_judgements WHERE current = 1"
           " GROUP BY paper_id, judge HAVING count(*) > 1)",
           NULL) == 0);
  /* The churn did exercise history: retired, stale and current rows. */
  CHECK(qn("SELECT count(*) FROM qa_judgements WHERE paper_id LIKE 'r%' AND current = 0", NULL) >
        100);
  CHECK(qn("SELECT count(*) FROM qa_judgements WHERE paper_id LIKE 'r%' AND current = 1", NULL) >
        10);
  cJSON_Delete(r);

  /* Counters survive a reopen and match a recount of the rows. */
  ledger_db_close(db);
  CHECK(ledger_db_open(db_path, 0, &db, err, sizeof err) == PQ_OK);
  struct ledger_counters c;
  CHECK(ledger_db_counters(db, &c) == PQ_OK);
  CHECK(c.n[LC_PAPERS] == qn("SELECT count(*) FROM papers", NULL));
  for (int i = 0; i < LEDGER_NSTATES; i++)
    CHECK(c.n[LC_STATE0 + i] ==
          qn("SELECT count(*) FROM papers WHERE state = ?1", ledger_state_name(i)));
  CHECK(c.n[LC_DRY_RUN] ==
        qn("SELECT count(*) FROM papers WHERE state = 'succeeded' AND dry_run = 1", NULL));

  /* A rolled-back batch leaves neither rows nor counts. */
  struct ledger_msg m = {0};
  char body[512];
  snprintf(body, sizeof body,
           "{\"v\":1,\"id\":\"rb1\",\"kind\":\"job.queued\",\"ts\":%lld,\"paper_id\":\"p9\","
           "\"gen\":0,\"record\":{\"id\":\"p9\",\"title\":\"t\"}}",
           T0);
  m.type = PQ_MSG_TYPE_EVENT;
  m.body = body;
  m.len = strlen(body);
  CHECK(ledger_db_apply(db, &m, NULL) == PQ_OK);
  ledger_db_rollback(db);
  CHECK(ledger_db_counters(db, &c) == PQ_OK);
  CHECK(c.n[LC_PAPERS] == 19);
  CHECK(qn("SELECT count(*) FROM events_seen WHERE event_id = 'rb1'", NULL) == 0);
  ledger_db_close(db);
  pq_config_free(&cfg);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
