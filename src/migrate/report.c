/*
 * libdocstore - the migration report: counts, errors, text, JSON.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "migrate_internal.h"

typedef struct report_entry {
  int code;
  char *table;  /* NULL: run-level */
  char *row_id; /* NULL: run-level */
  char *message;
} report_entry;

struct docstore_migrate_report {
  int mode;
  int dry_run;
  char *source_type;
  char *target_type;
  char *verify_type;
  char *worker; /* the run's name in the claims (host:pid by default) */
  char *table_name[2];
  unsigned int tables;
  docstore__mig_tally t;
  double elapsed;
  int stop_code;
  report_entry *errors;
  size_t nerrors, cap;
  size_t max_errors;
  uint64_t omitted;
};

void docstore__mig_sanitize(char *s) {
  for (unsigned char *p = (unsigned char *)s; p && *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      *p = '?';
}

static void entry_clear(report_entry *e) {
  docstore_free(e->table);
  docstore_free(e->row_id);
  docstore_free(e->message);
}

void docstore_migrate_report_free(docstore_migrate_report *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->nerrors; i++)
    entry_clear(&r->errors[i]);
  docstore_free(r->errors);
  docstore_free(r->source_type);
  docstore_free(r->target_type);
  docstore_free(r->verify_type);
  docstore_free(r->worker);
  docstore_free(r->table_name[0]);
  docstore_free(r->table_name[1]);
  docstore_free(r);
}

int docstore__mig_report_new(docstore_migrate_report **out,
                             const docstore__mig_opts *o) {
  docstore_migrate_report *r = docstore__alloc(sizeof(*r));
  *out = NULL;
  if (!r)
    return DOCSTORE_ENOMEM;
  r->mode = o->mode;
  r->dry_run = o->dry_run;
  r->tables = o->tables;
  r->max_errors = o->max_errors;
  r->source_type = docstore__strdup(o->source_type);
  r->target_type = docstore__strdup(o->target_type);
  r->verify_type = o->verify_type ? docstore__strdup(o->verify_type) : NULL;
  r->worker = o->worker_name ? docstore__strdup(o->worker_name) : NULL;
  r->table_name[0] = docstore__strdup(o->table_name[0]);
  r->table_name[1] = docstore__strdup(o->table_name[1]);
  if (!r->source_type || !r->target_type || !r->table_name[0] ||
      !r->table_name[1] || (o->verify_type && !r->verify_type) ||
      (o->worker_name && !r->worker)) {
    docstore_migrate_report_free(r);
    return DOCSTORE_ENOMEM;
  }
  *out = r;
  return 0;
}

docstore__mig_tally *docstore__mig_report_tally(docstore_migrate_report *r) {
  return &r->t;
}

/* Append without the max_errors limit. */
static int append(docstore_migrate_report *r, int code, const char *table,
                  const char *row_id, const char *message) {
  if (r->nerrors == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    report_entry *n = docstore__realloc(r->errors, cap * sizeof(*n));
    if (!n)
      return DOCSTORE_ENOMEM;
    r->errors = n; /* the old block was freed by docstore__realloc() */
    r->cap = cap;
  }
  report_entry e = {code, NULL, NULL, docstore__strdup(message)};
  if (table)
    e.table = docstore__strdup(table);
  if (row_id)
    e.row_id = docstore__strdup(row_id);
  if (!e.message || (table && !e.table) || (row_id && !e.row_id)) {
    entry_clear(&e);
    return DOCSTORE_ENOMEM;
  }
  docstore__mig_sanitize(e.message);
  docstore__mig_sanitize(e.row_id);
  r->errors[r->nerrors++] = e;
  return 0;
}

int docstore__mig_report_add(docstore_migrate_report *r, int code,
                             const char *table, const char *row_id,
                             const char *message) {
  if (r->nerrors >= r->max_errors) {
    r->omitted++;
    return 0;
  }
  int rc = append(r, code, table, row_id, message);
  if (rc < 0)
    r->omitted++; /* still counted in `failed`; never lose the count */
  return rc;
}

