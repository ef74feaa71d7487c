/*
 * libdocstore - envelope v2: header encoding and parsing, key schedule,
 * header authentication, recipients change (rewrap of the header).
 * SPDX-License-Identifier: Apache-2.0
 *
 * docs/FORMAT.md ("Envelope version 2") is the specification.  The
 * segments themselves are sealed and opened by the state machines of
 * stream.c; this file only deals with the header, which is small (at most
 * 256 KiB) and always handled whole.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto_internal.h"

static const char integrity_msg[] =
    "integrity check failed: the envelope was modified, or was not sealed "
    "for this key";

static const uint8_t v2_magic[DOCSTORE__V2_MAGIC_LEN] = {
    0x89, 'D', 'S', 'E', '\r', '\n', 0x1a, '\n'};

int docstore__v2_is_magic(const uint8_t *p, size_t n) {
  size_t k = n < DOCSTORE__V2_MAGIC_LEN ? n : DOCSTORE__V2_MAGIC_LEN;
  return p && k > 0 && memcmp(p, v2_magic, k) == 0;
}

int docstore__v2_header_size(size_t *header_len, const uint8_t *p, size_t n,
                             docstore__err *err) {
  *header_len = 0;
  if (n < DOCSTORE__V2_PREFIX_LEN || !docstore__v2_is_magic(p, n))
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "not a version 2 envelope (no magic)");
  if (p[8] != DOCSTORE__V2_VERSION)
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: unsupported binary format version %u",
                             p[8]);
  if (p[9] != DOCSTORE__V2_SUITE)
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: unsupported suite %u", p[9]);
  unsigned int flags = (unsigned int)p[10] << 8 | p[11];
  if (flags & ~DOCSTORE__V2_FLAG_ZSTD)
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: unsupported flags 0x%04x", flags);
  uint32_t h = docstore__be32(p + 12);
  if (h < DOCSTORE__V2_HEADER_MIN || h > DOCSTORE__V2_HEADER_MAX)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: header length %u out of bounds",
                             (unsigned int)h);
  *header_len = h;
  return 0;
}

int docstore_envelope_header_size(size_t *header_len, const uint8_t *prefix,
                                  size_t prefix_len) {
  docstore__err e = {0, ""};
  if (header_len)
    *header_len = 0;
  if (!header_len || !prefix || prefix_len < DOCSTORE__V2_PREFIX_LEN)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_envelope_header_size: NULL argument "
                             "or fewer than 16 bytes");
  return docstore__v2_header_size(header_len, prefix, prefix_len, &e);
}

/* ------------------------------------------------------------- parsing */

/* A bounded reader over the header bytes. */
typedef struct rd {
  const uint8_t *p;
  size_t pos, end;
} rd;

static int rd_take(rd *r, size_t n, const uint8_t **out) {
  if (n > r->end - r->pos)
    return 0;
  *out = r->p + r->pos;
  r->pos += n;
  return 1;
}

static int rd_u8(rd *r, unsigned int *v) {
  const uint8_t *q;
  if (!rd_take(r, 1, &q))
    return 0;
  *v = q[0];
  return 1;
}

static int rd_u16(rd *r, unsigned int *v) {
  const uint8_t *q;
  if (!rd_take(r, 2, &q))
    return 0;
  *v = (unsigned int)q[0] << 8 | q[1];
  return 1;
}

/* An identity value: length byte then [A-Za-z0-9_-]{0,64}. */
static int rd_id(rd *r, char out[DOCSTORE__ID_MAX + 1]) {
  unsigned int n;
  const uint8_t *q;
  out[0] = '\0';
  if (!rd_u8(r, &n) || n > DOCSTORE__ID_MAX || !rd_take(r, n, &q))
    return 0;
  if (n == 0)
    return 1;
  if (!docstore__id_valid_n((const char *)q, n))
    return 0;
  memcpy(out, q, n);
  out[n] = '\0';
  return 1;
}

static int kid_valid(const uint8_t *k, size_t n) {
  if (n != DOCSTORE__KID_LEN || memcmp(k, DOCSTORE__KID_PREFIX, 7) != 0)
    return 0;
  for (size_t i = 7; i < n; i++)
    if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
      return 0;
  return 1;
}

