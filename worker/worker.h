/* The worker process: the state its event loop (loop.c) and the job
 * lifecycle (lifecycle.c) share. Job kinds never see it: they get the
 * work_env inside (work.h). */
#ifndef WORKER_WORKER_H
#define WORKER_WORKER_H

#include "http.h"
#include "metrics.h"
#include "retry.h"
#include "work.h"

#include <stdint.h>

struct pq_config;
struct pq_mq;
struct pq_glossary;
struct paper;

struct worker {
  const struct pq_config *cfg;
  struct pq_mq *mq;
  struct http *http;
  struct work_env env;          /* what job kinds see (worker_env_init) */
  char id[128];                 /* host:pid, shown in the ledger */
  struct pq_glossary *glossary; /* NULL when translate.glossary is "" */
  struct retry_policy retry;
  struct paper *papers;              /* every paper in flight, newest first */
  struct paper *papers_tail;         /* the oldest */
  struct paper *started_cursor;      /* oldest paper not yet considered for job.started */
  struct paper *pub_head, *pub_tail; /* PUBLISHING papers, oldest publish first */
  int in_flight;
  long done, failed, parked, handed_back;
  int64_t started_ms, last_activity_ms, last_heartbeat_ms, drain_deadline_ms;
  /* The fleet's size is asked of the broker (loop.c, poll_fleet): joined is
   * when this worker (re)joined it, by connecting or stepping back in. */
  int64_t joined_ms, fleet_polled_ms, fleet_floor_until_ms;
  int fleet_peak, fleet_now;  /* the most consumers seen at once; the last count */
  int64_t consuming_since_ms; /* the idle clocks start no earlier than this */
  int consuming, draining;
  int stepped_out; /* idle: consumers cancelled so the fleet's rate goes to busy workers */
  int paused;      /* a control broadcast (budget) stopped new work */
  int fatal;       /* a fleet-fatal provider error was seen */
  char fatal_error[512];
  struct worker_metrics metrics; /* /metrics (worker.metrics_listen); loop.c keeps it current */
};

/* Fills w->env from w->cfg, w->http and w->glossary (set those first). */
void worker_env_init(struct worker *w);

/* Runs until SIGTERM, idle exit or a fatal provider error; returns the
 * process exit code. */
int worker_run(struct worker *w);

#endif
