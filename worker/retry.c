/* Retry policy: capped attempts, increasing delay tiers with jitter, park
 * on exhaustion or on errors that no retry can fix. */
#include "retry.h"

#include <stdio.h>
#include <stdlib.h>

void retry_decide(const struct retry_policy *p, int attempt, enum pq_err_class cls,
                  const char *error, struct retry_decision *out) {
  out->park = 0;
  out->tier_ms = out->delay_ms = 0;
  out->reason[0] = '\0';
  if (cls == PQ_CLASS_PERMANENT) {
    out->park = 1;
    snprintf(out->reason, sizeof out->reason, "permanent: %s", error);
    return;
  }
  if (attempt >= p->max_attempts) {
    out->park = 1;
    snprintf(out->reason, sizeof out->reason, "max_attempts (%d): %s", p->max_attempts, error);
    return;
  }
  int tier = attempt - 1 < p->ndelays ? attempt - 1 : p->ndelays - 1;
  out->tier_ms = p->delays[tier];
  /* Jitter spreads retries of papers that failed together (a provider
   * outage) so they do not return as one burst. */
  double f = 1.0 + p->jitter * (2.0 * ((double)rand() / RAND_MAX) - 1.0);
  out->delay_ms = (long)(out->tier_ms * f);
  if (out->delay_ms < 1)
    out->delay_ms = 1;
}
