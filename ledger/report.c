/* The run report: counts per state from the counters table, rates from the
 * per-minute throughput table, spend and projections, workers, bad messages,
 * QA statistics over current judgements and the success-metrics block. */
#include "report.h"
#include "db.h"
#include "ledger.h"
#include "query.h"

#include "paperq/textutil.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/qa.h"
#include "paperq/spend.h"
#include "paperq/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cJSON helpers that tolerate NULL parents so building stays linear; a
 * failed allocation is caught once at the end by checking the tree. */
static cJSON *add_obj(cJSON *o, const char *k) { return cJSON_AddObjectToObject(o, k); }
static void add_num(cJSON *o, const char *k, double v) { cJSON_AddNumberToObject(o, k, v); }
static void add_num_or_null(cJSON *o, const char *k, int known, double v) {
  if (known)
    cJSON_AddNumberToObject(o, k, v);
  else
    cJSON_AddNullToObject(o, k);
}

/* Papers that reached succeeded in the last `minutes`, per minute. The
 * window is the throughput buckets it covers, cut at the run's start. */
static int rate(struct ledger_db *db, int64_t now_ms, int minutes, int64_t first_ms,
                double *per_min, long long *count) {
  int64_t start_min = now_ms / 60000 - (minutes - 1);
  int64_t start_ms = start_min * 60000;
  if (first_ms > start_ms)
    start_ms = first_ms;
  int rc = ledger_query_succeeded_since(db, start_min, count);
  if (rc)
    return rc;
  double span_min = (double)(now_ms - start_ms) / 60000.0;
  if (span_min < 1.0 / 60)
    span_min = 1.0 / 60; /* under a second of history: do not divide by ~0 */
  *per_min = (double)*count / span_min;
  return PQ_OK;
}

static int64_t meta_ms(struct ledger_db *db, const char *key) {
  char v[64];
  int found;
  long n;
  if (ledger_db_meta_get(db, key, v, sizeof v, &found) || !found ||
      pq_parse_long(v, 0, LONG_MAX, &n))
    return 0;
  return n;
}

struct workers_ctx {
  const struct pq_config *cfg;
  int64_t now_ms;
  cJSON *fatal, *list;
  long live, stale, stopped;
};

static int add_worker(void *ctx, const struct ledger_worker_row *r) {
  struct workers_ctx *c = ctx;
  const char *id = r->worker;
  const char *state = r->state;
  int64_t seen = r->last_seen_ms;
  const char *shown = state ? state : "unknown";
  if (state && strcmp(state, "running") == 0) {
    if (c->now_ms - seen <= (int64_t)c->cfg->ledger.stale_s * 1000) {
      c->live++;
      shown = "live";
    } else {
      c->stale++;
      shown = "stale";
    }
  } else if (state && strcmp(state, "fatal") == 0) {
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "worker", id ? id : "");
    cJSON_AddStringToObject(f, "error", r->fatal_error ? r->fatal_error : "");
    if (r->fatal_model)
      cJSON_AddStringToObject(f, "model", r->fatal_model);
    add_num(f, "since_ms", (double)r->state_ms);
    cJSON_AddItemToArray(c->fatal, f);
  } else {
    c->stopped++;
  }
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "worker", id ? id : "");
  cJSON_AddStringToObject(e, "state", shown);
  add_num(e, "last_seen_ms", (double)seen);
  const struct ledger_int *stat[4] = {&r->in_flight, &r->done, &r->failed, &r->concurrency};
  static const char *const f[4] = {"in_flight", "done", "failed", "concurrency"};
  for (int i = 0; i < 4; i++)
    if (stat[i]->known)
      add_num(e, f[i], (double)stat[i]->v);
  if (r->stop_reason)
    cJSON_AddStringToObject(e, "stop_reason", r->stop_reason);
  cJSON_AddItemToArray(c->list, e);
  return PQ_OK;
}

static int add_workers(struct ledger_db *db, const struct pq_config *cfg, int64_t now_ms,
                       cJSON *r) {
  cJSON *w = add_obj(r, "workers");
  struct workers_ctx c = {cfg, now_ms, NULL, NULL, 0, 0, 0};
  c.fatal = cJSON_AddArrayToObject(w, "fatal");
  c.list = cJSON_AddArrayToObject(w, "list");
  int rc = ledger_query_workers(db, add_worker, &c);
  if (rc)
    return rc;
  add_num(w, "live", (double)c.live);
  add_num(w, "stale", (double)c.stale);
  add_num(w, "stopped", (double)c.stopped);
  add_num(w, "stale_s", cfg->ledger.stale_s);
  return PQ_OK;
}

