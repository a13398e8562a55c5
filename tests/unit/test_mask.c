/* Masking: every pattern, the malformed input PDFs produce, placeholder
 * collisions, restore verdicts, and a byte-exact round trip over every
 * abstract and body block of the real ChinaXiv data. */
#include "paperq/mask.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <time.h>

/* Masks one text in a fresh context; returns the masked string (caller
 * frees) and the item count in *n. */
static char *mask1(const char *text, size_t *n) {
  struct pq_mask *m = NULL;
  char *out = NULL;
  if (pq_mask_new(&m) != PQ_OK)
    return NULL;
  if (pq_mask_apply(m, text, &out) != PQ_OK)
    out = NULL;
  if (n)
    *n = pq_mask_count(m, PQ_MASK_ANY);
  pq_mask_free(m);
  return out;
}

/* Masks, restores with the identity translation, and checks the result. */
static int round_trip(const char *text, size_t *items) {
  struct pq_mask *m = NULL;
  struct pq_mask_report rep;
  char *masked = NULL, *back = NULL;
  int ok = 0;
  if (pq_mask_new(&m) != PQ_OK)
    return 0;
  if (pq_mask_apply(m, text, &masked) != PQ_OK)
    goto cleanup;
  if (pq_mask_restore(m, masked, masked, &back, &rep) != PQ_OK)
    goto cleanup;
  ok = strcmp(back, text) == 0 && rep.restored == pq_mask_count(m, PQ_MASK_ANY) &&
       rep.expected == rep.restored;
  if (items)
    *items = pq_mask_count(m, PQ_MASK_MATH);
cleanup:
  free(masked);
  free(back);
  pq_mask_free(m);
  return ok;
}

static void expect_mask(const char *text, const char *want, size_t want_n, int line) {
  size_t n = 0;
  char *got = mask1(text, &n);
  pq_test_checks++;
  if (!got || strcmp(got, want) != 0 || n != want_n) {
    pq_test_failures++;
    fprintf(stderr,
            "test_mask.c:%d: mask(\"%s\")\n  got:  \"%s\" (%zu items)\n  want: \"%s\" (%zu)\n",
            line, text, got ? got : "(null)", n, want, want_n);
  }
  CHECK(round_trip(text, NULL));
  free(got);
}
#define EXPECT_MASK(text, want, n) expect_mask(text, want, n, __LINE__)

static void test_patterns(void) {
  EXPECT_MASK("a $x^2$ b", "a [[M1]] b", 1);
  EXPECT_MASK("a $$x^2$$ b", "a [[M1]] b", 1);
  EXPECT_MASK("a \\(x^2\\) b", "a [[M1]] b", 1);
  EXPECT_MASK("a \\[x^2\\] b", "a [[M1]] b", 1);
  EXPECT_MASK("式\\begin{equation}E=mc^2\\end{equation}中", "式[[M1]]中", 1);
  EXPECT_MASK("\\begin{equation*}a\\end{equation*}", "[[M1]]", 1);
  EXPECT_MASK("\\begin{align}a&=b\\\\c&=d\\end{align}", "[[M1]]", 1);
  EXPECT_MASK("\\begin{align*}a\\end{align*}", "[[M1]]", 1);
  EXPECT_MASK("\\begin{gather}a\\end{gather} \\begin{gather*}b\\end{gather*}", "[[M1]] [[M2]]", 2);
  EXPECT_MASK("\\begin{multline}a\\end{multline}", "[[M1]]", 1);
  EXPECT_MASK("\\begin{eqnarray}a\\end{eqnarray}", "[[M1]]", 1);
  /* an environment may span a blank line; a non-math one is text */
  EXPECT_MASK("\\begin{align}a\n\nb\\end{align}", "[[M1]]", 1);
  EXPECT_MASK("\\begin{itemize}x\\end{itemize}", "\\begin{itemize}x\\end{itemize}", 0);
  /* a starred closer does not close the plain environment */
  EXPECT_MASK("\\begin{align}a\\end{align*}", "\\begin{align}a\\end{align*}", 0);
  EXPECT_MASK("见\\cite{smith2020}。", "见[[M1]]。", 1);
  EXPECT_MASK("见\\citep[p.~5]{a,b}和\\citet{c}", "见[[M1]]和[[M2]]", 2);
  EXPECT_MASK("\\citep[see][ch. 2]{k}", "[[M1]]", 1);
  EXPECT_MASK("图\\ref{fig:1}，式\\eqref{eq:2}\\label{sec:a}", "图[[M1]]，式[[M2]][[M3]]", 3);
  EXPECT_MASK("\\url{https://x.org/a_b?c=1%20}", "[[M1]]", 1);
  EXPECT_MASK("\\cite*{a}", "[[M1]]", 1);
  /* a longer command name is not \ref; a command without argument is text */
  EXPECT_MASK("\\references{x} \\refx{y}", "\\references{x} \\refx{y}", 0);
  EXPECT_MASK("\\cite and \\ref", "\\cite and \\ref", 0);
  /* nested braces inside $...$ */
  EXPECT_MASK("比例 $\\frac{a}{b^{2}}$ 为", "比例 [[M1]] 为", 1);
  EXPECT_MASK("\\cite{a{b}c}d", "[[M1]]d", 1);
  /* $ inside \( \) is content; \( inside $ $ too */
  EXPECT_MASK("\\(a $ b\\) c", "[[M1]] c", 1);
  EXPECT_MASK("$a \\( b$ c", "[[M1]] c", 1);
  /* adjacent formulas */
  EXPECT_MASK("$a$$b$", "[[M1]][[M2]]", 2);
  EXPECT_MASK("$a$ $b$", "[[M1]] [[M2]]", 2);
  /* a real abstract fragment */
  EXPECT_MASK("对吊罗山 $2 4 5 { \\sim } 1 1 3 0 \\mathrm { ~ m }$ 海拔内",
              "对吊罗山 [[M1]] 海拔内", 1);
  /* CJK inside braces is fine */
  EXPECT_MASK("$\\text{温度} = 5$", "[[M1]]", 1);
}

