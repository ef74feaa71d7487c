/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * provider.h: the built-in providers (local filesystem, S3) and raw object
 * operations on any provider.  Raw operations move opaque bytes: no
 * encryption, no path layout (see service.h for those).
 */
#ifndef DOCSTORE_PROVIDER_H
#define DOCSTORE_PROVIDER_H

#include "common.h"
#include "sys/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- local */

#define DOCSTORE_LOCAL_OPTIONS_VERSION 1

/** Options of the local filesystem provider. */
typedef struct docstore_local_options {
  unsigned int version;  /**< DOCSTORE_LOCAL_OPTIONS_VERSION */
  const char *root;      /**< root folder; created (0700) if missing */
  int fsync;             /**< 1 (default): fsync file and folder on put */
} docstore_local_options;

#define DOCSTORE_LOCAL_OPTIONS_INIT {DOCSTORE_LOCAL_OPTIONS_VERSION, NULL, 1}

DOCSTORE_EXTERN int docstore_local_options_init(docstore_local_options *opts,
                                                unsigned int version);

/**
 * Create a provider that stores objects as files under opts->root: folders
 * 0700, files 0600, atomic writes (temporary file, fsync, rename, fsync of
 * the folder).  Keys are checked with docstore_key_check() and can never
 * reach outside the root: every path is walked from the root one folder at
 * a time, and a symbolic link met inside the root is never followed
 * (DOCSTORE_EACCESS).  A folder is not an object (get/head:
 * DOCSTORE_ENOTFOUND); delete leaves emptied folders in place.  Key
 * segments starting with ".docstore-tmp-" are reserved (temporary files).
 * No presign (DOCSTORE_EUNSUPPORTED).
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_ECONFIG (root unusable),
 *         DOCSTORE_EIO, DOCSTORE_ENOMEM; detail in errbuf.
 */
DOCSTORE_EXTERN int docstore_local_provider_new(
    docstore_provider **out, const docstore_local_options *opts, char *errbuf,
    size_t errbuf_len);

/* ------------------------------------------------------------------- s3 */

#define DOCSTORE_S3_OPTIONS_VERSION 1

/** Addressing style of S3 requests. */
typedef enum docstore_s3_addressing {
  DOCSTORE_S3_ADDRESSING_AUTO = 0,   /**< virtual-hosted for AWS, else path */
  DOCSTORE_S3_ADDRESSING_PATH = 1,   /**< http://host/bucket/key */
  DOCSTORE_S3_ADDRESSING_VIRTUAL = 2 /**< http://bucket.host/key */
} docstore_s3_addressing;

/**
 * Options of the S3 provider.  Strings are copied by the constructor.
 * Zero numeric fields mean "the default" given in brackets.
 */
typedef struct docstore_s3_options {
  unsigned int version;       /**< DOCSTORE_S3_OPTIONS_VERSION */
  const char *bucket;         /**< required */
  const char *region;         /**< ["us-east-1"] */
  const char *endpoint_url;   /**< NULL: AWS (https://s3.REGION.amazonaws.com) */
  const char *access_key;     /**< required */
  const char *secret_key;     /**< required; never logged */
  const char *session_token;  /**< optional; never logged */
  int addressing;             /**< docstore_s3_addressing */
  const char *ca_bundle;      /**< PEM file of trusted CAs, NULL: system */
  int insecure_skip_verify;   /**< 1: no TLS verification (tests only!) */
  uint64_t multipart_threshold; /**< bytes [16 MiB]; objects above go multipart */
  uint64_t multipart_part_size; /**< bytes [8 MiB], at least 5 MiB */
  unsigned int max_attempts;  /**< [4] attempts per request, 1 = no retry */
  unsigned int retry_base_ms; /**< [100] first backoff cap, doubles each time */
  unsigned int retry_max_ms;  /**< [5000] largest backoff */
  unsigned int connect_timeout_ms; /**< [5000] */
  unsigned int request_timeout_ms; /**< [0 = none] whole request */
  unsigned int stall_timeout_ms;   /**< [30000] abort below stall_min_bps for this long */
  unsigned int stall_min_bps;      /**< [1024] bytes/s */
} docstore_s3_options;

#define DOCSTORE_S3_OPTIONS_INIT                                               \
  {DOCSTORE_S3_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,  \
   0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

DOCSTORE_EXTERN int docstore_s3_options_init(docstore_s3_options *opts,
                                             unsigned int version);

/**
 * Create an S3 provider (AWS S3, MinIO, Ceph RGW, OpenStack Swift s3api).
 * Makes no request: use docstore_provider_check() to test connectivity.
 * @return 0, DOCSTORE_EINVAL, DOCSTORE_ECONFIG (bad endpoint, region...),
 *         DOCSTORE_EUNSUPPORTED (built without S3), DOCSTORE_ENOMEM.
 */
DOCSTORE_EXTERN int docstore_s3_provider_new(docstore_provider **out,
                                             const docstore_s3_options *opts,
                                             char *errbuf, size_t errbuf_len);

/* ------------------------------------------------- raw object operations */
/*
 * These call the provider directly, after docstore_key_check().  Detail of
 * a failure: docstore_provider_errmsg().  Thread-safe when the provider is
 * (both built-in providers are).
 */

/** Store bytes under key.  @return 0 or a DOCSTORE_E* code. */
DOCSTORE_EXTERN int docstore_provider_put(docstore_provider *p,
                                          const char *key,
                                          const uint8_t *data, size_t len);

/** Read a whole object into a library-owned buffer (docstore_free()). */
DOCSTORE_EXTERN int docstore_provider_get(docstore_provider *p,
                                          uint8_t **out, size_t *out_len,
                                          const char *key);

/** Size (and more) of an object; DOCSTORE_ENOTFOUND if missing.
 *  info->version must be set; its strings are valid until the next call on
 *  this provider from this thread. */
DOCSTORE_EXTERN int docstore_provider_head(docstore_provider *p,
                                           const char *key,
                                           docstore_object_info *info);

/** Delete an object; a missing one is not an error. */
DOCSTORE_EXTERN int docstore_provider_delete(docstore_provider *p,
                                             const char *key);

/** List objects under a prefix ("" or NULL: all).  When cb returns
 *  non-zero the listing stops and this returns cb's value if it is
 *  negative, DOCSTORE_ECANCELED otherwise. */
DOCSTORE_EXTERN int docstore_provider_list(docstore_provider *p,
                                           const char *prefix,
                                           docstore_list_cb cb, void *payload);

/** Presigned URL (library-owned string, docstore_free()). */
DOCSTORE_EXTERN int docstore_provider_presign(docstore_provider *p,
                                              char **out_url, const char *key,
                                              int method,
                                              uint64_t expires_seconds);

/** Connectivity check; a report (library-owned, may be NULL) in *report. */
DOCSTORE_EXTERN int docstore_provider_check(docstore_provider *p,
                                            char **report);

/** Detail of the last failure on this provider; never NULL. */
DOCSTORE_EXTERN const char *docstore_provider_errmsg(
    const docstore_provider *p);

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_PROVIDER_H */
