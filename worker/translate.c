/* Translating one paper. The record becomes a list of segments (title,
 * abstract, each keyword and subject, each body heading/paragraph; equation
 * blocks are copied, never sent). Formulas are masked, and the chunk planner
 * cuts the segments into pieces (a paragraph over the token budget is split
 * at sentence ends) and groups the pieces into chunks under the budget; each
 * chunk is one chat request, and every answer is checked before it is
 * accepted. A chunk whose answer fails a check
 * is asked again, then sent to the fallback model, then split into single
 * segments; only then does the attempt fail (transient, named by the check). */
#include "translate.h"
#include "paperq/chat.h"
#include "paperq/checks.h"
#include "paperq/chunk.h"
#include "paperq/config.h"
#include "paperq/glossary.h"
#include "paperq/log.h"
#include "paperq/mask.h"
#include "paperq/pinyin.h"
#include "paperq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RATE_RETRIES 50 /* 429s of one request before the attempt fails */

struct seg {
  char key[32]; /* "title", "abstract", "kw:3", "subj:1", "body:12" */
  char *masked; /* source with formulas masked: what is sent */
  char *out;    /* accepted translation, formulas restored */
};

/* A piece of a segment as planned by pq_chunk_plan: a whole segment, or a
 * run of its sentences when the segment alone exceeds the budget. */
struct unit {
  int seg;          /* index into segs */
  int continuation; /* continues the previous unit of the same segment */
  char *masked;     /* what is sent */
  char *out;        /* accepted translation of this piece, formulas restored */
};

struct chunk {
  struct paper *p;
  int first, count; /* units [first, first + count) */
  int tries;        /* answers rejected by a check so far (this model) */
  int rate_retries;
  int fallback; /* 1: using translate.fallback_model */
  char *sent;   /* the user message */
  char *body;   /* the request JSON */
  struct http_req req;
  int active; /* request submitted and not yet completed */
};

struct xlate {
  struct pq_mask *mask;
  struct seg *segs;
  int nseg;
  struct unit *units; /* the pieces of this attempt's untranslated segments */
  int nunits;
  struct chunk **chunks;
  int nchunks, cap;
  int outstanding;
  long prompt_tokens, completion_tokens, requests;
  double cost;
  int64_t llm_ms;
  char model[128];
  /* check results, kept with the paper in the ledger */
  long check_failures[PQ_CHECK_COUNT];
  double max_cjk_ratio, min_len_ratio, max_len_ratio;
  int fallback_used, resplits;
};

static const char *system_prompt =
    "You translate Chinese scientific papers into English.\n"
    "Rules:\n"
    "- Use the formal register of a scientific journal; keep technical terms precise.\n"
    "- Translate everything, including names of places and institutions; leave no Chinese.\n"
    "- Tokens like [[M1]] stand for formulas: copy each one exactly once, unchanged, where it "
    "belongs in the English sentence.\n"
    "- Lines like <<<1>>> separate paragraphs: keep every such line, in the same order, and put "
    "each paragraph's translation under its own marker.\n"
    "- Output only the translation: no notes, no explanations, no quotation marks around it.";

static void seg_add(struct xlate *x, const char *key, const char *text, int *n,
                    const char **texts) {
  if (!text || !text[0])
    return;
  snprintf(x->segs[*n].key, sizeof x->segs[*n].key, "%s", key);
  texts[*n] = text;
  (*n)++;
}

/* Counts the segments a record yields (upper bound for allocation). */
static int count_segments(const cJSON *rec) {
  return 2 + cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rec, "keywords")) +
         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rec, "subjects")) +
         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rec, "body"));
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The model a chunk is sent to. */
static const char *chunk_model(const struct paper *p, const struct chunk *c) {
  const struct pq_config *cfg = p->w->cfg;
  return c->fallback    ? cfg->translate.fallback_model
         : p->job.model ? p->job.model /* requeue --fallback */
                        : cfg->translate.model;
}

