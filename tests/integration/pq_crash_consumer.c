/* Test helper: a consumer that dies on the first message it gets, as a
 * program crashing on a poison message would (no ack, no nack: the
 * connection just goes away and the broker takes the message back).
 *
 *   pq_crash_consumer QUEUE     e.g. "ledger"
 *
 * Exit 3 after "crashing" on a delivery (its first 200 bytes on stdout), 0
 * when nothing arrived within 3 s. Configuration as the programs'. */
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <stdio.h>
#include <unistd.h>

static void on_delivery(void *ctx, const struct pq_mq_delivery *d) {
  (void)ctx;
  /* The body is not NUL-terminated (the sanitizer stage caught a %s here). */
  printf("crashing on a delivery of %zu bytes (delivery count %ld): %.*s\n", d->len,
         d->delivery_count, (int)(d->len < 200 ? d->len : 200), (const char *)d->body);
  fflush(stdout);
  _exit(3);
}

int main(int argc, char **argv) {
  struct pq_config cfg;
  struct pq_mq *mq = NULL;
  char err[1024];
  int rc = 1;
  if (argc != 2) {
    fprintf(stderr, "usage: pq_crash_consumer QUEUE\n");
    return 2;
  }
  pq_log_init("pq_crash_consumer");
  if (pq_config_load(NULL, &cfg, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "pq_crash_consumer: %s\n", err);
    goto cleanup;
  }
  if (pq_mq_open(&cfg, "pq_crash_consumer", &mq, err, sizeof err) != PQ_OK ||
      pq_mq_consume(mq, argv[1], 1) != PQ_OK) {
    fprintf(stderr, "pq_crash_consumer: %s\n", err);
    goto cleanup;
  }
  struct pq_mq_handler h = {NULL, on_delivery, NULL};
  int64_t until = pq_mono_ms() + 3000;
  while (pq_mono_ms() < until)
    if (pq_mq_pump(mq, 200, &h) != PQ_OK) {
      fprintf(stderr, "pq_crash_consumer: lost the broker connection\n");
      goto cleanup;
    }
  rc = 0;
cleanup:
  pq_mq_close(mq);
  pq_config_free(&cfg);
  return rc;
}
