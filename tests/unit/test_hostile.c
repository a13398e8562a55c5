/* Hostile input (issue 13): each numbered item of the issue has a check
 * here that failed on the code before its fix (commit 4605a52). Nothing that
 * arrives, a file, a message or a reply, may crash, wedge, leak, lie or
 * reach the terminal unescaped. Items needing the real programs are in
 * tests/integration/test_hostile.py. */
#include "db.h"
#include "db_internal.h" /* the connection, to lower its length limit */
#include "report.h"

#include "paperq/chat.h"
#include "paperq/config.h"
#include "paperq/job.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/record.h"
#include "paperq/textutil.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/pq-hostile-XXXXXX";
static const struct pq_record_limits lim = {1048576, 4096, 65536};

static const char *path_in(const char *name) {
  static char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f)
    return;
  CHECK(fwrite(data, 1, len, f) == len);
  fclose(f);
}

/* Reads every record of path; returns the number of good ones and puts the
 * first rejection ("where: reason") in first_bad. */
static int read_all(const char *path, char *first_bad, size_t len, int *bad) {
  /* first_bad holds at least 1024 bytes */
  struct pq_record_reader *r;
  char where[256], err[700];
  int good = 0, rc;
  cJSON *rec;
  *bad = 0;
  first_bad[0] = '\0';
  if (pq_record_reader_open(path, &lim, &r, err, sizeof err) != PQ_OK) {
    snprintf(first_bad, len, "open: %s", err);
    return -1;
  }
  while ((rc = pq_record_reader_next(r, &rec, where, sizeof where, err, sizeof err)) != PQ_OK ||
         rec) {
    if (rc == PQ_ERR_PARSE) {
      if (!(*bad)++)
        snprintf(first_bad, len, "%s: %s", where, err);
      continue;
    }
    if (rc != PQ_OK)
      break;
    good++;
    cJSON_Delete(rec);
  }
  pq_record_reader_close(r);
  return good;
}

static long max_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* A job for paper id whose record has n body blocks. */
static char *job_with_blocks(const char *id, long n, size_t *len) {
  const char *blk = "{\"kind\":\"paragraph\",\"text\":\"x\"},";
  size_t bl = strlen(blk), cap = (size_t)n * bl + 512;
  char *s = malloc(cap);
  if (!s)
    return NULL;
  size_t at = (size_t)snprintf(s, cap,
                               "{\"v\":1,\"paper_id\":\"%s\",\"gen\":0,\"record\":{\"id\":\"%s\","
                               "\"title\":\"t\",\"abstract\":\"a\",\"body\":[",
                               id, id);
  for (long i = 0; i < n; i++, at += bl)
    memcpy(s + at, blk, bl);
  if (n)
    at--; /* the last comma */
  at += (size_t)snprintf(s + at, cap - at, "]}}");
  *len = at;
  return s;
}

static int decode(const char *body, char *err, size_t errlen, struct pq_job *job) {
  int rc = pq_job_decode(body, strlen(body), job, err, errlen);
  return rc;
}

