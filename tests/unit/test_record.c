/* Record reading: both input formats, every kind of bad record reported with
 * its file and line, and the rest of the file still read. */
#include "paperq/record.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <stdlib.h>
#include <unistd.h>

static const struct pq_record_limits lim = {1048576, 4096, 65536};

static char *fixture(const char *name) {
  static char path[1024];
  const char *dir = getenv("PQ_FIXTURES");
  snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/fixtures", name);
  return path;
}

int main(void) {
  struct pq_record_reader *r;
  char where[512], err[1024];
  cJSON *rec;

  /* JSONL: 50 real records, all good, fields normalized. */
  CHECK(pq_record_reader_open(fixture("records50.jsonl"), &lim, &r, err, sizeof err) == PQ_OK);
  int n = 0, with_math = 0;
  while (pq_record_reader_next(r, &rec, where, sizeof where, err, sizeof err) == PQ_OK && rec) {
    n++;
    CHECK(cJSON_IsString(cJSON_GetObjectItem(rec, "id")));
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(rec, "authors")));
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(rec, "keywords")));
    if (strchr(cJSON_GetObjectItem(rec, "abstract")->valuestring, '$'))
      with_math++;
    if (n == 1) {
      CHECK_STR(cJSON_GetObjectItem(rec, "origin")->valuestring, "records50.jsonl:1");
    }
    cJSON_Delete(rec);
  }
  CHECK(n == 50);
  CHECK(with_math >= 20);
  pq_record_reader_close(r);

  /* Bad records: each reported with file:line and reason; the good ones read. */
  CHECK(pq_record_reader_open(fixture("bad_records.jsonl"), &lim, &r, err, sizeof err) == PQ_OK);
  int good = 0, bad = 0, rc;
  char reasons[16][1600];
  while ((rc = pq_record_reader_next(r, &rec, where, sizeof where, err, sizeof err)) != PQ_OK ||
         rec) {
    if (rc == PQ_ERR_PARSE) {
      if (bad < 16)
        snprintf(reasons[bad], sizeof reasons[bad], "%s: %s", where, err);
      bad++;
      continue;
    }
    CHECK(rc == PQ_OK);
    if (rc != PQ_OK)
      break;
    good++;
    cJSON_Delete(rec);
  }
  pq_record_reader_close(r);
  CHECK(good == 3);
  CHECK(bad == 7);
  CHECK(strstr(reasons[0], "bad_records.jsonl:2: malformed JSON") != NULL);
  CHECK(strstr(reasons[1], "bad_records.jsonl:3: missing field \"id\"") != NULL);
  CHECK(strstr(reasons[2], "bad_records.jsonl:4: paper bad-no-text-1: no title and no abstract") !=
        NULL);
  CHECK(strstr(reasons[3], "bad_records.jsonl:6: paper bad-too-long-1: abstract too long") != NULL);
  CHECK(strstr(reasons[4], "bad_records.jsonl:7: not a JSON object") != NULL);
  CHECK(strstr(reasons[5], "bad_records.jsonl:8:") && strstr(reasons[5], "bad/slash-1"));
  CHECK(strstr(reasons[6], "bad_records.jsonl:9:") && strstr(reasons[6], "bad space 1"));
  for (int i = 0; i < bad && i < 16; i++)
    fprintf(stderr, "  reported: %s\n", reasons[i]);

  /* IA format: 30 entries, abstract cleaned of the scraped metadata. */
  CHECK(pq_record_reader_open(fixture("ia_sample.json"), &lim, &r, err, sizeof err) == PQ_OK);
  n = 0;
  while (pq_record_reader_next(r, &rec, where, sizeof where, err, sizeof err) == PQ_OK && rec) {
    n++;
    const char *abs = cJSON_GetObjectItem(rec, "abstract")->valuestring;
    CHECK(strstr(abs, "作者：") == NULL && strstr(abs, "提交时间") == NULL &&
          strstr(abs, "来自：") == NULL && strstr(abs, "引用：") == NULL);
    CHECK(strncmp(cJSON_GetObjectItem(rec, "id")->valuestring, "ia-ChinaXiv-", 12) == 0);
    CHECK(strlen(cJSON_GetObjectItem(rec, "date")->valuestring) == 7);
    cJSON *subj = cJSON_GetObjectItem(rec, "subjects");
    cJSON *s;
    cJSON_ArrayForEach(s, subj) CHECK(strcmp(s->valuestring, "ChinaXiv") != 0);
    if (n == 1)
      CHECK_STR(where, "ia_sample.json:2[0]");
    cJSON_Delete(rec);
  }
  CHECK(n == 30);
  pq_record_reader_close(r);

  /* Full text: bodies kept as {kind, text}. */
  CHECK(pq_record_reader_open(fixture("fulltext.jsonl"), &lim, &r, err, sizeof err) == PQ_OK);
  n = 0;
  int blocks = 0;
  while (pq_record_reader_next(r, &rec, where, sizeof where, err, sizeof err) == PQ_OK && rec) {
    n++;
    blocks += cJSON_GetArraySize(cJSON_GetObjectItem(rec, "body"));
    cJSON_Delete(rec);
  }
  CHECK(n == 60);
  CHECK(blocks > 60 * 10);
  pq_record_reader_close(r);

  /* A missing file and a broken IA array fail clearly. */
  CHECK(pq_record_reader_open("/nonexistent.jsonl", &lim, &r, err, sizeof err) == PQ_ERR_IO);
  CHECK(strstr(err, "/nonexistent.jsonl") != NULL);
  char tmp[] = "/tmp/pq-rec-XXXXXX";
  int fd = mkstemp(tmp);
  CHECK(fd >= 0);
  CHECK(write(fd, "[\n {\"id\": \"a\"},\n {oops\n]", 24) == 24);
  close(fd);
  CHECK(pq_record_reader_open(tmp, &lim, &r, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, ":3:") != NULL);
  unlink(tmp);

  /* Ids. */
  CHECK(pq_record_id_ok("chinaxiv-201601.00051"));
  CHECK(!pq_record_id_ok("a/b") && !pq_record_id_ok("a b") && !pq_record_id_ok("") &&
        !pq_record_id_ok(".."));
  TEST_MAIN_END();
}
