/* Job messages: the unit of work on P.jobs (format in docs/messages.md).
 * Encoding happens in the producer and on retries; decoding in the worker
 * and in the ledger (for parked jobs). */
#ifndef PAPERQ_JOB_H
#define PAPERQ_JOB_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Hard bounds on what a job may carry, checked by pq_job_decode for every
 * program that reads jobs (worker, ledger, requeue) and by the producer
 * before it queues a record (pq_record_check). A message past one of them is
 * refused with a reason naming the field, and parked, never worked on. */
#define PQ_JOB_VERSION 1             /* "v" of the job message this code writes and reads */
#define PQ_JOB_MAX_BYTES (64u << 20) /* a whole job message */
#define PQ_JOB_MAX_GEN 1000000000L   /* requeue generations: 0..this */
#define PQ_JOB_MAX_ATTEMPT 1000000L  /* x-paperq-attempt: 1..this */

/* 1 when v is an integer in [0, PQ_JOB_MAX_GEN] / [1, PQ_JOB_MAX_ATTEMPT]
 * (the ledger applies the same rule to events). */
int pq_job_gen_ok(double v);
int pq_job_attempt_ok(double v);

struct pq_job {
  char paper_id[256]; /* set on success, and on failure when the message had a usable one */
  int gen;            /* requeue generation, 0..PQ_JOB_MAX_GEN; 0 when the job was refused */
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

/* Parses and checks a job body: its size, paper_id, gen (an integer in
 * 0..PQ_JOB_MAX_GEN), the record's bounds (pq_record_check), done and model.
 * PQ_OK, or PQ_ERR_PARSE with the reason in err (a message that is not a job
 * is poison for this paper, not a crash); on PQ_ERR_PARSE job->paper_id is
 * still filled when the message had a usable one, so the paper can be
 * parked by name. Free with pq_job_free (also after an error). */
int pq_job_decode(const void *body, size_t len, struct pq_job *job, char *err, size_t errlen);
void pq_job_free(struct pq_job *job);

/* pq_job_decode plus the delivery's x-paperq-attempt header (0 = absent),
 * which must satisfy pq_job_attempt_ok: the worker and the ledger decode
 * deliveries with it, so both refuse the same jobs. Same returns. */
int pq_job_decode_delivery(const void *body, size_t len, long attempt, struct pq_job *job,
                           char *err, size_t errlen);

#endif
