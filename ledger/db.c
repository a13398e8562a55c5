/* The ledger's SQLite database: schema, transactions, and ledger_db_apply,
 * which turns each message from the ledger queue into rows following the
 * exactly-once rules of docs/messages.md. Statements are prepared once and
 * reused, and the report's counts live in a counters table updated in the
 * same transaction, because ingest must keep up with a whole fleet. */
#include "db.h"
#include "db_internal.h"

#include "paperq/job.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/qa.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA_VERSION 2
#define BAD_HEAD_BYTES 256 /* bytes of a bad message kept for diagnosis */
#define MAX_ID_BYTES 1024  /* longer paper, event or worker ids are bad messages */

static const char *const schema_v1 =
    /* One row per paper: its current state in its current generation. The
     * source record and the translation live in their own tables so that the
     * frequent state updates rewrite a small row. */
    "CREATE TABLE papers("
    "  paper_id TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"       /* queued|running|retrying|succeeded|parked */
    "  gen INTEGER NOT NULL,"      /* requeue generation the state belongs to */
    "  attempts INTEGER NOT NULL," /* highest attempt number seen in this generation */
    "  phase INTEGER NOT NULL,"    /* 0 queued, 1 started, 2 failed, 3 succeeded (enum phase):
                                      orders the events of one attempt */
    "  title TEXT, origin TEXT,"
    "  queued_ms INTEGER, started_ms INTEGER, finished_ms INTEGER,"
    "  last_error TEXT, park_reason TEXT, model TEXT,"
    "  dry_run INTEGER NOT NULL DEFAULT 0,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0," /* every attempt of every generation */
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  cost_usd REAL NOT NULL DEFAULT 0,"    /* translation spend, USD */
    "  qa_cost_usd REAL NOT NULL DEFAULT 0," /* judge spend, USD */
    "  updated_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE sources(paper_id TEXT PRIMARY KEY, gen INTEGER NOT NULL, origin TEXT,"
    "  record TEXT NOT NULL);" /* the normalized record, for requeue and export */
    /* One row per (attempt, worker): a redelivered attempt keeps its number. */
    "CREATE TABLE attempts("
    "  paper_id TEXT NOT NULL, gen INTEGER NOT NULL, attempt INTEGER NOT NULL, worker TEXT NOT "
    "NULL,"
    "  started_ms INTEGER, finished_ms INTEGER,"
    "  outcome TEXT NOT NULL," /* running|failed|succeeded|duplicate */
    "  error_class TEXT, error TEXT,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  cost_usd REAL NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(paper_id, gen, attempt, worker)) WITHOUT ROWID;"
    /* The exactly-once success: at most one row per paper and generation. */
    "CREATE TABLE translations("
    "  paper_id TEXT NOT NULL, gen INTEGER NOT NULL, event_id TEXT, worker TEXT, model TEXT,"
    "  dry_run INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL, checks TEXT, usage TEXT,"
    "  cost_usd REAL NOT NULL DEFAULT 0, llm_ms INTEGER, created_ms INTEGER,"
    "  PRIMARY KEY(paper_id, gen));"
    "CREATE TABLE events_seen(event_id PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE workers("
    "  worker TEXT PRIMARY KEY, state TEXT NOT NULL," /* running|fatal|stopped */
    "  state_ms INTEGER, last_seen_ms INTEGER, started_ms INTEGER,"
    "  in_flight INTEGER, done INTEGER, failed INTEGER, concurrency INTEGER,"
    "  fatal_error TEXT, fatal_model TEXT, stop_reason TEXT);"
    "CREATE TABLE qa_judgements("
    "  id INTEGER PRIMARY KEY, event_id TEXT, paper_id TEXT NOT NULL, gen INTEGER NOT NULL,"
    /* the score columns are pq_qa_score_names (common/src/qa.c), in that order */
    "  judge TEXT NOT NULL, accuracy REAL, fluency REAL, terminology REAL, completeness REAL,"
    "  overall REAL, comments TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,"
    "  cost_usd REAL, created_ms INTEGER,"
    "  current INTEGER NOT NULL);" /* 1: the latest of this judge on the paper's latest translation
                                    */
    "CREATE INDEX qa_by_paper ON qa_judgements(paper_id, judge);"
    /* QA statistics over current judgements, maintained with them so the
     * report does not scan judgements: per judge sums and a histogram of
     * overall (h1..h10), per paper the mean overall (lowest papers). */
    "CREATE TABLE qa_judge_stats(judge TEXT PRIMARY KEY, n INTEGER NOT NULL,"
    "  accuracy REAL NOT NULL, fluency REAL NOT NULL, terminology REAL NOT NULL,"
    "  completeness REAL NOT NULL, overall REAL NOT NULL,"
    "  h1 INTEGER NOT NULL, h2 INTEGER NOT NULL, h3 INTEGER NOT NULL, h4 INTEGER NOT NULL,"
    "  h5 INTEGER NOT NULL, h6 INTEGER NOT NULL, h7 INTEGER NOT NULL, h8 INTEGER NOT NULL,"
    "  h9 INTEGER NOT NULL, h10 INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE qa_paper_stats(paper_id TEXT PRIMARY KEY, n INTEGER NOT NULL,"
    "  overall REAL NOT NULL, mean_overall REAL) WITHOUT ROWID;"
    "CREATE INDEX qa_paper_lowest ON qa_paper_stats(mean_overall, paper_id) WHERE n > 0;"
    /* QA jobs that exhausted their attempts: the paper stays succeeded. */
    "CREATE TABLE qa_parked(id INTEGER PRIMARY KEY, paper_id TEXT NOT NULL, gen INTEGER NOT NULL,"
    "  attempt INTEGER, reason TEXT, received_ms INTEGER);"
    "CREATE TABLE bad_messages(id INTEGER PRIMARY KEY, received_ms INTEGER, reason TEXT,"
    "  type TEXT, message_id TEXT, len INTEGER, head BLOB);"
    /* Papers that reached a terminal state per minute of event time: the
     * report's rate without scanning papers. */
    "CREATE TABLE throughput(minute INTEGER PRIMARY KEY, succeeded INTEGER NOT NULL DEFAULT 0,"
    "  parked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE counters(name TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0,"
    "  x REAL NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;";

/* papers.phase: how far the paper's current attempt got, so that events of
 * one attempt that arrive out of order are ordered (order_key). Stored as
 * these numbers. */
enum phase {
  PHASE_QUEUED = 0,   /* no attempt running: new, requeued, or handed back after a fatal error */
  PHASE_STARTED = 1,  /* job.started */
  PHASE_FAILED = 2,   /* job.failed: retrying, or parked next */
  PHASE_SUCCEEDED = 3 /* job.succeeded */
};

static const char *const state_names[LEDGER_NSTATES] = {"queued", "running", "retrying",
                                                        "succeeded", "parked"};

static const char *counter_names[LC_COUNT] = {
    [LC_PAPERS] = "papers",
    [LC_STATE0 + LEDGER_QUEUED] = "state.queued",
    [LC_STATE0 + LEDGER_RUNNING] = "state.running",
    [LC_STATE0 + LEDGER_RETRYING] = "state.retrying",
    [LC_STATE0 + LEDGER_SUCCEEDED] = "state.succeeded",
    [LC_STATE0 + LEDGER_PARKED] = "state.parked",
    [LC_PROMPT_TOKENS] = "tokens.prompt",
    [LC_COMPLETION_TOKENS] = "tokens.completion",
    [LC_QA_PROMPT_TOKENS] = "tokens.qa_prompt",
    [LC_QA_COMPLETION_TOKENS] = "tokens.qa_completion",
    [LC_COST_TRANSLATE] = "cost.translate",
    [LC_COST_QA] = "cost.qa",
    [LC_DRY_RUN] = "dry_run_papers",
    [LC_BAD] = "bad_messages",
    [LC_EVENTS] = "events",
    [LC_DUPLICATES] = "duplicates",
    [LC_STALE] = "stale",
    [LC_JUDGEMENTS] = "judgements",
    [LC_QA_CURRENT] = "qa.current",
    [LC_QA_PAPERS] = "qa.papers",
    [LC_QA_PAIRS] = "qa.pairs",
    [LC_QA_PARKED] = "qa.parked",
    [LC_COST_WASTED] = "cost.wasted",
    [LC_COST_ESTIMATED] = "cost.estimated",
    /* LC_WASTE0 + i: "waste.<pq_waste_name(i)>", filled in by waste_names() */
};

/* The counter names of the waste reasons, from spend.h's names. */
static void waste_names(void) {
  static char names[PQ_WASTE_COUNT][48];
  static int done;
  if (done)
    return;
  for (int i = 1; i < PQ_WASTE_COUNT; i++) {
    snprintf(names[i], sizeof names[i], "waste.%s", pq_waste_name(i));
    counter_names[LC_WASTE0 + i] = names[i];
  }
  counter_names[LC_WASTE0] = "waste.none";
  done = 1;
}

