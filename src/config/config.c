/*
 * libdocstore - configuration: settings by environment variable name.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A configuration holds one value per setting of the catalogue it was
 * created with (settings.h: each provider owns its table; the service
 * layer gathers them).  A value is checked when it is set, by the generic
 * checks of settings.c, and kept in a normalised form; an empty value
 * means "unset".  Effective values (fallbacks and defaults applied) are
 * computed on demand, so the order in which sources are loaded only
 * matters for a setting given twice: the last one wins.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/settings.h"
#include "config_internal.h"
#include "util/file.h"

struct docstore_config {
  const docstore__catalog *cat;
  size_t n;
  char **values; /* n entries, docstore__alloc'd, normalised; NULL: unset */
  docstore__handle_err err;
};

/* A batch of values checked but not yet applied (load_env, load_dotenv):
 * a source is applied whole or not at all. */
typedef struct pending {
  size_t n;
  char **values;
  unsigned char *touched;
} pending;

static int find_setting(const docstore_config *cfg, const char *name) {
  size_t idx;
  return docstore__catalog_find(cfg->cat, name, &idx) ? (int)idx : -1;
}

static const docstore__setting *setting_at(const docstore_config *cfg,
                                           size_t idx) {
  return docstore__catalog_at(cfg->cat, idx);
}

static int check_value(const docstore_config *cfg, size_t idx,
                       const char *value, char **out, docstore__err *err) {
  const docstore__setting *s = setting_at(cfg, idx);
  return docstore__setting_check(s, s->info.name, value, out, err);
}

/* --------------------------------------------------------- public API */

static int store_err(const docstore_config *cfg, const docstore__err *err) {
  /* The record is a mutable part of the handle even through a const
   * pointer (like sqlite3_errmsg); it has its own lock. */
  return docstore__handle_err_store(
      (docstore__handle_err *)&((docstore_config *)cfg)->err, err);
}

int docstore__config_new(docstore_config **out, const docstore__catalog *cat) {
  if (!out)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "out is NULL");
  *out = NULL;
  docstore_config *cfg = docstore__alloc(sizeof(*cfg));
  if (!cfg)
    return docstore__err_set(NULL, DOCSTORE_ENOMEM, "out of memory");
  cfg->cat = cat;
  cfg->n = docstore__catalog_count(cat);
  cfg->values = docstore__alloc(cfg->n * sizeof(char *) + 1);
  if (!cfg->values) {
    docstore_free(cfg);
    return docstore__err_set(NULL, DOCSTORE_ENOMEM, "out of memory");
  }
  docstore__handle_err_init(&cfg->err);
  *out = cfg;
  return 0;
}

void docstore_config_free(docstore_config *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < cfg->n; i++)
    docstore_free(cfg->values[i]);
  docstore_free(cfg->values);
  docstore__handle_err_destroy(&cfg->err);
  docstore_free(cfg);
}

const char *docstore_config_errmsg(const docstore_config *cfg) {
  if (!cfg)
    return "configuration is NULL";
  return docstore__handle_err_get(&cfg->err);
}

int docstore_config_set(docstore_config *cfg, const char *name,
                        const char *value) {
  docstore__err err;
  docstore__err_clear(&err);
  if (!cfg || !name)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "%s is NULL",
                             cfg ? "name" : "cfg");
  int idx = find_setting(cfg, name);
  if (idx < 0) {
    char shown[80];
    docstore__settings_echo(shown, sizeof(shown), name);
    docstore__err_set(&err, DOCSTORE_ECONFIG,
                      "unknown setting '%s' (see docs/CONFIG.md)", shown);
    return store_err(cfg, &err);
  }
  char *norm;
  if (check_value(cfg, (size_t)idx, value, &norm, &err) < 0)
    return store_err(cfg, &err);
  docstore_free(cfg->values[idx]);
  cfg->values[idx] = norm;
  return 0;
}

const char *docstore_config_get(const docstore_config *cfg, const char *name) {
  if (!cfg || !name)
    return NULL;
  int idx = find_setting(cfg, name);
  return idx < 0 ? NULL : cfg->values[idx];
}

static int pending_init(pending *p, size_t n, docstore__err *err) {
  p->n = n;
  p->values = docstore__alloc(n * sizeof(char *) + 1);
  p->touched = docstore__alloc(n + 1);
  if (!p->values || !p->touched) {
    docstore_free(p->values);
    docstore_free(p->touched);
    p->values = NULL;
    p->touched = NULL;
    p->n = 0;
    docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    return DOCSTORE_ENOMEM;
  }
  return 0;
}

