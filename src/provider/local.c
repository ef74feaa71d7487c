/*
 * libdocstore - local filesystem provider.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Objects are files under a root folder, one folder per key segment.
 *
 * Confinement: the root is opened once; every path below it is walked one
 * segment at a time with openat()/mkdirat() and O_NOFOLLOW, so neither a
 * "..", nor an absolute key, nor a symbolic link planted inside the root
 * can lead outside it.  A symlink met on the way is refused with
 * DOCSTORE_EACCESS.  Keys are checked by the dispatch layer and again here.
 *
 * Atomicity: put writes a temporary file (TMP_PREFIX + random hex, 0600,
 * O_EXCL) in the target's folder, fsyncs it, renames it over the target
 * and fsyncs the folder; on any failure the temporary file is removed.  A
 * reader sees the old or the new object, never a part.  The streaming put
 * (provider ops version 2) is the same transaction cut in three: put_begin
 * creates the temporary file, put_write appends, put_commit syncs and
 * renames (put_abort unlinks); the whole-object put is begin + one write +
 * commit.  No-clobber renames with renameat2(RENAME_NOREPLACE), or with
 * link() + unlink() of the temporary name where that is missing: either
 * fails, atomically, when the name exists.
 *
 * Temporaries of killed writers: the writer holds an exclusive OFD lock
 * (fcntl F_OFD_SETLK) on its temporary file from creation to rename; the
 * kernel drops it when the process dies.  docstore_local_temporaries()
 * takes the lock without waiting before it removes a file, and removes it
 * while holding it; a writer that finds its new file locked, or unlinked
 * by the time it holds the lock, takes another name.  So a live writer's
 * file is never removed, without trusting pids, clocks or host names
 * (which mean nothing across hosts sharing an NFS folder; NFS carries the
 * locks to the server).
 *
 * Deleting an object leaves its (possibly empty) folders in place: removing
 * them would race with a concurrent put into the same folder, and empty
 * folders cost nothing.
 *
 * Thread safety: the payload is read-only after creation (the root fd and
 * path); all shared state is in the filesystem.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#ifdef __linux__
#include <linux/openat2.h>
#endif
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provider/local_settings.h"
#include "fsio.h"
#include "provider_internal.h"

/* Names the provider creates for itself; never valid object names. */
#define TMP_PREFIX ".docstore-tmp-"
#define TMP_PREFIX_LEN (sizeof(TMP_PREFIX) - 1)
#define KEY_MAX 1024
#define SEGMENT_MAX 255

typedef struct local {
  int root_fd;
  char *root; /* absolute, with a trailing '/' */
  int fsync;
} local;

/* What a walk is for: decides how a missing folder is reported. */
typedef enum walk_mode { WALK_READ, WALK_CREATE, WALK_DELETE } walk_mode;

#define WALK_GONE 1 /* WALK_DELETE: a folder on the way does not exist */

int docstore_local_options_init(docstore_local_options *opts,
                                unsigned int version) {
  if (!opts || version != DOCSTORE_LOCAL_OPTIONS_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "local options: unknown version %u (expected %d)",
                             version, DOCSTORE_LOCAL_OPTIONS_VERSION);
  docstore_local_options init = DOCSTORE_LOCAL_OPTIONS_INIT;
  *opts = init;
  return 0;
}

/* The dispatch layer's checks, plus what only a filesystem cares about. */
static int local_key_check(const char *key, docstore__err *err) {
  DOCSTORE__GUARD(docstore__key_check(key, err));
  for (const char *seg = key; seg;) {
    const char *slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    if (n >= TMP_PREFIX_LEN && memcmp(seg, TMP_PREFIX, TMP_PREFIX_LEN) == 0)
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "key segments starting with \"" TMP_PREFIX
                               "\" are reserved by the local provider");
    if (n > SEGMENT_MAX)
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "key segment of %zu bytes: the filesystem "
                               "allows %d",
                               n, SEGMENT_MAX);
    seg = slash ? slash + 1 : NULL;
  }
  return 0;
}

/* Explain why `name` in dirfd could not be opened as a folder. */
static int not_a_folder(int dirfd, const char *name, int e, walk_mode mode,
                        const char *path, docstore__err *err) {
  struct stat st;
  if (e == ENOTDIR || e == ELOOP || e == ENOENT) {
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
      return docstore__err_set(err, DOCSTORE_EACCESS,
                               "%s is a symbolic link; links below the "
                               "root are not followed",
                               path);
    if (e == ELOOP)
      e = ENOTDIR;
  }
  if (e == ENOENT || e == ENOTDIR) {
    if (mode == WALK_DELETE)
      return WALK_GONE;
    if (mode == WALK_READ)
      return docstore__err_set(err, DOCSTORE_ENOTFOUND, "no such object");
    if (e == ENOTDIR)
      return docstore__err_set(err, DOCSTORE_EIO, "%s is a file, not a folder",
                               path);
    return docstore__err_set(err, DOCSTORE_EIO,
                             "folder %s vanished (was the storage root "
                             "removed?)",
                             path);
  }
  return docstore__err_errno(err, 0, e, "cannot open folder %s", path);
}

/* fsync a folder when the provider is asked to. */
static int sync_dir(const local *l, int dirfd, const char *path,
                    docstore__err *err) {
  if (l->fsync && fsync(dirfd) < 0)
    return docstore__err_errno(err, DOCSTORE_EIO, errno,
                               "cannot fsync folder %s", path);
  return 0;
}

