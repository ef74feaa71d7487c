/*
 * Unit tests: the local filesystem provider (src/provider/local.c),
 * through the public raw-operation API.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "docstore/docstore.h"
#include "helpers/stream_helpers.h"
#include "provider/fsio.h"
#include "provider/provider_internal.h"

typedef struct fixture {
  char base[64];          /* mkdtemp folder holding everything */
  char root[PATH_MAX];    /* base/root: the provider's root */
  char outside[PATH_MAX]; /* base/outside: must never be written */
  docstore_provider *p;
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void rm_tree(const char *path) {
  nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int tmp_count;
static int count_tmp(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw) {
  (void)st, (void)flag;
  if (strncmp(path + ftw->base, ".docstore-tmp-", 14) == 0)
    tmp_count++;
  return 0;
}

/* Temporary files left anywhere under the root. */
static int leftovers(const fixture *f) {
  tmp_count = 0;
  nftw(f->root, count_tmp, 16, FTW_PHYS);
  return tmp_count;
}

static int make_provider(fixture *f, int fsync_on) {
  docstore_local_options o = DOCSTORE_LOCAL_OPTIONS_INIT;
  char errbuf[256];
  o.root = f->root;
  o.fsync = fsync_on;
  int rc = docstore_local_provider_new(&f->p, &o, errbuf, sizeof(errbuf));
  if (rc != 0)
    fprintf(stderr, "local provider: %s\n", errbuf);
  return rc;
}

static int setup_common(void **state, int fsync_on) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f)
    return -1;
  umask(022);
  snprintf(f->base, sizeof(f->base), "/tmp/docstore-local-XXXXXX");
  if (!mkdtemp(f->base))
    return -1;
  snprintf(f->root, sizeof(f->root), "%s/root", f->base);
  snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
  if (mkdir(f->outside, 0700) != 0 || make_provider(f, fsync_on) != 0)
    return -1;
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_common(state, 1); }
static int setup_nosync(void **state) { return setup_common(state, 0); }

