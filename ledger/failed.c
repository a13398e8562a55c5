/* `paperq-ledger failed`: the parked papers, why each was parked, and the
 * error of every attempt, so an operator can decide what to requeue. */
#include "db.h"
#include "ledger.h"
#include "query.h"

#include "paperq/textutil.h"
#include "paperq/config.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

struct parked_ctx {
  struct ledger_db *db;
  cJSON *list;
};

static int attempt_item(void *ctx, const struct ledger_attempt_row *r) {
  cJSON *a = cJSON_CreateObject();
  cJSON_AddNumberToObject(a, "gen", (double)r->gen);
  cJSON_AddNumberToObject(a, "attempt", (double)r->attempt);
  cJSON_AddStringToObject(a, "worker", r->worker ? r->worker : "");
  cJSON_AddStringToObject(a, "outcome", r->outcome ? r->outcome : "");
  if (r->error_class)
    cJSON_AddStringToObject(a, "error_class", r->error_class);
  if (r->error)
    cJSON_AddStringToObject(a, "error", r->error);
  cJSON_AddItemToArray(ctx, a);
  return PQ_OK;
}

static int parked_item(void *ctx, const struct ledger_paper_row *r) {
  struct parked_ctx *c = ctx;
  cJSON *p = cJSON_CreateObject();
  if (!p)
    return PQ_ERR_NOMEM;
  cJSON_AddItemToArray(c->list, p);
  cJSON_AddStringToObject(p, "paper_id", r->paper_id);
  cJSON_AddNumberToObject(p, "gen", (double)r->gen);
  cJSON_AddNumberToObject(p, "attempt_count", (double)r->attempts);
  cJSON_AddStringToObject(p, "park_reason", r->park_reason ? r->park_reason : "");
  if (r->last_error)
    cJSON_AddStringToObject(p, "last_error", r->last_error);
  if (r->title)
    cJSON_AddStringToObject(p, "title", r->title);
  cJSON_AddNumberToObject(p, "parked_ms", (double)r->finished_ms.v);
  return ledger_query_attempts(c->db, r->paper_id, attempt_item,
                               cJSON_AddArrayToObject(p, "attempts"));
}

static int build(struct ledger_db *db, cJSON *list) {
  struct parked_ctx c = {db, list};
  return ledger_query_papers_in_state(db, LEDGER_PARKED, parked_item, &c);
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
  int rc = PQ_EXIT_RUNTIME;
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
  rc = fflush(stdout) == 0 ? PQ_EXIT_OK : PQ_EXIT_RUNTIME;
cleanup:
  cJSON_Delete(out);
  ledger_db_close(db);
  return rc;
}
