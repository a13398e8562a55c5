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
 * A segment may itself hold marker-shaped lines (a paper can contain a line
 * "<<<2>>>"). They are sent as they are, and the system prompt already asks
 * the model to keep every such line in order. pq_chunk_split is given the
 * texts that were joined, so it knows the exact sequence of marker lines a
 * faithful answer holds (marker k, then text k's own marker-shaped lines,
 * for each k) and matches the answer's marker lines against it one for one:
 * the markers that delimit parts are found by position, never by shape.
 * (docs/architecture.md, "Chunk markers", says why this and not a per-chunk
 * marker form or escaping.)
 *
 * Answer parsing (pq_chunk_split) tolerates what models do to markers:
 * leading/trailing spaces on the marker line, spaces inside ("<<< 2 >>>"),
 * missing or extra blank lines, the paragraph starting on the marker line
 * itself ("<<<2>>> The results..."), CRLF line ends. A marker is only
 * recognised at the start of a line. For two or more texts it does not
 * tolerate: a missing, repeated, renumbered, reordered or extra marker line
 * (the texts' own included), text before the first marker, or a marker with
 * nothing under it where its text was not blank. Those mean paragraphs were merged, dropped or
 * invented, and the caller should retry with smaller chunks. For one text the whole answer is the
 * part: an added "<<<1>>>" line before everything is removed, a marker line the text does not hold
 * is refused, one it holds may be left out. */
#ifndef PAPERQ_CHUNK_H
#define PAPERQ_CHUNK_H

#include <stddef.h>

/* Module return codes, besides PQ_OK / PQ_ERR_* from util.h. */
enum {
  PQ_CHUNK_ERR_MARKERS = -111 /* split: markers missing, extra, out of order, or a part empty */
};

#define PQ_CHUNK_MAX_TEXT (16u * 1024u * 1024u) /* bytes of a joined request or of an answer */
#define PQ_CHUNK_MARKER_TOKENS 4                /* budgeted per segment for its marker line */
#define PQ_CHUNK_MIN_BUDGET 16                  /* smaller budgets are refused (PQ_ERR) */

/* Estimated tokens of a NUL-terminated string (NULL: 0), and of s[0..len). */
size_t pq_chunk_estimate_tokens(const char *s);
size_t pq_chunk_estimate_tokens_n(const char *s, size_t len);

/* Joins texts[0..n) into one request text in the format above.
 * Returns PQ_OK with *out malloc'd (caller frees); PQ_ERR for NULL
 * arguments or n == 0; PQ_ERR_TOOBIG; PQ_ERR_NOMEM. */
int pq_chunk_join(const char *const *texts, size_t n, char **out);

/* What pq_chunk_split_ex saw, for logs and the "markers" check. */
struct pq_chunk_split_info {
  size_t markers_expected; /* marker lines a faithful answer holds: the n markers (none
                              for one text) plus the texts' own marker-shaped lines */
  size_t markers_found;    /* marker lines in the answer */
};

/* Splits the answer to pq_chunk_join(texts, n) into exactly n parts, each
 * trimmed of surrounding whitespace (rules above). texts are borrowed: the
 * same strings that were joined. For n == 1 the answer may be empty (the
 * "empty" check judges it). Returns PQ_OK with *out_parts a malloc'd array
 * of n malloc'd strings and *n_out == n (free with pq_chunk_free_strings);
 * PQ_CHUNK_ERR_MARKERS; PQ_ERR for NULL arguments or n == 0; PQ_ERR_TOOBIG
 * (the answer or the texts over PQ_CHUNK_MAX_TEXT); PQ_ERR_NOMEM. On error
 * *out_parts = NULL and *n_out = 0. `info` may be NULL. */
int pq_chunk_split(const char *answer, const char *const *texts, size_t n, char ***out_parts,
                   size_t *n_out);
int pq_chunk_split_ex(const char *answer, const char *const *texts, size_t n, char ***out_parts,
                      size_t *n_out, struct pq_chunk_split_info *info);

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

/* Splits the answer to chunk `chunk` of the plan into its pieces
 * (pq_chunk_split with the pieces' texts). Same returns as pq_chunk_split,
 * plus PQ_ERR for a bad index. */
int pq_chunk_plan_split(const struct pq_chunk_plan *plan, const char *const *segments, size_t chunk,
                        const char *answer, char ***out_parts, size_t *n_out);

#endif
