/* paperq-producer: reads harvested paper records and publishes one job per
 * paper to RabbitMQ with publisher confirms, plus a job.queued event for the
 * ledger. Exit codes (enum pq_exit): 0 everything accepted was queued (rejects
 * alone are not a failure), 1 broker or runtime error, 2 usage or
 * configuration error. */
#include "harvest.h"
#include "idset.h"

#include "paperq/cli.h"
#include "paperq/config.h"
#include "paperq/event.h"
#include "paperq/job.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/record.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include "db.h"
#include "query.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRAM "paperq-producer"

#define MAX_INPUTS 64
#define MAX_YEARS 64
#define CONFIRM_WINDOW 2000              /* publishes in flight before waiting for confirms */
#define CONFIRM_WINDOW_BYTES (64L << 20) /* ... or this many job bytes, kept for a failover */
#define CONFIRM_TIMEOUT_MS 30000
#define RECONNECT_TRIES 5 /* passes over broker.url after a lost connection */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static const char usage[] =
    "usage: paperq-producer --input FILE [--input FILE...] [options]\n"
    "       paperq-producer harvest --out FILE [--years Y,Y] [--from DATE] [--limit N]\n"
    "\n"
    "Queues one translation job per paper record. FILE is JSON Lines (one record\n"
    "per line: id, title, abstract, authors, keywords, subjects, date, body...)\n"
    "or an Internet Archive harvest (a JSON array with id, title, creators,\n"
    "abstract, subjects, date, source_url, pdf_url, license).\n"
    "\n"
    "  -i, --input FILE     records to queue (repeatable)\n"
    "  -n, --limit N        queue at most N papers\n"
    "  -y, --years LIST     only papers from these years, e.g. 2024,2025\n"
    "      --force          queue papers the ledger already knows (default: skip them\n"
    "                       when the ledger database named by ledger.db is readable)\n"
    "  -c, --config FILE    configuration (default $PAPERQ_CONFIG or config/paperq.conf)\n"
    "      --print-config   print the effective configuration and exit\n"
    "  -h, --help           this help\n"
    "  -V, --version        print the version\n"
    "\n"
    "Bad records are reported on stderr as FILE:LINE: reason and skipped.\n"
    "Exit codes: 0 every accepted paper was queued (rejected records alone are not\n"
    "a failure), 1 broker, input or runtime error (run it again: papers already\n"
    "queued are skipped), 2 usage or configuration error (nothing was queued).\n"
    "Example: paperq-producer --input tests/fixtures/sample.jsonl --limit 50\n"
    "`paperq-producer harvest --help` tells about harvesting from the Internet Archive.\n";

struct stats {
  long queued, rejected, skipped_year, skipped_known, skipped_dup;
  long republished; /* published again on a new connection after one was lost */
};

/* The records published since every earlier publish was confirmed: after a
 * lost connection their fate is unknown, so they are published again on the
 * next node (a job queued twice is translated twice; the ledger keeps one
 * success per paper). */
struct window {
  cJSON **recs;
  size_t n, cap;
  long bytes; /* job bodies, roughly what the window holds in memory */
};

static int window_add(struct window *w, cJSON *rec, size_t bytes) {
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 256;
    cJSON **p = realloc(w->recs, cap * sizeof *p);
    if (!p)
      return PQ_ERR_NOMEM;
    w->recs = p;
    w->cap = cap;
  }
  w->recs[w->n++] = rec;
  w->bytes += (long)bytes;
  return PQ_OK;
}

static void window_clear(struct window *w) {
  for (size_t i = 0; i < w->n; i++)
    cJSON_Delete(w->recs[i]);
  w->n = 0;
  w->bytes = 0;
}

/* The ledger's database, opened read-only when it is on this machine, lets a
 * second run skip papers already queued or done instead of paying twice.
 * Without a readable ledger every paper is queued. */
static struct ledger_db *open_ledger(const char *path) {
  struct ledger_db *db = NULL;
  char err[1024];
  if (ledger_db_open(path, LEDGER_DB_READONLY, &db, err, sizeof err) != PQ_OK)
    return NULL;
  return db;
}

static int ledger_knows(struct ledger_db *db, const char *id) {
  int found, state;
  if (!db || ledger_query_state(db, id, &found, &state) != PQ_OK)
    return 0;
  return found && state != LEDGER_PARKED; /* parked papers are requeued by the ledger */
}

