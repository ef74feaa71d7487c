/*
 * AWS Signature Version 4 request signer (internal).
 *
 * Pure functions: no network, no clock, no logging. The signing time is an
 * input. All functions return 0 on success or a negative DOCSTORE_E* code
 * (DOCSTORE_EINVAL for bad input, DOCSTORE_ENOMEM, DOCSTORE_ECRYPTO for
 * OpenSSL failures).
 *
 * Path convention: the path given to the signer (in `target` or `path`) is
 * the path exactly as it is sent on the request line, i.e. already
 * URI-encoded for S3. Build it from a bucket/key with
 * docstore__sigv4_encode_path(), which encodes each segment once, and use
 * the same string for the URL and for signing.
 *   - double_encode_path = 1 (generic AWS services): the canonical URI is
 *     that path URI-encoded once more ('/' kept).
 *   - double_encode_path = 0 (S3): the canonical URI is that path verbatim;
 *     it must then contain only unreserved characters, '/' and %XX
 *     escapes, otherwise DOCSTORE_EINVAL.
 * Query convention: the query string is taken as it is on the wire; every
 * key and value is percent-decoded and re-encoded once, so "a%20b", "a b"
 * sign the same. '+' is a literal '+', never a space.
 */
#ifndef DOCSTORE_S3_SIGV4_H
#define DOCSTORE_S3_SIGV4_H

#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DOCSTORE__SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define DOCSTORE__SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, hex. */
#define DOCSTORE__SIGV4_EMPTY_SHA256                                           \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* Longest presigned URL lifetime accepted by AWS (7 days). */
#define DOCSTORE__SIGV4_MAX_EXPIRES 604800L
#define DOCSTORE__SIGV4_KEY_LEN 32
/* "YYYYMMDDTHHMMSSZ" + NUL */
#define DOCSTORE__SIGV4_AMZ_DATE_LEN 17
/* 64 hex digits + NUL */
#define DOCSTORE__SIGV4_HEX_LEN 65

typedef enum docstore__sigv4_form {
  DOCSTORE__SIGV4_FORM_HEADER = 0, /* Authorization header */
  DOCSTORE__SIGV4_FORM_QUERY = 1   /* presigned URL (X-Amz-* query) */
} docstore__sigv4_form;

/* A request header. Names are case-insensitive; duplicate names are
 * allowed (joined with ',' in the given order); a value may span several
 * lines (folded into single spaces). */
typedef struct docstore__sigv4_header {
  const char *name;
  const char *value;
} docstore__sigv4_header;

typedef struct docstore__sigv4_credentials {
  const char *access_key_id;     /* required */
  const char *secret_access_key; /* required; never logged or copied */
  const char *session_token;     /* optional: NULL or "" for none */
} docstore__sigv4_credentials;

typedef struct docstore__sigv4_request {
  const char *method; /* "GET", "PUT", ... (used verbatim) */

  /* Either the request target as on the request line: "path[?query]" ... */
  const char *target;
  /* ... or, when target is NULL, the pre-split parts: */
  const char *path;  /* wire path, must start with '/' */
  const char *query; /* wire query without '?', NULL or "" for none */

  /* Headers to sign. A Host header is required. Must NOT contain
   * Authorization, X-Amz-Date, X-Amz-Security-Token or (when
   * add_content_sha256_header is set) X-Amz-Content-SHA256: the signer
   * produces those. In query form it must not contain X-Amz-* query
   * parameters either. */
  const docstore__sigv4_header *headers;
  size_t header_count;

  /* 64 hex digits (lowercase or uppercase; emitted lowercase) of the
   * SHA-256 of the body, or "UNSIGNED-PAYLOAD". NULL means the SHA-256
   * of an empty body. */
  const char *payload_hash;

  /* Signing time: amz_date ("YYYYMMDDTHHMMSSZ", UTC) if non-NULL,
   * otherwise timestamp (seconds since the epoch, UTC, >= 0). */
  const char *amz_date;
  time_t timestamp;
} docstore__sigv4_request;

typedef struct docstore__sigv4_options {
  docstore__sigv4_form form;
  int normalize_path;     /* remove "." / "..", collapse "//" (S3: 0) */
  int double_encode_path; /* see path convention above (S3: 0) */
  /* Header form only: add and sign "x-amz-content-sha256: <payload
   * hash>" (S3: 1; ignored in query form). */
  int add_content_sha256_header;
  /* 0: the session token is part of what is signed (normal case).
   * 1: the token is added after signing (not in the canonical request,
   *    but still returned in the output headers/query). */
  int session_token_after_signing;
  /* Query form only: X-Amz-Expires, 1..DOCSTORE__SIGV4_MAX_EXPIRES. */
  long expires_seconds;
} docstore__sigv4_options;

/* A header that the caller must add to the request (header form). */
typedef struct docstore__sigv4_out_header {
  const char *name;  /* static string */
  const char *value; /* owned by the result */
} docstore__sigv4_out_header;

