/* RabbitMQ connection: login (to the first node of broker.url that answers),
 * topology, confirm-mode publishing and non-blocking frame servicing on top
 * of rabbitmq-c 0.11.
 * Channel 1 consumes; channel 2 publishes with confirms, so a basic.ack on
 * channel 2 is always a publisher confirm and never a consumer ack. */
#include "paperq/mq.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define CH_CONSUME 1
#define CH_PUBLISH 2

/* Where the next pq_mq_open starts in broker.url's list: 0 (the first
 * address that answers wins) until a connection is lost, then the address
 * after the lost node's, so a reconnect does not first wait on the node that
 * just went away. One per process: the programs are single-threaded and hold
 * one connection at a time. */
static int first_url;

struct pq_mq {
  amqp_connection_state_t conn;
  char prefix[128];
  int delivery_limit;
  int quorum_size; /* x-quorum-initial-group-size; 0 = not sent (RabbitMQ's default) */
  int heartbeat_s;
  int url_index; /* which address of broker.url this connection went to */
  int nurls;
  uint64_t next_seq;      /* publish number of the next publish (confirm mode) */
  uint64_t confirmed;     /* every publish <= this is settled */
  unsigned char *settled; /* settled[i]: publish confirmed+1+i is settled */
  size_t settled_cap;
  int nacked; /* a nack arrived since the last wait_confirms */
  int broken; /* connection or channel lost; only close is valid */
};

const char *pq_mq_name(const struct pq_mq *mq, const char *suffix, char *out, size_t outlen) {
  snprintf(out, outlen, "%s.%s", mq->prefix, suffix);
  return out;
}

