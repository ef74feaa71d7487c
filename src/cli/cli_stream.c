/*
 * docstore CLI - streaming input and output: a file or standard input read
 * into caller buffers, an output written to a temporary file renamed only
 * on success (or to standard output), transform stages (sealer, opener)
 * chained through sinks, and a growing memory sink for the few paths that
 * need a whole buffer (legacy and v1 envelopes, --raw).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------- input */

int cli_input_open(cli_ctx *ctx, cli_input *in, const char *path) {
  struct stat st;
  memset(in, 0, sizeof(*in));
  in->path = path;
  in->size = UINT64_MAX;
  in->is_stdin = strcmp(path, "-") == 0;
  in->fd = in->is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (in->fd < 0)
    return cli_fail(ctx, errno == ENOENT ? DOCSTORE_ENOTFOUND : DOCSTORE_EIO,
                    "cannot open '%s': %s", path, strerror(errno));
  if (fstat(in->fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      cli_input_close(in);
      return cli_fail(ctx, DOCSTORE_EIO, "'%s' is a folder", path);
    }
    if (S_ISREG(st.st_mode))
      in->size = (uint64_t)st.st_size;
  }
  return 0;
}

int cli_input_read(cli_ctx *ctx, cli_input *in, uint8_t *buf, size_t cap,
                   size_t *got) {
  size_t n = 0;
  *got = 0;
  while (n < cap && !in->eof) {
    ssize_t r = read(in->fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR && cli_interrupted)
      return cli_fail(ctx, DOCSTORE_ECANCELED, "interrupted");
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return cli_fail(ctx, DOCSTORE_EIO, "cannot read '%s': %s", in->path,
                      strerror(errno));
    if (r == 0)
      in->eof = 1;
    n += (size_t)r;
  }
  in->done += n;
  *got = n;
  return 0;
}

void cli_input_close(cli_input *in) {
  if (in->fd >= 0 && !in->is_stdin)
    close(in->fd);
  in->fd = -1;
}

int cli_copy(cli_ctx *ctx, cli_input *in, cli_sink_fn sink, void *payload,
             cli_progress *progress) {
  uint8_t *buf = docstore_malloc(CLI_STREAM_BUF);
  size_t got;
  int rc;
  if (!buf)
    return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
  for (;;) {
    if ((rc = cli_input_read(ctx, in, buf, CLI_STREAM_BUF, &got)) < 0)
      break;
    if (got == 0)
      break;
    if ((rc = sink(payload, buf, got)) < 0)
      break;
    if ((progress && cli_progress_bytes(progress, in->done, in->size)) ||
        cli_interrupted) {
      rc = cli_fail(ctx, DOCSTORE_ECANCELED, "interrupted");
      break;
    }
  }
  docstore_free(buf); /* wipes: it may have held plaintext */
  return rc;
}

/* --------------------------------------------------------------- output */

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int cli_output_open(cli_ctx *ctx, cli_output *o, const char *path,
                    mode_t mode) {
  memset(o, 0, sizeof(*o));
  o->ctx = ctx;
  o->path = path;
  o->fd = -1;
  if (strcmp(path, "-") == 0) {
    o->is_stdout = 1;
    o->fd = STDOUT_FILENO;
    return 0;
  }
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    o->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (o->fd < 0)
      return cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", path,
                      strerror(errno));
    o->direct = 1;
    return 0;
  }
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  int dlen = slash ? (int)(slash - path) : 1;
  const char *dstart = slash ? path : ".";
  if (slash == path)
    dlen = 1; /* "/file" */
  if (!*base)
    return cli_fail(ctx, DOCSTORE_EIO, "'%s' names a folder, not a file", path);
  if (snprintf(o->dir, sizeof(o->dir), "%.*s", dlen, dstart) >=
          (int)sizeof(o->dir) ||
      snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.XXXXXX", o->dir, base) >=
          (int)sizeof(o->tmp))
    return cli_fail(ctx, DOCSTORE_EIO, "path too long: '%s'", path);
  o->fd = mkstemp(o->tmp);
  if (o->fd >= 0)
    (void)fcntl(o->fd, F_SETFD, FD_CLOEXEC);
  if (o->fd < 0)
    return cli_fail(ctx, DOCSTORE_EIO, "cannot create a file in '%s': %s",
                    o->dir, strerror(errno));
  if (fchmod(o->fd, mode) != 0) {
    int e = errno;
    cli_output_abort(o);
    return cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", path,
                    strerror(e));
  }
  return 0;
}

int cli_output_write(cli_output *o, const uint8_t *data, size_t len) {
  if (write_all(o->fd, data, len) != 0)
    return o->is_stdout
               ? cli_fail(o->ctx, DOCSTORE_EIO,
                          "cannot write to standard output: %s",
                          strerror(errno))
               : cli_fail(o->ctx, DOCSTORE_EIO, "cannot write '%s': %s",
                          o->path, strerror(errno));
  o->written += len;
  return 0;
}

