/*
 * docstore CLI - shared helpers: failures, options, configuration, keys,
 * input and atomic output.
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
  int rc = is_private ? docstore_keyring_add_private_file(kr, NULL, file, pass)
                      : docstore_keyring_add_public_file(kr, NULL, file);
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

/* ------------------------------------------------------- input, output */

/* Read once into fd; returns bytes read, 0 at the end, -1 on error. */
static ssize_t read_some(int fd, uint8_t *p, size_t n) {
  for (;;) {
    ssize_t r = read(fd, p, n);
    if (r >= 0 || errno != EINTR)
      return r;
  }
}

/* Replace *buf (n bytes used) by a block of ncap bytes. */
static int grow(uint8_t **buf, size_t n, size_t ncap) {
  uint8_t *nb = docstore_malloc(ncap);
  if (!nb)
    return -1;
  if (*buf) {
    memcpy(nb, *buf, n);
    docstore_free(*buf); /* wipes: it may be a plaintext document */
  }
  *buf = nb;
  return 0;
}

int cli_read_input(cli_ctx *ctx, const char *path, uint8_t **out, size_t *len) {
  int is_stdin = strcmp(path, "-") == 0;
  int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  uint8_t *buf = NULL;
  uint8_t probe[4096];
  size_t cap, n = 0;
  struct stat st;
  ssize_t r;
  int rc = 0;

  *out = NULL;
  *len = 0;
  if (fd < 0)
    return cli_fail(ctx, errno == ENOENT ? DOCSTORE_ENOTFOUND : DOCSTORE_EIO,
                    "cannot open '%s': %s", path, strerror(errno));
  if (fstat(fd, &st) != 0)
    memset(&st, 0, sizeof(st));
  if (S_ISDIR(st.st_mode)) {
    rc = cli_fail(ctx, DOCSTORE_EIO, "'%s' is a folder", path);
    goto done;
  }
  /* A regular file's size is known: one allocation of size + 1 (the
   * NUL).  When it is full, the read that finds the end goes to a small
   * probe buffer, so an exact fit never grows the block. */
  cap = S_ISREG(st.st_mode) && st.st_size > 0 &&
                (uint64_t)st.st_size < SIZE_MAX / 2
            ? (size_t)st.st_size + 1
            : 65536;
  if (grow(&buf, 0, cap) < 0)
    goto nomem;
  for (;;) {
    int full = n + 1 >= cap;
    r = full ? read_some(fd, probe, sizeof(probe))
             : read_some(fd, buf + n, cap - n - 1);
    if (r < 0) {
      rc = cli_fail(ctx, DOCSTORE_EIO, "cannot read '%s': %s", path,
                    strerror(errno));
      goto done;
    }
    if (r == 0)
      break;
    if (full) {
      /* More than fstat() said (a growing file, a pipe): double. */
      if (cap > SIZE_MAX / 2)
        goto nomem;
      size_t ncap = cap * 2 > n + (size_t)r + 1 ? cap * 2 : n + (size_t)r + 1;
      if (grow(&buf, n, ncap) < 0)
        goto nomem;
      cap = ncap;
      memcpy(buf + n, probe, (size_t)r);
    }
    n += (size_t)r;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  buf = NULL;
  goto done;
nomem:
  rc = cli_fail(ctx, DOCSTORE_ENOMEM, "'%s' does not fit in memory", path);
done:
  explicit_bzero(probe, sizeof(probe));
  docstore_free(buf);
  if (!is_stdin)
    close(fd);
  return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int cli_write_output(cli_ctx *ctx, const char *path, const void *data,
                     size_t len, mode_t mode, int no_overwrite) {
  char tmp[PATH_MAX], dir[PATH_MAX];
  int fd = -1, rc = 0;

  if (strcmp(path, "-") == 0) {
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
      return cli_fail(ctx, DOCSTORE_EIO, "cannot write to standard output: %s",
                      strerror(errno));
    return 0;
  }
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  int dlen = slash ? (int)(slash - path) : 1;
  const char *dstart = slash ? path : ".";
  if (slash == path)
    dlen = 1; /* "/file" */
  if (!*base)
    return cli_fail(ctx, DOCSTORE_EIO, "'%s' names a folder, not a file", path);
  if (snprintf(dir, sizeof(dir), "%.*s", dlen, dstart) >= (int)sizeof(dir) ||
      snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >=
          (int)sizeof(tmp))
    return cli_fail(ctx, DOCSTORE_EIO, "path too long: '%s'", path);

  fd = mkstemp(tmp);
  if (fd < 0)
    return cli_fail(ctx, DOCSTORE_EIO, "cannot create a file in '%s': %s", dir,
                    strerror(errno));
  if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
      fsync(fd) != 0) {
    rc = cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", path,
                  strerror(errno));
    goto fail;
  }
  if (close(fd) != 0) {
    fd = -1;
    rc = cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", path,
                  strerror(errno));
    goto fail;
  }
  fd = -1;
  if (no_overwrite) {
    if (link(tmp, path) != 0) {
      rc = errno == EEXIST
               ? cli_fail(ctx, DOCSTORE_EEXISTS,
                          "'%s' already exists; refusing to overwrite it", path)
               : cli_fail(ctx, DOCSTORE_EIO, "cannot create '%s': %s", path,
                          strerror(errno));
      goto fail;
    }
    unlink(tmp);
  } else if (rename(tmp, path) != 0) {
    rc = cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", path,
                  strerror(errno));
    goto fail;
  }
  /* Make the new name durable too (best effort). */
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
fail:
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  return rc;
}

void cli_format_time(char *out, size_t cap, int64_t t) {
  struct tm tm;
  time_t tt = (time_t)t;
  snprintf(out, cap, "-");
  if (t > 0 && gmtime_r(&tt, &tm))
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
