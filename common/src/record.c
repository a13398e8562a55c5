/* Reading and validating paper records. JSONL files are streamed line by
 * line (a 2,000-record file never sits in memory twice); an IA file is one
 * JSON array and is parsed whole, bounded by max_record_bytes per element. */
#include "paperq/record.h"
#include "paperq/clean.h"
#include "paperq/textutil.h"
#include "paperq/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct pq_record_reader {
  char *path;
  const char *name; /* basename for messages */
  struct pq_record_limits lim;
  FILE *f;    /* JSONL */
  char *line; /* max_record_bytes + 1 */
  long lineno;
  char *text; /* IA: the whole file; elements are parsed one at a time */
  size_t text_len, pos;
  long text_line; /* line of text[pos] */
  int index, ia_done;
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
  if (cJSON_IsNumber(year)) {
    /* Checked before the cast: a double out of long's range is undefined. */
    if (!(year->valuedouble >= 1000 && year->valuedouble <= 9999)) {
      snprintf(err, errlen, "paper %s: field \"year\" must be a year from 1000 to 9999", id);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    y = (long)year->valuedouble;
  } else if (date && strlen(date) >= 4) {
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
  rc = pq_record_check(rec, err, errlen);
  if (rc != PQ_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, errlen, "paper %s: %s", id, why);
    goto cleanup;
  }
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

/* One string of a record: valid UTF-8 (cJSON passes bytes through
 * unchecked) within the field bound. */
static int check_str(const char *field, int index, const char *v, char *err, size_t errlen) {
  char name[64];
  if (index >= 0)
    snprintf(name, sizeof name, "%s[%d]", field, index);
  else
    snprintf(name, sizeof name, "%s", field);
  size_t n = strlen(v);
  if (n > PQ_RECORD_MAX_FIELD_BYTES) {
    snprintf(err, errlen, "field \"%s\" is too long (%zu bytes, limit %u)", name, n,
             PQ_RECORD_MAX_FIELD_BYTES);
    return PQ_ERR_PARSE;
  }
  if (!pq_text_valid_utf8(v, n)) {
    snprintf(err, errlen, "field \"%s\" is not valid UTF-8", name);
    return PQ_ERR_PARSE;
  }
  return PQ_OK;
}

static int check_list(const cJSON *rec, const char *field, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, field), *it;
  if (!v)
    return PQ_OK;
  if (!cJSON_IsArray(v)) {
    snprintf(err, errlen, "field \"%s\" must be a list of strings", field);
    return PQ_ERR_PARSE;
  }
  int n = 0;
  cJSON_ArrayForEach(it, v) {
    if (n >= PQ_RECORD_MAX_LIST) {
      snprintf(err, errlen, "field \"%s\" has more than %d entries", field, PQ_RECORD_MAX_LIST);
      return PQ_ERR_PARSE;
    }
    if (!cJSON_IsString(it)) {
      snprintf(err, errlen, "field \"%s[%d]\" must be a string", field, n);
      return PQ_ERR_PARSE;
    }
    if (check_str(field, n, it->valuestring, err, errlen))
      return PQ_ERR_PARSE;
    n++;
  }
  return PQ_OK;
}

int pq_record_check(const cJSON *rec, char *err, size_t errlen) {
  if (!cJSON_IsObject(rec)) {
    snprintf(err, errlen, "the record is not a JSON object");
    return PQ_ERR_PARSE;
  }
  const char *id = str_field(rec, "id");
  if (!id || !pq_record_id_ok(id)) {
    snprintf(err, errlen, "record.id must be 1-200 characters of A-Z a-z 0-9 . _ : -");
    return PQ_ERR_PARSE;
  }
  static const char *const text_fields[] = {"title",      "abstract", "date",   "license",
                                            "source_url", "pdf_url",  "origin", NULL};
  for (const char *const *f = text_fields; *f; f++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, *f);
    if (!v)
      continue;
    if (!cJSON_IsString(v)) {
      snprintf(err, errlen, "field \"%s\" must be a string", *f);
      return PQ_ERR_PARSE;
    }
    if (check_str(*f, -1, v->valuestring, err, errlen))
      return PQ_ERR_PARSE;
  }
  if (check_list(rec, "authors", err, errlen) || check_list(rec, "keywords", err, errlen) ||
      check_list(rec, "subjects", err, errlen))
    return PQ_ERR_PARSE;
  const cJSON *year = cJSON_GetObjectItemCaseSensitive(rec, "year");
  if (year && !(cJSON_IsNumber(year) && year->valuedouble >= 1000 && year->valuedouble <= 9999)) {
    snprintf(err, errlen, "field \"year\" must be a year from 1000 to 9999");
    return PQ_ERR_PARSE;
  }
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(rec, "body"), *blk;
  if (!body)
    return PQ_OK;
  if (!cJSON_IsArray(body)) {
    snprintf(err, errlen, "field \"body\" must be a list of {kind, text}");
    return PQ_ERR_PARSE;
  }
  int n = 0;
  cJSON_ArrayForEach(blk, body) {
    if (n >= PQ_RECORD_MAX_BLOCKS) {
      snprintf(err, errlen, "record.body has %d blocks (limit %d)", cJSON_GetArraySize(body),
               PQ_RECORD_MAX_BLOCKS);
      return PQ_ERR_PARSE;
    }
    const char *kind = str_field(blk, "kind"), *text = str_field(blk, "text");
    if (!kind || !text) {
      snprintf(err, errlen, "body[%d] needs string fields \"kind\" and \"text\"", n);
      return PQ_ERR_PARSE;
    }
    if (strcmp(kind, "heading") && strcmp(kind, "paragraph") && strcmp(kind, "equation")) {
      snprintf(err, errlen, "body[%d].kind is not heading, paragraph or equation", n);
      return PQ_ERR_PARSE;
    }
    if (check_str("body.text", n, text, err, errlen))
      return PQ_ERR_PARSE;
    n++;
  }
  return PQ_OK;
}

