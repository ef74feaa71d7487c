/*
 * The S3 provider against a real, signature-checking S3 server (OpenStack
 * Swift + s3api from tools/s3-server.sh, started by
 * tools/with-test-servers.sh).  Label `s3`.  Reads S3_BUCKET,
 * S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_ENDPOINT_URL and, for TLS,
 * DOCSTORE_TEST_S3_TLS_ENDPOINT and DOCSTORE_TEST_S3_CA_BUNDLE.  Without
 * them the tests FAIL (never skip).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docstore/docstore.h"
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

static conn open_default(const docstore__s3_tuning *tuning) {
  conn c;
  docstore_s3_options o = itest_options(&env);
  itest_open(&c.p, &c.s3, &o, tuning);
  return c;
}

/* ----------------------------------------------------------- listing */

typedef struct seen {
  char *keys[64];
  uint64_t sizes[64];
  char *etags[64];
  size_t count;
  size_t stop_after; /* 0: never */
} seen;

static int collect(void *payload, const docstore_object_info *info) {
  seen *s = payload;
  assert_true(s->count < 64);
  s->keys[s->count] = strdup(info->key);
  s->sizes[s->count] = info->size;
  s->etags[s->count] = info->etag ? strdup(info->etag) : NULL;
  s->count++;
  return s->stop_after && s->count >= s->stop_after;
}

static void seen_free(seen *s) {
  for (size_t i = 0; i < s->count; i++) {
    free(s->keys[i]);
    free(s->etags[i]);
  }
  memset(s, 0, sizeof(*s));
}

static int seen_has(const seen *s, const char *key) {
  int n = 0;
  for (size_t i = 0; i < s->count; i++)
    n += strcmp(s->keys[i], key) == 0;
  return n;
}

/* ------------------------------------------------------------- tests */

static const char *const odd_names[] = {
    "plain.json",
    "with space/a b.json",
    "plus+sign+.json",
    "percent%20not-an-escape%.json",
    "unicode/\xc3\xa9t\xc3\xa9-\xe6\x96\x87\xe4\xbb\xb6-\xf0\x9f\x93\x84.json",
    "reserved!$&'()*,;=:@[].json",
    "tilde~dash-under_score.json",
};

static void test_roundtrip_odd_keys(void **state) {
  (void)state;
  conn c = open_default(NULL);
  const char *prefix = itest_prefix();
  size_t n = sizeof(odd_names) / sizeof(odd_names[0]);

  for (size_t i = 0; i < n; i++) {
    char *key = itest_key(prefix, odd_names[i]);
    char body[128];
    snprintf(body, sizeof(body), "{\"n\": %zu, \"key\": \"%s\"}", i,
             odd_names[i]);
    int rc =
        docstore_provider_put(c.p, key, (const uint8_t *)body, strlen(body));
    if (rc != 0)
      fail_msg("put '%s': %d %s", key, rc, docstore_provider_errmsg(c.p));

    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(docstore_provider_get(c.p, &data, &len, key), 0);
    assert_int_equal(len, strlen(body));
    assert_memory_equal(data, body, len);
    docstore_free(data);

    docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0,
                                 NULL};
    assert_int_equal(docstore_provider_head(c.p, &info, key), 0);
    assert_int_equal(info.size, strlen(body));
    assert_true(info.mtime > 1700000000);
    assert_non_null(info.etag);
    free(key);
  }

  /* The listing gives the keys back decoded, each once. */
  seen s = {0};
  assert_int_equal(docstore_provider_list(c.p, prefix, collect, &s), 0);
  assert_int_equal(s.count, n);
  for (size_t i = 0; i < n; i++) {
    char *key = itest_key(prefix, odd_names[i]);
    if (seen_has(&s, key) != 1)
      fail_msg("listing lacks '%s'", key);
    free(key);
  }
  seen_free(&s);

  for (size_t i = 0; i < n; i++) {
    char *key = itest_key(prefix, odd_names[i]);
    assert_int_equal(docstore_provider_delete(c.p, key), 0);
    docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0,
                                 NULL};
    assert_int_equal(docstore_provider_head(c.p, &info, key),
                     DOCSTORE_ENOTFOUND);
    /* Deleting again is fine. */
    assert_int_equal(docstore_provider_delete(c.p, key), 0);
    free(key);
  }
  assert_int_equal(docstore_provider_list(c.p, prefix, collect, &s), 0);
  assert_int_equal(s.count, 0);
  docstore_provider_free(c.p);
}

