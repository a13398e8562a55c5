/* QA sampling, rubric and judge-reply parsing. */
#include "paperq/qa.h"
#include "paperq/buf.h"
#include "paperq/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pq_qa_score_names[PQ_QA_NSCORES] = {[PQ_QA_ACCURACY] = "accuracy",
                                                      [PQ_QA_FLUENCY] = "fluency",
                                                      [PQ_QA_TERMINOLOGY] = "terminology",
                                                      [PQ_QA_COMPLETENESS] = "completeness",
                                                      [PQ_QA_OVERALL] = "overall"};

int pq_qa_sampled(const char *paper_id, double rate) {
  if (rate <= 0)
    return 0;
  if (rate >= 1)
    return 1;
  /* FNV-1a is stable across machines and runs; 1e6 buckets give the rate
   * to six digits. */
  return (double)(pq_hash64(paper_id) % 1000000ULL) < rate * 1000000.0;
}

const char *pq_qa_rubric(void) {
  return "You are a strict reviewer of Chinese-to-English translations of scientific papers.\n"
         "Judge the English translation against the Chinese source using this rubric, each "
         "score an integer from 1 (unusable) to 10 (publication quality):\n"
         "- accuracy: meaning preserved, nothing mistranslated;\n"
         "- fluency: natural, grammatical scientific English;\n"
         "- terminology: technical terms rendered as the field uses them;\n"
         "- completeness: nothing omitted or added;\n"
         "- overall: your overall judgement.\n"
         "Formulas appear as LaTeX and must be unchanged.\n"
         "Answer with ONLY a JSON object, no Markdown, exactly these keys: "
         "{\"accuracy\": n, \"fluency\": n, \"terminology\": n, \"completeness\": n, "
         "\"overall\": n, \"comments\": \"one or two sentences\"}";
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Appends "label: zh / en" pairs while the budget (bytes ~ 3 per token)
 * lasts; the same cut for every judge because it depends only on the input. */
char *pq_qa_excerpt(const cJSON *record, const cJSON *translation, int excerpt_tokens) {
  struct pq_buf b;
  size_t budget = (size_t)excerpt_tokens * 3;
  pq_buf_init(&b, budget + 65536);
  pq_buf_printf(&b, "SOURCE TITLE:\n%s\n\nTRANSLATED TITLE:\n%s\n\n", str_of(record, "title"),
                str_of(translation, "title_en"));
  pq_buf_printf(&b, "SOURCE ABSTRACT:\n%s\n\nTRANSLATED ABSTRACT:\n%s\n\n",
                str_of(record, "abstract"), str_of(translation, "abstract_en"));
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(record, "body");
  const cJSON *body_en = cJSON_GetObjectItemCaseSensitive(translation, "body_en");
  int n = cJSON_GetArraySize(body), shown = 0;
  for (int i = 0; i < n && i < cJSON_GetArraySize(body_en); i++) {
    const char *zh = str_of(cJSON_GetArrayItem(body, i), "text");
    const char *en = str_of(cJSON_GetArrayItem(body_en, i), "text");
    if (b.len + strlen(zh) + strlen(en) + 64 > budget)
      break;
    pq_buf_printf(&b, "SOURCE PARAGRAPH %d:\n%s\n\nTRANSLATED PARAGRAPH %d:\n%s\n\n", i + 1, zh,
                  i + 1, en);
    shown++;
  }
  if (n > shown)
    pq_buf_printf(&b, "(%d of %d body blocks shown; judge what is shown.)\n", shown, n);
  return pq_buf_steal(&b);
}

int pq_qa_parse(const char *reply, struct pq_qa_scores *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  /* Judges wrap JSON in ```json fences or prose: take the outermost braces. */
  const char *open = strchr(reply, '{');
  const char *close = strrchr(reply, '}');
  if (!open || !close || close < open) {
    snprintf(err, errlen, "judge reply holds no JSON object");
    return PQ_ERR_PARSE;
  }
  cJSON *o = cJSON_ParseWithLength(open, (size_t)(close - open + 1));
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    snprintf(err, errlen, "judge reply is not valid JSON");
    return PQ_ERR_PARSE;
  }
  int rc = PQ_OK;
  for (int i = 0; i < PQ_QA_NSCORES; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, pq_qa_score_names[i]);
    double d;
    if (cJSON_IsNumber(v))
      d = v->valuedouble;
    else if (cJSON_IsString(v) && pq_parse_double(v->valuestring, -1e9, 1e9, &d) == PQ_OK)
      ;
    else {
      snprintf(err, errlen, "judge reply lacks the score \"%s\"", pq_qa_score_names[i]);
      rc = PQ_ERR_PARSE;
      break;
    }
    if (d < 1 || d > 10 || d != floor(d)) {
      snprintf(err, errlen, "judge score \"%s\" = %g is not an integer from 1 to 10",
               pq_qa_score_names[i], d);
      rc = PQ_ERR_PARSE;
      break;
    }
    out->score[i] = (int)d;
  }
  if (rc == PQ_OK)
    snprintf(out->comments, sizeof out->comments, "%s", str_of(o, "comments"));
  cJSON_Delete(o);
  return rc;
}
