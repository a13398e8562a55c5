/* `paperq-ledger report`: progress, rate, ETA, cost, workers, QA and the
 * success metrics. One builder makes the JSON object; the human text is
 * printed from that object, so both always say the same. */
#ifndef PAPERQ_LEDGER_REPORT_H
#define PAPERQ_LEDGER_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ledger_db;
struct pq_config;

/* Builds the report as of now_ms (milliseconds since the epoch; a parameter
 * so tests get exact rates). Reads counters and small tables only, so it
 * stays fast on a million papers. *out is freed with cJSON_Delete.
 * PQ_OK, PQ_ERR_IO, PQ_ERR_NOMEM. */
int ledger_report_build(struct ledger_db *db, const struct pq_config *cfg, int64_t now_ms,
                        cJSON **out);

/* Prints the human report built by ledger_report_build. */
void ledger_report_print(const cJSON *report, FILE *out);

/* Reading a built report, for every view of it (report, watch, report
 * --html, /metrics). ledger_report_num: the number at path ("a.b" looks one
 * level down), 0 when absent; ledger_report_known: key holds a number (a
 * null is "not known yet"); ledger_report_str: the string at key, "" when
 * absent. */
double ledger_report_num(const cJSON *o, const char *path);
int ledger_report_known(const cJSON *o, const char *key);
const char *ledger_report_str(const cJSON *o, const char *key);

/* A duration for people: "45 s", "12 min", "3 h 05 min", "2.5 days". */
const char *ledger_fmt_duration(double seconds, char *out, size_t outlen);

#endif
