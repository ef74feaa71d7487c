/*
 * libdocstore - S3 provider internals.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Layers, bottom up:
 *   s3_xml.c      reply parsing (libxml2): error, ListObjectsV2,
 *                 ListMultipartUploads, multipart
 *                 replies; error replies mapped to DOCSTORE_E* codes;
 *                 small text helpers (URL decoding, dates).  No network.
 *                 Error replies are mapped by table.
 *   s3_retry.c    which failures are retried, backoff with full jitter.
 *   s3_crc.c      CRC-32C (SSE4.2 when present) and CRC-32.
 *   s3_verify.c   a downloaded object checked against its size, and its
 *                 x-amz-checksum-* (CRC-32, CRC-32C, SHA-1, SHA-256) or
 *                 else its ETag MD5.
 *   s3_http.c     one signed S3 request over libcurl, with retries, from a
 *                 pool of easy handles (keep-alive, one handle per thread at
 *                 a time) sharing DNS and TLS sessions; every reply held
 *                 within its limit; timeouts told apart by curl's timings.
 *   s3_upload.c   streamed uploads (the put group, also behind the
 *                 whole-buffer put): one PutObject, or a multipart upload
 *                 whose parts a few threads send while the writer fills the
 *                 next; no-clobber; the PUT_VERIFY proof.
 *   s3_provider.c options, endpoint/addressing, the other provider
 *                 operations, presigned URLs, the check.
 *   s3_download.c streamed reads: ranged GETs of a few windows at once,
 *                 pinned to the first reply's ETag.
 */
#ifndef DOCSTORE_S3_INTERNAL_H
#define DOCSTORE_S3_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "docstore/sys/provider.h"
#include "docstore/common.h"
#include "internal.h"
#include "s3/sigv4.h"

/* ------------------------------------------------------------- limits */

#define DOCSTORE__S3_DEFAULT_REGION "us-east-1"
#define DOCSTORE__S3_DEFAULT_THRESHOLD (16u * 1024 * 1024)
#define DOCSTORE__S3_DEFAULT_PART_SIZE (8u * 1024 * 1024)
#define DOCSTORE__S3_MIN_PART_SIZE (5u * 1024 * 1024)
#define DOCSTORE__S3_MAX_PARTS 10000u
#define DOCSTORE__S3_DEFAULT_CONCURRENCY 4u
#define DOCSTORE__S3_MAX_CONCURRENCY 64u
#define DOCSTORE__S3_DEFAULT_ATTEMPTS 4u
#define DOCSTORE__S3_DEFAULT_RETRY_BASE_MS 100u
#define DOCSTORE__S3_DEFAULT_RETRY_MAX_MS 5000u
#define DOCSTORE__S3_DEFAULT_CONNECT_MS 5000u
#define DOCSTORE__S3_DEFAULT_STALL_MS 30000u
#define DOCSTORE__S3_DEFAULT_STALL_BPS 1024u
#define DOCSTORE__S3_DEFAULT_PRESIGN_S 86400u
#define DOCSTORE__S3_DEFAULT_STALE_S 86400u
/* Download limits (docs/CONFIG.md, "S3 download limits").  A reply over
 * its limit stops the transfer at once (a Content-Length over it before
 * any byte of the body is read): memory never holds more than the limit
 * plus libcurl's receive buffer.
 *   objects:      DOCSTORE__OBJECT_MAX (src/common/internal.h, the
 *                 largest envelope), DOCSTORE_ETOOBIG;
 *   XML replies:  a ListObjectsV2 page of 1000 keys of 1024 bytes, all
 *                 percent-encoded, with their other fields, is under
 *                 4 MiB; DOCSTORE_ETOOBIG;
 *   error bodies: the start is enough to name the error; the transfer
 *                 stops there and the status decides. */
#define DOCSTORE__S3_MAX_ERROR_BODY (64u * 1024)
#define DOCSTORE__S3_MAX_XML_BODY (8u * 1024 * 1024)
/* Uploads in one ListMultipartUploads page: S3's largest max-uploads. */
#define DOCSTORE__S3_MAX_UPLOADS_PAGE 1000u
/* Idle curl handles kept for reuse. */
#define DOCSTORE__S3_POOL_MAX 16

