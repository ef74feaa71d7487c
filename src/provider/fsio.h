/*
 * libdocstore - small POSIX file helpers (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Shared by the local provider and the service's legacy-file fallback:
 * errno to DOCSTORE_E* mapping with strerror text, and whole-file reads
 * and writes that retry on EINTR and short transfers.
 */
#ifndef DOCSTORE_FSIO_H
#define DOCSTORE_FSIO_H

#include "provider_internal.h"

/* errno to a DOCSTORE code: ENOENT/ENOTDIR -> ENOTFOUND, EACCES/EPERM/
 * ELOOP -> EACCESS, ENOMEM -> ENOMEM, ENAMETOOLONG -> EINVAL, anything
 * else (ENOSPC, EDQUOT, EROFS, EIO...) -> EIO. */
int docstore__errno_code(int e);

/* Set err to `code` with the message "<fmt...>: <strerror(e)>".
 * code 0 means docstore__errno_code(e).  Returns the code. */
int docstore__err_errno(docstore__err *err, int code, int e, const char *fmt,
                        ...) DOCSTORE__PRINTF(4, 5);

/* Write all n bytes.  Returns 0 or an errno value (> 0). */
int docstore__fd_write_all(int fd, const uint8_t *p, size_t n);

/* Read fd to its end, handing the bytes to sink.  `what` names the file in
 * messages.  A sink's non-zero answer stops with its code (or
 * DOCSTORE_ECANCELED when it is positive). */
int docstore__fd_read_all(int fd, docstore_sink_cb sink, void *sink_payload,
                          const char *what, docstore__err *err);

/* Read a whole regular file (following symlinks: for trusted paths only)
 * and append it to out.  Missing file: DOCSTORE_ENOTFOUND; a folder or a
 * device: DOCSTORE_EINVAL. */
int docstore__file_read(docstore__buf *out, const char *path,
                        docstore__err *err);

#endif
