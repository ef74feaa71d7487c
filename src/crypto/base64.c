/*
 * libdocstore - strict base64 (RFC 4648 section 4) for envelopes.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Our own codec rather than OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock:
 *  - decoding must be strict and EVP_DecodeBlock is lenient (it trims
 *    whitespace and reports padded lengths): here only the alphabet, '='
 *    only as padding at the very end, unused bits zero, so every byte
 *    string has exactly one accepted encoding;
 *  - both directions are on the hot path of every envelope (the ciphertext
 *    is base64): table-driven, they run several times faster than OpenSSL's
 *    byte-at-a-time loops, and take size_t lengths (EVP_*Block take int).
 * tests/unit/test_crypto_base64.c checks the encoder against OpenSSL.
 *
 * docstore__b64_span() (the envelope reader's scan of every base64 string,
 * most of an envelope) classifies 16 characters per step with SSE2, which
 * every x86-64 processor has; elsewhere, and for the last few characters,
 * it uses the decoder's table.  The same test checks both against the
 * table on random and on every single-byte input.
 */
#include <pthread.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "crypto_internal.h"

/* Tables built once (pthread_once), then read-only:
 *  - enc_pair[v] for a 12-bit value v: its two alphabet characters, so a
 *    3-byte group is encoded with two lookups;
 *  - dec[i][c] for the i-th character (0..3) of a quantum: its 6-bit value
 *    already shifted into place, or DEC_BAD (a bit above the 24 data bits)
 *    for any character outside the alphabet ('=' included). */
#define DEC_BAD 0x01000000u

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static uint16_t enc_pair[4096];
static uint32_t dec[4][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void) {
  for (unsigned v = 0; v < 4096; v++) {
    unsigned char two[2] = {(unsigned char)b64_alphabet[v >> 6],
                            (unsigned char)b64_alphabet[v & 63]};
    memcpy(&enc_pair[v], two, 2);
  }
  for (unsigned i = 0; i < 4; i++)
    for (unsigned c = 0; c < 256; c++)
      dec[i][c] = DEC_BAD;
  for (unsigned k = 0; k < 64; k++) {
    unsigned char c = (unsigned char)b64_alphabet[k];
    dec[0][c] = k << 18;
    dec[1][c] = k << 12;
    dec[2][c] = k << 6;
    dec[3][c] = k;
  }
}

static void tables(void) { pthread_once(&tables_once, tables_init); }

/* The 6-bit value of an alphabet character, or 64 for anything else. */
static unsigned value_of(unsigned char c) {
  uint32_t v = dec[3][c];
  return v == DEC_BAD ? 64u : (unsigned)v;
}

int docstore__b64_len(size_t *out, size_t n) {
  *out = 0;
  size_t groups = n / 3 + (n % 3 != 0);
  if (groups > SIZE_MAX / 4)
    return DOCSTORE_ETOOBIG;
  *out = groups * 4;
  return 0;
}

void docstore__b64_encode(char *out, const uint8_t *data, size_t n) {
  tables();
  size_t groups = n / 3;
  char *o = out;
  for (size_t i = 0; i < groups; i++, data += 3, o += 4) {
    uint32_t v = (uint32_t)data[0] << 16 | (uint32_t)data[1] << 8 | data[2];
    memcpy(o, &enc_pair[v >> 12], 2);
    memcpy(o + 2, &enc_pair[v & 0xFFFu], 2);
  }
  size_t rest = n % 3;
  if (rest) {
    uint32_t v = (uint32_t)data[0] << 16;
    if (rest == 2)
      v |= (uint32_t)data[1] << 8;
    o[0] = b64_alphabet[v >> 18];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = rest == 2 ? b64_alphabet[(v >> 6) & 63] : '=';
    o[3] = '=';
    o += 4;
  }
  *o = '\0';
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

#if defined(__SSE2__)
/* How many of the first n >= 16 characters, in steps of 16, are in the
 * alphabet ('=' is not): stops at the first step that holds another. */
static size_t span_sse2(const unsigned char *q, size_t n) {
  /* Signed compares: bytes from 0x80 up are negative, so outside every
   * range below, as they must be. */
  const __m128i up_lo = _mm_set1_epi8('A' - 1), up_hi = _mm_set1_epi8('Z' + 1);
  const __m128i lo_lo = _mm_set1_epi8('a' - 1), lo_hi = _mm_set1_epi8('z' + 1);
  const __m128i dg_lo = _mm_set1_epi8('0' - 1), dg_hi = _mm_set1_epi8('9' + 1);
  const __m128i plus = _mm_set1_epi8('+'), slash = _mm_set1_epi8('/');
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(q + i));
    __m128i up =
        _mm_and_si128(_mm_cmpgt_epi8(c, up_lo), _mm_cmplt_epi8(c, up_hi));
    __m128i lo =
        _mm_and_si128(_mm_cmpgt_epi8(c, lo_lo), _mm_cmplt_epi8(c, lo_hi));
    __m128i dg =
        _mm_and_si128(_mm_cmpgt_epi8(c, dg_lo), _mm_cmplt_epi8(c, dg_hi));
    __m128i ok = _mm_or_si128(_mm_or_si128(up, lo), dg);
    ok = _mm_or_si128(
        ok, _mm_or_si128(_mm_cmpeq_epi8(c, plus), _mm_cmpeq_epi8(c, slash)));
    if (_mm_movemask_epi8(ok) != 0xFFFF)
      break;
  }
  return i;
}
#endif

size_t docstore__b64_span(const char *in, size_t n) {
  const unsigned char *q = (const unsigned char *)in;
  size_t i = 0;
  tables();
#if defined(__SSE2__)
  if (n >= 16)
    i = span_sse2(q, n);
#endif
  /* Four characters per step with the decoder's table. */
  while (i + 4 <= n && !((dec[0][q[i]] | dec[1][q[i + 1]] | dec[2][q[i + 2]] |
                          dec[3][q[i + 3]]) &
                         DEC_BAD))
    i += 4;
  while (i < n && dec[3][q[i]] != DEC_BAD)
    i++;
  return i;
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
  unsigned a = value_of(q[0]), b = value_of(q[1]);
  if ((a | b) >= 64)
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
  unsigned c = value_of(q[2]);
  if (c >= 64)
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
  unsigned d = value_of(q[3]);
  if (d >= 64)
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
  tables();
  size_t full = in_len / 4;
  if (final && full > 0)
    full--; /* the last quantum is decoded by decode_last() */

  /* Hot loop: a bad character sets DEC_BAD in `bad`, checked once. */
  uint32_t bad = 0;
  uint8_t *o = out;
  if (o) {
    for (size_t i = 0; i < full; i++, q += 4, o += 3) {
      uint32_t v = dec[0][q[0]] | dec[1][q[1]] | dec[2][q[2]] | dec[3][q[3]];
      bad |= v;
      o[0] = (uint8_t)(v >> 16);
      o[1] = (uint8_t)(v >> 8);
      o[2] = (uint8_t)v;
    }
  } else {
    for (size_t i = 0; i < full; i++, q += 4)
      bad |= dec[0][q[0]] | dec[1][q[1]] | dec[2][q[2]] | dec[3][q[3]];
  }
  if (bad & DEC_BAD)
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
