/* Paper records from harvested input files: JSON Lines (one record per line)
 * and the Internet Archive harvest format (one JSON array). Each record is
 * validated and normalized into the form jobs carry (docs/messages.md). */
#ifndef PAPERQ_RECORD_H
#define PAPERQ_RECORD_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Hard bounds on a normalized record, whatever the configuration says (the
 * real ChinaXiv data has at most 130 body blocks, 16 list entries and 40 KB
 * per record). */
#define PQ_RECORD_MAX_BLOCKS 10000           /* body blocks */
#define PQ_RECORD_MAX_LIST 1000              /* authors, keywords, subjects each */
#define PQ_RECORD_MAX_FIELD_BYTES (4u << 20) /* any one string */

struct pq_record_limits {
  size_t max_record_bytes; /* a longer JSONL line or array element is rejected */
  size_t max_title_bytes;
  size_t max_abstract_bytes;
};

struct pq_record_reader;

/* Opens path and detects its format ('[' first = IA array, else JSONL).
 * PQ_OK, PQ_ERR_IO (message in err), PQ_ERR_PARSE (an IA file that is not a
 * valid JSON array), PQ_ERR_TOOBIG. Close with pq_record_reader_close. */
int pq_record_reader_open(const char *path, const struct pq_record_limits *lim,
                          struct pq_record_reader **out, char *err, size_t errlen);
void pq_record_reader_close(struct pq_record_reader *r);

/* Reads the next record. A JSONL line is read with a bound
 * (max_record_bytes): the rest of a longer line is skipped, never held in
 * memory. Invalid UTF-8 and \u0000 escapes make a record bad.
 *   PQ_OK: *rec is a normalized record (caller frees with cJSON_Delete);
 *          *rec == NULL means end of input.
 *   PQ_ERR_PARSE: this record is bad; where = "file:line" (or "file[index]"),
 *          err = the reason (with the paper id when it has one). Call again
 *          for the next record: one bad record never stops the file.
 *   PQ_ERR_IO / PQ_ERR_NOMEM: the file cannot be read further. */
int pq_record_reader_next(struct pq_record_reader *r, cJSON **rec, char *where, size_t wlen,
                          char *err, size_t errlen);

/* Normalizes one raw record (either format) into a new object; ia selects the
 * Internet Archive field mapping. origin is stored as "origin". Same return
 * codes and err as pq_record_reader_next. */
int pq_record_normalize(const cJSON *raw, int ia, const struct pq_record_limits *lim,
                        const char *origin, cJSON **out, char *err, size_t errlen);

/* Checks a normalized record against the hard bounds above: a usable id,
 * strings of valid UTF-8 (no overlong forms, surrogates or FF/FE bytes) and at
 * most PQ_RECORD_MAX_FIELD_BYTES each, lists and body within their counts,
 * body blocks of known kinds. PQ_OK, or PQ_ERR_PARSE with err naming the
 * field ("record.body has 1200000 blocks (limit 10000)"). */
int pq_record_check(const cJSON *rec, char *err, size_t errlen);

/* 1 if id is usable as a paper id (1-200 chars of [A-Za-z0-9._:-]). */
int pq_record_id_ok(const char *id);

#endif
