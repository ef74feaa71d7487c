/*
 * Unit tests: envelope v2 (binary, segmented, key-committing) through the
 * streaming sealer and opener: round trips, chunking, recipients, header
 * rewrap, identity, every kind of tampering, key commitment, random access
 * and the whole-buffer calls on v2.  Keys are generated at test time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "crypto/crypto_internal.h"
#include "docstore/crypto.h"
#include "helpers/crypto_helpers.h"

#define SEG 4096u
#define SW (SEG + 16u)

static const docstore_doc_id DOC = {"file-1", "user_2"};

/* ------------------------------------------------------------- helpers */

typedef struct bytes {
  uint8_t *p;
  size_t n, cap;
} bytes;

static void bytes_add(bytes *b, const uint8_t *p, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  if (n)
    memcpy(b->p + b->n, p, n);
  b->n += n;
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* Seal through the streaming API, `in_chunk` input bytes per call and
 * `out_cap` bytes of output room. */
static bytes seal_chunked(docstore_keyring *kr, const uint8_t *pt, size_t n,
                          const docstore_seal_options *o, size_t in_chunk,
                          size_t out_cap) {
  docstore_sealer *s = NULL;
  bytes env = {0};
  uint8_t *out = malloc(out_cap);
  size_t off = 0, got, used;
  assert_non_null(out);
  assert_int_equal(docstore_sealer_new(&s, kr, o), 0);
  while (off < n) {
    assert_int_equal(docstore_sealer_update(s, out, out_cap, &got, pt + off,
                                            min_sz(in_chunk, n - off), &used),
                     0);
    assert_true(got > 0 || used > 0);
    bytes_add(&env, out, got);
    off += used;
  }
  int rc;
  do {
    rc = docstore_sealer_finish(s, out, out_cap, &got);
    assert_true(rc == 0 || rc == 1);
    bytes_add(&env, out, got);
  } while (rc == 1);
  docstore_sealer_free(s);
  free(out);
  return env;
}

static bytes seal(docstore_keyring *kr, const uint8_t *pt, size_t n,
                  const docstore_seal_options *o) {
  return seal_chunked(kr, pt, n, o, 1 << 20, 1 << 20);
}

static docstore_seal_options opts(unsigned int seg, int level) {
  docstore_seal_options o = DOCSTORE_SEAL_OPTIONS_INIT;
  o.segment_size = seg;
  o.compression_level = level;
  return o;
}

/* Open through the streaming API; returns the code and the plaintext
 * released (all of it, including what came out before a failure). */
static int open_chunked(docstore_keyring *kr, const uint8_t *env, size_t n,
                        const docstore_doc_id *expect, size_t in_chunk,
                        size_t out_cap, bytes *pt) {
  docstore_opener *o = NULL;
  uint8_t *out = malloc(out_cap);
  size_t off = 0, got, used;
  int rc = 0;
  assert_non_null(out);
  memset(pt, 0, sizeof(*pt));
  assert_int_equal(docstore_opener_new(&o, kr, expect), 0);
  while (off < n) {
    rc = docstore_opener_update(o, out, out_cap, &got, env + off,
                                min_sz(in_chunk, n - off), &used);
    if (rc < 0)
      goto done;
    assert_true(got > 0 || used > 0);
    bytes_add(pt, out, got);
    off += used;
  }
  do {
    rc = docstore_opener_finish(o, out, out_cap, &got);
    if (rc >= 0)
      bytes_add(pt, out, got);
  } while (rc == 1);
done:
  if (rc < 0) {
    assert_string_not_equal(docstore_opener_errmsg(o), "");
    /* A failed opener stays failed. */
    assert_int_equal(docstore_opener_finish(o, out, out_cap, &got),
                     DOCSTORE_EINVAL);
  }
  docstore_opener_free(o);
  free(out);
  return rc;
}

static int open_all(docstore_keyring *kr, const uint8_t *env, size_t n,
                    const docstore_doc_id *expect, bytes *pt) {
  return open_chunked(kr, env, n, expect, 1 << 20, 1 << 20, pt);
}

static size_t header_len(const bytes *env) {
  size_t h = 0;
  assert_int_equal(docstore_envelope_header_size(&h, env->p, env->n), 0);
  return h;
}

static void expect_roundtrip(docstore_keyring *kr, const bytes *env,
                             const uint8_t *pt, size_t n,
                             const docstore_doc_id *expect) {
  bytes out;
  assert_int_equal(open_all(kr, env->p, env->n, expect, &out), 0);
  assert_int_equal(out.n, n);
  if (n)
    assert_memory_equal(out.p, pt, n);
  free(out.p);
}

/* A tampered envelope is refused; `header` failures release nothing. */
static void expect_refused(docstore_keyring *kr, const uint8_t *env, size_t n,
                           int in_header) {
  bytes out;
  int rc = open_all(kr, env, n, NULL, &out);
  assert_true(rc == DOCSTORE_EINTEGRITY || rc == DOCSTORE_EFORMAT ||
              rc == DOCSTORE_EUNSUPPORTED ||
              (in_header && rc == DOCSTORE_EKEY));
  if (in_header)
    assert_int_equal(out.n, 0);
  free(out.p);
  /* The whole-buffer call agrees. */
  uint8_t *pt = (uint8_t *)"x";
  size_t pt_len = 7;
  int brc =
      docstore_envelope_open(&pt, &pt_len, kr, (const char *)env, n, NULL);
  assert_true(brc < 0);
  assert_null(pt);
  assert_int_equal(pt_len, 0);
}

/* ------------------------------------------------------------- tests */

static const size_t SIZES[] = {
    0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 5, 2 * SEG - 1, 100000};

static void test_roundtrip_sizes(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  for (int level = 0; level <= 3; level += 3)
    for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
      size_t n = SIZES[i];
      uint8_t *pt = th_random(n);
      if (level) /* compressible too */
        memset(pt, 'a', n / 2);
      docstore_seal_options o = opts(SEG, level);
      bytes env = seal(kr, pt, n, &o);
      size_t h = header_len(&env);
      if (!level) {
        size_t segs = n == 0 ? 1 : (n + SEG - 1) / SEG;
        assert_int_equal(env.n, h + n + 16 * segs);
      }
      expect_roundtrip(kr, &env, pt, n, NULL);
      /* info_get and the whole-buffer open. */
      docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
      assert_int_equal(
          docstore_envelope_info_get(&info, (const char *)env.p, env.n), 0);
      assert_int_equal(info.format, DOCSTORE_ENVELOPE_V2);
      assert_int_equal(info.segment_size, SEG);
      assert_int_equal(info.compressed, level ? 1 : 0);
      assert_int_equal(info.recipients_count, 1);
      assert_string_equal(info.key_id, th_kid(0));
      assert_null(info.file_id);
      assert_true(info.plaintext_size == (level ? UINT64_MAX : n));
      docstore_envelope_info_clear(&info);
      uint8_t *out = NULL;
      size_t out_len = 0;
      assert_int_equal(docstore_envelope_open(&out, &out_len, kr,
                                              (const char *)env.p, env.n, NULL),
                       0);
      assert_int_equal(out_len, n);
      if (n)
        assert_memory_equal(out, pt, n);
      docstore_free(out);
      free(env.p);
      free(pt);
    }
  docstore_keyring_free(kr);
}