static int teardown(void **state) {
  fixture *f = *state;
  docstore_provider_free(f->p);
  rm_tree(f->base);
  free(f);
  docstore__local_no_renameat2 = 0;
  return 0;
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

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static void put_str(docstore_provider *p, const char *key, const char *s) {
  int rc = docstore_provider_put(p, key, (const uint8_t *)s, strlen(s));
  if (rc != 0)
    fail_msg("put %s: %s", key, docstore_provider_errmsg(p));
}

static void expect_content(docstore_provider *p, const char *key,
                           const char *s) {
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = docstore_provider_get(p, &data, &len, key);
  if (rc != 0)
    fail_msg("get %s: %s", key, docstore_provider_errmsg(p));
  assert_int_equal(len, strlen(s));
  assert_memory_equal(data, s, len);
  docstore_free(data);
}

static int get_rc(docstore_provider *p, const char *key) {
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = docstore_provider_get(p, &data, &len, key);
  docstore_free(data);
  return rc;
}

/* ------------------------------------------------------------ creation */

static void test_options_init(void **state) {
  (void)state;
  docstore_local_options o;
  memset(&o, 0x7F, sizeof(o));
  assert_int_equal(docstore_local_options_init(&o, 1), 0);
  assert_int_equal(o.version, 1);
  assert_null(o.root);
  assert_int_equal(o.fsync, 1);
  assert_int_equal(docstore_local_options_init(&o, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_local_options_init(&o, 2), DOCSTORE_EINVAL);
  assert_int_equal(docstore_local_options_init(NULL, 1), DOCSTORE_EINVAL);
}

static void test_new_refuses_bad_options(void **state) {
  (void)state;
  docstore_provider *p = (docstore_provider *)0x1;
  docstore_local_options o = DOCSTORE_LOCAL_OPTIONS_INIT;
  char errbuf[256];
  assert_int_equal(
      docstore_local_provider_new(&p, NULL, errbuf, sizeof(errbuf)),
      DOCSTORE_EINVAL);
  assert_null(p);
  assert_int_equal(docstore_local_provider_new(&p, &o, errbuf, sizeof(errbuf)),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(errbuf, "root"));
  o.root = "";
  assert_int_equal(docstore_local_provider_new(&p, &o, NULL, 0),
                   DOCSTORE_EINVAL);
  o.root = "/tmp";
  o.version = 0;
  assert_int_equal(docstore_local_provider_new(&p, &o, errbuf, sizeof(errbuf)),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(errbuf, "version"));
  o.version = 1;
  assert_int_equal(docstore_local_provider_new(NULL, &o, NULL, 0),
                   DOCSTORE_EINVAL);
}

static void test_new_creates_root_with_parents(void **state) {
  fixture *f = *state;
  char deep[PATH_MAX + 32];
  docstore_provider *p = NULL;
  docstore_local_options o = DOCSTORE_LOCAL_OPTIONS_INIT;
  struct stat st;
  snprintf(deep, sizeof(deep), "%s/new/a/b/", f->base);
  o.root = deep;
  assert_int_equal(docstore_local_provider_new(&p, &o, NULL, 0), 0);
  assert_int_equal(stat(deep, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0700);
  snprintf(deep, sizeof(deep), "%s/new", f->base);
  assert_int_equal(stat(deep, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_string_equal(docstore_provider_name(p), "local");
  assert_string_equal(docstore__provider_display_name(p), "local storage");
  /* Location: the absolute root with exactly one trailing slash. */
  char *real = realpath(f->base, NULL);
  assert_non_null(real);
  char want[PATH_MAX + 32];
  snprintf(want, sizeof(want), "%s/new/a/b/", real);
  free(real);
  assert_string_equal(docstore__provider_location(p), want);
  docstore_provider_free(p);
}

/* Root checks that also hold for root (the test user): a file where a
 * folder is expected. */
static void test_new_unusable_root(void **state) {
  fixture *f = *state;
  char file[PATH_MAX + 32], under[PATH_MAX + 48];
  char errbuf[512];
  docstore_provider *p = NULL;
  docstore_local_options o = DOCSTORE_LOCAL_OPTIONS_INIT;
  snprintf(file, sizeof(file), "%s/plainfile", f->base);
  write_file(file, "x");
  o.root = file;
  assert_int_equal(docstore_local_provider_new(&p, &o, errbuf, sizeof(errbuf)),
                   DOCSTORE_ECONFIG);
  assert_null(p);
  assert_non_null(strstr(errbuf, file));
  assert_non_null(strstr(errbuf, "Not a directory"));
  snprintf(under, sizeof(under), "%s/sub/dir", file);
  o.root = under;
  assert_int_equal(docstore_local_provider_new(&p, &o, errbuf, sizeof(errbuf)),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(errbuf, "cannot create"));
}

/* ------------------------------------------------------------ put/get */

static void test_round_trip_modes_and_overwrite(void **state) {
  fixture *f = *state;
  const char *key = "documents/user_1/2024/01/15/1_passport.pdf_pdf.json";
  char path[PATH_MAX * 2];
  struct stat st;
  put_str(f->p, key, "{\"v\":1}");
  expect_content(f->p, key, "{\"v\":1}");
  path_in(path, sizeof(path), f->root, key);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  path_in(path, sizeof(path), f->root, "documents/user_1/2024");
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  /* Replace. */
  put_str(f->p, key, "second version, longer");
  expect_content(f->p, key, "second version, longer");
  put_str(f->p, key, "");
  expect_content(f->p, key, "");
  assert_int_equal(leftovers(f), 0);
}

/* A get is collected in one block of the object's size (the provider
 * announces it to the buffer), never wiped: an object as stored. */
static void test_get_allocates_once(void **state) {
  fixture *f = *state;
  const size_t len = 300001; /* several read chunks, not a power of two */
  uint8_t *data = malloc(len);
  assert_non_null(data);
  for (size_t i = 0; i < len; i++)
    data[i] = (uint8_t)(i * 131u);
  assert_int_equal(docstore_provider_put(f->p, "big/object", data, len), 0);
  uint8_t *back = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(f->p, &back, &n, "big/object"), 0);
  assert_int_equal(n, len);
  assert_memory_equal(back, data, len);
  assert_int_equal(docstore__alloc_size(back), len + 1);
  assert_int_equal(docstore__alloc_flags(back), DOCSTORE__MEM_PUBLIC);
  docstore_free(back);
  free(data);
}

static void test_no_fsync_mode(void **state) {
  fixture *f = *state;
  put_str(f->p, "a/b", "data");
  expect_content(f->p, "a/b", "data");
  assert_int_equal(docstore_provider_delete(f->p, "a/b"), 0);
  assert_int_equal(get_rc(f->p, "a/b"), DOCSTORE_ENOTFOUND);
}

static void test_missing_objects(void **state) {
  fixture *f = *state;
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  assert_int_equal(get_rc(f->p, "nope"), DOCSTORE_ENOTFOUND);
  assert_string_equal(docstore_provider_errmsg(f->p),
                      "get nope: no such object");
  assert_int_equal(get_rc(f->p, "no/such/folder/x"), DOCSTORE_ENOTFOUND);
  assert_int_equal(docstore_provider_head(f->p, &info, "no/such"),
                   DOCSTORE_ENOTFOUND);
  /* A path below an object. */
  put_str(f->p, "obj", "x");
  assert_int_equal(get_rc(f->p, "obj/below"), DOCSTORE_ENOTFOUND);
  assert_int_equal(docstore_provider_head(f->p, &info, "obj/below"),
                   DOCSTORE_ENOTFOUND);
  assert_int_equal(
      docstore_provider_put(f->p, "obj/below", (const uint8_t *)"y", 1),
      DOCSTORE_EIO);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "not a folder"));
  expect_content(f->p, "obj", "x");
}

static void test_folder_is_not_an_object(void **state) {
  fixture *f = *state;
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  put_str(f->p, "dir/inner", "x");
  assert_int_equal(get_rc(f->p, "dir"), DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "is a folder"));
  assert_int_equal(docstore_provider_head(f->p, &info, "dir"),
                   DOCSTORE_ENOTFOUND);
  /* Deleting it as an object does nothing and succeeds. */
  assert_int_equal(docstore_provider_delete(f->p, "dir"), 0);
  expect_content(f->p, "dir/inner", "x");
}

static void test_traversal_keys_refused(void **state) {
  fixture *f = *state;
  static const char *const bad[] = {
      "../escape", "../../escape", "/tmp/escape", "a/../../escape",
      "a//b",      "a/",           "a/./b",       "a\\..\\escape",
      "ctl\x01",   "inv\xc3\x28",
  };
  char path[PATH_MAX + 32];
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(
        docstore_provider_put(f->p, bad[i], (const uint8_t *)"x", 1),
        DOCSTORE_EINVAL);
    assert_int_equal(get_rc(f->p, bad[i]), DOCSTORE_EINVAL);
    assert_int_equal(docstore_provider_delete(f->p, bad[i]), DOCSTORE_EINVAL);
  }
  path_in(path, sizeof(path), f->base, "escape");
  assert_false(exists(path));
  assert_false(exists("/tmp/escape"));
  /* Local-only refusals: reserved names, over-long segments. */
  assert_int_equal(docstore_provider_put(f->p, ".docstore-tmp-0011",
                                         (const uint8_t *)"x", 1),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "reserved"));
  assert_int_equal(docstore_provider_put(f->p, "a/.docstore-tmp-x/b",
                                         (const uint8_t *)"x", 1),
                   DOCSTORE_EINVAL);
  char longseg[300];
  memset(longseg, 's', 256);
  longseg[256] = '\0';
  assert_int_equal(
      docstore_provider_put(f->p, longseg, (const uint8_t *)"x", 1),
      DOCSTORE_EINVAL);
  longseg[255] = '\0';
  put_str(f->p, longseg, "ok at 255 bytes");
}