static void submit_chunk(struct paper *p, struct chunk *c) {
  struct worker *w = p->w;
  struct xlate *x = p->x;
  const char *model = chunk_model(p, c);
  char *terms = NULL, *system = NULL;
  /* Only the glossary terms that occur in this chunk go into the prompt. */
  if (w->glossary && pq_glossary_prompt(w->glossary, c->sent, 40, &terms) == PQ_OK && terms[0]) {
    size_t len = strlen(system_prompt) + strlen(terms) + 3;
    system = malloc(len);
    if (system)
      snprintf(system, len, "%s\n\n%s", system_prompt, terms);
  }
  free(terms);
  free(c->body);
  c->body = pq_chat_request(model, system ? system : system_prompt, c->sent,
                            w->cfg->translate.max_tokens, w->cfg->translate.temperature);
  free(system);
  memset(&c->req, 0, sizeof c->req);
  c->req.body = c->body;
  c->req.url = w->url;
  c->req.key = w->api_key;
  c->req.owner = c;
  if (!c->body) {
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s", "out of memory building a request");
    return;
  }
  c->active = 1;
  x->outstanding++;
  http_submit(w->http, &c->req, 0);
}

static struct chunk *chunk_new(struct paper *p, int first, int count) {
  struct xlate *x = p->x;
  if (x->nchunks == x->cap) {
    int cap = x->cap ? x->cap * 2 : 8;
    struct chunk **cs = realloc(x->chunks, (size_t)cap * sizeof *cs);
    if (!cs)
      return NULL;
    x->chunks = cs;
    x->cap = cap;
  }
  struct chunk *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->p = p;
  c->first = first;
  c->count = count;
  const char *texts[count];
  for (int i = 0; i < count; i++)
    texts[i] = x->units[first + i].masked;
  if (count == 1)
    c->sent = strdup(texts[0]);
  else if (pq_chunk_join(texts, (size_t)count, &c->sent) != PQ_OK)
    c->sent = NULL;
  if (!c->sent) {
    free(c);
    return NULL;
  }
  x->chunks[x->nchunks++] = c;
  return c;
}

static int all_done(const struct xlate *x) {
  for (int i = 0; i < x->nseg; i++)
    if (!x->segs[i].out)
      return 0;
  return 1;
}

/* Gives every segment whose pieces are all translated its translation:
 * pieces of one segment are joined with a space (they were cut at sentence
 * ends). Also used after a failed attempt, so the retry carries them. */
static int finish_segments(struct xlate *x) {
  for (int i = 0; i < x->nunits;) {
    int seg = x->units[i].seg, j = i, complete = 1;
    size_t len = 0;
    for (; j < x->nunits && x->units[j].seg == seg; j++) {
      if (!x->units[j].out)
        complete = 0;
      else
        len += strlen(x->units[j].out) + 1;
    }
    if (complete && !x->segs[seg].out) {
      char *o = malloc(len + 1);
      if (!o)
        return PQ_ERR_NOMEM;
      o[0] = '\0';
      size_t at = 0;
      for (int k = i; k < j; k++)
        at += (size_t)snprintf(o + at, len + 1 - at, "%s%s", k > i ? " " : "", x->units[k].out);
      x->segs[seg].out = o;
    }
    i = j;
  }
  return PQ_OK;
}

static void cancel_all(struct paper *p) {
  struct xlate *x = p->x;
  for (int i = 0; i < x->nchunks; i++)
    if (x->chunks[i]->active) {
      http_cancel(p->w->http, &x->chunks[i]->req);
      x->chunks[i]->active = 0;
      x->outstanding--;
    }
}

