/* The /metrics endpoint: libmicrohttpd in its own polling thread (one
 * connection handled at a time is plenty for a scraper or two), and helpers
 * for the Prometheus text format. */
#include "paperq/metrics.h"
#include "paperq/log.h"
#include "paperq/util.h"

#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_SCRAPE_BYTES (8 << 20) /* a scrape's text; ours are a few KB */
#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10

struct pq_metrics_server {
  struct MHD_Daemon *daemon;
  pq_metrics_render_fn render;
  void *ctx;
  int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, body, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state) {
  struct pq_metrics_server *s = cls;
  (void)version;
  (void)upload;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                 pq_strdup("only GET /metrics\n"), strlen("only GET /metrics\n"));
  if (*state == NULL) { /* first call for this request: headers only */
    *state = s;
    return MHD_YES;
  }
  *upload_size = 0;
  if (strcmp(url, "/metrics") != 0) {
    static const char hint[] = "paperq: Prometheus metrics are at /metrics\n";
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", pq_strdup(hint),
                 sizeof hint - 1);
  }
  struct pq_buf b;
  pq_buf_init(&b, MAX_SCRAPE_BYTES);
  if (s->render(s->ctx, &b) != PQ_OK) {
    pq_buf_free(&b);
    static const char sorry[] = "paperq: cannot read the metrics now (see the program's log)\n";
    return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", pq_strdup(sorry),
                 sizeof sorry - 1);
  }
  size_t len = b.len;
  char *body = pq_buf_steal(&b);
  if (!body && (body = malloc(1)) == NULL)
    return MHD_NO;
  return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

/* libmicrohttpd's messages carry their own format; the attribute tells the
 * compiler that fmt is a printf format handed on, not a constant. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap) {
  char line[512];
  (void)cls;
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  pq_warn("metrics http: %s", line);
}

int pq_metrics_start(const char *listen, pq_metrics_render_fn render, void *ctx,
                     struct pq_metrics_server **out, char *err, size_t errlen) {
  char host[256], port[16];
  const char *colon = strrchr(listen, ':');
  *out = NULL;
  if (!colon || !colon[1] || strlen(colon + 1) >= sizeof port ||
      (size_t)(colon - listen) >= sizeof host) {
    snprintf(err, errlen, "metrics_listen \"%s\": expected host:port, [v6addr]:port or :port",
             listen);
    return PQ_ERR_PARSE;
  }
  snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
  snprintf(port, sizeof port, "%s", colon + 1);
  long pn;
  if (pq_parse_long(port, 0, 65535, &pn) != PQ_OK) {
    snprintf(err, errlen, "metrics_listen \"%s\": the port must be 0 to 65535", listen);
    return PQ_ERR_PARSE;
  }
  size_t hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    memmove(host, host + 1, hl - 2);
    host[hl - 2] = '\0';
  }
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
  if (gai != 0) {
    snprintf(err, errlen, "metrics_listen \"%s\": %s", listen, gai_strerror(gai));
    return PQ_ERR_PARSE;
  }
  struct pq_metrics_server *s = calloc(1, sizeof *s);
  if (!s) {
    freeaddrinfo(ai);
    return PQ_ERR_NOMEM;
  }
  s->render = render;
  s->ctx = ctx;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (ai->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The server's thread inherits this mask: SIGTERM and SIGINT stay with
   * the main thread, whose sleeps they are meant to cut short. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  s->daemon = MHD_start_daemon(flags, (uint16_t)pn, NULL, NULL, on_request, s,
                               MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first: see MHD */
                               MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                               (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                               (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  freeaddrinfo(ai);
  if (!s->daemon) {
    snprintf(err, errlen,
             "metrics_listen \"%s\": cannot listen there (port in use? address "
             "not on this host?)",
             listen);
    free(s);
    return PQ_ERR_IO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : (int)pn;
  *out = s;
  return PQ_OK;
}

int pq_metrics_port(const struct pq_metrics_server *s) { return s ? s->port : 0; }

void pq_metrics_stop(struct pq_metrics_server *s) {
  if (!s)
    return;
  MHD_stop_daemon(s->daemon);
  free(s);
}

/* ---- exposition format ---- */

void pq_metrics_family(struct pq_buf *b, const char *name, const char *type, const char *help) {
  pq_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_value(struct pq_buf *b, double v) {
  if (isnan(v))
    pq_buf_append_str(b, "NaN");
  else if (isinf(v))
    pq_buf_append_str(b, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 1e15)
    pq_buf_printf(b, "%.0f", v);
  else
    pq_buf_printf(b, "%.17g", v);
}

void pq_metrics_sample(struct pq_buf *b, const char *name, const char *const *labels,
                       double value) {
  pq_buf_append_str(b, name);
  if (labels && labels[0]) {
    pq_buf_append_str(b, "{");
    for (int i = 0; labels[i] && labels[i + 1]; i += 2) {
      pq_buf_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
      /* Label values: backslash, double quote and newline are escaped. */
      for (const char *p = labels[i + 1]; *p; p++) {
        if (*p == '\\' || *p == '"')
          pq_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
          pq_buf_append_str(b, "\\n");
        else
          pq_buf_append(b, p, 1);
      }
      pq_buf_append_str(b, "\"");
    }
    pq_buf_append_str(b, "}");
  }
  pq_buf_append_str(b, " ");
  put_value(b, value);
  pq_buf_append_str(b, "\n");
}

void pq_metrics_sample1(struct pq_buf *b, const char *name, const char *lname, const char *lvalue,
                        double value) {
  const char *labels[3] = {lname, lvalue, NULL};
  pq_metrics_sample(b, name, lname ? labels : NULL, value);
}
