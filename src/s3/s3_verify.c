/*
 * libdocstore - checking a downloaded object against what the server says
 * of it.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A GET can go wrong without any transport error: a proxy or a faulty
 * disk flips a bit, a server sends fewer bytes and a Content-Length to
 * match, or a resumed range comes from another object.  A reader that does
 * not decrypt (`docstore get --raw`, a migration's read-back) would hand
 * such bytes on as good.  So every whole-object GET is checked here with
 * what the reply offers:
 *
 *   - the object's size (the first reply's Content-Length, or the total of
 *     its Content-Range) against the bytes received, resumes included;
 *   - an ETag of 32 hex digits is the MD5 of a single-part object (unless
 *     the object is encrypted with SSE-KMS or SSE-C, whose ETags are not),
 *     so the MD5 of the bytes must equal it (when no checksum below is
 *     offered);
 *   - a multipart ETag "<hex>-N" cannot be recomputed without the part
 *     sizes; only N is checked (1..10000, and no more non-empty parts
 *     than bytes);
 *   - an x-amz-checksum-crc32 / -crc32c / -sha1 / -sha256 header (base64 of
 *     a full-object checksum) must match; composite values ("...-N") are
 *     checksums of part checksums and are skipped like the multipart ETag.
 *
 * Resumed reads (s3_http.c) insist on the first reply's ETag with If-Match
 * and refuse a reply with another ETag or another start offset.
 *
 * When the reply carries a full-object x-amz-checksum-*, that is checked
 * and the ETag's MD5 is not computed: one digest suffices, and CRC-32C
 * (hardware) costs a small fraction of MD5 per byte.  A composite checksum
 * falls back on the ETag.
 *
 * MD5, SHA-1 and SHA-256 are OpenSSL's (EVP), like every other digest in
 * the library; the CRCs are in s3_crc.c.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "s3/s3_internal.h"

/* ------------------------------------------------------- the checker */

static const char *const sum_names[] = {"", "crc32", "crc32c", "sha1",
                                        "sha256"};

int docstore__s3_checksum_kind(const char *name) {
  for (int i = 1; i < (int)(sizeof(sum_names) / sizeof(sum_names[0])); i++)
    if (strcasecmp(name, sum_names[i]) == 0)
      return i;
  return DOCSTORE__S3_SUM_NONE;
}

/* The hex digest of a single-part ETag ("<32 hex>", quotes optional), or
 * NULL; *parts gets N of a multipart ETag "<hex>-N" (else 0). */
static const char *etag_md5(const char *etag, char hex[33],
                            unsigned long *parts) {
  size_t n = strlen(etag);
  *parts = 0;
  if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
    etag++;
    n -= 2;
  }
  const char *dash = memchr(etag, '-', n);
  if (dash) {
    unsigned long v = 0;
    const char *p = dash + 1;
    if (p == etag + n)
      return NULL;
    for (; p < etag + n; p++) {
      if (*p < '0' || *p > '9' || v > 100000)
        return NULL;
      v = v * 10 + (unsigned long)(*p - '0');
    }
    *parts = v ? v : ULONG_MAX; /* "-0" is no part count */
    return NULL;
  }
  if (n != 32)
    return NULL;
  for (size_t i = 0; i < 32; i++) {
    char c = etag[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
          (c >= 'A' && c <= 'F')))
      return NULL;
    hex[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  }
  hex[32] = '\0';
  return hex;
}

void docstore__s3_verify_free(docstore__s3_verify *v) {
  EVP_MD_CTX_free(v->md5);
  EVP_MD_CTX_free(v->sha);
  memset(v, 0, sizeof(*v));
}