/* Every statement the writer runs per message, prepared on first use. */
enum stmt {
  ST_SEEN,
  ST_PAPER_GET,
  ST_PAPER_PUT,
  ST_SOURCE_PUT,
  ST_ATTEMPT_PUT,
  ST_TRANSLATION_PUT,
  ST_THROUGHPUT,
  ST_WORKER_GET,
  ST_WORKER_PUT,
  ST_QA_CURRENT,
  ST_QA_RETIRE,
  ST_QA_PUT,
  ST_QA_JUDGE_STATS,
  ST_QA_PAPER_STATS,
  ST_QA_PARKED_PUT,
  ST_BAD_PUT,
  ST_COUNTER_ADD,
  ST_META_MIN,
  ST_META_MAX,
  ST_SAVEPOINT,
  ST_RELEASE,
  ST_ROLLBACK_TO,
  ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_SEEN] = "INSERT OR IGNORE INTO events_seen(event_id) VALUES(?1)",
    [ST_PAPER_GET] = "SELECT state, gen, attempts, phase, dry_run, queued_ms, started_ms,"
                     " finished_ms, prompt_tokens, completion_tokens, cost_usd, qa_cost_usd"
                     " FROM papers WHERE paper_id = ?1",
    [ST_PAPER_PUT] =
        "INSERT INTO papers(paper_id, state, gen, attempts, phase, dry_run, queued_ms, started_ms,"
        " finished_ms, prompt_tokens, completion_tokens, cost_usd, qa_cost_usd, updated_ms,"
        " title, origin, last_error, park_reason, model)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)"
        " ON CONFLICT(paper_id) DO UPDATE SET state=excluded.state, gen=excluded.gen,"
        " attempts=excluded.attempts, phase=excluded.phase, dry_run=excluded.dry_run,"
        " queued_ms=excluded.queued_ms, started_ms=excluded.started_ms,"
        " finished_ms=excluded.finished_ms, prompt_tokens=excluded.prompt_tokens,"
        " completion_tokens=excluded.completion_tokens, cost_usd=excluded.cost_usd,"
        " qa_cost_usd=excluded.qa_cost_usd, updated_ms=excluded.updated_ms,"
        " title=coalesce(excluded.title, title), origin=coalesce(excluded.origin, origin),"
        " last_error=coalesce(excluded.last_error, last_error),"
        " park_reason=CASE WHEN ?20 THEN excluded.park_reason"
        "   ELSE coalesce(excluded.park_reason, park_reason) END,"
        " model=coalesce(excluded.model, model)",
    [ST_SOURCE_PUT] = "INSERT INTO sources(paper_id, gen, origin, record) VALUES(?1,?2,?3,?4)"
                      " ON CONFLICT(paper_id) DO UPDATE SET gen=excluded.gen,"
                      " origin=coalesce(excluded.origin, origin), record=excluded.record"
                      " WHERE excluded.gen > sources.gen",
    [ST_ATTEMPT_PUT] =
        "INSERT INTO attempts(paper_id, gen, attempt, worker, started_ms, finished_ms, outcome,"
        " error_class, error, prompt_tokens, completion_tokens, cost_usd)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
        " ON CONFLICT(paper_id, gen, attempt, worker) DO UPDATE SET"
        " started_ms=coalesce(attempts.started_ms, excluded.started_ms),"
        " finished_ms=coalesce(excluded.finished_ms, attempts.finished_ms),"
        " outcome=CASE WHEN excluded.outcome='running' THEN attempts.outcome"
        "   WHEN excluded.outcome='duplicate' AND attempts.outcome='succeeded'"
        "   THEN attempts.outcome ELSE excluded.outcome END,"
        " error_class=coalesce(excluded.error_class, attempts.error_class),"
        " error=coalesce(excluded.error, attempts.error),"
        " prompt_tokens=attempts.prompt_tokens+excluded.prompt_tokens,"
        " completion_tokens=attempts.completion_tokens+excluded.completion_tokens,"
        " cost_usd=attempts.cost_usd+excluded.cost_usd",
    [ST_TRANSLATION_PUT] =
        "INSERT OR IGNORE INTO translations(paper_id, gen, event_id, worker, model, dry_run, doc,"
        " checks, usage, cost_usd, llm_ms, created_ms) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    [ST_THROUGHPUT] = "INSERT INTO throughput(minute, succeeded, parked) VALUES(?1,?2,?3)"
                      " ON CONFLICT(minute) DO UPDATE SET succeeded=succeeded+excluded.succeeded,"
                      " parked=parked+excluded.parked",
    [ST_WORKER_GET] = "SELECT state, state_ms, last_seen_ms FROM workers WHERE worker = ?1",
    [ST_WORKER_PUT] =
        "INSERT INTO workers(worker, state, state_ms, last_seen_ms, started_ms, in_flight, done,"
        " failed, concurrency, fatal_error, fatal_model, stop_reason)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
        " ON CONFLICT(worker) DO UPDATE SET state=excluded.state, state_ms=excluded.state_ms,"
        " last_seen_ms=excluded.last_seen_ms, started_ms=coalesce(excluded.started_ms, started_ms),"
        " in_flight=coalesce(excluded.in_flight, in_flight), done=coalesce(excluded.done, done),"
        " failed=coalesce(excluded.failed, failed),"
        " concurrency=coalesce(excluded.concurrency, concurrency),"
        " fatal_error=coalesce(excluded.fatal_error, fatal_error),"
        " fatal_model=coalesce(excluded.fatal_model, fatal_model),"
        " stop_reason=coalesce(excluded.stop_reason, stop_reason)",
    [ST_QA_CURRENT] = "SELECT id, judge, gen, created_ms, accuracy, fluency, terminology,"
                      " completeness, overall FROM qa_judgements WHERE paper_id = ?1"
                      " AND current = 1",
    [ST_QA_RETIRE] = "UPDATE qa_judgements SET current = 0 WHERE id = ?1",
    [ST_QA_PUT] = "INSERT INTO qa_judgements(event_id, paper_id, gen, judge, accuracy, fluency,"
                  " terminology, completeness, overall, comments, prompt_tokens,"
                  " completion_tokens, cost_usd, created_ms, current, provider)"
                  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
    [ST_QA_JUDGE_STATS] =
        "INSERT INTO qa_judge_stats VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
        "?17) ON CONFLICT(judge) DO UPDATE SET n=n+excluded.n, accuracy=accuracy+excluded.accuracy,"
        " fluency=fluency+excluded.fluency, terminology=terminology+excluded.terminology,"
        " completeness=completeness+excluded.completeness, overall=overall+excluded.overall,"
        " h1=h1+excluded.h1, h2=h2+excluded.h2, h3=h3+excluded.h3, h4=h4+excluded.h4,"
        " h5=h5+excluded.h5, h6=h6+excluded.h6, h7=h7+excluded.h7, h8=h8+excluded.h8,"
        " h9=h9+excluded.h9, h10=h10+excluded.h10",
    [ST_QA_PAPER_STATS] =
        "INSERT INTO qa_paper_stats VALUES(?1, ?2, ?3, CASE WHEN ?2 > 0 THEN ?3 / ?2 END)"
        " ON CONFLICT(paper_id) DO UPDATE SET n=n+excluded.n, overall=overall+excluded.overall,"
        " mean_overall=CASE WHEN n+excluded.n > 0 THEN (overall+excluded.overall)/(n+excluded.n)"
        " END",
    [ST_QA_PARKED_PUT] = "INSERT INTO qa_parked(paper_id, gen, attempt, reason, received_ms)"
                         " VALUES(?1,?2,?3,?4,?5)",
    [ST_BAD_PUT] = "INSERT INTO bad_messages(received_ms, reason, type, message_id, len, head)"
                   " VALUES(?1,?2,?3,?4,?5,?6)",
    [ST_COUNTER_ADD] = "INSERT INTO counters(name, n, x) VALUES(?1,?2,?3) ON CONFLICT(name)"
                       " DO UPDATE SET n=n+excluded.n, x=x+excluded.x",
    [ST_META_MIN] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key)"
                    " DO UPDATE SET value=min(value, excluded.value)",
    [ST_META_MAX] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key)"
                    " DO UPDATE SET value=max(value, excluded.value)",
    /* Each message is applied inside a savepoint, so one that cannot be
     * applied is undone alone and recorded as bad; the batch goes on. */
    [ST_SAVEPOINT] = "SAVEPOINT msg",
    [ST_RELEASE] = "RELEASE msg",
    [ST_ROLLBACK_TO] = "ROLLBACK TO msg",
};

struct ledger_db {
  sqlite3 *db;
  char *path;
  int in_tx;
  sqlite3_stmt *st[ST_COUNT];
  sqlite3_stmt *readers[LEDGER_DB_READERS]; /* query.c's cached lookups */
  struct ledger_counters delta;             /* changes of the open transaction */
  int64_t tx_first_queued_ms;  /* earliest job.queued ts in the transaction, 0 = none */
  int64_t tx_last_finished_ms; /* latest terminal ts in the transaction, 0 = none */
  int last_error;              /* SQLite's extended code of the last failure */
};

const char *ledger_state_name(int state) {
  return state >= 0 && state < LEDGER_NSTATES ? state_names[state] : "unknown";
}

int ledger_state_parse(const char *name) {
  for (int i = 0; name && i < LEDGER_NSTATES; i++)
    if (strcmp(name, state_names[i]) == 0)
      return i;
  return -1;
}

const char *ledger_counter_name(int counter) {
  waste_names();
  return counter >= 0 && counter < LC_COUNT ? counter_names[counter] : "unknown";
}

sqlite3 *ledger_db_conn(struct ledger_db *db) { return db->db; }
const char *ledger_db_path(const struct ledger_db *db) { return db->path; }
int ledger_db_in_transaction(const struct ledger_db *db) { return db->in_tx; }

static int sql_fail(struct ledger_db *db, const char *what) {
  db->last_error = sqlite3_extended_errcode(db->db);
  pq_error("ledger db %s: %s: %s", db->path, what, sqlite3_errmsg(db->db));
  return PQ_ERR_IO;
}

int ledger_db_fail(struct ledger_db *db, const char *what) { return sql_fail(db, what); }

sqlite3_stmt *ledger_db_reader(struct ledger_db *db, int slot, const char *sql) {
  sqlite3_stmt *s = db->readers[slot];
  if (s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
  }
  if (sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->readers[slot], NULL) !=
      SQLITE_OK) {
    sql_fail(db, sql);
    return NULL;
  }
  return db->readers[slot];
}

