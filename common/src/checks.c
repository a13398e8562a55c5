/* Answer checks (rules and defaults in paperq/checks.h). Pure functions
 * over two strings; no allocation except for the placeholder comparison. */
#include "paperq/checks.h"
#include "paperq/buf.h"
#include "paperq/mask.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[PQ_CHECK_COUNT] = {
    "none",    "finish_reason", "empty",     "refusal",
    "markers", "placeholders",  "cjk_ratio", "length_ratio",
};

const char *pq_checks_name(int check) {
  if (check < 0 || check >= PQ_CHECK_COUNT)
    return "unknown";
  return names[check];
}

const char *pq_check_name(int check) { return pq_checks_name(check); }

void pq_checks_default_opts(struct pq_check_opts *o) {
  if (!o)
    return;
  o->max_cjk_ratio = 0.001;
  o->min_length_ratio = 0.5;
  o->max_length_ratio = 12.0;
  o->short_source_chars = 20;
}

static void set_failed(struct pq_check_result *r, enum pq_check c) {
  r->failed_mask |= 1u << c;
  if (r->failed == PQ_CHECK_NONE || c < r->failed)
    r->failed = c;
}

/* Writes the detail sentence for the first failed check (called last). */
static void set_detail(struct pq_check_result *r) {
  const struct pq_check_opts *o = &r->opts;
  struct pq_buf b;
  int rc = PQ_OK;
  pq_buf_init(&b, sizeof r->detail - 1);
  switch (r->failed) {
  case PQ_CHECK_NONE:
    break;
  case PQ_CHECK_FINISH_REASON:
    rc = pq_buf_printf(&b, "finish_reason is \"%s\": the answer was cut off", r->finish_reason);
    break;
  case PQ_CHECK_EMPTY:
    rc = pq_buf_printf(&b, "the answer is empty");
    break;
  case PQ_CHECK_REFUSAL:
    rc = pq_buf_printf(&b, "the answer is a refusal");
    break;
  case PQ_CHECK_MARKERS:
    rc = pq_buf_printf(&b, "paragraph markers: expected %zu, found %zu (or out of order/empty)",
                       r->markers_expected, r->markers_found);
    break;
  case PQ_CHECK_PLACEHOLDERS:
    rc = pq_buf_printf(&b, "placeholders: %zu expected, %zu missing, %zu duplicated, %zu invented",
                       r->placeholders_expected, r->placeholders_missing,
                       r->placeholders_duplicated, r->placeholders_invented);
    break;
  case PQ_CHECK_CJK_RATIO:
    rc = pq_buf_printf(&b, "cjk_ratio %.4f > %.4f (%zu CJK of %zu letters left untranslated)",
                       r->cjk_ratio, o->max_cjk_ratio, r->output_cjk, r->output_letters);
    break;
  case PQ_CHECK_LENGTH_RATIO:
    rc =
        pq_buf_printf(&b, "length_ratio %.2f outside [%.2f, %.2f] (%zu chars for %zu source chars)",
                      r->length_ratio, o->min_length_ratio, o->max_length_ratio, r->output_chars,
                      r->source_chars);
    break;
  default:
    break;
  }
  if (rc == PQ_OK && b.len) {
    memcpy(r->detail, b.data, b.len + 1);
  } else if (r->failed != PQ_CHECK_NONE) {
    /* the sentence did not fit: the name alone still says which check */
    size_t n = strlen(pq_checks_name((int)r->failed));
    memcpy(r->detail, pq_checks_name((int)r->failed), n + 1);
  }
  pq_buf_free(&b);
}

/* Counts non-space codepoints, letters and CJK outside placeholder tokens. */
static void count_text(const char *s, size_t *chars, size_t *letters, size_t *cjk) {
  size_t len = strlen(s), i = 0;
  *chars = *letters = *cjk = 0;
  while (i < len) {
    uint32_t cp;
    size_t n;
    if (s[i] == '[' && (n = pq_mask_token_len(s + i, len - i)) != 0) {
      i += n;
      continue;
    }
    i += pq_text_decode(s + i, len - i, &cp);
    if (pq_text_is_space(cp))
      continue;
    (*chars)++;
    if (!pq_text_is_punct(cp)) {
      (*letters)++;
      if (pq_text_is_cjk(cp))
        (*cjk)++;
    }
  }
}

