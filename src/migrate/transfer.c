/*
 * libdocstore - migration of one row (runs on a worker thread).
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * A document is streamed, never held whole: the source is read in CHUNK
 * pieces through the provider's streaming calls (or from its legacy file),
 * and every piece goes at once to the SHA-256, to the envelope check and
 * to the target's streamed put.  The envelope is checked as it flows: a
 * version 2 envelope through the crypto opener when a keyring is given
 * (every segment's tag; plaintext thrown away), else its header and the
 * segment layout its size implies.  A v1 or legacy JSON envelope can only
 * be checked whole: it is collected (at most 1.5 GiB, the v1 limit,
 * refused from its size before the rest is read) and checked at the end.
 * Memory per job: CHUNK, one opener segment, the provider's part buffers
 * (and a JSON envelope).
 *
 * Order of a migration, and what a crash at each point leaves:
 *   1. stream the source into a put of the target key (no-clobber,
 *      DOCSTORE_PUT_VERIFY), hashing and checking as it flows  - nothing:
 *      an uncommitted put is invisible
 *   2. at the end: envelope complete, size as announced, SHA-256 equal to
 *      the ledger's when the row has one; else abort the put   - nothing
 *   3. commit.  EEXISTS (an object is there): stream its SHA-256;
 *      same -> recovered (an earlier run died after 3), different -> fail
 *      the row, never overwrite              - an object, row unchanged
 *   4. write_proof READBACK: stream the object back (hash, envelope)
 *   5. switch the row + ledger (one statement) - done
 *   6. optionally delete the source         - done, source left over
 * A crash before 5 leaves the row on the source, and the next run finds the
 * object in step 3; a crash after 5 finds the row on the target (skipped).
 * No HEAD is sent: the conditional put answers "already there".
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto_internal.h"
#include "docstore/service.h"
#include "migrate_internal.h"
#include "provider/fsio.h"
#include "provider/provider_internal.h"
#include "service/service_internal.h"
#include "util/file.h"
#include "util/hex.h"

/* Bytes read from the source per step. */
#define CHUNK ((size_t)256 << 10)
/* The first read: enough to tell a v2 envelope from JSON (and to refuse an
 * oversized JSON one) before more is read. */
#define FIRST_READ ((size_t)16)
/* Plaintext the opener hands back while it checks (thrown away). */
#define SCRATCH ((size_t)64 << 10)
/* The largest v1 / legacy JSON envelope (checked whole, in memory). */
#define JSON_MAX DOCSTORE__ENVELOPE_MAX

int docstore__mig_sha256_hex(char out[65], const uint8_t *data, size_t len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
    return docstore__err_set(NULL, DOCSTORE_ECRYPTO, "SHA-256 failed");
  docstore__hex_encode(out, md, 32);
  return 0;
}

void docstore__mig_row_free(docstore__mig_row *r) {
  if (!r)
    return;
  docstore_free(r->id);
  docstore_free(r->filename);
  docstore_free(r->filepath);
  docstore_free(r->user_id);
  docstore_free(r->storage_path);
  docstore_free(r->storage_type);
  docstore_free(r->ledger_sha);
  docstore_free(r);
}

/* ------------------------------------------------------------ outcome */

/* Record a failure: "<label> <id>: <message>" (or the message as it is
 * when `bare`, for the seed's "File not found: <path>" lines). */
static void fail(const docstore__mig_ctx *ctx, const docstore__mig_row *row,
                 docstore__mig_outcome *out, int code, int infra, int bare,
                 const char *fmt, ...) DOCSTORE__PRINTF(7, 8);

static void fail(const docstore__mig_ctx *ctx, const docstore__mig_row *row,
                 docstore__mig_outcome *out, int code, int infra, int bare,
                 const char *fmt, ...) {
  char msg[DOCSTORE__ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  out->code = code < 0 ? code : DOCSTORE_EIO;
  out->infra = infra;
  size_t n = 0;
  if (!bare) {
    int k = snprintf(out->message, sizeof(out->message), "%s %s: ", ctx->label,
                     row->id);
    n = k < 0 ? 0 : (size_t)k;
    if (n >= sizeof(out->message)) /* a long message is cut, never lost */
      n = sizeof(out->message) - 1;
  }
  docstore__strlcpy(out->message + n, msg, sizeof(out->message) - n);
  docstore__mig_sanitize(out->message);
}

/* Detail of the last failed library call on this thread. */
static const char *last_detail(int code) {
  const char *m = docstore_last_errmsg();
  return (m && *m) ? m : docstore_strerror(code);
}

/* A store failure other than "not there" or a bad key is the store's
 * trouble, not the row's: it counts towards max_consecutive_failures. */
static int store_trouble(int code) {
  return code != DOCSTORE_ENOTFOUND && code != DOCSTORE_EINVAL &&
         code != DOCSTORE_EFORMAT && code != DOCSTORE_ETOOBIG;
}

/* ------------------------------------------------------------ SHA-256 */

static EVP_MD_CTX *sha_new(void) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(md);
    md = NULL;
  }
  return md;
}

