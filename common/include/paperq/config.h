/* Effective configuration: defaults, then the libconfig file, then
 * PAPERQ_<GROUP>_<KEY> environment variables. Every key is declared once in
 * the table in config.c with its type, default, range and documentation. */
#ifndef PAPERQ_CONFIG_H
#define PAPERQ_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define PQ_CONFIG_MAX_PREFIX 100 /* broker.prefix, so every queue name fits AMQP's 255 bytes */
#define PQ_BROKER_MAX_URLS 16    /* addresses broker.url may list */

struct pq_config {
  struct {
    char *url;          /* amqp://user[:password]@host:port/vhost; several comma-separated */
    char *password_env; /* name of a variable holding the broker password */
    char *prefix;       /* every exchange and queue name starts with it */
    int heartbeat_s;    /* AMQP heartbeat; 0 disables */
    int connect_timeout_s;
    int reconnect_max_s; /* cap of the reconnect backoff */
    int delivery_limit;  /* quorum x-delivery-limit: poison jobs park after it */
    int quorum_size;     /* x-quorum-initial-group-size; 0 = the number of URLs if several */
  } broker;
  struct {
    char *provider; /* "openai" or "dry-run" */
    char *base_url; /* .../v1; /chat/completions is appended */
    char *model;
    char *fallback_model; /* "" = none */
    char *api_key_env;    /* name of the variable holding the API key */
    int timeout_s;        /* whole-request timeout */
    int connect_timeout_s;
    int max_tokens; /* completion cap per request */
    double temperature;
    int chunk_tokens;     /* body chunk budget (estimated source tokens) */
    int check_retries;    /* re-asks of a chunk whose output failed a check */
    double max_cjk_ratio; /* leftover CJK / letters allowed in output */
    double min_length_ratio, max_length_ratio;
    char *glossary;            /* zh<TAB>en file, "" = none */
    double price_input_per_m;  /* USD per 1M prompt tokens */
    double price_output_per_m; /* USD per 1M completion tokens */
    int requests_per_minute;   /* the fleet's (the account's) limit, shared by the workers; 0 = not
                                  set */
    int tokens_per_minute;     /* the fleet's tokens per minute (prompt + completion), shared like
                                  requests_per_minute; 0 = not set */
    char *reasoning;           /* reasoning controls sent with each request (chat.h), "" = none */
    char *extra_body; /* JSON object merged into every request (provider routing), "" = none */
  } translate;
  struct {
    int concurrency;      /* papers in flight per process (= the prefetch) */
    int max_requests;     /* ceiling on HTTP requests in flight per process */
    int idle_exit_s;      /* exit after this long idle; 0 = never */
    int heartbeat_s;      /* worker.heartbeat event period */
    int drain_s;          /* on SIGTERM, finish in-flight papers this long, then hand back */
    char *metrics_listen; /* host:port serving Prometheus /metrics; "" = off */
  } worker;
  struct {
    int max_attempts;
    char *delays_ms; /* comma-separated delay tiers; the last repeats */
    double jitter;   /* +- fraction applied to each delay */
  } retry;
  struct {
    char *db;
    int batch;            /* events per transaction */
    int stale_s;          /* a worker silent this long is reported stale */
    char *metrics_listen; /* host:port serving Prometheus /metrics; "" = off */
  } ledger;
  struct {
    double sample_rate;
    char *judges; /* comma-separated judge models; "" = QA off */
    char *base_url;
    char *api_key_env;
    int excerpt_tokens;
    int max_tokens;             /* completion cap of a judge request */
    char *reasoning;            /* as translate.reasoning; "off" keeps judges from thinking */
    char *extra_body;           /* as translate.extra_body, for judge requests */
    int max_requests_per_paper; /* paid judge requests per QA job before it is parked */
  } qa;
  struct {
    double max_usd; /* 0 = no budget */
  } budget;
  struct {
    double qa_min;
    double max_failed_ratio;
    double budget_usd;
    double max_hours;
  } targets;
  struct {
    int max_record_bytes;
    int max_title_bytes;
    int max_abstract_bytes;
    int max_response_bytes;
  } limits;
  struct {
    char *level;
  } log;
  struct {
    char *base_url;          /* the Internet Archive (or a stand-in in tests) */
    char *collection;        /* the ChinaXiv mirror's collection */
    int page_size;           /* scrape API `count`: 100..10000 per request */
    int requests_per_minute; /* politeness cap on every request */
    int max_retries;         /* per request, on 429, 5xx, network or malformed page */
    int retry_base_ms;       /* first backoff; doubles per retry, capped at retry_max_ms */
    int retry_max_ms;
    int timeout_s; /* whole-request timeout */
    int max_page_bytes;
  } harvest;
  struct {
    char *assets_dir; /* KaTeX and MiniSearch, as scripts/site-assets.sh installs them */
    int page_size;    /* papers per page of the site's index */
  } site;
  /* Per-model prices (USD per 1M tokens): the `prices` list in the file,
   * or PAPERQ_PRICES="model=in/out,model=in/out". A model not listed is
   * priced at translate.price_*_per_m. The provider's own usage.cost wins
   * over both when it reports one. */
  struct pq_price {
    char *model;
    double input_per_m, output_per_m;
  } * prices;
  int nprices;
  char *source; /* the file it was read from, or "(defaults)" */
};

/* Cost in USD of a request to model with these token counts. */
double pq_config_cost(const struct pq_config *cfg, const char *model, long prompt_tokens,
                      long completion_tokens);

/* Loads defaults, then path (NULL: $PAPERQ_CONFIG, else config/paperq.conf if
 * it exists), then the environment. On error returns PQ_ERR_PARSE and writes a
 * message naming the file, line and key (or the variable) into err.
 * cfg must be freed with pq_config_free even on error. */
int pq_config_load(const char *path, struct pq_config *cfg, char *err, size_t errlen);
void pq_config_free(struct pq_config *cfg);

/* For main() (through pq_cli_start, paperq/cli.h): loads the configuration
 * (path may be NULL), sets the log level, and handles --print-config.
 * Returns -1 to go on with *cfg loaded, or the exit code to return:
 * PQ_EXIT_OK after printing, PQ_EXIT_USAGE for a bad configuration (printed
 * as "<program>: <message>"). When it returns >= 0, cfg is freed. */
int pq_config_for_main(const char *program, const char *path, int print_config,
                       struct pq_config *cfg);

/* Prints the effective configuration in libconfig syntax, secrets masked. */
void pq_config_print(const struct pq_config *cfg, FILE *out);

/* Parses retry.delays_ms into out[0..max); returns the count or -1.
 * PQ_RETRY_MAX_DELAYS is the most tiers retry.delays_ms may list (the
 * config check and the worker's retry policy both use it). */
#define PQ_RETRY_MAX_DELAYS 64
int pq_config_delays(const char *list, long *out, int max);

/* Reads the secret held by the variable named env_name; NULL if unset/empty. */
const char *pq_config_secret(const char *env_name);

#endif
