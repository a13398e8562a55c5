/* Shared helpers: clocks, ids, hashing, strict parsing, file reading. */
#include "paperq/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

int64_t pq_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pq_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ids come from a per-process xorshift128+ stream seeded once from the
 * kernel: 128 random bits per id without a system call per event (reading
 * /dev/urandom for every event was three syscalls per event, and asking
 * getpid() each time to notice a fork was one more: a fork handler reseeds
 * the child instead). */
static uint64_t id_state[2];
static int id_seeded, id_atfork;

static void id_forked(void) { id_seeded = 0; }

static uint64_t id_next(void) {
  uint64_t s1 = id_state[0];
  const uint64_t s0 = id_state[1];
  id_state[0] = s0;
  s1 ^= s1 << 23;
  id_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
  return id_state[1] + s0;
}

void pq_new_id(char out[33]) {
  static const char hex[] = "0123456789abcdef";
  if (!id_seeded) { /* first use, or a forked child */
    if (!id_atfork)
      id_atfork = pthread_atfork(NULL, NULL, id_forked) == 0;
    id_seeded = 1;
    if (getrandom(id_state, sizeof id_state, 0) != (ssize_t)sizeof id_state) {
      id_state[0] = (uint64_t)pq_now_ms() ^ ((uint64_t)getpid() << 32);
      id_state[1] = (uint64_t)pq_mono_ms() * 0x9E3779B97F4A7C15ULL + (uint64_t)(uintptr_t)out;
    }
    if (!id_state[0] && !id_state[1])
      id_state[1] = 1;
  }
  uint64_t a = id_next(), b = id_next();
  for (int i = 0; i < 16; i++) {
    out[i] = hex[(a >> (60 - 4 * i)) & 15];
    out[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
  }
  out[32] = '\0';
}

uint64_t pq_hash64(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

int pq_parse_long(const char *s, long min, long max, long *out) {
  if (!s || !*s)
    return PQ_ERR_PARSE;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  while (*end == ' ' || *end == '\t')
    end++;
  if (errno || *end || v < min || v > max)
    return PQ_ERR_PARSE;
  *out = v;
  return PQ_OK;
}

int pq_parse_double(const char *s, double min, double max, double *out) {
  if (!s || !*s)
    return PQ_ERR_PARSE;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  while (*end == ' ' || *end == '\t')
    end++;
  if (errno || *end || isnan(v) || v < min || v > max)
    return PQ_ERR_PARSE;
  *out = v;
  return PQ_OK;
}

char *pq_strdup(const char *s) { return s ? strdup(s) : NULL; }

int pq_write_file(const char *path, const void *data, size_t len) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
    errno = ENAMETOOLONG;
    return PQ_ERR_IO;
  }
  FILE *f = fopen(tmp, "wb");
  if (!f)
    return PQ_ERR_IO;
  int ok = fwrite(data, 1, len, f) == len;
  int saved = errno;
  ok = fclose(f) == 0 && ok;
  if (ok && rename(tmp, path) == 0)
    return PQ_OK;
  saved = errno ? errno : saved;
  remove(tmp);
  errno = saved;
  return PQ_ERR_IO;
}

int pq_read_file(const char *path, size_t max, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return PQ_ERR_IO;
  int rc = PQ_OK;
  size_t cap = 65536, n = 0;
  char *data = malloc(cap);
  if (!data) {
    rc = PQ_ERR_NOMEM;
    goto cleanup;
  }
  for (;;) {
    if (n + 1 >= cap) {
      if (cap > max) {
        rc = PQ_ERR_TOOBIG;
        goto cleanup;
      }
      char *p = realloc(data, cap * 2);
      if (!p) {
        rc = PQ_ERR_NOMEM;
        goto cleanup;
      }
      data = p;
      cap *= 2;
    }
    size_t r = fread(data + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0)
      break;
  }
  if (ferror(f)) {
    rc = PQ_ERR_IO;
    goto cleanup;
  }
  if (n > max) {
    rc = PQ_ERR_TOOBIG;
    goto cleanup;
  }
  data[n] = '\0';
  *out = data;
  data = NULL;
  if (len)
    *len = n;
cleanup:
  free(data);
  fclose(f);
  return rc;
}
