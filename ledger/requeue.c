/* `paperq-ledger requeue` and `paperq-ledger qa`: operator commands that
 * put work back on the broker from what the ledger stored. A requeued paper
 * gets a fresh job of the next generation (attempt 1) built from its stored
 * source record; the database says "queued" only after the broker confirmed
 * the job, so a failure half-way never leaves a paper waiting for a job that
 * does not exist. */
#include "db.h"
#include "ledger.h"
#include "query.h"

#include "paperq/config.h"
#include "paperq/job.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1000 /* publishes between two waits for confirms */
#define CONFIRM_TIMEOUT_MS 30000
#define SHOW_IDS 20 /* ids listed in the summary */

struct target {
  char *paper_id;
  long gen;     /* current generation; the new job is gen + 1 */
  char *record; /* stored source record (JSON) */
  uint64_t seq; /* publish number, 0 = not published */
  int settled, ok, marked;
};

struct requeue {
  struct target *t;
  size_t n;
  size_t first, end; /* the chunk waiting for confirms */
  struct pq_mq *mq;
  long drained, held;
  const char *model; /* --fallback: the model the new jobs ask for */
};

static void targets_free(struct requeue *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->t[i].paper_id);
    free(r->t[i].record);
  }
  free(r->t);
  r->t = NULL;
  r->n = 0;
}

static int cmp_target(const void *a, const void *b) {
  return strcmp(((const struct target *)a)->paper_id, ((const struct target *)b)->paper_id);
}

static void on_confirm(void *ctx, uint64_t seq, int multiple, int ok) {
  struct requeue *r = ctx;
  for (size_t i = r->first; i < r->end; i++) {
    struct target *t = &r->t[i];
    if (t->seq && !t->settled && (t->seq == seq || (multiple && t->seq <= seq))) {
      t->settled = 1;
      t->ok = ok;
    }
  }
}

/* A stale copy in P.parked of a paper just requeued is acked (dropped);
 * anything else stays unacked and returns to the queue when we disconnect. */
static void on_parked(void *ctx, const struct pq_mq_delivery *d) {
  struct requeue *r = ctx;
  struct pq_job job;
  char err[128];
  if (pq_job_decode(d->body, d->len, &job, err, sizeof err) == PQ_OK) {
    struct target key = {.paper_id = job.paper_id};
    struct target *t = bsearch(&key, r->t, r->n, sizeof *r->t, cmp_target);
    int stale = t && t->marked && job.gen <= t->gen;
    pq_job_free(&job);
    if (stale && pq_mq_ack(r->mq, d->tag, 0) == PQ_OK) {
      r->drained++;
      return;
    }
  }
  r->held++;
}

struct select {
  struct requeue *r;
  long no_source;
};

static int add_target(void *ctx, const struct ledger_source_row *row) {
  struct select *sel = ctx;
  struct requeue *r = sel->r;
  if (!row->record) {
    fprintf(stderr,
            "paperq-ledger: paper %s: no source record stored (its job.queued event never "
            "reached the ledger); queue it again with paperq-producer --force\n",
            row->paper_id);
    sel->no_source++;
    return PQ_OK;
  }
  struct target *t = realloc(r->t, (r->n + 1) * sizeof *t);
  if (!t)
    return PQ_ERR_NOMEM;
  r->t = t;
  t = &r->t[r->n];
  memset(t, 0, sizeof *t);
  t->paper_id = strdup(row->paper_id);
  t->record = strdup(row->record);
  t->gen = row->gen;
  r->n++;
  return t->paper_id && t->record ? PQ_OK : PQ_ERR_NOMEM;
}

/* Loads the papers to requeue, sorted by id. Explains on stderr and returns
 * PQ_EXIT_RUNTIME when --paper names a paper that does not qualify. */
static int select_targets(struct ledger_db *db, const struct ledger_requeue_opts *o,
                          struct requeue *r, long *no_source) {
  struct select sel = {r, 0};
  int rc = o->parked ? ledger_query_parked_sources(db, o->paper_id, add_target, &sel)
                     : ledger_query_low_qa_sources(db, o->qa_below, o->paper_id, add_target, &sel);
  *no_source = sel.no_source;
  if (rc != PQ_OK)
    return PQ_EXIT_RUNTIME;
  if (o->paper_id && r->n == 0 && *no_source == 0) {
    /* Say why the paper named does not qualify. */
    int found, state;
    if (ledger_query_state(db, o->paper_id, &found, &state) != PQ_OK)
      return PQ_EXIT_RUNTIME;
    if (!found)
      fprintf(stderr, "paperq-ledger: no paper %s in %s\n", o->paper_id, ledger_db_path(db));
    else if (o->parked)
      fprintf(stderr, "paperq-ledger: paper %s is %s, not parked; nothing requeued\n", o->paper_id,
              ledger_state_name(state));
    else
      fprintf(stderr,
              "paperq-ledger: paper %s (%s) has no current QA mean below %g; nothing requeued\n",
              o->paper_id, ledger_state_name(state), o->qa_below);
    return PQ_EXIT_RUNTIME;
  }
  return PQ_EXIT_OK;
}