static int exec(struct ledger_db *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    db->last_error = sqlite3_extended_errcode(db->db);
    pq_error("ledger db %s: %s: %s", db->path, sql, msg ? msg : sqlite3_errmsg(db->db));
    sqlite3_free(msg);
    return PQ_ERR_IO;
  }
  return PQ_OK;
}

/* Hands out statement id ready for binding (prepared once, then reset). */
static sqlite3_stmt *stmt(struct ledger_db *db, enum stmt id) {
  sqlite3_stmt *s = db->st[id];
  if (!s) {
    if (sqlite3_prepare_v3(db->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &db->st[id],
                           NULL) != SQLITE_OK) {
      sql_fail(db, stmt_sql[id]);
      return NULL;
    }
    return db->st[id];
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

/* Runs a bound statement that returns no rows. */
static int run(struct ledger_db *db, sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s); /* drop borrowed pointers bound with SQLITE_STATIC */
  if (rc != SQLITE_DONE)
    return sql_fail(db, sqlite3_sql(s));
  return PQ_OK;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(s, i);
}

/* 0 stands for "not known" in the millisecond columns. */
static void bind_ms(sqlite3_stmt *s, int i, int64_t v) {
  if (v > 0)
    sqlite3_bind_int64(s, i, v);
  else
    sqlite3_bind_null(s, i);
}

/* ---- open, schema, transactions ---- */

static int schema_version(struct ledger_db *db, int *version) {
  sqlite3_stmt *s = NULL;
  *version = 0;
  if (sqlite3_prepare_v2(db->db,
                         "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'",
                         -1, &s, NULL) != SQLITE_OK)
    return sql_fail(db, "reading the schema");
  int have = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  if (!have)
    return PQ_OK;
  if (sqlite3_prepare_v2(db->db, "SELECT max(version) FROM schema_version", -1, &s, NULL) !=
      SQLITE_OK)
    return sql_fail(db, "reading the schema version");
  if (sqlite3_step(s) == SQLITE_ROW)
    *version = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return PQ_OK;
}

static int ensure_schema(struct ledger_db *db, char *err, size_t errlen) {
  int version;
  if (schema_version(db, &version))
    goto fail;
  if (version == SCHEMA_VERSION)
    return PQ_OK;
  if (version > SCHEMA_VERSION) {
    snprintf(err, errlen,
             "%s has schema version %d; this paperq-ledger knows up to %d (upgrade it)", db->path,
             version, SCHEMA_VERSION);
    return PQ_ERR_IO;
  }
  if (exec(db, "BEGIN IMMEDIATE"))
    goto fail;
  /* Re-read under the write lock: another process may have just created it. */
  if (schema_version(db, &version))
    goto fail_tx;
  if (version < 1) {
    if (exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY,"
                 " applied_ms INTEGER NOT NULL)") ||
        exec(db, schema_v1))
      goto fail_tx;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES(1, %lld)", (long long)pq_now_ms());
    if (exec(db, sql))
      goto fail_tx;
  }
  if (version < 2) {
    /* v2 (issue 11): the provider that served each verdict. */
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES(2, %lld)", (long long)pq_now_ms());
    if (exec(db, "ALTER TABLE qa_judgements ADD COLUMN provider TEXT") || exec(db, sql))
      goto fail_tx;
  }
  if (exec(db, "COMMIT"))
    goto fail_tx;
  pq_info("ledger db %s: schema version %d", db->path, SCHEMA_VERSION);
  return PQ_OK;
fail_tx:
  exec(db, "ROLLBACK");
fail:
  snprintf(err, errlen, "%s: cannot create the ledger schema: %s", db->path,
           sqlite3_errmsg(db->db));
  return PQ_ERR_IO;
}

int ledger_db_open(const char *path, int flags, struct ledger_db **out, char *err, size_t errlen) {
  waste_names();
  struct ledger_db *db = calloc(1, sizeof *db);
  int rc = PQ_ERR_IO;
  *out = NULL;
  err[0] = '\0';
  if (!db || !(db->path = strdup(path))) {
    rc = PQ_ERR_NOMEM;
    snprintf(err, errlen, "out of memory");
    goto cleanup;
  }
  if (!(flags & LEDGER_DB_CREATE) && access(path, F_OK) != 0) {
    snprintf(err, errlen,
             "no ledger database at %s (has `paperq-ledger serve` run? ledger.db / "
             "PAPERQ_LEDGER_DB names it)",
             path);
    goto cleanup;
  }
  int readonly = (flags & LEDGER_DB_READONLY) && !(flags & LEDGER_DB_CREATE);
  if (readonly && access(path, R_OK) != 0) {
    snprintf(err, errlen, "cannot read ledger database %s", path);
    goto cleanup;
  }
  int oflags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  if (flags & LEDGER_DB_CREATE)
    oflags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path, &db->db, oflags, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "cannot open ledger database %s: %s", path,
             db->db ? sqlite3_errmsg(db->db) : "out of memory");
    goto cleanup;
  }
  if (readonly) {
    /* A reader beside serve (the producer): no pragmas, no schema changes;
     * a database of another schema version is not one we can read. */
    int version = 0;
    sqlite3_busy_timeout(db->db, 2000);
    if (schema_version(db, &version) || version != SCHEMA_VERSION) {
      snprintf(err, errlen, "%s: not a ledger database of schema version %d", path, SCHEMA_VERSION);
      goto cleanup;
    }
    *out = db;
    return PQ_OK;
  }
  /* Waiting out another writer (requeue while serve runs) beats failing. */
  sqlite3_busy_timeout(db->db, 10000);
  if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=NORMAL") ||
      exec(db, "PRAGMA cache_size=-32768") || exec(db, "PRAGMA temp_store=MEMORY")) {
    snprintf(err, errlen, "cannot configure ledger database %s: %s", path, sqlite3_errmsg(db->db));
    goto cleanup;
  }
  rc = ensure_schema(db, err, errlen);
  if (rc)
    goto cleanup;
  *out = db;
  db = NULL;
  rc = PQ_OK;
cleanup:
  ledger_db_close(db);
  return rc;
}

void ledger_db_close(struct ledger_db *db) {
  if (!db)
    return;
  if (db->in_tx)
    ledger_db_rollback(db);
  for (int i = 0; i < ST_COUNT; i++)
    sqlite3_finalize(db->st[i]);
  for (int i = 0; i < LEDGER_DB_READERS; i++)
    sqlite3_finalize(db->readers[i]);
  sqlite3_close(db->db);
  free(db->path);
  free(db);
}

static void forget_tx(struct ledger_db *db) {
  memset(&db->delta, 0, sizeof db->delta);
  db->tx_first_queued_ms = 0;
  db->tx_last_finished_ms = 0;
  db->in_tx = 0;
}

int ledger_db_begin(struct ledger_db *db) {
  if (db->in_tx)
    return PQ_OK;
  /* IMMEDIATE: take the write lock now, so a concurrent writer waits at
   * BEGIN instead of failing half-way through a batch. */
  if (exec(db, "BEGIN IMMEDIATE"))
    return PQ_ERR_IO;
  forget_tx(db);
  db->in_tx = 1;
  return PQ_OK;
}

static int meta_extreme(struct ledger_db *db, enum stmt id, const char *key, int64_t v) {
  sqlite3_stmt *s = stmt(db, id);
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, v);
  return run(db, s);
}

int ledger_db_commit(struct ledger_db *db) {
  if (!db->in_tx)
    return PQ_OK;
  for (int i = 0; i < LC_COUNT; i++) {
    if (db->delta.n[i] == 0 && db->delta.x[i] == 0)
      continue;
    sqlite3_stmt *s = stmt(db, ST_COUNTER_ADD);
    if (!s)
      goto fail;
    sqlite3_bind_text(s, 1, counter_names[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, db->delta.n[i]);
    sqlite3_bind_double(s, 3, db->delta.x[i]);
    if (run(db, s))
      goto fail;
  }
  if (db->tx_first_queued_ms &&
      meta_extreme(db, ST_META_MIN, "first_queued_ms", db->tx_first_queued_ms))
    goto fail;
  if (db->tx_last_finished_ms &&
      meta_extreme(db, ST_META_MAX, "last_finished_ms", db->tx_last_finished_ms))
    goto fail;
  if (exec(db, "COMMIT"))
    goto fail;
  forget_tx(db);
  return PQ_OK;
fail:
  ledger_db_rollback(db);
  return PQ_ERR_IO;
}

void ledger_db_rollback(struct ledger_db *db) {
  if (db->in_tx && sqlite3_get_autocommit(db->db) == 0)
    exec(db, "ROLLBACK");
  forget_tx(db);
}

/* ---- JSON helpers ---- */

static const char *jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key, double def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : def;
}

/* A count or amount that must not be negative; anything else counts as 0,
 * since a bad usage figure must not stop the paper's outcome from counting. */
static double jamount(const cJSON *o, const char *key) {
  double v = jnum(o, key, 0);
  return v > 0 ? v : 0;
}

/* Serializes a sub-object for a TEXT column; NULL when absent. The caller
 * frees with cJSON_free. */
static char *jprint(const cJSON *o, const char *key, int *nomem) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v || cJSON_IsNull(v))
    return NULL;
  char *s = cJSON_PrintUnformatted(v);
  if (!s)
    *nomem = 1;
  return s;
}

static int usable_id(const char *s) { return s && s[0] && strlen(s) < MAX_ID_BYTES; }

/* The ranges real numbers stay in. An event with a number outside them
 * (9e18 tokens, a cost of 1e300, a negative count, a ts of 1e300) is a bad
 * message: nothing out of range reaches an integer cast or a sum. */
#define MAX_MS 1e14    /* millisecond timestamps and durations (year 5138) */
#define MAX_COUNT 1e12 /* tokens, requests, papers */
#define MAX_USD 1e6    /* one event's spend */

