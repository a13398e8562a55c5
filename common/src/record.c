/* Reading and validating paper records. JSONL files are streamed line by
 * line (a 2,000-record file never sits in memory twice); an IA file is one
 * JSON array and is parsed whole, bounded by max_record_bytes per element. */
#include "paperq/record.h"
#include "paperq/clean.h"
#include "paperq/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pq_record_reader {
  char *path;
  const char *name; /* basename for messages */
  struct pq_record_limits lim;
  FILE *f; /* JSONL */
  char *line;
  size_t line_cap;
  long lineno;
  cJSON *array; /* IA */
  int index, count;
};

int pq_record_id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 200)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == ':' || c == '-'))
      return 0;
  }
  return strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

static const char *str_field(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* Copies a list of strings (or one string) into a new array, dropping
 * empties and the given noise entries. */
static cJSON *string_list(const cJSON *v, const char *const *noise) {
  cJSON *out = cJSON_CreateArray();
  if (!out)
    return NULL;
  const cJSON *it;
  if (cJSON_IsString(v) && v->valuestring[0]) {
    cJSON_AddItemToArray(out, cJSON_CreateString(v->valuestring));
    return out;
  }
  cJSON_ArrayForEach(it, v) {
    if (!cJSON_IsString(it) || !it->valuestring[0])
      continue;
    int skip = 0;
    for (const char *const *n = noise; n && *n; n++)
      if (strcmp(*n, it->valuestring) == 0)
        skip = 1;
    if (!skip)
      cJSON_AddItemToArray(out, cJSON_CreateString(it->valuestring));
  }
  return out;
}

/* IA subjects lead with the archive's own collection labels. */
static const char *const ia_noise[] = {"ChinaXiv", "中国科学院科技论文预发布平台", NULL};

static int add_str(cJSON *o, const char *k, const char *v) {
  return cJSON_AddStringToObject(o, k, v ? v : "") ? PQ_OK : PQ_ERR_NOMEM;
}

int pq_record_normalize(const cJSON *raw, int ia, const struct pq_record_limits *lim,
                        const char *origin, cJSON **out, char *err, size_t errlen) {
  cJSON *rec = NULL;
  char *clean_abstract = NULL;
  int rc = PQ_ERR_PARSE;
  *out = NULL;
  if (!cJSON_IsObject(raw)) {
    snprintf(err, errlen, "not a JSON object");
    goto cleanup;
  }
  const cJSON *idv = cJSON_GetObjectItemCaseSensitive(raw, "id");
  if (!idv || cJSON_IsNull(idv)) {
    snprintf(err, errlen, "missing field \"id\"");
    goto cleanup;
  }
  if (!cJSON_IsString(idv)) {
    snprintf(err, errlen, "field \"id\" must be a string");
    goto cleanup;
  }
  const char *id = idv->valuestring;
  if (!pq_record_id_ok(id)) {
    snprintf(err, errlen,
             "paper \"%.80s\": field \"id\" must be 1-200 characters of A-Z a-z 0-9 . _ : - "
             "(it names the exported file)",
             id);
    goto cleanup;
  }
  const char *title = str_field(raw, "title");
  const char *abstract = str_field(raw, "abstract");
  if (ia && abstract) {
    rc = pq_clean_ia_abstract(abstract, &clean_abstract);
    if (rc != PQ_OK) {
      snprintf(err, errlen, "paper %s: cannot clean the IA description", id);
      rc = rc == PQ_ERR_NOMEM ? rc : PQ_ERR_PARSE;
      goto cleanup;
    }
    abstract = clean_abstract;
    rc = PQ_ERR_PARSE;
  }
  if ((!title || !title[0]) && (!abstract || !abstract[0])) {
    snprintf(err, errlen, "paper %s: no title and no abstract: nothing to translate", id);
    goto cleanup;
  }
  if (title && strlen(title) > lim->max_title_bytes) {
    snprintf(err, errlen, "paper %s: title too long (%zu bytes, limit %zu: limits.max_title_bytes)",
             id, strlen(title), lim->max_title_bytes);
    goto cleanup;
  }
  if (abstract && strlen(abstract) > lim->max_abstract_bytes) {
    snprintf(err, errlen,
             "paper %s: abstract too long (%zu bytes, limit %zu: limits.max_abstract_bytes)", id,
             strlen(abstract), lim->max_abstract_bytes);
    goto cleanup;
  }

  rc = PQ_ERR_NOMEM;
  rec = cJSON_CreateObject();
  if (!rec || add_str(rec, "id", id) || add_str(rec, "title", title) ||
      add_str(rec, "abstract", abstract))
    goto cleanup;
  cJSON *authors =
      string_list(cJSON_GetObjectItemCaseSensitive(raw, ia ? "creators" : "authors"), NULL);
  cJSON *keywords = string_list(cJSON_GetObjectItemCaseSensitive(raw, "keywords"), NULL);
  cJSON *subjects =
      string_list(cJSON_GetObjectItemCaseSensitive(raw, "subjects"), ia ? ia_noise : NULL);
  if (!authors || !keywords || !subjects) {
    cJSON_Delete(authors);
    cJSON_Delete(keywords);
    cJSON_Delete(subjects);
    goto cleanup;
  }
  cJSON_AddItemToObject(rec, "authors", authors);
  cJSON_AddItemToObject(rec, "keywords", keywords);
  cJSON_AddItemToObject(rec, "subjects", subjects);

  const char *date = str_field(raw, "date");
  if (date) {
    char d[11];
    snprintf(d, sizeof d, "%s", date);
    if (ia && strlen(d) >= 7)
      d[7] = '\0'; /* "2016-01-01T00:00:00Z" -> "2016-01", as in JSONL records */
    if (add_str(rec, "date", d))
      goto cleanup;
  }
  const cJSON *year = cJSON_GetObjectItemCaseSensitive(raw, "year");
  long y = 0;
  if (cJSON_IsNumber(year))
    y = (long)year->valuedouble;
  else if (date && strlen(date) >= 4) {
    char ys[5];
    memcpy(ys, date, 4);
    ys[4] = '\0';
    if (pq_parse_long(ys, 1000, 9999, &y) != PQ_OK)
      y = 0;
  }
  if (y && !cJSON_AddNumberToObject(rec, "year", (double)y))
    goto cleanup;
  const cJSON *lic = cJSON_GetObjectItemCaseSensitive(raw, "license");
  const char *license = cJSON_IsString(lic) ? lic->valuestring : str_field(lic, "raw");
  if (license && add_str(rec, "license", license))
    goto cleanup;
  const char *src = str_field(raw, "source_url"), *pdf = str_field(raw, "pdf_url");
  if ((src && add_str(rec, "source_url", src)) || (pdf && add_str(rec, "pdf_url", pdf)))
    goto cleanup;

  const cJSON *body = cJSON_GetObjectItemCaseSensitive(raw, "body");
  if (body && !cJSON_IsNull(body)) {
    rc = PQ_ERR_PARSE;
    if (!cJSON_IsArray(body)) {
      snprintf(err, errlen, "paper %s: field \"body\" must be a list of {kind, text}", id);
      goto cleanup;
    }
    rc = PQ_ERR_NOMEM;
    cJSON *nb = cJSON_AddArrayToObject(rec, "body");
    if (!nb)
      goto cleanup;
    int i = 0;
    const cJSON *blk;
    cJSON_ArrayForEach(blk, body) {
      const char *kind = str_field(blk, "kind"), *text = str_field(blk, "text");
      if (!kind || !text) {
        rc = PQ_ERR_PARSE;
        snprintf(err, errlen, "paper %s: body[%d] needs string fields \"kind\" and \"text\"", id,
                 i);
        goto cleanup;
      }
      if (strcmp(kind, "heading") && strcmp(kind, "paragraph") && strcmp(kind, "equation")) {
        rc = PQ_ERR_PARSE;
        snprintf(err, errlen,
                 "paper %s: body[%d].kind \"%.40s\" is not heading, paragraph or equation", id, i,
                 kind);
        goto cleanup;
      }
      cJSON *b = cJSON_CreateObject();
      if (!b)
        goto cleanup;
      cJSON_AddItemToArray(nb, b);
      if (add_str(b, "kind", kind) || add_str(b, "text", text))
        goto cleanup;
      i++;
    }
  }
  if (origin && add_str(rec, "origin", origin))
    goto cleanup;
  *out = rec;
  rec = NULL;
  rc = PQ_OK;
cleanup:
  if (rc == PQ_ERR_NOMEM)
    snprintf(err, errlen, "out of memory");
  free(clean_abstract);
  cJSON_Delete(rec);
  return rc;
}

int pq_record_reader_open(const char *path, const struct pq_record_limits *lim,
                          struct pq_record_reader **out, char *err, size_t errlen) {
  struct pq_record_reader *r = calloc(1, sizeof *r);
  char *text = NULL;
  int rc = PQ_ERR_NOMEM;
  *out = NULL;
  if (!r || !(r->path = strdup(path)))
    goto cleanup;
  const char *slash = strrchr(r->path, '/');
  r->name = slash ? slash + 1 : r->path;
  r->lim = *lim;
  r->f = fopen(path, "rb");
  if (!r->f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    rc = PQ_ERR_IO;
    goto cleanup;
  }
  int c;
  while ((c = fgetc(r->f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
    ;
  if (c == '[') {
    /* IA harvest format: the whole file is one array. */
    fclose(r->f);
    r->f = NULL;
    size_t len;
    size_t max = lim->max_record_bytes * 100000UL;
    rc = pq_read_file(path, max, &text, &len);
    if (rc) {
      snprintf(err, errlen, "%s: cannot read: %s", path,
               rc == PQ_ERR_TOOBIG ? "file too large" : strerror(errno));
      goto cleanup;
    }
    r->array = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsArray(r->array)) {
      const char *at = cJSON_GetErrorPtr();
      long line = 1;
      for (const char *p = text; at && p < at && *p; p++)
        line += *p == '\n';
      snprintf(err, errlen,
               "%s:%ld: not a valid JSON array (Internet Archive format); no record was read", path,
               line);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    r->count = cJSON_GetArraySize(r->array);
  } else if (c != EOF) {
    ungetc(c, r->f);
    rewind(r->f);
  }
  *out = r;
  r = NULL;
  rc = PQ_OK;
cleanup:
  free(text);
  pq_record_reader_close(r);
  return rc;
}

void pq_record_reader_close(struct pq_record_reader *r) {
  if (!r)
    return;
  if (r->f)
    fclose(r->f);
  cJSON_Delete(r->array);
  free(r->line);
  free(r->path);
  free(r);
}

static int next_ia(struct pq_record_reader *r, cJSON **rec, char *where, size_t wlen, char *err,
                   size_t errlen) {
  if (r->index >= r->count)
    return PQ_OK;
  int i = r->index++;
  snprintf(where, wlen, "%s[%d]", r->name, i);
  cJSON *item = cJSON_GetArrayItem(r->array, i);
  char *printed = cJSON_PrintUnformatted(item);
  size_t size = printed ? strlen(printed) : 0;
  cJSON_free(printed);
  if (size > r->lim.max_record_bytes) {
    snprintf(err, errlen, "record too large (%zu bytes, limit %zu: limits.max_record_bytes)", size,
             r->lim.max_record_bytes);
    return PQ_ERR_PARSE;
  }
  return pq_record_normalize(item, 1, &r->lim, where, rec, err, errlen);
}

int pq_record_reader_next(struct pq_record_reader *r, cJSON **rec, char *where, size_t wlen,
                          char *err, size_t errlen) {
  *rec = NULL;
  where[0] = err[0] = '\0';
  if (r->array)
    return next_ia(r, rec, where, wlen, err, errlen);
  if (!r->f)
    return PQ_OK;
  for (;;) {
    ssize_t n = getline(&r->line, &r->line_cap, r->f);
    if (n < 0) {
      if (ferror(r->f)) {
        snprintf(err, errlen, "%s:%ld: read error: %s", r->path, r->lineno, strerror(errno));
        return PQ_ERR_IO;
      }
      return PQ_OK; /* end of file */
    }
    r->lineno++;
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r' || r->line[n - 1] == ' '))
      r->line[--n] = '\0';
    if (n == 0)
      continue; /* blank lines are not records */
    snprintf(where, wlen, "%s:%ld", r->name, r->lineno);
    if ((size_t)n > r->lim.max_record_bytes) {
      snprintf(err, errlen, "record too large (%zd bytes, limit %zu: limits.max_record_bytes)", n,
               r->lim.max_record_bytes);
      return PQ_ERR_PARSE;
    }
    cJSON *raw = cJSON_ParseWithLength(r->line, (size_t)n);
    if (!raw) {
      const char *at = cJSON_GetErrorPtr();
      long col = at && at >= r->line && at <= r->line + n ? (long)(at - r->line) + 1 : 0;
      snprintf(err, errlen, "malformed JSON (near column %ld)", col);
      return PQ_ERR_PARSE;
    }
    int rc = pq_record_normalize(raw, 0, &r->lim, where, rec, err, errlen);
    cJSON_Delete(raw);
    return rc;
  }
}
