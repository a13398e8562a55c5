/* Many chat requests in flight on one thread: libcurl's multi interface with
 * connection reuse, a cap on concurrent transfers, delayed (re)submission for
 * rate limits, and the AMQP socket polled in the same curl_multi_poll. */
#ifndef WORKER_HTTP_H
#define WORKER_HTTP_H

#include "paperq/buf.h"
#include "paperq/chat.h"

#include <stdint.h>

struct pq_config;
struct http;

/* One request. The submitter owns it (the worker embeds it in a struct
 * llm_call, work.h); the http layer borrows it from http_submit until its
 * completion callback returns (or http_cancel). */
struct http_req {
  /* set by the submitter */
  char *body;      /* JSON; borrowed */
  const char *url; /* borrowed */
  const char *key; /* API key, borrowed; sent only in the Authorization header */
  /* results, valid in the completion callback */
  long status;     /* HTTP status, 0 when the transfer failed */
  char error[256]; /* transport error text when status == 0 */
  struct pq_buf resp;
  struct pq_chat_hints hints; /* every retry and rate-limit header of the reply */
  long retry_after_ms;        /* the wait the reply asked for (pq_chat_hints_wait_ms), -1 if none */
  int64_t started_ms, finished_ms;
  /* internal */
  int64_t not_before_ms;
  long tokens_cost;    /* what it counts against tokens per minute, -1 until needed */
  long tokens_charged; /* what the limiter counted when it started */
  void *easy;
  void *headers;
  struct http_req *next, *prev;
  int state; /* 0 idle, 1 waiting, 2 running */
};

typedef void (*http_done_fn)(void *ctx, struct http_req *req);

int http_new(const struct pq_config *cfg, struct http **out);
void http_free(struct http *h); /* cancels everything; accepts NULL */

/* Queues req to start no earlier than delay_ms from now (0 = as soon as a
 * transfer slot is free). PQ_OK or PQ_ERR_NOMEM. */
int http_submit(struct http *h, struct http_req *req, long delay_ms);
/* Removes req wherever it is; its callback will not run. */
void http_cancel(struct http *h, struct http_req *req);

/* Starts due requests, drives transfers and calls done for each finished
 * one. Returns the number completed. */
int http_perform(struct http *h, http_done_fn done, void *ctx);

/* Waits up to timeout_ms for socket activity on any transfer or on extra_fd
 * (-1 = none), or a due delayed request. */
void http_wait(struct http *h, int extra_fd, int timeout_ms);

int http_running(const struct http *h); /* transfers in progress */
int http_waiting(const struct http *h); /* queued, not yet started */

/* Rate-limit feedback from a completed request, passed to the limiter
 * (ratelimit.h): whether it was refused, the limits its headers state, and
 * the tokens its answer used (prompt + completion, -1 when it reported no
 * usage), which correct what its start counted against tokens per minute. */
void http_feedback(struct http *h, const struct http_req *r, int rate_limited, long used_tokens);
int http_limit(const struct http *h);

/* The number of workers sharing the provider's rate (ratelimit.h). */
void http_set_fleet(struct http *h, int workers);
/* This worker's pace in requests per minute, 0 when no rate is known. */
double http_pace_rpm(const struct http *h);

#endif
