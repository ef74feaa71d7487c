/*
 * libdocstore - the factory: a service from a configuration.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The seed's ObjectStorageFactory: STORAGE_TYPE chooses the provider, the
 * RSA_* variables load keys, DOCSTORE_LEGACY_ROOT becomes the service's
 * legacy_root and DOCSTORE_LOG_LEVEL the log threshold.  Options structs
 * are filled from the settings schema (each provider's table says which
 * field a setting lands in), never field by field here.
 */
#include <string.h>

#include "docstore/service.h"
#include "internal.h"
#include "provider/local_settings.h"
#include "s3/s3_settings.h"
#include "service/service_internal.h"
#include "service/settings_catalog.h"

/* Key ids of the DOCSTORE_RECIPIENT_KEYS files, in order. */
typedef struct recipient_ids {
  char *kid[DOCSTORE__V2_RECIPIENTS_MAX];
  size_t n;
} recipient_ids;

static void recipient_ids_free(recipient_ids *ids) {
  for (size_t i = 0; i < ids->n; i++)
    docstore_free(ids->kid[i]);
  ids->n = 0;
}

/* Add the public keys of DOCSTORE_RECIPIENT_KEYS ("a.pem:b.pem") to kr. */
static int load_recipients(docstore_keyring *kr, const char *list,
                           recipient_ids *ids, docstore__err *err) {
  for (const char *p = list; p && *p;) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len > 0) {
      char *path = docstore__strndup(p, len);
      if (!path)
        return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
      int rc =
          ids->n >= DOCSTORE__V2_RECIPIENTS_MAX - 1
              ? DOCSTORE_ECONFIG
              : docstore_keyring_add_public_file(kr, &ids->kid[ids->n], path);
      if (rc == DOCSTORE_ECONFIG)
        docstore__err_set(err, rc,
                          "DOCSTORE_RECIPIENT_KEYS: more than %d files",
                          DOCSTORE__V2_RECIPIENTS_MAX - 1);
      else if (rc < 0)
        docstore__err_set(err, rc, "DOCSTORE_RECIPIENT_KEYS: '%s': %s", path,
                          docstore_keyring_errmsg(kr));
      else
        ids->n++;
      docstore_free(path);
      DOCSTORE__GUARD(rc);
    }
    p = colon ? colon + 1 : NULL;
  }
  return 0;
}

/* Load the configured key files into a new keyring, or leave *out NULL
 * when no key file is configured.  The key ids of the recipient keys go
 * to ids. */
static int load_keys(docstore_keyring **out, const docstore_config *cfg,
                     recipient_ids *ids, docstore__err *err) {
  const char *pub = docstore_config_get(cfg, "RSA_PUBLIC_KEY_PATH");
  const char *priv = docstore_config_get(cfg, "RSA_PRIVATE_KEY_PATH");
  const char *pass = docstore_config_get(cfg, "RSA_PRIVATE_KEY_PASSPHRASE");
  const char *extra = docstore_config_get(cfg, "DOCSTORE_RECIPIENT_KEYS");
  docstore_keyring *kr = NULL;
  char msg[DOCSTORE__ERRMSG_MAX];
  int rc;

  *out = NULL;
  if (!pub && !priv && !extra)
    return 0;
  rc = docstore_keyring_new(&kr, msg, sizeof(msg));
  if (rc < 0)
    return docstore__err_set(err, rc, "cannot create keyring: %s", msg);
  /* The public key first: it is the one new documents are sealed under
   * (during a key rotation the private key may be the previous one). */
  if (pub && (rc = docstore_keyring_add_public_file(kr, NULL, pub)) < 0) {
    docstore__err_set(err, rc, "RSA_PUBLIC_KEY_PATH='%s': %s", pub,
                      docstore_keyring_errmsg(kr));
    goto fail;
  }
  if (priv &&
      (rc = docstore_keyring_add_private_file(kr, NULL, priv, pass)) < 0) {
    docstore__err_set(err, rc, "RSA_PRIVATE_KEY_PATH='%s': %s%s", priv,
                      docstore_keyring_errmsg(kr),
                      rc == DOCSTORE_EKEY && !pass
                          ? " (if the key is encrypted, set "
                            "RSA_PRIVATE_KEY_PASSPHRASE)"
                          : "");
    goto fail;
  }
  /* Last: the first key added is the sealing key. */
  DOCSTORE__GUARD_GOTO(rc, load_recipients(kr, extra, ids, err), fail);
  *out = kr;
  return 0;
fail:
  docstore_keyring_free(kr);
  return rc;
}

