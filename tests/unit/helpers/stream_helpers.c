/*
 * Test helpers for the streaming provider operations: see
 * stream_helpers.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream_helpers.h"

static uint8_t pattern(size_t i) { return (uint8_t)(i * 131u + (i >> 9)); }

uint8_t *make_data(size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  assert_non_null(d);
  for (size_t i = 0; i < n; i++)
    d[i] = pattern(i);
  return d;
}

/* Chunk sizes of a streamed put: small, odd and large, in turn. */
static const size_t chunk_cycle[] = {1, 7, 4096, 65537, 13, 300};

int stream_put(docstore_provider *p, const char *key, const uint8_t *data,
               size_t n, unsigned int flags, docstore__err *err) {
  docstore__put_txn *t = NULL;
  docstore_put_options o = DOCSTORE_PUT_OPTIONS_INIT;
  o.flags = flags;
  o.size_hint = n;
  int rc = docstore__provider_put_begin(p, key, &o, &t, err);
  if (rc < 0)
    return rc;
  size_t off = 0;
  for (size_t i = 0; off < n; i++) {
    size_t k = chunk_cycle[i % (sizeof(chunk_cycle) / sizeof(*chunk_cycle))];
    if (k > n - off)
      k = n - off;
    if ((rc = docstore__provider_put_write(t, data + off, k, err)) < 0) {
      docstore__provider_put_abort(t);
      return rc;
    }
    off += k;
  }
  return docstore__provider_put_commit(t, err);
}

/* Read [offset, offset+length) in reads of at most `cap` bytes: a
 * malloc'd copy (*len bytes) or NULL with *rc set. */
uint8_t *stream_get(docstore_provider *p, const char *key, uint64_t offset,
                    uint64_t length, size_t cap, size_t *len, uint64_t *size,
                    int *rc, docstore__err *err) {
  docstore__get_stream *st = NULL;
  *len = 0;
  *rc = docstore__provider_get_open(p, key, offset, length, &st, size, err);
  if (*rc < 0) {
    assert_null(st);
    return NULL;
  }
  size_t have = 0, room = 1024;
  uint8_t *out = malloc(room);
  uint8_t *buf = malloc(cap);
  assert_non_null(out);
  assert_non_null(buf);
  for (;;) {
    size_t got = 0;
    *rc = docstore__provider_get_read(st, buf, cap, &got, err);
    if (*rc < 0)
      break;
    assert_true(got <= cap);
    if (got == 0)
      break;
    if (have + got > room) {
      while (have + got > room)
        room *= 2;
      out = realloc(out, room);
      assert_non_null(out);
    }
    memcpy(out + have, buf, got);
    have += got;
  }
  docstore__provider_get_close(st);
  free(buf);
  if (*rc < 0) {
    free(out);
    return NULL;
  }
  *len = have;
  return out;
}

/* The ranges every provider must serve alike, on an object of `size`
 * bytes holding data. */
void check_ranges(docstore_provider *p, const char *key, const uint8_t *data,
                  size_t size) {
  struct {
    uint64_t offset, length;
    size_t cap;
  } cases[] = {
      {0, UINT64_MAX, 4096},        /* whole, in small reads */
      {0, UINT64_MAX, 1 << 20},     /* whole, in large reads */
      {0, 10, 3},                   /* head of it */
      {size / 2, 1000, 333},        /* middle */
      {size - 5, UINT64_MAX, 4096}, /* last bytes */
      {size - 10, 1000, 4096},      /* length past the end: cut */
      {size, UINT64_MAX, 4096},     /* offset at the end: empty */
      {10, 0, 4096},                /* empty range */
      {1, UINT64_MAX - 1, 1 << 16}, /* huge length */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    docstore__err err;
    size_t len;
    uint64_t osize = 0;
    int rc;
    uint8_t *got = stream_get(p, key, cases[i].offset, cases[i].length,
                              cases[i].cap, &len, &osize, &rc, &err);
    if (rc != 0)
      fail_msg("range %zu: %d %s", i, rc, err.msg);
    uint64_t end = cases[i].offset + cases[i].length;
    if (cases[i].length > size - cases[i].offset)
      end = size;
    assert_int_equal(osize, size);
    assert_int_equal(len, end - cases[i].offset);
    if (len)
      assert_memory_equal(got, data + cases[i].offset, len);
    free(got);
  }
  /* Beyond the end: a clear error, no stream. */
  docstore__err err;
  docstore__get_stream *st = (docstore__get_stream *)0x1;
  assert_int_equal(
      docstore__provider_get_open(p, key, size + 1, 1, &st, NULL, &err),
      DOCSTORE_EINVAL);
  assert_null(st);
  assert_non_null(strstr(err.msg, "beyond the object"));
  assert_non_null(strstr(err.msg, key));
}

void op_stats(docstore_provider *p, int op, docstore_op_stats *s) {
  s->version = DOCSTORE_OP_STATS_VERSION;
  assert_int_equal(docstore__metrics_get(docstore__provider_metrics(p), op, s),
                   0);
}

void expect_object(docstore_provider *p, const char *key, const void *data,
                   size_t n) {
  uint8_t *got = NULL;
  size_t len = 0;
  int rc = docstore_provider_get(p, &got, &len, key);
  if (rc != 0)
    fail_msg("get %s: %s", key, docstore_provider_errmsg(p));
  assert_int_equal(len, n);
  if (n)
    assert_memory_equal(got, data, n);
  docstore_free(got);
}