/* A symlink planted inside the root must not lead outside it. */
static void test_symlink_escape(void **state) {
  fixture *f = *state;
  char link[PATH_MAX + 32], target[PATH_MAX + 32];
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  path_in(link, sizeof(link), f->root, "link");
  assert_int_equal(symlink(f->outside, link), 0);

  /* Through a linked folder. */
  assert_int_equal(
      docstore_provider_put(f->p, "link/x", (const uint8_t *)"x", 1),
      DOCSTORE_EACCESS);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "symbolic link"));
  path_in(target, sizeof(target), f->outside, "x");
  assert_false(exists(target));
  path_in(target, sizeof(target), f->outside, "secret");
  write_file(target, "top secret");
  assert_int_equal(get_rc(f->p, "link/secret"), DOCSTORE_EACCESS);
  assert_int_equal(docstore_provider_head(f->p, &info, "link/secret"),
                   DOCSTORE_EACCESS);
  assert_int_equal(docstore_provider_delete(f->p, "link/secret"),
                   DOCSTORE_EACCESS);
  assert_true(exists(target));
  /* Deeper: a link in the middle of a path. */
  put_str(f->p, "d/real", "r");
  char mid[PATH_MAX + 32];
  path_in(mid, sizeof(mid), f->root, "d/sub");
  assert_int_equal(symlink(f->outside, mid), 0);
  assert_int_equal(get_rc(f->p, "d/sub/secret"), DOCSTORE_EACCESS);
  assert_int_equal(
      docstore_provider_put(f->p, "d/sub/new/y", (const uint8_t *)"y", 1),
      DOCSTORE_EACCESS);
  path_in(target, sizeof(target), f->outside, "new");
  assert_false(exists(target));

  /* A linked object: never read through, and a put replaces the link
   * itself, not the file it points to. */
  path_in(target, sizeof(target), f->outside, "secret");
  path_in(link, sizeof(link), f->root, "leaf");
  assert_int_equal(symlink(target, link), 0);
  assert_int_equal(get_rc(f->p, "leaf"), DOCSTORE_EACCESS);
  assert_int_equal(docstore_provider_head(f->p, &info, "leaf"),
                   DOCSTORE_EACCESS);
  put_str(f->p, "leaf", "replaced");
  struct stat st;
  assert_int_equal(lstat(link, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  FILE *fp = fopen(target, "r");
  char buf[32] = {0};
  assert_non_null(fp);
  assert_non_null(fgets(buf, sizeof(buf), fp));
  fclose(fp);
  assert_string_equal(buf, "top secret");
}

/* A put that fails leaves no temporary file and the old content intact. */
static void test_failed_put_is_atomic(void **state) {
  fixture *f = *state;
  char path[PATH_MAX + 32];
  /* 1: the target is a folder. */
  put_str(f->p, "folder/keep", "kept");
  assert_int_equal(
      docstore_provider_put(f->p, "folder", (const uint8_t *)"x", 1),
      DOCSTORE_EIO);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "is a folder"));
  assert_int_equal(leftovers(f), 0);
  expect_content(f->p, "folder/keep", "kept");

  /* 2: the write itself fails halfway (file size limit, which binds root
   * too): the old content must survive whole. */
  put_str(f->p, "doc", "old content");
  struct rlimit old, small;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  small = old;
  small.rlim_cur = 4096;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  size_t big_len = 100000;
  uint8_t *big = malloc(big_len);
  assert_non_null(big);
  memset(big, 'N', big_len);
  int rc = docstore_provider_put(f->p, "doc", big, big_len);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, prev);
  free(big);
  assert_int_equal(rc, DOCSTORE_EIO);
  assert_non_null(
      strstr(docstore_provider_errmsg(f->p), "put doc: cannot write"));
  assert_int_equal(leftovers(f), 0);
  expect_content(f->p, "doc", "old content");
  path_in(path, sizeof(path), f->root, "doc");
  assert_true(exists(path));
}

/* A FIFO planted in the root must not hang a get. */
static void test_special_files(void **state) {
  fixture *f = *state;
  char path[PATH_MAX + 32];
  path_in(path, sizeof(path), f->root, "fifo");
  assert_int_equal(mkfifo(path, 0600), 0);
  assert_int_equal(get_rc(f->p, "fifo"), DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "not a regular file"));
}

/* ------------------------------------------------------------ head, delete */

static void test_head(void **state) {
  fixture *f = *state;
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  put_str(f->p, "h/obj", "12345");
  assert_int_equal(docstore_provider_head(f->p, &info, "h/obj"), 0);
  assert_int_equal(info.size, 5);
  assert_true(info.mtime > 1600000000);
  assert_null(info.etag);
}

static void test_delete_idempotent(void **state) {
  fixture *f = *state;
  char path[PATH_MAX + 32];
  put_str(f->p, "x/y/z", "1");
  assert_int_equal(docstore_provider_delete(f->p, "x/y/z"), 0);
  assert_int_equal(get_rc(f->p, "x/y/z"), DOCSTORE_ENOTFOUND);
  assert_int_equal(docstore_provider_delete(f->p, "x/y/z"), 0);
  assert_int_equal(docstore_provider_delete(f->p, "never/was/here"), 0);
  /* Folders are left in place (documented choice). */
  path_in(path, sizeof(path), f->root, "x/y");
  assert_true(exists(path));
  /* A symlinked object is removed as a link; its target stays. */
  char target[PATH_MAX + 32], link[PATH_MAX + 32];
  path_in(target, sizeof(target), f->outside, "t");
  write_file(target, "t");
  path_in(link, sizeof(link), f->root, "lnk");
  assert_int_equal(symlink(target, link), 0);
  assert_int_equal(docstore_provider_delete(f->p, "lnk"), 0);
  assert_false(exists(link));
  assert_true(exists(target));
}

/* ------------------------------------------------------------ list */

#define MAX_SEEN 32
typedef struct listing {
  int n;
  char keys[MAX_SEEN][128];
  uint64_t sizes[MAX_SEEN];
  int stop_after;
} listing;

static int collect(void *payload, const docstore_object_info *info) {
  listing *l = payload;
  assert_true(l->n < MAX_SEEN);
  snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", info->key);
  l->sizes[l->n] = info->size;
  assert_true(info->mtime > 1600000000);
  l->n++;
  return l->stop_after && l->n >= l->stop_after ? 1 : 0;
}

