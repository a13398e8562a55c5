/* Chunking a paper's segments (title, abstract, keywords, subjects, body
 * headings and paragraphs; equation blocks are never sent) into requests
 * under a token budget, and splitting the model's answer back into the same
 * segments. The texts handled here are already masked (mask.h): a
 * placeholder such as [[M12]] is never cut in two.
 *
 * Token estimate (pq_chunk_estimate_tokens): 1 token per codepoint at or
 * above U+2E80 (CJK ideographs, kana, hangul, full-width punctuation, which
 * tokenisers split about one per character), plus 1 per 4 bytes of
 * everything else, rounded up. It is deliberately on the high side for
 * Chinese (DeepSeek/Qwen merge some pairs), so chunks stay under the budget.
 *
 * Request format (pq_chunk_join): for two or more segments, each segment is
 * preceded by a marker line "<<<k>>>" (k = 1..n within the chunk) and
 * segments are separated by a blank line:
 *
 *     <<<1>>>
 *     first segment
 *
 *     <<<2>>>
 *     second segment
 *
 * A single segment is sent as is, without a marker. Markers use <<< >>>, so
 * they cannot be confused with mask placeholders ([[M1]]).
 *
 * Answer parsing (pq_chunk_split) tolerates what models do to markers:
 * leading/trailing spaces on the marker line, spaces inside ("<<< 2 >>>"),
 * missing or extra blank lines, the paragraph starting on the marker line
 * itself ("<<<2>>> The results..."), CRLF line ends. A marker is only
 * recognised at the start of a line. It does not tolerate: a missing,
 * repeated, renumbered or reordered marker, text before the first marker, or
 * a marker with nothing under it. Those mean paragraphs were merged, dropped
 * or invented, and the caller should retry with smaller chunks. */
#ifndef PAPERQ_CHUNK_H
#define PAPERQ_CHUNK_H

#include <stddef.h>

/* Module return codes, besides PQ_OK / PQ_ERR_* from util.h. */
enum {
  PQ_CHUNK_ERR_MARKERS = -111, /* split: markers missing, extra, out of order, or a part empty */
  PQ_CHUNK_ERR_COLLIDE = -112  /* join: a segment contains a line that reads as a marker;
                                  send that segment alone (no markers needed) */
};

#define PQ_CHUNK_MAX_TEXT (16u * 1024u * 1024u) /* bytes of a joined request or of an answer */
#define PQ_CHUNK_MARKER_TOKENS 4                /* budgeted per segment for its marker line */
#define PQ_CHUNK_MIN_BUDGET 16                  /* smaller budgets are refused (PQ_ERR) */

/* Estimated tokens of a NUL-terminated string (NULL: 0), and of s[0..len). */
size_t pq_chunk_estimate_tokens(const char *s);
size_t pq_chunk_estimate_tokens_n(const char *s, size_t len);

/* Joins texts[0..n) into one request text in the format above.
 * Returns PQ_OK with *out malloc'd (caller frees); PQ_ERR for NULL
 * arguments or n == 0; PQ_CHUNK_ERR_COLLIDE; PQ_ERR_TOOBIG; PQ_ERR_NOMEM. */
int pq_chunk_join(const char *const *texts, size_t n, char **out);

/* Splits an answer into exactly `expected` parts, each trimmed of
 * surrounding whitespace. For expected == 1 the answer need not carry a
 * marker (a lone leading "<<<1>>>" line is removed) and may be empty (the
 * "empty" check judges it). Returns PQ_OK with *out_parts a malloc'd array
 * of `expected` malloc'd strings and *n_out == expected (free with
 * pq_chunk_free_strings); PQ_CHUNK_ERR_MARKERS; PQ_ERR for NULL arguments or
 * expected == 0; PQ_ERR_TOOBIG; PQ_ERR_NOMEM. On error *out_parts = NULL and
 * *n_out = 0. `found` (may be NULL) receives the markers seen, for logs. */
int pq_chunk_split(const char *answer, size_t expected, char ***out_parts, size_t *n_out);
int pq_chunk_split_ex(const char *answer, size_t expected, char ***out_parts, size_t *n_out,
                      size_t *found);

/* Frees an array of n malloc'd strings (NULL entries allowed) and the array. */
void pq_chunk_free_strings(char **v, size_t n);

/* ---- planning ------------------------------------------------------------ */

/* A piece is a whole segment, or part of a segment too large for the budget
 * (cut at a sentence end 。！？；.!?; or, failing that, at a clause comma,
 * a space, or any character boundary outside a placeholder). */
struct pq_chunk_piece {
  size_t segment;   /* index into the caller's segment array */
  size_t offset;    /* byte offset of the piece within its segment */
  size_t len;       /* bytes; leading/trailing whitespace excluded */
  size_t tokens;    /* pq_chunk_estimate_tokens_n of the piece */
  int continuation; /* 1: continues the previous piece of the same segment */
};

/* A chunk (one request) is a run of consecutive pieces. */
struct pq_chunk_span {
  size_t first;  /* index of its first piece */
  size_t count;  /* pieces in it, >= 1 */
  size_t tokens; /* estimate, markers included; <= budget unless one piece is a
                    single placeholder or character larger than the budget */
};

struct pq_chunk_plan {
  struct pq_chunk_piece *pieces;
  size_t n_pieces;
  struct pq_chunk_span *chunks;
  size_t n_chunks;
  size_t n_segments; /* as passed to pq_chunk_plan */
};

/* Plans segments[0..n) (masked, NUL-terminated) into chunks of at most
 * `budget` estimated tokens, in order. Whitespace-only segments get no piece
 * (the worker gives them ""). Fills *plan (free with
 * pq_chunk_plan_free, which accepts a zeroed or freed plan). Returns PQ_OK;
 * PQ_ERR for NULL arguments or budget < PQ_CHUNK_MIN_BUDGET; PQ_ERR_NOMEM. */
int pq_chunk_plan(const char *const *segments, size_t n, size_t budget, struct pq_chunk_plan *plan);
void pq_chunk_plan_free(struct pq_chunk_plan *plan);

/* The request text of chunk `chunk` of the plan (pq_chunk_join of its
 * pieces). Same returns as pq_chunk_join, plus PQ_ERR for a bad index. */
int pq_chunk_plan_join(const struct pq_chunk_plan *plan, const char *const *segments, size_t chunk,
                       char **out);

#endif
