/*
 * docstore CLI - operator commands: check, config.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

extern const cli_command cli_cmd_check, cli_cmd_config;

/* Stale temporaries of the local provider, counted for the report. */
typedef struct temp_tally {
  unsigned long stale;
  uint64_t bytes;
} temp_tally;

static int count_temp(void *payload, const docstore_temp_info *info) {
  temp_tally *t = payload;
  if (info->state == DOCSTORE_TEMP_STALE) {
    t->stale++;
    t->bytes += info->size;
  }
  return 0;
}

/* Local storage: one more line about temporaries left by killed writers
 * (a warning, not a failure). */
static void check_temporaries(cli_ctx *ctx) {
  docstore_config *cfg;
  temp_tally t = {0, 0};
  char err[512] = "";
  const char *root = cli_config(ctx, &cfg) == 0
                         ? docstore_config_get(cfg, "LOCAL_STORAGE_PATH")
                         : NULL;
  if (!root)
    return;
  if (docstore_local_temporaries(root, 0, 0, count_temp, &t, err, sizeof(err)) <
      0)
    printf("temporary files: not checked: %s\n", err);
  else if (t.stale == 0)
    printf("temporary files: OK (none left by killed writers)\n");
  else
    printf("temporary files: WARNING: %lu left by killed writers (%llu "
           "bytes); remove them with `docstore tmp clean`\n",
           t.stale, (unsigned long long)t.bytes);
}

typedef struct upload_tally {
  unsigned long n[5];
} upload_tally;

static int print_upload(void *payload, const docstore_upload_info *info) {
  upload_tally *t = payload;
  char date[32];
  const char *state = info->state == DOCSTORE_TEMP_REMOVED ? "aborted"
                      : info->state == DOCSTORE_TEMP_STALE ? "stale"
                                                           : "recent";
  if (info->state >= 0 && info->state < 5)
    t->n[info->state]++;
  cli_format_time(date, sizeof(date), info->initiated);
  printf("%s\t%s\t%s\t%s\n", state, date, info->key, info->upload_id);
  return 0;
}

static int abort_stale_uploads(cli_ctx *ctx, docstore_service *svc,
                               int have_age, uint64_t age) {
  docstore_provider *p = docstore_service_provider(svc);
  upload_tally t;
  memset(&t, 0, sizeof(t));
  int rc = docstore_s3_incomplete_uploads(
      p, NULL, DOCSTORE_UPLOAD_ABORT,
      have_age ? age : DOCSTORE_UPLOAD_AGE_CONFIGURED, print_upload, &t);
  fflush(stdout);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "incomplete uploads",
                        docstore_provider_errmsg(p));
  fprintf(stderr,
          "check: aborted %lu stale incomplete upload(s); kept %lu more "
          "recent\n",
          t.n[DOCSTORE_TEMP_REMOVED], t.n[DOCSTORE_TEMP_RECENT]);
  return 0;
}

static int run_check(cli_ctx *ctx, int argc, char **argv) {
  enum { O_ABORT = 1000, O_AGE };
  static const struct option opts[] = {
      {"abort-stale-uploads", no_argument, NULL, O_ABORT},
      {"older-than", required_argument, NULL, O_AGE},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  docstore_service *svc;
  char *report = NULL;
  uint64_t age = 0;
  int c, abort_stale = 0, have_age = 0;
  while ((c = cli_getopt(ctx, &cli_cmd_check, argc, argv, "", opts)) != -1) {
    if (c == 'h')
      return 0;
    if (c == O_ABORT)
      abort_stale = 1;
    else if (c == O_AGE) {
      CLI_GUARD(cli_parse_age(ctx, "--older-than", optarg, &age));
      have_age = 1;
    } else
      return DOCSTORE_EINVAL;
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 0, 0));
  if (have_age && !abort_stale)
    return cli_usage(ctx, "--older-than is for --abort-stale-uploads");
  CLI_GUARD(cli_service(ctx, &svc));
  int s3 = strcmp(docstore_service_storage_type(svc), "s3") == 0;
  if (abort_stale && !s3)
    return cli_usage(ctx, "--abort-stale-uploads is for S3 storage (local "
                          "storage: `docstore tmp clean`)");
  int rc = docstore_service_check(svc, &report);
  if (report && *report)
    printf("%s%s", report, report[strlen(report) - 1] == '\n' ? "" : "\n");
  docstore_free(report);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "storage check failed",
                        docstore_service_errmsg(svc));
  if (strcmp(docstore_service_storage_type(svc), "local") == 0)
    check_temporaries(ctx);
  if (abort_stale)
    return abort_stale_uploads(ctx, svc, have_age, age);
  return 0;
}

