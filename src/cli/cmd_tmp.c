/*
 * docstore CLI - `docstore tmp list|clean`: temporary files that writers
 * killed mid-put left in local storage (docstore_local_temporaries()).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

extern const cli_command cli_cmd_tmp;

static const char *state_name(int state) {
  switch (state) {
  case DOCSTORE_TEMP_LIVE:
    return "live";
  case DOCSTORE_TEMP_RECENT:
    return "recent";
  case DOCSTORE_TEMP_STALE:
    return "stale";
  case DOCSTORE_TEMP_REMOVED:
    return "removed";
  default:
    return "unknown";
  }
}

typedef struct tally {
  unsigned long n[6];
  uint64_t bytes[6];
} tally;

static int print_temp(void *payload, const docstore_temp_info *info) {
  tally *t = payload;
  char date[32];
  int s = info->state >= 1 && info->state <= 5 ? info->state : 5;
  t->n[s]++;
  t->bytes[s] += info->size;
  cli_format_time(date, sizeof(date), info->mtime);
  printf("%s\t%llu\t%s\t%s\n", state_name(s), (unsigned long long)info->size,
         date, info->path);
  return 0;
}

static int run_tmp(cli_ctx *ctx, int argc, char **argv) {
  enum { O_ROOT = 1000, O_AGE };
  static const struct option opts[] = {
      {"root", required_argument, NULL, O_ROOT},
      {"older-than", required_argument, NULL, O_AGE},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *root = NULL;
  uint64_t age = 0;
  int c, have_age = 0;
  while ((c = cli_getopt(ctx, &cli_cmd_tmp, argc, argv, "", opts)) != -1) {
    if (c == 'h')
      return 0;
    if (c == O_ROOT)
      root = optarg;
    else if (c == O_AGE) {
      CLI_GUARD(cli_parse_age(ctx, "--older-than", optarg, &age));
      have_age = 1;
    } else
      return DOCSTORE_EINVAL;
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 1, 1));
  const char *action = argv[optind];
  int clean = strcmp(action, "clean") == 0;
  if (!clean && strcmp(action, "list") != 0)
    return cli_usage(ctx, "unknown action '%s'; usage: docstore tmp %s", action,
                     cli_cmd_tmp.synopsis);
  if (!clean && have_age)
    return cli_usage(ctx, "--older-than is for 'tmp clean'");
  if (!root) {
    docstore_config *cfg;
    CLI_GUARD(cli_config(ctx, &cfg));
    root = docstore_config_get(cfg, "LOCAL_STORAGE_PATH");
    if (!root)
      return cli_usage(ctx, "no storage root: set LOCAL_STORAGE_PATH or use "
                            "--root DIR");
  }
  tally t;
  char err[512] = "";
  memset(&t, 0, sizeof(t));
  int rc = docstore_local_temporaries(root, clean ? DOCSTORE_TEMP_REMOVE : 0,
                                      age, print_temp, &t, err, sizeof(err));
  fflush(stdout);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "temporary files", err);
  if (clean)
    fprintf(stderr,
            "tmp clean: removed %lu file(s), %llu bytes; kept %lu live, "
            "%lu recent, %lu unknown\n",
            t.n[DOCSTORE_TEMP_REMOVED],
            (unsigned long long)t.bytes[DOCSTORE_TEMP_REMOVED],
            t.n[DOCSTORE_TEMP_LIVE], t.n[DOCSTORE_TEMP_RECENT],
            t.n[DOCSTORE_TEMP_UNKNOWN]);
  return 0;
}

const cli_command cli_cmd_tmp = {
    "tmp", "[--root DIR] list | [--root DIR] [--older-than AGE] clean",
    "List or remove temporary files left by writes that were killed "
    "(local storage)",
    "  list              one line per temporary file: state, size in bytes,\n"
    "                    date (UTC), path below the root; state is live (a\n"
    "                    writer still holds it), stale (its writer died),\n"
    "                    or unknown (no file locks there: never removed)\n"
    "  clean             remove the stale ones; a live writer's file is\n"
    "                    never removed (its lock is taken first)\n"
    "  --older-than AGE  clean: keep stale files written less than AGE ago\n"
    "                    (seconds, or 90m, 2h, 1d); default 0\n"
    "  --root DIR        the storage root; default LOCAL_STORAGE_PATH\n",
    run_tmp};
