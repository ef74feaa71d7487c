/*
 * libdocstore - byte cursor.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "util/cursor.h"

docstore__cursor docstore__cursor_from(const void *p, size_t n) {
  docstore__cursor c = {p ? (const uint8_t *)p : NULL, p ? n : 0};
  return c;
}

docstore__cursor docstore__cursor_from_cstr(const char *s) {
  return docstore__cursor_from(s, s ? strlen(s) : 0);
}

docstore__cursor docstore__cursor_from_buf(const docstore__buf *b) {
  return b ? docstore__cursor_from(b->data, b->len)
           : docstore__cursor_from(NULL, 0);
}

int docstore__cursor_eq_cstr(docstore__cursor c, const char *s) {
  size_t n = s ? strlen(s) : 0;
  return c.len == n && (n == 0 || memcmp(c.ptr, s, n) == 0);
}

static uint8_t lower(uint8_t ch) {
  return ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch - 'A' + 'a') : ch;
}

int docstore__cursor_eq_cstr_nocase(docstore__cursor c, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (c.len != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (lower(c.ptr[i]) != lower((uint8_t)s[i]))
      return 0;
  return 1;
}

int docstore__cursor_starts_with(docstore__cursor c, const char *s) {
  size_t n = s ? strlen(s) : 0;
  return c.len >= n && (n == 0 || memcmp(c.ptr, s, n) == 0);
}

int docstore__cursor_advance(docstore__cursor *c, size_t n,
                             docstore__cursor *head) {
  if (!c || c->len < n)
    return DOCSTORE_EINVAL;
  if (head)
    *head = docstore__cursor_from(c->ptr, n);
  c->ptr = c->len == n ? NULL : c->ptr + n;
  c->len -= n;
  return 0;
}

size_t docstore__cursor_find(docstore__cursor c, uint8_t ch) {
  const uint8_t *p = c.len ? memchr(c.ptr, ch, c.len) : NULL;
  return p ? (size_t)(p - c.ptr) : c.len;
}

char *docstore__cursor_strdup(docstore__cursor c) {
  return docstore__strndup(c.len ? (const char *)c.ptr : "", c.len);
}

int docstore__cursor_copy_cstr(char *out, size_t cap, docstore__cursor c) {
  if (!out || cap == 0)
    return DOCSTORE_EINVAL;
  if (c.len >= cap) {
    out[0] = '\0';
    return DOCSTORE_EINVAL;
  }
  if (c.len)
    memcpy(out, c.ptr, c.len);
  out[c.len] = '\0';
  return 0;
}

int docstore__buf_append_cursor(docstore__buf *b, docstore__cursor c) {
  return docstore__buf_append(b, c.ptr, c.len);
}