static int sha_end(EVP_MD_CTX *md, char out[65]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32)
    return DOCSTORE_ECRYPTO;
  docstore__hex_encode(out, d, 32);
  return 0;
}

/* ----------------------------------------------------- envelope check */

enum { KIND_UNKNOWN = 0, KIND_V2, KIND_JSON };

/* The envelope check of one stream.  `size` is the whole envelope's. */
typedef struct envcheck {
  const docstore_keyring *kr;
  uint64_t size;
  int kind;
  int json_open;       /* JSON: the '{' was seen */
  docstore_opener *op; /* v2 with a keyring */
  uint8_t *scratch;    /* its plaintext, thrown away */
  docstore__buf buf;   /* v2 without keyring: the header; JSON: all */
  size_t hneed;        /* v2 without keyring: header length once known */
  int header_done;     /* v2 without keyring */
  int decrypt;         /* the failure came from decrypting */
  int defer;           /* pump: note a failure, read on (verify) */
  int failed;          /* the deferred failure's code */
  char msg[DOCSTORE__ERRMSG_MAX];
} envcheck;

static void env_init(envcheck *ec, const docstore_keyring *kr, uint64_t size) {
  memset(ec, 0, sizeof(*ec));
  ec->kr = kr;
  ec->size = size;
  ec->buf = (docstore__buf)DOCSTORE__BUF_INIT_PUBLIC;
}

static void env_clear(envcheck *ec) {
  docstore_opener_free(ec->op);
  docstore_free(ec->scratch); /* wipes */
  docstore__buf_free(&ec->buf);
  memset(ec, 0, sizeof(*ec));
}

static int env_fail(envcheck *ec, int rc, const char *msg) {
  docstore__strlcpy(ec->msg, msg && *msg ? msg : docstore_strerror(rc),
                    sizeof(ec->msg));
  ec->decrypt = ec->kr && rc != DOCSTORE_EFORMAT &&
                rc != DOCSTORE_EUNSUPPORTED && rc != DOCSTORE_ETOOBIG &&
                rc != DOCSTORE_ENOMEM;
  return rc;
}

/* v2 without a keyring: the header, then its layout against the size. */
static int env_v2_header(envcheck *ec, const uint8_t *p, size_t n) {
  docstore__err e = {0, ""};
  while (n > 0 && !ec->header_done) {
    size_t want = ec->hneed ? ec->hneed : DOCSTORE__V2_PREFIX_LEN;
    size_t k = want - ec->buf.len < n ? want - ec->buf.len : n;
    if (docstore__buf_append(&ec->buf, p, k) < 0)
      return env_fail(ec, DOCSTORE_ENOMEM, "out of memory");
    p += k;
    n -= k;
    if (ec->buf.len < want)
      return 0;
    if (!ec->hneed) {
      int rc =
          docstore__v2_header_size(&ec->hneed, ec->buf.data, ec->buf.len, &e);
      if (rc < 0)
        return env_fail(ec, rc, e.msg);
      continue;
    }
    docstore__v2_header *h =
        docstore__alloc_ex(sizeof(*h), DOCSTORE__MEM_PUBLIC);
    if (!h)
      return env_fail(ec, DOCSTORE_ENOMEM, "out of memory");
    int rc = docstore__v2_header_parse(h, ec->buf.data, ec->buf.len, &e);
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    if (rc == 0 && docstore__v2_info_fill(&info, h, ec->size) < 0)
      rc = docstore__err_set(&e, DOCSTORE_EINTEGRITY,
                             "integrity check failed: %llu bytes do not fit "
                             "the segment layout (a truncated or extended "
                             "envelope)",
                             (unsigned long long)ec->size);
    docstore_envelope_info_clear(&info);
    docstore_free(h);
    if (rc < 0)
      return env_fail(ec, rc, e.msg);
    ec->header_done = 1;
    docstore__buf_free(&ec->buf);
  }
  return 0;
}

/* v2 with a keyring: every byte through the opener. */
static int env_v2_open(envcheck *ec, const uint8_t *p, size_t n) {
  while (n > 0) {
    size_t got = 0, used = 0;
    int rc =
        docstore_opener_update(ec->op, ec->scratch, SCRATCH, &got, p, n, &used);
    if (rc < 0)
      return env_fail(ec, rc, docstore_opener_errmsg(ec->op));
    if (used == 0 && got == 0)
      return env_fail(ec, DOCSTORE_EIO, "the opener took no input");
    p += used;
    n -= used;
  }
  return 0;
}