int cli_output_sink(void *payload, const uint8_t *data, size_t len) {
  return cli_output_write(payload, data, len);
}

int cli_output_commit(cli_output *o, int no_overwrite) {
  cli_ctx *ctx = o->ctx;
  int rc;
  if (o->is_stdout) {
    o->fd = -1;
    return 0;
  }
  if (o->direct) {
    int fd = o->fd;
    o->fd = -1;
    if (close(fd) != 0)
      return cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", o->path,
                      strerror(errno));
    return 0;
  }
  if (fsync(o->fd) != 0) {
    rc = cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", o->path,
                  strerror(errno));
    goto fail;
  }
  int fd = o->fd;
  o->fd = -1;
  if (close(fd) != 0) {
    rc = cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", o->path,
                  strerror(errno));
    goto fail;
  }
  if (no_overwrite) {
    if (link(o->tmp, o->path) != 0) {
      rc = errno == EEXIST
               ? cli_fail(ctx, DOCSTORE_EEXISTS,
                          "'%s' already exists; refusing to overwrite it",
                          o->path)
               : cli_fail(ctx, DOCSTORE_EIO, "cannot create '%s': %s", o->path,
                          strerror(errno));
      goto fail;
    }
    unlink(o->tmp);
  } else if (rename(o->tmp, o->path) != 0) {
    rc = cli_fail(ctx, DOCSTORE_EIO, "cannot write '%s': %s", o->path,
                  strerror(errno));
    goto fail;
  }
  o->tmp[0] = '\0';
  /* Make the new name durable too (best effort). */
  int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
fail:
  cli_output_abort(o);
  return rc;
}

void cli_output_abort(cli_output *o) {
  if (o->is_stdout) {
    o->fd = -1;
    return;
  }
  if (o->direct) {
    if (o->fd >= 0)
      close(o->fd);
    o->fd = -1;
    return;
  }
  if (o->fd >= 0)
    close(o->fd);
  o->fd = -1;
  if (o->tmp[0])
    unlink(o->tmp);
  o->tmp[0] = '\0';
}

int cli_output_finish(cli_output *o, int rc, cli_progress *progress) {
  if (rc == 0)
    rc = cli_output_commit(o, 0);
  else
    cli_output_abort(o);
  if (rc == 0)
    cli_progress_end(progress);
  return rc;
}

int cli_write_output(cli_ctx *ctx, const char *path, const void *data,
                     size_t len, mode_t mode, int no_overwrite) {
  cli_output o;
  CLI_GUARD(cli_output_open(ctx, &o, path, mode));
  int rc = cli_output_write(&o, data, len);
  if (rc < 0) {
    cli_output_abort(&o);
    return rc;
  }
  return cli_output_commit(&o, no_overwrite);
}

/* --------------------------------------------------------- memory sink */

int cli_membuf_sink(void *payload, const uint8_t *data, size_t len) {
  cli_membuf *m = payload;
  if (m->cap - m->len <= len) { /* keep room for a NUL */
    size_t ncap = m->cap ? m->cap : 65536;
    while (ncap - m->len <= len) {
      if (ncap > SIZE_MAX / 2)
        return cli_fail(m->ctx, DOCSTORE_ENOMEM,
                        "the input does not fit in memory");
      ncap *= 2;
    }
    uint8_t *nb = docstore_malloc(ncap);
    if (!nb)
      return cli_fail(m->ctx, DOCSTORE_ENOMEM,
                      "the input does not fit in memory");
    if (m->data) {
      memcpy(nb, m->data, m->len);
      docstore_free(m->data); /* wipes */
    }
    m->data = nb;
    m->cap = ncap;
  }
  memcpy(m->data + m->len, data, len);
  m->len += len;
  m->data[m->len] = '\0';
  return 0;
}

void cli_membuf_free(cli_membuf *m) {
  docstore_free(m->data);
  m->data = NULL;
  m->len = m->cap = 0;
}

int cli_read_input(cli_ctx *ctx, const char *path, uint8_t **out, size_t *len) {
  cli_input in;
  cli_membuf m = {ctx, NULL, 0, 0};
  uint8_t probe[4096];
  size_t got = 0;
  int rc = 0;
  *out = NULL;
  *len = 0;
  CLI_GUARD(cli_input_open(ctx, &in, path));
  /* A regular file's size is known: one block of size + 1 (the NUL).
   * When it is full, the read that finds the end goes to a small probe
   * buffer, so an exact fit never grows the block. */
  m.cap = in.size != UINT64_MAX && in.size > 0 && in.size < SIZE_MAX / 2
              ? (size_t)in.size + 1
              : 65536;
  if (!(m.data = docstore_malloc(m.cap)))
    rc = cli_fail(ctx, DOCSTORE_ENOMEM, "'%s' does not fit in memory", path);
  while (rc == 0) {
    if (m.cap - m.len > 1) {
      rc = cli_input_read(ctx, &in, m.data + m.len, m.cap - m.len - 1, &got);
      m.len += got;
    } else if ((rc = cli_input_read(ctx, &in, probe, sizeof(probe), &got)) ==
                   0 &&
               got) {
      rc = cli_membuf_sink(&m, probe, got); /* more than fstat() said */
    }
    if (got == 0 || in.eof)
      break;
  }
  explicit_bzero(probe, sizeof(probe));
  cli_input_close(&in);
  if (rc < 0) {
    cli_membuf_free(&m);
    return rc;
  }
  m.data[m.len] = '\0';
  *out = m.data;
  *len = m.len;
  return 0;
}

