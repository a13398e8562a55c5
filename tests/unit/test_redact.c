/* Secrets out of provider text: the configured key, bearer tokens and
 * sk-shaped keys never reach a log line, the ledger or a report. */
#include "paperq/config.h"
#include "paperq/redact.h"
#include "pq_test.h"

#include <stdlib.h>

int main(void) {
  char s[512];
  /* A configured key is registered when it is read. */
  setenv("PQ_TEST_REDACT_KEY", "or-key-1234567890", 1);
  const char *key = pq_config_secret("PQ_TEST_REDACT_KEY");
  CHECK(key != NULL);
  snprintf(s, sizeof s, "upstream said: key or-key-1234567890 is invalid (or-key-1234567890)");
  CHECK(pq_redact(s) == 2);
  CHECK_STR(s, "upstream said: key *** is invalid (***)");
  /* An echoed Authorization header, whatever the token looks like. */
  snprintf(s, sizeof s,
           "{'Authorization': 'Bearer abc.DEF-123_xyz', 'x': 1} authorization: bearer  tok/en+==");
  pq_redact(s);
  CHECK_STR(s, "{'Authorization': 'Bearer ***', 'x': 1} authorization: bearer  ***");
  /* sk-... keys of OpenAI and OpenRouter, not words that merely contain "sk-". */
  snprintf(s, sizeof s, "sk-proj-AbC123dEf456 and sk-or-v1-0123456789abcdef; task-force sk-short");
  pq_redact(s);
  CHECK_STR(s, "sk-*** and sk-***; task-force sk-short");
  /* Idempotent, NULL-safe, nothing to do on clean text. */
  CHECK(pq_redact(s) == 0);
  CHECK(pq_redact(NULL) == 0);
  snprintf(s, sizeof s, "Bearer ***");
  CHECK(pq_redact(s) == 0);
  /* Short values would blank ordinary words: not registered. */
  CHECK(pq_redact_add_secret("ab") == 0);
  snprintf(s, sizeof s, "abc");
  pq_redact(s);
  CHECK_STR(s, "abc");
  pq_redact_clear();
  snprintf(s, sizeof s, "or-key-1234567890");
  CHECK(pq_redact(s) == 0);
  TEST_MAIN_END();
}
