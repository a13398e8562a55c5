/* `paperq-producer harvest`: pages through the Internet Archive's scrape API
 * (/services/search/v1/scrape, cursor paging) for the ChinaXiv mirror's
 * collection and writes the Internet Archive harvest format `--input` reads.
 * What the client relies on in the service's documentation, and what it does
 * about each misbehaviour, is in docs/harvest.md. */
#include "harvest.h"
#include "idset.h"

#include "paperq/buf.h"
#include "paperq/cli.h"
#include "paperq/config.h"
#include "paperq/httpget.h"
#include "paperq/log.h"
#include "paperq/record.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "paperq-producer harvest"
#define FIELDS "identifier,title,creator,subject,date,description,licenseurl"
#define MAX_YEARS 64
#define MAX_STATE_BYTES (1 << 20)
#define MAX_OUTPUT_BYTES (1L << 30) /* an existing output read back for its ids */
#define EXPIRED_RESTARTS 3          /* cursor restarts in a row without progress */

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static const char usage[] =
    "usage: paperq-producer harvest --out FILE [--years Y,Y] [--from DATE] [--limit N]\n"
    "\n"
    "Reads the ChinaXiv mirror's records from the Internet Archive's scrape API\n"
    "(harvest.base_url, harvest.collection) and writes them to FILE in the Internet\n"
    "Archive harvest format: paperq-producer --input FILE queues them.\n"
    "\n"
    "  -o, --out FILE       the harvest (a JSON array); FILE.cursor beside it holds\n"
    "                       the position, so running the same command again continues\n"
    "  -y, --years LIST     only papers dated in these years, e.g. 2024,2025\n"
    "  -f, --from DATE      only papers dated DATE (YYYY-MM-DD) or later\n"
    "  -n, --limit N        write at most N records in this run\n"
    "  -c, --config FILE    configuration (default $PAPERQ_CONFIG or config/paperq.conf)\n"
    "      --print-config   print the effective configuration and exit\n"
    "  -h, --help           this help\n"
    "\n"
    "Politeness: at most harvest.requests_per_minute requests; 429 and 5xx answers,\n"
    "network errors and malformed pages are retried with a doubling backoff that\n"
    "honours Retry-After, up to harvest.max_retries times. Progress goes to stderr.\n"
    "Exit codes: 0 complete (or stopped at --limit), 1 the service or the disk\n"
    "failed (run again to continue), 2 usage or configuration error.\n"
    "Example: paperq-producer harvest --out ia.json --years 2024,2025\n";

/* Where the harvest stands, saved in FILE.cursor after every page. */
struct state {
  char *query;  /* the q the cursor belongs to */
  char *cursor; /* the cursor of the page being read; NULL = the first page */
  long skip;    /* items of that page already written (a --limit stop mid-page) */
  long records; /* records in the output */
  long bytes;   /* offset just after the last record: the output is cut back to it */
  int done;     /* the service said there is nothing after the last page */
};

static void state_free(struct state *s) {
  free(s->query);
  free(s->cursor);
  memset(s, 0, sizeof *s);
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long jlong(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

/* PQ_OK (found: *found = 1), PQ_OK with *found = 0 (no file), or an error
 * with err set. */
static int state_load(const char *path, struct state *s, int *found, char *err, size_t errlen) {
  char *text = NULL;
  size_t len;
  memset(s, 0, sizeof *s);
  *found = 0;
  int rc = pq_read_file(path, MAX_STATE_BYTES, &text, &len);
  if (rc == PQ_ERR_IO && errno == ENOENT)
    return PQ_OK;
  if (rc != PQ_OK) {
    snprintf(err, errlen, "cannot read %s: %s", path,
             rc == PQ_ERR_IO ? strerror(errno) : "too big");
    return PQ_ERR_IO;
  }
  cJSON *j = cJSON_Parse(text);
  free(text);
  const char *q = jstr(j, "query");
  s->records = jlong(j, "records");
  s->bytes = jlong(j, "bytes");
  s->skip = jlong(j, "skip");
  if (!q || s->records < 0 || s->bytes < 2 || s->skip < 0) {
    cJSON_Delete(j);
    snprintf(err, errlen,
             "%s is not a harvest cursor file (fields query, records, bytes, skip); remove it "
             "and the output to start again",
             path);
    return PQ_ERR_PARSE;
  }
  s->query = strdup(q);
  s->cursor = pq_strdup(jstr(j, "cursor"));
  s->done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "done"));
  cJSON_Delete(j);
  if (!s->query) {
    snprintf(err, errlen, "out of memory");
    return PQ_ERR_NOMEM;
  }
  *found = 1;
  return PQ_OK;
}

