/*
 * libdocstore - S3 provider: options, endpoint and addressing, the provider
 * operations (uploads are in s3_upload.c), presigned URLs and the
 * connectivity check.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Works with AWS S3 (virtual-hosted addressing), MinIO, Ceph RGW and
 * OpenStack Swift's s3api (path-style).  Requests go through
 * docstore__s3_request() (s3_http.c), which signs, retries and maps errors.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provider/provider_internal.h"
#include "s3/s3_internal.h"
#include "util/url.h"
#include "s3/s3_settings.h"

/* ------------------------------------------------------------ options */

/* Size of a version 1 table: every field before multipart_concurrency. */
size_t docstore__s3_options_size(unsigned int version) {
  /* Version 1 ends before multipart_concurrency, version 2 before checksum. */
  if (version == 1)
    return offsetof(docstore_s3_options, multipart_concurrency);
  if (version == 2)
    return offsetof(docstore_s3_options, checksum);
  return sizeof(docstore_s3_options);
}

int docstore_s3_options_init(docstore_s3_options *opts, unsigned int version) {
  if (!opts || version < 1 || version > DOCSTORE_S3_OPTIONS_VERSION)
    return DOCSTORE_EINVAL;
  docstore_s3_options init = DOCSTORE_S3_OPTIONS_INIT;
  init.version = version;
  /* An older caller's struct ends before the appended fields. */
  memcpy(opts, &init, docstore__s3_options_size(version));
  return 0;
}

/* A bucket name usable as a DNS label prefix (virtual-hosted style). */
static int dns_bucket(const char *b, int https) {
  size_t n = strlen(b);
  if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-' || b[0] == '.' ||
      b[n - 1] == '.')
    return 0;
  for (; *b; b++) {
    if (*b == '.' && https)
      return 0; /* a dotted name breaks the *.s3 wildcard certificate */
    if (!(islower((unsigned char)*b) || isdigit((unsigned char)*b) ||
          *b == '-' || *b == '.'))
      return 0;
  }
  return 1;
}

/* Parses S3_ENDPOINT_URL (or the AWS default) into s3's endpoint fields. */
static int setup_endpoint(docstore__s3 *s3, const char *url, int addressing,
                          docstore__err *err) {
  char *aws_url = NULL;
  char host[256];
  unsigned long port = 0;
  int rc = 0;

  if (!url || !*url) {
    aws_url = docstore__sprintf("https://s3.%s.amazonaws.com", s3->region);
    if (!aws_url)
      return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    url = aws_url;
  }
  /* A URL with a user name may hold a password: messages do not show it. */
  const char *shown =
      strchr(url, '@') ? "(not shown: it has a user name)" : url;
  docstore__url u;
  docstore__err uerr;
  docstore__err_clear(&uerr);
  if (docstore__url_parse(&u, url, DOCSTORE__URL_ORIGIN_ONLY, &uerr) < 0) {
    rc = docstore__err_set(err, DOCSTORE_ECONFIG,
                           "S3_ENDPOINT_URL '%.200s': %s (expected e.g. "
                           "http://minio:9000)",
                           shown, uerr.msg);
    goto done;
  }
  if (docstore__cursor_eq_cstr_nocase(u.scheme, "https"))
    s3->https = 1;
  else if (docstore__cursor_eq_cstr_nocase(u.scheme, "http"))
    s3->https = 0;
  else {
    rc = docstore__err_set(err, DOCSTORE_ECONFIG,
                           "S3_ENDPOINT_URL '%.200s' must start with http:// "
                           "or https://",
                           shown);
    goto done;
  }
  /* The host in lowercase (DNS names are case-insensitive; the Host header
   * is signed), an IPv6 literal in its brackets.  util's rule keeps it to
   * 253 bytes. */
  int bracketed = u.host_is_ipv6;
  size_t hl = 0;
  if (bracketed)
    host[hl++] = '[';
  for (size_t i = 0; i < u.host.len && hl < sizeof(host) - 2; i++)
    host[hl++] = (char)tolower(u.host.ptr[i]);
  if (bracketed)
    host[hl++] = ']';
  host[hl] = '\0';
  port = u.port;

  size_t n = strlen(host);
  const char *aws_suffix = ".amazonaws.com";
  int aws = n > strlen(aws_suffix) &&
            strcmp(host + n - strlen(aws_suffix), aws_suffix) == 0;
  const char *scheme = s3->https ? "https" : "http";
  unsigned long default_port = docstore__url_default_port(&u);
  char portpart[24] = "";
  char hostport[24] = "";
  if (port)
    snprintf(portpart, sizeof(portpart), ":%lu", port);
  if (port && port != default_port)
    snprintf(hostport, sizeof(hostport), ":%lu", port);

  if (addressing == DOCSTORE_S3_ADDRESSING_AUTO)
    s3->virtual_hosted = aws && dns_bucket(s3->bucket, s3->https);
  else if (addressing == DOCSTORE_S3_ADDRESSING_VIRTUAL) {
    if (!dns_bucket(s3->bucket, s3->https) || bracketed) {
      rc = docstore__err_set(err, DOCSTORE_ECONFIG,
                             "bucket '%s' cannot be addressed virtual-hosted "
                             "style (not a DNS name, or an IP endpoint): use "
                             "path-style addressing",
                             s3->bucket);
      goto done;
    }
    s3->virtual_hosted = 1;
  } else if (addressing == DOCSTORE_S3_ADDRESSING_PATH)
    s3->virtual_hosted = 0;
  else {
    rc = docstore__err_set(err, DOCSTORE_EINVAL,
                           "unknown S3 addressing style %d", addressing);
    goto done;
  }

  const char *vb = s3->virtual_hosted ? s3->bucket : "";
  const char *dot = s3->virtual_hosted ? "." : "";
  s3->endpoint = docstore__sprintf("%s://%s%s", scheme, host, portpart);
  s3->base_url =
      docstore__sprintf("%s://%s%s%s%s", scheme, vb, dot, host, portpart);
  s3->host_header = docstore__sprintf("%s%s%s%s", vb, dot, host, hostport);
  if (!s3->endpoint || !s3->base_url || !s3->host_header)
    rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");

done:
  docstore_free(aws_url);
  return rc;
}

