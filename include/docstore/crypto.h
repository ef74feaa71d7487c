/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * crypto.h: keys and hybrid envelope encryption (AES-256-GCM for the
 * document, RSA-OAEP-SHA256 for the per-document key).  This layer knows
 * nothing of storage.  The envelope format is specified in docs/FORMAT.md.
 */
#ifndef DOCSTORE_CRYPTO_H
#define DOCSTORE_CRYPTO_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A set of RSA keys: public keys to encrypt (seal) under, private keys to
 * decrypt (open) with, each identified by its key id
 * ("sha256:<hex of SHA-256 of the DER SubjectPublicKeyInfo>").
 *
 * Thread safety: loading keys (docstore_keyring_add_*, _set_*) must not run
 * concurrently with any other call on the same keyring; once loaded, a
 * keyring may be used by any number of threads at once.
 * Key material is wiped when the keyring is freed.
 */
typedef struct docstore_keyring docstore_keyring;

/** Smallest RSA modulus accepted, in bits. */
#define DOCSTORE_RSA_MIN_BITS 2048

/**
 * Create an empty keyring.
 * @param out     receives the keyring; free with docstore_keyring_free().
 * @param errbuf  optional buffer for a message on failure (may be NULL).
 * @return 0, DOCSTORE_EINVAL (out is NULL), DOCSTORE_ENOMEM.
 */
DOCSTORE_EXTERN int docstore_keyring_new(docstore_keyring **out, char *errbuf,
                                         size_t errbuf_len);

/** Free a keyring, wiping its keys.  NULL is a no-op. */
DOCSTORE_EXTERN void docstore_keyring_free(docstore_keyring *kr);

/**
 * Add a public key (PEM "PUBLIC KEY" or "RSA PUBLIC KEY") from memory.
 * The first public key added becomes the key new documents are sealed
 * under, until docstore_keyring_set_default() says otherwise.
 * @param key_id_out optional: receives the key id (library-owned string,
 *                   free with docstore_free()).
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_EKEY (not a PEM RSA public key, or
 *         smaller than DOCSTORE_RSA_MIN_BITS), DOCSTORE_ENOMEM.
 */
DOCSTORE_EXTERN int docstore_keyring_add_public_pem(docstore_keyring *kr,
                                                    const char *pem,
                                                    size_t pem_len,
                                                    char **key_id_out);

/** As docstore_keyring_add_public_pem(), reading a PEM file (at most
 *  1 MiB).  Extra errors: DOCSTORE_ENOTFOUND (no such file), DOCSTORE_EIO. */
DOCSTORE_EXTERN int docstore_keyring_add_public_file(docstore_keyring *kr,
                                                     const char *path,
                                                     char **key_id_out);

/**
 * Add a private key (PEM PKCS#8, encrypted PKCS#8 or traditional RSA, with
 * or without Proc-Type encryption) from memory.  Its public half is added
 * too (so it can also seal; if it is the first key added, it becomes the
 * default sealing key).  OpenSSL never prompts for a passphrase: a missing
 * or wrong one is DOCSTORE_EKEY, and the message never contains it.
 * @param passphrase NUL-terminated passphrase for an encrypted key, or NULL.
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_EKEY (unparsable, wrong passphrase,
 *         not RSA, too small), DOCSTORE_ENOMEM.
 */
DOCSTORE_EXTERN int docstore_keyring_add_private_pem(docstore_keyring *kr,
                                                     const char *pem,
                                                     size_t pem_len,
                                                     const char *passphrase,
                                                     char **key_id_out);

/** As docstore_keyring_add_private_pem(), reading a PEM file (at most
 *  1 MiB).  Extra errors: DOCSTORE_ENOTFOUND (no such file), DOCSTORE_EIO. */
DOCSTORE_EXTERN int docstore_keyring_add_private_file(docstore_keyring *kr,
                                                      const char *path,
                                                      const char *passphrase,
                                                      char **key_id_out);

/**
 * Choose the public key new envelopes are sealed under.
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_EKEY (no public key with that id).
 */
DOCSTORE_EXTERN int docstore_keyring_set_default(docstore_keyring *kr,
                                                 const char *key_id);

/** Number of public and private keys held (a private key counts in both,
 *  its public half being a public key).  NULL pointers are allowed. */
DOCSTORE_EXTERN void docstore_keyring_count(const docstore_keyring *kr,
                                            size_t *public_keys,
                                            size_t *private_keys);

/** Detail of the last failure on this keyring; never NULL. */
DOCSTORE_EXTERN const char *docstore_keyring_errmsg(const docstore_keyring *kr);

/**
 * Generate an RSA key pair as PEM strings (public: SubjectPublicKeyInfo;
 * private: PKCS#8, encrypted with AES-256-CBC when passphrase is not NULL).
 * @param bits        modulus size, >= DOCSTORE_RSA_MIN_BITS (0 means 3072).
 * @param public_pem  receives a library-owned string (docstore_free()).
 * @param private_pem receives a library-owned string (docstore_free()).
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_EKEY (bits too small),
 *         DOCSTORE_ECRYPTO, DOCSTORE_ENOMEM.  Thread-safe.
 */
DOCSTORE_EXTERN int docstore_keygen(char **public_pem, char **private_pem,
                                    unsigned int bits, const char *passphrase);

/**
 * The identity of a document, bound into its envelope (authenticated as
 * GCM additional data).  file_id and user_id are strings of 1 to 64
 * characters from [A-Za-z0-9_-]; user_id NULL means a system document.
 */
typedef struct docstore_doc_id {
  const char *file_id; /**< required when the struct is given */
  const char *user_id; /**< NULL for a system document */
} docstore_doc_id;

