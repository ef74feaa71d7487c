/*
 * libdocstore - migration options: defaults, checks, environment.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/settings.h"
#include "docstore/config.h"
#include "migrate_internal.h"
#include "provider/fsio.h"

/* Bytes of a table of this version: a version 1 table ends before
 * lease_seconds. */
static size_t options_size(unsigned int version) {
  return version == 1 ? offsetof(docstore_migrate_options, lease_seconds)
                      : sizeof(docstore_migrate_options);
}

int docstore_migrate_options_init(docstore_migrate_options *opts,
                                  unsigned int version) {
  if (!opts || version < 1 || version > DOCSTORE_MIGRATE_OPTIONS_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_migrate_options_init: %s",
                             opts ? "unknown options version" : "opts is NULL");
  docstore_migrate_options init = DOCSTORE_MIGRATE_OPTIONS_INIT;
  init.version = version;
  memcpy(opts, &init, options_size(version));
  return 0;
}

/*
 * The settings of the migration engine are rows of the library's settings
 * schema (provider "migrate", src/service/settings_catalog.c: the one list
 * of their names, shown by `docstore config --settings`).  Each names the
 * field of docstore_migrate_options it fills; this table says where that
 * field is.
 */
static const struct {
  const char *field;
  size_t offset;
  int is_uint;
} fields[] = {
#define STR_FIELD(f)                                                           \
  { #f, offsetof(docstore_migrate_options, f), 0 }
    STR_FIELD(database_url),
    STR_FIELD(schema),
    STR_FIELD(table_attachment),
    STR_FIELD(table_staging),
    STR_FIELD(col_id),
    STR_FIELD(col_filename),
    STR_FIELD(col_filepath),
    STR_FIELD(col_user_id),
    STR_FIELD(col_created),
    STR_FIELD(col_storage_path),
    STR_FIELD(col_storage_type),
    STR_FIELD(worker_name),
    {"lease_seconds", offsetof(docstore_migrate_options, lease_seconds), 1},
#undef STR_FIELD
};

/* A setting's value: from a configuration, or from the environment. */
typedef const char *(*lookup_fn)(const void *from, const char *name);

static const char *from_cfg(const void *from, const char *name) {
  return docstore__config_effective(from, name, NULL);
}

static const char *from_env(const void *from, const char *name) {
  (void)from;
  return getenv(name);
}

/* Fill the fields still unset (NULL, 0) from the migrate settings. */
static int fill(docstore_migrate_options *opts, lookup_fn get, const void *from,
                const char *what) {
  const docstore_setting_info *s;
  for (size_t i = 0; (s = docstore_config_setting_at(i)) != NULL; i++) {
    if (strcmp(s->provider, "migrate") != 0 || !s->field)
      continue;
    size_t f = 0;
    while (f < sizeof(fields) / sizeof(fields[0]) &&
           strcmp(fields[f].field, s->field) != 0)
      f++;
    if (f == sizeof(fields) / sizeof(fields[0]))
      return docstore__err_set(NULL, DOCSTORE_EINVAL,
                               "setting %s fills no migration option",
                               s->name); /* a bug in the schema */
    const char *v = get(from, s->name);
    if (!v || !*v)
      continue;
    if (fields[f].offset >= options_size(opts->version))
      continue; /* not in an older options table */
    char *at = (char *)opts + fields[f].offset;
    if (!fields[f].is_uint) {
      const char **field = (const char **)(void *)at;
      if (!*field)
        *field = v;
      continue;
    }
    unsigned int *field = (unsigned int *)(void *)at;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || n < s->min || n > s->max)
      return docstore__err_set(NULL, DOCSTORE_EINVAL,
                               "%s %s must be a number from %llu to %llu", what,
                               s->name, (unsigned long long)s->min,
                               (unsigned long long)s->max);
    if (!*field)
      *field = (unsigned int)n;
  }
  return 0;
}