/* The first byte decides: the v2 magic, or JSON (v1, legacy). */
static int env_start(envcheck *ec, uint8_t first) {
  if (docstore__v2_is_magic(&first, 1)) {
    ec->kind = KIND_V2;
    if (!ec->kr)
      return 0;
    docstore_opener *op = NULL;
    int rc = docstore_opener_new(&op, ec->kr, NULL);
    if (rc < 0)
      return env_fail(ec, rc, docstore_last_errmsg());
    ec->op = op;
    ec->scratch = docstore__alloc_ex(SCRATCH, DOCSTORE__MEM_UNINIT);
    if (!ec->scratch)
      return env_fail(ec, DOCSTORE_ENOMEM, "out of memory");
    return 0;
  }
  ec->kind = KIND_JSON;
  return 0;
}

/* JSON: collect; refuse at once what does not start like a JSON object. */
static int env_json(envcheck *ec, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n && !ec->json_open; i++) {
    uint8_t c = p[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
      continue;
    if (c != '{') {
      char msg[160];
      snprintf(msg, sizeof(msg),
               "neither a version 2 envelope nor a JSON object (byte 0x%02x "
               "at offset %zu)",
               c, ec->buf.len + i);
      return env_fail(ec, DOCSTORE_EFORMAT, msg);
    }
    ec->json_open = 1;
  }
  if (ec->size > JSON_MAX) { /* refused from its size, before the rest */
    char msg[200];
    snprintf(msg, sizeof(msg),
             "not a version 2 envelope, and %llu bytes is over the %zu-byte "
             "limit of a JSON (v1 or legacy) envelope",
             (unsigned long long)ec->size, (size_t)JSON_MAX);
    return env_fail(ec, DOCSTORE_ETOOBIG, msg);
  }
  if (n > JSON_MAX - ec->buf.len)
    return env_fail(ec, DOCSTORE_ETOOBIG, "JSON envelope over 1.5 GiB");
  if (docstore__buf_append(&ec->buf, p, n) < 0)
    return env_fail(ec, DOCSTORE_ENOMEM, "out of memory");
  return 0;
}

static int env_feed(envcheck *ec, const uint8_t *p, size_t n) {
  if (n == 0)
    return 0;
  if (ec->kind == KIND_UNKNOWN)
    DOCSTORE__GUARD(env_start(ec, p[0]));
  if (ec->kind == KIND_JSON)
    return env_json(ec, p, n);
  return ec->kr ? env_v2_open(ec, p, n) : env_v2_header(ec, p, n);
}

/* All bytes fed: is the envelope complete and sound? */
static int env_finish(envcheck *ec) {
  if (ec->kind == KIND_UNKNOWN)
    return env_fail(ec, DOCSTORE_EFORMAT, "not an envelope: empty input");
  if (ec->kind == KIND_V2 && !ec->kr)
    return ec->header_done
               ? 0
               : env_fail(ec, DOCSTORE_EFORMAT, "envelope: truncated header");
  if (ec->kind == KIND_V2) {
    int rc;
    do {
      size_t got = 0;
      rc = docstore_opener_finish(ec->op, ec->scratch, SCRATCH, &got);
    } while (rc > 0);
    return rc < 0 ? env_fail(ec, rc, docstore_opener_errmsg(ec->op)) : 0;
  }
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  int rc = docstore_envelope_info_get(&info, (const char *)ec->buf.data,
                                      ec->buf.len);
  docstore_envelope_info_clear(&info);
  if (rc < 0) {
    env_fail(ec, rc, docstore_last_errmsg());
    ec->decrypt = 0;
    return rc;
  }
  if (!ec->kr)
    return 0;
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  rc = docstore_envelope_open(&plain, &plain_len, ec->kr,
                              (const char *)ec->buf.data, ec->buf.len, NULL);
  docstore_free(plain); /* wipes */
  if (rc < 0) {
    env_fail(ec, rc, docstore_last_errmsg());
    ec->decrypt = 1;
  }
  return rc;
}

/* The report line of a failed envelope check. */
static void env_report(const docstore__mig_ctx *ctx,
                       const docstore__mig_row *row, const envcheck *ec, int rc,
                       const char *where, docstore__mig_outcome *out) {
  fail(ctx, row, out, rc, 0, 0, "%s %s: %s", where,
       ec->decrypt ? "does not decrypt with the configured key"
                   : "does not parse as an envelope",
       ec->msg);
}