static int add_bad_latest(void *ctx, const struct ledger_bad_row *row) {
  cJSON *b = add_obj(ctx, "bad_latest");
  cJSON_AddStringToObject(b, "reason", row->reason ? row->reason : "");
  add_num(b, "received_ms", (double)row->received_ms);
  return PQ_OK;
}

static int add_bad(struct ledger_db *db, long long count, cJSON *r) {
  add_num(r, "bad_messages", (double)count);
  return count ? ledger_query_latest_bad(db, add_bad_latest, r) : PQ_OK;
}

struct judges_ctx {
  cJSON *by;
  double hist[LEDGER_QA_HIST]; /* summed over judges */
};

static int add_judge(void *ctx, const struct ledger_judge_row *row) {
  struct judges_ctx *c = ctx;
  double count = (double)row->n;
  double h[LEDGER_QA_HIST];
  cJSON *j = add_obj(c->by, row->judge ? row->judge : "");
  for (int i = 0; i < PQ_QA_NSCORES; i++)
    add_num(j, pq_qa_score_names[i], row->sum[i] / count);
  add_num(j, "count", count);
  for (int i = 0; i < LEDGER_QA_HIST; i++) {
    h[i] = (double)row->hist[i];
    c->hist[i] += h[i];
  }
  cJSON_AddItemToObject(j, "overall_histogram", cJSON_CreateDoubleArray(h, LEDGER_QA_HIST));
  return PQ_OK;
}

static int add_lowest(void *ctx, const struct ledger_qa_paper_row *row) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "paper_id", row->paper_id ? row->paper_id : "");
  add_num(e, "overall", row->mean_overall);
  add_num(e, "judgements", (double)row->n);
  if (row->title)
    cJSON_AddStringToObject(e, "title", row->title);
  cJSON_AddItemToArray(ctx, e);
  return PQ_OK;
}

/* QA over current judgements (the latest of each judge on each paper's
 * latest translation), from the statistics db.c maintains with them. */
static int add_qa(struct ledger_db *db, const struct ledger_counters *c, cJSON *r,
                  double *mean_overall, int *have_mean) {
  cJSON *qa = add_obj(r, "qa");
  long long n = c->n[LC_QA_CURRENT];
  *have_mean = n > 0;
  *mean_overall = n > 0 ? c->x[LC_QA_CURRENT] / (double)n : 0;
  add_num(qa, "papers_judged", (double)c->n[LC_QA_PAPERS]);
  add_num(qa, "judgements", (double)n);
  add_num(qa, "judgements_all", (double)c->n[LC_JUDGEMENTS]);
  add_num_or_null(qa, "mean_overall", *have_mean, *mean_overall);
  long long pairs = c->n[LC_QA_PAIRS];
  add_num_or_null(qa, "agreement_mad", pairs > 0,
                  pairs > 0 ? c->x[LC_QA_PAIRS] / (double)pairs : 0);
  add_num(qa, "agreement_pairs", (double)pairs);
  add_num(qa, "jobs_parked", (double)c->n[LC_QA_PARKED]);

  struct judges_ctx jc = {add_obj(qa, "by_judge"), {0}};
  int rc = ledger_query_judges(db, add_judge, &jc);
  if (rc)
    return rc;
  cJSON_AddItemToObject(qa, "overall_histogram", cJSON_CreateDoubleArray(jc.hist, LEDGER_QA_HIST));
  return ledger_query_lowest_qa(db, 5, add_lowest, cJSON_AddArrayToObject(qa, "lowest"));
}

static void add_target(cJSON *list, const char *name, const char *what, double target, int known,
                       double actual, int at_least) {
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "name", name);
  cJSON_AddStringToObject(t, "what", what);
  add_num(t, "target", target);
  add_num_or_null(t, "actual", known, actual);
  if (known)
    cJSON_AddBoolToObject(t, "holds", at_least ? actual >= target : actual <= target);
  else
    cJSON_AddNullToObject(t, "holds"); /* no data yet: neither holds nor fails */
  cJSON_AddItemToArray(list, t);
}