/* Body of a kind-1 recipient: K, key id, W, wrapped key; L == 1+K+2+W.
 * W is the modulus length of a key the library accepts (256 to 2048
 * bytes), checked here, before any key is looked at, so that the verdict
 * on a header is the same with or without a key (FORMAT.md section 21,
 * step 3); its equality with the reader's modulus is step 5. */
static int parse_oaep_body(docstore__v2_recipient *rc) {
  rd r = {rc->body, 0, rc->body_len};
  unsigned int k, w;
  const uint8_t *kid;
  if (!rd_u8(&r, &k) || !rd_take(&r, k, &kid) || !kid_valid(kid, k) ||
      !rd_u16(&r, &w) || w < DOCSTORE_RSA_MIN_BITS / 8 ||
      w > DOCSTORE__RSA_MAX_BYTES || !rd_take(&r, w, &rc->wrapped) ||
      r.pos != r.end)
    return 0;
  memcpy(rc->kid, kid, k);
  rc->kid[k] = '\0';
  rc->wrapped_len = w;
  return 1;
}

int docstore__v2_header_parse(docstore__v2_header *h, const uint8_t *p,
                              size_t n, docstore__err *err) {
  size_t hl;
  const uint8_t *q;
  unsigned int v, count;
  memset(h, 0, sizeof(*h));
  DOCSTORE__GUARD(docstore__v2_header_size(&hl, p, n, err));
  if (n < hl)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: truncated header (%zu of %zu bytes)", n,
                             hl);
  h->raw = p;
  h->header_len = hl;
  h->flags = (unsigned int)p[10] << 8 | p[11];
  rd r = {p, DOCSTORE__V2_PREFIX_LEN,
          hl - DOCSTORE__V2_COMMIT_LEN - DOCSTORE__V2_TAG_LEN};
  if (!rd_u8(&r, &h->seg_exp) || h->seg_exp < DOCSTORE__V2_SEG_EXP_MIN ||
      h->seg_exp > DOCSTORE__V2_SEG_EXP_MAX)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: segment size exponent out of bounds");
  h->segment_size = (uint32_t)1 << h->seg_exp;
  if (!rd_take(&r, DOCSTORE__V2_SALT_LEN, &q))
    goto short_header;
  memcpy(h->salt, q, DOCSTORE__V2_SALT_LEN);
  if (!rd_take(&r, DOCSTORE__V2_PREFIX_NONCE_LEN, &q))
    goto short_header;
  memcpy(h->nonce_prefix, q, DOCSTORE__V2_PREFIX_NONCE_LEN);
  if (!rd_id(&r, h->file_id) || !rd_id(&r, h->user_id))
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: invalid file_id or user_id");
  if (!h->file_id[0] && h->user_id[0])
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: user_id without file_id");
  if (!rd_u16(&r, &count) || count < 1 || count > DOCSTORE__V2_RECIPIENTS_MAX)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: recipient count must be 1 to 64");
  for (unsigned int i = 0; i < count; i++) {
    docstore__v2_recipient *rc = &h->recipients[i];
    unsigned int len;
    if (!rd_u8(&r, &v) || !rd_u16(&r, &len) || !rd_take(&r, len, &rc->body))
      goto short_header;
    rc->kind = (uint8_t)v;
    rc->body_len = len;
    if (rc->kind == DOCSTORE__V2_KIND_RSA_OAEP && !parse_oaep_body(rc))
      return docstore__err_set(err, DOCSTORE_EFORMAT,
                               "envelope: malformed RSA-OAEP recipient %u", i);
  }
  h->nrecipients = count;
  if (r.pos != r.end)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: %zu unexpected bytes after the "
                             "recipients",
                             r.end - r.pos);
  h->commitment = p + hl - DOCSTORE__V2_COMMIT_LEN - DOCSTORE__V2_TAG_LEN;
  h->tag = p + hl - DOCSTORE__V2_TAG_LEN;
  return 0;

short_header:
  return docstore__err_set(err, DOCSTORE_EFORMAT,
                           "envelope: header fields overrun its length");
}

