/*
 * libdocstore - fuzz target: object key checks and the strict base64
 * codec (src/provider/provider.c, src/crypto/base64.c).
 * SPDX-License-Identifier: Apache-2.0
 *
 * The input is used three ways:
 *  - as a key (up to its first NUL) for docstore_key_check() and as a
 *    list prefix for docstore__prefix_check(), both compared with an
 *    independent statement of the rules in docs/ARCHITECTURE.md / sys/
 *    provider.h: 1 to 1024 bytes of UTF-8 (no overlong forms, surrogates
 *    or code points above U+10FFFF), no C0/C1 control characters, no
 *    backslash, no leading '/', no empty, "." or ".." segment (a prefix
 *    may be empty and may end with '/');
 *  - as bytes to encode: decode(encode(x)) == x, and the encoding has the
 *    announced length and alphabet;
 *  - as base64 text to decode strictly: it never reads out of bounds; when
 *    it decodes, the text is the one canonical encoding of the result
 *    (re-encoding gives it back), the length matches
 *    docstore__b64_decoded_len(), validating without output agrees, and
 *    decoding in two pieces (the first not final) gives the same bytes.
 */
#include "fuzz_common.h"

#include "crypto/crypto_internal.h"
#include "docstore/sys/provider.h"
#include "provider/provider_internal.h"

/* Length of the UTF-8 sequence at s (n bytes left) and its code point, or
 * 0 when it is not valid UTF-8 (RFC 3629, table in section 4). */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned long *cp) {
  static const struct {
    unsigned char lo, hi;   /* first byte */
    unsigned char lo2, hi2; /* second byte */
    size_t len;
  } forms[] = {
      {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2},
      {0xE0, 0xE0, 0xA0, 0xBF, 3}, {0xE1, 0xEC, 0x80, 0xBF, 3},
      {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
      {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4},
      {0xF4, 0xF4, 0x80, 0x8F, 4},
  };
  for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
    if (s[0] < forms[f].lo || s[0] > forms[f].hi)
      continue;
    size_t len = forms[f].len;
    if (len > n)
      return 0;
    if (len == 1) {
      *cp = s[0];
      return 1;
    }
    if (s[1] < forms[f].lo2 || s[1] > forms[f].hi2)
      return 0;
    unsigned long v = s[0] & (0xFFu >> (len + 1));
    for (size_t i = 1; i < len; i++) {
      if (i > 1 && (s[i] < 0x80 || s[i] > 0xBF))
        return 0;
      v = v << 6 | (s[i] & 0x3Fu);
    }
    *cp = v;
    return len;
  }
  return 0;
}

static int key_ok(const char *key, int prefix) {
  size_t len = strlen(key);
  if (len == 0)
    return prefix;
  if (len > 1024 || key[0] == '/')
    return 0;
  const unsigned char *s = (const unsigned char *)key;
  for (size_t i = 0; i < len;) {
    unsigned long cp;
    size_t n = utf8_seq(s + i, len - i, &cp);
    if (n == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == '\\')
      return 0;
    i += n;
  }
  /* Segments between '/' (a prefix may end with one). */
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && key[i] != '/')
      continue;
    size_t seg = i - start;
    if (seg == 0 && !(prefix && i == len))
      return 0;
    if ((seg == 1 && key[start] == '.') ||
        (seg == 2 && key[start] == '.' && key[start + 1] == '.'))
      return 0;
    start = i + 1;
  }
  return 1;
}

static void check_key(const uint8_t *data, size_t size) {
  char *key = fuzz_cstr(data, size);
  docstore__err err;
  int rc = docstore_key_check(key);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EINVAL);
  FUZZ_CHECK((rc == 0) == key_ok(key, 0));
  docstore__err_clear(&err);
  rc = docstore__prefix_check(key, &err);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EINVAL);
  FUZZ_CHECK((rc == 0) == key_ok(key, 1));
  FUZZ_CHECK(rc == 0 || err.msg[0]);
  free(key);
}

static int b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static void check_encode(const uint8_t *data, size_t size) {
  size_t enc_len, dec_len, n;
  FUZZ_CHECK(docstore__b64_len(&enc_len, size) == 0);
  FUZZ_CHECK(enc_len == (size + 2) / 3 * 4);
  char *enc = malloc(enc_len + 1);
  uint8_t *dec = malloc(size + 1);
  FUZZ_CHECK(enc && dec);
  docstore__b64_encode(enc, data, size);
  FUZZ_CHECK(enc[enc_len] == '\0');
  for (size_t i = 0; i < enc_len; i++)
    FUZZ_CHECK(b64_char(enc[i]) || (enc[i] == '=' && i + 2 >= enc_len));
  FUZZ_CHECK(docstore__b64_decoded_len(&dec_len, enc, enc_len) == 0);
  FUZZ_CHECK(dec_len == size);
  FUZZ_CHECK(docstore__b64_decode(dec, &n, enc, enc_len, 1) == 0);
  FUZZ_CHECK(n == size && (size == 0 || memcmp(dec, data, size) == 0));

  /* The same through a growable buffer. */
  docstore__buf b = DOCSTORE__BUF_INIT;
  FUZZ_CHECK(docstore__b64_append(&b, data, size) == 0);
  FUZZ_CHECK(b.len == enc_len &&
             (enc_len == 0 || memcmp(b.data, enc, enc_len) == 0));
  docstore__buf_free(&b);
  free(enc);
  free(dec);
}

static void check_decode(const uint8_t *data, size_t size) {
  const char *text = size ? (const char *)data : "";
  size_t cap = size / 4 * 3, n = 0, n2 = 0, want = 0;
  uint8_t *out = malloc(cap ? cap : 1);
  FUZZ_CHECK(out != NULL);
  int rc = docstore__b64_decode(out, &n, text, size, 1);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EFORMAT);
  FUZZ_CHECK(docstore__b64_decode(NULL, &n2, text, size, 1) == rc);
  if (rc == 0) {
    FUZZ_CHECK(n == n2 && n <= cap);
    FUZZ_CHECK(docstore__b64_decoded_len(&want, text, size) == 0 && want == n);
    /* Strict: the only accepted text for these bytes is their encoding. */
    char *enc = malloc(size + 1);
    FUZZ_CHECK(enc != NULL);
    docstore__b64_encode(enc, out, n);
    FUZZ_CHECK(strlen(enc) == size && memcmp(enc, text, size) == 0);
    free(enc);

    /* In two pieces at a quantum boundary: the same bytes. */
    if (size >= 8) {
      size_t first = (size_t)data[0] % (size / 4) * 4;
      uint8_t *two = malloc(cap);
      size_t a = 0, b = 0;
      FUZZ_CHECK(two != NULL);
      FUZZ_CHECK(docstore__b64_decode(two, &a, text, first, 0) == 0);
      FUZZ_CHECK(docstore__b64_decode(two + a, &b, text + first, size - first,
                                      1) == 0);
      FUZZ_CHECK(a + b == n && memcmp(two, out, n) == 0);
      free(two);
    }
  } else {
    FUZZ_CHECK(n == 0);
  }
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_key(data, size);
  check_encode(data, size);
  check_decode(data, size);
  return 0;
}
