/* A provider for the worker's job kinds with no socket: a work_submitter that
 * records what was sent, and chat-completions replies written from the
 * OpenAI API reference (choices[].message.content, finish_reason, usage with
 * OpenRouter's usage.cost), not from paperq's parser. The tests answer each
 * recorded request themselves, in any order, and read what the job kind does. */
#ifndef TESTS_FAKE_PROVIDER_H
#define TESTS_FAKE_PROVIDER_H

#include "paperq/buf.h"
#include "paperq/config.h"
#include "paperq/util.h"
#include "work.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_MAX_PENDING 4096

struct fake_provider {
  struct http_req *pending[FAKE_MAX_PENDING]; /* submitted, not answered or cancelled */
  int npending;
  int submitted, cancelled, rate_feedback, ok_feedback;
  long last_delay_ms;
};

static inline void fake_submit(void *ctx, struct http_req *req, long delay_ms) {
  struct fake_provider *fp = ctx;
  if (fp->npending < FAKE_MAX_PENDING)
    fp->pending[fp->npending++] = req;
  fp->submitted++;
  fp->last_delay_ms = delay_ms;
}

static inline void fake_remove(struct fake_provider *fp, struct http_req *req) {
  for (int i = 0; i < fp->npending; i++)
    if (fp->pending[i] == req) {
      memmove(&fp->pending[i], &fp->pending[i + 1],
              (size_t)(fp->npending - i - 1) * sizeof fp->pending[0]);
      fp->npending--;
      return;
    }
}

static inline void fake_cancel(void *ctx, struct http_req *req) {
  struct fake_provider *fp = ctx;
  int before = fp->npending;
  fake_remove(fp, req);
  if (fp->npending < before)
    fp->cancelled++;
}

static inline void fake_feedback(void *ctx, const struct http_req *req, int rate_limited,
                                 long used_tokens) {
  (void)used_tokens;
  struct fake_provider *fp = ctx;
  (void)req;
  if (rate_limited)
    fp->rate_feedback++;
  else
    fp->ok_feedback++;
}

static inline struct work_submitter fake_submitter(struct fake_provider *fp) {
  return (struct work_submitter){fp, fake_submit, fake_cancel, fake_feedback};
}

/* Loads conf (libconfig text) into cfg and wires env to fp, with both
 * endpoints from the config and the given keys. PQ_OK or the load error
 * (printed). */
static inline int fake_env(const char *conf, struct pq_config *cfg, struct fake_provider *fp,
                           struct work_env *env, const char *translate_key, const char *qa_key) {
  char path[] = "/tmp/pq_test_work_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, conf, strlen(conf)) != (ssize_t)strlen(conf))
    return PQ_ERR_IO;
  close(fd);
  char err[1024];
  int rc = pq_config_load(path, cfg, err, sizeof err);
  unlink(path);
  if (rc != PQ_OK) {
    fprintf(stderr, "config: %s\n", err);
    return rc;
  }
  memset(env, 0, sizeof *env);
  env->cfg = cfg;
  env->http = fake_submitter(fp);
  work_endpoint_init(&env->translate, cfg->translate.base_url, translate_key);
  work_endpoint_init(&env->qa, cfg->qa.base_url[0] ? cfg->qa.base_url : cfg->translate.base_url,
                     qa_key);
  return PQ_OK;
}

/* The request's last message (the user text) and its model, from the body
 * the job kind built (borrowed from the parsed copy: free with cJSON_Delete). */
static inline cJSON *fake_request(const struct http_req *req, const char **user,
                                  const char **model) {
  cJSON *body = cJSON_Parse(req->body);
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
  const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "model");
  *user = cJSON_IsString(content) ? content->valuestring : "";
  *model = cJSON_IsString(m) ? m->valuestring : "";
  return body;
}