/* Plans chunks over the segments still untranslated and submits them. */
static int plan_and_submit(struct paper *p) {
  struct xlate *x = p->x;
  int pending[x->nseg > 0 ? x->nseg : 1], np = 0;
  const char *texts[x->nseg > 0 ? x->nseg : 1];
  for (int i = 0; i < x->nseg; i++)
    if (!x->segs[i].out) {
      texts[np] = x->segs[i].masked;
      pending[np++] = i;
    }
  struct pq_chunk_plan plan;
  memset(&plan, 0, sizeof plan);
  int rc = pq_chunk_plan(texts, (size_t)np, (size_t)p->w->cfg->translate.chunk_tokens, &plan);
  if (rc == PQ_OK && plan.n_pieces > 0)
    x->units = calloc(plan.n_pieces, sizeof *x->units);
  if (rc != PQ_OK || (plan.n_pieces > 0 && !x->units)) {
    pq_chunk_plan_free(&plan);
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s", "out of memory planning chunks");
    return PQ_ERR_NOMEM;
  }
  for (size_t i = 0; i < plan.n_pieces; i++) {
    const struct pq_chunk_piece *pc = &plan.pieces[i];
    struct unit *u = &x->units[x->nunits++];
    u->seg = pending[pc->segment];
    u->continuation = pc->continuation;
    u->masked = strndup(texts[pc->segment] + pc->offset, pc->len);
    if (!u->masked)
      rc = PQ_ERR_NOMEM;
  }
  /* A segment that is only whitespace has no piece: nothing to translate. */
  for (int i = 0; i < np; i++) {
    int has = 0;
    for (int k = 0; k < x->nunits && !has; k++)
      has = x->units[k].seg == pending[i];
    if (!has && !x->segs[pending[i]].out)
      x->segs[pending[i]].out = strdup("");
  }
  for (size_t c = 0; c < plan.n_chunks && rc == PQ_OK; c++) {
    int first = (int)plan.chunks[c].first, count = (int)plan.chunks[c].count;
    struct chunk *ch = chunk_new(p, first, count);
    if (!ch && count > 1) {
      /* A piece holds a line that reads as a marker: send each alone. */
      for (int k = 0; k < count && rc == PQ_OK; k++) {
        struct chunk *one = chunk_new(p, first + k, 1);
        if (!one)
          rc = PQ_ERR_NOMEM;
        else
          submit_chunk(p, one);
      }
    } else if (!ch) {
      rc = PQ_ERR_NOMEM;
    } else {
      submit_chunk(p, ch);
    }
  }
  pq_chunk_plan_free(&plan);
  if (rc != PQ_OK) {
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s", "out of memory planning chunks");
    return rc;
  }
  return PQ_OK;
}

