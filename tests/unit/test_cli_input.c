/*
 * Unit tests: the CLI's whole-input read (cli_read_input in
 * src/cli/cli_stream.c, for the inputs that must be whole): a regular file takes exactly one block of its size
 * plus the NUL (no block grown and released when the read meets the end);
 * a pipe of unknown length grows and keeps every byte.
 *
 * cli_util.c, cli_stream.c and cli_progress.c are compiled into this
 * program (the CLI is a program, not a library); the two command-table functions it refers to for `help` come
 * from main.c, which is not part of this test, and are defined here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "cli/cli_progress.c"
#include "cli/cli_stream.c"
#include "cli/cli_util.c"

#include "internal.h"

const cli_command *cli_find(const char *name) {
  (void)name;
  return NULL;
}

void cli_print_command_help(const cli_command *cmd) { (void)cmd; }

/* Blocks docstore_free() released, by size. */
static struct {
  int calls;
  size_t last_size;
} released;

static void on_release(const void *p, size_t n, unsigned int flags) {
  (void)p;
  (void)flags;
  released.calls++;
  released.last_size = n;
}

static uint8_t *pattern(size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 131u + (i >> 9));
  return p;
}

static char *write_tmp(const uint8_t *data, size_t n) {
  char *path = strdup("/tmp/docstore-cli-input-XXXXXX");
  assert_non_null(path);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, n), (ssize_t)n);
  assert_int_equal(close(fd), 0);
  return path;
}

/* Read a regular file of n bytes: one block of n + 1, nothing released. */
static void read_regular(size_t n) {
  uint8_t *data = pattern(n);
  char *path = write_tmp(data, n);
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  uint8_t *out = NULL;
  size_t len = 0;
  memset(&released, 0, sizeof(released));
  docstore__alloc_release_hook = on_release;
  int rc = cli_read_input(&ctx, path, &out, &len);
  docstore__alloc_release_hook = NULL;
  assert_int_equal(rc, 0);
  assert_int_equal(len, n);
  assert_memory_equal(out, data, n);
  assert_int_equal(out[n], 0);
  /* Before the fix the read of the end doubled the block: one release of
   * n + 1 bytes and a block of 2n + 2. */
  assert_int_equal(released.calls, 0);
  assert_int_equal(docstore__alloc_size(out), n + 1);
  docstore_free(out);
  unlink(path);
  free(path);
  free(data);
}

static void test_regular_file_one_block(void **state) {
  (void)state;
  read_regular(1);
  read_regular(4095);
  read_regular(4096);
  read_regular(4097);
  read_regular(3 * 1024 * 1024 + 7);
}

static void test_empty_file(void **state) {
  (void)state;
  char *path = write_tmp((const uint8_t *)"", 0);
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  uint8_t *out = NULL;
  size_t len = 99;
  assert_int_equal(cli_read_input(&ctx, path, &out, &len), 0);
  assert_int_equal(len, 0);
  assert_non_null(out);
  assert_int_equal(out[0], 0);
  docstore_free(out);
  unlink(path);
  free(path);
}

typedef struct feeder {
  int fd;
  const uint8_t *data;
  size_t n;
} feeder;

static void *feed(void *arg) {
  feeder *f = arg;
  for (size_t off = 0; off < f->n;) {
    ssize_t w = write(f->fd, f->data + off, f->n - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  close(f->fd);
  return NULL;
}

/* Standard input from a pipe: no size known, the block grows, every byte
 * arrives in order. */
static void test_pipe_grows(void **state) {
  (void)state;
  size_t n = 300000; /* several times the first block of 64 KiB */
  uint8_t *data = pattern(n);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  int saved = dup(STDIN_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fds[0], STDIN_FILENO) >= 0);
  close(fds[0]);
  feeder f = {fds[1], data, n};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  uint8_t *out = NULL;
  size_t len = 0;
  int rc = cli_read_input(&ctx, "-", &out, &len);
  pthread_join(t, NULL);
  assert_true(dup2(saved, STDIN_FILENO) >= 0);
  close(saved);
  assert_int_equal(rc, 0);
  assert_int_equal(len, n);
  assert_memory_equal(out, data, n);
  assert_int_equal(out[n], 0);
  docstore_free(out);
  free(data);
}

static void test_missing_and_folder(void **state) {
  (void)state;
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  uint8_t *out = NULL;
  size_t len = 0;
  assert_int_equal(
      cli_read_input(&ctx, "/nonexistent/docstore-cli-input", &out, &len),
      DOCSTORE_ENOTFOUND);
  assert_null(out);
  assert_int_equal(cli_read_input(&ctx, "/tmp", &out, &len), DOCSTORE_EIO);
  assert_null(out);
  assert_non_null(strstr(ctx.msg, "is a folder"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regular_file_one_block),
      cmocka_unit_test(test_empty_file),
      cmocka_unit_test(test_pipe_grows),
      cmocka_unit_test(test_missing_and_folder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
