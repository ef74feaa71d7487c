/*
 * AWS Signature Version 4 request signer.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Pure: no network, no clock, no logging. See sigv4.h for the conventions.
 */
#include "s3/sigv4.h"

#include "docstore/common.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Small growable string buffer                                             */
/* ------------------------------------------------------------------------ */

typedef struct sbuf {
  char *data;
  size_t len;
  size_t cap;
  int oom;
} sbuf;

static int sb_reserve(sbuf *sb, size_t extra) {
  size_t need;
  size_t ncap;
  char *p;

  if (sb->oom)
    return -1;
  if (extra > SIZE_MAX - sb->len - 1) {
    sb->oom = 1;
    return -1;
  }
  need = sb->len + extra + 1;
  if (need <= sb->cap)
    return 0;
  ncap = sb->cap ? sb->cap : 128;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) {
      ncap = need;
      break;
    }
    ncap *= 2;
  }
  p = (char *)realloc(sb->data, ncap);
  if (p == NULL) {
    sb->oom = 1;
    return -1;
  }
  sb->data = p;
  sb->cap = ncap;
  return 0;
}

static void sb_putn(sbuf *sb, const char *s, size_t n) {
  if (sb_reserve(sb, n) != 0)
    return;
  if (n > 0)
    memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

static void sb_puts(sbuf *sb, const char *s) { sb_putn(sb, s, strlen(s)); }

static void sb_putc(sbuf *sb, char c) { sb_putn(sb, &c, 1); }

/* Returns the string (ownership moves to the caller) or NULL on OOM. */
static char *sb_take(sbuf *sb) {
  char *p;

  if (sb->oom) {
    free(sb->data);
    sb->data = NULL;
    return NULL;
  }
  if (sb->data == NULL) {
    p = (char *)malloc(1);
    if (p != NULL)
      p[0] = '\0';
    return p;
  }
  p = sb->data;
  sb->data = NULL;
  sb->len = sb->cap = 0;
  return p;
}

static void sb_free(sbuf *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
}

static char *dup_n(const char *s, size_t n) {
  char *p = (char *)malloc(n + 1);

  if (p == NULL)
    return NULL;
  if (n > 0)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

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

static void sb_uri_encode(sbuf *sb, const char *in, size_t len,
                          int keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;

  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];

    if (is_unreserved(c) || (keep_slash && c == '/')) {
      sb_putc(sb, (char)c);
    } else {
      char esc[3];

      esc[0] = '%';
      esc[1] = hex[c >> 4];
      esc[2] = hex[c & 0x0f];
      sb_putn(sb, esc, 3);
    }
  }
}

int docstore__sigv4_uri_encode(const char *in, size_t len, int keep_slash,
                               char **out) {
  sbuf sb = {NULL, 0, 0, 0};

  if (out == NULL)
    return DOCSTORE_EINVAL;
  *out = NULL;
  if (in == NULL && len > 0)
    return DOCSTORE_EINVAL;
  if (len > 0)
    sb_uri_encode(&sb, in, len, keep_slash);
  *out = sb_take(&sb);
  return *out ? 0 : DOCSTORE_ENOMEM;
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
      hi = OPENSSL_hexchar2int((unsigned char)in[i + 1]);
      lo = OPENSSL_hexchar2int((unsigned char)in[i + 2]);
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

static void to_hex(const unsigned char *in, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < n; i++) {
    out[2 * i] = hex[in[i] >> 4];
    out[2 * i + 1] = hex[in[i] & 0x0f];
  }
  out[2 * n] = '\0';
}

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
  to_hex(md, sizeof md, out);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Dates                                                                    */
/* ------------------------------------------------------------------------ */

static int is_leap(long y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

  return (m == 2 && is_leap(y)) ? 29 : dm[m - 1];
}

