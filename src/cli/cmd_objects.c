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

/* put --raw: only envelopes go to storage, checked whole (the provider's
 * public put takes one buffer). */
static int put_raw(cli_ctx *ctx, docstore_service *svc, const char *key,
                   const char *file) {
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  uint8_t *data = NULL;
  size_t len = 0;
  CLI_GUARD(cli_read_input(ctx, file, &data, &len));
  int rc = docstore_envelope_info_get(&info, (const char *)data, len);
  docstore_envelope_info_clear(&info);
  if (rc < 0) {
    cli_fail(ctx, rc, "'%s' is not an envelope: %s", file,
             docstore_last_errmsg());
  } else {
    docstore_provider *p = docstore_service_provider(svc);
    rc = docstore_provider_put(p, key, data, len);
    if (rc < 0)
      cli_fail_lib(ctx, rc, "cannot store", docstore_provider_errmsg(p));
    else
      printf("%s\n", key);
  }
  docstore_free(data);
  return rc;
}

static int writer_sink(void *payload, const uint8_t *data, size_t len) {
  return docstore_writer_write(payload, data, len);
}

static int run_put(cli_ctx *ctx, int argc, char **argv) {
  enum { O_PROGRESS = 256 };
  static const struct option opts[] = {
      {"file-id", required_argument, NULL, 'f'},
      {"user-id", required_argument, NULL, 'u'},
      {"name", required_argument, NULL, 'n'},
      {"raw", required_argument, NULL, 'r'},
      {"progress", optional_argument, NULL, O_PROGRESS},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *file_id = NULL, *user_id = NULL, *name = NULL, *raw_key = NULL;
  int progress_mode = CLI_PROGRESS_NONE;
  docstore_service *svc;
  docstore_writer *w = NULL;
  docstore_write_options wo;
  cli_progress prog;
  cli_input in;
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
    case O_PROGRESS:
      CLI_GUARD(cli_progress_mode(ctx, optarg, &progress_mode));
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
  if (raw_key)
    return put_raw(ctx, svc, raw_key, file);
  CLI_GUARD(need_keys(ctx, svc, CLI_KEY_PUBLIC));
  CLI_GUARD(cli_input_open(ctx, &in, file));

  cli_progress_init(&prog, progress_mode, "put");
  docstore_write_options_init(&wo, DOCSTORE_WRITE_OPTIONS_VERSION);
  wo.size_hint = in.size == UINT64_MAX ? 0 : in.size;
  if (progress_mode != CLI_PROGRESS_NONE) {
    wo.progress = cli_progress_bytes;
    wo.progress_payload = &prog;
  }
  rc = docstore_writer_begin(&w, svc, file_id, name, user_id, &wo);
  if (rc < 0) {
    svc_fail(ctx, svc, rc, "cannot store");
    goto done;
  }
  cli_sigint_catch();
  rc = cli_copy(ctx, &in, writer_sink, w, NULL);
  if (rc < 0 && !ctx->code) /* the writer failed */
    cli_fail_lib(ctx, rc, "cannot store", docstore_writer_errmsg(w));
  if (rc == 0 && (rc = docstore_writer_commit(w, &path)) < 0)
    cli_fail_lib(ctx, rc, "cannot store", docstore_writer_errmsg(w));
  cli_sigint_restore();
  if (rc == 0) {
    cli_progress_end(&prog);
    printf("%s\n", path);
  }
done:
  docstore_writer_free(w); /* aborts an uncommitted document */
  cli_input_close(&in);
  docstore_free(path);
  return rc;
}

const cli_command cli_cmd_put = {
    "put",
    "--file-id ID [--user-id U] [--name NAME] [--progress[=MODE]] FILE | "
    "--raw KEY FILE",
    "Encrypt a document and store it; prints its storage path",
    "  --file-id ID   the document's id (1-64 of [A-Za-z0-9_-])\n"
    "  --user-id U    its owner; without it the document goes under\n"
    "                 documents/system/\n"
    "  --name NAME    its file name (default: FILE's base name; required\n"
    "                 with FILE '-', standard input)\n"
    "  --raw KEY      store FILE, which must already be an envelope, as is\n"
    "                 under the storage key KEY (read whole)\n"
    "  --progress[=MODE]  report progress on standard error: auto (a bar on\n"
    "                 a terminal, else a line every 10 s), bar, lines, none\n"
    "FILE ('-': standard input) streams through in 1 MiB blocks, in the\n"
    "format DOCSTORE_ENVELOPE_VERSION says (default 2: any size); the\n"
    "document appears only once complete.\n"
    "The path is documents/user_<U>/YYYY/MM/DD/<ID>_<NAME>_<ext>.json.\n",
    run_put};

/* ----------------------------------------------------------------- get */

/* The document through a reader: OUT gets only verified plaintext, and a
 * file OUT is renamed into place only after the end verified. */
static int get_stream(cli_ctx *ctx, docstore_service *svc, const char *path,
                      const docstore_doc_id *expect, const char *dest,
                      int progress_mode) {
  docstore_reader *r = NULL;
  docstore_read_options ro;
  cli_progress prog;
  cli_output out;
  uint8_t *buf = NULL;
  size_t got = 0;
  int rc;

  cli_progress_init(&prog, progress_mode, "get");
  docstore_read_options_init(&ro, DOCSTORE_READ_OPTIONS_VERSION);
  if (progress_mode != CLI_PROGRESS_NONE) {
    ro.progress = cli_progress_bytes;
    ro.progress_payload = &prog;
  }
  rc = docstore_reader_open(&r, svc, path, expect, &ro);
  if (rc < 0)
    return svc_fail(ctx, svc, rc, "cannot read");
  if (!(buf = docstore_malloc(CLI_STREAM_BUF))) {
    rc = cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
    goto close;
  }
  if ((rc = cli_output_open(ctx, &out, dest, 0600)) < 0)
    goto close;
  cli_sigint_catch();
  for (;;) {
    if (cli_interrupted) {
      rc = cli_fail(ctx, DOCSTORE_ECANCELED, "interrupted");
      break;
    }
    rc = docstore_reader_read(r, buf, CLI_STREAM_BUF, &got);
    if (rc < 0) {
      cli_fail_lib(ctx, rc, "cannot read", docstore_reader_errmsg(r));
      break;
    }
    if (got == 0) /* the end, after the last segment verified */
      break;
    if ((rc = cli_output_write(&out, buf, got)) < 0)
      break;
  }
  cli_sigint_restore();
  rc = cli_output_finish(&out, rc, &prog);
close:
  docstore_free(buf); /* wipes */
  docstore_reader_close(r);
  return rc;
}

static int run_get(cli_ctx *ctx, int argc, char **argv) {
  enum { O_PROGRESS = 256 };
  static const struct option opts[] = {
      {"raw", no_argument, NULL, 'r'},
      {"fallback", required_argument, NULL, 'F'},
      {"file-id", required_argument, NULL, 'f'},
      {"user-id", required_argument, NULL, 'u'},
      {"progress", optional_argument, NULL, O_PROGRESS},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *legacy = NULL, *file_id = NULL, *user_id = NULL;
  int raw = 0, progress_mode = CLI_PROGRESS_NONE, c, rc;
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
    case O_PROGRESS:
      CLI_GUARD(cli_progress_mode(ctx, optarg, &progress_mode));
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

  if (!raw && !legacy)
    return get_stream(ctx, svc, path, expect, dest, progress_mode);
  /* The envelope, from storage or (--fallback) the legacy file, whole.
   * With --fallback, PATH '-' means the document was never migrated. */
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
    "[--raw] [--file-id ID [--user-id U]] [--fallback LEGACY_PATH] "
    "[--progress[=MODE]] PATH [OUT]",
    "Read a stored document back and decrypt it",
    "  --raw                 write the envelope, do not decrypt\n"
    "  --file-id ID, --user-id U  refuse a document that is not this one\n"
    "  --fallback LEGACY_PATH  if storage fails, read this legacy local file\n"
    "                        below DOCSTORE_LEGACY_ROOT ('..', links and\n"
    "                        absolute paths elsewhere are refused unless\n"
    "                        DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT=true); PATH\n"
    "                        may then be '-' for a document never migrated\n"
    "  --progress[=MODE]     report progress on standard error: auto (a\n"
    "                        bar on a terminal, else a line every 10 s),\n"
    "                        bar, lines or none\n"
    "OUT defaults to standard output.  The document streams in 1 MiB\n"
    "blocks: only verified plaintext is written, and the exit status says\n"
    "whether the whole document verified.  A file OUT is written to a\n"
    "temporary file (mode 0600) renamed only on success.  --raw and\n"
    "--fallback read the envelope whole (v1 and legacy: at most 1.5 GiB).\n",
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
