/* Checks: each one failing and passing on realistic answers, priorities,
 * folding in marker/restore verdicts, and the stored JSON. */
#include "paperq/checks.h"
#include "paperq/mask.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static const char *SRC =
    "本文提出了一种基于深度学习的遥感影像分类方法，在 [[M1]] 数据集上的精度达到 [[M2]]。";
static const char *GOOD = "This paper proposes a remote sensing image classification method based "
                          "on deep learning, reaching an accuracy of [[M2]] on the [[M1]] dataset.";

static int run(const char *src, const char *out, const char *finish, struct pq_check_result *r) {
  return pq_checks_run(NULL, src, out, finish, r);
}

static void test_pass(void) {
  struct pq_check_result r;
  CHECK(run(SRC, GOOD, "stop", &r) == PQ_CHECK_NONE);
  CHECK(r.failed == PQ_CHECK_NONE && r.failed_mask == 0);
  CHECK(r.placeholders_ok && r.placeholders_expected == 2);
  CHECK(r.cjk_ratio == 0.0);
  CHECK(r.length_ratio > 2.0 && r.length_ratio < 6.0);
  CHECK_STR(r.finish_reason, "stop");
  CHECK_STR(r.detail, "");
  /* NULL finish_reason passes */
  CHECK(run(SRC, GOOD, NULL, &r) == PQ_CHECK_NONE);
  CHECK(pq_checks_run(NULL, NULL, GOOD, NULL, &r) == PQ_ERR);
  CHECK(pq_checks_run(NULL, SRC, GOOD, NULL, NULL) == PQ_ERR);
}

static void test_finish_reason(void) {
  struct pq_check_result r;
  CHECK(run(SRC, GOOD, "length", &r) == PQ_CHECK_FINISH_REASON);
  CHECK(strstr(r.detail, "length") != NULL);
  CHECK(run(SRC, GOOD, "content_filter", &r) == PQ_CHECK_FINISH_REASON);
  CHECK(run(SRC, GOOD, "eos", &r) == PQ_CHECK_NONE);
  /* a truncated answer usually fails more than one check: finish_reason wins */
  CHECK(run(SRC, "This paper proposes a", "length", &r) == PQ_CHECK_FINISH_REASON);
  CHECK(r.failed_mask & (1u << PQ_CHECK_PLACEHOLDERS));
}

static void test_empty(void) {
  struct pq_check_result r;
  CHECK(run(SRC, "", "stop", &r) == PQ_CHECK_EMPTY && r.empty);
  CHECK(run(SRC, " \n\t\xe3\x80\x80", "stop", &r) == PQ_CHECK_EMPTY); /* U+3000 is a space */
  CHECK(run("", "", "stop", &r) == PQ_CHECK_NONE);                    /* nothing was asked */
  /* a formula-only paragraph comes back as the placeholder alone: fine */
  CHECK(run("[[M3]]", "[[M3]]", "stop", &r) == PQ_CHECK_NONE);
}

static void test_cjk_ratio(void) {
  struct pq_check_result r;
  struct pq_check_opts o;
  char longer[4096];
  size_t k, p = 0;
  /* the stale-key episode: the "translation" is the source */
  CHECK(run(SRC, SRC, "stop", &r) == PQ_CHECK_CJK_RATIO);
  CHECK(r.cjk_ratio > 0.8);
  CHECK(strstr(r.detail, "cjk_ratio") != NULL);
  /* one leftover character in a short answer fails */
  CHECK(run(SRC, "This paper proposes a 遥感 method for [[M1]] reaching [[M2]] accuracy on data.",
            "stop", &r) == PQ_CHECK_CJK_RATIO);
  /* one in about 1,700 letters passes at the default 0.1% */
  for (k = 0; k < 40; k++)
    p += (size_t)snprintf(longer + p, sizeof longer - p, "The method improves accuracy a lot. ");
  snprintf(longer + p, sizeof longer - p, "Station 站 [[M1]] [[M2]].");
  CHECK(run(SRC, longer, "stop", &r) != PQ_CHECK_CJK_RATIO);
  CHECK(r.output_cjk == 1 && r.cjk_ratio > 0 && r.cjk_ratio < 0.001);
  /* configurable */
  pq_checks_default_opts(&o);
  o.max_cjk_ratio = 0.0;
  o.max_length_ratio = 100;
  CHECK(pq_checks_run(&o, SRC, longer, "stop", &r) == PQ_CHECK_CJK_RATIO);
  /* kana and hangul count as untranslated; CJK punctuation does not */
  CHECK(run("日本語", "Japanese カタカナ", "stop", &r) == PQ_CHECK_CJK_RATIO);
  CHECK(run("韩语", "Korean 한국어", "stop", &r) == PQ_CHECK_CJK_RATIO);
  CHECK(run("标点。", "Punctuation。", "stop", &r) == PQ_CHECK_NONE);
}