static void test_malformed(void) {
  /* escaped dollars are text */
  EXPECT_MASK("价格 \\$5 和 \\$6", "价格 \\$5 和 \\$6", 0);
  EXPECT_MASK("ck \\$\\$ 读写", "ck \\$\\$ 读写", 0);
  /* "\\" is a literal backslash pair: the $ after it opens math */
  EXPECT_MASK("a\\\\$x$", "a\\\\[[M1]]", 1);
  /* "\$" closes inline math (MinerU), the backslash stays inside */
  EXPECT_MASK("相关性( $P { < } 0 . 0 1 \\$ ），回归方程为 $\\ln { N } = 0 . 2 6$ ，",
              "相关性( [[M1]] ），回归方程为 [[M2]] ，", 2);
  /* unbalanced: no closer, or only one across a blank line */
  EXPECT_MASK("温度 $5 度，正常", "温度 $5 度，正常", 0);
  EXPECT_MASK("a $x$ b $ c", "a [[M1]] b $ c", 1);
  EXPECT_MASK("$a\n\nb$", "$a\n\nb$", 0);
  EXPECT_MASK("$$a\n\nb$$", "[[M1]]a\n\nb[[M2]]", 2);
  EXPECT_MASK("\\(a\n  \nb\\)", "\\(a\n  \nb\\)", 0);
  /* a stray $ does not swallow the paragraph: the CJK text between it and
   * the next formula is not a formula, and the next formula is still found */
  EXPECT_MASK("前面$5，公式 $x+y$ 结束", "前面$5，公式 [[M1]] 结束", 1);
  EXPECT_MASK("价格$5，而 $x$ 与 $y$ 和$", "价格$5，而 [[M1]] 与 [[M2]] 和$", 2);
  /* unterminated delimiters and commands */
  EXPECT_MASK("\\( a", "\\( a", 0);
  EXPECT_MASK("\\[ a \\( b", "\\[ a \\( b", 0);
  EXPECT_MASK("\\begin{equation} x", "\\begin{equation} x", 0);
  EXPECT_MASK("\\begin{equation", "\\begin{equation", 0);
  EXPECT_MASK("\\cite{a", "\\cite{a", 0);
  EXPECT_MASK("\\cite[a{b}", "\\cite[a{b}", 0);
  EXPECT_MASK("\\cite{a\n\nb}", "\\cite{a\n\nb}", 0);
  EXPECT_MASK("结尾\\", "结尾\\", 0);
  EXPECT_MASK("$", "$", 0);
  EXPECT_MASK("$$", "[[M1]]", 1);
  EXPECT_MASK("杂草 $$ 禾草 $$ 蕨类", "杂草 [[M1]] 禾草 [[M2]] 蕨类", 2);
  EXPECT_MASK("$$$", "[[M1]]$", 1);
  EXPECT_MASK("$ $", "$ $", 0);
  EXPECT_MASK("\\", "\\", 0);
  EXPECT_MASK("", "", 0);
  /* invalid UTF-8 passes through byte for byte, inside and outside math */
  EXPECT_MASK("a\xff\xfe $\xc3$ \xe4\xb8", "a\xff\xfe [[M1]] \xe4\xb8", 1);
}

