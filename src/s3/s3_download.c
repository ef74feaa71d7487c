/*
 * libdocstore - S3 provider: streamed reads (provider ops get_open,
 * get_read, get_close).
 * SPDX-License-Identifier: Apache-2.0
 *
 * A stream reads its range in windows of s3->download_part_size bytes,
 * one ranged GET each.  get_open fetches the first window itself: its
 * reply gives the object's size (Content-Range) and ETag.  The next
 * windows are fetched by up to download_concurrency - 1 threads (and by
 * the reader itself when it gets to a window nobody has taken), each with
 * If-Match: <that ETag>, into a ring of download_concurrency window
 * buffers; get_read hands the bytes out in order.  A window's buffer is
 * refilled (with the window download_concurrency further on) only once
 * the reader has used it up, so a stream holds at most
 * download_concurrency x download_part_size bytes, whatever the object's
 * size.
 *
 *   ring slot of window w: w % nslots
 *   FREE -> FETCHING (a thread or the reader took w) -> READY | FAILED
 *   READY -> FREE when the reader has read all of w.
 *
 * An object replaced while it is read answers 412 to If-Match:
 * DOCSTORE_ECHANGED.  A window cut by the network resumes inside
 * docstore__s3_request(), also under If-Match.  A failed window stops
 * the windows after it; the reader gets the failure when it gets there
 * (the bytes before it are good).
 *
 * No digest of the whole object is computed here (unlike s3_get's ETag
 * MD5): a stream may start anywhere, and what is stored is an envelope
 * whose reader checks every segment's GCM tag and the envelope's length
 * (service/stream.c); each window's length and the object's size and ETag
 * are checked against the first reply.
 */
#include <stdio.h>
#include <string.h>

#include "s3/s3_internal.h"

enum { SLOT_FREE = 0, SLOT_FETCHING, SLOT_READY, SLOT_FAILED };

/* Stack of a window thread: curl, OpenSSL and the signer need far less;
 * the default (often 8 MiB) would count against an address-space limit. */
#define WINDOW_THREAD_STACK ((size_t)1 << 20)

typedef struct slot {
  uint8_t *buf; /* PUBLIC block (ciphertext), allocated on first use */
  size_t cap;
  size_t len;     /* bytes received */
  uint64_t index; /* the window held or being fetched */
  int state;
  int rc; /* SLOT_FAILED: the code, detail in err */
  docstore__err err;
} slot;

typedef struct s3_stream {
  docstore__s3 *s3;
  char *key;
  char etag[192]; /* the first reply's; "" if it had none */
  uint64_t size;  /* the whole object's */
  uint64_t start; /* object offset of window 0 */
  uint64_t end;   /* end of the range (exclusive) */
  uint64_t part;  /* bytes per window */
  uint64_t nwin;  /* windows in [start, end) */
  slot *ring;
  size_t nslots;

  pthread_mutex_t lock;
  pthread_cond_t changed; /* a slot changed state, or stop */
  uint64_t next;          /* next window to take (under lock) */
  uint64_t failed_at;     /* first failed window; UINT64_MAX: none */
  int stop;               /* get_close: threads leave (under lock) */
  atomic_int cancel;      /* the same, read by the sinks without the lock */
  atomic_uint_fast64_t failed_first; /* failed_at, for the sinks */

  /* The reader (only get_read touches these). */
  uint64_t cur; /* the window being read */
  size_t pos;   /* bytes of it already handed out */

  pthread_t threads[DOCSTORE__S3_MAX_CONCURRENCY];
  size_t nthreads;
  int sync_ready; /* lock and cond initialised */
} s3_stream;

static docstore__err *E(docstore_errinfo *e) { return (docstore__err *)e; }

static uint64_t window_offset(const s3_stream *st, uint64_t w) {
  return st->start + w * st->part;
}

static size_t window_len(const s3_stream *st, uint64_t w) {
  uint64_t off = window_offset(st, w);
  uint64_t n = st->end - off;
  return (size_t)(n < st->part ? n : st->part);
}

