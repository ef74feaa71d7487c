/*
 * libdocstore - the process-wide default service.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The seed's init_storage_service(config) / get_storage_service().  The
 * mutex makes initialisation happen exactly once even when threads race;
 * the pointer itself is atomic so that docstore_default_get() takes no
 * lock on the hot path.
 */
#include <stdatomic.h>

#include "internal.h"
#include "docstore/service.h"

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(docstore_service *) default_service = NULL;

int docstore_default_init(const docstore_config *cfg, char *errbuf,
                          size_t errbuf_len) {
  docstore__err err;
  docstore_config *env = NULL;
  docstore_service *svc = NULL;
  char msg[DOCSTORE__ERRMSG_MAX];
  int rc;
  docstore__err_clear(&err);
  msg[0] = '\0';
  pthread_mutex_lock(&default_lock);
  if (atomic_load(&default_service)) {
    rc = docstore__err_set(&err, DOCSTORE_EEXISTS,
                           "the default service is already initialised; "
                           "keeping the first one");
    goto done;
  }
  if (!cfg) {
    if ((rc = docstore_config_new(&env)) < 0) {
      docstore__err_set(&err, rc, "cannot create a configuration: %s",
                        docstore_strerror(rc));
      goto done;
    }
    if ((rc = docstore_config_load_env(env)) < 0) {
      docstore__err_set(&err, rc, "%s", docstore_config_errmsg(env));
      goto done;
    }
    cfg = env;
  }
  rc = docstore_service_from_config(&svc, cfg, msg, sizeof(msg));
  if (rc < 0) {
    docstore__err_set(&err, rc, "%s", msg);
    goto done;
  }
  atomic_store(&default_service, svc);
done:
  pthread_mutex_unlock(&default_lock);
  docstore_config_free(env);
  if (rc < 0)
    docstore__err_to_buf(&err, errbuf, errbuf_len);
  return rc;
}

docstore_service *docstore_default_get(void) {
  return atomic_load(&default_service);
}

void docstore_default_shutdown(void) {
  pthread_mutex_lock(&default_lock);
  docstore_service *svc = atomic_exchange(&default_service, NULL);
  pthread_mutex_unlock(&default_lock);
  docstore_service_free(svc);
}
