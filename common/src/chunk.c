/* Token-budgeted chunking and marker-based joining/splitting of segments
 * (formats and tolerances in paperq/chunk.h). */
#include "paperq/chunk.h"
#include "paperq/buf.h"
#include "paperq/mask.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- estimate ------------------------------------------------------------ */

/* Running estimate: wide codepoints count one each, other bytes 1/4. */
struct est {
  size_t wide, narrow_bytes;
};

static size_t est_tokens(const struct est *e) { return e->wide + (e->narrow_bytes + 3) / 4; }

/* Advances over one unit at s[i] (a placeholder token or one codepoint),
 * adding it to *e; returns its length in bytes. */
static size_t est_unit(const char *s, size_t len, size_t i, struct est *e) {
  uint32_t cp;
  size_t n;
  if (s[i] == '[') {
    n = pq_mask_token_len(s + i, len - i);
    if (n) {
      e->narrow_bytes += n;
      return n;
    }
  }
  n = pq_text_decode(s + i, len - i, &cp);
  if (cp >= 0x2E80 && !(cp == PQ_TEXT_REPLACEMENT && n == 1))
    e->wide++;
  else
    e->narrow_bytes += n;
  return n;
}

size_t pq_chunk_estimate_tokens_n(const char *s, size_t len) {
  struct est e = {0, 0};
  size_t i = 0;
  if (!s)
    return 0;
  while (i < len)
    i += est_unit(s, len, i, &e);
  return est_tokens(&e);
}

size_t pq_chunk_estimate_tokens(const char *s) {
  return s ? pq_chunk_estimate_tokens_n(s, strlen(s)) : 0;
}

/* ---- markers -------------------------------------------------------------- */

/* If a marker starts the line at s[0..len) (after optional blanks), returns
 * its number (> 0) and sets *after to the offset just past ">>>" and the
 * blanks after it; else returns 0. Numbers above 1e6 do not count. */
static size_t marker_at(const char *s, size_t len, size_t *after) {
  size_t i = 0, num = 0, digits = 0;
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (len - i < 7 || memcmp(s + i, "<<<", 3) != 0)
    return 0;
  i += 3;
  while (i < len && s[i] == ' ')
    i++;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    if (++digits > 6)
      return 0;
    num = num * 10 + (size_t)(s[i] - '0');
    i++;
  }
  while (i < len && s[i] == ' ')
    i++;
  if (digits == 0 || num == 0 || len - i < 3 || memcmp(s + i, ">>>", 3) != 0)
    return 0;
  i += 3;
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  *after = i;
  return num;
}

/* A marker line: its number, where its line starts, and where its text
 * starts (just past ">>>" and the blanks after it). */
struct mark {
  size_t num, line, after;
};

/* A growable list of marker lines. */
struct marks {
  struct mark *v;
  size_t n, cap;
};

static int marks_push(struct marks *m, size_t num, size_t line, size_t after) {
  if (m->n == m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 16;
    struct mark *nv = realloc(m->v, nc * sizeof *nv);
    if (!nv)
      return PQ_ERR_NOMEM;
    m->v = nv;
    m->cap = nc;
  }
  m->v[m->n++] = (struct mark){num, line, after};
  return PQ_OK;
}

/* Appends the marker lines of s[0..len) to *m, in order. */
static int scan_marks(const char *s, size_t len, struct marks *m) {
  size_t i = 0, after, num;
  while (i < len) {
    const char *nl = memchr(s + i, '\n', len - i);
    size_t eol = nl ? (size_t)(nl - s) : len;
    num = marker_at(s + i, eol - i, &after);
    if (num && marks_push(m, num, i, i + after) != PQ_OK)
      return PQ_ERR_NOMEM;
    i = eol + 1;
  }
  return PQ_OK;
}

int pq_chunk_join(const char *const *texts, size_t n, char **out) {
  struct pq_buf b;
  size_t k;
  int rc = PQ_OK;
  if (!out)
    return PQ_ERR;
  *out = NULL;
  if (!texts || n == 0)
    return PQ_ERR;
  for (k = 0; k < n; k++)
    if (!texts[k])
      return PQ_ERR;
  pq_buf_init(&b, PQ_CHUNK_MAX_TEXT);
  if (n == 1) {
    rc = pq_buf_append_str(&b, texts[0]);
  } else {
    /* A text may hold marker-shaped lines of its own: pq_chunk_split is
     * given the texts and expects them where they are. */
    for (k = 0; k < n && rc == PQ_OK; k++) {
      rc = pq_buf_printf(&b, "%s<<<%zu>>>\n", k ? "\n\n" : "", k + 1);
      if (rc == PQ_OK)
        rc = pq_buf_append_str(&b, texts[k]);
    }
  }
  if (rc == PQ_OK) {
    *out = pq_buf_steal(&b);
    if (!*out)
      rc = PQ_ERR_NOMEM;
  }
  pq_buf_free(&b);
  return rc;
}