/* ------------------------------------------------------- XML replies */

/* An S3 <Error> reply.  Fields are "" when absent; long values are cut. */
typedef struct docstore__s3_error {
  char code[64];
  char message[256];
  char request_id[128];
  char region[64];    /* <Region> (AuthorizationHeaderMalformed) */
  char endpoint[256]; /* <Endpoint> (PermanentRedirect) */
} docstore__s3_error;

/* Parses an <Error> document (namespace ignored).  0, DOCSTORE_EFORMAT
 * (not XML, or the root is not <Error>), DOCSTORE_ENOMEM. */
int docstore__s3_xml_parse_error(const char *body, size_t len,
                                 docstore__s3_error *out);

/* 1 if body is an XML document whose root element is <Error>, else 0. */
int docstore__s3_xml_is_error(const char *body, size_t len);

typedef struct docstore__s3_list_entry {
  char *key; /* decoded when the reply says EncodingType=url */
  uint64_t size;
  int64_t mtime;
  char *etag; /* quotes kept as the server sent them (entities decoded) */
} docstore__s3_list_entry;

typedef struct docstore__s3_list_page {
  docstore__s3_list_entry *entries;
  size_t count;
  int truncated;
  char *next_token; /* NextContinuationToken, NULL if none */
} docstore__s3_list_page;

/* Parses a ListObjectsV2 reply (<ListBucketResult>).  A truncated page
 * without a NextContinuationToken is DOCSTORE_EFORMAT (it would loop). */
int docstore__s3_xml_parse_list(const char *body, size_t len,
                                docstore__s3_list_page *out);
void docstore__s3_list_page_free(docstore__s3_list_page *page);

/* One incomplete multipart upload of a ListMultipartUploads reply. */
typedef struct docstore__s3_upload_entry {
  char *key;       /* decoded when the reply says EncodingType=url */
  char *upload_id; /* as sent (entities decoded) */
  int64_t initiated;
} docstore__s3_upload_entry;

typedef struct docstore__s3_upload_page {
  docstore__s3_upload_entry *entries;
  size_t count;
  int truncated;
  char *next_key_marker;       /* NULL if none */
  char *next_upload_id_marker; /* NULL if none */
} docstore__s3_upload_page;

/* Parses a ListMultipartUploads reply (<ListMultipartUploadsResult>).
 * Every <Upload> needs a non-empty Key and UploadId and a valid Initiated
 * date; a truncated page needs a NextKeyMarker; a page holds at most
 * DOCSTORE__S3_MAX_UPLOADS_PAGE uploads.  Otherwise DOCSTORE_EFORMAT (out
 * left empty); DOCSTORE_ENOMEM. */
int docstore__s3_xml_parse_uploads(const char *body, size_t len,
                                   docstore__s3_upload_page *out);
void docstore__s3_upload_page_free(docstore__s3_upload_page *page);

/* <InitiateMultipartUploadResult><UploadId>: *out is library-owned. */
int docstore__s3_xml_parse_upload_id(const char *body, size_t len, char **out);

/* Appends <CompleteMultipartUpload> with the parts' ETags (1-based part
 * numbers in order) to out. */
int docstore__s3_xml_complete_body(docstore__buf *out, char *const *etags,
                                   size_t count);
/* Same, and when sums is not NULL each part's flexible checksum (base64,
 * as sent with the part) in <Checksum<tag>> (tag "CRC32C", "CRC32",
 * "SHA256"). */
int docstore__s3_xml_complete_body_sums(docstore__buf *out, char *const *etags,
                                        char *const *sums, const char *tag,
                                        size_t count);

/* Percent-decoding as botocore reads EncodingType=url keys ('+' is a
 * space).  *out library-owned.  DOCSTORE_EFORMAT on a bad escape. */
int docstore__s3_url_decode(const char *in, char **out);

/* "2024-01-15T10:20:30.000Z" (ISO 8601, UTC) to Unix seconds; -1 if bad. */
int64_t docstore__s3_parse_iso8601(const char *s);
/* The n bytes at s as a decimal number: digits only (no sign, no space),
 * at least one, no overflow.  0, or DOCSTORE_EFORMAT. */
int docstore__s3_parse_u64(const char *s, size_t n, uint64_t *out);

