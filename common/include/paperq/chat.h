/* OpenAI-compatible chat-completions: building requests and reading
 * replies, including what every reply means (docs/providers.md has the
 * table: provider behaviour -> class -> what paperq does). Pure functions:
 * the HTTP transfer itself lives in the worker. */
#ifndef PAPERQ_CHAT_H
#define PAPERQ_CHAT_H

#include <stddef.h>
#include <stdint.h>

/* What a failure means for the paper and for the fleet. */
enum pq_err_class {
  PQ_CLASS_OK = 0,
  PQ_CLASS_TRANSIENT, /* 5xx, timeout, reset, malformed/partial reply: retry later */
  PQ_CLASS_RATE,      /* 429, in-flight budget 402: wait, resend; not a failed attempt */
  PQ_CLASS_PERMANENT, /* this input will never work on this model: fallback, then park */
  PQ_CLASS_FATAL,     /* bad key, no credit, key limit, unknown model: stop the worker */
};

const char *pq_err_class_name(enum pq_err_class c);

/* Why a reply is not a finished answer, finer than its class: the worker
 * picks its path from it (split the input, try the fallback model, lower
 * max_tokens, lower concurrency) and the ledger totals thrown-away spend by
 * it. */
enum pq_chat_reason {
  PQ_REASON_NONE = 0,        /* a finished answer: finish_reason "stop" (or none given) */
  PQ_REASON_TRANSPORT,       /* no HTTP reply: timeout, reset, refused */
  PQ_REASON_MALFORMED,       /* not JSON, or no choices[0].message.content */
  PQ_REASON_SERVER,          /* 408, 5xx, 524, 529, an error object without a code */
  PQ_REASON_PROVIDER_ERROR,  /* finish_reason "error" or choices[0].error: partial answer */
  PQ_REASON_RATE_LIMIT,      /* 429 */
  PQ_REASON_INFLIGHT_BUDGET, /* 402 limit_source openrouter_in_flight_budget: wait, slow down */
  PQ_REASON_WEIGHT_BUDGET,   /* 402 weight_exceeds_budget: this request's max_tokens is too big */
  PQ_REASON_LENGTH,          /* finish_reason "length", or the context is exceeded: cut smaller */
  PQ_REASON_REASONING_ONLY,  /* no answer, the token budget spent on reasoning */
  PQ_REASON_CONTENT_FILTER,  /* content_filter, a refusal, moderation/guardrail on the input */
  PQ_REASON_BAD_REQUEST,     /* another 4xx: this request is wrong */
  PQ_REASON_AUTH,            /* 401, invalid key */
  PQ_REASON_NO_CREDIT,       /* 402 credits/key limit, insufficient_quota, unpaid account */
  PQ_REASON_KEY_LIMIT,       /* 403 key, workspace or budget limit; missing permission */
  PQ_REASON_UNKNOWN_MODEL,   /* the model does not exist */
  PQ_REASON_COUNT
};

/* "finished", "transport", "malformed", "server", "provider_error",
 * "rate_limit", "inflight_budget", "weight_budget", "length",
 * "reasoning_only", "content_filter", "bad_request", "auth", "no_credit",
 * "key_limit", "unknown_model". Static strings. */
const char *pq_chat_reason_name(enum pq_chat_reason r);

/* Usage a reply may report; beyond it the reply is malformed (issue 13). */
#define PQ_CHAT_MAX_TOKENS 1e9
#define PQ_CHAT_MAX_COST_USD 1e4

struct pq_chat_result {
  enum pq_err_class cls;
  enum pq_chat_reason reason;
  char *content; /* malloc'd assistant text when cls == OK, else NULL */
  char finish_reason[32];
  /* usage, read from every reply that carries it (errors too: partial
   * answers and filtered ones are billed) */
  int usage_reported; /* 1 when the reply had a usage object */
  long prompt_tokens, completion_tokens;
  long reasoning_tokens; /* completion_tokens_details.reasoning_tokens */
  long cached_tokens;    /* prompt_tokens_details.cached_tokens */
  double cost_usd;       /* usage.cost when the provider reports it, else -1 */
  char model[128];       /* model that answered, "" if not reported */
  char provider[64];     /* provider that served it (OpenRouter), "" if not reported */
  char error[512];       /* human-readable cause when cls != OK, secrets removed */
};

/* Reasoning controls of a request, from translate.reasoning / qa.reasoning:
 *   ""                 send none (the model's default)
 *   "off" | "none"     reasoning: {"effort": "none"}
 *   "on"               reasoning: {"enabled": true}
 *   "minimal" | "low" | "medium" | "high" | "xhigh" | "max"
 *                      reasoning: {"effort": level}          (OpenRouter)
 *   "openai:<level>"   reasoning_effort: level               (OpenAI)
 *   a number N >= 0    reasoning: {"max_tokens": N}          (a token budget)
 * PQ_OK, or PQ_ERR_PARSE with a sentence in err. */
