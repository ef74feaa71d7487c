/*
 * envelope_tool: seal / open / rewrap / info / keygen over the public crypto
 * API, for the cross-language tests in tests/interop/ (test_interop.py).
 *
 *   envelope_tool keygen <public.pem> <private.pem>
 *   envelope_tool seal   <public.pem> <in> <out> [file_id [user_id]]
 *   envelope_tool open   <private.pem> <in> <out> [file_id [user_id]]
 *   envelope_tool rewrap <private.pem> <new-public.pem> <in> <out>
 *   envelope_tool info   <in>
 *
 * A private key's passphrase, if any, is read from the environment variable
 * DOCSTORE_TEST_PASSPHRASE (never from the command line).  On failure the
 * symbolic error name and message go to stderr and the exit status is 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docstore/crypto.h"

static int fail(int rc, const char *detail) {
  fprintf(stderr, "%s: %s\n", docstore_error_name(rc),
          detail && *detail ? detail : docstore_strerror(rc));
  return 1;
}

static int read_file(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) {
      fclose(f);
      return -1;
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    cap *= 2;
    char *nb = realloc(buf, cap + 1);
    if (!nb)
      free(buf);
    buf = nb;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    return -1;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static int write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  size_t w = fwrite(data, 1, len, f);
  return fclose(f) == 0 && w == len ? 0 : -1;
}

static docstore_doc_id *doc_arg(docstore_doc_id *doc, int argc, char **argv,
                                int first) {
  if (argc <= first)
    return NULL;
  doc->file_id = argv[first];
  doc->user_id = argc > first + 1 ? argv[first + 1] : NULL;
  return doc;
}

int main(int argc, char **argv) {
  docstore_keyring *kr = NULL;
  char *in = NULL;
  size_t in_len = 0;
  docstore_doc_id doc;
  const char *pass = getenv("DOCSTORE_TEST_PASSPHRASE");
  int rc, status = 1;

  if (argc < 2)
    goto usage;
  const char *cmd = argv[1];

  if (strcmp(cmd, "keygen") == 0 && argc == 4) {
    char *pub = NULL, *priv = NULL;
    rc = docstore_keygen(&pub, &priv, 2048, pass);
    if (rc < 0)
      return fail(rc, docstore_last_errmsg());
    status = write_file(argv[2], pub, strlen(pub)) == 0 &&
                     write_file(argv[3], priv, strlen(priv)) == 0
                 ? 0
                 : fail(DOCSTORE_EIO, "cannot write the key files");
    docstore_free(pub);
    docstore_free(priv);
    return status;
  }
  if (strcmp(cmd, "info") == 0 && argc == 3) {
    if (read_file(argv[2], &in, &in_len) < 0)
      return fail(DOCSTORE_EIO, argv[2]);
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    rc = docstore_envelope_info_get(&info, in, in_len);
    free(in);
    if (rc < 0)
      return fail(rc, docstore_last_errmsg());
    printf("format=%s\nkey_id=%s\nfile_id=%s\nuser_id=%s\nsize=%llu\n",
           info.format == DOCSTORE_ENVELOPE_V1 ? "v1" : "legacy",
           info.key_id ? info.key_id : "", info.file_id ? info.file_id : "",
           info.user_id ? info.user_id : "",
           (unsigned long long)info.plaintext_size);
    docstore_envelope_info_clear(&info);
    return 0;
  }

  int seal = strcmp(cmd, "seal") == 0, open = strcmp(cmd, "open") == 0;
  int rewrap = strcmp(cmd, "rewrap") == 0;
  if (!((seal || open) && argc >= 5 && argc <= 7) && !(rewrap && argc == 6))
    goto usage;

  char errbuf[256];
  if ((rc = docstore_keyring_new(&kr, errbuf, sizeof(errbuf))) < 0)
    return fail(rc, errbuf);
  rc = seal ? docstore_keyring_add_public_file(kr, NULL, argv[2])
            : docstore_keyring_add_private_file(kr, NULL, argv[2], pass);
  char *new_kid = NULL;
  if (rc == 0 && rewrap)
    rc = docstore_keyring_add_public_file(kr, &new_kid, argv[3]);
  if (rc < 0) {
    status = fail(rc, docstore_keyring_errmsg(kr));
    goto done;
  }
  const char *in_path = argv[rewrap ? 4 : 3];
  const char *out_path = argv[rewrap ? 5 : 4];
  if (read_file(in_path, &in, &in_len) < 0) {
    status = fail(DOCSTORE_EIO, in_path);
    goto done;
  }

  char *env = NULL;
  uint8_t *pt = NULL;
  size_t out_len = 0;
  if (seal)
    rc = docstore_envelope_seal(&env, &out_len, kr, (uint8_t *)in, in_len,
                                doc_arg(&doc, argc, argv, 5));
  else if (rewrap)
    rc = docstore_envelope_rewrap(&env, &out_len, kr, in, in_len, new_kid);
  else
    rc = docstore_envelope_open(&pt, &out_len, kr, in, in_len,
                                doc_arg(&doc, argc, argv, 5));
  if (rc < 0)
    status = fail(rc, docstore_last_errmsg());
  else if (write_file(out_path, env ? (const void *)env : pt, out_len) < 0)
    status = fail(DOCSTORE_EIO, out_path);
  else
    status = 0;
  docstore_free(env);
  docstore_free(pt);
done:
  docstore_free(new_kid);
  free(in);
  docstore_keyring_free(kr);
  return status;

usage:
  fprintf(stderr,
          "usage: envelope_tool keygen <public.pem> <private.pem>\n"
          "       envelope_tool seal <public.pem> <in> <out> [file_id "
          "[user_id]]\n"
          "       envelope_tool open <private.pem> <in> <out> [file_id "
          "[user_id]]\n"
          "       envelope_tool rewrap <private.pem> <new-public.pem> <in> "
          "<out>\n"
          "       envelope_tool info <in>\n");
  return 2;
}
