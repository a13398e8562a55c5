/* IA description -> abstract (rules in paperq/clean.h). Works on bytes:
 * the markers are UTF-8 literals, and everything else is copied verbatim. */
#include "paperq/clean.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOT_FOUND SIZE_MAX

/* Trailing metadata fields: the abstract never continues past them. */
static const char *const trailing[] = {"来自", "分类", "引用", "DOI", "CSTR"};
#define N_TRAILING (sizeof trailing / sizeof trailing[0])

/* Skips ASCII blanks, NBSP and the ideographic space at s[i..len). */
static size_t skip_blanks(const char *s, size_t len, size_t i) {
  for (;;) {
    if (i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
    else if (len - i >= 2 && (unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xA0)
      i += 2;
    else if (len - i >= 3 && memcmp(s + i, "\xe3\x80\x80", 3) == 0)
      i += 3;
    else
      return i;
  }
}

static int ascii_ieq(const char *a, const char *b, size_t n) {
  size_t k;
  for (k = 0; k < n; k++) {
    char x = a[k], y = b[k];
    if (x >= 'a' && x <= 'z')
      x = (char)(x - 32);
    if (y >= 'a' && y <= 'z')
      y = (char)(y - 32);
    if (x != y)
      return 0;
  }
  return 1;
}

/* If s[i..] is NAME, blanks, ":" or "：", returns the offset after the
 * colon, else NOT_FOUND. ASCII names match case-insensitively ("doi:"). */
static size_t marker_end(const char *s, size_t len, size_t i, const char *name) {
  size_t n = strlen(name), j;
  if (len - i < n || !ascii_ieq(s + i, name, n))
    return NOT_FOUND;
  /* "DOI" must not be the tail of a longer ASCII word */
  if (i > 0 && ((s[i - 1] >= 'A' && s[i - 1] <= 'Z') || (s[i - 1] >= 'a' && s[i - 1] <= 'z')) &&
      (name[0] & 0x80) == 0)
    return NOT_FOUND;
  j = skip_blanks(s, len, i + n);
  if (j < len && s[j] == ':')
    return j + 1;
  if (len - j >= 3 && memcmp(s + j, "\xef\xbc\x9a", 3) == 0)
    return j + 3;
  return NOT_FOUND;
}

/* First marker NAME in s[from..to): its start, and *end after its colon. */
static size_t find_first(const char *s, size_t to, size_t from, const char *name, size_t *end) {
  size_t i, e;
  for (i = from; i < to; i++) {
    e = marker_end(s, to, i, name);
    if (e != NOT_FOUND) {
      if (end)
        *end = e;
      return i;
    }
  }
  return NOT_FOUND;
}

static size_t find_last(const char *s, size_t to, size_t from, const char *name) {
  size_t i, found = NOT_FOUND, e;
  for (i = from; i < to; i++) {
    e = marker_end(s, to, i, name);
    if (e != NOT_FOUND) {
      found = i;
      i = e - 1;
    }
  }
  return found;
}

/* Earliest trailing marker in s[from..to), or `to`. */
static size_t first_trailing(const char *s, size_t to, size_t from) {
  size_t k, best = to;
  for (k = 0; k < N_TRAILING; k++) {
    size_t p = find_first(s, best, from, trailing[k], NULL);
    if (p != NOT_FOUND && p < best)
      best = p;
  }
  return best;
}

/* After "作者：" with the abstract straight after: skips the run of short
 * space-separated names (at most 8 codepoints, no punctuation each). */
static size_t skip_names(const char *s, size_t len, size_t i) {
  for (;;) {
    size_t j = skip_blanks(s, len, i), t = j, cps = 0;
    int punct = 0;
    while (t < len) {
      uint32_t cp;
      size_t n = pq_text_decode(s + t, len - t, &cp);
      if (pq_text_is_space(cp))
        break;
      if (pq_text_is_punct(cp) && cp != '.' && cp != '-')
        punct = 1;
      cps++;
      t += n;
    }
    if (t == j || cps > 8 || punct || t >= len)
      return j;
    i = t;
  }
}

/* Skips a date/time value such as "2016-01-01" or "2016-01-01 12:00:00". */
static size_t skip_date(const char *s, size_t len, size_t i) {
  i = skip_blanks(s, len, i);
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == ':' || s[i] == '.' ||
                       s[i] == '/' || s[i] == 'T' || s[i] == 'Z' || s[i] == '+'))
      i++;
    {
      size_t j = skip_blanks(s, len, i);
      if (j < len && s[j] >= '0' && s[j] <= '9' && j > i)
        i = j;
      else
        break;
    }
  }
  return i;
}

int pq_clean_ia_abstract(const char *description, char **out) {
  const char *s = description;
  size_t len, start, end, m_end, p, tstart, tlen;

  if (out)
    *out = NULL;
  if (!s || !out)
    return PQ_ERR;
  len = strlen(s);
  if (len > PQ_CLEAN_MAX_INPUT)
    return PQ_ERR_TOOBIG;

  p = find_first(s, len, 0, "摘要", &m_end);
  if (p != NOT_FOUND) {
    start = m_end;
    end = find_last(s, len, start, "来自");
    if (end == NOT_FOUND)
      end = first_trailing(s, len, start);
  } else {
    start = 0;
    p = find_first(s, len, 0, "作者", &m_end);
    if (p != NOT_FOUND) {
      size_t next = first_trailing(s, len, m_end);
      size_t sub = find_first(s, next, m_end, "提交时间", NULL);
      start = sub != NOT_FOUND ? sub : skip_names(s, len, m_end);
    }
    p = find_first(s, len, start, "提交时间", &m_end);
    if (p != NOT_FOUND && first_trailing(s, len, start) > p)
      start = skip_date(s, len, m_end);
    end = first_trailing(s, len, start);
  }
  pq_text_trim(s + start, end - start, &tstart, &tlen);
  *out = malloc(tlen + 1);
  if (!*out)
    return PQ_ERR_NOMEM;
  memcpy(*out, s + start + tstart, tlen);
  (*out)[tlen] = '\0';
  return PQ_OK;
}
