/* paperq-ledger: arguments, signals, config and exit codes. The work is in
 * one file per subcommand (see ledger.h). */
#include "ledger.h"
#include "site.h"

#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "  serve                       record outcome events from RabbitMQ (runs until SIGTERM)\n"
    "  report [--json]             progress, rate, ETA, cost, workers, QA, success metrics\n"
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
    "  --config FILE               config file (default: $PAPERQ_CONFIG, else\n"
    "                              config/paperq.conf); PAPERQ_<GROUP>_<KEY> overrides a key\n"
    "  --print-config              print the effective configuration (secrets masked)\n"
    "  --version                   print the version\n"
    "  --help                      this text\n"
    "\n"
    "examples:\n"
    "  paperq-ledger serve\n"
    "  paperq-ledger report\n"
    "  paperq-ledger report --json | jq .papers\n"
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

static const struct command {
  const char *name;
  int options;
  int positional; /* 1: takes PAPER_ID */
} commands[] = {
    {"serve", 0, 0},
    {"report", OPT_JSON, 0},
    {"show", OPT_JSON, 1},
    {"failed", OPT_JSON, 0},
    {"export", OPT_OUT | OPT_MARKDOWN | OPT_SITE, 0},
    {"requeue", OPT_PARKED | OPT_PAPER | OPT_QA_BELOW | OPT_FALLBACK, 0},
    {"qa", OPT_PAPER, 0},
};

static const char *const option_names[] = {"--json",  "--out",      "--markdown", "--parked",
                                           "--paper", "--qa-below", "--fallback", "--site"};

struct args {
  const char *config;
  int help, version, print_config;
  const struct command *cmd;
  const char *positional;
  int given; /* OPT_* seen */
  int json, markdown, fallback;
  const char *out, *site;
  struct ledger_requeue_opts requeue;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "paperq-ledger: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see paperq-ledger --help)\n");
  va_end(ap);
  return LEDGER_EXIT_USAGE;
}

/* Takes the value of an option given as "--opt VALUE" or "--opt=VALUE". */
static const char *value_of(int argc, char **argv, int *i, const char *name) {
  size_t n = strlen(name);
  if (argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (*i + 1 < argc)
    return argv[++*i];
  return NULL;
}

static int is_opt(const char *arg, const char *name) {
  size_t n = strlen(name);
  return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int parse(int argc, char **argv, struct args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *v;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      a->help = 1;
    } else if (strcmp(arg, "--version") == 0) {
      a->version = 1;
    } else if (strcmp(arg, "--print-config") == 0) {
      a->print_config = 1;
    } else if (is_opt(arg, "--config")) {
      if (!(a->config = value_of(argc, argv, &i, "--config")))
        return usage_error("--config needs a file name");
    } else if (strcmp(arg, "--json") == 0) {
      a->given |= OPT_JSON;
      a->json = 1;
    } else if (strcmp(arg, "--markdown") == 0) {
      a->given |= OPT_MARKDOWN;
      a->markdown = 1;
    } else if (strcmp(arg, "--parked") == 0) {
      a->given |= OPT_PARKED;
      a->requeue.parked = 1;
    } else if (is_opt(arg, "--out")) {
      a->given |= OPT_OUT;
      if (!(a->out = value_of(argc, argv, &i, "--out")) || !a->out[0])
        return usage_error("--out needs a directory");
    } else if (is_opt(arg, "--site")) {
      a->given |= OPT_SITE;
      if (!(a->site = value_of(argc, argv, &i, "--site")) || !a->site[0])
        return usage_error("--site needs a directory");
    } else if (is_opt(arg, "--paper")) {
      a->given |= OPT_PAPER;
      if (!(a->requeue.paper_id = value_of(argc, argv, &i, "--paper")) || !a->requeue.paper_id[0])
        return usage_error("--paper needs a paper id");
    } else if (strcmp(arg, "--fallback") == 0) {
      a->given |= OPT_FALLBACK;
      a->fallback = 1;
    } else if (is_opt(arg, "--qa-below")) {
      a->given |= OPT_QA_BELOW;
      v = value_of(argc, argv, &i, "--qa-below");
      if (!v || pq_parse_double(v, 0, 10, &a->requeue.qa_below) != PQ_OK)
        return usage_error("--qa-below needs a score from 0 to 10, not \"%s\"", v ? v : "");
      a->requeue.qa_below_set = 1;
    } else if (arg[0] == '-' && arg[1]) {
      return usage_error("unknown option %s", arg);
    } else if (!a->cmd) {
      for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(arg, commands[c].name) == 0)
          a->cmd = &commands[c];
      if (!a->cmd)
        return usage_error("unknown command \"%s\"", arg);
    } else if (a->cmd->positional && !a->positional) {
      a->positional = arg;
    } else {
      return usage_error("unexpected argument \"%s\"", arg);
    }
  }
  if (a->help || a->version || a->print_config)
    return LEDGER_EXIT_OK;
  if (!a->cmd)
    return usage_error("a command is needed: serve, report, show, failed, export, requeue or qa");
  for (int bit = 0; bit < 8; bit++)
    if ((a->given & (1 << bit)) && !(a->cmd->options & (1 << bit))) {
      fprintf(stderr, "paperq-ledger: %s does not apply to %s (see paperq-ledger --help)\n",
              option_names[bit], a->cmd->name);
      return LEDGER_EXIT_USAGE;
    }
  const char *name = a->cmd->name;
  if (strcmp(name, "show") == 0 && !a->positional)
    return usage_error("show needs a paper id: paperq-ledger show PAPER_ID");
  if (strcmp(name, "export") == 0 && !a->out == !a->site)
    return usage_error("export needs --out DIR or --site DIR");
  if (strcmp(name, "export") == 0 && a->site && a->markdown)
    return usage_error("--markdown goes with --out, not --site");
  if (strcmp(name, "requeue") == 0 && a->requeue.parked == a->requeue.qa_below_set)
    return usage_error("requeue needs exactly one of --parked or --qa-below X");
  if (strcmp(name, "qa") == 0 && !a->requeue.paper_id)
    return usage_error("qa needs --paper ID");
  return LEDGER_EXIT_OK;
}

int main(int argc, char **argv) {
  struct args a;
  struct pq_config cfg;
  int rc = parse(argc, argv, &a);
  if (rc)
    return rc;
  if (a.help) {
    fputs(usage, stdout);
    return LEDGER_EXIT_OK;
  }
  if (a.version) {
    printf("paperq-ledger %s\n", PAPERQ_VERSION);
    return LEDGER_EXIT_OK;
  }
  pq_log_init("ledger");
  /* A config error stops here, before anything is opened or connected. */
  int early = pq_config_for_main("paperq-ledger", a.config, a.print_config, &cfg);
  if (early >= 0)
    return early; /* 0 (LEDGER_EXIT_OK) after --print-config, 2 (LEDGER_EXIT_USAGE) */

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
  else if (strcmp(name, "report") == 0)
    rc = ledger_report_cmd(&cfg, a.json);
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
    rc = LEDGER_EXIT_USAGE;
  } else if (strcmp(name, "requeue") == 0) {
    if (a.fallback)
      a.requeue.model = cfg.translate.fallback_model;
    rc = ledger_requeue(&cfg, &a.requeue);
  } else
    rc = ledger_qa_request(&cfg, a.requeue.paper_id);
  pq_config_free(&cfg);
  return rc;
}