void pq_chunk_free_strings(char **v, size_t n) {
  size_t k;
  if (!v)
    return;
  for (k = 0; k < n; k++)
    free(v[k]);
  free(v);
}

static char *dup_trimmed(const char *s, size_t len) {
  size_t start, tlen;
  char *p;
  pq_text_trim(s, len, &start, &tlen);
  p = malloc(tlen + 1);
  if (!p)
    return NULL;
  memcpy(p, s + start, tlen);
  p[tlen] = '\0';
  return p;
}

static int is_blank(const char *s, size_t len) {
  size_t start, tlen;
  pq_text_trim(s, len, &start, &tlen);
  return tlen == 0;
}

/* 1 if the numbers of got[from..] appear, in order, among those of want. */
static int is_subsequence(const struct marks *got, size_t from, const struct marks *want) {
  size_t j = 0;
  for (size_t i = from; i < got->n; i++) {
    while (j < want->n && want->v[j].num != got->v[i].num)
      j++;
    if (j == want->n)
      return 0;
    j++;
  }
  return 1;
}

int pq_chunk_split_ex(const char *answer, const char *const *texts, size_t n, char ***out_parts,
                      size_t *n_out, struct pq_chunk_split_info *info) {
  struct marks want = {NULL, 0, 0}, got = {NULL, 0, 0};
  size_t *real = NULL; /* per part: index in want (and got) of its marker */
  size_t len, k, total = 0, from = 0;
  char **parts = NULL;
  int rc = PQ_OK;

  if (info)
    info->markers_expected = info->markers_found = 0;
  if (out_parts)
    *out_parts = NULL;
  if (n_out)
    *n_out = 0;
  if (!answer || !texts || !out_parts || !n_out || n == 0)
    return PQ_ERR;
  for (k = 0; k < n; k++) {
    if (!texts[k])
      return PQ_ERR;
    total += strlen(texts[k]);
  }
  len = strlen(answer);
  if (len > PQ_CHUNK_MAX_TEXT || total > PQ_CHUNK_MAX_TEXT)
    return PQ_ERR_TOOBIG;
  real = calloc(n, sizeof *real);
  parts = calloc(n, sizeof *parts);
  if (!real || !parts) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  /* What a faithful answer holds: marker k, then the marker-shaped lines of
   * text k, for every k (one text is sent without a marker). */
  for (k = 0; k < n && rc == PQ_OK; k++) {
    real[k] = want.n;
    if (n > 1)
      rc = marks_push(&want, k + 1, 0, 0);
    if (rc == PQ_OK)
      rc = scan_marks(texts[k], strlen(texts[k]), &want);
  }
  if (rc == PQ_OK)
    rc = scan_marks(answer, len, &got);
  if (rc)
    goto cleanup;
  if (info) {
    info->markers_expected = want.n;
    info->markers_found = got.n;
  }

  if (n == 1) {
    /* The whole answer is the part: nothing to delimit. A marker-shaped line
     * of the text the model left out costs nothing; one it made up is
     * refused, except a "<<<1>>>" line before everything, which is removed. */
    if (!is_subsequence(&got, 0, &want)) {
      if (got.n && got.v[0].num == 1 && is_blank(answer, got.v[0].line) &&
          is_subsequence(&got, 1, &want))
        from = got.v[0].after;
      else
        rc = PQ_CHUNK_ERR_MARKERS;
    }
    if (rc == PQ_OK && !(parts[0] = dup_trimmed(answer + from, len - from)))
      rc = PQ_ERR_NOMEM;
    goto cleanup;
  }

  /* Several parts: the answer's marker lines must be the expected ones, one
   * for one, in order, with only whitespace before the first. Then marker k
   * is the one at real[k], wherever the texts' own lines fall. */
  if (got.n != want.n || !is_blank(answer, got.n ? got.v[0].line : len)) {
    rc = PQ_CHUNK_ERR_MARKERS;
    goto cleanup;
  }
  for (k = 0; k < got.n; k++)
    if (got.v[k].num != want.v[k].num) {
      rc = PQ_CHUNK_ERR_MARKERS;
      goto cleanup;
    }
  for (k = 0; k < n; k++) {
    size_t b = got.v[real[k]].after, e = k + 1 < n ? got.v[real[k + 1]].line : len;
    if (e < b)
      e = b;
    /* a marker with nothing under it, where something was sent */
    if (is_blank(answer + b, e - b) && !is_blank(texts[k], strlen(texts[k]))) {
      rc = PQ_CHUNK_ERR_MARKERS;
      goto cleanup;
    }
    parts[k] = dup_trimmed(answer + b, e - b);
    if (!parts[k]) {
      rc = PQ_ERR_NOMEM;
      goto cleanup;
    }
  }
cleanup:
  if (rc == PQ_OK) {
    *out_parts = parts;
    *n_out = n;
  } else {
    pq_chunk_free_strings(parts, n);
  }
  free(real);
  free(want.v);
  free(got.v);
  return rc;
}