/*
 * Open the folders of path[0..dir_len) ("a/b/": every segment ends with
 * '/') below the root, one at a time, without following links; in
 * WALK_CREATE mode create missing ones (0700).  *out_fd receives the last
 * folder's fd (the root's own fd when dir_len is 0: do not close that one;
 * see close_dir()).  Returns 0, WALK_GONE (delete mode) or an error.
 */
static int walk_dirs(const local *l, const char *path, size_t dir_len,
                     walk_mode mode, int *out_fd, docstore__err *err) {
  char buf[KEY_MAX + 1];
  int cur = l->root_fd;
  int rc = 0;
  *out_fd = -1;
  if (dir_len > KEY_MAX)
    return docstore__err_set(err, DOCSTORE_EINVAL, "path too long");
  memcpy(buf, path, dir_len);
  buf[dir_len] = '\0';
  for (size_t start = 0; start < dir_len;) {
    char *slash = strchr(buf + start, '/');
    *slash = '\0';
    const char *name = buf + start;
    int created = 0;
    if (mode == WALK_CREATE) {
      if (mkdirat(cur, name, 0700) == 0)
        created = 1;
      else if (errno != EEXIST) {
        rc = errno == ENOTDIR || errno == ENOENT
                 ? not_a_folder(cur, name, errno, mode, buf, err)
                 : docstore__err_errno(err, 0, errno, "cannot create folder %s",
                                       buf);
        goto fail;
      }
    }
    int next =
        openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      rc = not_a_folder(cur, name, errno, mode, buf, err);
      goto fail;
    }
    /* A new folder's name lives in its parent: make it durable. */
    if (created && (rc = sync_dir(l, cur, buf, err)) < 0) {
      close(next);
      goto fail;
    }
    if (cur != l->root_fd)
      close(cur);
    cur = next;
    *slash = '/';
    start = (size_t)(slash - buf) + 1;
  }
  *out_fd = cur;
  return 0;
fail:
  if (cur != l->root_fd)
    close(cur);
  return rc;
}

static void close_dir(const local *l, int fd) {
  if (fd >= 0 && fd != l->root_fd)
    close(fd);
}

/* Split a key into its folder part and leaf: "a/b/c" -> 4, "c". */
static size_t dir_part(const char *key) {
  const char *slash = strrchr(key, '/');
  return slash ? (size_t)(slash - key) + 1 : 0;
}

/* Open the folder holding `key` and return its leaf name. */
static int open_parent(const local *l, const char *key, walk_mode mode,
                       int *dirfd, const char **leaf, docstore__err *err) {
  DOCSTORE__GUARD(local_key_check(key, err));
  size_t dl = dir_part(key);
  *leaf = key + dl;
  return walk_dirs(l, key, dl, mode, dirfd, err);
}

/* ------------------------------------------------------------ put */

static int tmp_name(char *out, size_t len, docstore__err *err) {
  uint8_t rnd[8];
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
    return docstore__err_errno(err, DOCSTORE_EIO, errno,
                               "cannot draw random bytes for a temporary "
                               "file name");
  int n = snprintf(out, len, TMP_PREFIX);
  for (size_t i = 0; i < sizeof(rnd); i++)
    n += snprintf(out + n, len - (size_t)n, "%02x", rnd[i]);
  return 0;
}

#ifndef F_OFD_SETLK
#define F_OFD_SETLK 37 /* Linux 3.15; glibc shows it with _GNU_SOURCE */
#endif

/* Take a temporary file's lock without waiting: an exclusive OFD lock on
 * the whole file (fd open for writing).  0 or an errno value. */