int docstore__v2_layout(uint64_t *nseg, uint64_t *pt_size, uint64_t body_len,
                        uint32_t segment_size) {
  uint64_t sw = (uint64_t)segment_size + DOCSTORE__GCM_TAG_LEN;
  uint64_t n = body_len == 0 ? 1 : (body_len + sw - 1) / sw;
  if (body_len < (uint64_t)DOCSTORE__GCM_TAG_LEN * n)
    return DOCSTORE_EFORMAT;
  uint64_t last = body_len - (n - 1) * sw;
  if (last < DOCSTORE__GCM_TAG_LEN ||
      (n > 1 && last == DOCSTORE__GCM_TAG_LEN) || n > UINT32_MAX + (uint64_t)1)
    return DOCSTORE_EFORMAT;
  *nseg = n;
  *pt_size = body_len - DOCSTORE__GCM_TAG_LEN * n;
  return 0;
}

/* ------------------------------------------------------------- keys */

static int hkdf(uint8_t *out, size_t out_len, int mode, const uint8_t *key,
                size_t key_len, const uint8_t *salt, size_t salt_len,
                const char *info) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM params[6], *p = params;
  *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key,
                                           key_len);
  if (salt)
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
                                             salt_len);
  if (info)
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
                                             strlen(info));
  *p = OSSL_PARAM_construct_end();
  int ok = ctx && EVP_KDF_derive(ctx, out, out_len, params) > 0;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok;
}

int docstore__v2_derive(docstore__v2_keys *k, const uint8_t dk[32],
                        const uint8_t salt[DOCSTORE__V2_SALT_LEN],
                        docstore__err *err) {
  uint8_t prk[32];
  if (k->dk != dk)
    memcpy(k->dk, dk, DOCSTORE__V2_KEY_LEN);
  int ok = hkdf(prk, sizeof(prk), EVP_KDF_HKDF_MODE_EXTRACT_ONLY, dk, 32, salt,
                DOCSTORE__V2_SALT_LEN, NULL) &&
           hkdf(k->seg, 32, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, 32, NULL, 0,
                "docstore v2 segment key") &&
           hkdf(k->hdr, 32, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, 32, NULL, 0,
                "docstore v2 header key") &&
           hkdf(k->commit, 32, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, 32, NULL, 0,
                "docstore v2 key commitment");
  OPENSSL_cleanse(prk, sizeof(prk));
  if (!ok)
    return docstore__ossl_err(err, DOCSTORE_ECRYPTO, "HKDF-SHA256 failed");
  return 0;
}

static int header_mac(uint8_t out[32], const uint8_t key[32],
                      const uint8_t *data, size_t n, docstore__err *err) {
  size_t outl = 0;
  if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, data, n, out, 32,
                 &outl) ||
      outl != 32)
    return docstore__ossl_err(err, DOCSTORE_ECRYPTO, "HMAC-SHA256 failed");
  return 0;
}

/* Unwrap with one recipient and check commitment and tag. */
static int try_recipient(docstore__v2_keys *k, const docstore__v2_header *h,
                         const docstore__v2_recipient *rc,
                         const docstore__key *key, docstore__err *err) {
  uint8_t dk[DOCSTORE__AES_KEY_MAX], mac[32];
  size_t dk_len = 0;
  int rc_ = docstore__oaep_unwrap(dk, &dk_len, key->pkey, "SHA256", rc->wrapped,
                                  rc->wrapped_len, err);
  if (rc_ == 0 && dk_len != DOCSTORE__V2_KEY_LEN)
    rc_ = DOCSTORE_EINTEGRITY;
  if (rc_ == DOCSTORE_EINTEGRITY)
    docstore__err_set(err, rc_, "%s", integrity_msg);
  if (rc_ == 0)
    rc_ = docstore__v2_derive(k, dk, h->salt, err);
  OPENSSL_cleanse(dk, sizeof(dk));
  if (rc_ < 0)
    return rc_;
  if (CRYPTO_memcmp(k->commit, h->commitment, DOCSTORE__V2_COMMIT_LEN) != 0)
    return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                             "integrity check failed: key commitment does "
                             "not match");
  DOCSTORE__GUARD(header_mac(mac, k->hdr, h->raw,
                             h->header_len - DOCSTORE__V2_TAG_LEN, err));
  /* The same message as a failed unwrap (FORMAT.md section 21.1): only
   * the commitment, which only a crafted envelope gets wrong, has its own. */
  if (CRYPTO_memcmp(mac, h->tag, DOCSTORE__V2_TAG_LEN) != 0)
    return docstore__err_set(err, DOCSTORE_EINTEGRITY, "%s", integrity_msg);
  return 0;
}

