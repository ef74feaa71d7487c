/*
 * libdocstore - hybrid envelope encryption: seal, open, rewrap, info.
 * SPDX-License-Identifier: Apache-2.0
 *
 * docs/FORMAT.md is the specification.  Notes on the implementation:
 *  - Sealing builds the JSON by hand in one docstore__buf reserved once:
 *    the document is encrypted in slices into a small scratch buffer and
 *    each slice is base64-encoded straight into the output, so there is no
 *    intermediate ciphertext copy.  The tag, known only at the end, has a
 *    fixed-size slot that is filled last.
 *  - Opening decodes the ciphertext in slices straight into the plaintext
 *    buffer and decrypts each slice in place.  The buffer is handed to the
 *    caller only after the GCM tag verified; on any failure it is wiped.
 *  - Every call uses its own EVP contexts: a loaded keyring is shared
 *    read-only by any number of threads.  Error detail goes to the calling
 *    thread's last error (there is no handle to hold it).
 */
#include <stddef.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "crypto_internal.h"

/* Slices: base64 text decoded per step when opening (a multiple of 4) and
 * document bytes encrypted per step when sealing (a multiple of 3, so the
 * slices' base64 encodings concatenate). */
#define OPEN_SLICE_B64 ((size_t)1 << 18)
#define SEAL_SLICE ((size_t)3 << 16)

/* Base64 of a 16-byte tag: 24 characters. */
#define TAG_B64_LEN 24
/* Everything in a v1 envelope but the four base64 values fits in this. */
#define HEADER_ROOM 1024

/* One message for "the key does not unwrap" and "the tag does not verify":
 * an attacker probing with modified envelopes learns nothing from it. */
static const char integrity_msg[] =
    "integrity check failed: the envelope was modified, or was not sealed "
    "for this key";

static const EVP_CIPHER *gcm_cipher(size_t key_len) {
  switch (key_len) {
  case 16:
    return EVP_aes_128_gcm();
  case 24:
    return EVP_aes_192_gcm();
  case 32:
    return EVP_aes_256_gcm();
  default:
    return NULL;
  }
}

static int doc_id_check(const docstore_doc_id *doc, const char *what,
                        docstore__err *e) {
  if (!doc)
    return 0;
  if (!docstore__id_valid(doc->file_id))
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "%s: file_id must be 1 to 64 characters from "
                             "[A-Za-z0-9_-]",
                             what);
  if (doc->user_id && !docstore__id_valid(doc->user_id))
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "%s: user_id must be NULL or 1 to 64 characters "
                             "from [A-Za-z0-9_-]",
                             what);
  return 0;
}

/* ------------------------------------------------------------- writing */

static int put_id(docstore__buf *b, const char *id) {
  return id ? docstore__buf_printf(b, "\"%s\"", id)
            : docstore__buf_puts(b, "null");
}

/* Everything up to and including the opening quote of "tag". */
static int write_head(docstore__buf *b, const char *alg, const char *kid,
                      const char *file_id, const char *user_id,
                      const uint8_t *wrapped, size_t wrapped_len,
                      docstore__cursor nonce_b64) {
  DOCSTORE__GUARD(docstore__buf_printf(
      b,
      "{\"format\":\"" DOCSTORE__FORMAT_NAME "\",\"version\":1,\"alg\":\"%s\","
      "\"key_alg\":\"" DOCSTORE__KEY_ALG_OAEP256 "\",\"kid\":\"%s\","
      "\"file_id\":",
      alg, kid));
  DOCSTORE__GUARD(put_id(b, file_id));
  DOCSTORE__GUARD(docstore__buf_puts(b, ",\"user_id\":"));
  DOCSTORE__GUARD(put_id(b, user_id));
  DOCSTORE__GUARD(docstore__buf_puts(b, ",\"wrapped_key\":\""));
  DOCSTORE__GUARD(docstore__b64_append(b, wrapped, wrapped_len));
  DOCSTORE__GUARD(docstore__buf_puts(b, "\",\"nonce\":\""));
  DOCSTORE__GUARD(docstore__buf_append_cursor(b, nonce_b64));
  return docstore__buf_puts(b, "\",\"tag\":\"");
}

