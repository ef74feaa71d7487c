/*
 * libdocstore - keyring: RSA public keys to seal under, private keys to
 * open with, each known by its key id.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Keys are decoded with OSSL_DECODER.  A passphrase callback is always
 * installed, so OpenSSL never falls back to prompting on a terminal: it
 * hands over the caller's passphrase or fails.  Private key material lives
 * only inside EVP_PKEY objects (OpenSSL clears the RSA private components
 * when they are freed) and in PEM buffers we wipe.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "crypto_internal.h"
#include "util/file.h"
#include "util/hex.h"

/* ------------------------------------------------------------- helpers */

int docstore__ossl_err(docstore__err *err, int code, const char *what) {
  unsigned long e = ERR_peek_last_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  /* OpenSSL ran out of memory: say so, rather than that the crypto failed. */
  for (unsigned long q; (q = ERR_get_error()) != 0;)
    if (ERR_GET_REASON(q) == ERR_R_MALLOC_FAILURE)
      code = DOCSTORE_ENOMEM;
  if (reason)
    docstore__err_set(err, code, "%s (%s)", what, reason);
  else
    docstore__err_set(err, code, "%s", what);
  ERR_clear_error();
  return code;
}

int docstore__kid_compute(char out[DOCSTORE__KID_LEN + 1],
                          const EVP_PKEY *pkey) {
  unsigned char *der = NULL;
  unsigned char md[32];
  unsigned int md_len = 0;
  int rc = DOCSTORE_ECRYPTO;

  out[0] = '\0';
  int der_len = i2d_PUBKEY(pkey, &der);
  if (der_len <= 0)
    goto done;
  if (!EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL) ||
      md_len != sizeof(md))
    goto done;
  memcpy(out, DOCSTORE__KID_PREFIX, 7);
  docstore__hex_encode(out + 7, md, sizeof(md));
  rc = 0;
done:
  OPENSSL_free(der);
  if (rc < 0)
    ERR_clear_error();
  return rc;
}

/* ------------------------------------------------------------- lifecycle */

int docstore_keyring_new(docstore_keyring **out, char *errbuf,
                         size_t errbuf_len) {
  docstore__err e = {0, ""};
  if (!out) {
    docstore__err_set(&e, DOCSTORE_EINVAL, "docstore_keyring_new: out is NULL");
    docstore__err_to_buf(&e, errbuf, errbuf_len);
    return e.code;
  }
  *out = NULL;
  docstore_keyring *kr = docstore__alloc(sizeof(*kr));
  if (!kr) {
    docstore__err_set(&e, DOCSTORE_ENOMEM, "out of memory creating a keyring");
    docstore__err_to_buf(&e, errbuf, errbuf_len);
    return e.code;
  }
  docstore__handle_err_init(&kr->err);
  *out = kr;
  return 0;
}

void docstore_keyring_free(docstore_keyring *kr) {
  if (!kr)
    return;
  for (size_t i = 0; i < kr->nkeys; i++)
    EVP_PKEY_free(kr->keys[i].pkey);
  docstore_free(kr->keys);
  docstore__handle_err_destroy(&kr->err);
  docstore_free(kr);
}

const char *docstore_keyring_errmsg(const docstore_keyring *kr) {
  if (!kr)
    return "keyring is NULL";
  return docstore__handle_err_get(&kr->err);
}

void docstore_keyring_count(const docstore_keyring *kr, size_t *public_keys,
                            size_t *private_keys) {
  size_t pub = 0, priv = 0;
  if (kr) {
    pub = kr->nkeys;
    for (size_t i = 0; i < kr->nkeys; i++)
      priv += kr->keys[i].has_private != 0;
  }
  if (public_keys)
    *public_keys = pub;
  if (private_keys)
    *private_keys = priv;
}

const docstore__key *docstore__keyring_find(const docstore_keyring *kr,
                                            const char *kid) {
  if (!kr || !kid)
    return NULL;
  for (size_t i = 0; i < kr->nkeys; i++)
    if (strcmp(kr->keys[i].kid, kid) == 0)
      return &kr->keys[i];
  return NULL;
}

const docstore__key *docstore__keyring_default(const docstore_keyring *kr) {
  if (!kr || kr->nkeys == 0)
    return NULL;
  return &kr->keys[kr->default_idx];
}

int docstore_keyring_set_default(docstore_keyring *kr, const char *key_id) {
  docstore__err e = {0, ""};
  if (!kr)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "keyring is NULL");
  if (!key_id) {
    docstore__err_set(&e, DOCSTORE_EINVAL, "key id is NULL");
    return docstore__handle_err_store(&kr->err, &e);
  }
  const docstore__key *k = docstore__keyring_find(kr, key_id);
  if (!k) {
    docstore__err_set(&e, DOCSTORE_EKEY, "no key with id %.80s in the keyring",
                      key_id);
    return docstore__handle_err_store(&kr->err, &e);
  }
  kr->default_idx = (size_t)(k - kr->keys);
  return 0;
}

