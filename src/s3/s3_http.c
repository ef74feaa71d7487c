/*
 * libdocstore - one signed S3 request over libcurl, with retries.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Connections: easy handles are kept in a small pool per provider, so a
 * finished request leaves its keep-alive connection in the handle for the
 * next one; a handle is used by one thread at a time.  All handles of a
 * provider share the DNS cache and TLS sessions through a CURLSH (with
 * locks); the connection cache itself is not shared, as libcurl does not
 * support sharing it between threads.
 *
 * Every attempt is signed afresh (a new X-Amz-Date).  Nothing here puts
 * the secret, the Authorization header or a signature in a message or a
 * log line: URLs in messages are the endpoint only.
 *
 * Bodies (docs/SECURITY.md, "Integrity in transit"): object data is sent
 * by the provider's policy, resolved at creation: its SHA-256 signed as
 * the payload hash (s3->sign_payload) or UNSIGNED-PAYLOAD, and a checksum
 * header (s3->checksum): x-amz-checksum-crc32c / -crc32 / -sha256, or
 * Content-MD5.  Control bodies (XML) are small: their hash is always
 * signed, and nothing else is sent.  resp->body_proven says whether the
 * 2xx reply proves that the server received exactly the body; a reply
 * that echoes a different checksum is DOCSTORE_EINTEGRITY.
 *
 * Conditions: If-Match (a read pinned to one object: 412 is
 * DOCSTORE_ECHANGED), If-None-Match: * (a no-clobber write: 412 is
 * DOCSTORE_EEXISTS; 501 NotImplemented is DOCSTORE_EUNSUPPORTED, so that
 * the caller can fall back to another way).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/parser.h>
#include <openssl/evp.h>

#include "provider/provider_internal.h"
#include "s3/s3_internal.h"
#include "util/date.h"
#include "util/hex.h"

/* --------------------------------------------------- one-time setup */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init_once(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    global_rc = DOCSTORE_ENOMEM;
    return;
  }
  xmlInitParser();
}

int docstore__s3_global_init(void) {
  if (pthread_once(&global_once, global_init_once) != 0)
    return DOCSTORE_ENOMEM;
  return global_rc;
}

/* ------------------------------------------------------- handle pool */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access,
                       void *userp) {
  docstore__s3_pool *pool = userp;
  (void)h;
  (void)access;
  if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
    pthread_mutex_lock(&pool->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp) {
  docstore__s3_pool *pool = userp;
  (void)h;
  if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
    pthread_mutex_unlock(&pool->share_locks[data]);
}

int docstore__s3_pool_init(docstore__s3_pool *pool) {
  memset(pool, 0, sizeof(*pool));
  if (pthread_mutex_init(&pool->lock, NULL) != 0)
    return DOCSTORE_ENOMEM;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) {
    if (pthread_mutex_init(&pool->share_locks[i], NULL) != 0) {
      while (i-- > 0)
        pthread_mutex_destroy(&pool->share_locks[i]);
      pthread_mutex_destroy(&pool->lock);
      return DOCSTORE_ENOMEM;
    }
  }
  pool->share_locks_ready = 1;
  pool->share = curl_share_init();
  if (!pool->share ||
      curl_share_setopt(pool->share, CURLSHOPT_LOCKFUNC, share_lock) ||
      curl_share_setopt(pool->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
      curl_share_setopt(pool->share, CURLSHOPT_USERDATA, pool) ||
      curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
      curl_share_setopt(pool->share, CURLSHOPT_SHARE,
                        CURL_LOCK_DATA_SSL_SESSION)) {
    docstore__s3_pool_destroy(pool);
    return DOCSTORE_ENOMEM;
  }
  return 0;
}

void docstore__s3_pool_destroy(docstore__s3_pool *pool) {
  if (!pool->share_locks_ready)
    return;
  for (size_t i = 0; i < pool->idle_count; i++)
    curl_easy_cleanup(pool->idle[i]);
  pool->idle_count = 0;
  if (pool->share)
    curl_share_cleanup(pool->share);
  pool->share = NULL;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&pool->share_locks[i]);
  pthread_mutex_destroy(&pool->lock);
  pool->share_locks_ready = 0;
}

static CURL *pool_take(docstore__s3_pool *pool) {
  CURL *h = NULL;
  pthread_mutex_lock(&pool->lock);
  if (pool->idle_count > 0)
    h = pool->idle[--pool->idle_count];
  pthread_mutex_unlock(&pool->lock);
  if (h)
    return h;
  h = curl_easy_init();
  if (h && curl_easy_setopt(h, CURLOPT_SHARE, pool->share) != CURLE_OK) {
    curl_easy_cleanup(h);
    h = NULL;
  }
  return h;
}

