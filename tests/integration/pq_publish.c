/* Test helper: publishes one message exactly as given, so integration tests
 * can send what no paperq program would (hostile jobs and events).
 *
 *   pq_publish EXCHANGE ROUTING_KEY TYPE ATTEMPT FILE
 *
 * EXCHANGE is the suffix after broker.prefix ("jobs", "events"); ATTEMPT 0
 * leaves the x-paperq-attempt header out; above 2^31 - 1 it is sent as a
 * 64-bit integer, as another client could. The configuration comes from the
 * environment like the programs' (PAPERQ_BROKER_URL, PAPERQ_BROKER_PREFIX).
 * Exit 0 when the broker confirmed the publish. */
#include "paperq/config.h"
#include "paperq/log.h"
#include "paperq/mq.h"
#include "paperq/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  struct pq_config cfg;
  struct pq_mq *mq = NULL;
  char err[1024], *body = NULL;
  size_t len;
  long attempt;
  int rc = 1;
  if (argc != 6 || pq_parse_long(argv[4], 0, LONG_MAX, &attempt) != PQ_OK) {
    fprintf(stderr, "usage: pq_publish EXCHANGE ROUTING_KEY TYPE ATTEMPT FILE\n");
    return 2;
  }
  pq_log_init("pq_publish");
  if (pq_config_load(NULL, &cfg, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "pq_publish: %s\n", err);
    goto cleanup;
  }
  if (pq_read_file(argv[5], 1u << 30, &body, &len) != PQ_OK) {
    fprintf(stderr, "pq_publish: cannot read %s\n", argv[5]);
    goto cleanup;
  }
  if (pq_mq_open(&cfg, "pq_publish", &mq, err, sizeof err) != PQ_OK) {
    fprintf(stderr, "pq_publish: %s\n", err);
    goto cleanup;
  }
  struct pq_mq_props props = {0};
  props.type = argv[3];
  props.attempt = attempt;
  if (pq_mq_publish(mq, argv[1], argv[2], &props, body, len, NULL) != PQ_OK ||
      pq_mq_wait_confirms(mq, 60000, NULL) != PQ_OK) {
    fprintf(stderr, "pq_publish: the broker did not confirm the publish\n");
    goto cleanup;
  }
  rc = 0;
cleanup:
  pq_mq_close(mq);
  free(body);
  pq_config_free(&cfg);
  return rc;
}