static int tmp_lock(int fd) {
  struct flock fl;
  memset(&fl, 0, sizeof(fl));
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

/* The filesystem (or kernel) has no such locks. */
static int lock_unsupported(int e) {
  return e == ENOLCK || e == EINVAL || e == EOPNOTSUPP || e == ENOSYS;
}

int docstore__local_tmp_create(int dirfd, char *name, size_t len,
                               const char *where, docstore__err *err) {
  for (int attempt = 0; attempt < 8; attempt++) {
    DOCSTORE__GUARD(tmp_name(name, len, err));
    int fd = openat(dirfd, name,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      struct stat st;
      int e = tmp_lock(fd);
      if (lock_unsupported(e))
        return fd; /* no locks here: writes work, cleaning keeps all */
      if (e == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0)
        return fd;
      /* A cleaner holds the lock this instant, or removed the file before
       * we held it: leave the name to it. */
      if (e != 0)
        unlinkat(dirfd, name, 0);
      close(fd);
      continue;
    }
    if (errno != EEXIST) {
      if (errno == ENOENT)
        return docstore__err_set(err, DOCSTORE_EIO,
                                 "folder %s vanished (was the storage root "
                                 "removed?)",
                                 where);
      return docstore__err_errno(
          err,
          errno == EACCES || errno == EPERM ? DOCSTORE_EACCESS : DOCSTORE_EIO,
          errno, "cannot create a file in %s", where);
    }
  }
  return docstore__err_set(
      err, DOCSTORE_EIO, "cannot find a free temporary file name in %s", where);
}

/* One put in progress: the temporary file, locked from its creation to the
 * rename or unlink, in the target's folder.  local_put() and the streaming
 * operations share it. */
typedef struct local_txn {
  int dirfd; /* the folder of the object (may be the root fd) */
  int fd;    /* the temporary file, open for writing, holding its lock */
  unsigned int flags; /* DOCSTORE_PUT_* */
  char tmp[TMP_PREFIX_LEN + 17];
  const char *key;  /* for messages: the caller's, or `owned` */
  const char *leaf; /* the object's name in dirfd */
  char *owned;      /* copy of the key (streaming txns outlive the call) */
} local_txn;

int docstore__local_no_renameat2;

/* Folders on the way are created (0700) now, as the whole-object put
 * always did. */
static int txn_open(const local *l, const char *key, unsigned int flags,
                    local_txn *t, docstore__err *err) {
  t->dirfd = t->fd = -1;
  t->flags = flags;
  t->key = key;
  DOCSTORE__GUARD(open_parent(l, key, WALK_CREATE, &t->dirfd, &t->leaf, err));
  int fd =
      docstore__local_tmp_create(t->dirfd, t->tmp, sizeof(t->tmp), key, err);
  if (fd < 0) {
    close_dir(l, t->dirfd);
    t->dirfd = -1;
    return fd;
  }
  t->fd = fd;
  return 0;
}

static int txn_write(local_txn *t, const uint8_t *data, size_t len,
                     docstore__err *err) {
  int e = docstore__fd_write_all(t->fd, data, len);
  if (e == ENOSPC || e == EDQUOT)
    return docstore__err_errno(err, DOCSTORE_EIO, e,
                               "storage full while writing %s", t->key);
  if (e != 0)
    return docstore__err_errno(err, DOCSTORE_EIO, e, "cannot write %s", t->key);
  return 0;
}

/* Remove the temporary file (if still there) and close everything; the
 * lock goes with the last descriptor, after the unlink. */
static void txn_discard(const local *l, local_txn *t) {
  if (t->fd >= 0) {
    unlinkat(t->dirfd, t->tmp, 0);
    close(t->fd);
    t->fd = -1;
  }
  close_dir(l, t->dirfd);
  t->dirfd = -1;
}

/* Why the temporary file could not take the object's name. */
static int publish_failed(local_txn *t, int e, docstore__err *err) {
  struct stat st;
  if (e == EISDIR || e == ENOTEMPTY ||
      (e == EEXIST &&
       fstatat(t->dirfd, t->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
       S_ISDIR(st.st_mode)))
    return docstore__err_set(err, DOCSTORE_EIO,
                             "%s is a folder; cannot store an object there",
                             t->key);
  if (e == EEXIST)
    return docstore__err_set(err, DOCSTORE_EEXISTS,
                             "an object exists under this key (no-clobber "
                             "put)");
  return docstore__err_errno(
      err, e == EACCES || e == EPERM ? DOCSTORE_EACCESS : DOCSTORE_EIO, e,
      "cannot rename into %s", t->key);
}

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* Give the temporary file the object's name without replacing an existing
 * one: renameat2(RENAME_NOREPLACE), or where the kernel or the file system
 * lacks it, link() then unlink() of the temporary name (link never
 * replaces either).  0 or an errno value. */
static int rename_noreplace(local_txn *t) {
#ifdef SYS_renameat2
  if (!docstore__local_no_renameat2) {
    if (syscall(SYS_renameat2, t->dirfd, t->tmp, t->dirfd, t->leaf,
                RENAME_NOREPLACE) == 0)
      return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP &&
        errno != EPERM)
      return errno;
  }
#endif
  if (linkat(t->dirfd, t->tmp, t->dirfd, t->leaf, 0) < 0)
    return errno;
  /* Both names are the object's file now; the temporary one goes. */
  (void)unlinkat(t->dirfd, t->tmp, 0);
  return 0;
}

/* fsync, close (a late write error shows here), rename over the object or
 * beside it (no-clobber), fsync the folder.  Ends the transaction whatever
 * happens. */
static int txn_commit(const local *l, local_txn *t, docstore__err *err) {
  int rc = 0, e, hold;
  /* DOCSTORE_PUT_VERIFY: the proof of a local write is that every write
   * and the close succeeded and the data reached the disk, so a verified
   * put's file is synced even when the provider was told not to sync
   * (its folder follows the fsync option). */
  int sync = l->fsync || (t->flags & DOCSTORE_PUT_VERIFY);
  if (sync && fsync(t->fd) < 0) {
    rc = docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot fsync %s",
                             t->key);
    goto done;
  }
  /* The lock belongs to the open file description: a second descriptor
   * keeps it until the rename, while close() below still reports a late
   * write error (NFS) before the file becomes the object. */
  if ((hold = fcntl(t->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
    rc = docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot write %s",
                             t->key);
    goto done;
  }
  e = close(t->fd);
  t->fd = hold; /* from here the duplicate holds the lock */
  if (e < 0) {
    rc = docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot close %s",
                             t->key);
    goto done;
  }
  if (t->flags & DOCSTORE_PUT_NO_CLOBBER)
    e = rename_noreplace(t);
  else
    e = renameat(t->dirfd, t->tmp, t->dirfd, t->leaf) < 0 ? errno : 0;
  if (e != 0) {
    rc = publish_failed(t, e, err);
    goto done;
  }
  rc = sync_dir(l, t->dirfd, t->key, err);
  close(t->fd); /* after the rename: releases the lock */
  t->fd = -1;
done:
  txn_discard(l, t);
  return rc;
}

static int local_put(void *payload, const char *key, const uint8_t *data,
                     size_t len, docstore_errinfo *info) {
  local *l = payload;
  docstore__err *err = (docstore__err *)info;
  local_txn t;
  DOCSTORE__GUARD(txn_open(l, key, 0, &t, err));
  int rc = txn_write(&t, data, len, err);
  if (rc < 0) {
    txn_discard(l, &t);
    return rc;
  }
  return txn_commit(l, &t, err);
}

/* ------------------------------------------------------ streaming put */

