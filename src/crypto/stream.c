/*
 * libdocstore - streaming sealer and opener (envelope v2; v1 and legacy
 * buffered).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Both are state machines driven by caller buffers (zstd's in/out style):
 * each call consumes what it can of `in` and writes what fits into `out`.
 * Memory is one segment (+16 tag bytes, +1 look-ahead byte), never the
 * document.  docs/ARCHITECTURE.md ("Streaming crypto") explains the
 * states; docs/FORMAT.md is the format.
 *
 * Speed: one EVP_CIPHER_CTX keyed once per envelope; each segment only
 * re-initialises the nonce.  When the caller's buffers hold whole segments
 * they are encrypted/decrypted straight between them; only segments that
 * straddle two calls go through the internal buffer (in place there).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
/* ZSTD_customMem, ZSTD_create[CD]Stream_advanced: stable for years and
 * exported by the shared library. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "crypto_internal.h"

#define TAG DOCSTORE__GCM_TAG_LEN

static const char integrity_msg[] =
    "integrity check failed: the envelope was modified, or was not sealed "
    "for this key";

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* Caller-side cursor over in/out buffers. */
typedef struct io {
  uint8_t *out;
  size_t cap, o;
  const uint8_t *in;
  size_t len, i;
} io;

/* The caller's buffers as an io.  NULL (allowed with a size of 0) becomes
 * an empty dummy, so that no memcpy() is ever given a NULL pointer (UB
 * even for 0 bytes). */
static uint8_t io_none[1];
static io io_make(uint8_t *out, size_t out_cap, const uint8_t *in,
                  size_t in_len) {
  io x = {out ? out : io_none, out ? out_cap : 0, 0,
          in ? in : io_none,   in ? in_len : 0,   0};
  return x;
}

/* zstd's windows hold plaintext: its memory comes from the library's
 * allocator as secret blocks, wiped when zstd frees them. */
static void *zstd_alloc(void *opaque, size_t n) {
  (void)opaque;
  return docstore__alloc_ex(n, DOCSTORE__MEM_UNINIT);
}

static void zstd_free(void *opaque, void *p) {
  (void)opaque;
  docstore_free(p);
}

static const ZSTD_customMem zstd_mem = {zstd_alloc, zstd_free, NULL};

/* ------------------------------------------------------------- identity */

/* A copy of an identity (the struct may be copied: no inner pointers). */
typedef struct id_copy {
  int set, has_user;
  char file_id[DOCSTORE__ID_MAX + 1];
  char user_id[DOCSTORE__ID_MAX + 1];
} id_copy;

static int id_copy_set(id_copy *c, const docstore_doc_id *d, const char *what,
                       docstore__err *e) {
  memset(c, 0, sizeof(*c));
  if (!d)
    return 0;
  if (!docstore__id_valid(d->file_id) ||
      (d->user_id && !docstore__id_valid(d->user_id)))
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "%s: file_id must be 1 to 64 characters and "
                             "user_id NULL or 1 to 64, from [A-Za-z0-9_-]",
                             what);
  docstore__strlcpy(c->file_id, d->file_id, sizeof(c->file_id));
  if (d->user_id)
    docstore__strlcpy(c->user_id, d->user_id, sizeof(c->user_id));
  c->has_user = d->user_id != NULL;
  c->set = 1;
  return 0;
}

/* The identity as a docstore_doc_id in *tmp, or NULL when none. */
static const docstore_doc_id *id_copy_get(const id_copy *c,
                                          docstore_doc_id *tmp) {
  if (!c->set)
    return NULL;
  tmp->file_id = c->file_id;
  tmp->user_id = c->has_user ? c->user_id : NULL;
  return tmp;
}

/* Arguments common to update/finish of a sealer or opener (the handle
 * itself checked by the caller): err its error record, dead set once it
 * failed. */
static int call_check(docstore__err *err, int dead, const uint8_t *out,
                      size_t out_cap, size_t *out_len, const uint8_t *in,
                      size_t in_len, size_t *in_used, int update,
                      const char *what) {
  if (out_len)
    *out_len = 0;
  if (in_used)
    *in_used = 0;
  if (!out_len || (!out && out_cap) ||
      (update && (!in_used || (!in && in_len)))) {
    docstore__err_set(err, DOCSTORE_EINVAL, "%s: NULL argument", what);
    return DOCSTORE_EINVAL;
  }
  if (dead) {
    docstore__err_set(err, DOCSTORE_EINVAL, "%s: an earlier call failed", what);
    return DOCSTORE_EINVAL;
  }
  return 0;
}

/* A NULL sealer or opener given to `what`. */
static int null_handle(size_t *out_len, size_t *in_used, const char *what) {
  if (out_len)
    *out_len = 0;
  if (in_used)
    *in_used = 0;
  docstore__err_set(NULL, DOCSTORE_EINVAL, "%s: NULL handle", what);
  return DOCSTORE_EINVAL;
}

/* ============================================================= sealer */

int docstore_seal_options_init(docstore_seal_options *o, unsigned int version) {
  if (!o || version == 0 || version > DOCSTORE_SEAL_OPTIONS_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_seal_options_init: NULL options or "
                             "unknown version %u",
                             version);
  docstore_seal_options d = DOCSTORE_SEAL_OPTIONS_INIT;
  *o = d;
  o->version = version;
  return 0;
}

struct docstore_sealer {
  docstore__err err;
  int format; /* 1 or 2 */
  int dead, finished;
  /* v2 */
  uint32_t seg;
  uint8_t nonce_prefix[DOCSTORE__V2_PREFIX_NONCE_LEN];
  uint32_t index; /* next segment */
  EVP_CIPHER_CTX *gcm;
  ZSTD_CStream *zc; /* NULL: not compressed */
  int zend;         /* the frame is complete (finish) */
  docstore__buf head;
  size_t head_off;
  uint8_t *stage; /* seg + 16: plaintext, then its ciphertext in place */
  size_t stage_len;
  size_t pend_off, pend_len; /* sealed bytes of stage to hand out */
  int have_la;               /* a byte read ahead, for the next segment */
  uint8_t la;
  int last_done;
  /* v1 */
  const docstore__key *v1key;
  id_copy v1doc;
  docstore__buf v1pt; /* the document (secret) */
  uint8_t *v1env;
  size_t v1env_len, v1env_off;
};

