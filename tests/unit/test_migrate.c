/*
 * Unit tests of the migration engine's parts that need no database
 * (src/migrate/): options, identifier quoting, the schema SQL against the
 * files in sql/, the statements, the report (the seed's text, JSON, error
 * limits), SHA-256, one row's transfer in dry runs and verifications with
 * fake providers, and the refusals of docstore_migrate_run() before it
 * reaches a database.  The database side is tested in
 * tests/integration/migrate/ against a real PostgreSQL.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "docstore/docstore.h"
#include "helpers/crypto_helpers.h"
#include "helpers/fake_provider.h"
#include "migrate/migrate_internal.h"

/* ------------------------------------------------------------ options */

static void test_options_init(void **state) {
  (void)state;
  docstore_migrate_options o, m = DOCSTORE_MIGRATE_OPTIONS_INIT;
  memset(&o, 0xab, sizeof(o));
  assert_int_equal(
      docstore_migrate_options_init(&o, DOCSTORE_MIGRATE_OPTIONS_VERSION), 0);
  assert_int_equal(o.version, DOCSTORE_MIGRATE_OPTIONS_VERSION);
  /* The macro and the function agree field by field. */
  assert_int_equal(o.version, m.version);
  assert_null(o.source);
  assert_null(o.target);
  assert_null(o.keyring);
  assert_null(o.database_url);
  assert_null(o.col_storage_type);
  assert_null(o.verify_type);
  assert_null(o.progress);
  assert_null(o.progress_payload);
  assert_int_equal(o.tables, m.tables);
  assert_int_equal(o.batch_size, 0);
  assert_int_equal(o.jobs, 0);
  assert_int_equal(o.dry_run, 0);
  assert_int_equal(o.delete_source, 0);
  assert_int_equal(o.max_consecutive_failures, 0);
  assert_int_equal(o.max_errors, 0);
  assert_int_equal(o.progress_interval_ms, m.progress_interval_ms);
  assert_null(m.progress_payload);
  assert_int_equal(o.lease_seconds, 0);
  assert_null(o.worker_name);
  assert_int_equal(o.write_proof, DOCSTORE_MIGRATE_PROOF_STORE);
  assert_int_equal(o.allow_outside_root, 0);
  /* A version 1 table ends before lease_seconds: not written. */
  memset(&o, 0xab, sizeof(o));
  assert_int_equal(docstore_migrate_options_init(&o, 1), 0);
  assert_int_equal(o.version, 1);
  assert_int_equal(o.progress_interval_ms, m.progress_interval_ms);
  assert_int_equal(o.lease_seconds, 0xababababu);
  assert_int_equal(docstore_migrate_options_init(&o, 3), DOCSTORE_EINVAL);
  assert_int_equal(docstore_migrate_options_init(&o, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_migrate_options_init(NULL, 1), DOCSTORE_EINVAL);
}

static void test_options_load_env(void **state) {
  (void)state;
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  setenv("DOCSTORE_MIGRATE_COL_CREATED", "uploaded_at", 1);
  setenv("DOCSTORE_MIGRATE_SCHEMA", "docs", 1);
  setenv("DATABASE_URL", "postgresql://x@127.0.0.1:1/y", 1);
  setenv("DOCSTORE_MIGRATE_COL_ID", "", 1); /* empty: not taken */
  o.schema = "mine";                        /* set: kept */
  assert_int_equal(docstore_migrate_options_load_env(&o), 0);
  assert_string_equal(o.col_created, "uploaded_at");
  assert_string_equal(o.schema, "mine");
  assert_string_equal(o.database_url, "postgresql://x@127.0.0.1:1/y");
  assert_null(o.col_id);
  unsetenv("DOCSTORE_MIGRATE_COL_CREATED");
  unsetenv("DOCSTORE_MIGRATE_SCHEMA");
  unsetenv("DATABASE_URL");
  unsetenv("DOCSTORE_MIGRATE_COL_ID");
  assert_int_equal(docstore_migrate_options_load_env(NULL), DOCSTORE_EINVAL);
}

static docstore_provider *dummy_provider(void) {
  docstore_provider *p = NULL;
  fake_provider *fp;
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  return p;
}

static void test_options_resolve_defaults(void **state) {
  (void)state;
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  docstore__mig_opts r;
  docstore__err err = {0, ""};
  o.source = o.target = dummy_provider();
  assert_int_equal(
      docstore__mig_opts_resolve(&r, &o, DOCSTORE_MIGRATE_MODE_MIGRATE, &err),
      0);
  assert_string_equal(r.source_type, "local");
  assert_string_equal(r.target_type, "s3");
  assert_string_equal(r.legacy_root, "encrypted_files/");
  assert_string_equal(r.database_url, "");
  assert_string_equal(r.schema, "document");
  assert_string_equal(r.table_name[0], "attachment");
  assert_string_equal(r.table_name[1], "attachment_staging");
  assert_string_equal(r.col_created, "created_at");
  assert_int_equal(r.tables, DOCSTORE_MIGRATE_TABLE_ALL);
  assert_int_equal(r.batch_size, 500);
  assert_int_equal(r.jobs, 4);
  assert_int_equal(r.max_consecutive_failures, 50);
  assert_int_equal(r.max_errors, 10000);
  assert_int_equal(r.progress_interval_ms, 500);
  docstore_provider_free(o.source);
}

/* Each case breaks one option; resolve must refuse it with a message. */
static void test_options_resolve_refusals(void **state) {
  (void)state;
  docstore_provider *p = dummy_provider();
  char long_name[80];
  memset(long_name, 'a', 64);
  long_name[64] = '\0';
  struct {
    const char *what;
    int mode;
    const char *needle;
  } cases[] = {
      {"version", DOCSTORE_MIGRATE_MODE_MIGRATE, "unknown options version"},
      {"jobs", DOCSTORE_MIGRATE_MODE_MIGRATE, "jobs 65 is over the limit"},
      {"batch", DOCSTORE_MIGRATE_MODE_MIGRATE, "batch size 100001"},
      {"same", DOCSTORE_MIGRATE_MODE_MIGRATE, "both 'local'"},
      {"typechars", DOCSTORE_MIGRATE_MODE_MIGRATE, "target_type may only hold"},
      {"longtype", DOCSTORE_MIGRATE_MODE_MIGRATE, "1 to 50 characters"},
      {"ctrl", DOCSTORE_MIGRATE_MODE_MIGRATE, "id column contains a control"},
      {"longident", DOCSTORE_MIGRATE_MODE_MIGRATE,
       "schema must be a name of 1 to 63"},
      {"tables", DOCSTORE_MIGRATE_MODE_MIGRATE, "unknown bits"},
      {"sametable", DOCSTORE_MIGRATE_MODE_MIGRATE, "both 'x'"},
      {"noprov", DOCSTORE_MIGRATE_MODE_MIGRATE, "needs a source and a target"},
      {"verifytype", DOCSTORE_MIGRATE_MODE_VERIFY,
       "no provider for storage type 'gcs'"},
      {"verifynotarget", DOCSTORE_MIGRATE_MODE_VERIFY,
       "no provider for storage type 's3'"},
      {"verifynone", DOCSTORE_MIGRATE_MODE_VERIFY,
       "needs a source or a target"},
  };
  char typebuf[60];
  memset(typebuf, 't', 51);
  typebuf[51] = '\0';
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
    docstore__mig_opts r;
    docstore__err err = {0, ""};
    const char *w = cases[i].what;
    o.source = o.target = p;
    if (!strcmp(w, "version"))
      o.version = 7;
    if (!strcmp(w, "jobs"))
      o.jobs = 65;
    if (!strcmp(w, "batch"))
      o.batch_size = 100001;
    if (!strcmp(w, "same"))
      o.target_type = "local";
    if (!strcmp(w, "typechars"))
      o.target_type = "s 3";
    if (!strcmp(w, "longtype"))
      o.target_type = typebuf;
    if (!strcmp(w, "ctrl"))
      o.col_id = "i\nd";
    if (!strcmp(w, "longident"))
      o.schema = long_name;
    if (!strcmp(w, "tables"))
      o.tables = 4;
    if (!strcmp(w, "sametable"))
      o.table_attachment = o.table_staging = "x";
    if (!strcmp(w, "noprov"))
      o.target = NULL;
    if (!strcmp(w, "verifytype"))
      o.verify_type = "gcs";
    if (!strcmp(w, "verifynotarget")) {
      o.verify_type = "s3";
      o.target = NULL;
    }
    if (!strcmp(w, "verifynone"))
      o.source = o.target = NULL;
    assert_int_equal(docstore__mig_opts_resolve(&r, &o, cases[i].mode, &err),
                     DOCSTORE_EINVAL);
    if (!strstr(err.msg, cases[i].needle))
      fail_msg("%s: message '%s' lacks '%s'", w, err.msg, cases[i].needle);
  }
  assert_int_equal(
      docstore__mig_opts_resolve(&(docstore__mig_opts){0}, NULL, 0, NULL),
      DOCSTORE_EINVAL);
  docstore_provider_free(p);
}

