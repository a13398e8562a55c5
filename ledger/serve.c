/* `paperq-ledger serve`: consumes P.ledger into the database. Deliveries
 * are applied in one transaction per batch; the batch commits when it is
 * full or the queue has been quiet for FLUSH_IDLE_MS, and only then is it
 * acked (multiple, up to its last tag). A crash before the commit loses
 * nothing: the unacked messages come back and duplicates are ignored by
 * event id. */
#include "budget.h"
#include "db.h"
#include "ledger.h"
#include "metrics.h"

#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define FLUSH_IDLE_MS 50       /* commit a partial batch after this long without a delivery */
#define PUMP_MAX_MS 500        /* longest wait for frames: heartbeats and SIGTERM stay prompt */
#define PROGRESS_EVERY_MS 5000 /* progress line period while papers move */
#define QUIET_EVERY_MS 60000   /* ... and while only heartbeats and the like arrive */

struct serve {
  const struct pq_config *cfg;
  struct ledger_db *db;
  struct pq_mq *mq;
  struct ledger_budget budget;
  int batch;                   /* ledger.batch */
  int pending;                 /* applied in the open transaction, not yet acked */
  uint64_t last_tag;           /* delivery tag of the newest pending message */
  int64_t last_delivery;       /* monotonic ms of the newest delivery */
  int db_failed;               /* the database refused a write: stop */
  long long applied, bad, dup; /* since start */
  long long window;            /* messages since the last progress line */
  int64_t window_start;
  long long last_papers, last_done; /* paper counts at the last progress line */
};

/* Commits the open batch, then acks it. A commit failure is fatal for the
 * process (db_failed); an ack failure means the broker is gone: the rows are
 * committed, and the redelivered copies will be recognised. */
static int flush(struct serve *s) {
  if (s->pending == 0)
    return PQ_OK;
  if (ledger_db_commit(s->db) != PQ_OK) {
    s->db_failed = 1;
    return PQ_ERR_IO;
  }
  int rc = PQ_OK;
  if (s->mq)
    rc = pq_mq_ack(s->mq, s->last_tag, 1);
  s->pending = 0;
  int brc = ledger_budget_check(s->db, s->cfg, s->mq, &s->budget);
  if (brc == PQ_ERR_IO)
    s->db_failed = 1;
  return rc;
}

static void on_delivery(void *ctx, const struct pq_mq_delivery *d) {
  struct serve *s = ctx;
  if (s->db_failed)
    return; /* left unacked: it comes back after we exit */
  struct ledger_msg m = {0};
  m.type = d->type;
  m.message_id = d->message_id;
  m.body = d->body;
  m.len = d->len;
  m.park_reason = d->park_reason;
  m.death_reason = d->death_reason;
  m.attempt = d->attempt;
  m.delivery_count = d->delivery_count;
  m.received_ms = pq_now_ms();
  enum ledger_outcome out;
  if (ledger_db_apply(s->db, &m, &out) != PQ_OK) {
    pq_error("ledger db %s: applying a message failed; rolling back the batch and stopping "
             "(the broker keeps every unacked message)",
             s->cfg->ledger.db);
    ledger_db_rollback(s->db);
    s->pending = 0;
    s->db_failed = 1;
    return;
  }
  s->applied++;
  s->window++;
  s->bad += out == LEDGER_BAD;
  s->dup += out == LEDGER_DUPLICATE;
  s->pending++;
  s->last_tag = d->tag;
  s->last_delivery = pq_mono_ms();
  if (s->pending >= s->batch)
    flush(s);
}

static void progress(struct serve *s, int force) {
  int64_t now = pq_mono_ms();
  int64_t span = now - s->window_start;
  struct ledger_counters c;
  if (!force && (span < PROGRESS_EVERY_MS || s->window == 0))
    return;
  if (ledger_db_counters(s->db, &c) != PQ_OK)
    return;
  long long papers = c.n[LC_PAPERS];
  long long done = c.n[LC_STATE0 + LEDGER_SUCCEEDED] + c.n[LC_STATE0 + LEDGER_PARKED];
  /* Heartbeats keep arriving on an idle fleet: say so once a minute, not
   * every few seconds. */
  if (!force && papers == s->last_papers && done == s->last_done && span < QUIET_EVERY_MS)
    return;
  pq_info("applied %lld messages in %.1f s (%.0f/s); papers %lld: %lld succeeded, %lld parked, "
          "%lld to go; $%.4f spent; %lld duplicates, %lld bad since start",
          s->window, (double)span / 1000, span > 0 ? (double)s->window * 1000 / (double)span : 0,
          papers, c.n[LC_STATE0 + LEDGER_SUCCEEDED], c.n[LC_STATE0 + LEDGER_PARKED],
          c.n[LC_STATE0 + LEDGER_QUEUED] + c.n[LC_STATE0 + LEDGER_RUNNING] +
              c.n[LC_STATE0 + LEDGER_RETRYING],
          c.x[LC_COST_TRANSLATE] + c.x[LC_COST_QA], s->dup, s->bad);
  s->last_papers = papers;
  s->last_done = done;
  s->window = 0;
  s->window_start = now;
}