/* Publishes targets [first, end) and waits for their confirms. */
static int publish_chunk(struct pq_mq *mq, struct requeue *r, const struct pq_mq_handler *h) {
  for (size_t i = r->first; i < r->end; i++) {
    struct target *t = &r->t[i];
    cJSON *record = cJSON_Parse(t->record);
    size_t len = 0;
    char *body = cJSON_IsObject(record)
                     ? pq_job_encode_model(record, (int)(t->gen + 1), NULL, r->model, &len)
                     : NULL;
    cJSON_Delete(record);
    if (!body) {
      fprintf(stderr, "paperq-ledger: paper %s: its stored record is not a JSON object; skipped\n",
              t->paper_id);
      t->settled = 1;
      continue;
    }
    struct pq_mq_props props = {0};
    props.type = PQ_MSG_TYPE_JOB;
    props.message_id = t->paper_id;
    props.attempt = 1; /* a fresh attempt budget */
    int rc = pq_mq_publish(mq, "jobs", PQ_RK_JOB, &props, body, len, &t->seq);
    free(body);
    if (rc != PQ_OK)
      return rc;
  }
  int rc = pq_mq_wait_confirms(mq, CONFIRM_TIMEOUT_MS, h);
  return rc == PQ_ERR_NACK ? PQ_OK : rc; /* nacked ones are reported one by one */
}

