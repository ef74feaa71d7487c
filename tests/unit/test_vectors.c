/*
 * Unit test: the conformance vectors of docs/FORMAT.md
 * (tests/vectors/envelope_v1.json and envelope_v2.json, schema in
 * tests/vectors/README.md), run through the public API.  For every vector: load
 * its keys in order (a key refused when loaded gives the vector's result), open
 * the envelope with the expected identity, compare the error name or the
 * plaintext.  Valid vectors are also checked with docstore_envelope_info_get()
 * (same size; v2: format, segment size, compressed) and rewrapped (the result
 * opens to the same bytes; v2 stays v2); refused ones must be refused by
 * info_get too when the error comes from the steps that need no key (v1: 1 to
 * 5, v2: 1 to 3).  The streaming docstore_opener_* runs the same vectors in
 * tests/interop/test_vectors.py (LibraryVectors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "crypto/crypto_internal.h"
#include "docstore/crypto.h"

#define VECTORS DOCSTORE_SOURCE_DIR "/tests/vectors/envelope_v1.json"
#define VECTORS_V2 DOCSTORE_SOURCE_DIR "/tests/vectors/envelope_v2.json"

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n > 0);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

static uint8_t *unhex(const char *s, size_t *n) {
  size_t len = strlen(s);
  uint8_t *out = malloc(len / 2 + 1);
  assert_non_null(out);
  for (size_t i = 0; i < len / 2; i++) {
    unsigned v;
    assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  *n = len / 2;
  return out;
}

/* The envelope bytes of a vector: "envelope" (text) or "envelope_b64". */
static char *envelope_of(const cJSON *v, size_t *len) {
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(v, "envelope");
  if (cJSON_IsString(text)) {
    *len = strlen(text->valuestring);
    char *out = malloc(*len + 1);
    assert_non_null(out);
    memcpy(out, text->valuestring, *len + 1);
    return out;
  }
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "envelope_b64");
  assert_true(cJSON_IsString(b));
  size_t n = strlen(b->valuestring), out_len;
  size_t cap;
  assert_int_equal(docstore__b64_decoded_len(&cap, b->valuestring, n), 0);
  char *out = malloc(cap + 1);
  assert_non_null(out);
  assert_int_equal(
      docstore__b64_decode((uint8_t *)out, &out_len, b->valuestring, n, 1), 0);
  out[out_len] = '\0';
  *len = out_len;
  return out;
}

