/* Configuration: one table declares every key. Loading is defaults → file →
 * environment, and any bad value stops the program before it connects with a
 * message naming the file, line and key (or the environment variable). */
#include "paperq/config.h"
#include "paperq/chat.h"
#include "paperq/cli.h"
#include "paperq/log.h"
#include "paperq/redact.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* K_LIST: a string that the file may also give as a list of strings
 * (url = ["a", "b"]); it is kept joined with commas, the form the
 * environment variable takes. */
enum key_type { K_INT, K_DOUBLE, K_STRING, K_LIST };

struct key {
  const char *group, *name;
  enum key_type type;
  size_t offset;
  const char *def;   /* default, as text */
  double min, max;   /* range for numbers */
  int secret;        /* mask when printed */
  const char *oneof; /* for strings: "a|b|c", NULL = any */
};

#define OFF(f) offsetof(struct pq_config, f)
/* One key per line reads best as a table, so the formatter leaves it alone. */
/* clang-format off */
static const struct key keys[] = {
    {"broker", "url", K_LIST, OFF(broker.url), "amqp://guest:guest@localhost:5672/", 0, 0, 1, NULL},
    {"broker", "password_env", K_STRING, OFF(broker.password_env), "PAPERQ_BROKER_PASSWORD", 0, 0, 0, NULL},
    {"broker", "prefix", K_STRING, OFF(broker.prefix), "paperq", 0, 0, 0, NULL},
    {"broker", "heartbeat_s", K_INT, OFF(broker.heartbeat_s), "30", 0, 3600, 0, NULL},
    {"broker", "connect_timeout_s", K_INT, OFF(broker.connect_timeout_s), "10", 1, 600, 0, NULL},
    {"broker", "reconnect_max_s", K_INT, OFF(broker.reconnect_max_s), "30", 1, 3600, 0, NULL},
    {"broker", "delivery_limit", K_INT, OFF(broker.delivery_limit), "5", 1, 1000, 0, NULL},
    {"broker", "quorum_size", K_INT, OFF(broker.quorum_size), "0", 0, 99, 0, NULL},
    {"translate", "provider", K_STRING, OFF(translate.provider), "openai", 0, 0, 0, "openai|dry-run"},
    {"translate", "base_url", K_STRING, OFF(translate.base_url), "https://openrouter.ai/api/v1", 0, 0, 0, NULL},
    {"translate", "model", K_STRING, OFF(translate.model), "deepseek/deepseek-v3.2-exp", 0, 0, 0, NULL},
    {"translate", "fallback_model", K_STRING, OFF(translate.fallback_model), "", 0, 0, 0, NULL},
    {"translate", "api_key_env", K_STRING, OFF(translate.api_key_env), "OPENROUTER_API_KEY", 0, 0, 0, NULL},
    {"translate", "timeout_s", K_INT, OFF(translate.timeout_s), "180", 1, 3600, 0, NULL},
    {"translate", "connect_timeout_s", K_INT, OFF(translate.connect_timeout_s), "10", 1, 600, 0, NULL},
    {"translate", "max_tokens", K_INT, OFF(translate.max_tokens), "8192", 16, 1000000, 0, NULL},
    {"translate", "temperature", K_DOUBLE, OFF(translate.temperature), "0.2", 0, 2, 0, NULL},
    {"translate", "chunk_tokens", K_INT, OFF(translate.chunk_tokens), "1500", 50, 100000, 0, NULL},
    {"translate", "check_retries", K_INT, OFF(translate.check_retries), "1", 0, 10, 0, NULL},
    {"translate", "max_cjk_ratio", K_DOUBLE, OFF(translate.max_cjk_ratio), "0.001", 0, 1, 0, NULL},
    {"translate", "min_length_ratio", K_DOUBLE, OFF(translate.min_length_ratio), "0.5", 0, 1000, 0, NULL},
    {"translate", "max_length_ratio", K_DOUBLE, OFF(translate.max_length_ratio), "12", 0, 1000, 0, NULL},
    {"translate", "glossary", K_STRING, OFF(translate.glossary), "", 0, 0, 0, NULL},
    {"translate", "price_input_per_m", K_DOUBLE, OFF(translate.price_input_per_m), "0.27", 0, 1e6, 0, NULL},
    {"translate", "price_output_per_m", K_DOUBLE, OFF(translate.price_output_per_m), "0.40", 0, 1e6, 0, NULL},
    {"translate", "requests_per_minute", K_INT, OFF(translate.requests_per_minute), "0", 0, 10000000, 0, NULL},
    {"translate", "tokens_per_minute", K_INT, OFF(translate.tokens_per_minute), "0", 0, 2000000000, 0, NULL},
    {"translate", "reasoning", K_STRING, OFF(translate.reasoning), "", 0, 0, 0, NULL},
    {"translate", "extra_body", K_STRING, OFF(translate.extra_body), "", 0, 0, 0, NULL},
    {"worker", "concurrency", K_INT, OFF(worker.concurrency), "128", 1, 100000, 0, NULL},
    {"worker", "max_requests", K_INT, OFF(worker.max_requests), "1024", 1, 100000, 0, NULL},
    {"worker", "idle_exit_s", K_INT, OFF(worker.idle_exit_s), "0", 0, 1000000, 0, NULL},
    {"worker", "heartbeat_s", K_INT, OFF(worker.heartbeat_s), "10", 1, 3600, 0, NULL},
    {"worker", "drain_s", K_INT, OFF(worker.drain_s), "8", 0, 3600, 0, NULL},
    {"worker", "metrics_listen", K_STRING, OFF(worker.metrics_listen), "", 0, 0, 0, NULL},
    {"retry", "max_attempts", K_INT, OFF(retry.max_attempts), "7", 1, 100, 0, NULL},
    {"retry", "delays_ms", K_STRING, OFF(retry.delays_ms), "2000,2000,10000,60000,300000", 0, 0, 0, NULL},
    {"retry", "jitter", K_DOUBLE, OFF(retry.jitter), "0.1", 0, 0.9, 0, NULL},
    {"ledger", "db", K_STRING, OFF(ledger.db), "paperq-ledger.db", 0, 0, 0, NULL},
    {"ledger", "batch", K_INT, OFF(ledger.batch), "500", 1, 100000, 0, NULL},
    {"ledger", "stale_s", K_INT, OFF(ledger.stale_s), "60", 1, 86400, 0, NULL},
    {"ledger", "metrics_listen", K_STRING, OFF(ledger.metrics_listen), "", 0, 0, 0, NULL},
    {"qa", "sample_rate", K_DOUBLE, OFF(qa.sample_rate), "0.1", 0, 1, 0, NULL},
    {"qa", "judges", K_STRING, OFF(qa.judges), "", 0, 0, 0, NULL},
    {"qa", "base_url", K_STRING, OFF(qa.base_url), "", 0, 0, 0, NULL},
    {"qa", "api_key_env", K_STRING, OFF(qa.api_key_env), "", 0, 0, 0, NULL},
    {"qa", "excerpt_tokens", K_INT, OFF(qa.excerpt_tokens), "3000", 100, 1000000, 0, NULL},
    {"qa", "max_tokens", K_INT, OFF(qa.max_tokens), "1024", 16, 1000000, 0, NULL},
    {"qa", "reasoning", K_STRING, OFF(qa.reasoning), "off", 0, 0, 0, NULL},
    {"qa", "extra_body", K_STRING, OFF(qa.extra_body), "", 0, 0, 0, NULL},
    {"qa", "max_requests_per_paper", K_INT, OFF(qa.max_requests_per_paper), "6", 1, 1000, 0, NULL},
    {"budget", "max_usd", K_DOUBLE, OFF(budget.max_usd), "0", 0, 1e9, 0, NULL},
    {"targets", "qa_min", K_DOUBLE, OFF(targets.qa_min), "8.5", 0, 10, 0, NULL},
    {"targets", "max_failed_ratio", K_DOUBLE, OFF(targets.max_failed_ratio), "0.01", 0, 1, 0, NULL},
    {"targets", "budget_usd", K_DOUBLE, OFF(targets.budget_usd), "5", 0, 1e9, 0, NULL},
    {"targets", "max_hours", K_DOUBLE, OFF(targets.max_hours), "24", 0, 1e6, 0, NULL},
    {"limits", "max_record_bytes", K_INT, OFF(limits.max_record_bytes), "1048576", 1024, 16 << 20, 0, NULL},
    {"limits", "max_title_bytes", K_INT, OFF(limits.max_title_bytes), "4096", 64, 4 << 20, 0, NULL},
    {"limits", "max_abstract_bytes", K_INT, OFF(limits.max_abstract_bytes), "65536", 256, 4 << 20, 0, NULL},
    {"limits", "max_response_bytes", K_INT, OFF(limits.max_response_bytes), "4194304", 1024, 1 << 30, 0, NULL},
    {"harvest", "base_url", K_STRING, OFF(harvest.base_url), "https://archive.org", 0, 0, 0, NULL},
    {"harvest", "collection", K_STRING, OFF(harvest.collection), "chinaxivmirror", 0, 0, 0, NULL},
    {"harvest", "page_size", K_INT, OFF(harvest.page_size), "1000", 100, 10000, 0, NULL},
    {"harvest", "requests_per_minute", K_INT, OFF(harvest.requests_per_minute), "30", 1, 6000, 0, NULL},
    {"harvest", "max_retries", K_INT, OFF(harvest.max_retries), "6", 0, 100, 0, NULL},
    {"harvest", "retry_base_ms", K_INT, OFF(harvest.retry_base_ms), "2000", 1, 3600000, 0, NULL},
    {"harvest", "retry_max_ms", K_INT, OFF(harvest.retry_max_ms), "120000", 1, 3600000, 0, NULL},
    {"harvest", "timeout_s", K_INT, OFF(harvest.timeout_s), "120", 1, 3600, 0, NULL},
    {"harvest", "max_page_bytes", K_INT, OFF(harvest.max_page_bytes), "67108864", 1024, 1 << 30, 0, NULL},
    {"site", "assets_dir", K_STRING, OFF(site.assets_dir), "site-assets", 0, 0, 0, NULL},
    {"site", "page_size", K_INT, OFF(site.page_size), "50", 5, 10000, 0, NULL},
    {"log", "level", K_STRING, OFF(log.level), "info", 0, 0, 0, "debug|info|warn|error"},
};
/* clang-format on */
#define NKEYS (sizeof keys / sizeof keys[0])

