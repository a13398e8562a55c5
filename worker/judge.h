/* QA judging of one translated paper (a job from P.qa). Mirrors
 * translate.h: start, responses, free, and what a retry carries. */
#ifndef WORKER_JUDGE_H
#define WORKER_JUDGE_H

#include "worker.h"

void judge_start(struct paper *p);
void judge_on_response(struct http_req *r);
void judge_free(struct paper *p);
/* Judges that have answered, for the retry copy (new object). */
cJSON *judge_done_json(struct paper *p);
void judge_usage(struct paper *p, long *prompt, long *completion, long *requests, double *cost,
                 int64_t *llm_ms);

#endif
