/*
 * Streamed uploads of the S3 provider (src/s3/s3_upload.c) against the
 * Swift + s3api test server: one PutObject within the threshold, multipart
 * beyond it with parts sent while the writer writes, every failure path
 * aborting the upload (none left on the server), no-clobber by each
 * strategy, and DOCSTORE_PUT_VERIFY.  Label `s3`; run under
 * tools/with-test-servers.sh (without the S3_* variables it FAILS).
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

/* Threshold 6 MiB, parts of 5 MiB (S3's minimum), `concurrency` senders. */
static conn open_small(unsigned int concurrency, int conditional) {
  conn c;
  docstore_s3_options o = itest_options(&env);
  o.multipart_threshold = 6u << 20;
  o.multipart_part_size = 5u << 20;
  o.multipart_concurrency = concurrency;
  o.conditional_writes = conditional;
  itest_open(&c.p, &c.s3, &o, NULL);
  return c;
}

static const docstore_provider_ops *ops(void) { return docstore__s3_ops(); }
static docstore_errinfo *EI(docstore__err *e) { return (docstore_errinfo *)e; }

/* The UploadIds of in-progress multipart uploads of key (ListMultipartUploads
 * on the key as prefix); returns how many, the first in first_id. */
static int open_uploads(docstore__s3 *s3, const char *key, char *first_id,
                        size_t id_size) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err err;
  char *enc = NULL;
  assert_int_equal(docstore__sigv4_uri_encode(key, strlen(key), 0, &enc), 0);
  char query[1200];
  snprintf(query, sizeof(query), "uploads&prefix=%s", enc);
  docstore_free(enc);
  req.op = DOCSTORE_OP_LIST;
  req.method = "GET";
  req.query = query;
  if (docstore__s3_request(s3, &req, &resp, &err) != 0)
    fail_msg("ListMultipartUploads: %s", err.msg);
  int n = 0;
  const char *p = (const char *)resp.body.data;
  char needle[600];
  snprintf(needle, sizeof(needle), "<Key>%s</Key>", key);
  if (first_id)
    first_id[0] = '\0';
  while (p && (p = strstr(p, needle)) != NULL) {
    p += strlen(needle);
    const char *id = strstr(p, "<UploadId>");
    const char *end = id ? strstr(id, "</UploadId>") : NULL;
    if (first_id && n == 0 && id && end) {
      size_t len = (size_t)(end - id - 10);
      assert_true(len < id_size);
      memcpy(first_id, id + 10, len);
      first_id[len] = '\0';
    }
    n++;
  }
  docstore__s3_resp_free(&resp);
  return n;
}

static uint8_t *read_all(conn *c, const char *key, size_t *len) {
  uint8_t *back = NULL;
  int rc = docstore_provider_get(c->p, &back, len, key);
  if (rc != 0)
    fail_msg("get %s: %s", key, docstore_provider_errmsg(c->p));
  return back;
}

static void assert_absent(conn *c, const char *key) {
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c->p, &info, key),
                   DOCSTORE_ENOTFOUND);
  assert_int_equal(open_uploads(c->s3, key, NULL, 0), 0);
}

