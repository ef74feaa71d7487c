/*
 * Unit tests: envelope seal / open / rewrap / info, identity binding,
 * tampering, parser negatives, legacy (PyCryptodome-style) envelopes and
 * concurrent use of one keyring.  Keys are generated at test time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "crypto/crypto_internal.h"
#include "docstore/crypto.h"
#include "helpers/crypto_helpers.h"

static const docstore_doc_id DOC = {"123", "456"};

/* ------------------------------------------------------------- helpers */

/* noinline: once inlined, gcc's -Wdangling-pointer (Release) takes
 * pointers into the returned envelope for pointers to the local `env`. */
__attribute__((noinline)) static char *seal(docstore_keyring *kr,
                                            const void *pt, size_t n,
                                            const docstore_doc_id *doc) {
  char *env = NULL;
  size_t len = 0;
  assert_int_equal(docstore_envelope_seal(&env, &len, kr, pt, n, doc), 0);
  assert_non_null(env);
  assert_int_equal(strlen(env), len);
  return env;
}

/* Open and return the code; on success compare with want/want_len. */
static int open_rc(docstore_keyring *kr, const char *env,
                   const docstore_doc_id *expect, const void *want,
                   size_t want_len) {
  uint8_t *out = (uint8_t *)"sentinel";
  size_t out_len = 99;
  int rc = docstore_envelope_open(&out, &out_len, kr, env, strlen(env), expect);
  if (rc == 0) {
    assert_non_null(out);
    assert_int_equal(out_len, want_len);
    if (want_len)
      assert_memory_equal(out, want, want_len);
    docstore_free(out);
  } else {
    /* No plaintext is released on failure. */
    assert_null(out);
    assert_int_equal(out_len, 0);
    assert_int_equal(docstore_last_errcode(), rc);
  }
  return rc;
}

static char *quoted(const char *s) {
  size_t n = strlen(s);
  char *q = malloc(n + 3);
  assert_non_null(q);
  q[0] = '"';
  memcpy(q + 1, s, n);
  q[n + 1] = '"';
  q[n + 2] = '\0';
  return q;
}

/* Set a member to a JSON string value. */
static char *set_str(const char *env, const char *name, const char *value) {
  char *q = quoted(value);
  char *out = th_json_set(env, name, q);
  free(q);
  return out;
}

/* XOR one byte (index from the end when negative) of a base64 member. */
static char *flip_b64(const char *env, const char *name, long index,
                      uint8_t mask) {
  char *s = th_json_get_string(env, name);
  assert_non_null(s);
  size_t n;
  uint8_t *bytes = th_unb64(s, &n);
  assert_true(n > 0);
  size_t i = index < 0 ? n - (size_t)(-index) : (size_t)index;
  bytes[i] ^= mask;
  char *b = th_b64(bytes, n);
  char *out = set_str(env, name, b);
  free(b);
  free(bytes);
  free(s);
  return out;
}

/* Replace a base64 member by the encoding of n fresh bytes. */
static char *set_b64_len(const char *env, const char *name, size_t n) {
  uint8_t *bytes = th_random(n);
  char *b = th_b64(bytes, n);
  char *out = set_str(env, name, b);
  free(b);
  free(bytes);
  return out;
}

/* A legacy envelope as the Python backend wrote it (PyCryptodome defaults:
 * PKCS1_OAEP with SHA-1/MGF1-SHA-1, AES-GCM with a 16-byte nonce, 16-byte
 * tag, no associated data). */
static char *make_legacy(int key, const uint8_t *pt, size_t n, size_t key_len,
                         size_t nonce_len) {
  uint8_t session[32], nonce[16], tag[16], wrapped[512];
  assert_int_equal(RAND_bytes(session, (int)key_len), 1);
  assert_int_equal(RAND_bytes(nonce, (int)nonce_len), 1);

  BIO *bio = BIO_new_mem_buf(th_public_pem(key), -1);
  EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  assert_non_null(pkey);
  EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  assert_int_equal(EVP_PKEY_encrypt_init(pctx), 1);
  assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0);
  assert_true(EVP_PKEY_CTX_set_rsa_oaep_md_name(pctx, "SHA1", NULL) > 0);
  assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA1", NULL) > 0);
  size_t wlen = sizeof(wrapped);
  assert_int_equal(EVP_PKEY_encrypt(pctx, wrapped, &wlen, session, key_len), 1);

  const EVP_CIPHER *c = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  uint8_t *ct = th_random(n);
  int outl = 0;
  assert_int_equal(EVP_EncryptInit_ex(ctx, c, NULL, NULL, NULL), 1);
  assert_int_equal(
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL),
      1);
  assert_int_equal(EVP_EncryptInit_ex(ctx, NULL, NULL, session, nonce), 1);
  if (n)
    assert_int_equal(EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)n), 1);
  assert_int_equal(EVP_EncryptFinal_ex(ctx, tag, &outl), 1);
  assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);

  cJSON *o = cJSON_CreateObject();
  char *s;
  s = th_b64(wrapped, wlen);
  cJSON_AddStringToObject(o, "enc_session_key", s);
  free(s);
  s = th_b64(nonce, nonce_len);
  cJSON_AddStringToObject(o, "nonce", s);
  free(s);
  s = th_b64(tag, 16);
  cJSON_AddStringToObject(o, "tag", s);
  free(s);
  s = th_b64(ct, n);
  cJSON_AddStringToObject(o, "ciphertext", s);
  free(s);
  char *out = cJSON_Print(o); /* formatted, like json.dumps(indent=...) */
  cJSON_Delete(o);
  free(ct);
  EVP_CIPHER_CTX_free(ctx);
  EVP_PKEY_CTX_free(pctx);
  EVP_PKEY_free(pkey);
  BIO_free(bio);
  return out;
}

static char *rewrap(docstore_keyring *kr, const char *env, const char *kid) {
  char *out = NULL;
  size_t len = 0;
  assert_int_equal(
      docstore_envelope_rewrap(&out, &len, kr, env, strlen(env), kid), 0);
  assert_int_equal(strlen(out), len);
  return out;
}

static void assert_same_member(const char *a, const char *b, const char *m) {
  char *x = th_json_get_string(a, m), *y = th_json_get_string(b, m);
  assert_non_null(x);
  assert_non_null(y);
  assert_string_equal(x, y);
  free(x);
  free(y);
}

/* ------------------------------------------------------------- round trips */

