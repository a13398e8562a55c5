/* `paperq-ledger report --html FILE`: the run report as one self-contained
 * page. Charts are inline SVG drawn here (no script, style sheet, font or
 * image is loaded from anywhere; a Content-Security-Policy says so to the
 * browser). Every text that came from the input or a provider is escaped,
 * and provider texts pass through pq_redact first. */
#include "db.h"
#include "ledger.h"
#include "query.h"
#include "report.h"

#include "paperq/buf.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/redact.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_MAX (64 << 20) /* bytes of the page */
#define SLOWEST_ROWS 10
#define MAX_BARS 240   /* throughput bars: minutes are grouped beyond this */
#define MAX_POINTS 720 /* points of a line chart */
#define CHART_W 860
#define CHART_H 240
#define M_LEFT 64
#define M_RIGHT 16
#define M_TOP 12
#define M_BOTTOM 30

/* ---- what the page shows, read in one snapshot ---- */

struct minute_list {
  struct ledger_minute_row *v;
  size_t n, cap;
};
struct spend_list {
  struct ledger_spend_row *v;
  size_t n, cap;
};

struct page {
  cJSON *report;
  struct minute_list minutes;
  struct spend_list spend;
  cJSON *failures, *parked, *slowest;
  double used_usd, thrown_usd;
};

static int grow(void **v, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return PQ_OK;
  size_t ncap = *cap ? *cap * 2 : 256;
  void *nv = realloc(*v, ncap * size);
  if (!nv)
    return PQ_ERR_NOMEM;
  *v = nv;
  *cap = ncap;
  return PQ_OK;
}

static int add_minute(void *ctx, const struct ledger_minute_row *r) {
  struct minute_list *l = ctx;
  if (grow((void **)&l->v, &l->cap, l->n, sizeof *l->v))
    return PQ_ERR_NOMEM;
  l->v[l->n++] = *r;
  return PQ_OK;
}

static int add_spend(void *ctx, const struct ledger_spend_row *r) {
  struct spend_list *l = ctx;
  if (grow((void **)&l->v, &l->cap, l->n, sizeof *l->v))
    return PQ_ERR_NOMEM;
  l->v[l->n++] = *r;
  return PQ_OK;
}

static char *redacted(const char *s) {
  char *c = pq_strdup(s ? s : "");
  pq_redact(c);
  return c;
}

static int add_failure(void *ctx, const struct ledger_failure_row *r) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "class", r->error_class ? r->error_class : "unknown");
  cJSON_AddNumberToObject(e, "attempts", (double)r->attempts);
  cJSON_AddNumberToObject(e, "papers", (double)r->papers);
  cJSON_AddItemToArray(ctx, e);
  return PQ_OK;
}

static int add_parked(void *ctx, const struct ledger_parked_reason_row *r) {
  cJSON *e = cJSON_CreateObject();
  char *reason = redacted(r->reason ? r->reason : "unknown");
  cJSON_AddStringToObject(e, "reason", reason ? reason : "");
  free(reason);
  cJSON_AddNumberToObject(e, "papers", (double)r->papers);
  cJSON_AddItemToArray(ctx, e);
  return PQ_OK;
}

static int add_slow(void *ctx, const struct ledger_slow_row *r) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "paper_id", r->paper_id ? r->paper_id : "");
  cJSON_AddStringToObject(e, "title", r->title ? r->title : "");
  cJSON_AddNumberToObject(e, "duration_ms", (double)r->duration_ms);
  cJSON_AddNumberToObject(e, "attempts", (double)r->attempts);
  if (r->llm_ms.known)
    cJSON_AddNumberToObject(e, "llm_ms", (double)r->llm_ms.v);
  cJSON_AddItemToArray(ctx, e);
  return PQ_OK;
}

static void page_free(struct page *p) {
  cJSON_Delete(p->report);
  cJSON_Delete(p->failures);
  cJSON_Delete(p->parked);
  cJSON_Delete(p->slowest);
  free(p->minutes.v);
  free(p->spend.v);
  memset(p, 0, sizeof *p);
}