/* Spend so far, per paper and projected; what was used apart from what
 * was thrown away (issue 11), with the reasons ranked by money. */
static void add_cost(const struct ledger_counters *c, long long succeeded, long long remaining,
                     cJSON *r) {
  double spent = c->x[LC_COST_TRANSLATE] + c->x[LC_COST_QA];
  double per_paper = succeeded ? spent / (double)succeeded : 0;
  add_num(r, "cost_usd", spent);
  cJSON *cost = add_obj(r, "cost");
  add_num(cost, "translate_usd", c->x[LC_COST_TRANSLATE]);
  add_num(cost, "qa_usd", c->x[LC_COST_QA]);
  add_num_or_null(cost, "per_paper_usd", succeeded > 0, per_paper);
  add_num_or_null(cost, "projected_remaining_usd", succeeded > 0, per_paper * (double)remaining);
  add_num_or_null(cost, "projected_total_usd", succeeded > 0,
                  spent + per_paper * (double)remaining);
  /* Spend on work that was used apart from spend on work thrown away
   * (issue 11); both are in cost_usd and in the budget. */
  double wasted = c->x[LC_COST_WASTED];
  add_num(cost, "used_usd", spent - wasted);
  add_num(cost, "wasted_usd", wasted);
  add_num(cost, "wasted_share", spent > 0 ? wasted / spent : 0);
  add_num(cost, "estimated_usd", c->x[LC_COST_ESTIMATED]);
  cJSON *why = cJSON_AddArrayToObject(cost, "wasted_by");
  int order[PQ_WASTE_COUNT], n = 0;
  for (int i = 1; i < PQ_WASTE_COUNT; i++)
    if (c->n[LC_WASTE0 + i] > 0 || c->x[LC_WASTE0 + i] > 0)
      order[n++] = i;
  for (int i = 1; i < n; i++) /* most money first */
    for (int j = i; j > 0 && c->x[LC_WASTE0 + order[j]] > c->x[LC_WASTE0 + order[j - 1]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (int i = 0; why && i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "reason", pq_waste_name(order[i]));
    add_num(o, "usd", c->x[LC_WASTE0 + order[i]]);
    add_num(o, "replies", (double)c->n[LC_WASTE0 + order[i]]);
    cJSON_AddItemToArray(why, o);
  }
  cJSON_AddBoolToObject(cost, "wasted_warning", spent > 0 && wasted > 0.10 * spent);
}

/* Rates over the last 5 and 15 minutes, the ETA and the elapsed time;
 * *first_ms and *end_ms say when the run started and until when it counts. */
static int add_progress(struct ledger_db *db, int64_t now_ms, long long remaining, cJSON *r,
                        int64_t *first_ms_out, int64_t *end_ms_out) {
  int rc;
  int64_t first_ms = meta_ms(db, "first_queued_ms");
  int64_t last_ms = meta_ms(db, "last_finished_ms");
  double r5, r15;
  long long n5, n15;
  if ((rc = rate(db, now_ms, 5, first_ms, &r5, &n5)) ||
      (rc = rate(db, now_ms, 15, first_ms, &r15, &n15)))
    return rc;
  /* The short window follows changes (a worker added or lost); the long
   * one keeps an estimate through a quiet few minutes. */
  double per_min = n5 > 0 ? r5 : r15;
  cJSON *rates = add_obj(r, "rate");
  add_num(rates, "last_5_min", r5);
  add_num(rates, "last_15_min", r15);
  add_num(r, "rate_per_min", per_min);
  if (remaining == 0)
    add_num(r, "eta_s", 0);
  else
    add_num_or_null(r, "eta_s", per_min > 0, per_min > 0 ? (double)remaining / per_min * 60 : 0);
  int64_t end_ms = remaining == 0 && last_ms ? last_ms : now_ms;
  int have_elapsed = first_ms > 0 && end_ms >= first_ms;
  add_num_or_null(r, "first_queued_ms", first_ms > 0, (double)first_ms);
  add_num_or_null(r, "last_finished_ms", last_ms > 0, (double)last_ms);
  add_num_or_null(r, "elapsed_s", have_elapsed, (double)(end_ms - first_ms) / 1000.0);

  *first_ms_out = first_ms;
  *end_ms_out = end_ms;
  return PQ_OK;
}

static int build(struct ledger_db *db, const struct pq_config *cfg, int64_t now_ms, cJSON **out);

int ledger_report_build(struct ledger_db *db, const struct pq_config *cfg, int64_t now_ms,
                        cJSON **out) {
  /* One read transaction: every figure from the same snapshot while serve
   * keeps committing. */
  int own;
  int rc = ledger_query_begin(db, &own);
  *out = NULL;
  if (rc)
    return rc;
  rc = build(db, cfg, now_ms, out);
  ledger_query_end(db, own);
  return rc;
}

static int build(struct ledger_db *db, const struct pq_config *cfg, int64_t now_ms, cJSON **out) {
  struct ledger_counters c;
  cJSON *r = NULL;
  int rc = ledger_db_counters(db, &c);
  *out = NULL;
  if (rc)
    return rc;
  if (!(r = cJSON_CreateObject()))
    return PQ_ERR_NOMEM;
  cJSON_AddStringToObject(r, "db", ledger_db_path(db));
  add_num(r, "generated_ms", (double)now_ms);

  cJSON *papers = add_obj(r, "papers");
  long long st[LEDGER_NSTATES];
  for (int i = 0; i < LEDGER_NSTATES; i++)
    st[i] = c.n[LC_STATE0 + i];
  long long total = c.n[LC_PAPERS];
  long long remaining = st[LEDGER_QUEUED] + st[LEDGER_RUNNING] + st[LEDGER_RETRYING];
  add_num(papers, "total", (double)total);
  for (int i = 0; i < LEDGER_NSTATES; i++)
    add_num(papers, ledger_state_name(i), (double)st[i]);
  add_num(papers, "remaining", (double)remaining);

  cJSON *tokens = add_obj(r, "tokens");
  add_num(tokens, "prompt", (double)c.n[LC_PROMPT_TOKENS]);
  add_num(tokens, "completion", (double)c.n[LC_COMPLETION_TOKENS]);
  add_num(tokens, "qa_prompt", (double)c.n[LC_QA_PROMPT_TOKENS]);
  add_num(tokens, "qa_completion", (double)c.n[LC_QA_COMPLETION_TOKENS]);

  double spent = c.x[LC_COST_TRANSLATE] + c.x[LC_COST_QA];
  add_cost(&c, st[LEDGER_SUCCEEDED], remaining, r);
  int64_t first_ms, end_ms;
  if ((rc = add_progress(db, now_ms, remaining, r, &first_ms, &end_ms)))
    goto fail;
  int have_elapsed = first_ms > 0 && end_ms >= first_ms;

  if ((rc = add_workers(db, cfg, now_ms, r)))
    goto fail;
  add_num(r, "dry_run_papers", (double)c.n[LC_DRY_RUN]);
  if ((rc = add_bad(db, c.n[LC_BAD], r)))
    goto fail;
  cJSON *ev = add_obj(r, "events");
  add_num(ev, "applied", (double)c.n[LC_EVENTS]);
  add_num(ev, "duplicates", (double)c.n[LC_DUPLICATES]);
  add_num(ev, "stale", (double)c.n[LC_STALE]);

  double qa_mean = 0;
  int have_qa;
  if ((rc = add_qa(db, &c, r, &qa_mean, &have_qa)))
    goto fail;

  cJSON *targets = cJSON_AddArrayToObject(r, "targets");
  add_target(targets, "qa_min", "mean QA overall score", cfg->targets.qa_min, have_qa, qa_mean, 1);
  add_target(targets, "max_failed_ratio", "parked papers / all papers",
             cfg->targets.max_failed_ratio, total > 0,
             total > 0 ? (double)st[LEDGER_PARKED] / (double)total : 0, 0);
  add_target(targets, "budget_usd", "total cost (translation + QA), USD", cfg->targets.budget_usd,
             1, spent, 0);
  add_target(targets, "max_hours", "hours from the first paper queued to the last finished",
             cfg->targets.max_hours, have_elapsed,
             have_elapsed ? (double)(end_ms - first_ms) / 3600000.0 : 0, 0);

  cJSON *budget = add_obj(r, "budget");
  char v[64];
  int found;
  if ((rc = ledger_db_meta_get(db, "budget_stopped", v, sizeof v, &found)))
    goto fail;
  add_num(budget, "max_usd", cfg->budget.max_usd);
  add_num(budget, "spent_usd", spent);
  cJSON_AddBoolToObject(budget, "stopped", found && strcmp(v, "1") == 0);
  if (found && strcmp(v, "1") == 0)
    add_num(budget, "stopped_ms", (double)meta_ms(db, "budget_stopped_ms"));

  /* Any failed allocation above left a hole; find it once here. */
  char *probe = cJSON_PrintUnformatted(r);
  if (!probe || !cJSON_GetObjectItemCaseSensitive(r, "budget") ||
      !cJSON_GetObjectItemCaseSensitive(r, "targets")) {
    cJSON_free(probe);
    rc = PQ_ERR_NOMEM;
    goto fail;
  }
  cJSON_free(probe);
  *out = r;
  return PQ_OK;
fail:
  cJSON_Delete(r);
  return rc;
}

/* ---- reading a built report (also for watch, report --html, metrics) ---- */

double ledger_report_num(const cJSON *o, const char *path) {
  char key[64];
  const char *dot = strchr(path, '.');
  if (dot) {
    snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
    return ledger_report_num(cJSON_GetObjectItemCaseSensitive(o, key), dot + 1);
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int ledger_report_known(const cJSON *o, const char *key) {
  return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, key));
}

const char *ledger_report_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

const char *ledger_fmt_duration(double s, char *out, size_t outlen) {
  long t = (long)(s + 0.5);
  if (t < 120)
    snprintf(out, outlen, "%ld s", t);
  else if (t < 7200)
    snprintf(out, outlen, "%ld min", (t + 30) / 60);
  else if (t < 172800)
    snprintf(out, outlen, "%ld h %02ld min", t / 3600, (t % 3600) / 60);
  else
    snprintf(out, outlen, "%.1f days", (double)t / 86400);
  return out;
}

/* ---- human text ---- */

static const char *group(long long v, char *out, size_t outlen) {
  char raw[32];
  int n = snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
  size_t o = 0;
  if (v < 0 && o + 1 < outlen)
    out[o++] = '-';
  for (int i = 0; i < n && o + 2 < outlen; i++) {
    if (i && (n - i) % 3 == 0)
      out[o++] = ',';
    out[o++] = raw[i];
  }
  out[o] = '\0';
  return out;
}

static const char *utc(double ms, char *out, size_t outlen) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return out;
}

