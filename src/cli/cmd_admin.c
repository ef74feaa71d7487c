/*
 * docstore CLI - operator commands: check, config.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

extern const cli_command cli_cmd_check, cli_cmd_config;

/* Commands without options of their own: only --help. */
static int no_options(cli_ctx *ctx, const cli_command *cmd, int argc,
                      char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c = cli_getopt(ctx, cmd, argc, argv, "", opts);
  if (c == 'h')
    return 1;
  if (c != -1)
    return DOCSTORE_EINVAL;
  CLI_GUARD(cli_positional(ctx, argc, argv, 0, 0));
  return 0;
}

static int run_check(cli_ctx *ctx, int argc, char **argv) {
  docstore_service *svc;
  char *report = NULL;
  int rc = no_options(ctx, &cli_cmd_check, argc, argv);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  CLI_GUARD(cli_service(ctx, &svc));
  rc = docstore_service_check(svc, &report);
  if (report && *report)
    printf("%s%s", report, report[strlen(report) - 1] == '\n' ? "" : "\n");
  docstore_free(report);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "storage check failed",
                        docstore_service_errmsg(svc));
  return 0;
}

const cli_command cli_cmd_check = {
    "check", "",
    "Check the storage: reachable, credentials, bucket (local: writable)",
    "One line per check on standard output; exit status non-zero when one "
    "fails.\n",
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
