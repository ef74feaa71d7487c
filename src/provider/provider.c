/*
 * libdocstore - provider dispatch layer.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every operation on any provider passes through here: the key is checked,
 * the call is timed and counted, and a failure always leaves a message of
 * the form "<op> <key>: <detail>" on the provider handle, in the caller's
 * error record and in the thread's last error.  Providers only move bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "provider_internal.h"

struct docstore_provider {
  docstore_provider_ops ops; /* our copy, fields of versions we know */
  void *payload;
  char *name;
  char *display_name;
  char *location;
  docstore__metrics metrics;
  docstore__handle_err err;
};

/* ------------------------------------------------------------ UTF-8 */

size_t docstore__utf8_next(const uint8_t *s, size_t len, uint32_t *cp) {
  if (len == 0)
    return 0;
  uint8_t c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, v = c & 0x1Fu, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, v = c & 0x0Fu, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, v = c & 0x07u, min = 0x10000;
  } else {
    return 0; /* continuation byte, C0/C1 overlong lead, or > U+10FFFF */
  }
  if (len < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0u) != 0x80u)
      return 0;
    v = (v << 6) | (s[i] & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
    return 0; /* overlong, out of range, or a UTF-16 surrogate */
  *cp = v;
  return n;
}

/* ------------------------------------------------------------ keys */

#define KEY_MAX 1024

/* Record why a key is refused, without publishing it as the thread's last
 * error: the caller decides whether the refusal is a failure. */
static int key_fail(docstore__err *err, const char *fmt, ...)
    DOCSTORE__PRINTF(2, 3);
static int key_fail(docstore__err *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = DOCSTORE_EINVAL;
  }
  return DOCSTORE_EINVAL;
}

/* Shared by keys and prefixes: `allow_trailing_slash` and `allow_empty`
 * are only set for list prefixes. */
static int check_key(const char *key, const char *what, int allow_empty,
                     int allow_trailing_slash, docstore__err *err) {
  if (!key)
    return key_fail(err, "%s is NULL", what);
  size_t len = strlen(key);
  if (len == 0) {
    if (allow_empty)
      return 0;
    return key_fail(err, "%s is empty", what);
  }
  if (len > KEY_MAX)
    return key_fail(err, "%s is %zu bytes long; at most %d are allowed", what,
                    len, KEY_MAX);
  if (key[0] == '/')
    return key_fail(err, "%s must not start with '/'", what);
  const uint8_t *s = (const uint8_t *)key;
  size_t seg_start = 0;
  for (size_t i = 0; i <= len;) {
    if (i == len || s[i] == '/') {
      size_t seg_len = i - seg_start;
      int last = i == len;
      if (seg_len == 0 && !(last && allow_trailing_slash))
        return key_fail(err, "%s has an empty path segment at byte %zu", what,
                        i);
      if ((seg_len == 1 && s[seg_start] == '.') ||
          (seg_len == 2 && s[seg_start] == '.' && s[seg_start + 1] == '.'))
        return key_fail(err, "%s has a '.' or '..' path segment", what);
      seg_start = i + 1;
      i++;
      continue;
    }
    uint32_t cp;
    size_t n = docstore__utf8_next(s + i, len - i, &cp);
    if (n == 0)
      return key_fail(err, "%s is not valid UTF-8 (byte %zu)", what, i);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
      return key_fail(err, "%s contains a control character (byte %zu)", what,
                      i);
    if (cp == '\\')
      return key_fail(err, "%s contains a backslash (byte %zu)", what, i);
    i += n;
  }
  return 0;
}

int docstore__key_check(const char *key, docstore__err *err) {
  return check_key(key, "key", 0, 0, err);
}

int docstore__prefix_check(const char *prefix, docstore__err *err) {
  return check_key(prefix, "prefix", 1, 1, err);
}

int docstore_key_check(const char *key) {
  docstore__err err;
  docstore__err_clear(&err);
  int rc = docstore__key_check(key, &err);
  if (rc < 0)
    docstore__err_publish(&err);
  return rc;
}

/* ------------------------------------------------------------ handle */

/* The opaque docstore_errinfo a provider receives is a docstore__err. */
int docstore_errinfo_set(docstore_errinfo *info, int code,
                         const char *message) {
  docstore__err *err = (docstore__err *)info;
  if (!err)
    return code;
  return docstore__err_set(err, code, "%s",
                           message ? message : docstore_strerror(code));
}

/* Bytes of docstore_provider_ops that a table of `version` declares:
 * version 1 tables end where version 2 appended its fields (a caller's
 * version 1 struct may be that short), newer tables are read up to what
 * we know. */
static size_t ops_size(unsigned int version) {
  if (version <= 1)
    return offsetof(docstore_provider_ops, put_begin);
  return sizeof(docstore_provider_ops);
}

