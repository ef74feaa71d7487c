/*
 * Tests for the configuration layer (src/config/config.c, dotenv.c).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every variable with valid and invalid values, AWS_* fallback precedence,
 * .env syntax (quotes, export, comments, CRLF, missing '=', long lines),
 * validation, and a dump that never shows a secret.
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

#include "config/config_internal.h"
#include "provider/local_settings.h"
#include "s3/s3_settings.h"
#include "service/settings_catalog.h"
#include "docstore/docstore.h"
#include "s3/s3_internal.h"

/* ------------------------------------------------------------ helpers */

static char tmpdir[256];

/* Unset every variable the library reads, so the host's environment
 * cannot leak into a test. */
static void clear_env(void) {
  const char *name;
  for (size_t i = 0; (name = docstore_config_name_at(i)) != NULL; i++)
    unsetenv(name);
}

static int setup(void **state) {
  docstore_config *cfg = NULL;
  clear_env();
  assert_int_equal(docstore_config_new(&cfg), 0);
  *state = cfg;
  return 0;
}

static int teardown(void **state) {
  docstore_config_free(*state);
  clear_env();
  return 0;
}

/* Write `len` bytes to a file in tmpdir; returns its path (static). */
static const char *write_file(const char *name, const char *data, size_t len) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, 0600), 0); /* whatever the umask */
  return path;
}

static const char *write_text(const char *name, const char *text) {
  return write_file(name, text, strlen(text));
}

static void assert_set_ok(docstore_config *cfg, const char *name,
                          const char *value, const char *expect) {
  int rc = docstore_config_set(cfg, name, value);
  if (rc != 0)
    fail_msg("%s=%s refused: %s", name, value ? value : "(NULL)",
             docstore_config_errmsg(cfg));
  const char *got = docstore_config_get(cfg, name);
  if (expect == NULL)
    assert_null(got);
  else {
    assert_non_null(got);
    assert_string_equal(got, expect);
  }
}

/* A refused value leaves the previous one, and the message names the
 * variable. */
static void assert_set_bad(docstore_config *cfg, const char *name,
                           const char *value) {
  const char *before = docstore_config_get(cfg, name);
  char *saved = before ? strdup(before) : NULL;
  int rc = docstore_config_set(cfg, name, value);
  if (rc != DOCSTORE_ECONFIG)
    fail_msg("%s='%s' accepted (rc %d)", name, value, rc);
  assert_non_null(strstr(docstore_config_errmsg(cfg), name));
  assert_int_equal(docstore_last_errcode(), DOCSTORE_ECONFIG);
  const char *after = docstore_config_get(cfg, name);
  if (saved) {
    assert_non_null(after);
    assert_string_equal(after, saved);
  } else
    assert_null(after);
  free(saved);
}

static const char *eff(docstore_config *cfg, const char *name,
                       const char **source) {
  return docstore__config_effective(cfg, name, source);
}

/* ------------------------------------------------------- basic setters */

static void test_new_free_null(void **state) {
  (void)state;
  assert_int_equal(docstore_config_new(NULL), DOCSTORE_EINVAL);
  docstore_config_free(NULL);
  assert_string_equal(docstore_config_errmsg(NULL), "configuration is NULL");
}

static void test_null_arguments(void **state) {
  docstore_config *cfg = *state;
  char *out = NULL;
  assert_int_equal(docstore_config_set(NULL, "STORAGE_TYPE", "s3"),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_config_set(cfg, NULL, "s3"), DOCSTORE_EINVAL);
  assert_null(docstore_config_get(NULL, "STORAGE_TYPE"));
  assert_null(docstore_config_get(cfg, NULL));
  assert_int_equal(docstore_config_load_env(NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_config_load_dotenv(cfg, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_config_load_dotenv(NULL, "x"), DOCSTORE_EINVAL);
  assert_int_equal(docstore_config_validate(NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_config_dump(NULL, &out), DOCSTORE_EINVAL);
  assert_int_equal(docstore_config_dump(cfg, NULL), DOCSTORE_EINVAL);
  assert_null(out);
}

static void test_unknown_name(void **state) {
  docstore_config *cfg = *state;
  assert_int_equal(docstore_config_set(cfg, "STORAGE_KIND", "s3"),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "STORAGE_KIND"));
  assert_non_null(strstr(docstore_config_errmsg(cfg), "unknown setting"));
  /* Names are case-sensitive, like environment variables. */
  assert_int_equal(docstore_config_set(cfg, "storage_type", "s3"),
                   DOCSTORE_ECONFIG);
  assert_null(docstore_config_get(cfg, "STORAGE_KIND"));
}

static void test_name_at(void **state) {
  docstore_config *cfg = *state;
  size_t n = 0;
  int seen_type = 0, seen_aws = 0;
  const char *name;
  for (; (name = docstore_config_name_at(n)) != NULL; n++) {
    seen_type |= strcmp(name, "STORAGE_TYPE") == 0;
    seen_aws |= strcmp(name, "AWS_DEFAULT_REGION") == 0;
    /* Every listed name is settable, and NULL unsets it. */
    assert_int_equal(docstore_config_set(cfg, name, NULL), 0);
    assert_null(docstore_config_get(cfg, name));
  }
  assert_true(n >= 30);
  assert_true(seen_type && seen_aws);
  assert_null(docstore_config_name_at(n + 100));
}

static void test_empty_means_unset(void **state) {
  docstore_config *cfg = *state;
  assert_set_ok(cfg, "S3_ENDPOINT_URL", "http://minio:9000",
                "http://minio:9000");
  assert_set_ok(cfg, "S3_ENDPOINT_URL", "", NULL);
  assert_set_ok(cfg, "S3_BUCKET", "bank-documents", "bank-documents");
  assert_set_ok(cfg, "S3_BUCKET", NULL, NULL);
}

/* --------------------------------------------------------- each variable */

static void test_storage_type(void **state) {
  docstore_config *cfg = *state;
  assert_string_equal(eff(cfg, "STORAGE_TYPE", NULL), "local");
  assert_set_ok(cfg, "STORAGE_TYPE", "s3", "s3");
  assert_set_ok(cfg, "STORAGE_TYPE", "S3", "s3");
  assert_set_ok(cfg, "STORAGE_TYPE", "Local", "local");
  assert_set_bad(cfg, "STORAGE_TYPE", "ftp");
  assert_string_equal(docstore_config_errmsg(cfg),
                      "STORAGE_TYPE must be 's3' or 'local', got 'ftp'");
  assert_set_bad(cfg, "STORAGE_TYPE", "s3 ");
  assert_set_bad(cfg, "STORAGE_TYPE", "minio");
  /* A hostile value is shown cut and with control characters masked. */
  assert_set_bad(cfg, "STORAGE_TYPE", "a\nb\x1b[31m");
  assert_null(strchr(docstore_config_errmsg(cfg), '\n'));
  assert_null(strchr(docstore_config_errmsg(cfg), '\x1b'));
  char longv[300];
  memset(longv, 'x', sizeof(longv) - 1);
  longv[sizeof(longv) - 1] = '\0';
  assert_set_bad(cfg, "STORAGE_TYPE", longv);
  assert_true(strlen(docstore_config_errmsg(cfg)) < 150);
}

static void test_region(void **state) {
  docstore_config *cfg = *state;
  const char *names[] = {"S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"};
  for (size_t i = 0; i < 3; i++) {
    assert_set_ok(cfg, names[i], "us-east-1", "us-east-1");
    assert_set_ok(cfg, names[i], "eu-west-1", "eu-west-1");
    assert_set_ok(cfg, names[i], "garage", "garage");
    assert_set_bad(cfg, names[i], "US-EAST-1");
    assert_set_bad(cfg, names[i], "us east 1");
    assert_set_bad(cfg, names[i], "us_east_1");
    assert_set_bad(cfg, names[i], "us-east-1/");
  }
  assert_set_bad(cfg, "S3_REGION", "Europe");
  assert_non_null(strstr(docstore_config_errmsg(cfg), "us-east-1"));
}

static void test_endpoint_url(void **state) {
  docstore_config *cfg = *state;
  const char *good[] = {
      "http://minio:9000",         "https://s3.amazonaws.com",
      "https://s3.amazonaws.com/", "http://127.0.0.1:18080",
      "http://[::1]:9000",         "HTTPS://S3.EU-WEST-1.AMAZONAWS.COM",
      "http://minio_1:9000",       "https://storage.example.com:443/",
  };
  const char *bad[] = {
      "minio:9000",
      "ftp://minio",
      "http://",
      /* util's URL rule, stricter than the old check: the IPv6 literal
       * must parse, and a DNS label is 63 bytes at most. */
      "http://[1:2:3]:9000",
      "http://"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      ".example",
      "http://:9000",
      "http://host:0",
      "http://host:65536",
      "http://host:",
      "http://host:9x",
      "http://host/path",
      "http://host/?x=1",
      "http://host#frag",
      "http://-host",
      "http://host-",
      "http://a..b",
      "http://.host",
      "http://[::1",
      "http://[]:80",
      "http://ho st",
      "https://s3.amazonaws.com # comment",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_set_ok(cfg, "S3_ENDPOINT_URL", good[i], good[i]);
  assert_set_ok(cfg, "S3_ENDPOINT_URL", NULL, NULL);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_set_bad(cfg, "S3_ENDPOINT_URL", bad[i]);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "http://minio:9000"));
  /* Credentials in the URL: refused, and the password is not echoed. */
  assert_set_bad(cfg, "S3_ENDPOINT_URL", "http://admin:hunter2@minio:9000");
  assert_null(strstr(docstore_config_errmsg(cfg), "hunter2"));
  assert_non_null(strstr(docstore_config_errmsg(cfg), "credentials"));
}

static void test_bucket(void **state) {
  docstore_config *cfg = *state;
  assert_set_ok(cfg, "S3_BUCKET", "bank-documents", "bank-documents");
  assert_set_ok(cfg, "S3_BUCKET", "my.bucket_01", "my.bucket_01");
  assert_set_bad(cfg, "S3_BUCKET", "ab");
  assert_set_bad(cfg, "S3_BUCKET", "bank/documents");
  assert_set_bad(cfg, "S3_BUCKET", "-bank");
  assert_set_bad(cfg, "S3_BUCKET", "bank.");
  assert_set_bad(cfg, "S3_BUCKET", "bank documents");
  char longv[300];
  memset(longv, 'b', sizeof(longv) - 1);
  longv[sizeof(longv) - 1] = '\0';
  assert_set_bad(cfg, "S3_BUCKET", longv);
}

static void test_paths(void **state) {
  docstore_config *cfg = *state;
  const char *names[] = {"LOCAL_STORAGE_PATH", "DOCSTORE_LEGACY_ROOT",
                         "RSA_PUBLIC_KEY_PATH", "RSA_PRIVATE_KEY_PATH",
                         "S3_CA_BUNDLE"};
  for (size_t i = 0; i < 5; i++) {
    assert_set_ok(cfg, names[i], "/srv/docs with space/#1",
                  "/srv/docs with space/#1");
    assert_set_ok(cfg, names[i], "relative/dir/", "relative/dir/");
    assert_set_bad(cfg, names[i], "bad\npath");
    assert_set_bad(cfg, names[i], "bad\tpath");
  }
  char *huge = malloc(9000);
  assert_non_null(huge);
  memset(huge, 'p', 8999);
  huge[8999] = '\0';
  assert_set_bad(cfg, "LOCAL_STORAGE_PATH", huge);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "too long"));
  free(huge);
}

