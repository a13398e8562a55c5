/* pq_http_get: a blocking libcurl GET with a bounded body and the
 * Retry-After header, for the harvester. */
#include "paperq/httpget.h"

#include "paperq/buf.h"
#include "paperq/chat.h"
#include "paperq/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct get_ctx {
  struct pq_buf body;
  int too_big;
  long retry_after_ms;
};

static size_t on_body(char *data, size_t size, size_t n, void *user) {
  struct get_ctx *c = user;
  size_t len = size * n;
  int rc = pq_buf_append(&c->body, data, len);
  if (rc == PQ_ERR_TOOBIG)
    c->too_big = 1;
  return rc == PQ_OK ? len : 0; /* 0 makes curl stop with a write error */
}

static size_t on_header(char *line, size_t size, size_t n, void *user) {
  struct get_ctx *c = user;
  size_t len = size * n;
  static const char name[] = "retry-after:";
  if (len > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
    char value[128];
    size_t v = len - (sizeof name - 1);
    if (v >= sizeof value)
      v = sizeof value - 1;
    memcpy(value, line + sizeof name - 1, v);
    value[v] = '\0';
    c->retry_after_ms = pq_chat_retry_after_ms(value);
  }
  return len;
}

int pq_http_get(const char *url, const struct pq_http_get_opts *o, struct pq_http_response *resp,
                char *err, size_t errlen) {
  static int global_init;
  struct get_ctx c;
  memset(resp, 0, sizeof *resp);
  resp->retry_after_ms = -1;
  if (!global_init) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      snprintf(err, errlen, "cannot initialise libcurl");
      return PQ_ERR;
    }
    global_init = 1;
  }
  memset(&c, 0, sizeof c);
  c.retry_after_ms = -1;
  pq_buf_init(&c.body, o->max_bytes);
  CURL *h = curl_easy_init();
  if (!h) {
    snprintf(err, errlen, "out of memory");
    return PQ_ERR_NOMEM;
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, o->timeout_s);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
  CURLcode cc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
  curl_easy_cleanup(h);
  resp->retry_after_ms = c.retry_after_ms;
  resp->len = c.body.len;
  resp->body = pq_buf_steal(&c.body);
  pq_buf_free(&c.body);
  if (!resp->body) {
    snprintf(err, errlen, "out of memory");
    return PQ_ERR_NOMEM;
  }
  if (c.too_big) {
    snprintf(err, errlen, "the answer is larger than %zu bytes", o->max_bytes);
    return PQ_ERR_TOOBIG;
  }
  switch (cc) {
  case CURLE_OK:
    return PQ_OK;
  case CURLE_OPERATION_TIMEDOUT:
    snprintf(err, errlen, "no complete answer within %ld s", o->timeout_s);
    return PQ_ERR_TIMEOUT;
  case CURLE_PARTIAL_FILE:
    snprintf(err, errlen,
             "partial download: the connection closed after %zu bytes, before the "
             "end the server announced",
             resp->len);
    return PQ_ERR_IO;
  default:
    snprintf(err, errlen, "%s", curl_easy_strerror(cc));
    return PQ_ERR_IO;
  }
}

void pq_http_response_free(struct pq_http_response *resp) {
  if (!resp)
    return;
  free(resp->body);
  resp->body = NULL;
  resp->len = 0;
}

char *pq_http_escape(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  char *out = malloc(3 * n + 1), *o = out;
  if (!out)
    return NULL;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~') {
      *o++ = (char)*p;
    } else {
      *o++ = '%';
      *o++ = hex[*p >> 4];
      *o++ = hex[*p & 15];
    }
  }
  *o = '\0';
  return out;
}
