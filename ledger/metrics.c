/* Prometheus metrics of the whole fleet, read from the ledger's database at
 * scrape time: the same figures as `report` (the report object is built and
 * turned into samples), plus the translation spend split into used and
 * thrown away. Names follow Prometheus conventions: paperq_ prefix, base
 * units in the name, _total on counters. docs/observability.md lists them. */
#include "metrics.h"
#include "db.h"
#include "query.h"
#include "report.h"

#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/metrics.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

struct ledger_metrics {
  const struct pq_config *cfg;
  struct ledger_db *db; /* opened and used on the server's thread only */
  struct pq_metrics_server *server;
};

static void write_report(struct pq_buf *b, const cJSON *r, double used, double thrown) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "papers");
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "workers");
  const cJSON *qa = cJSON_GetObjectItemCaseSensitive(r, "qa");
  const cJSON *e;

  pq_metrics_family(b, "paperq_papers", "gauge", "Papers known to the ledger, by state.");
  for (int i = 0; i < LEDGER_NSTATES; i++)
    pq_metrics_sample1(b, "paperq_papers", "state", ledger_state_name(i),
                       ledger_report_num(p, ledger_state_name(i)));

  pq_metrics_family(b, "paperq_ledger_messages_total", "counter",
                    "Messages the ledger consumed, by what it did with them: applied (new), "
                    "duplicate (event id seen before), stale (older generation), bad "
                    "(undecodable or invalid, kept in bad_messages).");
  pq_metrics_sample1(b, "paperq_ledger_messages_total", "outcome", "applied",
                     ledger_report_num(r, "events.applied"));
  pq_metrics_sample1(b, "paperq_ledger_messages_total", "outcome", "duplicate",
                     ledger_report_num(r, "events.duplicates"));
  pq_metrics_sample1(b, "paperq_ledger_messages_total", "outcome", "stale",
                     ledger_report_num(r, "events.stale"));
  pq_metrics_sample1(b, "paperq_ledger_messages_total", "outcome", "bad",
                     ledger_report_num(r, "bad_messages"));

  pq_metrics_family(b, "paperq_spend_usd_total", "counter",
                    "Money spent on LLM calls, USD: translate_used (attempts that produced a "
                    "paper's success), translate_thrown_away (failed, duplicate or unfinished "
                    "attempts), qa (judges).");
  pq_metrics_sample1(b, "paperq_spend_usd_total", "kind", "translate_used", used);
  pq_metrics_sample1(b, "paperq_spend_usd_total", "kind", "translate_thrown_away", thrown);
  pq_metrics_sample1(b, "paperq_spend_usd_total", "kind", "qa",
                     ledger_report_num(r, "cost.qa_usd"));

  pq_metrics_family(b, "paperq_spend_projected_usd", "gauge",
                    "Projected total spend for every paper known, USD (spend so far plus the "
                    "mean cost of a succeeded paper times the papers left).");
  if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "cost"),
                                                      "projected_total_usd")))
    pq_metrics_sample(b, "paperq_spend_projected_usd", NULL,
                      ledger_report_num(r, "cost.projected_total_usd"));

  pq_metrics_family(b, "paperq_tokens_total", "counter", "LLM tokens, by job kind and type.");
  static const char *const tok[4][3] = {{"translate", "prompt", "tokens.prompt"},
                                        {"translate", "completion", "tokens.completion"},
                                        {"qa", "prompt", "tokens.qa_prompt"},
                                        {"qa", "completion", "tokens.qa_completion"}};
  for (int i = 0; i < 4; i++) {
    const char *labels[] = {"kind", tok[i][0], "type", tok[i][1], NULL};
    pq_metrics_sample(b, "paperq_tokens_total", labels, ledger_report_num(r, tok[i][2]));
  }

  pq_metrics_family(b, "paperq_eta_seconds", "gauge",
                    "Time left at the recent rate (absent while no paper finished lately).");
  if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "eta_s")))
    pq_metrics_sample(b, "paperq_eta_seconds", NULL, ledger_report_num(r, "eta_s"));

  pq_metrics_family(b, "paperq_qa_judgements_total", "counter",
                    "QA judgements recorded, history included.");
  pq_metrics_sample(b, "paperq_qa_judgements_total", NULL, ledger_report_num(qa, "judgements_all"));
  pq_metrics_family(b, "paperq_qa_papers_judged", "gauge",
                    "Papers with at least one current judgement.");
  pq_metrics_sample(b, "paperq_qa_papers_judged", NULL, ledger_report_num(qa, "papers_judged"));
  pq_metrics_family(b, "paperq_qa_overall_score_mean", "gauge",
                    "Mean overall QA score (1-10) over current judgements.");
  if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(qa, "mean_overall")))
    pq_metrics_sample(b, "paperq_qa_overall_score_mean", NULL,
                      ledger_report_num(qa, "mean_overall"));
  pq_metrics_family(b, "paperq_qa_judge_overall_score_mean", "gauge",
                    "Mean overall QA score (1-10) of each judge over its current judgements.");
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(qa, "by_judge")) {
    pq_metrics_sample1(b, "paperq_qa_judge_overall_score_mean", "judge", e->string,
                       ledger_report_num(e, "overall"));
  }

  pq_metrics_family(b, "paperq_workers", "gauge",
                    "Workers the ledger heard of: live (heartbeat within ledger.stale_s), stale, "
                    "stopped, fatal (stopped on a provider refusal).");
  pq_metrics_sample1(b, "paperq_workers", "state", "live", ledger_report_num(w, "live"));
  pq_metrics_sample1(b, "paperq_workers", "state", "stale", ledger_report_num(w, "stale"));
  pq_metrics_sample1(b, "paperq_workers", "state", "stopped", ledger_report_num(w, "stopped"));
  pq_metrics_sample1(b, "paperq_workers", "state", "fatal",
                     (double)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(w, "fatal")));
  double in_flight = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w, "list")) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "state");
    if (cJSON_IsString(st) && strcmp(st->valuestring, "live") == 0)
      in_flight += ledger_report_num(e, "in_flight");
  }
  pq_metrics_family(b, "paperq_workers_papers_in_flight", "gauge",
                    "Papers in flight on live workers, from their last heartbeats.");
  pq_metrics_sample(b, "paperq_workers_papers_in_flight", NULL, in_flight);

  const cJSON *budget = cJSON_GetObjectItemCaseSensitive(r, "budget");
  pq_metrics_family(b, "paperq_budget_stopped", "gauge",
                    "1 while the budget (budget.max_usd) has stopped new work.");
  pq_metrics_sample(b, "paperq_budget_stopped", NULL,
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(budget, "stopped")) ? 1 : 0);
}

