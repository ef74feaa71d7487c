/*
 * A fake provider for unit tests (see fake_provider.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docstore/sys/provider.h"
#include "fake_provider.h"

typedef struct object {
  char *key;
  uint8_t *data;
  size_t len;
  struct object *next;
} object;

typedef struct injection {
  int code;
  char message[256];
  int has_message;
  int times; /* < 0: forever */
} injection;

struct fake_provider {
  pthread_mutex_t lock;
  object *objects;
  unsigned long calls[FAKE_OP_COUNT];
  injection fail[FAKE_OP_COUNT];
  int *free_flag;
};

/* Count a call and tell whether it must fail (code, or 0).  Locked. */
static int enter(fake_provider *fp, fake_op op, docstore_errinfo *err) {
  int code = 0;
  pthread_mutex_lock(&fp->lock);
  fp->calls[op]++;
  injection *in = &fp->fail[op];
  if (in->times != 0) {
    code = in->code;
    if (in->has_message)
      docstore_errinfo_set(err, code, in->message);
    if (in->times > 0)
      in->times--;
  }
  pthread_mutex_unlock(&fp->lock);
  return code;
}

static object **find(fake_provider *fp, const char *key) {
  object **o = &fp->objects;
  while (*o && strcmp((*o)->key, key) != 0)
    o = &(*o)->next;
  return o;
}

static int store(fake_provider *fp, const char *key, const void *data,
                 size_t len) {
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy)
    return DOCSTORE_ENOMEM;
  if (len)
    memcpy(copy, data, len);
  pthread_mutex_lock(&fp->lock);
  object **slot = find(fp, key);
  if (*slot) {
    free((*slot)->data);
    (*slot)->data = copy;
    (*slot)->len = len;
    pthread_mutex_unlock(&fp->lock);
    return 0;
  }
  object *o = calloc(1, sizeof(*o));
  char *k = strdup(key);
  if (!o || !k) {
    pthread_mutex_unlock(&fp->lock);
    free(o);
    free(k);
    free(copy);
    return DOCSTORE_ENOMEM;
  }
  o->key = k;
  o->data = copy;
  o->len = len;
  *slot = o;
  pthread_mutex_unlock(&fp->lock);
  return 0;
}

static int fake_put(void *payload, const char *key, const uint8_t *data,
                    size_t len, docstore_errinfo *err) {
  fake_provider *fp = payload;
  int code = enter(fp, FAKE_PUT, err);
  if (code)
    return code;
  code = store(fp, key, data, len);
  return code ? docstore_errinfo_set(err, code, "fake: out of memory") : 0;
}

static int fake_get(void *payload, const char *key, docstore_sink_cb sink,
                    void *sink_payload, docstore_errinfo *err) {
  fake_provider *fp = payload;
  int code = enter(fp, FAKE_GET, err);
  if (code)
    return code;
  size_t len;
  uint8_t *data = fake_provider_lookup(fp, key, &len);
  if (!data)
    return docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such key");
  /* Two chunks, to exercise sinks that append. */
  size_t half = len / 2;
  int rc = sink(sink_payload, data, half);
  if (rc == 0)
    rc = sink(sink_payload, data + half, len - half);
  free(data);
  if (rc != 0)
    return rc < 0 ? rc : DOCSTORE_ECANCELED;
  return 0;
}

static int fake_head(void *payload, const char *key, docstore_object_info *info,
                     docstore_errinfo *err) {
  fake_provider *fp = payload;
  int code = enter(fp, FAKE_HEAD, err);
  if (code)
    return code;
  int rc = DOCSTORE_ENOTFOUND;
  pthread_mutex_lock(&fp->lock);
  object *o = *find(fp, key);
  if (o) {
    info->size = o->len;
    info->mtime = 1700000000;
    info->etag = "\"fake-etag\"";
    rc = 0;
  }
  pthread_mutex_unlock(&fp->lock);
  return rc ? docstore_errinfo_set(err, rc, "no such key") : 0;
}

static int fake_del(void *payload, const char *key, docstore_errinfo *err) {
  fake_provider *fp = payload;
  int code = enter(fp, FAKE_DEL, err);
  if (code)
    return code;
  pthread_mutex_lock(&fp->lock);
  object **slot = find(fp, key);
  object *o = *slot;
  if (o)
    *slot = o->next;
  pthread_mutex_unlock(&fp->lock);
  if (o) {
    free(o->key);
    free(o->data);
    free(o);
  }
  return 0;
}

