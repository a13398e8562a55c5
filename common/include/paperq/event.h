/* Outcome events sent to the ledger over P.events (docs/messages.md). */
#ifndef PAPERQ_EVENT_H
#define PAPERQ_EVENT_H

#include <cjson/cJSON.h>
#include <stdint.h>

struct pq_mq;

/* A new event object with v, id, kind, ts, and paper_id/gen/attempt/worker
 * when given (paper_id and worker may be NULL; attempt 0 is left out).
 * NULL on out of memory. The caller adds fields and frees it. */
cJSON *pq_event_new(const char *kind, const char *paper_id, int gen, int attempt,
                    const char *worker);

/* Publishes ev to P.events with routing key = its kind, with a confirm to
 * come (seq). Does not free ev. PQ_OK, PQ_ERR_NOMEM, PQ_ERR_BROKER. */
int pq_event_publish(struct pq_mq *mq, const cJSON *ev, uint64_t *seq);

#endif
