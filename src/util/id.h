/*
 * libdocstore - the identity rule for file and user ids (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * A file or user id is 1 to 64 characters of [A-Za-z0-9_-]: it goes into
 * object keys (documents/user_<id>/...) and into an envelope's associated
 * data, so the envelope, the path layout and the bindings all apply this
 * one rule.
 */
#ifndef DOCSTORE_UTIL_ID_H
#define DOCSTORE_UTIL_ID_H

#include <stddef.h>

#include "internal.h"

#define DOCSTORE__ID_MAX 64

/* 1 when `id` follows the rule (NULL does not), else 0; records nothing. */
int docstore__id_valid(const char *id);
/* The same for the n bytes at id, which may hold NUL bytes (refused). */
int docstore__id_valid_n(const char *id, size_t n);

/* 0 when `id` follows the rule; else DOCSTORE_EINVAL with the reason in err
 * (NULL: the thread's last error), `what` naming the id ("file_id is
 * NULL", "file_id must be 1 to 64 characters long (got 65)", "... bad
 * character at position 3").  The id itself is never echoed. */
int docstore__id_check(const char *id, const char *what, docstore__err *err);

#endif /* DOCSTORE_UTIL_ID_H */
