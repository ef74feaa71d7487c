/*
 * libdocstore - S3 provider: streamed uploads (the put group of the
 * provider operations), also behind the whole-buffer put.
 * SPDX-License-Identifier: Apache-2.0
 *
 * One transaction holds the first bytes, up to multipart_threshold.  A
 * commit within that sends them as one PutObject.  A write beyond it opens
 * a multipart upload: the held bytes become the first parts (slices of the
 * held buffer, no copy), later bytes fill part buffers that up to
 * `concurrency` sender threads of the transaction send while the writer
 * fills the next one.  There are concurrency + 1 part buffers, recycled, so
 * a transaction holds at most
 *     multipart_threshold + part_size x (concurrency + 1)
 * bytes of data, whatever the object's size.
 *
 * Part size: S3 allows 10000 parts.  With a size hint the part size is
 * doubled until the hinted size fits in them.  Without one (or once the
 * stream outgrows its hint) it doubles every 1000 parts, so that 10000
 * parts of 8 MiB reach 1000 x 8 MiB x (1 + 2 + ... + 512), about 8 TiB.
 *
 * No-clobber (DOCSTORE_PUT_NO_CLOBBER), per s3->conditional: NATIVE sends
 * `If-None-Match: *` on the PutObject or CompleteMultipartUpload; EMULATE
 * asks HEAD just before the request that makes the object appear (not
 * atomic: two writers may both pass).  Whatever the mode, a multipart
 * upload asks HEAD before CreateMultipartUpload, to fail before sending
 * parts; a single PutObject costs no request more than the mode needs (a
 * small document under EMULATE: HEAD + PUT, under NATIVE: PUT);
 * AUTO is NATIVE until a PutObject is answered NotImplemented, then
 * EMULATE for the provider's life; a CompleteMultipartUpload under AUTO
 * always tries If-None-Match first (Swift 2.30 honours it there, 412, and
 * answers NotImplemented on PutObject) and asks HEAD only after a
 * NotImplemented.
 *
 * DOCSTORE_PUT_VERIFY: the commit succeeds only with proof that the server
 * holds exactly the bytes written: every object-data request was proven by
 * its reply (resp.body_proven: a signed payload hash, a Content-MD5, or an
 * echoed checksum), else the object is read back and its size and CRC-32C
 * compared with those of the bytes written.
 *
 * Every failure after CreateMultipartUpload aborts the upload; an abort
 * that fails is logged at WARN with the upload id (docstore check finds
 * the leftovers, a lifecycle rule removes them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_internal.h"

#define MAX_PART_SIZE DOCSTORE__S3_MAX_PART_SIZE
#define GROW_EVERY DOCSTORE__S3_GROW_EVERY
/* Read-back window (DOCSTORE_PUT_VERIFY without a proof). */
#define READBACK_WINDOW ((uint64_t)64 << 20)

static docstore__err *E(docstore_errinfo *e) { return (docstore__err *)e; }

/* A part buffer: filled by the writer, sent by a sender, then free again. */
typedef struct part_buf {
  uint8_t *data;
  size_t cap;
  size_t len;
  unsigned int part; /* 1-based part number once queued */
  struct part_buf *next_free;
} part_buf;

typedef struct s3_upload {
  docstore__s3 *s3;
  char *key;
  char *content_type;        /* NULL: none sent */
  unsigned int flags;        /* DOCSTORE_PUT_* */
  uint64_t size_hint;        /* 0: unknown */
  int exact;                 /* size_hint is the size (the whole-buffer put) */
  unsigned int expect_parts; /* with `exact`: the parts there will be */
  uint64_t total;            /* bytes written */
  uint32_t crc;              /* CRC-32C of the bytes written (PUT_VERIFY) */
  int unproven; /* an object-data request had no proof (under lock) */

  /* The first bytes, up to s3->multipart_threshold (public memory). */
  uint8_t *head;
  size_t head_len, head_cap;

  /* Multipart, from the first write past the threshold. */
  int multipart;
  char *upload_id;
  char *id_query;      /* "uploadId=<encoded>" */
  uint64_t part;       /* size of the part being filled */
  int grow;            /* 1: the part size doubles every GROW_EVERY parts */
  unsigned int nparts; /* parts handed to the senders so far */
  part_buf *fill;      /* the buffer being filled (writer only) */
  char **etags;        /* [DOCSTORE__S3_MAX_PARTS]; slot i by its sender */
  char **sums;         /* same, the x-amz-checksum sent ("" or NULL: none) */

  /* Shared with the senders, under lock. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int sync_ready;
  size_t head_parts; /* parts 1..head_parts are slices of head */
  size_t head_next;  /* next head slice to send */
  size_t head_refs;  /* head slices not yet sent */
  uint64_t head_part;
  part_buf *queue[DOCSTORE__S3_MAX_CONCURRENCY + 1]; /* ring */
  size_t q_first, q_count;
  part_buf *bufs[DOCSTORE__S3_MAX_CONCURRENCY + 1]; /* all allocated */
  size_t nbufs, max_bufs;
  part_buf *free_bufs;
  unsigned int busy; /* parts being sent */
  int closing;       /* no more parts will come: senders exit when idle */
  int rc;            /* first sender failure */
  docstore__err err; /* its detail */
  pthread_t threads[DOCSTORE__S3_MAX_CONCURRENCY];
  size_t nthreads;
} s3_upload;

