/* A set of paper ids: the producer skips a record repeated in one run, the
 * harvester one the service sends twice. */
#ifndef PAPERQ_PRODUCER_IDSET_H
#define PAPERQ_PRODUCER_IDSET_H

#include <stddef.h>

struct idset {
  char **ids; /* sorted, owned */
  size_t n, cap;
};

/* 1: added; 0: already there; -1: out of memory. */
int idset_add(struct idset *s, const char *id);
void idset_free(struct idset *s);

#endif
