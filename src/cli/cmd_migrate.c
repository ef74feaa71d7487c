/*
 * docstore CLI - `docstore migrate`: a thin shell over docstore_migrate_*
 * (include/docstore/migrate.h).  Operator's guide: docs/MIGRATION.md.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

extern const cli_command cli_cmd_migrate;

/* ------------------------------------------------------------ progress */

/* The callback comes every 200 ms, so that Ctrl-C is answered at once;
 * cli_progress_due() spaces the plain lines. */
static int on_progress(void *payload, const docstore_migrate_progress *p) {
  cli_progress *v = payload;
  int final = p->phase == DOCSTORE_MIGRATE_PHASE_DONE;
  char eta[32], text[256];
  double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100.0;
  if (pct > 100.0)
    pct = 100.0;
  if (cli_progress_due(v, p->elapsed_seconds, final)) {
    cli_fmt_duration(eta, sizeof(eta), final ? 0 : p->eta_seconds);
    if (v->tty)
      snprintf(text, sizeof(text),
               "%llu/%llu %5.1f%% %.1f files/s ETA %s failed %llu skipped "
               "%llu",
               (unsigned long long)p->done, (unsigned long long)p->total, pct,
               p->files_per_second, eta, (unsigned long long)p->failed,
               (unsigned long long)p->skipped);
    else
      snprintf(text, sizeof(text),
               "%llu/%llu (%.1f%%), %.1f files/s, ETA %s, %llu failed, %llu "
               "skipped",
               (unsigned long long)p->done, (unsigned long long)p->total, pct,
               p->files_per_second, eta, (unsigned long long)p->failed,
               (unsigned long long)p->skipped);
    cli_progress_draw(v, pct, text, final);
  }
  return cli_interrupted ? 1 : 0;
}

/* ------------------------------------------------------------ services */

/* A service of the given STORAGE_TYPE from the command's configuration. */
static int service_of_type(cli_ctx *ctx, const char *type,
                           docstore_service **out) {
  docstore_config *cfg;
  char err[1024], *saved = NULL;
  int rc;
  *out = NULL;
  CLI_GUARD(cli_config(ctx, &cfg));
  const char *old = docstore_config_get(cfg, "STORAGE_TYPE");
  if (old && !(saved = strdup(old)))
    return cli_fail(ctx, DOCSTORE_ENOMEM, "out of memory");
  rc = docstore_config_set(cfg, "STORAGE_TYPE", type);
  err[0] = '\0';
  if (rc == 0)
    rc = docstore_service_from_config(out, cfg, err, sizeof(err));
  else
    snprintf(err, sizeof(err), "%s", docstore_config_errmsg(cfg));
  (void)docstore_config_set(cfg, "STORAGE_TYPE", saved);
  free(saved);
  if (ctx->log_level >= 0)
    docstore_set_log_level(ctx->log_level);
  if (rc < 0)
    return cli_fail(ctx, rc, "%s storage: %s", type,
                    err[0] ? err : docstore_strerror(rc));
  return 0;
}

/* --------------------------------------------------------------- args */

typedef struct migrate_args {
  docstore_migrate_options o;
  const char *action; /* "schema", "s3", "local", or NULL (verify) */
  int verify;
  int print_sql;
  int decrypt_check;
  int progress; /* CLI_PROGRESS_* */
  const char *report_json;
  cli_keys keys;
} migrate_args;

static int parse_table(cli_ctx *ctx, const char *v, unsigned int *out) {
  if (strcmp(v, "attachment") == 0)
    *out = DOCSTORE_MIGRATE_TABLE_ATTACHMENT;
  else if (strcmp(v, "attachment_staging") == 0 || strcmp(v, "staging") == 0)
    *out = DOCSTORE_MIGRATE_TABLE_STAGING;
  else if (strcmp(v, "all") == 0)
    *out = DOCSTORE_MIGRATE_TABLE_ALL;
  else
    return cli_usage(ctx,
                     "--table takes attachment, attachment_staging or "
                     "all, got '%s'",
                     v);
  return 0;
}

