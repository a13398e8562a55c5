/* paperq-ledger: arguments, signals, config and exit codes. The work is in
 * one file per subcommand (see ledger.h). */
#include "ledger.h"
#include "site.h"

#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "paperq-ledger"

volatile sig_atomic_t ledger_stop;

static void on_signal(int sig) {
  (void)sig;
  ledger_stop = 1;
}

static const char usage[] =
    "paperq-ledger: records what the paperq fleet did in SQLite (ledger.db) and answers\n"
    "questions about the run. Only `serve` and `requeue`/`qa` talk to RabbitMQ.\n"
    "\n"
    "usage: paperq-ledger [--config FILE] COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  serve                       record outcome events from RabbitMQ (runs until SIGTERM);\n"
    "                              with ledger.metrics_listen (PAPERQ_LEDGER_METRICS_LISTEN)\n"
    "                              = host:port it serves the fleet's Prometheus /metrics\n"
    "  report [--json]             progress, rate, ETA, cost, workers, QA, success metrics\n"
    "  report --html FILE          the same as one self-contained HTML page with charts\n"
    "                              (progress, throughput, spend, QA, failures, slowest)\n"

    "  watch [--interval S] [--plain]\n"
    "                              live view, redrawn every S seconds (default 2): progress,\n"
    "                              rate, ETA, spend, workers, recent completions, failures,\n"
    "                              QA; one line per interval when piped or with --plain;\n"
    "                              reads the database only; Ctrl-C or SIGTERM ends it\n"
    "  show PAPER_ID [--json]      one paper: state, attempts and errors, cost, translation\n"
    "  failed [--json]             parked papers with every attempt's error\n"
    "  export --out DIR [--markdown]\n"
    "                              write DIR/<paper_id>.json (and a bilingual .md) for each\n"
    "                              succeeded paper\n"
    "  export --site DIR           a static site of the succeeded papers with search, to open\n"
    "                              from disk or publish (KaTeX, MiniSearch: site.assets_dir)\n"
    "  requeue --parked [--paper ID]\n"
    "                              send parked papers back with a fresh attempt budget\n"
    "  requeue --qa-below X [--paper ID] [--fallback]\n"
    "                              translate again succeeded papers whose mean QA overall\n"
    "                              score is below X (their old judgements stay as history);\n"
    "                              --fallback: with translate.fallback_model\n"
    "  qa --paper ID               ask the judges for a judgement of one succeeded paper\n"
    "\n"
    "options:\n"
    "  -c, --config FILE           config file (default: $PAPERQ_CONFIG, else\n"
    "                              config/paperq.conf); PAPERQ_<GROUP>_<KEY> overrides a key\n"
    "  --print-config              print the effective configuration (secrets masked)\n"
    "  -V, --version               print the version\n"
    "  -h, --help                  this text\n"
    "\n"
    "examples:\n"
    "  paperq-ledger serve\n"
    "  paperq-ledger report\n"
    "  paperq-ledger report --json | jq .papers\n"
    "  paperq-ledger report --html run.html\n"

    "  paperq-ledger watch\n"
    "  paperq-ledger watch --interval 10 --plain >> progress.log\n"
    "  PAPERQ_LEDGER_METRICS_LISTEN=127.0.0.1:9464 paperq-ledger serve\n"

    "  paperq-ledger show chinaxiv-201601.00051\n"
    "  paperq-ledger failed\n"
    "  paperq-ledger requeue --parked\n"
    "  paperq-ledger requeue --parked --paper chinaxiv-201601.00051\n"
    "  paperq-ledger requeue --qa-below 7\n"
    "  paperq-ledger export --out translations --markdown\n"
    "  paperq-ledger export --site site && xdg-open site/index.html\n"
    "  PAPERQ_LEDGER_DB=/data/ledger.db paperq-ledger report\n"
    "\n"
    "exit codes: 0 ok; 1 runtime error (broker, database, unknown paper);\n"
    "            2 usage or config error (nothing was touched)\n";

/* Which options each command takes. */
#define OPT_JSON 1
#define OPT_OUT 2
#define OPT_MARKDOWN 4
#define OPT_PARKED 8
#define OPT_PAPER 16
#define OPT_QA_BELOW 32
#define OPT_FALLBACK 64
#define OPT_SITE 128
#define OPT_HTML 256
#define OPT_INTERVAL 512
#define OPT_PLAIN 1024

