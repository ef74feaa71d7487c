/*
 * libdocstore - migration of one row (runs on a worker thread).
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * Order of a migration, and what a crash at each point leaves:
 *   1. read the source, check it is an envelope (and decrypts)  - nothing
 *   2. compute the target key; if an object is there already:
 *      same SHA-256 -> go to 5 (an earlier run died after 3 or 4);
 *      different    -> fail the row, never overwrite
 *   3. put                                  - an object, row unchanged
 *   4. read back, compare byte for byte     - same
 *   5. switch the row + ledger (one statement) - done
 *   6. optionally delete the source         - done, source left over
 * A crash before 5 leaves the row on the source, and the next run finds the
 * object in step 2; a crash after 5 finds the row on the target (skipped).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docstore/service.h"
#include "migrate_internal.h"
#include "provider/fsio.h"
#include "util/file.h"
#include "util/hex.h"

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

/* ------------------------------------------------------------- source */

/* A document as read: bytes plus a description for messages. */
typedef struct doc {
  uint8_t *data; /* library-owned */
  size_t len;
  char where[600]; /* "/abs/file.json" or "documents/...json on s3" */
  char path[4096]; /* legacy file resolved ("" for objects) */
} doc;

static void doc_clear(doc *d) {
  docstore_free(d->data);
  d->data = NULL;
  d->len = 0;
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

/* Read a legacy file whole: only a regular file, at most the largest
 * document. */
static int read_file(doc *d, docstore__err *err) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc =
      docstore__file_read(&b, d->path, DOCSTORE__MIG_MAX_DOC, 0, "file", err);
  if (rc == 0) {
    d->data = docstore__buf_detach(&b, &d->len);
    if (!d->data)
      rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  }
  docstore__buf_free(&b);
  return rc;
}

/* Read a row's document: object `storage_path` of `p`, or (no
 * storage_path) its legacy file.  On failure, fills `out`. */
static int fetch(const docstore__mig_ctx *ctx, const docstore__mig_row *row,
                 docstore_provider *p, const char *type, doc *d,
                 docstore__mig_outcome *out) {
  int rc;
  if (row->storage_path) {
    snprintf(d->where, sizeof(d->where), "%s on %s", row->storage_path, type);
    if (!p) {
      fail(ctx, row, out, DOCSTORE_EINVAL, 0, 0,
           "no store is configured for storage type '%s'", type);
      return DOCSTORE_EINVAL;
    }
    rc = docstore_provider_get(p, &d->data, &d->len, row->storage_path);
    if (rc == DOCSTORE_ENOTFOUND)
      fail(ctx, row, out, rc, 0, 1, "File not found: %s", d->where);
    else if (rc < 0)
      fail(ctx, row, out, rc, store_trouble(rc), 0, "cannot read %s: %s",
           d->where, last_detail(rc));
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
  rc = resolve_legacy(d->path, sizeof(d->path), ctx->o->legacy_root,
                      row->filepath);
  if (rc < 0) {
    fail(ctx, row, out, rc, 0, 0,
         rc == DOCSTORE_ENOMEM ? "out of memory" : "file path too long");
    return rc;
  }
  docstore__strlcpy(d->where, d->path, sizeof(d->where));
  docstore__err e;
  docstore__err_clear(&e);
  rc = read_file(d, &e);
  if (rc == DOCSTORE_ENOTFOUND)
    fail(ctx, row, out, rc, 0, 1, "File not found: %s", d->path);
  else if (rc < 0)
    fail(ctx, row, out, rc, 0, 0, "%s", e.msg);
  return rc;
}

/* The document must parse as an envelope, and decrypt when a keyring is
 * given.  `what` names the copy checked in messages. */
static int check_envelope(const docstore__mig_ctx *ctx,
                          const docstore__mig_row *row, const doc *d,
                          docstore__mig_outcome *out) {
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  int rc = docstore_envelope_info_get(&info, (const char *)d->data, d->len);
  docstore_envelope_info_clear(&info);
  if (rc < 0) {
    fail(ctx, row, out, rc, 0, 0, "%s does not parse as an envelope: %s",
         d->where, last_detail(rc));
    return rc;
  }
  if (!ctx->o->keyring)
    return 0;
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  rc = docstore_envelope_open(&plain, &plain_len, ctx->o->keyring,
                              (const char *)d->data, d->len, NULL);
  docstore_free(plain); /* wipes */
  if (rc < 0)
    fail(ctx, row, out, rc, 0, 0,
         "%s does not decrypt with the configured key: %s", d->where,
         last_detail(rc));
  return rc;
}

/* ------------------------------------------------------------ target */

/* The key the document goes to. */
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
  int rc = docstore_storage_path(key, row->id, row->filename, row->user_id,
                                 row->created);
  if (rc < 0)
    fail(ctx, row, out, rc, 0, 0, "cannot compute the storage path: %s",
         last_detail(rc));
  return rc;
}

/* Is an object already at `key`?  1 with the same bytes (an interrupted
 * run), 0 when absent; a different object fails the row. */