static void test_roundtrip_sizes(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 4096, 1u << 20};
  docstore_keyring *kr = th_keyring(1, 1);
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uint8_t *pt = th_random(sizes[i]);
    char *env = seal(kr, pt, sizes[i], &DOC);
    assert_int_equal(open_rc(kr, env, &DOC, pt, sizes[i]), 0);
    assert_int_equal(open_rc(kr, env, NULL, pt, sizes[i]), 0);
    docstore_free(env);
    free(pt);
  }
  /* NULL plaintext with length 0 is an empty document. */
  char *env = seal(kr, NULL, 0, NULL);
  uint8_t *out = NULL;
  size_t out_len = 5;
  assert_int_equal(
      docstore_envelope_open(&out, &out_len, kr, env, strlen(env), NULL), 0);
  assert_non_null(out);
  assert_int_equal(out_len, 0);
  docstore_free(out);
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_envelope_shape(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 0); /* sealing needs no private key */
  char *env = seal(kr, "hello", 5, &DOC);
  static const char prefix[] =
      "{\"format\":\"docstore-envelope\",\"version\":1,"
      "\"alg\":\"AES-256-GCM\",\"key_alg\":\"RSA-OAEP-256\",\"kid\":\"sha256:";
  assert_memory_equal(env, prefix, sizeof(prefix) - 1);
  assert_null(strpbrk(env, " \n\t\r"));
  cJSON *o = cJSON_Parse(env);
  assert_non_null(o);
  assert_int_equal(cJSON_GetArraySize(o), 11);
  assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "version")->valueint, 1);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "kid")->valuestring,
                      th_kid(0));
  assert_string_equal(
      cJSON_GetObjectItemCaseSensitive(o, "file_id")->valuestring, "123");
  assert_string_equal(
      cJSON_GetObjectItemCaseSensitive(o, "user_id")->valuestring, "456");
  static const struct {
    const char *name;
    size_t len;
  } b64[] = {
      {"wrapped_key", 256}, {"nonce", 12}, {"tag", 16}, {"ciphertext", 5}};
  for (size_t i = 0; i < 4; i++) {
    size_t n;
    uint8_t *p = th_unb64(
        cJSON_GetObjectItemCaseSensitive(o, b64[i].name)->valuestring, &n);
    assert_int_equal(n, b64[i].len);
    free(p);
  }
  cJSON_Delete(o);
  docstore_free(env);

  /* A system document: user_id null.  No identity: both null. */
  docstore_doc_id sys = {"77", NULL};
  env = seal(kr, "x", 1, &sys);
  assert_non_null(strstr(env, "\"file_id\":\"77\",\"user_id\":null,"));
  docstore_free(env);
  env = seal(kr, "x", 1, NULL);
  assert_non_null(strstr(env, "\"file_id\":null,\"user_id\":null,"));
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* The deterministic part of FORMAT.md's worked example. */
static void test_format_doc_vector(void **state) {
  (void)state;
  uint8_t key[32], nonce[12];
  for (int i = 0; i < 32; i++)
    key[i] = (uint8_t)i;
  for (int i = 0; i < 12; i++)
    nonce[i] = (uint8_t)(0xA0 + i);
  docstore_keyring *kr = th_keyring(1, 1);
  const docstore__key *k = docstore__keyring_default(kr);
  char *env = NULL;
  size_t len = 0;
  assert_int_equal(docstore__envelope_seal_with(
                       &env, &len, k, key, nonce,
                       (const uint8_t *)"hello, docstore", 15, &DOC),
                   0);
  char *s = th_json_get_string(env, "nonce");
  assert_string_equal(s, "oKGio6Slpqeoqaqr");
  free(s);
  s = th_json_get_string(env, "tag");
  assert_string_equal(s, "yAowZHrefaSW1ibwjZhppg==");
  free(s);
  s = th_json_get_string(env, "ciphertext");
  assert_string_equal(s, "jn0QQSrnItsNBvSnaAil");
  free(s);
  assert_int_equal(open_rc(kr, env, &DOC, "hello, docstore", 15), 0);
  docstore_free(env);

  char aad[DOCSTORE__AAD_MAX];
  size_t aad_len;
  docstore__aad_build(aad, &aad_len, "123", "456");
  assert_string_equal(aad, "docstore-envelope\nversion=1\nalg=AES-256-GCM\n"
                           "file_id=123\nuser_id=456\n");
  assert_int_equal(aad_len, strlen(aad));
  docstore__aad_build(aad, &aad_len, "7", NULL);
  assert_string_equal(aad, "docstore-envelope\nversion=1\nalg=AES-256-GCM\n"
                           "file_id=7\nuser_id=\n");
  docstore__aad_build(aad, &aad_len, NULL, NULL);
  assert_string_equal(aad, "docstore-envelope\nversion=1\nalg=AES-256-GCM\n"
                           "file_id=\nuser_id=\n");
  docstore_keyring_free(kr);
}

/* ------------------------------------------------------------- identity */

static void test_identity_bound(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  docstore_doc_id other_file = {"124", "456"};
  docstore_doc_id other_user = {"123", "457"};
  docstore_doc_id system = {"123", NULL};
  assert_int_equal(open_rc(kr, env, &other_file, NULL, 0), DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(docstore_last_errmsg(), "file_id"));
  assert_int_equal(open_rc(kr, env, &other_user, NULL, 0), DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(docstore_last_errmsg(), "user_id"));
  assert_int_equal(open_rc(kr, env, &system, NULL, 0), DOCSTORE_EINTEGRITY);
  assert_int_equal(open_rc(kr, env, &DOC, "doc", 3), 0);
  docstore_free(env);

  /* A system document is not a user's document, and vice versa. */
  env = seal(kr, "doc", 3, &system);
  assert_int_equal(open_rc(kr, env, &DOC, NULL, 0), DOCSTORE_EINTEGRITY);
  assert_int_equal(open_rc(kr, env, &system, "doc", 3), 0);
  docstore_free(env);

  /* An unbound envelope is refused when a document is expected. */
  env = seal(kr, "doc", 3, NULL);
  assert_int_equal(open_rc(kr, env, &DOC, NULL, 0), DOCSTORE_EINTEGRITY);
  assert_int_equal(open_rc(kr, env, NULL, "doc", 3), 0);
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_identity_validation(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = NULL;
  size_t len;
  char long_id[66];
  memset(long_id, 'a', 65);
  long_id[65] = '\0';
  const docstore_doc_id bad[] = {
      {NULL, NULL},   {"", NULL},  {long_id, NULL}, {"a b", NULL},
      {"../x", NULL}, {"1", ""},   {"1", "x/y"},    {"1\n", NULL},
      {"1", long_id}, {"ü", NULL},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(docstore_envelope_seal(&env, &len, kr,
                                            (const uint8_t *)"x", 1, &bad[i]),
                     DOCSTORE_EINVAL);
    assert_null(env);
  }
  /* 64 characters and the whole alphabet are fine. */
  long_id[64] = '\0';
  docstore_doc_id ok = {long_id, "AZaz09_-"};
  env = seal(kr, "x", 1, &ok);
  assert_int_equal(open_rc(kr, env, &ok, "x", 1), 0);
  assert_int_equal(open_rc(kr, env, &bad[3], NULL, 0), DOCSTORE_EINVAL);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* ------------------------------------------------------------- tampering */

static void test_tamper_crypto_fields(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "a secret document", 17, &DOC);
  static const struct {
    const char *name;
    long index;
  } cases[] = {{"ciphertext", 0},  {"ciphertext", -1},  {"tag", 0},
               {"tag", -1},        {"nonce", 0},        {"nonce", -1},
               {"wrapped_key", 0}, {"wrapped_key", -1}, {"wrapped_key", 100}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *t = flip_b64(env, cases[i].name, cases[i].index, 0x01);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
    free(t);
  }
  /* Ciphertext shortened or lengthened. */
  char *t = set_b64_len(env, "ciphertext", 16);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
  free(t);
  t = set_str(env, "ciphertext", "");
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
  free(t);
  /* Another valid wrapped key (for the right key pair, wrong AES key). */
  char *env2 = seal(kr, "a secret document", 17, &DOC);
  char *w = th_json_get_string(env2, "wrapped_key");
  t = set_str(env, "wrapped_key", w);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
  free(t);
  free(w);
  docstore_free(env2);
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_tamper_header_fields(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(3, 3);
  char *env = seal(kr, "doc", 3, &DOC);
  static const struct {
    const char *name, *value;
    int rc;
  } cases[] = {
      /* authenticated by the tag */
      {"file_id", "\"999\"", DOCSTORE_EINTEGRITY},
      {"user_id", "\"999\"", DOCSTORE_EINTEGRITY},
      {"user_id", "null", DOCSTORE_EINTEGRITY},
      /* checked before any decryption */
      {"version", "2", DOCSTORE_EUNSUPPORTED},
      {"alg", "\"AES-128-GCM\"", DOCSTORE_EUNSUPPORTED},
      {"alg", "\"ChaCha20-Poly1305\"", DOCSTORE_EUNSUPPORTED},
      {"key_alg", "\"RSA-OAEP\"", DOCSTORE_EUNSUPPORTED},
      {"format", "\"docstore-envelop\"", DOCSTORE_EFORMAT},
      /* converted-legacy algorithm forbids identity fields */
      {"alg", "\"AES-GCM-NOAAD\"", DOCSTORE_EFORMAT},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *t = th_json_set(env, cases[i].name, cases[i].value);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), cases[i].rc);
    free(t);
  }
  /* Changing file_id is also caught with the matching expectation. */
  char *t = th_json_set(env, "file_id", "\"999\"");
  docstore_doc_id moved = {"999", "456"};
  assert_int_equal(open_rc(kr, t, &moved, NULL, 0), DOCSTORE_EINTEGRITY);
  free(t);
  /* kid of another key of the keyring: its OAEP fails. */
  char *q = quoted(th_kid(1));
  t = th_json_set(env, "kid", q);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
  free(t);
  free(q);
  /* kid of no key in the keyring. */
  t = set_str(env, "kid",
              "sha256:000000000000000000000000000000000000000000"
              "0000000000000000000000");
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EKEY);
  free(t);
  docstore_free(env);

  /* On an unbound envelope the alg may legally read "AES-GCM-NOAAD": the
   * associated data then differs and the tag catches it. */
  env = seal(kr, "doc", 3, NULL);
  t = th_json_set(env, "alg", "\"AES-GCM-NOAAD\"");
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
  free(t);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* ------------------------------------------------------------- parser */

