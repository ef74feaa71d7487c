/*
 * libdocstore - configuration: settings by environment variable name.
 * SPDX-License-Identifier: Apache-2.0
 *
 * One table describes every setting (name, kind, default, limits).  A
 * value is checked when it is set and kept in a normalised form; an empty
 * value means "unset".  Effective values (fallbacks and defaults applied)
 * are computed on demand, so the order in which sources are loaded only
 * matters for a setting given twice: the last one wins.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_internal.h"

/* Value kinds: each has a checker below. */
enum kind {
  K_STORAGE_TYPE,
  K_LOG_LEVEL,
  K_ADDRESSING,
  K_BOOL,
  K_UINT, /* decimal integer in [min, max] */
  K_SIZE, /* byte size with optional K/M/G suffix, in [min, max] */
  K_REGION,
  K_URL,
  K_BUCKET,
  K_PATH,
  K_ACCESS_KEY,
  K_SECRET, /* S3 secret, session token */
  K_PASSPHRASE
};

#define F_SECRET 1u  /* never echoed; dumped as "****" */
#define F_PARTIAL 2u /* never echoed; dumped as "AKIA****CDEF" */
#define F_ALIAS 4u   /* AWS_* variable: shown through its S3_* setting */

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

typedef struct setting {
  const char *name;
  int kind;
  unsigned flags;
  const char *def; /* default, as dumped; NULL: none */
  uint64_t min, max;
} setting;

/* Keep in sync with docs/CONFIG.md.  Order is the dump's order. */
static const setting settings[] = {
    {"STORAGE_TYPE", K_STORAGE_TYPE, 0, "local", 0, 0},
    {"LOCAL_STORAGE_PATH", K_PATH, 0, "encrypted_files/", 0, 0},
    {"DOCSTORE_LEGACY_ROOT", K_PATH, 0, NULL, 0, 0},
    {"DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT", K_BOOL, 0, "false", 0, 0},
    {"RSA_PUBLIC_KEY_PATH", K_PATH, 0, NULL, 0, 0},
    {"RSA_PRIVATE_KEY_PATH", K_PATH, 0, NULL, 0, 0},
    {"RSA_PRIVATE_KEY_PASSPHRASE", K_PASSPHRASE, F_SECRET, NULL, 0, 0},
    {"DOCSTORE_LOG_LEVEL", K_LOG_LEVEL, 0, NULL, 0, 0},
    {"S3_BUCKET", K_BUCKET, 0, NULL, 0, 0},
    {"S3_REGION", K_REGION, 0, "us-east-1", 0, 0},
    {"S3_ENDPOINT_URL", K_URL, 0, NULL, 0, 0},
    {"S3_ACCESS_KEY", K_ACCESS_KEY, F_PARTIAL, NULL, 0, 0},
    {"S3_SECRET_KEY", K_SECRET, F_SECRET, NULL, 0, 0},
    {"S3_SESSION_TOKEN", K_SECRET, F_SECRET, NULL, 0, 0},
    {"S3_ADDRESSING_STYLE", K_ADDRESSING, 0, "auto", 0, 0},
    {"S3_CA_BUNDLE", K_PATH, 0, NULL, 0, 0},
    {"S3_VERIFY_TLS", K_BOOL, 0, "true", 0, 0},
    {"S3_MULTIPART_THRESHOLD", K_SIZE, 0, "16MiB", 5 * MIB, 5 * GIB},
    {"S3_MULTIPART_PART_SIZE", K_SIZE, 0, "8MiB", 5 * MIB, 5 * GIB},
    {"S3_MULTIPART_CONCURRENCY", K_UINT, 0, "4", 1, 64},
    {"S3_MAX_ATTEMPTS", K_UINT, 0, "4", 1, 20},
    {"S3_RETRY_BASE_MS", K_UINT, 0, "100", 1, 60000},
    {"S3_RETRY_MAX_MS", K_UINT, 0, "5000", 1, 600000},
    {"S3_CONNECT_TIMEOUT_MS", K_UINT, 0, "5000", 1, 600000},
    {"S3_REQUEST_TIMEOUT_MS", K_UINT, 0, "0", 0, 86400000},
    {"S3_STALL_TIMEOUT_MS", K_UINT, 0, "30000", 1, 3600000},
    {"S3_STALL_MIN_BPS", K_UINT, 0, "1024", 1, 1073741824},
    {"AWS_ACCESS_KEY_ID", K_ACCESS_KEY, F_PARTIAL | F_ALIAS, NULL, 0, 0},
    {"AWS_SECRET_ACCESS_KEY", K_SECRET, F_SECRET | F_ALIAS, NULL, 0, 0},
    {"AWS_SESSION_TOKEN", K_SECRET, F_SECRET | F_ALIAS, NULL, 0, 0},
    {"AWS_REGION", K_REGION, F_ALIAS, NULL, 0, 0},
    {"AWS_DEFAULT_REGION", K_REGION, F_ALIAS, NULL, 0, 0},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

struct docstore_config {
  char *values[N_SETTINGS]; /* docstore__alloc'd, normalised; NULL: unset */
  docstore__handle_err err;
};

/* A batch of values checked but not yet applied (load_env, load_dotenv):
 * a source is applied whole or not at all. */
typedef struct pending {
  char *values[N_SETTINGS];
  unsigned char touched[N_SETTINGS];
} pending;

static int find_setting(const char *name) {
  for (size_t i = 0; i < N_SETTINGS; i++)
    if (strcmp(settings[i].name, name) == 0)
      return (int)i;
  return -1;
}

const char *docstore_config_name_at(size_t index) {
  return index < N_SETTINGS ? settings[index].name : NULL;
}

/* ------------------------------------------------------------ checking */

/* A value for a message: at most 64 characters, non-printables as '?'. */
static void echo_value(char *dst, size_t cap, const char *v) {
  size_t n = 0, i = 0;
  for (; v[i] && n + 4 < cap && i < 64; i++)
    dst[n++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
  if (v[i] && n + 4 <= cap) {
    memcpy(dst + n, "...", 3);
    n += 3;
  }
  dst[n] = '\0';
}

static int lower_eq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char c = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
    if (c != *b)
      return 0;
  }
  return *a == *b;
}

