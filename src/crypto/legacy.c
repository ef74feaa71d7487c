/*
 * libdocstore - reader for the legacy envelopes of the Python backend.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The Python service wrote {"enc_session_key", "nonce", "tag",
 * "ciphertext"} (base64), with PyCryptodome's defaults: PKCS1_OAEP (SHA-1
 * and MGF1-SHA-1, no label) around a 16- or 32-byte session key, and
 * AES.MODE_GCM (16-byte nonce, 16-byte tag, no associated data).  There is
 * no key id: every private key of the right size is tried.  This library
 * reads the format and never writes it (docs/FORMAT.md, "Legacy").
 */
#include "crypto_internal.h"

int docstore__legacy_parse(docstore__envelope *env, docstore__err *err) {
  DOCSTORE__GUARD(docstore__member_b64(env->wrapped, &env->wrapped_len, 1,
                                       DOCSTORE__RSA_MAX_BYTES, env->m,
                                       DOCSTORE__M_ENC_SESSION_KEY, err));
  DOCSTORE__GUARD(docstore__member_gcm(env, DOCSTORE__LEGACY_NONCE_LEN, err));
  env->format = DOCSTORE_ENVELOPE_LEGACY;
  env->alg = DOCSTORE__ALG_LEGACY;
  return 0;
}

int docstore__legacy_unwrap(uint8_t key[DOCSTORE__AES_KEY_MAX], size_t *key_len,
                            const docstore_keyring *kr,
                            const docstore__envelope *env, docstore__err *err) {
  size_t tried = 0;
  *key_len = 0;
  for (size_t i = 0; i < kr->nkeys; i++) {
    const docstore__key *k = &kr->keys[i];
    if (!k->has_private ||
        (size_t)EVP_PKEY_get_size(k->pkey) != env->wrapped_len)
      continue;
    tried++;
    int rc = docstore__oaep_unwrap(key, key_len, k->pkey, "SHA1", env->wrapped,
                                   env->wrapped_len, err);
    if (rc == 0)
      return 0;
    if (rc != DOCSTORE_EINTEGRITY)
      return rc;
    /* OAEP padding did not verify: not this key, try the next one. */
  }
  if (tried == 0)
    return docstore__err_set(err, DOCSTORE_EKEY,
                             "legacy envelope: the keyring has no private "
                             "key of %zu bits",
                             env->wrapped_len * 8);
  return docstore__err_set(err, DOCSTORE_EKEY,
                           "legacy envelope: none of the %zu private key(s) "
                           "of the keyring unwraps its session key",
                           tried);
}
