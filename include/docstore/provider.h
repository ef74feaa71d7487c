/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/provider.h
 * @brief The built-in providers (local filesystem, S3) and raw object
 * operations on any provider.
 *
 * Raw operations move opaque bytes: no encryption, no path layout (see
 * service.h for those).  The interface for writing a provider of your own
 * is in sys/provider.h, which includes this header.
 */
#ifndef DOCSTORE_PROVIDER_H
#define DOCSTORE_PROVIDER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup provider Providers and raw object operations
 * @brief The local filesystem and S3 providers, and put/get/head/delete/
 * list/presign/check on any provider.
 * @{
 */

/* ------------------------------------------------------ the handle */

/**
 * A provider: an ops table plus its payload.  Opaque.  Thread-safe when
 * its operations are (both built-in providers are).
 * @since 0.1.0
 */
typedef struct docstore_provider docstore_provider;

/**
 * Free a provider: calls ops->free(payload), then releases the handle.
 * No operation may still be running on it.
 * @param provider the provider, or NULL (no-op).  Do not free a provider
 *                 that a service owns.
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_provider_free(docstore_provider *provider);

/**
 * The provider's name.  Thread-safe.
 * @param p the provider; NULL gives "(none)".
 * @return "local", "s3", the ops table's name...; owned by the provider,
 *         never NULL.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_provider_name(const docstore_provider *p);

/**
 * Check that `key` is a safe object key: 1 to 1024 bytes of valid UTF-8,
 * no control characters (U+0000-U+001F, U+007F-U+009F), no backslash, not
 * starting with '/', and no empty, "." or ".." segments between slashes.
 * Thread-safe.
 * @param key the key (NULL is refused).
 * @return 0 or #DOCSTORE_EINVAL (the reason in docstore_last_errmsg()).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_key_check(const char *key);

/**
 * Current version of #docstore_object_info.
 * @since 0.1.0
 */
#define DOCSTORE_OBJECT_INFO_VERSION 1

/**
 * What a provider knows about one object.
 * @since 0.1.0
 */
typedef struct docstore_object_info {
  /** Version of the struct: set by the caller of head; in a list callback,
   *  set by the provider to the version it filled. */
  unsigned int version;
  const char *key;  /**< the object's key (list only; borrowed) */
  uint64_t size;    /**< size in bytes */
  int64_t mtime;    /**< last modified, Unix seconds, 0 if unknown */
  const char *etag; /**< provider's entity tag or NULL (borrowed) */
} docstore_object_info;

/**
 * Called by a listing for each object.
 * @param list_payload the payload given with the callback.
 * @param info         the object; it and its strings are valid only
 *                     during the call.
 * @return 0 to go on, non-zero to stop listing (see
 *         docstore_provider_list() for what the listing then returns).
 * @since 0.1.0
 */
typedef int (*docstore_list_cb)(void *list_payload,
                                const docstore_object_info *info);

/**
 * HTTP method a presigned URL is made for.
 * @since 0.1.0
 */
typedef enum docstore_presign_method {
  DOCSTORE_PRESIGN_GET = 0, /**< download the object */
  DOCSTORE_PRESIGN_PUT = 1  /**< upload (replace) the object */
} docstore_presign_method;

/* ---------------------------------------------------------------- local */

/**
 * Current version of #docstore_local_options.
 * @since 0.1.0
 */
#define DOCSTORE_LOCAL_OPTIONS_VERSION 1

/**
 * Options of the local filesystem provider.
 * @since 0.1.0
 */
typedef struct docstore_local_options {
  unsigned int version; /**< #DOCSTORE_LOCAL_OPTIONS_VERSION */
  const char *root;     /**< root folder (required); created with its
                             parents (0700) if missing */
  int fsync;            /**< 1 (default): fsync file and folder on put */
} docstore_local_options;

/**
 * Static initialiser of #docstore_local_options (defaults, no root).
 * @since 0.1.0
 */
#define DOCSTORE_LOCAL_OPTIONS_INIT                                            \
  { DOCSTORE_LOCAL_OPTIONS_VERSION, NULL, 1 }

/**
 * Initialise local options to #DOCSTORE_LOCAL_OPTIONS_INIT (for callers
 * that cannot use the macro).  Thread-safe.
 * @param opts    the struct to fill.
 * @param version #DOCSTORE_LOCAL_OPTIONS_VERSION.
 * @return 0, #DOCSTORE_EINVAL (opts NULL or another version).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_local_options_init(docstore_local_options *opts,
                                                unsigned int version);

/**
 * Create a provider that stores objects as files under opts->root: folders
 * 0700, files 0600, atomic writes (temporary file, fsync, rename, fsync of
 * the folder).  Keys are checked with docstore_key_check() and can never
 * reach outside the root: every path is walked from the root one folder at
 * a time, and a symbolic link met inside the root is never followed
 * (#DOCSTORE_EACCESS).  A folder is not an object (get/head:
 * #DOCSTORE_ENOTFOUND); delete leaves emptied folders in place.  Key
 * segments starting with ".docstore-tmp-" are reserved (temporary files)
 * and segments are at most 255 bytes (#DOCSTORE_EINVAL).  No presign
 * (#DOCSTORE_EUNSUPPORTED).  A root readable by other users is logged as a
 * warning.  Thread-safe.
 * @param out        receives the provider (NULL on failure).
 * @param opts       the options (borrowed; the root is resolved to an
 *                   absolute path and kept).
 * @param errbuf     optional buffer for a message on failure.
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (out or opts NULL, unknown version, no
 *         root), #DOCSTORE_ECONFIG (root cannot be created, opened or
 *         resolved), #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_local_provider_new(docstore_provider **out,
                            const docstore_local_options *opts, char *errbuf,
                            size_t errbuf_len);

/**
 * What became of a temporary file found by docstore_local_temporaries().
 * @since 0.2.0
 */
typedef enum docstore_temp_state {
  /** A writer is still using it (it holds the file's lock): kept. */
  DOCSTORE_TEMP_LIVE = 1,
  /** No writer, but younger than min_age_seconds: kept. */
  DOCSTORE_TEMP_RECENT = 2,
  /** No writer: left by a writer that died (listing only). */
  DOCSTORE_TEMP_STALE = 3,
  /** No writer: removed (#DOCSTORE_TEMP_REMOVE). */
  DOCSTORE_TEMP_REMOVED = 4,
  /** Cannot tell: the filesystem offers no locks, or the file cannot be
   *  opened for writing (another user's): kept. */
  DOCSTORE_TEMP_UNKNOWN = 5
} docstore_temp_state;

/**
 * Current version of #docstore_temp_info.
 * @since 0.2.0
 */
#define DOCSTORE_TEMP_INFO_VERSION 1

/**
 * A temporary file, as given to a #docstore_temp_cb.  Valid only during
 * the call.
 * @since 0.2.0
 */
typedef struct docstore_temp_info {
  unsigned int version; /**< #DOCSTORE_TEMP_INFO_VERSION */
  const char *path; /**< below the root, e.g. "documents/.../.docstore-tmp-…" */
  uint64_t size;    /**< bytes */
  int64_t mtime;    /**< last write, seconds since the epoch */
  int state;        /**< a #docstore_temp_state */
} docstore_temp_info;

/**
 * Called once per temporary file.  Return 0 to go on; anything else stops
 * the walk (a negative code is returned as it is, a positive one as
 * #DOCSTORE_ECANCELED).
 * @since 0.2.0
 */
typedef int (*docstore_temp_cb)(void *payload, const docstore_temp_info *info);

/** docstore_local_temporaries(): remove stale temporaries. @since 0.2.0 */
#define DOCSTORE_TEMP_REMOVE 1u

/**
 * Find the temporary files (".docstore-tmp-…") that the local provider's
 * writes leave under `root` when the writing process is killed, and
 * optionally remove them.  A writer holds an exclusive lock (an open file
 * description lock, fcntl F_OFD_SETLK) on its temporary file for the
 * file's whole life; the kernel releases it when the writer exits or is
 * killed.  A temporary is stale only when its lock can be taken, and it is
 * removed while the lock is held, so a live writer's file is never
 * removed (a writer that finds its fresh file locked, or removed before
 * it could lock it, takes another name).  The locks are also seen across
 * hosts sharing the folder over NFS (v4, or v3 with a lock manager); on a
 * filesystem without locks every temporary is reported
 * #DOCSTORE_TEMP_UNKNOWN and kept.  Symbolic links are not followed.
 * Thread-safe; may run while writers write.
 * @param root            the storage root (LOCAL_STORAGE_PATH).
 * @param flags           0 (list) or #DOCSTORE_TEMP_REMOVE.
 * @param min_age_seconds keep stale files whose last write is more recent
 *                        than this (#DOCSTORE_TEMP_RECENT); 0: none kept.
 * @param cb              called for each temporary, after its removal
 *                        (NULL: none).
 * @param payload         passed to cb.
 * @param errbuf          optional buffer for a message on failure.
 * @param errbuf_len      size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (no root, unknown flags),
 *         #DOCSTORE_ENOTFOUND (no such root), #DOCSTORE_EACCESS,
 *         #DOCSTORE_EIO (a folder cannot be read, a stale file cannot be
 *         removed), #DOCSTORE_ENOMEM, or the callback's code.
 * @since 0.2.0
 */
DOCSTORE_EXTERN int
docstore_local_temporaries(const char *root, unsigned int flags,
                           uint64_t min_age_seconds, docstore_temp_cb cb,
                           void *payload, char *errbuf, size_t errbuf_len);

/* ------------------------------------------------------------------- s3 */

/**
 * Current version of #docstore_s3_options.  Version 2 appended
 * multipart_concurrency, version 3 (0.4.0) checksum .. stale_upload_seconds;
 * tables of versions 1 and 2 (without them) are still accepted by
 * docstore_s3_options_init() and docstore_s3_provider_new().
 * @since 0.1.0
 */
#define DOCSTORE_S3_OPTIONS_VERSION 3

/**
 * Addressing style of S3 requests.
 * @since 0.1.0
 */
typedef enum docstore_s3_addressing {
  /** Virtual-hosted for an *.amazonaws.com endpoint when the bucket name
   *  allows it, else path style. */
  DOCSTORE_S3_ADDRESSING_AUTO = 0,
  DOCSTORE_S3_ADDRESSING_PATH = 1,   /**< http://host/bucket/key */
  DOCSTORE_S3_ADDRESSING_VIRTUAL = 2 /**< http://bucket.host/key */
} docstore_s3_addressing;

/**
 * How the S3 provider proves that a body of object data reached the server
 * intact (setting S3_CHECKSUM_ALGORITHM).  The envelope's GCM tags protect
 * a document end to end whatever is chosen; these checks make the server
 * refuse a corrupted upload instead of storing it (docs/SECURITY.md,
 * "Integrity in transit").
 * @since 0.4.0
 */
typedef enum docstore_s3_checksum {
  /** CRC-32C over https; none over http, where the signed payload hash is
   *  checked instead (#DOCSTORE_S3_PAYLOAD_AUTO). */
  DOCSTORE_S3_CHECKSUM_AUTO = 0,
  DOCSTORE_S3_CHECKSUM_NONE = 1,   /**< no checksum header */
  DOCSTORE_S3_CHECKSUM_CRC32C = 2, /**< x-amz-checksum-crc32c */
  DOCSTORE_S3_CHECKSUM_CRC32 = 3,  /**< x-amz-checksum-crc32 */
  DOCSTORE_S3_CHECKSUM_SHA256 = 4, /**< x-amz-checksum-sha256 */
  /** Content-MD5, for buckets that demand it (S3 Object Lock) */
  DOCSTORE_S3_CHECKSUM_MD5 = 5
} docstore_s3_checksum;

/**
 * Whether SigV4 signs the SHA-256 of a body of object data (setting
 * S3_PAYLOAD_SIGNING).
 * @since 0.4.0
 */
typedef enum docstore_s3_payload_signing {
  /** Signed over http, UNSIGNED-PAYLOAD over https (TLS protects the
   *  bytes in transit; the checksum detects corruption). */
  DOCSTORE_S3_PAYLOAD_AUTO = 0,
  DOCSTORE_S3_PAYLOAD_SIGNED = 1,  /**< always hash and sign the body */
  DOCSTORE_S3_PAYLOAD_UNSIGNED = 2 /**< never (UNSIGNED-PAYLOAD) */
} docstore_s3_payload_signing;

/**
 * How a no-clobber store (#DOCSTORE_PUT_NO_CLOBBER) is done on S3 (setting
 * S3_CONDITIONAL_WRITES).
 * @since 0.4.0
 */
typedef enum docstore_s3_conditional {
  /** `If-None-Match: *`; when the server answers NotImplemented (501),
   *  HEAD before PUT from then on (remembered per provider). */
  DOCSTORE_S3_CONDITIONAL_AUTO = 0,
  /** `If-None-Match: *` only; a server without it fails the store */
  DOCSTORE_S3_CONDITIONAL_NATIVE = 1,
  /** HEAD before PUT (not atomic: two writers may both pass the HEAD) */
  DOCSTORE_S3_CONDITIONAL_EMULATE = 2
} docstore_s3_conditional;

/**
 * Options of the S3 provider.  Strings are copied by the constructor.
 * NULL or "" strings and zero numeric fields mean the default given in
 * brackets.
 * @since 0.1.0
 */
typedef struct docstore_s3_options {
  unsigned int version; /**< #DOCSTORE_S3_OPTIONS_VERSION */
  const char *bucket;   /**< required */
  const char *region;   /**< ["us-east-1"] */
  /** scheme://host[:port], no path; NULL: AWS
   *  (https://s3.REGION.amazonaws.com) */
  const char *endpoint_url;
  const char *access_key;    /**< required */
  const char *secret_key;    /**< required; never logged */
  const char *session_token; /**< optional; never logged */
  int addressing;            /**< #docstore_s3_addressing [AUTO] */
  /** PEM file of trusted CAs [NULL: the system's]; read at the first
   *  request, not by the constructor */
  const char *ca_bundle;
  int insecure_skip_verify; /**< 1: no TLS verification (tests only!) */
  uint64_t
      multipart_threshold; /**< bytes [16 MiB]; objects above go multipart */
  uint64_t multipart_part_size; /**< bytes [8 MiB], at least 5 MiB */
  unsigned int max_attempts;    /**< [4] attempts per request, 1 = no retry */
  unsigned int retry_base_ms; /**< [100] first backoff cap, doubles each time */
  unsigned int retry_max_ms;  /**< [5000] largest backoff */
  unsigned int connect_timeout_ms; /**< [5000] */
  unsigned int request_timeout_ms; /**< [0 = none] whole request */
  unsigned int
      stall_timeout_ms; /**< [30000] abort below stall_min_bps for this long */
  unsigned int stall_min_bps; /**< [1024] bytes/s */
  /** [4] parts of a multipart upload sent at once, 1 = one at a time
   *  (at most 64), each by a sender thread of the upload on its own
   *  connection while the writer fills the next part (log lines may come
   *  from those threads).  An upload holds at most multipart_threshold +
   *  multipart_part_size x (concurrency + 1) bytes.  Read from version 2
   *  tables only. */
  unsigned int multipart_concurrency;
  /* ---- version 3 (0.4.0) ---- */
  int checksum;           /**< #docstore_s3_checksum [AUTO] */
  int payload_signing;    /**< #docstore_s3_payload_signing [AUTO] */
  int conditional_writes; /**< #docstore_s3_conditional [AUTO] */
  /** [4] ranged GETs of one streamed read in flight (1 to 64) */
  unsigned int download_concurrency;
  /** bytes [8 MiB] per ranged GET of a streamed read (1 MiB to 1 GiB);
   *  a streamed read holds at most download_concurrency of them */
  uint64_t download_part_size;
  /** seconds [86400]: docstore_provider_check() reports incomplete
   *  multipart uploads older than this (1 to 10 years) */
  unsigned int stale_upload_seconds;
} docstore_s3_options;

/**
 * Static initialiser of #docstore_s3_options (every field at its default;
 * bucket and credentials still to set).
 * @since 0.1.0
 */
#define DOCSTORE_S3_OPTIONS_INIT                                               \
  {                                                                            \
    DOCSTORE_S3_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,  \
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0                      \
  }

/**
 * Initialise S3 options to #DOCSTORE_S3_OPTIONS_INIT (for callers that
 * cannot use the macro).  Thread-safe.
 * @param opts    the struct to fill.
 * @param version #DOCSTORE_S3_OPTIONS_VERSION, or 1 or 2 for an older
 *                table (only its fields are written).
 * @return 0, #DOCSTORE_EINVAL (opts NULL or another version).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_s3_options_init(docstore_s3_options *opts,
                                             unsigned int version);

/**
 * Create an S3 provider (AWS S3, MinIO, Ceph RGW, OpenStack Swift s3api).
 * Makes no request: use docstore_provider_check() to test connectivity.
 * Presigned URLs last at most 7 days.  Thread-safe.
 * @param out        receives the provider (NULL on failure).
 * @param opts       the options (borrowed; strings copied).
 * @param errbuf     optional buffer for a message on failure.
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (out or opts NULL, unknown version or
 *         addressing value), #DOCSTORE_ECONFIG (bucket or credentials
 *         missing; any field its setting would refuse, by the same rules:
 *         invalid bucket name, region or endpoint URL, a size or count
 *         outside the setting's range (docs/CONFIG.md, "Reference"), e.g.
 *         part size below 5 MiB, multipart_concurrency above 64;
 *         retry_base_ms above retry_max_ms, virtual-hosted
 *         addressing impossible for the bucket), #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_s3_provider_new(docstore_provider **out,
                                             const docstore_s3_options *opts,
                                             char *errbuf, size_t errbuf_len);

/**
 * Current version of #docstore_upload_info.
 * @since 0.4.0
 */
#define DOCSTORE_UPLOAD_INFO_VERSION 1

/**
 * An incomplete S3 multipart upload, as given to a #docstore_upload_cb.
 * Valid only during the call.
 * @since 0.4.0
 */
typedef struct docstore_upload_info {
  unsigned int version;  /**< #DOCSTORE_UPLOAD_INFO_VERSION */
  const char *key;       /**< the key the upload was writing */
  const char *upload_id; /**< the server's upload id */
  int64_t initiated;     /**< when it began, seconds since the epoch (the
                              server's clock) */
  /** #DOCSTORE_TEMP_RECENT (younger than min_age_seconds: kept, it may
   *  still be written), #DOCSTORE_TEMP_STALE (older; listing only) or
   *  #DOCSTORE_TEMP_REMOVED (older, and aborted: its parts are gone) */
  int state;
} docstore_upload_info;

/**
 * Called once per incomplete upload.  Return 0 to go on; anything else
 * stops the listing (a negative code is returned as it is, a positive one
 * as #DOCSTORE_ECANCELED).
 * @since 0.4.0
 */
typedef int (*docstore_upload_cb)(void *payload,
                                  const docstore_upload_info *info);

/** docstore_s3_incomplete_uploads(): abort the stale uploads. @since 0.4.0 */
#define DOCSTORE_UPLOAD_ABORT 1u

/**
 * docstore_s3_incomplete_uploads() min_age_seconds: the provider's
 * stale_upload_seconds (setting S3_STALE_UPLOAD_SECONDS, one day by
 * default).
 * @since 0.4.0
 */
#define DOCSTORE_UPLOAD_AGE_CONFIGURED UINT64_MAX

/**
 * Find the incomplete multipart uploads under `prefix` in an S3 provider's
 * bucket (ListMultipartUploads), and optionally abort the stale ones
 * (AbortMultipartUpload), which frees the parts they hold.  A writer that
 * was killed mid-upload, or whose own abort failed (logged as a warning
 * naming the upload id), leaves one; they cost storage until aborted.  S3
 * cannot tell a live upload from an abandoned one, so only the age decides:
 * an upload older than min_age_seconds is stale.  Choose an age longer than
 * any upload can take (an abort makes a live writer's commit fail; it
 * never harms a stored object).  A lifecycle rule on the bucket
 * (AbortIncompleteMultipartUpload, docs/SECURITY.md) does the same on the
 * server.  Uploads come in key order; the callback runs on the calling
 * thread, after the abort.  Thread-safe.
 * @param p               an S3 provider.
 * @param prefix          a key prefix, checked as in docstore_provider_list();
 *                        NULL or "" for the whole bucket.
 * @param flags           0 (list) or #DOCSTORE_UPLOAD_ABORT.
 * @param min_age_seconds uploads begun less than this long ago (by this
 *                        machine's clock) are #DOCSTORE_TEMP_RECENT and
 *                        kept; 0: none (every upload is stale, also a live
 *                        one); #DOCSTORE_UPLOAD_AGE_CONFIGURED: the
 *                        provider's stale_upload_seconds.
 * @param cb              called for each upload (NULL: none).
 * @param payload         passed to cb.
 * @return 0, #DOCSTORE_EINVAL (p NULL, bad prefix, unknown flags),
 *         #DOCSTORE_EUNSUPPORTED (not an S3 provider), #DOCSTORE_EFORMAT
 *         (a malformed reply, or a listing that makes no progress or
 *         names an upload outside the prefix), the callback's code, or
 *         the provider's code (an abort that fails stops the call; an
 *         upload already gone counts as aborted).  Detail in
 *         docstore_provider_errmsg().
 * @since 0.4.0
 */
DOCSTORE_EXTERN int
docstore_s3_incomplete_uploads(docstore_provider *p, const char *prefix,
                               unsigned int flags, uint64_t min_age_seconds,
                               docstore_upload_cb cb, void *payload);

/* ------------------------------------------------- raw object operations */

/**
 * @name Raw object operations
 * These call the provider directly, after docstore_key_check().  Every
 * failure leaves "<op> <key>: <detail>" in docstore_provider_errmsg() and
 * docstore_last_errmsg(), and is counted in the provider's metrics.
 * Thread-safe when the provider is (both built-in providers are).
 *
 * "The provider's code" below means: #DOCSTORE_ENOTFOUND, #DOCSTORE_EACCESS,
 * #DOCSTORE_EIO and #DOCSTORE_EINVAL (reserved or over-long key segment)
 * (local); #DOCSTORE_ENOTFOUND, #DOCSTORE_EACCESS,
 * #DOCSTORE_ENOBUCKET, #DOCSTORE_ECONNECT, #DOCSTORE_ETIMEOUT,
 * #DOCSTORE_ESERVER, #DOCSTORE_ECONFIG (wrong region or endpoint, TLS
 * setup), #DOCSTORE_EFORMAT (unreadable reply), #DOCSTORE_EINTEGRITY
 * (checksum mismatch in transit), #DOCSTORE_ETOOBIG (S3); or any code a
 * custom provider returns; plus #DOCSTORE_ENOMEM.
 */
/**@{*/

/**
 * Store bytes under key, replacing any object there (atomically).
 * @param p    the provider.
 * @param key  the object key.
 * @param data the bytes (borrowed); may be NULL when len is 0.
 * @param len  their number.
 * @return 0, #DOCSTORE_EINVAL (p NULL, bad key, data NULL with a length),
 *         or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_put(docstore_provider *p, const char *key,
                                          const uint8_t *data, size_t len);

/**
 * Read a whole object.
 * @param p       the provider.
 * @param out     receives a library-owned buffer (docstore_free()); an
 *                empty object gives a valid 1-byte allocation.  NULL on
 *                failure.
 * @param out_len receives the object's size.
 * @param key     the object key.
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, bad key),
 *         #DOCSTORE_ENOTFOUND, or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_get(docstore_provider *p, uint8_t **out,
                                          size_t *out_len, const char *key);

/**
 * Size (and modification time and entity tag when known) of an object.
 * @param p    the provider.
 * @param info receives the description; info->version must be set
 *             (#DOCSTORE_OBJECT_INFO_VERSION).  Its strings are borrowed:
 *             valid until the calling thread's next operation on a
 *             provider.
 * @param key  the object key.
 * @return 0, #DOCSTORE_EINVAL (p or info NULL, version not set, bad key),
 *         #DOCSTORE_ENOTFOUND, or the provider's code.
 * @since 0.1.0; 0.2.0 takes info before key (was (p, key, info))
 */
DOCSTORE_EXTERN int docstore_provider_head(docstore_provider *p,
                                           docstore_object_info *info,
                                           const char *key);

/**
 * Delete an object; a missing one is not an error.
 * @param p   the provider.
 * @param key the object key.
 * @return 0, #DOCSTORE_EINVAL (p NULL, bad key), or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_delete(docstore_provider *p,
                                             const char *key);

/**
 * List objects under a prefix, in no particular order.  The callback runs
 * on the calling thread.
 * @param p       the provider.
 * @param prefix  a key prefix, checked like a key but may be empty or end
 *                with '/'; NULL or "" lists everything.
 * @param cb      called once per object (required).
 * @param payload passed to cb.
 * @return 0; when cb returns non-zero the listing stops and this returns
 *         cb's value if it is negative, #DOCSTORE_ECANCELED otherwise;
 *         #DOCSTORE_EINVAL (p or cb NULL, bad prefix);
 *         #DOCSTORE_EUNSUPPORTED (the provider cannot list); or the
 *         provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_list(docstore_provider *p,
                                           const char *prefix,
                                           docstore_list_cb cb, void *payload);

/**
 * Longest validity of a presigned URL, in seconds: 7 days (604800), the
 * limit of S3 signatures.
 * @since 0.2.0
 */
#define DOCSTORE_PRESIGN_MAX_SECONDS 604800u

/**
 * A presigned URL that grants `method` on `key` without credentials.
 * @param p               the provider.
 * @param out_url         receives the URL, library-owned (docstore_free());
 *                        NULL on failure.
 * @param key             the object key.
 * @param method          a #docstore_presign_method.
 * @param expires_seconds validity, at least 1 (S3: at most
 *                        #DOCSTORE_PRESIGN_MAX_SECONDS, 7 days).
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, bad key, unknown method,
 *         expiry 0 or too long), #DOCSTORE_EUNSUPPORTED (the provider has
 *         no URLs, e.g. local), #DOCSTORE_EIO (the provider gave an empty
 *         URL), or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_presign(docstore_provider *p,
                                              char **out_url, const char *key,
                                              int method,
                                              uint64_t expires_seconds);

/**
 * Connectivity check: reachability, credentials, bucket or folder.  Not
 * counted in the metrics.
 * @param p      the provider.
 * @param report optional: receives a human report, one finding per line,
 *               library-owned (docstore_free()); also on failure (it says
 *               what worked), NULL when the provider wrote none.
 * @return 0, #DOCSTORE_EINVAL (p NULL), #DOCSTORE_EUNSUPPORTED (no check
 *         operation), or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_provider_check(docstore_provider *p,
                                            char **report);

/**@}*/

/**
 * Detail of the last failure on this provider.  Thread-safe.
 * @param p the provider; NULL gives "invalid provider handle (NULL)".
 * @return "" when none; never NULL.  The string is a copy for the calling
 *         thread, valid until this thread calls any *_errmsg() function
 *         of the library again.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *
docstore_provider_errmsg(const docstore_provider *p);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_PROVIDER_H */
