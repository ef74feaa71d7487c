/*
 * The request layer's integrity policy and conditions against Swift +
 * s3api (tools/with-test-servers.sh), over http and over its TLS front:
 * each choice of payload signing and checksum stores the object, says
 * truly whether the reply proves the body (resp.body_proven), and a body
 * corrupted on the way (a test knob flips one bit after the digests are
 * computed) is refused where the server checks what was sent: the signed
 * payload hash and Content-MD5.  Swift 2.30 neither checks nor echoes
 * flexible checksums: such an upload is stored, and not reported as
 * proven.  If-None-Match: * is NotImplemented on Swift
 * (DOCSTORE_EUNSUPPORTED); If-Match on a changed object is
 * DOCSTORE_ECHANGED.  Label `s3`.
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

/* tls: through the TLS front (DOCSTORE_TEST_S3_TLS_ENDPOINT). */
static conn open_with(int tls, int checksum, int signing, uint64_t corrupt) {
  conn c;
  docstore_s3_options o = itest_options(&env);
  if (tls) {
    o.endpoint_url = getenv("DOCSTORE_TEST_S3_TLS_ENDPOINT");
    o.ca_bundle = getenv("DOCSTORE_TEST_S3_CA_BUNDLE");
    if (!o.endpoint_url || !*o.endpoint_url || !o.ca_bundle || !*o.ca_bundle)
      fail_msg("DOCSTORE_TEST_S3_TLS_ENDPOINT / DOCSTORE_TEST_S3_CA_BUNDLE "
               "are not set: run under tools/with-test-servers.sh");
  }
  o.checksum = checksum;
  o.payload_signing = signing;
  docstore__s3_tuning tuning;
  memset(&tuning, 0, sizeof(tuning));
  tuning.corrupt_body_at = corrupt;
  itest_open(&c.p, &c.s3, &o, &tuning);
  return c;
}

/* A PutObject of object data through the request layer. */
static docstore__s3_req put_req(const char *key, const uint8_t *data,
                                size_t len) {
  docstore__s3_req req;
  memset(&req, 0, sizeof(req));
  req.op = DOCSTORE_OP_PUT;
  req.method = "PUT";
  req.key = key;
  req.body = data;
  req.body_len = len;
  req.send_body = 1;
  req.object_data = 1;
  return req;
}

static int put_object(conn *c, const char *key, const uint8_t *data, size_t len,
                      docstore__s3_resp *resp, docstore__err *err) {
  docstore__s3_req req = put_req(key, data, len);
  docstore__err_clear(err);
  return docstore__s3_request(c->s3, &req, resp, err);
}

static void assert_stored(conn *c, const char *key, const uint8_t *data,
                          size_t len) {
  uint8_t *back = NULL;
  size_t n = 0;
  int rc = docstore_provider_get(c->p, &back, &n, key);
  if (rc != 0)
    fail_msg("get '%s': %s", key, docstore_provider_errmsg(c->p));
  assert_int_equal(n, len);
  assert_memory_equal(back, data, len);
  docstore_free(back);
}

static void assert_absent(conn *c, const char *key) {
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c->p, &info, key),
                   DOCSTORE_ENOTFOUND);
}

typedef struct policy_case {
  const char *name;
  int tls;
  int checksum;
  int signing;
  int proven;          /* body_proven expected from Swift */
  int corrupt_refused; /* a corrupted body is refused (EINTEGRITY) */
  const char *header;  /* header expected in sent_checksum ("" if none) */
} policy_case;

