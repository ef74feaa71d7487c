/*
 * Unit tests: no freed memory holds a secret.  Every block released to
 * the C allocator (free, and the old block of a realloc) while a test is
 * "armed" is searched for the test's secrets: a document's plaintext, a
 * private key (its PEM text and its private exponent and prime), a
 * passphrase, the S3 secret, the session token and the SigV4 signing key.
 * Whatever the library (or OpenSSL under it) frees must have been wiped.
 *
 * How blocks are seen: in a plain build this program defines free() and
 * realloc() (glibc lets a program replace them) and hands the block to
 * glibc's __libc_free / __libc_realloc after the search; as the program
 * does not export them, the calls seen are its own and the static
 * library's.  Under AddressSanitizer, the sanitizer's free hook sees every
 * block released, by OpenSSL and libcurl too.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "docstore/docstore.h"

#if defined(__SANITIZE_ADDRESS__)
#define HYGIENE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HYGIENE_ASAN 1
#endif
#endif

/* ------------------------------------------------------ the watcher */

#define MAX_NEEDLES 32
#define NEEDLE_MAX 128

typedef struct needle {
  uint8_t bytes[NEEDLE_MAX];
  size_t len;
  const char *name;
} needle;

/* Set up by the test before arming; read by the hooks.  The tests are
 * single-threaded; the flag is read by other threads only when a library
 * starts one, which these calls do not. */
static needle needles[MAX_NEEDLES];
static size_t n_needles;
static volatile int armed;
static size_t hits[MAX_NEEDLES];
static size_t blocks_seen;

static void search(const void *p, size_t n) {
  if (!armed || !p || !n)
    return;
  blocks_seen++;
  for (size_t i = 0; i < n_needles; i++)
    if (memmem(p, n, needles[i].bytes, needles[i].len))
      hits[i]++;
}

#ifdef HYGIENE_ASAN
/* From <sanitizer/allocator_interface.h>, which gcc does not install. */
int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);

static void on_free(const volatile void *p) {
  search((const void *)p, __sanitizer_get_allocated_size((const void *)p));
}
static void on_malloc(const volatile void *p, size_t n) { (void)p, (void)n; }