/* Index of v (case-insensitive) in a NULL-terminated list, or -1. */
static int choice(const char *v, const char *const *list) {
  for (int i = 0; list[i]; i++)
    if (lower_eq(v, list[i]))
      return i;
  return -1;
}

static const char *const storage_types[] = {"s3", "local", NULL};
static const char *const log_levels[] = {"error", "warn",    "info",
                                         "debug", "warning", NULL};
static const char *const addressing_styles[] = {"auto", "path", "virtual",
                                                NULL};
static const char *const bool_true[] = {"true", "1", "yes", "on", NULL};
static const char *const bool_false[] = {"false", "0", "no", "off", NULL};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits into *out; 0 on success, -1 if empty/not digits/overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  if (n == 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i]) || v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* "8388608", "8M", "8MiB", "512k": binary multiples only. */
static int parse_size(const char *s, uint64_t *out) {
  size_t n = 0;
  while (is_digit(s[n]))
    n++;
  uint64_t v, mult = 1;
  if (parse_u64(s, n, &v) < 0)
    return -1;
  const char *suffix = s + n;
  if (*suffix) {
    static const char *const names[] = {"k", "kib", "m", "mib",
                                        "g", "gib", NULL};
    static const uint64_t mults[] = {KIB, KIB, MIB, MIB, GIB, GIB};
    int i = choice(suffix, names);
    if (i < 0)
      return -1;
    mult = mults[i];
  }
  if (v > UINT64_MAX / mult)
    return -1;
  *out = v * mult;
  return 0;
}

static int has_control(const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return 1;
  return 0;
}

/* Printable ASCII without spaces. */
static int is_printable_token(const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f)
      return 0;
  return 1;
}

static int is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
         c == '-' || c == '.' || c == '_';
}

static int is_hex_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* http(s)://host[:port][/] with a DNS name, IPv4 or [IPv6] host.
 * Returns 0, or -1 with *why set. */
