/*
 * What the integrity of an S3 upload costs the client (docs/SECURITY.md,
 * "Integrity in transit"; the defaults of S3_CHECKSUM_ALGORITHM and
 * S3_PAYLOAD_SIGNING in docs/CONFIG.md rest on these figures).
 *
 *   docstore_s3_integrity_bench [--quick] [--gib N] [--primitives-only]
 *
 * 1. CPU seconds per GiB of each primitive the policies use, in this
 *    process: CRC-32C (SSE4.2 instruction, and tables), CRC-32 (tables),
 *    SHA-256 and MD5 (OpenSSL), with memcpy as the reference.
 * 2. With the S3_* variables of tools/with-test-servers.sh: N GiB
 *    uploaded to the server (PutObject of 64 MiB objects of object data,
 *    one at a time, through the library's request layer) under each
 *    policy, signed or UNSIGNED-PAYLOAD times no checksum, CRC-32C or
 *    Content-MD5, over http, and the two defaults over the TLS front
 *    (DOCSTORE_TEST_S3_TLS_ENDPOINT): the client's CPU (getrusage, user +
 *    system) per GiB, and its ratio to "unsigned, none" over the same
 *    transport in the same run.  Wall time is shown but depends on the
 *    server sharing the machine.
 *
 * Figures only; `--quick` uses 1/16 of the data.  Without the S3_*
 * variables it fails, unless `--primitives-only` (part 1 alone).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "s3/s3_internal.h"

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * MIB)

static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------- primitives */

enum { P_MEMCPY, P_CRC32C_HW, P_CRC32C_SW, P_CRC32, P_SHA256, P_MD5 };

static volatile uint32_t sink32;

/* CPU seconds to run primitive `which` over `total` bytes (the buffer
 * again and again). */
static double run_primitive(int which, const uint8_t *buf, size_t len,
                            uint8_t *scratch, double total) {
  double t0 = cpu_now();
  double done = 0;
  uint32_t c = 0;
  EVP_MD_CTX *ctx = NULL;
  if (which == P_SHA256 || which == P_MD5) {
    ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, which == P_SHA256 ? EVP_sha256() : EVP_md5(), NULL);
  }
  while (done < total) {
    switch (which) {
    case P_MEMCPY:
      memcpy(scratch, buf, len);
      c ^= scratch[len / 2];
      break;
    case P_CRC32C_HW:
      c = docstore__s3_crc32c(c, buf, len);
      break;
    case P_CRC32C_SW:
      c = docstore__s3_crc32c_sw(c, buf, len);
      break;
    case P_CRC32:
      c = docstore__s3_crc32(c, buf, len);
      break;
    default:
      EVP_DigestUpdate(ctx, buf, len);
      break;
    }
    done += (double)len;
  }
  if (ctx) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n;
    EVP_DigestFinal_ex(ctx, md, &n);
    c ^= md[0];
    EVP_MD_CTX_free(ctx);
  }
  sink32 = c;
  return (cpu_now() - t0) * GIB / total;
}

static void primitives(const uint8_t *buf, size_t len, double total) {
  static const struct {
    int which;
    const char *name;
  } rows[] = {{P_MEMCPY, "memcpy (reference)"},
              {P_CRC32C_HW, "CRC-32C, docstore__s3_crc32c"},
              {P_CRC32C_SW, "CRC-32C, tables (slicing by 8)"},
              {P_CRC32, "CRC-32, tables (slicing by 8)"},
              {P_SHA256, "SHA-256 (OpenSSL)"},
              {P_MD5, "MD5 (OpenSSL)"}};
  uint8_t *scratch = malloc(len);
  if (!scratch)
    exit(1);
  memset(scratch, 0, len); /* its pages mapped before the clock starts */
  printf("Primitives: CPU seconds per GiB (%.0f MiB in a %.0f MiB buffer); "
         "CRC-32C path: %s\n\n",
         total / MIB, (double)len / MIB,
         docstore__s3_crc32c_hw() ? "SSE4.2 instruction" : "tables");
  printf("  %-32s %10s %10s %12s\n", "primitive", "s/GiB", "GiB/s", "x memcpy");
  double ref = 0;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    double s = run_primitive(rows[i].which, buf, len, scratch, total);
    if (i == 0)
      ref = s;
    printf("  %-32s %10.3f %10.2f %12.1f\n", rows[i].name, s,
           s > 0 ? 1.0 / s : 0.0, ref > 0 ? s / ref : 0.0);
  }
  printf("\n");
  free(scratch);
}