/* ------------------------------------------------------------- adding */

/* Check that pkey is an RSA key of an accepted size. */
static int check_rsa(const EVP_PKEY *pkey, docstore__err *e) {
  if (!EVP_PKEY_is_a(pkey, "RSA"))
    return docstore__err_set(
        e, DOCSTORE_EKEY, "not an RSA key (%s); RSA-OAEP needs an RSA key",
        EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey)
                                      : "unknown type");
  int bits = EVP_PKEY_get_bits(pkey);
  if (bits < DOCSTORE_RSA_MIN_BITS)
    return docstore__err_set(e, DOCSTORE_EKEY,
                             "RSA key of %d bits refused: at least %d bits "
                             "are required",
                             bits, DOCSTORE_RSA_MIN_BITS);
  if (bits > DOCSTORE__RSA_MAX_BITS)
    return docstore__err_set(e, DOCSTORE_EKEY,
                             "RSA key of %d bits refused: at most %d bits "
                             "are supported",
                             bits, DOCSTORE__RSA_MAX_BITS);
  return 0;
}

/* Take ownership of pkey and add it (or attach its private half to an
 * entry holding the same public key). */
static int keyring_insert(docstore_keyring *kr, EVP_PKEY *pkey, int has_private,
                          char **key_id_out, docstore__err *e) {
  char kid[DOCSTORE__KID_LEN + 1];
  int rc = docstore__kid_compute(kid, pkey);
  if (rc < 0) {
    EVP_PKEY_free(pkey);
    return docstore__err_set(e, rc, "cannot compute the key id");
  }
  char *kid_copy = NULL;
  if (key_id_out && !(kid_copy = docstore__strdup(kid))) {
    EVP_PKEY_free(pkey);
    return docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
  }

  docstore__key *existing = (docstore__key *)docstore__keyring_find(kr, kid);
  if (existing) {
    if (has_private && !existing->has_private) {
      EVP_PKEY_free(existing->pkey);
      existing->pkey = pkey;
      existing->has_private = 1;
    } else {
      EVP_PKEY_free(pkey);
    }
  } else {
    if (kr->nkeys == kr->cap) {
      size_t cap = kr->cap ? kr->cap * 2 : 4;
      docstore__key *keys =
          cap > SIZE_MAX / sizeof(*keys)
              ? NULL
              : docstore__realloc(kr->keys, cap * sizeof(*keys));
      if (!keys) {
        EVP_PKEY_free(pkey);
        docstore_free(kid_copy);
        return docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
      }
      kr->keys = keys;
      kr->cap = cap;
    }
    docstore__key *k = &kr->keys[kr->nkeys];
    k->pkey = pkey;
    k->has_private = has_private;
    memcpy(k->kid, kid, sizeof(kid));
    if (kr->nkeys == 0)
      kr->default_idx = 0;
    kr->nkeys++;
  }
  if (key_id_out)
    *key_id_out = kid_copy;
  return 0;
}

/* Passphrase callback state: the caller's passphrase and whether OpenSSL
 * asked for one (to tell "missing" and "wrong" apart). */
typedef struct pass_ctx {
  const char *passphrase;
  int asked;
} pass_ctx;

static int pass_cb(char *buf, int size, int rwflag, void *u) {
  pass_ctx *pc = u;
  (void)rwflag;
  if (!pc)
    return -1;
  pc->asked = 1;
  if (!pc->passphrase || size <= 0)
    return -1;
  size_t n = strlen(pc->passphrase);
  if (n > (size_t)size)
    return -1;
  memcpy(buf, pc->passphrase, n);
  return (int)n;
}

/* Decode one PEM key.  selection: EVP_PKEY_PUBLIC_KEY or EVP_PKEY_KEYPAIR.
 * Sets *asked when a passphrase was requested. */
static EVP_PKEY *pem_decode(const char *pem, size_t pem_len, int selection,
                            pass_ctx *pc) {
  EVP_PKEY *pkey = NULL;
  const unsigned char *data = (const unsigned char *)pem;
  size_t len = pem_len;
  OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
      &pkey, "PEM", NULL, NULL, selection, NULL, NULL);
  if (!dctx)
    return NULL;
  if (!OSSL_DECODER_CTX_set_pem_password_cb(dctx, pass_cb, pc) ||
      !OSSL_DECODER_from_data(dctx, &data, &len)) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
  OSSL_DECODER_CTX_free(dctx);
  return pkey;
}