/* ------------------------------------------------------------ requests */

static int is_flexible(int checksum) {
  return checksum == DOCSTORE_S3_CHECKSUM_CRC32C ||
         checksum == DOCSTORE_S3_CHECKSUM_CRC32 ||
         checksum == DOCSTORE_S3_CHECKSUM_SHA256;
}

/* The algorithm's name in x-amz-checksum-algorithm and its element in
 * CompleteMultipartUpload. */
static const char *checksum_name(int checksum) {
  switch (checksum) {
  case DOCSTORE_S3_CHECKSUM_CRC32C:
    return "CRC32C";
  case DOCSTORE_S3_CHECKSUM_CRC32:
    return "CRC32";
  case DOCSTORE_S3_CHECKSUM_SHA256:
    return "SHA256";
  default:
    return NULL;
  }
}

/* Whether a 2xx reply to object data proves the server got those bytes. */
static int resp_proven(const docstore__s3_resp *resp) {
  return resp->body_proven;
}

static void note_proof(s3_upload *u, const docstore__s3_resp *resp) {
  if (resp_proven(resp))
    return;
  pthread_mutex_lock(&u->lock);
  u->unproven = 1;
  pthread_mutex_unlock(&u->lock);
}

static int upload_call(s3_upload *u, const char *method, const char *query,
                       const uint8_t *body, size_t len, docstore__s3_resp *resp,
                       docstore__err *err) {
  docstore__s3_req req = {0};
  req.op = DOCSTORE_OP_PUT;
  req.method = method;
  req.key = u->key;
  req.query = query;
  req.body = body;
  req.body_len = len;
  req.send_body = strcmp(method, "DELETE") != 0;
  return docstore__s3_request(u->s3, &req, resp, err);
}

/* AbortMultipartUpload; a failure is logged with the upload id. */
static void upload_abort(s3_upload *u) {
  if (!u->upload_id)
    return;
  if (!u->id_query) {
    docstore__log(DOCSTORE_LOG_WARN,
                  "S3: multipart upload %.100s of '%.200s' left behind "
                  "(out of memory); remove it with AbortMultipartUpload or "
                  "docstore check --abort-stale-uploads",
                  u->upload_id, u->key);
    return;
  }
  docstore__err aerr;
  docstore__s3_resp resp;
  docstore__err_clear(&aerr);
  int rc = upload_call(u, "DELETE", u->id_query, NULL, 0, &resp, &aerr);
  /* NoSuchUpload: already gone (aborted by someone else). */
  int gone =
      rc == DOCSTORE_ENOTFOUND || strcmp(resp.s3_code, "NoSuchUpload") == 0;
  docstore__s3_resp_free(&resp);
  if (rc < 0 && !gone)
    docstore__log(DOCSTORE_LOG_WARN,
                  "S3: could not abort the multipart upload of '%.200s' "
                  "(upload id %.100s): %s; remove it with "
                  "AbortMultipartUpload, docstore check "
                  "--abort-stale-uploads or a lifecycle rule",
                  u->key, u->upload_id, aerr.msg);
  else
    docstore__log(DOCSTORE_LOG_INFO,
                  "S3: aborted the multipart upload of '%.200s'", u->key);
  docstore_free(u->upload_id);
  u->upload_id = NULL;
}

/* ----------------------------------------------------------- no-clobber */

/* 1 when no-clobber is a HEAD before the request (EMULATE, or AUTO after
 * the server said NotImplemented). */
static int emulating(docstore__s3 *s3) {
  return s3->conditional == DOCSTORE_S3_CONDITIONAL_EMULATE ||
         (s3->conditional == DOCSTORE_S3_CONDITIONAL_AUTO &&
          atomic_load(&s3->conditional_seen) < 0);
}

/* 0 when nothing is stored under the key, DOCSTORE_EEXISTS when something
 * is, else the HEAD's failure. */
