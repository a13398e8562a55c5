/* Math/markup masking and verified restoring (rules in paperq/mask.h).
 * One left-to-right scan per text; closers are searched forward, and a
 * failed search is remembered per delimiter kind so that hostile input
 * ("\( \( \( ..." with no closer) stays linear instead of quadratic. */
#include "paperq/mask.h"
#include "paperq/buf.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX_MAX 12          /* letters; 26^12 candidates, never reached */
#define ARENA_MAX (256u << 20) /* originals kept per struct pq_mask */
#define CMD_ARG_MAX 4096       /* a \cite{...} longer than this is broken text */
#define CMD_OPT_MAX 256        /* a [..] option of \cite longer than this: text */

struct mask_item {
  size_t off; /* into arena */
  size_t len;
  enum pq_mask_kind kind;
};

struct pq_mask {
  char prefix[PREFIX_MAX + 1];
  size_t prefix_len; /* 0 until the first apply fixes it */
  struct mask_item *items;
  size_t n_items, cap_items;
  struct pq_buf arena; /* original bytes of every item, back to back */
  size_t n_math, n_ref;
};

static const char *const env_names[] = {"equation", "align",       "gather",
                                        "multline", "eqnarray",    "flalign",
                                        "alignat",  "displaymath", "math"};
#define N_ENV (sizeof env_names / sizeof env_names[0])

static const char *const ref_cmds[] = {
    "cite",     "citep",     "citet",    "citealp",  "citealt", "citeauthor",
    "citeyear", "parencite", "textcite", "autocite", "ref",     "eqref",
    "pageref",  "autoref",   "cref",     "Cref",     "label",   "url"};
#define N_REF (sizeof ref_cmds / sizeof ref_cmds[0])

/* Memo slots for failed closer searches: \(, \[, $$, then one per
 * environment name, plain and starred. */
enum { MEMO_PAREN, MEMO_BRACKET, MEMO_DOLLAR2, MEMO_ENV0, MEMO_N = MEMO_ENV0 + 2 * N_ENV };

int pq_mask_new(struct pq_mask **out) {
  struct pq_mask *m;
  if (!out)
    return PQ_ERR;
  *out = NULL;
  m = calloc(1, sizeof *m);
  if (!m)
    return PQ_ERR_NOMEM;
  pq_buf_init(&m->arena, ARENA_MAX);
  *out = m;
  return PQ_OK;
}

void pq_mask_free(struct pq_mask *m) {
  if (!m)
    return;
  pq_buf_free(&m->arena);
  free(m->items);
  free(m);
}

size_t pq_mask_count(const struct pq_mask *m, enum pq_mask_kind kind) {
  if (!m)
    return 0;
  switch (kind) {
  case PQ_MASK_MATH:
    return m->n_math;
  case PQ_MASK_REF:
    return m->n_ref;
  default:
    return m->n_items;
  }
}

const char *pq_mask_prefix(const struct pq_mask *m) { return m ? m->prefix : ""; }

static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Parses "[[" LETTERS DIGITS "]]" at s. Returns the token length or 0; the
 * letters are s[2..2+*nlet), the digits follow them. */
static size_t parse_token(const char *s, size_t len, size_t *nlet, size_t *ndig) {
  size_t i = 2, l, d;
  if (len < 6 || s[0] != '[' || s[1] != '[')
    return 0;
  while (i < len && is_upper(s[i]))
    i++;
  l = i - 2;
  while (i < len && is_digit(s[i]))
    i++;
  d = i - 2 - l;
  if (l == 0 || d == 0 || i + 2 > len || s[i] != ']' || s[i + 1] != ']')
    return 0;
  if (nlet)
    *nlet = l;
  if (ndig)
    *ndig = d;
  return i + 2;
}

size_t pq_mask_token_len(const char *s, size_t len) {
  return s ? parse_token(s, len, NULL, NULL) : 0;
}

/* ---- prefix choice ---------------------------------------------------- */

/* Counts, per letter, the occurrences of "[[" prefix LETTER in the texts.
 * Hand-rolled rather than strstr in a loop: sanitizer interceptors make
 * each strstr call O(strlen), which turns "[[M[[M[[M..." quadratic. */
