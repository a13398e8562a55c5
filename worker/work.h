/* The worker's job kinds behind one interface. A job kind (translate.c,
 * judge.c) turns one delivered job into chat requests and their answers into
 * an outcome; it sees only a small environment (config, endpoints, an HTTP
 * submitter, glossary, dry run), never the worker, the broker or the paper's
 * lifecycle (lifecycle.c), which publishes, retries, parks and acks.
 *
 * What is the same for every kind lives in work.c: sending a request,
 * resending after a 429, accounting usage, turning a fatal refusal into
 * WORK_FATAL, cancelling everything in flight. */
#ifndef WORKER_WORK_H
#define WORKER_WORK_H

#include "http.h"
#include "paperq/chat.h"
#include "paperq/job.h"
#include "paperq/spend.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct pq_config;
struct pq_glossary;
struct paper; /* the lifecycle's; opaque to job kinds */

/* 429s of one request before its attempt fails (work.c). */
#define WORK_MAX_RATE_RETRIES 50

/* How job kinds reach the provider: the worker wires these to http.c; unit
 * tests to a recorder that answers with canned replies. */
struct work_submitter {
  void *ctx;
  /* Queues req to start no earlier than delay_ms from now. */
  void (*submit)(void *ctx, struct http_req *req, long delay_ms);
  /* Removes req wherever it is; it will not complete. */
  void (*cancel)(void *ctx, struct http_req *req);
  /* Tells the rate limiter what a completed request said: refused or not,
   * and the tokens it used (prompt + completion; -1 when not reported). */
  void (*feedback)(void *ctx, const struct http_req *req, int rate_limited, long used_tokens);
};

/* A chat-completions endpoint: the URL and the key sent with it. */
struct work_endpoint {
  char url[1024];
  const char *key; /* borrowed from the environment; NULL: none. Never logged. */
};

/* Everything a job kind may use. Owned by the worker; outlives every job. */
struct work_env {
  const struct pq_config *cfg;
  struct work_submitter http;
  struct work_endpoint translate;     /* translate.base_url + translate.api_key_env */
  struct work_endpoint qa;            /* qa.base_url / qa.api_key_env, else translate's */
  const struct pq_glossary *glossary; /* NULL when translate.glossary is "" */
  int dry_run;                        /* translate.provider = "dry-run": no request is made */
};

/* Where an attempt stands after start or after an answer. */
enum work_status {
  WORK_PENDING, /* requests in flight: more answers to come */
  WORK_DONE,    /* the attempt succeeded */
  WORK_FAILED,  /* the attempt failed; work.outcome and work.error say why */
  WORK_FATAL,   /* the provider refused us (key, credit, model): stop the worker */
};

/* Providers that served an attempt's replies (OpenRouter's "provider"). */
#define WORK_MAX_PROVIDERS 4

/* What an attempt has used so far, paid for or not. */
struct work_usage {
  long prompt_tokens, completion_tokens;
  long requests;   /* answered requests (429s are not counted) */
  double cost_usd; /* = spend.cost_usd: every reply, used or thrown away */
  struct pq_spend spend;
  int64_t llm_ms;  /* summed request durations */
  char model[128]; /* the model that answered; "" for the configured one */
  struct {
    char name[64];
    long replies;
  } providers[WORK_MAX_PROVIDERS];
};

/* A smaller max_tokens is tried down to this after a 402 weight_exceeds_budget. */
#define WORK_MIN_MAX_TOKENS 256

/* One chat request of a job: the typed handle behind an http_req. */
struct llm_call {
  struct http_req req; /* handed to the submitter; its completion comes back here */
  struct work *work;   /* the job it belongs to */
  char model[128];     /* the model asked */
  char *body;          /* the request JSON (owned) */
  int rate_retries;    /* 429s answered to it in a row */
  double cost_usd;     /* what its last answer cost */
  /* what its answers cost since the kind last took it (work_take_spend) */
  struct pq_spend spend;
  long prompt_tokens, completion_tokens, requests;
  int active;                                 /* submitted and not completed or cancelled */
  struct llm_call *next_active, *prev_active; /* work.active */
};

/* The part of a job's state that every kind has; each kind's own state
 * begins with it. */
struct work {
  const struct work_kind *kind;
  const struct work_env *env;
  const struct pq_job *job;  /* borrowed from the paper for the attempt's life */
  struct paper *paper;       /* the lifecycle's paper (never dereferenced here) */
  enum pq_err_class outcome; /* PQ_CLASS_OK until the attempt fails */
  char error[512];           /* why it failed (or the fatal refusal); no secrets */
  struct work_usage usage;
  int outstanding;         /* calls in flight */
  struct llm_call *active; /* those calls, for cancelling */
  cJSON *events;           /* events made along the way, for the lifecycle to publish */
};