/* 1 when key is absent, null, or a number in [0, max]. */
static int num_ok(const cJSON *o, const char *key, double max) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v || cJSON_IsNull(v))
    return 1;
  return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max;
}

static int numbers_ok(const cJSON *root, const char **why) {
  static const char *const counts[] = {"in_flight", "done", "failed", "concurrency", NULL};
  static const char *const usage_keys[] = {"prompt_tokens", "completion_tokens", "requests", NULL};
  static const char *const times[] = {"started_ms", "finished_ms", "llm_ms", NULL};
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  const cJSON *timings = cJSON_GetObjectItemCaseSensitive(root, "timings");
  if (!num_ok(root, "ts", MAX_MS) || !num_ok(root, "started_ms", MAX_MS)) {
    *why = "event with a timestamp out of range";
    return 0;
  }
  for (int i = 0; times[i]; i++)
    if (!num_ok(timings, times[i], MAX_MS)) {
      *why = "event with timings out of range";
      return 0;
    }
  for (int i = 0; usage_keys[i]; i++)
    if (!num_ok(usage, usage_keys[i], MAX_COUNT)) {
      *why = "event with usage out of range (negative or absurd token counts)";
      return 0;
    }
  if (!num_ok(root, "cost_usd", MAX_USD)) {
    *why = "event with cost_usd out of range (negative or absurd)";
    return 0;
  }
  for (int i = 0; counts[i]; i++)
    if (!num_ok(root, counts[i], MAX_COUNT)) {
      *why = "event with a count out of range";
      return 0;
    }
  return 1;
}

/* ---- the paper row ---- */

/* A paper as read from its row, changed in memory by the rules, then written
 * back whole by put_paper. Text fields hold new values; NULL keeps the old. */
struct paper {
  const char *id;
  int exists;
  int orig_state; /* state as read (-1 new), for the counters */
  int orig_dry;   /* counted as a dry-run success when read */
  int state;
  long gen, attempts;
  int phase; /* enum phase */
  int dry_run;
  int64_t queued_ms, started_ms, finished_ms;
  long long prompt_tokens, completion_tokens;
  double cost_usd, qa_cost_usd;
  const char *title, *origin, *last_error, *park_reason, *model;
  int replace_park_reason; /* write park_reason even when NULL (clears it) */
};

static int get_paper(struct ledger_db *db, const char *id, struct paper *p) {
  memset(p, 0, sizeof *p);
  p->id = id;
  p->orig_state = -1;
  sqlite3_stmt *s = stmt(db, ST_PAPER_GET);
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    p->exists = 1;
    p->state = ledger_state_parse((const char *)sqlite3_column_text(s, 0));
    if (p->state < 0)
      p->state = LEDGER_QUEUED; /* hand-edited row: treat as the weakest state */
    p->orig_state = p->state;
    p->gen = (long)sqlite3_column_int64(s, 1);
    p->attempts = (long)sqlite3_column_int64(s, 2);
    p->phase = sqlite3_column_int(s, 3);
    p->dry_run = sqlite3_column_int(s, 4);
    p->orig_dry = p->dry_run && p->state == LEDGER_SUCCEEDED;
    p->queued_ms = sqlite3_column_int64(s, 5);
    p->started_ms = sqlite3_column_int64(s, 6);
    p->finished_ms = sqlite3_column_int64(s, 7);
    p->prompt_tokens = sqlite3_column_int64(s, 8);
    p->completion_tokens = sqlite3_column_int64(s, 9);
    p->cost_usd = sqlite3_column_double(s, 10);
    p->qa_cost_usd = sqlite3_column_double(s, 11);
  } else if (rc != SQLITE_DONE) {
    sqlite3_reset(s);
    return sql_fail(db, "reading a paper");
  }
  sqlite3_reset(s);
  return PQ_OK;
}

static int put_paper(struct ledger_db *db, struct paper *p, int64_t now_ms) {
  sqlite3_stmt *s = stmt(db, ST_PAPER_PUT);
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, p->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, state_names[p->state], -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, p->gen);
  sqlite3_bind_int64(s, 4, p->attempts);
  sqlite3_bind_int(s, 5, p->phase);
  sqlite3_bind_int(s, 6, p->dry_run);
  bind_ms(s, 7, p->queued_ms);
  bind_ms(s, 8, p->started_ms);
  bind_ms(s, 9, p->finished_ms);
  sqlite3_bind_int64(s, 10, p->prompt_tokens);
  sqlite3_bind_int64(s, 11, p->completion_tokens);
  sqlite3_bind_double(s, 12, p->cost_usd);
  sqlite3_bind_double(s, 13, p->qa_cost_usd);
  sqlite3_bind_int64(s, 14, now_ms);
  bind_text(s, 15, p->title);
  bind_text(s, 16, p->origin);
  bind_text(s, 17, p->last_error);
  bind_text(s, 18, p->park_reason);
  bind_text(s, 19, p->model);
  sqlite3_bind_int(s, 20, p->replace_park_reason);
  int rc = run(db, s);
  if (rc)
    return rc;
  if (p->orig_state < 0)
    db->delta.n[LC_PAPERS]++;
  else
    db->delta.n[LC_STATE0 + p->orig_state]--;
  db->delta.n[LC_STATE0 + p->state]++;
  db->delta.n[LC_DRY_RUN] += (p->dry_run && p->state == LEDGER_SUCCEEDED) - p->orig_dry;
  /* The row now holds these values: a second put in the same apply must not
   * count the transition twice. */
  p->orig_state = p->state;
  p->orig_dry = p->dry_run && p->state == LEDGER_SUCCEEDED;
  p->exists = 1;
  return PQ_OK;
}

/* A newer generation (a requeue) starts the paper over, whatever its state. */
static void new_generation(struct paper *p, long gen, int state) {
  p->gen = gen;
  p->state = state;
  p->attempts = 0;
  p->phase = PHASE_QUEUED;
  p->started_ms = 0;
  p->finished_ms = 0;
  p->park_reason = NULL;
  p->replace_park_reason = 1;
}

static int terminal(int state) { return state == LEDGER_SUCCEEDED || state == LEDGER_PARKED; }

/* Orders the non-terminal events of one generation: a later attempt wins,
 * and within an attempt a failure comes after its start. Events from
 * different workers arrive in any order, so timestamps cannot do this. */
static long order_key(long attempt, int phase) { return attempt * (PHASE_SUCCEEDED + 1) + phase; }

static int put_source(struct ledger_db *db, const char *paper_id, long gen, const char *origin,
                      const cJSON *record) {
  char *text = cJSON_PrintUnformatted(record);
  if (!text)
    return PQ_ERR_NOMEM;
  sqlite3_stmt *s = stmt(db, ST_SOURCE_PUT);
  int rc = PQ_ERR_IO;
  if (s) {
    sqlite3_bind_text(s, 1, paper_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, gen);
    bind_text(s, 3, origin);
    sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
    rc = run(db, s);
  }
  cJSON_free(text);
  return rc;
}

struct attempt_row {
  const char *paper_id;
  long gen, attempt;
  const char *worker;
  int64_t started_ms, finished_ms;
  const char *outcome, *error_class, *error;
  long long prompt_tokens, completion_tokens;
  double cost_usd;
};

static int put_attempt(struct ledger_db *db, const struct attempt_row *a) {
  sqlite3_stmt *s = stmt(db, ST_ATTEMPT_PUT);
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, a->paper_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, a->gen);
  sqlite3_bind_int64(s, 3, a->attempt);
  sqlite3_bind_text(s, 4, a->worker ? a->worker : "", -1, SQLITE_STATIC);
  bind_ms(s, 5, a->started_ms);
  bind_ms(s, 6, a->finished_ms);
  sqlite3_bind_text(s, 7, a->outcome, -1, SQLITE_STATIC);
  bind_text(s, 8, a->error_class);
  bind_text(s, 9, a->error);
  sqlite3_bind_int64(s, 10, a->prompt_tokens);
  sqlite3_bind_int64(s, 11, a->completion_tokens);
  sqlite3_bind_double(s, 12, a->cost_usd);
  return run(db, s);
}

static int count_terminal(struct ledger_db *db, int64_t ts, int succeeded) {
  sqlite3_stmt *s = stmt(db, ST_THROUGHPUT);
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_int64(s, 1, ts / 60000);
  sqlite3_bind_int(s, 2, succeeded ? 1 : 0);
  sqlite3_bind_int(s, 3, succeeded ? 0 : 1);
  if (ts > db->tx_last_finished_ms)
    db->tx_last_finished_ms = ts;
  return run(db, s);
}

/* ---- recording what cannot be applied ---- */

static int record_bad(struct ledger_db *db, const struct ledger_msg *m, const char *reason) {
  sqlite3_stmt *s = stmt(db, ST_BAD_PUT);
  if (!s)
    return PQ_ERR_IO;
  size_t head = m->len < BAD_HEAD_BYTES ? m->len : BAD_HEAD_BYTES;
  sqlite3_bind_int64(s, 1, m->received_ms > 0 ? m->received_ms : pq_now_ms());
  sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
  bind_text(s, 3, m->type && m->type[0] ? m->type : NULL);
  bind_text(s, 4, m->message_id && m->message_id[0] ? m->message_id : NULL);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)m->len);
  if (m->body && head)
    sqlite3_bind_blob(s, 6, m->body, (int)head, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, 6);
  int rc = run(db, s);
  if (rc == PQ_OK) {
    db->delta.n[LC_BAD]++;
    pq_warn("bad message recorded (type \"%s\", id \"%s\", %zu bytes): %s", m->type ? m->type : "",
            m->message_id ? m->message_id : "", m->len, reason);
  }
  return rc;
}

/* ---- events ---- */