static int sealer_fail(docstore_sealer *s, int rc) {
  s->dead = 1;
  return rc;
}

static int resolve_recipients(const docstore__key **keys, size_t *nkeys,
                              const docstore_keyring *kr,
                              const docstore_seal_options *opts,
                              docstore__err *e) {
  size_t n = opts->recipients ? opts->recipients_count : 0;
  if (n > DOCSTORE__V2_RECIPIENTS_MAX)
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "docstore_sealer_new: more than 64 recipients");
  if (n == 0) {
    keys[0] = docstore__keyring_default(kr);
    if (!keys[0])
      return docstore__err_set(e, DOCSTORE_EKEY,
                               "docstore_sealer_new: the keyring has no "
                               "public key");
    *nkeys = 1;
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    keys[i] = docstore__keyring_find(kr, opts->recipients[i]);
    if (!keys[i])
      return docstore__err_set(e, DOCSTORE_EKEY,
                               "docstore_sealer_new: no public key %s in the "
                               "keyring",
                               opts->recipients[i] ? opts->recipients[i]
                                                   : "(NULL)");
    for (size_t j = 0; j < i; j++)
      if (keys[j] == keys[i])
        return docstore__err_set(e, DOCSTORE_EINVAL,
                                 "docstore_sealer_new: recipient %s given "
                                 "twice",
                                 keys[i]->kid);
  }
  *nkeys = n;
  return 0;
}

static int check_options(const docstore_seal_options *o, unsigned int *exp,
                         docstore__err *e) {
  if (o->version == 0 || o->version > DOCSTORE_SEAL_OPTIONS_VERSION)
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "docstore_sealer_new: unknown options version "
                             "%u",
                             o->version);
  if (o->format != 0 && o->format != DOCSTORE_ENVELOPE_V1 &&
      o->format != DOCSTORE_ENVELOPE_V2)
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "docstore_sealer_new: format must be 1 or 2");
  if (o->compression_level < 0 || o->compression_level > 19)
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "docstore_sealer_new: compression level must be "
                             "0 to 19");
  *exp = DOCSTORE__V2_SEG_EXP_DEFAULT;
  if (o->segment_size) {
    unsigned int k = 0;
    while (k < 31 && (1u << k) < o->segment_size)
      k++;
    if ((1u << k) != o->segment_size || k < DOCSTORE__V2_SEG_EXP_MIN ||
        k > DOCSTORE__V2_SEG_EXP_MAX)
      return docstore__err_set(e, DOCSTORE_EINVAL,
                               "docstore_sealer_new: segment size must be a "
                               "power of two from 4096 to 16777216");
    *exp = k;
  }
  if (o->format == DOCSTORE_ENVELOPE_V1 &&
      (o->segment_size || o->compression_level ||
       (o->recipients && o->recipients_count > 1)))
    return docstore__err_set(e, DOCSTORE_EINVAL,
                             "docstore_sealer_new: a v1 envelope has one "
                             "recipient, no segments and no compression");
  return 0;
}

static int sealer_v2_init(docstore_sealer *s, const docstore__key *const *keys,
                          size_t nkeys, unsigned int exp,
                          const docstore_seal_options *o, docstore__err *e) {
  uint8_t dk[32], salt[DOCSTORE__V2_SALT_LEN];
  docstore__v2_keys k;
  int rc = 0;
  s->seg = (uint32_t)1 << exp;
  s->head.flags = DOCSTORE__MEM_PUBLIC;
  s->stage = docstore__alloc_ex((size_t)s->seg + TAG, DOCSTORE__MEM_UNINIT);
  s->gcm = EVP_CIPHER_CTX_new();
  if (!s->stage || !s->gcm)
    return docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
  if (o->compression_level > 0) {
    s->zc = ZSTD_createCStream_advanced(zstd_mem);
    if (!s->zc || ZSTD_isError(ZSTD_CCtx_setParameter(
                      s->zc, ZSTD_c_compressionLevel, o->compression_level)))
      return docstore__err_set(e, DOCSTORE_ENOMEM,
                               "cannot set up the compressor");
  }
  if (RAND_bytes(dk, sizeof(dk)) != 1 || RAND_bytes(salt, sizeof(salt)) != 1 ||
      RAND_bytes(s->nonce_prefix, sizeof(s->nonce_prefix)) != 1)
    return docstore__ossl_err(e, DOCSTORE_ECRYPTO,
                              "cannot draw a random key, salt and nonce");
  rc = docstore__v2_header_build(&s->head, s->zc ? DOCSTORE__V2_FLAG_ZSTD : 0,
                                 exp, salt, s->nonce_prefix, o->doc, keys,
                                 nkeys, dk, e);
  if (rc == 0)
    rc = docstore__v2_derive(&k, dk, salt, e);
  if (rc == 0 &&
      !EVP_EncryptInit_ex(s->gcm, EVP_aes_256_gcm(), NULL, k.seg, NULL))
    rc = docstore__ossl_err(e, DOCSTORE_ECRYPTO, "AES-GCM set-up failed");
  OPENSSL_cleanse(dk, sizeof(dk));
  OPENSSL_cleanse(&k, sizeof(k));
  return rc;
}