static const struct command {
  const char *name;
  int options;
  int positional; /* 1: takes PAPER_ID */
} commands[] = {
    {"serve", 0, 0},
    {"report", OPT_JSON | OPT_HTML, 0},
    {"watch", OPT_INTERVAL | OPT_PLAIN, 0},
    {"show", OPT_JSON, 1},
    {"failed", OPT_JSON, 0},
    {"export", OPT_OUT | OPT_MARKDOWN | OPT_SITE, 0},
    {"requeue", OPT_PARKED | OPT_PAPER | OPT_QA_BELOW | OPT_FALLBACK, 0},
    {"qa", OPT_PAPER, 0},
};

static const char *const option_names[] = {"--json",  "--out",      "--markdown", "--parked",
                                           "--paper", "--qa-below", "--fallback", "--site",
                                           "--html",  "--interval", "--plain"};
#define NOPTIONS (int)(sizeof option_names / sizeof option_names[0])

struct args {
  struct pq_cli cli; /* --config, --print-config, --help, --version */
  const struct command *cmd;
  const char *positional;
  int given; /* OPT_* seen */
  int json, markdown, fallback;
  const char *out, *site;
  const char *html;  /* report --html FILE */
  double interval_s; /* watch --interval */
  int plain;         /* watch --plain */
  struct ledger_requeue_opts requeue;
};

static int parse(int argc, char **argv, struct args *a) {
  char err[256];
  memset(a, 0, sizeof *a);
  a->interval_s = 2;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *v;
    int r, shared = pq_cli_shared(argc, argv, &i, &a->cli, err, sizeof err);
    if (shared < 0) {
      return pq_cli_usage_error(PROGRAM, "%s", err);
    } else if (shared > 0) {
      continue;
    } else if (strcmp(arg, "--json") == 0) {
      a->given |= OPT_JSON;
      a->json = 1;
    } else if (strcmp(arg, "--markdown") == 0) {
      a->given |= OPT_MARKDOWN;
      a->markdown = 1;
    } else if (strcmp(arg, "--parked") == 0) {
      a->given |= OPT_PARKED;
      a->requeue.parked = 1;
    } else if ((r = pq_cli_value(argc, argv, &i, "out", 0, &a->out)) != 0) {
      a->given |= OPT_OUT;
      if (r < 0 || !a->out[0])
        return pq_cli_usage_error(PROGRAM, "--out needs a directory");
    } else if ((r = pq_cli_value(argc, argv, &i, "site", 0, &a->site)) != 0) {
      a->given |= OPT_SITE;
      if (r < 0 || !a->site[0])
        return pq_cli_usage_error(PROGRAM, "--site needs a directory");
    } else if ((r = pq_cli_value(argc, argv, &i, "paper", 0, &a->requeue.paper_id)) != 0) {
      a->given |= OPT_PAPER;
      if (r < 0 || !a->requeue.paper_id[0])
        return pq_cli_usage_error(PROGRAM, "--paper needs a paper id");
    } else if ((r = pq_cli_value(argc, argv, &i, "html", 0, &a->html)) != 0) {
      a->given |= OPT_HTML;
      if (r < 0 || !a->html[0])
        return pq_cli_usage_error(PROGRAM, "--html needs a file name");
    } else if ((r = pq_cli_value(argc, argv, &i, "interval", 0, &v)) != 0) {
      a->given |= OPT_INTERVAL;
      if (r < 0 || pq_parse_double(v, 0.1, 3600, &a->interval_s) != PQ_OK)
        return pq_cli_usage_error(PROGRAM, "--interval needs seconds from 0.1 to 3600, not \"%s\"",
                                  r < 0 ? "" : v);
    } else if (strcmp(arg, "--plain") == 0) {
      a->given |= OPT_PLAIN;
      a->plain = 1;
    } else if (strcmp(arg, "--fallback") == 0) {
      a->given |= OPT_FALLBACK;
      a->fallback = 1;
    } else if ((r = pq_cli_value(argc, argv, &i, "qa-below", 0, &v)) != 0) {
      a->given |= OPT_QA_BELOW;
      if (r < 0 || pq_parse_double(v, 0, 10, &a->requeue.qa_below) != PQ_OK)
        return pq_cli_usage_error(PROGRAM, "--qa-below needs a score from 0 to 10, not \"%s\"",
                                  v ? v : "");
      a->requeue.qa_below_set = 1;
    } else if (arg[0] == '-' && arg[1]) {
      return pq_cli_usage_error(PROGRAM, "unknown option %s", arg);
    } else if (!a->cmd) {
      for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(arg, commands[c].name) == 0)
          a->cmd = &commands[c];
      if (!a->cmd)
        return pq_cli_usage_error(PROGRAM, "unknown command \"%s\"", arg);
    } else if (a->cmd->positional && !a->positional) {
      a->positional = arg;
    } else {
      return pq_cli_usage_error(PROGRAM, "unexpected argument \"%s\"", arg);
    }
  }
  if (a->cli.help || a->cli.version || a->cli.print_config)
    return PQ_EXIT_OK;
  if (!a->cmd)
    return pq_cli_usage_error(
        PROGRAM, "a command is needed: serve, report, watch, show, failed, export, requeue or qa");
  for (int bit = 0; bit < NOPTIONS; bit++)
    if ((a->given & (1 << bit)) && !(a->cmd->options & (1 << bit))) {
      fprintf(stderr, "paperq-ledger: %s does not apply to %s (see paperq-ledger --help)\n",
              option_names[bit], a->cmd->name);
      return PQ_EXIT_USAGE;
    }
  const char *name = a->cmd->name;
  if (strcmp(name, "show") == 0 && !a->positional)
    return pq_cli_usage_error(PROGRAM, "show needs a paper id: paperq-ledger show PAPER_ID");
  if (strcmp(name, "report") == 0 && a->json && a->html)
    return pq_cli_usage_error(PROGRAM, "report takes --json or --html, not both");
  if (strcmp(name, "export") == 0 && !a->out == !a->site)
    return pq_cli_usage_error(PROGRAM, "export needs --out DIR or --site DIR");
  if (strcmp(name, "export") == 0 && a->site && a->markdown)
    return pq_cli_usage_error(PROGRAM, "--markdown goes with --out, not --site");
  if (strcmp(name, "requeue") == 0 && a->requeue.parked == a->requeue.qa_below_set)
    return pq_cli_usage_error(PROGRAM, "requeue needs exactly one of --parked or --qa-below X");
  if (strcmp(name, "qa") == 0 && !a->requeue.paper_id)
    return pq_cli_usage_error(PROGRAM, "qa needs --paper ID");
  return PQ_EXIT_OK;
}

