/* The spending budget (budget.max_usd): when the ledger's total reaches it,
 * the fleet is told to pause; when the budget is raised (or removed) and the
 * ledger restarted, to resume. */
#ifndef PAPERQ_LEDGER_BUDGET_H
#define PAPERQ_LEDGER_BUDGET_H

#include <stdint.h>

struct ledger_db;
struct pq_config;
struct pq_mq;

struct ledger_budget {
  int known;            /* stopped below was read from the database */
  int stopped;          /* meta budget_stopped = "1" */
  int64_t last_sent_ms; /* monotonic time of the last pause broadcast, 0 = never */
};

/* Compares the committed spend with budget.max_usd and records the result in
 * meta (budget_stopped, budget_stopped_ms, budget_stopped_usd). Crossing the
 * budget broadcasts {"cmd":"pause"} on P.control; while stopped the pause is
 * repeated every LEDGER_BUDGET_REPEAT_MS, because a worker started later has
 * its own control queue and never saw the first one. A budget raised above
 * the spend broadcasts {"cmd":"resume"} once. mq may be NULL (state only).
 * PQ_OK, PQ_ERR_IO (database), PQ_ERR_BROKER (the broadcast failed; the
 * state is recorded and the broadcast is retried on the next call). */
#define LEDGER_BUDGET_REPEAT_MS 30000
int ledger_budget_check(struct ledger_db *db, const struct pq_config *cfg, struct pq_mq *mq,
                        struct ledger_budget *b);

#endif