/* Item 1: a record's size bounds, in the decoder every program uses. */
static void item1_bounds(void) {
  size_t len;
  char err[512];
  struct pq_job job;
  char *body = job_with_blocks("huge-1", 1200000, &len);
  CHECK(body != NULL);
  CHECK(pq_job_decode(body, len, &job, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "record.body has 1200000 blocks (limit 10000)") != NULL);
  CHECK_STR(job.paper_id, "huge-1"); /* the ledger can still park it by name */
  pq_job_free(&job);
  free(body);
  body = job_with_blocks("fine-1", 130, &len); /* the most real data has */
  CHECK(pq_job_decode(body, len, &job, err, sizeof err) == PQ_OK);
  pq_job_free(&job);
  free(body);
  /* The producer refuses the same record before queueing it, by file:line. */
  body = job_with_blocks("huge-2", PQ_RECORD_MAX_BLOCKS + 1, &len);
  char *rec = strstr(body, "\"record\":") + 9;
  size_t rlen = strlen(rec) - 1; /* without the job's closing brace */
  char *line = malloc(rlen + 2);
  memcpy(line, rec, rlen);
  line[rlen] = '\n';
  write_file(path_in("blocks.jsonl"), line, rlen + 1);
  free(line);
  free(body);
  struct pq_record_limits big = {16u << 20, 4096, 65536};
  struct pq_record_reader *r;
  cJSON *out;
  char where[256];
  CHECK(pq_record_reader_open(path_in("blocks.jsonl"), &big, &r, err, sizeof err) == PQ_OK);
  CHECK(pq_record_reader_next(r, &out, where, sizeof where, err, sizeof err) == PQ_ERR_PARSE);
  CHECK_STR(where, "blocks.jsonl:1");
  CHECK(strstr(err, "huge-2") && strstr(err, "record.body has 10001 blocks (limit 10000)"));
  pq_record_reader_close(r);
  /* Lists and single fields are bounded too. */
  CHECK(decode("{\"paper_id\":\"l-1\",\"record\":{\"id\":\"l-1\",\"title\":\"t\",\"authors\":"
               "[\"a\",3]}}",
               err, sizeof err, &job) == PQ_ERR_PARSE);
  CHECK(strstr(err, "authors[1]") != NULL);
  pq_job_free(&job);
}

/* Item 3: absurd usage in a reply is a malformed reply, never a number
 * cast or summed; in an event it makes a bad message. */
static void item3_usage(void) {
  static const char *const replies[] = {
      "{\"choices\":[{\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":9e18,\"completion_tokens\":9e18}}",
      "{\"choices\":[{\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":1}}",
      "{\"choices\":[{\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":-5}}",
      "{\"choices\":[{\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"cost\":1e300}}",
  };
  for (size_t i = 0; i < sizeof replies / sizeof *replies; i++) {
    struct pq_chat_result res;
    pq_chat_parse(200, replies[i], strlen(replies[i]), NULL, &res);
    CHECK(res.cls == PQ_CLASS_TRANSIENT);
    CHECK(strstr(res.error, "usage") != NULL);
    pq_chat_result_free(&res);
  }
  struct pq_chat_result res;
  const char *fine = "{\"choices\":[{\"message\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"cost\":0.001}}";
  pq_chat_parse(200, fine, strlen(fine), NULL, &res);
  CHECK(res.cls == PQ_CLASS_OK && res.prompt_tokens == 10 && res.cost_usd == 0.001);
  pq_chat_result_free(&res);
}

static struct ledger_db *db;

static enum ledger_outcome apply(const char *type, const char *body, int *rc_out) {
  struct ledger_msg m = {0};
  m.type = type;
  m.body = body;
  m.len = strlen(body);
  m.received_ms = 1764406800000LL;
  enum ledger_outcome out = LEDGER_APPLIED;
  int rc = ledger_db_apply(db, &m, &out);
  if (rc_out)
    *rc_out = rc;
  CHECK(rc == PQ_OK);
  CHECK(ledger_db_commit(db) == PQ_OK);
  return out;
}

static long long counter(int which) {
  struct ledger_counters c;
  CHECK(ledger_db_counters(db, &c) == PQ_OK);
  return c.n[which];
}