static void test_double_slash_key(void **state) {
  (void)state;
  conn c = open_default(NULL);
  char *key = itest_key(itest_prefix(), "a//b.json");
  /* The library's key rules refuse empty segments ... */
  assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)"x", 1),
                   DOCSTORE_EINVAL);
  /* ... but the S3 layer itself keeps "//" intact (each segment encoded
   * once, no normalisation), as other S3 clients may write such keys. */
  const docstore_provider_ops *ops = docstore__s3_ops();
  docstore__err err;
  docstore__err_clear(&err);
  assert_int_equal(ops->put(c.s3, key, (const uint8_t *)"slashes", 7,
                            (docstore_errinfo *)&err),
                   0);
  docstore__buf buf = DOCSTORE__BUF_INIT;
  assert_int_equal(
      ops->get(c.s3, key, docstore__buf_sink, &buf, (docstore_errinfo *)&err),
      0);
  assert_int_equal(buf.len, 7);
  assert_memory_equal(buf.data, "slashes", 7);
  docstore__buf_free(&buf);
  /* a/b.json is another key. */
  char *single = itest_key(itest_prefix(), "a/b.json");
  assert_int_equal(ops->get(c.s3, single, docstore__buf_sink, &buf,
                            (docstore_errinfo *)&err),
                   DOCSTORE_ENOTFOUND);
  docstore__buf_free(&buf);
  seen s = {0};
  assert_int_equal(ops->list(c.s3, key, collect, &s, (docstore_errinfo *)&err),
                   0);
  assert_int_equal(s.count, 1);
  assert_string_equal(s.keys[0], key);
  seen_free(&s);
  assert_int_equal(ops->del(c.s3, key, (docstore_errinfo *)&err), 0);
  free(key);
  free(single);
  docstore_provider_free(c.p);
}

static void test_get_range(void **state) {
  (void)state;
  conn c = open_default(NULL);
  char *key = itest_key(itest_prefix(), "range.bin");
  uint8_t data[1000];
  itest_fill(data, sizeof(data), 7);
  assert_int_equal(docstore_provider_put(c.p, key, data, sizeof(data)), 0);

  const docstore_provider_ops *ops = docstore__s3_ops();
  docstore__err err;
  docstore__buf buf = DOCSTORE__BUF_INIT;
  assert_int_equal(ops->get_range(c.s3, key, 10, 20, docstore__buf_sink, &buf,
                                  (docstore_errinfo *)&err),
                   0);
  assert_int_equal(buf.len, 20);
  assert_memory_equal(buf.data, data + 10, 20);
  docstore__buf_free(&buf);

  assert_int_equal(ops->get_range(c.s3, key, 990, UINT64_MAX,
                                  docstore__buf_sink, &buf,
                                  (docstore_errinfo *)&err),
                   0);
  assert_int_equal(buf.len, 10);
  assert_memory_equal(buf.data, data + 990, 10);
  docstore__buf_free(&buf);

  /* A range that runs past the end gives what there is. */
  assert_int_equal(ops->get_range(c.s3, key, 995, 100, docstore__buf_sink, &buf,
                                  (docstore_errinfo *)&err),
                   0);
  assert_int_equal(buf.len, 5);
  docstore__buf_free(&buf);

  assert_int_equal(ops->get_range(c.s3, key, 5000, 10, docstore__buf_sink, &buf,
                                  (docstore_errinfo *)&err),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "416"));
  docstore__buf_free(&buf);

  assert_int_equal(ops->get_range(c.s3, key, 0, 0, docstore__buf_sink, &buf,
                                  (docstore_errinfo *)&err),
                   0);
  assert_int_equal(buf.len, 0);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  assert_int_equal(ops->get_range(c.s3, key, 0, 0, docstore__buf_sink, &buf,
                                  (docstore_errinfo *)&err),
                   DOCSTORE_ENOTFOUND);
  free(key);
  docstore_provider_free(c.p);
}

/* S3 streams both ways itself (s3_upload.c, s3_download.c; the reads are
 * tested further in test_s3_download.c). */
static uint8_t *read_range(docstore_provider *p, const char *key,
                           uint64_t offset, uint64_t length, size_t expect,
                           uint64_t *size) {
  docstore__err err;
  docstore__get_stream *st = NULL;
  int rc = docstore__provider_get_open(p, key, offset, length, &st, size, &err);
  if (rc != 0)
    fail_msg("get_open %s: %s", key, err.msg);
  uint8_t *out = malloc(expect + 1);
  assert_non_null(out);
  size_t have = 0, got;
  do {
    rc = docstore__provider_get_read(st, out + have, 100000, &got, &err);
    if (rc != 0)
      fail_msg("get_read %s: %s", key, err.msg);
    have += got;
    assert_true(have <= expect);
  } while (got > 0);
  assert_int_equal(have, expect);
  docstore__provider_get_close(st);
  return out;
}