static int dup_opt(char **dst, const char *src) {
  if (!src)
    return 0;
  *dst = docstore__strdup(src);
  return *dst ? 0 : DOCSTORE_ENOMEM;
}

void docstore__s3_free(docstore__s3 *s3) {
  if (!s3)
    return;
  docstore__s3_pool_destroy(&s3->pool);
  docstore__sigv4_key_cache_free(s3->keys);
  docstore_free(s3->bucket);
  docstore_free(s3->region);
  docstore_free(s3->access_key);
  docstore_free(s3->secret_key); /* docstore_free wipes */
  docstore_free(s3->session_token);
  docstore_free(s3->ca_bundle);
  docstore_free(s3->endpoint);
  docstore_free(s3->base_url);
  docstore_free(s3->host_header);
  docstore_free(s3);
}

#define DEFAULT(v, d) ((v) ? (v) : (d))

int docstore__s3_new(docstore__s3 **out, const docstore_s3_options *opts,
                     const docstore__s3_tuning *tuning, docstore__err *err) {
  docstore__s3 *s3 = NULL;
  int rc;
  *out = NULL;
  if (!opts || opts->version < 1 || opts->version > DOCSTORE_S3_OPTIONS_VERSION)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "S3 options missing or of an unknown version");
  /* Fields appended by later versions are not read from an older table:
   * they stay 0 (their defaults) in this full copy. */
  docstore_s3_options full;
  memset(&full, 0, sizeof(full));
  memcpy(&full, opts, docstore__s3_options_size(opts->version));
  opts = &full;
  unsigned int concurrency = opts->multipart_concurrency;
  /* Every field by the schema's rules (s3_settings.c). */
  DOCSTORE__GUARD(docstore__s3_options_check(opts, tuning, err));
  const char *region = opts->region && *opts->region
                           ? opts->region
                           : DOCSTORE__S3_DEFAULT_REGION;

  DOCSTORE__GUARD(docstore__s3_global_init());
  s3 = docstore__alloc(sizeof(*s3));
  if (!s3)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  if (docstore__s3_pool_init(&s3->pool) < 0) {
    docstore_free(s3);
    return docstore__err_set(err, DOCSTORE_ENOMEM,
                             "cannot set up the connection pool");
  }
  if (dup_opt(&s3->bucket, opts->bucket) < 0 ||
      dup_opt(&s3->region, region) < 0 ||
      dup_opt(&s3->access_key, opts->access_key) < 0 ||
      dup_opt(&s3->secret_key, opts->secret_key) < 0 ||
      (opts->session_token && *opts->session_token &&
       dup_opt(&s3->session_token, opts->session_token) < 0) ||
      (opts->ca_bundle && *opts->ca_bundle &&
       dup_opt(&s3->ca_bundle, opts->ca_bundle) < 0) ||
      docstore__sigv4_key_cache_new(&s3->keys) < 0) {
    rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    goto fail;
  }
  s3->insecure = opts->insecure_skip_verify != 0;
  s3->multipart_threshold =
      DEFAULT(opts->multipart_threshold, DOCSTORE__S3_DEFAULT_THRESHOLD);
  s3->part_size =
      DEFAULT(opts->multipart_part_size, DOCSTORE__S3_DEFAULT_PART_SIZE);
  s3->concurrency = DEFAULT(concurrency, DOCSTORE__S3_DEFAULT_CONCURRENCY);
  s3->max_attempts = DEFAULT(opts->max_attempts, DOCSTORE__S3_DEFAULT_ATTEMPTS);
  s3->retry_base_ms =
      DEFAULT(opts->retry_base_ms, DOCSTORE__S3_DEFAULT_RETRY_BASE_MS);
  s3->retry_max_ms =
      DEFAULT(opts->retry_max_ms, DOCSTORE__S3_DEFAULT_RETRY_MAX_MS);
  if (s3->retry_max_ms < s3->retry_base_ms)
    s3->retry_max_ms = s3->retry_base_ms;
  s3->connect_timeout_ms =
      DEFAULT(opts->connect_timeout_ms, DOCSTORE__S3_DEFAULT_CONNECT_MS);
  s3->request_timeout_ms = opts->request_timeout_ms;
  s3->stall_timeout_ms =
      DEFAULT(opts->stall_timeout_ms, DOCSTORE__S3_DEFAULT_STALL_MS);
  s3->stall_min_bps =
      DEFAULT(opts->stall_min_bps, DOCSTORE__S3_DEFAULT_STALL_BPS);
  if (tuning)
    s3->tuning = *tuning;
  s3->download_concurrency =
      DEFAULT(opts->download_concurrency, DOCSTORE__S3_DEFAULT_CONCURRENCY);
  s3->download_part_size =
      DEFAULT(opts->download_part_size, DOCSTORE__S3_DEFAULT_PART_SIZE);
  s3->stale_upload_seconds =
      DEFAULT(opts->stale_upload_seconds, DOCSTORE__S3_DEFAULT_STALE_S);
  s3->conditional = opts->conditional_writes;
  atomic_init(&s3->conditional_seen, 0);
  for (int i = 0; i < DOCSTORE_OP_COUNT_; i++)
    atomic_init(&s3->retries[i], 0);
  atomic_init(&s3->requests, 0);
  atomic_init(&s3->connects, 0);

  DOCSTORE__GUARD_GOTO(
      rc, setup_endpoint(s3, opts->endpoint_url, opts->addressing, err), fail);
  /* Integrity policy (docs/SECURITY.md, "Integrity in transit"): over
   * https TLS guards the bytes and a cheap checksum catches corruption;
   * over http the signed payload hash is what the server checks. */
  s3->sign_payload =
      opts->payload_signing == DOCSTORE_S3_PAYLOAD_SIGNED ||
      (opts->payload_signing == DOCSTORE_S3_PAYLOAD_AUTO && !s3->https);
  s3->checksum = opts->checksum != DOCSTORE_S3_CHECKSUM_AUTO ? opts->checksum
                 : s3->https ? DOCSTORE_S3_CHECKSUM_CRC32C
                             : DOCSTORE_S3_CHECKSUM_NONE;
  if (s3->insecure && s3->https)
    docstore__log(DOCSTORE_LOG_WARN,
                  "S3: TLS certificate verification is DISABLED for %s "
                  "(S3_VERIFY_TLS=false): for tests only, never in "
                  "production",
                  s3->endpoint);
  *out = s3;
  return 0;

