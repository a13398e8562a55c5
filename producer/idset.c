/* A sorted array of ids: inputs are thousands to tens of thousands of papers,
 * where a binary search and a memmove per insert are plenty. */
#include "idset.h"

#include <stdlib.h>
#include <string.h>

int idset_add(struct idset *s, const char *id) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(s->ids[mid], id);
    if (c == 0)
      return 0;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    char **p = realloc(s->ids, cap * sizeof *p);
    if (!p)
      return -1;
    s->ids = p;
    s->cap = cap;
  }
  char *dup = strdup(id);
  if (!dup)
    return -1;
  memmove(s->ids + lo + 1, s->ids + lo, (s->n - lo) * sizeof *s->ids);
  s->ids[lo] = dup;
  s->n++;
  return 1;
}

void idset_free(struct idset *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->ids[i]);
  free(s->ids);
  s->ids = NULL;
  s->n = s->cap = 0;
}