static int local_put_begin(void *payload, const char *key,
                           const docstore_put_options *opts, void **out,
                           docstore_errinfo *info) {
  local *l = payload;
  docstore__err *err = (docstore__err *)info;
  *out = NULL;
  if (opts->flags & ~(DOCSTORE_PUT_NO_CLOBBER | DOCSTORE_PUT_VERIFY))
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "unknown put flags 0x%x", opts->flags);
  local_txn *t = docstore__alloc(sizeof(*t));
  if (!t || !(t->owned = docstore__strdup(key))) {
    docstore_free(t);
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  }
  int rc = txn_open(l, t->owned, opts->flags, t, err);
  if (rc < 0) {
    docstore_free(t->owned);
    docstore_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

static int local_put_write(void *payload, void *txn, const uint8_t *data,
                           size_t len, docstore_errinfo *info) {
  (void)payload;
  return txn_write(txn, data, len, (docstore__err *)info);
}

static void txn_free(local_txn *t) {
  docstore_free(t->owned);
  docstore_free(t);
}

static int local_put_commit(void *payload, void *txn, docstore_errinfo *info) {
  int rc = txn_commit(payload, txn, (docstore__err *)info);
  txn_free(txn);
  return rc;
}

static void local_put_abort(void *payload, void *txn) {
  txn_discard(payload, txn);
  txn_free(txn);
}

/* ------------------------------------------------------------ get, head */

/* Classify what a key names; 0 for a regular file (st filled). */
static int stat_leaf(int dirfd, const char *leaf, const char *key,
                     struct stat *st, docstore__err *err) {
  if (fstatat(dirfd, leaf, st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return docstore__err_set(err, DOCSTORE_ENOTFOUND, "no such object");
    return docstore__err_errno(err, 0, errno, "cannot stat %s", key);
  }
  if (S_ISLNK(st->st_mode))
    return docstore__err_set(err, DOCSTORE_EACCESS,
                             "%s is a symbolic link; links below the root "
                             "are not followed",
                             key);
  if (S_ISDIR(st->st_mode))
    return docstore__err_set(err, DOCSTORE_ENOTFOUND,
                             "%s is a folder, not an object", key);
  if (!S_ISREG(st->st_mode))
    return docstore__err_set(err, DOCSTORE_ENOTFOUND,
                             "%s is not a regular file", key);
  return 0;
}

/* Open the object `key` for reading (confined like every walk) and stat
 * it: *fd and *st, or a negative code (missing, a folder, a link...). */
static int open_object(const local *l, const char *key, int *out_fd,
                       struct stat *st, docstore__err *err) {
  const char *leaf;
  int dirfd = -1, fd = -1, rc;
  *out_fd = -1;
  DOCSTORE__GUARD(open_parent(l, key, WALK_READ, &dirfd, &leaf, err));
  /* O_NONBLOCK: a FIFO planted in the root must not hang us. */
  fd = openat(dirfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    /* Say why: missing, a link, a folder... or what errno tells. */
    int e = errno;
    rc = stat_leaf(dirfd, leaf, key, st, err);
    if (rc == 0)
      rc = docstore__err_errno(err, 0, e, "cannot open %s", key);
    goto done;
  }
  if (fstat(fd, st) < 0) {
    rc = docstore__err_errno(err, DOCSTORE_EIO, errno, "cannot stat %s", key);
  } else if (S_ISDIR(st->st_mode)) {
    rc = docstore__err_set(err, DOCSTORE_ENOTFOUND,
                           "%s is a folder, not an object", key);
  } else if (!S_ISREG(st->st_mode)) {
    rc = docstore__err_set(err, DOCSTORE_ENOTFOUND, "%s is not a regular file",
                           key);
  } else {
    *out_fd = fd;
    fd = -1;
    rc = 0;
  }
done:
  if (fd >= 0)
    close(fd);
  close_dir(l, dirfd);
  return rc;
}

static int local_get(void *payload, const char *key, docstore_sink_cb sink,
                     void *sink_payload, docstore_errinfo *info) {
  docstore__err *err = (docstore__err *)info;
  struct stat st;
  int fd;
  DOCSTORE__GUARD(open_object(payload, key, &fd, &st, err));
  /* A buffer collecting the object is allocated once at its size. */
  (void)docstore__sink_reserve(sink, sink_payload, (uint64_t)st.st_size);
  int rc = docstore__fd_read_all(fd, sink, sink_payload, key, err);
  close(fd);
  return rc;
}

/* ------------------------------------------------------ streaming get */

/* An open range of an object: bytes [pos, end) of fd remain.  The fd
 * keeps the file it opened: a put replacing the object meanwhile does not
 * change what this stream reads. */
typedef struct local_stream {
  int fd;
  uint64_t pos, end;
  char key[KEY_MAX + 1]; /* for messages */
} local_stream;

static int local_get_open(void *payload, const char *key, uint64_t offset,
                          uint64_t length, void **out, uint64_t *object_size,
                          docstore_errinfo *info) {
  docstore__err *err = (docstore__err *)info;
  struct stat st;
  int fd;
  *out = NULL;
  DOCSTORE__GUARD(open_object(payload, key, &fd, &st, err));
  uint64_t size = (uint64_t)st.st_size;
  if (offset > size) {
    close(fd);
    return docstore__err_set(
        err, DOCSTORE_EINVAL, "offset %llu is beyond the object's %llu bytes",
        (unsigned long long)offset, (unsigned long long)size);
  }
  local_stream *s = docstore__alloc(sizeof(*s));
  if (!s) {
    close(fd);
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  }
  s->fd = fd;
  s->pos = offset;
  s->end = length < size - offset ? offset + length : size;
  docstore__strlcpy(s->key, key, sizeof(s->key));
  *object_size = size;
  *out = s;
  return 0;
}

static int local_get_read(void *payload, void *stream, uint8_t *buf, size_t cap,
                          size_t *got, docstore_errinfo *info) {
  local_stream *s = stream;
  (void)payload;
  *got = 0;
  if (s->pos == s->end)
    return 0;
  size_t want = s->end - s->pos < cap ? (size_t)(s->end - s->pos) : cap;
  ssize_t r;
  do
    r = pread(s->fd, buf, want, (off_t)s->pos);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return docstore__err_errno((docstore__err *)info, DOCSTORE_EIO, errno,
                               "cannot read %s", s->key);
  if (r == 0)
    return docstore__err_set((docstore__err *)info, DOCSTORE_EIO,
                             "%s ended %llu bytes early (truncated in place "
                             "by another program?)",
                             s->key, (unsigned long long)(s->end - s->pos));
  s->pos += (uint64_t)r;
  *got = (size_t)r;
  return 0;
}

static void local_get_close(void *payload, void *stream) {
  local_stream *s = stream;
  (void)payload;
  close(s->fd);
  docstore_free(s);
}

static int local_head(void *payload, const char *key, docstore_object_info *out,
                      docstore_errinfo *info) {
  local *l = payload;
  docstore__err *err = (docstore__err *)info;
  const char *leaf;
  struct stat st;
  int dirfd = -1, rc;
  DOCSTORE__GUARD_GOTO(rc, open_parent(l, key, WALK_READ, &dirfd, &leaf, err),
                       done);
  DOCSTORE__GUARD_GOTO(rc, stat_leaf(dirfd, leaf, key, &st, err), done);
  out->size = (uint64_t)st.st_size;
  out->mtime = (int64_t)st.st_mtim.tv_sec;
done:
  close_dir(l, dirfd);
  return rc;
}

/* ------------------------------------------------------- confined reads */

/* Is `path` inside the folder `dir` (no trailing '/'): "dir/..."? */
static const char *below(const char *path, const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  if (n == 1 && dir[0] == '/')
    return path + 1;
  return strncmp(path, dir, n) == 0 && path[n] == '/' ? path + n + 1 : NULL;
}

/* `path` relative to `root`, its "" and "." segments dropped, into buf;
 * ".." or an absolute path outside root: DOCSTORE_EACCESS. */
static int beneath_rel(char *buf, size_t cap, const char *root,
                       const char *path, docstore__err *err) {
  const char *rel = path;
  if (path[0] == '/') {
    rel = root[0] == '/' ? below(path, root) : NULL;
    if (!rel) {
      char *abs = realpath(root, NULL);
      rel = abs ? below(path, abs) : NULL;
      free(abs);
    }
    if (!rel)
      return docstore__err_set(err, DOCSTORE_EACCESS,
                               "legacy path %s is outside the legacy root %s",
                               path, root);
  }
  size_t n = 0;
  for (const char *seg = rel; *seg;) {
    const char *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (len == 2 && seg[0] == '.' && seg[1] == '.')
      return docstore__err_set(err, DOCSTORE_EACCESS,
                               "legacy path %s has a \"..\" segment; legacy "
                               "reads stay below the legacy root %s",
                               path, root);
    if (len > 0 && !(len == 1 && seg[0] == '.')) {
      if (n + len + 1 >= cap)
        return docstore__err_set(err, DOCSTORE_EINVAL,
                                 "legacy path %s is too long (at most %zu "
                                 "bytes below the root)",
                                 path, cap - 1);
      memcpy(buf + n, seg, len);
      n += len;
      buf[n++] = '/';
    }
    seg = slash ? slash + 1 : seg + len;
  }
  if (n == 0)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "legacy path %s names no file", path);
  buf[n - 1] = '\0';
  return 0;
}

#define OPEN_FILE_FLAGS                                                        \
  (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)

int docstore__beneath_no_openat2;

/* openat2() confined below dirfd, refusing every link.  -2: the kernel
 * (or a seccomp filter) does not offer it; -1 with errno; else an fd. */
static int open_beneath_kernel(int dirfd, const char *rel) {
#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
  if (docstore__beneath_no_openat2)
    return -2;
  struct open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = OPEN_FILE_FLAGS;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
  if (fd < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG))
    return -2;
  return (int)fd;
#else
  (void)dirfd;
  (void)rel;
  return -2;
#endif
}

