/* Used and thrown-away spend (spend.h). */
#include "paperq/spend.h"
#include "paperq/util.h"

#include <math.h>
#include <string.h>

static const char *const extra[] = {"check_failed", "unusable_verdict", "cancelled"};

const char *pq_waste_name(int w) {
  if (w > PQ_REASON_NONE && w < PQ_REASON_COUNT)
    return pq_chat_reason_name((enum pq_chat_reason)w);
  if (w >= PQ_REASON_COUNT && w < PQ_WASTE_COUNT)
    return extra[w - PQ_REASON_COUNT];
  return NULL;
}

void pq_spend_add(struct pq_spend *s, double usd, int waste, int estimated) {
  if (!(usd >= 0) || !isfinite(usd))
    usd = 0;
  s->cost_usd += usd;
  if (estimated)
    s->estimated_usd += usd;
  if (waste > PQ_REASON_NONE && waste < PQ_WASTE_COUNT) {
    s->wasted_usd += usd;
    s->waste[waste] += usd;
    s->wasted_requests[waste]++;
  }
}

void pq_spend_reclassify(struct pq_spend *s, double usd, int waste) {
  if (!(usd >= 0) || !isfinite(usd) || waste <= PQ_REASON_NONE || waste >= PQ_WASTE_COUNT)
    return;
  s->wasted_usd += usd;
  s->waste[waste] += usd;
  s->wasted_requests[waste]++;
}

void pq_spend_merge(struct pq_spend *a, const struct pq_spend *b) {
  a->cost_usd += b->cost_usd;
  a->wasted_usd += b->wasted_usd;
  a->estimated_usd += b->estimated_usd;
  for (int i = 0; i < PQ_WASTE_COUNT; i++) {
    a->waste[i] += b->waste[i];
    a->wasted_requests[i] += b->wasted_requests[i];
  }
}

void pq_spend_subtract(struct pq_spend *a, const struct pq_spend *b) {
  a->cost_usd -= b->cost_usd;
  a->wasted_usd -= b->wasted_usd;
  a->estimated_usd -= b->estimated_usd;
  for (int i = 0; i < PQ_WASTE_COUNT; i++) {
    a->waste[i] -= b->waste[i];
    a->wasted_requests[i] -= b->wasted_requests[i];
  }
}

int pq_spend_to_json(const struct pq_spend *s, cJSON *obj) {
  cJSON *o = cJSON_AddObjectToObject(obj, "spend");
  if (!o || !cJSON_AddNumberToObject(o, "used_usd", s->cost_usd - s->wasted_usd) ||
      !cJSON_AddNumberToObject(o, "wasted_usd", s->wasted_usd) ||
      !cJSON_AddNumberToObject(o, "estimated_usd", s->estimated_usd))
    return PQ_ERR_NOMEM;
  cJSON *w = cJSON_AddObjectToObject(o, "wasted");
  cJSON *n = cJSON_AddObjectToObject(o, "wasted_requests");
  if (!w || !n)
    return PQ_ERR_NOMEM;
  for (int i = 1; i < PQ_WASTE_COUNT; i++)
    if (s->wasted_requests[i] > 0 &&
        (!cJSON_AddNumberToObject(w, pq_waste_name(i), s->waste[i]) ||
         !cJSON_AddNumberToObject(n, pq_waste_name(i), (double)s->wasted_requests[i])))
      return PQ_ERR_NOMEM;
  return PQ_OK;
}

static double amount(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) && v->valuedouble > 0 && isfinite(v->valuedouble) ? v->valuedouble : 0;
}

void pq_spend_from_json(const cJSON *ev, struct pq_spend *out) {
  memset(out, 0, sizeof *out);
  out->cost_usd = amount(ev, "cost_usd");
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(ev, "spend");
  if (!cJSON_IsObject(o))
    return;
  out->wasted_usd = amount(o, "wasted_usd");
  out->estimated_usd = amount(o, "estimated_usd");
  if (out->wasted_usd > out->cost_usd)
    out->wasted_usd = out->cost_usd; /* a malformed event never inflates the waste */
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wasted");
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "wasted_requests");
  for (int i = 1; i < PQ_WASTE_COUNT; i++) {
    out->waste[i] = amount(w, pq_waste_name(i));
    out->wasted_requests[i] = (long)amount(n, pq_waste_name(i));
  }
}
