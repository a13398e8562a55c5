/* Secret removal for any text from a provider. Replacements are never longer
 * than what they replace, so callers redact in place inside fixed buffers. */
#define _GNU_SOURCE /* strcasestr */
#include "paperq/redact.h"
#include "paperq/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *secrets[PQ_REDACT_MAX_SECRETS];
static size_t nsecrets;

int pq_redact_add_secret(const char *secret) {
  if (!secret || strlen(secret) < 4)
    return PQ_OK;
  for (size_t i = 0; i < nsecrets; i++)
    if (strcmp(secrets[i], secret) == 0)
      return PQ_OK;
  if (nsecrets == PQ_REDACT_MAX_SECRETS)
    return PQ_ERR_TOOBIG;
  char *dup = strdup(secret);
  if (!dup)
    return PQ_ERR_NOMEM;
  secrets[nsecrets++] = dup;
  return PQ_OK;
}

void pq_redact_clear(void) {
  for (size_t i = 0; i < nsecrets; i++)
    free(secrets[i]);
  nsecrets = 0;
}

/* Replaces s[at, at+len) with rep (strlen(rep) <= len), shifting the rest. */
static void splice(char *s, size_t at, size_t len, const char *rep) {
  size_t rl = strlen(rep);
  memcpy(s + at, rep, rl);
  memmove(s + at + rl, s + at + len, strlen(s + at + len) + 1);
}

static int token_char(unsigned char c) {
  return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}

size_t pq_redact(char *s) {
  size_t n = 0;
  if (!s)
    return 0;
  for (size_t i = 0; i < nsecrets; i++) {
    size_t len = strlen(secrets[i]);
    char *p;
    while ((p = strstr(s, secrets[i])) != NULL) {
      splice(s, (size_t)(p - s), len, len >= 3 ? "***" : "");
      n++;
    }
  }
  /* "Bearer <token>": whatever the token is, it is a credential. */
  for (char *p = s; (p = strcasestr(p, "bearer")) != NULL;) {
    char *t = p + 6;
    while (*t == ' ' || *t == '\t')
      t++;
    size_t len = 0;
    while (token_char((unsigned char)t[len]))
      len++;
    if (t > p + 6 && len >= 3 && !(len == 3 && strncmp(t, "***", 3) == 0)) {
      splice(s, (size_t)(t - s), len, "***");
      n++;
    }
    p = t;
  }
  /* sk-..., sk-proj-..., sk-or-v1-...: OpenAI and OpenRouter key shapes. */
  for (char *p = s; (p = strstr(p, "sk-")) != NULL;) {
    if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-')) {
      p += 3;
      continue;
    }
    size_t len = 0;
    while (isalnum((unsigned char)p[3 + len]) || p[3 + len] == '-' || p[3 + len] == '_')
      len++;
    if (len >= 8) {
      splice(s, (size_t)(p - s) + 3, len, "***");
      n++;
    }
    p += 3;
  }
  return n;
}