static int head_absent(s3_upload *u, docstore__err *err) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_HEAD;
  req.method = "HEAD";
  req.key = u->key;
  int rc = docstore__s3_request(u->s3, &req, &resp, err);
  docstore__s3_resp_free(&resp);
  if (rc == 0)
    return docstore__err_set(err, DOCSTORE_EEXISTS,
                             "an object exists under this key (no-clobber "
                             "put)");
  if (rc == DOCSTORE_ENOTFOUND) {
    docstore__err_clear(err);
    return 0;
  }
  return rc;
}

/* Sends the request that makes the object appear (PutObject or
 * CompleteMultipartUpload), with no-clobber as configured.  resp is
 * filled as docstore__s3_request() fills it. */
static int publish(s3_upload *u, docstore__s3_req *req, docstore__s3_resp *resp,
                   docstore__err *err) {
  docstore__s3 *s3 = u->s3;
  int complete = u->multipart;
  memset(resp, 0, sizeof(*resp)); /* filled by a request, if one is sent */
  if (!(u->flags & DOCSTORE_PUT_NO_CLOBBER))
    return docstore__s3_request(s3, req, resp, err);
  /* conditional_seen is what PutObject showed.  A server may honour
   * If-None-Match on CompleteMultipartUpload and not on PutObject (Swift
   * 2.30): under AUTO a Complete always tries it first. */
  int emulate = complete ? s3->conditional == DOCSTORE_S3_CONDITIONAL_EMULATE
                         : emulating(s3);
  if (!emulate) {
    req->if_none_match = 1;
    int rc = docstore__s3_request(s3, req, resp, err);
    req->if_none_match = 0;
    if (rc == 0 && !complete && s3->conditional == DOCSTORE_S3_CONDITIONAL_AUTO)
      atomic_store(&s3->conditional_seen, 1);
    if (rc != DOCSTORE_EUNSUPPORTED ||
        strcmp(resp->s3_code, "NotImplemented") != 0)
      return rc;
    if (s3->conditional == DOCSTORE_S3_CONDITIONAL_NATIVE)
      return docstore__err_set(
          err, DOCSTORE_EUNSUPPORTED,
          "no-clobber store of '%.200s': the server at %s does not support "
          "conditional writes (If-None-Match: * answered NotImplemented) "
          "and S3_CONDITIONAL_WRITES is native; set it to auto or emulate "
          "(a HEAD before the write, not atomic)",
          u->key, s3->endpoint);
    if (atomic_exchange(&s3->conditional_seen, -1) >= 0)
      docstore__log(DOCSTORE_LOG_INFO,
                    "S3: %s does not support conditional writes "
                    "(If-None-Match: *): no-clobber stores ask HEAD before "
                    "writing from now on (not atomic)",
                    s3->endpoint);
    docstore__s3_resp_free(resp);
    docstore__err_clear(err);
  }
  DOCSTORE__GUARD(head_absent(u, err));
  return docstore__s3_request(s3, req, resp, err);
}

/* ------------------------------------------------------------ the parts */

static int send_part(s3_upload *u, unsigned int number, const uint8_t *data,
                     size_t len, docstore__err *err) {
  docstore__s3_resp resp;
  char *query = docstore__sprintf("partNumber=%u&%s", number, u->id_query);
  if (!query)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  docstore__s3_req req = {0};
  req.op = DOCSTORE_OP_PUT;
  req.method = "PUT";
  req.key = u->key;
  req.query = query;
  req.body = data;
  req.body_len = len;
  req.send_body = 1;
  req.object_data = 1;
  int rc = docstore__s3_request(u->s3, &req, &resp, err);
  if (rc < 0 && u->expect_parts)
    docstore__err_prefix(err, "multipart upload of '%.200s', part %u of %u",
                         u->key, number, u->expect_parts);
  else if (rc < 0)
    docstore__err_prefix(err, "multipart upload of '%.200s', part %u", u->key,
                         number);
  else if (!resp.etag[0])
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "S3 UploadPart %u of '%.200s': no ETag in the "
                           "reply",
                           number, u->key);
  else if (!(u->etags[number - 1] = docstore__strdup(resp.etag)) ||
           !(u->sums[number - 1] = docstore__strdup(resp.sent_checksum)))
    rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  else
    note_proof(u, &resp);
  docstore__s3_resp_free(&resp);
  docstore_free(query);
  return rc;
}

/* A sender: the next head slice or queued buffer, until closing and idle
 * or a part has failed. */