int docstore__sigv4_format_amz_date(time_t t,
                                    char out[DOCSTORE__SIGV4_AMZ_DATE_LEN]) {
  /* Civil-from-days (H. Hinnant), for non-negative day counts. */
  long long secs;
  long long days;
  long long rem;
  long long z;
  long long era;
  long long doe;
  long long yoe;
  long long y;
  long long doy;
  long long mp;
  long long d;
  long long m;
  int hh;
  int mi;
  int ss;
  int i;
  char buf[DOCSTORE__SIGV4_AMZ_DATE_LEN];

  if (out == NULL)
    return DOCSTORE_EINVAL;
  if (t < 0)
    return DOCSTORE_EINVAL;
  secs = (long long)t;
  days = secs / 86400;
  rem = secs % 86400;
  hh = (int)(rem / 3600);
  mi = (int)((rem % 3600) / 60);
  ss = (int)(rem % 60);
  z = days + 719468;
  era = z / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    y++;
  if (y > 9999)
    return DOCSTORE_EINVAL;

  for (i = 3; i >= 0; i--) {
    buf[i] = (char)('0' + y % 10);
    y /= 10;
  }
  buf[4] = (char)('0' + m / 10);
  buf[5] = (char)('0' + m % 10);
  buf[6] = (char)('0' + d / 10);
  buf[7] = (char)('0' + d % 10);
  buf[8] = 'T';
  buf[9] = (char)('0' + hh / 10);
  buf[10] = (char)('0' + hh % 10);
  buf[11] = (char)('0' + mi / 10);
  buf[12] = (char)('0' + mi % 10);
  buf[13] = (char)('0' + ss / 10);
  buf[14] = (char)('0' + ss % 10);
  buf[15] = 'Z';
  buf[16] = '\0';
  memcpy(out, buf, sizeof buf);
  return 0;
}

static int digits(const char *s, int n, long *val) {
  long v = 0;
  int i;

  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *val = v;
  return 0;
}

static int validate_amz_date(const char *s) {
  long y;
  long mo;
  long d;
  long h;
  long mi;
  long se;

  if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
    return DOCSTORE_EINVAL;
  if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
      digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
    return DOCSTORE_EINVAL;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) ||
      h > 23 || mi > 59 || se > 59)
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
  free(r->canonical_request);
  free(r->string_to_sign);
  free(r->signed_headers);
  free(r->authorization);
  free(r->query_string);
  if (r->priv_token != NULL) {
    OPENSSL_cleanse(r->priv_token, strlen(r->priv_token));
    free(r->priv_token);
  }
  memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------ */
/* Canonical URI                                                            */
/* ------------------------------------------------------------------------ */

/* Removes "." and ".." segments and empty segments ("//"). Keeps a trailing
 * '/' when the input had one. Result always starts with '/'. */
static char *normalize_path(const char *p, size_t len) {
  /* segments as (start, length) pairs on a stack */
  size_t *starts;
  size_t *lens;
  size_t nseg = 0;
  size_t i = 0;
  sbuf sb = {NULL, 0, 0, 0};
  size_t max_segs = len / 2 + 2;

  starts = (size_t *)malloc(max_segs * sizeof *starts);
  lens = (size_t *)malloc(max_segs * sizeof *lens);
  if (starts == NULL || lens == NULL) {
    free(starts);
    free(lens);
    return NULL;
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
  for (i = 0; i < nseg; i++) {
    sb_putc(&sb, '/');
    sb_putn(&sb, p + starts[i], lens[i]);
  }
  if (nseg == 0 || (len > 0 && p[len - 1] == '/'))
    sb_putc(&sb, '/');
  free(starts);
  free(lens);
  return sb_take(&sb);
}

/* Single-encoded path must only hold unreserved, '/', and %XX. */
static int check_encoded_path(const char *p, size_t len) {
  size_t i;

  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];

    if (c == '%') {
      if (i + 2 >= len || OPENSSL_hexchar2int((unsigned char)p[i + 1]) < 0 ||
          OPENSSL_hexchar2int((unsigned char)p[i + 2]) < 0)
        return DOCSTORE_EINVAL;
      i += 2;
    } else if (!is_unreserved(c) && c != '/') {
      return DOCSTORE_EINVAL;
    }
  }
  return 0;
}