static void *field(struct pq_config *cfg, const struct key *k) { return (char *)cfg + k->offset; }
static const void *cfield(const struct pq_config *cfg, const struct key *k) {
  return (const char *)cfg + k->offset;
}

static int oneof_ok(const char *oneof, const char *v) {
  size_t n = strlen(v);
  for (const char *p = oneof; *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, v, n) == 0)
      return 1;
    if (!bar)
      break;
    p = bar + 1;
  }
  return 0;
}

/* Checks of one string key that need no other key, made where the value is
 * set so the error names its file and line or its environment variable. */
static int check_string(const struct key *k, const char *text, const char *where, char *err,
                        size_t errlen) {
  const char *name = k->name;
  if (strcmp(k->group, "retry") == 0 && strcmp(name, "delays_ms") == 0) {
    long delays[PQ_RETRY_MAX_DELAYS];
    if (pq_config_delays(text, delays, PQ_RETRY_MAX_DELAYS) < 1) {
      snprintf(err, errlen,
               "%s: retry.delays_ms = \"%.200s\": expected 1 to 64 comma-separated milliseconds "
               "(0 to 86400000), e.g. \"10000,60000,300000\"",
               where, text);
      return PQ_ERR_PARSE;
    }
  } else if (strcmp(k->group, "broker") == 0 && strcmp(name, "prefix") == 0) {
    /* Longer prefixes used to be cut short, so two pipelines with long
     * prefixes shared queues. */
    if (!text[0] || strlen(text) > PQ_CONFIG_MAX_PREFIX) {
      snprintf(err, errlen,
               "%s: broker.prefix must be 1 to %d characters (got %zu): queue names are "
               "<prefix>.<name> and must stay distinct",
               where, PQ_CONFIG_MAX_PREFIX, strlen(text));
      return PQ_ERR_PARSE;
    }
  } else if (strcmp(k->group, "ledger") == 0 && strcmp(name, "db") == 0) {
    if (!text[0]) {
      snprintf(err, errlen,
               "%s: ledger.db must name the ledger's database file (an empty path would consume "
               "events into nothing)",
               where);
      return PQ_ERR_PARSE;
    }
  }
  return PQ_OK;
}

