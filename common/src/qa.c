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
         "score a number from 1 (unusable) to 10 (publication quality):\n"
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

/* The end of the JSON value that starts with '{' at s[0] (string-aware
 * brace matching), or NULL when it never closes. */
static const char *object_end(const char *s, const char *end) {
  int depth = 0, in_str = 0;
  for (const char *p = s; p < end; p++) {
    if (in_str) {
      if (*p == '\\' && p + 1 < end)
        p++;
      else if (*p == '"')
        in_str = 0;
    } else if (*p == '"') {
      in_str = 1;
    } else if (*p == '{') {
      depth++;
    } else if (*p == '}' && --depth == 0) {
      return p;
    }
  }
  return NULL;
}

/* Parses s[0..len) as JSON after dropping commas that stand before a closing
 * '}' or ']' (outside strings): judges write them, cJSON refuses them. */
static cJSON *parse_lenient(const char *s, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy)
    return NULL;
  size_t n = 0;
  int in_str = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (in_str) {
      copy[n++] = c;
      if (c == '\\' && i + 1 < len)
        copy[n++] = s[++i];
      else if (c == '"')
        in_str = 0;
      continue;
    }
    if (c == '"')
      in_str = 1;
    if (c == ',') {
      size_t j = i + 1;
      while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'))
        j++;
      if (j < len && (s[j] == '}' || s[j] == ']'))
        continue;
    }
    copy[n++] = c;
  }
  cJSON *o = cJSON_ParseWithLength(copy, n);
  free(copy);
  return o;
}

/* A score as a judge writes it: 8, 8.5, "8.5", " 9 ", "8.5/10". */
static int score_value(const cJSON *v, double *out) {
  if (cJSON_IsNumber(v)) {
    *out = v->valuedouble;
    return isfinite(*out) ? PQ_OK : PQ_ERR_PARSE;
  }
  if (!cJSON_IsString(v) || !v->valuestring)
    return PQ_ERR_PARSE;
  const char *p = v->valuestring;
  while (*p == ' ' || *p == '\t')
    p++;
  char *end;
  double d = strtod(p, &end);
  if (end == p || !isfinite(d))
    return PQ_ERR_PARSE;
  while (*end == ' ')
    end++;
  if (*end == '/') { /* "8.5/10": out of ten, as the rubric asks */
    end++;
    while (*end == ' ')
      end++;
    if (strncmp(end, "10", 2) != 0)
      return PQ_ERR_PARSE;
    end += 2;
    while (*end == ' ')
      end++;
  }
  if (*end)
    return PQ_ERR_PARSE;
  *out = d;
  return PQ_OK;
}

/* The object holding the scores: o itself or one object member of it
 * ({"scores": {...}}). Returns how many score names it has (best of both). */
static const cJSON *score_holder(const cJSON *o, int *found) {
  const cJSON *best = o;
  int bestn = 0;
  for (int pass = 0; pass < 2; pass++) {
    const cJSON *it;
    if (pass == 0) {
      for (int i = 0; i < PQ_QA_NSCORES; i++)
        bestn += cJSON_GetObjectItem(o, pq_qa_score_names[i]) != NULL;
      continue;
    }
    cJSON_ArrayForEach(it, o) {
      if (!cJSON_IsObject(it))
        continue;
      int n = 0;
      for (int i = 0; i < PQ_QA_NSCORES; i++)
        n += cJSON_GetObjectItem(it, pq_qa_score_names[i]) != NULL;
      if (n > bestn) {
        bestn = n;
        best = it;
      }
    }
  }
  *found = bestn;
  return best;
}

/* Fills out from one parsed object. PQ_OK or PQ_ERR_PARSE (reason in err). */
static int scores_from(const cJSON *root, struct pq_qa_scores *out, char *err, size_t errlen) {
  int found;
  const cJSON *o = score_holder(root, &found);
  for (int i = 0; i < PQ_QA_NSCORES; i++) {
    const cJSON *v = cJSON_GetObjectItem(o, pq_qa_score_names[i]);
    double d;
    if (!v) {
      snprintf(err, errlen, "judge reply lacks the score \"%s\"", pq_qa_score_names[i]);
      return PQ_ERR_PARSE;
    }
    if (score_value(v, &d) != PQ_OK) {
      snprintf(err, errlen, "judge score \"%s\" is not a number", pq_qa_score_names[i]);
      return PQ_ERR_PARSE;
    }
    if (d < 1 || d > 10) {
      snprintf(err, errlen, "judge score \"%s\" = %g is outside 1 to 10", pq_qa_score_names[i], d);
      return PQ_ERR_PARSE;
    }
    out->value[i] = d;
    out->score[i] = (int)lround(d);
  }
  const cJSON *c = cJSON_GetObjectItem(o, "comments");
  if (!cJSON_IsString(c))
    c = cJSON_GetObjectItem(root, "comments");
  snprintf(out->comments, sizeof out->comments, "%s",
           cJSON_IsString(c) && c->valuestring ? c->valuestring : "");
  return PQ_OK;
}

int pq_qa_parse(const char *reply, struct pq_qa_scores *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  size_t len = strnlen(reply, PQ_QA_MAX_REPLY);
  const char *text = reply, *end = reply + len;
  /* A reasoning block comes first: only what follows the last </think> is
   * the answer. An unclosed <think> means the answer never came. */
  for (const char *p = text; (p = strstr(p, "</think>")) != NULL && p < end; p += 8)
    text = p + 8;
  if (text == reply && strstr(reply, "<think>") &&
      (size_t)(strstr(reply, "<think>") - reply) < len) {
    snprintf(err, errlen, "judge reply is a reasoning block that never ends (no answer after it)");
    return PQ_ERR_PARSE;
  }
  /* Every balanced {...} is a candidate; the last one that holds all the
   * scores is the verdict. Bounded: replies are at most PQ_QA_MAX_REPLY
   * bytes and at most 256 openings are tried. */
  struct pq_qa_scores cand;
  char cerr[256] = "";
  int have = 0, best_found = -1, tried = 0, any_json = 0;
  const char *p = text;
  while (p < end && tried < 256) {
    const char *open = memchr(p, '{', (size_t)(end - p));
    if (!open)
      break;
    tried++;
    const char *close = object_end(open, end);
    if (!close)
      break; /* nothing after an unclosed brace can close either */
    cJSON *o = parse_lenient(open, (size_t)(close - open + 1));
    if (!cJSON_IsObject(o)) {
      cJSON_Delete(o);
      p = open + 1; /* maybe an object starts inside it */
      continue;
    }
    any_json = 1;
    int found;
    score_holder(o, &found);
    memset(&cand, 0, sizeof cand);
    char e[256];
    if (scores_from(o, &cand, e, sizeof e) == PQ_OK) {
      *out = cand;
      have = 1;
    } else if (found >= best_found) {
      best_found = found;
      snprintf(cerr, sizeof cerr, "%s", e);
    }
    cJSON_Delete(o);
    p = close + 1;
  }
  if (have)
    return PQ_OK;
  memset(out, 0, sizeof *out);
  if (best_found >= 0 && cerr[0])
    snprintf(err, errlen, "%s", cerr);
  else if (!any_json && memchr(text, '{', (size_t)(end - text)))
    snprintf(err, errlen, "judge reply is not valid JSON");
  else
    snprintf(err, errlen, "judge reply holds no JSON object");
  return PQ_ERR_PARSE;
}