static int read_page(struct ledger_db *db, const struct pq_config *cfg, struct page *p) {
  int own, rc;
  memset(p, 0, sizeof *p);
  if ((rc = ledger_query_begin(db, &own)))
    return rc;
  p->failures = cJSON_CreateArray();
  p->parked = cJSON_CreateArray();
  p->slowest = cJSON_CreateArray();
  if (!p->failures || !p->parked || !p->slowest)
    rc = PQ_ERR_NOMEM;
  if (!rc)
    rc = ledger_report_build(db, cfg, pq_now_ms(), &p->report);
  if (!rc)
    rc = ledger_query_throughput(db, add_minute, &p->minutes);
  if (!rc)
    rc = ledger_query_spend_by_minute(db, add_spend, &p->spend);
  if (!rc)
    rc = ledger_query_spend_split(db, &p->used_usd, &p->thrown_usd);
  if (!rc)
    rc = ledger_query_failure_classes(db, add_failure, p->failures);
  if (!rc)
    rc = ledger_query_parked_reasons(db, add_parked, p->parked);
  if (!rc)
    rc = ledger_query_slowest(db, SLOWEST_ROWS, add_slow, p->slowest);
  ledger_query_end(db, own);
  if (rc)
    page_free(p);
  return rc;
}

/* ---- HTML helpers ---- */

/* Text and attribute values: the five HTML specials become entities, other
 * control bytes are dropped (UTF-8 passes through). */
static void esc(struct pq_buf *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '&':
      pq_buf_append_str(b, "&amp;");
      break;
    case '<':
      pq_buf_append_str(b, "&lt;");
      break;
    case '>':
      pq_buf_append_str(b, "&gt;");
      break;
    case '"':
      pq_buf_append_str(b, "&quot;");
      break;
    case '\'':
      pq_buf_append_str(b, "&#39;");
      break;
    default:
      if (*p >= 0x20 || *p == '\t' || *p == '\n')
        pq_buf_append(b, p, 1);
    }
  }
}

/* with: 1 the date too (runs over a day), -1 the seconds (runs of a few
 * minutes), 0 hours and minutes. */
static const char *when(double ms, int with, char *out, size_t outlen) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, outlen, with > 0 ? "%m-%d %H:%M" : with < 0 ? "%H:%M:%S" : "%H:%M", &tm);
  return out;
}

/* Durations under 10 s with a decimal: the slowest papers of a short run. */
static const char *duration(double s, char *out, size_t outlen) {
  if (s < 10) {
    snprintf(out, outlen, "%.1f s", s);
    return out;
  }
  return ledger_fmt_duration(s, out, outlen);
}