/* Sets one key from text; where names the origin for the error message. */
static int set_text(struct pq_config *cfg, const struct key *k, const char *text, const char *where,
                    char *err, size_t errlen) {
  void *f = field(cfg, k);
  switch (k->type) {
  case K_INT: {
    long v;
    if (pq_parse_long(text, (long)k->min, (long)k->max, &v) != PQ_OK) {
      snprintf(err, errlen, "%s: %s.%s = \"%s\": expected an integer from %ld to %ld", where,
               k->group, k->name, text, (long)k->min, (long)k->max);
      return PQ_ERR_PARSE;
    }
    *(int *)f = (int)v;
    return PQ_OK;
  }
  case K_DOUBLE: {
    double v;
    if (pq_parse_double(text, k->min, k->max, &v) != PQ_OK) {
      snprintf(err, errlen, "%s: %s.%s = \"%s\": expected a number from %g to %g", where, k->group,
               k->name, text, k->min, k->max);
      return PQ_ERR_PARSE;
    }
    *(double *)f = v;
    return PQ_OK;
  }
  case K_STRING:
  case K_LIST:
    if (k->oneof && !oneof_ok(k->oneof, text)) {
      snprintf(err, errlen, "%s: %s.%s = \"%s\": expected one of %s", where, k->group, k->name,
               text, k->oneof);
      return PQ_ERR_PARSE;
    }
    if (check_string(k, text, where, err, errlen) != PQ_OK)
      return PQ_ERR_PARSE;
    char *dup = strdup(text);
    if (!dup)
      return PQ_ERR_NOMEM;
    free(*(char **)f);
    *(char **)f = dup;
    return PQ_OK;
  }
  return PQ_ERR;
}

