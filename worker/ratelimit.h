/* Where the worker decides how fast to call the provider. When the fleet's
 * rate is known (translate.requests_per_minute / tokens_per_minute, or the
 * provider's x-ratelimit-limit-requests / -tokens, or the limit an
 * OpenRouter 429 says was hit) the worker paces its share of it, the rate
 * divided by the workers consuming (the broker's consumer count), with a
 * token bucket for requests and one for tokens. A request counts its
 * estimated prompt plus max_tokens against the tokens when it starts, and
 * the count is corrected by the usage its answer reports. When nothing is
 * known, a few requests probe the provider until the first answer (which
 * may state the rate); then a concurrency cap doubles every round trip until
 * the first sustained refusals and adapts from there (additive increase,
 * multiplicative decrease). Either way only sustained refusals slow the
 * worker down: an isolated 429 among successes is resent and nothing else.
 * Pure: every call takes the time (monotonic ms) from its caller, so tests
 * drive it with simulated time. */
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
  int slow_start;           /* after the probe, no rate known: limit +1 a success (doubling
                               per round trip) until the first slow-down */
  int64_t last_decrease_ms; /* last slow-down: at most one per second */
  int64_t pause_until_ms;   /* sustained refusals: the provider asked us to wait */
  /* The fleet's rate and our share of it. */
  double fleet_rpm;    /* translate.requests_per_minute (the account), 0 = not set */
  double stated_rpm;   /* x-ratelimit-limit-requests, or an OpenRouter 429's limit, 0 = not
                          stated */
  double fleet_tpm;    /* translate.tokens_per_minute (the account), 0 = not set */
  double stated_tpm;   /* x-ratelimit-limit-tokens, 0 = not stated */
  int fleet_size;      /* workers sharing the account, >= 1 */
  double pace;         /* share of our part we use: lowered on sustained refusals */
  int64_t paced_ms;    /* when pace last recovered */
  double tokens;       /* requests that may start now (when a rate is known) */
  double llm_tokens;   /* LLM tokens we may still spend now (when a token rate is known);
                          negative after a request larger than the bucket: a debt */
  int64_t refilled_ms; /* when both buckets were last brought up to date */
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

/* What one completed request tells the limiter. Counts of 0 or -1 mean
 * "not said". */
struct ratelimit_signal {
  int rate_limited;    /* a 429 (or the like) */
  long retry_after_ms; /* Retry-After, -1 if absent */
  long remaining;      /* x-ratelimit-remaining-requests, -1 if absent */
  long reset_ms;       /* x-ratelimit-reset-requests, -1 if absent */
  long limit;          /* x-ratelimit-limit-requests (per minute), -1 if absent */
  long limit_tokens;   /* x-ratelimit-limit-tokens (per minute), -1 if absent */
  long charged;        /* tokens ratelimit_took counted for this request, 0 if none */
  long used;           /* prompt + completion tokens its answer reported, -1 if none */
  /* OpenRouter's X-RateLimit-* on its own 429: the limit that was hit. */
  long hit_limit;     /* X-RateLimit-Limit, -1 if absent */
  long hit_remaining; /* X-RateLimit-Remaining, -1 if absent */
  long hit_reset_ms;  /* X-RateLimit-Reset, as ms from now, -1 if absent */
};

/* A signal that says nothing yet: every field absent. */
struct ratelimit_signal ratelimit_signal_none(void);

struct pq_chat_hints;
/* What a reply's headers (common/src/chat.c: pq_chat_hints_header) tell the
 * limiter: the wait it asked for; OpenAI's x-ratelimit-*-requests window and
 * its stated requests and tokens per minute; on a refusal without that
 * per-reply window, OpenRouter's X-RateLimit-* as the limit that was hit.
 * charged and used are left for the caller. */
struct ratelimit_signal ratelimit_signal_of(const struct pq_chat_hints *h, int rate_limited);

/* max_requests >= 1; fleet_rpm and fleet_tpm: the account's requests and
 * tokens per minute, 0 if not set; seed for the jitter (any). The fleet is
 * one worker until told. */
void ratelimit_init(struct ratelimit *rl, int max_requests, double fleet_rpm, double fleet_tpm,
                    int64_t now_ms, uint32_t seed);

/* The number of workers sharing the rate (the consumers of the jobs queue,
 * this one included); values below 1 count as 1. */
void ratelimit_set_fleet(struct ratelimit *rl, int workers, int64_t now_ms);

/* Brings the bucket, the provider window and the pace up to now_ms, before a
 * round of starts. Returns 0 while a hold keeps every request waiting, else
 * 1. */
int ratelimit_open(struct ratelimit *rl, int64_t now_ms);

/* 1 if one more request, counting `cost` tokens (pq_chat_request_tokens),
 * may start now, with `running` already running (call ratelimit_open first
 * in the same round). A request larger than the whole token bucket starts
 * when the bucket is full and leaves a debt, so it is never stuck. */
int ratelimit_may_start(const struct ratelimit *rl, int running, long cost);

/* A request of `cost` tokens has started: it uses a request, its tokens and
 * a place in the window. Returns the tokens counted (0 when no token rate is
 * known), to hand back in its signal's `charged`. */
long ratelimit_took(struct ratelimit *rl, long cost);

/* The earliest time at which a request of `cost` tokens could start when
 * fewer than the cap are running: now_ms when nothing holds, else when the
 * hold, the window or the buckets open. */
int64_t ratelimit_opens_at(const struct ratelimit *rl, int64_t now_ms, long cost);

/* 1 when the worker paces a known rate (requests or tokens per minute). */
int ratelimit_paced(const struct ratelimit *rl);

/* Feedback from a completed request. */
void ratelimit_feedback(struct ratelimit *rl, const struct ratelimit_signal *s, int64_t now_ms);

/* The current cap on running requests. */
int ratelimit_limit(const struct ratelimit *rl);

/* This worker's pace in requests per minute, 0 when no rate is known. */
double ratelimit_rpm(const struct ratelimit *rl);
/* This worker's pace in tokens per minute, 0 when no token rate is known. */
double ratelimit_tpm(const struct ratelimit *rl);

#endif
