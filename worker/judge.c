/* QA judging of one translated paper: every configured judge model gets the
 * rubric and the same aligned excerpt; each valid verdict is sent to the
 * ledger as a qa.scored event at once, and a retried QA job skips the judges
 * that already answered (they travel in the job's "done"). An invalid reply
 * is asked again, then fails the QA job as transient: never a stored zero. */
#include "judge.h"
#include "paperq/chat.h"
#include "paperq/config.h"
#include "paperq/event.h"
#include "paperq/log.h"
#include "paperq/qa.h"
#include "paperq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JUDGES 8
#define MAX_RATE_RETRIES 50

struct judge_req {
  struct paper *p;
  char model[128];
  int tries;
  int rate_retries;
  int done;
  int active;
  char *body;
  struct http_req req;
};

struct judging {
  struct judge_req j[MAX_JUDGES];
  int n;
  int outstanding;
  char *excerpt;
  char url[1024];
  const char *key;
  long prompt_tokens, completion_tokens, requests;
  double cost;
  int64_t llm_ms;
};

static void submit(struct paper *p, struct judge_req *jr) {
  struct worker *w = p->w;
  struct judging *g = p->judging;
  free(jr->body);
  /* Judges answer with a small JSON object: 512 tokens is plenty. */
  jr->body = pq_chat_request(jr->model, pq_qa_rubric(), g->excerpt, 512, 0.0);
  memset(&jr->req, 0, sizeof jr->req);
  jr->req.body = jr->body;
  jr->req.url = g->url;
  jr->req.key = g->key;
  jr->req.owner = jr;
  jr->req.index = HTTP_OWNER_JUDGE;
  if (!jr->body) {
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "out of memory building a judge request");
    return;
  }
  jr->active = 1;
  g->outstanding++;
  http_submit(w->http, &jr->req, 0);
}

static void cancel_all(struct paper *p) {
  struct judging *g = p->judging;
  for (int i = 0; i < g->n; i++)
    if (g->j[i].active) {
      http_cancel(p->w->http, &g->j[i].req);
      g->j[i].active = 0;
      g->outstanding--;
    }
}

void judge_start(struct paper *p) {
  struct worker *w = p->w;
  const struct pq_config *cfg = w->cfg;
  struct judging *g = calloc(1, sizeof *g);
  p->judging = g;
  if (!g) {
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "out of memory");
    worker_paper_done(p);
    return;
  }
  if (!p->job.translation) {
    worker_paper_fail(p, PQ_CLASS_PERMANENT, "QA job without a translation to judge");
    worker_paper_done(p);
    return;
  }
  const char *base = cfg->qa.base_url[0] ? cfg->qa.base_url : cfg->translate.base_url;
  size_t blen = strlen(base);
  while (blen && base[blen - 1] == '/')
    blen--;
  snprintf(g->url, sizeof g->url, "%.*s/chat/completions", (int)blen, base);
  g->key =
      pq_config_secret(cfg->qa.api_key_env[0] ? cfg->qa.api_key_env : cfg->translate.api_key_env);
  g->excerpt = pq_qa_excerpt(p->job.record, p->job.translation, cfg->qa.excerpt_tokens);
  /* qa.judges is "model-a,model-b". */
  const char *s = cfg->qa.judges;
  while (*s && g->n < MAX_JUDGES) {
    size_t len = strcspn(s, ",");
    while (len && s[len - 1] == ' ')
      len--;
    if (len > 0 && len < sizeof g->j[0].model) {
      struct judge_req *jr = &g->j[g->n++];
      memcpy(jr->model, s, len);
      jr->model[len] = '\0';
      jr->p = p;
      char key[160];
      snprintf(key, sizeof key, "judge:%s", jr->model);
      if (p->job.done && cJSON_GetObjectItemCaseSensitive(p->job.done, key))
        jr->done = 1; /* judged by an earlier attempt */
    }
    s += strcspn(s, ",");
    while (*s == ',' || *s == ' ')
      s++;
  }
  if (g->n == 0) {
    worker_paper_fail(p, PQ_CLASS_PERMANENT, "no judges configured (qa.judges is empty)");
    worker_paper_done(p);
    return;
  }
  for (int i = 0; i < g->n && p->outcome == PQ_CLASS_OK; i++)
    if (!g->j[i].done)
      submit(p, &g->j[i]);
  if (p->outcome != PQ_CLASS_OK) {
    cancel_all(p);
    worker_paper_done(p);
  } else if (g->outstanding == 0) {
    worker_paper_done(p); /* every judge had answered before */
  }
}

