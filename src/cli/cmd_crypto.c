/*
 * docstore CLI - envelope commands: encrypt, decrypt, rewrap, convert.
 * encrypt, decrypt and rewrap work on files ('-': stdin / stdout) only;
 * convert also rewrites a stored document in place.  Documents stream in
 * CLI_STREAM_BUF blocks through a sealer / opener (cli_stream.c): memory
 * stays bounded whatever the size, except for v1 and legacy envelopes,
 * which the library buffers (they are capped at 1 GiB).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

extern const cli_command cli_cmd_encrypt, cli_cmd_decrypt, cli_cmd_rewrap,
    cli_cmd_convert;

/* Default zstd level of a bare --compress. */
#define DEFAULT_COMPRESSION 3

typedef struct crypto_args {
  const char *file_id, *user_id, *to_key;
  cli_keys keys;
  const char *in, *out;
  docstore_doc_id doc;
  const docstore_doc_id *doc_ptr; /* NULL: no identity given */
  /* encrypt, convert */
  const char *recipients[CLI_MAX_KEYS];
  size_t n_recipients;
  int format;            /* 0: DOCSTORE_ENVELOPE_VERSION, else 1 or 2 */
  int compression_level; /* 0 off */
  unsigned int segment_size;
  int progress; /* CLI_PROGRESS_*; NONE without --progress */
  /* rewrap */
  const char *add[CLI_MAX_KEYS];
  size_t n_add;
  const char *remove[CLI_MAX_KEYS];
  size_t n_remove;
} crypto_args;

enum {
  O_RECIPIENT = 256,
  O_FORMAT,
  O_COMPRESS,
  O_SEGMENT,
  O_PROGRESS,
  O_ADD,
  O_REMOVE
};

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
#define OPT_RECIPIENT                                                          \
  { "recipient", required_argument, NULL, O_RECIPIENT }
#define OPT_FORMAT                                                             \
  { "format", required_argument, NULL, O_FORMAT }
#define OPT_COMPRESS                                                           \
  { "compress", optional_argument, NULL, O_COMPRESS }
#define OPT_SEGMENT                                                            \
  { "segment-size", required_argument, NULL, O_SEGMENT }
#define OPT_PROGRESS                                                           \
  { "progress", optional_argument, NULL, O_PROGRESS }
#define OPT_ADD                                                                \
  { "add", required_argument, NULL, O_ADD }
#define OPT_REMOVE                                                             \
  { "remove", required_argument, NULL, O_REMOVE }
#define OPT_HELP                                                               \
  { "help", no_argument, NULL, 'h' }
#define OPT_END                                                                \
  { NULL, 0, NULL, 0 }

/* Returns 0, a negative code, or 1 when --help was shown.  IN and OUT
 * are the positional arguments (min_pos .. 2 of them). */
static int parse_args(cli_ctx *ctx, const cli_command *cmd, int argc,
                      char **argv, const char *shortopts,
                      const struct option *longopts, crypto_args *a,
                      int min_pos) {
  unsigned long v;
  int c;
  memset(a, 0, sizeof(*a));
  a->progress = CLI_PROGRESS_NONE;
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
    case O_RECIPIENT:
      CLI_GUARD(cli_keys_add(ctx, a->recipients, &a->n_recipients, optarg));
      break;
    case O_ADD:
      CLI_GUARD(cli_keys_add(ctx, a->add, &a->n_add, optarg));
      break;
    case O_REMOVE:
      CLI_GUARD(cli_keys_add(ctx, a->remove, &a->n_remove, optarg));
      break;
    case O_FORMAT:
      CLI_GUARD(cli_parse_uint(ctx, "--format", optarg, 1, 2, &v));
      a->format = (int)v;
      break;
    case O_COMPRESS:
      v = DEFAULT_COMPRESSION;
      if (optarg)
        CLI_GUARD(cli_parse_uint(ctx, "--compress", optarg, 0, 19, &v));
      a->compression_level = (int)v;
      break;
    case O_SEGMENT:
      CLI_GUARD(
          cli_parse_uint(ctx, "--segment-size", optarg, 4096, 1UL << 24, &v));
      if (v & (v - 1))
        return cli_usage(ctx, "--segment-size must be a power of two, got %lu",
                         v);
      a->segment_size = (unsigned int)v;
      break;
    case O_PROGRESS:
      CLI_GUARD(cli_progress_mode(ctx, optarg, &a->progress));
      break;
    case 'h':
      return 1;
    default:
      return DOCSTORE_EINVAL;
    }
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, min_pos, 2));
  a->in = argv[optind];
  a->out = optind + 1 < argc ? argv[optind + 1] : NULL;
  if (a->user_id && !a->file_id)
    return cli_usage(ctx, "--user-id needs --file-id");
  if (a->file_id) {
    a->doc.file_id = a->file_id;
    a->doc.user_id = a->user_id;
    a->doc_ptr = &a->doc;
  }
  return 0;
}

