/* `paperq-ledger export --out DIR [--markdown]`: one JSON file per
 * succeeded paper (translation, source fields, model, usage, cost, checks)
 * and, with --markdown, a bilingual Markdown file whose math stays in $…$
 * so renderers with math support show it. */
#include "db.h"
#include "ledger.h"
#include "query.h"

#include "paperq/buf.h"
#include "paperq/config.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DOC_BYTES (64u << 20) /* one paper's Markdown; far above any real paper */

/* Makes dir and its parents, like mkdir -p. */
static int make_dirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path)
    return PQ_ERR_IO;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0')
      continue;
    char c = path[i];
    path[i] = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      return PQ_ERR_IO;
    path[i] = c;
  }
  struct stat st;
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? PQ_OK : PQ_ERR_IO;
}

/* A file name for a paper id: letters, digits, '.', '_' and '-' are kept,
 * anything else (such as '/') becomes '_'. A changed name gets a hash of the
 * id so that "a/b" and "a_b" cannot overwrite each other. */
static void file_stem(const char *id, char *out, size_t outlen) {
  size_t o = 0;
  int changed = 0;
  for (const char *p = id; *p && o + 1 < outlen && o < 180; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || (c == '.' && o > 0);
    out[o++] = ok ? c : '_';
    changed |= !ok;
  }
  out[o] = '\0';
  if (strlen(id) != o)
    changed = 1;
  if (changed && o + 18 < outlen)
    snprintf(out + o, outlen - o, "-%016llx", (unsigned long long)pq_hash64(id));
}

/* Writes data to dir/name, whole or not at all (pq_write_file). */
static int write_file(const char *dir, const char *name, const char *data, size_t len) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
    return PQ_ERR_IO;
  return pq_write_file(path, data, len);
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Appends text with \( \) turned into $ and \[ \] into $$, the delimiters
 * Markdown math renderers understand. */
static int md_text(struct pq_buf *b, const char *text) {
  int rc = PQ_OK;
  for (const char *p = text; *p && !rc; p++) {
    if (p[0] == '\\' && (p[1] == '(' || p[1] == ')')) {
      rc = pq_buf_append(b, "$", 1);
      p++;
    } else if (p[0] == '\\' && (p[1] == '[' || p[1] == ']')) {
      rc = pq_buf_append(b, "$$", 2);
      p++;
    } else {
      rc = pq_buf_append(b, p, 1);
    }
  }
  return rc;
}

/* One body block: headings as headings, equations displayed. */
static int md_block(struct pq_buf *b, const cJSON *block, int source) {
  const char *kind = str(block, "kind");
  const char *text = str(block, "text");
  int rc = PQ_OK;
  if (!text)
    return PQ_OK;
  if (kind && strcmp(kind, "heading") == 0) {
    rc = pq_buf_append_str(b, "### ");
    if (!rc)
      rc = md_text(b, text);
  } else if (kind && strcmp(kind, "equation") == 0) {
    int delimited = strchr(text, '$') || strstr(text, "\\[") || strstr(text, "\\begin");
    if (!delimited)
      rc = pq_buf_append_str(b, "$$\n");
    if (!rc)
      rc = md_text(b, text);
    if (!rc && !delimited)
      rc = pq_buf_append_str(b, "\n$$");
  } else {
    if (source)
      rc = pq_buf_append_str(b, "> ");
    if (!rc)
      rc = md_text(b, text);
  }
  return rc ? rc : pq_buf_append_str(b, "\n\n");
}

static int md_list(struct pq_buf *b, const char *label, const cJSON *en, const cJSON *zh) {
  int rc = PQ_OK, n = 0;
  const cJSON *e;
  if (cJSON_GetArraySize(en) == 0 && cJSON_GetArraySize(zh) == 0)
    return PQ_OK;
  rc = pq_buf_printf(b, "**%s:** ", label);
  cJSON_ArrayForEach(e, en) {
    if (!rc && cJSON_IsString(e))
      rc = pq_buf_printf(b, "%s%s", n++ ? "; " : "", e->valuestring);
  }
  if (!rc && cJSON_GetArraySize(zh) > 0) {
    rc = pq_buf_append_str(b, n ? " (" : "(");
    n = 0;
    cJSON_ArrayForEach(e, zh) {
      if (!rc && cJSON_IsString(e))
        rc = pq_buf_printf(b, "%s%s", n++ ? "；" : "", e->valuestring);
    }
    if (!rc)
      rc = pq_buf_append_str(b, ")");
  }
  return rc ? rc : pq_buf_append_str(b, "  \n");
}

/* The bilingual Markdown: source first, then its translation, block by
 * block when the two bodies line up. */
