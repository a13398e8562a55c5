/* The worker's request pacing (see ratelimit.h). http.c asks it before every
 * start and tells it the outcome of every request; loop.c tells it how many
 * workers share the rate; nothing here reads a clock or a socket. */
#include "ratelimit.h"
#include "paperq/chat.h"
#include "paperq/log.h"

struct ratelimit_signal ratelimit_signal_none(void) {
  return (struct ratelimit_signal){.retry_after_ms = -1,
                                   .remaining = -1,
                                   .reset_ms = -1,
                                   .limit = -1,
                                   .limit_tokens = -1,
                                   .used = -1,
                                   .hit_limit = -1,
                                   .hit_remaining = -1,
                                   .hit_reset_ms = -1};
}

struct ratelimit_signal ratelimit_signal_of(const struct pq_chat_hints *h, int rate_limited) {
  struct ratelimit_signal s = ratelimit_signal_none();
  s.rate_limited = rate_limited;
  s.retry_after_ms = pq_chat_hints_wait_ms(h);
  s.limit_tokens = h->limit_tokens;
  if (h->per_reply_window) {
    /* OpenAI: on every reply, the window to pace by and the stated rate. */
    s.remaining = h->remaining_requests;
    s.reset_ms = h->reset_requests_ms;
    s.limit = h->limit_requests;
  } else if (rate_limited) {
    /* OpenRouter: on its own 429s only, the limit that was hit. */
    s.hit_limit = h->limit_requests;
    s.hit_remaining = h->remaining_requests;
    s.hit_reset_ms = h->reset_requests_ms;
  }
  return s;
}

