/*
 * libdocstore - CRC-32C (Castagnoli) and CRC-32 (ISO-HDLC) for S3
 * checksums (x-amz-checksum-crc32c / -crc32).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Why hand-written: CRC-32C is the checksum sent with every upload over
 * https (S3_CHECKSUM_ALGORITHM=auto), so its cost is paid per byte stored.
 * No library we already link, nor any in Debian that is commonly
 * installed, computes it fast: OpenSSL has no CRC, libcurl keeps its
 * own private, zlib's crc32() is the other polynomial (CRC-32, not
 * CRC-32C), and linking a library only for this (crc32c, isa-l) is not
 * worth one more dependency.  zlib is not linked by libdocstore itself
 * either, so CRC-32 comes from the same table code.
 *
 * CRC-32C on x86-64 with SSE4.2 (checked at run time with
 * __builtin_cpu_supports) uses the crc32 instruction, 8 bytes at a time,
 * on three streams at once: the instruction's latency is 3 cycles and
 * its throughput 1 per cycle, so three independent chains keep it busy.
 * The buffer is cut into three consecutive blocks; each is summed from a
 * zero register; the three registers are then joined by "shifting" a
 * register over the length of a block of zeros (a linear map, applied with
 * four 256-entry tables computed once), as in Mark Adler's crc32c.c and
 * zlib's crc32_combine.  Elsewhere: slicing-by-8 tables (8 bytes per step)
 * for both polynomials.
 *
 * The register arithmetic: for a raw register r (no pre/post inversion),
 * crc(r, A || B) = shift_|B|(crc(r, A)) ^ crc(0, B).  The public
 * functions take and return the finished (inverted) value, so that
 * docstore__s3_crc32c(docstore__s3_crc32c(0, a, n), b, m) continues a sum.
 */
#include <pthread.h>
#include <string.h>

#include "s3/s3_internal.h"

#define CRC32_POLY 0xEDB88320u  /* reflected */
#define CRC32C_POLY 0x82F63B78u /* reflected */

/* Slicing-by-8: t[k][b] is the register after byte b then k zero bytes. */
static uint32_t crc32_t8[8][256];
static uint32_t crc32c_t8[8][256];

/* Blocks of the 3-stream loop and their zero-shift tables. */
#define LONG_BLOCK 8192u
#define SHORT_BLOCK 256u
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int have_hw;

static void slicing_tables(uint32_t t[8][256], uint32_t poly) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int k = 1; k < 8; k++)
      t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
}

/* The raw register r after n zero bytes (CRC-32C, byte table). */
static uint32_t zeros_slow(uint32_t r, size_t n) {
  while (n--)
    r = crc32c_t8[0][r & 0xFF] ^ (r >> 8);
  return r;
}

/* Tables of the linear map "append n zero bytes": t[k][b] is the image of
 * the register b << 8k; built from the images of the 32 single bits. */
static void shift_tables(uint32_t t[4][256], size_t n) {
  uint32_t bit[32];
  for (int j = 0; j < 32; j++)
    bit[j] = zeros_slow(1u << j, n);
  for (int k = 0; k < 4; k++)
    for (uint32_t b = 0; b < 256; b++) {
      uint32_t v = 0;
      for (int j = 0; j < 8; j++)
        if (b & (1u << j))
          v ^= bit[8 * k + j];
      t[k][b] = v;
    }
}

static uint32_t shift(const uint32_t t[4][256], uint32_t r) {
  return t[0][r & 0xFF] ^ t[1][(r >> 8) & 0xFF] ^ t[2][(r >> 16) & 0xFF] ^
         t[3][r >> 24];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DOCSTORE__CRC_HW 1
#include <nmmintrin.h>
#endif

static void crc_init(void) {
  slicing_tables(crc32_t8, CRC32_POLY);
  slicing_tables(crc32c_t8, CRC32C_POLY);
  shift_tables(shift_long, LONG_BLOCK);
  shift_tables(shift_short, SHORT_BLOCK);
#ifdef DOCSTORE__CRC_HW
  __builtin_cpu_init();
  have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

/* Slicing-by-8 on a raw register (little- or big-endian hosts). */
static uint32_t crc_sw(const uint32_t t[8][256], uint32_t r, const uint8_t *p,
                       size_t n) {
  while (n && ((uintptr_t)p & 7)) {
    r = t[0][(r ^ *p++) & 0xFF] ^ (r >> 8);
    n--;
  }
  while (n >= 8) {
    uint32_t lo = r ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                  (uint32_t)p[7] << 24;
    r = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^
        t[4][lo >> 24] ^ t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^
        t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--)
    r = t[0][(r ^ *p++) & 0xFF] ^ (r >> 8);
  return r;
}

#ifdef DOCSTORE__CRC_HW
static uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8); /* x86-64 is little-endian, as the instruction wants */
  return v;
}

/* Three blocks of `block` bytes at p, on one stream each; r continues. */
__attribute__((target("sse4.2"))) static uint32_t
hw_three(uint32_t r, const uint8_t *p, size_t block, const uint32_t t[4][256]) {
  uint64_t c0 = r, c1 = 0, c2 = 0;
  const uint8_t *end = p + block;
  for (; p < end; p += 8) {
    c0 = _mm_crc32_u64(c0, load64(p));
    c1 = _mm_crc32_u64(c1, load64(p + block));
    c2 = _mm_crc32_u64(c2, load64(p + 2 * block));
  }
  uint32_t x = shift(t, (uint32_t)c0) ^ (uint32_t)c1;
  return shift(t, x) ^ (uint32_t)c2;
}

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t r, const uint8_t *p, size_t n) {
  while (n && ((uintptr_t)p & 7)) {
    r = _mm_crc32_u8(r, *p++);
    n--;
  }
  while (n >= 3 * LONG_BLOCK) {
    r = hw_three(r, p, LONG_BLOCK, shift_long);
    p += 3 * LONG_BLOCK;
    n -= 3 * LONG_BLOCK;
  }
  while (n >= 3 * SHORT_BLOCK) {
    r = hw_three(r, p, SHORT_BLOCK, shift_short);
    p += 3 * SHORT_BLOCK;
    n -= 3 * SHORT_BLOCK;
  }
  uint64_t c = r;
  while (n >= 8) {
    c = _mm_crc32_u64(c, load64(p));
    p += 8;
    n -= 8;
  }
  r = (uint32_t)c;
  while (n--)
    r = _mm_crc32_u8(r, *p++);
  return r;
}
#endif

uint32_t docstore__s3_crc32(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
  return ~crc_sw(crc32_t8, ~crc, data, len);
}

uint32_t docstore__s3_crc32c(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
#ifdef DOCSTORE__CRC_HW
  if (have_hw)
    return ~crc32c_hw(~crc, data, len);
#endif
  return ~crc_sw(crc32c_t8, ~crc, data, len);
}

uint32_t docstore__s3_crc32c_sw(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
  return ~crc_sw(crc32c_t8, ~crc, data, len);
}

int docstore__s3_crc32c_hw(void) {
  pthread_once(&crc_once, crc_init);
  return have_hw;
}