/* Reserve the whole envelope at once: HEADER_ROOM + base64 lengths. */
static int reserve_envelope(docstore__buf *b, size_t wrapped_len,
                            size_t ct_b64_len) {
  size_t w;
  DOCSTORE__GUARD(docstore__b64_len(&w, wrapped_len));
  if (ct_b64_len > SIZE_MAX - HEADER_ROOM - w)
    return DOCSTORE_ETOOBIG;
  return docstore__buf_reserve(b, HEADER_ROOM + w + ct_b64_len);
}

/* Encrypt the document in slices, appending the base64 ciphertext to b;
 * tag receives the GCM tag. */
static int gcm_seal_into(docstore__buf *b, uint8_t tag[DOCSTORE__GCM_TAG_LEN],
                         const uint8_t aes_key[32],
                         const uint8_t nonce[DOCSTORE__GCM_NONCE_LEN],
                         const char *aad, size_t aad_len, const uint8_t *pt,
                         size_t pt_len, docstore__err *e) {
  int rc = 0, outl = 0;
  uint8_t fin[16];
  size_t slice = pt_len < SEAL_SLICE ? pt_len : SEAL_SLICE;
  /* Holds ciphertext only. */
  uint8_t *scratch =
      docstore__alloc_ex(slice, DOCSTORE__MEM_PUBLIC | DOCSTORE__MEM_UNINIT);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!scratch || !ctx) {
    rc = docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
    goto done;
  }
  if (!EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, aes_key, nonce) ||
      !EVP_EncryptUpdate(ctx, NULL, &outl, (const uint8_t *)aad, (int)aad_len))
    goto crypto_fail;
  for (size_t off = 0; off < pt_len; off += slice) {
    size_t n = pt_len - off < slice ? pt_len - off : slice;
    if (!EVP_EncryptUpdate(ctx, scratch, &outl, pt + off, (int)n) ||
        (size_t)outl != n)
      goto crypto_fail;
    DOCSTORE__GUARD_GOTO(rc, docstore__b64_append(b, scratch, n), nomem);
  }
  if (!EVP_EncryptFinal_ex(ctx, fin, &outl) ||
      !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, DOCSTORE__GCM_TAG_LEN,
                           tag))
    goto crypto_fail;
  goto done;

crypto_fail:
  rc = docstore__ossl_err(e, DOCSTORE_ECRYPTO, "AES-GCM encryption failed");
  goto done;
nomem:
  docstore__err_set(e, rc, "out of memory building the envelope");
done:
  EVP_CIPHER_CTX_free(ctx);
  docstore_free(scratch);
  return rc;
}

int docstore__envelope_seal_with(char **out, size_t *out_len,
                                 const docstore__key *key,
                                 const uint8_t aes_key[32],
                                 const uint8_t nonce[DOCSTORE__GCM_NONCE_LEN],
                                 const uint8_t *plaintext, size_t plaintext_len,
                                 const docstore_doc_id *doc) {
  docstore__err e = {0, ""};
  /* An envelope holds no secret: released without a wipe. */
  docstore__buf b = DOCSTORE__BUF_INIT_PUBLIC;
  uint8_t wrapped[DOCSTORE__RSA_MAX_BYTES];
  size_t wrapped_len = 0, ct_b64_len;
  uint8_t tag[DOCSTORE__GCM_TAG_LEN];
  char nonce_b64[32], tag_b64[TAG_B64_LEN + 1];
  char aad[DOCSTORE__AAD_MAX];
  size_t aad_len;
  int rc;

  *out = NULL;
  if (out_len)
    *out_len = 0;
  DOCSTORE__GUARD(doc_id_check(doc, "docstore_envelope_seal", &e));
  if (plaintext_len > DOCSTORE__PLAINTEXT_MAX)
    return docstore__err_set(&e, DOCSTORE_ETOOBIG,
                             "document of %zu bytes exceeds the 1 GiB limit "
                             "of the in-memory envelope",
                             plaintext_len);
  const char *file_id = doc ? doc->file_id : NULL;
  const char *user_id = doc ? doc->user_id : NULL;

  DOCSTORE__GUARD(docstore__oaep_wrap(wrapped, &wrapped_len, key->pkey,
                                      "SHA256", aes_key, 32, &e));
  docstore__aad_build(aad, &aad_len, file_id, user_id);
  docstore__b64_encode(nonce_b64, nonce, DOCSTORE__GCM_NONCE_LEN);

  DOCSTORE__GUARD_GOTO(rc, docstore__b64_len(&ct_b64_len, plaintext_len),
                       nomem);
  DOCSTORE__GUARD_GOTO(rc, reserve_envelope(&b, wrapped_len, ct_b64_len),
                       nomem);
  DOCSTORE__GUARD_GOTO(rc,
                       write_head(&b, DOCSTORE__ALG_AES256GCM, key->kid,
                                  file_id, user_id, wrapped, wrapped_len,
                                  docstore__cursor_from_cstr(nonce_b64)),
                       nomem);
  /* The tag's slot, filled once the tag is known. */
  size_t tag_pos = b.len;
  DOCSTORE__GUARD_GOTO(rc,
                       docstore__buf_puts(&b, "========================"
                                              "\",\"ciphertext\":\""),
                       nomem);
  DOCSTORE__GUARD_GOTO(rc,
                       gcm_seal_into(&b, tag, aes_key, nonce, aad, aad_len,
                                     plaintext, plaintext_len, &e),
                       fail);
  docstore__b64_encode(tag_b64, tag, sizeof(tag));
  memcpy(b.data + tag_pos, tag_b64, TAG_B64_LEN);
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_puts(&b, "\"}"), nomem);
  /* The reserve's unused tail was never written: it holds whatever the
   * heap held before, and a public block is not wiped when freed. */
  if (b.data)
    memset(b.data + b.len, 0, b.cap - b.len);
  *out = (char *)docstore__buf_detach(&b, out_len);
  return 0;