static int identity_check(const docstore__v2_header *h,
                          const docstore_doc_id *expect, docstore__err *err) {
  return docstore__identity_match(h->file_id[0] ? h->file_id : NULL,
                                  h->user_id[0] ? h->user_id : NULL, expect,
                                  err);
}

int docstore__v2_header_unlock(docstore__v2_keys *k, size_t *which,
                               const docstore__v2_header *h,
                               const docstore_keyring *kr,
                               const docstore_doc_id *expect,
                               docstore__err *err) {
  /* Only the first recipient for a private key we hold is tried, whatever
   * happens to it (FORMAT.md section 21, step 4): one RSA decryption per
   * envelope, and the same answer whatever the keyring's order. */
  for (size_t i = 0; i < h->nrecipients; i++) {
    const docstore__v2_recipient *r = &h->recipients[i];
    if (r->kind != DOCSTORE__V2_KIND_RSA_OAEP)
      continue;
    const docstore__key *key = docstore__keyring_find(kr, r->kid);
    if (!key || !key->has_private)
      continue;
    int rc = try_recipient(k, h, r, key, err);
    if (rc == 0)
      rc = identity_check(h, expect, err);
    if (rc < 0) {
      OPENSSL_cleanse(k, sizeof(*k));
      return rc;
    }
    if (which)
      *which = i;
    return 0;
  }
  OPENSSL_cleanse(k, sizeof(*k));
  return docstore__err_set(err, DOCSTORE_EKEY,
                           "no private key for any recipient of the envelope");
}

/* ------------------------------------------------------------- writing */

/* What goes into a header besides its recipients. */
typedef struct draft {
  unsigned int flags, seg_exp;
  const uint8_t *salt, *nonce_prefix;
  const char *file_id, *user_id; /* "" or NULL: none */
} draft;

/* One recipient to write: kind and body. */
typedef struct body {
  uint8_t kind;
  const uint8_t *p;
  size_t len;
} body;

static int put_u8(docstore__buf *b, unsigned int v) {
  uint8_t c = (uint8_t)v;
  return docstore__buf_append(b, &c, 1);
}