int docstore_sealer_new(docstore_sealer **out, const docstore_keyring *kr,
                        const docstore_seal_options *opts) {
  docstore__err e = {0, ""};
  docstore_seal_options defaults = DOCSTORE_SEAL_OPTIONS_INIT;
  const docstore__key *keys[DOCSTORE__V2_RECIPIENTS_MAX];
  size_t nkeys = 0;
  unsigned int exp = DOCSTORE__V2_SEG_EXP_DEFAULT;
  if (out)
    *out = NULL;
  if (!out || !kr)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_sealer_new: NULL argument");
  if (!opts)
    opts = &defaults;
  DOCSTORE__GUARD(check_options(opts, &exp, &e));
  id_copy doc;
  DOCSTORE__GUARD(id_copy_set(&doc, opts->doc, "docstore_sealer_new", &e));
  DOCSTORE__GUARD(resolve_recipients(keys, &nkeys, kr, opts, &e));
  docstore_sealer *s = docstore__alloc(sizeof(*s));
  if (!s)
    return docstore__err_set(&e, DOCSTORE_ENOMEM, "out of memory");
  s->format = opts->format == DOCSTORE_ENVELOPE_V1 ? 1 : 2;
  int rc = 0;
  if (s->format == 1) {
    s->v1key = keys[0];
    s->v1doc = doc;
  } else {
    rc = sealer_v2_init(s, keys, nkeys, exp, opts, &e);
  }
  if (rc < 0) {
    docstore_sealer_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* Seal n plaintext bytes at src as segment s->index into dst (n + 16
 * bytes; dst may be src). */
static int seal_segment(docstore_sealer *s, uint8_t *dst, const uint8_t *src,
                        size_t n, int last) {
  uint8_t nonce[DOCSTORE__GCM_NONCE_LEN];
  int outl = 0;
  /* Segment indexes run 0 .. 2^32-1 (FORMAT.md): a non-last segment at
   * the highest index would leave no index for the last one. */
  if (!last && s->index >= UINT32_MAX)
    return docstore__err_set(&s->err, DOCSTORE_ETOOBIG,
                             "document exceeds 2^32 segments");
  docstore__v2_nonce(nonce, s->nonce_prefix, s->index, last);
  if (!EVP_EncryptInit_ex(s->gcm, NULL, NULL, NULL, nonce) ||
      (n > 0 && !EVP_EncryptUpdate(s->gcm, dst, &outl, src, (int)n)) ||
      !EVP_EncryptFinal_ex(s->gcm, dst + n, &outl) ||
      !EVP_CIPHER_CTX_ctrl(s->gcm, EVP_CTRL_GCM_GET_TAG, TAG, dst + n))
    return docstore__ossl_err(&s->err, DOCSTORE_ECRYPTO,
                              "AES-GCM encryption failed");
  s->index++;
  if (last)
    s->last_done = 1;
  return 0;
}

/* Hand out the header, then the sealed segment waiting in stage. */
static void sealer_drain(docstore_sealer *s, io *x) {
  if (s->head_off < s->head.len) {
    size_t n = min_sz(s->head.len - s->head_off, x->cap - x->o);
    memcpy(x->out + x->o, s->head.data + s->head_off, n);
    x->o += n;
    s->head_off += n;
    if (s->head_off < s->head.len)
      return;
  }
  if (s->pend_len == 0)
    return;
  size_t n = min_sz(s->pend_len - s->pend_off, x->cap - x->o);
  memcpy(x->out + x->o, s->stage + s->pend_off, n);
  x->o += n;
  s->pend_off += n;
  if (s->pend_off == s->pend_len) {
    s->pend_off = s->pend_len = 0;
    if (s->have_la) {
      s->stage[0] = s->la;
      s->stage_len = 1;
      s->have_la = 0;
    }
  }
}

static int sealer_busy(const docstore_sealer *s) {
  return s->head_off < s->head.len || s->pend_len > 0;
}

/* Seal the staged plaintext: straight into out when it fits, else in
 * place, to be drained. */
static int sealer_emit(docstore_sealer *s, io *x, int last) {
  size_t n = s->stage_len;
  if (!sealer_busy(s) && x->cap - x->o >= n + TAG) {
    DOCSTORE__GUARD(seal_segment(s, x->out + x->o, s->stage, n, last));
    x->o += n + TAG;
    s->stage_len = 0;
    if (s->have_la) {
      s->stage[0] = s->la;
      s->stage_len = 1;
      s->have_la = 0;
    }
    return 0;
  }
  DOCSTORE__GUARD(seal_segment(s, s->stage, s->stage, n, last));
  s->stage_len = 0;
  s->pend_off = 0;
  s->pend_len = n + TAG;
  return 0;
}

/* Plain (uncompressed) input. */
static int seal_plain(docstore_sealer *s, io *x) {
  for (;;) {
    sealer_drain(s, x);
    if (sealer_busy(s))
      return 0;
    /* Whole segments with at least one byte after them: straight from
     * the caller's input to its output. */
    if (s->stage_len == 0)
      while (x->len - x->i > s->seg && x->cap - x->o >= (size_t)s->seg + TAG) {
        DOCSTORE__GUARD(
            seal_segment(s, x->out + x->o, x->in + x->i, s->seg, 0));
        x->i += s->seg;
        x->o += (size_t)s->seg + TAG;
      }
    if (x->i == x->len)
      return 0;
    if (s->stage_len == s->seg) {
      /* More input follows: the staged segment is not the last. */
      s->la = x->in[x->i++];
      s->have_la = 1;
      DOCSTORE__GUARD(sealer_emit(s, x, 0));
      continue;
    }
    size_t n = min_sz(s->seg - s->stage_len, x->len - x->i);
    memcpy(s->stage + s->stage_len, x->in + x->i, n);
    s->stage_len += n;
    x->i += n;
  }
}

/* Compressed input: the zstd frame is cut into segments.  end: the input
 * is complete (ZSTD_e_end). */
static int seal_zstd(docstore_sealer *s, io *x, int end) {
  ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
  for (;;) {
    sealer_drain(s, x);
    if (sealer_busy(s) || s->zend)
      return 0;
    ZSTD_inBuffer ib = {x->in, x->len, x->i};
    ZSTD_outBuffer ob;
    size_t r, start = s->stage_len;
    if (s->stage_len < s->seg) {
      ob = (ZSTD_outBuffer){s->stage, s->seg, s->stage_len};
      r = ZSTD_compressStream2(s->zc, &ob, &ib, mode);
      s->stage_len = ob.pos;
    } else {
      /* A full segment: is there more compressed output after it? */
      ob = (ZSTD_outBuffer){&s->la, 1, 0};
      r = ZSTD_compressStream2(s->zc, &ob, &ib, mode);
      if (ob.pos == 1) {
        s->have_la = 1;
        x->i = ib.pos;
        DOCSTORE__GUARD(sealer_emit(s, x, 0));
        continue;
      }
    }
    if (ZSTD_isError(r))
      return docstore__err_set(&s->err, DOCSTORE_ENOMEM,
                               "compression failed: %s", ZSTD_getErrorName(r));
    int progress = ib.pos != x->i || s->stage_len != start;
    x->i = ib.pos;
    if (end && r == 0) {
      s->zend = 1;
      return 0;
    }
    if (!end && x->i == x->len && s->stage_len < s->seg)
      return 0;
    if (!progress) {
      if (end)
        return docstore__err_set(&s->err, DOCSTORE_ECRYPTO,
                                 "the compressor made no progress");
      return 0;
    }
  }
}

/* v1: the document is buffered, sealed at finish. */
static int seal_v1_update(docstore_sealer *s, io *x) {
  size_t n = x->len - x->i;
  if (n > DOCSTORE__PLAINTEXT_MAX - s->v1pt.len)
    return docstore__err_set(&s->err, DOCSTORE_ETOOBIG,
                             "document exceeds the 1 GiB limit of a v1 "
                             "envelope");
  if (docstore__buf_append(&s->v1pt, x->in + x->i, n) < 0)
    return docstore__err_set(&s->err, DOCSTORE_ENOMEM,
                             "out of memory buffering the document");
  x->i += n;
  return 0;
}

static int seal_v1_finish(docstore_sealer *s, io *x) {
  if (!s->v1env) {
    uint8_t key[32], nonce[DOCSTORE__GCM_NONCE_LEN];
    char *env = NULL;
    docstore_doc_id tmp;
    if (RAND_bytes(key, sizeof(key)) != 1 ||
        RAND_bytes(nonce, sizeof(nonce)) != 1)
      return docstore__ossl_err(&s->err, DOCSTORE_ECRYPTO,
                                "cannot draw a random key and nonce");
    int rc = docstore__envelope_seal_with(&env, &s->v1env_len, s->v1key, key,
                                          nonce, s->v1pt.data, s->v1pt.len,
                                          id_copy_get(&s->v1doc, &tmp));
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0)
      return docstore__err_set(&s->err, rc, "%s", docstore_last_errmsg());
    s->v1env = (uint8_t *)env;
    docstore__buf_free(&s->v1pt);
  }
  size_t n = min_sz(s->v1env_len - s->v1env_off, x->cap - x->o);
  memcpy(x->out + x->o, s->v1env + s->v1env_off, n);
  x->o += n;
  s->v1env_off += n;
  return s->v1env_off < s->v1env_len;
}

int docstore_sealer_update(docstore_sealer *s, uint8_t *out, size_t out_cap,
                           size_t *out_len, const uint8_t *in, size_t in_len,
                           size_t *in_used) {
  if (!s)
    return null_handle(out_len, in_used, "docstore_sealer_update");
  DOCSTORE__GUARD(call_check(&s->err, s->dead, out, out_cap, out_len, in,
                             in_len, in_used, 1, "docstore_sealer_update"));
  if (s->finished)
    return docstore__err_set(&s->err, DOCSTORE_EINVAL,
                             "docstore_sealer_update: called after finish");
  io x = io_make(out, out_cap, in, in_len);
  int rc = s->format == 1 ? seal_v1_update(s, &x)
           : s->zc        ? seal_zstd(s, &x, 0)
                          : seal_plain(s, &x);
  *out_len = x.o;
  *in_used = x.i;
  return rc < 0 ? sealer_fail(s, rc) : 0;
}

int docstore_sealer_finish(docstore_sealer *s, uint8_t *out, size_t out_cap,
                           size_t *out_len) {
  if (!s)
    return null_handle(out_len, NULL, "docstore_sealer_finish");
  DOCSTORE__GUARD(call_check(&s->err, s->dead, out, out_cap, out_len, NULL, 0,
                             NULL, 0, "docstore_sealer_finish"));
  io x = io_make(out, out_cap, NULL, 0);
  int rc = 0;
  s->finished = 1;
  if (s->format == 1) {
    rc = seal_v1_finish(s, &x);
  } else {
    if (s->zc)
      rc = seal_zstd(s, &x, 1);
    sealer_drain(s, &x);
    if (rc == 0 && !sealer_busy(s) && !s->last_done && (!s->zc || s->zend)) {
      rc = sealer_emit(s, &x, 1);
      sealer_drain(s, &x);
    }
    if (rc == 0)
      rc = (sealer_busy(s) || !s->last_done) ? 1 : 0;
  }
  *out_len = x.o;
  return rc < 0 ? sealer_fail(s, rc) : rc;
}

const char *docstore_sealer_errmsg(const docstore_sealer *s) {
  return s ? s->err.msg : "sealer is NULL";
}

void docstore_sealer_free(docstore_sealer *s) {
  if (!s)
    return;
  EVP_CIPHER_CTX_free(s->gcm); /* wipes the key schedule */
  ZSTD_freeCStream(s->zc);
  docstore__buf_free(&s->head);
  docstore_free(s->stage); /* secret: wiped */
  docstore__buf_free(&s->v1pt);
  docstore_free(s->v1env);
  docstore_free(s);
}

/* ============================================================= opener */

enum {
  O_DETECT,   /* nothing read yet */
  O_HEADER,   /* reading a v2 header */
  O_SEGMENTS, /* v2 segments */
  O_JSON,     /* v1 or legacy: buffering */
  O_DONE
};

struct docstore_opener {
  docstore__err err;
  const docstore_keyring *kr;
  id_copy expect;
  int state, dead;
  /* v2 header */
  docstore__buf hbuf;
  size_t hneed;
  docstore__v2_header *h;
  docstore_envelope_info info; /* version 2 fields */
  int have_info;
  /* v2 segments */
  uint32_t seg;
  size_t sw; /* wire size of a full segment */
  int compressed;
  uint64_t index;
  uint64_t last_index; /* UINT64_MAX: unknown (look-ahead) */
  size_t last_wire;    /* wire size of the last segment when known */
  EVP_CIPHER_CTX *gcm;
  uint8_t *wbuf; /* sw + 1: a segment and a look-ahead byte */
  size_t wlen;
  size_t pt_off, pt_len; /* verified plaintext in wbuf to hand out */
  int have_la;
  uint8_t la;
  int last_seen; /* the last segment verified */
  ZSTD_DStream *zd;
  int zdone;  /* the frame ended */
  int zflush; /* the decompressor may hold output */
  /* v1, legacy */
  docstore__buf jbuf;
  uint8_t *jpt;
  size_t jpt_len, jpt_off;
};

static int opener_fail(docstore_opener *o, int rc) {
  o->dead = 1;
  if (o->wbuf)
    OPENSSL_cleanse(o->wbuf, o->sw + 1);
  o->pt_len = o->pt_off = 0;
  return rc;
}

int docstore_opener_new(docstore_opener **out, const docstore_keyring *kr,
                        const docstore_doc_id *expect) {
  docstore__err e = {0, ""};
  if (out)
    *out = NULL;
  if (!out || !kr)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_opener_new: NULL argument");
  id_copy c;
  DOCSTORE__GUARD(id_copy_set(&c, expect, "docstore_opener_new", &e));
  docstore_opener *o = docstore__alloc(sizeof(*o));
  if (!o)
    return docstore__err_set(&e, DOCSTORE_ENOMEM, "out of memory");
  o->kr = kr;
  o->expect = c;
  o->hbuf.flags = DOCSTORE__MEM_PUBLIC;
  o->jbuf.flags = DOCSTORE__MEM_PUBLIC;
  o->last_index = UINT64_MAX;
  o->info.version = DOCSTORE_ENVELOPE_INFO_VERSION;
  *out = o;
  return 0;
}

/* The header is complete in hbuf: authenticate it, set up the segments. */
static int opener_start_segments(docstore_opener *o) {
  docstore__v2_keys k;
  docstore__err *e = &o->err;
  o->h = docstore__alloc_ex(sizeof(*o->h), DOCSTORE__MEM_PUBLIC);
  if (!o->h)
    return docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
  DOCSTORE__GUARD(
      docstore__v2_header_parse(o->h, o->hbuf.data, o->hbuf.len, e));
  docstore_doc_id tmp;
  size_t which = 0;
  DOCSTORE__GUARD(docstore__v2_header_unlock(&k, &which, o->h, o->kr,
                                             id_copy_get(&o->expect, &tmp), e));
  o->gcm = EVP_CIPHER_CTX_new();
  int rc = 0;
  if (!o->gcm)
    rc = docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
  else if (!EVP_DecryptInit_ex(o->gcm, EVP_aes_256_gcm(), NULL, k.seg, NULL))
    rc = docstore__ossl_err(e, DOCSTORE_ECRYPTO, "AES-GCM set-up failed");
  OPENSSL_cleanse(&k, sizeof(k));
  DOCSTORE__GUARD(rc);
  o->seg = o->h->segment_size;
  o->sw = (size_t)o->seg + TAG;
  o->compressed = (o->h->flags & DOCSTORE__V2_FLAG_ZSTD) != 0;
  o->wbuf = docstore__alloc_ex(o->sw + 1, DOCSTORE__MEM_UNINIT);
  if (!o->wbuf)
    return docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
  if (o->compressed) {
    o->zd = ZSTD_createDStream_advanced(zstd_mem);
    if (!o->zd ||
        ZSTD_isError(ZSTD_DCtx_setParameter(o->zd, ZSTD_d_windowLogMax,
                                            DOCSTORE__V2_ZSTD_WINDOW_LOG_MAX)))
      return docstore__err_set(e, DOCSTORE_ENOMEM,
                               "cannot set up the decompressor");
  }
  /* key_id: the recipient whose key opened it. */
  char *kid = docstore__strdup(o->h->recipients[which].kid);
  if (!kid || docstore__v2_info_fill(&o->info, o->h, UINT64_MAX) < 0) {
    docstore_free(kid);
    return docstore__err_set(e, DOCSTORE_ENOMEM, "out of memory");
  }
  docstore_free(o->info.key_id);
  o->info.key_id = kid;
  o->have_info = 1;
  o->state = O_SEGMENTS;
  return 0;
}

/* Collect the header. */
static int open_header(docstore_opener *o, io *x) {
  while (x->i < x->len) {
    size_t want = o->hneed ? o->hneed : DOCSTORE__V2_PREFIX_LEN;
    size_t n = min_sz(want - o->hbuf.len, x->len - x->i);
    if (docstore__buf_append(&o->hbuf, x->in + x->i, n) < 0)
      return docstore__err_set(&o->err, DOCSTORE_ENOMEM, "out of memory");
    x->i += n;
    if (o->hbuf.len < want)
      return 0;
    if (!o->hneed) {
      DOCSTORE__GUARD(docstore__v2_header_size(&o->hneed, o->hbuf.data,
                                               o->hbuf.len, &o->err));
      continue;
    }
    return opener_start_segments(o);
  }
  return 0;
}

/* Open segment o->index: wire bytes at src (ciphertext, tag), plaintext to
 * dst (may be src).  On failure dst is wiped. */
static int open_segment(docstore_opener *o, uint8_t *dst, const uint8_t *src,
                        size_t wire, int last) {
  uint8_t nonce[DOCSTORE__GCM_NONCE_LEN];
  int outl = 0;
  size_t n = wire - TAG;
  if (o->index > UINT32_MAX)
    return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                             "integrity check failed: more than 2^32 "
                             "segments");
  docstore__v2_nonce(nonce, o->h->nonce_prefix, (uint32_t)o->index, last);
  if (!EVP_DecryptInit_ex(o->gcm, NULL, NULL, NULL, nonce) ||
      (n > 0 && !EVP_DecryptUpdate(o->gcm, dst, &outl, src, (int)n)) ||
      !EVP_CIPHER_CTX_ctrl(o->gcm, EVP_CTRL_GCM_SET_TAG, TAG,
                           (void *)(src + n))) {
    OPENSSL_cleanse(dst, n);
    return docstore__ossl_err(&o->err, DOCSTORE_ECRYPTO,
                              "AES-GCM decryption failed");
  }
  if (EVP_DecryptFinal_ex(o->gcm, dst + n, &outl) <= 0) {
    ERR_clear_error();
    OPENSSL_cleanse(dst, n);
    return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY, "%s (segment %llu)",
                             integrity_msg, (unsigned long long)o->index);
  }
  o->index++;
  if (last)
    o->last_seen = 1;
  return 0;
}