fail:
  docstore__s3_free(s3);
  return rc;
}

uint64_t docstore__s3_retry_count(docstore__s3 *s3, int op) {
  if (!s3 || op < 0 || op >= DOCSTORE_OP_COUNT_)
    return 0;
  return atomic_load(&s3->retries[op]);
}

/* ---------------------------------------------------------- helpers */

static docstore__err *E(docstore_errinfo *e) { return (docstore__err *)e; }

/* Encodes a query value (RFC 3986); *out library-owned. */
static int query_encode(const char *v, char **out) {
  return docstore__sigv4_uri_encode(v, strlen(v), 0, out);
}

/* ------------------------------------------------------------- ops */

static int s3_get_range(void *payload, const char *key, uint64_t offset,
                        uint64_t length, docstore_sink_cb sink,
                        void *sink_payload, docstore_errinfo *err);

static int s3_get(void *payload, const char *key, docstore_sink_cb sink,
                  void *sink_payload, docstore_errinfo *err) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_GET;
  req.method = "GET";
  req.key = key;
  req.sink = sink;
  req.sink_payload = sink_payload;
  req.verify = 1;
  int rc = docstore__s3_request(payload, &req, &resp, E(err));
  docstore__s3_resp_free(&resp);
  return rc;
}

static _Thread_local char head_etag[192];

