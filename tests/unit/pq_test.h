/* Minimal unit-test harness: CHECK records a failure and continues,
 * so one run reports every broken expectation in a module. */
#ifndef PQ_TEST_H
#define PQ_TEST_H

#include <stdio.h>
#include <string.h>

static int pq_test_failures;
static int pq_test_checks;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    pq_test_checks++;                                                                              \
    if (!(cond)) {                                                                                 \
      pq_test_failures++;                                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                     \
    }                                                                                              \
  } while (0)

#define CHECK_STR(a, b)                                                                            \
  do {                                                                                             \
    const char *pq_a_ = (a), *pq_b_ = (b);                                                         \
    pq_test_checks++;                                                                              \
    if (!pq_a_ || !pq_b_ || strcmp(pq_a_, pq_b_) != 0) {                                           \
      pq_test_failures++;                                                                          \
      fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:      \"%s\"\n  expected: \"%s\"\n",     \
              __FILE__, __LINE__, #a, pq_a_ ? pq_a_ : "(null)", pq_b_ ? pq_b_ : "(null)");         \
    }                                                                                              \
  } while (0)

#define TEST_MAIN_END()                                                                            \
  do {                                                                                             \
    fprintf(stderr, "%d checks, %d failed\n", pq_test_checks, pq_test_failures);                   \
    return pq_test_failures ? 1 : 0;                                                               \
  } while (0)

#endif
