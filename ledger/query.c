/* The ledger's read API (query.h): each question asked of the database as
 * one SELECT whose rows are handed out as structs, so the commands that
 * print them never see SQL or sqlite3. */
#include "query.h"
#include "db_internal.h"

#include "paperq/util.h"

#include <string.h>

/* Slots of ledger_db_reader (statements kept prepared). */
enum { READER_STATE = 0 };

static const char *text(sqlite3_stmt *s, int i) { return (const char *)sqlite3_column_text(s, i); }

static struct ledger_int opt_int(sqlite3_stmt *s, int i) {
  struct ledger_int v = {0, 0};
  if (sqlite3_column_type(s, i) != SQLITE_NULL) {
    v.known = 1;
    v.v = sqlite3_column_int64(s, i);
  }
  return v;
}

/* A statement for sql with paper_id (may be NULL: binds NULL) as ?1. */
static sqlite3_stmt *prepare(struct ledger_db *db, const char *sql, const char *paper_id) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(ledger_db_conn(db), sql, -1, &s, NULL) != SQLITE_OK) {
    ledger_db_fail(db, sql);
    sqlite3_finalize(s);
    return NULL;
  }
  if (paper_id)
    sqlite3_bind_text(s, 1, paper_id, -1, SQLITE_STATIC);
  return s;
}

/* Steps s (NULL: the prepare failed): 1 when a row is ready; 0 at the end,
 * after an error (logged) or once *rc is not PQ_OK (a callback stopped). */
static int next_row(struct ledger_db *db, sqlite3_stmt *s, int *rc) {
  if (!s)
    *rc = PQ_ERR_IO;
  if (*rc != PQ_OK)
    return 0;
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW)
    return 1;
  if (step != SQLITE_DONE)
    *rc = ledger_db_fail(db, sqlite3_sql(s));
  return 0;
}

/* ---- one snapshot ---- */

