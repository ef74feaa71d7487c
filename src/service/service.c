/*
 * libdocstore - the ObjectStorageService facade.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Composes a provider (through the dispatch layer, which counts storage
 * operations), a keyring, the documents/ path layout and the legacy-file
 * fallback.  The service's own state after creation is its counters
 * (atomics) and its last error (behind a mutex), so one service serves
 * any number of threads.
 *
 * Every public call keeps the detail of a failure in a local error record
 * and, on failure, stores it on the handle and in the thread's last error
 * (finish()).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "provider/fsio.h"
#include "provider/provider_internal.h"
#include "service/settings_catalog.h"
#include "util/file.h"
#include "service_internal.h"

int docstore_service_options_init(docstore_service_options *opts,
                                  unsigned int version) {
  if (!opts || version < 1 || version > DOCSTORE_SERVICE_OPTIONS_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "service options: unknown version %u "
                             "(expected 1 to %d)",
                             version, DOCSTORE_SERVICE_OPTIONS_VERSION);
  docstore_service_options init = DOCSTORE_SERVICE_OPTIONS_INIT;
  memcpy(opts, &init, docstore__service_options_size(version));
  opts->version = version;
  return 0;
}

size_t docstore__service_options_size(unsigned int version) {
  /* Version 1 ends before legacy_allow_outside_root, 2 before the envelope
   * fields. */
  return version == 1
             ? offsetof(docstore_service_options, legacy_allow_outside_root)
         : version == 2 ? offsetof(docstore_service_options, envelope_version)
                        : sizeof(docstore_service_options);
}

int docstore_service_new(docstore_service **out, docstore_provider *provider,
                         docstore_keyring *keyring,
                         const docstore_service_options *opts, char *errbuf,
                         size_t errbuf_len) {
  docstore_service_options defaults = DOCSTORE_SERVICE_OPTIONS_INIT;
  docstore_service *svc = NULL;
  docstore__err err;
  int rc;
  docstore__err_clear(&err);
  if (out)
    *out = NULL;
  if (!opts)
    opts = &defaults;
  if (!out || !provider) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "service: out and provider are required");
    goto fail;
  }
  if (opts->version < 1 || opts->version > DOCSTORE_SERVICE_OPTIONS_VERSION) {
    rc =
        docstore__err_set(&err, DOCSTORE_EINVAL,
                          "service: unknown options version %u", opts->version);
    goto fail;
  }
  if ((rc = docstore__service_options_check(
           opts, docstore__service_options_size(opts->version), &err)) < 0) {
    char why[DOCSTORE__ERRMSG_MAX];
    docstore__strlcpy(why, err.msg, sizeof(why));
    rc = docstore__err_set(&err, rc == DOCSTORE_ENOMEM ? rc : DOCSTORE_EINVAL,
                           "service: %s", why);
    goto fail;
  }
  svc = docstore__alloc(sizeof(*svc));
  if (!svc) {
    rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "service: out of memory");
    goto fail;
  }
  if (opts->legacy_root && opts->legacy_root[0] &&
      !(svc->legacy_root = docstore__strdup(opts->legacy_root))) {
    docstore_free(svc);
    rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "service: out of memory");
    goto fail;
  }
  svc->provider = provider;
  svc->keyring = keyring;
  svc->validate_envelopes = opts->validate_envelopes != 0;
  svc->legacy_outside = opts->version >= 2 && opts->legacy_allow_outside_root;
  svc->envelope_version = DOCSTORE__ENVELOPE_VERSION_DEFAULT;
  svc->segment_size = DOCSTORE__SEGMENT_SIZE_DEFAULT;
  if (opts->version >= 3) {
    if (opts->envelope_version)
      svc->envelope_version = (int)opts->envelope_version;
    svc->compression_level = opts->compression_level;
    if (opts->segment_size)
      svc->segment_size = opts->segment_size;
  }
  docstore__metrics_init(&svc->metrics);
  docstore__handle_err_init(&svc->err);
  *out = svc;
  return 0;
fail:
  /* Ownership was transferred: release what we were given. */
  docstore_provider_free(provider);
  docstore_keyring_free(keyring);
  docstore__err_to_buf(&err, errbuf, errbuf_len);
  return rc;
}