static void test_default_options_and_segment_sizes(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t *pt = th_random(70000);
  bytes env = seal(kr, pt, 70000, NULL);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(
      docstore_envelope_info_get(&info, (const char *)env.p, env.n), 0);
  assert_int_equal(info.segment_size, 65536);
  docstore_envelope_info_clear(&info);
  expect_roundtrip(kr, &env, pt, 70000, NULL);
  free(env.p);
  docstore_seal_options o = opts(1u << 24, 0);
  env = seal(kr, pt, 70000, &o);
  expect_roundtrip(kr, &env, pt, 70000, NULL);
  free(env.p);
  /* Invalid options. */
  docstore_sealer *s = NULL;
  unsigned int bad[] = {100, 2048, 6000, 1u << 25};
  for (size_t i = 0; i < 4; i++) {
    o = opts(bad[i], 0);
    assert_int_equal(docstore_sealer_new(&s, kr, &o), DOCSTORE_EINVAL);
    assert_null(s);
  }
  o = opts(0, 20);
  assert_int_equal(docstore_sealer_new(&s, kr, &o), DOCSTORE_EINVAL);
  o = opts(0, 0);
  o.version = 99;
  assert_int_equal(docstore_sealer_new(&s, kr, &o), DOCSTORE_EINVAL);
  o = opts(0, 0);
  o.format = 3;
  assert_int_equal(docstore_sealer_new(&s, kr, &o), DOCSTORE_EINVAL);
  const char *none[] = {"sha256:0000"};
  o = opts(0, 0);
  o.recipients = none;
  o.recipients_count = 1;
  assert_int_equal(docstore_sealer_new(&s, kr, &o), DOCSTORE_EKEY);
  assert_int_equal(docstore_seal_options_init(&o, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_seal_options_init(&o, 1), 0);
  assert_int_equal(o.segment_size, 0);
  free(pt);
  docstore_keyring_free(kr);
}

static void test_byte_at_a_time(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  size_t sizes[] = {0, 1, SEG, 2 * SEG + 3};
  for (int level = 0; level <= 1; level++)
    for (size_t i = 0; i < 4; i++) {
      size_t n = sizes[i];
      uint8_t *pt = th_random(n);
      docstore_seal_options o = opts(SEG, level);
      bytes big = seal(kr, pt, n, &o);
      bytes env = seal_chunked(kr, pt, n, &o, 1, 1);
      /* Same length as a big-buffer seal (the bytes differ: fresh keys). */
      if (!level)
        assert_int_equal(env.n, big.n);
      bytes out;
      assert_int_equal(open_chunked(kr, env.p, env.n, NULL, 1, 1, &out), 0);
      assert_int_equal(out.n, n);
      if (n)
        assert_memory_equal(out.p, pt, n);
      free(out.p);
      /* Odd sizes in and out. */
      assert_int_equal(open_chunked(kr, big.p, big.n, NULL, 777, 333, &out), 0);
      assert_int_equal(out.n, n);
      if (n)
        assert_memory_equal(out.p, pt, n);
      free(out.p);
      free(env.p);
      free(big.p);
      free(pt);
    }
  docstore_keyring_free(kr);
}

static void test_multi_recipient(void **state) {
  (void)state;
  docstore_keyring *all = th_keyring(7, 0);
  const char *kids[] = {th_kid(0), th_kid(1), th_kid(2)};
  docstore_seal_options o = opts(SEG, 0);
  o.recipients = kids;
  o.recipients_count = 3;
  uint8_t *pt = th_random(10000);
  bytes env = seal(all, pt, 10000, &o);
  for (int i = 0; i < 3; i++) {
    docstore_keyring *one = th_keyring(1u << i, 1u << i);
    expect_roundtrip(one, &env, pt, 10000, NULL);
    docstore_opener *op = NULL;
    assert_int_equal(docstore_opener_new(&op, one, NULL), 0);
    uint8_t buf[64];
    size_t got, used;
    assert_int_equal(docstore_opener_update(op, buf, sizeof(buf), &got, env.p,
                                            header_len(&env), &used),
                     0);
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    assert_int_equal(docstore_opener_info(op, &info), 0);
    assert_int_equal(info.recipients_count, 3);
    assert_int_equal(info.format, DOCSTORE_ENVELOPE_V2);
    assert_int_equal(info.segment_size, SEG);
    assert_int_equal(info.plaintext_size, 0);
    /* The recipient whose key opened it. */
    assert_string_equal(info.key_id, kids[i]);
    docstore_envelope_info_clear(&info);
    docstore_opener_free(op);
    docstore_keyring_free(one);
  }
  /* Public keys only: no private key for any recipient. */
  bytes out;
  assert_int_equal(open_all(all, env.p, env.n, NULL, &out), DOCSTORE_EKEY);
  free(out.p);
  /* Twice the same recipient. */
  const char *twice[] = {kids[0], kids[0]};
  o.recipients = twice;
  o.recipients_count = 2;
  docstore_sealer *s = NULL;
  assert_int_equal(docstore_sealer_new(&s, all, &o), DOCSTORE_EINVAL);
  free(env.p);
  free(pt);
  docstore_keyring_free(all);
}

static bytes rewrap(docstore_keyring *kr, const bytes *env, const char **add,
                    size_t nadd, const char **rm, size_t nrm, int want) {
  uint8_t *h = NULL;
  size_t hl = 0, old = 0;
  bytes r = {0};
  int rc = docstore_envelope_rewrap_header(&h, &hl, &old, kr, env->p, env->n,
                                           add, nadd, rm, nrm);
  assert_int_equal(rc, want);
  if (rc < 0) {
    assert_null(h);
    return r;
  }
  assert_int_equal(old, header_len(env));
  bytes_add(&r, h, hl);
  bytes_add(&r, env->p + old, env->n - old);
  docstore_free(h);
  return r;
}

static void test_rewrap_header(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(7, 7);
  docstore_keyring *k0 = th_keyring(1, 1), *k1 = th_keyring(2, 2),
                   *k2 = th_keyring(4, 4);
  const char *kid0 = th_kid(0), *kid1 = th_kid(1), *kid2 = th_kid(2);
  uint8_t *pt = th_random(3 * SEG + 7);
  docstore_seal_options o = opts(SEG, 0);
  o.doc = &DOC;
  bytes env = seal(k0, pt, 3 * SEG + 7, &o);
  size_t h0 = header_len(&env);

  /* add */
  bytes a = rewrap(kr, &env, &kid1, 1, NULL, 0, 0);
  assert_memory_equal(a.p + header_len(&a), env.p + h0, env.n - h0);
  expect_roundtrip(k0, &a, pt, 3 * SEG + 7, &DOC);
  expect_roundtrip(k1, &a, pt, 3 * SEG + 7, &DOC);
  /* remove */
  bytes r = rewrap(kr, &a, NULL, 0, &kid0, 1, 0);
  assert_memory_equal(r.p + header_len(&r), env.p + h0, env.n - h0);
  expect_roundtrip(k1, &r, pt, 3 * SEG + 7, &DOC);
  bytes out;
  assert_int_equal(open_all(k0, r.p, r.n, NULL, &out), DOCSTORE_EKEY);
  free(out.p);
  /* replace all with "*" */
  const char *star = "*";
  bytes p = rewrap(kr, &a, &kid2, 1, &star, 1, 0);
  expect_roundtrip(k2, &p, pt, 3 * SEG + 7, &DOC);
  assert_int_equal(open_all(k0, p.p, p.n, NULL, &out), DOCSTORE_EKEY);
  free(out.p);
  assert_int_equal(open_all(k1, p.p, p.n, NULL, &out), DOCSTORE_EKEY);
  free(out.p);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_envelope_info_get(&info, (const char *)p.p, p.n),
                   0);
  assert_int_equal(info.recipients_count, 1);
  assert_string_equal(info.key_id, kid2);
  assert_string_equal(info.file_id, DOC.file_id);
  docstore_envelope_info_clear(&info);
  /* Errors: nothing would remain; no private key; unknown key to add. */
  rewrap(kr, &env, NULL, 0, &kid0, 1, DOCSTORE_EINVAL);
  rewrap(k1, &env, &kid1, 1, NULL, 0, DOCSTORE_EKEY);
  const char *unknown = "sha256:00";
  rewrap(kr, &env, &unknown, 1, NULL, 0, DOCSTORE_EKEY);
  /* Needs the whole header. */
  uint8_t *h = NULL;
  size_t hl, old;
  assert_int_equal(docstore_envelope_rewrap_header(&h, &hl, &old, kr, env.p,
                                                   h0 - 1, &kid1, 1, NULL, 0),
                   DOCSTORE_EFORMAT);
  /* A tampered header is not rewrapped into a fresh-looking one. */
  env.p[60] ^= 1;
  rewrap(kr, &env, &kid1, 1, NULL, 0, DOCSTORE_EINTEGRITY);
  env.p[60] ^= 1;

  /* docstore_envelope_rewrap() on v2: every recipient replaced. */
  char *re = NULL;
  size_t re_len = 0;
  assert_int_equal(
      docstore_envelope_rewrap(&re, &re_len, kr, (const char *)a.p, a.n, kid2),
      0);
  bytes reb = {(uint8_t *)re, re_len, re_len};
  expect_roundtrip(k2, &reb, pt, 3 * SEG + 7, &DOC);
  assert_int_equal(open_all(k0, reb.p, reb.n, NULL, &out), DOCSTORE_EKEY);
  free(out.p);
  docstore_free(re);
  /* ... and refuses a damaged segment. */
  a.p[a.n - 1] ^= 1;
  assert_int_equal(
      docstore_envelope_rewrap(&re, &re_len, kr, (const char *)a.p, a.n, kid2),
      DOCSTORE_EINTEGRITY);

  free(a.p);
  free(r.p);
  free(p.p);
  free(env.p);
  free(pt);
  docstore_keyring_free(kr);
  docstore_keyring_free(k0);
  docstore_keyring_free(k1);
  docstore_keyring_free(k2);
}