int docstore_provider_ops_init(docstore_provider_ops *ops,
                               unsigned int version) {
  if (!ops || version < 1 || version > DOCSTORE_PROVIDER_OPS_VERSION)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "provider ops: unknown version %u (this library "
                             "knows 1..%d)",
                             version, DOCSTORE_PROVIDER_OPS_VERSION);
  memset(ops, 0, ops_size(version));
  ops->version = version;
  return 0;
}

int docstore_provider_new(docstore_provider **out,
                          const docstore_provider_ops *ops, void *payload) {
  docstore__err err;
  docstore_provider *p = NULL;
  docstore__err_clear(&err);
  if (out)
    *out = NULL;
  if (!ops)
    return docstore__err_set(&err, DOCSTORE_EINVAL,
                             "provider_new: ops is NULL");
  if (!out) {
    docstore__err_set(&err, DOCSTORE_EINVAL, "provider_new: out is NULL");
    goto fail;
  }
  if (ops->version < 1) {
    docstore__err_set(&err, DOCSTORE_EINVAL,
                      "provider_new: ops->version is 0; set it to "
                      "DOCSTORE_PROVIDER_OPS_VERSION");
    goto fail;
  }
  const char *name = ops->name && ops->name[0] ? ops->name : "custom";
  if (!ops->put || !ops->get || !ops->head || !ops->del || !ops->free) {
    docstore__err_set(&err, DOCSTORE_EINVAL,
                      "provider_new: provider %s lacks a required operation "
                      "(put, get, head, del and free are required)",
                      name);
    goto fail;
  }
  if (ops->version >= 2) {
    /* Two groups, each all or none: a provider may stream one way only. */
    int puts = !!ops->put_begin + !!ops->put_write + !!ops->put_commit +
               !!ops->put_abort;
    int gets = !!ops->get_open + !!ops->get_read + !!ops->get_close;
    if ((puts != 0 && puts != 4) || (gets != 0 && gets != 3)) {
      docstore__err_set(&err, DOCSTORE_EINVAL,
                        "provider_new: provider %s sets %d of the 4 streaming "
                        "put operations (put_begin, put_write, put_commit, "
                        "put_abort) and %d of the 3 streaming get operations "
                        "(get_open, get_read, get_close): each group all or "
                        "none",
                        name, puts, gets);
      goto fail;
    }
  }
  p = docstore__alloc(sizeof(*p));
  if (!p) {
    docstore__err_set(&err, DOCSTORE_ENOMEM, "provider_new: out of memory");
    goto fail;
  }
  memcpy(&p->ops, ops, ops_size(ops->version));
  if (p->ops.version > DOCSTORE_PROVIDER_OPS_VERSION)
    p->ops.version = DOCSTORE_PROVIDER_OPS_VERSION;
  p->name = docstore__strdup(name);
  p->display_name = docstore__strdup(name);
  p->location = docstore__strdup("");
  docstore__metrics_init(&p->metrics);
  docstore__handle_err_init(&p->err);
  p->ops.name = p->name;
  p->payload = payload;
  if (!p->name || !p->display_name || !p->location) {
    docstore_provider_free(p); /* releases the payload */
    return docstore__err_set(&err, DOCSTORE_ENOMEM,
                             "provider_new: out of memory");
  }
  *out = p;
  return 0;
fail:
  if (ops->free)
    ops->free(payload);
  return err.code;
}

void docstore_provider_free(docstore_provider *p) {
  if (!p)
    return;
  p->ops.free(p->payload);
  docstore__handle_err_destroy(&p->err);
  docstore_free(p->name);
  docstore_free(p->display_name);
  docstore_free(p->location);
  docstore_free(p);
}

const char *docstore_provider_name(const docstore_provider *p) {
  return p ? p->name : "(none)";
}

static int set_string(char **field, const char *value) {
  if (!value)
    return DOCSTORE_EINVAL;
  char *copy = docstore__strdup(value);
  if (!copy)
    return DOCSTORE_ENOMEM;
  docstore_free(*field);
  *field = copy;
  return 0;
}

int docstore__provider_set_location(docstore_provider *p, const char *prefix) {
  return p ? set_string(&p->location, prefix) : DOCSTORE_EINVAL;
}

const char *docstore__provider_location(const docstore_provider *p) {
  return p ? p->location : "";
}

int docstore__provider_set_display_name(docstore_provider *p,
                                        const char *name) {
  return p ? set_string(&p->display_name, name) : DOCSTORE_EINVAL;
}

const char *docstore__provider_display_name(const docstore_provider *p) {
  return p ? p->display_name : "";
}

docstore__metrics *docstore__provider_metrics(docstore_provider *p) {
  return p ? &p->metrics : NULL;
}

const char *docstore_provider_errmsg(const docstore_provider *p) {
  if (!p)
    return "invalid provider handle (NULL)";
  return docstore__handle_err_get(&p->err);
}

/* ------------------------------------------------------------ dispatch */

/* One operation in flight: what the wrappers share. */
typedef struct call {
  docstore_provider *p;
  const char *op;  /* "put", "get"... for messages */
  int metric;      /* docstore_op, or -1 for none */
  const char *key; /* for messages, may be NULL */
  uint64_t start;
  docstore__err detail; /* what the provider recorded */
} call;

