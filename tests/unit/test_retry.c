/* Where a retry is decided (worker/retry.c): tiers in order with the last
 * repeating, jitter within bounds, parking after max_attempts or at once on
 * a permanent error, with the reason kept. */
#include "pq_test.h"
#include "retry.h"

int main(void) {
  struct retry_policy p = {.max_attempts = 4, .delays = {200, 500}, .ndelays = 2, .jitter = 0.1};
  struct retry_decision d;
  retry_decide(&p, 1, PQ_CLASS_TRANSIENT, "http 500", &d);
  CHECK(!d.park && d.tier_ms == 200 && d.delay_ms >= 180 && d.delay_ms <= 220);
  retry_decide(&p, 2, PQ_CLASS_TRANSIENT, "http 500", &d);
  CHECK(!d.park && d.tier_ms == 500);
  retry_decide(&p, 3, PQ_CLASS_TRANSIENT, "http 500", &d);
  CHECK(!d.park && d.tier_ms == 500); /* the last tier repeats */
  retry_decide(&p, 4, PQ_CLASS_TRANSIENT, "http 503: overloaded", &d);
  CHECK(d.park);
  CHECK(strstr(d.reason, "max_attempts (4)") && strstr(d.reason, "http 503: overloaded"));
  retry_decide(&p, 1, PQ_CLASS_PERMANENT, "http 400: context too long", &d);
  CHECK(d.park && strstr(d.reason, "permanent: http 400"));
  /* Jitter spreads delays over the whole band, never outside it. */
  long lo = 1 << 30, hi = 0;
  for (int i = 0; i < 2000; i++) {
    retry_decide(&p, 2, PQ_CLASS_TRANSIENT, "x", &d);
    lo = d.delay_ms < lo ? d.delay_ms : lo;
    hi = d.delay_ms > hi ? d.delay_ms : hi;
  }
  CHECK(lo >= 450 && hi <= 550 && hi - lo > 50);
  struct retry_policy none = {.max_attempts = 1, .delays = {1000}, .ndelays = 1, .jitter = 0};
  retry_decide(&none, 1, PQ_CLASS_TRANSIENT, "x", &d);
  CHECK(d.park);
  TEST_MAIN_END();
}
