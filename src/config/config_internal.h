/*
 * libdocstore - configuration internals: the .env parser.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  The public side is include/docstore/config.h; every
 * variable is described in docs/CONFIG.md.
 */
#ifndef DOCSTORE_CONFIG_INTERNAL_H
#define DOCSTORE_CONFIG_INTERNAL_H

#include "config/settings.h"
#include "docstore/config.h"
#include "internal.h"

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
