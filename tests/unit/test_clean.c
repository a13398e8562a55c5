/* IA description cleaning: the 200 real entries of ia_records_sample.json
 * checked against records.jsonl's abstract of the same paper, plus every
 * marker variant and malformed input. */
#include "paperq/clean.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static void expect_clean(const char *in, const char *want, int line) {
  char *got = NULL;
  int rc = pq_clean_ia_abstract(in, &got);
  pq_test_checks++;
  if (rc != PQ_OK || !got || strcmp(got, want) != 0) {
    pq_test_failures++;
    fprintf(stderr, "test_clean.c:%d: clean(\"%s\")\n  got:  \"%s\" (rc %d)\n  want: \"%s\"\n",
            line, in, got ? got : "(null)", rc, want);
  }
  free(got);
}
#define EXPECT_CLEAN(in, want) expect_clean(in, want, __LINE__)

static void test_variants(void) {
  /* the real shape */
  EXPECT_CLEAN(
      "国史知识研究 作者： 王颖张智雄 孙辉雷枫 提交时间： 2016-01-01 摘要: 深人开展国史教育。"
      "图7。参考文献12。 来自： ChinaXiv 分类： 其他 引用： ChinaXiv:201601.00051V1",
      "深人开展国史教育。图7。参考文献12。");
  /* full- and half-width colons, spaces or none, ideographic space */
  EXPECT_CLEAN("T 摘要：正文。来自：ChinaXiv", "正文。");
  EXPECT_CLEAN("T 摘要 : 正文。 来自 : ChinaXiv", "正文。");
  EXPECT_CLEAN("T 摘要\xe3\x80\x80：\xe3\x80\x80正文。\xe3\x80\x80来自：ChinaXiv", "正文。");
  EXPECT_CLEAN("T 摘要:正文。来自:ChinaXiv", "正文。");
  /* "来自" inside the abstract: the last marker ends it */
  EXPECT_CLEAN("T 摘要: 样本来自：三个省份。 来自： ChinaXiv 分类： 其他", "样本来自：三个省份。");
  /* no 来自: trailing DOI / CSTR / 分类 / 引用 noise is dropped */
  EXPECT_CLEAN("T 摘要: 正文。 DOI: 10.12074/201601.00051", "正文。");
  EXPECT_CLEAN("T 摘要: 正文。 doi：10.1/x CSTR: 32003.14", "正文。");
  EXPECT_CLEAN("T 摘要: 正文。 CSTR: 32003.14.ChinaXiv.201601.00051.V1", "正文。");
  EXPECT_CLEAN("T 摘要: 正文。 引用： ChinaXiv:201601.00051V1", "正文。");
  EXPECT_CLEAN("T 摘要: 正文。 分类： 其他 引用： x", "正文。");
  /* "DOI" inside a word is not a marker */
  EXPECT_CLEAN("T 摘要: 用 XDOI: 标记。 来自： ChinaXiv", "用 XDOI: 标记。");
  /* no 摘要: title, authors and date go */
  EXPECT_CLEAN(
      "题目 作者： 王颖 张智雄 提交时间： 2016-01-01 正文在这里。 来自： ChinaXiv 分类： 其他",
      "正文在这里。");
  EXPECT_CLEAN("题目 作者： 王颖 张智雄 正文在这里，没有日期。 来自： ChinaXiv",
               "正文在这里，没有日期。");
  EXPECT_CLEAN("题目 提交时间： 2016-01-01 12:30:00 正文。 引用： x", "正文。");
  /* no markers at all: the text itself, trimmed */
  EXPECT_CLEAN("  只是一段摘要。 ", "只是一段摘要。");
  EXPECT_CLEAN("", "");
  /* degenerate */
  EXPECT_CLEAN("摘要:", "");
  EXPECT_CLEAN("摘要: 来自：", "");
  EXPECT_CLEAN("来自： 摘要: x", "x");
  EXPECT_CLEAN("作者：", "");
  EXPECT_CLEAN("摘要", "摘要");
  EXPECT_CLEAN("T 摘要: \xff\xfe 正文 \xc3 来自： x", "\xff\xfe 正文 \xc3");
  {
    char *o = NULL;
    CHECK(pq_clean_ia_abstract(NULL, &o) == PQ_ERR && o == NULL);
    CHECK(pq_clean_ia_abstract("x", NULL) == PQ_ERR);
  }
}