/* The envelope version new documents get: --format, else the
 * DOCSTORE_ENVELOPE_VERSION setting, else 2. */
static int envelope_format(cli_ctx *ctx, const crypto_args *a, int *format) {
  docstore_config *cfg;
  *format = a->format;
  if (*format)
    return 0;
  CLI_GUARD(cli_config(ctx, &cfg));
  const char *v = docstore_config_get(cfg, "DOCSTORE_ENVELOPE_VERSION");
  if (!v || !*v || strcmp(v, "2") == 0)
    *format = DOCSTORE_ENVELOPE_V2;
  else if (strcmp(v, "1") == 0)
    *format = 1;
  else
    return cli_fail(ctx, DOCSTORE_ECONFIG,
                    "DOCSTORE_ENVELOPE_VERSION must be 1 or 2, got '%s'", v);
  return 0;
}

/* Sealing: the keyring's default key, then each --recipient file. */
typedef struct seal_setup {
  docstore_seal_options o;
  char *ids[CLI_MAX_KEYS + 1];
  size_t n_ids;
  docstore_sealer *sealer;
} seal_setup;

static void seal_setup_free(seal_setup *s) {
  for (size_t i = 0; i < s->n_ids; i++)
    docstore_free(s->ids[i]);
  s->n_ids = 0;
  docstore_sealer_free(s->sealer);
  s->sealer = NULL;
}

static int seal_setup_new(cli_ctx *ctx, docstore_keyring *kr,
                          const crypto_args *a, const docstore_doc_id *doc,
                          seal_setup *s) {
  int format, rc;
  memset(s, 0, sizeof(*s));
  CLI_GUARD(envelope_format(ctx, a, &format));
  if (format == 1 &&
      (a->n_recipients || a->compression_level || a->segment_size))
    return cli_usage(ctx, "--recipient, --compress and --segment-size need "
                          "--format 2");
  docstore_seal_options_init(&s->o, DOCSTORE_SEAL_OPTIONS_VERSION);
  s->o.format = format;
  s->o.doc = doc;
  s->o.segment_size = a->segment_size;
  s->o.compression_level = a->compression_level;
  if (a->n_recipients) {
    if (!ctx->key_id)
      return cli_fail(ctx, DOCSTORE_ECONFIG, "no default key to seal under");
    size_t n = strlen(ctx->key_id) + 1;
    if (!(s->ids[0] = docstore_malloc(n)))
      return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
    memcpy(s->ids[0], ctx->key_id, n);
    s->n_ids = 1;
    for (size_t i = 0; i < a->n_recipients; i++) {
      rc = docstore_keyring_add_public_file(kr, &s->ids[s->n_ids],
                                            a->recipients[i]);
      if (rc < 0) {
        cli_fail(ctx, rc, "--recipient '%s': %s", a->recipients[i],
                 docstore_keyring_errmsg(kr));
        seal_setup_free(s);
        return rc;
      }
      s->n_ids++;
    }
    s->o.recipients = (const char *const *)s->ids;
    s->o.recipients_count = s->n_ids;
  }
  rc = docstore_sealer_new(&s->sealer, kr, &s->o);
  if (rc < 0) {
    cli_fail_lib(ctx, rc, "cannot encrypt", docstore_last_errmsg());
    seal_setup_free(s);
  }
  return rc;
}