static int cmp_key(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

static listing list_of(docstore_provider *p, const char *prefix) {
  listing l;
  memset(&l, 0, sizeof(l));
  int rc = docstore_provider_list(p, prefix, collect, &l);
  if (rc != 0)
    fail_msg("list %s: %s", prefix, docstore_provider_errmsg(p));
  qsort(l.keys, (size_t)l.n, sizeof(l.keys[0]), cmp_key);
  return l;
}

static void test_list(void **state) {
  fixture *f = *state;
  char path[PATH_MAX + 64];
  put_str(f->p, "documents/user_1/2024/01/15/1_a.pdf_pdf.json", "aa");
  put_str(f->p, "documents/user_1/2024/01/16/2_b.pdf_pdf.json", "bbb");
  put_str(f->p, "documents/user_12/2024/01/15/3_c.pdf_pdf.json", "c");
  put_str(f->p, "documents/system/2024/01/15/4_d.pdf_pdf.json", "dddd");
  put_str(f->p, "other/thing", "o");
  /* Noise that is not an object: temp file, symlink, FIFO, bad name. */
  path_in(path, sizeof(path), f->root, "documents/.docstore-tmp-0000");
  write_file(path, "partial");
  path_in(path, sizeof(path), f->root, "documents/link");
  assert_int_equal(symlink(f->outside, path), 0);
  path_in(path, sizeof(path), f->root, "documents/fifo");
  assert_int_equal(mkfifo(path, 0600), 0);
  path_in(path, sizeof(path), f->root, "documents/bad\x01name");
  write_file(path, "x");

  listing l = list_of(f->p, "");
  assert_int_equal(l.n, 5);
  assert_string_equal(l.keys[0],
                      "documents/system/2024/01/15/4_d.pdf_pdf.json");
  assert_string_equal(l.keys[4], "other/thing");
  /* Again: each listing reads the root from its start (the root fd is
   * shared, its read position must not be). */
  l = list_of(f->p, "");
  assert_int_equal(l.n, 5);

  l = list_of(f->p, "documents/");
  assert_int_equal(l.n, 4);
  l = list_of(f->p, "documents/user_1");
  assert_int_equal(l.n, 3); /* user_1 and user_12 */
  l = list_of(f->p, "documents/user_1/");
  assert_int_equal(l.n, 2);
  assert_string_equal(l.keys[0],
                      "documents/user_1/2024/01/15/1_a.pdf_pdf.json");
  assert_string_equal(l.keys[1],
                      "documents/user_1/2024/01/16/2_b.pdf_pdf.json");
  l = list_of(f->p, "documents/user_1/2024/01/16/2_b");
  assert_int_equal(l.n, 1);
  assert_int_equal(l.sizes[0], 3);
  l = list_of(f->p, "documents/user_1/2024/01/16/2_b.pdf_pdf.json");
  assert_int_equal(l.n, 1);
  l = list_of(f->p, "nothing/here/");
  assert_int_equal(l.n, 0);
  l = list_of(f->p, "other/thing/"); /* a file where a folder would be */
  assert_int_equal(l.n, 0);

  /* Stopping early. */
  memset(&l, 0, sizeof(l));
  l.stop_after = 2;
  assert_int_equal(docstore_provider_list(f->p, "", collect, &l),
                   DOCSTORE_ECANCELED);
  assert_int_equal(l.n, 2);

  assert_int_equal(docstore_provider_list(f->p, "../", collect, &l),
                   DOCSTORE_EINVAL);
  /* A prefix through a symlink is refused, not followed. */
  assert_int_equal(docstore_provider_list(f->p, "documents/link/", collect, &l),
                   DOCSTORE_EACCESS);
}

/* ------------------------------------------------------------ misc */

static void test_presign_unsupported(void **state) {
  fixture *f = *state;
  char *url = NULL;
  assert_int_equal(
      docstore_provider_presign(f->p, &url, "a/b", DOCSTORE_PRESIGN_GET, 3600),
      DOCSTORE_EUNSUPPORTED);
  assert_null(url);
  assert_string_equal(docstore_provider_errmsg(f->p),
                      "presign a/b: provider local does not support "
                      "presigned URLs");
}

static void test_check_and_vanished_root(void **state) {
  fixture *f = *state;
  char *report = NULL;
  assert_int_equal(docstore_provider_check(f->p, &report), 0);
  assert_non_null(report);
  assert_non_null(strstr(report, "local storage root: "));
  assert_non_null(strstr(report, "/root/"));
  assert_non_null(strstr(report, "writable: yes"));
  docstore_free(report);
  assert_int_equal(leftovers(f), 0);

  /* Remove the root under the provider's feet. */
  assert_int_equal(rmdir(f->root), 0);
  assert_int_equal(docstore_provider_check(f->p, &report), DOCSTORE_EIO);
  assert_non_null(strstr(report, "writable: NO"));
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "no longer exists"));
  docstore_free(report);
  assert_int_equal(docstore_provider_put(f->p, "a", (const uint8_t *)"x", 1),
                   DOCSTORE_EIO);
  assert_int_equal(docstore_provider_put(f->p, "a/b", (const uint8_t *)"x", 1),
                   DOCSTORE_EIO);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "root"));
  assert_int_equal(get_rc(f->p, "a"), DOCSTORE_ENOTFOUND);
}

/* ------------------------------------------------------------ threads */

#define THREADS 8
#define ROUNDS 40
#define SHARED_LEN 20000

typedef struct worker {
  docstore_provider *p;
  int id;
  int errors;
} worker;

/* Each thread writes its own keys and fights over one shared key whose
 * every version is SHARED_LEN copies of one letter: a reader must always
 * see one whole version. */
