/*
 * libdocstore - hexadecimal (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Base 16 as used by SHA-256 digests, key ids ("sha256:<hex>"), SigV4
 * signatures and percent-encoding.  Encoding writes lowercase; decoding is
 * strict (an even number of hex digits, nothing else).
 */
#ifndef DOCSTORE_UTIL_HEX_H
#define DOCSTORE_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/cursor.h"

/* Value of one hex digit (either case), or -1. */
int docstore__hex_digit(int c);

/* Write 2 * n lowercase hex digits of in[0..n) and a NUL to out, which has
 * room for 2 * n + 1 bytes. */
void docstore__hex_encode(char *out, const uint8_t *in, size_t n);

/* Decode exactly in.len / 2 bytes into out (room for out_cap bytes);
 * *out_len (may be NULL) receives their number.  DOCSTORE_EFORMAT: odd
 * length or a byte that is no hex digit; DOCSTORE_ETOOBIG: out too small.
 * Nothing is promised about out on failure. */
int docstore__hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                         docstore__cursor in);

/* 1 when in is non-empty and only lowercase hex digits (0-9, a-f). */
int docstore__hex_is_lower(docstore__cursor in);

#endif /* DOCSTORE_UTIL_HEX_H */
