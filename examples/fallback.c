/*
 * fallback: the seed's "Graceful Fallback".
 *
 *   try:
 *       encrypted_data = await
 * storage_service.retrieve_encrypted_document(path) except Exception as e:
 *       logger.warning(f"Failed to retrieve from storage: {e}")
 *       if os.path.exists(attachment.filepath):
 *           with open(attachment.filepath, "rb") as f: ...
 *
 * In C it is one call, docstore_service_retrieve_fallback(), which logs
 * "Failed to retrieve from object storage, falling back to local".
 *
 * The object store here is down: an S3 provider pointed at a port of
 * 127.0.0.1 where nothing listens (connection refused).  With a library
 * built without S3, a provider written here stands in for it and fails
 * the same way.  The document's legacy file (the attachment's old
 * `filepath`) is written beforehand under WORK_DIR.
 *
 *   fallback [WORK_DIR]          (default: a new folder under /tmp)
 *
 * Build: cc fallback.c $(pkg-config --cflags --libs docstore)
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <docstore/docstore.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LEGACY_PATH "legacy/7_passport.json" /* relative to WORK_DIR */

static int fail(const char *what, int rc, const char *detail) {
  fprintf(stderr, "fallback: %s: %s (%s)%s%s\n", what, docstore_strerror(rc),
          docstore_error_name(rc), detail && *detail ? ": " : "",
          detail ? detail : "");
  return 1;
}

/* The library's log lines, shown as they come; remembers the fallback. */
static void on_log(void *payload, int level, const char *message) {
  int *fell_back = payload;
  static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

  printf("  log %s: %s\n", level >= 0 && level <= 3 ? names[level] : "?",
         message);
  if (strstr(message, "falling back to local"))
    *fell_back = 1;
}

/* ---- a provider that is always down (used when S3 is not built in) */

static int down(docstore_errinfo *err) {
  return docstore_errinfo_set(err, DOCSTORE_ECONNECT,
                              "connection refused (simulated outage)");
}
static int down_put(void *p, const char *key, const uint8_t *data, size_t len,
                    docstore_errinfo *err) {
  (void)p, (void)key, (void)data, (void)len;
  return down(err);
}
static int down_get(void *p, const char *key, docstore_sink_cb sink,
                    void *sink_payload, docstore_errinfo *err) {
  (void)p, (void)key, (void)sink, (void)sink_payload;
  return down(err);
}
static int down_head(void *p, const char *key, docstore_object_info *info,
                     docstore_errinfo *err) {
  (void)p, (void)key, (void)info;
  return down(err);
}
static int down_del(void *p, const char *key, docstore_errinfo *err) {
  (void)p, (void)key;
  return down(err);
}
static void down_free(void *p) { (void)p; }

/* An object store that cannot be reached. */
static int unreachable_store(docstore_provider **out) {
  docstore_s3_options s3 = DOCSTORE_S3_OPTIONS_INIT;
  docstore_provider_ops ops;
  char err[256];
  int rc;

  s3.bucket = "bank-documents";
  s3.region = "us-east-1";
  s3.endpoint_url = "http://127.0.0.1:1"; /* nothing listens on port 1 */
  s3.access_key = "example-access-key";
  s3.secret_key = "example-secret-key";
  s3.max_attempts = 1; /* no retries: fail fast */
  s3.connect_timeout_ms = 2000;
  rc = docstore_s3_provider_new(out, &s3, err, sizeof(err));
  if (rc == 0) {
    printf("object store: S3 at %s (nothing listens there)\n", s3.endpoint_url);
    return 0;
  }
  if (rc != DOCSTORE_EUNSUPPORTED)
    return fail("docstore_s3_provider_new", rc, err);

  printf("object store: S3 not available in this build (%s); using a "
         "provider that is always down\n",
         err);
  if ((rc = docstore_provider_ops_init(&ops, DOCSTORE_PROVIDER_OPS_VERSION)) <
      0)
    return fail("docstore_provider_ops_init", rc, NULL);
  ops.name = "down";
  ops.put = down_put;
  ops.get = down_get;
  ops.head = down_head;
  ops.del = down_del;
  ops.free = down_free;
  if ((rc = docstore_provider_new(out, &ops, NULL)) < 0)
    return fail("docstore_provider_new", rc, docstore_last_errmsg());
  return 0;
}

/* Write the legacy file: what the old backend left at attachment.filepath */
static int write_legacy(const char *work, const char *envelope, size_t len) {
  char path[4096];
  FILE *f;

  if (mkdir(work, 0700) != 0 && errno != EEXIST) {
    perror("fallback: mkdir");
    return 1;
  }
  snprintf(path, sizeof(path), "%s/legacy", work);
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    perror("fallback: mkdir");
    return 1;
  }
  snprintf(path, sizeof(path), "%s/%s", work, LEGACY_PATH);
  if (!(f = fopen(path, "wb"))) {
    perror("fallback: fopen");
    return 1;
  }
  if (fwrite(envelope, 1, len, f) != len || fclose(f) != 0) {
    perror("fallback: write");
    return 1;
  }
  printf("legacy file (attachment.filepath): %s\n", path);
  return 0;
}

