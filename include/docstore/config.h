/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * config.h: configuration from the environment, a .env file, or key/value
 * setters, under the names of the environment variables (STORAGE_TYPE,
 * S3_BUCKET, ...).  Every variable is described in docs/CONFIG.md.
 */
#ifndef DOCSTORE_CONFIG_H
#define DOCSTORE_CONFIG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A configuration: a set of NAME=value settings.  Not thread-safe while
 * being modified; read-only use from several threads is fine.
 */
typedef struct docstore_config docstore_config;

/** Create an empty configuration (every setting at its default). */
DOCSTORE_EXTERN int docstore_config_new(docstore_config **out);

/** Free a configuration, wiping secret values.  NULL is a no-op. */
DOCSTORE_EXTERN void docstore_config_free(docstore_config *cfg);

/**
 * Set one setting by its variable name ("S3_BUCKET").  value NULL or ""
 * unsets it.  Values are checked when set (numbers, sizes, booleans, enums,
 * region, endpoint URL, bucket) and stored normalised ("S3" -> "s3").
 * @return 0, DOCSTORE_EINVAL (NULL cfg/name), DOCSTORE_ECONFIG (unknown
 *         name, or value not what the setting expects: the message names
 *         the variable and what it expects), DOCSTORE_ENOMEM.
 */
DOCSTORE_EXTERN int docstore_config_set(docstore_config *cfg, const char *name,
                                        const char *value);

/**
 * Current value of a setting, or NULL when unset (no default and no AWS_*
 * fallback applied: docstore_config_dump() shows effective values).
 * The pointer is owned by cfg and valid until the setting changes.
 */
DOCSTORE_EXTERN const char *docstore_config_get(const docstore_config *cfg,
                                                const char *name);

/**
 * Read every known variable from the process environment (unset variables
 * leave the setting as it is; all or nothing on a bad value).
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
 * AWS_REGION/AWS_DEFAULT_REGION stand in for the matching S3_* settings
 * where those are unset; the three credentials as a group, used only when
 * neither S3_ACCESS_KEY nor S3_SECRET_KEY is set (docs/CONFIG.md).
 */
DOCSTORE_EXTERN int docstore_config_load_env(docstore_config *cfg);

/**
 * Read NAME=value lines from a .env file ('#' comments, blank lines,
 * optional `export `, single or double quotes).  Unknown names are
 * ignored (a .env file is shared with the host application).
 * @return 0, DOCSTORE_ENOTFOUND, DOCSTORE_EIO, DOCSTORE_ECONFIG (a known
 *         name with a bad value, or a syntax error: message gives the line;
 *         a file over 1 MiB).  Nothing is applied unless the whole file is
 *         valid.
 */
DOCSTORE_EXTERN int docstore_config_load_dotenv(docstore_config *cfg,
                                                const char *path);

/**
 * Check that the configuration is complete and coherent for the chosen
 * STORAGE_TYPE (e.g. s3 needs a bucket and credentials).
 * @return 0 or DOCSTORE_ECONFIG with a message naming the variable.
 */
DOCSTORE_EXTERN int docstore_config_validate(const docstore_config *cfg);

/**
 * The effective configuration (defaults applied) as NAME=value lines,
 * secrets masked ("S3_SECRET_KEY=****").  Library-owned (docstore_free()).
 */
DOCSTORE_EXTERN int docstore_config_dump(const docstore_config *cfg,
                                         char **out);

/** Detail of the last failure on this configuration; never NULL. */
DOCSTORE_EXTERN const char *docstore_config_errmsg(const docstore_config *cfg);

/**
 * Names of the known settings, one at a time: index 0, 1, ... until NULL.
 * Static strings.  For bindings and help texts.
 */
DOCSTORE_EXTERN const char *docstore_config_name_at(size_t index);

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_CONFIG_H */