static void pending_free(pending *p) {
  for (size_t i = 0; i < p->n; i++)
    docstore_free(p->values[i]);
  docstore_free(p->values);
  docstore_free(p->touched);
}

/* Record name=value in the batch; unknown names are ignored. */
static int pending_add(const docstore_config *cfg, pending *p, const char *name,
                       const char *value, docstore__err *err) {
  int idx = find_setting(cfg, name);
  if (idx < 0)
    return 0;
  char *norm;
  DOCSTORE__GUARD(check_value(cfg, (size_t)idx, value, &norm, err));
  docstore_free(p->values[idx]);
  p->values[idx] = norm;
  p->touched[idx] = 1;
  return 0;
}

static void pending_apply(docstore_config *cfg, pending *p) {
  for (size_t i = 0; i < p->n; i++) {
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
  if (pending_init(&batch, cfg->n, &err) < 0)
    return store_err(cfg, &err);
  for (size_t i = 0; i < cfg->n && rc == 0; i++) {
    const char *name = setting_at(cfg, i)->info.name;
    const char *v = getenv(name);
    if (v)
      rc = pending_add(cfg, &batch, name, v, &err);
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
  const docstore_config *cfg;
  pending *batch;
  const char *path;
} dotenv_ctx;

static int dotenv_line(void *payload, const char *name, const char *value,
                       size_t line, docstore__err *err) {
  dotenv_ctx *ctx = payload;
  int rc = pending_add(ctx->cfg, ctx->batch, name, value, err);
  if (rc < 0)
    docstore__err_prefix(err, "%s:%zu", ctx->path, line);
  return rc;
}

/* Largest .env file read: it is a handful of settings. */
#define DOTENV_MAX_BYTES (1024 * 1024)

/*
 * A .env file can point RSA_PUBLIC_KEY_PATH at an attacker's key or
 * S3_ENDPOINT_URL at an attacker's server, so, like ssh with its config,
 * only a file that nobody else could have written is read: a regular file
 * (docstore__file_read refuses anything else) owned by the effective user
 * or root, not writable by group or others.  A docstore__file_check_cb:
 * st is the fstat() of the open descriptor, so the file read is the file
 * checked.
 */
static int check_dotenv_owner(int fd, const struct stat *st, const char *path,
                              void *arg, docstore__err *err) {
  (void)fd;
  (void)arg;
  uid_t me = geteuid();
  if (st->st_uid != me && st->st_uid != 0)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "refusing '%s': owned by uid %lu, not by this "
                             "user (uid %lu) or root, so someone else may "
                             "have written its settings",
                             path, (unsigned long)st->st_uid,
                             (unsigned long)me);
  if (st->st_mode & (S_IWGRP | S_IWOTH))
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "refusing '%s': writable by %s (mode %04o), so "
                             "someone else may have written its settings; "
                             "run chmod go-w '%s'",
                             path,
                             (st->st_mode & S_IWOTH) ? "everyone" : "its group",
                             (unsigned)(st->st_mode & 07777), path);
  return 0;
}

/* Read the .env file into out (a secret buffer: the file holds keys).  The
 * codes are the ones docstore_config_load_dotenv() documents: ENOTFOUND
 * (no such file), ECONFIG (refused owner or mode, or too large to be a
 * .env file), ENOMEM, and EIO for any other failure to open or read it
 * (permission denied, a folder, not a regular file). */
static int read_dotenv_file(docstore__buf *out, const char *path,
                            docstore__err *err) {
  int rc =
      docstore__file_read_checked(out, path, DOTENV_MAX_BYTES, 0, ".env file",
                                  check_dotenv_owner, NULL, err);
  switch (rc) {
  case 0:
  case DOCSTORE_ENOTFOUND:
  case DOCSTORE_ECONFIG:
  case DOCSTORE_ENOMEM:
    return rc;
  case DOCSTORE_ETOOBIG:
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "'%s' is larger than %d bytes; not a .env file?",
                             path, DOTENV_MAX_BYTES);
  default: { /* the message stays; only the code changes */
    char msg[sizeof(err->msg)];
    memcpy(msg, err->msg, sizeof(msg));
    return docstore__err_set(err, DOCSTORE_EIO, "%s", msg);
  }
  }
}