static int s3_head(void *payload, const char *key, docstore_object_info *info,
                   docstore_errinfo *err) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_HEAD;
  req.method = "HEAD";
  req.key = key;
  int rc = docstore__s3_request(payload, &req, &resp, E(err));
  if (rc == 0 && info) {
    info->size = resp.content_length;
    info->mtime = resp.last_modified;
    docstore__strlcpy(head_etag, resp.etag, sizeof(head_etag));
    info->etag = head_etag[0] ? head_etag : NULL;
  }
  docstore__s3_resp_free(&resp);
  return rc;
}

static int s3_get_range(void *payload, const char *key, uint64_t offset,
                        uint64_t length, docstore_sink_cb sink,
                        void *sink_payload, docstore_errinfo *err) {
  if (length == 0) {
    docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0,
                                 NULL};
    return s3_head(payload, key, &info, err);
  }
  if (length != UINT64_MAX && offset > UINT64_MAX - length)
    return docstore__err_set(E(err), DOCSTORE_EINVAL,
                             "range offset + length overflows");
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_GET;
  req.method = "GET";
  req.key = key;
  req.sink = sink;
  req.sink_payload = sink_payload;
  req.has_range = 1;
  req.range_start = offset;
  req.range_len = length;
  int rc = docstore__s3_request(payload, &req, &resp, E(err));
  docstore__s3_resp_free(&resp);
  return rc;
}

static int s3_del(void *payload, const char *key, docstore_errinfo *err) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_DELETE;
  req.method = "DELETE";
  req.key = key;
  int rc = docstore__s3_request(payload, &req, &resp, E(err));
  docstore__s3_resp_free(&resp);
  if (rc == DOCSTORE_ENOTFOUND) { /* idempotent */
    docstore__err_clear(E(err));
    rc = 0;
  }
  return rc;
}

/* A listing must move on: ListObjectsV2 returns keys in UTF-8 binary
 * order, so each key is after the one before it (across pages too), a
 * truncated page has keys, and the next token is not the one just used.
 * A server that breaks this would make the listing loop for ever.
 * last: the previous key (NULL for none); used: the raw token of this
 * page's request (NULL for the first).  0 or DOCSTORE_EFORMAT. */
static int list_progress(const docstore__s3 *s3,
                         const docstore__s3_list_page *page, const char *last,
                         const char *used, docstore__err *err) {
  if (page->truncated && page->count == 0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "S3 ListObjectsV2 on bucket '%s': an empty page "
                             "that says more follow (the listing makes no "
                             "progress)",
                             s3->bucket);
  if (page->truncated && used && page->next_token &&
      strcmp(page->next_token, used) == 0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "S3 ListObjectsV2 on bucket '%s': the server "
                             "sent the same continuation token again (the "
                             "listing makes no progress)",
                             s3->bucket);
  for (size_t i = 0; i < page->count; i++) {
    const char *k = page->entries[i].key;
    const char *before = i ? page->entries[i - 1].key : last;
    if (before && strcmp(k, before) <= 0)
      return docstore__err_set(err, DOCSTORE_EFORMAT,
                               "S3 ListObjectsV2 on bucket '%s': key '%.200s' "
                               "comes again or out of order (the listing "
                               "makes no progress)",
                               s3->bucket, k);
  }
  return 0;
}