/* Fields common to every event, checked before anything is written. */
struct event {
  const cJSON *root;
  const char *id, *kind, *paper_id, *worker;
  long gen, attempt;
  int64_t ts;
};

/* Records the event id; *dup = 1 when it was applied before. A 32-hex id is
 * stored as 16 bytes: the table holds one key per event ever applied. */
static int mark_seen(struct ledger_db *db, const char *id, int *dup) {
  unsigned char raw[16];
  int hex = strlen(id) == 32;
  for (int i = 0; hex && i < 32; i++) {
    char c = id[i];
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0)
      hex = 0;
    else if (i % 2 == 0)
      raw[i / 2] = (unsigned char)(v << 4);
    else
      raw[i / 2] |= (unsigned char)v;
  }
  sqlite3_stmt *s = stmt(db, ST_SEEN);
  if (!s)
    return PQ_ERR_IO;
  if (hex)
    sqlite3_bind_blob(s, 1, raw, 16, SQLITE_STATIC);
  else
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  int rc = run(db, s);
  if (rc)
    return rc;
  *dup = sqlite3_changes(db->db) == 0;
  return PQ_OK;
}

/* Translation spend of a job event counts whatever else happens to the
 * event: money spent is money spent. */
/* What of an event's cost was thrown away, and why (issue 11): every
 * job.* and qa.* event may carry "spend" beside cost_usd. */
static void add_waste(struct ledger_db *db, const cJSON *root) {
  struct pq_spend sp;
  pq_spend_from_json(root, &sp);
  db->delta.x[LC_COST_WASTED] += sp.wasted_usd;
  db->delta.x[LC_COST_ESTIMATED] += sp.estimated_usd;
  for (int i = 1; i < PQ_WASTE_COUNT; i++) {
    db->delta.n[LC_WASTE0 + i] += sp.wasted_requests[i];
    db->delta.x[LC_WASTE0 + i] += sp.waste[i];
  }
}

static void add_spend(struct ledger_db *db, struct paper *p, const cJSON *root,
                      struct attempt_row *a) {
  add_waste(db, root);
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  long long pt = (long long)jamount(usage, "prompt_tokens");
  long long ct = (long long)jamount(usage, "completion_tokens");
  double cost = jamount(root, "cost_usd");
  db->delta.n[LC_PROMPT_TOKENS] += pt;
  db->delta.n[LC_COMPLETION_TOKENS] += ct;
  db->delta.x[LC_COST_TRANSLATE] += cost;
  p->prompt_tokens += pt;
  p->completion_tokens += ct;
  p->cost_usd += cost;
  a->prompt_tokens = pt;
  a->completion_tokens = ct;
  a->cost_usd = cost;
}

static int apply_queued(struct ledger_db *db, const struct event *e, enum ledger_outcome *out) {
  struct paper p;
  const cJSON *record = cJSON_GetObjectItemCaseSensitive(e->root, "record");
  if (!cJSON_IsObject(record))
    return PQ_ERR_PARSE;
  int rc = get_paper(db, e->paper_id, &p);
  if (rc)
    return rc;
  const char *origin = jstr(e->root, "origin");
  if (!origin)
    origin = jstr(record, "origin");
  if (p.exists && e->gen < p.gen) {
    *out = LEDGER_STALE;
    return PQ_OK;
  }
  *out = LEDGER_APPLIED;
  if (!p.exists || e->gen > p.gen) {
    new_generation(&p, e->gen, LEDGER_QUEUED);
  } else if (p.state != LEDGER_QUEUED) {
    *out = LEDGER_KEPT; /* late: the paper has moved on; only fill in facts */
  }
  if (!p.queued_ms || e->ts < p.queued_ms)
    p.queued_ms = e->ts;
  p.title = jstr(record, "title");
  p.origin = origin;
  if (!db->tx_first_queued_ms || e->ts < db->tx_first_queued_ms)
    db->tx_first_queued_ms = e->ts;
  rc = put_paper(db, &p, e->ts);
  return rc ? rc : put_source(db, e->paper_id, e->gen, origin, record);
}

static int apply_started(struct ledger_db *db, const struct event *e, enum ledger_outcome *out) {
  struct paper p;
  struct attempt_row a = {e->paper_id, e->gen, e->attempt, e->worker, e->ts, 0,
                          "running",   NULL,   NULL,       0,         0,     0};
  int rc = get_paper(db, e->paper_id, &p);
  if (rc)
    return rc;
  if (p.exists && e->gen < p.gen) {
    *out = LEDGER_STALE;
    return put_attempt(db, &a);
  }
  if (!p.exists || e->gen > p.gen)
    new_generation(&p, e->gen, LEDGER_QUEUED);
  if (terminal(p.state) || order_key(e->attempt, PHASE_STARTED) < order_key(p.attempts, p.phase)) {
    *out = LEDGER_KEPT; /* a late start never demotes */
    return put_attempt(db, &a);
  }
  p.state = LEDGER_RUNNING;
  p.attempts = e->attempt;
  p.phase = PHASE_STARTED;
  if (!p.started_ms)
    p.started_ms = e->ts;
  *out = LEDGER_APPLIED;
  rc = put_paper(db, &p, e->ts);
  return rc ? rc : put_attempt(db, &a);
}

static int apply_failed(struct ledger_db *db, const struct event *e, enum ledger_outcome *out) {
  struct paper p;
  const char *error = jstr(e->root, "error");
  const char *error_class = jstr(e->root, "error_class");
  int retryable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->root, "retryable"));
  int fatal = error_class && strcmp(error_class, "fatal") == 0;
  struct attempt_row a = {e->paper_id, e->gen,      e->attempt,
                          e->worker,   0,           e->ts,
                          "failed",    error_class, error ? error : "(no error text)",
                          0,           0,           0};
  int rc = get_paper(db, e->paper_id, &p);
  if (rc)
    return rc;
  add_spend(db, &p, e->root, &a);
  if (p.exists && e->gen < p.gen) {
    *out = LEDGER_STALE;
  } else {
    if (!p.exists || e->gen > p.gen)
      new_generation(&p, e->gen, LEDGER_QUEUED);
    if (terminal(p.state) || order_key(e->attempt, PHASE_FAILED) < order_key(p.attempts, p.phase)) {
      *out = LEDGER_KEPT;
    } else {
      *out = LEDGER_APPLIED;
      p.attempts = e->attempt;
      p.last_error = a.error;
      if (fatal) {
        /* The worker handed the job back unharmed: it waits in the queue
         * and the same attempt number starts again. */
        p.state = LEDGER_QUEUED;
        p.phase = PHASE_QUEUED;
      } else {
        /* Not retryable: the worker parks it next; until that message
         * arrives the paper is still this attempt's. */
        if (retryable)
          p.state = LEDGER_RETRYING;
        else if (p.state == LEDGER_QUEUED)
          p.state = LEDGER_RUNNING; /* its start event has not arrived (yet) */
        p.phase = PHASE_FAILED;
      }
    }
  }
  rc = put_paper(db, &p, e->ts);
  return rc ? rc : put_attempt(db, &a);
}

static int apply_succeeded(struct ledger_db *db, const struct event *e, enum ledger_outcome *out) {
  struct paper p;
  const cJSON *tr = cJSON_GetObjectItemCaseSensitive(e->root, "translation");
  if (!cJSON_IsObject(tr))
    return PQ_ERR_PARSE;
  const cJSON *timings = cJSON_GetObjectItemCaseSensitive(e->root, "timings");
  int64_t finished = (int64_t)jnum(timings, "finished_ms", (double)e->ts);
  int64_t started = (int64_t)jnum(timings, "started_ms", 0);
  const char *model = jstr(e->root, "model");
  int dry_run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->root, "dry_run"));
  struct attempt_row a = {e->paper_id, e->gen, e->attempt, e->worker, started, finished,
                          "succeeded", NULL,   NULL,       0,         0,       0};
  int rc = get_paper(db, e->paper_id, &p);
  if (rc)
    return rc;
  add_spend(db, &p, e->root, &a);
  int store = 1;
  if (p.exists && e->gen < p.gen) {
    /* History: the older generation's translation is kept if it is the first
     * for that generation; the paper's state belongs to the newer one. */
    *out = LEDGER_STALE;
  } else {
    if (!p.exists || e->gen > p.gen)
      new_generation(&p, e->gen, LEDGER_QUEUED);
    if (p.state == LEDGER_SUCCEEDED) {
      *out = LEDGER_KEPT; /* stored once: a redelivery or duplicate only adds its spend */
      a.outcome = "duplicate";
      store = 0;
    } else {
      /* parked -> succeeded is allowed: a worker finished a paper the
       * broker had already dead-lettered. */
      *out = LEDGER_APPLIED;
      p.state = LEDGER_SUCCEEDED;
      if (e->attempt > p.attempts)
        p.attempts = e->attempt;
      p.phase = PHASE_SUCCEEDED;
      p.model = model;
      p.dry_run = dry_run;
      p.finished_ms = finished;
      if (!p.started_ms && started > 0)
        p.started_ms = started; /* fast papers may come without a job.started */
      p.park_reason = NULL;
      p.replace_park_reason = 1;
      rc = count_terminal(db, finished, 1);
      if (rc)
        return rc;
    }
  }
  rc = put_paper(db, &p, e->ts);
  if (!rc)
    rc = put_attempt(db, &a);
  if (rc || !store)
    return rc;
  int nomem = 0;
  char *doc = cJSON_PrintUnformatted(tr);
  char *checks = jprint(e->root, "checks", &nomem);
  char *usage = jprint(e->root, "usage", &nomem);
  sqlite3_stmt *s = NULL;
  if (!doc || nomem) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  s = stmt(db, ST_TRANSLATION_PUT);
  if (!s) {
    rc = PQ_ERR_IO;
    goto cleanup;
  }
  sqlite3_bind_text(s, 1, e->paper_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, e->gen);
  sqlite3_bind_text(s, 3, e->id, -1, SQLITE_STATIC);
  bind_text(s, 4, e->worker);
  bind_text(s, 5, model);
  sqlite3_bind_int(s, 6, dry_run);
  if (sqlite3_bind_text(s, 7, doc, -1, SQLITE_STATIC) != SQLITE_OK) {
    /* Too long for SQLite: INSERT OR IGNORE would drop the row silently
     * and leave a success without its translation. */
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    rc = PQ_ERR_TOOBIG;
    goto cleanup;
  }
  bind_text(s, 8, checks);
  bind_text(s, 9, usage);
  sqlite3_bind_double(s, 10, a.cost_usd);
  if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(timings, "llm_ms")))
    sqlite3_bind_int64(s, 11, (sqlite3_int64)jnum(timings, "llm_ms", 0));
  bind_ms(s, 12, finished);
  rc = run(db, s);