/* Where a failed request was going, for messages. */
typedef struct docstore__s3_context {
  const char *method;   /* "GET" ... */
  const char *bucket;   /* never NULL */
  const char *key;      /* NULL: a bucket-level request */
  const char *region;   /* configured region */
  const char *endpoint; /* "http://127.0.0.1:8080" */
} docstore__s3_context;

/* Maps an HTTP error reply to a stable code and a message (into err) that
 * carries the HTTP status, the S3 code, its message and the request id,
 * plus a hint.  `e` may be NULL or empty (HEAD replies have no body); then
 * the status decides.  bucket_region: the x-amz-bucket-region header or
 * NULL.  Returns the code. */
int docstore__s3_map_error(docstore__err *err, const docstore__s3_context *ctx,
                           long status, const docstore__s3_error *e,
                           const char *bucket_region,
                           const char *header_request_id);

/* ------------------------------------------------------------ retries */

/* 1 if a reply with this status and S3 error code (may be NULL or "")
 * should be retried: 5xx (but 501), SlowDown, RequestTimeout,
 * RequestTimeTooSkewed, InternalError.  Never 4xx authorisation errors. */
int docstore__s3_retryable_reply(long status, const char *s3_code);

/* 1 if a libcurl failure is retried (refused, reset, dropped connection).
 * Timeouts and TLS failures are not. */
int docstore__s3_retryable_curl(CURLcode rc);

/* Which limit a CURLE_OPERATION_TIMEDOUT hit, from libcurl's timings
 * (CURLINFO_PRETRANSFER_TIME_T and CURLINFO_TOTAL_TIME_T, in us), not
 * from its English messages: the connection never came up (pretransfer
 * 0), the whole-request timeout, or the stall detector. */
enum {
  DOCSTORE__S3_TIMEOUT_CONNECT = 1,
  DOCSTORE__S3_TIMEOUT_REQUEST,
  DOCSTORE__S3_TIMEOUT_STALL
};
int docstore__s3_timeout_kind(uint64_t pretransfer_us, uint64_t total_us,
                              unsigned int request_timeout_ms,
                              unsigned int stall_timeout_ms);

/* Full jitter: a delay in [0, min(max_ms, base_ms * 2^(retry-1))],
 * retry >= 1.  random01 in [0, 1]. */
unsigned int docstore__s3_backoff_ms(unsigned int retry, unsigned int base_ms,
                                     unsigned int max_ms, double random01);

/* A uniformly random number in [0, 1] (OpenSSL's RAND). */
double docstore__s3_random01(void);

/* Sleeps ms milliseconds (restarts on EINTR). */
void docstore__s3_sleep_ms(unsigned int ms);

/* ------------------------------------------------- download checks */

typedef struct docstore__s3_resp docstore__s3_resp;

enum {
  DOCSTORE__S3_SUM_NONE = 0,
  DOCSTORE__S3_SUM_CRC32,
  DOCSTORE__S3_SUM_CRC32C,
  DOCSTORE__S3_SUM_SHA1,
  DOCSTORE__S3_SUM_SHA256
};

/* CRC-32 (ISO-HDLC, as zlib) and CRC-32C (Castagnoli) (s3_crc.c); start
 * with 0, pass the last value on to continue.  CRC-32C uses the SSE4.2
 * instruction when the CPU has it. */
uint32_t docstore__s3_crc32(uint32_t crc, const void *data, size_t len);
uint32_t docstore__s3_crc32c(uint32_t crc, const void *data, size_t len);
/* CRC-32C by the tables only (tests and benchmarks compare the two). */
uint32_t docstore__s3_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* 1 when docstore__s3_crc32c() uses the CPU's instruction. */
int docstore__s3_crc32c_hw(void);
/* "crc32" ... "sha256" (any case) to DOCSTORE__S3_SUM_*; NONE if unknown. */
int docstore__s3_checksum_kind(const char *name);