/* ---------------------------------------------------------------- sql */

static char *ident(const char *s) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  assert_int_equal(docstore__mig_ident(&b, s), 0);
  return (char *)docstore__buf_detach(&b, NULL);
}

static void test_ident_quoting(void **state) {
  (void)state;
  const char *cases[][2] = {
      {"storage_path", "storage_path"},
      {"_x1", "_x1"},
      {"user", "\"user\""},
      {"order", "\"order\""},
      {"Created", "\"Created\""},
      {"created at", "\"created at\""},
      {"a\"b", "\"a\"\"b\""},
      {"1abc", "\"1abc\""},
      {"pässport", "\"pässport\""},
      {"x;DROP TABLE y", "\"x;DROP TABLE y\""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *q = ident(cases[i][0]);
    assert_string_equal(q, cases[i][1]);
    docstore_free(q);
  }
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *s = calloc(1, 65536);
  assert_non_null(s);
  size_t n = fread(s, 1, 65535, f);
  fclose(f);
  s[n] = '\0';
  return s;
}

static void test_schema_sql_matches_files(void **state) {
  (void)state;
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  char *sql = NULL;
  char *a = read_text(DOCSTORE_SOURCE_DIR "/sql/001_storage_columns.sql");
  char *b = read_text(DOCSTORE_SOURCE_DIR "/sql/002_migration_ledger.sql");
  char *c = read_text(DOCSTORE_SOURCE_DIR "/sql/003_migration_claims.sql");
  char both[131072];
  snprintf(both, sizeof(both), "%s%s%s", a, b, c);
  assert_int_equal(docstore_migrate_schema_sql(&sql, &o), 0);
  assert_string_equal(sql, both);
  /* The seed's statements, made idempotent. */
  assert_non_null(
      strstr(a, "ALTER TABLE document.attachment ADD COLUMN IF NOT EXISTS "
                "storage_path VARCHAR(500);\n"));
  assert_non_null(
      strstr(a, "ALTER TABLE document.attachment_staging ADD COLUMN IF NOT "
                "EXISTS storage_type VARCHAR(50) DEFAULT 'local';\n"));
  docstore_free(sql);
  free(a);
  free(b);
  free(c);

  /* Mapped names, one table. */
  o.schema = "My Docs";
  o.table_attachment = "att";
  o.col_storage_path = "path";
  o.col_storage_type = "Kind";
  o.tables = DOCSTORE_MIGRATE_TABLE_ATTACHMENT;
  assert_int_equal(docstore_migrate_schema_sql(&sql, &o), 0);
  assert_non_null(
      strstr(sql, "ALTER TABLE \"My Docs\".att ADD COLUMN IF NOT EXISTS path "
                  "VARCHAR(500);\n"));
  assert_non_null(strstr(
      sql, "ALTER TABLE \"My Docs\".att ADD COLUMN IF NOT EXISTS \"Kind\" "
           "VARCHAR(50) DEFAULT 'local';\n"));
  assert_null(strstr(sql, "attachment_staging"));
  assert_non_null(strstr(
      sql, "CREATE TABLE IF NOT EXISTS \"My Docs\".docstore_migration_ledger"));
  docstore_free(sql);

  assert_int_equal(docstore_migrate_schema_sql(NULL, &o), DOCSTORE_EINVAL);
  o.jobs = 1000;
  sql = (char *)1;
  assert_int_equal(docstore_migrate_schema_sql(&sql, &o), DOCSTORE_EINVAL);
  assert_null(sql);
}

static void test_statements(void **state) {
  (void)state;
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  docstore__mig_opts r;
  docstore__mig_sql s;
  o.col_id = "doc id";
  o.batch_size = 25;
  assert_int_equal(docstore__mig_opts_resolve(&r, &o, -1, NULL), 0);
  assert_int_equal(docstore__mig_sql_build(&s, &r, "attachment"), 0);
  assert_non_null(strstr(s.page_first,
                         "FROM document.attachment AS t LEFT JOIN "
                         "document.docstore_migration_ledger AS l"));
  assert_non_null(strstr(s.page_first, "ORDER BY t.\"doc id\" LIMIT 25"));
  assert_null(strstr(s.page_first, "$2"));
  assert_non_null(strstr(
      s.page_next, "WHERE t.\"doc id\" > $2 ORDER BY t.\"doc id\" LIMIT 25"));
  /* The switch only happens when the row is still where it was read. */
  assert_non_null(strstr(
      s.update, "WHERE t.\"doc id\" = $1 AND COALESCE(t.storage_type::text, "
                "'local') = $5 AND t.storage_path::text IS NOT DISTINCT "
                "FROM $6"));
  assert_non_null(
      strstr(s.update, "ON CONFLICT (source_table, row_id) DO UPDATE"));
  assert_string_equal(s.count, "SELECT count(*) FROM document.attachment");
  docstore__mig_sql_free(&s);
  docstore__mig_sql_free(&s); /* twice: harmless */
  docstore__mig_sql_free(NULL);
}

/* ------------------------------------------------------------- report */

static docstore_migrate_report *new_report(int mode, unsigned int max_errors) {
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  docstore__mig_opts r;
  docstore_migrate_report *rep = NULL;
  o.max_errors = max_errors;
  assert_int_equal(docstore__mig_opts_resolve(&r, &o, -1, NULL), 0);
  r.mode = mode;
  assert_int_equal(docstore__mig_report_new(&rep, &r), 0);
  return rep;
}

static void test_report_text_is_the_seeds(void **state) {
  (void)state;
  docstore_migrate_report *rep = new_report(DOCSTORE_MIGRATE_MODE_MIGRATE, 0);
  docstore__mig_tally *t = docstore__mig_report_tally(rep);
  t->total = 1523;
  t->successful = 1521;
  t->failed = 2;
  assert_int_equal(
      docstore__mig_report_add(rep, DOCSTORE_ENOTFOUND, "attachment", "17",
                               "File not found: /path/to/missing_file.json"),
      0);
  assert_int_equal(
      docstore__mig_report_add(rep, DOCSTORE_ETIMEOUT, "attachment", "456",
                               "Attachment 456: Connection timeout"),
      0);
  assert_int_equal(docstore__mig_report_finish(rep, 12.5, 0, NULL), 0);
  char *text = NULL;
  assert_int_equal(docstore_migrate_report_text(rep, &text), 0);
  assert_string_equal(text,
                      "==================================================\n"
                      "📋 MIGRATION REPORT\n"
                      "==================================================\n"
                      "Total files: 1523\n"
                      "✅ Successful: 1521\n"
                      "❌ Failed: 2\n"
                      "⏭️ Skipped: 0\n"
                      "❌ Errors:\n"
                      "- File not found: /path/to/missing_file.json\n"
                      "- Attachment 456: Connection timeout\n"
                      "==================================================\n");
  docstore_free(text);

  docstore_migrate_counts n = {.version = DOCSTORE_MIGRATE_COUNTS_VERSION};
  assert_int_equal(docstore_migrate_report_counts(rep, &n), 0);
  assert_int_equal(n.total, 1523);
  assert_int_equal(n.successful, 1521);
  assert_int_equal(n.failed, 2);
  assert_int_equal(n.stop_code, 0);
  assert_true(n.elapsed_seconds == 12.5);
  n.version = 99;
  assert_int_equal(docstore_migrate_report_counts(rep, &n), DOCSTORE_EINVAL);
  assert_int_equal(docstore_migrate_report_counts(NULL, &n), DOCSTORE_EINVAL);

  assert_int_equal(docstore_migrate_report_error_count(rep), 2);
  docstore_migrate_error e = {.version = DOCSTORE_MIGRATE_ERROR_VERSION};
  assert_int_equal(docstore_migrate_report_error_at(rep, &e, 1), 0);
  assert_int_equal(e.code, DOCSTORE_ETIMEOUT);
  assert_string_equal(e.table, "attachment");
  assert_string_equal(e.row_id, "456");
  assert_string_equal(e.message, "Attachment 456: Connection timeout");
  assert_int_equal(docstore_migrate_report_error_at(rep, &e, 2),
                   DOCSTORE_EINVAL);
  e.version = 0;
  assert_int_equal(docstore_migrate_report_error_at(rep, &e, 0),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_migrate_report_text(rep, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_migrate_report_text(NULL, &text), DOCSTORE_EINVAL);
  docstore_migrate_report_free(rep);
  docstore_migrate_report_free(NULL);
  assert_int_equal(docstore_migrate_report_error_count(NULL), 0);
}

static void test_report_without_errors_verify_and_dry_run(void **state) {
  (void)state;
  docstore_migrate_report *rep = new_report(DOCSTORE_MIGRATE_MODE_VERIFY, 0);
  docstore__mig_tally *t = docstore__mig_report_tally(rep);
  t->total = 3;
  t->successful = 2;
  t->skipped = 1;
  assert_int_equal(docstore__mig_report_finish(rep, 1, 0, NULL), 0);
  char *text = NULL;
  assert_int_equal(docstore_migrate_report_text(rep, &text), 0);
  assert_string_equal(text,
                      "==================================================\n"
                      "📋 VERIFICATION REPORT\n"
                      "==================================================\n"
                      "Total files: 3\n"
                      "✅ Successful: 2\n"
                      "❌ Failed: 0\n"
                      "⏭️ Skipped: 1\n"
                      "==================================================\n");
  docstore_free(text);
  docstore_migrate_report_free(rep);

  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  docstore__mig_opts r;
  o.dry_run = 1;
  assert_int_equal(docstore__mig_opts_resolve(&r, &o, -1, NULL), 0);
  r.mode = DOCSTORE_MIGRATE_MODE_MIGRATE;
  assert_int_equal(docstore__mig_report_new(&rep, &r), 0);
  assert_int_equal(docstore_migrate_report_text(rep, &text), 0);
  assert_non_null(strstr(text, "📋 MIGRATION REPORT (DRY RUN)\n"));
  docstore_free(text);
  docstore_migrate_report_free(rep);
}

static void test_report_json(void **state) {
  (void)state;
  docstore_migrate_report *rep = new_report(DOCSTORE_MIGRATE_MODE_MIGRATE, 0);
  docstore__mig_tally *t = docstore__mig_report_tally(rep);
  t->total = 10;
  t->successful = 6;
  t->failed = 1;
  t->recovered = 2;
  t->bytes = 4096;
  assert_int_equal(
      docstore__mig_report_add(rep, DOCSTORE_EFORMAT, "attachment_staging", "9",
                               "Staging attachment 9: bad \"quote\"\x01"),
      0);
  assert_int_equal(docstore__mig_report_finish(rep, 2.0, DOCSTORE_ECANCELED,
                                               "Migration canceled"),
                   0);
  char *json = NULL;
  assert_int_equal(docstore_migrate_report_json(rep, &json), 0);
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  assert_string_equal(cJSON_GetObjectItem(j, "mode")->valuestring, "migrate");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "dry_run")));
  assert_int_equal(cJSON_GetObjectItem(j, "total")->valuedouble, 10);
  assert_int_equal(cJSON_GetObjectItem(j, "not_attempted")->valuedouble, 3);
  assert_int_equal(cJSON_GetObjectItem(j, "recovered")->valuedouble, 2);
  assert_int_equal(cJSON_GetObjectItem(j, "bytes")->valuedouble, 4096);
  assert_true(cJSON_GetObjectItem(j, "files_per_second")->valuedouble == 3.5);
  assert_string_equal(cJSON_GetObjectItem(j, "stop_code")->valuestring,
                      "DOCSTORE_ECANCELED");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tables")), 2);
  cJSON *errs = cJSON_GetObjectItem(j, "errors");
  assert_int_equal(cJSON_GetArraySize(errs), 2);
  cJSON *e0 = cJSON_GetArrayItem(errs, 0);
  assert_string_equal(cJSON_GetObjectItem(e0, "table")->valuestring,
                      "attachment_staging");
  assert_string_equal(cJSON_GetObjectItem(e0, "id")->valuestring, "9");
  assert_string_equal(cJSON_GetObjectItem(e0, "code")->valuestring,
                      "DOCSTORE_EFORMAT");
  /* Control characters never reach a report. */
  assert_string_equal(cJSON_GetObjectItem(e0, "message")->valuestring,
                      "Staging attachment 9: bad \"quote\"?");
  cJSON *e1 = cJSON_GetArrayItem(errs, 1);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(e1, "id")));
  assert_string_equal(cJSON_GetObjectItem(e1, "message")->valuestring,
                      "Migration canceled: 3 files not attempted");
  cJSON_Delete(j);
  docstore_free(json);
  assert_int_equal(docstore_migrate_report_json(rep, NULL), DOCSTORE_EINVAL);
  docstore_migrate_report_free(rep);
}

