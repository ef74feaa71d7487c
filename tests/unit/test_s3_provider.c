/*
 * Tests for the S3 provider's offline parts (src/s3/s3_provider.c,
 * s3_http.c): options and their validation, endpoint parsing, path-style
 * and virtual-hosted addressing, request paths, presigned URLs, a
 * streamed read that cannot connect (port 1 of 127.0.0.1).  No
 * server: requests against one are in tests/integration/.
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

#include "provider/provider_internal.h"
#include "s3/s3_internal.h"

static docstore_s3_options base_opts(void) {
  docstore_s3_options o;
  assert_int_equal(docstore_s3_options_init(&o, DOCSTORE_S3_OPTIONS_VERSION),
                   0);
  o.bucket = "bank-documents";
  o.access_key = "AKIDEXAMPLE";
  o.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  return o;
}

static docstore__s3 *make(const docstore_s3_options *o) {
  docstore__s3 *s3 = NULL;
  docstore__err err;
  docstore__err_clear(&err);
  int rc = docstore__s3_new(&s3, o, NULL, &err);
  if (rc != 0)
    fail_msg("docstore__s3_new: %d %s", rc, err.msg);
  return s3;
}

static int make_fails(const docstore_s3_options *o, docstore__err *err) {
  docstore__s3 *s3 = NULL;
  docstore__err_clear(err);
  int rc = docstore__s3_new(&s3, o, NULL, err);
  assert_null(s3);
  return rc;
}

static void test_options_init(void **state) {
  (void)state;
  docstore_s3_options o;
  memset(&o, 0xab, sizeof(o));
  assert_int_equal(docstore_s3_options_init(&o, DOCSTORE_S3_OPTIONS_VERSION),
                   0);
  assert_int_equal(o.version, DOCSTORE_S3_OPTIONS_VERSION);
  assert_null(o.bucket);
  assert_int_equal(o.max_attempts, 0);
  assert_int_equal(docstore_s3_options_init(&o, 99), DOCSTORE_EINVAL);
  assert_int_equal(docstore_s3_options_init(NULL, 1), DOCSTORE_EINVAL);
}

/* The integrity policy: auto signs the payload over http and sends CRC-32C
 * over https; explicit choices are kept. */
static void test_integrity_policy(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.endpoint_url = "http://127.0.0.1:8080";
  docstore__s3 *s3 = make(&o);
  assert_int_equal(s3->sign_payload, 1);
  assert_int_equal(s3->checksum, DOCSTORE_S3_CHECKSUM_NONE);
  docstore__s3_free(s3);
  o.checksum = DOCSTORE_S3_CHECKSUM_MD5;
  o.payload_signing = DOCSTORE_S3_PAYLOAD_UNSIGNED;
  s3 = make(&o);
  assert_int_equal(s3->sign_payload, 0);
  assert_int_equal(s3->checksum, DOCSTORE_S3_CHECKSUM_MD5);
  docstore__s3_free(s3);
  o = base_opts(); /* https (AWS) */
  o.payload_signing = DOCSTORE_S3_PAYLOAD_SIGNED;
  o.download_part_size = 1024; /* below 1 MiB */
  docstore__err err;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "download_part_size"));
  o.download_part_size = 0;
  s3 = make(&o);
  assert_int_equal(s3->sign_payload, 1);
  assert_int_equal(s3->checksum, DOCSTORE_S3_CHECKSUM_CRC32C);
  docstore__s3_free(s3);
}

/* A version 1 table ends before multipart_concurrency: neither
 * options_init nor the constructor may touch what follows it. */