static void pool_give(docstore__s3_pool *pool, CURL *h) {
  if (!h)
    return;
  pthread_mutex_lock(&pool->lock);
  if (pool->idle_count < DOCSTORE__S3_POOL_MAX) {
    pool->idle[pool->idle_count++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&pool->lock);
  if (h)
    curl_easy_cleanup(h);
}

/* ------------------------------------------------------------- paths */

int docstore__s3_path(const docstore__s3 *s3, const char *key, char **out) {
  *out = NULL;
  char *raw;
  if (s3->virtual_hosted)
    raw = docstore__sprintf("/%s", key ? key : "");
  else if (key)
    raw = docstore__sprintf("/%s/%s", s3->bucket, key);
  else
    raw = docstore__sprintf("/%s", s3->bucket);
  if (!raw)
    return DOCSTORE_ENOMEM;
  int rc = docstore__sigv4_encode_path(raw, out);
  docstore_free(raw);
  return rc;
}

/* ------------------------------------------------------ the transfer */

typedef struct transfer {
  docstore__s3 *s3;
  const docstore__s3_req *req;
  docstore__s3_resp *resp;
  CURL *h;
  /* upload */
  const uint8_t *up;
  size_t up_len;
  size_t up_pos;
  /* download */
  int started;           /* the first body byte of this attempt was seen */
  int to_sink;           /* this reply's body goes to the sink */
  uint64_t skip;         /* bytes to drop (a resumed read answered 200) */
  uint64_t limit;        /* bytes the sink may receive in all (a range) */
  uint64_t max_body;     /* the object size limit */
  uint64_t reserved;     /* bytes the sink was told to expect */
  const char *want_etag; /* a resumed read's ETag (If-Match), or NULL */
  int sink_rc;           /* the sink asked to stop */
  /* A reply over its limit: which limit, and the Content-Length that
   * announced it (0: found while reading). */
  const char *too_big;
  uint64_t too_big_limit;
  uint64_t too_big_len;
  int error_cut;       /* an error body reached its limit: stopped there */
  char integrity[200]; /* a reply that does not continue the object */
  docstore__s3_verify verify;
  /* The x-amz-checksum-<algo> header sent with the body ("" if none), and
   * the value of the same header in the reply ("" if not echoed). */
  const char *sum_header;
  char echo[96];
} transfer;

static size_t on_read(char *buf, size_t size, size_t nitems, void *userp) {
  transfer *t = userp;
  size_t room = size * nitems;
  size_t left = t->up_len - t->up_pos;
  size_t n = left < room ? left : room;
  if (n)
    memcpy(buf, t->up + t->up_pos, n);
  uint64_t bad = t->s3->tuning.corrupt_body_at;
  if (bad && bad - 1 >= t->up_pos && bad - 1 < t->up_pos + n)
    buf[bad - 1 - t->up_pos] ^= 0x01;
  t->up_pos += n;
  return n;
}

static int on_seek(void *userp, curl_off_t offset, int origin) {
  transfer *t = userp;
  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > t->up_len)
    return CURL_SEEKFUNC_FAIL;
  t->up_pos = (size_t)offset;
  return CURL_SEEKFUNC_OK;
}

static void reset_reply(docstore__s3_resp *resp) {
  resp->status = 0;
  resp->body.len = 0;
  if (resp->body.data)
    resp->body.data[0] = '\0';
  resp->content_length = 0;
  resp->has_content_length = 0;
  resp->last_modified = 0;
  resp->etag[0] = '\0';
  resp->request_id[0] = '\0';
  resp->bucket_region[0] = '\0';
  resp->s3_code[0] = '\0';
  resp->checksum_algo[0] = '\0';
  resp->checksum[0] = '\0';
  resp->etag_not_md5 = 0;
  resp->has_content_range = 0;
  resp->range_first = 0;
  resp->range_total = UINT64_MAX;
}

/* Copies a header value (trimmed) if `line` is "<name>: value". */
static int header_value(const char *line, size_t len, const char *name,
                        char *dst, size_t cap) {
  size_t nl = strlen(name);
  if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
    return 0;
  const char *v = line + nl + 1;
  const char *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                     end[-1] == '\t'))
    end--;
  size_t n = (size_t)(end - v);
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, v, n);
  dst[n] = '\0';
  return 1;
}

/* "bytes <first>-<last>/<total|*>": decimal digits only, first <= last <
 * total; 1 when it is that form, else 0. */
static int parse_content_range(const char *v, uint64_t *first,
                               uint64_t *total) {
  uint64_t a, b, n;
  if (strncmp(v, "bytes ", 6) != 0)
    return 0;
  const char *p = v + 6;
  const char *dash = strchr(p, '-');
  const char *slash = dash ? strchr(dash + 1, '/') : NULL;
  if (!slash || docstore__s3_parse_u64(p, (size_t)(dash - p), &a) < 0 ||
      docstore__s3_parse_u64(dash + 1, (size_t)(slash - dash - 1), &b) < 0 ||
      b < a)
    return 0;
  *first = a;
  if (strcmp(slash + 1, "*") == 0) {
    *total = UINT64_MAX;
    return 1;
  }
  if (docstore__s3_parse_u64(slash + 1, strlen(slash + 1), &n) < 0 || n <= b)
    return 0;
  *total = n;
  return 1;
}

static int goes_to_sink(const transfer *t, long status) {
  return status >= 200 && status < 300 && t->req->sink && !t->req->error_in_200;
}

/* At the end of a reply's headers: refuse a body whose Content-Length is
 * over its limit before reading any of it.  0 to stop the transfer. */
