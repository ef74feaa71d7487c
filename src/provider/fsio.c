/*
 * libdocstore - small POSIX file helpers.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsio.h"

int docstore__fd_read_file(docstore__buf *out, int fd, const char *what,
                           docstore__err *err) {
  struct stat st;
  int rc;
  if (fstat(fd, &st) < 0) {
    rc = docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot stat %s", what);
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = docstore__err_set(err, DOCSTORE_EINVAL, "%s is not a regular file",
                           what);
    goto done;
  }
  rc = docstore__fd_read_all(fd, docstore__buf_sink, out, what, err);
done:
  close(fd);
  return rc;
}

char *docstore__legacy_path_join(const char *root, const char *path) {
  if (!root || !*root)
    root = DOCSTORE__LEGACY_ROOT_DEFAULT;
  if (path[0] == '/')
    return docstore__strdup(path);
  size_t n = strlen(root);
  return docstore__sprintf("%s%s%s", root, root[n - 1] == '/' ? "" : "/", path);
}