/* Written to a temporary file, synced and renamed: a crash leaves the old
 * state or the new one, never half of one. */
static int state_save(const char *path, const struct state *s) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  cJSON *j = cJSON_CreateObject();
  char *text = NULL;
  int ok = j && cJSON_AddStringToObject(j, "query", s->query) &&
           (s->cursor ? cJSON_AddStringToObject(j, "cursor", s->cursor)
                      : cJSON_AddNullToObject(j, "cursor")) &&
           cJSON_AddNumberToObject(j, "skip", (double)s->skip) &&
           cJSON_AddNumberToObject(j, "records", (double)s->records) &&
           cJSON_AddNumberToObject(j, "bytes", (double)s->bytes) &&
           cJSON_AddBoolToObject(j, "done", s->done) &&
           cJSON_AddNumberToObject(j, "updated_ms", (double)pq_now_ms()) &&
           (text = cJSON_Print(j)) != NULL;
  cJSON_Delete(j);
  FILE *f = ok ? fopen(tmp, "wb") : NULL;
  if (f) {
    ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
      remove(tmp);
  } else {
    ok = 0;
  }
  cJSON_free(text);
  return ok ? PQ_OK : PQ_ERR_IO;
}

/* The output is "[\n" record (",\n" record)* "\n]\n": a valid JSON array
 * after every page. Records go at s->bytes; the closing bracket follows. */
static int output_close_array(FILE *out, long bytes) {
  if (fseek(out, bytes, SEEK_SET) != 0 || fputs("\n]\n", out) < 0 || fflush(out) != 0 ||
      ftruncate(fileno(out), bytes + 3) != 0 || fsync(fileno(out)) != 0)
    return PQ_ERR_IO;
  return PQ_OK;
}

static int output_append(FILE *out, struct state *s, const char *text) {
  if (fseek(out, s->bytes, SEEK_SET) != 0 || fputs(s->records > 0 ? ",\n" : "\n", out) < 0 ||
      fputs(text, out) < 0)
    return PQ_ERR_IO;
  long at = ftell(out);
  if (at < 0)
    return PQ_ERR_IO;
  s->bytes = at;
  s->records++;
  return PQ_OK;
}

/* The ids already in an output being continued, so that a restarted cursor
 * (after the service forgot ours) does not write a paper twice. */
static int load_ids(const char *path, struct idset *ids, char *err, size_t errlen) {
  char *text = NULL;
  size_t len;
  if (pq_read_file(path, MAX_OUTPUT_BYTES, &text, &len) != PQ_OK) {
    snprintf(err, errlen, "cannot read %s back: %s", path, strerror(errno));
    return PQ_ERR_IO;
  }
  cJSON *arr = cJSON_Parse(text);
  free(text);
  if (!cJSON_IsArray(arr)) {
    cJSON_Delete(arr);
    snprintf(err, errlen, "%s is not a JSON array: it was not written by harvest", path);
    return PQ_ERR_PARSE;
  }
  const cJSON *e;
  int rc = PQ_OK;
  cJSON_ArrayForEach(e, arr) {
    const char *id = jstr(e, "id");
    if (id && idset_add(ids, id) < 0)
      rc = PQ_ERR_NOMEM;
  }
  cJSON_Delete(arr);
  return rc;
}

/* ---- the query --------------------------------------------------------- */

struct args {
  struct pq_cli cli; /* --config, --print-config, --help, --version */
  const char *out, *from;
  long years[MAX_YEARS];
  int nyears;
  long limit; /* -1 = none */
};

/* The Lucene-style query of the advanced search language: the collection,
 * then the date filters (papers carry a `date` like 2016-01-01T00:00:00Z). */
static int build_query(const struct pq_config *cfg, const struct args *a, struct pq_buf *q) {
  int rc = pq_buf_printf(q, "collection:%s", cfg->harvest.collection);
  if (!rc && a->from)
    rc = pq_buf_printf(q, " AND date:[%s TO 9999-12-31]", a->from);
  for (int i = 0; i < a->nyears && !rc; i++)
    rc = pq_buf_printf(q, "%s date:[%ld-01-01 TO %ld-12-31]", i == 0 ? " AND (" : " OR",
                       a->years[i], a->years[i]);
  if (!rc && a->nyears)
    rc = pq_buf_append_str(q, ")");
  return rc;
}