static void *work(void *arg) {
  worker *w = arg;
  char key[64], val[64];
  uint8_t *shared = malloc(SHARED_LEN);
  if (!shared) {
    w->errors++;
    return NULL;
  }
  memset(shared, 'A' + w->id, SHARED_LEN);
  for (int i = 0; i < ROUNDS; i++) {
    snprintf(key, sizeof(key), "t/%d/%d", w->id, i);
    snprintf(val, sizeof(val), "thread %d round %d", w->id, i);
    if (docstore_provider_put(w->p, key, (const uint8_t *)val, strlen(val)))
      w->errors++;
    if (docstore_provider_put(w->p, "shared/doc", shared, SHARED_LEN))
      w->errors++;
    uint8_t *data = NULL;
    size_t len = 0;
    if (docstore_provider_get(w->p, &data, &len, key) || len != strlen(val) ||
        memcmp(data, val, len) != 0)
      w->errors++;
    docstore_free(data);
    data = NULL;
    if (docstore_provider_get(w->p, &data, &len, "shared/doc") ||
        len != SHARED_LEN)
      w->errors++;
    else
      for (size_t j = 1; j < len; j++)
        if (data[j] != data[0]) {
          w->errors++;
          break;
        }
    docstore_free(data);
    if (i % 2 && docstore_provider_delete(w->p, key))
      w->errors++;
  }
  free(shared);
  return NULL;
}

static void test_concurrent_use(void **state) {
  fixture *f = *state;
  pthread_t t[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){f->p, i, 0};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(w[i].errors, 0);
  }
  listing l;
  memset(&l, 0, sizeof(l));
  /* Half of each thread's keys were deleted. */
  int count = 0;
  for (int i = 0; i < THREADS; i++) {
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "t/%d/", i);
    memset(&l, 0, sizeof(l));
    assert_int_equal(docstore_provider_list(f->p, prefix, collect, &l), 0);
    count += l.n;
  }
  assert_int_equal(count, THREADS * ROUNDS / 2);
  assert_int_equal(leftovers(f), 0);
  docstore_op_stats s = {DOCSTORE_OP_STATS_VERSION, 0, 0, 0, 0, 0, 0};
  assert_int_equal(docstore__metrics_get(docstore__provider_metrics(f->p),
                                         DOCSTORE_OP_PUT, &s),
                   0);
  assert_int_equal(s.successes, THREADS * ROUNDS * 2);
  assert_int_equal(s.failures, 0);
}

/* ------------------------------------------------ streaming (ops v2) */

static void test_local_is_native(void **state) {
  fixture *f = *state;
  assert_int_equal(docstore__provider_streams_natively(f->p), 1);
}

/* Many small writes, then whole and ranged reads; counted as one PUT and
 * one GET each, with their bytes. */
static void test_local_stream_round_trip(void **state) {
  fixture *f = *state;
  const size_t n = 300007;
  uint8_t *data = make_data(n);
  docstore__err err;
  docstore_op_stats before, after;
  op_stats(f->p, DOCSTORE_OP_PUT, &before);
  assert_int_equal(stream_put(f->p, "docs/a/b/obj", data, n, 0, &err), 0);
  op_stats(f->p, DOCSTORE_OP_PUT, &after);
  assert_int_equal(after.successes, before.successes + 1);
  assert_int_equal(after.failures, before.failures);
  assert_int_equal(after.bytes, before.bytes + n);
  assert_int_equal(leftovers(f), 0);
  /* Stored as the whole-object put stores: 0600, readable by get. */
  char path[PATH_MAX * 2];
  struct stat st;
  snprintf(path, sizeof(path), "%s/docs/a/b/obj", f->root);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  expect_object(f->p, "docs/a/b/obj", data, n);

  op_stats(f->p, DOCSTORE_OP_GET, &before);
  size_t len;
  uint64_t size;
  int rc;
  uint8_t *got = stream_get(f->p, "docs/a/b/obj", 0, UINT64_MAX, 1000, &len,
                            &size, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(len, n);
  assert_memory_equal(got, data, n);
  free(got);
  op_stats(f->p, DOCSTORE_OP_GET, &after);
  assert_int_equal(after.successes, before.successes + 1);
  assert_int_equal(after.bytes, before.bytes + n);

  check_ranges(f->p, "docs/a/b/obj", data, n);
  free(data);

  /* An empty object. */
  assert_int_equal(stream_put(f->p, "empty", (const uint8_t *)"", 0, 0, &err),
                   0);
  expect_object(f->p, "empty", "", 0);
  got = stream_get(f->p, "empty", 0, UINT64_MAX, 16, &len, &size, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(len, 0);
  assert_int_equal(size, 0);
  free(got);
}

/* A stream keeps the file it opened: a put replacing the object meanwhile
 * changes nothing in what the stream reads. */
static void test_local_stream_reads_a_snapshot(void **state) {
  fixture *f = *state;
  docstore__err err;
  docstore__get_stream *st = NULL;
  uint8_t buf[8];
  size_t got;
  assert_int_equal(
      docstore_provider_put(f->p, "snap", (const uint8_t *)"old bytes", 9), 0);
  assert_int_equal(
      docstore__provider_get_open(f->p, "snap", 4, UINT64_MAX, &st, NULL, &err),
      0);
  assert_int_equal(
      docstore_provider_put(f->p, "snap", (const uint8_t *)"NEW BYTES!", 10),
      0);
  assert_int_equal(
      docstore__provider_get_read(st, buf, sizeof(buf), &got, &err), 0);
  assert_int_equal(got, 5);
  assert_memory_equal(buf, "bytes", 5);
  assert_int_equal(
      docstore__provider_get_read(st, buf, sizeof(buf), &got, &err), 0);
  assert_int_equal(got, 0);
  docstore__provider_get_close(st);
  docstore__provider_get_close(NULL);
}

static void test_local_abort_leaves_nothing(void **state) {
  fixture *f = *state;
  docstore__err err;
  docstore__put_txn *t = NULL;
  docstore_op_stats before, after;
  op_stats(f->p, DOCSTORE_OP_PUT, &before);
  assert_int_equal(
      docstore__provider_put_begin(f->p, "x/y/aborted", NULL, &t, &err), 0);
  assert_int_equal(leftovers(f), 1); /* the temporary file, until abort */
  assert_int_equal(
      docstore__provider_put_write(t, (const uint8_t *)"partial", 7, &err), 0);
  docstore__provider_put_abort(t);
  docstore__provider_put_abort(NULL);
  assert_int_equal(leftovers(f), 0);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  assert_int_equal(docstore_provider_head(f->p, &info, "x/y/aborted"),
                   DOCSTORE_ENOTFOUND);
  /* An abort is a PUT that did not store. */
  op_stats(f->p, DOCSTORE_OP_PUT, &after);
  assert_int_equal(after.successes, before.successes);
  assert_int_equal(after.failures, before.failures + 1);

  /* Abort of a replacement: the old object stays. */
  assert_int_equal(
      docstore_provider_put(f->p, "keep", (const uint8_t *)"old", 3), 0);
  assert_int_equal(docstore__provider_put_begin(f->p, "keep", NULL, &t, &err),
                   0);
  assert_int_equal(
      docstore__provider_put_write(t, (const uint8_t *)"new!", 4, &err), 0);
  docstore__provider_put_abort(t);
  expect_object(f->p, "keep", "old", 3);
  assert_int_equal(leftovers(f), 0);
}

/* Refused before anything reaches the filesystem. */
static void test_local_refusals(void **state) {
  fixture *f = *state;
  docstore__err err;
  docstore__put_txn *t = (docstore__put_txn *)0x1;
  docstore__get_stream *st = (docstore__get_stream *)0x1;
  docstore_put_options o = DOCSTORE_PUT_OPTIONS_INIT;
  assert_int_equal(docstore__provider_put_begin(f->p, "../x", NULL, &t, &err),
                   DOCSTORE_EINVAL);
  assert_null(t);
  assert_int_equal(
      docstore__provider_put_begin(f->p, "a/.docstore-tmp-1", NULL, &t, &err),
      DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "reserved"));
  o.flags = 0x80;
  assert_int_equal(docstore__provider_put_begin(f->p, "a", &o, &t, &err),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "unknown flags"));
  o.flags = 0;
  o.version = 0;
  assert_int_equal(docstore__provider_put_begin(f->p, "a", &o, &t, &err),
                   DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__provider_get_open(f->p, "/abs", 0, 1, &st, NULL, &err),
      DOCSTORE_EINVAL);
  assert_null(st);
  assert_int_equal(
      docstore__provider_get_open(f->p, "missing", 0, 1, &st, NULL, &err),
      DOCSTORE_ENOTFOUND);
  assert_string_equal(err.msg, "get missing: no such object");
  assert_string_equal(docstore_provider_errmsg(f->p),
                      "get missing: no such object");
  assert_int_equal(leftovers(f), 0);
}

