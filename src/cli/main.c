/*
 * docstore CLI - entry point, global options, command table.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Adding a command (e.g. `docstore migrate`):
 *   1. write src/cli/cmd_migrate.c defining
 *        const cli_command cli_cmd_migrate = {"migrate", "SYNOPSIS",
 *            "one-line summary", "options help", run_migrate};
 *      where run_migrate(cli_ctx *, int argc, char **argv) parses its
 *      options with cli_getopt() (argv[0] is "migrate"), returns 0 or the
 *      negative code of cli_fail()/cli_usage() -- see cli.h;
 *   2. add one line `X(migrate)` to DOCSTORE_CLI_COMMANDS below.
 * CMake compiles every .c file of src/cli/ by itself.  main() prints a
 * failure as the single line "docstore: <command>: <message>
 * (<DOCSTORE_E...>)" and maps its code to the exit status
 * (cli_exit_status()).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* `docstore migrate` only with the migration API (DOCSTORE_WITH_MIGRATE). */
#ifndef DOCSTORE_CLI_WITH_MIGRATE
#define DOCSTORE_CLI_WITH_MIGRATE 1
#endif
#if DOCSTORE_CLI_WITH_MIGRATE
#define CLI_MIGRATE(X) X(migrate)
#else
#define CLI_MIGRATE(X)
#endif

#define DOCSTORE_CLI_COMMANDS(X)                                               \
  X(keygen)                                                                    \
  X(encrypt)                                                                   \
  X(decrypt)                                                                   \
  X(rewrap)                                                                    \
  X(convert)                                                                   \
  X(put)                                                                       \
  X(get)                                                                       \
  X(rm)                                                                        \
  X(ls)                                                                        \
  X(url)                                                                       \
  X(check)                                                                     \
  X(tmp)                                                                       \
  X(config)                                                                    \
  CLI_MIGRATE(X)                                                               \
  X(version)                                                                   \
  X(help)

#define CLI_DECLARE(name) extern const cli_command cli_cmd_##name;
DOCSTORE_CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