static int fake_list(void *payload, const char *prefix, docstore_list_cb cb,
                     void *list_payload, docstore_errinfo *err) {
  fake_provider *fp = payload;
  int code = enter(fp, FAKE_LIST, err);
  if (code)
    return code;
  /* Snapshot the matching keys, then call back without the lock. */
  size_t n = 0, cap = 0;
  docstore_object_info *items = NULL;
  size_t plen = strlen(prefix);
  int rc = 0;
  pthread_mutex_lock(&fp->lock);
  for (object *o = fp->objects; o; o = o->next) {
    if (strncmp(o->key, prefix, plen) != 0)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      docstore_object_info *bigger = realloc(items, cap * sizeof(*items));
      if (!bigger) {
        rc = DOCSTORE_ENOMEM;
        break;
      }
      items = bigger;
    }
    char *k = strdup(o->key);
    if (!k) {
      rc = DOCSTORE_ENOMEM;
      break;
    }
    items[n++] = (docstore_object_info){DOCSTORE_OBJECT_INFO_VERSION, k, o->len,
                                        1700000000, NULL};
  }
  pthread_mutex_unlock(&fp->lock);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    int v = cb(list_payload, &items[i]);
    if (v != 0)
      rc = v < 0 ? v : DOCSTORE_ECANCELED;
  }
  for (size_t i = 0; i < n; i++)
    free((char *)items[i].key);
  free(items);
  return rc;
}

static int fake_presign(void *payload, const char *key, int method,
                        uint64_t expires, docstore_sink_cb sink,
                        void *sink_payload, docstore_errinfo *err) {
  fake_provider *fp = payload;
  int code = enter(fp, FAKE_PRESIGN, err);
  if (code)
    return code;
  char url[1200];
  int n = snprintf(url, sizeof(url),
                   "https://fake.invalid/%s?method=%s&expires=%llu", key,
                   method == DOCSTORE_PRESIGN_PUT ? "PUT" : "GET",
                   (unsigned long long)expires);
  return sink(sink_payload, (const uint8_t *)url, (size_t)n);
}

static int fake_check(void *payload, docstore_sink_cb sink, void *sink_payload,
                      docstore_errinfo *err) {
  fake_provider *fp = payload;
  int code = enter(fp, FAKE_CHECK, err);
  if (sink) {
    const char *line = code ? "fake: unhealthy\n" : "fake: ok\n";
    sink(sink_payload, (const uint8_t *)line, strlen(line));
  }
  return code;
}

static void fake_free(void *payload) {
  fake_provider *fp = payload;
  if (!fp)
    return;
  if (fp->free_flag)
    *fp->free_flag = 1;
  object *o = fp->objects;
  while (o) {
    object *next = o->next;
    free(o->key);
    free(o->data);
    free(o);
    o = next;
  }
  pthread_mutex_destroy(&fp->lock);
  free(fp);
}

int fake_provider_new(docstore_provider **out, fake_provider **state,
                      unsigned int flags) {
  docstore_provider_ops ops;
  int rc = docstore_provider_ops_init(&ops, DOCSTORE_PROVIDER_OPS_VERSION);
  if (rc < 0)
    return rc;
  fake_provider *fp = calloc(1, sizeof(*fp));
  if (!fp)
    return DOCSTORE_ENOMEM;
  pthread_mutex_init(&fp->lock, NULL);
  ops.name = "fake";
  ops.put = fake_put;
  ops.get = fake_get;
  ops.head = fake_head;
  ops.del = fake_del;
  ops.list = (flags & FAKE_NO_LIST) ? NULL : fake_list;
  ops.presign = (flags & FAKE_NO_PRESIGN) ? NULL : fake_presign;
  ops.check = (flags & FAKE_NO_CHECK) ? NULL : fake_check;
  ops.free = fake_free;
  rc = docstore_provider_new(out, &ops, fp);
  if (state)
    *state = rc == 0 ? fp : NULL;
  return rc;
}

void fake_provider_fail(fake_provider *fp, fake_op op, int code,
                        const char *message, int times) {
  pthread_mutex_lock(&fp->lock);
  injection *in = &fp->fail[op];
  in->code = code;
  in->times = times;
  in->has_message = message != NULL;
  snprintf(in->message, sizeof(in->message), "%s", message ? message : "");
  pthread_mutex_unlock(&fp->lock);
}

unsigned long fake_provider_calls(fake_provider *fp, fake_op op) {
  pthread_mutex_lock(&fp->lock);
  unsigned long n = fp->calls[op];
  pthread_mutex_unlock(&fp->lock);
  return n;
}

size_t fake_provider_count(fake_provider *fp) {
  size_t n = 0;
  pthread_mutex_lock(&fp->lock);
  for (object *o = fp->objects; o; o = o->next)
    n++;
  pthread_mutex_unlock(&fp->lock);
  return n;
}

int fake_provider_seed(fake_provider *fp, const char *key, const void *data,
                       size_t len) {
  return store(fp, key, data, len);
}

uint8_t *fake_provider_lookup(fake_provider *fp, const char *key, size_t *len) {
  uint8_t *copy = NULL;
  pthread_mutex_lock(&fp->lock);
  object *o = *find(fp, key);
  if (o && (copy = malloc(o->len ? o->len : 1)) != NULL) {
    if (o->len)
      memcpy(copy, o->data, o->len);
    if (len)
      *len = o->len;
  }
  pthread_mutex_unlock(&fp->lock);
  return copy;
}

void fake_provider_watch_free(fake_provider *fp, int *flag) {
  pthread_mutex_lock(&fp->lock);
  fp->free_flag = flag;
  pthread_mutex_unlock(&fp->lock);
}