/* ----------------------------------------------------- one window */

typedef struct window_sink_ctx {
  s3_stream *st;
  slot *s;
  uint64_t w;
  size_t want;
} window_sink_ctx;

/* Bytes of one window into its slot.  Stops the transfer (non-zero) when
 * the stream is closed or an earlier window failed. */
static int window_sink(void *payload, const uint8_t *data, size_t len) {
  window_sink_ctx *c = payload;
  if (atomic_load(&c->st->cancel) ||
      c->w > (uint64_t)atomic_load(&c->st->failed_first))
    return DOCSTORE_ECANCELED;
  if (len > c->want - c->s->len)
    return DOCSTORE_EIO; /* the transport keeps to the range: not reached */
  memcpy(c->s->buf + c->s->len, data, len);
  c->s->len += len;
  return 0;
}

/* A reply that says the object is not the one the stream started on. */
static int changed(const s3_stream *st, uint64_t off, const char *why,
                   docstore__err *err) {
  return docstore__err_set(err, DOCSTORE_ECHANGED,
                           "S3 object '%.200s' changed while it was read (%s, "
                           "at byte %llu of %llu): read it again",
                           st->key, why, (unsigned long long)off,
                           (unsigned long long)st->size);
}

/* A window that did not get the bytes it asked for. */
static int short_window(const s3_stream *st, uint64_t off, size_t got,
                        size_t want, docstore__err *err) {
  return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                           "S3 GET '%.200s': %zu bytes from byte %llu, %zu "
                           "asked for (the object is %llu bytes)",
                           st->key, got, (unsigned long long)off, want,
                           (unsigned long long)st->size);
}

/* One ranged GET of `want` bytes at `off` into s (which has room), under
 * If-Match once the ETag is known. */
static int get_window(s3_stream *st, slot *s, uint64_t w, uint64_t off,
                      size_t want, docstore__s3_resp *resp,
                      docstore__err *err) {
  docstore__s3_req req = {0};
  window_sink_ctx ctx = {st, s, w, want};
  s->len = 0;
  req.op = DOCSTORE_OP_GET;
  req.method = "GET";
  req.key = st->key;
  req.has_range = 1;
  req.range_start = off;
  req.range_len = want;
  req.sink = window_sink;
  req.sink_payload = &ctx;
  req.if_match = st->etag[0] ? st->etag : NULL;
  return docstore__s3_request(st->s3, &req, resp, err);
}

/* Fetches window w into s (s->buf has room for it).  The ETag is
 * insisted on for every window but the first (which learns it). */
static int fetch_window(s3_stream *st, slot *s, uint64_t w,
                        docstore__err *err) {
  docstore__s3_resp resp;
  uint64_t off = window_offset(st, w);
  size_t want = window_len(st, w);
  int rc = get_window(st, s, w, off, want, &resp, err);
  if (rc < 0) {
    /* A 412 to If-Match is DOCSTORE_ECHANGED already (s3_http.c); a
     * server that ignores If-Match shows another ETag instead. */
    if (rc == DOCSTORE_EINTEGRITY && st->etag[0] && resp.etag[0] &&
        strcmp(resp.etag, st->etag) != 0)
      rc = changed(st, off, "another ETag", err);
    else if (rc != DOCSTORE_ECANCELED)
      docstore__err_prefix(err, "window at byte %llu of %llu",
                           (unsigned long long)off,
                           (unsigned long long)st->size);
    goto done;
  }
  uint64_t total = resp.status == 206        ? resp.range_total
                   : resp.has_content_length ? resp.content_length
                                             : UINT64_MAX;
  if (st->etag[0] && resp.etag[0] && strcmp(resp.etag, st->etag) != 0)
    rc = changed(st, off, "another ETag", err);
  else if (total != st->size)
    rc = docstore__err_set(err, DOCSTORE_EINTEGRITY,
                           "S3 GET '%.200s': the reply for byte %llu gives "
                           "the object %llu bytes, the first one %llu",
                           st->key, (unsigned long long)off,
                           (unsigned long long)total,
                           (unsigned long long)st->size);
  else if (s->len != want)
    rc = short_window(st, off, s->len, want, err);
done:
  docstore__s3_resp_free(&resp);
  return rc;
}

