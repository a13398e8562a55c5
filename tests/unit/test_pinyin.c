/* Pinyin names: the brief's examples, surname exceptions, compound
 * surnames, glued and spaced names, pass-through of Latin and unknown
 * characters, hostile input, and every author field of the real records. */
#include "paperq/pinyin.h"
#include "paperq/textutil.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static void expect_py(const char *in, const char *want, int line) {
  char *got = NULL;
  int rc = pq_pinyin_name(in, &got);
  pq_test_checks++;
  if (rc != PQ_OK || !got || strcmp(got, want) != 0) {
    pq_test_failures++;
    fprintf(stderr, "test_pinyin.c:%d: pinyin(\"%s\")\n  got:  \"%s\" (rc %d)\n  want: \"%s\"\n",
            line, in, got ? got : "(null)", rc, want);
  }
  free(got);
}
#define EXPECT_PY(in, want) expect_py(in, want, __LINE__)

static void test_names(void) {
  EXPECT_PY("王颖", "Wang Ying");
  EXPECT_PY("张智雄", "Zhang Zhixiong");
  EXPECT_PY("欧阳修", "Ouyang Xiu");
  EXPECT_PY("单雄信", "Shan Xiongxin");
  EXPECT_PY("曾国藩", "Zeng Guofan");
  EXPECT_PY("解缙", "Xie Jin");
  EXPECT_PY("仇英", "Qiu Ying");
  EXPECT_PY("朴槿惠", "Piao Jinhui");
  EXPECT_PY("查良镛", "Zha Liangyong");
  EXPECT_PY("盖聂", "Ge Nie");
  EXPECT_PY("覃明", "Qin Ming");
  EXPECT_PY("翟天临", "Zhai Tianlin");
  EXPECT_PY("司马迁", "Sima Qian");
  EXPECT_PY("诸葛亮", "Zhuge Liang");
  EXPECT_PY("尉迟恭", "Yuchi Gong");
  EXPECT_PY("令狐冲", "Linghu Chong");
  EXPECT_PY("吕布", "Lu Bu");         /* ü -> u */
  EXPECT_PY("张西安", "Zhang Xi'an"); /* syllable boundary kept readable */
  EXPECT_PY("上官婉儿", "Shangguan Wan'er");
  EXPECT_PY("王长江", "Wang Changjiang"); /* given-name reading of 长 */
  EXPECT_PY("王", "Wang");
  EXPECT_PY("欧阳", "Ouyang");
  /* the reading of a surname character applies only to the surname */
  EXPECT_PY("王曾", "Wang Ceng");
}

static void test_glued_and_spaced(void) {
  EXPECT_PY("王颖张智雄", "Wang Ying, Zhang Zhixiong");
  EXPECT_PY("孙辉雷枫", "Sun Hui, Lei Feng");
  EXPECT_PY("上官士鹏", "Shangguan Shipeng");
  EXPECT_PY("欧阳峥峥", "Ouyang Zhengzheng");
  EXPECT_PY("王文华刘波", "Wang Wenhua, Liu Bo");
  EXPECT_PY("张晓林李麟顾立平", "Zhang Xiaolin, Li Lin, Gu Liping");
  EXPECT_PY("王玉菊吴振新孔贝贝", "Wang Yuju, Wu Zhenxin, Kong Beibei");
  EXPECT_PY("张建国何秋月", "Zhang Jianguo, He Qiuyue");
  EXPECT_PY("萍李国红", "Ping, Li Guohong"); /* the tail of a name cut at a line end */
  EXPECT_PY("王颖 张智雄", "Wang Ying, Zhang Zhixiong");
  EXPECT_PY("王颖，张智雄、孙辉; 雷枫", "Wang Ying, Zhang Zhixiong, Sun Hui, Lei Feng");
  EXPECT_PY("  王 颖  ", "Wang Ying");
  EXPECT_PY("王 智雄", "Wang Zhixiong");
  EXPECT_PY("王颖 张 智雄", "Wang Ying, Zhang Zhixiong");
}

