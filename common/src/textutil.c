/* UTF-8 decoding and character classes for the translation modules.
 * Decoding follows the Unicode "maximal subpart" spirit but simpler: any
 * malformed sequence consumes exactly one byte, so scanning always advances
 * and byte-for-byte copies of the input stay exact. */
#include "paperq/textutil.h"

#include <stdio.h>
#include <string.h>

size_t pq_text_decode(const char *s, size_t len, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  uint32_t c, min;
  size_t need, i;

  if (len == 0) {
    *cp = 0;
    return 0;
  }
  c = u[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
    c &= 0x1F;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    c &= 0x0F;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    c &= 0x07;
    min = 0x10000;
  } else {
    goto bad; /* continuation byte, C0/C1 overlong lead, or F5..FF */
  }
  if (len < need)
    goto bad;
  for (i = 1; i < need; i++) {
    if ((u[i] & 0xC0) != 0x80)
      goto bad;
    c = (c << 6) | (u[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    goto bad;
  *cp = c;
  return need;
bad:
  *cp = PQ_TEXT_REPLACEMENT;
  return 1;
}

int pq_text_valid_utf8(const char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    if ((unsigned char)s[i] < 0x80) { /* ASCII: most of the JSON around the text */
      i++;
      continue;
    }
    uint32_t cp;
    size_t n = pq_text_decode(s + i, len - i, &cp);
    /* A literal U+FFFD in the input is valid; a decode failure is 1 byte. */
    if (cp == PQ_TEXT_REPLACEMENT && n == 1)
      return 0;
    i += n;
  }
  return 1;
}

int pq_text_is_cjk(uint32_t cp) {
  if (cp < 0x1100)
    return 0;
  return (cp >= 0x4E00 && cp <= 0x9FFF)      /* CJK Unified Ideographs */
         || (cp >= 0x3400 && cp <= 0x4DBF)   /* Extension A */
         || (cp >= 0x20000 && cp <= 0x323AF) /* Extensions B..H, compat supplement */
         || (cp >= 0xF900 && cp <= 0xFAFF)   /* Compatibility Ideographs */
         || (cp >= 0x2E80 && cp <= 0x2FDF)   /* radicals (supplement + Kangxi) */
         || cp == 0x3005 || cp == 0x3007     /* 々 〇 */
         || (cp >= 0x3040 && cp <= 0x30FF)   /* hiragana, katakana */
         || (cp >= 0x31F0 && cp <= 0x31FF)   /* katakana phonetic extensions */
         || (cp >= 0xFF66 && cp <= 0xFF9D)   /* half-width katakana */
         || (cp >= 0x3100 && cp <= 0x312F)   /* bopomofo */
         || (cp >= 0x31A0 && cp <= 0x31BF)   /* bopomofo extended */
         || (cp >= 0xAC00 && cp <= 0xD7AF)   /* hangul syllables */
         || (cp >= 0x1100 && cp <= 0x11FF)   /* hangul jamo */
         || (cp >= 0x3130 && cp <= 0x318F);  /* hangul compatibility jamo */
}

int pq_text_is_space(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

int pq_text_is_punct(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
           (cp >= 0x7B && cp <= 0x7E);
  if (cp >= 0xA1 && cp <= 0xBF)
    return cp != 0xAA && cp != 0xB2 && cp != 0xB3 && cp != 0xB5 && cp != 0xB9 && cp != 0xBA &&
           cp != 0xBC && cp != 0xBD && cp != 0xBE; /* ª ² ³ µ ¹ º ¼ ½ ¾ are letters/numbers */
  if (cp == 0xD7 || cp == 0xF7)
    return 1;
  if (cp >= 0x2010 && cp <= 0x205E)
    return !pq_text_is_space(cp); /* General Punctuation: dashes, quotes, ‰, … */
  if (cp >= 0x3000 && cp <= 0x303F)
    return cp != 0x3000 && cp != 0x3005 && cp != 0x3007; /* 、。「」【】 etc. */
  if (cp >= 0xFE30 && cp <= 0xFE4F)
    return 1;                       /* CJK compatibility forms (vertical punctuation) */
  if (cp >= 0xFF01 && cp <= 0xFF65) /* full-width ASCII punctuation, not letters/digits */
    return !((cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A) ||
             (cp >= 0xFF41 && cp <= 0xFF5A));
  return 0;
}

void pq_text_count(const char *s, size_t len, struct pq_text_counts *out) {
  size_t i = 0;
  out->chars = out->spaces = out->punct = out->letters = out->cjk = 0;
  while (i < len) {
    uint32_t cp;
    i += pq_text_decode(s + i, len - i, &cp);
    out->chars++;
    if (pq_text_is_space(cp)) {
      out->spaces++;
    } else if (pq_text_is_punct(cp)) {
      out->punct++;
    } else {
      out->letters++;
      if (pq_text_is_cjk(cp))
        out->cjk++;
    }
  }
}

static size_t cstr_len(const char *s) {
  size_t n = 0;
  if (!s)
    return 0;
  while (s[n])
    n++;
  return n;
}

size_t pq_text_count_cjk(const char *s) {
  struct pq_text_counts c;
  pq_text_count(s ? s : "", cstr_len(s), &c);
  return c.cjk;
}

size_t pq_text_count_letters(const char *s) {
  struct pq_text_counts c;
  pq_text_count(s ? s : "", cstr_len(s), &c);
  return c.letters;
}

void pq_text_trim(const char *s, size_t len, size_t *start, size_t *out_len) {
  size_t b = 0, e = len;
  while (b < e) {
    uint32_t cp;
    size_t n = pq_text_decode(s + b, e - b, &cp);
    if (!pq_text_is_space(cp))
      break;
    b += n;
  }
  /* Walk back to the start of the last codepoint: skip continuation bytes,
   * at most 3, then decode forward to see whether it is whitespace. */
  while (e > b) {
    size_t k = e - 1, n;
    uint32_t cp;
    while (k > b && e - k < 4 && ((unsigned char)s[k] & 0xC0) == 0x80)
      k--;
    n = pq_text_decode(s + k, e - k, &cp);
    if (k + n != e) { /* the tail was not one whole sequence: keep it */
      break;
    }
    if (!pq_text_is_space(cp))
      break;
    e = k;
  }
  *start = b;
  *out_len = e - b;
}

size_t pq_text_escape(const char *s, size_t len, char *out, size_t outlen) {
  size_t o = 0;
  if (outlen == 0)
    return 0;
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    size_t n = 0, used = 1;
    if (c == '\n' || c == '\r' || c == '\t') {
      esc[0] = '\\';
      esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      n = 2;
    } else if (c < 0x20 || c == 0x7f) {
      n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
    } else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
               (unsigned char)s[i + 1] <= 0x9f) {
      n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)s[i + 1]);
      used = 2;
    } else {
      uint32_t cp;
      used = pq_text_decode(s + i, len - i, &cp); /* keep multi-byte characters whole */
      if (used == 0)
        used = 1;
      memcpy(esc, s + i, used < sizeof esc ? used : 1);
      n = used < sizeof esc ? used : 1;
    }
    if (o + n >= outlen)
      break;
    memcpy(out + o, esc, n);
    o += n;
    i += used;
  }
  out[o] = '\0';
  return o;
}

const char *pq_text_safe(const char *s) {
  static _Thread_local char bufs[8][4096];
  static _Thread_local unsigned next;
  char *b = bufs[next++ & 7];
  if (!s)
    s = "";
  pq_text_escape(s, strlen(s), b, sizeof bufs[0]);
  return b;
}
