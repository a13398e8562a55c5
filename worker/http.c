/* HTTP transfers for the worker: curl multi, a bounded number of running
 * transfers, a waiting list for the rest, and adaptive concurrency. */
#include "http.h"
#include "ratelimit.h"
#include "paperq/chat.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct http {
  CURLM *multi;
  int running;
  int waiting;
  long timeout_ms, connect_timeout_ms;
  size_t max_response;
  struct http_req *wait_head, *wait_tail; /* FIFO of requests not yet started */
  struct ratelimit rl;                    /* how many may start, and when */
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
  h->timeout_ms = (long)cfg->translate.timeout_s * 1000;
  h->connect_timeout_ms = (long)cfg->translate.connect_timeout_s * 1000;
  h->max_response = (size_t)cfg->limits.max_response_bytes;
  ratelimit_init(&h->rl, cfg->worker.max_requests, cfg->translate.requests_per_minute,
                 cfg->translate.tokens_per_minute, pq_mono_ms(), (uint32_t)rand());
  /* Keep a warm connection for every transfer that may run at once. */
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)cfg->worker.max_requests);
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->worker.max_requests);
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
  r->tokens_cost = -1; /* a resend may carry a smaller max_tokens */
  r->tokens_charged = 0;
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

/* Every header goes to pq_chat_hints_header (common/src/chat.c): Retry-After
 * (seconds or a date), retry-after-ms, OpenRouter's X-RateLimit-* and
 * OpenAI's x-ratelimit-*-requests/-tokens. */
static size_t on_header(char *data, size_t size, size_t n, void *userp) {
  struct http_req *r = userp;
  size_t len = size * n;
  pq_chat_hints_header(&r->hints, data, len, pq_now_ms());
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
  pq_chat_hints_init(&r->hints);
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

/* What r counts against tokens per minute, worked out once, and only when a
 * token rate is known (it parses the body). */
static long tokens_cost(struct http *h, struct http_req *r) {
  if (ratelimit_tpm(&h->rl) <= 0)
    return 0;
  if (r->tokens_cost < 0)
    r->tokens_cost = pq_chat_request_tokens(r->body);
  return r->tokens_cost;
}

/* Starts waiting requests that are due, in order, as far as the rate
 * limiter allows. Delayed ones (a resend after a 429) do not block due ones
 * behind them. */
static void start_due(struct http *h) {
  int64_t now = pq_mono_ms();
  if (!ratelimit_open(&h->rl, now))
    return;
  struct http_req *r = h->wait_head;
  while (r && h->running < ratelimit_limit(&h->rl)) {
    struct http_req *next = r->next;
    if (r->not_before_ms <= now) {
      long cost = tokens_cost(h, r);
      if (!ratelimit_may_start(&h->rl, h->running, cost))
        break;
      r->tokens_charged = ratelimit_took(&h->rl, cost);
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
    /* The resend's wait; what else the headers say goes to the limiter
     * (http_feedback, ratelimit_signal_of). */
    r->retry_after_ms = pq_chat_hints_wait_ms(&r->hints);
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
   * before the rate limiter opens for it (a provider hold, a used-up window,
   * buckets short of its tokens). Waking for a request that is still held
   * would spin. start_due takes due requests in order, so nothing behind
   * the first due one can start before it. */
  if (h->waiting && h->running < ratelimit_limit(&h->rl)) {
    int64_t now = pq_mono_ms();
    for (struct http_req *r = h->wait_head; r; r = r->next) {
      int64_t gate = ratelimit_opens_at(&h->rl, now, tokens_cost(h, r));
      int64_t at = r->not_before_ms > gate ? r->not_before_ms : gate;
      if (at - now < timeout_ms)
        timeout_ms = at <= now ? 0 : (int)(at - now);
      if (r->not_before_ms <= now)
        break;
    }
  }
  struct curl_waitfd extra = {extra_fd, CURL_WAIT_POLLIN, 0};
  curl_multi_poll(h->multi, extra_fd >= 0 ? &extra : NULL, extra_fd >= 0 ? 1 : 0, timeout_ms, NULL);
}

int http_running(const struct http *h) { return h->running; }
int http_waiting(const struct http *h) { return h->waiting; }
int http_limit(const struct http *h) { return ratelimit_limit(&h->rl); }

void http_feedback(struct http *h, const struct http_req *r, int rate_limited, long used_tokens) {
  struct ratelimit_signal sig = ratelimit_signal_of(&r->hints, rate_limited);
  sig.charged = r->tokens_charged;
  sig.used = used_tokens;
  ratelimit_feedback(&h->rl, &sig, pq_mono_ms());
}

void http_set_fleet(struct http *h, int workers) {
  ratelimit_set_fleet(&h->rl, workers, pq_mono_ms());
}

double http_pace_rpm(const struct http *h) { return ratelimit_rpm(&h->rl); }