/* Load the vector's keys; returns 0 or the first load error. */
static int load_keys(docstore_keyring **kr, const cJSON *keys, const cJSON *v) {
  assert_int_equal(docstore_keyring_new(kr, NULL, 0), 0);
  const cJSON *names = cJSON_GetObjectItemCaseSensitive(v, "keys");
  const cJSON *name;
  cJSON_ArrayForEach(name, names) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(keys, name->valuestring);
    assert_non_null(k);
    const char *pem =
        cJSON_GetObjectItemCaseSensitive(k, "private_pem")->valuestring;
    int rc =
        docstore_keyring_add_private_pem(*kr, NULL, pem, strlen(pem), NULL);
    const char *loads =
        cJSON_GetObjectItemCaseSensitive(k, "loads")->valuestring;
    assert_string_equal(rc == 0 ? "ok" : docstore_error_name(rc), loads);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int parse_step_error(int rc) {
  return rc == DOCSTORE_EFORMAT || rc == DOCSTORE_EUNSUPPORTED ||
         rc == DOCSTORE_ETOOBIG;
}

static void run_vector(const cJSON *keys, const cJSON *v, size_t *by_result) {
  const char *name = cJSON_GetObjectItemCaseSensitive(v, "name")->valuestring;
  const char *want = cJSON_GetObjectItemCaseSensitive(v, "result")->valuestring;
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(v, "expect");
  docstore_doc_id doc = {NULL, NULL}, *expect = NULL;
  if (cJSON_IsObject(exp)) {
    doc.file_id = cJSON_GetObjectItemCaseSensitive(exp, "file_id")->valuestring;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(exp, "user_id");
    doc.user_id = cJSON_IsString(u) ? u->valuestring : NULL;
    expect = &doc;
  }
  size_t len;
  char *env = envelope_of(v, &len);
  docstore_keyring *kr = NULL;
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = load_keys(&kr, keys, v);
  if (rc == 0)
    rc = docstore_envelope_open(&out, &out_len, kr, env, len, expect);
  const char *got = rc == 0 ? "ok" : docstore_error_name(rc);
  if (strcmp(got, want) != 0)
    fail_msg("vector %s: got %s (%s), want %s", name, got,
             rc ? docstore_last_errmsg() : "", want);
  /* A version 2 envelope (FORMAT.md section 17); flag bit 0: compressed,
   * its size unknown. */
  int v2 = len >= 16 && memcmp(env,
                               "\x89"
                               "DSE\r\n\x1a\n",
                               8) == 0;
  int compressed = v2 && (env[11] & 1);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  int irc = docstore_envelope_info_get(&info, env, len);
  if (rc == 0) {
    size_t pt_len;
    uint8_t *pt =
        unhex(cJSON_GetObjectItemCaseSensitive(v, "plaintext_hex")->valuestring,
              &pt_len);
    assert_int_equal(out_len, pt_len);
    if (pt_len)
      assert_memory_equal(out, pt, pt_len);
    free(pt);
    assert_int_equal(irc, 0);
    if (compressed)
      assert_true(info.plaintext_size == UINT64_MAX);
    else
      assert_int_equal(info.plaintext_size, pt_len);
    if (v2) {
      assert_int_equal(info.format, DOCSTORE_ENVELOPE_V2);
      assert_int_equal(info.compressed, compressed);
      const cJSON *seg = cJSON_GetObjectItemCaseSensitive(v, "segment_size");
      if (cJSON_IsNumber(seg))
        assert_int_equal(info.segment_size, (unsigned)seg->valueint);
    }
    /* Rewrap under the first key: opens to the same bytes (a version 2
     * envelope stays version 2, FORMAT.md section 23). */
    char *re = NULL;
    size_t re_len = 0;
    assert_int_equal(docstore_envelope_rewrap(&re, &re_len, kr, env, len, NULL),
                     0);
    if (v2)
      assert_memory_equal(re, env, 8);
    uint8_t *again = NULL;
    size_t again_len = 0;
    assert_int_equal(
        docstore_envelope_open(&again, &again_len, kr, re, re_len, expect), 0);
    assert_int_equal(again_len, out_len);
    if (out_len)
      assert_memory_equal(again, out, out_len);
    docstore_free(again);
    docstore_free(re);
    by_result[0]++;
  } else if (parse_step_error(rc)) {
    /* Steps that need no key (v1: 1 to 5; v2: 1 to 3): info_get refuses
     * the same way. */
    if (irc != rc)
      fail_msg("vector %s: info_get gives %s, open %s", name,
               docstore_error_name(irc), got);
    by_result[1]++;
  } else {
    by_result[2]++;
  }
  docstore_envelope_info_clear(&info);
  docstore_free(out);
  docstore_keyring_free(kr);
  free(env);
}

static void run_file(const char *path, size_t minimum) {
  size_t len;
  char *text = read_all(path, &len);
  cJSON *root = cJSON_ParseWithLength(text, len);
  assert_non_null(root);
  assert_string_equal(
      cJSON_GetObjectItemCaseSensitive(root, "schema")->valuestring,
      "docstore-envelope-vectors");
  assert_int_equal(
      cJSON_GetObjectItemCaseSensitive(root, "schema_version")->valueint, 1);
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
  const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(root, "vectors");
  size_t by_result[3] = {0, 0, 0}, n = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, vectors) {
    const char *format =
        cJSON_GetObjectItemCaseSensitive(v, "format")->valuestring;
    /* This library reads v1, legacy and v2; a vector of any later version
     * is answered "unsupported" (FORMAT.md section 11): run it all the
     * same, expecting that. */
    if (strcmp(format, "v1") != 0 && strcmp(format, "legacy") != 0 &&
        strcmp(format, "v2") != 0) {
      cJSON *copy = cJSON_Duplicate(v, 1);
      cJSON_ReplaceItemInObjectCaseSensitive(
          copy, "result", cJSON_CreateString("DOCSTORE_EUNSUPPORTED"));
      run_vector(keys, copy, by_result);
      cJSON_Delete(copy);
    } else {
      run_vector(keys, v, by_result);
    }
    n++;
  }
  print_message("%s: %zu vectors: %zu open, %zu refused without a key, %zu "
                "refused later\n",
                strrchr(path, '/') + 1, n, by_result[0], by_result[1],
                by_result[2]);
  assert_true(n >= minimum);
  cJSON_Delete(root);
  free(text);
}

static void test_conformance_vectors(void **state) {
  (void)state;
  run_file(VECTORS, 200);
}

/* Envelope version 2 (FORMAT.md sections 17 to 28). */
static void test_conformance_vectors_v2(void **state) {
  (void)state;
  run_file(VECTORS_V2, 250);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conformance_vectors),
      cmocka_unit_test(test_conformance_vectors_v2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
