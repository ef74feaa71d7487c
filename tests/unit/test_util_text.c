/*
 * Unit tests: the small text modules of src/util: the byte cursor beside
 * docstore__buf, hex encoding and strict decoding, and the id rule
 * [A-Za-z0-9_-]{1,64} with its messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/cursor.h"
#include "util/hex.h"
#include "util/id.h"

static void test_cursor(void **state) {
  (void)state;
  docstore__cursor c = docstore__cursor_from_cstr("Host: example");
  docstore__cursor head;
  assert_int_equal(c.len, 13);
  assert_true(docstore__cursor_starts_with(c, "Host:"));
  assert_false(docstore__cursor_starts_with(c, "Host: example!"));
  assert_int_equal(docstore__cursor_find(c, ':'), 4);
  assert_int_equal(docstore__cursor_find(c, '#'), c.len);
  assert_int_equal(docstore__cursor_advance(&c, 4, &head), 0);
  assert_true(docstore__cursor_eq_cstr(head, "Host"));
  assert_true(docstore__cursor_eq_cstr_nocase(head, "hOST"));
  assert_false(docstore__cursor_eq_cstr(head, "hOST"));
  assert_false(docstore__cursor_eq_cstr(head, "Hos"));
  /* Too far: nothing changes. */
  assert_int_equal(docstore__cursor_advance(&c, 10, &head), DOCSTORE_EINVAL);
  assert_int_equal(c.len, 9);
  assert_int_equal(docstore__cursor_advance(&c, 9, NULL), 0);
  assert_int_equal(c.len, 0);
  assert_null(c.ptr);
  assert_true(docstore__cursor_eq_cstr(c, ""));
  assert_int_equal(docstore__cursor_find(c, 'x'), 0);

  docstore__cursor none = docstore__cursor_from_cstr(NULL);
  assert_int_equal(none.len, 0);
  assert_null(none.ptr);
  none = docstore__cursor_from(NULL, 5); /* no bytes behind NULL */
  assert_int_equal(none.len, 0);

  /* Cursor and owning buffer: a view of the buffer, appended to another. */
  docstore__buf a = DOCSTORE__BUF_INIT, b = DOCSTORE__BUF_INIT_PUBLIC;
  assert_int_equal(docstore__buf_puts(&a, "abc\0def"), 0);
  docstore__cursor v = docstore__cursor_from_buf(&a);
  assert_int_equal(v.len, 3);
  assert_int_equal(docstore__buf_append_cursor(&b, v), 0);
  assert_int_equal(docstore__buf_append_cursor(&b, v), 0);
  assert_string_equal((char *)b.data, "abcabc");
  char *s = docstore__cursor_strdup(docstore__cursor_from(b.data + 1, 3));
  assert_string_equal(s, "bca");
  docstore_free(s);
  s = docstore__cursor_strdup(none);
  assert_string_equal(s, "");
  docstore_free(s);
  docstore__buf_free(&a);
  docstore__buf_free(&b);
}

/* Copying a cursor into a fixed, NUL-terminated buffer. */
static void test_cursor_copy_cstr(void **state) {
  (void)state;
  char out[5];
  memset(out, 'x', sizeof(out));
  assert_int_equal(docstore__cursor_copy_cstr(
                       out, sizeof(out), docstore__cursor_from_cstr("abcd")),
                   0);
  assert_string_equal(out, "abcd");
  /* One byte too many for the NUL: refused, and out is left empty. */
  assert_int_equal(docstore__cursor_copy_cstr(
                       out, sizeof(out), docstore__cursor_from_cstr("abcde")),
                   DOCSTORE_EINVAL);
  assert_string_equal(out, "");
  /* A part of a longer text: only its bytes. */
  assert_int_equal(docstore__cursor_copy_cstr(
                       out, sizeof(out), docstore__cursor_from("sha256:", 3)),
                   0);
  assert_string_equal(out, "sha");
  /* An empty cursor whose pointer is NULL copies nothing. */
  memset(out, 'x', sizeof(out));
  assert_int_equal(docstore__cursor_copy_cstr(out, sizeof(out),
                                              docstore__cursor_from(NULL, 0)),
                   0);
  assert_string_equal(out, "");
  assert_int_equal(
      docstore__cursor_copy_cstr(out, 0, docstore__cursor_from_cstr("")),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__cursor_copy_cstr(NULL, 4, docstore__cursor_from_cstr("a")),
      DOCSTORE_EINVAL);
}