int main(int argc, char **argv) {
  struct args a;
  struct pq_config cfg;
  int rc = parse(argc, argv, &a);
  if (rc)
    return rc;
  if (!a.cli.help && !a.cli.version)
    pq_log_init("ledger");
  /* Help, version and config errors stop here, before anything is opened or
   * connected. */
  int early = pq_cli_start(PROGRAM, &a.cli, usage, &cfg);
  if (early >= 0)
    return early;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a closed stdout or socket is an error return, not a death */

  const char *name = a.cmd->name;
  if (strcmp(name, "serve") == 0)
    rc = ledger_serve(&cfg);
  else if (strcmp(name, "report") == 0 && a.html)
    rc = ledger_report_html(&cfg, a.html);
  else if (strcmp(name, "report") == 0)
    rc = ledger_report_cmd(&cfg, a.json);
  else if (strcmp(name, "watch") == 0)
    rc = ledger_watch(&cfg, a.interval_s, a.plain);
  else if (strcmp(name, "show") == 0)
    rc = ledger_show(&cfg, a.positional, a.json);
  else if (strcmp(name, "failed") == 0)
    rc = ledger_failed(&cfg, a.json);
  else if (strcmp(name, "export") == 0 && a.site)
    rc = ledger_site(&cfg, a.site);
  else if (strcmp(name, "export") == 0)
    rc = ledger_export(&cfg, a.out, a.markdown);
  else if (strcmp(name, "requeue") == 0 && a.fallback && !cfg.translate.fallback_model[0]) {
    fprintf(stderr, "paperq-ledger: --fallback needs translate.fallback_model "
                    "(PAPERQ_TRANSLATE_FALLBACK_MODEL) to be set\n");
    rc = PQ_EXIT_USAGE;
  } else if (strcmp(name, "requeue") == 0) {
    if (a.fallback)
      a.requeue.model = cfg.translate.fallback_model;
    rc = ledger_requeue(&cfg, &a.requeue);
  } else
    rc = ledger_qa_request(&cfg, a.requeue.paper_id);
  pq_config_free(&cfg);
  return rc;
}