/* IN -> head stage (-> ... -> tail stage) -> OUT, with progress on the
 * input; `end` drains the chain at the end of IN.  OUT is committed only
 * when everything succeeded. */
typedef int (*chain_end_fn)(void *payload);

static int stage_end(void *st) { return cli_stage_end(st); }

static int run_chain(cli_ctx *ctx, const crypto_args *a, const char *verb,
                     cli_stage *head, cli_stage *tail, chain_end_fn end,
                     void *end_payload) {
  cli_input in;
  cli_output out;
  cli_progress prog;
  int rc;
  CLI_GUARD(cli_input_open(ctx, &in, a->in));
  if ((rc = cli_output_open(ctx, &out, a->out, 0600)) < 0) {
    cli_input_close(&in);
    return rc;
  }
  tail->sink = cli_output_sink;
  tail->sink_payload = &out;
  cli_progress_init(&prog, a->progress, verb);
  cli_sigint_catch();
  rc = cli_copy(ctx, &in, cli_stage_push, head, &prog);
  if (rc == 0)
    rc = end(end_payload); /* an opener: 0 only once all verified */
  cli_sigint_restore();
  rc = cli_output_finish(&out, rc, &prog);
  cli_input_close(&in);
  return rc;
}

/* ------------------------------------------------------------- encrypt */

static int run_encrypt(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      OPT_FILE_ID,  OPT_USER_ID, OPT_PUBLIC_KEY, OPT_RECIPIENT, OPT_FORMAT,
      OPT_COMPRESS, OPT_SEGMENT, OPT_PROGRESS,   OPT_HELP,      OPT_END};
  crypto_args a;
  docstore_keyring *kr = NULL;
  seal_setup seal;
  cli_stage st;
  int rc = parse_args(ctx, &cli_cmd_encrypt, argc, argv, "f:u:k:", opts, &a, 2);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  CLI_GUARD(cli_keyring(ctx, &kr, &a.keys, CLI_KEY_PUBLIC));
  if ((rc = seal_setup_new(ctx, kr, &a, a.doc_ptr, &seal)) == 0) {
    if ((rc = cli_stage_init(&st, ctx, "cannot encrypt")) == 0) {
      cli_stage_sealer(&st, seal.sealer);
      rc = run_chain(ctx, &a, "encrypt", &st, &st, stage_end, &st);
    }
    cli_stage_free(&st);
    seal_setup_free(&seal);
  }
  docstore_keyring_free(kr);
  return rc;
}

const cli_command cli_cmd_encrypt = {
    "encrypt",
    "[--file-id ID [--user-id U]] [--public-key FILE] [--recipient FILE]... "
    "[--format 1|2] [--compress[=LEVEL]] [--segment-size N] "
    "[--progress[=MODE]] IN OUT",
    "Encrypt a file into an envelope (no storage involved)",
    "  --file-id ID       bind the envelope to this document (1-64 of\n"
    "                     [A-Za-z0-9_-]); decrypt --file-id then checks it\n"
    "  --user-id U        the document's owner (needs --file-id)\n"
    "  --public-key FILE  seal under this key (default RSA_PUBLIC_KEY_PATH,\n"
    "                     else the public half of RSA_PRIVATE_KEY_PATH)\n"
    "  --recipient FILE   also seal for this public key (repeatable, up to\n"
    "                     8; format 2): each can decrypt alone\n"
    "  --format 1|2       envelope format (default DOCSTORE_ENVELOPE_VERSION,\n"
    "                     else 2); format 1 is JSON, read whole, 1 GiB max\n"
    "  --compress[=LEVEL] zstd before encryption, level 1-19 (default 3;\n"
    "                     format 2; see docs/FORMAT.md on when it leaks)\n"
    "  --segment-size N   plaintext bytes per segment, a power of two from\n"
    "                     4096 to 16777216 (default 65536; format 2)\n"
    "  --progress[=MODE]  report progress on standard error: auto (a bar\n"
    "                     on a terminal, else a line every 10 s), bar,\n"
    "                     lines or none\n"
    "IN and OUT may be '-' (standard input / output); the file streams\n"
    "through in 1 MiB blocks.  OUT is written to a temporary file beside it\n"
    "with mode 0600 and renamed only on success.\n",
    run_encrypt};