static int put_u16(docstore__buf *b, unsigned int v) {
  uint8_t c[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return docstore__buf_append(b, c, 2);
}

static int put_id(docstore__buf *b, const char *id) {
  size_t n = id ? strlen(id) : 0;
  DOCSTORE__GUARD(put_u8(b, (unsigned int)n));
  return docstore__buf_append(b, id, n);
}

/* The whole header: fields, recipients, commitment and tag (from keys). */
static int write_header(docstore__buf *b, const draft *d, const body *bodies,
                        size_t nbodies, const docstore__v2_keys *k,
                        docstore__err *err) {
  uint8_t mac[32];
  size_t start = b->len;
  uint8_t h0[12] = {0};
  memcpy(h0, v2_magic, DOCSTORE__V2_MAGIC_LEN);
  h0[8] = DOCSTORE__V2_VERSION;
  h0[9] = DOCSTORE__V2_SUITE;
  h0[10] = (uint8_t)(d->flags >> 8);
  h0[11] = (uint8_t)d->flags;
  int rc = docstore__buf_append(b, h0, sizeof(h0));
  if (rc == 0)
    rc = docstore__buf_append(b, "\0\0\0\0", 4); /* H, filled below */
  if (rc == 0)
    rc = put_u8(b, d->seg_exp);
  if (rc == 0)
    rc = docstore__buf_append(b, d->salt, DOCSTORE__V2_SALT_LEN);
  if (rc == 0)
    rc = docstore__buf_append(b, d->nonce_prefix, 7);
  if (rc == 0)
    rc = put_id(b, d->file_id);
  if (rc == 0)
    rc = put_id(b, d->user_id);
  if (rc == 0)
    rc = put_u16(b, (unsigned int)nbodies);
  for (size_t i = 0; rc == 0 && i < nbodies; i++) {
    rc = put_u8(b, bodies[i].kind);
    if (rc == 0)
      rc = put_u16(b, (unsigned int)bodies[i].len);
    if (rc == 0)
      rc = docstore__buf_append(b, bodies[i].p, bodies[i].len);
  }
  if (rc == 0)
    rc = docstore__buf_append(b, k->commit, DOCSTORE__V2_COMMIT_LEN);
  if (rc < 0)
    return docstore__err_set(err, rc, "out of memory building the header");
  size_t hl = b->len - start + DOCSTORE__V2_TAG_LEN;
  if (hl > DOCSTORE__V2_HEADER_MAX)
    return docstore__err_set(err, DOCSTORE_ETOOBIG,
                             "envelope header would exceed 256 KiB");
  docstore__put_be32(b->data + start + 12, (uint32_t)hl);
  DOCSTORE__GUARD(
      header_mac(mac, k->hdr, b->data + start, b->len - start, err));
  rc = docstore__buf_append(b, mac, sizeof(mac));
  if (rc < 0)
    return docstore__err_set(err, rc, "out of memory building the header");
  return 0;
}

/* A kind-1 body for `key` wrapping dk, written into out (room for
 * 1 + 71 + 2 + DOCSTORE__RSA_MAX_BYTES bytes). */
#define OAEP_BODY_MAX (1 + DOCSTORE__KID_LEN + 2 + DOCSTORE__RSA_MAX_BYTES)
static int oaep_body(uint8_t *out, size_t *out_len, const docstore__key *key,
                     const uint8_t dk[32], docstore__err *err) {
  size_t w = 0;
  out[0] = DOCSTORE__KID_LEN;
  memcpy(out + 1, key->kid, DOCSTORE__KID_LEN);
  DOCSTORE__GUARD(docstore__oaep_wrap(out + 1 + DOCSTORE__KID_LEN + 2, &w,
                                      key->pkey, "SHA256", dk, 32, err));
  out[1 + DOCSTORE__KID_LEN] = (uint8_t)(w >> 8);
  out[2 + DOCSTORE__KID_LEN] = (uint8_t)w;
  *out_len = 1 + DOCSTORE__KID_LEN + 2 + w;
  return 0;
}

/* Bodies for keys[0..nkeys) in one allocation (public: wrapped keys). */
static int oaep_bodies(body *bodies, uint8_t **store,
                       const docstore__key *const *keys, size_t nkeys,
                       const uint8_t dk[32], docstore__err *err) {
  /* Zeroed: the bodies fill only part of it, and a public block is not
   * wiped when freed, so its unused bytes must not be stale memory that
   * OpenSSL freed unwiped (test_hygiene found an RSA prime there). */
  *store = docstore__alloc_ex(nkeys * OAEP_BODY_MAX + 1, DOCSTORE__MEM_PUBLIC);
  if (!*store)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  for (size_t i = 0; i < nkeys; i++) {
    uint8_t *p = *store + i * OAEP_BODY_MAX;
    bodies[i].kind = DOCSTORE__V2_KIND_RSA_OAEP;
    bodies[i].p = p;
    DOCSTORE__GUARD(oaep_body(p, &bodies[i].len, keys[i], dk, err));
  }
  return 0;
}

int docstore__v2_header_build(docstore__buf *b, unsigned int flags,
                              unsigned int seg_exp,
                              const uint8_t salt[DOCSTORE__V2_SALT_LEN],
                              const uint8_t nonce_prefix[7],
                              const docstore_doc_id *doc,
                              const docstore__key *const *keys, size_t nkeys,
                              const uint8_t dk[32], docstore__err *err) {
  docstore__v2_keys k;
  body bodies[DOCSTORE__V2_RECIPIENTS_MAX] = {{0}};
  uint8_t *store = NULL;
  draft d = {flags,
             seg_exp,
             salt,
             nonce_prefix,
             doc ? doc->file_id : NULL,
             doc ? doc->user_id : NULL};
  if (nkeys < 1 || nkeys > DOCSTORE__V2_RECIPIENTS_MAX)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "an envelope has 1 to 64 recipients");
  int rc = docstore__v2_derive(&k, dk, salt, err);
  if (rc == 0)
    rc = oaep_bodies(bodies, &store, keys, nkeys, dk, err);
  if (rc == 0)
    rc = write_header(b, &d, bodies, nkeys, &k, err);
  docstore_free(store);
  OPENSSL_cleanse(&k, sizeof(k));
  return rc;
}