/* Confinement as for get: a link below the root is not followed, a folder
 * is no object. */
static void test_local_get_open_confined(void **state) {
  fixture *f = *state;
  docstore__err err;
  docstore__get_stream *st = NULL;
  char outside[PATH_MAX + 16], link[PATH_MAX + 16], dir[PATH_MAX + 16];
  snprintf(outside, sizeof(outside), "%s/secret", f->base);
  FILE *fp = fopen(outside, "w");
  assert_non_null(fp);
  fputs("secret", fp);
  fclose(fp);
  snprintf(link, sizeof(link), "%s/evil", f->root);
  assert_int_equal(symlink(outside, link), 0);
  assert_int_equal(
      docstore__provider_get_open(f->p, "evil", 0, UINT64_MAX, &st, NULL, &err),
      DOCSTORE_EACCESS);
  assert_non_null(strstr(err.msg, "symbolic link"));
  snprintf(link, sizeof(link), "%s/evildir", f->root);
  assert_int_equal(symlink(f->base, link), 0);
  assert_int_equal(docstore__provider_get_open(f->p, "evildir/secret", 0,
                                               UINT64_MAX, &st, NULL, &err),
                   DOCSTORE_EACCESS);
  snprintf(dir, sizeof(dir), "%s/folder", f->root);
  assert_int_equal(mkdir(dir, 0700), 0);
  assert_int_equal(docstore__provider_get_open(f->p, "folder", 0, UINT64_MAX,
                                               &st, NULL, &err),
                   DOCSTORE_ENOTFOUND);
  /* A put through a planted link is refused too, and writes nothing
   * outside. */
  docstore__put_txn *t = NULL;
  assert_int_equal(
      docstore__provider_put_begin(f->p, "evildir/new", NULL, &t, &err),
      DOCSTORE_EACCESS);
  snprintf(dir, sizeof(dir), "%s/new", f->base);
  assert_int_equal(access(dir, F_OK), -1);
}

static void no_clobber(fixture *f) {
  docstore__err err;
  const char *old = "the old object";
  assert_int_equal(
      docstore_provider_put(f->p, "nc/key", (const uint8_t *)old, strlen(old)),
      0);
  uint8_t *data = make_data(70000);
  assert_int_equal(
      stream_put(f->p, "nc/key", data, 70000, DOCSTORE_PUT_NO_CLOBBER, &err),
      DOCSTORE_EEXISTS);
  assert_non_null(strstr(err.msg, "put nc/key: an object exists"));
  expect_object(f->p, "nc/key", old, strlen(old));
  assert_int_equal(leftovers(f), 0);
  /* A fresh key: stored. */
  assert_int_equal(
      stream_put(f->p, "nc/fresh", data, 70000, DOCSTORE_PUT_NO_CLOBBER, &err),
      0);
  expect_object(f->p, "nc/fresh", data, 70000);
  /* A folder under the key: said so. */
  assert_int_equal(
      stream_put(f->p, "nc", data, 10, DOCSTORE_PUT_NO_CLOBBER, &err),
      DOCSTORE_EIO);
  assert_non_null(strstr(err.msg, "is a folder"));
  assert_int_equal(leftovers(f), 0);
  /* DOCSTORE_PUT_VERIFY is accepted (the proof is the synced write), with
   * no-clobber too. */
  assert_int_equal(stream_put(f->p, "nc/verified", data, 70000,
                              DOCSTORE_PUT_NO_CLOBBER | DOCSTORE_PUT_VERIFY,
                              &err),
                   0);
  expect_object(f->p, "nc/verified", data, 70000);
  assert_int_equal(stream_put(f->p, "nc/verified", data, 10,
                              DOCSTORE_PUT_NO_CLOBBER | DOCSTORE_PUT_VERIFY,
                              &err),
                   DOCSTORE_EEXISTS);
  expect_object(f->p, "nc/verified", data, 70000);
  assert_int_equal(leftovers(f), 0);
  /* Without the flag the same put replaces. */
  assert_int_equal(stream_put(f->p, "nc/key", data, 70000, 0, &err), 0);
  expect_object(f->p, "nc/key", data, 70000);
  free(data);
}