static void test_streaming_native(void **state) {
  (void)state;
  conn c = open_default(NULL);
  char *key = itest_key(itest_prefix(), "streamed.bin");
  const size_t n = ((size_t)9 << 20) + 5; /* two read windows */
  uint8_t *data = malloc(n);
  assert_non_null(data);
  itest_fill(data, n, 11);
  assert_int_equal(docstore__provider_streams_natively(c.p), 1);

  docstore__err err;
  docstore__put_txn *t = NULL;
  docstore_put_options o = DOCSTORE_PUT_OPTIONS_INIT;
  o.flags = DOCSTORE_PUT_NO_CLOBBER;
  o.content_type = "application/octet-stream";
  assert_int_equal(docstore__provider_put_begin(c.p, key, &o, &t, &err), 0);
  for (size_t off = 0; off < n; off += 77777) {
    size_t k = n - off < 77777 ? n - off : 77777;
    assert_int_equal(docstore__provider_put_write(t, data + off, k, &err), 0);
  }
  if (docstore__provider_put_commit(t, &err) != 0)
    fail_msg("commit: %s", err.msg);

  uint64_t size = 0;
  uint8_t *back = read_range(c.p, key, 0, UINT64_MAX, n, &size);
  assert_int_equal(size, n);
  assert_memory_equal(back, data, n);
  free(back);
  back = read_range(c.p, key, ((size_t)8 << 20) - 3, 10, 10, &size);
  assert_memory_equal(back, data + ((size_t)8 << 20) - 3, 10);
  free(back);
  back = read_range(c.p, key, n, UINT64_MAX, 0, &size);
  free(back);
  docstore__get_stream *st = NULL;
  assert_int_equal(
      docstore__provider_get_open(c.p, key, n + 1, 1, &st, NULL, &err),
      DOCSTORE_EINVAL);

  /* No-clobber on an existing key: EEXISTS (at begin when no-clobber is a
   * HEAD, as on Swift, else at commit), the object unchanged. */
  int rc = docstore__provider_put_begin(c.p, key, &o, &t, &err);
  if (rc == 0) {
    assert_int_equal(
        docstore__provider_put_write(t, (const uint8_t *)"other", 5, &err), 0);
    rc = docstore__provider_put_commit(t, &err);
  }
  assert_int_equal(rc, DOCSTORE_EEXISTS);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  assert_int_equal(docstore_provider_head(c.p, &info, key), 0);
  assert_int_equal(info.size, n);

  /* Abort: nothing stored. */
  char *other = itest_key(itest_prefix(), "aborted.bin");
  assert_int_equal(docstore__provider_put_begin(c.p, other, NULL, &t, &err), 0);
  assert_int_equal(
      docstore__provider_put_write(t, (const uint8_t *)"gone", 4, &err), 0);
  docstore__provider_put_abort(t);
  assert_int_equal(docstore_provider_head(c.p, &info, other),
                   DOCSTORE_ENOTFOUND);

  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(other);
  free(key);
  free(data);
  docstore_provider_free(c.p);
}

static void test_empty_object(void **state) {
  (void)state;
  conn c = open_default(NULL);
  char *key = itest_key(itest_prefix(), "empty");
  assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)"", 0), 0);
  uint8_t *data = NULL;
  size_t len = 99;
  assert_int_equal(docstore_provider_get(c.p, &data, &len, key), 0);
  assert_int_equal(len, 0);
  docstore_free(data);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(key);
  docstore_provider_free(c.p);
}

static void test_list_continuation(void **state) {
  (void)state;
  docstore__s3_tuning tuning = {.list_max_keys = 3};
  conn c = open_default(&tuning);
  const char *prefix = itest_prefix();
  char keys[11][160];
  for (int i = 0; i < 11; i++) {
    snprintf(keys[i], sizeof(keys[i]), "%sobj %02d+%%.json", prefix, i);
    assert_int_equal(
        docstore_provider_put(c.p, keys[i], (const uint8_t *)"{}", 2), 0);
  }
  uint64_t before = atomic_load(&c.s3->requests);
  seen s = {0};
  assert_int_equal(docstore_provider_list(c.p, prefix, collect, &s), 0);
  uint64_t pages = atomic_load(&c.s3->requests) - before;
  assert_int_equal(s.count, 11);
  for (int i = 0; i < 11; i++)
    assert_int_equal(seen_has(&s, keys[i]), 1);
  /* 11 keys, 3 per page: 4 pages. */
  assert_int_equal(pages, 4);
  for (size_t i = 0; i < s.count; i++) {
    assert_int_equal(s.sizes[i], 2);
    assert_non_null(s.etags[i]);
  }
  seen_free(&s);

  /* The callback can stop the listing early. */
  s.stop_after = 4;
  int rc = docstore_provider_list(c.p, prefix, collect, &s);
  assert_int_equal(rc, DOCSTORE_ECANCELED);
  assert_int_equal(s.count, 4);
  seen_free(&s);

  /* A prefix that matches nothing. */
  char none[200];
  snprintf(none, sizeof(none), "%snothing-here/", prefix);
  assert_int_equal(docstore_provider_list(c.p, none, collect, &s), 0);
  assert_int_equal(s.count, 0);

  for (int i = 0; i < 11; i++)
    assert_int_equal(docstore_provider_delete(c.p, keys[i]), 0);
  docstore_provider_free(c.p);
}

/* Lists in-progress multipart uploads of the bucket for key. */
static int uploads_in_progress(docstore__s3 *s3, const char *key) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err err;
  req.op = DOCSTORE_OP_LIST;
  req.method = "GET";
  req.query = "uploads";
  int rc = docstore__s3_request(s3, &req, &resp, &err);
  if (rc != 0)
    fail_msg("ListMultipartUploads: %s", err.msg);
  int n = 0;
  const char *p = (const char *)resp.body.data;
  char needle[600];
  snprintf(needle, sizeof(needle), "<Key>%s</Key>", key);
  while (p && (p = strstr(p, needle)) != NULL) {
    n++;
    p += strlen(needle);
  }
  docstore__s3_resp_free(&resp);
  return n;
}

