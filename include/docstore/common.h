/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * common.h: version, export macro, error codes, library-owned memory,
 * logging.  Every other public header includes this one.
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

#if defined(_WIN32) && defined(DOCSTORE_BUILDING_SHARED)
#define DOCSTORE_EXTERN __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define DOCSTORE_EXTERN __attribute__((visibility("default")))
#else
#define DOCSTORE_EXTERN
#endif

/** @name Version */
/**@{*/
#define DOCSTORE_VERSION_MAJOR 0
#define DOCSTORE_VERSION_MINOR 1
#define DOCSTORE_VERSION_PATCH 0
#define DOCSTORE_VERSION_STRING "0.1.0"
/** MAJOR*10000 + MINOR*100 + PATCH, for compile-time checks. */
#define DOCSTORE_VERSION_NUMBER                                                \
  (DOCSTORE_VERSION_MAJOR * 10000 + DOCSTORE_VERSION_MINOR * 100 +             \
   DOCSTORE_VERSION_PATCH)
/**@}*/

/**
 * Version of the library actually loaded, as "MAJOR.MINOR.PATCH".
 * Static string, never NULL.  Thread-safe.
 */
DOCSTORE_EXTERN const char *docstore_version(void);

/** Same as DOCSTORE_VERSION_NUMBER, of the library actually loaded. */
DOCSTORE_EXTERN int docstore_version_number(void);

/**
 * Error codes.  Every fallible function returns 0 (DOCSTORE_OK) or one of
 * these negative values.  The values are stable forever: bindings may
 * hard-code them.  docstore_error_name() gives the symbolic name for
 * languages that cannot read C enums.
 */
typedef enum docstore_error {
  DOCSTORE_OK = 0,
  DOCSTORE_EINVAL = -1,       /**< invalid argument (NULL, bad id, bad key) */
  DOCSTORE_ECONFIG = -2,      /**< invalid or missing configuration value */
  DOCSTORE_ENOTFOUND = -3,    /**< object or file does not exist */
  DOCSTORE_EACCESS = -4,      /**< access denied / bad credentials */
  DOCSTORE_ENOBUCKET = -5,    /**< the bucket does not exist */
  DOCSTORE_ECONNECT = -6,     /**< cannot connect to the server */
  DOCSTORE_ETIMEOUT = -7,     /**< timed out or stalled */
  DOCSTORE_EINTEGRITY = -8,   /**< tampered data, wrong key or wrong document */
  DOCSTORE_ECRYPTO = -9,      /**< crypto library failure */
  DOCSTORE_EUNSUPPORTED = -10, /**< not supported by this provider/version */
  DOCSTORE_EIO = -11,         /**< local I/O error */
  DOCSTORE_ENOMEM = -12,      /**< out of memory */
  DOCSTORE_EFORMAT = -13,     /**< malformed input (envelope, JSON, reply) */
  DOCSTORE_EKEY = -14,        /**< bad key, or no key with that key id */
  DOCSTORE_ESERVER = -15,     /**< server error not covered above (5xx...) */
  DOCSTORE_EBUSY = -16,       /**< resource locked by someone else */
  DOCSTORE_EDATABASE = -17,   /**< database error */
  DOCSTORE_ECANCELED = -18,   /**< a user callback asked to stop */
  DOCSTORE_ETOOBIG = -19,     /**< input exceeds a documented limit */
  DOCSTORE_EEXISTS = -20      /**< already exists */
} docstore_error;

/** Lowest (most negative) error code this version knows. */
#define DOCSTORE_ERROR_MIN DOCSTORE_EEXISTS

/**
 * Human description of an error code ("object not found").  Static string,
 * never NULL (unknown codes give "unknown error").  Thread-safe.
 */
DOCSTORE_EXTERN const char *docstore_strerror(int code);

/**
 * Symbolic name of an error code ("DOCSTORE_ENOTFOUND"), "DOCSTORE_OK" for 0,
 * "DOCSTORE_EUNKNOWN" for unknown codes.  Static string.  Thread-safe.
 */
DOCSTORE_EXTERN const char *docstore_error_name(int code);

/**
 * Message and code of the calling thread's last failure in any docstore
 * call (like errno).  Useful after a failure in a function that has no
 * handle.  The string is thread-local and stays valid until the next
 * failing docstore call on this thread.  Never NULL ("" when none).
 * Note: a language runtime that may move a call to another OS thread
 * should read the detail from the handle (e.g. docstore_service_errmsg()).
 */
DOCSTORE_EXTERN const char *docstore_last_errmsg(void);
DOCSTORE_EXTERN int docstore_last_errcode(void);

/**
 * Free memory that the library returned to the caller (strings, byte
 * buffers, URLs, JSON).  The memory is wiped before it is released, so it
 * is also the right way to free a decrypted document.  NULL is a no-op.
 * Never pass memory that did not come from the library.  Thread-safe.
 */
DOCSTORE_EXTERN void docstore_free(void *ptr);

/**
 * Allocate memory the library can later release with docstore_free(),
 * for user-written providers and bindings that must hand memory to the
 * library.  Returns NULL on failure or when size is 0.
 */
DOCSTORE_EXTERN void *docstore_malloc(size_t size);

/** Log levels, most severe first. */
typedef enum docstore_log_level {
  DOCSTORE_LOG_ERROR = 0,
  DOCSTORE_LOG_WARN = 1,
  DOCSTORE_LOG_INFO = 2,
  DOCSTORE_LOG_DEBUG = 3
} docstore_log_level;

/**
 * Log callback.  `message` is one line without a newline, valid only during
 * the call.  It never contains secrets or key material.  May be called from
 * any thread that uses the library, concurrently: make it thread-safe.
 */
typedef void (*docstore_log_cb)(void *payload, int level, const char *message);

/**
 * Set the process-wide log sink and threshold.  Messages with a level
 * greater than `max_level` are dropped.  cb == NULL restores the default:
 * lines on stderr ("docstore: WARN: ..."), threshold DOCSTORE_LOG_WARN.
 * Thread-safe; the previous callback may still be running in another
 * thread when this returns.
 */
DOCSTORE_EXTERN void docstore_set_log_callback(docstore_log_cb cb,
                                               void *payload, int max_level);

/** Change only the threshold of the current sink. */
DOCSTORE_EXTERN void docstore_set_log_level(int max_level);

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_COMMON_H */
