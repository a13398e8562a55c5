/* Where the worker decides how fast to call the provider: a concurrency cap
 * that adapts (additive increase, multiplicative decrease), holds asked for by
 * Retry-After, the provider's request window from x-ratelimit-* headers, and
 * the static translate.requests_per_minute bucket. Pure: every call takes the
 * time (monotonic ms) from its caller, so tests drive it with simulated time. */
#ifndef WORKER_RATELIMIT_H
#define WORKER_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
  int max_requests;         /* worker.max_requests: the hard cap */
  double limit;             /* adaptive cap on running requests, 1..max_requests */
  int64_t last_decrease_ms; /* last halving: at most one per second */
  int64_t pause_until_ms;   /* the provider asked us to wait until then */
  /* x-ratelimit-remaining-requests / -reset-requests: what the provider says
   * is left of its window, minus what we started since. (No probing before
   * the first answer: with 60-second calls that would cost a minute at
   * start; an initial burst over the limit is answered 429 once and resent.) */
  int window_known;        /* an answer carried remaining and reset */
  long window_left;        /* requests we may still start in this window */
  int64_t window_reset_ms; /* when the window is full again */
  long window_capacity;    /* the largest window seen (remaining + 1) */
  double window_refill_ms; /* time the provider takes to give back one request */
  double window_share;     /* share of a window this process takes: workers that
                              do not talk to each other converge on their part
                              of the limit (decrease on 429, increase after) */
  /* translate.requests_per_minute: a token bucket refilled continuously */
  double rpm;          /* 0: no static cap */
  double tokens;       /* requests that may start now */
  int64_t refilled_ms; /* when tokens was last brought up to date */
  uint32_t rng;        /* xorshift state for the jitter of holds */
};

/* What one completed request tells the limiter. */
struct ratelimit_signal {
  int rate_limited;    /* a 429 (or the like): slow down */
  long retry_after_ms; /* Retry-After, -1 if absent */
  long remaining;      /* x-ratelimit-remaining-requests, -1 if absent */
  long reset_ms;       /* x-ratelimit-reset-requests, -1 if absent */
};

/* max_requests >= 1; rpm 0 for no static cap; seed for the jitter (any). */
void ratelimit_init(struct ratelimit *rl, int max_requests, double rpm, int64_t now_ms,
                    uint32_t seed);

/* Brings the provider window and the bucket up to now_ms, before a round of
 * starts. Returns 0 while a hold keeps every request waiting, else 1. */
int ratelimit_open(struct ratelimit *rl, int64_t now_ms);

/* 1 if one more request may start now, with `running` already running
 * (call ratelimit_open first in the same round). */
int ratelimit_may_start(const struct ratelimit *rl, int running);

/* A request has started: it uses a token and a place in the window. */
void ratelimit_took(struct ratelimit *rl);

/* The earliest time at which a request could start when fewer than the cap
 * are running: now_ms when nothing holds, else when the hold, the window or
 * the bucket opens. */
int64_t ratelimit_opens_at(const struct ratelimit *rl, int64_t now_ms);

/* Feedback from a completed request. */
void ratelimit_feedback(struct ratelimit *rl, const struct ratelimit_signal *s, int64_t now_ms);

/* The current concurrency cap. */
int ratelimit_limit(const struct ratelimit *rl);

#endif