static int probe_target(const docstore__mig_ctx *ctx,
                        const docstore__mig_row *row, const char *key,
                        const doc *src, docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  int rc = docstore_provider_head(o->target, &info, key);
  if (rc == DOCSTORE_ENOTFOUND)
    return 0;
  if (rc < 0) {
    fail(ctx, row, out, rc, store_trouble(rc), 0, "cannot check %s on %s: %s",
         key, o->target_type, last_detail(rc));
    return rc;
  }
  uint8_t *data = NULL;
  size_t len = 0;
  int same = 0;
  if (info.size == src->len) {
    rc = docstore_provider_get(o->target, &data, &len, key);
    if (rc == DOCSTORE_ENOTFOUND) /* deleted meanwhile */
      return 0;
    if (rc < 0) {
      fail(ctx, row, out, rc, store_trouble(rc), 0, "cannot read %s on %s: %s",
           key, o->target_type, last_detail(rc));
      return rc;
    }
    same = len == src->len && (len == 0 || memcmp(data, src->data, len) == 0);
    docstore_free(data);
  }
  if (same)
    return 1;
  fail(ctx, row, out, DOCSTORE_EEXISTS, 0, 0,
       "%s on %s already holds a different object; not overwritten", key,
       o->target_type);
  return DOCSTORE_EEXISTS;
}

/* Write, read back, compare. */
static int put_verified(const docstore__mig_ctx *ctx,
                        const docstore__mig_row *row, const char *key,
                        const doc *src, docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  int rc = docstore_provider_put(o->target, key, src->data, src->len);
  if (rc < 0) {
    fail(ctx, row, out, rc, store_trouble(rc), 0, "%s", last_detail(rc));
    return rc;
  }
  doc back = {0};
  snprintf(back.where, sizeof(back.where), "%s read back from %s", key,
           o->target_type);
  rc = docstore_provider_get(o->target, &back.data, &back.len, key);
  if (rc < 0) {
    fail(ctx, row, out, rc, store_trouble(rc), 0, "cannot read back %s: %s",
         key, last_detail(rc));
    return rc;
  }
  if (back.len != src->len ||
      (src->len && memcmp(back.data, src->data, src->len) != 0)) {
    fail(ctx, row, out, DOCSTORE_EINTEGRITY, 1, 0,
         "%s differs from the source (%zu bytes written, %zu read back)",
         back.where, src->len, back.len);
    rc = DOCSTORE_EINTEGRITY;
  } else
    rc = check_envelope(ctx, row, &back, out);
  doc_clear(&back);
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
                          const docstore__mig_row *row, const doc *src,
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

void docstore__mig_migrate_row(const docstore__mig_ctx *ctx,
                               const docstore__mig_row *row,
                               docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  doc src = {0};
  char *key = NULL;
  char sha[65];
  memset(out, 0, sizeof(*out));

  if (fetch(ctx, row, o->source, row->storage_type, &src, out) < 0 ||
      check_envelope(ctx, row, &src, out) < 0 ||
      target_key(ctx, row, &key, out) < 0)
    goto done;
  if (docstore__mig_sha256_hex(sha, src.data, src.len) < 0) {
    fail(ctx, row, out, DOCSTORE_ECRYPTO, 1, 0, "SHA-256 failed");
    goto done;
  }
  int present = probe_target(ctx, row, key, &src, out);
  if (present < 0)
    goto done;
  out->recovered = present;
  out->bytes = src.len;
  if (o->dry_run)
    goto done;
  if (!present && put_verified(ctx, row, key, &src, out) < 0)
    goto done;
  if (switch_row(ctx, row, key, sha, src.len, out) < 0)
    goto done;
  if (o->delete_source)
    delete_source(ctx, row, &src, key, out);
done:
  if (out->code < 0)
    out->bytes = 0;
  docstore_free(key);
  doc_clear(&src);
}

void docstore__mig_verify_row(const docstore__mig_ctx *ctx,
                              const docstore__mig_row *row,
                              docstore__mig_outcome *out) {
  const docstore__mig_opts *o = ctx->o;
  doc d = {0};
  char sha[65];
  memset(out, 0, sizeof(*out));
  docstore_provider *p =
      strcmp(row->storage_type, o->target_type) == 0 ? o->target : o->source;
  if (fetch(ctx, row, p, row->storage_type, &d, out) < 0)
    goto done;
  if (row->ledger_sha) {
    if (docstore__mig_sha256_hex(sha, d.data, d.len) < 0) {
      fail(ctx, row, out, DOCSTORE_ECRYPTO, 1, 0, "SHA-256 failed");
      goto done;
    }
    if (strcmp(sha, row->ledger_sha) != 0) {
      fail(ctx, row, out, DOCSTORE_EINTEGRITY, 0, 0,
           "%s differs from the SHA-256 recorded when it was migrated "
           "(recorded %.12s..., found %.12s...)",
           d.where, row->ledger_sha, sha);
      goto done;
    }
  }
  if (check_envelope(ctx, row, &d, out) < 0)
    goto done;
  out->bytes = d.len;
done:
  doc_clear(&d);
}