static void test_options_version(void **state) {
  (void)state;
  docstore_s3_options init = DOCSTORE_S3_OPTIONS_INIT;
  assert_int_equal(DOCSTORE_S3_OPTIONS_VERSION, 3);
  assert_int_equal(init.version, 3);
  assert_int_equal(init.multipart_concurrency, 0);
  assert_int_equal(init.stale_upload_seconds, 0);

  docstore_s3_options o;
  memset(&o, 0xab, sizeof(o));
  assert_int_equal(docstore_s3_options_init(&o, 1), 0);
  assert_int_equal(o.version, 1);
  assert_null(o.bucket);
  assert_int_equal(o.stall_min_bps, 0);
  assert_int_equal(o.multipart_concurrency, 0xababababu); /* not written */
  assert_int_equal(docstore_s3_options_init(&o, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_s3_options_init(&o, 4), DOCSTORE_EINVAL);

  /* The garbage after a version 1 table is not read: the default holds. */
  o.bucket = "bank-documents";
  o.access_key = "AKIDEXAMPLE";
  o.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  docstore__s3 *s3 = make(&o);
  assert_int_equal(s3->concurrency, 4);
  docstore__s3_free(s3);

  /* Exactly a version 1 table's bytes (ASan sees any read past them). */
  size_t v1_size = offsetof(docstore_s3_options, multipart_concurrency);
  unsigned char *v1 = malloc(v1_size);
  assert_non_null(v1);
  assert_int_equal(docstore_s3_options_init((docstore_s3_options *)v1, 1), 0);
  memcpy(v1, &o, v1_size); /* o: a version 1 table with credentials */
  docstore_provider *p = NULL;
  char errbuf[256];
  assert_int_equal(docstore_s3_provider_new(&p, (docstore_s3_options *)v1,
                                            errbuf, sizeof(errbuf)),
                   0);
  docstore_provider_free(p);
  free(v1);

  /* A version 2 table ends before checksum: init writes up to there only,
   * and the constructor reads nothing after it (the defaults hold). */
  memset(&o, 0xab, sizeof(o));
  assert_int_equal(docstore_s3_options_init(&o, 2), 0);
  assert_int_equal(o.version, 2);
  assert_int_equal(o.multipart_concurrency, 0);
  assert_int_equal(o.checksum, (int)0xabababab); /* not written */
  o.bucket = "bank-documents";
  o.access_key = "AKIDEXAMPLE";
  o.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  s3 = make(&o);
  assert_int_equal(s3->download_concurrency, 4);
  assert_int_equal(s3->download_part_size, 8u * 1024 * 1024);
  assert_int_equal(s3->stale_upload_seconds, 86400);
  assert_int_equal(s3->checksum, DOCSTORE_S3_CHECKSUM_CRC32C); /* https */
  assert_int_equal(s3->sign_payload, 0);
  docstore__s3_free(s3);

  /* Version 2: 0 is the default, 1 sequential, at most 64. */
  docstore__err err;
  o = base_opts();
  const unsigned int good[][2] = {{0, 4}, {1, 1}, {7, 7}, {64, 64}};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    o.multipart_concurrency = good[i][0];
    s3 = make(&o);
    assert_int_equal(s3->concurrency, good[i][1]);
    docstore__s3_free(s3);
  }
  o.multipart_concurrency = 65;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "concurrency"));
  o.multipart_concurrency = 0xababababu;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  o = base_opts();
  o.version = 4;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_EINVAL);
  o.version = 0;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_EINVAL);
}

static void test_defaults(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  docstore__s3 *s3 = make(&o);
  assert_string_equal(s3->region, "us-east-1");
  assert_int_equal(s3->multipart_threshold, 16u * 1024 * 1024);
  assert_int_equal(s3->part_size, 8u * 1024 * 1024);
  assert_int_equal(s3->concurrency, DOCSTORE__S3_DEFAULT_CONCURRENCY);
  assert_int_equal(s3->max_attempts, 4);
  assert_int_equal(s3->retry_base_ms, 100);
  assert_int_equal(s3->retry_max_ms, 5000);
  assert_int_equal(s3->connect_timeout_ms, 5000);
  assert_int_equal(s3->request_timeout_ms, 0);
  assert_int_equal(s3->stall_timeout_ms, 30000);
  assert_int_equal(s3->stall_min_bps, 1024);
  /* AWS: virtual-hosted, TLS. */
  assert_true(s3->https);
  assert_true(s3->virtual_hosted);
  assert_string_equal(s3->endpoint, "https://s3.us-east-1.amazonaws.com");
  assert_string_equal(s3->base_url,
                      "https://bank-documents.s3.us-east-1.amazonaws.com");
  assert_string_equal(s3->host_header,
                      "bank-documents.s3.us-east-1.amazonaws.com");
  docstore__s3_free(s3);
}

