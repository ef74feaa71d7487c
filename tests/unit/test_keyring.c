/*
 * Unit tests: keyring (PEM loading, passphrases, key ids, defaults) and
 * docstore_keygen.  Keys are generated at test time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "docstore/crypto.h"
#include "helpers/crypto_helpers.h"

#define PASS "correct horse battery staple"

/* ------------------------------------------------------------- helpers */

static docstore_keyring *new_kr(void) {
  docstore_keyring *kr = NULL;
  assert_int_equal(docstore_keyring_new(&kr, NULL, 0), 0);
  assert_non_null(kr);
  return kr;
}

static EVP_PKEY *pkey_from_private_pem(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  assert_non_null(bio);
  EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  assert_non_null(pkey);
  BIO_free(bio);
  return pkey;
}

/* Serialise pkey with an OSSL_ENCODER (selection, structure), optionally
 * encrypted with AES-256-CBC under PASS. */
static char *encode_pem(EVP_PKEY *pkey, int selection, const char *structure,
                        int encrypt) {
  OSSL_ENCODER_CTX *ectx =
      OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, "PEM", structure, NULL);
  assert_non_null(ectx);
  if (encrypt) {
    assert_true(OSSL_ENCODER_CTX_set_cipher(ectx, "AES-256-CBC", NULL));
    assert_true(OSSL_ENCODER_CTX_set_passphrase(
        ectx, (const unsigned char *)PASS, strlen(PASS)));
  }
  unsigned char *data = NULL;
  size_t len = 0;
  assert_true(OSSL_ENCODER_to_data(ectx, &data, &len));
  OSSL_ENCODER_CTX_free(ectx);
  char *s = malloc(len + 1);
  assert_non_null(s);
  memcpy(s, data, len);
  s[len] = '\0';
  OPENSSL_free(data);
  return s;
}

/* Traditional ("RSA PRIVATE KEY", optionally Proc-Type encrypted). */
static char *traditional_pem(EVP_PKEY *pkey, int encrypt) {
  BIO *bio = BIO_new(BIO_s_mem());
  assert_non_null(bio);
  assert_true(PEM_write_bio_PrivateKey_traditional(
      bio, pkey, encrypt ? EVP_aes_256_cbc() : NULL,
      encrypt ? (unsigned char *)PASS : NULL, encrypt ? (int)strlen(PASS) : 0,
      NULL, NULL));
  char *data = NULL;
  long n = BIO_get_mem_data(bio, &data);
  char *s = strndup(data, (size_t)n);
  assert_non_null(s);
  BIO_free(bio);
  return s;
}

static void expected_kid(char out[72], const char *public_pem) {
  BIO *bio = BIO_new_mem_buf(public_pem, -1);
  EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  assert_non_null(pkey);
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(pkey, &der);
  assert_true(n > 0);
  unsigned char md[32];
  unsigned int md_len = 0;
  assert_true(EVP_Digest(der, (size_t)n, md, &md_len, EVP_sha256(), NULL));
  strcpy(out, "sha256:");
  for (int i = 0; i < 32; i++)
    sprintf(out + 7 + 2 * i, "%02x", md[i]);
  OPENSSL_free(der);
  EVP_PKEY_free(pkey);
  BIO_free(bio);
}

static char *write_temp(const char *content) {
  char *path = strdup("/tmp/docstore_keyring_XXXXXX");
  assert_non_null(path);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  size_t len = strlen(content);
  assert_int_equal(write(fd, content, len), (ssize_t)len);
  close(fd);
  return path;
}

static int kid_of_default_seal(docstore_keyring *kr, char **kid) {
  char *env = NULL;
  size_t len = 0;
  int rc =
      docstore_envelope_seal(&env, &len, kr, (const uint8_t *)"x", 1, NULL);
  if (rc < 0)
    return rc;
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_envelope_info_get(&info, env, len), 0);
  *kid = strdup(info.key_id);
  docstore_envelope_info_clear(&info);
  docstore_free(env);
  return 0;
}

/* ------------------------------------------------------------- tests */

static void test_new_free_null(void **state) {
  (void)state;
  char errbuf[128] = "";
  assert_int_equal(docstore_keyring_new(NULL, errbuf, sizeof(errbuf)),
                   DOCSTORE_EINVAL);
  assert_true(strlen(errbuf) > 0);
  docstore_keyring_free(NULL);
  size_t pub = 9, priv = 9;
  docstore_keyring_count(NULL, &pub, &priv);
  assert_int_equal(pub, 0);
  assert_int_equal(priv, 0);
  assert_non_null(docstore_keyring_errmsg(NULL));

  docstore_keyring *kr = new_kr();
  docstore_keyring_count(kr, NULL, NULL);
  docstore_keyring_count(kr, &pub, &priv);
  assert_int_equal(pub, 0);
  assert_int_equal(priv, 0);
  assert_string_equal(docstore_keyring_errmsg(kr), "");
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, NULL, 0),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_keyring_add_public_pem(NULL, NULL, "x", 1),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, NULL, 0, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_keyring_add_public_file(kr, NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_keyring_set_default(kr, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_keyring_set_default(NULL, "x"), DOCSTORE_EINVAL);
  docstore_keyring_free(kr);
}