#define DOCSTORE__SIGV4_MAX_OUT_HEADERS 4

/* Result of docstore__sigv4_sign(). Some headers[].value point into the
 * struct itself: keep it in place (pass pointers, do not copy it by value)
 * and release it with docstore__sigv4_result_free(). */
typedef struct docstore__sigv4_result {
  char *canonical_request; /* owned */
  char *string_to_sign;    /* owned */
  char *signed_headers;    /* owned, e.g. "host;x-amz-date" */
  char signature[DOCSTORE__SIGV4_HEX_LEN];
  char amz_date[DOCSTORE__SIGV4_AMZ_DATE_LEN];
  char credential_scope_date[9]; /* "YYYYMMDD" */

  /* Header form: the Authorization header value, else NULL. */
  char *authorization;
  /* Header form: headers to add, in this order when present:
   * X-Amz-Security-Token, X-Amz-Date, x-amz-content-sha256,
   * Authorization. */
  docstore__sigv4_out_header headers[DOCSTORE__SIGV4_MAX_OUT_HEADERS];
  size_t header_count;

  /* Query form: "X-Amz-Algorithm=...&X-Amz-Credential=...&X-Amz-Date=...
   * &X-Amz-SignedHeaders=...&X-Amz-Expires=...[&X-Amz-Security-Token=...]
   * &X-Amz-Signature=..." to append to the request's query (with '?' if
   * it has none, else '&'). NULL in header form. */
  char *query_string;

  /* internal storage */
  char *priv_token;
  char priv_payload_hash[DOCSTORE__SIGV4_HEX_LEN];
} docstore__sigv4_result;

/* Frees what a result owns and zeroes it. Safe on a zeroed result. */
void docstore__sigv4_result_free(docstore__sigv4_result *result);

/* Options presets. */
void docstore__sigv4_options_init_s3(docstore__sigv4_options *opts,
                                     docstore__sigv4_form form);
void docstore__sigv4_options_init_generic(docstore__sigv4_options *opts,
                                          docstore__sigv4_form form);

/* Signing-key cache: holds only derived signing keys of the most recent
 * day (a few (secret, region, service) combinations); keys of a previous
 * day are wiped with OPENSSL_cleanse when a newer day is seen. Secrets
 * themselves are not stored (only a SHA-256 fingerprint). Thread-safe. */
typedef struct docstore__sigv4_key_cache docstore__sigv4_key_cache;

int docstore__sigv4_key_cache_new(docstore__sigv4_key_cache **out);
void docstore__sigv4_key_cache_free(docstore__sigv4_key_cache *cache);
/* Wipes all cached keys. */
void docstore__sigv4_key_cache_clear(docstore__sigv4_key_cache *cache);
/* Counters for tests/diagnostics (either pointer may be NULL). */
void docstore__sigv4_key_cache_stats(docstore__sigv4_key_cache *cache,
                                     unsigned long *hits,
                                     unsigned long *misses);

/* Derives kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date8), region),
 * service), "aws4_request"). date8 is "YYYYMMDD". cache may be NULL. */
int docstore__sigv4_derive_key(docstore__sigv4_key_cache *cache,
                               const char *secret_access_key, const char *date8,
                               const char *region, const char *service,
                               unsigned char out[DOCSTORE__SIGV4_KEY_LEN]);

/* Signs a request. cache may be NULL. On success *result must be released
 * with docstore__sigv4_result_free(); on error it is left zeroed. */
int docstore__sigv4_sign(const docstore__sigv4_request *request,
                         const docstore__sigv4_credentials *credentials,
                         const char *region, const char *service,
                         const docstore__sigv4_options *options,
                         docstore__sigv4_key_cache *cache,
                         docstore__sigv4_result *result);

/* Helpers. */

/* RFC 3986 encoding, uppercase hex, keeps A-Za-z0-9-_.~ (and '/' when
 * keep_slash). Writes a library-owned string (docstore_free()) to *out. */
int docstore__sigv4_uri_encode(const char *in, size_t len, int keep_slash,
                               char **out);
/* Encodes a raw (unencoded) path such as "/bucket/my key+x%.txt" for the
 * request line and S3 signing: each segment encoded once, '/' kept
 * (so "//" stays "//"). */
int docstore__sigv4_encode_path(const char *raw_path, char **out);
/* Lowercase hex SHA-256 of data (a payload hash). */
int docstore__sigv4_sha256_hex(const void *data, size_t len,
                               char out[DOCSTORE__SIGV4_HEX_LEN]);
/* time_t (UTC, >= 0) to "YYYYMMDDTHHMMSSZ". */
int docstore__sigv4_format_amz_date(time_t t,
                                    char out[DOCSTORE__SIGV4_AMZ_DATE_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* DOCSTORE_S3_SIGV4_H */