static const struct key *find_key(const char *group, const char *name) {
  for (size_t i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].name, name) == 0)
      return &keys[i];
  return NULL;
}

static int add_price(struct pq_config *cfg, const char *model, double in, double out) {
  struct pq_price *p = realloc(cfg->prices, (size_t)(cfg->nprices + 1) * sizeof *p);
  if (!p)
    return PQ_ERR_NOMEM;
  cfg->prices = p;
  if (!(p[cfg->nprices].model = strdup(model)))
    return PQ_ERR_NOMEM;
  p[cfg->nprices].input_per_m = in;
  p[cfg->nprices].output_per_m = out;
  cfg->nprices++;
  return PQ_OK;
}

/* prices = ( { model = "x"; input = 0.27; output = 0.40; }, ... ); */
static int load_prices(struct pq_config *cfg, config_setting_t *list, const char *path, char *err,
                       size_t errlen) {
  if (config_setting_type(list) != CONFIG_TYPE_LIST) {
    snprintf(err, errlen,
             "%s:%d: prices: expected a list like ( { model = \"m\"; input = 0.27; "
             "output = 0.40; } )",
             path, config_setting_source_line(list));
    return PQ_ERR_PARSE;
  }
  for (int i = 0; i < config_setting_length(list); i++) {
    config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
    const char *model = NULL;
    double in, out;
    if (config_setting_type(e) != CONFIG_TYPE_GROUP ||
        !config_setting_lookup_string(e, "model", &model) ||
        !config_setting_lookup_float(e, "input", &in) ||
        !config_setting_lookup_float(e, "output", &out) || in < 0 || out < 0) {
      snprintf(err, errlen,
               "%s:%d: prices[%d]: expected { model = \"name\"; input = USD per 1M prompt "
               "tokens; output = USD per 1M completion tokens; } (numbers with a decimal point)",
               path, config_setting_source_line(e), i);
      return PQ_ERR_PARSE;
    }
    int rc = add_price(cfg, model, in, out);
    if (rc)
      return rc;
  }
  return PQ_OK;
}

/* PAPERQ_PRICES="model=0.27/0.40,other=1.6/6.4" replaces the file's list. */
static int load_prices_env(struct pq_config *cfg, char *err, size_t errlen) {
  const char *v = getenv("PAPERQ_PRICES");
  if (!v)
    return PQ_OK;
  for (int i = 0; i < cfg->nprices; i++)
    free(cfg->prices[i].model);
  cfg->nprices = 0;
  while (*v) {
    size_t len = strcspn(v, ",");
    char item[256], *eq, *slash;
    double in, out;
    if (len == 0 || len >= sizeof item)
      goto bad;
    memcpy(item, v, len);
    item[len] = '\0';
    eq = strrchr(item, '=');
    slash = eq ? strchr(eq, '/') : NULL;
    if (!eq || !slash || eq == item)
      goto bad;
    *eq = *slash = '\0';
    if (pq_parse_double(eq + 1, 0, 1e6, &in) || pq_parse_double(slash + 1, 0, 1e6, &out))
      goto bad;
    int rc = add_price(cfg, item, in, out);
    if (rc)
      return rc;
    v += len;
    if (*v == ',')
      v++;
  }
  return PQ_OK;
bad:
  snprintf(err, errlen,
           "environment variable PAPERQ_PRICES: expected model=input/output USD per 1M tokens, "
           "comma-separated, e.g. \"deepseek/deepseek-v3.2-exp=0.27/0.40\"");
  return PQ_ERR_PARSE;
}

double pq_config_cost(const struct pq_config *cfg, const char *model, long prompt_tokens,
                      long completion_tokens) {
  double in = cfg->translate.price_input_per_m, out = cfg->translate.price_output_per_m;
  for (int i = 0; model && i < cfg->nprices; i++)
    if (strcmp(cfg->prices[i].model, model) == 0) {
      in = cfg->prices[i].input_per_m;
      out = cfg->prices[i].output_per_m;
      break;
    }
  return ((double)prompt_tokens * in + (double)completion_tokens * out) / 1e6;
}