cleanup:
  cJSON_free(doc);
  cJSON_free(checks);
  cJSON_free(usage);
  return rc;
}

/* A paper parked by a worker (reason header), by the broker (delivery
 * limit) or by a job.parked event. record may be NULL. */
static int park(struct ledger_db *db, const char *paper_id, long gen, long attempt,
                const char *reason, const cJSON *record, int64_t ts, enum ledger_outcome *out) {
  struct paper p;
  int rc = get_paper(db, paper_id, &p);
  if (rc)
    return rc;
  if (p.exists && gen < p.gen) {
    *out = LEDGER_STALE;
    return PQ_OK;
  }
  if (!p.exists || gen > p.gen)
    new_generation(&p, gen, LEDGER_QUEUED);
  if (attempt > p.attempts)
    p.attempts = attempt;
  if (terminal(p.state)) {
    *out = LEDGER_KEPT; /* never demote a success; the first park reason stays */
  } else {
    *out = LEDGER_APPLIED;
    p.state = LEDGER_PARKED;
    p.park_reason = reason;
    p.replace_park_reason = 1;
    p.finished_ms = ts;
    if (!p.queued_ms && record)
      p.queued_ms = ts;
    pq_warn("paper %s parked (gen %ld, attempt %ld): %s", paper_id, gen, attempt, reason);
    rc = count_terminal(db, ts, 0);
    if (rc)
      return rc;
  }
  if (record)
    p.title = jstr(record, "title");
  rc = put_paper(db, &p, ts);
  if (!rc && record)
    rc = put_source(db, paper_id, gen, jstr(record, "origin"), record);
  return rc;
}

static int apply_parked_event(struct ledger_db *db, const struct event *e,
                              enum ledger_outcome *out) {
  const char *reason = jstr(e->root, "reason");
  if (!reason)
    reason = jstr(e->root, "park_reason");
  if (!reason)
    reason = jstr(e->root, "error");
  return park(db, e->paper_id, e->gen, e->attempt, reason ? reason : "parked (no reason given)",
              NULL, e->ts, out);
}

/* A current judgement, as loaded to be retired or compared with. */
struct judgement {
  sqlite3_int64 id;
  char *judge;
  long gen;
  int64_t created_ms;
  double score[PQ_QA_NSCORES]; /* in pq_qa_score_names order */
  int current;                 /* still current while the set is being changed */
};

struct judgements {
  struct judgement *v;
  int n;
};

static void judgements_free(struct judgements *js) {
  for (int i = 0; i < js->n; i++)
    free(js->v[i].judge);
  free(js->v);
  js->v = NULL;
  js->n = 0;
}

/* The paper's current judgements: one per judge, so a handful. */
static int load_current(struct ledger_db *db, const char *paper_id, struct judgements *js) {
  sqlite3_stmt *s = stmt(db, ST_QA_CURRENT);
  int rc;
  js->v = NULL;
  js->n = 0;
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, paper_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    struct judgement *v = realloc(js->v, (size_t)(js->n + 1) * sizeof *v);
    if (!v) {
      rc = SQLITE_NOMEM;
      break;
    }
    js->v = v;
    struct judgement *j = &js->v[js->n];
    const unsigned char *judge = sqlite3_column_text(s, 1);
    j->judge = strdup(judge ? (const char *)judge : "");
    if (!j->judge) {
      rc = SQLITE_NOMEM;
      break;
    }
    js->n++;
    j->id = sqlite3_column_int64(s, 0);
    j->gen = (long)sqlite3_column_int64(s, 2);
    j->created_ms = sqlite3_column_int64(s, 3);
    for (int i = 0; i < PQ_QA_NSCORES; i++)
      j->score[i] = sqlite3_column_double(s, 4 + i);
    j->current = 1;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc == SQLITE_DONE)
    return PQ_OK;
  judgements_free(js);
  return rc == SQLITE_NOMEM ? PQ_ERR_NOMEM : sql_fail(db, "reading judgements");
}

/* Adds (sign 1) or removes (sign -1) judgement j from the QA statistics.
 * others: the paper's other judgements; those still current pair with j. */
static int qa_stats(struct ledger_db *db, const char *paper_id, const struct judgement *j, int sign,
                    const struct judgements *others) {
  double overall = j->score[PQ_QA_OVERALL];
  long bucket = lround(overall);
  bucket = bucket < 1 ? 1 : bucket > 10 ? 10 : bucket;
  sqlite3_stmt *s = stmt(db, ST_QA_JUDGE_STATS);
  if (!s)
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, j->judge, -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 2, sign);
  for (int i = 0; i < PQ_QA_NSCORES; i++)
    sqlite3_bind_double(s, 3 + i, sign * j->score[i]);
  for (int b = 1; b <= 10; b++)
    sqlite3_bind_int(s, 2 + PQ_QA_NSCORES + b, b == bucket ? sign : 0);
  int rc = run(db, s);
  if (rc)
    return rc;
  if (!(s = stmt(db, ST_QA_PAPER_STATS)))
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, paper_id, -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 2, sign);
  sqlite3_bind_double(s, 3, sign * overall);
  if ((rc = run(db, s)))
    return rc;
  int alive = 0;
  for (int i = 0; i < others->n; i++) {
    if (!others->v[i].current || &others->v[i] == j)
      continue;
    alive++;
    db->delta.n[LC_QA_PAIRS] += sign;
    db->delta.x[LC_QA_PAIRS] += sign * fabs(overall - others->v[i].score[PQ_QA_OVERALL]);
  }
  if (alive == 0) /* j is (or was) the paper's only current judgement */
    db->delta.n[LC_QA_PAPERS] += sign;
  db->delta.n[LC_QA_CURRENT] += sign;
  db->delta.x[LC_QA_CURRENT] += sign * overall;
  return PQ_OK;
}

/* Moves judgements of the paper out of the current set: those of older
 * generations than gen, and judge's own when judge is not NULL. */
static int retire(struct ledger_db *db, const char *paper_id, struct judgements *js, long gen,
                  const char *judge) {
  for (int i = 0; i < js->n; i++) {
    struct judgement *j = &js->v[i];
    if (!j->current || !(j->gen < gen || (judge && strcmp(j->judge, judge) == 0)))
      continue;
    j->current = 0;
    int rc = qa_stats(db, paper_id, j, -1, js);
    if (rc)
      return rc;
    sqlite3_stmt *s = stmt(db, ST_QA_RETIRE);
    if (!s)
      return PQ_ERR_IO;
    sqlite3_bind_int64(s, 1, j->id);
    if ((rc = run(db, s)))
      return rc;
  }
  return PQ_OK;
}

/* A judge request that failed (malformed reply, 5xx...): the QA job is
 * retried by the worker; here only its spend counts, towards QA's cost. The
 * paper's state is QA's business only when a judgement arrives. */
static int apply_qa_failed(struct ledger_db *db, const struct event *e, enum ledger_outcome *out) {
  add_waste(db, e->root);
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(e->root, "usage");
  double cost = jamount(e->root, "cost_usd");
  db->delta.n[LC_QA_PROMPT_TOKENS] += (long long)jamount(usage, "prompt_tokens");
  db->delta.n[LC_QA_COMPLETION_TOKENS] += (long long)jamount(usage, "completion_tokens");
  db->delta.x[LC_COST_QA] += cost;
  struct paper p;
  int rc = get_paper(db, e->paper_id, &p);
  if (rc == PQ_OK && p.exists && cost > 0) {
    p.qa_cost_usd += cost;
    rc = put_paper(db, &p, e->ts);
  }
  *out = LEDGER_APPLIED;
  return rc;
}