static int render(void *ctx, struct pq_buf *b) {
  struct ledger_metrics *m = ctx;
  char err[1024];
  cJSON *r = NULL;
  double used = 0, thrown = 0;
  int own = 0, rc;
  if (!m->db && ledger_db_open(m->cfg->ledger.db, LEDGER_DB_READONLY, &m->db, err, sizeof err)) {
    pq_warn("metrics: %s", err);
    m->db = NULL;
    return PQ_ERR_IO;
  }
  if ((rc = ledger_query_begin(m->db, &own)))
    goto fail;
  rc = ledger_report_build(m->db, m->cfg, pq_now_ms(), &r);
  if (!rc)
    rc = ledger_query_spend_split(m->db, &used, &thrown);
  ledger_query_end(m->db, own);
  if (rc)
    goto fail;
  pq_metrics_family(b, "paperq_build_info", "gauge", "The paperq version serving these metrics.");
  const char *labels[] = {"program", "paperq-ledger", "version", PAPERQ_VERSION, NULL};
  pq_metrics_sample(b, "paperq_build_info", labels, 1);
  write_report(b, r, used, thrown);
  cJSON_Delete(r);
  return PQ_OK;
fail:
  cJSON_Delete(r);
  ledger_db_close(m->db); /* reopened on the next scrape */
  m->db = NULL;
  return rc;
}

int ledger_metrics_start(const struct pq_config *cfg, struct ledger_metrics **out) {
  char err[512];
  *out = NULL;
  if (!cfg->ledger.metrics_listen[0])
    return PQ_OK;
  struct ledger_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return PQ_ERR_NOMEM;
  m->cfg = cfg;
  int rc = pq_metrics_start(cfg->ledger.metrics_listen, render, m, &m->server, err, sizeof err);
  if (rc != PQ_OK) {
    pq_error("ledger.%s", err);
    free(m);
    return rc;
  }
  pq_info("Prometheus metrics: GET /metrics on %s (port %d)", cfg->ledger.metrics_listen,
          pq_metrics_port(m->server));
  *out = m;
  return PQ_OK;
}

void ledger_metrics_stop(struct ledger_metrics *m) {
  if (!m)
    return;
  pq_metrics_stop(m->server); /* joins the thread: no scrape runs after this */
  ledger_db_close(m->db);
  free(m);
}
