/* Chunking: the token estimate, the marker format, answers mangled the way
 * models mangle them, count/order mismatches, oversize segments split at
 * sentence ends and re-joined, and a plan/join/split round trip over the 60
 * full-text papers. */
#include "paperq/buf.h"
#include "paperq/chunk.h"
#include "paperq/mask.h"
#include "paperq/textutil.h"
#include "paperq/util.h"
#include "pq_test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

/* Re-assembles segments from translated pieces (continuations joined with
 * one space): the oracle for plan round trips. */
static int rejoin(const struct pq_chunk_plan *plan, const char *const *piece_texts,
                  char ***out_segments) {
  char **segs = NULL;
  struct pq_buf b;
  size_t k, p = 0;
  int rc = PQ_OK;

  if (!out_segments)
    return PQ_ERR;
  *out_segments = NULL;
  if (!plan || (plan->n_pieces && !piece_texts))
    return PQ_ERR;
  for (k = 0; k < plan->n_pieces; k++)
    if (!piece_texts[k])
      return PQ_ERR;
  segs = calloc(plan->n_segments ? plan->n_segments : 1, sizeof *segs);
  if (!segs)
    return PQ_ERR_NOMEM;
  pq_buf_init(&b, PQ_CHUNK_MAX_TEXT);
  for (k = 0; k < plan->n_segments; k++) {
    pq_buf_reset(&b);
    for (; p < plan->n_pieces && plan->pieces[p].segment == k; p++) {
      const char *t = piece_texts[p];
      size_t start, tlen;
      pq_text_trim(t, strlen(t), &start, &tlen);
      if (tlen == 0)
        continue;
      if (b.len)
        rc = pq_buf_append(&b, " ", 1);
      if (!rc)
        rc = pq_buf_append(&b, t + start, tlen);
      if (rc)
        goto cleanup;
    }
    segs[k] = malloc(b.len + 1);
    if (!segs[k]) {
      rc = PQ_ERR_NOMEM;
      goto cleanup;
    }
    if (b.len)
      memcpy(segs[k], b.data, b.len);
    segs[k][b.len] = '\0';
  }
cleanup:
  pq_buf_free(&b);
  if (rc)
    pq_chunk_free_strings(segs, plan->n_segments);
  else
    *out_segments = segs;
  return rc;
}

/* The answer to the texts `sent` splits into `want`. */
static int split_to(const char *answer, const char *const *sent, size_t n,
                    const char *const *want) {
  char **parts = NULL;
  size_t got = 0, k;
  int ok;
  if (pq_chunk_split(answer, sent, n, &parts, &got) != PQ_OK)
    return 0;
  ok = got == n;
  for (k = 0; ok && k < n; k++) {
    if (strcmp(parts[k], want[k]) != 0) {
      fprintf(stderr, "  part %zu: got \"%s\" want \"%s\"\n", k + 1, parts[k], want[k]);
      ok = 0;
    }
  }
  pq_chunk_free_strings(parts, got);
  return ok;
}

/* The answer splits into `want`, the texts sent having had the same marker
 * lines (none, in most cases) as their faithful translations. */
static int split_ok(const char *answer, size_t n, const char *const *want) {
  return split_to(answer, want, n, want);
}

/* The return code of splitting an answer to `sent` (n texts). */
static int split_rc_to(const char *answer, const char *const *sent, size_t n) {
  char **parts = (char **)&parts; /* must be reset to NULL on failure */
  size_t got = 99;
  int rc = pq_chunk_split(answer, sent, n, &parts, &got);
  if (rc == PQ_OK)
    pq_chunk_free_strings(parts, got);
  else if (parts != NULL || got != 0)
    return 12345;
  return rc;
}

/* The same for n texts without marker lines of their own. */
static int split_rc(const char *answer, size_t n) {
  static const char *const plain[] = {"源文一。", "源文二。", "源文三。"};
  return split_rc_to(answer, n <= 3 ? plain : NULL, n);
}

