/* zh -> en glossary: TSV loading with line-numbered errors, and selection of
 * the entries that occur in a chunk (format and rules in paperq/glossary.h). */
#define _GNU_SOURCE /* memmem */
#include "paperq/glossary.h"
#include "paperq/buf.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pq_glossary {
  char *text;                        /* copy of the file; entries point into it */
  struct pq_glossary_entry *entries; /* sorted: longest zh first, then file order */
  size_t *zh_len;                    /* byte length of each entry's zh, same order */
  size_t n;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (!err || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void pq_glossary_free(struct pq_glossary *g) {
  if (!g)
    return;
  free(g->text);
  free(g->entries);
  free(g->zh_len);
  free(g);
}

size_t pq_glossary_count(const struct pq_glossary *g) { return g ? g->n : 0; }

/* Trims ASCII blanks and U+3000 from both ends of s[0..*len), in place
 * (returns the new start). */
static char *trim_field(char *s, size_t *len) {
  size_t start, tlen;
  pq_text_trim(s, *len, &start, &tlen);
  *len = tlen;
  s[start + tlen] = '\0';
  return s + start;
}

static int entry_cmp(const void *a, const void *b) {
  const struct pq_glossary_entry *x = a, *y = b;
  size_t lx = strlen(x->zh), ly = strlen(y->zh);
  if (lx != ly)
    return lx > ly ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

static int zh_cmp(const void *a, const void *b) {
  const struct pq_glossary_entry *const *x = a, *const *y = b;
  int c = strcmp((*x)->zh, (*y)->zh);
  if (c)
    return c;
  return (*x)->line < (*y)->line ? -1 : (*x)->line > (*y)->line;
}

int pq_glossary_parse(const char *text, size_t len, const char *name, struct pq_glossary **out,
                      char *err, size_t errlen) {
  struct pq_glossary *g = NULL;
  struct pq_glossary_entry **by_zh = NULL;
  size_t cap = 0, line = 0, i = 0, k;
  int rc = PQ_OK;

  if (err && errlen)
    err[0] = '\0';
  if (out)
    *out = NULL;
  if (!text || !out)
    return PQ_ERR;
  if (!name)
    name = "glossary";
  if (len > PQ_GLOSSARY_MAX_FILE) {
    set_err(err, errlen, "%s: file too large (%zu bytes, limit %u)", name, len,
            PQ_GLOSSARY_MAX_FILE);
    return PQ_ERR_TOOBIG;
  }
  g = calloc(1, sizeof *g);
  if (!g || !(g->text = malloc(len + 1))) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  memcpy(g->text, text, len);
  g->text[len] = '\0';

  while (i < len) {
    char *s = g->text + i, *tab, *zh, *en;
    char *nl = memchr(s, '\n', len - i);
    size_t ll = nl ? (size_t)(nl - s) : len - i, zl, el, start, tlen;
    i += ll + 1;
    line++;
    if (ll > 0 && s[ll - 1] == '\r')
      ll--;
    s[ll] = '\0';
    if (memchr(s, '\0', ll)) {
      set_err(err, errlen, "%s:%zu: NUL byte in line", name, line);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    pq_text_trim(s, ll, &start, &tlen);
    if (tlen == 0 || s[start] == '#')
      continue;
    if (ll > PQ_GLOSSARY_MAX_LINE) {
      set_err(err, errlen, "%s:%zu: line too long (%zu bytes, limit %d)", name, line, ll,
              PQ_GLOSSARY_MAX_LINE);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    if (!pq_text_valid_utf8(s, ll)) {
      set_err(err, errlen, "%s:%zu: invalid UTF-8", name, line);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    tab = memchr(s, '\t', ll);
    if (!tab) {
      set_err(err, errlen, "%s:%zu: expected \"zh<TAB>en\" (no tab)", name, line);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    if (memchr(tab + 1, '\t', ll - (size_t)(tab + 1 - s))) {
      set_err(err, errlen, "%s:%zu: expected \"zh<TAB>en\" (more than one tab)", name, line);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    zl = (size_t)(tab - s);
    el = ll - zl - 1;
    zh = trim_field(s, &zl);
    en = trim_field(tab + 1, &el);
    if (zl == 0 || el == 0) {
      set_err(err, errlen, "%s:%zu: empty %s term", name, line, zl == 0 ? "Chinese" : "English");
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    if (g->n == PQ_GLOSSARY_MAX_ENTRIES) {
      set_err(err, errlen, "%s:%zu: too many entries (limit %d)", name, line,
              PQ_GLOSSARY_MAX_ENTRIES);
      rc = PQ_ERR_TOOBIG;
      goto cleanup;
    }
    if (g->n == cap) {
      size_t nc = cap ? cap * 2 : 64;
      struct pq_glossary_entry *ne = realloc(g->entries, nc * sizeof *ne);
      if (!ne) {
        rc = PQ_ERR_NOMEM;
        goto cleanup;
      }
      g->entries = ne;
      cap = nc;
    }
    g->entries[g->n].zh = zh;
    g->entries[g->n].en = en;
    g->entries[g->n].line = line;
    g->n++;
  }

  /* duplicates: sort pointers by zh and compare neighbours */
  if (g->n > 1) {
    by_zh = malloc(g->n * sizeof *by_zh);
    if (!by_zh) {
      rc = PQ_ERR_NOMEM;
      goto cleanup;
    }
    for (k = 0; k < g->n; k++)
      by_zh[k] = &g->entries[k];
    qsort(by_zh, g->n, sizeof *by_zh, zh_cmp);
    for (k = 1; k < g->n; k++) {
      if (strcmp(by_zh[k - 1]->zh, by_zh[k]->zh) == 0) {
        set_err(err, errlen, "%s:%zu: duplicate term \"%s\" (first on line %zu)", name,
                by_zh[k]->line, by_zh[k]->zh, by_zh[k - 1]->line);
        rc = PQ_ERR_PARSE;
        goto cleanup;
      }
    }
  }
  if (g->n)
    qsort(g->entries, g->n, sizeof *g->entries, entry_cmp);
  g->zh_len = calloc(g->n ? g->n : 1, sizeof *g->zh_len);
  if (!g->zh_len) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  for (k = 0; k < g->n; k++)
    g->zh_len[k] = strlen(g->entries[k].zh);
cleanup:
  free(by_zh);
  if (rc) {
    if (rc == PQ_ERR_NOMEM)
      set_err(err, errlen, "%s: out of memory", name);
    pq_glossary_free(g);
    return rc;
  }
  *out = g;
  return PQ_OK;
}

int pq_glossary_load(const char *path, struct pq_glossary **out, char *err, size_t errlen) {
  char *data = NULL;
  size_t len = 0;
  int rc;
  if (err && errlen)
    err[0] = '\0';
  if (out)
    *out = NULL;
  if (!path || !out)
    return PQ_ERR;
  rc = pq_read_file(path, PQ_GLOSSARY_MAX_FILE, &data, &len);
  if (rc == PQ_ERR_TOOBIG) {
    set_err(err, errlen, "%s: file too large (limit %u bytes)", path, PQ_GLOSSARY_MAX_FILE);
    return rc;
  }
  if (rc != PQ_OK) {
    set_err(err, errlen, "%s: cannot read: %s", path, rc == PQ_ERR_IO ? strerror(errno) : "error");
    return rc == PQ_ERR_NOMEM ? rc : PQ_ERR_IO;
  }
  rc = pq_glossary_parse(data, len, path, out, err, errlen);
  free(data);
  return rc;
}

/* memmem is a GNU extension; this is the portable equivalent. */
/* glibc's memmem (two-way) is several times faster than memchr on the first
 * byte here: every CJK character starts with one of six lead bytes, so a
 * first-byte scan stops at almost every character (seen as the worker's top
 * CPU cost in a profile). */
static const char *find_bytes(const char *hay, size_t hlen, const char *needle, size_t nlen) {
  if (nlen == 0 || nlen > hlen)
    return NULL;
  return memmem(hay, hlen, needle, nlen);
}

int pq_glossary_match(const struct pq_glossary *g, const char *text,
                      const struct pq_glossary_entry **out, size_t max, size_t *n_out) {
  unsigned char *covered = NULL;
  size_t len, k, n = 0;

  if (n_out)
    *n_out = 0;
  if (!text || !n_out || (max && !out))
    return PQ_ERR;
  if (!g || g->n == 0 || max == 0)
    return PQ_OK;
  len = strlen(text);
  if (len > PQ_GLOSSARY_MAX_TEXT)
    return PQ_ERR_TOOBIG;
  covered = calloc(len + 1, 1);
  if (!covered)
    return PQ_ERR_NOMEM;
  for (k = 0; k < g->n && n < max; k++) {
    const char *zh = g->entries[k].zh, *p = text, *hit;
    size_t zl = g->zh_len[k], j;
    int fresh = 0;
    while ((hit = find_bytes(p, len - (size_t)(p - text), zh, zl)) != NULL) {
      size_t at = (size_t)(hit - text);
      for (j = 0; j < zl && !fresh; j++)
        if (!covered[at + j])
          fresh = 1;
      p = hit + 1;
    }
    if (!fresh)
      continue;
    out[n++] = &g->entries[k];
    for (p = text; (hit = find_bytes(p, len - (size_t)(p - text), zh, zl)) != NULL; p = hit + zl)
      memset(covered + (hit - text), 1, zl);
  }
  free(covered);
  *n_out = n;
  return PQ_OK;
}

int pq_glossary_prompt(const struct pq_glossary *g, const char *text, size_t max, char **out) {
  const struct pq_glossary_entry **sel = NULL;
  struct pq_buf b;
  size_t n = 0, k;
  int rc;
  if (!out)
    return PQ_ERR;
  *out = NULL;
  if (!text)
    return PQ_ERR;
  if (max > PQ_GLOSSARY_MAX_ENTRIES)
    max = PQ_GLOSSARY_MAX_ENTRIES;
  pq_buf_init(&b, (size_t)PQ_GLOSSARY_MAX_FILE * 2);
  sel = calloc(max ? max : 1, sizeof *sel);
  if (!sel)
    return PQ_ERR_NOMEM;
  rc = pq_glossary_match(g, text, sel, max, &n);
  if (!rc && n)
    rc = pq_buf_append_str(&b, "Glossary (use these English terms):\n");
  for (k = 0; !rc && k < n; k++)
    rc = pq_buf_printf(&b, "- %s: %s\n", sel[k]->zh, sel[k]->en);
  if (!rc) {
    *out = pq_buf_steal(&b);
    if (!*out)
      rc = PQ_ERR_NOMEM;
  }
  pq_buf_free(&b);
  free(sel);
  return rc;
}
