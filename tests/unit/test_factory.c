/*
 * Tests for the factory (src/service/factory.c):
 * docstore_service_from_config().
 * SPDX-License-Identifier: Apache-2.0
 *
 * Provider choice and its log line, key files (missing, wrong passphrase,
 * rotation order), DOCSTORE_LEGACY_ROOT, DOCSTORE_LOG_LEVEL, S3 options
 * and errors passed through with the variable named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docstore/docstore.h"
#include "internal.h"

static char tmpdir[256];
static char pub_path[512], priv_path[512], enc_priv_path[512], pub2_path[512];
static const char *passphrase = "factory test passphrase";

/* ------------------------------------------------------- log capture */

static char logbuf[16384];
static size_t loglen;

static void capture(void *payload, int level, const char *message) {
  (void)payload;
  int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%d:%s\n", level,
                   message);
  if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
    loglen += (size_t)n;
}

static void log_reset(int level) {
  loglen = 0;
  logbuf[0] = '\0';
  docstore_set_log_callback(capture, NULL, level);
}

/* ----------------------------------------------------------- helpers */

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state) {
  char *pub = NULL, *priv = NULL, *pub2 = NULL, *priv2 = NULL, *enc = NULL,
       *pub3 = NULL;
  (void)state;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/docstore-test-factory-XXXXXX");
  if (!mkdtemp(tmpdir))
    return -1;
  snprintf(pub_path, sizeof(pub_path), "%s/public.pem", tmpdir);
  snprintf(priv_path, sizeof(priv_path), "%s/private.pem", tmpdir);
  snprintf(enc_priv_path, sizeof(enc_priv_path), "%s/private-enc.pem", tmpdir);
  snprintf(pub2_path, sizeof(pub2_path), "%s/public2.pem", tmpdir);
  if (docstore_keygen(&pub, &priv, 2048, NULL) < 0 ||
      docstore_keygen(&pub2, &priv2, 2048, NULL) < 0 ||
      docstore_keygen(&pub3, &enc, 2048, passphrase) < 0)
    return -1;
  write_text(pub_path, pub);
  write_text(priv_path, priv);
  write_text(pub2_path, pub2);
  write_text(enc_priv_path, enc);
  docstore_free(pub);
  docstore_free(priv);
  docstore_free(pub2);
  docstore_free(priv2);
  docstore_free(pub3);
  docstore_free(enc);
  return 0;
}

