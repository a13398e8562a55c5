/* The record reader (JSONL, and the IA array when the input starts with
 * '['): every input ends in records or clear rejections, never a crash, and
 * every record it returns passes the bounds every program checks. */
#include "fuzz.h"
#include "paperq/log.h"
#include "paperq/record.h"
#include "paperq/util.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) {
    pq_log_set_level(PQ_LOG_ERROR);
    snprintf(path, sizeof path, "/tmp/pq-fuzz-record-%d.jsonl", (int)getpid());
  }
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  /* Small limits, so the fuzzer reaches "too large" with small inputs. */
  struct pq_record_limits lim = {4096, 512, 2048};
  struct pq_record_reader *r;
  char where[256], err[1024], why[512];
  if (pq_record_reader_open(path, &lim, &r, err, sizeof err) != PQ_OK)
    return 0;
  for (int i = 0; i < 10000; i++) {
    cJSON *rec = NULL;
    int rc = pq_record_reader_next(r, &rec, where, sizeof where, err, sizeof err);
    if (rc == PQ_ERR_PARSE) {
      FUZZ_ASSERT(err[0] && where[0]);
      continue;
    }
    if (rc != PQ_OK || !rec)
      break;
    FUZZ_ASSERT(pq_record_check(rec, why, sizeof why) == PQ_OK);
    cJSON_Delete(rec);
  }
  pq_record_reader_close(r);
  return 0;
}