static int check_url(const char *v, const char **why) {
  const char *p;
  if (strchr(v, '@')) {
    *why = "must not contain user credentials (use S3_ACCESS_KEY and "
           "S3_SECRET_KEY)";
    return -1;
  }
  if (strncasecmp(v, "http://", 7) == 0)
    p = v + 7;
  else if (strncasecmp(v, "https://", 8) == 0)
    p = v + 8;
  else {
    *why = "must start with http:// or https://";
    return -1;
  }
  const char *h = p;
  if (*p == '[') {
    p++;
    while (is_hex_char(*p) || *p == ':' || *p == '.')
      p++;
    if (*p != ']' || p == h + 1) {
      *why = "has a malformed [IPv6] host";
      return -1;
    }
    p++;
  } else {
    while (is_host_char(*p))
      p++;
    if (p == h || *h == '.' || *h == '-' || p[-1] == '-' || p - h > 253) {
      *why = "needs a host name";
      return -1;
    }
    for (const char *q = h; q + 1 < p; q++)
      if (q[0] == '.' && q[1] == '.') {
        *why = "needs a host name";
        return -1;
      }
  }
  if (*p == ':') {
    const char *d = ++p;
    uint64_t port;
    while (is_digit(*p))
      p++;
    if (parse_u64(d, (size_t)(p - d), &port) < 0 || port < 1 || port > 65535) {
      *why = "has a bad port (1-65535)";
      return -1;
    }
  }
  if (*p == '/' && p[1] == '\0')
    p++;
  if (*p) {
    *why = "must be only scheme, host and port: no path, query or fragment";
    return -1;
  }
  return 0;
}

/*
 * Check `value` for setting `idx`; on success *out receives its normalised
 * copy (docstore__alloc) or NULL when the value means "unset".
 */
static int check_value(size_t idx, const char *value, char **out,
                       docstore__err *err) {
  const setting *s = &settings[idx];
  char shown[80];
  const char *norm = value;
  uint64_t n;

  *out = NULL;
  if (!value || !*value)
    return 0;
  if (strlen(value) > 8192)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "%s is too long (more than 8192 bytes)", s->name);
  echo_value(shown, sizeof(shown), value);

  switch (s->kind) {
  case K_STORAGE_TYPE: {
    int i = choice(value, storage_types);
    if (i < 0)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be 's3' or 'local', got '%s'", s->name,
                               shown);
    norm = storage_types[i];
    break;
  }
  case K_LOG_LEVEL: {
    int i = choice(value, log_levels);
    if (i < 0)
      return docstore__err_set(
          err, DOCSTORE_ECONFIG,
          "%s must be 'error', 'warn', 'info' or 'debug', got '%s'", s->name,
          shown);
    norm = log_levels[i == 4 ? 1 : i];
    break;
  }
  case K_ADDRESSING: {
    int i = choice(value, addressing_styles);
    if (i < 0)
      return docstore__err_set(
          err, DOCSTORE_ECONFIG,
          "%s must be 'auto', 'path' or 'virtual', got '%s'", s->name, shown);
    norm = addressing_styles[i];
    break;
  }
  case K_BOOL:
    if (choice(value, bool_true) >= 0)
      norm = "true";
    else if (choice(value, bool_false) >= 0)
      norm = "false";
    else
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be 'true' or 'false', got '%s'",
                               s->name, shown);
    break;
  case K_UINT:
    if (parse_u64(value, strlen(value), &n) < 0 || n < s->min || n > s->max)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be an integer from %llu to %llu, "
                               "got '%s'",
                               s->name, (unsigned long long)s->min,
                               (unsigned long long)s->max, shown);
    break;
  case K_SIZE:
    if (parse_size(value, &n) < 0 || n < s->min || n > s->max)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a size from %lluMiB to %lluGiB "
                               "(bytes, or a number with a K, M or G suffix, "
                               "powers of 1024), got '%s'",
                               s->name, (unsigned long long)(s->min / MIB),
                               (unsigned long long)(s->max / GIB), shown);
    break;
  case K_REGION: {
    size_t len = strlen(value);
    int ok = len <= 64;
    for (const char *p = value; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '-';
    if (!ok)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a region name like 'us-east-1' "
                               "(lowercase letters, digits and '-'), got '%s'",
                               s->name, shown);
    break;
  }
  case K_URL: {
    const char *why = NULL;
    if (check_url(value, &why) < 0) {
      if (strchr(value, '@')) /* may hold a password: do not echo */
        return docstore__err_set(err, DOCSTORE_ECONFIG, "%s %s", s->name, why);
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s %s, e.g. http://minio:9000 or "
                               "https://s3.amazonaws.com; got '%s'",
                               s->name, why, shown);
    }
    break;
  }
  case K_BUCKET: {
    size_t len = strlen(value);
    int ok = len >= 3 && len <= 255;
    for (const char *p = value; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           is_digit(*p) || *p == '.' || *p == '-' || *p == '_';
    if (ok) {
      char first = value[0], last = value[len - 1];
      ok = first != '.' && first != '-' && last != '.' && last != '-';
    }
    if (!ok)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a bucket name (3 to 255 letters, "
                               "digits, '.', '-' or '_', starting and ending "
                               "with a letter or digit), got '%s'",
                               s->name, shown);
    break;
  }
  case K_PATH:
    if (has_control(value))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a path without control characters",
                               s->name);
    break;
  case K_ACCESS_KEY:
  case K_SECRET:
    if (!is_printable_token(value))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be printable ASCII without spaces "
                               "(value not shown)",
                               s->name);
    break;
  case K_PASSPHRASE:
    if (has_control(value))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must not contain control characters "
                               "(value not shown)",
                               s->name);
    break;
  }

  *out = docstore__strdup(norm);
  if (!*out)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  return 0;
}