int pq_chat_reasoning_check(const char *value, char *err, size_t errlen);

struct pq_chat_req {
  const char *model, *system, *user; /* system may be NULL or "" */
  int max_tokens;
  double temperature;
  const char *reasoning;  /* as pq_chat_reasoning_check accepts; NULL = "" */
  const char *extra_body; /* a JSON object merged into the request; NULL/"" = none.
                             Its members win over ours except model and messages. */
};

/* Builds the JSON body of a chat request. Returns a malloc'd string, or NULL
 * (no memory, an invalid reasoning value, extra_body not a JSON object). */
char *pq_chat_build(const struct pq_chat_req *req);
/* The same without reasoning controls or extra body. */
char *pq_chat_request(const char *model, const char *system, const char *user, int max_tokens,
                      double temperature);

/* Interprets an HTTP exchange. status 0 means the transfer failed (curl_error
 * holds the cause). body may be NULL. Always fills r (free with
 * pq_chat_result_free). Errors are classified by the inner error's code and
 * metadata wherever they arrive: the status line, an error object in a 200
 * body, or choices[0].error. */
void pq_chat_parse(long status, const char *body, size_t len, const char *curl_error,
                   struct pq_chat_result *r);
void pq_chat_result_free(struct pq_chat_result *r);

/* Retry and rate-limit hints from a reply's headers. -1 = not sent. */
struct pq_chat_hints {
  long retry_after_ms;     /* Retry-After (seconds or an HTTP date) */
  long retry_after_ms_hdr; /* retry-after-ms (OpenAI): wins over Retry-After */
  long limit_requests;     /* x-ratelimit-limit-requests, or OpenRouter's X-RateLimit-Limit */
  long remaining_requests; /* x-ratelimit-remaining-requests / X-RateLimit-Remaining */
  long reset_requests_ms;  /* x-ratelimit-reset-requests ("6m0s") / X-RateLimit-Reset
                              (epoch ms), as ms from now */
  long limit_tokens;       /* x-ratelimit-limit-tokens */
  long remaining_tokens;   /* x-ratelimit-remaining-tokens */
  long reset_tokens_ms;    /* x-ratelimit-reset-tokens, as ms from now */
  int per_reply_window;    /* the window came as OpenAI's x-ratelimit-*-requests, sent on
                              every reply; OpenRouter's X-RateLimit-* come on its own 429s
                              only and describe the limit hit, not a window to pace by */
};

void pq_chat_hints_init(struct pq_chat_hints *h);
/* Folds one header line ("Name: value\r\n", not NUL-terminated) into h.
 * Names are case-insensitive; unknown headers and unreadable values are
 * ignored. now_ms: wall clock (pq_now_ms) for epoch and HTTP-date values. */
void pq_chat_hints_header(struct pq_chat_hints *h, const char *line, size_t len, int64_t now_ms);
/* How long the provider asked us to wait: retry-after-ms, else Retry-After,
 * else (when a window is used up) the time to its reset; -1 when it said
 * nothing. */
long pq_chat_hints_wait_ms(const struct pq_chat_hints *h);

/* Parses a Retry-After header value (seconds, or an HTTP date) into
 * milliseconds from now; -1 when absent or unparseable. */
long pq_chat_retry_after_ms(const char *value);
/* OpenAI-style durations: "1s", "250ms", "6m0s", "1h2m3.5s", or plain
 * seconds ("0.5"). Milliseconds, or -1 when unreadable. */
long pq_chat_duration_ms(const char *value);

/* An estimate of the prompt tokens of a request body (about 3 bytes per
 * token, as the chunk planner counts), for pricing a request that was
 * abandoned before the provider said what it used. */
long pq_chat_estimate_prompt_tokens(size_t body_bytes);

/* The tokens a request counts against a tokens-per-minute limit when it is
 * sent: its estimated prompt (the messages' text, as
 * pq_chat_estimate_prompt_tokens counts) plus its completion cap (max_tokens,
 * or max_completion_tokens). Providers reserve that much before the answer
 * (docs/architecture.md, "Tokens per minute"); the answer's usage corrects
 * it. body: a request as pq_chat_build makes it (NUL-terminated); a body
 * that is not JSON counts its bytes as prompt. Always >= 1. */
long pq_chat_request_tokens(const char *body);

/* How long to hold requests after a 429 that says nothing (no usable
 * Retry-After): PQ_CHAT_DEFAULT_PAUSE_MS. pq_chat_pause_ms(retry_after_ms)
 * is retry_after_ms when it is known (>= 0), else that default. */
#define PQ_CHAT_DEFAULT_PAUSE_MS 1000
long pq_chat_pause_ms(long retry_after_ms);

#endif
