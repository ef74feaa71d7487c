/*
 * libdocstore - migration engine (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 *   options.c   option defaults, validation, environment
 *   sql.c       identifier quoting, the schema SQL, the engine's statements
 *   db.c        libpq connections, the advisory lock, statement helpers
 *   report.c    the report: counts, errors, text and JSON
 *   transfer.c  one row: read, check, write, read back, switch (worker side)
 *   engine.c    the run: keyset reader, work queue, workers, progress
 */
#ifndef DOCSTORE_MIGRATE_INTERNAL_H
#define DOCSTORE_MIGRATE_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>

#include "docstore/migrate.h"
#include "internal.h"

/* Limits of the options. */
#define DOCSTORE__MIG_MAX_BATCH 100000u
#define DOCSTORE__MIG_MAX_JOBS 64u
/* Largest document the engine reads into memory. */
#define DOCSTORE__MIG_MAX_DOC ((size_t)2 << 30)
/* The advisory lock key: "docstore" in ASCII.  Every run takes it shared;
 * a schema change (and a 0.3 migration) takes it exclusive. */
#define DOCSTORE__MIG_LOCK_KEY INT64_C(0x646f6373746f7265)
/* Held shared by every migration run ("docstorm"), resp. every
 * verification ("docstorv"): the two groups exclude each other, the members
 * of one group share (db.c). */
#define DOCSTORE__MIG_LOCK_MIGRATING INT64_C(0x646f6373746f726d)
#define DOCSTORE__MIG_LOCK_VERIFYING INT64_C(0x646f6373746f7276)
/* DOCSTORE__MIG_LOCK_MIGRATING as pg_locks shows it (classid, objid). */
#define DOCSTORE__MIG_LOCK_HI "1685021555"
#define DOCSTORE__MIG_LOCK_LO "1953460845"
/* The ledger table, in the options' schema. */
#define DOCSTORE__MIG_LEDGER "docstore_migration_ledger"
/* The claims of the rows runs are working on, in the options' schema. */
#define DOCSTORE__MIG_CLAIMS "docstore_migration_claim"

/* ------------------------------------------------------------ options */

/* Options with every default applied (strings borrowed from the caller's
 * options or static). */
typedef struct docstore__mig_opts {
  int mode; /* docstore_migrate_mode */
  docstore_provider *source;
  docstore_provider *target;
  const char *source_type;
  const char *target_type;
  const char *legacy_root;
  const docstore_keyring *keyring;
  const char *database_url;
  const char *schema;
  const char *table_name[2]; /* [0] attachment, [1] staging */
  unsigned int tables;
  const char *col_id, *col_filename, *col_filepath, *col_user_id, *col_created,
      *col_storage_path, *col_storage_type;
  unsigned int batch_size, jobs;
  int dry_run, delete_source;
  const char *verify_type;
  unsigned int max_consecutive_failures, max_errors, progress_interval_ms;
  docstore_migrate_progress_cb progress;
  void *progress_payload;
  unsigned int lease_seconds;
  const char *worker_name; /* NULL: host:pid, made by the engine */
  int write_proof;         /* docstore_migrate_proof */
  int allow_outside_root;
} docstore__mig_opts;

/* Resolve defaults and check ranges.  mode decides which providers are
 * required.  Errors: DOCSTORE_EINVAL with a message in err. */
int docstore__mig_opts_resolve(docstore__mig_opts *out,
                               const docstore_migrate_options *opts, int mode,
                               docstore__err *err) DOCSTORE__WUR;

/* ---------------------------------------------------------------- sql */

/* Append `ident` to b as a PostgreSQL identifier: as it is when it is a
 * plain lower-case name that is not a reserved word, else double-quoted. */
int docstore__mig_ident(docstore__buf *b, const char *ident) DOCSTORE__WUR;

/* The schema change (idempotent) for the selected tables, plus the ledger. */
int docstore__mig_schema_sql(docstore__buf *b,
                             const docstore__mig_opts *o) DOCSTORE__WUR;

/* The statements of one table. */
typedef struct docstore__mig_sql {
  char *count;      /* SELECT count(*) */
  char *page_first; /* $1 table name; first page */
  char *page_next;  /* $1 table name, $2 last id */
  char *update;     /* switch + ledger, see sql.c */
  char *state;      /* $1 id: storage_type, storage_path of one row */
  /* Claims (sql.c, "claims"): $1 table name, $2 source type, $3 worker,
   * $4 run id, $5 how many, $6 lease seconds (, $7 last id): the rows
   * claimed, as a page. */
  char *claim_first;
  char *claim_next;
  char *claim_left;  /* $1 table, $2 source type, $3 unused, $4 run id: 1
                        when a row is left to claim, else 0 */
  char *count_on;    /* $1 type: count(*), rows on that type */
  char *renew;       /* $1 run id, $2 lease seconds */
  char *release;     /* $1 table name, $2 row id, $3 run id */
  char *release_all; /* $1 run id */
} docstore__mig_sql;

