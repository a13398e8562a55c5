/* The judge-verdict parser: any reply is scores in 1..10 or an error. */
#include "fuzz.h"
#include "paperq/qa.h"
#include "paperq/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *reply = fuzz_str(data, size);
  struct pq_qa_scores s;
  char err[512];
  memset(&s, 0, sizeof s);
  if (pq_qa_parse(reply, &s, err, sizeof err) != PQ_OK) {
    FUZZ_ASSERT(err[0]);
  } else {
    for (int i = 0; i < PQ_QA_NSCORES; i++)
      FUZZ_ASSERT(s.score[i] >= 1 && s.score[i] <= 10);
    FUZZ_ASSERT(memchr(s.comments, '\0', sizeof s.comments));
  }
  free(reply);
  return 0;
}