/* The same filters applied to each record: a service that ignored part of
 * the query must not put other papers in the harvest. */
static int date_wanted(const struct args *a, const char *date) {
  if (a->from && (!date || strncmp(date, a->from, strlen(a->from)) < 0))
    return 0;
  if (a->nyears == 0)
    return 1;
  long y;
  char year[5];
  if (!date || strlen(date) < 4)
    return 0;
  memcpy(year, date, 4);
  year[4] = '\0';
  if (pq_parse_long(year, 0, 9999, &y) != PQ_OK)
    return 0;
  for (int i = 0; i < a->nyears; i++)
    if (a->years[i] == y)
      return 1;
  return 0;
}

/* ---- one item of the scrape API into one harvest record ----------------- */

/* The scrape API gives a repeatable field as a string when it has one value
 * and as an array when it has several. */
static cJSON *as_list(const cJSON *v) {
  cJSON *out = cJSON_CreateArray();
  const cJSON *e;
  if (!out)
    return NULL;
  if (cJSON_IsString(v)) {
    cJSON_AddItemToArray(out, cJSON_CreateString(v->valuestring));
  } else if (cJSON_IsArray(v)) {
    cJSON_ArrayForEach(e, v) {
      if (cJSON_IsString(e) && e->valuestring[0])
        cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring));
    }
  }
  return out;
}

/* A string field: the first value of an array, several joined by newlines
 * for the description (its paragraphs). */
static char *as_text(const cJSON *v, int join) {
  if (cJSON_IsString(v))
    return strdup(v->valuestring);
  if (!cJSON_IsArray(v))
    return NULL;
  struct pq_buf b;
  const cJSON *e;
  pq_buf_init(&b, 1 << 24);
  int n = 0, rc = PQ_OK;
  cJSON_ArrayForEach(e, v) {
    if (!cJSON_IsString(e) || rc)
      continue;
    if (n++ && !join)
      break;
    if (n > 1)
      rc = pq_buf_append_str(&b, "\n");
    if (!rc)
      rc = pq_buf_append_str(&b, e->valuestring);
  }
  if (rc || n == 0) {
    pq_buf_free(&b);
    return NULL;
  }
  return pq_buf_steal(&b);
}

/* licenseurl (a Creative Commons deed URL) into the original system's
 * {raw, derivatives_allowed}. */
static cJSON *license_of(const char *url) {
  static const struct {
    const char *path, *raw;
    int derivatives;
  } cc[] = {
      {"/licenses/by/", "CC-BY", 1},       {"/licenses/by-sa/", "CC-BY-SA", 1},
      {"/licenses/by-nc/", "CC-BY-NC", 1}, {"/licenses/by-nc-sa/", "CC-BY-NC-SA", 1},
      {"/licenses/by-nd/", "CC-BY-ND", 0}, {"/licenses/by-nc-nd/", "CC-BY-NC-ND", 0},
      {"/publicdomain/zero/", "CC0", 1},   {"/publicdomain/mark/", "public-domain", 1},
  };
  cJSON *l = cJSON_CreateObject();
  if (!l)
    return NULL;
  for (size_t i = 0; i < sizeof cc / sizeof cc[0]; i++) {
    const char *p = strstr(url, cc[i].path);
    if (!p)
      continue;
    /* The version follows the path: .../licenses/by/4.0/ -> CC-BY-4.0 */
    char raw[64], ver[16] = "";
    const char *v = p + strlen(cc[i].path);
    size_t n = 0;
    while (n + 1 < sizeof ver && ((v[n] >= '0' && v[n] <= '9') || v[n] == '.'))
      n++;
    memcpy(ver, v, n);
    ver[n] = '\0';
    snprintf(raw, sizeof raw, "%s%s%s", cc[i].raw, n ? "-" : "", ver);
    cJSON_AddStringToObject(l, "raw", raw);
    cJSON_AddBoolToObject(l, "derivatives_allowed", cc[i].derivatives);
    cJSON_AddStringToObject(l, "url", url);
    return l;
  }
  cJSON_AddStringToObject(l, "raw", url);
  cJSON_AddStringToObject(l, "url", url);
  return l;
}