static void *sender(void *arg) {
  s3_upload *u = arg;
  docstore__err err;
  docstore__err_clear(&err);
  pthread_mutex_lock(&u->lock);
  for (;;) {
    while (u->rc == 0 && u->head_next >= u->head_parts && u->q_count == 0 &&
           !u->closing)
      pthread_cond_wait(&u->cond, &u->lock);
    if (u->rc != 0 || (u->head_next >= u->head_parts && u->q_count == 0))
      break; /* failed, or closing with nothing left */
    const uint8_t *data;
    size_t len;
    unsigned int number;
    part_buf *b = NULL;
    if (u->head_next < u->head_parts) {
      size_t i = u->head_next++;
      data = u->head + i * u->head_part;
      len = (size_t)u->head_part;
      number = (unsigned int)i + 1;
    } else {
      b = u->queue[u->q_first];
      u->q_first = (u->q_first + 1) % (DOCSTORE__S3_MAX_CONCURRENCY + 1);
      u->q_count--;
      data = b->data;
      len = b->len;
      number = b->part;
    }
    u->busy++;
    pthread_mutex_unlock(&u->lock);
    int rc = send_part(u, number, data, len, &err);
    pthread_mutex_lock(&u->lock);
    u->busy--;
    if (rc < 0 && u->rc == 0) {
      u->rc = rc;
      u->err = err;
    }
    if (b) {
      b->len = 0;
      b->next_free = u->free_bufs;
      u->free_bufs = b;
    } else if (--u->head_refs == 0) {
      docstore_free(u->head); /* its bytes are all sent */
      u->head = NULL;
      u->head_len = u->head_cap = 0;
    }
    pthread_cond_broadcast(&u->cond);
  }
  pthread_mutex_unlock(&u->lock);
  return NULL;
}

/* The sender failure, copied into err; 0 if none. */
static int sender_failure(s3_upload *u, docstore__err *err) {
  pthread_mutex_lock(&u->lock);
  int rc = u->rc;
  if (rc < 0)
    *err = u->err;
  pthread_mutex_unlock(&u->lock);
  if (rc < 0)
    docstore__err_publish(err);
  return rc;
}

/* Tells the senders that no part will come and waits for them; cancel:
 * they stop after the part they are sending. */
static void senders_stop(s3_upload *u, int cancel) {
  if (!u->sync_ready)
    return;
  pthread_mutex_lock(&u->lock);
  u->closing = 1;
  if (cancel && u->rc == 0)
    u->rc = DOCSTORE_ECANCELED;
  pthread_cond_broadcast(&u->cond);
  pthread_mutex_unlock(&u->lock);
  for (size_t i = 0; i < u->nthreads; i++)
    pthread_join(u->threads[i], NULL);
  u->nthreads = 0;
}

uint64_t docstore__s3_part_size_first(uint64_t base, uint64_t hint) {
  uint64_t part = base;
  while (hint && (hint + part - 1) / part > DOCSTORE__S3_MAX_PARTS &&
         part < MAX_PART_SIZE)
    part = part * 2 < MAX_PART_SIZE ? part * 2 : MAX_PART_SIZE;
  return part;
}

uint64_t docstore__s3_part_size_next(uint64_t prev, unsigned int number) {
  if (number > 1 && (number - 1) % GROW_EVERY == 0 && prev < MAX_PART_SIZE)
    return prev * 2 < MAX_PART_SIZE ? prev * 2 : MAX_PART_SIZE;
  return prev;
}

/* The size of part `number` (1-based) when it starts to fill. */
static void part_size_for(s3_upload *u, unsigned int number) {
  if (u->size_hint && u->total > u->size_hint)
    u->grow = 1; /* the hint was short: the stream may go far */
  if (u->grow)
    u->part = docstore__s3_part_size_next(u->part, number);
}

/* A free part buffer of at least u->part bytes, waiting for a sender to
 * release one when all are taken. */
static int take_buffer(s3_upload *u, docstore__err *err) {
  unsigned int number = u->nparts + 1;
  if (number > DOCSTORE__S3_MAX_PARTS)
    return docstore__err_set(err, DOCSTORE_ETOOBIG,
                             "'%.200s' needs more than %u parts (the last of "
                             "%llu bytes): give a size hint or raise "
                             "S3_MULTIPART_PART_SIZE",
                             u->key, DOCSTORE__S3_MAX_PARTS,
                             (unsigned long long)u->part);
  part_size_for(u, number);
  part_buf *b = NULL;
  pthread_mutex_lock(&u->lock);
  while (u->rc == 0 && !u->free_bufs && u->nbufs >= u->max_bufs)
    pthread_cond_wait(&u->cond, &u->lock);
  if (u->rc == 0 && u->free_bufs) {
    b = u->free_bufs;
    u->free_bufs = b->next_free;
  }
  pthread_mutex_unlock(&u->lock);
  DOCSTORE__GUARD(sender_failure(u, err));
  if (!b) { /* a new one (only the writer adds buffers) */
    b = docstore__alloc(sizeof(*b));
    if (!b)
      return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    pthread_mutex_lock(&u->lock);
    u->bufs[u->nbufs++] = b;
    pthread_mutex_unlock(&u->lock);
  }
  if (b->cap < u->part) {
    docstore_free(b->data);
    b->cap = 0;
    b->data = docstore__alloc_ex((size_t)u->part,
                                 DOCSTORE__MEM_PUBLIC | DOCSTORE__MEM_UNINIT);
    if (!b->data) {
      pthread_mutex_lock(&u->lock);
      b->next_free = u->free_bufs;
      u->free_bufs = b;
      pthread_mutex_unlock(&u->lock);
      return docstore__err_set(err, DOCSTORE_ENOMEM,
                               "out of memory (a part buffer of %llu bytes)",
                               (unsigned long long)u->part);
    }
    b->cap = (size_t)u->part;
  }
  b->len = 0;
  u->fill = b;
  return 0;
}