static void call_begin(call *c, docstore_provider *p, const char *op,
                       int metric, const char *key) {
  c->p = p;
  c->op = op;
  c->metric = metric;
  c->key = key;
  c->start = docstore__now_us();
  docstore__err_clear(&c->detail);
}

/* Finish a call: count it, make sure a failure has a message with the op
 * and key in front, store it on the handle and in `err`.  Returns rc. */
static int call_end(call *c, int rc, uint64_t bytes, docstore__err *err) {
  uint64_t elapsed = docstore__now_us() - c->start;
  docstore_provider *p = c->p;
  if (rc > 0)
    rc = 0; /* providers return 0 or negative; be lenient */
  if (rc < 0 && rc < DOCSTORE_ERROR_MIN) {
    docstore__err_set(&c->detail, DOCSTORE_EIO,
                      "provider %s returned unknown error code %d", p->name,
                      rc);
    rc = DOCSTORE_EIO;
  }
  if (c->metric >= 0)
    docstore__metrics_record(&p->metrics, c->metric, rc, bytes, elapsed);
  if (rc == 0) {
    docstore__log(DOCSTORE_LOG_DEBUG, "%s %s %s: ok (%llu bytes, %llu us)",
                  p->name, c->op, c->key ? c->key : "",
                  (unsigned long long)bytes, (unsigned long long)elapsed);
    return 0;
  }
  if (!c->detail.msg[0])
    docstore__strlcpy(c->detail.msg, docstore_strerror(rc),
                      sizeof(c->detail.msg));
  c->detail.code = rc;
  if (c->key)
    docstore__err_prefix(&c->detail, "%s %s", c->op, c->key);
  else
    docstore__err_prefix(&c->detail, "%s", c->op);
  docstore__handle_err_store(&p->err, &c->detail);
  if (err && err != &c->detail)
    *err = c->detail;
  docstore__log(DOCSTORE_LOG_DEBUG, "%s %s (%llu us)", p->name, c->detail.msg,
                (unsigned long long)elapsed);
  return rc;
}

/* A failure before the provider is called: bad arguments.  Counted as a
 * failure of the op so that monitoring sees refused calls too. */
static int call_refuse(call *c, int rc, docstore__err *err) {
  /* check_key() left its message in c->detail; keep it. */
  if (!c->detail.msg[0])
    docstore__err_set(&c->detail, rc, "%s", docstore_strerror(rc));
  c->key = NULL; /* an invalid key is not echoed into messages */
  return call_end(c, rc, 0, err);
}

static docstore_errinfo *info_of(call *c) {
  return (docstore_errinfo *)&c->detail;
}

void *docstore__provider_payload_of(docstore_provider *p,
                                    const docstore_provider_ops *ops) {
  return p && ops && p->ops.free == ops->free ? p->payload : NULL;
}

int docstore__provider_finish(docstore_provider *p, const char *op, int rc,
                              docstore__err *detail) {
  call c;
  call_begin(&c, p, op, -1, NULL);
  c.detail = *detail;
  return call_end(&c, rc, 0, detail);
}

int docstore__provider_put(docstore_provider *p, const char *key,
                           const uint8_t *data, size_t len,
                           docstore__err *err) {
  call c;
  if (!p)
    return docstore__err_set(err, DOCSTORE_EINVAL, "put: provider is NULL");
  call_begin(&c, p, "put", DOCSTORE_OP_PUT, key);
  if (check_key(key, "key", 0, 0, &c.detail) < 0)
    return call_refuse(&c, DOCSTORE_EINVAL, err);
  if (!data && len > 0) {
    docstore__err_set(&c.detail, DOCSTORE_EINVAL, "data is NULL");
    return call_end(&c, DOCSTORE_EINVAL, 0, err);
  }
  static const uint8_t empty[1] = {0};
  int rc = p->ops.put(p->payload, key, data ? data : empty, len, info_of(&c));
  return call_end(&c, rc, len, err);
}

int docstore__provider_get(docstore_provider *p, const char *key,
                           docstore__buf *out, docstore__err *err) {
  call c;
  /* An object as stored holds no secret (documents are stored as
   * envelopes): it is not wiped when it grows or is released.  Providers
   * that know its size reserve it at once (docstore__sink_reserve). */
  docstore__buf got = DOCSTORE__BUF_INIT_PUBLIC;
  if (!p || !out)
    return docstore__err_set(err, DOCSTORE_EINVAL, "get: NULL argument");
  call_begin(&c, p, "get", DOCSTORE_OP_GET, key);
  if (check_key(key, "key", 0, 0, &c.detail) < 0)
    return call_refuse(&c, DOCSTORE_EINVAL, err);
  int rc = p->ops.get(p->payload, key, docstore__buf_sink, &got, info_of(&c));
  uint64_t moved = rc >= 0 ? (uint64_t)got.len : 0;
  if (rc >= 0) {
    /* A successful get of an empty object still yields a buffer. */
    if (docstore__buf_reserve(&got, 0) < 0 ||
        (out->data && docstore__buf_append(out, got.data, got.len) < 0)) {
      docstore__err_set(&c.detail, DOCSTORE_ENOMEM, "out of memory");
      rc = DOCSTORE_ENOMEM;
    } else if (!out->data) {
      *out = got;
      got.data = NULL;
      got.len = got.cap = 0;
    }
  }
  docstore__buf_free(&got);
  return call_end(&c, rc, moved, err);
}