static void count_followers(const char *const *texts, size_t n, const char *prefix, size_t plen,
                            size_t counts[26]) {
  size_t t, i;
  memset(counts, 0, 26 * sizeof counts[0]);
  for (t = 0; t < n; t++) {
    const char *s = texts[t];
    size_t len = strlen(s);
    for (i = 0; i + 2 + plen < len; i++) {
      if (s[i] == '[' && s[i + 1] == '[' && memcmp(s + i + 2, prefix, plen) == 0 &&
          is_upper(s[i + 2 + plen]))
        counts[s[i + 2 + plen] - 'A']++;
    }
  }
}

/* Picks the shortest prefix such that "[[" prefix occurs in no text: "M"
 * when free, else the first free letter, else extends by the rarest letter
 * (each step divides the occurrences by at least 26, so this ends fast). */
static int choose_prefix(struct pq_mask *m, const char *const *texts, size_t n) {
  char prefix[PREFIX_MAX + 1] = "";
  size_t plen = 0, counts[26];
  for (;;) {
    size_t best = 'M' - 'A', c;
    count_followers(texts, n, prefix, plen, counts);
    if (counts[best] != 0) {
      for (c = 0; c < 26; c++)
        if (counts[c] < counts[best])
          best = c;
    }
    if (plen == PREFIX_MAX)
      return PQ_ERR_TOOBIG;
    prefix[plen++] = (char)('A' + best);
    prefix[plen] = '\0';
    if (counts[best] == 0)
      break;
  }
  memcpy(m->prefix, prefix, plen + 1);
  m->prefix_len = plen;
  return PQ_OK;
}

static int contains_prefix(const char *s, const char *prefix, size_t plen) {
  size_t i, len = strlen(s);
  for (i = 0; i + 2 + plen <= len; i++)
    if (s[i] == '[' && s[i + 1] == '[' && memcmp(s + i + 2, prefix, plen) == 0)
      return 1;
  return 0;
}

/* ---- the scanner ------------------------------------------------------- */

struct brace_index {
  size_t *open, *close; /* positions of '{' in order; close = SIZE_MAX if unmatched */
  size_t n;
  int built;
};

struct scan {
  struct pq_mask *m;
  const char *s;
  size_t len;
  struct pq_buf *out;
  size_t run;                /* start of the literal text not yet copied to out */
  size_t fail_until[MEMO_N]; /* a search of that kind from before here fails */
  struct brace_index bi;
};

