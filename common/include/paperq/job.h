/* Job messages: the unit of work on P.jobs (format in docs/messages.md).
 * Encoding happens in the producer and on retries; decoding in the worker
 * and in the ledger (for parked jobs). */
#ifndef PAPERQ_JOB_H
#define PAPERQ_JOB_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct pq_job {
  char paper_id[256];
  int gen;            /* requeue generation */
  cJSON *root;        /* the whole decoded message; owns record and done */
  cJSON *record;      /* borrowed from root: the normalized record */
  cJSON *done;        /* borrowed from root: translated segments (or, in a QA
                         job, judgements already made), or NULL */
  cJSON *translation; /* borrowed from root: QA jobs only, else NULL */
  const char *model;  /* borrowed: a model for this paper instead of
                         translate.model (requeue --fallback), or NULL */
};

/* Serializes a job: record is borrowed (not modified), done may be NULL.
 * Returns a malloc'd string (free with free()) or NULL on out of memory. */
char *pq_job_encode(const cJSON *record, int gen, const cJSON *done, size_t *len);

/* The same with a model override for this paper (NULL = none). */
char *pq_job_encode_model(const cJSON *record, int gen, const cJSON *done, const char *model,
                          size_t *len);

/* A QA job (P.qa): the record, its translation to judge, and the judges
 * that already answered (done, may be NULL). Same ownership as above. */
char *pq_job_encode_qa(const cJSON *record, int gen, const cJSON *translation, const cJSON *done,
                       size_t *len);

/* Parses and checks a job body. PQ_OK, or PQ_ERR_PARSE with the reason in
 * err (a message that is not a job is poison for this paper, not a crash).
 * Free with pq_job_free. */
int pq_job_decode(const void *body, size_t len, struct pq_job *job, char *err, size_t errlen);
void pq_job_free(struct pq_job *job);

#endif
