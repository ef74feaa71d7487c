/*
 * libdocstore - fuzz target: the streaming opener (envelope v2 header and
 * segment framing; v1/legacy input goes its buffered way).
 * SPDX-License-Identifier: Apache-2.0
 *
 * The input is an envelope (binary).  It is fed to docstore_opener_* in
 * chunks whose sizes, and the output room of each call, come from a
 * generator seeded with a hash of the input, so every input is replayed
 * the same way.  The keyring holds the test-only key of
 * tests/interop/fixtures/format_example_key.pem (the seeds are sealed
 * under it).
 *
 * Properties:
 *  - the opener returns only documented codes for bad input (never
 *    EINVAL, ENOMEM or ECRYPTO), and a failed opener stays failed;
 *  - chunking changes nothing: the same input opened in one call gives the
 *    same verdict and, on success, the same bytes;
 *  - a success only comes with valid structure: docstore_envelope_info_get
 *    accepts the input, a v2 header parses and its layout (object size,
 *    segment size) is consistent, an uncompressed v2 document has exactly
 *    the size the layout implies; docstore_envelope_open agrees;
 *  - on an uncompressed v2 success, reading from a segment k (random
 *    access, the object size known) gives the tail of the same bytes, and
 *    adding a recipient that is already there (rewrap_header) keeps the
 *    segments and opens to the same bytes.
 */
#include "crypto/crypto_internal.h"
#include "docstore/crypto.h"
#include "fuzz_common.h"

/* Plaintext kept per input (a fuzz input is small; larger documents are
 * refused by this harness, not by the library). */
#define PT_MAX ((size_t)16 << 20)

static docstore_keyring *keyring;
static char *key_id;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_test_keyring(&keyring, &key_id, "fuzz_envelope_v2");
  return 0;
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* 1 .. 2^k bytes, k from 0 to 17: byte-at-a-time up to beyond a default
 * segment. */
static size_t rng_size(uint64_t *s) {
  uint64_t r = rng_next(s);
  return 1 + (size_t)((r >> 8) % ((uint64_t)1 << (r % 18)));
}

static int documented(int rc) {
  return rc == DOCSTORE_EFORMAT || rc == DOCSTORE_EUNSUPPORTED ||
         rc == DOCSTORE_EKEY || rc == DOCSTORE_EINTEGRITY ||
         rc == DOCSTORE_ETOOBIG;
}

typedef struct out_buf {
  uint8_t *p;
  size_t n;
} out_buf;

/* Open data[0..size) through an opener; seed NULL: one call each. */
static int run_opener(out_buf *pt, const uint8_t *data, size_t size,
                      uint64_t *seed) {
  docstore_opener *o = NULL;
  size_t off = 0, got, used;
  int rc;
  size_t cap = size + 4096; /* grows for compressed documents */
  pt->p = malloc(cap);
  pt->n = 0;
  FUZZ_CHECK(pt->p != NULL);
  FUZZ_CHECK(docstore_opener_new(&o, keyring, NULL) == 0);
  for (;;) {
    int finishing = off == size;
    if (pt->n == cap && cap < PT_MAX) {
      cap = cap * 2 < PT_MAX ? cap * 2 : PT_MAX;
      pt->p = realloc(pt->p, cap);
      FUZZ_CHECK(pt->p != NULL);
    }
    size_t room = cap - pt->n;
    if (seed && room > 0) {
      size_t r = rng_size(seed);
      room = r < room ? r : room;
    }
    if (!finishing) {
      size_t n = seed ? rng_size(seed) : size - off;
      if (n > size - off)
        n = size - off;
      rc = docstore_opener_update(o, pt->p + pt->n, room, &got, data + off, n,
                                  &used);
      FUZZ_CHECK(used <= n && got <= room);
      if (rc == 0)
        FUZZ_CHECK(got > 0 || used > 0 || room == 0);
      off += used;
    } else {
      rc = docstore_opener_finish(o, pt->p + pt->n, room, &got);
      FUZZ_CHECK(got <= room);
    }
    if (rc < 0)
      break;
    pt->n += got;
    if (finishing && rc == 0)
      break;
    if (pt->n >= PT_MAX) {
      rc = 1; /* too large for this harness */
      break;
    }
  }
  if (rc < 0) {
    FUZZ_CHECK(documented(rc));
    FUZZ_CHECK(docstore_opener_errmsg(o)[0] != '\0');
    FUZZ_CHECK(docstore_opener_finish(o, pt->p, 1, &got) == DOCSTORE_EINVAL);
  }
  docstore_opener_free(o);
  return rc;
}