nomem:
  docstore__err_set(&e, rc,
                    rc == DOCSTORE_ETOOBIG ? "envelope would be too large"
                                           : "out of memory building the "
                                             "envelope");
fail:
  docstore__buf_free(&b);
  return rc;
}

int docstore_envelope_seal(char **out, size_t *out_len,
                           const docstore_keyring *kr, const uint8_t *plaintext,
                           size_t plaintext_len, const docstore_doc_id *doc) {
  uint8_t aes_key[32], nonce[DOCSTORE__GCM_NONCE_LEN];
  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (!out || !kr || (!plaintext && plaintext_len > 0))
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_envelope_seal: NULL argument");
  const docstore__key *key = docstore__keyring_default(kr);
  if (!key)
    return docstore__err_set(NULL, DOCSTORE_EKEY,
                             "docstore_envelope_seal: the keyring has no "
                             "public key");
  if (RAND_bytes(aes_key, sizeof(aes_key)) != 1 ||
      RAND_bytes(nonce, sizeof(nonce)) != 1)
    return docstore__ossl_err(NULL, DOCSTORE_ECRYPTO,
                              "cannot draw a random key and nonce");
  int rc = docstore__envelope_seal_with(out, out_len, key, aes_key, nonce,
                                        plaintext, plaintext_len, doc);
  docstore__wipe(aes_key, sizeof(aes_key));
  return rc;
}

/* ------------------------------------------------------------- reading */

/* Recover the AES key: by key id for v1, by trying every private key for
 * legacy envelopes. */
static int unwrap_key(uint8_t key[DOCSTORE__AES_KEY_MAX], size_t *key_len,
                      const docstore_keyring *kr, const docstore__envelope *env,
                      docstore__err *e) {
  if (env->alg == DOCSTORE__ALG_LEGACY)
    return docstore__legacy_unwrap(key, key_len, kr, env, e);
  const docstore__key *k = docstore__keyring_find(kr, env->kid);
  if (!k || !k->has_private)
    return docstore__err_set(e, DOCSTORE_EKEY,
                             "no private key for key id %s in the keyring",
                             env->kid);
  int rc = docstore__oaep_unwrap(key, key_len, k->pkey, "SHA256", env->wrapped,
                                 env->wrapped_len, e);
  if (rc == 0 && env->alg == DOCSTORE__ALG_V1_AES256GCM && *key_len != 32)
    rc = DOCSTORE_EINTEGRITY;
  if (rc == DOCSTORE_EINTEGRITY)
    docstore__err_set(e, rc, "%s", integrity_msg);
  return rc;
}

/* The associated data of env: the v1 header bytes, or none. */
static void env_aad(char aad[DOCSTORE__AAD_MAX], size_t *aad_len,
                    const docstore__envelope *env) {
  *aad_len = 0;
  aad[0] = '\0';
  if (env->alg == DOCSTORE__ALG_V1_AES256GCM)
    docstore__aad_build(aad, aad_len, env->file_id, env->user_id);
}