int docstore__mig_report_finish(docstore_migrate_report *r, double elapsed,
                                int stop_code, const char *stop_message) {
  char line[DOCSTORE__ERRMSG_MAX + 64];
  r->elapsed = elapsed;
  r->stop_code = stop_code;
  uint64_t done = r->t.successful + r->t.failed + r->t.skipped;
  if (stop_code < 0)
    r->t.not_attempted = r->t.total > done ? r->t.total - done : 0;
  else if (done > r->t.total)
    r->t.total = done; /* rows inserted during the run */
  if (r->omitted) {
    snprintf(line, sizeof(line),
             "... and %llu more errors (only the first %zu are listed)",
             (unsigned long long)r->omitted, r->max_errors);
    DOCSTORE__GUARD(append(r, 0, NULL, NULL, line));
  }
  if (stop_code < 0 && stop_message) {
    snprintf(line, sizeof(line), "%s: %llu files not attempted", stop_message,
             (unsigned long long)r->t.not_attempted);
    DOCSTORE__GUARD(append(r, stop_code, NULL, NULL, line));
  }
  return 0;
}

/* ----------------------------------------------------------- readers */

int docstore_migrate_report_counts(const docstore_migrate_report *r,
                                   docstore_migrate_counts *out) {
  if (!r || !out || out->version != DOCSTORE_MIGRATE_COUNTS_VERSION)
    return docstore__err_set(
        NULL, DOCSTORE_EINVAL, "docstore_migrate_report_counts: %s",
        (!r || !out) ? "NULL argument" : "unknown counts version");
  out->mode = r->mode;
  out->dry_run = r->dry_run;
  out->total = r->t.total;
  out->successful = r->t.successful;
  out->failed = r->t.failed;
  out->skipped = r->t.skipped;
  out->recovered = r->t.recovered;
  out->not_attempted = r->t.not_attempted;
  out->source_deleted = r->t.source_deleted;
  out->bytes = r->t.bytes;
  out->elapsed_seconds = r->elapsed;
  out->stop_code = r->stop_code;
  return 0;
}

size_t docstore_migrate_report_error_count(const docstore_migrate_report *r) {
  return r ? r->nerrors : 0;
}

int docstore_migrate_report_error_at(const docstore_migrate_report *r,
                                     docstore_migrate_error *out,
                                     size_t index) {
  if (!r || !out || out->version != DOCSTORE_MIGRATE_ERROR_VERSION ||
      index >= r->nerrors)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_migrate_report_error_at: %s",
                             (!r || !out) ? "NULL argument"
                             : out->version != DOCSTORE_MIGRATE_ERROR_VERSION
                                 ? "unknown error struct version"
                                 : "index out of range");
  const report_entry *e = &r->errors[index];
  out->code = e->code;
  out->table = e->table;
  out->row_id = e->row_id;
  out->message = e->message;
  return 0;
}

static const char rule[] =
    "==================================================\n";

int docstore_migrate_report_text(const docstore_migrate_report *r, char **out) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc;
  if (!out || !r)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_migrate_report_text: NULL argument");
  *out = NULL;
  const char *title = r->mode == DOCSTORE_MIGRATE_MODE_VERIFY
                          ? "📋 VERIFICATION REPORT"
                          : "📋 MIGRATION REPORT";
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_puts(&b, rule), fail);
  DOCSTORE__GUARD_GOTO(
      rc,
      docstore__buf_printf(&b, "%s%s\n", title, r->dry_run ? " (DRY RUN)" : ""),
      fail);
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_puts(&b, rule), fail);
  DOCSTORE__GUARD_GOTO(
      rc,
      docstore__buf_printf(
          &b,
          "Total files: %llu\n✅ Successful: %llu\n"
          "❌ Failed: %llu\n⏭️ Skipped: %llu\n",
          (unsigned long long)r->t.total, (unsigned long long)r->t.successful,
          (unsigned long long)r->t.failed, (unsigned long long)r->t.skipped),
      fail);
  if (r->nerrors) {
    DOCSTORE__GUARD_GOTO(rc, docstore__buf_puts(&b, "❌ Errors:\n"), fail);
    for (size_t i = 0; i < r->nerrors; i++)
      DOCSTORE__GUARD_GOTO(
          rc, docstore__buf_printf(&b, "- %s\n", r->errors[i].message), fail);
  }
  DOCSTORE__GUARD_GOTO(rc, docstore__buf_puts(&b, rule), fail);
  *out = (char *)docstore__buf_detach(&b, NULL);
  return *out ? 0 : DOCSTORE_ENOMEM;
fail:
  docstore__buf_free(&b);
  return docstore__err_set(NULL, rc, "cannot format the migration report");
}

