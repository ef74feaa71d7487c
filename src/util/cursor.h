/*
 * libdocstore - byte cursor: a borrowed view of bytes (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * A docstore__cursor is a pointer and a length that own nothing; the
 * owning, growable buffer is docstore__buf (common/internal.h).  The pair
 * is the one aws-c-common makes of aws_byte_cursor and aws_byte_buf:
 * parsers take and return cursors (no copy, no NUL needed), and only what
 * must outlive its input is copied into a buffer or a library string.
 */
#ifndef DOCSTORE_UTIL_CURSOR_H
#define DOCSTORE_UTIL_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct docstore__cursor {
  const uint8_t *ptr; /* NULL only when len is 0 */
  size_t len;
} docstore__cursor;

/* A view of n bytes at p. */
docstore__cursor docstore__cursor_from(const void *p, size_t n);
/* A view of a NUL-terminated string, without the NUL; NULL gives an empty
 * cursor. */
docstore__cursor docstore__cursor_from_cstr(const char *s);
/* A view of a buffer's bytes (valid until the buffer changes). */
docstore__cursor docstore__cursor_from_buf(const docstore__buf *b);

/* 1 when the bytes equal s exactly (ASCII case-insensitively). */
int docstore__cursor_eq_cstr(docstore__cursor c, const char *s);
int docstore__cursor_eq_cstr_nocase(docstore__cursor c, const char *s);
/* 1 when c starts with s. */
int docstore__cursor_starts_with(docstore__cursor c, const char *s);

/* Cut the first n bytes off *c into *head (may be NULL).  0, or
 * DOCSTORE_EINVAL (and nothing changes) when c is shorter than n. */
int docstore__cursor_advance(docstore__cursor *c, size_t n,
                             docstore__cursor *head);
/* Index of the first byte equal to ch, or c.len when there is none. */
size_t docstore__cursor_find(docstore__cursor c, uint8_t ch);

/* A NUL-terminated library-owned copy (docstore_free()); NULL when out of
 * memory.  A NUL inside the bytes would cut the string: callers that
 * cannot exclude one check with docstore__cursor_find(c, 0) first. */
char *docstore__cursor_strdup(docstore__cursor c);
/* Copy the bytes and a NUL into out, which holds cap bytes (an empty
 * cursor copies nothing, whatever its pointer).  0, or DOCSTORE_EINVAL when
 * c.len + 1 > cap (then out is "" when cap > 0).  Same caution about a NUL
 * inside the bytes as docstore__cursor_strdup(). */
int docstore__cursor_copy_cstr(char *out, size_t cap,
                               docstore__cursor c) DOCSTORE__WUR;
/* Append the bytes to an owning buffer. */
int docstore__buf_append_cursor(docstore__buf *b,
                                docstore__cursor c) DOCSTORE__WUR;

#endif /* DOCSTORE_UTIL_CURSOR_H */