int main(int argc, char **argv) {
  static const char document[] = "%PDF-1.4 passport of customer 123\n";
  char tmpl[] = "/tmp/docstore-fallback-XXXXXX";
  const char *work = argc > 1 ? argv[1] : NULL;
  docstore_service_options sopts = DOCSTORE_SERVICE_OPTIONS_INIT;
  docstore_doc_id doc = {"7", "123"};
  docstore_keyring *kr = NULL;
  docstore_provider *prov = NULL;
  docstore_service *svc = NULL;
  char *pub = NULL, *priv = NULL, *envelope = NULL, *path = NULL, *back = NULL;
  uint8_t *plain = NULL;
  size_t envelope_len = 0, back_len = 0, plain_len = 0;
  char err[512];
  int rc, fell_back = 0, status = 1;

  if (!work && !(work = mkdtemp(tmpl))) {
    perror("fallback: mkdtemp");
    return 1;
  }
  docstore_set_log_callback(on_log, &fell_back, DOCSTORE_LOG_WARN);

  /* keys, and document 7 of user 123 as the old backend stored it */
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
  if ((rc = docstore_envelope_seal(&envelope, &envelope_len, kr,
                                   (const uint8_t *)document,
                                   sizeof(document) - 1, &doc)) < 0) {
    fail("docstore_envelope_seal", rc, docstore_last_errmsg());
    goto done;
  }
  if (write_legacy(work, envelope, envelope_len) != 0)
    goto done;

  /* a service whose object store is down; legacy paths are under work */
  if (unreachable_store(&prov) != 0)
    goto done;
  sopts.legacy_root = work;
  rc = docstore_service_new(&svc, prov, kr, &sopts, err, sizeof(err));
  prov = NULL;
  kr = NULL;
  if (rc < 0) {
    fail("docstore_service_new", rc, err);
    goto done;
  }
  if ((rc = docstore_storage_path(&path, "7", "passport.pdf", "123",
                                  (int64_t)time(NULL))) < 0) {
    fail("docstore_storage_path", rc, docstore_last_errmsg());
    goto done;
  }

  /* without fallback: the object store's error */
  rc = docstore_service_retrieve_encrypted(svc, &back, &back_len, path);
  if (rc == 0) {
    fprintf(stderr, "fallback: the object store answered; expected it down\n");
    goto done;
  }
  printf("retrieve_encrypted_document(%s) -> %s: %s\n", path,
         docstore_error_name(rc), docstore_service_errmsg(svc));

  /* with fallback: the legacy file, and a warning in the log */
  printf("retrieve with fallback to %s:\n", LEGACY_PATH);
  if ((rc = docstore_service_retrieve_fallback(svc, &back, &back_len, path,
                                               LEGACY_PATH)) < 0) {
    fail("docstore_service_retrieve_fallback", rc,
         docstore_service_errmsg(svc));
    goto done;
  }
  if (!fell_back) {
    fprintf(stderr, "fallback: no fallback warning was logged\n");
    goto done;
  }
  if ((rc = docstore_envelope_open(&plain, &plain_len,
                                   docstore_service_keyring(svc), back,
                                   back_len, &doc)) < 0) {
    fail("docstore_envelope_open", rc, docstore_last_errmsg());
    goto done;
  }
  if (plain_len != sizeof(document) - 1 ||
      memcmp(plain, document, plain_len) != 0) {
    fprintf(stderr, "fallback: the legacy document decrypts to other bytes\n");
    goto done;
  }
  printf("fell back to the legacy file: %zu-byte envelope, decrypts to the "
         "original %zu-byte document\n",
         back_len, plain_len);

  /* when the legacy file is missing too, both reasons are reported */
  docstore_free(back);
  back = NULL;
  rc = docstore_service_retrieve_fallback(svc, &back, &back_len, path,
                                          "legacy/missing.json");
  if (rc == 0) {
    fprintf(stderr, "fallback: a missing legacy file was found?\n");
    goto done;
  }
  printf("with no legacy file either -> %s: %s\n", docstore_error_name(rc),
         docstore_service_errmsg(svc));
  status = 0;

done:
  docstore_free(plain);
  docstore_free(back);
  docstore_free(path);
  docstore_free(envelope);
  docstore_free(pub);
  docstore_free(priv);
  docstore_service_free(svc);
  docstore_provider_free(prov);
  docstore_keyring_free(kr);
  docstore_set_log_callback(NULL, NULL, DOCSTORE_LOG_WARN);
  printf("%s\n", status == 0 ? "fallback: OK" : "fallback: FAILED");
  return status;
}