/* The check of one whole-object read (s3_verify.c); zero it first. */
typedef struct docstore__s3_verify {
  int active;
  char etag[192];            /* the first reply's */
  uint64_t size;             /* the object's size; UINT64_MAX: unknown */
  uint64_t seen;             /* bytes checked */
  unsigned long parts;       /* N of a multipart ETag, else 0 */
  char md5_hex[33];          /* the ETag when it is an MD5 */
  struct evp_md_ctx_st *md5; /* NULL: the ETag is not checked */
  int sum;                   /* DOCSTORE__S3_SUM_* */
  char sum_want[96];
  struct evp_md_ctx_st *sha; /* sha1 / sha256 */
  uint32_t crc;
} docstore__s3_verify;

/* Starts with the first 2xx reply's headers.  0 or DOCSTORE_ECRYPTO. */
int docstore__s3_verify_begin(docstore__s3_verify *v,
                              const docstore__s3_resp *first);
/* The next bytes of the object (in order, resumes included). */
int docstore__s3_verify_update(docstore__s3_verify *v, const uint8_t *p,
                               size_t n);
/* 0, or DOCSTORE_EINTEGRITY (size, ETag MD5, multipart part count or
 * checksum differ) with detail in err naming `what`. */
int docstore__s3_verify_end(docstore__s3_verify *v, const char *what,
                            docstore__err *err);
void docstore__s3_verify_free(docstore__s3_verify *v);

/* ------------------------------------------------------ the provider */

/* Internal knobs for tests (never needed in production). */
typedef struct docstore__s3_tuning {
  unsigned int list_max_keys; /* 0: the server's default (1000) */
  uint64_t min_part_size;     /* 0: S3's 5 MiB minimum */
  uint64_t max_object;        /* 0: DOCSTORE__OBJECT_MAX */
  /* n > 0: byte n-1 of every request body leaves with one bit flipped,
   * after its digests were computed (a corruption in transit, to see
   * what the server refuses). */
  uint64_t corrupt_body_at;
} docstore__s3_tuning;

typedef struct docstore__s3_pool {
  pthread_mutex_t lock;
  CURL *idle[DOCSTORE__S3_POOL_MAX];
  size_t idle_count;
  CURLSH *share; /* DNS cache and TLS sessions (locks below) */
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
  int share_locks_ready;
} docstore__s3_pool;

typedef struct docstore__s3 {
  /* Configuration (copies). */
  char *bucket;
  char *region;
  char *access_key;
  char *secret_key;    /* wiped on free */
  char *session_token; /* wiped on free; NULL if none */
  char *ca_bundle;
  int insecure;

  /* Endpoint. */
  int https;
  char *endpoint;    /* "scheme://host[:port]" for messages (no bucket) */
  char *base_url;    /* "scheme://[bucket.]host[:port]" for requests */
  char *host_header; /* the Host header sent and signed */
  int virtual_hosted;

  uint64_t multipart_threshold;
  uint64_t part_size;
  unsigned int concurrency; /* parts of a multipart upload in flight */
  unsigned int max_attempts;
  unsigned int retry_base_ms;
  unsigned int retry_max_ms;
  unsigned int connect_timeout_ms;
  unsigned int request_timeout_ms;
  unsigned int stall_timeout_ms;
  unsigned int stall_min_bps;
  /* Integrity of object data sent (0.4.0), resolved at creation: */
  int checksum;     /* DOCSTORE_S3_CHECKSUM_*, never AUTO */
  int sign_payload; /* 1: SigV4 payload SHA-256; 0: UNSIGNED-PAYLOAD */
  /* No-clobber stores: DOCSTORE_S3_CONDITIONAL_* as configured, and for
   * AUTO what the server showed: 0 unknown, 1 If-None-Match works, -1 it
   * answered NotImplemented (then HEAD before PUT). */
  int conditional;
  atomic_int conditional_seen;
  unsigned int download_concurrency;
  uint64_t download_part_size;
  unsigned int stale_upload_seconds;
  docstore__s3_tuning tuning;

  docstore__sigv4_key_cache *keys;
  docstore__s3_pool pool;

  /* Retries per docstore_op (also added to the owner's metrics). */
  atomic_uint_fast64_t retries[DOCSTORE_OP_COUNT_];
  atomic_uint_fast64_t requests; /* HTTP attempts made */
  atomic_uint_fast64_t connects; /* new connections opened (keep-alive) */
  docstore_provider *owner;      /* set once by docstore_s3_provider_new */
} docstore__s3;