/* --------------------------------------------------------- public API */

static int store_err(const docstore_config *cfg, const docstore__err *err) {
  /* The record is a mutable part of the handle even through a const
   * pointer (like sqlite3_errmsg); it has its own lock. */
  return docstore__handle_err_store(
      (docstore__handle_err *)&((docstore_config *)cfg)->err, err);
}

int docstore_config_new(docstore_config **out) {
  if (!out)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "out is NULL");
  *out = NULL;
  docstore_config *cfg = docstore__alloc(sizeof(*cfg));
  if (!cfg)
    return docstore__err_set(NULL, DOCSTORE_ENOMEM, "out of memory");
  docstore__handle_err_init(&cfg->err);
  *out = cfg;
  return 0;
}

void docstore_config_free(docstore_config *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < N_SETTINGS; i++)
    docstore_free(cfg->values[i]);
  docstore__handle_err_destroy(&cfg->err);
  docstore_free(cfg);
}

const char *docstore_config_errmsg(const docstore_config *cfg) {
  if (!cfg)
    return "configuration is NULL";
  return docstore__handle_err_get(
      (docstore__handle_err *)&((docstore_config *)cfg)->err);
}

int docstore_config_set(docstore_config *cfg, const char *name,
                        const char *value) {
  docstore__err err;
  docstore__err_clear(&err);
  if (!cfg || !name)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "%s is NULL",
                             cfg ? "name" : "cfg");
  int idx = find_setting(name);
  if (idx < 0) {
    char shown[80];
    echo_value(shown, sizeof(shown), name);
    docstore__err_set(&err, DOCSTORE_ECONFIG,
                      "unknown setting '%s' (see docs/CONFIG.md)", shown);
    return store_err(cfg, &err);
  }
  char *norm;
  if (check_value((size_t)idx, value, &norm, &err) < 0)
    return store_err(cfg, &err);
  docstore_free(cfg->values[idx]);
  cfg->values[idx] = norm;
  return 0;
}

const char *docstore_config_get(const docstore_config *cfg, const char *name) {
  if (!cfg || !name)
    return NULL;
  int idx = find_setting(name);
  return idx < 0 ? NULL : cfg->values[idx];
}

static void pending_free(pending *p) {
  for (size_t i = 0; i < N_SETTINGS; i++)
    docstore_free(p->values[i]);
}

/* Record name=value in the batch; unknown names are ignored. */
static int pending_add(pending *p, const char *name, const char *value,
                       docstore__err *err) {
  int idx = find_setting(name);
  if (idx < 0)
    return 0;
  char *norm;
  DOCSTORE__GUARD(check_value((size_t)idx, value, &norm, err));
  docstore_free(p->values[idx]);
  p->values[idx] = norm;
  p->touched[idx] = 1;
  return 0;
}

static void pending_apply(docstore_config *cfg, pending *p) {
  for (size_t i = 0; i < N_SETTINGS; i++) {
    if (!p->touched[i])
      continue;
    docstore_free(cfg->values[i]);
    cfg->values[i] = p->values[i];
    p->values[i] = NULL;
  }
}

