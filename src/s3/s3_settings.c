/*
 * libdocstore - the S3 provider's settings schema.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The one description of every S3 setting: name, type, default, range,
 * flags, the docstore_s3_options field it fills and a description.
 * docs/CONFIG.md's reference table must match it (tests/unit/test_config.c
 * checks).  To add a setting: a row here, a field in docstore_s3_options
 * (with the provider's use of it), a line in CONFIG.md's table.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "s3/s3_internal.h"
#include "s3/s3_settings.h"
#include "util/file.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define MIN_PART ((uint64_t)DOCSTORE__S3_MIN_PART_SIZE)

#define S3(name, type, flags, def, min, max, choices, field, land, desc)       \
  {                                                                            \
    DOCSTORE__SETTING(name, "s3", type, flags, def, min, max, choices, #field, \
                      desc),                                                   \
        0, land, NULL, {NULL, NULL}, offsetof(docstore_s3_options, field)      \
  }

/* A credential: a member of the credential group, falling back to the
 * AWS_* variable as a group (docs/CONFIG.md, "Precedence"). */
#define S3_CRED(name, flags, iflags, alias, field, desc)                       \
  {                                                                            \
    DOCSTORE__SETTING(name, "s3", DOCSTORE_SETTING_TOKEN, flags, NULL, 0, 0,   \
                      NULL, #field, desc),                                     \
        DOCSTORE__S_GROUP | (iflags), DOCSTORE__LAND_STR, NULL, {alias, NULL}, \
        offsetof(docstore_s3_options, field)                                   \
  }

/* An AWS_* variable: read only as a fallback of an S3_* setting. */
#define AWS(name, type, flags, desc)                                           \
  {                                                                            \
    DOCSTORE__SETTING(name, "s3", type, (flags) | DOCSTORE_SETTING_FALLBACK,   \
                      NULL, 0, 0, NULL, NULL, desc),                           \
        0, DOCSTORE__LAND_NONE, NULL, {NULL, NULL}, 0                          \
  }

#define T_UINT DOCSTORE_SETTING_UINT
#define T_SIZE DOCSTORE_SETTING_SIZE
#define L_UINT DOCSTORE__LAND_UINT
#define L_U64 DOCSTORE__LAND_U64

static const docstore__setting items[] = {
    S3("S3_BUCKET", DOCSTORE_SETTING_BUCKET, DOCSTORE_SETTING_REQUIRED, NULL, 0,
       0, NULL, bucket, DOCSTORE__LAND_STR, "the bucket documents go to"),
    {DOCSTORE__SETTING("S3_REGION", "s3", DOCSTORE_SETTING_REGION, 0,
                       DOCSTORE__S3_DEFAULT_REGION, 0, 0, NULL, "region",
                       "the region requests are signed for"),
     0,
     DOCSTORE__LAND_STR,
     NULL,
     {"AWS_REGION", "AWS_DEFAULT_REGION"},
     offsetof(docstore_s3_options, region)},
    S3("S3_ENDPOINT_URL", DOCSTORE_SETTING_URL, 0, NULL, 0, 0, NULL,
       endpoint_url, DOCSTORE__LAND_STR,
       "the S3 server, http(s)://host[:port]; unset: AWS"),
    S3_CRED("S3_ACCESS_KEY", DOCSTORE_SETTING_PARTIAL, DOCSTORE__S_GROUP_LEAD,
            "AWS_ACCESS_KEY_ID", access_key, "access key id"),
    S3_CRED("S3_SECRET_KEY", DOCSTORE_SETTING_SECRET, DOCSTORE__S_GROUP_LEAD,
            "AWS_SECRET_ACCESS_KEY", secret_key, "secret access key"),
    S3_CRED("S3_SESSION_TOKEN", DOCSTORE_SETTING_SECRET, 0, "AWS_SESSION_TOKEN",
            session_token, "session token of temporary credentials"),
    S3("S3_ADDRESSING_STYLE", DOCSTORE_SETTING_CHOICE, 0, "auto", 0, 0,
       "auto|path|virtual", addressing, DOCSTORE__LAND_CHOICE,
       "virtual-hosted or path-style requests; auto: virtual for AWS"),
    S3("S3_CA_BUNDLE", DOCSTORE_SETTING_PATH, 0, NULL, 0, 0, NULL, ca_bundle,
       DOCSTORE__LAND_STR, "PEM file of trusted CAs; unset: the system's"),
    S3("S3_VERIFY_TLS", DOCSTORE_SETTING_BOOL, 0, "true", 0, 0, NULL,
       insecure_skip_verify, DOCSTORE__LAND_NOT_BOOL,
       "verify TLS certificates (false: for tests only)"),
    S3("S3_MULTIPART_THRESHOLD", T_SIZE, 0, "16MiB", MIN_PART, 5 * GIB, NULL,
       multipart_threshold, L_U64, "objects larger than this go multipart"),
    S3("S3_MULTIPART_PART_SIZE", T_SIZE, 0, "8MiB", MIN_PART, 5 * GIB, NULL,
       multipart_part_size, L_U64, "size of each part of a multipart upload"),
    S3("S3_MULTIPART_CONCURRENCY", T_UINT, 0, "4", 1,
       DOCSTORE__S3_MAX_CONCURRENCY, NULL, multipart_concurrency, L_UINT,
       "parts of a multipart upload sent at once"),
    S3("S3_MAX_ATTEMPTS", T_UINT, 0, "4", 1, 20, NULL, max_attempts, L_UINT,
       "attempts per request, 1 = no retry"),
    S3("S3_RETRY_BASE_MS", T_UINT, 0, "100", 1, 60000, NULL, retry_base_ms,
       L_UINT, "first backoff cap in milliseconds, doubled each retry"),
    /* Unset lands as 0: the provider then raises its 5000 default to
     * S3_RETRY_BASE_MS when that is larger. */
    {DOCSTORE__SETTING("S3_RETRY_MAX_MS", "s3", T_UINT, 0, "5000", 1, 600000,
                       NULL, "retry_max_ms", "largest backoff in milliseconds"),
     DOCSTORE__S_UNSET_ZERO,
     L_UINT,
     NULL,
     {NULL, NULL},
     offsetof(docstore_s3_options, retry_max_ms)},
    S3("S3_CONNECT_TIMEOUT_MS", T_UINT, 0, "5000", 1, 600000, NULL,
       connect_timeout_ms, L_UINT, "TCP and TLS connect timeout"),
    S3("S3_REQUEST_TIMEOUT_MS", T_UINT, 0, "0", 0, 86400000, NULL,
       request_timeout_ms, L_UINT, "whole-request timeout, 0 = none"),
    S3("S3_STALL_TIMEOUT_MS", T_UINT, 0, "30000", 1, 3600000, NULL,
       stall_timeout_ms, L_UINT,
       "abort a transfer slower than S3_STALL_MIN_BPS for this long"),
    S3("S3_STALL_MIN_BPS", T_UINT, 0, "1024", 1, 1073741824, NULL,
       stall_min_bps, L_UINT,
       "bytes per second below which a transfer counts as stalled"),
    S3("S3_CHECKSUM_ALGORITHM", DOCSTORE_SETTING_CHOICE, 0, "auto", 0, 0,
       "auto|none|crc32c|crc32|sha256|md5", checksum, DOCSTORE__LAND_CHOICE,
       "checksum sent with object data; auto: crc32c over https, none over "
       "http (the signed payload hash is checked there)"),
    S3("S3_PAYLOAD_SIGNING", DOCSTORE_SETTING_CHOICE, 0, "auto", 0, 0,
       "auto|signed|unsigned", payload_signing, DOCSTORE__LAND_CHOICE,
       "sign the SHA-256 of object data; auto: over http only"),
    S3("S3_CONDITIONAL_WRITES", DOCSTORE_SETTING_CHOICE, 0, "auto", 0, 0,
       "auto|native|emulate", conditional_writes, DOCSTORE__LAND_CHOICE,
       "no-clobber stores: If-None-Match (native), HEAD before PUT "
       "(emulate), or native with a fallback on servers without it (auto)"),
    S3("S3_DOWNLOAD_CONCURRENCY", T_UINT, 0, "4", 1,
       DOCSTORE__S3_MAX_CONCURRENCY, NULL, download_concurrency, L_UINT,
       "ranged GETs of one streamed read in flight"),
    S3("S3_DOWNLOAD_PART_SIZE", T_SIZE, 0, "8MiB", MIB, GIB, NULL,
       download_part_size, L_U64, "bytes per ranged GET of a streamed read"),
    S3("S3_STALE_UPLOAD_SECONDS", T_UINT, 0, "86400", 1, 315360000, NULL,
       stale_upload_seconds, L_UINT,
       "age after which the check reports an incomplete multipart upload"),
    AWS("AWS_ACCESS_KEY_ID", DOCSTORE_SETTING_TOKEN, DOCSTORE_SETTING_PARTIAL,
        "fallback of S3_ACCESS_KEY"),
    AWS("AWS_SECRET_ACCESS_KEY", DOCSTORE_SETTING_TOKEN,
        DOCSTORE_SETTING_SECRET, "fallback of S3_SECRET_KEY"),
    AWS("AWS_SESSION_TOKEN", DOCSTORE_SETTING_TOKEN, DOCSTORE_SETTING_SECRET,
        "fallback of S3_SESSION_TOKEN"),
    AWS("AWS_REGION", DOCSTORE_SETTING_REGION, 0, "fallback of S3_REGION"),
    AWS("AWS_DEFAULT_REGION", DOCSTORE_SETTING_REGION, 0,
        "fallback of S3_REGION after AWS_REGION"),
};

#define N_ITEMS (sizeof(items) / sizeof(items[0]))

/* What the table cannot say: requirements across settings. */
static int validate(const struct docstore_config *cfg, docstore__err *err) {
#define RAW(n) docstore__config_raw(cfg, n)
  if (!RAW("S3_BUCKET"))
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "S3_BUCKET is not set (required when "
                             "STORAGE_TYPE=s3)");
  if (RAW("S3_ACCESS_KEY") || RAW("S3_SECRET_KEY")) {
    if (!RAW("S3_ACCESS_KEY"))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "S3_ACCESS_KEY is not set but S3_SECRET_KEY "
                               "is: set both (AWS_* credentials are used only "
                               "when neither is set)");
    if (!RAW("S3_SECRET_KEY"))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "S3_SECRET_KEY is not set but S3_ACCESS_KEY "
                               "is: set both (AWS_* credentials are used only "
                               "when neither is set)");
  } else {
    if (!RAW("AWS_ACCESS_KEY_ID"))
      return docstore__err_set(
          err, DOCSTORE_ECONFIG,
          "S3_ACCESS_KEY (or AWS_ACCESS_KEY_ID) is not set: Unable to locate "
          "credentials; set S3_ACCESS_KEY and S3_SECRET_KEY (or "
          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
    if (!RAW("AWS_SECRET_ACCESS_KEY"))
      return docstore__err_set(
          err, DOCSTORE_ECONFIG,
          "S3_SECRET_KEY (or AWS_SECRET_ACCESS_KEY) is not set: Unable to "
          "locate credentials; AWS_ACCESS_KEY_ID is set, set "
          "AWS_SECRET_ACCESS_KEY too");
    if (RAW("S3_SESSION_TOKEN"))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "S3_SESSION_TOKEN is set but S3_ACCESS_KEY is "
                               "not: use AWS_SESSION_TOKEN with AWS_* "
                               "credentials, or set S3_ACCESS_KEY and "
                               "S3_SECRET_KEY");
  }
  const char *ca = RAW("S3_CA_BUNDLE");
  if (ca && access(ca, R_OK) != 0)
    return docstore__err_errno(err, DOCSTORE_ECONFIG, errno,
                               "S3_CA_BUNDLE: cannot read '%s'", ca);
  uint64_t base, max;
  if (RAW("S3_RETRY_BASE_MS") && RAW("S3_RETRY_MAX_MS") &&
      docstore__setting_parse_u64(RAW("S3_RETRY_BASE_MS"), &base) == 0 &&
      docstore__setting_parse_u64(RAW("S3_RETRY_MAX_MS"), &max) == 0 &&
      base > max)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "S3_RETRY_BASE_MS must not be larger than "
                             "S3_RETRY_MAX_MS");
  return 0;
