/*
 * libdocstore - the identity rule.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "util/id.h"

static int id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The rule, for the n bytes at id.  0 when valid; 1: NULL; 2: length
 * wrong; 3: *bad_at is the first byte outside the set (a NUL included). */
static int scan_n(const char *id, size_t n, size_t *bad_at) {
  if (!id)
    return 1;
  if (n < 1 || n > DOCSTORE__ID_MAX)
    return 2;
  for (size_t i = 0; i < n; i++)
    if (!id_char(id[i])) {
      *bad_at = i;
      return 3;
    }
  return 0;
}

/* Reads at most 65 bytes of a string. */
static int scan(const char *id, size_t *bad_at) {
  return scan_n(id, id ? strnlen(id, DOCSTORE__ID_MAX + 1) : 0, bad_at);
}

int docstore__id_valid(const char *id) {
  size_t at;
  return scan(id, &at) == 0;
}

int docstore__id_valid_n(const char *id, size_t n) {
  size_t at;
  return scan_n(id, n, &at) == 0;
}

int docstore__id_check(const char *id, const char *what, docstore__err *err) {
  size_t at = 0;
  if (!what)
    what = "id";
  switch (scan(id, &at)) {
  case 0:
    return 0;
  case 1:
    return docstore__err_set(err, DOCSTORE_EINVAL, "%s is NULL", what);
  case 2:
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "%s must be 1 to %d characters long (got %zu)",
                             what, DOCSTORE__ID_MAX, strlen(id));
  default:
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "%s may only contain A-Z a-z 0-9 _ - "
                             "(bad character at position %zu)",
                             what, at);
  }
}