int docstore__provider_head(docstore_provider *p, const char *key,
                            docstore_object_info *info, docstore__err *err) {
  call c;
  if (!p)
    return docstore__err_set(err, DOCSTORE_EINVAL, "head: provider is NULL");
  call_begin(&c, p, "head", DOCSTORE_OP_HEAD, key);
  if (check_key(key, "key", 0, 0, &c.detail) < 0)
    return call_refuse(&c, DOCSTORE_EINVAL, err);
  if (!info || info->version < 1) {
    docstore__err_set(&c.detail, DOCSTORE_EINVAL,
                      "info is NULL or info->version is not set");
    return call_end(&c, DOCSTORE_EINVAL, 0, err);
  }
  info->key = NULL;
  info->size = 0;
  info->mtime = 0;
  info->etag = NULL;
  int rc = p->ops.head(p->payload, key, info, info_of(&c));
  return call_end(&c, rc, 0, err);
}

int docstore__provider_delete(docstore_provider *p, const char *key,
                              docstore__err *err) {
  call c;
  if (!p)
    return docstore__err_set(err, DOCSTORE_EINVAL, "delete: provider is NULL");
  call_begin(&c, p, "delete", DOCSTORE_OP_DELETE, key);
  if (check_key(key, "key", 0, 0, &c.detail) < 0)
    return call_refuse(&c, DOCSTORE_EINVAL, err);
  int rc = p->ops.del(p->payload, key, info_of(&c));
  return call_end(&c, rc, 0, err);
}

/* The user's list callback, seen through the dispatch layer: remembers
 * whether the user asked to stop, so that a stop is not a failure. */
typedef struct list_relay {
  docstore_list_cb cb;
  void *payload;
  int stopped; /* the user callback's non-zero value */
} list_relay;

static int relay_list(void *payload, const docstore_object_info *info) {
  list_relay *r = payload;
  int v = r->cb(r->payload, info);
  if (v != 0)
    r->stopped = v;
  return v;
}

int docstore__provider_list(docstore_provider *p, const char *prefix,
                            docstore_list_cb cb, void *payload,
                            docstore__err *err) {
  call c;
  list_relay relay = {cb, payload, 0};
  if (!p)
    return docstore__err_set(err, DOCSTORE_EINVAL, "list: provider is NULL");
  if (!prefix)
    prefix = "";
  call_begin(&c, p, "list", DOCSTORE_OP_LIST, prefix[0] ? prefix : NULL);
  if (check_key(prefix, "prefix", 1, 1, &c.detail) < 0)
    return call_refuse(&c, DOCSTORE_EINVAL, err);
  if (!cb) {
    docstore__err_set(&c.detail, DOCSTORE_EINVAL, "callback is NULL");
    return call_end(&c, DOCSTORE_EINVAL, 0, err);
  }
  if (!p->ops.list) {
    docstore__err_set(&c.detail, DOCSTORE_EUNSUPPORTED,
                      "provider %s does not support listing", p->name);
    return call_end(&c, DOCSTORE_EUNSUPPORTED, 0, err);
  }
  int rc = p->ops.list(p->payload, prefix, relay_list, &relay, info_of(&c));
  if (relay.stopped) {
    /* The caller stopped the listing: a success for the provider, and
     * the caller learns it through the return value. */
    call_end(&c, 0, 0, err);
    return relay.stopped < 0 ? relay.stopped : DOCSTORE_ECANCELED;
  }
  return call_end(&c, rc, 0, err);
}

