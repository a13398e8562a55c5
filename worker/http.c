/* HTTP transfers for the worker: curl multi, a bounded number of running
 * transfers, a waiting list for the rest, and adaptive concurrency. */
#include "http.h"
#include "paperq/chat.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http {
  CURLM *multi;
  int max_requests; /* worker.max_requests: hard cap */
  double limit;     /* current adaptive cap, 1..max_requests */
  int running;
  int waiting;
  long timeout_ms, connect_timeout_ms;
  size_t max_response;
  struct http_req *wait_head, *wait_tail; /* FIFO of requests not yet started */
  int64_t last_decrease_ms;
  int64_t pause_until_ms; /* the provider asked us to wait (monotonic ms) */
  /* x-ratelimit-remaining-requests: what the provider says is left of its
   * window, minus what we started since. (No probing before the first
   * answer: with 60-second calls that would cost a minute at start; an
   * initial burst over the limit is answered 429 once and resent.) */
  int rl_known;        /* the last answer carried remaining/reset */
  long rl_left;        /* requests we may still start in this window */
  int64_t rl_reset_ms; /* when the window is full again (monotonic) */
  long rl_capacity;    /* the largest window seen (remaining + 1) */
  double rl_tok_ms;    /* time the provider takes to give back one request */
  double rl_share;     /* share of a window this process takes: workers
                          that do not talk to each other converge on
                          their part of the limit (MD on 429, AI after) */
  /* translate.requests_per_minute: a token bucket refilled continuously */
  double rpm, tokens;
  int64_t refill_ms;
};

int http_new(const struct pq_config *cfg, struct http **out) {
  static int global_init;
  if (!global_init) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return PQ_ERR;
    global_init = 1;
  }
  struct http *h = calloc(1, sizeof *h);
  if (!h)
    return PQ_ERR_NOMEM;
  h->multi = curl_multi_init();
  if (!h->multi) {
    free(h);
    return PQ_ERR_NOMEM;
  }
  h->max_requests = cfg->worker.max_requests;
  h->limit = cfg->worker.max_requests;
  h->timeout_ms = (long)cfg->translate.timeout_s * 1000;
  h->connect_timeout_ms = (long)cfg->translate.connect_timeout_s * 1000;
  h->max_response = (size_t)cfg->limits.max_response_bytes;
  h->rpm = cfg->translate.requests_per_minute;
  h->tokens = h->rpm > 0 ? (h->rpm / 60.0 < 1 ? 1 : h->rpm / 60.0) : 0;
  h->refill_ms = pq_mono_ms();
  h->rl_share = 1.0;
  /* Keep a warm connection for every transfer that may run at once. */
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->max_requests);
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->max_requests);
  *out = h;
  return PQ_OK;
}

static void unlink_waiting(struct http *h, struct http_req *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    h->wait_head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    h->wait_tail = r->prev;
  r->next = r->prev = NULL;
  h->waiting--;
}

static void release_easy(struct http *h, struct http_req *r) {
  if (r->easy) {
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
  }
  curl_slist_free_all(r->headers);
  r->headers = NULL;
}

void http_cancel(struct http *h, struct http_req *r) {
  if (r->state == 1)
    unlink_waiting(h, r);
  else if (r->state == 2) {
    release_easy(h, r);
    h->running--;
  }
  r->state = 0;
}

void http_free(struct http *h) {
  if (!h)
    return;
  while (h->wait_head)
    http_cancel(h, h->wait_head);
  curl_multi_cleanup(h->multi); /* running easies belong to their owners' cancel */
  free(h);
}

int http_submit(struct http *h, struct http_req *r, long delay_ms) {
  r->not_before_ms = delay_ms > 0 ? pq_mono_ms() + delay_ms : 0;
  r->state = 1;
  r->next = NULL;
  r->prev = h->wait_tail;
  if (h->wait_tail)
    h->wait_tail->next = r;
  else
    h->wait_head = r;
  h->wait_tail = r;
  h->waiting++;
  return PQ_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp) {
  struct http_req *r = userp;
  /* Returning less than given aborts the transfer: a response over
   * limits.max_response_bytes is an error, never a silent cut. */
  return pq_buf_append(&r->resp, data, size * n) == PQ_OK ? size * n : 0;
}

/* OpenAI-style durations: "1s", "250ms", "6m0s", "1h2m3.5s", or plain
 * seconds ("0.5"). Returns milliseconds, or -1 when unreadable. */
