/*
 * Unit tests: temporary files of the local provider's writers
 * (docstore_local_temporaries() in src/provider/local.c).  A live writer's
 * temporary (its lock held by another process or another open file) is
 * never removed; a writer killed with SIGKILL mid-write leaves one that is
 * found and removed; a cleaner running beside writers never makes a put
 * fail.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "docstore/docstore.h"
#include "provider/fsio.h"

static char base[64];
static char root[PATH_MAX];

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  (void)state;
  snprintf(base, sizeof(base), "/tmp/docstore-tmp-test-XXXXXX");
  if (!mkdtemp(base))
    return -1;
  snprintf(root, sizeof(root), "%s/root", base);
  return mkdir(root, 0700);
}

static int teardown(void **state) {
  (void)state;
  nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

/* What one walk reported: per state, and the paths. */
typedef struct seen {
  int n[6];
  char path[8][PATH_MAX];
  int state[8];
  int count;
  int stop_after; /* >0: return 1 after that many */
} seen;

static int on_temp(void *payload, const docstore_temp_info *info) {
  seen *s = payload;
  assert_int_equal(info->version, DOCSTORE_TEMP_INFO_VERSION);
  assert_true(info->state >= 1 && info->state <= 5);
  s->n[info->state]++;
  if (s->count < 8) {
    snprintf(s->path[s->count], PATH_MAX, "%s", info->path);
    s->state[s->count] = info->state;
  }
  s->count++;
  return s->stop_after > 0 && s->count >= s->stop_after ? 1 : 0;
}

static seen walk(unsigned int flags, uint64_t min_age) {
  seen s;
  char err[256] = "";
  memset(&s, 0, sizeof(s));
  int rc = docstore_local_temporaries(root, flags, min_age, on_temp, &s, err,
                                      sizeof(err));
  if (rc != 0)
    fail_msg("docstore_local_temporaries: %d: %s", rc, err);
  return s;
}

/* State reported for `rel` (a path below the root), or 0. */
static int state_of(const seen *s, const char *rel) {
  for (int i = 0; i < s->count && i < 8; i++)
    if (strcmp(s->path[i], rel) == 0)
      return s->state[i];
  return 0;
}

static int exists_below(const char *rel) {
  char p[PATH_MAX * 2];
  struct stat st;
  snprintf(p, sizeof(p), "%s/%s", root, rel);
  return lstat(p, &st) == 0;
}

static int open_folder(const char *rel) {
  char p[PATH_MAX * 2];
  snprintf(p, sizeof(p), "%s/%s", root, rel);
  int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(fd >= 0);
  return fd;
}

/* Play a writer: create a temporary in folder `rel` as put does (it holds
 * the lock) and write n bytes.  Returns the fd; its path in out. */
static int writer_start(const char *rel, size_t n, char *out, size_t cap) {
  char name[64];
  docstore__err err;
  docstore__err_clear(&err);
  int dirfd = open_folder(rel);
  int fd = docstore__local_tmp_create(dirfd, name, sizeof(name), rel, &err);
  if (fd < 0)
    fail_msg("tmp_create: %s", err.msg);
  close(dirfd);
  uint8_t chunk[4096];
  memset(chunk, 'x', sizeof(chunk));
  for (size_t done = 0; done < n;) {
    size_t k = n - done < sizeof(chunk) ? n - done : sizeof(chunk);
    assert_int_equal(write(fd, chunk, k), (ssize_t)k);
    done += k;
  }
  snprintf(out, cap, "%s%s", rel, name);
  return fd;
}

/* ------------------------------------------------------------- tests */

/* A writer in another process, alive then killed with SIGKILL mid-write;
 * a writer in this process (another open file: a thread's put); a file
 * with no lock at all (a writer of an older version, killed). */