int docstore__provider_presign(docstore_provider *p, const char *key,
                               int method, uint64_t expires_seconds,
                               char **out_url, docstore__err *err) {
  call c;
  docstore__buf url = DOCSTORE__BUF_INIT;
  if (!p || !out_url)
    return docstore__err_set(err, DOCSTORE_EINVAL, "presign: NULL argument");
  *out_url = NULL;
  call_begin(&c, p, "presign", DOCSTORE_OP_PRESIGN, key);
  if (check_key(key, "key", 0, 0, &c.detail) < 0)
    return call_refuse(&c, DOCSTORE_EINVAL, err);
  if (method != DOCSTORE_PRESIGN_GET && method != DOCSTORE_PRESIGN_PUT) {
    docstore__err_set(&c.detail, DOCSTORE_EINVAL, "unknown method %d", method);
    return call_end(&c, DOCSTORE_EINVAL, 0, err);
  }
  if (expires_seconds == 0) {
    docstore__err_set(&c.detail, DOCSTORE_EINVAL,
                      "expiry must be at least one second");
    return call_end(&c, DOCSTORE_EINVAL, 0, err);
  }
  if (!p->ops.presign) {
    docstore__err_set(&c.detail, DOCSTORE_EUNSUPPORTED,
                      "provider %s does not support presigned URLs", p->name);
    return call_end(&c, DOCSTORE_EUNSUPPORTED, 0, err);
  }
  int rc = p->ops.presign(p->payload, key, method, expires_seconds,
                          docstore__buf_sink, &url, info_of(&c));
  if (rc >= 0 && url.len == 0) {
    docstore__err_set(&c.detail, DOCSTORE_EIO,
                      "provider %s returned an empty URL", p->name);
    rc = DOCSTORE_EIO;
  }
  if (rc >= 0)
    *out_url = (char *)docstore__buf_detach(&url, NULL);
  docstore__buf_free(&url);
  return call_end(&c, rc, 0, err);
}

int docstore__provider_check(docstore_provider *p, char **report,
                             docstore__err *err) {
  call c;
  docstore__buf text = DOCSTORE__BUF_INIT;
  if (!p)
    return docstore__err_set(err, DOCSTORE_EINVAL, "check: provider is NULL");
  if (report)
    *report = NULL;
  call_begin(&c, p, "check", -1, NULL);
  if (!p->ops.check) {
    docstore__err_set(&c.detail, DOCSTORE_EUNSUPPORTED,
                      "provider %s has no connectivity check", p->name);
    return call_end(&c, DOCSTORE_EUNSUPPORTED, 0, err);
  }
  int rc = p->ops.check(p->payload, report ? docstore__buf_sink : NULL,
                        report ? &text : NULL, info_of(&c));
  /* The report is handed over on failure too: it says what worked. */
  if (report && text.len > 0)
    *report = (char *)docstore__buf_detach(&text, NULL);
  docstore__buf_free(&text);
  return call_end(&c, rc, 0, err);
}

/* ------------------------------------------------------------ streaming */

/* Streaming calls are one `call` each (one PUT or GET in the metrics),
 * timed from begin/open to commit/abort/close.  Providers without the
 * version 2 operations go through the buffering adapter below. */

/* Window of the adapter's ranged reads. */
#define ADAPTER_WINDOW ((size_t)8 << 20)

static int has_native_put(const docstore_provider *p) {
  return p->ops.version >= 2 && p->ops.put_begin != NULL;
}

static int has_native_get(const docstore_provider *p) {
  return p->ops.version >= 2 && p->ops.get_open != NULL;
}

int docstore__provider_streams_natively(const docstore_provider *p) {
  return p && has_native_put(p) && has_native_get(p);
}

struct docstore__put_txn {
  docstore_provider *p;
  call c;
  char *key;                 /* c.key points here */
  docstore_put_options opts; /* content_type borrowed for put_begin only */
  void *native;              /* the provider's txn (native) */
  docstore__buf held;        /* the adapter's copy of the object */
  uint64_t bytes;
  int ended; /* the call was counted (a write failed) */
};

/* Refuse what a provider would misread, before it sees the options. */
static int put_options_check(const docstore_put_options *o,
                             docstore_put_options *copy, docstore__err *err) {
  docstore_put_options d = DOCSTORE_PUT_OPTIONS_INIT;
  if (o) {
    if (o->version < 1)
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "put options: version is 0; set it to "
                               "DOCSTORE_PUT_OPTIONS_VERSION");
    unsigned int known = DOCSTORE_PUT_NO_CLOBBER | DOCSTORE_PUT_VERIFY;
    if (o->flags & ~known)
      return docstore__err_set(err, DOCSTORE_EINVAL,
                               "put options: unknown flags 0x%x",
                               o->flags & ~known);
    d.flags = o->flags;
    d.content_type = o->content_type;
    d.size_hint = o->size_hint;
  }
  *copy = d;
  return 0;
}

static void put_txn_free(docstore__put_txn *t) {
  docstore__buf_free(&t->held);
  docstore_free(t->key);
  docstore_free(t);
}