void docstore_service_free(docstore_service *svc) {
  if (!svc)
    return;
  docstore_provider_free(svc->provider);
  docstore_keyring_free(svc->keyring);
  docstore_free(svc->legacy_root);
  for (size_t i = 0; i < svc->nrecipients; i++)
    docstore_free(svc->recipients[i]);
  docstore_free(svc->recipients);
  docstore__handle_err_destroy(&svc->err);
  docstore_free(svc);
}

const char *docstore_service_errmsg(const docstore_service *svc) {
  return svc ? docstore__handle_err_get(&svc->err)
             : "invalid service handle (NULL)";
}

const char *docstore_service_storage_type(const docstore_service *svc) {
  return svc ? docstore_provider_name(svc->provider) : "(none)";
}

docstore_keyring *docstore_service_keyring(docstore_service *svc) {
  return svc ? svc->keyring : NULL;
}

docstore_provider *docstore_service_provider(docstore_service *svc) {
  return svc ? svc->provider : NULL;
}

int docstore__service_add_recipient(docstore_service *svc, const char *kid,
                                    docstore__err *err) {
  for (size_t i = 0; i < svc->nrecipients; i++)
    if (strcmp(svc->recipients[i], kid) == 0)
      return 0;
  if (svc->nrecipients >= DOCSTORE__V2_RECIPIENTS_MAX - 1)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "too many recipient keys (at most %d)",
                             DOCSTORE__V2_RECIPIENTS_MAX - 1);
  char **grown = docstore__realloc(
      svc->recipients, (svc->nrecipients + 1) * sizeof(*svc->recipients));
  if (!grown)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  svc->recipients = grown;
  if (!(grown[svc->nrecipients] = docstore__strdup(kid)))
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  svc->nrecipients++;
  return 0;
}

/* End of a public call: a failure goes to the handle (and the thread). */
static int finish(docstore_service *svc, int rc, const docstore__err *err) {
  if (rc < 0) {
    docstore__err e = *err;
    if (e.code != rc || !e.msg[0]) {
      e.code = rc;
      if (!e.msg[0])
        docstore__strlcpy(e.msg, docstore_strerror(rc), sizeof(e.msg));
    }
    docstore__handle_err_store(&svc->err, &e);
  }
  return rc;
}

int docstore__service_finish(docstore_service *svc, int rc,
                             const docstore__err *err) {
  return finish(svc, rc, err);
}

/* Time and count an operation of the service itself. */
static void count(docstore_service *svc, int op, int rc, uint64_t bytes,
                  uint64_t start) {
  docstore__metrics_record(&svc->metrics, op, rc, bytes,
                           docstore__now_us() - start);
}

void docstore__service_count(docstore_service *svc, int op, int rc,
                             uint64_t bytes, uint64_t latency_us) {
  docstore__metrics_record(&svc->metrics, op, rc, bytes, latency_us);
}

void docstore__service_log_transfer(const docstore_service *svc, int upload,
                                    const char *path) {
  if (upload)
    docstore__log(DOCSTORE_LOG_INFO, "File uploaded to %s: %s%s",
                  docstore__provider_display_name(svc->provider),
                  docstore__provider_location(svc->provider), path);
  else
    docstore__log(DOCSTORE_LOG_INFO, "File downloaded from %s: %s",
                  docstore__provider_display_name(svc->provider), path);
}

int docstore__service_need_keyring(const docstore_service *svc,
                                   const char *what, const char *var,
                                   docstore__err *err) {
  if (svc->keyring)
    return 0;
  return docstore__err_set(err, DOCSTORE_EKEY,
                           "%s: this service has no keyring (set %s)", what,
                           var);
}

/* ------------------------------------------------------------ store */

static int same_id(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The bytes must be an envelope; one bound to a document identity must be
 * bound to this document (an envelope copied from another record is
 * refused before it lands under the wrong path). */
static int check_envelope(const char *envelope, size_t len, const char *file_id,
                          const char *user_id, docstore__err *err) {
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  int rc = docstore_envelope_info_get(&info, envelope, len);
  if (rc == DOCSTORE_ENOMEM) {
    rc = docstore__err_set(err, rc, "out of memory");
  } else if (rc < 0) {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "refusing to store data that is not a valid "
                           "envelope: %s",
                           docstore_last_errmsg());
  } else if (info.file_id && (!same_id(info.file_id, file_id) ||
                              !same_id(info.user_id, user_id))) {
    rc = docstore__err_set(err, DOCSTORE_EINTEGRITY,
                           "refusing to store an envelope bound to file %s "
                           "(user %s) as file %s (user %s)",
                           info.file_id, info.user_id ? info.user_id : "system",
                           file_id ? file_id : "?",
                           user_id ? user_id : "system");
  }
  docstore_envelope_info_clear(&info);
  return rc;
}

