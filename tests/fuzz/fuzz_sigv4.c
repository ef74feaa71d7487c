/*
 * libdocstore - fuzz target: the SigV4 request canonicaliser and signer.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Input layout: one byte of option flags, one byte for the presigned URL
 * lifetime, then NUL-separated fields: method, path (or the whole request
 * target), query, payload hash, X-Amz-Date, session token, region,
 * service, access key id, then header name / value pairs (at most 16).
 * An empty payload hash or date means none (the default / a fixed time).
 *
 * Properties, when signing succeeds:
 *  - the signature is 64 lowercase hex digits, and signing again (with
 *    and without the signing-key cache) gives the same one;
 *  - the canonical request has exactly one line per distinct signed
 *    header (no header value can add a line), starts with the method,
 *    and its URI and query lines hold only unreserved characters, '/',
 *    '=', '&' and %XX escapes (uppercase hex); in S3 mode the URI is the
 *    path as given;
 *  - SignedHeaders is a strictly ascending ';' list of lowercase names
 *    that includes host;
 *  - header form gives an Authorization value and no query; query form a
 *    query string of URL-safe characters and no Authorization;
 *  - canonicalisation is idempotent: signing the canonical query again
 *    gives the same canonical request (header form).
 */
#include <ctype.h>

#include "fuzz_common.h"

#include "docstore/common.h"
#include "s3/sigv4.h"

#define MAX_HEADERS 16

enum {
  F_QUERY_FORM = 1,
  F_NORMALIZE = 2,
  F_DOUBLE_ENCODE = 4,
  F_CONTENT_SHA = 8,
  F_TOKEN_AFTER = 16,
  F_TARGET = 32,
  F_TIMESTAMP = 64,
  F_CACHE = 128
};

static docstore__sigv4_key_cache *cache;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  FUZZ_CHECK(docstore__sigv4_key_cache_new(&cache) == 0);
  return 0;
}

static const char *or_null(const char *s) { return s && *s ? s : NULL; }

static int url_safe(char c, int slash, int query) {
  return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
         c == '~' || (slash && c == '/') || (query && (c == '=' || c == '&'));
}

/* s[0..n) holds only url_safe characters and %XX (uppercase when
 * `upper`). */
static int encoded(const char *s, size_t n, int slash, int query, int upper) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (i + 2 >= n)
        return 0;
      for (int k = 1; k <= 2; k++) {
        char h = s[i + k];
        if (!(isdigit((unsigned char)h) || (h >= 'A' && h <= 'F') ||
              (!upper && h >= 'a' && h <= 'f')))
          return 0;
      }
      i += 2;
    } else if (!url_safe(s[i], slash, query)) {
      return 0;
    }
  }
  return 1;
}

static size_t count_char(const char *s, char c) {
  size_t n = 0;
  for (; *s; s++)
    n += *s == c;
  return n;
}

static void check_signed_headers(const char *sh) {
  const char *prev = NULL;
  size_t prev_len = 0;
  int host = 0;
  FUZZ_CHECK(sh && *sh);
  for (const char *p = sh;;) {
    const char *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    FUZZ_CHECK(n > 0);
    for (size_t i = 0; i < n; i++)
      FUZZ_CHECK(!(p[i] >= 'A' && p[i] <= 'Z') && (unsigned char)p[i] > 0x20);
    if (prev) {
      size_t m = n < prev_len ? n : prev_len;
      int c = memcmp(prev, p, m);
      FUZZ_CHECK(c < 0 || (c == 0 && prev_len < n));
    }
    host |= n == 4 && memcmp(p, "host", 4) == 0;
    prev = p;
    prev_len = n;
    if (!end)
      break;
    p = end + 1;
  }
  FUZZ_CHECK(host);
}

/* Line i (0-based) of the canonical request: pointer and length. */
static const char *line_at(const char *s, size_t i, size_t *len) {
  while (i-- > 0) {
    s = strchr(s, '\n');
    FUZZ_CHECK(s != NULL);
    s++;
  }
  const char *e = strchr(s, '\n');
  *len = e ? (size_t)(e - s) : strlen(s);
  return s;
}

