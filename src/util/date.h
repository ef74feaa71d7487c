/*
 * libdocstore - calendar dates in UTC (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * The proleptic Gregorian calendar without time zones, leap seconds or
 * the C library's locale and TZ: days from/to civil dates (Howard
 * Hinnant's algorithms), and the three text forms the library meets:
 *   ISO 8601   2024-01-15T08:49:37Z       (S3 XML; a fraction is accepted)
 *   amz-date   20240115T084937Z           (SigV4)
 *   RFC 1123   Mon, 15 Jan 2024 08:49:37 GMT   (HTTP Date, Last-Modified)
 * Years are 0000 to 9999: the text forms have four digits.
 */
#ifndef DOCSTORE_UTIL_DATE_H
#define DOCSTORE_UTIL_DATE_H

#include <stdint.h>

#include "util/cursor.h"

typedef struct docstore__civil {
  int year;  /* 0-9999 */
  int month; /* 1-12 */
  int day;   /* 1-31 */
  int hour;  /* 0-23 */
  int min;   /* 0-59 */
  int sec;   /* 0-59 */
} docstore__civil;

/* Unix seconds of 0000-01-01T00:00:00Z and of 9999-12-31T23:59:59Z. */
#define DOCSTORE__TIME_MIN ((int64_t)-62167219200)
#define DOCSTORE__TIME_MAX ((int64_t)253402300799)

int docstore__is_leap_year(int64_t y);
int docstore__days_in_month(int64_t y, int m); /* 0 for a bad month */
/* Days since 1970-01-01 of a date (any year; the date is not checked). */
int64_t docstore__days_from_civil(int64_t y, int m, int d);
/* The date of a day count since 1970-01-01. */
void docstore__civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Unix seconds to a date: DOCSTORE_EINVAL outside years 0000-9999. */
int docstore__time_to_civil(int64_t t, docstore__civil *out);
/* A date to Unix seconds: DOCSTORE_EINVAL for a field out of range (the
 * 30th of February, second 60, year 10000...). */
int docstore__civil_to_time(const docstore__civil *c, int64_t *out);

/* Formatting: DOCSTORE_EINVAL outside years 0000-9999. */
#define DOCSTORE__ISO8601_LEN 21  /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */
#define DOCSTORE__AMZ_DATE_LEN 17 /* "YYYYMMDDTHHMMSSZ" + NUL */
#define DOCSTORE__RFC1123_LEN 30  /* "Www, DD Mmm YYYY HH:MM:SS GMT" + NUL */
int docstore__format_iso8601(int64_t t, char out[DOCSTORE__ISO8601_LEN]);
int docstore__format_amz_date(int64_t t, char out[DOCSTORE__AMZ_DATE_LEN]);
int docstore__format_rfc1123(int64_t t, char out[DOCSTORE__RFC1123_LEN]);

/* Parsing: the whole cursor must be the form, else DOCSTORE_EFORMAT.
 * ISO 8601 takes "YYYY-MM-DDTHH:MM:SS[.digits]Z" (the fraction is
 * dropped); RFC 1123 checks that the weekday matches the date. */
int docstore__parse_iso8601(docstore__cursor in, int64_t *out);
int docstore__parse_amz_date(docstore__cursor in, int64_t *out);
int docstore__parse_rfc1123(docstore__cursor in, int64_t *out);

#endif /* DOCSTORE_UTIL_DATE_H */
