/*
 * libdocstore - streaming documents: the writer and the reader.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Writer: plaintext -> docstore_sealer -> a fixed output buffer -> the
 * provider's streaming put (a transaction: nothing appears at the path
 * before commit).  Reader: the provider's streaming get -> a fixed input
 * buffer -> docstore_opener -> the caller's buffer.  Neither holds more
 * than its buffer and what the sealer or opener holds (one segment for
 * v2; the whole document for v1 and legacy envelopes), whatever the
 * document's size.  docs/ARCHITECTURE.md, "Streaming", draws the path.
 *
 * Errors: the handle keeps the detail of its failure (one thread uses a
 * handle at a time, so a plain record does), the service and the thread
 * get it too (docstore__service_finish()).  A failed handle stays failed:
 * later calls return the same code.  Only the cancel flag and the
 * counters are touched by other threads (atomics).
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto_internal.h"
#include "provider/provider_internal.h"
#include "service_internal.h"

/* Envelope bytes moved per provider call.  The buffers hold ciphertext
 * only (public memory, not wiped), so they are allocated zeroed: a block
 * handed back by the allocator may still hold what another part of the
 * process freed unwiped, and its unused tail would go back unwiped. */
#define STREAM_BUF ((size_t)256 << 10)
/* Plaintext staged by a reader of a v1 or legacy envelope at open. */
#define STAGE_BUF ((size_t)64 << 10)
/* What a ranged read fetches first: the header, in most envelopes (a
 * longer one is fetched again, whole). */
#define RANGE_HEAD ((uint64_t)64 << 10)
/* Plaintext between two progress reports. */
#define PROGRESS_STEP ((uint64_t)1 << 20)

/* ------------------------------------------------------------ common */

/* Progress and cancel state of a handle. */
typedef struct stream_progress {
  docstore_progress_cb cb;
  void *payload;
  uint64_t total;       /* UINT64_MAX: unknown */
  uint64_t next_report; /* plaintext count of the next report */
  atomic_int cancel;
  atomic_uint_fast64_t plain;  /* plaintext bytes consumed or released */
  atomic_uint_fast64_t stored; /* envelope bytes put or got */
} stream_progress;

static void progress_init(stream_progress *p, docstore_progress_cb cb,
                          void *payload, uint64_t total) {
  p->cb = cb;
  p->payload = payload;
  p->total = total;
  p->next_report = 0; /* a first report before any byte */
  atomic_init(&p->cancel, 0);
  atomic_init(&p->plain, 0);
  atomic_init(&p->stored, 0);
}

/* DOCSTORE_ECANCELED when cancelled (flag or callback), else 0.  The
 * callback runs at the first check, then when a step of plaintext has
 * passed, and always when `final`. */
static int progress_check(stream_progress *p, int final, docstore__err *err) {
  if (atomic_load(&p->cancel))
    return docstore__err_set(err, DOCSTORE_ECANCELED, "cancelled");
  uint64_t done = atomic_load(&p->plain);
  if (!p->cb || (!final && done < p->next_report))
    return 0;
  p->next_report = done + PROGRESS_STEP;
  if (p->cb(p->payload, done, p->total) != 0)
    return docstore__err_set(err, DOCSTORE_ECANCELED,
                             "cancelled by the progress callback");
  return 0;
}

static void progress_stats(const stream_progress *p, uint64_t *plain,
                           uint64_t *stored) {
  if (plain)
    *plain = p ? atomic_load(&p->plain) : 0;
  if (stored)
    *stored = p ? atomic_load(&p->stored) : 0;
}

/* ------------------------------------------------------------ writer */

enum { W_OPEN, W_COMMITTED, W_ABORTED, W_FAILED };

struct docstore_writer {
  docstore_service *svc;
  char *path;
  docstore_sealer *sealer;
  docstore__put_txn *txn;
  uint8_t *buf; /* STREAM_BUF bytes of envelope (public) */
  size_t fill;
  int state;
  int rc;               /* the failure, when W_FAILED */
  uint64_t seal_us;     /* time spent sealing */
  int sealed_counted;   /* the encryption was counted */
  stream_progress prog; /* first atomic members: cancel, counters */
  docstore__err err;
};

int docstore_write_options_init(docstore_write_options *opts,
                                unsigned int version) {
  if (!opts || version != DOCSTORE_WRITE_OPTIONS_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "write options: unknown version %u (expected %d)",
                             version, DOCSTORE_WRITE_OPTIONS_VERSION);
  docstore_write_options init = DOCSTORE_WRITE_OPTIONS_INIT;
  *opts = init;
  return 0;
}