static void test_live_kept_killed_removed(void **state) {
  (void)state;
  char p[PATH_MAX * 2];
  snprintf(p, sizeof(p), "%s/documents", root);
  assert_int_equal(mkdir(p, 0700), 0);

  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    char path[PATH_MAX];
    close(ready[0]);
    writer_start("documents/", 1 << 20, path, sizeof(path));
    size_t n = strlen(path) + 1;
    if (write(ready[1], path, n) != (ssize_t)n)
      _exit(1);
    for (;;)
      pause(); /* mid-write, lock held, until killed */
  }
  close(ready[1]);
  char child_tmp[PATH_MAX];
  ssize_t got = read(ready[0], child_tmp, sizeof(child_tmp));
  close(ready[0]);
  assert_true(got > 0);

  char own_tmp[PATH_MAX];
  int own = writer_start("", 1000, own_tmp, sizeof(own_tmp));

  char bare[] = ".docstore-tmp-00000000deadbeef";
  snprintf(p, sizeof(p), "%s/documents/%s", root, bare);
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "old", 3), 3);
  close(fd);
  char bare_rel[PATH_MAX];
  snprintf(bare_rel, sizeof(bare_rel), "documents/%s", bare);

  /* Listing: two live, one stale; nothing removed. */
  seen s = walk(0, 0);
  assert_int_equal(s.count, 3);
  assert_int_equal(state_of(&s, child_tmp), DOCSTORE_TEMP_LIVE);
  assert_int_equal(state_of(&s, own_tmp), DOCSTORE_TEMP_LIVE);
  assert_int_equal(state_of(&s, bare_rel), DOCSTORE_TEMP_STALE);
  assert_true(exists_below(bare_rel));

  /* Cleaning with a minimum age keeps the young stale one. */
  s = walk(DOCSTORE_TEMP_REMOVE, 3600);
  assert_int_equal(state_of(&s, bare_rel), DOCSTORE_TEMP_RECENT);
  assert_true(exists_below(bare_rel));

  /* Cleaning: the stale one goes, live writers' files stay. */
  s = walk(DOCSTORE_TEMP_REMOVE, 0);
  assert_int_equal(state_of(&s, bare_rel), DOCSTORE_TEMP_REMOVED);
  assert_int_equal(state_of(&s, child_tmp), DOCSTORE_TEMP_LIVE);
  assert_int_equal(state_of(&s, own_tmp), DOCSTORE_TEMP_LIVE);
  assert_false(exists_below(bare_rel));
  assert_true(exists_below(child_tmp));
  assert_true(exists_below(own_tmp));

  /* The writer is killed mid-write: its file is stale now. */
  assert_int_equal(kill(child, SIGKILL), 0);
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFSIGNALED(status));
  s = walk(0, 0);
  assert_int_equal(state_of(&s, child_tmp), DOCSTORE_TEMP_STALE);
  s = walk(DOCSTORE_TEMP_REMOVE, 0);
  assert_int_equal(s.count, 2);
  assert_int_equal(state_of(&s, child_tmp), DOCSTORE_TEMP_REMOVED);
  assert_int_equal(state_of(&s, own_tmp), DOCSTORE_TEMP_LIVE);
  assert_false(exists_below(child_tmp));
  assert_true(exists_below(own_tmp));

  /* This process's writer finishes (closes without renaming): stale. */
  close(own);
  s = walk(DOCSTORE_TEMP_REMOVE, 0);
  assert_int_equal(s.count, 1);
  assert_int_equal(state_of(&s, own_tmp), DOCSTORE_TEMP_REMOVED);
  assert_false(exists_below(own_tmp));
  s = walk(0, 0);
  assert_int_equal(s.count, 0);
}

/* A real put killed with SIGKILL while it writes: its temporary is found
 * (live while the writer runs) and removed once the writer is dead. */
static void test_put_killed_mid_write(void **state) {
  (void)state;
  size_t n = (size_t)64 << 20;
  for (int attempt = 0; attempt < 5; attempt++) {
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
      docstore_provider *p = NULL;
      docstore_local_options o = DOCSTORE_LOCAL_OPTIONS_INIT;
      o.root = root;
      o.fsync = 1;
      uint8_t *data = calloc(1, n);
      if (!data || docstore_local_provider_new(&p, &o, NULL, 0) != 0)
        _exit(2);
      for (;;) /* until killed */
        docstore_provider_put(p, "documents/big.json", data, n);
    }
    /* Wait until a put is writing, then kill it. */
    int live = 0;
    for (int i = 0; i < 20000 && !live; i++) {
      seen s = walk(0, 0);
      live = s.n[DOCSTORE_TEMP_LIVE] > 0;
      if (!live)
        usleep(1000);
    }
    kill(child, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    seen s = walk(0, 0);
    if (!live || s.n[DOCSTORE_TEMP_STALE] == 0)
      continue; /* killed between two puts: try again */
    assert_int_equal(s.n[DOCSTORE_TEMP_LIVE], 0);
    s = walk(DOCSTORE_TEMP_REMOVE, 0);
    assert_int_equal(s.n[DOCSTORE_TEMP_REMOVED], s.count);
    s = walk(0, 0);
    assert_int_equal(s.count, 0);
    return;
  }
  fail_msg("no put was caught mid-write in 5 attempts");
}