static int group_teardown(void **state) {
  char cmd[600];
  (void)state;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A fresh configuration with local storage under a new folder. */
static int setup(void **state) {
  static int n;
  char root[600];
  docstore_config *cfg = NULL;
  if (docstore_config_new(&cfg) < 0)
    return -1;
  snprintf(root, sizeof(root), "%s/root%d/", tmpdir, n++);
  if (docstore_config_set(cfg, "LOCAL_STORAGE_PATH", root) < 0)
    return -1;
  log_reset(DOCSTORE_LOG_DEBUG);
  *state = cfg;
  return 0;
}

static int teardown(void **state) {
  docstore_config_free(*state);
  docstore_set_log_callback(NULL, NULL, 0);
  return 0;
}

static void set(docstore_config *cfg, const char *name, const char *value) {
  if (docstore_config_set(cfg, name, value) < 0)
    fail_msg("%s: %s", name, docstore_config_errmsg(cfg));
}

/* -------------------------------------------------------------- tests */

static void test_null_arguments(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = (docstore_service *)1;
  char err[256];
  assert_int_equal(docstore_service_from_config(NULL, cfg, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(err, "out is NULL"));
  assert_int_equal(docstore_service_from_config(&svc, NULL, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_null(svc);
  assert_non_null(strstr(err, "cfg is NULL"));
  /* errbuf is optional. */
  assert_int_equal(docstore_service_from_config(&svc, NULL, NULL, 0),
                   DOCSTORE_EINVAL);
}

static void test_local_default(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[256] = "";
  char expect[700];
  const char *root = docstore_config_get(cfg, "LOCAL_STORAGE_PATH");
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_non_null(svc);
  assert_string_equal(docstore_service_storage_type(svc), "local");
  assert_null(docstore_service_keyring(svc)); /* no key configured */
  snprintf(expect, sizeof(expect), "%d:Local storage initialized: path=%s\n",
           DOCSTORE_LOG_INFO, root);
  assert_non_null(strstr(logbuf, expect));
  struct stat st;
  assert_int_equal(stat(root, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  /* Without keys, envelopes can still be stored. */
  int exists = 1;
  assert_int_equal(
      docstore_service_exists(svc, &exists, NULL, "documents/none.json"), 0);
  assert_int_equal(exists, 0);
  docstore_service_free(svc);
}

static void test_invalid_config(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[512] = "";
  set(cfg, "STORAGE_TYPE", "s3");
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   DOCSTORE_ECONFIG);
  assert_null(svc);
  assert_non_null(strstr(err, "S3_BUCKET is not set"));
  assert_int_equal(docstore_last_errcode(), DOCSTORE_ECONFIG);
  set(cfg, "S3_BUCKET", "bank-documents");
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   DOCSTORE_ECONFIG);
  assert_non_null(
      strstr(err, "S3_ACCESS_KEY (or AWS_ACCESS_KEY_ID) is not set"));
  assert_null(strstr(logbuf, "initialized"));
}

static void test_local_root_unusable(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[512] = "", file[600];
  snprintf(file, sizeof(file), "%s/a-file", tmpdir);
  write_text(file, "not a folder");
  set(cfg, "LOCAL_STORAGE_PATH", file);
  int rc = docstore_service_from_config(&svc, cfg, err, sizeof(err));
  assert_true(rc < 0);
  assert_null(svc);
  assert_non_null(strstr(err, "LOCAL_STORAGE_PATH="));
  assert_null(strstr(logbuf, "Local storage initialized"));
}

static void test_s3_provider(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[512] = "";
  set(cfg, "STORAGE_TYPE", "s3");
  set(cfg, "S3_BUCKET", "bank-documents");
  set(cfg, "S3_ACCESS_KEY", "AKIA1234567890ABCDEF");
  set(cfg, "S3_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  /* No request is made at construction. */
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_string_equal(docstore_service_storage_type(svc), "s3");
  assert_non_null(strstr(logbuf, "S3 storage initialized: "
                                 "bucket=bank-documents, endpoint=None\n"));
  assert_null(strstr(logbuf, "bPxRfiCYEXAMPLEKEY"));
  docstore_service_free(svc);

  set(cfg, "S3_ENDPOINT_URL", "http://127.0.0.1:9");
  loglen = 0;
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_non_null(strstr(logbuf, "S3 storage initialized: "
                                 "bucket=bank-documents, "
                                 "endpoint=http://127.0.0.1:9\n"));
  docstore_service_free(svc);

  /* S3_VERIFY_TLS=false on https: a warning. */
  set(cfg, "S3_ENDPOINT_URL", "https://127.0.0.1:9");
  set(cfg, "S3_VERIFY_TLS", "false");
  loglen = 0;
  logbuf[0] = '\0';
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  char warn_prefix[8];
  snprintf(warn_prefix, sizeof(warn_prefix), "%d:", DOCSTORE_LOG_WARN);
  const char *w = strstr(logbuf, "TLS");
  assert_non_null(w);
  while (w > logbuf && w[-1] != '\n')
    w--;
  assert_int_equal(strncmp(w, warn_prefix, strlen(warn_prefix)), 0);
  docstore_service_free(svc);

  /* A provider error is passed through, naming STORAGE_TYPE=s3. */
  set(cfg, "S3_VERIFY_TLS", NULL);
  set(cfg, "S3_ENDPOINT_URL", NULL);
  set(cfg, "S3_BUCKET", "Bad_Bucket");
  set(cfg, "S3_ADDRESSING_STYLE", "virtual");
  int rc = docstore_service_from_config(&svc, cfg, err, sizeof(err));
  assert_true(rc < 0);
  assert_null(svc);
  assert_non_null(strstr(err, "STORAGE_TYPE=s3: "));
  assert_null(strstr(err, "bPxRfiCYEXAMPLEKEY"));
}

/* docstore_provider_from_config(): the provider alone, from the same
 * settings, so that bindings need not fill docstore_s3_options. */
static void test_provider_from_config(void **state) {
  docstore_config *cfg = *state;
  docstore_provider *p = (docstore_provider *)1;
  char err[512] = "", root[600], file[800];

  assert_int_equal(docstore_provider_from_config(NULL, cfg, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_from_config(&p, NULL, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_null(p);
  assert_non_null(strstr(err, "cfg is NULL"));

  /* local: the root comes from LOCAL_STORAGE_PATH */
  snprintf(root, sizeof(root), "%s/provider-root", tmpdir);
  set(cfg, "LOCAL_STORAGE_PATH", root);
  assert_int_equal(docstore_provider_from_config(&p, cfg, err, sizeof(err)), 0);
  assert_non_null(p);
  assert_int_equal(
      docstore_provider_put(p, "documents/a.json", (const uint8_t *)"{}", 2),
      0);
  snprintf(file, sizeof(file), "%s/documents/a.json", root);
  struct stat st;
  assert_int_equal(stat(file, &st), 0);
  assert_int_equal(st.st_size, 2);
  docstore_provider_free(p);

  /* s3: validated as the factory does, then every S3_* setting lands */
  set(cfg, "STORAGE_TYPE", "s3");
  assert_int_equal(docstore_provider_from_config(&p, cfg, err, sizeof(err)),
                   DOCSTORE_ECONFIG);
  assert_null(p);
  assert_non_null(strstr(err, "S3_BUCKET is not set"));
  assert_int_equal(docstore_last_errcode(), DOCSTORE_ECONFIG);
  set(cfg, "S3_BUCKET", "bank-documents");
  set(cfg, "S3_ENDPOINT_URL", "http://127.0.0.1:9");
  set(cfg, "S3_REGION", "eu-west-1");
  set(cfg, "AWS_ACCESS_KEY_ID", "AKIA1234567890ABCDEF");
  set(cfg, "AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  assert_int_equal(docstore_provider_from_config(&p, cfg, err, sizeof(err)), 0);
  char *url = NULL;
  assert_int_equal(docstore_provider_presign(p, &url, "documents/a.json",
                                             DOCSTORE_PRESIGN_GET, 60),
                   0);
  assert_non_null(strstr(url, "http://127.0.0.1:9/bank-documents/documents/"
                              "a.json?"));
  assert_non_null(strstr(url, "AKIA1234567890ABCDEF%2F"));
  assert_non_null(strstr(url, "%2Feu-west-1%2Fs3%2F"));
  docstore_free(url);
  docstore_provider_free(p);
}

static void test_keys_missing_file(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[512] = "", missing[600];
  snprintf(missing, sizeof(missing), "%s/nope.pem", tmpdir);
  set(cfg, "RSA_PUBLIC_KEY_PATH", missing);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   DOCSTORE_ENOTFOUND);
  assert_null(svc);
  assert_non_null(strstr(err, "RSA_PUBLIC_KEY_PATH="));
  assert_non_null(strstr(err, "nope.pem"));
  set(cfg, "RSA_PUBLIC_KEY_PATH", NULL);
  set(cfg, "RSA_PRIVATE_KEY_PATH", missing);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(err, "RSA_PRIVATE_KEY_PATH="));
  /* Not a key at all. */
  char junk[600];
  snprintf(junk, sizeof(junk), "%s/junk.pem", tmpdir);
  write_text(junk, "hello\n");
  set(cfg, "RSA_PRIVATE_KEY_PATH", NULL);
  set(cfg, "RSA_PUBLIC_KEY_PATH", junk);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(err, "RSA_PUBLIC_KEY_PATH="));
}

static void test_keys_passphrase(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[512] = "";
  set(cfg, "RSA_PRIVATE_KEY_PATH", enc_priv_path);
  /* No passphrase: refused, with a hint. */
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(err, "RSA_PRIVATE_KEY_PATH="));
  assert_non_null(strstr(err, "RSA_PRIVATE_KEY_PASSPHRASE"));
  /* Wrong passphrase: refused, and never echoed. */
  set(cfg, "RSA_PRIVATE_KEY_PASSPHRASE", "WRONG-PASSPHRASE-XYZ");
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   DOCSTORE_EKEY);
  assert_null(strstr(err, "WRONG-PASSPHRASE-XYZ"));
  assert_null(strstr(docstore_last_errmsg(), "WRONG-PASSPHRASE-XYZ"));
  assert_null(strstr(logbuf, "WRONG-PASSPHRASE-XYZ"));
  /* Right one. */
  set(cfg, "RSA_PRIVATE_KEY_PASSPHRASE", passphrase);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  size_t npub = 0, npriv = 0;
  docstore_keyring_count(docstore_service_keyring(svc), &npub, &npriv);
  assert_int_equal(npriv, 1);
  assert_true(npub >= 1);
  assert_null(strstr(logbuf, passphrase));
  docstore_service_free(svc);
}

static void test_keys_roundtrip(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[512] = "", *path = NULL;
  uint8_t *back = NULL;
  size_t back_len = 0;
  const char *doc = "PASSPORT X1234567";
  set(cfg, "RSA_PUBLIC_KEY_PATH", pub_path);
  set(cfg, "RSA_PRIVATE_KEY_PATH", priv_path);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_int_equal(
      docstore_service_store_document(svc, &path, "1", "passport.pdf",
                                      (const uint8_t *)doc, strlen(doc), "123"),
      0);
  assert_int_equal(
      docstore_service_read_document(svc, &back, &back_len, path, NULL), 0);
  assert_int_equal(back_len, strlen(doc));
  assert_memory_equal(back, doc, back_len);
  docstore_free(back);
  docstore_free(path);
  docstore_service_free(svc);
}

/* Rotation: the configured public key is the one documents are sealed
 * under, even when the private key is another (the previous) one. */
static void test_keys_public_is_default(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[512] = "", *path = NULL, *env = NULL;
  size_t env_len = 0;
  docstore_keyring *check = NULL;
  char *pub2_id = NULL;
  set(cfg, "RSA_PUBLIC_KEY_PATH", pub2_path);
  set(cfg, "RSA_PRIVATE_KEY_PATH", priv_path);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_int_equal(docstore_service_store_document(
                       svc, &path, "7", "a.txt", (const uint8_t *)"x", 1, NULL),
                   0);
  assert_int_equal(
      docstore_service_retrieve_encrypted(svc, &env, &env_len, path), 0);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_envelope_info_get(&info, env, env_len), 0);
  assert_int_equal(docstore_keyring_new(&check, NULL, 0), 0);
  assert_int_equal(docstore_keyring_add_public_file(check, &pub2_id, pub2_path),
                   0);
  assert_string_equal(info.key_id, pub2_id);
  docstore_envelope_info_clear(&info);
  docstore_keyring_free(check);
  docstore_free(pub2_id);
  docstore_free(env);
  docstore_free(path);
  docstore_service_free(svc);
}

static void test_legacy_root(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  docstore_keyring *kr = NULL;
  char err[512] = "", legacy_dir[600], legacy_file[700], *env = NULL,
       *back = NULL;
  size_t env_len = 0, back_len = 0;
  assert_int_equal(docstore_keyring_new(&kr, NULL, 0), 0);
  assert_int_equal(docstore_keyring_add_public_file(kr, NULL, pub_path), 0);
  assert_int_equal(docstore_envelope_seal(&env, &env_len, kr,
                                          (const uint8_t *)"legacy", 6, NULL),
                   0);
  snprintf(legacy_dir, sizeof(legacy_dir), "%s/legacy", tmpdir);
  mkdir(legacy_dir, 0700);
  snprintf(legacy_file, sizeof(legacy_file), "%s/old-42.json", legacy_dir);
  write_text(legacy_file, env);

  set(cfg, "DOCSTORE_LEGACY_ROOT", legacy_dir);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_int_equal(docstore_service_retrieve_fallback(
                       svc, &back, &back_len,
                       "documents/system/2024/01/15/42_x_pdf.json",
                       "old-42.json"),
                   0);
  assert_int_equal(back_len, env_len);
  assert_memory_equal(back, env, env_len);
  assert_non_null(strstr(logbuf, "falling back to local"));
  docstore_free(back);
  docstore_service_free(svc);

  /* Default: relative legacy paths resolve under LOCAL_STORAGE_PATH. */
  set(cfg, "DOCSTORE_LEGACY_ROOT", NULL);
  set(cfg, "LOCAL_STORAGE_PATH", legacy_dir);
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  back = NULL;
  assert_int_equal(docstore_service_retrieve_fallback(svc, &back, &back_len,
                                                      NULL, "old-42.json"),
                   0);
  assert_int_equal(back_len, env_len);
  docstore_free(back);
  docstore_service_free(svc);
  docstore_free(env);
  docstore_keyring_free(kr);
}

static void test_log_level(void **state) {
  docstore_config *cfg = *state;
  docstore_service *svc = NULL;
  char err[256];
  log_reset(DOCSTORE_LOG_ERROR);
  /* Unset: the host's threshold is left alone. */
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_false(docstore__log_enabled(DOCSTORE_LOG_WARN));
  assert_null(strstr(logbuf, "initialized"));
  docstore_service_free(svc);
  set(cfg, "DOCSTORE_LOG_LEVEL", "debug");
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_true(docstore__log_enabled(DOCSTORE_LOG_DEBUG));
  /* Applied before the provider is made: its line is logged. */
  assert_non_null(strstr(logbuf, "Local storage initialized"));
  docstore_service_free(svc);
  set(cfg, "DOCSTORE_LOG_LEVEL", "error");
  assert_int_equal(docstore_service_from_config(&svc, cfg, err, sizeof(err)),
                   0);
  assert_false(docstore__log_enabled(DOCSTORE_LOG_WARN));
  assert_true(docstore__log_enabled(DOCSTORE_LOG_ERROR));
  docstore_service_free(svc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_provider_from_config, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_local_root_unusable, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_s3_provider, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_missing_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_passphrase, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_public_is_default, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_legacy_root, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_level, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
