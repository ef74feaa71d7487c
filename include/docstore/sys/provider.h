/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/sys/provider.h
 * @brief The storage provider interface, for writing a backend of your
 * own.
 *
 * Less stable than the rest of the API (like libgit2's sys/ headers): new
 * operations are appended and announced by a higher
 * #DOCSTORE_PROVIDER_OPS_VERSION; a table of an older version keeps
 * working.
 *
 * It includes provider.h (the provider handle, object descriptions, key
 * rules), never the reverse: a user of the stable API does not see this
 * interface unless it includes this header.
 *
 * A provider moves opaque bytes under string keys.  It knows nothing of
 * encryption or of the documents/ layout.  Before any operation reaches a
 * provider, the library has validated the key (see docstore_key_check()),
 * and it takes care of logging, metrics and error messages around it.
 */
#ifndef DOCSTORE_SYS_PROVIDER_H
#define DOCSTORE_SYS_PROVIDER_H

#include "../provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup sys_provider Provider interface (sys)
 * @brief The operations table a storage backend implements, and the
 * handle that wraps it.  examples/custom_provider.c is a complete
 * provider.
 * @{
 */

/**
 * Where a provider records failure detail.  Opaque; valid only during the
 * operation it was passed to.
 * @since 0.1.0
 */
typedef struct docstore_errinfo docstore_errinfo;

/**
 * Record failure detail for the current operation; the provider then
 * returns `code`.  The library puts "<op> <key>: " in front of the message
 * and keeps it on the provider handle (docstore_provider_errmsg()) and as
 * the thread's last error.  Thread-safe.
 * @param err     the operation's errinfo; NULL is a no-op.
 * @param code    a negative #docstore_error code.
 * @param message copied, cut at 511 bytes; it must not contain secrets.
 *                NULL: docstore_strerror(code).
 * @return code, so that a provider can write
 *         `return docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such
 * key");`.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_errinfo_set(docstore_errinfo *err, int code,
                                         const char *message);

/**
 * Receives bytes from a provider (object contents, a URL, a check
 * report), in as many calls as the provider likes.
 * @param sink_payload the pointer the library passed with the sink.
 * @param data         the next bytes, valid only during the call.
 * @param len          their number (may be 0).
 * @return 0 to go on; non-zero to stop: the provider must then stop and
 *         return the sink's value if it is negative, #DOCSTORE_ECANCELED
 *         otherwise.
 * @since 0.1.0
 */
typedef int (*docstore_sink_cb)(void *sink_payload, const uint8_t *data,
                                size_t len);

/**
 * Version of #docstore_provider_ops this header describes.  Version 2
 * (0.3.0) appends the streaming operations put_begin .. get_close.
 * @since 0.1.0
 */
#define DOCSTORE_PROVIDER_OPS_VERSION 2

/**
 * Version of #docstore_put_options this header describes.
 * @since 0.3.0
 */
#define DOCSTORE_PUT_OPTIONS_VERSION 1

/**
 * #docstore_put_options flag: the commit fails with #DOCSTORE_EEXISTS when
 * the key already holds an object, and leaves that object as it is.
 * @since 0.3.0
 */
#define DOCSTORE_PUT_NO_CLOBBER 1u

/**
 * #docstore_put_options flag: put_commit returns 0 only when the provider
 * has proof that the stored object holds exactly the bytes written: a
 * digest of every byte that the server checked before storing (the SigV4
 * payload hash, or a flexible checksum the server echoes back), or else a
 * read-back compared with what was sent.  The local provider's proof is its
 * checked, synced write.  The buffering adapter reads the object back.
 * @since 0.4.0
 */
#define DOCSTORE_PUT_VERIFY 2u

/**
 * How a streaming put (docstore_provider_ops.put_begin) stores its object.
 * The library always passes a filled struct; a provider reads only the
 * fields of the `version` it is given.
 * @since 0.3.0
 */
typedef struct docstore_put_options {
  unsigned int version; /**< #DOCSTORE_PUT_OPTIONS_VERSION */
  /** Bitwise OR of DOCSTORE_PUT_* flags (#DOCSTORE_PUT_NO_CLOBBER); a
   *  provider refuses a flag it does not know with #DOCSTORE_EUNSUPPORTED. */
  unsigned int flags;
  /** MIME type for providers that store one; NULL: application/octet-stream.
   */
  const char *content_type;
  /** Expected object size in bytes, 0 when unknown; a hint (part sizing),
   *  the stream may end up shorter or longer. */
  uint64_t size_hint;
} docstore_put_options;

/**
 * Static initialiser of #docstore_put_options: version set, no flags, no
 * content type, size unknown.
 * @since 0.3.0
 */
#define DOCSTORE_PUT_OPTIONS_INIT                                              \
  { DOCSTORE_PUT_OPTIONS_VERSION, 0, NULL, 0 }

/**
 * The operations of a provider.  `payload` is the pointer given to
 * docstore_provider_new().  Every operation returns 0 or a negative
 * DOCSTORE_E* code, recording detail with docstore_errinfo_set(); a
 * positive return counts as 0 and a code unknown to the library
 * (below #DOCSTORE_ERROR_MIN) becomes #DOCSTORE_EIO.  The library may call
 * operations from several threads at once: a provider that cannot cope
 * must lock internally.  Keys reaching an operation have passed
 * docstore_key_check().
 *
 * Required: put, get, head, del, free.  Optional (NULL): list, presign,
 * check (the library then answers #DOCSTORE_EUNSUPPORTED) and get_range.
 *
 * Version 2 appends seven streaming operations in two groups, each
 * optional and all or none: put_begin, put_write, put_commit and
 * put_abort; get_open, get_read and get_close (docstore_provider_new()
 * refuses a partial group with #DOCSTORE_EINVAL; before 0.4.0 both groups
 * had to be set together).  Without a group the library streams that way
 * through a buffering adapter: a streamed put is held in memory (at most
 * 1.5 GiB, else #DOCSTORE_ETOOBIG) and stored with put; a streamed get
 * reads 8 MiB windows with get_range when the provider has it, else the
 * whole object with get (same cap).  The adapter's no-clobber is a head
 * followed by put: unlike a native put_commit it is not atomic.
 *
 * A table of version 1 ends at `free`: the library reads no field after
 * it, so a provider compiled against an older header keeps working.
 * @since 0.1.0
 */
typedef struct docstore_provider_ops {
  unsigned int version; /**< #DOCSTORE_PROVIDER_OPS_VERSION */
  /** Short name ("local", "s3", "memory"), copied; NULL or "" gives
   *  "custom". */
  const char *name;

  /** Store `len` bytes under `key`, replacing any object there.  Must be
   *  atomic: afterwards the key holds the old or the new bytes, never a
   *  part.  `data` is never NULL (it may be empty). */
  int (*put)(void *payload, const char *key, const uint8_t *data, size_t len,
             docstore_errinfo *err);

  /** Stream the whole object to `sink`.  A missing key is
   *  #DOCSTORE_ENOTFOUND. */
  int (*get)(void *payload, const char *key, docstore_sink_cb sink,
             void *sink_payload, docstore_errinfo *err);

  /** Fill info->size (and mtime/etag when known; the library zeroes them
   *  first).  Missing key: #DOCSTORE_ENOTFOUND.  Strings put in info must
   *  stay valid until the next operation on the same thread. */
  int (*head)(void *payload, const char *key, docstore_object_info *info,
              docstore_errinfo *err);

  /** Delete `key`.  Deleting a missing key succeeds (idempotent). */
  int (*del)(void *payload, const char *key, docstore_errinfo *err);

  /** Call `cb` for every object whose key starts with `prefix` ("" for
   *  all), in any order; stop as soon as cb returns non-zero.  Optional. */
  int (*list)(void *payload, const char *prefix, docstore_list_cb cb,
              void *list_payload, docstore_errinfo *err);

  /** Write a URL that grants `method` (#docstore_presign_method) on `key`
   *  for `expires_seconds` (at least 1) to `sink`.  Optional. */
  int (*presign)(void *payload, const char *key, int method,
                 uint64_t expires_seconds, docstore_sink_cb sink,
                 void *sink_payload, docstore_errinfo *err);

  /** Check reachability, credentials and container/bucket.  Optional;
   *  write a human report line by line to `sink` when it is not NULL. */
  int (*check)(void *payload, docstore_sink_cb sink, void *sink_payload,
               docstore_errinfo *err);

  /** Stream `length` bytes from `offset` (length UINT64_MAX: to the end).
   *  Optional; reserved for ranged reads: this version of the library has
   *  no public call that uses it. */
  int (*get_range)(void *payload, const char *key, uint64_t offset,
                   uint64_t length, docstore_sink_cb sink, void *sink_payload,
                   docstore_errinfo *err);

  /** Release the payload.  Called once, by docstore_provider_free() (or by
   *  a failing docstore_provider_new()). */
  void (*free)(void *payload);

  /* ---- version 2 (0.3.0): streaming; each group all or none. ---- */

  /** Start a streamed put of `key`: create a transaction in `*txn` that
   *  put_write, then put_commit or put_abort, receive.  Nothing is visible
   *  under `key` before the commit.  `opts` is never NULL; it and its
   *  strings are valid during this call only (copy what is needed later).  The
   * library serialises the calls on one transaction; different transactions
   *  (also of the same key) may run on several threads at once.
   *  @since 0.3.0 */
  int (*put_begin)(void *payload, const char *key,
                   const docstore_put_options *opts, void **txn,
                   docstore_errinfo *err);

  /** Append `len` bytes (`data` never NULL; len may be 0).  On failure the
   *  library calls put_abort.
   *  @since 0.3.0 */
  int (*put_write)(void *payload, void *txn, const uint8_t *data, size_t len,
                   docstore_errinfo *err);

  /** Make the object appear under the key atomically (readers see the old
   *  object or the whole new one).  With #DOCSTORE_PUT_NO_CLOBBER, an
   *  existing object fails with #DOCSTORE_EEXISTS and stays as it is.
   *  Releases `txn` whatever the result.
   *  @since 0.3.0 */
  int (*put_commit)(void *payload, void *txn, docstore_errinfo *err);

  /** Discard everything written and release `txn`.
   *  @since 0.3.0 */
  void (*put_abort)(void *payload, void *txn);

  /** Open `key` for reading `length` bytes from `offset` (length
   *  UINT64_MAX: to the end; a range past the end is cut at the end).  Set
   *  `*object_size` to the whole object's size and `*stream` to a handle
   *  for get_read.  An offset beyond the object's size is
   *  #DOCSTORE_EINVAL; an offset equal to it gives an empty stream.  Missing
   *  key: #DOCSTORE_ENOTFOUND.
   *  @since 0.3.0 */
  int (*get_open)(void *payload, const char *key, uint64_t offset,
                  uint64_t length, void **stream, uint64_t *object_size,
                  docstore_errinfo *err);

  /** Read up to `cap` (> 0) bytes into `buf`; `*got` 0 means the end of
   *  the range.
   *  @since 0.3.0 */
  int (*get_read)(void *payload, void *stream, uint8_t *buf, size_t cap,
                  size_t *got, docstore_errinfo *err);

  /** Release the stream (at the end or before).
   *  @since 0.3.0 */
  void (*get_close)(void *payload, void *stream);
} docstore_provider_ops;

/**
 * Wrap an ops table into a provider.  Thread-safe.
 * @param out     receives the provider (NULL on failure); free it with
 *                docstore_provider_free() unless a service takes it.
 * @param ops     the table; copied (only the fields its `version` declares
 *                are read: a version 1 table may be the shorter version 1
 *                struct; a newer version is accepted and read up to the
 *                fields this library knows).
 * @param payload owned by the provider from now on and released through
 *                ops->free, also when this call fails (except when ops is
 *                NULL).  May be NULL.
 * @return 0, #DOCSTORE_EINVAL (out or ops NULL, ops->version 0, a required
 *         operation missing, some but not all of a group of version 2
 *         streaming operations set), #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_new(docstore_provider **out,
                                          const docstore_provider_ops *ops,
                                          void *payload);

/**
 * Initialise an ops table to zeroes with the given version (for FFI
 * callers).  Thread-safe.
 * @param ops     the table to fill.
 * @param version 1 to #DOCSTORE_PROVIDER_OPS_VERSION.  With version 1 only
 *                the version 1 fields (up to `free`) are written: `ops` may
 *                point to a table of the shorter version 1 layout.
 * @return 0, #DOCSTORE_EINVAL (ops NULL or version unknown).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_ops_init(docstore_provider_ops *ops,
                                               unsigned int version);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_SYS_PROVIDER_H */
