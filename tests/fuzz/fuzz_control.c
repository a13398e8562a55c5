/* Control messages (pause/resume broadcasts). */
#include "fuzz.h"
#include "paperq/control.h"
#include "paperq/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pq_control c;
  char err[256];
  if (pq_control_decode(data, size, &c, err, sizeof err) == PQ_OK)
    FUZZ_ASSERT((c.cmd == PQ_CONTROL_PAUSE || c.cmd == PQ_CONTROL_RESUME) && c.reason[0] &&
                memchr(c.reason, '\0', sizeof c.reason));
  else
    FUZZ_ASSERT(err[0]);
  return 0;
}