static char *ia_to_records_id(const char *ia, char *buf, size_t n) {
  /* "ia-ChinaXiv-201601.00051V1" -> "chinaxiv-201601.00051" */
  const char *p = strncmp(ia, "ia-ChinaXiv-", 12) == 0 ? ia + 12 : NULL;
  size_t len;
  if (!p)
    return NULL;
  len = strlen(p);
  while (len > 0 && p[len - 1] >= '0' && p[len - 1] <= '9')
    len--;
  if (len > 0 && p[len - 1] == 'V')
    len--;
  snprintf(buf, n, "chinaxiv-%.*s", (int)len, p);
  return buf;
}

static void test_ia_sample(void) {
  const char *fx = getenv("PQ_FIXTURES"), *src = getenv("PQ_SOURCE_DIR");
  char path[1024], *data = NULL, *recs = NULL, *line, *next;
  size_t len, entries = 0, compared = 0, exact = 0, shorter = 0;
  cJSON *arr, *it, *index = cJSON_CreateObject();

  snprintf(path, sizeof path, "%s/ia_records_sample.json", fx ? fx : "tests/fixtures");
  if (pq_read_file(path, 16u << 20, &data, &len) != PQ_OK) {
    fprintf(stderr, "cannot read %s\n", path);
    CHECK(0);
    cJSON_Delete(index);
    return;
  }
  /* abstracts by id: the full records when present, else the fixture */
  snprintf(path, sizeof path, "%s/../shared/data/chinaxiv/records.jsonl", src ? src : ".");
  if (pq_read_file(path, 64u << 20, &recs, &len) != PQ_OK) {
    snprintf(path, sizeof path, "%s/sample.jsonl", fx ? fx : "tests/fixtures");
    CHECK(pq_read_file(path, 64u << 20, &recs, &len) == PQ_OK);
  }
  for (line = recs; line && *line; line = next) {
    cJSON *r;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    r = cJSON_Parse(line);
    if (r && cJSON_GetStringValue(cJSON_GetObjectItem(r, "id")))
      cJSON_AddStringToObject(index, cJSON_GetStringValue(cJSON_GetObjectItem(r, "id")),
                              cJSON_GetStringValue(cJSON_GetObjectItem(r, "abstract"))
                                  ? cJSON_GetStringValue(cJSON_GetObjectItem(r, "abstract"))
                                  : "");
    cJSON_Delete(r);
  }

  arr = cJSON_Parse(data);
  CHECK(cJSON_IsArray(arr));
  cJSON_ArrayForEach(it, arr) {
    const char *desc = cJSON_GetStringValue(cJSON_GetObjectItem(it, "abstract"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "id"));
    char rid[128], *clean = NULL;
    const char *want;
    entries++;
    CHECK(desc && id);
    if (!desc || !id)
      continue;
    CHECK(pq_clean_ia_abstract(desc, &clean) == PQ_OK);
    if (!clean)
      continue;
    /* never any metadata left */
    CHECK(strstr(clean, "作者：") == NULL && strstr(clean, "提交时间") == NULL &&
          strstr(clean, "来自：") == NULL && strstr(clean, "引用：") == NULL && clean[0]);
    if (strlen(clean) < strlen(desc))
      shorter++;
    want = ia_to_records_id(id, rid, sizeof rid)
               ? cJSON_GetStringValue(cJSON_GetObjectItem(index, rid))
               : NULL;
    if (want) {
      compared++;
      if (strcmp(clean, want) == 0)
        exact++;
      else
        fprintf(stderr, "%s: differs from records.jsonl\n  clean: %.120s\n  want:  %.120s\n", id,
                clean, want);
    }
    free(clean);
  }
  fprintf(stderr,
          "IA sample (%s): %zu entries cleaned, %zu shorter than the description; "
          "%zu compared with records.jsonl, %zu exactly equal\n",
          path, entries, shorter, compared, exact);
  CHECK(entries == 200);
  CHECK(shorter == entries);
  CHECK(compared >= 194 && exact == compared);
  cJSON_Delete(arr);
  cJSON_Delete(index);
  free(data);
  free(recs);
}

int main(void) {
  test_variants();
  test_ia_sample();
  TEST_MAIN_END();
}
