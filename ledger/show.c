/* `paperq-ledger show PAPER_ID`: everything the ledger knows about one
 * paper. The JSON object is built first; the human text prints from it. */
#include "db.h"
#include "ledger.h"
#include "query.h"

#include "paperq/textutil.h"
#include "paperq/config.h"
#include "paperq/qa.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void add_text(cJSON *o, const char *k, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, k, v);
}

static void add_int(cJSON *o, const char *k, struct ledger_int v) {
  if (v.known)
    cJSON_AddNumberToObject(o, k, (double)v.v);
}

static void add_num(cJSON *o, const char *k, int64_t v) {
  cJSON_AddNumberToObject(o, k, (double)v);
}

/* A stored JSON column, embedded as JSON (as text if it does not parse). */
static void add_json(cJSON *o, const char *k, const char *v) {
  if (!v)
    return;
  cJSON *j = cJSON_Parse(v);
  if (j)
    cJSON_AddItemToObject(o, k, j);
  else
    cJSON_AddStringToObject(o, k, v);
}

static int paper_fields(void *ctx, const struct ledger_paper_row *r) {
  cJSON *p = ctx;
  add_text(p, "state", r->state);
  add_num(p, "gen", r->gen);
  add_num(p, "attempt_count", r->attempts);
  add_text(p, "title", r->title);
  add_text(p, "origin", r->origin);
  add_int(p, "queued_ms", r->queued_ms);
  add_int(p, "started_ms", r->started_ms);
  add_int(p, "finished_ms", r->finished_ms);
  add_text(p, "last_error", r->last_error);
  add_text(p, "park_reason", r->park_reason);
  add_text(p, "model", r->model);
  cJSON_AddBoolToObject(p, "dry_run", r->dry_run);
  cJSON *tok = cJSON_AddObjectToObject(p, "tokens");
  add_num(tok, "prompt", r->prompt_tokens);
  add_num(tok, "completion", r->completion_tokens);
  cJSON_AddNumberToObject(p, "cost_usd", r->cost_usd);
  cJSON_AddNumberToObject(p, "qa_cost_usd", r->qa_cost_usd);
  add_num(p, "updated_ms", r->updated_ms);
  return PQ_OK;
}

static int attempt_item(void *ctx, const struct ledger_attempt_row *r) {
  cJSON *a = cJSON_CreateObject();
  add_num(a, "gen", r->gen);
  add_num(a, "attempt", r->attempt);
  add_text(a, "worker", r->worker);
  add_int(a, "started_ms", r->started_ms);
  add_int(a, "finished_ms", r->finished_ms);
  add_text(a, "outcome", r->outcome);
  add_text(a, "error_class", r->error_class);
  add_text(a, "error", r->error);
  add_num(a, "prompt_tokens", r->prompt_tokens);
  add_num(a, "completion_tokens", r->completion_tokens);
  cJSON_AddNumberToObject(a, "cost_usd", r->cost_usd);
  cJSON_AddItemToArray(ctx, a);
  return PQ_OK;
}

static int translation_item(void *ctx, const struct ledger_translation_row *r) {
  cJSON *t = cJSON_AddObjectToObject(ctx, "translation");
  add_num(t, "gen", r->gen);
  add_text(t, "model", r->model);
  cJSON_AddBoolToObject(t, "dry_run", r->dry_run);
  add_json(t, "doc", r->doc);
  add_json(t, "checks", r->checks);
  add_json(t, "usage", r->usage);
  cJSON_AddNumberToObject(t, "cost_usd", r->cost_usd);
  add_int(t, "llm_ms", r->llm_ms);
  add_int(t, "created_ms", r->created_ms);
  add_text(t, "worker", r->worker);
  add_text(t, "event_id", r->event_id);
  return PQ_OK;
}

static int judgement_item(void *ctx, const struct ledger_judgement_row *r) {
  cJSON *j = cJSON_CreateObject();
  add_text(j, "judge", r->judge);
  add_num(j, "gen", r->gen);
  cJSON *sc = cJSON_AddObjectToObject(j, "scores");
  for (int i = 0; i < PQ_QA_NSCORES; i++)
    cJSON_AddNumberToObject(sc, pq_qa_score_names[i], r->score[i]);
  add_text(j, "comments", r->comments);
  add_int(j, "created_ms", r->created_ms);
  cJSON_AddBoolToObject(j, "current", r->current);
  cJSON_AddItemToArray(ctx, j);
  return PQ_OK;
}

