/* QA by LLM judges: which papers are judged (a hash of the id, the same on
 * every run and machine), the rubric request, and reading a judge's reply.
 * A reply that is not a complete, in-range score object is an error, never
 * a stored zero. */
#ifndef PAPERQ_QA_H
#define PAPERQ_QA_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The scores a judge gives (1..10), in this order everywhere: the rubric,
 * qa.scored events, the ledger's columns and the report. PQ_QA_OVERALL is
 * the one the report averages, histograms and compares between judges. */
enum pq_qa_score {
  PQ_QA_ACCURACY = 0,
  PQ_QA_FLUENCY,
  PQ_QA_TERMINOLOGY,
  PQ_QA_COMPLETENESS,
  PQ_QA_OVERALL,
  PQ_QA_NSCORES
};
extern const char *const pq_qa_score_names[PQ_QA_NSCORES]; /* "accuracy" … "overall" */

struct pq_qa_scores {
  int score[PQ_QA_NSCORES]; /* 1..10, in pq_qa_score_names order */
  char comments[1024];
};

/* 1 when paper_id falls in the sample of the given rate (0..1). */
int pq_qa_sampled(const char *paper_id, double rate);

/* The rubric system prompt (static) and the user message: the source and
 * the translation, aligned, within about excerpt_tokens (the same excerpt for
 * every judge). record and translation are borrowed. Returns malloc'd text. */
const char *pq_qa_rubric(void);
char *pq_qa_excerpt(const cJSON *record, const cJSON *translation, int excerpt_tokens);

/* Parses a judge's reply: a JSON object, optionally fenced in ``` or with
 * prose around it. PQ_OK, or PQ_ERR_PARSE with the reason in err. */
int pq_qa_parse(const char *reply, struct pq_qa_scores *out, char *err, size_t errlen);

#endif
