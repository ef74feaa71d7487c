/*
 * libdocstore - service layer internals.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DOCSTORE_SERVICE_INTERNAL_H
#define DOCSTORE_SERVICE_INTERNAL_H

#include "docstore/service.h"
#include "internal.h"

#include "util/id.h"

/* docstore_storage_path() with the reason of a refusal in err. */
int docstore__storage_path(char **out, const char *file_id,
                           const char *filename, const char *user_id,
                           int64_t when, docstore__err *err);

#endif
