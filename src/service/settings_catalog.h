/*
 * libdocstore - the catalogue of every setting (service layer).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  The service's own settings (STORAGE_TYPE, keys, legacy
 * root, log level) and the gathering of every provider's table: the layer
 * above the providers is the one that knows them all.
 */
#ifndef DOCSTORE_SETTINGS_CATALOG_H
#define DOCSTORE_SETTINGS_CATALOG_H

#include "config/settings.h"
#include "docstore/service.h"

/* Every setting the library knows, in dump order. */
extern const docstore__catalog docstore__library_catalog;

/* DOCSTORE_LOG_LEVEL as a docstore_log_level, or -1 when not set. */
int docstore__config_log_level(const docstore_config *cfg);

/* Fill service options (legacy_root, envelope settings) from cfg
 * (strings borrowed). */
int docstore__service_options_from_config(const docstore_config *cfg,
                                          docstore_service_options *opts);

/* Check the envelope fields of service options a C caller filled (the
 * settings' rules; 0 means the default). */
int docstore__service_options_check(const docstore_service_options *opts,
                                    size_t opts_size, docstore__err *err);

#endif /* DOCSTORE_SETTINGS_CATALOG_H */
