/*
 * Unit tests: the local provider stays inside its root under attack
 * (src/provider/local.c): folders swapped for symbolic links while
 * operations run, hard links to files outside, keys that look like
 * traversal once decoded or normalised (they are literal names), very
 * deep keys, and a listing that runs out of file descriptors.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* nftw, renameat2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "docstore/docstore.h"

typedef struct fixture {
  char base[64];          /* mkdtemp folder holding everything */
  char root[PATH_MAX];    /* base/root: the provider's root */
  char outside[PATH_MAX]; /* base/outside: must never change */
  docstore_provider *p;
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void path_in(char *out, size_t len, const char *dir, const char *rel) {
  snprintf(out, len, "%s/%s", dir, rel);
}

static void write_file(const char *path, const char *content) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(content, fp);
  assert_int_equal(fclose(fp), 0);
}

static void expect_file(const char *path, const char *content) {
  char buf[256] = {0};
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
  fclose(fp);
  buf[n] = '\0';
  assert_string_equal(buf, content);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* Entries in a folder (not recursive). */
static int count_entries(const char *path) {
  DIR *d = opendir(path);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f)
    return -1;
  snprintf(f->base, sizeof(f->base), "/tmp/docstore-confine-XXXXXX");
  if (!mkdtemp(f->base))
    return -1;
  snprintf(f->root, sizeof(f->root), "%s/root", f->base);
  snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
  if (mkdir(f->outside, 0700) != 0)
    return -1;
  char secret[PATH_MAX + 16];
  path_in(secret, sizeof(secret), f->outside, "x");
  write_file(secret, "OUTSIDE");
  docstore_local_options o = DOCSTORE_LOCAL_OPTIONS_INIT;
  o.root = f->root;
  o.fsync = 0;
  char errbuf[256];
  if (docstore_local_provider_new(&f->p, &o, errbuf, sizeof(errbuf)) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  docstore_provider_free(f->p);
  nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* The folder outside is as the fixture made it. */
static void outside_untouched(const fixture *f) {
  char path[PATH_MAX + 16];
  assert_int_equal(count_entries(f->outside), 1);
  path_in(path, sizeof(path), f->outside, "x");
  expect_file(path, "OUTSIDE");
}

/* --------------------------------------------- links planted mid-way */

typedef struct swapper {
  const fixture *f;
  atomic_int stop;
  unsigned long swaps;
} swapper;

/* Exchanges root/race/d (a real folder) and root/race/other (a link to
 * the outside folder) atomically, again and again, until told to stop:
 * race/d is always there, a folder or a link. */
static void *swap_loop(void *arg) {
  swapper *s = arg;
  char d[PATH_MAX + 16], other[PATH_MAX + 16];
  path_in(d, sizeof(d), s->f->root, "race/d");
  path_in(other, sizeof(other), s->f->root, "race/other");
  while (!atomic_load(&s->stop)) {
    if (renameat2(AT_FDCWD, d, AT_FDCWD, other, RENAME_EXCHANGE) != 0)
      break;
    s->swaps++;
  }
  return NULL;
}

static int list_cb(void *payload, const docstore_object_info *info) {
  const char *outside_marker = payload;
  /* A listing never reaches through the link. */
  assert_null(strstr(info->key, outside_marker));
  return 0;
}

/* How an operation that met the link, or the folder where the link was a
 * moment before, may be refused (the message may describe either). */
static int refusal(int rc) {
  return rc == DOCSTORE_EACCESS || rc == DOCSTORE_ENOTFOUND ||
         rc == DOCSTORE_EIO;
}

static void test_links_swapped_mid_operation(void **state) {
  fixture *f = *state;
  char path[PATH_MAX + 32];
  assert_int_equal(
      docstore_provider_put(f->p, "race/d/x", (const uint8_t *)"INSIDE", 6), 0);
  path_in(path, sizeof(path), f->root, "race/other");
  assert_int_equal(symlink(f->outside, path), 0);

  swapper s = {f, 0, 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, swap_loop, &s), 0);
  int puts_ok = 0, gets_ok = 0, refused = 0, i;
  /* Until operations have both succeeded and been refused (the link met
   * mid-walk), at least 2000 rounds. */
  for (i = 0; i < 200000 && (i < 2000 || !puts_ok || !gets_ok || !refused);
       i++) {
    char key[64];
    snprintf(key, sizeof(key), "race/d/%s%d", i % 2 ? "sub/" : "", i % 7);
    int rc = docstore_provider_put(f->p, key, (const uint8_t *)"NEW", 3);
    if (rc == 0)
      puts_ok++;
    else {
      assert_true(refusal(rc));
      refused++;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    rc = docstore_provider_get(f->p, &data, &len, "race/d/x");
    if (rc == 0) {
      assert_int_equal(len, 6);
      assert_memory_equal(data, "INSIDE", 6);
      gets_ok++;
    } else {
      assert_true(refusal(rc));
    }
    docstore_free(data);
    docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
    rc = docstore_provider_head(f->p, &info, "race/d/x");
    assert_true(rc == 0 || refusal(rc));
    if (rc == 0)
      assert_int_equal(info.size, 6);
    rc = docstore_provider_delete(f->p, key);
    assert_true(rc == 0 || refusal(rc));
    rc = docstore_provider_list(f->p, "race/", list_cb, "OUTSIDE");
    assert_true(rc == 0 || refusal(rc));
    rc = docstore_provider_list(f->p, "race/d/", list_cb, "OUTSIDE");
    assert_true(rc == 0 || refusal(rc));
    outside_untouched(f);
  }
  atomic_store(&s.stop, 1);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(s.swaps > 0);
  assert_true(puts_ok > 0 && gets_ok > 0 && refused > 0);
  outside_untouched(f);
}

/* ------------------------------------------------------- hard links */

/* A hard link planted in the root to a file outside it: put replaces the
 * link (the outside file keeps its bytes), delete removes the link only. */
static void test_hard_links(void **state) {
  fixture *f = *state;
  char victim[PATH_MAX + 16], link1[PATH_MAX + 16], link2[PATH_MAX + 16];
  path_in(victim, sizeof(victim), f->outside, "x");
  assert_int_equal(
      docstore_provider_put(f->p, "h/keep", (const uint8_t *)"k", 1), 0);
  path_in(link1, sizeof(link1), f->root, "h/one");
  path_in(link2, sizeof(link2), f->root, "h/two");
  assert_int_equal(link(victim, link1), 0);
  assert_int_equal(link(victim, link2), 0);

  assert_int_equal(
      docstore_provider_put(f->p, "h/one", (const uint8_t *)"REPLACED", 8), 0);
  expect_file(victim, "OUTSIDE");
  expect_file(link1, "REPLACED");
  struct stat st;
  assert_int_equal(stat(victim, &st), 0);
  assert_int_equal(st.st_nlink, 2); /* victim and h/two */

  assert_int_equal(docstore_provider_delete(f->p, "h/two"), 0);
  assert_false(exists(link2));
  outside_untouched(f);
  assert_int_equal(stat(victim, &st), 0);
  assert_int_equal(st.st_nlink, 1);
}

/* -------------------------------------------------- literal key names */

/* Keys that would mean ".." or "/" once percent-decoded, Unicode-
 * normalised or read as overlong UTF-8 are plain names: each one is one
 * file or folder of exactly that name, inside the root.  Invalid UTF-8
 * (overlong encodings of '.' and '/') is refused. */
static void test_lookalike_keys_are_literal(void **state) {
  fixture *f = *state;
  static const struct {
    const char *key;
    const char *first; /* the name created in the root */
  } cases[] = {
      {"%2e%2e/x", "%2e%2e"},
      {"%2E%2E%2Fx", "%2E%2E%2Fx"},
      {"..%2f..%2fx", "..%2f..%2fx"},
      {"%252e%252e/x", "%252e%252e"},
      {"%c0%ae%c0%ae/x", "%c0%ae%c0%ae"},
      {"\xef\xbc\x8e\xef\xbc\x8e/x", "\xef\xbc\x8e\xef\xbc\x8e"}, /* U+FF0E */
      {"\xe2\x80\xa4\xe2\x80\xa4/x", "\xe2\x80\xa4\xe2\x80\xa4"}, /* U+2024 */
      {"a\xe2\x88\x95..\xe2\x88\x95x", "a\xe2\x88\x95..\xe2\x88\x95x"},
      {"a\xe2\x81\x84x", "a\xe2\x81\x84x"}, /* U+2044 fraction slash */
      {"a\xef\xbc\x8fx", "a\xef\xbc\x8fx"}, /* U+FF0F fullwidth solidus */
      {"\xe2\x80\xae"
       "x",
       "\xe2\x80\xae"
       "x"}, /* U+202E RTL override */
      {"...", "..."},
      {"....//x", NULL}, /* empty segment: refused */
  };
  char path[PATH_MAX + 64];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = docstore_provider_put(f->p, cases[i].key,
                                   (const uint8_t *)"literal", 7);
    if (!cases[i].first) {
      assert_int_equal(rc, DOCSTORE_EINVAL);
      continue;
    }
    if (rc != 0)
      fail_msg("put '%s': %s", cases[i].key, docstore_provider_errmsg(f->p));
    path_in(path, sizeof(path), f->root, cases[i].first);
    assert_true(exists(path));
    path_in(path, sizeof(path), f->root, cases[i].key);
    expect_file(path, "literal");
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(docstore_provider_get(f->p, &data, &len, cases[i].key), 0);
    assert_int_equal(len, 7);
    docstore_free(data);
  }
  /* Nothing next to the root or above it. */
  path_in(path, sizeof(path), f->base, "x");
  assert_false(exists(path));
  assert_int_equal(count_entries(f->base), 2); /* root and outside */
  outside_untouched(f);

  /* Composed and decomposed "é" are two keys, two files. */
  assert_int_equal(
      docstore_provider_put(f->p, "nfc/\xc3\xa9", (const uint8_t *)"1", 1), 0);
  assert_int_equal(
      docstore_provider_put(f->p, "nfc/e\xcc\x81", (const uint8_t *)"2", 1), 0);
  path_in(path, sizeof(path), f->root, "nfc");
  assert_int_equal(count_entries(path), 2);

  /* Overlong UTF-8 for '.', '/' and NUL, a lone surrogate, and what is
   * beyond U+10FFFF: not UTF-8, refused. */
  static const char *const invalid[] = {
      "\xc0\xae\xc0\xae/x",   "a\xc0\xafx",    "\xe0\x80\xae\xe0\x80\xae/x",
      "a\xc0\x80x",           "\xed\xa0\x80x", "\xf4\x90\x80\x80x",
      "\xf8\x88\x80\x80\x80",
  };
  for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
    assert_int_equal(
        docstore_provider_put(f->p, invalid[i], (const uint8_t *)"x", 1),
        DOCSTORE_EINVAL);
}

/* ------------------------------------------------------- deep keys */

/* "a/a/.../a/x": the deepest key (1023 bytes, 511 folders) works for every
 * operation; one byte more is refused. */
static char *deep_key(size_t len) {
  char *k = malloc(len + 1);
  assert_non_null(k);
  for (size_t i = 0; i < len; i++)
    k[i] = i % 2 ? '/' : 'a';
  k[len - 1] = 'x';
  k[len] = '\0';
  return k;
}

static int count_cb(void *payload, const docstore_object_info *info) {
  (void)info;
  (*(int *)payload)++;
  return 0;
}

static void test_very_deep_keys(void **state) {
  fixture *f = *state;
  char *key = deep_key(1023);
  assert_int_equal(docstore_provider_put(f->p, key, (const uint8_t *)"deep", 4),
                   0);
  uint8_t *data = NULL;
  size_t len = 0;
  assert_int_equal(docstore_provider_get(f->p, &data, &len, key), 0);
  assert_int_equal(len, 4);
  docstore_free(data);
  int n = 0;
  assert_int_equal(docstore_provider_list(f->p, "", count_cb, &n), 0);
  assert_int_equal(n, 1);
  n = 0;
  assert_int_equal(docstore_provider_list(f->p, "a/a/a/", count_cb, &n), 0);
  assert_int_equal(n, 1);
  char *longer = deep_key(1025);
  assert_int_equal(docstore_provider_put(f->p, longer, (const uint8_t *)"x", 1),
                   DOCSTORE_EINVAL);
  free(longer);
  assert_int_equal(docstore_provider_delete(f->p, key), 0);
  n = 0;
  assert_int_equal(docstore_provider_list(f->p, "", count_cb, &n), 0);
  assert_int_equal(n, 0);
  free(key);
}

typedef struct lister_job {
  docstore_provider *p;
  int rc;
  int n;
} lister_job;

static void *list_job(void *arg) {
  lister_job *j = arg;
  j->rc = docstore_provider_list(j->p, "", count_cb, &j->n);
  return NULL;
}

#if defined(__SANITIZE_ADDRESS__)
#define SMALL_STACK (384 * 1024) /* instrumented frames are larger */
#else
#define SMALL_STACK (256 * 1024)
#endif

/* Listing the deepest tree (511 folders) in a thread with a small stack:
 * the walk's frames must stay small (it used to need about 420 KiB). */
static void test_deep_list_small_stack(void **state) {
  fixture *f = *state;
  char *key = deep_key(1023);
  assert_int_equal(docstore_provider_put(f->p, key, (const uint8_t *)"deep", 4),
                   0);
  pthread_attr_t attr;
  pthread_t t;
  lister_job j = {f->p, -1, 0};
  assert_int_equal(pthread_attr_init(&attr), 0);
  assert_int_equal(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
  assert_int_equal(pthread_create(&t, &attr, list_job, &j), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  pthread_attr_destroy(&attr);
  assert_int_equal(j.rc, 0);
  assert_int_equal(j.n, 1);
  free(key);
}

/* A listing holds one folder open per level.  When the process runs out
 * of file descriptors, the listing fails: it does not skip the folders it
 * cannot open and report a shorter list as complete. */
static void test_list_out_of_descriptors(void **state) {
  fixture *f = *state;
  char *key = deep_key(401); /* 200 folders deep */
  assert_int_equal(docstore_provider_put(f->p, key, (const uint8_t *)"deep", 4),
                   0);
  assert_int_equal(docstore_provider_put(f->p, "top", (const uint8_t *)"t", 1),
                   0);
  struct rlimit old, low;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  low = old;
  low.rlim_cur = 64;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  int n = 0;
  int rc = docstore_provider_list(f->p, "", count_cb, &n);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
  assert_int_not_equal(rc, 0);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "a/a/a/"));
  /* With descriptors enough, both objects are listed. */
  n = 0;
  assert_int_equal(docstore_provider_list(f->p, "", count_cb, &n), 0);
  assert_int_equal(n, 2);
  free(key);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_links_swapped_mid_operation), T(test_hard_links),
      T(test_lookalike_keys_are_literal),  T(test_very_deep_keys),
      T(test_deep_list_small_stack),       T(test_list_out_of_descriptors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