/* ------------------------------------------------------------- decrypt */

static int run_decrypt(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      OPT_FILE_ID,  OPT_USER_ID, OPT_PRIVATE_KEY, OPT_PASS_ENV,
      OPT_PROGRESS, OPT_HELP,    OPT_END};
  crypto_args a;
  docstore_keyring *kr = NULL;
  docstore_opener *op = NULL;
  cli_stage st;
  int rc =
      parse_args(ctx, &cli_cmd_decrypt, argc, argv, "f:u:K:p:", opts, &a, 2);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  CLI_GUARD(cli_keyring(ctx, &kr, &a.keys, CLI_KEY_PRIVATE));
  if ((rc = docstore_opener_new(&op, kr, a.doc_ptr)) < 0)
    cli_fail_lib(ctx, rc, "cannot decrypt", docstore_last_errmsg());
  else if ((rc = cli_stage_init(&st, ctx, "cannot decrypt")) == 0) {
    cli_stage_opener(&st, op);
    rc = run_chain(ctx, &a, "decrypt", &st, &st, stage_end, &st);
  }
  if (op)
    cli_stage_free(&st);
  docstore_opener_free(op);
  docstore_keyring_free(kr);
  return rc;
}

const cli_command cli_cmd_decrypt = {
    "decrypt",
    "[--file-id ID [--user-id U]] [--private-key FILE]... "
    "[--passphrase-env VAR] [--progress[=MODE]] IN OUT",
    "Decrypt an envelope file (any format: 2, 1 or the legacy one)",
    "  --file-id ID, --user-id U  refuse an envelope bound to another\n"
    "                     document (exit status 5)\n"
    "  --private-key FILE decrypt with this key; repeat it for several keys\n"
    "                     (default RSA_PRIVATE_KEY_PATH)\n"
    "  --passphrase-env VAR  the key's passphrase is in environment variable\n"
    "                     VAR (default RSA_PRIVATE_KEY_PASSPHRASE)\n"
    "  --progress[=MODE]  as for encrypt\n"
    "A file OUT is written to a temporary file (mode 0600) renamed only when\n"
    "the whole envelope verified: nothing is written otherwise.  With OUT\n"
    "'-', plaintext goes out segment by segment, each only after it\n"
    "verified, and the exit status says whether the whole envelope did\n"
    "(0: intact, complete; 5: tampered or truncated).\n",
    run_decrypt};

/* -------------------------------------------------------------- rewrap */

/* The key id of --remove's argument: a key id as is, else a public key
 * file's (loaded into kr). */
static int key_id_of(cli_ctx *ctx, docstore_keyring *kr, const char *arg,
                     char **out) {
  if (strncmp(arg, "sha256:", 7) == 0) {
    size_t n = strlen(arg) + 1;
    if (!(*out = docstore_malloc(n)))
      return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
    memcpy(*out, arg, n);
    return 0;
  }
  int rc = docstore_keyring_add_public_file(kr, out, arg);
  if (rc < 0)
    return cli_fail(ctx, rc,
                    "'%s' is neither a key id (sha256:...) nor a "
                    "public key file: %s",
                    arg, docstore_keyring_errmsg(kr));
  return 0;
}

/* v1 / legacy: the whole envelope is rewritten under --to-key. */
static int rewrap_whole(cli_ctx *ctx, docstore_keyring *kr, const char *new_id,
                        cli_input *in, const uint8_t *prefix, size_t prefix_len,
                        cli_output *out) {
  cli_membuf m = {ctx, NULL, 0, 0};
  char *env = NULL;
  size_t env_len = 0;
  int rc = cli_membuf_sink(&m, prefix, prefix_len);
  if (rc == 0)
    rc = cli_copy(ctx, in, cli_membuf_sink, &m, NULL);
  if (rc == 0) {
    rc = docstore_envelope_rewrap(&env, &env_len, kr, (const char *)m.data,
                                  m.len, new_id);
    if (rc < 0)
      cli_fail_lib(ctx, rc, "cannot rewrap", docstore_last_errmsg());
  }
  if (rc == 0)
    rc = cli_output_write(out, (const uint8_t *)env, env_len);
  docstore_free(env);
  cli_membuf_free(&m);
  return rc;
}