/* Finds "name = 123" (or "name : 123") on line `line` of file and copies
 * the integer literal, as written, into out (for pq_parse_long to range
 * check: one more digit must not wrap). Hex literals are converted. */
static int literal_int(const char *file, int line, const char *name, char *out, size_t outlen) {
  FILE *f = fopen(file, "r");
  char buf[4096];
  int n = 0, rc = PQ_ERR;
  if (!f)
    return PQ_ERR;
  while (fgets(buf, sizeof buf, f))
    if (++n == line)
      break;
  fclose(f);
  if (n != line)
    return PQ_ERR;
  size_t nl = strlen(name);
  for (const char *p = strstr(buf, name); p; p = strstr(p + 1, name)) {
    if (p > buf && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-'))
      continue;
    const char *q = p + nl;
    while (*q == ' ' || *q == '\t')
      q++;
    if (*q != '=' && *q != ':')
      continue;
    q++;
    while (*q == ' ' || *q == '\t')
      q++;
    const char *start = q;
    if (*q == '-' || *q == '+')
      q++;
    int hex = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
    if (hex)
      q += 2;
    while (hex ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q))
      q++;
    size_t len = (size_t)(q - start);
    if (len == 0 || len >= outlen)
      return PQ_ERR;
    if (hex) {
      errno = 0;
      long long v = strtoll(start, NULL, 16);
      if (errno)
        snprintf(out, outlen, "%.*s", (int)len, start); /* out of range: the parse fails */
      else
        snprintf(out, outlen, "%lld", v);
    } else {
      snprintf(out, outlen, "%.*s", (int)len, start);
    }
    rc = PQ_OK;
    break;
  }
  return rc;
}

/* Joins a list of strings into one comma-separated string in *out. */
static int join_list(config_setting_t *s, char **out, const char *where, const char *gname,
                     const char *name, char *err, size_t errlen) {
  size_t len = 1;
  int n = config_setting_length(s);
  for (int i = 0; i < n; i++) {
    config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    const char *v =
        config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
    if (!v || !v[0] || strchr(v, ',')) {
      snprintf(err, errlen, "%s: %s.%s[%d]: expected a non-empty string without commas", where,
               gname, name, i);
      return PQ_ERR_PARSE;
    }
    len += strlen(v) + 1;
  }
  if (n == 0) {
    snprintf(err, errlen, "%s: %s.%s: the list is empty", where, gname, name);
    return PQ_ERR_PARSE;
  }
  char *joined = malloc(len);
  if (!joined)
    return PQ_ERR_NOMEM;
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    const char *v = config_setting_get_string(config_setting_get_elem(s, (unsigned)i));
    size_t vl = strlen(v);
    if (i)
      joined[at++] = ',';
    memcpy(joined + at, v, vl);
    at += vl;
  }
  joined[at] = '\0';
  *out = joined;
  return PQ_OK;
}

/* 1 if any URL of a comma-separated list holds a password other than
 * RabbitMQ's public default guest. */
static int url_has_password(const char *list) {
  for (const char *u = list; *u;) {
    size_t n = strcspn(u, ",");
    const char *scheme = strstr(u, "://");
    if (scheme && scheme < u + n) {
      const char *host = scheme + 3;
      const char *at = memchr(host, '@', (size_t)(u + n - host));
      const char *colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
      if (colon && strncmp(colon, ":guest@", 7) != 0)
        return 1;
    }
    u += n;
    if (*u == ',')
      u++;
  }
  return 0;
}

