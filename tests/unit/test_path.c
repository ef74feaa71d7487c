/*
 * Unit tests: the documents/ path layout (src/service/path.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "docstore/docstore.h"
#include "service/service_internal.h"

#define JAN15_NOON INT64_C(1705320000)    /* 2024-01-15T12:00:00Z */
#define JAN15_LAST INT64_C(1705363199)    /* 2024-01-15T23:59:59Z */
#define JAN16_FIRST INT64_C(1705363200)   /* 2024-01-16T00:00:00Z */
#define LEAP_DAY INT64_C(1709208000)      /* 2024-02-29T12:00:00Z */
#define Y2K_EVE INT64_C(946684799)        /* 1999-12-31T23:59:59Z */
#define LAST_SECOND INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* The storage path, or a test failure. */
static char *path_of(const char *file_id, const char *filename,
                     const char *user_id, int64_t when) {
  char *out = NULL;
  int rc = docstore_storage_path(&out, file_id, filename, user_id, when);
  if (rc != 0)
    fail_msg("storage_path(%s, %s): %s", file_id, filename,
             docstore_last_errmsg());
  assert_non_null(out);
  assert_int_equal(docstore_key_check(out), 0);
  return out;
}

static void expect_path(const char *file_id, const char *filename,
                        const char *user_id, int64_t when, const char *want) {
  char *got = path_of(file_id, filename, user_id, when);
  assert_string_equal(got, want);
  docstore_free(got);
}

/* The <name> part of documents/.../<file_id>_<name>_<ext>.json for user 1
 * and file id 1 on JAN15_NOON: the last segment with "1_" and
 * "_<ext>.json" taken off. */
static void expect_name(const char *filename, const char *name,
                        const char *ext) {
  char want[512];
  snprintf(want, sizeof(want), "documents/user_1/2024/01/15/1_%s_%s.json", name,
           ext);
  expect_path("1", filename, "1", JAN15_NOON, want);
}

/* The seed's drawing, exactly. */
static void test_seed_examples(void **state) {
  (void)state;
  expect_path("1", "passport.pdf", "123", JAN15_NOON,
              "documents/user_123/2024/01/15/1_passport.pdf_pdf.json");
  expect_path("2", "license.pdf", "123", JAN15_NOON,
              "documents/user_123/2024/01/15/2_license.pdf_pdf.json");
  expect_path("3", "visa.pdf", "123", JAN16_FIRST,
              "documents/user_123/2024/01/16/3_visa.pdf_pdf.json");
  expect_path("4", "certificate.pdf", "456", JAN15_NOON,
              "documents/user_456/2024/01/15/4_certificate.pdf_pdf.json");
  expect_path("5", "template.pdf", NULL, JAN15_NOON,
              "documents/system/2024/01/15/5_template.pdf_pdf.json");
}

static void test_extension_rules(void **state) {
  (void)state;
  expect_name("PHOTO.JPG", "PHOTO.JPG", "jpg");
  expect_name("archive.tar.gz", "archive.tar.gz", "gz");
  expect_name("README", "README", "bin");
  expect_name("trailing.", "trailing.", "bin");
  expect_name("x.tar-gz", "x.tar-gz", "bin"); /* not [a-z0-9] */
  expect_name("x.abcdefghijklmnop", "x.abcdefghijklmnop",
              "abcdefghijklmnop"); /* 16: kept */
  expect_name("x.abcdefghijklmnopq", "x.abcdefghijklmnopq", "bin"); /* 17 */
  expect_name("doc.p\xc3\xa9"
              "f",
              "doc.p\xc3\xa9"
              "f",
              "bin"); /* non-ASCII */
  expect_name("v2.7z", "v2.7z", "7z");
}

