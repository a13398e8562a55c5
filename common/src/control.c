/* Control message decoding: the only place a P.control body is parsed. */
#include "paperq/control.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

int pq_control_decode(const void *body, size_t len, struct pq_control *out, char *err,
                      size_t errlen) {
  memset(out, 0, sizeof *out);
  cJSON *msg = cJSON_ParseWithLength(body, len);
  int rc = PQ_ERR_PARSE;
  if (!cJSON_IsObject(msg)) {
    snprintf(err, errlen, "control message is not a JSON object (%zu bytes)", len);
    goto cleanup;
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, "v");
  if (v && !(cJSON_IsNumber(v) && v->valuedouble == 1)) {
    snprintf(err, errlen, "control message of an unknown version (v must be 1)");
    goto cleanup;
  }
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(msg, "cmd");
  if (!cJSON_IsString(cmd)) {
    snprintf(err, errlen, "control message without \"cmd\" (%zu bytes)", len);
    goto cleanup;
  }
  if (strcmp(cmd->valuestring, "pause") == 0)
    out->cmd = PQ_CONTROL_PAUSE;
  else if (strcmp(cmd->valuestring, "resume") == 0)
    out->cmd = PQ_CONTROL_RESUME;
  else {
    snprintf(err, errlen, "control message with an unknown cmd (pause and resume are known)");
    goto cleanup;
  }
  const cJSON *reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
  snprintf(out->reason, sizeof out->reason, "%s",
           cJSON_IsString(reason) && reason->valuestring[0] ? reason->valuestring : "operator");
  rc = PQ_OK;
cleanup:
  cJSON_Delete(msg);
  return rc;
}