/* concurrency: parts in flight (1: one at a time). */
static void multipart_50mib(unsigned int concurrency) {
  const size_t size = 50u * 1024 * 1024;
  docstore_s3_options o = itest_options(&env);
  o.multipart_concurrency = concurrency;
  o.multipart_threshold = 8u * 1024 * 1024;
  o.multipart_part_size = 5u * 1024 * 1024;
  conn c;
  itest_open(&c.p, &c.s3, &o, NULL);
  char *key = itest_key(itest_prefix(), "big 50MiB.bin");
  uint8_t *data = malloc(size);
  assert_non_null(data);
  itest_fill(data, size, 50);

  uint64_t before = atomic_load(&c.s3->requests);
  int rc = docstore_provider_put(c.p, key, data, size);
  if (rc != 0)
    fail_msg("multipart put: %d %s", rc, docstore_provider_errmsg(c.p));
  /* Create + 10 parts + Complete. */
  assert_int_equal(atomic_load(&c.s3->requests) - before, 12);

  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c.p, &info, key), 0);
  assert_int_equal(info.size, size);
  assert_non_null(info.etag);
  assert_non_null(strstr(info.etag, "-10")); /* an S3 multipart ETag */

  uint8_t *back = NULL;
  size_t len = 0;
  assert_int_equal(docstore_provider_get(c.p, &back, &len, key), 0);
  assert_int_equal(len, size);
  assert_true(memcmp(back, data, size) == 0);
  /* Allocated once from Content-Length (and the NUL), not grown; an object
   * as stored is not wiped on release. */
  assert_int_equal(docstore__alloc_size(back), size + 1);
  assert_int_equal(docstore__alloc_flags(back), DOCSTORE__MEM_PUBLIC);
  docstore_free(back);
  assert_int_equal(uploads_in_progress(c.s3, key), 0);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(data);
  free(key);
  docstore_provider_free(c.p);
}

static void test_multipart_50mib(void **state) {
  (void)state;
  multipart_50mib(4);
}

static void test_multipart_50mib_sequential(void **state) {
  (void)state;
  multipart_50mib(1);
}

static void multipart_failure_is_aborted(unsigned int concurrency) {
  /* Parts of 1 MiB are below S3's 5 MiB minimum: the server refuses the
   * Complete (EntityTooSmall) and the upload must be aborted. */
  docstore__s3_tuning tuning = {.min_part_size = 1024 * 1024};
  docstore_s3_options o = itest_options(&env);
  o.multipart_concurrency = concurrency;
  o.multipart_threshold = 1024 * 1024;
  o.multipart_part_size = 1024 * 1024;
  conn c;
  itest_open(&c.p, &c.s3, &o, &tuning);
  char *key = itest_key(itest_prefix(), "too-small-parts.bin");
  size_t size = 3 * 1024 * 1024 + 17;
  uint8_t *data = malloc(size);
  assert_non_null(data);
  itest_fill(data, size, 3);
  int rc = docstore_provider_put(c.p, key, data, size);
  assert_true(rc < 0);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), "EntityTooSmall"));
  assert_int_equal(uploads_in_progress(c.s3, key), 0);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c.p, &info, key), DOCSTORE_ENOTFOUND);
  free(data);
  free(key);
  docstore_provider_free(c.p);
}

static void test_multipart_failure_is_aborted(void **state) {
  (void)state;
  multipart_failure_is_aborted(4);
}

static void test_multipart_failure_is_aborted_sequential(void **state) {
  (void)state;
  multipart_failure_is_aborted(1);
}

static void test_wrong_secret(void **state) {
  (void)state;
  static const char secret[] = "Wr0ng-Secret-XYZZY-never-shown";
  docstore_s3_options o = itest_options(&env);
  o.secret_key = secret;
  conn c;
  itest_open(&c.p, &c.s3, &o, NULL);
  char *key = itest_key(itest_prefix(), "denied.json");

  int rc = docstore_provider_put(c.p, key, (const uint8_t *)"{}", 2);
  assert_int_equal(rc, DOCSTORE_EACCESS);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "403"));
  assert_non_null(strstr(msg, "SignatureDoesNotMatch"));
  assert_non_null(strstr(msg, "S3_SECRET_KEY"));
  assert_null(strstr(msg, secret));
  assert_null(strstr(msg, "Signature="));
  /* Never retried. */
  assert_int_equal(atomic_load(&c.s3->requests), 1);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_PUT), 0);

  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, key), DOCSTORE_EACCESS);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c.p, &info, key), DOCSTORE_EACCESS);

  char *report = NULL;
  assert_int_equal(docstore_provider_check(c.p, &report), DOCSTORE_EACCESS);
  assert_non_null(report);
  assert_non_null(strstr(report, "reachability: OK"));
  assert_non_null(strstr(report, "credentials: FAILED"));
  assert_non_null(strstr(report, "bucket: not checked"));
  assert_null(strstr(report, secret));
  docstore_free(report);
  free(key);
  docstore_provider_free(c.p);
}