static void test_credentials_shape(void **state) {
  docstore_config *cfg = *state;
  const char *names[] = {"S3_ACCESS_KEY",         "S3_SECRET_KEY",
                         "S3_SESSION_TOKEN",      "AWS_ACCESS_KEY_ID",
                         "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
  for (size_t i = 0; i < 6; i++) {
    assert_set_ok(cfg, names[i], "wJalrXUtnFEMI/K7MDENG+bPxRfiCY=",
                  "wJalrXUtnFEMI/K7MDENG+bPxRfiCY=");
    assert_set_bad(cfg, names[i], "with space-SECRETVALUE");
    assert_null(strstr(docstore_config_errmsg(cfg), "SECRETVALUE"));
    assert_non_null(strstr(docstore_config_errmsg(cfg), "not shown"));
    assert_set_bad(cfg, names[i], "tab\tSECRETVALUE");
    assert_null(strstr(docstore_config_errmsg(cfg), "SECRETVALUE"));
    assert_set_bad(cfg, names[i], "caf\xc3\xa9SECRETVALUE");
  }
  /* A passphrase may hold spaces and UTF-8, but no control characters. */
  assert_set_ok(cfg, "RSA_PRIVATE_KEY_PASSPHRASE", "correct horse caf\xc3\xa9",
                "correct horse caf\xc3\xa9");
  assert_set_bad(cfg, "RSA_PRIVATE_KEY_PASSPHRASE", "line\nSECRETVALUE");
  assert_null(strstr(docstore_config_errmsg(cfg), "SECRETVALUE"));
}

static void test_addressing_and_log_level(void **state) {
  docstore_config *cfg = *state;
  assert_string_equal(eff(cfg, "S3_ADDRESSING_STYLE", NULL), "auto");
  assert_set_ok(cfg, "S3_ADDRESSING_STYLE", "PATH", "path");
  assert_set_ok(cfg, "S3_ADDRESSING_STYLE", "virtual", "virtual");
  assert_set_ok(cfg, "S3_ADDRESSING_STYLE", "auto", "auto");
  assert_set_bad(cfg, "S3_ADDRESSING_STYLE", "vhost");
  assert_non_null(strstr(docstore_config_errmsg(cfg), "'virtual'"));

  assert_int_equal(docstore__config_log_level(cfg), -1);
  assert_set_ok(cfg, "DOCSTORE_LOG_LEVEL", "DEBUG", "debug");
  assert_int_equal(docstore__config_log_level(cfg), DOCSTORE_LOG_DEBUG);
  assert_set_ok(cfg, "DOCSTORE_LOG_LEVEL", "warning", "warn");
  assert_int_equal(docstore__config_log_level(cfg), DOCSTORE_LOG_WARN);
  assert_set_ok(cfg, "DOCSTORE_LOG_LEVEL", "error", "error");
  assert_int_equal(docstore__config_log_level(cfg), DOCSTORE_LOG_ERROR);
  assert_set_ok(cfg, "DOCSTORE_LOG_LEVEL", "info", "info");
  assert_int_equal(docstore__config_log_level(cfg), DOCSTORE_LOG_INFO);
  assert_set_bad(cfg, "DOCSTORE_LOG_LEVEL", "verbose");
  assert_set_bad(cfg, "DOCSTORE_LOG_LEVEL", "3");
}

/* S3_VERIFY_TLS lands inverted in insecure_skip_verify. */
static int tls_disabled(docstore_config *cfg) {
  docstore_s3_options so;
  assert_int_equal(docstore__s3_options_from_config(cfg, &so), 0);
  return so.insecure_skip_verify;
}

static void test_verify_tls(void **state) {
  docstore_config *cfg = *state;
  assert_int_equal(tls_disabled(cfg), 0);
  const char *yes[] = {"true", "TRUE", "1", "yes", "On"};
  const char *no[] = {"false", "False", "0", "no", "OFF"};
  for (size_t i = 0; i < 5; i++) {
    assert_set_ok(cfg, "S3_VERIFY_TLS", yes[i], "true");
    assert_int_equal(tls_disabled(cfg), 0);
    assert_set_ok(cfg, "S3_VERIFY_TLS", no[i], "false");
    assert_int_equal(tls_disabled(cfg), 1);
  }
  assert_set_bad(cfg, "S3_VERIFY_TLS", "maybe");
  assert_set_bad(cfg, "S3_VERIFY_TLS", "2");
  assert_set_bad(cfg, "S3_VERIFY_TLS", "truee");
}

static void test_sizes(void **state) {
  docstore_config *cfg = *state;
  docstore_s3_options so;
  const char *names[] = {"S3_MULTIPART_THRESHOLD", "S3_MULTIPART_PART_SIZE"};
  struct {
    const char *text;
    uint64_t bytes;
  } good[] = {{"5242880", 5242880u},  {"8M", 8u << 20},
              {"8MiB", 8u << 20},     {"16mib", 16u << 20},
              {"6144k", 6144u << 10}, {"6144KiB", 6144u << 10},
              {"1G", 1u << 30},       {"5GiB", (uint64_t)5 << 30}};
  const char *bad[] = {"4M",
                       "5242879",
                       "6GiB",
                       "8MB",
                       "-1",
                       "8.5M",
                       "M",
                       "8 M",
                       "8T",
                       "0x800000",
                       "+8M",
                       "99999999999999999999G",
                       "18446744073709551615G"};
  for (size_t n = 0; n < 2; n++) {
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
      assert_set_ok(cfg, names[n], good[i].text, good[i].text);
      assert_int_equal(docstore__s3_options_from_config(cfg, &so), 0);
      assert_int_equal(n == 0 ? so.multipart_threshold : so.multipart_part_size,
                       good[i].bytes);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
      assert_set_bad(cfg, names[n], bad[i]);
    assert_non_null(strstr(docstore_config_errmsg(cfg), "powers of 1024"));
  }
}

static void test_integers(void **state) {
  docstore_config *cfg = *state;
  struct {
    const char *name;
    const char *min, *max, *below, *above;
  } cases[] = {
      {"S3_MULTIPART_CONCURRENCY", "1", "64", "0", "65"},
      {"S3_MAX_ATTEMPTS", "1", "20", "0", "21"},
      {"S3_RETRY_BASE_MS", "1", "60000", "0", "60001"},
      {"S3_RETRY_MAX_MS", "1", "600000", "0", "600001"},
      {"S3_CONNECT_TIMEOUT_MS", "1", "600000", "0", "600001"},
      {"S3_REQUEST_TIMEOUT_MS", "0", "86400000", NULL, "86400001"},
      {"S3_STALL_TIMEOUT_MS", "1", "3600000", "0", "3600001"},
      {"S3_STALL_MIN_BPS", "1", "1073741824", "0", "1073741825"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_set_ok(cfg, cases[i].name, cases[i].min, cases[i].min);
    assert_set_ok(cfg, cases[i].name, cases[i].max, cases[i].max);
    if (cases[i].below)
      assert_set_bad(cfg, cases[i].name, cases[i].below);
    assert_set_bad(cfg, cases[i].name, cases[i].above);
    assert_set_bad(cfg, cases[i].name, "-1");
    assert_set_bad(cfg, cases[i].name, "+5");
    assert_set_bad(cfg, cases[i].name, " 5");
    assert_set_bad(cfg, cases[i].name, "5ms");
    assert_set_bad(cfg, cases[i].name, "1M");
    assert_set_bad(cfg, cases[i].name, "abc");
    assert_set_bad(cfg, cases[i].name, "99999999999999999999999");
    assert_non_null(strstr(docstore_config_errmsg(cfg), "integer from"));
  }
}

static void test_s3_options_mapping(void **state) {
  docstore_config *cfg = *state;
  docstore_s3_options so;
  assert_int_equal(docstore__s3_options_from_config(NULL, &so),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__s3_options_from_config(cfg, &so), 0);
  assert_int_equal(so.version, DOCSTORE_S3_OPTIONS_VERSION);
  assert_null(so.bucket);
  assert_string_equal(so.region, "us-east-1");
  assert_null(so.endpoint_url);
  assert_int_equal(so.addressing, DOCSTORE_S3_ADDRESSING_AUTO);
  assert_int_equal(so.insecure_skip_verify, 0);
  /* Unset settings land as the schema's defaults, which are the
   * provider's own. */
  assert_int_equal(so.max_attempts, DOCSTORE__S3_DEFAULT_ATTEMPTS);
  assert_int_equal(so.multipart_threshold, DOCSTORE__S3_DEFAULT_THRESHOLD);
  assert_int_equal(so.multipart_part_size, DOCSTORE__S3_DEFAULT_PART_SIZE);
  assert_int_equal(so.multipart_concurrency, DOCSTORE__S3_DEFAULT_CONCURRENCY);
  assert_int_equal(so.retry_base_ms, DOCSTORE__S3_DEFAULT_RETRY_BASE_MS);
  /* ... except the largest backoff: 0, so that the provider raises its
   * default to a larger S3_RETRY_BASE_MS (accepted alone). */
  assert_int_equal(so.retry_max_ms, 0);
  assert_int_equal(so.connect_timeout_ms, DOCSTORE__S3_DEFAULT_CONNECT_MS);
  assert_int_equal(so.request_timeout_ms, 0);
  assert_int_equal(so.stall_timeout_ms, DOCSTORE__S3_DEFAULT_STALL_MS);
  assert_int_equal(so.stall_min_bps, DOCSTORE__S3_DEFAULT_STALL_BPS);

  const char *set[][2] = {
      {"S3_BUCKET", "bank-documents"},
      {"S3_REGION", "eu-west-1"},
      {"S3_ENDPOINT_URL", "http://minio:9000"},
      {"S3_ACCESS_KEY", "minioadmin"},
      {"S3_SECRET_KEY", "miniosecret"},
      {"S3_SESSION_TOKEN", "tok"},
      {"S3_ADDRESSING_STYLE", "virtual"},
      {"S3_CA_BUNDLE", "/etc/ca.pem"},
      {"S3_VERIFY_TLS", "false"},
      {"S3_MULTIPART_THRESHOLD", "32M"},
      {"S3_MULTIPART_PART_SIZE", "6M"},
      {"S3_MULTIPART_CONCURRENCY", "9"},
      {"S3_MAX_ATTEMPTS", "7"},
      {"S3_RETRY_BASE_MS", "50"},
      {"S3_RETRY_MAX_MS", "900"},
      {"S3_CONNECT_TIMEOUT_MS", "1500"},
      {"S3_REQUEST_TIMEOUT_MS", "60000"},
      {"S3_STALL_TIMEOUT_MS", "9000"},
      {"S3_STALL_MIN_BPS", "2048"},
  };
  for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
    assert_int_equal(docstore_config_set(cfg, set[i][0], set[i][1]), 0);
  assert_int_equal(docstore__s3_options_from_config(cfg, &so), 0);
  assert_string_equal(so.bucket, "bank-documents");
  assert_string_equal(so.region, "eu-west-1");
  assert_string_equal(so.endpoint_url, "http://minio:9000");
  assert_string_equal(so.access_key, "minioadmin");
  assert_string_equal(so.secret_key, "miniosecret");
  assert_string_equal(so.session_token, "tok");
  assert_int_equal(so.addressing, DOCSTORE_S3_ADDRESSING_VIRTUAL);
  assert_string_equal(so.ca_bundle, "/etc/ca.pem");
  assert_int_equal(so.insecure_skip_verify, 1);
  assert_int_equal(so.multipart_threshold, 32u << 20);
  assert_int_equal(so.multipart_part_size, 6u << 20);
  assert_int_equal(so.multipart_concurrency, 9);
  assert_int_equal(so.max_attempts, 7);
  assert_int_equal(so.retry_base_ms, 50);
  assert_int_equal(so.retry_max_ms, 900);
  assert_int_equal(so.connect_timeout_ms, 1500);
  assert_int_equal(so.request_timeout_ms, 60000);
  assert_int_equal(so.stall_timeout_ms, 9000);
  assert_int_equal(so.stall_min_bps, 2048);
  assert_int_equal(docstore_config_set(cfg, "S3_ADDRESSING_STYLE", "path"), 0);
  assert_int_equal(docstore__s3_options_from_config(cfg, &so), 0);
  assert_int_equal(so.addressing, DOCSTORE_S3_ADDRESSING_PATH);
}

/* --------------------------------------------------- AWS_* and the env */

static void test_aws_fallback(void **state) {
  docstore_config *cfg = *state;
  const char *src;
  /* Only AWS_* credentials: all three come from them. */
  assert_int_equal(
      docstore_config_set(cfg, "AWS_ACCESS_KEY_ID", "AKIAAWSAWSAWSAWS1234"), 0);
  assert_int_equal(docstore_config_set(cfg, "AWS_SECRET_ACCESS_KEY", "awssec"),
                   0);
  assert_int_equal(docstore_config_set(cfg, "AWS_SESSION_TOKEN", "awstok"), 0);
  assert_string_equal(eff(cfg, "S3_ACCESS_KEY", &src), "AKIAAWSAWSAWSAWS1234");
  assert_string_equal(src, "AWS_ACCESS_KEY_ID");
  assert_string_equal(eff(cfg, "S3_SECRET_KEY", &src), "awssec");
  assert_string_equal(src, "AWS_SECRET_ACCESS_KEY");
  assert_string_equal(eff(cfg, "S3_SESSION_TOKEN", &src), "awstok");
  /* get() shows what was set, not the fallback. */
  assert_null(docstore_config_get(cfg, "S3_ACCESS_KEY"));

  /* S3_* credentials win as a group: no AWS session token with them. */
  assert_int_equal(docstore_config_set(cfg, "S3_ACCESS_KEY", "minioadmin"), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_SECRET_KEY", "miniosecret"), 0);
  assert_string_equal(eff(cfg, "S3_ACCESS_KEY", &src), "minioadmin");
  assert_null(src);
  assert_string_equal(eff(cfg, "S3_SECRET_KEY", NULL), "miniosecret");
  assert_null(eff(cfg, "S3_SESSION_TOKEN", NULL));

  /* Half an S3 pair never borrows the other half from AWS_*. */
  assert_int_equal(docstore_config_set(cfg, "S3_SECRET_KEY", NULL), 0);
  assert_null(eff(cfg, "S3_SECRET_KEY", NULL));
  assert_int_equal(docstore_config_set(cfg, "STORAGE_TYPE", "s3"), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_BUCKET", "bucket"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(
      strstr(docstore_config_errmsg(cfg), "S3_SECRET_KEY is not set"));
}

static void test_region_fallback(void **state) {
  docstore_config *cfg = *state;
  const char *src;
  assert_string_equal(eff(cfg, "S3_REGION", &src), "us-east-1");
  assert_string_equal(src, "default");
  assert_int_equal(docstore_config_set(cfg, "AWS_DEFAULT_REGION", "eu-north-1"),
                   0);
  assert_string_equal(eff(cfg, "S3_REGION", &src), "eu-north-1");
  assert_string_equal(src, "AWS_DEFAULT_REGION");
  assert_int_equal(docstore_config_set(cfg, "AWS_REGION", "eu-west-3"), 0);
  assert_string_equal(eff(cfg, "S3_REGION", &src), "eu-west-3");
  assert_string_equal(src, "AWS_REGION");
  assert_int_equal(docstore_config_set(cfg, "S3_REGION", "ap-south-1"), 0);
  assert_string_equal(eff(cfg, "S3_REGION", &src), "ap-south-1");
  assert_null(src);
}

static void test_legacy_root_default(void **state) {
  docstore_config *cfg = *state;
  const char *src;
  assert_string_equal(eff(cfg, "DOCSTORE_LEGACY_ROOT", &src),
                      "encrypted_files/");
  assert_string_equal(src, "LOCAL_STORAGE_PATH");
  assert_int_equal(docstore_config_set(cfg, "LOCAL_STORAGE_PATH", "/srv/x"), 0);
  assert_string_equal(eff(cfg, "DOCSTORE_LEGACY_ROOT", NULL), "/srv/x");
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_LEGACY_ROOT", "/old"), 0);
  assert_string_equal(eff(cfg, "DOCSTORE_LEGACY_ROOT", &src), "/old");
  assert_null(src);
  assert_null(eff(cfg, "NOT_A_SETTING", NULL));
  assert_null(eff(NULL, "STORAGE_TYPE", NULL));
}

/* The envelope settings of new documents: values, normalisation, the
 * fields they fill, and the same rules on a hand-filled options struct. */
static void test_envelope_settings(void **state) {
  docstore_config *cfg = *state;
  docstore_service_options so = DOCSTORE_SERVICE_OPTIONS_INIT;
  docstore__err err;
  docstore__err_clear(&err);

  /* defaults */
  assert_int_equal(docstore__service_options_from_config(cfg, &so), 0);
  assert_int_equal(so.envelope_version, 2);
  assert_int_equal(so.compression_level, 0);
  assert_int_equal(so.segment_size, 65536);

  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_ENVELOPE_VERSION", "1"),
                   0);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_ENVELOPE_VERSION", "3"),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "from 1 to 2"));
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_ENVELOPE_VERSION", "0"),
                   DOCSTORE_ECONFIG);

  static const struct {
    const char *in, *stored;
    int level;
  } good[] = {{"none", "none", 0},     {"NONE", "none", 0},
              {"off", "none", 0},      {"zstd", "zstd:3", 3},
              {"ZSTD:1", "zstd:1", 1}, {"zstd:19", "zstd:19", 19},
              {"zstd:07", "zstd:7", 7}};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_int_equal(
        docstore_config_set(cfg, "DOCSTORE_COMPRESSION", good[i].in), 0);
    assert_string_equal(docstore_config_get(cfg, "DOCSTORE_COMPRESSION"),
                        good[i].stored);
    assert_int_equal(docstore__service_options_from_config(cfg, &so), 0);
    assert_int_equal(so.compression_level, good[i].level);
  }
  static const char *const bad[] = {
      "zstd:0", "zstd:20",          "zstd:", "zstd:-1", "zstd:3x",
      "gzip",   "zstd:99999999999", "none:3"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(docstore_config_set(cfg, "DOCSTORE_COMPRESSION", bad[i]),
                     DOCSTORE_ECONFIG);
    assert_non_null(strstr(docstore_config_errmsg(cfg), "N from 1 to 19"));
  }
  /* the last good value stays */
  assert_string_equal(docstore_config_get(cfg, "DOCSTORE_COMPRESSION"),
                      "zstd:7");

  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_SEGMENT_SIZE", "1M"), 0);
  assert_int_equal(docstore__service_options_from_config(cfg, &so), 0);
  assert_int_equal(so.segment_size, 1048576);
  assert_int_equal(so.envelope_version, 1);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_SEGMENT_SIZE", "4096"),
                   0);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_SEGMENT_SIZE", "16M"), 0);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_SEGMENT_SIZE", "100000"),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "power of two"));
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_SEGMENT_SIZE", "2048"),
                   DOCSTORE_ECONFIG);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_SEGMENT_SIZE", "32M"),
                   DOCSTORE_ECONFIG);

  /* A C caller's struct: the same rules, 0 = the default. */
  docstore_service_options co = DOCSTORE_SERVICE_OPTIONS_INIT;
  assert_int_equal(docstore__service_options_check(&co, sizeof(co), &err), 0);
  co.segment_size = 65536 + 4096;
  assert_int_equal(docstore__service_options_check(&co, sizeof(co), &err),
                   DOCSTORE_ECONFIG);
  assert_non_null(
      strstr(err.msg, "segment_size (setting DOCSTORE_SEGMENT_SIZE)"));
  co.segment_size = 0;
  co.compression_level = 20;
  assert_int_equal(docstore__service_options_check(&co, sizeof(co), &err),
                   DOCSTORE_ECONFIG);
  co.compression_level = -1;
  assert_int_equal(docstore__service_options_check(&co, sizeof(co), &err),
                   DOCSTORE_ECONFIG);
  co.compression_level = 19;
  co.envelope_version = 3;
  assert_int_equal(docstore__service_options_check(&co, sizeof(co), &err),
                   DOCSTORE_ECONFIG);
  co.envelope_version = 1;
  assert_int_equal(docstore__service_options_check(&co, sizeof(co), &err), 0);
  /* A version 2 struct has no such fields: not looked at. */
  co.segment_size = 3;
  assert_int_equal(
      docstore__service_options_check(
          &co, offsetof(docstore_service_options, envelope_version), &err),
      0);
}