/* 1 when s[j] == '\n' starts a blank line ("\n", optional spaces, "\n"). */
static int blank_line_at(const char *s, size_t len, size_t j) {
  size_t k;
  if (s[j] != '\n')
    return 0;
  for (k = j + 1; k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'); k++)
    ;
  return k < len && s[k] == '\n';
}

static int emit(struct scan *sc, size_t start, size_t end, enum pq_mask_kind kind) {
  struct pq_mask *m = sc->m;
  int rc;
  size_t number = m->n_items + 1;
  if (m->n_items >= PQ_MASK_MAX_ITEMS)
    return PQ_ERR_TOOBIG;
  if (m->n_items == m->cap_items) {
    size_t cap = m->cap_items ? m->cap_items * 2 : 64;
    struct mask_item *p = realloc(m->items, cap * sizeof *p);
    if (!p)
      return PQ_ERR_NOMEM;
    m->items = p;
    m->cap_items = cap;
  }
  rc = pq_buf_append(sc->out, sc->s + sc->run, start - sc->run);
  if (!rc)
    rc = pq_buf_printf(sc->out, "[[%s%zu]]", m->prefix, number);
  if (!rc) {
    m->items[m->n_items].off = m->arena.len;
    rc = pq_buf_append(&m->arena, sc->s + start, end - start);
  }
  if (rc)
    return rc;
  m->items[m->n_items].len = end - start;
  m->items[m->n_items].kind = kind;
  m->n_items++;
  if (kind == PQ_MASK_MATH)
    m->n_math++;
  else
    m->n_ref++;
  sc->run = end;
  return PQ_OK;
}

/* Searches for "$" (inline) or "$$" (display) after the opener at i.
 * Returns the end (one past the closer) or 0 when there is no acceptable
 * formula here (no closer before a blank line, empty, or CJK at brace
 * depth 0, i.e. most likely text between two formulas). */
static size_t find_dollar(struct scan *sc, size_t i, int display) {
  const char *s = sc->s;
  size_t len = sc->len, j = i + (display ? 2 : 1), depth = 0;
  int cjk_top = 0, nonspace = 0;
  if (display && i < sc->fail_until[MEMO_DOLLAR2])
    return 0;
  while (j < len) {
    unsigned char c = (unsigned char)s[j];
    if (c == '\\') {
      if (!display && j + 1 < len && s[j + 1] == '$') {
        j += 2; /* "\$" closes inline math in this corpus (see mask.h) */
        goto closed;
      }
      nonspace = 1;
      j += 2;
      continue;
    }
    if (c == '$') {
      if (!display) {
        j += 1;
        goto closed;
      }
      if (j + 1 < len && s[j + 1] == '$') {
        j += 2;
        goto closed;
      }
    } else if (c == '\n' && blank_line_at(s, len, j)) {
      break;
    } else if (c == '{') {
      depth++;
    } else if (c == '}') {
      if (depth > 0)
        depth--;
    } else if (c >= 0x80) {
      uint32_t cp;
      size_t n = pq_text_decode(s + j, len - j, &cp);
      if (depth == 0 && pq_text_is_cjk(cp))
        cjk_top = 1;
      if (!pq_text_is_space(cp))
        nonspace = 1;
      j += n;
      continue;
    }
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
      nonspace = 1;
    j++;
  }
  if (display)
    sc->fail_until[MEMO_DOLLAR2] = j;
  return 0;
closed:
  if (cjk_top || !nonspace)
    return 0;
  return j;
}

/* Searches for "\)" or "\]" after the opener at i; 0 when absent before a
 * blank line. */
static size_t find_bs_delim(struct scan *sc, size_t i, char close, int memo) {
  const char *s = sc->s;
  size_t len = sc->len, j = i + 2;
  if (i < sc->fail_until[memo])
    return 0;
  while (j < len) {
    if (s[j] == '\\') {
      if (j + 1 < len && s[j + 1] == close)
        return j + 2;
      j += 2;
      continue;
    }
    if (s[j] == '\n' && blank_line_at(s, len, j))
      break;
    j++;
  }
  sc->fail_until[memo] = j;
  return 0;
}

/* s[i..] is "\begin{"; returns the end of "\end{NAME}" for a math
 * environment, or 0. */
static size_t find_env(struct scan *sc, size_t i) {
  const char *s = sc->s;
  size_t len = sc->len, p = i + 7, name_start = p, name_len, k, j, memo;
  int star = 0;
  char closer[32];
  while (p < len && is_alpha(s[p]))
    p++;
  name_len = p - name_start;
  if (p < len && s[p] == '*') {
    star = 1;
    p++;
  }
  if (p >= len || s[p] != '}' || name_len == 0)
    return 0;
  for (k = 0; k < N_ENV; k++)
    if (strlen(env_names[k]) == name_len && memcmp(env_names[k], s + name_start, name_len) == 0)
      break;
  if (k == N_ENV)
    return 0;
  memo = MEMO_ENV0 + 2 * k + (size_t)star;
  if (i < sc->fail_until[memo])
    return 0;
  /* closer = "\end{" NAME ["*"] "}", at most 5 + 11 + 2 bytes */
  memcpy(closer, "\\end{", 5);
  memcpy(closer + 5, env_names[k], name_len);
  k = 5 + name_len;
  if (star)
    closer[k++] = '*';
  closer[k++] = '}';
  for (j = p + 1; j < len;) {
    if (s[j] == '\\') {
      if (len - j >= k && memcmp(s + j, closer, k) == 0)
        return j + k;
      j += 2;
      continue;
    }
    j++;
  }
  sc->fail_until[memo] = len;
  return 0;
}

/* Matches every '{' to its '}' once per text (escapes and blank lines
 * respected), so command arguments are found in O(1) each. */
static int brace_index_build(struct scan *sc) {
  const char *s = sc->s;
  size_t len = sc->len, n = 0, j, depth = 0, *stack = NULL;
  int rc = PQ_OK;
  sc->bi.built = 1;
  for (j = 0; j < len; j++) {
    if (s[j] == '\\')
      j++;
    else if (s[j] == '{')
      n++;
  }
  if (n == 0)
    return PQ_OK;
  sc->bi.open = malloc(n * sizeof(size_t));
  sc->bi.close = malloc(n * sizeof(size_t));
  stack = malloc(n * sizeof(size_t));
  if (!sc->bi.open || !sc->bi.close || !stack) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  for (j = 0; j < len; j++) {
    if (s[j] == '\\') {
      j++;
    } else if (s[j] == '{') {
      sc->bi.open[sc->bi.n] = j;
      sc->bi.close[sc->bi.n] = SIZE_MAX;
      stack[depth++] = sc->bi.n++;
    } else if (s[j] == '}') {
      if (depth > 0)
        sc->bi.close[stack[--depth]] = j;
    } else if (s[j] == '\n' && blank_line_at(s, len, j)) {
      depth = 0; /* braces never match across paragraphs */
    }
  }
cleanup:
  free(stack);
  return rc;
}

static size_t brace_close(struct scan *sc, size_t pos) {
  size_t lo = 0, hi = sc->bi.n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sc->bi.open[mid] < pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < sc->bi.n && sc->bi.open[lo] == pos)
    return sc->bi.close[lo];
  return SIZE_MAX;
}