static int apply_qa(struct ledger_db *db, const struct event *e, enum ledger_outcome *out,
                    const char **why) {
  struct judgement nj = {0};
  const char *judge = jstr(e->root, "judge");
  const cJSON *scores = cJSON_GetObjectItemCaseSensitive(e->root, "scores");
  if (!usable_id(judge)) {
    *why = "qa.scored without a judge";
    return PQ_ERR_PARSE;
  }
  for (int i = 0; i < PQ_QA_NSCORES; i++) {
    nj.score[i] = jnum(scores, pq_qa_score_names[i], -1);
    if (nj.score[i] < 1 || nj.score[i] > 10) {
      *why = "qa.scored without five scores from 1 to 10";
      return PQ_ERR_PARSE;
    }
  }
  nj.judge = (char *)judge;
  nj.gen = e->gen;
  nj.created_ms = e->ts;
  add_waste(db, e->root);
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(e->root, "usage");
  long long pt = (long long)jamount(usage, "prompt_tokens");
  long long ct = (long long)jamount(usage, "completion_tokens");
  double cost = jamount(e->root, "cost_usd");
  db->delta.n[LC_QA_PROMPT_TOKENS] += pt;
  db->delta.n[LC_QA_COMPLETION_TOKENS] += ct;
  db->delta.x[LC_COST_QA] += cost;
  db->delta.n[LC_JUDGEMENTS]++;

  struct paper p;
  struct judgements cur = {0};
  int rc = get_paper(db, e->paper_id, &p);
  if (rc)
    return rc;
  if (p.exists) {
    p.qa_cost_usd += cost;
    if ((rc = put_paper(db, &p, e->ts)))
      return rc;
  }
  if ((rc = load_current(db, e->paper_id, &cur)))
    return rc;
  /* Only the latest judgement of each judge on the paper's latest judged
   * translation is current; the others stay as history. */
  int current = !(p.exists && e->gen < p.gen);
  for (int i = 0; current && i < cur.n; i++) {
    const struct judgement *j = &cur.v[i];
    if (j->gen > e->gen ||
        (j->gen == e->gen && strcmp(j->judge, judge) == 0 && j->created_ms > e->ts))
      current = 0;
  }
  *out = current ? LEDGER_APPLIED : LEDGER_STALE;
  if (current && (rc = retire(db, e->paper_id, &cur, e->gen, judge)))
    goto cleanup;
  sqlite3_stmt *s = stmt(db, ST_QA_PUT);
  if (!s) {
    rc = PQ_ERR_IO;
    goto cleanup;
  }
  sqlite3_bind_text(s, 1, e->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, e->paper_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, e->gen);
  sqlite3_bind_text(s, 4, judge, -1, SQLITE_STATIC);
  for (int i = 0; i < PQ_QA_NSCORES; i++)
    sqlite3_bind_double(s, 5 + i, nj.score[i]);
  bind_text(s, 10, jstr(e->root, "comments"));
  sqlite3_bind_int64(s, 11, pt);
  sqlite3_bind_int64(s, 12, ct);
  sqlite3_bind_double(s, 13, cost);
  sqlite3_bind_int64(s, 14, e->ts);
  sqlite3_bind_int(s, 15, current);
  bind_text(s, 16, jstr(e->root, "provider"));
  if ((rc = run(db, s)))
    goto cleanup;
  if (current)
    rc = qa_stats(db, e->paper_id, &nj, 1, &cur);
cleanup:
  judgements_free(&cur);
  return rc;
}

/* worker.heartbeat, worker.fatal, worker.stopped. */
static int apply_worker(struct ledger_db *db, const struct event *e, enum ledger_outcome *out) {
  sqlite3_stmt *s = stmt(db, ST_WORKER_GET);
  if (!s)
    return PQ_ERR_IO;
  char state[16] = "";
  int64_t state_ms = 0, last_seen = 0;
  sqlite3_bind_text(s, 1, e->worker, -1, SQLITE_STATIC);
  int exists = sqlite3_step(s) == SQLITE_ROW;
  if (exists) {
    const unsigned char *st = sqlite3_column_text(s, 0);
    snprintf(state, sizeof state, "%s", st ? (const char *)st : "");
    state_ms = sqlite3_column_int64(s, 1);
    last_seen = sqlite3_column_int64(s, 2);
  }
  sqlite3_reset(s);

  const char *kind = e->kind + strlen("worker.");
  const char *new_state = exists ? state : "running";
  int newest = e->ts >= last_seen;
  const char *fatal_error = NULL, *fatal_model = NULL, *stop_reason = NULL;
  *out = LEDGER_APPLIED;
  if (strcmp(kind, "heartbeat") == 0) {
    /* A heartbeat after a fatal stop is the worker restarted under the same
     * id (a container keeps its hostname and pid 1). */
    if (strcmp(state, "running") != 0 && e->ts > state_ms) {
      new_state = "running";
      state_ms = e->ts;
    }
  } else if (strcmp(kind, "fatal") == 0) {
    new_state = "fatal";
    state_ms = e->ts;
    fatal_error = jstr(e->root, "error");
    if (!fatal_error)
      fatal_error = "(no error text)";
    fatal_model = jstr(e->root, "model");
    pq_error("worker %s stopped on a fatal error: %s (model %s)", e->worker, fatal_error,
             fatal_model ? fatal_model : "not given");
  } else {
    stop_reason = jstr(e->root, "reason");
    /* The exit that follows a fatal error must not hide the error. */
    if (strcmp(state, "fatal") != 0 && e->ts >= state_ms) {
      new_state = "stopped";
      state_ms = e->ts;
    }
  }
  if (!(s = stmt(db, ST_WORKER_PUT)))
    return PQ_ERR_IO;
  sqlite3_bind_text(s, 1, e->worker, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, new_state, -1, SQLITE_TRANSIENT);
  bind_ms(s, 3, state_ms ? state_ms : e->ts);
  sqlite3_bind_int64(s, 4, newest ? e->ts : last_seen);
  if (strcmp(kind, "heartbeat") == 0 && newest) {
    static const char *const f[4] = {"in_flight", "done", "failed", "concurrency"};
    bind_ms(s, 5, (int64_t)jnum(e->root, "started_ms", 0));
    for (int i = 0; i < 4; i++) {
      double v = jnum(e->root, f[i], -1);
      if (v >= 0)
        sqlite3_bind_int64(s, 6 + i, (sqlite3_int64)v);
    }
  }
  bind_text(s, 10, fatal_error);
  bind_text(s, 11, fatal_model);
  bind_text(s, 12, stop_reason);
  return run(db, s);
}

/* Reads the common fields; *why says what is wrong when it returns
 * PQ_ERR_PARSE. */
static int read_event(const cJSON *root, int64_t received_ms, struct event *e, const char **why) {
  memset(e, 0, sizeof *e);
  e->root = root;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
  if (v && (!cJSON_IsNumber(v) || v->valuedouble != 1)) {
    *why = "unsupported message version (v must be 1)";
    return PQ_ERR_PARSE;
  }
  e->id = jstr(root, "id");
  e->kind = jstr(root, "kind");
  if (!usable_id(e->id)) {
    *why = "event without a usable id";
    return PQ_ERR_PARSE;
  }
  if (!e->kind || !e->kind[0]) {
    *why = "event without a kind";
    return PQ_ERR_PARSE;
  }
  if (!numbers_ok(root, why))
    return PQ_ERR_PARSE;
  double ts = jnum(root, "ts", 0);
  e->ts = ts > 0 ? (int64_t)ts : (received_ms > 0 ? received_ms : pq_now_ms());
  e->paper_id = jstr(root, "paper_id");
  e->worker = jstr(root, "worker");
  /* The same rule as the job decoder the worker uses (pq_job_decode). */
  const cJSON *genv = cJSON_GetObjectItemCaseSensitive(root, "gen");
  const cJSON *attv = cJSON_GetObjectItemCaseSensitive(root, "attempt");
  double gen = cJSON_IsNumber(genv) ? genv->valuedouble : 0;
  double attempt = cJSON_IsNumber(attv) ? attv->valuedouble : 0;
  if ((genv && !cJSON_IsNumber(genv)) || !pq_job_gen_ok(gen) || (attv && !cJSON_IsNumber(attv)) ||
      (attempt != 0 && !pq_job_attempt_ok(attempt))) {
    *why = "event with a gen or attempt out of range (gen 0..1e9, attempt 1..1e6, integers)";
    return PQ_ERR_PARSE;
  }
  e->gen = (long)gen;
  e->attempt = (long)attempt;
  if (e->worker && strlen(e->worker) >= MAX_ID_BYTES) {
    *why = "event with an overlong worker id";
    return PQ_ERR_PARSE;
  }
  return PQ_OK;
}

static int apply_event(struct ledger_db *db, const struct ledger_msg *m, const cJSON *root,
                       enum ledger_outcome *out) {
  struct event e;
  const char *why = NULL;
  int rc = read_event(root, m->received_ms, &e, &why);
  if (rc == PQ_OK) {
    int job = strncmp(e.kind, "job.", 4) == 0 || strncmp(e.kind, "qa.", 3) == 0;
    int worker = strncmp(e.kind, "worker.", 7) == 0;
    if (job && !usable_id(e.paper_id)) {
      why = "event without a usable paper_id";
      rc = PQ_ERR_PARSE;
    } else if (worker && !usable_id(e.worker)) {
      why = "worker event without a worker id";
      rc = PQ_ERR_PARSE;
    }
  }
  if (rc) {
    *out = LEDGER_BAD;
    return record_bad(db, m, why);
  }
  int dup;
  if ((rc = mark_seen(db, e.id, &dup)))
    return rc;
  if (dup) {
    db->delta.n[LC_DUPLICATES]++;
    *out = LEDGER_DUPLICATE;
    return PQ_OK;
  }
  rc = PQ_ERR_PARSE;
  why = NULL;
  if (strcmp(e.kind, "job.queued") == 0) {
    rc = apply_queued(db, &e, out);
    why = "job.queued without a record object";
  } else if (strcmp(e.kind, "job.started") == 0) {
    rc = apply_started(db, &e, out);
  } else if (strcmp(e.kind, "job.succeeded") == 0) {
    rc = apply_succeeded(db, &e, out);
    why = "job.succeeded without a translation object";
  } else if (strcmp(e.kind, "job.failed") == 0) {
    rc = apply_failed(db, &e, out);
  } else if (strcmp(e.kind, "job.parked") == 0) {
    rc = apply_parked_event(db, &e, out);
  } else if (strcmp(e.kind, "qa.scored") == 0) {
    rc = apply_qa(db, &e, out, &why);
  } else if (strcmp(e.kind, "qa.failed") == 0) {
    rc = apply_qa_failed(db, &e, out);
  } else if (strcmp(e.kind, "worker.heartbeat") == 0 || strcmp(e.kind, "worker.fatal") == 0 ||
             strcmp(e.kind, "worker.stopped") == 0) {
    rc = apply_worker(db, &e, out);
  } else {
    why = "unknown event kind";
  }
  if (rc == PQ_ERR_PARSE) {
    /* The id stays seen, so a redelivery of this bad event is not recorded
     * twice. */
    *out = LEDGER_BAD;
    return record_bad(db, m, why ? why : "invalid event");
  }
  return rc;
}