/* Hands the filled buffer to the senders. */
static void queue_fill(s3_upload *u) {
  part_buf *b = u->fill;
  u->fill = NULL;
  b->part = ++u->nparts;
  pthread_mutex_lock(&u->lock);
  size_t slot = (u->q_first + u->q_count) % (DOCSTORE__S3_MAX_CONCURRENCY + 1);
  u->queue[slot] = b;
  u->q_count++;
  pthread_cond_signal(&u->cond);
  pthread_mutex_unlock(&u->lock);
}

/* Copies bytes into part buffers, queueing each full one. */
static int feed(s3_upload *u, const uint8_t *data, size_t len,
                docstore__err *err) {
  while (len > 0) {
    if (!u->fill)
      DOCSTORE__GUARD(take_buffer(u, err));
    part_buf *b = u->fill;
    if (!b) /* take_buffer() sets it on success */
      return docstore__err_set(err, DOCSTORE_ENOMEM, "no part buffer");
    size_t room = (size_t)u->part - b->len;
    size_t n = len < room ? len : room;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    data += n;
    len -= n;
    if (b->len == u->part)
      queue_fill(u);
  }
  return 0;
}

/* CreateMultipartUpload, the senders, and the held bytes as the first
 * parts (whole part_size slices; the rest starts the next buffer). */
static int start_multipart(s3_upload *u, docstore__err *err) {
  docstore__s3 *s3 = u->s3;
  docstore__s3_resp resp;
  int rc;

  /* Fail before sending parts when the key is taken (the Complete still
   * insists, natively or by HEAD). */
  if (u->flags & DOCSTORE_PUT_NO_CLOBBER)
    DOCSTORE__GUARD(head_absent(u, err));
  u->part = docstore__s3_part_size_first(s3->part_size, u->size_hint);
  u->grow = u->size_hint == 0;
  if (u->exact)
    u->expect_parts = (unsigned int)((u->size_hint + u->part - 1) / u->part);

  docstore__sigv4_header algo = {"x-amz-checksum-algorithm",
                                 checksum_name(s3->checksum)};
  docstore__s3_req req = {0};
  req.op = DOCSTORE_OP_PUT;
  req.method = "POST";
  req.key = u->key;
  req.query = "uploads";
  req.send_body = 1;
  req.content_type = u->content_type;
  if (is_flexible(s3->checksum)) {
    req.extra_headers = &algo;
    req.extra_count = 1;
  }
  rc = docstore__s3_request(s3, &req, &resp, err);
  if (rc == 0)
    rc = docstore__s3_xml_parse_upload_id((const char *)resp.body.data,
                                          resp.body.len, &u->upload_id);
  if (rc >= 0 && !u->upload_id) /* never, but static analysis cannot see it */
    rc = DOCSTORE_EFORMAT;
  docstore__s3_resp_free(&resp);
  if (rc == DOCSTORE_EFORMAT)
    docstore__err_set(err, rc,
                      "S3 CreateMultipartUpload '%.200s': no UploadId in the "
                      "reply",
                      u->key);
  if (rc < 0)
    return rc;
  u->multipart = 1;

  char *enc_id = NULL;
  if (docstore__sigv4_uri_encode(u->upload_id, strlen(u->upload_id), 0,
                                 &enc_id) < 0 ||
      !(u->id_query = docstore__sprintf("uploadId=%s", enc_id)) ||
      !(u->etags = docstore__alloc(DOCSTORE__S3_MAX_PARTS * sizeof(char *))) ||
      !(u->sums = docstore__alloc(DOCSTORE__S3_MAX_PARTS * sizeof(char *)))) {
    docstore_free(enc_id);
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  }
  docstore_free(enc_id);

  /* The held bytes: whole slices are the first parts; the rest starts
   * the next part's buffer (copied before any sender runs: a sender frees
   * the held buffer once its slices are sent). */
  u->head_part = u->part;
  u->head_parts = u->head_len / u->part;
  u->head_refs = u->head_parts;
  u->nparts = (unsigned int)u->head_parts;
  u->max_bufs = s3->concurrency + 1;
  size_t rest = u->head_len - u->head_parts * (size_t)u->part;
  if (rest)
    DOCSTORE__GUARD(feed(u, u->head + u->head_len - rest, rest, err));
  if (u->head_parts == 0) {
    docstore_free(u->head);
    u->head = NULL;
    u->head_len = u->head_cap = 0;
  }
  size_t want = s3->concurrency;
  for (size_t i = 0; i < want; i++) {
    if (pthread_create(&u->threads[u->nthreads], NULL, sender, u) != 0)
      break;
    u->nthreads++;
  }
  if (u->nthreads == 0)
    return docstore__err_set(err, DOCSTORE_ENOMEM,
                             "cannot start a thread to send the parts of "
                             "'%.200s'",
                             u->key);
  if (u->nthreads < want)
    docstore__log(DOCSTORE_LOG_DEBUG,
                  "S3: multipart upload of '%.200s' with %zu of %zu "
                  "senders (no more threads)",
                  u->key, u->nthreads, want);
  return 0;
}