static void test_passthrough(void) {
  EXPECT_PY("Xie YF", "Xie YF");
  EXPECT_PY("John Smith", "John Smith");
  EXPECT_PY("HuangYH", "HuangYH");
  EXPECT_PY("史灵卫①③", "Shi Lingwei①③");
  EXPECT_PY("）刘祖祥", "）Liu Zuxiang");
  EXPECT_PY("李明 (Ming Li)", "Li Ming (Ming Li)");
  EXPECT_PY("さくら", "さくら");
  EXPECT_PY("", "");
  EXPECT_PY("   ", "");
  EXPECT_PY("王\xff颖", "Wang\xff"
                        "Ying");
  {
    /* a Han character without a Mandarin reading is kept */
    uint32_t cp;
    const char *py;
    char in[16], want[32];
    for (cp = 0x4E00; cp <= 0x9FFF && pq_pinyin_syllable(cp, &py) == PQ_OK; cp++)
      ;
    CHECK(cp <= 0x9FFF);
    snprintf(in, sizeof in, "王%c%c%c", (char)(0xE0 | (cp >> 12)),
             (char)(0x80 | ((cp >> 6) & 0x3F)), (char)(0x80 | (cp & 0x3F)));
    snprintf(want, sizeof want, "Wang %s", in + 3);
    EXPECT_PY(in, want);
  }
}

static void test_table_and_limits(void) {
  const char *py = NULL;
  char *out = NULL, *big;
  size_t k;
  CHECK(pq_pinyin_syllable(0x738B, &py) == PQ_OK && py && strcmp(py, "wang") == 0);
  CHECK(pq_pinyin_syllable(0x5415, &py) == PQ_OK && strcmp(py, "lu") == 0); /* 吕 lǚ */
  CHECK(pq_pinyin_syllable('A', &py) == PQ_ERR && py == NULL);
  CHECK(pq_pinyin_syllable(0x10FFFF, &py) == PQ_ERR);
  CHECK(pq_pinyin_table_len > 40000);
  for (k = 1; k < pq_pinyin_table_len; k++)
    if (pq_pinyin_table[k - 1].cp >= pq_pinyin_table[k].cp)
      break;
  CHECK(k == pq_pinyin_table_len); /* sorted: binary search is valid */

  CHECK(pq_pinyin_name(NULL, &out) == PQ_ERR);
  CHECK(pq_pinyin_name("王", NULL) == PQ_ERR);
  big = malloc(PQ_PINYIN_MAX_INPUT + 2);
  memset(big, 'a', PQ_PINYIN_MAX_INPUT + 1);
  big[PQ_PINYIN_MAX_INPUT + 1] = '\0';
  CHECK(pq_pinyin_name(big, &out) == PQ_ERR_TOOBIG && out == NULL);
  /* the longest accepted all-Han input: more than MAX_RUN characters */
  for (k = 0; k + 3 <= PQ_PINYIN_MAX_INPUT; k += 3)
    memcpy(big + k, "张", 3);
  big[k] = '\0';
  CHECK(pq_pinyin_name(big, &out) == PQ_OK && out && out[0] == 'Z' && pq_text_count_cjk(out) == 0);
  free(out);
  out = NULL;
  /* 100 characters: split into names, all romanised */
  big[300] = '\0';
  CHECK(pq_pinyin_name(big, &out) == PQ_OK && out && strstr(out, "Zhang Zhang, ") == out);
  free(out);
  free(big);
}

/* Every author field of the real records: romanised, no Chinese left except
 * characters without a reading. */
static void test_records(void) {
  const char *fx = getenv("PQ_FIXTURES");
  char path[1024], *data = NULL, *line, *next;
  size_t len, fields = 0, glued = 0, left = 0, shown = 0;
  snprintf(path, sizeof path, "%s/sample.jsonl", fx ? fx : "tests/fixtures");
  if (pq_read_file(path, 64u << 20, &data, &len) != PQ_OK) {
    CHECK(0);
    return;
  }
  for (line = data; line && *line; line = next) {
    cJSON *rec, *a;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    rec = cJSON_Parse(line);
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(rec, "authors")) {
      char *py = NULL;
      const char *s = cJSON_GetStringValue(a);
      if (!s)
        continue;
      fields++;
      CHECK(pq_pinyin_name(s, &py) == PQ_OK && py);
      if (!py)
        continue;
      if (pq_text_count_cjk(py))
        left++;
      if (strstr(py, ", ") && !strpbrk(s, " ,")) {
        glued++;
        if (shown++ < 6)
          fprintf(stderr, "  glued: %s -> %s\n", s, py);
      }
      free(py);
    }
    cJSON_Delete(rec);
  }
  free(data);
  fprintf(stderr, "%s: %zu author fields romanised, %zu split as glued names, %zu with CJK left\n",
          path, fields, glued, left);
  CHECK(fields > 500);
  CHECK(left == 0);
}

int main(void) {
  test_names();
  test_glued_and_spaced();
  test_passthrough();
  test_table_and_limits();
  test_records();
  TEST_MAIN_END();
}