/* Count the encryption once: success at commit, failure when sealing
 * failed. */
static void writer_count(docstore_writer *w, int rc) {
  if (w->sealed_counted)
    return;
  w->sealed_counted = 1;
  docstore__service_count(w->svc, DOCSTORE_OP_ENCRYPT, rc,
                          rc < 0 ? 0 : atomic_load(&w->prog.plain), w->seal_us);
}

/* Discard the provider's transaction and the sealer. */
static void writer_release(docstore_writer *w) {
  docstore__provider_put_abort(w->txn);
  w->txn = NULL;
  docstore_sealer_free(w->sealer);
  w->sealer = NULL;
}

/* The writer fails: the object is aborted, the detail (already in w->err)
 * goes to the service and the thread.  Returns rc. */
static int writer_fail(docstore_writer *w, int rc) {
  writer_release(w);
  w->state = W_FAILED;
  w->rc = rc;
  if (w->err.code != rc || !w->err.msg[0])
    docstore__err_set(&w->err, rc, "store %s: %s", w->path,
                      docstore_strerror(rc));
  return docstore__service_finish(w->svc, rc, &w->err);
}

/* A sealer failure: counted as a failed encryption. */
static int writer_seal_failed(docstore_writer *w, int rc) {
  docstore__err_set(&w->err, rc, "encrypt %s: %s", w->path,
                    docstore_sealer_errmsg(w->sealer));
  writer_count(w, rc);
  return writer_fail(w, rc);
}

/* Hand the buffered envelope bytes to the provider. */
static int writer_flush(docstore_writer *w) {
  if (w->fill == 0)
    return 0;
  int rc = docstore__provider_put_write(w->txn, w->buf, w->fill, &w->err);
  if (rc < 0)
    return rc;
  atomic_fetch_add(&w->prog.stored, w->fill);
  w->fill = 0;
  return 0;
}

/* Whether the writer takes calls; else the code to return. */
static int writer_usable(docstore_writer *w, const char *what) {
  if (!w)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "writer is NULL");
  if (w->state == W_FAILED) {
    docstore__err_publish(&w->err);
    return w->rc;
  }
  if (w->state != W_OPEN)
    return docstore__err_set(&w->err, DOCSTORE_EINVAL,
                             "%s: the writer was already %s", what,
                             w->state == W_COMMITTED ? "committed" : "aborted");
  return 0;
}

/* The recipients of a new document: the caller's; else for v2 the
 * default key and the service's extra recipients (in ids, which has room
 * for DOCSTORE__V2_RECIPIENTS_MAX); else none (the sealer takes the default
 * key). */
static void writer_recipients(docstore_seal_options *so,
                              const docstore_service *svc,
                              const docstore_write_options *o,
                              const char **ids) {
  const docstore__key *def = docstore__keyring_default(svc->keyring);
  size_t n = 0;
  if (o->recipients && o->recipients_count > 0) {
    so->recipients = o->recipients; /* the sealer checks them */
    so->recipients_count = o->recipients_count;
    return;
  }
  if (so->format != DOCSTORE_ENVELOPE_V2 || svc->nrecipients == 0 || !def)
    return;
  ids[n++] = def->kid;
  for (size_t i = 0; i < svc->nrecipients; i++)
    if (strcmp(svc->recipients[i], def->kid) != 0)
      ids[n++] = svc->recipients[i];
  so->recipients = ids;
  so->recipients_count = n;
}

/* An estimate of the envelope's size for the provider (0: unknown). */
static uint64_t envelope_estimate(uint64_t plain, int version,
                                  unsigned int segment_size) {
  if (plain == 0 || plain > UINT64_MAX / 2)
    return 0;
  if (version == 1) /* base64 and a JSON header */
    return plain / 3 * 4 + 4096;
  return plain + (plain / segment_size + 1) * 16 + 4096;
}

/* Check the options and fill seal options from them and the service. */
static int writer_seal_options(docstore_seal_options *so,
                               const docstore_service *svc,
                               const docstore_write_options *o,
                               docstore__err *err) {
  int version =
      o->envelope_version ? o->envelope_version : svc->envelope_version;
  int level =
      o->compression_level < 0 ? svc->compression_level : o->compression_level;
  if (version != 1 && version != 2)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "write options: envelope_version must be 0, 1 "
                             "or 2, got %d",
                             o->envelope_version);
  if (o->compression_level > 19 || o->compression_level < -1)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "write options: compression_level must be -1 "
                             "to 19, got %d",
                             o->compression_level);
  if (version == 1 && o->compression_level > 0)
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "compression needs envelope version 2");
  so->format = version == 1 ? DOCSTORE_ENVELOPE_V1 : DOCSTORE_ENVELOPE_V2;
  so->segment_size = version == 1 ? 0 : svc->segment_size;
  so->compression_level = version == 1 ? 0 : level;
  return 0;
}