/* Columns of a page row. */
enum {
  DOCSTORE__MIG_C_ID = 0,
  DOCSTORE__MIG_C_FILENAME,
  DOCSTORE__MIG_C_FILEPATH,
  DOCSTORE__MIG_C_USER_ID,
  DOCSTORE__MIG_C_CREATED,
  DOCSTORE__MIG_C_STORAGE_PATH,
  DOCSTORE__MIG_C_STORAGE_TYPE,
  DOCSTORE__MIG_C_LEDGER_SHA,
  DOCSTORE__MIG_C_LEDGER_TYPE,
  DOCSTORE__MIG_C_LEDGER_PATH,
  DOCSTORE__MIG_C_COUNT_
};

/* Parameter types of docstore__mig_sql.update (8 entries). */
extern const Oid docstore__mig_update_types[8];

int docstore__mig_sql_build(docstore__mig_sql *out, const docstore__mig_opts *o,
                            const char *table) DOCSTORE__WUR;
void docstore__mig_sql_free(docstore__mig_sql *s);

/* ----------------------------------------------------------------- db */

/* Connect (application_name "docstore-migrate").  On failure err holds the
 * server's first line, code DOCSTORE_EDATABASE. */
int docstore__mig_connect(PGconn **out, const char *url,
                          docstore__err *err) DOCSTORE__WUR;

/* What a session locks (docstore__mig_lock). */
enum {
  DOCSTORE__MIG_LOCK_EXCLUSIVE = 0, /* schema change: nobody else */
  DOCSTORE__MIG_LOCK_MIGRATE = 1,   /* beside other migrations only */
  DOCSTORE__MIG_LOCK_VERIFY = 2     /* beside other verifications only */
};

/* Take the migration lock.  DOCSTORE_EBUSY with the holder's pid when a
 * run of another kind (or a schema change, or a 0.3 migration) has it. */
int docstore__mig_lock(PGconn *c, int kind, docstore__err *err) DOCSTORE__WUR;
/* Release any advisory lock the session holds, then PQfinish (NULL ok). */
void docstore__mig_close(PGconn *c);

/* Record the first line of the connection's / result's error in err with
 * "what: " before it; returns DOCSTORE_EDATABASE. */
int docstore__mig_db_err(docstore__err *err, PGconn *c, const PGresult *res,
                         const char *what);

/* Run a command with no result rows; 0 or DOCSTORE_EDATABASE. */
int docstore__mig_exec(PGconn *c, const char *sql, const char *what,
                       docstore__err *err) DOCSTORE__WUR;

/* ------------------------------------------------------------- report */

/* Create an empty report for a run. */
int docstore__mig_report_new(docstore_migrate_report **out,
                             const docstore__mig_opts *o) DOCSTORE__WUR;

/* Append a failure; the message is printf-formatted, control characters
 * replaced by '?'.  Past max_errors only counted.  Not thread-safe (the
 * engine holds its lock). */
int docstore__mig_report_add(docstore_migrate_report *r, int code,
                             const char *table, const char *row_id,
                             const char *message);

/* Counters the engine maintains in the report. */
typedef struct docstore__mig_tally {
  uint64_t total, successful, failed, skipped, recovered, not_attempted,
      source_deleted, bytes;
} docstore__mig_tally;

docstore__mig_tally *docstore__mig_report_tally(docstore_migrate_report *r);
/* Close the report: elapsed time, stop code, the "more errors" entry. */
int docstore__mig_report_finish(docstore_migrate_report *r, double elapsed,
                                int stop_code, const char *stop_message);

/* Replace control characters (and DEL) by '?', in place. */
void docstore__mig_sanitize(char *s);

/* ------------------------------------------------------------ transfer */

/* One row as read from a page (strings owned by the row). */
typedef struct docstore__mig_row {
  size_t table; /* index into the run's tables */
  char *id;
  char *filename;
  char *filepath;
  char *user_id; /* NULL: system */
  int has_created;
  int64_t created;    /* Unix seconds */
  char *storage_path; /* NULL if none */
  char *storage_type; /* never NULL ("local" when the column is NULL) */
  char *ledger_sha;   /* recorded hash if the ledger row matches, or NULL */
} docstore__mig_row;

void docstore__mig_row_free(docstore__mig_row *r);

/* What a worker made of one row. */
typedef struct docstore__mig_outcome {
  int code;  /* 0: success */
  int infra; /* the failure came from a store or the database */
  int recovered;
  int source_deleted;
  uint64_t bytes;
  char message[DOCSTORE__ERRMSG_MAX]; /* the report line, when code < 0 */
} docstore__mig_outcome;

/* What a worker needs besides the row. */
typedef struct docstore__mig_ctx {
  const docstore__mig_opts *o;
  const char *table_name; /* unquoted, for the ledger */
  const char *label;      /* "Attachment" / "Staging attachment" */
  PGconn *db;             /* NULL in dry runs and verifications */
  const char *update_sql; /* docstore__mig_sql.update of the table */
  const char *state_sql;  /* docstore__mig_sql.state of the table */
} docstore__mig_ctx;

void docstore__mig_migrate_row(const docstore__mig_ctx *ctx,
                               const docstore__mig_row *row,
                               docstore__mig_outcome *out);
void docstore__mig_verify_row(const docstore__mig_ctx *ctx,
                              const docstore__mig_row *row,
                              docstore__mig_outcome *out);

/* SHA-256 of data as 64 lowercase hex digits + NUL. */
int docstore__mig_sha256_hex(char out[65], const uint8_t *data,
                             size_t len) DOCSTORE__WUR;

#endif /* DOCSTORE_MIGRATE_INTERNAL_H */