static long parse_duration_ms(const char *v) {
  double total = 0;
  int any = 0;
  while (*v == ' ')
    v++;
  while (*v && *v != '\r' && *v != '\n') {
    char *end;
    double x = strtod(v, &end);
    if (end == v)
      return -1;
    v = end;
    if (strncmp(v, "ms", 2) == 0) {
      total += x;
      v += 2;
    } else if (*v == 'h') {
      total += x * 3600000;
      v++;
    } else if (*v == 'm') {
      total += x * 60000;
      v++;
    } else if (*v == 's') {
      total += x * 1000;
      v++;
    } else if (!*v || *v == '\r' || *v == '\n' || *v == ' ') {
      total += x * 1000; /* plain seconds */
    } else {
      return -1;
    }
    any = 1;
    while (*v == ' ')
      v++;
  }
  return any && total >= 0 && total < 864e5 ? (long)total : -1;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp) {
  struct http_req *r = userp;
  size_t len = size * n;
  char line[256];
  if (len >= sizeof line)
    return len;
  memcpy(line, data, len);
  line[len] = '\0';
  char *colon = strchr(line, ':');
  if (!colon)
    return len;
  *colon = '\0';
  const char *value = colon + 1;
  if (strcasecmp(line, "retry-after") == 0) {
    r->retry_after_ms = pq_chat_retry_after_ms(value);
  } else if (strcasecmp(line, "x-ratelimit-reset-requests") == 0) {
    r->ratelimit_reset_ms = parse_duration_ms(value);
  } else if (strcasecmp(line, "x-ratelimit-remaining-requests") == 0) {
    long v;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s", value + strspn(value, " "));
    tmp[strcspn(tmp, "\r\n")] = '\0';
    if (pq_parse_long(tmp, 0, 1L << 40, &v) == PQ_OK)
      r->ratelimit_remaining = v;
  }
  return len;
}

static int start(struct http *h, struct http_req *r) {
  CURL *e = curl_easy_init();
  if (!e)
    return PQ_ERR_NOMEM;
  char auth[1024];
  struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
  if (r->key && r->key[0]) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->key);
    hd = curl_slist_append(hd, auth);
    memset(auth, 0, sizeof auth);
  }
  hd = curl_slist_append(hd, "Expect:"); /* no 100-continue round trip */
  pq_buf_free(&r->resp);
  pq_buf_init(&r->resp, h->max_response);
  r->status = 0;
  r->error[0] = '\0';
  r->retry_after_ms = -1;
  r->ratelimit_remaining = -1;
  r->ratelimit_reset_ms = -1;
  r->headers = hd;
  r->easy = e;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "paperq/" PAPERQ_VERSION);
  if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
    release_easy(h, r);
    return PQ_ERR;
  }
  r->started_ms = pq_now_ms();
  r->state = 2;
  h->running++;
  return PQ_OK;
}

/* Starts waiting requests that are due, up to the current limit. Delayed
 * ones (rate-limit backoff) do not block due ones behind them. */
static void refill(struct http *h, int64_t now) {
  if (h->rpm <= 0)
    return;
  double burst = h->rpm / 60.0 < 1 ? 1 : h->rpm / 60.0; /* one second's worth */
  h->tokens += (double)(now - h->refill_ms) * h->rpm / 60000.0;
  if (h->tokens > burst)
    h->tokens = burst;
  h->refill_ms = now;
}

static void start_due(struct http *h) {
  int64_t now = pq_mono_ms();
  struct http_req *r = h->wait_head;
  if (now < h->pause_until_ms)
    return;
  if (h->rl_known && now >= h->rl_reset_ms) {
    /* The window has refilled: take our share of it until the next answer
     * says how much is really left. */
    h->rl_left = (long)(h->rl_capacity * h->rl_share + 0.5);
    if (h->rl_left < 1)
      h->rl_left = 1;
    h->rl_reset_ms = now + 1000;
    if (h->rl_share < 1.0)
      h->rl_share = h->rl_share + 0.02 > 1.0 ? 1.0 : h->rl_share + 0.02;
  }
  refill(h, now);
  while (r && h->running < (int)h->limit && (h->rpm <= 0 || h->tokens >= 1) &&
         (!h->rl_known || h->rl_left > 0)) {
    struct http_req *next = r->next;
    if (r->not_before_ms <= now) {
      if (h->rpm > 0)
        h->tokens -= 1;
      h->rl_left--;
      if (h->rl_known)
        h->rl_reset_ms += (int64_t)h->rl_tok_ms; /* what we take refills later */
      unlink_waiting(h, r);
      if (start(h, r) != PQ_OK) {
        /* Put it back at the end; a later round retries. */
        pq_warn("http: cannot start a transfer; will retry");
        http_submit(h, r, 1000);
        break;
      }
    }
    r = next;
  }
}

