/*
 * AWS Signature Version 4 request signer.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Pure: no network, no clock, no logging. See sigv4.h for the conventions.
 *
 * docstore__sigv4_sign() runs the stages of the algorithm in order, one
 * function each: the arguments, the time, the target, the canonical
 * headers and their list, the scope, the canonical query, the canonical
 * request, the string to sign, the signature, then the Authorization
 * header or the presigned query.  Strings are built in the library's
 * docstore__buf and handed out as library memory: docstore_free() wipes
 * them (a canonical request may carry the session token).
 */
#include "s3/sigv4.h"

#include "docstore/common.h"
#include "internal.h"
#include "util/date.h"
#include "util/hex.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Character classes and encoding                                           */
/* ------------------------------------------------------------------------ */

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

static char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Appends in[0..len) RFC 3986-encoded. */
static int buf_uri_encode(docstore__buf *b, const char *in, size_t len,
                          int keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  DOCSTORE__GUARD(docstore__buf_reserve(b, len));
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    char esc[3] = {(char)c, 0, 0};
    size_t n = 1;
    if (!is_unreserved(c) && !(keep_slash && c == '/')) {
      esc[0] = '%';
      esc[1] = hex[c >> 4];
      esc[2] = hex[c & 0x0f];
      n = 3;
    }
    DOCSTORE__GUARD(docstore__buf_append(b, esc, n));
  }
  return 0;
}

/* The buffer's text as a library-owned string (never NULL on success). */
/* 0 only with *out set: a failure (any rc but 0) or a failed detach gives
 * a negative code and *out NULL. */
static int buf_take(docstore__buf *b, char **out, int rc) {
  *out = NULL;
  if (rc == 0)
    *out = (char *)docstore__buf_detach(b, NULL);
  docstore__buf_free(b);
  if (*out)
    return 0;
  return rc < 0 ? rc : DOCSTORE_ENOMEM;
}

int docstore__sigv4_uri_encode(const char *in, size_t len, int keep_slash,
                               char **out) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  if (out == NULL)
    return DOCSTORE_EINVAL;
  *out = NULL;
  if (in == NULL && len > 0)
    return DOCSTORE_EINVAL;
  return buf_take(&b, out, buf_uri_encode(&b, in, len, keep_slash));
}

int docstore__sigv4_encode_path(const char *raw_path, char **out) {
  if (raw_path == NULL || out == NULL) {
    if (out != NULL)
      *out = NULL;
    return DOCSTORE_EINVAL;
  }
  return docstore__sigv4_uri_encode(raw_path, strlen(raw_path), 1, out);
}

/* Percent-decodes in[0..len) into a new string. Malformed escapes are
 * rejected. Decoded NUL bytes are rejected (they cannot be C strings). */
static int percent_decode(const char *in, size_t len, char **out,
                          size_t *out_len) {
  char *p = (char *)malloc(len + 1);
  size_t i;
  size_t o = 0;

  *out = NULL;
  if (p == NULL)
    return DOCSTORE_ENOMEM;
  for (i = 0; i < len; i++) {
    if (in[i] == '%') {
      int hi;
      int lo;

      if (i + 2 >= len) {
        free(p);
        return DOCSTORE_EINVAL;
      }
      hi = docstore__hex_digit((unsigned char)in[i + 1]);
      lo = docstore__hex_digit((unsigned char)in[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
        free(p);
        return DOCSTORE_EINVAL;
      }
      p[o++] = (char)((hi << 4) | lo);
      i += 2;
    } else {
      p[o++] = in[i];
    }
  }
  p[o] = '\0';
  *out = p;
  *out_len = o;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Crypto helpers                                                           */
/* ------------------------------------------------------------------------ */

static int sha256(const void *data, size_t len, unsigned char out[32]) {
  unsigned int olen = 0;

  if (EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) != 1 || olen != 32)
    return DOCSTORE_ECRYPTO;
  return 0;
}

static int hmac_sha256(const unsigned char *key, size_t key_len,
                       const void *data, size_t data_len,
                       unsigned char out[32]) {
  size_t olen = 0;

  if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len,
                (const unsigned char *)data, data_len, out, 32,
                &olen) == NULL ||
      olen != 32)
    return DOCSTORE_ECRYPTO;
  return 0;
}