/* ------------------------------------------------------------- source */

/* A stream being read: an object, or a legacy file. */
typedef struct source {
  docstore__get_stream *gs;
  int fd;
  uint64_t size;
  int infra;       /* a read failure is the store's trouble */
  char where[600]; /* "/abs/file.json" or "documents/...json on s3" */
  char path[4096]; /* legacy file ("" for objects) */
} source;

static void source_init(source *s) {
  memset(s, 0, sizeof(*s));
  s->fd = -1;
}

static void source_close(source *s) {
  docstore__provider_get_close(s->gs);
  s->gs = NULL;
  if (s->fd >= 0)
    close(s->fd);
  s->fd = -1;
}

/* Open object `key` of `p`.  ENOTFOUND is returned without a report line
 * (callers decide); other failures fill `out`. */
static int open_object(const docstore__mig_ctx *ctx,
                       const docstore__mig_row *row, docstore_provider *p,
                       const char *key, source *s, docstore__mig_outcome *out) {
  docstore__err e = {0, ""};
  s->infra = 1;
  int rc =
      docstore__provider_get_open(p, key, 0, UINT64_MAX, &s->gs, &s->size, &e);
  if (rc < 0 && rc != DOCSTORE_ENOTFOUND)
    fail(ctx, row, out, rc, store_trouble(rc), 0, "cannot read %s: %s",
         s->where, e.msg);
  return rc;
}

static int resolve_legacy(char *dst, size_t len, const char *root,
                          const char *filepath) {
  char *full = docstore__legacy_path_join(root, filepath);
  int rc = !full ? DOCSTORE_ENOMEM : strlen(full) >= len ? DOCSTORE_EINVAL : 0;
  if (rc == 0)
    memcpy(dst, full, strlen(full) + 1);
  docstore_free(full);
  return rc;
}

/* Open a legacy file: below legacy_root unless allow_outside_root (then
 * as the path says, links followed, as 0.3 did); a regular file only. */
static int open_file(const docstore__mig_ctx *ctx, const docstore__mig_row *row,
                     source *s, docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  docstore__err e = {0, ""};
  struct stat st;
  int rc =
      resolve_legacy(s->path, sizeof(s->path), o->legacy_root, row->filepath);
  if (rc < 0) {
    fail(ctx, row, out, rc, 0, 0,
         rc == DOCSTORE_ENOMEM ? "out of memory" : "file path too long");
    return rc;
  }
  docstore__strlcpy(s->where, s->path, sizeof(s->where));
  if (o->allow_outside_root) {
    s->fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    rc = s->fd >= 0
             ? 0
             : docstore__err_errno(&e, 0, errno, "cannot open %s", s->path);
  } else {
    rc = s->fd = docstore__file_open_beneath(o->legacy_root, row->filepath, &e);
    if (rc > 0)
      rc = 0;
  }
  if (rc == 0 && fstat(s->fd, &st) < 0)
    rc =
        docstore__err_errno(&e, DOCSTORE_EIO, errno, "cannot stat %s", s->path);
  if (rc == 0)
    rc = docstore__fd_check_type(s->fd, &st, 0, "file", s->path, &e);
  if (rc == 0) {
    s->size = (uint64_t)st.st_size;
    return 0;
  }
  if (s->fd < 0)
    s->fd = -1;
  if (rc == DOCSTORE_ENOTFOUND)
    fail(ctx, row, out, rc, 0, 1, "File not found: %s", s->path);
  else if (rc == DOCSTORE_EACCESS && !o->allow_outside_root)
    fail(ctx, row, out, rc, 0, 0,
         "%s; not migrated (legacy files are read below the legacy root "
         "only; --allow-outside-root lifts this)",
         e.msg);
  else
    fail(ctx, row, out, rc, 0, 0, "%s", e.msg);
  return rc;
}

/* Open a row's document: object `storage_path` of `p`, or (no
 * storage_path) its legacy file.  On failure, fills `out`. */
static int open_source(const docstore__mig_ctx *ctx,
                       const docstore__mig_row *row, docstore_provider *p,
                       const char *type, source *s,
                       docstore__mig_outcome *out) {
  if (row->storage_path) {
    snprintf(s->where, sizeof(s->where), "%s on %s", row->storage_path, type);
    if (!p) {
      fail(ctx, row, out, DOCSTORE_EINVAL, 0, 0,
           "no store is configured for storage type '%s'", type);
      return DOCSTORE_EINVAL;
    }
    int rc = open_object(ctx, row, p, row->storage_path, s, out);
    if (rc == DOCSTORE_ENOTFOUND)
      fail(ctx, row, out, rc, 0, 1, "File not found: %s", s->where);
    return rc;
  }
  if (strcmp(type, "local") != 0) {
    fail(ctx, row, out, DOCSTORE_EINVAL, 0, 0, "storage type '%s' but no %s",
         type, ctx->o->col_storage_path);
    return DOCSTORE_EINVAL;
  }
  if (!row->filepath || !*row->filepath) {
    fail(ctx, row, out, DOCSTORE_ENOTFOUND, 0, 0,
         "no %s and no %s: nothing to migrate", ctx->o->col_storage_path,
         ctx->o->col_filepath);
    return DOCSTORE_ENOTFOUND;
  }
  return open_file(ctx, row, s, out);
}

