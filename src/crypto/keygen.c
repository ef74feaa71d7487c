/*
 * libdocstore - RSA key pair generation.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <openssl/encoder.h>

#include "crypto_internal.h"

#define KEYGEN_DEFAULT_BITS 3072u
#define KEYGEN_PASSPHRASE_MAX 1024

/* PEM of pkey as a library-owned string.  selection: EVP_PKEY_PUBLIC_KEY
 * (SubjectPublicKeyInfo) or EVP_PKEY_KEYPAIR (PKCS#8, AES-256-CBC when a
 * passphrase is given; the passphrase is handed over explicitly, so
 * OpenSSL never needs to prompt). */
static int encode_pem(char **out, EVP_PKEY *pkey, int selection,
                      const char *passphrase) {
  unsigned char *data = NULL;
  size_t len = 0;
  int rc = 0;
  OSSL_ENCODER_CTX *ctx = OSSL_ENCODER_CTX_new_for_pkey(
      pkey, selection, "PEM",
      selection == EVP_PKEY_PUBLIC_KEY ? "SubjectPublicKeyInfo"
                                       : "PrivateKeyInfo",
      NULL);
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx) == 0 ||
      (passphrase &&
       (!OSSL_ENCODER_CTX_set_cipher(ctx, "AES-256-CBC", NULL) ||
        !OSSL_ENCODER_CTX_set_passphrase(ctx, (const unsigned char *)passphrase,
                                         strlen(passphrase)))) ||
      !OSSL_ENCODER_to_data(ctx, &data, &len)) {
    rc = docstore__ossl_err(NULL, DOCSTORE_ECRYPTO,
                            selection == EVP_PKEY_PUBLIC_KEY
                                ? "cannot write the public key PEM"
                                : "cannot write the private key PEM");
  } else if (!(*out = docstore__strndup((const char *)data, len))) {
    rc = docstore__err_set(NULL, DOCSTORE_ENOMEM, "out of memory");
  }
  OPENSSL_clear_free(data, len);
  OSSL_ENCODER_CTX_free(ctx);
  return rc;
}

int docstore_keygen(char **public_pem, char **private_pem, unsigned int bits,
                    const char *passphrase) {
  char *pub = NULL, *priv = NULL;
  int rc;

  if (public_pem)
    *public_pem = NULL;
  if (private_pem)
    *private_pem = NULL;
  if (!public_pem || !private_pem)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_keygen: NULL output pointer");
  if (bits == 0)
    bits = KEYGEN_DEFAULT_BITS;
  if (bits < DOCSTORE_RSA_MIN_BITS || bits > DOCSTORE__RSA_MAX_BITS)
    return docstore__err_set(NULL, DOCSTORE_EKEY,
                             "RSA key size %u refused: between %d and %d "
                             "bits are accepted",
                             bits, DOCSTORE_RSA_MIN_BITS,
                             DOCSTORE__RSA_MAX_BITS);
  if (passphrase && passphrase[0] == '\0')
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "empty passphrase: pass NULL for an unencrypted "
                             "private key");
  if (passphrase && strlen(passphrase) > KEYGEN_PASSPHRASE_MAX)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "passphrase longer than %d bytes",
                             KEYGEN_PASSPHRASE_MAX);

  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
  if (!pkey)
    return docstore__ossl_err(NULL, DOCSTORE_ECRYPTO,
                              "RSA key generation failed");
  rc = encode_pem(&pub, pkey, EVP_PKEY_PUBLIC_KEY, NULL);
  if (rc == 0)
    rc = encode_pem(&priv, pkey, EVP_PKEY_KEYPAIR, passphrase);
  EVP_PKEY_free(pkey); /* clears the private components */
  if (rc < 0) {
    docstore_free(pub);
    docstore_free(priv);
    return rc;
  }
  *public_pem = pub;
  *private_pem = priv;
  return 0;
}