static int body_fits(transfer *t) {
  long status = 0;
  curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300 || !t->resp->has_content_length ||
      strcmp(t->req->method, "HEAD") == 0)
    return 1;
  uint64_t n = t->resp->content_length;
  if (goes_to_sink(t, status)) {
    uint64_t delivered = t->resp->delivered;
    if (status != 206) {
      uint64_t skip = delivered + (t->req->has_range ? t->req->range_start : 0);
      n = n > skip ? n - skip : 0;
    }
    if (n > t->limit - delivered)
      n = t->limit - delivered;
    if (n <= t->max_body - delivered)
      return 1;
    t->too_big = "an object";
    t->too_big_limit = t->max_body;
    t->too_big_len = t->resp->content_length;
    return 0;
  }
  if (n <= DOCSTORE__S3_MAX_XML_BODY)
    return 1;
  t->too_big = "an XML reply";
  t->too_big_limit = DOCSTORE__S3_MAX_XML_BODY;
  t->too_big_len = n;
  return 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userp) {
  transfer *t = userp;
  size_t len = size * nitems;
  char value[256];
  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
    /* A new reply (after "100 Continue", or a retry): start over. */
    reset_reply(t->resp);
    t->echo[0] = '\0';
    return len;
  }
  if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n'))
    return body_fits(t) ? len : 0;
  if (len > 15 && strncasecmp(buf, "x-amz-checksum-", 15) == 0) {
    if (t->sum_header && t->sum_header[0])
      (void)header_value(buf, len, t->sum_header, t->echo, sizeof(t->echo));
    char algo[16];
    size_t n = 0;
    while (15 + n < len && buf[15 + n] != ':' && n + 1 < sizeof(algo)) {
      algo[n] = buf[15 + n];
      n++;
    }
    algo[n] = '\0';
    if (docstore__s3_checksum_kind(algo) != DOCSTORE__S3_SUM_NONE) {
      char name[32];
      snprintf(name, sizeof(name), "x-amz-checksum-%s", algo);
      if (header_value(buf, len, name, t->resp->checksum,
                       sizeof(t->resp->checksum)))
        docstore__strlcpy(t->resp->checksum_algo, algo,
                          sizeof(t->resp->checksum_algo));
    }
    return len;
  }
  if (header_value(buf, len, "x-amz-server-side-encryption", value,
                   sizeof(value))) {
    if (strncasecmp(value, "aws:kms", 7) == 0)
      t->resp->etag_not_md5 = 1;
    return len;
  }
  if (header_value(buf, len, "x-amz-server-side-encryption-customer-algorithm",
                   value, sizeof(value))) {
    t->resp->etag_not_md5 = 1;
    return len;
  }
  if (header_value(buf, len, "Content-Range", value, sizeof(value))) {
    t->resp->has_content_range = parse_content_range(
        value, &t->resp->range_first, &t->resp->range_total);
    return len;
  }
  if (header_value(buf, len, "ETag", t->resp->etag, sizeof(t->resp->etag)))
    return len;
  if (header_value(buf, len, "x-amz-request-id", t->resp->request_id,
                   sizeof(t->resp->request_id)))
    return len;
  if (header_value(buf, len, "x-amz-bucket-region", t->resp->bucket_region,
                   sizeof(t->resp->bucket_region)))
    return len;
  if (header_value(buf, len, "Content-Length", value, sizeof(value))) {
    uint64_t v;
    if (docstore__s3_parse_u64(value, strlen(value), &v) == 0) {
      t->resp->content_length = v;
      t->resp->has_content_length = 1;
    }
    return len;
  }
  if (header_value(buf, len, "Last-Modified", value, sizeof(value))) {
    int64_t tm;
    if (docstore__parse_rfc1123(docstore__cursor_from_cstr(value), &tm) < 0) {
      /* HTTP (RFC 9110, 5.6.7) makes a recipient accept the two obsolete
       * forms too (RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
       * "Sun Nov  6 08:49:37 1994"); S3 servers send the RFC 1123 form,
       * but a proxy in between may not, and util parses only the one
       * form, so curl's parser stays as the fallback for those. */
      time_t c = curl_getdate(value, NULL);
      tm = c > 0 ? (int64_t)c : 0;
    }
    t->resp->last_modified = tm > 0 ? tm : 0;
  }
  return len;
}

/* Tell the sink how many bytes this reply will give it (Content-Length,
 * less what is skipped, within the limit), so that a buffer collecting
 * the object is allocated once at its final size instead of growing.  A
 * failed reservation is not an error here: appending will say ENOMEM. */
static void announce_size(transfer *t) {
  uint64_t n = t->resp->content_length;
  n = n > t->skip ? n - t->skip : 0;
  uint64_t room = t->limit - t->resp->delivered;
  if (n > room)
    n = room;
  if (n) {
    (void)docstore__sink_reserve(t->req->sink, t->req->sink_payload, n);
    t->reserved = t->resp->delivered + n;
  }
}

/* A body of unknown length (chunked): the collecting buffer doubles, but
 * never past the limit, so that it holds at most the limit (and a NUL). */
static void reserve_more(transfer *t, size_t n) {
  uint64_t d = t->resp->delivered;
  uint64_t most = t->limit < t->max_body ? t->limit : t->max_body;
  uint64_t want = (d + n) * 2;
  if (want < 64 * 1024)
    want = 64 * 1024;
  if (want > most)
    want = most;
  if (want > d)
    (void)docstore__sink_reserve(t->req->sink, t->req->sink_payload, want - d);
  t->reserved = want;
}

/* The first bytes of a reply to the sink: is it the object (or the rest
 * of it) that was asked for?  0 to stop the transfer. */
static int sink_reply_start(transfer *t, long status) {
  docstore__s3_resp *r = t->resp;
  const docstore__s3_req *req = t->req;
  uint64_t want_first = (req->has_range ? req->range_start : 0) + r->delivered;
  if (status == 206) {
    if (!r->has_content_range || r->range_first != want_first) {
      snprintf(t->integrity, sizeof(t->integrity),
               "a 206 reply starts at byte %llu, not at byte %llu asked for",
               r->has_content_range ? (unsigned long long)r->range_first : 0,
               (unsigned long long)want_first);
      return 0;
    }
  } else {
    /* A resumed read answered with the whole object: skip what the sink
     * already has (and what comes before a range). */
    t->skip = want_first;
  }
  if (t->want_etag && strcmp(r->etag, t->want_etag) != 0) {
    snprintf(t->integrity, sizeof(t->integrity),
             "the resumed read's ETag %.60s is not the first reply's %.60s",
             r->etag, t->want_etag);
    return 0;
  }
  if (req->verify && r->delivered == 0 &&
      docstore__s3_verify_begin(&t->verify, r) < 0) {
    t->sink_rc = DOCSTORE_ECRYPTO;
    return 0;
  }
  if (r->has_content_length)
    announce_size(t);
  return 1;
}

