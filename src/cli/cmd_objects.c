/*
 * docstore CLI - storage commands through the configured service:
 * put, get, rm, ls, url.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

extern const cli_command cli_cmd_put, cli_cmd_get, cli_cmd_rm, cli_cmd_ls,
    cli_cmd_url;

/* The service's keyring must hold what the command needs. */
static int need_keys(cli_ctx *ctx, docstore_service *svc, int need) {
  size_t n_pub = 0, n_priv = 0;
  docstore_keyring *kr = docstore_service_keyring(svc);
  if (kr)
    docstore_keyring_count(kr, &n_pub, &n_priv);
  if ((need & CLI_KEY_PUBLIC) && n_pub == 0)
    return cli_fail(ctx, DOCSTORE_ECONFIG,
                    "no key to encrypt with: set RSA_PUBLIC_KEY_PATH (or "
                    "RSA_PRIVATE_KEY_PATH)");
  if ((need & CLI_KEY_PRIVATE) && n_priv == 0)
    return cli_fail(ctx, DOCSTORE_ECONFIG,
                    "no key to decrypt with: set RSA_PRIVATE_KEY_PATH");
  return 0;
}

static int svc_fail(cli_ctx *ctx, docstore_service *svc, int rc,
                    const char *what) {
  return cli_fail_lib(ctx, rc, what, docstore_service_errmsg(svc));
}

/* ----------------------------------------------------------------- put */

static int run_put(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"file-id", required_argument, NULL, 'f'},
      {"user-id", required_argument, NULL, 'u'},
      {"name", required_argument, NULL, 'n'},
      {"raw", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *file_id = NULL, *user_id = NULL, *name = NULL, *raw_key = NULL;
  docstore_service *svc;
  uint8_t *data = NULL;
  size_t len = 0;
  char *path = NULL;
  int c, rc;

  while ((c = cli_getopt(ctx, &cli_cmd_put, argc, argv, "f:u:n:r:", opts)) !=
         -1) {
    switch (c) {
    case 'f':
      file_id = optarg;
      break;
    case 'u':
      user_id = optarg;
      break;
    case 'n':
      name = optarg;
      break;
    case 'r':
      raw_key = optarg;
      break;
    case 'h':
      return 0;
    default:
      return DOCSTORE_EINVAL;
    }
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 1, 1));
  const char *file = argv[optind];
  if (raw_key && (file_id || user_id || name))
    return cli_usage(ctx, "--raw KEY takes no --file-id, --user-id or --name");
  if (!raw_key && !file_id)
    return cli_usage(ctx, "--file-id ID is required (or --raw KEY)");
  if (!raw_key && !name) {
    if (strcmp(file, "-") == 0)
      return cli_usage(ctx, "--name NAME is required when reading stdin");
    const char *slash = strrchr(file, '/');
    name = slash ? slash + 1 : file;
  }
  CLI_GUARD(cli_service(ctx, &svc));
  if (!raw_key)
    CLI_GUARD(need_keys(ctx, svc, CLI_KEY_PUBLIC));
  CLI_GUARD(cli_read_input(ctx, file, &data, &len));

  if (raw_key) {
    /* Only envelopes go to storage, even raw. */
    docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
    rc = docstore_envelope_info_get(&info, (const char *)data, len);
    docstore_envelope_info_clear(&info);
    if (rc < 0) {
      cli_fail(ctx, rc, "'%s' is not an envelope: %s", file,
               docstore_last_errmsg());
      goto done;
    }
    docstore_provider *p = docstore_service_provider(svc);
    rc = docstore_provider_put(p, raw_key, data, len);
    if (rc < 0) {
      cli_fail_lib(ctx, rc, "cannot store", docstore_provider_errmsg(p));
      goto done;
    }
    printf("%s\n", raw_key);
  } else {
    rc = docstore_service_store_document(svc, &path, file_id, name, data, len,
                                         user_id);
    if (rc < 0) {
      svc_fail(ctx, svc, rc, "cannot store");
      goto done;
    }
    printf("%s\n", path);
  }
done:
  docstore_free(path);
  docstore_free(data);
  return rc;
}