void docstore__v2_nonce(uint8_t nonce[DOCSTORE__GCM_NONCE_LEN],
                        const uint8_t prefix[DOCSTORE__V2_PREFIX_NONCE_LEN],
                        uint32_t index, int last) {
  memcpy(nonce, prefix, DOCSTORE__V2_PREFIX_NONCE_LEN);
  docstore__put_be32(nonce + 7, index);
  nonce[11] = last ? 1 : 0;
}

/* ------------------------------------------------------------- info */

int docstore__v2_info_fill(docstore_envelope_info *info,
                           const docstore__v2_header *h, uint64_t object_size) {
  const char *kid = NULL;
  for (size_t i = 0; i < h->nrecipients && !kid; i++)
    if (h->recipients[i].kind == DOCSTORE__V2_KIND_RSA_OAEP)
      kid = h->recipients[i].kid;
  info->format = DOCSTORE_ENVELOPE_V2;
  info->plaintext_size = 0;
  if (object_size != UINT64_MAX) {
    uint64_t n;
    if (object_size < h->header_len ||
        docstore__v2_layout(&n, &info->plaintext_size,
                            object_size - h->header_len, h->segment_size) < 0)
      return DOCSTORE_EINTEGRITY; /* as an open says: FORMAT.md 21.1 */
    if (h->flags & DOCSTORE__V2_FLAG_ZSTD)
      info->plaintext_size = UINT64_MAX;
  }
  if (info->version >= 2) {
    info->segment_size = h->segment_size;
    info->compressed = (h->flags & DOCSTORE__V2_FLAG_ZSTD) ? 1 : 0;
    info->recipients_count = (unsigned int)h->nrecipients;
  }
  if ((kid && !(info->key_id = docstore__strdup(kid))) ||
      (h->file_id[0] && !(info->file_id = docstore__strdup(h->file_id))) ||
      (h->user_id[0] && !(info->user_id = docstore__strdup(h->user_id)))) {
    docstore_envelope_info_clear(info);
    return DOCSTORE_ENOMEM;
  }
  return 0;
}

/* ------------------------------------------------------------- rewrap */

static int listed(const char *kid, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (list[i] && strcmp(list[i], kid) == 0)
      return 1;
  return 0;
}

/* The new recipient list: the old ones not removed, then the added keys
 * that are not already there. */
static int plan_recipients(body *bodies, size_t *nbodies,
                           const docstore__key **add_keys, size_t *nadd,
                           const docstore__v2_header *h,
                           const docstore_keyring *kr, const char *const *add,
                           size_t add_count, const char *const *remove,
                           size_t remove_count, docstore__err *err) {
  int all = listed("*", remove, remove_count);
  size_t n = 0, m = 0;
  for (size_t i = 0; i < h->nrecipients; i++) {
    const docstore__v2_recipient *r = &h->recipients[i];
    int oaep = r->kind == DOCSTORE__V2_KIND_RSA_OAEP;
    if (all ? !(oaep && listed(r->kid, add, add_count))
            : (oaep && listed(r->kid, remove, remove_count)))
      continue;
    bodies[n].kind = r->kind;
    bodies[n].p = r->body;
    bodies[n].len = r->body_len;
    n++;
  }
  for (size_t i = 0; i < add_count; i++) {
    const docstore__key *key = docstore__keyring_find(kr, add[i]);
    if (!key)
      return docstore__err_set(err, DOCSTORE_EKEY,
                               "docstore_envelope_rewrap_header: no public "
                               "key %s in the keyring",
                               add[i] ? add[i] : "(NULL)");
    int have = 0;
    for (size_t j = 0; j < h->nrecipients && !have; j++)
      have = h->recipients[j].kind == DOCSTORE__V2_KIND_RSA_OAEP &&
             strcmp(h->recipients[j].kid, key->kid) == 0;
    for (size_t j = 0; j < m && !have; j++)
      have = add_keys[j] == key;
    if (have)
      continue;
    if (m >= DOCSTORE__V2_RECIPIENTS_MAX)
      break;
    add_keys[m++] = key;
  }
  if (n + m < 1 || n + m > DOCSTORE__V2_RECIPIENTS_MAX)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "docstore_envelope_rewrap_header: %zu "
                             "recipients would remain (1 to 64 allowed)",
                             n + m);
  *nbodies = n;
  *nadd = m;
  return 0;
}

