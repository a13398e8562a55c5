/* `paperq-ledger export --site DIR`: a static site of the succeeded papers
 * that opens from disk or publishes as it is. It is made from the export
 * (DIR/data/<paper>.json, written by export.c), so the site shows exactly
 * what `export --out` gives; QA scores come from the read API. Layout and
 * choices: docs/site.md. */
#include "site.h"

#include "db.h"
#include "ledger.h"
#include "query.h"

#include "paperq/buf.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAPER_JSON (256u << 20) /* one exported paper; far above any real one */
#define MAX_PAGE_BYTES (512u << 20) /* one generated page or the search data */

/* The site's own script and style sheet, compiled in (ledger/site/embed.cmake). */
extern const unsigned char site_paperq_js[], site_paperq_css[];
extern const size_t site_paperq_js_len, site_paperq_css_len;

/* ---- files --------------------------------------------------------------- */

static int make_dir(const char *path) {
  if (mkdir(path, 0777) != 0 && errno != EEXIST)
    return PQ_ERR_IO;
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? PQ_OK : PQ_ERR_IO;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Removes the files ending in suffix from dir: a paper no longer succeeded
 * (requeued, say) must not stay on the site. */
static void remove_old(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4400];
  if (!d)
    return;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    remove(path);
  }
  closedir(d);
}

/* Copies the tree src into dst (files and directories only). */
static int copy_tree(const char *src, const char *dst) {
  DIR *d = opendir(src);
  struct dirent *e;
  int rc = PQ_OK;
  if (!d || make_dir(dst) != PQ_OK) {
    if (d)
      closedir(d);
    return PQ_ERR_IO;
  }
  while (rc == PQ_OK && (e = readdir(d)) != NULL) {
    char from[4400], to[4400];
    struct stat st;
    if (e->d_name[0] == '.')
      continue;
    snprintf(from, sizeof from, "%s/%s", src, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
    if (stat(from, &st) != 0) {
      rc = PQ_ERR_IO;
    } else if (S_ISDIR(st.st_mode)) {
      rc = copy_tree(from, to);
    } else if (S_ISREG(st.st_mode)) {
      char *data = NULL;
      size_t len;
      rc = pq_read_file(from, 64u << 20, &data, &len);
      if (rc == PQ_OK)
        rc = pq_write_file(to, data, len);
      free(data);
    }
  }
  closedir(d);
  return rc;
}

static int exists(const char *dir, const char *name) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, R_OK) == 0;
}

/* ---- HTML ---------------------------------------------------------------- */

static int esc(struct pq_buf *b, const char *s) {
  int rc = PQ_OK;
  for (const char *p = s ? s : ""; *p && !rc; p++) {
    switch (*p) {
    case '<':
      rc = pq_buf_append_str(b, "&lt;");
      break;
    case '>':
      rc = pq_buf_append_str(b, "&gt;");
      break;
    case '&':
      rc = pq_buf_append_str(b, "&amp;");
      break;
    case '"':
      rc = pq_buf_append_str(b, "&quot;");
      break;
    default:
      rc = pq_buf_append(b, p, 1);
    }
  }
  return rc;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* A list of strings joined by sep into a new string ("" when empty). */
static char *joined(const cJSON *list, const char *sep) {
  struct pq_buf b;
  const cJSON *e;
  int n = 0;
  pq_buf_init(&b, 1 << 20);
  cJSON_ArrayForEach(e, list) {
    if (cJSON_IsString(e) && e->valuestring[0]) {
      if (n++)
        pq_buf_append_str(&b, sep);
      pq_buf_append_str(&b, e->valuestring);
    }
  }
  return pq_buf_steal(&b);
}

/* Only web links become links: a record's URL is data, not trusted. */
static int web_url(const char *u) {
  return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0);
}

static int head(struct pq_buf *b, const char *title, const char *up, int katex) {
  int rc =
      pq_buf_append_str(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                           "<meta name=\"viewport\" content=\"width=device-width, "
                           "initial-scale=1\">\n<title>");
  if (!rc)
    rc = esc(b, title);
  if (!rc)
    rc = pq_buf_printf(b, "</title>\n<link rel=\"stylesheet\" href=\"%sassets/paperq.css\">\n", up);
  if (!rc && katex)
    rc = pq_buf_printf(b, "<link rel=\"stylesheet\" href=\"%sassets/katex/katex.min.css\">\n", up);
  return rc ? rc : pq_buf_append_str(b, "</head>\n");
}

