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

/**
 * @name Settings schema
 * Every setting is described once, in its provider's table (name, type,
 * default, range, flags, the options field it fills, a description); the
 * checks of docstore_config_set(), the dump, docs/CONFIG.md and the
 * options checks of docstore_s3_provider_new() and
 * docstore_local_provider_new() all derive from it.  Bindings iterate it
 * instead of mirroring it.
 */
/**@{*/

/**
 * Type of a setting's value (docstore_setting_info.type).  Values never
 * change; new types are appended.
 * @since 0.2.0
 */
typedef enum docstore_setting_type {
  DOCSTORE_SETTING_TEXT = 0,   /**< text without control characters */
  DOCSTORE_SETTING_CHOICE = 1, /**< one of `choices`, any case */
  DOCSTORE_SETTING_BOOL = 2,   /**< true/false, 1/0, yes/no, on/off */
  DOCSTORE_SETTING_UINT = 3,   /**< decimal integer in [min, max] */
  DOCSTORE_SETTING_SIZE = 4,   /**< bytes, optional K/M/G suffix, [min, max] */
  DOCSTORE_SETTING_PATH = 5,   /**< file or folder path */
  DOCSTORE_SETTING_URL = 6,    /**< http(s)://host[:port] */
  DOCSTORE_SETTING_REGION = 7, /**< lowercase letters, digits, '-' */
  DOCSTORE_SETTING_BUCKET = 8, /**< 3-255 letters, digits, '.', '-', '_' */
  DOCSTORE_SETTING_TOKEN = 9   /**< printable ASCII without spaces */
} docstore_setting_type;

/** Flag: a secret, never shown (dumped as "****"). @since 0.2.0 */
#define DOCSTORE_SETTING_SECRET 1u
/** Flag: shown partly masked ("AKIA****CDEF"). @since 0.2.0 */
#define DOCSTORE_SETTING_PARTIAL 2u
/** Flag: read only as a fallback of another setting (AWS_*); not
 *  dumped. @since 0.2.0 */
#define DOCSTORE_SETTING_FALLBACK 4u
/** Flag: required when its provider is chosen. @since 0.2.0 */
#define DOCSTORE_SETTING_REQUIRED 8u

/** Current version of #docstore_setting_info. @since 0.2.0 */
#define DOCSTORE_SETTING_INFO_VERSION 1

/**
 * One setting of the schema.  Library-owned and static: never freed,
 * never changed.  Fields may be appended in later versions (check
 * `version`).
 * @since 0.2.0
 */
typedef struct docstore_setting_info {
  unsigned int version; /**< #DOCSTORE_SETTING_INFO_VERSION */
  const char *name;     /**< "S3_BUCKET" */
  /** the STORAGE_TYPE it applies to ("s3", "local"), "" for all, or
   *  (0.4.0) "migrate" for the migration engine's (`docstore migrate`) */
  const char *provider;
  int type;                  /**< #docstore_setting_type */
  unsigned int flags;        /**< DOCSTORE_SETTING_* flags */
  const char *default_value; /**< as dumped ("8MiB"), or NULL: none */
  /** UINT and SIZE: smallest value; CHOICE with a "name:N" choice: the
   *  smallest N */
  uint64_t min;
  /** UINT and SIZE: largest value; CHOICE with a "name:N" choice: the
   *  largest N */
  uint64_t max;
  /** CHOICE: "auto|path|virtual"; a choice "name:N" (as in "none|zstd:N")
   *  takes "name:" and a number from min to max (@since 0.3.0); else
   *  NULL */
  const char *choices;
  /** the field of the provider's options struct it fills
   *  ("bucket" of docstore_s3_options), or NULL */
  const char *field;
  const char *description; /**< one sentence, English */
} docstore_setting_info;

/**
 * The index-th setting of the schema (0, 1, ... until NULL), in the
 * dump's order; the same names as docstore_config_name_at().
 * Thread-safe.
 * @param index position.
 * @return the setting (static), or NULL past the end.
 * @since 0.2.0
 */
DOCSTORE_EXTERN const docstore_setting_info *
docstore_config_setting_at(size_t index);

/**
 * The setting called name.  Thread-safe.
 * @param name a variable name ("S3_BUCKET").
 * @return the setting (static), or NULL when name is NULL or unknown.
 * @since 0.2.0
 */
DOCSTORE_EXTERN const docstore_setting_info *
docstore_config_setting_find(const char *name);

struct docstore_provider;

/**
 * Build the provider the configuration chooses (STORAGE_TYPE: the local
 * provider from LOCAL_STORAGE_PATH, or the S3 provider from the S3_*
 * settings, with the AWS_* fallbacks), after docstore_config_validate().
 * For bindings and programs that want a provider without a service, so
 * they need not fill docstore_s3_options themselves.  Thread-safe on an
 * unchanging configuration.
 * @param out        receives the provider (NULL on failure); free it with
 *                   docstore_provider_free().
 * @param cfg        the configuration (borrowed; the provider copies what
 *                   it keeps).
 * @param errbuf     optional buffer for a message on failure.
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (out or cfg NULL), #DOCSTORE_ECONFIG,
 *         #DOCSTORE_ENOMEM.
 * @since 0.2.0
 */
DOCSTORE_EXTERN int
docstore_provider_from_config(struct docstore_provider **out,
                              const docstore_config *cfg, char *errbuf,
                              size_t errbuf_len);

/**@}*/

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_CONFIG_H */