/* A round step for about `ticks` intervals over [0, max]. */
static double nice_step(double max, int ticks) {
  double raw = max / ticks, mag = pow(10, floor(log10(raw)));
  double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* ---- charts ---- */

struct axes {
  double x0, x1; /* epoch ms */
  double ymax;
  int money; /* y labels in USD */
};

static double px(const struct axes *a, double x) {
  double span = a->x1 > a->x0 ? a->x1 - a->x0 : 1;
  return M_LEFT + (x - a->x0) / span * (CHART_W - M_LEFT - M_RIGHT);
}
static double py(const struct axes *a, double y) {
  return CHART_H - M_BOTTOM - (a->ymax > 0 ? y / a->ymax : 0) * (CHART_H - M_TOP - M_BOTTOM);
}

static void chart_open(struct pq_buf *b, const char *id, const char *label, struct axes *a) {
  char t[32];
  if (a->ymax <= 0)
    a->ymax = 1;
  double step = nice_step(a->ymax, 4);
  a->ymax = ceil(a->ymax / step) * step;
  pq_buf_printf(b,
                "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
                "aria-label=\"",
                id, CHART_W, CHART_H);
  esc(b, label);
  pq_buf_printf(b, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
  for (double y = 0; y <= a->ymax + step / 2; y += step) {
    pq_buf_printf(b,
                  "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  "<text class=\"yl\" x=\"%d\" y=\"%.1f\">",
                  M_LEFT, CHART_W - M_RIGHT, py(a, y), py(a, y), M_LEFT - 6, py(a, y) + 4);
    if (a->money)
      pq_buf_printf(b, "$%.*f", step < 0.01 ? 4 : 2, y);
    else
      pq_buf_printf(b, "%g", y);
    pq_buf_append_str(b, "</text>\n");
  }
  int with_date = a->x1 - a->x0 > 86400000.0 ? 1 : a->x1 - a->x0 < 600000.0 ? -1 : 0;
  for (int i = 0; i <= 5; i++) {
    double x = a->x0 + (a->x1 - a->x0) * i / 5;
    /* The end labels are anchored inside the chart, so none is cut. */
    pq_buf_printf(b, "<text class=\"xl%s\" x=\"%.1f\" y=\"%d\">%s</text>\n",
                  i == 0   ? " xs"
                  : i == 5 ? " xe"
                           : "",
                  px(a, x), CHART_H - 10, when(x, with_date, t, sizeof t));
  }
  pq_buf_printf(b, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", M_LEFT,
                CHART_W - M_RIGHT, CHART_H - M_BOTTOM, CHART_H - M_BOTTOM);
}

/* A polyline through (x[i], y[i]), at most MAX_POINTS of them (the series
 * are cumulative, so every k-th point keeps the shape). */
static void polyline(struct pq_buf *b, const struct axes *a, const double *x, const double *y,
                     size_t n, const char *cls) {
  size_t k = n > MAX_POINTS ? (n + MAX_POINTS - 1) / MAX_POINTS : 1;
  pq_buf_printf(b, "<polyline class=\"%s\" points=\"", cls);
  for (size_t i = 0; i < n; i += k)
    pq_buf_printf(b, "%.1f,%.1f ", px(a, x[i]), py(a, y[i]));
  if (n && (n - 1) % k)
    pq_buf_printf(b, "%.1f,%.1f", px(a, x[n - 1]), py(a, y[n - 1]));
  pq_buf_append_str(b, "\"/>\n");
}

static void no_data(struct pq_buf *b, const char *what) {
  pq_buf_printf(b, "<p class=\"none\">%s</p>\n", what);
}

/* Progress over time: papers finished (cumulative) against the total. */
static int chart_progress(struct pq_buf *b, const struct page *p, double total) {
  const struct minute_list *m = &p->minutes;
  if (m->n == 0) {
    no_data(b, "No paper has finished yet.");
    return PQ_OK;
  }
  double *x = malloc((m->n + 1) * sizeof *x), *ok = malloc((m->n + 1) * sizeof *ok),
         *all = malloc((m->n + 1) * sizeof *all);
  if (!x || !ok || !all) {
    free(x);
    free(ok);
    free(all);
    return PQ_ERR_NOMEM;
  }
  double s = 0, d = 0;
  x[0] = (double)m->v[0].minute * 60000;
  ok[0] = all[0] = 0;
  for (size_t i = 0; i < m->n; i++) {
    s += (double)m->v[i].succeeded;
    d += (double)(m->v[i].succeeded + m->v[i].parked);
    x[i + 1] = (double)(m->v[i].minute + 1) * 60000;
    ok[i + 1] = s;
    all[i + 1] = d;
  }
  struct axes a = {x[0], x[m->n], total > d ? total : d, 0};
  chart_open(b, "chart-progress", "papers finished over time", &a);
  pq_buf_printf(b,
                "<line class=\"target\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"><title>%.0f "
                "papers in all</title></line>\n",
                M_LEFT, CHART_W - M_RIGHT, py(&a, total), py(&a, total), total);
  polyline(b, &a, x, all, m->n + 1, "s2");
  polyline(b, &a, x, ok, m->n + 1, "s1");
  pq_buf_append_str(b, "</svg>\n<p class=\"legend\"><span class=\"k1\"></span>succeeded "
                       "<span class=\"k2\"></span>succeeded + parked "
                       "<span class=\"kt\"></span>all papers</p>\n");
  free(x);
  free(ok);
  free(all);
  return PQ_OK;
}

/* Throughput: papers finished per minute, as bars (minutes grouped when
 * the run is longer than MAX_BARS minutes). */
static int chart_throughput(struct pq_buf *b, const struct page *p) {
  const struct minute_list *m = &p->minutes;
  if (m->n == 0) {
    no_data(b, "No paper has finished yet.");
    return PQ_OK;
  }
  int64_t first = m->v[0].minute, last = m->v[m->n - 1].minute;
  int64_t span = last - first + 1;
  int64_t per = span > MAX_BARS ? (span + MAX_BARS - 1) / MAX_BARS : 1;
  size_t nbars = (size_t)((span + per - 1) / per);
  double *ok = calloc(nbars, sizeof *ok), *bad = calloc(nbars, sizeof *bad);
  if (!ok || !bad) {
    free(ok);
    free(bad);
    return PQ_ERR_NOMEM;
  }
  double max = 0;
  for (size_t i = 0; i < m->n; i++) {
    size_t k = (size_t)((m->v[i].minute - first) / per);
    ok[k] += (double)m->v[i].succeeded / (double)per;
    bad[k] += (double)m->v[i].parked / (double)per;
  }
  for (size_t k = 0; k < nbars; k++)
    if (ok[k] + bad[k] > max)
      max = ok[k] + bad[k];
  struct axes a = {(double)first * 60000, (double)(first + (int64_t)nbars * per) * 60000, max, 0};
  chart_open(b, "chart-throughput", "papers finished per minute", &a);
  double w = (CHART_W - M_LEFT - M_RIGHT) / (double)nbars;
  char t[32];
  for (size_t k = 0; k < nbars; k++) {
    double x = px(&a, a.x0 + (double)k * (double)per * 60000);
    double y0 = py(&a, 0), y1 = py(&a, ok[k]), y2 = py(&a, ok[k] + bad[k]);
    when(a.x0 + (double)k * (double)per * 60000, 1, t, sizeof t);
    pq_buf_printf(b,
                  "<g><title>%s UTC: %.1f succeeded, %.1f parked per minute</title>"
                  "<rect class=\"b1\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                  t, ok[k], bad[k], x + w * 0.1, y1, w * 0.8, y0 - y1);
    if (bad[k] > 0)
      pq_buf_printf(b, "<rect class=\"b2\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                    x + w * 0.1, y2, w * 0.8, y1 - y2);
    pq_buf_append_str(b, "</g>\n");
  }
  pq_buf_printf(b,
                "</svg>\n<p class=\"legend\"><span class=\"k1\"></span>succeeded "
                "<span class=\"k3\"></span>parked%s</p>\n",
                per > 1 ? " (per-minute mean of each bar's minutes)" : "");
  free(ok);
  free(bad);
  return PQ_OK;
}

/* Spend accumulating, and the projection from now to the end at the ETA. */
static int chart_spend(struct pq_buf *b, const struct page *p) {
  const struct spend_list *s = &p->spend;
  const cJSON *r = p->report;
  if (s->n == 0) {
    no_data(b, "Nothing spent yet.");
    return PQ_OK;
  }
  double *x = malloc((s->n + 1) * sizeof *x), *y = malloc((s->n + 1) * sizeof *y);
  if (!x || !y) {
    free(x);
    free(y);
    return PQ_ERR_NOMEM;
  }
  double sum = 0;
  x[0] = (double)s->v[0].minute * 60000;
  y[0] = 0;
  for (size_t i = 0; i < s->n; i++) {
    sum += s->v[i].translate_usd + s->v[i].qa_usd;
    x[i + 1] = (double)(s->v[i].minute + 1) * 60000;
    y[i + 1] = sum;
  }
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(r, "cost");
  int project = ledger_report_known(cost, "projected_total_usd") &&
                ledger_report_known(r, "eta_s") && ledger_report_num(r, "eta_s") > 0;
  double now = ledger_report_num(r, "generated_ms"), spent = ledger_report_num(r, "cost_usd");
  double end = project ? now + ledger_report_num(r, "eta_s") * 1000 : x[s->n];
  double ymax = project ? ledger_report_num(cost, "projected_total_usd") : sum;
  struct axes a = {x[0], end > x[s->n] ? end : x[s->n], ymax > sum ? ymax : sum, 1};
  chart_open(b, "chart-spend", "spend over time", &a);
  polyline(b, &a, x, y, s->n + 1, "s1");
  if (project)
    pq_buf_printf(b,
                  "<line class=\"proj\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"><title>"
                  "projected: $%.4f when the last paper is done</title></line>\n",
                  px(&a, now), py(&a, spent), px(&a, end),
                  py(&a, ledger_report_num(cost, "projected_total_usd")),
                  ledger_report_num(cost, "projected_total_usd"));
  pq_buf_printf(b,
                "</svg>\n<p class=\"legend\"><span class=\"k1\"></span>spent (translation and QA)"
                "%s</p>\n",
                project ? " <span class=\"kp\"></span>projection to the end at the current rate"
                        : "");
  free(x);
  free(y);
  return PQ_OK;
}

/* One bar chart per judge: how many current judgements gave overall 1..10. */
static void chart_qa(struct pq_buf *b, const cJSON *qa) {
  const cJSON *j;
  int n = 0;
  cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(qa, "by_judge")) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "overall_histogram");
    double max = 0;
    for (int i = 0; i < 10; i++)
      if (cJSON_GetArrayItem(h, i) && cJSON_GetArrayItem(h, i)->valuedouble > max)
        max = cJSON_GetArrayItem(h, i)->valuedouble;
    pq_buf_append_str(b, "<figure class=\"judge\"><figcaption>");
    esc(b, j->string);
    pq_buf_printf(b, ": %.0f judgements, mean overall %.2f</figcaption>\n",
                  ledger_report_num(j, "count"), ledger_report_num(j, "overall"));
    pq_buf_printf(b, "<svg class=\"qa\" viewBox=\"0 0 300 130\" role=\"img\" aria-label=\"overall "
                     "scores of judge ");
    esc(b, j->string);
    pq_buf_append_str(b, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
    for (int i = 0; i < 10; i++) {
      double v = cJSON_GetArrayItem(h, i) ? cJSON_GetArrayItem(h, i)->valuedouble : 0;
      double hgt = max > 0 ? v / max * 95 : 0;
      pq_buf_printf(b,
                    "<g><title>overall %d: %.0f</title><rect class=\"b1\" x=\"%d\" y=\"%.1f\" "
                    "width=\"24\" height=\"%.1f\"/><text class=\"xl\" x=\"%d\" y=\"124\">%d"
                    "</text></g>\n",
                    i + 1, v, 8 + i * 29, 105 - hgt, hgt, 20 + i * 29, i + 1);
    }
    pq_buf_append_str(b, "</svg></figure>\n");
    n++;
  }
  if (!n)
    no_data(b, "No QA judgement yet.");
}

/* Failures by reason class as horizontal bars, then parked papers by
 * reason. */
static void chart_failures(struct pq_buf *b, const struct page *p) {
  const cJSON *e;
  double max = 0;
  int n = cJSON_GetArraySize(p->failures);
  cJSON_ArrayForEach(e, p->failures) {
    if (ledger_report_num(e, "attempts") > max)
      max = ledger_report_num(e, "attempts");
  }
  if (n == 0)
    no_data(b, "No attempt has failed.");
  else {
    pq_buf_printf(b,
                  "<svg id=\"chart-failures\" class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
                  "aria-label=\"failed attempts by reason class\" "
                  "xmlns=\"http://www.w3.org/2000/svg\">\n",
                  CHART_W, 26 * n + 8);
    int i = 0;
    cJSON_ArrayForEach(e, p->failures) {
      /* Room on the right for the value label. */
      double w = max > 0 ? ledger_report_num(e, "attempts") / max * (CHART_W - 158 - 220) : 0;
      pq_buf_printf(b, "<g><title>");
      esc(b, ledger_report_str(e, "class"));
      pq_buf_printf(b,
                    ": %.0f failed attempts, %.0f papers</title><text class=\"yl\" x=\"150\" "
                    "y=\"%d\">",
                    ledger_report_num(e, "attempts"), ledger_report_num(e, "papers"), 26 * i + 22);
      esc(b, ledger_report_str(e, "class"));
      pq_buf_printf(
          b,
          "</text><rect class=\"b3\" x=\"158\" y=\"%d\" width=\"%.1f\" height=\"18\"/>"
          "<text class=\"vl\" x=\"%.1f\" y=\"%d\">%.0f failed attempts, %.0f papers</text>"
          "</g>\n",
          26 * i + 8, w, 164 + w, 26 * i + 22, ledger_report_num(e, "attempts"),
          ledger_report_num(e, "papers"));
      i++;
    }
    pq_buf_append_str(b, "</svg>\n");
  }
  if (cJSON_GetArraySize(p->parked) > 0) {
    pq_buf_append_str(b, "<table><tr><th>parked papers</th><th>reason</th></tr>\n");
    cJSON_ArrayForEach(e, p->parked) {
      pq_buf_printf(b, "<tr><td class=\"n\">%.0f</td><td>", ledger_report_num(e, "papers"));
      esc(b, ledger_report_str(e, "reason"));
      pq_buf_append_str(b, "</td></tr>\n");
    }
    pq_buf_append_str(b, "</table>\n");
  }
}

static void table_slowest(struct pq_buf *b, const struct page *p) {
  const cJSON *e;
  char d[32], l[32];
  if (cJSON_GetArraySize(p->slowest) == 0) {
    no_data(b, "No paper has succeeded yet.");
    return;
  }
  pq_buf_append_str(b, "<table id=\"slowest\"><tr><th>paper</th><th>title</th><th>last attempt"
                       "</th><th>LLM time</th><th>attempts</th></tr>\n");
  cJSON_ArrayForEach(e, p->slowest) {
    pq_buf_append_str(b, "<tr><td>");
    esc(b, ledger_report_str(e, "paper_id"));
    pq_buf_append_str(b, "</td><td>");
    esc(b, ledger_report_str(e, "title"));
    pq_buf_printf(b,
                  "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%.0f"
                  "</td></tr>\n",
                  duration(ledger_report_num(e, "duration_ms") / 1000, d, sizeof d),
                  ledger_report_known(e, "llm_ms")
                      ? duration(ledger_report_num(e, "llm_ms") / 1000, l, sizeof l)
                      : "-",
                  ledger_report_num(e, "attempts"));
  }
  pq_buf_append_str(b, "</table>\n");
}

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:900px;color:#222;"
    "padding:0 12px}h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;"
    "border-bottom:1px solid #ddd}.meta{color:#666}.cards{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}"
    ".card b{display:block;font-size:18px}.alert{background:#fde8e8;border:1px solid #e99;"
    "padding:8px 12px;border-radius:6px}svg.chart{width:100%;height:auto}"
    ".grid{stroke:#eee}.axis{stroke:#999}.yl{font-size:11px;fill:#555;text-anchor:end}"
    ".xl{font-size:11px;fill:#555;text-anchor:middle}.xs{text-anchor:start}.xe{text-anchor:end}"
    ".vl{font-size:11px;fill:#333}"
    "polyline{fill:none;stroke-width:2}.s1{stroke:#2b6cb0}.s2{stroke:#c05621}"
    ".target{stroke:#999;stroke-dasharray:4 3}.proj{stroke:#2b6cb0;stroke-dasharray:6 4;"
    "stroke-width:2}.b1{fill:#2b6cb0}.b2,.b3{fill:#c53030}"
    ".legend span{display:inline-block;width:14px;height:4px;margin:0 4px 3px 10px}"
    ".k1{background:#2b6cb0}.k2{background:#c05621}.k3{background:#c53030}"
    ".kt{border-top:2px dashed #999}.kp{border-top:2px dashed #2b6cb0}"
    "figure.judge{display:inline-block;margin:0 16px 8px 0}svg.qa{width:300px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #eee;"
    "padding:3px 8px;text-align:left;vertical-align:top}td.n{text-align:right;"
    "white-space:nowrap}.none{color:#777;font-style:italic}";

static void card(struct pq_buf *b, const char *label, const char *value) {
  pq_buf_printf(b, "<div class=\"card\">%s<b>", label);
  esc(b, value);
  pq_buf_append_str(b, "</b></div>\n");
}

static int render(struct pq_buf *b, const struct page *p) {
  const cJSON *r = p->report;
  const cJSON *pp = cJSON_GetObjectItemCaseSensitive(r, "papers");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(r, "cost");
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "workers");
  const cJSON *qa = cJSON_GetObjectItemCaseSensitive(r, "qa");
  const cJSON *e;
  char v[96], ts[40];
  int rc;
  time_t now = (time_t)(ledger_report_num(r, "generated_ms") / 1000);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S UTC", &tm);

  pq_buf_append_str(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                       "'none'; style-src 'unsafe-inline'\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>paperq run report</title>\n<style>");
  pq_buf_append_str(b, style);
  pq_buf_append_str(b, "</style></head><body>\n<h1>paperq run report</h1>\n<p class=\"meta\">");
  esc(b, ledger_report_str(r, "db"));
  pq_buf_printf(b, ", %s</p>\n", ts);

  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w, "fatal")) {
    char *err = redacted(ledger_report_str(e, "error"));
    pq_buf_append_str(b, "<p class=\"alert\">Workers stopped: ");
    esc(b, err ? err : "");
    pq_buf_append_str(b, " (worker ");
    esc(b, ledger_report_str(e, "worker"));
    pq_buf_append_str(b, "). Fix the cause and restart them; their jobs went back to the "
                         "queue.</p>\n");
    free(err);
  }
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "budget"),
                                                    "stopped")))
    pq_buf_printf(b, "<p class=\"alert\">The budget stopped the run: $%.4f spent of $%.2f.</p>\n",
                  ledger_report_num(r, "budget.spent_usd"), ledger_report_num(r, "budget.max_usd"));

  double total = ledger_report_num(pp, "total"),
         done = ledger_report_num(pp, "succeeded") + ledger_report_num(pp, "parked");
  pq_buf_append_str(b, "<div class=\"cards\" id=\"summary\">\n");
  snprintf(v, sizeof v, "%.0f of %.0f (%.1f%%)", done, total, total > 0 ? done / total * 100 : 0);
  card(b, "papers done", v);
  snprintf(v, sizeof v, "%.0f", ledger_report_num(pp, "succeeded"));
  card(b, "succeeded", v);
  snprintf(v, sizeof v, "%.0f", ledger_report_num(pp, "parked"));
  card(b, "parked", v);
  snprintf(v, sizeof v, "%.0f", ledger_report_num(pp, "remaining"));
  card(b, "left", v);
  snprintf(v, sizeof v, "%.1f papers/min", ledger_report_num(r, "rate_per_min"));
  card(b, "rate (recent)", v);
  if (ledger_report_num(pp, "remaining") == 0)
    snprintf(v, sizeof v, "done");
  else if (ledger_report_known(r, "eta_s"))
    duration(ledger_report_num(r, "eta_s"), v, sizeof v);
  else
    snprintf(v, sizeof v, "unknown");
  card(b, "ETA", v);
  snprintf(v, sizeof v, "$%.4f", ledger_report_num(r, "cost_usd"));
  card(b, "spent", v);
  if (ledger_report_known(cost, "projected_total_usd"))
    snprintf(v, sizeof v, "$%.4f", ledger_report_num(cost, "projected_total_usd"));
  else
    snprintf(v, sizeof v, "-");
  card(b, "projected total", v);
  snprintf(v, sizeof v, "$%.4f / $%.4f", p->used_usd, p->thrown_usd);
  card(b, "translation used / thrown away", v);
  if (ledger_report_known(qa, "mean_overall"))
    snprintf(v, sizeof v, "%.2f (%.0f papers)", ledger_report_num(qa, "mean_overall"),
             ledger_report_num(qa, "papers_judged"));
  else
    snprintf(v, sizeof v, "-");
  card(b, "QA mean overall", v);
  snprintf(v, sizeof v, "%.0f live, %.0f stale", ledger_report_num(w, "live"),
           ledger_report_num(w, "stale"));
  card(b, "workers", v);
  pq_buf_append_str(b, "</div>\n");

  pq_buf_append_str(b, "<h2 id=\"progress\">Progress over time</h2>\n");
  if ((rc = chart_progress(b, p, total)))
    return rc;
  pq_buf_append_str(b, "<h2 id=\"throughput\">Throughput per minute</h2>\n");
  if ((rc = chart_throughput(b, p)))
    return rc;
  pq_buf_append_str(b, "<h2 id=\"spend\">Spend</h2>\n");
  if ((rc = chart_spend(b, p)))
    return rc;
  pq_buf_append_str(b, "<h2 id=\"qa\">QA score distribution per judge</h2>\n");
  chart_qa(b, qa);
  pq_buf_append_str(b, "<h2 id=\"failures\">Failures by reason class</h2>\n");
  chart_failures(b, p);
  pq_buf_append_str(b, "<h2 id=\"slowest-papers\">Slowest papers</h2>\n");
  table_slowest(b, p);
  pq_buf_printf(b,
                "<p class=\"meta\">paperq %s; times in UTC. Made by <code>paperq-ledger report "
                "--html</code>; the same figures as <code>paperq-ledger report</code>.</p>\n"
                "</body></html>\n",
                PAPERQ_VERSION);
  return PQ_OK;
}