static int meta_row(struct pq_buf *b, const char *label, const char *en, const char *zh) {
  if ((!en || !en[0]) && (!zh || !zh[0]))
    return PQ_OK;
  int rc = pq_buf_printf(b, "<dt>%s</dt><dd>", label);
  if (!rc && en && en[0])
    rc = esc(b, en);
  if (!rc && zh && zh[0]) {
    rc = pq_buf_append_str(b, en && en[0] ? " <span class=\"zh\" lang=\"zh\">("
                                          : "<span lang=\"zh\">");
    if (!rc)
      rc = esc(b, zh);
    if (!rc)
      rc = pq_buf_append_str(b, en && en[0] ? ")</span>" : "</span>");
  }
  return rc ? rc : pq_buf_append_str(b, "</dd>\n");
}

/* One block of a body: headings as headings, the rest as paragraphs. */
static int block(struct pq_buf *b, const cJSON *blk, const char *cls, const char *lang) {
  const char *kind = str(blk, "kind"), *text = str(blk, "text");
  int heading = kind && strcmp(kind, "heading") == 0;
  int rc =
      pq_buf_printf(b, "<div class=\"%s\" lang=\"%s\">%s", cls, lang, heading ? "<h3>" : "<p>");
  if (!rc)
    rc = esc(b, text);
  return rc ? rc : pq_buf_printf(b, "%s</div>\n", heading ? "</h3>" : "</p>");
}

static int body(struct pq_buf *b, const cJSON *x) {
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(x, "body");
  const cJSON *dst = cJSON_GetObjectItemCaseSensitive(x, "body_en");
  int ns = cJSON_GetArraySize(src), nd = cJSON_GetArraySize(dst), rc = PQ_OK;
  if (ns == 0 && nd == 0)
    return PQ_OK;
  rc = pq_buf_append_str(b, "<h2>Body</h2>\n");
  if (ns == nd) {
    /* Block for block: the translation beside its original; an equation
     * (the same in both) once, across both columns. */
    for (int i = 0; i < ns && !rc; i++) {
      const cJSON *s = cJSON_GetArrayItem(src, i), *d = cJSON_GetArrayItem(dst, i);
      const char *kind = str(s, "kind");
      if (kind && strcmp(kind, "equation") == 0) {
        const char *t = str(d, "text") ? str(d, "text") : str(s, "text");
        int delimited = t && (strchr(t, '$') || strstr(t, "\\[") || strstr(t, "\\begin"));
        rc = pq_buf_printf(b, "<div class=\"eq\">%s", delimited ? "" : "$$");
        if (!rc)
          rc = esc(b, t);
        if (!rc)
          rc = pq_buf_printf(b, "%s</div>\n", delimited ? "" : "$$");
        continue;
      }
      rc = block(b, d, "en", "en");
      if (!rc)
        rc = block(b, s, "zh-src", "zh");
    }
    return rc;
  }
  /* The bodies do not line up: the whole translation, then the original. */
  const cJSON *e;
  rc = pq_buf_append_str(b, "<div class=\"en\" lang=\"en\">\n");
  cJSON_ArrayForEach(e, dst) {
    if (!rc)
      rc = block(b, e, "block", "en");
  }
  if (!rc)
    rc = pq_buf_append_str(b, "</div>\n<div class=\"zh-src\" lang=\"zh\">\n");
  cJSON_ArrayForEach(e, src) {
    if (!rc)
      rc = block(b, e, "block", "zh");
  }
  return rc ? rc : pq_buf_append_str(b, "</div>\n");
}

struct qa_score {
  char *paper_id;
  double mean;
  long long n;
};

struct site {
  const struct pq_config *cfg;
  const char *dir;
  int katex, minisearch;
  struct qa_score *qa; /* sorted by paper_id */
  size_t nqa, capqa;
  cJSON *index; /* one small object per paper, for the index and the search */
  struct pq_buf page;
};

static int on_qa(void *ctx, const struct ledger_qa_paper_row *r) {
  struct site *s = ctx;
  if (s->nqa == s->capqa) {
    size_t cap = s->capqa ? s->capqa * 2 : 256;
    struct qa_score *p = realloc(s->qa, cap * sizeof *p);
    if (!p)
      return PQ_ERR_NOMEM;
    s->qa = p;
    s->capqa = cap;
  }
  s->qa[s->nqa].paper_id = strdup(r->paper_id);
  if (!s->qa[s->nqa].paper_id)
    return PQ_ERR_NOMEM;
  s->qa[s->nqa].mean = r->mean_overall;
  s->qa[s->nqa].n = r->n;
  s->nqa++;
  return PQ_OK;
}