static void test_local_no_clobber(void **state) { no_clobber(*state); }

/* As on a kernel or file system without renameat2(RENAME_NOREPLACE). */
static void test_local_no_clobber_link_fallback(void **state) {
  docstore__local_no_renameat2 = 1;
  no_clobber(*state);
  docstore__local_no_renameat2 = 0;
}

/* A write that fails (file size limit, which binds root too): a clear
 * error, the txn refuses to commit, nothing is left, the old object stays;
 * one failed PUT. */
static void test_local_write_failure(void **state) {
  fixture *f = *state;
  docstore__err err;
  docstore__put_txn *t = NULL;
  docstore_op_stats before, after;
  assert_int_equal(docstore_provider_put(f->p, "wf", (const uint8_t *)"old", 3),
                   0);
  op_stats(f->p, DOCSTORE_OP_PUT, &before);
  assert_int_equal(docstore__provider_put_begin(f->p, "wf", NULL, &t, &err), 0);
  uint8_t *big = make_data(100000);
  struct rlimit old, small;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  small = old;
  small.rlim_cur = 4096;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  int rc = docstore__provider_put_write(t, big, 100000, &err);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, prev);
  free(big);
  assert_int_equal(rc, DOCSTORE_EIO);
  assert_non_null(strstr(err.msg, "put wf: cannot write wf"));
  assert_int_equal(
      docstore__provider_put_write(t, (const uint8_t *)"x", 1, &err),
      DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "earlier write failed"));
  assert_int_equal(docstore__provider_put_commit(t, &err), DOCSTORE_EINVAL);
  assert_int_equal(leftovers(f), 0);
  expect_object(f->p, "wf", "old", 3);
  op_stats(f->p, DOCSTORE_OP_PUT, &after);
  assert_int_equal(after.failures, before.failures + 1);
  assert_int_equal(after.successes, before.successes);
}

typedef struct temp_count {
  int live, removed, other;
} temp_count;

static int count_temps(void *payload, const docstore_temp_info *info) {
  temp_count *c = payload;
  if (info->state == DOCSTORE_TEMP_LIVE)
    c->live++;
  else if (info->state == DOCSTORE_TEMP_REMOVED)
    c->removed++;
  else
    c->other++;
  return 0;
}

/* A writer killed mid-put: no object; its temporary file, protected while
 * the writer lived, is found stale and removed. */
static void test_local_killed_writer(void **state) {
  fixture *f = *state;
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    docstore__err err;
    docstore__put_txn *t = NULL;
    uint8_t chunk[4096];
    memset(chunk, 'k', sizeof(chunk));
    close(ready[0]);
    if (docstore__provider_put_begin(f->p, "docs/killed", NULL, &t, &err) < 0)
      _exit(1);
    for (int i = 0; i < 64; i++)
      if (docstore__provider_put_write(t, chunk, sizeof(chunk), &err) < 0)
        _exit(1);
    if (write(ready[1], "1", 1) != 1)
      _exit(1);
    for (;;)
      pause();
  }
  close(ready[1]);
  char c = 0;
  assert_int_equal(read(ready[0], &c, 1), 1);
  close(ready[0]);
  temp_count tc = {0, 0, 0};
  char errbuf[256];
  /* Alive: its file is live, even for a cleaner. */
  assert_int_equal(docstore_local_temporaries(f->root, DOCSTORE_TEMP_REMOVE, 0,
                                              count_temps, &tc, errbuf,
                                              sizeof(errbuf)),
                   0);
  assert_int_equal(tc.live, 1);
  assert_int_equal(tc.removed, 0);
  assert_int_equal(leftovers(f), 1);
  assert_int_equal(kill(child, SIGKILL), 0);
  int status;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFSIGNALED(status));
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  assert_int_equal(docstore_provider_head(f->p, &info, "docs/killed"),
                   DOCSTORE_ENOTFOUND);
  memset(&tc, 0, sizeof(tc));
  assert_int_equal(docstore_local_temporaries(f->root, DOCSTORE_TEMP_REMOVE, 0,
                                              count_temps, &tc, errbuf,
                                              sizeof(errbuf)),
                   0);
  assert_int_equal(tc.removed, 1);
  assert_int_equal(tc.live, 0);
  assert_int_equal(leftovers(f), 0);
}

/* Streaming writers of one key at once: every commit replaces the object
 * whole (a reader never sees a mix or a part), and the last commit wins. */
#define WRITERS 4
#define RACE_SIZE 200000

typedef struct race {
  docstore_provider *p;
  pthread_barrier_t written;
  pthread_mutex_t order;
  int serial; /* commits one at a time, in the order the mutex gives */
  int last;   /* the writer that committed last */
  volatile int stop;
  int bad_reads, good_reads;
} race;

typedef struct writer_arg {
  race *r;
  int id;
  int rc;
} writer_arg;

static void *writer(void *arg) {
  writer_arg *w = arg;
  docstore__err err;
  docstore__put_txn *t = NULL;
  uint8_t chunk[1000];
  memset(chunk, 'A' + w->id, sizeof(chunk));
  w->rc = docstore__provider_put_begin(w->r->p, "race/key", NULL, &t, &err);
  for (int i = 0; w->rc == 0 && i < RACE_SIZE / 1000; i++)
    w->rc = docstore__provider_put_write(t, chunk, sizeof(chunk), &err);
  pthread_barrier_wait(&w->r->written);
  if (w->rc < 0) {
    docstore__provider_put_abort(t);
    return NULL;
  }
  if (w->r->serial)
    pthread_mutex_lock(&w->r->order);
  w->rc = docstore__provider_put_commit(t, &err);
  if (w->r->serial) {
    w->r->last = w->id;
    pthread_mutex_unlock(&w->r->order);
  }
  return NULL;
}

