/* Where the worker decides how fast to call the provider. When the fleet's
 * rate is known (translate.requests_per_minute, or the provider's
 * x-ratelimit-limit-requests) the worker paces its share of it, the rate
 * divided by the workers consuming (the broker's consumer count), with a
 * token bucket. When it is not, a few requests probe the provider until the
 * first answer (which may state the rate); then a concurrency cap adapts
 * (additive increase, multiplicative decrease). Either way only
 * sustained refusals slow the worker down: an isolated 429 among successes
 * is resent and nothing else. Pure: every call takes the time (monotonic ms)
 * from its caller, so tests drive it with simulated time. */
#ifndef WORKER_RATELIMIT_H
#define WORKER_RATELIMIT_H

#include <stdint.h>

/* Share of the stated rate the fleet aims at: the headroom absorbs the
 * provider's and our clocks disagreeing and a worker joining before the
 * others have seen it. */
#define RATELIMIT_HEADROOM 0.99
/* Requests started before the first answer when nothing says how fast we
 * may go: a fleet of ten starting at once stays inside a small burst. */
#define RATELIMIT_PROBE 4
/* Refusals are "sustained" when at least this many, and at least
 * RATELIMIT_SUSTAINED_PCT percent of the answers, came in the last two
 * seconds. */
#define RATELIMIT_SUSTAINED_MIN 4
#define RATELIMIT_SUSTAINED_PCT 10

struct ratelimit {
  int max_requests;         /* worker.max_requests: the hard cap on running requests */
  double limit;             /* adaptive cap when no rate is known, 1..max_requests */
  int probing;              /* no answer yet and no rate known: RATELIMIT_PROBE at most */
  int64_t last_decrease_ms; /* last slow-down: at most one per second */
  int64_t pause_until_ms;   /* sustained refusals: the provider asked us to wait */
  /* The fleet's rate and our share of it. */
  double fleet_rpm;    /* translate.requests_per_minute (the account), 0 = not set */
  double stated_rpm;   /* x-ratelimit-limit-requests, 0 = not stated */
  int fleet_size;      /* workers sharing the account, >= 1 */
  double pace;         /* share of our part we use: lowered on sustained refusals */
  int64_t paced_ms;    /* when pace last recovered */
  double tokens;       /* requests that may start now (when a rate is known) */
  int64_t refilled_ms; /* when tokens was last brought up to date */
  /* x-ratelimit-remaining-requests / -reset-requests without a stated limit:
   * what the provider says is left of its window, minus what we started
   * since. Not used when a rate is known. */
  int window_known;        /* an answer carried remaining and reset */
  long window_left;        /* requests we may still start in this window */
  int64_t window_reset_ms; /* when the window is full again */
  long window_capacity;    /* the largest window seen (remaining + 1) */
  double window_refill_ms; /* time the provider takes to give back one request */
  double window_share;     /* share of a window this process takes */
  /* Answers and refusals in the current and the previous second. */
  int64_t tally_ms; /* start of the current second */
  int answers[2], refusals[2];
  uint32_t rng; /* xorshift state for the jitter of holds */
};

/* What one completed request tells the limiter. */
struct ratelimit_signal {
  int rate_limited;    /* a 429 (or the like) */
  long retry_after_ms; /* Retry-After, -1 if absent */
  long remaining;      /* x-ratelimit-remaining-requests, -1 if absent */
  long reset_ms;       /* x-ratelimit-reset-requests, -1 if absent */
  long limit;          /* x-ratelimit-limit-requests (per minute), -1 if absent */
};

/* max_requests >= 1; fleet_rpm: the account's requests per minute, 0 if not
 * set; seed for the jitter (any). The fleet is one worker until told. */
void ratelimit_init(struct ratelimit *rl, int max_requests, double fleet_rpm, int64_t now_ms,
                    uint32_t seed);

/* The number of workers sharing the rate (the consumers of the jobs queue,
 * this one included); values below 1 count as 1. */
void ratelimit_set_fleet(struct ratelimit *rl, int workers, int64_t now_ms);

/* Brings the bucket, the provider window and the pace up to now_ms, before a
 * round of starts. Returns 0 while a hold keeps every request waiting, else
 * 1. */
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

/* The current cap on running requests. */
int ratelimit_limit(const struct ratelimit *rl);

/* This worker's pace in requests per minute, 0 when no rate is known. */
double ratelimit_rpm(const struct ratelimit *rl);

#endif