int docstore_migrate_options_load_env(docstore_migrate_options *opts) {
  if (!opts)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_migrate_options_load_env: opts is NULL");
  if (!opts->legacy_root) {
    const char *v = getenv("LOCAL_STORAGE_PATH");
    if (v && *v)
      opts->legacy_root = v;
  }
  return fill(opts, from_env, NULL, "environment variable");
}

int docstore_migrate_options_from_config(docstore_migrate_options *opts,
                                         const docstore_config *cfg) {
  if (!opts || !cfg)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_migrate_options_from_config: %s is NULL",
                             opts ? "cfg" : "opts");
  if (opts->version < 2)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_migrate_options_from_config: options "
                             "version 2 or later");
  /* As the service reads legacy files: DOCSTORE_LEGACY_ROOT, else
   * LOCAL_STORAGE_PATH (its default included). */
  if (!opts->legacy_root)
    opts->legacy_root =
        docstore__config_effective(cfg, "DOCSTORE_LEGACY_ROOT", NULL);
  return fill(opts, from_cfg, cfg, "setting");
}

static const char *or_default(const char *v, const char *def) {
  return (v && *v) ? v : def;
}

static unsigned int or_default_u(unsigned int v, unsigned int def) {
  return v ? v : def;
}

/* A storage type is written to a VARCHAR(50) and shown in messages. */
static int check_type(const char *what, const char *t, docstore__err *err) {
  size_t n = strlen(t);
  if (n == 0 || n > 50)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "%s must be 1 to 50 characters", what);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)t[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "%s may only hold letters, digits, '_', '-' "
                               "and '.'",
                               what);
  }
  return 0;
}

/* Identifiers are quoted when needed; only NUL-free, bounded names here. */
static int check_ident(const char *what, const char *v, docstore__err *err) {
  size_t n = strlen(v);
  if (n == 0 || n > 63)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "%s must be a name of 1 to 63 bytes", what);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20)
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "%s contains a control character", what);
  return 0;
}