/* The segment in wbuf is done with: keep only the look-ahead byte. */
static void wbuf_next(docstore_opener *o) {
  o->wlen = 0;
  if (o->have_la) {
    o->wbuf[0] = o->la;
    o->wlen = 1;
    o->have_la = 0;
  }
}

/* Hand out verified plaintext: copied, or through the decompressor. */
static int opener_drain(docstore_opener *o, io *x) {
  if (!o->compressed) {
    size_t n = min_sz(o->pt_len - o->pt_off, x->cap - x->o);
    memcpy(x->out + x->o, o->wbuf + o->pt_off, n);
    x->o += n;
    o->pt_off += n;
  } else {
    while ((o->pt_off < o->pt_len || o->zflush) && x->o < x->cap) {
      if (o->zdone)
        return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                                 "integrity check failed: data after the "
                                 "compressed frame");
      ZSTD_inBuffer ib = {o->wbuf, o->pt_len, o->pt_off};
      ZSTD_outBuffer ob = {x->out, x->cap, x->o};
      size_t r = ZSTD_decompressStream(o->zd, &ob, &ib);
      if (ZSTD_isError(r))
        return docstore__err_set(
            &o->err,
            ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation
                ? DOCSTORE_ENOMEM
                : DOCSTORE_EINTEGRITY,
            "integrity check failed: cannot decompress (%s)",
            ZSTD_getErrorName(r));
      int progress = ib.pos != o->pt_off || ob.pos != x->o;
      o->pt_off = ib.pos;
      o->zflush = ob.pos == ob.size;
      x->o = ob.pos;
      if (r == 0) {
        o->zdone = 1;
        o->zflush = 0;
      }
      if (!progress) {
        if (o->pt_off < o->pt_len)
          return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                                   "integrity check failed: bad compressed "
                                   "data (stalled)");
        o->zflush = 0; /* nothing was held back */
        break;
      }
    }
  }
  if (o->pt_off == o->pt_len && o->pt_len > 0) {
    OPENSSL_cleanse(o->wbuf, o->pt_len);
    o->pt_off = o->pt_len = 0;
    wbuf_next(o);
  }
  return 0;
}

