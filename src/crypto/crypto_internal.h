/*
 * libdocstore - internals of the crypto layer (keyring, envelope, base64).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  The envelope format itself is specified in
 * docs/FORMAT.md; the constants below must agree with it.
 */
#ifndef DOCSTORE_CRYPTO_INTERNAL_H
#define DOCSTORE_CRYPTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "docstore/crypto.h"
#include "internal.h"
#include "util/cursor.h"
#include "util/id.h"

/* ------------------------------------------------------------- limits */

/* Largest RSA modulus accepted (OpenSSL's own limit). */
#define DOCSTORE__RSA_MAX_BITS 16384
#define DOCSTORE__RSA_MAX_BYTES (DOCSTORE__RSA_MAX_BITS / 8)
/* Largest document of the in-memory envelope (1 GiB). */
#define DOCSTORE__PLAINTEXT_MAX ((size_t)1 << 30)
/* Largest envelope text accepted by the readers (1.5 GiB): base64 of
 * DOCSTORE__PLAINTEXT_MAX plus the header fits well within it.  The same
 * limit as every object read (src/common/internal.h). */
#define DOCSTORE__ENVELOPE_MAX DOCSTORE__OBJECT_MAX
/* Largest key file read by docstore_keyring_add_*_file(). */
#define DOCSTORE__KEYFILE_MAX ((size_t)1 << 20)

/* "sha256:" + 64 lowercase hex digits. */
#define DOCSTORE__KID_PREFIX "sha256:"
#define DOCSTORE__KID_LEN (7 + 64)

/* Identity values: [A-Za-z0-9_-]{1,64} (util/id.h, DOCSTORE__ID_MAX). */

#define DOCSTORE__GCM_TAG_LEN 16
#define DOCSTORE__GCM_NONCE_LEN 12
#define DOCSTORE__LEGACY_NONCE_LEN 16
#define DOCSTORE__NONCE_MAX 16
#define DOCSTORE__AES_KEY_MAX 32

/* Text of the v1 header values. */
#define DOCSTORE__FORMAT_NAME "docstore-envelope"
#define DOCSTORE__ALG_AES256GCM "AES-256-GCM"
#define DOCSTORE__ALG_AESGCM_NOAAD "AES-GCM-NOAAD"
#define DOCSTORE__KEY_ALG_OAEP256 "RSA-OAEP-256"

/* ------------------------------------------------------------- keyring */

typedef struct docstore__key {
  EVP_PKEY *pkey; /* public key, or key pair when has_private */
  int has_private;
  char kid[DOCSTORE__KID_LEN + 1];
} docstore__key;

struct docstore_keyring {
  docstore__key *keys;
  size_t nkeys;
  size_t cap;
  size_t default_idx; /* sealing key; the first one added unless set */
  docstore__handle_err err;
};

/* The key with this id, or NULL. */
const docstore__key *docstore__keyring_find(const docstore_keyring *kr,
                                            const char *kid);
/* The key new envelopes are sealed under, or NULL when there is none. */
const docstore__key *docstore__keyring_default(const docstore_keyring *kr);

/* out receives "sha256:<hex of SHA-256 of DER SubjectPublicKeyInfo>". */
int docstore__kid_compute(char out[DOCSTORE__KID_LEN + 1],
                          const EVP_PKEY *pkey) DOCSTORE__WUR;

/* Set err to `code` with `what` and the reason of the newest OpenSSL
 * error (OpenSSL reasons never contain key material or passphrases), then
 * empty OpenSSL's error queue.  Returns code. */
int docstore__ossl_err(docstore__err *err, int code, const char *what);

/* ------------------------------------------------------------- RSA-OAEP */

/* digest: "SHA256" (v1) or "SHA1" (legacy); used for OAEP and MGF1; no
 * label.  wrap: out must hold EVP_PKEY_get_size(pkey) bytes. */
int docstore__oaep_wrap(uint8_t *out, size_t *out_len, EVP_PKEY *pkey,
                        const char *digest, const uint8_t *key, size_t key_len,
                        docstore__err *err) DOCSTORE__WUR;
/* Returns 0, DOCSTORE_EINTEGRITY when the padding does not verify (wrong
 * key or tampered input; err untouched), DOCSTORE_ECRYPTO otherwise.  out has
 * room for DOCSTORE__AES_KEY_MAX bytes; a longer payload is EINTEGRITY. */