static const char *const refusals[] = {
    "i'm sorry", "i am sorry",          "sorry,",     "sorry but",        "i cannot",
    "i can't",   "i can not",           "i'm unable", "i am unable",      "i apologize",
    "as an ai",  "as a language model", "i won't",    "unfortunately, i",
};

/* Lower-cases ASCII and folds the typographic apostrophe (U+2019) to "'"
 * of the first bytes of s after whitespace, quotes and '*'; writes at most
 * n - 1 bytes. */
static void refusal_head(const char *s, char *out, size_t n) {
  size_t len = strlen(s), i = 0, o = 0;
  while (i < len) {
    uint32_t cp;
    size_t k = pq_text_decode(s + i, len - i, &cp);
    if (!pq_text_is_space(cp) && cp != '"' && cp != '*' && cp != 0x201C && cp != '\'')
      break;
    i += k;
  }
  while (i < len && o + 1 < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
        (unsigned char)s[i + 2] == 0x99) {
      out[o++] = '\'';
      i += 3;
      continue;
    }
    out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    i++;
  }
  out[o] = '\0';
}

static int is_refusal(const char *s) {
  char head[64];
  size_t k;
  refusal_head(s, head, sizeof head);
  for (k = 0; k < sizeof refusals / sizeof refusals[0]; k++)
    if (strncmp(head, refusals[k], strlen(refusals[k])) == 0)
      return 1;
  return 0;
}

/* ---- placeholders as multisets ------------------------------------------ */

struct tok {
  const char *p;
  size_t len;
};

static int tok_cmp(const void *a, const void *b) {
  const struct tok *x = a, *y = b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->p, y->p, x->len);
}

static int collect_tokens(const char *s, struct tok **out, size_t *n) {
  size_t len = strlen(s), i, cap = 0, tl;
  struct tok *v = NULL;
  *out = NULL;
  *n = 0;
  for (i = 0; i < len;) {
    if (s[i] != '[' || (tl = pq_mask_token_len(s + i, len - i)) == 0) {
      i++;
      continue;
    }
    if (*n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      struct tok *nv = realloc(v, nc * sizeof *nv);
      if (!nv) {
        free(v);
        return PQ_ERR_NOMEM;
      }
      v = nv;
      cap = nc;
    }
    v[*n].p = s + i;
    v[(*n)++].len = tl;
    i += tl;
  }
  if (*n > 1)
    qsort(v, *n, sizeof *v, tok_cmp);
  *out = v;
  return PQ_OK;
}

/* Walks the two sorted lists like a merge, counting each distinct token. */
static int compare_placeholders(const char *source, const char *output, struct pq_check_result *r) {
  struct tok *a = NULL, *b = NULL;
  size_t na, nb, i = 0, j = 0;
  int rc = collect_tokens(source, &a, &na);
  if (!rc)
    rc = collect_tokens(output, &b, &nb);
  if (rc)
    goto cleanup;
  r->placeholders_expected = na;
  while (i < na || j < nb) {
    int c;
    size_t ca = 0, cb = 0;
    const struct tok *t;
    if (i >= na)
      c = 1;
    else if (j >= nb)
      c = -1;
    else
      c = tok_cmp(&a[i], &b[j]);
    t = c <= 0 ? &a[i] : &b[j];
    while (i < na && tok_cmp(&a[i], t) == 0) {
      i++;
      ca++;
    }
    while (j < nb && tok_cmp(&b[j], t) == 0) {
      j++;
      cb++;
    }
    if (ca == 0)
      r->placeholders_invented += cb;
    else if (cb < ca)
      r->placeholders_missing += ca - cb;
    else if (cb > ca)
      r->placeholders_duplicated += cb - ca;
  }
cleanup:
  free(a);
  free(b);
  return rc;
}