/* Builds the harvest record of one scrape item. NULL with err set when the
 * item has no usable identifier. */
static cJSON *record_of(const struct pq_config *cfg, const cJSON *item, char *err, size_t errlen) {
  const char *ident = jstr(item, "identifier");
  char id[256], url[2048];
  if (!ident || !ident[0]) {
    snprintf(err, errlen, "no \"identifier\"");
    return NULL;
  }
  snprintf(id, sizeof id, "ia-%s", ident);
  if (strlen(ident) > 190 || !pq_record_id_ok(id)) {
    snprintf(err, errlen, "identifier \"%.80s\" cannot name a paper (A-Z a-z 0-9 . _ : -)", ident);
    return NULL;
  }
  cJSON *r = cJSON_CreateObject();
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  char *title = as_text(cJSON_GetObjectItemCaseSensitive(item, "title"), 0);
  char *desc = as_text(cJSON_GetObjectItemCaseSensitive(item, "description"), 1);
  char *date = as_text(cJSON_GetObjectItemCaseSensitive(item, "date"), 0);
  char *lic = as_text(cJSON_GetObjectItemCaseSensitive(item, "licenseurl"), 0);
  const char *oai = strncmp(ident, "ChinaXiv-", 9) == 0 ? ident + 9 : ident;
  cJSON_AddStringToObject(r, "id", id);
  cJSON_AddStringToObject(r, "oai_identifier", oai);
  if (title)
    cJSON_AddStringToObject(r, "title", title);
  cJSON_AddItemToObject(r, "creators", as_list(cJSON_GetObjectItemCaseSensitive(item, "creator")));
  if (desc)
    cJSON_AddStringToObject(r, "abstract", desc);
  cJSON_AddItemToObject(r, "subjects", as_list(cJSON_GetObjectItemCaseSensitive(item, "subject")));
  if (date)
    cJSON_AddStringToObject(r, "date", date);
  /* Links point where the record came from: the real archive, or the
   * stand-in a test runs. */
  snprintf(url, sizeof url, "%s/details/%s", cfg->harvest.base_url, ident);
  cJSON_AddStringToObject(r, "source_url", url);
  snprintf(url, sizeof url, "%s/download/%s/%s.pdf", cfg->harvest.base_url, ident, ident);
  cJSON_AddStringToObject(r, "pdf_url", url);
  if (lic)
    cJSON_AddItemToObject(r, "license", license_of(lic));
  free(title);
  free(desc);
  free(date);
  free(lic);
  return r;
}

/* ---- requests ---------------------------------------------------------- */

struct client {
  const struct pq_config *cfg;
  char user_agent[256];
  int64_t next_ms; /* monotonic: the earliest start of the next request */
  long requests, retries;
};

