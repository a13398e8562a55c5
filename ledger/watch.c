/* `paperq-ledger watch`: the run as it happens. On a terminal it redraws one
 * screen in place every interval; piped (or with --plain) it prints one
 * summary line per interval. It opens the database read-only and reads one
 * short snapshot per interval (WAL: serve keeps writing meanwhile). */
#include "db.h"
#include "ledger.h"
#include "query.h"
#include "report.h"

#include "paperq/buf.h"
#include "paperq/config.h"
#include "paperq/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX (1 << 20) /* bytes of one screen */
#define RECENT_ROWS 5       /* recent completions shown */
#define FAILURE_ROWS 6      /* reason classes shown */
#define WORKER_ROWS 8       /* workers shown (live and stale first) */

/* What one interval shows, beyond the report object. */
struct snapshot {
  cJSON *report;
  cJSON *recent;   /* [{paper_id, title, created_ms, llm_ms, cost_usd}] */
  cJSON *failures; /* [{class, attempts, papers}] */
  cJSON *parked;   /* [{reason, papers}] */
};

static void snapshot_free(struct snapshot *s) {
  cJSON_Delete(s->report);
  cJSON_Delete(s->recent);
  cJSON_Delete(s->failures);
  cJSON_Delete(s->parked);
  memset(s, 0, sizeof *s);
}

static int add_recent(void *ctx, const struct ledger_recent_row *r) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "paper_id", r->paper_id ? r->paper_id : "");
  cJSON_AddStringToObject(e, "title", r->title ? r->title : "");
  cJSON_AddNumberToObject(e, "created_ms", (double)r->created_ms.v);
  cJSON_AddNumberToObject(e, "llm_ms", (double)r->llm_ms.v);
  cJSON_AddNumberToObject(e, "cost_usd", r->cost_usd);
  cJSON_AddItemToArray(ctx, e);
  return PQ_OK;
}

static int add_failure(void *ctx, const struct ledger_failure_row *r) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "class", r->error_class ? r->error_class : "unknown");
  cJSON_AddNumberToObject(e, "attempts", (double)r->attempts);
  cJSON_AddNumberToObject(e, "papers", (double)r->papers);
  cJSON_AddItemToArray(ctx, e);
  return PQ_OK;
}

static int add_parked(void *ctx, const struct ledger_parked_reason_row *r) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "reason", r->reason ? r->reason : "unknown");
  cJSON_AddNumberToObject(e, "papers", (double)r->papers);
  cJSON_AddItemToArray(ctx, e);
  return PQ_OK;
}

/* The failure tables are scans (of attempts, of parked papers); on a big
 * ledger they cost more than the rest of a frame. They are read again only
 * when 10 times their last cost has passed, so they never take more than a
 * tenth of the time however short the interval (figures in
 * docs/observability.md); the frames in between show the last ones read. */
struct scans {
  cJSON *failures, *parked;
  int64_t at_ms, cost_ms; /* monotonic time of the last scan, and what it took */
};

/* One read transaction for everything the screen shows. */
static int take(struct ledger_db *db, const struct pq_config *cfg, int full, struct scans *sc,
                struct snapshot *s) {
  int own, rc;
  memset(s, 0, sizeof *s);
  if ((rc = ledger_query_begin(db, &own)))
    return rc;
  rc = ledger_report_build(db, cfg, pq_now_ms(), &s->report);
  if (!rc && !(s->recent = cJSON_CreateArray()))
    rc = PQ_ERR_NOMEM;
  if (!rc && full)
    rc = ledger_query_recent_translations(db, RECENT_ROWS, add_recent, s->recent);
  int64_t t0 = pq_mono_ms();
  if (!rc && (!sc->failures || t0 - sc->at_ms >= 10 * sc->cost_ms)) {
    cJSON *failures = cJSON_CreateArray(), *parked = cJSON_CreateArray();
    if (!failures || !parked)
      rc = PQ_ERR_NOMEM;
    if (!rc)
      rc = ledger_query_failure_classes(db, add_failure, failures);
    if (!rc)
      rc = ledger_query_parked_reasons(db, add_parked, parked);
    if (rc) {
      cJSON_Delete(failures);
      cJSON_Delete(parked);
    } else {
      cJSON_Delete(sc->failures);
      cJSON_Delete(sc->parked);
      sc->failures = failures;
      sc->parked = parked;
      sc->at_ms = pq_mono_ms();
      sc->cost_ms = sc->at_ms - t0;
    }
  }
  ledger_query_end(db, own);
  if (rc) {
    snapshot_free(s);
    return rc;
  }
  s->failures = cJSON_Duplicate(sc->failures, 1);
  s->parked = cJSON_Duplicate(sc->parked, 1);
  if (!s->failures || !s->parked) {
    snapshot_free(s);
    return PQ_ERR_NOMEM;
  }
  return PQ_OK;
}

