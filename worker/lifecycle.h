/* A delivered job's life in the worker, whatever its kind: received, worked
 * on (work.h), its outcome published (success event, retry copy, parked copy
 * or hand-back), and acked only once the broker has confirmed that outcome.
 * Until then a crash returns the job to the queue. */
#ifndef WORKER_LIFECYCLE_H
#define WORKER_LIFECYCLE_H

#include "paperq/job.h"
#include "work.h"

#include <stdint.h>

struct worker;
struct pq_mq_delivery;

enum paper_state {
  PAPER_TRANSLATING, /* being worked on: requests in flight or queued */
  PAPER_PUBLISHING,  /* outcome published; acked once the broker confirms it */
};

/* One delivered job in flight. */
struct paper {
  struct worker *w;
  uint64_t tag;        /* delivery tag, acked exactly once */
  int attempt;         /* 1-based, from the job's own header */
  long delivery_count; /* quorum x-delivery-count (crash/hang redeliveries) */
  const struct work_kind *kind;
  struct pq_job job;
  int job_ok; /* job decoded */
  enum paper_state state;
  uint64_t wait_seq;  /* last publish that must be confirmed before the ack */
  int publish_failed; /* the broker nacked the outcome publish */
  int64_t started_ms;
  struct work *work;                 /* the attempt, while PAPER_TRANSLATING */
  int started_sent;                  /* job.started published */
  struct paper *next, *prev;         /* w->papers, newest first */
  struct paper *pub_next, *pub_prev; /* w->pub_*, in publish order */
  int in_pub;
};

/* job.started goes out only for papers still in flight after this long:
 * a paper that finishes sooner is announced by its outcome alone, which
 * saves a publish per paper (3 syscalls) and an event the ledger applies. */
#define STARTED_EVENT_DELAY_MS 1000

/* A job was delivered: decode it and start its attempt (or park it, or hand
 * it back when the worker is stopping). */
void paper_receive(struct worker *w, const struct pq_mq_delivery *d);
/* One of a paper's requests has completed (http_perform's callback). */
void paper_answered(void *worker, struct http_req *req);

/* Acks every paper whose outcome the broker has confirmed. */
void papers_settle(struct worker *w);
/* The broker refused publish seq (and earlier ones when multiple). */
void papers_nacked(struct worker *w, uint64_t seq, int multiple);
/* Announces papers in flight for STARTED_EVENT_DELAY_MS. */
void papers_announce_started(struct worker *w);
/* Hands every paper still being worked on back to the queue. */
void papers_hand_back_all(struct worker *w);
/* Forgets every paper after the connection is lost (the broker returns their
 * jobs by itself). */
void papers_drop_all(struct worker *w);

/* A fleet-fatal provider error: stop consuming, tell the ledger, hand every
 * job back unharmed. */
void worker_fatal(struct worker *w, const char *error);

#endif
