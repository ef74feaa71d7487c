/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/common.h
 * @brief Version, export macro, error codes, library-owned memory,
 * logging and the operations that are counted.  Every other public header
 * includes this one.
 *
 * ABI promise: the numeric value of every DOCSTORE_E* code, every function
 * signature and every field offset of a versioned options struct never
 * change once released.  New fields are only appended to options structs,
 * guarded by the struct's `version`.
 */
#ifndef DOCSTORE_COMMON_H
#define DOCSTORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup common Common: version, errors, memory, logging, counted operations
 * @brief What every other part of the API relies on.
 *
 * Conventions used throughout this reference:
 *  - every fallible function returns 0 (#DOCSTORE_OK) or a negative
 *    #docstore_error code; "@return" lists the codes a function can
 *    return; the detail is in the handle's errmsg function (errbuf for
 *    constructors) and in docstore_last_errmsg();
 *  - out-parameters come first; memory the library hands out is released
 *    with the matching free function or docstore_free();
 *  - errbuf/errbuf_len: an optional caller buffer (NULL or 0 length: none)
 *    that receives a NUL-terminated message, cut to fit, on failure;
 *  - "Since" gives the version that added a function, type or macro;
 *    fields and enum values belong to the version of their type unless
 *    marked otherwise.
 * @{
 */

/**
 * Marks a function exported from the shared library (default visibility;
 * dllexport on Windows when building).  Not for use by callers.
 * @since 0.1.0
 */
#if defined(_WIN32) && defined(DOCSTORE_BUILDING_SHARED)
#define DOCSTORE_EXTERN __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define DOCSTORE_EXTERN __attribute__((visibility("default")))
#else
#define DOCSTORE_EXTERN
#endif

/** @name Version of the headers
 *  Compare with docstore_version() / docstore_version_number(), the
 *  version of the library actually loaded.  Since 0.1.0.
 */
/**@{*/
/** Major version: changes only with an incompatible API/ABI. */
#define DOCSTORE_VERSION_MAJOR 0
/** Minor version: new functions or fields, compatible. */
#define DOCSTORE_VERSION_MINOR 4
/** Patch version: fixes only. */
#define DOCSTORE_VERSION_PATCH 0
/** The version as a string, "MAJOR.MINOR.PATCH". */
#define DOCSTORE_VERSION_STRING "0.4.0"
/** MAJOR*10000 + MINOR*100 + PATCH, for compile-time checks. */
#define DOCSTORE_VERSION_NUMBER                                                \
  (DOCSTORE_VERSION_MAJOR * 10000 + DOCSTORE_VERSION_MINOR * 100 +             \
   DOCSTORE_VERSION_PATCH)
/**@}*/

/**
 * Version of the library actually loaded.  Thread-safe.
 * @return "MAJOR.MINOR.PATCH"; a static string, never NULL.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_version(void);

/**
 * Version number of the library actually loaded.  Thread-safe.
 * @return its #DOCSTORE_VERSION_NUMBER.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_version_number(void);

/**
 * Error codes.  Every fallible function returns 0 (#DOCSTORE_OK) or one of
 * these negative values.  The values are stable forever: bindings may
 * hard-code them.  docstore_error_name() gives the symbolic name for
 * languages that cannot read C enums.
 * @since 0.1.0
 */
typedef enum docstore_error {
  DOCSTORE_OK = 0,          /**< success */
  DOCSTORE_EINVAL = -1,     /**< invalid argument (NULL, bad id, bad key) */
  DOCSTORE_ECONFIG = -2,    /**< invalid or missing configuration value */
  DOCSTORE_ENOTFOUND = -3,  /**< object or file does not exist */
  DOCSTORE_EACCESS = -4,    /**< access denied / bad credentials */
  DOCSTORE_ENOBUCKET = -5,  /**< the bucket does not exist */
  DOCSTORE_ECONNECT = -6,   /**< cannot connect to the server */
  DOCSTORE_ETIMEOUT = -7,   /**< timed out or stalled */
  DOCSTORE_EINTEGRITY = -8, /**< tampered data, wrong key or wrong document */
  DOCSTORE_ECRYPTO = -9,    /**< crypto library failure */
  DOCSTORE_EUNSUPPORTED = -10, /**< not supported by this provider/version */
  DOCSTORE_EIO = -11,          /**< local I/O error */
  DOCSTORE_ENOMEM = -12,       /**< out of memory */
  DOCSTORE_EFORMAT = -13,      /**< malformed input (envelope, JSON, reply) */
  DOCSTORE_EKEY = -14,         /**< bad key, or no key with that key id */
  DOCSTORE_ESERVER = -15,      /**< server error not covered above (5xx...) */
  DOCSTORE_EBUSY = -16,        /**< resource locked by someone else */
  DOCSTORE_EDATABASE = -17,    /**< database error */
  DOCSTORE_ECANCELED = -18,    /**< a user callback asked to stop */
  DOCSTORE_ETOOBIG = -19,      /**< input exceeds a documented limit */
  DOCSTORE_EEXISTS = -20,      /**< already exists */
  /** the object changed while it was being read (its ETag moved); read it
   *  again.  @since 0.4.0 */
  DOCSTORE_ECHANGED = -21
} docstore_error;

/**
 * Lowest (most negative) error code this version knows; a lower code comes
 * from a newer library.
 * @since 0.1.0
 */
#define DOCSTORE_ERROR_MIN DOCSTORE_ECHANGED

/**
 * Human description of an error code.  Thread-safe.
 * @param code a #docstore_error value (any int is accepted).
 * @return e.g. "not found"; "unknown error" for an unknown code.  A static
 *         string, never NULL.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_strerror(int code);

/**
 * Symbolic name of an error code.  Thread-safe.
 * @param code a #docstore_error value (any int is accepted).
 * @return e.g. "DOCSTORE_ENOTFOUND"; "DOCSTORE_OK" for 0;
 *         "DOCSTORE_EUNKNOWN" for an unknown code.  A static string, never
 *         NULL.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_error_name(int code);

/**
 * Message of the calling thread's last failure in any docstore call (like
 * errno), for failures in functions that have no handle.  A successful
 * call does not clear it.  Messages are cut at 511 bytes.  A language
 * runtime that may move a call to another OS thread should read the
 * detail from the handle instead (e.g. docstore_service_errmsg()).
 * Thread-safe.
 * @return a thread-local string, "" when this thread has had no failure;
 *         never NULL.  Its contents change at the next failure on this
 *         thread.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_last_errmsg(void);

/**
 * Code of the calling thread's last failure in any docstore call (see
 * docstore_last_errmsg()).  Thread-safe.
 * @return a negative #docstore_error code, or 0 when this thread has had no
 *         failure.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_last_errcode(void);

/**
 * Free memory that the library returned to the caller (strings, byte
 * buffers, URLs, JSON) or that docstore_malloc() allocated.  Memory that
 * may hold a secret (a decrypted document, key material, anything from
 * docstore_malloc()) is wiped before it is released, so this is also the
 * right way to free a decrypted document; ciphertext (envelopes, objects
 * as fetched from storage) is released without the wipe.  Never pass
 * memory that did not come from the library, nor memory that a handle or
 * struct still owns.  Thread-safe.
 * @param ptr the block, or NULL (no-op).
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_free(void *ptr);

/**
 * Allocate zero-filled memory that the library can later release with
 * docstore_free(), for user-written providers and bindings that must hand
 * memory to the library.  Thread-safe.
 * @param size number of bytes; 0 gives NULL.
 * @return the block, or NULL when size is 0 or memory is short.
 * @since 0.1.0
 */
DOCSTORE_EXTERN void *docstore_malloc(size_t size);

/**
 * Log levels, most severe first.
 * @since 0.1.0
 */
typedef enum docstore_log_level {
  DOCSTORE_LOG_ERROR = 0, /**< a call failed */
  DOCSTORE_LOG_WARN = 1,  /**< degraded but working (e.g. fallback used) */
  DOCSTORE_LOG_INFO = 2,  /**< notable events (service initialised) */
  DOCSTORE_LOG_DEBUG = 3  /**< detail for debugging */
} docstore_log_level;

/**
 * Log callback, installed with docstore_set_log_callback().  May be called
 * from any thread that uses the library and from the library's own worker
 * threads (those of a parallel multipart upload), concurrently: make it
 * thread-safe, and do not make it wait for a thread that is itself inside a
 * docstore call.
 * @param payload the pointer given to docstore_set_log_callback().
 * @param level   a #docstore_log_level.
 * @param message one line without a newline (at most 1023 bytes), valid
 *                only during the call.  It never contains secrets or key
 *                material.
 * @since 0.1.0
 */
typedef void (*docstore_log_cb)(void *payload, int level, const char *message);

/**
 * Set the process-wide log sink and threshold.  Thread-safe; the previous
 * callback may still be running in another thread when this returns.
 * @param cb        the callback; NULL restores the default: lines on stderr
 *                  ("docstore: WARN: ..."), threshold #DOCSTORE_LOG_WARN
 *                  (max_level is then ignored).
 * @param payload   passed to every call of cb (borrowed: keep it alive
 *                  while cb is installed).
 * @param max_level messages with a greater #docstore_log_level are dropped.
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_set_log_callback(docstore_log_cb cb,
                                               void *payload, int max_level);

/**
 * Change only the threshold of the current sink (the default stderr sink
 * included).  Thread-safe.
 * @param max_level messages with a greater #docstore_log_level are dropped.
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_set_log_level(int max_level);

/* ------------------------------------------------------- operation counters */

/**
 * Operations that are counted.  PUT to PRESIGN are the provider's
 * operations (raw ones through docstore_service_provider() included);
 * ENCRYPT, DECRYPT and FALLBACK the service's own.
 * @since 0.1.0
 */
typedef enum docstore_op {
  DOCSTORE_OP_PUT = 0,      /**< object written */
  DOCSTORE_OP_GET = 1,      /**< object read */
  DOCSTORE_OP_HEAD = 2,     /**< object described (exists) */
  DOCSTORE_OP_DELETE = 3,   /**< object deleted */
  DOCSTORE_OP_LIST = 4,     /**< listing */
  DOCSTORE_OP_PRESIGN = 5,  /**< presigned URL */
  DOCSTORE_OP_ENCRYPT = 6,  /**< document sealed by store_document */
  DOCSTORE_OP_DECRYPT = 7,  /**< document opened by read_document */
  DOCSTORE_OP_FALLBACK = 8, /**< legacy file read by retrieve_fallback */
  DOCSTORE_OP_COUNT_ = 9    /**< number of ops in this version */
} docstore_op;

/**
 * Short name of an op, as used in docstore_service_stats_json().
 * Thread-safe.
 * @param op a #docstore_op.
 * @return "put", "get", "head", "delete", "list", "presign", "encrypt",
 *         "decrypt" or "fallback" (static); NULL for an unknown op.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_op_name(int op);

/**
 * Current version of #docstore_op_stats.
 * @since 0.1.0
 */
#define DOCSTORE_OP_STATS_VERSION 1

/**
 * Counters of one operation.  Each counter is read atomically, but the
 * fields are not one snapshot: a call in flight may show in one field and
 * not yet in another.
 * @since 0.1.0
 */
typedef struct docstore_op_stats {
  unsigned int version;      /**< #DOCSTORE_OP_STATS_VERSION, set by caller */
  uint64_t successes;        /**< calls that returned 0 */
  uint64_t failures;         /**< calls that failed (refused arguments too) */
  uint64_t bytes;            /**< payload bytes moved by successful calls */
  uint64_t total_latency_us; /**< summed duration of all calls, microseconds */
  uint64_t avg_latency_us;   /**< total / (successes + failures), 0 if none */
  uint64_t retries;          /**< provider retries (S3) */
} docstore_op_stats;

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_COMMON_H */
