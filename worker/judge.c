/* QA judging of one translated paper: every configured judge model gets the
 * rubric and the same aligned excerpt; each valid verdict is sent to the
 * ledger as a qa.scored event at once (with what that judge cost, wasted
 * replies included), and a retried QA job skips the judges that already
 * answered (they travel in the job's "done"). A reply with no usable verdict
 * is asked again while the paper's paid judge requests stay within
 * qa.max_requests_per_paper (counted across attempts, in "done"); then the
 * QA job is parked with the reason: never a stored zero, never an unbounded
 * loop of paid re-asks. One judge's failure does not cancel the others:
 * their answers are paid for and kept. */
#include "work.h"
#include "paperq/chat.h"
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/qa.h"
#include "paperq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JUDGES 8
#define DONE_REQUESTS "qa_requests" /* paid judge requests of earlier attempts */

struct judge_call {
  struct llm_call call; /* first: the call is the judge's request */
  char name[128];       /* the judge model */
  int tries;            /* unusable verdicts so far */
  int done;             /* its verdict is in (this attempt or an earlier one) */
};

struct judging {
  struct work base; /* first: a struct work is a struct judging */
  struct judge_call j[MAX_JUDGES];
  int n;
  char *excerpt;        /* what every judge reads */
  long requests_before; /* paid judge requests of earlier attempts (done) */
  long answers;         /* paid judge answers of this attempt (429s excluded) */
};

static struct judging *judging_of(struct work *w) { return (struct judging *)w; }

static void submit(struct judging *g, struct judge_call *jc) {
  const struct pq_config *cfg = g->base.env->cfg;
  struct pq_chat_req q = {jc->name, pq_qa_rubric(),    g->excerpt,        cfg->qa.max_tokens,
                          0.0,      cfg->qa.reasoning, cfg->qa.extra_body};
  char *body = pq_chat_build(&q);
  if (work_call(&g->base, &jc->call, &g->base.env->qa, jc->name, body) != PQ_OK)
    work_fail(&g->base, PQ_CLASS_TRANSIENT, "out of memory building a judge request");
}

static void done_key(const struct judge_call *jc, char *key, size_t len) {
  snprintf(key, len, "judge:%s", jc->name);
}

/* qa.judges is "model-a,model-b"; judges that answered an earlier attempt
 * travel in the job's "done" and are not asked again. */
static void add_judges(struct judging *g, const char *list, const cJSON *done) {
  const char *s = list;
  while (*s && g->n < MAX_JUDGES) {
    size_t len = strcspn(s, ",");
    while (len && s[len - 1] == ' ')
      len--;
    if (len > 0 && len < sizeof g->j[0].name) {
      struct judge_call *jc = &g->j[g->n++];
      memcpy(jc->name, s, len);
      jc->name[len] = '\0';
      char key[160];
      done_key(jc, key, sizeof key);
      if (done && cJSON_GetObjectItemCaseSensitive(done, key))
        jc->done = 1;
    }
    s += strcspn(s, ",");
    while (*s == ',' || *s == ' ')
      s++;
  }
}

static enum work_status judge_start(struct work *w) {
  struct judging *g = judging_of(w);
  const struct pq_config *cfg = w->env->cfg;
  if (!w->job->translation) {
    work_fail(w, PQ_CLASS_PERMANENT, "QA job without a translation to judge");
    return WORK_FAILED;
  }
  g->excerpt = pq_qa_excerpt(w->job->record, w->job->translation, cfg->qa.excerpt_tokens);
  add_judges(g, cfg->qa.judges, w->job->done);
  const cJSON *before = cJSON_GetObjectItemCaseSensitive(w->job->done, DONE_REQUESTS);
  g->requests_before =
      cJSON_IsNumber(before) && before->valuedouble > 0 ? (long)before->valuedouble : 0;
  if (g->requests_before >= cfg->qa.max_requests_per_paper) {
    work_fail(w, PQ_CLASS_PERMANENT,
              "QA gave up: %ld paid judge requests without every verdict "
              "(qa.max_requests_per_paper = %d)",
              g->requests_before, cfg->qa.max_requests_per_paper);
    return WORK_FAILED;
  }
  if (g->n == 0) {
    work_fail(w, PQ_CLASS_PERMANENT, "no judges configured (qa.judges is empty)");
    return WORK_FAILED;
  }
  for (int i = 0; i < g->n && w->outcome == PQ_CLASS_OK; i++)
    if (!g->j[i].done)
      submit(g, &g->j[i]);
  if (w->outcome != PQ_CLASS_OK) {
    work_cancel_all(w);
    return WORK_FAILED;
  }
  return w->outstanding == 0 ? WORK_DONE /* every judge had answered before */ : WORK_PENDING;
}

/* The verdict, for the ledger: a qa.scored event, sent at once, with the
 * scores as the judge wrote them (reals) and what this judge has cost since
 * its last verdict, thrown-away replies included. */