/* s[i] == '\\' and s[i+1..p) is a known command name; returns the end of
 * its argument, or 0 when it has none (then it is text). */
static size_t find_cmd_end(struct scan *sc, size_t p, int *rc) {
  const char *s = sc->s;
  size_t len = sc->len, k, opts, close;
  if (p < len && s[p] == '*')
    p++;
  for (opts = 0; opts < 2; opts++) {
    while (p < len && (s[p] == ' ' || s[p] == '\t'))
      p++;
    if (p >= len || s[p] != '[')
      break;
    for (k = p + 1; k < len && k - p < CMD_OPT_MAX && s[k] != ']' && s[k] != '\n'; k++)
      ;
    if (k >= len || s[k] != ']')
      return 0;
    p = k + 1;
  }
  while (p < len && (s[p] == ' ' || s[p] == '\t'))
    p++;
  if (p >= len || s[p] != '{')
    return 0;
  if (!sc->bi.built) {
    *rc = brace_index_build(sc);
    if (*rc)
      return 0;
  }
  close = brace_close(sc, p);
  if (close == SIZE_MAX || close - p > CMD_ARG_MAX)
    return 0;
  return close + 1;
}

static int is_ref_cmd(const char *name, size_t n) {
  size_t k;
  for (k = 0; k < N_REF; k++)
    if (strlen(ref_cmds[k]) == n && memcmp(ref_cmds[k], name, n) == 0)
      return 1;
  return 0;
}

static int mask_one(struct pq_mask *m, const char *text, char **out_masked) {
  struct pq_buf out;
  struct scan sc;
  size_t i = 0, len = strlen(text), end;
  int rc = PQ_OK;

  *out_masked = NULL;
  if (len > PQ_MASK_MAX_TEXT)
    return PQ_ERR_TOOBIG;
  pq_buf_init(&out, (size_t)PQ_MASK_MAX_TEXT + (size_t)PQ_MASK_MAX_ITEMS * PQ_MASK_TOKEN_MAX);
  memset(&sc, 0, sizeof sc);
  sc.m = m;
  sc.s = text;
  sc.len = len;
  sc.out = &out;

  while (i < len) {
    char c = text[i];
    if (c == '\\' && i + 1 < len) {
      char d = text[i + 1];
      if (d == '(' || d == '[') {
        end = find_bs_delim(&sc, i, d == '(' ? ')' : ']', d == '(' ? MEMO_PAREN : MEMO_BRACKET);
        if (end) {
          rc = emit(&sc, i, end, PQ_MASK_MATH);
          if (rc)
            goto cleanup;
          i = end;
          continue;
        }
      } else if (is_alpha(d)) {
        size_t p = i + 1;
        while (p < len && is_alpha(text[p]))
          p++;
        end = 0;
        if (p - i - 1 == 5 && memcmp(text + i + 1, "begin", 5) == 0 && p < len && text[p] == '{') {
          end = find_env(&sc, i);
          if (end) {
            rc = emit(&sc, i, end, PQ_MASK_MATH);
            if (rc)
              goto cleanup;
          }
        } else if (is_ref_cmd(text + i + 1, p - i - 1)) {
          end = find_cmd_end(&sc, p, &rc);
          if (rc)
            goto cleanup;
          if (end) {
            rc = emit(&sc, i, end, PQ_MASK_REF);
            if (rc)
              goto cleanup;
          }
        }
        i = end ? end : p;
        continue;
      }
      i += 2; /* "\\", "\$", "\{" ...: an escaped pair is text */
      continue;
    }
    if (c == '$') {
      int display = i + 1 < len && text[i + 1] == '$';
      end = find_dollar(&sc, i, display);
      if (end) {
        rc = emit(&sc, i, end, PQ_MASK_MATH);
        if (rc)
          goto cleanup;
        i = end;
        continue;
      }
      if (display) {
        /* A "$$" that opens no display formula is an empty formula: PDF
         * extraction drops arrows ("杂草 $$ 禾草"). Masking it keeps the
         * bytes and keeps stray dollars away from the model. */
        rc = emit(&sc, i, i + 2, PQ_MASK_MATH);
        if (rc)
          goto cleanup;
        i += 2;
        continue;
      }
      i++;
      continue;
    }
    i++;
  }
  rc = pq_buf_append(&out, text + sc.run, len - sc.run);
  if (rc)
    goto cleanup;
  *out_masked = pq_buf_steal(&out);
  if (!*out_masked)
    rc = PQ_ERR_NOMEM;
cleanup:
  free(sc.bi.open);
  free(sc.bi.close);
  pq_buf_free(&out);
  return rc;
}