/* ------------------------------------------------------------ uploads */

typedef struct policy {
  const char *name;
  int tls;
  int signing;
  int checksum;
} policy;

static const policy policies[] = {
    {"http  unsigned, none (reference)", 0, DOCSTORE_S3_PAYLOAD_UNSIGNED,
     DOCSTORE_S3_CHECKSUM_NONE},
    {"http  signed,   none  [http default]", 0, DOCSTORE_S3_PAYLOAD_SIGNED,
     DOCSTORE_S3_CHECKSUM_NONE},
    {"http  unsigned, crc32c", 0, DOCSTORE_S3_PAYLOAD_UNSIGNED,
     DOCSTORE_S3_CHECKSUM_CRC32C},
    {"http  signed,   crc32c", 0, DOCSTORE_S3_PAYLOAD_SIGNED,
     DOCSTORE_S3_CHECKSUM_CRC32C},
    {"http  unsigned, md5", 0, DOCSTORE_S3_PAYLOAD_UNSIGNED,
     DOCSTORE_S3_CHECKSUM_MD5},
    {"http  signed,   md5", 0, DOCSTORE_S3_PAYLOAD_SIGNED,
     DOCSTORE_S3_CHECKSUM_MD5},
    {"https unsigned, none (reference)", 1, DOCSTORE_S3_PAYLOAD_UNSIGNED,
     DOCSTORE_S3_CHECKSUM_NONE},
    {"https unsigned, crc32c [https default]", 1, DOCSTORE_S3_PAYLOAD_UNSIGNED,
     DOCSTORE_S3_CHECKSUM_CRC32C},
    {"https signed,   none", 1, DOCSTORE_S3_PAYLOAD_SIGNED,
     DOCSTORE_S3_CHECKSUM_NONE},
    {"https unsigned, md5", 1, DOCSTORE_S3_PAYLOAD_UNSIGNED,
     DOCSTORE_S3_CHECKSUM_MD5},
};

static docstore__s3 *open_s3(const policy *p) {
  docstore_s3_options o;
  docstore_s3_options_init(&o, DOCSTORE_S3_OPTIONS_VERSION);
  o.bucket = getenv("S3_BUCKET");
  o.access_key = getenv("S3_ACCESS_KEY");
  o.secret_key = getenv("S3_SECRET_KEY");
  o.region = getenv("S3_REGION");
  o.endpoint_url = getenv("S3_ENDPOINT_URL");
  if (p->tls) {
    o.endpoint_url = getenv("DOCSTORE_TEST_S3_TLS_ENDPOINT");
    o.ca_bundle = getenv("DOCSTORE_TEST_S3_CA_BUNDLE");
  }
  o.payload_signing = p->signing;
  o.checksum = p->checksum;
  docstore__s3 *s3 = NULL;
  docstore__err err;
  docstore__err_clear(&err);
  if (docstore__s3_new(&s3, &o, NULL, &err) != 0) {
    fprintf(stderr, "%s: %s\n", p->name, err.msg);
    return NULL;
  }
  return s3;
}

static int request(docstore__s3 *s3, const char *method, const char *key,
                   const uint8_t *body, size_t len, int *proven) {
  docstore__s3_req req;
  memset(&req, 0, sizeof(req));
  req.op = body ? DOCSTORE_OP_PUT : DOCSTORE_OP_DELETE;
  req.method = method;
  req.key = key;
  req.body = body;
  req.body_len = len;
  req.send_body = body != NULL;
  req.object_data = body != NULL;
  docstore__s3_resp resp;
  docstore__err err;
  docstore__err_clear(&err);
  int rc = docstore__s3_request(s3, &req, &resp, &err);
  if (rc != 0)
    fprintf(stderr, "S3 %s %s: %s\n", method, key, err.msg);
  if (proven)
    *proven = resp.body_proven;
  docstore__s3_resp_free(&resp);
  return rc;
}

