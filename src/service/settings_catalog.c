/*
 * libdocstore - the catalogue of every setting (service layer).
 * SPDX-License-Identifier: Apache-2.0
 *
 * The service's own table, and the list of tables a configuration knows:
 * this one, the local provider's (src/provider/local_settings.c) and the
 * S3 provider's (src/s3/s3_settings.c).  The config layer below only
 * handles tables it is given (src/config/settings.h).
 */
#include <stddef.h>
#include <string.h>

#include "provider/local_settings.h"
#include "s3/s3_settings.h"
#include "service/settings_catalog.h"

#define PATH_SETTING(name, desc)                                               \
  {                                                                            \
    DOCSTORE__SETTING(name, "", DOCSTORE_SETTING_PATH, 0, NULL, 0, 0, NULL,    \
                      NULL, desc),                                             \
        0, DOCSTORE__LAND_NONE, NULL, {NULL, NULL}, 0                          \
  }

static const docstore__setting items[] = {
    /* First: it chooses the provider (docstore_config_validate()). */
    {DOCSTORE__SETTING("STORAGE_TYPE", "", DOCSTORE_SETTING_CHOICE, 0, "local",
                       0, 0, "s3|local", NULL,
                       "which provider stores the documents"),
     0,
     DOCSTORE__LAND_NONE,
     NULL,
     {NULL, NULL},
     0},
    {DOCSTORE__SETTING("DOCSTORE_LEGACY_ROOT", "", DOCSTORE_SETTING_PATH, 0,
                       NULL, 0, 0, NULL, "legacy_root",
                       "folder relative legacy paths are resolved against; "
                       "unset: LOCAL_STORAGE_PATH"),
     0,
     DOCSTORE__LAND_STR,
     NULL,
     {"LOCAL_STORAGE_PATH", NULL},
     offsetof(docstore_service_options, legacy_root)},
    {DOCSTORE__SETTING("DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT", "",
                       DOCSTORE_SETTING_BOOL, 0, "false", 0, 0, NULL,
                       "legacy_allow_outside_root",
                       "let legacy fallback reads leave DOCSTORE_LEGACY_ROOT "
                       "(absolute paths, '..', symbolic links)"),
     0,
     DOCSTORE__LAND_BOOL,
     NULL,
     {NULL, NULL},
     offsetof(docstore_service_options, legacy_allow_outside_root)},
    {DOCSTORE__SETTING("DOCSTORE_ENVELOPE_VERSION", "", DOCSTORE_SETTING_UINT,
                       0, "2", 1, 2, NULL, "envelope_version",
                       "envelope format of new documents: 2 (streamed) or 1 "
                       "(readable by 0.2 and older)"),
     0,
     DOCSTORE__LAND_UINT,
     NULL,
     {NULL, NULL},
     offsetof(docstore_service_options, envelope_version)},
    {DOCSTORE__SETTING("DOCSTORE_COMPRESSION", "", DOCSTORE_SETTING_CHOICE, 0,
                       "none", 1, 19, "none|zstd:N", "compression_level",
                       "zstd compression of new v2 documents before "
                       "encryption ('zstd' is level 3)"),
     0,
     DOCSTORE__LAND_LEVEL,
     "zstd=zstd:3,off=none",
     {NULL, NULL},
     offsetof(docstore_service_options, compression_level)},
    {DOCSTORE__SETTING("DOCSTORE_SEGMENT_SIZE", "", DOCSTORE_SETTING_SIZE, 0,
                       "64KiB", 4096, 16777216, NULL, "segment_size",
                       "plaintext bytes per segment of new v2 documents (a "
                       "power of two)"),
     DOCSTORE__S_POW2,
     DOCSTORE__LAND_UINT,
     NULL,
     {NULL, NULL},
     offsetof(docstore_service_options, segment_size)},
    PATH_SETTING("RSA_PUBLIC_KEY_PATH",
                 "PEM file of the RSA public key new documents are sealed to"),
    PATH_SETTING("RSA_PRIVATE_KEY_PATH",
                 "PEM file of the RSA private key that opens documents"),
    PATH_SETTING("DOCSTORE_RECIPIENT_KEYS",
                 "PEM files of RSA public keys, separated by ':', that every "
                 "new v2 document is also sealed to"),
    {DOCSTORE__SETTING("RSA_PRIVATE_KEY_PASSPHRASE", "", DOCSTORE_SETTING_TEXT,
                       DOCSTORE_SETTING_SECRET, NULL, 0, 0, NULL, NULL,
                       "passphrase of an encrypted private key"),
     0,
     DOCSTORE__LAND_NONE,
     NULL,
     {NULL, NULL},
     0},
    {DOCSTORE__SETTING("DOCSTORE_LOG_LEVEL", "", DOCSTORE_SETTING_CHOICE, 0,
                       NULL, 0, 0, "error|warn|info|debug", NULL,
                       "threshold of the library's log; unset: the host's"),
     0,
     DOCSTORE__LAND_NONE,
     "warning=warn",
     {NULL, NULL},
     0},
};

#define N_ITEMS (sizeof(items) / sizeof(items[0]))

static const docstore__settings_table service_settings = {"", items, N_ITEMS,
                                                          NULL};