static void test_hostile_names(void **state) {
  (void)state;
  expect_name("../../etc/passwd", "_.._etc_passwd", "bin");
  expect_name("/abs", "_abs", "bin");
  expect_name("/etc/shadow.txt", "_etc_shadow.txt", "txt");
  expect_name("a\\b", "a_b", "bin");
  expect_name("..\\..\\boot.ini", "_.._boot.ini", "ini");
  expect_name("a\x01"
              "b\nc\td\x7f"
              "e.txt",
              "a_b_c_d_e.txt", "txt");
  expect_name("\x1b[31mred.pdf", "__31mred.pdf", "pdf");
  expect_name("my file (1).pdf", "my_file__1_.pdf", "pdf");
  expect_name("a:b*c?d\"e<f>g|h.pdf", "a_b_c_d_e_f_g_h.pdf", "pdf");
  expect_name("%2e%2e%2fx", "_2e_2e_2fx", "bin");
  expect_name(".bashrc", "bashrc", "bin");
  expect_name("...hidden.txt", "hidden.txt", "txt");
  expect_name(". .x", "_.x", "x");
  expect_name("...", "file", "bin");
  expect_name(".", "file", "bin");
  expect_name("..", "file", "bin");
  expect_name("", "file", "bin");
  expect_name("a/..", "a_..", "bin");
}

static void test_utf8(void **state) {
  (void)state;
  /* Kept: accented, CJK, Cyrillic, emoji, combining marks. */
  expect_name("r\xc3\xa9sum\xc3\xa9.pdf", "r\xc3\xa9sum\xc3\xa9.pdf", "pdf");
  expect_name("\xe6\x97\xa5\xe6\x9c\xac.pdf", "\xe6\x97\xa5\xe6\x9c\xac.pdf",
              "pdf");
  expect_name("\xd0\xbf\xd0\xb0\xd1\x81\xd0\xbf\xd0\xbe\xd1\x80\xd1\x82.jpg",
              "\xd0\xbf\xd0\xb0\xd1\x81\xd0\xbf\xd0\xbe\xd1\x80\xd1\x82.jpg",
              "jpg");
  expect_name("\xf0\x9f\x93\x84.pdf", "\xf0\x9f\x93\x84.pdf", "pdf");
  expect_name("e\xcc\x81.txt", "e\xcc\x81.txt", "txt"); /* e + U+0301 */
  /* Invalid UTF-8: one '_' per bad byte. */
  expect_name("r\xe9sum\xe9.pdf", "r_sum_.pdf", "pdf"); /* Latin-1 */
  expect_name("\xff\xfe.txt", "__.txt", "txt");
  expect_name("over\xc0\xaf.txt", "over__.txt", "txt");    /* overlong '/' */
  expect_name("sur\xed\xa0\x80.txt", "sur___.txt", "txt"); /* U+D800 */
  expect_name("cut\xe6\x97", "cut__", "bin");              /* truncated */
  /* Dangerous code points: one '_' each. */
  expect_name("invoice\xe2\x80\xae"
              "fdp.exe",
              "invoice_fdp.exe", "exe");
  expect_name("a\xe2\x80\x8b"
              "b.pdf",
              "a_b.pdf", "pdf"); /* ZWSP */
  expect_name("a\xe2\x80\xa8"
              "b.pdf",
              "a_b.pdf", "pdf"); /* U+2028 */
  expect_name("a\xe2\x80\xa9"
              "b.pdf",
              "a_b.pdf", "pdf"); /* U+2029 */
  expect_name("a\xc2\xa0"
              "b.pdf",
              "a_b.pdf", "pdf"); /* NBSP */
  expect_name("a\xc2\x85"
              "b.pdf",
              "a_b.pdf", "pdf"); /* NEL (C1) */
  expect_name("a\xef\xbb\xbf"
              "b.pdf",
              "a_b.pdf", "pdf"); /* BOM */
  expect_name("a\xe3\x80\x80"
              "b.pdf",
              "a_b.pdf", "pdf"); /* ideographic sp */
  expect_name("a\xee\x80\x80"
              "b.pdf",
              "a_b.pdf", "pdf"); /* private use */
  expect_name("a\xf3\xa0\x80\x81"
              "b.pdf",
              "a_b.pdf", "pdf"); /* tag */
  expect_name("a\xef\xbf\xbe"
              "b.pdf",
              "a_b.pdf", "pdf"); /* U+FFFE */
  expect_name("a\xe2\x81\xa6"
              "b.pdf",
              "a_b.pdf", "pdf"); /* LRI */
}