/* cJSON helpers: every call may fail on memory. */
static int jnum(cJSON *o, const char *k, double v) {
  return cJSON_AddNumberToObject(o, k, v) ? 0 : DOCSTORE_ENOMEM;
}

static int jstr(cJSON *o, const char *k, const char *v) {
  if (!v)
    return cJSON_AddNullToObject(o, k) ? 0 : DOCSTORE_ENOMEM;
  return cJSON_AddStringToObject(o, k, v) ? 0 : DOCSTORE_ENOMEM;
}

static int json_body(cJSON *root, const docstore_migrate_report *r) {
  cJSON *tables, *errors;
  double rate =
      r->elapsed > 0
          ? (double)(r->t.successful + r->t.failed + r->t.skipped) / r->elapsed
          : 0.0;
  DOCSTORE__GUARD(
      jstr(root, "mode",
           r->mode == DOCSTORE_MIGRATE_MODE_VERIFY ? "verify" : "migrate"));
  if (!cJSON_AddBoolToObject(root, "dry_run", r->dry_run))
    return DOCSTORE_ENOMEM;
  DOCSTORE__GUARD(jstr(root, "source_type", r->source_type));
  DOCSTORE__GUARD(jstr(root, "target_type", r->target_type));
  DOCSTORE__GUARD(jstr(root, "verify_type", r->verify_type));
  DOCSTORE__GUARD(jstr(root, "worker", r->worker));
  if (!(tables = cJSON_AddArrayToObject(root, "tables")))
    return DOCSTORE_ENOMEM;
  for (size_t i = 0; i < 2; i++) {
    if (!(r->tables & (1u << i)))
      continue;
    cJSON *s = cJSON_CreateString(r->table_name[i]);
    if (!s || !cJSON_AddItemToArray(tables, s)) {
      cJSON_Delete(s);
      return DOCSTORE_ENOMEM;
    }
  }
  DOCSTORE__GUARD(jnum(root, "total", (double)r->t.total));
  DOCSTORE__GUARD(jnum(root, "successful", (double)r->t.successful));
  DOCSTORE__GUARD(jnum(root, "failed", (double)r->t.failed));
  DOCSTORE__GUARD(jnum(root, "skipped", (double)r->t.skipped));
  DOCSTORE__GUARD(jnum(root, "recovered", (double)r->t.recovered));
  DOCSTORE__GUARD(jnum(root, "not_attempted", (double)r->t.not_attempted));
  DOCSTORE__GUARD(jnum(root, "source_deleted", (double)r->t.source_deleted));
  DOCSTORE__GUARD(jnum(root, "bytes", (double)r->t.bytes));
  DOCSTORE__GUARD(jnum(root, "elapsed_seconds", r->elapsed));
  DOCSTORE__GUARD(jnum(root, "files_per_second", rate));
  DOCSTORE__GUARD(
      jstr(root, "stop_code",
           r->stop_code ? docstore_error_name(r->stop_code) : NULL));
  if (!(errors = cJSON_AddArrayToObject(root, "errors")))
    return DOCSTORE_ENOMEM;
  for (size_t i = 0; i < r->nerrors; i++) {
    const report_entry *e = &r->errors[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(errors, o)) {
      cJSON_Delete(o);
      return DOCSTORE_ENOMEM;
    }
    DOCSTORE__GUARD(jstr(o, "table", e->table));
    DOCSTORE__GUARD(jstr(o, "id", e->row_id));
    DOCSTORE__GUARD(
        jstr(o, "code", e->code ? docstore_error_name(e->code) : NULL));
    DOCSTORE__GUARD(jstr(o, "message", e->message));
  }
  return 0;
}

int docstore_migrate_report_json(const docstore_migrate_report *r, char **out) {
  if (!out || !r)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "docstore_migrate_report_json: NULL argument");
  *out = NULL;
  cJSON *root = cJSON_CreateObject();
  int rc = root ? json_body(root, r) : DOCSTORE_ENOMEM;
  char *text = rc == 0 ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (rc == 0 && !text)
    rc = DOCSTORE_ENOMEM;
  if (text) {
    *out = docstore__strdup(text);
    cJSON_free(text);
    if (!*out)
      rc = DOCSTORE_ENOMEM;
  }
  if (rc < 0)
    return docstore__err_set(NULL, rc, "cannot format the report as JSON");
  return 0;
}
