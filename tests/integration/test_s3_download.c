/*
 * Streamed reads from S3 (src/s3/s3_download.c) against Swift + s3api:
 * an object read in parallel windows (one ranged GET each, pinned to the
 * first reply's ETag), the ranges every provider serves alike, an empty
 * object, a missing key, an object replaced while it is read
 * (DOCSTORE_ECHANGED), a stream closed early (its threads gone), and
 * ranged reads of envelope v2 documents by segment through the service's
 * reader, and a document replaced while the reader reads it.  Label `s3`; run
 * under tools/with-test-servers.sh.  The fault server's cases (a window cut
 * mid-body, a flipped byte) are in test_s3_faults.c. SPDX-License-Identifier:
 * Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docstore/docstore.h"
#include "helpers/stream_helpers.h"
#include "s3_itest.h"

static itest_env env;

static int group_setup(void **state) {
  (void)state;
  return itest_env_load(&env);
}

typedef struct conn {
  docstore_provider *p;
  docstore__s3 *s3;
} conn;

/* A provider reading windows of `part` bytes, `concurrency` at a time. */
static conn open_windows(uint64_t part, unsigned int concurrency) {
  conn c;
  docstore_s3_options o = itest_options(&env);
  o.download_concurrency = concurrency;
  itest_open(&c.p, &c.s3, &o, NULL);
  /* Below the setting's 1 MiB minimum: many windows from small objects. */
  c.s3->download_part_size = part;
  return c;
}

/* Threads of this process (/proc/self/task). */
static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

static uint64_t requests(const conn *c) {
  return atomic_load(&c->s3->requests);
}

/* ------------------------------------------------------------ windows */

static void test_windows_in_parallel(void **state) {
  (void)state;
  /* Over the multipart threshold: Swift's ETag is then "<md5>-<parts>",
   * and If-Match must work with it too. */
  const size_t n = ((size_t)17 << 20) + 12345;
  const uint64_t part = 256 * 1024;
  conn c = open_windows(part, 4);
  assert_int_equal(docstore__provider_streams_natively(c.p), 1);
  char *key = itest_key(NULL, "windows.bin");
  uint8_t *data = make_data(n);
  assert_int_equal(docstore_provider_put(c.p, key, data, n), 0);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  assert_int_equal(docstore_provider_head(c.p, &info, key), 0);
  assert_non_null(strchr(info.etag, '-')); /* a multipart ETag */

  int threads = thread_count();
  uint64_t before = requests(&c);
  docstore__err err;
  size_t len = 0;
  uint64_t size = 0;
  int rc;
  uint8_t *got =
      stream_get(c.p, key, 0, UINT64_MAX, 100000, &len, &size, &rc, &err);
  if (rc != 0)
    fail_msg("streamed get: %s", err.msg);
  assert_int_equal(size, n);
  assert_int_equal(len, n);
  assert_memory_equal(got, data, n);
  free(got);
  /* One GET per window, no HEAD, no retry. */
  assert_int_equal(requests(&c) - before, (n + part - 1) / part);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_GET), 0);
  /* The window threads are gone once the stream is closed. */
  assert_int_equal(thread_count(), threads);

  /* The same with one window at a time (no thread at all) and with many. */
  c.s3->download_concurrency = 1;
  got = stream_get(c.p, key, 1, n - 2, 65536, &len, &size, &rc, &err);
  if (rc != 0)
    fail_msg("streamed get, one window at a time: %s", err.msg);
  assert_int_equal(len, n - 2);
  assert_memory_equal(got, data + 1, n - 2);
  free(got);
  c.s3->download_concurrency = 16;
  got = stream_get(c.p, key, part - 1, 5 * part + 2, 4096, &len, &size, &rc,
                   &err);
  if (rc != 0)
    fail_msg("streamed get, 16 windows: %s", err.msg);
  assert_int_equal(len, 5 * part + 2);
  assert_memory_equal(got, data + part - 1, len);
  free(got);
  assert_int_equal(thread_count(), threads);

  c.s3->download_concurrency = 3;
  check_ranges(c.p, key, data, n);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(key);
  free(data);
  docstore_provider_free(c.p);
}