static void test_report_error_limit(void **state) {
  (void)state;
  docstore_migrate_report *rep = new_report(DOCSTORE_MIGRATE_MODE_MIGRATE, 3);
  for (int i = 0; i < 5; i++) {
    char msg[64];
    snprintf(msg, sizeof(msg), "Attachment %d: broken", i);
    assert_int_equal(
        docstore__mig_report_add(rep, DOCSTORE_EIO, "attachment", "1", msg), 0);
  }
  docstore__mig_report_tally(rep)->failed = 5;
  assert_int_equal(docstore__mig_report_finish(rep, 1, 0, NULL), 0);
  assert_int_equal(docstore_migrate_report_error_count(rep), 4);
  docstore_migrate_error e = {.version = DOCSTORE_MIGRATE_ERROR_VERSION};
  assert_int_equal(docstore_migrate_report_error_at(rep, &e, 3), 0);
  assert_string_equal(e.message,
                      "... and 2 more errors (only the first 3 are listed)");
  assert_null(e.row_id);
  docstore_migrate_report_free(rep);
}

static void test_sanitize_and_sha256(void **state) {
  (void)state;
  char s[] = "a\nb\tc\x7f"
             "d\xc3\xa4";
  docstore__mig_sanitize(s);
  assert_string_equal(s, "a?b?c?d\xc3\xa4");
  docstore__mig_sanitize(NULL);
  char hex[65];
  assert_int_equal(docstore__mig_sha256_hex(hex, (const uint8_t *)"abc", 3), 0);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(docstore__mig_sha256_hex(hex, (const uint8_t *)"", 0), 0);
  assert_string_equal(
      hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* ---------------------------------------------------------- one row */

typedef struct row_env {
  docstore_provider *src, *dst;
  fake_provider *fsrc, *fdst;
  docstore_migrate_options o;
  docstore__mig_opts r;
  docstore__mig_ctx ctx;
  char dir[128];
  char *envelope;
  size_t envelope_len;
} row_env;

static int row_setup(void **state) {
  row_env *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  assert_int_equal(fake_provider_new(&e->src, &e->fsrc, 0), 0);
  assert_int_equal(fake_provider_new(&e->dst, &e->fdst, 0), 0);
  snprintf(e->dir, sizeof(e->dir), "/tmp/docstore-test-migrate-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  docstore_keyring *kr = th_keyring(1, 1);
  docstore_doc_id id = {"42", "7"};
  assert_int_equal(docstore_envelope_seal(&e->envelope, &e->envelope_len, kr,
                                          (const uint8_t *)"passport", 8, &id),
                   0);
  docstore_keyring_free(kr);
  assert_int_equal(
      docstore_migrate_options_init(&e->o, DOCSTORE_MIGRATE_OPTIONS_VERSION),
      0);
  e->o.source = e->src;
  e->o.target = e->dst;
  e->o.legacy_root = e->dir;
  e->o.dry_run = 1;
  assert_int_equal(docstore__mig_opts_resolve(
                       &e->r, &e->o, DOCSTORE_MIGRATE_MODE_MIGRATE, NULL),
                   0);
  e->ctx.o = &e->r;
  e->ctx.table_name = "attachment";
  e->ctx.label = "Attachment";
  *state = e;
  return 0;
}

static int row_teardown(void **state) {
  row_env *e = *state;
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
  assert_int_equal(system(cmd), 0);
  docstore_free(e->envelope);
  docstore_provider_free(e->src);
  docstore_provider_free(e->dst);
  free(e);
  return 0;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static docstore__mig_row make_row(const char *filepath,
                                  const char *storage_path, const char *type) {
  docstore__mig_row r;
  memset(&r, 0, sizeof(r));
  r.id = "42";
  r.filename = "pass/port.pdf";
  r.filepath = (char *)filepath;
  r.user_id = "7";
  r.has_created = 1;
  r.created = 1705312800; /* 2024-01-15T10:00:00Z */
  r.storage_path = (char *)storage_path;
  r.storage_type = (char *)type;
  return r;
}

static void test_row_dry_run_reads_checks_and_writes_nothing(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  char path[256];
  snprintf(path, sizeof(path), "%s/a.json", e->dir);
  write_file(path, e->envelope, e->envelope_len);
  docstore__mig_row row = make_row("a.json", NULL, "local"); /* relative */
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  assert_int_equal(out.bytes, e->envelope_len);
  assert_int_equal(out.recovered, 0);
  assert_int_equal(fake_provider_calls(e->fdst, FAKE_PUT), 0);
  assert_int_equal(fake_provider_calls(e->fdst, FAKE_HEAD), 1);
  assert_int_equal(fake_provider_count(e->fdst), 0);

  /* The same bytes already at the computed key: recognised. */
  const char *key = "documents/user_7/2024/01/15/42_pass_port.pdf_pdf.json";
  char *computed = NULL;
  assert_int_equal(
      docstore_storage_path(&computed, "42", "pass/port.pdf", "7", 1705312800),
      0);
  assert_string_equal(computed, key);
  docstore_free(computed);
  assert_int_equal(
      fake_provider_seed(e->fdst, key, e->envelope, e->envelope_len), 0);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  assert_int_equal(out.recovered, 1);

  /* A different object there: refused, never overwritten. */
  assert_int_equal(fake_provider_seed(e->fdst, key, "{\"x\":1}", 7), 0);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EEXISTS);
  assert_string_equal(
      out.message, "Attachment 42: documents/user_7/2024/01/15/"
                   "42_pass_port.pdf_pdf.json on s3 already holds a different "
                   "object; not overwritten");
  size_t len = 0;
  uint8_t *kept = fake_provider_lookup(e->fdst, key, &len);
  assert_int_equal(len, 7);
  free(kept);
}

static void test_row_source_failures(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  char path[256], msg[600];

  snprintf(path, sizeof(path), "%s/missing.json", e->dir);
  docstore__mig_row row = make_row(path, NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_ENOTFOUND);
  assert_int_equal(out.infra, 0);
  snprintf(msg, sizeof(msg), "File not found: %s", path);
  assert_string_equal(out.message, msg);

  snprintf(path, sizeof(path), "%s/dir.json", e->dir);
  assert_int_equal(mkdir(path, 0700), 0);
  row = make_row(path, NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINVAL);
  snprintf(msg, sizeof(msg), "Attachment 42: file %s is a folder", path);
  assert_string_equal(out.message, msg);

  snprintf(path, sizeof(path), "%s/fifo.json", e->dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  row = make_row(path, NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINVAL);
  snprintf(msg, sizeof(msg), "Attachment 42: file %s is not a regular file",
           path);
  assert_string_equal(out.message, msg);

  snprintf(path, sizeof(path), "%s/bad.json", e->dir);
  write_file(path, "{\"enc_session_key\": ", 20);
  row = make_row(path, NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EFORMAT);
  snprintf(msg, sizeof(msg),
           "Attachment 42: %s does not parse as an envelope: ", path);
  assert_memory_equal(out.message, msg, strlen(msg));

  row = make_row(NULL, NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_string_equal(
      out.message, "Attachment 42: no storage_path and no filepath: nothing to "
                   "migrate");

  row = make_row(path, NULL, "s3"); /* a row on S3 always has a path */
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_string_equal(out.message,
                      "Attachment 42: storage type 's3' but no storage_path");

  /* An object source: missing, then failing. */
  row = make_row(NULL, "documents/system/2024/01/15/42_x_bin.json", "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_ENOTFOUND);
  assert_string_equal(
      out.message, "File not found: documents/system/2024/01/15/42_x_bin.json "
                   "on local");
  fake_provider_fail(e->fsrc, FAKE_GET, DOCSTORE_ECONNECT, "connection refused",
                     1);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_ECONNECT);
  assert_int_equal(out.infra, 1);
  assert_non_null(strstr(out.message, "connection refused"));
}

static void test_row_target_key_and_target_failures(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  char path[256];
  snprintf(path, sizeof(path), "%s/a.json", e->dir);
  write_file(path, e->envelope, e->envelope_len);

  docstore__mig_row row = make_row(path, NULL, "local");
  row.has_created = 0;
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_string_equal(out.message,
                      "Attachment 42: created_at is NULL: cannot compute the "
                      "storage path");
  row = make_row(path, NULL, "local");
  row.user_id = "7/../8";
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINVAL);
  assert_non_null(
      strstr(out.message, "Attachment 42: cannot compute the storage path: "));

  /* A row with a storage_path keeps it as its key on the target. */
  const char *key = "documents/user_7/2023/12/31/42_kept_pdf.json";
  assert_int_equal(
      fake_provider_seed(e->fsrc, key, e->envelope, e->envelope_len), 0);
  row = make_row(NULL, (char *)key, "local");
  fake_provider_fail(e->fdst, FAKE_HEAD, DOCSTORE_ETIMEOUT,
                     "Connection timeout", 1);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_ETIMEOUT);
  assert_int_equal(out.infra, 1);
  assert_non_null(strstr(
      out.message, "Attachment 42: cannot check "
                   "documents/user_7/2023/12/31/42_kept_pdf.json on s3: "));
  assert_non_null(strstr(out.message, "Connection timeout"));

  /* Not a dry run, the put fails: the message is the store's reason. */
  e->r.dry_run = 0;
  fake_provider_fail(e->fdst, FAKE_PUT, DOCSTORE_ETIMEOUT, "Connection timeout",
                     1);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_ETIMEOUT);
  assert_int_equal(out.infra, 1);
  assert_non_null(strstr(out.message, "Attachment 42: "));
  assert_non_null(strstr(out.message, "Connection timeout"));
  assert_int_equal(fake_provider_count(e->fdst), 0);
  e->r.dry_run = 1;
}

static void test_row_verify(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  const char *key = "documents/user_7/2024/01/15/42_pass_port.pdf_pdf.json";
  char sha[65];
  assert_int_equal(docstore__mig_sha256_hex(sha, (const uint8_t *)e->envelope,
                                            e->envelope_len),
                   0);
  docstore__mig_row row = make_row(NULL, (char *)key, "s3");
  row.ledger_sha = sha;

  docstore__mig_verify_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_ENOTFOUND);
  assert_string_equal(out.message,
                      "File not found: documents/user_7/2024/01/15/"
                      "42_pass_port.pdf_pdf.json on s3");

  assert_int_equal(
      fake_provider_seed(e->fdst, key, e->envelope, e->envelope_len), 0);
  docstore__mig_verify_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  assert_int_equal(out.bytes, e->envelope_len);

  /* Changed behind the tool's back, still an envelope: the hash says so. */
  char *changed = th_json_set(e->envelope, "nonce", "\"AAAAAAAAAAAAAAAA\"");
  assert_int_equal(fake_provider_seed(e->fdst, key, changed, strlen(changed)),
                   0);
  docstore__mig_verify_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(
      out.message, "differs from the SHA-256 recorded when it was migrated "
                   "(recorded "));
  /* Without a ledger entry only its structure is checked... */
  row.ledger_sha = NULL;
  docstore__mig_verify_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  /* ...and with a keyring, decryption. */
  docstore_keyring *kr = th_keyring(1, 1);
  e->r.keyring = kr;
  docstore__mig_verify_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINTEGRITY);
  assert_non_null(
      strstr(out.message, "does not decrypt with the configured key"));
  assert_int_equal(
      fake_provider_seed(e->fdst, key, e->envelope, e->envelope_len), 0);
  docstore__mig_verify_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  e->r.keyring = NULL;
  docstore_keyring_free(kr);
  free(changed);

  assert_int_equal(fake_provider_seed(e->fdst, key, "<html>", 6), 0);
  docstore__mig_verify_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EFORMAT);
  assert_non_null(strstr(out.message, "on s3 does not parse as an envelope"));
}