static int cmp_qa(const void *a, const void *b) {
  return strcmp(((const struct qa_score *)a)->paper_id, ((const struct qa_score *)b)->paper_id);
}

static const struct qa_score *qa_of(const struct site *s, const char *id) {
  struct qa_score key = {(char *)id, 0, 0};
  return s->nqa ? bsearch(&key, s->qa, s->nqa, sizeof key, cmp_qa) : NULL;
}

/* The page of one paper. */
/* The page's heading: titles, the machine-translation notice, and the
 * notices for a dry run and for formulas shown as LaTeX. */
static int paper_heading(struct site *s, struct pq_buf *b, const cJSON *x) {
  const char *t_en = str(x, "title_en"), *t_zh = str(x, "title"), *model = str(x, "model");
  int rc = PQ_OK;
  if (!rc)
    rc = pq_buf_append_str(b, "<body data-math>\n<header class=\"site\"><h1><a "
                              "href=\"../index.html\">paperq translations</a></h1>"
                              "<a href=\"../index.html#search\">search</a></header>\n"
                              "<main id=\"paper\">\n<h1 lang=\"en\">");
  if (!rc)
    rc = esc(b, t_en ? t_en : "(no English title)");
  if (!rc && t_zh) {
    rc = pq_buf_append_str(b, "</h1>\n<p class=\"zh\" lang=\"zh\">");
    if (!rc)
      rc = esc(b, t_zh);
    if (!rc)
      rc = pq_buf_append_str(b, "</p>\n");
  } else if (!rc) {
    rc = pq_buf_append_str(b, "</h1>\n");
  }
  if (!rc)
    rc = pq_buf_append_str(b, "<p class=\"notice\" id=\"mt-notice\"><strong>Machine "
                              "translation.</strong> The English text was produced by a language "
                              "model");
  if (!rc && model) {
    rc = pq_buf_append_str(b, " (");
    if (!rc)
      rc = esc(b, model);
    if (!rc)
      rc = pq_buf_append_str(b, ")");
  }
  if (!rc)
    rc = pq_buf_append_str(b, " from the Chinese original shown beside it, and was not checked "
                              "by a person. Cite the original.</p>\n");
  if (!rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "dry_run")))
    rc = pq_buf_append_str(b, "<p class=\"notice\"><strong>Dry run:</strong> this is not a real "
                              "translation.</p>\n");
  if (!rc)
    rc = pq_buf_printf(b,
                       "<p class=\"notice\" id=\"math-notice\"%s>Formulas are shown as their "
                       "LaTeX source: %s</p>\n",
                       s->katex ? " hidden" : "",
                       s->katex ? "KaTeX did not load in this browser."
                                : "KaTeX was not installed when this site was built "
                                  "(scripts/site-assets.sh installs it).");
  return rc;
}

/* The metadata list: authors, date, subjects, keywords, QA score, licence,
 * source and the paper's JSON. */
