/* Where a retry is decided: after a failed attempt, retry later (which delay
 * tier) or park the paper. Fatal errors never reach here: they stop the
 * worker and hand jobs back without spending an attempt. */
#ifndef WORKER_RETRY_H
#define WORKER_RETRY_H

#include "paperq/chat.h"
#include "paperq/config.h"

struct retry_policy {
  int max_attempts;
  long delays[PQ_RETRY_MAX_DELAYS]; /* tiers in ms; the last repeats */
  int ndelays;
  double jitter; /* +- fraction */
};

struct retry_decision {
  int park;         /* 1: park now; 0: retry after delay_ms */
  long tier_ms;     /* the delay queue to use (P.retry.job.<tier_ms>) */
  long delay_ms;    /* tier_ms with jitter: the message's own expiration */
  char reason[600]; /* park reason, e.g. "max_attempts (5): http 500 ..." */
};

/* attempt: the attempt that just failed (1-based). */
void retry_decide(const struct retry_policy *p, int attempt, enum pq_err_class cls,
                  const char *error, struct retry_decision *out);

#endif