static size_t on_write(char *buf, size_t size, size_t nitems, void *userp) {
  transfer *t = userp;
  size_t len = size * nitems;
  if (!t->started) {
    long status = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    t->resp->status = status;
    t->started = 1;
    t->to_sink = goes_to_sink(t, status);
    if (t->to_sink && !sink_reply_start(t, status))
      return 0;
  }
  if (t->to_sink) {
    const uint8_t *p = (const uint8_t *)buf;
    size_t n = len;
    if (t->skip) {
      size_t s = t->skip < n ? (size_t)t->skip : n;
      t->skip -= s;
      p += s;
      n -= s;
    }
    uint64_t room = t->limit - t->resp->delivered;
    if (n > room)
      n = (size_t)room;
    if (n > t->max_body - t->resp->delivered) {
      t->too_big = "an object";
      t->too_big_limit = t->max_body;
      return 0;
    }
    if (n) {
      if (t->resp->delivered + n > t->reserved)
        reserve_more(t, n);
      int vrc = docstore__s3_verify_update(&t->verify, p, n);
      if (vrc < 0) {
        t->sink_rc = vrc;
        return 0;
      }
      int rc = t->req->sink(t->req->sink_payload, p, n);
      if (rc != 0) {
        t->sink_rc = rc < 0 ? rc : DOCSTORE_ECANCELED;
        return 0; /* CURLE_WRITE_ERROR */
      }
      t->resp->delivered += n;
    }
    return len;
  }
  int is_2xx = t->resp->status >= 200 && t->resp->status < 300;
  size_t cap = is_2xx ? DOCSTORE__S3_MAX_XML_BODY : DOCSTORE__S3_MAX_ERROR_BODY;
  if (t->resp->body.len + len > cap) {
    if (is_2xx) {
      t->too_big = "an XML reply";
      t->too_big_limit = cap;
      return 0;
    }
    t->error_cut = 1; /* the start of an error reply is enough */
    return 0;
  }
  /* Grow by doubling, but never past the limit (an exact reserve). */
  docstore__buf *b = &t->resp->body;
  if (b->len + len + 1 > b->cap) {
    size_t want = (b->len + len) * 2;
    if (want < 4096)
      want = 4096;
    if (want > cap)
      want = cap;
    if (docstore__sink_reserve(docstore__buf_sink, b, want - b->len) < 0) {
      t->sink_rc = DOCSTORE_ENOMEM;
      return 0;
    }
  }
  if (docstore__buf_append(&t->resp->body, buf, len) < 0) {
    t->sink_rc = DOCSTORE_ENOMEM;
    return 0;
  }
  return len;
}

/* ----------------------------------------------------- body digests */

static const char *shown_key(const docstore__s3_req *req, char *buf,
                             size_t cap);

static void base64_of(char *out, const unsigned char *md, unsigned int len) {
  EVP_EncodeBlock((unsigned char *)out, md, (int)len);
}

static void crc_base64(char *out, uint32_t crc) {
  unsigned char be[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                         (unsigned char)(crc >> 8), (unsigned char)crc};
  base64_of(out, be, 4);
}

int docstore__s3_body_policy_for(const docstore__s3 *s3,
                                 const docstore__s3_req *req,
                                 docstore__s3_body_policy *out) {
  const uint8_t *body = req->body ? req->body : (const uint8_t *)"";
  size_t len = req->body_len;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int sum = req->object_data ? s3->checksum : DOCSTORE_S3_CHECKSUM_NONE;
  int sign = !req->object_data || s3->sign_payload;

  memset(out, 0, sizeof(*out));
  if (sign) {
    /* One SHA-256 serves both the payload hash and a SHA-256 checksum. */
    if (EVP_Digest(body, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
        md_len != 32)
      return DOCSTORE_ECRYPTO;
    docstore__hex_encode(out->payload_hash, md, 32);
  } else {
    docstore__strlcpy(out->payload_hash, DOCSTORE__SIGV4_UNSIGNED_PAYLOAD,
                      sizeof(out->payload_hash));
  }
  switch (sum) {
  case DOCSTORE_S3_CHECKSUM_CRC32C:
    docstore__strlcpy(out->sum_header, "x-amz-checksum-crc32c",
                      sizeof(out->sum_header));
    crc_base64(out->sum_value, docstore__s3_crc32c(0, body, len));
    break;
  case DOCSTORE_S3_CHECKSUM_CRC32:
    docstore__strlcpy(out->sum_header, "x-amz-checksum-crc32",
                      sizeof(out->sum_header));
    crc_base64(out->sum_value, docstore__s3_crc32(0, body, len));
    break;
  case DOCSTORE_S3_CHECKSUM_SHA256:
    if (!sign && (EVP_Digest(body, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
                  md_len != 32))
      return DOCSTORE_ECRYPTO;
    docstore__strlcpy(out->sum_header, "x-amz-checksum-sha256",
                      sizeof(out->sum_header));
    base64_of(out->sum_value, md, 32);
    break;
  case DOCSTORE_S3_CHECKSUM_MD5:
    if (EVP_Digest(body, len, md, &md_len, EVP_md5(), NULL) != 1 ||
        md_len != 16)
      return DOCSTORE_ECRYPTO;
    docstore__strlcpy(out->sum_header, "Content-MD5", sizeof(out->sum_header));
    base64_of(out->sum_value, md, 16);
    break;
  default:
    break;
  }
  return 0;
}

/* After a 2xx reply to a request with a body: does it prove the body
 * arrived intact?  1 or 0 (resp->body_proven), or DOCSTORE_EINTEGRITY
 * with detail when the server echoes another checksum than the one sent
 * (it computed it over other bytes). */
static int body_proof(transfer *t, const docstore__s3_body_policy *pol,
                      docstore__err *err) {
  int flexible = strncmp(pol->sum_header, "x-amz-checksum-", 15) == 0;
  if (flexible && t->echo[0] && strcmp(t->echo, pol->sum_value) != 0) {
    char what[128];
    shown_key(t->req, what, sizeof(what));
    return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                             "S3 %s %s: the server computed %s: %.60s over "
                             "the body it received, but %s was sent: the "
                             "body was corrupted on the way",
                             t->req->method, what, pol->sum_header, t->echo,
                             pol->sum_value);
  }
  return strcmp(pol->payload_hash, DOCSTORE__SIGV4_UNSIGNED_PAYLOAD) != 0 ||
         strcmp(pol->sum_header, "Content-MD5") == 0 ||
         (flexible && t->echo[0]);
}

/* ------------------------------------------------------ one attempt */

typedef struct attempt_in {
  const char *path;                    /* encoded request path */
  const docstore__s3_body_policy *pol; /* payload hash and checksum */
  const char *if_match; /* If-Match (the caller's, or a resumed read's) */
  uint64_t resume;      /* bytes the sink already has */
} attempt_in;

/* Host, checksum, Content-Type, Range, If-Match, If-None-Match,
 * x-amz-checksum-mode, and the caller's. */
#define MAX_SIGNED_HEADERS (7 + DOCSTORE__S3_MAX_EXTRA_HEADERS)

static int add_header(struct curl_slist **list, const char *name,
                      const char *value) {
  char *line = docstore__sprintf("%s: %s", name, value);
  if (!line)
    return DOCSTORE_ENOMEM;
  struct curl_slist *n = curl_slist_append(*list, line);
  docstore_free(line);
  if (!n)
    return DOCSTORE_ENOMEM;
  *list = n;
  return 0;
}

static int setopts(transfer *t, const char *url, struct curl_slist *headers,
                   char *errbuf) {
  docstore__s3 *s3 = t->s3;
  const docstore__s3_req *req = t->req;
  CURL *h = t->h;
  CURLcode c = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if (c == CURLE_OK)                                                         \
      c = curl_easy_setopt(h, opt, val);                                       \
  } while (0)
  SET(CURLOPT_URL, url);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_HTTPHEADER, headers);
  SET(CURLOPT_ERRORBUFFER, errbuf);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_CONNECTTIMEOUT_MS, (long)s3->connect_timeout_ms);
  SET(CURLOPT_TIMEOUT_MS, (long)s3->request_timeout_ms);
  if (s3->stall_timeout_ms) {
    long secs = (long)((s3->stall_timeout_ms + 999) / 1000);
    SET(CURLOPT_LOW_SPEED_LIMIT, (long)s3->stall_min_bps);
    SET(CURLOPT_LOW_SPEED_TIME, secs);
  }
  if (s3->https) {
    SET(CURLOPT_SSL_VERIFYPEER, s3->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, s3->insecure ? 0L : 2L);
    if (s3->ca_bundle)
      SET(CURLOPT_CAINFO, s3->ca_bundle);
  }
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, t);
  SET(CURLOPT_WRITEFUNCTION, on_write);
  SET(CURLOPT_WRITEDATA, t);
  if (strcmp(req->method, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (req->send_body) {
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_READFUNCTION, on_read);
    SET(CURLOPT_READDATA, t);
    SET(CURLOPT_SEEKFUNCTION, on_seek);
    SET(CURLOPT_SEEKDATA, t);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    if (strcmp(req->method, "PUT") != 0)
      SET(CURLOPT_CUSTOMREQUEST, req->method);
  } else if (strcmp(req->method, "GET") == 0) {
    SET(CURLOPT_HTTPGET, 1L);
  } else {
    SET(CURLOPT_CUSTOMREQUEST, req->method);
  }
#undef SET
  return c == CURLE_OK ? 0 : DOCSTORE_ENOMEM;
}