static void test_small_and_empty_objects(void **state) {
  (void)state;
  conn c = open_windows(4096, 4);
  char *key = itest_key(NULL, "small.bin");
  uint8_t *data = make_data(10000);
  assert_int_equal(docstore_provider_put(c.p, key, data, 10000), 0);
  check_ranges(c.p, key, data, 10000);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);

  /* An empty object: an empty stream at offset 0, EINVAL past it. */
  char *empty = itest_key(NULL, "empty");
  assert_int_equal(docstore_provider_put(c.p, empty, data, 0), 0);
  docstore__err err;
  size_t len = 99;
  uint64_t size = 99;
  int rc;
  uint8_t *got =
      stream_get(c.p, empty, 0, UINT64_MAX, 4096, &len, &size, &rc, &err);
  if (rc != 0)
    fail_msg("empty object: %s", err.msg);
  assert_int_equal(len, 0);
  assert_int_equal(size, 0);
  free(got);
  got = stream_get(c.p, empty, 0, 0, 4096, &len, &size, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(len, 0);
  free(got);
  docstore__get_stream *st = NULL;
  assert_int_equal(
      docstore__provider_get_open(c.p, empty, 1, UINT64_MAX, &st, NULL, &err),
      DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "beyond the object's 0 bytes"));
  assert_null(st);
  assert_int_equal(docstore_provider_delete(c.p, empty), 0);

  /* A missing key, and a length of 0 on it. */
  assert_int_equal(
      docstore__provider_get_open(c.p, empty, 0, UINT64_MAX, &st, NULL, &err),
      DOCSTORE_ENOTFOUND);
  assert_int_equal(
      docstore__provider_get_open(c.p, empty, 0, 0, &st, NULL, &err),
      DOCSTORE_ENOTFOUND);
  assert_null(st);
  free(empty);
  free(key);
  free(data);
  docstore_provider_free(c.p);
}

/* -------------------------------------------------------- a new object */