static int rewrap_header(docstore__buf *b, const docstore__v2_header *h,
                         const docstore_keyring *kr, const char *const *add,
                         size_t add_count, const char *const *remove,
                         size_t remove_count, docstore__err *err) {
  docstore__v2_keys k;
  body bodies[DOCSTORE__V2_RECIPIENTS_MAX] = {{0}};
  const docstore__key *add_keys[DOCSTORE__V2_RECIPIENTS_MAX];
  size_t n = 0, m = 0;
  uint8_t *store = NULL;
  draft d = {h->flags,        h->seg_exp, h->salt,
             h->nonce_prefix, h->file_id, h->user_id};
  int rc = docstore__v2_header_unlock(&k, NULL, h, kr, NULL, err);
  if (rc == 0)
    rc = plan_recipients(bodies, &n, add_keys, &m, h, kr, add, add_count,
                         remove, remove_count, err);
  if (rc == 0 && m > 0)
    rc = oaep_bodies(bodies + n, &store, add_keys, m, k.dk, err);
  if (rc == 0)
    rc = write_header(b, &d, bodies, n + m, &k, err);
  docstore_free(store);
  OPENSSL_cleanse(&k, sizeof(k));
  return rc;
}

int docstore_envelope_rewrap_header(uint8_t **out, size_t *out_len,
                                    size_t *old_header_len,
                                    const docstore_keyring *kr,
                                    const uint8_t *header, size_t header_len,
                                    const char *const *add, size_t add_count,
                                    const char *const *remove,
                                    size_t remove_count) {
  docstore__err e = {0, ""};
  docstore__buf b = DOCSTORE__BUF_INIT_PUBLIC;
  docstore__v2_header *h = NULL;
  int rc;
  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (old_header_len)
    *old_header_len = 0;
  if (!out || !out_len || !old_header_len || !kr || !header ||
      (add_count && !add) || (remove_count && !remove))
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_envelope_rewrap_header: NULL argument");
  h = docstore__alloc_ex(sizeof(*h), DOCSTORE__MEM_PUBLIC);
  if (!h)
    return docstore__err_set(&e, DOCSTORE_ENOMEM, "out of memory");
  DOCSTORE__GUARD_GOTO(rc, docstore__v2_header_parse(h, header, header_len, &e),
                       done);
  DOCSTORE__GUARD_GOTO(
      rc, rewrap_header(&b, h, kr, add, add_count, remove, remove_count, &e),
      done);
  *old_header_len = h->header_len;
  *out = docstore__buf_detach(&b, out_len);
done:
  docstore__buf_free(&b);
  docstore_free(h);
  return rc;
}

/* docstore_envelope_rewrap() of a v2 envelope: every recipient replaced by
 * `to`; the segments are authenticated first and kept as they are. */
int docstore__v2_rewrap_buffer(char **out, size_t *out_len,
                               const docstore_keyring *kr, const uint8_t *env,
                               size_t env_len, const char *to_kid,
                               docstore__err *err) {
  docstore__buf b = DOCSTORE__BUF_INIT_PUBLIC;
  docstore__v2_header *h = NULL;
  const char *star = "*";
  int rc;
  h = docstore__alloc_ex(sizeof(*h), DOCSTORE__MEM_PUBLIC);
  if (!h)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  DOCSTORE__GUARD_GOTO(rc, docstore__v2_header_parse(h, env, env_len, err),
                       done);
  DOCSTORE__GUARD_GOTO(rc, docstore__v2_verify_buffer(kr, env, env_len, err),
                       done);
  DOCSTORE__GUARD_GOTO(rc, rewrap_header(&b, h, kr, &to_kid, 1, &star, 1, err),
                       done);
  DOCSTORE__GUARD_GOTO(
      rc,
      docstore__buf_append(&b, env + h->header_len, env_len - h->header_len),
      nomem);
  *out = (char *)docstore__buf_detach(&b, out_len);
  goto done;
nomem:
  docstore__err_set(err, rc, "out of memory building the envelope");
done:
  docstore__buf_free(&b);
  docstore_free(h);
  return rc;
}