/* ---- small formatters ---- */

/* Appends text from the ledger (titles, ids, classes: written by whoever
 * produced the input) as at most `cols` characters, with control bytes
 * replaced so that nothing in a title can move the cursor or recolour the
 * terminal. UTF-8 sequences are kept whole. */
static void put_text(struct pq_buf *b, const char *s, int cols) {
  int n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p && n < cols; n++) {
    size_t len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 1;
    size_t ok = 1;
    while (ok < len && (p[ok] & 0xc0) == 0x80)
      ok++;
    if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && ok != len) || (*p >= 0x80 && len == 1)) {
      pq_buf_append(b, "?", 1);
      p++;
      continue;
    }
    /* C1 controls (U+0080..U+009F) are escapes on some terminals too. */
    if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0)
      pq_buf_append(b, "?", 1);
    else
      pq_buf_append(b, p, len);
    p += len;
  }
}

/* The terminal's size; 80 x 24 when it does not say. */
static void term_size(int *cols, int *rows) {
  struct winsize ws;
  *cols = 80;
  *rows = 24;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
    if (ws.ws_col >= 40)
      *cols = ws.ws_col > 200 ? 200 : ws.ws_col;
    if (ws.ws_row >= 5)
      *rows = ws.ws_row;
  }
}

/* A frame taller than the terminal would scroll, and the next one would be
 * drawn from the wrong top line: keep the first rows - 1 lines. */
static void fit_rows(struct pq_buf *b, int rows) {
  int lines = 0;
  for (size_t i = 0; i < b->len; i++)
    if (b->data[i] == '\n' && ++lines == rows - 1) {
      b->len = i + 1;
      b->data[b->len] = '\0';
      pq_buf_append_str(b, "\033[J");
      return;
    }
}

/* ---- the screen ---- */

/* Ends a screen line: clears what the previous frame left to its right. */
static void eol(struct pq_buf *b) { pq_buf_append_str(b, "\033[K\n"); }

static void draw_bar(struct pq_buf *b, double done, double parked, double total, int width) {
  int ok = total > 0 ? (int)((done - parked) / total * width + 0.5) : 0;
  int bad = total > 0 ? (int)(parked / total * width + 0.5) : 0;
  if (ok + bad > width)
    ok = width - bad;
  pq_buf_append_str(b, "[");
  for (int i = 0; i < width; i++)
    pq_buf_append_str(b, i < ok ? "#" : i < ok + bad ? "x" : ".");
  pq_buf_append_str(b, "]");
}

