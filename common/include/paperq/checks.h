/* Quality checks on every model answer before it is accepted: a truncated,
 * empty, refused, still-Chinese, implausibly short/long answer, or one that
 * lost or invented a placeholder or a paragraph marker, is rejected and the
 * caller retries. The results are also stored with the paper (JSON).
 *
 * Inputs are the masked source (what was sent) and the raw answer (before
 * pq_mask_restore), so placeholders can be compared directly.
 *
 * Defaults (pq_checks_default_opts), and why:
 *   max_cjk_ratio      0.001  CJK codepoints / letters of the answer; the
 *                             original system flagged > 0.1%.
 *   min_length_ratio   0.5    answer chars / source chars. zh->en runs about
 *   max_length_ratio   12.0   3-4x (median 3.8 over the authors' own English
 *                             abstracts in records.jsonl); under 0.5 means
 *                             content was dropped, over 12 a runaway answer.
 *   short_source_chars 20     sources shorter than this are exempt from the
 *                             lower bound ("结论" -> "Conclusions" is fine either
 *                             way) and the upper bound is measured against 20
 *                             chars, so a 2-char heading may become 240.
 * "chars" are codepoints that are not whitespace, with placeholder tokens
 * removed from both sides.
 * finish_reason fails on "length" (truncated) and "content_filter" (cut by the
 * provider); NULL or "" passes (some providers omit it).
 * refusal: the answer starts (case-insensitively, after whitespace, quotes or
 * '*') with "I'm sorry", "I am sorry", "Sorry,", "Sorry but", "I cannot",
 * "I can't", "I can not", "I'm unable", "I am unable", "I apologize",
 * "As an AI", "As a language model", "I won't", "Unfortunately, I" (straight
 * or curly apostrophe) and the source does not.
 * placeholders: every placeholder-shaped token ([[M1]], any prefix) of the
 * source must occur in the answer as often as in the source, and the answer
 * may hold no other. */
#ifndef PAPERQ_CHECKS_H
#define PAPERQ_CHECKS_H

#include <stddef.h>

struct cJSON;
struct pq_mask_report;

/* In priority order: when several fail, `failed` names the lowest. */
enum pq_check {
  PQ_CHECK_NONE = 0,
  PQ_CHECK_FINISH_REASON,
  PQ_CHECK_EMPTY,
  PQ_CHECK_REFUSAL,
  PQ_CHECK_MARKERS,
  PQ_CHECK_PLACEHOLDERS,
  PQ_CHECK_CJK_RATIO,
  PQ_CHECK_LENGTH_RATIO,
  PQ_CHECK_COUNT /* number of values, for arrays indexed by check */
};

struct pq_check_opts {
  double max_cjk_ratio;
  double min_length_ratio;
  double max_length_ratio;
  size_t short_source_chars;
};

struct pq_check_result {
  enum pq_check failed; /* first failed check in priority order, or NONE */
  unsigned failed_mask; /* bit (1u << check) set for every failed check */
  char finish_reason[32];
  int empty; /* answer has no non-space character, source has */
  int refusal;
  size_t source_chars; /* non-space codepoints, placeholders removed */
  size_t output_chars;
  size_t output_letters; /* letters of the answer (no space, no punctuation) */
  size_t output_cjk;
  double cjk_ratio;    /* output_cjk / output_letters, 0 when no letters */
  double length_ratio; /* output_chars / source_chars, 0 when the source has none */
  int placeholders_ok;
  size_t placeholders_expected, placeholders_missing, placeholders_duplicated,
      placeholders_invented;
  int markers_checked; /* set by pq_checks_note_markers */
  int markers_ok;
  size_t markers_expected, markers_found;
  struct pq_check_opts opts; /* the thresholds applied */
  char detail[256];          /* one human sentence about the first failure, "" if none */
};

/* Fills *o with the defaults above. */
void pq_checks_default_opts(struct pq_check_opts *o);

/* Runs every check (opts NULL = defaults). Returns PQ_CHECK_NONE (0) when
 * all pass, else the first failed check (a positive enum pq_check), or
 * PQ_ERR (negative) when source, output or r is NULL. *r is always filled
 * when r is not NULL. */
int pq_checks_run(const struct pq_check_opts *opts, const char *source, const char *output,
                  const char *finish_reason, struct pq_check_result *r);

/* Folds in the paragraph-marker verdict of pq_chunk_split (ok = split
 * returned PQ_OK; expected/found = its pq_chunk_split_info, marker lines the
 * paper's own text holds included). Updates failed/failed_mask/detail. */
void pq_checks_note_markers(struct pq_check_result *r, int ok, size_t expected, size_t found);

/* Folds in a pq_mask_restore report (a second opinion with the mask's own
 * numbering: catches a placeholder moved from another paragraph). */
void pq_checks_note_restore(struct pq_check_result *r, const struct pq_mask_report *rep);

/* "none", "finish_reason", "empty", "refusal", "markers", "placeholders",
 * "cjk_ratio", "length_ratio"; "unknown" otherwise. Static strings. */
const char *pq_checks_name(int check);
/* The same, under the name the worker first used. */
const char *pq_check_name(int check);

#endif