/* ------------------------------------------------------------- commits */

/* The object read back: its size and CRC-32C must be those of the bytes
 * written. */
typedef struct readback {
  uint32_t crc;
  uint64_t seen;
} readback;

static int readback_sink(void *payload, const uint8_t *data, size_t len) {
  readback *r = payload;
  r->crc = docstore__s3_crc32c(r->crc, data, len);
  r->seen += len;
  return 0;
}

static int verify_readback(s3_upload *u, docstore__err *err) {
  readback r = {0, 0};
  char etag[sizeof(((docstore__s3_resp *)0)->etag)] = "";
  int rc = 0;
  while (rc == 0 && r.seen < u->total) {
    docstore__s3_req req = {0};
    docstore__s3_resp resp;
    req.op = DOCSTORE_OP_GET;
    req.method = "GET";
    req.key = u->key;
    req.has_range = 1;
    req.range_start = r.seen;
    req.range_len = u->total - r.seen < READBACK_WINDOW ? u->total - r.seen
                                                        : READBACK_WINDOW;
    req.sink = readback_sink;
    req.sink_payload = &r;
    req.if_match = etag[0] ? etag : NULL;
    uint64_t before = r.seen;
    rc = docstore__s3_request(u->s3, &req, &resp, err);
    if (rc == 0 && !etag[0])
      docstore__strlcpy(etag, resp.etag, sizeof(etag));
    if (rc == 0 && r.seen == before)
      rc = docstore__err_set(err, DOCSTORE_EINTEGRITY,
                             "read-back of '%.200s': the object ends at %llu "
                             "bytes, %llu were written",
                             u->key, (unsigned long long)r.seen,
                             (unsigned long long)u->total);
    docstore__s3_resp_free(&resp);
  }
  if (rc < 0) {
    if (rc != DOCSTORE_EINTEGRITY)
      docstore__err_prefix(err, "read-back of '%.200s' (put verify)", u->key);
    return rc;
  }
  /* The whole object, not just its first total bytes. */
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_HEAD;
  req.method = "HEAD";
  req.key = u->key;
  rc = docstore__s3_request(u->s3, &req, &resp, err);
  uint64_t size = resp.content_length;
  docstore__s3_resp_free(&resp);
  if (rc < 0) {
    docstore__err_prefix(err, "read-back of '%.200s' (put verify)", u->key);
    return rc;
  }
  if (size != u->total || r.crc != u->crc) {
    docstore__log(DOCSTORE_LOG_WARN,
                  "S3: '%.200s' as stored differs from the bytes written "
                  "(%llu bytes, CRC-32C %08x; written %llu, %08x); left in "
                  "place",
                  u->key, (unsigned long long)size, r.crc,
                  (unsigned long long)u->total, u->crc);
    return docstore__err_set(err, DOCSTORE_EINTEGRITY,
                             "'%.200s' as stored differs from the bytes "
                             "written (read back: %llu bytes, written %llu; "
                             "CRC-32C differ: %s)",
                             u->key, (unsigned long long)size,
                             (unsigned long long)u->total,
                             r.crc != u->crc ? "yes" : "no");
  }
  return 0;
}

/* After the object appeared: the PUT_VERIFY proof. */
static int verified(s3_upload *u, docstore__err *err) {
  if (!(u->flags & DOCSTORE_PUT_VERIFY) || !u->unproven)
    return 0;
  return verify_readback(u, err);
}