int docstore__sigv4_sha256_hex(const void *data, size_t len,
                               char out[DOCSTORE__SIGV4_HEX_LEN]) {
  unsigned char md[32];
  int rc;

  if (out == NULL || (data == NULL && len > 0))
    return DOCSTORE_EINVAL;
  rc = sha256(data == NULL ? "" : data, len, md);
  if (rc != 0)
    return rc;
  docstore__hex_encode(out, md, sizeof md);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Dates                                                                    */
/* ------------------------------------------------------------------------ */

_Static_assert(DOCSTORE__SIGV4_AMZ_DATE_LEN == DOCSTORE__AMZ_DATE_LEN,
               "the amz-date buffer of sigv4.h is util's");

int docstore__sigv4_format_amz_date(time_t t,
                                    char out[DOCSTORE__SIGV4_AMZ_DATE_LEN]) {
  /* SigV4 dates are after 1970 (a negative time is a clock error). */
  if (out == NULL || t < 0)
    return DOCSTORE_EINVAL;
  return docstore__format_amz_date((int64_t)t, out) < 0 ? DOCSTORE_EINVAL : 0;
}

/* A caller's X-Amz-Date: util's amz-date form, a real date (no second 60,
 * no 30th of February), and not before 1970 like every SigV4 date. */
static int validate_amz_date(const char *s) {
  int64_t t;
  if (docstore__parse_amz_date(docstore__cursor_from_cstr(s), &t) < 0 || t < 0)
    return DOCSTORE_EINVAL;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Signing-key cache                                                        */
/* ------------------------------------------------------------------------ */

#define KC_SLOTS 4
#define KC_NAME_MAX 64

typedef struct kc_entry {
  int used;
  unsigned char secret_fp[32]; /* SHA-256 of the secret */
  char region[KC_NAME_MAX];
  char service[KC_NAME_MAX];
  unsigned char key[DOCSTORE__SIGV4_KEY_LEN];
} kc_entry;

struct docstore__sigv4_key_cache {
  pthread_mutex_t mu;
  char date[9]; /* day of the cached keys, "" when empty */
  kc_entry slots[KC_SLOTS];
  unsigned next; /* round-robin victim */
  unsigned long hits;
  unsigned long misses;
};

int docstore__sigv4_key_cache_new(docstore__sigv4_key_cache **out) {
  docstore__sigv4_key_cache *c;

  if (out == NULL)
    return DOCSTORE_EINVAL;
  *out = NULL;
  c = (docstore__sigv4_key_cache *)calloc(1, sizeof *c);
  if (c == NULL)
    return DOCSTORE_ENOMEM;
  if (pthread_mutex_init(&c->mu, NULL) != 0) {
    free(c);
    return DOCSTORE_ENOMEM;
  }
  *out = c;
  return 0;
}

/* Caller holds the mutex. */
static void kc_wipe_locked(docstore__sigv4_key_cache *c) {
  OPENSSL_cleanse(c->slots, sizeof c->slots);
  c->date[0] = '\0';
  c->next = 0;
}

void docstore__sigv4_key_cache_clear(docstore__sigv4_key_cache *cache) {
  if (cache == NULL)
    return;
  pthread_mutex_lock(&cache->mu);
  kc_wipe_locked(cache);
  pthread_mutex_unlock(&cache->mu);
}

void docstore__sigv4_key_cache_free(docstore__sigv4_key_cache *cache) {
  if (cache == NULL)
    return;
  pthread_mutex_lock(&cache->mu);
  kc_wipe_locked(cache);
  pthread_mutex_unlock(&cache->mu);
  pthread_mutex_destroy(&cache->mu);
  OPENSSL_cleanse(cache, sizeof *cache);
  free(cache);
}

void docstore__sigv4_key_cache_stats(docstore__sigv4_key_cache *cache,
                                     unsigned long *hits,
                                     unsigned long *misses) {
  unsigned long h = 0;
  unsigned long m = 0;

  if (cache != NULL) {
    pthread_mutex_lock(&cache->mu);
    h = cache->hits;
    m = cache->misses;
    pthread_mutex_unlock(&cache->mu);
  }
  if (hits != NULL)
    *hits = h;
  if (misses != NULL)
    *misses = m;
}

static kc_entry *kc_find_locked(docstore__sigv4_key_cache *c,
                                const unsigned char fp[32], const char *region,
                                const char *service) {
  unsigned i;

  for (i = 0; i < KC_SLOTS; i++) {
    kc_entry *e = &c->slots[i];

    if (e->used && CRYPTO_memcmp(e->secret_fp, fp, 32) == 0 &&
        strcmp(e->region, region) == 0 && strcmp(e->service, service) == 0)
      return e;
  }
  return NULL;
}

static int derive_uncached(const char *secret, const char *date8,
                           const char *region, const char *service,
                           unsigned char out[32]) {
  size_t slen = strlen(secret);
  unsigned char *k_secret;
  unsigned char k1[32];
  unsigned char k2[32];
  int rc;

  if (slen > SIZE_MAX - 5)
    return DOCSTORE_EINVAL;
  k_secret = (unsigned char *)malloc(slen + 4);
  if (k_secret == NULL)
    return DOCSTORE_ENOMEM;
  /* A key, not a string: */
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
  memcpy(k_secret, "AWS4", 4);
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
  memcpy(k_secret + 4, secret, slen);

  rc = hmac_sha256(k_secret, slen + 4, date8, strlen(date8), k1);
  if (rc == 0)
    rc = hmac_sha256(k1, 32, region, strlen(region), k2);
  if (rc == 0)
    rc = hmac_sha256(k2, 32, service, strlen(service), k1);
  if (rc == 0)
    rc = hmac_sha256(k1, 32, "aws4_request", 12, out);

  OPENSSL_cleanse(k_secret, slen + 4);
  free(k_secret);
  OPENSSL_cleanse(k1, sizeof k1);
  OPENSSL_cleanse(k2, sizeof k2);
  if (rc != 0)
    OPENSSL_cleanse(out, 32);
  return rc;
}

static int valid_scope_part(const char *s) {
  size_t i;

  if (s == NULL || s[0] == '\0')
    return 0;
  for (i = 0; s[i] != '\0'; i++) {
    unsigned char c = (unsigned char)s[i];

    if (c <= 0x20 || c == 0x7f || c == '/')
      return 0;
  }
  return 1;
}

static int valid_date8(const char *d) {
  char full[DOCSTORE__SIGV4_AMZ_DATE_LEN];

  if (d == NULL || strlen(d) != 8)
    return 0;
  memcpy(full, d, 8);
  memcpy(full + 8, "T000000Z", 9);
  return validate_amz_date(full) == 0;
}

int docstore__sigv4_derive_key(docstore__sigv4_key_cache *cache,
                               const char *secret_access_key, const char *date8,
                               const char *region, const char *service,
                               unsigned char out[DOCSTORE__SIGV4_KEY_LEN]) {
  unsigned char fp[32];
  kc_entry *e;
  int cacheable;
  int rc;

  if (out == NULL || secret_access_key == NULL ||
      secret_access_key[0] == '\0' || !valid_date8(date8) ||
      !valid_scope_part(region) || !valid_scope_part(service))
    return DOCSTORE_EINVAL;

  cacheable = cache != NULL && strlen(region) < KC_NAME_MAX &&
              strlen(service) < KC_NAME_MAX;
  if (!cacheable) {
    if (cache != NULL) {
      pthread_mutex_lock(&cache->mu);
      cache->misses++;
      pthread_mutex_unlock(&cache->mu);
    }
    return derive_uncached(secret_access_key, date8, region, service, out);
  }

  rc = sha256(secret_access_key, strlen(secret_access_key), fp);
  if (rc != 0)
    return rc;

  pthread_mutex_lock(&cache->mu);
  if (strcmp(date8, cache->date) > 0) {
    /* A new day: forget every key of the previous one. */
    kc_wipe_locked(cache);
    memcpy(cache->date, date8, 9);
  }
  if (strcmp(date8, cache->date) == 0) {
    e = kc_find_locked(cache, fp, region, service);
    if (e != NULL) {
      memcpy(out, e->key, DOCSTORE__SIGV4_KEY_LEN);
      cache->hits++;
      pthread_mutex_unlock(&cache->mu);
      OPENSSL_cleanse(fp, sizeof fp);
      return 0;
    }
  }
  cache->misses++;
  pthread_mutex_unlock(&cache->mu);

  rc = derive_uncached(secret_access_key, date8, region, service, out);
  if (rc != 0) {
    OPENSSL_cleanse(fp, sizeof fp);
    return rc;
  }

  pthread_mutex_lock(&cache->mu);
  /* Only keys of the current day are kept; an older day (clock skew) is
   * served uncached. Another thread may have inserted it meanwhile. */
  if (strcmp(date8, cache->date) == 0 &&
      kc_find_locked(cache, fp, region, service) == NULL) {
    unsigned i;

    e = NULL;
    for (i = 0; i < KC_SLOTS; i++) {
      if (!cache->slots[i].used) {
        e = &cache->slots[i];
        break;
      }
    }
    if (e == NULL) {
      e = &cache->slots[cache->next];
      cache->next = (cache->next + 1) % KC_SLOTS;
      OPENSSL_cleanse(e, sizeof *e);
    }
    e->used = 1;
    memcpy(e->secret_fp, fp, 32);
    memcpy(e->region, region, strlen(region) + 1);
    memcpy(e->service, service, strlen(service) + 1);
    memcpy(e->key, out, DOCSTORE__SIGV4_KEY_LEN);
  }
  pthread_mutex_unlock(&cache->mu);
  OPENSSL_cleanse(fp, sizeof fp);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Options, result                                                          */
/* ------------------------------------------------------------------------ */

void docstore__sigv4_options_init_s3(docstore__sigv4_options *opts,
                                     docstore__sigv4_form form) {
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof *opts);
  opts->form = form;
  opts->normalize_path = 0;
  opts->double_encode_path = 0;
  opts->add_content_sha256_header = 1;
  opts->session_token_after_signing = 0;
  opts->expires_seconds = 3600;
}

void docstore__sigv4_options_init_generic(docstore__sigv4_options *opts,
                                          docstore__sigv4_form form) {
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof *opts);
  opts->form = form;
  opts->normalize_path = 1;
  opts->double_encode_path = 1;
  opts->add_content_sha256_header = 0;
  opts->session_token_after_signing = 0;
  opts->expires_seconds = 3600;
}

void docstore__sigv4_result_free(docstore__sigv4_result *r) {
  if (r == NULL)
    return;
  /* Library memory: docstore_free() wipes it (the token, the request). */
  docstore_free(r->canonical_request);
  docstore_free(r->string_to_sign);
  docstore_free(r->signed_headers);
  docstore_free(r->authorization);
  docstore_free(r->query_string);
  docstore_free(r->priv_token);
  memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------ */
/* Canonical URI                                                            */
/* ------------------------------------------------------------------------ */

/* Removes "." and ".." segments and empty segments ("//"). Keeps a trailing
 * '/' when the input had one. Result always starts with '/'. */
static int normalize_path(const char *p, size_t len, char **out) {
  /* segments as (start, length) pairs on a stack */
  size_t *starts;
  size_t *lens;
  size_t nseg = 0;
  size_t i = 0;
  docstore__buf b = DOCSTORE__BUF_INIT;
  size_t max_segs = len / 2 + 2;
  int rc = 0;

  *out = NULL;
  starts = (size_t *)malloc(max_segs * sizeof *starts);
  lens = (size_t *)malloc(max_segs * sizeof *lens);
  if (starts == NULL || lens == NULL) {
    free(starts);
    free(lens);
    return DOCSTORE_ENOMEM;
  }
  while (i < len) {
    size_t s;
    size_t n;

    while (i < len && p[i] == '/')
      i++;
    s = i;
    while (i < len && p[i] != '/')
      i++;
    n = i - s;
    if (n == 0 || (n == 1 && p[s] == '.'))
      continue;
    if (n == 2 && p[s] == '.' && p[s + 1] == '.') {
      if (nseg > 0)
        nseg--;
      continue;
    }
    starts[nseg] = s;
    lens[nseg] = n;
    nseg++;
  }
  for (i = 0; i < nseg && rc == 0; i++) {
    rc = docstore__buf_puts(&b, "/");
    if (rc == 0)
      rc = docstore__buf_append(&b, p + starts[i], lens[i]);
  }
  if (rc == 0 && (nseg == 0 || (len > 0 && p[len - 1] == '/')))
    rc = docstore__buf_puts(&b, "/");
  free(starts);
  free(lens);
  return buf_take(&b, out, rc);
}

/* Single-encoded path must only hold unreserved, '/', and %XX. */
static int check_encoded_path(const char *p, size_t len) {
  size_t i;

  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];

    if (c == '%') {
      if (i + 2 >= len || docstore__hex_digit((unsigned char)p[i + 1]) < 0 ||
          docstore__hex_digit((unsigned char)p[i + 2]) < 0)
        return DOCSTORE_EINVAL;
      i += 2;
    } else if (!is_unreserved(c) && c != '/') {
      return DOCSTORE_EINVAL;
    }
  }
  return 0;
}