static void test_load_env(void **state) {
  docstore_config *cfg = *state;
  assert_int_equal(docstore_config_set(cfg, "S3_BUCKET", "kept"), 0);
  setenv("STORAGE_TYPE", "S3", 1);
  setenv("AWS_ACCESS_KEY_ID", "AKIA1234567890ABCDEF", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
         1);
  setenv("AWS_REGION", "eu-west-1", 1);
  setenv("UNRELATED_VARIABLE", "whatever", 1);
  assert_int_equal(docstore_config_load_env(cfg), 0);
  assert_string_equal(docstore_config_get(cfg, "STORAGE_TYPE"), "s3");
  assert_string_equal(docstore_config_get(cfg, "S3_BUCKET"), "kept");
  assert_string_equal(eff(cfg, "S3_ACCESS_KEY", NULL), "AKIA1234567890ABCDEF");
  assert_string_equal(eff(cfg, "S3_REGION", NULL), "eu-west-1");
  assert_int_equal(docstore_config_validate(cfg), 0);

  /* S3_* in the environment beat AWS_*. */
  setenv("S3_ACCESS_KEY", "s3key", 1);
  setenv("S3_SECRET_KEY", "s3secret", 1);
  setenv("S3_REGION", "us-west-2", 1);
  assert_int_equal(docstore_config_load_env(cfg), 0);
  assert_string_equal(eff(cfg, "S3_ACCESS_KEY", NULL), "s3key");
  assert_string_equal(eff(cfg, "S3_SECRET_KEY", NULL), "s3secret");
  assert_string_equal(eff(cfg, "S3_REGION", NULL), "us-west-2");

  /* An empty variable unsets. */
  setenv("S3_BUCKET", "", 1);
  assert_int_equal(docstore_config_load_env(cfg), 0);
  assert_null(docstore_config_get(cfg, "S3_BUCKET"));
  unsetenv("UNRELATED_VARIABLE");
}