static int publish_record(struct pq_mq *mq, const cJSON *rec, size_t *bytes) {
  const char *id = cJSON_GetObjectItemCaseSensitive(rec, "id")->valuestring;
  size_t len;
  char *body = pq_job_encode(rec, 0, NULL, &len);
  *bytes = len;
  if (!body)
    return PQ_ERR_NOMEM;
  struct pq_mq_props props = {0};
  props.type = PQ_MSG_TYPE_JOB;
  props.message_id = id;
  props.attempt = 1;
  /* The ledger hears of the paper first, so it is "queued" before any
   * worker's "started" can arrive (the ledger tolerates either order). */
  cJSON *ev = pq_event_new("job.queued", id, 0, 0, NULL);
  int rc = PQ_ERR_NOMEM;
  if (ev) {
    const cJSON *origin = cJSON_GetObjectItemCaseSensitive(rec, "origin");
    cJSON_AddItemReferenceToObject(ev, "record", (cJSON *)rec);
    if (cJSON_IsString(origin))
      cJSON_AddStringToObject(ev, "origin", origin->valuestring);
    rc = pq_event_publish(mq, ev, NULL);
    cJSON_Delete(ev);
  }
  if (rc == PQ_OK)
    rc = pq_mq_publish(mq, "jobs", PQ_RK_JOB, &props, body, len, NULL);
  free(body);
  return rc;
}

static int year_ok(const cJSON *rec, const long *years, int nyears) {
  if (nyears == 0)
    return 1;
  const cJSON *y = cJSON_GetObjectItemCaseSensitive(rec, "year");
  if (!cJSON_IsNumber(y))
    return 0;
  for (int i = 0; i < nyears; i++)
    if ((long)y->valuedouble == years[i])
      return 1;
  return 0;
}

struct args {
  struct pq_cli cli;
  const char *inputs[MAX_INPUTS];
  int ninputs, nyears, force;
  long limit, years[MAX_YEARS];
};

/* Parses --years LIST into a->years. */
static int parse_years(const char *arg, struct args *a) {
  char *list = strdup(arg), *save = NULL;
  if (!list)
    return PQ_EXIT_RUNTIME;
  for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (a->nyears == MAX_YEARS || pq_parse_long(tok, 1000, 9999, &a->years[a->nyears]) != PQ_OK) {
      free(list);
      return pq_cli_usage_error(PROGRAM, "--years \"%s\": expected years like 2024,2025", arg);
    }
    a->nyears++;
  }
  free(list);
  return PQ_EXIT_OK;
}

static int parse(int argc, char **argv, struct args *a) {
  char err[256];
  memset(a, 0, sizeof *a);
  a->limit = -1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *v;
    int r, rc;
    if ((r = pq_cli_shared(argc, argv, &i, &a->cli, err, sizeof err)) != 0) {
      if (r < 0)
        return pq_cli_usage_error(PROGRAM, "%s", err);
    } else if ((r = pq_cli_value(argc, argv, &i, "input", 'i', &v)) != 0) {
      if (r < 0)
        return pq_cli_usage_error(PROGRAM, "--input needs a file name");
      if (a->ninputs == MAX_INPUTS) {
        fprintf(stderr, "paperq-producer: at most %d --input files\n", MAX_INPUTS);
        return PQ_EXIT_USAGE;
      }
      a->inputs[a->ninputs++] = v;
    } else if ((r = pq_cli_value(argc, argv, &i, "limit", 'n', &v)) != 0) {
      if (r < 0 || pq_parse_long(v, 0, 1000000000L, &a->limit) != PQ_OK) {
        fprintf(stderr, "paperq-producer: --limit \"%s\": expected a number >= 0\n", v ? v : "");
        return PQ_EXIT_USAGE;
      }
    } else if ((r = pq_cli_value(argc, argv, &i, "years", 'y', &v)) != 0) {
      if (r < 0)
        return pq_cli_usage_error(PROGRAM, "--years needs a list of years");
      if ((rc = parse_years(v, a)) != PQ_EXIT_OK)
        return rc;
    } else if (pq_cli_flag(arg, "force", 0)) {
      a->force = 1;
    } else if (arg[0] == '-' && arg[1]) {
      return pq_cli_usage_error(PROGRAM, "unknown option %s", arg);
    } else {
      fprintf(stderr, "paperq-producer: unexpected argument \"%s\" (inputs go after --input)\n",
              arg);
      return PQ_EXIT_USAGE;
    }
  }
  return PQ_EXIT_OK;
}

