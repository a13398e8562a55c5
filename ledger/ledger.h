/* The paperq-ledger subcommands, one file per noun (serve.c, report.c,
 * show.c, failed.c, export.c, requeue.c). main.c parses the arguments and
 * turns what these return into the exit code. */
#ifndef PAPERQ_LEDGER_H
#define PAPERQ_LEDGER_H

#include "paperq/cli.h"

#include <signal.h>

struct pq_config;

/* Every command returns an exit code of enum pq_exit (paperq/cli.h):
 * PQ_EXIT_OK, PQ_EXIT_RUNTIME (broker, database, unknown paper) or
 * PQ_EXIT_USAGE (bad arguments or config; nothing was touched). */

/* Set by SIGTERM/SIGINT: serve commits, acks and returns. */
extern volatile sig_atomic_t ledger_stop;

/* Consumes P.ledger into the database until ledger_stop. */
int ledger_serve(const struct pq_config *cfg);

/* Prints the run report (human text, or the JSON object with json=1). */
int ledger_report_cmd(const struct pq_config *cfg, int json);

/* Redraws the run's progress every interval_s seconds on a terminal, or
 * prints one summary line per interval when stdout is not a terminal or
 * plain is set. Reads the database only. Runs until ledger_stop (exit 0) or
 * until stdout's reader goes away. */
int ledger_watch(const struct pq_config *cfg, double interval_s, int plain);

/* Writes the run report as one self-contained HTML page with inline SVG
 * charts to path (report_html.c). */
int ledger_report_html(const struct pq_config *cfg, const char *path);

/* One paper: state, attempts, errors, cost, checks, translation. */
int ledger_show(const struct pq_config *cfg, const char *paper_id, int json);

/* Parked papers with every attempt's error. */
int ledger_failed(const struct pq_config *cfg, int json);

/* DIR/<paper_id>.json (and .md when markdown) per succeeded paper. */
int ledger_export(const struct pq_config *cfg, const char *dir, int markdown);

struct ledger_requeue_opts {
  int parked;       /* select parked papers */
  int qa_below_set; /* select succeeded papers whose mean QA overall < qa_below */
  double qa_below;
  const char *paper_id; /* only this paper; NULL = every selected one */
  const char *model;    /* translate with this model instead (--fallback), or NULL */
};
/* Publishes a fresh job (generation + 1, attempt 1) for each selected paper,
 * marks it queued once the broker confirmed, and drops stale copies from
 * P.parked. */
int ledger_requeue(const struct pq_config *cfg, const struct ledger_requeue_opts *o);

/* Publishes a QA job for one succeeded paper (judged on demand). */
int ledger_qa_request(const struct pq_config *cfg, const char *paper_id);

#endif
