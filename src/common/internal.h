/*
 * libdocstore - internal helpers shared by every layer.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  Names are docstore__*.  Conventions:
 *  - functions return 0 or a negative DOCSTORE_E* code;
 *  - memory handed to the caller comes from docstore__alloc() so that
 *    docstore_free() (which wipes) can release it;
 *  - error detail goes into a docstore__err (a handle's, or a local one),
 *    then docstore__err_publish() copies it to the thread's last error.
 */
#ifndef DOCSTORE_INTERNAL_H
#define DOCSTORE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "docstore/common.h"

#if defined(__GNUC__)
#define DOCSTORE__WUR __attribute__((warn_unused_result))
#define DOCSTORE__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DOCSTORE__WUR
#define DOCSTORE__PRINTF(a, b)
#endif

#define DOCSTORE__ERRMSG_MAX 512

/* Guard macros: make the error path the short path. */
#define DOCSTORE__GUARD(expr)                                                  \
  do {                                                                         \
    int guard_rc_ = (expr);                                                    \
    if (guard_rc_ < 0)                                                         \
      return guard_rc_;                                                        \
  } while (0)

#define DOCSTORE__GUARD_GOTO(rc, expr, label)                                  \
  do {                                                                         \
    (rc) = (expr);                                                             \
    if ((rc) < 0)                                                              \
      goto label;                                                              \
  } while (0)

/* ------------------------------------------------------------- errors */

/* An error record: a code and a message.  Also the concrete type behind the
 * public opaque docstore_errinfo. */
typedef struct docstore__err {
  int code;
  char msg[DOCSTORE__ERRMSG_MAX];
} docstore__err;

/* Set code and printf-formatted message; returns code.  err may be NULL
 * (then only the thread's last error is set). Also publishes to the
 * calling thread's last error. */
int docstore__err_set(docstore__err *err, int code, const char *fmt, ...)
    DOCSTORE__PRINTF(3, 4);
int docstore__err_vset(docstore__err *err, int code, const char *fmt,
                       va_list ap) DOCSTORE__PRINTF(3, 0);
/* Prefix the existing message: "<prefix>: <old message>". */
void docstore__err_prefix(docstore__err *err, const char *fmt, ...)
    DOCSTORE__PRINTF(2, 3);
void docstore__err_clear(docstore__err *err);
/* Copy err to the thread's last error. */
void docstore__err_publish(const docstore__err *err);
/* Copy a message into a caller's errbuf (constructors). */
void docstore__err_to_buf(const docstore__err *err, char *buf, size_t len);

/* A handle's last error, shared by threads: guarded by a mutex. */
typedef struct docstore__handle_err {
  pthread_mutex_t lock;
  docstore__err last;
} docstore__handle_err;

void docstore__handle_err_init(docstore__handle_err *h);
void docstore__handle_err_destroy(docstore__handle_err *h);
/* Record err (if err->code < 0) as the handle's last error; returns code. */
int docstore__handle_err_store(docstore__handle_err *h,
                               const docstore__err *err);
/* Copy the handle's last message into a thread-local buffer and return it.
 * Takes a const handle: read-only accessors are const, and the mutex is not
 * part of the handle's logical state. */
const char *docstore__handle_err_get(const docstore__handle_err *h);

/* ------------------------------------------------------------- memory */

/* Library-owned memory (freed by docstore_free(), which wipes it unless it
 * is flagged DOCSTORE__MEM_PUBLIC). */
void *docstore__alloc(size_t size); /* zeroed, secret */
/* A block that holds no secret (ciphertext, an envelope, an object as
 * stored): docstore_free() releases it without wiping, and growth is a
 * plain realloc().  Plaintext and key material never go in one. */
#define DOCSTORE__MEM_PUBLIC 0x1u
/* Not zeroed: for a block that is written before it is read.  Not kept
 * in the block's flags. */
#define DOCSTORE__MEM_UNINIT 0x2u
void *docstore__alloc_ex(size_t size, unsigned int flags);
/* The flags kept with a block from docstore__alloc*() (DOCSTORE__MEM_PUBLIC
 * or 0) and its usable size; 0 for NULL. */