int docstore_writer_begin(docstore_writer **out, docstore_service *svc,
                          const char *file_id, const char *filename,
                          const char *user_id,
                          const docstore_write_options *opts) {
  docstore_write_options defaults = DOCSTORE_WRITE_OPTIONS_INIT;
  docstore_seal_options so = DOCSTORE_SEAL_OPTIONS_INIT;
  docstore_put_options po = DOCSTORE_PUT_OPTIONS_INIT;
  const char *ids[DOCSTORE__V2_RECIPIENTS_MAX];
  docstore_writer *w = NULL;
  docstore__err err;
  int rc;

  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!opts)
    opts = &defaults;
  if (!out) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL, "store: out is NULL");
    goto fail;
  }
  *out = NULL;
  if (opts->version != DOCSTORE_WRITE_OPTIONS_VERSION) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "write options: unknown version %u", opts->version);
    goto fail;
  }
  DOCSTORE__GUARD_GOTO(
      rc,
      docstore__service_need_keyring(svc, "store", "RSA_PUBLIC_KEY_PATH", &err),
      fail);
  DOCSTORE__GUARD_GOTO(rc, writer_seal_options(&so, svc, opts, &err), fail);
  if (!(w = docstore__alloc(sizeof(*w))) ||
      !(w->buf = docstore__alloc_ex(STREAM_BUF, DOCSTORE__MEM_PUBLIC))) {
    rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "store: out of memory");
    goto fail;
  }
  w->svc = svc;
  docstore__err_clear(&w->err);
  progress_init(&w->prog, opts->progress, opts->progress_payload,
                opts->size_hint ? opts->size_hint : UINT64_MAX);
  /* The path first: a bad id is refused before any key is wrapped. */
  DOCSTORE__GUARD_GOTO(rc,
                       docstore__storage_path(&w->path, file_id, filename,
                                              user_id, (int64_t)time(NULL),
                                              &err),
                       fail);
  docstore_doc_id doc = {file_id, user_id};
  so.doc = &doc;
  writer_recipients(&so, svc, opts, ids);
  uint64_t start = docstore__now_us();
  rc = docstore_sealer_new(&w->sealer, svc->keyring, &so);
  w->seal_us += docstore__now_us() - start;
  if (rc < 0) {
    docstore__err_set(&err, rc, "encrypt %s: %s", w->path,
                      docstore_last_errmsg());
    w->sealed_counted = 1;
    docstore__service_count(svc, DOCSTORE_OP_ENCRYPT, rc, 0, w->seal_us);
    goto fail;
  }
  po.flags = opts->no_clobber ? DOCSTORE_PUT_NO_CLOBBER : 0;
  po.content_type = opts->content_type;
  po.size_hint = envelope_estimate(
      opts->size_hint, so.format == DOCSTORE_ENVELOPE_V1 ? 1 : 2,
      so.segment_size ? so.segment_size : DOCSTORE__SEGMENT_SIZE_DEFAULT);
  DOCSTORE__GUARD_GOTO(
      rc,
      docstore__provider_put_begin(svc->provider, w->path, &po, &w->txn, &err),
      fail);
  w->state = W_OPEN;
  *out = w;
  return 0;
fail:
  if (w) {
    writer_release(w);
    docstore_free(w->buf);
    docstore_free(w->path);
    docstore_free(w);
  }
  return docstore__service_finish(svc, rc, &err);
}