static int canonical_uri(const char *path, size_t len,
                         const docstore__sigv4_options *o, docstore__buf *out) {
  char *norm = NULL;
  const char *p = path;
  int rc;

  if (len == 0 || path[0] != '/')
    return DOCSTORE_EINVAL;
  if (o->normalize_path) {
    DOCSTORE__GUARD(normalize_path(path, len, &norm));
    p = norm;
    len = strlen(norm);
  }
  if (o->double_encode_path) {
    rc = buf_uri_encode(out, p, len, 1);
  } else {
    rc = check_encoded_path(p, len);
    if (rc == 0)
      rc = docstore__buf_append(out, p, len);
  }
  docstore_free(norm);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Canonical query                                                          */
/* ------------------------------------------------------------------------ */

typedef struct qparam {
  char *key; /* encoded */
  char *val; /* encoded */
} qparam;

typedef struct qlist {
  qparam *items;
  size_t n;
  size_t cap;
} qlist;

static void ql_free(qlist *q) {
  size_t i;

  for (i = 0; i < q->n; i++) {
    docstore_free(q->items[i].key);
    docstore_free(q->items[i].val); /* wiped: may hold a session token */
  }
  free(q->items);
  q->items = NULL;
  q->n = q->cap = 0;
}

/* Adds a decoded key/value, encoding both. */
static int ql_add_raw(qlist *q, const char *k, size_t klen, const char *v,
                      size_t vlen) {
  char *ek = NULL;
  char *ev = NULL;
  int rc;

  if (q->n == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 16;
    qparam *ni;

    if (ncap > SIZE_MAX / sizeof *ni)
      return DOCSTORE_ENOMEM;
    ni = (qparam *)realloc(q->items, ncap * sizeof *ni);
    if (ni == NULL)
      return DOCSTORE_ENOMEM;
    q->items = ni;
    q->cap = ncap;
  }
  rc = docstore__sigv4_uri_encode(k, klen, 0, &ek);
  if (rc == 0)
    rc = docstore__sigv4_uri_encode(v, vlen, 0, &ev);
  if (rc != 0) {
    docstore_free(ek);
    docstore_free(ev);
    return rc;
  }
  q->items[q->n].key = ek;
  q->items[q->n].val = ev;
  q->n++;
  return 0;
}

static int ascii_ieq(const char *a, size_t alen, const char *b) {
  size_t i;

  if (alen != strlen(b))
    return 0;
  for (i = 0; i < alen; i++)
    if (ascii_lower(a[i]) != ascii_lower(b[i]))
      return 0;
  return 1;
}

static int is_reserved_query_key(const char *k, size_t klen) {
  static const char *const names[] = {"x-amz-algorithm",     "x-amz-credential",
                                      "x-amz-date",          "x-amz-expires",
                                      "x-amz-signedheaders", "x-amz-signature",
                                      "x-amz-security-token"};
  size_t i;

  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (ascii_ieq(k, klen, names[i]))
      return 1;
  return 0;
}

static int parse_query(const char *qs, size_t len, int query_form, qlist *q) {
  size_t i = 0;

  while (i < len) {
    size_t s = i;
    size_t e;
    size_t eq;
    char *dk = NULL;
    char *dv = NULL;
    size_t dkl = 0;
    size_t dvl = 0;
    int rc;

    while (i < len && qs[i] != '&')
      i++;
    e = i;
    i++; /* skip '&' */
    if (e == s)
      continue; /* "a=1&&b=2", trailing '&' */
    eq = s;
    while (eq < e && qs[eq] != '=')
      eq++;
    rc = percent_decode(qs + s, eq - s, &dk, &dkl);
    if (rc == 0) {
      if (eq < e)
        rc = percent_decode(qs + eq + 1, e - eq - 1, &dv, &dvl);
      else
        rc = percent_decode("", 0, &dv, &dvl);
    }
    if (rc == 0 && query_form && is_reserved_query_key(dk, dkl))
      rc = DOCSTORE_EINVAL;
    if (rc == 0)
      rc = ql_add_raw(q, dk, dkl, dv, dvl);
    free(dk);
    free(dv);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int qparam_cmp(const void *a, const void *b) {
  const qparam *x = (const qparam *)a;
  const qparam *y = (const qparam *)b;
  int c = strcmp(x->key, y->key);

  return c != 0 ? c : strcmp(x->val, y->val);
}

/* ------------------------------------------------------------------------ */
/* Canonical headers                                                        */
/* ------------------------------------------------------------------------ */

typedef struct chdr {
  char *name;  /* lowercase */
  char *value; /* trimmed, whitespace runs collapsed */
  size_t order;
} chdr;

static int is_tchar(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
      (c >= '0' && c <= '9'))
    return 1;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int valid_header_name(const char *name) {
  size_t i;

  if (name[0] == '\0')
    return 0;
  for (i = 0; name[i] != '\0'; i++)
    if (!is_tchar((unsigned char)name[i]))
      return 0;
  return 1;
}

/* Lowercase copy of a valid name; NULL on OOM. */
static char *canon_name(const char *name) {
  size_t n = strlen(name);
  size_t i;
  char *p;

  p = docstore__strndup(name, n);
  if (p == NULL)
    return NULL;
  for (i = 0; i < n; i++)
    p[i] = ascii_lower(p[i]);
  return p;
}

/* Validates a header value: no control characters except HT, and CR/LF
 * only as line folding (followed by SP/HT). */
static int check_value(const char *v) {
  size_t i;

  for (i = 0; v[i] != '\0'; i++) {
    unsigned char c = (unsigned char)v[i];

    if (c == '\r' && v[i + 1] == '\n')
      continue;
    if (c == '\r' || c == '\n') {
      if (v[i + 1] != ' ' && v[i + 1] != '\t')
        return DOCSTORE_EINVAL;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return DOCSTORE_EINVAL;
  }
  return 0;
}

static char *canon_value(const char *v) {
  size_t n = strlen(v);
  char *p = (char *)docstore__alloc(n + 1);
  size_t i;
  size_t o = 0;
  int pending_space = 0;

  if (p == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    if (is_ws(v[i])) {
      if (o > 0)
        pending_space = 1;
      continue;
    }
    if (pending_space) {
      p[o++] = ' ';
      pending_space = 0;
    }
    p[o++] = v[i];
  }
  p[o] = '\0';
  return p;
}

static int chdr_cmp(const void *a, const void *b) {
  const chdr *x = (const chdr *)a;
  const chdr *y = (const chdr *)b;
  int c = strcmp(x->name, y->name);

  if (c != 0)
    return c;
  return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

static void chdrs_free(chdr *h, size_t n) {
  size_t i;

  if (h == NULL)
    return;
  for (i = 0; i < n; i++) {
    docstore_free(h[i].name);
    docstore_free(h[i].value); /* wiped: may hold a session token */
  }
  free(h);
}

/* ------------------------------------------------------------------------ */
/* Signing                                                                  */
/* ------------------------------------------------------------------------ */

static int valid_access_key(const char *s) {
  size_t i;

  if (s == NULL || s[0] == '\0')
    return 0;
  for (i = 0; s[i] != '\0'; i++) {
    unsigned char c = (unsigned char)s[i];

    if (c <= 0x20 || c >= 0x7f || c == '/' || c == ',')
      return 0;
  }
  return 1;
}

static int valid_method(const char *m) {
  size_t i;

  if (m == NULL || m[0] == '\0')
    return 0;
  for (i = 0; m[i] != '\0'; i++)
    if (!is_tchar((unsigned char)m[i]))
      return 0;
  return 1;
}

static int valid_token(const char *t) {
  size_t i;

  for (i = 0; t[i] != '\0'; i++) {
    unsigned char c = (unsigned char)t[i];

    if (c < 0x20 || c == 0x7f)
      return 0;
  }
  return 1;
}

/* Copies a valid payload hash (lowercased) into out. */
static int payload_hash(const char *in, char out[DOCSTORE__SIGV4_HEX_LEN]) {
  size_t i;

  if (in == NULL) {
    memcpy(out, DOCSTORE__SIGV4_EMPTY_SHA256, 65);
    return 0;
  }
  if (strcmp(in, DOCSTORE__SIGV4_UNSIGNED_PAYLOAD) == 0) {
    memcpy(out, in, sizeof DOCSTORE__SIGV4_UNSIGNED_PAYLOAD);
    return 0;
  }
  if (strlen(in) != 64)
    return DOCSTORE_EINVAL;
  for (i = 0; i < 64; i++) {
    if (docstore__hex_digit((unsigned char)in[i]) < 0)
      return DOCSTORE_EINVAL;
    out[i] = ascii_lower(in[i]);
  }
  out[64] = '\0';
  return 0;
}

/* What one signature is built from: the checked inputs and the pieces
 * the stages below make in turn. */
typedef struct sign_ctx {
  const docstore__sigv4_request *req;
  const docstore__sigv4_credentials *cred;
  const docstore__sigv4_options *opt;
  const char *region;
  const char *service;
  int query_form;    /* presigned URL, else an Authorization header */
  int add_sha_hdr;   /* x-amz-content-sha256 is added (and signed) */
  const char *token; /* session token, NULL when none */
  int sign_token;    /* the token is signed (not appended afterwards) */
  const char *path;  /* the request line's path and query */
  size_t path_len;
  const char *qs;
  size_t qs_len;
  char expires[24]; /* X-Amz-Expires (query form) */
  char *scope;      /* <date>/<region>/<service>/aws4_request */
  char *credential; /* <access key id>/<scope> */
  chdr *hdrs;       /* canonical headers, sorted */
  size_t nh;
  qlist q; /* canonical query, sorted */
} sign_ctx;

static void sign_ctx_free(sign_ctx *c) {
  chdrs_free(c->hdrs, c->nh);
  ql_free(&c->q);
  docstore_free(c->scope);
  docstore_free(c->credential);
}

/* The arguments, checked (DOCSTORE_EINVAL), into c. */
static int sign_args(sign_ctx *c, const docstore__sigv4_request *req,
                     const docstore__sigv4_credentials *cred,
                     const char *region, const char *service,
                     const docstore__sigv4_options *opt) {
  if (req == NULL || cred == NULL || opt == NULL)
    return DOCSTORE_EINVAL;
  if (!valid_method(req->method) || !valid_access_key(cred->access_key_id) ||
      cred->secret_access_key == NULL || cred->secret_access_key[0] == '\0' ||
      !valid_scope_part(region) || !valid_scope_part(service) ||
      (req->headers == NULL && req->header_count > 0))
    return DOCSTORE_EINVAL;
  if (opt->form != DOCSTORE__SIGV4_FORM_HEADER &&
      opt->form != DOCSTORE__SIGV4_FORM_QUERY)
    return DOCSTORE_EINVAL;
  c->req = req;
  c->cred = cred;
  c->opt = opt;
  c->region = region;
  c->service = service;
  c->query_form = opt->form == DOCSTORE__SIGV4_FORM_QUERY;
  if (c->query_form && (opt->expires_seconds < 1 ||
                        opt->expires_seconds > DOCSTORE__SIGV4_MAX_EXPIRES))
    return DOCSTORE_EINVAL;
  snprintf(c->expires, sizeof(c->expires), "%ld", (long)opt->expires_seconds);
  c->add_sha_hdr = !c->query_form && opt->add_content_sha256_header;
  if (cred->session_token != NULL && cred->session_token[0] != '\0') {
    if (!valid_token(cred->session_token))
      return DOCSTORE_EINVAL;
    c->token = cred->session_token;
  }
  c->sign_token = c->token && !opt->session_token_after_signing;
  return 0;
}

/* X-Amz-Date (given, or from the timestamp) and the scope's date. */
static int sign_time(const docstore__sigv4_request *req,
                     docstore__sigv4_result *r) {
  if (req->amz_date != NULL) {
    if (validate_amz_date(req->amz_date) != 0)
      return DOCSTORE_EINVAL;
    memcpy(r->amz_date, req->amz_date, DOCSTORE__SIGV4_AMZ_DATE_LEN);
  } else {
    DOCSTORE__GUARD(
        docstore__sigv4_format_amz_date(req->timestamp, r->amz_date));
  }
  memcpy(r->credential_scope_date, r->amz_date, 8);
  r->credential_scope_date[8] = '\0';
  return 0;
}

/* The path and the query string, from `target` or from `path`+`query`. */
static int split_target(sign_ctx *c) {
  const docstore__sigv4_request *req = c->req;
  if (req->target != NULL) {
    const char *qm = strchr(req->target, '?');
    c->path = req->target;
    c->path_len = qm ? (size_t)(qm - req->target) : strlen(req->target);
    c->qs = qm ? qm + 1 : "";
  } else {
    if (req->path == NULL || strchr(req->path, '?') != NULL)
      return DOCSTORE_EINVAL;
    c->path = req->path;
    c->path_len = strlen(req->path);
    c->qs = req->query != NULL ? req->query : "";
  }
  c->qs_len = strlen(c->qs);
  return 0;
}

/* Appends one canonical header (name lowercased, value trimmed). */
static int add_chdr(sign_ctx *c, const char *name, const char *value) {
  chdr *h = &c->hdrs[c->nh];
  h->name = canon_name(name);
  h->value = canon_value(value);
  h->order = c->nh++;
  return h->name && h->value ? 0 : DOCSTORE_ENOMEM;
}

/* The caller's headers (a Host among them; none the signer sets itself),
 * then the signer's own in header form; sorted by name, stable. */
static int canonical_headers(sign_ctx *c, const docstore__sigv4_result *r) {
  const docstore__sigv4_request *req = c->req;
  int have_host = 0;
  if (req->header_count > SIZE_MAX / sizeof *c->hdrs - 3)
    return DOCSTORE_EINVAL;
  c->hdrs = (chdr *)calloc(req->header_count + 3, sizeof *c->hdrs);
  if (c->hdrs == NULL)
    return DOCSTORE_ENOMEM;
  for (size_t i = 0; i < req->header_count; i++) {
    const docstore__sigv4_header *h = &req->headers[i];
    if (h->name == NULL || h->value == NULL || !valid_header_name(h->name) ||
        check_value(h->value) != 0)
      return DOCSTORE_EINVAL;
    DOCSTORE__GUARD(add_chdr(c, h->name, h->value));
    const char *n = c->hdrs[c->nh - 1].name;
    if (strcmp(n, "authorization") == 0 || strcmp(n, "x-amz-date") == 0 ||
        strcmp(n, "x-amz-security-token") == 0 ||
        (c->add_sha_hdr && strcmp(n, "x-amz-content-sha256") == 0))
      return DOCSTORE_EINVAL;
    have_host |= strcmp(n, "host") == 0;
  }
  if (!have_host)
    return DOCSTORE_EINVAL;
  if (!c->query_form) {
    DOCSTORE__GUARD(add_chdr(c, "x-amz-date", r->amz_date));
    if (c->sign_token)
      DOCSTORE__GUARD(add_chdr(c, "x-amz-security-token", c->token));
    if (c->add_sha_hdr)
      DOCSTORE__GUARD(
          add_chdr(c, "x-amz-content-sha256", r->priv_payload_hash));
  }
  qsort(c->hdrs, c->nh, sizeof *c->hdrs, chdr_cmp);
  return 0;
}

/* "host;x-amz-date;...": each name once, in order. */
static int signed_header_list(sign_ctx *c, docstore__sigv4_result *r) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < c->nh && rc == 0; i++) {
    if (i > 0 && strcmp(c->hdrs[i].name, c->hdrs[i - 1].name) == 0)
      continue;
    rc = docstore__buf_printf(&b, "%s%s", b.len ? ";" : "", c->hdrs[i].name);
  }
  return buf_take(&b, &r->signed_headers, rc);
}

static int scope_and_credential(sign_ctx *c, const docstore__sigv4_result *r) {
  c->scope = docstore__sprintf("%s/%s/%s/aws4_request",
                               r->credential_scope_date, c->region, c->service);
  if (c->scope)
    c->credential =
        docstore__sprintf("%s/%s", c->cred->access_key_id, c->scope);
  return c->credential ? 0 : DOCSTORE_ENOMEM;
}

/* The request's query, plus the X-Amz-* parameters of a presigned URL;
 * sorted by key, then value. */
static int canonical_query(sign_ctx *c, const docstore__sigv4_result *r) {
  DOCSTORE__GUARD(parse_query(c->qs, c->qs_len, c->query_form, &c->q));
  if (c->query_form) {
    const char *k[6], *v[6];
    size_t n = 0;
    k[n] = "X-Amz-Algorithm";
    v[n++] = DOCSTORE__SIGV4_ALGORITHM;
    k[n] = "X-Amz-Credential";
    v[n++] = c->credential;
    k[n] = "X-Amz-Date";
    v[n++] = r->amz_date;
    k[n] = "X-Amz-Expires";
    v[n++] = c->expires;
    if (c->sign_token) {
      k[n] = "X-Amz-Security-Token";
      v[n++] = c->token;
    }
    k[n] = "X-Amz-SignedHeaders";
    v[n++] = r->signed_headers;
    for (size_t i = 0; i < n; i++)
      DOCSTORE__GUARD(
          ql_add_raw(&c->q, k[i], strlen(k[i]), v[i], strlen(v[i])));
  }
  if (c->q.n > 1)
    qsort(c->q.items, c->q.n, sizeof *c->q.items, qparam_cmp);
  return 0;
}

/* method \n URI \n query \n headers \n\n signed headers \n payload hash */
static int canonical_request(sign_ctx *c, docstore__sigv4_result *r) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc = docstore__buf_printf(&b, "%s\n", c->req->method);
  if (rc == 0)
    rc = canonical_uri(c->path, c->path_len, c->opt, &b);
  if (rc == 0)
    rc = docstore__buf_puts(&b, "\n");
  for (size_t i = 0; i < c->q.n && rc == 0; i++)
    rc = docstore__buf_printf(&b, "%s%s=%s", i ? "&" : "", c->q.items[i].key,
                              c->q.items[i].val);
  if (rc == 0)
    rc = docstore__buf_puts(&b, "\n");
  for (size_t i = 0; i < c->nh && rc == 0; i++) {
    /* A repeated name: its values joined by commas on one line. */
    if (i > 0 && strcmp(c->hdrs[i].name, c->hdrs[i - 1].name) == 0)
      rc = docstore__buf_printf(&b, ",%s", c->hdrs[i].value);
    else
      rc = docstore__buf_printf(&b, "%s%s:%s", i ? "\n" : "", c->hdrs[i].name,
                                c->hdrs[i].value);
  }
  if (rc == 0)
    rc = docstore__buf_printf(&b, "\n\n%s\n%s", r->signed_headers,
                              r->priv_payload_hash);
  return buf_take(&b, &r->canonical_request, rc);
}

/* AWS4-HMAC-SHA256 \n date \n scope \n hex(SHA-256(canonical request)) */
static int string_to_sign(const sign_ctx *c, docstore__sigv4_result *r) {
  unsigned char md[32];
  char crhash[DOCSTORE__SIGV4_HEX_LEN];
  DOCSTORE__GUARD(
      sha256(r->canonical_request, strlen(r->canonical_request), md));
  docstore__hex_encode(crhash, md, sizeof md);
  r->string_to_sign = docstore__sprintf(
      DOCSTORE__SIGV4_ALGORITHM "\n%s\n%s\n%s", r->amz_date, c->scope, crhash);
  return r->string_to_sign ? 0 : DOCSTORE_ENOMEM;
}

/* hex(HMAC(signing key, string to sign)); the key is derived (or taken
 * from the cache) for the scope and wiped after use. */
static int signature(const sign_ctx *c, docstore__sigv4_key_cache *cache,
                     docstore__sigv4_result *r) {
  unsigned char key[DOCSTORE__SIGV4_KEY_LEN];
  unsigned char sig[32];
  int rc = docstore__sigv4_derive_key(cache, c->cred->secret_access_key,
                                      r->credential_scope_date, c->region,
                                      c->service, key);
  if (rc == 0)
    rc = hmac_sha256(key, sizeof key, r->string_to_sign,
                     strlen(r->string_to_sign), sig);
  if (rc == 0)
    docstore__hex_encode(r->signature, sig, sizeof sig);
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(sig, sizeof sig);
  return rc;
}

static int authorization_header(const sign_ctx *c, docstore__sigv4_result *r) {
  r->authorization = docstore__sprintf(
      DOCSTORE__SIGV4_ALGORITHM " Credential=%s, SignedHeaders=%s, "
                                "Signature=%s",
      c->credential, r->signed_headers, r->signature);
  return r->authorization ? 0 : DOCSTORE_ENOMEM;
}

/* The X-Amz-* parameters of a presigned URL (the token last but one, also
 * when it was not signed). */
static int presigned_query(const sign_ctx *c, docstore__sigv4_result *r) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc = docstore__buf_puts(&b, "X-Amz-Algorithm=" DOCSTORE__SIGV4_ALGORITHM
                                  "&X-Amz-Credential=");
  if (rc == 0)
    rc = buf_uri_encode(&b, c->credential, strlen(c->credential), 0);
  if (rc == 0)
    rc = docstore__buf_printf(
        &b, "&X-Amz-Date=%s&X-Amz-SignedHeaders=", r->amz_date);
  if (rc == 0)
    rc = buf_uri_encode(&b, r->signed_headers, strlen(r->signed_headers), 0);
  if (rc == 0)
    rc = docstore__buf_printf(&b, "&X-Amz-Expires=%s", c->expires);
  if (rc == 0 && c->token) {
    rc = docstore__buf_puts(&b, "&X-Amz-Security-Token=");
    if (rc == 0)
      rc = buf_uri_encode(&b, c->token, strlen(c->token), 0);
  }
  if (rc == 0)
    rc = docstore__buf_printf(&b, "&X-Amz-Signature=%s", r->signature);
  return buf_take(&b, &r->query_string, rc);
}

/* The headers to send in header form; values point into *res. */
static void result_headers(const sign_ctx *c, docstore__sigv4_result *res) {
  if (c->token) {
    res->headers[res->header_count].name = "X-Amz-Security-Token";
    res->headers[res->header_count++].value = res->priv_token;
  }
  res->headers[res->header_count].name = "X-Amz-Date";
  res->headers[res->header_count++].value = res->amz_date;
  if (c->add_sha_hdr) {
    res->headers[res->header_count].name = "x-amz-content-sha256";
    res->headers[res->header_count++].value = res->priv_payload_hash;
  }
  res->headers[res->header_count].name = "Authorization";
  res->headers[res->header_count++].value = res->authorization;
}

int docstore__sigv4_sign(const docstore__sigv4_request *req,
                         const docstore__sigv4_credentials *cred,
                         const char *region, const char *service,
                         const docstore__sigv4_options *opt,
                         docstore__sigv4_key_cache *cache,
                         docstore__sigv4_result *res) {
  docstore__sigv4_result r;
  sign_ctx c;
  int rc;

  if (res == NULL)
    return DOCSTORE_EINVAL;
  memset(res, 0, sizeof *res);
  memset(&r, 0, sizeof r);
  memset(&c, 0, sizeof c);
  rc = sign_args(&c, req, cred, region, service, opt);
  if (rc == 0)
    rc = sign_time(req, &r);
  if (rc == 0)
    rc = payload_hash(req->payload_hash, r.priv_payload_hash);
  if (rc == 0)
    rc = split_target(&c);
  if (rc == 0)
    rc = canonical_headers(&c, &r);
  if (rc == 0)
    rc = signed_header_list(&c, &r);
  if (rc == 0)
    rc = scope_and_credential(&c, &r);
  if (rc == 0)
    rc = canonical_query(&c, &r);
  if (rc == 0)
    rc = canonical_request(&c, &r);
  if (rc == 0)
    rc = string_to_sign(&c, &r);
  if (rc == 0)
    rc = signature(&c, cache, &r);
  if (rc == 0 && c.token && !(r.priv_token = docstore__strdup(c.token)))
    rc = DOCSTORE_ENOMEM;
  if (rc == 0)
    rc = c.query_form ? presigned_query(&c, &r) : authorization_header(&c, &r);
  if (rc == 0) {
    *res = r;
    memset(&r, 0, sizeof r);
    if (!c.query_form)
      result_headers(&c, res);
  }
  sign_ctx_free(&c);
  docstore__sigv4_result_free(&r);
  return rc;
}