const cli_command cli_cmd_check = {
    "check", "[--abort-stale-uploads [--older-than AGE]]",
    "Check the storage: reachable, credentials, bucket (local: writable); "
    "leftovers of interrupted writes",
    "One line per check on standard output; exit status non-zero when one\n"
    "fails.  Leftovers of writes that were interrupted are a warning, not a\n"
    "failure: S3 incomplete multipart uploads older than\n"
    "S3_STALE_UPLOAD_SECONDS (they hold storage until aborted), local\n"
    "temporary files whose writer died (`docstore tmp clean`).\n"
    "  --abort-stale-uploads  S3: after the check, abort the incomplete\n"
    "                         uploads older than the age, one line each on\n"
    "                         standard output: state (aborted or recent),\n"
    "                         date begun (UTC), key, upload id\n"
    "  --older-than AGE       the age (seconds, or 90m, 2h, 1d); default\n"
    "                         S3_STALE_UPLOAD_SECONDS (1d).  An upload still\n"
    "                         being written that is older fails its commit\n",
    run_check};

/* `config --settings`: the schema, one setting per line, from the
 * library's table (docstore_config_setting_at()). */
static void print_settings(void) {
  static const char *const types[] = {"text",   "choice", "boolean", "integer",
                                      "size",   "path",   "URL",     "region",
                                      "bucket", "token"};
  const docstore_setting_info *s;
  for (size_t i = 0; (s = docstore_config_setting_at(i)) != NULL; i++) {
    const char *type = s->type >= 0 && s->type <= DOCSTORE_SETTING_TOKEN
                           ? types[s->type]
                           : "?";
    printf("%s  [%s, %s", s->name, s->provider[0] ? s->provider : "all", type);
    if (s->choices)
      printf(": %s", s->choices);
    else if (s->type == DOCSTORE_SETTING_UINT ||
             s->type == DOCSTORE_SETTING_SIZE)
      printf(": %llu to %llu", (unsigned long long)s->min,
             (unsigned long long)s->max);
    if (s->default_value)
      printf("; default %s", s->default_value);
    printf("%s%s%s]\n    %s\n",
           (s->flags & DOCSTORE_SETTING_REQUIRED) ? "; required" : "",
           (s->flags & DOCSTORE_SETTING_SECRET) ? "; secret" : "",
           (s->flags & DOCSTORE_SETTING_FALLBACK) ? "; fallback only" : "",
           s->description);
  }
}

static int run_config(cli_ctx *ctx, int argc, char **argv) {
  static const struct option opts[] = {{"settings", no_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  docstore_config *cfg;
  char *dump = NULL;
  int rc, c, settings = 0;
  while ((c = cli_getopt(ctx, &cli_cmd_config, argc, argv, "", opts)) != -1) {
    if (c == 'h')
      return 0;
    if (c != 's')
      return DOCSTORE_EINVAL;
    settings = 1;
  }
  CLI_GUARD(cli_positional(ctx, argc, argv, 0, 0));
  if (settings) {
    print_settings();
    return 0;
  }
  CLI_GUARD(cli_config(ctx, &cfg));
  if ((rc = docstore_config_dump(cfg, &dump)) < 0)
    return cli_fail_lib(ctx, rc, "configuration", docstore_config_errmsg(cfg));
  printf("# .env file: %s\n%s",
         ctx->env_loaded    ? ctx->env_loaded
         : ctx->no_env_file ? "none (--no-env-file)"
                            : "none (no ./.env)",
         dump);
  docstore_free(dump);
  /* Shown even when incomplete; then say what is missing. */
  if ((rc = docstore_config_validate(cfg)) < 0)
    return cli_fail(ctx, rc, "%s", docstore_config_errmsg(cfg));
  return 0;
}

const cli_command cli_cmd_config = {
    "config", "[--settings]",
    "Print the effective configuration (secrets masked) and validate it",
    "NAME=value lines; '# default' marks defaults, '# from X' fallbacks.\n"
    "Exit status 3 when the configuration is incomplete.\n"
    "  --settings  list every setting the library knows (type, range,\n"
    "              default, description) instead; reads no configuration\n",
    run_config};