static int qa_parked_item(void *ctx, const struct ledger_qa_parked_row *r) {
  cJSON *j = cJSON_CreateObject();
  add_num(j, "gen", r->gen);
  add_int(j, "attempt", r->attempt);
  add_text(j, "reason", r->reason);
  add_int(j, "received_ms", r->received_ms);
  cJSON_AddItemToArray(ctx, j);
  return PQ_OK;
}

/* Builds the paper object; *found = 0 when the ledger has no such paper. */
static int build(struct ledger_db *db, const char *paper_id, cJSON **out, int *found) {
  cJSON *p = cJSON_CreateObject();
  int rc;
  *found = 0;
  *out = NULL;
  if (!p)
    return PQ_ERR_NOMEM;
  cJSON_AddStringToObject(p, "paper_id", paper_id);
  if ((rc = ledger_query_paper(db, paper_id, paper_fields, p, found)) || !*found)
    goto cleanup;
  /* Every attempt of every generation, oldest first: the last is the
   * latest start. */
  if ((rc = ledger_query_attempts(db, paper_id, attempt_item,
                                  cJSON_AddArrayToObject(p, "attempts"))))
    goto cleanup;
  /* The newest translation: the current one when the paper succeeded. */
  if ((rc = ledger_query_latest_translation(db, paper_id, translation_item, p)))
    goto cleanup;
  /* judgements, history included */
  if ((rc = ledger_query_judgements(db, paper_id, judgement_item, cJSON_AddArrayToObject(p, "qa"))))
    goto cleanup;
  rc = ledger_query_qa_parked(db, paper_id, qa_parked_item, cJSON_AddArrayToObject(p, "qa_parked"));
cleanup:
  if (rc == PQ_OK && *found)
    *out = p;
  else
    cJSON_Delete(p);
  return rc;
}

/* Text from the ledger came from events and records: printed escaped, so
 * control characters cannot reach the terminal (long text cut at 4 KB). */