/* A chat.completion object as the API reference shows it. */
static inline char *fake_completion(const char *model, const char *content,
                                    const char *finish_reason, long prompt_tokens,
                                    long completion_tokens, double cost) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", "gen-test-1");
  cJSON_AddStringToObject(o, "object", "chat.completion");
  cJSON_AddNumberToObject(o, "created", 1764720000);
  cJSON_AddStringToObject(o, "model", model);
  cJSON *choices = cJSON_AddArrayToObject(o, "choices");
  cJSON *c = cJSON_CreateObject();
  cJSON_AddNumberToObject(c, "index", 0);
  cJSON *msg = cJSON_AddObjectToObject(c, "message");
  cJSON_AddStringToObject(msg, "role", "assistant");
  cJSON_AddStringToObject(msg, "content", content);
  cJSON_AddStringToObject(c, "finish_reason", finish_reason);
  cJSON_AddItemToArray(choices, c);
  cJSON *u = cJSON_AddObjectToObject(o, "usage");
  cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt_tokens);
  cJSON_AddNumberToObject(u, "completion_tokens", (double)completion_tokens);
  cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt_tokens + completion_tokens));
  if (cost >= 0)
    cJSON_AddNumberToObject(u, "cost", cost);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

/* Sets req's result as http.c would and hands it to the job kind. */
static inline enum work_status fake_answer(struct fake_provider *fp, struct http_req *req,
                                           long status, const char *body, long retry_after_ms) {
  fake_remove(fp, req);
  pq_buf_free(&req->resp);
  pq_buf_init(&req->resp, 1 << 22);
  if (body)
    pq_buf_append(&req->resp, body, strlen(body));
  req->status = status;
  req->error[0] = '\0';
  if (status == 0)
    snprintf(req->error, sizeof req->error, "Connection reset by peer");
  req->retry_after_ms = retry_after_ms;
  req->started_ms = 1000;
  req->finished_ms = 1250;
  return work_answer(req);
}

/* What the worker queues after a failed attempt: w's job re-encoded with
 * what is done, decoded again as the next delivery will be (into *next).
 * Frees w. PQ_OK or the decoder's error. */
static inline int fake_requeue(struct work *w, const struct pq_job *job, struct pq_job *next) {
  size_t len = 0;
  char *again = w->kind->encode_again(job, w, &len);
  work_free(w);
  char err[256];
  int rc = again ? pq_job_decode(again, len, next, err, sizeof err) : PQ_ERR_NOMEM;
  free(again);
  return rc;
}

/* An English rendering of a masked request, the way the system prompt asks
 * for it: every <<<k>>> marker line kept in order, every [[...]] placeholder
 * copied once, and English words (about two letters per source character,
 * as English runs longer than Chinese) in place of the text. */
static inline char *fake_english(const char *sent) {
  size_t cap = strlen(sent) * 4 + 64, at = 0;
  char *out = malloc(cap);
  const char *line = sent;
  while (*line) {
    size_t len = strcspn(line, "\n");
    if (len >= 7 && strncmp(line, "<<<", 3) == 0 && strncmp(line + len - 3, ">>>", 3) == 0) {
      at += (size_t)snprintf(out + at, cap - at, "%.*s\n", (int)len, line);
    } else if (len > 0) {
      size_t chars = 0;
      for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)line[i] & 0xC0) != 0x80;
      const char *words = "the results of the study show a clear effect ";
      for (size_t n = 0; n < chars * 2 + 8; n++)
        out[at++] = words[n % strlen(words)];
      for (const char *p = line; (p = strstr(p, "[[")) && p < line + len;) {
        const char *end = strstr(p, "]]");
        if (!end || end > line + len)
          break;
        at += (size_t)snprintf(out + at, cap - at, " %.*s", (int)(end + 2 - p), p);
        p = end + 2;
      }
      out[at++] = '\n';
    } else {
      out[at++] = '\n';
    }
    line += len;
    if (*line == '\n')
      line++;
  }
  out[at] = '\0';
  return out;
}

#endif