static int parse_args(cli_ctx *ctx, int argc, char **argv, migrate_args *a) {
  enum {
    O_BATCH = 256,
    O_DRY,
    O_TABLE,
    O_JSON,
    O_DELETE,
    O_VERIFY,
    O_PRINT,
    O_DECRYPT,
    O_ROOT,
    O_DB,
    O_MAXFAIL,
    O_PROGRESS,
    O_PASSENV,
    O_OUTSIDE,
    O_PROOF,
    O_LEASE,
    O_WORKER
  };
  static const struct option longopts[] = {
      {"batch-size", required_argument, NULL, O_BATCH},
      {"jobs", required_argument, NULL, 'j'},
      {"dry-run", no_argument, NULL, O_DRY},
      {"table", required_argument, NULL, O_TABLE},
      {"report-json", required_argument, NULL, O_JSON},
      {"delete-source", no_argument, NULL, O_DELETE},
      {"verify", no_argument, NULL, O_VERIFY},
      {"print", no_argument, NULL, O_PRINT},
      {"decrypt-check", no_argument, NULL, O_DECRYPT},
      {"private-key", required_argument, NULL, 'K'},
      {"passphrase-env", required_argument, NULL, O_PASSENV},
      {"legacy-root", required_argument, NULL, O_ROOT},
      {"database-url", required_argument, NULL, O_DB},
      {"max-failures", required_argument, NULL, O_MAXFAIL},
      {"progress", required_argument, NULL, O_PROGRESS},
      {"allow-outside-root", no_argument, NULL, O_OUTSIDE},
      {"write-proof", required_argument, NULL, O_PROOF},
      {"lease", required_argument, NULL, O_LEASE},
      {"worker-name", required_argument, NULL, O_WORKER},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  unsigned long v;
  int c;
  memset(a, 0, sizeof(*a));
  if (docstore_migrate_options_init(&a->o, DOCSTORE_MIGRATE_OPTIONS_VERSION) <
      0)
    return cli_fail(ctx, DOCSTORE_EINVAL, "%s", docstore_last_errmsg());
  while ((c = cli_getopt(ctx, &cli_cmd_migrate, argc, argv,
                         "j:K:", longopts)) != -1) {
    switch (c) {
    case O_BATCH:
      CLI_GUARD(cli_parse_uint(ctx, "--batch-size", optarg, 1, 100000, &v));
      a->o.batch_size = (unsigned int)v;
      break;
    case 'j':
      CLI_GUARD(cli_parse_uint(ctx, "--jobs", optarg, 1, 64, &v));
      a->o.jobs = (unsigned int)v;
      break;
    case O_DRY:
      a->o.dry_run = 1;
      break;
    case O_TABLE:
      CLI_GUARD(parse_table(ctx, optarg, &a->o.tables));
      break;
    case O_JSON:
      a->report_json = optarg;
      break;
    case O_DELETE:
      a->o.delete_source = 1;
      break;
    case O_VERIFY:
      a->verify = 1;
      break;
    case O_PRINT:
      a->print_sql = 1;
      break;
    case O_DECRYPT:
      a->decrypt_check = 1;
      break;
    case 'K':
      CLI_GUARD(
          cli_keys_add(ctx, a->keys.private_files, &a->keys.n_private, optarg));
      a->decrypt_check = 1;
      break;
    case O_PASSENV:
      a->keys.passphrase_env = optarg;
      break;
    case O_ROOT:
      a->o.legacy_root = optarg;
      break;
    case O_DB:
      a->o.database_url = optarg;
      break;
    case O_MAXFAIL:
      CLI_GUARD(cli_parse_uint(ctx, "--max-failures", optarg, 0, 1000000, &v));
      a->o.max_consecutive_failures =
          v ? (unsigned int)v : DOCSTORE_MIGRATE_UNLIMITED;
      break;
    case O_PROGRESS:
      CLI_GUARD(cli_progress_mode(ctx, optarg, &a->progress));
      break;
    case O_OUTSIDE:
      a->o.allow_outside_root = 1;
      break;
    case O_PROOF:
      if (strcmp(optarg, "store") != 0 && strcmp(optarg, "readback") != 0)
        return cli_usage(ctx, "--write-proof takes store or readback");
      a->o.write_proof = optarg[0] == 'r' ? DOCSTORE_MIGRATE_PROOF_READBACK
                                          : DOCSTORE_MIGRATE_PROOF_STORE;
      break;
    case O_LEASE:
      CLI_GUARD(cli_parse_uint(ctx, "--lease", optarg, 10, 86400, &v));
      a->o.lease_seconds = (unsigned int)v;
      break;
    case O_WORKER:
      a->o.worker_name = optarg;
      break;
    case 'h':
      return 1;
    default:
      return DOCSTORE_EINVAL;
    }
  }
  if (a->verify) {
    CLI_GUARD(cli_positional(ctx, argc, argv, 0, 1));
    a->o.verify_type = optind < argc ? argv[optind] : NULL;
  } else {
    CLI_GUARD(cli_positional(ctx, argc, argv, 1, 1));
    a->action = argv[optind];
    if (strcmp(a->action, "schema") != 0 && strcmp(a->action, "s3") != 0 &&
        strcmp(a->action, "local") != 0)
      return cli_usage(ctx,
                       "unknown migration '%s': use s3, local, schema "
                       "or --verify",
                       a->action);
  }
  if (a->print_sql && !(a->action && strcmp(a->action, "schema") == 0))
    return cli_usage(ctx, "--print goes with `migrate schema`");
  if (a->o.delete_source && (a->verify || a->o.dry_run))
    return cli_usage(ctx, "--delete-source goes with a real migration only");
  /* DATABASE_URL, column and table names, the legacy root...: from the
   * configuration every command reads (environment, ./.env or
   * --env-file), as `docstore config` shows it. */
  docstore_config *cfg;
  CLI_GUARD(cli_config(ctx, &cfg));
  if (docstore_migrate_options_from_config(&a->o, cfg) < 0)
    return cli_fail(ctx, DOCSTORE_EINVAL, "%s", docstore_last_errmsg());
  return 0;
}

/* ------------------------------------------------------------- output */

static int output_report(cli_ctx *ctx, const migrate_args *a,
                         const docstore_migrate_report *rep) {
  char *text = NULL, *json = NULL;
  int rc = docstore_migrate_report_text(rep, &text);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "report", docstore_last_errmsg());
  fputs(text, stdout);
  fflush(stdout);
  docstore_free(text);
  if (!a->report_json)
    return 0;
  rc = docstore_migrate_report_json(rep, &json);
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "report", docstore_last_errmsg());
  rc = cli_write_output(ctx, a->report_json, json, strlen(json), 0600, 0);
  if (rc == 0 && strcmp(a->report_json, "-") == 0)
    fputc('\n', stdout);
  docstore_free(json);
  return rc;
}

