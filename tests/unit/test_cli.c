/* The shared command line: --config/-c/--config=FILE, --print-config,
 * --help/-h, --version/-V recognised the same way for every program; program
 * options take their value in every form; a missing value is an error, not
 * the next option swallowed silently at the end; exit codes from
 * pq_cli_start. */
#include "paperq/cli.h"
#include "paperq/config.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Parses argv (NULL-terminated list) the way the programs do: shared
 * options through pq_cli_shared, --input through pq_cli_value, --force as a
 * flag. Returns -1 on a usage error, else the number of inputs; the last
 * input lands in *input. */
static int parse(struct pq_cli *cli, const char **input, int *force, char **argv) {
  int argc = 0;
  char err[128];
  while (argv[argc])
    argc++;
  int inputs = 0;
  *input = NULL;
  *force = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int r = pq_cli_shared(argc, argv, &i, cli, err, sizeof err);
    if (r < 0)
      return -1;
    if (r > 0)
      continue;
    if ((r = pq_cli_value(argc, argv, &i, "input", 'i', &v)) != 0) {
      if (r < 0)
        return -1;
      *input = v;
      inputs++;
    } else if (pq_cli_flag(argv[i], "force", 0)) {
      *force = 1;
    } else {
      return -1;
    }
  }
  return inputs;
}

#define ARGV(...) ((char *[]){"prog", __VA_ARGS__, NULL})

int main(void) {
  struct pq_cli cli;
  const char *in;
  int force;

  memset(&cli, 0, sizeof cli);
  CHECK(parse(&cli, &in, &force, ARGV("--config", "a.conf", "--input", "x.jsonl")) == 1);
  CHECK_STR(cli.config, "a.conf");
  CHECK_STR(in, "x.jsonl");
  CHECK(!cli.help && !cli.version && !cli.print_config && !force);

  memset(&cli, 0, sizeof cli);
  CHECK(parse(&cli, &in, &force, ARGV("--config=b.conf", "-ix.jsonl", "--force", "-h")) == 1);
  CHECK_STR(cli.config, "b.conf");
  CHECK_STR(in, "x.jsonl");
  CHECK(cli.help && force);

  memset(&cli, 0, sizeof cli);
  CHECK(parse(&cli, &in, &force, ARGV("-c", "c.conf", "-V", "--print-config", "--input=y")) == 1);
  CHECK_STR(cli.config, "c.conf");
  CHECK_STR(in, "y");
  CHECK(cli.version && cli.print_config && !cli.help);

  memset(&cli, 0, sizeof cli);
  CHECK(parse(&cli, &in, &force, ARGV("-cd.conf", "--version", "--help")) == 0);
  CHECK_STR(cli.config, "d.conf");
  CHECK(cli.version && cli.help);

  /* Missing values, and near misses that are not the option. */
  memset(&cli, 0, sizeof cli);
  CHECK(parse(&cli, &in, &force, ARGV("--input", "x", "--config")) == -1);
  CHECK(parse(&cli, &in, &force, ARGV("--config=")) == -1);
  CHECK(parse(&cli, &in, &force, ARGV("--input")) == -1);
  CHECK(parse(&cli, &in, &force, ARGV("--configs", "x")) == -1);
  CHECK(parse(&cli, &in, &force, ARGV("--forced")) == -1);
  CHECK(parse(&cli, &in, &force, ARGV("-hV")) == -1);
  CHECK(parse(&cli, &in, &force, ARGV("help")) == -1);
  CHECK(!pq_cli_flag("-force", "force", 0));
  CHECK(pq_cli_flag("-f", "force", 'f'));

  /* What main() gets back: help and version exit 0 without a config; a
   * config that cannot be read exits 2; a good one goes on. */
  struct pq_config cfg;
  memset(&cli, 0, sizeof cli);
  cli.version = 1;
  cli.config = "/nonexistent/paperq.conf";
  CHECK(pq_cli_start("prog", &cli, "usage\n", &cfg) == PQ_EXIT_OK);
  memset(&cli, 0, sizeof cli);
  cli.config = "/nonexistent/paperq.conf";
  CHECK(pq_cli_start("prog", &cli, "usage\n", &cfg) == PQ_EXIT_USAGE);
  char dir[] = "/tmp/pq-cli-XXXXXX", path[64];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/empty.conf", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f)
    fclose(f);
  cli.config = path;
  CHECK(pq_cli_start("prog", &cli, "usage\n", &cfg) == -1);
  CHECK(cfg.worker.concurrency > 0); /* loaded, with defaults */
  pq_config_free(&cfg);
  unlink(path);
  rmdir(dir);
  CHECK(PQ_EXIT_OK == 0 && PQ_EXIT_RUNTIME == 1 && PQ_EXIT_USAGE == 2 &&
        PQ_EXIT_FATAL_PROVIDER == 3);
  TEST_MAIN_END();
}