/* Progress, rate, ETA, spend and QA. */
static void draw_progress(struct pq_buf *b, const cJSON *r, int cols) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "papers");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(r, "cost");
  const cJSON *qa = cJSON_GetObjectItemCaseSensitive(r, "qa");
  char a[48];
  double total = ledger_report_num(p, "total"), succeeded = ledger_report_num(p, "succeeded"),
         parked = ledger_report_num(p, "parked");
  double done = succeeded + parked;
  int width = cols - 30 < 10 ? 10 : cols - 30;
  draw_bar(b, done, parked, total, width);
  pq_buf_printf(b, " %5.1f%%  %.0f of %.0f", total > 0 ? done / total * 100 : 0, done, total);
  eol(b);
  pq_buf_printf(b, "  succeeded %.0f   parked %.0f   queued %.0f   running %.0f   retrying %.0f",
                succeeded, parked, ledger_report_num(p, "queued"), ledger_report_num(p, "running"),
                ledger_report_num(p, "retrying"));
  eol(b);
  eol(b);

  pq_buf_printf(b, "rate     %.1f papers/min over 5 min, %.1f over 15 min",
                ledger_report_num(r, "rate.last_5_min"), ledger_report_num(r, "rate.last_15_min"));
  eol(b);
  if (ledger_report_num(p, "remaining") == 0)
    pq_buf_printf(b, "ETA      nothing left to do");
  else if (ledger_report_known(r, "eta_s"))
    pq_buf_printf(b, "ETA      %s for %.0f papers",
                  ledger_fmt_duration(ledger_report_num(r, "eta_s"), a, sizeof a),
                  ledger_report_num(p, "remaining"));
  else
    pq_buf_printf(b, "ETA      unknown (%.0f papers left, none finished lately)",
                  ledger_report_num(p, "remaining"));
  eol(b);
  pq_buf_printf(b, "spend    $%.4f so far", ledger_report_num(r, "cost_usd"));
  if (ledger_report_known(cost, "projected_total_usd"))
    pq_buf_printf(b, "; ~$%.4f projected for all %.0f papers ($%.5f per paper)",
                  ledger_report_num(cost, "projected_total_usd"), total,
                  ledger_report_num(cost, "per_paper_usd"));
  eol(b);
  const cJSON *mean = cJSON_GetObjectItemCaseSensitive(qa, "mean_overall");
  if (cJSON_IsNumber(mean))
    pq_buf_printf(b, "QA       mean overall %.2f over %.0f judgements of %.0f papers",
                  mean->valuedouble, ledger_report_num(qa, "judgements"),
                  ledger_report_num(qa, "papers_judged"));
  else
    pq_buf_printf(b, "QA       no judgements yet");
  eol(b);
}

/* Live and stale workers (at most WORKER_ROWS), then any that stopped on a
 * fatal provider error. */
static void draw_workers(struct pq_buf *b, const cJSON *r, int cols) {
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "workers");
  const cJSON *e;
  char a[48];
  pq_buf_printf(b, "workers  %.0f live, %.0f stale (silent > %.0f s), %.0f stopped",
                ledger_report_num(w, "live"), ledger_report_num(w, "stale"),
                ledger_report_num(w, "stale_s"), ledger_report_num(w, "stopped"));
  eol(b);
  int shown = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w, "list")) {
    const char *state = ledger_report_str(e, "state");
    if (strcmp(state, "live") != 0 && strcmp(state, "stale") != 0)
      continue;
    if (shown++ == WORKER_ROWS) {
      pq_buf_printf(b, "  ...");
      eol(b);
      break;
    }
    double silent_s =
        (ledger_report_num(r, "generated_ms") - ledger_report_num(e, "last_seen_ms")) / 1000;
    pq_buf_append_str(b, "  ");
    put_text(b, ledger_report_str(e, "worker"), 32);
    pq_buf_printf(b, "  %-5s %4.0f in flight  %6.0f done  %4.0f failed  seen %s ago", state,
                  ledger_report_num(e, "in_flight"), ledger_report_num(e, "done"),
                  ledger_report_num(e, "failed"), ledger_fmt_duration(silent_s, a, sizeof a));
    eol(b);
  }
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w, "fatal")) {
    pq_buf_append_str(b, "  !!! ");
    put_text(b, ledger_report_str(e, "worker"), 32);
    pq_buf_append_str(b, " stopped: ");
    put_text(b, ledger_report_str(e, "error"), cols - 50 > 20 ? cols - 50 : 20);
    eol(b);
  }
}

/* The latest translations, newest first. */
static void draw_recent(struct pq_buf *b, const cJSON *recent, int cols) {
  const cJSON *e;
  char ts[32];
  struct tm tm;
  pq_buf_printf(b, "recent completions");
  eol(b);
  if (cJSON_GetArraySize(recent) == 0) {
    pq_buf_printf(b, "  none yet");
    eol(b);
  }
  cJSON_ArrayForEach(e, recent) {
    time_t t = (time_t)(ledger_report_num(e, "created_ms") / 1000);
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    pq_buf_printf(b, "  %s  ", ts);
    put_text(b, ledger_report_str(e, "paper_id"), 28);
    pq_buf_printf(b, "  %6.1f s  $%.5f  ", ledger_report_num(e, "llm_ms") / 1000,
                  ledger_report_num(e, "cost_usd"));
    put_text(b, ledger_report_str(e, "title"), cols - 70 > 10 ? cols - 70 : 10);
    eol(b);
  }
}

