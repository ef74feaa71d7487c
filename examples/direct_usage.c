/*
 * direct_usage: the seed's "Direct Usage" snippet in C.
 *
 *   storage_service = get_storage_service()
 *   storage_path = await storage_service.store_encrypted_document(
 *       file_id=123, filename="document.pdf", encrypted_data=..., user_id=456)
 *   encrypted_data = await storage_service.retrieve_encrypted_document(path)
 *   await storage_service.delete_document(storage_path)
 *   url = storage_service.get_download_url(storage_path, expiration_hours=24)
 *
 * The storage comes from the environment, as in the seed: STORAGE_TYPE
 * (local by default, LOCAL_STORAGE_PATH=encrypted_files/) or STORAGE_TYPE=s3
 * with S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_ENDPOINT_URL.
 * On the local filesystem get_download_url answers "unsupported" (there
 * are no URLs to give); on S3 it prints a presigned URL.
 *
 * Build: cc direct_usage.c $(pkg-config --cflags --libs docstore)
 * SPDX-License-Identifier: Apache-2.0
 */
#include <docstore/docstore.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, int rc, const char *detail) {
  fprintf(stderr, "direct_usage: %s: %s (%s)%s%s\n", what,
          docstore_strerror(rc), docstore_error_name(rc),
          detail && *detail ? ": " : "", detail ? detail : "");
  return 1;
}

/*
 * The backend encrypts a document before handing it to the storage
 * service (its `encrypted_data`).  Here: a key pair made on the spot.
 */
static int make_envelope(char **out, size_t *out_len) {
  static const char document[] = "%PDF-1.4 document 123 of user 456\n";
  docstore_doc_id doc = {"123", "456"};
  docstore_keyring *kr = NULL;
  char *pub = NULL, *priv = NULL;
  char err[256];
  int rc;

  if ((rc = docstore_keygen(&pub, &priv, 2048, NULL)) < 0)
    return fail("docstore_keygen", rc, docstore_last_errmsg());
  if ((rc = docstore_keyring_new(&kr, err, sizeof(err))) < 0) {
    fail("docstore_keyring_new", rc, err);
    goto done;
  }
  /* sealing needs only the public key */
  if ((rc = docstore_keyring_add_public_pem(kr, NULL, pub, strlen(pub))) < 0) {
    fail("docstore_keyring_add_public_pem", rc, docstore_keyring_errmsg(kr));
    goto done;
  }
  if ((rc = docstore_envelope_seal(out, out_len, kr, (const uint8_t *)document,
                                   sizeof(document) - 1, &doc)) < 0) {
    fail("docstore_envelope_seal", rc, docstore_last_errmsg());
    goto done;
  }
done:
  docstore_keyring_free(kr);
  docstore_free(pub);
  docstore_free(priv);
  return rc < 0 ? 1 : 0;
}

int main(void) {
  docstore_config *cfg = NULL;
  docstore_service *svc;
  char *envelope = NULL, *path = NULL, *back = NULL, *url = NULL;
  size_t envelope_len = 0, back_len = 0;
  char err[512];
  int rc, exists = 1, status = 1;

  /* init_storage_service(config): the process-wide service */
  if ((rc = docstore_config_new(&cfg)) < 0)
    return fail("docstore_config_new", rc, NULL);
  if ((rc = docstore_config_load_env(cfg)) < 0) {
    fail("docstore_config_load_env", rc, docstore_config_errmsg(cfg));
    goto done;
  }
  if ((rc = docstore_default_init(cfg, err, sizeof(err))) < 0) {
    fail("docstore_default_init", rc, err);
    goto done;
  }
  /* get_storage_service() */
  svc = docstore_default_get();
  printf("storage service: %s\n", docstore_service_storage_type(svc));

  if (make_envelope(&envelope, &envelope_len) != 0)
    goto done;

  /* store_encrypted_document(file_id=123, filename="document.pdf", ...) */
  if ((rc = docstore_service_store_encrypted(svc, &path, "123", "document.pdf",
                                             envelope, envelope_len, "456")) <
      0) {
    fail("store_encrypted_document", rc, docstore_service_errmsg(svc));
    goto done;
  }
  printf("store_encrypted_document -> %s\n", path);

  /* retrieve_encrypted_document(storage_path) */
  if ((rc = docstore_service_retrieve_encrypted(svc, &back, &back_len, path)) <
      0) {
    fail("retrieve_encrypted_document", rc, docstore_service_errmsg(svc));
    goto done;
  }
  if (back_len != envelope_len || memcmp(back, envelope, back_len) != 0) {
    fprintf(stderr, "direct_usage: retrieved envelope differs\n");
    goto done;
  }
  printf("retrieve_encrypted_document -> %zu bytes, identical to the stored "
         "envelope\n",
         back_len);

  /* get_download_url(storage_path, expiration_hours=24) */
  rc = docstore_service_presign(svc, &url, path, 24 * 3600);
  if (rc == 0) {
    printf("get_download_url -> %s\n", url);
  } else if (rc == DOCSTORE_EUNSUPPORTED) {
    printf("get_download_url -> unsupported by the %s provider (%s): %s\n",
           docstore_service_storage_type(svc), docstore_error_name(rc),
           docstore_service_errmsg(svc));
  } else {
    fail("get_download_url", rc, docstore_service_errmsg(svc));
    goto done;
  }

  /* delete_document(storage_path) */
  if ((rc = docstore_service_delete(svc, path)) < 0) {
    fail("delete_document", rc, docstore_service_errmsg(svc));
    goto done;
  }
  if ((rc = docstore_service_exists(svc, &exists, NULL, path)) < 0) {
    fail("docstore_service_exists", rc, docstore_service_errmsg(svc));
    goto done;
  }
  if (exists) {
    fprintf(stderr, "direct_usage: document still exists after delete\n");
    goto done;
  }
  printf("delete_document -> deleted, no longer exists\n");
  status = 0;

done:
  docstore_free(url);
  docstore_free(back);
  docstore_free(path);
  docstore_free(envelope);
  docstore_default_shutdown();
  docstore_config_free(cfg);
  printf("%s\n", status == 0 ? "direct_usage: OK" : "direct_usage: FAILED");
  return status;
}