static void test_endpoint_custom_path_style(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.endpoint_url = "http://MinIO:9000/";
  o.region = "eu-west-1";
  docstore__s3 *s3 = make(&o);
  assert_false(s3->https);
  assert_false(s3->virtual_hosted);
  assert_string_equal(s3->endpoint, "http://minio:9000");
  assert_string_equal(s3->base_url, "http://minio:9000");
  assert_string_equal(s3->host_header, "minio:9000");
  char *path = NULL;
  assert_int_equal(docstore__s3_path(s3, "a b/c+d%e/\xc3\xa9//f", &path), 0);
  assert_string_equal(path, "/bank-documents/a%20b/c%2Bd%25e/%C3%A9//f");
  docstore_free(path);
  assert_int_equal(docstore__s3_path(s3, NULL, &path), 0);
  assert_string_equal(path, "/bank-documents");
  docstore_free(path);
  docstore__s3_free(s3);
}

static void test_endpoint_default_port_not_in_host(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.endpoint_url = "https://storage.example.com:443";
  docstore__s3 *s3 = make(&o);
  assert_string_equal(s3->host_header, "storage.example.com");
  assert_string_equal(s3->base_url, "https://storage.example.com:443");
  docstore__s3_free(s3);

  o.endpoint_url = "http://[::1]:9000";
  s3 = make(&o);
  assert_string_equal(s3->host_header, "[::1]:9000");
  assert_false(s3->virtual_hosted);
  docstore__s3_free(s3);
}

static void test_endpoint_seed_aws_url(void **state) {
  (void)state;
  /* The seed's example: S3_ENDPOINT_URL=https://s3.amazonaws.com */
  docstore_s3_options o = base_opts();
  o.endpoint_url = "https://s3.amazonaws.com";
  docstore__s3 *s3 = make(&o);
  assert_true(s3->virtual_hosted);
  assert_string_equal(s3->host_header, "bank-documents.s3.amazonaws.com");
  char *path = NULL;
  assert_int_equal(docstore__s3_path(s3, "documents/x y.json", &path), 0);
  assert_string_equal(path, "/documents/x%20y.json");
  docstore_free(path);
  docstore__s3_free(s3);

  /* A dotted bucket cannot be virtual-hosted over TLS: path-style. */
  o.bucket = "bank.documents";
  s3 = make(&o);
  assert_false(s3->virtual_hosted);
  docstore__s3_free(s3);
}

static void test_addressing_override(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.endpoint_url = "http://minio.local:9000";
  o.addressing = DOCSTORE_S3_ADDRESSING_VIRTUAL;
  docstore__s3 *s3 = make(&o);
  assert_true(s3->virtual_hosted);
  assert_string_equal(s3->base_url, "http://bank-documents.minio.local:9000");
  assert_string_equal(s3->host_header, "bank-documents.minio.local:9000");
  assert_string_equal(s3->endpoint, "http://minio.local:9000");
  docstore__s3_free(s3);

  o.endpoint_url = NULL;
  o.addressing = DOCSTORE_S3_ADDRESSING_PATH;
  s3 = make(&o);
  assert_false(s3->virtual_hosted);
  assert_string_equal(s3->host_header, "s3.us-east-1.amazonaws.com");
  docstore__s3_free(s3);

  docstore__err err;
  o.bucket = "Not_DNS";
  o.addressing = DOCSTORE_S3_ADDRESSING_VIRTUAL;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "path-style"));
  o.bucket = "bank-documents";
  o.addressing = 7;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_EINVAL);
}

