/*
 * Unit tests: whole-file reads and the errno map (src/util/file.c):
 * ENOENT/ENOTDIR/EACCES/ELOOP/EISDIR... to DOCSTORE_E* codes, the size
 * limit (checked before reading and while reading a stream), symbolic
 * links refused with DOCSTORE__FILE_NOFOLLOW, folders and FIFOs, secret
 * and public buffers, and nothing half-read left in the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"

static char dir[] = "/tmp/docstore-util-file-XXXXXX";

static void path_of(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", dir, name);
}

static void write_file(const char *name, const void *data, size_t n) {
  char p[256];
  path_of(p, sizeof(p), name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(docstore__fd_write_all(fd, data, n), 0);
  close(fd);
}

static int setup(void **state) {
  (void)state;
  /* The pipe writer of test_streams sees EPIPE, not a signal, when the
   * reader stops at the limit. */
  signal(SIGPIPE, SIG_IGN);
  if (!mkdtemp(dir))
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_errno_map(void **state) {
  (void)state;
  static const struct {
    int e, code;
  } map[] = {
      {ENOENT, DOCSTORE_ENOTFOUND},
      {ENOTDIR, DOCSTORE_ENOTFOUND},
      {EACCES, DOCSTORE_EACCESS},
      {EPERM, DOCSTORE_EACCESS},
      {ELOOP, DOCSTORE_EACCESS},
      {EISDIR, DOCSTORE_EINVAL},
      {ENAMETOOLONG, DOCSTORE_EINVAL},
      {EINVAL, DOCSTORE_EINVAL},
      {EEXIST, DOCSTORE_EEXISTS},
      {EFBIG, DOCSTORE_ETOOBIG},
      {ENOMEM, DOCSTORE_ENOMEM},
      {ENOSPC, DOCSTORE_EIO},
      {EDQUOT, DOCSTORE_EIO},
      {EROFS, DOCSTORE_EIO},
      {EIO, DOCSTORE_EIO},
      {EMFILE, DOCSTORE_EIO},
      {0, DOCSTORE_EIO},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    assert_int_equal(docstore__errno_code(map[i].e), map[i].code);

  docstore__err err;
  docstore__err_clear(&err);
  assert_int_equal(docstore__err_errno(&err, 0, EACCES, "cannot open %s", "x"),
                   DOCSTORE_EACCESS);
  assert_string_equal(err.msg, "cannot open x: Permission denied");
  assert_int_equal(docstore__err_errno(&err, DOCSTORE_ECONFIG, ENOENT, "root"),
                   DOCSTORE_ECONFIG);
  assert_string_equal(err.msg, "root: No such file or directory");
}

static void test_read(void **state) {
  (void)state;
  char p[256];
  docstore__err err;
  docstore__err_clear(&err);
  uint8_t data[100000];
  for (size_t i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 7);
  write_file("big", data, sizeof(data));
  write_file("empty", "", 0);
  path_of(p, sizeof(p), "big");

  /* A regular file: its size reserved at once (one block, no growth). */
  docstore__buf b = DOCSTORE__BUF_INIT;
  assert_int_equal(docstore__file_read(&b, p, 0, 0, "key file", &err), 0);
  assert_int_equal(b.len, sizeof(data));
  assert_memory_equal(b.data, data, sizeof(data));
  /* the size, one byte to see the end of file, the NUL */
  assert_int_equal(b.cap, sizeof(data) + 2);
  assert_int_equal(docstore__alloc_flags(b.data), 0); /* secret: wiped */
  docstore__buf_free(&b);

  /* Appends after what the buffer holds; a public buffer stays public. */
  docstore__buf pub = DOCSTORE__BUF_INIT_PUBLIC;
  assert_int_equal(docstore__buf_puts(&pub, "head:"), 0);
  assert_int_equal(docstore__file_read(&pub, p, sizeof(data), 0, NULL, &err),
                   0);
  assert_int_equal(pub.len, 5 + sizeof(data));
  assert_memory_equal(pub.data, "head:", 5);
  assert_memory_equal(pub.data + 5, data, sizeof(data));
  assert_int_equal(docstore__alloc_flags(pub.data), DOCSTORE__MEM_PUBLIC);

  /* One byte over the limit: refused, and the buffer is as it was. */
  assert_int_equal(
      docstore__file_read(&pub, p, sizeof(data) - 1, 0, "key file", &err),
      DOCSTORE_ETOOBIG);
  assert_non_null(strstr(err.msg, "key file"));
  assert_non_null(strstr(err.msg, "is larger than 99999 bytes"));
  assert_int_equal(pub.len, 5 + sizeof(data));
  docstore__buf_free(&pub);

  path_of(p, sizeof(p), "empty");
  assert_int_equal(docstore__file_read(&b, p, 10, 0, NULL, &err), 0);
  assert_int_equal(b.len, 0);
  docstore__buf_free(&b);
}

static void test_refusals(void **state) {
  (void)state;
  char p[256], target[256];
  docstore__err err;
  docstore__buf b = DOCSTORE__BUF_INIT;
  docstore__err_clear(&err);
  write_file("file", "secret", 6);

  path_of(p, sizeof(p), "missing");
  assert_int_equal(docstore__file_read(&b, p, 0, 0, "key file", &err),
                   DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(err.msg, "cannot open key file"));
  assert_non_null(strstr(err.msg, "No such file or directory"));
  path_of(p, sizeof(p), "file/below");
  assert_int_equal(docstore__file_read(&b, p, 0, 0, NULL, &err),
                   DOCSTORE_ENOTFOUND); /* ENOTDIR */

  /* EISDIR: a folder is not a file. */
  assert_int_equal(docstore__file_read(&b, dir, 0, 0, "file", &err),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "is a folder"));

  /* A FIFO: refused at once (the open does not wait for a writer). */
  path_of(p, sizeof(p), "fifo");
  assert_int_equal(mkfifo(p, 0600), 0);
  assert_int_equal(docstore__file_read(&b, p, 0, 0, "file", &err),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "not a regular file"));

  /* ELOOP: a symbolic link with NOFOLLOW; followed without it. */
  path_of(target, sizeof(target), "file");
  path_of(p, sizeof(p), "link");
  assert_int_equal(symlink(target, p), 0);
  assert_int_equal(docstore__file_read(&b, p, 0, DOCSTORE__FILE_NOFOLLOW,
                                       "legacy file", &err),
                   DOCSTORE_EACCESS);
  assert_non_null(strstr(err.msg, "is a symbolic link"));
  assert_int_equal(b.len, 0);
  assert_int_equal(docstore__file_read(&b, p, 0, 0, NULL, &err), 0);
  assert_string_equal((char *)b.data, "secret");
  docstore__buf_free(&b);
  /* A loop of links is ELOOP too. */
  path_of(target, sizeof(target), "loop");
  assert_int_equal(symlink(target, target), 0);
  assert_int_equal(docstore__file_read(&b, target, 0, 0, NULL, &err),
                   DOCSTORE_EACCESS);
}

