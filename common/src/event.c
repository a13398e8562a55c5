/* Event construction and publishing (the decoding side is ledger/). */
#include "paperq/event.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <stdlib.h>
#include <string.h>

cJSON *pq_event_new(const char *kind, const char *paper_id, int gen, int attempt,
                    const char *worker) {
  char id[33];
  pq_new_id(id);
  cJSON *ev = cJSON_CreateObject();
  if (!ev)
    return NULL;
  int ok = cJSON_AddNumberToObject(ev, "v", 1) && cJSON_AddStringToObject(ev, "id", id) &&
           cJSON_AddStringToObject(ev, "kind", kind) &&
           cJSON_AddNumberToObject(ev, "ts", (double)pq_now_ms());
  if (ok && paper_id)
    ok = cJSON_AddStringToObject(ev, "paper_id", paper_id) &&
         cJSON_AddNumberToObject(ev, "gen", gen);
  if (ok && attempt > 0)
    ok = cJSON_AddNumberToObject(ev, "attempt", attempt) != NULL;
  if (ok && worker)
    ok = cJSON_AddStringToObject(ev, "worker", worker) != NULL;
  if (!ok) {
    cJSON_Delete(ev);
    return NULL;
  }
  return ev;
}

int pq_event_publish(struct pq_mq *mq, const cJSON *ev, uint64_t *seq) {
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(ev, "kind");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
  char *body = cJSON_PrintUnformatted(ev);
  if (!body)
    return PQ_ERR_NOMEM;
  struct pq_mq_props props = {0};
  props.type = PQ_MSG_TYPE_EVENT;
  props.message_id = cJSON_IsString(id) ? id->valuestring : NULL;
  int rc = pq_mq_publish(mq, "events", cJSON_IsString(kind) ? kind->valuestring : "unknown", &props,
                         body, strlen(body), seq);
  cJSON_free(body);
  return rc;
}
