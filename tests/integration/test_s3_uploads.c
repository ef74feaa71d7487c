/*
 * Incomplete multipart uploads against the S3 test server (Swift +
 * s3api): docstore_s3_incomplete_uploads() lists an upload left open with
 * its key, id and date, filters by age, pages through ListMultipartUploads
 * (several uploads of one key included), aborts the stale ones (their
 * parts are gone), and docstore_provider_check() warns about them.  The
 * uploads are left open with the library's own request call, as a killed
 * writer leaves them.  Label `s3`; run under tools/with-test-servers.sh
 * (without the S3_* variables it FAILS).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docstore/docstore.h"
#include "s3_itest.h"

static itest_env env;

static int group_setup(void **state) {
  (void)state;
  return itest_env_load(&env);
}

/* prefix + name (malloc'd). */
/* The HTTP status of ListParts on an upload (200 while it is open). */
static long list_parts_status(docstore__s3 *s3, const char *key,
                              const char *id) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err err;
  char *id_q = NULL, query[512];
  docstore__err_clear(&err);
  assert_int_equal(docstore__sigv4_uri_encode(id, strlen(id), 0, &id_q), 0);
  snprintf(query, sizeof(query), "uploadId=%s", id_q);
  req.op = DOCSTORE_OP_GET;
  req.method = "GET";
  req.key = key;
  req.query = query;
  (void)docstore__s3_request(s3, &req, &resp, &err);
  long status = resp.status;
  docstore__s3_resp_free(&resp);
  docstore_free(id_q);
  return status;
}

typedef struct found {
  char *keys[16];
  char *ids[16];
  int64_t initiated[16];
  int states[16];
  size_t count;
  int stop_with; /* returned by the callback for the first upload */
} found;

static int collect(void *payload, const docstore_upload_info *info) {
  found *f = payload;
  assert_int_equal(info->version, DOCSTORE_UPLOAD_INFO_VERSION);
  assert_true(f->count < 16);
  f->keys[f->count] = strdup(info->key);
  f->ids[f->count] = strdup(info->upload_id);
  f->initiated[f->count] = info->initiated;
  f->states[f->count] = info->state;
  f->count++;
  return f->stop_with;
}

static void found_free(found *f) {
  for (size_t i = 0; i < f->count; i++) {
    free(f->keys[i]);
    free(f->ids[i]);
  }
  memset(f, 0, sizeof(*f));
}

static size_t find(const found *f, const char *id) {
  for (size_t i = 0; i < f->count; i++)
    if (strcmp(f->ids[i], id) == 0)
      return i;
  return SIZE_MAX;
}

/* An upload left open is listed with its key, id and date; the age filter
 * keeps it (RECENT) and lists it as STALE once it is old enough; abort
 * removes it and its part. */
static void test_list_filter_abort(void **state) {
  (void)state;
  docstore_provider *p;
  docstore__s3 *s3;
  docstore_s3_options o = itest_options(&env);
  itest_open(&p, &s3, &o, NULL);
  const char *prefix = itest_prefix();
  char *key = itest_key(prefix, "dir/open upload+1.bin");
  int64_t t0 = (int64_t)time(NULL);
  char *id = itest_leave_upload(s3, key);
  assert_int_equal(list_parts_status(s3, key, id), 200);

  /* Young: an age of an hour keeps it, a listing shows it RECENT. */
  found f = {0};
  assert_int_equal(
      docstore_s3_incomplete_uploads(p, prefix, 0, 3600, collect, &f), 0);
  assert_int_equal(f.count, 1);
  assert_string_equal(f.keys[0], key);
  assert_string_equal(f.ids[0], id);
  assert_int_equal(f.states[0], DOCSTORE_TEMP_RECENT);
  assert_true(f.initiated[0] >= t0 - 120 && f.initiated[0] <= t0 + 120);
  found_free(&f);
  /* Abort with an hour's age: kept. */
  assert_int_equal(docstore_s3_incomplete_uploads(
                       p, prefix, DOCSTORE_UPLOAD_ABORT, 3600, collect, &f),
                   0);
  assert_int_equal(f.count, 1);
  assert_int_equal(f.states[0], DOCSTORE_TEMP_RECENT);
  found_free(&f);
  assert_int_equal(list_parts_status(s3, key, id), 200);
  /* The configured age (a day) keeps it too. */
  assert_int_equal(docstore_s3_incomplete_uploads(
                       p, prefix, DOCSTORE_UPLOAD_ABORT,
                       DOCSTORE_UPLOAD_AGE_CONFIGURED, collect, &f),
                   0);
  assert_int_equal(f.count, 1);
  assert_int_equal(f.states[0], DOCSTORE_TEMP_RECENT);
  found_free(&f);

  /* Two seconds later, an age of one second makes it stale. */
  sleep(2);
  assert_int_equal(docstore_s3_incomplete_uploads(p, prefix, 0, 1, collect, &f),
                   0);
  assert_int_equal(f.count, 1);
  assert_int_equal(f.states[0], DOCSTORE_TEMP_STALE);
  found_free(&f);
  assert_int_equal(list_parts_status(s3, key, id), 200);

  /* Abort: reported REMOVED, and gone from the server. */
  assert_int_equal(docstore_s3_incomplete_uploads(
                       p, prefix, DOCSTORE_UPLOAD_ABORT, 1, collect, &f),
                   0);
  assert_int_equal(f.count, 1);
  assert_int_equal(f.states[0], DOCSTORE_TEMP_REMOVED);
  assert_string_equal(f.ids[0], id);
  found_free(&f);
  assert_int_equal(list_parts_status(s3, key, id), 404);
  assert_int_equal(docstore_s3_incomplete_uploads(p, prefix, 0, 0, collect, &f),
                   0);
  assert_int_equal(f.count, 0);
  /* No object was made by the abort. */
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(p, &info, key), DOCSTORE_ENOTFOUND);

  free(id);
  free(key);
  docstore_provider_free(p);
}