static void test_bad_options(void **state) {
  (void)state;
  docstore__err err;
  docstore__s3 *s3 = NULL;
  assert_int_equal(docstore__s3_new(&s3, NULL, NULL, &err), DOCSTORE_EINVAL);

  static const char *const bad_urls[] = {
      "ftp://host",
      "host:9000",
      "http://",
      "http://host:0",
      "http://host:70000",
      "http://host:x",
      "http://u:p@host",
      "http://host/prefix",
      "http://host?x=1",
      "http://[::1",
      "http://ho st",
      "https://host:9000/a",
      /* util's URL rule: an IPv6 literal must parse, labels not empty */
      "http://[1:2:3]:9000",
      "http://a..b",
  };
  for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
    docstore_s3_options o = base_opts();
    o.endpoint_url = bad_urls[i];
    int rc = make_fails(&o, &err);
    if (rc != DOCSTORE_ECONFIG)
      fail_msg("%s: %d", bad_urls[i], rc);
    assert_non_null(strstr(err.msg, "S3_ENDPOINT_URL"));
  }

  docstore_s3_options o = base_opts();
  o.bucket = NULL;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "S3_BUCKET"));
  o.bucket = "a/b";
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);

  o = base_opts();
  o.secret_key = "";
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "credentials"));
  o = base_opts();
  o.access_key = NULL;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);

  o = base_opts();
  o.region = "US East";
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "S3_REGION"));

  o = base_opts();
  o.multipart_part_size = 1024 * 1024;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "minimum"));

  o = base_opts();
  o.retry_base_ms = 900;
  o.retry_max_ms = 100;
  assert_int_equal(make_fails(&o, &err), DOCSTORE_ECONFIG);
}

static void test_secret_never_in_messages(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.endpoint_url = "gopher://x";
  char errbuf[512];
  docstore_provider *p = (docstore_provider *)0x1;
  int rc = docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf));
  assert_int_equal(rc, DOCSTORE_ECONFIG);
  assert_null(p);
  assert_null(strstr(errbuf, o.secret_key));
  assert_null(strstr(docstore_last_errmsg(), o.secret_key));
}

/* ------------------------------------------------------------ presign */

typedef struct sink_buf {
  char data[4096];
  size_t len;
} sink_buf;

