/*
 * libdocstore - fuzz target: envelope parsing and opening.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The input is an envelope text (v1 or legacy; the length is given, the
 * text is not NUL-terminated), or a binary v2 envelope (the whole-buffer
 * calls; fuzz_envelope_v2 drives the streaming opener).  The keyring holds the
 * test-only key of tests/interop/fixtures/format_example_key.pem, so the seeds
 * sealed under it reach the RSA and AES-GCM code.
 *
 * Properties:
 *  - docstore_envelope_info_get() and docstore_envelope_open() only return
 *    their documented codes for bad input (never EINVAL, ENOMEM, ECRYPTO);
 *  - what info_get reports is consistent (v1, v2: a key id; legacy: none;
 *    user_id only with file_id; size not above the text's, or unknown for
 *    a compressed v2 envelope);
 *  - open succeeds only on what info_get accepts, with the same size, and
 *    then the expected identity is honoured (the right one opens, another
 *    is refused), rewrap succeeds and the rewrapped envelope opens to the
 *    same bytes;
 *  - escaping changes nothing (JSON input): with the first character of a
 *    "ciphertext" string written as a \u00XX escape, which means the same
 *    JSON but makes the reader unescape the value into a copy instead of
 *    using it in place, info_get gives the same answer.
 */
#include "docstore/crypto.h"
#include "fuzz_common.h"

static docstore_keyring *keyring;
static char *key_id;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_test_keyring(&keyring, &key_id, "fuzz_envelope");
  return 0;
}

static int parse_error(int rc) {
  return rc == DOCSTORE_EFORMAT || rc == DOCSTORE_EUNSUPPORTED ||
         rc == DOCSTORE_ETOOBIG;
}

/* Open again with an expected identity: the bound one must open, another
 * one must be refused (only "AES-256-GCM" envelopes bind; the others are
 * accepted whatever is expected). */
static void check_identity(const char *text, size_t size,
                           const docstore_envelope_info *info,
                           const uint8_t *pt, size_t pt_len) {
  uint8_t *out = NULL;
  size_t out_len = 0;
  docstore_doc_id other = {"fuzz-other-file", NULL};
  if (info->file_id && strcmp(info->file_id, other.file_id) == 0)
    other.file_id = "fuzz-another-file";
  int rc = docstore_envelope_open(&out, &out_len, keyring, text, size, &other);
  if (info->file_id) {
    FUZZ_CHECK(rc == DOCSTORE_EINTEGRITY);
    FUZZ_CHECK(out == NULL);
    docstore_doc_id same = {info->file_id, info->user_id};
    rc = docstore_envelope_open(&out, &out_len, keyring, text, size, &same);
    FUZZ_CHECK(rc == 0);
  }
  /* Unbound: v1 "AES-256-GCM" refuses any expectation; the others (legacy,
   * converted legacy) accept it. */
  if (rc == 0) {
    FUZZ_CHECK(out_len == pt_len);
    FUZZ_CHECK(pt_len == 0 || memcmp(out, pt, pt_len) == 0);
  } else {
    FUZZ_CHECK(rc == DOCSTORE_EINTEGRITY);
  }
  docstore_free(out);
}

static void check_rewrap(const char *text, size_t size, const uint8_t *pt,
                         size_t pt_len) {
  char *re = NULL;
  size_t re_len = 0;
  uint8_t *out = NULL;
  size_t out_len = 0;
  FUZZ_CHECK(
      docstore_envelope_rewrap(&re, &re_len, keyring, text, size, key_id) == 0);
  /* JSON in, JSON out; a v2 envelope gives a binary v2 envelope. */
  FUZZ_CHECK(re != NULL && (re[0] == '\x89' || strlen(re) == re_len));
  FUZZ_CHECK(
      docstore_envelope_open(&out, &out_len, keyring, re, re_len, NULL) == 0);
  FUZZ_CHECK(out_len == pt_len);
  FUZZ_CHECK(pt_len == 0 || memcmp(out, pt, pt_len) == 0);
  docstore_free(out);
  docstore_free(re);
}

static int same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Each `"ciphertext":"X` with X a printable ASCII character other than a
 * quote or backslash becomes `"ciphertext":"\u00XX`.  In JSON that
 * pattern can only be a member name and the start of its string value, so
 * the variant is the same JSON; in text that is not JSON both must be
 * refused. */