const cli_command cli_cmd_put = {
    "put", "--file-id ID [--user-id U] [--name NAME] FILE | --raw KEY FILE",
    "Encrypt a document and store it; prints its storage path",
    "  --file-id ID   the document's id (1-64 of [A-Za-z0-9_-])\n"
    "  --user-id U    its owner; without it the document goes under\n"
    "                 documents/system/\n"
    "  --name NAME    its file name (default: FILE's base name; required\n"
    "                 with FILE '-', standard input)\n"
    "  --raw KEY      store FILE, which must already be an envelope, as is\n"
    "                 under the storage key KEY\n"
    "The path is documents/user_<U>/YYYY/MM/DD/<ID>_<NAME>_<ext>.json.\n",
    run_put};

/* ----------------------------------------------------------------- get */

static int run_get(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"raw", no_argument, NULL, 'r'},
      {"fallback", required_argument, NULL, 'F'},
      {"file-id", required_argument, NULL, 'f'},
      {"user-id", required_argument, NULL, 'u'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *legacy = NULL, *file_id = NULL, *user_id = NULL;
  int raw = 0, c, rc;
  docstore_service *svc;
  uint8_t *out = NULL;
  char *env = NULL;
  size_t out_len = 0, env_len = 0;

  while ((c = cli_getopt(ctx, &cli_cmd_get, argc, argv, "rF:f:u:", opts)) !=
         -1) {
    switch (c) {
    case 'r':
      raw = 1;
      break;
    case 'F':
      legacy = optarg;
      break;
    case 'f':
      file_id = optarg;
      break;
    case 'u':
      user_id = optarg;
      break;
    case 'h':
      return 0;
    default:
      return DOCSTORE_EINVAL;
    }
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 1, 2));
  const char *path = argv[optind];
  const char *dest = optind + 1 < argc ? argv[optind + 1] : "-";
  if (user_id && !file_id)
    return cli_usage(ctx, "--user-id needs --file-id");
  if (raw && file_id)
    return cli_usage(ctx, "--raw does not decrypt: --file-id is not checked");
  docstore_doc_id doc = {file_id, user_id};
  const docstore_doc_id *expect = file_id ? &doc : NULL;

  CLI_GUARD(cli_service(ctx, &svc));
  if (!raw)
    CLI_GUARD(need_keys(ctx, svc, CLI_KEY_PRIVATE));

  if (!raw && !legacy) {
    rc = docstore_service_read_document(svc, &out, &out_len, path, expect);
    if (rc < 0) {
      svc_fail(ctx, svc, rc, "cannot read");
      goto done;
    }
    rc = cli_write_output(ctx, dest, out, out_len, 0600, 0);
    goto done;
  }
  /* The envelope, from storage or (--fallback) the legacy file.  With
   * --fallback, PATH '-' means the document was never migrated. */
  if (legacy)
    rc = docstore_service_retrieve_fallback(
        svc, &env, &env_len, strcmp(path, "-") == 0 ? NULL : path, legacy);
  else
    rc = docstore_service_retrieve_encrypted(svc, &env, &env_len, path);
  if (rc < 0) {
    svc_fail(ctx, svc, rc, "cannot read");
    goto done;
  }
  if (raw) {
    rc = cli_write_output(ctx, dest, env, env_len, 0600, 0);
    goto done;
  }
  rc = docstore_envelope_open(&out, &out_len, docstore_service_keyring(svc),
                              env, env_len, expect);
  if (rc < 0) {
    cli_fail_lib(ctx, rc, "cannot decrypt", docstore_last_errmsg());
    goto done;
  }
  rc = cli_write_output(ctx, dest, out, out_len, 0600, 0);
done:
  docstore_free(env);
  docstore_free(out);
  return rc;
}

const cli_command cli_cmd_get = {
    "get",
    "[--raw] [--file-id ID [--user-id U]] [--fallback LEGACY_PATH] PATH [OUT]",
    "Read a stored document back and decrypt it",
    "  --raw                 write the envelope, do not decrypt\n"
    "  --file-id ID, --user-id U  refuse a document that is not this one\n"
    "  --fallback LEGACY_PATH  if storage fails, read this legacy local file\n"
    "                        below DOCSTORE_LEGACY_ROOT ('..', links and\n"
    "                        absolute paths elsewhere are refused unless\n"
    "                        DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT=true); PATH\n"
    "                        may then be '-' for a document never migrated\n"
    "OUT defaults to standard output; a file is written atomically, mode "
    "0600.\n",
    run_get};

