/* Shared by the ledger's two db files only (db.c writes, query.c reads):
 * the SQLite connection behind struct ledger_db. Nothing else includes
 * this header or <sqlite3.h>. */
#ifndef PAPERQ_LEDGER_DB_INTERNAL_H
#define PAPERQ_LEDGER_DB_INTERNAL_H

#include "db.h"

#include <sqlite3.h>

/* The connection. Borrowed: valid until ledger_db_close. */
sqlite3 *ledger_db_conn(struct ledger_db *db);

/* Logs "ledger db PATH: what: sqlite's message" and returns PQ_ERR_IO. */
int ledger_db_fail(struct ledger_db *db, const char *what);

/* Read statements kept prepared for the connection's lifetime (lookups in a
 * loop). slot < LEDGER_DB_READERS names one; sql must be the same on every
 * call for a slot. Returns the statement reset and unbound, or NULL (logged).
 * Owned by db: finalized by ledger_db_close. */
#define LEDGER_DB_READERS 2
sqlite3_stmt *ledger_db_reader(struct ledger_db *db, int slot, const char *sql);

#endif
