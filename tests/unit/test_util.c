/* common/src/util.c: files written whole or not at all; event ids unique,
 * in a forked child too. */
#include "pq_test.h"
#include "paperq/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* Ids are 32 hex digits, never repeated; a forked child does not replay
 * its parent's stream (the ledger would drop its events as duplicates). */
static void test_ids(void) {
  char a[33], b[33], child[33] = "", after[33];
  pq_new_id(a);
  pq_new_id(b);
  CHECK(strlen(a) == 32 && strspn(a, "0123456789abcdef") == 32);
  CHECK(strcmp(a, b) != 0);
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char id[33];
    pq_new_id(id);
    _exit(write(fds[1], id, 32) == 32 ? 0 : 1);
  }
  close(fds[1]);
  CHECK(read(fds[0], child, 32) == 32);
  close(fds[0]);
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  pq_new_id(after); /* what the parent's stream gives next, and the child would have */
  CHECK(strcmp(child, after) != 0);
  CHECK(strcmp(child, b) != 0);
}

int main(void) {
  test_write_file();
  test_ids();
  TEST_MAIN_END();
}
