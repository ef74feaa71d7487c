/*
 * docstore CLI - shared declarations.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The CLI uses only the public API (<docstore/docstore.h>).  Each command
 * lives in a cmd_*.c file and exports one `const cli_command cli_cmd_<name>`;
 * main.c lists the commands (see the comment at its top).
 */
#ifndef DOCSTORE_CLI_H
#define DOCSTORE_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <docstore/docstore.h>

/* Return a negative code at once (the failure is already recorded). */
#define CLI_GUARD(expr)                                                        \
  do {                                                                         \
    int cli_guard_rc_ = (expr);                                                \
    if (cli_guard_rc_ < 0)                                                     \
      return cli_guard_rc_;                                                    \
  } while (0)

/* State of one run of the program. */
typedef struct cli_ctx {
  const char *command;    /* command name, for the error line */
  const char *env_file;   /* --env-file, or NULL */
  int no_env_file;        /* --no-env-file */
  const char *env_loaded; /* the .env file actually read, or NULL */
  int log_level;          /* -1: library default / DOCSTORE_LOG_LEVEL */
  docstore_config *cfg;   /* loaded on first use */
  docstore_service *svc;  /* built on first use */
  /* The failure to report: one line, no secrets. */
  int code;
  int usage; /* 1: a command-line mistake (exit status 2) */
  char msg[1024];
  char *passphrase; /* from --passphrase-env (docstore_malloc'd, wiped) */
} cli_ctx;

typedef struct cli_command {
  const char *name;
  const char *synopsis; /* after "docstore <name> " */
  const char *summary;  /* one line for `docstore help` */
  const char *help;     /* options, for `docstore help <name>` */
  /* argv[0] is the command name.  Returns 0, or a negative DOCSTORE_E*
   * code after cli_fail()/cli_usage() recorded the message. */
  int (*run)(cli_ctx *ctx, int argc, char **argv);
} cli_command;

/* Record a failure (printf-style message) and return `code`. */
int cli_fail(cli_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record a command-line mistake (exit status 2); returns DOCSTORE_EINVAL. */
int cli_usage(cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The command table, for `help`. */
const cli_command *cli_find(const char *name);
void cli_print_command_help(const cli_command *cmd);

/*
 * getopt_long over a command's argv, with getopt's own messages turned
 * into cli_usage().  Call with *started = 0 first.  Returns the option
 * character, -1 at the end of the options, or '?' after recording a
 * usage error.  "-h"/"--help" print the command's help and return 'h'.
 */
int cli_getopt(cli_ctx *ctx, const cli_command *cmd, int argc, char **argv,
               const char *shortopts, const struct option *longopts);

/* Positional arguments after the options: exactly between min and max. */
int cli_positional(cli_ctx *ctx, int argc, char **argv, int min, int max);

/* Parse a decimal number in [min, max] for option `opt`. */
int cli_parse_uint(cli_ctx *ctx, const char *opt, const char *text,
                   unsigned long min, unsigned long max, unsigned long *out);

/* The configuration: ./.env (or --env-file), then the environment. */
int cli_config(cli_ctx *ctx, docstore_config **out);
/* The service built from the configuration (docstore_service_from_config). */
int cli_service(cli_ctx *ctx, docstore_service **out);

/*
 * A keyring for encrypt/decrypt/rewrap: the key files given on the command
 * line, else those of RSA_PUBLIC_KEY_PATH / RSA_PRIVATE_KEY_PATH (with
 * RSA_PRIVATE_KEY_PASSPHRASE, or the passphrase from `passphrase_env`).
 * need: CLI_KEY_PUBLIC (something to seal under) and/or CLI_KEY_PRIVATE.
 */
#define CLI_KEY_PUBLIC 1
#define CLI_KEY_PRIVATE 2
#define CLI_MAX_KEYS 8
typedef struct cli_keys {
  const char *public_files[CLI_MAX_KEYS];
  size_t n_public;
  const char *private_files[CLI_MAX_KEYS];
  size_t n_private;
  const char *passphrase_env;
} cli_keys;
int cli_keys_add(cli_ctx *ctx, const char **list, size_t *n, const char *file);
int cli_keyring(cli_ctx *ctx, docstore_keyring **out, const cli_keys *keys,
                int need);
/* The passphrase named by --passphrase-env VAR (NULL when var is NULL).
 * It is copied into ctx (freed with a wipe at exit) and the variable's
 * value is wiped from the environment (cli_scrub_env). */
int cli_passphrase_from_env(cli_ctx *ctx, const char *var, const char **out);

/* Overwrite the value of environment variable `name` in place, in the
 * process's own copy of the environment: /proc/<pid>/environ and a core
 * dump no longer show it, and getenv() then gives "".  For secrets, once
 * they have been copied (the configuration keeps its own copies). */
void cli_scrub_env(const char *name);

/* Read a whole file ('-': standard input) into docstore_malloc'd memory
 * (docstore_free() wipes it).  *out is NUL-terminated; *len excludes it. */
int cli_read_input(cli_ctx *ctx, const char *path, uint8_t **out, size_t *len);

/* Write data to `path` ('-': standard output).  A file is written
 * atomically: a temporary file in the same folder with `mode`, fsync,
 * then rename (or, with no_overwrite, link: refusing an existing file). */
int cli_write_output(cli_ctx *ctx, const char *path, const void *data,
                     size_t len, mode_t mode, int no_overwrite);

/* Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (UTC); "-" for 0 or
 * less.  cap: 32 is enough. */
void cli_format_time(char *out, size_t cap, int64_t t);

/* A library failure: "<what>: <detail>" with the code. */
int cli_fail_lib(cli_ctx *ctx, int code, const char *what, const char *detail);

#endif /* DOCSTORE_CLI_H */