static void install_hooks(void) {
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
extern void __libc_free(void *p);
extern void *__libc_realloc(void *p, size_t n);

void free(void *p) {
  if (p)
    search(p, malloc_usable_size(p));
  __libc_free(p);
}

/* A realloc that moves the block leaves the old bytes behind unwiped: a
 * secret must never be in a block that is realloc()ed. */
void *realloc(void *p, size_t n) {
  if (p)
    search(p, malloc_usable_size(p));
  return __libc_realloc(p, n);
}

static void install_hooks(void) {}
#endif

static void add_needle(const char *name, const void *p, size_t n) {
  assert_true(n_needles < MAX_NEEDLES);
  assert_true(n >= 8 && n <= NEEDLE_MAX);
  memcpy(needles[n_needles].bytes, p, n);
  needles[n_needles].len = n;
  needles[n_needles].name = name;
  n_needles++;
}

static void add_needle_str(const char *name, const char *s) {
  add_needle(name, s, strlen(s));
}

static void arm(void) {
  memset(hits, 0, sizeof(hits));
  blocks_seen = 0;
  armed = 1;
}

/* Disarm and fail if any needle was found in a released block. */
static void disarm_and_check(void) {
  armed = 0;
  int bad = 0;
  for (size_t i = 0; i < n_needles; i++)
    if (hits[i]) {
      print_error("%s found in %zu released block(s)\n", needles[i].name,
                  hits[i]);
      bad = 1;
    }
  /* The watcher did see the library's blocks. */
  assert_true(blocks_seen > 0);
  assert_int_equal(bad, 0);
}

static int reset(void **state) {
  (void)state;
  armed = 0;
  n_needles = 0;
  return 0;
}

/* ----------------------------------------------------------- helpers */

static char dir[64];

static int group_setup(void **state) {
  (void)state;
  install_hooks();
  snprintf(dir, sizeof(dir), "/tmp/docstore-hygiene-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  assert_int_equal(close(fd), 0);
}

/* A 2048-bit key made with OpenSSL; its private parts as needles.  PEM
 * texts go to static buffers (never freed). */
static char pem_plain[4096], pem_encrypted[4096];
static EVP_PKEY *pkey;

#ifndef HYGIENE_ASAN
static void bn_needle(const char *name, const char *param) {
  BIGNUM *bn = NULL;
  uint8_t bin[512];
  assert_int_equal(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);
  int n = BN_bn2bin(bn, bin);
  assert_true(n >= 64);
  add_needle(name, bin + 8, 32); /* 32 bytes from inside the number */
  BN_clear_free(bn);
  OPENSSL_cleanse(bin, sizeof(bin));
}
#endif

static void pem_to(char *out, size_t cap, const char *passphrase) {
  BIO *bio = BIO_new(BIO_s_mem());
  assert_non_null(bio);
  assert_int_equal(PEM_write_bio_PKCS8PrivateKey(
                       bio, pkey, passphrase ? EVP_aes_256_cbc() : NULL,
                       passphrase, passphrase ? (int)strlen(passphrase) : 0,
                       NULL, NULL),
                   1);
  char *data = NULL;
  long n = BIO_get_mem_data(bio, &data);
  assert_true(n > 0 && (size_t)n < cap);
  memcpy(out, data, (size_t)n);
  out[n] = '\0';
  BIO_free(bio);
}

#define PASSPHRASE "hygiene passphrase-Wq3Ty7-lantern"

static void make_key(void) {
  if (!pkey) {
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(pkey);
    pem_to(pem_plain, sizeof(pem_plain), NULL);
    pem_to(pem_encrypted, sizeof(pem_encrypted), PASSPHRASE);
  }
#ifndef HYGIENE_ASAN
  /* The key's private numbers: only in the plain build, where the blocks
   * seen are those of the library and this program.  Under ASan every
   * free is seen, OpenSSL's too, and OpenSSL 3's key decoders (pem2der,
   * der2key) release the decoded DER of a private key with OPENSSL_free(),
   * without clearing it: upstream behaviour this library cannot change. */
  bn_needle("private exponent d", OSSL_PKEY_PARAM_RSA_D);
  bn_needle("prime p", OSSL_PKEY_PARAM_RSA_FACTOR1);
#endif
  /* The second line of the PEM: base64 of the key's DER. */
  const char *l2 = strchr(pem_plain, '\n') + 1;
  add_needle("private key PEM text", l2, 64);
  add_needle_str("passphrase", PASSPHRASE);
}

/* A plaintext that cannot occur by chance. */
static uint8_t plaintext[3000];

static void make_plaintext(void) {
  for (size_t i = 0; i < sizeof(plaintext); i++)
    plaintext[i] = (uint8_t)("PASSPORT-SCAN-Zk4Wm8-"[i % 21] ^ (i / 21));
  add_needle("plaintext (start)", plaintext, 64);
  add_needle("plaintext (middle)", plaintext + 1500, 64);
  add_needle("plaintext (end)", plaintext + sizeof(plaintext) - 64, 64);
}

/* ------------------------------------------------------------- tests */

/* Keys from files and from memory, clear and encrypted; a document sealed
 * and opened with them; a rewrap; everything freed. */
static void test_keys_and_plaintext(void **state) {
  (void)state;
  char plain_path[128], enc_path[128];
  make_key();
  make_plaintext();
  snprintf(plain_path, sizeof(plain_path), "%s/plain.pem", dir);
  snprintf(enc_path, sizeof(enc_path), "%s/enc.pem", dir);
  write_file(plain_path, pem_plain, strlen(pem_plain));
  write_file(enc_path, pem_encrypted, strlen(pem_encrypted));

  arm();
  docstore_keyring *kr = NULL;
  char errbuf[256];
  assert_int_equal(docstore_keyring_new(&kr, errbuf, sizeof(errbuf)), 0);
  assert_int_equal(
      docstore_keyring_add_private_file(kr, NULL, plain_path, NULL), 0);
  assert_int_equal(
      docstore_keyring_add_private_file(kr, NULL, enc_path, PASSPHRASE), 0);
  assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, pem_encrypted,
                                                    strlen(pem_encrypted),
                                                    PASSPHRASE),
                   0);
  /* Refusals: a wrong passphrase, no passphrase. */
  assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, pem_encrypted,
                                                    strlen(pem_encrypted),
                                                    "not the passphrase"),
                   DOCSTORE_EKEY);
  assert_int_equal(docstore_keyring_add_private_file(kr, NULL, enc_path, NULL),
                   DOCSTORE_EKEY);

  docstore_doc_id doc = {"hyg1", "7"};
  char *env = NULL;
  size_t env_len = 0;
  assert_int_equal(docstore_envelope_seal(&env, &env_len, kr, plaintext,
                                          sizeof(plaintext), &doc),
                   0);
  uint8_t *out = NULL;
  size_t out_len = 0;
  assert_int_equal(
      docstore_envelope_open(&out, &out_len, kr, env, env_len, &doc), 0);
  assert_int_equal(out_len, sizeof(plaintext));
  assert_memory_equal(out, plaintext, out_len);
  docstore_free(out);
  char *rewrapped = NULL;
  assert_int_equal(
      docstore_envelope_rewrap(&rewrapped, NULL, kr, env, env_len, NULL), 0);
  docstore_free(rewrapped);
  /* A tampered envelope: decrypted bytes are wiped before the refusal. */
  char *tag = strstr(env, "\"tag\":\"");
  assert_non_null(tag);
  tag[7] = tag[7] == 'A' ? 'B' : 'A';
  assert_int_equal(
      docstore_envelope_open(&out, &out_len, kr, env, env_len, &doc),
      DOCSTORE_EINTEGRITY);
  assert_null(out);
  docstore_free(env);
  docstore_keyring_free(kr);
  disarm_and_check();
}