/* A v2 envelope of n pseudo-random bytes, 4096-byte segments. */
static char *seal_v2(size_t n, size_t *len) {
  docstore_keyring *kr = th_keyring(1, 1);
  docstore_seal_options so = DOCSTORE_SEAL_OPTIONS_INIT;
  so.segment_size = 4096;
  docstore_sealer *s = NULL;
  assert_int_equal(docstore_sealer_new(&s, kr, &so), 0);
  uint8_t *plain = th_random(n);
  size_t cap = n + 65536, o = 0, used = 0, got = 0;
  char *env = malloc(cap);
  assert_int_equal(
      docstore_sealer_update(s, (uint8_t *)env, cap, &got, plain, n, &used), 0);
  assert_int_equal(used, n);
  o = got;
  int rc;
  do {
    rc = docstore_sealer_finish(s, (uint8_t *)env + o, cap - o, &got);
    assert_true(rc >= 0);
    o += got;
  } while (rc > 0);
  docstore_sealer_free(s);
  docstore_keyring_free(kr);
  free(plain);
  *len = o;
  return env;
}

/* Defect 1 of 0.3: a source whose bytes differ from the ledger's hash is
 * refused before anything is committed. */
static void test_row_ledger_mismatch_refused(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  const char *key = "documents/user_7/2024/01/15/42_kept_pdf.json";
  assert_int_equal(
      fake_provider_seed(e->fsrc, key, e->envelope, e->envelope_len), 0);
  docstore__mig_row row = make_row(NULL, (char *)key, "local");
  row.ledger_sha =
      "0000000000000000000000000000000000000000000000000000000000000000";
  e->r.dry_run = 0;
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  e->r.dry_run = 1;
  assert_int_equal(out.code, DOCSTORE_EINTEGRITY);
  assert_int_equal(out.bytes, 0);
  assert_non_null(strstr(out.message,
                         "Attachment 42: documents/user_7/2024/01/15/"
                         "42_kept_pdf.json on local differs from the SHA-256 "
                         "recorded in the ledger (recorded 000000000000..."));
  assert_non_null(strstr(out.message, "not migrated"));
  assert_int_equal(fake_provider_calls(e->fdst, FAKE_PUT), 0);
  assert_int_equal(fake_provider_count(e->fdst), 0);
}

