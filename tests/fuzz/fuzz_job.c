/* The job decoder: anything decodes or is refused with a reason; what it
 * accepts re-encodes (as a retry or QA job would) into a job that decodes
 * again to the same paper and generation. */
#include "fuzz.h"
#include "paperq/job.h"
#include "paperq/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pq_job job, again;
  char err[512];
  if (pq_job_decode(data, size, &job, err, sizeof err) != PQ_OK) {
    FUZZ_ASSERT(err[0]);
    pq_job_free(&job);
    return 0;
  }
  FUZZ_ASSERT(job.paper_id[0] && job.gen >= 0 && job.record);
  size_t len;
  char *body = job.translation
                   ? pq_job_encode_qa(job.record, job.gen, job.translation, job.done, &len)
                   : pq_job_encode_model(job.record, job.gen, job.done, job.model, &len);
  FUZZ_ASSERT(body);
  FUZZ_ASSERT(pq_job_decode(body, len, &again, err, sizeof err) == PQ_OK);
  FUZZ_ASSERT(strcmp(again.paper_id, job.paper_id) == 0 && again.gen == job.gen);
  pq_job_free(&again);
  free(body);
  pq_job_free(&job);
  return 0;
}