static int paper_meta(struct pq_buf *b, const cJSON *x, const char *stem,
                      const struct qa_score *qa) {
  const char *id = str(x, "paper_id");
  char *au_en = joined(cJSON_GetObjectItemCaseSensitive(x, "authors_en"), "; ");
  char *au_zh = joined(cJSON_GetObjectItemCaseSensitive(x, "authors"), "；");
  char *su_en = joined(cJSON_GetObjectItemCaseSensitive(x, "subjects_en"), "; ");
  char *su_zh = joined(cJSON_GetObjectItemCaseSensitive(x, "subjects"), "；");
  char *kw_en = joined(cJSON_GetObjectItemCaseSensitive(x, "keywords_en"), "; ");
  char *kw_zh = joined(cJSON_GetObjectItemCaseSensitive(x, "keywords"), "；");
  int rc = PQ_OK;
  if (!rc)
    rc = pq_buf_append_str(b, "<dl class=\"meta\">\n");
  if (!rc)
    rc = meta_row(b, "Authors", au_en, au_zh);
  if (!rc)
    rc = meta_row(b, "Date", str(x, "date"), NULL);
  if (!rc)
    rc = meta_row(b, "Subjects", su_en, su_zh);
  if (!rc)
    rc = meta_row(b, "Keywords", kw_en, kw_zh);
  if (!rc && qa)
    rc = pq_buf_printf(b,
                       "<dt>QA score</dt><dd id=\"qa\">%.1f / 10 (mean overall of %lld "
                       "judgement%s)</dd>\n",
                       qa->mean, qa->n, qa->n == 1 ? "" : "s");
  if (!rc)
    rc = meta_row(b, "Licence", str(x, "license") ? str(x, "license") : "not stated", NULL);
  if (!rc) {
    const char *src = str(x, "source_url"), *pdf = str(x, "pdf_url");
    rc = pq_buf_append_str(b, "<dt>Source</dt><dd>");
    if (!rc && web_url(src)) {
      rc = pq_buf_append_str(b, "<a id=\"source\" href=\"");
      if (!rc)
        rc = esc(b, src);
      if (!rc)
        rc = pq_buf_append_str(b, "\">the original</a>");
    } else if (!rc) {
      rc = pq_buf_append_str(b, "no link recorded");
    }
    if (!rc && web_url(pdf)) {
      rc = pq_buf_append_str(b, " · <a href=\"");
      if (!rc)
        rc = esc(b, pdf);
      if (!rc)
        rc = pq_buf_append_str(b, "\">PDF</a>");
    }
    if (!rc)
      rc = pq_buf_append_str(b, "</dd>\n<dt>Paper</dt><dd>");
    if (!rc)
      rc = esc(b, id);
    if (!rc)
      rc = pq_buf_printf(b, " · <a href=\"../data/%s.json\">JSON</a></dd>\n</dl>\n", stem);
  }
  free(au_en);
  free(au_zh);
  free(su_en);
  free(su_zh);
  free(kw_en);
  free(kw_zh);
  return rc;
}

/* The abstract and the body, English beside the original, and the scripts. */
static int paper_text(struct site *s, struct pq_buf *b, const cJSON *x) {
  int rc = PQ_OK;
  const char *a_en = str(x, "abstract_en"), *a_zh = str(x, "abstract");
  if (!rc)
    rc = pq_buf_append_str(b, "<section class=\"bilingual\">\n");
  if (!rc && (a_en || a_zh)) {
    rc = pq_buf_append_str(
        b, "<h2>Abstract</h2>\n<div class=\"en\" lang=\"en\" id=\"abstract-en\"><p>");
    if (!rc)
      rc = esc(b, a_en);
    if (!rc)
      rc = pq_buf_append_str(b, "</p></div>\n<div class=\"zh-src\" lang=\"zh\"><p>");
    if (!rc)
      rc = esc(b, a_zh);
    if (!rc)
      rc = pq_buf_append_str(b, "</p></div>\n");
  }
  if (!rc)
    rc = body(b, x);
  if (!rc)
    rc = pq_buf_append_str(b, "</section>\n</main>\n");
  if (!rc && s->katex)
    rc = pq_buf_append_str(
        b, "<script src=\"../assets/katex/katex.min.js\"></script>\n"
           "<script src=\"../assets/katex/contrib/auto-render.min.js\"></script>\n");
  if (!rc)
    rc = pq_buf_append_str(b, "<script src=\"../assets/paperq.js\"></script>\n</body>\n</html>\n");
  return rc;
}

static int paper_page(struct site *s, const cJSON *x, const char *stem, const struct qa_score *qa) {
  struct pq_buf *b = &s->page;
  const char *t_en = str(x, "title_en"), *t_zh = str(x, "title"), *id = str(x, "paper_id");
  char title[600];
  snprintf(title, sizeof title, "%.500s — paperq", t_en ? t_en : (t_zh ? t_zh : id));
  pq_buf_reset(b);
  int rc = head(b, title, "../", s->katex);
  if (!rc)
    rc = paper_heading(s, b, x);
  if (!rc)
    rc = paper_meta(b, x, stem, qa);
  if (!rc)
    rc = paper_text(s, b, x);
  if (rc)
    return rc;
  char path[4400];
  snprintf(path, sizeof path, "%s/papers/%s.html", s->dir, stem);
  return pq_write_file(path, b->data, b->len);
}