static int load_file(struct pq_config *cfg, const char *path, char *err, size_t errlen) {
  config_t lc;
  char *list = NULL; /* a K_LIST value joined */
  int rc = PQ_OK;
  config_init(&lc);
  if (config_read_file(&lc, path) != CONFIG_TRUE) {
    if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
      snprintf(err, errlen, "%s: cannot read config file", path);
    else
      snprintf(err, errlen, "%s:%d: %s", config_error_file(&lc) ? config_error_file(&lc) : path,
               config_error_line(&lc), config_error_text(&lc));
    rc = PQ_ERR_PARSE;
    goto cleanup;
  }
  config_setting_t *root = config_root_setting(&lc);
  for (int g = 0; g < config_setting_length(root); g++) {
    config_setting_t *grp = config_setting_get_elem(root, (unsigned)g);
    const char *gname = config_setting_name(grp);
    if (strcmp(gname, "prices") == 0) {
      rc = load_prices(cfg, grp, path, err, errlen);
      if (rc)
        goto cleanup;
      continue;
    }
    if (config_setting_type(grp) != CONFIG_TYPE_GROUP) {
      snprintf(err, errlen, "%s:%d: %s: expected a group like `%s: { ... };`", path,
               config_setting_source_line(grp), gname, gname);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    for (int i = 0; i < config_setting_length(grp); i++) {
      config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
      const char *name = config_setting_name(s);
      int line = config_setting_source_line(s);
      char where[1200], text[64];
      snprintf(where, sizeof where, "%s:%d", path, line);
      const struct key *k = find_key(gname, name);
      if (!k) {
        snprintf(err, errlen, "%s: unknown key %s.%s (see config/paperq.conf for the keys)", where,
                 gname, name);
        rc = PQ_ERR_PARSE;
        goto cleanup;
      }
      if (k->secret && strcmp(k->name, "url") != 0) {
        snprintf(err, errlen, "%s: %s.%s is a secret and is read from the environment only", where,
                 gname, name);
        rc = PQ_ERR_PARSE;
        goto cleanup;
      }
      const char *val = text;
      switch (config_setting_type(s)) {
      case CONFIG_TYPE_INT:
      case CONFIG_TYPE_INT64:
        /* libconfig 1.5 wraps integers modulo 2^32 (4294967312 reads as
         * 16): the number is taken from the file's own text instead. */
        if (literal_int(config_setting_source_file(s) ? config_setting_source_file(s) : path, line,
                        name, text, sizeof text) != PQ_OK) {
          if (config_setting_type(s) == CONFIG_TYPE_INT)
            snprintf(text, sizeof text, "%d", config_setting_get_int(s));
          else
            snprintf(text, sizeof text, "%lld", config_setting_get_int64(s));
        }
        break;
      case CONFIG_TYPE_FLOAT:
        snprintf(text, sizeof text, "%.17g", config_setting_get_float(s));
        break;
      case CONFIG_TYPE_ARRAY:
      case CONFIG_TYPE_LIST:
        if (k->type != K_LIST) {
          snprintf(err, errlen, "%s: %s.%s: expected a %s, not a list", where, gname, name,
                   k->type == K_STRING ? "string" : "number");
          rc = PQ_ERR_PARSE;
          goto cleanup;
        }
        rc = join_list(s, &list, where, gname, name, err, errlen);
        if (rc)
          goto cleanup;
        val = list;
        break;
      case CONFIG_TYPE_STRING:
        if (k->type != K_STRING && k->type != K_LIST) {
          snprintf(err, errlen, "%s: %s.%s: expected a number, not a string", where, gname, name);
          rc = PQ_ERR_PARSE;
          goto cleanup;
        }
        val = config_setting_get_string(s);
        break;
      default:
        snprintf(err, errlen, "%s: %s.%s: expected a %s", where, gname, name,
                 k->type == K_INT || k->type == K_DOUBLE ? "number" : "string");
        rc = PQ_ERR_PARSE;
        goto cleanup;
      }
      if (k->type == K_STRING && config_setting_type(s) != CONFIG_TYPE_STRING) {
        snprintf(err, errlen, "%s: %s.%s: expected a string in double quotes", where, gname, name);
        rc = PQ_ERR_PARSE;
        goto cleanup;
      }
      rc = set_text(cfg, k, val, where, err, errlen);
      free(list);
      list = NULL;
      if (rc)
        goto cleanup;
      /* A password inside broker.url in a file is refused: secrets come
       * from the environment. guest:guest is the broker's public default. */
      if (k->secret && url_has_password(*(char **)field(cfg, k))) {
        snprintf(err, errlen,
                 "%s: broker.url must not hold a password; set it in $%s or PAPERQ_BROKER_URL",
                 where, cfg->broker.password_env);
        rc = PQ_ERR_PARSE;
        goto cleanup;
      }
    }
  }
cleanup:
  free(list);
  config_destroy(&lc);
  return rc;
}

static int load_env(struct pq_config *cfg, char *err, size_t errlen) {
  for (size_t i = 0; i < NKEYS; i++) {
    char var[128], where[160];
    int n = snprintf(var, sizeof var, "PAPERQ_%s_%s", keys[i].group, keys[i].name);
    for (int j = 0; j < n; j++)
      var[j] = (char)toupper((unsigned char)var[j]);
    const char *v = getenv(var);
    if (!v)
      continue;
    snprintf(where, sizeof where, "environment variable %s", var);
    int rc = set_text(cfg, &keys[i], v, where, err, errlen);
    if (rc)
      return rc;
  }
  return PQ_OK;
}

/* Checks that involve more than one key. The value may come from the file
 * or from the environment: the message names the one it came from. */
/* Where a key's effective value came from: its variable when set, else the file. */
static const char *origin(const struct pq_config *cfg, const char *var, char *out, size_t outlen) {
  if (getenv(var))
    snprintf(out, outlen, "environment variable %s", var);
  else
    snprintf(out, outlen, "%s", cfg->source);
  return out;
}

/* translate.extra_body / qa.extra_body: a JSON object or "". */
static int check_extra_body(const struct pq_config *cfg, const char *key, const char *v, char *err,
                            size_t errlen) {
  if (!v[0])
    return PQ_OK;
  cJSON *o = cJSON_Parse(v);
  int ok = cJSON_IsObject(o);
  cJSON_Delete(o);
  if (ok)
    return PQ_OK;
  snprintf(err, errlen,
           "%s: %s is not a JSON object (e.g. {\"provider\": {\"order\": [\"DeepInfra\"]}})",
           cfg->source, key);
  return PQ_ERR_PARSE;
}

static int validate(struct pq_config *cfg, char *err, size_t errlen) {
  char why[256], where[160];
  if (pq_chat_reasoning_check(cfg->translate.reasoning, why, sizeof why) != PQ_OK ||
      pq_chat_reasoning_check(cfg->qa.reasoning, why, sizeof why) != PQ_OK) {
    snprintf(err, errlen, "%s: %s = %s", cfg->source,
             pq_chat_reasoning_check(cfg->translate.reasoning, why, sizeof why) != PQ_OK
                 ? "translate.reasoning"
                 : "qa.reasoning",
             why);
    return PQ_ERR_PARSE;
  }
  if (check_extra_body(cfg, "translate.extra_body", cfg->translate.extra_body, err, errlen) ||
      check_extra_body(cfg, "qa.extra_body", cfg->qa.extra_body, err, errlen))
    return PQ_ERR_PARSE;
  int nurls = 0;
  for (const char *u = cfg->broker.url;;) {
    size_t n = strcspn(u, ",");
    size_t sp = strspn(u, " ");
    nurls++;
    if (sp > n || (strncmp(u + sp, "amqp://", 7) != 0 && strncmp(u + sp, "amqps://", 8) != 0) ||
        n - sp <= 7) {
      snprintf(err, errlen,
               "%s: broker.url: address %d must start with amqp:// or amqps:// (got a value of "
               "%zu chars; several addresses are separated by commas)",
               origin(cfg, "PAPERQ_BROKER_URL", where, sizeof where), nurls, n);
      return PQ_ERR_PARSE;
    }
    u += n;
    if (!*u++)
      break;
  }
  if (nurls > PQ_BROKER_MAX_URLS) {
    snprintf(err, errlen, "%s: broker.url lists %d addresses; at most %d",
             origin(cfg, "PAPERQ_BROKER_URL", where, sizeof where), nurls, PQ_BROKER_MAX_URLS);
    return PQ_ERR_PARSE;
  }
  if (strcmp(cfg->translate.provider, "openai") == 0 &&
      strncmp(cfg->translate.base_url, "http", 4)) {
    snprintf(err, errlen, "%s: translate.base_url = \"%.200s\": expected an http(s):// URL",
             origin(cfg, "PAPERQ_TRANSLATE_BASE_URL", where, sizeof where),
             cfg->translate.base_url);
    return PQ_ERR_PARSE;
  }
  return PQ_OK;
}

int pq_config_load(const char *path, struct pq_config *cfg, char *err, size_t errlen) {
  memset(cfg, 0, sizeof *cfg);
  err[0] = '\0';
  for (size_t i = 0; i < NKEYS; i++) {
    int rc = set_text(cfg, &keys[i], keys[i].def, "default", err, errlen);
    if (rc)
      return rc;
  }
  if (!path)
    path = getenv("PAPERQ_CONFIG");
  int explicit_path = path != NULL && path[0];
  if (!explicit_path)
    path = access("config/paperq.conf", R_OK) == 0 ? "config/paperq.conf" : NULL;
  cfg->source = strdup(path ? path : "(defaults)");
  if (!cfg->source)
    return PQ_ERR_NOMEM;
  if (path) {
    int rc = load_file(cfg, path, err, errlen);
    if (rc)
      return rc;
  }
  int rc = load_env(cfg, err, errlen);
  if (rc == PQ_OK)
    rc = load_prices_env(cfg, err, errlen);
  if (rc)
    return rc;
  rc = validate(cfg, err, errlen);
  if (rc)
    return rc;
  pq_config_secret(NULL); /* nothing to cache; keeps the symbol used */
  return PQ_OK;
}

int pq_config_for_main(const char *program, const char *path, int print_config,
                       struct pq_config *cfg) {
  char err[2048];
  if (pq_config_load(path, cfg, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "%s: %s\n", program, err);
    pq_config_free(cfg);
    return PQ_EXIT_USAGE;
  }
  pq_log_set_level_name(cfg->log.level);
  if (print_config) {
    pq_config_print(cfg, stdout);
    pq_config_free(cfg);
    return PQ_EXIT_OK;
  }
  return -1;
}

void pq_config_free(struct pq_config *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < NKEYS; i++)
    if (keys[i].type == K_STRING || keys[i].type == K_LIST) {
      char **p = field(cfg, &keys[i]);
      free(*p);
      *p = NULL;
    }
  for (int i = 0; i < cfg->nprices; i++)
    free(cfg->prices[i].model);
  free(cfg->prices);
  cfg->prices = NULL;
  cfg->nprices = 0;
  free(cfg->source);
  cfg->source = NULL;
}