unsigned int docstore__alloc_flags(const void *ptr);
size_t docstore__alloc_size(const void *ptr);
/* Tests only: when set, called with every block docstore_free()
 * releases, after the wipe and before free(). */
extern void (*docstore__alloc_release_hook)(const void *p, size_t n,
                                            unsigned int flags);
/* Tests only: when set, asked before every allocation (new_block 0: a
 * public block grown in place); nonzero makes it fail. */
extern int (*docstore__alloc_fail_hook)(size_t n, int new_block);
/* Resize; the added bytes are zeroed.  A secret block is copied and the
 * old one wiped; a public one is realloc()ed. */
void *docstore__realloc(void *ptr, size_t size);
char *docstore__strdup(const char *s);
char *docstore__strndup(const char *s, size_t n);
void *docstore__memdup(const void *p, size_t n);
char *docstore__sprintf(const char *fmt, ...) DOCSTORE__PRINTF(1, 2);
/* Wipe n bytes (not optimised away). */
void docstore__wipe(void *p, size_t n);

/* Largest object body any reader accepts (1.5 GiB): the largest envelope
 * text, base64 of a 1 GiB document plus its header.  The envelope parser
 * and the S3 downloads (docs/CONFIG.md) share this one rule. */
#define DOCSTORE__OBJECT_MAX ((size_t)3 << 29)

/* Growable byte buffer.  Always NUL-terminated after data[len] when
 * data != NULL; the bytes past it are undefined.  Memory from
 * docstore__alloc_ex(), so it may be handed to the caller with
 * docstore__buf_detach().  `flags`: DOCSTORE__MEM_PUBLIC for a buffer that
 * never holds a secret (not wiped on growth or release), else 0. */
typedef struct docstore__buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  unsigned int flags;
} docstore__buf;

#define DOCSTORE__BUF_INIT                                                     \
  { NULL, 0, 0, 0 }
#define DOCSTORE__BUF_INIT_PUBLIC                                              \
  { NULL, 0, 0, DOCSTORE__MEM_PUBLIC }
/* Room for `extra` more bytes (and the NUL).  The first block is exactly
 * that (at least 256 bytes): reserve a known total up front and appending
 * it never reallocates.  Later growth at least doubles the capacity. */
int docstore__buf_reserve(docstore__buf *b, size_t extra) DOCSTORE__WUR;
int docstore__buf_append(docstore__buf *b, const void *p,
                         size_t n) DOCSTORE__WUR;
int docstore__buf_puts(docstore__buf *b, const char *s) DOCSTORE__WUR;
int docstore__buf_printf(docstore__buf *b, const char *fmt, ...)
    DOCSTORE__PRINTF(2, 3) DOCSTORE__WUR;
/* Hand the data over (never NULL on success: an empty buffer gives ""). */
uint8_t *docstore__buf_detach(docstore__buf *b, size_t *len);
void docstore__buf_free(docstore__buf *b); /* wipes unless public */
/* A docstore_sink_cb that appends to a docstore__buf. */
int docstore__buf_sink(void *buf, const uint8_t *data, size_t len);
/* A provider that knows how many bytes it is about to send to `sink` says
 * so: when the sink is docstore__buf_sink, its buffer grows at once to
 * exactly len + extra bytes (and the NUL); other sinks ignore it.  0 or
 * DOCSTORE_ENOMEM (a caller may go on without the reserve). */
int docstore__sink_reserve(int (*sink)(void *, const uint8_t *, size_t),
                           void *sink_payload, uint64_t extra);

/* ------------------------------------------------------------- logging */

void docstore__log(int level, const char *fmt, ...) DOCSTORE__PRINTF(2, 3);
int docstore__log_enabled(int level);

/* ------------------------------------------------------------- misc */

/* Monotonic clock in microseconds. */
uint64_t docstore__now_us(void);
/* Bounded copy, always NUL-terminates when len > 0. */
void docstore__strlcpy(char *dst, const char *src, size_t len);

#endif /* DOCSTORE_INTERNAL_H */