int docstore__mig_opts_resolve(docstore__mig_opts *o,
                               const docstore_migrate_options *opts, int mode,
                               docstore__err *err) {
  memset(o, 0, sizeof(*o));
  if (!opts)
    return docstore__err_set(err, DOCSTORE_EINVAL, "options are NULL");
  if (opts->version < 1 || opts->version > DOCSTORE_MIGRATE_OPTIONS_VERSION)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "unknown options version %u (this library knows "
                             "1 to %u)",
                             opts->version, DOCSTORE_MIGRATE_OPTIONS_VERSION);
  /* The fields of later versions stay 0 (their defaults) for an older
   * table: they are not read from the caller's memory. */
  docstore_migrate_options full;
  memset(&full, 0, sizeof(full));
  memcpy(&full, opts, options_size(opts->version));
  opts = &full;
  o->mode = mode;
  o->source = opts->source;
  o->target = opts->target;
  o->source_type = or_default(opts->source_type, "local");
  o->target_type = or_default(opts->target_type, "s3");
  o->legacy_root = or_default(opts->legacy_root, DOCSTORE__LEGACY_ROOT_DEFAULT);
  o->keyring = opts->keyring;
  o->database_url = opts->database_url ? opts->database_url : "";
  o->schema = or_default(opts->schema, "document");
  o->table_name[0] = or_default(opts->table_attachment, "attachment");
  o->table_name[1] = or_default(opts->table_staging, "attachment_staging");
  o->tables = or_default_u(opts->tables, DOCSTORE_MIGRATE_TABLE_ALL);
  o->col_id = or_default(opts->col_id, "id");
  o->col_filename = or_default(opts->col_filename, "filename");
  o->col_filepath = or_default(opts->col_filepath, "filepath");
  o->col_user_id = or_default(opts->col_user_id, "user_id");
  o->col_created = or_default(opts->col_created, "created_at");
  o->col_storage_path = or_default(opts->col_storage_path, "storage_path");
  o->col_storage_type = or_default(opts->col_storage_type, "storage_type");
  o->batch_size = or_default_u(opts->batch_size, 500);
  o->jobs = or_default_u(opts->jobs, 4);
  o->dry_run = opts->dry_run != 0;
  o->delete_source = opts->delete_source != 0;
  o->verify_type =
      (opts->verify_type && *opts->verify_type) ? opts->verify_type : NULL;
  o->max_consecutive_failures =
      or_default_u(opts->max_consecutive_failures, 50);
  o->max_errors = or_default_u(opts->max_errors, 10000);
  o->progress_interval_ms = or_default_u(opts->progress_interval_ms, 500);
  o->progress = opts->progress;
  o->progress_payload = opts->progress_payload;
  o->lease_seconds = or_default_u(opts->lease_seconds, 300);
  o->worker_name = opts->worker_name; /* NULL: the engine makes host:pid */
  o->write_proof = opts->write_proof;
  o->allow_outside_root = opts->allow_outside_root != 0;
  if (o->lease_seconds < 10 || o->lease_seconds > 86400)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "lease_seconds %u is outside 10 to 86400",
                             o->lease_seconds);
  if (o->write_proof != DOCSTORE_MIGRATE_PROOF_STORE &&
      o->write_proof != DOCSTORE_MIGRATE_PROOF_READBACK)
    return docstore__err_set(err, DOCSTORE_EINVAL, "unknown write_proof %d",
                             o->write_proof);
  if (o->worker_name && (!*o->worker_name || strlen(o->worker_name) > 200))
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "worker_name must be 1 to 200 bytes");

  if (o->tables & ~(unsigned int)DOCSTORE_MIGRATE_TABLE_ALL)
    return docstore__err_set(err, DOCSTORE_EINVAL, "tables: unknown bits 0x%x",
                             o->tables);
  if (o->batch_size > DOCSTORE__MIG_MAX_BATCH)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "batch size %u is over the limit of %u",
                             o->batch_size, DOCSTORE__MIG_MAX_BATCH);
  if (o->jobs > DOCSTORE__MIG_MAX_JOBS)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "jobs %u is over the limit of %u", o->jobs,
                             DOCSTORE__MIG_MAX_JOBS);
  DOCSTORE__GUARD(check_type("source_type", o->source_type, err));
  DOCSTORE__GUARD(check_type("target_type", o->target_type, err));
  if (strcmp(o->source_type, o->target_type) == 0)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "source and target storage type are both '%s'",
                             o->source_type);
  const struct {
    const char *what, *v;
  } idents[] = {
      {"schema", o->schema},
      {"attachment table", o->table_name[0]},
      {"staging table", o->table_name[1]},
      {"id column", o->col_id},
      {"filename column", o->col_filename},
      {"filepath column", o->col_filepath},
      {"user id column", o->col_user_id},
      {"creation column", o->col_created},
      {"storage_path column", o->col_storage_path},
      {"storage_type column", o->col_storage_type},
  };
  for (size_t i = 0; i < sizeof(idents) / sizeof(idents[0]); i++)
    DOCSTORE__GUARD(check_ident(idents[i].what, idents[i].v, err));
  if (strcmp(o->table_name[0], o->table_name[1]) == 0 &&
      o->tables == DOCSTORE_MIGRATE_TABLE_ALL)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "the attachment and staging tables are both '%s'",
                             o->table_name[0]);

  if (mode == DOCSTORE_MIGRATE_MODE_MIGRATE) {
    if (!o->source || !o->target)
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "a migration needs a source and a target "
                               "provider");
  } else if (mode == DOCSTORE_MIGRATE_MODE_VERIFY) {
    if (o->verify_type) {
      DOCSTORE__GUARD(check_type("verify_type", o->verify_type, err));
      int is_src = strcmp(o->verify_type, o->source_type) == 0;
      int is_tgt = strcmp(o->verify_type, o->target_type) == 0;
      if ((!is_src && !is_tgt) || (is_tgt && !o->target))
        return docstore__err_set(err, DOCSTORE_EINVAL,
                                 "no provider for storage type '%s' to "
                                 "verify",
                                 o->verify_type);
    }
    if (!o->source && !o->target)
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "a verification needs a source or a target "
                               "provider");
  }
  return 0;
}
