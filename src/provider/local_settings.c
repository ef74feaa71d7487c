/*
 * libdocstore - the local provider's settings schema.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The one description of the local provider's settings (see
 * src/config/settings.h).  docs/CONFIG.md's reference table must match it
 * (tests/unit/test_config.c checks).
 */
#include <stddef.h>

#include "provider/local_settings.h"

static const docstore__setting items[] = {
    {DOCSTORE__SETTING("LOCAL_STORAGE_PATH", "local", DOCSTORE_SETTING_PATH, 0,
                       "encrypted_files/", 0, 0, NULL, "root",
                       "root folder of the local provider (created 0700)"),
     0,
     DOCSTORE__LAND_STR,
     NULL,
     {NULL, NULL},
     offsetof(docstore_local_options, root)},
};

#define N_ITEMS (sizeof(items) / sizeof(items[0]))

const docstore__settings_table docstore__local_settings = {"local", items,
                                                           N_ITEMS, NULL};

int docstore__local_options_from_config(const struct docstore_config *cfg,
                                        docstore_local_options *opts) {
  if (!cfg || !opts)
    return DOCSTORE_EINVAL;
  docstore_local_options init = DOCSTORE_LOCAL_OPTIONS_INIT;
  *opts = init;
  return docstore__settings_fill(items, N_ITEMS, cfg, opts, sizeof(*opts));
}

int docstore__local_options_check(const docstore_local_options *opts,
                                  docstore__err *err) {
  if (!opts->root || !opts->root[0])
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "local provider: a root folder is required "
                             "(root, setting LOCAL_STORAGE_PATH)");
  return docstore__settings_check_opts(items, N_ITEMS, opts, sizeof(*opts),
                                       err);
}