/* v2: a new header, then the segments copied as they are. */
static int rewrap_v2(cli_ctx *ctx, docstore_keyring *kr, cli_input *in,
                     const uint8_t *prefix, size_t prefix_len, size_t hdr_len,
                     char *const *add, size_t n_add, char *const *remove,
                     size_t n_remove, cli_output *out) {
  uint8_t *hdr = docstore_malloc(hdr_len), *nh = NULL;
  size_t got = 0, nh_len = 0, old_len = 0;
  int rc;
  if (!hdr)
    return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
  memcpy(hdr, prefix, prefix_len);
  rc = cli_input_read(ctx, in, hdr + prefix_len, hdr_len - prefix_len, &got);
  if (rc == 0 && prefix_len + got < hdr_len)
    rc = cli_fail(ctx, DOCSTORE_EFORMAT,
                  "cannot rewrap: '%s' ends inside the envelope header",
                  in->path);
  if (rc == 0) {
    rc = docstore_envelope_rewrap_header(
        &nh, &nh_len, &old_len, kr, hdr, hdr_len, (const char *const *)add,
        n_add, (const char *const *)remove, n_remove);
    if (rc < 0)
      cli_fail_lib(ctx, rc, "cannot rewrap", docstore_last_errmsg());
  }
  if (rc == 0 && old_len > hdr_len)
    rc = cli_fail(ctx, DOCSTORE_EFORMAT, "cannot rewrap: header size");
  if (rc == 0)
    rc = cli_output_write(out, nh, nh_len);
  /* Whatever of the segments was read with the header, then the rest. */
  if (rc == 0)
    rc = cli_output_write(out, hdr + old_len, hdr_len - old_len);
  if (rc == 0)
    rc = cli_copy(ctx, in, cli_output_sink, out, NULL);
  docstore_free(nh);
  docstore_free(hdr);
  return rc;
}

static int run_rewrap(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      OPT_TO_KEY,   OPT_ADD,  OPT_REMOVE, OPT_PRIVATE_KEY,
      OPT_PASS_ENV, OPT_HELP, OPT_END};
  crypto_args a;
  docstore_keyring *kr = NULL;
  char *add[CLI_MAX_KEYS + 1] = {NULL}, *remove[CLI_MAX_KEYS + 1] = {NULL};
  size_t n_add = 0, n_remove = 0, hdr_len = 0, got = 0;
  uint8_t prefix[16];
  cli_input in;
  cli_output out;
  int rc = parse_args(ctx, &cli_cmd_rewrap, argc, argv, "t:K:p:", opts, &a, 2);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  if (!a.to_key && !a.n_add && !a.n_remove)
    return cli_usage(ctx, "--to-key, --add or --remove is required");
  if (a.to_key && (a.n_add || a.n_remove))
    return cli_usage(ctx, "--to-key replaces every recipient: it takes no "
                          "--add or --remove");
  CLI_GUARD(cli_keyring(ctx, &kr, &a.keys, CLI_KEY_PRIVATE));
  /* The keys to add join the keyring the private keys were loaded into. */
  if (a.to_key) {
    a.add[a.n_add++] = a.to_key;
    remove[n_remove] = docstore_malloc(2);
    if (!remove[n_remove]) {
      rc = cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
      goto free_ids;
    }
    memcpy(remove[n_remove++], "*", 2);
  }
  for (size_t i = 0; i < a.n_add; i++) {
    rc = docstore_keyring_add_public_file(kr, &add[n_add], a.add[i]);
    if (rc < 0) {
      cli_fail(ctx, rc, "%s '%s': %s", a.to_key ? "--to-key" : "--add",
               a.add[i], docstore_keyring_errmsg(kr));
      goto free_ids;
    }
    n_add++;
  }
  for (size_t i = 0; i < a.n_remove; i++) {
    if ((rc = key_id_of(ctx, kr, a.remove[i], &remove[n_remove])) < 0)
      goto free_ids;
    n_remove++;
  }
  if ((rc = cli_input_open(ctx, &in, a.in)) < 0)
    goto free_ids;
  if ((rc = cli_output_open(ctx, &out, a.out, 0600)) < 0)
    goto close_in;
  rc = cli_input_read(ctx, &in, prefix, sizeof(prefix), &got);
  if (rc == 0) {
    int hrc = got < sizeof(prefix)
                  ? DOCSTORE_EFORMAT
                  : docstore_envelope_header_size(&hdr_len, prefix, got);
    if (hrc == 0)
      rc = rewrap_v2(ctx, kr, &in, prefix, got, hdr_len, add, n_add, remove,
                     n_remove, &out);
    else if (hrc != DOCSTORE_EFORMAT)
      rc = cli_fail_lib(ctx, hrc, "cannot rewrap", docstore_last_errmsg());
    else if (!a.to_key)
      rc = cli_fail(ctx, DOCSTORE_EUNSUPPORTED,
                    "--add and --remove need a format 2 envelope (docstore "
                    "convert makes one)");
    else
      rc = rewrap_whole(ctx, kr, add[0], &in, prefix, got, &out);
  }
  if (rc == 0)
    rc = cli_output_commit(&out, 0);
  else
    cli_output_abort(&out);