int ledger_query_begin(struct ledger_db *db, int *own) {
  sqlite3 *sq = ledger_db_conn(db);
  *own = sqlite3_get_autocommit(sq);
  if (*own && sqlite3_exec(sq, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    *own = 0;
    return ledger_db_fail(db, "BEGIN");
  }
  return PQ_OK;
}

void ledger_query_end(struct ledger_db *db, int own) {
  if (own)
    sqlite3_exec(ledger_db_conn(db), "COMMIT", NULL, NULL, NULL);
}

/* ---- papers ---- */

#define PAPER_COLUMNS                                                                              \
  "paper_id, state, gen, attempts, title, origin, queued_ms, started_ms, finished_ms,"             \
  " last_error, park_reason, model, dry_run, prompt_tokens, completion_tokens, cost_usd,"          \
  " qa_cost_usd, updated_ms"

/* Hands each papers row of s to fn; finalizes s. *rows counts them. */
static int paper_rows(struct ledger_db *db, sqlite3_stmt *s,
                      int (*fn)(void *ctx, const struct ledger_paper_row *r), void *ctx,
                      int *rows) {
  struct ledger_paper_row r;
  int rc = PQ_OK;
  *rows = 0;
  while (next_row(db, s, &rc)) {
    r.paper_id = text(s, 0);
    r.state = text(s, 1);
    r.gen = (long)sqlite3_column_int64(s, 2);
    r.attempts = (long)sqlite3_column_int64(s, 3);
    r.title = text(s, 4);
    r.origin = text(s, 5);
    r.queued_ms = opt_int(s, 6);
    r.started_ms = opt_int(s, 7);
    r.finished_ms = opt_int(s, 8);
    r.last_error = text(s, 9);
    r.park_reason = text(s, 10);
    r.model = text(s, 11);
    r.dry_run = sqlite3_column_int(s, 12);
    r.prompt_tokens = sqlite3_column_int64(s, 13);
    r.completion_tokens = sqlite3_column_int64(s, 14);
    r.cost_usd = sqlite3_column_double(s, 15);
    r.qa_cost_usd = sqlite3_column_double(s, 16);
    r.updated_ms = sqlite3_column_int64(s, 17);
    (*rows)++;
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_paper(struct ledger_db *db, const char *paper_id,
                       int (*fn)(void *ctx, const struct ledger_paper_row *r), void *ctx,
                       int *found) {
  int rows;
  int rc = paper_rows(
      db, prepare(db, "SELECT " PAPER_COLUMNS " FROM papers WHERE paper_id = ?1", paper_id), fn,
      ctx, &rows);
  if (found)
    *found = rows > 0;
  return rc;
}

int ledger_query_papers_in_state(struct ledger_db *db, int state,
                                 int (*fn)(void *ctx, const struct ledger_paper_row *r),
                                 void *ctx) {
  int rows;
  sqlite3_stmt *s =
      prepare(db, "SELECT " PAPER_COLUMNS " FROM papers WHERE state = ?1 ORDER BY paper_id", NULL);
  if (s)
    sqlite3_bind_text(s, 1, ledger_state_name(state), -1, SQLITE_STATIC);
  return paper_rows(db, s, fn, ctx, &rows);
}

int ledger_query_state(struct ledger_db *db, const char *paper_id, int *found, int *state) {
  sqlite3_stmt *s =
      ledger_db_reader(db, READER_STATE, "SELECT state FROM papers WHERE paper_id = ?1");
  *found = 0;
  *state = -1;
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, paper_id, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    *found = 1;
    *state = ledger_state_parse(text(s, 0));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s); /* paper_id was bound without a copy */
  return step == SQLITE_ROW || step == SQLITE_DONE ? PQ_OK
                                                   : ledger_db_fail(db, "reading a paper's state");
}

/* ---- attempts, translations, judgements ---- */

int ledger_query_attempts(struct ledger_db *db, const char *paper_id,
                          int (*fn)(void *ctx, const struct ledger_attempt_row *r), void *ctx) {
  sqlite3_stmt *s =
      prepare(db,
              "SELECT gen, attempt, worker, started_ms, finished_ms, outcome, error_class, error,"
              " prompt_tokens, completion_tokens, cost_usd FROM attempts WHERE paper_id = ?1"
              " ORDER BY gen, attempt, coalesce(started_ms, finished_ms)",
              paper_id);
  struct ledger_attempt_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.gen = (long)sqlite3_column_int64(s, 0);
    r.attempt = (long)sqlite3_column_int64(s, 1);
    r.worker = text(s, 2);
    r.started_ms = opt_int(s, 3);
    r.finished_ms = opt_int(s, 4);
    r.outcome = text(s, 5);
    r.error_class = text(s, 6);
    r.error = text(s, 7);
    r.prompt_tokens = sqlite3_column_int64(s, 8);
    r.completion_tokens = sqlite3_column_int64(s, 9);
    r.cost_usd = sqlite3_column_double(s, 10);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_latest_translation(struct ledger_db *db, const char *paper_id,
                                    int (*fn)(void *ctx, const struct ledger_translation_row *r),
                                    void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT gen, model, dry_run, doc, checks, usage, cost_usd, llm_ms,"
                            " created_ms, worker, event_id FROM translations WHERE paper_id = ?1"
                            " ORDER BY gen DESC LIMIT 1",
                            paper_id);
  struct ledger_translation_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.gen = (long)sqlite3_column_int64(s, 0);
    r.model = text(s, 1);
    r.dry_run = sqlite3_column_int(s, 2);
    r.doc = text(s, 3);
    r.checks = text(s, 4);
    r.usage = text(s, 5);
    r.cost_usd = sqlite3_column_double(s, 6);
    r.llm_ms = opt_int(s, 7);
    r.created_ms = opt_int(s, 8);
    r.worker = text(s, 9);
    r.event_id = text(s, 10);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_judgements(struct ledger_db *db, const char *paper_id,
                            int (*fn)(void *ctx, const struct ledger_judgement_row *r), void *ctx) {
  /* The score columns are named as pq_qa_score_names, in that order. */
  sqlite3_stmt *s = prepare(db,
                            "SELECT judge, gen, accuracy, fluency, terminology, completeness,"
                            " overall, comments, created_ms, current FROM qa_judgements"
                            " WHERE paper_id = ?1 ORDER BY created_ms, id",
                            paper_id);
  struct ledger_judgement_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.judge = text(s, 0);
    r.gen = (long)sqlite3_column_int64(s, 1);
    for (int i = 0; i < PQ_QA_NSCORES; i++)
      r.score[i] = sqlite3_column_double(s, 2 + i);
    r.comments = text(s, 2 + PQ_QA_NSCORES);
    r.created_ms = opt_int(s, 3 + PQ_QA_NSCORES);
    r.current = sqlite3_column_int(s, 4 + PQ_QA_NSCORES);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_qa_parked(struct ledger_db *db, const char *paper_id,
                           int (*fn)(void *ctx, const struct ledger_qa_parked_row *r), void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT gen, attempt, reason, received_ms FROM qa_parked"
                            " WHERE paper_id = ?1 ORDER BY id",
                            paper_id);
  struct ledger_qa_parked_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.gen = (long)sqlite3_column_int64(s, 0);
    r.attempt = opt_int(s, 1);
    r.reason = text(s, 2);
    r.received_ms = opt_int(s, 3);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

/* ---- export, requeue, qa ---- */

int ledger_query_succeeded(struct ledger_db *db,
                           int (*fn)(void *ctx, const struct ledger_export_row *r), void *ctx) {
  /* A succeeded paper's translation is the one of its current generation. */
  sqlite3_stmt *s = prepare(db,
                            "SELECT p.paper_id, p.gen, t.model, t.doc, t.dry_run, t.checks,"
                            " t.usage, t.cost_usd, s.record, p.cost_usd, p.finished_ms"
                            " FROM papers p"
                            " JOIN translations t ON t.paper_id = p.paper_id AND t.gen = p.gen"
                            " LEFT JOIN sources s ON s.paper_id = p.paper_id"
                            " WHERE p.state = 'succeeded' ORDER BY p.paper_id",
                            NULL);
  struct ledger_export_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.paper_id = text(s, 0);
    r.gen = (long)sqlite3_column_int64(s, 1);
    r.model = text(s, 2);
    r.doc = text(s, 3);
    r.dry_run = sqlite3_column_int(s, 4);
    r.checks = text(s, 5);
    r.usage = text(s, 6);
    r.translation_cost_usd = sqlite3_column_double(s, 7);
    r.record = text(s, 8);
    r.cost_usd = sqlite3_column_double(s, 9);
    r.finished_ms = opt_int(s, 10);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

/* Hands each (paper_id, gen, record) row of s to fn; finalizes s. */
static int source_rows(struct ledger_db *db, sqlite3_stmt *s,
                       int (*fn)(void *ctx, const struct ledger_source_row *r), void *ctx) {
  struct ledger_source_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.paper_id = text(s, 0);
    r.gen = (long)sqlite3_column_int64(s, 1);
    r.record = text(s, 2);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_parked_sources(struct ledger_db *db, const char *paper_id,
                                int (*fn)(void *ctx, const struct ledger_source_row *r),
                                void *ctx) {
  return source_rows(db,
                     prepare(db,
                             "SELECT p.paper_id, p.gen, s.record FROM papers p"
                             " LEFT JOIN sources s ON s.paper_id = p.paper_id"
                             " WHERE p.state = 'parked' AND (?1 IS NULL OR p.paper_id = ?1)"
                             " ORDER BY p.paper_id",
                             paper_id),
                     fn, ctx);
}

int ledger_query_low_qa_sources(struct ledger_db *db, double below, const char *paper_id,
                                int (*fn)(void *ctx, const struct ledger_source_row *r),
                                void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT p.paper_id, p.gen, s.record FROM qa_paper_stats q"
                            " JOIN papers p ON p.paper_id = q.paper_id"
                            " LEFT JOIN sources s ON s.paper_id = p.paper_id"
                            " WHERE q.n > 0 AND q.mean_overall < ?2 AND p.state = 'succeeded'"
                            " AND (?1 IS NULL OR p.paper_id = ?1) ORDER BY p.paper_id",
                            paper_id);
  if (s)
    sqlite3_bind_double(s, 2, below);
  return source_rows(db, s, fn, ctx);
}

int ledger_query_current(struct ledger_db *db, const char *paper_id,
                         int (*fn)(void *ctx, const struct ledger_current_row *r), void *ctx,
                         int *found) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT p.state, p.gen, s.record, t.doc FROM papers p"
                            " LEFT JOIN sources s ON s.paper_id = p.paper_id"
                            " LEFT JOIN translations t ON t.paper_id = p.paper_id AND t.gen = p.gen"
                            " WHERE p.paper_id = ?1",
                            paper_id);
  struct ledger_current_row r;
  int rc = PQ_OK, rows = 0;
  while (next_row(db, s, &rc)) {
    r.state = text(s, 0);
    r.gen = (long)sqlite3_column_int64(s, 1);
    r.record = text(s, 2);
    r.doc = text(s, 3);
    rows++;
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  if (found)
    *found = rows > 0;
  return rc;
}

/* ---- the report's small tables ---- */

int ledger_query_succeeded_since(struct ledger_db *db, int64_t minute, long long *count) {
  sqlite3_stmt *s =
      prepare(db, "SELECT coalesce(sum(succeeded), 0) FROM throughput WHERE minute >= ?1", NULL);
  int rc = PQ_OK;
  *count = 0;
  if (s)
    sqlite3_bind_int64(s, 1, minute);
  if (next_row(db, s, &rc))
    *count = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_workers(struct ledger_db *db,
                         int (*fn)(void *ctx, const struct ledger_worker_row *r), void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT worker, state, last_seen_ms, state_ms, in_flight, done,"
                            " failed, concurrency, fatal_error, fatal_model, stop_reason"
                            " FROM workers ORDER BY worker",
                            NULL);
  struct ledger_worker_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.worker = text(s, 0);
    r.state = text(s, 1);
    r.last_seen_ms = sqlite3_column_int64(s, 2);
    r.state_ms = sqlite3_column_int64(s, 3);
    r.in_flight = opt_int(s, 4);
    r.done = opt_int(s, 5);
    r.failed = opt_int(s, 6);
    r.concurrency = opt_int(s, 7);
    r.fatal_error = text(s, 8);
    r.fatal_model = text(s, 9);
    r.stop_reason = text(s, 10);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_latest_bad(struct ledger_db *db,
                            int (*fn)(void *ctx, const struct ledger_bad_row *r), void *ctx) {
  sqlite3_stmt *s =
      prepare(db, "SELECT reason, received_ms FROM bad_messages ORDER BY id DESC LIMIT 1", NULL);
  struct ledger_bad_row r;
  int rc = PQ_OK;
  if (next_row(db, s, &rc)) {
    r.reason = text(s, 0);
    r.received_ms = sqlite3_column_int64(s, 1);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_judges(struct ledger_db *db,
                        int (*fn)(void *ctx, const struct ledger_judge_row *r), void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT judge, n, accuracy, fluency, terminology, completeness,"
                            " overall, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10"
                            " FROM qa_judge_stats WHERE n > 0 ORDER BY judge",
                            NULL);
  struct ledger_judge_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.judge = text(s, 0);
    r.n = sqlite3_column_int64(s, 1);
    for (int i = 0; i < PQ_QA_NSCORES; i++)
      r.sum[i] = sqlite3_column_double(s, 2 + i);
    for (int i = 0; i < LEDGER_QA_HIST; i++)
      r.hist[i] = sqlite3_column_int64(s, 2 + PQ_QA_NSCORES + i);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_lowest_qa(struct ledger_db *db, int limit,
                           int (*fn)(void *ctx, const struct ledger_qa_paper_row *r), void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT q.paper_id, q.mean_overall, q.n, p.title FROM qa_paper_stats q"
                            " LEFT JOIN papers p ON p.paper_id = q.paper_id WHERE q.n > 0"
                            " ORDER BY q.mean_overall, q.paper_id LIMIT ?1",
                            NULL);
  struct ledger_qa_paper_row r;
  int rc = PQ_OK;
  if (s)
    sqlite3_bind_int(s, 1, limit);
  while (next_row(db, s, &rc)) {
    r.paper_id = text(s, 0);
    r.mean_overall = sqlite3_column_double(s, 1);
    r.n = sqlite3_column_int64(s, 2);
    r.title = text(s, 3);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

/* ---- watch, metrics and the HTML report ---- */

int ledger_query_recent_translations(struct ledger_db *db, int limit,
                                     int (*fn)(void *ctx, const struct ledger_recent_row *r),
                                     void *ctx) {
  /* translations is a rowid table: the newest rows are at its end, so this
   * reads `limit` rows whatever the size of the ledger. */
  sqlite3_stmt *s = prepare(db,
                            "SELECT t.paper_id, p.title, t.model, t.worker, t.created_ms, t.llm_ms,"
                            " t.cost_usd FROM translations t"
                            " LEFT JOIN papers p ON p.paper_id = t.paper_id"
                            " ORDER BY t.rowid DESC LIMIT ?1",
                            NULL);
  struct ledger_recent_row r;
  int rc = PQ_OK;
  if (s)
    sqlite3_bind_int(s, 1, limit);
  while (next_row(db, s, &rc)) {
    r.paper_id = text(s, 0);
    r.title = text(s, 1);
    r.model = text(s, 2);
    r.worker = text(s, 3);
    r.created_ms = opt_int(s, 4);
    r.llm_ms = opt_int(s, 5);
    r.cost_usd = sqlite3_column_double(s, 6);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_failure_classes(struct ledger_db *db,
                                 int (*fn)(void *ctx, const struct ledger_failure_row *r),
                                 void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT coalesce(error_class, 'unknown') AS c, count(*),"
                            " count(DISTINCT paper_id) FROM attempts WHERE outcome = 'failed'"
                            " GROUP BY c ORDER BY 2 DESC, c",
                            NULL);
  struct ledger_failure_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.error_class = text(s, 0);
    r.attempts = sqlite3_column_int64(s, 1);
    r.papers = sqlite3_column_int64(s, 2);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_parked_reasons(struct ledger_db *db,
                                int (*fn)(void *ctx, const struct ledger_parked_reason_row *r),
                                void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT coalesce(park_reason, 'unknown') AS r, count(*) FROM papers"
                            " WHERE state = 'parked' GROUP BY r ORDER BY 2 DESC, r",
                            NULL);
  struct ledger_parked_reason_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.reason = text(s, 0);
    r.papers = sqlite3_column_int64(s, 1);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_throughput(struct ledger_db *db,
                            int (*fn)(void *ctx, const struct ledger_minute_row *r), void *ctx) {
  sqlite3_stmt *s =
      prepare(db, "SELECT minute, succeeded, parked FROM throughput ORDER BY minute", NULL);
  struct ledger_minute_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.minute = sqlite3_column_int64(s, 0);
    r.succeeded = sqlite3_column_int64(s, 1);
    r.parked = sqlite3_column_int64(s, 2);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_spend_by_minute(struct ledger_db *db,
                                 int (*fn)(void *ctx, const struct ledger_spend_row *r),
                                 void *ctx) {
  sqlite3_stmt *s =
      prepare(db,
              "SELECT m, sum(t), sum(q) FROM ("
              " SELECT finished_ms / 60000 AS m, cost_usd AS t, 0 AS q FROM attempts"
              "  WHERE finished_ms IS NOT NULL AND cost_usd != 0"
              " UNION ALL"
              " SELECT created_ms / 60000, 0, coalesce(cost_usd, 0) FROM qa_judgements"
              "  WHERE created_ms IS NOT NULL AND cost_usd != 0)"
              " GROUP BY m ORDER BY m",
              NULL);
  struct ledger_spend_row r;
  int rc = PQ_OK;
  while (next_row(db, s, &rc)) {
    r.minute = sqlite3_column_int64(s, 0);
    r.translate_usd = sqlite3_column_double(s, 1);
    r.qa_usd = sqlite3_column_double(s, 2);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_spend_split(struct ledger_db *db, double *used_usd, double *thrown_usd) {
  sqlite3_stmt *s =
      prepare(db,
              "SELECT coalesce(sum(CASE WHEN outcome = 'succeeded' THEN cost_usd END),"
              " 0), coalesce(sum(CASE WHEN outcome != 'succeeded' THEN cost_usd END),"
              " 0) FROM attempts",
              NULL);
  int rc = PQ_OK;
  *used_usd = *thrown_usd = 0;
  if (next_row(db, s, &rc)) {
    *used_usd = sqlite3_column_double(s, 0);
    *thrown_usd = sqlite3_column_double(s, 1);
  } else if (rc == PQ_OK) {
    rc = ledger_db_fail(db, "reading the spend by outcome");
  }
  sqlite3_finalize(s);
  return rc;
}

int ledger_query_slowest(struct ledger_db *db, int limit,
                         int (*fn)(void *ctx, const struct ledger_slow_row *r), void *ctx) {
  sqlite3_stmt *s = prepare(db,
                            "SELECT p.paper_id, p.title, p.finished_ms - p.started_ms AS d,"
                            " p.attempts, t.llm_ms FROM papers p"
                            " LEFT JOIN translations t ON t.paper_id = p.paper_id AND t.gen = p.gen"
                            " WHERE p.state = 'succeeded' AND p.started_ms IS NOT NULL"
                            " AND p.finished_ms IS NOT NULL ORDER BY d DESC, p.paper_id LIMIT ?1",
                            NULL);
  struct ledger_slow_row r;
  int rc = PQ_OK;
  if (s)
    sqlite3_bind_int(s, 1, limit);
  while (next_row(db, s, &rc)) {
    r.paper_id = text(s, 0);
    r.title = text(s, 1);
    r.duration_ms = sqlite3_column_int64(s, 2);
    r.attempts = (long)sqlite3_column_int64(s, 3);
    r.llm_ms = opt_int(s, 4);
    rc = fn(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}