/* Pages of two uploads (max-uploads=2): five uploads, two of them on one
 * key (the upload-id marker), all listed once, in key order, and aborted
 * with an age of 0.  Uploads outside the prefix are left alone. */
static void test_pages_and_prefix(void **state) {
  (void)state;
  docstore_provider *p;
  docstore__s3 *s3;
  docstore_s3_options o = itest_options(&env);
  docstore__s3_tuning tuning = {0};
  tuning.list_max_keys = 2;
  itest_open(&p, &s3, &o, &tuning);
  /* itest_prefix() gives its own buffer: copies. */
  char *prefix = strdup(itest_prefix());
  char *other = strdup(itest_prefix());
  static const char *const names[] = {"a", "b/c", "b/c", "d%2F", "\xc3\xa9"};
  char *keys[5], *ids[5];
  for (size_t i = 0; i < 5; i++) {
    keys[i] = itest_key(prefix, names[i]);
    ids[i] = itest_leave_upload(s3, keys[i]);
  }
  char *outside_key = itest_key(other, "x");
  char *outside_id = itest_leave_upload(s3, outside_key);

  found f = {0};
  assert_int_equal(docstore_s3_incomplete_uploads(p, prefix, 0, 0, collect, &f),
                   0);
  assert_int_equal(f.count, 5);
  for (size_t i = 0; i < 5; i++) {
    size_t at = find(&f, ids[i]);
    assert_true(at != SIZE_MAX);
    assert_string_equal(f.keys[at], keys[i]);
    assert_int_equal(f.states[at], DOCSTORE_TEMP_STALE);
    if (i > 0)
      assert_true(strcmp(f.keys[i - 1], f.keys[i]) <= 0);
  }
  found_free(&f);

  /* The callback stops the listing: a positive value is ECANCELED, a
   * negative one comes back as it is. */
  f.stop_with = 1;
  assert_int_equal(docstore_s3_incomplete_uploads(p, prefix, 0, 0, collect, &f),
                   DOCSTORE_ECANCELED);
  assert_int_equal(f.count, 1);
  found_free(&f);
  f.stop_with = DOCSTORE_EIO;
  assert_int_equal(docstore_s3_incomplete_uploads(p, prefix, 0, 0, collect, &f),
                   DOCSTORE_EIO);
  found_free(&f);

  assert_int_equal(docstore_s3_incomplete_uploads(
                       p, prefix, DOCSTORE_UPLOAD_ABORT, 0, collect, &f),
                   0);
  assert_int_equal(f.count, 5);
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(f.states[i], DOCSTORE_TEMP_REMOVED);
  found_free(&f);
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(list_parts_status(s3, keys[i], ids[i]), 404);
  /* The other prefix's upload is still open. */
  assert_int_equal(list_parts_status(s3, outside_key, outside_id), 200);
  assert_int_equal(docstore_s3_incomplete_uploads(
                       p, other, DOCSTORE_UPLOAD_ABORT, 0, NULL, NULL),
                   0);
  assert_int_equal(list_parts_status(s3, outside_key, outside_id), 404);

  for (size_t i = 0; i < 5; i++) {
    free(keys[i]);
    free(ids[i]);
  }
  free(outside_key);
  free(outside_id);
  free(prefix);
  free(other);
  docstore_provider_free(p);
}

/* Arguments: a local provider has no uploads, bad flags and prefixes are
 * refused, with the detail on the handle. */