static void test_length_ratio(void) {
  struct pq_check_result r;
  char runaway[8192];
  size_t k, p = 0;
  /* half of a long source dropped */
  CHECK(run(SRC, "A method [[M1]] [[M2]].", "stop", &r) == PQ_CHECK_LENGTH_RATIO);
  CHECK(r.length_ratio < 0.5);
  CHECK(strstr(r.detail, "length_ratio") != NULL);
  /* short sources are exempt from the lower bound */
  CHECK(run("引言", "I", "stop", &r) == PQ_CHECK_NONE);
  CHECK(run("结论", "Conclusions", "stop", &r) == PQ_CHECK_NONE);
  CHECK(run("展望", "Outlook and future prospects", "stop", &r) == PQ_CHECK_NONE);
  /* a runaway answer (a repetition loop) */
  for (k = 0; k < 100; k++)
    p += (size_t)snprintf(runaway + p, sizeof runaway - p, "the results the results ");
  CHECK(run("结果表明", runaway, "stop", &r) == PQ_CHECK_LENGTH_RATIO);
  CHECK(run(SRC, runaway, "stop", &r) == PQ_CHECK_PLACEHOLDERS); /* placeholders first */
  CHECK(r.failed_mask & (1u << PQ_CHECK_LENGTH_RATIO));
  /* placeholders count for neither side */
  CHECK(run("[[M1]][[M2]][[M3]][[M4]][[M5]][[M6]][[M7]]和",
            "[[M1]][[M2]][[M3]][[M4]][[M5]][[M6]][[M7]] and", "stop", &r) == PQ_CHECK_NONE);
  CHECK(r.source_chars == 1 && r.output_chars == 3);
}

static void test_refusal(void) {
  struct pq_check_result r;
  static const char *const bad[] = {
      "I'm sorry, but I can't help with that.",
      "I’m sorry, I cannot translate this.", /* curly apostrophe */
      "  \"I cannot assist with this request.\"",
      "As an AI language model, I must decline.",
      "Sorry, this content cannot be translated.",
      "**I can't** do that.",
      "i apologize, but the text is unclear.",
      "Unfortunately, I am unable to comply.",
  };
  size_t k;
  for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    CHECK(run("这是一个测试句子，用于检查拒绝。", bad[k], "stop", &r) == PQ_CHECK_REFUSAL);
    CHECK(r.refusal);
  }
  /* a source that itself starts that way may be translated that way */
  CHECK(run("I'm sorry 是一首歌的名字。", "I'm sorry is the name of a song.", "stop", &r) ==
        PQ_CHECK_NONE);
  /* "sorry" later in the text, or a word that merely starts alike, is fine */
  CHECK(run("他说对不起。", "He said he was sorry.", "stop", &r) == PQ_CHECK_NONE);
  CHECK(run("索引。", "Sorrybook index.", "stop", &r) == PQ_CHECK_NONE);
}