/* Seal `len` bytes (all of them) into the buffer, flushing it when full. */
static int writer_push(docstore_writer *w, const uint8_t *data, size_t len) {
  size_t off = 0;
  do {
    size_t used = 0, made = 0;
    uint64_t start = docstore__now_us();
    int rc = docstore_sealer_update(w->sealer, w->buf + w->fill,
                                    STREAM_BUF - w->fill, &made, data + off,
                                    len - off, &used);
    w->seal_us += docstore__now_us() - start;
    if (rc < 0)
      return writer_seal_failed(w, rc);
    off += used;
    w->fill += made;
    atomic_fetch_add(&w->prog.plain, used);
    /* Full, or the sealer waits for room: hand the bytes over. */
    if (w->fill == STREAM_BUF || (used == 0 && made == 0)) {
      if (w->fill == 0) {
        docstore__err_set(&w->err, DOCSTORE_ECRYPTO,
                          "encrypt: the sealer makes no progress");
        return writer_fail(w, DOCSTORE_ECRYPTO);
      }
      if ((rc = writer_flush(w)) < 0)
        return writer_fail(w, rc);
    }
    if ((rc = progress_check(&w->prog, 0, &w->err)) < 0)
      return writer_fail(w, rc);
  } while (off < len);
  return 0;
}

int docstore_writer_write(docstore_writer *w, const uint8_t *data, size_t len) {
  int rc = writer_usable(w, "write");
  if (rc < 0)
    return rc;
  if (!data && len > 0) {
    docstore__err_set(&w->err, DOCSTORE_EINVAL, "write: data is NULL");
    return writer_fail(w, DOCSTORE_EINVAL);
  }
  if ((rc = progress_check(&w->prog, 0, &w->err)) < 0)
    return writer_fail(w, rc);
  return len ? writer_push(w, data, len) : 0;
}

int docstore_writer_commit(docstore_writer *w, char **out_path) {
  int rc = writer_usable(w, "commit");
  if (out_path)
    *out_path = NULL;
  if (rc < 0)
    return rc;
  if ((rc = progress_check(&w->prog, 0, &w->err)) < 0)
    return writer_fail(w, rc);
  for (;;) {
    size_t made = 0;
    uint64_t start = docstore__now_us();
    rc = docstore_sealer_finish(w->sealer, w->buf + w->fill,
                                STREAM_BUF - w->fill, &made);
    w->seal_us += docstore__now_us() - start;
    if (rc < 0)
      return writer_seal_failed(w, rc);
    w->fill += made;
    int more = rc == 1;
    if (more && w->fill == 0) {
      docstore__err_set(&w->err, DOCSTORE_ECRYPTO,
                        "encrypt: the sealer makes no progress");
      return writer_fail(w, DOCSTORE_ECRYPTO);
    }
    if ((more || w->fill > 0) && (rc = writer_flush(w)) < 0)
      return writer_fail(w, rc);
    if (!more)
      break;
  }
  /* The last report: a callback may still cancel the document here. */
  if ((rc = progress_check(&w->prog, 1, &w->err)) < 0)
    return writer_fail(w, rc);
  docstore_sealer_free(w->sealer);
  w->sealer = NULL;
  docstore__put_txn *txn = w->txn;
  w->txn = NULL; /* freed by the commit, whatever its result */
  if ((rc = docstore__provider_put_commit(txn, &w->err)) < 0)
    return writer_fail(w, rc);
  writer_count(w, 0);
  w->state = W_COMMITTED;
  docstore__service_log_transfer(w->svc, 1, w->path);
  if (out_path && !(*out_path = docstore__strdup(w->path))) {
    /* The document is stored: only the copy of its path failed. */
    docstore__err_set(&w->err, DOCSTORE_ENOMEM, "commit: out of memory");
    return docstore__service_finish(w->svc, DOCSTORE_ENOMEM, &w->err);
  }
  return 0;
}

int docstore_writer_abort(docstore_writer *w) {
  if (!w)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "writer is NULL");
  if (w->state == W_COMMITTED)
    return docstore__err_set(&w->err, DOCSTORE_EINVAL,
                             "abort: the writer was already committed");
  writer_release(w);
  if (w->state == W_OPEN)
    w->state = W_ABORTED;
  return 0;
}

void docstore_writer_cancel(docstore_writer *w) {
  if (w)
    atomic_store(&w->prog.cancel, 1);
}

void docstore_writer_stats(const docstore_writer *w, uint64_t *plaintext_bytes,
                           uint64_t *stored_bytes) {
  progress_stats(w ? &w->prog : NULL, plaintext_bytes, stored_bytes);
}

const char *docstore_writer_errmsg(const docstore_writer *w) {
  return w ? w->err.msg : "invalid writer handle (NULL)";
}

void docstore_writer_free(docstore_writer *w) {
  if (!w)
    return;
  writer_release(w); /* aborts an object neither committed nor aborted */
  docstore_free(w->buf);
  docstore_free(w->path);
  docstore_free(w);
}

/* ------------------------------------------------------------ reader */