static void test_truncated(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "truncate me", 11, &DOC);
  size_t len = strlen(env);
  for (size_t n = 0; n < len; n++) {
    uint8_t *out = NULL;
    size_t out_len;
    assert_int_equal(docstore_envelope_open(&out, &out_len, kr, env, n, NULL),
                     DOCSTORE_EFORMAT);
    assert_null(out);
  }
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_malformed_json(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  static const char *bad[] = {
      "{",
      "}",
      "[]",
      "[1,2]",
      "\"text\"",
      "42",
      "null",
      "true",
      "{\"format\":}",
      "{\"a\":1}",
      "{\"format\" \"docstore-envelope\"}",
      "   ",
      "{\"format\":\"docstore-envelope\",\"version\":1,}",
      /* A member name that never ends (the name reader must not use the
       * bounds of a string that failed): plain, base64-like, after an
       * escape, inside a \\u escape, then a raw control character. */
      "{\"form",
      "{\"QUJD==",
      "{\"a\\",
      "{\"a\\u00",
      "{\"a\x01\":1}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(open_rc(kr, bad[i], NULL, NULL, 0), DOCSTORE_EFORMAT);

  char *env = seal(kr, "doc", 3, &DOC);
  size_t len = strlen(env);
  char *buf = malloc(len + 64);
  assert_non_null(buf);
  /* Trailing whitespace is fine, trailing data is not. */
  snprintf(buf, len + 64, " \n%s \r\n\t", env);
  assert_int_equal(open_rc(kr, buf, NULL, "doc", 3), 0);
  snprintf(buf, len + 64, "%sx", env);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  snprintf(buf, len + 64, "%s{}", env);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  /* A NUL byte inside the given length. */
  memcpy(buf, env, len);
  buf[len] = '\0';
  buf[len + 1] = ' ';
  uint8_t *out = NULL;
  size_t out_len;
  assert_int_equal(
      docstore_envelope_open(&out, &out_len, kr, buf, len + 2, NULL),
      DOCSTORE_EFORMAT);
  /* Duplicate members. */
  snprintf(buf, len + 64, "{\"nonce\":\"AAAAAAAAAAAAAAAA\",%s", env + 1);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  assert_non_null(strstr(docstore_last_errmsg(), "duplicate"));
  snprintf(buf, len + 64, "{\"file_id\":\"123\",%s", env + 1);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  /* Unknown members are ignored. */
  char *t = th_json_set(env, "comment", "{\"nested\":[1,2,3]}");
  assert_int_equal(open_rc(kr, t, &DOC, "doc", 3), 0);
  free(t);
  free(buf);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* env with the first `from` replaced by `to` (malloc); *len: its length
 * (to may hold a NUL byte, so the length is given). */
static char *replaced(const char *env, const char *from, const char *to,
                      size_t to_len, size_t *len) {
  const char *at = strstr(env, from);
  assert_non_null(at);
  size_t head = (size_t)(at - env), from_len = strlen(from);
  size_t tail = strlen(at + from_len);
  char *out = malloc(head + to_len + tail + 1);
  assert_non_null(out);
  memcpy(out, env, head);
  memcpy(out + head, to, to_len);
  memcpy(out + head + to_len, at + from_len, tail + 1);
  *len = head + to_len + tail;
  return out;
}

/* cJSON cuts a string at a NUL: "123\u0000x" must not read as "123". */
static void test_nul_in_strings(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  static const struct {
    const char *to;
    size_t to_len;
  } bad[] = {
      {"\"file_id\":\"123\\u0000x\"", 22},
      {"\"file_id\":\"123\0x\"", 17},
      {"\"user_id\":\"456\\u0000\"", 21},
      {"\"format\":\"docstore-envelope\\u0000v2\"", 36},
      {"\"alg\":\"AES-256-GCM\\u0000\",\"comment\":\"\"", 38},
  };
  static const char *const from[] = {
      "\"file_id\":\"123\"", "\"file_id\":\"123\"", "\"user_id\":\"456\"",
      "\"format\":\"docstore-envelope\"", "\"alg\":\"AES-256-GCM\""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    size_t len;
    char *t = replaced(env, from[i], bad[i].to, bad[i].to_len, &len);
    uint8_t *out = NULL;
    size_t out_len = 0;
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    assert_int_equal(docstore_envelope_open(&out, &out_len, kr, t, len, &DOC),
                     DOCSTORE_EFORMAT);
    /* A raw NUL is a control character (not JSON), an escaped one is
     * refused by the NUL rule. */
    assert_non_null(strstr(docstore_last_errmsg(), i == 1 ? "control character"
                                                   : i == 3
                                                       ? "\"format\" is not"
                                                       : "NUL"));
    assert_int_equal(docstore_envelope_info_get(&info, t, len),
                     DOCSTORE_EFORMAT);
    free(t);
  }
  /* An escaped backslash before "u0000" is text, not a NUL. */
  size_t len;
  char *t =
      replaced(env, "\"alg\"", "\"comment\":\"\\\\u0000\",\"alg\"", 25, &len);
  assert_int_equal(open_rc(kr, t, &DOC, "doc", 3), 0);
  free(t);
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_missing_members(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  static const char *members[] = {
      "format",  "version",     "alg",   "key_alg", "kid",       "file_id",
      "user_id", "wrapped_key", "nonce", "tag",     "ciphertext"};
  for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
    char *t = th_json_set(env, members[i], NULL);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    assert_int_equal(docstore_envelope_info_get(&info, t, strlen(t)),
                     DOCSTORE_EFORMAT);
    free(t);
  }
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_wrong_types(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  static const char *strings[] = {"format", "alg",         "key_alg",
                                  "kid",    "wrapped_key", "nonce",
                                  "tag",    "ciphertext"};
  static const char *non_strings[] = {"5", "null", "true", "[]", "{}"};
  for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
    for (size_t j = 0; j < sizeof(non_strings) / sizeof(non_strings[0]); j++) {
      char *t = th_json_set(env, strings[i], non_strings[j]);
      assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
      free(t);
    }
  static const struct {
    const char *name, *value;
    int rc;
  } cases[] = {
      {"version", "\"1\"", DOCSTORE_EFORMAT},
      {"version", "1.5", DOCSTORE_EFORMAT},
      {"version", "-1", DOCSTORE_EFORMAT},
      {"version", "null", DOCSTORE_EFORMAT},
      {"version", "[1]", DOCSTORE_EFORMAT},
      {"file_id", "123", DOCSTORE_EFORMAT},
      {"file_id", "\"a b\"", DOCSTORE_EFORMAT},
      {"file_id", "\"\"", DOCSTORE_EFORMAT},
      {"file_id", "null", DOCSTORE_EFORMAT}, /* user_id without file_id */
      {"user_id", "456", DOCSTORE_EFORMAT},
      {"user_id", "\"../x\"", DOCSTORE_EFORMAT},
      {"user_id", "[]", DOCSTORE_EFORMAT},
      {"kid", "\"sha256:ABC\"", DOCSTORE_EFORMAT},
      {"kid", "\"md5:00\"", DOCSTORE_EFORMAT},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *t = th_json_set(env, cases[i].name, cases[i].value);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), cases[i].rc);
    free(t);
  }
  /* Upper-case hex in kid is not the canonical form. */
  char *up = strdup(th_kid(0));
  for (char *p = up + 7; *p; p++)
    if (*p >= 'a' && *p <= 'f')
      *p = (char)(*p - 'a' + 'A');
  char *t = set_str(env, "kid", up);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  free(up);
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_bad_base64(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "document body!", 14, &DOC);
  static const char *members[] = {"wrapped_key", "nonce", "tag", "ciphertext"};
  for (size_t i = 0; i < 4; i++) {
    char *good = th_json_get_string(env, members[i]);
    size_t n = strlen(good);
    char *bad = malloc(n + 8);
    assert_non_null(bad);
    /* an invalid character */
    strcpy(bad, good);
    bad[1] = '*';
    char *t = set_str(env, members[i], bad);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    /* URL-safe alphabet */
    strcpy(bad, good);
    bad[2] = '-';
    t = set_str(env, members[i], bad);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    /* a length that is not a multiple of 4 (padding dropped or extra) */
    strcpy(bad, good);
    bad[n - 1] = '\0';
    t = set_str(env, members[i], bad);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    /* whitespace inside */
    snprintf(bad, n + 8, "%.4s\\n%s", good, good + 4);
    t = set_str(env, members[i], bad);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    /* padding in the middle */
    snprintf(bad, n + 8, "AA==%s", good);
    t = set_str(env, members[i], bad);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    /* too much padding */
    snprintf(bad, n + 8, "%sA===", good);
    t = set_str(env, members[i], bad);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    free(bad);
    free(good);
  }
  /* Non-canonical: unused bits set in the last quantum.  The ciphertext
   * (14 bytes) and the tag (16 bytes) end in "x=" / "xx==" quanta. */
  char *ct = th_json_get_string(env, "ciphertext");
  size_t n = strlen(ct);
  assert_int_equal(ct[n - 1], '=');
  ct[n - 2] = ct[n - 2] == 'A' ? 'B' : (char)(ct[n - 2] ^ 1);
  char *t = set_str(env, "ciphertext", ct);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  free(ct);
  char *tag = th_json_get_string(env, "tag");
  n = strlen(tag);
  assert_string_equal(tag + n - 2, "==");
  tag[n - 3] = tag[n - 3] == 'A' ? 'B' : (char)(tag[n - 3] ^ 1);
  t = set_str(env, "tag", tag);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  free(tag);
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_wrong_lengths(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  static const struct {
    const char *name;
    size_t len;
  } cases[] = {{"nonce", 0},         {"nonce", 8},       {"nonce", 16},
               {"nonce", 13},        {"tag", 12},        {"tag", 0},
               {"tag", 17},          {"wrapped_key", 0}, {"wrapped_key", 32},
               {"wrapped_key", 2049}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *t = set_b64_len(env, cases[i].name, cases[i].len);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
  }
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_unknown_version(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  static const char *versions[] = {"0", "2", "3", "100"};
  for (size_t i = 0; i < 4; i++) {
    char *t = th_json_set(env, "version", versions[i]);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EUNSUPPORTED);
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    assert_int_equal(docstore_envelope_info_get(&info, t, strlen(t)),
                     DOCSTORE_EUNSUPPORTED);
    free(t);
  }
  /* A v2 header followed by data that is not JSON (a framed body). */
  static const char *v2[] = {
      "{\"format\":\"docstore-envelope\",\"version\":2}\n\x01\x02\x03frames",
      "{\"format\":\"docstore-envelope\",\"version\":2,\"frames\":\x01\x02",
      "{\"format\":\"docstore-envelope\",\"version\":10",
  };
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(open_rc(kr, v2[i], NULL, NULL, 0), DOCSTORE_EUNSUPPORTED);
  /* ...but a broken version 1 is malformed. */
  assert_int_equal(
      open_rc(kr, "{\"format\":\"docstore-envelope\",\"version\":1,\x01", NULL,
              NULL, 0),
      DOCSTORE_EFORMAT);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* The parser cuts the ciphertext out of what cJSON sees when it can: check
 * the cases where it must not, or cannot. */
static void test_ciphertext_location(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t *pt = th_random(3000);
  char *env = seal(kr, pt, 3000, &DOC);
  size_t len = strlen(env);
  char *buf = malloc(2 * len + 256);
  assert_non_null(buf);

  /* Escaped '/' in the ciphertext (the general path). */
  char *ct = strstr(env, "\"ciphertext\":\"");
  assert_non_null(ct);
  char *slash = strchr(ct + 14, '/');
  assert_non_null(slash);
  size_t at = (size_t)(slash - env);
  memcpy(buf, env, at);
  buf[at] = '\\';
  strcpy(buf + at + 1, env + at);
  assert_int_equal(open_rc(kr, buf, &DOC, pt, 3000), 0);

  /* Escaped member name (the general path). */
  size_t ct_at = (size_t)(ct - env);
  snprintf(buf, 2 * len + 256, "%.*s\"cipher\\u0074ext\"%s", (int)ct_at, env,
           ct + 12);
  assert_int_equal(open_rc(kr, buf, &DOC, pt, 3000), 0);

  /* "ciphertext" nested in an unknown member, or inside a string, before
   * the real one: not taken for it. */
  snprintf(buf, 2 * len + 256,
           "{\"x\":{\"ciphertext\":\"AAAA\"},\"y\":[\"ciphertext\",\"\\\""
           "ciphertext\\\":\\\"AAAA\"],\"z\":\"ciphertext\",%s",
           env + 1);
  assert_int_equal(open_rc(kr, buf, &DOC, pt, 3000), 0);

  /* A second "ciphertext" member, plain or escaped, is a duplicate. */
  snprintf(buf, 2 * len + 256, "%.*s,\"ciphertext\":\"AAAA\"}", (int)len - 1,
           env);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  snprintf(buf, 2 * len + 256, "{\"cipher\\u0074ext\":\"AAAA\",%s", env + 1);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  snprintf(buf, 2 * len + 256, "%.*s,\"cipher\\u0074ext\":\"AAAA\"}",
           (int)len - 1, env);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);

  /* Control characters are not string content: refused either way. */
  strcpy(buf, env);
  buf[ct_at + 20] = '\t';
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  /* An unterminated ciphertext. */
  memcpy(buf, env, len - 2);
  buf[len - 2] = '\0';
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  /* Error positions refer to the caller's text. */
  strcpy(buf, env);
  buf[len - 1] = ']';
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  char want[64];
  snprintf(want, sizeof(want), "byte %zu", len - 1);
  assert_non_null(strstr(docstore_last_errmsg(), want));
  free(buf);
  free(pt);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* env with `from` replaced by `to` (NUL-terminated strings). */
static char *swap(const char *env, const char *from, const char *to) {
  size_t len;
  return replaced(env, from, to, strlen(to), &len);
}

/* FORMAT.md section 3.2: the version is an integer written with digits
 * only, compared as text (issue: "version":01, 1.0000000000000000001 and
 * 0.99999999999999999999 were read as 1 through a double). */
static void test_version_as_text(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  static const struct {
    const char *v;
    int rc;
  } cases[] = {
      {"01", DOCSTORE_EFORMAT},
      {"1.0", DOCSTORE_EFORMAT},
      {"1e0", DOCSTORE_EFORMAT},
      {"1.0000000000000000001", DOCSTORE_EFORMAT},
      {"0.99999999999999999999", DOCSTORE_EFORMAT},
      {"-0", DOCSTORE_EFORMAT},
      {"1e16", DOCSTORE_EFORMAT},
      {"1e400", DOCSTORE_EFORMAT},
      {"2.5", DOCSTORE_EFORMAT},
      {"0", DOCSTORE_EUNSUPPORTED},
      {"9007199254740992", DOCSTORE_EUNSUPPORTED},
      {"9007199254740993", DOCSTORE_EUNSUPPORTED},
      {"100000000000000000000000000000", DOCSTORE_EUNSUPPORTED},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char to[64];
    snprintf(to, sizeof(to), "\"version\":%s,", cases[i].v);
    char *t = swap(env, "\"version\":1,", to);
    assert_int_equal(open_rc(kr, t, &DOC, NULL, 0), cases[i].rc);
    free(t);
  }
  /* Section 11's prefix rule for text that is not JSON. */
  static const struct {
    const char *rest;
    int rc;
  } prefix[] = {
      {"2,\x01", DOCSTORE_EUNSUPPORTED}, {"0,\x01", DOCSTORE_EUNSUPPORTED},
      {"12", DOCSTORE_EUNSUPPORTED},     {"01,\x01", DOCSTORE_EFORMAT},
      {"2.5,\x01", DOCSTORE_EFORMAT},    {"2e1,\x01", DOCSTORE_EFORMAT},
      {"-2,\x01", DOCSTORE_EFORMAT},     {" 2,\x01", DOCSTORE_EFORMAT},
      {"1,\x01", DOCSTORE_EFORMAT}};
  for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++) {
    char text[128];
    snprintf(text, sizeof(text),
             "{\"format\":\"docstore-envelope\",\"version\":%s",
             prefix[i].rest);
    assert_int_equal(open_rc(kr, text, NULL, NULL, 0), prefix[i].rc);
  }
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* FORMAT.md section 2: exactly RFC 8259, in read and ignored members. */
static void test_strict_json(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  size_t len = strlen(env);
  char *buf = malloc(len + 4096);
  assert_non_null(buf);
  /* A leading byte-order mark (issue: it was skipped). */
  snprintf(buf, len + 4096, "\xEF\xBB\xBF%s", env);
  assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  /* Every control byte but the four whitespace bytes, between members and
   * raw inside an ignored string. */
  for (int c = 1; c < 0x20; c++) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      continue;
    char to[32];
    snprintf(to, sizeof(to), "\"version\":1,%c", c);
    char *t = swap(env, "\"version\":1,", to);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    snprintf(to, sizeof(to), "\"x\":\"a%cb\",\"alg\"", c);
    t = swap(env, "\"alg\"", to);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
  }
  static const char *bad_members[] = {
      "\"x\":\"\xC0\xAF\"",         /* overlong */
      "\"x\":\"\xED\xA0\x80\"",     /* encoded surrogate */
      "\"x\":\"\xF4\x90\x80\x80\"", /* above U+10FFFF */
      "\"x\":\"\xE2\x82\"",         /* truncated */
      "\"\xFF\":1",                 /* in a name */
      "\"x\":\"\\ud800\"",          /* lone high surrogate */
      "\"x\":\"\\udc00\\ud800\"",   /* reversed pair */
      "\"x\":\"\\ud800\\u0041\"",   /* high + other */
      "\"x\":\"\\x41\"",            /* invalid escape */
      "\"x\":01",                   /* number grammar */
      "\"x\":NaN",
      "\"x\":[1,]",
      "\"x\":1,\"x\":2",              /* duplicate unknown member */
      "\"x\":{\"a\":1,\"a\":2}",      /* duplicate in a nested object */
      "\"\\u00e9\":1,\"\xC3\xA9\":2", /* same name after unescaping */
      "\"t\\u0061g\":\"AAAA\"",       /* a known member, escaped */
  };
  for (size_t i = 0; i < sizeof(bad_members) / sizeof(bad_members[0]); i++) {
    snprintf(buf, len + 4096, "{%s,%s", bad_members[i], env + 1);
    assert_int_equal(open_rc(kr, buf, NULL, NULL, 0), DOCSTORE_EFORMAT);
  }
  /* Valid UTF-8 and a surrogate pair in an ignored member are fine. */
  snprintf(buf, len + 4096,
           "{\"x\":\"\xC3\xA9 \\ud83d\\ude00 \xF0\x9F\x98\x80\",%s", env + 1);
  assert_int_equal(open_rc(kr, buf, &DOC, "doc", 3), 0);
  /* Nesting: 64 levels (the object and 63 arrays) pass, 65 do not. */
  for (int depth = 63; depth <= 64; depth++) {
    int n = snprintf(buf, len + 4096, "{\"deep\":");
    for (int k = 0; k < depth; k++)
      buf[n++] = '[';
    for (int k = 0; k < depth; k++)
      buf[n++] = ']';
    snprintf(buf + n, len + 4096 - (size_t)n, ",%s", env + 1);
    assert_int_equal(open_rc(kr, buf, &DOC, "doc", 3),
                     depth == 63 ? 0 : DOCSTORE_EFORMAT);
  }
  assert_non_null(strstr(docstore_last_errmsg(), "64"));
  /* Member names: 256 bytes pass, 257 do not. */
  for (int n = 256; n <= 257; n++) {
    int k = snprintf(buf, len + 4096, "{\"");
    memset(buf + k, 'n', (size_t)n);
    snprintf(buf + k + n, len + 4096 - (size_t)(k + n), "\":0,%s", env + 1);
    assert_int_equal(open_rc(kr, buf, &DOC, "doc", 3),
                     n == 256 ? 0 : DOCSTORE_EFORMAT);
  }
  free(buf);
  /* 1024 names in all pass, 1025 do not. */
  for (int names = 1024; names <= 1025; names++) {
    size_t cap = len + (size_t)names * 16;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t k = 1;
    big[0] = '{';
    for (int i = 0; i < names - 11; i++)
      k += (size_t)snprintf(big + k, cap - k, "\"m%d\":0,", i);
    snprintf(big + k, cap - k, "%s", env + 1);
    assert_int_equal(open_rc(kr, big, &DOC, "doc", 3),
                     names == 1024 ? 0 : DOCSTORE_EFORMAT);
    free(big);
  }
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* Length errors name the length found (issue: "must decode to 12 bytes,
 * not 12" printed the expected length twice). */
static void test_length_messages(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char *env = seal(kr, "doc", 3, &DOC);
  char *t = set_b64_len(env, "nonce", 8);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  assert_non_null(
      strstr(docstore_last_errmsg(), "must decode to 12 bytes, not 8"));
  free(t);
  t = set_b64_len(env, "tag", 15);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  assert_non_null(
      strstr(docstore_last_errmsg(), "must decode to 16 bytes, not 15"));
  free(t);
  t = set_b64_len(env, "wrapped_key", 32);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  assert_non_null(strstr(docstore_last_errmsg(), "not 32"));
  free(t);
  /* A ciphertext character is checked before the key is looked up
   * (FORMAT.md section 7, step 5). */
  docstore_keyring *other = th_keyring(2, 2);
  char *ct = th_json_get_string(env, "ciphertext");
  ct[0] = '!';
  t = set_str(env, "ciphertext", ct);
  assert_int_equal(open_rc(other, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  free(ct);
  docstore_keyring_free(other);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* ------------------------------------------------------------- keys */

static void test_wrong_key(void **state) {
  (void)state;
  docstore_keyring *a = th_keyring(1, 0);
  docstore_keyring *b = th_keyring(2, 2);
  docstore_keyring *a_pub_only = th_keyring(3, 2);
  char *env = seal(a, "for A", 5, &DOC);
  assert_int_equal(open_rc(b, env, &DOC, NULL, 0), DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_last_errmsg(), th_kid(0)));
  /* Knowing A's public key is not enough. */
  assert_int_equal(open_rc(a_pub_only, env, &DOC, NULL, 0), DOCSTORE_EKEY);
  docstore_free(env);
  docstore_keyring_free(a);
  docstore_keyring_free(b);
  docstore_keyring_free(a_pub_only);
}

static void test_several_keys(void **state) {
  (void)state;
  docstore_keyring *all = th_keyring(7, 7);
  char *envs[TH_NKEYS];
  for (int i = 0; i < TH_NKEYS; i++) {
    assert_int_equal(docstore_keyring_set_default(all, th_kid(i)), 0);
    envs[i] = seal(all, "multi", 5, &DOC);
    char *kid = th_json_get_string(envs[i], "kid");
    assert_string_equal(kid, th_kid(i));
    free(kid);
  }
  for (int i = 0; i < TH_NKEYS; i++) {
    assert_int_equal(open_rc(all, envs[i], &DOC, "multi", 5), 0);
    /* A keyring with only key i opens envelope i and no other. */
    docstore_keyring *one = th_keyring(0, 1u << i);
    for (int j = 0; j < TH_NKEYS; j++)
      assert_int_equal(open_rc(one, envs[j], &DOC, "multi", 5),
                       i == j ? 0 : DOCSTORE_EKEY);
    docstore_keyring_free(one);
  }
  for (int i = 0; i < TH_NKEYS; i++)
    docstore_free(envs[i]);
  docstore_keyring_free(all);
}

/* ------------------------------------------------------------- rewrap */

/* What docstore_free() does with each result: the plaintext is wiped, the
 * envelopes (ciphertext only) are not; sizes are exact. */
static void test_memory_kinds(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  uint8_t *pt = th_random(300000);
  char *env = seal(kr, pt, 300000, &DOC);
  size_t env_len = strlen(env);
  assert_int_equal(docstore__alloc_flags(env), DOCSTORE__MEM_PUBLIC);
  /* Reserved once, to within the header's slack. */
  assert_true(docstore__alloc_size(env) > env_len);
  assert_true(docstore__alloc_size(env) <= env_len + 1024);

  uint8_t *out = NULL;
  size_t out_len = 0;
  assert_int_equal(
      docstore_envelope_open(&out, &out_len, kr, env, env_len, &DOC), 0);
  assert_int_equal(out_len, 300000);
  assert_memory_equal(out, pt, out_len);
  assert_int_equal(docstore__alloc_flags(out), 0); /* wiped when freed */
  assert_int_equal(docstore__alloc_size(out), 300000);
  docstore_free(out);

  char *re = NULL;
  assert_int_equal(docstore_envelope_rewrap(&re, NULL, kr, env, env_len, NULL),
                   0);
  assert_int_equal(docstore__alloc_flags(re), DOCSTORE__MEM_PUBLIC);
  docstore_free(re);
  docstore_free(env);
  free(pt);
  docstore_keyring_free(kr);
}

static void test_rewrap(void **state) {
  (void)state;
  docstore_keyring *rot = th_keyring(3, 1); /* old private 0, new public 1 */
  uint8_t *pt = th_random(10000);
  char *env = seal(rot, pt, 10000, &DOC);
  char *env2 = rewrap(rot, env, th_kid(1));

  char *kid = th_json_get_string(env2, "kid");
  assert_string_equal(kid, th_kid(1));
  free(kid);
  static const char *kept[] = {"ciphertext", "nonce",   "tag",
                               "file_id",    "user_id", "alg"};
  for (size_t i = 0; i < 6; i++)
    assert_same_member(env, env2, kept[i]);
  char *w1 = th_json_get_string(env, "wrapped_key");
  char *w2 = th_json_get_string(env2, "wrapped_key");
  assert_string_not_equal(w1, w2);
  free(w1);
  free(w2);

  /* Only the new key is needed now, and the identity is still bound. */
  docstore_keyring *new_only = th_keyring(0, 2);
  assert_int_equal(open_rc(new_only, env2, &DOC, pt, 10000), 0);
  docstore_doc_id other = {"124", "456"};
  assert_int_equal(open_rc(new_only, env2, &other, NULL, 0),
                   DOCSTORE_EINTEGRITY);
  assert_int_equal(open_rc(new_only, env, &DOC, NULL, 0), DOCSTORE_EKEY);

  /* new_key_id NULL: the default key (key 0, the first added); the same key
   * again gives a fresh OAEP encryption of the same AES key. */
  char *env3 = rewrap(rot, env, NULL);
  kid = th_json_get_string(env3, "kid");
  assert_string_equal(kid, th_kid(0));
  free(kid);
  assert_same_member(env, env3, "ciphertext");
  assert_int_equal(open_rc(rot, env3, &DOC, pt, 10000), 0);
  docstore_free(env3);
  docstore_free(env2);
  docstore_free(env);
  free(pt);
  docstore_keyring_free(new_only);
  docstore_keyring_free(rot);
}

static void test_rewrap_errors(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(3, 1);
  char *env = seal(kr, "rotate", 6, &DOC);
  char *out = NULL;
  size_t len = 0;
  /* Unknown new key. */
  assert_int_equal(
      docstore_envelope_rewrap(&out, &len, kr, env, strlen(env), th_kid(2)),
      DOCSTORE_EKEY);
  assert_null(out);
  /* No private key for the current key id. */
  docstore_keyring *pub_only = th_keyring(3, 0);
  assert_int_equal(docstore_envelope_rewrap(&out, &len, pub_only, env,
                                            strlen(env), th_kid(1)),
                   DOCSTORE_EKEY);
  /* A damaged envelope is not rewrapped. */
  char *t = flip_b64(env, "ciphertext", 0, 0x80);
  assert_int_equal(
      docstore_envelope_rewrap(&out, &len, kr, t, strlen(t), th_kid(1)),
      DOCSTORE_EINTEGRITY);
  free(t);
  t = th_json_set(env, "user_id", "\"457\"");
  assert_int_equal(
      docstore_envelope_rewrap(&out, &len, kr, t, strlen(t), th_kid(1)),
      DOCSTORE_EINTEGRITY);
  free(t);
  assert_int_equal(docstore_envelope_rewrap(&out, &len, kr, "{}", 2, NULL),
                   DOCSTORE_EFORMAT);
  assert_int_equal(
      docstore_envelope_rewrap(NULL, &len, kr, env, strlen(env), NULL),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_envelope_rewrap(&out, &len, NULL, env, strlen(env), NULL),
      DOCSTORE_EINVAL);
  assert_null(out);
  docstore_free(env);
  docstore_keyring_free(pub_only);
  docstore_keyring_free(kr);
}

/* ------------------------------------------------------------- info */

static void test_info(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 0);
  char *env = seal(kr, "12345", 5, &DOC);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_envelope_info_get(&info, env, strlen(env)), 0);
  assert_int_equal(info.format, DOCSTORE_ENVELOPE_V1);
  assert_string_equal(info.key_id, th_kid(0));
  assert_string_equal(info.file_id, "123");
  assert_string_equal(info.user_id, "456");
  assert_int_equal(info.plaintext_size, 5);
  docstore_envelope_info_clear(&info);
  assert_null(info.key_id);
  assert_null(info.file_id);
  /* A struct with only `version` set is enough. */
  docstore_envelope_info bare;
  memset(&bare, 0xA5, sizeof(bare));
  bare.version = DOCSTORE_ENVELOPE_INFO_VERSION;
  assert_int_equal(docstore_envelope_info_get(&bare, env, strlen(env)), 0);
  assert_string_equal(bare.user_id, "456");
  docstore_envelope_info_clear(&bare);
  char *unbound = seal(kr, "", 0, NULL);
  assert_int_equal(docstore_envelope_info_get(&info, unbound, strlen(unbound)),
                   0);
  assert_null(info.file_id);
  assert_null(info.user_id);
  assert_int_equal(info.plaintext_size, 0);
  docstore_envelope_info_clear(&info);
  assert_null(info.key_id);
  docstore_envelope_info_clear(&info);
  docstore_envelope_info_clear(NULL);

  /* info_get checks every character of the ciphertext, without keys. */
  char *ct = th_json_get_string(env, "ciphertext");
  ct[0] = '!';
  char *t = set_str(env, "ciphertext", ct);
  assert_int_equal(docstore_envelope_info_get(&info, t, strlen(t)),
                   DOCSTORE_EFORMAT);
  assert_int_equal(info.format, 0);
  free(t);
  free(ct);

  docstore_envelope_info v;
  assert_int_equal(docstore_envelope_info_init(&v, 1), 0);
  assert_int_equal(v.version, 1);
  assert_null(v.key_id);
  assert_int_equal(docstore_envelope_info_init(NULL, 1), DOCSTORE_EINVAL);
  assert_int_equal(docstore_envelope_info_init(&v, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_envelope_info_init(&v, 3), DOCSTORE_EINVAL);
  /* Version 1 callers have the shorter struct: nothing after it written. */
  memset(&v, 0x5a, sizeof(v));
  assert_int_equal(docstore_envelope_info_init(&v, 1), 0);
  assert_int_equal(v.segment_size, 0x5a5a5a5au);
  assert_int_equal(docstore_envelope_info_get(&v, env, strlen(env)), 0);
  assert_int_equal(v.segment_size, 0x5a5a5a5au);
  assert_int_equal(v.recipients_count, 0x5a5a5a5au);
  docstore_envelope_info_clear(&v);
  assert_int_equal(docstore_envelope_info_init(&v, 2), 0);
  assert_int_equal(docstore_envelope_info_get(&v, env, strlen(env)), 0);
  assert_int_equal(v.recipients_count, 1);
  assert_int_equal(v.segment_size, 0);
  docstore_envelope_info_clear(&v);
  v.version = 0;
  assert_int_equal(docstore_envelope_info_get(&v, env, strlen(env)),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_envelope_info_get(NULL, env, strlen(env)),
                   DOCSTORE_EINVAL);
  v.version = 1;
  assert_int_equal(docstore_envelope_info_get(&v, NULL, 0), DOCSTORE_EINVAL);
  docstore_free(unbound);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* ------------------------------------------------------------- limits */

static void test_limits_and_null(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(1, 1);
  char small[8] = "{}";
  char *env = NULL;
  size_t len = 0;
  uint8_t *out = NULL;
  /* Sizes are checked before anything is read. */
  assert_int_equal(docstore_envelope_seal(&env, &len, kr,
                                          (const uint8_t *)small,
                                          ((size_t)1 << 30) + 1, NULL),
                   DOCSTORE_ETOOBIG);
  assert_int_equal(docstore_envelope_open(&out, &len, kr, small,
                                          ((size_t)3 << 29) + 1, NULL),
                   DOCSTORE_ETOOBIG);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(
      docstore_envelope_info_get(&info, small, ((size_t)3 << 29) + 1),
      DOCSTORE_ETOOBIG);
  assert_int_equal(docstore_envelope_rewrap(&env, &len, kr, small,
                                            ((size_t)3 << 29) + 1, NULL),
                   DOCSTORE_ETOOBIG);

  assert_int_equal(
      docstore_envelope_seal(NULL, &len, kr, (const uint8_t *)"x", 1, NULL),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_envelope_seal(&env, &len, NULL, (const uint8_t *)"x", 1, NULL),
      DOCSTORE_EINVAL);
  assert_int_equal(docstore_envelope_seal(&env, &len, kr, NULL, 1, NULL),
                   DOCSTORE_EINVAL);
  assert_null(env);
  /* out_len is optional when sealing (the text is NUL-terminated). */
  assert_int_equal(
      docstore_envelope_seal(&env, NULL, kr, (const uint8_t *)"x", 1, NULL), 0);
  assert_int_equal(
      docstore_envelope_open(NULL, &len, kr, env, strlen(env), NULL),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_envelope_open(&out, NULL, kr, env, strlen(env), NULL),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_envelope_open(&out, &len, NULL, env, strlen(env), NULL),
      DOCSTORE_EINVAL);
  assert_int_equal(docstore_envelope_open(&out, &len, kr, NULL, 0, NULL),
                   DOCSTORE_EINVAL);
  assert_null(out);
  docstore_free(env);
  docstore_keyring_free(kr);
}

/* ------------------------------------------------------------- legacy */

static void test_legacy_open(void **state) {
  (void)state;
  docstore_keyring *k0 = th_keyring(0, 1);
  docstore_keyring *k10 = th_keyring(0, 3); /* key 0 is the second tried */
  docstore_keyring *k1 = th_keyring(0, 2);
  docstore_keyring *pub0 = th_keyring(1, 0);
  static const struct {
    size_t key_len, nonce_len, n;
  } cases[] = {{16, 16, 0},      {16, 16, 1},  {32, 16, 4096},
               {32, 16, 100000}, {16, 12, 33}, {32, 12, 7}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t *pt = th_random(cases[i].n);
    char *env =
        make_legacy(0, pt, cases[i].n, cases[i].key_len, cases[i].nonce_len);
    assert_int_equal(open_rc(k0, env, NULL, pt, cases[i].n), 0);
    assert_int_equal(open_rc(k10, env, NULL, pt, cases[i].n), 0);
    /* Legacy envelopes predate identity binding: accepted with expect. */
    assert_int_equal(open_rc(k0, env, &DOC, pt, cases[i].n), 0);
    assert_int_equal(open_rc(k1, env, NULL, NULL, 0), DOCSTORE_EKEY);
    assert_int_equal(open_rc(pub0, env, NULL, NULL, 0), DOCSTORE_EKEY);

    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    assert_int_equal(docstore_envelope_info_get(&info, env, strlen(env)), 0);
    assert_int_equal(info.format, DOCSTORE_ENVELOPE_LEGACY);
    assert_null(info.key_id);
    assert_null(info.file_id);
    assert_int_equal(info.plaintext_size, cases[i].n);
    docstore_envelope_info_clear(&info);
    free(env);
    free(pt);
  }
  docstore_keyring_free(k0);
  docstore_keyring_free(k10);
  docstore_keyring_free(k1);
  docstore_keyring_free(pub0);
}

static void test_legacy_negative(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(0, 1);
  char *env = make_legacy(0, (const uint8_t *)"legacy", 6, 16, 16);
  static const char *b64[] = {"ciphertext", "tag", "nonce"};
  for (size_t i = 0; i < 3; i++) {
    char *t = flip_b64(env, b64[i], 0, 0x04);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
    free(t);
  }
  /* A damaged session key unwraps under no key. */
  char *t = flip_b64(env, "enc_session_key", 5, 0x04);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EKEY);
  free(t);
  static const char *members[] = {"nonce", "tag", "ciphertext"};
  for (size_t i = 0; i < 3; i++) {
    t = th_json_set(env, members[i], NULL);
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
    t = th_json_set(env, members[i], "7");
    assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
    free(t);
  }
  t = th_json_set(env, "enc_session_key", "\"!!!!\"");
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  t = set_b64_len(env, "nonce", 8);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  t = set_b64_len(env, "tag", 12);
  assert_int_equal(open_rc(kr, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  /* Extra members (PyCryptodome examples carry "header") are ignored. */
  t = th_json_set(env, "header", "\"aGVhZGVy\"");
  assert_int_equal(open_rc(kr, t, NULL, "legacy", 6), 0);
  free(t);
  free(env);
  docstore_keyring_free(kr);
}

static void test_legacy_rewrap(void **state) {
  (void)state;
  docstore_keyring *rot = th_keyring(2, 1); /* old private 0, new public 1 */
  docstore_keyring *new_only = th_keyring(0, 2);
  char *env = make_legacy(0, (const uint8_t *)"old document", 12, 16, 16);
  char *v1 = rewrap(rot, env, th_kid(1));

  char *alg = th_json_get_string(v1, "alg");
  assert_string_equal(alg, "AES-GCM-NOAAD");
  free(alg);
  assert_non_null(strstr(v1, "\"file_id\":null,\"user_id\":null,"));
  assert_same_member(env, v1, "ciphertext");
  assert_same_member(env, v1, "nonce");
  assert_same_member(env, v1, "tag");
  assert_int_equal(open_rc(new_only, v1, NULL, "old document", 12), 0);
  /* Like the legacy original, it binds no identity. */
  assert_int_equal(open_rc(new_only, v1, &DOC, "old document", 12), 0);

  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_envelope_info_get(&info, v1, strlen(v1)), 0);
  assert_int_equal(info.format, DOCSTORE_ENVELOPE_V1);
  assert_string_equal(info.key_id, th_kid(1));
  assert_null(info.file_id);
  docstore_envelope_info_clear(&info);

  /* Identity fields cannot be added to a converted envelope... */
  char *t = th_json_set(v1, "file_id", "\"123\"");
  assert_int_equal(open_rc(new_only, t, NULL, NULL, 0), DOCSTORE_EFORMAT);
  free(t);
  /* ...and its ciphertext is still authenticated. */
  t = flip_b64(v1, "ciphertext", 0, 1);
  assert_int_equal(open_rc(new_only, t, NULL, NULL, 0), DOCSTORE_EINTEGRITY);
  free(t);
  /* A converted envelope rewraps again as itself. */
  docstore_keyring *back = th_keyring(1, 2);
  char *again = rewrap(back, v1, th_kid(0));
  alg = th_json_get_string(again, "alg");
  assert_string_equal(alg, "AES-GCM-NOAAD");
  free(alg);
  assert_int_equal(open_rc(rot, again, NULL, "old document", 12), 0);

  docstore_free(again);
  docstore_free(v1);
  free(env);
  docstore_keyring_free(back);
  docstore_keyring_free(new_only);
  docstore_keyring_free(rot);
}

/* ------------------------------------------------------------- threads */

typedef struct worker {
  docstore_keyring *kr;
  int failures;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  char idbuf[16];
  for (int i = 0; i < 40; i++) {
    snprintf(idbuf, sizeof(idbuf), "f%d", i);
    docstore_doc_id doc = {idbuf, "u1"};
    uint8_t pt[300];
    memset(pt, i, sizeof(pt));
    char *env = NULL;
    size_t len = 0;
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (docstore_envelope_seal(&env, &len, w->kr, pt, sizeof(pt), &doc) != 0 ||
        docstore_envelope_open(&out, &out_len, w->kr, env, len, &doc) != 0 ||
        out_len != sizeof(pt) || memcmp(out, pt, sizeof(pt)) != 0)
      w->failures++;
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    if (env && docstore_envelope_info_get(&info, env, len) != 0)
      w->failures++;
    docstore_envelope_info_clear(&info);
    docstore_free(out);
    docstore_free(env);
  }
  return NULL;
}

static void test_concurrent_use(void **state) {
  (void)state;
  docstore_keyring *kr = th_keyring(3, 3);
  pthread_t th[4];
  worker w[4];
  for (int i = 0; i < 4; i++) {
    w[i].kr = kr;
    w[i].failures = 0;
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(w[i].failures, 0);
  }
  docstore_keyring_free(kr);
}

static int group_setup(void **state) {
  (void)state;
  for (int i = 0; i < TH_NKEYS; i++)
    (void)th_public_pem(i);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_sizes),
      cmocka_unit_test(test_envelope_shape),
      cmocka_unit_test(test_format_doc_vector),
      cmocka_unit_test(test_identity_bound),
      cmocka_unit_test(test_identity_validation),
      cmocka_unit_test(test_tamper_crypto_fields),
      cmocka_unit_test(test_tamper_header_fields),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_malformed_json),
      cmocka_unit_test(test_nul_in_strings),
      cmocka_unit_test(test_missing_members),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_bad_base64),
      cmocka_unit_test(test_wrong_lengths),
      cmocka_unit_test(test_unknown_version),
      cmocka_unit_test(test_ciphertext_location),
      cmocka_unit_test(test_version_as_text),
      cmocka_unit_test(test_strict_json),
      cmocka_unit_test(test_length_messages),
      cmocka_unit_test(test_wrong_key),
      cmocka_unit_test(test_several_keys),
      cmocka_unit_test(test_memory_kinds),
      cmocka_unit_test(test_rewrap),
      cmocka_unit_test(test_rewrap_errors),
      cmocka_unit_test(test_info),
      cmocka_unit_test(test_limits_and_null),
      cmocka_unit_test(test_legacy_open),
      cmocka_unit_test(test_legacy_negative),
      cmocka_unit_test(test_legacy_rewrap),
      cmocka_unit_test(test_concurrent_use),
  };
  return cmocka_run_group_tests(tests, group_setup, th_group_teardown);
}