/* Read from segment k with the object size known. */
static void check_seek(const uint8_t *data, size_t size, const out_buf *pt,
                       const docstore_envelope_info *info, uint64_t *seed) {
  docstore_opener *o = NULL;
  size_t h = 0, got, used;
  FUZZ_CHECK(docstore_envelope_header_size(&h, data, size) == 0);
  uint64_t seg = info->segment_size, sw = seg + 16;
  uint64_t nseg = pt->n == 0 ? 1 : (pt->n + seg - 1) / seg;
  uint64_t k = rng_next(seed) % nseg;
  uint8_t *buf = malloc(pt->n + 1);
  size_t n = 0;
  FUZZ_CHECK(buf != NULL);
  FUZZ_CHECK(docstore_opener_new(&o, keyring, NULL) == 0);
  FUZZ_CHECK(docstore_opener_update(o, buf, 0, &got, data, h, &used) == 0 &&
             used == h);
  FUZZ_CHECK(docstore__opener_seek(o, k, size) == 0);
  size_t off = h + (size_t)(k * sw);
  int rc;
  while (off < size) {
    rc = docstore_opener_update(o, buf + n, pt->n - n, &got, data + off,
                                size - off, &used);
    FUZZ_CHECK(rc == 0);
    off += used;
    n += got;
  }
  do {
    rc = docstore_opener_finish(o, buf + n, pt->n - n, &got);
    n += got;
  } while (rc == 1 && got > 0);
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(n == pt->n - k * seg);
  FUZZ_CHECK(n == 0 || memcmp(buf, pt->p + k * seg, n) == 0);
  docstore_opener_free(o);
  free(buf);
}

static void check_rewrap(const uint8_t *data, size_t size, const out_buf *pt) {
  uint8_t *h = NULL;
  size_t hl = 0, old = 0;
  const char *add = key_id;
  FUZZ_CHECK(docstore_envelope_rewrap_header(&h, &hl, &old, keyring, data, size,
                                             &add, 1, NULL, 0) == 0);
  uint8_t *re = malloc(hl + size - old + 1);
  FUZZ_CHECK(re != NULL);
  memcpy(re, h, hl);
  memcpy(re + hl, data + old, size - old);
  out_buf back;
  FUZZ_CHECK(run_opener(&back, re, hl + size - old, NULL) == 0);
  FUZZ_CHECK(back.n == pt->n && (pt->n == 0 || !memcmp(back.p, pt->p, pt->n)));
  free(back.p);
  free(re);
  docstore_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t seed = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; i++)
    seed = (seed ^ data[i]) * 0x100000001b3ull;
  if (!seed)
    seed = 1;
  if (!data)
    data = (const uint8_t *)"";

  out_buf chunked, whole;
  int rc = run_opener(&chunked, data, size, &seed);
  int rc1 = run_opener(&whole, data, size, NULL);
  if (rc == 1 || rc1 == 1)
    goto done; /* over PT_MAX: not this harness's business */
  FUZZ_CHECK((rc == 0) == (rc1 == 0));
  if (rc < 0)
    goto done;
  FUZZ_CHECK(chunked.n == whole.n &&
             (whole.n == 0 || !memcmp(chunked.p, whole.p, whole.n)));

  /* A success only comes with valid structure. */
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  FUZZ_CHECK(docstore_envelope_info_get(&info, (const char *)data, size) == 0);
  uint8_t *pt = NULL;
  size_t pt_len = 0;
  FUZZ_CHECK(docstore_envelope_open(&pt, &pt_len, keyring, (const char *)data,
                                    size, NULL) == 0);
  FUZZ_CHECK(pt_len == whole.n &&
             (pt_len == 0 || !memcmp(pt, whole.p, pt_len)));
  docstore_free(pt);
  if (info.format == DOCSTORE_ENVELOPE_V2) {
    docstore__v2_header h;
    docstore__err e = {0, ""};
    uint64_t nseg, body;
    FUZZ_CHECK(docstore__v2_header_parse(&h, data, size, &e) == 0);
    FUZZ_CHECK(docstore__v2_layout(&nseg, &body, size - h.header_len,
                                   h.segment_size) == 0);
    FUZZ_CHECK(info.recipients_count == h.nrecipients && info.key_id);
    if (!info.compressed) {
      FUZZ_CHECK(info.plaintext_size == whole.n && body == whole.n);
      check_seek(data, size, &whole, &info, &seed);
    }
    check_rewrap(data, size, &whole);
  }
  docstore_envelope_info_clear(&info);
done:
  free(chunked.p);
  free(whole.p);
  return 0;
}
