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
#include "util/file.h"

/* The generic parts (the errno map, docstore__err_errno(), whole reads and
 * writes, docstore__file_read()) are in util/file.h. */

/* A whole regular file from an open fd, which it closes: the fd must be a
 * regular file (else DOCSTORE_EINVAL); `what` names it in messages. */
int docstore__fd_read_file(docstore__buf *out, int fd, const char *what,
                           docstore__err *err);

/* ------------------------------------------------------- legacy files */

/* The folder relative legacy paths (an attachment's old `filepath`) are
 * read against when none is configured: the seed's LOCAL_STORAGE_PATH
 * default, where the old backend wrote its files.  One default for the
 * service's fallback and the migration. */
#define DOCSTORE__LEGACY_ROOT_DEFAULT "encrypted_files/"

/* A legacy path joined to its root (NULL or "": the default above):
 * "root/path", or an absolute path as it is.  No confinement: see
 * docstore__file_read_beneath() for that.  docstore__alloc'd, NULL when
 * out of memory. */
char *docstore__legacy_path_join(const char *root, const char *path);

/*
 * Read the regular file `path` found below the folder `root` without ever
 * leaving it, and append it to out.  `path` is relative to root, or
 * absolute and inside root (as written, or after resolving root's own
 * links).  A ".." segment, an absolute path elsewhere, or a symbolic link
 * anywhere below the root: DOCSTORE_EACCESS.  openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) when the kernel has it, else the local provider's
 * segment-by-segment walk with O_NOFOLLOW (src/provider/local.c).
 */
int docstore__file_read_beneath(docstore__buf *out, const char *root,
                                const char *path, docstore__err *err);

/* The same confinement, for a caller that streams the file: an fd open
 * for reading (O_NONBLOCK, O_CLOEXEC; not yet checked to be a regular
 * file), or a negative code with err set. */
int docstore__file_open_beneath(const char *root, const char *path,
                                docstore__err *err);

/* The local provider's writer: create a fresh temporary file (0600,
 * O_EXCL, random name into name[len]) in dirfd and take its lock (see
 * src/provider/local.c).  Returns the fd, or a negative code; `where`
 * names the folder in messages.  Also for tests that play a writer. */
int docstore__local_tmp_create(int dirfd, char *name, size_t len,
                               const char *where, docstore__err *err);

/* Tests only: 1 makes docstore__file_read_beneath() take the walk, as on
 * a kernel without openat2(). */
extern int docstore__beneath_no_openat2;

/* Tests only: 1 makes the local provider's no-clobber commit take the
 * link() + unlink() path, as on a kernel or file system without
 * renameat2(RENAME_NOREPLACE). */
extern int docstore__local_no_renameat2;

#endif
