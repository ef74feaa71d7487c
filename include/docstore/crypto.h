/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/crypto.h
 * @brief Keys and hybrid envelope encryption (AES-256-GCM for the
 * document, RSA-OAEP-SHA256 for the per-document key), whole-buffer and
 * streaming (envelope v2).
 *
 * This layer knows nothing of storage.  The envelope format is specified
 * in docs/FORMAT.md.
 */
#ifndef DOCSTORE_CRYPTO_H
#define DOCSTORE_CRYPTO_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup crypto Crypto: keyrings and envelopes
 * @brief RSA keys by key id, key generation, and sealing, opening and
 * re-wrapping of document envelopes.
 *
 * The envelope functions have no handle: their error detail is in the
 * calling thread's docstore_last_errmsg().
 * @{
 */

/**
 * A set of RSA keys: public keys to encrypt (seal) under, private keys to
 * decrypt (open) with, each identified by its key id
 * ("sha256:<hex of SHA-256 of the DER SubjectPublicKeyInfo>").
 *
 * Thread safety: loading keys (docstore_keyring_add_*(),
 * docstore_keyring_set_default()) must not run concurrently with any other
 * call on the same keyring; once loaded, a keyring may be used by any
 * number of threads at once.  Key material is wiped when the keyring is
 * freed.  Opaque.
 * @since 0.1.0
 */
typedef struct docstore_keyring docstore_keyring;

/**
 * Smallest RSA modulus accepted, in bits (the largest is 16384).
 * @since 0.1.0
 */
#define DOCSTORE_RSA_MIN_BITS 2048

/**
 * Create an empty keyring.  Thread-safe.
 * @param out        receives the keyring (NULL on failure); free it with
 *                   docstore_keyring_free().
 * @param errbuf     optional buffer for a message on failure (may be NULL).
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (out is NULL), #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_keyring_new(docstore_keyring **out, char *errbuf,
                                         size_t errbuf_len);

/**
 * Free a keyring, wiping its keys.  Not while another thread uses it.
 * @param kr the keyring, or NULL (no-op).  Do not free a keyring that a
 *           service owns.
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_keyring_free(docstore_keyring *kr);

/**
 * Add a public key (PEM "PUBLIC KEY" or "RSA PUBLIC KEY") from memory.
 * The first key added (public or private) becomes the key new documents
 * are sealed under, until docstore_keyring_set_default() says otherwise.
 * Adding a key the keyring already holds is not an error.
 * @param kr         the keyring.
 * @param key_id_out optional (may be NULL): receives the key id, a
 *                   library-owned string (docstore_free()); NULL on failure.
 * @param pem        the PEM text (need not be NUL-terminated; at most
 *                   1 MiB).
 * @param pem_len    length of pem in bytes.
 * @return 0, #DOCSTORE_EINVAL (kr or pem NULL), #DOCSTORE_EKEY (not a PEM
 *         RSA public key, over 1 MiB, smaller than #DOCSTORE_RSA_MIN_BITS
 *         or larger than 16384 bits), #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM.
 *         Detail: docstore_keyring_errmsg() (docstore_last_errmsg() when kr
 *         is NULL).
 * @since 0.1.0; 0.2.0 takes key_id_out second (it came last)
 */
DOCSTORE_EXTERN int docstore_keyring_add_public_pem(docstore_keyring *kr,
                                                    char **key_id_out,
                                                    const char *pem,
                                                    size_t pem_len);

/**
 * As docstore_keyring_add_public_pem(), reading the PEM from a file.  The
 * file's contents are wiped from memory after use.
 * @param kr         the keyring.
 * @param key_id_out as in docstore_keyring_add_public_pem().
 * @param path       the file (NUL-terminated path).
 * @return as docstore_keyring_add_public_pem() (EINVAL when path is NULL,
 *         EKEY for a file over 1 MiB), plus #DOCSTORE_ENOTFOUND (no such
 *         file), #DOCSTORE_EACCESS (permission denied), #DOCSTORE_EINVAL
 *         (a folder or a device; a pipe is read) and #DOCSTORE_EIO (cannot
 *         read it).  The message
 *         starts with the path.
 * @since 0.1.0; 0.2.0 takes key_id_out second (it came last)
 */
DOCSTORE_EXTERN int docstore_keyring_add_public_file(docstore_keyring *kr,
                                                     char **key_id_out,
                                                     const char *path);

/**
 * Add a private key (PEM PKCS#8, encrypted PKCS#8 or traditional RSA, with
 * or without Proc-Type encryption) from memory.  Its public half is added
 * too, so it can also seal (if it is the first key added, it becomes the
 * default sealing key); a public key already held gains its private half.
 * OpenSSL never prompts for a passphrase: a missing or wrong one is
 * #DOCSTORE_EKEY, and no message ever contains it.
 * @param kr         the keyring.
 * @param key_id_out optional (may be NULL): receives the key id
 *                   (docstore_free()); NULL on failure.
 * @param pem        the PEM text (need not be NUL-terminated; at most
 *                   1 MiB).
 * @param pem_len    length of pem in bytes.
 * @param passphrase NUL-terminated passphrase of an encrypted key, or NULL;
 *                   ignored for an unencrypted key.  Not kept.
 * @return 0, #DOCSTORE_EINVAL (kr or pem NULL), #DOCSTORE_EKEY
 *         (unparsable, encrypted without passphrase, wrong passphrase, a
 *         public key only, not RSA, too small or too large, over 1 MiB),
 *         #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM.  Detail:
 *         docstore_keyring_errmsg().
 * @since 0.1.0; 0.2.0 takes key_id_out second (it came last)
 */
DOCSTORE_EXTERN int docstore_keyring_add_private_pem(docstore_keyring *kr,
                                                     char **key_id_out,
                                                     const char *pem,
                                                     size_t pem_len,
                                                     const char *passphrase);

/**
 * As docstore_keyring_add_private_pem(), reading the PEM from a file.  The
 * file's contents are wiped from memory after use.
 * @param kr         the keyring.
 * @param key_id_out as in docstore_keyring_add_private_pem().
 * @param path       the file (NUL-terminated path).
 * @param passphrase as in docstore_keyring_add_private_pem().
 * @return as docstore_keyring_add_private_pem() (EINVAL when path is NULL),
 *         plus #DOCSTORE_ENOTFOUND (no such file), #DOCSTORE_EACCESS
 *         (permission denied), #DOCSTORE_EINVAL (a folder or a device; a
 *         pipe is read) and #DOCSTORE_EIO (cannot read it).  The message
 *         starts with the path.
 * @since 0.1.0; 0.2.0 takes key_id_out second (it came last)
 */
DOCSTORE_EXTERN int docstore_keyring_add_private_file(docstore_keyring *kr,
                                                      char **key_id_out,
                                                      const char *path,
                                                      const char *passphrase);

/**
 * Choose the public key new envelopes are sealed under.
 * @param kr     the keyring.
 * @param key_id a key id the keyring holds (NUL-terminated).
 * @return 0, #DOCSTORE_EINVAL (kr or key_id NULL), #DOCSTORE_EKEY (no key
 *         with that id).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_keyring_set_default(docstore_keyring *kr,
                                                 const char *key_id);

/**
 * Number of keys held.  Thread-safe on a loaded keyring.
 * @param kr           the keyring; NULL counts as empty.
 * @param public_keys  optional: receives the number of public keys (every
 *                     key, a private key's public half included).
 * @param private_keys optional: receives the number of private keys.
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_keyring_count(const docstore_keyring *kr,
                                            size_t *public_keys,
                                            size_t *private_keys);

/**
 * Detail of the last failure on this keyring.  Thread-safe.
 * @param kr the keyring; NULL gives "keyring is NULL".
 * @return "" when none; never NULL.  The string is a copy for the calling
 *         thread, valid until this thread calls any *_errmsg() function
 *         of the library again.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_keyring_errmsg(const docstore_keyring *kr);

/**
 * Generate an RSA key pair as PEM strings (public: SubjectPublicKeyInfo;
 * private: PKCS#8, encrypted with AES-256-CBC when passphrase is not
 * NULL).  Thread-safe.
 * @param public_pem  receives a library-owned string (docstore_free());
 *                    NULL on failure.
 * @param private_pem receives a library-owned string (docstore_free(),
 *                    which wipes it); NULL on failure.
 * @param bits        modulus size, 2048 to 16384; 0 means 3072.
 * @param passphrase  NUL-terminated, 1 to 1024 bytes, or NULL for an
 *                    unencrypted private key.
 * @return 0, #DOCSTORE_EINVAL (NULL output, empty or over-long
 *         passphrase), #DOCSTORE_EKEY (bits out of range),
 *         #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_keygen(char **public_pem, char **private_pem,
                                    unsigned int bits, const char *passphrase);

/**
 * The identity of a document, bound into its envelope (authenticated as
 * GCM additional data).  file_id and user_id are strings of 1 to 64
 * characters from [A-Za-z0-9_-].  Both are borrowed for the call.
 * @since 0.1.0
 */
typedef struct docstore_doc_id {
  const char *file_id; /**< required when the struct is given */
  const char *user_id; /**< NULL for a system document */
} docstore_doc_id;

/**
 * Encrypt a document into an envelope: JSON text, UTF-8, also
 * NUL-terminated for convenience.  A fresh AES-256 key and 96-bit nonce
 * are drawn for every call.  Thread-safe on a loaded keyring.
 * @param out           receives the envelope, library-owned
 *                      (docstore_free()); NULL on failure.
 * @param out_len       optional: receives its length, NUL excluded.
 * @param kr            the keyring; its default public key is used.
 * @param plaintext     the document; may be NULL when plaintext_len is 0.
 * @param plaintext_len its length, at most 1 GiB.
 * @param doc           optional identity to bind; NULL binds none.
 * @return 0, #DOCSTORE_EINVAL (out or kr NULL, plaintext NULL with a
 *         length, invalid identity), #DOCSTORE_EKEY (the keyring has no
 *         key), #DOCSTORE_ETOOBIG (plaintext over 1 GiB),
 *         #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg() (docstore_keyring_errmsg() is not
 *         written).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_envelope_seal(char **out, size_t *out_len,
                                           const docstore_keyring *kr,
                                           const uint8_t *plaintext,
                                           size_t plaintext_len,
                                           const docstore_doc_id *doc);

/**
 * Decrypt an envelope: this library's formats (v1 JSON, v2 binary), or the
 * legacy PyCryptodome format {enc_session_key, nonce, tag, ciphertext}
 * (detected automatically; every private key of the right size is tried
 * on a legacy envelope).  No plaintext is released unless the whole
 * envelope verifies.  A v2 envelope is bound like a v1 one; the streaming
 * form of this call is docstore_opener_new().
 * Thread-safe on a loaded keyring.
 * @param out          receives the plaintext, library-owned
 *                     (docstore_free() wipes it before freeing); an empty
 *                     document gives a valid 1-byte allocation and
 *                     *out_len == 0.  NULL on failure.
 * @param out_len      receives the plaintext length (required).
 * @param kr           the keyring holding the private key.
 * @param envelope     the envelope text (need not be NUL-terminated).
 * @param envelope_len its length, at most 1.5 GiB.
 * @param expect       optional: the document the caller expects.  When
 *                     given, a v1 envelope bound to another
 *                     file_id/user_id, or bound to none, is refused with
 *                     #DOCSTORE_EINTEGRITY.  Legacy envelopes, and legacy
 *                     envelopes converted by docstore_envelope_rewrap(),
 *                     predate binding and are accepted; use
 *                     docstore_envelope_info_get() (file_id NULL) to refuse
 *                     them if you must.
 * @return 0; #DOCSTORE_EINVAL (a NULL argument, invalid expect);
 *         #DOCSTORE_EFORMAT (not an envelope: malformed JSON,
 *         missing/invalid fields, bad base64, bad lengths);
 *         #DOCSTORE_EUNSUPPORTED (unknown format version, algorithm, suite
 *         or v2 flag);
 *         #DOCSTORE_EKEY (no private key with the envelope's key id; for a
 *         legacy envelope: no private key of its size, or none unwraps
 *         it); #DOCSTORE_EINTEGRITY (tampered, wrong key, or wrong
 *         document); #DOCSTORE_ETOOBIG (envelope over 1.5 GiB, document
 *         over 1 GiB); #DOCSTORE_ECRYPTO; #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.1.0; 0.3.0 reads v2
 */
DOCSTORE_EXTERN int docstore_envelope_open(uint8_t **out, size_t *out_len,
                                           const docstore_keyring *kr,
                                           const char *envelope,
                                           size_t envelope_len,
                                           const docstore_doc_id *expect);

/**
 * Re-wrap an envelope's AES key under another public key of the keyring
 * (key rotation) without touching its ciphertext, nonce, tag or bound
 * identity.  Needs the private key of the envelope's current key id.  The
 * whole envelope is authenticated first: a damaged one gives
 * #DOCSTORE_EINTEGRITY.  Legacy envelopes are converted to the current
 * format (their ciphertext, nonce and tag are kept; the result, alg
 * "AES-GCM-NOAAD", binds no identity: docs/FORMAT.md section 8).  A v2
 * envelope gets new_key_id as its only recipient (its segments are
 * verified, then kept; the result is binary v2, not NUL-terminated text:
 * use out_len); docstore_envelope_rewrap_header() changes recipients
 * without reading the segments.  Thread-safe on a loaded keyring.
 * @param out          receives the new envelope (JSON for v1 and legacy,
 *                     binary for v2), library-owned (docstore_free()); NULL
 *                     on failure.
 * @param out_len      optional: receives its length, NUL excluded.
 * @param kr           the keyring (old private key and new public key).
 * @param envelope     the envelope text (need not be NUL-terminated).
 * @param envelope_len its length.
 * @param new_key_id   public key to wrap under; NULL means the default key.
 * @return as docstore_envelope_open(); #DOCSTORE_EKEY also when the keyring
 *         has no key new_key_id (or no key at all).
 * @since 0.1.0; 0.3.0 rewraps v2
 */
DOCSTORE_EXTERN int docstore_envelope_rewrap(char **out, size_t *out_len,
                                             const docstore_keyring *kr,
                                             const char *envelope,
                                             size_t envelope_len,
                                             const char *new_key_id);

/**
 * Envelope formats docstore_envelope_info_get() can report.
 * @since 0.1.0
 */
typedef enum docstore_envelope_format {
  DOCSTORE_ENVELOPE_V1 = 1, /**< this library's JSON format, version 1 */
  /** binary, segmented, key-committing format, version 2 (@since 0.3.0) */
  DOCSTORE_ENVELOPE_V2 = 2,
  DOCSTORE_ENVELOPE_LEGACY = 100 /**< PyCryptodome JSON, read-only */
} docstore_envelope_format;

/**
 * Current version of #docstore_envelope_info.  Version 2 adds
 * `segment_size`, `compressed` and `recipients_count`.
 * @since 0.1.0; 0.3.0 is version 2
 */
#define DOCSTORE_ENVELOPE_INFO_VERSION 2

/**
 * What an envelope says about itself, without decrypting it.
 * Set `version` before the call (#DOCSTORE_ENVELOPE_INFO_INIT or
 * docstore_envelope_info_init()).  The string fields are owned by the
 * struct; release them with docstore_envelope_info_clear().
 * @since 0.1.0
 */
typedef struct docstore_envelope_info {
  unsigned int version; /**< #DOCSTORE_ENVELOPE_INFO_VERSION, set by caller */
  int format;           /**< #docstore_envelope_format */
  char *key_id;         /**< NULL for legacy envelopes */
  char *file_id;        /**< bound identity, NULL if none */
  char *user_id;        /**< NULL if none or system */
  /** size of the document in bytes; UINT64_MAX when unknown (a compressed
   * v2 envelope) */
  uint64_t plaintext_size;
  /* version 2 (@since 0.3.0): */
  unsigned int segment_size; /**< v2: plaintext bytes per segment; else 0 */
  int compressed;            /**< v2: 1 when the segments hold a zstd frame */
  /** number of recipients (wrapped copies of the key): 1 for v1 and
   * legacy; for v2 every recipient, of any kind; key_id is the first one's
   * (the first RSA-OAEP one's) */
  unsigned int recipients_count;
} docstore_envelope_info;

/**
 * Static initialiser of a #docstore_envelope_info.
 * @since 0.1.0; 0.3.0 initialises the version 2 fields
 */
#define DOCSTORE_ENVELOPE_INFO_INIT                                            \
  { DOCSTORE_ENVELOPE_INFO_VERSION, 0, NULL, NULL, NULL, 0, 0, 0, 0 }

/**
 * Initialise an info struct (for FFI callers that cannot use the macro):
 * zeroes it and sets `version`.  Thread-safe.
 * @param info    the struct to fill.
 * @param version #DOCSTORE_ENVELOPE_INFO_VERSION (or an older version).
 * @return 0, #DOCSTORE_EINVAL (info NULL, version 0 or unknown).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_envelope_info_init(docstore_envelope_info *info,
                                                unsigned int version);

/**
 * Parse and validate an envelope's structure (all fields present, base64
 * valid, lengths right; for v2: the header and the segment layout implied
 * by envelope_len) without any key.  The string fields are
 * overwritten (NULL on failure): call docstore_envelope_info_clear() before
 * reusing an info struct, or the previous strings leak.  Thread-safe.
 * @param info         receives the description; its `version` must be set.
 * @param envelope     the envelope text (need not be NUL-terminated).
 * @param envelope_len its length.
 * @return 0, #DOCSTORE_EINVAL (info or envelope NULL, unknown
 *         info->version), #DOCSTORE_EFORMAT, #DOCSTORE_EUNSUPPORTED,
 *         #DOCSTORE_EINTEGRITY (v2: envelope_len does not fit the segment
 *         layout, a truncated or extended envelope, as an open would
 *         say), #DOCSTORE_ETOOBIG, #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.1.0; 0.3.0 reads v2
 */
DOCSTORE_EXTERN int docstore_envelope_info_get(docstore_envelope_info *info,
                                               const char *envelope,
                                               size_t envelope_len);

/**
 * Free the strings of an info struct and reset them to NULL (the other
 * fields are kept).
 * @param info the struct, or NULL (no-op).
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_envelope_info_clear(docstore_envelope_info *info);

/* ------------------------------------------------------------- v2 streams */

/**
 * Current version of #docstore_seal_options.
 * @since 0.3.0
 */
#define DOCSTORE_SEAL_OPTIONS_VERSION 1

/**
 * How docstore_sealer_new() seals (docs/FORMAT.md).  Set `version` first
 * (#DOCSTORE_SEAL_OPTIONS_INIT or docstore_seal_options_init()).
 * @since 0.3.0
 */
typedef struct docstore_seal_options {
  unsigned int version; /**< #DOCSTORE_SEAL_OPTIONS_VERSION, set by caller */
  /** #DOCSTORE_ENVELOPE_V1 or #DOCSTORE_ENVELOPE_V2; 0 means v2 */
  int format;
  /** identity to bind, NULL binds none; borrowed for docstore_sealer_new()
   * only (copied) */
  const docstore_doc_id *doc;
  /** key ids of public keys of the keyring, each a recipient; NULL (or a
   * count of 0): the keyring's default key.  v1 takes exactly one.
   * Borrowed for docstore_sealer_new() only. */
  const char *const *recipients;
  size_t recipients_count; /**< number of entries of `recipients` */
  /** v2: plaintext bytes per segment, a power of two from 4096 to 16 MiB;
   * 0 means 65536.  Must be 0 for v1. */
  unsigned int segment_size;
  /** v2: 0 = no compression; 1 to 19 = zstd level.  Must be 0 for v1. */
  int compression_level;
} docstore_seal_options;

/**
 * Static initialiser of a #docstore_seal_options: v2, the default key,
 * 64 KiB segments, no compression, no identity.
 * @since 0.3.0
 */
#define DOCSTORE_SEAL_OPTIONS_INIT                                             \
  { DOCSTORE_SEAL_OPTIONS_VERSION, 0, NULL, NULL, 0, 0, 0 }

/**
 * Initialise seal options (for FFI callers that cannot use the macro):
 * the values of #DOCSTORE_SEAL_OPTIONS_INIT with `version`.  Thread-safe.
 * @param o       the struct to fill.
 * @param version #DOCSTORE_SEAL_OPTIONS_VERSION (or an older version).
 * @return 0, #DOCSTORE_EINVAL (o NULL, version 0 or unknown).
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_seal_options_init(docstore_seal_options *o,
                                               unsigned int version);

/**
 * A streaming sealer: plaintext in, envelope out, in memory bounded by
 * the segment size whatever the document's size (v2).  A v1 sealer
 * buffers the document (at most 1 GiB) and emits the JSON envelope at
 * docstore_sealer_finish().  One thread at a time.  Opaque.
 * @since 0.3.0
 */
typedef struct docstore_sealer docstore_sealer;

/**
 * Start sealing a document.  The data key, salt and nonce prefix are
 * drawn here and the key is wrapped for every recipient.
 * @param out  receives the sealer (NULL on failure); docstore_sealer_free().
 * @param kr   the keyring holding the recipients' public keys; borrowed
 *             until docstore_sealer_free() (not modified meanwhile).
 * @param opts options; NULL means #DOCSTORE_SEAL_OPTIONS_INIT.
 * @return 0, #DOCSTORE_EINVAL (out or kr NULL, unknown options version,
 *         bad format, identity, segment size or level, a repeated
 *         recipient, more than 64 recipients, v1 with several),
 *         #DOCSTORE_EKEY (no such key id, or no default key),
 *         #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_sealer_new(docstore_sealer **out,
                                        const docstore_keyring *kr,
                                        const docstore_seal_options *opts);

/**
 * Consume plaintext and produce envelope bytes, as much as fits (the
 * in/out buffer style of zstd).  Always makes progress when out_cap > 0
 * or in_len > 0 unless a whole segment is waiting for room in `out`.
 * Call until all input is used, then docstore_sealer_finish().
 * @param s       the sealer.
 * @param out     room for envelope bytes (may be NULL when out_cap is 0).
 * @param out_cap its size.
 * @param out_len receives the number of bytes written to out.
 * @param in      plaintext (may be NULL when in_len is 0).
 * @param in_len  its length.
 * @param in_used receives the number of input bytes consumed.
 * @return 0, #DOCSTORE_EINVAL (NULL argument, called after finish),
 *         #DOCSTORE_ETOOBIG (v1 over 1 GiB, v2 over 2^32 segments),
 *         #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM.  After a failure the sealer
 *         only accepts docstore_sealer_free().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_sealer_update(docstore_sealer *s, uint8_t *out,
                                           size_t out_cap, size_t *out_len,
                                           const uint8_t *in, size_t in_len,
                                           size_t *in_used);

/**
 * End of input: seal the last segment and flush what remains.
 * @param s       the sealer.
 * @param out     room for envelope bytes.
 * @param out_cap its size.
 * @param out_len receives the number of bytes written to out.
 * @return 0 when the whole envelope is out; 1 when more output remains
 *         (call again with more room); a negative code as
 *         docstore_sealer_update().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_sealer_finish(docstore_sealer *s, uint8_t *out,
                                           size_t out_cap, size_t *out_len);

/**
 * Detail of the sealer's last failure.
 * @param s the sealer; NULL gives "sealer is NULL".
 * @return "" when none; never NULL; valid until this thread calls any
 *         *_errmsg() function again.
 * @since 0.3.0
 */
DOCSTORE_EXTERN const char *docstore_sealer_errmsg(const docstore_sealer *s);

/**
 * Free a sealer, wiping its keys and buffered plaintext.
 * @param s the sealer, or NULL (no-op).
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_sealer_free(docstore_sealer *s);

/**
 * A streaming opener: envelope in, plaintext out.  A v2 envelope streams
 * in memory bounded by its segment size: a segment's plaintext is
 * released only after its tag verified, and the end is reported only
 * after the segment flagged last verified with no byte after it.  v1 and
 * legacy envelopes (told apart by their first byte) are buffered (at most
 * 1.5 GiB), opened at docstore_opener_finish() and released then.  One
 * thread at a time.  Opaque.
 * @since 0.3.0
 */
typedef struct docstore_opener docstore_opener;

/**
 * Start opening an envelope.
 * @param out    receives the opener (NULL on failure);
 *               docstore_opener_free().
 * @param kr     the keyring holding the private key; borrowed until
 *               docstore_opener_free().
 * @param expect optional: the document expected (copied), checked as by
 *               docstore_envelope_open(); a v2 envelope bound to another
 *               document or to none is #DOCSTORE_EINTEGRITY.
 * @return 0, #DOCSTORE_EINVAL (out or kr NULL, invalid expect),
 *         #DOCSTORE_ENOMEM.
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_opener_new(docstore_opener **out,
                                        const docstore_keyring *kr,
                                        const docstore_doc_id *expect);

/**
 * Consume envelope bytes and produce verified plaintext, as much as fits.
 * @param o       the opener.
 * @param out     room for plaintext (may be NULL when out_cap is 0).
 * @param out_cap its size.
 * @param out_len receives the number of bytes written to out.
 * @param in      envelope bytes (may be NULL when in_len is 0).
 * @param in_len  their number.
 * @param in_used receives the number of input bytes consumed.
 * @return 0; #DOCSTORE_EINVAL (NULL argument); #DOCSTORE_EFORMAT
 *         (malformed header); #DOCSTORE_EUNSUPPORTED (unknown version,
 *         suite or flag); #DOCSTORE_EKEY (no private key for any
 *         recipient); #DOCSTORE_EINTEGRITY (tampered, wrong key, wrong
 *         document, data after the final segment, bad compressed data);
 *         #DOCSTORE_ETOOBIG (v1/legacy over 1.5 GiB); #DOCSTORE_ECRYPTO;
 *         #DOCSTORE_ENOMEM.  After a failure the opener only accepts
 *         docstore_opener_free(); plaintext already released came from
 *         verified segments, but the document as a whole is not.  A
 *         segment may be decrypted straight into `out` before its tag is
 *         checked: only the first *out_len bytes are released, and any
 *         bytes past them written by a failed call are wiped.
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_opener_update(docstore_opener *o, uint8_t *out,
                                           size_t out_cap, size_t *out_len,
                                           const uint8_t *in, size_t in_len,
                                           size_t *in_used);

/**
 * End of the envelope: verify the end and flush what remains.
 * @param o       the opener.
 * @param out     room for plaintext.
 * @param out_cap its size.
 * @param out_len receives the number of bytes written to out.
 * @return 0 when all plaintext is out and the whole envelope verified; 1
 *         when more output remains (call again with more room);
 *         #DOCSTORE_EINTEGRITY when truncated; other codes as
 *         docstore_opener_update().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_opener_finish(docstore_opener *o, uint8_t *out,
                                           size_t out_cap, size_t *out_len);

/**
 * What the envelope says about itself, once its header has been read and
 * verified (v2) or once docstore_opener_finish() opened it (v1, legacy).
 * plaintext_size is 0 (unknown); for v2, key_id is the recipient whose
 * private key opened it.
 * @param o    the opener.
 * @param info receives the description; its `version` must be set;
 *             release with docstore_envelope_info_clear().
 * @return 0, #DOCSTORE_EINVAL (NULL argument, unknown info version, header
 *         not read yet), #DOCSTORE_ENOMEM.
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_opener_info(const docstore_opener *o,
                                         docstore_envelope_info *info);

/**
 * Detail of the opener's last failure.
 * @param o the opener; NULL gives "opener is NULL".
 * @return "" when none; never NULL; valid until this thread calls any
 *         *_errmsg() function again.
 * @since 0.3.0
 */
DOCSTORE_EXTERN const char *docstore_opener_errmsg(const docstore_opener *o);

/**
 * Free an opener, wiping its keys and buffered plaintext.
 * @param o the opener, or NULL (no-op).
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_opener_free(docstore_opener *o);

/**
 * Size of a v2 envelope's header, from its first 16 bytes.  Thread-safe.
 * @param header_len receives the header length H (0 on failure).
 * @param prefix     the envelope's first bytes.
 * @param prefix_len their number, at least 16.
 * @return 0, #DOCSTORE_EINVAL (NULL argument, fewer than 16 bytes),
 *         #DOCSTORE_EFORMAT (not a v2 envelope, or a header length out of
 *         bounds), #DOCSTORE_EUNSUPPORTED (v2 magic, unknown version or
 *         suite).  Detail: docstore_last_errmsg().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_envelope_header_size(size_t *header_len,
                                                  const uint8_t *prefix,
                                                  size_t prefix_len);

/**
 * Change the recipients of a v2 envelope by rewriting its header only:
 * the segments that follow the old header stay as they are (append them
 * to the new header).  The old header is verified first with a private key
 * of one of its recipients.  Thread-safe on a loaded keyring.
 * @param out            receives the new header (docstore_free()); NULL on
 *                       failure.
 * @param out_len        receives its length.
 * @param old_header_len receives the old header's length (where the
 *                       segments start).
 * @param kr             the keyring: a private key of a current recipient,
 *                       and the public keys to add.
 * @param header         the envelope's first bytes, at least its whole
 *                       header (docstore_envelope_header_size()).
 * @param header_len     their number.
 * @param add            key ids to add (public keys of kr); a key id
 *                       already a recipient is kept once.
 * @param add_count      number of entries of add (0: add may be NULL).
 * @param remove         key ids to remove; "*" removes every recipient
 *                       that is not in add (recipients of other kinds
 *                       included).  A key id that is not a recipient is
 *                       ignored.
 * @param remove_count   number of entries of remove (0: remove may be
 *                       NULL).
 * @return 0; #DOCSTORE_EINVAL (NULL argument, no recipient would remain,
 *         more than 64); #DOCSTORE_EFORMAT, #DOCSTORE_EUNSUPPORTED (not a
 *         valid v2 header, or header_len shorter than it);
 *         #DOCSTORE_EKEY (no private key for any recipient, a key id of
 *         add not in kr); #DOCSTORE_EINTEGRITY (tampered header or wrong
 *         key); #DOCSTORE_ECRYPTO; #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_envelope_rewrap_header(
    uint8_t **out, size_t *out_len, size_t *old_header_len,
    const docstore_keyring *kr, const uint8_t *header, size_t header_len,
    const char *const *add, size_t add_count, const char *const *remove,
    size_t remove_count);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_CRYPTO_H */