close_in:
  cli_input_close(&in);
free_ids:
  for (size_t i = 0; i < n_add; i++)
    docstore_free(add[i]);
  for (size_t i = 0; i < n_remove; i++)
    docstore_free(remove[i]);
  docstore_keyring_free(kr);
  return rc;
}

const cli_command cli_cmd_rewrap = {
    "rewrap",
    "(--to-key PUBLIC.pem | [--add PUBLIC.pem]... [--remove KEY]...) "
    "[--private-key FILE]... [--passphrase-env VAR] IN OUT",
    "Change who can open an envelope (key rotation, more recipients)",
    "  --to-key FILE      replace every recipient by this public key (PEM)\n"
    "  --add FILE         add this public key as a recipient (format 2;\n"
    "                     repeatable)\n"
    "  --remove KEY       remove a recipient: a key id (sha256:...) or its\n"
    "                     public key file (format 2; repeatable); one must\n"
    "                     remain\n"
    "  --private-key FILE the private key of a current recipient (default\n"
    "                     RSA_PRIVATE_KEY_PATH); repeatable\n"
    "  --passphrase-env VAR  as for decrypt\n"
    "Format 2: only the header is rewritten; the segments are copied byte\n"
    "for byte, streaming.  Format 1 and legacy envelopes take --to-key only\n"
    "and are rewritten whole (legacy ones come out in format 1).  OUT is\n"
    "written atomically with mode 0600.\n",
    run_rewrap};

/* ------------------------------------------------------------- convert */

/* File to file: opener -> (sealer, made once the source's identity is
 * known) -> OUT. */
typedef struct convert_chain {
  cli_ctx *ctx;
  docstore_keyring *kr;
  const crypto_args *a;
  docstore_opener *op;
  seal_setup seal;
  int sealing;
  cli_stage open_stage, seal_stage;
} convert_chain;

/* The sealer binds the same identity as the source envelope. */
static int convert_start_sealer(convert_chain *c) {
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  docstore_doc_id doc = {NULL, NULL};
  int rc = docstore_opener_info(c->op, &info);
  if (rc < 0)
    return cli_fail_lib(c->ctx, rc, "cannot convert",
                        docstore_opener_errmsg(c->op));
  doc.file_id = info.file_id;
  doc.user_id = info.user_id;
  rc =
      seal_setup_new(c->ctx, c->kr, c->a, info.file_id ? &doc : NULL, &c->seal);
  docstore_envelope_info_clear(&info);
  if (rc < 0)
    return rc;
  cli_stage_sealer(&c->seal_stage, c->seal.sealer);
  c->sealing = 1;
  return 0;
}

static int convert_sink(void *payload, const uint8_t *data, size_t len) {
  convert_chain *c = payload;
  if (!c->sealing)
    CLI_GUARD(convert_start_sealer(c));
  return cli_stage_push(&c->seal_stage, data, len);
}

/* The end of IN: drain the opener, then the sealer (made now for an
 * empty document). */
