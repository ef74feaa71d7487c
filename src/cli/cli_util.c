/*
 * docstore CLI - shared helpers: failures, options, configuration, keys,
 * time formatting (streaming input and output: cli_stream.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int vfail(cli_ctx *ctx, int code, int usage, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int vfail(cli_ctx *ctx, int code, int usage, const char *fmt,
                 va_list ap) {
  vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
  ctx->code = code;
  ctx->usage = usage;
  return code;
}

int cli_fail(cli_ctx *ctx, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(ctx, code, 0, fmt, ap);
  va_end(ap);
  return code;
}

int cli_usage(cli_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(ctx, DOCSTORE_EINVAL, 1, fmt, ap);
  va_end(ap);
  return DOCSTORE_EINVAL;
}

int cli_fail_lib(cli_ctx *ctx, int code, const char *what, const char *detail) {
  if (!detail || !*detail)
    detail = docstore_strerror(code);
  return cli_fail(ctx, code, "%s: %s", what, detail);
}

int cli_getopt(cli_ctx *ctx, const cli_command *cmd, int argc, char **argv,
               const char *shortopts, const struct option *longopts) {
  char spec[64];
  snprintf(spec, sizeof(spec), ":%sh", shortopts);
  opterr = 0;
  int c = getopt_long(argc, argv, spec, longopts, NULL);
  switch (c) {
  case 'h':
    cli_print_command_help(cmd);
    return 'h';
  case ':':
    cli_usage(ctx, "option '%s' needs a value; usage: docstore %s %s",
              argv[optind - 1], cmd->name, cmd->synopsis);
    return '?';
  case '?':
    if (optopt)
      cli_usage(ctx, "unknown option '-%c'; usage: docstore %s %s", optopt,
                cmd->name, cmd->synopsis);
    else
      cli_usage(ctx, "unknown option '%s'; usage: docstore %s %s",
                argv[optind - 1], cmd->name, cmd->synopsis);
    return '?';
  default:
    return c;
  }
}

int cli_positional(cli_ctx *ctx, int argc, char **argv, int min, int max) {
  int n = argc - optind;
  (void)argv;
  if (n < min || n > max) {
    const cli_command *cmd = cli_find(ctx->command);
    return cli_usage(ctx, "%s; usage: docstore %s %s",
                     n < min ? "missing argument" : "too many arguments",
                     ctx->command, cmd ? cmd->synopsis : "");
  }
  return 0;
}

int cli_parse_uint(cli_ctx *ctx, const char *opt, const char *text,
                   unsigned long min, unsigned long max, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno || end == text || *end || text[0] == '-' || text[0] == '+' ||
      v < min || v > max)
    return cli_usage(ctx, "%s needs a number from %lu to %lu, got '%s'", opt,
                     min, max, text);
  *out = v;
  return 0;
}

#define MAX_AGE_SECONDS 315360000ul /* ten years */

int cli_parse_age(cli_ctx *ctx, const char *opt, const char *text,
                  uint64_t *out) {
  static const struct {
    char suffix;
    unsigned long mult;
  } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  char num[32];
  unsigned long mult = 1, v = 0;
  size_t n = strlen(text);
  if (n == 0 || n >= sizeof(num))
    return cli_usage(ctx, "%s needs an age such as 3600, 90m, 2h or 1d", opt);
  memcpy(num, text, n + 1);
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
    if (n > 1 && num[n - 1] == units[i].suffix) {
      mult = units[i].mult;
      num[n - 1] = '\0';
    }
  CLI_GUARD(cli_parse_uint(ctx, opt, num, 0, MAX_AGE_SECONDS / mult, &v));
  *out = (uint64_t)v * mult;
  return 0;
}

/* ------------------------------------------------------- configuration */

int cli_config(cli_ctx *ctx, docstore_config **out) {
  docstore_config *cfg = NULL;
  int rc;
  /* Set on every path: callers test only the return code. */
  *out = ctx->cfg;
  if (ctx->cfg)
    return 0;
  if ((rc = docstore_config_new(&cfg)) < 0)
    return cli_fail_lib(ctx, rc, "configuration", docstore_last_errmsg());
  if (!ctx->no_env_file) {
    const char *path = ctx->env_file ? ctx->env_file : ".env";
    rc = docstore_config_load_dotenv(cfg, path);
    if (rc == 0)
      ctx->env_loaded = path;
    else if (rc == DOCSTORE_ENOTFOUND && !ctx->env_file)
      rc = 0; /* no ./.env: fine */
    if (rc < 0)
      goto fail;
  }
  if ((rc = docstore_config_load_env(cfg)) < 0)
    goto fail;
  /* The configuration holds copies: the environment's can go. */
  static const char *const secrets[] = {
      "S3_SECRET_KEY", "S3_SESSION_TOKEN", "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN", "RSA_PRIVATE_KEY_PASSPHRASE"};
  for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
    cli_scrub_env(secrets[i]);
  ctx->cfg = cfg;
  *out = cfg;
  return 0;
fail:
  cli_fail(ctx, rc, "%s", docstore_config_errmsg(cfg));
  docstore_config_free(cfg);
  return rc;
}

int cli_service(cli_ctx *ctx, docstore_service **out) {
  docstore_config *cfg;
  char err[1024];
  int rc;
  if (ctx->svc) {
    *out = ctx->svc;
    return 0;
  }
  if ((rc = cli_config(ctx, &cfg)) < 0)
    return rc;
  err[0] = '\0';
  rc = docstore_service_from_config(&ctx->svc, cfg, err, sizeof(err));
  /* -v / -q win over DOCSTORE_LOG_LEVEL, which the factory applied. */
  if (ctx->log_level >= 0)
    docstore_set_log_level(ctx->log_level);
  if (rc < 0)
    return cli_fail(ctx, rc, "%s", err[0] ? err : docstore_strerror(rc));
  *out = ctx->svc;
  return 0;
}

