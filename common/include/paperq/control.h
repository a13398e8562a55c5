/* Control messages on P.control (docs/messages.md): pause and resume
 * broadcasts from the ledger's budget or an operator. Decoded here so the
 * worker and the fuzz target share one parser. */
#ifndef PAPERQ_CONTROL_H
#define PAPERQ_CONTROL_H

#include <stddef.h>

enum pq_control_cmd { PQ_CONTROL_PAUSE = 1, PQ_CONTROL_RESUME };

struct pq_control {
  enum pq_control_cmd cmd;
  char reason[256]; /* "operator" when the message gives none; cut to fit */
};

/* Parses a control body. PQ_OK, or PQ_ERR_PARSE with the reason in err (not
 * a JSON object, a version other than 1, no or an unknown "cmd"). */
int pq_control_decode(const void *body, size_t len, struct pq_control *out, char *err,
                      size_t errlen);

#endif