static int slot_room(slot *s, size_t want) {
  if (s->cap >= want)
    return 0;
  docstore_free(s->buf);
  s->buf =
      docstore__alloc_ex(want, DOCSTORE__MEM_PUBLIC | DOCSTORE__MEM_UNINIT);
  s->cap = s->buf ? want : 0;
  return s->buf ? 0 : DOCSTORE_ENOMEM;
}

/* Takes window st->next into its slot (the lock held; the slot is FREE).
 * Returns the slot. */
static slot *take(s3_stream *st, uint64_t *w) {
  *w = st->next++;
  slot *s = &st->ring[*w % st->nslots];
  s->state = SLOT_FETCHING;
  s->index = *w;
  s->len = 0;
  return s;
}

/* Fetches a taken window (without the lock) and publishes the outcome. */
static void fill(s3_stream *st, slot *s, uint64_t w) {
  docstore__err err;
  docstore__err_clear(&err);
  int rc = slot_room(s, window_len(st, w));
  if (rc < 0)
    docstore__err_set(&err, rc, "out of memory for a %zu-byte read window",
                      window_len(st, w));
  else
    rc = fetch_window(st, s, w, &err);
  pthread_mutex_lock(&st->lock);
  if (rc < 0) {
    s->state = SLOT_FAILED;
    s->rc = rc;
    s->err = err;
    if (w < st->failed_at) {
      st->failed_at = w;
      atomic_store(&st->failed_first, w);
    }
  } else {
    s->state = SLOT_READY;
  }
  pthread_cond_broadcast(&st->changed);
  pthread_mutex_unlock(&st->lock);
}

/* 1 when window st->next can be taken now (the lock held). */
static int can_take(const s3_stream *st) {
  return !st->stop && st->next < st->nwin && st->next < st->failed_at &&
         st->ring[st->next % st->nslots].state == SLOT_FREE;
}

/* 1 when no window will ever be taken again (the lock held). */
static int no_more(const s3_stream *st) {
  return st->stop || st->next >= st->nwin || st->failed_at != UINT64_MAX;
}

static void *window_thread(void *arg) {
  s3_stream *st = arg;
  pthread_mutex_lock(&st->lock);
  for (;;) {
    while (!can_take(st) && !no_more(st))
      pthread_cond_wait(&st->changed, &st->lock);
    if (!can_take(st))
      break;
    uint64_t w;
    slot *s = take(st, &w);
    pthread_mutex_unlock(&st->lock);
    fill(st, s, w);
    pthread_mutex_lock(&st->lock);
  }
  pthread_mutex_unlock(&st->lock);
  return NULL;
}

/* ------------------------------------------------------ the stream */

static void stream_free(s3_stream *st) {
  if (!st)
    return;
  if (st->sync_ready) {
    pthread_mutex_lock(&st->lock);
    st->stop = 1;
    atomic_store(&st->cancel, 1);
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->lock);
    for (size_t i = 0; i < st->nthreads; i++)
      pthread_join(st->threads[i], NULL);
    pthread_cond_destroy(&st->changed);
    pthread_mutex_destroy(&st->lock);
  }
  if (st->ring) {
    for (size_t i = 0; i < st->nslots; i++)
      docstore_free(st->ring[i].buf);
    docstore_free(st->ring);
  }
  docstore_free(st->key);
  docstore_free(st);
}

/* The object's size and ETag from a HEAD: for a first window the server
 * refused (416: the range starts at or past the end, or the object is
 * empty). */