static int canonical_uri(const char *path, size_t len,
                         const docstore__sigv4_options *o, sbuf *out) {
  char *norm = NULL;
  const char *p = path;
  int rc;

  if (len == 0 || path[0] != '/')
    return DOCSTORE_EINVAL;
  if (o->normalize_path) {
    norm = normalize_path(path, len);
    if (norm == NULL)
      return DOCSTORE_ENOMEM;
    p = norm;
    len = strlen(norm);
  }
  if (o->double_encode_path) {
    sb_uri_encode(out, p, len, 1);
    rc = 0;
  } else {
    rc = check_encoded_path(p, len);
    if (rc == 0)
      sb_putn(out, p, len);
  }
  free(norm);
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
    free(q->items[i].key);
    if (q->items[i].val != NULL) {
      /* may hold an encoded session token */
      OPENSSL_cleanse(q->items[i].val, strlen(q->items[i].val));
      free(q->items[i].val);
    }
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
    free(ek);
    free(ev);
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

  p = dup_n(name, n);
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
  char *p = (char *)malloc(n + 1);
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
    free(h[i].name);
    if (h[i].value != NULL) {
      OPENSSL_cleanse(h[i].value, strlen(h[i].value));
      free(h[i].value);
    }
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
    if (OPENSSL_hexchar2int((unsigned char)in[i]) < 0)
      return DOCSTORE_EINVAL;
    out[i] = ascii_lower(in[i]);
  }
  out[64] = '\0';
  return 0;
}

