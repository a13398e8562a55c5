/* Translating one paper. The record becomes a list of segments (title,
 * abstract, each keyword and subject, each body heading/paragraph; equation
 * blocks are copied, never sent). Formulas are masked, and the chunk planner
 * cuts the segments into pieces (a paragraph over the token budget is split
 * at sentence ends) and groups the pieces into chunks under the budget; each
 * chunk is one chat request, and every answer is checked before it is
 * accepted. A chunk whose answer fails a check
 * is asked again, then sent to the fallback model, then split into single
 * segments; only then does the attempt fail (transient, named by the check). */
#include "work.h"
#include "paperq/chat.h"
#include "paperq/checks.h"
#include "paperq/chunk.h"
#include "paperq/config.h"
#include "paperq/glossary.h"
#include "paperq/log.h"
#include "paperq/mask.h"
#include "paperq/mq.h"
#include "paperq/pinyin.h"
#include "paperq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A run of units sent as one chat request. */
struct chunk {
  struct llm_call call; /* first: the call is the chunk */
  int first, count;     /* units [first, first + count) */
  int tries;            /* answers rejected by a check so far (this model) */
  int fallback;         /* 1: using translate.fallback_model */
  char *sent;           /* the user message */
};

struct xlate {
  struct work base; /* first: a struct work is a struct xlate */
  struct pq_mask *mask;
  struct seg *segs;
  int nseg;
  struct unit *units; /* the pieces of this attempt's untranslated segments */
  int nunits;
  struct chunk **chunks;
  int nchunks, cap;
  /* check results, kept with the paper in the ledger */
  long check_failures[PQ_CHECK_COUNT];
  double max_cjk_ratio, min_len_ratio, max_len_ratio;
  int fallback_used, resplits;
};

static struct xlate *xlate_of(struct work *w) { return (struct xlate *)w; }

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
static const char *chunk_model(const struct xlate *x, const struct chunk *c) {
  const struct pq_config *cfg = x->base.env->cfg;
  return c->fallback          ? cfg->translate.fallback_model
         : x->base.job->model ? x->base.job->model /* requeue --fallback */
                              : cfg->translate.model;
}

static void submit_chunk(struct xlate *x, struct chunk *c) {
  const struct work_env *env = x->base.env;
  char *terms = NULL, *system = NULL;
  /* Only the glossary terms that occur in this chunk go into the prompt. */
  if (env->glossary && pq_glossary_prompt(env->glossary, c->sent, 40, &terms) == PQ_OK &&
      terms[0]) {
    size_t len = strlen(system_prompt) + strlen(terms) + 3;
    system = malloc(len);
    if (system)
      snprintf(system, len, "%s\n\n%s", system_prompt, terms);
  }
  free(terms);
  const char *model = chunk_model(x, c);
  struct pq_chat_req q = {model,
                          system ? system : system_prompt,
                          c->sent,
                          env->cfg->translate.max_tokens,
                          env->cfg->translate.temperature,
                          env->cfg->translate.reasoning,
                          env->cfg->translate.extra_body};
  char *body = pq_chat_build(&q);
  free(system);
  if (work_call(&x->base, &c->call, &env->translate, model, body) != PQ_OK)
    work_fail(&x->base, PQ_CLASS_TRANSIENT, "%s", "out of memory building a request");
}

/* A new chunk of units [first, first + count) sending `sent` (owned from
 * now on, even on failure). NULL when out of memory. */
static struct chunk *chunk_new(struct xlate *x, int first, int count, char *sent) {
  if (!sent)
    return NULL;
  if (x->nchunks == x->cap) {
    int cap = x->cap ? x->cap * 2 : 8;
    struct chunk **cs = realloc(x->chunks, (size_t)cap * sizeof *cs);
    if (!cs) {
      free(sent);
      return NULL;
    }
    x->chunks = cs;
    x->cap = cap;
  }
  struct chunk *c = calloc(1, sizeof *c);
  if (!c) {
    free(sent);
    return NULL;
  }
  c->first = first;
  c->count = count;
  c->sent = sent;
  x->chunks[x->nchunks++] = c;
  return c;
}