int pq_chunk_split(const char *answer, const char *const *texts, size_t n, char ***out_parts,
                   size_t *n_out) {
  return pq_chunk_split_ex(answer, texts, n, out_parts, n_out, NULL);
}

/* ---- planning ------------------------------------------------------------- */

enum cut_class { CUT_NONE, CUT_CHAR, CUT_SPACE, CUT_CLAUSE, CUT_SENTENCE };

static int is_closer(uint32_t cp) {
  /* closing quotes and brackets that belong to the sentence before a cut */
  return cp == 0x201D || cp == 0x2019 || cp == 0x300D || cp == 0x300F || cp == 0xFF09 ||
         cp == ')' || cp == '"' || cp == '\'' || cp == 0x3011;
}

/* Finds where to end a piece that starts at s[start] and must stay within
 * max_tokens: the last sentence end that fits, else the last clause
 * comma, else the last space, else the last character boundary. Always
 * returns > start: one unit larger than the budget is taken whole. */
static size_t cut_point(const char *s, size_t len, size_t start, size_t max_tokens) {
  size_t best[CUT_SENTENCE + 1] = {0}, i = start, n, k;
  struct est e = {0, 0};
  int c;
  while (i < len) {
    uint32_t cp = 0;
    size_t at = i;
    n = est_unit(s, len, i, &e);
    if (est_tokens(&e) > max_tokens)
      break;
    i += n;
    if (n == 1 || s[at] != '[' || !pq_mask_token_len(s + at, len - at))
      pq_text_decode(s + at, len - at, &cp);
    best[CUT_CHAR] = i;
    if (cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F || cp == 0xFF1B || cp == '\n' ||
        ((cp == '.' || cp == '!' || cp == '?' || cp == ';') &&
         (i >= len || s[i] == ' ' || s[i] == '\n' || s[i] == '\t'))) {
      /* keep closing quotes/brackets with their sentence, if they fit */
      size_t j = i;
      struct est e2 = e;
      while (j < len) {
        uint32_t q;
        size_t m = pq_text_decode(s + j, len - j, &q);
        if (!is_closer(q))
          break;
        est_unit(s, len, j, &e2);
        if (est_tokens(&e2) > max_tokens)
          break;
        j += m;
      }
      best[CUT_SENTENCE] = j;
    } else if (cp == 0xFF0C || cp == 0x3001 || cp == 0xFF1A ||
               ((cp == ',' || cp == ':') && (i >= len || s[i] == ' '))) {
      best[CUT_CLAUSE] = i;
    } else if (pq_text_is_space(cp)) {
      best[CUT_SPACE] = at;
    }
  }
  if (i >= len)
    return len;
  for (c = CUT_SENTENCE; c >= CUT_CHAR; c--)
    if (best[c] > start)
      return best[c];
  /* The first unit alone is over the budget: take it anyway. */
  e.wide = e.narrow_bytes = 0;
  k = est_unit(s, len, start, &e);
  return start + k;
}

static int push_piece(struct pq_chunk_plan *p, size_t *cap, size_t seg, const char *s, size_t off,
                      size_t len, int cont) {
  struct pq_chunk_piece *pc;
  if (p->n_pieces == *cap) {
    size_t nc = *cap ? *cap * 2 : 32;
    struct pq_chunk_piece *np = realloc(p->pieces, nc * sizeof *np);
    if (!np)
      return PQ_ERR_NOMEM;
    p->pieces = np;
    *cap = nc;
  }
  pc = &p->pieces[p->n_pieces++];
  pc->segment = seg;
  pc->offset = off;
  pc->len = len;
  pc->tokens = pq_chunk_estimate_tokens_n(s + off, len);
  pc->continuation = cont;
  return PQ_OK;
}