/* Put bytes at a storage path and log where they went. */
static int put_at(docstore_service *svc, const char *path, const void *data,
                  size_t len, docstore__err *err) {
  DOCSTORE__GUARD(docstore__provider_put(svc->provider, path, data, len, err));
  docstore__service_log_transfer(svc, 1, path);
  return 0;
}

int docstore_service_store_encrypted(docstore_service *svc, char **out_path,
                                     const char *file_id, const char *filename,
                                     const char *envelope, size_t envelope_len,
                                     const char *user_id) {
  docstore__err err;
  char *path = NULL;
  int rc;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!out_path || !envelope || envelope_len == 0) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "store: out_path and a non-empty envelope are "
                           "required");
    goto done;
  }
  *out_path = NULL;
  /* Identities first (EINVAL), then the envelope against them. */
  DOCSTORE__GUARD_GOTO(rc,
                       docstore__storage_path(&path, file_id, filename, user_id,
                                              (int64_t)time(NULL), &err),
                       done);
  if (svc->validate_envelopes)
    DOCSTORE__GUARD_GOTO(
        rc, check_envelope(envelope, envelope_len, file_id, user_id, &err),
        done);
  DOCSTORE__GUARD_GOTO(rc, put_at(svc, path, envelope, envelope_len, &err),
                       done);
  *out_path = path;
  path = NULL;
done:
  docstore_free(path);
  return finish(svc, rc, &err);
}

int docstore_service_store_document(docstore_service *svc, char **out_path,
                                    const char *file_id, const char *filename,
                                    const uint8_t *data, size_t len,
                                    const char *user_id) {
  docstore__err err;
  docstore_writer *w = NULL;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!out_path || (!data && len > 0))
    return finish(svc,
                  docstore__err_set(&err, DOCSTORE_EINVAL,
                                    "store: out_path and data are required"),
                  &err);
  *out_path = NULL;
  /* One code path: the streaming writer, fed the whole document. */
  int rc = docstore_writer_begin(&w, svc, file_id, filename, user_id, NULL);
  if (rc == 0)
    rc = docstore_writer_write(w, data, len);
  if (rc == 0)
    rc = docstore_writer_commit(w, out_path);
  docstore_writer_free(w);
  return rc;
}

/* ------------------------------------------------------------ retrieve */

static int get_at(docstore_service *svc, docstore__buf *out, const char *path,
                  docstore__err *err) {
  DOCSTORE__GUARD(docstore__provider_get(svc->provider, path, out, err));
  docstore__service_log_transfer(svc, 0, path);
  return 0;
}

int docstore_service_retrieve_encrypted(docstore_service *svc, char **out,
                                        size_t *out_len, const char *path) {
  docstore__err err;
  docstore__buf buf = DOCSTORE__BUF_INIT;
  int rc;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!out || !out_len) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "retrieve: out and out_len are required");
    goto done;
  }
  *out = NULL;
  *out_len = 0;
  DOCSTORE__GUARD_GOTO(rc, get_at(svc, &buf, path, &err), done);
  *out = (char *)docstore__buf_detach(&buf, out_len);
done:
  docstore__buf_free(&buf);
  return finish(svc, rc, &err);
}

/* Read a legacy file: confined below legacy_root unless the service was
 * told that its database holds paths elsewhere. */
static int read_legacy(docstore_service *svc, docstore__buf *out,
                       const char *legacy_path, docstore__err *err) {
  char *full = NULL;
  int rc;
  uint64_t start = docstore__now_us();
  if (svc->legacy_outside) {
    if (!(full = docstore__legacy_path_join(svc->legacy_root, legacy_path)))
      return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    rc = docstore__file_read(out, full, 0, 0, "legacy file", err);
  } else {
    rc = docstore__file_read_beneath(out, svc->legacy_root, legacy_path, err);
    if (rc == DOCSTORE_EACCESS && err) {
      size_t n = strlen(err->msg);
      snprintf(err->msg + n, sizeof(err->msg) - n,
               " (reading it needs the legacy_allow_outside_root option, "
               "DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT)");
    }
  }
  count(svc, DOCSTORE_OP_FALLBACK, rc, rc < 0 ? 0 : out->len, start);
  if (rc == 0)
    docstore__log(DOCSTORE_LOG_INFO, "File read from local fallback: %s",
                  full ? full : legacy_path);
  docstore_free(full);
  return rc;
}

