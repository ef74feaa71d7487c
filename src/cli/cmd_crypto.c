/*
 * docstore CLI - envelope commands on files: encrypt, decrypt, rewrap.
 * No storage is involved: IN and OUT are files ('-': stdin / stdout).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

extern const cli_command cli_cmd_encrypt, cli_cmd_decrypt, cli_cmd_rewrap;

typedef struct crypto_args {
  const char *file_id, *user_id, *to_key;
  cli_keys keys;
  const char *in, *out;
  docstore_doc_id doc;
  const docstore_doc_id *doc_ptr; /* NULL: no identity given */
} crypto_args;

#define OPT_FILE_ID                                                            \
  { "file-id", required_argument, NULL, 'f' }
#define OPT_USER_ID                                                            \
  { "user-id", required_argument, NULL, 'u' }
#define OPT_PUBLIC_KEY                                                         \
  { "public-key", required_argument, NULL, 'k' }
#define OPT_PRIVATE_KEY                                                        \
  { "private-key", required_argument, NULL, 'K' }
#define OPT_PASS_ENV                                                           \
  { "passphrase-env", required_argument, NULL, 'p' }
#define OPT_TO_KEY                                                             \
  { "to-key", required_argument, NULL, 't' }
#define OPT_HELP                                                               \
  { "help", no_argument, NULL, 'h' }
#define OPT_END                                                                \
  { NULL, 0, NULL, 0 }

/* Returns 0, a negative code, or 1 when --help was shown. */
static int parse_args(cli_ctx *ctx, const cli_command *cmd, int argc,
                      char **argv, const char *shortopts,
                      const struct option *longopts, crypto_args *a) {
  int c;
  memset(a, 0, sizeof(*a));
  while ((c = cli_getopt(ctx, cmd, argc, argv, shortopts, longopts)) != -1) {
    switch (c) {
    case 'f':
      a->file_id = optarg;
      break;
    case 'u':
      a->user_id = optarg;
      break;
    case 't':
      a->to_key = optarg;
      break;
    case 'p':
      a->keys.passphrase_env = optarg;
      break;
    case 'k':
      CLI_GUARD(
          cli_keys_add(ctx, a->keys.public_files, &a->keys.n_public, optarg));
      break;
    case 'K':
      CLI_GUARD(
          cli_keys_add(ctx, a->keys.private_files, &a->keys.n_private, optarg));
      break;
    case 'h':
      return 1;
    default:
      return DOCSTORE_EINVAL;
    }
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 2, 2));
  a->in = argv[optind];
  a->out = argv[optind + 1];
  if (a->user_id && !a->file_id)
    return cli_usage(ctx, "--user-id needs --file-id");
  if (a->file_id) {
    a->doc.file_id = a->file_id;
    a->doc.user_id = a->user_id;
    a->doc_ptr = &a->doc;
  }
  return 0;
}

/* Common tail: read IN, transform, write OUT (0600, atomic). */
typedef int (*transform_fn)(cli_ctx *ctx, docstore_keyring *kr,
                            const crypto_args *a, const uint8_t *in,
                            size_t in_len, uint8_t **out, size_t *out_len);

static int run_transform(cli_ctx *ctx, const crypto_args *a, int need,
                         transform_fn fn) {
  docstore_keyring *kr = NULL;
  uint8_t *in = NULL, *out = NULL;
  size_t in_len = 0, out_len = 0;
  int rc;

  if ((rc = cli_keyring(ctx, &kr, &a->keys, need)) < 0)
    return rc;
  if ((rc = cli_read_input(ctx, a->in, &in, &in_len)) < 0)
    goto done;
  if ((rc = fn(ctx, kr, a, in, in_len, &out, &out_len)) < 0)
    goto done;
  rc = cli_write_output(ctx, a->out, out, out_len, 0600, 0);
done:
  docstore_free(in);
  docstore_free(out);
  docstore_keyring_free(kr);
  return rc;
}

/* ------------------------------------------------------------- encrypt */

static int do_seal(cli_ctx *ctx, docstore_keyring *kr, const crypto_args *a,
                   const uint8_t *in, size_t in_len, uint8_t **out,
                   size_t *out_len) {
  char *env = NULL;
  int rc = docstore_envelope_seal(&env, out_len, kr, in, in_len, a->doc_ptr);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "cannot encrypt", docstore_last_errmsg());
  *out = (uint8_t *)env;
  return 0;
}

static int run_encrypt(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {OPT_FILE_ID, OPT_USER_ID, OPT_PUBLIC_KEY,
                                       OPT_HELP, OPT_END};
  crypto_args a;
  int rc = parse_args(ctx, &cli_cmd_encrypt, argc, argv, "f:u:k:", opts, &a);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  return run_transform(ctx, &a, CLI_KEY_PUBLIC, do_seal);
}