/* The local provider's walk: one folder at a time, O_NOFOLLOW. */
static int open_beneath_walk(int rootfd, const char *rel, docstore__err *err) {
  local l = {rootfd, NULL, 0};
  struct stat st;
  int dirfd = -1;
  size_t dl = dir_part(rel);
  int rc = walk_dirs(&l, rel, dl, WALK_READ, &dirfd, err);
  if (rc < 0)
    return rc;
  int fd = openat(dirfd, rel + dl, OPEN_FILE_FLAGS);
  if (fd < 0) {
    int e = errno;
    rc = stat_leaf(dirfd, rel + dl, rel, &st, err);
    fd = rc < 0 ? rc : docstore__err_errno(err, 0, e, "cannot open %s", rel);
  }
  close_dir(&l, dirfd);
  return fd;
}

int docstore__file_open_beneath(const char *root, const char *path,
                                docstore__err *err) {
  char rel[KEY_MAX + 1];
  if (!root || !*root)
    root = DOCSTORE__LEGACY_ROOT_DEFAULT;
  DOCSTORE__GUARD(beneath_rel(rel, sizeof(rel), root, path, err));
  int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return docstore__err_errno(err, 0, errno, "cannot open the legacy root %s",
                               root);
  int fd = open_beneath_kernel(rootfd, rel);
  if (fd == -2) {
    fd = open_beneath_walk(rootfd, rel, err);
  } else if (fd < 0) {
    int e = errno;
    if (e == ELOOP || e == EXDEV)
      fd = docstore__err_set(err, DOCSTORE_EACCESS,
                             "legacy path %s is or passes a symbolic link; "
                             "links below the legacy root %s are not "
                             "followed",
                             path, root);
    else
      fd = docstore__err_errno(
          err, 0, e, "cannot open %s in the legacy root %s", rel, root);
  }
  close(rootfd);
  return fd;
}