static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? pq_text_safe(v->valuestring) : NULL;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void time_line(const cJSON *p, const char *label, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
  if (!cJSON_IsNumber(v))
    return;
  char buf[40];
  time_t t = (time_t)(v->valuedouble / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  printf("%-11s%s\n", label, buf);
}

/* A list of strings on one line, separated by "; ". */
static void list_line(const char *label, const cJSON *arr) {
  if (!cJSON_IsArray(arr))
    return;
  printf("  %-13s", label);
  const cJSON *e;
  int first = 1;
  cJSON_ArrayForEach(e, arr) {
    if (cJSON_IsString(e)) {
      printf("%s%s", first ? "" : "; ", pq_text_safe(e->valuestring));
      first = 0;
    }
  }
  printf("\n");
}

static void print_paper(const cJSON *p) {
  const cJSON *e;
  printf("%-11s%s\n", "paper", str(p, "paper_id"));
  printf("%-11s%s (generation %.0f)\n", "state", str(p, "state"), num(p, "gen"));
  if (str(p, "title"))
    printf("%-11s%s\n", "title", str(p, "title"));
  if (str(p, "origin"))
    printf("%-11s%s\n", "origin", str(p, "origin"));
  time_line(p, "queued", "queued_ms");
  time_line(p, "started", "started_ms");
  time_line(p, "finished", "finished_ms");
  if (str(p, "park_reason"))
    printf("%-11s%s\n", "parked", str(p, "park_reason"));
  if (str(p, "last_error"))
    printf("%-11s%s\n", "last error", str(p, "last_error"));
  if (str(p, "model"))
    printf("%-11s%s%s\n", "model", str(p, "model"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "dry_run")) ? " (dry run)" : "");
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(p, "tokens");
  printf("%-11s%.0f prompt, %.0f completion (every attempt)\n", "tokens", num(tok, "prompt"),
         num(tok, "completion"));
  printf("%-11s$%.6f translation, $%.6f QA\n", "cost", num(p, "cost_usd"), num(p, "qa_cost_usd"));
  printf("%-11s%.0f in this generation\n", "attempts", num(p, "attempt_count"));
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "attempts")) {
    const char *cls = str(e, "error_class");
    const char *outcome = str(e, "outcome");
    printf("  gen %.0f #%.0f  %-20s %s%s%s%s", num(e, "gen"), num(e, "attempt"),
           str(e, "worker") && str(e, "worker")[0] ? str(e, "worker") : "(no worker)",
           outcome && strcmp(outcome, "running") == 0 ? "no outcome recorded" : outcome,
           cls ? " (" : "", cls ? cls : "", cls ? ")" : "");
    if (str(e, "error"))
      printf(": %s", str(e, "error"));
    printf("\n");
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "translation");
  if (t) {
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(t, "doc");
    printf("translation (generation %.0f%s, model %s%s):\n", num(t, "gen"),
           num(t, "gen") != num(p, "gen") ? ", an older generation" : "",
           str(t, "model") ? str(t, "model") : "?",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "dry_run")) ? ", dry run" : "");
    if (str(doc, "title_en"))
      printf("  %-13s%s\n", "title_en", str(doc, "title_en"));
    if (str(doc, "abstract_en"))
      printf("  %-13s%s\n", "abstract_en", str(doc, "abstract_en"));
    list_line("keywords_en", cJSON_GetObjectItemCaseSensitive(doc, "keywords_en"));
    list_line("subjects_en", cJSON_GetObjectItemCaseSensitive(doc, "subjects_en"));
    list_line("authors_en", cJSON_GetObjectItemCaseSensitive(doc, "authors_en"));
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(doc, "body_en");
    if (cJSON_IsArray(body)) {
      int n = 0, heading = 0, para = 0, eq = 0;
      cJSON_ArrayForEach(e, body) {
        const char *kind = str(e, "kind");
        n++;
        heading += kind && strcmp(kind, "heading") == 0;
        para += kind && strcmp(kind, "paragraph") == 0;
        eq += kind && strcmp(kind, "equation") == 0;
      }
      printf("  %-13s%d blocks: %d headings, %d paragraphs, %d equations\n", "body_en", n, heading,
             para, eq);
    }
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(t, "checks");
    if (checks) {
      char *text = cJSON_PrintUnformatted(checks);
      printf("  %-13s%s\n", "checks", text ? text : "?");
      cJSON_free(text);
    }
  } else {
    printf("translation: none recorded\n");
  }
  const cJSON *js = cJSON_GetObjectItemCaseSensitive(p, "qa");
  if (cJSON_GetArraySize(js) > 0) {
    printf("QA judgements:\n");
    cJSON_ArrayForEach(e, js) {
      const cJSON *sc = cJSON_GetObjectItemCaseSensitive(e, "scores");
      /* overall first, then the others in their order */
      printf("  %-24s %s %.1f (", str(e, "judge"), pq_qa_score_names[PQ_QA_OVERALL],
             num(sc, pq_qa_score_names[PQ_QA_OVERALL]));
      for (int i = 0, n = 0; i < PQ_QA_NSCORES; i++)
        if (i != PQ_QA_OVERALL)
          printf("%s%s %.1f", n++ ? ", " : "", pq_qa_score_names[i], num(sc, pq_qa_score_names[i]));
      printf(")%s\n",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "current")) ? "" : " [history]");
      if (str(e, "comments") && str(e, "comments")[0])
        printf("    %s\n", str(e, "comments"));
    }
  }
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "qa_parked")) {
    printf("QA job parked (generation %.0f): %s\n", num(e, "gen"),
           str(e, "reason") ? str(e, "reason") : "");
  }
}

int ledger_show(const struct pq_config *cfg, const char *paper_id, int json) {
  struct ledger_db *db = NULL;
  cJSON *p = NULL;
  char err[1024];
  int found, rc = PQ_EXIT_RUNTIME;
  if (ledger_db_open(cfg->ledger.db, 0, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if (build(db, paper_id, &p, &found) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot read paper %s from %s\n", paper_id, cfg->ledger.db);
    goto cleanup;
  }
  if (!found) {
    fprintf(stderr, "paperq-ledger: no paper %s in %s\n", paper_id, cfg->ledger.db);
    goto cleanup;
  }
  if (json) {
    char *text = cJSON_Print(p);
    if (!text)
      goto cleanup;
    puts(text);
    cJSON_free(text);
  } else {
    print_paper(p);
  }
  rc = fflush(stdout) == 0 ? PQ_EXIT_OK : PQ_EXIT_RUNTIME;
cleanup:
  cJSON_Delete(p);
  ledger_db_close(db);
  return rc;
}
