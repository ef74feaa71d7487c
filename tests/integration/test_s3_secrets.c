/*
 * No secret in a log line or an error message, on S3 (label `s3`).
 *
 * A log callback at DOCSTORE_LOG_DEBUG keeps every line; after every call
 * the test also keeps the messages of every handle (service, provider,
 * config, keyring) and the thread's last error, and the texts the library
 * hands back (config dump, check reports).  The run goes through a service
 * from a configuration with an S3 secret, a session token and an encrypted
 * private key; store / read / retrieve / exists / list / presign / check /
 * delete; a multipart upload; a wrong secret (Swift's SignatureDoesNotMatch
 * body carries the StringToSign, the CanonicalRequest and the signature
 * provided); a wrong passphrase; a fallback to a legacy file after a failed
 * read; invalid settings.  None of what was kept may contain the secrets,
 * the token, the passphrases, an Authorization header, a signature (from
 * a header or a presigned URL), the private key PEM or the SigV4 signing
 * key in hex.  Needs tools/with-test-servers.sh (fails without S3_*).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "docstore/docstore.h"
#include "s3_itest.h"

static itest_env env;

/* Values that must never be shown.  The real secret comes from the test
 * server; the others are made up (Swift ignores the session token). */
#define WRONG_SECRET "Wr0ngSecretValue-QqZz-7c1f9e0d2b"
#define SESSION_TOKEN "IQoJb3JpZ2luSessionTokenValue-K8vXw2-e5a3f7"
#define PASSPHRASE "passphrase Value-Hj4Lm9-battery"
#define WRONG_PASSPHRASE "wrong passphrase-Vn3Tb8"

/* --------------------------------------------------------- collection */

/* Every text the library produced: log lines and messages, labelled. */
typedef struct seen_text {
  char *what;
  char *text;
} seen_text;

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static seen_text *seen;
static size_t n_seen, cap_seen;
static size_t n_log_lines, n_debug_lines;

static void keep(const char *what, const char *text) {
  if (!text)
    return;
  pthread_mutex_lock(&seen_lock);
  if (n_seen == cap_seen) {
    cap_seen = cap_seen ? cap_seen * 2 : 256;
    seen = realloc(seen, cap_seen * sizeof(*seen));
    assert_non_null(seen);
  }
  seen[n_seen].what = strdup(what);
  seen[n_seen].text = strdup(text);
  assert_non_null(seen[n_seen].what);
  assert_non_null(seen[n_seen].text);
  n_seen++;
  pthread_mutex_unlock(&seen_lock);
}

static void on_log(void *payload, int level, const char *message) {
  (void)payload;
  keep("log line", message);
  pthread_mutex_lock(&seen_lock);
  n_log_lines++;
  n_debug_lines += level == DOCSTORE_LOG_DEBUG;
  pthread_mutex_unlock(&seen_lock);
}

/* Keep one message, labelled "<step>: <source>". */
static void keep_from(const char *step, const char *source, const char *text) {
  char what[160];
  snprintf(what, sizeof(what), "%s: %s", step, source);
  keep(what, text);
}

/* The messages of every handle in reach, and the thread's last error. */
static void keep_errors(const char *step, docstore_service *svc,
                        docstore_provider *p, const docstore_config *cfg,
                        const docstore_keyring *kr) {
  keep_from(step, "docstore_last_errmsg", docstore_last_errmsg());
  if (svc)
    keep_from(step, "docstore_service_errmsg", docstore_service_errmsg(svc));
  if (p)
    keep_from(step, "docstore_provider_errmsg", docstore_provider_errmsg(p));
  if (cfg)
    keep_from(step, "docstore_config_errmsg", docstore_config_errmsg(cfg));
  if (kr)
    keep_from(step, "docstore_keyring_errmsg", docstore_keyring_errmsg(kr));
}

static int seen_contains(const char *needle) {
  for (size_t i = 0; i < n_seen; i++)
    if (strstr(seen[i].text, needle))
      return 1;
  return 0;
}

/* ----------------------------------------------------------- needles */

typedef struct needles {
  char *v[64];
  size_t n;
} needles;

static void add_needle(needles *nd, const char *s) {
  assert_true(nd->n < sizeof(nd->v) / sizeof(nd->v[0]));
  assert_true(strlen(s) >= 6); /* a short needle would match by chance */
  nd->v[nd->n] = strdup(s);
  assert_non_null(nd->v[nd->n]);
  nd->n++;
}