static int markdown(const cJSON *x, struct pq_buf *b) {
  const char *t_en = str(x, "title_en"), *t_zh = str(x, "title");
  int rc = pq_buf_printf(b, "# ");
  if (!rc)
    rc = md_text(b, t_en ? t_en : "(untitled)");
  if (!rc)
    rc = pq_buf_append_str(b, "\n\n");
  if (!rc && t_zh) {
    rc = pq_buf_append_str(b, "*");
    if (!rc)
      rc = md_text(b, t_zh);
    if (!rc)
      rc = pq_buf_append_str(b, "*\n\n");
  }
  if (!rc)
    rc = md_list(b, "Authors", cJSON_GetObjectItemCaseSensitive(x, "authors_en"),
                 cJSON_GetObjectItemCaseSensitive(x, "authors"));
  if (!rc)
    rc = md_list(b, "Subjects", cJSON_GetObjectItemCaseSensitive(x, "subjects_en"),
                 cJSON_GetObjectItemCaseSensitive(x, "subjects"));
  if (!rc)
    rc = md_list(b, "Keywords", cJSON_GetObjectItemCaseSensitive(x, "keywords_en"),
                 cJSON_GetObjectItemCaseSensitive(x, "keywords"));
  if (!rc)
    rc = pq_buf_printf(b, "**Paper:** %s", str(x, "paper_id"));
  if (!rc && str(x, "source_url"))
    rc = pq_buf_printf(b, " — <%s>", str(x, "source_url"));
  if (!rc && str(x, "license"))
    rc = pq_buf_printf(b, " — license %s", str(x, "license"));
  if (!rc)
    rc =
        pq_buf_printf(b, "  \n**Translated by:** %s%s\n\n", str(x, "model") ? str(x, "model") : "?",
                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "dry_run"))
                          ? " (DRY RUN: not a real translation)"
                          : "");
  const char *a_zh = str(x, "abstract"), *a_en = str(x, "abstract_en");
  if (!rc && (a_zh || a_en))
    rc = pq_buf_append_str(b, "## Abstract\n\n");
  if (!rc && a_zh) {
    rc = pq_buf_append_str(b, "> ");
    if (!rc)
      rc = md_text(b, a_zh);
    if (!rc)
      rc = pq_buf_append_str(b, "\n\n");
  }
  if (!rc && a_en) {
    rc = md_text(b, a_en);
    if (!rc)
      rc = pq_buf_append_str(b, "\n\n");
  }
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(x, "body");
  const cJSON *dst = cJSON_GetObjectItemCaseSensitive(x, "body_en");
  int ns = cJSON_GetArraySize(src), nd = cJSON_GetArraySize(dst);
  if (!rc && (ns || nd))
    rc = pq_buf_append_str(b, "## Body\n\n");
  if (ns == nd) {
    for (int i = 0; i < ns && !rc; i++) {
      const cJSON *s = cJSON_GetArrayItem(src, i), *d = cJSON_GetArrayItem(dst, i);
      const char *kind = str(s, "kind");
      /* An equation is the same in both languages: show it once. */
      if (kind && strcmp(kind, "equation") == 0) {
        rc = md_block(b, d && str(d, "text") ? d : s, 0);
        continue;
      }
      if (kind && strcmp(kind, "heading") == 0 && str(s, "text") && str(d, "text")) {
        /* One heading for both, so the outline stays one level deep. */
        rc = pq_buf_append_str(b, "### ");
        if (!rc)
          rc = md_text(b, str(s, "text"));
        if (!rc)
          rc = pq_buf_append_str(b, " / ");
        if (!rc)
          rc = md_text(b, str(d, "text"));
        if (!rc)
          rc = pq_buf_append_str(b, "\n\n");
        continue;
      }
      rc = md_block(b, s, 1);
      if (!rc)
        rc = md_block(b, d, 0);
    }
  } else {
    /* The bodies do not line up block for block: source, then translation. */
    const cJSON *e;
    if (!rc && ns)
      rc = pq_buf_append_str(b, "### Source\n\n");
    cJSON_ArrayForEach(e, src) {
      if (!rc)
        rc = md_block(b, e, 1);
    }
    if (!rc && nd)
      rc = pq_buf_append_str(b, "### Translation\n\n");
    cJSON_ArrayForEach(e, dst) {
      if (!rc)
        rc = md_block(b, e, 0);
    }
  }
  return rc;
}

/* Source fields copied into the export next to their translations. */
static const char *const source_fields[] = {"title",      "abstract", "authors", "keywords",
                                            "subjects",   "date",     "year",    "license",
                                            "source_url", "pdf_url",  "origin",  "body"};

static cJSON *parse(const char *text) { return text ? cJSON_Parse(text) : NULL; }

/* The export object of one paper from its row. NULL on out of memory or a
 * translation that does not parse. */
