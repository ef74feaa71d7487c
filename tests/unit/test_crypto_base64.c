/*
 * Unit tests: the strict base64 codec of the envelope layer
 * (src/crypto/base64.c), against RFC 4648 vectors and OpenSSL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/crypto_internal.h"

static int decode(const char *s, uint8_t *out, size_t *n) {
  return docstore__b64_decode(out, n, s, strlen(s), 1);
}

static void test_rfc4648_vectors(void **state) {
  (void)state;
  static const struct {
    const char *plain, *enc;
  } v[] = {{"", ""},
           {"f", "Zg=="},
           {"fo", "Zm8="},
           {"foo", "Zm9v"},
           {"foob", "Zm9vYg=="},
           {"fooba", "Zm9vYmE="},
           {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char enc[16];
    size_t len;
    size_t pn = strlen(v[i].plain);
    assert_int_equal(docstore__b64_len(&len, pn), 0);
    assert_int_equal(len, strlen(v[i].enc));
    docstore__b64_encode(enc, (const uint8_t *)v[i].plain, pn);
    assert_string_equal(enc, v[i].enc);

    uint8_t out[16];
    size_t n = 99;
    assert_int_equal(docstore__b64_decoded_len(&n, v[i].enc, len), 0);
    assert_int_equal(n, pn);
    assert_int_equal(decode(v[i].enc, out, &n), 0);
    assert_int_equal(n, pn);
    assert_memory_equal(out, v[i].plain, pn);
    /* Validation only (out NULL) gives the same answer. */
    assert_int_equal(decode(v[i].enc, NULL, &n), 0);
    assert_int_equal(n, pn);
  }
}

static void test_strictness(void **state) {
  (void)state;
  static const char *bad[] = {
      "Zg",       /* no padding */
      "Zg=",      /* short padding */
      "Zg===",    /* length 5 */
      "Z===",     /* three pads */
      "====",     /* only padding */
      "Zh==",     /* unused bits set (canonical is Zg==) */
      "Zm9=",     /* unused bits set (canonical is Zm8=) */
      "Zg==Zg==", /* padding in the middle */
      "Zm9v\n",   /* whitespace */
      " Zm9v",    /* leading whitespace */
      "Zm-v",     /* URL-safe alphabet */
      "Zm_v",     /* URL-safe alphabet */
      "Zm9\x80",  /* high byte */
      "Zm=v",     /* '=' followed by data */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint8_t out[16];
    size_t n = 7;
    assert_int_equal(decode(bad[i], out, &n), DOCSTORE_EFORMAT);
    assert_int_equal(n, 0);
  }
  size_t n;
  assert_int_equal(docstore__b64_decoded_len(&n, "Zg=", 3), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__b64_decoded_len(&n, "Z===", 4), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__b64_decoded_len(&n, "====", 4), DOCSTORE_EFORMAT);
}

static void test_slices(void **state) {
  (void)state;
  /* Not the last slice: padding is refused there. */
  uint8_t out[16];
  size_t n;
  assert_int_equal(docstore__b64_decode(out, &n, "Zg==", 4, 0),
                   DOCSTORE_EFORMAT);
  assert_int_equal(docstore__b64_decode(out, &n, "Zm9vYmFy", 8, 0), 0);
  assert_int_equal(n, 6);
  assert_memory_equal(out, "foobar", 6);

  /* Random data decoded in slices equals OpenSSL's encoding input. */
  size_t len = 100000;
  uint8_t *data = malloc(len);
  assert_non_null(data);
  assert_int_equal(RAND_bytes(data, (int)len), 1);
  size_t enc_len;
  assert_int_equal(docstore__b64_len(&enc_len, len), 0);
  char *enc = malloc(enc_len + 1);
  char *ref = malloc(enc_len + 1);
  assert_non_null(enc);
  assert_non_null(ref);
  docstore__b64_encode(enc, data, len);
  assert_int_equal(EVP_EncodeBlock((unsigned char *)ref, data, (int)len),
                   (int)enc_len);
  assert_string_equal(enc, ref);

  uint8_t *back = malloc(len);
  assert_non_null(back);
  size_t off = 0, pos = 0;
  while (pos < enc_len) {
    size_t take = enc_len - pos < 4096 ? enc_len - pos : 4096;
    assert_int_equal(docstore__b64_decode(back + off, &n, enc + pos, take,
                                          pos + take == enc_len),
                     0);
    off += n;
    pos += take;
  }
  assert_int_equal(off, len);
  assert_memory_equal(back, data, len);
  free(back);
  free(enc);
  free(ref);
  free(data);
}

/* The span of alphabet characters, against a plain reference: every byte
 * value at every position of a 40-character run (the vector steps and the
 * table's tail), and random mixes. */
static size_t ref_span(const unsigned char *q, size_t n) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  while (i < n && q[i] && strchr(abc, q[i]))
    i++;
  return i;
}

static void test_span(void **state) {
  (void)state;
  unsigned char t[64];
  for (size_t k = 0; k < 40; k++)
    for (unsigned c = 0; c < 256; c++) {
      for (size_t j = 0; j < 40; j++)
        t[j] = (unsigned char)"QUJDRGVmZ2g0NTY3K/+9ab"[j % 22];
      t[k] = (unsigned char)c;
      assert_int_equal(docstore__b64_span((const char *)t, 40),
                       ref_span(t, 40));
    }
  uint32_t x = 12345;
  for (int round = 0; round < 20000; round++) {
    size_t n = (size_t)(round % 64);
    for (size_t j = 0; j < n; j++) {
      x = x * 1103515245u + 12345u;
      unsigned r = x >> 16;
      t[j] = (r & 63) == 0 ? (unsigned char)(r >> 8)
                           : (unsigned char)"ABCxyz019+/"[r % 11];
    }
    assert_int_equal(docstore__b64_span((const char *)t, n), ref_span(t, n));
  }
}

static void test_append(void **state) {
  (void)state;
  docstore__buf b = DOCSTORE__BUF_INIT;
  assert_int_equal(docstore__buf_puts(&b, "x:"), 0);
  assert_int_equal(docstore__b64_append(&b, (const uint8_t *)"foob", 4), 0);
  assert_int_equal(docstore__b64_append(&b, (const uint8_t *)"", 0), 0);
  assert_int_equal(b.len, 10);
  assert_string_equal((char *)b.data, "x:Zm9vYg==");
  docstore__buf_free(&b);

  size_t n;
  assert_int_equal(docstore__b64_len(&n, SIZE_MAX), DOCSTORE_ETOOBIG);
  assert_int_equal(n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4648_vectors),
      cmocka_unit_test(test_strictness),
      cmocka_unit_test(test_slices),
      cmocka_unit_test(test_append),
      cmocka_unit_test(test_span),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
