/* Secrets out of text: any text that came from a provider (an error message
 * may echo the request's Authorization header) passes through pq_redact
 * before it is logged, stored or printed. pq_log applies it to every line. */
#ifndef PAPERQ_REDACT_H
#define PAPERQ_REDACT_H

#include <stddef.h>

#define PQ_REDACT_MAX_SECRETS 8

/* Remembers a secret (copied) so that pq_redact removes it wherever it
 * appears. pq_config_secret registers every secret it hands out, so callers
 * rarely need this. Values shorter than 4 bytes are not registered (they
 * would blank ordinary words); NULL or "" is ignored. PQ_OK, or
 * PQ_ERR_TOOBIG when PQ_REDACT_MAX_SECRETS are already held, PQ_ERR_NOMEM. */
int pq_redact_add_secret(const char *secret);
/* Forgets every registered secret (tests). */
void pq_redact_clear(void);

/* Rewrites s in place (the text only shrinks): every registered secret
 * becomes "***", "Bearer <token>" becomes "Bearer ***" (any case), and a
 * token shaped like an API key ("sk-" followed by 8 or more of
 * [A-Za-z0-9_-]) becomes "sk-***". Returns the number of replacements.
 * s may be NULL. */
size_t pq_redact(char *s);

#endif