/* Decode and decrypt the ciphertext slice by slice.  out: ct_len bytes
 * receiving the plaintext, or NULL to authenticate only (a scratch buffer
 * is used and wiped).  Returns 0, DOCSTORE_EFORMAT (bad base64),
 * DOCSTORE_EINTEGRITY (tag), DOCSTORE_ECRYPTO, DOCSTORE_ENOMEM.  On failure
 * out may hold unauthenticated bytes: the caller wipes it. */
static int gcm_open(uint8_t *out, const docstore__envelope *env,
                    const uint8_t *key, size_t key_len, docstore__err *e) {
  char aad[DOCSTORE__AAD_MAX];
  size_t aad_len, scratch_len = 0;
  uint8_t *scratch = NULL;
  uint8_t fin[16];
  int rc = 0, outl = 0;
  const EVP_CIPHER *cipher = gcm_cipher(key_len);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

  env_aad(aad, &aad_len, env);
  if (!out) {
    scratch_len = env->ct_len < OPEN_SLICE_B64 / 4 * 3 ? env->ct_len
                                                       : OPEN_SLICE_B64 / 4 * 3;
    scratch = docstore__alloc_ex(scratch_len, DOCSTORE__MEM_UNINIT);
  }
  if (!ctx || (!out && !scratch)) {
    rc = docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
    goto done;
  }
  if (!cipher || !EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) ||
      !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)env->nonce_len,
                           NULL) ||
      !EVP_DecryptInit_ex(ctx, NULL, NULL, key, env->nonce) ||
      (aad_len > 0 && !EVP_DecryptUpdate(ctx, NULL, &outl, (const uint8_t *)aad,
                                         (int)aad_len)))
    goto crypto_fail;

  docstore__cursor left = env->ct_b64, slice;
  size_t off = 0;
  while (left.len > 0) {
    (void)docstore__cursor_advance(
        &left, left.len < OPEN_SLICE_B64 ? left.len : OPEN_SLICE_B64, &slice);
    uint8_t *dst = out ? out + off : scratch;
    size_t n;
    if (docstore__b64_decode(dst, &n, (const char *)slice.ptr, slice.len,
                             left.len == 0) < 0) {
      rc = docstore__err_set(e, DOCSTORE_EFORMAT,
                             "envelope: member \"ciphertext\" is not valid "
                             "base64");
      goto done;
    }
    if (n > 0 &&
        (!EVP_DecryptUpdate(ctx, dst, &outl, dst, (int)n) || (size_t)outl != n))
      goto crypto_fail;
    off += n;
  }
  if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, DOCSTORE__GCM_TAG_LEN,
                           (void *)env->tag))
    goto crypto_fail;
  if (EVP_DecryptFinal_ex(ctx, fin, &outl) <= 0) {
    ERR_clear_error();
    rc = docstore__err_set(e, DOCSTORE_EINTEGRITY, "%s", integrity_msg);
  }
  goto done;

crypto_fail:
  rc = docstore__ossl_err(e, DOCSTORE_ECRYPTO, "AES-GCM decryption failed");
done:
  EVP_CIPHER_CTX_free(ctx);
  docstore_free(scratch); /* wipes the plaintext it held */
  return rc;
}

int docstore__identity_match(const char *file_id, const char *user_id,
                             const docstore_doc_id *expect, docstore__err *e) {
  if (!expect)
    return 0;
  if (!file_id)
    return docstore__err_set(e, DOCSTORE_EINTEGRITY,
                             "the envelope is not bound to a document, but "
                             "a document was expected");
  if (strcmp(file_id, expect->file_id) != 0)
    return docstore__err_set(e, DOCSTORE_EINTEGRITY,
                             "the envelope belongs to another document "
                             "(file_id differs)");
  if ((user_id == NULL) != (expect->user_id == NULL) ||
      (user_id && strcmp(user_id, expect->user_id) != 0))
    return docstore__err_set(e, DOCSTORE_EINTEGRITY,
                             "the envelope belongs to another document "
                             "(user_id differs)");
  return 0;
}

/* When the caller names the document it expects, a v1 "AES-256-GCM"
 * envelope must be bound to exactly that document (the binding itself is
 * authenticated by the tag).  Legacy and converted-legacy envelopes bind
 * nothing and are accepted (docs/FORMAT.md, "Identity"). */