static void test_collision(void) {
  struct pq_mask *m = NULL;
  struct pq_mask_report rep;
  char *masked = NULL, *back = NULL, *more = NULL;
  const char *src = "原文含 [[M1]] 与公式 $x$";

  /* the text already holds [[M1]]: placeholders switch to [[A<n>]] */
  CHECK(pq_mask_new(&m) == PQ_OK);
  CHECK(pq_mask_apply(m, src, &masked) == PQ_OK);
  CHECK_STR(pq_mask_prefix(m), "A");
  CHECK_STR(masked, "原文含 [[M1]] 与公式 [[A1]]");
  CHECK(pq_mask_restore(m, masked, masked, &back, &rep) == PQ_OK);
  CHECK_STR(back, src);
  CHECK(rep.restored == 1 && rep.found == 1);
  free(back);
  back = NULL;
  /* a model keeping the literal [[M1]] and moving [[A1]] is fine */
  CHECK(pq_mask_restore(m, masked, "formula [[A1]] and [[M1]]", &back, &rep) == PQ_OK);
  CHECK_STR(back, "formula $x$ and [[M1]]");
  free(back);
  back = NULL;
  /* a later text containing the chosen prefix is refused, m unchanged */
  CHECK(pq_mask_apply(m, "later [[A7]] $y$", &more) == PQ_MASK_ERR_COLLIDE);
  CHECK(more == NULL);
  CHECK(pq_mask_count(m, PQ_MASK_ANY) == 1);
  free(masked);
  pq_mask_free(m);

  /* every single letter taken: the prefix grows */
  {
    char buf[26 * 6 + 32];
    size_t k, p = 0;
    for (k = 0; k < 26; k++) {
      buf[p++] = '[';
      buf[p++] = '[';
      buf[p++] = (char)('A' + k);
      buf[p++] = '1';
      buf[p++] = ' ';
    }
    memcpy(buf + p, "$z$", 4);
    m = NULL;
    masked = NULL;
    CHECK(pq_mask_new(&m) == PQ_OK);
    CHECK(pq_mask_apply(m, buf, &masked) == PQ_OK);
    CHECK(strlen(pq_mask_prefix(m)) == 2);
    CHECK(masked && strstr(masked, "[[A1 [[B1") != NULL); /* untouched text */
    CHECK(pq_mask_restore(m, masked, masked, &back, &rep) == PQ_OK);
    CHECK_STR(back, buf);
    free(back);
    free(masked);
    pq_mask_free(m);
  }
}