/* Publishes the verdict to the ledger; p->wait_seq ends up as the last one. */
static int publish_scores(struct paper *p, struct judge_req *jr, const struct pq_qa_scores *s,
                          const struct pq_chat_result *res, double cost) {
  struct worker *w = p->w;
  cJSON *ev = pq_event_new("qa.scored", p->job.paper_id, p->job.gen, p->attempt, w->id);
  if (!ev)
    return PQ_ERR_NOMEM;
  cJSON_AddStringToObject(ev, "judge", jr->model);
  cJSON *sc = cJSON_AddObjectToObject(ev, "scores");
  for (int i = 0; i < PQ_QA_NSCORES; i++)
    cJSON_AddNumberToObject(sc, pq_qa_score_names[i], s->score[i]);
  cJSON_AddStringToObject(ev, "comments", s->comments);
  cJSON *u = cJSON_AddObjectToObject(ev, "usage");
  cJSON_AddNumberToObject(u, "prompt_tokens", (double)res->prompt_tokens);
  cJSON_AddNumberToObject(u, "completion_tokens", (double)res->completion_tokens);
  cJSON_AddNumberToObject(u, "requests", 1);
  cJSON_AddNumberToObject(ev, "cost_usd", cost);
  uint64_t seq = 0;
  int rc = pq_event_publish(w->mq, ev, &seq);
  cJSON_Delete(ev);
  if (rc == PQ_OK)
    p->wait_seq = seq;
  return rc;
}

void judge_on_response(struct http_req *r) {
  struct judge_req *jr = r->owner;
  struct paper *p = jr->p;
  struct worker *w = p->w;
  struct judging *g = p->judging;
  jr->active = 0;
  g->outstanding--;
  struct pq_chat_result res;
  pq_chat_parse(r->status, r->resp.data, r->resp.len, r->error, &res);
  g->llm_ms += r->finished_ms - r->started_ms;
  double cost = res.cost_usd >= 0
                    ? res.cost_usd
                    : pq_config_cost(w->cfg, jr->model, res.prompt_tokens, res.completion_tokens);
  if (res.cls != PQ_CLASS_RATE)
    g->requests++;
  g->prompt_tokens += res.prompt_tokens;
  g->completion_tokens += res.completion_tokens;
  g->cost += cost;
  if (res.cls == PQ_CLASS_RATE && ++jr->rate_retries <= MAX_RATE_RETRIES) {
    http_feedback(w->http, r, 1);
    jr->active = 1;
    g->outstanding++;
    http_submit(w->http, &jr->req, r->retry_after_ms >= 0 ? r->retry_after_ms : 1000);
    pq_chat_result_free(&res);
    return;
  }
  if (res.cls != PQ_CLASS_RATE)
    http_feedback(w->http, r, 0);
  if (res.cls == PQ_CLASS_FATAL) {
    char err[700];
    snprintf(err, sizeof err, "%s (judge model %s)", res.error, jr->model);
    pq_chat_result_free(&res);
    worker_fatal(w, err);
    return;
  }
  if (res.cls != PQ_CLASS_OK) {
    cancel_all(p);
    worker_paper_fail(p, res.cls == PQ_CLASS_RATE ? PQ_CLASS_TRANSIENT : res.cls, "judge %s: %s",
                      jr->model, res.error);
    pq_chat_result_free(&res);
    worker_paper_done(p);
    return;
  }
  struct pq_qa_scores s;
  char err[256];
  int prc = pq_qa_parse(res.content, &s, err, sizeof err);
  if (prc != PQ_OK) {
    pq_warn("paper %s: judge %s: %s", p->job.paper_id, jr->model, err);
    pq_chat_result_free(&res);
    if (++jr->tries <= w->cfg->translate.check_retries + 1) {
      submit(p, jr);
      return;
    }
    cancel_all(p);
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "judge %s: %s", jr->model, err);
    worker_paper_done(p);
    return;
  }
  int pub = publish_scores(p, jr, &s, &res, cost);
  pq_chat_result_free(&res);
  if (pub != PQ_OK) {
    cancel_all(p);
    worker_paper_fail(p, PQ_CLASS_TRANSIENT, "cannot publish the verdict of %s", jr->model);
    worker_paper_done(p);
    return;
  }
  jr->done = 1;
  pq_info("paper %s: judged by %s: overall %d", p->job.paper_id, jr->model, s.score[PQ_QA_OVERALL]);
  if (g->outstanding == 0)
    worker_paper_done(p);
}

void judge_free(struct paper *p) {
  struct judging *g = p->judging;
  if (!g)
    return;
  cancel_all(p);
  for (int i = 0; i < g->n; i++) {
    pq_buf_free(&g->j[i].req.resp);
    free(g->j[i].body);
  }
  free(g->excerpt);
  free(g);
  p->judging = NULL;
}

cJSON *judge_done_json(struct paper *p) {
  struct judging *g = p->judging;
  cJSON *d = cJSON_CreateObject();
  if (!d)
    return NULL;
  /* keep what the job already carried, add what this attempt finished */
  const cJSON *it;
  cJSON_ArrayForEach(it, p->job.done) cJSON_AddItemToObject(d, it->string, cJSON_Duplicate(it, 1));
  for (int i = 0; g && i < g->n; i++) {
    char key[160];
    snprintf(key, sizeof key, "judge:%s", g->j[i].model);
    if (g->j[i].done && !cJSON_GetObjectItemCaseSensitive(d, key))
      cJSON_AddTrueToObject(d, key);
  }
  return d;
}

void judge_usage(struct paper *p, long *prompt, long *completion, long *requests, double *cost,
                 int64_t *llm_ms) {
  struct judging *g = p->judging;
  if (!g)
    return;
  *prompt = g->prompt_tokens;
  *completion = g->completion_tokens;
  *requests = g->requests;
  *cost = g->cost;
  *llm_ms = g->llm_ms;
}
