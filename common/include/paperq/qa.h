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
  double value[PQ_QA_NSCORES]; /* 1..10 as the judge wrote it (8.7 stays 8.7) */
  int score[PQ_QA_NSCORES];    /* value rounded to the nearest integer, for display */
  char comments[1024];         /* "" when the judge wrote none */
};

/* 1 when paper_id falls in the sample of the given rate (0..1). */
int pq_qa_sampled(const char *paper_id, double rate);

/* The rubric system prompt (static) and the user message: the source and
 * the translation, aligned, within about excerpt_tokens (the same excerpt for
 * every judge). record and translation are borrowed. Returns malloc'd text. */
const char *pq_qa_rubric(void);
char *pq_qa_excerpt(const cJSON *record, const cJSON *translation, int excerpt_tokens);

/* Parses a judge's reply as judges in the wild write it: the scores are
 * numbers or numeric strings ("8.5", "8.5/10") in [1, 10], decimals kept;
 * the JSON object may sit in prose or a ``` fence, carry trailing commas,
 * nest the scores under one member ({"scores": {...}}), lack "comments", and
 * follow a <think>...</think> block (ignored). The last complete object that
 * holds every score wins. At most PQ_QA_MAX_REPLY bytes are read.
 * PQ_OK, or PQ_ERR_PARSE with the reason in err. */
#define PQ_QA_MAX_REPLY 65536
int pq_qa_parse(const char *reply, struct pq_qa_scores *out, char *err, size_t errlen);

#endif