static void ledger_items(void) {
  char err[512];
  CHECK(ledger_db_open(path_in("ledger.db"), LEDGER_DB_CREATE, &db, err, sizeof err) == PQ_OK);
  const char *E = PQ_MSG_TYPE_EVENT;
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"q1\",\"kind\":\"job.queued\",\"ts\":1764406800000,"
              "\"paper_id\":\"p-1\",\"gen\":0,\"record\":{\"id\":\"p-1\",\"title\":\"t\"}}",
              NULL) == LEDGER_APPLIED);
  /* Item 3: absurd numbers are bad messages; the counters stay sane. */
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"f1\",\"kind\":\"job.failed\",\"ts\":1764406800001,"
              "\"paper_id\":\"p-1\",\"gen\":0,\"attempt\":1,\"worker\":\"w\","
              "\"usage\":{\"prompt_tokens\":9e18,\"completion_tokens\":9e18},\"cost_usd\":1}",
              NULL) == LEDGER_BAD);
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"f2\",\"kind\":\"job.failed\",\"ts\":1764406800001,"
              "\"paper_id\":\"p-1\",\"gen\":0,\"attempt\":1,\"worker\":\"w\","
              "\"usage\":{\"prompt_tokens\":1},\"cost_usd\":1e300}",
              NULL) == LEDGER_BAD);
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"f3\",\"kind\":\"job.failed\",\"ts\":1764406800001,"
              "\"paper_id\":\"p-1\",\"gen\":0,\"attempt\":1,\"worker\":\"w\","
              "\"usage\":{\"prompt_tokens\":-7},\"cost_usd\":0}",
              NULL) == LEDGER_BAD);
  CHECK(counter(LC_PROMPT_TOKENS) == 0);
  /* Item 3: an event the database refuses (here: a record longer than
   * SQLite's length limit, lowered for the test) is recorded as bad and the
   * ledger goes on with the rest of the batch, instead of stopping on it
   * forever. */
  sqlite3_limit(ledger_db_conn(db), SQLITE_LIMIT_LENGTH, 100000);
  static const char *const heads[] = {
      "{\"v\":1,\"id\":\"b1\",\"kind\":\"job.queued\",\"ts\":1764406800002,"
      "\"paper_id\":\"p-2\",\"gen\":0,\"record\":{\"id\":\"p-2\",\"title\":\"",
      "{\"v\":1,\"id\":\"b2\",\"kind\":\"job.succeeded\",\"ts\":1764406800002,"
      "\"paper_id\":\"p-1\",\"gen\":0,\"attempt\":1,\"worker\":\"w\","
      "\"usage\":{\"prompt_tokens\":5},\"translation\":{\"title_en\":\""};
  for (int i = 0; i < 2; i++) {
    char *big = malloc(300000);
    int at = snprintf(big, 300000, "%s", heads[i]);
    memset(big + at, 'x', 200000);
    snprintf(big + at + 200000, 300000 - (size_t)at - 200000, "\"}}");
    int rc = PQ_ERR;
    CHECK(apply(E, big, &rc) == LEDGER_BAD);
    CHECK(rc == PQ_OK);
    free(big);
  }
  CHECK(counter(LC_PROMPT_TOKENS) == 0); /* undone whole, counters included */
  CHECK(counter(LC_PAPERS) == 1);
  CHECK(counter(LC_BAD) == 5);
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"s2\",\"kind\":\"job.started\",\"ts\":1764406800003,"
              "\"paper_id\":\"p-1\",\"gen\":0,\"attempt\":1,\"worker\":\"w\"}",
              NULL) == LEDGER_APPLIED);
  /* Item 4: gen and attempt are checked by the same rule as the decoder. */
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"g1\",\"kind\":\"job.started\",\"ts\":1764406800004,"
              "\"paper_id\":\"p-1\",\"gen\":-1,\"attempt\":1,\"worker\":\"w\"}",
              NULL) == LEDGER_BAD);
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"g2\",\"kind\":\"job.started\",\"ts\":1764406800004,"
              "\"paper_id\":\"p-1\",\"gen\":0.5,\"attempt\":1,\"worker\":\"w\"}",
              NULL) == LEDGER_BAD);
  /* Item 10: a ts of 1e300 is a bad message, not an undefined cast. */
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"t1\",\"kind\":\"job.started\",\"ts\":1e300,"
              "\"paper_id\":\"p-1\",\"gen\":0,\"attempt\":1,\"worker\":\"w\"}",
              NULL) == LEDGER_BAD);
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"t2\",\"kind\":\"worker.heartbeat\",\"ts\":1764406800005,"
              "\"worker\":\"w\",\"in_flight\":1e300,\"started_ms\":1}",
              NULL) == LEDGER_BAD);
  /* Item 1 at the ledger: a job parked because the decoder refused it is
   * parked by name (its spend and fate do not vanish). */
  size_t len;
  char *huge = job_with_blocks("huge-3", 20000, &len);
  struct ledger_msg m = {0};
  m.type = PQ_MSG_TYPE_JOB;
  m.body = huge;
  m.len = len;
  m.park_reason = "permanent: undecodable job: record.body has 20000 blocks (limit 10000)";
  m.attempt = 1;
  enum ledger_outcome out = LEDGER_BAD;
  CHECK(ledger_db_apply(db, &m, &out) == PQ_OK && out == LEDGER_APPLIED);
  CHECK(ledger_db_commit(db) == PQ_OK);
  free(huge);
  CHECK(counter(LC_STATE0 + LEDGER_PARKED) == 1);

  /* Item 9: an ESC sequence in a worker.fatal error is printed escaped. */
  CHECK(apply(E,
              "{\"v\":1,\"id\":\"x1\",\"kind\":\"worker.fatal\",\"ts\":1764406800006,"
              "\"worker\":\"evil\\nhost:1\",\"error\":\"http 401: \\u001b[2J\\u001b[Hgone\"}",
              NULL) == LEDGER_APPLIED);
  struct pq_config cfg;
  CHECK(pq_config_load(NULL, &cfg, err, sizeof err) == PQ_OK);
  free(cfg.ledger.db);
  cfg.ledger.db = strdup(path_in("ledger.db"));
  cJSON *rep = NULL;
  CHECK(ledger_report_build(db, &cfg, 1764406900000LL, &rep) == PQ_OK);
  FILE *f = fopen(path_in("report.txt"), "w+");
  ledger_report_print(rep, f);
  fflush(f);
  rewind(f);
  char text[16384];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  cJSON_Delete(rep);
  pq_config_free(&cfg);
  CHECK(memchr(text, 0x1b, n) == NULL);
  CHECK(strstr(text, "http 401: \\x1b[2J\\x1b[Hgone") != NULL);
  CHECK(strstr(text, "evil\\nhost:1") != NULL);
  ledger_db_close(db);
}