struct docstore_reader {
  docstore_service *svc;
  char *path;
  docstore_opener *opener;
  docstore__get_stream *st;
  uint8_t *in; /* STREAM_BUF bytes of envelope (public) */
  size_t in_pos, in_len;
  int in_eof;     /* the provider stream has ended */
  uint8_t *stage; /* v1/legacy: the whole plaintext (secret) */
  size_t stage_pos, stage_len;
  uint64_t skip;      /* plaintext bytes before the range, to drop */
  uint64_t remaining; /* bytes of the range left; UINT64_MAX: to the end */
  int to_end;         /* the range ends at the document's end */
  uint64_t size;      /* the document's plaintext size, when known */
  int size_known;
  int done;         /* the end was reached (and verified) */
  int rc;           /* the failure, when not 0 */
  uint64_t open_us; /* time spent opening */
  stream_progress prog;
  docstore__err err;
};

int docstore_read_options_init(docstore_read_options *opts,
                               unsigned int version) {
  if (!opts || version != DOCSTORE_READ_OPTIONS_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "read options: unknown version %u (expected %d)",
                             version, DOCSTORE_READ_OPTIONS_VERSION);
  docstore_read_options init = DOCSTORE_READ_OPTIONS_INIT;
  *opts = init;
  return 0;
}

static void reader_release(docstore_reader *r) {
  docstore__provider_get_close(r->st);
  r->st = NULL;
  docstore_opener_free(r->opener);
  r->opener = NULL;
  docstore_free(r->stage); /* wipes */
  r->stage = NULL;
  r->stage_pos = r->stage_len = 0;
}

/* Count the decryption once: at the end, or at the failure. */
static void reader_count(docstore_reader *r, int rc) {
  docstore__service_count(r->svc, DOCSTORE_OP_DECRYPT, rc,
                          rc < 0 ? 0 : atomic_load(&r->prog.plain), r->open_us);
}

/* The reader fails for good: the detail (in r->err) goes to the service
 * and the thread.  Returns rc. */
static int reader_fail(docstore_reader *r, int rc) {
  reader_release(r);
  r->rc = rc;
  if (r->err.code != rc || !r->err.msg[0])
    docstore__err_set(&r->err, rc, "read %s: %s", r->path,
                      docstore_strerror(rc));
  return docstore__service_finish(r->svc, rc, &r->err);
}

/* A decryption failure (counted as one, as docstore_envelope_open()'s
 * failures are), with `what` or the opener's detail. */
static int reader_decrypt_failed(docstore_reader *r, int rc, const char *what) {
  docstore__err_set(&r->err, rc, "decrypt %s: %s", r->path,
                    what ? what : docstore_opener_errmsg(r->opener));
  reader_count(r, rc);
  return reader_fail(r, rc);
}

/* Refill the input buffer once it is used up; sets in_eof at the end. */
static int reader_fill(docstore_reader *r) {
  size_t got = 0;
  if (r->in_pos < r->in_len || r->in_eof)
    return 0;
  int rc = docstore__provider_get_read(r->st, r->in, STREAM_BUF, &got, &r->err);
  if (rc < 0)
    return rc;
  r->in_pos = 0;
  r->in_len = got;
  r->in_eof = got == 0;
  atomic_fetch_add(&r->prog.stored, got);
  return 0;
}

/* Feed the opener; out may be NULL with cap 0.  *made receives the
 * plaintext written; the end of the envelope is *finished = 1. */
static int reader_step(docstore_reader *r, uint8_t *out, size_t cap,
                       size_t *made, int *finished) {
  int rc;
  *made = 0;
  *finished = 0;
  if ((rc = reader_fill(r)) < 0)
    return reader_fail(r, rc);
  uint64_t start = docstore__now_us();
  if (r->in_pos < r->in_len) {
    size_t used = 0;
    rc = docstore_opener_update(r->opener, out, cap, made, r->in + r->in_pos,
                                r->in_len - r->in_pos, &used);
    r->in_pos += used;
    if (rc == 0 && used == 0 && *made == 0 && cap > 0) {
      r->open_us += docstore__now_us() - start;
      return reader_decrypt_failed(r, DOCSTORE_ECRYPTO,
                                   "the opener makes no progress");
    }
  } else {
    rc = docstore_opener_finish(r->opener, out, cap, made);
    *finished = rc == 0;
    rc = rc == 1 ? 0 : rc;
  }
  r->open_us += docstore__now_us() - start;
  return rc < 0 ? reader_decrypt_failed(r, rc, NULL) : 0;
}

