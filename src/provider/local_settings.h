/*
 * libdocstore - the local provider's settings schema.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  One table (local_settings.c) describes the local
 * provider's settings and the docstore_local_options field each fills.
 */
#ifndef DOCSTORE_LOCAL_SETTINGS_H
#define DOCSTORE_LOCAL_SETTINGS_H

#include "config/settings.h"
#include "docstore/provider.h"

extern const docstore__settings_table docstore__local_settings;

/* Fill local provider options from cfg (strings borrowed from cfg). */
int docstore__local_options_from_config(const struct docstore_config *cfg,
                                        docstore_local_options *opts);

/* Check options a caller filled: the schema's rules for every field, and
 * a root is required. */
int docstore__local_options_check(const docstore_local_options *opts,
                                  docstore__err *err);

#endif /* DOCSTORE_LOCAL_SETTINGS_H */
