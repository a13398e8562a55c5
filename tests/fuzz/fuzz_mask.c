/* Mask and restore: the input is a source text and an "answer", split at
 * the first 0xFF byte. Masking anything and restoring the masked text itself
 * gives the source back byte for byte; restoring an arbitrary answer never
 * crashes. */
#include "fuzz.h"
#include "paperq/mask.h"
#include "paperq/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *sep = memchr(data, 0xFF, size);
  size_t n1 = sep ? (size_t)(sep - data) : size;
  char *src = fuzz_str(data, n1);
  char *answer = sep ? fuzz_str(sep + 1, size - n1 - 1) : NULL;
  if (strlen(src) != n1) /* a NUL inside: not a text the worker could hold */
    goto done;
  struct pq_mask *m;
  char *masked = NULL, *out = NULL;
  struct pq_mask_report rep;
  FUZZ_ASSERT(pq_mask_new(&m) == PQ_OK);
  if (pq_mask_apply(m, src, &masked) == PQ_OK) {
    FUZZ_ASSERT(masked);
    FUZZ_ASSERT(pq_mask_restore(m, masked, masked, &out, &rep) == PQ_OK);
    FUZZ_ASSERT(strcmp(out, src) == 0);
    free(out);
    out = NULL;
    if (answer && pq_mask_restore(m, masked, answer, &out, &rep) == PQ_OK)
      FUZZ_ASSERT(out);
    free(out);
    free(masked);
  }
  pq_mask_free(m);
done:
  free(src);
  free(answer);
  return 0;
}
