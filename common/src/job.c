/* Job message encoding and decoding: the only place a job body is parsed. */
#include "paperq/job.h"
#include "paperq/record.h"
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
  if (!cJSON_AddNumberToObject(root, "v", PQ_JOB_VERSION) ||
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

int pq_job_gen_ok(double v) { return v >= 0 && v <= PQ_JOB_MAX_GEN && v == (double)(long)v; }

int pq_job_attempt_ok(double v) {
  return v >= 1 && v <= PQ_JOB_MAX_ATTEMPT && v == (double)(long)v;
}

/* done maps segment keys to translations (or judge names to true); more
 * entries than a record can have segments is not a job we wrote. */
static int check_done(const cJSON *done, const char *id, char *err, size_t errlen) {
  const int max = PQ_RECORD_MAX_BLOCKS + 3 * PQ_RECORD_MAX_LIST + 16;
  int n = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, done) {
    if (++n > max) {
      snprintf(err, errlen, "job for paper %s: done has more than %d entries", id, max);
      return PQ_ERR_PARSE;
    }
    if (cJSON_IsString(it) && strlen(it->valuestring) > PQ_RECORD_MAX_FIELD_BYTES) {
      snprintf(err, errlen, "job for paper %s: done[\"%.40s\"] is longer than %u bytes", id,
               it->string ? it->string : "", PQ_RECORD_MAX_FIELD_BYTES);
      return PQ_ERR_PARSE;
    }
  }
  return PQ_OK;
}

int pq_job_decode(const void *body, size_t len, struct pq_job *job, char *err, size_t errlen) {
  char why[512];
  memset(job, 0, sizeof *job);
  if (len > PQ_JOB_MAX_BYTES) {
    snprintf(err, errlen, "job message too large (%zu bytes, limit %u)", len, PQ_JOB_MAX_BYTES);
    goto bad;
  }
  job->root = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(job->root)) {
    snprintf(err, errlen, "job message is not a JSON object (%zu bytes)", len);
    goto bad;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(job->root, "paper_id");
  if (!cJSON_IsString(id) || !pq_record_id_ok(id->valuestring)) {
    snprintf(err, errlen, "job message has no usable paper_id");
    goto bad;
  }
  snprintf(job->paper_id, sizeof job->paper_id, "%s", id->valuestring);
  /* A job from a newer producer is not guessed at: it is parked with this
   * reason and can be requeued once every worker reads that version. */
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->root, "v");
  if (v && !(cJSON_IsNumber(v) && v->valuedouble == PQ_JOB_VERSION)) {
    if (cJSON_IsNumber(v))
      snprintf(err, errlen,
               "job for paper %s: message format v %g; this program reads v %d (upgrade it?)",
               job->paper_id, v->valuedouble, PQ_JOB_VERSION);
    else
      snprintf(err, errlen, "job for paper %s: v is not a number", job->paper_id);
    goto bad;
  }
  const cJSON *gen = cJSON_GetObjectItemCaseSensitive(job->root, "gen");
  if (gen && !(cJSON_IsNumber(gen) && pq_job_gen_ok(gen->valuedouble))) {
    snprintf(err, errlen, "job for paper %s: gen must be an integer from 0 to %ld", job->paper_id,
             PQ_JOB_MAX_GEN);
    goto bad;
  }
  job->gen = gen ? (int)gen->valuedouble : 0;
  job->record = cJSON_GetObjectItemCaseSensitive(job->root, "record");
  if (!cJSON_IsObject(job->record)) {
    snprintf(err, errlen, "job for paper %s has no record object", job->paper_id);
    goto bad;
  }
  if (pq_record_check(job->record, why, sizeof why) != PQ_OK) {
    snprintf(err, errlen, "job for paper %s: %s", job->paper_id, why);
    goto bad;
  }
  const cJSON *rid = cJSON_GetObjectItemCaseSensitive(job->record, "id");
  if (strcmp(rid->valuestring, job->paper_id) != 0) {
    snprintf(err, errlen, "job for paper %s carries the record of paper %s", job->paper_id,
             rid->valuestring);
    goto bad;
  }
  job->done = cJSON_GetObjectItemCaseSensitive(job->root, "done");
  if (job->done && !cJSON_IsObject(job->done))
    job->done = NULL;
  if (job->done && check_done(job->done, job->paper_id, err, errlen) != PQ_OK)
    goto bad;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(job->root, "model");
  if (cJSON_IsString(model) && strlen(model->valuestring) > 200) {
    snprintf(err, errlen, "job for paper %s: model name longer than 200 bytes", job->paper_id);
    goto bad;
  }
  job->model = cJSON_IsString(model) && model->valuestring[0] ? model->valuestring : NULL;
  job->translation = cJSON_GetObjectItemCaseSensitive(job->root, "translation");
  if (job->translation && !cJSON_IsObject(job->translation))
    job->translation = NULL;
  return PQ_OK;
bad:
  cJSON_Delete(job->root);
  job->root = NULL;
  job->record = job->done = job->translation = NULL;
  job->model = NULL;
  return PQ_ERR_PARSE;
}

int pq_job_decode_delivery(const void *body, size_t len, long attempt, struct pq_job *job,
                           char *err, size_t errlen) {
  int rc = pq_job_decode(body, len, job, err, errlen);
  if (rc == PQ_OK && attempt != 0 && !pq_job_attempt_ok((double)attempt)) {
    snprintf(err, errlen, "job for paper %s: x-paperq-attempt %ld is out of range (1 to %ld)",
             job->paper_id, attempt, PQ_JOB_MAX_ATTEMPT);
    cJSON_Delete(job->root);
    job->root = NULL;
    job->record = job->done = job->translation = NULL;
    job->model = NULL;
    rc = PQ_ERR_PARSE;
  }
  return rc;
}

void pq_job_free(struct pq_job *job) {
  if (!job)
    return;
  cJSON_Delete(job->root);
  job->root = job->record = job->done = job->translation = NULL;
}