void ratelimit_init(struct ratelimit *rl, int max_requests, double fleet_rpm, double fleet_tpm,
                    int64_t now_ms, uint32_t seed) {
  *rl = (struct ratelimit){0};
  rl->max_requests = max_requests < 1 ? 1 : max_requests;
  rl->fleet_rpm = fleet_rpm > 0 ? fleet_rpm : 0;
  rl->fleet_tpm = fleet_tpm > 0 ? fleet_tpm : 0;
  rl->fleet_size = 1;
  rl->pace = 1.0;
  rl->paced_ms = now_ms;
  /* Nothing known: probe with a few requests and grow from the answers. */
  rl->limit = ratelimit_paced(rl) || rl->max_requests < RATELIMIT_PROBE ? rl->max_requests
                                                                        : RATELIMIT_PROBE;
  rl->probing = rl->limit < rl->max_requests;
  rl->last_decrease_ms = now_ms - 1000; /* the first slow-down counts at once */
  rl->window_share = 1.0;
  rl->tokens = 1;
  rl->refilled_ms = now_ms;
  rl->tally_ms = now_ms;
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

/* The account's rate in requests per minute: the lower of the configured
 * and the stated one; 0 when neither is known. */
static double account_rpm(const struct ratelimit *rl) {
  double r = rl->fleet_rpm;
  if (rl->stated_rpm > 0 && (r <= 0 || rl->stated_rpm < r))
    r = rl->stated_rpm;
  return r;
}

/* The account's tokens per minute, likewise. */
static double account_tpm(const struct ratelimit *rl) {
  double r = rl->fleet_tpm;
  if (rl->stated_tpm > 0 && (r <= 0 || rl->stated_tpm < r))
    r = rl->stated_tpm;
  return r;
}

int ratelimit_paced(const struct ratelimit *rl) {
  return account_rpm(rl) > 0 || account_tpm(rl) > 0;
}

double ratelimit_rpm(const struct ratelimit *rl) {
  return account_rpm(rl) / rl->fleet_size * rl->pace * RATELIMIT_HEADROOM;
}

double ratelimit_tpm(const struct ratelimit *rl) {
  return account_tpm(rl) / rl->fleet_size * rl->pace * RATELIMIT_HEADROOM;
}

/* Requests per millisecond this worker may start, 0 when no rate is known. */
static double rate_per_ms(const struct ratelimit *rl) { return ratelimit_rpm(rl) / 60000.0; }
/* Tokens per millisecond this worker may spend, 0 when no token rate is known. */
static double token_rate_per_ms(const struct ratelimit *rl) { return ratelimit_tpm(rl) / 60000.0; }

/* The bucket holds a quarter second of our pace (at least one request): a
 * worker coming back from a pause does not spend more than the provider's
 * own burst has room for. */
static double burst(const struct ratelimit *rl) {
  double b = rate_per_ms(rl) * 250.0;
  return b < 1 ? 1 : b;
}

/* The token bucket holds a quarter second of our token pace likewise. A
 * request larger than that starts when the bucket is full and leaves a
 * debt that the pace pays back before the next one. */
static double token_burst(const struct ratelimit *rl) {
  double b = token_rate_per_ms(rl) * 250.0;
  return b < 1 ? 1 : b;
}

static void refill(struct ratelimit *rl, int64_t now_ms) {
  double rate = rate_per_ms(rl), trate = token_rate_per_ms(rl);
  if (rate > 0 && now_ms > rl->refilled_ms) {
    rl->tokens += (double)(now_ms - rl->refilled_ms) * rate;
    if (rl->tokens > burst(rl))
      rl->tokens = burst(rl);
  }
  /* Above the burst only by usage given back (ratelimit_feedback): the
   * provider gave it back at the same moment, so it is spent, not cut. */
  if (trate > 0 && now_ms > rl->refilled_ms && rl->llm_tokens < token_burst(rl)) {
    rl->llm_tokens += (double)(now_ms - rl->refilled_ms) * trate;
    if (rl->llm_tokens > token_burst(rl))
      rl->llm_tokens = token_burst(rl);
  }
  rl->refilled_ms = now_ms;
}

void ratelimit_set_fleet(struct ratelimit *rl, int workers, int64_t now_ms) {
  if (workers < 1)
    workers = 1;
  if (workers == rl->fleet_size)
    return;
  refill(rl, now_ms); /* what was earned at the old share stays earned */
  rl->fleet_size = workers;
  if (rl->tokens > burst(rl))
    rl->tokens = burst(rl);
  if (account_rpm(rl) > 0)
    pq_info("fleet: %d workers share %.0f requests/min; this one paces %.0f/min", workers,
            account_rpm(rl), ratelimit_rpm(rl));
  if (account_tpm(rl) > 0)
    pq_info("fleet: %d workers share %.0f tokens/min; this one paces %.0f/min", workers,
            account_tpm(rl), ratelimit_tpm(rl));
}

/* Moves the tally of answers and refusals to the second of now_ms. */
static void roll(struct ratelimit *rl, int64_t now_ms) {
  if (now_ms - rl->tally_ms >= 2000) {
    rl->answers[0] = rl->answers[1] = rl->refusals[0] = rl->refusals[1] = 0;
    rl->tally_ms = now_ms;
  } else if (now_ms - rl->tally_ms >= 1000) {
    rl->answers[1] = rl->answers[0];
    rl->refusals[1] = rl->refusals[0];
    rl->answers[0] = rl->refusals[0] = 0;
    rl->tally_ms += 1000;
  }
}

/* Refusals are a rate limit, not noise, when several came close together
 * and they are more than a few percent of the answers. */
static int sustained(const struct ratelimit *rl) {
  int a = rl->answers[0] + rl->answers[1], r = rl->refusals[0] + rl->refusals[1];
  return r >= RATELIMIT_SUSTAINED_MIN && r * 100 >= RATELIMIT_SUSTAINED_PCT * a;
}

int ratelimit_open(struct ratelimit *rl, int64_t now_ms) {
  if (now_ms < rl->pause_until_ms)
    return 0;
  roll(rl, now_ms);
  /* The pace comes back by 5% of our share a second once refusals stop. */
  if (rl->pace < 1.0 && now_ms - rl->last_decrease_ms >= 2000) {
    refill(rl, now_ms);
    rl->pace += 0.05 * (double)(now_ms - rl->paced_ms) / 1000.0;
    if (rl->pace > 1.0)
      rl->pace = 1.0;
  }
  rl->paced_ms = now_ms;
  if (!ratelimit_paced(rl) && rl->window_known && now_ms >= rl->window_reset_ms) {
    /* The window has refilled: take our share of it until the next answer
     * says how much is really left. */
    rl->window_left = (long)((double)rl->window_capacity * rl->window_share + 0.5);
    if (rl->window_left < 1)
      rl->window_left = 1;
    rl->window_reset_ms = now_ms + 1000;
    if (rl->window_share < 1.0)
      rl->window_share = rl->window_share + 0.02 > 1.0 ? 1.0 : rl->window_share + 0.02;
  }
  refill(rl, now_ms);
  return 1;
}

int ratelimit_limit(const struct ratelimit *rl) {
  return ratelimit_paced(rl) ? rl->max_requests : (int)rl->limit;
}

/* The tokens the bucket must hold for a request of `cost` to start: all of
 * them, or a full bucket for a request larger than the bucket. */
static double token_need(const struct ratelimit *rl, long cost) {
  double c = cost > 0 ? (double)cost : 0;
  return c < token_burst(rl) ? c : token_burst(rl);
}

int ratelimit_may_start(const struct ratelimit *rl, int running, long cost) {
  if (running >= ratelimit_limit(rl))
    return 0;
  if (ratelimit_paced(rl))
    return (account_rpm(rl) <= 0 || rl->tokens >= 1) &&
           (account_tpm(rl) <= 0 || rl->llm_tokens >= token_need(rl, cost));
  return !rl->window_known || rl->window_left > 0;
}

long ratelimit_took(struct ratelimit *rl, long cost) {
  if (ratelimit_paced(rl)) {
    if (account_rpm(rl) > 0)
      rl->tokens -= 1;
    if (account_tpm(rl) <= 0 || cost <= 0)
      return 0;
    rl->llm_tokens -= (double)cost;
    return cost;
  }
  rl->window_left--;
  if (rl->window_known)
    rl->window_reset_ms += (int64_t)rl->window_refill_ms; /* what we take refills later */
  return 0;
}

int64_t ratelimit_opens_at(const struct ratelimit *rl, int64_t now_ms, long cost) {
  int64_t at = now_ms;
  if (rl->pause_until_ms > at)
    at = rl->pause_until_ms;
  double rate = rate_per_ms(rl), trate = token_rate_per_ms(rl);
  /* Counted from the last refill, which may be a while ago. */
  double since = now_ms > rl->refilled_ms ? (double)(now_ms - rl->refilled_ms) : 0;
  if (rate > 0 && rl->tokens + since * rate < 1) {
    int64_t t = now_ms + (int64_t)((1 - rl->tokens) / rate - since) + 1;
    if (t > at)
      at = t;
  }
  if (trate > 0 && rl->llm_tokens + since * trate < token_need(rl, cost)) {
    int64_t t = now_ms + (int64_t)((token_need(rl, cost) - rl->llm_tokens) / trate - since) + 1;
    if (t > at)
      at = t;
  }
  if (!ratelimit_paced(rl) && rl->window_known && rl->window_left <= 0 && rl->window_reset_ms > at)
    at = rl->window_reset_ms;
  return at;
}

/* Holds new requests for wait_ms, stretched by up to 20% at random so that
 * workers told the same thing do not all come back in the same instant. */
static void hold(struct ratelimit *rl, long wait_ms, int64_t now_ms) {
  int64_t until = now_ms + wait_ms + (int64_t)((double)wait_ms * 0.2 * jitter01(rl));
  if (until > rl->pause_until_ms)
    rl->pause_until_ms = until;
}

/* x-ratelimit-remaining/-reset without a stated limit: a window to share. */
static void window_feedback(struct ratelimit *rl, const struct ratelimit_signal *s,
                            int64_t now_ms) {
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

/* The provider states the account's requests per minute: pace our share of
 * it from now on. */
static void state_rpm(struct ratelimit *rl, double rpm, int64_t now_ms) {
  int first = account_rpm(rl) <= 0;
  refill(rl, now_ms);
  rl->stated_rpm = rpm;
  if (first)
    rl->tokens = 1;
  else if (rl->tokens > burst(rl))
    rl->tokens = burst(rl);
  pq_info("provider states %.1f requests/min; %d workers share it; this one paces %.1f/min", rpm,
          rl->fleet_size, ratelimit_rpm(rl));
}

/* An OpenRouter 429 names the limit that was hit (X-RateLimit-Limit) and
 * when its window starts again (X-RateLimit-Reset). OpenRouter documents
 * two windows, a minute and a day (free models: 20 a minute, 50 or 1,000 a
 * day), so a reset within a minute means the limit is per minute and a
 * later one that it is per day: either way R, which the fleet then paces.
 * Remaining 0 says every request before the reset will be refused too, so
 * all of them wait for it, each worker a little differently. */
static void limit_hit(struct ratelimit *rl, const struct ratelimit_signal *s, int64_t now_ms) {
  double window_min = s->hit_reset_ms <= 60000 ? 1.0 : 1440.0;
  double rpm = (double)s->hit_limit / window_min;
  if (rpm != rl->stated_rpm)
    state_rpm(rl, rpm, now_ms);
  if (s->hit_remaining == 0) {
    int64_t until = now_ms + s->hit_reset_ms + (int64_t)(250.0 * jitter01(rl));
    if (until > rl->pause_until_ms)
      rl->pause_until_ms = until;
  }
}

void ratelimit_feedback(struct ratelimit *rl, const struct ratelimit_signal *s, int64_t now_ms) {
  roll(rl, now_ms);
  rl->answers[0]++;
  if (s->rate_limited)
    rl->refusals[0]++;
  if (s->limit > 0 && (double)s->limit != rl->stated_rpm)
    state_rpm(rl, (double)s->limit, now_ms); /* OpenAI: on every reply */
  if (s->limit_tokens > 0 && (double)s->limit_tokens != rl->stated_tpm) {
    refill(rl, now_ms);
    rl->stated_tpm = (double)s->limit_tokens;
    if (rl->llm_tokens > token_burst(rl))
      rl->llm_tokens = token_burst(rl);
    pq_info("provider states %ld tokens/min; %d workers share it; this one paces %.0f/min",
            s->limit_tokens, rl->fleet_size, ratelimit_tpm(rl));
  }
  if (s->charged > 0 && account_tpm(rl) > 0) {
    /* The start counted the estimated prompt plus max_tokens; the answer
     * says what was used, and the provider gives back the rest (a refusal
     * used nothing). Without usage (a timeout, a 5xx) the estimate stays. */
    if (s->used >= 0)
      rl->llm_tokens += (double)(s->charged - s->used);
    else if (s->rate_limited)
      rl->llm_tokens += (double)s->charged;
  }
  if (s->rate_limited && s->hit_limit > 0 && s->hit_reset_ms >= 0)
    limit_hit(rl, s, now_ms);
  if (!ratelimit_paced(rl) && s->remaining >= 0 && s->reset_ms >= 0)
    window_feedback(rl, s, now_ms);
  if (rl->probing) {
    /* The first answer: it stated a rate (paced from now on) or it did not.
     * Then the cap grows by one a success, doubling every round trip, until
     * the first slow-down: a provider that states its limit only when it
     * refuses (OpenRouter) is overrun by one round trip's growth, not by
     * worker.max_requests at once. */
    rl->probing = 0;
    rl->slow_start = 1;
  }
  if (!s->rate_limited) {
    if (!ratelimit_paced(rl) && rl->limit < rl->max_requests) {
      rl->limit += rl->slow_start ? 1.0 : 1.0 / rl->limit; /* else +1 per window of successes */
      if (rl->limit > rl->max_requests)
        rl->limit = rl->max_requests;
    }
    return;
  }
  /* A 429: the request itself is resent after its Retry-After (work.c).
   * Only sustained refusals hold and slow down the worker. */
  if (!sustained(rl))
    return;
  hold(rl, pq_chat_pause_ms(s->retry_after_ms), now_ms);
  /* At most once per second, so that one burst of 429s from requests
   * already in flight counts as one signal. */
  if (now_ms - rl->last_decrease_ms < 1000)
    return;
  rl->last_decrease_ms = now_ms;
  if (ratelimit_paced(rl)) {
    refill(rl, now_ms);
    rl->pace = rl->pace * 0.8 < 0.05 ? 0.05 : rl->pace * 0.8;
    pq_info("rate limited (sustained refusals); pace now %.0f%% of this worker's share",
            100 * rl->pace);
  } else {
    rl->window_share = rl->window_share * 0.6 < 0.02 ? 0.02 : rl->window_share * 0.6;
    rl->limit = rl->limit / 2 < 1 ? 1 : rl->limit / 2;
    rl->slow_start = 0;
    pq_info("rate limited; concurrency now %d", (int)rl->limit);
  }
}