/* Exit status: 0 only when nothing failed; else the class of the first
 * failure (see `docstore help`). */
static int judge(cli_ctx *ctx, const docstore_migrate_report *rep) {
  docstore_migrate_counts n = {.version = DOCSTORE_MIGRATE_COUNTS_VERSION};
  if (docstore_migrate_report_counts(rep, &n) < 0)
    return cli_fail(ctx, DOCSTORE_EINVAL, "%s", docstore_last_errmsg());
  if (n.failed == 0 && n.stop_code == 0)
    return 0;
  docstore_migrate_error e = {.version = DOCSTORE_MIGRATE_ERROR_VERSION};
  int code = DOCSTORE_EIO;
  const char *first = "";
  if (docstore_migrate_report_error_count(rep) > 0 &&
      docstore_migrate_report_error_at(rep, &e, 0) == 0) {
    code = e.code < 0 ? e.code : code;
    first = e.message;
  }
  return cli_fail(ctx, code, "%llu of %llu documents failed (first: %s)",
                  (unsigned long long)n.failed, (unsigned long long)n.total,
                  first);
}

/* ---------------------------------------------------------------- run */

static int run_schema(cli_ctx *ctx, migrate_args *a) {
  char err[1024];
  if (a->print_sql) {
    char *sql = NULL;
    int rc = docstore_migrate_schema_sql(&sql, &a->o);
    if (rc < 0)
      return cli_fail_lib(ctx, rc, "schema", docstore_last_errmsg());
    fputs(sql, stdout);
    docstore_free(sql);
    return 0;
  }
  err[0] = '\0';
  int rc = docstore_migrate_schema_apply(&a->o, err, sizeof(err));
  if (rc < 0)
    return cli_fail_lib(ctx, rc, "schema", err);
  printf("✅ Schema applied: storage_path and storage_type present, "
         "migration ledger ready\n");
  return 0;
}

