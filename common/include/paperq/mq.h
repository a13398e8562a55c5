/* RabbitMQ connection for paperq programs (wraps rabbitmq-c 0.11).
 *
 * One connection, two channels: channel 1 consumes (manual acks, prefetch),
 * channel 2 publishes in confirm mode. Nothing here blocks longer than the
 * timeout it is given, so a program can service the connection from its own
 * event loop (the worker polls pq_mq_fd() beside libcurl's sockets).
 * amqp_* types never leave this module. Not thread-safe: one thread per
 * struct pq_mq. */
#ifndef PAPERQ_MQ_H
#define PAPERQ_MQ_H

#include <stddef.h>
#include <stdint.h>

struct pq_config;
struct pq_mq;

/* Names of the topology, all starting with broker.prefix (P):
 *   exchange P.jobs (direct) -> queue P.jobs (quorum, x-delivery-limit,
 *       dead-letters at-least-once to P.parked)        routing key "job"
 *   exchange P.retry (direct) -> quorum queues P.retry.<rk>.<ms> (no consumers; each
 *       message expires after its own delay and dead-letters to P.jobs with
 *       routing key <rk>)                              routing key "<rk>.<ms>"
 *   exchange P.parked (fanout) -> queues P.parked (classic; quorum on a
 *       cluster) and P.ledger
 *   exchange P.events (topic) -> queue P.ledger        routing key "#"
 *   P.ledger past broker.delivery_limit deliveries -> exchange P.ledger.parked
 *     (fanout) -> queue P.ledger.parked (events that crashed the ledger)
 *   queue P.qa (quorum) for QA judge jobs, via P.jobs routing key "qa"
 *   exchange P.control (fanout) -> one exclusive queue per worker */
#define PQ_RK_JOB "job"
#define PQ_RK_QA "qa"
#define PQ_MSG_TYPE_JOB "paperq.job"
#define PQ_MSG_TYPE_QA "paperq.qa"
#define PQ_MSG_TYPE_EVENT "paperq.event"
#define PQ_MSG_TYPE_CONTROL "paperq.control"
#define PQ_CONSUMER_CONTROL "control"
#define PQ_HDR_ATTEMPT "x-paperq-attempt"         /* int: 1 for the first attempt */
#define PQ_HDR_PARK_REASON "x-paperq-park-reason" /* string, set when a worker parks */

/* Properties of a message to publish. NULL strings are left out. */
struct pq_mq_props {
  const char *type;        /* PQ_MSG_TYPE_* */
  const char *message_id;  /* paper id for jobs, event id for events */
  long attempt;            /* > 0: sets PQ_HDR_ATTEMPT (32-bit when it fits, else 64) */
  const char *park_reason; /* sets PQ_HDR_PARK_REASON */
  long expiration_ms;      /* > 0: per-message TTL (retry delays) */
};

/* A received message. Every pointer is borrowed and valid only during the
 * callback that receives it. */
struct pq_mq_delivery {
  uint64_t tag; /* for pq_mq_ack / pq_mq_nack */
  int channel;  /* internal; pass the delivery back as is */
  const char *exchange;
  const char *routing_key;
  const char *consumer_tag;
  const char *type;       /* "" if absent */
  const char *message_id; /* "" if absent */
  const void *body;
  size_t len;
  int redelivered;
  long attempt;        /* PQ_HDR_ATTEMPT as sent (checked by pq_job_decode_delivery), 0 if absent */
  long delivery_count; /* x-delivery-count from a quorum queue, 0 if absent */
  const char *park_reason;  /* PQ_HDR_PARK_REASON, "" if absent */
  const char *death_reason; /* x-first-death-reason ("delivery_limit", "expired", ...), "" */
};

struct pq_mq_handler {
  void *ctx;
  /* A delivery arrived. Ack or nack it now or later by tag. */
  void (*on_delivery)(void *ctx, const struct pq_mq_delivery *d);
  /* The broker confirmed (ok=1) or refused (ok=0) publish number seq
   * (and every earlier one when multiple=1). */
  void (*on_confirm)(void *ctx, uint64_t seq, int multiple, int ok);
};

/* Connects (timeout broker.connect_timeout_s), logs in with heartbeats, opens
 * both channels, puts channel 2 in confirm mode and declares the topology
 * idempotently. client_name shows in the management UI.
 * broker.url may list several nodes of a cluster (comma-separated): they are
 * tried in order and the first that answers wins; after a connection was
 * lost (pq_mq_close of a broken one), the next call starts with the address
 * after the lost one. With several addresses (or broker.quorum_size > 0)
 * every queue is a quorum queue with x-quorum-initial-group-size.
 * PQ_OK, PQ_ERR_BROKER (message in err: host, port and cause for every
 * address tried; never the password), PQ_ERR_NOMEM. *out must be closed with
 * pq_mq_close. */
