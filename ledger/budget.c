/* Budget stop and resume: the ledger is the one place that knows the run's
 * total spend, so it is the one that tells the fleet to stop starting papers
 * (in-flight ones finish; the queue stays intact). */
#include "budget.h"
#include "db.h"

#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <stdio.h>
#include <string.h>

static int broadcast(struct pq_mq *mq, const char *cmd, double spent, double max_usd) {
  char body[256];
  snprintf(body, sizeof body,
           "{\"v\":1,\"cmd\":\"%s\",\"reason\":\"budget: $%.4f spent, budget.max_usd $%.2f\","
           "\"ts\":%lld}",
           cmd, spent, max_usd, (long long)pq_now_ms());
  return pq_mq_publish_control(mq, body, NULL);
}

int ledger_budget_check(struct ledger_db *db, const struct pq_config *cfg, struct pq_mq *mq,
                        struct ledger_budget *b) {
  double spent, max_usd = cfg->budget.max_usd;
  char v[32];
  int found, rc;
  if (!b->known) {
    if ((rc = ledger_db_meta_get(db, "budget_stopped", v, sizeof v, &found)))
      return rc;
    b->stopped = found && strcmp(v, "1") == 0;
    b->known = 1;
  }
  if ((rc = ledger_db_spent(db, &spent)))
    return rc;
  int over = max_usd > 0 && spent >= max_usd;
  if (over && !b->stopped) {
    char ms[32], usd[32];
    snprintf(ms, sizeof ms, "%lld", (long long)pq_now_ms());
    snprintf(usd, sizeof usd, "%.6f", spent);
    if ((rc = ledger_db_meta_set(db, "budget_stopped", "1")) ||
        (rc = ledger_db_meta_set(db, "budget_stopped_ms", ms)) ||
        (rc = ledger_db_meta_set(db, "budget_stopped_usd", usd)))
      return rc;
    b->stopped = 1;
    b->last_sent_ms = 0;
    pq_error("BUDGET REACHED: $%.4f spent of budget.max_usd $%.2f; telling the workers to pause "
             "(in-flight papers finish, the queue stays). Raise budget.max_usd "
             "(PAPERQ_BUDGET_MAX_USD) and restart the ledger to resume.",
             spent, max_usd);
  } else if (!over && b->stopped) {
    /* Resume only once the workers can be told; until then stay stopped. */
    if (mq && broadcast(mq, "resume", spent, max_usd) != PQ_OK)
      return PQ_ERR_BROKER;
    if ((rc = ledger_db_meta_set(db, "budget_stopped", "0")))
      return rc;
    b->stopped = 0;
    pq_warn("budget: $%.4f spent, below budget.max_usd $%.2f%s: the workers were told to resume",
            spent, max_usd, max_usd > 0 ? "" : " (no budget)");
    return PQ_OK;
  }
  if (b->stopped && mq) {
    int64_t now = pq_mono_ms();
    if (b->last_sent_ms == 0 || now - b->last_sent_ms >= LEDGER_BUDGET_REPEAT_MS) {
      if (broadcast(mq, "pause", spent, max_usd) != PQ_OK)
        return PQ_ERR_BROKER;
      b->last_sent_ms = now;
    }
  }
  return PQ_OK;
}
