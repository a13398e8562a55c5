/* UTF-8 helpers shared by the translation modules (mask, chunk, checks,
 * clean, pinyin, glossary): decoding that never stalls or reads past the end
 * on invalid bytes, the "is this still Chinese?" test, and the character
 * counts that the checks and the token estimate are built on.
 * All functions are pure: no allocation, no I/O. */
#ifndef PAPERQ_TEXTUTIL_H
#define PAPERQ_TEXTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* What an invalid byte decodes to. */
#define PQ_TEXT_REPLACEMENT 0xFFFDu

/* Decodes the codepoint at s[0..len). Returns the number of bytes consumed:
 * 0 only when len == 0; 1 for an invalid, overlong, surrogate, out-of-range
 * or truncated sequence, in which case *cp = PQ_TEXT_REPLACEMENT. Callers
 * that copy bytes verbatim therefore stay byte-exact even on invalid input. */
size_t pq_text_decode(const char *s, size_t len, uint32_t *cp);

/* 1 when s[0..len) is entirely valid UTF-8, else 0. */
int pq_text_valid_utf8(const char *s, size_t len);

/* 1 for text a translation must not leave behind: CJK ideographs (URO,
 * extensions A-H, compatibility ideographs, radicals, 々 and 〇), kana,
 * bopomofo and hangul. Punctuation (，。「」 full-width forms) is NOT CJK. */
int pq_text_is_cjk(uint32_t cp);

/* Unicode whitespace: ASCII space/tab/CR/LF/VT/FF, NBSP, U+1680,
 * U+2000..U+200A, U+2028/2029, U+202F, U+205F, U+3000 (ideographic space)
 * and U+FEFF (BOM). */
int pq_text_is_space(uint32_t cp);

/* Punctuation and symbols that are not letters: ASCII punctuation, Latin-1
 * punctuation, General Punctuation, CJK Symbols and Punctuation (except 々
 * and 〇), CJK compatibility forms, and full-width punctuation. */
int pq_text_is_punct(uint32_t cp);

/* Counts over s[0..len), in codepoints (an invalid byte counts as one). */
struct pq_text_counts {
  size_t chars;   /* every codepoint */
  size_t spaces;  /* pq_text_is_space */
  size_t punct;   /* pq_text_is_punct */
  size_t letters; /* chars - spaces - punct: letters, digits, symbols, CJK */
  size_t cjk;     /* pq_text_is_cjk, a subset of letters */
};
void pq_text_count(const char *s, size_t len, struct pq_text_counts *out);

/* Shorthands for NUL-terminated strings (NULL counts as empty). */
size_t pq_text_count_cjk(const char *s);
size_t pq_text_count_letters(const char *s);

/* Narrows s[0..len) to exclude leading and trailing Unicode whitespace:
 * *start is the offset of the first kept byte, *out_len the kept length
 * (0 when everything is whitespace). */
void pq_text_trim(const char *s, size_t len, size_t *start, size_t *out_len);

/* Copies s[0..len) into out (always NUL-terminated, cut to outlen - 1 bytes
 * at a character boundary) with control characters escaped, so untrusted
 * text (provider errors, event fields, ids) printed to a terminal or a log
 * line can neither move the cursor nor split the line: newline -> \n,
 * CR -> \r, tab -> \t, other C0, DEL and C1 (U+0080..U+009F) -> \xNN or
 * \u00NN, a backslash stays a backslash. Returns the bytes written. */
size_t pq_text_escape(const char *s, size_t len, char *out, size_t outlen);

/* The same for a NUL-terminated string, into one of 8 rotating per-thread
 * buffers of 4 KB (so several can be used in one printf; longer text is cut).
 * NULL gives "". The result is valid until 8 more calls. */
const char *pq_text_safe(const char *s);

#endif
