/* The ledger's read API: every question report, show, failed, export,
 * requeue and the producer ask the database, as typed rows. Writes stay in
 * db.c; SQL and sqlite3 stay in db.c and query.c.
 *
 * Row functions call fn once per row, in the order documented. A row's
 * strings are borrowed: valid until fn returns (copy what you keep); NULL
 * means SQL NULL. fn returns PQ_OK to go on; any other value stops the walk
 * and is returned as is. Otherwise the functions return PQ_OK or
 * PQ_ERR_IO (logged with the database path). */
#ifndef PAPERQ_LEDGER_QUERY_H
#define PAPERQ_LEDGER_QUERY_H

#include "db.h"

#include "paperq/qa.h"

#include <stdint.h>

/* A column that may be NULL. */
struct ledger_int {
  int known; /* 0: SQL NULL */
  int64_t v; /* 0 when not known */
};

/* ---- one snapshot ---- */

/* Opens a read transaction when none is open, so that several queries see
 * the same committed state while serve keeps writing. *own says whether it
 * did; pass it to ledger_query_end. */
int ledger_query_begin(struct ledger_db *db, int *own);
void ledger_query_end(struct ledger_db *db, int own);

/* ---- papers ---- */

/* The papers row (schema in db.c). */
struct ledger_paper_row {
  const char *paper_id;
  const char *state; /* as stored: "queued" ... "parked" */
  long gen;          /* requeue generation */
  long attempts;     /* highest attempt seen in this generation */
  const char *title, *origin;
  struct ledger_int queued_ms, started_ms, finished_ms;
  const char *last_error, *park_reason, *model;
  int dry_run;
  long long prompt_tokens, completion_tokens; /* every attempt of every generation */
  double cost_usd, qa_cost_usd;               /* USD */
  int64_t updated_ms;
};

/* The paper paper_id: fn is called once, or not at all when the ledger has
 * no such paper (*found says which; found may be NULL). */
int ledger_query_paper(struct ledger_db *db, const char *paper_id,
                       int (*fn)(void *ctx, const struct ledger_paper_row *r), void *ctx,
                       int *found);

/* Every paper in state (enum ledger_state), by paper id. */
int ledger_query_papers_in_state(struct ledger_db *db, int state,
                                 int (*fn)(void *ctx, const struct ledger_paper_row *r), void *ctx);

/* The state of one paper: *found 0 when the ledger has no such paper;
 * *state is an enum ledger_state, or -1 when the stored text is not one.
 * Meant for lookups in a loop (the producer's "already known" check): the
 * statement is prepared once per connection. */
int ledger_query_state(struct ledger_db *db, const char *paper_id, int *found, int *state);

/* ---- attempts, translations, judgements ---- */

struct ledger_attempt_row {
  long gen, attempt;
  const char *worker;
  struct ledger_int started_ms, finished_ms;
  const char *outcome; /* running|failed|succeeded|duplicate */
  const char *error_class, *error;
  long long prompt_tokens, completion_tokens;
  double cost_usd;
};

/* Every attempt of every generation of a paper, oldest first: by
 * generation, attempt, then start (a redelivered attempt keeps its number,
 * so one attempt can have rows from several workers). */
int ledger_query_attempts(struct ledger_db *db, const char *paper_id,
                          int (*fn)(void *ctx, const struct ledger_attempt_row *r), void *ctx);

struct ledger_translation_row {
  long gen;
  const char *model;
  int dry_run;
  const char *doc, *checks, *usage; /* JSON text as stored */
  double cost_usd;
  struct ledger_int llm_ms, created_ms;
  const char *worker, *event_id;
};

/* The newest translation of a paper (the current one when it succeeded):
 * fn is called at most once. */
int ledger_query_latest_translation(struct ledger_db *db, const char *paper_id,
                                    int (*fn)(void *ctx, const struct ledger_translation_row *r),
                                    void *ctx);

struct ledger_judgement_row {
  const char *judge;
  long gen;
  double score[PQ_QA_NSCORES]; /* in pq_qa_score_names order; NULL reads 0 */
  const char *comments;
  struct ledger_int created_ms;
  int current; /* the latest of this judge on the paper's latest translation */
};

/* Every judgement of a paper, history included, in the order received. */
int ledger_query_judgements(struct ledger_db *db, const char *paper_id,
                            int (*fn)(void *ctx, const struct ledger_judgement_row *r), void *ctx);

struct ledger_qa_parked_row {
  long gen;
  struct ledger_int attempt, received_ms;
  const char *reason;
};

/* QA jobs of a paper that ended parked, in the order received. */
int ledger_query_qa_parked(struct ledger_db *db, const char *paper_id,
                           int (*fn)(void *ctx, const struct ledger_qa_parked_row *r), void *ctx);

/* ---- export, requeue, qa ---- */

/* A succeeded paper with the translation of its current generation and its
 * source record. */
struct ledger_export_row {
  const char *paper_id;
  long gen;
  const char *model, *doc, *checks, *usage; /* the translation's; JSON text */
  int dry_run;
  double translation_cost_usd; /* of the attempt that produced it */
  const char *record;          /* source record (JSON), NULL if never stored */
  double cost_usd;             /* the paper's whole translation spend */
  struct ledger_int finished_ms;
};

/* Every succeeded paper that has a translation of its generation, by id. */
int ledger_query_succeeded(struct ledger_db *db,
                           int (*fn)(void *ctx, const struct ledger_export_row *r), void *ctx);

/* A paper, its generation and its stored source record (NULL if the
 * job.queued event never reached the ledger). */
struct ledger_source_row {
  const char *paper_id;
  long gen;
  const char *record;
};

/* Parked papers (only paper_id when not NULL), by id. */
int ledger_query_parked_sources(struct ledger_db *db, const char *paper_id,
                                int (*fn)(void *ctx, const struct ledger_source_row *r), void *ctx);