int pq_mask_apply_many(struct pq_mask *m, const char *const *texts, size_t n, char **out_masked) {
  size_t t, saved_items, saved_arena, saved_math, saved_ref, saved_plen;
  int rc = PQ_OK;

  if (!m || (n && (!texts || !out_masked)))
    return PQ_ERR;
  for (t = 0; t < n; t++)
    out_masked[t] = NULL;
  for (t = 0; t < n; t++) {
    if (!texts[t])
      return PQ_ERR;
    if (strlen(texts[t]) > PQ_MASK_MAX_TEXT)
      return PQ_ERR_TOOBIG;
  }
  saved_items = m->n_items;
  saved_arena = m->arena.len;
  saved_math = m->n_math;
  saved_ref = m->n_ref;
  saved_plen = m->prefix_len;
  if (m->prefix_len == 0) {
    rc = choose_prefix(m, texts, n);
    if (rc)
      goto cleanup;
  } else {
    for (t = 0; t < n; t++) {
      if (contains_prefix(texts[t], m->prefix, m->prefix_len)) {
        rc = PQ_MASK_ERR_COLLIDE;
        goto cleanup;
      }
    }
  }
  for (t = 0; t < n; t++) {
    rc = mask_one(m, texts[t], &out_masked[t]);
    if (rc)
      goto cleanup;
  }
cleanup:
  if (rc) {
    for (t = 0; t < n; t++) {
      free(out_masked[t]);
      out_masked[t] = NULL;
    }
    m->n_items = saved_items;
    m->arena.len = saved_arena;
    m->n_math = saved_math;
    m->n_ref = saved_ref;
    if (saved_plen == 0) {
      m->prefix_len = 0;
      m->prefix[0] = '\0';
    }
  }
  return rc;
}

int pq_mask_apply(struct pq_mask *m, const char *text, char **out_masked) {
  if (!out_masked)
    return PQ_ERR;
  return pq_mask_apply_many(m, &text, 1, out_masked);
}

/* ---- restore ------------------------------------------------------------ */

/* If s[0..len) is one of our tokens, returns its length and sets *number
 * (0 for a malformed number: leading zero or too many digits). */
static size_t our_token(const struct pq_mask *m, const char *s, size_t len, size_t *number) {
  size_t nlet, ndig, tl = parse_token(s, len, &nlet, &ndig), k, v = 0;
  if (!tl || nlet != m->prefix_len || memcmp(s + 2, m->prefix, nlet) != 0)
    return 0;
  *number = 0;
  if (ndig > 9 || s[2 + nlet] == '0')
    return tl;
  for (k = 0; k < ndig; k++)
    v = v * 10 + (size_t)(s[2 + nlet + k] - '0');
  *number = v;
  return tl;
}