static void test_identity(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t pt[100];
  memset(pt, 7, sizeof(pt));
  docstore_seal_options o = opts(SEG, 0);
  o.doc = &DOC;
  bytes env = seal(kr, pt, sizeof(pt), &o);
  expect_roundtrip(kr, &env, pt, sizeof(pt), &DOC);
  expect_roundtrip(kr, &env, pt, sizeof(pt), NULL);
  docstore_doc_id other_file = {"file-2", "user_2"};
  docstore_doc_id other_user = {"file-1", "user_3"};
  docstore_doc_id no_user = {"file-1", NULL};
  const docstore_doc_id *wrong[] = {&other_file, &other_user, &no_user};
  bytes out;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(open_all(kr, env.p, env.n, wrong[i], &out),
                     DOCSTORE_EINTEGRITY);
    assert_int_equal(out.n, 0);
    free(out.p);
  }
  uint8_t *p = NULL;
  size_t pl = 0;
  assert_int_equal(docstore_envelope_open(&p, &pl, kr, (const char *)env.p,
                                          env.n, &other_file),
                   DOCSTORE_EINTEGRITY);
  free(env.p);
  /* Unbound envelope, a document expected. */
  env = seal(kr, pt, sizeof(pt), NULL);
  assert_int_equal(open_all(kr, env.p, env.n, &DOC, &out), DOCSTORE_EINTEGRITY);
  free(out.p);
  free(env.p);
  /* System document (no user). */
  o.doc = &no_user;
  env = seal(kr, pt, sizeof(pt), &o);
  expect_roundtrip(kr, &env, pt, sizeof(pt), &no_user);
  assert_int_equal(open_all(kr, env.p, env.n, &DOC, &out), DOCSTORE_EINTEGRITY);
  free(out.p);
  free(env.p);
  /* Invalid identities. */
  docstore_doc_id bad = {"a/b", NULL};
  docstore_sealer *s = NULL;
  docstore_opener *op = NULL;
  o.doc = &bad;
  assert_int_equal(docstore_sealer_new(&s, kr, &o), DOCSTORE_EINVAL);
  assert_int_equal(docstore_opener_new(&op, kr, &bad), DOCSTORE_EINVAL);
  docstore_keyring_free(kr);
}

static void test_tamper_header(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t *pt = th_random(SEG + 10);
  docstore_seal_options o = opts(SEG, 0);
  o.doc = &DOC;
  bytes env = seal(kr, pt, SEG + 10, &o);
  size_t h = header_len(&env);
  for (size_t i = 0; i < h; i++)
    for (int bit = 0; bit < 8; bit += 7) {
      env.p[i] ^= (uint8_t)(1u << bit);
      expect_refused(kr, env.p, env.n, 1);
      env.p[i] ^= (uint8_t)(1u << bit);
    }
  expect_roundtrip(kr, &env, pt, SEG + 10, &DOC);
  /* Unknown flags and version. */
  env.p[11] |= 2;
  bytes out;
  assert_int_equal(open_all(kr, env.p, env.n, NULL, &out),
                   DOCSTORE_EUNSUPPORTED);
  free(out.p);
  env.p[11] &= (uint8_t)~2u;
  env.p[8] = 3;
  assert_int_equal(open_all(kr, env.p, env.n, NULL, &out),
                   DOCSTORE_EUNSUPPORTED);
  free(out.p);
  env.p[8] = 2;
  /* Truncated header: every length. */
  for (size_t i = 1; i < h; i++) {
    assert_int_equal(open_all(kr, env.p, i, NULL, &out), DOCSTORE_EFORMAT);
    assert_int_equal(out.n, 0);
    free(out.p);
  }
  free(env.p);
  free(pt);
  docstore_keyring_free(kr);
}