static int convert_end(void *payload) {
  convert_chain *c = payload;
  CLI_GUARD(cli_stage_end(&c->open_stage));
  if (!c->sealing)
    CLI_GUARD(convert_start_sealer(c));
  return cli_stage_end(&c->seal_stage);
}

static int convert_file(cli_ctx *ctx, const crypto_args *a) {
  convert_chain c;
  int rc;
  memset(&c, 0, sizeof(c));
  c.ctx = ctx;
  c.a = a;
  CLI_GUARD(
      cli_keyring(ctx, &c.kr, &a->keys, CLI_KEY_PUBLIC | CLI_KEY_PRIVATE));
  if ((rc = docstore_opener_new(&c.op, c.kr, NULL)) < 0)
    cli_fail_lib(ctx, rc, "cannot decrypt", docstore_last_errmsg());
  else if ((rc = cli_stage_init(&c.open_stage, ctx, "cannot decrypt")) == 0 &&
           (rc = cli_stage_init(&c.seal_stage, ctx, "cannot encrypt")) == 0) {
    cli_stage_opener(&c.open_stage, c.op);
    c.open_stage.sink = convert_sink;
    c.open_stage.sink_payload = &c;
    rc = run_chain(ctx, a, "convert", &c.open_stage, &c.seal_stage, convert_end,
                   &c);
  }
  cli_stage_free(&c.seal_stage);
  cli_stage_free(&c.open_stage);
  seal_setup_free(&c.seal);
  docstore_opener_free(c.op);
  docstore_keyring_free(c.kr);
  return rc;
}

/* The keys of DOCSTORE_RECIPIENT_KEYS (colon-separated public key files)
 * join a->recipients, as the service adds them to every new v2 document.
 * *copy holds the split value (free() it). */
static int setting_recipients(cli_ctx *ctx, crypto_args *a, char **copy) {
  docstore_config *cfg;
  *copy = NULL;
  CLI_GUARD(cli_config(ctx, &cfg));
  const char *v = docstore_config_get(cfg, "DOCSTORE_RECIPIENT_KEYS");
  if (!v || !*v)
    return 0;
  if (!(*copy = strdup(v)))
    return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
  char *save = NULL;
  for (char *f = strtok_r(*copy, ":", &save); f; f = strtok_r(NULL, ":", &save))
    CLI_GUARD(cli_keys_add(ctx, a->recipients, &a->n_recipients, f));
  return 0;
}

/* A stored document, rewritten under the same storage path (the database
 * holds it).  A v1 envelope is capped at 1 GiB and read whole; the v2 one
 * is built in memory and replaces the object atomically. */