static void test_estimate(void) {
  CHECK(pq_chunk_estimate_tokens("") == 0);
  CHECK(pq_chunk_estimate_tokens(NULL) == 0);
  CHECK(pq_chunk_estimate_tokens("中文摘要") == 4);
  CHECK(pq_chunk_estimate_tokens("abcd") == 1);
  CHECK(pq_chunk_estimate_tokens("abcde") == 2);
  CHECK(pq_chunk_estimate_tokens("模型，model。") == 4 + 2); /* 模 型 ， 。 + "model" */
  CHECK(pq_chunk_estimate_tokens("[[M12]]") == 2);
  CHECK(pq_chunk_estimate_tokens("\xff\xfe\xfd\xfc") == 1); /* invalid bytes are narrow */
}

static void test_join_split(void) {
  const char *two[] = {"第一段。", "第二段 [[M1]]。"};
  const char *three_en[] = {"First paragraph.", "Second, with [[M1]].", "Third."};
  char *joined = NULL;

  CHECK(pq_chunk_join(two, 2, &joined) == PQ_OK);
  CHECK_STR(joined, "<<<1>>>\n第一段。\n\n<<<2>>>\n第二段 [[M1]]。");
  CHECK(split_ok(joined, 2, two));
  free(joined);
  joined = NULL;
  CHECK(pq_chunk_join(two, 1, &joined) == PQ_OK);
  CHECK_STR(joined, "第一段。"); /* one segment: no marker */
  free(joined);
  joined = NULL;
  CHECK(pq_chunk_join(two, 0, &joined) == PQ_ERR);

  /* what models do to markers, all accepted */
  CHECK(split_ok("<<<1>>>\nFirst paragraph.\n<<<2>>>\nSecond, with [[M1]].\n<<<3>>>\nThird.", 3,
                 three_en));
  CHECK(split_ok("\n\n<<<1>>>\n\n\nFirst paragraph.\n\n\n\n<<<2>>>\n\nSecond, with [[M1]].\n\n"
                 "<<<3>>>\nThird.\n\n",
                 3, three_en));
  CHECK(
      split_ok("  <<< 1 >>>  \nFirst paragraph.\n\t<<<2 >>>\nSecond, with [[M1]].\n<<<3>>>\nThird.",
               3, three_en));
  CHECK(split_ok("<<<1>>> First paragraph.\n<<<2>>>Second, with [[M1]].\n<<<3>>>   Third.", 3,
                 three_en));
  CHECK(split_ok("<<<1>>>\r\nFirst paragraph.\r\n\r\n<<<2>>>\r\nSecond, with [[M1]].\r\n\r\n"
                 "<<<3>>>\r\nThird.\r\n",
                 3, three_en));
  /* a paragraph may keep inner line breaks */
  {
    const char *w[] = {"Line one\nline two.", "B."};
    CHECK(split_ok("<<<1>>>\nLine one\nline two.\n\n<<<2>>>\nB.", 2, w));
  }
  /* a marker-like string in the middle of a line is text */
  {
    const char *w[] = {"See <<<2>>> here.", "B."};
    CHECK(split_ok("<<<1>>>\nSee <<<2>>> here.\n<<<2>>>\nB.", 2, w));
  }

  /* count and order mismatches, all rejected with the markers code */
  CHECK(split_rc("<<<1>>>\nA.\n<<<3>>>\nC.", 3) == PQ_CHUNK_ERR_MARKERS);       /* missing */
  CHECK(split_rc("<<<1>>>\nA. B.", 2) == PQ_CHUNK_ERR_MARKERS);                 /* merged */
  CHECK(split_rc("<<<2>>>\nB.\n<<<1>>>\nA.", 2) == PQ_CHUNK_ERR_MARKERS);       /* reordered */
  CHECK(split_rc("<<<1>>>\nA.\n<<<1>>>\nA again.", 2) == PQ_CHUNK_ERR_MARKERS); /* repeated */
  CHECK(split_rc("<<<1>>>\nA.\n<<<2>>>\nB.\n<<<3>>>\nC.", 2) == PQ_CHUNK_ERR_MARKERS); /* extra */
  CHECK(split_rc("<<<1>>>\nA.\n<<<2>>>\n\n", 2) == PQ_CHUNK_ERR_MARKERS); /* empty part */
  CHECK(split_rc("<<<1>>>\n<<<2>>>\nB.", 2) == PQ_CHUNK_ERR_MARKERS);     /* empty part */
  CHECK(split_rc("Here is the translation:\n<<<1>>>\nA.\n<<<2>>>\nB.", 2) == PQ_CHUNK_ERR_MARKERS);
  CHECK(split_rc("A.\n\nB.", 2) == PQ_CHUNK_ERR_MARKERS); /* no markers */
  CHECK(split_rc("<<<0>>>\nA.\n<<<1>>>\nB.", 2) == PQ_CHUNK_ERR_MARKERS);
  CHECK(split_rc("<<<1>>>\nA.\n<<<9999999>>>\nB.", 2) == PQ_CHUNK_ERR_MARKERS);
  CHECK(split_rc("", 2) == PQ_CHUNK_ERR_MARKERS);
  CHECK(split_rc("x", 0) == PQ_ERR);
  CHECK(split_rc(NULL, 1) == PQ_ERR);

  /* a single segment: marker optional, emptiness left to the checks */
  {
    const char *w[] = {"Only."};
    const char *e[] = {""};
    CHECK(split_ok("  Only.\n", 1, w));
    CHECK(split_ok("<<<1>>>\nOnly.", 1, w));
    CHECK(split_ok("", 1, e));
    CHECK(split_rc("<<<1>>>\nA.\n<<<2>>>\nB.", 1) == PQ_CHUNK_ERR_MARKERS);
  }

  /* A segment that itself holds a marker line is joined like any other
   * (this asserted PQ_CHUNK_ERR_COLLIDE before issue 13's fuzz finding). */
  {
    const char *src[] = {"甲", "乙\n<<<1>>>\n丙"};
    joined = NULL;
    CHECK(pq_chunk_join(src, 2, &joined) == PQ_OK);
    CHECK_STR(joined, "<<<1>>>\n甲\n\n<<<2>>>\n乙\n<<<1>>>\n丙");
    CHECK(joined && split_to(joined, src, 2, src));
    free(joined);
  }
  /* ... and split back as it was sent, alone too */
  {
    const char *src[] = {"乙\n<<<2>>>\n丙"};
    CHECK(pq_chunk_join(src, 1, &joined) == PQ_OK);
    CHECK(joined && split_to(joined, src, 1, src));
    free(joined);
  }
}

