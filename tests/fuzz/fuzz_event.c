/* The ledger's event and parked-job decoding, on a real SQLite file: any
 * message is applied, ignored or recorded as bad; the database never
 * refuses the batch because of one message. First byte: 0 event, 1 parked
 * translation job, 2 parked QA job. */
#include "db.h"
#include "fuzz.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <unistd.h>

static struct ledger_db *db;
static long applied;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  if (size < 1)
    return 0;
  if (!db) {
    char path[64];
    pq_log_set_level(PQ_LOG_ERROR + 1); /* bad messages are the point here */
    snprintf(path, sizeof path, "/tmp/pq-fuzz-ledger-%d.db", (int)getpid());
    unlink(path);
    if (ledger_db_open(path, LEDGER_DB_CREATE, &db, err, sizeof err) != PQ_OK)
      abort();
  }
  static const char *const types[] = {PQ_MSG_TYPE_EVENT, PQ_MSG_TYPE_JOB, PQ_MSG_TYPE_QA};
  struct ledger_msg m = {0};
  m.type = types[data[0] % 3];
  m.message_id = "fuzz";
  m.body = data + 1;
  m.len = size - 1;
  m.park_reason = data[0] & 4 ? "permanent: fuzz" : "";
  m.death_reason = data[0] & 8 ? "delivery_limit" : "";
  m.attempt = data[0] >> 4;
  m.received_ms = 1764406800000LL;
  enum ledger_outcome out;
  FUZZ_ASSERT(ledger_db_apply(db, &m, &out) == PQ_OK);
  FUZZ_ASSERT(ledger_db_commit(db) == PQ_OK);
  applied++;
  return 0;
}