/* Sleeps ms in short steps so SIGTERM is not kept waiting. */
static void nap(int64_t ms) {
  int64_t until = pq_mono_ms() + ms;
  while (!ledger_stop && pq_mono_ms() < until) {
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* One broker session: consume until SIGTERM (PQ_OK), a lost connection
 * (PQ_ERR_BROKER) or a database failure (PQ_ERR_IO). */
static int session(struct serve *s, const struct pq_mq_handler *h) {
  long prefetch = (long)s->batch * 2;
  if (prefetch > 65535)
    prefetch = 65535;
  if (pq_mq_consume(s->mq, "ledger", (uint16_t)prefetch) != PQ_OK)
    return PQ_ERR_BROKER;
  char q[256];
  pq_info("consuming %s (batch %d, prefetch %ld) into %s", pq_mq_name(s->mq, "ledger", q, sizeof q),
          s->batch, prefetch, s->cfg->ledger.db);
  /* A budget stop recorded before a restart is broadcast again at once; a
   * raised budget resumes the fleet. */
  if (ledger_budget_check(s->db, s->cfg, s->mq, &s->budget) == PQ_ERR_IO)
    return PQ_ERR_IO;
  while (!ledger_stop) {
    int timeout = PUMP_MAX_MS;
    int hb = pq_mq_next_timeout_ms(s->mq);
    if (hb < timeout)
      timeout = hb;
    if (s->pending) {
      int64_t left = s->last_delivery + FLUSH_IDLE_MS - pq_mono_ms();
      timeout = left < 1 ? 1 : (left < timeout ? (int)left : timeout);
    }
    int rc = pq_mq_pump(s->mq, timeout, h);
    if (s->db_failed)
      return PQ_ERR_IO;
    if (s->pending && pq_mono_ms() - s->last_delivery >= FLUSH_IDLE_MS && flush(s) != PQ_OK)
      return s->db_failed ? PQ_ERR_IO : PQ_ERR_BROKER;
    if (s->db_failed)
      return PQ_ERR_IO;
    if (rc != PQ_OK)
      return PQ_ERR_BROKER;
    if (!s->pending && s->budget.stopped)
      ledger_budget_check(s->db, s->cfg, s->mq, &s->budget); /* repeats the pause */
    progress(s, 0);
  }
  return PQ_OK;
}

int ledger_serve(const struct pq_config *cfg) {
  struct serve s;
  struct ledger_metrics *metrics = NULL;
  char err[1024];
  int rc = PQ_EXIT_RUNTIME;
  memset(&s, 0, sizeof s);
  s.cfg = cfg;
  s.batch = cfg->ledger.batch;
  s.window_start = pq_mono_ms();
  if (ledger_db_open(cfg->ledger.db, LEDGER_DB_CREATE, &s.db, err, sizeof err) != PQ_OK) {
    pq_error("%s", err);
    goto cleanup;
  }
  /* After the open: the file and its schema exist for the metrics' own
   * read-only connection. */
  if (ledger_metrics_start(cfg, &metrics) != PQ_OK)
    goto cleanup;
  struct pq_mq_handler h = {&s, on_delivery, NULL};
  int64_t backoff_ms = 1000;
  int64_t max_ms = (int64_t)cfg->broker.reconnect_max_s * 1000;
  while (!ledger_stop) {
    if (pq_mq_open(cfg, "paperq-ledger", &s.mq, err, sizeof err) != PQ_OK) {
      pq_warn("%s; retrying in %.0f s", err, (double)backoff_ms / 1000);
      nap(backoff_ms);
      backoff_ms = backoff_ms * 2 > max_ms ? max_ms : backoff_ms * 2;
      continue;
    }
    int src = session(&s, &h);
    /* Whatever ended the session, applied rows are worth keeping: commit
     * them (acking is only possible on a live connection; without it the
     * broker redelivers them and they are recognised as duplicates). */
    if (src != PQ_ERR_IO && s.pending) {
      int frc = flush(&s);
      if (frc == PQ_ERR_IO)
        src = PQ_ERR_IO;
      else if (frc != PQ_OK)
        pq_warn("the last batch is committed but its ack was lost with the connection; the "
                "broker will redeliver it and the copies will be ignored");
    }
    progress(&s, s.window > 0);
    pq_mq_close(s.mq);
    s.mq = NULL;
    if (src == PQ_ERR_IO) {
      pq_error("stopping: the ledger database %s cannot be written (disk full? locked by another "
               "program?); unacked messages stay in the queue for the next start",
               cfg->ledger.db);
      goto cleanup;
    }
    if (src == PQ_ERR_BROKER && !ledger_stop) {
      backoff_ms = 1000;
      pq_warn("lost the broker connection; reconnecting in %.0f s", (double)backoff_ms / 1000);
      nap(backoff_ms);
    }
  }
  pq_info("stopping on signal: %lld messages applied since start, all committed", s.applied);
  rc = PQ_EXIT_OK;
cleanup:
  ledger_metrics_stop(metrics);
  pq_mq_close(s.mq);
  ledger_db_close(s.db);
  return rc;
}