static void print_qa(const cJSON *qa, FILE *f) {
  char a[32], b[32];
  double judged = ledger_report_num(qa, "papers_judged");
  if (judged <= 0) {
    if (ledger_report_num(qa, "jobs_parked") > 0)
      fprintf(f,
              "\nQA: no judgements; %.0f QA jobs parked (judges failed; the translations "
              "stand; table qa_parked)\n",
              ledger_report_num(qa, "jobs_parked"));
    return;
  }
  fprintf(f, "\nQA: %s papers judged, %s judgements\n", group((long long)judged, a, sizeof a),
          group((long long)ledger_report_num(qa, "judgements"), b, sizeof b));
  /* One column per score, each as wide as its name plus a space. */
  fprintf(f, "  %-28s %6s", "judge", "n");
  for (int i = 0; i < PQ_QA_NSCORES; i++)
    fprintf(f, " %*s", (int)strlen(pq_qa_score_names[i]) + 1, pq_qa_score_names[i]);
  fprintf(f, "\n");
  const cJSON *j;
  cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(qa, "by_judge")) {
    fprintf(f, "  %-28s %6.0f", j->string, ledger_report_num(j, "count"));
    for (int i = 0; i < PQ_QA_NSCORES; i++)
      fprintf(f, " %*.2f", (int)strlen(pq_qa_score_names[i]) + 1,
              ledger_report_num(j, pq_qa_score_names[i]));
    fprintf(f, "\n");
  }
  if (ledger_report_num(qa, "jobs_parked") > 0)
    fprintf(f, "  %.0f QA jobs parked (judges failed; the translations stand; table qa_parked)\n",
            ledger_report_num(qa, "jobs_parked"));
  fprintf(f, "  mean overall %.2f", ledger_report_num(qa, "mean_overall"));
  if (ledger_report_known(qa, "agreement_mad"))
    fprintf(f, "; judge agreement: mean |difference| of overall %.2f over %.0f pairs\n",
            ledger_report_num(qa, "agreement_mad"), ledger_report_num(qa, "agreement_pairs"));
  else
    fprintf(f, "; judge agreement: no paper has two judges yet\n");
  const cJSON *hist = cJSON_GetObjectItemCaseSensitive(qa, "overall_histogram");
  double max = 0;
  for (int i = 0; i < 10; i++) {
    const cJSON *h = cJSON_GetArrayItem(hist, i);
    if (h && h->valuedouble > max)
      max = h->valuedouble;
  }
  fprintf(f, "  overall score distribution:\n");
  for (int i = 0; i < 10 && max > 0; i++) {
    const cJSON *h = cJSON_GetArrayItem(hist, i);
    double v = h ? h->valuedouble : 0;
    int bar = (int)(v / max * 40 + 0.5);
    fprintf(f, "    %2d | %.*s %.0f\n", i + 1, bar, "########################################", v);
  }
  const cJSON *low = cJSON_GetObjectItemCaseSensitive(qa, "lowest");
  if (cJSON_GetArraySize(low) > 0) {
    fprintf(f, "  lowest scored:\n");
    cJSON_ArrayForEach(j, low) {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "title");
      fprintf(f, "    %5.2f  %s%s%.60s\n", ledger_report_num(j, "overall"),
              pq_text_safe(cJSON_GetObjectItemCaseSensitive(j, "paper_id")->valuestring),
              cJSON_IsString(t) ? "  " : "", pq_text_safe(cJSON_IsString(t) ? t->valuestring : ""));
    }
  }
}

