/*
 * libdocstore - calendar dates in UTC.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "util/date.h"

static const char *const wdays[7] = {"Sun", "Mon", "Tue", "Wed",
                                     "Thu", "Fri", "Sat"};
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};

int docstore__is_leap_year(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int docstore__days_in_month(int64_t y, int m) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12)
    return 0;
  return m == 2 && docstore__is_leap_year(y) ? 29 : dm[m - 1];
}

/* Floor division for a negative numerator. */
static int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t docstore__days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;                                   /* [0, 399] */
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

void docstore__civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
  int64_t z = days + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097; /* [0, 146096] */
  int64_t yoe =
      (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);     /* [0, 365] */
  int64_t mp = (5 * doy + 2) / 153;                          /* [0, 11] */
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int docstore__time_to_civil(int64_t t, docstore__civil *out) {
  if (t < DOCSTORE__TIME_MIN || t > DOCSTORE__TIME_MAX)
    return DOCSTORE_EINVAL;
  int64_t days = floor_div(t, 86400);
  int64_t rem = t - days * 86400;
  int64_t y;
  docstore__civil_from_days(days, &y, &out->month, &out->day);
  out->year = (int)y;
  out->hour = (int)(rem / 3600);
  out->min = (int)(rem % 3600 / 60);
  out->sec = (int)(rem % 60);
  return 0;
}

int docstore__civil_to_time(const docstore__civil *c, int64_t *out) {
  if (c->year < 0 || c->year > 9999 || c->month < 1 || c->month > 12 ||
      c->day < 1 || c->day > docstore__days_in_month(c->year, c->month) ||
      c->hour < 0 || c->hour > 23 || c->min < 0 || c->min > 59 || c->sec < 0 ||
      c->sec > 59)
    return DOCSTORE_EINVAL;
  *out = docstore__days_from_civil(c->year, c->month, c->day) * 86400 +
         c->hour * 3600 + c->min * 60 + c->sec;
  return 0;
}

/* Write v as exactly `width` digits (v is in range: checked by the
 * callers' time_to_civil). */
static char *put(char *p, int v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + width;
}

/* Copy s without its terminator: the caller terminates the whole text. */
static char *put_str(char *p, const char *s) {
  while (*s)
    *p++ = *s++;
  return p;
}

/* YYYY<ds>MM<ds>DDThh<ts>mm<ts>ssZ; a separator of '\0' is left out
 * (ISO 8601 extended form with '-' and ':', amz-date's basic form without). */
static int format_civil(int64_t t, char *out, char ds, char ts) {
  docstore__civil c;
  DOCSTORE__GUARD(docstore__time_to_civil(t, &c));
  char *p = put(out, c.year, 4);
  if (ds)
    *p++ = ds;
  p = put(p, c.month, 2);
  if (ds)
    *p++ = ds;
  p = put(p, c.day, 2);
  *p++ = 'T';
  p = put(p, c.hour, 2);
  if (ts)
    *p++ = ts;
  p = put(p, c.min, 2);
  if (ts)
    *p++ = ts;
  p = put(p, c.sec, 2);
  p = put_str(p, "Z");
  *p = '\0';
  return 0;
}

int docstore__format_iso8601(int64_t t, char out[DOCSTORE__ISO8601_LEN]) {
  return format_civil(t, out, '-', ':');
}

int docstore__format_amz_date(int64_t t, char out[DOCSTORE__AMZ_DATE_LEN]) {
  return format_civil(t, out, '\0', '\0');
}

/* Day of the week, 0 = Sunday (1970-01-01 was a Thursday). */
static int weekday(int64_t t) {
  int64_t w = (floor_div(t, 86400) + 4) % 7;
  return (int)(w < 0 ? w + 7 : w);
}

int docstore__format_rfc1123(int64_t t, char out[DOCSTORE__RFC1123_LEN]) {
  docstore__civil c;
  DOCSTORE__GUARD(docstore__time_to_civil(t, &c));
  char *p = put_str(out, wdays[weekday(t)]);
  p = put_str(p, ", ");
  p = put(p, c.day, 2);
  *p++ = ' ';
  p = put_str(p, months[c.month - 1]);
  *p++ = ' ';
  p = put(p, c.year, 4);
  *p++ = ' ';
  p = put(p, c.hour, 2);
  *p++ = ':';
  p = put(p, c.min, 2);
  *p++ = ':';
  p = put(p, c.sec, 2);
  p = put_str(p, " GMT");
  *p = '\0';
  return 0;
}

