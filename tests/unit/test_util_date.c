/*
 * Unit tests: UTC calendar dates (src/util/date.c): days from/to civil
 * dates against gmtime_r over a wide range, leap years, the years 0000 and
 * 9999, and the ISO 8601, amz-date and RFC 1123 forms both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/date.h"

static docstore__cursor cur(const char *s) {
  return docstore__cursor_from_cstr(s);
}

static void test_leap_years(void **state) {
  (void)state;
  assert_true(docstore__is_leap_year(2024));
  assert_true(docstore__is_leap_year(2000));
  assert_true(docstore__is_leap_year(0));
  assert_false(docstore__is_leap_year(1900));
  assert_false(docstore__is_leap_year(2100));
  assert_false(docstore__is_leap_year(2023));
  assert_int_equal(docstore__days_in_month(2024, 2), 29);
  assert_int_equal(docstore__days_in_month(1900, 2), 28);
  assert_int_equal(docstore__days_in_month(2000, 2), 29);
  assert_int_equal(docstore__days_in_month(2023, 4), 30);
  assert_int_equal(docstore__days_in_month(2023, 13), 0);
  assert_int_equal(docstore__days_in_month(2023, 0), 0);
}

static void test_days_known(void **state) {
  (void)state;
  assert_int_equal(docstore__days_from_civil(1970, 1, 1), 0);
  assert_int_equal(docstore__days_from_civil(1969, 12, 31), -1);
  assert_int_equal(docstore__days_from_civil(2000, 3, 1), 11017);
  assert_int_equal(docstore__days_from_civil(0, 1, 1), -719528);
  assert_int_equal(docstore__days_from_civil(9999, 12, 31), 2932896);
  int64_t y;
  int m, d;
  docstore__civil_from_days(-719528, &y, &m, &d);
  assert_true(y == 0 && m == 1 && d == 1);
  docstore__civil_from_days(2932896, &y, &m, &d);
  assert_true(y == 9999 && m == 12 && d == 31);
  docstore__civil_from_days(19737, &y, &m, &d); /* 2024-01-15 */
  assert_true(y == 2024 && m == 1 && d == 15);
  docstore__civil_from_days(-1, &y, &m, &d);
  assert_true(y == 1969 && m == 12 && d == 31);
}

/* Every day from 1900 to 2200 round-trips and agrees with gmtime_r. */
static void test_days_against_gmtime(void **state) {
  (void)state;
  for (int64_t days = docstore__days_from_civil(1900, 1, 1);
       days <= docstore__days_from_civil(2200, 12, 31); days++) {
    int64_t y;
    int m, d;
    docstore__civil_from_days(days, &y, &m, &d);
    assert_int_equal(docstore__days_from_civil(y, m, d), days);
    time_t t = (time_t)(days * 86400 + 3723);
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    assert_int_equal(y, tm.tm_year + 1900);
    assert_int_equal(m, tm.tm_mon + 1);
    assert_int_equal(d, tm.tm_mday);
    docstore__civil c;
    assert_int_equal(docstore__time_to_civil((int64_t)t, &c), 0);
    assert_true(c.hour == 1 && c.min == 2 && c.sec == 3);
  }
}

