/*
 * Unit tests: strict URL parsing (src/util/url.c): the parts as cursors,
 * IPv6 literals, ports, user information refused without echoing it, the
 * origin-only form of endpoint URLs, and malformed URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/url.h"

static void expect_url(const char *s, unsigned flags, const char *scheme,
                       const char *host, int v6, unsigned port,
                       const char *path, const char *query) {
  docstore__url u;
  docstore__err err;
  docstore__err_clear(&err);
  int rc = docstore__url_parse(&u, s, flags, &err);
  if (rc != 0)
    fail_msg("%s: %s", s, err.msg);
  assert_true(docstore__cursor_eq_cstr(u.scheme, scheme));
  assert_true(docstore__cursor_eq_cstr(u.host, host));
  assert_int_equal(u.host_is_ipv6, v6);
  assert_int_equal(u.port, port);
  assert_true(docstore__cursor_eq_cstr(u.path, path));
  assert_true(docstore__cursor_eq_cstr(u.query, query));
}

static void expect_bad(const char *s, unsigned flags, const char *why) {
  docstore__url u;
  docstore__err err;
  docstore__err_clear(&err);
  assert_int_equal(docstore__url_parse(&u, s, flags, &err), DOCSTORE_EINVAL);
  if (!strstr(err.msg, why))
    fail_msg("%s: got \"%s\", expected \"%s\"", s ? s : "(null)", err.msg, why);
}

static void test_good(void **state) {
  (void)state;
  expect_url("http://minio:9000", 0, "http", "minio", 0, 9000, "", "");
  expect_url("https://s3.us-east-1.amazonaws.com/", 0, "https",
             "s3.us-east-1.amazonaws.com", 0, 0, "/", "");
  expect_url("HTTPS://Example.COM:443/a/b?x=1&y", 0, "HTTPS", "Example.COM", 0,
             443, "/a/b", "x=1&y");
  expect_url("http://127.0.0.1:1/", 0, "http", "127.0.0.1", 0, 1, "/", "");
  expect_url("http://[::1]:8080/p", 0, "http", "::1", 1, 8080, "/p", "");
  expect_url("http://[2001:db8::7]", 0, "http", "2001:db8::7", 1, 0, "", "");
  expect_url("http://[::ffff:192.0.2.1]:65535", 0, "http", "::ffff:192.0.2.1",
             1, 65535, "", "");
  expect_url("http://h?q", 0, "http", "h", 0, 0, "", "q");
  expect_url("s3+x.y-z://under_score-host", 0, "s3+x.y-z", "under_score-host",
             0, 0, "", "");
  expect_url("http://minio:9000/", DOCSTORE__URL_ORIGIN_ONLY, "http", "minio",
             0, 9000, "/", "");

  docstore__url u;
  assert_int_equal(docstore__url_parse(&u, "http://a", 0, NULL), 0);
  assert_int_equal(docstore__url_default_port(&u), 80);
  assert_int_equal(docstore__url_parse(&u, "HTTPS://a", 0, NULL), 0);
  assert_int_equal(docstore__url_default_port(&u), 443);
  assert_int_equal(docstore__url_parse(&u, "ftp://a", 0, NULL), 0);
  assert_int_equal(docstore__url_default_port(&u), 0);
}

static void test_bad(void **state) {
  (void)state;
  char long_label[80], long_host[300];
  memset(long_label, 'a', 64);
  strcpy(long_label + 64, ".com");
  char url_label[100];
  snprintf(url_label, sizeof(url_label), "http://%s", long_label);
  memset(long_host, 0, sizeof(long_host));
  strcpy(long_host, "http://");
  for (int i = 0; i < 64; i++)
    strcat(long_host, "abc.");
  strcat(long_host, "com");

  expect_bad(NULL, 0, "is empty");
  expect_bad("", 0, "is empty");
  expect_bad("minio:9000", 0, "must start with scheme://");
  expect_bad("http:/minio", 0, "must start with scheme://");
  expect_bad("://minio", 0, "must start with scheme://");
  expect_bad("1http://minio", 0, "must start with scheme://");
  expect_bad("http://", 0, "needs a host name");
  expect_bad("http://:9000", 0, "needs a host name");
  expect_bad("http://a..b", 0, "empty label");
  expect_bad("http://.a", 0, "empty label");
  expect_bad("http://a.", 0, "empty label");
  expect_bad("http://-a.b", 0, "starting or ending with '-'");
  expect_bad("http://a-.b", 0, "starting or ending with '-'");
  expect_bad(url_label, 0, "longer than 63");
  expect_bad(long_host, 0, "longer than 253");
  expect_bad("http://a%41", 0, "not allowed in a host name");
  expect_bad("http://a b", 0, "space, control or non-ASCII");
  expect_bad("http://a\tb", 0, "space, control or non-ASCII");
  expect_bad("http://h\xc3\xa9", 0, "space, control or non-ASCII");
  expect_bad("http://a/#frag", 0, "fragment");
  expect_bad("http://a:0", 0, "bad port");
  expect_bad("http://a:65536", 0, "bad port");
  expect_bad("http://a:123456", 0, "bad port");
  expect_bad("http://a:", 0, "bad port");
  expect_bad("http://a:-1", 0, "bad port");
  expect_bad("http://a:+80", 0, "bad port");
  expect_bad("http://a:80x", 0, "not a port, path or query");
  expect_bad("http://a:80:90", 0, "not a port, path or query");
  expect_bad("http://[::1", 0, "without its closing ']'");
  expect_bad("http://[]", 0, "malformed [IPv6]");
  expect_bad("http://[::g]", 0, "malformed [IPv6]");
  expect_bad("http://[1:2:3:4:5:6:7:8:9]", 0, "malformed [IPv6]");
  expect_bad("http://[fe80::1%25eth0]", 0, "malformed [IPv6]");
  expect_bad("http://[::1]x", 0, "not a port, path or query");
  expect_bad("http://a/b", DOCSTORE__URL_ORIGIN_ONLY, "only scheme, host");
  expect_bad("http://a/?", DOCSTORE__URL_ORIGIN_ONLY, "only scheme, host");
  expect_bad("http://a?x", DOCSTORE__URL_ORIGIN_ONLY, "only scheme, host");
  expect_bad("http://a//", DOCSTORE__URL_ORIGIN_ONLY, "only scheme, host");
}

/* User information is refused, and the message never shows it. */
static void test_userinfo(void **state) {
  (void)state;
  static const char *const urls[] = {"http://user:hunter2@minio:9000",
                                     "http://hunter2@minio", "http://@minio",
                                     "http://user:hunter2@[::1]:80/"};
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    docstore__url u;
    docstore__err err;
    docstore__err_clear(&err);
    assert_int_equal(docstore__url_parse(&u, urls[i], 0, &err),
                     DOCSTORE_EINVAL);
    assert_non_null(strstr(err.msg, "user name or password"));
    assert_null(strstr(err.msg, "hunter2"));
    assert_null(strstr(docstore_last_errmsg(), "hunter2"));
  }
  /* An '@' after the authority is a path or query character. */
  expect_url("http://minio/a@b?c@d", 0, "http", "minio", 0, 0, "/a@b", "c@d");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_userinfo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