static void test_restore_verdicts(void) {
  struct pq_mask *m = NULL;
  struct pq_mask_report rep;
  char *masked[2] = {NULL, NULL}, *back = NULL;
  const char *texts[2] = {"甲 $a$ 乙 $b$ 丙 \\cite{c}", "丁 $d$"};

  CHECK(pq_mask_new(&m) == PQ_OK);
  CHECK(pq_mask_apply_many(m, texts, 2, masked) == PQ_OK);
  CHECK_STR(masked[0], "甲 [[M1]] 乙 [[M2]] 丙 [[M3]]");
  CHECK_STR(masked[1], "丁 [[M4]]"); /* numbering runs on across texts */
  CHECK(pq_mask_count(m, PQ_MASK_MATH) == 3);
  CHECK(pq_mask_count(m, PQ_MASK_REF) == 1);

  CHECK(pq_mask_restore(m, masked[0], "A [[M2]] B [[M1]] C [[M3]]", &back, &rep) == PQ_OK);
  CHECK_STR(back, "A $b$ B $a$ C \\cite{c}");
  CHECK(rep.expected == 3 && rep.restored == 3);
  free(back);
  back = NULL;

  /* missing */
  CHECK(pq_mask_restore(m, masked[0], "A [[M1]] C [[M3]]", &back, &rep) == PQ_MASK_ERR_PLACEHOLDER);
  CHECK(back == NULL);
  CHECK(rep.missing == 1 && rep.duplicated == 0 && rep.invented == 0);
  CHECK_STR(rep.first_missing, "[[M2]]");
  /* duplicated */
  CHECK(pq_mask_restore(m, masked[0], "[[M1]] [[M2]] [[M2]] [[M3]]", &back, &rep) ==
        PQ_MASK_ERR_PLACEHOLDER);
  CHECK(rep.missing == 0 && rep.duplicated == 1 && rep.invented == 0);
  CHECK_STR(rep.first_duplicated, "[[M2]]");
  /* invented: unknown number, a leading zero, and one from the other text */
  CHECK(pq_mask_restore(m, masked[0], "[[M1]] [[M2]] [[M3]] [[M9]]", &back, &rep) ==
        PQ_MASK_ERR_PLACEHOLDER);
  CHECK(rep.missing == 0 && rep.duplicated == 0 && rep.invented == 1);
  CHECK_STR(rep.first_invented, "[[M9]]");
  CHECK(pq_mask_restore(m, masked[0], "[[M1]] [[M02]] [[M3]]", &back, &rep) ==
        PQ_MASK_ERR_PLACEHOLDER);
  CHECK(rep.missing == 1 && rep.invented == 1);
  CHECK_STR(rep.first_invented, "[[M02]]");
  CHECK(pq_mask_restore(m, masked[0], "[[M1]] [[M2]] [[M3]] [[M4]]", &back, &rep) ==
        PQ_MASK_ERR_PLACEHOLDER);
  CHECK(rep.invented == 1);
  CHECK_STR(rep.first_invented, "[[M4]]");
  /* all three at once are counted separately */
  CHECK(pq_mask_restore(m, masked[0], "[[M1]] [[M1]] [[M77]]", &back, &rep) ==
        PQ_MASK_ERR_PLACEHOLDER);
  CHECK(rep.missing == 2 && rep.duplicated == 1 && rep.invented == 1);
  /* mangled tokens do not count as ours */
  CHECK(pq_mask_restore(m, masked[0], "[[M1]] [M2] [[M3]]", &back, &rep) ==
        PQ_MASK_ERR_PLACEHOLDER);
  CHECK(rep.missing == 1);
  /* sent == NULL: every placeholder of the paper is expected */
  CHECK(pq_mask_restore(m, NULL, "[[M4]][[M3]][[M2]][[M1]]", &back, &rep) == PQ_OK);
  CHECK_STR(back, "$d$\\cite{c}$b$$a$");
  free(back);
  back = NULL;
  /* the other text on its own */
  CHECK(pq_mask_restore(m, masked[1], "D [[M4]]", &back, &rep) == PQ_OK);
  CHECK_STR(back, "D $d$");
  free(back);
  back = NULL;
  CHECK(pq_mask_restore(NULL, NULL, "x", &back, &rep) == PQ_ERR);
  free(masked[0]);
  free(masked[1]);
  pq_mask_free(m);

  /* a text with nothing to mask restores to itself */
  m = NULL;
  CHECK(pq_mask_new(&m) == PQ_OK);
  CHECK(pq_mask_restore(m, NULL, "plain [[M1]]", &back, &rep) == PQ_OK);
  CHECK_STR(back, "plain [[M1]]");
  free(back);
  pq_mask_free(m);
}