int docstore__file_read_beneath(docstore__buf *out, const char *root,
                                const char *path, docstore__err *err) {
  int fd = docstore__file_open_beneath(root, path, err);
  if (fd < 0)
    return fd;
  return docstore__fd_read_file(out, fd, path, err);
}

/* ------------------------------------------------------------ delete */

static int local_del(void *payload, const char *key, docstore_errinfo *info) {
  local *l = payload;
  docstore__err *err = (docstore__err *)info;
  const char *leaf;
  struct stat st;
  int dirfd = -1;
  int rc = open_parent(l, key, WALK_DELETE, &dirfd, &leaf, err);
  if (rc == WALK_GONE)
    return 0;
  if (rc < 0)
    return rc;
  if (unlinkat(dirfd, leaf, 0) == 0) {
    rc = sync_dir(l, dirfd, key, err);
    // NOLINTNEXTLINE(bugprone-branch-clone): same result, another reason
  } else if (errno == ENOENT) {
    rc = 0; /* idempotent */
  } else if ((errno == EISDIR || errno == EPERM) &&
             fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
             S_ISDIR(st.st_mode)) {
    rc = 0; /* a folder is not an object: nothing to delete */
  } else {
    rc = docstore__err_errno(err, 0, errno, "cannot delete %s", key);
  }
  close_dir(l, dirfd);
  return rc;
}

/* ------------------------------------------------------------ list */

typedef struct lister {
  const char *prefix;
  size_t prefix_len;
  docstore_list_cb cb;
  void *cb_payload;
  /* Temporaries instead of objects (docstore_local_temporaries). */
  docstore_temp_cb temp_cb;
  unsigned int temp_flags;
  int64_t temp_before; /* files written after this are RECENT */
  char key[KEY_MAX + 1];
  docstore__err *err;
  /* Why a name is not a valid key (not reported).  Here, not in scan():
   * scan() recurses once per folder level, up to 511 levels, and must
   * keep its frame small for threads with small stacks. */
  docstore__err skip;
} lister;

/* Is `path` (len n) compatible with the prefix: one starts the other? */
static int prefix_compatible(const lister *ls, size_t n) {
  size_t m = n < ls->prefix_len ? n : ls->prefix_len;
  return memcmp(ls->key, ls->prefix, m) == 0;
}

#define TEMP_WALK 0x100u /* lister.temp_flags: set for every temp walk */

/* A temporary file `name` in dirfd (path ls->key): is a writer still on
 * it?  Removed, with TEMP_REMOVE, while we hold its lock.  Not inlined:
 * its locals must not grow scan()'s frame, which recurses per folder. */
__attribute__((noinline)) static int
temp_visit(lister *ls, int dirfd, const char *name, const struct stat *seen) {
  docstore_temp_info info = {
      DOCSTORE_TEMP_INFO_VERSION, ls->key, (uint64_t)seen->st_size,
      (int64_t)seen->st_mtim.tv_sec, DOCSTORE_TEMP_UNKNOWN};
  struct stat st;
  int rc = 0;
  int fd = openat(dirfd, name,
                  O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return 0; /* renamed or removed meanwhile */
  if (fd >= 0) {
    int e = tmp_lock(fd);
    if (e == EAGAIN || e == EACCES) {
      info.state = DOCSTORE_TEMP_LIVE;
    } else if (e == 0) {
      /* Still the file we saw, still linked? */
      if (fstat(fd, &st) < 0 || st.st_nlink == 0 || st.st_ino != seen->st_ino ||
          st.st_dev != seen->st_dev) {
        close(fd);
        return 0;
      }
      info.size = (uint64_t)st.st_size;
      info.mtime = (int64_t)st.st_mtim.tv_sec;
      if (info.mtime > ls->temp_before)
        info.state = DOCSTORE_TEMP_RECENT;
      else if (!(ls->temp_flags & DOCSTORE_TEMP_REMOVE))
        info.state = DOCSTORE_TEMP_STALE;
      else if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        info.state = DOCSTORE_TEMP_REMOVED;
      else
        rc = docstore__err_errno(ls->err, DOCSTORE_EIO, errno,
                                 "cannot remove %s", ls->key);
    }
    close(fd); /* releases the lock, after the unlink */
  }
  if (rc == 0 && ls->temp_cb) {
    rc = ls->temp_cb(ls->cb_payload, &info);
    if (rc != 0)
      rc = rc < 0 ? rc : DOCSTORE_ECANCELED;
  }
  return rc;
}

/* List the objects in dirfd, whose path relative to the root is
 * ls->key[0..keylen).  Takes ownership of fd. */
static int scan(lister *ls, int fd, size_t keylen) {
  int rc = 0;
  DIR *d = fdopendir(fd);
  if (!d) {
    rc = docstore__err_errno(ls->err, DOCSTORE_EIO, errno,
                             "cannot read folder %.*s", (int)keylen, ls->key);
    close(fd);
    return rc;
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno != 0)
        rc = docstore__err_errno(ls->err, DOCSTORE_EIO, errno,
                                 "cannot read folder %.*s", (int)keylen,
                                 ls->key);
      break;
    }
    const char *name = de->d_name;
    size_t n = strlen(name);
    int is_tmp = strncmp(name, TMP_PREFIX, TMP_PREFIX_LEN) == 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        (is_tmp && !ls->temp_flags))
      continue;
    if (keylen + n + 1 > KEY_MAX)
      continue; /* could not be a valid key */
    memcpy(ls->key + keylen, name, n);
    ls->key[keylen + n] = '\0';
    if (!prefix_compatible(ls, keylen + n))
      continue;
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue; /* removed meanwhile */
    if (S_ISDIR(st.st_mode) && !is_tmp) {
      int sub =
          openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
        continue; /* removed or replaced meanwhile */
      if (sub < 0) {
        /* Out of descriptors, or not readable: a listing that skipped
         * the folder would look complete. */
        rc = docstore__err_errno(ls->err, 0, errno, "cannot open folder %s",
                                 ls->key);
        break;
      }
      ls->key[keylen + n] = '/';
      ls->key[keylen + n + 1] = '\0';
      rc = scan(ls, sub, keylen + n + 1);
    } else if (ls->temp_flags) {
      if (is_tmp && S_ISREG(st.st_mode))
        rc = temp_visit(ls, fd, name, &st);
    } else if (S_ISREG(st.st_mode) && keylen + n >= ls->prefix_len &&
               docstore__key_check(ls->key, &ls->skip) == 0) {
      docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, ls->key,
                                   (uint64_t)st.st_size,
                                   (int64_t)st.st_mtim.tv_sec, NULL};
      rc = ls->cb(ls->cb_payload, &info);
      if (rc != 0)
        rc = rc < 0 ? rc : DOCSTORE_ECANCELED;
    }
    if (rc != 0)
      break;
  }
  closedir(d);
  return rc;
}