static int run_migrate(cli_ctx *ctx, int argc, char **argv) {
  migrate_args a;
  docstore_service *local = NULL, *s3 = NULL;
  docstore_keyring *kr = NULL;
  docstore_migrate_report *rep = NULL;
  char err[1024];
  int rc = parse_args(ctx, argc, argv, &a);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  if (a.action && strcmp(a.action, "schema") == 0)
    return run_schema(ctx, &a);

  if (a.o.verify_type && strcmp(a.o.verify_type, "local") != 0 &&
      strcmp(a.o.verify_type, "s3") != 0)
    return cli_usage(ctx, "--verify takes s3 or local, got '%s'",
                     a.o.verify_type);
  int to_local = a.action && strcmp(a.action, "local") == 0;
  /* Stores: the local one always; S3 for a migration, and for a
   * verification when it is configured (or asked for). */
  docstore_config *cfg;
  CLI_GUARD(cli_config(ctx, &cfg));
  int want_s3 = !a.verify ||
                (a.o.verify_type && strcmp(a.o.verify_type, "s3") == 0) ||
                (!a.o.verify_type && docstore_config_get(cfg, "S3_BUCKET"));
  if ((rc = service_of_type(ctx, "local", &local)) < 0)
    goto done;
  if (want_s3 && (rc = service_of_type(ctx, "s3", &s3)) < 0)
    goto done;
  a.o.source_type = to_local ? "s3" : "local";
  a.o.target_type = to_local ? "local" : "s3";
  a.o.source = docstore_service_provider(to_local ? s3 : local);
  a.o.target = s3 ? docstore_service_provider(to_local ? local : s3) : NULL;
  if (a.verify && !s3) { /* verify rows on local only */
    a.o.source = docstore_service_provider(local);
    a.o.target = NULL;
  }
  if (a.decrypt_check) {
    if ((rc = cli_keyring(ctx, &kr, &a.keys, CLI_KEY_PRIVATE)) < 0)
      goto done;
    a.o.keyring = kr;
  }

  cli_progress view;
  cli_progress_init(&view, a.progress, a.verify ? "verify" : "migrate");
  a.o.progress = on_progress;
  a.o.progress_payload = &view;
  a.o.progress_interval_ms = 200;

  cli_sigint_catch();
  err[0] = '\0';
  rc = a.verify ? docstore_migrate_verify(&rep, &a.o, err, sizeof(err))
                : docstore_migrate_run(&rep, &a.o, err, sizeof(err));
  cli_sigint_restore();

  if (rep) {
    int orc = output_report(ctx, &a, rep);
    if (rc == 0)
      rc = orc < 0 ? orc : judge(ctx, rep);
  }
  if (rc < 0 && !ctx->code)
    rc = cli_fail_lib(ctx, rc, a.verify ? "verify" : a.action, err);
done:
  docstore_migrate_report_free(rep);
  docstore_keyring_free(kr);
  docstore_service_free(s3);
  docstore_service_free(local);
  return rc;
}

const cli_command cli_cmd_migrate = {
    "migrate", "s3 | local | schema [--print] | --verify [s3|local]  [options]",
    "Move documents between local storage and S3 following the database, "
    "or verify them",
    "  s3                 move rows on local storage to S3 (STORAGE_TYPE\n"
    "                     does not matter: both stores come from the\n"
    "                     configuration)\n"
    "  local              move rows on S3 to LOCAL_STORAGE_PATH\n"
    "  schema             add storage_path/storage_type and the migration\n"
    "                     ledger (idempotent); --print shows the SQL only\n"
    "  --verify [TYPE]    check every row's object (on TYPE only, if given):\n"
    "                     missing, changed since migrated, not an envelope\n"
    "  --batch-size N     rows per page (default 500)\n"
    "  -j, --jobs N       parallel transfers (default 4)\n"
    "  --dry-run          read and check everything, write nothing\n"
    "  --table T          attachment, attachment_staging or all (default)\n"
    "  --report-json FILE also write the report as JSON ('-': stdout)\n"
    "  --delete-source    delete each source once its row is switched\n"
    "                     (after the write was proven and hash checked)\n"
    "  --write-proof P    store (default: the store's own proof of the\n"
    "                     bytes) or readback (also read each object back)\n"
    "  --allow-outside-root  read legacy files outside the legacy root\n"
    "                     (absolute paths, \"..\", links); refused by default\n"
    "  --decrypt-check    also decrypt every document (needs the private\n"
    "                     key: RSA_PRIVATE_KEY_PATH or -K FILE)\n"
    "  -K, --private-key FILE, --passphrase-env VAR\n"
    "  --legacy-root DIR  base of relative filepath values\n"
    "                     (default LOCAL_STORAGE_PATH)\n"
    "  --database-url URL default DATABASE_URL, else the PG* variables\n"
    "  --max-failures N   stop after N store failures in a row (default\n"
    "                     50; 0: never)\n"
    "  --progress MODE    auto (bar on a terminal, else a line every 10 s),\n"
    "                     bar, lines or none\n"
    "  --lease SECONDS    how long a claimed row stays this run's unless\n"
    "                     renewed (default DOCSTORE_MIGRATE_LEASE_SECONDS,\n"
    "                     300); runs on several hosts share the rows\n"
    "  --worker-name NAME this run in the claims and the report (default\n"
    "                     DOCSTORE_MIGRATE_WORKER_NAME, else host:pid)\n"
    "Column names: DOCSTORE_MIGRATE_COL_{ID,FILENAME,FILEPATH,USER_ID,\n"
    "CREATED,STORAGE_PATH,STORAGE_TYPE}, DOCSTORE_MIGRATE_SCHEMA,\n"
    "DOCSTORE_MIGRATE_TABLE_{ATTACHMENT,STAGING}.  Settings come from the\n"
    "environment, ./.env or --env-file, like every command's.  Exit status\n"
    "0 only when no document failed.  See docs/MIGRATION.md.\n",
    run_migrate};
