/*
 * custom_provider: a storage backend written in user code, through the
 * provider vtable of <docstore/sys/provider.h>, used through the service
 * facade like the built-in ones.
 *
 * The backend is an in-memory map (a linked list under a mutex: the
 * library may call a provider from several threads at once).  It has put,
 * get, head, del and list, and no presign: the library then answers
 * "unsupported" for download URLs by itself.
 *
 * Build: cc custom_provider.c $(pkg-config --cflags --libs docstore) -pthread
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L

#include <docstore/docstore.h>
#include <docstore/sys/provider.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ the memory provider */

typedef struct mem_object {
  struct mem_object *next;
  char *key;
  uint8_t *data;
  size_t len;
} mem_object;

typedef struct mem_store {
  pthread_mutex_t lock;
  mem_object *head;
} mem_store;

/* The object under key, or NULL; the caller holds the lock. */
static mem_object *mem_find(mem_store *m, const char *key) {
  mem_object *o;

  for (o = m->head; o; o = o->next)
    if (strcmp(o->key, key) == 0)
      return o;
  return NULL;
}

static int mem_put(void *payload, const char *key, const uint8_t *data,
                   size_t len, docstore_errinfo *err) {
  mem_store *m = payload;
  mem_object *o;
  uint8_t *copy = malloc(len ? len : 1);

  if (!copy)
    return docstore_errinfo_set(err, DOCSTORE_ENOMEM, "out of memory");
  if (len)
    memcpy(copy, data, len);
  pthread_mutex_lock(&m->lock);
  if ((o = mem_find(m, key)) == NULL) {
    if (!(o = calloc(1, sizeof(*o))) || !(o->key = strdup(key))) {
      pthread_mutex_unlock(&m->lock);
      free(o);
      free(copy);
      return docstore_errinfo_set(err, DOCSTORE_ENOMEM, "out of memory");
    }
    o->next = m->head;
    m->head = o;
  }
  free(o->data); /* replaced in one step: readers see old or new */
  o->data = copy;
  o->len = len;
  pthread_mutex_unlock(&m->lock);
  return 0;
}

static int mem_get(void *payload, const char *key, docstore_sink_cb sink,
                   void *sink_payload, docstore_errinfo *err) {
  mem_store *m = payload;
  mem_object *o;
  int rc;

  pthread_mutex_lock(&m->lock);
  if ((o = mem_find(m, key)) == NULL) {
    pthread_mutex_unlock(&m->lock);
    return docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such object");
  }
  rc = sink(sink_payload, o->data, o->len);
  pthread_mutex_unlock(&m->lock);
  if (rc < 0)
    return rc;
  return rc ? DOCSTORE_ECANCELED : 0;
}

static int mem_head(void *payload, const char *key, docstore_object_info *info,
                    docstore_errinfo *err) {
  mem_store *m = payload;
  mem_object *o;

  pthread_mutex_lock(&m->lock);
  if ((o = mem_find(m, key)) != NULL)
    info->size = o->len;
  pthread_mutex_unlock(&m->lock);
  return o ? 0
           : docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such object");
}

static int mem_del(void *payload, const char *key, docstore_errinfo *err) {
  mem_store *m = payload;
  mem_object **pp, *o;

  (void)err;
  pthread_mutex_lock(&m->lock);
  for (pp = &m->head; (o = *pp) != NULL; pp = &o->next)
    if (strcmp(o->key, key) == 0) {
      *pp = o->next;
      break;
    }
  pthread_mutex_unlock(&m->lock);
  if (o) {
    free(o->key);
    free(o->data);
    free(o);
  }
  return 0; /* deleting a missing key succeeds */
}

static int mem_list(void *payload, const char *prefix, docstore_list_cb cb,
                    void *list_payload, docstore_errinfo *err) {
  mem_store *m = payload;
  docstore_object_info info;
  mem_object *o;
  size_t plen = prefix ? strlen(prefix) : 0;
  int rc = 0;

  (void)err;
  pthread_mutex_lock(&m->lock);
  for (o = m->head; o && rc == 0; o = o->next) {
    if (plen && strncmp(o->key, prefix, plen) != 0)
      continue;
    memset(&info, 0, sizeof(info));
    info.version = DOCSTORE_OBJECT_INFO_VERSION;
    info.key = o->key;
    info.size = o->len;
    rc = cb(list_payload, &info);
  }
  pthread_mutex_unlock(&m->lock);
  return rc ? DOCSTORE_ECANCELED : 0;
}

static void mem_free(void *payload) {
  mem_store *m = payload;
  mem_object *o, *next;

  if (!m)
    return;
  for (o = m->head; o; o = next) {
    next = o->next;
    free(o->key);
    free(o->data);
    free(o);
  }
  pthread_mutex_destroy(&m->lock);
  free(m);
}

/* A provider around a new, empty memory store. */
static int memory_provider_new(docstore_provider **out) {
  docstore_provider_ops ops;
  mem_store *m;
  int rc;

  if ((rc = docstore_provider_ops_init(&ops, DOCSTORE_PROVIDER_OPS_VERSION)) <
      0)
    return rc;
  ops.name = "memory";
  ops.put = mem_put;
  ops.get = mem_get;
  ops.head = mem_head;
  ops.del = mem_del;
  ops.list = mem_list;
  ops.free = mem_free; /* presign, check, get_range: not offered */
  if (!(m = calloc(1, sizeof(*m))))
    return DOCSTORE_ENOMEM;
  if (pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    return DOCSTORE_ENOMEM;
  }
  return docstore_provider_new(out, &ops, m); /* m is the provider's now */
}

/* ------------------------------------------------------- using it */