static int local_list(void *payload, const char *prefix, docstore_list_cb cb,
                      void *cb_payload, docstore_errinfo *info) {
  local *l = payload;
  docstore__err *err = (docstore__err *)info;
  lister *ls = NULL;
  int dirfd = -1, rc;
  DOCSTORE__GUARD(docstore__prefix_check(prefix, err));
  size_t dl = dir_part(prefix);
  rc = walk_dirs(l, prefix, dl, WALK_DELETE, &dirfd, err);
  if (rc == WALK_GONE)
    return 0; /* no folder, no objects */
  if (rc < 0)
    return rc;
  /* scan() wants an fd of its own, with its own read position: not a
   * dup() of the shared root fd (dup shares the offset between threads). */
  int own = dirfd == l->root_fd
                ? openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                : dirfd;
  if (own < 0)
    return docstore__err_errno(err, DOCSTORE_EIO, errno,
                               "cannot open the storage root %s", l->root);
  ls = docstore__alloc(sizeof(*ls));
  if (!ls) {
    close(own);
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  }
  ls->prefix = prefix;
  ls->prefix_len = strlen(prefix);
  ls->cb = cb;
  ls->cb_payload = cb_payload;
  ls->err = err;
  memcpy(ls->key, prefix, dl);
  ls->key[dl] = '\0';
  rc = scan(ls, own, dl);
  docstore_free(ls);
  return rc;
}

int docstore_local_temporaries(const char *root, unsigned int flags,
                               uint64_t min_age_seconds, docstore_temp_cb cb,
                               void *payload, char *errbuf, size_t errbuf_len) {
  docstore__err err;
  lister *ls = NULL;
  int rc, fd = -1;
  docstore__err_clear(&err);
  if (!root || !*root || (flags & ~DOCSTORE_TEMP_REMOVE)) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL, "temporaries: %s",
                           flags & ~DOCSTORE_TEMP_REMOVE
                               ? "unknown flags"
                               : "a storage root is required");
    goto done;
  }
  fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    rc = docstore__err_errno(&err, 0, errno, "cannot open the storage root %s",
                             root);
    goto done;
  }
  if (!(ls = docstore__alloc(sizeof(*ls)))) {
    close(fd);
    rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "out of memory");
    goto done;
  }
  ls->prefix = "";
  ls->temp_cb = cb;
  ls->cb_payload = payload;
  ls->temp_flags = flags | TEMP_WALK;
  /* The precise clock, not time(): file timestamps may be fine-grained
   * (multigrain timestamps) and then run ahead of the coarse clock that
   * time() reads.  An age of 0 means any stale file, whatever its date. */
  struct timespec ts;
  int64_t now =
      clock_gettime(CLOCK_REALTIME, &ts) == 0 ? (int64_t)ts.tv_sec : 0;
  ls->temp_before = min_age_seconds == 0 ? INT64_MAX
                    : min_age_seconds > (uint64_t)now
                        ? INT64_MIN
                        : now - (int64_t)min_age_seconds;
  ls->err = &err;
  rc = scan(ls, fd, 0);
  docstore_free(ls);
done:
  if (rc < 0)
    docstore__err_to_buf(&err, errbuf, errbuf_len);
  return rc;
}

/* ------------------------------------------------------------ check */

static int report(docstore_sink_cb sink, void *sp, const char *line) {
  return sink ? sink(sp, (const uint8_t *)line, strlen(line)) : 0;
}