static int learn_from_head(s3_stream *st, docstore__err *err) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_GET;
  req.method = "HEAD";
  req.key = st->key;
  int rc = docstore__s3_request(st->s3, &req, &resp, err);
  if (rc == 0) {
    if (!resp.has_content_length)
      rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                             "S3 HEAD: no Content-Length in the reply");
    st->size = resp.content_length;
    docstore__strlcpy(st->etag, resp.etag, sizeof(st->etag));
  }
  docstore__s3_resp_free(&resp);
  return rc;
}

/* The first window: [offset, offset + min(part, length)), which tells the
 * object's size and ETag (an empty range: a HEAD).  Fills slot 0 (window
 * 0) and sets the range up. */
static int open_first(s3_stream *st, uint64_t offset, uint64_t length,
                      docstore__err *err) {
  docstore__s3_resp resp;
  size_t want = (size_t)(length < st->part ? length : st->part);
  slot *s = &st->ring[0];
  int rc;
  if (slot_room(s, want) < 0)
    return docstore__err_set(err, DOCSTORE_ENOMEM,
                             "out of memory for a %zu-byte read window", want);
  if (length == 0) {
    memset(&resp, 0, sizeof(resp));
    rc = learn_from_head(st, err);
  } else {
    rc = get_window(st, s, 0, offset, want, &resp, err);
  }
  if (rc < 0 && resp.status == 416) {
    /* Nothing at offset: how large is the object? */
    docstore__err_clear(err);
    rc = learn_from_head(st, err);
    s->len = 0;
  } else if (rc == 0 && length > 0) {
    docstore__strlcpy(st->etag, resp.etag, sizeof(st->etag));
    if (resp.status == 206 && resp.has_content_range &&
        resp.range_total != UINT64_MAX)
      st->size = resp.range_total;
    else if (resp.status != 206 && resp.has_content_length)
      st->size = resp.content_length; /* the whole object (range ignored) */
    else
      rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                             "S3 GET '%.200s': the reply (HTTP %ld) does not "
                             "say how large the object is",
                             st->key, resp.status);
  }
  docstore__s3_resp_free(&resp);
  if (rc < 0)
    return rc;
  if (offset > st->size)
    return docstore__err_set(
        err, DOCSTORE_EINVAL, "offset %llu is beyond the object's %llu bytes",
        (unsigned long long)offset, (unsigned long long)st->size);
  uint64_t avail = st->size - offset;
  st->start = offset;
  st->end = offset + (length < avail ? length : avail);
  uint64_t span = st->end - st->start; /* no overflow near 2^64 */
  if (st->part == 0) /* never: the setting's minimum is 1 MiB */
    return docstore__err_set(err, DOCSTORE_EINVAL, "window size is 0");
  st->nwin = span / st->part + (span % st->part != 0);
  size_t first = st->nwin ? window_len(st, 0) : 0;
  if (s->len != first)
    return short_window(st, offset, s->len, first, err);
  s->index = 0;
  s->state = st->nwin ? SLOT_READY : SLOT_FREE;
  return 0;
}

/* The threads for windows 1 .. nwin-1 (fewer if the system has none to
 * spare: the reader then fetches what no thread took). */
static void start_threads(s3_stream *st) {
  uint64_t want = st->nslots - 1u;
  if (want > DOCSTORE__S3_MAX_CONCURRENCY)
    want = DOCSTORE__S3_MAX_CONCURRENCY;
  if (want > st->nwin - 1)
    want = st->nwin - 1;
  pthread_attr_t attr;
  int have_attr = pthread_attr_init(&attr) == 0;
  if (have_attr && pthread_attr_setstacksize(&attr, WINDOW_THREAD_STACK) != 0) {
    pthread_attr_destroy(&attr);
    have_attr = 0;
  }
  while (st->nthreads < want &&
         pthread_create(&st->threads[st->nthreads], have_attr ? &attr : NULL,
                        window_thread, st) == 0)
    st->nthreads++;
  if (st->nthreads < want)
    docstore__log(DOCSTORE_LOG_DEBUG,
                  "S3: streamed read with %zu of %llu window threads (no "
                  "more threads)",
                  st->nthreads, (unsigned long long)want);
  if (have_attr)
    pthread_attr_destroy(&attr);
}