static const policy_case cases[] = {
    /* the http default: the signed payload hash is checked */
    {"http signed none", 0, DOCSTORE_S3_CHECKSUM_NONE,
     DOCSTORE_S3_PAYLOAD_SIGNED, 1, 1, ""},
    /* nothing at all: accepted, and not reported as proven */
    {"http unsigned none", 0, DOCSTORE_S3_CHECKSUM_NONE,
     DOCSTORE_S3_PAYLOAD_UNSIGNED, 0, 0, ""},
    {"http unsigned md5", 0, DOCSTORE_S3_CHECKSUM_MD5,
     DOCSTORE_S3_PAYLOAD_UNSIGNED, 1, 1, ""},
    /* the https default: Swift neither checks nor echoes CRC-32C */
    {"https unsigned crc32c", 1, DOCSTORE_S3_CHECKSUM_CRC32C,
     DOCSTORE_S3_PAYLOAD_UNSIGNED, 0, 0, "crc32c"},
    {"https unsigned md5", 1, DOCSTORE_S3_CHECKSUM_MD5,
     DOCSTORE_S3_PAYLOAD_UNSIGNED, 1, 1, ""},
    {"https signed crc32", 1, DOCSTORE_S3_CHECKSUM_CRC32,
     DOCSTORE_S3_PAYLOAD_SIGNED, 1, 1, "crc32"},
    {"https unsigned sha256", 1, DOCSTORE_S3_CHECKSUM_SHA256,
     DOCSTORE_S3_PAYLOAD_UNSIGNED, 0, 0, "sha256"},
};

static void run_case(const policy_case *pc) {
  size_t len = 2 * 1024 * 1024 + 3; /* sent after "100 Continue" */
  uint8_t *data = malloc(len);
  assert_non_null(data);
  itest_fill(data, len, 4242);
  docstore__s3_resp resp;
  docstore__err err;

  /* Stored intact, proof as the server allows. */
  conn c = open_with(pc->tls, pc->checksum, pc->signing, 0);
  char *key = itest_key(NULL, "policy.bin");
  int rc = put_object(&c, key, data, len, &resp, &err);
  if (rc != 0)
    fail_msg("%s: put: %s", pc->name, err.msg);
  if (resp.body_proven != pc->proven)
    fail_msg("%s: body_proven %d, expected %d", pc->name, resp.body_proven,
             pc->proven);
  assert_int_equal(resp.sent_checksum[0] != '\0', pc->header[0] != '\0');
  docstore__s3_resp_free(&resp);
  assert_stored(&c, key, data, len);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  docstore_provider_free(c.p);

  /* One bit flipped on the way. */
  c = open_with(pc->tls, pc->checksum, pc->signing, len / 2);
  rc = put_object(&c, key, data, len, &resp, &err);
  if (pc->corrupt_refused) {
    if (rc != DOCSTORE_EINTEGRITY)
      fail_msg("%s: a corrupted body gave %d (%s), not EINTEGRITY", pc->name,
               rc, err.msg);
    assert_int_equal(resp.status / 100, 4);
    assert_absent(&c, key);
  } else {
    /* Stored as received: Swift had nothing it checks.  The request layer
     * must not claim a proof, so that a verifying caller reads it back. */
    if (rc != 0)
      fail_msg("%s: corrupted put: %s", pc->name, err.msg);
    assert_int_equal(resp.body_proven, 0);
    uint8_t *back = NULL;
    size_t n = 0;
    assert_int_equal(docstore_provider_get(c.p, &back, &n, key), 0);
    assert_int_equal(n, len);
    assert_true(memcmp(back, data, len) != 0);
    docstore_free(back);
    assert_int_equal(docstore_provider_delete(c.p, key), 0);
  }
  docstore__s3_resp_free(&resp);
  docstore_provider_free(c.p);
  free(key);
  free(data);
}

static void test_policies(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    fprintf(stderr, "  policy: %s\n", cases[i].name);
    run_case(&cases[i]);
  }
}