/* One run: where papers go, what is already known, what happened. */
struct run {
  const struct args *a;
  struct pq_mq *mq;
  struct ledger_db *ledger; /* NULL: --force, or no readable ledger */
  struct idset seen;
  struct stats st;
  const struct pq_config *cfg;
  struct window win; /* published, not yet confirmed */
};

/* After a lost connection: connects to the next node of broker.url (a few
 * passes over the list, backing off) and publishes the unconfirmed window
 * again. PQ_OK, or PQ_ERR_BROKER when no node took it. */
static int fail_over(struct run *run) {
  char err[2048];
  long backoff_ms = 500;
  struct window *w = &run->win;
  pq_mq_close(run->mq);
  run->mq = NULL;
  pq_warn("lost the broker connection with %zu papers not yet confirmed; reconnecting to publish "
          "them again (a paper queued twice is stored once)",
          w->n);
  for (int t = 0; t < RECONNECT_TRIES && !stop_requested; t++) {
    if (pq_mq_open(run->cfg, "paperq-producer", &run->mq, err, sizeof err) == PQ_OK) {
      int rc = PQ_OK;
      for (size_t i = 0; i < w->n && rc == PQ_OK; i++) {
        size_t bytes;
        rc = publish_record(run->mq, w->recs[i], &bytes);
      }
      if (rc == PQ_OK)
        rc = pq_mq_wait_confirms(run->mq, CONFIRM_TIMEOUT_MS, NULL);
      if (rc == PQ_OK) {
        run->st.republished += (long)w->n;
        pq_info("published %zu papers again after the failover", w->n);
        window_clear(w);
        return PQ_OK;
      }
      if (rc != PQ_ERR_BROKER)
        return rc; /* a nack or a timeout is not a lost connection */
      pq_mq_close(run->mq);
      run->mq = NULL;
    } else {
      pq_warn("%s; retrying in %ld ms", err, backoff_ms);
    }
    usleep((useconds_t)backoff_ms * 1000);
    backoff_ms = backoff_ms * 2 > run->cfg->broker.reconnect_max_s * 1000L
                     ? run->cfg->broker.reconnect_max_s * 1000L
                     : backoff_ms * 2;
  }
  return PQ_ERR_BROKER;
}

/* Waits for every confirm; a lost connection fails over. */
static int confirm_all(struct run *run) {
  int w = pq_mq_wait_confirms(run->mq, CONFIRM_TIMEOUT_MS, NULL);
  if (w == PQ_ERR_BROKER)
    w = fail_over(run);
  if (w == PQ_OK)
    window_clear(&run->win);
  return w;
}

/* Queues the papers of one input until it ends, --limit is reached or a
 * stop is requested. PQ_OK, or PQ_ERR_IO (the input became unreadable) or
 * PQ_ERR_BROKER (a publish or confirm failed); both end the run. */
static int queue_input(struct run *run, struct pq_record_reader *rd) {
  struct stats *st = &run->st;
  char err[2048], where[512];
  while (!(run->a->limit >= 0 && st->queued >= run->a->limit) && !stop_requested) {
    cJSON *rec = NULL;
    int r = pq_record_reader_next(rd, &rec, where, sizeof where, err, sizeof err);
    if (r == PQ_ERR_PARSE) {
      /* escaped: the reason may quote the input's text */
      fprintf(stderr, "%s: %s\n", pq_text_safe(where), pq_text_safe(err));
      st->rejected++;
      continue;
    }
    if (r != PQ_OK) {
      fprintf(stderr, "paperq-producer: %s\n", err);
      return PQ_ERR_IO;
    }
    if (!rec)
      return PQ_OK;
    const char *id = cJSON_GetObjectItemCaseSensitive(rec, "id")->valuestring;
    int rc = PQ_OK;
    if (!year_ok(rec, run->a->years, run->a->nyears)) {
      st->skipped_year++;
    } else if (idset_add(&run->seen, id) == 0) {
      fprintf(stderr, "%s: paper %s: duplicate of an earlier record in this run; skipped\n", where,
              id);
      st->skipped_dup++;
    } else if (ledger_knows(run->ledger, id)) {
      st->skipped_known++;
    } else {
      size_t bytes = 0;
      rc = publish_record(run->mq, rec, &bytes);
      if (window_add(&run->win, rec, bytes) != PQ_OK) {
        rc = PQ_ERR_NOMEM;
      } else {
        rec = NULL; /* the window owns it until its publish is confirmed */
        if (rc == PQ_ERR_BROKER)
          rc = fail_over(run);
      }
      if (rc == PQ_OK) {
        st->queued++;
        if (pq_mq_unconfirmed(run->mq) >= CONFIRM_WINDOW || run->win.bytes >= CONFIRM_WINDOW_BYTES)
          rc = confirm_all(run);
        if (st->queued % 1000 == 0)
          pq_info("queued %ld papers so far", st->queued);
      }
      if (rc != PQ_OK)
        rc = PQ_ERR_BROKER;
    }
    cJSON_Delete(rec);
    if (rc != PQ_OK)
      return rc;
  }
  return PQ_OK;
}