int pq_checks_run(const struct pq_check_opts *opts, const char *source, const char *output,
                  const char *finish_reason, struct pq_check_result *r) {
  struct pq_check_opts def;
  size_t src_letters, src_cjk, floor_chars;
  int rc;

  if (!r)
    return PQ_ERR;
  memset(r, 0, sizeof *r);
  r->placeholders_ok = 1;
  r->markers_ok = 1;
  if (!source || !output)
    return PQ_ERR;
  if (!opts) {
    pq_checks_default_opts(&def);
    opts = &def;
  }
  r->opts = *opts;

  if (finish_reason) {
    size_t n = strlen(finish_reason);
    if (n >= sizeof r->finish_reason)
      n = sizeof r->finish_reason - 1;
    memcpy(r->finish_reason, finish_reason, n);
    r->finish_reason[n] = '\0';
    if (strcmp(finish_reason, "length") == 0 || strcmp(finish_reason, "content_filter") == 0)
      set_failed(r, PQ_CHECK_FINISH_REASON);
  }

  count_text(source, &r->source_chars, &src_letters, &src_cjk);
  count_text(output, &r->output_chars, &r->output_letters, &r->output_cjk);
  {
    size_t st, sl, ot, ol;
    pq_text_trim(source, strlen(source), &st, &sl);
    pq_text_trim(output, strlen(output), &ot, &ol);
    if (ol == 0 && sl != 0) {
      r->empty = 1;
      set_failed(r, PQ_CHECK_EMPTY);
    }
  }

  if (is_refusal(output) && !is_refusal(source)) {
    r->refusal = 1;
    set_failed(r, PQ_CHECK_REFUSAL);
  }

  rc = compare_placeholders(source, output, r);
  if (rc)
    return rc;
  if (r->placeholders_missing || r->placeholders_duplicated || r->placeholders_invented) {
    r->placeholders_ok = 0;
    set_failed(r, PQ_CHECK_PLACEHOLDERS);
  }

  r->cjk_ratio = r->output_letters ? (double)r->output_cjk / (double)r->output_letters : 0.0;
  if (r->cjk_ratio > opts->max_cjk_ratio)
    set_failed(r, PQ_CHECK_CJK_RATIO);

  if (r->source_chars) {
    r->length_ratio = (double)r->output_chars / (double)r->source_chars;
    floor_chars =
        r->source_chars > opts->short_source_chars ? r->source_chars : opts->short_source_chars;
    if (!r->empty && ((r->source_chars >= opts->short_source_chars &&
                       r->length_ratio < opts->min_length_ratio) ||
                      (double)r->output_chars > opts->max_length_ratio * (double)floor_chars))
      set_failed(r, PQ_CHECK_LENGTH_RATIO);
  }
  set_detail(r);
  return (int)r->failed;
}

void pq_checks_note_markers(struct pq_check_result *r, int ok, size_t expected, size_t found) {
  if (!r)
    return;
  r->markers_checked = 1;
  r->markers_ok = ok ? 1 : 0;
  r->markers_expected = expected;
  r->markers_found = found;
  if (!ok) {
    set_failed(r, PQ_CHECK_MARKERS);
    r->detail[0] = '\0';
    set_detail(r);
  }
}

void pq_checks_note_restore(struct pq_check_result *r, const struct pq_mask_report *rep) {
  if (!r || !rep)
    return;
  if (rep->missing || rep->duplicated || rep->invented) {
    /* keep the larger of the two opinions on each count */
    if (rep->missing > r->placeholders_missing)
      r->placeholders_missing = rep->missing;
    if (rep->duplicated > r->placeholders_duplicated)
      r->placeholders_duplicated = rep->duplicated;
    if (rep->invented > r->placeholders_invented)
      r->placeholders_invented = rep->invented;
    if (rep->expected > r->placeholders_expected)
      r->placeholders_expected = rep->expected;
    r->placeholders_ok = 0;
    set_failed(r, PQ_CHECK_PLACEHOLDERS);
    r->detail[0] = '\0';
    set_detail(r);
  }
}