/**
 * Encrypt a document into an envelope (JSON text, UTF-8, NUL-terminated
 * too for convenience; *out_len excludes the NUL).
 * A fresh AES-256 key and 96-bit nonce are drawn for every call.
 * @param doc  optional identity to bind; NULL binds none.
 * @param out  receives a library-owned buffer (docstore_free()).
 * @return 0, DOCSTORE_EINVAL (NULL or invalid identity), DOCSTORE_EKEY (no
 *         public key), DOCSTORE_ETOOBIG (plaintext over 1 GiB in this
 *         in-memory format), DOCSTORE_ECRYPTO, DOCSTORE_ENOMEM.
 * Thread-safe on a loaded keyring; detail: docstore_keyring_errmsg() is not
 * written by this call, use docstore_last_errmsg().
 */
DOCSTORE_EXTERN int docstore_envelope_seal(char **out, size_t *out_len,
                                           const docstore_keyring *kr,
                                           const uint8_t *plaintext,
                                           size_t plaintext_len,
                                           const docstore_doc_id *doc);

/**
 * Decrypt an envelope (this library's format, or the legacy PyCryptodome
 * format {enc_session_key, nonce, tag, ciphertext}; detected
 * automatically).  No plaintext is released unless the tag verifies.
 * @param expect optional: the document the caller expects.  When given, a
 *        v1 envelope bound to another file_id/user_id, or bound to none, is
 *        refused with DOCSTORE_EINTEGRITY.  Legacy envelopes, and legacy
 *        envelopes converted by docstore_envelope_rewrap(), predate binding
 *        and are accepted; use docstore_envelope_info_get() (file_id NULL)
 *        to refuse them if you must.
 * @param out  receives the plaintext, library-owned (docstore_free() wipes
 *             it before freeing).  Empty documents give a valid 1-byte
 *             allocation and *out_len == 0.
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_EFORMAT (not an envelope: malformed
 *         JSON, missing/invalid fields, bad base64, bad lengths),
 *         DOCSTORE_EUNSUPPORTED (unknown format version or algorithm),
 *         DOCSTORE_EKEY (no private key with the envelope's key id),
 *         DOCSTORE_EINTEGRITY (tampered, wrong key, or wrong document),
 *         DOCSTORE_ETOOBIG (envelope over 1.5 GiB, document over 1 GiB),
 *         DOCSTORE_ECRYPTO, DOCSTORE_ENOMEM.  Thread-safe on a loaded keyring.
 *         Detail: docstore_last_errmsg().
 */
DOCSTORE_EXTERN int docstore_envelope_open(uint8_t **out, size_t *out_len,
                                           const docstore_keyring *kr,
                                           const char *envelope,
                                           size_t envelope_len,
                                           const docstore_doc_id *expect);

/**
 * Re-wrap an envelope's AES key under another public key of the keyring
 * (key rotation) without touching its ciphertext, nonce or tag.  Needs the
 * private key of the envelope's current key id.  The whole envelope is
 * authenticated first: a damaged one gives DOCSTORE_EINTEGRITY.  Legacy
 * envelopes are converted to the current format (their ciphertext, nonce
 * and tag are kept; the result, alg "AES-GCM-NOAAD", binds no identity:
 * docs/FORMAT.md section 8).
 * @param new_key_id public key to wrap under; NULL means the default key.
 * @param out  receives the new envelope JSON (docstore_free()).
 * @return as docstore_envelope_open().
 */
DOCSTORE_EXTERN int docstore_envelope_rewrap(char **out, size_t *out_len,
                                             const docstore_keyring *kr,
                                             const char *envelope,
                                             size_t envelope_len,
                                             const char *new_key_id);

/** Envelope formats docstore_envelope_info() can report. */
typedef enum docstore_envelope_format {
  DOCSTORE_ENVELOPE_V1 = 1,    /**< this library's JSON format, version 1 */
  DOCSTORE_ENVELOPE_LEGACY = 100 /**< PyCryptodome JSON, read-only */
} docstore_envelope_format;

#define DOCSTORE_ENVELOPE_INFO_VERSION 1

/**
 * What an envelope says about itself, without decrypting it.
 * Set `version` to DOCSTORE_ENVELOPE_INFO_VERSION before the call (or use
 * docstore_envelope_info_init()).  String fields point into buffers owned by
 * the info struct; release them with docstore_envelope_info_clear().
 */
typedef struct docstore_envelope_info {
  unsigned int version;
  int format;           /**< docstore_envelope_format */
  char *key_id;         /**< NULL for legacy envelopes */
  char *file_id;        /**< bound identity, NULL if none */
  char *user_id;        /**< NULL if none or system */
  uint64_t plaintext_size; /**< size of the document in bytes */
} docstore_envelope_info;

#define DOCSTORE_ENVELOPE_INFO_INIT {DOCSTORE_ENVELOPE_INFO_VERSION, 0, NULL, NULL, NULL, 0}

/** Initialise an info struct (for FFI callers that cannot use the macro). */
DOCSTORE_EXTERN int docstore_envelope_info_init(docstore_envelope_info *info,
                                                unsigned int version);

/**
 * Parse and validate an envelope's structure (all fields present, base64
 * valid, lengths right) without any key.  The string fields are
 * overwritten: call docstore_envelope_info_clear() before reusing an info
 * struct, or the previous strings leak.
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_EFORMAT, DOCSTORE_EUNSUPPORTED,
 *         DOCSTORE_ETOOBIG, DOCSTORE_ENOMEM.  Thread-safe.
 */
DOCSTORE_EXTERN int docstore_envelope_info_get(docstore_envelope_info *info,
                                               const char *envelope,
                                               size_t envelope_len);

/** Free the strings of an info struct and reset them to NULL. */
DOCSTORE_EXTERN void docstore_envelope_info_clear(docstore_envelope_info *info);

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_CRYPTO_H */