/* Build a copy of env's segments rearranged: order[] lists old segment
 * indexes (-1 ends). */
static bytes rearrange(const bytes *env, const int *order) {
  size_t h = header_len(env);
  bytes r = {0};
  bytes_add(&r, env->p, h);
  size_t nseg = (env->n - h + SW - 1) / SW;
  for (int i = 0; order[i] >= 0; i++) {
    size_t k = (size_t)order[i];
    assert_true(k < nseg);
    size_t len = min_sz(SW, env->n - h - k * SW);
    bytes_add(&r, env->p + h + k * SW, len);
  }
  return r;
}

static void test_tamper_segments(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  for (int level = 0; level <= 1; level++) {
    size_t n = 3 * SEG + 100;
    uint8_t *pt = th_random(n);
    docstore_seal_options o = opts(SEG, level);
    bytes env = seal(kr, pt, n, &o);
    size_t h = header_len(&env);
    bytes out;
    /* Truncation: at every segment boundary, mid-segment, just after the
     * header, and one byte short. */
    for (size_t cut = h; cut < env.n; cut += (cut - h) % SW == 0 ? 1 : SW / 2) {
      assert_int_equal(open_all(kr, env.p, cut, NULL, &out),
                       DOCSTORE_EINTEGRITY);
      free(out.p);
    }
    for (size_t k = 0; h + k * SW < env.n; k++) {
      assert_int_equal(open_all(kr, env.p, h + k * SW, NULL, &out),
                       DOCSTORE_EINTEGRITY);
      /* Whatever came out is the verified prefix of the document. */
      assert_true(out.n <= n);
      if (!level && out.n)
        assert_memory_equal(out.p, pt, out.n);
      free(out.p);
    }
    assert_int_equal(open_all(kr, env.p, env.n - 1, NULL, &out),
                     DOCSTORE_EINTEGRITY);
    free(out.p);
    /* Without a key, info_get says what an open says of a length that no
     * segment layout has: a body shorter than one tag, and an empty
     * segment after a full one. */
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    assert_int_equal(
        docstore_envelope_info_get(&info, (const char *)env.p, h + 15),
        DOCSTORE_EINTEGRITY);
    assert_int_equal(
        docstore_envelope_info_get(&info, (const char *)env.p, h + SW + 16),
        DOCSTORE_EINTEGRITY);
    /* Each ciphertext byte of some segments flipped. */
    for (size_t i = h; i < env.n; i += 997) {
      env.p[i] ^= 0x20;
      assert_int_equal(open_all(kr, env.p, env.n, NULL, &out),
                       DOCSTORE_EINTEGRITY);
      free(out.p);
      env.p[i] ^= 0x20;
    }
    /* Reordered, duplicated, dropped segments; the last one dropped so
     * that a non-last one ends the stream. */
    int orders[][6] = {{1, 0, 2, 3, -1}, {0, 0, 1, 2, 3, -1}, {0, 2, 3, -1},
                       {0, 1, 2, -1},    {0, 1, 2, 2, 3, -1}, {0, 1, 3, 2, -1},
                       {3, -1}};
    for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
      bytes r = rearrange(&env, orders[i]);
      expect_refused(kr, r.p, r.n, 0);
      free(r.p);
    }
    /* Extra bytes appended: 1, a tag's worth, a whole segment's. */
    size_t extras[] = {1, 16, 17, SW};
    for (size_t i = 0; i < 4; i++) {
      bytes r = {0};
      bytes_add(&r, env.p, env.n);
      uint8_t *junk = th_random(extras[i]);
      bytes_add(&r, junk, extras[i]);
      expect_refused(kr, r.p, r.n, 0);
      free(junk);
      free(r.p);
    }
    /* A copy of the first segment appended. */
    bytes r = {0};
    bytes_add(&r, env.p, env.n);
    bytes_add(&r, env.p + h, SW);
    expect_refused(kr, r.p, r.n, 0);
    free(r.p);
    expect_roundtrip(kr, &env, pt, n, NULL);
    free(env.p);
    free(pt);
  }
  /* A document of exactly 2 segments sealed, then its last segment
   * dropped: the first, full and flagged non-last, must not end it. */
  uint8_t *pt = th_random(2 * SEG);
  docstore_seal_options o = opts(SEG, 0);
  bytes env = seal(kr, pt, 2 * SEG, &o);
  int first[] = {0, -1};
  bytes r = rearrange(&env, first);
  bytes out;
  assert_int_equal(open_all(kr, r.p, r.n, NULL, &out), DOCSTORE_EINTEGRITY);
  free(out.p);
  free(r.p);
  free(env.p);
  free(pt);
  docstore_keyring_free(kr);
}

/* A header with a wrong key commitment but a correct tag (computed with
 * the real header key) is refused: the commitment is checked on its own. */
static void test_key_commitment(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t pt[50] = {1, 2, 3};
  docstore_seal_options o = opts(SEG, 0);
  bytes env = seal(kr, pt, sizeof(pt), &o);
  size_t h = header_len(&env);
  docstore__v2_header hd;
  docstore__v2_keys k;
  docstore__err e = {0, ""};
  assert_int_equal(docstore__v2_header_parse(&hd, env.p, env.n, &e), 0);
  assert_int_equal(docstore__v2_header_unlock(&k, NULL, &hd, kr, NULL, &e), 0);
  assert_memory_equal(k.commit, env.p + h - 64, 32);
  env.p[h - 64] ^= 1;
  size_t ml = 0;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k.hdr, 32,
                            env.p, h - 32, env.p + h - 32, 32, &ml));
  bytes out;
  docstore_opener *op = NULL;
  assert_int_equal(docstore_opener_new(&op, kr, NULL), 0);
  uint8_t buf[100];
  size_t got, used;
  assert_int_equal(
      docstore_opener_update(op, buf, sizeof(buf), &got, env.p, env.n, &used),
      DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(docstore_opener_errmsg(op), "commitment"));
  docstore_opener_free(op);
  /* The same with the commitment restored (and the tag recomputed) opens:
   * the test above changed only the commitment. */
  env.p[h - 64] ^= 1;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k.hdr, 32,
                            env.p, h - 32, env.p + h - 32, 32, &ml));
  assert_int_equal(open_all(kr, env.p, env.n, NULL, &out), 0);
  free(out.p);
  free(env.p);
  docstore_keyring_free(kr);
}

/* A recipient of an unknown kind is skipped by readers (and covered by
 * the header tag); "*" in rewrap_header removes it. */