/* v2: consume the header, which the opener authenticates (recipient key,
 * commitment, tag, identity) before any segment.  EFORMAT from the
 * layout: the envelope is not v2. */
static int reader_header(docstore_reader *r, uint64_t *hlen, uint32_t *seg,
                         int *compressed) {
  for (;;) {
    if (docstore__opener_layout(r->opener, hlen, seg, compressed) == 0)
      return 0;
    size_t made;
    int finished, at_end = r->in_eof && r->in_pos == r->in_len;
    DOCSTORE__GUARD(reader_step(r, NULL, 0, &made, &finished));
    /* The opener's finish refuses a truncated header; in case it did not */
    if (at_end)
      return reader_decrypt_failed(r, DOCSTORE_EINTEGRITY,
                                   "truncated in the header");
  }
}

/* v1 or legacy: these cannot stream.  The whole envelope is read (at
 * most DOCSTORE__OBJECT_MAX bytes) and opened as docstore_envelope_open()
 * does; its plaintext becomes the stage the reads are served from. */
static int reader_open_whole(docstore_reader *r,
                             const docstore_doc_id *expect) {
  docstore__buf env = DOCSTORE__BUF_INIT_PUBLIC;
  int rc = docstore__buf_append(&env, r->in + r->in_pos, r->in_len - r->in_pos);
  r->in_pos = r->in_len;
  while (rc == 0 && !r->in_eof) {
    size_t got = 0;
    if (env.len > DOCSTORE__OBJECT_MAX) {
      rc = docstore__err_set(&r->err, DOCSTORE_ETOOBIG,
                             "read %s: a v1 envelope over %zu bytes", r->path,
                             (size_t)DOCSTORE__OBJECT_MAX);
      break;
    }
    if ((rc = docstore__buf_reserve(&env, STREAM_BUF)) < 0) {
      docstore__err_set(&r->err, rc, "read %s: out of memory", r->path);
      break;
    }
    rc = docstore__provider_get_read(r->st, env.data + env.len, STREAM_BUF,
                                     &got, &r->err);
    env.len += got;
    r->in_eof = got == 0;
    atomic_fetch_add(&r->prog.stored, got);
  }
  if (rc < 0) {
    docstore__buf_free(&env);
    return reader_fail(r, rc);
  }
  uint64_t start = docstore__now_us();
  rc = docstore_envelope_open(&r->stage, &r->stage_len, r->svc->keyring,
                              (const char *)env.data, env.len, expect);
  r->open_us += docstore__now_us() - start;
  docstore__buf_free(&env);
  if (rc < 0)
    return reader_decrypt_failed(r, rc, docstore_last_errmsg());
  r->size = r->stage_len;
  r->size_known = 1;
  return 0;
}

/* (Re)open the provider's stream at `from` for `len` bytes; the input
 * buffer starts empty. */
static int reader_reopen(docstore_reader *r, uint64_t from, uint64_t len) {
  docstore__provider_get_close(r->st);
  r->st = NULL;
  r->in_pos = r->in_len = 0;
  r->in_eof = 0;
  int rc = docstore__provider_get_open(r->svc->provider, r->path, from, len,
                                       &r->st, NULL, &r->err);
  return rc < 0 ? reader_fail(r, rc) : 0;
}

/* Continue a v2 envelope at segment `first`: the object reopened there
 * (wire offset from hlen) and the opener seeked to it. */
static int reader_at_segment(docstore_reader *r, uint64_t first, uint64_t from,
                             uint64_t len, uint64_t object_size) {
  DOCSTORE__GUARD(reader_reopen(r, from, len));
  int rc = docstore__opener_seek(r->opener, first, object_size);
  return rc < 0 ? reader_decrypt_failed(r, rc, docstore_last_errmsg()) : 0;
}

/* Set the range up on a v2 envelope whose header was read: continue at
 * the first segment the range needs, fetching only up to its last one.
 * `limited`: the stream open so far ends after the header. */
