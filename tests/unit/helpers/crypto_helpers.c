/*
 * Test helpers for the crypto layer (see crypto_helpers.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto_helpers.h"

static char *pub_pem[TH_NKEYS];
static char *priv_pem[TH_NKEYS];
static char *kids[TH_NKEYS];

static void ensure_key(int i) {
  assert_true(i >= 0 && i < TH_NKEYS);
  if (pub_pem[i])
    return;
  assert_int_equal(docstore_keygen(&pub_pem[i], &priv_pem[i], 2048, NULL), 0);
  docstore_keyring *kr = NULL;
  assert_int_equal(docstore_keyring_new(&kr, NULL, 0), 0);
  assert_int_equal(docstore_keyring_add_public_pem(kr, &kids[i], pub_pem[i],
                                                   strlen(pub_pem[i])),
                   0);
  docstore_keyring_free(kr);
}

const char *th_public_pem(int i) {
  ensure_key(i);
  return pub_pem[i];
}

const char *th_private_pem(int i) {
  ensure_key(i);
  return priv_pem[i];
}

const char *th_kid(int i) {
  ensure_key(i);
  return kids[i];
}

void th_keys_free(void) {
  for (int i = 0; i < TH_NKEYS; i++) {
    docstore_free(pub_pem[i]);
    docstore_free(priv_pem[i]);
    docstore_free(kids[i]);
    pub_pem[i] = priv_pem[i] = kids[i] = NULL;
  }
}

int th_group_teardown(void **state) {
  (void)state;
  th_keys_free();
  return 0;
}

docstore_keyring *th_keyring(unsigned pub_mask, unsigned priv_mask) {
  docstore_keyring *kr = NULL;
  assert_int_equal(docstore_keyring_new(&kr, NULL, 0), 0);
  for (int i = 0; i < TH_NKEYS; i++) {
    if (pub_mask & (1u << i))
      assert_int_equal(
          docstore_keyring_add_public_pem(kr, NULL, th_public_pem(i),
                                          strlen(th_public_pem(i))),
          0);
    if (priv_mask & (1u << i))
      assert_int_equal(
          docstore_keyring_add_private_pem(kr, NULL, th_private_pem(i),
                                           strlen(th_private_pem(i)), NULL),
          0);
  }
  return kr;
}

char *th_json_set(const char *envelope, const char *name, const char *value) {
  cJSON *root = cJSON_Parse(envelope);
  assert_non_null(root);
  if (value) {
    cJSON *v = cJSON_Parse(value);
    assert_non_null(v);
    if (cJSON_GetObjectItemCaseSensitive(root, name))
      assert_true(cJSON_ReplaceItemInObjectCaseSensitive(root, name, v));
    else
      assert_true(cJSON_AddItemToObject(root, name, v));
  } else {
    cJSON_DeleteItemFromObjectCaseSensitive(root, name);
  }
  char *out = cJSON_PrintUnformatted(root);
  assert_non_null(out);
  cJSON_Delete(root);
  return out;
}

char *th_json_get_string(const char *envelope, const char *name) {
  cJSON *root = cJSON_Parse(envelope);
  assert_non_null(root);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
  char *s = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
  cJSON_Delete(root);
  return s;
}

uint8_t *th_random(size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  assert_non_null(p);
  if (n)
    assert_int_equal(RAND_bytes(p, (int)n), 1);
  return p;
}

char *th_b64(const uint8_t *data, size_t n) {
  char *s = malloc(4 * ((n + 2) / 3) + 1);
  assert_non_null(s);
  EVP_EncodeBlock((unsigned char *)s, data, (int)n);
  return s;
}

uint8_t *th_unb64(const char *s, size_t *n) {
  size_t len = strlen(s);
  uint8_t *p = malloc(len / 4 * 3 + 1);
  assert_non_null(p);
  int r = EVP_DecodeBlock(p, (const unsigned char *)s, (int)len);
  assert_true(r >= 0);
  size_t pad = 0;
  if (len >= 1 && s[len - 1] == '=')
    pad++;
  if (len >= 2 && s[len - 2] == '=')
    pad++;
  *n = (size_t)r - pad;
  return p;
}
