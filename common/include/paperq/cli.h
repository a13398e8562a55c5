/* The command line the three programs share: their exit codes, and the
 * options every one of them takes (--config FILE, --print-config, --help,
 * --version), parsed here once. Each main() parses its own options around
 * pq_cli_shared and hands the result to pq_cli_start. */
#ifndef PAPERQ_CLI_H
#define PAPERQ_CLI_H

#include <stddef.h>

struct pq_config;

/* Exit codes of paperq-producer, paperq-worker and paperq-ledger. */
enum pq_exit {
  PQ_EXIT_OK = 0,             /* done; stopped by SIGTERM; --help, --version, --print-config */
  PQ_EXIT_RUNTIME = 1,        /* broker, database or input error at run time */
  PQ_EXIT_USAGE = 2,          /* bad arguments or configuration; nothing was touched */
  PQ_EXIT_FATAL_PROVIDER = 3, /* worker: the provider refused the key, credit or model */
};

/* The shared options as given. Strings are borrowed from argv. */
struct pq_cli {
  const char *config; /* --config FILE, -c FILE, --config=FILE; NULL: the default */
  int print_config;   /* --print-config */
  int help;           /* --help, -h */
  int version;        /* --version, -V */
};

/* Looks at argv[*i]. One of the shared options: records it in cli, moves *i
 * past its value and returns 1. Anything else: returns 0, *i unchanged.
 * --config without a file name: returns -1 with the reason in err. */
int pq_cli_shared(int argc, char **argv, int *i, struct pq_cli *cli, char *err, size_t errlen);

/* A program option with a value: argv[*i] is "--name VALUE", "--name=VALUE",
 * "-s VALUE" or "-sVALUE" (short_name 0: no short form). Returns 1 with
 * *value set (borrowed from argv) and *i on the value's argument, 0 when
 * argv[*i] is not this option, -1 when the value is missing. */
int pq_cli_value(int argc, char **argv, int *i, const char *name, char short_name,
                 const char **value);

/* 1 when arg is the flag "--name" (or "-s" when short_name is not 0). */
int pq_cli_flag(const char *arg, const char *name, char short_name);

/* Prints "<program>: <message> (see <program> --help)" to stderr and
 * returns PQ_EXIT_USAGE, for main() to return. */
__attribute__((format(printf, 2, 3))) int pq_cli_usage_error(const char *program, const char *fmt,
                                                             ...);

/* What every main() does once its arguments are parsed, in this order:
 * --help prints usage to stdout; --version prints "<program> <version>";
 * otherwise the configuration is loaded (cli->config, else $PAPERQ_CONFIG,
 * else config/paperq.conf), the log level set, and --print-config prints
 * it. Returns -1 when main goes on with *cfg loaded (free it with
 * pq_config_free), else the exit code to return: PQ_EXIT_OK after help,
 * version or --print-config, PQ_EXIT_USAGE for a bad configuration (printed
 * as "<program>: <message>"); cfg then holds nothing to free. */
int pq_cli_start(const char *program, const struct pq_cli *cli, const char *usage,
                 struct pq_config *cfg);

#endif