/* A key pair made by the library: no block holding the private key's PEM
 * is released unwiped (by keygen itself, or by docstore_free()). */
static void test_keygen(void **state) {
  (void)state;
  add_needle_str("a private key PEM", "-----BEGIN PRIVATE KEY-----");
  add_needle_str("an encrypted private key PEM",
                 "-----BEGIN ENCRYPTED PRIVATE KEY-----");
  add_needle_str("passphrase", PASSPHRASE);
  arm();
  for (int i = 0; i < 2; i++) {
    char *pub = NULL, *priv = NULL;
    assert_int_equal(docstore_keygen(&pub, &priv, 2048, i ? PASSPHRASE : NULL),
                     0);
    assert_non_null(
        strstr(priv, i ? "ENCRYPTED PRIVATE KEY" : "BEGIN PRIVATE"));
    docstore_free(priv);
    docstore_free(pub);
  }
  disarm_and_check();
}

/* A service on local storage: store a document, read it back. */
static void test_service_read_document(void **state) {
  (void)state;
  char root[128], pub_path[128], priv_path[128];
  make_key();
  make_plaintext();
  snprintf(root, sizeof(root), "%s/storage", dir);
  snprintf(priv_path, sizeof(priv_path), "%s/svc-private.pem", dir);
  snprintf(pub_path, sizeof(pub_path), "%s/unused", dir);
  write_file(priv_path, pem_encrypted, strlen(pem_encrypted));

  arm();
  docstore_config *cfg = NULL;
  assert_int_equal(docstore_config_new(&cfg), 0);
  assert_int_equal(docstore_config_set(cfg, "LOCAL_STORAGE_PATH", root), 0);
  assert_int_equal(docstore_config_set(cfg, "RSA_PRIVATE_KEY_PATH", priv_path),
                   0);
  assert_int_equal(
      docstore_config_set(cfg, "RSA_PRIVATE_KEY_PASSPHRASE", PASSPHRASE), 0);
  docstore_service *svc = NULL;
  char errbuf[256] = "";
  int rc = docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf));
  if (rc != 0)
    fail_msg("from_config: %s", errbuf);
  docstore_config_free(cfg);
  char *path = NULL;
  assert_int_equal(docstore_service_store_document(svc, &path, "hyg2",
                                                   "scan.pdf", plaintext,
                                                   sizeof(plaintext), "9"),
                   0);
  docstore_doc_id doc = {"hyg2", "9"};
  uint8_t *out = NULL;
  size_t out_len = 0;
  assert_int_equal(
      docstore_service_read_document(svc, &out, &out_len, path, &doc), 0);
  assert_memory_equal(out, plaintext, sizeof(plaintext));
  docstore_free(out);
  /* The wrong document: refused, and what was decrypted is gone. */
  docstore_doc_id other = {"hyg3", "9"};
  assert_int_equal(
      docstore_service_read_document(svc, &out, &out_len, path, &other),
      DOCSTORE_EINTEGRITY);
  docstore_free(path);
  docstore_service_free(svc);
  disarm_and_check();
}

#define S3_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY-hyg"
#define S3_TOKEN "IQoJb3JpZ2luHygieneSessionToken-Pl5Nb2"

/* The configuration: secrets from a .env file and from set(), dumped,
 * validated, freed. */