/* The migration engine's settings (provider "migrate": no STORAGE_TYPE
 * selects them).  They land nowhere here: the migrate layer, above this
 * one, fills docstore_migrate_options from them by `field`
 * (docstore_migrate_options_from_config() and _load_env(), in
 * src/migrate/options.c).  This table is the one list of their names. */
#define MIG_TEXT(name, flags, def, field, desc)                                \
  {                                                                            \
    DOCSTORE__SETTING(name, "migrate", DOCSTORE_SETTING_TEXT, flags, def, 0,   \
                      0, NULL, field, desc),                                   \
        0, DOCSTORE__LAND_NONE, NULL, {NULL, NULL}, 0                          \
  }

static const docstore__setting migrate_items[] = {
    MIG_TEXT("DATABASE_URL", DOCSTORE_SETTING_SECRET, NULL, "database_url",
             "the database `docstore migrate` works on (postgresql:// URI or "
             "connection string); unset: libpq's PG* variables"),
    MIG_TEXT("DOCSTORE_MIGRATE_SCHEMA", 0, "document", "schema",
             "schema of the migrated tables"),
    MIG_TEXT("DOCSTORE_MIGRATE_TABLE_ATTACHMENT", 0, "attachment",
             "table_attachment", "the attachment table"),
    MIG_TEXT("DOCSTORE_MIGRATE_TABLE_STAGING", 0, "attachment_staging",
             "table_staging", "the staging attachment table"),
    MIG_TEXT("DOCSTORE_MIGRATE_COL_ID", 0, "id", "col_id",
             "unique, ordered id column of the migrated tables"),
    MIG_TEXT("DOCSTORE_MIGRATE_COL_FILENAME", 0, "filename", "col_filename",
             "file name column"),
    MIG_TEXT("DOCSTORE_MIGRATE_COL_FILEPATH", 0, "filepath", "col_filepath",
             "legacy file path column"),
    MIG_TEXT("DOCSTORE_MIGRATE_COL_USER_ID", 0, "user_id", "col_user_id",
             "owner column (NULL: the system folder)"),
    MIG_TEXT("DOCSTORE_MIGRATE_COL_CREATED", 0, "created_at", "col_created",
             "creation time column (the date in the storage path)"),
    MIG_TEXT("DOCSTORE_MIGRATE_COL_STORAGE_PATH", 0, "storage_path",
             "col_storage_path", "object key column"),
    MIG_TEXT("DOCSTORE_MIGRATE_COL_STORAGE_TYPE", 0, "storage_type",
             "col_storage_type", "storage type column"),
    {DOCSTORE__SETTING("DOCSTORE_MIGRATE_LEASE_SECONDS", "migrate",
                       DOCSTORE_SETTING_UINT, 0, "300", 10, 86400, NULL,
                       "lease_seconds",
                       "seconds a migration run's claim on a row lasts "
                       "unless renewed (several runs at once)"),
     0,
     DOCSTORE__LAND_NONE,
     NULL,
     {NULL, NULL},
     0},
    MIG_TEXT("DOCSTORE_MIGRATE_WORKER_NAME", 0, NULL, "worker_name",
             "this migration run's name in the claims and the report; "
             "unset: host:pid"),
};

static const docstore__settings_table migrate_settings = {
    "migrate", migrate_items, sizeof(migrate_items) / sizeof(migrate_items[0]),
    NULL};

static const docstore__settings_table *const tables[] = {
    &service_settings, &docstore__local_settings, &docstore__s3_settings,
    &migrate_settings};

const docstore__catalog docstore__library_catalog = {
    tables, sizeof(tables) / sizeof(tables[0])};

int docstore_config_new(docstore_config **out) {
  return docstore__config_new(out, &docstore__library_catalog);
}

const docstore_setting_info *docstore_config_setting_at(size_t index) {
  const docstore__setting *s =
      docstore__catalog_at(&docstore__library_catalog, index);
  return s ? &s->info : NULL;
}

const docstore_setting_info *docstore_config_setting_find(const char *name) {
  const docstore__setting *s =
      name ? docstore__catalog_find(&docstore__library_catalog, name, NULL)
           : NULL;
  return s ? &s->info : NULL;
}

const char *docstore_config_name_at(size_t index) {
  const docstore_setting_info *s = docstore_config_setting_at(index);
  return s ? s->name : NULL;
}

int docstore__config_log_level(const docstore_config *cfg) {
  const docstore__setting *s = docstore__catalog_find(
      &docstore__library_catalog, "DOCSTORE_LOG_LEVEL", NULL);
  const char *v = cfg ? docstore__config_raw(cfg, "DOCSTORE_LOG_LEVEL") : NULL;
  /* stored normalised: error, warn, info, debug = 0..3 */
  return v ? docstore__setting_choice(s, v) : -1;
}

int docstore__service_options_from_config(const docstore_config *cfg,
                                          docstore_service_options *opts) {
  if (!cfg || !opts)
    return DOCSTORE_EINVAL;
  return docstore__settings_fill(items, N_ITEMS, cfg, opts, sizeof(*opts));
}

int docstore__service_options_check(const docstore_service_options *opts,
                                    size_t opts_size, docstore__err *err) {
  return docstore__settings_check_opts(items, N_ITEMS, opts, opts_size, err);
}
