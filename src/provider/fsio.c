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

#define READ_CHUNK (64 * 1024)

int docstore__errno_code(int e) {
  switch (e) {
  case ENOENT:
  case ENOTDIR:
    return DOCSTORE_ENOTFOUND;
  case EACCES:
  case EPERM:
  case ELOOP:
    return DOCSTORE_EACCESS;
  case ENOMEM:
    return DOCSTORE_ENOMEM;
  case ENAMETOOLONG:
    return DOCSTORE_EINVAL;
  default:
    return DOCSTORE_EIO;
  }
}

int docstore__err_errno(docstore__err *err, int code, int e, const char *fmt,
                        ...) {
  char what[DOCSTORE__ERRMSG_MAX];
  char text[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  /* XSI strerror_r: thread-safe, fills text. */
  if (strerror_r(e, text, sizeof(text)) != 0)
    snprintf(text, sizeof(text), "errno %d", e);
  if (code == 0)
    code = docstore__errno_code(e);
  return docstore__err_set(err, code, "%s: %s", what, text);
}

int docstore__fd_write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (w == 0)
      return EIO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int docstore__fd_read_all(int fd, docstore_sink_cb sink, void *sink_payload,
                          const char *what, docstore__err *err) {
  int rc = 0;
  uint8_t *chunk = docstore__alloc(READ_CHUNK);
  if (!chunk)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  for (;;) {
    ssize_t r = read(fd, chunk, READ_CHUNK);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      rc =
          docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot read %s", what);
      break;
    }
    if (r == 0)
      break;
    int s = sink(sink_payload, chunk, (size_t)r);
    if (s != 0) {
      rc = s < 0 ? s : DOCSTORE_ECANCELED;
      docstore__err_set(err, rc, "reading %s stopped by the receiver: %s", what,
                        docstore_strerror(rc));
      break;
    }
  }
  docstore_free(chunk);
  return rc;
}

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

int docstore__file_read(docstore__buf *out, const char *path,
                        docstore__err *err) {
  /* O_NONBLOCK: opening a FIFO must not hang; refused below anyway. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return docstore__err_errno(err, 0, errno, "cannot open %s", path);
  return docstore__fd_read_file(out, fd, path, err);
}

char *docstore__legacy_path_join(const char *root, const char *path) {
  if (!root || !*root)
    root = DOCSTORE__LEGACY_ROOT_DEFAULT;
  if (path[0] == '/')
    return docstore__strdup(path);
  size_t n = strlen(root);
  return docstore__sprintf("%s%s%s", root, root[n - 1] == '/' ? "" : "/", path);
}