static int reader_seek(docstore_reader *r, const docstore_read_options *o,
                       uint64_t object_size, uint64_t hlen, uint32_t seg,
                       int limited) {
  uint64_t nseg = 0, pt = 0, wire = (uint64_t)seg + 16;
  if (object_size < hlen ||
      docstore__v2_layout(&nseg, &pt, object_size - hlen, seg) < 0)
    return reader_decrypt_failed(r, DOCSTORE_EINTEGRITY,
                                 "the object's length is impossible for its "
                                 "segment layout (truncated or extended)");
  r->size = pt;
  r->size_known = 1;
  uint64_t off = o->offset < pt ? o->offset : pt;
  uint64_t first = off / seg;
  if (first >= nseg)
    first = nseg - 1;
  r->skip = off - first * seg;
  uint64_t avail = pt - off;
  r->remaining = o->length && o->length < avail ? o->length : avail;
  r->to_end = off + r->remaining == pt;
  uint64_t last = r->to_end ? nseg - 1 : (off + r->remaining - 1) / seg;
  if (first == 0 && !limited)
    return 0; /* the stream already there serves */
  /* One byte more than the range's segments: an opener may look ahead to
   * know that a segment is not the last. */
  uint64_t len = r->to_end ? UINT64_MAX : (last - first + 1) * wire + 1;
  return reader_at_segment(r, first, hlen + first * wire, len, object_size);
}

static int reader_prepare(docstore_reader *r, const docstore_doc_id *expect,
                          const docstore_read_options *o) {
  uint64_t object_size = 0, hlen = 0;
  uint32_t seg = 0;
  int compressed = 0, rc;
  uint64_t start = docstore__now_us();
  rc = docstore_opener_new(&r->opener, r->svc->keyring, expect);
  r->open_us += docstore__now_us() - start;
  if (rc < 0) {
    docstore__err_set(&r->err, rc, "%s", docstore_last_errmsg());
    return reader_fail(r, rc);
  }
  /* A range: first the header alone, then only the segments it needs. */
  int ranged = o->offset != 0 || o->length != 0;
  size_t hsize = 0;
  if ((rc = docstore__provider_get_open(r->svc->provider, r->path, 0,
                                        ranged ? RANGE_HEAD : UINT64_MAX,
                                        &r->st, &object_size, &r->err)) < 0 ||
      (rc = reader_fill(r)) < 0)
    return reader_fail(r, rc);
  if (ranged && docstore__v2_is_magic(r->in, r->in_len) &&
      docstore_envelope_header_size(&hsize, r->in, r->in_len) == 0 &&
      hsize > RANGE_HEAD) {
    DOCSTORE__GUARD(reader_reopen(r, 0, hsize));
    if ((rc = reader_fill(r)) < 0)
      return reader_fail(r, rc);
  }
  r->remaining = o->length ? o->length : UINT64_MAX;
  r->to_end = o->length == 0;
  if (!docstore__v2_is_magic(r->in, r->in_len) || r->in_len == 0) {
    if (o->offset != 0) {
      docstore__err_set(&r->err, DOCSTORE_EUNSUPPORTED,
                        "ranged reads need a v2 envelope (this one is v1 or "
                        "legacy)");
      return reader_fail(r, DOCSTORE_EUNSUPPORTED);
    }
    if (ranged && object_size > RANGE_HEAD)
      DOCSTORE__GUARD(reader_reopen(r, 0, UINT64_MAX));
    return reader_open_whole(r, expect);
  }
  DOCSTORE__GUARD(reader_header(r, &hlen, &seg, &compressed));
  if (compressed) {
    if (o->offset != 0) {
      docstore__err_set(&r->err, DOCSTORE_EUNSUPPORTED,
                        "ranged reads need an uncompressed envelope");
      return reader_fail(r, DOCSTORE_EUNSUPPORTED);
    }
    return ranged ? reader_at_segment(r, 0, hlen, UINT64_MAX, object_size) : 0;
  }
  return reader_seek(r, o, object_size, hlen, seg, ranged);
}

int docstore_reader_open(docstore_reader **out, docstore_service *svc,
                         const char *path, const docstore_doc_id *expect,
                         const docstore_read_options *opts) {
  docstore_read_options defaults = DOCSTORE_READ_OPTIONS_INIT;
  docstore_reader *r = NULL;
  docstore__err err;
  int rc;

  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!opts)
    opts = &defaults;
  if (!out || !path) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "read: out and path are required");
    goto fail;
  }
  *out = NULL;
  if (opts->version != DOCSTORE_READ_OPTIONS_VERSION) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "read options: unknown version %u", opts->version);
    goto fail;
  }
  DOCSTORE__GUARD_GOTO(
      rc,
      docstore__service_need_keyring(svc, "read", "RSA_PRIVATE_KEY_PATH", &err),
      fail);
  if (!(r = docstore__alloc(sizeof(*r))) ||
      !(r->path = docstore__strdup(path)) ||
      !(r->in = docstore__alloc_ex(STREAM_BUF, DOCSTORE__MEM_PUBLIC))) {
    rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "read: out of memory");
    goto fail;
  }
  r->svc = svc;
  docstore__err_clear(&r->err);
  progress_init(&r->prog, opts->progress, opts->progress_payload, UINT64_MAX);
  if ((rc = reader_prepare(r, expect, opts)) < 0) {
    err = r->err; /* already on the service */
    reader_release(r);
    docstore_free(r->in);
    docstore_free(r->path);
    docstore_free(r);
    docstore__err_publish(&err);
    return rc;
  }
  r->prog.total = r->remaining;
  if (r->size_known && r->size < r->prog.total)
    r->prog.total = r->size;
  *out = r;
  return 0;