void xlate_start(struct paper *p) {
  struct worker *w = p->w;
  const cJSON *rec = p->job.record;
  struct xlate *x = calloc(1, sizeof *x);
  p->x = x;
  if (!x) {
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s", "out of memory");
    worker_paper_done(p);
    return;
  }
  x->min_len_ratio = 1e9;
  int max = count_segments(rec);
  x->segs = calloc((size_t)max, sizeof *x->segs);
  const char **texts = calloc((size_t)max, sizeof *texts);
  if (!x->segs || !texts || pq_mask_new(&x->mask) != PQ_OK) {
    free(texts);
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s", "out of memory");
    worker_paper_done(p);
    return;
  }
  int n = 0;
  char key[32];
  seg_add(x, "title", str_of(rec, "title"), &n, texts);
  seg_add(x, "abstract", str_of(rec, "abstract"), &n, texts);
  const cJSON *it;
  int i = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "keywords")) {
    snprintf(key, sizeof key, "kw:%d", i++);
    seg_add(x, key, cJSON_IsString(it) ? it->valuestring : NULL, &n, texts);
  }
  i = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "subjects")) {
    snprintf(key, sizeof key, "subj:%d", i++);
    seg_add(x, key, cJSON_IsString(it) ? it->valuestring : NULL, &n, texts);
  }
  i = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "body")) {
    const char *kind = str_of(it, "kind");
    snprintf(key, sizeof key, "body:%d", i++);
    if (kind && strcmp(kind, "equation") != 0) /* equations are copied, not sent */
      seg_add(x, key, str_of(it, "text"), &n, texts);
  }
  x->nseg = n;
  char **masked = calloc((size_t)(n ? n : 1), sizeof *masked);
  int rc = masked ? pq_mask_apply_many(x->mask, texts, (size_t)n, masked) : PQ_ERR_NOMEM;
  if (rc != PQ_OK) {
    free(texts);
    free(masked);
    worker_paper_fail(p, rc == PQ_ERR_TOOBIG ? PQ_CLASS_PERMANENT : PQ_CLASS_TRANSIENT,
                      "cannot mask the formulas of this record (%s)",
                      rc == PQ_ERR_TOOBIG ? "too large" : "error");
    worker_paper_done(p);
    return;
  }
  for (int s = 0; s < n; s++) {
    x->segs[s].masked = masked[s];
    /* Segments translated by an earlier attempt are not paid for again. */
    const char *prev = p->job.done ? str_of(p->job.done, x->segs[s].key) : NULL;
    if (prev)
      x->segs[s].out = strdup(prev);
    else if (w->dry_run) {
      size_t len = strlen(masked[s]) * 2 + 16;
      char *o = malloc(len);
      char *restored = NULL;
      struct pq_mask_report rep;
      if (o && pq_mask_restore(x->mask, masked[s], masked[s], &restored, &rep) == PQ_OK)
        snprintf(o, len, "[dry-run] %s", restored);
      else if (o)
        snprintf(o, len, "[dry-run]");
      free(restored);
      x->segs[s].out = o;
    }
  }
  free(masked);
  free(texts);
  if (!w->dry_run)
    snprintf(x->model, sizeof x->model, "%s",
             p->job.model ? p->job.model : w->cfg->translate.model);
  else
    snprintf(x->model, sizeof x->model, "dry-run");
  if (all_done(x)) {
    p->outcome = PQ_CLASS_OK;
    worker_paper_done(p);
    return;
  }
  if (plan_and_submit(p) != PQ_OK || p->outcome != PQ_CLASS_OK) {
    cancel_all(p);
    worker_paper_done(p);
  } else if (x->outstanding == 0) {
    worker_paper_done(p); /* nothing needed a request (whitespace only) */
  }
}

/* Runs every check on one piece's answer; on success *out is the restored
 * translation. Returns the failed check or PQ_CHECK_NONE. */
static enum pq_check check_unit(struct xlate *x, const struct unit *s, const char *answer,
                                const char *finish_reason, const struct pq_config *cfg, char **out,
                                char *detail, size_t dlen) {
  struct pq_check_result cr;
  struct pq_check_opts opts;
  pq_checks_default_opts(&opts);
  opts.max_cjk_ratio = cfg->translate.max_cjk_ratio;
  opts.min_length_ratio = cfg->translate.min_length_ratio;
  opts.max_length_ratio = cfg->translate.max_length_ratio;
  int rc = pq_checks_run(&opts, s->masked, answer, finish_reason, &cr);
  enum pq_check failed = rc < 0 ? PQ_CHECK_EMPTY : (enum pq_check)rc;
  if (cr.cjk_ratio > x->max_cjk_ratio)
    x->max_cjk_ratio = cr.cjk_ratio;
  if (cr.length_ratio > 0 && cr.length_ratio < x->min_len_ratio)
    x->min_len_ratio = cr.length_ratio;
  if (cr.length_ratio > x->max_len_ratio)
    x->max_len_ratio = cr.length_ratio;
  if (failed != PQ_CHECK_NONE) {
    snprintf(detail, dlen, "%s", cr.detail);
    return failed;
  }
  struct pq_mask_report rep;
  if (pq_mask_restore(x->mask, s->masked, answer, out, &rep) != PQ_OK) {
    snprintf(detail, dlen, "placeholders: %zu missing (%s), %zu duplicated (%s), %zu invented (%s)",
             rep.missing, rep.first_missing, rep.duplicated, rep.first_duplicated, rep.invented,
             rep.first_invented);
    return PQ_CHECK_PLACEHOLDERS;
  }
  return PQ_CHECK_NONE;
}

