/* What the ledger's unit tests share: the ledger under test and ev(), which
 * applies one event the way serve does (one message, then commit). */
#ifndef PQ_LEDGER_TEST_H
#define PQ_LEDGER_TEST_H

#include "db.h"

#include "paperq/mq.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define T0 1764406800000LL /* a minute boundary */
#define MIN 60000LL

static struct ledger_db *db;

/* Applies one event given as printf-style JSON (received at T0) and commits. */
__attribute__((format(printf, 1, 2))) static enum ledger_outcome ev(const char *fmt, ...) {
  char body[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  struct ledger_msg m = {0};
  m.type = PQ_MSG_TYPE_EVENT;
  m.body = body;
  m.len = strlen(body);
  m.received_ms = T0;
  enum ledger_outcome out = LEDGER_BAD;
  CHECK(ledger_db_apply(db, &m, &out) == PQ_OK);
  CHECK(ledger_db_commit(db) == PQ_OK);
  return out;
}

#endif