static void test_long_names(void **state) {
  (void)state;
  size_t big = 10 * 1024;
  char *name = malloc(big + 8);
  char want[256];
  assert_non_null(name);

  /* 10 KiB with a short extension: the extension survives. */
  memset(name, 'a', big);
  memcpy(name + big, ".pdf", 5);
  memset(want, 'a', 116);
  memcpy(want + 116, ".pdf", 5);
  expect_name(name, want, "pdf");

  /* No extension: a plain cut at 120 bytes. */
  name[big] = '\0';
  memset(want, 'a', 120);
  want[120] = '\0';
  expect_name(name, want, "bin");

  /* A "suffix" too long to be an extension: plain cut, ext bin. */
  name[0] = 'x';
  name[1] = '.';
  memcpy(want, "x.", 2);
  expect_name(name, want, "bin");

  /* Multi-byte characters: cut at a character boundary, extension kept. */
  size_t n = 0;
  for (int i = 0; i < 60; i++) {
    memcpy(name + n, "\xe6\x97\xa5", 3); /* U+65E5, 3 bytes */
    n += 3;
  }
  memcpy(name + n, ".pdf", 5);
  char *got = path_of("1", name, "1", JAN15_NOON);
  /* 116 bytes allowed for the stem: 38 whole characters = 114 bytes. */
  const char *leaf = strrchr(got, '/') + 1;
  assert_int_equal(strlen(leaf),
                   strlen("1_") + 114 + strlen(".pdf") + strlen("_pdf.json"));
  assert_memory_equal(leaf + 2 + 111, "\xe6\x97\xa5.pdf_pdf.json", 16);
  docstore_free(got);
  free(name);
}

static void test_dates_are_utc(void **state) {
  (void)state;
  const char *zones[] = {"UTC", "XYZ-14", "ABC+12"};
  for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
    setenv("TZ", zones[i], 1);
    tzset();
    expect_path("1", "a.pdf", "9", JAN15_LAST,
                "documents/user_9/2024/01/15/1_a.pdf_pdf.json");
    expect_path("1", "a.pdf", "9", JAN16_FIRST,
                "documents/user_9/2024/01/16/1_a.pdf_pdf.json");
  }
  unsetenv("TZ");
  tzset();
  expect_path("7", "a.pdf", NULL, LEAP_DAY,
              "documents/system/2024/02/29/7_a.pdf_pdf.json");
  expect_path("7", "a.pdf", NULL, Y2K_EVE,
              "documents/system/1999/12/31/7_a.pdf_pdf.json");
  expect_path("7", "a.pdf", NULL, Y2K_EVE + 1,
              "documents/system/2000/01/01/7_a.pdf_pdf.json");
  expect_path("7", "a.pdf", NULL, 0,
              "documents/system/1970/01/01/7_a.pdf_pdf.json");
  expect_path("7", "a.pdf", NULL, -1,
              "documents/system/1969/12/31/7_a.pdf_pdf.json");
  expect_path("7", "a.pdf", NULL, LAST_SECOND,
              "documents/system/9999/12/31/7_a.pdf_pdf.json");
  char *out = (char *)0x1;
  assert_int_equal(docstore_storage_path(&out, "7", "a", NULL, LAST_SECOND + 1),
                   DOCSTORE_EINVAL);
  assert_null(out);
  assert_int_equal(docstore_storage_path(&out, "7", "a", NULL, INT64_MIN),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_storage_path(&out, "7", "a", NULL, INT64_MAX),
                   DOCSTORE_EINVAL);
}