/* Sleeps ms in short slices so that a signal stops the harvest promptly. */
static void nap(int64_t ms) {
  int64_t end = pq_mono_ms() + ms;
  while (!stop) {
    int64_t left = end - pq_mono_ms();
    if (left <= 0)
      break;
    struct timespec ts = {0, (left > 100 ? 100 : left) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

enum fetch_result {
  FETCH_PAGE = 0,    /* *page is the parsed answer */
  FETCH_REJECTED,    /* a 4xx other than 429: the request itself is wrong */
  FETCH_GAVE_UP,     /* retries exhausted */
  FETCH_INTERRUPTED, /* a signal */
};

/* GETs url until a well-formed page arrives, within the politeness rules. */
static enum fetch_result fetch_page(struct client *c, const char *url, cJSON **page, long *status,
                                    char *err, size_t errlen) {
  const struct pq_config *cfg = c->cfg;
  struct pq_http_get_opts o = {c->user_agent, cfg->harvest.timeout_s,
                               cfg->harvest.timeout_s < 30 ? cfg->harvest.timeout_s : 30,
                               (size_t)cfg->harvest.max_page_bytes};
  int64_t interval = 60000 / cfg->harvest.requests_per_minute;
  *page = NULL;
  *status = 0;
  for (int attempt = 0;; attempt++) {
    int64_t wait = c->next_ms - pq_mono_ms();
    if (wait > 0)
      nap(wait);
    if (stop)
      return FETCH_INTERRUPTED;
    c->next_ms = pq_mono_ms() + interval;
    c->requests++;
    struct pq_http_response r;
    char why[512];
    int rc = pq_http_get(url, &o, &r, why, sizeof why);
    *status = r.status;
    long retry_after = r.retry_after_ms;
    if (rc == PQ_OK && r.status == 200) {
      cJSON *j = cJSON_ParseWithLength(r.body, r.len);
      if (cJSON_IsObject(j) && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "items"))) {
        pq_http_response_free(&r);
        *page = j;
        return FETCH_PAGE;
      }
      cJSON_Delete(j);
      snprintf(why, sizeof why,
               "HTTP 200 but the page is not the scrape API's JSON "
               "(malformed or cut short: %zu bytes)",
               r.len);
    } else if (rc == PQ_OK && r.status >= 400 && r.status < 500 && r.status != 429 &&
               r.status != 408) {
      snprintf(err, errlen, "HTTP %ld: %.300s", r.status, r.body);
      pq_http_response_free(&r);
      return FETCH_REJECTED;
    } else if (rc == PQ_OK) {
      snprintf(why, sizeof why, "HTTP %ld%s", r.status,
               r.status == 429 ? " (too many requests)" : "");
    }
    pq_http_response_free(&r);
    if (attempt >= cfg->harvest.max_retries) {
      snprintf(err, errlen, "%s; gave up after %d retries", why, attempt);
      return FETCH_GAVE_UP;
    }
    /* Doubling backoff with jitter; the service's Retry-After wins when it
     * asks for longer. */
    int64_t delay = cfg->harvest.retry_base_ms;
    for (int i = 0; i < attempt && delay < cfg->harvest.retry_max_ms; i++)
      delay *= 2;
    if (delay > cfg->harvest.retry_max_ms)
      delay = cfg->harvest.retry_max_ms;
    delay = delay * (90 + (int64_t)(pq_hash64(url) % 21) + attempt) / 100;
    if (retry_after > delay)
      delay = retry_after;
    c->retries++;
    fprintf(stderr, "harvest: %s; retry %d of %d in %.1f s\n", why, attempt + 1,
            cfg->harvest.max_retries, (double)delay / 1000);
    if (c->next_ms < pq_mono_ms() + delay)
      c->next_ms = pq_mono_ms() + delay;
  }
}

static int scrape_url(const struct pq_config *cfg, const char *query, const char *cursor,
                      struct pq_buf *u) {
  char *q = pq_http_escape(query), *cur = cursor ? pq_http_escape(cursor) : NULL;
  int rc = PQ_ERR_NOMEM;
  if (q && (!cursor || cur)) {
    pq_buf_reset(u);
    rc = pq_buf_printf(u, "%s/services/search/v1/scrape?q=%s&fields=%s&count=%d",
                       cfg->harvest.base_url, q, FIELDS, cfg->harvest.page_size);
    if (!rc && cur)
      rc = pq_buf_printf(u, "&cursor=%s", cur);
  }
  free(q);
  free(cur);
  return rc;
}

/* ---- the command ------------------------------------------------------- */

/* --years LIST into a->years. */
static int parse_years(const char *list, struct args *a) {
  const char *p = list;
  while (*p) {
    char tok[16];
    size_t n = strcspn(p, ",");
    if (n == 0 || n >= sizeof tok || a->nyears == MAX_YEARS)
      return PQ_ERR_PARSE;
    memcpy(tok, p, n);
    tok[n] = '\0';
    if (pq_parse_long(tok, 1000, 9999, &a->years[a->nyears]) != PQ_OK)
      return PQ_ERR_PARSE;
    a->nyears++;
    p += n;
    if (*p == ',')
      p++;
  }
  return a->nyears ? PQ_OK : PQ_ERR_PARSE;
}

/* Returns PQ_EXIT_OK to go on, or the exit code of a usage error (explained). */
static int parse_args(int argc, char **argv, struct args *a) {
  char err[256];
  memset(a, 0, sizeof *a);
  a->limit = -1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *v;
    int r;
    if ((r = pq_cli_shared(argc, argv, &i, &a->cli, err, sizeof err)) != 0) {
      if (r < 0)
        return pq_cli_usage_error(PROGRAM, "%s", err);
    } else if ((r = pq_cli_value(argc, argv, &i, "out", 'o', &v)) != 0) {
      if (r < 0)
        return pq_cli_usage_error(PROGRAM, "--out needs a file name");
      a->out = v;
    } else if ((r = pq_cli_value(argc, argv, &i, "years", 'y', &v)) != 0) {
      if (r < 0 || parse_years(v, a) != PQ_OK)
        return pq_cli_usage_error(PROGRAM, "--years \"%s\": expected years like 2024,2025",
                                  v ? v : "");
    } else if ((r = pq_cli_value(argc, argv, &i, "from", 'f', &v)) != 0) {
      struct tm tm;
      memset(&tm, 0, sizeof tm);
      const char *end = r > 0 ? strptime(v, "%Y-%m-%d", &tm) : NULL;
      if (!end || *end || strlen(v) != 10)
        return pq_cli_usage_error(PROGRAM, "--from \"%s\": expected a date YYYY-MM-DD", v ? v : "");
      a->from = v;
    } else if ((r = pq_cli_value(argc, argv, &i, "limit", 'n', &v)) != 0) {
      if (r < 0 || pq_parse_long(v, 1, 1000000000L, &a->limit) != PQ_OK)
        return pq_cli_usage_error(PROGRAM, "--limit \"%s\": expected a number >= 1", v ? v : "");
    } else if (arg[0] == '-' && arg[1]) {
      return pq_cli_usage_error(PROGRAM, "unknown option %s", arg);
    } else {
      return pq_cli_usage_error(PROGRAM, "unexpected argument \"%s\"", arg);
    }
  }
  return PQ_EXIT_OK;
}