/* Translates a failed RPC reply into text; never includes credentials. */
static void reply_text(amqp_rpc_reply_t r, char *out, size_t outlen) {
  switch (r.reply_type) {
  case AMQP_RESPONSE_NORMAL:
    snprintf(out, outlen, "ok");
    break;
  case AMQP_RESPONSE_NONE:
    snprintf(out, outlen, "missing RPC reply");
    break;
  case AMQP_RESPONSE_LIBRARY_EXCEPTION:
    snprintf(out, outlen, "%s", amqp_error_string2(r.library_error));
    break;
  case AMQP_RESPONSE_SERVER_EXCEPTION:
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_connection_close_t *m = r.reply.decoded;
      snprintf(out, outlen, "server closed the connection: %u %.*s", m->reply_code,
               (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      amqp_channel_close_t *m = r.reply.decoded;
      snprintf(out, outlen, "server closed the channel: %u %.*s", m->reply_code,
               (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else {
      snprintf(out, outlen, "server error (method 0x%08x)", r.reply.id);
    }
    break;
  }
}

static int rpc_ok(struct pq_mq *mq, const char *what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(mq->conn);
  if (r.reply_type == AMQP_RESPONSE_NORMAL)
    return PQ_OK;
  char text[512];
  reply_text(r, text, sizeof text);
  pq_error("broker: %s failed: %s", what, text);
  mq->broken = 1;
  return PQ_ERR_BROKER;
}

static int declare_exchange(struct pq_mq *mq, const char *suffix, const char *type) {
  char name[256];
  pq_mq_name(mq, suffix, name, sizeof name);
  amqp_exchange_declare(mq->conn, CH_PUBLISH, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0,
                        1, 0, 0, amqp_empty_table);
  return rpc_ok(mq, name);
}

/* Queue flavours. Everything that holds jobs is a quorum queue with
 * at-least-once dead-lettering: RabbitMQ's default dead-lettering is
 * at-most-once, and a retry copy expiring while the broker shuts down was
 * seen lost that way (chaos test). At-least-once needs reject-publish
 * overflow on the source queue. */
enum queue_kind {
  Q_CLASSIC,       /* P.parked: a plain durable queue for inspection */
  Q_QUORUM,        /* P.parked on a cluster (broker.quorum_size) */
  Q_QUORUM_LEDGER, /* P.ledger: delivery limit, dead-letters to P.ledger.parked */
  Q_QUORUM_WORK,   /* P.jobs, P.qa: delivery limit, dead-letters to P.parked */
  Q_QUORUM_DELAY,  /* P.retry.*: no consumer; expired messages go back to P.jobs */
};

static void arg_str(amqp_table_entry_t *e, const char *k, const char *v) {
  e->key = amqp_cstring_bytes(k);
  e->value.kind = AMQP_FIELD_KIND_UTF8;
  e->value.value.bytes = amqp_cstring_bytes(v);
}

/* Declares a durable queue of the given kind; dlrk is the routing key
 * expired delay-queue messages return with. */
static int declare_queue(struct pq_mq *mq, const char *suffix, enum queue_kind kind,
                         const char *dlrk) {
  char name[256], dlx_name[256];
  amqp_table_entry_t e[8];
  int n = 0;
  pq_mq_name(mq, suffix, name, sizeof name);
  if (kind != Q_CLASSIC)
    arg_str(&e[n++], "x-queue-type", "quorum");
  if (kind != Q_CLASSIC && mq->quorum_size > 0) {
    e[n].key = amqp_cstring_bytes("x-quorum-initial-group-size");
    e[n].value.kind = AMQP_FIELD_KIND_I32;
    e[n++].value.value.i32 = mq->quorum_size;
  }
  if (kind == Q_QUORUM_WORK) {
    e[n].key = amqp_cstring_bytes("x-delivery-limit");
    e[n].value.kind = AMQP_FIELD_KIND_I64;
    e[n++].value.value.i64 = mq->delivery_limit;
    arg_str(&e[n++], "x-dead-letter-exchange", pq_mq_name(mq, "parked", dlx_name, sizeof dlx_name));
  } else if (kind == Q_QUORUM_LEDGER) {
    /* An event that crashes the ledger must not wedge it: after
     * delivery_limit deliveries the broker sets it aside. */
    e[n].key = amqp_cstring_bytes("x-delivery-limit");
    e[n].value.kind = AMQP_FIELD_KIND_I64;
    e[n++].value.value.i64 = mq->delivery_limit;
    arg_str(&e[n++], "x-dead-letter-exchange",
            pq_mq_name(mq, "ledger.parked", dlx_name, sizeof dlx_name));
  } else if (kind == Q_QUORUM_DELAY) {
    arg_str(&e[n++], "x-dead-letter-exchange", pq_mq_name(mq, "jobs", dlx_name, sizeof dlx_name));
    arg_str(&e[n++], "x-dead-letter-routing-key", dlrk);
  }
  if (kind == Q_QUORUM_WORK || kind == Q_QUORUM_DELAY || kind == Q_QUORUM_LEDGER) {
    arg_str(&e[n++], "x-dead-letter-strategy", "at-least-once");
    arg_str(&e[n++], "x-overflow", "reject-publish");
  }
  amqp_table_t args = {n, e};
  amqp_queue_declare(mq->conn, CH_PUBLISH, amqp_cstring_bytes(name), 0, 1, 0, 0, args);
  return rpc_ok(mq, name);
}

static int bind_queue(struct pq_mq *mq, const char *queue, const char *exchange, const char *rk) {
  char q[256], x[256];
  pq_mq_name(mq, queue, q, sizeof q);
  pq_mq_name(mq, exchange, x, sizeof x);
  amqp_queue_bind(mq->conn, CH_PUBLISH, amqp_cstring_bytes(q), amqp_cstring_bytes(x),
                  amqp_cstring_bytes(rk), amqp_empty_table);
  return rpc_ok(mq, q);
}

/* The whole topology, declared by every program at start (idempotent). */
static int declare_topology(struct pq_mq *mq) {
  int rc = PQ_OK;
  rc = rc ? rc : declare_exchange(mq, "jobs", "direct");
  rc = rc ? rc : declare_exchange(mq, "retry", "direct");
  rc = rc ? rc : declare_exchange(mq, "parked", "fanout");
  rc = rc ? rc : declare_exchange(mq, "events", "topic");
  rc = rc ? rc : declare_exchange(mq, "control", "fanout");
  rc = rc ? rc : declare_exchange(mq, "ledger.parked", "fanout");
  rc = rc ? rc : declare_queue(mq, "jobs", Q_QUORUM_WORK, NULL);
  rc = rc ? rc : declare_queue(mq, "qa", Q_QUORUM_WORK, NULL);
  /* On a cluster P.parked is replicated too: a classic queue lives on one
   * node, and while that node is down every declare of it fails, so no
   * program could connect. On one node it stays what it always was. */
  rc = rc ? rc : declare_queue(mq, "parked", mq->quorum_size > 0 ? Q_QUORUM : Q_CLASSIC, NULL);
  rc = rc ? rc : declare_queue(mq, "ledger", Q_QUORUM_LEDGER, NULL);
  rc = rc ? rc
          : declare_queue(mq, "ledger.parked", mq->quorum_size > 0 ? Q_QUORUM : Q_CLASSIC, NULL);
  rc = rc ? rc : bind_queue(mq, "jobs", "jobs", PQ_RK_JOB);
  rc = rc ? rc : bind_queue(mq, "qa", "jobs", PQ_RK_QA);
  rc = rc ? rc : bind_queue(mq, "parked", "parked", "");
  rc = rc ? rc : bind_queue(mq, "ledger", "parked", "");
  rc = rc ? rc : bind_queue(mq, "ledger", "events", "#");
  rc = rc ? rc : bind_queue(mq, "ledger.parked", "ledger.parked", "");
  return rc;
}

int pq_mq_declare_retry_queue(struct pq_mq *mq, const char *rk, long delay_ms) {
  char suffix[128], key[96];
  snprintf(suffix, sizeof suffix, "retry.%s.%ld", rk, delay_ms);
  snprintf(key, sizeof key, "%s.%ld", rk, delay_ms);
  int rc = declare_queue(mq, suffix, Q_QUORUM_DELAY, rk);
  return rc ? rc : bind_queue(mq, suffix, "retry", key);
}

/* Connects mq to one address (an element of broker.url, modified in
 * place), logs in, opens both channels and declares the topology. On failure
 * mq->conn is released and err says why. */
static int connect_one(struct pq_mq *mq, const struct pq_config *cfg, char *url,
                       const char *client_name, char *err, size_t errlen) {
  struct amqp_connection_info ci;
  int rc = PQ_ERR_BROKER;
  if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
    snprintf(err, errlen, "broker.url is not a valid AMQP URL (amqp://user@host:port/vhost)");
    return PQ_ERR_BROKER;
  }
  /* "amqp://host:5672/" parses to the empty vhost, which RabbitMQ does not
   * have; everyone who writes the trailing slash means the default one. */
  if (!ci.vhost || !ci.vhost[0])
    ci.vhost = "/";
  const char *password = pq_config_secret(cfg->broker.password_env);
  if (!password)
    password = ci.password;

  mq->broken = 0;
  mq->conn = amqp_new_connection();
  if (!mq->conn)
    return PQ_ERR_NOMEM;
  amqp_socket_t *sock = ci.ssl ? amqp_ssl_socket_new(mq->conn) : amqp_tcp_socket_new(mq->conn);
  if (!sock) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  struct timeval tv = {cfg->broker.connect_timeout_s, 0};
  int st = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
  if (st != AMQP_STATUS_OK) {
    snprintf(err, errlen,
             "cannot connect to RabbitMQ at %s:%d: %s (is the broker running? check broker.url / "
             "PAPERQ_BROKER_URL)",
             ci.host, ci.port, amqp_error_string2(st));
    goto cleanup;
  }
  amqp_set_handshake_timeout(mq->conn, &tv);
  amqp_set_rpc_timeout(mq->conn, &tv);
  amqp_table_entry_t props[1];
  props[0].key = amqp_cstring_bytes("connection_name");
  props[0].value.kind = AMQP_FIELD_KIND_UTF8;
  props[0].value.value.bytes = amqp_cstring_bytes(client_name);
  amqp_table_t client_props = {1, props};
  amqp_rpc_reply_t r =
      amqp_login_with_properties(mq->conn, ci.vhost, 0, 131072, cfg->broker.heartbeat_s,
                                 &client_props, AMQP_SASL_METHOD_PLAIN, ci.user, password);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    char text[512];
    reply_text(r, text, sizeof text);
    snprintf(err, errlen, "RabbitMQ at %s:%d refused login as %s on vhost %s: %s", ci.host, ci.port,
             ci.user, ci.vhost, text);
    goto cleanup;
  }
  amqp_channel_open(mq->conn, CH_CONSUME);
  if (rpc_ok(mq, "channel.open")) {
    snprintf(err, errlen, "RabbitMQ at %s:%d: cannot open a channel", ci.host, ci.port);
    goto cleanup;
  }
  amqp_channel_open(mq->conn, CH_PUBLISH);
  if (rpc_ok(mq, "channel.open")) {
    snprintf(err, errlen, "RabbitMQ at %s:%d: cannot open a channel", ci.host, ci.port);
    goto cleanup;
  }
  amqp_confirm_select(mq->conn, CH_PUBLISH);
  if (rpc_ok(mq, "confirm.select")) {
    snprintf(err, errlen, "RabbitMQ at %s:%d: publisher confirms unavailable", ci.host, ci.port);
    goto cleanup;
  }
  if (declare_topology(mq)) {
    snprintf(err, errlen,
             "RabbitMQ at %s:%d: declaring the %s.* queues failed (see the log above; a queue "
             "declared earlier with other arguments must be deleted or another broker.prefix used)",
             ci.host, ci.port, mq->prefix);
    goto cleanup;
  }
  /* The RPC timeout guards the handshake only; in normal operation the
   * heartbeat detects a dead peer. */
  amqp_set_rpc_timeout(mq->conn, NULL);
  if (mq->nurls > 1)
    pq_info("broker: connected to %s:%d (address %d of %d in broker.url)", ci.host, ci.port,
            mq->url_index + 1, mq->nurls);
  return PQ_OK;
cleanup:
  if (!mq->broken && rc != PQ_ERR_NOMEM)
    mq->broken = 1; /* nothing to close politely after a failed handshake */
  amqp_destroy_connection(mq->conn);
  mq->conn = NULL;
  return rc;
}

int pq_mq_open(const struct pq_config *cfg, const char *client_name, struct pq_mq **out, char *err,
               size_t errlen) {
  char *urls = strdup(cfg->broker.url);
  char *url[PQ_BROKER_MAX_URLS];
  struct pq_mq *mq = calloc(1, sizeof *mq);
  int rc = PQ_ERR_BROKER;
  *out = NULL;
  err[0] = '\0';
  if (!urls || !mq) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  for (char *u = urls; mq->nurls < PQ_BROKER_MAX_URLS;) {
    size_t n = strcspn(u, ",");
    int last = u[n] == '\0';
    u[n] = '\0';
    url[mq->nurls++] = u + strspn(u, " ");
    if (last)
      break;
    u += n + 1;
  }
  snprintf(mq->prefix, sizeof mq->prefix, "%s", cfg->broker.prefix);
  mq->delivery_limit = cfg->broker.delivery_limit;
  mq->quorum_size = cfg->broker.quorum_size > 0 ? cfg->broker.quorum_size
                    : mq->nurls > 1             ? mq->nurls
                                                : 0;
  mq->heartbeat_s = cfg->broker.heartbeat_s;
  mq->next_seq = 1;
  if (first_url >= mq->nurls)
    first_url = 0;
  /* Each address in turn, from first_url; err keeps every address's cause
   * when none answers. */
  size_t used = 0;
  for (int k = 0; k < mq->nurls; k++) {
    char one[1024];
    mq->url_index = (first_url + k) % mq->nurls;
    rc = connect_one(mq, cfg, url[mq->url_index], client_name, one, sizeof one);
    if (rc == PQ_OK) {
      first_url = mq->url_index;
      *out = mq;
      mq = NULL;
      goto cleanup;
    }
    if (rc == PQ_ERR_NOMEM)
      goto cleanup;
    if (mq->nurls > 1)
      pq_warn("broker: address %d of %d: %s", mq->url_index + 1, mq->nurls, one);
    int w = snprintf(err + used, errlen - used, "%s%s", used ? "; " : "", one);
    if (w > 0 && (size_t)w < errlen - used)
      used += (size_t)w;
  }
cleanup:
  pq_mq_close(mq);
  free(urls);
  return rc;
}

void pq_mq_close(struct pq_mq *mq) {
  if (!mq)
    return;
  /* A lost node: the next connection starts with the address after it. */
  if (mq->conn && mq->broken && mq->nurls > 1)
    first_url = (mq->url_index + 1) % mq->nurls;
  if (mq->conn) {
    if (!mq->broken) {
      amqp_channel_close(mq->conn, CH_PUBLISH, AMQP_REPLY_SUCCESS);
      amqp_channel_close(mq->conn, CH_CONSUME, AMQP_REPLY_SUCCESS);
      amqp_connection_close(mq->conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(mq->conn);
  }
  free(mq->settled);
  free(mq);
}

int pq_mq_consume(struct pq_mq *mq, const char *queue_suffix, uint16_t prefetch) {
  char q[256];
  pq_mq_name(mq, queue_suffix, q, sizeof q);
  amqp_basic_qos(mq->conn, CH_CONSUME, 0, prefetch, 0);
  if (rpc_ok(mq, "basic.qos"))
    return PQ_ERR_BROKER;
  amqp_basic_consume(mq->conn, CH_CONSUME, amqp_cstring_bytes(q), amqp_cstring_bytes(queue_suffix),
                     0, 0, 0, amqp_empty_table);
  return rpc_ok(mq, q);
}

int pq_mq_queue_counts(struct pq_mq *mq, const char *queue_suffix, uint32_t *messages,
                       uint32_t *consumers) {
  char q[256];
  pq_mq_name(mq, queue_suffix, q, sizeof q);
  if (mq->broken)
    return PQ_ERR_BROKER;
  /* Passive: only asks; the queue exists (every program declares it). */
  amqp_queue_declare_ok_t *ok =
      amqp_queue_declare(mq->conn, CH_PUBLISH, amqp_cstring_bytes(q), 1, 0, 0, 0, amqp_empty_table);
  if (rpc_ok(mq, q) || !ok)
    return PQ_ERR_BROKER;
  if (messages)
    *messages = ok->message_count;
  if (consumers)
    *consumers = ok->consumer_count;
  return PQ_OK;
}

int pq_mq_consume_control(struct pq_mq *mq) {
  char x[256];
  pq_mq_name(mq, "control", x, sizeof x);
  /* Server-named, exclusive, auto-deleted: one per process, gone with it. */
  amqp_queue_declare_ok_t *ok =
      amqp_queue_declare(mq->conn, CH_CONSUME, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
  if (rpc_ok(mq, "control queue") || !ok)
    return PQ_ERR_BROKER;
  amqp_bytes_t q = amqp_bytes_malloc_dup(ok->queue);
  if (!q.bytes)
    return PQ_ERR_NOMEM;
  amqp_queue_bind(mq->conn, CH_CONSUME, q, amqp_cstring_bytes(x), amqp_empty_bytes,
                  amqp_empty_table);
  int rc = rpc_ok(mq, "control bind");
  if (rc == PQ_OK) {
    amqp_basic_consume(mq->conn, CH_CONSUME, q, amqp_cstring_bytes(PQ_CONSUMER_CONTROL), 0, 1, 1,
                       amqp_empty_table);
    rc = rpc_ok(mq, "control consume");
  }
  amqp_bytes_free(q);
  return rc;
}

int pq_mq_publish_control(struct pq_mq *mq, const char *body, uint64_t *seq) {
  struct pq_mq_props props = {0};
  props.type = PQ_MSG_TYPE_CONTROL;
  return pq_mq_publish(mq, "control", "", &props, body, strlen(body), seq);
}

int pq_mq_cancel_all(struct pq_mq *mq) {
  /* Consumer tags are the queue suffixes (see pq_mq_consume). */
  static const char *const tags[] = {"jobs", "qa", "ledger"};
  for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
    amqp_basic_cancel(mq->conn, CH_CONSUME, amqp_cstring_bytes(tags[i]));
    amqp_rpc_reply_t r = amqp_get_rpc_reply(mq->conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      /* A library error, or the broker closed the channel or connection:
       * either way nothing more can be asked on it; the caller reconnects. */
      mq->broken = 1;
      return PQ_ERR_BROKER;
    }
    /* cancelling an unknown tag is harmless for RabbitMQ (cancel-ok) */
  }
  return PQ_OK;
}

int pq_mq_publish(struct pq_mq *mq, const char *exchange_suffix, const char *routing_key,
                  const struct pq_mq_props *p, const void *body, size_t len, uint64_t *seq) {
  char x[256], expiration[32];
  amqp_basic_properties_t props;
  amqp_table_entry_t h[2];
  int nh = 0;
  if (mq->broken)
    return PQ_ERR_BROKER;
  memset(&props, 0, sizeof props);
  props._flags =
      AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.timestamp = (uint64_t)(pq_now_ms() / 1000);
  if (p && p->type) {
    props._flags |= AMQP_BASIC_TYPE_FLAG;
    props.type = amqp_cstring_bytes(p->type);
  }
  if (p && p->message_id) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = amqp_cstring_bytes(p->message_id);
  }
  if (p && p->expiration_ms > 0) {
    snprintf(expiration, sizeof expiration, "%ld", p->expiration_ms);
    props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    props.expiration = amqp_cstring_bytes(expiration);
  }
  if (p && p->attempt > 0) {
    h[nh].key = amqp_cstring_bytes(PQ_HDR_ATTEMPT);
    if (p->attempt <= INT32_MAX) {
      h[nh].value.kind = AMQP_FIELD_KIND_I32;
      h[nh++].value.value.i32 = (int32_t)p->attempt;
    } else { /* only a test sends one this large: it must reach the decoder whole */
      h[nh].value.kind = AMQP_FIELD_KIND_I64;
      h[nh++].value.value.i64 = p->attempt;
    }
  }
  if (p && p->park_reason) {
    h[nh].key = amqp_cstring_bytes(PQ_HDR_PARK_REASON);
    h[nh].value.kind = AMQP_FIELD_KIND_UTF8;
    h[nh++].value.value.bytes = amqp_cstring_bytes(p->park_reason);
  }
  if (nh) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers.num_entries = nh;
    props.headers.entries = h;
  }
  pq_mq_name(mq, exchange_suffix, x, sizeof x);
  amqp_bytes_t b = {len, (void *)body};
  int st = amqp_basic_publish(mq->conn, CH_PUBLISH, amqp_cstring_bytes(x),
                              amqp_cstring_bytes(routing_key), 0, 0, &props, b);
  if (st != AMQP_STATUS_OK) {
    pq_error("broker: publish to %s failed: %s", x, amqp_error_string2(st));
    mq->broken = 1;
    return PQ_ERR_BROKER;
  }
  if (seq)
    *seq = mq->next_seq;
  mq->next_seq++;
  return PQ_OK;
}

uint64_t pq_mq_unconfirmed(const struct pq_mq *mq) { return mq->next_seq - 1 - mq->confirmed; }

uint64_t pq_mq_confirmed_upto(const struct pq_mq *mq) { return mq->confirmed; }

/* Reads a header value as an integer, whatever integer kind the sender used. */
static int field_int(const amqp_field_value_t *v, long *out) {
  switch (v->kind) {
  case AMQP_FIELD_KIND_I8:
    *out = v->value.i8;
    return 1;
  case AMQP_FIELD_KIND_U8:
    *out = v->value.u8;
    return 1;
  case AMQP_FIELD_KIND_I16:
    *out = v->value.i16;
    return 1;
  case AMQP_FIELD_KIND_U16:
    *out = v->value.u16;
    return 1;
  case AMQP_FIELD_KIND_I32:
    *out = v->value.i32;
    return 1;
  case AMQP_FIELD_KIND_U32:
    *out = (long)v->value.u32;
    return 1;
  case AMQP_FIELD_KIND_I64:
    *out = (long)v->value.i64;
    return 1;
  case AMQP_FIELD_KIND_U64:
    *out = (long)v->value.u64;
    return 1;
  default:
    return 0;
  }
}

/* Copies an AMQP string into a bounded NUL-terminated buffer. */
static const char *bytes_str(amqp_bytes_t b, char *out, size_t outlen) {
  size_t n = b.len < outlen - 1 ? b.len : outlen - 1;
  if (n)
    memcpy(out, b.bytes, n);
  out[n] = '\0';
  return out;
}

/* Reads the rest of a delivered message (header + body frames, which follow
 * the method at once) and hands it to the handler. */
static int read_delivery(struct pq_mq *mq, amqp_channel_t ch, uint64_t tag, int redelivered,
                         amqp_bytes_t exchange, amqp_bytes_t rk, amqp_bytes_t ctag,
                         const struct pq_mq_handler *h) {
  amqp_message_t msg;
  amqp_rpc_reply_t r = amqp_read_message(mq->conn, ch, &msg, 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    char text[256];
    reply_text(r, text, sizeof text);
    pq_error("broker: reading a delivery failed: %s", text);
    mq->broken = 1;
    return PQ_ERR_BROKER;
  }
  char xbuf[256], rkbuf[256], tbuf[64], idbuf[512], ctbuf[64], park[1024] = "", death[64] = "";
  struct pq_mq_delivery d;
  memset(&d, 0, sizeof d);
  d.tag = tag;
  d.channel = ch;
  d.redelivered = redelivered;
  d.exchange = bytes_str(exchange, xbuf, sizeof xbuf);
  d.routing_key = bytes_str(rk, rkbuf, sizeof rkbuf);
  d.consumer_tag = bytes_str(ctag, ctbuf, sizeof ctbuf);
  amqp_basic_properties_t *p = &msg.properties;
  d.type = (p->_flags & AMQP_BASIC_TYPE_FLAG) ? bytes_str(p->type, tbuf, sizeof tbuf) : "";
  d.message_id =
      (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? bytes_str(p->message_id, idbuf, sizeof idbuf) : "";
  if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p->headers.num_entries; i++) {
      amqp_table_entry_t *e = &p->headers.entries[i];
      long v;
      if (e->key.len == strlen(PQ_HDR_ATTEMPT) &&
          memcmp(e->key.bytes, PQ_HDR_ATTEMPT, e->key.len) == 0 && field_int(&e->value, &v))
        d.attempt = v; /* whole: a cast here would turn 2^32 + 1 into 1 */
      else if (e->key.len == 16 && memcmp(e->key.bytes, "x-delivery-count", 16) == 0 &&
               field_int(&e->value, &v))
        d.delivery_count = v;
      else if (e->key.len == strlen(PQ_HDR_PARK_REASON) &&
               memcmp(e->key.bytes, PQ_HDR_PARK_REASON, e->key.len) == 0 &&
               e->value.kind == AMQP_FIELD_KIND_UTF8)
        bytes_str(e->value.value.bytes, park, sizeof park);
      else if (e->key.len == 20 && memcmp(e->key.bytes, "x-first-death-reason", 20) == 0 &&
               e->value.kind == AMQP_FIELD_KIND_UTF8)
        bytes_str(e->value.value.bytes, death, sizeof death);
    }
  }
  d.park_reason = park;
  d.death_reason = death;
  d.body = msg.body.bytes;
  d.len = msg.body.len;
  if (h && h->on_delivery)
    h->on_delivery(h->ctx, &d);
  else
    pq_warn("broker: delivery without a handler; it will be redelivered");
  amqp_destroy_message(&msg);
  return PQ_OK;
}

/* Records a confirm (ack or nack) of publish tag, or of every publish up to
 * tag when multiple; confirms may arrive out of order. */
static void settle(struct pq_mq *mq, uint64_t tag, int multiple) {
  if (tag <= mq->confirmed || tag >= mq->next_seq)
    return;
  size_t span = (size_t)(mq->next_seq - 1 - mq->confirmed);
  if (span > mq->settled_cap) {
    size_t cap = mq->settled_cap ? mq->settled_cap : 1024;
    while (cap < span)
      cap *= 2;
    unsigned char *p = realloc(mq->settled, cap);
    if (!p)
      return; /* the confirm is counted again when the next one arrives */
    memset(p + mq->settled_cap, 0, cap - mq->settled_cap);
    mq->settled = p;
    mq->settled_cap = cap;
  }
  size_t idx = (size_t)(tag - mq->confirmed - 1);
  if (multiple)
    memset(mq->settled, 1, idx + 1);
  else
    mq->settled[idx] = 1;
  size_t adv = 0;
  while (adv < span && mq->settled[adv])
    adv++;
  if (adv) {
    memmove(mq->settled, mq->settled + adv, mq->settled_cap - adv);
    memset(mq->settled + mq->settled_cap - adv, 0, adv);
    mq->confirmed += adv;
  }
}

/* Handles one frame. */
static int handle_frame(struct pq_mq *mq, amqp_frame_t *f, const struct pq_mq_handler *h) {
  if (f->frame_type != AMQP_FRAME_METHOD)
    return PQ_OK; /* stray header/body frames cannot happen outside read_delivery */
  switch (f->payload.method.id) {
  case AMQP_BASIC_DELIVER_METHOD: {
    amqp_basic_deliver_t *m = f->payload.method.decoded;
    return read_delivery(mq, f->channel, m->delivery_tag, m->redelivered, m->exchange,
                         m->routing_key, m->consumer_tag, h);
  }
  case AMQP_BASIC_ACK_METHOD: {
    amqp_basic_ack_t *m = f->payload.method.decoded;
    if (f->channel == CH_PUBLISH) {
      settle(mq, m->delivery_tag, m->multiple);
      if (h && h->on_confirm)
        h->on_confirm(h->ctx, m->delivery_tag, m->multiple, 1);
    }
    return PQ_OK;
  }
  case AMQP_BASIC_NACK_METHOD: {
    amqp_basic_nack_t *m = f->payload.method.decoded;
    if (f->channel == CH_PUBLISH) {
      mq->nacked = 1;
      settle(mq, m->delivery_tag, m->multiple);
      if (h && h->on_confirm)
        h->on_confirm(h->ctx, m->delivery_tag, m->multiple, 0);
    }
    return PQ_OK;
  }
  case AMQP_BASIC_CANCEL_METHOD:
    /* The broker cancelled our consumer (queue deleted, node down). */
    pq_error("broker: the server cancelled a consumer; reconnecting");
    mq->broken = 1;
    return PQ_ERR_BROKER;
  case AMQP_CHANNEL_CLOSE_METHOD: {
    amqp_channel_close_t *m = f->payload.method.decoded;
    pq_error("broker: channel %u closed by the server: %u %.*s", f->channel, m->reply_code,
             (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    mq->broken = 1;
    return PQ_ERR_BROKER;
  }
  case AMQP_CONNECTION_CLOSE_METHOD: {
    amqp_connection_close_t *m = f->payload.method.decoded;
    pq_error("broker: connection closed by the server: %u %.*s", m->reply_code,
             (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    mq->broken = 1;
    return PQ_ERR_BROKER;
  }
  case AMQP_CONNECTION_BLOCKED_METHOD:
    pq_warn("broker: connection blocked by the server (memory or disk alarm)");
    return PQ_OK;
  case AMQP_CONNECTION_UNBLOCKED_METHOD:
    pq_info("broker: connection unblocked");
    return PQ_OK;
  default:
    return PQ_OK;
  }
}

int pq_mq_pump(struct pq_mq *mq, int timeout_ms, const struct pq_mq_handler *h) {
  if (mq->broken)
    return PQ_ERR_BROKER;
  int first = 1;
  for (;;) {
    amqp_frame_t f;
    /* Wait only for the first frame; then drain what is already here. */
    struct timeval tv = {0, 0};
    if (first && timeout_ms > 0) {
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
    }
    first = 0;
    amqp_maybe_release_buffers(mq->conn);
    int st = amqp_simple_wait_frame_noblock(mq->conn, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT)
      return PQ_OK;
    if (st != AMQP_STATUS_OK) {
      pq_error("broker: connection lost: %s", amqp_error_string2(st));
      mq->broken = 1;
      return PQ_ERR_BROKER;
    }
    int rc = handle_frame(mq, &f, h);
    if (rc)
      return rc;
  }
}

int pq_mq_wait_confirms(struct pq_mq *mq, int timeout_ms, const struct pq_mq_handler *h) {
  int64_t deadline = pq_mono_ms() + timeout_ms;
  while (pq_mq_unconfirmed(mq) > 0) {
    int64_t left = deadline - pq_mono_ms();
    if (left <= 0)
      return PQ_ERR_TIMEOUT;
    int rc = pq_mq_pump(mq, left > 200 ? 200 : (int)left, h);
    if (rc)
      return rc;
  }
  if (mq->nacked) {
    mq->nacked = 0;
    return PQ_ERR_NACK;
  }
  return PQ_OK;
}

int pq_mq_ack(struct pq_mq *mq, uint64_t tag, int multiple) {
  if (mq->broken)
    return PQ_ERR_BROKER;
  if (amqp_basic_ack(mq->conn, CH_CONSUME, tag, multiple) != AMQP_STATUS_OK) {
    mq->broken = 1;
    return PQ_ERR_BROKER;
  }
  return PQ_OK;
}

int pq_mq_nack(struct pq_mq *mq, uint64_t tag, int requeue) {
  if (mq->broken)
    return PQ_ERR_BROKER;
  if (amqp_basic_nack(mq->conn, CH_CONSUME, tag, 0, requeue) != AMQP_STATUS_OK) {
    mq->broken = 1;
    return PQ_ERR_BROKER;
  }
  return PQ_OK;
}

int pq_mq_get(struct pq_mq *mq, const char *queue_suffix, const struct pq_mq_handler *h, int *got) {
  char q[256];
  *got = 0;
  pq_mq_name(mq, queue_suffix, q, sizeof q);
  amqp_rpc_reply_t r = amqp_basic_get(mq->conn, CH_CONSUME, amqp_cstring_bytes(q), 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    char text[256];
    reply_text(r, text, sizeof text);
    pq_error("broker: basic.get on %s failed: %s", q, text);
    mq->broken = 1;
    return PQ_ERR_BROKER;
  }
  if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
    return PQ_OK;
  amqp_basic_get_ok_t *m = r.reply.decoded;
  *got = 1;
  return read_delivery(mq, CH_CONSUME, m->delivery_tag, m->redelivered, m->exchange, m->routing_key,
                       amqp_cstring_bytes(""), h);
}

int pq_mq_fd(const struct pq_mq *mq) {
  return mq && mq->conn && !mq->broken ? amqp_get_sockfd(mq->conn) : -1;
}

int pq_mq_has_buffered(const struct pq_mq *mq) {
  return amqp_data_in_buffer(mq->conn) || amqp_frames_enqueued(mq->conn);
}

int pq_mq_next_timeout_ms(const struct pq_mq *mq) {
  /* rabbitmq-c sends heartbeats from inside its calls; waking at a quarter of
   * the interval keeps us well inside the broker's 2-interval allowance. */
  if (mq->heartbeat_s <= 0)
    return 1000;
  int ms = mq->heartbeat_s * 250;
  return ms < 1000 ? ms : 1000;
}