int docstore__s3_get_open(void *payload, const char *key, uint64_t offset,
                          uint64_t length, void **stream, uint64_t *object_size,
                          docstore_errinfo *e) {
  docstore__s3 *s3 = payload;
  docstore__err *err = E(e);
  *stream = NULL;
  s3_stream *st = docstore__alloc(sizeof(*st));
  if (!st || !(st->key = docstore__strdup(key)))
    goto nomem;
  st->s3 = s3;
  st->part = s3->download_part_size ? s3->download_part_size
                                    : DOCSTORE__S3_DEFAULT_PART_SIZE;
  st->failed_at = UINT64_MAX;
  atomic_init(&st->failed_first, UINT64_MAX);
  atomic_init(&st->cancel, 0);
  st->nslots = s3->download_concurrency ? s3->download_concurrency : 1;
  if (!(st->ring = docstore__alloc(st->nslots * sizeof(*st->ring))))
    goto nomem;
  int rc = open_first(st, offset, length, err);
  if (rc < 0) {
    stream_free(st);
    return rc;
  }
  if (st->nwin < st->nslots)
    st->nslots = st->nwin ? (size_t)st->nwin : 1; /* no slot never used */
  st->next = st->nwin ? 1 : 0;
  if (st->nwin > 1) {
    if (pthread_mutex_init(&st->lock, NULL) != 0)
      goto nomem;
    if (pthread_cond_init(&st->changed, NULL) != 0) {
      pthread_mutex_destroy(&st->lock);
      goto nomem;
    }
    st->sync_ready = 1;
    start_threads(st);
  }
  *object_size = st->size;
  *stream = st;
  return 0;
nomem:
  stream_free(st);
  return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
}

/* Waits until window st->cur is in (or fetches it when nobody has taken
 * it).  The lock held on entry and return. */
static slot *await_current(s3_stream *st) {
  for (;;) {
    slot *s = &st->ring[st->cur % st->nslots];
    if (s->index == st->cur &&
        (s->state == SLOT_READY || s->state == SLOT_FAILED))
      return s;
    if (s->state == SLOT_FREE && st->next == st->cur) {
      uint64_t w;
      s = take(st, &w);
      pthread_mutex_unlock(&st->lock);
      fill(st, s, w);
      pthread_mutex_lock(&st->lock);
      continue;
    }
    pthread_cond_wait(&st->changed, &st->lock);
  }
}

int docstore__s3_get_read(void *payload, void *stream, uint8_t *buf, size_t cap,
                          size_t *got, docstore_errinfo *e) {
  (void)payload;
  s3_stream *st = stream;
  *got = 0;
  if (st->cur >= st->nwin)
    return 0;
  slot *s;
  if (st->sync_ready) {
    pthread_mutex_lock(&st->lock);
    s = await_current(st);
    pthread_mutex_unlock(&st->lock);
  } else {
    s = &st->ring[0]; /* one window, read by get_open */
  }
  if (s->state == SLOT_FAILED) {
    *E(e) = s->err;
    return s->rc;
  }
  /* READY: the slot is the reader's until it is handed back. */
  size_t n = s->len - st->pos;
  if (n > cap)
    n = cap;
  memcpy(buf, s->buf + st->pos, n);
  st->pos += n;
  *got = n;
  if (st->pos == s->len) {
    st->pos = 0;
    st->cur++;
    if (st->sync_ready) {
      pthread_mutex_lock(&st->lock);
      s->state = SLOT_FREE;
      pthread_cond_broadcast(&st->changed);
      pthread_mutex_unlock(&st->lock);
    }
  }
  return 0;
}

void docstore__s3_get_close(void *payload, void *stream) {
  (void)payload;
  stream_free(stream);
}
