/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * service.h: the ObjectStorageService facade.  It composes a provider, a
 * keyring, the documents/ path layout, metrics and logging.
 *
 * Thread safety: every docstore_service_* call may be made on one service
 * from several threads at once (except docstore_service_free()).
 * Error detail: docstore_service_errmsg() gives the detail of the last
 * failure on the handle; when several threads share a handle, also see
 * docstore_last_errmsg() (per thread).
 */
#ifndef DOCSTORE_SERVICE_H
#define DOCSTORE_SERVICE_H

#include "common.h"
#include "config.h"
#include "crypto.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct docstore_service docstore_service;

#define DOCSTORE_SERVICE_OPTIONS_VERSION 1

typedef struct docstore_service_options {
  unsigned int version;    /**< DOCSTORE_SERVICE_OPTIONS_VERSION */
  /** Folder that relative legacy paths (an attachment's old `filepath`)
   *  are resolved against by docstore_service_retrieve_fallback().
   *  NULL: the current directory. */
  const char *legacy_root;
  /** 1 (default): refuse to store bytes that are not a well-formed
   *  envelope (this format or legacy). */
  int validate_envelopes;
} docstore_service_options;

#define DOCSTORE_SERVICE_OPTIONS_INIT {DOCSTORE_SERVICE_OPTIONS_VERSION, NULL, 1}

DOCSTORE_EXTERN int docstore_service_options_init(
    docstore_service_options *opts, unsigned int version);

/**
 * Create a service.  It takes ownership of `provider` and `keyring` (which
 * may be NULL: then only the *_encrypted calls work), also on failure.
 * @param opts NULL for defaults.
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_ENOMEM; detail in errbuf.
 */
DOCSTORE_EXTERN int docstore_service_new(docstore_service **out,
                                         docstore_provider *provider,
                                         docstore_keyring *keyring,
                                         const docstore_service_options *opts,
                                         char *errbuf, size_t errbuf_len);

/**
 * The factory: build a service from a configuration (STORAGE_TYPE chooses
 * the provider; RSA_PUBLIC_KEY_PATH / RSA_PRIVATE_KEY_PATH /
 * RSA_PRIVATE_KEY_PASSPHRASE load keys when set).  Logs
 * "S3 storage initialized: bucket=..., endpoint=..." or the local
 * equivalent.  cfg is only read; the caller still frees it.
 * @return 0, DOCSTORE_ECONFIG (message names the variable), DOCSTORE_EKEY,
 *         DOCSTORE_EUNSUPPORTED, DOCSTORE_ENOMEM; detail in errbuf.
 */
DOCSTORE_EXTERN int docstore_service_from_config(docstore_service **out,
                                                 const docstore_config *cfg,
                                                 char *errbuf,
                                                 size_t errbuf_len);

/** Free a service, its provider and keyring.  NULL is a no-op. */
DOCSTORE_EXTERN void docstore_service_free(docstore_service *svc);

/** Detail of the last failure on this service; never NULL.  The string is
 *  copied for the calling thread, valid until its next call of this
 *  function. */
DOCSTORE_EXTERN const char *docstore_service_errmsg(docstore_service *svc);

/** Name of the service's provider ("local", "s3", ...). */
DOCSTORE_EXTERN const char *docstore_service_storage_type(
    const docstore_service *svc);

/** The service's keyring (borrowed; may be NULL). */
DOCSTORE_EXTERN docstore_keyring *docstore_service_keyring(
    docstore_service *svc);

/** The service's provider (borrowed), for raw object operations. */
DOCSTORE_EXTERN docstore_provider *docstore_service_provider(
    docstore_service *svc);

/* ---------------------------------------------------------- path layout */

/**
 * The storage path of a document:
 *   documents/user_<user_id>/YYYY/MM/DD/<file_id>_<filename>_<ext>.json
 *   documents/system/YYYY/MM/DD/<file_id>_<filename>_<ext>.json  (no user)
 * with the date of `when` (Unix seconds) in UTC.  file_id and user_id:
 * 1-64 characters of [A-Za-z0-9_-].  The filename is sanitised (see
 * docs/ARCHITECTURE.md, "Storage paths"): it can never add a folder or
 * escape the layout.
 * @param out library-owned string (docstore_free()).
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_ENOMEM.  Thread-safe.
 */
DOCSTORE_EXTERN int docstore_storage_path(char **out, const char *file_id,
                                          const char *filename,
                                          const char *user_id, int64_t when);

/* ------------------------------------------------------- the facade */

/**
 * Store an envelope (JSON, as produced by docstore_envelope_seal() or the
 * legacy backend) under the document's storage path (dated now, UTC).
 * @param out_path receives the storage path (docstore_free()).
 * @param user_id  NULL for a system document.
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_EFORMAT (not an envelope),
 *         DOCSTORE_EINTEGRITY (an envelope bound to another file_id/user_id),
 *         or the provider's code.
 */
DOCSTORE_EXTERN int docstore_service_store_encrypted(
    docstore_service *svc, char **out_path, const char *file_id,
    const char *filename, const char *envelope, size_t envelope_len,
    const char *user_id);

/** Read an envelope back by storage path (docstore_free()). */
DOCSTORE_EXTERN int docstore_service_retrieve_encrypted(docstore_service *svc,
                                                        char **out,
                                                        size_t *out_len,
                                                        const char *path);