#define CLI_ENTRY(name) &cli_cmd_##name,
static const cli_command *const commands[] = {DOCSTORE_CLI_COMMANDS(CLI_ENTRY)};
#undef CLI_ENTRY

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const cli_command *cli_find(const char *name) {
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

void cli_print_command_help(const cli_command *cmd) {
  printf("usage: docstore %s %s\n\n%s\n", cmd->name, cmd->synopsis,
         cmd->summary);
  if (cmd->help && *cmd->help)
    printf("\n%s", cmd->help);
}

static const char global_help[] =
    "Global options (before the command):\n"
    "  --env-file FILE   read settings from FILE instead of ./.env\n"
    "  --no-env-file     do not read any .env file\n"
    "  -v, --verbose     log more (once: info, twice: debug)\n"
    "  -q, --quiet       log errors only\n"
    "  -h, --help        this help;  --version: the version\n"
    "\n"
    "Configuration: the variables of docs/CONFIG.md (STORAGE_TYPE,\n"
    "LOCAL_STORAGE_PATH, S3_*, RSA_PUBLIC_KEY_PATH, RSA_PRIVATE_KEY_PATH, "
    "...),\n"
    "read from ./.env when that file exists (or --env-file), then from the\n"
    "environment, which wins.  `docstore config` shows the result.\n"
    "\n"
    "Exit status: 0 success, 1 other failure, 2 usage or invalid argument,\n"
    "3 configuration, 4 not found, 5 integrity (tampered, wrong key or wrong\n"
    "document), 6 key or format, 7 storage unreachable or refused (access,\n"
    "bucket, connection, timeout, server), 8 unsupported, 9 local I/O,\n"
    "input over a size limit (an envelope over 1.5 GiB, a document over\n"
    "1 GiB) or out of memory.\n"
    "On failure one line goes to stderr:\n"
    "  docstore: <command>: <message> (<DOCSTORE_E...>)\n";

static void print_main_help(void) {
  printf("usage: docstore [global options] <command> [options] [args]\n\n"
         "Commands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    printf("  %-8s %s\n", commands[i]->name, commands[i]->summary);
  printf("\n%s\n`docstore help <command>` describes a command.\n", global_help);
}

static int run_help(cli_ctx *ctx, int argc, char **argv) {
  if (argc > 2)
    return cli_usage(ctx, "too many arguments");
  if (argc < 2) {
    print_main_help();
    return 0;
  }
  const cli_command *cmd = cli_find(argv[1]);
  if (!cmd)
    return cli_usage(ctx, "unknown command '%s'", argv[1]);
  cli_print_command_help(cmd);
  return 0;
}

const cli_command cli_cmd_help = {
    "help", "[COMMAND]", "Describe the commands, or one of them", "", run_help};

static int run_version(cli_ctx *ctx, int argc, char **argv) {
  (void)argv;
  if (argc > 1)
    return cli_usage(ctx, "takes no arguments");
  printf("docstore %s (libdocstore %s)\n", DOCSTORE_VERSION_STRING,
         docstore_version());
  return 0;
}

const cli_command cli_cmd_version = {"version", "",
                                     "Print the version of the tool and "
                                     "library",
                                     "", run_version};

/* Exit status by class of error (documented in global_help). */
static int cli_exit_status(const cli_ctx *ctx) {
  if (ctx->usage)
    return 2;
  switch (ctx->code) {
  case DOCSTORE_EINVAL:
    return 2; /* a bad id or key given by the user */
  case DOCSTORE_ECONFIG:
    return 3;
  case DOCSTORE_ENOTFOUND:
    return 4;
  case DOCSTORE_EINTEGRITY:
    return 5;
  case DOCSTORE_EKEY:
  case DOCSTORE_ECRYPTO:
  case DOCSTORE_EFORMAT:
    return 6;
  case DOCSTORE_EACCESS:
  case DOCSTORE_ENOBUCKET:
  case DOCSTORE_ECONNECT:
  case DOCSTORE_ETIMEOUT:
  case DOCSTORE_ESERVER:
  case DOCSTORE_EBUSY:
  case DOCSTORE_ECHANGED:
    return 7;
  case DOCSTORE_EUNSUPPORTED:
    return 8;
  case DOCSTORE_EIO:
  case DOCSTORE_EEXISTS:
  case DOCSTORE_ETOOBIG:
  case DOCSTORE_ENOMEM:
    return 9;
  default:
    return 1;
  }
}

static void print_failure(const cli_ctx *ctx) {
  char line[sizeof(ctx->msg)];
  size_t i;
  /* One line, whatever the message holds. */
  for (i = 0; ctx->msg[i] && i + 1 < sizeof(line); i++)
    line[i] = (ctx->msg[i] == '\n' || ctx->msg[i] == '\r') ? ' ' : ctx->msg[i];
  line[i] = '\0';
  fprintf(stderr, "docstore: %s: %s (%s)\n", ctx->command, line,
          docstore_error_name(ctx->code));
}

static void log_to_stderr(void *payload, int level, const char *message) {
  static const char *const names[] = {"error", "warning", "info", "debug"};
  (void)payload;
  fprintf(stderr, "docstore: %s: %s\n",
          names[level >= 0 && level <= 3 ? level : 3], message);
}

int main(int argc, char **argv) {
  static const struct option global_opts[] = {
      {"env-file", required_argument, NULL, 'e'},
      {"no-env-file", no_argument, NULL, 'n'},
      {"verbose", no_argument, NULL, 'v'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  cli_ctx ctx;
  int c, verbose = 0, quiet = 0, rc;

  memset(&ctx, 0, sizeof(ctx));
  ctx.command = "docstore";
  ctx.log_level = -1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:vqh", global_opts, NULL)) != -1) {
    switch (c) {
    case 'e':
      ctx.env_file = optarg;
      break;
    case 'n':
      ctx.no_env_file = 1;
      break;
    case 'v':
      verbose++;
      break;
    case 'q':
      quiet = 1;
      break;
    case 'h':
      print_main_help();
      return 0;
    case 'V':
      return cli_cmd_version.run(&ctx, 1, argv);
    case ':':
      cli_usage(&ctx, "option '%s' needs a value", argv[optind - 1]);
      goto fail;
    default:
      cli_usage(&ctx, "unknown option '%s'; try 'docstore help'",
                argv[optind - 1]);
      goto fail;
    }
  }
  if (quiet)
    ctx.log_level = DOCSTORE_LOG_ERROR;
  else if (verbose)
    ctx.log_level = verbose > 1 ? DOCSTORE_LOG_DEBUG : DOCSTORE_LOG_INFO;
  docstore_set_log_callback(log_to_stderr, NULL,
                            ctx.log_level >= 0 ? ctx.log_level
                                               : DOCSTORE_LOG_WARN);

  if (optind >= argc) {
    cli_usage(&ctx, "no command given; try 'docstore help'");
    goto fail;
  }
  const cli_command *cmd = cli_find(argv[optind]);
  if (!cmd) {
    cli_usage(&ctx, "unknown command '%s'; try 'docstore help'", argv[optind]);
    goto fail;
  }
  ctx.command = cmd->name;
  int sub_argc = argc - optind;
  char **sub_argv = argv + optind;
  optind = 0; /* restart getopt for the command's own options */
  rc = cmd->run(&ctx, sub_argc, sub_argv);
  docstore_service_free(ctx.svc);
  docstore_config_free(ctx.cfg);
  docstore_free(ctx.passphrase); /* wipes */
  docstore_free(ctx.key_id);
  if (fflush(stdout) != 0 && rc == 0)
    rc = cli_fail(&ctx, DOCSTORE_EIO, "cannot write to standard output");
  if (rc == 0)
    return 0;
  if (!ctx.code)
    ctx.code = rc;
fail:
  print_failure(&ctx);
  return cli_exit_status(&ctx);
}