static void test_unknown_recipient_kind(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t pt[300];
  memset(pt, 3, sizeof(pt));
  docstore_seal_options o = opts(SEG, 0);
  bytes env = seal(kr, pt, sizeof(pt), &o); /* unbound: R at offset 58 */
  size_t h = header_len(&env);
  docstore__v2_header hd;
  docstore__v2_keys k;
  docstore__err e = {0, ""};
  assert_int_equal(docstore__v2_header_parse(&hd, env.p, env.n, &e), 0);
  assert_int_equal(docstore__v2_header_unlock(&k, NULL, &hd, kr, NULL, &e), 0);
  static const uint8_t extra[] = {7, 0, 3, 'a', 'b', 'c'};
  bytes x = {0};
  bytes_add(&x, env.p, 60);
  bytes_add(&x, extra, sizeof(extra)); /* first, before the RSA one */
  bytes_add(&x, env.p + 60, h - 32 - 60);
  x.p[59] = 2;                                     /* R */
  docstore__put_be32(x.p + 12, (uint32_t)(h + 6)); /* H */
  size_t ml = 0;
  uint8_t tag[32];
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k.hdr, 32, x.p,
                            x.n, tag, 32, &ml));
  bytes_add(&x, tag, 32);
  bytes_add(&x, env.p + h, env.n - h);
  expect_roundtrip(kr, &x, pt, sizeof(pt), NULL);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_envelope_info_get(&info, (const char *)x.p, x.n),
                   0);
  assert_int_equal(info.recipients_count, 2);
  assert_string_equal(info.key_id, th_kid(0)); /* the first RSA-OAEP one */
  docstore_envelope_info_clear(&info);
  /* Its body is covered by the tag. */
  x.p[64] ^= 1;
  expect_refused(kr, x.p, x.n, 1);
  x.p[64] ^= 1;
  /* "*" keeps only the added keys: the unknown kind goes too. */
  const char *star = "*", *kid0 = th_kid(0);
  bytes r = rewrap(kr, &x, &kid0, 1, &star, 1, 0);
  assert_int_equal(header_len(&r), h);
  assert_int_equal(docstore_envelope_info_get(&info, (const char *)r.p, r.n),
                   0);
  assert_int_equal(info.recipients_count, 1);
  docstore_envelope_info_clear(&info);
  expect_roundtrip(kr, &r, pt, sizeof(pt), NULL);
  /* Removing the RSA-OAEP recipient by key id leaves the unknown one:
   * nobody can open it. */
  bytes u = rewrap(kr, &x, NULL, 0, &kid0, 1, 0);
  bytes out;
  assert_int_equal(open_all(kr, u.p, u.n, NULL, &out), DOCSTORE_EKEY);
  free(out.p);
  free(u.p);
  free(r.p);
  free(x.p);
  free(env.p);
  docstore_keyring_free(kr);
}

/* The keys of a header that kr opens (test keys). */
static docstore__v2_keys unlock_keys(docstore_keyring *kr, const bytes *env) {
  docstore__v2_header hd;
  docstore__v2_keys k;
  docstore__err e = {0, ""};
  assert_int_equal(docstore__v2_header_parse(&hd, env->p, env->n, &e), 0);
  assert_int_equal(docstore__v2_header_unlock(&k, NULL, &hd, kr, NULL, &e), 0);
  return k;
}

/* Recompute the header tag of x (its first h bytes) with K_hdr. */
static void retag(bytes *x, size_t h, const docstore__v2_keys *k) {
  size_t ml = 0;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->hdr, 32,
                            x->p, h - 32, x->p + h - 32, 32, &ml));
}

/* An envelope refused as DOCSTORE_EINTEGRITY by the opener (whole, and in
 * pieces of 100 bytes) and by docstore_envelope_open(); `in_header`: no
 * plaintext released. */
static void expect_integrity(docstore_keyring *kr, const bytes *env,
                             int in_header, const char *what) {
  bytes out;
  int rc = open_all(kr, env->p, env->n, NULL, &out);
  if (rc != DOCSTORE_EINTEGRITY)
    fail_msg("%s: got %d, want DOCSTORE_EINTEGRITY", what, rc);
  if (in_header)
    assert_int_equal(out.n, 0);
  free(out.p);
  assert_int_equal(open_chunked(kr, env->p, env->n, NULL, 100, 100, &out),
                   DOCSTORE_EINTEGRITY);
  free(out.p);
  uint8_t *p = NULL;
  size_t pl = 0;
  assert_int_equal(
      docstore_envelope_open(&p, &pl, kr, (const char *)env->p, env->n, NULL),
      DOCSTORE_EINTEGRITY);
  assert_null(p);
}

/* The error message of an opener given the whole of env (which it
 * refuses), into msg. */
static void refusal_message(docstore_keyring *kr, const bytes *env,
                            char msg[DOCSTORE__ERRMSG_MAX]) {
  docstore_opener *op = NULL;
  uint8_t buf[64];
  size_t got, used;
  assert_int_equal(docstore_opener_new(&op, kr, NULL), 0);
  assert_true(docstore_opener_update(op, buf, sizeof(buf), &got, env->p, env->n,
                                     &used) < 0);
  snprintf(msg, DOCSTORE__ERRMSG_MAX, "%s", docstore_opener_errmsg(op));
  docstore_opener_free(op);
}

/* A kind-1 recipient whose wrapped key is outside 256..2048 bytes is
 * malformed: refused when the header is parsed, with or without a key
 * (FORMAT.md section 21, step 3). */
static void test_wrapped_length_bounds(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1), *pub = th_keyring(1, 0);
  uint8_t pt[20] = {9};
  docstore_seal_options o = opts(SEG, 0);
  bytes env = seal(kr, pt, sizeof(pt), &o); /* unbound: recipient at 60 */
  size_t h = header_len(&env);
  /* kind(1) L(2) K(1) kid(71) W(2) wrapped(256) */
  const size_t w_at = 60 + 3 + 1 + 71;
  assert_int_equal(env.p[60], 1);
  assert_int_equal(env.p[w_at] << 8 | env.p[w_at + 1], 256);
  const size_t ws[] = {0, 1, 255, 2049, 4096};
  for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++) {
    size_t w = ws[i];
    bytes x = {0};
    bytes_add(&x, env.p, w_at);
    uint8_t wl[2] = {(uint8_t)(w >> 8), (uint8_t)w};
    bytes_add(&x, wl, 2);
    uint8_t *wrapped = calloc(w + 1, 1);
    assert_non_null(wrapped);
    memcpy(wrapped, env.p + w_at + 2, min_sz(w, 256));
    bytes_add(&x, wrapped, w);
    free(wrapped);
    bytes_add(&x, env.p + w_at + 2 + 256, env.n - (w_at + 2 + 256));
    size_t l = 1 + 71 + 2 + w, nh = h - 256 + w;
    x.p[61] = (uint8_t)(l >> 8);
    x.p[62] = (uint8_t)l;
    docstore__put_be32(x.p + 12, (uint32_t)nh);
    bytes out;
    assert_int_equal(open_all(kr, x.p, x.n, NULL, &out), DOCSTORE_EFORMAT);
    assert_int_equal(out.n, 0);
    free(out.p);
    /* The same verdict without the private key, and from info_get. */
    assert_int_equal(open_all(pub, x.p, x.n, NULL, &out), DOCSTORE_EFORMAT);
    free(out.p);
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    assert_int_equal(docstore_envelope_info_get(&info, (const char *)x.p, x.n),
                     DOCSTORE_EFORMAT);
    free(x.p);
  }
  free(env.p);
  docstore_keyring_free(kr);
  docstore_keyring_free(pub);
}