static void uploads(const uint8_t *buf, size_t len, double total) {
  int have_tls = getenv("DOCSTORE_TEST_S3_TLS_ENDPOINT") &&
                 getenv("DOCSTORE_TEST_S3_CA_BUNDLE");
  size_t count = (size_t)(total / (double)len + 0.5);
  printf("Uploads: %.2f GiB each as %zu PutObject of %.0f MiB, one at a "
         "time, to %s\n\n",
         (double)count * (double)len / GIB, count, (double)len / MIB,
         getenv("S3_ENDPOINT_URL"));
  printf("  %-40s %10s %10s %10s %8s\n", "policy", "CPU s/GiB", "x ref",
         "wall s/GiB", "proven");
  double ref = 0;
  char key[128];
  for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
    const policy *p = &policies[i];
    if (p->tls && !have_tls)
      continue;
    docstore__s3 *s3 = open_s3(p);
    if (!s3)
      exit(1);
    int proven = 0;
    /* One object first, not timed: connection, TLS, key cache. */
    snprintf(key, sizeof(key), "integrity-bench/%d/warm", (int)getpid());
    if (request(s3, "PUT", key, buf, 1024, NULL) != 0)
      exit(1);
    double c0 = cpu_now(), w0 = wall_now();
    for (size_t k = 0; k < count; k++) {
      snprintf(key, sizeof(key), "integrity-bench/%d/%zu", (int)getpid(), k);
      if (request(s3, "PUT", key, buf, len, &proven) != 0)
        exit(1);
    }
    double cpu = (cpu_now() - c0) * GIB / ((double)count * (double)len);
    double wall = (wall_now() - w0) * GIB / ((double)count * (double)len);
    for (size_t k = 0; k < count; k++) {
      snprintf(key, sizeof(key), "integrity-bench/%d/%zu", (int)getpid(), k);
      request(s3, "DELETE", key, NULL, 0, NULL);
    }
    snprintf(key, sizeof(key), "integrity-bench/%d/warm", (int)getpid());
    request(s3, "DELETE", key, NULL, 0, NULL);
    docstore__s3_free(s3);
    if (strstr(p->name, "(reference)"))
      ref = cpu;
    printf("  %-40s %10.3f %10.2f %10.2f %8s\n", p->name, cpu,
           ref > 0 ? cpu / ref : 0.0, wall, proven ? "yes" : "no");
    fflush(stdout);
  }
  printf("\n  proven: the reply proves the server got the exact body "
         "(resp.body_proven)\n");
}

int main(int argc, char **argv) {
  double gib = 1.0;
  int primitives_only = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      gib = 1.0 / 16;
    else if (strcmp(argv[i], "--primitives-only") == 0)
      primitives_only = 1;
    else if (strcmp(argv[i], "--gib") == 0 && i + 1 < argc)
      gib = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--quick] [--gib N] [--primitives-only]\n",
              argv[0]);
      return 2;
    }
  }
  if (!primitives_only &&
      (!getenv("S3_ENDPOINT_URL") || !getenv("S3_BUCKET") ||
       !getenv("S3_ACCESS_KEY") || !getenv("S3_SECRET_KEY"))) {
    fprintf(stderr,
            "%s: S3_ENDPOINT_URL, S3_BUCKET, S3_ACCESS_KEY and "
            "S3_SECRET_KEY are needed for the uploads: run under "
            "tools/with-test-servers.sh, or pass --primitives-only\n",
            argv[0]);
    return 1;
  }
  if (docstore__s3_global_init() != 0)
    return 1;
  size_t len = 64u * 1024 * 1024;
  uint8_t *buf = malloc(len);
  if (!buf)
    return 1;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[i] = (uint8_t)x;
  }
  primitives(buf, len, gib * 4 * GIB);
  if (!primitives_only)
    uploads(buf, len, gib * GIB);
  free(buf);
  return 0;
}