int docstore__sigv4_sign(const docstore__sigv4_request *req,
                         const docstore__sigv4_credentials *cred,
                         const char *region, const char *service,
                         const docstore__sigv4_options *opt,
                         docstore__sigv4_key_cache *cache,
                         docstore__sigv4_result *res) {
  docstore__sigv4_result r;
  const char *path;
  size_t path_len;
  const char *qs;
  size_t qs_len;
  const char *token;
  int has_token;
  int sign_token;
  int query_form;
  int add_sha_hdr;
  chdr *hdrs = NULL;
  size_t nh = 0;
  size_t i;
  qlist q = {NULL, 0, 0};
  sbuf cr = {NULL, 0, 0, 0};
  sbuf sb = {NULL, 0, 0, 0};
  char scope_buf[9];
  char *scope = NULL;
  char *credential = NULL;
  char expires_buf[24];
  unsigned char md[32];
  unsigned char key[DOCSTORE__SIGV4_KEY_LEN];
  unsigned char sig[32];
  int have_host = 0;
  int rc;

  if (res != NULL)
    memset(res, 0, sizeof *res);
  memset(&r, 0, sizeof r);
  if (req == NULL || cred == NULL || opt == NULL || res == NULL)
    return DOCSTORE_EINVAL;
  if (!valid_method(req->method) || !valid_access_key(cred->access_key_id) ||
      cred->secret_access_key == NULL || cred->secret_access_key[0] == '\0' ||
      !valid_scope_part(region) || !valid_scope_part(service) ||
      (req->headers == NULL && req->header_count > 0))
    return DOCSTORE_EINVAL;
  if (opt->form != DOCSTORE__SIGV4_FORM_HEADER &&
      opt->form != DOCSTORE__SIGV4_FORM_QUERY)
    return DOCSTORE_EINVAL;
  query_form = opt->form == DOCSTORE__SIGV4_FORM_QUERY;
  if (query_form && (opt->expires_seconds < 1 ||
                     opt->expires_seconds > DOCSTORE__SIGV4_MAX_EXPIRES))
    return DOCSTORE_EINVAL;
  add_sha_hdr = !query_form && opt->add_content_sha256_header;

  /* time */
  if (req->amz_date != NULL) {
    if (validate_amz_date(req->amz_date) != 0)
      return DOCSTORE_EINVAL;
    memcpy(r.amz_date, req->amz_date, DOCSTORE__SIGV4_AMZ_DATE_LEN);
  } else {
    rc = docstore__sigv4_format_amz_date(req->timestamp, r.amz_date);
    if (rc != 0)
      return rc;
  }
  memcpy(r.credential_scope_date, r.amz_date, 8);
  r.credential_scope_date[8] = '\0';
  memcpy(scope_buf, r.credential_scope_date, 9);

  rc = payload_hash(req->payload_hash, r.priv_payload_hash);
  if (rc != 0)
    return rc;

  token = cred->session_token;
  has_token = token != NULL && token[0] != '\0';
  if (has_token && !valid_token(token))
    return DOCSTORE_EINVAL;
  sign_token = has_token && !opt->session_token_after_signing;

  /* target */
  if (req->target != NULL) {
    const char *qm = strchr(req->target, '?');

    path = req->target;
    if (qm != NULL) {
      path_len = (size_t)(qm - req->target);
      qs = qm + 1;
      qs_len = strlen(qs);
    } else {
      path_len = strlen(req->target);
      qs = "";
      qs_len = 0;
    }
  } else {
    if (req->path == NULL)
      return DOCSTORE_EINVAL;
    path = req->path;
    path_len = strlen(path);
    if (memchr(path, '?', path_len) != NULL)
      return DOCSTORE_EINVAL;
    qs = req->query != NULL ? req->query : "";
    qs_len = strlen(qs);
  }

  /* ---- headers ---- */
  if (req->header_count > SIZE_MAX / sizeof *hdrs - 3)
    return DOCSTORE_EINVAL;
  hdrs = (chdr *)calloc(req->header_count + 3, sizeof *hdrs);
  if (hdrs == NULL)
    return DOCSTORE_ENOMEM;
  rc = 0;
  for (i = 0; i < req->header_count && rc == 0; i++) {
    const docstore__sigv4_header *h = &req->headers[i];
    char *n;

    if (h->name == NULL || h->value == NULL || !valid_header_name(h->name) ||
        check_value(h->value) != 0) {
      rc = DOCSTORE_EINVAL;
      break;
    }
    n = canon_name(h->name);
    if (n == NULL) {
      rc = DOCSTORE_ENOMEM;
      break;
    }
    hdrs[nh].name = n;
    hdrs[nh].order = nh;
    nh++;
    if (strcmp(n, "authorization") == 0 || strcmp(n, "x-amz-date") == 0 ||
        strcmp(n, "x-amz-security-token") == 0 ||
        (add_sha_hdr && strcmp(n, "x-amz-content-sha256") == 0)) {
      rc = DOCSTORE_EINVAL;
      break;
    }
    if (strcmp(n, "host") == 0)
      have_host = 1;
    hdrs[nh - 1].value = canon_value(h->value);
    if (hdrs[nh - 1].value == NULL)
      rc = DOCSTORE_ENOMEM;
  }
  if (rc == 0 && !have_host)
    rc = DOCSTORE_EINVAL;
  if (rc == 0 && !query_form) {
    const char *add_n[3];
    const char *add_v[3];
    size_t na = 0;
    size_t k;

    add_n[na] = "x-amz-date";
    add_v[na++] = r.amz_date;
    if (sign_token) {
      add_n[na] = "x-amz-security-token";
      add_v[na++] = token;
    }
    if (add_sha_hdr) {
      add_n[na] = "x-amz-content-sha256";
      add_v[na++] = r.priv_payload_hash;
    }
    for (k = 0; k < na && rc == 0; k++) {
      hdrs[nh].name = dup_n(add_n[k], strlen(add_n[k]));
      hdrs[nh].value = canon_value(add_v[k]);
      hdrs[nh].order = nh;
      nh++;
      if (hdrs[nh - 1].name == NULL || hdrs[nh - 1].value == NULL)
        rc = DOCSTORE_ENOMEM;
    }
  }
  if (rc != 0)
    goto out;
  qsort(hdrs, nh, sizeof *hdrs, chdr_cmp);

  /* signed headers list */
  for (i = 0; i < nh; i++) {
    if (i > 0 && strcmp(hdrs[i].name, hdrs[i - 1].name) == 0)
      continue;
    if (sb.len > 0)
      sb_putc(&sb, ';');
    sb_puts(&sb, hdrs[i].name);
  }
  r.signed_headers = sb_take(&sb);
  if (r.signed_headers == NULL) {
    rc = DOCSTORE_ENOMEM;
    goto out;
  }

  /* scope and credential */
  sb_puts(&sb, scope_buf);
  sb_putc(&sb, '/');
  sb_puts(&sb, region);
  sb_putc(&sb, '/');
  sb_puts(&sb, service);
  sb_puts(&sb, "/aws4_request");
  scope = sb_take(&sb);
  if (scope == NULL) {
    rc = DOCSTORE_ENOMEM;
    goto out;
  }
  sb_puts(&sb, cred->access_key_id);
  sb_putc(&sb, '/');
  sb_puts(&sb, scope);
  credential = sb_take(&sb);
  if (credential == NULL) {
    rc = DOCSTORE_ENOMEM;
    goto out;
  }

  /* ---- query ---- */
  rc = parse_query(qs, qs_len, query_form, &q);
  if (rc != 0)
    goto out;
  if (query_form) {
    long e = opt->expires_seconds;
    size_t pos = sizeof expires_buf - 1;

    expires_buf[pos] = '\0';
    do {
      expires_buf[--pos] = (char)('0' + e % 10);
      e /= 10;
    } while (e > 0);
    memmove(expires_buf, expires_buf + pos, sizeof expires_buf - pos);

#define ADDQ(k, v)                                                             \
  do {                                                                         \
    if (rc == 0)                                                               \
      rc = ql_add_raw(&q, (k), strlen(k), (v), strlen(v));                     \
  } while (0)
    ADDQ("X-Amz-Algorithm", DOCSTORE__SIGV4_ALGORITHM);
    ADDQ("X-Amz-Credential", credential);
    ADDQ("X-Amz-Date", r.amz_date);
    ADDQ("X-Amz-Expires", expires_buf);
    if (sign_token)
      ADDQ("X-Amz-Security-Token", token);
    ADDQ("X-Amz-SignedHeaders", r.signed_headers);
#undef ADDQ
    if (rc != 0)
      goto out;
  }
  if (q.n > 1)
    qsort(q.items, q.n, sizeof *q.items, qparam_cmp);

  /* ---- canonical request ---- */
  sb_puts(&cr, req->method);
  sb_putc(&cr, '\n');
  rc = canonical_uri(path, path_len, opt, &cr);
  if (rc != 0)
    goto out;
  sb_putc(&cr, '\n');
  for (i = 0; i < q.n; i++) {
    if (i > 0)
      sb_putc(&cr, '&');
    sb_puts(&cr, q.items[i].key);
    sb_putc(&cr, '=');
    sb_puts(&cr, q.items[i].val);
  }
  sb_putc(&cr, '\n');
  for (i = 0; i < nh; i++) {
    if (i > 0 && strcmp(hdrs[i].name, hdrs[i - 1].name) == 0) {
      sb_putc(&cr, ',');
    } else {
      if (i > 0)
        sb_putc(&cr, '\n');
      sb_puts(&cr, hdrs[i].name);
      sb_putc(&cr, ':');
    }
    sb_puts(&cr, hdrs[i].value);
  }
  sb_putc(&cr, '\n');
  sb_putc(&cr, '\n');
  sb_puts(&cr, r.signed_headers);
  sb_putc(&cr, '\n');
  sb_puts(&cr, r.priv_payload_hash);
  if (cr.oom) {
    rc = DOCSTORE_ENOMEM;
    goto out;
  }

  /* ---- string to sign ---- */
  {
    char crhash[DOCSTORE__SIGV4_HEX_LEN];

    rc = sha256(cr.data, cr.len, md);
    if (rc != 0)
      goto out;
    to_hex(md, sizeof md, crhash);
    sb_puts(&sb, DOCSTORE__SIGV4_ALGORITHM "\n");
    sb_puts(&sb, r.amz_date);
    sb_putc(&sb, '\n');
    sb_puts(&sb, scope);
    sb_putc(&sb, '\n');
    sb_puts(&sb, crhash);
  }
  r.canonical_request = sb_take(&cr);
  r.string_to_sign = sb_take(&sb);
  if (r.canonical_request == NULL || r.string_to_sign == NULL) {
    rc = DOCSTORE_ENOMEM;
    goto out;
  }

  /* ---- signature ---- */
  rc =
      docstore__sigv4_derive_key(cache, cred->secret_access_key,
                                 r.credential_scope_date, region, service, key);
  if (rc != 0)
    goto out;
  rc = hmac_sha256(key, sizeof key, r.string_to_sign, strlen(r.string_to_sign),
                   sig);
  OPENSSL_cleanse(key, sizeof key);
  if (rc != 0)
    goto out;
  to_hex(sig, sizeof sig, r.signature);

  if (has_token) {
    r.priv_token = dup_n(token, strlen(token));
    if (r.priv_token == NULL) {
      rc = DOCSTORE_ENOMEM;
      goto out;
    }
  }

  /* ---- output ---- */
  if (!query_form) {
    sb_puts(&sb, DOCSTORE__SIGV4_ALGORITHM " Credential=");
    sb_puts(&sb, credential);
    sb_puts(&sb, ", SignedHeaders=");
    sb_puts(&sb, r.signed_headers);
    sb_puts(&sb, ", Signature=");
    sb_puts(&sb, r.signature);
    r.authorization = sb_take(&sb);
    if (r.authorization == NULL) {
      rc = DOCSTORE_ENOMEM;
      goto out;
    }
  } else {
    sb_puts(&sb,
            "X-Amz-Algorithm=" DOCSTORE__SIGV4_ALGORITHM "&X-Amz-Credential=");
    sb_uri_encode(&sb, credential, strlen(credential), 0);
    sb_puts(&sb, "&X-Amz-Date=");
    sb_puts(&sb, r.amz_date);
    sb_puts(&sb, "&X-Amz-SignedHeaders=");
    sb_uri_encode(&sb, r.signed_headers, strlen(r.signed_headers), 0);
    sb_puts(&sb, "&X-Amz-Expires=");
    sb_puts(&sb, expires_buf);
    if (has_token) {
      sb_puts(&sb, "&X-Amz-Security-Token=");
      sb_uri_encode(&sb, token, strlen(token), 0);
    }
    sb_puts(&sb, "&X-Amz-Signature=");
    sb_puts(&sb, r.signature);
    r.query_string = sb_take(&sb);
    if (r.query_string == NULL) {
      rc = DOCSTORE_ENOMEM;
      goto out;
    }
  }
  *res = r;
  memset(&r, 0, sizeof r);
  if (!query_form) {
    /* values point into *res (not into the local copy) */
    if (has_token) {
      res->headers[res->header_count].name = "X-Amz-Security-Token";
      res->headers[res->header_count++].value = res->priv_token;
    }
    res->headers[res->header_count].name = "X-Amz-Date";
    res->headers[res->header_count++].value = res->amz_date;
    if (add_sha_hdr) {
      res->headers[res->header_count].name = "x-amz-content-sha256";
      res->headers[res->header_count++].value = res->priv_payload_hash;
    }
    res->headers[res->header_count].name = "Authorization";
    res->headers[res->header_count++].value = res->authorization;
  }
  rc = 0;

out:
  OPENSSL_cleanse(sig, sizeof sig);
  chdrs_free(hdrs, nh);
  ql_free(&q);
  sb_free(&cr);
  sb_free(&sb);
  free(scope);
  free(credential);
  docstore__sigv4_result_free(&r);
  return rc;
}