/* One PutObject of data (the held bytes, or the caller's whole buffer). */
static int commit_single(s3_upload *u, const uint8_t *data, size_t len,
                         docstore__err *err) {
  static const uint8_t empty[1] = {0};
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_PUT;
  req.method = "PUT";
  req.key = u->key;
  req.body = data ? data : empty;
  req.body_len = len;
  req.send_body = 1;
  req.object_data = 1;
  req.content_type = u->content_type;
  int rc = publish(u, &req, &resp, err);
  if (rc == 0)
    note_proof(u, &resp);
  docstore__s3_resp_free(&resp);
  return rc < 0 ? rc : verified(u, err);
}

/* One CompleteMultipartUpload, with the parts' checksums or without;
 * s3_code receives the S3 error code of a refusal ("" if none). */
static int complete_once(s3_upload *u, int sums, char *s3_code, size_t size,
                         docstore__err *err) {
  docstore__buf xml = DOCSTORE__BUF_INIT_PUBLIC;
  docstore__s3_resp resp;
  s3_code[0] = '\0';
  if (docstore__s3_xml_complete_body_sums(&xml, u->etags, sums ? u->sums : NULL,
                                          checksum_name(u->s3->checksum),
                                          u->nparts) < 0) {
    docstore__buf_free(&xml);
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  }
  docstore__s3_req req = {0};
  req.op = DOCSTORE_OP_PUT;
  req.method = "POST";
  req.key = u->key;
  req.query = u->id_query;
  req.body = xml.data;
  req.body_len = xml.len;
  req.send_body = 1;
  req.content_type = "application/xml";
  req.error_in_200 = 1;
  int rc = publish(u, &req, &resp, err);
  docstore__strlcpy(s3_code, resp.s3_code, size);
  docstore__s3_resp_free(&resp);
  docstore__buf_free(&xml);
  return rc;
}

static int commit_multipart(s3_upload *u, docstore__err *err) {
  char code[sizeof(((docstore__s3_resp *)0)->s3_code)];
  int rc = sender_failure(u, err);
  if (rc == 0 && u->fill && u->fill->len)
    queue_fill(u);
  senders_stop(u, 0);
  if (rc == 0)
    rc = sender_failure(u, err);
  if (rc < 0)
    goto failed;

  int sums = is_flexible(u->s3->checksum);
  for (unsigned int i = 0; sums && i < u->nparts; i++)
    if (!u->sums[i] || !u->sums[i][0])
      sums = 0; /* the server was not sent one for every part */
  rc = complete_once(u, sums, code, sizeof(code), err);
  if (rc < 0 && sums && strcmp(code, "MalformedXML") == 0) {
    /* AWS wants the parts' checksums when the upload was created with an
     * algorithm; Swift 2.30 does not know the elements (and checks no
     * flexible checksum): again without them. */
    docstore__log(DOCSTORE_LOG_DEBUG,
                  "S3: CompleteMultipartUpload of '%.200s' refused with the "
                  "parts' checksums (MalformedXML); again without",
                  u->key);
    docstore__err_clear(err);
    rc = complete_once(u, 0, code, sizeof(code), err);
  }
  if (rc < 0) {
    if (rc != DOCSTORE_EEXISTS)
      docstore__err_prefix(err, "completing the multipart upload of '%.200s'",
                           u->key);
    goto failed;
  }
  docstore_free(u->upload_id); /* completed: nothing to abort */
  u->upload_id = NULL;
  docstore__log(DOCSTORE_LOG_DEBUG,
                "S3: multipart upload of '%.200s' done: %u parts, %llu bytes",
                u->key, u->nparts, (unsigned long long)u->total);
  return verified(u, err);

failed:
  upload_abort(u);
  return rc;
}

/* ------------------------------------------------------------ lifetime */

static void upload_free(s3_upload *u) {
  if (!u)
    return;
  senders_stop(u, 1);
  upload_abort(u); /* a no-op once completed */
  if (u->sync_ready) {
    pthread_cond_destroy(&u->cond);
    pthread_mutex_destroy(&u->lock);
  }
  for (size_t i = 0; i < u->nbufs; i++) {
    docstore_free(u->bufs[i]->data);
    docstore_free(u->bufs[i]);
  }
  if (u->etags)
    for (size_t i = 0; i < DOCSTORE__S3_MAX_PARTS; i++) {
      docstore_free(u->etags[i]);
      docstore_free(u->sums[i]);
    }
  docstore_free(u->etags);
  docstore_free(u->sums);
  docstore_free(u->head);
  docstore_free(u->id_query);
  docstore_free(u->key);
  docstore_free(u->content_type);
  docstore_free(u);
}