/* The provider's own put uses the policy too (https default: CRC-32C). */
static void test_provider_put_tls_default(void **state) {
  (void)state;
  conn c = open_with(1, DOCSTORE_S3_CHECKSUM_AUTO, DOCSTORE_S3_PAYLOAD_AUTO, 0);
  assert_int_equal(c.s3->checksum, DOCSTORE_S3_CHECKSUM_CRC32C);
  assert_int_equal(c.s3->sign_payload, 0);
  char *key = itest_key(NULL, "tls default.json");
  const char *doc = "{\"over\": \"tls\"}";
  int rc = docstore_provider_put(c.p, key, (const uint8_t *)doc, strlen(doc));
  if (rc != 0)
    fail_msg("put: %s", docstore_provider_errmsg(c.p));
  assert_stored(&c, key, (const uint8_t *)doc, strlen(doc));
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(key);
  docstore_provider_free(c.p);
}

/* If-None-Match: * -> 501 NotImplemented on Swift: EUNSUPPORTED, with the
 * S3 code for the caller's fallback, and nothing stored. */
static void test_if_none_match_swift(void **state) {
  (void)state;
  conn c =
      open_with(0, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 0);
  char *key = itest_key(NULL, "no clobber.json");
  docstore__s3_req req = put_req(key, (const uint8_t *)"{}", 2);
  req.if_none_match = 1;
  docstore__s3_resp resp;
  docstore__err err;
  docstore__err_clear(&err);
  int rc = docstore__s3_request(c.s3, &req, &resp, &err);
  assert_int_equal(rc, DOCSTORE_EUNSUPPORTED);
  assert_string_equal(resp.s3_code, "NotImplemented");
  assert_int_equal(resp.attempts, 1);
  assert_non_null(strstr(err.msg, "If-None-Match"));
  docstore__s3_resp_free(&resp);
  assert_absent(&c, key);
  free(key);
  docstore_provider_free(c.p);
}

/* If-Match pins a read to one object: the same ETag reads, an overwritten
 * object is ECHANGED.  Extra headers are sent and signed (Swift checks
 * the signature, so a header sent but not signed, or signed with another
 * value, fails). */
static void test_if_match_and_extras_swift(void **state) {
  (void)state;
  conn c =
      open_with(0, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 0);
  char *key = itest_key(NULL, "pinned.json");
  docstore__s3_resp resp;
  docstore__err err;
  static const docstore__sigv4_header extra[] = {
      {"x-amz-meta-origin", "wire test"}, {"x-amz-meta-n", "2"}};
  docstore__s3_req req = put_req(key, (const uint8_t *)"{\"v\":1}", 7);
  req.extra_headers = extra;
  req.extra_count = 2;
  docstore__err_clear(&err);
  int rc = docstore__s3_request(c.s3, &req, &resp, &err);
  if (rc != 0)
    fail_msg("put with extra headers: %s", err.msg);
  char etag[192];
  docstore__strlcpy(etag, resp.etag, sizeof(etag));
  assert_true(etag[0] != '\0');
  docstore__s3_resp_free(&resp);

  docstore__s3_req get;
  memset(&get, 0, sizeof(get));
  get.op = DOCSTORE_OP_GET;
  get.method = "GET";
  get.key = key;
  get.if_match = etag;
  docstore__err_clear(&err);
  rc = docstore__s3_request(c.s3, &get, &resp, &err);
  if (rc != 0)
    fail_msg("GET If-Match: %s", err.msg);
  assert_int_equal(resp.body.len, 7);
  docstore__s3_resp_free(&resp);

  assert_int_equal(
      docstore_provider_put(c.p, key, (const uint8_t *)"{\"v\":22}", 8), 0);
  docstore__err_clear(&err);
  rc = docstore__s3_request(c.s3, &get, &resp, &err);
  assert_int_equal(rc, DOCSTORE_ECHANGED);
  assert_int_equal(resp.status, 412);
  docstore__s3_resp_free(&resp);
  assert_int_equal(docstore_provider_delete(c.p, key), 0);
  free(key);
  docstore_provider_free(c.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_policies),
      cmocka_unit_test(test_provider_put_tls_default),
      cmocka_unit_test(test_if_none_match_swift),
      cmocka_unit_test(test_if_match_and_extras_swift),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