static void test_ids(void **state) {
  (void)state;
  char id64[65], id65[66];
  memset(id64, '9', 64);
  id64[64] = '\0';
  memset(id65, '9', 65);
  id65[65] = '\0';
  char *out = NULL;
  expect_path("a-Z_0", "f", "U-1_x", JAN15_NOON,
              "documents/user_U-1_x/2024/01/15/a-Z_0_f_bin.json");
  out = path_of(id64, "f", id64, JAN15_NOON);
  docstore_free(out);

  static const char *const bad[] = {"",    "1/2",      "../1", "1 2",
                                    "1.2", "\xc3\xa9", "a\nb", NULL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(docstore_storage_path(&out, bad[i], "f", "1", JAN15_NOON),
                     DOCSTORE_EINVAL);
    assert_non_null(strstr(docstore_last_errmsg(), "file_id"));
    if (bad[i]) {
      assert_int_equal(
          docstore_storage_path(&out, "1", "f", bad[i], JAN15_NOON),
          DOCSTORE_EINVAL);
      assert_non_null(strstr(docstore_last_errmsg(), "user_id"));
    }
  }
  assert_int_equal(docstore_storage_path(&out, id65, "f", "1", JAN15_NOON),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_storage_path(&out, "1", "f", id65, JAN15_NOON),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_storage_path(&out, "1", NULL, "1", JAN15_NOON),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_storage_path(NULL, "1", "f", "1", JAN15_NOON),
                   DOCSTORE_EINVAL);
}

/* Whatever the bytes, the result is a valid key in the layout: the same
 * folders, one leaf of bounded size. */
static void test_random_names_stay_in_layout(void **state) {
  (void)state;
  uint64_t x = 0x9E3779B97F4A7C15u;
  char name[400];
  const char *want_dir = "documents/user_7/2024/01/15/";
  for (int round = 0; round < 20000; round++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t len = (size_t)(x % 300);
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      /* Bias towards the interesting bytes: '.', '/', '\\', UTF-8 leads. */
      static const char pick[] = "./\\\xc3\xa9\xe2\x80\xae\xf0\x9f\x93\x84 a";
      name[i] = (x & 1) ? pick[(x >> 1) % (sizeof(pick) - 1)]
                        : (char)(1 + (x >> 8) % 255);
    }
    name[len] = '\0';
    char *p = path_of("7", name, "7", JAN15_NOON);
    assert_memory_equal(p, want_dir, strlen(want_dir));
    const char *leaf = p + strlen(want_dir);
    assert_null(strchr(leaf, '/'));
    assert_true(strncmp(leaf, "7_", 2) == 0);
    assert_true(leaf[2] != '.');
    assert_true(strlen(leaf) <= 2 + 120 + 1 + 16 + 5);
    assert_non_null(strstr(leaf, ".json"));
    docstore_free(p);
  }
}

/* The migration's staging rows: a "staging/" folder after the date, and
 * otherwise the same key; a bad folder name is refused. */
static void test_staging_folder(void **state) {
  (void)state;
  char *out = NULL;
  assert_int_equal(docstore__storage_path_in(&out, "1", "passport.pdf", "123",
                                             JAN15_NOON, "staging", NULL),
                   0);
  assert_string_equal(
      out, "documents/user_123/2024/01/15/staging/1_passport.pdf_pdf.json");
  assert_int_equal(docstore_key_check(out), 0);
  docstore_free(out);
  assert_int_equal(docstore__storage_path_in(&out, "1", "passport.pdf", NULL,
                                             JAN15_NOON, "", NULL),
                   0);
  assert_string_equal(out,
                      "documents/system/2024/01/15/1_passport.pdf_pdf.json");
  docstore_free(out);
  const char *bad[] = {"..", "a/b", "Staging", "x y",
                       "a23456789012345678901234567890123"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(docstore__storage_path_in(&out, "1", "a", NULL, JAN15_NOON,
                                               bad[i], NULL),
                     DOCSTORE_EINVAL);
    assert_null(out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seed_examples),
      cmocka_unit_test(test_extension_rules),
      cmocka_unit_test(test_hostile_names),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_long_names),
      cmocka_unit_test(test_dates_are_utc),
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_random_names_stay_in_layout),
      cmocka_unit_test(test_staging_folder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