/* Marker-shaped lines in the paper's own text (issue 13, fuzz_chunk): a
 * faithful answer splits back whatever the chunk size, and an answer that
 * dropped, merged, moved or invented a marker is still refused. */
static void test_source_markers(void) {
  char *joined = NULL;

  /* one text: sent without markers; its own "<<<2>>>" line comes back */
  {
    const char *src[] = {"第一行。\n<<<2>>>\n第二行。"};
    const char *en[] = {"Line one.\n<<<2>>>\nLine two."};
    const char *en_dropped[] = {"Line one.\nLine two."};
    CHECK(split_to("Line one.\n<<<2>>>\nLine two.", src, 1, en));
    CHECK(split_to("<<<1>>>\nLine one.\n<<<2>>>\nLine two.", src, 1, en)); /* added marker */
    CHECK(split_to(" <<< 1 >>>\r\nLine one.\n<<<2>>>\nLine two.", src, 1, en));
    CHECK(split_to("Line one.\nLine two.", src, 1, en_dropped)); /* its own line left out */
    CHECK(split_rc_to("Line one.\n<<<2>>>\nLine two.\n<<<3>>>\nInvented.", src, 1) ==
          PQ_CHUNK_ERR_MARKERS);
    CHECK(split_rc_to("Line one.\n<<<1>>>\nLine two.", src, 1) == PQ_CHUNK_ERR_MARKERS);
  }
  /* one text that starts with "<<<1>>>" itself: that line is kept */
  {
    const char *src[] = {"<<<1>>>\n正文。"};
    const char *en[] = {"<<<1>>>\nText."};
    CHECK(split_to("<<<1>>>\nText.", src, 1, en));
    CHECK(split_to("<<<1>>>\n<<<1>>>\nText.", src, 1, en)); /* plus an added one */
  }
  /* two texts, the first holding "<<<2>>>": markers are matched by position */
  {
    const char *src[] = {"甲。\n<<<2>>>\n乙。", "丙。"};
    const char *en[] = {"A.\n<<<2>>>\nB.", "C."};
    CHECK(pq_chunk_join(src, 2, &joined) == PQ_OK);
    CHECK_STR(joined, "<<<1>>>\n甲。\n<<<2>>>\n乙。\n\n<<<2>>>\n丙。");
    CHECK(joined && split_to(joined, src, 2, src));
    free(joined);
    joined = NULL;
    CHECK(split_to("<<<1>>>\nA.\n<<<2>>>\nB.\n\n<<<2>>>\nC.", src, 2, en));
    CHECK(split_to("<<<1>>> A.\n<<<2>>>\nB.\r\n<<< 2 >>> C.", src, 2, en));
    /* the chunk's marker 2 dropped: paragraphs 2 and 1 merged */
    CHECK(split_rc_to("<<<1>>>\nA.\n<<<2>>>\nB. C.", src, 2) == PQ_CHUNK_ERR_MARKERS);
    /* the text's own line dropped: the one left cannot be placed */
    CHECK(split_rc_to("<<<1>>>\nA. B.\n\n<<<2>>>\nC.", src, 2) == PQ_CHUNK_ERR_MARKERS);
    /* one invented, renumbered, or an empty part */
    CHECK(split_rc_to("<<<1>>>\nA.\n<<<2>>>\nB.\n<<<2>>>\nC.\n<<<3>>>\nD.", src, 2) ==
          PQ_CHUNK_ERR_MARKERS);
    CHECK(split_rc_to("<<<1>>>\nA.\n<<<3>>>\nB.\n<<<2>>>\nC.", src, 2) == PQ_CHUNK_ERR_MARKERS);
    CHECK(split_rc_to("<<<1>>>\nA.\n<<<2>>>\nB.\n<<<2>>>\n", src, 2) == PQ_CHUNK_ERR_MARKERS);
    CHECK(split_rc_to("Sure:\n<<<1>>>\nA.\n<<<2>>>\nB.\n<<<2>>>\nC.", src, 2) ==
          PQ_CHUNK_ERR_MARKERS);
  }
  /* a segment that is nothing but a marker line, and one that opens with a
   * marker followed by text on the same line */
  {
    const char *src[] = {"<<<2>>>", "<<<3>>> 文字。", "尾。"};
    CHECK(pq_chunk_join(src, 3, &joined) == PQ_OK);
    CHECK(joined && split_to(joined, src, 3, src));
    free(joined);
    joined = NULL;
  }
  /* what split reports for the "markers" check */
  {
    const char *src[] = {"甲。\n<<<2>>>\n乙。", "丙。"};
    struct pq_chunk_split_info info;
    char **parts = NULL;
    size_t n = 0;
    CHECK(pq_chunk_split_ex("<<<1>>>\nA.\n<<<2>>>\nB. C.", src, 2, &parts, &n, &info) ==
          PQ_CHUNK_ERR_MARKERS);
    CHECK(info.markers_expected == 3 && info.markers_found == 2);
    CHECK(pq_chunk_split(NULL, src, 2, &parts, &n) == PQ_ERR);
    CHECK(pq_chunk_split("x", NULL, 2, &parts, &n) == PQ_ERR);
  }
}