/* Items 7, 8, 10, 11 (directory): the record reader. */
static void reader_items(void) {
  char bad[1024];
  int nbad;
  /* Item 8: invalid UTF-8 and \u0000 rejected, naming the file:line. */
  const char lines[] = "{\"id\":\"ok-1\",\"title\":\"good\"}\n"
                       "{\"id\":\"ovl-1\",\"title\":\"\xc0\x80\"}\n"
                       "{\"id\":\"sur-1\",\"title\":\"\xed\xa0\x80\"}\n"
                       "{\"id\":\"bom-1\",\"title\":\"\xff\xfe\"}\n"
                       "{\"id\":\"nul\\u0000id\",\"title\":\"x\"}\n"
                       "{\"id\":\"nul-2\",\"title\":\"a\\u0000b\"}\n"
                       "{\"id\":\"ok-2\",\"title\":\"a backslash-u: \\\\u0000 is text\"}\n";
  write_file(path_in("utf8.jsonl"), lines, sizeof lines - 1);
  CHECK(read_all(path_in("utf8.jsonl"), bad, sizeof bad, &nbad) == 2);
  CHECK(nbad == 5);
  CHECK(strstr(bad, "utf8.jsonl:2: invalid UTF-8") != NULL);
  struct pq_record_reader *r;
  char where[256], err[512];
  cJSON *rec;
  CHECK(pq_record_reader_open(path_in("utf8.jsonl"), &lim, &r, err, sizeof err) == PQ_OK);
  const char *expect[] = {NULL,
                          "utf8.jsonl:2: invalid UTF-8",
                          "utf8.jsonl:3: invalid UTF-8",
                          "utf8.jsonl:4: invalid UTF-8",
                          "utf8.jsonl:5: a string holds \\u0000",
                          "utf8.jsonl:6: a string holds \\u0000",
                          NULL};
  for (int i = 0; i < 7; i++) {
    int rc = pq_record_reader_next(r, &rec, where, sizeof where, err, sizeof err);
    char got[800];
    snprintf(got, sizeof got, "%s: %s", where, err);
    if (expect[i]) {
      CHECK(rc == PQ_ERR_PARSE && strstr(got, expect[i]) != NULL);
    } else {
      CHECK(rc == PQ_OK && rec != NULL);
    }
    cJSON_Delete(rec);
  }
  pq_record_reader_close(r);

  /* Item 10: a year of 1e300 is an error, not an undefined cast. */
  const char years[] = "{\"id\":\"y-1\",\"title\":\"t\",\"year\":1e300}\n"
                       "{\"id\":\"y-2\",\"title\":\"t\",\"year\":-1e300}\n"
                       "{\"id\":\"y-3\",\"title\":\"t\",\"year\":2016}\n";
  write_file(path_in("years.jsonl"), years, sizeof years - 1);
  CHECK(read_all(path_in("years.jsonl"), bad, sizeof bad, &nbad) == 1 && nbad == 2);
  CHECK(strstr(bad, "years.jsonl:1: paper y-1: field \"year\"") != NULL);

  /* Item 11: a directory as --input says so. */
  CHECK(mkdir(path_in("adir"), 0700) == 0);
  CHECK(pq_record_reader_open(path_in("adir"), &lim, &r, err, sizeof err) == PQ_ERR_IO);
  CHECK(strstr(err, "Is a directory") != NULL);
}

