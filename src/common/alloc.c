/*
 * libdocstore - library-owned memory and byte buffers.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every block handed to a caller carries a small header with its size and
 * flags, so that docstore_free() can wipe it without being told the
 * length.  Blocks flagged DOCSTORE__MEM_PUBLIC hold no secret (ciphertext,
 * envelopes, stored objects) and skip the wipe, on release and on growth.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

/*
 * The header: the block's size (what docstore_free() wipes) and its
 * DOCSTORE__MEM_* flags.  The union keeps the user pointer aligned for any
 * type (16 bytes on the usual 64-bit ABIs).
 */
typedef union alloc_hdr {
  struct {
    size_t size;
    unsigned int flags;
  } h;
  max_align_t align_;
} alloc_hdr;

/* Tests only: called with every block docstore_free() releases, after the
 * wipe and before free(). */
void (*docstore__alloc_release_hook)(const void *p, size_t n,
                                     unsigned int flags);

/* Tests only (tests/unit/test_oom.c): asked before every allocation of
 * library memory; nonzero makes it fail as if malloc() had. */
int (*docstore__alloc_fail_hook)(size_t n, int new_block);

void docstore__wipe(void *p, size_t n) {
  if (!p || !n)
    return;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 25)
  /* memset() that is never optimised away: glibc's memset, about twice
   * OPENSSL_cleanse()'s speed on large blocks. */
  explicit_bzero(p, n);
#else
  OPENSSL_cleanse(p, n);
#endif
}

void *docstore__alloc_ex(size_t size, unsigned int flags) {
  if (size == 0)
    size = 1;
  if (size > SIZE_MAX - sizeof(alloc_hdr))
    return NULL;
  size_t total = sizeof(alloc_hdr) + size;
  if (docstore__alloc_fail_hook && docstore__alloc_fail_hook(size, 1))
    return NULL;
  alloc_hdr *h =
      flags & DOCSTORE__MEM_UNINIT ? malloc(total) : calloc(1, total);
  if (!h)
    return NULL;
  h->h.size = size;
  h->h.flags = flags & DOCSTORE__MEM_PUBLIC;
  return h + 1;
}

void *docstore__alloc(size_t size) { return docstore__alloc_ex(size, 0); }

void *docstore_malloc(size_t size) {
  if (size == 0)
    return NULL;
  return docstore__alloc(size);
}

unsigned int docstore__alloc_flags(const void *ptr) {
  return ptr ? ((const alloc_hdr *)ptr - 1)->h.flags : 0;
}

size_t docstore__alloc_size(const void *ptr) {
  return ptr ? ((const alloc_hdr *)ptr - 1)->h.size : 0;
}

void docstore_free(void *ptr) {
  if (!ptr)
    return;
  alloc_hdr *h = (alloc_hdr *)ptr - 1;
  if (!(h->h.flags & DOCSTORE__MEM_PUBLIC))
    docstore__wipe(ptr, h->h.size);
  if (docstore__alloc_release_hook)
    docstore__alloc_release_hook(ptr, h->h.size, h->h.flags);
  free(h);
}

/*
 * Resize a block.  A public block is resized by realloc(), which for a
 * large block moves pages rather than bytes (mremap).  Any other block is
 * copied into a new one and the old one is wiped, as realloc() could leave
 * a copy of a secret behind.  `zero`: clear the bytes added.
 */
static void *resize(void *ptr, size_t size, int zero) {
  alloc_hdr *h = (alloc_hdr *)ptr - 1;
  size_t old = h->h.size;
  unsigned int flags = h->h.flags;
  if (size == 0)
    size = 1;
  if (size > SIZE_MAX - sizeof(alloc_hdr))
    return NULL;
  if (flags & DOCSTORE__MEM_PUBLIC) {
    if (docstore__alloc_fail_hook && docstore__alloc_fail_hook(size, 0))
      return NULL;
    alloc_hdr *n = realloc(h, sizeof(alloc_hdr) + size);
    if (!n)
      return NULL;
    n->h.size = size;
    if (zero && size > old)
      memset((uint8_t *)(n + 1) + old, 0, size - old);
    return n + 1;
  }
  uint8_t *n =
      docstore__alloc_ex(size, flags | (zero ? 0 : DOCSTORE__MEM_UNINIT));
  if (!n)
    return NULL;
  memcpy(n, ptr, old < size ? old : size);
  docstore_free(ptr);
  return n;
}

void *docstore__realloc(void *ptr, size_t size) {
  return ptr ? resize(ptr, size, 1) : docstore__alloc(size);
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

/* The smallest first block of a buffer: a path, a URL or a header line
 * fits in it without growing. */
#define BUF_MIN_CAP 256

/* Move b into a block of `cap` bytes (cap > b->len). */
static int buf_resize(docstore__buf *b, size_t cap) {
  uint8_t *n = b->data
                   ? resize(b->data, cap, 0)
                   : docstore__alloc_ex(cap, (b->flags & DOCSTORE__MEM_PUBLIC) |
                                                 DOCSTORE__MEM_UNINIT);
  if (!n)
    return DOCSTORE_ENOMEM;
  n[b->len] = '\0';
  b->data = n;
  b->cap = cap;
  return 0;
}

/* b->len + extra + 1 in *need, or ENOMEM when it overflows. */
static int buf_need(const docstore__buf *b, size_t extra, size_t *need) {
  if (extra > SIZE_MAX - b->len - 1)
    return DOCSTORE_ENOMEM;
  *need = b->len + extra + 1;
  return 0;
}

/*
 * Growth: a buffer's first block is what was asked for (at least
 * BUF_MIN_CAP), so a reserve of a known total up front is the only
 * allocation; after that the capacity at least doubles, so that appending
 * n bytes in small pieces costs O(n) copying in all.
 */
int docstore__buf_reserve(docstore__buf *b, size_t extra) {
  size_t need;
  DOCSTORE__GUARD(buf_need(b, extra, &need));
  if (b->data && need <= b->cap)
    return 0;
  size_t cap = need;
  if (!b->data && cap < BUF_MIN_CAP)
    cap = BUF_MIN_CAP;
  else if (b->data && cap < b->cap * 2 && b->cap <= SIZE_MAX / 2)
    cap = b->cap * 2;
  return buf_resize(b, cap);
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
  /* Callers that read() straight into the buffer may not have written it;
   * the block past the NUL is never zeroed. */
  d[b->len] = '\0';
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

int docstore__sink_reserve(int (*sink)(void *, const uint8_t *, size_t),
                           void *sink_payload, uint64_t extra) {
  if (sink != docstore__buf_sink || extra > SIZE_MAX)
    return 0;
  /* The provider knows the total: exactly that, no doubling. */
  docstore__buf *b = sink_payload;
  size_t need;
  DOCSTORE__GUARD(buf_need(b, (size_t)extra, &need));
  return need <= b->cap ? 0 : buf_resize(b, need);
}

int docstore__buf_sink(void *buf, const uint8_t *data, size_t len) {
  return docstore__buf_append((docstore__buf *)buf, data, len);
}
