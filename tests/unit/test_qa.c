/* QA: reproducible sampling at the configured rate, and judge replies that
 * are malformed, fenced or out of range never turn into stored scores. */
#include "paperq/qa.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <stdlib.h>

int main(void) {
  /* Same ids, same answer; the rate holds within tolerance on 2,000 ids. */
  int hits = 0, again = 0;
  char id[64];
  for (int i = 0; i < 2000; i++) {
    snprintf(id, sizeof id, "chinaxiv-2016%02d.%05d", i % 12 + 1, i * 7);
    int s = pq_qa_sampled(id, 0.1);
    hits += s;
    again += s == pq_qa_sampled(id, 0.1);
  }
  fprintf(stderr, "sampled %d of 2000 at rate 0.1\n", hits);
  CHECK(again == 2000);
  CHECK(hits >= 160 && hits <= 240);
  CHECK(pq_qa_sampled("x", 0) == 0 && pq_qa_sampled("x", 1) == 1);
  /* A smaller rate selects a subset of a larger one. */
  int subset = 1;
  for (int i = 0; i < 2000; i++) {
    snprintf(id, sizeof id, "p-%d", i);
    if (pq_qa_sampled(id, 0.05) && !pq_qa_sampled(id, 0.2))
      subset = 0;
  }
  CHECK(subset);

  struct pq_qa_scores s;
  char err[256];
  CHECK(pq_qa_parse("{\"accuracy\":9,\"fluency\":8,\"terminology\":7,\"completeness\":10,"
                    "\"overall\":9,\"comments\":\"good\"}",
                    &s, err, sizeof err) == PQ_OK);
  CHECK(s.score[0] == 9 && s.score[3] == 10 && s.score[4] == 9);
  CHECK_STR(s.comments, "good");
  /* Fenced in Markdown, with prose around. */
  CHECK(pq_qa_parse("Here is my verdict:\n```json\n{\"accuracy\": 8, \"fluency\": \"9\", "
                    "\"terminology\": 8, \"completeness\": 8, \"overall\": 8}\n```\n",
                    &s, err, sizeof err) == PQ_OK);
  CHECK(s.score[1] == 9);
  /* Malformed, missing, out of range, fractional: errors with a reason. */
  CHECK(pq_qa_parse("I think it is fine.", &s, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "no JSON") != NULL);
  CHECK(pq_qa_parse("{\"accuracy\": 8, oops}", &s, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "not valid JSON") != NULL);
  CHECK(pq_qa_parse("{\"accuracy\":8,\"fluency\":8,\"terminology\":8,\"completeness\":8}", &s, err,
                    sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "overall") != NULL);
  CHECK(pq_qa_parse(
            "{\"accuracy\":0,\"fluency\":8,\"terminology\":8,\"completeness\":8,\"overall\":8}", &s,
            err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "accuracy") != NULL);
  CHECK(pq_qa_parse(
            "{\"accuracy\":8,\"fluency\":11,\"terminology\":8,\"completeness\":8,\"overall\":8}",
            &s, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(pq_qa_parse("{\"accuracy\":\"good\",\"fluency\":8,\"terminology\":8,\"completeness\":8,"
                    "\"overall\":8}",
                    &s, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "accuracy") && strstr(err, "not a number"));

  /* Judges in the wild (issue 11): decimals are kept as reals. */
  CHECK(pq_qa_parse("{\"accuracy\":8.7,\"fluency\":9.25,\"terminology\":8,\"completeness\":10.0,"
                    "\"overall\":9}",
                    &s, err, sizeof err) == PQ_OK);
  CHECK(s.value[0] > 8.69 && s.value[0] < 8.71 && s.value[1] == 9.25 && s.value[3] == 10.0);
  CHECK(s.score[0] == 9 && s.score[1] == 9);
  CHECK_STR(s.comments, ""); /* missing comments are fine */
  /* Numeric strings, "x/10", trailing commas, fences. */
  CHECK(pq_qa_parse("```json\n{\"accuracy\": \"8.5\", \"fluency\": \" 9 \", \"terminology\": "
                    "\"7/10\", \"completeness\": 8, \"overall\": 8.0,}\n```",
                    &s, err, sizeof err) == PQ_OK);
  CHECK(s.value[0] == 8.5 && s.value[1] == 9 && s.value[2] == 7);
  CHECK(pq_qa_parse("{\"accuracy\": 8, \"fluency\": 8, \"terminology\": 8, \"completeness\": 8, "
                    "\"overall\": 8, \"comments\": \"a, b } c\",\n}",
                    &s, err, sizeof err) == PQ_OK);
  CHECK_STR(s.comments, "a, b } c");
  /* A reasoning block first, holding a draft object: the answer after it wins. */
  CHECK(pq_qa_parse("<think>Draft: {\"accuracy\": 3, \"fluency\": 3, \"terminology\": 3, "
                    "\"completeness\": 3, \"overall\": 3}. Hmm, {not json.</think>\n"
                    "Final verdict: {\"accuracy\": 9, \"fluency\": 8, \"terminology\": 9, "
                    "\"completeness\": 9, \"overall\": 9, \"comments\": \"ok\"}",
                    &s, err, sizeof err) == PQ_OK);
  CHECK(s.value[0] == 9 && s.value[4] == 9);
  CHECK(pq_qa_parse("<think>I will give {\"accuracy\": 9", &s, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "reasoning") != NULL);
  /* Prose with a stray object before the verdict; the last full verdict wins. */
  CHECK(pq_qa_parse("Criteria {see rubric}. {\"accuracy\": 6, \"fluency\": 7, \"terminology\": 6, "
                    "\"completeness\": 7, \"overall\": 6.5} and then {\"note\": 1}",
                    &s, err, sizeof err) == PQ_OK);
  CHECK(s.value[4] == 6.5);
  /* Scores nested under one member. */
  CHECK(pq_qa_parse("{\"scores\": {\"accuracy\": 9, \"fluency\": 9, \"terminology\": 9, "
                    "\"completeness\": 9, \"overall\": 9}, \"comments\": \"nested\"}",
                    &s, err, sizeof err) == PQ_OK);
  CHECK(s.value[2] == 9);
  CHECK_STR(s.comments, "nested");
  /* Out of range stays an error, decimals too. */
  CHECK(pq_qa_parse("{\"accuracy\":10.5,\"fluency\":8,\"terminology\":8,\"completeness\":8,"
                    "\"overall\":8}",
                    &s, err, sizeof err) == PQ_ERR_PARSE);
  CHECK(strstr(err, "10.5") && strstr(err, "accuracy"));
  CHECK(pq_qa_parse("{\"accuracy\":0.5,\"fluency\":8,\"terminology\":8,\"completeness\":8,"
                    "\"overall\":8}",
                    &s, err, sizeof err) == PQ_ERR_PARSE);

  /* The excerpt pairs source and translation and respects the budget. */
  cJSON *rec =
      cJSON_Parse("{\"title\":\"标题\",\"abstract\":\"摘要\",\"body\":[{\"kind\":\"paragraph\","
                  "\"text\":\"第一段\"},{\"kind\":\"paragraph\",\"text\":\"第二段\"}]}");
  cJSON *tr = cJSON_Parse(
      "{\"title_en\":\"Title\",\"abstract_en\":\"Abstract\",\"body_en\":[{\"kind\":"
      "\"paragraph\",\"text\":\"First\"},{\"kind\":\"paragraph\",\"text\":\"Second\"}]}");
  char *ex = pq_qa_excerpt(rec, tr, 3000);
  CHECK(strstr(ex, "标题") && strstr(ex, "Title") && strstr(ex, "第二段") && strstr(ex, "Second"));
  free(ex);
  ex = pq_qa_excerpt(rec, tr, 30);
  CHECK(strstr(ex, "Abstract") && !strstr(ex, "Second") && strstr(ex, "of 2 body blocks shown"));
  free(ex);
  cJSON_Delete(rec);
  cJSON_Delete(tr);
  TEST_MAIN_END();
}