int ledger_report_html(const struct pq_config *cfg, const char *path) {
  struct ledger_db *db = NULL;
  struct page p;
  struct pq_buf b;
  char err[1024];
  int rc = PQ_EXIT_RUNTIME;
  memset(&p, 0, sizeof p);
  pq_buf_init(&b, PAGE_MAX);
  if (ledger_db_open(cfg->ledger.db, LEDGER_DB_READONLY, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if (read_page(db, cfg, &p) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot read the report from %s (see the error above)\n",
            cfg->ledger.db);
    goto cleanup;
  }
  int rrc = render(&b, &p);
  if (rrc == PQ_OK && b.len == 0)
    rrc = PQ_ERR_NOMEM;
  if (rrc != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot build the HTML report (%s)\n",
            rrc == PQ_ERR_TOOBIG ? "larger than 64 MB" : "out of memory");
    goto cleanup;
  }
  /* Whole or not at all: a browser reloading never sees half a page. */
  if (pq_write_file(path, b.data, b.len) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot write %s: %s\n", path, strerror(errno));
    goto cleanup;
  }
  printf("wrote %s (%zu bytes)\n", path, b.len);
  rc = PQ_EXIT_OK;
cleanup:
  pq_buf_free(&b);
  page_free(&p);
  ledger_db_close(db);
  return rc;
}