static void print_summary(const struct stats *st) {
  printf("queued %ld, rejected %ld", st->queued, st->rejected);
  if (st->skipped_known)
    printf(", skipped %ld already in the ledger (--force queues them again)", st->skipped_known);
  if (st->skipped_year)
    printf(", skipped %ld outside --years", st->skipped_year);
  if (st->skipped_dup)
    printf(", skipped %ld duplicates", st->skipped_dup);
  if (st->republished)
    printf(", %ld published again after a broker failover", st->republished);
  printf("\n");
}

int main(int argc, char **argv) {
  struct args a;
  pq_log_init("producer");
  if (argc > 1 && strcmp(argv[1], "harvest") == 0)
    return producer_harvest(argc - 1, argv + 1);
  int rc = parse(argc, argv, &a);
  if (rc != PQ_EXIT_OK)
    return rc;

  struct pq_config cfg;
  char err[2048];
  int early = pq_cli_start(PROGRAM, &a.cli, usage, &cfg);
  if (early >= 0)
    return early;
  if (a.ninputs == 0) {
    fprintf(stderr, "paperq-producer: no input; give --input FILE (see --help)\n");
    pq_config_free(&cfg);
    return PQ_EXIT_USAGE;
  }

  struct pq_record_limits lim = {(size_t)cfg.limits.max_record_bytes,
                                 (size_t)cfg.limits.max_title_bytes,
                                 (size_t)cfg.limits.max_abstract_bytes};
  struct pq_record_reader *readers[MAX_INPUTS] = {0};
  struct run run = {&a, NULL, NULL, {0}, {0}, &cfg, {0}};
  rc = PQ_EXIT_USAGE;

  /* Every input must open before anything is published. */
  for (int i = 0; i < a.ninputs; i++) {
    if (pq_record_reader_open(a.inputs[i], &lim, &readers[i], err, sizeof err) != PQ_OK) {
      fprintf(stderr, "paperq-producer: %s\n", err);
      goto cleanup;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);

  rc = PQ_EXIT_RUNTIME;
  if (pq_mq_open(&cfg, "paperq-producer", &run.mq, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-producer: %s\n", err);
    goto cleanup;
  }
  if (!a.force)
    run.ledger = open_ledger(cfg.ledger.db);

  /* An unreadable input is not the broker, but equally fatal for this run. */
  int failed = 0;
  for (int i = 0; i < a.ninputs && !failed && !stop_requested; i++)
    failed = queue_input(&run, readers[i]) != PQ_OK;
  if (!failed) {
    int w = confirm_all(&run);
    if (w != PQ_OK) {
      fprintf(stderr, "paperq-producer: the broker did not confirm every job (%s)\n",
              w == PQ_ERR_NACK      ? "nack"
              : w == PQ_ERR_TIMEOUT ? "timeout"
                                    : "connection lost");
      failed = 1;
    }
  }
  print_summary(&run.st);
  if (failed) {
    fprintf(stderr, "paperq-producer: stopped early; run the same command again: papers the ledger "
                    "already has are skipped\n");
    rc = PQ_EXIT_RUNTIME;
  } else {
    rc = stop_requested ? PQ_EXIT_RUNTIME : PQ_EXIT_OK;
  }
cleanup:
  window_clear(&run.win);
  free(run.win.recs);
  ledger_db_close(run.ledger);
  idset_free(&run.seen);
  pq_mq_close(run.mq);
  for (int i = 0; i < a.ninputs; i++)
    pq_record_reader_close(readers[i]);
  pq_config_free(&cfg);
  return rc;
}