/* The check sees the opened file before any byte is read. */
static int refuse_mode(int fd, const struct stat *st, const char *path,
                       void *arg, docstore__err *err) {
  int *calls = arg;
  struct stat again;
  (*calls)++;
  assert_int_equal(fstat(fd, &again), 0);
  assert_int_equal(again.st_ino, st->st_ino);
  if (st->st_mode & 022)
    return docstore__err_set(err, DOCSTORE_ECONFIG, "%s is writable by others",
                             path);
  return 0;
}

static void test_check(void **state) {
  (void)state;
  char p[256];
  int calls = 0;
  docstore__err err;
  docstore__buf b = DOCSTORE__BUF_INIT;
  docstore__err_clear(&err);
  write_file("checked", "A=1\n", 4);
  path_of(p, sizeof(p), "checked");
  assert_int_equal(chmod(p, 0600), 0);
  assert_int_equal(docstore__file_read_checked(&b, p, 100, 0, ".env file",
                                               refuse_mode, &calls, &err),
                   0);
  assert_int_equal(calls, 1);
  assert_string_equal((char *)b.data, "A=1\n");
  assert_int_equal(chmod(p, 0622), 0);
  assert_int_equal(docstore__file_read_checked(&b, p, 100, 0, ".env file",
                                               refuse_mode, &calls, &err),
                   DOCSTORE_ECONFIG);
  assert_int_equal(calls, 2);
  assert_non_null(strstr(err.msg, "writable by others"));
  assert_int_equal(b.len, 4); /* nothing appended */
  docstore__buf_free(&b);
}

typedef struct writer {
  int fd;
  size_t n;
} writer;

static void *write_pipe(void *arg) {
  writer *w = arg;
  uint8_t chunk[4096];
  memset(chunk, 'k', sizeof(chunk));
  for (size_t done = 0; done < w->n;) {
    size_t n = w->n - done < sizeof(chunk) ? w->n - done : sizeof(chunk);
    if (docstore__fd_write_all(w->fd, chunk, n) != 0)
      break; /* the reader stopped: EPIPE */
    done += n;
  }
  close(w->fd);
  return NULL;
}

/* A pipe (a key given as /dev/stdin or <(cmd)) with FILE_STREAMS: its
 * size is unknown, so the limit is checked while reading. */
static void test_streams(void **state) {
  (void)state;
  docstore__err err;
  docstore__err_clear(&err);
  for (int over = 0; over <= 1; over++) {
    int fds[2];
    char p[64];
    assert_int_equal(pipe(fds), 0);
    writer w = {fds[1], over ? 300000 : 200000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_pipe, &w), 0);
    snprintf(p, sizeof(p), "/dev/fd/%d", fds[0]);
    docstore__buf b = DOCSTORE__BUF_INIT;
    int rc = docstore__file_read(&b, p, 250000, DOCSTORE__FILE_STREAMS,
                                 "key file", &err);
    close(fds[0]);
    pthread_join(t, NULL);
    if (over) {
      assert_int_equal(rc, DOCSTORE_ETOOBIG);
      assert_int_equal(b.len, 0);
      /* Never more than the limit plus one read's room. */
      assert_true(b.cap <= 250000 + 2 * 65536 + 1);
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(b.len, 200000);
      assert_int_equal(b.data[199999], 'k');
    }
    docstore__buf_free(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errno_map), cmocka_unit_test(test_read),
      cmocka_unit_test(test_refusals),  cmocka_unit_test(test_streams),
      cmocka_unit_test(test_check),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