static void test_public_key_id(void **state) {
  (void)state;
  char want[72];
  expected_kid(want, th_public_pem(0));

  docstore_keyring *kr = new_kr();
  char *kid = NULL;
  assert_int_equal(docstore_keyring_add_public_pem(kr, &kid, th_public_pem(0),
                                                   strlen(th_public_pem(0))),
                   0);
  assert_string_equal(kid, want);
  assert_int_equal(strlen(kid), 71);
  size_t pub, priv;
  docstore_keyring_count(kr, &pub, &priv);
  assert_int_equal(pub, 1);
  assert_int_equal(priv, 0);

  /* The same key again: no second entry. */
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, th_public_pem(0),
                                                   strlen(th_public_pem(0))),
                   0);
  docstore_keyring_count(kr, &pub, &priv);
  assert_int_equal(pub, 1);
  docstore_free(kid);
  docstore_keyring_free(kr);
}

static void test_public_pkcs1_same_kid(void **state) {
  (void)state;
  EVP_PKEY *pkey = pkey_from_private_pem(th_private_pem(0));
  char *pkcs1 = encode_pem(pkey, EVP_PKEY_PUBLIC_KEY, "type-specific", 0);
  assert_non_null(strstr(pkcs1, "BEGIN RSA PUBLIC KEY"));
  docstore_keyring *kr = new_kr();
  char *kid = NULL;
  assert_int_equal(
      docstore_keyring_add_public_pem(kr, &kid, pkcs1, strlen(pkcs1)), 0);
  assert_string_equal(kid, th_kid(0));
  docstore_free(kid);
  docstore_keyring_free(kr);
  free(pkcs1);
  EVP_PKEY_free(pkey);
}

static void test_private_pkcs8_plain(void **state) {
  (void)state;
  docstore_keyring *kr = new_kr();
  char *kid = NULL;
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, th_public_pem(0),
                                                   strlen(th_public_pem(0))),
                   0);
  assert_non_null(strstr(th_private_pem(0), "BEGIN PRIVATE KEY"));
  assert_int_equal(docstore_keyring_add_private_pem(kr, &kid, th_private_pem(0),
                                                    strlen(th_private_pem(0)),
                                                    NULL),
                   0);
  assert_string_equal(kid, th_kid(0));
  size_t pub, priv;
  docstore_keyring_count(kr, &pub, &priv);
  assert_int_equal(pub, 1); /* the private key joined its public entry */
  assert_int_equal(priv, 1);
  /* A passphrase given for an unencrypted key is simply not needed. */
  assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, th_private_pem(1),
                                                    strlen(th_private_pem(1)),
                                                    PASS),
                   0);
  docstore_keyring_count(kr, &pub, &priv);
  assert_int_equal(pub, 2);
  assert_int_equal(priv, 2);
  docstore_free(kid);
  docstore_keyring_free(kr);
}

/* Right, wrong and missing passphrase for one encrypted PEM. */
static void check_encrypted_pem(const char *pem) {
  docstore_keyring *kr = new_kr();
  size_t pub, priv;

  assert_int_equal(
      docstore_keyring_add_private_pem(kr, NULL, pem, strlen(pem), NULL),
      DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "no passphrase"));

  assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, pem, strlen(pem),
                                                    "not the passphrase"),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "wrong passphrase"));
  assert_null(strstr(docstore_keyring_errmsg(kr), "not the passphrase"));
  assert_null(strstr(docstore_last_errmsg(), "not the passphrase"));
  assert_int_equal(docstore_last_errcode(), DOCSTORE_EKEY);
  docstore_keyring_count(kr, &pub, &priv);
  assert_int_equal(priv, 0);

  char *kid = NULL;
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, &kid, pem, strlen(pem), PASS), 0);
  assert_string_equal(kid, th_kid(0));
  docstore_keyring_count(kr, &pub, &priv);
  assert_int_equal(priv, 1);
  docstore_free(kid);
  docstore_keyring_free(kr);
}

