/* `paperq-ledger show PAPER_ID`: everything the ledger knows about one
 * paper. The JSON object is built first; the human text prints from it. */
#include "db.h"
#include "ledger.h"

#include "paperq/textutil.h"
#include "paperq/config.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *col(sqlite3_stmt *s, int i) { return (const char *)sqlite3_column_text(s, i); }

static void add_text(cJSON *o, const char *k, sqlite3_stmt *s, int i) {
  if (sqlite3_column_type(s, i) != SQLITE_NULL)
    cJSON_AddStringToObject(o, k, col(s, i));
}

static void add_int(cJSON *o, const char *k, sqlite3_stmt *s, int i) {
  if (sqlite3_column_type(s, i) != SQLITE_NULL)
    cJSON_AddNumberToObject(o, k, (double)sqlite3_column_int64(s, i));
}

/* A stored JSON column, embedded as JSON (as text if it does not parse). */
static void add_json(cJSON *o, const char *k, sqlite3_stmt *s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL)
    return;
  cJSON *v = cJSON_Parse(col(s, i));
  if (v)
    cJSON_AddItemToObject(o, k, v);
  else
    cJSON_AddStringToObject(o, k, col(s, i));
}

static sqlite3_stmt *query(sqlite3 *sq, const char *sql, const char *paper_id) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(sq, sql, -1, &s, NULL) != SQLITE_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", sqlite3_errmsg(sq));
    sqlite3_finalize(s);
    return NULL;
  }
  sqlite3_bind_text(s, 1, paper_id, -1, SQLITE_STATIC);
  return s;
}

