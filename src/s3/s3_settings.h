/*
 * libdocstore - the S3 provider's settings schema.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  One table (s3_settings.c) describes every S3_* setting
 * and the docstore_s3_options field it fills; the configuration, the
 * provider's option checks, the dump and docs/CONFIG.md derive from it.
 */
#ifndef DOCSTORE_S3_SETTINGS_H
#define DOCSTORE_S3_SETTINGS_H

#include "config/settings.h"
#include "docstore/provider.h"

struct docstore__s3_tuning;

/* The S3 table, with the coherence check docstore_config_validate() runs
 * when STORAGE_TYPE=s3 (bucket, credential group, CA bundle, backoff). */
extern const docstore__settings_table docstore__s3_settings;

/* Fill S3 provider options from cfg's effective values (strings borrowed
 * from cfg). */
int docstore__s3_options_from_config(const struct docstore_config *cfg,
                                     docstore_s3_options *opts);

/* Check options a caller filled (any version): the schema's rules for
 * every field, then what only the provider knows (required fields,
 * backoff order).  tuning (may be NULL) may lower the part-size minimum
 * for tests. */
int docstore__s3_options_check(const docstore_s3_options *opts,
                               const struct docstore__s3_tuning *tuning,
                               docstore__err *err);

/* Bytes of a docstore_s3_options table of this version (1, 2 or 3): the
 * fields a caller of that version has.  Implemented in s3_provider.c. */
size_t docstore__s3_options_size(unsigned int version);

#endif /* DOCSTORE_S3_SETTINGS_H */