static int opener_busy(const docstore_opener *o) {
  return o->pt_len > 0 || o->zflush;
}

/* Wire size of the segment o->index when it can be told, with *last; 0
 * when more input is needed to tell. */
static size_t segment_wire(const docstore_opener *o, size_t avail, int eof,
                           int *last) {
  *last = 0;
  if (o->last_index != UINT64_MAX) {
    *last = o->index == o->last_index;
    size_t w = *last ? o->last_wire : o->sw;
    return avail >= w ? w : 0;
  }
  if (avail > o->sw)
    return o->sw;
  if (eof) {
    *last = 1;
    return avail;
  }
  return 0;
}

/* Segment 0 of a compressed stream (n plaintext bytes in wbuf) must begin
 * with a zstd frame's magic: the decoder would otherwise pass over
 * skippable frames (FORMAT.md section 24).  Every segment but the last is
 * at least 4096 bytes, so segment 0 holds the stream's first 4 bytes unless
 * the stream is shorter than that. */
static int check_frame_magic(docstore_opener *o, size_t n) {
  static const uint8_t magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
  if (n >= sizeof(magic) && memcmp(o->wbuf, magic, sizeof(magic)) == 0)
    return 0;
  OPENSSL_cleanse(o->wbuf, n);
  return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                           "integrity check failed: the compressed stream "
                           "does not begin with a zstd frame");
}