static void test_load_env_bad_value_applies_nothing(void **state) {
  docstore_config *cfg = *state;
  setenv("LOCAL_STORAGE_PATH", "/srv/new", 1);
  setenv("S3_MAX_ATTEMPTS", "many", 1);
  assert_int_equal(docstore_config_load_env(cfg), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "S3_MAX_ATTEMPTS"));
  assert_non_null(strstr(docstore_config_errmsg(cfg), "environment"));
  assert_null(docstore_config_get(cfg, "LOCAL_STORAGE_PATH"));
  setenv("STORAGE_TYPE", "gcs", 1);
  unsetenv("S3_MAX_ATTEMPTS");
  assert_int_equal(docstore_config_load_env(cfg), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg),
                         "STORAGE_TYPE must be 's3' or 'local', got 'gcs'"));
}

/* ------------------------------------------------------------ validate */

static void test_validate(void **state) {
  docstore_config *cfg = *state;
  assert_int_equal(docstore_config_validate(cfg), 0); /* local, defaults */
  assert_int_equal(docstore_config_set(cfg, "STORAGE_TYPE", "s3"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "S3_BUCKET is not set"));
  assert_int_equal(docstore_config_set(cfg, "S3_BUCKET", "bank-documents"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg),
                         "S3_ACCESS_KEY (or AWS_ACCESS_KEY_ID) is not set"));
  assert_non_null(
      strstr(docstore_config_errmsg(cfg), "Unable to locate credentials"));
  assert_int_equal(docstore_config_set(cfg, "AWS_ACCESS_KEY_ID", "AKIAXX"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(
      strstr(docstore_config_errmsg(cfg),
             "S3_SECRET_KEY (or AWS_SECRET_ACCESS_KEY) is not set"));
  assert_int_equal(docstore_config_set(cfg, "AWS_SECRET_ACCESS_KEY", "s"), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  /* A token that would be dropped is an error, not a surprise. */
  assert_int_equal(docstore_config_set(cfg, "S3_SESSION_TOKEN", "t"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "S3_SESSION_TOKEN"));
  assert_int_equal(docstore_config_set(cfg, "S3_SESSION_TOKEN", NULL), 0);
  /* S3_SECRET_KEY alone. */
  assert_int_equal(docstore_config_set(cfg, "S3_SECRET_KEY", "s"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(
      strstr(docstore_config_errmsg(cfg), "S3_ACCESS_KEY is not set but"));
  assert_int_equal(docstore_config_set(cfg, "S3_ACCESS_KEY", "k"), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  /* Retry bounds. */
  assert_int_equal(docstore_config_set(cfg, "S3_RETRY_BASE_MS", "800"), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_RETRY_MAX_MS", "700"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "S3_RETRY_BASE_MS"));
  assert_int_equal(docstore_config_set(cfg, "S3_RETRY_MAX_MS", "800"), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  /* CA bundle must be readable. */
  assert_int_equal(
      docstore_config_set(cfg, "S3_CA_BUNDLE", "/nonexistent/ca.pem"), 0);
  assert_int_equal(docstore_config_validate(cfg), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "S3_CA_BUNDLE"));
  /* docstore__err_errno's form: "<what>: <strerror>" */
  assert_non_null(strstr(docstore_config_errmsg(cfg),
                         "/nonexistent/ca.pem': No such file or directory"));
  const char *ca = write_text("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  assert_int_equal(docstore_config_set(cfg, "S3_CA_BUNDLE", ca), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  /* Local storage does not care about S3 settings. */
  assert_int_equal(docstore_config_set(cfg, "S3_BUCKET", NULL), 0);
  assert_int_equal(docstore_config_set(cfg, "STORAGE_TYPE", "local"), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
}

/* ---------------------------------------------------------------- dump */

static void test_dump_defaults(void **state) {
  docstore_config *cfg = *state;
  char *out = NULL;
  assert_int_equal(docstore_config_dump(cfg, &out), 0);
  assert_non_null(strstr(out, "STORAGE_TYPE=local  # default\n"));
  assert_non_null(
      strstr(out, "LOCAL_STORAGE_PATH=encrypted_files/  # default\n"));
  assert_non_null(strstr(out, "S3_REGION=us-east-1  # default\n"));
  assert_non_null(strstr(out, "S3_ENDPOINT_URL=  # not set\n"));
  assert_non_null(strstr(out, "S3_MULTIPART_PART_SIZE=8MiB  # default\n"));
  assert_non_null(strstr(out, "DOCSTORE_LEGACY_ROOT=encrypted_files/  # from "
                              "LOCAL_STORAGE_PATH\n"));
  /* AWS_* show through their S3_* settings only. */
  assert_null(strstr(out, "AWS_"));
  /* The defaults shown are the S3 provider's (which applies them when a
   * setting is unset). */
  char line[128];
  snprintf(line, sizeof(line), "S3_MULTIPART_THRESHOLD=%uMiB  # default\n",
           (unsigned)(DOCSTORE__S3_DEFAULT_THRESHOLD >> 20));
  assert_non_null(strstr(out, line));
  snprintf(line, sizeof(line), "S3_MULTIPART_PART_SIZE=%uMiB  # default\n",
           (unsigned)(DOCSTORE__S3_DEFAULT_PART_SIZE >> 20));
  assert_non_null(strstr(out, line));
  const struct {
    const char *name;
    unsigned value;
  } numbers[] = {{"S3_MULTIPART_CONCURRENCY", DOCSTORE__S3_DEFAULT_CONCURRENCY},
                 {"S3_MAX_ATTEMPTS", DOCSTORE__S3_DEFAULT_ATTEMPTS},
                 {"S3_RETRY_BASE_MS", DOCSTORE__S3_DEFAULT_RETRY_BASE_MS},
                 {"S3_RETRY_MAX_MS", DOCSTORE__S3_DEFAULT_RETRY_MAX_MS},
                 {"S3_CONNECT_TIMEOUT_MS", DOCSTORE__S3_DEFAULT_CONNECT_MS},
                 {"S3_REQUEST_TIMEOUT_MS", 0},
                 {"S3_STALL_TIMEOUT_MS", DOCSTORE__S3_DEFAULT_STALL_MS},
                 {"S3_STALL_MIN_BPS", DOCSTORE__S3_DEFAULT_STALL_BPS}};
  for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
    snprintf(line, sizeof(line), "%s=%u  # default\n", numbers[i].name,
             numbers[i].value);
    if (!strstr(out, line))
      fail_msg("dump lacks '%s'", line);
  }
  snprintf(line, sizeof(line), "S3_REGION=%s  # default\n",
           DOCSTORE__S3_DEFAULT_REGION);
  assert_non_null(strstr(out, line));
  docstore_free(out);
  assert_int_equal(docstore_config_set(cfg, "STORAGE_TYPE", "S3"), 0);
  assert_int_equal(docstore_config_dump(cfg, &out), 0);
  assert_non_null(strstr(out, "STORAGE_TYPE=s3\n"));
  docstore_free(out);
}

static void test_dump_masks_secrets(void **state) {
  docstore_config *cfg = *state;
  const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const char *token = "FwoGZXIvYXdzEXAMPLETOKENabcdef";
  const char *pass = "correct horse battery staple";
  char *out = NULL;
  assert_int_equal(
      docstore_config_set(cfg, "S3_ACCESS_KEY", "AKIA1234567890ABCDEF"), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_SECRET_KEY", secret), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_SESSION_TOKEN", token), 0);
  assert_int_equal(docstore_config_set(cfg, "RSA_PRIVATE_KEY_PASSPHRASE", pass),
                   0);
  assert_int_equal(
      docstore_config_set(cfg, "AWS_SECRET_ACCESS_KEY", "AWSSECRETNEVERSHOWN"),
      0);
  assert_int_equal(docstore_config_dump(cfg, &out), 0);
  assert_null(strstr(out, secret));
  assert_null(strstr(out, token));
  assert_null(strstr(out, pass));
  assert_null(strstr(out, "AWSSECRETNEVERSHOWN"));
  assert_null(strstr(out, "1234567890AB"));
  assert_non_null(strstr(out, "S3_ACCESS_KEY=AKIA****CDEF\n"));
  assert_non_null(strstr(out, "S3_SECRET_KEY=****\n"));
  assert_non_null(strstr(out, "S3_SESSION_TOKEN=****\n"));
  assert_non_null(strstr(out, "RSA_PRIVATE_KEY_PASSPHRASE=****\n"));
  docstore_free(out);

  /* Short access keys are masked whole; AWS_* fallbacks are marked. */
  assert_int_equal(docstore_config_set(cfg, "S3_ACCESS_KEY", NULL), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_SECRET_KEY", NULL), 0);
  assert_int_equal(docstore_config_set(cfg, "S3_SESSION_TOKEN", NULL), 0);
  assert_int_equal(docstore_config_set(cfg, "AWS_ACCESS_KEY_ID", "minioadmin"),
                   0);
  assert_int_equal(docstore_config_dump(cfg, &out), 0);
  assert_null(strstr(out, "minioadmin"));
  assert_null(strstr(out, "AWSSECRETNEVERSHOWN"));
  assert_non_null(
      strstr(out, "S3_ACCESS_KEY=****  # from AWS_ACCESS_KEY_ID\n"));
  assert_non_null(
      strstr(out, "S3_SECRET_KEY=****  # from AWS_SECRET_ACCESS_KEY\n"));
  docstore_free(out);
}

/* ---------------------------------------------------------------- .env */

typedef struct collected {
  char names[16][64];
  char values[16][256];
  size_t lines[16];
  size_t n;
} collected;

static int collect(void *payload, const char *name, const char *value,
                   size_t line, docstore__err *err) {
  collected *c = payload;
  (void)err;
  assert_true(c->n < 16);
  snprintf(c->names[c->n], sizeof(c->names[0]), "%s", name);
  snprintf(c->values[c->n], sizeof(c->values[0]), "%s", value);
  c->lines[c->n] = line;
  c->n++;
  return 0;
}

static int parse_text(const char *text, collected *c, docstore__err *err) {
  memset(c, 0, sizeof(*c));
  docstore__err_clear(err);
  return docstore__dotenv_parse(text, strlen(text), "test.env", collect, c,
                                err);
}

static void test_dotenv_syntax(void **state) {
  (void)state;
  collected c;
  docstore__err err;
  const char *text =
      "\xEF\xBB\xBF# comment line\n"
      "\n"
      "   \t\n"
      "A=plain\n"
      "  B = spaced value   \n"
      "export C=exported\n"
      "export\tD='single # not a comment \\n'\n"
      "E=\"double \\\"quoted\\\"\\n\\t\\\\ # kept\"  # trailing comment\n"
      "F=unquoted # trailing comment\n"
      "G=pass#word\n"
      "H=\n"
      "I=a=b=c\n"
      "J=\"unknown \\q escape\"\n"
      "exportK=1\n"
      "L=''\n"
      "M= #only a comment\n";
  assert_int_equal(parse_text(text, &c, &err), 0);
  assert_int_equal(c.n, 13);
  const char *expect[][2] = {
      {"A", "plain"},
      {"B", "spaced value"},
      {"C", "exported"},
      {"D", "single # not a comment \\n"},
      {"E", "double \"quoted\"\n\t\\ # kept"},
      {"F", "unquoted"},
      {"G", "pass#word"},
      {"H", ""},
      {"I", "a=b=c"},
      {"J", "unknown \\q escape"},
      {"exportK", "1"},
      {"L", ""},
      {"M", ""},
  };
  for (size_t i = 0; i < 13; i++) {
    assert_string_equal(c.names[i], expect[i][0]);
    assert_string_equal(c.values[i], expect[i][1]);
  }
  assert_int_equal(c.lines[0], 4);
  assert_int_equal(c.lines[12], 16);
}

static void test_dotenv_crlf_and_no_final_newline(void **state) {
  (void)state;
  collected c;
  docstore__err err;
  assert_int_equal(
      parse_text("# c\r\nA=one\r\nB=\"two\"\r\n\r\nC='three'  \r\nD=four", &c,
                 &err),
      0);
  assert_int_equal(c.n, 4);
  assert_string_equal(c.values[0], "one");
  assert_string_equal(c.values[1], "two");
  assert_string_equal(c.values[2], "three");
  assert_string_equal(c.values[3], "four");
  assert_int_equal(c.lines[3], 6);
}

static void test_dotenv_syntax_errors(void **state) {
  (void)state;
  collected c;
  docstore__err err;
  struct {
    const char *text;
    const char *where;
    const char *what;
  } cases[] = {
      {"A=1\n\nJUSTANAME\n", "test.env:3:", "missing '=' after JUSTANAME"},
      {"A=1\nexport B\n", "test.env:2:", "missing '=' after B"},
      {"1ABC=x\n", "test.env:1:", "expected NAME=value"},
      {"=value\n", "test.env:1:", "expected NAME=value"},
      {"A-B=1\n", "test.env:1:", "missing '='"},
      {"A=1\nB=\"open\n", "test.env:2:", "unterminated double-quoted"},
      {"B='open\nC=1'\n", "test.env:1:", "unterminated single-quoted"},
      {"B=\"x\" y\n", "test.env:1:", "after the closing quote"},
      {"B='x'y\n", "test.env:1:", "after the closing quote"},
      {"A=1\r\nB=\"x\\\"\r\n", "test.env:2:", "unterminated double-quoted"},
      {"export\n", "test.env:1:", "missing '=' after the variable name"},
      /* The wrapped rest of a secret is not repeated. */
      {"S3_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/\nbPxRfiCYEXAMPLEKEY\n",
       "test.env:2:", "missing '=' after the variable name"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(parse_text(cases[i].text, &c, &err), DOCSTORE_ECONFIG);
    if (!strstr(err.msg, cases[i].where) || !strstr(err.msg, cases[i].what))
      fail_msg("case %zu: '%s'", i, err.msg);
    assert_null(strstr(err.msg, "bPxRfiCYEXAMPLEKEY"));
  }
  /* A NUL byte, on line 2. */
  memset(&c, 0, sizeof(c));
  assert_int_equal(
      docstore__dotenv_parse("A=1\nB=x\0y\n", 10, "n.env", collect, &c, &err),
      DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "n.env:2: NUL"));
  /* Over-long name. */
  char name[300];
  memset(name, 'N', 200);
  strcpy(name + 200, "=1\n");
  assert_int_equal(parse_text(name, &c, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "name too long"));
  /* Values never appear in syntax errors. */
  assert_int_equal(parse_text("S3_SECRET_KEY=\"TOPSECRET\n", &c, &err),
                   DOCSTORE_ECONFIG);
  assert_null(strstr(err.msg, "TOPSECRET"));
}

static void test_dotenv_long_lines(void **state) {
  (void)state;
  collected c;
  docstore__err err;
  size_t n = 200000;
  char *text = malloc(n + 64);
  assert_non_null(text);
  strcpy(text, "LONG=");
  memset(text + 5, 'v', n);
  strcpy(text + 5 + n, "\nSHORT=ok\n");
  assert_int_equal(parse_text(text, &c, &err), 0);
  assert_int_equal(c.n, 2);
  assert_string_equal(c.names[1], "SHORT");
  assert_int_equal(c.lines[1], 2);
  free(text);
}

static void test_load_dotenv_file(void **state) {
  docstore_config *cfg = *state;
  const char *path = write_text(
      "app.env", "# shared with the application\n"
                 "DATABASE_URL=postgres://app@db/app\n"
                 "export STORAGE_TYPE=S3\n"
                 "S3_BUCKET='bank-documents'\n"
                 "S3_ENDPOINT_URL=\"http://minio:9000\"\n"
                 "S3_ACCESS_KEY=minioadmin\n"
                 "S3_SECRET_KEY=minioadmin # trailing comment\n"
                 "RSA_PRIVATE_KEY_PASSPHRASE=\"pass with # and spaces\"\n"
                 "S3_VERIFY_TLS=no\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, path), 0);
  assert_string_equal(docstore_config_get(cfg, "STORAGE_TYPE"), "s3");
  assert_string_equal(docstore_config_get(cfg, "S3_BUCKET"), "bank-documents");
  assert_string_equal(docstore_config_get(cfg, "S3_ENDPOINT_URL"),
                      "http://minio:9000");
  assert_string_equal(docstore_config_get(cfg, "S3_SECRET_KEY"), "minioadmin");
  assert_string_equal(docstore_config_get(cfg, "RSA_PRIVATE_KEY_PASSPHRASE"),
                      "pass with # and spaces");
  assert_string_equal(docstore_config_get(cfg, "S3_VERIFY_TLS"), "false");
  assert_int_equal(docstore_config_validate(cfg), 0);

  /* A later file wins for the names it gives, and "NAME=" unsets. */
  path = write_text("override.env", "S3_ENDPOINT_URL=\nS3_BUCKET=other-bucket\n"
                                    "S3_BUCKET=last-wins\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, path), 0);
  assert_null(docstore_config_get(cfg, "S3_ENDPOINT_URL"));
  assert_string_equal(docstore_config_get(cfg, "S3_BUCKET"), "last-wins");
}

static void test_load_dotenv_errors(void **state) {
  docstore_config *cfg = *state;
  char missing[600];
  snprintf(missing, sizeof(missing), "%s/does-not-exist.env", tmpdir);
  assert_int_equal(docstore_config_load_dotenv(cfg, missing),
                   DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "does-not-exist.env"));
  assert_int_equal(docstore_config_load_dotenv(cfg, tmpdir), DOCSTORE_EIO);
  /* A FIFO is no .env file: refused at once (the open does not wait for a
   * writer), with the documented code of util's "not a regular file". */
  char fifo[600];
  snprintf(fifo, sizeof(fifo), "%s/pipe.env", tmpdir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  assert_int_equal(docstore_config_load_dotenv(cfg, fifo), DOCSTORE_EIO);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "not a regular file"));
  unlink(fifo);

  /* A bad value: file and line named, nothing from the file applied. */
  const char *path = write_text("bad.env", "LOCAL_STORAGE_PATH=/srv/new\n"
                                           "# comment\n"
                                           "S3_REGION=Europe West\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, path), DOCSTORE_ECONFIG);
  const char *msg = docstore_config_errmsg(cfg);
  assert_non_null(strstr(msg, "bad.env:3: S3_REGION must be"));
  assert_null(docstore_config_get(cfg, "LOCAL_STORAGE_PATH"));

  path = write_text("bad2.env", "STORAGE_TYPE=s3\nS3_BUCKET bank\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, path), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg),
                         "bad2.env:2: missing '=' after S3_BUCKET"));
  assert_null(docstore_config_get(cfg, "STORAGE_TYPE"));

  /* A secret's bad value is not echoed. */
  path = write_text("bad3.env", "S3_SECRET_KEY=\"SUPER SECRET\"\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, path), DOCSTORE_ECONFIG);
  assert_null(strstr(docstore_config_errmsg(cfg), "SUPER"));
  assert_non_null(
      strstr(docstore_config_errmsg(cfg), "bad3.env:1: S3_SECRET_KEY"));

  /* Very long line: a known path setting over the limit is refused. */
  char *text = malloc(10000);
  assert_non_null(text);
  strcpy(text, "LOCAL_STORAGE_PATH=");
  memset(text + 19, 'p', 9000);
  strcpy(text + 19 + 9000, "\n");
  path = write_text("long.env", text);
  assert_int_equal(docstore_config_load_dotenv(cfg, path), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "long.env:1: "
                                                      "LOCAL_STORAGE_PATH is "
                                                      "too long"));
  free(text);

  /* Not a .env file at all: over 1 MiB. */
  size_t big = 1024 * 1024 + 10;
  char *blob = malloc(big);
  assert_non_null(blob);
  memset(blob, '#', big);
  path = write_file("big.env", blob, big);
  assert_int_equal(docstore_config_load_dotenv(cfg, path), DOCSTORE_ECONFIG);
  assert_non_null(strstr(docstore_config_errmsg(cfg), "larger than"));
  free(blob);
}

/* Defect 4: a .env file someone else could have written is refused (as
 * ssh refuses such a config), before any of its lines is applied. */
static void test_dotenv_refuses_foreign_or_writable(void **state) {
  docstore_config *cfg = *state;
  const char *path =
      write_text("hostile.env", "RSA_PUBLIC_KEY_PATH=/tmp/attacker.pem\n");

  assert_int_equal(docstore_config_load_dotenv(cfg, path), 0); /* 0600 */
  assert_string_equal(docstore_config_get(cfg, "RSA_PUBLIC_KEY_PATH"),
                      "/tmp/attacker.pem");
  assert_int_equal(docstore_config_set(cfg, "RSA_PUBLIC_KEY_PATH", NULL), 0);
  assert_int_equal(chmod(path, 0644), 0); /* readable by others is fine */
  assert_int_equal(docstore_config_load_dotenv(cfg, path), 0);
  assert_int_equal(docstore_config_set(cfg, "RSA_PUBLIC_KEY_PATH", NULL), 0);

  static const mode_t bad[] = {0666, 0620, 0602, 0660};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(chmod(path, bad[i]), 0);
    assert_int_equal(docstore_config_load_dotenv(cfg, path), DOCSTORE_ECONFIG);
    const char *msg = docstore_config_errmsg(cfg);
    assert_non_null(strstr(msg, "refusing"));
    assert_non_null(strstr(msg, "hostile.env"));
    assert_non_null(strstr(msg, "writable by"));
    assert_null(strstr(msg, "attacker")); /* no value is shown */
    assert_null(docstore_config_get(cfg, "RSA_PUBLIC_KEY_PATH"));
  }

  /* Owned by another user: only root can hand a file over, so this part
   * runs where the suite runs as root (CI's containers do). */
  assert_int_equal(chmod(path, 0600), 0);
  if (geteuid() == 0) {
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(docstore_config_load_dotenv(cfg, path), DOCSTORE_ECONFIG);
    assert_non_null(strstr(docstore_config_errmsg(cfg), "owned by uid 65534"));
    assert_null(docstore_config_get(cfg, "RSA_PUBLIC_KEY_PATH"));
    /* Root's own file is trusted (ssh's rule: the user or root). */
    assert_int_equal(chown(path, 0, 0), 0);
    assert_int_equal(docstore_config_load_dotenv(cfg, path), 0);
  }
}

/* ------------------------------------------------------ the schema API */

static void test_schema_api(void **state) {
  docstore_config *cfg = *state;
  size_t n = 0;
  const docstore_setting_info *info;
  for (; (info = docstore_config_setting_at(n)) != NULL; n++) {
    assert_int_equal(info->version, DOCSTORE_SETTING_INFO_VERSION);
    assert_non_null(info->name);
    assert_non_null(info->provider);
    assert_non_null(info->description);
    assert_true(strlen(info->description) > 8);
    assert_true(info->type >= DOCSTORE_SETTING_TEXT &&
                info->type <= DOCSTORE_SETTING_TOKEN);
    assert_string_equal(docstore_config_name_at(n), info->name);
    assert_ptr_equal(docstore_config_setting_find(info->name), info);
    for (size_t j = 0; j < n; j++) /* names are unique */
      assert_string_not_equal(docstore_config_setting_at(j)->name, info->name);
    assert_true((info->type == DOCSTORE_SETTING_CHOICE) ==
                (info->choices != NULL));
    if (info->type == DOCSTORE_SETTING_UINT ||
        info->type == DOCSTORE_SETTING_SIZE)
      assert_true(info->min <= info->max && info->max > 0);
    /* A default is a value the setting itself accepts, stored as is. */
    if (info->default_value) {
      char *norm = NULL;
      docstore__err err;
      const docstore__setting *s =
          docstore__catalog_find(&docstore__library_catalog, info->name, NULL);
      assert_non_null(s);
      if (docstore__setting_check(s, info->name, info->default_value, &norm,
                                  &err) != 0)
        fail_msg("default of %s refused: %s", info->name, err.msg);
      assert_string_equal(norm, info->default_value);
      docstore_free(norm);
    }
    /* Every setting can be set by name. */
    assert_int_equal(docstore_config_set(cfg, info->name, NULL), 0);
  }
  assert_int_equal(n, docstore__catalog_count(&docstore__library_catalog));
  assert_true(n >= 31);
  assert_null(docstore_config_setting_at(n));
  assert_null(docstore_config_name_at(n));
  assert_null(docstore_config_setting_find(NULL));
  assert_null(docstore_config_setting_find("S3_NOPE"));

  info = docstore_config_setting_find("S3_MULTIPART_CONCURRENCY");
  assert_non_null(info);
  assert_string_equal(info->provider, "s3");
  assert_int_equal(info->type, DOCSTORE_SETTING_UINT);
  assert_string_equal(info->default_value, "4");
  assert_int_equal(info->min, 1);
  assert_int_equal(info->max, 64);
  assert_string_equal(info->field, "multipart_concurrency");
  info = docstore_config_setting_find("S3_SECRET_KEY");
  assert_true(info->flags & DOCSTORE_SETTING_SECRET);
  info = docstore_config_setting_find("AWS_REGION");
  assert_true(info->flags & DOCSTORE_SETTING_FALLBACK);
  info = docstore_config_setting_find("S3_ADDRESSING_STYLE");
  assert_string_equal(info->choices, "auto|path|virtual");
  info = docstore_config_setting_find("LOCAL_STORAGE_PATH");
  assert_string_equal(info->provider, "local");
  assert_string_equal(info->field, "root");
}

/* The rules of a setting and of the options field it lands in cannot
 * drift: a C caller who fills docstore_s3_options by hand gets the same
 * checks as a configuration, with messages that name the field and the
 * setting (and no environment). */
static void test_provider_checks_follow_schema(void **state) {
  docstore_config *cfg = *state;
  static const struct {
    const char *name, *value;
  } bad[] = {
      {"S3_BUCKET", "ab"},                   /* 1-255 in the provider before */
      {"S3_BUCKET", "-bucket"},              /* idem */
      {"S3_MAX_ATTEMPTS", "21"},             /* unchecked before */
      {"S3_MULTIPART_THRESHOLD", "1048576"}, /* unchecked before */
      {"S3_MULTIPART_PART_SIZE", "6442450944"}, /* above 5 GiB */
      {"S3_MULTIPART_CONCURRENCY", "65"},
      {"S3_RETRY_MAX_MS", "600001"},
      {"S3_STALL_MIN_BPS", "1073741825"},
      {"S3_REGION", "US East"},
      {"S3_ENDPOINT_URL", "http://host/path"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const docstore_setting_info *info =
        docstore_config_setting_find(bad[i].name);
    assert_non_null(info);
    /* the configuration refuses it ... */
    assert_int_equal(docstore_config_set(cfg, bad[i].name, bad[i].value),
                     DOCSTORE_ECONFIG);
    /* ... and so does the provider, given the same value in its field */
    docstore_s3_options o = DOCSTORE_S3_OPTIONS_INIT;
    o.bucket = "bank-documents";
    o.access_key = "AKIDEXAMPLE";
    o.secret_key = "secret";
    unsigned char *f = (unsigned char *)&o;
    const docstore__setting *s =
        docstore__catalog_find(&docstore__library_catalog, bad[i].name, NULL);
    uint64_t n = 0;
    if (s->land == DOCSTORE__LAND_STR)
      memcpy(f + s->offset, &bad[i].value, sizeof(char *));
    else {
      assert_int_equal(docstore__setting_parse_u64(bad[i].value, &n), 0);
      if (s->land == DOCSTORE__LAND_U64)
        memcpy(f + s->offset, &n, sizeof(n));
      else {
        unsigned int u = (unsigned int)n;
        memcpy(f + s->offset, &u, sizeof(u));
      }
    }
    docstore__err err;
    docstore__err_clear(&err);
    if (docstore__s3_options_check(&o, NULL, &err) != DOCSTORE_ECONFIG)
      fail_msg("provider accepts %s=%s", info->field, bad[i].value);
    char want[128];
    snprintf(want, sizeof(want), "%s (setting %s)", info->field, info->name);
    if (!strstr(err.msg, want))
      fail_msg("'%s' lacks '%s'", err.msg, want);
    assert_null(strstr(err.msg, "environment"));
    assert_null(strstr(err.msg, "variable"));
  }

  /* The local provider too. */
  docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
  docstore__err err;
  docstore__err_clear(&err);
  lo.root = "/srv/docs\nx";
  assert_int_equal(docstore__local_options_check(&lo, &err), DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "root (setting LOCAL_STORAGE_PATH)"));
  lo.root = "/srv/docs";
  assert_int_equal(docstore__local_options_check(&lo, &err), 0);
}

/* docs/CONFIG.md's reference table is the schema, row for row: every
 * setting, its default, range and field, and nothing else.  On a
 * mismatch the expected table is printed, ready to paste. */
static const char *type_name(int type) {
  static const char *const names[] = {"text",   "choice", "boolean", "integer",
                                      "size",   "path",   "URL",     "region",
                                      "bucket", "token"};
  return type >= 0 && type <= DOCSTORE_SETTING_TOKEN ? names[type] : "?";
}

/* 4096 -> "4KiB", 5 << 30 -> "5GiB": the largest binary unit that
 * divides it. */
static const char *size_name(char *buf, size_t cap, uint64_t v) {
  static const char *const units[] = {"GiB", "MiB", "KiB"};
  for (int i = 0; i < 3; i++) {
    uint64_t u = (uint64_t)1 << (30 - 10 * i);
    if (v && v % u == 0) {
      snprintf(buf, cap, "%llu%s", (unsigned long long)(v / u), units[i]);
      return buf;
    }
  }
  snprintf(buf, cap, "%llu", (unsigned long long)v);
  return buf;
}

static void render_reference(char *out, size_t cap) {
  size_t n = 0;
  const docstore_setting_info *s;
  n += (size_t)snprintf(out + n, cap - n,
                        "| Setting | Provider | Type | Default | Accepted | "
                        "Field | Flags | Meaning |\n"
                        "|---|---|---|---|---|---|---|---|\n");
  for (size_t i = 0; (s = docstore_config_setting_at(i)) != NULL; i++) {
    char accepted[128] = "", flags[64] = "";
    if (s->type == DOCSTORE_SETTING_UINT)
      snprintf(accepted, sizeof(accepted), "%llu to %llu",
               (unsigned long long)s->min, (unsigned long long)s->max);
    else if (s->type == DOCSTORE_SETTING_SIZE) {
      char lo[32], hi[32];
      snprintf(accepted, sizeof(accepted), "%s to %s",
               size_name(lo, sizeof(lo), s->min),
               size_name(hi, sizeof(hi), s->max));
    } else if (s->choices) {
      size_t k = 0;
      accepted[k++] = '`';
      for (const char *c = s->choices; *c && k + 5 < sizeof(accepted); c++)
        if (*c == '|') {
          memcpy(accepted + k, "`, `", 4);
          k += 4;
        } else
          accepted[k++] = *c;
      accepted[k++] = '`';
      accepted[k] = '\0';
      if (strstr(s->choices, ":N"))
        snprintf(accepted + k, sizeof(accepted) - k, " (N %llu to %llu)",
                 (unsigned long long)s->min, (unsigned long long)s->max);
    }
    snprintf(flags, sizeof(flags), "%s%s%s%s",
             (s->flags & DOCSTORE_SETTING_REQUIRED) ? "required " : "",
             (s->flags & DOCSTORE_SETTING_SECRET) ? "secret " : "",
             (s->flags & DOCSTORE_SETTING_PARTIAL) ? "masked " : "",
             (s->flags & DOCSTORE_SETTING_FALLBACK) ? "fallback " : "");
    size_t fl = strlen(flags);
    if (fl)
      flags[fl - 1] = '\0';
    n += (size_t)snprintf(
        out + n, cap - n,
        "| `%s` | %s | %s | %s%s%s | %s | %s%s%s | %s | %s |\n", s->name,
        s->provider[0] ? s->provider : "all", type_name(s->type),
        s->default_value ? "`" : "", s->default_value ? s->default_value : "",
        s->default_value ? "`" : "", accepted, s->field ? "`" : "",
        s->field ? s->field : "", s->field ? "`" : "", flags, s->description);
    assert_true(n < cap);
  }
}

static char *read_doc(const char *rel) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", DOCSTORE_SOURCE_DIR, rel);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *text = calloc(1, 1 << 20);
  assert_non_null(text);
  size_t len = fread(text, 1, (1 << 20) - 1, f);
  fclose(f);
  text[len] = '\0';
  return text;
}

static void test_config_md_matches_schema(void **state) {
  (void)state;
  char *doc = read_doc("docs/CONFIG.md");
  static const char begin[] = "<!-- settings-reference: begin";
  static const char end[] = "<!-- settings-reference: end -->";
  char *a = strstr(doc, begin), *b = a ? strstr(a, end) : NULL;
  assert_non_null(a);
  assert_non_null(b);
  a = strstr(a, "-->\n");
  assert_non_null(a);
  a += 4;
  *b = '\0';
  char *want = malloc(1 << 16);
  assert_non_null(want);
  render_reference(want, 1 << 16);
  if (strcmp(a, want) != 0) {
    fprintf(stderr, "docs/CONFIG.md's reference table should be:\n%s", want);
    fail_msg("docs/CONFIG.md does not match the settings schema");
  }
  *b = '<';

  /* The prose names no setting the schema does not know. */
  static const char *const prefixes[] = {"S3_",    "AWS_",     "RSA_",
                                         "LOCAL_", "STORAGE_", "DOCSTORE_L"};
  for (const char *p = doc; (p = strchr(p, '`')) != NULL; p++) {
    size_t len = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    if (len == 0 || p[1 + len] != '`')
      continue;
    for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++)
      if (strncmp(p + 1, prefixes[k], strlen(prefixes[k])) == 0) {
        char name[80];
        snprintf(name, sizeof(name), "%.*s", (int)len, p + 1);
        if (!docstore_config_setting_find(name))
          fail_msg("docs/CONFIG.md names `%s`, which is no setting", name);
      }
    p += len + 1;
  }
  free(want);
  free(doc);
}

/* The three .env examples of the seed's guide, as written there. */
static void test_seed_examples(void **state) {
  docstore_config *cfg = *state;
  char *out = NULL;
  const char *aws = write_text("aws.env", "# For AWS S3\n"
                                          "STORAGE_TYPE=s3\n"
                                          "S3_ACCESS_KEY=AKIA1234567890ABCDEF\n"
                                          "S3_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/"
                                          "bPxRfiCYEXAMPLEKEY\n"
                                          "S3_BUCKET=bank-documents\n"
                                          "S3_REGION=us-east-1\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, aws), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  assert_int_equal(docstore_config_dump(cfg, &out), 0);
  assert_non_null(strstr(out, "S3_ACCESS_KEY=AKIA****CDEF\n"));
  assert_null(strstr(out, "bPxRfiCYEXAMPLEKEY"));
  assert_non_null(strstr(out, "S3_ENDPOINT_URL=  # not set\n"));
  docstore_free(out);

  docstore_config_free(cfg);
  assert_int_equal(docstore_config_new(&cfg), 0);
  *state = cfg;
  const char *minio =
      write_text("minio.env", "# For MinIO\n"
                              "STORAGE_TYPE=s3\n"
                              "S3_ACCESS_KEY=minioadmin\n"
                              "S3_SECRET_KEY=minioadmin\n"
                              "S3_BUCKET=bank-documents\n"
                              "S3_ENDPOINT_URL=http://minio:9000\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, minio), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  assert_string_equal(eff(cfg, "S3_REGION", NULL), "us-east-1");

  docstore_config_free(cfg);
  assert_int_equal(docstore_config_new(&cfg), 0);
  *state = cfg;
  const char *local =
      write_text("local.env", "# Fallback to local storage\n"
                              "STORAGE_TYPE=local\n"
                              "LOCAL_STORAGE_PATH=encrypted_files/\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, local), 0);
  assert_int_equal(docstore_config_validate(cfg), 0);
  assert_string_equal(docstore_config_get(cfg, "LOCAL_STORAGE_PATH"),
                      "encrypted_files/");

  /* The "Environment Variables" block, with its trailing comments. */
  const char *block = write_text(
      "vars.env", "# Storage type: \"s3\" or \"local\"\n"
                  "STORAGE_TYPE=s3\n"
                  "# S3 Configuration\n"
                  "S3_ACCESS_KEY=your_access_key\n"
                  "S3_SECRET_KEY=your_secret_key\n"
                  "S3_BUCKET=bank-documents\n"
                  "S3_REGION=us-east-1\n"
                  "S3_ENDPOINT_URL=https://s3.amazonaws.com # Optional, for "
                  "MinIO use custom endpoint\n"
                  "# Local Storage Configuration (fallback)\n"
                  "LOCAL_STORAGE_PATH=encrypted_files/\n");
  assert_int_equal(docstore_config_load_dotenv(cfg, block), 0);
  assert_string_equal(docstore_config_get(cfg, "S3_ENDPOINT_URL"),
                      "https://s3.amazonaws.com");
  assert_int_equal(docstore_config_validate(cfg), 0);
}

int main(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/docstore-test-config-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_new_free_null, setup, teardown),
      cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_name, setup, teardown),
      cmocka_unit_test_setup_teardown(test_name_at, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_means_unset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_storage_type, setup, teardown),
      cmocka_unit_test_setup_teardown(test_region, setup, teardown),
      cmocka_unit_test_setup_teardown(test_endpoint_url, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bucket, setup, teardown),
      cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
      cmocka_unit_test_setup_teardown(test_credentials_shape, setup, teardown),
      cmocka_unit_test_setup_teardown(test_addressing_and_log_level, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_verify_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_s3_options_mapping, setup, teardown),
      cmocka_unit_test_setup_teardown(test_aws_fallback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_region_fallback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_legacy_root_default, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_envelope_settings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_env_bad_value_applies_nothing,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_validate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dump_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dump_masks_secrets, setup, teardown),
      cmocka_unit_test(test_dotenv_syntax),
      cmocka_unit_test(test_dotenv_crlf_and_no_final_newline),
      cmocka_unit_test(test_dotenv_syntax_errors),
      cmocka_unit_test(test_dotenv_long_lines),
      cmocka_unit_test_setup_teardown(test_load_dotenv_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_dotenv_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dotenv_refuses_foreign_or_writable,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_seed_examples, setup, teardown),
      cmocka_unit_test_setup_teardown(test_schema_api, setup, teardown),
      cmocka_unit_test_setup_teardown(test_provider_checks_follow_schema, setup,
                                      teardown),
      cmocka_unit_test(test_config_md_matches_schema),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return failed;
}