/* Builds the payload from public options (validated, defaults applied). */
int docstore__s3_new(docstore__s3 **out, const docstore_s3_options *opts,
                     const docstore__s3_tuning *tuning, docstore__err *err);
void docstore__s3_free(docstore__s3 *s3);
/* The S3 ops table (payload: docstore__s3). */
const docstore_provider_ops *docstore__s3_ops(void);
/* docstore_s3_provider_new() with test knobs (tuning may be NULL). */
int docstore__s3_provider_new_ex(docstore_provider **out,
                                 const docstore_s3_options *opts,
                                 const docstore__s3_tuning *tuning,
                                 char *errbuf, size_t errbuf_len);
uint64_t docstore__s3_retry_count(docstore__s3 *s3, int op);

/* The put group of the ops table and the whole-buffer put (s3_upload.c);
 * payload: docstore__s3.  Memory of one transaction: at most
 * multipart_threshold + part_size x (concurrency + 1) bytes of data. */
int docstore__s3_put(void *payload, const char *key, const uint8_t *data,
                     size_t len, docstore_errinfo *err);
int docstore__s3_put_begin(void *payload, const char *key,
                           const docstore_put_options *opts, void **txn,
                           docstore_errinfo *err);
int docstore__s3_put_write(void *payload, void *txn, const uint8_t *data,
                           size_t len, docstore_errinfo *err);
int docstore__s3_put_commit(void *payload, void *txn, docstore_errinfo *err);
void docstore__s3_put_abort(void *payload, void *txn);
/* Streamed reads (s3_download.c): the provider ops get_open, get_read and
 * get_close (payload: docstore__s3).  A stream holds at most
 * download_concurrency windows of download_part_size bytes. */
int docstore__s3_get_open(void *payload, const char *key, uint64_t offset,
                          uint64_t length, void **stream, uint64_t *object_size,
                          docstore_errinfo *err);
int docstore__s3_get_read(void *payload, void *stream, uint8_t *buf, size_t cap,
                          size_t *got, docstore_errinfo *err);
void docstore__s3_get_close(void *payload, void *stream);
/* One line of a check report ("\n" added) to sink (NULL: nothing).
 * Returns the sink's code. */
int docstore__s3_report(docstore_sink_cb sink, void *sp, const char *fmt, ...)
    DOCSTORE__PRINTF(3, 4);
/* The check's lines about incomplete uploads older than
 * stale_upload_seconds: a warning naming the first ten, or OK; at most
 * 10000 uploads looked at ("at least" beyond).  A listing
 * that fails (e.g. no s3:ListBucketMultipartUploads permission) is
 * reported as not checked.  Never fails the check. */
void docstore__s3_check_uploads(docstore__s3 *s3, docstore_sink_cb sink,
                                void *sp);

/* docstore_s3_incomplete_uploads() on the payload (s3_uploads.c); prefix
 * already checked (NULL: ""). */
int docstore__s3_uploads(docstore__s3 *s3, const char *prefix,
                         unsigned int flags, uint64_t min_age_seconds,
                         docstore_upload_cb cb, void *payload,
                         docstore__err *err);

/* ------------------------------------------------------- HTTP requests */

typedef struct docstore__s3_req {
  int op;              /* docstore_op, for the retry counters */
  const char *method;  /* "GET", "PUT", "HEAD", "DELETE", "POST" */
  const char *key;     /* raw object key; NULL: the bucket itself */
  const char *query;   /* wire query (already encoded), NULL for none */
  const uint8_t *body; /* request body (PUT/POST), may be NULL */
  size_t body_len;
  int send_body; /* 1: send body (even empty) with Content-MD5 */
  const char *content_type;
  int has_range; /* Range: bytes=range_start-... */
  uint64_t range_start;
  uint64_t range_len; /* UINT64_MAX: to the end */
  /* Where a 2xx body goes; NULL: into resp->body. */
  docstore_sink_cb sink;
  void *sink_payload;
  /* 1: a 2xx reply whose body is an <Error> document is an error
   * (CompleteMultipartUpload). */
  int error_in_200;
  /* 1: a whole-object read, checked against the reply's size, ETag and
   * x-amz-checksum-* (s3_verify.c). */
  int verify;
  /* 1: the body is object data (PutObject, UploadPart): sent with the
   * provider's integrity policy (s3->checksum, s3->sign_payload); the
   * checksum sent is reported in resp->sent_checksum.  0: a control body
   * (XML) or none: payload hash signed, no checksum header. */
  int object_data;
  /* If-Match: <etag> (a read pinned to one object; 412 -> DOCSTORE_ECHANGED) */
  const char *if_match;
  /* 1: If-None-Match: * (no-clobber; 412 -> DOCSTORE_EEXISTS) */
  int if_none_match;
  /* More headers, sent and signed (lower-case names), e.g.
   * x-amz-checksum-algorithm on CreateMultipartUpload.  At most
   * DOCSTORE__S3_MAX_EXTRA_HEADERS (more: DOCSTORE_EINVAL). */
  const docstore__sigv4_header *extra_headers;
  size_t extra_count;
} docstore__s3_req;