static int source_read(source *s, uint8_t *buf, size_t cap, size_t *got,
                       docstore__err *e) {
  if (s->gs)
    return docstore__provider_get_read(s->gs, buf, cap, got, e);
  for (;;) {
    ssize_t r = read(s->fd, buf, cap);
    if (r >= 0) {
      *got = (size_t)r;
      return 0;
    }
    if (errno != EINTR)
      return docstore__err_errno(e, DOCSTORE_EIO, errno, "cannot read %s",
                                 s->path);
  }
}

/* Read the whole stream: each piece to the SHA-256 (sha_hex, when not
 * NULL), the envelope check (ec, when not NULL) and the put (txn, when
 * not NULL).  The number of bytes must be the size announced at open.
 * On failure, fills `out`. */
static int pump(const docstore__mig_ctx *ctx, const docstore__mig_row *row,
                source *s, envcheck *ec, docstore__put_txn *txn,
                char sha_hex[65], docstore__mig_outcome *out) {
  docstore__err e = {0, ""};
  uint64_t total = 0;
  size_t cap = FIRST_READ;
  int rc = 0;
  EVP_MD_CTX *md = sha_hex ? sha_new() : NULL;
  uint8_t *buf =
      docstore__alloc_ex(CHUNK, DOCSTORE__MEM_PUBLIC | DOCSTORE__MEM_UNINIT);
  if ((sha_hex && !md) || !buf) {
    fail(ctx, row, out, DOCSTORE_ENOMEM, 1, 0, "out of memory");
    rc = DOCSTORE_ENOMEM;
    goto done;
  }
  for (;;) {
    size_t got = 0;
    if ((rc = source_read(s, buf, cap, &got, &e)) < 0) {
      fail(ctx, row, out, rc, s->infra && store_trouble(rc), 0,
           "cannot read %s: %s", s->where, e.msg);
      goto done;
    }
    if (got == 0)
      break;
    cap = CHUNK;
    total += got;
    if (total > s->size)
      break;
    if (md && EVP_DigestUpdate(md, buf, got) != 1) {
      fail(ctx, row, out, DOCSTORE_ECRYPTO, 1, 0, "SHA-256 failed");
      rc = DOCSTORE_ECRYPTO;
      goto done;
    }
    if (ec && !ec->failed && (rc = env_feed(ec, buf, got)) < 0) {
      if (!ec->defer) {
        env_report(ctx, row, ec, rc, s->where, out);
        goto done;
      }
      ec->failed = rc; /* reported at the end, after the source is read */
    }
    if (txn && (rc = docstore__provider_put_write(txn, buf, got, &e)) < 0) {
      fail(ctx, row, out, rc, store_trouble(rc), 0, "%s", e.msg);
      goto done;
    }
  }
  if (total != s->size) {
    fail(ctx, row, out, DOCSTORE_ECHANGED, 0, 0,
         "%s changed while it was read (%llu bytes when opened, %s%llu "
         "read)",
         s->where, (unsigned long long)s->size,
         total > s->size ? "more than " : "", (unsigned long long)total);
    rc = DOCSTORE_ECHANGED;
    goto done;
  }
  if (ec && !ec->failed && (rc = env_finish(ec)) < 0) {
    if (!ec->defer) {
      env_report(ctx, row, ec, rc, s->where, out);
      goto done;
    }
    ec->failed = rc;
    rc = 0;
  }
  if (md && sha_end(md, sha_hex) < 0) {
    fail(ctx, row, out, DOCSTORE_ECRYPTO, 1, 0, "SHA-256 failed");
    rc = DOCSTORE_ECRYPTO;
  }
done:
  EVP_MD_CTX_free(md);
  docstore_free(buf);
  return rc;
}

/* ------------------------------------------------------------ target */

/* The key the document goes to: the row's storage_path, or the layout of
 * docstore_storage_path(), with a "staging/" folder for the staging
 * table (its ids, names, owners and days may equal the attachment
 * table's: two rows must never map to one object). */