/* Sends unit i alone. */
static void submit_unit(struct xlate *x, int i) {
  struct chunk *one = chunk_new(x, i, 1, strdup(x->units[i].masked));
  if (!one)
    work_fail(&x->base, PQ_CLASS_TRANSIENT, "%s", "out of memory");
  else
    submit_chunk(x, one);
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

/* Plans chunks over the segments still untranslated and submits them.
 * Sizes come from the record: heap arrays, never the stack. */
static int plan_and_submit(struct xlate *x) {
  int n = x->nseg > 0 ? x->nseg : 1, np = 0;
  int *pending = malloc((size_t)n * sizeof *pending);
  const char **texts = malloc((size_t)n * sizeof *texts);
  struct pq_chunk_plan plan;
  memset(&plan, 0, sizeof plan);
  int rc = pending && texts ? PQ_OK : PQ_ERR_NOMEM;
  for (int i = 0; rc == PQ_OK && i < x->nseg; i++)
    if (!x->segs[i].out) {
      texts[np] = x->segs[i].masked;
      pending[np++] = i;
    }
  if (rc == PQ_OK)
    rc = pq_chunk_plan(texts, (size_t)np, (size_t)x->base.env->cfg->translate.chunk_tokens, &plan);
  if (rc == PQ_OK && plan.n_pieces > 0) {
    x->units = calloc(plan.n_pieces, sizeof *x->units);
    if (!x->units)
      rc = PQ_ERR_NOMEM;
  }
  for (size_t i = 0; rc == PQ_OK && i < plan.n_pieces; i++) {
    const struct pq_chunk_piece *pc = &plan.pieces[i];
    struct unit *u = &x->units[x->nunits++];
    u->seg = pending[pc->segment];
    u->continuation = pc->continuation;
    u->masked = strndup(texts[pc->segment] + pc->offset, pc->len);
    if (!u->masked)
      rc = PQ_ERR_NOMEM;
  }
  /* A segment that is only whitespace has no piece: nothing to translate. */
  for (int i = 0, k = 0; rc == PQ_OK && i < np; i++) {
    while (k < x->nunits && x->units[k].seg < pending[i])
      k++;
    if ((k == x->nunits || x->units[k].seg != pending[i]) && !x->segs[pending[i]].out)
      x->segs[pending[i]].out = strdup("");
  }
  for (size_t c = 0; c < plan.n_chunks && rc == PQ_OK && x->base.outcome == PQ_CLASS_OK; c++) {
    int first = (int)plan.chunks[c].first, count = (int)plan.chunks[c].count;
    char *sent = NULL;
    int jrc = pq_chunk_plan_join(&plan, texts, c, &sent);
    if (jrc == PQ_ERR_NOMEM) {
      rc = jrc;
    } else if (jrc != PQ_OK) {
      /* Too large to join (a budget near PQ_CHUNK_MAX_TEXT): send each alone. */
      for (int k = 0; k < count && x->base.outcome == PQ_CLASS_OK; k++)
        submit_unit(x, first + k);
    } else {
      struct chunk *ch = chunk_new(x, first, count, sent);
      if (!ch)
        rc = PQ_ERR_NOMEM;
      else
        submit_chunk(x, ch);
    }
  }
  pq_chunk_plan_free(&plan);
  free(pending);
  free(texts);
  if (rc != PQ_OK)
    work_fail(&x->base, PQ_CLASS_TRANSIENT, "%s", "out of memory planning chunks");
  return rc;
}

/* Makes the record's segments, masks their formulas, and takes what an
 * earlier attempt translated (or, in a dry run, a marked copy). */
static enum work_status make_segments(struct xlate *x) {
  const cJSON *rec = x->base.job->record;
  const struct work_env *env = x->base.env;
  int max = count_segments(rec);
  x->segs = calloc((size_t)max, sizeof *x->segs);
  const char **texts = calloc((size_t)max, sizeof *texts);
  if (!x->segs || !texts || pq_mask_new(&x->mask) != PQ_OK) {
    free(texts);
    work_fail(&x->base, PQ_CLASS_TRANSIENT, "%s", "out of memory");
    return WORK_FAILED;
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
  free(texts);
  if (rc != PQ_OK) {
    free(masked);
    work_fail(&x->base, rc == PQ_ERR_TOOBIG ? PQ_CLASS_PERMANENT : PQ_CLASS_TRANSIENT,
              "cannot mask the formulas of this record (%s)",
              rc == PQ_ERR_TOOBIG ? "too large" : "error");
    return WORK_FAILED;
  }
  const cJSON *done = x->base.job->done;
  for (int s = 0; s < n; s++) {
    x->segs[s].masked = masked[s];
    /* Segments translated by an earlier attempt are not paid for again. */
    const char *prev = done ? str_of(done, x->segs[s].key) : NULL;
    if (prev)
      x->segs[s].out = strdup(prev);
    else if (env->dry_run) {
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
  return WORK_PENDING;
}

static enum work_status xlate_start(struct work *w) {
  struct xlate *x = xlate_of(w);
  const struct work_env *env = w->env;
  x->min_len_ratio = 1e9;
  if (make_segments(x) == WORK_FAILED)
    return WORK_FAILED;
  snprintf(w->usage.model, sizeof w->usage.model, "%s",
           env->dry_run    ? "dry-run"
           : w->job->model ? w->job->model
                           : env->cfg->translate.model);
  if (all_done(x))
    return WORK_DONE;
  if (plan_and_submit(x) != PQ_OK || w->outcome != PQ_CLASS_OK) {
    work_cancel_all(w);
    return WORK_FAILED;
  }
  return w->outstanding == 0 ? WORK_DONE /* nothing needed a request (whitespace only) */
                             : WORK_PENDING;
}

/* Runs every check on one piece's answer; on success *out is the restored
 * translation. Returns the failed check or PQ_CHECK_NONE. */
static enum pq_check check_unit(struct xlate *x, const struct unit *s, const char *answer,
                                const char *finish_reason, char **out, char *detail, size_t dlen) {
  const struct pq_config *cfg = x->base.env->cfg;
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
  /* The mask's own numbering is a second opinion: it catches a placeholder
   * moved in from another paragraph. */
  struct pq_mask_report rep;
  if (pq_mask_restore(x->mask, s->masked, answer, out, &rep) != PQ_OK) {
    pq_checks_note_restore(&cr, &rep);
    snprintf(detail, dlen, "%.200s (first missing %s, duplicated %s, invented %s)", cr.detail,
             rep.first_missing[0] ? rep.first_missing : "-",
             rep.first_duplicated[0] ? rep.first_duplicated : "-",
             rep.first_invented[0] ? rep.first_invented : "-");
    return PQ_CHECK_PLACEHOLDERS;
  }
  return PQ_CHECK_NONE;
}

/* Checks a chunk's answer; accepts all its segments or none. The split is
 * given the pieces that were sent, so marker-shaped lines of the paper's
 * own text are expected where they are (paperq/chunk.h); a one-piece answer
 * goes through it too, which removes a "<<<1>>>" line the model added. */
static enum pq_check accept_answer(struct xlate *x, struct chunk *c, const char *content,
                                   const char *finish_reason, char *detail, size_t dlen) {
  char **parts = NULL;
  size_t nparts = 0;
  struct pq_chunk_split_info info = {0, 0};
  enum pq_check failed = PQ_CHECK_NONE;
  char **outs = calloc((size_t)c->count, sizeof *outs);
  const char **sent = calloc((size_t)c->count, sizeof *sent);
  if (!outs || !sent) {
    free(outs);
    free(sent);
    snprintf(detail, dlen, "out of memory");
    return PQ_CHECK_EMPTY;
  }
  for (int i = 0; i < c->count; i++)
    sent[i] = x->units[c->first + i].masked;
  int rc = pq_chunk_split_ex(content, sent, (size_t)c->count, &parts, &nparts, &info);
  if (rc == PQ_CHUNK_ERR_MARKERS) {
    struct pq_check_result cr;
    memset(&cr, 0, sizeof cr);
    pq_checks_note_markers(&cr, 0, info.markers_expected, info.markers_found);
    snprintf(detail, dlen, "%s", cr.detail);
    failed = PQ_CHECK_MARKERS;
  } else if (rc != PQ_OK) {
    snprintf(detail, dlen, "%s",
             rc == PQ_ERR_TOOBIG ? "answer larger than PQ_CHUNK_MAX_TEXT" : "out of memory");
    failed = rc == PQ_ERR_TOOBIG ? PQ_CHECK_LENGTH_RATIO : PQ_CHECK_EMPTY;
  } else {
    for (int i = 0; i < c->count && failed == PQ_CHECK_NONE; i++)
      failed =
          check_unit(x, &x->units[c->first + i], parts[i], finish_reason, &outs[i], detail, dlen);
  }
  pq_chunk_free_strings(parts, nparts);
  for (int i = 0; i < c->count; i++) {
    if (failed == PQ_CHECK_NONE)
      x->units[c->first + i].out = outs[i];
    else
      free(outs[i]);
  }
  free(outs);
  free(sent);
  return failed;
}

/* Where the attempt stands once an answer has been dealt with. */
static enum work_status settle(struct xlate *x) {
  if (x->base.outstanding > 0)
    return WORK_PENDING;
  if (finish_segments(x) != PQ_OK)
    work_fail(&x->base, PQ_CLASS_TRANSIENT, "%s", "out of memory");
  if (x->base.outcome == PQ_CLASS_OK && !all_done(x))
    work_fail(&x->base, PQ_CLASS_TRANSIENT, "%s",
              "internal error: a segment was left without a request");
  return x->base.outcome == PQ_CLASS_OK ? WORK_DONE : WORK_FAILED;
}

/* An answer failed a check: ask again, then the fallback model, then one
 * segment per request; only then does the attempt fail. */
static void reask(struct xlate *x, struct chunk *c, enum pq_check failed, const char *detail) {
  const struct pq_config *cfg = x->base.env->cfg;
  if (++c->tries <= cfg->translate.check_retries) {
    submit_chunk(x, c);
  } else if (!c->fallback && cfg->translate.fallback_model[0]) {
    c->fallback = 1;
    c->tries = 0;
    x->fallback_used = 1;
    submit_chunk(x, c);
  } else if (c->count > 1) {
    x->resplits++;
    for (int i = 0; i < c->count && x->base.outcome == PQ_CLASS_OK; i++)
      submit_unit(x, c->first + i);
  } else {
    work_fail(&x->base, PQ_CLASS_TRANSIENT, "check %s failed for %s: %.400s", pq_check_name(failed),
              x->segs[x->units[c->first].seg].key, detail);
  }
}

/* A reply that is not a finished answer (docs/providers.md): nothing of it
 * is kept. Cut at max_tokens (or its budget spent on reasoning): smaller
 * chunks. Filtered or refused: the fallback model, then the paper is
 * parked as permanent. Anything else fails the attempt with its class. */
static void not_an_answer(struct xlate *x, struct chunk *c, const struct pq_chat_result *res) {
  const struct pq_config *cfg = x->base.env->cfg;
  const char *seg = x->segs[x->units[c->first].seg].key;
  switch (res->reason) {
  case PQ_REASON_LENGTH:
  case PQ_REASON_REASONING_ONLY:
    x->check_failures[PQ_CHECK_FINISH_REASON]++;
    pq_warn("paper %s: answer for %s%s not finished: %s", x->base.job->paper_id, seg,
            c->count > 1 ? "…" : "", res->error);
    if (c->count > 1 && res->reason == PQ_REASON_LENGTH) {
      x->resplits++; /* one segment per request: shorter answers */
      for (int i = 0; i < c->count && x->base.outcome == PQ_CLASS_OK; i++)
        submit_unit(x, c->first + i);
    } else {
      reask(x, c, PQ_CHECK_FINISH_REASON, res->error);
    }
    break;
  case PQ_REASON_CONTENT_FILTER:
    if (!c->fallback && cfg->translate.fallback_model[0]) {
      pq_warn("paper %s: %s refused %s: %s; trying the fallback model %s", x->base.job->paper_id,
              chunk_model(x, c), seg, res->error, cfg->translate.fallback_model);
      c->fallback = 1;
      c->tries = 0;
      x->fallback_used = 1;
      submit_chunk(x, c);
    } else {
      work_fail(&x->base, PQ_CLASS_PERMANENT, "content refused for %s by %s%s: %s", seg,
                chunk_model(x, c), c->fallback ? " (the fallback model)" : "", res->error);
    }
    break;
  default:
    work_fail(&x->base, res->cls, "%s", res->error);
  }
}

static enum work_status xlate_on_answer(struct work *w, struct llm_call *call,
                                        const struct pq_chat_result *res) {
  struct xlate *x = xlate_of(w);
  struct chunk *c = (struct chunk *)call;
  if (res->model[0])
    snprintf(w->usage.model, sizeof w->usage.model, "%s", res->model);
  /* Once the attempt has failed, answers still in flight are kept (they
   * are paid for, and a retry carries them) but nothing new is sent. */
  int failed_already = w->outcome != PQ_CLASS_OK;
  if (res->cls != PQ_CLASS_OK) {
    if (!failed_already)
      not_an_answer(x, c, res);
    return settle(x);
  }
  char detail[400] = "";
  enum pq_check failed =
      accept_answer(x, c, res->content, res->finish_reason, detail, sizeof detail);
  if (failed != PQ_CHECK_NONE) {
    x->check_failures[failed]++;
    pq_warn("paper %s: answer for %s%s failed check %s: %s", w->job->paper_id,
            x->segs[x->units[c->first].seg].key, c->count > 1 ? "…" : "", pq_check_name(failed),
            detail);
    work_waste(w, call, PQ_WASTE_CHECK);
    if (!failed_already)
      reask(x, c, failed, detail);
  }
  return settle(x);
}

static struct work *xlate_create(void) {
  struct xlate *x = calloc(1, sizeof *x);
  return x ? &x->base : NULL;
}

static void xlate_destroy(struct work *w) {
  struct xlate *x = xlate_of(w);
  for (int i = 0; i < x->nchunks; i++) {
    work_call_release(&x->chunks[i]->call);
    free(x->chunks[i]->sent);
    free(x->chunks[i]);
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

/* The translated document, for job.succeeded. */
static cJSON *translation(struct xlate *x) {
  const cJSON *rec = x->base.job->record;
  cJSON *t = cJSON_CreateObject();
  if (!t)
    return NULL;
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

/* What the checks saw, kept with the paper in the ledger. */
static cJSON *checks(struct xlate *x) {
  cJSON *c = cJSON_CreateObject();
  if (!c)
    return NULL;
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
  if (x->base.env->dry_run)
    cJSON_AddBoolToObject(c, "dry_run_unchecked", 1);
  return c;
}

static void xlate_describe_success(struct work *w, cJSON *ev) {
  struct xlate *x = xlate_of(w);
  cJSON *t = translation(x), *c = checks(x);
  if (t)
    cJSON_AddItemToObject(ev, "translation", t);
  if (c)
    cJSON_AddItemToObject(ev, "checks", c);
  cJSON_AddBoolToObject(ev, "dry_run", w->env->dry_run);
}

/* Segments translated so far (a failed attempt's finished pieces count),
 * for the next attempt to carry; NULL when there are none. */
static cJSON *done_segments(struct xlate *x) {
  finish_segments(x);
  cJSON *d = cJSON_CreateObject();
  int n = 0;
  for (int i = 0; d && i < x->nseg; i++)
    if (x->segs[i].out && !x->base.env->dry_run) {
      cJSON_AddStringToObject(d, x->segs[i].key, x->segs[i].out);
      n++;
    }
  if (n == 0) {
    cJSON_Delete(d);
    return NULL;
  }
  return d;
}

static char *xlate_encode_again(const struct pq_job *job, struct work *w, size_t *len) {
  cJSON *done = w ? done_segments(xlate_of(w)) : NULL;
  char *body = pq_job_encode_model(job->record, job->gen, done ? done : job->done, job->model, len);
  cJSON_Delete(done);
  return body;
}

const struct work_kind work_translate = {
    .name = "translation",
    .msg_type = PQ_MSG_TYPE_JOB,
    .routing_key = PQ_RK_JOB,
    .failed_event = "job.failed",
    .success_event = "job.succeeded",
    .announce_start = 1,
    .model_role = "model",
    .settings = "translate",
    .create = xlate_create,
    .start = xlate_start,
    .on_answer = xlate_on_answer,
    .describe_success = xlate_describe_success,
    .encode_again = xlate_encode_again,
    .destroy = xlate_destroy,
};