static void test_range(void **state) {
  (void)state;
  docstore__civil c;
  assert_int_equal(docstore__time_to_civil(DOCSTORE__TIME_MIN, &c), 0);
  assert_true(c.year == 0 && c.month == 1 && c.day == 1 && c.hour == 0);
  assert_int_equal(docstore__time_to_civil(DOCSTORE__TIME_MAX, &c), 0);
  assert_true(c.year == 9999 && c.month == 12 && c.day == 31 && c.hour == 23 &&
              c.min == 59 && c.sec == 59);
  assert_int_equal(docstore__time_to_civil(DOCSTORE__TIME_MIN - 1, &c),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__time_to_civil(DOCSTORE__TIME_MAX + 1, &c),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__time_to_civil(INT64_MIN, &c), DOCSTORE_EINVAL);
  assert_int_equal(docstore__time_to_civil(INT64_MAX, &c), DOCSTORE_EINVAL);
  /* A time before 1970 keeps positive hours. */
  assert_int_equal(docstore__time_to_civil(-1, &c), 0);
  assert_true(c.year == 1969 && c.month == 12 && c.day == 31 && c.hour == 23 &&
              c.min == 59 && c.sec == 59);

  int64_t t;
  docstore__civil feb29 = {2023, 2, 29, 0, 0, 0};
  assert_int_equal(docstore__civil_to_time(&feb29, &t), DOCSTORE_EINVAL);
  feb29.year = 2024;
  assert_int_equal(docstore__civil_to_time(&feb29, &t), 0);
  assert_int_equal(t, 1709164800);
  docstore__civil bad[] = {{10000, 1, 1, 0, 0, 0}, {-1, 1, 1, 0, 0, 0},
                           {2024, 0, 1, 0, 0, 0},  {2024, 4, 31, 0, 0, 0},
                           {2024, 1, 1, 24, 0, 0}, {2024, 1, 1, 0, 60, 0},
                           {2024, 1, 1, 0, 0, 60}, {2024, 1, 0, 0, 0, 0}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(docstore__civil_to_time(&bad[i], &t), DOCSTORE_EINVAL);
}

static void test_format(void **state) {
  (void)state;
  char iso[DOCSTORE__ISO8601_LEN], amz[DOCSTORE__AMZ_DATE_LEN],
      http[DOCSTORE__RFC1123_LEN];
  /* RFC 7231's example date. */
  assert_int_equal(docstore__format_rfc1123(784111777, http), 0);
  assert_string_equal(http, "Sun, 06 Nov 1994 08:49:37 GMT");
  assert_int_equal(docstore__format_iso8601(784111777, iso), 0);
  assert_string_equal(iso, "1994-11-06T08:49:37Z");
  /* AWS's SigV4 test suite date. */
  assert_int_equal(docstore__format_amz_date(1440938160, amz), 0);
  assert_string_equal(amz, "20150830T123600Z");
  assert_int_equal(docstore__format_iso8601(DOCSTORE__TIME_MIN, iso), 0);
  assert_string_equal(iso, "0000-01-01T00:00:00Z");
  assert_int_equal(docstore__format_rfc1123(DOCSTORE__TIME_MIN, http), 0);
  assert_string_equal(http, "Sat, 01 Jan 0000 00:00:00 GMT");
  assert_int_equal(docstore__format_amz_date(DOCSTORE__TIME_MAX, amz), 0);
  assert_string_equal(amz, "99991231T235959Z");
  assert_int_equal(docstore__format_rfc1123(DOCSTORE__TIME_MAX, http), 0);
  assert_string_equal(http, "Fri, 31 Dec 9999 23:59:59 GMT");
  assert_int_equal(docstore__format_iso8601(DOCSTORE__TIME_MAX + 1, iso),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__format_amz_date(DOCSTORE__TIME_MIN - 1, amz),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__format_rfc1123(INT64_MAX, http), DOCSTORE_EINVAL);
}

static void test_parse(void **state) {
  (void)state;
  int64_t t = 0;
  assert_int_equal(docstore__parse_iso8601(cur("1994-11-06T08:49:37Z"), &t), 0);
  assert_int_equal(t, 784111777);
  assert_int_equal(
      docstore__parse_iso8601(cur("1994-11-06T08:49:37.123456Z"), &t), 0);
  assert_int_equal(t, 784111777);
  assert_int_equal(docstore__parse_amz_date(cur("20150830T123600Z"), &t), 0);
  assert_int_equal(t, 1440938160);
  assert_int_equal(
      docstore__parse_rfc1123(cur("Sun, 06 Nov 1994 08:49:37 GMT"), &t), 0);
  assert_int_equal(t, 784111777);
  assert_int_equal(docstore__parse_iso8601(cur("0000-01-01T00:00:00Z"), &t), 0);
  assert_int_equal(t, DOCSTORE__TIME_MIN);
  assert_int_equal(docstore__parse_amz_date(cur("99991231T235959Z"), &t), 0);
  assert_int_equal(t, DOCSTORE__TIME_MAX);
  assert_int_equal(docstore__parse_iso8601(cur("2024-02-29T00:00:00Z"), &t), 0);

  static const char *const bad_iso[] = {
      "",
      "2023-02-29T00:00:00Z", /* no leap day */
      "2024-13-01T00:00:00Z",
      "2024-00-01T00:00:00Z",
      "2024-01-32T00:00:00Z",
      "2024-01-01T24:00:00Z",
      "2024-01-01T00:60:00Z",
      "2024-01-01T00:00:60Z",
      "2024-01-01T00:00:00", /* no zone */
      "2024-01-01T00:00:00+00:00",
      "2024-01-01T00:00:00.Z", /* empty fraction */
      "2024-01-01T00:00:00ZZ",
      "2024-01-01 00:00:00Z",
      "+024-01-01T00:00:00Z",
      "2024-1-01T00:00:00Z",
      "20240101T000000Z",
  };
  for (size_t i = 0; i < sizeof(bad_iso) / sizeof(bad_iso[0]); i++)
    assert_int_equal(docstore__parse_iso8601(cur(bad_iso[i]), &t),
                     DOCSTORE_EFORMAT);
  static const char *const bad_amz[] = {"",
                                        "20150830T123600",
                                        "20150830T123600ZZ",
                                        "2015-08-30T12:36:00Z",
                                        "20150230T123600Z",
                                        "20150830T126000Z",
                                        "2015083OT123600Z"};
  for (size_t i = 0; i < sizeof(bad_amz) / sizeof(bad_amz[0]); i++)
    assert_int_equal(docstore__parse_amz_date(cur(bad_amz[i]), &t),
                     DOCSTORE_EFORMAT);
  static const char *const bad_http[] = {
      "",
      "Mon, 06 Nov 1994 08:49:37 GMT", /* wrong weekday */
      "Sun, 06 Nov 1994 08:49:37 UTC",
      "Sun, 6 Nov 1994 08:49:37 GMT",
      "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
      "Sun Nov  6 08:49:37 1994",       /* asctime */
      "Sun, 31 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMTX",
  };
  for (size_t i = 0; i < sizeof(bad_http) / sizeof(bad_http[0]); i++)
    assert_int_equal(docstore__parse_rfc1123(cur(bad_http[i]), &t),
                     DOCSTORE_EFORMAT);
  /* A cursor need not be NUL-terminated: only its bytes count. */
  const char *s = "20150830T123600Zjunk";
  assert_int_equal(docstore__parse_amz_date(docstore__cursor_from(s, 16), &t),
                   0);
  assert_int_equal(t, 1440938160);
}

/* Formatting then parsing gives the same second, across the range. */
static void test_round_trip(void **state) {
  (void)state;
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t t =
        DOCSTORE__TIME_MIN +
        (int64_t)(x % (uint64_t)(DOCSTORE__TIME_MAX - DOCSTORE__TIME_MIN + 1));
    char iso[DOCSTORE__ISO8601_LEN], amz[DOCSTORE__AMZ_DATE_LEN],
        http[DOCSTORE__RFC1123_LEN];
    int64_t back;
    assert_int_equal(docstore__format_iso8601(t, iso), 0);
    assert_int_equal(docstore__parse_iso8601(cur(iso), &back), 0);
    assert_int_equal(back, t);
    assert_int_equal(docstore__format_amz_date(t, amz), 0);
    assert_int_equal(docstore__parse_amz_date(cur(amz), &back), 0);
    assert_int_equal(back, t);
    assert_int_equal(docstore__format_rfc1123(t, http), 0);
    assert_int_equal(docstore__parse_rfc1123(cur(http), &back), 0);
    assert_int_equal(back, t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_leap_years),
      cmocka_unit_test(test_days_known),
      cmocka_unit_test(test_days_against_gmtime),
      cmocka_unit_test(test_range),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