/* Failed attempts by class and parked papers by reason, FAILURE_ROWS each. */
static void draw_failures(struct pq_buf *b, const struct snapshot *s, int cols) {
  const cJSON *e;
  pq_buf_printf(b, "failures by reason class");
  eol(b);
  if (cJSON_GetArraySize(s->failures) == 0 && cJSON_GetArraySize(s->parked) == 0) {
    pq_buf_printf(b, "  none");
    eol(b);
  }
  int shown = 0;
  cJSON_ArrayForEach(e, s->failures) {
    if (shown++ == FAILURE_ROWS)
      break;
    pq_buf_append_str(b, "  ");
    put_text(b, ledger_report_str(e, "class"), 24);
    pq_buf_printf(b, "  %.0f failed attempts (%.0f papers)", ledger_report_num(e, "attempts"),
                  ledger_report_num(e, "papers"));
    eol(b);
  }
  shown = 0;
  cJSON_ArrayForEach(e, s->parked) {
    if (shown++ == FAILURE_ROWS)
      break;
    pq_buf_printf(b, "  parked: %.0f papers: ", ledger_report_num(e, "papers"));
    put_text(b, ledger_report_str(e, "reason"), cols - 30 > 20 ? cols - 30 : 20);
    eol(b);
  }
}

/* One frame: the cursor goes home, every line clears its own rest, and the
 * screen below the frame is cleared (the previous frame may have been longer). */
static void draw(struct pq_buf *b, const struct snapshot *s, double interval, int cols) {
  const cJSON *r = s->report;
  char ts[32];
  time_t now = (time_t)(ledger_report_num(r, "generated_ms") / 1000);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S UTC", &tm);

  pq_buf_append_str(b, "\033[H");
  pq_buf_printf(b, "paperq watch  ");
  put_text(b, ledger_report_str(r, "db"), cols / 2);
  pq_buf_printf(b, "  %s  (every %g s; Ctrl-C quits)", ts, interval);
  eol(b);
  eol(b);
  draw_progress(b, r, cols);
  eol(b);
  draw_workers(b, r, cols);
  eol(b);
  draw_recent(b, s->recent, cols);
  eol(b);
  draw_failures(b, s, cols);
  pq_buf_append_str(b, "\033[J");
}

/* The pipe's line: everything in one line a log or `grep` can take. */
static void line(struct pq_buf *b, const struct snapshot *s) {
  const cJSON *r = s->report;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "papers");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(r, "cost");
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "workers");
  const cJSON *qa = cJSON_GetObjectItemCaseSensitive(r, "qa");
  const cJSON *e;
  char ts[32], a[48];
  time_t now = (time_t)(ledger_report_num(r, "generated_ms") / 1000);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  double total = ledger_report_num(p, "total"),
         done = ledger_report_num(p, "succeeded") + ledger_report_num(p, "parked");
  double in_flight = 0, failed = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w, "list")) {
    if (strcmp(ledger_report_str(e, "state"), "live") == 0)
      in_flight += ledger_report_num(e, "in_flight");
  }
  cJSON_ArrayForEach(e, s->failures) { failed += ledger_report_num(e, "attempts"); }
  pq_buf_printf(b,
                "%s done %.0f/%.0f (%.1f%%): succeeded %.0f, parked %.0f, queued %.0f, "
                "running %.0f, retrying %.0f; rate %.1f/min; ",
                ts, done, total, total > 0 ? done / total * 100 : 0,
                ledger_report_num(p, "succeeded"), ledger_report_num(p, "parked"),
                ledger_report_num(p, "queued"), ledger_report_num(p, "running"),
                ledger_report_num(p, "retrying"), ledger_report_num(r, "rate_per_min"));
  if (ledger_report_num(p, "remaining") == 0)
    pq_buf_printf(b, "ETA done; ");
  else if (ledger_report_known(r, "eta_s"))
    pq_buf_printf(b, "ETA %s; ", ledger_fmt_duration(ledger_report_num(r, "eta_s"), a, sizeof a));
  else
    pq_buf_printf(b, "ETA unknown; ");
  pq_buf_printf(b, "spent $%.4f", ledger_report_num(r, "cost_usd"));
  if (ledger_report_known(cost, "projected_total_usd"))
    pq_buf_printf(b, ", projected $%.4f", ledger_report_num(cost, "projected_total_usd"));
  pq_buf_printf(b, "; workers %.0f live, %.0f stale, %.0f in flight; failed attempts %.0f; QA ",
                ledger_report_num(w, "live"), ledger_report_num(w, "stale"), in_flight, failed);
  const cJSON *mean = cJSON_GetObjectItemCaseSensitive(qa, "mean_overall");
  if (cJSON_IsNumber(mean))
    pq_buf_printf(b, "%.2f\n", mean->valuedouble);
  else
    pq_buf_printf(b, "-\n");
}