int docstore__s3_verify_begin(docstore__s3_verify *v,
                              const docstore__s3_resp *first) {
  docstore__s3_verify_free(v);
  v->active = 1;
  docstore__strlcpy(v->etag, first->etag, sizeof(v->etag));
  if (first->status == 206)
    v->size = first->has_content_range ? first->range_total : UINT64_MAX;
  else
    v->size = first->has_content_length ? first->content_length : UINT64_MAX;

  v->sum = docstore__s3_checksum_kind(first->checksum_algo);
  /* A composite checksum ("<base64>-N") is not of the bytes. */
  if (v->sum && strchr(first->checksum, '-'))
    v->sum = DOCSTORE__S3_SUM_NONE;

  /* The ETag's MD5 only when there is no full-object checksum to check
   * (the multipart part count is checked either way). */
  char hex[33];
  if (etag_md5(first->etag, hex, &v->parts) && !first->etag_not_md5 &&
      !v->sum) {
    memcpy(v->md5_hex, hex, sizeof(hex));
    v->md5 = EVP_MD_CTX_new();
    if (!v->md5 || EVP_DigestInit_ex(v->md5, EVP_md5(), NULL) != 1)
      return DOCSTORE_ECRYPTO;
  }
  if (v->sum) {
    docstore__strlcpy(v->sum_want, first->checksum, sizeof(v->sum_want));
    if (v->sum == DOCSTORE__S3_SUM_SHA1 || v->sum == DOCSTORE__S3_SUM_SHA256) {
      v->sha = EVP_MD_CTX_new();
      if (!v->sha ||
          EVP_DigestInit_ex(v->sha,
                            v->sum == DOCSTORE__S3_SUM_SHA1 ? EVP_sha1()
                                                            : EVP_sha256(),
                            NULL) != 1)
        return DOCSTORE_ECRYPTO;
    }
  }
  return 0;
}

int docstore__s3_verify_update(docstore__s3_verify *v, const uint8_t *p,
                               size_t n) {
  if (!v->active)
    return 0;
  v->seen += n;
  if (v->md5 && EVP_DigestUpdate(v->md5, p, n) != 1)
    return DOCSTORE_ECRYPTO;
  if (v->sha && EVP_DigestUpdate(v->sha, p, n) != 1)
    return DOCSTORE_ECRYPTO;
  if (v->sum == DOCSTORE__S3_SUM_CRC32)
    v->crc = docstore__s3_crc32(v->crc, p, n);
  else if (v->sum == DOCSTORE__S3_SUM_CRC32C)
    v->crc = docstore__s3_crc32c(v->crc, p, n);
  return 0;
}

/* base64 of the checksum computed so far into out (at least 64 bytes). */
static int sum_base64(docstore__s3_verify *v, char *out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (v->sum == DOCSTORE__S3_SUM_CRC32 || v->sum == DOCSTORE__S3_SUM_CRC32C) {
    md[0] = (unsigned char)(v->crc >> 24);
    md[1] = (unsigned char)(v->crc >> 16);
    md[2] = (unsigned char)(v->crc >> 8);
    md[3] = (unsigned char)v->crc;
    len = 4;
  } else if (EVP_DigestFinal_ex(v->sha, md, &len) != 1) {
    return DOCSTORE_ECRYPTO;
  }
  EVP_EncodeBlock((unsigned char *)out, md, (int)len);
  return 0;
}

int docstore__s3_verify_end(docstore__s3_verify *v, const char *what,
                            docstore__err *err) {
  if (!v->active)
    return 0;
  if (v->size != UINT64_MAX && v->seen != v->size)
    return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                             "S3 GET %s: received %llu bytes of an object of "
                             "%llu: refused as corrupt",
                             what, (unsigned long long)v->seen,
                             (unsigned long long)v->size);
  if (v->parts && (v->parts > DOCSTORE__S3_MAX_PARTS || v->parts - 1 > v->seen))
    return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                             "S3 GET %s: the multipart ETag %.100s does not "
                             "fit an object of %llu bytes: refused as corrupt",
                             what, v->etag, (unsigned long long)v->seen);
  if (v->md5) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char hex[33];
    if (EVP_DigestFinal_ex(v->md5, md, &len) != 1 || len != 16)
      return docstore__err_set(err, DOCSTORE_ECRYPTO, "S3 GET %s: MD5 failed",
                               what);
    for (unsigned int i = 0; i < 16; i++)
      snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (strcmp(hex, v->md5_hex) != 0)
      return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                               "S3 GET %s: the body's MD5 %s differs from its "
                               "ETag %.100s: refused as corrupt",
                               what, hex, v->etag);
  }
  if (v->sum) {
    char got[96];
    if (sum_base64(v, got) < 0)
      return docstore__err_set(err, DOCSTORE_ECRYPTO,
                               "S3 GET %s: checksum failed", what);
    if (strcmp(got, v->sum_want) != 0)
      return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                               "S3 GET %s: the body's %s is %s, the server's "
                               "x-amz-checksum-%s says %.80s: refused as "
                               "corrupt",
                               what, sum_names[v->sum], got, sum_names[v->sum],
                               v->sum_want);
  }
  return 0;
}
