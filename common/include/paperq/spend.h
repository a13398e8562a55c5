/* Spend on LLM requests, split into what was used and what was thrown away,
 * with the reasons: the worker adds up what each reply cost, and the ledger
 * reads the totals from the events (docs/messages.md, "spend"). Every cost is
 * also in the event's cost_usd, so the budget counts all of it. */
#ifndef PAPERQ_SPEND_H
#define PAPERQ_SPEND_H

#include "paperq/chat.h"

#include <cjson/cJSON.h>

/* Why paid work was thrown away: a reply's pq_chat_reason, or one of these. */
enum pq_waste {
  PQ_WASTE_CHECK = PQ_REASON_COUNT, /* a finished answer that failed a check */
  PQ_WASTE_VERDICT,                 /* a judge's answer with no usable verdict */
  PQ_WASTE_CANCELLED,               /* abandoned in flight (billed in full) */
  PQ_WASTE_COUNT
};

/* "length", "content_filter", ... (pq_chat_reason_name), "check_failed",
 * "unusable_verdict", "cancelled"; NULL for PQ_REASON_NONE and out of range. */
const char *pq_waste_name(int waste);

struct pq_spend {
  double cost_usd;              /* everything, used or not */
  double wasted_usd;            /* the part thrown away */
  double estimated_usd;         /* the part that is an estimate (no usage reported) */
  double waste[PQ_WASTE_COUNT]; /* wasted_usd by reason */
  long wasted_requests[PQ_WASTE_COUNT];
};

/* A reply that cost usd: used (waste = PQ_REASON_NONE) or thrown away. */
void pq_spend_add(struct pq_spend *s, double usd, int waste, int estimated);
/* Moves usd already added as used to thrown away, for reason waste. */
void pq_spend_reclassify(struct pq_spend *s, double usd, int waste);
/* a += b; a -= b. */
void pq_spend_merge(struct pq_spend *a, const struct pq_spend *b);
void pq_spend_subtract(struct pq_spend *a, const struct pq_spend *b);

/* {"used_usd", "wasted_usd", "estimated_usd", "wasted": {reason: usd},
 *  "wasted_requests": {reason: n}} added to obj as "spend". PQ_OK or
 * PQ_ERR_NOMEM. */
int pq_spend_to_json(const struct pq_spend *s, cJSON *obj);
/* Reads an event's "spend" (absent: nothing wasted, cost_usd all used). */
void pq_spend_from_json(const cJSON *event, struct pq_spend *out);

#endif