static cJSON *build(const struct ledger_export_row *r) {
  cJSON *x = cJSON_CreateObject();
  cJSON *doc = parse(r->doc), *record = parse(r->record);
  if (!x || !cJSON_IsObject(doc))
    goto fail;
  cJSON_AddStringToObject(x, "paper_id", r->paper_id);
  cJSON_AddNumberToObject(x, "gen", (double)r->gen);
  for (size_t i = 0; i < sizeof source_fields / sizeof source_fields[0]; i++) {
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(record, source_fields[i]);
    if (v)
      cJSON_AddItemToObject(x, source_fields[i], v);
  }
  /* Every field of the translated document: title_en, abstract_en,
   * keywords_en, subjects_en, authors_en, body_en, and any added later. */
  while (doc->child) {
    cJSON *v = doc->child;
    char *key = v->string;
    v = cJSON_DetachItemViaPointer(doc, v);
    cJSON_AddItemToObject(x, key, v);
  }
  if (r->model)
    cJSON_AddStringToObject(x, "model", r->model);
  cJSON_AddBoolToObject(x, "dry_run", r->dry_run);
  cJSON *usage = parse(r->usage);
  cJSON_AddItemToObject(x, "usage", usage ? usage : cJSON_CreateObject());
  cJSON_AddNumberToObject(x, "cost_usd", r->translation_cost_usd);
  cJSON_AddNumberToObject(x, "cost_total_usd", r->cost_usd);
  cJSON *checks = parse(r->checks);
  cJSON_AddItemToObject(x, "checks", checks ? checks : cJSON_CreateObject());
  if (r->finished_ms.known)
    cJSON_AddNumberToObject(x, "finished_ms", (double)r->finished_ms.v);
  cJSON_Delete(doc);
  cJSON_Delete(record);
  return x;
fail:
  cJSON_Delete(x);
  cJSON_Delete(doc);
  cJSON_Delete(record);
  return NULL;
}

struct export {
  const char *dir;
  int md;
  struct pq_buf b;
  long json_files, md_files, skipped;
  int write_failed; /* stopped on a file that could not be written (explained) */
};

/* Writes one paper's files; PQ_ERR_IO (explained) stops the export. */
static int export_paper(void *ctx, const struct ledger_export_row *r) {
  struct export *e = ctx;
  const char *id = r->paper_id;
  char stem[256], name[300];
  cJSON *x = build(r);
  if (!x) {
    fprintf(stderr,
            "paperq-ledger: paper %s: stored translation is not a JSON object; "
            "skipped\n",
            id);
    e->skipped++;
    return PQ_OK;
  }
  file_stem(id, stem, sizeof stem);
  char *text = cJSON_Print(x);
  int ok = text != NULL;
  snprintf(name, sizeof name, "%s.json", stem);
  if (ok && write_file(e->dir, name, text, strlen(text)) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot write %s/%s: %s\n", e->dir, name, strerror(errno));
    ok = 0;
  }
  cJSON_free(text);
  if (ok)
    e->json_files++;
  if (ok && e->md) {
    pq_buf_reset(&e->b);
    snprintf(name, sizeof name, "%s.md", stem);
    if (markdown(x, &e->b) != PQ_OK || write_file(e->dir, name, e->b.data, e->b.len) != PQ_OK) {
      fprintf(stderr, "paperq-ledger: cannot write %s/%s\n", e->dir, name);
      ok = 0;
    } else {
      e->md_files++;
    }
  }
  cJSON_Delete(x);
  e->write_failed = !ok;
  return ok ? PQ_OK : PQ_ERR_IO;
}

int ledger_export(const struct pq_config *cfg, const char *dir, int md) {
  struct ledger_db *db = NULL;
  struct export e = {dir, md, {0}, 0, 0, 0, 0};
  char err[1024];
  int rc = PQ_EXIT_RUNTIME;
  pq_buf_init(&e.b, MAX_DOC_BYTES);
  if (ledger_db_open(cfg->ledger.db, 0, &db, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: %s\n", err);
    goto cleanup;
  }
  if (make_dirs(dir) != PQ_OK) {
    fprintf(stderr, "paperq-ledger: cannot create directory %s: %s\n", dir, strerror(errno));
    goto cleanup;
  }
  if (ledger_query_succeeded(db, export_paper, &e) != PQ_OK) {
    if (!e.write_failed) /* the database error was logged */
      fprintf(stderr, "paperq-ledger: cannot read %s (see the error above)\n", cfg->ledger.db);
    goto cleanup;
  }
  if (md)
    printf("wrote %ld papers to %s (%ld .json, %ld .md)\n", e.json_files, dir, e.json_files,
           e.md_files);
  else
    printf("wrote %ld papers to %s (%ld .json)\n", e.json_files, dir, e.json_files);
  if (e.skipped)
    printf("skipped %ld papers whose stored translation is unreadable (see above)\n", e.skipped);
  rc = e.skipped ? PQ_EXIT_RUNTIME : PQ_EXIT_OK;
cleanup:
  ledger_db_close(db);
  pq_buf_free(&e.b);
  return rc;
}