/* Runs one attempt.  Returns a negative code only for local failures
 * (memory, signing); the transfer's outcome is in *curl_rc / resp. */
static int attempt(transfer *t, const attempt_in *in, CURLcode *curl_rc,
                   char *errbuf) {
  docstore__s3 *s3 = t->s3;
  const docstore__s3_req *req = t->req;
  docstore__sigv4_header hdrs[MAX_SIGNED_HEADERS];
  size_t nh = 0;
  char range[64];
  docstore__sigv4_result sig;
  struct curl_slist *list = NULL;
  char *url = NULL;
  int rc = 0;
  memset(&sig, 0, sizeof(sig));

  hdrs[nh++] = (docstore__sigv4_header){"Host", s3->host_header};
  if (in->pol->sum_header[0])
    hdrs[nh++] =
        (docstore__sigv4_header){in->pol->sum_header, in->pol->sum_value};
  if (req->content_type)
    hdrs[nh++] = (docstore__sigv4_header){"Content-Type", req->content_type};
  if (req->has_range || in->resume) {
    uint64_t start = (req->has_range ? req->range_start : 0) + in->resume;
    if (req->has_range && req->range_len != UINT64_MAX)
      snprintf(range, sizeof(range), "bytes=%llu-%llu",
               (unsigned long long)start,
               (unsigned long long)(req->range_start + req->range_len - 1));
    else
      snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)start);
    hdrs[nh++] = (docstore__sigv4_header){"Range", range};
  }
  if (in->if_match)
    hdrs[nh++] = (docstore__sigv4_header){"If-Match", in->if_match};
  if (req->if_none_match)
    hdrs[nh++] = (docstore__sigv4_header){"If-None-Match", "*"};
  /* Ask for the object's x-amz-checksum-* (AWS sends them only then). */
  if (req->verify)
    hdrs[nh++] = (docstore__sigv4_header){"x-amz-checksum-mode", "ENABLED"};
  for (size_t i = 0; i < req->extra_count; i++)
    hdrs[nh++] = req->extra_headers[i];

  docstore__sigv4_request sreq;
  memset(&sreq, 0, sizeof(sreq));
  sreq.method = req->method;
  sreq.path = in->path;
  sreq.query = req->query;
  sreq.headers = hdrs;
  sreq.header_count = nh;
  sreq.payload_hash = in->pol->payload_hash;
  sreq.timestamp = time(NULL);
  docstore__sigv4_credentials cred = {s3->access_key, s3->secret_key,
                                      s3->session_token};
  docstore__sigv4_options sopts;
  docstore__sigv4_options_init_s3(&sopts, DOCSTORE__SIGV4_FORM_HEADER);
  DOCSTORE__GUARD_GOTO(rc,
                       docstore__sigv4_sign(&sreq, &cred, s3->region, "s3",
                                            &sopts, s3->keys, &sig),
                       done);

  for (size_t i = 0; i < nh; i++)
    DOCSTORE__GUARD_GOTO(rc, add_header(&list, hdrs[i].name, hdrs[i].value),
                         done);
  for (size_t i = 0; i < sig.header_count; i++)
    DOCSTORE__GUARD_GOTO(
        rc, add_header(&list, sig.headers[i].name, sig.headers[i].value), done);
  DOCSTORE__GUARD_GOTO(
      rc,
      add_header(&list, "User-Agent", "libdocstore/" DOCSTORE_VERSION_STRING),
      done);
  /* Small bodies go at once; large ones wait for "100 Continue" so that a
   * refused request does not send megabytes for nothing. */
  if (req->send_body && req->body_len < 1024 * 1024) {
    struct curl_slist *n = curl_slist_append(list, "Expect:");
    if (!n) {
      rc = DOCSTORE_ENOMEM;
      goto done;
    }
    list = n;
  }

  url = docstore__sprintf("%s%s%s%s", s3->base_url, in->path,
                          req->query && *req->query ? "?" : "",
                          req->query ? req->query : "");
  if (!url) {
    rc = DOCSTORE_ENOMEM;
    goto done;
  }

  curl_easy_reset(t->h);
  errbuf[0] = '\0';
  t->up = req->body;
  t->up_len = req->body_len;
  t->up_pos = 0;
  t->started = 0;
  t->to_sink = 0;
  t->skip = 0;
  t->sink_rc = 0;
  t->too_big = NULL;
  t->too_big_len = 0;
  t->error_cut = 0;
  t->integrity[0] = '\0';
  t->want_etag = in->resume ? in->if_match : NULL;
  t->echo[0] = '\0';
  reset_reply(t->resp);
  DOCSTORE__GUARD_GOTO(rc, setopts(t, url, list, errbuf), done);

  atomic_fetch_add(&s3->requests, 1);
  *curl_rc = curl_easy_perform(t->h);
  if (!t->started) {
    long status = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    t->resp->status = status;
  }
  long connects = 0;
  if (curl_easy_getinfo(t->h, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
      connects > 0)
    atomic_fetch_add(&s3->connects, (uint_fast64_t)connects);
  /* Do not leave pointers to this attempt's stack in the handle. */
  curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(t->h, CURLOPT_ERRORBUFFER, NULL);

done:
  curl_slist_free_all(list);
  docstore_free(url);
  docstore__sigv4_result_free(&sig);
  return rc;
}