/* Checks a chunk's answer; accepts all its segments or none. */
static enum pq_check accept_answer(struct paper *p, struct chunk *c, const char *content,
                                   const char *finish_reason, char *detail, size_t dlen) {
  struct xlate *x = p->x;
  char **parts = NULL;
  size_t nparts = 0;
  enum pq_check failed = PQ_CHECK_NONE;
  char *outs[c->count];
  memset(outs, 0, sizeof outs);
  if (c->count == 1) {
    failed = check_unit(x, &x->units[c->first], content, finish_reason, p->w->cfg, &outs[0], detail,
                        dlen);
  } else if (pq_chunk_split(content, (size_t)c->count, &parts, &nparts) != PQ_OK) {
    snprintf(detail, dlen, "expected %d paragraph markers in the answer", c->count);
    failed = PQ_CHECK_MARKERS;
  } else {
    for (int i = 0; i < c->count && failed == PQ_CHECK_NONE; i++)
      failed = check_unit(x, &x->units[c->first + i], parts[i], finish_reason, p->w->cfg, &outs[i],
                          detail, dlen);
  }
  if (parts) {
    for (size_t i = 0; i < nparts; i++)
      free(parts[i]);
    free(parts);
  }
  for (int i = 0; i < c->count; i++) {
    if (failed == PQ_CHECK_NONE)
      x->units[c->first + i].out = outs[i];
    else
      free(outs[i]);
  }
  return failed;
}

void xlate_on_response(struct paper *p, struct http_req *r) {
  struct chunk *c = r->owner;
  p = c->p;
  struct worker *w = p->w;
  struct xlate *x = p->x;
  c->active = 0;
  x->outstanding--;
  struct pq_chat_result res;
  pq_chat_parse(r->status, r->resp.data, r->resp.len, r->error, &res);
  x->llm_ms += r->finished_ms - r->started_ms;
  if (res.cls != PQ_CLASS_RATE)
    x->requests++;
  x->prompt_tokens += res.prompt_tokens;
  x->completion_tokens += res.completion_tokens;
  if (res.cost_usd >= 0)
    x->cost += res.cost_usd; /* the provider's own figure (OpenRouter reports it) */
  else
    x->cost += pq_config_cost(w->cfg, chunk_model(p, c), res.prompt_tokens, res.completion_tokens);
  if (res.model[0])
    snprintf(x->model, sizeof x->model, "%s", res.model);

  /* Once the attempt has failed, answers still in flight are kept (they
   * are paid for, and a retry carries them) but nothing new is sent. */
  int failed_already = p->outcome != PQ_CLASS_OK;
  if (res.cls == PQ_CLASS_RATE) {
    /* A 429 says nothing about the paper: wait as told and ask again. */
    http_feedback(w->http, r, 1);
    long delay = r->retry_after_ms >= 0 ? r->retry_after_ms : 1000;
    if (!failed_already && ++c->rate_retries <= MAX_RATE_RETRIES) {
      pq_debug("paper %s: rate limited; resending in %ld ms", p->job.paper_id, delay);
      c->active = 1;
      x->outstanding++;
      http_submit(w->http, &c->req, delay);
      pq_chat_result_free(&res);
      return;
    }
    res.cls = PQ_CLASS_TRANSIENT;
    snprintf(res.error, sizeof res.error, "rate limited %d times in a row", c->rate_retries);
  }
  if (res.cls == PQ_CLASS_FATAL) {
    char err[600];
    snprintf(err, sizeof err, "%s (model %s)", res.error,
             c->fallback ? w->cfg->translate.fallback_model : w->cfg->translate.model);
    pq_chat_result_free(&res);
    worker_fatal(w, err); /* hands this paper back too; p is gone after this */
    return;
  }
  if (res.cls != PQ_CLASS_OK) {
    http_feedback(w->http, r, 0);
    if (!failed_already)
      worker_paper_fail(p, res.cls, "%s", res.error);
    pq_chat_result_free(&res);
    goto maybe_finish;
  }
  http_feedback(w->http, r, 0);
  char detail[400] = "";
  enum pq_check failed = accept_answer(p, c, res.content, res.finish_reason, detail, sizeof detail);
  pq_chat_result_free(&res);
  if (failed != PQ_CHECK_NONE) {
    x->check_failures[failed]++;
    pq_warn("paper %s: answer for %s%s failed check %s: %s", p->job.paper_id,
            x->segs[x->units[c->first].seg].key, c->count > 1 ? "…" : "", pq_check_name(failed),
            detail);
    if (failed_already)
      goto maybe_finish;
    if (++c->tries <= w->cfg->translate.check_retries) {
      submit_chunk(p, c);
      return;
    }
    if (!c->fallback && w->cfg->translate.fallback_model[0]) {
      c->fallback = 1;
      c->tries = 0;
      x->fallback_used = 1;
      submit_chunk(p, c);
      return;
    }
    if (c->count > 1) {
      /* Smaller chunks: one segment per request. */
      x->resplits++;
      for (int i = 0; i < c->count && p->outcome == PQ_CLASS_OK; i++) {
        struct chunk *one = chunk_new(p, c->first + i, 1);
        if (!one)
          worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s", "out of memory");
        else
          submit_chunk(p, one);
      }
    } else {
      worker_paper_fail(p, PQ_CLASS_TRANSIENT, "check %s failed for %s: %.400s",
                        pq_check_name(failed), x->segs[x->units[c->first].seg].key, detail);
    }
  }
maybe_finish:
  if (x->outstanding > 0)
    return;
  if (finish_segments(x) != PQ_OK)
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s", "out of memory");
  if (p->outcome == PQ_CLASS_OK && !all_done(x))
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "%s",
                      "internal error: a segment was left without a request");
  worker_paper_done(p);
}