int ledger_requeue(const struct pq_config *cfg, const struct ledger_requeue_opts *o) {
  struct ledger_db *db = NULL;
  struct pq_mq *mq = NULL;
  struct requeue r;
  char err[1024], q[256];
  long no_source = 0, marked = 0, failed = 0;
  int rc = PQ_EXIT_RUNTIME;
  memset(&r, 0, sizeof r);
  r.model = o->model;
  if (ledger_db_open(cfg->ledger.db, 0, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if ((rc = select_targets(db, o, &r, &no_source)) != PQ_EXIT_OK)
    goto cleanup;
  rc = PQ_EXIT_RUNTIME;
  if (r.n == 0) {
    if (o->parked)
      printf("nothing to requeue: no parked papers%s\n", no_source ? " with a stored record" : "");
    else
      printf("nothing to requeue: no succeeded paper has a mean QA overall below %g\n",
             o->qa_below);
    rc = no_source ? PQ_EXIT_RUNTIME : PQ_EXIT_OK;
    goto cleanup;
  }
  qsort(r.t, r.n, sizeof *r.t, cmp_target); /* for bsearch while draining */
  if (pq_mq_open(cfg, "paperq-ledger requeue", &mq, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  struct pq_mq_handler h = {&r, NULL, on_confirm};
  for (r.first = 0; r.first < r.n; r.first = r.end) {
    r.end = r.first + CHUNK < r.n ? r.first + CHUNK : r.n;
    int prc = publish_chunk(mq, &r, &h);
    /* Whatever was confirmed is marked, even when the rest failed. */
    for (size_t i = r.first; i < r.end; i++) {
      struct target *t = &r.t[i];
      if (!t->settled || !t->ok)
        continue;
      int mrc = ledger_db_requeued(db, t->paper_id, t->gen + 1);
      if (mrc == PQ_OK || mrc == PQ_ERR_PARSE) {
        /* PQ_ERR_PARSE: events of the new job got there first. */
        t->marked = 1;
        marked++;
      } else {
        ledger_db_rollback(db);
        fprintf(stderr, "paperq-ledger: cannot record the requeue in %s\n", cfg->ledger.db);
        goto cleanup;
      }
    }
    if (ledger_db_commit(db) != PQ_OK) {
      fprintf(stderr, "paperq-ledger: cannot record the requeue in %s\n", cfg->ledger.db);
      goto cleanup;
    }
    if (prc != PQ_OK) {
      fprintf(stderr,
              "paperq-ledger: the broker did not confirm every job (%s); the papers "
              "not confirmed keep their state, run the command again\n",
              prc == PQ_ERR_TIMEOUT ? "timeout" : "connection lost");
      break;
    }
  }
  for (size_t i = 0; i < r.n; i++)
    if (!r.t[i].marked) {
      failed++;
      fprintf(stderr,
              "paperq-ledger: paper %s was not requeued (refused or not confirmed by "
              "the broker)\n",
              r.t[i].paper_id);
    }
  if (o->parked && marked > 0) {
    /* P.parked keeps a copy of every parked job for inspection; the copies
     * of papers just requeued are stale now. */
    struct pq_mq_handler dh = {&r, on_parked, NULL};
    r.mq = mq;
    for (long n = 0; n < 10000000; n++) {
      int got = 0;
      if (pq_mq_get(mq, "parked", &dh, &got) != PQ_OK || !got)
        break;
    }
  }
  printf("requeued %ld paper%s with a fresh attempt budget (next generation):", marked,
         marked == 1 ? "" : "s");
  long shown = 0;
  for (size_t i = 0; i < r.n && shown < SHOW_IDS; i++)
    if (r.t[i].marked) {
      printf(" %s", r.t[i].paper_id);
      shown++;
    }
  if (marked > shown)
    printf(" ... and %ld more", marked - shown);
  printf("\n");
  if (o->parked)
    printf("removed %ld stale cop%s from %s\n", r.drained, r.drained == 1 ? "y" : "ies",
           pq_mq_name(mq, "parked", q, sizeof q));
  if (o->qa_below_set && marked > 0)
    printf("their judgements stay in the ledger as history; the new translations are judged "
           "if sampled (qa.sample_rate) or with paperq-ledger qa --paper ID\n");
  rc = failed || no_source ? PQ_EXIT_RUNTIME : PQ_EXIT_OK;
cleanup:
  pq_mq_close(mq); /* held P.parked messages return to the queue */
  ledger_db_close(db);
  targets_free(&r);
  return rc;
}

/* The paper's source record and current translation, parsed. */
struct qa_source {
  const char *paper_id;
  int gen;
  cJSON *record, *doc;
};

static int read_current(void *ctx, const struct ledger_current_row *row) {
  struct qa_source *q = ctx;
  q->gen = (int)row->gen;
  if (!row->state || strcmp(row->state, "succeeded") != 0) {
    fprintf(stderr, "paperq-ledger: paper %s is %s: only a succeeded paper can be judged\n",
            q->paper_id, row->state ? row->state : "?");
    return PQ_ERR_PARSE;
  }
  q->record = row->record ? cJSON_Parse(row->record) : NULL;
  q->doc = row->doc ? cJSON_Parse(row->doc) : NULL;
  return PQ_OK;
}

int ledger_qa_request(const struct pq_config *cfg, const char *paper_id) {
  struct ledger_db *db = NULL;
  struct pq_mq *mq = NULL;
  struct qa_source q = {paper_id, 0, NULL, NULL};
  char *body = NULL, err[1024], qname[256];
  int found = 0, rc = PQ_EXIT_RUNTIME;
  if (ledger_db_open(cfg->ledger.db, 0, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if (ledger_query_current(db, paper_id, read_current, &q, &found) != PQ_OK)
    goto cleanup;
  if (!found) {
    fprintf(stderr, "paperq-ledger: no paper %s in %s\n", paper_id, cfg->ledger.db);
    goto cleanup;
  }
  if (!cJSON_IsObject(q.record) || !cJSON_IsObject(q.doc)) {
    fprintf(stderr, "paperq-ledger: paper %s: the ledger lacks its %s\n", paper_id,
            cJSON_IsObject(q.record) ? "translation" : "source record");
    goto cleanup;
  }
  size_t len = 0;
  if (!(body = pq_job_encode_qa(q.record, q.gen, q.doc, NULL, &len))) {
    fprintf(stderr, "paperq-ledger: out of memory\n");
    goto cleanup;
  }
  if (!cfg->qa.judges[0])
    fprintf(stderr, "paperq-ledger: warning: qa.judges is empty here; only workers configured "
                    "with judges (PAPERQ_QA_JUDGES) take QA jobs\n");
  if (pq_mq_open(cfg, "paperq-ledger qa", &mq, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  struct pq_mq_props props = {0};
  props.type = PQ_MSG_TYPE_QA;
  props.message_id = paper_id;
  props.attempt = 1;
  if (pq_mq_publish(mq, "jobs", PQ_RK_QA, &props, body, len, NULL) != PQ_OK ||
      pq_mq_wait_confirms(mq, CONFIRM_TIMEOUT_MS, NULL) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: the broker did not confirm the QA job for %s\n", paper_id);
    goto cleanup;
  }
  printf("queued a QA job for %s on %s; `paperq-ledger show %s` lists the judgements as they "
         "arrive\n",
         paper_id, pq_mq_name(mq, "qa", qname, sizeof qname), paper_id);
  rc = PQ_EXIT_OK;
cleanup:
  cJSON_Delete(q.record);
  cJSON_Delete(q.doc);
  free(body);
  pq_mq_close(mq);
  ledger_db_close(db);
  return rc;
}