/* Defect 4 of 0.3: legacy files stay below legacy_root unless
 * allow_outside_root. */
static void test_row_legacy_confinement(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  char outside[128], path[300], link[300];
  snprintf(outside, sizeof(outside), "/tmp/docstore-test-outside-XXXXXX");
  assert_non_null(mkdtemp(outside));
  snprintf(path, sizeof(path), "%s/doc.json", outside);
  write_file(path, e->envelope, e->envelope_len);

  docstore__mig_row row = make_row(path, NULL, "local"); /* absolute */
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EACCESS);
  assert_non_null(strstr(out.message, "outside the legacy root"));
  assert_non_null(strstr(out.message, "--allow-outside-root"));

  char rel[400];
  snprintf(rel, sizeof(rel), "../%s/doc.json", strrchr(outside, '/') + 1);
  row = make_row(rel, NULL, "local"); /* "..": refused as written */
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EACCESS);
  assert_non_null(strstr(out.message, "\"..\""));

  snprintf(link, sizeof(link), "%s/link.json", e->dir);
  assert_int_equal(symlink(path, link), 0);
  row = make_row("link.json", NULL, "local"); /* a link out of the root */
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EACCESS);
  assert_non_null(strstr(out.message, "symbolic link"));

  /* allow_outside_root lifts all three. */
  e->r.allow_outside_root = 1;
  row = make_row(path, NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  row = make_row("link.json", NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  assert_int_equal(out.bytes, e->envelope_len);
  e->r.allow_outside_root = 0;
  unlink(path);
  rmdir(outside);
}

/* Sizes: a huge JSON-looking file is refused from its size, a huge file
 * that is no envelope from its first bytes; neither is read whole (the
 * files are sparse: reading them would take long). */
static void test_row_refused_before_reading(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  char path[256];
  snprintf(path, sizeof(path), "%s/huge.json", e->dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "{\"nonce\"", 8), 8);
  assert_int_equal(ftruncate(fd, (off_t)((size_t)3 << 29) + 1), 0);
  close(fd);
  time_t t0 = time(NULL);
  docstore__mig_row row = make_row("huge.json", NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_ETOOBIG);
  assert_non_null(strstr(out.message, "does not parse as an envelope: not a "
                                      "version 2 envelope, and 1610612737 "
                                      "bytes is over"));

  snprintf(path, sizeof(path), "%s/zeros.json", e->dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)3 << 30), 0);
  close(fd);
  row = make_row("zeros.json", NULL, "local");
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EFORMAT);
  assert_non_null(strstr(out.message, "neither a version 2 envelope nor a "
                                      "JSON object (byte 0x00 at offset 0)"));
  assert_true(time(NULL) - t0 < 5);
}