static void check_result(const docstore__sigv4_request *req,
                         const docstore__sigv4_options *opt,
                         const docstore__sigv4_result *r) {
  size_t len;
  FUZZ_CHECK(strlen(r->signature) == 64);
  for (size_t i = 0; i < 64; i++)
    FUZZ_CHECK(isdigit((unsigned char)r->signature[i]) ||
               (r->signature[i] >= 'a' && r->signature[i] <= 'f'));
  check_signed_headers(r->signed_headers);

  const char *cr = r->canonical_request;
  size_t distinct = count_char(r->signed_headers, ';') + 1;
  FUZZ_CHECK(count_char(cr, '\n') == distinct + 5);
  const char *m = line_at(cr, 0, &len);
  FUZZ_CHECK(len == strlen(req->method) && memcmp(m, req->method, len) == 0);
  const char *uri = line_at(cr, 1, &len);
  FUZZ_CHECK(len > 0 && uri[0] == '/');
  FUZZ_CHECK(encoded(uri, len, 1, 0, !!opt->double_encode_path));
  if (!opt->normalize_path && !opt->double_encode_path) {
    const char *path = req->target ? req->target : req->path;
    FUZZ_CHECK(strncmp(uri, path, len) == 0 &&
               (path[len] == '\0' || path[len] == '?'));
  }
  const char *q = line_at(cr, 2, &len);
  FUZZ_CHECK(encoded(q, len, 0, 1, 1));
  const char *sh = line_at(cr, distinct + 4, &len);
  FUZZ_CHECK(len == strlen(r->signed_headers) &&
             memcmp(sh, r->signed_headers, len) == 0);

  if (opt->form == DOCSTORE__SIGV4_FORM_HEADER) {
    FUZZ_CHECK(r->authorization && r->query_string == NULL);
    FUZZ_CHECK(strncmp(r->authorization, "AWS4-HMAC-SHA256 Credential=", 28) ==
               0);
    FUZZ_CHECK(r->header_count >= 2 &&
               r->header_count <= DOCSTORE__SIGV4_MAX_OUT_HEADERS);
    FUZZ_CHECK(strcmp(r->headers[r->header_count - 1].name, "Authorization") ==
               0);
  } else {
    FUZZ_CHECK(r->query_string && r->authorization == NULL);
    FUZZ_CHECK(encoded(r->query_string, strlen(r->query_string), 0, 1, 1));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  docstore__sigv4_header headers[MAX_HEADERS];
  docstore__sigv4_request req;
  docstore__sigv4_credentials cred;
  docstore__sigv4_options opt;
  docstore__sigv4_result r, again;
  fuzz_fields f;
  size_t n = 0;

  if (size < 2)
    return 0;
  unsigned flags = data[0];
  long expires = 1 + (long)data[1] * 2371; /* up to 604,606: some too long */
  fuzz_fields_init(&f, data + 2, size - 2);

  memset(&req, 0, sizeof(req));
  memset(&cred, 0, sizeof(cred));
  const char *method = fuzz_field(&f);
  const char *path = fuzz_field(&f);
  const char *query = fuzz_field(&f);
  req.method = method;
  if (flags & F_TARGET) {
    req.target = path;
  } else {
    req.path = path;
    req.query = query;
  }
  req.payload_hash = or_null(fuzz_field(&f));
  const char *date = fuzz_field(&f);
  if (flags & F_TIMESTAMP)
    req.timestamp = date ? (time_t)strtoll(date, NULL, 10) : 0;
  else
    req.amz_date = date && *date ? date : "20150830T123600Z";
  cred.session_token = or_null(fuzz_field(&f));
  const char *region = fuzz_field(&f);
  const char *service = fuzz_field(&f);
  cred.access_key_id = fuzz_field(&f);
  cred.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  for (const char *name; n < MAX_HEADERS && (name = fuzz_field(&f));) {
    const char *value = fuzz_field(&f);
    headers[n].name = name;
    headers[n].value = value ? value : "";
    n++;
  }
  req.headers = headers;
  req.header_count = n;

  if (flags & F_NORMALIZE)
    docstore__sigv4_options_init_generic(
        &opt, flags & F_QUERY_FORM ? DOCSTORE__SIGV4_FORM_QUERY
                                   : DOCSTORE__SIGV4_FORM_HEADER);
  else
    docstore__sigv4_options_init_s3(&opt, flags & F_QUERY_FORM
                                              ? DOCSTORE__SIGV4_FORM_QUERY
                                              : DOCSTORE__SIGV4_FORM_HEADER);
  opt.double_encode_path = !!(flags & F_DOUBLE_ENCODE);
  opt.add_content_sha256_header = !!(flags & F_CONTENT_SHA);
  opt.session_token_after_signing = !!(flags & F_TOKEN_AFTER);
  opt.expires_seconds = expires;

  docstore__sigv4_key_cache *kc = flags & F_CACHE ? cache : NULL;
  int rc = docstore__sigv4_sign(&req, &cred, region, service, &opt, kc, &r);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EINVAL);
  if (rc == 0) {
    check_result(&req, &opt, &r);
    /* Same request, the other way round for the cache: same signature. */
    FUZZ_CHECK(docstore__sigv4_sign(&req, &cred, region, service, &opt,
                                    kc ? NULL : cache, &again) == 0);
    FUZZ_CHECK(strcmp(r.signature, again.signature) == 0);
    docstore__sigv4_result_free(&again);

    if (opt.form == DOCSTORE__SIGV4_FORM_HEADER) {
      /* The canonical query, signed as the query, canonicalises to itself. */
      size_t qlen, plen;
      const char *q = line_at(r.canonical_request, 2, &qlen);
      const char *p = line_at(r.canonical_request, 1, &plen);
      char *q2 = fuzz_cstr((const uint8_t *)q, qlen);
      char *p2 = fuzz_cstr((const uint8_t *)p, plen);
      docstore__sigv4_request req2 = req;
      docstore__sigv4_options opt2 = opt;
      req2.target = NULL;
      req2.query = q2;
      if (!opt.double_encode_path) {
        /* The canonical URI is a valid path for these options as is. */
        req2.path = p2;
        opt2.normalize_path = 0;
      } else {
        req2.path = req.target ? NULL : req.path;
      }
      if (req2.path) {
        rc = docstore__sigv4_sign(&req2, &cred, region, service, &opt2, NULL,
                                  &again);
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(strcmp(r.canonical_request, again.canonical_request) == 0);
        docstore__sigv4_result_free(&again);
      }
      free(q2);
      free(p2);
    }
    docstore__sigv4_result_free(&r);
  } else {
    /* A failed call leaves the result zeroed. */
    FUZZ_CHECK(r.canonical_request == NULL && r.authorization == NULL &&
               r.query_string == NULL && r.signature[0] == '\0');
  }
  fuzz_fields_free(&f);
  return 0;
}