/* The segment in wbuf (wire bytes) is complete: open it, into out when
 * the plaintext fits there and is not compressed, else in place. */
static int open_staged(docstore_opener *o, io *x, size_t wire, int last) {
  if (wire < TAG || (last && wire == TAG && o->index > 0))
    return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                             "integrity check failed: truncated envelope");
  size_t n = wire - TAG;
  if (o->wlen > wire) {
    o->la = o->wbuf[wire];
    o->have_la = 1;
  }
  if (!o->compressed && x->cap - x->o >= n) {
    DOCSTORE__GUARD(open_segment(o, x->out + x->o, o->wbuf, wire, last));
    x->o += n;
    wbuf_next(o);
    return 0;
  }
  int first = o->index == 0;
  DOCSTORE__GUARD(open_segment(o, o->wbuf, o->wbuf, wire, last));
  if (o->compressed && first)
    DOCSTORE__GUARD(check_frame_magic(o, n));
  o->pt_off = 0;
  o->pt_len = n;
  if (n == 0)
    wbuf_next(o);
  return 0;
}

static int open_segments(docstore_opener *o, io *x, int eof) {
  for (;;) {
    DOCSTORE__GUARD(opener_drain(o, x));
    if (opener_busy(o))
      return 0;
    if (o->last_seen) {
      if (x->i < x->len || o->wlen > 0)
        return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                                 "integrity check failed: data after the "
                                 "final segment");
      return 0;
    }
    int last;
    /* Whole segments straight from the caller's input to its output. */
    if (o->wlen == 0 && !o->compressed) {
      size_t w;
      while ((w = segment_wire(o, x->len - x->i, 0, &last)) > 0 &&
             x->cap - x->o >= w - TAG) {
        DOCSTORE__GUARD(open_segment(o, x->out + x->o, x->in + x->i, w, last));
        x->i += w;
        x->o += w - TAG;
        if (last)
          break;
      }
      if (o->last_seen)
        continue;
    }
    size_t w = segment_wire(o, o->wlen, eof && x->i == x->len, &last);
    if (w > 0 || (last && eof)) {
      if (last && o->wlen == 0)
        return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                                 "integrity check failed: truncated envelope "
                                 "(no final segment)");
      DOCSTORE__GUARD(open_staged(o, x, w, last));
      continue;
    }
    if (eof && x->i == x->len && o->last_index != UINT64_MAX)
      return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                               "integrity check failed: truncated envelope");
    if (x->i == x->len)
      return 0;
    size_t room = (o->last_index != UINT64_MAX ? o->sw : o->sw + 1) - o->wlen;
    size_t n = min_sz(room, x->len - x->i);
    memcpy(o->wbuf + o->wlen, x->in + x->i, n);
    o->wlen += n;
    x->i += n;
  }
}