static int to_buf(void *payload, const uint8_t *data, size_t len) {
  sink_buf *b = payload;
  if (b->len + len >= sizeof(b->data))
    return DOCSTORE_ETOOBIG;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

static int presign(docstore__s3 *s3, const char *key, int method,
                   uint64_t expires, sink_buf *out, docstore__err *err) {
  memset(out, 0, sizeof(*out));
  docstore__err_clear(err);
  return docstore__s3_ops()->presign(s3, key, method, expires, to_buf, out,
                                     (docstore_errinfo *)err);
}

static void test_presign(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.endpoint_url = "http://127.0.0.1:8080";
  docstore__s3 *s3 = make(&o);
  sink_buf url;
  docstore__err err;

  assert_int_equal(presign(s3, "documents/a b+c.json", DOCSTORE_PRESIGN_GET,
                           3600, &url, &err),
                   0);
  assert_non_null(strstr(url.data, "http://127.0.0.1:8080/bank-documents/"
                                   "documents/a%20b%2Bc.json?"));
  assert_non_null(strstr(url.data, "X-Amz-Algorithm=AWS4-HMAC-SHA256"));
  assert_non_null(strstr(url.data, "X-Amz-Expires=3600"));
  assert_non_null(strstr(url.data, "X-Amz-SignedHeaders=host"));
  assert_non_null(strstr(url.data, "X-Amz-Credential=AKIDEXAMPLE%2F"));
  assert_non_null(strstr(url.data, "X-Amz-Signature="));
  assert_null(strstr(url.data, "wJalrXUtnFEMI"));
  assert_null(strstr(url.data, "K7MDENG"));
  char get_sig[65];
  const char *sig = strstr(url.data, "X-Amz-Signature=") + 16;
  assert_int_equal(strlen(sig), 64);
  memcpy(get_sig, sig, 65);

  /* PUT signs another method: another signature. */
  assert_int_equal(presign(s3, "documents/a b+c.json", DOCSTORE_PRESIGN_PUT,
                           3600, &url, &err),
                   0);
  sig = strstr(url.data, "X-Amz-Signature=") + 16;
  assert_string_not_equal(sig, get_sig);

  /* Default: 24 hours; S3's limit: 7 days. */
  assert_int_equal(presign(s3, "k", DOCSTORE_PRESIGN_GET, 0, &url, &err), 0);
  assert_non_null(strstr(url.data, "X-Amz-Expires=86400&"));
  assert_int_equal(presign(s3, "k", DOCSTORE_PRESIGN_GET, 604800, &url, &err),
                   0);
  assert_non_null(strstr(url.data, "X-Amz-Expires=604800&"));
  assert_int_equal(presign(s3, "k", DOCSTORE_PRESIGN_GET, 604801, &url, &err),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(err.msg, "7 days"));
  assert_int_equal(url.len, 0);
  assert_int_equal(presign(s3, "k", 5, 60, &url, &err), DOCSTORE_EINVAL);

  /* A sink that refuses. */
  docstore__err_clear(&err);
  sink_buf tiny;
  memset(&tiny, 0, sizeof(tiny));
  tiny.len = sizeof(tiny.data) - 10;
  assert_int_equal(docstore__s3_ops()->presign(s3, "k", DOCSTORE_PRESIGN_GET,
                                               60, to_buf, &tiny,
                                               (docstore_errinfo *)&err),
                   DOCSTORE_ETOOBIG);
  docstore__s3_free(s3);
}

static void test_presign_session_token_virtual(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.session_token = "FQoGZXIvYXdzEJr//token+";
  o.region = "eu-west-1";
  docstore__s3 *s3 = make(&o);
  sink_buf url;
  docstore__err err;
  assert_int_equal(
      presign(s3, "documents/x.json", DOCSTORE_PRESIGN_GET, 60, &url, &err), 0);
  assert_non_null(strstr(url.data, "https://bank-documents.s3.eu-west-1."
                                   "amazonaws.com/documents/x.json?"));
  assert_non_null(strstr(url.data, "X-Amz-Security-Token=FQoGZXIvYXdzEJr%2F%2F"
                                   "token%2B"));
  assert_non_null(strstr(url.data, "%2Feu-west-1%2Fs3%2Faws4_request"));
  docstore__s3_free(s3);
}

static void test_provider_wrapper(void **state) {
  (void)state;
  docstore_s3_options o = base_opts();
  o.endpoint_url = "http://127.0.0.1:8080";
  docstore_provider *p = NULL;
  char errbuf[256] = "";
  assert_int_equal(docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)), 0);
  assert_string_equal(docstore_provider_name(p), "s3");
  char *url = NULL;
  assert_int_equal(docstore_provider_presign(p, &url, "documents/x.json",
                                             DOCSTORE_PRESIGN_GET, 60),
                   0);
  assert_non_null(strstr(url, "/bank-documents/documents/x.json?"));
  docstore_free(url);
  assert_int_equal(docstore_provider_presign(p, &url, "documents/x.json",
                                             DOCSTORE_PRESIGN_GET,
                                             8ull * 86400),
                   DOCSTORE_EINVAL);
  docstore_provider_free(p);

  assert_int_equal(docstore_s3_provider_new(NULL, &o, errbuf, sizeof(errbuf)),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_s3_provider_new(&p, NULL, errbuf, sizeof(errbuf)),
                   DOCSTORE_EINVAL);
  assert_null(p);
}

/* S3 streams reads itself (the get group of the ops table); a stream that
 * cannot start leaves nothing behind and says why, naming the key. */