int docstore_config_load_env(docstore_config *cfg) {
  docstore__err err;
  pending batch;
  int rc = 0;
  docstore__err_clear(&err);
  if (!cfg)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "cfg is NULL");
  memset(&batch, 0, sizeof(batch));
  for (size_t i = 0; i < N_SETTINGS && rc == 0; i++) {
    const char *v = getenv(settings[i].name);
    if (v)
      rc = pending_add(&batch, settings[i].name, v, &err);
  }
  if (rc == 0)
    pending_apply(cfg, &batch);
  else {
    docstore__err_prefix(&err, "environment");
    store_err(cfg, &err);
  }
  pending_free(&batch);
  return rc;
}

typedef struct dotenv_ctx {
  pending *batch;
  const char *path;
} dotenv_ctx;

static int dotenv_line(void *payload, const char *name, const char *value,
                       size_t line, docstore__err *err) {
  dotenv_ctx *ctx = payload;
  int rc = pending_add(ctx->batch, name, value, err);
  if (rc < 0)
    docstore__err_prefix(err, "%s:%zu", ctx->path, line);
  return rc;
}

/* Largest .env file read: it is a handful of settings. */
#define DOTENV_MAX_BYTES (1024 * 1024)

static int read_small_file(const char *path, char **out, size_t *out_len,
                           docstore__err *err) {
  int rc = 0;
  char *data = NULL;
  size_t len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return docstore__err_set(
        err, errno == ENOENT ? DOCSTORE_ENOTFOUND : DOCSTORE_EIO,
        "cannot open '%s': %s", path, strerror(errno));
  data = docstore__alloc(DOTENV_MAX_BYTES + 1);
  if (!data) {
    rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    goto done;
  }
  len = fread(data, 1, DOTENV_MAX_BYTES + 1, f);
  if (ferror(f)) {
    rc = docstore__err_set(err, DOCSTORE_EIO, "cannot read '%s': %s", path,
                           strerror(errno));
    goto done;
  }
  if (len > DOTENV_MAX_BYTES) {
    rc = docstore__err_set(err, DOCSTORE_ECONFIG,
                           "'%s' is larger than %d bytes; not a .env file?",
                           path, DOTENV_MAX_BYTES);
    goto done;
  }
  *out = data;
  *out_len = len;
  data = NULL;
done:
  docstore_free(data);
  fclose(f);
  return rc;
}

int docstore_config_load_dotenv(docstore_config *cfg, const char *path) {
  docstore__err err;
  pending batch;
  char *text = NULL;
  size_t len = 0;
  int rc;
  docstore__err_clear(&err);
  if (!cfg || !path)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "%s is NULL",
                             cfg ? "path" : "cfg");
  memset(&batch, 0, sizeof(batch));
  rc = read_small_file(path, &text, &len, &err);
  if (rc == 0) {
    dotenv_ctx ctx = {&batch, path};
    rc = docstore__dotenv_parse(text, len, path, dotenv_line, &ctx, &err);
  }
  if (rc == 0)
    pending_apply(cfg, &batch);
  else
    store_err(cfg, &err);
  pending_free(&batch);
  docstore_free(text); /* wipes: the file holds secrets */
  return rc;
}

/* ---------------------------------------------------- effective values */

static const char *raw(const docstore_config *cfg, const char *name) {
  int idx = find_setting(name);
  return idx < 0 ? NULL : cfg->values[idx];
}

/* 1 when the credentials come from the S3_* variables. */
static int s3_creds_group(const docstore_config *cfg) {
  return raw(cfg, "S3_ACCESS_KEY") || raw(cfg, "S3_SECRET_KEY");
}

const char *docstore__config_effective(const docstore_config *cfg,
                                       const char *name, const char **source) {
  static const struct {
    const char *name, *alias;
  } creds[] = {{"S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"},
               {"S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"},
               {"S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"}};
  const char *src = NULL, *v;
  int idx = cfg && name ? find_setting(name) : -1;
  if (source)
    *source = NULL;
  if (idx < 0)
    return NULL;

  for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++)
    if (strcmp(name, creds[i].name) == 0 && !s3_creds_group(cfg)) {
      v = raw(cfg, creds[i].alias);
      if (source && v)
        *source = creds[i].alias;
      return v;
    }

  v = cfg->values[idx];
  if (!v && strcmp(name, "S3_REGION") == 0) {
    if ((v = raw(cfg, src = "AWS_REGION")) == NULL)
      v = raw(cfg, src = "AWS_DEFAULT_REGION");
  } else if (!v && strcmp(name, "DOCSTORE_LEGACY_ROOT") == 0) {
    v = docstore__config_effective(cfg, "LOCAL_STORAGE_PATH", NULL);
    src = "LOCAL_STORAGE_PATH";
  }
  if (!v && settings[idx].def) {
    v = settings[idx].def;
    src = "default";
  }
  if (source && v && v != cfg->values[idx])
    *source = src;
  return v;
}