static int has_private_exponent(const EVP_PKEY *pkey) {
  BIGNUM *d = NULL;
  int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) && d &&
           !BN_is_zero(d);
  BN_clear_free(d);
  ERR_clear_error();
  return ok;
}

static int add_pem(docstore_keyring *kr, const char *pem, size_t pem_len,
                   int private_key, const char *passphrase, char **key_id_out,
                   docstore__err *e) {
  const char *what = private_key ? "private" : "public";
  pass_ctx pc = {private_key ? passphrase : NULL, 0};
  if (pem_len > DOCSTORE__KEYFILE_MAX)
    return docstore__err_set(e, DOCSTORE_EKEY,
                             "%s key PEM too large (%zu bytes)", what, pem_len);
  EVP_PKEY *pkey = pem_decode(
      pem, pem_len, private_key ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, &pc);
  if (!pkey) {
    ERR_clear_error();
    if (private_key && pc.asked && !passphrase)
      return docstore__err_set(e, DOCSTORE_EKEY,
                               "the private key is encrypted and no "
                               "passphrase was given");
    if (private_key && pc.asked)
      return docstore__err_set(e, DOCSTORE_EKEY,
                               "cannot decrypt the private key: wrong "
                               "passphrase, or the key is corrupt");
    return docstore__err_set(
        e, DOCSTORE_EKEY, "not a PEM RSA %s key (expected %s)", what,
        private_key ? "PRIVATE KEY, ENCRYPTED PRIVATE KEY or "
                      "RSA PRIVATE KEY"
                    : "PUBLIC KEY or RSA PUBLIC KEY");
  }
  int rc = check_rsa(pkey, e);
  if (rc == 0 && private_key && !has_private_exponent(pkey))
    rc = docstore__err_set(e, DOCSTORE_EKEY,
                           "the PEM holds a public key, not a private key");
  if (rc < 0) {
    EVP_PKEY_free(pkey);
    return rc;
  }
  return keyring_insert(kr, pkey, private_key, key_id_out, e);
}

/* Read a whole key file into library memory (wiped when freed).  A pipe
 * is accepted too (a key given as <(command) or /dev/stdin). */
static int read_key_file(char **out, size_t *out_len, const char *path,
                         docstore__err *e) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc = docstore__file_read(&b, path, DOCSTORE__KEYFILE_MAX,
                               DOCSTORE__FILE_STREAMS, "key file", e);
  if (rc == DOCSTORE_ETOOBIG)
    rc = docstore__err_set(e, DOCSTORE_EKEY,
                           "key file %.300s is too large for a PEM key", path);
  if (rc < 0) {
    docstore__buf_free(&b);
    return rc;
  }
  *out = (char *)docstore__buf_detach(&b, out_len);
  return 0;
}

/* The four public add functions: from memory (pem) or from a file (path,
 * pem NULL). */
static int add_api(docstore_keyring *kr, const char *pem, size_t pem_len,
                   const char *path, int private_key, const char *passphrase,
                   char **key_id_out) {
  docstore__err e = {0, ""};
  char *file = NULL;
  int rc = 0;
  if (key_id_out)
    *key_id_out = NULL;
  if (!kr)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "keyring is NULL");
  if (!pem && !path) {
    docstore__err_set(&e, DOCSTORE_EINVAL, "PEM text or key file path is NULL");
    return docstore__handle_err_store(&kr->err, &e);
  }
  if (path) {
    rc = read_key_file(&file, &pem_len, path, &e);
    pem = file;
  }
  if (rc == 0) {
    rc = add_pem(kr, pem, pem_len, private_key, passphrase, key_id_out, &e);
    if (rc < 0 && path)
      docstore__err_prefix(&e, "%.300s", path);
  }
  docstore_free(file); /* wipes */
  return rc < 0 ? docstore__handle_err_store(&kr->err, &e) : 0;
}

int docstore_keyring_add_public_pem(docstore_keyring *kr, char **key_id_out,
                                    const char *pem, size_t pem_len) {
  return add_api(kr, pem, pem_len, NULL, 0, NULL, key_id_out);
}

int docstore_keyring_add_private_pem(docstore_keyring *kr, char **key_id_out,
                                     const char *pem, size_t pem_len,
                                     const char *passphrase) {
  return add_api(kr, pem, pem_len, NULL, 1, passphrase, key_id_out);
}

int docstore_keyring_add_public_file(docstore_keyring *kr, char **key_id_out,
                                     const char *path) {
  return add_api(kr, NULL, 0, path, 0, NULL, key_id_out);
}

int docstore_keyring_add_private_file(docstore_keyring *kr, char **key_id_out,
                                      const char *path,
                                      const char *passphrase) {
  return add_api(kr, NULL, 0, path, 1, passphrase, key_id_out);
}