#undef RAW
}

const docstore__settings_table docstore__s3_settings = {"s3", items, N_ITEMS,
                                                        validate};

static size_t options_size(const docstore_s3_options *opts) {
  return docstore__s3_options_size(opts->version);
}

int docstore__s3_options_from_config(const struct docstore_config *cfg,
                                     docstore_s3_options *opts) {
  if (!cfg || !opts)
    return DOCSTORE_EINVAL;
  docstore_s3_options init = DOCSTORE_S3_OPTIONS_INIT;
  *opts = init;
  return docstore__settings_fill(items, N_ITEMS, cfg, opts, sizeof(*opts));
}

int docstore__s3_options_check(const docstore_s3_options *opts,
                               const struct docstore__s3_tuning *tuning,
                               docstore__err *err) {
  docstore_s3_options o;
  size_t size = options_size(opts);
  memset(&o, 0, sizeof(o));
  memcpy(&o, opts, size);
  if (!o.bucket || !*o.bucket)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "bucket (setting S3_BUCKET) is not set");
  if (!o.access_key || !*o.access_key || !o.secret_key || !*o.secret_key)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "unable to locate credentials: set access_key "
                             "and secret_key (settings S3_ACCESS_KEY and "
                             "S3_SECRET_KEY)");
  /* Test knob: parts (and so thresholds) below S3's 5 MiB minimum. */
  if (tuning && tuning->min_part_size) {
    if (o.multipart_part_size >= tuning->min_part_size &&
        o.multipart_part_size < MIN_PART)
      o.multipart_part_size = 0;
    if (o.multipart_threshold < MIN_PART)
      o.multipart_threshold = 0;
  }
  DOCSTORE__GUARD(docstore__settings_check_opts(items, N_ITEMS, &o, size, err));
  if (o.retry_max_ms && o.retry_base_ms > o.retry_max_ms)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "retry_base_ms (setting S3_RETRY_BASE_MS) must "
                             "not exceed retry_max_ms (setting "
                             "S3_RETRY_MAX_MS)");
  return 0;
}
