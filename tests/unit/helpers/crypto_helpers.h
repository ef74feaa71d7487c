/*
 * Test helpers for the crypto layer: RSA key pairs generated once per test
 * program (never committed), keyrings built from them, and JSON surgery on
 * envelopes for the negative tests.
 */
#ifndef DOCSTORE_TEST_CRYPTO_HELPERS_H
#define DOCSTORE_TEST_CRYPTO_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "docstore/crypto.h"

#define TH_NKEYS 3

/* PEM of test key pair i (0 <= i < TH_NKEYS), 2048 bits, generated with
 * docstore_keygen() on first use and kept for the whole program. */
const char *th_public_pem(int i);
const char *th_private_pem(int i);
/* Key id of test key i. */
const char *th_kid(int i);
/* Release the cached keys (call from the last group teardown). */
void th_keys_free(void);
/* A cmocka group teardown that calls th_keys_free(). */
int th_group_teardown(void **state);

/* A keyring holding the public keys of the bits set in pub_mask and the
 * private keys of the bits set in priv_mask, added in index order. */
docstore_keyring *th_keyring(unsigned pub_mask, unsigned priv_mask);

/* A copy of envelope (malloc) with member `name` set to the raw JSON text
 * `value`, or removed when value is NULL. */
char *th_json_set(const char *envelope, const char *name, const char *value);
/* A copy of the string member `name` (malloc), or NULL. */
char *th_json_get_string(const char *envelope, const char *name);

/* n pseudo-random bytes (malloc, at least 1 byte allocated). */
uint8_t *th_random(size_t n);

/* Base64 helpers built on OpenSSL for the tests (malloc). */
char *th_b64(const uint8_t *data, size_t n);
uint8_t *th_unb64(const char *s, size_t *n);

#endif