static int s3_list(void *payload, const char *prefix, docstore_list_cb cb,
                   void *list_payload, docstore_errinfo *err) {
  docstore__s3 *s3 = payload;
  char *enc_prefix = NULL, *token = NULL, *query = NULL;
  char *raw_token = NULL, *last_key = NULL;
  docstore__s3_list_page page;
  int rc;
  memset(&page, 0, sizeof(page));

  DOCSTORE__GUARD_GOTO(rc, query_encode(prefix ? prefix : "", &enc_prefix),
                       oom);
  for (;;) {
    char maxkeys[32] = "";
    if (s3->tuning.list_max_keys)
      snprintf(maxkeys, sizeof(maxkeys), "&max-keys=%u",
               s3->tuning.list_max_keys);
    docstore_free(query);
    query = docstore__sprintf(
        "list-type=2&encoding-type=url&prefix=%s%s%s%s", enc_prefix, maxkeys,
        token ? "&continuation-token=" : "", token ? token : "");
    if (!query)
      goto oom;

    docstore__s3_req req = {0};
    docstore__s3_resp resp;
    req.op = DOCSTORE_OP_LIST;
    req.method = "GET";
    req.query = query;
    rc = docstore__s3_request(s3, &req, &resp, E(err));
    if (rc == 0) {
      rc = docstore__s3_xml_parse_list((const char *)resp.body.data,
                                       resp.body.len, &page);
      if (rc < 0)
        docstore__err_set(E(err), rc,
                          "S3 ListObjectsV2 on bucket '%s': malformed reply",
                          s3->bucket);
    }
    docstore__s3_resp_free(&resp);
    if (rc < 0)
      goto done;
    rc = list_progress(s3, &page, last_key, raw_token, E(err));
    if (rc < 0)
      goto done;

    for (size_t i = 0; i < page.count; i++) {
      docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION,
                                   page.entries[i].key, page.entries[i].size,
                                   page.entries[i].mtime, page.entries[i].etag};
      if (cb(list_payload, &info) != 0)
        goto done; /* the caller has seen enough */
    }
    if (!page.truncated)
      goto done;
    docstore_free(token);
    token = NULL;
    DOCSTORE__GUARD_GOTO(rc, query_encode(page.next_token, &token), oom);
    docstore_free(raw_token);
    docstore_free(last_key);
    raw_token = docstore__strdup(page.next_token);
    last_key = docstore__strdup(page.entries[page.count - 1].key);
    if (!raw_token || !last_key)
      goto oom;
    docstore__s3_list_page_free(&page);
  }

oom:
  rc = docstore__err_set(E(err), DOCSTORE_ENOMEM, "out of memory");
done:
  docstore__s3_list_page_free(&page);
  docstore_free(enc_prefix);
  docstore_free(token);
  docstore_free(raw_token);
  docstore_free(last_key);
  docstore_free(query);
  return rc;
}

