/* The worker's request pacing (see ratelimit.h). http.c asks it before every
 * start and tells it the outcome of every request; nothing here reads a
 * clock or a socket. */
#include "ratelimit.h"
#include "paperq/log.h"

void ratelimit_init(struct ratelimit *rl, int max_requests, double rpm, int64_t now_ms,
                    uint32_t seed) {
  *rl = (struct ratelimit){0};
  rl->max_requests = max_requests < 1 ? 1 : max_requests;
  rl->limit = rl->max_requests;
  rl->last_decrease_ms = now_ms - 1000; /* the first 429 counts at once */
  rl->window_share = 1.0;
  rl->rpm = rpm > 0 ? rpm : 0;
  /* The bucket holds one second's worth (at least one request). */
  rl->tokens = rl->rpm > 0 ? (rl->rpm / 60.0 < 1 ? 1 : rl->rpm / 60.0) : 0;
  rl->refilled_ms = now_ms;
  /* Spread nearby seeds (pids) apart before the first draw. */
  rl->rng = (seed ^ 0x5bd1e995u) * 2654435761u;
  if (!rl->rng)
    rl->rng = 0x9e3779b9u;
}

/* Uniform in [0, 1]. */
static double jitter01(struct ratelimit *rl) {
  uint32_t x = rl->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rl->rng = x;
  return (double)x / (double)UINT32_MAX;
}

static void refill_bucket(struct ratelimit *rl, int64_t now_ms) {
  if (rl->rpm <= 0)
    return;
  double burst = rl->rpm / 60.0 < 1 ? 1 : rl->rpm / 60.0;
  rl->tokens += (double)(now_ms - rl->refilled_ms) * rl->rpm / 60000.0;
  if (rl->tokens > burst)
    rl->tokens = burst;
  rl->refilled_ms = now_ms;
}

int ratelimit_open(struct ratelimit *rl, int64_t now_ms) {
  if (now_ms < rl->pause_until_ms)
    return 0;
  if (rl->window_known && now_ms >= rl->window_reset_ms) {
    /* The window has refilled: take our share of it until the next answer
     * says how much is really left. */
    rl->window_left = (long)((double)rl->window_capacity * rl->window_share + 0.5);
    if (rl->window_left < 1)
      rl->window_left = 1;
    rl->window_reset_ms = now_ms + 1000;
    if (rl->window_share < 1.0)
      rl->window_share = rl->window_share + 0.02 > 1.0 ? 1.0 : rl->window_share + 0.02;
  }
  refill_bucket(rl, now_ms);
  return 1;
}

int ratelimit_may_start(const struct ratelimit *rl, int running) {
  return running < (int)rl->limit && (rl->rpm <= 0 || rl->tokens >= 1) &&
         (!rl->window_known || rl->window_left > 0);
}

void ratelimit_took(struct ratelimit *rl) {
  if (rl->rpm > 0)
    rl->tokens -= 1;
  rl->window_left--;
  if (rl->window_known)
    rl->window_reset_ms += (int64_t)rl->window_refill_ms; /* what we take refills later */
}

int64_t ratelimit_opens_at(const struct ratelimit *rl, int64_t now_ms) {
  int64_t at = now_ms;
  if (rl->pause_until_ms > at)
    at = rl->pause_until_ms;
  if (rl->window_known && rl->window_left <= 0 && rl->window_reset_ms > at)
    at = rl->window_reset_ms;
  if (rl->rpm > 0 && rl->tokens < 1) {
    int64_t t = now_ms + (int64_t)((1 - rl->tokens) * 60000.0 / rl->rpm) + 1;
    if (t > at)
      at = t;
  }
  return at;
}

/* Holds new requests for wait_ms, stretched by up to 20% at random so that
 * workers told the same thing do not all come back in the same instant. */
static void hold(struct ratelimit *rl, long wait_ms, int64_t now_ms) {
  int64_t until = now_ms + wait_ms + (int64_t)((double)wait_ms * 0.2 * jitter01(rl));
  if (until > rl->pause_until_ms)
    rl->pause_until_ms = until;
}

void ratelimit_feedback(struct ratelimit *rl, const struct ratelimit_signal *s, int64_t now_ms) {
  if (s->remaining >= 0 && s->reset_ms >= 0) {
    /* The figure already counts every request that reached the provider
     * before this answer left it, including ours still running (with
     * 60-second calls, subtracting those would starve us); what it cannot
     * count is what we start from now on, which ratelimit_took does. */
    rl->window_known = 1;
    if (s->remaining + 1 > rl->window_capacity)
      rl->window_capacity = s->remaining + 1;
    if (rl->window_capacity > s->remaining)
      rl->window_refill_ms = (double)s->reset_ms / (double)(rl->window_capacity - s->remaining);
    long left = (long)((double)s->remaining * rl->window_share);
    if (left < rl->window_left || !s->rate_limited)
      rl->window_left = left;
    rl->window_reset_ms = now_ms + s->reset_ms;
  }
  if (s->rate_limited) {
    hold(rl, s->retry_after_ms >= 0 ? s->retry_after_ms : 1000, now_ms);
    /* Decrease at most once per second, so that one burst of 429s from
     * requests already in flight counts as one signal. */
    if (now_ms - rl->last_decrease_ms >= 1000) {
      rl->window_share = rl->window_share * 0.6 < 0.02 ? 0.02 : rl->window_share * 0.6;
      rl->limit = rl->limit / 2 < 1 ? 1 : rl->limit / 2;
      rl->last_decrease_ms = now_ms;
      pq_info("rate limited; concurrency now %d", (int)rl->limit);
    }
  } else if (rl->limit < rl->max_requests) {
    rl->limit += 1.0 / rl->limit; /* +1 per window of successes */
    if (rl->limit > rl->max_requests)
      rl->limit = rl->max_requests;
  }
}

int ratelimit_limit(const struct ratelimit *rl) { return (int)rl->limit; }