int docstore_service_retrieve_fallback(docstore_service *svc, char **out,
                                       size_t *out_len, const char *path,
                                       const char *legacy_path) {
  docstore__err err, legacy_err;
  docstore__buf buf = DOCSTORE__BUF_INIT;
  int rc;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  docstore__err_clear(&legacy_err);
  if (!out || !out_len || (!path && (!legacy_path || !legacy_path[0]))) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "retrieve: out, out_len and a path or a legacy "
                           "path are required");
    goto done;
  }
  *out = NULL;
  *out_len = 0;
  if (path) {
    rc = get_at(svc, &buf, path, &err);
    if (rc == 0 || rc == DOCSTORE_EINVAL || !legacy_path || !legacy_path[0])
      goto done;
    docstore__log(DOCSTORE_LOG_WARN,
                  "Failed to retrieve from object storage, falling back to "
                  "local: %s",
                  err.msg);
    docstore__buf_free(&buf);
  } else {
    rc = docstore__err_set(&err, DOCSTORE_ENOTFOUND,
                           "no storage path (document not migrated)");
  }
  int lrc = read_legacy(svc, &buf, legacy_path, &legacy_err);
  if (lrc == 0) {
    rc = 0;
  } else if (path) {
    /* Both failed: the object store's code, both reasons. */
    char first[DOCSTORE__ERRMSG_MAX];
    docstore__strlcpy(first, err.msg, sizeof(first));
    docstore__err_set(&err, rc, "%s; local fallback failed too: %s", first,
                      legacy_err.msg);
  } else {
    rc = lrc;
    err = legacy_err;
  }
done:
  /* rc is 0 only after out was checked; the analyzer does not see that
   * docstore__err_set() returns the negative code it is given. */
  if (rc == 0)
    // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
    *out = (char *)docstore__buf_detach(&buf, out_len);
  docstore__buf_free(&buf);
  return finish(svc, rc, &err);
}

/* Read the whole plaintext from a reader into out (secret memory), at
 * most DOCSTORE__OBJECT_MAX bytes. */
static int read_whole(docstore_reader *r, docstore__buf *out,
                      docstore__err *err) {
  uint64_t size = 0;
  int rc;
  if (docstore_reader_size(r, &size) == 0 && size > DOCSTORE__OBJECT_MAX)
    goto too_big;
  /* Known size: one block, with room to read the end into. */
  if (docstore__buf_reserve(out, size ? (size_t)size + 64 : 65536) < 0)
    goto no_memory;
  for (;;) {
    size_t got = 0;
    if (out->cap - out->len - 1 < 64 &&
        docstore__buf_reserve(out, out->len) < 0)
      goto no_memory;
    rc = docstore_reader_read(r, out->data + out->len, out->cap - out->len - 1,
                              &got);
    if (rc < 0)
      return rc; /* detail on the service already */
    if (got == 0)
      return 0;
    out->len += got;
    if (out->len > DOCSTORE__OBJECT_MAX)
      goto too_big;
  }
no_memory:
  return docstore__err_set(err, DOCSTORE_ENOMEM, "read: out of memory");
too_big:
  return docstore__err_set(err, DOCSTORE_ETOOBIG,
                           "read: the document is larger than %zu bytes, "
                           "the limit of the whole-buffer call (stream it "
                           "with docstore_reader_open())",
                           (size_t)DOCSTORE__OBJECT_MAX);
}