/* ------------------------------------------------- failure reporting */

int docstore__s3_timeout_kind(uint64_t pretransfer_us, uint64_t total_us,
                              unsigned int request_timeout_ms,
                              unsigned int stall_timeout_ms) {
  /* No request was sent: the connection (name, TCP, TLS) never came up. */
  if (pretransfer_us == 0)
    return DOCSTORE__S3_TIMEOUT_CONNECT;
  /* The whole-request clock ran out (libcurl stops within a few ms of
   * it); the stall detector fires earlier, or alone. */
  if (request_timeout_ms &&
      total_us + 50 * 1000 >= (uint64_t)request_timeout_ms * 1000)
    return DOCSTORE__S3_TIMEOUT_REQUEST;
  return stall_timeout_ms ? DOCSTORE__S3_TIMEOUT_STALL
                          : DOCSTORE__S3_TIMEOUT_REQUEST;
}

static const char *shown_key(const docstore__s3_req *req, char *buf,
                             size_t cap) {
  if (!req->key) {
    snprintf(buf, cap, "(bucket)");
    return buf;
  }
  size_t n = strlen(req->key);
  if (n + 3 > cap)
    snprintf(buf, cap, "'%.*s...'", (int)(cap - 6), req->key);
  else
    snprintf(buf, cap, "'%s'", req->key);
  return buf;
}

