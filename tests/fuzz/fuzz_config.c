/* The config loader on arbitrary files: loads or fails with a message that
 * names the file; never crashes, never leaks. */
#include "fuzz.h"
#include "paperq/config.h"
#include "paperq/util.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/pq-fuzz-config-%d.conf", (int)getpid());
    unsetenv("PAPERQ_CONFIG");
  }
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  struct pq_config cfg;
  char err[2048];
  if (pq_config_load(path, &cfg, err, sizeof err) != PQ_OK)
    FUZZ_ASSERT(err[0]);
  pq_config_free(&cfg);
  return 0;
}