static void test_streamed_read_open_fails_cleanly(void **state) {
  (void)state;
  const docstore_provider_ops *ops = docstore__s3_ops();
  assert_non_null(ops->get_open);
  assert_non_null(ops->get_read);
  assert_non_null(ops->get_close);
  docstore_s3_options o = base_opts();
  o.endpoint_url = "http://127.0.0.1:1"; /* tcpmux: only root may listen */
  o.max_attempts = 1;
  docstore_provider *p = NULL;
  char errbuf[256] = "";
  assert_int_equal(docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)), 0);
  docstore__get_stream *st = (docstore__get_stream *)&st;
  docstore__err err;
  uint64_t size = 99;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(docstore__provider_get_open(p, "documents/a.bin", 0,
                                                 i ? 0 : UINT64_MAX, &st, &size,
                                                 &err),
                     DOCSTORE_ECONNECT);
    assert_null(st);
    assert_int_equal(size, 0);
    assert_non_null(strstr(err.msg, "get documents/a.bin: "));
    assert_non_null(strstr(err.msg, "cannot connect to"));
  }
  docstore_provider_free(p);
}

/* The CRCs of x-amz-checksum-crc32 / -crc32c: the standard check values,
 * and the same result fed in pieces. */
static void test_crc_check_values(void **state) {
  (void)state;
  const char *v = "123456789";
  assert_int_equal(docstore__s3_crc32(0, v, 9), 0xCBF43926u);
  assert_int_equal(docstore__s3_crc32c(0, v, 9), 0xE3069283u);
  assert_int_equal(docstore__s3_crc32(docstore__s3_crc32(0, v, 4), v + 4, 5),
                   0xCBF43926u);
  assert_int_equal(docstore__s3_crc32c(docstore__s3_crc32c(0, v, 4), v + 4, 5),
                   0xE3069283u);
  assert_int_equal(docstore__s3_crc32(0, "", 0), 0);
  assert_int_equal(docstore__s3_checksum_kind("CRC32C"),
                   DOCSTORE__S3_SUM_CRC32C);
  assert_int_equal(docstore__s3_checksum_kind("type"), DOCSTORE__S3_SUM_NONE);
}

/* Timeouts are told apart by libcurl's timings, whatever its messages
 * say. */
static void test_timeout_kind(void **state) {
  (void)state;
  static const struct {
    uint64_t pretransfer_us, total_us;
    unsigned int request_ms, stall_ms;
    int want;
  } cases[] = {
      /* Never connected: a connect timeout, whatever else is set. */
      {0, 5000000, 1000, 30000, DOCSTORE__S3_TIMEOUT_CONNECT},
      {0, 0, 0, 0, DOCSTORE__S3_TIMEOUT_CONNECT},
      /* Connected, the request clock ran out. */
      {900, 1001000, 1000, 30000, DOCSTORE__S3_TIMEOUT_REQUEST},
      {900, 960000, 1000, 30000, DOCSTORE__S3_TIMEOUT_REQUEST},
      /* Connected, well before the request timeout (or none): the stall
       * detector. */
      {900, 2000000, 60000, 2000, DOCSTORE__S3_TIMEOUT_STALL},
      {900, 2000000, 0, 2000, DOCSTORE__S3_TIMEOUT_STALL},
      /* Neither a request timeout nor a stall detector: timed out. */
      {900, 2000000, 0, 0, DOCSTORE__S3_TIMEOUT_REQUEST},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(
        docstore__s3_timeout_kind(cases[i].pretransfer_us, cases[i].total_us,
                                  cases[i].request_ms, cases[i].stall_ms),
        cases[i].want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_init),
      cmocka_unit_test(test_options_version),
      cmocka_unit_test(test_integrity_policy),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_endpoint_custom_path_style),
      cmocka_unit_test(test_endpoint_default_port_not_in_host),
      cmocka_unit_test(test_endpoint_seed_aws_url),
      cmocka_unit_test(test_addressing_override),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_secret_never_in_messages),
      cmocka_unit_test(test_presign),
      cmocka_unit_test(test_presign_session_token_virtual),
      cmocka_unit_test(test_provider_wrapper),
      cmocka_unit_test(test_crc_check_values),
      cmocka_unit_test(test_timeout_kind),
      cmocka_unit_test(test_streamed_read_open_fails_cleanly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
