/*
 * docstore CLI - key commands: keygen.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

extern const cli_command cli_cmd_keygen;

static int join(cli_ctx *ctx, char *out, size_t cap, const char *dir,
                const char *name) {
  if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
    return cli_fail(ctx, DOCSTORE_EIO, "path too long: '%s'", dir);
  return 0;
}

static int run_keygen(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"bits", required_argument, NULL, 'b'},
      {"out-dir", required_argument, NULL, 'o'},
      {"passphrase-env", required_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *out_dir = NULL, *pass_env = NULL, *pass = NULL;
  unsigned long bits = 3072;
  char pub_path[PATH_MAX], priv_path[PATH_MAX];
  char *pub_pem = NULL, *priv_pem = NULL, *key_id = NULL;
  docstore_keyring *kr = NULL;
  docstore_config *cfg;
  char err[256];
  int c, rc;

  while ((c = cli_getopt(ctx, &cli_cmd_keygen, argc, argv, "b:o:p:", opts)) !=
         -1) {
    switch (c) {
    case 'b':
      CLI_GUARD(cli_parse_uint(ctx, "--bits", optarg, DOCSTORE_RSA_MIN_BITS,
                               16384, &bits));
      break;
    case 'o':
      out_dir = optarg;
      break;
    case 'p':
      pass_env = optarg;
      break;
    case 'h':
      return 0;
    default:
      return DOCSTORE_EINVAL;
    }
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 0, 0));
  CLI_GUARD(cli_config(ctx, &cfg));
  CLI_GUARD(cli_passphrase_from_env(ctx, pass_env, &pass));
  if (!pass)
    pass = docstore_config_get(cfg, "RSA_PRIVATE_KEY_PASSPHRASE");

  /* Where: --out-dir, else the configured key paths, else here. */
  if (out_dir) {
    if (mkdir(out_dir, 0700) != 0 && errno != EEXIST)
      return cli_fail(ctx, DOCSTORE_EIO, "cannot create '%s': %s", out_dir,
                      strerror(errno));
    CLI_GUARD(join(ctx, pub_path, sizeof(pub_path), out_dir, "public.pem"));
    CLI_GUARD(join(ctx, priv_path, sizeof(priv_path), out_dir, "private.pem"));
  } else {
    const char *p = docstore_config_get(cfg, "RSA_PUBLIC_KEY_PATH");
    const char *q = docstore_config_get(cfg, "RSA_PRIVATE_KEY_PATH");
    snprintf(pub_path, sizeof(pub_path), "%s", p ? p : "public.pem");
    snprintf(priv_path, sizeof(priv_path), "%s", q ? q : "private.pem");
  }
  /* Check both before the (slow) generation; the writes refuse to
   * overwrite too, so a race cannot clobber a key either. */
  const char *paths[] = {priv_path, pub_path};
  for (size_t i = 0; i < 2; i++)
    if (access(paths[i], F_OK) == 0)
      return cli_fail(ctx, DOCSTORE_EEXISTS,
                      "'%s' already exists; refusing to overwrite a key",
                      paths[i]);

  rc = docstore_keygen(&pub_pem, &priv_pem, (unsigned int)bits, pass);
  if (rc < 0) {
    cli_fail_lib(ctx, rc, "key generation", docstore_last_errmsg());
    goto done;
  }
  if ((rc = docstore_keyring_new(&kr, err, sizeof(err))) < 0 ||
      (rc = docstore_keyring_add_public_pem(kr, &key_id, pub_pem,
                                            strlen(pub_pem))) < 0) {
    cli_fail_lib(ctx, rc, "key id", kr ? docstore_keyring_errmsg(kr) : err);
    goto done;
  }
  rc = cli_write_output(ctx, priv_path, priv_pem, strlen(priv_pem), 0600, 1);
  if (rc < 0)
    goto done;
  rc = cli_write_output(ctx, pub_path, pub_pem, strlen(pub_pem), 0644, 1);
  if (rc < 0) {
    unlink(priv_path); /* no half pair left behind */
    goto done;
  }
  printf("key id: %s\npublic key: %s\nprivate key: %s%s\n", key_id, pub_path,
         priv_path, pass ? " (passphrase-protected)" : "");
done:
  docstore_free(key_id);
  docstore_free(pub_pem);
  docstore_free(priv_pem);
  docstore_keyring_free(kr);
  return rc;
}

const cli_command cli_cmd_keygen = {
    "keygen", "[--bits N] [--out-dir DIR] [--passphrase-env VAR]",
    "Generate an RSA key pair (private.pem 0600, public.pem 0644)",
    "  --bits N              modulus size, 2048 to 16384 (default 3072)\n"
    "  --out-dir DIR         write DIR/public.pem and DIR/private.pem\n"
    "                        (created 0700 if missing); without it the files\n"
    "                        are RSA_PUBLIC_KEY_PATH and RSA_PRIVATE_KEY_PATH\n"
    "                        when set, else ./public.pem and ./private.pem\n"
    "  --passphrase-env VAR  encrypt the private key with the passphrase in\n"
    "                        environment variable VAR (default:\n"
    "                        RSA_PRIVATE_KEY_PASSPHRASE when set)\n"
    "Existing files are never overwritten.  Prints the key id.\n",
    run_keygen};