static uint64_t u64_of(const docstore_config *cfg, const char *name) {
  const char *v = raw(cfg, name);
  uint64_t n = 0;
  if (v && parse_size(v, &n) < 0) /* sizes and plain integers alike */
    n = 0;
  return n;
}

static unsigned int uint_of(const docstore_config *cfg, const char *name) {
  uint64_t n = u64_of(cfg, name);
  return n > UINT32_MAX ? 0 : (unsigned int)n;
}

int docstore__config_s3_options(const docstore_config *cfg,
                                docstore_s3_options *opts) {
  if (!cfg || !opts)
    return DOCSTORE_EINVAL;
  docstore_s3_options init = DOCSTORE_S3_OPTIONS_INIT;
  *opts = init;
  opts->bucket = raw(cfg, "S3_BUCKET");
  opts->region = docstore__config_effective(cfg, "S3_REGION", NULL);
  opts->endpoint_url = raw(cfg, "S3_ENDPOINT_URL");
  opts->access_key = docstore__config_effective(cfg, "S3_ACCESS_KEY", NULL);
  opts->secret_key = docstore__config_effective(cfg, "S3_SECRET_KEY", NULL);
  opts->session_token =
      docstore__config_effective(cfg, "S3_SESSION_TOKEN", NULL);
  int style =
      choice(docstore__config_effective(cfg, "S3_ADDRESSING_STYLE", NULL),
             addressing_styles);
  opts->addressing = style == 1   ? DOCSTORE_S3_ADDRESSING_PATH
                     : style == 2 ? DOCSTORE_S3_ADDRESSING_VIRTUAL
                                  : DOCSTORE_S3_ADDRESSING_AUTO;
  opts->ca_bundle = raw(cfg, "S3_CA_BUNDLE");
  opts->insecure_skip_verify = docstore__config_tls_disabled(cfg);
  opts->multipart_threshold = u64_of(cfg, "S3_MULTIPART_THRESHOLD");
  opts->multipart_part_size = u64_of(cfg, "S3_MULTIPART_PART_SIZE");
  opts->multipart_concurrency = uint_of(cfg, "S3_MULTIPART_CONCURRENCY");
  opts->max_attempts = uint_of(cfg, "S3_MAX_ATTEMPTS");
  opts->retry_base_ms = uint_of(cfg, "S3_RETRY_BASE_MS");
  opts->retry_max_ms = uint_of(cfg, "S3_RETRY_MAX_MS");
  opts->connect_timeout_ms = uint_of(cfg, "S3_CONNECT_TIMEOUT_MS");
  opts->request_timeout_ms = uint_of(cfg, "S3_REQUEST_TIMEOUT_MS");
  opts->stall_timeout_ms = uint_of(cfg, "S3_STALL_TIMEOUT_MS");
  opts->stall_min_bps = uint_of(cfg, "S3_STALL_MIN_BPS");
  return 0;
}

int docstore__config_log_level(const docstore_config *cfg) {
  const char *v = cfg ? raw(cfg, "DOCSTORE_LOG_LEVEL") : NULL;
  return v ? choice(v, log_levels) : -1; /* stored normalised: 0..3 */
}

int docstore__config_tls_disabled(const docstore_config *cfg) {
  const char *v = cfg ? raw(cfg, "S3_VERIFY_TLS") : NULL;
  return v && strcmp(v, "false") == 0;
}

/* ------------------------------------------------------------ validate */

