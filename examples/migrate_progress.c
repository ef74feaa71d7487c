/*
 * migrate_progress: the seed's migration script with a progress callback.
 *
 *   python -m scripts.migrate_documents_to_storage s3
 *   python -m scripts.migrate_documents_to_storage local
 *
 * becomes
 *
 *   migrate_progress [--dry-run] s3       local files/objects -> S3
 *   migrate_progress [--dry-run] local    S3 objects -> local filesystem
 *
 * It adds the storage_path / storage_type columns when missing (the seed's
 * "Database Schema Changes", idempotent), moves the documents that the
 * rows of document.attachment and document.attachment_staging point at,
 * prints progress as it goes and the seed's MIGRATION REPORT at the end.
 *
 * Environment: DATABASE_URL (or libpq's PG* variables); LOCAL_STORAGE_PATH
 * (the local storage root, and the folder relative legacy `filepath`
 * values are read from; default encrypted_files/); S3_BUCKET,
 * S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_ENDPOINT_URL;
 * DOCSTORE_MIGRATE_SCHEMA and friends to rename tables and columns (see
 * <docstore/migrate.h>).
 * Exit status: 0 when every document migrated, 1 otherwise.
 *
 * Build: cc migrate_progress.c $(pkg-config --cflags --libs docstore)
 * SPDX-License-Identifier: Apache-2.0
 */
#include <docstore/docstore.h>
#include <docstore/migrate.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, int rc, const char *detail) {
  fprintf(stderr, "migrate_progress: %s: %s (%s)%s%s\n", what,
          docstore_strerror(rc), docstore_error_name(rc),
          detail && *detail ? ": " : "", detail ? detail : "");
  return 1;
}

/* Called from the migrating thread at most every progress_interval_ms. */
static int on_progress(void *payload, const docstore_migrate_progress *p) {
  uint64_t *failed_shown = payload;
  double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100.0;

  printf("progress: %llu/%llu (%.0f%%) %llu ok, %llu failed, %llu skipped, "
         "%.1f files/s",
         (unsigned long long)p->done, (unsigned long long)p->total, pct,
         (unsigned long long)p->successful, (unsigned long long)p->failed,
         (unsigned long long)p->skipped, p->files_per_second);
  if (p->phase == DOCSTORE_MIGRATE_PHASE_DONE)
    printf(", done in %.1f s\n", p->elapsed_seconds);
  else if (p->eta_seconds >= 0)
    printf(", about %.0f s left\n", p->eta_seconds);
  else
    printf("\n");
  /* a new failure since the last call: show the latest (the string is
   * only valid during this call) */
  if (p->failed > *failed_shown && p->last_error)
    printf("  latest error: %s\n", p->last_error);
  *failed_shown = p->failed;
  fflush(stdout);
  return 0; /* non-zero would stop the run (DOCSTORE_ECANCELED) */
}

int main(int argc, char **argv) {
  docstore_migrate_options opts = DOCSTORE_MIGRATE_OPTIONS_INIT;
  docstore_local_options lopts = DOCSTORE_LOCAL_OPTIONS_INIT;
  docstore_migrate_counts counts;
  docstore_migrate_report *report = NULL;
  docstore_config *cfg = NULL;
  docstore_service *s3svc = NULL;
  docstore_provider *local = NULL, *s3;
  const char *target = NULL, *root;
  uint64_t failed_shown = 0;
  char *text = NULL;
  char err[512];
  int i, rc, dry_run = 0, status = 1;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dry-run") == 0)
      dry_run = 1;
    else if (!target &&
             (strcmp(argv[i], "s3") == 0 || strcmp(argv[i], "local") == 0))
      target = argv[i];
    else {
      target = NULL; /* usage */
      break;
    }
  }
  if (!target) {
    fprintf(stderr, "usage: migrate_progress [--dry-run] s3|local\n");
    return 2;
  }

  /* both storages, from the seed's variables */
  if ((rc = docstore_config_new(&cfg)) < 0)
    return fail("docstore_config_new", rc, NULL);
  if ((rc = docstore_config_load_env(cfg)) < 0) {
    fail("docstore_config_load_env", rc, docstore_config_errmsg(cfg));
    goto done;
  }
  root = docstore_config_get(cfg, "LOCAL_STORAGE_PATH");
  lopts.root = root ? root : "encrypted_files/";
  if ((rc = docstore_local_provider_new(&local, &lopts, err, sizeof(err))) <
      0) {
    fail("docstore_local_provider_new", rc, err);
    goto done;
  }
  if ((rc = docstore_config_set(cfg, "STORAGE_TYPE", "s3")) < 0) {
    fail("docstore_config_set", rc, docstore_config_errmsg(cfg));
    goto done;
  }
  if ((rc = docstore_service_from_config(&s3svc, cfg, err, sizeof(err))) < 0) {
    fail("S3 storage", rc, err);
    goto done;
  }
  s3 = docstore_service_provider(s3svc); /* borrowed from the service */

  /* the run: DATABASE_URL, table and column names from the environment */
  if ((rc = docstore_migrate_options_load_env(&opts)) < 0) {
    fail("docstore_migrate_options_load_env", rc, NULL);
    goto done;
  }
  if (strcmp(target, "s3") == 0) {
    opts.source = local;
    opts.source_type = "local";
    opts.target = s3;
    opts.target_type = "s3";
  } else {
    opts.source = s3;
    opts.source_type = "s3";
    opts.target = local;
    opts.target_type = "local";
  }
  if (!opts.legacy_root)
    opts.legacy_root = lopts.root;
  opts.dry_run = dry_run;
  opts.progress = on_progress;
  opts.progress_payload = &failed_shown;
  opts.progress_interval_ms = 200;

  if ((rc = docstore_migrate_schema_apply(&opts, err, sizeof(err))) < 0) {
    fail("docstore_migrate_schema_apply", rc, err);
    goto done;
  }
  printf("schema: storage_path and storage_type columns present\n");
  printf("migrating %s -> %s%s\n", opts.source_type, opts.target_type,
         dry_run ? " (dry run: nothing is written)" : "");

  rc = docstore_migrate_run(&report, &opts, err, sizeof(err));
  if (report) {
    if (docstore_migrate_report_text(report, &text) == 0)
      fputs(text, stdout);
    memset(&counts, 0, sizeof(counts));
    counts.version = DOCSTORE_MIGRATE_COUNTS_VERSION;
    if (docstore_migrate_report_counts(report, &counts) == 0 && rc == 0 &&
        counts.failed == 0)
      status = 0;
  }
  if (rc < 0)
    fail("docstore_migrate_run", rc, err);

done:
  docstore_free(text);
  docstore_migrate_report_free(report);
  docstore_provider_free(local);
  docstore_service_free(s3svc);
  docstore_config_free(cfg);
  printf("%s\n",
         status == 0 ? "migrate_progress: OK" : "migrate_progress: FAILED");
  return status;
}
