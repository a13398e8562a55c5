/* The worker process: one event loop servicing the AMQP connection and every
 * HTTP transfer (see worker.c). Shared by worker.c and translate.c. */
#ifndef WORKER_WORKER_H
#define WORKER_WORKER_H

#include "http.h"
#include "paperq/chat.h"
#include "paperq/job.h"
#include "retry.h"

#include <cjson/cJSON.h>
#include <stdint.h>

struct pq_config;
struct pq_mq;
struct xlate;
struct judging;
struct pq_glossary;

/* http_req.index tells whose request completed. */
#define HTTP_OWNER_TRANSLATE 0
#define HTTP_OWNER_JUDGE 1

enum paper_state {
  PAPER_TRANSLATING, /* requests in flight or queued */
  PAPER_PUBLISHING,  /* outcome published; ack once the broker confirms it */
};

/* One delivered job in flight. */
struct paper {
  struct worker *w;
  uint64_t tag;        /* delivery tag, acked exactly once */
  int attempt;         /* 1-based, from the job's own header */
  long delivery_count; /* quorum x-delivery-count (crash/hang redeliveries) */
  int is_qa;           /* a QA judge job rather than a translation */
  struct pq_job job;
  int job_ok; /* job decoded */
  enum paper_state state;
  uint64_t wait_seq;  /* last publish that must be confirmed before the ack */
  int publish_failed; /* the broker nacked one of our publishes */
  int64_t started_ms;
  /* outcome, set when translation ends */
  enum pq_err_class outcome;
  char error[512];
  struct xlate *x;                   /* translation state (translate.c) */
  struct judging *judging;           /* QA state (judge.c) */
  int started_sent;                  /* job.started published */
  struct paper *next, *prev;         /* w->papers, newest first */
  struct paper *pub_next, *pub_prev; /* w->pub_*, in publish order */
  int in_pub;
};

/* job.started goes out only for papers still in flight after this long:
 * a paper that finishes sooner is announced by its outcome alone, which
 * saves a publish per paper (3 syscalls) and an event the ledger applies. */
#define STARTED_EVENT_DELAY_MS 1000

struct worker {
  const struct pq_config *cfg;
  struct pq_mq *mq;
  struct http *http;
  char id[128];        /* host:pid, shown in the ledger */
  char url[1024];      /* chat-completions endpoint */
  const char *api_key; /* borrowed from the environment; never logged */
  int dry_run;
  struct pq_glossary *glossary; /* NULL when translate.glossary is "" */
  struct retry_policy retry;
  struct paper *papers;              /* every paper in flight, newest first */
  struct paper *papers_tail;         /* the oldest */
  struct paper *started_cursor;      /* oldest paper not yet considered for job.started */
  struct paper *pub_head, *pub_tail; /* PUBLISHING papers, oldest publish first */
  int in_flight;
  long done, failed, parked, handed_back;
  int64_t started_ms, last_activity_ms, last_heartbeat_ms, drain_deadline_ms;
  int consuming, draining;
  int paused; /* a control broadcast (budget) stopped new work */
  int fatal;  /* a fleet-fatal provider error was seen */
  char fatal_error[512];
};

/* Called by translate.c when a paper's translation has ended, successfully
 * (p->outcome == PQ_CLASS_OK) or not. */
void worker_paper_done(struct paper *p);

/* Records why p's attempt failed (the first reason wins for the caller to
 * decide; this simply sets outcome and error). */
void worker_paper_fail(struct paper *p, enum pq_err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Called by translate.c on a fleet-fatal provider error. */
void worker_fatal(struct worker *w, const char *error);

#endif
