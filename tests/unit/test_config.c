/* Config: defaults, file values, env overrides, and every kind of bad value
 * failing with the file, line and key named. */
#include "paperq/config.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <stdlib.h>
#include <unistd.h>

static char tmpl[] = "/tmp/pq-config-XXXXXX";

static const char *write_conf(const char *text) {
  static char path[64];
  snprintf(path, sizeof path, "%s/t.conf", tmpl);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static int load(const char *text, char *err, size_t errlen) {
  struct pq_config cfg;
  int rc = pq_config_load(write_conf(text), &cfg, err, errlen);
  pq_config_free(&cfg);
  return rc;
}

int main(void) {
  char err[1024];
  struct pq_config cfg;
  if (!mkdtemp(tmpl))
    return 2;
  unsetenv("PAPERQ_CONFIG");
  unsetenv("PAPERQ_WORKER_CONCURRENCY");
  unsetenv("PAPERQ_BROKER_PREFIX");

  /* The shipped file is valid and equals the defaults it documents. */
  const char *src = getenv("PQ_SOURCE_DIR");
  char shipped[1024];
  snprintf(shipped, sizeof shipped, "%s/config/paperq.conf", src ? src : ".");
  CHECK(pq_config_load(shipped, &cfg, err, sizeof err) == PQ_OK);
  CHECK(cfg.worker.concurrency == 128);
  CHECK_STR(cfg.broker.prefix, "paperq");
  CHECK(cfg.retry.max_attempts == 7);
  pq_config_free(&cfg);

  /* File values and env overrides. */
  CHECK(pq_config_load(write_conf("worker: { concurrency = 64; };\nbroker: { prefix = \"x\"; };\n"),
                       &cfg, err, sizeof err) == PQ_OK);
  CHECK(cfg.worker.concurrency == 64);
  CHECK_STR(cfg.broker.prefix, "x");
  pq_config_free(&cfg);
  setenv("PAPERQ_WORKER_CONCURRENCY", "128", 1);
  setenv("PAPERQ_BROKER_PREFIX", "t1", 1);
  CHECK(pq_config_load(write_conf("worker: { concurrency = 64; };\n"), &cfg, err, sizeof err) ==
        PQ_OK);
  CHECK(cfg.worker.concurrency == 128);
  CHECK_STR(cfg.broker.prefix, "t1");
  pq_config_free(&cfg);

  /* Bad env value names the variable. */
  setenv("PAPERQ_WORKER_CONCURRENCY", "abc", 1);
  CHECK(load("", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "PAPERQ_WORKER_CONCURRENCY") != NULL);
  unsetenv("PAPERQ_WORKER_CONCURRENCY");
  unsetenv("PAPERQ_BROKER_PREFIX");

  /* Every bad file value names file:line and the key. */
  CHECK(load("\nworker: { concurrency = -3; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:2") && strstr(err, "worker.concurrency"));
  CHECK(load("worker: {\n  concurrency = \"many\";\n};\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:2") && strstr(err, "worker.concurrency"));
  CHECK(load("translate: { temperature = 7.5; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "translate.temperature") != NULL);
  CHECK(load("translate: { provider = \"magic\"; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "translate.provider") && strstr(err, "openai|dry-run"));
  CHECK(load("translate: { model = 3; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "translate.model") != NULL);
  CHECK(load("worker: { concurency = 3; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "unknown key worker.concurency") != NULL);
  CHECK(load("worker: { concurrency = 3 \n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:") != NULL);
  CHECK(load("retry: { delays_ms = \"10,x\"; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "retry.delays_ms") != NULL);
  CHECK(load("broker: { url = \"amqp://bob:hunter2@h/\"; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "password") != NULL && strstr(err, "hunter2") == NULL);
  CHECK(load("worker = 3;\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "expected a group") != NULL);
  struct pq_config c2;
  CHECK(pq_config_load("/nonexistent/p.conf", &c2, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "/nonexistent/p.conf") != NULL);
  pq_config_free(&c2);

  /* Delay tiers. */
  long d[8];
  CHECK(pq_config_delays("200,500", d, 8) == 2 && d[0] == 200 && d[1] == 500);
  CHECK(pq_config_delays("", d, 8) == 0);
  CHECK(pq_config_delays("1,,2", d, 8) == -1);

  /* Printing masks the broker password. */
  setenv("PAPERQ_BROKER_URL", "amqp://bob:hunter2@h:5672/", 1);
  CHECK(pq_config_load(write_conf(""), &cfg, err, sizeof err) == PQ_OK);
  char out[8192] = {0};
  FILE *m = fmemopen(out, sizeof out - 1, "w");
  pq_config_print(&cfg, m);
  fclose(m);
  CHECK(strstr(out, "hunter2") == NULL);
  CHECK(strstr(out, "amqp://bob:****@h:5672/") != NULL);
  pq_config_free(&cfg);
  unsetenv("PAPERQ_BROKER_URL");

  /* Several broker addresses: a list in the file, comma-separated in the
   * environment; every one is checked, and printing masks each password. */
  CHECK(
      pq_config_load(write_conf("broker: { url = [\"amqp://h1:5672/\", \"amqp://h2:5672/\"]; };\n"),
                     &cfg, err, sizeof err) == PQ_OK);
  CHECK_STR(cfg.broker.url, "amqp://h1:5672/,amqp://h2:5672/");
  CHECK(cfg.broker.quorum_size == 0);
  pq_config_free(&cfg);
  CHECK(load("broker: {\n  url = [\"amqp://h1/\", \"http://h2/\"];\n};\n", err, sizeof err) ==
        PQ_ERR_PARSE);
  CHECK(strstr(err, "broker.url") && strstr(err, "address 2"));
  CHECK(load("broker: {\n  url = [\"amqp://h1/\", \"amqp://bob:hunter2@h2/\"];\n};\n", err,
             sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:2") && strstr(err, "password") && !strstr(err, "hunter2"));
  CHECK(load("broker: { url = []; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "broker.url") != NULL);
  CHECK(load("worker: { concurrency = [1, 2]; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "worker.concurrency") && strstr(err, "not a list"));
  setenv("PAPERQ_BROKER_URL", "amqp://a:pw1@h1:5672/, amqp://b:pw2@h2:5673/,amqp://h3/", 1);
  setenv("PAPERQ_BROKER_QUORUM_SIZE", "3", 1);
  CHECK(pq_config_load(write_conf(""), &cfg, err, sizeof err) == PQ_OK);
  CHECK(cfg.broker.quorum_size == 3);
  char listed[8192] = {0};
  FILE *lm = fmemopen(listed, sizeof listed - 1, "w");
  pq_config_print(&cfg, lm);
  fclose(lm);
  CHECK(strstr(listed, "pw1") == NULL && strstr(listed, "pw2") == NULL);
  CHECK(strstr(listed, "amqp://a:****@h1:5672/, amqp://b:****@h2:5673/,amqp://h3/") != NULL);
  pq_config_free(&cfg);
  setenv("PAPERQ_BROKER_URL", "amqp://h1/,,amqp://h3/", 1);
  CHECK(load("", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "address 2") != NULL);
  unsetenv("PAPERQ_BROKER_URL");
  unsetenv("PAPERQ_BROKER_QUORUM_SIZE");

  /* Per-model prices: from the file, then PAPERQ_PRICES; the rest at
   * translate.price_*_per_m. */
  CHECK(pq_config_load(
            write_conf("translate: { price_input_per_m = 1.0; price_output_per_m = 2.0; };\n"
                       "prices = ( { model = \"judge/a\"; input = 10.0; output = 20.0; } );\n"),
            &cfg, err, sizeof err) == PQ_OK);
  CHECK(cfg.nprices == 1);
  CHECK(pq_config_cost(&cfg, "judge/a", 1000000, 500000) > 19.99 &&
        pq_config_cost(&cfg, "judge/a", 1000000, 500000) < 20.01);
  CHECK(pq_config_cost(&cfg, "other", 1000000, 1000000) > 2.99 &&
        pq_config_cost(&cfg, "other", 1000000, 1000000) < 3.01);
  pq_config_free(&cfg);
  CHECK(load("\n\nprices = ( { model = \"x\"; input = 1; } );\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:3") && strstr(err, "prices[0]"));
  setenv("PAPERQ_PRICES", "m1=0.5/1.5,m2=2/4", 1);
  CHECK(pq_config_load(write_conf(""), &cfg, err, sizeof err) == PQ_OK);
  CHECK(cfg.nprices == 2 && pq_config_cost(&cfg, "m2", 1000000, 0) > 1.99);
  pq_config_free(&cfg);
  setenv("PAPERQ_PRICES", "m1=cheap", 1);
  CHECK(load("", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "PAPERQ_PRICES") != NULL);
  unsetenv("PAPERQ_PRICES");

  /* Reasoning controls and extra request fields (issue 11). */
  CHECK(pq_config_load(write_conf("qa: { reasoning = \"2000\"; max_requests_per_paper = 4; };\n"
                                  "translate: { extra_body = \"{\\\"provider\\\": {}}\"; };\n"),
                       &cfg, err, sizeof err) == PQ_OK);
  CHECK_STR(cfg.qa.reasoning, "2000");
  CHECK(cfg.qa.max_requests_per_paper == 4 && cfg.qa.max_tokens == 1024);
  CHECK_STR(cfg.translate.reasoning, "");
  pq_config_free(&cfg);
  CHECK(pq_config_load(write_conf(""), &cfg, err, sizeof err) == PQ_OK);
  CHECK_STR(cfg.qa.reasoning, "off"); /* judges do not think unless told */
  pq_config_free(&cfg);
  CHECK(load("qa: { reasoning = \"deep\"; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "qa.reasoning") && strstr(err, "deep"));
  setenv("PAPERQ_TRANSLATE_EXTRA_BODY", "[1]", 1);
  CHECK(load("", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "translate.extra_body") != NULL);
  unsetenv("PAPERQ_TRANSLATE_EXTRA_BODY");

  /* The fleet's tokens per minute (issue 12): unset by default, from the
   * environment like every key. */
  CHECK(pq_config_load(write_conf(""), &cfg, err, sizeof err) == PQ_OK);
  CHECK(cfg.translate.tokens_per_minute == 0);
  pq_config_free(&cfg);
  setenv("PAPERQ_TRANSLATE_TOKENS_PER_MINUTE", "2000000", 1);
  CHECK(pq_config_load(write_conf(""), &cfg, err, sizeof err) == PQ_OK);
  CHECK(cfg.translate.tokens_per_minute == 2000000);
  pq_config_free(&cfg);
  unsetenv("PAPERQ_TRANSLATE_TOKENS_PER_MINUTE");

  unlink(write_conf(""));
  rmdir(tmpl);
  TEST_MAIN_END();
}