void xlate_free(struct paper *p) {
  struct xlate *x = p->x;
  if (!x)
    return;
  cancel_all(p);
  for (int i = 0; i < x->nchunks; i++) {
    struct chunk *c = x->chunks[i];
    pq_buf_free(&c->req.resp);
    free(c->sent);
    free(c->body);
    free(c);
  }
  free(x->chunks);
  for (int i = 0; i < x->nunits; i++) {
    free(x->units[i].masked);
    free(x->units[i].out);
  }
  free(x->units);
  for (int i = 0; i < x->nseg; i++) {
    free(x->segs[i].masked);
    free(x->segs[i].out);
  }
  free(x->segs);
  pq_mask_free(x->mask);
  free(x);
  p->x = NULL;
}

static const char *seg_out(const struct xlate *x, const char *key) {
  for (int i = 0; i < x->nseg; i++)
    if (strcmp(x->segs[i].key, key) == 0)
      return x->segs[i].out;
  return NULL;
}

/* Translated list field: items in source order, untranslatable empties kept
 * out just as the segments were. */
static cJSON *list_out(const struct xlate *x, const cJSON *src, const char *prefix) {
  cJSON *arr = cJSON_CreateArray();
  const cJSON *it;
  int i = 0;
  cJSON_ArrayForEach(it, src) {
    char key[32];
    snprintf(key, sizeof key, "%s:%d", prefix, i++);
    const char *o = seg_out(x, key);
    if (o)
      cJSON_AddItemToArray(arr, cJSON_CreateString(o));
  }
  return arr;
}