static void test_hex(void **state) {
  (void)state;
  static const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  char text[2 * sizeof(bytes) + 1];
  docstore__hex_encode(text, bytes, sizeof(bytes));
  assert_string_equal(text, "00017f80abff");
  docstore__hex_encode(text, bytes, 0);
  assert_string_equal(text, "");

  uint8_t out[8];
  size_t n = 99;
  assert_int_equal(
      docstore__hex_decode(out, sizeof(out), &n,
                           docstore__cursor_from_cstr("00017F80aBff")),
      0);
  assert_int_equal(n, sizeof(bytes));
  assert_memory_equal(out, bytes, sizeof(bytes));
  assert_int_equal(docstore__hex_decode(out, sizeof(out), &n,
                                        docstore__cursor_from_cstr("")),
                   0);
  assert_int_equal(n, 0);

  static const char *const bad[] = {"0",   "abc",  "0g", "g0", " 00",
                                    "00 ", "0x00", "-1", "+1", "zz"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(docstore__hex_decode(out, sizeof(out), &n,
                                          docstore__cursor_from_cstr(bad[i])),
                     DOCSTORE_EFORMAT);
    assert_int_equal(n, 0);
  }
  /* A NUL inside the cursor is no digit. */
  assert_int_equal(docstore__hex_decode(out, sizeof(out), &n,
                                        docstore__cursor_from("0\0", 2)),
                   DOCSTORE_EFORMAT);
  /* Output too small. */
  assert_int_equal(
      docstore__hex_decode(out, 2, &n, docstore__cursor_from_cstr("000102")),
      DOCSTORE_ETOOBIG);

  for (int c = 0; c < 256; c++) {
    int v = docstore__hex_digit(c);
    if (c >= '0' && c <= '9')
      assert_int_equal(v, c - '0');
    else if (c >= 'a' && c <= 'f')
      assert_int_equal(v, c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      assert_int_equal(v, c - 'A' + 10);
    else
      assert_int_equal(v, -1);
  }
  assert_true(docstore__hex_is_lower(docstore__cursor_from_cstr("09af")));
  assert_false(docstore__hex_is_lower(docstore__cursor_from_cstr("09aF")));
  assert_false(docstore__hex_is_lower(docstore__cursor_from_cstr("")));
  assert_false(docstore__hex_is_lower(docstore__cursor_from_cstr("0g")));
}

static void test_id(void **state) {
  (void)state;
  char id64[65], id65[66];
  memset(id64, 'a', 64);
  id64[64] = '\0';
  memset(id65, 'Z', 65);
  id65[65] = '\0';
  static const char *const good[] = {"1", "a-Z_0", "___", "-", "user_123"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_true(docstore__id_valid(good[i]));
    assert_int_equal(docstore__id_check(good[i], "file_id", NULL), 0);
  }
  assert_true(docstore__id_valid(id64));
  assert_false(docstore__id_valid(id65));
  assert_false(docstore__id_valid(NULL));
  static const char *const bad[] = {"",    "1/2",      "../1", "1 2",
                                    "1.2", "\xc3\xa9", "a\nb", "a\\b"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(docstore__id_valid(bad[i]));

  docstore__err err;
  docstore__err_clear(&err);
  assert_int_equal(docstore__id_check(NULL, "user_id", &err), DOCSTORE_EINVAL);
  assert_string_equal(err.msg, "user_id is NULL");
  assert_int_equal(docstore__id_check("", "file_id", &err), DOCSTORE_EINVAL);
  assert_string_equal(err.msg,
                      "file_id must be 1 to 64 characters long (got 0)");
  assert_int_equal(docstore__id_check(id65, "file_id", &err), DOCSTORE_EINVAL);
  assert_string_equal(err.msg,
                      "file_id must be 1 to 64 characters long (got 65)");
  assert_int_equal(docstore__id_check("ab/secret", "file_id", &err),
                   DOCSTORE_EINVAL);
  assert_string_equal(err.msg, "file_id may only contain A-Z a-z 0-9 _ - (bad "
                               "character at position 2)");
  assert_null(strstr(err.msg, "secret")); /* the id is never echoed */
  /* err NULL: the thread's last error, as everywhere in the library. */
  assert_int_equal(docstore__id_check("a b", "user_id", NULL), DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_last_errmsg(), "user_id"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cursor),
      cmocka_unit_test(test_cursor_copy_cstr),
      cmocka_unit_test(test_hex),
      cmocka_unit_test(test_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