/* One harvest run: what it reads, where it writes, and what it counted. */
struct harvest {
  struct args a;
  struct pq_config cfg;
  struct pq_record_limits lim;
  struct client cl;
  struct state st;  /* the position, saved in state_path after every page */
  struct idset ids; /* the ids in the output */
  FILE *out;        /* the output, a JSON array after every page */
  char state_path[4200];
  struct pq_buf query, url;
  long written, rejected, dups, filtered, pages;
  int expired_restarts;
};

/* Opens the output: continues the harvest that FILE.cursor describes, or
 * starts a new one. Returns PQ_EXIT_OK to go on, else the exit code (with
 * *complete set when an earlier run already finished it). */
static int open_output(struct harvest *h, int *complete) {
  char err[8192];
  int found;
  *complete = 0;
  if (state_load(h->state_path, &h->st, &found, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "%s: %s\n", PROGRAM, err);
    return PQ_EXIT_USAGE;
  }
  if (!found) {
    if (access(h->a.out, F_OK) == 0) {
      fprintf(stderr,
              "%s: %s exists and %s does not: it is not a harvest in progress; remove it or "
              "choose another --out\n",
              PROGRAM, h->a.out, h->state_path);
      return PQ_EXIT_USAGE;
    }
    h->st.query = strdup(h->query.data);
    h->st.bytes = 1; /* just after "[" */
    h->out = fopen(h->a.out, "w+b");
    if (!h->st.query || !h->out || fputs("[", h->out) < 0 ||
        output_close_array(h->out, h->st.bytes) != PQ_OK ||
        state_save(h->state_path, &h->st) != PQ_OK) {
      fprintf(stderr, "%s: cannot write %s: %s\n", PROGRAM, h->a.out, strerror(errno));
      return PQ_EXIT_RUNTIME;
    }
    return PQ_EXIT_OK;
  }
  if (strcmp(h->st.query, h->query.data) != 0) {
    fprintf(stderr,
            "%s: %s belongs to another query (\"%s\", this run asks \"%s\"): give the same "
            "--years/--from, or another --out\n",
            PROGRAM, h->state_path, h->st.query, h->query.data);
    return PQ_EXIT_USAGE;
  }
  if (h->st.done) {
    printf("%s is complete: %ld records (remove it and %s to harvest again)\n", h->a.out,
           h->st.records, h->state_path);
    *complete = 1;
    return PQ_EXIT_OK;
  }
  h->out = fopen(h->a.out, "r+b");
  if (!h->out) {
    fprintf(stderr, "%s: cannot open %s to continue it: %s\n", PROGRAM, h->a.out, strerror(errno));
    return PQ_EXIT_USAGE;
  }
  /* Whatever was written after the last saved page is cut off: that page
   * is fetched again from the saved cursor. */
  err[0] = '\0';
  if (output_close_array(h->out, h->st.bytes) != PQ_OK ||
      load_ids(h->a.out, &h->ids, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "%s: %s: %s\n", PROGRAM, h->a.out, err[0] ? err : strerror(errno));
    return PQ_EXIT_RUNTIME;
  }
  fprintf(stderr, "harvest: continuing %s: %ld records so far\n", h->a.out, h->st.records);
  return PQ_EXIT_OK;
}