static int upload_new(docstore__s3 *s3, const char *key,
                      const docstore_put_options *opts, s3_upload **out,
                      docstore__err *err) {
  *out = NULL;
  if (opts->flags & ~(DOCSTORE_PUT_NO_CLOBBER | DOCSTORE_PUT_VERIFY))
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "unknown put flags 0x%x", opts->flags);
  s3_upload *u = docstore__alloc(sizeof(*u));
  if (!u)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  u->s3 = s3;
  u->flags = opts->flags;
  u->size_hint = opts->size_hint;
  docstore__err_clear(&u->err);
  if (pthread_mutex_init(&u->lock, NULL) != 0) {
    docstore_free(u);
    return docstore__err_set(err, DOCSTORE_ENOMEM, "cannot create a mutex");
  }
  if (pthread_cond_init(&u->cond, NULL) != 0) {
    pthread_mutex_destroy(&u->lock);
    docstore_free(u);
    return docstore__err_set(err, DOCSTORE_ENOMEM,
                             "cannot create a condition variable");
  }
  u->sync_ready = 1;
  if (!(u->key = docstore__strdup(key)) ||
      (opts->content_type &&
       !(u->content_type = docstore__strdup(opts->content_type)))) {
    upload_free(u);
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  }
  *out = u;
  return 0;
}

/* Appends to the held bytes, growing the buffer up to the threshold only. */
static int hold(s3_upload *u, const uint8_t *data, size_t len,
                docstore__err *err) {
  size_t need = u->head_len + len;
  if (need > u->head_cap) {
    size_t cap = u->head_cap ? u->head_cap : 64 * 1024;
    while (cap < need)
      cap *= 2;
    if (cap > u->s3->multipart_threshold)
      cap = (size_t)u->s3->multipart_threshold;
    uint8_t *p = u->head ? docstore__realloc(u->head, cap)
                         : docstore__alloc_ex(cap, DOCSTORE__MEM_PUBLIC |
                                                       DOCSTORE__MEM_UNINIT);
    if (!p)
      return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    u->head = p;
    u->head_cap = cap;
  }
  memcpy(u->head + u->head_len, data, len);
  u->head_len += len;
  return 0;
}

static int upload_write(s3_upload *u, const uint8_t *data, size_t len,
                        docstore__err *err) {
  if (u->multipart)
    DOCSTORE__GUARD(sender_failure(u, err));
  if (u->flags & DOCSTORE_PUT_VERIFY)
    u->crc = docstore__s3_crc32c(u->crc, data, len);
  u->total += len;
  if (!u->multipart) {
    if ((uint64_t)u->head_len + len <= u->s3->multipart_threshold)
      return hold(u, data, len, err);
    /* The held buffer takes whole parts (it fills to the threshold). */
    size_t room = (size_t)u->s3->multipart_threshold - u->head_len;
    DOCSTORE__GUARD(hold(u, data, room, err));
    data += room;
    len -= room;
    DOCSTORE__GUARD(start_multipart(u, err));
  }
  return feed(u, data, len, err);
}

static int upload_commit(s3_upload *u, docstore__err *err) {
  if (!u->multipart)
    return commit_single(u, u->head, u->head_len, err);
  return commit_multipart(u, err);
}

/* ------------------------------------------------------------- the ops */

int docstore__s3_put_begin(void *payload, const char *key,
                           const docstore_put_options *opts, void **txn,
                           docstore_errinfo *info) {
  docstore__s3 *s3 = payload;
  s3_upload *u = NULL;
  *txn = NULL;
  DOCSTORE__GUARD(upload_new(s3, key, opts, &u, E(info)));
  *txn = u;
  return 0;
}

int docstore__s3_put_write(void *payload, void *txn, const uint8_t *data,
                           size_t len, docstore_errinfo *info) {
  (void)payload;
  return upload_write(txn, data, len, E(info));
}

int docstore__s3_put_commit(void *payload, void *txn, docstore_errinfo *info) {
  (void)payload;
  int rc = upload_commit(txn, E(info));
  upload_free(txn);
  return rc;
}

void docstore__s3_put_abort(void *payload, void *txn) {
  (void)payload;
  upload_free(txn);
}

int docstore__s3_put(void *payload, const char *key, const uint8_t *data,
                     size_t len, docstore_errinfo *info) {
  docstore__s3 *s3 = payload;
  docstore_put_options opts = DOCSTORE_PUT_OPTIONS_INIT;
  s3_upload *u = NULL;
  opts.size_hint = len;
  DOCSTORE__GUARD(upload_new(s3, key, &opts, &u, E(info)));
  if (!u) /* upload_new() sets it on success */
    return docstore__err_set(E(info), DOCSTORE_ENOMEM, "out of memory");
  u->exact = 1;
  int rc;
  if ((uint64_t)len <= s3->multipart_threshold) /* from the caller's bytes */
    rc = commit_single(u, data, len, E(info));
  else if ((rc = upload_write(u, data, len, E(info))) == 0)
    rc = upload_commit(u, E(info));
  upload_free(u);
  return rc;
}