static size_t count_char(const char *s, const char *needle) {
  size_t n = 0;
  const char *p = s;
  while ((p = strstr(p, needle)) != NULL) {
    n++;
    p += strlen(needle);
  }
  return n;
}

/* Removes all ASCII whitespace: rejoin inserts spaces between parts. */
static void squeeze(const char *s, char *out) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\r')
      *out++ = *s;
  *out = '\0';
}

static void test_plan(void) {
  struct pq_chunk_plan plan;
  char seg[20][256];
  const char *segs[20];
  size_t k, pieces_seen = 0;

  /* 20 segments of ~25 tokens each, budget 100: several per chunk */
  for (k = 0; k < 20; k++) {
    snprintf(seg[k], sizeof seg[k], "第%02zu段内容，包含一些中文文字和公式[[M%zu]]。", k, k + 1);
    segs[k] = seg[k];
  }
  CHECK(pq_chunk_plan(segs, 20, 100, &plan) == PQ_OK);
  CHECK(plan.n_pieces == 20 && plan.n_segments == 20);
  CHECK(plan.n_chunks > 1 && plan.n_chunks < 20);
  for (k = 0; k < plan.n_chunks; k++) {
    CHECK(plan.chunks[k].tokens <= 100);
    CHECK(plan.chunks[k].first == pieces_seen);
    pieces_seen += plan.chunks[k].count;
  }
  CHECK(pieces_seen == 20);
  for (k = 0; k < plan.n_pieces; k++)
    CHECK(plan.pieces[k].segment == k && !plan.pieces[k].continuation);
  pq_chunk_plan_free(&plan);
  pq_chunk_plan_free(&plan); /* idempotent */

  CHECK(pq_chunk_plan(segs, 20, 10, &plan) == PQ_ERR); /* budget below the minimum */
  CHECK(pq_chunk_plan(segs, 0, 100, &plan) == PQ_OK && plan.n_chunks == 0);
  pq_chunk_plan_free(&plan);

  /* empty and whitespace-only segments get no piece but come back as "" */
  {
    const char *w[] = {"甲。", "  \n ", "", "乙。"};
    const char *tr[] = {"A.", "B."};
    char **back = NULL;
    CHECK(pq_chunk_plan(w, 4, 100, &plan) == PQ_OK);
    CHECK(plan.n_pieces == 2 && plan.pieces[1].segment == 3);
    CHECK(rejoin(&plan, tr, &back) == PQ_OK);
    CHECK(back && strcmp(back[0], "A.") == 0 && strcmp(back[1], "") == 0 &&
          strcmp(back[2], "") == 0 && strcmp(back[3], "B.") == 0);
    pq_chunk_free_strings(back, 4);
    pq_chunk_plan_free(&plan);
  }
}