int pq_mq_open(const struct pq_config *cfg, const char *client_name, struct pq_mq **out, char *err,
               size_t errlen);
void pq_mq_close(struct pq_mq *mq); /* accepts NULL */

/* Full name of a queue or exchange: "<prefix>.<suffix>" into out. */
const char *pq_mq_name(const struct pq_mq *mq, const char *suffix, char *out, size_t outlen);

/* Declares the delay queue P.retry.<rk>.<delay_ms> (idempotent) whose
 * expired messages go back to P.jobs with routing key rk. Publish to it with
 * pq_mq_publish(mq, "retry", "<rk>.<delay_ms>", props with expiration_ms). */
int pq_mq_declare_retry_queue(struct pq_mq *mq, const char *rk, long delay_ms);

/* Starts consuming queue suffix (e.g. "jobs") on channel 1 with manual acks.
 * prefetch applies per consumer. Returns PQ_OK or PQ_ERR_BROKER. */
int pq_mq_consume(struct pq_mq *mq, const char *queue_suffix, uint16_t prefetch);
/* How many messages are ready in queue suffix (e.g. "jobs") and how many
 * consumers it has now, ours included: a passive queue.declare on the
 * publishing channel (frames that arrive meanwhile are kept for
 * pq_mq_pump). Workers use the consumers as the fleet's size, and the
 * messages to know when to step back into it. Either pointer may be NULL.
 * Returns PQ_OK or PQ_ERR_BROKER (the connection is then broken). */
int pq_mq_queue_counts(struct pq_mq *mq, const char *queue_suffix, uint32_t *messages,
                       uint32_t *consumers);
/* Subscribes to the P.control fanout through a private, auto-deleted queue.
 * Control messages (type PQ_MSG_TYPE_CONTROL) arrive through on_delivery
 * with consumer_tag "control" and must NOT be acked (no-ack consumer). */
int pq_mq_consume_control(struct pq_mq *mq);
/* Broadcasts a control message ({"v":1,"cmd":"pause"|"resume",...}). */
int pq_mq_publish_control(struct pq_mq *mq, const char *body, uint64_t *seq);

/* Stops the job consumers ("jobs", "qa", "ledger") on channel 1; unacked
 * deliveries stay ours to ack. The control consumer stays. */
int pq_mq_cancel_all(struct pq_mq *mq);

/* Publishes to exchange suffix ("jobs", "retry", "parked", "events") on the
 * confirm channel. *seq receives the publish number later reported to
 * on_confirm. Does not wait. PQ_OK or PQ_ERR_BROKER. */
int pq_mq_publish(struct pq_mq *mq, const char *exchange_suffix, const char *routing_key,
                  const struct pq_mq_props *props, const void *body, size_t len, uint64_t *seq);

/* Number of publishes not yet confirmed. */
uint64_t pq_mq_unconfirmed(const struct pq_mq *mq);
/* Every publish numbered <= the result is settled (acked or nacked). */
uint64_t pq_mq_confirmed_upto(const struct pq_mq *mq);

/* Services the connection: reads every frame available within timeout_ms
 * (0 = only what is already buffered or readable now), dispatching deliveries
 * and confirms to h, and sends heartbeats as needed. Returns PQ_OK or
 * PQ_ERR_BROKER when the connection is lost (the caller reconnects). */
int pq_mq_pump(struct pq_mq *mq, int timeout_ms, const struct pq_mq_handler *h);

/* Publishes are pipelined; this pumps until every one is confirmed or
 * timeout_ms passes. Deliveries that arrive meanwhile go to h (may be NULL
 * when not consuming). PQ_OK, PQ_ERR_NACK, PQ_ERR_TIMEOUT, PQ_ERR_BROKER. */
int pq_mq_wait_confirms(struct pq_mq *mq, int timeout_ms, const struct pq_mq_handler *h);

int pq_mq_ack(struct pq_mq *mq, uint64_t tag, int multiple);
/* requeue=1 returns the message to its queue (counts as a delivery attempt
 * on a quorum queue), requeue=0 dead-letters it. */
int pq_mq_nack(struct pq_mq *mq, uint64_t tag, int requeue);

/* Fetches one message from a queue (basic.get, manual ack) — for operator
 * commands such as requeue. PQ_OK with *got = 0 when empty. */
int pq_mq_get(struct pq_mq *mq, const char *queue_suffix, const struct pq_mq_handler *h, int *got);

/* The socket, for poll(). -1 when closed. Call pq_mq_pump(mq, 0, h) whenever
 * it is readable AND before sleeping: rabbitmq-c buffers frames internally. */
int pq_mq_fd(const struct pq_mq *mq);
/* 1 if frames are buffered inside the library (poll would not report them). */
int pq_mq_has_buffered(const struct pq_mq *mq);
/* Milliseconds until the next heartbeat must be sent; poll no longer. */
int pq_mq_next_timeout_ms(const struct pq_mq *mq);

#endif