static void test_placeholders(void) {
  struct pq_check_result r;
  CHECK(run(SRC, "This paper ... on the [[M1]] dataset reaching high accuracy overall here.",
            "stop", &r) == PQ_CHECK_PLACEHOLDERS);
  CHECK(r.placeholders_missing == 1 && !r.placeholders_ok);
  CHECK(run(SRC, "Method [[M1]] [[M1]] [[M2]] on the dataset with an accuracy of some value.",
            "stop", &r) == PQ_CHECK_PLACEHOLDERS);
  CHECK(r.placeholders_duplicated == 1 && r.placeholders_missing == 0);
  CHECK(run(SRC, "Method [[M1]] [[M2]] [[M3]] on the dataset with an accuracy of some value.",
            "stop", &r) == PQ_CHECK_PLACEHOLDERS);
  CHECK(r.placeholders_invented == 1);
  CHECK(strstr(r.detail, "1 invented") != NULL);
  /* a source token that occurs twice must come back twice */
  CHECK(run("[[A1]] 与 [[A1]] 相同", "[[A1]] equals [[A1]]", "stop", &r) == PQ_CHECK_NONE);
  CHECK(run("[[A1]] 与 [[A1]] 相同", "[[A1]] is the same", "stop", &r) == PQ_CHECK_PLACEHOLDERS);
}

static void test_fold_and_json(void) {
  struct pq_check_result r;
  struct pq_mask_report rep;

  CHECK(run(SRC, GOOD, "stop", &r) == PQ_CHECK_NONE);
  pq_checks_note_markers(&r, 0, 3, 2);
  CHECK(r.failed == PQ_CHECK_MARKERS && !r.markers_ok && r.markers_checked);
  CHECK(strstr(r.detail, "expected 3, found 2") != NULL);

  CHECK(run(SRC, GOOD, "stop", &r) == PQ_CHECK_NONE);
  memset(&rep, 0, sizeof rep);
  rep.expected = 2;
  rep.invented = 1; /* e.g. a placeholder moved in from another paragraph */
  pq_checks_note_restore(&r, &rep);
  CHECK(r.failed == PQ_CHECK_PLACEHOLDERS && r.placeholders_invented == 1);

  /* names */
  CHECK_STR(pq_checks_name(PQ_CHECK_FINISH_REASON), "finish_reason");
  CHECK_STR(pq_checks_name(PQ_CHECK_EMPTY), "empty");
  CHECK_STR(pq_checks_name(PQ_CHECK_CJK_RATIO), "cjk_ratio");
  CHECK_STR(pq_checks_name(PQ_CHECK_LENGTH_RATIO), "length_ratio");
  CHECK_STR(pq_checks_name(PQ_CHECK_REFUSAL), "refusal");
  CHECK_STR(pq_checks_name(PQ_CHECK_PLACEHOLDERS), "placeholders");
  CHECK_STR(pq_checks_name(PQ_CHECK_MARKERS), "markers");
  CHECK_STR(pq_checks_name(PQ_CHECK_NONE), "none");
  CHECK_STR(pq_checks_name(99), "unknown");
  CHECK_STR(pq_check_name(-1), "unknown");

  /* A marker verdict folded in keeps the first failure and records the markers. */
  CHECK(run(SRC, SRC, "length", &r) == PQ_CHECK_FINISH_REASON);
  pq_checks_note_markers(&r, 1, 2, 2);
  CHECK(r.failed == PQ_CHECK_FINISH_REASON && r.markers_checked && r.markers_ok);
}

static void test_hostile(void) {
  struct pq_check_result r;
  /* invalid UTF-8, lone brackets, half tokens: no crash, sane verdicts */
  CHECK(run("\xff\xfe[[M", "\xc3[[M1]", "stop", &r) >= 0);
  CHECK(run("[[", "]]", NULL, &r) >= 0);
  {
    char fr[100];
    memset(fr, 'x', sizeof fr - 1);
    fr[sizeof fr - 1] = '\0';
    CHECK(run("a", "a", fr, &r) == PQ_CHECK_NONE && strlen(r.finish_reason) == 31);
  }
}

int main(void) {
  test_pass();
  test_finish_reason();
  test_empty();
  test_cjk_ratio();
  test_length_ratio();
  test_refusal();
  test_placeholders();
  test_fold_and_json();
  test_hostile();
  TEST_MAIN_END();
}
