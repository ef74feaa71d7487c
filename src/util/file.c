/*
 * libdocstore - POSIX files and errno values.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"

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
  case EISDIR:
  case ENAMETOOLONG:
  case EINVAL:
    return DOCSTORE_EINVAL;
  case EEXIST:
    return DOCSTORE_EEXISTS;
  case EFBIG:
    return DOCSTORE_ETOOBIG;
  case ENOMEM:
    return DOCSTORE_ENOMEM;
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

int docstore__fd_read_all(int fd, int (*sink)(void *, const uint8_t *, size_t),
                          void *sink_payload, const char *what,
                          docstore__err *err) {
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

int docstore__fd_check_type(int fd, const struct stat *st, unsigned flags,
                            const char *what, const char *path,
                            docstore__err *err) {
  if (S_ISREG(st->st_mode))
    return 0;
  if (S_ISDIR(st->st_mode))
    return docstore__err_set(err, DOCSTORE_EINVAL, "%s %s is a folder", what,
                             path);
  if ((flags & DOCSTORE__FILE_STREAMS) &&
      (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode))) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
      return docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot read %s %s",
                                 what, path);
    return 0;
  }
  return docstore__err_set(err, DOCSTORE_EINVAL, "%s %s is not a regular file",
                           what, path);
}

static int too_big(docstore__err *err, const char *what, const char *path,
                   size_t max) {
  return docstore__err_set(err, DOCSTORE_ETOOBIG,
                           "%s %s is larger than %zu bytes", what, path, max);
}

int docstore__file_read(docstore__buf *out, const char *path, size_t max_bytes,
                        unsigned flags, const char *what, docstore__err *err) {
  return docstore__file_read_checked(out, path, max_bytes, flags, what, NULL,
                                     NULL, err);
}

int docstore__file_read_checked(docstore__buf *out, const char *path,
                                size_t max_bytes, unsigned flags,
                                const char *what, docstore__file_check_cb check,
                                void *check_arg, docstore__err *err) {
  struct stat st;
  int rc = 0;
  size_t start = out->len;
  size_t max = max_bytes ? max_bytes : SIZE_MAX - READ_CHUNK - 1;
  if (!what)
    what = "file";
  int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (flags & DOCSTORE__FILE_NOFOLLOW)
    oflags |= O_NOFOLLOW;
  int fd = open(path, oflags);
  if (fd < 0 && errno == ELOOP && (flags & DOCSTORE__FILE_NOFOLLOW))
    return docstore__err_set(err, DOCSTORE_EACCESS,
                             "cannot open %s %s: it is a symbolic link", what,
                             path);
  if (fd < 0)
    return docstore__err_errno(err, 0, errno, "cannot open %s %s", what, path);
  if (fstat(fd, &st) < 0) {
    rc = docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot stat %s %s",
                             what, path);
    goto done;
  }
  DOCSTORE__GUARD_GOTO(
      rc, docstore__fd_check_type(fd, &st, flags, what, path, err), done);
  if (check)
    DOCSTORE__GUARD_GOTO(rc, check(fd, &st, path, check_arg, err), done);
  if (S_ISREG(st.st_mode)) {
    if ((uint64_t)st.st_size > max) {
      rc = too_big(err, what, path, max);
      goto done;
    }
    /* The size, and room to see the end of file: one allocation. */
    if (docstore__buf_reserve(out, (size_t)st.st_size + 1) < 0) {
      rc = docstore__err_set(err, DOCSTORE_ENOMEM,
                             "out of memory reading %s %s", what, path);
      goto done;
    }
  }
  for (;;) {
    if ((out->cap == 0 || out->cap - out->len - 1 == 0) &&
        docstore__buf_reserve(out, READ_CHUNK) < 0) {
      rc = docstore__err_set(err, DOCSTORE_ENOMEM,
                             "out of memory reading %s %s", what, path);
      goto done;
    }
    size_t room = out->cap - out->len - 1;
    /* Never ask for more than the limit allows, plus one byte to see that
     * the file is longer. */
    size_t left = max - (out->len - start) + 1;
    ssize_t r = read(fd, out->data + out->len, room < left ? room : left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = docstore__err_errno(err, 0, errno, "cannot read %s %s", what, path);
      goto done;
    }
    if (r == 0)
      break;
    out->len += (size_t)r;
    out->data[out->len] = '\0';
    if (out->len - start > max) {
      rc = too_big(err, what, path, max);
      goto done;
    }
  }
done:
  if (rc < 0 && out->data) { /* nothing half-read stays appended */
    docstore__wipe(out->data + start, out->len - start);
    out->len = start;
    out->data[start] = '\0';
  }
  close(fd);
  return rc;
}