static void test_unknown_access_key(void **state) {
  (void)state;
  docstore_s3_options o = itest_options(&env);
  o.access_key = "nobody:nouser";
  conn c;
  itest_open(&c.p, &c.s3, &o, NULL);
  char *key = itest_key(itest_prefix(), "x.json");
  assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)"{}", 2),
                   DOCSTORE_EACCESS);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), "403"));
  free(key);
  docstore_provider_free(c.p);
}

static void test_unknown_bucket(void **state) {
  (void)state;
  char bucket[64];
  snprintf(bucket, sizeof(bucket), "docstore-missing-%ld", (long)getpid());
  docstore_s3_options o = itest_options(&env);
  o.bucket = bucket;
  conn c;
  itest_open(&c.p, &c.s3, &o, NULL);

  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, "documents/x.json"),
                   DOCSTORE_ENOBUCKET);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "NoSuchBucket"));
  assert_non_null(strstr(msg, bucket));
  assert_non_null(strstr(msg, "RequestId"));
  assert_int_equal(
      docstore_provider_put(c.p, "documents/x.json", (const uint8_t *)"{}", 2),
      DOCSTORE_ENOBUCKET);
  seen s = {0};
  assert_int_equal(docstore_provider_list(c.p, "", collect, &s),
                   DOCSTORE_ENOBUCKET);

  char *report = NULL;
  assert_int_equal(docstore_provider_check(c.p, &report), DOCSTORE_ENOBUCKET);
  assert_non_null(strstr(report, "reachability: OK"));
  assert_non_null(strstr(report, "credentials: OK"));
  assert_non_null(strstr(report, "bucket: FAILED"));
  assert_non_null(strstr(report, "ensure bucket"));
  docstore_free(report);
  docstore_provider_free(c.p);
}

static void test_check_ok(void **state) {
  (void)state;
  conn c = open_default(NULL);
  char *report = NULL;
  assert_int_equal(docstore_provider_check(c.p, &report), 0);
  assert_non_null(strstr(report, "reachability: OK"));
  assert_non_null(strstr(report, "credentials: OK"));
  assert_non_null(strstr(report, "bucket: OK"));
  assert_non_null(strstr(report, "incomplete uploads: OK"));
  /* One line each. */
  int lines = 0;
  for (const char *p = report; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 4);
  docstore_free(report);
  docstore_provider_free(c.p);
}

static void test_server_down(void **state) {
  (void)state;
  char endpoint[64];
  int port = itest_closed_port();
  snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
  docstore_s3_options o = itest_options(&env);
  o.endpoint_url = endpoint;
  conn c;
  itest_open(&c.p, &c.s3, &o, NULL);

  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, "documents/x.json"),
                   DOCSTORE_ECONNECT);
  char expect[128];
  snprintf(expect, sizeof(expect), "cannot connect to %s: Connection refused",
           endpoint);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), expect));
  /* Refused connections are retried (3 attempts). */
  assert_int_equal(atomic_load(&c.s3->requests), 3);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_GET), 2);
  assert_int_equal(itest_metric_retries(c.p, DOCSTORE_OP_GET), 2);

  char *report = NULL;
  assert_int_equal(docstore_provider_check(c.p, &report), DOCSTORE_ECONNECT);
  assert_non_null(strstr(report, "reachability: FAILED"));
  assert_non_null(strstr(report, "Connection refused"));
  docstore_free(report);

  /* Through the facade: retrieve falls back to the legacy local file. */
  char *dir = itest_tmpdir();
  char legacy[512];
  snprintf(legacy, sizeof(legacy), "%s/legacy.json", dir);
  FILE *f = fopen(legacy, "w");
  assert_non_null(f);
  fputs("{\"legacy\": true}", f);
  fclose(f);
  docstore_service_options so;
  assert_int_equal(
      docstore_service_options_init(&so, DOCSTORE_SERVICE_OPTIONS_VERSION), 0);
  so.legacy_root = dir;
  docstore_service *svc = NULL;
  char errbuf[256];
  assert_int_equal(
      docstore_service_new(&svc, c.p, NULL, &so, errbuf, sizeof(errbuf)), 0);
  itest_capture_logs("falling back to local");
  char *out = NULL;
  size_t len = 0;
  int rc = docstore_service_retrieve_fallback(
      svc, &out, &len, "documents/user_1/2024/01/15/1_a.pdf_pdf.json",
      "legacy.json");
  int warned = itest_captured();
  itest_restore_logs();
  if (rc != 0)
    fail_msg("fallback: %d %s", rc, docstore_service_errmsg(svc));
  assert_int_equal(len, strlen("{\"legacy\": true}"));
  assert_memory_equal(out, "{\"legacy\": true}", len);
  assert_int_equal(warned, 1);
  docstore_free(out);
  docstore_service_free(svc);
  itest_rmtree(dir);
  free(dir);
}

/* --------------------------------------------------------- presign */