static void test_oversize(void) {
  struct pq_chunk_plan plan;
  char big[8192], en[8192], flat[8192], flat2[8192];
  const char *segs[3];
  const char **texts;
  char **back = NULL, *joined = NULL;
  size_t k, p = 0;

  /* 40 Chinese sentences of 15 characters: ~600 tokens */
  for (k = 0; k < 40; k++)
    p += (size_t)snprintf(big + p, sizeof big - p, "这是第%02zu个句子[[M%zu]]用于测试分块。", k,
                          k + 1);
  for (k = 0, p = 0; k < 40; k++)
    p += (size_t)snprintf(en + p, sizeof en - p, "%sSentence %zu is here, with some words.",
                          k ? " " : "", k);
  segs[0] = "短标题";
  segs[1] = big;
  segs[2] = en;
  CHECK(pq_chunk_plan(segs, 3, 120, &plan) == PQ_OK);
  CHECK(plan.n_pieces > 6);
  for (k = 0; k < plan.n_pieces; k++) {
    const struct pq_chunk_piece *pc = &plan.pieces[k];
    const char *s = segs[pc->segment] + pc->offset;
    CHECK(pc->tokens + PQ_CHUNK_MARKER_TOKENS <= 120);
    /* Chinese pieces end at a sentence end, English ones at a period */
    if (pc->segment == 1)
      CHECK(pc->len >= 3 && memcmp(s + pc->len - 3, "。", 3) == 0);
    if (pc->segment == 2)
      CHECK(s[pc->len - 1] == '.' && s[0] == 'S');
    CHECK(pc->continuation == (k > 0 && plan.pieces[k - 1].segment == pc->segment));
  }
  for (k = 0; k < plan.n_chunks; k++)
    CHECK(plan.chunks[k].tokens <= 120);

  /* translate = identity: rejoin gives the segments back (Chinese with a
   * space at each cut, English exactly) */
  texts = calloc(plan.n_pieces, sizeof *texts);
  for (k = 0; texts && k < plan.n_pieces; k++) {
    char *t = malloc(plan.pieces[k].len + 1);
    memcpy(t, segs[plan.pieces[k].segment] + plan.pieces[k].offset, plan.pieces[k].len);
    t[plan.pieces[k].len] = '\0';
    texts[k] = t;
  }
  CHECK(texts && rejoin(&plan, texts, &back) == PQ_OK);
  if (back) {
    CHECK_STR(back[0], "短标题");
    squeeze(back[1], flat);
    squeeze(big, flat2);
    CHECK_STR(flat, flat2);
    CHECK_STR(back[2], en);
    pq_chunk_free_strings(back, 3);
  }
  /* and every chunk survives join + split */
  for (k = 0; k < plan.n_chunks; k++) {
    const struct pq_chunk_span *c = &plan.chunks[k];
    joined = NULL;
    CHECK(pq_chunk_plan_join(&plan, segs, k, &joined) == PQ_OK);
    CHECK(joined && split_ok(joined, c->count, texts + c->first));
    free(joined);
  }
  pq_chunk_free_strings((char **)texts, plan.n_pieces);
  pq_chunk_plan_free(&plan);

  /* no boundary at all: hard cuts, never inside a placeholder or a character */
  {
    char nob[4096];
    size_t q = 0;
    for (k = 0; k < 100; k++)
      q += (size_t)snprintf(nob + q, sizeof nob - q, "字[[M%zu]]", k + 1);
    segs[0] = nob;
    CHECK(pq_chunk_plan(segs, 1, 20, &plan) == PQ_OK);
    for (k = 0; k < plan.n_pieces; k++) {
      const char *s = nob + plan.pieces[k].offset;
      size_t len = plan.pieces[k].len;
      CHECK(plan.pieces[k].tokens <= 16);
      char piece[256];
      CHECK(len < sizeof piece);
      if (len >= sizeof piece)
        continue;
      memcpy(piece, s, len);
      piece[len] = '\0';
      CHECK(count_char(piece, "[[") == count_char(piece, "]]")); /* no half token */
      CHECK(pq_text_valid_utf8(piece, len));                     /* no half character */
    }
    pq_chunk_plan_free(&plan);
  }
  /* a single placeholder larger than the budget is taken whole */
  {
    segs[0] = "[[MABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ1]]";
    CHECK(pq_chunk_plan(segs, 1, 16, &plan) == PQ_OK);
    CHECK(plan.n_pieces == 1 && plan.pieces[0].len == strlen(segs[0]));
    pq_chunk_plan_free(&plan);
  }
  /* invalid UTF-8 and lone bytes do not derail the cutter */
  {
    char junk[3000];
    for (k = 0; k < sizeof junk - 1; k++)
      junk[k] = (char)(0x80 + (k % 60));
    junk[sizeof junk - 1] = '\0';
    segs[0] = junk;
    CHECK(pq_chunk_plan(segs, 1, 32, &plan) == PQ_OK);
    p = 0;
    for (k = 0; k < plan.n_pieces; k++)
      p += plan.pieces[k].len;
    CHECK(p == sizeof junk - 1);
    pq_chunk_plan_free(&plan);
  }
}