/* Masks the password part of each URL of a comma-separated list:
 * amqp://user:****@host/. */
static void mask_url(const char *list, char *out, size_t outlen) {
  size_t used = 0;
  out[0] = '\0';
  for (const char *url = list; *url && used + 1 < outlen;) {
    int n = (int)strcspn(url, ",");
    const char *end = url + n;
    const char *scheme = strstr(url, "://");
    const char *host = scheme && scheme < end ? scheme + 3 : NULL;
    const char *at = NULL, *colon = NULL;
    for (const char *c = host; c && c < end; c++)
      if (*c == '@')
        at = c;
    colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
    int w;
    if (colon)
      w = snprintf(out + used, outlen - used, "%.*s:****%.*s%s", (int)(colon - url), url,
                   (int)(end - at), at, *end ? "," : "");
    else
      w = snprintf(out + used, outlen - used, "%.*s%s", n, url, *end ? "," : "");
    if (w < 0 || (size_t)w >= outlen - used)
      break;
    used += (size_t)w;
    url = *end ? end + 1 : end;
  }
}

void pq_config_print(const struct pq_config *cfg, FILE *out) {
  fprintf(out, "# effective configuration (file: %s; environment overrides applied)\n",
          cfg->source);
  const char *group = "";
  for (size_t i = 0; i < NKEYS; i++) {
    const struct key *k = &keys[i];
    if (strcmp(group, k->group) != 0) {
      if (group[0])
        fprintf(out, "};\n");
      fprintf(out, "%s: {\n", k->group);
      group = k->group;
    }
    const void *f = cfield(cfg, k);
    if (k->type == K_INT)
      fprintf(out, "  %s = %d;\n", k->name, *(const int *)f);
    else if (k->type == K_DOUBLE)
      fprintf(out, "  %s = %g;\n", k->name, *(const double *)f);
    else {
      char masked[4096];
      mask_url(*(char *const *)f, masked, sizeof masked);
      fprintf(out, "  %s = \"%s\";\n", k->name, k->secret ? masked : *(char *const *)f);
    }
  }
  fprintf(out, "};\n");
  if (cfg->nprices) {
    fprintf(out, "prices = (\n");
    for (int i = 0; i < cfg->nprices; i++)
      fprintf(out, "  { model = \"%s\"; input = %g; output = %g; }%s\n", cfg->prices[i].model,
              cfg->prices[i].input_per_m, cfg->prices[i].output_per_m,
              i + 1 < cfg->nprices ? "," : "");
    fprintf(out, ");\n");
  }
  const char *key = pq_config_secret(cfg->translate.api_key_env);
  fprintf(out, "# $%s (API key): %s\n", cfg->translate.api_key_env, key ? "set (****)" : "not set");
}

int pq_config_delays(const char *list, long *out, int max) {
  int n = 0;
  const char *p = list;
  while (*p) {
    char item[32];
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= sizeof item || n >= max)
      return -1;
    memcpy(item, p, len);
    item[len] = '\0';
    if (pq_parse_long(item, 0, 86400000L, &out[n]) != PQ_OK)
      return -1;
    n++;
    p += len;
    if (*p == ',')
      p++;
  }
  return n;
}

const char *pq_config_secret(const char *env_name) {
  if (!env_name || !env_name[0])
    return NULL;
  const char *v = getenv(env_name);
  if (!v || !v[0])
    return NULL;
  pq_redact_add_secret(v); /* whatever echoes it back is scrubbed (redact.h) */
  return v;
}