/* One item of a page: written, or counted as filtered, rejected (said on
 * stderr with its reason) or a duplicate. Returns 1 when it was written, 0
 * when not, -1 when the harvest cannot go on (said). */
static int take_item(struct harvest *h, const cJSON *item, int i) {
  char why[512], where[64];
  snprintf(where, sizeof where, "page %ld item %d", h->pages, i + 1);
  cJSON *rec = record_of(&h->cfg, item, why, sizeof why), *norm = NULL;
  if (!rec) {
    fprintf(stderr, "harvest: %s: %s; skipped\n", where, why);
    h->rejected++;
    return 0;
  }
  int rc = 0;
  if (!date_wanted(&h->a, jstr(rec, "date"))) {
    h->filtered++;
  } else if (pq_record_normalize(rec, 1, &h->lim, NULL, &norm, why, sizeof why) != PQ_OK) {
    /* The producer would reject it: say so now, with its reason. */
    fprintf(stderr, "harvest: %s: %s; skipped\n", where, why);
    h->rejected++;
  } else {
    int added = idset_add(&h->ids, jstr(rec, "id"));
    if (added < 0) {
      fprintf(stderr, "%s: out of memory\n", PROGRAM);
      rc = -1;
    } else if (added == 0) {
      h->dups++;
    } else {
      char *text = cJSON_PrintUnformatted(rec);
      if (!text || output_append(h->out, &h->st, text) != PQ_OK) {
        fprintf(stderr, "%s: cannot write %s: %s\n", PROGRAM, h->a.out, strerror(errno));
        rc = -1;
      } else {
        h->written++;
        rc = 1;
      }
      cJSON_free(text);
    }
  }
  cJSON_Delete(norm);
  cJSON_Delete(rec);
  return rc;
}

/* Writes one page's items from st.skip on, then saves the position: the
 * rest of this page after a --limit stop, else the next page. Returns PQ_OK,
 * or an error (said); *stop_here is set when the harvest ends with it. */
static int take_page(struct harvest *h, const cJSON *page, int *stop_here) {
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(page, "items");
  const char *next = jstr(page, "cursor");
  long total = jlong(page, "total");
  int n = cJSON_GetArraySize(items), i, limited = 0, new_here = 0;
  h->pages++;
  for (i = (int)h->st.skip; i < n; i++) {
    if (h->a.limit >= 0 && h->written >= h->a.limit) {
      limited = 1;
      break;
    }
    int r = take_item(h, cJSON_GetArrayItem(items, i), i);
    if (r < 0)
      return PQ_ERR_IO;
    new_here += r;
  }
  if (new_here > 0)
    h->expired_restarts = 0;
  if (limited) {
    h->st.skip = i;
  } else {
    free(h->st.cursor);
    h->st.cursor = pq_strdup(next);
    h->st.skip = 0;
    h->st.done = next == NULL;
  }
  if (output_close_array(h->out, h->st.bytes) != PQ_OK ||
      state_save(h->state_path, &h->st) != PQ_OK) {
    fprintf(stderr, "%s: cannot write %s or %s: %s\n", PROGRAM, h->a.out, h->state_path,
            strerror(errno));
    return PQ_ERR_IO;
  }
  fprintf(stderr, "harvest: page %ld: %d items, %d new; %ld records in %s", h->pages, n, new_here,
          h->st.records, h->a.out);
  if (total >= 0)
    fprintf(stderr, " (the service counts %ld from this page on)", total);
  fprintf(stderr, "\n");
  *stop_here = h->st.done || limited || (h->a.limit >= 0 && h->written >= h->a.limit);
  if (!*stop_here && n == 0) {
    /* A page with no items but a cursor: nothing more to read now. */
    fprintf(stderr, "harvest: an empty page with a cursor; stopping here\n");
    *stop_here = 1;
  }
  return PQ_OK;
}

/* Page after page until the end, --limit or a signal. Returns PQ_OK, or an
 * error after saying how to continue. */