int docstore__oaep_unwrap(uint8_t out[DOCSTORE__AES_KEY_MAX], size_t *out_len,
                          EVP_PKEY *pkey, const char *digest, const uint8_t *in,
                          size_t in_len, docstore__err *err) DOCSTORE__WUR;

/* ------------------------------------------------------------- base64 */

/* RFC 4648 section 4 alphabet, with padding, no line breaks.  Decoding is
 * strict: length a multiple of 4, '=' only as the 1 or 2 last characters,
 * unused bits of the last quantum zero, no whitespace. */

/* Encoded length of n bytes; 0 and DOCSTORE_ETOOBIG on overflow. */
int docstore__b64_len(size_t *out, size_t n) DOCSTORE__WUR;
/* Append the encoding of data to b (one reservation, encoded in place). */
int docstore__b64_append(docstore__buf *b, const uint8_t *data,
                         size_t n) DOCSTORE__WUR;
/* Encode exactly into out (docstore__b64_len(n) bytes, no NUL). */
void docstore__b64_encode(char *out, const uint8_t *data, size_t n);
/* Length of the longest prefix of in[0..n) made of alphabet characters
 * ('=' excluded). */
size_t docstore__b64_span(const char *in, size_t n);
/* Decoded length implied by the text's length and padding; EFORMAT when
 * the length is not a multiple of 4 or the padding is malformed.  Does not
 * look at the other characters. */
int docstore__b64_decoded_len(size_t *out, const char *in,
                              size_t in_len) DOCSTORE__WUR;
/* Decode in_len (a multiple of 4) characters.  `final`: the text ends
 * here, so its last quantum may carry padding; otherwise '=' is refused.
 * out NULL validates only.  *out_len receives the decoded size.  Returns
 * 0 or DOCSTORE_EFORMAT. */
int docstore__b64_decode(uint8_t *out, size_t *out_len, const char *in,
                         size_t in_len, int final) DOCSTORE__WUR;

/* ------------------------------------------------------------- envelopes */

typedef enum docstore__alg {
  DOCSTORE__ALG_NONE = 0,
  DOCSTORE__ALG_V1_AES256GCM, /* v1, "AES-256-GCM", AAD bound */
  DOCSTORE__ALG_V1_NOAAD,     /* v1, "AES-GCM-NOAAD": converted legacy */
  DOCSTORE__ALG_LEGACY        /* PyCryptodome JSON, OAEP-SHA1 */
} docstore__alg;

/* Members an envelope object may have (docs/FORMAT.md sections 2 and 10). */
typedef enum docstore__member {
  DOCSTORE__M_FORMAT,
  DOCSTORE__M_VERSION,
  DOCSTORE__M_ALG,
  DOCSTORE__M_KEY_ALG,
  DOCSTORE__M_KID,
  DOCSTORE__M_FILE_ID,
  DOCSTORE__M_USER_ID,
  DOCSTORE__M_WRAPPED_KEY,
  DOCSTORE__M_NONCE,
  DOCSTORE__M_TAG,
  DOCSTORE__M_CIPHERTEXT,
  DOCSTORE__M_ENC_SESSION_KEY, /* legacy */
  DOCSTORE__M_COUNT
} docstore__member;

/* JSON type of a member of the envelope object, as read. */
typedef enum docstore__jkind {
  DOCSTORE__J_ABSENT = 0,
  DOCSTORE__J_STRING, /* text: the content after unescaping */
  DOCSTORE__J_NUMBER, /* text: the number as written */
  DOCSTORE__J_NULL,
  DOCSTORE__J_OTHER /* true, false, an object or an array */
} docstore__jkind;

typedef struct docstore__jvalue {
  docstore__jkind kind;
  /* Inside the caller's envelope text, or an unescaped copy (owned). */
  docstore__cursor text;
  /* A string without escapes whose characters are all in the base64
   * alphabet, but for up to two '=' at its end: its base64 check needs
   * only the length and the last quantum. */
  int b64_chars;
} docstore__jvalue;

/* Limits of the JSON text of an envelope (docs/FORMAT.md section 12). */
#define DOCSTORE__JSON_MAX_DEPTH 64
#define DOCSTORE__JSON_MAX_NAMES 1024
#define DOCSTORE__JSON_MAX_NAME_LEN 256

/* A parsed, structurally valid envelope.  The cursors point into the
 * caller's text or into `owned`; free with docstore__envelope_clear(). */
