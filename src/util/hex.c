/*
 * libdocstore - hexadecimal.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "util/hex.h"

int docstore__hex_digit(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void docstore__hex_encode(char *out, const uint8_t *in, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 0x0F];
  }
  out[2 * n] = '\0';
}

int docstore__hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                         docstore__cursor in) {
  if (out_len)
    *out_len = 0;
  if (in.len % 2 != 0)
    return DOCSTORE_EFORMAT;
  if (in.len / 2 > out_cap)
    return DOCSTORE_ETOOBIG;
  for (size_t i = 0; i < in.len; i += 2) {
    int hi = docstore__hex_digit(in.ptr[i]);
    int lo = docstore__hex_digit(in.ptr[i + 1]);
    if (hi < 0 || lo < 0)
      return DOCSTORE_EFORMAT;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  if (out_len)
    *out_len = in.len / 2;
  return 0;
}

int docstore__hex_is_lower(docstore__cursor in) {
  if (in.len == 0)
    return 0;
  for (size_t i = 0; i < in.len; i++) {
    uint8_t c = in.ptr[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return 0;
  }
  return 1;
}
