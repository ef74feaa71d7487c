/*
 * libdocstore - configuration internals shared with the factory.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  The public side is include/docstore/config.h; every
 * variable is described in docs/CONFIG.md.
 */
#ifndef DOCSTORE_CONFIG_INTERNAL_H
#define DOCSTORE_CONFIG_INTERNAL_H

#include "docstore/config.h"
#include "docstore/provider.h"
#include "internal.h"

/*
 * Effective value of a setting: the value set, else its fallback
 * (AWS_* variables, LOCAL_STORAGE_PATH for DOCSTORE_LEGACY_ROOT), else its
 * default; NULL when none applies.  *source (may be NULL) receives NULL
 * when the value was set directly, "default" for a default, or the name of
 * the variable it fell back to.  The pointer is owned by cfg.
 *
 * Credentials form a group: S3_ACCESS_KEY, S3_SECRET_KEY and
 * S3_SESSION_TOKEN come from the S3_* variables when S3_ACCESS_KEY or
 * S3_SECRET_KEY is set, otherwise all three from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (never a mix).
 */
const char *docstore__config_effective(const docstore_config *cfg,
                                       const char *name, const char **source);

/* Fill S3 provider options from cfg.  Strings are borrowed from cfg;
 * numeric settings that are not set stay 0 (the provider's default). */
int docstore__config_s3_options(const docstore_config *cfg,
                                docstore_s3_options *opts);

/* DOCSTORE_LOG_LEVEL as a docstore_log_level, or -1 when not set. */
int docstore__config_log_level(const docstore_config *cfg);

/* 1 when S3_VERIFY_TLS is set to a false value. */
int docstore__config_tls_disabled(const docstore_config *cfg);

/* ----------------------------------------------------------- .env text */

/* Called for each NAME=value line; value is decoded and NUL-terminated,
 * valid only during the call.  Return 0 to go on, or a negative code
 * (with detail in err) to stop. */
typedef int (*docstore__dotenv_cb)(void *payload, const char *name,
                                   const char *value, size_t line,
                                   docstore__err *err);

/*
 * Parse .env text (see docs/CONFIG.md, ".env files").  `origin` names the
 * file in messages ("<origin>:<line>: ...").  Values never appear in error
 * messages.  @return 0, DOCSTORE_ECONFIG (syntax), DOCSTORE_ENOMEM, or the
 * callback's code.
 */
int docstore__dotenv_parse(const char *text, size_t len, const char *origin,
                           docstore__dotenv_cb cb, void *payload,
                           docstore__err *err);

#endif /* DOCSTORE_CONFIG_INTERNAL_H */