/* v1 / legacy: buffer everything; open at finish. */
static int open_json_update(docstore_opener *o, io *x) {
  size_t n = x->len - x->i;
  if (n > DOCSTORE__OBJECT_MAX - o->jbuf.len)
    return docstore__err_set(&o->err, DOCSTORE_ETOOBIG,
                             "envelope exceeds the 1.5 GiB limit");
  if (docstore__buf_append(&o->jbuf, x->in + x->i, n) < 0)
    return docstore__err_set(&o->err, DOCSTORE_ENOMEM,
                             "out of memory buffering the envelope");
  x->i += n;
  return 0;
}

static int open_json_finish(docstore_opener *o, io *x) {
  if (o->jbuf.data) {
    docstore_doc_id tmp;
    int rc = docstore_envelope_open(&o->jpt, &o->jpt_len, o->kr,
                                    (const char *)o->jbuf.data, o->jbuf.len,
                                    id_copy_get(&o->expect, &tmp));
    if (rc < 0)
      return docstore__err_set(&o->err, rc, "%s", docstore_last_errmsg());
    rc = docstore_envelope_info_get(&o->info, (const char *)o->jbuf.data,
                                    o->jbuf.len);
    if (rc < 0)
      return docstore__err_set(&o->err, rc, "%s", docstore_last_errmsg());
    o->info.plaintext_size = 0;
    o->have_info = 1;
    docstore__buf_free(&o->jbuf);
  }
  size_t n = min_sz(o->jpt_len - o->jpt_off, x->cap - x->o);
  memcpy(x->out + x->o, o->jpt + o->jpt_off, n);
  x->o += n;
  o->jpt_off += n;
  return o->jpt_off < o->jpt_len;
}

static int opener_run(docstore_opener *o, io *x, int eof) {
  if (o->state == O_DETECT && x->i < x->len)
    o->state = docstore__v2_is_magic(x->in + x->i, 1) ? O_HEADER : O_JSON;
  if (o->state == O_HEADER)
    DOCSTORE__GUARD(open_header(o, x));
  if (o->state == O_SEGMENTS)
    return open_segments(o, x, eof);
  if (o->state == O_JSON)
    return open_json_update(o, x);
  if (o->state == O_DONE && x->i < x->len)
    return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                             "integrity check failed: data after the final "
                             "segment");
  return 0;
}

int docstore_opener_update(docstore_opener *o, uint8_t *out, size_t out_cap,
                           size_t *out_len, const uint8_t *in, size_t in_len,
                           size_t *in_used) {
  if (!o)
    return null_handle(out_len, in_used, "docstore_opener_update");
  DOCSTORE__GUARD(call_check(&o->err, o->dead, out, out_cap, out_len, in,
                             in_len, in_used, 1, "docstore_opener_update"));
  io x = io_make(out, out_cap, in, in_len);
  int rc = opener_run(o, &x, 0);
  *out_len = x.o;
  *in_used = x.i;
  return rc < 0 ? opener_fail(o, rc) : 0;
}

int docstore_opener_finish(docstore_opener *o, uint8_t *out, size_t out_cap,
                           size_t *out_len) {
  if (!o)
    return null_handle(out_len, NULL, "docstore_opener_finish");
  DOCSTORE__GUARD(call_check(&o->err, o->dead, out, out_cap, out_len, NULL, 0,
                             NULL, 0, "docstore_opener_finish"));
  io x = io_make(out, out_cap, NULL, 0);
  int rc = 0;
  switch (o->state) {
  case O_DETECT:
    rc = docstore__err_set(&o->err, DOCSTORE_EFORMAT,
                           "not an envelope: empty input");
    break;
  case O_HEADER:
    rc = docstore__err_set(&o->err, DOCSTORE_EFORMAT,
                           "envelope: truncated header");
    break;
  case O_SEGMENTS:
    rc = open_segments(o, &x, 1);
    if (rc == 0 && o->compressed && o->last_seen && !opener_busy(o) &&
        !o->zdone)
      rc = docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                             "integrity check failed: the compressed frame "
                             "is truncated");
    if (rc == 0)
      rc = (opener_busy(o) || !o->last_seen) ? 1 : 0;
    break;
  case O_JSON:
    rc = open_json_finish(o, &x);
    break;
  default:
    break;
  }
  *out_len = x.o;
  if (rc == 0)
    o->state = O_DONE;
  return rc < 0 ? opener_fail(o, rc) : rc;
}

int docstore_opener_info(const docstore_opener *o,
                         docstore_envelope_info *info) {
  docstore__err e = {0, ""};
  if (!o || !info || info->version == 0 ||
      info->version > DOCSTORE_ENVELOPE_INFO_VERSION)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_opener_info: NULL argument or unknown "
                             "info version");
  info->key_id = info->file_id = info->user_id = NULL;
  if (!o->have_info)
    return docstore__err_set(&e, DOCSTORE_EINVAL,
                             "docstore_opener_info: the header has not been "
                             "read yet");
  const docstore_envelope_info *s = &o->info;
  info->format = s->format;
  info->plaintext_size = 0;
  if (info->version >= 2) {
    info->segment_size = s->segment_size;
    info->compressed = s->compressed;
    info->recipients_count = s->recipients_count;
  }
  if ((s->key_id && !(info->key_id = docstore__strdup(s->key_id))) ||
      (s->file_id && !(info->file_id = docstore__strdup(s->file_id))) ||
      (s->user_id && !(info->user_id = docstore__strdup(s->user_id)))) {
    docstore_envelope_info_clear(info);
    return docstore__err_set(&e, DOCSTORE_ENOMEM, "out of memory");
  }
  return 0;
}

const char *docstore_opener_errmsg(const docstore_opener *o) {
  return o ? o->err.msg : "opener is NULL";
}