int docstore_config_load_dotenv(docstore_config *cfg, const char *path) {
  docstore__err err;
  pending batch;
  docstore__buf text = DOCSTORE__BUF_INIT; /* wiped: the file holds secrets */
  int rc;
  docstore__err_clear(&err);
  if (!cfg || !path)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "%s is NULL",
                             cfg ? "path" : "cfg");
  if (pending_init(&batch, cfg->n, &err) < 0)
    return store_err(cfg, &err);
  rc = read_dotenv_file(&text, path, &err);
  if (rc == 0) {
    dotenv_ctx ctx = {cfg, &batch, path};
    rc = docstore__dotenv_parse(text.len ? (const char *)text.data : "",
                                text.len, path, dotenv_line, &ctx, &err);
  }
  if (rc == 0)
    pending_apply(cfg, &batch);
  else
    store_err(cfg, &err);
  pending_free(&batch);
  docstore__buf_free(&text);
  return rc;
}

/* ---------------------------------------------------- effective values */

const char *docstore__config_raw(const docstore_config *cfg, const char *name) {
  int idx = cfg && name ? find_setting(cfg, name) : -1;
  return idx < 0 ? NULL : cfg->values[idx];
}

/* 1 when a lead of the credential group is set (settings.h): then the
 * group's settings are used as they are, else all from their fallbacks. */
static int group_set(const docstore_config *cfg) {
  for (size_t i = 0; i < cfg->n; i++)
    if ((setting_at(cfg, i)->iflags & DOCSTORE__S_GROUP_LEAD) && cfg->values[i])
      return 1;
  return 0;
}

const char *docstore__config_effective(const docstore_config *cfg,
                                       const char *name, const char **source) {
  const char *src = NULL, *v;
  int idx = cfg && name ? find_setting(cfg, name) : -1;
  if (source)
    *source = NULL;
  if (idx < 0)
    return NULL;
  const docstore__setting *s = setting_at(cfg, (size_t)idx);

  if ((s->iflags & DOCSTORE__S_GROUP) && !group_set(cfg)) {
    v = s->fallback[0] ? docstore__config_raw(cfg, s->fallback[0]) : NULL;
    if (source && v)
      *source = s->fallback[0];
    return v;
  }
  v = cfg->values[idx];
  for (size_t i = 0;
       !v && !(s->iflags & DOCSTORE__S_GROUP) && i < 2 && s->fallback[i]; i++)
    v = docstore__config_effective(cfg, src = s->fallback[i], NULL);
  if (!v && s->info.default_value) {
    v = s->info.default_value;
    src = "default";
  }
  if (source && v && v != cfg->values[idx])
    *source = src;
  return v;
}

/* ------------------------------------------------------------ validate */

int docstore_config_validate(const docstore_config *cfg) {
  docstore__err err;
  docstore__err_clear(&err);
  if (!cfg)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "cfg is NULL");
  /* The catalogue's first setting chooses the provider (STORAGE_TYPE). */
  const docstore__setting *chooser = setting_at(cfg, 0);
  const char *type =
      chooser ? docstore__config_effective(cfg, chooser->info.name, NULL)
              : NULL;
  for (size_t t = 0; t < cfg->cat->ntables; t++) {
    const docstore__settings_table *tab = cfg->cat->tables[t];
    if (!tab->validate ||
        (tab->provider[0] && (!type || strcmp(tab->provider, type) != 0)))
      continue;
    if (tab->validate(cfg, &err) < 0)
      return store_err(cfg, &err);
  }
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
  for (size_t i = 0; i < cfg->n && rc == 0; i++) {
    const docstore__setting *s = setting_at(cfg, i);
    const char *source;
    char masked[16];
    if (s->info.flags & DOCSTORE_SETTING_FALLBACK)
      continue;
    const char *v = docstore__config_effective(cfg, s->info.name, &source);
    if (v && (s->info.flags & DOCSTORE_SETTING_SECRET))
      v = "****";
    else if (v && (s->info.flags & DOCSTORE_SETTING_PARTIAL)) {
      mask_partial(masked, sizeof(masked), v);
      v = masked;
    }
    if (!v)
      rc = docstore__buf_printf(&b, "%s=  # not set\n", s->info.name);
    else if (!source)
      rc = docstore__buf_printf(&b, "%s=%s\n", s->info.name, v);
    else if (strcmp(source, "default") == 0)
      rc = docstore__buf_printf(&b, "%s=%s  # default\n", s->info.name, v);
    else
      rc = docstore__buf_printf(&b, "%s=%s  # from %s\n", s->info.name, v,
                                source);
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