fail:
  if (r) {
    docstore_free(r->in);
    docstore_free(r->path);
    docstore_free(r);
  }
  return docstore__service_finish(svc, rc, &err);
}

/* The end: counted once, reported once. */
static int reader_end(docstore_reader *r) {
  r->done = 1;
  reader_count(r, 0);
  docstore__service_log_transfer(r->svc, 0, r->path);
  docstore__provider_get_close(r->st);
  r->st = NULL;
  int rc = progress_check(&r->prog, 1, &r->err);
  return rc < 0 ? reader_fail(r, rc) : 0;
}

/* Produce plaintext into out (cap bytes): from the stage (v1, legacy) or
 * the opener (v2). */
static int reader_produce(docstore_reader *r, uint8_t *out, size_t cap,
                          size_t *made, int *finished) {
  if (r->stage) {
    size_t n = r->stage_len - r->stage_pos;
    n = n < cap ? n : cap;
    memcpy(out, r->stage + r->stage_pos, n);
    r->stage_pos += n;
    *made = n;
    *finished = r->stage_pos == r->stage_len;
    return 0;
  }
  return reader_step(r, out, cap, made, finished);
}

int docstore_reader_read(docstore_reader *r, uint8_t *buf, size_t cap,
                         size_t *got) {
  int rc;
  if (got)
    *got = 0;
  if (!r)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "reader is NULL");
  if (r->rc < 0) {
    docstore__err_publish(&r->err);
    return r->rc;
  }
  if (!buf || !got || cap == 0)
    return docstore__err_set(&r->err, DOCSTORE_EINVAL,
                             "read: buf, got and a non-zero cap are required");
  while (*got == 0 && !r->done) {
    if ((rc = progress_check(&r->prog, 0, &r->err)) < 0)
      return reader_fail(r, rc);
    if (!r->to_end && r->remaining == 0)
      return reader_end(r);
    /* Plaintext before the range goes through buf and is wiped. */
    int skipping = r->skip > 0;
    uint64_t limit = skipping ? r->skip : r->remaining;
    size_t want = limit < cap ? (size_t)limit : cap, made = 0;
    int finished = 0;
    DOCSTORE__GUARD(reader_produce(r, buf, want, &made, &finished));
    if (skipping) {
      r->skip -= made;
      docstore__wipe(buf, made);
    } else {
      *got = made;
      if (r->remaining != UINT64_MAX)
        r->remaining -= made;
      atomic_fetch_add(&r->prog.plain, made);
    }
    if (finished && (rc = reader_end(r)) < 0) {
      *got = 0;
      return rc;
    }
  }
  return 0;
}

int docstore_reader_size(docstore_reader *r, uint64_t *size) {
  if (!r || !size)
    return docstore__err_set(r ? &r->err : NULL, DOCSTORE_EINVAL,
                             "size: reader and size are required");
  if (!r->size_known)
    return docstore__err_set(&r->err, DOCSTORE_EUNSUPPORTED,
                             "size: unknown before the end (compressed "
                             "envelope)");
  *size = r->size;
  return 0;
}

void docstore_reader_cancel(docstore_reader *r) {
  if (r)
    atomic_store(&r->prog.cancel, 1);
}

void docstore_reader_stats(const docstore_reader *r, uint64_t *plaintext_bytes,
                           uint64_t *stored_bytes) {
  progress_stats(r ? &r->prog : NULL, plaintext_bytes, stored_bytes);
}

const char *docstore_reader_errmsg(const docstore_reader *r) {
  return r ? r->err.msg : "invalid reader handle (NULL)";
}

void docstore_reader_close(docstore_reader *r) {
  if (!r)
    return;
  reader_release(r);
  docstore_free(r->in);
  docstore_free(r->path);
  docstore_free(r);
}