/* The reason a job arrived parked, from its headers. */
static void park_reason(const struct ledger_msg *m, char *out, size_t outlen) {
  if (m->park_reason && m->park_reason[0])
    snprintf(out, outlen, "%s", m->park_reason);
  else if (m->death_reason && strcmp(m->death_reason, "delivery_limit") == 0)
    snprintf(out, outlen,
             "poison: delivered %ld times without an outcome (x-delivery-limit reached; "
             "workers crashed or hung on it)",
             m->delivery_count);
  else if (m->death_reason && m->death_reason[0])
    snprintf(out, outlen, "dead-lettered by the broker: %s", m->death_reason);
  else
    snprintf(out, outlen, "parked (the message carries no reason)");
}

/* A parked translation job parks the paper; a parked QA job only records
 * that the judges could not be asked (the translation stands). */
static int apply_parked_job(struct ledger_db *db, const struct ledger_msg *m, int qa,
                            enum ledger_outcome *out) {
  struct pq_job job;
  char err[256], reason[1200];
  if (pq_job_decode_delivery(m->body, m->len, m->attempt, &job, err, sizeof err) != PQ_OK) {
    if (!job.paper_id[0] || qa) {
      *out = LEDGER_BAD;
      return record_bad(db, m, err);
    }
    /* A job refused by the decoder (too large, bad gen...) was parked by
     * the worker for that reason: the paper is parked by name, not lost. */
    char head[1024];
    park_reason(m, head, sizeof head);
    snprintf(reason, sizeof reason, "%s", head);
    if (!m->park_reason || !m->park_reason[0])
      snprintf(reason, sizeof reason, "%.500s (undecodable job: %.500s)", head, err);
    return park(db, job.paper_id, job.gen > 0 ? job.gen : 0,
                m->attempt > 0 && m->attempt <= PQ_JOB_MAX_ATTEMPT ? m->attempt : 0, reason, NULL,
                m->received_ms > 0 ? m->received_ms : pq_now_ms(), out);
  }
  park_reason(m, reason, sizeof reason);
  int64_t ts = m->received_ms > 0 ? m->received_ms : pq_now_ms();
  int rc;
  if (qa) {
    sqlite3_stmt *s = stmt(db, ST_QA_PARKED_PUT);
    rc = PQ_ERR_IO;
    if (s) {
      sqlite3_bind_text(s, 1, job.paper_id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(s, 2, job.gen);
      sqlite3_bind_int64(s, 3, m->attempt);
      sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
      sqlite3_bind_int64(s, 5, ts);
      rc = run(db, s);
    }
    if (rc == PQ_OK) {
      db->delta.n[LC_QA_PARKED]++;
      *out = LEDGER_APPLIED;
      pq_warn("paper %s: QA job parked (gen %d): %s", job.paper_id, job.gen, reason);
    }
  } else {
    rc = park(db, job.paper_id, job.gen, m->attempt, reason, job.record, ts, out);
  }
  pq_job_free(&job);
  return rc;
}

static int apply_one(struct ledger_db *db, const struct ledger_msg *m,
                     enum ledger_outcome *outcome) {
  enum ledger_outcome out = LEDGER_BAD;
  int rc;
  cJSON *root = m->body && m->len ? cJSON_ParseWithLength(m->body, m->len) : NULL;
  if (!cJSON_IsObject(root)) {
    rc = record_bad(db, m, root ? "not a JSON object" : "not valid JSON");
    goto cleanup;
  }
  /* A job on the ledger queue can only have come through P.parked. Older
   * senders may leave the type out: the body tells events from jobs. */
  int is_job = m->type && strcmp(m->type, PQ_MSG_TYPE_JOB) == 0;
  int is_qa = m->type && strcmp(m->type, PQ_MSG_TYPE_QA) == 0;
  if (!m->type || !m->type[0])
    is_job = !cJSON_GetObjectItemCaseSensitive(root, "kind") &&
             cJSON_GetObjectItemCaseSensitive(root, "record");
  if (is_job || is_qa)
    rc = apply_parked_job(db, m, is_qa, &out);
  else if (m->type && m->type[0] && strcmp(m->type, PQ_MSG_TYPE_EVENT) != 0)
    rc = record_bad(db, m, "unexpected message type on the ledger queue");
  else
    rc = apply_event(db, m, root, &out);
  if (rc == PQ_OK && out != LEDGER_BAD && out != LEDGER_DUPLICATE) {
    db->delta.n[LC_EVENTS]++;
    if (out == LEDGER_STALE)
      db->delta.n[LC_STALE]++;
  }
cleanup:
  cJSON_Delete(root);
  if (outcome)
    *outcome = out;
  return rc;
}

/* Failures that belong to the message, not to the database: the message is
 * undone and recorded as bad; anything else (disk full, I/O, locked) stops
 * the batch. */
static int message_error(int rc, int sqlite_code) {
  if (rc == PQ_ERR_NOMEM || rc == PQ_ERR_PARSE || rc == PQ_ERR_TOOBIG)
    return 1;
  int primary = sqlite_code & 0xff;
  return primary == SQLITE_CONSTRAINT || primary == SQLITE_TOOBIG || primary == SQLITE_MISMATCH ||
         primary == SQLITE_RANGE;
}

int ledger_db_apply(struct ledger_db *db, const struct ledger_msg *m,
                    enum ledger_outcome *outcome) {
  int rc = ledger_db_begin(db);
  if (rc)
    return rc;
  sqlite3_stmt *sp = stmt(db, ST_SAVEPOINT);
  if (!sp || run(db, sp))
    return PQ_ERR_IO;
  struct ledger_counters delta = db->delta;
  int64_t first = db->tx_first_queued_ms, last = db->tx_last_finished_ms;
  db->last_error = SQLITE_OK;
  rc = apply_one(db, m, outcome);
  if (rc != PQ_OK && message_error(rc, db->last_error)) {
    char why[256];
    snprintf(why, sizeof why, "cannot be applied: %s",
             rc == PQ_ERR_NOMEM    ? "out of memory"
             : rc == PQ_ERR_PARSE  ? "invalid content"
             : rc == PQ_ERR_TOOBIG ? "a value too large for the database"
                                   : sqlite3_errstr(db->last_error));
    sqlite3_stmt *back = stmt(db, ST_ROLLBACK_TO);
    if (!back || run(db, back))
      return PQ_ERR_IO;
    db->delta = delta;
    db->tx_first_queued_ms = first;
    db->tx_last_finished_ms = last;
    rc = record_bad(db, m, why);
    if (outcome)
      *outcome = LEDGER_BAD;
  }
  sqlite3_stmt *rel = stmt(db, ST_RELEASE);
  if (rc == PQ_OK && (!rel || run(db, rel)))
    rc = PQ_ERR_IO;
  return rc;
}

int ledger_db_requeued(struct ledger_db *db, const char *paper_id, long gen) {
  struct paper p;
  int rc = ledger_db_begin(db);
  if (rc)
    return rc;
  if ((rc = get_paper(db, paper_id, &p)))
    return rc;
  if (!p.exists || gen <= p.gen)
    return PQ_ERR_PARSE;
  new_generation(&p, gen, LEDGER_QUEUED);
  if ((rc = put_paper(db, &p, pq_now_ms())))
    return rc;
  /* Judgements of the old translation become history. */
  struct judgements cur;
  if ((rc = load_current(db, paper_id, &cur)))
    return rc;
  rc = retire(db, paper_id, &cur, gen, NULL);
  judgements_free(&cur);
  return rc;
}

int ledger_db_counters(struct ledger_db *db, struct ledger_counters *out) {
  sqlite3_stmt *s = NULL;
  memset(out, 0, sizeof *out);
  if (sqlite3_prepare_v2(db->db, "SELECT name, n, x FROM counters", -1, &s, NULL) != SQLITE_OK)
    return sql_fail(db, "reading counters");
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(s, 0);
    for (int i = 0; name && i < LC_COUNT; i++)
      if (strcmp(name, counter_names[i]) == 0) {
        out->n[i] = sqlite3_column_int64(s, 1);
        out->x[i] = sqlite3_column_double(s, 2);
      }
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? PQ_OK : sql_fail(db, "reading counters");
}

int ledger_db_meta_get(struct ledger_db *db, const char *key, char *out, size_t outlen,
                       int *found) {
  sqlite3_stmt *s = NULL;
  *found = 0;
  if (outlen)
    out[0] = '\0';
  if (sqlite3_prepare_v2(db->db, "SELECT value FROM meta WHERE key = ?1", -1, &s, NULL) !=
      SQLITE_OK)
    return sql_fail(db, "reading meta");
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text(s, 0);
    snprintf(out, outlen, "%s", v ? (const char *)v : "");
    *found = 1;
  }
  sqlite3_finalize(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? PQ_OK : sql_fail(db, "reading meta");
}

int ledger_db_meta_set(struct ledger_db *db, const char *key, const char *value) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1, &s,
                         NULL) != SQLITE_OK)
    return sql_fail(db, "writing meta");
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  bind_text(s, 2, value);
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? PQ_OK : sql_fail(db, "writing meta");
}

int ledger_db_spent(struct ledger_db *db, double *usd) {
  struct ledger_counters c;
  int rc = ledger_db_counters(db, &c);
  *usd = rc ? 0 : c.x[LC_COST_TRANSLATE] + c.x[LC_COST_QA];
  return rc;
}