static void print_targets(const cJSON *targets, FILE *f) {
  const cJSON *t;
  fprintf(f, "\nsuccess metrics (targets.* in the config):\n");
  cJSON_ArrayForEach(t, targets) {
    const char *name = cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring;
    const cJSON *holds = cJSON_GetObjectItemCaseSensitive(t, "holds");
    double target = ledger_report_num(t, "target"), actual = ledger_report_num(t, "actual");
    char line[160];
    if (strcmp(name, "qa_min") == 0)
      snprintf(line, sizeof line, "QA mean overall >= %.2f", target);
    else if (strcmp(name, "max_failed_ratio") == 0)
      snprintf(line, sizeof line, "parked <= %.2f%% of papers", target * 100);
    else if (strcmp(name, "budget_usd") == 0)
      snprintf(line, sizeof line, "cost <= $%.2f", target);
    else
      snprintf(line, sizeof line, "finished within %.1f h", target);
    char act[64] = "-";
    if (ledger_report_known(t, "actual")) {
      if (strcmp(name, "qa_min") == 0)
        snprintf(act, sizeof act, "%.2f", actual);
      else if (strcmp(name, "max_failed_ratio") == 0)
        snprintf(act, sizeof act, "%.2f%%", actual * 100);
      else if (strcmp(name, "budget_usd") == 0)
        snprintf(act, sizeof act, "$%.4f", actual);
      else
        snprintf(act, sizeof act, "%.2f h", actual);
    }
    fprintf(f, "  %-40s %12s   %s\n", line, act,
            cJSON_IsBool(holds) ? (cJSON_IsTrue(holds) ? "holds" : "DOES NOT HOLD")
                                : "not known yet");
  }
}