int http_perform(struct http *h, http_done_fn done, void *ctx) {
  int completed = 0, still;
  start_due(h);
  curl_multi_perform(h->multi, &still);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    struct http_req *r = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (m->data.result == CURLE_OK) {
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
    } else {
      r->status = 0;
      if (m->data.result == CURLE_WRITE_ERROR)
        snprintf(r->error, sizeof r->error, "response larger than limits.max_response_bytes");
      else if (!r->error[0])
        snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(m->data.result));
    }
    r->finished_ms = pq_now_ms();
    release_easy(h, r);
    h->running--;
    r->state = 0;
    completed++;
    done(ctx, r); /* may resubmit r or submit new requests */
  }
  if (completed)
    start_due(h);
  return completed;
}

void http_wait(struct http *h, int extra_fd, int timeout_ms) {
  /* Wake when a waiting request can start: not before its own delay, nor
   * before the gates that hold every request (a provider pause, a used-up
   * rate-limit window, an empty token bucket) open. Waking for a request
   * that a gate still holds would spin. */
  if (h->waiting && h->running < (int)h->limit) {
    int64_t now = pq_mono_ms(), gate = now;
    if (h->pause_until_ms > gate)
      gate = h->pause_until_ms;
    if (h->rl_known && h->rl_left <= 0 && h->rl_reset_ms > gate)
      gate = h->rl_reset_ms;
    if (h->rpm > 0 && h->tokens < 1) {
      int64_t t = now + (int64_t)((1 - h->tokens) * 60000.0 / h->rpm) + 1;
      if (t > gate)
        gate = t;
    }
    for (struct http_req *r = h->wait_head; r; r = r->next) {
      int64_t at = r->not_before_ms > gate ? r->not_before_ms : gate;
      if (at - now < timeout_ms)
        timeout_ms = at <= now ? 0 : (int)(at - now);
    }
  }
  struct curl_waitfd extra = {extra_fd, CURL_WAIT_POLLIN, 0};
  curl_multi_poll(h->multi, extra_fd >= 0 ? &extra : NULL, extra_fd >= 0 ? 1 : 0, timeout_ms, NULL);
}

int http_running(const struct http *h) { return h->running; }
int http_waiting(const struct http *h) { return h->waiting; }
int http_limit(const struct http *h) { return (int)h->limit; }

/* Holds new requests for wait_ms, stretched by up to 20% at random so that
 * workers told the same thing do not all come back in the same instant. */
static void pause_for(struct http *h, long wait_ms) {
  int64_t until = pq_mono_ms() + wait_ms + (long)(wait_ms * 0.2 * ((double)rand() / RAND_MAX));
  if (until > h->pause_until_ms)
    h->pause_until_ms = until;
}

void http_feedback(struct http *h, const struct http_req *r, int rate_limited) {
  if (r->ratelimit_remaining >= 0 && r->ratelimit_reset_ms >= 0) {
    /* The figure already counts every request that reached the provider
     * before this answer left it, including ours still running (with
     * 60-second calls, subtracting those would starve us); what it cannot
     * count is what we start from now on, which rl_left-- in start_due
     * does. */
    h->rl_known = 1;
    if (r->ratelimit_remaining + 1 > h->rl_capacity)
      h->rl_capacity = r->ratelimit_remaining + 1;
    if (h->rl_capacity > r->ratelimit_remaining)
      h->rl_tok_ms =
          (double)r->ratelimit_reset_ms / (double)(h->rl_capacity - r->ratelimit_remaining);
    long left = (long)(r->ratelimit_remaining * h->rl_share);
    h->rl_left = left < h->rl_left || !rate_limited ? left : h->rl_left;
    h->rl_reset_ms = pq_mono_ms() + r->ratelimit_reset_ms;
  }
  if (rate_limited) {
    pause_for(h, r->retry_after_ms >= 0 ? r->retry_after_ms : 1000);
    if (pq_mono_ms() - h->last_decrease_ms >= 1000)
      h->rl_share = h->rl_share * 0.6 < 0.02 ? 0.02 : h->rl_share * 0.6;
  }
  if (rate_limited) {
    /* Halve at most once per second so one burst of 429s from requests
     * already in flight counts as one signal. */
    int64_t now = pq_mono_ms();
    if (now - h->last_decrease_ms >= 1000) {
      h->limit = h->limit / 2 < 1 ? 1 : h->limit / 2;
      h->last_decrease_ms = now;
      pq_info("http: rate limited; concurrency now %d", (int)h->limit);
    }
  } else if (h->limit < h->max_requests) {
    h->limit += 1.0 / h->limit; /* +1 per window of successes */
    if (h->limit > h->max_requests)
      h->limit = h->max_requests;
  }
}