/* A good object passes the download checks against a real server: its
 * ETag is an MD5 (so the body's MD5 is compared with it), and a range
 * starts where it was asked to (Content-Range). */
static void test_download_checked(void **state) {
  (void)state;
  conn c = open_default(NULL);
  char *key = itest_key(itest_prefix(), "checked.bin");
  size_t size = 100000;
  uint8_t *data = malloc(size);
  assert_non_null(data);
  itest_fill(data, size, 77);
  assert_int_equal(docstore_provider_put(c.p, key, data, size), 0);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c.p, &info, key), 0);
  assert_non_null(info.etag);
  assert_int_equal(strlen(info.etag), 34); /* "<32 hex digits>" */
  uint8_t *back = NULL;
  size_t len = 0;
  int rc = docstore_provider_get(c.p, &back, &len, key);
  if (rc != 0)
    fail_msg("get: %s", docstore_provider_errmsg(c.p));
  assert_int_equal(len, size);
  assert_memory_equal(back, data, size);
  docstore_free(back);
  docstore__buf part = DOCSTORE__BUF_INIT_PUBLIC;
  docstore__err err;
  docstore__err_clear(&err);
  assert_int_equal(docstore__s3_ops()->get_range(c.s3, key, 1000, 500,
                                                 docstore__buf_sink, &part,
                                                 (docstore_errinfo *)&err),
                   0);
  assert_int_equal(part.len, 500);
  assert_memory_equal(part.data, data + 1000, 500);
  docstore__buf_free(&part);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(data);
  free(key);
  docstore_provider_free(c.p);
}

static void test_presigned_urls(void **state) {
  (void)state;
  conn c = open_default(NULL);
  char *key = itest_key(itest_prefix(), "presigned file +%.json");
  const char *content = "{\"presigned\": \"yes\"}";
  assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)content,
                                         strlen(content)),
                   0);
  char *url = NULL;
  assert_int_equal(
      docstore_provider_presign(c.p, &url, key, DOCSTORE_PRESIGN_GET, 300), 0);
  assert_null(strstr(url, env.secret_key));
  char *body = NULL;
  assert_int_equal(itest_curl(url, NULL, &body), 200);
  assert_string_equal(body, content);
  free(body);

  /* Tampered: another signature, another key, a longer expiry. */
  char *bad = strdup(url);
  char *sig = strstr(bad, "X-Amz-Signature=") + 16;
  sig[0] = sig[0] == 'a' ? 'b' : 'a';
  assert_int_equal(itest_curl(bad, NULL, NULL), 403);
  free(bad);
  bad = strdup(url);
  char *name = strstr(bad, "presigned");
  name[0] = 'P';
  assert_int_equal(itest_curl(bad, NULL, NULL), 403);
  free(bad);
  bad = strdup(url);
  char *exp = strstr(bad, "X-Amz-Expires=300");
  exp[15] = '9';
  assert_int_equal(itest_curl(bad, NULL, NULL), 403);
  free(bad);
  docstore_free(url);

  /* A presigned PUT uploads with plain curl. */
  char *key2 = itest_key(itest_prefix(), "uploaded by browser.json");
  assert_int_equal(
      docstore_provider_presign(c.p, &url, key2, DOCSTORE_PRESIGN_PUT, 300), 0);
  char *dir = itest_tmpdir();
  char file[512];
  snprintf(file, sizeof(file), "%s/up.json", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("{\"via\": \"presigned PUT\"}", f);
  fclose(f);
  char extra[600];
  snprintf(extra, sizeof(extra), "-T %s", file);
  assert_int_equal(itest_curl(url, extra, NULL), 200);
  docstore_free(url);
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, key2), 0);
  assert_int_equal(n, strlen("{\"via\": \"presigned PUT\"}"));
  assert_memory_equal(d, "{\"via\": \"presigned PUT\"}", n);
  docstore_free(d);
  itest_rmtree(dir);
  free(dir);

  /* Expired: valid for 1 s, fetched 3 s later. */
  assert_int_equal(
      docstore_provider_presign(c.p, &url, key, DOCSTORE_PRESIGN_GET, 1), 0);
  sleep(3);
  assert_int_equal(itest_curl(url, NULL, NULL), 403);
  docstore_free(url);

  /* Over 7 days: refused. */
  assert_int_equal(
      docstore_provider_presign(c.p, &url, key, DOCSTORE_PRESIGN_GET, 604801),
      DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  assert_int_equal(docstore_provider_delete(c.p, key2), 0);
  free(key);
  free(key2);
  docstore_provider_free(c.p);
}

/* ------------------------------------------------------------- TLS */