/* What the index and the search need of one paper. */
static int index_entry(struct site *s, const cJSON *x, const char *stem,
                       const struct qa_score *qa) {
  cJSON *e = cJSON_CreateObject();
  char url[600], date[11] = "";
  if (!e)
    return PQ_ERR_NOMEM;
  const char *d = str(x, "date");
  if (d)
    snprintf(date, sizeof date, "%s", d);
  snprintf(url, sizeof url, "papers/%s.html", stem);
  cJSON_AddStringToObject(e, "paper_id", str(x, "paper_id"));
  cJSON_AddStringToObject(e, "url", url);
  cJSON_AddStringToObject(e, "title", str(x, "title_en") ? str(x, "title_en") : "");
  cJSON_AddStringToObject(e, "title_zh", str(x, "title") ? str(x, "title") : "");
  static const struct {
    const char *key, *field, *sep;
  } lists[] = {{"authors", "authors_en", "; "},
               {"authors_zh", "authors", "；"},
               {"subjects", "subjects_en", "; "},
               {"keywords", "keywords_en", "; "},
               {"keywords_zh", "keywords", "；"}};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    char *v = joined(cJSON_GetObjectItemCaseSensitive(x, lists[i].field), lists[i].sep);
    cJSON_AddStringToObject(e, lists[i].key, v ? v : "");
    free(v);
  }
  cJSON_AddStringToObject(e, "date", date);
  cJSON_AddStringToObject(e, "abstract", str(x, "abstract_en") ? str(x, "abstract_en") : "");
  if (qa)
    cJSON_AddNumberToObject(e, "qa", qa->mean);
  else
    cJSON_AddNullToObject(e, "qa");
  cJSON_AddItemToArray(s->index, e);
  return PQ_OK;
}

/* Newest first, then by id: the order of the static index. */
static int cmp_entry(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  int c = strcmp(str(y, "date") ? str(y, "date") : "", str(x, "date") ? str(x, "date") : "");
  return c ? c : strcmp(str(x, "paper_id"), str(y, "paper_id"));
}

static int index_page(struct site *s, int n) {
  struct pq_buf *b = &s->page;
  cJSON **rows = calloc(n ? (size_t)n : 1, sizeof *rows);
  int i = 0, rc = PQ_OK;
  const cJSON *e;
  if (!rows)
    return PQ_ERR_NOMEM;
  cJSON_ArrayForEach(e, s->index) rows[i++] = (cJSON *)e;
  qsort(rows, (size_t)n, sizeof *rows, cmp_entry);
  pq_buf_reset(b);
  rc = head(b, "paperq translations", "", 0);
  if (!rc)
    rc = pq_buf_printf(
        b,
        "<body>\n<header class=\"site\"><h1>paperq translations</h1><span class=\"small\">%d "
        "papers translated from Chinese by a language model</span></header>\n"
        "<p class=\"notice\"><strong>Machine translations.</strong> Every English text here was "
        "produced by a language model from a Chinese preprint and was not checked by a person; "
        "each page shows the original beside it, with its licence and a link to the "
        "source.</p>\n"
        "<section id=\"search\"><label for=\"q\">Search titles, abstracts, keywords and "
        "authors</label><br>\n<input id=\"q\" type=\"search\" autocomplete=\"off\" "
        "placeholder=\"e.g. ontology, 知识\"> <span class=\"small\">search runs in this page "
        "with <span id=\"search-engine\">no script</span></span>\n"
        "<div id=\"results\" hidden></div></section>\n"
        "<table id=\"papers\">\n<thead><tr><th data-key=\"title\">Title</th><th "
        "data-key=\"authors\">Authors</th><th data-key=\"date\">Date</th><th "
        "data-key=\"subjects\">Subjects</th><th data-key=\"qa\">QA</th></tr></thead>\n<tbody>\n",
        n);
  for (i = 0; i < n && !rc; i++) {
    const cJSON *r = rows[i];
    const cJSON *qa = cJSON_GetObjectItemCaseSensitive(r, "qa");
    rc = pq_buf_append_str(b, "<tr data-id=\"");
    if (!rc)
      rc = esc(b, str(r, "paper_id"));
    if (!rc)
      rc = pq_buf_printf(b, "\"><td><a href=\"%s\">", str(r, "url"));
    if (!rc)
      rc = esc(b, str(r, "title") ? str(r, "title") : str(r, "paper_id"));
    if (!rc)
      rc = pq_buf_append_str(b, "</a><div class=\"zh\" lang=\"zh\">");
    if (!rc)
      rc = esc(b, str(r, "title_zh"));
    if (!rc)
      rc = pq_buf_append_str(b, "</div></td><td>");
    if (!rc)
      rc = esc(b, str(r, "authors"));
    if (!rc)
      rc = pq_buf_append_str(b, "</td><td class=\"date\">");
    if (!rc)
      rc = esc(b, str(r, "date"));
    if (!rc)
      rc = pq_buf_append_str(b, "</td><td>");
    if (!rc)
      rc = esc(b, str(r, "subjects"));
    if (!rc && cJSON_IsNumber(qa))
      rc = pq_buf_printf(b, "</td><td class=\"num\">%.1f</td></tr>\n", qa->valuedouble);
    else if (!rc)
      rc = pq_buf_append_str(b, "</td><td class=\"num\"></td></tr>\n");
  }
  if (!rc)
    rc = pq_buf_append_str(
        b,
        "</tbody>\n</table>\n<nav id=\"pager\"></nav>\n<footer class=\"small\"><p>Sources: "
        "ChinaXiv preprints, each under the licence its page states. Made by <code>paperq-ledger "
        "export --site</code>; opens from disk, no server needed.</p></footer>\n");
  if (!rc && s->minisearch)
    rc = pq_buf_append_str(b, "<script src=\"assets/minisearch/minisearch.js\"></script>\n");
  if (!rc)
    rc = pq_buf_append_str(b, "<script src=\"assets/papers.js\"></script>\n<script "
                              "src=\"assets/paperq.js\"></script>\n</body>\n</html>\n");
  free(rows);
  if (rc)
    return rc;
  char path[4400];
  snprintf(path, sizeof path, "%s/index.html", s->dir);
  return pq_write_file(path, b->data, b->len);
}

