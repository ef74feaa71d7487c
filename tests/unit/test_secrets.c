/*
 * Unit tests: secrets stay out of messages, without a server (the S3 runs
 * are in tests/integration/test_s3_secrets.c).
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

#define PASSWORD "UrlPassw0rd-Kq8Zr"

/* An endpoint URL with a user name and password is refused by the S3
 * constructor, whatever is wrong with it, and the password is not shown:
 * neither in errbuf nor in the thread's last error. */
static void test_s3_endpoint_password_not_shown(void **state) {
  (void)state;
  static const char *const urls[] = {
      ("http://user:" PASSWORD "@127.0.0.1:9000"),    /* not a host */
      ("http://127.0.0.1:9000/x?user:" PASSWORD "@"), /* a path */
      ("ftp://user:" PASSWORD "@127.0.0.1"),          /* a scheme */
      ("https://minio:9000/@" PASSWORD),              /* a path */
  };
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    docstore_s3_options o = DOCSTORE_S3_OPTIONS_INIT;
    o.bucket = "bank-documents";
    o.access_key = "AKIDEXAMPLE";
    o.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    o.endpoint_url = urls[i];
    docstore_provider *p = NULL;
    char errbuf[512] = "";
    assert_int_equal(docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)),
                     DOCSTORE_ECONFIG);
    assert_null(p);
    assert_non_null(strstr(errbuf, "S3_ENDPOINT_URL"));
    assert_null(strstr(errbuf, PASSWORD));
    assert_null(strstr(docstore_last_errmsg(), PASSWORD));
  }
  /* Without a user name the URL is shown, to help fix it. */
  docstore_s3_options o = DOCSTORE_S3_OPTIONS_INIT;
  o.bucket = "bank-documents";
  o.access_key = "AKIDEXAMPLE";
  o.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  o.endpoint_url = "http://minio:9000/path";
  docstore_provider *p = NULL;
  char errbuf[512] = "";
  assert_int_equal(docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(errbuf, "http://minio:9000/path"));
}

#if DOCSTORE_WITH_MIGRATE /* not built with DOCSTORE_WITH_MIGRATE=OFF */
/* A database URL that libpq cannot parse: libpq's own message would quote
 * the part it choked on, which may be the password. */
static void test_database_url_password_not_shown(void **state) {
  (void)state;
  static const struct {
    const char *url;
    const char *secret;
  } cases[] = {
      {"postgresql://user:Pa%zzSecret9@127.0.0.1:1/db", "Pa%zzSecret9"},
      {"host=127.0.0.1 port=1 password=Hunter2 Word7x dbname=db", "Word7x"},
      {"host=127.0.0.1 password='Unclosed-Quote5 dbname=db", "Unclosed-Quote5"},
      /* Well-formed: libpq's connection failure never holds the password. */
      {"postgresql://user:Valid-Pass3@127.0.0.1:1/db", "Valid-Pass3"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    docstore_migrate_options o;
    assert_int_equal(
        docstore_migrate_options_init(&o, DOCSTORE_MIGRATE_OPTIONS_VERSION), 0);
    o.database_url = cases[i].url;
    char errbuf[512] = "";
    assert_int_equal(docstore_migrate_schema_apply(&o, errbuf, sizeof(errbuf)),
                     DOCSTORE_EDATABASE);
    assert_non_null(strstr(errbuf, "cannot connect to the database"));
    assert_null(strstr(errbuf, cases[i].secret));
    assert_null(strstr(docstore_last_errmsg(), cases[i].secret));
  }
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_s3_endpoint_password_not_shown),
#if DOCSTORE_WITH_MIGRATE
    cmocka_unit_test(test_database_url_password_not_shown),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