/* n decimal digits at s (exactly; no sign). */
static int digits(const uint8_t *s, int n, int *val) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *val = v;
  return 0;
}

/* Parse a fixed layout: 'Y' 'M' 'D' 'h' 'm' 's' are digits of the field
 * (four Ys, two of the others), any other byte must match itself. */
static int parse_layout(const uint8_t *s, const char *layout,
                        docstore__civil *c) {
  size_t n = strlen(layout);
  for (size_t i = 0; i < n;) {
    int *field = NULL;
    int width = 2;
    switch (layout[i]) {
    case 'Y':
      field = &c->year;
      width = 4;
      break;
    case 'M':
      field = &c->month;
      break;
    case 'D':
      field = &c->day;
      break;
    case 'h':
      field = &c->hour;
      break;
    case 'm':
      field = &c->min;
      break;
    case 's':
      field = &c->sec;
      break;
    default:
      if (s[i] != (uint8_t)layout[i])
        return DOCSTORE_EFORMAT;
      i++;
      continue;
    }
    if (digits(s + i, width, field) < 0)
      return DOCSTORE_EFORMAT;
    i += (size_t)width;
  }
  return 0;
}

static int finish(const docstore__civil *c, int64_t *out) {
  return docstore__civil_to_time(c, out) < 0 ? DOCSTORE_EFORMAT : 0;
}

int docstore__parse_iso8601(docstore__cursor in, int64_t *out) {
  static const char layout[] = "YYYY-MM-DDThh:mm:ss";
  docstore__civil c;
  docstore__cursor head;
  if (docstore__cursor_advance(&in, sizeof(layout) - 1, &head) < 0 ||
      parse_layout(head.ptr, layout, &c) < 0)
    return DOCSTORE_EFORMAT;
  if (in.len > 0 && in.ptr[0] == '.') {
    size_t i = 1;
    while (i < in.len && in.ptr[i] >= '0' && in.ptr[i] <= '9')
      i++;
    if (i == 1)
      return DOCSTORE_EFORMAT;
    docstore__cursor_advance(&in, i, NULL);
  }
  if (!docstore__cursor_eq_cstr(in, "Z"))
    return DOCSTORE_EFORMAT;
  return finish(&c, out);
}

int docstore__parse_amz_date(docstore__cursor in, int64_t *out) {
  static const char layout[] = "YYYYMMDDThhmmssZ";
  docstore__civil c;
  if (in.len != sizeof(layout) - 1 || parse_layout(in.ptr, layout, &c) < 0)
    return DOCSTORE_EFORMAT;
  return finish(&c, out);
}

int docstore__parse_rfc1123(docstore__cursor in, int64_t *out) {
  /* "Www, DD Mmm YYYY hh:mm:ss GMT": the names are checked apart. */
  static const char layout[] = "___, DD ___ YYYY hh:mm:ss";
  static const char zone[] = " GMT";
  const size_t n = sizeof(layout) - 1;
  docstore__civil c;
  int wd = -1, month = 0;
  if (in.len != n + sizeof(zone) - 1 ||
      memcmp(in.ptr + n, zone, sizeof(zone) - 1) != 0)
    return DOCSTORE_EFORMAT;
  uint8_t copy[sizeof(layout)];
  memcpy(copy, in.ptr, n);
  for (int i = 0; i < 7; i++)
    if (memcmp(copy, wdays[i], 3) == 0)
      wd = i;
  for (int i = 0; i < 12; i++)
    if (memcmp(copy + 8, months[i], 3) == 0)
      month = i + 1;
  if (wd < 0 || month == 0)
    return DOCSTORE_EFORMAT;
  memset(copy, '_', 3);
  memset(copy + 8, '_', 3);
  if (parse_layout(copy, layout, &c) < 0)
    return DOCSTORE_EFORMAT;
  c.month = month;
  DOCSTORE__GUARD(finish(&c, out));
  return weekday(*out) == wd ? 0 : DOCSTORE_EFORMAT;
}
