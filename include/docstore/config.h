/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/config.h
 * @brief Configuration from the environment, a .env file, or key/value
 * setters, under the names of the environment variables (STORAGE_TYPE,
 * S3_BUCKET, ...).
 *
 * Every variable is described in docs/CONFIG.md.
 */
#ifndef DOCSTORE_CONFIG_H
#define DOCSTORE_CONFIG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup config Configuration
 * @brief Settings by environment-variable name, .env files, validation
 * and a masked dump; docstore_service_from_config() turns a configuration
 * into a service.
 *
 * Functions that fail on a NULL configuration can only report it through
 * docstore_last_errmsg(); every other failure is also recorded on the
 * configuration (docstore_config_errmsg()).
 * @{
 */

/**
 * A configuration: a set of NAME=value settings.  Not thread-safe while
 * being modified; read-only use from several threads is fine.  Opaque.
 * @since 0.1.0
 */
typedef struct docstore_config docstore_config;

/**
 * Create an empty configuration (every setting at its default).
 * Thread-safe.
 * @param out receives the configuration (NULL on failure); free it with
 *            docstore_config_free().
 * @return 0, #DOCSTORE_EINVAL (out NULL), #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_config_new(docstore_config **out);

/**
 * Free a configuration, wiping its values (secrets included).
 * @param cfg the configuration, or NULL (no-op).
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_config_free(docstore_config *cfg);

/**
 * Set one setting by its variable name.  Values are checked when set
 * (numbers and their ranges, sizes, booleans, enums, region, endpoint URL,
 * bucket; at most 8192 bytes) and stored normalised ("S3" -> "s3").  On
 * failure the setting keeps its value.  Secret values never appear in a
 * message.
 * @param cfg   the configuration.
 * @param name  a known name ("S3_BUCKET"; see docstore_config_name_at()).
 * @param value the value (copied); NULL or "" unsets the setting.
 * @return 0, #DOCSTORE_EINVAL (cfg or name NULL), #DOCSTORE_ECONFIG
 *         (unknown name, or a value that is not what the setting expects:
 *         the message names the variable and what it expects),
 *         #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_config_set(docstore_config *cfg, const char *name,
                                        const char *value);

/**
 * Current value of a setting as set (normalised), with no default and no
 * AWS_* fallback applied: docstore_config_dump() shows effective values.
 * @param cfg  the configuration (NULL gives NULL).
 * @param name a variable name (NULL or unknown gives NULL).
 * @return the value, or NULL when unset.  Owned by cfg, valid until the
 *         setting changes or cfg is freed.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_config_get(const docstore_config *cfg,
                                                const char *name);

/**
 * Read every known variable from the process environment.  Unset
 * variables leave their setting as it is; a variable set to "" unsets it.
 * All or nothing: on a bad value no setting changes.  AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
 * AWS_REGION/AWS_DEFAULT_REGION stand in for the matching S3_* settings
 * where those are unset; the three credentials as a group, used only when
 * neither S3_ACCESS_KEY nor S3_SECRET_KEY is set (docs/CONFIG.md).
 * Not thread-safe against setenv().
 * @param cfg the configuration.
 * @return 0, #DOCSTORE_EINVAL (cfg NULL), #DOCSTORE_ECONFIG (a bad value;
 *         the message names the variable), #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_config_load_env(docstore_config *cfg);

/**
 * Read NAME=value lines from a .env file ('#' comments, blank lines,
 * optional `export `, single or double quotes).  Unknown names are
 * ignored (a .env file is shared with the host application); "" unsets.
 * Nothing is applied unless the whole file is valid.  The file's contents
 * are wiped from memory after use.  As ssh does with its configuration, a
 * file owned by another user than the effective one or root, or writable
 * by its group or by others, is refused (its lines could redirect
 * documents to another key or server).
 * @param cfg  the configuration.
 * @param path the file.
 * @return 0, #DOCSTORE_EINVAL (cfg or path NULL), #DOCSTORE_ENOTFOUND (no
 *         such file), #DOCSTORE_EIO (cannot open or read it, not a regular
 *         file), #DOCSTORE_ECONFIG (a known name with a bad value, or a
 *         syntax error: the message gives path and line; a file over 1 MiB;
 *         another owner, group- or world-writable),
 *         #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_config_load_dotenv(docstore_config *cfg,
                                                const char *path);

/**
 * Check that the configuration is complete and coherent for the chosen
 * STORAGE_TYPE.  s3 needs a bucket, both credentials of one group (S3_*
 * or AWS_*), a readable S3_CA_BUNDLE when set and S3_RETRY_BASE_MS <=
 * S3_RETRY_MAX_MS; local needs nothing more.  Key files are not opened
 * here.  Thread-safe on an unchanging configuration.
 * @param cfg the configuration.
 * @return 0, #DOCSTORE_EINVAL (cfg NULL), #DOCSTORE_ECONFIG (the message
 *         names the variable).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_config_validate(const docstore_config *cfg);

/**
 * The effective configuration (defaults and AWS_* fallbacks applied) as
 * one "NAME=value" line per setting, in a fixed order, with a comment
 * saying where a value comes from ("  # default", "  # from AWS_REGION")
 * or "NAME=  # not set".  Secrets are masked ("S3_SECRET_KEY=****", access
 * keys as "AKIA****CDEF").  The AWS_* names themselves are not listed.
 * Thread-safe on an unchanging configuration.
 * @param cfg the configuration.
 * @param out receives the text, library-owned (docstore_free()); NULL on
 *            failure.
 * @return 0, #DOCSTORE_EINVAL (cfg or out NULL), #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_config_dump(const docstore_config *cfg,
                                         char **out);

/**
 * Detail of the last failure on this configuration.  Thread-safe.
 * @param cfg the configuration; NULL gives "configuration is NULL".
 * @return "" when none; never NULL.  The string is a copy for the calling
 *         thread, valid until this thread calls any *_errmsg() function
 *         of the library again.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_config_errmsg(const docstore_config *cfg);

/**
 * Names of the known settings, one at a time, for bindings and help
 * texts: call with 0, 1, ... until NULL.  The list includes the AWS_*
 * fallback names.  Thread-safe.
 * @param index position in the list.
 * @return a static string, or NULL past the end.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *docstore_config_name_at(size_t index);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_CONFIG_H */