static int identity_check(const docstore__envelope *env,
                          const docstore_doc_id *expect, docstore__err *e) {
  if (env->alg != DOCSTORE__ALG_V1_AES256GCM)
    return 0;
  return docstore__identity_match(env->file_id, env->user_id, expect, e);
}

int docstore_envelope_open(uint8_t **out, size_t *out_len,
                           const docstore_keyring *kr, const char *envelope,
                           size_t envelope_len, const docstore_doc_id *expect) {
  docstore__err e = {0, ""};
  docstore__envelope env;
  uint8_t key[DOCSTORE__AES_KEY_MAX];
  size_t key_len = 0;
  uint8_t *pt = NULL;
  int rc;

  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (!out || !out_len || !kr || !envelope)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_envelope_open: NULL argument");
  DOCSTORE__GUARD(doc_id_check(expect, "docstore_envelope_open", &e));
  if (docstore__v2_is_magic((const uint8_t *)envelope, envelope_len))
    return docstore__v2_open_buffer(out, out_len, kr, (const uint8_t *)envelope,
                                    envelope_len, expect, &e);
  DOCSTORE__GUARD(docstore__envelope_parse(&env, envelope, envelope_len, &e));
  DOCSTORE__GUARD_GOTO(rc, identity_check(&env, expect, &e), done);
  DOCSTORE__GUARD_GOTO(rc, unwrap_key(key, &key_len, kr, &env, &e), done);
  /* Every byte is written before the caller sees it (and the block is
   * wiped if decryption fails). */
  pt = docstore__alloc_ex(env.ct_len, DOCSTORE__MEM_UNINIT);
  if (!pt) {
    rc = docstore__err_set(&e, DOCSTORE_ENOMEM,
                           "out of memory for a %zu-byte document", env.ct_len);
    goto done;
  }
  rc = gcm_open(pt, &env, key, key_len, &e);
  if (rc < 0) {
    docstore_free(pt); /* wipes whatever was decrypted */
    goto done;
  }
  *out = pt;
  *out_len = env.ct_len;
done:
  docstore__wipe(key, sizeof(key));
  docstore__envelope_clear(&env);
  return rc;
}

int docstore_envelope_rewrap(char **out, size_t *out_len,
                             const docstore_keyring *kr, const char *envelope,
                             size_t envelope_len, const char *new_key_id) {
  docstore__err e = {0, ""};
  docstore__envelope env;
  docstore__buf b = DOCSTORE__BUF_INIT_PUBLIC;
  uint8_t key[DOCSTORE__AES_KEY_MAX];
  uint8_t wrapped[DOCSTORE__RSA_MAX_BYTES];
  size_t key_len = 0, wrapped_len = 0;
  int rc;

  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (!out || !kr || !envelope)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_envelope_rewrap: NULL argument");
  const docstore__key *to = new_key_id ? docstore__keyring_find(kr, new_key_id)
                                       : docstore__keyring_default(kr);
  if (!to)
    return docstore__err_set(&e, DOCSTORE_EKEY,
                             new_key_id ? "docstore_envelope_rewrap: no public "
                                          "key with the new key id"
                                        : "docstore_envelope_rewrap: the "
                                          "keyring has no public key");
  if (docstore__v2_is_magic((const uint8_t *)envelope, envelope_len))
    return docstore__v2_rewrap_buffer(
        out, out_len, kr, (const uint8_t *)envelope, envelope_len, to->kid, &e);
  DOCSTORE__GUARD(docstore__envelope_parse(&env, envelope, envelope_len, &e));
  DOCSTORE__GUARD_GOTO(rc, unwrap_key(key, &key_len, kr, &env, &e), done);
  /* Authenticate the whole envelope first: a rewrap never turns a damaged
   * envelope into a fresh-looking one. */
  DOCSTORE__GUARD_GOTO(rc, gcm_open(NULL, &env, key, key_len, &e), done);
  DOCSTORE__GUARD_GOTO(rc,
                       docstore__oaep_wrap(wrapped, &wrapped_len, to->pkey,
                                           "SHA256", key, key_len, &e),
                       done);

  /* Legacy envelopes become "AES-GCM-NOAAD": same ciphertext, nonce and
   * tag, no identity, key wrapped with OAEP-SHA256 under a key id. */
  const char *alg = env.alg == DOCSTORE__ALG_V1_AES256GCM
                        ? DOCSTORE__ALG_AES256GCM
                        : DOCSTORE__ALG_AESGCM_NOAAD;
  DOCSTORE__GUARD_GOTO(rc, reserve_envelope(&b, wrapped_len, env.ct_b64.len),
                       nomem);
  DOCSTORE__GUARD_GOTO(rc,
                       write_head(&b, alg, to->kid, env.file_id, env.user_id,
                                  wrapped, wrapped_len, env.nonce_b64),
                       nomem);
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_append_cursor(&b, env.tag_b64), nomem);
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_puts(&b, "\",\"ciphertext\":\""),
                       nomem);
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_append_cursor(&b, env.ct_b64), nomem);
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_puts(&b, "\"}"), nomem);
  /* The reserve's unused tail was never written: it holds whatever the
   * heap held before, and a public block is not wiped when freed. */
  if (b.data)
    memset(b.data + b.len, 0, b.cap - b.len);
  *out = (char *)docstore__buf_detach(&b, out_len);
  goto done;

