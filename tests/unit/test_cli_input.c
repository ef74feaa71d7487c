/*
 * Unit tests: the CLI's whole-input read (cli_read_input in
 * src/cli/cli_stream.c, for the inputs that must be whole): a regular file
 * takes exactly one block of its size plus the NUL (no block grown and released
 * when the read meets the end); a pipe of unknown length grows and keeps every
 * byte.  Also the streaming outputs (a temporary file renamed only on commit,
 * removed on failure) and the transform stages (they grow their buffer for a
 * transform that needs room for a whole segment, and give up past a cap).
 *
 * cli_util.c, cli_stream.c and cli_progress.c are compiled into this
 * program (the CLI is a program, not a library); the two command-table
 * functions it refers to for `help` come from main.c, which is not part of this
 * test, and are defined here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

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

/* ------------------------------------------------- outputs and stages */

/* Entries of folder `dir` whose name starts with `prefix`. */
static int count_entries(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)))
    n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

static char *make_dir(void) {
  char *dir = strdup("/tmp/docstore-cli-output-XXXXXX");
  assert_non_null(dir);
  assert_non_null(mkdtemp(dir));
  return dir;
}

/* The target appears only at commit, with the mode asked, whole. */
static void test_output_commit(void **state) {
  (void)state;
  char *dir = make_dir(), path[512];
  snprintf(path, sizeof(path), "%s/out.bin", dir);
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  cli_output o;
  mode_t old = umask(0);
  assert_int_equal(cli_output_open(&ctx, &o, path, 0600), 0);
  umask(old);
  assert_int_equal(cli_output_write(&o, (const uint8_t *)"hello ", 6), 0);
  assert_int_equal(cli_output_sink(&o, (const uint8_t *)"world", 5), 0);
  assert_int_equal(access(path, F_OK), -1); /* not before the commit */
  assert_int_equal(count_entries(dir, ".out.bin."), 1);
  assert_int_equal(cli_output_commit(&o, 0), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(st.st_size, 11);
  assert_int_equal(count_entries(dir, ".out.bin."), 0);
  /* no_overwrite refuses the existing file and removes its temporary */
  assert_int_equal(cli_write_output(&ctx, path, "x", 1, 0600, 1),
                   DOCSTORE_EEXISTS);
  assert_int_equal(count_entries(dir, ".out.bin."), 0);
  unlink(path);
  rmdir(dir);
  free(dir);
}

/* A failure keeps an existing target as it was and leaves no temporary;
 * cli_output_finish() commits or aborts on the result. */
static void test_output_abort(void **state) {
  (void)state;
  char *dir = make_dir(), path[512], buf[16] = {0};
  snprintf(path, sizeof(path), "%s/out.bin", dir);
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  assert_int_equal(cli_write_output(&ctx, path, "old", 3, 0600, 0), 0);
  cli_output o;
  assert_int_equal(cli_output_open(&ctx, &o, path, 0600), 0);
  assert_int_equal(cli_output_write(&o, (const uint8_t *)"partial", 7), 0);
  assert_int_equal(cli_output_finish(&o, DOCSTORE_EINTEGRITY, NULL),
                   DOCSTORE_EINTEGRITY);
  assert_int_equal(count_entries(dir, ".out.bin."), 0);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(buf, 1, sizeof(buf), f), 3);
  fclose(f);
  assert_string_equal(buf, "old");
  assert_int_equal(cli_output_open(&ctx, &o, path, 0600), 0);
  assert_int_equal(cli_output_write(&o, (const uint8_t *)"new", 3), 0);
  assert_int_equal(cli_output_finish(&o, 0, NULL), 0);
  f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(buf, 1, sizeof(buf), f), 3);
  fclose(f);
  assert_memory_equal(buf, "new", 3);
  unlink(path);
  rmdir(dir);
  free(dir);
}

/* An existing output that is not a regular file (a FIFO here, /dev/null in
 * use) is written as it is: never replaced by a renamed file. */