static void check_escaped_variant(const char *text, size_t size, int irc,
                                  const docstore_envelope_info *info) {
  static const char pat[] = "\"ciphertext\":\"";
  const size_t plen = sizeof(pat) - 1;
  for (size_t i = 0; i + plen < size; i++) {
    unsigned char c = (unsigned char)text[i + plen];
    if (memcmp(text + i, pat, plen) != 0 || c < 0x20 || c > 0x7e || c == '"' ||
        c == '\\')
      continue;
    char *v = malloc(size + 6);
    FUZZ_CHECK(v != NULL);
    memcpy(v, text, i + plen);
    snprintf(v + i + plen, 7, "\\u%04x", c);
    memcpy(v + i + plen + 6, text + i + plen + 1, size - i - plen - 1);
    docstore_envelope_info vi = DOCSTORE_ENVELOPE_INFO_INIT;
    int vrc = docstore_envelope_info_get(&vi, v, size + 5);
    FUZZ_CHECK((vrc == 0) == (irc == 0));
    if (vrc == 0)
      FUZZ_CHECK(vi.format == info->format &&
                 vi.plaintext_size == info->plaintext_size &&
                 same_str(vi.key_id, info->key_id) &&
                 same_str(vi.file_id, info->file_id) &&
                 same_str(vi.user_id, info->user_id));
    docstore_envelope_info_clear(&vi);
    free(v);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  uint8_t *pt = NULL;
  size_t pt_len = 0;

  /* An empty input is a valid pointer of length 0 for the library. */
  if (!text)
    text = "";

  int irc = docstore_envelope_info_get(&info, text, size);
  /* v2: a length no segment layout has is what an open calls it,
   * integrity (FORMAT.md 21.1). */
  FUZZ_CHECK(irc == 0 || parse_error(irc) ||
             (irc == DOCSTORE_EINTEGRITY && size >= 8 &&
              memcmp(text,
                     "\x89"
                     "DSE",
                     4) == 0));
  if (irc == 0) {
    FUZZ_CHECK(info.format == DOCSTORE_ENVELOPE_V1 ||
               info.format == DOCSTORE_ENVELOPE_V2 ||
               info.format == DOCSTORE_ENVELOPE_LEGACY);
    /* v2 names no key id when it has no RSA-OAEP recipient (only kinds
     * this version does not know). */
    if (info.format == DOCSTORE_ENVELOPE_V1 || info.key_id)
      FUZZ_CHECK(info.key_id && strlen(info.key_id) == 71 &&
                 strncmp(info.key_id, "sha256:", 7) == 0);
    if (info.format == DOCSTORE_ENVELOPE_V2)
      FUZZ_CHECK(info.recipients_count >= 1 && info.segment_size >= 4096);
    else if (info.format == DOCSTORE_ENVELOPE_LEGACY)
      FUZZ_CHECK(!info.key_id && !info.file_id && !info.user_id);
    FUZZ_CHECK(!info.user_id || info.file_id);
    FUZZ_CHECK(info.plaintext_size <= size ||
               (info.compressed && info.plaintext_size == UINT64_MAX));
  } else {
    FUZZ_CHECK(!info.key_id && !info.file_id && !info.user_id);
  }

  /* Escaping is a JSON notion: a v2 envelope (binary, told by its first
   * byte) with 5 bytes inserted is another envelope. */
  if (size == 0 || data[0] != 0x89)
    check_escaped_variant(text, size, irc, &info);

  int orc = docstore_envelope_open(&pt, &pt_len, keyring, text, size, NULL);
  FUZZ_CHECK(orc == 0 || parse_error(orc) || orc == DOCSTORE_EKEY ||
             orc == DOCSTORE_EINTEGRITY);
  if (orc == 0) {
    FUZZ_CHECK(pt != NULL);
    FUZZ_CHECK(irc == 0);
    FUZZ_CHECK(pt_len == info.plaintext_size || info.compressed);
    check_identity(text, size, &info, pt, pt_len);
    check_rewrap(text, size, pt, pt_len);
  } else {
    FUZZ_CHECK(pt == NULL && pt_len == 0);
    /* What the structural check refuses, opening refuses the same way. */
    if (irc == DOCSTORE_EUNSUPPORTED || irc == DOCSTORE_ETOOBIG)
      FUZZ_CHECK(orc == irc);
    /* A v2 length with no segment layout: integrity, or no key first. */
    if (irc == DOCSTORE_EINTEGRITY)
      FUZZ_CHECK(orc == DOCSTORE_EINTEGRITY || orc == DOCSTORE_EKEY);
  }
  docstore_free(pt);
  docstore_envelope_info_clear(&info);
  return 0;
}