typedef struct docstore__envelope {
  int format; /* docstore_envelope_format */
  docstore__alg alg;
  docstore__jvalue m[DOCSTORE__M_COUNT];
  char *owned[DOCSTORE__M_COUNT]; /* unescaped copies of escaped strings */
  const char *kid;                /* NULL for legacy */
  const char *file_id;            /* NULL when not bound */
  const char *user_id;            /* NULL when not bound or system */
  char kid_buf[DOCSTORE__KID_LEN + 1];
  char file_id_buf[DOCSTORE__ID_MAX + 1];
  char user_id_buf[DOCSTORE__ID_MAX + 1];
  docstore__cursor nonce_b64;
  docstore__cursor tag_b64;
  docstore__cursor ct_b64;
  uint8_t wrapped[DOCSTORE__RSA_MAX_BYTES];
  size_t wrapped_len;
  uint8_t nonce[DOCSTORE__NONCE_MAX];
  size_t nonce_len;
  uint8_t tag[DOCSTORE__GCM_TAG_LEN];
  size_t ct_len; /* decoded ciphertext (= plaintext) length */
} docstore__envelope;

/* Parse and check an envelope (v1 or legacy): steps 1 to 5 of
 * docs/FORMAT.md section 7 (every base64 character included).  Errors go
 * to `err` (and the thread's last error).  Returns 0, DOCSTORE_EINVAL,
 * DOCSTORE_EFORMAT, DOCSTORE_EUNSUPPORTED, DOCSTORE_ETOOBIG,
 * DOCSTORE_ENOMEM. */
int docstore__envelope_parse(docstore__envelope *env, const char *text,
                             size_t text_len, docstore__err *err) DOCSTORE__WUR;
void docstore__envelope_clear(docstore__envelope *env);

/* Decode the base64 string member m[which] into out, requiring a decoded
 * length in [min, max].  EFORMAT when missing, not a string, bad base64 or
 * bad length. */
int docstore__member_b64(uint8_t *out, size_t *out_len, size_t min, size_t max,
                         const docstore__jvalue *m, docstore__member which,
                         docstore__err *err) DOCSTORE__WUR;
/* Check "nonce" (12 bytes, or 12 or 16 when nonce_max is 16), "tag"
 * (16 bytes) and "ciphertext" (shared by the v1 and legacy readers); the
 * base64 texts are recorded in env. */
int docstore__member_gcm(docstore__envelope *env, size_t nonce_max,
                         docstore__err *err) DOCSTORE__WUR;

/* Legacy part of the parser (legacy.c): fill env from the members of an
 * object that has no "format" member. */
int docstore__legacy_parse(docstore__envelope *env,
                           docstore__err *err) DOCSTORE__WUR;
/* Try each private key of the keyring (OAEP-SHA1); on success the session
 * key is in key[0..*key_len).  DOCSTORE_EKEY when no key unwraps it. */
int docstore__legacy_unwrap(uint8_t key[DOCSTORE__AES_KEY_MAX], size_t *key_len,
                            const docstore_keyring *kr,
                            const docstore__envelope *env,
                            docstore__err *err) DOCSTORE__WUR;

/* 0 when expect is NULL or names exactly the bound identity (file_id
 * NULL: none bound; user_id NULL: none); else DOCSTORE_EINTEGRITY with the
 * reason in e. */
int docstore__identity_match(const char *file_id, const char *user_id,
                             const docstore_doc_id *expect,
                             docstore__err *e) DOCSTORE__WUR;

/* The exact GCM additional data of a v1 "AES-256-GCM" envelope, written
 * into out (NUL-terminated); *out_len excludes the NUL.  out must hold
 * DOCSTORE__AAD_MAX bytes.  file_id/user_id NULL give empty values. */
#define DOCSTORE__AAD_MAX 256
void docstore__aad_build(char out[DOCSTORE__AAD_MAX], size_t *out_len,
                         const char *file_id, const char *user_id);

/* Seal with a given AES-256 key and 12-byte nonce (tests and the format
 * document's example need determinism; everyone else uses
 * docstore_envelope_seal(), which draws them at random). */
int docstore__envelope_seal_with(char **out, size_t *out_len,
                                 const docstore__key *key,
                                 const uint8_t aes_key[32],
                                 const uint8_t nonce[DOCSTORE__GCM_NONCE_LEN],
                                 const uint8_t *plaintext, size_t plaintext_len,
                                 const docstore_doc_id *doc) DOCSTORE__WUR;

