/*
 * libdocstore - strict base64 (RFC 4648 section 4) for envelopes.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Encoding uses OpenSSL's EVP_EncodeBlock (no line breaks).  Decoding is our
 * own because EVP_DecodeBlock is lenient (it trims whitespace and reports
 * padded lengths) and envelopes must be read strictly: the alphabet only,
 * '=' only as padding at the very end, unused bits zero (so every byte
 * string has exactly one accepted encoding).
 */
#include <limits.h>
#include <string.h>

#include "crypto_internal.h"

/* EVP_EncodeBlock takes an int length: encode in slices of this many
 * bytes (a multiple of 3, so the slices' encodings simply concatenate). */
#define B64_ENCODE_SLICE ((size_t)3 << 26)

/* 0..63 for alphabet characters, B64_BAD for everything else ('=' too). */
#define B64_BAD 0xFFu

static const uint8_t b64_value[256] = {
#define B64_ROW16 B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,        \
                  B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,        \
                  B64_BAD, B64_BAD, B64_BAD, B64_BAD
    /* 0x00 - 0x2F */
    B64_ROW16, B64_ROW16,
    B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD, B64_BAD, B64_BAD, 62 /* + */, B64_BAD, B64_BAD, B64_BAD,
    63 /* / */,
    /* 0x30 - 0x3F: digits */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD, B64_BAD, B64_BAD,
    /* 0x40 - 0x5F: upper case */
    B64_BAD, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
    18, 19, 20, 21, 22, 23, 24, 25, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD,
    /* 0x60 - 0x7F: lower case */
    B64_BAD, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD, B64_BAD,
    /* 0x80 - 0xFF */
    B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16,
    B64_ROW16, B64_ROW16
#undef B64_ROW16
};

int docstore__b64_len(size_t *out, size_t n) {
  *out = 0;
  size_t groups = n / 3 + (n % 3 != 0);
  if (groups > SIZE_MAX / 4)
    return DOCSTORE_ETOOBIG;
  *out = groups * 4;
  return 0;
}

void docstore__b64_encode(char *out, const uint8_t *data, size_t n) {
  unsigned char *t = (unsigned char *)out;
  while (n > 0) {
    size_t slice = n < B64_ENCODE_SLICE ? n : B64_ENCODE_SLICE;
    int w = EVP_EncodeBlock(t, data, (int)slice);
    t += w;
    data += slice;
    n -= slice;
  }
  *t = '\0';
}

int docstore__b64_append(docstore__buf *b, const uint8_t *data, size_t n) {
  size_t enc;
  DOCSTORE__GUARD(docstore__b64_len(&enc, n));
  /* docstore__buf_reserve() keeps room for the NUL written after it. */
  DOCSTORE__GUARD(docstore__buf_reserve(b, enc));
  docstore__b64_encode((char *)b->data + b->len, data, n);
  b->len += enc;
  return 0;
}

int docstore__b64_decoded_len(size_t *out, const char *in, size_t in_len) {
  *out = 0;
  if (in_len % 4 != 0)
    return DOCSTORE_EFORMAT;
  if (in_len == 0)
    return 0;
  size_t pad = 0;
  if (in[in_len - 1] == '=')
    pad = in[in_len - 2] == '=' ? 2 : 1;
  if (pad == 2 && in[in_len - 3] == '=')
    return DOCSTORE_EFORMAT;
  *out = in_len / 4 * 3 - pad;
  return 0;
}

/* Decode one quantum that may be the text's last one (with padding). */
static int decode_last(uint8_t *out, size_t *n, const unsigned char *q) {
  unsigned a = b64_value[q[0]], b = b64_value[q[1]];
  if ((a | b) & 0xC0u)
    return DOCSTORE_EFORMAT;
  if (q[2] == '=') {
    /* "xx==": one byte; the low 4 bits of the second digit are unused. */
    if (q[3] != '=' || (b & 0x0Fu))
      return DOCSTORE_EFORMAT;
    if (out)
      out[0] = (uint8_t)(a << 2 | b >> 4);
    *n = 1;
    return 0;
  }
  unsigned c = b64_value[q[2]];
  if (c & 0xC0u)
    return DOCSTORE_EFORMAT;
  if (q[3] == '=') {
    /* "xxx=": two bytes; the low 2 bits of the third digit are unused. */
    if (c & 0x03u)
      return DOCSTORE_EFORMAT;
    if (out) {
      out[0] = (uint8_t)(a << 2 | b >> 4);
      out[1] = (uint8_t)((b & 0x0Fu) << 4 | c >> 2);
    }
    *n = 2;
    return 0;
  }
  unsigned d = b64_value[q[3]];
  if (d & 0xC0u)
    return DOCSTORE_EFORMAT;
  if (out) {
    out[0] = (uint8_t)(a << 2 | b >> 4);
    out[1] = (uint8_t)((b & 0x0Fu) << 4 | c >> 2);
    out[2] = (uint8_t)((c & 0x03u) << 6 | d);
  }
  *n = 3;
  return 0;
}

int docstore__b64_decode(uint8_t *out, size_t *out_len, const char *in,
                         size_t in_len, int final) {
  const unsigned char *q = (const unsigned char *)in;
  *out_len = 0;
  if (in_len % 4 != 0)
    return DOCSTORE_EFORMAT;
  size_t full = in_len / 4;
  if (final && full > 0)
    full--; /* the last quantum is decoded by decode_last() */

  /* Hot loop: any bad character sets a bit above the low 24 in `bad`. */
  uint32_t bad = 0;
  uint8_t *o = out;
  for (size_t i = 0; i < full; i++, q += 4) {
    uint32_t v = (uint32_t)b64_value[q[0]] << 18 |
                 (uint32_t)b64_value[q[1]] << 12 |
                 (uint32_t)b64_value[q[2]] << 6 | (uint32_t)b64_value[q[3]];
    bad |= (uint32_t)(b64_value[q[0]] | b64_value[q[1]] | b64_value[q[2]] |
                      b64_value[q[3]]);
    if (o) {
      o[0] = (uint8_t)(v >> 16);
      o[1] = (uint8_t)(v >> 8);
      o[2] = (uint8_t)v;
      o += 3;
    }
  }
  if (bad & 0xC0u)
    return DOCSTORE_EFORMAT;
  size_t n = full * 3;
  if (final && in_len > 0) {
    size_t last;
    DOCSTORE__GUARD(decode_last(o, &last, q));
    n += last;
  }
  *out_len = n;
  return 0;
}