static void needles_free(needles *nd) {
  for (size_t i = 0; i < nd->n; i++)
    free(nd->v[i]);
  nd->n = 0;
}

static void hmac(uint8_t out[32], const uint8_t *key, size_t key_len,
                 const char *msg) {
  unsigned int n = 32;
  assert_non_null(HMAC(EVP_sha256(), key, (int)key_len,
                       (const unsigned char *)msg, strlen(msg), out, &n));
  assert_int_equal(n, 32);
}

/* The SigV4 signing key of `secret` on the UTC day of t, in hex. */
static void signing_key_hex(char out[65], const char *secret, time_t t) {
  char date[16], k0[256];
  struct tm tm;
  uint8_t k[32];
  gmtime_r(&t, &tm);
  strftime(date, sizeof(date), "%Y%m%d", &tm);
  snprintf(k0, sizeof(k0), "AWS4%s", secret);
  hmac(k, (const uint8_t *)k0, strlen(k0), date);
  hmac(k, k, 32, env.region);
  hmac(k, k, 32, "s3");
  hmac(k, k, 32, "aws4_request");
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", k[i]);
}

/* Signing keys of both secrets for yesterday, today and tomorrow (the run
 * may cross midnight; the server's clock may differ a little). */
static void add_signing_keys(needles *nd) {
  const char *secrets[] = {env.secret_key, WRONG_SECRET};
  time_t now = time(NULL);
  for (size_t s = 0; s < 2; s++)
    for (int d = -1; d <= 1; d++) {
      char hex[65];
      signing_key_hex(hex, secrets[s], now + d * 86400);
      add_needle(nd, hex);
    }
}

/* Every full line of a PEM's body (base64 of the key). */
static void add_pem_lines(needles *nd, const char *pem) {
  const char *p = pem;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 64 && strncmp(p, "-----", 5) != 0) {
      char line[65];
      memcpy(line, p, 64);
      line[64] = '\0';
      add_needle(nd, line);
    }
    p += n + (e != NULL);
  }
}

/* The value of `name=` in a URL's query (malloc'd), or NULL. */
static char *query_value(const char *url, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = strchr(url, '?'); p; p = strchr(p + 1, '&')) {
    if (strncmp(p + 1, name, nl) == 0 && p[1 + nl] == '=') {
      const char *v = p + 2 + nl;
      return strndup(v, strcspn(v, "&"));
    }
  }
  return NULL;
}

/* A run of 64 or more hex digits not preceded by "sha256:" (a key id):
 * the shape of a signature or a signing key. */
static const char *long_hex_run(const char *s) {
  for (const char *p = s; *p;) {
    if (!isxdigit((unsigned char)*p)) {
      p++;
      continue;
    }
    const char *q = p;
    while (isxdigit((unsigned char)*q))
      q++;
    int key_id = p - s >= 7 && strncmp(p - 7, "sha256:", 7) == 0;
    if (q - p >= 64 && !key_id)
      return p;
    p = q;
  }
  return NULL;
}

static void assert_nothing_leaked(const needles *nd) {
  static const char *const markers[] = {
      "X-Amz-Signature=", "Signature=",           "AWS4-HMAC-SHA256",
      "StringToSign",     "CanonicalRequest",     "SignatureProvided",
      "Authorization",    "X-Amz-Security-Token", "x-amz-security-token",
      "PRIVATE KEY",      "aws4_request",
  };
  int bad = 0;
  for (size_t i = 0; i < n_seen; i++) {
    const char *t = seen[i].text;
    for (size_t k = 0; k < nd->n; k++)
      if (strstr(t, nd->v[k])) {
        print_error("LEAK in %s: a secret value (needle %zu): %s\n",
                    seen[i].what, k, t);
        bad++;
      }
    for (size_t k = 0; k < sizeof(markers) / sizeof(markers[0]); k++)
      if (strstr(t, markers[k])) {
        print_error("LEAK in %s: '%s': %s\n", seen[i].what, markers[k], t);
        bad++;
      }
    if (long_hex_run(t)) {
      print_error("LEAK in %s: a 64-hex-digit run: %s\n", seen[i].what, t);
      bad++;
    }
  }
  assert_int_equal(bad, 0);
}

/* --------------------------------------------------------- fixtures */

typedef struct run {
  char *dir;
  char pub_path[512], priv_path[512], env_path[512], legacy_dir[512];
  char *priv_pem;
  needles nd;
} run;

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_true(fputs(text, f) >= 0);
  assert_int_equal(fclose(f), 0);
}

