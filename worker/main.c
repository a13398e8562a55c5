/* paperq-worker: consumes translation jobs and translates them through an
 * OpenAI-compatible chat-completions API. Exit codes (enum pq_exit): 0 stopped by SIGTERM
 * or idle timeout, 1 broker unreachable, 2 usage or configuration error,
 * 3 fatal provider error (bad key, no credit, unknown model). */
#include "paperq/cli.h"
#include "paperq/config.h"
#include "paperq/glossary.h"
#include "paperq/log.h"
#include "paperq/util.h"
#include "worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "paperq-worker"

volatile sig_atomic_t worker_stop_requested;

static void on_signal(int sig) {
  (void)sig;
  worker_stop_requested = 1;
}

static const char usage[] =
    "usage: paperq-worker [options]\n"
    "\n"
    "Consumes translation jobs from RabbitMQ and translates each paper through an\n"
    "OpenAI-compatible chat-completions API, checking every output; outcomes go to\n"
    "the ledger. Run as many as you like; each keeps worker.concurrency papers in\n"
    "flight.\n"
    "\n"
    "  -c, --config FILE    configuration (default $PAPERQ_CONFIG or config/paperq.conf)\n"
    "      --print-config   print the effective configuration (secrets masked) and exit\n"
    "  -h, --help           this help\n"
    "  -V, --version        print the version\n"
    "\n"
    "The API key is read from the variable named by translate.api_key_env\n"
    "(default OPENROUTER_API_KEY). With translate.provider = \"dry-run\" no request\n"
    "is made and results are marked as dry run.\n"
    "\n"
    "Metrics: with worker.metrics_listen (PAPERQ_WORKER_METRICS_LISTEN) set to\n"
    "host:port, GET /metrics there answers in the Prometheus text format: papers in\n"
    "flight, HTTP requests by outcome, 429s, the adaptive limit, request latency,\n"
    "AMQP reconnects (the fleet's totals are the ledger's: ledger.metrics_listen).\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop taking papers, finish or hand back those in\n"
    "flight, exit 0.\n"
    "Exit codes: 0 stopped, 1 broker unreachable, 2 configuration error,\n"
    "3 fatal provider error (HTTP 401/402/403 or unknown model): nothing was\n"
    "parked; fix the key/model/credit and start the worker again.\n"
    "Example: PAPERQ_WORKER_CONCURRENCY=64 paperq-worker\n"
    "         PAPERQ_WORKER_METRICS_LISTEN=0.0.0.0:9465 paperq-worker\n";

int main(int argc, char **argv) {
  struct pq_cli cli = {0};
  char err[2048];
  pq_log_init("worker");
  for (int i = 1; i < argc; i++) {
    int r = pq_cli_shared(argc, argv, &i, &cli, err, sizeof err);
    if (r < 0)
      return pq_cli_usage_error(PROGRAM, "%s", err);
    if (r == 0 && argv[i][0] == '-' && argv[i][1])
      return pq_cli_usage_error(PROGRAM, "unknown option %s", argv[i]);
    if (r == 0)
      return pq_cli_usage_error(PROGRAM, "unexpected argument \"%s\"", argv[i]);
  }
  struct pq_config cfg;
  int early = pq_cli_start(PROGRAM, &cli, usage, &cfg);
  if (early >= 0)
    return early;

  struct worker w;
  memset(&w, 0, sizeof w);
  w.cfg = &cfg;
  char host[64] = "host";
  gethostname(host, sizeof host - 1);
  snprintf(w.id, sizeof w.id, "%s:%d", host, (int)getpid());
  int dry_run = strcmp(cfg.translate.provider, "dry-run") == 0;
  if (!dry_run && !pq_config_secret(cfg.translate.api_key_env))
    pq_warn("$%s is not set: requests go without a key (fine for a local server; a real "
            "provider will answer 401 and the worker will stop)",
            cfg.translate.api_key_env);
  w.retry.max_attempts = cfg.retry.max_attempts;
  w.retry.jitter = cfg.retry.jitter;
  w.retry.ndelays = pq_config_delays(cfg.retry.delays_ms, w.retry.delays, PQ_RETRY_MAX_DELAYS);
  srand((unsigned)(time(NULL) ^ getpid()));
  if (dry_run)
    pq_warn("DRY RUN: translate.provider = \"dry-run\"; no LLM is called and results are marked "
            "dry_run in the ledger");
  /* Every request in flight is a socket: lift the soft descriptor limit
   * (often 1024) to the hard one so max_requests in the thousands works. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (rlim_t)cfg.worker.max_requests + 64 > rl.rlim_cur)
    pq_warn("worker.max_requests = %d but only %llu file descriptors are allowed; raise ulimit -n",
            cfg.worker.max_requests, (unsigned long long)rl.rlim_cur);
  int rc = PQ_EXIT_USAGE;
  if (cfg.translate.glossary[0]) {
    /* A relative path is relative to the config file, so the shipped
     * config finds the shipped glossary from any working directory. */
    char path[2048];
    const char *slash = strrchr(cfg.source, '/');
    if (cfg.translate.glossary[0] != '/' && slash)
      snprintf(path, sizeof path, "%.*s/%s", (int)(slash - cfg.source), cfg.source,
               cfg.translate.glossary);
    else
      snprintf(path, sizeof path, "%s", cfg.translate.glossary);
    if (pq_glossary_load(path, &w.glossary, err, sizeof err) != PQ_OK) {
      fprintf(stderr, "paperq-worker: translate.glossary: %s\n", err);
      goto cleanup;
    }
    pq_info("glossary %s: %zu terms", path, pq_glossary_count(w.glossary));
  }
  rc = PQ_EXIT_RUNTIME;
  if (http_new(&cfg, &w.http) != PQ_OK) {
    fprintf(stderr, "paperq-worker: cannot initialise libcurl\n");
    goto cleanup;
  }
  worker_env_init(&w);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (worker_metrics_start(&cfg, &w.metrics) != PQ_OK)
    goto cleanup; /* rc 1: the address is unusable */
  rc = worker_run(&w);
  worker_metrics_stop(&w.metrics);
cleanup:
  http_free(w.http);
  pq_glossary_free(w.glossary);
  pq_config_free(&cfg);
  return rc;
}