typedef struct race {
  docstore_provider *p;
  volatile int done;
  int failures;
  char msg[256];
} race;

static void *putter(void *arg) {
  race *r = arg;
  char key[64];
  for (int i = 0; i < 400; i++) {
    snprintf(key, sizeof(key), "documents/r/%d.json", i % 7);
    if (docstore_provider_put(r->p, key, (const uint8_t *)"0123456789", 10) !=
        0) {
      r->failures++;
      snprintf(r->msg, sizeof(r->msg), "%s", docstore_provider_errmsg(r->p));
    }
  }
  r->done = 1;
  return NULL;
}

/* A cleaner removing with no minimum age, over and over, beside writers:
 * every put succeeds and nothing is left behind. */
static void test_cleaner_beside_writers(void **state) {
  (void)state;
  race r;
  memset(&r, 0, sizeof(r));
  docstore_local_options o = DOCSTORE_LOCAL_OPTIONS_INIT;
  o.root = root;
  assert_int_equal(docstore_local_provider_new(&r.p, &o, NULL, 0), 0);
  pthread_t t[2];
  assert_int_equal(pthread_create(&t[0], NULL, putter, &r), 0);
  race r2 = r;
  assert_int_equal(pthread_create(&t[1], NULL, putter, &r2), 0);
  int walks = 0;
  while (!r.done || !r2.done) {
    seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(docstore_local_temporaries(root, DOCSTORE_TEMP_REMOVE, 0,
                                                on_temp, &s, NULL, 0),
                     0);
    walks++;
  }
  pthread_join(t[0], NULL);
  pthread_join(t[1], NULL);
  if (r.failures || r2.failures)
    fail_msg("%d puts failed beside the cleaner: %s", r.failures + r2.failures,
             r.failures ? r.msg : r2.msg);
  assert_true(walks > 0);
  seen s = walk(0, 0);
  assert_int_equal(s.count, 0);
  uint8_t *got = NULL;
  size_t len = 0;
  assert_int_equal(docstore_provider_get(r.p, &got, &len, "documents/r/3.json"),
                   0);
  assert_int_equal(len, 10);
  docstore_free(got);
  docstore_provider_free(r.p);
}

/* Links are not followed; bad arguments; a callback stops the walk. */
static void test_links_and_errors(void **state) {
  (void)state;
  char p[PATH_MAX * 2], target[PATH_MAX * 2];
  snprintf(target, sizeof(target), "%s/outside.txt", base);
  int fd = open(target, O_WRONLY | O_CREAT, 0600);
  assert_true(fd >= 0);
  close(fd);
  snprintf(p, sizeof(p), "%s/.docstore-tmp-1111111111111111", root);
  assert_int_equal(symlink(target, p), 0);
  snprintf(p, sizeof(p), "%s/linked", root);
  assert_int_equal(symlink(base, p), 0);
  seen s = walk(DOCSTORE_TEMP_REMOVE, 0);
  assert_int_equal(s.count, 0);
  struct stat st;
  assert_int_equal(stat(target, &st), 0);

  char err[256];
  assert_int_equal(
      docstore_local_temporaries(NULL, 0, 0, NULL, NULL, err, sizeof(err)),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_local_temporaries(root, 0x80, 0, NULL, NULL, err, sizeof(err)),
      DOCSTORE_EINVAL);
  assert_non_null(strstr(err, "flags"));
  snprintf(p, sizeof(p), "%s/none", base);
  assert_int_equal(
      docstore_local_temporaries(p, 0, 0, NULL, NULL, err, sizeof(err)),
      DOCSTORE_ENOTFOUND);

  char a[PATH_MAX], b[PATH_MAX];
  int fa = writer_start("", 1, a, sizeof(a));
  int fb = writer_start("", 1, b, sizeof(b));
  memset(&s, 0, sizeof(s));
  s.stop_after = 1;
  assert_int_equal(docstore_local_temporaries(root, 0, 0, on_temp, &s, NULL, 0),
                   DOCSTORE_ECANCELED);
  assert_int_equal(s.count, 1);
  close(fa);
  close(fb);
  /* NULL callback: cleans silently. */
  assert_int_equal(docstore_local_temporaries(root, DOCSTORE_TEMP_REMOVE, 0,
                                              NULL, NULL, NULL, 0),
                   0);
  s = walk(0, 0);
  assert_int_equal(s.count, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_live_kept_killed_removed, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_put_killed_mid_write, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_cleaner_beside_writers, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_links_and_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
