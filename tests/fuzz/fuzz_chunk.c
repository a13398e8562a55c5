/* Chunk plan, join and split: the input is segments separated by 0xFF, the
 * first byte sets the token budget (and picks which marker to drop). Planning
 * never crashes and pieces stay inside their segments. Every chunk, whatever
 * its size and whatever marker-shaped lines its pieces hold, splits back
 * into exactly its pieces; the same answer with one of the chunk's markers
 * dropped (two pieces merged) or one invented is refused. An arbitrary
 * answer (the last segment) splits or is refused. */
#include "fuzz.h"
#include "paperq/chunk.h"
#include "paperq/util.h"

#define MAX_SEGS 64

/* 1 if text holds a line that reads as a marker (the split's own rule is
 * private; this is the shape the prompt promises: "<<<" digits ">>>" at a
 * line start, spaces allowed). Errs on the side of "yes". */
static int has_marker_shape(const char *s) {
  for (const char *line = s; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    while (*line == ' ' || *line == '\t')
      line++;
    if (strncmp(line, "<<<", 3) == 0)
      return 1;
  }
  return 0;
}

static void check_chunk(const struct pq_chunk_plan *plan, const char *const *segs, size_t c,
                        uint8_t pick) {
  const struct pq_chunk_span *span = &plan->chunks[c];
  char *joined = NULL, **parts = NULL;
  size_t nparts = 0;
  int rc = pq_chunk_plan_join(plan, segs, c, &joined);
  if (rc == PQ_ERR_TOOBIG)
    return;
  FUZZ_ASSERT(rc == PQ_OK);

  /* a faithful answer (the request itself) splits into the pieces */
  FUZZ_ASSERT(pq_chunk_plan_split(plan, segs, c, joined, &parts, &nparts) == PQ_OK);
  FUZZ_ASSERT(nparts == span->count);
  for (size_t k = 0; k < nparts; k++) {
    const struct pq_chunk_piece *pc = &plan->pieces[span->first + k];
    FUZZ_ASSERT(strlen(parts[k]) == pc->len &&
                memcmp(parts[k], segs[pc->segment] + pc->offset, pc->len) == 0);
  }
  pq_chunk_free_strings(parts, nparts);

  size_t jlen = strlen(joined);
  char *bad = malloc(jlen + 64);
  if (!bad)
    abort();
  if (span->count >= 2) {
    /* drop marker k (2..count): join wrote it at a known offset */
    size_t k = 2 + pick % (span->count - 1), off = 0;
    for (size_t i = 1; i < k; i++)
      off +=
          (size_t)snprintf(NULL, 0, "<<<%zu>>>\n", i) + plan->pieces[span->first + i - 1].len + 2;
    size_t mlen = (size_t)snprintf(NULL, 0, "<<<%zu>>>\n", k);
    FUZZ_ASSERT(off + mlen <= jlen);
    memcpy(bad, joined, off);
    memcpy(bad + off, joined + off + mlen, jlen - off - mlen + 1);
    FUZZ_ASSERT(pq_chunk_plan_split(plan, segs, c, bad, &parts, &nparts) == PQ_CHUNK_ERR_MARKERS);
  }
  if (span->count >= 2 || !has_marker_shape(joined)) {
    /* one marker invented after everything */
    snprintf(bad, jlen + 64, "%s\n<<<%u>>>\nmore", joined, 1u + pick % 8);
    FUZZ_ASSERT(pq_chunk_plan_split(plan, segs, c, bad, &parts, &nparts) == PQ_CHUNK_ERR_MARKERS);
  }
  free(bad);
  free(joined);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t budget = PQ_CHUNK_MIN_BUDGET + data[0] * 4;
  char *buf = fuzz_str(data + 1, size - 1);
  const char *segs[MAX_SEGS];
  size_t n = 0;
  char *p = buf, *end = buf + size - 1;
  while (n < MAX_SEGS) {
    segs[n++] = p;
    char *sep = memchr(p, 0xFF, (size_t)(end - p));
    if (!sep)
      break;
    *sep = '\0';
    p = sep + 1;
  }
  struct pq_chunk_plan plan;
  memset(&plan, 0, sizeof plan);
  if (pq_chunk_plan(segs, n, budget, &plan) == PQ_OK) {
    for (size_t c = 0; c < plan.n_chunks; c++)
      check_chunk(&plan, segs, c, data[0]);
    /* Pieces cover their segment in order, within its bytes. */
    for (size_t i = 0; i < plan.n_pieces; i++) {
      const struct pq_chunk_piece *pc = &plan.pieces[i];
      FUZZ_ASSERT(pc->segment < n && pc->offset + pc->len <= strlen(segs[pc->segment]));
    }
  }
  pq_chunk_plan_free(&plan);
  /* an arbitrary answer to the other segments */
  if (n >= 2) {
    char **parts = NULL;
    size_t nparts = 0;
    if (pq_chunk_split(segs[n - 1], segs, n - 1, &parts, &nparts) == PQ_OK) {
      FUZZ_ASSERT(nparts == n - 1);
      pq_chunk_free_strings(parts, nparts);
    }
  }
  free(buf);
  return 0;
}