static void test_output_special_file(void **state) {
  (void)state;
  char *dir = make_dir(), path[512], buf[16] = {0};
  snprintf(path, sizeof(path), "%s/fifo", dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  int rfd = open(path, O_RDONLY | O_NONBLOCK); /* a reader, so open works */
  assert_true(rfd >= 0);
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  cli_output o;
  assert_int_equal(cli_output_open(&ctx, &o, path, 0600), 0);
  assert_int_equal(cli_output_write(&o, (const uint8_t *)"via fifo", 8), 0);
  assert_int_equal(cli_output_finish(&o, 0, NULL), 0);
  assert_int_equal(read(rfd, buf, sizeof(buf)), 8);
  assert_memory_equal(buf, "via fifo", 8);
  close(rfd);
  struct stat st;
  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISFIFO(st.st_mode)); /* still the FIFO */
  assert_int_equal(count_entries(dir, ".fifo."), 0);
  /* A device: /dev/null stays a character device. */
  assert_int_equal(cli_output_open(&ctx, &o, "/dev/null", 0600), 0);
  assert_int_equal(cli_output_write(&o, (const uint8_t *)"x", 1), 0);
  assert_int_equal(cli_output_finish(&o, 0, NULL), 0);
  assert_int_equal(stat("/dev/null", &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  unlink(path);
  rmdir(dir);
  free(dir);
}

/* A transform that, like a sealer with a big segment, makes no progress
 * until `out` holds `need` bytes; it copies its input. */
typedef struct picky {
  size_t need;
  int finished;
} picky;

static int picky_update(void *h, uint8_t *out, size_t cap, size_t *out_len,
                        const uint8_t *in, size_t in_len, size_t *used) {
  picky *p = h;
  *out_len = *used = 0;
  if (cap < p->need)
    return 0;
  size_t n = in_len < cap ? in_len : cap;
  memcpy(out, in, n);
  *out_len = *used = n;
  return 0;
}

static int picky_finish(void *h, uint8_t *out, size_t cap, size_t *out_len) {
  picky *p = h;
  *out_len = 0;
  if (cap < p->need)
    return 1;
  p->finished = 1;
  (void)out;
  return 0;
}

static void test_stage_grows(void **state) {
  (void)state;
  cli_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  cli_membuf m = {&ctx, NULL, 0, 0};
  picky p = {3u * 1024 * 1024, 0};
  cli_stage st;
  assert_int_equal(cli_stage_init(&st, &ctx, "test"), 0);
  st.h = &p;
  st.update = picky_update;
  st.finish = picky_finish;
  st.sink = cli_membuf_sink;
  st.sink_payload = &m;
  assert_int_equal(cli_stage_push(&st, (const uint8_t *)"abc", 3), 0);
  assert_true(st.cap >= p.need);
  assert_int_equal(cli_stage_end(&st), 0);
  assert_true(p.finished);
  assert_int_equal(m.len, 3);
  assert_memory_equal(m.data, "abc", 3);
  cli_stage_free(&st);
  /* One that never moves fails (no endless loop) past 32 MiB. */
  picky stuck = {SIZE_MAX, 0};
  assert_int_equal(cli_stage_init(&st, &ctx, "test"), 0);
  st.h = &stuck;
  st.update = picky_update;
  st.finish = picky_finish;
  st.sink = cli_membuf_sink;
  st.sink_payload = &m;
  assert_int_equal(cli_stage_push(&st, (const uint8_t *)"abc", 3),
                   DOCSTORE_ECRYPTO);
  assert_non_null(strstr(ctx.msg, "no progress"));
  cli_stage_free(&st);
  cli_membuf_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regular_file_one_block),
      cmocka_unit_test(test_empty_file),
      cmocka_unit_test(test_pipe_grows),
      cmocka_unit_test(test_missing_and_folder),
      cmocka_unit_test(test_output_commit),
      cmocka_unit_test(test_output_abort),
      cmocka_unit_test(test_output_special_file),
      cmocka_unit_test(test_stage_grows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