/* Only the first recipient for a key the reader holds is tried: a
 * wrapped key that fails under it is an integrity failure even when a
 * later recipient would open the envelope (FORMAT.md section 21, step 4). */
static void test_first_usable_recipient_only(void **state) {
  (void)state;
  docstore_keyring *both = th_keyring(3, 3), *k1 = th_keyring(2, 2);
  const char *kids[] = {th_kid(0), th_kid(1)};
  uint8_t pt[64];
  memset(pt, 5, sizeof(pt));
  docstore_seal_options o = opts(SEG, 0);
  o.recipients = kids;
  o.recipients_count = 2;
  bytes env = seal(both, pt, sizeof(pt), &o);
  size_t h = header_len(&env);
  expect_roundtrip(both, &env, pt, sizeof(pt), NULL);
  expect_roundtrip(k1, &env, pt, sizeof(pt), NULL);
  docstore__v2_keys k = unlock_keys(k1, &env);
  /* Recipient 0's wrapped key damaged, the header tag made valid again
   * (as a writer holding the data key could). */
  const size_t wrapped0 = 60 + 3 + 1 + 71 + 2;
  env.p[wrapped0 + 100] ^= 0x40;
  retag(&env, h, &k);
  expect_integrity(both, &env, 1, "recipient 0 damaged");
  /* A failed unwrap and a wrong header tag say the same thing (FORMAT.md
   * section 21.1). */
  char unwrap_msg[DOCSTORE__ERRMSG_MAX], tag_msg[DOCSTORE__ERRMSG_MAX];
  refusal_message(both, &env, unwrap_msg);
  env.p[50] ^= 1; /* nonce prefix: the commitment holds, the tag fails */
  refusal_message(k1, &env, tag_msg);
  env.p[50] ^= 1;
  assert_string_equal(unwrap_msg, tag_msg);
  /* Nor does rewrap fall back to recipient 1. */
  const char *kid1 = kids[1];
  rewrap(both, &env, NULL, 0, &kid1, 1, DOCSTORE_EINTEGRITY);
  /* A reader without key 0 uses recipient 1 and opens it. */
  expect_roundtrip(k1, &env, pt, sizeof(pt), NULL);
  /* A wrapped key of another length than the reader's modulus (but
   * within 256..2048) is an integrity failure too, with no fallback. */
  bytes x = {0};
  bytes_add(&x, env.p, wrapped0 - 2);
  uint8_t w257[2] = {1, 1}, zero = 0;
  bytes_add(&x, w257, 2);
  bytes_add(&x, env.p + wrapped0, 256);
  bytes_add(&x, &zero, 1);
  bytes_add(&x, env.p + wrapped0 + 256, env.n - wrapped0 - 256);
  x.p[62]++; /* L: 330 -> 331 */
  docstore__put_be32(x.p + 12, (uint32_t)(h + 1));
  retag(&x, h + 1, &k);
  expect_roundtrip(k1, &x, pt, sizeof(pt), NULL);
  expect_integrity(both, &x, 1, "recipient 0 of 257 bytes");
  free(x.p);
  OPENSSL_cleanse(&k, sizeof(k));
  free(env.p);
  docstore_keyring_free(both);
  docstore_keyring_free(k1);
}

/* env (compressed, verified by kr) with its segments replaced by those of
 * `stream`, sealed under the same keys: what a writer holding the data
 * key could produce. */
static bytes with_stream(docstore_keyring *kr, const bytes *env,
                         const uint8_t *stream, size_t n) {
  size_t h = header_len(env);
  docstore__v2_keys k = unlock_keys(kr, env);
  bytes r = {0};
  bytes_add(&r, env->p, h);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  assert_non_null(c);
  uint8_t seg[SW], nonce[12];
  size_t off = 0;
  uint32_t i = 0;
  for (;;) {
    size_t len = min_sz(SEG, n - off);
    int last = off + len == n, outl = 0;
    docstore__v2_nonce(nonce, env->p + 49, i, last);
    assert_int_equal(
        EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k.seg, nonce), 1);
    if (len)
      assert_int_equal(EVP_EncryptUpdate(c, seg, &outl, stream + off, (int)len),
                       1);
    assert_int_equal(EVP_EncryptFinal_ex(c, seg + len, &outl), 1);
    assert_int_equal(
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, seg + len), 1);
    bytes_add(&r, seg, len + 16);
    off += len;
    i++;
    if (last)
      break;
  }
  EVP_CIPHER_CTX_free(c);
  OPENSSL_cleanse(&k, sizeof(k));
  return r;
}

/* The compressed stream must be exactly one zstd frame, beginning with its
 * magic; anything else, once the segments verified, is an integrity
 * failure (FORMAT.md section 21, step 10; section 24). */
static void test_zstd_stream_rules(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  size_t n = 3 * SEG;
  uint8_t *pt = th_random(n);
  memset(pt + SEG, 'a', SEG); /* something to compress */
  docstore_seal_options o = opts(SEG, 3);
  bytes env = seal(kr, pt, 10, &o);
  size_t cap = ZSTD_compressBound(n);
  uint8_t *frame = malloc(cap);
  assert_non_null(frame);
  size_t fl = ZSTD_compress(frame, cap, pt, n, 3);
  assert_false(ZSTD_isError(fl));
  assert_true(fl > SEG); /* the frame spans segments */
  static const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 4,   0,
                                      0,    0,    's',  'k',  'i', 'p'};
  uint8_t *buf = malloc(fl + SEG + 16);
  assert_non_null(buf);
  bytes out;

  /* The helper's own output opens when the stream is a frame. */
  bytes r = with_stream(kr, &env, frame, fl);
  expect_roundtrip(kr, &r, pt, n, NULL);
  for (size_t chunk = 1; chunk <= 4096; chunk *= 64) {
    assert_int_equal(open_chunked(kr, r.p, r.n, NULL, chunk, 1000, &out), 0);
    assert_int_equal(out.n, n);
    free(out.p);
  }
  free(r.p);

  struct {
    const char *what;
    size_t len;
  } cases[] = {{"empty", 0},
               {"3 bytes of magic", 3},
               {"skippable frame first", 0},
               {"skippable frame only", 0},
               {"magic, then not a frame", 0},
               {"frame then a byte", 0},
               {"frame then a skippable frame", 0},
               {"frame cut short", 0},
               {"frame twice", 0}};
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    size_t len = 0;
    switch (c) {
    case 0:
      break;
    case 1:
      memcpy(buf, frame, 3);
      len = 3;
      break;
    case 2:
      memcpy(buf, skippable, sizeof(skippable));
      memcpy(buf + sizeof(skippable), frame, fl);
      len = sizeof(skippable) + fl;
      break;
    case 3:
      memcpy(buf, skippable, sizeof(skippable));
      len = sizeof(skippable);
      break;
    case 4: /* the magic, then no valid frame header */
      memcpy(buf, frame, 4);
      memset(buf + 4, 0xff, SEG + 3);
      len = SEG + 7;
      break;
    case 5:
      memcpy(buf, frame, fl);
      buf[fl] = 0;
      len = fl + 1;
      break;
    case 6:
      memcpy(buf, frame, fl);
      memcpy(buf + fl, skippable, sizeof(skippable));
      len = fl + sizeof(skippable);
      break;
    case 7:
      memcpy(buf, frame, fl - 1);
      len = fl - 1;
      break;
    case 8: {
      uint8_t tiny[64];
      size_t tl = ZSTD_compress(tiny, sizeof(tiny), "ab", 2, 1);
      assert_false(ZSTD_isError(tl));
      memcpy(buf, tiny, tl);
      memcpy(buf + tl, tiny, tl);
      len = 2 * tl;
      break;
    }
    }
    r = with_stream(kr, &env, buf, len);
    expect_integrity(kr, &r, 0, cases[c].what);
    free(r.p);
  }
  free(buf);
  free(frame);
  free(env.p);
  free(pt);
  docstore_keyring_free(kr);
}