static void test_tls(void **state) {
  (void)state;
  const char *tls = getenv("DOCSTORE_TEST_S3_TLS_ENDPOINT");
  const char *ca = getenv("DOCSTORE_TEST_S3_CA_BUNDLE");
  if (!tls || !*tls || !ca || !*ca)
    fail_msg("DOCSTORE_TEST_S3_TLS_ENDPOINT / DOCSTORE_TEST_S3_CA_BUNDLE are "
             "not set: run under tools/with-test-servers.sh (TLS front on)");
  char *key = itest_key(itest_prefix(), "over tls.json");

  /* The system CAs do not know the test CA: refused. */
  docstore_s3_options o = itest_options(&env);
  o.endpoint_url = tls;
  conn c;
  itest_open(&c.p, &c.s3, &o, NULL);
  int rc = docstore_provider_put(c.p, key, (const uint8_t *)"{}", 2);
  assert_int_equal(rc, DOCSTORE_ECONNECT);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), "TLS"));
  assert_non_null(strstr(docstore_provider_errmsg(c.p), tls));
  /* Not retried: a certificate does not get better. */
  assert_int_equal(atomic_load(&c.s3->requests), 1);
  docstore_provider_free(c.p);

  /* With the CA bundle: accepted, and the signature (Host with the TLS
   * port) checks out. */
  o.ca_bundle = ca;
  itest_open(&c.p, &c.s3, &o, NULL);
  rc = docstore_provider_put(c.p, key, (const uint8_t *)"{\"tls\":1}", 9);
  if (rc != 0)
    fail_msg("TLS put: %s", docstore_provider_errmsg(c.p));
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, key), 0);
  assert_int_equal(n, 9);
  docstore_free(d);
  char *report = NULL;
  assert_int_equal(docstore_provider_check(c.p, &report), 0);
  docstore_free(report);
  docstore_provider_free(c.p);

  /* The explicit opt-out works and says so in the log. */
  o.ca_bundle = NULL;
  o.insecure_skip_verify = 1;
  itest_capture_logs("DISABLED");
  itest_open(&c.p, &c.s3, &o, NULL);
  int warned = itest_captured();
  itest_restore_logs();
  assert_int_equal(warned, 1);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  docstore_provider_free(c.p);
  free(key);
}

/* ---------------------------------------------------------- facade */

static int count_docs(void *payload, const docstore_object_info *info) {
  (void)info;
  (*(int *)payload)++;
  return 0;
}

static void test_service_facade(void **state) {
  (void)state;
  docstore_keyring *kr = itest_keyring();
  char errbuf[512];

  docstore_s3_options o = itest_options(&env);
  docstore_provider *p = NULL;
  assert_int_equal(docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)), 0);
  docstore_service *svc = NULL;
  assert_int_equal(
      docstore_service_new(&svc, p, kr, NULL, errbuf, sizeof(errbuf)), 0);
  assert_string_equal(docstore_service_storage_type(svc), "s3");

  char user[48];
  snprintf(user, sizeof(user), "it%ld_%ld", (long)getpid(), (long)time(NULL));
  const char *doc = "%PDF-1.7 passport scan \x01\x02\x03";
  char *path = NULL;
  int rc =
      docstore_service_store_document(svc, &path, "42", "pass port.pdf",
                                      (const uint8_t *)doc, strlen(doc), user);
  if (rc != 0)
    fail_msg("store_document: %d %s", rc, docstore_service_errmsg(svc));
  assert_non_null(strstr(path, user));

  int exists = 0;
  uint64_t size = 0;
  assert_int_equal(docstore_service_exists(svc, &exists, &size, path), 0);
  assert_int_equal(exists, 1);
  assert_true(size > strlen(doc));

  uint8_t *plain = NULL;
  size_t len = 0;
  docstore_doc_id id = {"42", user};
  assert_int_equal(docstore_service_read_document(svc, &plain, &len, path, &id),
                   0);
  assert_int_equal(len, strlen(doc));
  assert_memory_equal(plain, doc, len);
  docstore_free(plain);

  char *url = NULL;
  assert_int_equal(docstore_service_presign(svc, &url, path, 86400), 0);
  assert_non_null(strstr(url, "X-Amz-Expires=86400"));
  char *body = NULL;
  assert_int_equal(itest_curl(url, NULL, &body), 200);
  /* the envelope as stored: v2, binary (FORMAT.md's magic) */
  assert_memory_equal(body,
                      "\x89"
                      "DSE\r\n\x1a\n",
                      8);
  free(body);
  docstore_free(url);
  assert_int_equal(docstore_service_presign(svc, &url, path,
                                            DOCSTORE_PRESIGN_MAX_SECONDS + 1),
                   DOCSTORE_EINVAL);

  char prefix[128];
  snprintf(prefix, sizeof(prefix), "documents/user_%s/", user);
  int n = 0;
  assert_int_equal(docstore_service_list(svc, prefix, count_docs, &n), 0);
  assert_int_equal(n, 1);

  char *report = NULL;
  assert_int_equal(docstore_service_check(svc, &report), 0);
  docstore_free(report);

  docstore_op_stats st;
  memset(&st, 0, sizeof(st));
  st.version = DOCSTORE_OP_STATS_VERSION;
  assert_int_equal(docstore_service_stats(svc, &st, DOCSTORE_OP_PUT), 0);
  assert_int_equal(st.successes, 1);
  assert_int_equal(st.retries, 0);

  assert_int_equal(docstore_service_delete(svc, path), 0);
  assert_int_equal(docstore_service_exists(svc, &exists, NULL, path), 0);
  assert_int_equal(exists, 0);
  assert_int_equal(docstore_service_delete(svc, path), 0);
  docstore_free(path);
  docstore_service_free(svc);
}