/* A job kind. Every function gets the struct work its create returned. */
struct work_kind {
  const char *name;          /* "translation", "QA": for logs */
  const char *msg_type;      /* AMQP type of its jobs (PQ_MSG_TYPE_*) */
  const char *routing_key;   /* its queue and retry tiers (PQ_RK_*) */
  const char *failed_event;  /* the event a failed attempt sends */
  const char *success_event; /* the event a success sends; NULL: its events went out
                                along the way (work_emit) */
  int announce_start;        /* send job.started for attempts that run long */
  const char *model_role;    /* "model", "judge model": names the model in a fatal error */
  const char *settings;      /* "translate", "qa": the config group a log line names */
  /* A new attempt's state (calloc'd, struct work first), or NULL when out of
   * memory. The base is filled in by work_new. */
  struct work *(*create)(void);
  /* Starts the attempt: submits its first requests or ends at once. */
  enum work_status (*start)(struct work *w);
  /* An answer that is not a 429 or a fatal refusal (work.c handles those):
   * res->cls is OK, TRANSIENT or PERMANENT. Returns where the attempt stands. */
  enum work_status (*on_answer)(struct work *w, struct llm_call *call,
                                const struct pq_chat_result *res);
  /* Adds what a success reports to its event (success_event only). */
  void (*describe_success)(struct work *w, cJSON *ev);
  /* The job to queue again (retry, park, hand back), carrying what is done so
   * it is not paid for again. w is NULL when the attempt never started.
   * Returns a malloc'd body, or NULL. */
  char *(*encode_again)(const struct pq_job *job, struct work *w, size_t *len);
  /* Frees the kind's own state (calls are already cancelled). */
  void (*destroy)(struct work *w);
};

extern const struct work_kind work_translate; /* translate.c */
extern const struct work_kind work_qa;        /* judge.c */

/* Sets up endpoint ep for base_url (trailing slashes dropped) and key. */
void work_endpoint_init(struct work_endpoint *ep, const char *base_url, const char *key);

/* A new attempt of kind for job (borrowed until work_free), or NULL when out
 * of memory. */
struct work *work_new(const struct work_kind *kind, const struct work_env *env,
                      const struct pq_job *job, struct paper *paper);
/* Cancels every call in flight and frees w. Accepts NULL. */
void work_free(struct work *w);

/* Records why the attempt failed. */
void work_fail(struct work *w, enum pq_err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends call to ep with body (owned from now on; NULL is an out-of-memory
 * failure of the attempt) for model. Returns PQ_OK or PQ_ERR_NOMEM. */
int work_call(struct work *w, struct llm_call *call, const struct work_endpoint *ep,
              const char *model, char *body);
/* Cancels every call of w in flight. */
void work_cancel_all(struct work *w);
/* Frees what a call holds (its body and response); it must not be active. */
void work_call_release(struct llm_call *call);

/* The request req has completed. The one place where a reply's class turns
 * into what happens (docs/providers.md): accounts its usage and cost (every
 * reply that carries usage; a timed-out request at an estimate), resends a
 * 429 or an in-flight-budget 402 after the provider's wait, resends a 5xx
 * that said Retry-After, resends a 402 weight_exceeds_budget with half the
 * max_tokens, turns a fatal refusal into WORK_FATAL, and hands any other
 * answer to its kind (cls OK, TRANSIENT or PERMANENT; res->reason says why). */
enum work_status work_answer(struct http_req *req);

/* The kind threw away call's last answer (a check failed, no verdict):
 * its cost counts as wasted for reason waste (enum pq_waste). */
void work_waste(struct work *w, struct llm_call *call, int waste);

/* Takes what call's answers cost since the last take (for an event that
 * reports them on its own, like a verdict) and removes it from w->usage, so
 * that the attempt's own event does not count it again. */
void work_take_spend(struct work *w, struct llm_call *call, struct pq_spend *spend,
                     long *prompt_tokens, long *completion_tokens, long *requests);
/* The call req belongs to. */
struct llm_call *work_call_of(struct http_req *req);

/* Queues an event of type kind with fields (owned; NULL is out of memory)
 * for the lifecycle to publish as soon as the current answer is dealt with.
 * PQ_OK or PQ_ERR_NOMEM. */
int work_emit(struct work *w, const char *kind, cJSON *fields);
/* Takes the queued events: an array of objects {"kind": ..., fields...}, or
 * NULL when there are none. The caller frees it. */
cJSON *work_take_events(struct work *w);

#endif