static int validate_s3(const docstore_config *cfg, docstore__err *err) {
  if (!raw(cfg, "S3_BUCKET"))
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "S3_BUCKET is not set (required when "
                             "STORAGE_TYPE=s3)");
  if (s3_creds_group(cfg)) {
    if (!raw(cfg, "S3_ACCESS_KEY"))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "S3_ACCESS_KEY is not set but S3_SECRET_KEY "
                               "is: set both (AWS_* credentials are used only "
                               "when neither is set)");
    if (!raw(cfg, "S3_SECRET_KEY"))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "S3_SECRET_KEY is not set but S3_ACCESS_KEY "
                               "is: set both (AWS_* credentials are used only "
                               "when neither is set)");
  } else {
    if (!raw(cfg, "AWS_ACCESS_KEY_ID"))
      return docstore__err_set(
          err, DOCSTORE_ECONFIG,
          "S3_ACCESS_KEY (or AWS_ACCESS_KEY_ID) is not set: Unable to locate "
          "credentials; set S3_ACCESS_KEY and S3_SECRET_KEY (or "
          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
    if (!raw(cfg, "AWS_SECRET_ACCESS_KEY"))
      return docstore__err_set(
          err, DOCSTORE_ECONFIG,
          "S3_SECRET_KEY (or AWS_SECRET_ACCESS_KEY) is not set: Unable to "
          "locate credentials; AWS_ACCESS_KEY_ID is set, set "
          "AWS_SECRET_ACCESS_KEY too");
    if (raw(cfg, "S3_SESSION_TOKEN"))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "S3_SESSION_TOKEN is set but S3_ACCESS_KEY is "
                               "not: use AWS_SESSION_TOKEN with AWS_* "
                               "credentials, or set S3_ACCESS_KEY and "
                               "S3_SECRET_KEY");
  }
  const char *ca = raw(cfg, "S3_CA_BUNDLE");
  if (ca && access(ca, R_OK) != 0)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "S3_CA_BUNDLE: cannot read '%s': %s", ca,
                             strerror(errno));
  if (raw(cfg, "S3_RETRY_BASE_MS") && raw(cfg, "S3_RETRY_MAX_MS") &&
      u64_of(cfg, "S3_RETRY_BASE_MS") > u64_of(cfg, "S3_RETRY_MAX_MS"))
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "S3_RETRY_BASE_MS must not be larger than "
                             "S3_RETRY_MAX_MS");
  return 0;
}

int docstore_config_validate(const docstore_config *cfg) {
  docstore__err err;
  docstore__err_clear(&err);
  if (!cfg)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "cfg is NULL");
  const char *type = docstore__config_effective(cfg, "STORAGE_TYPE", NULL);
  if (strcmp(type, "s3") == 0 && validate_s3(cfg, &err) < 0)
    return store_err(cfg, &err);
  return 0;
}

/* ---------------------------------------------------------------- dump */

/* "AKIA1234567890ABCDEF" -> "AKIA****CDEF"; short keys fully masked. */
static void mask_partial(char *dst, size_t cap, const char *v) {
  size_t len = strlen(v);
  if (len < 12 || cap < 13) {
    docstore__strlcpy(dst, "****", cap);
    return;
  }
  memcpy(dst, v, 4);
  memcpy(dst + 4, "****", 4);
  memcpy(dst + 8, v + len - 4, 4);
  dst[12] = '\0';
}

int docstore_config_dump(const docstore_config *cfg, char **out) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  docstore__err err;
  int rc = 0;
  docstore__err_clear(&err);
  if (!cfg || !out)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "%s is NULL",
                             cfg ? "out" : "cfg");
  *out = NULL;
  for (size_t i = 0; i < N_SETTINGS && rc == 0; i++) {
    const setting *s = &settings[i];
    const char *source;
    char masked[16];
    if (s->flags & F_ALIAS)
      continue;
    const char *v = docstore__config_effective(cfg, s->name, &source);
    if (v && (s->flags & F_SECRET))
      v = "****";
    else if (v && (s->flags & F_PARTIAL)) {
      mask_partial(masked, sizeof(masked), v);
      v = masked;
    }
    if (!v)
      rc = docstore__buf_printf(&b, "%s=  # not set\n", s->name);
    else if (!source)
      rc = docstore__buf_printf(&b, "%s=%s\n", s->name, v);
    else if (strcmp(source, "default") == 0)
      rc = docstore__buf_printf(&b, "%s=%s  # default\n", s->name, v);
    else
      rc = docstore__buf_printf(&b, "%s=%s  # from %s\n", s->name, v, source);
  }
  if (rc < 0) {
    docstore__buf_free(&b);
    docstore__err_set(&err, DOCSTORE_ENOMEM, "out of memory");
    return store_err(cfg, &err);
  }
  *out = (char *)docstore__buf_detach(&b, NULL);
  if (!*out) {
    docstore__err_set(&err, DOCSTORE_ENOMEM, "out of memory");
    return store_err(cfg, &err);
  }
  return 0;
}