static int convert_stored(cli_ctx *ctx, const crypto_args *a) {
  docstore_service *svc;
  docstore_keyring *kr = NULL;
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  cli_membuf m = {ctx, NULL, 0, 0};
  seal_setup seal;
  cli_stage st;
  cli_progress prog;
  char *env = NULL;
  uint8_t *plain = NULL;
  size_t env_len = 0, plain_len = 0;
  char *extra = NULL; /* DOCSTORE_RECIPIENT_KEYS, split */
  int rc;
  memset(&seal, 0, sizeof(seal));
  memset(&st, 0, sizeof(st));
  CLI_GUARD(cli_service(ctx, &svc));
  CLI_GUARD(cli_keyring(ctx, &kr, &a->keys, CLI_KEY_PUBLIC | CLI_KEY_PRIVATE));
  rc = docstore_service_retrieve_encrypted(svc, &env, &env_len, a->in);
  if (rc < 0) {
    cli_fail_lib(ctx, rc, "cannot read", docstore_service_errmsg(svc));
    goto done;
  }
  if ((rc = docstore_envelope_info_get(&info, env, env_len)) < 0) {
    cli_fail(ctx, rc, "'%s' is not an envelope: %s", a->in,
             docstore_last_errmsg());
    goto done;
  }
  if (info.format == DOCSTORE_ENVELOPE_V2) {
    fprintf(stderr, "docstore: convert: '%s' is already in format 2\n", a->in);
    printf("%s\n", a->in);
    goto done;
  }
  rc = docstore_envelope_open(&plain, &plain_len, kr, env, env_len, NULL);
  if (rc < 0) {
    cli_fail_lib(ctx, rc, "cannot decrypt", docstore_last_errmsg());
    goto done;
  }
  docstore_free(env); /* only the plaintext from here */
  env = NULL;
  docstore_doc_id doc = {info.file_id, info.user_id};
  crypto_args a2 = *a;
  a2.format = DOCSTORE_ENVELOPE_V2;
  if ((rc = setting_recipients(ctx, &a2, &extra)) < 0 ||
      (rc = seal_setup_new(ctx, kr, &a2, info.file_id ? &doc : NULL, &seal)) <
          0 ||
      (rc = cli_stage_init(&st, ctx, "cannot encrypt")) < 0)
    goto done;
  cli_stage_sealer(&st, seal.sealer);
  st.sink = cli_membuf_sink;
  st.sink_payload = &m;
  cli_progress_init(&prog, a->progress, "convert");
  for (size_t off = 0; rc == 0 && off < plain_len; off += CLI_STREAM_BUF) {
    size_t n =
        plain_len - off < CLI_STREAM_BUF ? plain_len - off : CLI_STREAM_BUF;
    rc = cli_stage_push(&st, plain + off, n);
    if (rc == 0 && cli_progress_bytes(&prog, off + n, plain_len))
      rc = cli_fail(ctx, DOCSTORE_ECANCELED, "interrupted");
  }
  if (rc == 0)
    rc = cli_stage_end(&st);
  if (rc < 0)
    goto done;
  docstore_provider *p = docstore_service_provider(svc);
  rc = docstore_provider_put(p, a->in, m.data, m.len);
  if (rc < 0) {
    cli_fail_lib(ctx, rc, "cannot store", docstore_provider_errmsg(p));
    goto done;
  }
  cli_progress_end(&prog);
  printf("%s\n", a->in);
done:
  free(extra);
  cli_membuf_free(&m);
  cli_stage_free(&st);
  seal_setup_free(&seal);
  docstore_free(plain);
  docstore_free(env);
  docstore_envelope_info_clear(&info);
  docstore_keyring_free(kr);
  return rc;
}

static int run_convert(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {
      OPT_PUBLIC_KEY, OPT_PRIVATE_KEY, OPT_PASS_ENV,
      OPT_RECIPIENT,  OPT_COMPRESS,    OPT_SEGMENT,
      OPT_PROGRESS,   OPT_HELP,        OPT_END};
  crypto_args a;
  int rc = parse_args(ctx, &cli_cmd_convert, argc, argv, "k:K:p:", opts, &a, 1);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  a.format = DOCSTORE_ENVELOPE_V2;
  return a.out ? convert_file(ctx, &a) : convert_stored(ctx, &a);
}

const cli_command cli_cmd_convert = {
    "convert",
    "[--public-key FILE] [--recipient FILE]... [--private-key FILE]... "
    "[--passphrase-env VAR] [--compress[=LEVEL]] [--segment-size N] "
    "[--progress[=MODE]] (PATH | IN OUT)",
    "Rewrite an envelope in format 2 (a stored document, or a file)",
    "  PATH               a stored document: rewritten in place, under the\n"
    "                     same storage path (the database holds it); one\n"
    "                     already in format 2 is left as it is\n"
    "  IN OUT             an envelope file (any format) into a format 2 file\n"
    "                     ('-': standard input / output), streaming\n"
    "  --public-key FILE  seal under this key (default RSA_PUBLIC_KEY_PATH)\n"
    "  --recipient FILE   also seal for this public key (repeatable)\n"
    "  --private-key FILE, --passphrase-env VAR  to open it, as for decrypt\n"
    "  --compress[=LEVEL], --segment-size N, --progress[=MODE]  as for\n"
    "                     encrypt\n"
    "The document keeps its identity (file id, user id); a stored one also\n"
    "gets the keys of DOCSTORE_RECIPIENT_KEYS as recipients, as put would\n"
    "give them.  OUT is written\n"
    "atomically with mode 0600; a stored object is replaced atomically.\n",
    run_convert};