static int s3_presign(void *payload, const char *key, int method,
                      uint64_t expires_seconds, docstore_sink_cb sink,
                      void *sink_payload, docstore_errinfo *err) {
  docstore__s3 *s3 = payload;
  char *path = NULL, *url = NULL;
  docstore__sigv4_result sig;
  int rc;
  memset(&sig, 0, sizeof(sig));

  if (method != DOCSTORE_PRESIGN_GET && method != DOCSTORE_PRESIGN_PUT)
    return docstore__err_set(E(err), DOCSTORE_EINVAL,
                             "presign: unknown method %d", method);
  if (expires_seconds == 0)
    expires_seconds = DOCSTORE__S3_DEFAULT_PRESIGN_S;
  if (expires_seconds > (uint64_t)DOCSTORE__SIGV4_MAX_EXPIRES)
    return docstore__err_set(E(err), DOCSTORE_EINVAL,
                             "presigned URLs are limited to 7 days (%ld s) by "
                             "S3; %llu s asked",
                             DOCSTORE__SIGV4_MAX_EXPIRES,
                             (unsigned long long)expires_seconds);

  DOCSTORE__GUARD_GOTO(rc, docstore__s3_path(s3, key, &path), fail);
  docstore__sigv4_header host = {"Host", s3->host_header};
  docstore__sigv4_request sreq;
  memset(&sreq, 0, sizeof(sreq));
  sreq.method = method == DOCSTORE_PRESIGN_PUT ? "PUT" : "GET";
  sreq.path = path;
  sreq.headers = &host;
  sreq.header_count = 1;
  sreq.payload_hash = DOCSTORE__SIGV4_UNSIGNED_PAYLOAD;
  sreq.timestamp = time(NULL);
  docstore__sigv4_credentials cred = {s3->access_key, s3->secret_key,
                                      s3->session_token};
  docstore__sigv4_options sopts;
  docstore__sigv4_options_init_s3(&sopts, DOCSTORE__SIGV4_FORM_QUERY);
  sopts.expires_seconds = (long)expires_seconds;
  DOCSTORE__GUARD_GOTO(rc,
                       docstore__sigv4_sign(&sreq, &cred, s3->region, "s3",
                                            &sopts, s3->keys, &sig),
                       fail);
  url = docstore__sprintf("%s%s?%s", s3->base_url, path, sig.query_string);
  if (!url) {
    rc = DOCSTORE_ENOMEM;
    goto fail;
  }
  rc = sink(sink_payload, (const uint8_t *)url, strlen(url));
  if (rc != 0) {
    rc = rc < 0 ? rc : DOCSTORE_ECANCELED;
    docstore__err_set(E(err), rc, "presign: the receiver failed");
  }
  goto done;

fail:
  docstore__err_set(E(err), rc, "cannot presign a URL for '%.200s': %s", key,
                    docstore_strerror(rc));
done:
  docstore__sigv4_result_free(&sig);
  docstore_free(path);
  docstore_free(url);
  return rc;
}

int docstore__s3_report(docstore_sink_cb sink, void *sp, const char *fmt, ...) {
  char line[DOCSTORE__ERRMSG_MAX + 64];
  if (!sink)
    return 0;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return 0;
  size_t len = strlen(line);
  line[len++] = '\n';
  return sink(sp, (const uint8_t *)line, len);
}

/* Checks reachability, credentials and bucket with HeadBucket.  HEAD
 * replies carry no S3 error code, so a refused HEAD is asked again as a
 * one-key listing to learn which credential or permission is wrong.  Then
 * counts the stale incomplete uploads (a warning, never a failure). */