/* Item 7: run first, while the process's peak RSS is still small. */
static void item7_long_line(void) {
  char bad[1024];
  int nbad;
  /* Item 7: a 48 MB line costs no memory: it is skipped with a clear error,
   * and the record after it is read. */
  const size_t big = 48u << 20;
  char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  chunk[0] = '{';
  FILE *f = fopen(path_in("long.jsonl"), "wb"); /* written in pieces: this process's peak
                                                   RSS must stay small */
  CHECK(f != NULL);
  for (size_t at = 0; f && at < big; at += sizeof chunk) {
    CHECK(fwrite(chunk, 1, sizeof chunk, f) == sizeof chunk);
    chunk[0] = 'x';
  }
  if (f) {
    fputs("\n{\"id\":\"after-1\",\"title\":\"t\"}\n", f);
    fclose(f);
  }
  long before = max_rss_kb();
  CHECK(read_all(path_in("long.jsonl"), bad, sizeof bad, &nbad) == 1 && nbad == 1);
  long grown = max_rss_kb() - before;
  fprintf(stderr, "  reading a 48 MB line: peak RSS grew %ld KB\n", grown);
  CHECK(grown < 16 * 1024);
  CHECK(strstr(bad, "long.jsonl:1: record too large (50331648 bytes, limit 1048576") != NULL);
  unlink(path_in("long.jsonl"));
}

/* Items 5, 6, 11: configuration. */
static int load(const char *text, char *err, size_t errlen) {
  struct pq_config cfg;
  write_file(path_in("t.conf"), text, strlen(text));
  int rc = pq_config_load(path_in("t.conf"), &cfg, err, errlen);
  pq_config_free(&cfg);
  return rc;
}