/* ---------------------------------------------------------------- keys */

int cli_keys_add(cli_ctx *ctx, const char **list, size_t *n, const char *file) {
  if (*n >= CLI_MAX_KEYS)
    return cli_usage(ctx, "at most %d key files of one kind", CLI_MAX_KEYS);
  list[(*n)++] = file;
  return 0;
}

void cli_scrub_env(const char *name) {
  char *v = getenv(name);
  if (v)
    explicit_bzero(v, strlen(v));
}

int cli_passphrase_from_env(cli_ctx *ctx, const char *var, const char **out) {
  *out = NULL;
  if (!var)
    return 0;
  const char *v = getenv(var);
  /* A setting's own variable may already be wiped: the configuration
   * kept the value. */
  if ((!v || !*v) && ctx->cfg)
    v = docstore_config_get(ctx->cfg, var);
  if (!v || !*v)
    return cli_usage(ctx,
                     "--passphrase-env: environment variable %s is not "
                     "set or empty",
                     var);
  size_t n = strlen(v);
  char *copy = docstore_malloc(n + 1);
  if (!copy)
    return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
  memcpy(copy, v, n + 1);
  cli_scrub_env(var);
  docstore_free(ctx->passphrase); /* wipes */
  ctx->passphrase = copy;
  *out = copy;
  return 0;
}

/* Load one key file; `var` names the setting it came from (or NULL). */
static int load_key(cli_ctx *ctx, docstore_keyring *kr, const char *file,
                    const char *var, int is_private, const char *pass) {
  /* The first key loaded is the keyring's default sealing key. */
  char **id = ctx->key_id ? NULL : &ctx->key_id;
  int rc = is_private ? docstore_keyring_add_private_file(kr, id, file, pass)
                      : docstore_keyring_add_public_file(kr, id, file);
  if (rc < 0)
    cli_fail(ctx, rc, "%s '%s': %s%s",
             var ? var : (is_private ? "private key" : "public key"), file,
             docstore_keyring_errmsg(kr),
             is_private && rc == DOCSTORE_EKEY && !pass
                 ? " (an encrypted key needs RSA_PRIVATE_KEY_PASSPHRASE or "
                   "--passphrase-env)"
                 : "");
  return rc;
}

int cli_keyring(cli_ctx *ctx, docstore_keyring **out, const cli_keys *keys,
                int need) {
  docstore_config *cfg;
  docstore_keyring *kr = NULL;
  const char *pass = NULL;
  char err[512];
  int rc;

  *out = NULL;
  if ((rc = cli_config(ctx, &cfg)) < 0)
    return rc;
  if ((rc = cli_passphrase_from_env(ctx, keys->passphrase_env, &pass)) < 0)
    return rc;
  if (!pass)
    pass = docstore_config_get(cfg, "RSA_PRIVATE_KEY_PASSPHRASE");
  const char *cfg_pub = docstore_config_get(cfg, "RSA_PUBLIC_KEY_PATH");
  const char *cfg_priv = docstore_config_get(cfg, "RSA_PRIVATE_KEY_PATH");
  int want_pub = (need & CLI_KEY_PUBLIC) != 0;
  int want_priv = (need & CLI_KEY_PRIVATE) != 0;
  /* Sealing can use a private key's public half when no public key is
   * given. */
  if (want_pub && !keys->n_public && !cfg_pub)
    want_priv = 1;

  docstore_free(ctx->key_id);
  ctx->key_id = NULL;
  if ((rc = docstore_keyring_new(&kr, err, sizeof(err))) < 0)
    return cli_fail_lib(ctx, rc, "keyring", err);
  if (want_pub && keys->n_public) {
    for (size_t i = 0; i < keys->n_public && rc == 0; i++)
      rc = load_key(ctx, kr, keys->public_files[i], NULL, 0, NULL);
  } else if (want_pub && cfg_pub)
    rc = load_key(ctx, kr, cfg_pub, "RSA_PUBLIC_KEY_PATH", 0, NULL);
  if (rc == 0 && want_priv) {
    if (keys->n_private) {
      for (size_t i = 0; i < keys->n_private && rc == 0; i++)
        rc = load_key(ctx, kr, keys->private_files[i], NULL, 1, pass);
    } else if (cfg_priv)
      rc = load_key(ctx, kr, cfg_priv, "RSA_PRIVATE_KEY_PATH", 1, pass);
    else if (need & CLI_KEY_PRIVATE)
      rc = cli_fail(ctx, DOCSTORE_ECONFIG,
                    "no private key: use --private-key FILE or set "
                    "RSA_PRIVATE_KEY_PATH");
  }
  if (rc == 0 && want_pub) {
    size_t n_pub = 0;
    docstore_keyring_count(kr, &n_pub, NULL);
    if (n_pub == 0)
      rc = cli_fail(ctx, DOCSTORE_ECONFIG,
                    "no public key: use --public-key FILE or set "
                    "RSA_PUBLIC_KEY_PATH");
  }
  if (rc < 0) {
    docstore_keyring_free(kr);
    return rc;
  }
  *out = kr;
  return 0;
}

void cli_format_time(char *out, size_t cap, int64_t t) {
  struct tm tm;
  time_t tt = (time_t)t;
  snprintf(out, cap, "-");
  if (t > 0 && gmtime_r(&tt, &tm))
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