void pq_chunk_plan_free(struct pq_chunk_plan *plan) {
  if (!plan)
    return;
  free(plan->pieces);
  free(plan->chunks);
  memset(plan, 0, sizeof *plan);
}

int pq_chunk_plan(const char *const *segments, size_t n, size_t budget,
                  struct pq_chunk_plan *plan) {
  size_t cap = 0, k, piece_max, total;
  int rc = PQ_OK;

  if (!plan)
    return PQ_ERR;
  memset(plan, 0, sizeof *plan);
  if ((n && !segments) || budget < PQ_CHUNK_MIN_BUDGET)
    return PQ_ERR;
  plan->n_segments = n;
  /* A piece must fit in a chunk together with its marker. */
  piece_max = budget - PQ_CHUNK_MARKER_TOKENS;

  for (k = 0; k < n; k++) {
    const char *s = segments[k];
    size_t len, start, tlen, pos, end;
    int cont = 0;
    if (!s) {
      rc = PQ_ERR;
      goto cleanup;
    }
    len = strlen(s);
    pq_text_trim(s, len, &start, &tlen);
    pos = start;
    end = start + tlen;
    while (pos < end) {
      size_t cut = cut_point(s, end, pos, piece_max), ps, pl;
      pq_text_trim(s + pos, cut - pos, &ps, &pl);
      if (pl) {
        rc = push_piece(plan, &cap, k, s, pos + ps, pl, cont);
        if (rc)
          goto cleanup;
        cont = 1;
      }
      pos = cut;
    }
  }

  /* Group consecutive pieces greedily. */
  plan->chunks = calloc(plan->n_pieces ? plan->n_pieces : 1, sizeof *plan->chunks);
  if (!plan->chunks) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  for (k = 0; k < plan->n_pieces; k++) {
    size_t t = plan->pieces[k].tokens + PQ_CHUNK_MARKER_TOKENS;
    struct pq_chunk_span *cur = plan->n_chunks ? &plan->chunks[plan->n_chunks - 1] : NULL;
    total = cur ? cur->tokens + t : t;
    if (cur && total <= budget) {
      cur->count++;
      cur->tokens = total;
    } else {
      cur = &plan->chunks[plan->n_chunks++];
      cur->first = k;
      cur->count = 1;
      cur->tokens = t;
    }
  }
cleanup:
  if (rc)
    pq_chunk_plan_free(plan);
  return rc;
}

/* The texts of chunk `chunk`'s pieces, malloc'd (free with
 * pq_chunk_free_strings(*texts, count)). */
static int plan_texts(const struct pq_chunk_plan *plan, const char *const *segments, size_t chunk,
                      char ***texts_out, size_t *count) {
  const struct pq_chunk_span *c;
  char **texts;
  size_t k;
  *texts_out = NULL;
  *count = 0;
  if (!plan || !segments || chunk >= plan->n_chunks)
    return PQ_ERR;
  c = &plan->chunks[chunk];
  texts = calloc(c->count, sizeof *texts);
  if (!texts)
    return PQ_ERR_NOMEM;
  for (k = 0; k < c->count; k++) {
    const struct pq_chunk_piece *pc = &plan->pieces[c->first + k];
    texts[k] = malloc(pc->len + 1);
    if (!texts[k]) {
      pq_chunk_free_strings(texts, c->count);
      return PQ_ERR_NOMEM;
    }
    memcpy(texts[k], segments[pc->segment] + pc->offset, pc->len);
    texts[k][pc->len] = '\0';
  }
  *texts_out = texts;
  *count = c->count;
  return PQ_OK;
}

int pq_chunk_plan_join(const struct pq_chunk_plan *plan, const char *const *segments, size_t chunk,
                       char **out) {
  char **texts;
  size_t count;
  int rc;
  if (!out)
    return PQ_ERR;
  *out = NULL;
  rc = plan_texts(plan, segments, chunk, &texts, &count);
  if (rc == PQ_OK)
    rc = pq_chunk_join((const char *const *)texts, count, out);
  pq_chunk_free_strings(texts, count);
  return rc;
}

int pq_chunk_plan_split(const struct pq_chunk_plan *plan, const char *const *segments, size_t chunk,
                        const char *answer, char ***out_parts, size_t *n_out) {
  char **texts;
  size_t count;
  int rc;
  if (out_parts)
    *out_parts = NULL;
  if (n_out)
    *n_out = 0;
  rc = plan_texts(plan, segments, chunk, &texts, &count);
  if (rc == PQ_OK)
    rc = pq_chunk_split(answer, (const char *const *)texts, count, out_parts, n_out);
  pq_chunk_free_strings(texts, count);
  return rc;
}
