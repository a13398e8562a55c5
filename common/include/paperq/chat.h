/* OpenAI-compatible chat-completions: building requests and reading
 * responses, including how an HTTP failure is classified. Pure functions:
 * the HTTP transfer itself lives in worker/http.c. */
#ifndef PAPERQ_CHAT_H
#define PAPERQ_CHAT_H

#include <stddef.h>

/* What a failure means for the paper and for the fleet. */
enum pq_err_class {
  PQ_CLASS_OK = 0,
  PQ_CLASS_TRANSIENT, /* 5xx, timeout, reset, malformed/truncated reply: retry later */
  PQ_CLASS_RATE,      /* 429: wait and resend; not a failed attempt */
  PQ_CLASS_PERMANENT, /* 400 and the like: this input will never work; park */
  PQ_CLASS_FATAL,     /* 401/402/403/unknown model: stop the worker, hand jobs back */
};

const char *pq_err_class_name(enum pq_err_class c);

/* Usage a reply may report; beyond it the reply is malformed (transient). */
#define PQ_CHAT_MAX_TOKENS 1e9
#define PQ_CHAT_MAX_COST_USD 1e4

struct pq_chat_result {
  enum pq_err_class cls;
  char *content; /* malloc'd assistant text, NULL on failure */
  char finish_reason[32];
  long prompt_tokens, completion_tokens;
  double cost_usd; /* usage.cost when the provider reports it, else -1 */
  char model[128]; /* model that answered, "" if not reported */
  char error[512]; /* human-readable cause when cls != OK (no secrets) */
};

/* Builds the JSON body of a chat request. Returns a malloc'd string or NULL. */
char *pq_chat_request(const char *model, const char *system, const char *user, int max_tokens,
                      double temperature);

/* Interprets an HTTP exchange. status 0 means the transfer failed (curl_error
 * holds the cause). body may be NULL. Always fills r (free with
 * pq_chat_result_free). */
void pq_chat_parse(long status, const char *body, size_t len, const char *curl_error,
                   struct pq_chat_result *r);
void pq_chat_result_free(struct pq_chat_result *r);

/* Parses a Retry-After header value (seconds, or an HTTP date) into
 * milliseconds from now; -1 when absent or unparseable. */
long pq_chat_retry_after_ms(const char *value);

#endif