/* Writes all of b; 0, or -1 when the reader went away (EPIPE) or the
 * terminal failed. */
static int put(const struct pq_buf *b) {
  size_t off = 0;
  while (off < b->len) {
    ssize_t n = write(STDOUT_FILENO, b->data + off, b->len - off);
    if (n < 0 && errno == EINTR) {
      if (ledger_stop)
        return 0;
      continue;
    }
    if (n <= 0)
      return -1;
    off += (size_t)n;
  }
  return 0;
}

/* Sleeps until `until` (monotonic ms) in short steps, so SIGTERM and
 * Ctrl-C end the watch promptly. */
static void nap_until(int64_t until) {
  while (!ledger_stop && pq_mono_ms() < until) {
    int64_t left = until - pq_mono_ms();
    struct timespec ts = {0, (long)(left < 100 ? left : 100) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

int ledger_watch(const struct pq_config *cfg, double interval_s, int plain) {
  struct ledger_db *db = NULL;
  struct pq_buf b;
  char err[1024];
  int rc = PQ_EXIT_OK;
  int tty = !plain && isatty(STDOUT_FILENO);
  int64_t step = (int64_t)(interval_s * 1000 + 0.5);
  int waiting_said = 0;
  struct scans sc = {NULL, NULL, 0, 0};
  pq_buf_init(&b, FRAME_MAX);
  if (tty) {
    static const char hide[] = "\033[?25l\033[2J";
    if (write(STDOUT_FILENO, hide, sizeof hide - 1) < 0)
      return PQ_EXIT_RUNTIME;
  }
  for (int64_t next = pq_mono_ms(); !ledger_stop; next += step) {
    struct snapshot s;
    pq_buf_reset(&b);
    if (!db && ledger_db_open(cfg->ledger.db, LEDGER_DB_READONLY, &db, err, sizeof err) != PQ_OK) {
      db = NULL;
      /* serve has not created it yet: say so once and keep trying. */
      if (!waiting_said++)
        fprintf(stderr, "paperq-ledger watch: %s; waiting for it\n", err);
    } else if (take(db, cfg, tty, &sc, &s) != PQ_OK) {
      fprintf(stderr, "paperq-ledger watch: cannot read %s (see above); trying again\n",
              cfg->ledger.db);
      ledger_db_close(db); /* reopen: the file may have been replaced */
      db = NULL;
    } else {
      if (tty) {
        int cols, rows;
        term_size(&cols, &rows);
        draw(&b, &s, interval_s, cols);
        fit_rows(&b, rows);
      } else
        line(&b, &s);
      snapshot_free(&s);
      if (put(&b) != 0) {
        rc = errno == EPIPE ? PQ_EXIT_OK : PQ_EXIT_RUNTIME; /* the reader left */
        break;
      }
    }
    int64_t now = pq_mono_ms();
    if (next + step < now)
      next = now - step; /* a slow read (a busy disk) does not cause a burst after it */
    nap_until(next + step);
  }
  if (tty) {
    static const char show[] = "\033[?25h\n";
    if (write(STDOUT_FILENO, show, sizeof show - 1) < 0)
      rc = rc ? rc : PQ_EXIT_OK;
  }
  pq_buf_free(&b);
  cJSON_Delete(sc.failures);
  cJSON_Delete(sc.parked);
  ledger_db_close(db);
  return rc;
}