#define DOCSTORE__S3_MAX_EXTRA_HEADERS 8u

struct docstore__s3_resp {
  long status;
  docstore__buf body;
  uint64_t content_length;
  int has_content_length;
  int64_t last_modified; /* 0 if unknown */
  char etag[192];
  char request_id[128];
  char bucket_region[64];
  char s3_code[64]; /* S3 error code of a failed request, else "" */
  /* x-amz-checksum-<algo>: <base64>; "" when absent. */
  char checksum_algo[16];
  char checksum[96];
  int etag_not_md5; /* SSE-KMS or SSE-C: the ETag is not the body's MD5 */
  /* Content-Range: bytes <first>-<last>/<total> of a 206 reply. */
  int has_content_range;
  uint64_t range_first;
  uint64_t range_total; /* UINT64_MAX: "*" */
  uint64_t delivered;   /* bytes handed to the sink */
  unsigned int attempts;
  /* The x-amz-checksum-<algo> value sent with object data (base64; "" if
   * none): an UploadPart's goes into CompleteMultipartUpload. */
  char sent_checksum[96];
  /* 1 when a 2xx reply to a request with a body proves that the server got
   * exactly that body: its SHA-256 was signed (a SigV4 server recomputes
   * it), or Content-MD5 was sent (the server checks it), or the reply
   * echoes the x-amz-checksum-<algo> sent.  0 otherwise (UNSIGNED-PAYLOAD
   * with no checksum, or a checksum the server does not echo: it may not
   * have checked it).  An echo of another value fails the request with
   * DOCSTORE_EINTEGRITY. */
  int body_proven;
};

/* How a request body is sent (s3_http.c): the payload hash to sign and
 * the integrity header, by s3->checksum and s3->sign_payload for object
 * data (req->object_data), signed and without a checksum for a control
 * body.  Pure (no network). */
typedef struct docstore__s3_body_policy {
  /* x-amz-content-sha256: hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
  char payload_hash[DOCSTORE__SIGV4_HEX_LEN];
  /* "x-amz-checksum-crc32c" ..., "Content-MD5", or "" for none */
  char sum_header[32];
  char sum_value[96]; /* its base64 value */
} docstore__s3_body_policy;

/* Fills *out for req's body.  0, or DOCSTORE_ECRYPTO (a digest failed). */
int docstore__s3_body_policy_for(const docstore__s3 *s3,
                                 const docstore__s3_req *req,
                                 docstore__s3_body_policy *out);

void docstore__s3_resp_free(docstore__s3_resp *resp);

/* Sends a signed request, with retries.  0 for a 2xx reply (resp filled),
 * else a DOCSTORE_E* code with detail in err (resp still holds the last
 * status and body).  Never logs or reports the secret or signatures. */
int docstore__s3_request(docstore__s3 *s3, const docstore__s3_req *req,
                         docstore__s3_resp *resp, docstore__err *err);

/* The request path of a key (or of the bucket when key is NULL), encoded
 * for the request line and for signing.  *out library-owned. */
int docstore__s3_path(const docstore__s3 *s3, const char *key, char **out);

int docstore__s3_pool_init(docstore__s3_pool *pool);
void docstore__s3_pool_destroy(docstore__s3_pool *pool);

/* One-time libcurl and libxml2 initialisation (thread-safe). */
int docstore__s3_global_init(void);

#endif /* DOCSTORE_S3_INTERNAL_H */