/* A v2 envelope is checked as it streams: with a keyring every segment
 * (a flipped byte is found), without one the header and the layout (a
 * size no segment layout gives is found). */
static void test_row_v2_checked_while_streaming(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  size_t len = 0;
  char *env = seal_v2(300000, &len);
  const char *key = "documents/user_7/2024/01/15/42_v2_bin.json";
  docstore__mig_row row = make_row(NULL, (char *)key, "local");
  docstore_keyring *kr = th_keyring(1, 1);

  assert_int_equal(fake_provider_seed(e->fsrc, key, env, len), 0);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  assert_int_equal(out.bytes, len);
  e->r.keyring = kr;
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);

  env[len / 2] ^= 0x40;
  assert_int_equal(fake_provider_seed(e->fsrc, key, env, len), 0);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(out.message, "does not decrypt with the configured "
                                      "key"));
  env[len / 2] ^= 0x40;
  e->r.keyring = NULL;

  /* Cut so that the last segment is shorter than its tag: impossible. */
  size_t hlen = 0;
  assert_int_equal(
      docstore_envelope_header_size(&hlen, (const uint8_t *)env, 16), 0);
  size_t cut = hlen + 10 * (4096 + 16) + 5;
  assert_true(cut < len);
  assert_int_equal(fake_provider_seed(e->fsrc, key, env, cut), 0);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(out.message, "does not parse as an envelope"));
  e->r.keyring = kr;
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, DOCSTORE_EINTEGRITY);
  e->r.keyring = NULL;
  docstore_keyring_free(kr);
  free(env);
}