static int target_key(const docstore__mig_ctx *ctx,
                      const docstore__mig_row *row, char **key,
                      docstore__mig_outcome *out) {
  *key = NULL;
  if (row->storage_path) {
    *key = docstore__strdup(row->storage_path);
    if (!*key)
      fail(ctx, row, out, DOCSTORE_ENOMEM, 1, 0, "out of memory");
    return *key ? 0 : DOCSTORE_ENOMEM;
  }
  if (!row->has_created) {
    fail(ctx, row, out, DOCSTORE_EINVAL, 0, 0,
         "%s is NULL: cannot compute the storage path", ctx->o->col_created);
    return DOCSTORE_EINVAL;
  }
  docstore__err e = {0, ""};
  int rc = docstore__storage_path_in(key, row->id, row->filename, row->user_id,
                                     row->created,
                                     row->table == 1 ? "staging" : NULL, &e);
  if (rc < 0)
    fail(ctx, row, out, rc, 0, 0, "cannot compute the storage path: %s", e.msg);
  return rc;
}

/* What is at `key` on the target, against the source's SHA-256 and size:
 * 1 the same bytes, 0 nothing there; a different object fails the row
 * (DOCSTORE_EEXISTS), never overwritten. */
static int same_as_target(const docstore__mig_ctx *ctx,
                          const docstore__mig_row *row, const char *key,
                          const char *sha, uint64_t size,
                          docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  source t;
  char tsha[65];
  source_init(&t);
  snprintf(t.where, sizeof(t.where), "%s on %s", key, o->target_type);
  int rc = open_object(ctx, row, o->target, key, &t, out);
  if (rc == DOCSTORE_ENOTFOUND)
    return 0;
  if (rc < 0)
    return rc;
  int same = 0;
  if (t.size == size) {
    rc = pump(ctx, row, &t, NULL, NULL, tsha, out);
    same = rc == 0 && strcmp(tsha, sha) == 0;
  }
  source_close(&t);
  if (rc < 0)
    return rc;
  if (same)
    return 1;
  fail(ctx, row, out, DOCSTORE_EEXISTS, 0, 0,
       "%s on %s already holds a different object; not overwritten", key,
       o->target_type);
  return DOCSTORE_EEXISTS;
}

/* Start the put: no-clobber, with the store's proof.  A provider that does
 * not know DOCSTORE_PUT_VERIFY (EUNSUPPORTED) gets a plain no-clobber put
 * and the copy is read back instead (*readback). */
static int put_begin(const docstore__mig_ctx *ctx, const docstore__mig_row *row,
                     const char *key, uint64_t size, docstore__put_txn **txn,
                     int *readback, docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  docstore__err e = {0, ""};
  docstore_put_options po = DOCSTORE_PUT_OPTIONS_INIT;
  po.flags = DOCSTORE_PUT_NO_CLOBBER | DOCSTORE_PUT_VERIFY;
  po.size_hint = size;
  int rc = docstore__provider_put_begin(o->target, key, &po, txn, &e);
  if (rc == DOCSTORE_EUNSUPPORTED) {
    po.flags = DOCSTORE_PUT_NO_CLOBBER;
    docstore__err_clear(&e);
    rc = docstore__provider_put_begin(o->target, key, &po, txn, &e);
    *readback = 1;
  }
  if (rc < 0 && rc != DOCSTORE_EEXISTS)
    fail(ctx, row, out, rc, store_trouble(rc), 0, "%s", e.msg);
  return rc;
}

/* write_proof READBACK (or a store without its own proof): stream the
 * object back; its SHA-256, size and envelope must be the source's. */
static int read_back(const docstore__mig_ctx *ctx, const docstore__mig_row *row,
                     const char *key, const char *sha, uint64_t size,
                     docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  source t;
  envcheck ec;
  char tsha[65];
  source_init(&t);
  snprintf(t.where, sizeof(t.where), "%s read back from %s", key,
           o->target_type);
  int rc = open_object(ctx, row, o->target, key, &t, out);
  if (rc == DOCSTORE_ENOTFOUND)
    fail(ctx, row, out, rc, 1, 0, "%s: not found after the put", t.where);
  if (rc < 0)
    return rc;
  env_init(&ec, o->keyring, t.size);
  rc = pump(ctx, row, &t, &ec, NULL, tsha, out);
  env_clear(&ec);
  source_close(&t);
  if (rc == 0 && (t.size != size || strcmp(tsha, sha) != 0)) {
    fail(ctx, row, out, DOCSTORE_EINTEGRITY, 1, 0,
         "%s differs from the source (%llu bytes written, %llu read back)",
         t.where, (unsigned long long)size, (unsigned long long)t.size);
    rc = DOCSTORE_EINTEGRITY;
  }
  return rc;
}