static void test_private_pkcs8_encrypted(void **state) {
  (void)state;
  EVP_PKEY *pkey = pkey_from_private_pem(th_private_pem(0));
  char *pem = encode_pem(pkey, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", 1);
  assert_non_null(strstr(pem, "BEGIN ENCRYPTED PRIVATE KEY"));
  check_encrypted_pem(pem);
  free(pem);
  EVP_PKEY_free(pkey);
}

static void test_private_traditional(void **state) {
  (void)state;
  EVP_PKEY *pkey = pkey_from_private_pem(th_private_pem(0));
  char *plain = traditional_pem(pkey, 0);
  assert_non_null(strstr(plain, "BEGIN RSA PRIVATE KEY"));
  docstore_keyring *kr = new_kr();
  char *kid = NULL;
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, &kid, plain, strlen(plain), NULL),
      0);
  assert_string_equal(kid, th_kid(0));
  docstore_free(kid);
  docstore_keyring_free(kr);

  char *enc = traditional_pem(pkey, 1);
  assert_non_null(strstr(enc, "Proc-Type: 4,ENCRYPTED"));
  check_encrypted_pem(enc);
  free(plain);
  free(enc);
  EVP_PKEY_free(pkey);
}

static void test_small_key_refused(void **state) {
  (void)state;
  EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  assert_non_null(small);
  char *pub = encode_pem(small, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", 0);
  char *priv = encode_pem(small, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", 0);
  docstore_keyring *kr = new_kr();
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, pub, strlen(pub)),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "1024"));
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "2048"));
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, NULL, priv, strlen(priv), NULL),
      DOCSTORE_EKEY);
  size_t npub, npriv;
  docstore_keyring_count(kr, &npub, &npriv);
  assert_int_equal(npub + npriv, 0);
  docstore_keyring_free(kr);
  free(pub);
  free(priv);
  EVP_PKEY_free(small);
}

static void test_not_rsa_refused(void **state) {
  (void)state;
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_non_null(ec);
  char *pub = encode_pem(ec, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", 0);
  char *priv = encode_pem(ec, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", 0);
  docstore_keyring *kr = new_kr();
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, pub, strlen(pub)),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "not an RSA key"));
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, NULL, priv, strlen(priv), NULL),
      DOCSTORE_EKEY);
  docstore_keyring_free(kr);
  free(pub);
  free(priv);
  EVP_PKEY_free(ec);
}

static void test_garbage_refused(void **state) {
  (void)state;
  docstore_keyring *kr = new_kr();
  const char *bad[] = {
      "",
      "hello",
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
      "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(
        docstore_keyring_add_public_pem(kr, NULL, bad[i], strlen(bad[i])),
        DOCSTORE_EKEY);
    assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, bad[i],
                                                      strlen(bad[i]), NULL),
                     DOCSTORE_EKEY);
  }
  /* A truncated key. */
  const char *pem = th_private_pem(0);
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, NULL, pem, strlen(pem) / 2, NULL),
      DOCSTORE_EKEY);
  /* A public key where a private one is expected. */
  pem = th_public_pem(0);
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, NULL, pem, strlen(pem), NULL),
      DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "private key"));
  /* A private key where a public one is expected (plain and encrypted). */
  pem = th_private_pem(0);
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, pem, strlen(pem)),
                   DOCSTORE_EKEY);
  EVP_PKEY *pkey = pkey_from_private_pem(pem);
  char *enc = encode_pem(pkey, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", 1);
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, enc, strlen(enc)),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "not a PEM RSA public"));
  free(enc);
  EVP_PKEY_free(pkey);
  size_t npub, npriv;
  docstore_keyring_count(kr, &npub, &npriv);
  assert_int_equal(npub + npriv, 0);
  docstore_keyring_free(kr);
}

static void test_files(void **state) {
  (void)state;
  EVP_PKEY *pkey = pkey_from_private_pem(th_private_pem(0));
  char *enc = encode_pem(pkey, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", 1);
  char *pub_path = write_temp(th_public_pem(0));
  char *priv_path = write_temp(enc);

  docstore_keyring *kr = new_kr();
  char *kid = NULL;
  assert_int_equal(docstore_keyring_add_public_file(kr, &kid, pub_path), 0);
  assert_string_equal(kid, th_kid(0));
  docstore_free(kid);
  assert_int_equal(
      docstore_keyring_add_private_file(kr, NULL, priv_path, "wrong"),
      DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), priv_path));
  assert_int_equal(docstore_keyring_add_private_file(kr, &kid, priv_path, PASS),
                   0);
  assert_string_equal(kid, th_kid(0));
  docstore_free(kid);

  assert_int_equal(docstore_keyring_add_public_file(
                       kr, NULL, "/nonexistent/docstore/key.pem"),
                   DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "/nonexistent"));
  /* One errno map for every file read: a folder is EINVAL everywhere. */
  assert_int_equal(docstore_keyring_add_private_file(kr, NULL, "/tmp", NULL),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "is a folder"));
  size_t npub, npriv;
  docstore_keyring_count(kr, &npub, &npriv);
  assert_int_equal(npub, 1);
  assert_int_equal(npriv, 1);

  docstore_keyring_free(kr);
  unlink(pub_path);
  unlink(priv_path);
  free(pub_path);
  free(priv_path);
  free(enc);
  EVP_PKEY_free(pkey);
}

