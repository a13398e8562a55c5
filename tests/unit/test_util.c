/* common/src/util.c: files written whole or not at all. */
#include "pq_test.h"
#include "paperq/util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void test_write_file(void) {
  char dir[] = "/tmp/pq-util-XXXXXX", path[256], tmp[300], *back = NULL;
  size_t len = 0;
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/page.html", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);

  /* Written, read back byte for byte, nothing left beside it. */
  CHECK(pq_write_file(path, "first\0version", 13) == PQ_OK);
  CHECK(pq_read_file(path, 1 << 20, &back, &len) == PQ_OK);
  CHECK(len == 13 && back && memcmp(back, "first\0version", 13) == 0);
  free(back);
  CHECK(!exists(tmp));

  /* Replaced whole by a shorter text (no tail of the old one). */
  CHECK(pq_write_file(path, "2nd", 3) == PQ_OK);
  CHECK(pq_read_file(path, 1 << 20, &back, &len) == PQ_OK);
  CHECK(len == 3 && back && memcmp(back, "2nd", 3) == 0);
  free(back);

  /* A directory that does not exist: an error with errno, the old file
   * untouched, no .tmp. */
  char missing[300];
  snprintf(missing, sizeof missing, "%s/no/such/dir/page.html", dir);
  errno = 0;
  CHECK(pq_write_file(missing, "x", 1) == PQ_ERR_IO);
  CHECK(errno == ENOENT);

  /* The target is a directory: rename fails, errno says why, no .tmp. */
  char sub[300], subtmp[320];
  snprintf(sub, sizeof sub, "%s/adir", dir);
  snprintf(subtmp, sizeof subtmp, "%s.tmp", sub);
  CHECK(mkdir(sub, 0777) == 0);
  errno = 0;
  CHECK(pq_write_file(sub, "x", 1) == PQ_ERR_IO);
  CHECK(errno == EISDIR);
  CHECK(!exists(subtmp));

  rmdir(sub);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  test_write_file();
  TEST_MAIN_END();
}