/* ------------------------------------------------------------ database */

/* Where the row is now: 1 when it points at (target_type, key). */
static int row_is_switched(const docstore__mig_ctx *ctx,
                           const docstore__mig_row *row, const char *key) {
  const char *params[1] = {row->id};
  PGresult *res =
      PQexecParams(ctx->db, ctx->state_sql, 1, NULL, params, NULL, NULL, 0);
  int yes = res && PQresultStatus(res) == PGRES_TUPLES_OK &&
            PQntuples(res) == 1 &&
            strcmp(PQgetvalue(res, 0, 0), ctx->o->target_type) == 0 &&
            !PQgetisnull(res, 0, 1) && strcmp(PQgetvalue(res, 0, 1), key) == 0;
  PQclear(res);
  return yes;
}

/* Switch the row and record the object in the ledger, in one statement. */
static int switch_row(const docstore__mig_ctx *ctx,
                      const docstore__mig_row *row, const char *key,
                      const char *sha, size_t size,
                      docstore__mig_outcome *out) {
  char size_txt[32];
  snprintf(size_txt, sizeof(size_txt), "%zu", size);
  const char *params[8] = {
      row->id,           ctx->table_name,   key, ctx->o->target_type,
      row->storage_type, row->storage_path, sha, size_txt};
  PGresult *res = NULL;
  for (int attempt = 0; attempt < 2; attempt++) {
    res = PQexecParams(ctx->db, ctx->update_sql, 8, docstore__mig_update_types,
                       params, NULL, NULL, 0);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
      break;
    if (PQstatus(ctx->db) != CONNECTION_BAD || attempt == 1)
      break;
    /* The connection broke (server restart, network): reconnect once. */
    PQclear(res);
    res = NULL;
    PQreset(ctx->db);
  }
  if (res && PQresultStatus(res) == PGRES_FATAL_ERROR) {
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "23505") == 0 &&
        !row_is_switched(ctx, row, key)) {
      /* The ledger's UNIQUE (storage_type, storage_path): another row
       * already owns this object.  The statement switched nothing. */
      PQclear(res);
      fail(ctx, row, out, DOCSTORE_EEXISTS, 0, 0,
           "%s on %s is already the object of another row (see the ledger); "
           "two rows never share an object: not switched",
           key, ctx->o->target_type);
      return DOCSTORE_EEXISTS;
    }
  }
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
    docstore__err e;
    docstore__mig_db_err(&e, ctx->db, res, "database");
    PQclear(res);
    /* The statement may have committed before the connection broke. */
    if (PQstatus(ctx->db) == CONNECTION_OK && row_is_switched(ctx, row, key))
      return 0;
    fail(ctx, row, out, DOCSTORE_EDATABASE, 1, 0,
         "%s (the object is stored; the next run will switch the row)", e.msg);
    return DOCSTORE_EDATABASE;
  }
  int switched = PQntuples(res) == 1;
  PQclear(res);
  if (switched || row_is_switched(ctx, row, key))
    return 0;
  fail(ctx, row, out, DOCSTORE_EBUSY, 0, 0,
       "the row changed during the migration; not switched");
  return DOCSTORE_EBUSY;
}

static void delete_source(const docstore__mig_ctx *ctx,
                          const docstore__mig_row *row, const source *src,
                          const char *key, docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  int rc = 0;
  if (row->storage_path) {
    if (o->source == o->target && strcmp(row->storage_path, key) == 0)
      return; /* the same object: nothing to delete */
    rc = docstore_provider_delete(o->source, row->storage_path);
  } else if (unlink(src->path) != 0 && errno != ENOENT) {
    rc = DOCSTORE_EIO;
    docstore__err_set(NULL, rc, "unlink: %s", strerror(errno));
  }
  if (rc < 0)
    docstore__log(DOCSTORE_LOG_WARN,
                  "%s %s is migrated, but its source %s was not deleted: %s",
                  ctx->label, row->id, src->where, last_detail(rc));
  else
    out->source_deleted = 1;
}

/* --------------------------------------------------------------- rows */

/* Defect 1 of 0.3: a row whose ledger records a hash speaks for bytes
 * that were verified once; a source that no longer has them is refused
 * before anything is committed, so the ledger only ever records verified
 * bytes. */
static int ledger_agrees(const docstore__mig_ctx *ctx,
                         const docstore__mig_row *row, const source *src,
                         const char *sha, docstore__mig_outcome *out) {
  if (!row->ledger_sha || strcmp(row->ledger_sha, sha) == 0)
    return 0;
  fail(ctx, row, out, DOCSTORE_EINTEGRITY, 0, 0,
       "%s differs from the SHA-256 recorded in the ledger (recorded "
       "%.12s..., found %.12s...); not migrated",
       src->where, row->ledger_sha, sha);
  return DOCSTORE_EINTEGRITY;
}