static void test_arguments(void **state) {
  (void)state;
  docstore_provider *p, *local;
  docstore__s3 *s3;
  docstore_s3_options o = itest_options(&env);
  itest_open(&p, &s3, &o, NULL);
  assert_int_equal(docstore_s3_incomplete_uploads(NULL, "", 0, 0, NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_s3_incomplete_uploads(p, "", 2, 0, NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_non_null(
      strstr(docstore_provider_errmsg(p), "uploads: unknown flags"));
  assert_int_equal(docstore_s3_incomplete_uploads(p, "/abs", 0, 0, NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_s3_incomplete_uploads(p, "a/../b/", 0, 0, NULL, NULL),
      DOCSTORE_EINVAL);
  char *dir = itest_tmpdir();
  docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
  lo.root = dir;
  assert_int_equal(docstore_local_provider_new(&local, &lo, NULL, 0), 0);
  assert_int_equal(docstore_s3_incomplete_uploads(local, "", 0, 0, NULL, NULL),
                   DOCSTORE_EUNSUPPORTED);
  assert_non_null(strstr(docstore_provider_errmsg(local), "S3 only"));
  docstore_provider_free(local);
  itest_rmtree(dir);
  free(dir);

  /* An unknown bucket: the server's code, with detail. */
  o.bucket = "docstore-no-such-bucket-for-uploads";
  docstore_provider *nb;
  itest_open(&nb, &s3, &o, NULL);
  assert_int_equal(docstore_s3_incomplete_uploads(nb, "", 0, 0, NULL, NULL),
                   DOCSTORE_ENOBUCKET);
  assert_non_null(strstr(docstore_provider_errmsg(nb), "uploads: "));
  docstore_provider_free(nb);
  docstore_provider_free(p);
}

/* Creates a bucket of the test's own (the check looks at a whole bucket). */
static void make_bucket(docstore__s3 *s3) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err err;
  docstore__err_clear(&err);
  req.op = DOCSTORE_OP_PUT;
  req.method = "PUT";
  req.send_body = 1;
  int rc = docstore__s3_request(s3, &req, &resp, &err);
  if (rc < 0)
    fprintf(stderr, "CreateBucket: %s\n", err.msg);
  assert_int_equal(rc, 0);
  docstore__s3_resp_free(&resp);
}

static void delete_bucket(docstore__s3 *s3) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err err;
  docstore__err_clear(&err);
  req.op = DOCSTORE_OP_DELETE;
  req.method = "DELETE";
  assert_int_equal(docstore__s3_request(s3, &req, &resp, &err), 0);
  docstore__s3_resp_free(&resp);
}

/* The check reports uploads older than stale_upload_seconds as a warning
 * (the check still passes), names them, and says OK once they are
 * aborted. */
static void test_check_reports(void **state) {
  (void)state;
  char bucket[64];
  snprintf(bucket, sizeof(bucket), "docstore-uploads-%ld",
           (long)getpid() % 100000);
  docstore_provider *p;
  docstore__s3 *s3;
  docstore_s3_options o = itest_options(&env);
  o.bucket = bucket;
  o.stale_upload_seconds = 1;
  itest_open(&p, &s3, &o, NULL);
  make_bucket(s3);

  char *report = NULL;
  assert_int_equal(docstore_provider_check(p, &report), 0);
  assert_non_null(strstr(report, "incomplete uploads: OK (none older than 1 s; "
                                 "0 more recent)"));
  docstore_free(report);

  char *id = itest_leave_upload(s3, "docs/left open.json");
  assert_int_equal(docstore_provider_check(p, &report), 0);
  assert_non_null(strstr(report, "incomplete uploads: OK (none older than 1 s; "
                                 "1 more recent)"));
  docstore_free(report);
  sleep(2);
  assert_int_equal(docstore_provider_check(p, &report), 0);
  assert_non_null(strstr(report, "bucket: OK"));
  assert_non_null(strstr(report, "  stale upload: 'docs/left open.json' "
                                 "begun "));
  assert_non_null(strstr(report, id));
  assert_non_null(strstr(report, "incomplete uploads: WARNING: 1 older than "
                                 "1 s hold storage (0 more recent)"));
  docstore_free(report);

  assert_int_equal(docstore_s3_incomplete_uploads(
                       p, NULL, DOCSTORE_UPLOAD_ABORT,
                       DOCSTORE_UPLOAD_AGE_CONFIGURED, NULL, NULL),
                   0);
  assert_int_equal(docstore_provider_check(p, &report), 0);
  assert_non_null(strstr(report, "incomplete uploads: OK (none older than 1 s; "
                                 "0 more recent)"));
  docstore_free(report);
  free(id);
  delete_bucket(s3);
  docstore_provider_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_filter_abort),
      cmocka_unit_test(test_pages_and_prefix),
      cmocka_unit_test(test_arguments),
      cmocka_unit_test(test_check_reports),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