/* assets/papers.js: the index's data, as a script (pages opened from disk
 * cannot fetch() a JSON file). The array's position is MiniSearch's id. */
static int papers_js(struct site *s) {
  int i = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, s->index) cJSON_AddNumberToObject(e, "id", i++);
  char *json = cJSON_PrintUnformatted(s->index);
  if (!json)
    return PQ_ERR_NOMEM;
  struct pq_buf *b = &s->page;
  pq_buf_reset(b);
  int rc = pq_buf_printf(b,
                         "/* Generated by paperq-ledger export --site. */\nwindow.PQ_PAGE_SIZE = "
                         "%d;\nwindow.PQ_PAPERS = ",
                         s->cfg->site.page_size);
  if (!rc)
    rc = pq_buf_append_str(b, json);
  if (!rc)
    rc = pq_buf_append_str(b, ";\n");
  cJSON_free(json);
  if (rc)
    return rc;
  char path[4400];
  snprintf(path, sizeof path, "%s/assets/papers.js", s->dir);
  return pq_write_file(path, b->data, b->len);
}

static int add_paper(struct site *s, const char *file, const char *stem) {
  char *text = NULL;
  size_t len;
  int rc = pq_read_file(file, MAX_PAPER_JSON, &text, &len);
  if (rc != PQ_OK)
    return rc;
  cJSON *x = cJSON_ParseWithLength(text, len);
  free(text);
  if (!cJSON_IsObject(x) || !str(x, "paper_id")) {
    cJSON_Delete(x);
    return PQ_ERR_PARSE;
  }
  const struct qa_score *qa = qa_of(s, str(x, "paper_id"));
  rc = paper_page(s, x, stem, qa);
  if (!rc)
    rc = index_entry(s, x, stem, qa);
  cJSON_Delete(x);
  return rc;
}