/* ------------------------------------------------------------- envelope v2 */

/* docs/FORMAT.md, "Envelope version 2" (binary; integers big-endian). */
/* The magic is 89 44 53 45 0D 0A 1A 0A (envelope_v2.c). */
#define DOCSTORE__V2_MAGIC_LEN 8
/* magic, version, suite, flags, header length: enough to size the header. */
#define DOCSTORE__V2_PREFIX_LEN 16
#define DOCSTORE__V2_VERSION 2
#define DOCSTORE__V2_SUITE 1
#define DOCSTORE__V2_FLAG_ZSTD 0x0001u
#define DOCSTORE__V2_HEADER_MAX ((size_t)256 << 10)
#define DOCSTORE__V2_SALT_LEN 32
#define DOCSTORE__V2_PREFIX_NONCE_LEN 7
#define DOCSTORE__V2_COMMIT_LEN 32
#define DOCSTORE__V2_TAG_LEN 32
#define DOCSTORE__V2_KEY_LEN 32
#define DOCSTORE__V2_SEG_EXP_MIN 12
#define DOCSTORE__V2_SEG_EXP_MAX 24
#define DOCSTORE__V2_SEG_EXP_DEFAULT 16
#define DOCSTORE__V2_RECIPIENTS_MAX 64
#define DOCSTORE__V2_KIND_RSA_OAEP 1
/* Smallest header: fixed fields, empty ids, one recipient with an empty
 * body, commitment and tag. */
#define DOCSTORE__V2_HEADER_MIN                                                \
  (8 + 1 + 1 + 2 + 4 + 1 + 32 + 7 + 1 + 1 + 2 + 3 + 32 + 32)
/* Largest compressed-frame window the reader accepts (2^27 bytes). */
#define DOCSTORE__V2_ZSTD_WINDOW_LOG_MAX 27

/* One recipient of a v2 header, as parsed (pointers into the header). */
typedef struct docstore__v2_recipient {
  uint8_t kind;
  const uint8_t *body; /* the L bytes */
  size_t body_len;
  /* kind 1 only: */
  char kid[DOCSTORE__KID_LEN + 1]; /* "" when not a well-formed key id */
  const uint8_t *wrapped;
  size_t wrapped_len;
} docstore__v2_recipient;

/* A structurally valid v2 header (not yet authenticated).  `raw` points
 * into the caller's bytes; it must outlive the struct's use. */
typedef struct docstore__v2_header {
  const uint8_t *raw;
  size_t header_len; /* H */
  unsigned int flags;
  unsigned int seg_exp;
  uint32_t segment_size;
  uint8_t salt[DOCSTORE__V2_SALT_LEN];
  uint8_t nonce_prefix[DOCSTORE__V2_PREFIX_NONCE_LEN];
  char file_id[DOCSTORE__ID_MAX + 1]; /* "" when not bound */
  char user_id[DOCSTORE__ID_MAX + 1]; /* "" when none */
  size_t nrecipients;
  docstore__v2_recipient recipients[DOCSTORE__V2_RECIPIENTS_MAX];
  const uint8_t *commitment; /* raw + H - 64 */
  const uint8_t *tag;        /* raw + H - 32 */
} docstore__v2_header;

/* The keys derived from a data key (HKDF-SHA256, docs/FORMAT.md). */
typedef struct docstore__v2_keys {
  uint8_t dk[DOCSTORE__V2_KEY_LEN]; /* the data key itself */
  uint8_t seg[DOCSTORE__V2_KEY_LEN];
  uint8_t hdr[DOCSTORE__V2_KEY_LEN];
  uint8_t commit[DOCSTORE__V2_COMMIT_LEN];
} docstore__v2_keys;

static inline uint32_t docstore__be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static inline void docstore__put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* 1 when the bytes start with the v2 magic (as far as they go: n may be
 * shorter than the magic), else 0. */
int docstore__v2_is_magic(const uint8_t *p, size_t n);
/* Header length from the first DOCSTORE__V2_PREFIX_LEN bytes: 0,
 * DOCSTORE_EFORMAT, DOCSTORE_EUNSUPPORTED. */
int docstore__v2_header_size(size_t *header_len, const uint8_t *p, size_t n,
                             docstore__err *err) DOCSTORE__WUR;
