/* The shared command line: --config, --print-config, --help, --version, and
 * the value and flag forms the programs' own options use. */
#include "paperq/cli.h"
#include "paperq/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pq_cli_flag(const char *arg, const char *name, char short_name) {
  if (arg[0] != '-')
    return 0;
  if (short_name && arg[1] == short_name && arg[2] == '\0')
    return 1;
  return arg[1] == '-' && strcmp(arg + 2, name) == 0;
}

int pq_cli_value(int argc, char **argv, int *i, const char *name, char short_name,
                 const char **value) {
  const char *arg = argv[*i];
  size_t n = strlen(name);
  *value = NULL;
  if (arg[0] != '-')
    return 0;
  if (arg[1] == '-' && strncmp(arg + 2, name, n) == 0 &&
      (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
    if (arg[2 + n] == '=') {
      *value = arg + 3 + n;
      return 1;
    }
  } else if (short_name && arg[1] == short_name) {
    if (arg[2] != '\0') {
      *value = arg + 2;
      return 1;
    }
  } else {
    return 0;
  }
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}

int pq_cli_shared(int argc, char **argv, int *i, struct pq_cli *cli, char *err, size_t errlen) {
  const char *arg = argv[*i];
  const char *v;
  int r;
  if (pq_cli_flag(arg, "help", 'h')) {
    cli->help = 1;
    return 1;
  }
  if (pq_cli_flag(arg, "version", 'V')) {
    cli->version = 1;
    return 1;
  }
  if (pq_cli_flag(arg, "print-config", 0)) {
    cli->print_config = 1;
    return 1;
  }
  if ((r = pq_cli_value(argc, argv, i, "config", 'c', &v)) == 0)
    return 0;
  if (r < 0 || !v[0]) {
    snprintf(err, errlen, "--config needs a file name");
    return -1;
  }
  cli->config = v;
  return 1;
}

int pq_cli_usage_error(const char *program, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", program);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see %s --help)\n", program);
  va_end(ap);
  return PQ_EXIT_USAGE;
}

int pq_cli_start(const char *program, const struct pq_cli *cli, const char *usage,
                 struct pq_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  if (cli->help) {
    fputs(usage, stdout);
    return PQ_EXIT_OK;
  }
  if (cli->version) {
    printf("%s %s\n", program, PAPERQ_VERSION);
    return PQ_EXIT_OK;
  }
  return pq_config_for_main(program, cli->config, cli->print_config, cfg);
}
