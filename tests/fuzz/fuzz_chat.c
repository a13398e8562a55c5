/* The chat-completions reply classifier: any status and body classify; an
 * OK reply has content and sane usage. First two bytes: the HTTP status. */
#include "fuzz.h"
#include "paperq/chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  long status = (long)((data[0] << 8 | data[1]) % 600);
  struct pq_chat_result r;
  pq_chat_parse(status, (const char *)data + 2, size - 2, "fuzz transport error", &r);
  FUZZ_ASSERT(memchr(r.error, '\0', sizeof r.error) && memchr(r.model, '\0', sizeof r.model));
  if (r.cls == PQ_CLASS_OK) {
    FUZZ_ASSERT(r.content != NULL);
    FUZZ_ASSERT(r.prompt_tokens >= 0 && r.completion_tokens >= 0);
  } else {
    FUZZ_ASSERT(r.error[0]);
  }
  pq_chat_result_free(&r);
  /* Retry-After values come from the same replies. */
  char *v = fuzz_str(data + 2, size - 2 < 80 ? size - 2 : 80);
  (void)pq_chat_retry_after_ms(v);
  free(v);
  return 0;
}