/* A .env with every secret, S3 multipart from 5 MiB, debug logging. */
static void write_env_file(const run *r, const char *secret,
                           const char *passphrase) {
  FILE *f = fopen(r->env_path, "w");
  assert_non_null(f);
  fprintf(f,
          "STORAGE_TYPE=s3\n"
          "S3_BUCKET=%s\n"
          "S3_REGION=%s\n"
          "S3_ENDPOINT_URL=%s\n"
          "S3_ACCESS_KEY=%s\n"
          "S3_SECRET_KEY=%s\n"
          "S3_SESSION_TOKEN=%s\n"
          "S3_MULTIPART_THRESHOLD=5MiB\n"
          "S3_MULTIPART_PART_SIZE=5MiB\n"
          "S3_MAX_ATTEMPTS=2\n"
          "S3_RETRY_BASE_MS=10\n"
          "S3_RETRY_MAX_MS=20\n"
          "RSA_PUBLIC_KEY_PATH=%s\n"
          "RSA_PRIVATE_KEY_PATH=%s\n"
          "RSA_PRIVATE_KEY_PASSPHRASE=\"%s\"\n"
          "DOCSTORE_LEGACY_ROOT=%s\n"
          "DOCSTORE_LOG_LEVEL=debug\n",
          env.bucket, env.region, env.endpoint, env.access_key, secret,
          SESSION_TOKEN, r->pub_path, r->priv_path, passphrase, r->legacy_dir);
  assert_int_equal(fclose(f), 0);
}

static docstore_config *load_config(const run *r) {
  docstore_config *cfg = NULL;
  assert_int_equal(docstore_config_new(&cfg), 0);
  int rc = docstore_config_load_dotenv(cfg, r->env_path);
  keep_errors("load .env", NULL, NULL, cfg, NULL);
  if (rc != 0)
    fail_msg(".env: %s", docstore_config_errmsg(cfg));
  char *dump = NULL;
  assert_int_equal(docstore_config_dump(cfg, &dump), 0);
  keep("config dump", dump);
  assert_non_null(strstr(dump, "S3_SECRET_KEY=****"));
  assert_non_null(strstr(dump, "S3_SESSION_TOKEN=****"));
  assert_non_null(strstr(dump, "RSA_PRIVATE_KEY_PASSPHRASE=****"));
  docstore_free(dump);
  return cfg;
}

static int group_setup(void **state) {
  run *r = calloc(1, sizeof(*r));
  if (!r || itest_env_load(&env) < 0)
    return -1;
  r->dir = itest_tmpdir();
  snprintf(r->pub_path, sizeof(r->pub_path), "%s/public.pem", r->dir);
  snprintf(r->priv_path, sizeof(r->priv_path), "%s/private.pem", r->dir);
  snprintf(r->env_path, sizeof(r->env_path), "%s/.env", r->dir);
  snprintf(r->legacy_dir, sizeof(r->legacy_dir), "%s/legacy", r->dir);
  char *pub = NULL;
  if (docstore_keygen(&pub, &r->priv_pem, 2048, PASSPHRASE) != 0)
    return -1;
  write_text(r->pub_path, pub);
  write_text(r->priv_path, r->priv_pem);
  docstore_free(pub);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", r->legacy_dir);
  if (system(cmd) != 0)
    return -1;

  add_needle(&r->nd, env.secret_key);
  add_needle(&r->nd, WRONG_SECRET);
  add_needle(&r->nd, SESSION_TOKEN);
  add_needle(&r->nd, PASSPHRASE);
  add_needle(&r->nd, WRONG_PASSPHRASE);
  add_pem_lines(&r->nd, r->priv_pem);
  add_signing_keys(&r->nd);
  docstore_set_log_callback(on_log, NULL, DOCSTORE_LOG_DEBUG);
  *state = r;
  return 0;
}

static int group_teardown(void **state) {
  run *r = *state;
  docstore_set_log_callback(NULL, NULL, 0);
  if (r) {
    itest_rmtree(r->dir);
    free(r->dir);
    docstore_free(r->priv_pem);
    needles_free(&r->nd);
    free(r);
  }
  for (size_t i = 0; i < n_seen; i++) {
    free(seen[i].what);
    free(seen[i].text);
  }
  free(seen);
  seen = NULL;
  n_seen = cap_seen = 0;
  return 0;
}

/* ------------------------------------------------------------ steps */

static int count_cb(void *payload, const docstore_object_info *info) {
  (void)info;
  (*(int *)payload)++;
  return 0;
}