/* docstore__opener_seek: from segment k, with the object size known or
 * not, gives the same bytes as the full read from k * SEG on. */
static void test_random_access(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  size_t n = 5 * SEG + 123;
  uint8_t *pt = th_random(n);
  docstore_seal_options o = opts(SEG, 0);
  bytes env = seal(kr, pt, n, &o);
  size_t h = header_len(&env);
  for (int known = 0; known <= 1; known++)
    for (uint64_t k = 0; k <= 5; k++) {
      docstore_opener *op = NULL;
      uint8_t *buf = malloc(n);
      size_t got, used, total = 0;
      assert_int_equal(docstore_opener_new(&op, kr, NULL), 0);
      assert_int_equal(
          docstore_opener_update(op, buf, n, &got, env.p, h, &used), 0);
      assert_int_equal(used, h);
      uint64_t hl;
      uint32_t seg;
      int comp;
      assert_int_equal(docstore__opener_layout(op, &hl, &seg, &comp), 0);
      assert_int_equal(hl, h);
      assert_int_equal(seg, SEG);
      assert_int_equal(comp, 0);
      assert_int_equal(docstore__opener_seek(op, k, known ? env.n : UINT64_MAX),
                       0);
      size_t off = h + k * SW;
      while (off < env.n) {
        size_t chunk = min_sz(1000, env.n - off);
        assert_int_equal(docstore_opener_update(op, buf + total, n - total,
                                                &got, env.p + off, chunk,
                                                &used),
                         0);
        off += used;
        total += got;
      }
      int rc;
      do {
        rc = docstore_opener_finish(op, buf + total, n - total, &got);
        total += got;
      } while (rc == 1);
      assert_int_equal(rc, 0);
      assert_int_equal(total, n - k * SEG);
      assert_memory_equal(buf, pt + k * SEG, total);
      docstore_opener_free(op);
      free(buf);
    }
  /* Seek errors: beyond the last segment; impossible object size. */
  docstore_opener *op = NULL;
  uint8_t b[16];
  size_t got, used;
  assert_int_equal(docstore_opener_new(&op, kr, NULL), 0);
  assert_int_equal(docstore__opener_seek(op, 0, UINT64_MAX), DOCSTORE_EINVAL);
  assert_int_equal(docstore_opener_update(op, b, 0, &got, env.p, h, &used), 0);
  assert_int_equal(docstore__opener_seek(op, 6, env.n), DOCSTORE_EINVAL);
  docstore_opener_free(op);
  assert_int_equal(docstore_opener_new(&op, kr, NULL), 0);
  assert_int_equal(docstore_opener_update(op, b, 0, &got, env.p, h, &used), 0);
  assert_int_equal(docstore__opener_seek(op, 0, h + 5 * SW + 16),
                   DOCSTORE_EINTEGRITY);
  docstore_opener_free(op);
  /* Known size: the last segment with data after it. */
  assert_int_equal(docstore_opener_new(&op, kr, NULL), 0);
  assert_int_equal(docstore_opener_update(op, b, 0, &got, env.p, h, &used), 0);
  assert_int_equal(docstore__opener_seek(op, 5, env.n), 0);
  uint8_t *tail = malloc(env.n - h - 5 * SW + 1);
  memcpy(tail, env.p + h + 5 * SW, env.n - h - 5 * SW);
  tail[env.n - h - 5 * SW] = 0;
  uint8_t *sink = malloc(SEG);
  size_t left = env.n - h - 5 * SW + 1, pos = 0;
  int rc = 0;
  while (left > 0 && rc == 0) {
    rc = docstore_opener_update(op, sink, SEG, &got, tail + pos, left, &used);
    pos += used;
    left -= used;
  }
  assert_int_equal(rc, DOCSTORE_EINTEGRITY);
  docstore_opener_free(op);
  free(tail);
  free(sink);
  free(env.p);
  free(pt);
  docstore_keyring_free(kr);
}

/* Memory is O(segment), not O(document): 32 MiB streamed through a
 * sealer straight into an opener, library memory counted through the
 * allocator's test hooks (a public block's growth counted in full: an
 * upper bound). */
static size_t live_bytes, peak_bytes;

static int count_alloc(size_t n, int new_block) {
  (void)new_block;
  live_bytes += n;
  if (live_bytes > peak_bytes)
    peak_bytes = live_bytes;
  return 0;
}

static void count_release(const void *p, size_t n, unsigned int flags) {
  (void)p;
  (void)flags;
  live_bytes = n > live_bytes ? 0 : live_bytes - n;
}