static int curl_failure(transfer *t, CURLcode rc, const char *errbuf,
                        unsigned int attempts, docstore__err *err) {
  docstore__s3 *s3 = t->s3;
  char what[128];
  shown_key(t->req, what, sizeof(what));
  const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  char tries[48] = "";
  if (attempts > 1)
    snprintf(tries, sizeof(tries), " (%u attempts)", attempts);

  switch (rc) {
  case CURLE_COULDNT_CONNECT: {
    long os_errno = 0;
    curl_easy_getinfo(t->h, CURLINFO_OS_ERRNO, &os_errno);
    return docstore__err_set(
        err, DOCSTORE_ECONNECT, "cannot connect to %s: %s%s", s3->endpoint,
        os_errno ? strerror((int)os_errno) : detail, tries);
  }
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return docstore__err_set(err, DOCSTORE_ECONNECT,
                             "cannot connect to %s: %s (check "
                             "S3_ENDPOINT_URL and the network)",
                             s3->endpoint, detail);
  case CURLE_OPERATION_TIMEDOUT: {
    curl_off_t pretransfer = 0, total = 0;
    curl_easy_getinfo(t->h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
    curl_easy_getinfo(t->h, CURLINFO_TOTAL_TIME_T, &total);
    switch (docstore__s3_timeout_kind((uint64_t)pretransfer, (uint64_t)total,
                                      s3->request_timeout_ms,
                                      s3->stall_timeout_ms)) {
    case DOCSTORE__S3_TIMEOUT_CONNECT:
      return docstore__err_set(err, DOCSTORE_ETIMEOUT,
                               "cannot connect to %s: timed out after %u ms",
                               s3->endpoint, s3->connect_timeout_ms);
    case DOCSTORE__S3_TIMEOUT_STALL:
      return docstore__err_set(
          err, DOCSTORE_ETIMEOUT,
          "S3 %s %s stalled: less than %u bytes/s for %u ms from %s (%s)",
          t->req->method, what, s3->stall_min_bps, s3->stall_timeout_ms,
          s3->endpoint, detail);
    default:
      return docstore__err_set(err, DOCSTORE_ETIMEOUT,
                               "S3 %s %s to %s timed out after %llu ms "
                               "(S3_REQUEST_TIMEOUT_MS=%u): %s",
                               t->req->method, what, s3->endpoint,
                               (unsigned long long)(total / 1000),
                               s3->request_timeout_ms, detail);
    }
  }
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_CRL_BADFILE:
    return docstore__err_set(err, DOCSTORE_ECONNECT,
                             "TLS connection to %s failed: %s (if the server "
                             "uses a private CA, set S3_CA_BUNDLE to its "
                             "certificate)",
                             s3->endpoint, detail);
  case CURLE_OUT_OF_MEMORY:
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory in libcurl");
  default:
    return docstore__err_set(err, DOCSTORE_ECONNECT,
                             "S3 %s %s: connection to %s failed: %s%s",
                             t->req->method, what, s3->endpoint, detail, tries);
  }
}

static int reply_failure(transfer *t, const docstore__s3_error *e,
                         docstore__err *err) {
  docstore__s3_context ctx = {t->req->method, t->s3->bucket, t->req->key,
                              t->s3->region, t->s3->endpoint};
  return docstore__s3_map_error(err, &ctx, t->resp->status, e,
                                t->resp->bucket_region, t->resp->request_id);
}

/* A failed reply to a conditional request: 412 to If-Match is
 * DOCSTORE_ECHANGED, 412 to If-None-Match DOCSTORE_EEXISTS, 501 to
 * If-None-Match DOCSTORE_EUNSUPPORTED (resp->s3_code "NotImplemented":
 * the caller falls back).  Otherwise rc (reply_failure's) is kept. */
static int condition_failure(transfer *t, const char *if_match, int rc,
                             docstore__err *err) {
  const docstore__s3_req *req = t->req;
  long st = t->resp->status;
  char what[128];
  shown_key(req, what, sizeof(what));
  if (st == 412 && if_match)
    return docstore__err_set(err, DOCSTORE_ECHANGED,
                             "S3 %s %s: the object changed while it was read "
                             "(it no longer has the ETag %.80s; HTTP 412)",
                             req->method, what, if_match);
  if (st == 412 && req->if_none_match)
    return docstore__err_set(err, DOCSTORE_EEXISTS,
                             "S3 %s %s: the object already exists (a "
                             "no-clobber write, If-None-Match: *; HTTP 412)",
                             req->method, what);
  if (st == 501 && req->if_none_match) {
    if (!t->resp->s3_code[0])
      docstore__strlcpy(t->resp->s3_code, "NotImplemented",
                        sizeof(t->resp->s3_code));
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "S3 %s %s: the server at %s does not support "
                             "conditional writes (If-None-Match: *; HTTP 501 "
                             "%s): set S3_CONDITIONAL_WRITES=emulate or auto",
                             req->method, what, t->s3->endpoint,
                             t->resp->s3_code);
  }
  return rc;
}

/* ------------------------------------------------------ the request */

void docstore__s3_resp_free(docstore__s3_resp *resp) {
  if (resp)
    docstore__buf_free(&resp->body);
}

static void count_retry(docstore__s3 *s3, int op) {
  if (op < 0 || op >= DOCSTORE_OP_COUNT_)
    return;
  atomic_fetch_add(&s3->retries[op], 1);
  if (s3->owner)
    docstore__metrics_add_retries(docstore__provider_metrics(s3->owner), op, 1);
}

