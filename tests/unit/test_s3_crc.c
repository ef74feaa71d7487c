/*
 * Tests for src/s3/s3_crc.c: CRC-32C test vectors of RFC 3720 (iSCSI),
 * appendix B.4, and the check values of both CRCs; the hardware path
 * (SSE4.2, three interleaved streams) against the tables on random
 * lengths, alignments and split points, over the block sizes where the
 * code changes path.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_internal.h"

/* RFC 3720, B.4: the CRC as it is sent (the finished value). */
static void test_rfc3720_vectors(void **state) {
  (void)state;
  uint8_t b[48];
  memset(b, 0, 32);
  assert_int_equal(docstore__s3_crc32c(0, b, 32), 0x8A9136AAu);
  memset(b, 0xFF, 32);
  assert_int_equal(docstore__s3_crc32c(0, b, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++)
    b[i] = (uint8_t)i;
  assert_int_equal(docstore__s3_crc32c(0, b, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; i++)
    b[i] = (uint8_t)(31 - i);
  assert_int_equal(docstore__s3_crc32c(0, b, 32), 0x113FDB5Cu);
  /* An iSCSI Read (10) command PDU. */
  static const uint8_t pdu[48] = {
      0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  assert_int_equal(docstore__s3_crc32c(0, pdu, 48), 0xD9963A56u);
  assert_int_equal(docstore__s3_crc32c_sw(0, pdu, 48), 0xD9963A56u);
  /* Check values ("123456789") and the empty input. */
  assert_int_equal(docstore__s3_crc32c(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(docstore__s3_crc32c_sw(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(docstore__s3_crc32(0, "123456789", 9), 0xCBF43926u);
  assert_int_equal(docstore__s3_crc32c(0, "", 0), 0);
  assert_int_equal(docstore__s3_crc32(0, "", 0), 0);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* A CRC by the definition (bit at a time), reflected polynomial. */
static uint32_t crc_bitwise(uint32_t poly, const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  while (n--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
  }
  return ~c;
}

/* Hardware (when present) and tables agree with the definition on random
 * lengths (around the 3 x 256 and 3 x 8192 block boundaries too), start
 * alignments, and when the input is split in two calls. */
static void test_paths_agree(void **state) {
  (void)state;
  size_t cap = 200 * 1024 + 64;
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  for (size_t i = 0; i < cap; i++)
    buf[i] = (uint8_t)next_rand();
  static const size_t edges[] = {0,     1,     7,     8,     9,     767,
                                 768,   769,   1535,  24575, 24576, 24577,
                                 24583, 49152, 73735, 204800};
  for (int round = 0; round < 400; round++) {
    size_t len = round < (int)(sizeof(edges) / sizeof(edges[0]))
                     ? edges[round]
                     : (size_t)(next_rand() % (cap - 64));
    size_t off = (size_t)(next_rand() % 64);
    const uint8_t *p = buf + off;
    uint32_t want = crc_bitwise(0x82F63B78u, p, len);
    assert_int_equal(docstore__s3_crc32c(0, p, len), want);
    assert_int_equal(docstore__s3_crc32c_sw(0, p, len), want);
    size_t cut = len ? (size_t)(next_rand() % (len + 1)) : 0;
    assert_int_equal(
        docstore__s3_crc32c(docstore__s3_crc32c(0, p, cut), p + cut, len - cut),
        want);
    if (round % 8 == 0)
      assert_int_equal(docstore__s3_crc32(0, p, len),
                       crc_bitwise(0xEDB88320u, p, len));
  }
  fprintf(stderr, "  CRC-32C: %s\n",
          docstore__s3_crc32c_hw() ? "SSE4.2 instruction" : "tables");
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc3720_vectors),
      cmocka_unit_test(test_paths_agree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