/* Everything a service does on S3, with the right credentials. */
static void service_round(run *r) {
  write_env_file(r, env.secret_key, PASSPHRASE);
  docstore_config *cfg = load_config(r);
  docstore_service *svc = NULL;
  char errbuf[512] = "";
  int rc = docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf));
  keep("from_config errbuf", errbuf);
  if (rc != 0)
    fail_msg("from_config: %s", errbuf);
  docstore_provider *p = docstore_service_provider(svc);
  docstore_keyring *kr = docstore_service_keyring(svc);

  /* A small document and one large enough for a multipart upload (its
   * envelope, v2: the document + 16 bytes a segment, is over 5 MiB). */
  static const uint8_t small[] = "passport scan";
  size_t big_len = 6u * 1024 * 1024 + 123;
  uint8_t *big = malloc(big_len);
  assert_non_null(big);
  itest_fill(big, big_len, 7);
  char *path = NULL, *big_path = NULL;
  rc = docstore_service_store_document(svc, &path, "secrets1", "scan.pdf",
                                       small, sizeof(small), "42");
  keep_errors("store", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  rc = docstore_service_store_document(svc, &big_path, "secrets2", "big.pdf",
                                       big, big_len, "42");
  keep_errors("store (multipart)", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  assert_true(seen_contains("multipart upload"));

  uint8_t *doc = NULL;
  size_t doc_len = 0;
  rc = docstore_service_read_document(svc, &doc, &doc_len, big_path, NULL);
  keep_errors("read", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  assert_int_equal(doc_len, big_len);
  assert_memory_equal(doc, big, big_len);
  docstore_free(doc);
  free(big);

  char *envl = NULL;
  size_t envl_len = 0;
  rc = docstore_service_retrieve_encrypted(svc, &envl, &envl_len, path);
  keep_errors("retrieve", svc, p, cfg, kr);
  assert_int_equal(rc, 0);

  int exists = 0;
  rc = docstore_service_exists(svc, &exists, NULL, path);
  keep_errors("exists", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  assert_int_equal(exists, 1);

  int listed = 0;
  rc = docstore_service_list(svc, "documents/user_42/", count_cb, &listed);
  keep_errors("list", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  assert_true(listed >= 2);

  /* A presigned URL carries a signature and the token by design; neither
   * may reach a log line. */
  char *url = NULL;
  rc = docstore_service_presign(svc, &url, path, 3600);
  keep_errors("presign", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  char *sig = query_value(url, "X-Amz-Signature");
  assert_non_null(sig);
  assert_int_equal(strlen(sig), 64);
  add_needle(&r->nd, sig);
  free(sig);
  char *body = NULL;
  size_t body_len = 0;
  assert_int_equal(itest_curl_n(url, NULL, &body, &body_len), 200);
  assert_int_equal(body_len, envl_len);
  free(body);
  docstore_free(url);
  docstore_free(envl);

  char *report = NULL;
  rc = docstore_service_check(svc, &report);
  keep_errors("check", svc, p, cfg, kr);
  keep("check report", report);
  assert_int_equal(rc, 0);
  docstore_free(report);

  /* A fallback: the object is gone, the legacy file is read. */
  rc = docstore_service_delete(svc, path);
  keep_errors("delete", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  char legacy[600];
  snprintf(legacy, sizeof(legacy), "%s/old.json", r->legacy_dir);
  write_text(legacy, "{\"legacy\":1}");
  rc = docstore_service_retrieve_fallback(svc, &envl, &envl_len, path,
                                          "old.json");
  keep_errors("fallback", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  docstore_free(envl);
  assert_true(seen_contains("falling back to local"));

  rc = docstore_service_delete(svc, big_path);
  keep_errors("delete (multipart)", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  docstore_free(path);
  docstore_free(big_path);
  docstore_service_free(svc);
  docstore_config_free(cfg);
}

/* The same with a wrong secret: every call is refused by the server with
 * SignatureDoesNotMatch, whose body holds the StringToSign, the
 * CanonicalRequest and the signature. */
static void wrong_secret_round(run *r) {
  write_env_file(r, WRONG_SECRET, PASSPHRASE);
  docstore_config *cfg = load_config(r);
  docstore_service *svc = NULL;
  char errbuf[512] = "";
  int rc = docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf));
  keep("from_config errbuf", errbuf);
  assert_int_equal(rc, 0);
  docstore_provider *p = docstore_service_provider(svc);
  docstore_keyring *kr = docstore_service_keyring(svc);

  static const uint8_t small[] = "licence scan";
  char *path = NULL;
  rc = docstore_service_store_document(svc, &path, "secrets3", "l.pdf", small,
                                       sizeof(small), NULL);
  keep_errors("store, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, DOCSTORE_EACCESS);
  assert_non_null(
      strstr(docstore_service_errmsg(svc), "SignatureDoesNotMatch"));

  /* Multipart with the wrong secret: refused at the first request. */
  size_t big_len = 6u * 1024 * 1024;
  uint8_t *big = calloc(1, big_len);
  assert_non_null(big);
  rc = docstore_provider_put(p, "documents/secrets-multipart.json", big,
                             big_len);
  keep_errors("multipart put, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, DOCSTORE_EACCESS);
  free(big);

  uint8_t *doc = NULL;
  size_t doc_len = 0;
  rc = docstore_service_read_document(
      svc, &doc, &doc_len, "documents/system/2024/01/01/x_y_z.json", NULL);
  keep_errors("read, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, DOCSTORE_EACCESS);

  int listed = 0;
  rc = docstore_service_list(svc, "documents/", count_cb, &listed);
  keep_errors("list, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, DOCSTORE_EACCESS);

  int exists = 0;
  rc = docstore_service_exists(svc, &exists, NULL,
                               "documents/system/2024/01/01/x_y_z.json");
  keep_errors("exists, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, DOCSTORE_EACCESS);

  rc = docstore_service_delete(svc, "documents/system/2024/01/01/x_y_z.json");
  keep_errors("delete, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, DOCSTORE_EACCESS);

  char *report = NULL;
  rc = docstore_service_check(svc, &report);
  keep_errors("check, wrong secret", svc, p, cfg, kr);
  keep("check report, wrong secret", report);
  assert_int_equal(rc, DOCSTORE_EACCESS);
  docstore_free(report);

  /* The refusal is logged as the reason for the fallback. */
  char *envl = NULL;
  size_t envl_len = 0;
  rc = docstore_service_retrieve_fallback(
      svc, &envl, &envl_len, "documents/system/2024/01/01/x_y_z.json",
      "old.json");
  keep_errors("fallback, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, 0);
  docstore_free(envl);
  /* Both sides failing: the message holds both reasons. */
  rc = docstore_service_retrieve_fallback(
      svc, &envl, &envl_len, "documents/system/2024/01/01/x_y_z.json",
      "missing.json");
  keep_errors("fallback fails, wrong secret", svc, p, cfg, kr);
  assert_int_equal(rc, DOCSTORE_EACCESS);
  assert_non_null(
      strstr(docstore_service_errmsg(svc), "SignatureDoesNotMatch"));

  docstore_service_free(svc);
  docstore_config_free(cfg);
}

/* Key and configuration failures: wrong passphrase, invalid secrets. */
static void key_and_config_failures(run *r) {
  write_env_file(r, env.secret_key, WRONG_PASSPHRASE);
  docstore_config *cfg = load_config(r);
  docstore_service *svc = NULL;
  char errbuf[512] = "";
  int rc = docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf));
  keep("from_config errbuf, wrong passphrase", errbuf);
  keep_errors("from_config, wrong passphrase", NULL, NULL, cfg, NULL);
  assert_int_equal(rc, DOCSTORE_EKEY);
  assert_non_null(strstr(errbuf, "passphrase"));
  docstore_config_free(cfg);

  docstore_keyring *kr = NULL;
  assert_int_equal(docstore_keyring_new(&kr, errbuf, sizeof(errbuf)), 0);
  rc = docstore_keyring_add_private_file(kr, NULL, r->priv_path,
                                         WRONG_PASSPHRASE);
  keep_errors("keyring, wrong passphrase", NULL, NULL, NULL, kr);
  assert_int_equal(rc, DOCSTORE_EKEY);
  rc = docstore_keyring_add_private_pem(kr, NULL, r->priv_pem,
                                        strlen(r->priv_pem), NULL);
  keep_errors("keyring, no passphrase", NULL, NULL, NULL, kr);
  assert_int_equal(rc, DOCSTORE_EKEY);
  /* A public key given where a private one is expected, and the reverse:
   * the messages describe the PEM, never quote it. */
  rc = docstore_keyring_add_public_pem(kr, NULL, r->priv_pem,
                                       strlen(r->priv_pem));
  keep_errors("keyring, private PEM as public", NULL, NULL, NULL, kr);
  assert_int_equal(rc, DOCSTORE_EKEY);
  docstore_keyring_free(kr);

  /* Invalid values of secret settings are refused without being shown. */
  assert_int_equal(docstore_config_new(&cfg), 0);
  rc = docstore_config_set(cfg, "S3_SECRET_KEY", WRONG_SECRET " with space");
  keep_errors("config, bad secret", NULL, NULL, cfg, NULL);
  assert_int_equal(rc, DOCSTORE_ECONFIG);
  rc = docstore_config_set(cfg, "S3_SESSION_TOKEN", SESSION_TOKEN "\x01");
  keep_errors("config, bad token", NULL, NULL, cfg, NULL);
  assert_int_equal(rc, DOCSTORE_ECONFIG);
  rc = docstore_config_set(cfg, "RSA_PRIVATE_KEY_PASSPHRASE", PASSPHRASE "\n");
  keep_errors("config, bad passphrase", NULL, NULL, cfg, NULL);
  assert_int_equal(rc, DOCSTORE_ECONFIG);
  /* A secret given as the value of an unrelated or unknown setting. */
  rc = docstore_config_set(cfg, "S3_ACCESS_KEY", WRONG_SECRET "\x7f");
  keep_errors("config, bad access key", NULL, NULL, cfg, NULL);
  assert_int_equal(rc, DOCSTORE_ECONFIG);
  rc = docstore_config_set(cfg, "S3_ENDPOINT_URL",
                           "http://user:" WRONG_SECRET "@127.0.0.1:1/");
  keep_errors("config, URL with a password", NULL, NULL, cfg, NULL);
  assert_int_equal(rc, DOCSTORE_ECONFIG);
  docstore_config_free(cfg);

  /* The same URL given to the S3 constructor directly. */
  docstore_s3_options o = itest_options(&env);
  o.endpoint_url = "http://user:" WRONG_SECRET "@127.0.0.1:1";
  o.session_token = SESSION_TOKEN;
  docstore_provider *p = NULL;
  rc = docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf));
  keep("s3_provider_new errbuf, URL with a password", errbuf);
  keep_errors("s3_provider_new, URL with a password", NULL, NULL, NULL, NULL);
  assert_int_equal(rc, DOCSTORE_ECONFIG);
  assert_null(p);
}

/* ------------------------------------------------------------- test */

static void test_no_secret_in_logs_or_messages(void **state) {
  run *r = *state;
  service_round(r);
  wrong_secret_round(r);
  key_and_config_failures(r);

  /* The run did log at every level and did meet the failures. */
  assert_true(n_debug_lines > 20);
  assert_true(seen_contains("S3 storage initialized"));
  assert_true(seen_contains("SignatureDoesNotMatch"));
  assert_true(seen_contains("wrong passphrase"));
  assert_true(n_seen > n_log_lines);
  assert_nothing_leaked(&r->nd);
}

/* The checker itself: each kind of leak is found. */
static void test_checker_finds_leaks(void **state) {
  run *r = *state;
  assert_non_null(long_hex_run("sig 0123456789abcdef0123456789abcdef"
                               "0123456789abcdef0123456789abcdef end"));
  assert_null(long_hex_run("key id sha256:0123456789abcdef0123456789abcd"
                           "ef0123456789abcdef0123456789abcdef"));
  assert_null(long_hex_run("etag 0123456789abcdef0123456789abcdef"));
  char *v =
      query_value("https://h/k?a=1&X-Amz-Signature=abc&b=2", "X-Amz-Signature");
  assert_string_equal(v, "abc");
  free(v);
  /* The signing key of the AWS SigV4 documentation's example. */
  uint8_t k[32];
  const char *k0 = "AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  hmac(k, (const uint8_t *)k0, strlen(k0), "20150830");
  hmac(k, k, 32, "us-east-1");
  hmac(k, k, 32, "iam");
  hmac(k, k, 32, "aws4_request");
  static const uint8_t want[] = {
      0xc4, 0xaf, 0xb1, 0xcc, 0x57, 0x71, 0xd8, 0x71, 0x76, 0x3a, 0x39,
      0x3e, 0x44, 0xb7, 0x03, 0x57, 0x1b, 0x55, 0xcc, 0x28, 0x42, 0x4d,
      0x1a, 0x5e, 0x86, 0xda, 0x6e, 0xd3, 0xc1, 0x54, 0xa4, 0xb9};
  assert_memory_equal(k, want, 32);
  assert_true(r->nd.n >= 5 + 6);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_checker_finds_leaks),
      cmocka_unit_test(test_no_secret_in_logs_or_messages),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