void docstore__mig_migrate_row(const docstore__mig_ctx *ctx,
                               const docstore__mig_row *row,
                               docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  source src;
  envcheck ec;
  docstore__put_txn *txn = NULL;
  char *key = NULL;
  char sha[65];
  int present = 0, readback = o->write_proof == DOCSTORE_MIGRATE_PROOF_READBACK;
  int rc;
  memset(out, 0, sizeof(*out));
  source_init(&src);
  env_init(&ec, o->keyring, 0);

  if (open_source(ctx, row, o->source, row->storage_type, &src, out) < 0 ||
      target_key(ctx, row, &key, out) < 0)
    goto done;
  ec.size = src.size;
  if (!o->dry_run) {
    rc = put_begin(ctx, row, key, src.size, &txn, &readback, out);
    if (rc == DOCSTORE_EEXISTS) /* a store that checks at the start */
      present = 1;
    else if (rc < 0)
      goto done;
  }
  if (pump(ctx, row, &src, &ec, txn, sha, out) < 0 ||
      ledger_agrees(ctx, row, &src, sha, out) < 0)
    goto done;
  out->bytes = src.size;
  if (o->dry_run) {
    /* Nothing is written: only say whether the object is there already. */
    docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0,
                                 NULL};
    rc = docstore_provider_head(o->target, &info, key);
    if (rc < 0 && rc != DOCSTORE_ENOTFOUND)
      fail(ctx, row, out, rc, store_trouble(rc), 0, "cannot check %s on %s: %s",
           key, o->target_type, last_detail(rc));
    else if (rc == 0)
      out->recovered = same_as_target(ctx, row, key, sha, src.size, out) > 0;
    goto done;
  }
  if (txn) {
    docstore__err e = {0, ""};
    rc = docstore__provider_put_commit(txn, &e);
    txn = NULL;
    if (rc == DOCSTORE_EEXISTS) {
      present = 1;
    } else if (rc < 0) {
      fail(ctx, row, out, rc, store_trouble(rc), 0, "%s", e.msg);
      goto done;
    }
  }
  if (present) {
    rc = same_as_target(ctx, row, key, sha, src.size, out);
    if (rc == 0) /* deleted since the store said it was there */
      fail(ctx, row, out, DOCSTORE_EBUSY, 0, 0,
           "%s on %s vanished while it was compared; try again", key,
           o->target_type);
    if (rc <= 0)
      goto done;
    out->recovered = 1;
  } else if (readback && read_back(ctx, row, key, sha, src.size, out) < 0) {
    goto done;
  }
  source_close(&src); /* before a delete */
  if (switch_row(ctx, row, key, sha, src.size, out) < 0)
    goto done;
  if (o->delete_source)
    delete_source(ctx, row, &src, key, out);
done:
  docstore__provider_put_abort(txn); /* NULL: nothing to abort */
  if (out->code < 0) {
    out->bytes = 0;
    out->recovered = 0;
  }
  env_clear(&ec);
  source_close(&src);
  docstore_free(key);
}

void docstore__mig_verify_row(const docstore__mig_ctx *ctx,
                              const docstore__mig_row *row,
                              docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  source src;
  envcheck ec;
  char sha[65];
  memset(out, 0, sizeof(*out));
  source_init(&src);
  env_init(&ec, NULL, 0);
  docstore_provider *p =
      strcmp(row->storage_type, o->target_type) == 0 ? o->target : o->source;
  if (open_source(ctx, row, p, row->storage_type, &src, out) < 0)
    goto done;
  /* An object changed since its migration says so first (the whole of it
   * is hashed); then what is wrong with it. */
  env_init(&ec, o->keyring, src.size);
  ec.defer = row->ledger_sha != NULL;
  if (pump(ctx, row, &src, &ec, NULL, sha, out) < 0)
    goto done;
  if (row->ledger_sha && strcmp(sha, row->ledger_sha) != 0) {
    fail(ctx, row, out, DOCSTORE_EINTEGRITY, 0, 0,
         "%s differs from the SHA-256 recorded when it was migrated "
         "(recorded %.12s..., found %.12s...)",
         src.where, row->ledger_sha, sha);
    goto done;
  }
  if (ec.failed) {
    env_report(ctx, row, &ec, ec.failed, src.where, out);
    goto done;
  }
  out->bytes = src.size;
done:
  env_clear(&ec);
  source_close(&src);
}
