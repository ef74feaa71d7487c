/*
 * libdocstore - error codes and error records.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct {
  int code;
  const char *name;
  const char *text;
} error_table[] = {
    {DOCSTORE_OK, "DOCSTORE_OK", "success"},
    {DOCSTORE_EINVAL, "DOCSTORE_EINVAL", "invalid argument"},
    {DOCSTORE_ECONFIG, "DOCSTORE_ECONFIG", "invalid configuration"},
    {DOCSTORE_ENOTFOUND, "DOCSTORE_ENOTFOUND", "not found"},
    {DOCSTORE_EACCESS, "DOCSTORE_EACCESS", "access denied"},
    {DOCSTORE_ENOBUCKET, "DOCSTORE_ENOBUCKET", "no such bucket"},
    {DOCSTORE_ECONNECT, "DOCSTORE_ECONNECT", "connection failed"},
    {DOCSTORE_ETIMEOUT, "DOCSTORE_ETIMEOUT", "timed out"},
    {DOCSTORE_EINTEGRITY, "DOCSTORE_EINTEGRITY",
     "integrity check failed (tampered data, wrong key or wrong document)"},
    {DOCSTORE_ECRYPTO, "DOCSTORE_ECRYPTO", "cryptographic failure"},
    {DOCSTORE_EUNSUPPORTED, "DOCSTORE_EUNSUPPORTED", "not supported"},
    {DOCSTORE_EIO, "DOCSTORE_EIO", "I/O error"},
    {DOCSTORE_ENOMEM, "DOCSTORE_ENOMEM", "out of memory"},
    {DOCSTORE_EFORMAT, "DOCSTORE_EFORMAT", "malformed data"},
    {DOCSTORE_EKEY, "DOCSTORE_EKEY", "bad key or unknown key id"},
    {DOCSTORE_ESERVER, "DOCSTORE_ESERVER", "server error"},
    {DOCSTORE_EBUSY, "DOCSTORE_EBUSY", "resource busy"},
    {DOCSTORE_EDATABASE, "DOCSTORE_EDATABASE", "database error"},
    {DOCSTORE_ECANCELED, "DOCSTORE_ECANCELED", "canceled by callback"},
    {DOCSTORE_ETOOBIG, "DOCSTORE_ETOOBIG", "too big"},
    {DOCSTORE_EEXISTS, "DOCSTORE_EEXISTS", "already exists"},
    {DOCSTORE_ECHANGED, "DOCSTORE_ECHANGED",
     "the object changed while it was being read"},
};

const char *docstore_strerror(int code) {
  for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
    if (error_table[i].code == code)
      return error_table[i].text;
  return "unknown error";
}

const char *docstore_error_name(int code) {
  for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
    if (error_table[i].code == code)
      return error_table[i].name;
  return "DOCSTORE_EUNKNOWN";
}

/* The calling thread's last error. */
static _Thread_local docstore__err tls_last;
/* Per-thread copy handed out by docstore__handle_err_get(). */
static _Thread_local char tls_copy[DOCSTORE__ERRMSG_MAX];

const char *docstore_last_errmsg(void) { return tls_last.msg; }
int docstore_last_errcode(void) { return tls_last.code; }

void docstore__err_publish(const docstore__err *err) {
  if (err && err != &tls_last)
    tls_last = *err;
}

int docstore__err_vset(docstore__err *err, int code, const char *fmt,
                       va_list ap) {
  docstore__err *e = err ? err : &tls_last;
  e->code = code;
  if (fmt)
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
  else
    docstore__strlcpy(e->msg, docstore_strerror(code), sizeof(e->msg));
  docstore__err_publish(e);
  return code;
}

int docstore__err_set(docstore__err *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  docstore__err_vset(err, code, fmt, ap);
  va_end(ap);
  return code;
}

void docstore__err_prefix(docstore__err *err, const char *fmt, ...) {
  docstore__err *e = err ? err : &tls_last;
  char prefix[DOCSTORE__ERRMSG_MAX];
  char old[DOCSTORE__ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  docstore__strlcpy(old, e->msg, sizeof(old));
  if (old[0]) {
    /* Assemble by hand: a long message is cut, which is acceptable. */
    docstore__strlcpy(e->msg, prefix, sizeof(e->msg));
    size_t n = strlen(e->msg);
    docstore__strlcpy(e->msg + n, ": ", sizeof(e->msg) - n);
    n = strlen(e->msg);
    docstore__strlcpy(e->msg + n, old, sizeof(e->msg) - n);
  } else
    docstore__strlcpy(e->msg, prefix, sizeof(e->msg));
  docstore__err_publish(e);
}

void docstore__err_clear(docstore__err *err) {
  if (!err)
    return;
  err->code = 0;
  err->msg[0] = '\0';
}

void docstore__err_to_buf(const docstore__err *err, char *buf, size_t len) {
  if (buf && len > 0)
    docstore__strlcpy(buf, err ? err->msg : "", len);
}

void docstore__handle_err_init(docstore__handle_err *h) {
  pthread_mutex_init(&h->lock, NULL);
  docstore__err_clear(&h->last);
}

void docstore__handle_err_destroy(docstore__handle_err *h) {
  pthread_mutex_destroy(&h->lock);
}

int docstore__handle_err_store(docstore__handle_err *h,
                               const docstore__err *err) {
  if (!err || err->code >= 0)
    return err ? err->code : 0;
  pthread_mutex_lock(&h->lock);
  h->last = *err;
  pthread_mutex_unlock(&h->lock);
  docstore__err_publish(err);
  return err->code;
}

const char *docstore__handle_err_get(const docstore__handle_err *h) {
  /* Handles are allocated, never const objects: casting is defined. */
  pthread_mutex_t *lock = (pthread_mutex_t *)&h->lock;
  pthread_mutex_lock(lock);
  docstore__strlcpy(tls_copy, h->last.msg, sizeof(tls_copy));
  pthread_mutex_unlock(lock);
  return tls_copy;
}

void docstore__strlcpy(char *dst, const char *src, size_t len) {
  if (!dst || len == 0)
    return;
  size_t n = src ? strlen(src) : 0;
  if (n >= len)
    n = len - 1;
  if (n)
    memcpy(dst, src, n);
  dst[n] = '\0';
}
