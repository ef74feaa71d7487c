/*
 * libdocstore - RSA-OAEP wrapping of per-document AES keys.
 * SPDX-License-Identifier: Apache-2.0
 *
 * One EVP_PKEY_CTX per call, so a loaded keyring's EVP_PKEYs are shared by
 * any number of threads.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "crypto_internal.h"

/* A context for OAEP with `digest` for both the label hash and MGF1, and
 * the empty label (OpenSSL's default). */
static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *pkey, const char *digest, int decrypt) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  if (!ctx)
    return NULL;
  if ((decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx)) <=
          0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, digest, NULL) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, digest, NULL) <= 0) {
    EVP_PKEY_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

int docstore__oaep_wrap(uint8_t *out, size_t *out_len, EVP_PKEY *pkey,
                        const char *digest, const uint8_t *key, size_t key_len,
                        docstore__err *err) {
  EVP_PKEY_CTX *ctx = oaep_ctx(pkey, digest, 0);
  if (!ctx)
    return docstore__ossl_err(err, DOCSTORE_ECRYPTO,
                              "cannot set up RSA-OAEP encryption");
  size_t n = (size_t)EVP_PKEY_get_size(pkey);
  int rc = 0;
  if (EVP_PKEY_encrypt(ctx, out, &n, key, key_len) <= 0)
    rc = docstore__ossl_err(err, DOCSTORE_ECRYPTO,
                            "RSA-OAEP key wrapping failed");
  *out_len = rc < 0 ? 0 : n;
  EVP_PKEY_CTX_free(ctx);
  return rc;
}

/* One decryption with `pkey`; 1 when the padding verified. */
static int oaep_decrypt(uint8_t *out, size_t *out_len, EVP_PKEY *pkey,
                        const char *digest, const uint8_t *in, size_t in_len) {
  EVP_PKEY_CTX *ctx = oaep_ctx(pkey, digest, 1);
  int ok = ctx && EVP_PKEY_decrypt(ctx, out, out_len, in, in_len) > 0;
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

int docstore__oaep_unwrap(uint8_t out[DOCSTORE__AES_KEY_MAX], size_t *out_len,
                          EVP_PKEY *pkey, const char *digest, const uint8_t *in,
                          size_t in_len, docstore__err *err) {
  /* OpenSSL writes up to the modulus size: decrypt into a scratch buffer
   * and copy out only a payload that can be an AES key. */
  uint8_t tmp[DOCSTORE__RSA_MAX_BYTES];
  size_t n = sizeof(tmp);
  int rc = 0;
  *out_len = 0;
  if (in_len != (size_t)EVP_PKEY_get_size(pkey))
    return DOCSTORE_EINTEGRITY;
  /* OpenSSL keeps RSA blinding values in the key itself, created lazily and
   * renewed every 32 uses.  An allocation failure while renewing them (in
   * BN_BLINDING_create_param, OpenSSL 3.0) leaves the blinding factor and
   * its inverse inconsistent: every later decryption with that key gives a
   * wrong result, so a valid envelope fails as tampered, until the next
   * renewal.  It cannot be repaired through the EVP API, so a failed
   * decryption (whatever the reason, as a tampered key would: no padding
   * oracle) is done once more with a copy of the key, whose blinding is
   * new.  Only that second answer counts; the shared key is left as it is
   * (other threads may use it) and heals at its next renewal. */
  int ok = oaep_decrypt(tmp, &n, pkey, digest, in, in_len);
  if (!ok) {
    EVP_PKEY *copy = EVP_PKEY_dup(pkey);
    if (!copy)
      return docstore__ossl_err(err, DOCSTORE_ECRYPTO,
                                "cannot set up RSA-OAEP decryption");
    n = sizeof(tmp);
    ok = oaep_decrypt(tmp, &n, copy, digest, in, in_len);
    EVP_PKEY_free(copy);
  }
  if (!ok || (n != 16 && n != 24 && n != 32)) {
    /* Wrong key or tampered wrapped key: not an internal failure. */
    rc = DOCSTORE_EINTEGRITY;
  } else {
    memcpy(out, tmp, n);
    *out_len = n;
  }
  docstore__wipe(tmp, sizeof(tmp));
  return rc;
}
