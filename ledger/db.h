/* The ledger database: opening SQLite, the schema, and applying messages.
 * ledger_db_apply is the one place rows are written for events (the rules
 * are in docs/messages.md); requeue's state change is ledger_db_requeued.
 * Nothing here knows about AMQP, so the rules are unit-testable. */
#ifndef PAPERQ_LEDGER_DB_H
#define PAPERQ_LEDGER_DB_H

#include "paperq/spend.h"
#include <stddef.h>
#include <stdint.h>

struct ledger_db;

/* Paper states, in the order the report lists them. */
enum ledger_state {
  LEDGER_QUEUED = 0,
  LEDGER_RUNNING,
  LEDGER_RETRYING,
  LEDGER_SUCCEEDED,
  LEDGER_PARKED,
  LEDGER_NSTATES
};
const char *ledger_state_name(int state); /* "queued", ... */
int ledger_state_parse(const char *name); /* -1 if unknown */

/* Counters maintained in the same transaction as the rows they count, so the
 * report reads a handful of rows instead of scanning a million papers. */
enum ledger_counter {
  LC_PAPERS = 0,
  LC_STATE0, /* LC_STATE0 + enum ledger_state: papers in that state */
  LC_PROMPT_TOKENS = LC_STATE0 + LEDGER_NSTATES,
  LC_COMPLETION_TOKENS,
  LC_QA_PROMPT_TOKENS,
  LC_QA_COMPLETION_TOKENS,
  LC_COST_TRANSLATE, /* USD in x: every job.* event's cost_usd, failed attempts too */
  LC_COST_QA,        /* USD in x: every qa.* event's cost_usd */
  LC_DRY_RUN,        /* succeeded papers whose translation is a dry run */
  LC_BAD,            /* messages recorded in bad_messages */
  LC_EVENTS,         /* messages applied (new) */
  LC_DUPLICATES,     /* events ignored because their id was already applied */
  LC_STALE,          /* messages of an older generation, kept as history only */
  LC_JUDGEMENTS,     /* qa_judgements rows, history included */
  /* QA over current judgements (the latest of each judge on each paper's
   * latest translation), kept up to date as judgements come and retire: */
  LC_QA_CURRENT, /* n: current judgements; x: sum of their overall scores */
  LC_QA_PAPERS,  /* n: papers with at least one current judgement */
  LC_QA_PAIRS,   /* n: pairs of judges on one paper; x: sum of |overall difference| */
  LC_QA_PARKED,  /* QA jobs that ended parked (the translation stands) */
  /* Spend split (issue 11): every cost above is used or thrown away. */
  LC_COST_WASTED,    /* x: USD spent on replies thrown away (translation + QA) */
  LC_COST_ESTIMATED, /* x: USD that are estimates (timed out, cancelled: no usage) */
  LC_WASTE0,         /* LC_WASTE0 + enum pq_waste: n replies, x USD thrown away for it */
  LC_COUNT = LC_WASTE0 + PQ_WASTE_COUNT
};
struct ledger_counters {
  long long n[LC_COUNT];
  double x[LC_COUNT];
};

/* One message as it came off the ledger queue, independent of AMQP.
 * Every pointer is borrowed for the duration of ledger_db_apply; NULL and ""
 * both mean absent. */
struct ledger_msg {
  const char *type;       /* AMQP type: "paperq.event", or "paperq.job" / "paperq.qa"
                             for a parked job */
  const char *message_id; /* event id, or paper id for a job */
  const void *body;
  size_t len;
  const char *park_reason;  /* x-paperq-park-reason of a job a worker parked */
  const char *death_reason; /* x-first-death-reason of a job the broker dead-lettered */
  long attempt;             /* x-paperq-attempt as sent, 0 if absent */
  long delivery_count;      /* x-delivery-count, 0 if absent */
  int64_t received_ms;      /* stands in for a missing ts */
};

/* What ledger_db_apply did with a message. */
enum ledger_outcome {
  LEDGER_APPLIED = 0, /* new, and rows changed */
  LEDGER_DUPLICATE,   /* event id seen before: nothing changed */
  LEDGER_STALE,       /* older generation: history and spend only */
  LEDGER_KEPT,        /* new, recorded, but a terminal state was not demoted */
  LEDGER_BAD          /* undecodable or invalid: recorded in bad_messages */
};

#define LEDGER_DB_CREATE 1   /* create the file and schema if missing (serve) */
#define LEDGER_DB_READONLY 2 /* read only, nothing configured or created (the producer) */

/* Opens path (WAL, synchronous=NORMAL, busy_timeout) and brings the schema
 * to the current version. Without LEDGER_DB_CREATE a missing file is an
 * error ("no ledger database at ..."). With LEDGER_DB_READONLY the file is
 * opened read-only and must already have the current schema; only the
 * read API (query.h) may then be used.
 * PQ_OK, PQ_ERR_IO (message in err), PQ_ERR_NOMEM. Close with
 * ledger_db_close, which accepts NULL. */
int ledger_db_open(const char *path, int flags, struct ledger_db **out, char *err, size_t errlen);
void ledger_db_close(struct ledger_db *db);

/* Reads go through query.h; the connection itself stays inside db.c and
 * query.c. The path is borrowed: valid until ledger_db_close. */
const char *ledger_db_path(const struct ledger_db *db);

/* Write transactions. apply and requeued begin one themselves when none is
 * open; commit writes the counter deltas and commits, rollback forgets them.
 * PQ_OK or PQ_ERR_IO (logged). */
int ledger_db_begin(struct ledger_db *db);
int ledger_db_commit(struct ledger_db *db);
void ledger_db_rollback(struct ledger_db *db);
int ledger_db_in_transaction(const struct ledger_db *db);

/* Applies one message inside the open transaction. A message that is not
 * valid is recorded in bad_messages and reported as LEDGER_BAD with PQ_OK:
 * only database failures return an error (PQ_ERR_IO, PQ_ERR_NOMEM), after
 * which the caller must roll back. *outcome may be NULL. */
int ledger_db_apply(struct ledger_db *db, const struct ledger_msg *m, enum ledger_outcome *outcome);

/* Requeue bookkeeping: the paper moves to state queued with generation gen
 * (greater than its current one) and a fresh attempt budget. PQ_OK,
 * PQ_ERR_PARSE (no such paper or gen not newer), PQ_ERR_IO. */
int ledger_db_requeued(struct ledger_db *db, const char *paper_id, long gen);

/* Committed counters (uncommitted deltas of this connection not included). */
int ledger_db_counters(struct ledger_db *db, struct ledger_counters *out);
const char *ledger_counter_name(int counter);

/* meta(key, value): run facts such as first_queued_ms and budget state.
 * get: PQ_OK with *found 0/1; set: inside or outside a transaction. */
int ledger_db_meta_get(struct ledger_db *db, const char *key, char *out, size_t outlen, int *found);
int ledger_db_meta_set(struct ledger_db *db, const char *key, const char *value);

/* Total spend (translation + QA), committed. */
int ledger_db_spent(struct ledger_db *db, double *usd);

#endif