const cli_command cli_cmd_encrypt = {
    "encrypt", "[--file-id ID [--user-id U]] [--public-key FILE] IN OUT",
    "Encrypt a file into an envelope (no storage involved)",
    "  --file-id ID       bind the envelope to this document (1-64 of\n"
    "                     [A-Za-z0-9_-]); decrypt --file-id then checks it\n"
    "  --user-id U        the document's owner (needs --file-id)\n"
    "  --public-key FILE  seal under this key (default RSA_PUBLIC_KEY_PATH,\n"
    "                     else the public half of RSA_PRIVATE_KEY_PATH)\n"
    "IN and OUT may be '-' (standard input / output).  OUT is written\n"
    "atomically with mode 0600.\n",
    run_encrypt};

/* ------------------------------------------------------------- decrypt */

static int do_open(cli_ctx *ctx, docstore_keyring *kr, const crypto_args *a,
                   const uint8_t *in, size_t in_len, uint8_t **out,
                   size_t *out_len) {
  int rc = docstore_envelope_open(out, out_len, kr, (const char *)in, in_len,
                                  a->doc_ptr);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "cannot decrypt", docstore_last_errmsg());
  return 0;
}

static int run_decrypt(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {OPT_FILE_ID,     OPT_USER_ID,
                                       OPT_PRIVATE_KEY, OPT_PASS_ENV,
                                       OPT_HELP,        OPT_END};
  crypto_args a;
  int rc = parse_args(ctx, &cli_cmd_decrypt, argc, argv, "f:u:K:p:", opts, &a);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  return run_transform(ctx, &a, CLI_KEY_PRIVATE, do_open);
}

const cli_command cli_cmd_decrypt = {
    "decrypt",
    "[--file-id ID [--user-id U]] [--private-key FILE]... "
    "[--passphrase-env VAR] IN OUT",
    "Decrypt an envelope file (this format or the legacy one)",
    "  --file-id ID, --user-id U  refuse an envelope bound to another\n"
    "                     document (exit status 5)\n"
    "  --private-key FILE decrypt with this key; repeat it for several keys\n"
    "                     (default RSA_PRIVATE_KEY_PATH)\n"
    "  --passphrase-env VAR  the key's passphrase is in environment variable\n"
    "                     VAR (default RSA_PRIVATE_KEY_PASSPHRASE)\n"
    "Nothing is written unless the envelope is intact.  OUT ('-': standard\n"
    "output) is written atomically with mode 0600.\n",
    run_decrypt};

/* -------------------------------------------------------------- rewrap */

static int do_rewrap(cli_ctx *ctx, docstore_keyring *kr, const crypto_args *a,
                     const uint8_t *in, size_t in_len, uint8_t **out,
                     size_t *out_len) {
  char *key_id = NULL, *env = NULL;
  /* The target key joins the keyring the private keys were loaded into. */
  int rc = docstore_keyring_add_public_file(kr, &key_id, a->to_key);
  if (rc < 0)
    return cli_fail(ctx, rc, "--to-key '%s': %s", a->to_key,
                    docstore_keyring_errmsg(kr));
  rc = docstore_envelope_rewrap(&env, out_len, kr, (const char *)in, in_len,
                                key_id);
  docstore_free(key_id);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "cannot rewrap", docstore_last_errmsg());
  *out = (uint8_t *)env;
  return 0;
}

static int run_rewrap(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {OPT_TO_KEY, OPT_PRIVATE_KEY,
                                       OPT_PASS_ENV, OPT_HELP, OPT_END};
  crypto_args a;
  int rc = parse_args(ctx, &cli_cmd_rewrap, argc, argv, "t:K:p:", opts, &a);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  if (!a.to_key)
    return cli_usage(ctx, "--to-key PUBLIC.pem is required");
  return run_transform(ctx, &a, CLI_KEY_PRIVATE, do_rewrap);
}

const cli_command cli_cmd_rewrap = {
    "rewrap",
    "--to-key PUBLIC.pem [--private-key FILE]... [--passphrase-env VAR] IN "
    "OUT",
    "Re-wrap an envelope's key under another public key (key rotation)",
    "  --to-key FILE      the new public key (PEM)\n"
    "  --private-key FILE the current private key (default\n"
    "                     RSA_PRIVATE_KEY_PATH); repeatable\n"
    "  --passphrase-env VAR  as for decrypt\n"
    "The ciphertext is kept; legacy envelopes come out in the current\n"
    "format.  OUT is written atomically with mode 0600.\n",
    run_rewrap};