/* Succeeded papers whose mean overall over current judgements is below
 * `below` (only paper_id when not NULL), by id. */
int ledger_query_low_qa_sources(struct ledger_db *db, double below, const char *paper_id,
                                int (*fn)(void *ctx, const struct ledger_source_row *r), void *ctx);

/* A paper's state, generation, source record and the translation of its
 * current generation (doc NULL when there is none). */
struct ledger_current_row {
  const char *state;
  long gen;
  const char *record, *doc;
};
int ledger_query_current(struct ledger_db *db, const char *paper_id,
                         int (*fn)(void *ctx, const struct ledger_current_row *r), void *ctx,
                         int *found);

/* ---- the report's small tables ---- */

/* Papers that reached succeeded in the minutes >= minute (minutes since the
 * epoch), from the per-minute throughput table. */
int ledger_query_succeeded_since(struct ledger_db *db, int64_t minute, long long *count);

struct ledger_worker_row {
  const char *worker;
  const char *state; /* running|fatal|stopped */
  int64_t last_seen_ms, state_ms;
  struct ledger_int in_flight, done, failed, concurrency; /* from the last heartbeat */
  const char *fatal_error, *fatal_model, *stop_reason;
};

/* Every worker the ledger heard of, by id. */
int ledger_query_workers(struct ledger_db *db,
                         int (*fn)(void *ctx, const struct ledger_worker_row *r), void *ctx);

/* The most recent bad message: fn is called at most once. */
struct ledger_bad_row {
  const char *reason;
  int64_t received_ms;
};
int ledger_query_latest_bad(struct ledger_db *db,
                            int (*fn)(void *ctx, const struct ledger_bad_row *r), void *ctx);

#define LEDGER_QA_HIST 10 /* overall scores 1..10 */

/* One judge's statistics over current judgements. */
struct ledger_judge_row {
  const char *judge;
  long long n;                    /* current judgements */
  double sum[PQ_QA_NSCORES];      /* sum of each score, pq_qa_score_names order */
  long long hist[LEDGER_QA_HIST]; /* how many had overall 1, 2, ... 10 */
};

/* Judges with at least one current judgement, by name. */
int ledger_query_judges(struct ledger_db *db,
                        int (*fn)(void *ctx, const struct ledger_judge_row *r), void *ctx);

/* A paper's mean overall over its current judgements. */
struct ledger_qa_paper_row {
  const char *paper_id;
  double mean_overall;
  long long n;       /* current judgements */
  const char *title; /* NULL if unknown */
};

/* The `limit` lowest-scored judged papers, lowest first (ties by id). */
int ledger_query_lowest_qa(struct ledger_db *db, int limit,
                           int (*fn)(void *ctx, const struct ledger_qa_paper_row *r), void *ctx);

/* ---- watch, metrics and the HTML report (issue 14) ---- */

/* A succeeded paper's newest translation, newest first. */
struct ledger_recent_row {
  const char *paper_id;
  const char *title; /* NULL if unknown */
  const char *model, *worker;
  struct ledger_int created_ms, llm_ms;
  double cost_usd;
};

/* The `limit` translations recorded last (by insertion), newest first. */
int ledger_query_recent_translations(struct ledger_db *db, int limit,
                                     int (*fn)(void *ctx, const struct ledger_recent_row *r),
                                     void *ctx);

/* Failures by reason class: failed attempts by error_class ("unknown" when
 * none was given), most frequent first. A scan of attempts: cheap next to a
 * watch interval on a million papers (docs/observability.md has the figure). */
struct ledger_failure_row {
  const char *error_class;
  long long attempts; /* failed attempts with this class */
  long long papers;   /* distinct papers among them */
};
int ledger_query_failure_classes(struct ledger_db *db,
                                 int (*fn)(void *ctx, const struct ledger_failure_row *r),
                                 void *ctx);

/* Parked papers by park reason, most frequent first. */
struct ledger_parked_reason_row {
  const char *reason; /* "unknown" when none was recorded */
  long long papers;
};
int ledger_query_parked_reasons(struct ledger_db *db,
                                int (*fn)(void *ctx, const struct ledger_parked_reason_row *r),
                                void *ctx);

/* Papers finished per minute of event time (the throughput table), oldest
 * first. minute: minutes since the epoch. */
struct ledger_minute_row {
  int64_t minute;
  long long succeeded, parked;
};
int ledger_query_throughput(struct ledger_db *db,
                            int (*fn)(void *ctx, const struct ledger_minute_row *r), void *ctx);

/* Spend per minute of the attempt's (or judgement's) finish time, oldest
 * first: translation attempts whatever their outcome, and QA judgements. */
struct ledger_spend_row {
  int64_t minute;
  double translate_usd, qa_usd;
};
int ledger_query_spend_by_minute(struct ledger_db *db,
                                 int (*fn)(void *ctx, const struct ledger_spend_row *r), void *ctx);

/* Translation spend by what became of it: attempts that produced the
 * paper's success ("used") and the rest (failed, duplicate, or still
 * running): thrown away. USD. */
int ledger_query_spend_split(struct ledger_db *db, double *used_usd, double *thrown_usd);

/* The `limit` succeeded papers whose successful attempt took longest
 * (finished_ms - started_ms of the paper's current state), slowest first. */
struct ledger_slow_row {
  const char *paper_id;
  const char *title; /* NULL if unknown */
  int64_t duration_ms;
  long attempts;
  struct ledger_int llm_ms; /* summed LLM request time of the translation */
};
int ledger_query_slowest(struct ledger_db *db, int limit,
                         int (*fn)(void *ctx, const struct ledger_slow_row *r), void *ctx);

#endif