/**
 * As docstore_service_retrieve_encrypted(), but when the object store
 * fails (for any reason but DOCSTORE_EINVAL), read `legacy_path` from the
 * local filesystem instead (relative paths against the legacy_root
 * option), logging "Failed to retrieve from object storage, falling back
 * to local".  `path` may be NULL (a document never migrated).
 * @return 0, or the object store's code when the fallback fails too
 *         (the message tells both reasons).
 */
DOCSTORE_EXTERN int docstore_service_retrieve_fallback(
    docstore_service *svc, char **out, size_t *out_len, const char *path,
    const char *legacy_path);

/** Delete a document; a missing one is not an error. */
DOCSTORE_EXTERN int docstore_service_delete(docstore_service *svc,
                                            const char *path);

/** 1 in *exists if the document exists, else 0; its size in *size
 *  (size may be NULL). */
DOCSTORE_EXTERN int docstore_service_exists(docstore_service *svc,
                                            int *exists, uint64_t *size,
                                            const char *path);

/**
 * A presigned download URL valid for `expiration_hours` (0 means 24; at most
 * 168, S3's limit).  (docstore_free()).
 * @return 0, DOCSTORE_EINVAL (over 168 hours), DOCSTORE_EUNSUPPORTED (the
 *         provider has no URLs, e.g. local), or the provider's code.
 */
DOCSTORE_EXTERN int docstore_service_download_url(docstore_service *svc,
                                                  char **out_url,
                                                  const char *path,
                                                  unsigned int expiration_hours);

/**
 * Encrypt a plaintext document with the keyring's default key, binding its
 * identity, and store it.  @param out_path receives the storage path.
 */
DOCSTORE_EXTERN int docstore_service_store_document(
    docstore_service *svc, char **out_path, const char *file_id,
    const char *filename, const uint8_t *data, size_t len,
    const char *user_id);

/**
 * Retrieve and decrypt a document.  When expect is not NULL, an envelope
 * bound to another document is refused (DOCSTORE_EINTEGRITY).
 * @param out plaintext, library-owned (docstore_free() wipes it).
 */
DOCSTORE_EXTERN int docstore_service_read_document(
    docstore_service *svc, uint8_t **out, size_t *out_len, const char *path,
    const docstore_doc_id *expect);

/** List the stored objects under a prefix (NULL: "documents/"). */
DOCSTORE_EXTERN int docstore_service_list(docstore_service *svc,
                                          const char *prefix,
                                          docstore_list_cb cb, void *payload);

/** Connectivity check of the provider; report as in
 *  docstore_provider_check(). */
DOCSTORE_EXTERN int docstore_service_check(docstore_service *svc,
                                           char **report);

/* ------------------------------------------------------------- metrics */

/** Operations that are counted. */
typedef enum docstore_op {
  DOCSTORE_OP_PUT = 0,
  DOCSTORE_OP_GET = 1,
  DOCSTORE_OP_HEAD = 2,
  DOCSTORE_OP_DELETE = 3,
  DOCSTORE_OP_LIST = 4,
  DOCSTORE_OP_PRESIGN = 5,
  DOCSTORE_OP_ENCRYPT = 6,
  DOCSTORE_OP_DECRYPT = 7,
  DOCSTORE_OP_FALLBACK = 8,
  DOCSTORE_OP_COUNT_ = 9 /**< number of ops in this version */
} docstore_op;

/** Short name of an op ("put"...), NULL for an unknown op. */
DOCSTORE_EXTERN const char *docstore_op_name(int op);

#define DOCSTORE_OP_STATS_VERSION 1

typedef struct docstore_op_stats {
  unsigned int version;     /**< DOCSTORE_OP_STATS_VERSION, set by caller */
  uint64_t successes;
  uint64_t failures;
  uint64_t bytes;           /**< payload bytes moved by successful calls */
  uint64_t total_latency_us;
  uint64_t avg_latency_us;  /**< total / (successes + failures), 0 if none */
  uint64_t retries;         /**< provider retries (S3) */
} docstore_op_stats;

/** Counters of one op since the service was created.  Thread-safe. */
DOCSTORE_EXTERN int docstore_service_stats(docstore_service *svc, int op,
                                           docstore_op_stats *out);

/** All counters as a JSON object {"put": {...}, ...} (docstore_free()). */
DOCSTORE_EXTERN int docstore_service_stats_json(docstore_service *svc,
                                                char **out);

/** Reset all counters to zero. */
DOCSTORE_EXTERN void docstore_service_stats_reset(docstore_service *svc);

/* ------------------------------------------------ process-wide default */

/**
 * The seed's init_storage_service(config): build the process-wide default
 * service from cfg (NULL: from the environment).  Safe to call from
 * several threads: exactly one service is built; later calls return
 * DOCSTORE_EEXISTS and keep the first.
 */
DOCSTORE_EXTERN int docstore_default_init(const docstore_config *cfg,
                                          char *errbuf, size_t errbuf_len);

/** The seed's get_storage_service(): the default service (borrowed), or
 *  NULL if docstore_default_init() has not succeeded. */
DOCSTORE_EXTERN docstore_service *docstore_default_get(void);

/** Free the default service.  No other thread may still use it. */
DOCSTORE_EXTERN void docstore_default_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_SERVICE_H */