static void config_items(void) {
  char err[1024];
  unsetenv("PAPERQ_CONFIG");
  unsetenv("PAPERQ_LEDGER_DB");
  /* Item 6: integers past 32 bits are refused, not wrapped. */
  CHECK(load("worker: {\n  concurrency = 4294967312;\n};\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:2: worker.concurrency = \"4294967312\"") != NULL);
  CHECK(load("worker: {\n  concurrency = 4294967312L;\n};\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(load("broker: { heartbeat_s = 0x100000005; };\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:1: broker.heartbeat_s") != NULL);
  CHECK(load("worker: { concurrency = 32; };\n", err, sizeof err) == PQ_OK);
  /* Item 5: an empty ledger path is refused, from the file or the env. */
  CHECK(load("ledger: {\n db = \"\";\n};\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:2: ledger.db") != NULL);
  setenv("PAPERQ_LEDGER_DB", "", 1);
  CHECK(load("", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "environment variable PAPERQ_LEDGER_DB: ledger.db") != NULL);
  unsetenv("PAPERQ_LEDGER_DB");
  /* Item 11: a bad environment value is blamed on its variable. */
  setenv("PAPERQ_TRANSLATE_BASE_URL", "ftp://x", 1);
  CHECK(load("", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "environment variable PAPERQ_TRANSLATE_BASE_URL") != NULL);
  unsetenv("PAPERQ_TRANSLATE_BASE_URL");
  setenv("PAPERQ_RETRY_DELAYS_MS", "10,x", 1);
  CHECK(load("", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "environment variable PAPERQ_RETRY_DELAYS_MS") != NULL);
  unsetenv("PAPERQ_RETRY_DELAYS_MS");
  /* Item 11: retry.delays_ms errors give the line. */
  CHECK(load("# c\nretry: {\n  delays_ms = \"10,,20\";\n};\n", err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "t.conf:3: retry.delays_ms") != NULL);
  /* Item 11: a long broker.prefix is refused, not cut (two long prefixes
   * would share queues). */
  char conf[512], pre[160];
  memset(pre, 'p', 150);
  pre[150] = '\0';
  snprintf(conf, sizeof conf, "broker: { prefix = \"%s\"; };\n", pre);
  CHECK(load(conf, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "broker.prefix must be 1 to 100 characters") != NULL);
}

/* Item 4 and 11: the job decoder. */
static void job_items(void) {
  char err[512];
  struct pq_job job;
  static const char *const gens[] = {"-1", "1e300", "0.5", "\"1\"", "1e10"};
  for (size_t i = 0; i < sizeof gens / sizeof *gens; i++) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"paper_id\":\"g-1\",\"gen\":%s,\"record\":{\"id\":\"g-1\",\"title\":\"t\"}}",
             gens[i]);
    CHECK(decode(body, err, sizeof err, &job) == PQ_ERR_PARSE);
    CHECK(strstr(err, "gen must be an integer from 0 to 1000000000") != NULL);
    CHECK_STR(job.paper_id, "g-1");
    pq_job_free(&job);
  }
  CHECK(pq_job_attempt_ok(1) && pq_job_attempt_ok(PQ_JOB_MAX_ATTEMPT));
  CHECK(!pq_job_attempt_ok(2147483647.0) && !pq_job_attempt_ok(0) && !pq_job_attempt_ok(1e300));
  /* A job whose paper_id is not its record's id: a re-encoded copy (retry,
   * QA job) would have changed papers. */
  CHECK(decode("{\"paper_id\":\"a-1\",\"record\":{\"id\":\"b-1\",\"title\":\"t\"}}", err,
               sizeof err, &job) == PQ_ERR_PARSE);
  CHECK(strstr(err, "carries the record of paper b-1") != NULL);
  pq_job_free(&job);
}

/* Item 9: log lines and printed text are escaped. */
static void escape_items(void) {
  char out[64];
  pq_text_escape("a\x1b[2Jb\nc\xc2\x9b", 10, out, sizeof out);
  CHECK_STR(out, "a\\x1b[2Jb\\nc\\u009b");
  pq_text_escape("汉字 ok", strlen("汉字 ok"), out, sizeof out);
  CHECK_STR(out, "汉字 ok");
  pq_text_escape("汉字", 6, out, 5); /* cut at a character boundary */
  CHECK_STR(out, "汉");
  /* pq_log: a newline in an id does not split the line. */
  int saved = dup(2);
  int fd = open(path_in("log.txt"), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  dup2(fd, 2);
  pq_log_init("test");
  pq_warn("paper %s: failed", "id\nFAKE worker[1] error: injected\x1b[2J");
  dup2(saved, 2);
  close(fd);
  close(saved);
  FILE *f = fopen(path_in("log.txt"), "r");
  char text[1024];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  CHECK(n > 0 && text[n - 1] == '\n' && strchr(text, '\n') == text + n - 1);
  CHECK(strstr(text, "paper id\\nFAKE worker[1] error: injected\\x1b[2J: failed") != NULL);
}

int main(void) {
  if (!mkdtemp(dir))
    return 2;
  item7_long_line();
  item1_bounds();
  item3_usage();
  ledger_items();
  reader_items();
  config_items();
  job_items();
  escape_items();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