cJSON *xlate_translation(struct paper *p) {
  struct xlate *x = p->x;
  const cJSON *rec = p->job.record;
  cJSON *t = cJSON_CreateObject();
  if (!t || !x)
    return t;
  const char *title = seg_out(x, "title"), *abstract = seg_out(x, "abstract");
  cJSON_AddStringToObject(t, "title_en", title ? title : "");
  cJSON_AddStringToObject(t, "abstract_en", abstract ? abstract : "");
  cJSON_AddItemToObject(t, "keywords_en",
                        list_out(x, cJSON_GetObjectItemCaseSensitive(rec, "keywords"), "kw"));
  cJSON_AddItemToObject(t, "subjects_en",
                        list_out(x, cJSON_GetObjectItemCaseSensitive(rec, "subjects"), "subj"));
  cJSON *authors = cJSON_AddArrayToObject(t, "authors_en");
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "authors")) {
    char *py = NULL;
    if (cJSON_IsString(it) && pq_pinyin_name(it->valuestring, &py) == PQ_OK && py)
      cJSON_AddItemToArray(authors, cJSON_CreateString(py));
    free(py);
  }
  const cJSON *body = cJSON_GetObjectItemCaseSensitive(rec, "body");
  if (body) {
    cJSON *be = cJSON_AddArrayToObject(t, "body_en");
    int i = 0;
    cJSON_ArrayForEach(it, body) {
      char key[32];
      snprintf(key, sizeof key, "body:%d", i++);
      const char *kind = str_of(it, "kind"), *text = str_of(it, "text");
      const char *o = kind && strcmp(kind, "equation") == 0 ? text : seg_out(x, key);
      cJSON *b = cJSON_CreateObject();
      cJSON_AddStringToObject(b, "kind", kind ? kind : "paragraph");
      cJSON_AddStringToObject(b, "text", o ? o : (text ? text : ""));
      cJSON_AddItemToArray(be, b);
    }
  }
  return t;
}

cJSON *xlate_checks(struct paper *p) {
  struct xlate *x = p->x;
  cJSON *c = cJSON_CreateObject();
  if (!c || !x)
    return c;
  cJSON_AddNumberToObject(c, "formulas", (double)pq_mask_count(x->mask, PQ_MASK_MATH));
  cJSON_AddNumberToObject(c, "refs", (double)pq_mask_count(x->mask, PQ_MASK_REF));
  cJSON_AddBoolToObject(c, "placeholders_ok", 1);
  cJSON_AddNumberToObject(c, "max_cjk_ratio", x->max_cjk_ratio);
  cJSON_AddNumberToObject(c, "min_length_ratio", x->min_len_ratio > 1e8 ? 0 : x->min_len_ratio);
  cJSON_AddNumberToObject(c, "max_length_ratio", x->max_len_ratio);
  cJSON_AddNumberToObject(c, "segments", x->nseg);
  cJSON_AddNumberToObject(c, "chunks", x->nchunks);
  cJSON_AddBoolToObject(c, "fallback_used", x->fallback_used);
  cJSON_AddNumberToObject(c, "resplits", x->resplits);
  cJSON *f = cJSON_AddObjectToObject(c, "rejected_answers");
  for (int i = 1; i < PQ_CHECK_COUNT; i++)
    if (x->check_failures[i])
      cJSON_AddNumberToObject(f, pq_check_name((enum pq_check)i), (double)x->check_failures[i]);
  if (p->w->dry_run)
    cJSON_AddBoolToObject(c, "dry_run_unchecked", 1);
  return c;
}

cJSON *xlate_done_segments(struct paper *p) {
  struct xlate *x = p->x;
  if (!x)
    return NULL;
  finish_segments(x); /* pieces done in a failed attempt still count */
  cJSON *d = cJSON_CreateObject();
  int n = 0;
  for (int i = 0; d && i < x->nseg; i++)
    if (x->segs[i].out && !p->w->dry_run) {
      cJSON_AddStringToObject(d, x->segs[i].key, x->segs[i].out);
      n++;
    }
  if (n == 0) {
    cJSON_Delete(d);
    return NULL;
  }
  return d;
}

void xlate_usage(struct paper *p, long *prompt, long *completion, long *requests, double *cost,
                 char *model, size_t modellen, int64_t *llm_ms) {
  struct xlate *x = p->x;
  if (!x)
    return;
  *prompt = x->prompt_tokens;
  *completion = x->completion_tokens;
  *requests = x->requests;
  *cost = x->cost;
  *llm_ms = x->llm_ms;
  snprintf(model, modellen, "%s", x->model);
}
