/*
 * libdocstore - provider dispatch layer (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * struct docstore_provider wraps a user or built-in ops table.  Every
 * operation goes through the docstore__provider_* calls below, which do
 * what all providers share: key validation (docstore_key_check), timing and
 * counters (metrics.h), error detail, debug logging.  Providers themselves
 * only move bytes.  Implemented in provider.c.
 */
#ifndef DOCSTORE_PROVIDER_INTERNAL_H
#define DOCSTORE_PROVIDER_INTERNAL_H

#include "docstore/sys/provider.h"
#include "internal.h"
#include "metrics.h"

/* Decode one UTF-8 code point from s[0..len): returns its length in bytes
 * (1-4) and sets *cp, or 0 when the bytes are not valid UTF-8 (overlong
 * forms, surrogates and code points above U+10FFFF are invalid). */
size_t docstore__utf8_next(const uint8_t *s, size_t len, uint32_t *cp);

/* docstore_key_check() with the reason in err ("key has an empty path
 * segment at byte 9").  The message never echoes the key itself. */
int docstore__key_check(const char *key, docstore__err *err);
/* Same rules for a list prefix, except that "" and a trailing '/' are
 * allowed. */
int docstore__prefix_check(const char *prefix, docstore__err *err);

/* Where objects go, for log lines: "s3://bucket/" or "/abs/root/".
 * Copied.  Built-in providers set it right after docstore_provider_new(). */
int docstore__provider_set_location(docstore_provider *p, const char *prefix);
const char *docstore__provider_location(const docstore_provider *p);

/* Human name for messages: "S3", "local storage". Copied. */
int docstore__provider_set_display_name(docstore_provider *p, const char *name);
const char *docstore__provider_display_name(const docstore_provider *p);

/* The provider's counters (owned by the provider wrapper). */
docstore__metrics *docstore__provider_metrics(docstore_provider *p);

/* Calls that only one kind of provider has (docstore_s3_*): the payload
 * of `p` when it was made with the ops table `ops` (the same free
 * function), else NULL. */
void *docstore__provider_payload_of(docstore_provider *p,
                                    const docstore_provider_ops *ops);
/* The end of such a call: a failure (rc < 0) gets "<op>: " in front of
 * detail's message and is stored on the handle (docstore_provider_errmsg)
 * and as the thread's last error.  Not counted in the metrics.  Returns
 * rc. */
int docstore__provider_finish(docstore_provider *p, const char *op, int rc,
                              docstore__err *detail);

/* Dispatch with validation and metrics.  `err` receives the detail (may be
 * NULL: then the provider's own last error is used).  These are what the
 * public docstore_provider_* functions and the service call. */
int docstore__provider_put(docstore_provider *p, const char *key,
                           const uint8_t *data, size_t len, docstore__err *err);
int docstore__provider_get(docstore_provider *p, const char *key,
                           docstore__buf *out, docstore__err *err);
int docstore__provider_head(docstore_provider *p, const char *key,
                            docstore_object_info *info, docstore__err *err);
int docstore__provider_delete(docstore_provider *p, const char *key,
                              docstore__err *err);
int docstore__provider_list(docstore_provider *p, const char *prefix,
                            docstore_list_cb cb, void *payload,
                            docstore__err *err);
int docstore__provider_presign(docstore_provider *p, const char *key,
                               int method, uint64_t expires_seconds,
                               char **out_url, docstore__err *err);
int docstore__provider_check(docstore_provider *p, char **report,
                             docstore__err *err);

/* Streaming (provider ops version 2), with the same validation, metrics,
 * error detail and logging as the calls above.  A streamed put counts as
 * one PUT and a streamed get as one GET, timed from begin/open to
 * commit/abort/close, with the bytes moved.  Providers without the
 * version 2 ops go through a buffering adapter (see provider.c): a put is
 * held in memory up to DOCSTORE__OBJECT_MAX (ETOOBIG beyond), a get reads
 * get_range windows or the whole object.  Calls on one txn or stream must
 * not run concurrently.  `o` may be NULL (defaults: no flags).  After a
 * failed put_write the txn is still live: the caller aborts it. */
typedef struct docstore__put_txn docstore__put_txn;
typedef struct docstore__get_stream docstore__get_stream;
int docstore__provider_put_begin(docstore_provider *p, const char *key,
                                 const docstore_put_options *o,
                                 docstore__put_txn **txn, docstore__err *err);
int docstore__provider_put_write(docstore__put_txn *t, const uint8_t *d,
                                 size_t n, docstore__err *err);
/* Frees t, whatever the result. */
int docstore__provider_put_commit(docstore__put_txn *t, docstore__err *err);
/* Frees t; NULL is a no-op. */
void docstore__provider_put_abort(docstore__put_txn *t);
/* length UINT64_MAX: to the end.  *object_size (may be NULL) = the whole
 * object's size. */
int docstore__provider_get_open(docstore_provider *p, const char *key,
                                uint64_t offset, uint64_t length,
                                docstore__get_stream **st,
                                uint64_t *object_size, docstore__err *err);
/* *got 0 (and 0 returned) = end of the range. */
int docstore__provider_get_read(docstore__get_stream *st, uint8_t *buf,
                                size_t cap, size_t *got, docstore__err *err);
/* NULL is a no-op. */
void docstore__provider_get_close(docstore__get_stream *st);
/* 1 when the provider implements the version 2 ops itself (no adapter). */
int docstore__provider_streams_natively(const docstore_provider *p);

#endif
