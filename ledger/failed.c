/* `paperq-ledger failed`: the parked papers, why each was parked, and the
 * error of every attempt, so an operator can decide what to requeue. */
#include "db.h"
#include "ledger.h"

#include "paperq/textutil.h"
#include "paperq/config.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char *col(sqlite3_stmt *s, int i) { return (const char *)sqlite3_column_text(s, i); }

static int build(struct ledger_db *db, cJSON *list) {
  sqlite3 *sq = ledger_db_sqlite(db);
  sqlite3_stmt *papers = NULL, *att = NULL;
  int rc = PQ_ERR_IO;
  if (sqlite3_prepare_v2(sq,
                         "SELECT paper_id, gen, attempts, park_reason, last_error, title,"
                         " finished_ms FROM papers WHERE state = 'parked' ORDER BY paper_id",
                         -1, &papers, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(sq,
                         "SELECT gen, attempt, worker, outcome, error_class, error, finished_ms"
                         " FROM attempts WHERE paper_id = ?1"
                         " ORDER BY gen, attempt, coalesce(started_ms, finished_ms)",
                         -1, &att, NULL) != SQLITE_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", sqlite3_errmsg(sq));
    goto cleanup;
  }
  while (sqlite3_step(papers) == SQLITE_ROW) {
    cJSON *p = cJSON_CreateObject();
    if (!p) {
      rc = PQ_ERR_NOMEM;
      goto cleanup;
    }
    cJSON_AddItemToArray(list, p);
    cJSON_AddStringToObject(p, "paper_id", col(papers, 0));
    cJSON_AddNumberToObject(p, "gen", (double)sqlite3_column_int64(papers, 1));
    cJSON_AddNumberToObject(p, "attempt_count", (double)sqlite3_column_int64(papers, 2));
    cJSON_AddStringToObject(p, "park_reason", col(papers, 3) ? col(papers, 3) : "");
    if (col(papers, 4))
      cJSON_AddStringToObject(p, "last_error", col(papers, 4));
    if (col(papers, 5))
      cJSON_AddStringToObject(p, "title", col(papers, 5));
    cJSON_AddNumberToObject(p, "parked_ms", (double)sqlite3_column_int64(papers, 6));
    cJSON *errors = cJSON_AddArrayToObject(p, "attempts");
    sqlite3_bind_text(att, 1, col(papers, 0), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(att) == SQLITE_ROW) {
      cJSON *a = cJSON_CreateObject();
      cJSON_AddNumberToObject(a, "gen", (double)sqlite3_column_int64(att, 0));
      cJSON_AddNumberToObject(a, "attempt", (double)sqlite3_column_int64(att, 1));
      cJSON_AddStringToObject(a, "worker", col(att, 2) ? col(att, 2) : "");
      cJSON_AddStringToObject(a, "outcome", col(att, 3) ? col(att, 3) : "");
      if (col(att, 4))
        cJSON_AddStringToObject(a, "error_class", col(att, 4));
      if (col(att, 5))
        cJSON_AddStringToObject(a, "error", col(att, 5));
      cJSON_AddItemToArray(errors, a);
    }
    sqlite3_reset(att);
    sqlite3_clear_bindings(att);
  }
  rc = PQ_OK;
cleanup:
  sqlite3_finalize(papers);
  sqlite3_finalize(att);
  return rc;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return pq_text_safe(cJSON_IsString(v) ? v->valuestring : ""); /* untrusted text, escaped */
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_list(const cJSON *out) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(out, "papers");
  int n = cJSON_GetArraySize(list);
  const cJSON *p, *a;
  if (n == 0) {
    printf("no parked papers\n");
    return;
  }
  printf("%d parked paper%s\n", n, n == 1 ? "" : "s");
  cJSON_ArrayForEach(p, list) {
    printf("\n%s  (generation %.0f, %.0f attempt%s)  %s\n", str(p, "paper_id"), num(p, "gen"),
           num(p, "attempt_count"), num(p, "attempt_count") == 1 ? "" : "s", str(p, "title"));
    printf("  parked: %s\n", str(p, "park_reason"));
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(p, "attempts")) {
      const char *outcome = str(a, "outcome");
      printf("  gen %.0f #%.0f %-20s %s", num(a, "gen"), num(a, "attempt"),
             str(a, "worker")[0] ? str(a, "worker") : "(no worker)",
             strcmp(outcome, "running") == 0 ? "no outcome (worker crashed or hung?)" : outcome);
      if (str(a, "error_class")[0])
        printf(" (%s)", str(a, "error_class"));
      if (str(a, "error")[0])
        printf(": %s", str(a, "error"));
      printf("\n");
    }
  }
  printf("\nto try them again: paperq-ledger requeue --parked [--paper ID]\n");
}

int ledger_failed(const struct pq_config *cfg, int json) {
  struct ledger_db *db = NULL;
  cJSON *out = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(out, "papers");
  char err[1024];
  int rc = LEDGER_EXIT_RUNTIME;
  if (!list)
    goto cleanup;
  if (ledger_db_open(cfg->ledger.db, 0, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if (build(db, list) != PQ_OK)
    goto cleanup;
  cJSON_AddNumberToObject(out, "parked", cJSON_GetArraySize(list));
  if (json) {
    char *text = cJSON_Print(out);
    if (!text)
      goto cleanup;
    puts(text);
    cJSON_free(text);
  } else {
    print_list(out);
  }
  rc = fflush(stdout) == 0 ? LEDGER_EXIT_OK : LEDGER_EXIT_RUNTIME;
cleanup:
  cJSON_Delete(out);
  ledger_db_close(db);
  return rc;
}