/* 1 when the JSON text holds a \u0000 escape inside a string: cJSON would
 * decode it into a NUL that silently cuts the string ("nul\u0000id" -> "nul"). */
static int has_nul_escape(const char *s, size_t n) {
  int in_str = 0;
  for (size_t i = 0; i < n; i++) {
    if (!in_str) {
      in_str = s[i] == '"';
      continue;
    }
    if (s[i] == '"') {
      in_str = 0;
    } else if (s[i] == '\\' && i + 1 < n) {
      if (s[i + 1] == 'u' && i + 5 < n && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' &&
          s[i + 5] == '0')
        return 1;
      i++; /* the escaped character, e.g. the quote of \" */
    }
  }
  return 0;
}

/* Checks the raw bytes of one record before parsing: what cJSON would let
 * through or silently change. */
static int check_raw(const char *s, size_t n, char *err, size_t errlen) {
  if (!pq_text_valid_utf8(s, n)) {
    size_t i = 0;
    while (i < n) {
      uint32_t cp;
      size_t k = pq_text_decode(s + i, n - i, &cp);
      if (k == 1 && cp == PQ_TEXT_REPLACEMENT)
        break;
      i += k;
    }
    snprintf(err, errlen,
             "invalid UTF-8 at byte %zu (byte 0x%02X); overlong forms, surrogates and FE/FF "
             "bytes are refused",
             i + 1, i < n ? (unsigned char)s[i] : 0);
    return PQ_ERR_PARSE;
  }
  if (memchr(s, '\0', n)) {
    snprintf(err, errlen, "the record holds a NUL byte");
    return PQ_ERR_PARSE;
  }
  if (has_nul_escape(s, n)) {
    snprintf(err, errlen, "a string holds \\u0000 (a NUL would cut it short)");
    return PQ_ERR_PARSE;
  }
  return PQ_OK;
}