/* ------------------------------------------------------------------ rm */

static int run_rm(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  docstore_service *svc;
  int c;
  while ((c = cli_getopt(ctx, &cli_cmd_rm, argc, argv, "", opts)) != -1)
    return c == 'h' ? 0 : DOCSTORE_EINVAL;
  CLI_GUARD(cli_positional(ctx, argc, argv, 1, argc));
  CLI_GUARD(cli_service(ctx, &svc));
  for (int i = optind; i < argc; i++) {
    int rc = docstore_service_delete(svc, argv[i]);
    if (rc < 0)
      return svc_fail(ctx, svc, rc, "cannot delete");
  }
  return 0;
}

const cli_command cli_cmd_rm = {
    "rm", "PATH...", "Delete stored documents (a missing one is not an error)",
    "", run_rm};

/* ------------------------------------------------------------------ ls */

static int print_entry(void *payload, const docstore_object_info *info) {
  char date[32];
  (void)payload;
  cli_format_time(date, sizeof(date), info->mtime);
  printf("%s\t%llu\t%s\n", info->key, (unsigned long long)info->size, date);
  return 0;
}

static int run_ls(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  docstore_service *svc;
  int c;
  while ((c = cli_getopt(ctx, &cli_cmd_ls, argc, argv, "", opts)) != -1)
    return c == 'h' ? 0 : DOCSTORE_EINVAL;
  CLI_GUARD(cli_positional(ctx, argc, argv, 0, 1));
  CLI_GUARD(cli_service(ctx, &svc));
  int rc = docstore_service_list(svc, optind < argc ? argv[optind] : NULL,
                                 print_entry, NULL);
  if (rc < 0)
    return svc_fail(ctx, svc, rc, "cannot list");
  return 0;
}

const cli_command cli_cmd_ls = {
    "ls", "[PREFIX]",
    "List stored objects: key, size in bytes, date (UTC), tab-separated",
    "PREFIX defaults to documents/.\n", run_ls};

/* ----------------------------------------------------------------- url */

static int run_url(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      {"hours", required_argument, NULL, 'H'},
      {"seconds", required_argument, NULL, 'S'},
      {"put", no_argument, NULL, 'P'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  unsigned long hours = 24, seconds = 24 * 3600;
  int put = 0, c, rc;
  docstore_service *svc;
  char *url = NULL;

  while ((c = cli_getopt(ctx, &cli_cmd_url, argc, argv, "H:S:P", opts)) != -1) {
    switch (c) {
    case 'H':
      CLI_GUARD(cli_parse_uint(ctx, "--hours", optarg, 1,
                               DOCSTORE_PRESIGN_MAX_SECONDS / 3600, &hours));
      seconds = hours * 3600;
      break;
    case 'S':
      CLI_GUARD(cli_parse_uint(ctx, "--seconds", optarg, 1,
                               DOCSTORE_PRESIGN_MAX_SECONDS, &seconds));
      break;
    case 'P':
      put = 1;
      break;
    case 'h':
      return 0;
    default:
      return DOCSTORE_EINVAL;
    }
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 1, 1));
  CLI_GUARD(cli_service(ctx, &svc));
  if (put) {
    docstore_provider *p = docstore_service_provider(svc);
    rc = docstore_provider_presign(p, &url, argv[optind], DOCSTORE_PRESIGN_PUT,
                                   (uint64_t)seconds);
    if (rc < 0)
      return cli_fail_lib(ctx, rc, "cannot make an upload URL",
                          docstore_provider_errmsg(p));
  } else {
    rc = docstore_service_presign(svc, &url, argv[optind], (uint64_t)seconds);
    if (rc < 0)
      return svc_fail(ctx, svc, rc, "cannot make a download URL");
  }
  printf("%s\n", url);
  docstore_free(url);
  return 0;
}

const cli_command cli_cmd_url = {
    "url", "[--hours N | --seconds N] [--put] PATH",
    "Print a presigned URL for a stored document (S3 only)",
    "  --hours N    validity in hours, 1 to 168 (S3's limit of 7 days;\n"
    "               default 24)\n"
    "  --seconds N  validity in seconds, 1 to 604800 (the last of --hours\n"
    "               and --seconds counts)\n"
    "  --put        a URL to upload to PATH instead of downloading it\n",
    run_url};