void ledger_report_print(const cJSON *r, FILE *f) {
  char a[32], b[32], d[32], g[32], h[32], k[32], ts[40];
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "papers");
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "workers");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(r, "cost");
  const cJSON *budget = cJSON_GetObjectItemCaseSensitive(r, "budget");
  const cJSON *fatal = cJSON_GetObjectItemCaseSensitive(w, "fatal");
  const cJSON *e;

  fprintf(f, "paperq ledger %s, %s\n",
          pq_text_safe(cJSON_GetObjectItemCaseSensitive(r, "db")->valuestring),
          utc(ledger_report_num(r, "generated_ms"), ts, sizeof ts));
  /* The one thing an operator must not miss comes first. Text that came in
   * events is printed escaped: an ESC sequence in a worker.fatal error must
   * not clear the operator's screen. */
  cJSON_ArrayForEach(e, fatal) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "model");
    fprintf(f, "\n!!! workers stopped: %s (worker %s%s%s, %s)\n",
            pq_text_safe(cJSON_GetObjectItemCaseSensitive(e, "error")->valuestring),
            pq_text_safe(cJSON_GetObjectItemCaseSensitive(e, "worker")->valuestring),
            cJSON_IsString(m) ? ", model " : "",
            pq_text_safe(cJSON_IsString(m) ? m->valuestring : ""),
            utc(ledger_report_num(e, "since_ms"), ts, sizeof ts));
  }
  if (cJSON_GetArraySize(fatal) > 0)
    fprintf(f, "!!! fix the cause (API key, credit, model name) and restart the workers; "
               "their jobs went back to the queue unharmed\n");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(budget, "stopped")))
    fprintf(f,
            "\n!!! budget reached: $%.4f spent of budget.max_usd $%.2f; new papers are not "
            "started. Raise budget.max_usd (PAPERQ_BUDGET_MAX_USD) and restart the ledger "
            "to continue\n",
            ledger_report_num(budget, "spent_usd"), ledger_report_num(budget, "max_usd"));

  fprintf(f, "\npapers     %s total: %s succeeded, %s parked, %s queued, %s running, %s retrying\n",
          group((long long)ledger_report_num(p, "total"), a, sizeof a),
          group((long long)ledger_report_num(p, "succeeded"), b, sizeof b),
          group((long long)ledger_report_num(p, "parked"), d, sizeof d),
          group((long long)ledger_report_num(p, "queued"), g, sizeof g),
          group((long long)ledger_report_num(p, "running"), h, sizeof h),
          group((long long)ledger_report_num(p, "retrying"), k, sizeof k));
  fprintf(f, "rate       %.1f papers/min over 5 min, %.1f over 15 min\n",
          ledger_report_num(r, "rate.last_5_min"), ledger_report_num(r, "rate.last_15_min"));
  double remaining = ledger_report_num(p, "remaining");
  if (remaining == 0)
    fprintf(f, "ETA        nothing left to do\n");
  else if (ledger_report_known(r, "eta_s"))
    fprintf(f, "ETA        %s for %s papers left (at %.1f/min)\n",
            ledger_fmt_duration(ledger_report_num(r, "eta_s"), a, sizeof a),
            group((long long)remaining, b, sizeof b), ledger_report_num(r, "rate_per_min"));
  else
    fprintf(f, "ETA        unknown: %s papers left, none succeeded in the last 15 min\n",
            group((long long)remaining, a, sizeof a));
  if (ledger_report_known(r, "elapsed_s"))
    fprintf(f, "elapsed    %s since the first paper was queued\n",
            ledger_fmt_duration(ledger_report_num(r, "elapsed_s"), a, sizeof a));
  fprintf(f, "tokens     %s prompt, %s completion (QA: %s prompt, %s completion)\n",
          group((long long)ledger_report_num(r, "tokens.prompt"), a, sizeof a),
          group((long long)ledger_report_num(r, "tokens.completion"), b, sizeof b),
          group((long long)ledger_report_num(r, "tokens.qa_prompt"), d, sizeof d),
          group((long long)ledger_report_num(r, "tokens.qa_completion"), g, sizeof g));
  fprintf(f, "cost       $%.4f so far (translation $%.4f, QA $%.4f)",
          ledger_report_num(r, "cost_usd"), ledger_report_num(cost, "translate_usd"),
          ledger_report_num(cost, "qa_usd"));
  if (ledger_report_known(cost, "per_paper_usd"))
    fprintf(f, "; $%.5f per succeeded paper; ~$%.4f more for the rest, ~$%.4f in all\n",
            ledger_report_num(cost, "per_paper_usd"),
            ledger_report_num(cost, "projected_remaining_usd"),
            ledger_report_num(cost, "projected_total_usd"));
  else
    fprintf(f, "\n");
  fprintf(f, "spend      $%.4f on work used, $%.4f thrown away (%.1f%%)",
          ledger_report_num(cost, "used_usd"), ledger_report_num(cost, "wasted_usd"),
          ledger_report_num(cost, "wasted_share") * 100);
  if (ledger_report_num(cost, "estimated_usd") > 0)
    fprintf(f, "; $%.4f of it estimated (requests abandoned without usage)",
            ledger_report_num(cost, "estimated_usd"));
  fprintf(f, "\n");
  const cJSON *why = cJSON_GetObjectItemCaseSensitive(cost, "wasted_by");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cost, "wasted_warning"))) {
    fprintf(f, "!!! %.0f%% of the spend was thrown away; top reasons:",
            ledger_report_num(cost, "wasted_share") * 100);
    for (int i = 0; i < cJSON_GetArraySize(why) && i < 3; i++) {
      const cJSON *o = cJSON_GetArrayItem(why, i);
      fprintf(f, "%s %s $%.4f (%.0f replies)", i ? "," : "",
              cJSON_GetObjectItemCaseSensitive(o, "reason")->valuestring,
              ledger_report_num(o, "usd"), ledger_report_num(o, "replies"));
    }
    fprintf(f, " (docs/providers.md says what each means)\n");
  }
  if (ledger_report_num(budget, "max_usd") > 0)
    fprintf(f, "budget     $%.4f of $%.2f spent (%.0f%%)%s\n",
            ledger_report_num(budget, "spent_usd"), ledger_report_num(budget, "max_usd"),
            ledger_report_num(budget, "spent_usd") / ledger_report_num(budget, "max_usd") * 100,
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(budget, "stopped")) ? ", STOPPED" : "");
  else
    fprintf(f, "budget     none (budget.max_usd = 0)\n");
  fprintf(f,
          "workers    %.0f live, %.0f stale (silent > %.0f s), %.0f stopped, %d stopped on a "
          "fatal error\n",
          ledger_report_num(w, "live"), ledger_report_num(w, "stale"),
          ledger_report_num(w, "stale_s"), ledger_report_num(w, "stopped"),
          cJSON_GetArraySize(fatal));
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w, "list")) {
    const char *state = cJSON_GetObjectItemCaseSensitive(e, "state")->valuestring;
    if (strcmp(state, "stale") == 0)
      fprintf(f, "           stale: %s, last heard %s\n",
              pq_text_safe(cJSON_GetObjectItemCaseSensitive(e, "worker")->valuestring),
              utc(ledger_report_num(e, "last_seen_ms"), ts, sizeof ts));
  }
  if (ledger_report_num(r, "dry_run_papers") > 0)
    fprintf(f,
            "dry run    %s succeeded papers came from the dry-run provider (not real "
            "translations)\n",
            group((long long)ledger_report_num(r, "dry_run_papers"), a, sizeof a));
  fprintf(f, "bad msgs   %s", group((long long)ledger_report_num(r, "bad_messages"), a, sizeof a));
  const cJSON *bl = cJSON_GetObjectItemCaseSensitive(r, "bad_latest");
  if (bl)
    fprintf(f, " (latest: %s; see table bad_messages)",
            pq_text_safe(cJSON_GetObjectItemCaseSensitive(bl, "reason")->valuestring));
  fprintf(f, "\nevents     %s applied, %s duplicates ignored, %s from older generations\n",
          group((long long)ledger_report_num(r, "events.applied"), a, sizeof a),
          group((long long)ledger_report_num(r, "events.duplicates"), b, sizeof b),
          group((long long)ledger_report_num(r, "events.stale"), d, sizeof d));
  print_qa(cJSON_GetObjectItemCaseSensitive(r, "qa"), f);
  print_targets(cJSON_GetObjectItemCaseSensitive(r, "targets"), f);
}

int ledger_report_cmd(const struct pq_config *cfg, int json) {
  struct ledger_db *db = NULL;
  cJSON *r = NULL;
  char err[1024];
  int rc = PQ_EXIT_RUNTIME;
  if (ledger_db_open(cfg->ledger.db, 0, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if (ledger_report_build(db, cfg, pq_now_ms(), &r) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot build the report from %s (see the error above)\n",
            cfg->ledger.db);
    goto cleanup;
  }
  if (json) {
    char *text = cJSON_Print(r);
    if (!text) {
      fprintf(stderr, "paperq-ledger: out of memory printing the report\n");
      goto cleanup;
    }
    puts(text);
    cJSON_free(text);
  } else {
    ledger_report_print(r, stdout);
  }
  rc = fflush(stdout) == 0 ? PQ_EXIT_OK : PQ_EXIT_RUNTIME;
cleanup:
  cJSON_Delete(r);
  ledger_db_close(db);
  return rc;
}