static int harvest_pages(struct harvest *h) {
  char err[8192];
  while (!stop) {
    long status;
    cJSON *page = NULL;
    if (scrape_url(&h->cfg, h->st.query, h->st.cursor, &h->url) != PQ_OK) {
      fprintf(stderr, "%s: the request URL is too long\n", PROGRAM);
      return PQ_ERR_NOMEM;
    }
    enum fetch_result fr = fetch_page(&h->cl, h->url.data, &page, &status, err, sizeof err);
    if (fr == FETCH_INTERRUPTED)
      break;
    if (fr == FETCH_REJECTED && h->st.cursor && h->expired_restarts < EXPIRED_RESTARTS) {
      /* The service no longer knows our cursor (they expire): start the
       * query again; the ids already written are skipped. */
      fprintf(stderr,
              "harvest: the service refused the saved cursor (%s); starting the query again "
              "and skipping the %zu papers already written\n",
              err, h->ids.n);
      free(h->st.cursor);
      h->st.cursor = NULL;
      h->st.skip = 0;
      h->expired_restarts++;
      continue;
    }
    if (fr != FETCH_PAGE) {
      fprintf(stderr, "%s: %s%s: %s\n", PROGRAM, h->url.data,
              fr == FETCH_REJECTED ? " was refused" : "", err);
      fprintf(stderr,
              "%s: %ld records in %s; the position is saved in %s: run the same command again "
              "to continue\n",
              PROGRAM, h->st.records, h->a.out, h->state_path);
      return PQ_ERR_IO;
    }
    int stop_here = 0;
    int rc = take_page(h, page, &stop_here);
    cJSON_Delete(page);
    if (rc != PQ_OK)
      return rc;
    if (stop_here)
      break;
  }
  return PQ_OK;
}

int producer_harvest(int argc, char **argv) {
  struct harvest h;
  memset(&h, 0, sizeof h);
  int rc = parse_args(argc, argv, &h.a);
  if (rc != PQ_EXIT_OK)
    return rc;
  int early = pq_cli_start("paperq-producer", &h.a.cli, usage, &h.cfg);
  if (early >= 0)
    return early;
  if (!h.a.out || !h.a.out[0]) {
    fprintf(stderr, "%s: give --out FILE (see --help)\n", PROGRAM);
    pq_config_free(&h.cfg);
    return PQ_EXIT_USAGE;
  }
  h.lim = (struct pq_record_limits){(size_t)h.cfg.limits.max_record_bytes,
                                    (size_t)h.cfg.limits.max_title_bytes,
                                    (size_t)h.cfg.limits.max_abstract_bytes};
  h.cl.cfg = &h.cfg;
  snprintf(h.cl.user_agent, sizeof h.cl.user_agent,
           "paperq/%s (paperq-producer harvest; translation of ChinaXiv preprints)",
           PAPERQ_VERSION);
  snprintf(h.state_path, sizeof h.state_path, "%s.cursor", h.a.out);
  pq_buf_init(&h.query, 64 * 1024);
  pq_buf_init(&h.url, 128 * 1024);

  int complete = 0;
  if (build_query(&h.cfg, &h.a, &h.query) != PQ_OK) {
    fprintf(stderr, "%s: the query is too long\n", PROGRAM);
    rc = PQ_EXIT_USAGE;
  } else {
    rc = open_output(&h, &complete);
  }
  if (rc == PQ_EXIT_OK && !complete) {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (harvest_pages(&h) != PQ_OK) {
      rc = PQ_EXIT_RUNTIME;
    } else {
      printf("harvested %ld new records into %s (%ld in all); %ld rejected, %ld duplicates, %ld "
             "outside --years/--from; %ld requests, %ld retries; %s\n",
             h.written, h.a.out, h.st.records, h.rejected, h.dups, h.filtered, h.cl.requests,
             h.cl.retries,
             h.st.done ? "complete"
             : stop    ? "interrupted: run the same command again to continue"
                       : "more to come: run the same command again to continue");
      rc = stop ? PQ_EXIT_RUNTIME : PQ_EXIT_OK;
    }
  }
  if (h.out)
    fclose(h.out);
  idset_free(&h.ids);
  state_free(&h.st);
  pq_buf_free(&h.query);
  pq_buf_free(&h.url);
  pq_config_free(&h.cfg);
  return rc;
}