static void test_object_replaced_while_read(void **state) {
  (void)state;
  const size_t n = 40 * 65536;
  conn c = open_windows(65536, 4);
  char *key = itest_key(NULL, "replaced.bin");
  uint8_t *data = make_data(n);
  assert_int_equal(docstore_provider_put(c.p, key, data, n), 0);

  docstore__err err;
  docstore__get_stream *st = NULL;
  uint64_t before = requests(&c);
  assert_int_equal(
      docstore__provider_get_open(c.p, key, 0, UINT64_MAX, &st, NULL, &err), 0);
  /* One byte of window 0: the threads fetch windows 1 to 3 and wait for
   * window 0's buffer, so window 4 comes after the new object is in. */
  uint8_t buf[65536];
  size_t got = 0;
  assert_int_equal(docstore__provider_get_read(st, buf, 1, &got, &err), 0);
  assert_int_equal(got, 1);
  assert_int_equal(buf[0], data[0]);
  /* Give windows 1 to 3 their time (the test holds either way: the
   * windows that missed the old object fail as window 4 does). */
  for (int i = 0; i < 100 && requests(&c) - before < 4; i++)
    usleep(10000);
  usleep(300000);
  assert_int_equal(requests(&c) - before, 4); /* no window 4 yet */
  data[0] ^= 1;
  assert_int_equal(docstore_provider_put(c.p, key, data, n), 0);
  uint64_t read = 1;
  int rc;
  do {
    rc = docstore__provider_get_read(st, buf, sizeof(buf), &got, &err);
    read += got;
  } while (rc == 0 && got > 0);
  assert_int_equal(rc, DOCSTORE_ECHANGED);
  assert_non_null(strstr(err.msg, "changed while it was read"));
  assert_non_null(strstr(err.msg, key));
  /* The windows fetched before the change were handed out, whole. */
  assert_true(read >= 65536 && read <= 4 * 65536);
  assert_int_equal(read % 65536, 0);
  /* Read again: the new object. */
  docstore__provider_get_close(st);
  size_t len = 0;
  uint8_t *back =
      stream_get(c.p, key, 0, UINT64_MAX, sizeof(buf), &len, NULL, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(len, n);
  assert_memory_equal(back, data, n);
  free(back);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(key);
  free(data);
  docstore_provider_free(c.p);
}

static void test_close_early(void **state) {
  (void)state;
  const size_t n = 64 * 65536;
  conn c = open_windows(65536, 8);
  char *key = itest_key(NULL, "closed.bin");
  uint8_t *data = make_data(n);
  assert_int_equal(docstore_provider_put(c.p, key, data, n), 0);
  int threads = thread_count();
  docstore__err err;
  for (size_t stop_at = 0; stop_at < 5 * 65536; stop_at += 65536 + 4097) {
    docstore__get_stream *st = NULL;
    assert_int_equal(
        docstore__provider_get_open(c.p, key, 0, UINT64_MAX, &st, NULL, &err),
        0);
    assert_true(thread_count() > threads);
    uint8_t buf[8192];
    size_t have = 0, got;
    while (have < stop_at) {
      assert_int_equal(
          docstore__provider_get_read(st, buf, sizeof(buf), &got, &err), 0);
      assert_memory_equal(buf, data + have, got);
      have += got;
    }
    docstore__provider_get_close(st);
    assert_int_equal(thread_count(), threads);
  }
  /* A stream that ends inside the first window has no thread. */
  docstore__get_stream *st = NULL;
  assert_int_equal(
      docstore__provider_get_open(c.p, key, 100, 1000, &st, NULL, &err), 0);
  assert_int_equal(thread_count(), threads);
  docstore__provider_get_close(st);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(key);
  free(data);
  docstore_provider_free(c.p);
}

/* -------------------------------------------------- the service reader */

static docstore_service *service_on(conn *c) {
  char errbuf[512];
  docstore_keyring *kr = itest_keyring();
  docstore_service_options so;
  assert_int_equal(
      docstore_service_options_init(&so, DOCSTORE_SERVICE_OPTIONS_VERSION), 0);
  so.segment_size = 4096;
  docstore_service *svc = NULL;
  assert_int_equal(
      docstore_service_new(&svc, c->p, kr, &so, errbuf, sizeof(errbuf)), 0);
  return svc; /* owns the provider and the keyring now */
}

/* Stores doc[0..n) as a document of a user of this run; its path. */
static char *store_doc(docstore_service *svc, const uint8_t *doc, size_t n) {
  static int seq;
  char user[64];
  snprintf(user, sizeof(user), "dl%ld_%ld_%d", (long)getpid(), (long)time(NULL),
           seq++);
  char *path = NULL;
  if (docstore_service_store_document(svc, &path, "7", "doc.bin", doc, n,
                                      user) != 0)
    fail_msg("store: %s", docstore_service_errmsg(svc));
  return path;
}

static uint8_t *read_doc(docstore_service *svc, const char *path,
                         uint64_t offset, uint64_t length, size_t *len) {
  docstore_read_options ro = DOCSTORE_READ_OPTIONS_INIT;
  ro.offset = offset;
  ro.length = length;
  docstore_reader *r = NULL;
  if (docstore_reader_open(&r, svc, path, NULL, &ro) != 0)
    fail_msg("reader_open: %s", docstore_service_errmsg(svc));
  size_t have = 0, room = 1 << 16;
  uint8_t *out = malloc(room);
  assert_non_null(out);
  for (;;) {
    if (room - have < 5000) {
      room *= 2;
      assert_non_null(out = realloc(out, room));
    }
    size_t got = 0;
    if (docstore_reader_read(r, out + have, 5000, &got) != 0)
      fail_msg("reader_read: %s", docstore_reader_errmsg(r));
    if (got == 0)
      break;
    have += got;
  }
  docstore_reader_close(r);
  *len = have;
  return out;
}

static void test_service_ranged_reads(void **state) {
  (void)state;
  const size_t n = 3 * 1000 * 1000 + 17;
  conn c = open_windows(64 * 1024, 4);
  docstore__s3 *s3 = c.s3;
  docstore_service *svc = service_on(&c);
  uint8_t *doc = make_data(n);
  char *path = store_doc(svc, doc, n);

  size_t len = 0;
  uint8_t *back = read_doc(svc, path, 0, 0, &len);
  assert_int_equal(len, n);
  assert_memory_equal(back, doc, n);
  free(back);

  struct {
    uint64_t offset, length;
  } cases[] = {
      {0, 1},          {1, 4095},         {4095, 2},
      {4096, 4096},    {123457, 200000},  {n - 1, 0},
      {n - 5000, 100}, {n / 2, 3 * 4096}, {65536 - 10, 65536 + 20},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    uint64_t before = atomic_load(&s3->requests);
    back = read_doc(svc, path, cases[i].offset, cases[i].length, &len);
    uint64_t want = cases[i].length ? cases[i].length : n - cases[i].offset;
    assert_int_equal(len, want);
    assert_memory_equal(back, doc + cases[i].offset, len);
    free(back);
    /* Only the segments of the range travel: the header and a window or
     * a few, never the 3 MB. */
    uint64_t made = atomic_load(&s3->requests) - before;
    assert_true(made <= 3 + (want * 4112 / 4096 + 2 * 4112) / 65536 + 1);
  }
  assert_int_equal(docstore_service_delete(svc, path), 0);
  docstore_free(path);
  free(doc);
  docstore_service_free(svc);
}

/* A document replaced while the service reads it: the reader fails with
 * DOCSTORE_ECHANGED once it gets past the windows fetched before, after
 * releasing only good plaintext. */
static void test_service_document_replaced(void **state) {
  (void)state;
  const size_t n = 3 * 1000 * 1000;
  conn c = open_windows(1 << 20, 2); /* windows 0 and 1, then 2 waits */
  docstore__s3 *s3 = c.s3;
  docstore_provider *p = c.p;
  docstore_service *svc = service_on(&c);
  uint8_t *doc = make_data(n);
  char *path = store_doc(svc, doc, n);
  uint64_t before = atomic_load(&s3->requests);
  docstore_reader *r = NULL;
  assert_int_equal(docstore_reader_open(&r, svc, path, NULL, NULL), 0);
  uint8_t buf[4096];
  size_t got = 0, plain = 0;
  assert_int_equal(docstore_reader_read(r, buf, sizeof(buf), &got), 0);
  assert_memory_equal(buf, doc, got);
  plain += got;
  for (int i = 0; i < 100 && atomic_load(&s3->requests) - before < 2; i++)
    usleep(10000);
  usleep(300000);
  assert_int_equal(atomic_load(&s3->requests) - before, 2);
  assert_int_equal(docstore_provider_put(p, path, (const uint8_t *)"new", 3),
                   0);
  int rc;
  while ((rc = docstore_reader_read(r, buf, sizeof(buf), &got)) == 0 &&
         got > 0) {
    assert_memory_equal(buf, doc + plain, got);
    plain += got;
  }
  assert_int_equal(rc, DOCSTORE_ECHANGED);
  assert_non_null(
      strstr(docstore_reader_errmsg(r), "changed while it was read"));
  assert_true(plain < (size_t)2 << 20);
  docstore_reader_close(r);
  assert_int_equal(docstore_service_delete(svc, path), 0);
  docstore_free(path);
  free(doc);
  docstore_service_free(svc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_windows_in_parallel),
      cmocka_unit_test(test_small_and_empty_objects),
      cmocka_unit_test(test_object_replaced_while_read),
      cmocka_unit_test(test_close_early),
      cmocka_unit_test(test_service_ranged_reads),
      cmocka_unit_test(test_service_document_replaced),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
