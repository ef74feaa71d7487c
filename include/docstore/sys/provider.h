/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * sys/provider.h: the storage provider interface, for writing a backend of
 * your own.  Less stable than the rest of the API (like libgit2's sys/
 * headers): new operations are appended and announced by a higher
 * DOCSTORE_PROVIDER_OPS_VERSION; a table of an older version keeps
 * working.
 *
 * A provider moves opaque bytes under string keys.  It knows nothing of
 * encryption or of the documents/ layout.  Before any operation reaches a
 * provider, the library has validated the key (see docstore_key_check()),
 * and it takes care of logging, metrics and error messages around it.
 */
#ifndef DOCSTORE_SYS_PROVIDER_H
#define DOCSTORE_SYS_PROVIDER_H

#include "../common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Where a provider records failure detail.  Opaque; valid only during the
 * operation it was passed to.
 */
typedef struct docstore_errinfo docstore_errinfo;

/**
 * Record failure detail for the current operation (the provider then
 * returns `code`).  `message` is copied; it must not contain secrets.
 * err may be NULL (no-op).  Returns `code` so that a provider can write
 * `return docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such key");`.
 */
DOCSTORE_EXTERN int docstore_errinfo_set(docstore_errinfo *err, int code,
                                         const char *message);

/**
 * Receives bytes from a provider (object contents, a URL).  Return 0 to go
 * on, non-zero to stop (the provider then returns DOCSTORE_ECANCELED, or
 * the sink's own negative code).
 */
typedef int (*docstore_sink_cb)(void *sink_payload, const uint8_t *data,
                                size_t len);

#define DOCSTORE_OBJECT_INFO_VERSION 1

/** What a provider knows about one object. */
typedef struct docstore_object_info {
  unsigned int version; /**< set by the caller of the operation */
  const char *key;      /**< the object's key (list only; borrowed) */
  uint64_t size;        /**< size in bytes */
  int64_t mtime;        /**< last modified, Unix seconds, 0 if unknown */
  const char *etag;     /**< provider's entity tag or NULL (borrowed) */
} docstore_object_info;

/** Called by list for each object; return non-zero to stop listing. */
typedef int (*docstore_list_cb)(void *list_payload,
                                const docstore_object_info *info);

/** HTTP method a presigned URL is made for. */
typedef enum docstore_presign_method {
  DOCSTORE_PRESIGN_GET = 0,
  DOCSTORE_PRESIGN_PUT = 1
} docstore_presign_method;

#define DOCSTORE_PROVIDER_OPS_VERSION 1

/**
 * The operations of a provider.  `payload` is the pointer given to
 * docstore_provider_new().  Every operation returns 0 or a negative
 * DOCSTORE_E* code, recording detail with docstore_errinfo_set().  The
 * library may call operations from several threads at once: a provider
 * that cannot cope must lock internally.
 *
 * Required: put, get, head, del, free.  Optional (NULL): list, presign,
 * check, get_range — the library answers DOCSTORE_EUNSUPPORTED.
 */
typedef struct docstore_provider_ops {
  unsigned int version; /**< DOCSTORE_PROVIDER_OPS_VERSION */
  const char *name;     /**< short static name: "local", "s3", "memory" */

  /** Store `len` bytes under `key`, replacing any object there.  Must be
   *  atomic: afterwards the key holds the old or the new bytes, never a
   *  part. */
  int (*put)(void *payload, const char *key, const uint8_t *data, size_t len,
             docstore_errinfo *err);

  /** Stream the whole object to `sink`.  A missing key is
   *  DOCSTORE_ENOTFOUND. */
  int (*get)(void *payload, const char *key, docstore_sink_cb sink,
             void *sink_payload, docstore_errinfo *err);

  /** Fill info->size (and mtime/etag when known).  Missing key:
   *  DOCSTORE_ENOTFOUND.  Strings in info stay valid until the next
   *  operation on the same thread. */
  int (*head)(void *payload, const char *key, docstore_object_info *info,
              docstore_errinfo *err);

  /** Delete `key`.  Deleting a missing key succeeds (idempotent). */
  int (*del)(void *payload, const char *key, docstore_errinfo *err);

  /** Call `cb` for every object whose key starts with `prefix` ("" for
   *  all), in any order.  Optional. */
  int (*list)(void *payload, const char *prefix, docstore_list_cb cb,
              void *list_payload, docstore_errinfo *err);

  /** Write a URL that grants `method` on `key` for `expires_seconds` to
   *  `sink`.  Optional. */
  int (*presign)(void *payload, const char *key, int method,
                 uint64_t expires_seconds, docstore_sink_cb sink,
                 void *sink_payload, docstore_errinfo *err);

  /** Check reachability, credentials and container/bucket.  Optional;
   *  write a human report line by line to `sink` if not NULL. */
  int (*check)(void *payload, docstore_sink_cb sink, void *sink_payload,
               docstore_errinfo *err);

  /** Stream `length` bytes from `offset` (length UINT64_MAX: to the end).
   *  Optional. */
  int (*get_range)(void *payload, const char *key, uint64_t offset,
                   uint64_t length, docstore_sink_cb sink, void *sink_payload,
                   docstore_errinfo *err);

  /** Release the payload.  Called once, by docstore_provider_free(). */
  void (*free)(void *payload);
} docstore_provider_ops;

/** A provider: an ops table plus its payload.  Opaque. */
typedef struct docstore_provider docstore_provider;

/**
 * Wrap an ops table into a provider.  The table is copied (only the fields
 * its `version` declares are read); `payload` is owned by the provider from
 * now on and released through ops->free, also when this call fails.
 * @return 0, DOCSTORE_EINVAL (NULL, unknown version, missing required op),
 *         DOCSTORE_ENOMEM.
 */
DOCSTORE_EXTERN int docstore_provider_new(docstore_provider **out,
                                          const docstore_provider_ops *ops,
                                          void *payload);

/** Initialise an ops table to zeroes with the given version (for FFI). */
DOCSTORE_EXTERN int docstore_provider_ops_init(docstore_provider_ops *ops,
                                               unsigned int version);

/** Free a provider and its payload.  NULL is a no-op.  Do not free a
 *  provider that a service owns. */
DOCSTORE_EXTERN void docstore_provider_free(docstore_provider *provider);

/** The provider's name ("local", "s3", ...).  Never NULL. */
DOCSTORE_EXTERN const char *docstore_provider_name(const docstore_provider *p);

/**
 * Check that `key` is a safe object key: 1 to 1024 bytes, valid UTF-8, no
 * control characters, not absolute, no empty, "." or ".." segments.
 * @return 0 or DOCSTORE_EINVAL.  Thread-safe.
 */
DOCSTORE_EXTERN int docstore_key_check(const char *key);

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_SYS_PROVIDER_H */
