/* paperq-producer: reads harvested paper records and publishes one job per
 * paper to RabbitMQ with publisher confirms, plus a job.queued event for the
 * ledger. Exit codes: 0 everything accepted was queued (rejects alone are not
 * a failure), 1 broker or runtime error, 2 usage or configuration error. */
#include "harvest.h"
#include "idset.h"

#include "paperq/config.h"
#include "paperq/event.h"
#include "paperq/job.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/record.h"
#include "paperq/util.h"

#include "db.h"
#include "query.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void usage(FILE *out) {
  fprintf(out,
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
          "Example: paperq-producer --input tests/fixtures/sample.jsonl --limit 50\n"
          "`paperq-producer harvest --help` tells about harvesting from the Internet Archive.\n");
}

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

/* After a lost connection: connects to the next node of broker.url (a few
 * passes over the list, backing off) and publishes the unconfirmed window
 * again. PQ_OK, or PQ_ERR_BROKER when no node took it. */
static int fail_over(const struct pq_config *cfg, struct pq_mq **mq, struct window *w,
                     struct stats *st) {
  char err[2048];
  long backoff_ms = 500;
  pq_mq_close(*mq);
  *mq = NULL;
  pq_warn("lost the broker connection with %zu papers not yet confirmed; reconnecting to publish "
          "them again (a paper queued twice is stored once)",
          w->n);
  for (int t = 0; t < RECONNECT_TRIES && !stop_requested; t++) {
    if (pq_mq_open(cfg, "paperq-producer", mq, err, sizeof err) == PQ_OK) {
      int rc = PQ_OK;
      for (size_t i = 0; i < w->n && rc == PQ_OK; i++) {
        size_t bytes;
        rc = publish_record(*mq, w->recs[i], &bytes);
      }
      if (rc == PQ_OK)
        rc = pq_mq_wait_confirms(*mq, CONFIRM_TIMEOUT_MS, NULL);
      if (rc == PQ_OK) {
        st->republished += (long)w->n;
        pq_info("published %zu papers again after the failover", w->n);
        window_clear(w);
        return PQ_OK;
      }
      if (rc != PQ_ERR_BROKER)
        return rc; /* a nack or a timeout is not a lost connection */
      pq_mq_close(*mq);
      *mq = NULL;
    } else {
      pq_warn("%s; retrying in %ld ms", err, backoff_ms);
    }
    usleep((useconds_t)backoff_ms * 1000);
    backoff_ms = backoff_ms * 2 > cfg->broker.reconnect_max_s * 1000L
                     ? cfg->broker.reconnect_max_s * 1000L
                     : backoff_ms * 2;
  }
  return PQ_ERR_BROKER;
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

int main(int argc, char **argv) {
  const char *inputs[MAX_INPUTS];
  int ninputs = 0, nyears = 0, print_config = 0, force = 0;
  long limit = -1, years[MAX_YEARS];
  const char *config_path = NULL;
  static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                       {"limit", required_argument, NULL, 'n'},
                                       {"years", required_argument, NULL, 'y'},
                                       {"config", required_argument, NULL, 'c'},
                                       {"force", no_argument, NULL, 'f'},
                                       {"print-config", no_argument, NULL, 'P'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  pq_log_init("producer");
  if (argc > 1 && strcmp(argv[1], "harvest") == 0)
    return producer_harvest(argc - 1, argv + 1);
  int c;
  while ((c = getopt_long(argc, argv, "i:n:y:c:hV", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      if (ninputs == MAX_INPUTS) {
        fprintf(stderr, "paperq-producer: at most %d --input files\n", MAX_INPUTS);
        return 2;
      }
      inputs[ninputs++] = optarg;
      break;
    case 'n':
      if (pq_parse_long(optarg, 0, 1000000000L, &limit) != PQ_OK) {
        fprintf(stderr, "paperq-producer: --limit \"%s\": expected a number >= 0\n", optarg);
        return 2;
      }
      break;
    case 'y': {
      char *list = strdup(optarg), *save = NULL;
      if (!list)
        return 1;
      for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nyears == MAX_YEARS || pq_parse_long(tok, 1000, 9999, &years[nyears]) != PQ_OK) {
          fprintf(stderr, "paperq-producer: --years \"%s\": expected years like 2024,2025\n",
                  optarg);
          free(list);
          return 2;
        }
        nyears++;
      }
      free(list);
      break;
    }
    case 'c':
      config_path = optarg;
      break;
    case 'f':
      force = 1;
      break;
    case 'P':
      print_config = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("paperq-producer %s\n", PAPERQ_VERSION);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "paperq-producer: unexpected argument \"%s\" (inputs go after --input)\n",
            argv[optind]);
    return 2;
  }

  struct pq_config cfg;
  char err[2048];
  int early = pq_config_for_main("paperq-producer", config_path, print_config, &cfg);
  if (early >= 0)
    return early;
  if (ninputs == 0) {
    fprintf(stderr, "paperq-producer: no input; give --input FILE (see --help)\n");
    pq_config_free(&cfg);
    return 2;
  }

  struct pq_record_limits lim = {(size_t)cfg.limits.max_record_bytes,
                                 (size_t)cfg.limits.max_title_bytes,
                                 (size_t)cfg.limits.max_abstract_bytes};
  struct pq_record_reader *readers[MAX_INPUTS] = {0};
  struct pq_mq *mq = NULL;
  struct stats st = {0};
  struct idset seen = {0};
  struct window win = {0};
  struct ledger_db *ledger = NULL;
  int rc = 2;

  /* Every input must open before anything is published. */
  for (int i = 0; i < ninputs; i++) {
    if (pq_record_reader_open(inputs[i], &lim, &readers[i], err, sizeof err) != PQ_OK) {
      fprintf(stderr, "paperq-producer: %s\n", err);
      goto cleanup;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);

  rc = 1;
  if (pq_mq_open(&cfg, "paperq-producer", &mq, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-producer: %s\n", err);
    goto cleanup;
  }
  if (!force)
    ledger = open_ledger(cfg.ledger.db);

  int broker_failed = 0;
  for (int i = 0; i < ninputs && !broker_failed && !stop_requested; i++) {
    for (;;) {
      if (limit >= 0 && st.queued >= limit)
        break;
      if (stop_requested)
        break;
      cJSON *rec = NULL;
      char where[512];
      int r = pq_record_reader_next(readers[i], &rec, where, sizeof where, err, sizeof err);
      if (r == PQ_ERR_PARSE) {
        fprintf(stderr, "%s: %s\n", where, err);
        st.rejected++;
        continue;
      }
      if (r != PQ_OK) {
        fprintf(stderr, "paperq-producer: %s\n", err);
        broker_failed = 1; /* not the broker, but equally fatal for this run */
        break;
      }
      if (!rec)
        break;
      const char *id = cJSON_GetObjectItemCaseSensitive(rec, "id")->valuestring;
      if (!year_ok(rec, years, nyears)) {
        st.skipped_year++;
      } else if (idset_add(&seen, id) == 0) {
        fprintf(stderr, "%s: paper %s: duplicate of an earlier record in this run; skipped\n",
                where, id);
        st.skipped_dup++;
      } else if (ledger_knows(ledger, id)) {
        st.skipped_known++;
      } else {
        size_t bytes = 0;
        int prc = publish_record(mq, rec, &bytes);
        if (window_add(&win, rec, bytes) != PQ_OK) {
          broker_failed = 1;
        } else {
          rec = NULL; /* the window owns it until its publish is confirmed */
          if (prc == PQ_ERR_BROKER)
            prc = fail_over(&cfg, &mq, &win, &st);
          if (prc != PQ_OK)
            broker_failed = 1;
        }
        if (!broker_failed) {
          st.queued++;
          if (pq_mq_unconfirmed(mq) >= CONFIRM_WINDOW || win.bytes >= CONFIRM_WINDOW_BYTES) {
            int w = pq_mq_wait_confirms(mq, CONFIRM_TIMEOUT_MS, NULL);
            if (w == PQ_ERR_BROKER)
              w = fail_over(&cfg, &mq, &win, &st);
            if (w != PQ_OK)
              broker_failed = 1;
            else
              window_clear(&win);
          }
          if (st.queued % 1000 == 0)
            pq_info("queued %ld papers so far", st.queued);
        }
      }
      cJSON_Delete(rec);
      if (broker_failed)
        break;
    }
  }
  if (!broker_failed) {
    int w = pq_mq_wait_confirms(mq, CONFIRM_TIMEOUT_MS, NULL);
    if (w == PQ_ERR_BROKER)
      w = fail_over(&cfg, &mq, &win, &st);
    if (w != PQ_OK) {
      fprintf(stderr, "paperq-producer: the broker did not confirm every job (%s)\n",
              w == PQ_ERR_NACK      ? "nack"
              : w == PQ_ERR_TIMEOUT ? "timeout"
                                    : "connection lost");
      broker_failed = 1;
    }
  }
  printf("queued %ld, rejected %ld", st.queued, st.rejected);
  if (st.skipped_known)
    printf(", skipped %ld already in the ledger (--force queues them again)", st.skipped_known);
  if (st.skipped_year)
    printf(", skipped %ld outside --years", st.skipped_year);
  if (st.skipped_dup)
    printf(", skipped %ld duplicates", st.skipped_dup);
  if (st.republished)
    printf(", %ld published again after a broker failover", st.republished);
  printf("\n");
  if (broker_failed) {
    fprintf(stderr, "paperq-producer: stopped early; run the same command again: papers the ledger "
                    "already has are skipped\n");
    rc = 1;
  } else {
    rc = stop_requested ? 1 : 0;
  }
cleanup:
  window_clear(&win);
  free(win.recs);
  ledger_db_close(ledger);
  idset_free(&seen);
  pq_mq_close(mq);
  for (int i = 0; i < ninputs; i++)
    pq_record_reader_close(readers[i]);
  pq_config_free(&cfg);
  return rc;
}