int ledger_site(const struct pq_config *cfg, const char *dir_arg) {
  char dir[2048];
  /* "site/" and "site" name the same directory: no "site//data" in messages. */
  size_t dn = strlen(dir_arg);
  while (dn > 1 && dir_arg[dn - 1] == '/')
    dn--;
  if (dn >= sizeof dir) {
    fprintf(stderr, "paperq-ledger: --site %s: the path is too long\n", dir_arg);
    return PQ_EXIT_USAGE;
  }
  memcpy(dir, dir_arg, dn);
  dir[dn] = '\0';
  struct site s = {.cfg = cfg, .dir = dir};
  struct ledger_db *db = NULL;
  char path[4400], data[4096], err[1024];
  int rc = PQ_EXIT_RUNTIME, n = 0;
  pq_buf_init(&s.page, MAX_PAGE_BYTES);
  s.index = cJSON_CreateArray();
  snprintf(data, sizeof data, "%s/data", dir);
  snprintf(path, sizeof path, "%s/papers", dir);
  if (!s.index || make_dir(dir) != PQ_OK || make_dir(data) != PQ_OK || make_dir(path) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot create the site in %s: %s\n", dir, strerror(errno));
    goto cleanup;
  }
  remove_old(data, ".json");
  remove_old(path, ".html");
  /* The papers: exactly what `export --out` writes. */
  if (ledger_export(cfg, data, 0) != PQ_EXIT_OK)
    goto cleanup;
  if (ledger_db_open(cfg->ledger.db, 0, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if (ledger_query_lowest_qa(db, 1 << 30, on_qa, &s) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot read the QA scores from %s\n", cfg->ledger.db);
    goto cleanup;
  }
  if (s.nqa)
    qsort(s.qa, s.nqa, sizeof *s.qa, cmp_qa);

  const char *assets = cfg->site.assets_dir;
  s.katex =
      exists(assets, "katex/katex.min.js") && exists(assets, "katex/contrib/auto-render.min.js");
  s.minisearch = exists(assets, "minisearch/minisearch.js");
  snprintf(path, sizeof path, "%s/assets", dir);
  if (make_dir(path) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot create %s: %s\n", path, strerror(errno));
    goto cleanup;
  }
  for (int i = 0; i < 2; i++) {
    const char *what = i ? "minisearch" : "katex";
    char from[4400], to[4400];
    if (!(i ? s.minisearch : s.katex))
      continue;
    snprintf(from, sizeof from, "%s/%s", assets, what);
    snprintf(to, sizeof to, "%s/assets/%s", dir, what);
    if (copy_tree(from, to) != PQ_OK) {
      fprintf(stderr, "paperq-ledger: cannot copy %s to %s: %s\n", from, to, strerror(errno));
      goto cleanup;
    }
  }
  snprintf(path, sizeof path, "%s/assets/paperq.js", dir);
  if (pq_write_file(path, site_paperq_js, site_paperq_js_len) != PQ_OK)
    goto write_failed;
  snprintf(path, sizeof path, "%s/assets/paperq.css", dir);
  if (pq_write_file(path, site_paperq_css, site_paperq_css_len) != PQ_OK)
    goto write_failed;

  DIR *d = opendir(data);
  struct dirent *e;
  if (!d) {
    fprintf(stderr, "paperq-ledger: cannot read %s: %s\n", data, strerror(errno));
    goto cleanup;
  }
  while ((e = readdir(d)) != NULL) {
    char stem[256], file[4400];
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || !ends_with(e->d_name, ".json") || len - 5 >= sizeof stem)
      continue;
    memcpy(stem, e->d_name, len - 5);
    stem[len - 5] = '\0';
    snprintf(file, sizeof file, "%s/%s", data, e->d_name);
    int r = add_paper(&s, file, stem);
    if (r != PQ_OK) {
      fprintf(stderr, "paperq-ledger: %s: %s\n", file,
              r == PQ_ERR_PARSE ? "not a paper export" : "cannot write its page");
      closedir(d);
      goto cleanup;
    }
    n++;
  }
  closedir(d);
  snprintf(path, sizeof path, "%s/index.html", dir);
  if (papers_js(&s) != PQ_OK || index_page(&s, n) != PQ_OK)
    goto write_failed;
  printf("wrote a site of %d papers to %s (index.html; formulas: %s; search: %s)\n", n, dir,
         s.katex ? "KaTeX" : "LaTeX source, KaTeX not installed",
         s.minisearch ? "MiniSearch" : "plain scan, MiniSearch not installed");
  if (!s.katex || !s.minisearch)
    printf("run scripts/site-assets.sh %s to install KaTeX and MiniSearch (site.assets_dir)\n",
           assets);
  rc = PQ_EXIT_OK;
  goto cleanup;
write_failed:
  fprintf(stderr, "paperq-ledger: cannot write %s: %s\n", path, strerror(errno));
cleanup:
  ledger_db_close(db);
  for (size_t i = 0; i < s.nqa; i++)
    free(s.qa[i].paper_id);
  free(s.qa);
  cJSON_Delete(s.index);
  pq_buf_free(&s.page);
  return rc;
}