static void copy_token(char dst[PQ_MASK_TOKEN_MAX], const char *s, size_t n) {
  if (dst[0])
    return; /* keep the first */
  if (n > PQ_MASK_TOKEN_MAX - 1)
    n = PQ_MASK_TOKEN_MAX - 1;
  memcpy(dst, s, n);
  dst[n] = '\0';
}

static void format_token(const struct pq_mask *m, char dst[PQ_MASK_TOKEN_MAX], size_t number) {
  struct pq_buf b;
  if (dst[0])
    return;
  pq_buf_init(&b, PQ_MASK_TOKEN_MAX - 1);
  if (pq_buf_printf(&b, "[[%s%zu]]", m->prefix, number) == PQ_OK)
    memcpy(dst, b.data, b.len + 1);
  pq_buf_free(&b);
}

int pq_mask_restore(const struct pq_mask *m, const char *sent, const char *translated, char **out,
                    struct pq_mask_report *rep) {
  unsigned char *expect = NULL;
  uint32_t *seen = NULL;
  struct pq_buf b;
  size_t len, i, k, number, tl, run;
  int rc = PQ_OK;

  if (rep)
    memset(rep, 0, sizeof *rep);
  if (!m || !translated || !out || !rep)
    return PQ_ERR;
  *out = NULL;
  pq_buf_init(&b, (size_t)PQ_MASK_MAX_TEXT + m->arena.len);
  len = strlen(translated);
  if (len > PQ_MASK_MAX_TEXT || (sent && strlen(sent) > PQ_MASK_MAX_TEXT))
    return PQ_ERR_TOOBIG;
  expect = calloc(m->n_items + 1, 1);
  seen = calloc(m->n_items + 1, sizeof *seen);
  if (!expect || !seen) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  if (m->prefix_len == 0) {
    /* Nothing was ever masked: no token can be ours. */
  } else if (sent) {
    size_t slen = strlen(sent);
    for (i = 0; i < slen;) {
      tl = sent[i] == '[' ? our_token(m, sent + i, slen - i, &number) : 0;
      if (tl) {
        if (number >= 1 && number <= m->n_items)
          expect[number] = 1;
        i += tl;
      } else {
        i++;
      }
    }
  } else {
    memset(expect + 1, 1, m->n_items);
  }
  for (k = 1; k <= m->n_items; k++)
    rep->expected += expect[k];

  if (m->prefix_len) {
    for (i = 0; i < len;) {
      tl = translated[i] == '[' ? our_token(m, translated + i, len - i, &number) : 0;
      if (!tl) {
        i++;
        continue;
      }
      rep->found++;
      if (number >= 1 && number <= m->n_items && expect[number]) {
        if (seen[number] < UINT32_MAX)
          seen[number]++;
      } else {
        rep->invented++;
        copy_token(rep->first_invented, translated + i, tl);
      }
      i += tl;
    }
  }
  for (k = 1; k <= m->n_items; k++) {
    if (!expect[k])
      continue;
    if (seen[k] == 0) {
      rep->missing++;
      format_token(m, rep->first_missing, k);
    } else if (seen[k] > 1) {
      rep->duplicated++;
      format_token(m, rep->first_duplicated, k);
    }
  }
  if (rep->missing || rep->duplicated || rep->invented) {
    rc = PQ_MASK_ERR_PLACEHOLDER;
    goto cleanup;
  }

  for (i = 0, run = 0; i < len;) {
    tl = (m->prefix_len && translated[i] == '[') ? our_token(m, translated + i, len - i, &number)
                                                 : 0;
    if (!tl) {
      i++;
      continue;
    }
    rc = pq_buf_append(&b, translated + run, i - run);
    if (!rc)
      rc = pq_buf_append(&b, m->arena.data + m->items[number - 1].off, m->items[number - 1].len);
    if (rc)
      goto cleanup;
    rep->restored++;
    i += tl;
    run = i;
  }
  rc = pq_buf_append(&b, translated + run, len - run);
  if (rc)
    goto cleanup;
  *out = pq_buf_steal(&b);
  if (!*out)
    rc = PQ_ERR_NOMEM;
cleanup:
  if (rc)
    rep->restored = 0;
  pq_buf_free(&b);
  free(expect);
  free(seen);
  return rc;
}