/* Builds the paper object; *found = 0 when the ledger has no such paper. */
static int build(struct ledger_db *db, const char *paper_id, cJSON **out, int *found) {
  sqlite3 *sq = ledger_db_sqlite(db);
  cJSON *p = cJSON_CreateObject();
  int rc = PQ_ERR_IO;
  *found = 0;
  *out = NULL;
  if (!p)
    return PQ_ERR_NOMEM;
  sqlite3_stmt *s = query(sq,
                          "SELECT state, gen, attempts, title, origin, queued_ms, started_ms,"
                          " finished_ms, last_error, park_reason, model, dry_run, prompt_tokens,"
                          " completion_tokens, cost_usd, qa_cost_usd, updated_ms"
                          " FROM papers WHERE paper_id = ?1",
                          paper_id);
  if (!s)
    goto cleanup;
  if (sqlite3_step(s) != SQLITE_ROW) {
    sqlite3_finalize(s);
    rc = PQ_OK;
    goto cleanup;
  }
  *found = 1;
  cJSON_AddStringToObject(p, "paper_id", paper_id);
  add_text(p, "state", s, 0);
  add_int(p, "gen", s, 1);
  add_int(p, "attempt_count", s, 2);
  add_text(p, "title", s, 3);
  add_text(p, "origin", s, 4);
  add_int(p, "queued_ms", s, 5);
  add_int(p, "started_ms", s, 6);
  add_int(p, "finished_ms", s, 7);
  add_text(p, "last_error", s, 8);
  add_text(p, "park_reason", s, 9);
  add_text(p, "model", s, 10);
  cJSON_AddBoolToObject(p, "dry_run", sqlite3_column_int(s, 11));
  cJSON *tok = cJSON_AddObjectToObject(p, "tokens");
  add_int(tok, "prompt", s, 12);
  add_int(tok, "completion", s, 13);
  cJSON_AddNumberToObject(p, "cost_usd", sqlite3_column_double(s, 14));
  cJSON_AddNumberToObject(p, "qa_cost_usd", sqlite3_column_double(s, 15));
  add_int(p, "updated_ms", s, 16);
  sqlite3_finalize(s);

  /* Every attempt of every generation, oldest first: the last is the
   * latest start (a redelivered attempt keeps its number, so one attempt
   * can have rows from several workers). */
  cJSON *list = cJSON_AddArrayToObject(p, "attempts");
  if (!(s = query(
            sq,
            "SELECT gen, attempt, worker, started_ms, finished_ms, outcome, error_class, error,"
            " prompt_tokens, completion_tokens, cost_usd FROM attempts WHERE paper_id = ?1"
            " ORDER BY gen, attempt, coalesce(started_ms, finished_ms)",
            paper_id)))
    goto cleanup;
  while (sqlite3_step(s) == SQLITE_ROW) {
    cJSON *a = cJSON_CreateObject();
    add_int(a, "gen", s, 0);
    add_int(a, "attempt", s, 1);
    add_text(a, "worker", s, 2);
    add_int(a, "started_ms", s, 3);
    add_int(a, "finished_ms", s, 4);
    add_text(a, "outcome", s, 5);
    add_text(a, "error_class", s, 6);
    add_text(a, "error", s, 7);
    add_int(a, "prompt_tokens", s, 8);
    add_int(a, "completion_tokens", s, 9);
    cJSON_AddNumberToObject(a, "cost_usd", sqlite3_column_double(s, 10));
    cJSON_AddItemToArray(list, a);
  }
  sqlite3_finalize(s);

  /* The newest translation: the current one when the paper succeeded. */
  if (!(s = query(sq,
                  "SELECT gen, model, dry_run, doc, checks, usage, cost_usd, llm_ms, created_ms,"
                  " worker, event_id FROM translations WHERE paper_id = ?1 ORDER BY gen DESC"
                  " LIMIT 1",
                  paper_id)))
    goto cleanup;
  if (sqlite3_step(s) == SQLITE_ROW) {
    cJSON *t = cJSON_AddObjectToObject(p, "translation");
    add_int(t, "gen", s, 0);
    add_text(t, "model", s, 1);
    cJSON_AddBoolToObject(t, "dry_run", sqlite3_column_int(s, 2));
    add_json(t, "doc", s, 3);
    add_json(t, "checks", s, 4);
    add_json(t, "usage", s, 5);
    cJSON_AddNumberToObject(t, "cost_usd", sqlite3_column_double(s, 6));
    add_int(t, "llm_ms", s, 7);
    add_int(t, "created_ms", s, 8);
    add_text(t, "worker", s, 9);
    add_text(t, "event_id", s, 10);
  }
  sqlite3_finalize(s);

  list = cJSON_AddArrayToObject(p, "qa"); /* judgements, history included */
  if (!(s = query(sq,
                  "SELECT judge, gen, accuracy, fluency, terminology, completeness, overall,"
                  " comments, created_ms, current FROM qa_judgements WHERE paper_id = ?1"
                  " ORDER BY created_ms, id",
                  paper_id)))
    goto cleanup;
  while (sqlite3_step(s) == SQLITE_ROW) {
    static const char *const names[5] = {"accuracy", "fluency", "terminology", "completeness",
                                         "overall"};
    cJSON *j = cJSON_CreateObject();
    add_text(j, "judge", s, 0);
    add_int(j, "gen", s, 1);
    cJSON *sc = cJSON_AddObjectToObject(j, "scores");
    for (int i = 0; i < 5; i++)
      cJSON_AddNumberToObject(sc, names[i], sqlite3_column_double(s, 2 + i));
    add_text(j, "comments", s, 7);
    add_int(j, "created_ms", s, 8);
    cJSON_AddBoolToObject(j, "current", sqlite3_column_int(s, 9));
    cJSON_AddItemToArray(list, j);
  }
  sqlite3_finalize(s);

  list = cJSON_AddArrayToObject(p, "qa_parked");
  if (!(s = query(sq,
                  "SELECT gen, attempt, reason, received_ms FROM qa_parked"
                  " WHERE paper_id = ?1 ORDER BY id",
                  paper_id)))
    goto cleanup;
  while (sqlite3_step(s) == SQLITE_ROW) {
    cJSON *j = cJSON_CreateObject();
    add_int(j, "gen", s, 0);
    add_int(j, "attempt", s, 1);
    add_text(j, "reason", s, 2);
    add_int(j, "received_ms", s, 3);
    cJSON_AddItemToArray(list, j);
  }
  sqlite3_finalize(s);
  rc = PQ_OK;
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
      printf("  %-24s overall %.1f (accuracy %.1f, fluency %.1f, terminology %.1f, "
             "completeness %.1f)%s\n",
             str(e, "judge"), num(sc, "overall"), num(sc, "accuracy"), num(sc, "fluency"),
             num(sc, "terminology"), num(sc, "completeness"),
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
  int found, rc = LEDGER_EXIT_RUNTIME;
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
  rc = fflush(stdout) == 0 ? LEDGER_EXIT_OK : LEDGER_EXIT_RUNTIME;
cleanup:
  cJSON_Delete(p);
  ledger_db_close(db);
  return rc;
}
