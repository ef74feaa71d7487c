/*
 * libdocstore - POSIX files and errno values (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * The one errno -> DOCSTORE_E* map of the library, messages with the
 * strerror text, whole-file reads with a size limit, and reads and writes
 * that retry on EINTR and short transfers.
 */
#ifndef DOCSTORE_UTIL_FILE_H
#define DOCSTORE_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* errno to a DOCSTORE code:
 *   ENOENT, ENOTDIR                -> DOCSTORE_ENOTFOUND
 *   EACCES, EPERM, ELOOP           -> DOCSTORE_EACCESS (ELOOP: a symbolic
 *                                     link refused by O_NOFOLLOW, or a loop)
 *   EISDIR, ENAMETOOLONG, EINVAL   -> DOCSTORE_EINVAL
 *   EEXIST                         -> DOCSTORE_EEXISTS
 *   EFBIG                          -> DOCSTORE_ETOOBIG
 *   ENOMEM                         -> DOCSTORE_ENOMEM
 *   anything else (ENOSPC, EDQUOT, EROFS, EIO, EMFILE...) -> DOCSTORE_EIO */
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
int docstore__fd_read_all(int fd, int (*sink)(void *, const uint8_t *, size_t),
                          void *sink_payload, const char *what,
                          docstore__err *err);

/* docstore__file_read() flags. */
/* Refuse a symbolic link as the last path component (DOCSTORE_EACCESS). */
#define DOCSTORE__FILE_NOFOLLOW 0x1u
/* Also read a pipe or a character device (a key given as /dev/stdin or
 * <(command)); without it only a regular file is read. */
#define DOCSTORE__FILE_STREAMS 0x2u

/*
 * Read a whole file and append it to out, which may be a secret buffer
 * (DOCSTORE__BUF_INIT: wiped when it grows and when freed) or a public one.
 * A regular file's size is reserved at once, so out grows once.  At most
 * max_bytes are read (0: no limit); out then never holds more than
 * max_bytes plus 64 KiB.  The descriptor is opened O_CLOEXEC (and
 * O_NONBLOCK, so that a FIFO never blocks the open).  `what` ("key file")
 * starts messages; NULL gives "file".
 * @return 0, or with detail in err: the errno code (docstore__errno_code)
 *         of a failed open or read, DOCSTORE_EINVAL (a folder, a device or
 *         pipe without DOCSTORE__FILE_STREAMS), DOCSTORE_ETOOBIG (more than
 *         max_bytes), DOCSTORE_ENOMEM.
 */
int docstore__file_read(docstore__buf *out, const char *path, size_t max_bytes,
                        unsigned flags, const char *what, docstore__err *err);

/* Called with the opened descriptor and its fstat() before any byte is
 * read (e.g. to refuse a .env file another user owns or can write): 0 to
 * go on, or a negative code, with detail in err, to stop. */
struct stat;
typedef int (*docstore__file_check_cb)(int fd, const struct stat *st,
                                       const char *path, void *arg,
                                       docstore__err *err);

/* The type check of docstore__file_read() on an open fd and its fstat():
 * 0 for a regular file (or, with DOCSTORE__FILE_STREAMS, a pipe or
 * character device, made blocking again), else DOCSTORE_EINVAL with
 * "<what> <path> is a folder" / "... is not a regular file". */
int docstore__fd_check_type(int fd, const struct stat *st, unsigned flags,
                            const char *what, const char *path,
                            docstore__err *err);

/* docstore__file_read() with a check of the file actually opened (no race
 * between the check and the read).  check NULL: none. */
int docstore__file_read_checked(docstore__buf *out, const char *path,
                                size_t max_bytes, unsigned flags,
                                const char *what, docstore__file_check_cb check,
                                void *check_arg, docstore__err *err);

#endif /* DOCSTORE_UTIL_FILE_H */