/* Parse p[0..n) (n >= the header length) into h (no key needed). */
int docstore__v2_header_parse(docstore__v2_header *h, const uint8_t *p,
                              size_t n, docstore__err *err) DOCSTORE__WUR;
/* Derive the keys from the data key and salt. */
int docstore__v2_derive(docstore__v2_keys *k, const uint8_t dk[32],
                        const uint8_t salt[DOCSTORE__V2_SALT_LEN],
                        docstore__err *err) DOCSTORE__WUR;
/* Find a recipient with a private key in kr, unwrap the data key, derive,
 * check commitment, header tag and identity (expect may be NULL).  *which
 * (optional) receives the index of the recipient used.  0, EKEY,
 * EINTEGRITY, ECRYPTO. */
int docstore__v2_header_unlock(docstore__v2_keys *k, size_t *which,
                               const docstore__v2_header *h,
                               const docstore_keyring *kr,
                               const docstore_doc_id *expect,
                               docstore__err *err) DOCSTORE__WUR;
/* Build a whole header (commitment and tag included) into b: the given
 * recipients' wrapped keys are computed from dk. */
int docstore__v2_header_build(
    docstore__buf *b, unsigned int flags, unsigned int seg_exp,
    const uint8_t salt[DOCSTORE__V2_SALT_LEN], const uint8_t nonce_prefix[7],
    const docstore_doc_id *doc, const docstore__key *const *keys, size_t nkeys,
    const uint8_t dk[32], docstore__err *err) DOCSTORE__WUR;
/* The 12-byte nonce of segment i. */
void docstore__v2_nonce(uint8_t nonce[DOCSTORE__GCM_NONCE_LEN],
                        const uint8_t prefix[DOCSTORE__V2_PREFIX_NONCE_LEN],
                        uint32_t index, int last);
/* Fill a v2 info struct from a parsed header. */
int docstore__v2_info_fill(docstore_envelope_info *info,
                           const docstore__v2_header *h,
                           uint64_t object_size) DOCSTORE__WUR;

/* Number of segments and plaintext size of a v2 body of body_len bytes
 * (object size minus header): 0 or DOCSTORE_EFORMAT (impossible length). */
int docstore__v2_layout(uint64_t *nseg, uint64_t *pt_size, uint64_t body_len,
                        uint32_t segment_size) DOCSTORE__WUR;

/* Whole-buffer v2 paths of docstore_envelope_open() / _rewrap() (a v2
 * envelope is at most DOCSTORE__OBJECT_MAX bytes there, its document at
 * most DOCSTORE__PLAINTEXT_MAX). */
int docstore__v2_verify_buffer(const docstore_keyring *kr, const uint8_t *env,
                               size_t env_len,
                               docstore__err *err) DOCSTORE__WUR;
int docstore__v2_rewrap_buffer(char **out, size_t *out_len,
                               const docstore_keyring *kr, const uint8_t *env,
                               size_t env_len, const char *to_kid,
                               docstore__err *err) DOCSTORE__WUR;
int docstore__v2_open_buffer(uint8_t **out, size_t *out_len,
                             const docstore_keyring *kr, const uint8_t *env,
                             size_t env_len, const docstore_doc_id *expect,
                             docstore__err *err) DOCSTORE__WUR;

/* ------------------------------------------------------------- opener */

/* After the header has been read (v2 only): where the segments start, the
 * plaintext segment size and whether the stream is compressed.  0,
 * DOCSTORE_EINVAL (not v2, header not read yet). */
int docstore__opener_layout(const docstore_opener *o, uint64_t *header_len,
                            uint32_t *segment_size, int *compressed);
/* Reposition a v2 opener whose header has been consumed so that the next
 * input byte is the start of segment `index`; object_size is the whole
 * envelope's size (to know which segment is the last) or UINT64_MAX when
 * unknown (then look-ahead decides).  Plaintext output then starts at that
 * segment.  Compressed envelopes: only index 0.  0, DOCSTORE_EINVAL (not
 * v2, header not read, index beyond the last segment, compressed with
 * index > 0), DOCSTORE_EFORMAT (object_size impossible for the layout). */
int docstore__opener_seek(docstore_opener *o, uint64_t index,
                          uint64_t object_size);

#endif /* DOCSTORE_CRYPTO_INTERNAL_H */