static void test_service_from_seed_config(void **state) {
  (void)state;
  /* The seed's .env example, with the test server's values. */
  char *dir = itest_tmpdir();
  char path[512];
  snprintf(path, sizeof(path), "%s/.env", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f,
          "# Storage type: \"s3\" or \"local\"\n"
          "STORAGE_TYPE=s3\n"
          "# S3 Configuration\n"
          "S3_ACCESS_KEY=%s\n"
          "S3_SECRET_KEY=%s\n"
          "S3_BUCKET=%s\n"
          "S3_REGION=%s\n"
          "S3_ENDPOINT_URL=%s # Optional, for MinIO use custom endpoint\n"
          "# Local Storage Configuration (fallback)\n"
          "LOCAL_STORAGE_PATH=%s/encrypted_files/\n",
          env.access_key, env.secret_key, env.bucket, env.region, env.endpoint,
          dir);
  fclose(f);
  docstore_config *cfg = NULL;
  assert_int_equal(docstore_config_new(&cfg), 0);
  int rc = docstore_config_load_dotenv(cfg, path);
  if (rc != 0)
    fail_msg(".env: %s", docstore_config_errmsg(cfg));
  docstore_service *svc = NULL;
  char errbuf[512];
  rc = docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf));
  if (rc != 0)
    fail_msg("from_config: %s", errbuf);
  docstore_config_free(cfg);
  assert_string_equal(docstore_service_storage_type(svc), "s3");
  char *report = NULL;
  assert_int_equal(docstore_service_check(svc, &report), 0);
  assert_non_null(strstr(report, "bucket: OK"));
  docstore_free(report);

  docstore_provider *p = docstore_service_provider(svc);
  char *key = itest_key(itest_prefix(), "from-config.json");
  assert_int_equal(docstore_provider_put(p, key, (const uint8_t *)"{}", 2), 0);
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(p, &d, &n, key), 0);
  assert_int_equal(n, 2);
  docstore_free(d);
  assert_int_equal(docstore_provider_delete(p, key), 0);
  free(key);
  docstore_service_free(svc);
  itest_rmtree(dir);
  free(dir);
}

/* ------------------------------------------------------ concurrency */

typedef struct worker {
  docstore_provider *p;
  const char *prefix;
  int id;
  int failures;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < 8; i++) {
    char key[200];
    char body[64];
    snprintf(key, sizeof(key), "%sthread-%d/%d.json", w->prefix, w->id, i);
    snprintf(body, sizeof(body), "{\"t\": %d, \"i\": %d}", w->id, i);
    uint8_t *d = NULL;
    size_t n = 0;
    if (docstore_provider_put(w->p, key, (const uint8_t *)body, strlen(body)) !=
            0 ||
        docstore_provider_get(w->p, &d, &n, key) != 0 || n != strlen(body) ||
        memcmp(d, body, n) != 0 || docstore_provider_delete(w->p, key) != 0)
      w->failures++;
    docstore_free(d);
  }
  return NULL;
}

static void test_many_threads_one_provider(void **state) {
  (void)state;
  conn c = open_default(NULL);
  const char *prefix = itest_prefix();
  pthread_t t[8];
  worker w[8];
  for (int i = 0; i < 8; i++) {
    w[i] = (worker){c.p, prefix, i, 0};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[i].failures, 0);
  }
  /* Connections were kept for reuse (at most one handle per thread):
   * 192 requests over at most 8 connections. */
  assert_int_equal(atomic_load(&c.s3->requests), 8 * 8 * 3);
  assert_true(atomic_load(&c.s3->connects) <= 8);
  assert_true(c.s3->pool.idle_count >= 1);
  assert_true(c.s3->pool.idle_count <= 8);
  docstore_provider_free(c.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_ok),
      cmocka_unit_test(test_roundtrip_odd_keys),
      cmocka_unit_test(test_double_slash_key),
      cmocka_unit_test(test_get_range),
      cmocka_unit_test(test_streaming_native),
      cmocka_unit_test(test_empty_object),
      cmocka_unit_test(test_list_continuation),
      cmocka_unit_test(test_multipart_50mib),
      cmocka_unit_test(test_multipart_50mib_sequential),
      cmocka_unit_test(test_multipart_failure_is_aborted),
      cmocka_unit_test(test_multipart_failure_is_aborted_sequential),
      cmocka_unit_test(test_wrong_secret),
      cmocka_unit_test(test_unknown_access_key),
      cmocka_unit_test(test_unknown_bucket),
      cmocka_unit_test(test_server_down),
      cmocka_unit_test(test_download_checked),
      cmocka_unit_test(test_presigned_urls),
      cmocka_unit_test(test_tls),
      cmocka_unit_test(test_service_facade),
      cmocka_unit_test(test_service_from_seed_config),
      cmocka_unit_test(test_many_threads_one_provider),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