static int make_provider(docstore_provider **out, const docstore_config *cfg,
                         docstore__err *err) {
  char msg[DOCSTORE__ERRMSG_MAX];
  const char *type = docstore__config_effective(cfg, "STORAGE_TYPE", NULL);
  int rc;

  msg[0] = '\0';
  if (strcmp(type, "local") == 0) {
    docstore_local_options lo;
    DOCSTORE__GUARD(docstore__local_options_from_config(cfg, &lo));
    rc = docstore_local_provider_new(out, &lo, msg, sizeof(msg));
    if (rc < 0)
      return docstore__err_set(err, rc, "LOCAL_STORAGE_PATH='%s': %s", lo.root,
                               msg);
    docstore__log(DOCSTORE_LOG_INFO, "Local storage initialized: path=%s",
                  lo.root);
    return 0;
  }

  docstore_s3_options so;
  DOCSTORE__GUARD(docstore__s3_options_from_config(cfg, &so));
  /* S3_VERIFY_TLS=false: the provider itself warns that TLS verification
   * is disabled (for https endpoints). */
  rc = docstore_s3_provider_new(out, &so, msg, sizeof(msg));
  if (rc < 0)
    return docstore__err_set(err, rc, "STORAGE_TYPE=s3: %s", msg);
  docstore__log(DOCSTORE_LOG_INFO,
                "S3 storage initialized: bucket=%s, "
                "endpoint=%s",
                so.bucket, so.endpoint_url ? so.endpoint_url : "None");
  return 0;
}

/* What both factories check first: arguments, then the configuration. */
static int check_args(int have_out, const docstore_config *cfg,
                      docstore__err *err) {
  if (!have_out || !cfg)
    return docstore__err_set(err, DOCSTORE_EINVAL, "%s is NULL",
                             have_out ? "cfg" : "out");
  int rc = docstore_config_validate(cfg);
  if (rc < 0)
    return docstore__err_set(err, rc, "%s", docstore_config_errmsg(cfg));
  return 0;
}

/* Report a factory's failure: errbuf and the thread's last error. */
static int finish(int rc, const docstore__err *err, char *errbuf,
                  size_t errbuf_len) {
  if (rc < 0) {
    docstore__err_to_buf(err, errbuf, errbuf_len);
    docstore__err_publish(err);
  }
  return rc;
}

int docstore_provider_from_config(docstore_provider **out,
                                  const docstore_config *cfg, char *errbuf,
                                  size_t errbuf_len) {
  docstore__err err;
  docstore__err_clear(&err);
  if (out)
    *out = NULL;
  int rc = check_args(out != NULL, cfg, &err);
  if (rc == 0)
    rc = make_provider(out, cfg, &err);
  return finish(rc, &err, errbuf, errbuf_len);
}

int docstore_service_from_config(docstore_service **out,
                                 const docstore_config *cfg, char *errbuf,
                                 size_t errbuf_len) {
  docstore__err err;
  docstore_keyring *kr = NULL;
  docstore_provider *provider = NULL;
  recipient_ids ids = {{NULL}, 0};
  char msg[DOCSTORE__ERRMSG_MAX];
  int rc;

  docstore__err_clear(&err);
  if (out)
    *out = NULL;
  DOCSTORE__GUARD_GOTO(rc, check_args(out != NULL, cfg, &err), done);

  int level = docstore__config_log_level(cfg);
  if (level >= 0)
    docstore_set_log_level(level);

  DOCSTORE__GUARD_GOTO(rc, load_keys(&kr, cfg, &ids, &err), done);
  DOCSTORE__GUARD_GOTO(rc, make_provider(&provider, cfg, &err), done);

  docstore_service_options so = DOCSTORE_SERVICE_OPTIONS_INIT;
  DOCSTORE__GUARD_GOTO(rc, docstore__service_options_from_config(cfg, &so),
                       done);
  msg[0] = '\0';
  /* The service owns provider and keyring from here on, even on failure. */
  docstore_service *svc = NULL;
  rc = docstore_service_new(&svc, provider, kr, &so, msg, sizeof(msg));
  provider = NULL;
  kr = NULL;
  if (rc < 0)
    docstore__err_set(&err, rc, "%s", msg);
  for (size_t i = 0; rc == 0 && i < ids.n; i++)
    rc = docstore__service_add_recipient(svc, ids.kid[i], &err);
  if (rc < 0 || !out)
    docstore_service_free(svc);
  else
    *out = svc;

done:
  recipient_ids_free(&ids);
  docstore_provider_free(provider);
  docstore_keyring_free(kr);
  return finish(rc, &err, errbuf, errbuf_len);
}