/* Whole and uniform, or missing (before the first commit). */
static void *reader(void *arg) {
  race *r = arg;
  while (!r->stop) {
    uint8_t *d = NULL;
    size_t n = 0;
    int rc = docstore_provider_get(r->p, &d, &n, "race/key");
    if (rc == DOCSTORE_ENOTFOUND)
      continue;
    int ok = rc == 0 && n == RACE_SIZE && d[0] >= 'A' && d[0] < 'A' + WRITERS;
    for (size_t i = 1; ok && i < n; i++)
      ok = d[i] == d[0];
    if (ok)
      r->good_reads++;
    else
      r->bad_reads++;
    docstore_free(d);
  }
  return NULL;
}

static void run_race(fixture *f, int serial) {
  race r;
  memset(&r, 0, sizeof(r));
  r.p = f->p;
  r.serial = serial;
  r.last = -1;
  pthread_barrier_init(&r.written, NULL, WRITERS);
  pthread_mutex_init(&r.order, NULL);
  pthread_t th[WRITERS], rd;
  writer_arg args[WRITERS];
  assert_int_equal(pthread_create(&rd, NULL, reader, &r), 0);
  for (int i = 0; i < WRITERS; i++) {
    args[i].r = &r;
    args[i].id = i;
    args[i].rc = -1;
    assert_int_equal(pthread_create(&th[i], NULL, writer, &args[i]), 0);
  }
  for (int i = 0; i < WRITERS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].rc, 0);
  }
  r.stop = 1;
  pthread_join(rd, NULL);
  pthread_barrier_destroy(&r.written);
  pthread_mutex_destroy(&r.order);
  assert_int_equal(r.bad_reads, 0);
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(f->p, &d, &n, "race/key"), 0);
  assert_int_equal(n, RACE_SIZE);
  for (size_t i = 1; i < n; i++)
    if (d[i] != d[0])
      fail_msg("mixed object at byte %zu", i);
  if (serial)
    assert_int_equal(d[0], 'A' + r.last);
  docstore_free(d);
  assert_int_equal(leftovers(f), 0);
}

static void test_local_concurrent_same_key(void **state) {
  run_race(*state, 1);
  run_race(*state, 0);
}

/* The whole-object put goes through the same transaction: what it stores
 * reads back whole and by ranges, and it leaves no temporary file. */
static void test_local_whole_put_unchanged(void **state) {
  fixture *f = *state;
  uint8_t *data = make_data(123457);
  assert_int_equal(docstore_provider_put(f->p, "whole/obj", data, 123457), 0);
  expect_object(f->p, "whole/obj", data, 123457);
  check_ranges(f->p, "whole/obj", data, 123457);
  free(data);
  assert_int_equal(leftovers(f), 0);
}

/* Memory does not grow with the object: 256 MiB streamed in and out in
 * 64 KiB pieces, in a child process whose peak RSS is compared with its
 * own at the start. */
#define BIG_STREAM ((uint64_t)256 << 20)

static long peak_rss_kib(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static int stream_big(docstore_provider *p) {
  static uint8_t chunk[64 * 1024];
  docstore__err err;
  docstore__put_txn *t = NULL;
  docstore__get_stream *st = NULL;
  uint64_t size = 0, seen = 0;
  size_t got;
  if (docstore__provider_put_begin(p, "big/stream", NULL, &t, &err) < 0)
    return 1;
  for (uint64_t off = 0; off < BIG_STREAM; off += sizeof(chunk)) {
    memset(chunk, (int)(off >> 16), sizeof(chunk));
    if (docstore__provider_put_write(t, chunk, sizeof(chunk), &err) < 0)
      return 2;
  }
  if (docstore__provider_put_commit(t, &err) < 0)
    return 3;
  if (docstore__provider_get_open(p, "big/stream", 0, UINT64_MAX, &st, &size,
                                  &err) < 0 ||
      size != BIG_STREAM)
    return 4;
  do {
    if (docstore__provider_get_read(st, chunk, sizeof(chunk), &got, &err) < 0)
      return 5;
    for (size_t i = 0; i < got; i++)
      if (chunk[i] != (uint8_t)((seen + i) >> 16))
        return 6;
    seen += got;
  } while (got > 0);
  docstore__provider_get_close(st);
  return seen == BIG_STREAM ? 0 : 7;
}

static void test_local_stream_memory_is_constant(void **state) {
  fixture *f = *state;
  int report[2];
  assert_int_equal(pipe(report), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    long before = peak_rss_kib();
    uint64_t t0 = docstore__now_us();
    long r[3] = {stream_big(f->p), 0, 0};
    r[1] = peak_rss_kib() - before;
    r[2] = (long)((docstore__now_us() - t0) / 1000);
    _exit(write(report[1], r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
  }
  close(report[1]);
  long r[3];
  assert_int_equal(read(report[0], r, sizeof(r)), (ssize_t)sizeof(r));
  close(report[0]);
  int status;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(r[0], 0);
  print_message("  256 MiB streamed put + get: peak RSS +%ld KiB, %ld ms\n",
                r[1], r[2]);
  assert_true(r[1] < 8 * 1024);
  assert_int_equal(leftovers(f), 0);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_init),
      cmocka_unit_test(test_new_refuses_bad_options),
      T(test_new_creates_root_with_parents),
      T(test_new_unusable_root),
      T(test_round_trip_modes_and_overwrite),
      T(test_get_allocates_once),
      cmocka_unit_test_setup_teardown(test_no_fsync_mode, setup_nosync,
                                      teardown),
      T(test_missing_objects),
      T(test_folder_is_not_an_object),
      T(test_traversal_keys_refused),
      T(test_symlink_escape),
      T(test_failed_put_is_atomic),
      T(test_special_files),
      T(test_head),
      T(test_delete_idempotent),
      T(test_list),
      T(test_presign_unsupported),
      T(test_check_and_vanished_root),
      T(test_concurrent_use),
      T(test_local_is_native),
      T(test_local_stream_round_trip),
      T(test_local_stream_reads_a_snapshot),
      T(test_local_abort_leaves_nothing),
      T(test_local_refusals),
      T(test_local_get_open_confined),
      T(test_local_no_clobber),
      T(test_local_no_clobber_link_fallback),
      T(test_local_write_failure),
      T(test_local_killed_writer),
      T(test_local_concurrent_same_key),
      T(test_local_whole_put_unchanged),
      cmocka_unit_test_setup_teardown(test_local_stream_memory_is_constant,
                                      setup_nosync, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