/* Defect 2 of 0.3: a staging row goes to a "staging/" folder, never to the
 * object of the attachment row with the same id, name, owner and day. */
static void test_row_staging_key(void **state) {
  row_env *e = *state;
  docstore__mig_outcome out;
  char path[256];
  snprintf(path, sizeof(path), "%s/a.json", e->dir);
  write_file(path, e->envelope, e->envelope_len);
  const char *plain = "documents/user_7/2024/01/15/42_pass_port.pdf_pdf.json";
  const char *staged =
      "documents/user_7/2024/01/15/staging/42_pass_port.pdf_pdf.json";
  assert_int_equal(
      fake_provider_seed(e->fdst, plain, e->envelope, e->envelope_len), 0);
  docstore__mig_row row = make_row("a.json", NULL, "local");
  row.table = 1;
  e->ctx.label = "Staging attachment";
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  assert_int_equal(out.recovered, 0); /* not the attachment row's object */
  assert_int_equal(
      fake_provider_seed(e->fdst, staged, e->envelope, e->envelope_len), 0);
  docstore__mig_migrate_row(&e->ctx, &row, &out);
  assert_int_equal(out.code, 0);
  assert_int_equal(out.recovered, 1);
  e->ctx.label = "Attachment";
}

/* ----------------------------------------------------------------- runs */