int pq_record_reader_open(const char *path, const struct pq_record_limits *lim,
                          struct pq_record_reader **out, char *err, size_t errlen) {
  struct pq_record_reader *r = calloc(1, sizeof *r);
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
  struct stat sb;
  if (fstat(fileno(r->f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    /* fopen(3) opens a directory for reading; only the reads fail. */
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(EISDIR));
    rc = PQ_ERR_IO;
    goto cleanup;
  }
  if (!(r->line = malloc(lim->max_record_bytes + 2)))
    goto cleanup;
  int c;
  while ((c = fgetc(r->f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
    ;
  if (c == EOF && ferror(r->f)) {
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    rc = PQ_ERR_IO;
    goto cleanup;
  }
  if (c == '[') {
    /* IA harvest format: the whole file is one array, read whole (bounded)
     * and parsed one element at a time, so each is checked like a line. */
    fclose(r->f);
    r->f = NULL;
    size_t max = lim->max_record_bytes * 100000UL;
    rc = pq_read_file(path, max, &r->text, &r->text_len);
    if (rc) {
      snprintf(err, errlen, "%s: cannot read: %s", path,
               rc == PQ_ERR_TOOBIG ? "file too large" : strerror(errno));
      goto cleanup;
    }
    /* A broken array is refused whole, before any record is queued. */
    cJSON *all = cJSON_ParseWithLength(r->text, r->text_len);
    if (!cJSON_IsArray(all)) {
      const char *at = cJSON_GetErrorPtr();
      long line = 1;
      for (const char *p = r->text; at && p < at && *p; p++)
        line += *p == '\n';
      snprintf(err, errlen,
               "%s:%ld: not a valid JSON array (Internet Archive format); no record was read", path,
               line);
      cJSON_Delete(all);
      rc = PQ_ERR_PARSE;
      goto cleanup;
    }
    cJSON_Delete(all);
    r->text_line = 1;
    while (r->pos < r->text_len && r->text[r->pos] != '[')
      r->text_line += r->text[r->pos++] == '\n';
    r->pos++; /* past '[' */
  } else if (c != EOF) {
    rewind(r->f);
  }
  *out = r;
  r = NULL;
  rc = PQ_OK;
cleanup:
  pq_record_reader_close(r);
  return rc;
}

void pq_record_reader_close(struct pq_record_reader *r) {
  if (!r)
    return;
  if (r->f)
    fclose(r->f);
  free(r->text);
  free(r->line);
  free(r->path);
  free(r);
}

/* Skips whitespace in the IA text, counting lines. */
static void ia_skip_space(struct pq_record_reader *r) {
  while (r->pos < r->text_len && (r->text[r->pos] == ' ' || r->text[r->pos] == '\n' ||
                                  r->text[r->pos] == '\r' || r->text[r->pos] == '\t'))
    r->text_line += r->text[r->pos++] == '\n';
}

static int next_ia(struct pq_record_reader *r, cJSON **rec, char *where, size_t wlen, char *err,
                   size_t errlen) {
  if (r->ia_done)
    return PQ_OK;
  ia_skip_space(r);
  if (r->index == 0 && r->pos < r->text_len && r->text[r->pos] == ']') {
    r->ia_done = 1;
    return PQ_OK;
  }
  int i = r->index++;
  snprintf(where, wlen, "%s:%ld[%d]", r->name, r->text_line, i);
  const char *start = r->text + r->pos, *end = NULL;
  cJSON *item = cJSON_ParseWithLengthOpts(start, r->text_len - r->pos, &end, 0);
  if (!item) {
    /* Without the element's end the rest of the array cannot be found. */
    r->ia_done = 1;
    snprintf(err, errlen,
             "not valid JSON (Internet Archive format); the records after it were not read");
    return PQ_ERR_PARSE;
  }
  size_t size = (size_t)(end - start);
  for (const char *p = start; p < end; p++)
    r->text_line += *p == '\n';
  r->pos = (size_t)(end - r->text);
  ia_skip_space(r);
  if (r->pos < r->text_len && r->text[r->pos] == ',')
    r->pos++;
  else if (r->pos < r->text_len && r->text[r->pos] == ']')
    r->ia_done = 1;
  else
    r->ia_done = 1; /* a missing ',' or ']': this element is the last one read */
  int rc = PQ_ERR_PARSE;
  if (size > r->lim.max_record_bytes)
    snprintf(err, errlen, "record too large (%zu bytes, limit %zu: limits.max_record_bytes)", size,
             r->lim.max_record_bytes);
  else if (check_raw(start, size, err, errlen) == PQ_OK)
    rc = pq_record_normalize(item, 1, &r->lim, where, rec, err, errlen);
  cJSON_Delete(item);
  return rc;
}

/* Reads one line into r->line, at most max_record_bytes of it; the rest of
 * a longer line is read and dropped. Returns the line's full length (which
 * may exceed what was kept), or -1 at end of file or on a read error. */
static long long read_line(struct pq_record_reader *r, size_t *kept) {
  size_t max = r->lim.max_record_bytes, n = 0;
  long long total = 0;
  int c;
  while ((c = getc_unlocked(r->f)) != EOF) { /* one thread reads r->f: no lock per byte */
    if (c == '\n')
      break;
    if (n <= max)
      r->line[n++] = (char)c;
    total++;
  }
  if (c == EOF && total == 0)
    return -1;
  r->line[n < max + 1 ? n : max + 1] = '\0';
  *kept = n;
  return total;
}

int pq_record_reader_next(struct pq_record_reader *r, cJSON **rec, char *where, size_t wlen,
                          char *err, size_t errlen) {
  *rec = NULL;
  where[0] = err[0] = '\0';
  if (r->text)
    return next_ia(r, rec, where, wlen, err, errlen);
  if (!r->f)
    return PQ_OK;
  for (;;) {
    size_t n;
    errno = 0;
    long long total = read_line(r, &n);
    if (total < 0 || ferror(r->f)) {
      if (ferror(r->f)) {
        snprintf(err, errlen, "%s:%ld: read error: %s", r->path, r->lineno + 1, strerror(errno));
        return PQ_ERR_IO;
      }
      return PQ_OK; /* end of file */
    }
    r->lineno++;
    snprintf(where, wlen, "%s:%ld", r->name, r->lineno);
    if ((unsigned long long)total > r->lim.max_record_bytes) {
      snprintf(err, errlen,
               "record too large (%lld bytes, limit %zu: limits.max_record_bytes); skipped", total,
               r->lim.max_record_bytes);
      return PQ_ERR_PARSE;
    }
    while (n > 0 && (r->line[n - 1] == '\r' || r->line[n - 1] == ' '))
      r->line[--n] = '\0';
    if (n == 0)
      continue; /* blank lines are not records */
    if (check_raw(r->line, n, err, errlen) != PQ_OK)
      return PQ_ERR_PARSE;
    cJSON *raw = cJSON_ParseWithLength(r->line, n);
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