static void test_hostile(void) {
  static const char *const units[] = {"\\(", "\\[", "$$", "\\cite{", "\\begin{align}",
                                      "$",   "{",   "\\", "[[M",     "\xe4\xb8"};
  size_t u, n = 1u << 20;
  char *big = malloc(n + 1);
  clock_t t0 = clock();
  if (!big) {
    CHECK(0);
    return;
  }
  for (u = 0; u < sizeof units / sizeof units[0]; u++) {
    size_t k, p = 0, ul = strlen(units[u]);
    for (k = 0; p + ul <= n; k++) {
      memcpy(big + p, units[u], ul);
      p += ul;
      if (k % 7 == 6 && p < n)
        big[p++] = 'x';
    }
    big[p] = '\0';
    /* Either a byte-exact round trip or a clean "too many placeholders". */
    {
      struct pq_mask *m = NULL;
      char *masked = NULL;
      int rc;
      CHECK(pq_mask_new(&m) == PQ_OK);
      rc = pq_mask_apply(m, big, &masked);
      if (rc != PQ_OK && rc != PQ_ERR_TOOBIG)
        fprintf(stderr, "hostile unit %zu: rc %d\n", u, rc);
      CHECK(rc == PQ_OK ||
            (rc == PQ_ERR_TOOBIG && masked == NULL && pq_mask_count(m, PQ_MASK_ANY) == 0));
      if (rc == PQ_OK && !round_trip(big, NULL)) {
        fprintf(stderr, "hostile unit %zu: round trip failed\n", u);
        CHECK(0);
      }
      free(masked);
      pq_mask_free(m);
    }
  }
  free(big);
  fprintf(stderr, "hostile 1 MiB inputs: %.2f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
  CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
}

/* ---- the real data ------------------------------------------------------ */

/* The full shared data set when it is there (PQ_DATA_DIR, or next to the
 * checkout as in the development setup), else NULL: use the fixtures. */
static const char *data_dir(char *buf, size_t n) {
  const char *d = getenv("PQ_DATA_DIR");
  const char *src = getenv("PQ_SOURCE_DIR");
  char probe[4096];
  FILE *f;
  snprintf(buf, n, "%s", d && *d ? d : "");
  if (!*buf)
    snprintf(buf, n, "%s/../shared/data/chinaxiv", src ? src : ".");
  snprintf(probe, sizeof probe, "%s/records.jsonl", buf);
  f = fopen(probe, "r");
  if (!f)
    return NULL;
  fclose(f);
  return buf;
}

struct corpus_stats {
  size_t texts, failed, formulas, refs, residual_dollar;
};

static void corpus_text(const char *text, struct corpus_stats *st) {
  struct pq_mask *m = NULL;
  struct pq_mask_report rep;
  char *masked = NULL, *back = NULL;
  if (!text)
    return;
  st->texts++;
  if (pq_mask_new(&m) != PQ_OK || pq_mask_apply(m, text, &masked) != PQ_OK ||
      pq_mask_restore(m, masked, masked, &back, &rep) != PQ_OK || strcmp(back, text) != 0) {
    st->failed++;
    fprintf(stderr, "round trip failed: %.80s\n", text);
  } else {
    st->formulas += pq_mask_count(m, PQ_MASK_MATH);
    st->refs += pq_mask_count(m, PQ_MASK_REF);
    if (strchr(masked, '$'))
      st->residual_dollar++;
  }
  free(masked);
  free(back);
  pq_mask_free(m);
}

/* Calls fn on every line's fields (abstract, title, and body blocks). */
static int corpus_file(const char *path, struct corpus_stats *st, struct corpus_stats *eq) {
  char *data = NULL, *line, *next;
  size_t len;
  int papers = 0;
  if (pq_read_file(path, 64u << 20, &data, &len) != PQ_OK)
    return -1;
  for (line = data; line && *line; line = next) {
    cJSON *rec, *body, *blk;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    rec = cJSON_Parse(line);
    if (!rec)
      continue;
    papers++;
    corpus_text(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "abstract")), st);
    corpus_text(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "title")), st);
    body = cJSON_GetObjectItem(rec, "body");
    cJSON_ArrayForEach(blk, body) {
      const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(blk, "kind"));
      const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(blk, "text"));
      corpus_text(text, kind && strcmp(kind, "equation") == 0 ? eq : st);
    }
    cJSON_Delete(rec);
  }
  free(data);
  return papers;
}

static void test_corpus(void) {
  char dbuf[2048], path[2200];
  const char *dir = data_dir(dbuf, sizeof dbuf);
  const char *fx = getenv("PQ_FIXTURES");
  struct corpus_stats rec = {0}, full = {0}, eq = {0};
  int n;

  snprintf(path, sizeof path, "%s/%s", dir ? dir : (fx ? fx : "."),
           dir ? "records.jsonl" : "sample.jsonl");
  n = corpus_file(path, &rec, &eq);
  CHECK(n > 0);
  fprintf(stderr,
          "%s: %d papers, %zu texts, %zu formulas + %zu refs masked and restored, %zu failed, "
          "%zu texts with a $ left unmasked\n",
          path, n, rec.texts, rec.formulas, rec.refs, rec.failed, rec.residual_dollar);
  CHECK(rec.failed == 0);
  CHECK(rec.formulas > (dir ? 8000u : 300u)); /* 8,219 and 366 when written */

  snprintf(path, sizeof path, "%s/fulltext.jsonl", dir ? dir : (fx ? fx : "."));
  memset(&eq, 0, sizeof eq);
  n = corpus_file(path, &full, &eq);
  CHECK(n == 60);
  fprintf(stderr,
          "%s: %d papers, %zu texts (title/abstract/heading/paragraph), %zu formulas + %zu "
          "refs masked and restored, %zu failed, %zu texts with a $ left unmasked; "
          "%zu equation blocks: %zu formulas, %zu failed, %zu with a $ left\n",
          path, n, full.texts, full.formulas, full.refs, full.failed, full.residual_dollar,
          eq.texts, eq.formulas, eq.failed, eq.residual_dollar);
  CHECK(full.failed == 0 && eq.failed == 0);
  CHECK(eq.formulas >= eq.texts); /* every equation block is one $$..$$ */
}

int main(void) {
  test_patterns();
  test_malformed();
  test_collision();
  test_restore_verdicts();
  test_hostile();
  test_corpus();
  TEST_MAIN_END();
}
