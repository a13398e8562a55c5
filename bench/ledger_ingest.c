/* Ledger ingest benchmark: applies job.queued, job.started and job.succeeded
 * for N papers (default 1,000,000) through ledger_db_apply in batches of
 * ledger.batch events per transaction, the way `paperq-ledger serve` does
 * minus the broker, then times `report` on the result. Prints figures, not
 * pass/fail. Usage: bench_ledger_ingest [PAPERS [DIR [BATCH]]]
 * PQ_BENCH_KEEP=1 keeps the database (to time `paperq-ledger report` on it). */
#include "db.h"
#include "report.h"

#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A realistic size: ChinaXiv abstracts are ~300 CJK characters (~900 bytes). */
static const char *abstract_zh(void) {
  static char buf[1024];
  if (!buf[0]) {
    size_t n = 0;
    while (n + 6 < 900) {
      memcpy(buf + n, "研究", 6); /* two 3-byte UTF-8 characters */
      n += 6;
    }
    buf[n] = '\0';
  }
  return buf;
}

int main(int argc, char **argv) {
  long papers = 1000000, batch = 500;
  const char *dir = argc > 2 ? argv[2] : "/tmp";
  char path[512], err[512];
  if (argc > 1 && pq_parse_long(argv[1], 1, 100000000, &papers)) {
    fprintf(stderr, "usage: %s [PAPERS [DIR [BATCH]]]\n", argv[0]);
    return 2;
  }
  if (argc > 3 && pq_parse_long(argv[3], 1, 1000000, &batch)) {
    fprintf(stderr, "usage: %s [PAPERS [DIR [BATCH]]]\n", argv[0]);
    return 2;
  }
  pq_log_init("bench");
  pq_log_set_level(PQ_LOG_WARN);
  snprintf(path, sizeof path, "%s/paperq-bench-ledger-%ld.db", dir, (long)getpid());
  struct ledger_db *db = NULL;
  if (ledger_db_open(path, LEDGER_DB_CREATE, &db, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  char *body = malloc(8192);
  if (!body)
    return 1;
  const char *abs = abstract_zh();
  int64_t t0 = pq_now_ms();
  long long events = 0, in_batch = 0;
  double applied_s = 0;
  struct ledger_msg m = {0};
  m.type = PQ_MSG_TYPE_EVENT;
  /* Three passes in the order a fleet produces them: the producer queues
   * everything, workers start and finish papers. Interleaving start and
   * success per paper is what the ledger queue sees at steady state. */
  for (int pass = 0; pass < 2; pass++) {
    for (long i = 0; i < papers; i++) {
      /* k: 0 queued, 1 started, 2 succeeded, 3-4 two judges on 10% of papers */
      int last = pass == 0 ? 1 : (i % 10 == 0 ? 5 : 3);
      for (int k = pass == 0 ? 0 : 1; k < last; k++) {
        int64_t ts = t0 + i / 10 + k;
        int n;
        if (k == 0)
          n = snprintf(
              body, 8192,
              "{\"v\":1,\"id\":\"%032lx\",\"kind\":\"job.queued\",\"ts\":%lld,"
              "\"paper_id\":\"chinaxiv-%09ld\",\"gen\":0,\"origin\":\"bench.jsonl:%ld\","
              "\"record\":{\"id\":\"chinaxiv-%09ld\",\"title\":"
              "\"国史知识的语义揭示与组织方法研究\","
              "\"abstract\":\"%s\",\"authors\":[\"王颖\",\"张智雄\"],\"keywords\":[\"本体\"],"
              "\"subjects\":[\"G 文化\"],\"date\":\"2016-01\",\"year\":2016,"
              "\"license\":\"CC-BY-4.0\",\"origin\":\"bench.jsonl:%ld\"}}",
              (unsigned long)(i * 4 + 1), (long long)ts, i, i + 1, i, abs, i + 1);
        else if (k == 1)
          n = snprintf(
              body, 8192,
              "{\"v\":1,\"id\":\"%032lx\",\"kind\":\"job.started\",\"ts\":%lld,"
              "\"paper_id\":\"chinaxiv-%09ld\",\"gen\":0,\"attempt\":1,\"worker\":\"bench:1\"}",
              (unsigned long)(i * 4 + 2), (long long)ts, i);
        else if (k >= 3)
          n = snprintf(body, 8192,
                       "{\"v\":1,\"id\":\"%032lx\",\"kind\":\"qa.scored\",\"ts\":%lld,"
                       "\"paper_id\":\"chinaxiv-%09ld\",\"gen\":0,\"worker\":\"bench:1\","
                       "\"judge\":\"%s\",\"scores\":{\"accuracy\":%ld,\"fluency\":9,"
                       "\"terminology\":8,\"completeness\":9,\"overall\":%ld},\"comments\":"
                       "\"Faithful and fluent.\",\"usage\":{\"prompt_tokens\":3000,"
                       "\"completion_tokens\":200},\"cost_usd\":0.001}",
                       (unsigned long)(i * 4 + k + 1) | (1UL << 60), (long long)ts, i,
                       k == 3 ? "z-ai/glm-4.6" : "qwen/qwen-max", 6 + i % 5, 5 + (i + k) % 6);
        else
          n = snprintf(
              body, 8192,
              "{\"v\":1,\"id\":\"%032lx\",\"kind\":\"job.succeeded\",\"ts\":%lld,"
              "\"paper_id\":\"chinaxiv-%09ld\",\"gen\":0,\"attempt\":1,\"worker\":\"bench:1\","
              "\"translation\":{\"title_en\":\"Research on semantic disclosure and "
              "organization of national history knowledge\",\"abstract_en\":\"%.*s\","
              "\"keywords_en\":[\"ontology\"],\"subjects_en\":[\"G Culture\"],"
              "\"authors_en\":[\"Wang Ying\",\"Zhang Zhixiong\"]},\"model\":\"bench\","
              "\"dry_run\":false,\"usage\":{\"prompt_tokens\":1200,\"completion_tokens\":"
              "600,\"requests\":2},\"cost_usd\":0.00056,\"timings\":{\"started_ms\":%lld,"
              "\"finished_ms\":%lld,\"llm_ms\":20000},\"checks\":{\"cjk_ratio\":0,"
              "\"placeholders\":\"ok\"}}",
              (unsigned long)(i * 4 + 3), (long long)ts, i, 700,
              "The deep development of education and research on the national history "
              "of the People's Republic of China has always been highly valued by all "
              "parties. Semantic disclosure and organization of national history "
              "knowledge is of great significance to education and research. Based on "
              "related research results, this paper proposes a method of mining "
              "downward and organizing upward. Based on the ontology, the method mines "
              "and reveals knowledge objects and facts hidden in the text entries, "
              "links them into a knowledge network, and organizes the content by time, "
              "category, hierarchy and statistics, with a system platform built on it.",
              (long long)ts - 20000, (long long)ts);
        if (n <= 0 || n >= 8192) {
          fprintf(stderr, "event too large\n");
          return 1;
        }
        m.body = body;
        m.len = (size_t)n;
        m.received_ms = ts;
        double a = now_s();
        if (ledger_db_apply(db, &m, NULL)) {
          fprintf(stderr, "apply failed\n");
          return 1;
        }
        if (++in_batch >= batch) {
          if (ledger_db_commit(db))
            return 1;
          in_batch = 0;
        }
        applied_s += now_s() - a;
        events++;
      }
    }
  }
  double a = now_s();
  if (ledger_db_commit(db))
    return 1;
  applied_s += now_s() - a;

  struct pq_config cfg;
  pq_config_load("/dev/null", &cfg, err, sizeof err); /* defaults for targets */
  double best = 1e9, worst = 0;
  for (int i = 0; i < 5; i++) {
    cJSON *r = NULL;
    double s = now_s();
    if (ledger_report_build(db, &cfg, pq_now_ms(), &r)) {
      fprintf(stderr, "report failed\n");
      return 1;
    }
    double e = now_s() - s;
    best = e < best ? e : best;
    worst = e > worst ? e : worst;
    if (i == 4) {
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "papers");
      printf("report says: %.0f papers, %.0f succeeded\n",
             cJSON_GetObjectItemCaseSensitive(p, "total")->valuedouble,
             cJSON_GetObjectItemCaseSensitive(p, "succeeded")->valuedouble);
    }
    cJSON_Delete(r);
  }
  pq_config_free(&cfg);
  ledger_db_close(db);

  struct stat st;
  double mb = stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
  printf("ledger ingest: %ld papers, %lld events (queued+started+succeeded, 2 judgements on "
         "10%% of papers), batch %ld\n",
         papers, events, batch);
  printf("  apply+commit: %.1f s, %.0f events/s\n", applied_s, (double)events / applied_s);
  printf("  report --json build on %ld papers: best %.1f ms, worst %.1f ms (5 runs)\n", papers,
         best * 1000, worst * 1000);
  printf("  database %s: %.0f MB\n", path, mb);
  if (getenv("PQ_BENCH_KEEP")) {
    printf("  kept: PAPERQ_LEDGER_DB=%s paperq-ledger report\n", path);
    free(body);
    return 0;
  }
  unlink(path);
  char side[600];
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  free(body);
  return 0;
}