static void test_config_secrets(void **state) {
  (void)state;
  char path[128];
  char text[512];
  add_needle_str("S3 secret", S3_SECRET);
  add_needle_str("session token", S3_TOKEN);
  add_needle_str("passphrase", PASSPHRASE);
  snprintf(path, sizeof(path), "%s/.env", dir);
  int n = snprintf(text, sizeof(text),
                   "STORAGE_TYPE=s3\nS3_BUCKET=bank-docs\n"
                   "S3_ACCESS_KEY=AKIDEXAMPLE\nS3_SECRET_KEY=%s\n"
                   "S3_SESSION_TOKEN='%s'\n"
                   "RSA_PRIVATE_KEY_PASSPHRASE=\"%s\"\n",
                   S3_SECRET, S3_TOKEN, PASSPHRASE);
  write_file(path, text, (size_t)n);

  arm();
  docstore_config *cfg = NULL;
  assert_int_equal(docstore_config_new(&cfg), 0);
  assert_int_equal(docstore_config_load_dotenv(cfg, path), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_SECRET_KEY", S3_SECRET), 0);
  assert_int_equal(docstore_config_set(cfg, "AWS_SESSION_TOKEN", S3_TOKEN), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  char *dump = NULL;
  assert_int_equal(docstore_config_dump(cfg, &dump), 0);
  docstore_free(dump);
  /* Replaced values are wiped too. */
  assert_int_equal(docstore_config_set(cfg, "S3_SECRET_KEY", "other-secret"),
                   0);
  docstore_config_free(cfg);
  disarm_and_check();
}

static void hmac(uint8_t out[32], const void *key, size_t key_len,
                 const char *msg) {
  unsigned int n = 32;
  assert_non_null(HMAC(EVP_sha256(), key, (int)key_len,
                       (const unsigned char *)msg, strlen(msg), out, &n));
}

/* The S3 provider: credentials copied, presigned URLs signed (no network),
 * everything freed.  The signing key of today (and the days around) must
 * not be left in freed memory. */
static void test_s3_credentials(void **state) {
  (void)state;
  add_needle_str("S3 secret", S3_SECRET);
  time_t now = time(NULL);
  for (int d = -1; d <= 1; d++) {
    char date[16], k0[128];
    time_t t = now + d * 86400;
    struct tm tm;
    uint8_t k[32];
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y%m%d", &tm);
    snprintf(k0, sizeof(k0), "AWS4%s", S3_SECRET);
    hmac(k, k0, strlen(k0), date);
    hmac(k, k, 32, "eu-west-3");
    hmac(k, k, 32, "s3");
    hmac(k, k, 32, "aws4_request");
    add_needle("SigV4 signing key", k, 32);
  }

  arm();
  docstore_s3_options o = DOCSTORE_S3_OPTIONS_INIT;
  o.bucket = "bank-documents";
  o.region = "eu-west-3";
  o.endpoint_url = "http://127.0.0.1:9";
  o.access_key = "AKIDEXAMPLE";
  o.secret_key = S3_SECRET;
  docstore_provider *p = NULL;
  char errbuf[256];
  assert_int_equal(docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)), 0);
  for (int i = 0; i < 3; i++) {
    char *url = NULL;
    assert_int_equal(docstore_provider_presign(p, &url, "documents/a.json",
                                               DOCSTORE_PRESIGN_GET, 600),
                     0);
    assert_non_null(strstr(url, "X-Amz-Signature="));
    docstore_free(url);
  }
  docstore_provider_free(p);
  disarm_and_check();
}

/* The watcher works: a secret freed without a wipe is found. */
static void test_watcher_finds_unwiped_block(void **state) {
  (void)state;
  add_needle_str("canary", "CANARY-never-wiped-Gh7Jk2");
  arm();
  char *leak = strdup("xx CANARY-never-wiped-Gh7Jk2 xx");
  assert_non_null(leak);
  free(leak);
  armed = 0;
  assert_int_equal(hits[0], 1);
  /* ...and a wiped one is not. */
  arm();
  char *ok = docstore_malloc(64);
  assert_non_null(ok);
  strcpy(ok, "xx CANARY-never-wiped-Gh7Jk2 xx");
  docstore_free(ok);
  disarm_and_check();
}

int main(void) {
#define T(fn) cmocka_unit_test_setup(fn, reset)
  const struct CMUnitTest tests[] = {
      T(test_watcher_finds_unwiped_block),
      T(test_keys_and_plaintext),
      T(test_keygen),
      T(test_service_read_document),
      T(test_config_secrets),
      T(test_s3_credentials),
  };
  int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
  EVP_PKEY_free(pkey);
  return rc;
}