int docstore__provider_put_begin(docstore_provider *p, const char *key,
                                 const docstore_put_options *o,
                                 docstore__put_txn **txn, docstore__err *err) {
  if (!p || !txn)
    return docstore__err_set(err, DOCSTORE_EINVAL, "put_begin: NULL argument");
  *txn = NULL;
  docstore__put_txn *t = docstore__alloc(sizeof(*t));
  if (!t)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "put: out of memory");
  t->p = p;
  t->held = (docstore__buf)DOCSTORE__BUF_INIT_PUBLIC;
  call_begin(&t->c, p, "put", DOCSTORE_OP_PUT, key);
  int rc = check_key(key, "key", 0, 0, &t->c.detail);
  if (rc < 0) {
    call_refuse(&t->c, rc, err);
    put_txn_free(t);
    return rc;
  }
  if ((rc = put_options_check(o, &t->opts, &t->c.detail)) < 0 ||
      !(t->key = docstore__strdup(key))) {
    if (rc == 0)
      rc = docstore__err_set(&t->c.detail, DOCSTORE_ENOMEM, "out of memory");
    call_end(&t->c, rc, 0, err);
    put_txn_free(t);
    return rc;
  }
  t->c.key = t->key;
  if (has_native_put(p)) {
    rc =
        p->ops.put_begin(p->payload, key, &t->opts, &t->native, info_of(&t->c));
  }
  t->opts.content_type = NULL; /* borrowed for put_begin only */
  if (rc < 0) {
    call_end(&t->c, rc, 0, err);
    put_txn_free(t);
    return rc;
  }
  *txn = t;
  return 0;
}

int docstore__provider_put_write(docstore__put_txn *t, const uint8_t *d,
                                 size_t n, docstore__err *err) {
  if (!t || (!d && n > 0))
    return docstore__err_set(err, DOCSTORE_EINVAL, "put: NULL argument");
  if (t->ended)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "put %s: an earlier write failed; abort the "
                             "transaction",
                             t->key);
  if (n == 0)
    return 0;
  docstore_provider *p = t->p;
  int rc;
  docstore__err_clear(&t->c.detail);
  if (has_native_put(p)) {
    rc = p->ops.put_write(p->payload, t->native, d, n, info_of(&t->c));
  } else if (n > DOCSTORE__OBJECT_MAX - t->held.len) {
    rc = docstore__err_set(&t->c.detail, DOCSTORE_ETOOBIG,
                           "object over %zu bytes: provider %s has no "
                           "streaming put and the library holds the object "
                           "in memory",
                           DOCSTORE__OBJECT_MAX, p->name);
  } else if (docstore__buf_append(&t->held, d, n) < 0) {
    rc = docstore__err_set(&t->c.detail, DOCSTORE_ENOMEM, "out of memory");
  } else {
    rc = 0;
  }
  if (rc > 0)
    rc = 0;
  if (rc < 0) {
    t->ended = 1;
    return call_end(&t->c, rc, t->bytes, err);
  }
  t->bytes += n;
  return 0;
}

/* A sink that compares what it is given with `want`, in order. */
typedef struct compare_sink {
  const uint8_t *want;
  size_t len, pos;
} compare_sink;

static int compare_sink_cb(void *payload, const uint8_t *data, size_t len) {
  compare_sink *s = payload;
  if (len > s->len - s->pos || memcmp(s->want + s->pos, data, len) != 0)
    return DOCSTORE_EINTEGRITY;
  s->pos += len;
  return 0;
}

/* DOCSTORE_PUT_VERIFY in the adapter: read the object back and compare it
 * with the held bytes, streamed (no second copy). */
static int adapter_verify(docstore__put_txn *t) {
  docstore_provider *p = t->p;
  compare_sink sink = {t->held.data, t->held.len, 0};
  int rc =
      p->ops.get(p->payload, t->key, compare_sink_cb, &sink, info_of(&t->c));
  if (rc == 0 && sink.pos != sink.len)
    rc = DOCSTORE_EINTEGRITY;
  if (rc == DOCSTORE_EINTEGRITY)
    return docstore__err_set(&t->c.detail, rc,
                             "the stored object differs from the %zu bytes "
                             "written (read back after the put)",
                             t->held.len);
  if (rc < 0)
    docstore__err_prefix(&t->c.detail, "reading the object back to verify it");
  return rc;
}

/* The adapter's commit: put the held bytes.  No-clobber is a head before
 * the put, so two writers may both pass it: not atomic. */
static int adapter_commit(docstore__put_txn *t) {
  docstore_provider *p = t->p;
  if (t->opts.flags & DOCSTORE_PUT_NO_CLOBBER) {
    docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0,
                                 NULL};
    int rc = p->ops.head(p->payload, t->key, &info, info_of(&t->c));
    if (rc == 0)
      return docstore__err_set(&t->c.detail, DOCSTORE_EEXISTS,
                               "an object exists under this key");
    if (rc != DOCSTORE_ENOTFOUND)
      return rc;
    docstore__err_clear(&t->c.detail);
  }
  static const uint8_t empty[1] = {0};
  int rc = p->ops.put(p->payload, t->key, t->held.data ? t->held.data : empty,
                      t->held.len, info_of(&t->c));
  if (rc >= 0 && (t->opts.flags & DOCSTORE_PUT_VERIFY))
    rc = adapter_verify(t);
  return rc;
}

