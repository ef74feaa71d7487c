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
#include <limits.h>
#include <signal.h>
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
  char *key_id;     /* the default sealing key's id after cli_keyring() */
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

/* Parse an age for option `opt`: seconds, or a number with s, m, h or d
 * (90m, 2h, 1d); at most ten years. */
int cli_parse_age(cli_ctx *ctx, const char *opt, const char *text,
                  uint64_t *out);

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

/* ------------------------------------------------------------ streaming
 * (cli_stream.c).  Commands move documents in CLI_STREAM_BUF blocks: no
 * whole-file reads except where a format needs it (v1/legacy envelopes,
 * put --raw). */
#define CLI_STREAM_BUF (1024 * 1024)

/* A consumer of bytes: returns 0 or a negative code (recorded). */
typedef int (*cli_sink_fn)(void *payload, const uint8_t *data, size_t len);

typedef struct cli_progress cli_progress;

/* An input: a file or standard input ('-'). */
typedef struct cli_input {
  int fd;
  int is_stdin;
  int eof;
  const char *path;
  uint64_t size; /* a regular file's size, else UINT64_MAX */
  uint64_t done; /* bytes read so far */
} cli_input;
int cli_input_open(cli_ctx *ctx, cli_input *in, const char *path);
/* Fill buf up to cap (less only at the end of the input); *got 0 = end. */
int cli_input_read(cli_ctx *ctx, cli_input *in, uint8_t *buf, size_t cap,
                   size_t *got);
void cli_input_close(cli_input *in);
/* Read the rest of `in` into `sink`, reporting to `progress` (or NULL;
 * Ctrl-C then ends it with DOCSTORE_ECANCELED). */
int cli_copy(cli_ctx *ctx, cli_input *in, cli_sink_fn sink, void *payload,
             cli_progress *progress);

/* An output: a temporary file in the target's folder with `mode`, renamed
 * to the target by cli_output_commit() only (after fsync); '-' is standard
 * output, written as it comes, and so is an existing target that is not a
 * regular file (a device such as /dev/null, a FIFO, a socket): renaming
 * over it would replace the device node with a file. */
typedef struct cli_output {
  cli_ctx *ctx;
  int fd;
  int is_stdout;
  int direct; /* an existing non-regular file, opened and written as is */
  const char *path;
  uint64_t written;
  char tmp[PATH_MAX];
  char dir[PATH_MAX];
} cli_output;
int cli_output_open(cli_ctx *ctx, cli_output *o, const char *path, mode_t mode);
int cli_output_write(cli_output *o, const uint8_t *data, size_t len);
int cli_output_sink(void *o, const uint8_t *data, size_t len); /* a sink */
/* fsync, then rename (or, with no_overwrite, link: refusing an existing
 * file); on failure the temporary file is removed. */
int cli_output_commit(cli_output *o, int no_overwrite);
/* Remove the temporary file (no-op after commit). */
void cli_output_abort(cli_output *o);
/* The end of a command: commit when rc is 0 (then the final progress
 * report, if progress is not NULL), else abort.  Returns the result. */
int cli_output_finish(cli_output *o, int rc, cli_progress *progress);

/* Write a whole buffer to `path` as an output (open, write, commit). */
int cli_write_output(cli_ctx *ctx, const char *path, const void *data,
                     size_t len, mode_t mode, int no_overwrite);

/* A growing buffer (docstore_malloc'd, wiped when freed), NUL-terminated. */
typedef struct cli_membuf {
  cli_ctx *ctx;
  uint8_t *data;
  size_t len, cap;
} cli_membuf;
int cli_membuf_sink(void *m, const uint8_t *data, size_t len); /* a sink */
void cli_membuf_free(cli_membuf *m);

/* Read a whole file ('-': standard input) into docstore_malloc'd memory
 * (docstore_free() wipes it).  *out is NUL-terminated; *len excludes it.
 * Only for inputs that must be whole (put --raw, v1 envelopes). */
int cli_read_input(cli_ctx *ctx, const char *path, uint8_t **out, size_t *len);

/* A transform (a sealer or an opener) feeding a sink through its own
 * output buffer. */
typedef struct cli_stage {
  cli_ctx *ctx;
  const char *what; /* "cannot encrypt": the failure's prefix */
  void *h;
  int (*update)(void *h, uint8_t *out, size_t cap, size_t *out_len,
                const uint8_t *in, size_t in_len, size_t *in_used);
  int (*finish)(void *h, uint8_t *out, size_t cap, size_t *out_len);
  const char *(*errmsg)(const void *h);
  uint8_t *buf;
  size_t cap;
  cli_sink_fn sink;
  void *sink_payload;
} cli_stage;
int cli_stage_init(cli_stage *st, cli_ctx *ctx, const char *what);
void cli_stage_sealer(cli_stage *st, docstore_sealer *s);
void cli_stage_opener(cli_stage *st, docstore_opener *o);
int cli_stage_push(void *st, const uint8_t *data, size_t len); /* a sink */
/* End of input: drain the transform (finish) into the sink. */
int cli_stage_end(cli_stage *st);
void cli_stage_free(cli_stage *st);

/* ------------------------------------------------------------- progress
 * (cli_progress.c), on standard error only. */
#define CLI_PROGRESS_AUTO 0 /* a bar on a terminal, else a line every 10 s */
#define CLI_PROGRESS_BAR 1
#define CLI_PROGRESS_LINES 2
#define CLI_PROGRESS_NONE 3
struct cli_progress {
  int tty;   /* draw a bar */
  int quiet; /* nothing at all */
  const char *verb;
  double start, last_draw, last_line; /* seconds; -1: never */
  uint64_t done, total;               /* bytes, for the final report */
};
/* "auto" (or NULL), "bar", "lines", "none". */
int cli_progress_mode(cli_ctx *ctx, const char *text, int *mode);
void cli_progress_init(cli_progress *p, int mode, const char *verb);
double cli_progress_elapsed(const cli_progress *p);
/* Whether to report now (rate-limited; `final` always). */
int cli_progress_due(cli_progress *p, double elapsed, int final);
/* One report: a bar of pct with text, or a line "docstore: VERB: text". */
void cli_progress_draw(const cli_progress *p, double pct, const char *text,
                       int final);
void cli_fmt_duration(char *dst, size_t len, double seconds);
/* A docstore_progress_cb over bytes; returns 1 (cancel) after Ctrl-C. */
int cli_progress_bytes(void *p, uint64_t done, uint64_t total);
/* The final report (after success). */
void cli_progress_end(cli_progress *p);
/* Ctrl-C sets cli_interrupted (a second one kills). */
extern volatile sig_atomic_t cli_interrupted;
void cli_sigint_catch(void);
void cli_sigint_restore(void);

/* Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (UTC); "-" for 0 or
 * less.  cap: 32 is enough. */
void cli_format_time(char *out, size_t cap, int64_t t);

/* A library failure: "<what>: <detail>" with the code. */
int cli_fail_lib(cli_ctx *ctx, int code, const char *what, const char *detail);

#endif /* DOCSTORE_CLI_H */
