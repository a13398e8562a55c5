/* Job message encoding and decoding: the only place a job body is parsed. */
#include "paperq/job.h"
#include "paperq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *encode(const cJSON *record, int gen, const cJSON *done, const cJSON *translation,
                    const char *model, size_t *len) {
  /* Build a shallow wrapper with references so the record is not copied. */
  cJSON *root = cJSON_CreateObject();
  char *out = NULL;
  if (!root)
    return NULL;
  const cJSON *idv = cJSON_GetObjectItemCaseSensitive(record, "id");
  if (!cJSON_AddNumberToObject(root, "v", 1) ||
      !cJSON_AddStringToObject(root, "paper_id", cJSON_IsString(idv) ? idv->valuestring : "") ||
      !cJSON_AddNumberToObject(root, "gen", gen))
    goto cleanup;
  cJSON_AddItemReferenceToObject(root, "record", (cJSON *)record);
  if (done)
    cJSON_AddItemReferenceToObject(root, "done", (cJSON *)done);
  if (translation)
    cJSON_AddItemReferenceToObject(root, "translation", (cJSON *)translation);
  if (model && model[0] && !cJSON_AddStringToObject(root, "model", model))
    goto cleanup;
  out = cJSON_PrintUnformatted(root);
  if (out && len)
    *len = strlen(out);
cleanup:
  cJSON_Delete(root); /* references are not freed */
  return out;
}

char *pq_job_encode(const cJSON *record, int gen, const cJSON *done, size_t *len) {
  return encode(record, gen, done, NULL, NULL, len);
}

char *pq_job_encode_model(const cJSON *record, int gen, const cJSON *done, const char *model,
                          size_t *len) {
  return encode(record, gen, done, NULL, model, len);
}

char *pq_job_encode_qa(const cJSON *record, int gen, const cJSON *translation, const cJSON *done,
                       size_t *len) {
  return encode(record, gen, done, translation, NULL, len);
}

int pq_job_decode(const void *body, size_t len, struct pq_job *job, char *err, size_t errlen) {
  memset(job, 0, sizeof *job);
  job->root = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(job->root)) {
    snprintf(err, errlen, "job message is not a JSON object (%zu bytes)", len);
    goto bad;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(job->root, "paper_id");
  if (!cJSON_IsString(id) || !id->valuestring[0] ||
      strlen(id->valuestring) >= sizeof job->paper_id) {
    snprintf(err, errlen, "job message has no usable paper_id");
    goto bad;
  }
  snprintf(job->paper_id, sizeof job->paper_id, "%s", id->valuestring);
  const cJSON *gen = cJSON_GetObjectItemCaseSensitive(job->root, "gen");
  job->gen = cJSON_IsNumber(gen) ? (int)gen->valuedouble : 0;
  job->record = cJSON_GetObjectItemCaseSensitive(job->root, "record");
  if (!cJSON_IsObject(job->record)) {
    snprintf(err, errlen, "job for paper %s has no record object", job->paper_id);
    goto bad;
  }
  job->done = cJSON_GetObjectItemCaseSensitive(job->root, "done");
  if (job->done && !cJSON_IsObject(job->done))
    job->done = NULL;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(job->root, "model");
  job->model = cJSON_IsString(model) && model->valuestring[0] ? model->valuestring : NULL;
  job->translation = cJSON_GetObjectItemCaseSensitive(job->root, "translation");
  if (job->translation && !cJSON_IsObject(job->translation))
    job->translation = NULL;
  return PQ_OK;
bad:
  cJSON_Delete(job->root);
  job->root = NULL;
  job->record = job->done = job->translation = NULL;
  return PQ_ERR_PARSE;
}

void pq_job_free(struct pq_job *job) {
  if (!job)
    return;
  cJSON_Delete(job->root);
  job->root = job->record = job->done = job->translation = NULL;
}