/* --------------------------------------------------------------- stages */

int cli_stage_init(cli_stage *st, cli_ctx *ctx, const char *what) {
  memset(st, 0, sizeof(*st));
  st->ctx = ctx;
  st->what = what;
  st->cap = CLI_STREAM_BUF + 65536;
  if (!(st->buf = docstore_malloc(st->cap)))
    return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
  return 0;
}

void cli_stage_free(cli_stage *st) {
  docstore_free(st->buf); /* wipes */
  st->buf = NULL;
}

static int stage_fail(cli_stage *st, int rc) {
  const char *detail = st->errmsg ? st->errmsg(st->h) : NULL;
  return cli_fail_lib(st->ctx, rc, st->what, detail);
}

/* The stage made no progress: a whole segment waits for room (segments
 * go up to 16 MiB, a header up to 256 KiB).  Grow the buffer, up to
 * STAGE_MAX; past that the transform is stuck. */
#define STAGE_MAX (32u * 1024 * 1024)

static int stage_grow(cli_stage *st) {
  if (st->cap >= STAGE_MAX)
    return cli_fail(st->ctx, DOCSTORE_ECRYPTO, "%s: no progress", st->what);
  size_t ncap = st->cap * 2 > STAGE_MAX ? STAGE_MAX : st->cap * 2;
  uint8_t *nb = docstore_malloc(ncap);
  if (!nb)
    return cli_fail(st->ctx, DOCSTORE_ENOMEM, "out of memory");
  docstore_free(st->buf); /* empty: its output went to the sink */
  st->buf = nb;
  st->cap = ncap;
  return 0;
}

int cli_stage_push(void *payload, const uint8_t *data, size_t len) {
  cli_stage *st = payload;
  while (len > 0) {
    size_t out_len = 0, used = 0;
    int rc = st->update(st->h, st->buf, st->cap, &out_len, data, len, &used);
    if (rc < 0)
      return stage_fail(st, rc);
    if (used > len || out_len > st->cap)
      return cli_fail(st->ctx, DOCSTORE_ECRYPTO, "%s: bad lengths", st->what);
    data += used;
    len -= used;
    if (out_len && (rc = st->sink(st->sink_payload, st->buf, out_len)) < 0)
      return rc;
    if (used == 0 && out_len == 0)
      CLI_GUARD(stage_grow(st));
  }
  return 0;
}

int cli_stage_end(cli_stage *st) {
  for (;;) {
    size_t out_len = 0;
    int rc = st->finish(st->h, st->buf, st->cap, &out_len);
    if (rc < 0)
      return stage_fail(st, rc);
    if (out_len > st->cap)
      return cli_fail(st->ctx, DOCSTORE_ECRYPTO, "%s: bad lengths", st->what);
    if (out_len) {
      int src = st->sink(st->sink_payload, st->buf, out_len);
      if (src < 0)
        return src;
    }
    if (rc == 0)
      return 0;
    if (out_len == 0)
      CLI_GUARD(stage_grow(st));
  }
}

/* Adapters from the library's typed handles to the stage's void *. */
static int sealer_update(void *h, uint8_t *out, size_t cap, size_t *out_len,
                         const uint8_t *in, size_t in_len, size_t *used) {
  return docstore_sealer_update(h, out, cap, out_len, in, in_len, used);
}
static int sealer_finish(void *h, uint8_t *out, size_t cap, size_t *out_len) {
  return docstore_sealer_finish(h, out, cap, out_len);
}
static const char *sealer_errmsg(const void *h) {
  return docstore_sealer_errmsg(h);
}
static int opener_update(void *h, uint8_t *out, size_t cap, size_t *out_len,
                         const uint8_t *in, size_t in_len, size_t *used) {
  return docstore_opener_update(h, out, cap, out_len, in, in_len, used);
}
static int opener_finish(void *h, uint8_t *out, size_t cap, size_t *out_len) {
  return docstore_opener_finish(h, out, cap, out_len);
}
static const char *opener_errmsg(const void *h) {
  return docstore_opener_errmsg(h);
}

void cli_stage_sealer(cli_stage *st, docstore_sealer *s) {
  st->h = s;
  st->update = sealer_update;
  st->finish = sealer_finish;
  st->errmsg = sealer_errmsg;
}

void cli_stage_opener(cli_stage *st, docstore_opener *o) {
  st->h = o;
  st->update = opener_update;
  st->finish = opener_finish;
  st->errmsg = opener_errmsg;
}