int docstore_service_read_document(docstore_service *svc, uint8_t **out,
                                   size_t *out_len, const char *path,
                                   const docstore_doc_id *expect) {
  docstore__err err;
  docstore__buf buf = DOCSTORE__BUF_INIT; /* plaintext: wiped */
  docstore_reader *r = NULL;
  int rc;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!out || !out_len)
    return finish(svc,
                  docstore__err_set(&err, DOCSTORE_EINVAL,
                                    "read: out and out_len are required"),
                  &err);
  *out = NULL;
  *out_len = 0;
  /* One code path: the streaming reader, read to its verified end. */
  rc = docstore_reader_open(&r, svc, path, expect, NULL);
  if (rc == 0 && (rc = read_whole(r, &buf, &err)) < 0 && err.code == rc)
    finish(svc, rc, &err);
  docstore_reader_close(r);
  if (rc == 0)
    *out = docstore__buf_detach(&buf, out_len);
  docstore__buf_free(&buf);
  return rc;
}

/* ------------------------------------------------------------ others */

int docstore_service_delete(docstore_service *svc, const char *path) {
  docstore__err err;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  int rc = docstore__provider_delete(svc->provider, path, &err);
  if (rc == 0)
    docstore__log(DOCSTORE_LOG_INFO, "File deleted from %s: %s",
                  docstore__provider_display_name(svc->provider), path);
  return finish(svc, rc, &err);
}

int docstore_service_exists(docstore_service *svc, int *exists, uint64_t *size,
                            const char *path) {
  docstore__err err;
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!exists)
    return finish(svc,
                  docstore__err_set(&err, DOCSTORE_EINVAL,
                                    "exists: the exists pointer is NULL"),
                  &err);
  *exists = 0;
  if (size)
    *size = 0;
  int rc = docstore__provider_head(svc->provider, path, &info, &err);
  if (rc == DOCSTORE_ENOTFOUND)
    return 0;
  if (rc == 0) {
    *exists = 1;
    if (size)
      *size = info.size;
  }
  return finish(svc, rc, &err);
}

int docstore_service_presign(docstore_service *svc, char **out_url,
                             const char *path, uint64_t expires_seconds) {
  docstore__err err;
  int rc;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  if (!out_url) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL, "presign: out_url is NULL");
    goto done;
  }
  *out_url = NULL;
  if (expires_seconds == 0 || expires_seconds > DOCSTORE_PRESIGN_MAX_SECONDS) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "expires_seconds must be 1..%u (presigned URLs "
                           "last at most 7 days)",
                           DOCSTORE_PRESIGN_MAX_SECONDS);
    goto done;
  }
  rc = docstore__provider_presign(svc->provider, path, DOCSTORE_PRESIGN_GET,
                                  expires_seconds, out_url, &err);
  if (rc == DOCSTORE_EUNSUPPORTED) {
    docstore__err_prefix(&err, "download URLs need S3 storage "
                               "(STORAGE_TYPE=s3)");
    goto done;
  }
  /* The URL carries a signature: log the path only. */
  if (rc == 0)
    docstore__log(DOCSTORE_LOG_INFO, "Presigned URL generated: %s", path);
done:
  return finish(svc, rc, &err);
}

int docstore_service_list(docstore_service *svc, const char *prefix,
                          docstore_list_cb cb, void *payload) {
  docstore__err err;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  int rc = docstore__provider_list(
      svc->provider, prefix ? prefix : "documents/", cb, payload, &err);
  return finish(svc, rc, &err);
}

int docstore_service_check(docstore_service *svc, char **report) {
  docstore__err err;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  docstore__err_clear(&err);
  int rc = docstore__provider_check(svc->provider, report, &err);
  return finish(svc, rc, &err);
}

/* ------------------------------------------------------------ metrics */

/* The provider's storage counters plus the service's own. */
static void snapshot(const docstore_service *svc, docstore__metrics *m) {
  docstore__metrics_init(m);
  docstore__metrics_merge(m, docstore__provider_metrics(svc->provider));
  docstore__metrics_merge(m, &svc->metrics);
}

int docstore_service_stats(const docstore_service *svc, docstore_op_stats *out,
                           int op) {
  docstore__metrics m;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  snapshot(svc, &m);
  return docstore__metrics_get(&m, op, out);
}

int docstore_service_stats_json(const docstore_service *svc, char **out) {
  docstore__metrics m;
  if (!svc)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "service is NULL");
  snapshot(svc, &m);
  return docstore__metrics_json(&m, out);
}

void docstore_service_stats_reset(docstore_service *svc) {
  if (!svc)
    return;
  docstore__metrics_reset(docstore__provider_metrics(svc->provider));
  docstore__metrics_reset(&svc->metrics);
}
