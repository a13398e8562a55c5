/* Math and markup masking: before a text goes to the LLM, every formula and
 * every \cite/\ref-like command is replaced by a numbered placeholder; after,
 * the placeholders are put back and verified, so formulas come back byte for
 * byte and a model that drops, repeats or invents one is caught.
 *
 * Placeholder token: "[[" PREFIX NUMBER "]]", e.g. [[M1]], [[M2]] ... NUMBER
 * is decimal, from 1, without leading zeros, and runs on across every text
 * masked with the same struct pq_mask (one per paper), so a model that moves
 * a placeholder into another paragraph is caught too. PREFIX is "M" unless
 * some masked text already contains "[[M"; then the first letter A..Z whose
 * "[[<letter>" never occurs is used, and, should all 26 occur, more letters
 * are appended until "[[" PREFIX occurs nowhere in the input. The mapping is
 * therefore always unambiguous. Chunk markers (chunk.h) use <<< >>> and
 * cannot be mistaken for placeholders.
 *
 * What is masked (one placeholder each, scanning left to right):
 *   $$...$$, $...$, \(...\), \[...\],
 *   \begin{E}...\end{E} for E in equation, align, gather, multline, eqnarray,
 *     flalign, alignat, displaymath, math (each also starred),
 *   \cite \citep \citet \citealp \citealt \citeauthor \citeyear \parencite
 *   \textcite \autocite \ref \eqref \pageref \autoref \cref \Cref \label \url,
 *     with optional *, up to two [..] options and one balanced {..} argument.
 * Rules for text that is not well formed (the input comes out of PDFs):
 *   - "\\" is a literal backslash pair; "\$" outside math is an escaped
 *     dollar and never opens math.
 *   - Inside $...$, a "\$" CLOSES the formula (the backslash stays inside it).
 *     MinerU writes formulas like "$P { < } 0 . 0 5 \$": 105 such in
 *     records.jsonl, against no literal dollar inside math.
 *   - $...$, $$...$$, \(...\) and \[...\] never cross a blank line; a
 *     delimiter with no closer before the next blank line (or the end) is
 *     left as text. So an odd "$" cannot swallow the rest of a paragraph.
 *   - A $...$ or $$...$$ candidate holding a CJK ideograph outside braces
 *     (e.g. "$5，而 $") is taken to be text between two formulas, not a
 *     formula: its opening "$" stays text and scanning resumes after it.
 *     This resynchronises after a stray "$". (CJK inside braces, as in
 *     $\text{温度}$, is allowed.)
 *   - A "$$" that opens no display formula is masked on its own as an empty
 *     formula: PDF extraction drops arrows ("杂草 $$ 禾草", 3 in the data).
 *   - Environments may span blank lines; a \begin{E} without \end{E} is text.
 *   - A command without its {argument} is text.
 * Whatever is not masked is copied verbatim, invalid UTF-8 included, so
 * restore(mask(x)) == x byte for byte for every input. */
#ifndef PAPERQ_MASK_H
#define PAPERQ_MASK_H

#include <stddef.h>

/* Module return codes, besides PQ_OK / PQ_ERR_* from util.h. */
enum {
  PQ_MASK_ERR_PLACEHOLDER = -101, /* restore: a placeholder is missing, duplicated or invented */
  PQ_MASK_ERR_COLLIDE = -102      /* apply: text contains "[[" PREFIX chosen by an earlier call */
};

#define PQ_MASK_MAX_TEXT (16u * 1024u * 1024u) /* bytes per text handed to apply/restore */
#define PQ_MASK_MAX_ITEMS 200000u              /* placeholders per struct pq_mask */
#define PQ_MASK_TOKEN_MAX 48                   /* room for any token plus NUL */

enum pq_mask_kind {
  PQ_MASK_MATH = 1, /* a formula: $..$, $$..$$, \(..\), \[..\], equation environments */
  PQ_MASK_REF = 2,  /* \cite, \ref, \label, \url and friends */
  PQ_MASK_ANY = 3   /* for pq_mask_count */
};

struct pq_mask; /* opaque: the placeholder prefix and the masked originals */

/* Verdict of pq_mask_restore. Tokens are copied (NUL-terminated, truncated
 * to PQ_MASK_TOKEN_MAX - 1 bytes); "" when there is none. */
struct pq_mask_report {
  size_t expected;   /* distinct placeholders that had to come back */
  size_t found;      /* placeholder-shaped tokens with our prefix in the translation */
  size_t restored;   /* placeholders replaced by their original (0 on failure) */
  size_t missing;    /* expected, absent from the translation */
  size_t duplicated; /* expected, present more than once */
  size_t invented;   /* our prefix but a number not expected here (unknown, out of
                        this text, or with leading zeros) */
  char first_missing[PQ_MASK_TOKEN_MAX];
  char first_duplicated[PQ_MASK_TOKEN_MAX];
  char first_invented[PQ_MASK_TOKEN_MAX];
};

/* Creates an empty mask context. PQ_OK or PQ_ERR_NOMEM. Free with
 * pq_mask_free (accepts NULL). */
int pq_mask_new(struct pq_mask **out);
void pq_mask_free(struct pq_mask *m);

/* Masks texts[0..n) (each NUL-terminated), writing n malloc'd masked strings
 * into out_masked[0..n) (caller frees each with free()). Choosing the prefix
 * looks at all n texts, so mask a whole paper in one call when possible.
 * Returns PQ_OK; PQ_ERR on NULL arguments; PQ_ERR_TOOBIG when a text exceeds
 * PQ_MASK_MAX_TEXT or the items PQ_MASK_MAX_ITEMS; PQ_ERR_NOMEM;
 * PQ_MASK_ERR_COLLIDE when an earlier call fixed a prefix this text contains.
 * On error out_masked[] is all NULL and m is unchanged. */
int pq_mask_apply_many(struct pq_mask *m, const char *const *texts, size_t n, char **out_masked);

/* pq_mask_apply_many for one text. */
int pq_mask_apply(struct pq_mask *m, const char *text, char **out_masked);

/* Restores a translation. `sent` is the masked text that was sent (what
 * pq_mask_apply returned, or any concatenation of those): each placeholder in
 * it must appear exactly once in `translated`. With sent == NULL every
 * placeholder of m is expected. `rep` (required) is always filled.
 * Returns PQ_OK with *out a malloc'd restored string; PQ_MASK_ERR_PLACEHOLDER
 * with *out = NULL when anything is missing, duplicated or invented;
 * PQ_ERR on NULL arguments; PQ_ERR_TOOBIG; PQ_ERR_NOMEM. */
int pq_mask_restore(const struct pq_mask *m, const char *sent, const char *translated, char **out,
                    struct pq_mask_report *rep);

/* Items masked so far, of one kind or PQ_MASK_ANY ("formulas checked"). */
size_t pq_mask_count(const struct pq_mask *m, enum pq_mask_kind kind);

/* The placeholder prefix ("M" usually; "" before the first apply). Borrowed. */
const char *pq_mask_prefix(const struct pq_mask *m);

/* Length of a placeholder-shaped token ("[[" + A-Z letters + digits + "]]",
 * any prefix) starting at s[0..len), or 0. For code that must ignore
 * placeholders, e.g. the length-ratio check. */
size_t pq_mask_token_len(const char *s, size_t len);

#endif