static cJSON *verdict_fields(struct work *w, struct judge_call *jc, const struct pq_qa_scores *s,
                             const struct pq_chat_result *res) {
  cJSON *ev = cJSON_CreateObject();
  if (!ev)
    return NULL;
  struct pq_spend spend;
  long pt, ct, requests;
  work_take_spend(w, &jc->call, &spend, &pt, &ct, &requests);
  cJSON_AddStringToObject(ev, "judge", jc->name);
  cJSON *sc = cJSON_AddObjectToObject(ev, "scores");
  for (int i = 0; sc && i < PQ_QA_NSCORES; i++)
    cJSON_AddNumberToObject(sc, pq_qa_score_names[i], s->value[i]);
  cJSON_AddStringToObject(ev, "comments", s->comments);
  if (res->provider[0])
    cJSON_AddStringToObject(ev, "provider", res->provider);
  cJSON *u = cJSON_AddObjectToObject(ev, "usage");
  if (u) {
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)pt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)ct);
    cJSON_AddNumberToObject(u, "requests", (double)requests);
  }
  cJSON_AddNumberToObject(ev, "cost_usd", spend.cost_usd);
  if (pq_spend_to_json(&spend, ev) != PQ_OK) {
    cJSON_Delete(ev);
    return NULL;
  }
  return ev;
}

static long paid_requests(const struct judging *g) { return g->requests_before + g->answers; }

/* Where the attempt stands once an answer has been dealt with. */
static enum work_status standing(struct work *w) {
  if (w->outstanding > 0)
    return WORK_PENDING;
  return w->outcome == PQ_CLASS_OK ? WORK_DONE : WORK_FAILED;
}

/* A reply with no usable verdict: ask that judge again within the paper's
 * cap on paid judge requests, else give up on the QA job. */
static void reask(struct judging *g, struct judge_call *jc, const char *why) {
  struct work *w = &g->base;
  int cap = w->env->cfg->qa.max_requests_per_paper;
  pq_warn("paper %s: judge %s: %s", w->job->paper_id, jc->name, why);
  jc->tries++;
  if (w->outcome != PQ_CLASS_OK)
    return;
  if (paid_requests(g) + w->outstanding < cap) {
    submit(g, jc);
    return;
  }
  work_fail(w, PQ_CLASS_PERMANENT,
            "QA gave up: judge %s: %s; %ld paid judge requests on this paper "
            "(qa.max_requests_per_paper = %d)",
            jc->name, why, paid_requests(g), cap);
}

static enum work_status judge_on_answer(struct work *w, struct llm_call *call,
                                        const struct pq_chat_result *res) {
  struct judging *g = judging_of(w);
  struct judge_call *jc = (struct judge_call *)call;
  g->answers++;
  if (res->cls != PQ_CLASS_OK) {
    /* An answer cut short or spent on reasoning is a verdict not given;
     * anything else fails the attempt once the others are in. */
    if (res->reason == PQ_REASON_LENGTH || res->reason == PQ_REASON_REASONING_ONLY ||
        res->reason == PQ_REASON_PROVIDER_ERROR)
      reask(g, jc, res->error);
    else if (w->outcome == PQ_CLASS_OK)
      work_fail(w, res->cls, "judge %s: %s", jc->name, res->error);
    return standing(w);
  }
  struct pq_qa_scores s;
  char err[256];
  if (pq_qa_parse(res->content, &s, err, sizeof err) != PQ_OK) {
    work_waste(w, call, PQ_WASTE_VERDICT);
    reask(g, jc, err);
    return standing(w);
  }
  if (work_emit(w, "qa.scored", verdict_fields(w, jc, &s, res)) != PQ_OK) {
    if (w->outcome == PQ_CLASS_OK)
      work_fail(w, PQ_CLASS_TRANSIENT, "cannot publish the verdict of %s", jc->name);
    return standing(w);
  }
  jc->done = 1;
  pq_info("paper %s: judged by %s: overall %.2f", w->job->paper_id, jc->name,
          s.value[PQ_QA_OVERALL]);
  return standing(w);
}

/* The judges that have answered: those the job carried and this attempt's. */
static cJSON *done_json(const struct pq_job *job, struct judging *g) {
  cJSON *d = cJSON_CreateObject();
  if (!d)
    return NULL;
  const cJSON *it;
  cJSON_ArrayForEach(it, job->done) cJSON_AddItemToObject(d, it->string, cJSON_Duplicate(it, 1));
  for (int i = 0; g && i < g->n; i++) {
    char key[160];
    done_key(&g->j[i], key, sizeof key);
    if (g->j[i].done && !cJSON_GetObjectItemCaseSensitive(d, key))
      cJSON_AddTrueToObject(d, key);
  }
  if (g) { /* the paid requests so far: the cap holds across attempts */
    cJSON_DeleteItemFromObjectCaseSensitive(d, DONE_REQUESTS);
    cJSON_AddNumberToObject(d, DONE_REQUESTS, (double)paid_requests(g));
  }
  return d;
}

static char *judge_encode_again(const struct pq_job *job, struct work *w, size_t *len) {
  cJSON *done = done_json(job, w ? judging_of(w) : NULL);
  char *body = pq_job_encode_qa(job->record, job->gen, job->translation, done, len);
  cJSON_Delete(done);
  return body;
}

static struct work *judge_create(void) {
  struct judging *g = calloc(1, sizeof *g);
  return g ? &g->base : NULL;
}

static void judge_destroy(struct work *w) {
  struct judging *g = judging_of(w);
  for (int i = 0; i < g->n; i++)
    work_call_release(&g->j[i].call);
  free(g->excerpt);
  free(g);
}

const struct work_kind work_qa = {
    .name = "QA",
    .msg_type = PQ_MSG_TYPE_QA,
    .routing_key = PQ_RK_QA,
    .failed_event = "qa.failed",
    .success_event = NULL, /* every verdict went out as a qa.scored event */
    .announce_start = 0,
    .model_role = "judge model",
    .settings = "qa",
    .create = judge_create,
    .start = judge_start,
    .on_answer = judge_on_answer,
    .describe_success = NULL,
    .encode_again = judge_encode_again,
    .destroy = judge_destroy,
};