static void test_run_refusals_before_the_database(void **state) {
  (void)state;
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  docstore_migrate_report *rep = (docstore_migrate_report *)1;
  char err[256] = "";
  assert_int_equal(docstore_migrate_run(NULL, &o, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_migrate_run(&rep, NULL, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_null(rep);
  assert_int_equal(docstore_migrate_run(&rep, &o, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_string_equal(err, "a migration needs a source and a target provider");
  assert_string_equal(docstore_last_errmsg(), err);
  assert_int_equal(docstore_migrate_verify(&rep, &o, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_null(rep);

  /* No server there: a clean database error, no report. */
  o.source = o.target = dummy_provider();
  o.database_url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=5";
  assert_int_equal(docstore_migrate_run(&rep, &o, err, sizeof(err)),
                   DOCSTORE_EDATABASE);
  assert_null(rep);
  assert_non_null(strstr(err, "cannot connect to the database: "));
  assert_int_equal(docstore_last_errcode(), DOCSTORE_EDATABASE);
  assert_int_equal(docstore_migrate_verify(&rep, &o, NULL, 0),
                   DOCSTORE_EDATABASE);
  assert_int_equal(docstore_migrate_schema_apply(&o, err, sizeof(err)),
                   DOCSTORE_EDATABASE);
  assert_non_null(strstr(err, "cannot connect to the database: "));
  o.jobs = 99;
  assert_int_equal(docstore_migrate_schema_apply(&o, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_migrate_schema_apply(NULL, err, sizeof(err)),
                   DOCSTORE_EINVAL);
  docstore_provider_free(o.source);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_init),
      cmocka_unit_test(test_options_load_env),
      cmocka_unit_test(test_options_resolve_defaults),
      cmocka_unit_test(test_options_resolve_refusals),
      cmocka_unit_test(test_ident_quoting),
      cmocka_unit_test(test_schema_sql_matches_files),
      cmocka_unit_test(test_statements),
      cmocka_unit_test(test_report_text_is_the_seeds),
      cmocka_unit_test(test_report_without_errors_verify_and_dry_run),
      cmocka_unit_test(test_report_json),
      cmocka_unit_test(test_report_error_limit),
      cmocka_unit_test(test_sanitize_and_sha256),
      cmocka_unit_test_setup_teardown(
          test_row_dry_run_reads_checks_and_writes_nothing, row_setup,
          row_teardown),
      cmocka_unit_test_setup_teardown(test_row_source_failures, row_setup,
                                      row_teardown),
      cmocka_unit_test_setup_teardown(test_row_target_key_and_target_failures,
                                      row_setup, row_teardown),
      cmocka_unit_test_setup_teardown(test_row_verify, row_setup, row_teardown),
      cmocka_unit_test_setup_teardown(test_row_ledger_mismatch_refused,
                                      row_setup, row_teardown),
      cmocka_unit_test_setup_teardown(test_row_legacy_confinement, row_setup,
                                      row_teardown),
      cmocka_unit_test_setup_teardown(test_row_refused_before_reading,
                                      row_setup, row_teardown),
      cmocka_unit_test_setup_teardown(test_row_v2_checked_while_streaming,
                                      row_setup, row_teardown),
      cmocka_unit_test_setup_teardown(test_row_staging_key, row_setup,
                                      row_teardown),
      cmocka_unit_test(test_run_refusals_before_the_database),
  };
  return cmocka_run_group_tests(tests, NULL, th_group_teardown);
}