void docstore_opener_free(docstore_opener *o) {
  if (!o)
    return;
  EVP_CIPHER_CTX_free(o->gcm);
  ZSTD_freeDStream(o->zd);
  docstore__buf_free(&o->hbuf);
  docstore_free(o->h);
  docstore_free(o->wbuf); /* secret: wiped */
  docstore__buf_free(&o->jbuf);
  docstore_free(o->jpt);
  docstore_envelope_info_clear(&o->info);
  docstore_free(o);
}

int docstore__opener_layout(const docstore_opener *o, uint64_t *header_len,
                            uint32_t *segment_size, int *compressed) {
  if (!o || o->dead || o->state != O_SEGMENTS || !o->h)
    return DOCSTORE_EINVAL;
  if (header_len)
    *header_len = o->h->header_len;
  if (segment_size)
    *segment_size = o->seg;
  if (compressed)
    *compressed = o->compressed;
  return 0;
}

int docstore__opener_seek(docstore_opener *o, uint64_t index,
                          uint64_t object_size) {
  if (!o || o->dead || o->state != O_SEGMENTS || (o->compressed && index > 0))
    return docstore__err_set(o ? &o->err : NULL, DOCSTORE_EINVAL,
                             "cannot seek this opener to segment %llu",
                             (unsigned long long)index);
  uint64_t last_index = UINT64_MAX, n, pt;
  size_t last_wire = 0;
  if (object_size != UINT64_MAX) {
    if (object_size < o->h->header_len ||
        docstore__v2_layout(&n, &pt, object_size - o->h->header_len, o->seg) <
            0)
      return docstore__err_set(&o->err, DOCSTORE_EINTEGRITY,
                               "integrity check failed: impossible size "
                               "%llu for the segment size (truncated or "
                               "extended)",
                               (unsigned long long)object_size);
    last_index = n - 1;
    last_wire = (size_t)(object_size - o->h->header_len - (n - 1) * o->sw);
    if (index > last_index)
      return docstore__err_set(&o->err, DOCSTORE_EINVAL,
                               "segment %llu is beyond the last one (%llu)",
                               (unsigned long long)index,
                               (unsigned long long)last_index);
  } else if (index > UINT32_MAX) {
    return docstore__err_set(&o->err, DOCSTORE_EINVAL,
                             "segment index out of range");
  }
  OPENSSL_cleanse(o->wbuf, o->sw + 1);
  o->wlen = o->pt_off = o->pt_len = 0;
  o->have_la = o->last_seen = 0;
  o->index = index;
  o->last_index = last_index;
  o->last_wire = last_wire;
  if (o->zd) {
    (void)ZSTD_DCtx_reset(o->zd, ZSTD_reset_session_only);
    o->zdone = o->zflush = 0;
  }
  return 0;
}

/* ============================================================= buffers */

/* Run a whole envelope through an opener; the plaintext goes to b (NULL:
 * discarded through a scratch block). */
static int open_all(docstore__buf *b, const docstore_keyring *kr,
                    const uint8_t *env, size_t env_len,
                    const docstore_doc_id *expect, uint64_t size_hint,
                    docstore__err *err) {
  docstore_opener *o = NULL;
  uint8_t *scratch = NULL;
  size_t off = 0, room, got, used;
  int rc = docstore_opener_new(&o, kr, expect);
  if (rc < 0 || !o) {
    docstore__err_set(err, rc, "%s", docstore_last_errmsg());
    return rc < 0 ? rc : DOCSTORE_ENOMEM;
  }
  if (!b &&
      !(scratch = docstore__alloc_ex((size_t)1 << 16, DOCSTORE__MEM_UNINIT))) {
    rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    goto done;
  }
  for (;;) {
    uint8_t *dst = scratch;
    room = (size_t)1 << 16;
    if (b) {
      size_t want = size_hint && b->len == 0 ? (size_t)size_hint : room;
      if (docstore__buf_reserve(b, want) < 0) {
        rc = docstore__err_set(err, DOCSTORE_ENOMEM,
                               "out of memory for the document");
        goto done;
      }
      dst = b->data + b->len;
      room = b->cap - b->len - 1;
    }
    if (off < env_len) {
      rc = docstore_opener_update(o, dst, room, &got, env + off, env_len - off,
                                  &used);
      off += used;
    } else {
      rc = docstore_opener_finish(o, dst, room, &got);
    }
    if (rc < 0) {
      docstore__err_set(err, rc, "%s", o->err.msg);
      goto done;
    }
    if (b) {
      b->len += got;
      b->data[b->len] = '\0';
      if (b->len > DOCSTORE__PLAINTEXT_MAX) {
        rc = docstore__err_set(err, DOCSTORE_ETOOBIG,
                               "document exceeds the 1 GiB limit of the "
                               "in-memory calls");
        goto done;
      }
    }
    if (off == env_len && rc == 0 && o->state == O_DONE)
      break;
  }
done:
  docstore_opener_free(o);
  docstore_free(scratch);
  return rc < 0 ? rc : 0;
}

int docstore__v2_open_buffer(uint8_t **out, size_t *out_len,
                             const docstore_keyring *kr, const uint8_t *env,
                             size_t env_len, const docstore_doc_id *expect,
                             docstore__err *err) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  docstore_envelope_info info = {2, 0, NULL, NULL, NULL, 0, 0, 0, 0};
  docstore__v2_header h;
  uint64_t hint = 0;
  if (env_len > DOCSTORE__OBJECT_MAX)
    return docstore__err_set(err, DOCSTORE_ETOOBIG,
                             "envelope exceeds the 1.5 GiB limit");
  if (docstore__v2_header_parse(&h, env, env_len, err) == 0 &&
      docstore__v2_info_fill(&info, &h, env_len) == 0 && !info.compressed)
    hint = info.plaintext_size + 1;
  docstore_envelope_info_clear(&info);
  int rc = open_all(&b, kr, env, env_len, expect, hint, err);
  if (rc < 0) {
    docstore__buf_free(&b);
    return rc;
  }
  if (!b.data && docstore__buf_reserve(&b, 0) < 0)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  *out = docstore__buf_detach(&b, out_len);
  return 0;
}

int docstore__v2_verify_buffer(const docstore_keyring *kr, const uint8_t *env,
                               size_t env_len, docstore__err *err) {
  return open_all(NULL, kr, env, env_len, NULL, 0, err);
}
