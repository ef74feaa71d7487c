/*
 * libdocstore - library-owned memory and byte buffers.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every block handed to a caller carries a small header with its size, so
 * that docstore_free() can wipe it without being told the length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

/* 16 bytes keep the user pointer aligned for any type. */
typedef union alloc_hdr {
  size_t size;
  max_align_t align_;
} alloc_hdr;

void docstore__wipe(void *p, size_t n) {
  if (p && n)
    OPENSSL_cleanse(p, n);
}

void *docstore__alloc(size_t size) {
  if (size == 0)
    size = 1;
  if (size > SIZE_MAX - sizeof(alloc_hdr))
    return NULL;
  alloc_hdr *h = calloc(1, sizeof(alloc_hdr) + size);
  if (!h)
    return NULL;
  h->size = size;
  return h + 1;
}

void *docstore_malloc(size_t size) {
  if (size == 0)
    return NULL;
  return docstore__alloc(size);
}

void docstore_free(void *ptr) {
  if (!ptr)
    return;
  alloc_hdr *h = (alloc_hdr *)ptr - 1;
  docstore__wipe(ptr, h->size);
  free(h);
}

void *docstore__realloc(void *ptr, size_t size) {
  if (!ptr)
    return docstore__alloc(size);
  alloc_hdr *h = (alloc_hdr *)ptr - 1;
  void *n = docstore__alloc(size);
  if (!n)
    return NULL;
  memcpy(n, ptr, h->size < size ? h->size : size);
  docstore_free(ptr);
  return n;
}

char *docstore__strndup(const char *s, size_t n) {
  if (!s)
    return NULL;
  char *d = docstore__alloc(n + 1);
  if (d)
    memcpy(d, s, n);
  return d;
}

char *docstore__strdup(const char *s) {
  return s ? docstore__strndup(s, strlen(s)) : NULL;
}

void *docstore__memdup(const void *p, size_t n) {
  void *d = docstore__alloc(n);
  if (d && n)
    memcpy(d, p, n);
  return d;
}

char *docstore__sprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *s = docstore__alloc((size_t)n + 1);
  if (!s)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

int docstore__buf_reserve(docstore__buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len - 1)
    return DOCSTORE_ENOMEM;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *n = docstore__realloc(b->data, cap);
  if (!n)
    return DOCSTORE_ENOMEM;
  b->data = n;
  b->cap = cap;
  return 0;
}

int docstore__buf_append(docstore__buf *b, const void *p, size_t n) {
  DOCSTORE__GUARD(docstore__buf_reserve(b, n));
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int docstore__buf_puts(docstore__buf *b, const char *s) {
  return docstore__buf_append(b, s, strlen(s));
}

int docstore__buf_printf(docstore__buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return DOCSTORE_EINVAL;
  DOCSTORE__GUARD(docstore__buf_reserve(b, (size_t)n));
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

uint8_t *docstore__buf_detach(docstore__buf *b, size_t *len) {
  if (!b->data && docstore__buf_reserve(b, 0) < 0)
    return NULL;
  uint8_t *d = b->data;
  if (len)
    *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}

void docstore__buf_free(docstore__buf *b) {
  docstore_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int docstore__buf_sink(void *buf, const uint8_t *data, size_t len) {
  return docstore__buf_append((docstore__buf *)buf, data, len);
}