int docstore__provider_put_commit(docstore__put_txn *t, docstore__err *err) {
  if (!t)
    return docstore__err_set(err, DOCSTORE_EINVAL, "put: NULL transaction");
  if (t->ended) {
    docstore__provider_put_abort(t);
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "put: commit after a failed write");
  }
  docstore_provider *p = t->p;
  docstore__err_clear(&t->c.detail);
  int rc = has_native_put(p)
               ? p->ops.put_commit(p->payload, t->native, info_of(&t->c))
               : adapter_commit(t);
  rc = call_end(&t->c, rc, rc < 0 ? 0 : t->bytes, err);
  put_txn_free(t);
  return rc;
}

void docstore__provider_put_abort(docstore__put_txn *t) {
  if (!t)
    return;
  docstore_provider *p = t->p;
  if (has_native_put(p))
    p->ops.put_abort(p->payload, t->native);
  if (!t->ended) {
    /* Not stored: a failed PUT for the counters, but no error to report
     * (the caller chose to abort). */
    uint64_t elapsed = docstore__now_us() - t->c.start;
    docstore__metrics_record(&p->metrics, DOCSTORE_OP_PUT, DOCSTORE_ECANCELED,
                             0, elapsed);
    docstore__log(DOCSTORE_LOG_DEBUG, "%s put %s: aborted (%llu us)", p->name,
                  t->key, (unsigned long long)elapsed);
  }
  put_txn_free(t);
}

struct docstore__get_stream {
  docstore_provider *p;
  call c;
  char *key;
  void *native; /* the provider's stream (native) */
  /* adapter: the bytes of [next, end) not yet in `win` are fetched with
   * get_range; win.data[win_pos..win.len) are ready. */
  docstore__buf win;
  size_t win_pos;
  uint64_t next, end;
  uint64_t bytes;
  int failed; /* the code of the failure that ended the call, or 0 */
};

/* A docstore__buf sink that refuses to grow past `limit` bytes. */
typedef struct capped_sink {
  docstore__buf *buf;
  size_t limit;
} capped_sink;

static int capped_sink_cb(void *payload, const uint8_t *data, size_t len) {
  capped_sink *s = payload;
  if (len > s->limit - s->buf->len)
    return DOCSTORE_ETOOBIG;
  return docstore__buf_append(s->buf, data, len);
}

/* Fetch the next window of [next, end) into win (get_range adapter). */
static int adapter_fill(docstore__get_stream *st) {
  docstore_provider *p = st->p;
  uint64_t want = st->end - st->next;
  if (want > ADAPTER_WINDOW)
    want = ADAPTER_WINDOW;
  st->win.len = 0;
  st->win_pos = 0;
  capped_sink sink = {&st->win, (size_t)want};
  int rc = p->ops.get_range(p->payload, st->key, st->next, want, capped_sink_cb,
                            &sink, info_of(&st->c));
  if (rc == DOCSTORE_ETOOBIG && !st->c.detail.msg[0])
    docstore__err_set(&st->c.detail, DOCSTORE_EIO,
                      "provider %s sent more than the %llu bytes asked",
                      p->name, (unsigned long long)want);
  if (rc == DOCSTORE_ETOOBIG)
    rc = DOCSTORE_EIO;
  if (rc < 0)
    return rc;
  if (st->win.len < want)
    return docstore__err_set(&st->c.detail, DOCSTORE_EIO,
                             "object shrank while it was read (%zu of %llu "
                             "bytes at offset %llu)",
                             st->win.len, (unsigned long long)want,
                             (unsigned long long)st->next);
  st->next += want;
  return 0;
}

/* The adapter's open: size from head (get_range) or the whole object in
 * memory (get), then [offset, offset+length) cut at the end. */
static int adapter_open(docstore__get_stream *st, uint64_t offset,
                        uint64_t length, uint64_t *size) {
  docstore_provider *p = st->p;
  int rc;
  if (p->ops.get_range) {
    docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0,
                                 NULL};
    if ((rc = p->ops.head(p->payload, st->key, &info, info_of(&st->c))) < 0)
      return rc;
    *size = info.size;
  } else {
    capped_sink sink = {&st->win, DOCSTORE__OBJECT_MAX};
    rc =
        p->ops.get(p->payload, st->key, capped_sink_cb, &sink, info_of(&st->c));
    if (rc == DOCSTORE_ETOOBIG && !st->c.detail.msg[0])
      docstore__err_set(&st->c.detail, rc,
                        "object over %zu bytes: provider %s has no ranged "
                        "read and the library holds the object in memory",
                        DOCSTORE__OBJECT_MAX, p->name);
    if (rc < 0)
      return rc;
    *size = st->win.len;
  }
  if (offset > *size)
    return docstore__err_set(&st->c.detail, DOCSTORE_EINVAL,
                             "offset %llu is beyond the object's %llu bytes",
                             (unsigned long long)offset,
                             (unsigned long long)*size);
  st->next = offset;
  st->end = length < *size - offset ? offset + length : *size;
  if (!p->ops.get_range) {
    st->win_pos = (size_t)st->next; /* all in memory */
    st->win.len = (size_t)st->end;
    st->next = st->end;
  }
  return 0;
}