static int fail(const char *what, int rc, const char *detail) {
  fprintf(stderr, "custom_provider: %s: %s (%s)%s%s\n", what,
          docstore_strerror(rc), docstore_error_name(rc),
          detail && *detail ? ": " : "", detail ? detail : "");
  return 1;
}

static int print_object(void *payload, const docstore_object_info *info) {
  size_t *count = payload;

  printf("  %s (%llu bytes)\n", info->key, (unsigned long long)info->size);
  (*count)++;
  return 0;
}

static int list_all(docstore_service *svc, size_t *count) {
  int rc;

  *count = 0;
  printf("objects under documents/:\n");
  if ((rc = docstore_service_list(svc, NULL, print_object, count)) < 0)
    return fail("docstore_service_list", rc, docstore_service_errmsg(svc));
  return 0;
}

int main(void) {
  static const struct {
    const char *file_id, *filename, *user_id, *text;
  } docs[] = {
      {"1", "passport.pdf", "123", "passport of customer 123"},
      {"2", "license.pdf", "123", "driving licence of customer 123"},
      {"5", "template.pdf", NULL, "a system template"},
  };
  docstore_provider *prov = NULL;
  docstore_keyring *kr = NULL;
  docstore_service *svc = NULL;
  docstore_doc_id expect;
  char *pub = NULL, *priv = NULL, *paths[3] = {NULL, NULL, NULL};
  char *url = NULL, *stats = NULL;
  uint8_t *back = NULL;
  size_t back_len = 0, count = 0, i;
  uint64_t size = 0;
  char err[512];
  int rc, exists = 0, status = 1;

  if ((rc = memory_provider_new(&prov)) < 0) {
    fail("memory_provider_new", rc, docstore_last_errmsg());
    goto done;
  }
  printf("provider: %s (written in this program)\n",
         docstore_provider_name(prov));
  if ((rc = docstore_keygen(&pub, &priv, 2048, NULL)) < 0) {
    fail("docstore_keygen", rc, docstore_last_errmsg());
    goto done;
  }
  if ((rc = docstore_keyring_new(&kr, err, sizeof(err))) < 0) {
    fail("docstore_keyring_new", rc, err);
    goto done;
  }
  if ((rc = docstore_keyring_add_private_pem(kr, NULL, priv, strlen(priv),
                                             NULL)) < 0) {
    fail("docstore_keyring_add_private_pem", rc, docstore_keyring_errmsg(kr));
    goto done;
  }
  rc = docstore_service_new(&svc, prov, kr, NULL, err, sizeof(err));
  prov = NULL; /* the service owns both now */
  kr = NULL;
  if (rc < 0) {
    fail("docstore_service_new", rc, err);
    goto done;
  }

  for (i = 0; i < 3; i++) {
    if ((rc = docstore_service_store_document(
             svc, &paths[i], docs[i].file_id, docs[i].filename,
             (const uint8_t *)docs[i].text, strlen(docs[i].text),
             docs[i].user_id)) < 0) {
      fail("docstore_service_store_document", rc, docstore_service_errmsg(svc));
      goto done;
    }
    printf("stored %s -> %s\n", docs[i].filename, paths[i]);
  }
  if (list_all(svc, &count) != 0)
    goto done;
  if (count != 3) {
    fprintf(stderr, "custom_provider: listed %zu objects, expected 3\n", count);
    goto done;
  }

  expect.file_id = docs[1].file_id;
  expect.user_id = docs[1].user_id;
  if ((rc = docstore_service_read_document(svc, &back, &back_len, paths[1],
                                           &expect)) < 0) {
    fail("docstore_service_read_document", rc, docstore_service_errmsg(svc));
    goto done;
  }
  if (back_len != strlen(docs[1].text) ||
      memcmp(back, docs[1].text, back_len) != 0) {
    fprintf(stderr, "custom_provider: document read back differs\n");
    goto done;
  }
  printf("read back %s: \"%.*s\"\n", paths[1], (int)back_len,
         (const char *)back);

  if ((rc = docstore_service_exists(svc, &exists, &size, paths[0])) < 0 ||
      !exists) {
    fail("docstore_service_exists", rc ? rc : DOCSTORE_ENOTFOUND,
         docstore_service_errmsg(svc));
    goto done;
  }
  printf("exists %s: yes, %llu bytes\n", paths[0], (unsigned long long)size);

  rc = docstore_service_presign(svc, &url, paths[0], 24 * 3600);
  if (rc != DOCSTORE_EUNSUPPORTED) {
    fail("docstore_service_presign (expected unsupported)", rc,
         docstore_service_errmsg(svc));
    goto done;
  }
  printf("download url: %s, as expected for a provider without presign\n",
         docstore_error_name(rc));

  if ((rc = docstore_service_delete(svc, paths[0])) < 0) {
    fail("docstore_service_delete", rc, docstore_service_errmsg(svc));
    goto done;
  }
  printf("deleted %s\n", paths[0]);
  if (list_all(svc, &count) != 0)
    goto done;
  if (count != 2) {
    fprintf(stderr, "custom_provider: listed %zu objects, expected 2\n", count);
    goto done;
  }

  if ((rc = docstore_service_stats_json(svc, &stats)) < 0) {
    fail("docstore_service_stats_json", rc, docstore_service_errmsg(svc));
    goto done;
  }
  printf("counters: %s\n", stats);
  status = 0;

done:
  docstore_free(stats);
  docstore_free(url);
  docstore_free(back);
  for (i = 0; i < 3; i++)
    docstore_free(paths[i]);
  docstore_free(pub);
  docstore_free(priv);
  docstore_service_free(svc); /* calls mem_free through the provider */
  docstore_provider_free(prov);
  docstore_keyring_free(kr);
  printf("%s\n",
         status == 0 ? "custom_provider: OK" : "custom_provider: FAILED");
  return status;
}