static int s3_check(void *payload, docstore_sink_cb sink, void *sp,
                    docstore_errinfo *errinfo) {
  docstore__s3 *s3 = payload;
  docstore__err local;
  docstore__err *err = errinfo ? E(errinfo) : &local;
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err_clear(&local);
  req.op = DOCSTORE_OP_HEAD;
  req.method = "HEAD";
  int rc = docstore__s3_request(s3, &req, &resp, err);
  docstore__s3_resp_free(&resp);

  if (rc == 0) {
    docstore__s3_report(sink, sp, "reachability: OK (%s)", s3->endpoint);
    docstore__s3_report(sink, sp,
                        "credentials: OK (requests are signed and accepted)");
    docstore__s3_report(sink, sp, "bucket: OK (s3://%s/, region %s)",
                        s3->bucket, s3->region);
    docstore__s3_check_uploads(s3, sink, sp);
    return 0;
  }
  if (rc == DOCSTORE_ECONNECT || rc == DOCSTORE_ETIMEOUT ||
      rc == DOCSTORE_ENOMEM) {
    docstore__s3_report(sink, sp, "reachability: FAILED: %s", err->msg);
    docstore__s3_report(sink, sp, "credentials: not checked");
    docstore__s3_report(sink, sp, "bucket: not checked");
    return rc;
  }
  docstore__s3_report(sink, sp, "reachability: OK (%s)", s3->endpoint);

  docstore__err detail;
  docstore__err_clear(&detail);
  req.method = "GET";
  req.query = "list-type=2&max-keys=1";
  int rc2 = docstore__s3_request(s3, &req, &resp, &detail);
  const char *code = resp.s3_code;
  if (rc2 < 0 && code[0]) {
    rc = rc2;
    *err = detail;
    docstore__err_publish(err);
  }
  int bad_credentials = strcmp(code, "InvalidAccessKeyId") == 0 ||
                        strcmp(code, "SignatureDoesNotMatch") == 0 ||
                        strcmp(code, "InvalidToken") == 0 ||
                        strcmp(code, "ExpiredToken") == 0;
  if (rc == DOCSTORE_EACCESS && (bad_credentials || !code[0])) {
    docstore__s3_report(sink, sp, "credentials: FAILED: %s", err->msg);
    docstore__s3_report(sink, sp, "bucket: not checked");
  } else if (rc == DOCSTORE_EACCESS || rc == DOCSTORE_ENOBUCKET) {
    docstore__s3_report(sink, sp,
                        "credentials: OK (the signature was accepted)");
    docstore__s3_report(sink, sp, "bucket: FAILED: %s", err->msg);
  } else {
    docstore__s3_report(sink, sp, "credentials: not checked");
    docstore__s3_report(sink, sp, "bucket: FAILED: %s", err->msg);
  }
  docstore__s3_resp_free(&resp);
  return rc;
}

static void s3_free_payload(void *payload) { docstore__s3_free(payload); }

static const docstore_provider_ops s3_ops = {
    DOCSTORE_PROVIDER_OPS_VERSION,
    "s3",
    docstore__s3_put,
    s3_get,
    s3_head,
    s3_del,
    s3_list,
    s3_presign,
    s3_check,
    s3_get_range,
    s3_free_payload,
    /* streaming (version 2): the put group (s3_upload.c) */
    docstore__s3_put_begin,
    docstore__s3_put_write,
    docstore__s3_put_commit,
    docstore__s3_put_abort,
    /* the get group (s3_download.c) */
    docstore__s3_get_open,
    docstore__s3_get_read,
    docstore__s3_get_close,
};

const docstore_provider_ops *docstore__s3_ops(void) { return &s3_ops; }

int docstore__s3_provider_new_ex(docstore_provider **out,
                                 const docstore_s3_options *opts,
                                 const docstore__s3_tuning *tuning,
                                 char *errbuf, size_t errbuf_len) {
  docstore__err err;
  docstore__s3 *s3 = NULL;
  docstore_provider *p = NULL;
  char *location = NULL;
  int rc;
  docstore__err_clear(&err);
  if (!out) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL, "out is NULL");
    goto done;
  }
  *out = NULL;
  DOCSTORE__GUARD_GOTO(rc, docstore__s3_new(&s3, opts, tuning, &err), done);
  /* docstore__s3_new() sets s3 on every 0 return; its failures come from
   * docstore__err_set(), which returns its negative code, but the analyzer
   * does not see into that other file. */
  // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
  location = docstore__sprintf("s3://%s/", s3->bucket);
  /* From here the provider owns s3 (also when this call fails). */
  docstore__s3 *payload = s3;
  s3 = NULL;
  rc = docstore_provider_new(&p, &s3_ops, payload);
  if (rc < 0) {
    docstore__err_set(&err, rc, "cannot create the S3 provider: %s",
                      docstore_strerror(rc));
    goto done;
  }
  if (!location || docstore__provider_set_location(p, location) < 0 ||
      docstore__provider_set_display_name(p, "S3") < 0) {
    rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "out of memory");
    docstore_provider_free(p);
    goto done;
  }
  payload->owner = p; /* retries go to the provider's metrics */
  *out = p;
  rc = 0;
done:
  docstore_free(location);
  if (rc < 0)
    docstore__err_to_buf(&err, errbuf, errbuf_len);
  return rc;
}

int docstore_s3_provider_new(docstore_provider **out,
                             const docstore_s3_options *opts, char *errbuf,
                             size_t errbuf_len) {
  return docstore__s3_provider_new_ex(out, opts, NULL, errbuf, errbuf_len);
}