static void test_default_key(void **state) {
  (void)state;
  docstore_keyring *kr = new_kr();
  char *kid = NULL;
  assert_int_equal(kid_of_default_seal(kr, &kid), DOCSTORE_EKEY);

  /* A private key added first: its public half is the default. */
  assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, th_private_pem(1),
                                                    strlen(th_private_pem(1)),
                                                    NULL),
                   0);
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, th_public_pem(0),
                                                   strlen(th_public_pem(0))),
                   0);
  assert_int_equal(kid_of_default_seal(kr, &kid), 0);
  assert_string_equal(kid, th_kid(1));
  free(kid);

  assert_int_equal(docstore_keyring_set_default(kr, th_kid(0)), 0);
  assert_int_equal(kid_of_default_seal(kr, &kid), 0);
  assert_string_equal(kid, th_kid(0));
  free(kid);

  assert_int_equal(docstore_keyring_set_default(kr, th_kid(2)), DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_keyring_errmsg(kr), "no key with id"));
  assert_int_equal(docstore_keyring_set_default(kr, "sha256:nope"),
                   DOCSTORE_EKEY);
  /* A failed set_default keeps the previous default. */
  assert_int_equal(kid_of_default_seal(kr, &kid), 0);
  assert_string_equal(kid, th_kid(0));
  free(kid);
  docstore_keyring_free(kr);
}

static void test_keygen(void **state) {
  (void)state;
  char *pub = NULL, *priv = NULL;
  assert_int_equal(docstore_keygen(NULL, &priv, 2048, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_keygen(&pub, NULL, 2048, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_keygen(&pub, &priv, 1024, NULL), DOCSTORE_EKEY);
  assert_null(pub);
  assert_int_equal(docstore_keygen(&pub, &priv, 2048, ""), DOCSTORE_EINVAL);

  assert_int_equal(docstore_keygen(&pub, &priv, 2048, PASS), 0);
  assert_non_null(strstr(pub, "BEGIN PUBLIC KEY"));
  assert_non_null(strstr(priv, "BEGIN ENCRYPTED PRIVATE KEY"));
  docstore_keyring *kr = new_kr();
  char *kid_pub = NULL, *kid_priv = NULL;
  assert_int_equal(
      docstore_keyring_add_public_pem(kr, &kid_pub, pub, strlen(pub)), 0);
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, NULL, priv, strlen(priv), NULL),
      DOCSTORE_EKEY);
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, &kid_priv, priv, strlen(priv), PASS),
      0);
  assert_string_equal(kid_pub, kid_priv);

  /* The generated pair works: seal under the public key, open. */
  char *env = NULL;
  size_t env_len = 0;
  uint8_t *out = NULL;
  size_t out_len = 0;
  assert_int_equal(docstore_envelope_seal(&env, &env_len, kr,
                                          (const uint8_t *)"abc", 3, NULL),
                   0);
  assert_int_equal(
      docstore_envelope_open(&out, &out_len, kr, env, env_len, NULL), 0);
  assert_int_equal(out_len, 3);
  assert_memory_equal(out, "abc", 3);
  docstore_free(out);
  docstore_free(env);
  docstore_free(kid_pub);
  docstore_free(kid_priv);
  docstore_free(pub);
  docstore_free(priv);
  docstore_keyring_free(kr);
}

static void test_keygen_default_bits(void **state) {
  (void)state;
  char *pub = NULL, *priv = NULL;
  assert_int_equal(docstore_keygen(&pub, &priv, 0, NULL), 0);
  assert_non_null(strstr(priv, "BEGIN PRIVATE KEY"));
  EVP_PKEY *pkey = pkey_from_private_pem(priv);
  assert_int_equal(EVP_PKEY_get_bits(pkey), 3072);
  EVP_PKEY_free(pkey);
  docstore_free(pub);
  docstore_free(priv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_free_null),
      cmocka_unit_test(test_public_key_id),
      cmocka_unit_test(test_public_pkcs1_same_kid),
      cmocka_unit_test(test_private_pkcs8_plain),
      cmocka_unit_test(test_private_pkcs8_encrypted),
      cmocka_unit_test(test_private_traditional),
      cmocka_unit_test(test_small_key_refused),
      cmocka_unit_test(test_not_rsa_refused),
      cmocka_unit_test(test_garbage_refused),
      cmocka_unit_test(test_files),
      cmocka_unit_test(test_default_key),
      cmocka_unit_test(test_keygen),
      cmocka_unit_test(test_keygen_default_bits),
  };
  return cmocka_run_group_tests(tests, NULL, th_group_teardown);
}