static void get_stream_free(docstore__get_stream *st) {
  docstore__buf_free(&st->win);
  docstore_free(st->key);
  docstore_free(st);
}

int docstore__provider_get_open(docstore_provider *p, const char *key,
                                uint64_t offset, uint64_t length,
                                docstore__get_stream **out,
                                uint64_t *object_size, docstore__err *err) {
  uint64_t size = 0;
  if (!p || !out)
    return docstore__err_set(err, DOCSTORE_EINVAL, "get_open: NULL argument");
  *out = NULL;
  if (object_size)
    *object_size = 0;
  docstore__get_stream *st = docstore__alloc(sizeof(*st));
  if (!st)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "get: out of memory");
  st->p = p;
  st->win = (docstore__buf)DOCSTORE__BUF_INIT_PUBLIC;
  call_begin(&st->c, p, "get", DOCSTORE_OP_GET, key);
  int rc = check_key(key, "key", 0, 0, &st->c.detail);
  if (rc < 0) {
    call_refuse(&st->c, rc, err);
    get_stream_free(st);
    return rc;
  }
  if (!(st->key = docstore__strdup(key))) {
    rc = docstore__err_set(&st->c.detail, DOCSTORE_ENOMEM, "out of memory");
  } else {
    st->c.key = st->key;
    rc = has_native_get(p)
             ? p->ops.get_open(p->payload, key, offset, length, &st->native,
                               &size, info_of(&st->c))
             : adapter_open(st, offset, length, &size);
  }
  if (rc > 0)
    rc = 0;
  if (rc < 0) {
    call_end(&st->c, rc, 0, err);
    get_stream_free(st);
    return rc;
  }
  if (object_size)
    *object_size = size;
  *out = st;
  return 0;
}

int docstore__provider_get_read(docstore__get_stream *st, uint8_t *buf,
                                size_t cap, size_t *got, docstore__err *err) {
  if (got)
    *got = 0;
  if (!st || !buf || !got || cap == 0)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "get: NULL argument or empty buffer");
  if (st->failed) {
    if (err)
      *err = st->c.detail;
    return st->failed;
  }
  docstore_provider *p = st->p;
  int rc = 0;
  docstore__err_clear(&st->c.detail);
  if (has_native_get(p)) {
    rc =
        p->ops.get_read(p->payload, st->native, buf, cap, got, info_of(&st->c));
    if (rc >= 0 && *got > cap)
      rc = docstore__err_set(&st->c.detail, DOCSTORE_EIO,
                             "provider %s read more than the buffer holds",
                             p->name);
  } else {
    if (st->win_pos == st->win.len && st->next < st->end)
      rc = adapter_fill(st);
    if (rc >= 0) {
      size_t n = st->win.len - st->win_pos;
      if (n > cap)
        n = cap;
      if (n > 0)
        memcpy(buf, st->win.data + st->win_pos, n);
      st->win_pos += n;
      *got = n;
    }
  }
  if (rc > 0)
    rc = 0;
  if (rc < 0) {
    *got = 0;
    st->failed = call_end(&st->c, rc, st->bytes, err);
    return st->failed;
  }
  st->bytes += *got;
  return 0;
}

void docstore__provider_get_close(docstore__get_stream *st) {
  if (!st)
    return;
  docstore_provider *p = st->p;
  if (has_native_get(p))
    p->ops.get_close(p->payload, st->native);
  if (!st->failed)
    call_end(&st->c, 0, st->bytes, NULL);
  get_stream_free(st);
}

/* ------------------------------------------------------------ public */

int docstore_provider_put(docstore_provider *p, const char *key,
                          const uint8_t *data, size_t len) {
  return docstore__provider_put(p, key, data, len, NULL);
}

int docstore_provider_get(docstore_provider *p, uint8_t **out, size_t *out_len,
                          const char *key) {
  docstore__buf buf = DOCSTORE__BUF_INIT;
  if (!out || !out_len)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "get: NULL argument");
  *out = NULL;
  *out_len = 0;
  int rc = docstore__provider_get(p, key, &buf, NULL);
  if (rc < 0)
    return rc;
  *out = docstore__buf_detach(&buf, out_len);
  return 0;
}

int docstore_provider_head(docstore_provider *p, docstore_object_info *info,
                           const char *key) {
  return docstore__provider_head(p, key, info, NULL);
}

int docstore_provider_delete(docstore_provider *p, const char *key) {
  return docstore__provider_delete(p, key, NULL);
}

int docstore_provider_list(docstore_provider *p, const char *prefix,
                           docstore_list_cb cb, void *payload) {
  return docstore__provider_list(p, prefix, cb, payload, NULL);
}

int docstore_provider_presign(docstore_provider *p, char **out_url,
                              const char *key, int method,
                              uint64_t expires_seconds) {
  return docstore__provider_presign(p, key, method, expires_seconds, out_url,
                                    NULL);
}

int docstore_provider_check(docstore_provider *p, char **report) {
  return docstore__provider_check(p, report, NULL);
}