nomem:
  docstore__err_set(&e, rc, "out of memory building the envelope");
done:
  docstore__buf_free(&b);
  docstore__wipe(key, sizeof(key));
  docstore__envelope_clear(&env);
  return rc;
}

/* ------------------------------------------------------------- info */

int docstore_envelope_info_init(docstore_envelope_info *info,
                                unsigned int version) {
  if (!info || version == 0 || version > DOCSTORE_ENVELOPE_INFO_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_envelope_info_init: NULL info or "
                             "unknown version %u",
                             version);
  /* A caller built against version 1 has the shorter struct. */
  memset(info, 0,
         version >= 2 ? sizeof(*info)
                      : offsetof(docstore_envelope_info, segment_size));
  info->version = version;
  return 0;
}

void docstore_envelope_info_clear(docstore_envelope_info *info) {
  if (!info)
    return;
  docstore_free(info->key_id);
  docstore_free(info->file_id);
  docstore_free(info->user_id);
  info->key_id = info->file_id = info->user_id = NULL;
}

static int info_get_v2(docstore_envelope_info *info, const uint8_t *env,
                       size_t env_len, docstore__err *e) {
  docstore__v2_header h;
  DOCSTORE__GUARD(docstore__v2_header_parse(&h, env, env_len, e));
  int rc = docstore__v2_info_fill(info, &h, env_len);
  if (rc == DOCSTORE_EINTEGRITY)
    return docstore__err_set(e, rc,
                             "envelope: its length does not fit its segment "
                             "layout (truncated or extended)");
  if (rc < 0)
    return docstore__err_set(e, rc, "out of memory");
  return 0;
}

int docstore_envelope_info_get(docstore_envelope_info *info,
                               const char *envelope, size_t envelope_len) {
  docstore__err e = {0, ""};
  docstore__envelope env;
  int rc = 0;

  if (!info || info->version == 0 ||
      info->version > DOCSTORE_ENVELOPE_INFO_VERSION)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_envelope_info_get: NULL info or "
                             "unknown info version");
  /* Not cleared: a caller may have set only `version` (crypto.h). */
  info->key_id = info->file_id = info->user_id = NULL;
  info->format = 0;
  info->plaintext_size = 0;
  if (info->version >= 2) {
    info->segment_size = 0;
    info->compressed = 0;
    info->recipients_count = 0;
  }
  if (!envelope)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_envelope_info_get: envelope is NULL");
  if (docstore__v2_is_magic((const uint8_t *)envelope, envelope_len))
    return info_get_v2(info, (const uint8_t *)envelope, envelope_len, &e);
  DOCSTORE__GUARD(docstore__envelope_parse(&env, envelope, envelope_len, &e));
  if ((env.kid && !(info->key_id = docstore__strdup(env.kid))) ||
      (env.file_id && !(info->file_id = docstore__strdup(env.file_id))) ||
      (env.user_id && !(info->user_id = docstore__strdup(env.user_id)))) {
    docstore_envelope_info_clear(info);
    rc = docstore__err_set(&e, DOCSTORE_ENOMEM, "out of memory");
  } else {
    info->format = env.format;
    info->plaintext_size = env.ct_len;
    if (info->version >= 2)
      info->recipients_count = 1;
  }
  docstore__envelope_clear(&env);
  return rc;
}