/* Plan, join, split and rejoin every body of the 60 full-text papers. */
static void test_fulltext(void) {
  const char *fx = getenv("PQ_FIXTURES");
  char path[1024], *data = NULL, *line, *next;
  size_t len, papers = 0, chunks = 0, pieces = 0, split_segments = 0, segments = 0, bad = 0;
  snprintf(path, sizeof path, "%s/fulltext.jsonl", fx ? fx : "tests/fixtures");
  if (pq_read_file(path, 64u << 20, &data, &len) != PQ_OK) {
    fprintf(stderr, "cannot read %s\n", path);
    CHECK(0);
    return;
  }
  for (line = data; line && *line; line = next) {
    cJSON *rec, *blk;
    const char **segs;
    char **masked, **parts, **back = NULL;
    struct pq_mask *m = NULL;
    struct pq_chunk_plan plan;
    size_t n = 0, k, np;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    rec = cJSON_Parse(line);
    if (!rec)
      continue;
    papers++;
    segs = calloc((size_t)cJSON_GetArraySize(cJSON_GetObjectItem(rec, "body")) + 2, sizeof *segs);
    segs[n++] = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "title"));
    segs[n++] = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "abstract"));
    cJSON_ArrayForEach(blk, cJSON_GetObjectItem(rec, "body")) {
      if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(blk, "kind")), "equation") != 0)
        segs[n++] = cJSON_GetStringValue(cJSON_GetObjectItem(blk, "text"));
    }
    masked = calloc(n, sizeof *masked);
    pq_mask_new(&m);
    CHECK(pq_mask_apply_many(m, segs, n, masked) == PQ_OK);
    CHECK(pq_chunk_plan((const char *const *)masked, n, 1500, &plan) == PQ_OK);
    chunks += plan.n_chunks;
    pieces += plan.n_pieces;
    segments += n;
    {
      const char **ptexts = calloc(plan.n_pieces + 1, sizeof *ptexts);
      for (k = 0; k < plan.n_chunks; k++) {
        char *joined = NULL;
        const struct pq_chunk_span *c = &plan.chunks[k];
        CHECK(c->tokens <= 1500);
        if (pq_chunk_plan_join(&plan, (const char *const *)masked, k, &joined) != PQ_OK ||
            pq_chunk_plan_split(&plan, (const char *const *)masked, k, joined, &parts, &np) !=
                PQ_OK) {
          bad++;
        } else {
          size_t j;
          for (j = 0; j < np; j++)
            ptexts[c->first + j] = parts[j];
          free(parts); /* strings now owned by ptexts */
        }
        free(joined);
      }
      for (k = 0; k < plan.n_pieces; k++) {
        if (plan.pieces[k].continuation)
          split_segments++;
        if (!ptexts[k])
          ptexts[k] = calloc(1, 1);
      }
      CHECK(rejoin(&plan, ptexts, &back) == PQ_OK);
      for (k = 0; back && k < n; k++) {
        /* identity translation: same text, modulo surrounding whitespace and
         * the spaces rejoin puts at the cuts of oversize segments */
        char *a = malloc(strlen(back[k]) + 1), *b = malloc(strlen(masked[k]) + 1);
        squeeze(back[k], a);
        squeeze(masked[k], b);
        if (strcmp(a, b) != 0)
          bad++;
        free(a);
        free(b);
      }
      pq_chunk_free_strings((char **)ptexts, plan.n_pieces);
    }
    pq_chunk_free_strings(back, n);
    pq_chunk_free_strings(masked, n);
    pq_chunk_plan_free(&plan);
    pq_mask_free(m);
    free(segs);
    cJSON_Delete(rec);
  }
  free(data);
  CHECK(papers == 60);
  CHECK(bad == 0);
  fprintf(stderr,
          "fulltext: %zu papers, %zu segments -> %zu pieces (%zu continuation) in %zu chunks "
          "at 1500 tokens (%.1f requests/paper), %zu mismatches\n",
          papers, segments, pieces, split_segments, chunks,
          papers ? (double)chunks / (double)papers : 0.0, bad);
}

int main(void) {
  test_estimate();
  test_join_split();
  test_source_markers();
  test_plan();
  test_oversize();
  test_fulltext();
  TEST_MAIN_END();
}