/* Writes data in pieces of `piece` bytes through the ops table. */
static int write_pieces(conn *c, void *txn, const uint8_t *data, size_t len,
                        size_t piece, docstore__err *err) {
  for (size_t off = 0; off < len; off += piece) {
    size_t n = len - off < piece ? len - off : piece;
    int rc = ops()->put_write(c->s3, txn, data + off, n, EI(err));
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* ---------------------------------------------------------------- tests */

/* One test's provider, key, data and transaction. */
typedef struct fx {
  conn c;
  char *key;
  uint8_t *data;
  size_t n;
  docstore__err err;
  docstore_put_options po;
  void *txn;
} fx;

static fx fx_open(const char *name, size_t n, unsigned int concurrency,
                  int conditional) {
  fx f;
  memset(&f, 0, sizeof(f));
  f.c = open_small(concurrency, conditional);
  f.key = itest_key(NULL, name);
  f.n = n;
  f.data = malloc(n ? n : 1);
  assert_non_null(f.data);
  itest_fill(f.data, n, n ^ 0x5eed);
  docstore__err_clear(&f.err);
  f.po = (docstore_put_options)DOCSTORE_PUT_OPTIONS_INIT;
  return f;
}

static void fx_close(fx *f) {
  free(f->data);
  free(f->key);
  docstore_provider_free(f->c.p);
}

/* begin, the first len bytes in pieces, and commit: the commit's code
 * (begin and writes must succeed). */
static int fx_store(fx *f, size_t len, size_t piece) {
  if (ops()->put_begin(f->c.s3, f->key, &f->po, &f->txn, EI(&f->err)) != 0)
    fail_msg("begin: %s", f->err.msg);
  if (write_pieces(&f->c, f->txn, f->data, len, piece, &f->err) != 0)
    fail_msg("write: %s", f->err.msg);
  return ops()->put_commit(f->c.s3, f->txn, EI(&f->err));
}

/* A store expected to be refused: begin, write, commit, the first failure
 * returned (the transaction aborted when a write fails). */
static int store_refused(fx *f, size_t len) {
  int rc = ops()->put_begin(f->c.s3, f->key, &f->po, &f->txn, EI(&f->err));
  if (rc < 0)
    return rc;
  rc = write_pieces(&f->c, f->txn, f->data, len, 1u << 20, &f->err);
  if (rc < 0) {
    ops()->put_abort(f->c.s3, f->txn);
    return rc;
  }
  return ops()->put_commit(f->c.s3, f->txn, EI(&f->err));
}

/* The object under the key holds the first len bytes. */
static void fx_check(fx *f, size_t len) {
  size_t got = 0;
  uint8_t *back = read_all(&f->c, f->key, &got);
  assert_int_equal(got, len);
  assert_true(len == 0 || memcmp(back, f->data, len) == 0);
  docstore_free(back);
}

/* A refused no-clobber store left the other writer's object ("first")
 * as it was and no upload open; then the key is freed. */
static void fx_other_intact(fx *f) {
  size_t got = 0;
  uint8_t *back = read_all(&f->c, f->key, &got);
  assert_int_equal(got, 5);
  assert_memory_equal(back, "first", 5);
  docstore_free(back);
  assert_int_equal(open_uploads(f->c.s3, f->key, NULL, 0), 0);
  assert_int_equal(docstore_provider_delete(f->c.p, f->key), 0);
}

static uint64_t requests(fx *f) { return atomic_load(&f->c.s3->requests); }

/* The put group is registered (the get group is another part's). */
static void test_put_group_registered(void **state) {
  (void)state;
  const docstore_provider_ops *o = ops();
  assert_non_null(o->put_begin);
  assert_non_null(o->put_write);
  assert_non_null(o->put_commit);
  assert_non_null(o->put_abort);
}

/* Within the threshold: one PutObject, whatever the number of writes; an
 * empty stream is an empty object. */
static void test_small_stream_is_one_put(void **state) {
  (void)state;
  fx f = fx_open("small.bin", (6u << 20) - 3, 4, DOCSTORE_S3_CONDITIONAL_AUTO);
  uint64_t before = requests(&f);
  if (fx_store(&f, f.n, 100000) != 0)
    fail_msg("commit: %s", f.err.msg);
  assert_int_equal(requests(&f) - before, 1);
  fx_check(&f, f.n);
  assert_int_equal(fx_store(&f, 0, 1), 0);
  fx_check(&f, 0);
  assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
  fx_close(&f);
}

/* Past the threshold: multipart, parts of part_size (the held bytes give
 * the first), in odd write sizes, with 1 and 3 senders. */
static void streamed_multipart(unsigned int concurrency) {
  /* 5 parts: 4 of 5 MiB and 3 MiB + 7 bytes. */
  fx f = fx_open("multi part.bin", (23u << 20) + 7, concurrency,
                 DOCSTORE_S3_CONDITIONAL_AUTO);
  f.po.content_type = "application/json";
  uint64_t before = requests(&f);
  if (fx_store(&f, f.n, 777777) != 0)
    fail_msg("commit: %s", f.err.msg);
  /* Create + 5 parts + Complete. */
  assert_int_equal(requests(&f) - before, 7);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(f.c.p, &info, f.key), 0);
  assert_int_equal(info.size, f.n);
  assert_non_null(info.etag);
  assert_non_null(strstr(info.etag, "-5"));
  fx_check(&f, f.n);
  assert_int_equal(open_uploads(f.c.s3, f.key, NULL, 0), 0);
  assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
  fx_close(&f);
}

static void test_streamed_multipart(void **state) {
  (void)state;
  streamed_multipart(3);
}

static void test_streamed_multipart_one_sender(void **state) {
  (void)state;
  streamed_multipart(1);
}

/* The library's streaming put goes to the native group (no adapter copy):
 * a stream through docstore__provider_put_* is a multipart upload. */
static void test_library_stream_is_native(void **state) {
  (void)state;
  fx f =
      fx_open("library.bin", (11u << 20) + 1, 2, DOCSTORE_S3_CONDITIONAL_AUTO);
  docstore__put_txn *t = NULL;
  uint64_t before = requests(&f);
  assert_int_equal(docstore__provider_put_begin(f.c.p, f.key, NULL, &t, &f.err),
                   0);
  for (size_t off = 0; off < f.n; off += 65536) {
    size_t k = f.n - off < 65536 ? f.n - off : 65536;
    assert_int_equal(docstore__provider_put_write(t, f.data + off, k, &f.err),
                     0);
  }
  if (docstore__provider_put_commit(t, &f.err) != 0)
    fail_msg("commit: %s", f.err.msg);
  /* Create + 3 parts + Complete. */
  assert_int_equal(requests(&f) - before, 5);
  fx_check(&f, f.n);
  assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
  fx_close(&f);
}

/* put_abort in the middle of a multipart upload: nothing stored, no
 * upload left open.  Before the threshold: nothing was ever sent. */
static void test_abort_mid_upload(void **state) {
  (void)state;
  fx f = fx_open("aborted.bin", 16u << 20, 2, DOCSTORE_S3_CONDITIONAL_AUTO);
  assert_int_equal(ops()->put_begin(f.c.s3, f.key, &f.po, &f.txn, EI(&f.err)),
                   0);
  assert_int_equal(write_pieces(&f.c, f.txn, f.data, f.n, 1u << 20, &f.err), 0);
  assert_int_equal(open_uploads(f.c.s3, f.key, NULL, 0), 1); /* it is open */
  ops()->put_abort(f.c.s3, f.txn);
  assert_absent(&f.c, f.key);

  uint64_t before = requests(&f);
  assert_int_equal(ops()->put_begin(f.c.s3, f.key, &f.po, &f.txn, EI(&f.err)),
                   0);
  assert_int_equal(write_pieces(&f.c, f.txn, f.data, 1u << 20, 4096, &f.err),
                   0);
  ops()->put_abort(f.c.s3, f.txn);
  assert_int_equal(requests(&f) - before, 0);
  assert_absent(&f.c, f.key);
  fx_close(&f);
}

/* A fault in the middle: the upload disappears on the server (aborted by
 * someone else); the next part fails, the writer or the commit reports
 * it, and nothing is left behind. */
static void test_sender_failure_aborts(void **state) {
  (void)state;
  fx f =
      fx_open("sender-fails.bin", 32u << 20, 2, DOCSTORE_S3_CONDITIONAL_AUTO);
  const size_t first = 12u << 20;
  assert_int_equal(ops()->put_begin(f.c.s3, f.key, &f.po, &f.txn, EI(&f.err)),
                   0);
  assert_int_equal(write_pieces(&f.c, f.txn, f.data, first, 1u << 20, &f.err),
                   0);
  char id[512];
  assert_int_equal(open_uploads(f.c.s3, f.key, id, sizeof(id)), 1);
  /* Pull the upload from under the writer. */
  char *enc = NULL;
  assert_int_equal(docstore__sigv4_uri_encode(id, strlen(id), 0, &enc), 0);
  char query[700];
  snprintf(query, sizeof(query), "uploadId=%s", enc);
  docstore_free(enc);
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err derr;
  req.op = DOCSTORE_OP_DELETE;
  req.method = "DELETE";
  req.key = f.key;
  req.query = query;
  assert_int_equal(docstore__s3_request(f.c.s3, &req, &resp, &derr), 0);
  docstore__s3_resp_free(&resp);

  int rc =
      write_pieces(&f.c, f.txn, f.data + first, f.n - first, 1u << 20, &f.err);
  if (rc == 0)
    rc = ops()->put_commit(f.c.s3, f.txn, EI(&f.err));
  else
    ops()->put_abort(f.c.s3, f.txn); /* as the library does after a write */
  assert_true(rc < 0);
  assert_non_null(strstr(f.err.msg, "part"));
  assert_absent(&f.c, f.key);
  fx_close(&f);
}

/* No-clobber by HEAD (EMULATE): refused when the key exists (at the
 * commit of one PUT, at the write that starts a multipart upload, before
 * any part is sent), and at commit when it appeared meanwhile (the upload
 * aborted, the other object intact), for one PUT and for multipart. */
static void test_no_clobber_emulated(void **state) {
  (void)state;
  fx f =
      fx_open("nc-emulated.bin", 13u << 20, 2, DOCSTORE_S3_CONDITIONAL_EMULATE);
  f.po.flags = DOCSTORE_PUT_NO_CLOBBER;
  for (int multipart = 0; multipart < 2; multipart++) {
    size_t len = multipart ? f.n : 1000;
    if (fx_store(&f, len, 1u << 20) != 0) /* a free key */
      fail_msg("commit: %s", f.err.msg);
    /* Taken: refused, with no part sent (one HEAD, no PUT). */
    uint64_t before = requests(&f);
    assert_int_equal(store_refused(&f, len), DOCSTORE_EEXISTS);
    assert_int_equal(requests(&f) - before, 1);
    fx_check(&f, len);
    assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
    /* Taken between begin and commit: refused at commit. */
    assert_int_equal(ops()->put_begin(f.c.s3, f.key, &f.po, &f.txn, EI(&f.err)),
                     0);
    assert_int_equal(write_pieces(&f.c, f.txn, f.data, len, 1u << 20, &f.err),
                     0);
    assert_int_equal(
        docstore_provider_put(f.c.p, f.key, (const uint8_t *)"first", 5), 0);
    assert_int_equal(ops()->put_commit(f.c.s3, f.txn, EI(&f.err)),
                     DOCSTORE_EEXISTS);
    fx_other_intact(&f);
  }
  fx_close(&f);
}

/* DOCSTORE_PUT_VERIFY: the commit succeeds with its proof (a reply that
 * proves the body, or a read-back), one PUT and multipart; a flag it does
 * not know is refused. */
static void test_put_verify(void **state) {
  (void)state;
  fx f =
      fx_open("verified.bin", (12u << 20) + 9, 2, DOCSTORE_S3_CONDITIONAL_AUTO);
  f.po.flags = DOCSTORE_PUT_VERIFY;
  for (int multipart = 0; multipart < 2; multipart++) {
    size_t len = multipart ? f.n : 4000;
    if (fx_store(&f, len, 500000) != 0)
      fail_msg("verified commit: %s", f.err.msg);
    fx_check(&f, len);
  }
  f.po.flags = 0x80;
  assert_int_equal(ops()->put_begin(f.c.s3, f.key, &f.po, &f.txn, EI(&f.err)),
                   DOCSTORE_EUNSUPPORTED);
  assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
  fx_close(&f);
}

/* No-clobber AUTO on Swift (If-None-Match: * answers NotImplemented):
 * the first store falls back to HEAD and remembers it; the key taken
 * refuses the next, one PUT and multipart alike. */
static void test_no_clobber_auto_falls_back(void **state) {
  (void)state;
  fx f = fx_open("nc-auto.bin", 13u << 20, 2, DOCSTORE_S3_CONDITIONAL_AUTO);
  f.po.flags = DOCSTORE_PUT_NO_CLOBBER;
  assert_int_equal(atomic_load(&f.c.s3->conditional_seen), 0);
  for (int multipart = 0; multipart < 2; multipart++) {
    size_t len = multipart ? f.n : 1000;
    if (fx_store(&f, len, 1u << 20) != 0)
      fail_msg("commit: %s", f.err.msg);
    assert_int_equal(atomic_load(&f.c.s3->conditional_seen), -1);
    fx_check(&f, len);
    assert_int_equal(store_refused(&f, len), DOCSTORE_EEXISTS);
    fx_check(&f, len);
    assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
  }
  fx_close(&f);

  /* A fresh provider whose first no-clobber store is a multipart one over
   * an existing object: refused, the object intact, nothing left open. */
  f = fx_open("nc-auto-first-multipart.bin", 13u << 20, 2,
              DOCSTORE_S3_CONDITIONAL_AUTO);
  assert_int_equal(
      docstore_provider_put(f.c.p, f.key, (const uint8_t *)"first", 5), 0);
  f.po.flags = DOCSTORE_PUT_NO_CLOBBER;
  uint64_t before = requests(&f);
  assert_int_equal(store_refused(&f, f.n), DOCSTORE_EEXISTS);
  /* Refused by the HEAD before CreateMultipartUpload: one request, no part
   * sent, nothing learnt about If-None-Match. */
  assert_int_equal(requests(&f) - before, 1);
  assert_int_equal(atomic_load(&f.c.s3->conditional_seen), 0);
  fx_other_intact(&f);
  fx_close(&f);
}

/* No-clobber NATIVE on Swift 2.30, which answers If-None-Match: * on
 * PutObject with NotImplemented but honours it on CompleteMultipartUpload:
 * one PUT fails with a clear EUNSUPPORTED (nothing stored); multipart is
 * atomic (stored once, then EEXISTS, the upload aborted). */
static void test_no_clobber_native(void **state) {
  (void)state;
  fx f = fx_open("nc-native.bin", 13u << 20, 2, DOCSTORE_S3_CONDITIONAL_NATIVE);
  f.po.flags = DOCSTORE_PUT_NO_CLOBBER;
  assert_int_equal(fx_store(&f, 1000, 100), DOCSTORE_EUNSUPPORTED);
  assert_non_null(strstr(f.err.msg, "S3_CONDITIONAL_WRITES"));
  assert_non_null(strstr(f.err.msg, "If-None-Match"));
  assert_absent(&f.c, f.key);
  if (fx_store(&f, f.n, 1u << 20) != 0)
    fail_msg("multipart commit: %s", f.err.msg);
  fx_check(&f, f.n);
  assert_int_equal(store_refused(&f, f.n - 1), DOCSTORE_EEXISTS);
  fx_check(&f, f.n);
  assert_int_equal(open_uploads(f.c.s3, f.key, NULL, 0), 0);
  assert_int_equal(atomic_load(&f.c.s3->conditional_seen), 0); /* not AUTO */
  assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
  fx_close(&f);
}

/* DOCSTORE_PUT_VERIFY by each integrity policy over http: a signed
 * payload hash or a Content-MD5 proves the bytes (no read-back); an
 * unsigned body with no checksum, or a CRC-32C Swift does not echo, is read
 * back (GET + HEAD after the PUT).  A body corrupted on the way under
 * such a policy is stored by the server and caught by the read-back. */
typedef struct proof_case {
  int signing;
  int checksum;
  unsigned int single_requests; /* one 4000-byte PUT and its proof */
  unsigned int multi_requests;  /* Create, 3 parts, Complete, the proof */
} proof_case;

static void test_put_verify_proof(void **state) {
  (void)state;
  static const proof_case cases[] = {
      {DOCSTORE_S3_PAYLOAD_SIGNED, DOCSTORE_S3_CHECKSUM_NONE, 1, 5},
      {DOCSTORE_S3_PAYLOAD_UNSIGNED, DOCSTORE_S3_CHECKSUM_MD5, 1, 5},
      {DOCSTORE_S3_PAYLOAD_UNSIGNED, DOCSTORE_S3_CHECKSUM_NONE, 3, 7},
      /* Swift refuses the parts' <ChecksumCRC32C> in the Complete
       * (MalformedXML): it is sent again without them. */
      {DOCSTORE_S3_PAYLOAD_UNSIGNED, DOCSTORE_S3_CHECKSUM_CRC32C, 3, 8},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const proof_case *pc = &cases[i];
    for (int corrupt = 0; corrupt < 2; corrupt++) {
      docstore_s3_options o = itest_options(&env);
      o.multipart_threshold = 6u << 20;
      o.multipart_part_size = 5u << 20;
      o.payload_signing = pc->signing;
      o.checksum = pc->checksum;
      docstore__s3_tuning tuning = {0, 0, 0, corrupt ? 1000 : 0};
      fx f;
      memset(&f, 0, sizeof(f));
      itest_open(&f.c.p, &f.c.s3, &o, &tuning);
      f.key = itest_key(NULL, "proof.bin");
      f.n = (11u << 20) + 3;
      f.data = malloc(f.n);
      assert_non_null(f.data);
      itest_fill(f.data, f.n, 12 + i);
      f.po = (docstore_put_options)DOCSTORE_PUT_OPTIONS_INIT;
      f.po.flags = DOCSTORE_PUT_VERIFY;
      uint64_t before = requests(&f);
      int rc = fx_store(&f, 4000, 999);
      if (corrupt && pc->single_requests == 1) {
        /* The server checks what proves the body: refused, not stored. */
        assert_true(rc < 0);
      } else if (corrupt) {
        assert_int_equal(rc, DOCSTORE_EINTEGRITY);
        assert_non_null(strstr(f.err.msg, "differs from the bytes written"));
      } else {
        if (rc != 0)
          fail_msg("case %zu: %s", i, f.err.msg);
        assert_int_equal(requests(&f) - before, pc->single_requests);
        fx_check(&f, 4000);
        /* Multipart: Create + 3 parts + Complete (+ a GET and a HEAD). */
        before = requests(&f);
        if (fx_store(&f, f.n, 1u << 20) != 0)
          fail_msg("case %zu multipart: %s", i, f.err.msg);
        assert_int_equal(requests(&f) - before, pc->multi_requests);
        fx_check(&f, f.n);
      }
      assert_int_equal(docstore_provider_delete(f.c.p, f.key), 0);
      fx_close(&f);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_group_registered),
      cmocka_unit_test(test_small_stream_is_one_put),
      cmocka_unit_test(test_streamed_multipart),
      cmocka_unit_test(test_streamed_multipart_one_sender),
      cmocka_unit_test(test_library_stream_is_native),
      cmocka_unit_test(test_abort_mid_upload),
      cmocka_unit_test(test_sender_failure_aborts),
      cmocka_unit_test(test_no_clobber_emulated),
      cmocka_unit_test(test_put_verify),
      cmocka_unit_test(test_no_clobber_auto_falls_back),
      cmocka_unit_test(test_no_clobber_native),
      cmocka_unit_test(test_put_verify_proof),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
