/* Translating one paper: segments, masking, chunked requests, checks of
 * every response, and the translated document. */
#ifndef WORKER_TRANSLATE_H
#define WORKER_TRANSLATE_H

#include "worker.h"

/* Starts translating p (requests go to w->http). May end at once (dry run,
 * nothing left to translate, bad record), calling worker_paper_done. */
void xlate_start(struct paper *p);

/* An HTTP request of p has completed. */
void xlate_on_response(struct paper *p, struct http_req *r);

/* Cancels p's outstanding requests and frees its translation state. */
void xlate_free(struct paper *p);

/* For the outcome events (borrowed/new as noted):
 * the translation object for job.succeeded (new, caller frees);
 * segments translated so far, for a retry to carry (new or NULL);
 * usage of this attempt. */
cJSON *xlate_translation(struct paper *p);
cJSON *xlate_checks(struct paper *p);
cJSON *xlate_done_segments(struct paper *p);
void xlate_usage(struct paper *p, long *prompt, long *completion, long *requests, double *cost,
                 char *model, size_t modellen, int64_t *llm_ms);

#endif
