/*
 * quickstart: the smallest complete use of libdocstore.
 *
 * Generates an RSA key pair in memory, stores a document encrypted on the
 * local filesystem, reads it back, checks it is the same, and shows where
 * it went.
 *
 *   quickstart [STORAGE_ROOT]     (default: a new folder under /tmp)
 *
 * Build: cc quickstart.c $(pkg-config --cflags --libs docstore)
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <docstore/docstore.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int rc, const char *detail) {
  fprintf(stderr, "quickstart: %s: %s (%s)%s%s\n", what, docstore_strerror(rc),
          docstore_error_name(rc), detail && *detail ? ": " : "",
          detail ? detail : "");
  return 1;
}

int main(int argc, char **argv) {
  static const char document[] = "%PDF-1.4 passport scan of customer 123\n";
  char tmpl[] = "/tmp/docstore-quickstart-XXXXXX";
  const char *root = argc > 1 ? argv[1] : NULL;
  docstore_local_options lopts = DOCSTORE_LOCAL_OPTIONS_INIT;
  docstore_keyring *kr = NULL;
  docstore_provider *prov = NULL;
  docstore_service *svc = NULL;
  docstore_doc_id expect = {"1", "123"};
  char *pub = NULL, *priv = NULL, *key_id = NULL, *path = NULL;
  uint8_t *back = NULL;
  size_t back_len = 0;
  char err[512];
  int rc, status = 1;

  printf("libdocstore %s\n", docstore_version());
  if (!root && !(root = mkdtemp(tmpl))) {
    perror("quickstart: mkdtemp");
    return 1;
  }

  /* 1. a key pair, in memory (a real service loads PEM files instead) */
  if ((rc = docstore_keygen(&pub, &priv, 2048, NULL)) < 0) {
    fail("docstore_keygen", rc, docstore_last_errmsg());
    goto done;
  }
  if ((rc = docstore_keyring_new(&kr, err, sizeof(err))) < 0) {
    fail("docstore_keyring_new", rc, err);
    goto done;
  }
  if ((rc = docstore_keyring_add_private_pem(kr, &key_id, priv, strlen(priv),
                                             NULL)) < 0) {
    fail("docstore_keyring_add_private_pem", rc, docstore_keyring_errmsg(kr));
    goto done;
  }
  printf("generated an RSA-2048 key pair, key id %s\n", key_id);

  /* 2. a service on the local filesystem; it owns provider and keyring */
  lopts.root = root;
  if ((rc = docstore_local_provider_new(&prov, &lopts, err, sizeof(err))) < 0) {
    fail("docstore_local_provider_new", rc, err);
    goto done;
  }
  rc = docstore_service_new(&svc, prov, kr, NULL, err, sizeof(err));
  prov = NULL;
  kr = NULL;
  if (rc < 0) {
    fail("docstore_service_new", rc, err);
    goto done;
  }

  /* 3. encrypt and store file 1 ("passport.pdf") of user 123 */
  if ((rc = docstore_service_store_document(svc, &path, "1", "passport.pdf",
                                            (const uint8_t *)document,
                                            sizeof(document) - 1, "123")) < 0) {
    fail("docstore_service_store_document", rc, docstore_service_errmsg(svc));
    goto done;
  }
  printf("stored passport.pdf (%zu bytes) encrypted as %s\n",
         sizeof(document) - 1, path);
  printf("storage path on disk: %s/%s\n", root, path);

  /* 4. read it back: retrieve, check it belongs to file 1 of user 123,
   *    decrypt */
  if ((rc = docstore_service_read_document(svc, &back, &back_len, path,
                                           &expect)) < 0) {
    fail("docstore_service_read_document", rc, docstore_service_errmsg(svc));
    goto done;
  }
  if (back_len != sizeof(document) - 1 ||
      memcmp(back, document, back_len) != 0) {
    fprintf(stderr, "quickstart: the document read back differs\n");
    goto done;
  }
  printf("read back %zu bytes: identical to the original\n", back_len);
  status = 0;

done:
  docstore_free(back); /* wipes the plaintext */
  docstore_free(path);
  docstore_free(key_id);
  docstore_free(pub);
  docstore_free(priv);
  docstore_service_free(svc);
  docstore_provider_free(prov);
  docstore_keyring_free(kr);
  printf("%s\n", status == 0 ? "quickstart: OK" : "quickstart: FAILED");
  return status;
}