static void test_memory_bound(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  const size_t total = (size_t)32 << 20, buf = (size_t)1 << 20;
  uint8_t *pt = th_random(buf), *ct = malloc(buf), *back = malloc(buf);
  docstore_sealer *s = NULL;
  docstore_opener *o = NULL;
  size_t fed = 0, opened = 0, got, used, ct_len;
  int sealed = 0, rc = 1;
  assert_non_null(ct);
  assert_non_null(back);
  live_bytes = peak_bytes = 0;
  docstore__alloc_fail_hook = count_alloc;
  docstore__alloc_release_hook = count_release;
  assert_int_equal(docstore_sealer_new(&s, kr, NULL), 0);
  assert_int_equal(docstore_opener_new(&o, kr, NULL), 0);
  while (!sealed) {
    if (fed < total) {
      size_t at = fed % buf;
      assert_int_equal(docstore_sealer_update(s, ct, buf, &ct_len, pt + at,
                                              min_sz(buf - at, total - fed),
                                              &used),
                       0);
      fed += used;
    } else {
      rc = docstore_sealer_finish(s, ct, buf, &ct_len);
      assert_true(rc == 0 || rc == 1);
      sealed = rc == 0;
    }
    for (size_t off = 0;;) {
      int fin = off == ct_len;
      if (fin && !sealed)
        break;
      if (!fin) {
        assert_int_equal(docstore_opener_update(o, back, buf, &got, ct + off,
                                                ct_len - off, &used),
                         0);
        off += used;
      } else {
        rc = docstore_opener_finish(o, back, buf, &got);
        assert_true(rc == 0 || rc == 1);
      }
      /* The plaintext is the 1 MiB block again and again. */
      for (size_t k = 0; k < got; k += 511)
        assert_int_equal(back[k], pt[(opened + k) % buf]);
      opened += got;
      if (fin && rc == 0)
        break;
    }
  }
  docstore__alloc_fail_hook = NULL;
  docstore__alloc_release_hook = NULL;
  assert_int_equal(opened, total);
  /* Two segments (64 KiB each), the header and small state. */
  print_message("  32 MiB streamed: peak library memory %zu bytes\n",
                peak_bytes);
  assert_true(peak_bytes < 512 * 1024);
  docstore_sealer_free(s);
  docstore_opener_free(o);
  free(pt);
  free(ct);
  free(back);
  docstore_keyring_free(kr);
}

/* v1 and legacy input through the opener (buffered); v1 through the
 * sealer. */
static void test_v1_through_streams(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t *pt = th_random(5000);
  char *v1 = NULL;
  size_t v1_len = 0;
  assert_int_equal(docstore_envelope_seal(&v1, &v1_len, kr, pt, 5000, &DOC), 0);
  bytes out;
  assert_int_equal(
      open_chunked(kr, (const uint8_t *)v1, v1_len, &DOC, 100, 64, &out), 0);
  assert_int_equal(out.n, 5000);
  assert_memory_equal(out.p, pt, 5000);
  free(out.p);
  docstore_doc_id other = {"zzz", NULL};
  assert_int_equal(open_all(kr, (const uint8_t *)v1, v1_len, &other, &out),
                   DOCSTORE_EINTEGRITY);
  free(out.p);
  v1[v1_len / 2] ^= 1;
  assert_true(open_all(kr, (const uint8_t *)v1, v1_len, NULL, &out) < 0);
  free(out.p);
  docstore_free(v1);
  /* The sealer in v1 mode writes JSON the v1 reader opens. */
  docstore_seal_options o = DOCSTORE_SEAL_OPTIONS_INIT;
  o.format = DOCSTORE_ENVELOPE_V1;
  o.doc = &DOC;
  bytes env = seal_chunked(kr, pt, 5000, &o, 999, 100);
  assert_int_equal(env.p[0], '{');
  expect_roundtrip(kr, &env, pt, 5000, &DOC);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(
      docstore_envelope_info_get(&info, (const char *)env.p, env.n), 0);
  assert_int_equal(info.format, DOCSTORE_ENVELOPE_V1);
  assert_int_equal(info.recipients_count, 1);
  assert_int_equal(info.segment_size, 0);
  docstore_envelope_info_clear(&info);
  free(env.p);
  o.segment_size = SEG;
  docstore_sealer *s = NULL;
  assert_int_equal(docstore_sealer_new(&s, kr, &o), DOCSTORE_EINVAL);
  /* Not an envelope at all; empty input. */
  assert_int_equal(open_all(kr, (const uint8_t *)"hello", 5, NULL, &out),
                   DOCSTORE_EFORMAT);
  free(out.p);
  assert_int_equal(open_all(kr, (const uint8_t *)"", 0, NULL, &out),
                   DOCSTORE_EFORMAT);
  free(out.p);
  free(pt);
  docstore_keyring_free(kr);
}

static void test_api_misuse(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  docstore_sealer *s = NULL;
  docstore_opener *o = NULL;
  uint8_t buf[8];
  size_t got = 9, used = 9;
  assert_int_equal(docstore_sealer_new(NULL, kr, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_sealer_new(&s, NULL, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_opener_new(&o, NULL, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_sealer_update(NULL, buf, 8, &got, buf, 1, &used),
                   DOCSTORE_EINVAL);
  assert_int_equal(got, 0);
  assert_int_equal(used, 0);
  assert_string_equal(docstore_sealer_errmsg(NULL), "sealer is NULL");
  assert_string_equal(docstore_opener_errmsg(NULL), "opener is NULL");
  assert_int_equal(docstore_sealer_new(&s, kr, NULL), 0);
  assert_int_equal(docstore_sealer_update(s, NULL, 8, &got, buf, 1, &used),
                   DOCSTORE_EINVAL);
  docstore_sealer_free(s);
  assert_int_equal(docstore_sealer_new(&s, kr, NULL), 0);
  int rc;
  do
    rc = docstore_sealer_finish(s, buf, sizeof(buf), &got);
  while (rc == 1);
  assert_int_equal(rc, 0);
  assert_int_equal(docstore_sealer_update(s, buf, 8, &got, buf, 1, &used),
                   DOCSTORE_EINVAL);
  docstore_sealer_free(s);
  docstore_sealer_free(NULL);
  docstore_opener_free(NULL);
  /* Info before the header. */
  assert_int_equal(docstore_opener_new(&o, kr, NULL), 0);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_opener_info(o, &info), DOCSTORE_EINVAL);
  docstore_opener_free(o);
  /* Header size. */
  size_t h = 1;
  assert_int_equal(docstore_envelope_header_size(&h, buf, 3), DOCSTORE_EINVAL);
  assert_int_equal(docstore_envelope_header_size(
                       &h, (const uint8_t *)"{\"format\":\"docstore-e", 16),
                   DOCSTORE_EFORMAT);
  assert_int_equal(h, 0);
  docstore_keyring_free(kr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_sizes),
      cmocka_unit_test(test_default_options_and_segment_sizes),
      cmocka_unit_test(test_byte_at_a_time),
      cmocka_unit_test(test_multi_recipient),
      cmocka_unit_test(test_rewrap_header),
      cmocka_unit_test(test_identity),
      cmocka_unit_test(test_tamper_header),
      cmocka_unit_test(test_tamper_segments),
      cmocka_unit_test(test_key_commitment),
      cmocka_unit_test(test_unknown_recipient_kind),
      cmocka_unit_test(test_wrapped_length_bounds),
      cmocka_unit_test(test_first_usable_recipient_only),
      cmocka_unit_test(test_zstd_stream_rules),
      cmocka_unit_test(test_random_access),
      cmocka_unit_test(test_memory_bound),
      cmocka_unit_test(test_v1_through_streams),
      cmocka_unit_test(test_api_misuse),
  };
  return cmocka_run_group_tests(tests, NULL, th_group_teardown);
}