int docstore__s3_request(docstore__s3 *s3, const docstore__s3_req *req,
                         docstore__s3_resp *resp, docstore__err *err) {
  char *path = NULL;
  docstore__s3_body_policy pol;
  char resume_etag[sizeof(resp->etag)];
  char errbuf[CURL_ERROR_SIZE];
  docstore__s3_error e;
  transfer t;
  int rc;

  memset(resp, 0, sizeof(*resp));
  memset(&t, 0, sizeof(t));
  resume_etag[0] = '\0';
  t.s3 = s3;
  t.req = req;
  t.resp = resp;
  t.limit = req->has_range && req->range_len != UINT64_MAX ? req->range_len
                                                           : UINT64_MAX;
  t.max_body = s3->tuning.max_object ? s3->tuning.max_object
                                     : (uint64_t)DOCSTORE__OBJECT_MAX;

  if (req->extra_count > DOCSTORE__S3_MAX_EXTRA_HEADERS ||
      (req->extra_count && !req->extra_headers)) {
    rc = docstore__err_set(err, DOCSTORE_EINVAL,
                           "S3 %s: %zu extra headers (at most %u)", req->method,
                           req->extra_count, DOCSTORE__S3_MAX_EXTRA_HEADERS);
    goto done;
  }
  DOCSTORE__GUARD_GOTO(rc, docstore__s3_path(s3, req->key, &path), done);
  if (req->send_body) {
    if (docstore__s3_body_policy_for(s3, req, &pol) < 0) {
      rc = docstore__err_set(err, DOCSTORE_ECRYPTO,
                             "cannot hash the request body");
      goto done;
    }
    if (strncmp(pol.sum_header, "x-amz-checksum-", 15) == 0)
      docstore__strlcpy(resp->sent_checksum, pol.sum_value,
                        sizeof(resp->sent_checksum));
  } else {
    memset(&pol, 0, sizeof(pol));
    docstore__strlcpy(pol.payload_hash, DOCSTORE__SIGV4_EMPTY_SHA256,
                      sizeof(pol.payload_hash));
  }
  t.sum_header = pol.sum_header;

  t.h = pool_take(&s3->pool);
  if (!t.h) {
    rc = docstore__err_set(err, DOCSTORE_ENOMEM, "cannot create a curl handle");
    goto done;
  }

  uint64_t t0 = docstore__now_us();
  for (unsigned int n = 1;; n++) {
    CURLcode crc = CURLE_OK;
    attempt_in in = {path, &pol,
                     req->if_match     ? req->if_match
                     : resp->delivered ? resume_etag
                                       : NULL,
                     resp->delivered};
    resp->attempts = n;
    rc = attempt(&t, &in, &crc, errbuf);
    if (rc < 0) {
      rc = docstore__err_set(err, rc, "S3 %s: cannot build the request: %s",
                             req->method, docstore_strerror(rc));
      goto done;
    }
    if (t.sink_rc) {
      rc = t.sink_rc;
      if (rc == DOCSTORE_ENOMEM)
        docstore__err_set(err, rc, "out of memory reading an S3 reply");
      else if (rc == DOCSTORE_ECANCELED)
        docstore__err_set(err, rc, "S3 %s stopped by the callback",
                          req->method);
      else
        docstore__err_set(err, rc, "S3 %s: the receiver failed: %s",
                          req->method, docstore_strerror(rc));
      goto done;
    }
    if (t.too_big) {
      char what[128];
      shown_key(req, what, sizeof(what));
      if (t.too_big_len)
        rc = docstore__err_set(
            err, DOCSTORE_ETOOBIG,
            "S3 %s %s: the reply announces %llu bytes, over the limit of "
            "%llu bytes for %s (refused before reading it)",
            req->method, what, (unsigned long long)t.too_big_len,
            (unsigned long long)t.too_big_limit, t.too_big);
      else
        rc = docstore__err_set(err, DOCSTORE_ETOOBIG,
                               "S3 %s %s: the reply goes on past the limit of "
                               "%llu bytes for %s (stopped reading)",
                               req->method, what,
                               (unsigned long long)t.too_big_limit, t.too_big);
      goto done;
    }
    if (t.integrity[0]) {
      char what[128];
      shown_key(req, what, sizeof(what));
      rc = docstore__err_set(err, DOCSTORE_EINTEGRITY,
                             "S3 %s %s: %s: refused as corrupt", req->method,
                             what, t.integrity);
      goto done;
    }
    if (t.error_cut && crc == CURLE_WRITE_ERROR)
      crc = CURLE_OK; /* the status and the start of the body tell enough */
    if (resp->delivered && !resume_etag[0])
      docstore__strlcpy(resume_etag, resp->etag, sizeof(resume_etag));

    int retry;
    const char *why;
    char why_buf[96];
    int have_error = 0;
    if (crc == CURLE_OK) {
      long st = resp->status;
      int is_2xx = st >= 200 && st < 300;
      if (is_2xx && !(req->error_in_200 &&
                      docstore__s3_xml_is_error((const char *)resp->body.data,
                                                resp->body.len))) {
        rc = 0;
        if (req->send_body) {
          rc = body_proof(&t, &pol, err);
          if (rc < 0)
            goto done;
          resp->body_proven = rc;
          rc = 0;
        }
        break;
      }
      have_error = docstore__s3_xml_parse_error((const char *)resp->body.data,
                                                resp->body.len, &e) == 0;
      if (!have_error)
        memset(&e, 0, sizeof(e));
      docstore__strlcpy(resp->s3_code, e.code, sizeof(resp->s3_code));
      retry = docstore__s3_retryable_reply(st, e.code);
      /* AWS: another conditional write of the key was in flight. */
      if (req->if_none_match && st == 409 &&
          strcmp(e.code, "ConditionalRequestConflict") == 0)
        retry = 1;
      snprintf(why_buf, sizeof(why_buf), "HTTP %ld %s", st, e.code);
      why = why_buf;
    } else {
      retry = docstore__s3_retryable_curl(crc);
      why = errbuf[0] ? errbuf : curl_easy_strerror(crc);
    }
    /* A read that already fed the sink resumes only when it can insist on
     * the same object (If-Match on its ETag). */
    if (retry && resp->delivered && !resume_etag[0])
      retry = 0;
    if (!retry || n >= s3->max_attempts) {
      if (crc != CURLE_OK)
        rc = curl_failure(&t, crc, errbuf, n, err);
      else
        rc = reply_failure(&t, have_error ? &e : NULL, err);
      if (crc == CURLE_OK)
        rc = condition_failure(&t, in.if_match, rc, err);
      docstore__log(DOCSTORE_LOG_DEBUG, "S3 %s %s: failed after %u attempt(s)",
                    req->method, s3->endpoint, n);
      goto done;
    }
    unsigned int delay = docstore__s3_backoff_ms(
        n, s3->retry_base_ms, s3->retry_max_ms, docstore__s3_random01());
    docstore__log(DOCSTORE_LOG_INFO, "S3 %s to %s: %s; retry %u of %u in %u ms",
                  req->method, s3->endpoint, why, n, s3->max_attempts - 1,
                  delay);
    count_retry(s3, req->op);
    docstore__s3_sleep_ms(delay);
  }
  docstore__log(DOCSTORE_LOG_DEBUG,
                "S3 %s -> HTTP %ld in %llu us (%u attempt%s)", req->method,
                resp->status, (unsigned long long)(docstore__now_us() - t0),
                resp->attempts, resp->attempts == 1 ? "" : "s");
  if (req->verify) {
    char what[128];
    shown_key(req, what, sizeof(what));
    /* An empty body never reached on_write(): check it all the same (an
     * object cut to nothing under its real ETag). */
    if (!t.verify.active && docstore__s3_verify_begin(&t.verify, resp) < 0)
      rc =
          docstore__err_set(err, DOCSTORE_ECRYPTO,
                            "S3 GET %s: cannot start the body's digests", what);
    else
      rc = docstore__s3_verify_end(&t.verify, what, err);
  }

done:
  docstore__s3_verify_free(&t.verify);
  if (t.h)
    pool_give(&s3->pool, t.h);
  docstore_free(path);
  return rc;
}