static int local_check(void *payload, docstore_sink_cb sink, void *sp,
                       docstore_errinfo *info) {
  local *l = payload;
  docstore__err *err = (docstore__err *)info;
  char line[PATH_MAX + 64];
  char tmp[TMP_PREFIX_LEN + 17];
  struct stat st;
  int rc = 0, fd, e;
  snprintf(line, sizeof(line), "local storage root: %s\n", l->root);
  report(sink, sp, line);
  if (fstat(l->root_fd, &st) < 0 || st.st_nlink == 0) {
    rc = docstore__err_set(err, DOCSTORE_EIO,
                           "storage root %s no longer exists", l->root);
    goto out;
  }
  /* Writable: create, write, sync and remove a probe file. */
  DOCSTORE__GUARD_GOTO(rc,
                       fd = docstore__local_tmp_create(
                           l->root_fd, tmp, sizeof(tmp), l->root, err),
                       out);
  rc = 0;
  e = docstore__fd_write_all(fd, (const uint8_t *)"probe\n", 6);
  if (e == 0 && l->fsync && fsync(fd) < 0)
    e = errno;
  /* Removed before the close, while its lock keeps cleaners away. */
  if (unlinkat(l->root_fd, tmp, 0) < 0 && e == 0)
    e = errno;
  close(fd);
  if (e != 0)
    rc = docstore__err_errno(err, DOCSTORE_EIO, e,
                             "cannot write a probe file in %s", l->root);
out:
  if (rc < 0) {
    snprintf(line, sizeof(line), "writable: NO (%s)\n", err ? err->msg : "");
    report(sink, sp, line);
  } else {
    report(sink, sp, "writable: yes\n");
  }
  return rc;
}

/* ------------------------------------------------------------ lifetime */

static void local_free(void *payload) {
  local *l = payload;
  if (!l)
    return;
  if (l->root_fd >= 0)
    close(l->root_fd);
  docstore_free(l->root);
  docstore_free(l);
}

static const docstore_provider_ops local_ops = {
    DOCSTORE_PROVIDER_OPS_VERSION,
    "local",
    local_put,
    local_get,
    local_head,
    local_del,
    local_list,
    NULL, /* presign: no URLs for local files */
    local_check,
    NULL, /* get_range */
    local_free,
    local_put_begin,
    local_put_write,
    local_put_commit,
    local_put_abort,
    local_get_open,
    local_get_read,
    local_get_close,
};

/* mkdir -p, 0700 for what is created. */
static int mkdir_parents(const char *root, docstore__err *err) {
  size_t n = strlen(root);
  char *path = docstore__strndup(root, n);
  int rc = 0;
  if (!path)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  for (size_t i = 1; i <= n; i++) {
    if (i < n && path[i] != '/')
      continue;
    char saved = path[i];
    path[i] = '\0';
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
      rc = docstore__err_errno(err, DOCSTORE_ECONFIG, errno,
                               "cannot create local storage root %s", path);
      break;
    }
    path[i] = saved;
  }
  docstore_free(path);
  return rc;
}

static int open_root(local *l, const char *root, docstore__err *err) {
  struct stat st;
  char *abs = NULL;
  DOCSTORE__GUARD(mkdir_parents(root, err));
  l->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (l->root_fd < 0)
    return docstore__err_errno(err, DOCSTORE_ECONFIG, errno,
                               "local storage root %s is unusable", root);
  if (fstat(l->root_fd, &st) == 0 && (st.st_mode & 077))
    docstore__log(DOCSTORE_LOG_WARN,
                  "local storage root %s is accessible by other users "
                  "(mode %04o); 0700 is recommended",
                  root, (unsigned)(st.st_mode & 07777));
  abs = realpath(root, NULL);
  if (!abs)
    return docstore__err_errno(err, DOCSTORE_ECONFIG, errno,
                               "cannot resolve local storage root %s", root);
  size_t n = strlen(abs);
  l->root =
      docstore__sprintf("%s%s", abs, n > 0 && abs[n - 1] == '/' ? "" : "/");
  free(abs);
  if (!l->root)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  return 0;
}

int docstore_local_provider_new(docstore_provider **out,
                                const docstore_local_options *opts,
                                char *errbuf, size_t errbuf_len) {
  docstore__err err;
  docstore_provider *p = NULL;
  local *l = NULL;
  int rc;
  docstore__err_clear(&err);
  if (out)
    *out = NULL;
  if (!out || !opts) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "local provider: out and opts are required");
    goto fail;
  }
  if (opts->version < 1 || opts->version > DOCSTORE_LOCAL_OPTIONS_VERSION) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL,
                           "local provider: unknown options version %u",
                           opts->version);
    goto fail;
  }
  if ((rc = docstore__local_options_check(opts, &err)) < 0)
    goto fail;
  l = docstore__alloc(sizeof(*l));
  if (!l) {
    rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "out of memory");
    goto fail;
  }
  l->root_fd = -1;
  l->fsync = opts->fsync != 0;
  if ((rc = open_root(l, opts->root, &err)) < 0) {
    local_free(l);
    goto fail;
  }
  /* From here the provider owns l, also on failure. */
  DOCSTORE__GUARD_GOTO(rc, docstore_provider_new(&p, &local_ops, l), nomem);
  DOCSTORE__GUARD_GOTO(rc, docstore__provider_set_location(p, l->root), nomem);
  DOCSTORE__GUARD_GOTO(
      rc, docstore__provider_set_display_name(p, "local storage"), nomem);
  docstore__log(DOCSTORE_LOG_DEBUG, "local provider ready: root=%s", l->root);
  *out = p;
  return 0;
nomem:
  docstore_provider_free(p);
  rc = docstore__err_set(&err, rc, "local provider: %s", docstore_strerror(rc));
fail:
  docstore__err_to_buf(&err, errbuf, errbuf_len);
  return rc;
}
