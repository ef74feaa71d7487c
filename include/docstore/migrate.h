/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/migrate.h
 * @brief The migration engine.
 *
 * It moves the encrypted documents that PostgreSQL rows point at from one
 * storage to another (local filesystem -> S3, S3 -> local filesystem, or
 * between any two providers) and verifies the objects that rows point at.  The
 * operator's guide is docs/MIGRATION.md; the `docstore migrate` command is a
 * thin shell over these functions.
 *
 * The database is the source of truth.  A row is switched to its new
 * storage_path / storage_type only after its object was written to the
 * target, read back, found byte-for-byte equal to the source (SHA-256) and
 * parsed as an envelope (optionally: decrypted with a keyring), in one
 * atomic statement that also records the object's hash in the migration
 * ledger (table docstore_migration_ledger in the options' schema).  A run can
 * be killed at any moment and started again: rows already on the target are
 * skipped, and an object that was uploaded but whose row was not yet switched
 * is found at its path with the same hash and not uploaded twice.  Several
 * migration runs (0.4.0; on one host or several) share the work: each
 * claims the rows it works on in table docstore_migration_claim for
 * lease_seconds and renews the claims while it runs; a run that dies leaves
 * claims that expire.  Migrations and verifications exclude each other (a
 * PostgreSQL advisory lock).
 *
 * Tables and columns (names configurable, defaults shown):
 * @code{.unparsed}
 *   <schema "document">.<"attachment">, <schema>.<"attachment_staging">
 *   id, filename, filepath, user_id, created_at, storage_path, storage_type
 * @endcode
 *
 * Stable API, added in 0.1.0.
 */
#ifndef DOCSTORE_MIGRATE_H
#define DOCSTORE_MIGRATE_H

#include "common.h"
#include "config.h"
#include "crypto.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup migrate Migration engine
 * @brief Move the documents that PostgreSQL rows point at between
 * providers, verify them, and apply the schema change; see the file
 * description of docstore/migrate.h for the guarantees.
 *
 * Failures of the functions without a handle are described in errbuf
 * (when given) and in docstore_last_errmsg().
 * @{
 */

/**
 * Tables a migration walks (bit mask).
 * @since 0.1.0
 */
typedef enum docstore_migrate_table {
  DOCSTORE_MIGRATE_TABLE_ATTACHMENT = 1, /**< schema.attachment */
  DOCSTORE_MIGRATE_TABLE_STAGING = 2,    /**< schema.attachment_staging */
  DOCSTORE_MIGRATE_TABLE_ALL = 3         /**< both */
} docstore_migrate_table;

/**
 * What a run does (docstore_migrate_counts.mode).
 * @since 0.1.0
 */
typedef enum docstore_migrate_mode {
  DOCSTORE_MIGRATE_MODE_MIGRATE = 0, /**< docstore_migrate_run() */
  DOCSTORE_MIGRATE_MODE_VERIFY = 1   /**< docstore_migrate_verify() */
} docstore_migrate_mode;

/**
 * Phase reported to the progress callback.
 * @since 0.1.0
 */
typedef enum docstore_migrate_phase {
  DOCSTORE_MIGRATE_PHASE_RUNNING = 0, /**< rows are being processed */
  DOCSTORE_MIGRATE_PHASE_DONE = 1     /**< last call, counts are final */
} docstore_migrate_phase;

/**
 * A limit option set to this means "no limit".
 * @since 0.1.0
 */
#define DOCSTORE_MIGRATE_UNLIMITED 0xffffffffu

/**
 * Current version of #docstore_migrate_progress.
 * @since 0.1.0
 */
#define DOCSTORE_MIGRATE_PROGRESS_VERSION 1

/**
 * Progress of a run, as given to the progress callback.  The library sets
 * `version` to the version it fills (read a field only when `version` is at
 * least the version that added it).  `done` = successful + failed +
 * skipped; `total` is the number of rows counted when the run started
 * (rows inserted during the run may make `done` exceed it).
 * @since 0.1.0
 */
typedef struct docstore_migrate_progress {
  unsigned int version;    /**< version the library filled */
  int phase;               /**< #docstore_migrate_phase */
  uint64_t total;          /**< rows counted at the start */
  uint64_t done;           /**< successful + failed + skipped */
  uint64_t successful;     /**< rows migrated (or verified) so far */
  uint64_t failed;         /**< rows that failed so far */
  uint64_t skipped;        /**< rows skipped so far */
  uint64_t bytes;          /**< bytes of the documents moved or checked */
  double elapsed_seconds;  /**< since the run started */
  double files_per_second; /**< done / elapsed, 0 at first */
  double eta_seconds;      /**< estimate, or -1 when unknown */
  /** The latest failure ("Attachment 456: Connection timeout"), or NULL.
   *  Borrowed: valid only during the call. */
  const char *last_error;
} docstore_migrate_progress;

/**
 * Progress callback.  Called from the thread that called
 * docstore_migrate_run() / _verify() (never from a worker thread, never
 * twice at once), at most every progress_interval_ms and once more at the
 * end with phase #DOCSTORE_MIGRATE_PHASE_DONE.
 * @param payload  the options' progress_payload.
 * @param progress the counts so far; valid only during the call.
 * @return 0 to go on; non-zero stops the run after the documents in flight
 *         (the run then returns #DOCSTORE_ECANCELED with a report of what
 *         was done).  The value returned by the final call is ignored.
 * @since 0.1.0
 */
typedef int (*docstore_migrate_progress_cb)(
    void *payload, const docstore_migrate_progress *progress);

/**
 * Current version of #docstore_migrate_options.  Version 2 (0.4.0)
 * appended lease_seconds .. allow_outside_root; version 1 tables are still
 * accepted.
 * @since 0.1.0
 */
#define DOCSTORE_MIGRATE_OPTIONS_VERSION 2

/**
 * How a migration proves a written object before its row is switched
 * (#docstore_migrate_options.write_proof).
 * @since 0.4.0
 */
typedef enum docstore_migrate_proof {
  /** The store's own proof (#DOCSTORE_PUT_VERIFY): a digest of the bytes
   *  that the server checked, else a read-back done by the provider. */
  DOCSTORE_MIGRATE_PROOF_STORE = 0,
  /** Also read the object back, compare its SHA-256 with the source's and
   *  check the envelope again (one more GET per document). */
  DOCSTORE_MIGRATE_PROOF_READBACK = 1
} docstore_migrate_proof;

/**
 * Options of a migration or verification run.  Initialise with
 * DOCSTORE_MIGRATE_OPTIONS_INIT or docstore_migrate_options_init(); every
 * pointer is borrowed for the duration of the call only.  NULL strings and
 * zero numbers mean the default in brackets.
 *
 * Where each row's document is read:
 *  - a row whose storage_type is `source_type` (a NULL storage_type counts
 *    as "local") and that has a storage_path: object `storage_path` of
 *    `source`;
 *  - such a row without storage_path: the legacy file `filepath` (absolute,
 *    or relative to `legacy_root`), which must lie below `legacy_root`
 *    unless `allow_outside_root` (@since 0.4.0).
 * Where it goes: object `storage_path` of `target` when the row has one,
 * else the layout of docstore_storage_path() (id, filename, user_id, date
 * of the creation column in UTC), with a "staging/" folder after the date
 * for rows of the staging table (@since 0.4.0).
 * @since 0.1.0
 */
typedef struct docstore_migrate_options {
  unsigned int version; /**< DOCSTORE_MIGRATE_OPTIONS_VERSION */

  docstore_provider *source; /**< rows on source_type are read here */
  const char *source_type;   /**< ["local"] */
  docstore_provider *target; /**< where documents go (required to
                                  migrate; optional to verify) */
  const char *target_type;   /**< ["s3"] storage_type written */
  const char *legacy_root;   /**< base of relative filepath values
                                  ["encrypted_files/"] */
  /** Optional: each document must also decrypt with this keyring (a
   *  private key for its key id).  NULL: envelopes are parsed only. */
  const docstore_keyring *keyring;

  const char *database_url;     /**< libpq URI or conninfo; [""]: libpq's
                                     PG* environment variables */
  const char *schema;           /**< ["document"] */
  const char *table_attachment; /**< ["attachment"] */
  const char *table_staging;    /**< ["attachment_staging"] */
  unsigned int tables;          /**< docstore_migrate_table bits [ALL] */
  const char *col_id;           /**< ["id"] unique, ordered (the keyset) */
  const char *col_filename;     /**< ["filename"] */
  const char *col_filepath;     /**< ["filepath"] */
  const char *col_user_id;      /**< ["user_id"] NULL: the system folder */
  const char *col_created;      /**< ["created_at"] timestamp or date */
  const char *col_storage_path; /**< ["storage_path"] */
  const char *col_storage_type; /**< ["storage_type"] */

  unsigned int batch_size; /**< rows per page [500], at most 100000 */
  unsigned int jobs;       /**< parallel transfers [4], at most 64 */
  int dry_run;             /**< 1: read and check, write nothing */
  /** 1: after a row is switched (its object written, read back, verified
   *  and committed), delete its source (legacy file or source object).
   *  Off by default. */
  int delete_source;
  /** Verify only rows on this storage type [NULL: source_type and
   *  target_type].  Ignored by docstore_migrate_run(). */
  const char *verify_type;
  /** Stop the run when a store (source or target) or the database fails
   *  this many documents in a row (it is down: no point trying the rest)
   *  [50]; DOCSTORE_MIGRATE_UNLIMITED: never stop.  Failures that belong
   *  to one document (missing file, not an envelope) do not count. */
  unsigned int max_consecutive_failures;
  /** Failures kept in the report with their message [10000]; the others
   *  are only counted. */
  unsigned int max_errors;

  docstore_migrate_progress_cb progress; /**< optional */
  void *progress_payload;                /**< passed to progress */
  unsigned int progress_interval_ms;     /**< [500] */
  /* ---- version 2 (0.4.0) ---- */
  /** Seconds a row claimed by this run stays reserved for it [300], 10 to
   *  86400.  Several runs (on one or several hosts) share a migration by
   *  claiming rows; a run that dies releases its rows when their lease
   *  runs out.  A live run renews its leases. */
  unsigned int lease_seconds;
  /** This run's name in the claims and the report [NULL: "host:pid"] */
  const char *worker_name;
  /** #docstore_migrate_proof [STORE] */
  int write_proof;
  /** 1: a legacy filepath may lead outside legacy_root (an absolute path,
   *  "..", a symbolic link).  Off by default: such a row fails. */
  int allow_outside_root;
} docstore_migrate_options;

/**
 * Static initialiser of #docstore_migrate_options (every field at its
 * default; providers still to set).
 * @since 0.1.0
 */
#define DOCSTORE_MIGRATE_OPTIONS_INIT                                          \
  {                                                                            \
    DOCSTORE_MIGRATE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL,      \
        NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,   \
        0, 0, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, 0, 0                   \
  }

/**
 * Initialise an options struct to #DOCSTORE_MIGRATE_OPTIONS_INIT (for
 * callers that cannot use the macro).  Thread-safe.
 * @param opts    the struct to fill.
 * @param version #DOCSTORE_MIGRATE_OPTIONS_VERSION, or 1 for a version 1
 *                table (only its fields are written).
 * @return 0, #DOCSTORE_EINVAL (opts NULL or another version).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_migrate_options_init(docstore_migrate_options *opts,
                              unsigned int version);

/**
 * Fill the options that are still NULL from the environment:
 * DATABASE_URL, LOCAL_STORAGE_PATH (legacy_root), DOCSTORE_MIGRATE_SCHEMA,
 * DOCSTORE_MIGRATE_TABLE_ATTACHMENT, DOCSTORE_MIGRATE_TABLE_STAGING and
 * DOCSTORE_MIGRATE_COL_{ID,FILENAME,FILEPATH,USER_ID,CREATED,STORAGE_PATH,
 * STORAGE_TYPE}, and (0.4.0) DOCSTORE_MIGRATE_LEASE_SECONDS and
 * DOCSTORE_MIGRATE_WORKER_NAME (the settings of provider "migrate" in
 * docstore_config_setting_at()).  The pointers point into the environment:
 * do not change
 * those variables while the options are in use.  Without this call the
 * library reads no environment variable of its own (libpq still reads
 * PG*).  Unset or empty variables leave the field NULL.  Not thread-safe
 * against setenv().
 * @param opts the options to complete.
 * @return 0 or #DOCSTORE_EINVAL (opts NULL, or
 *         DOCSTORE_MIGRATE_LEASE_SECONDS not a number from 10 to 86400).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_migrate_options_load_env(docstore_migrate_options *opts);

/**
 * Fill the options that are still NULL (or 0) from a configuration, as
 * every other command of the CLI reads its settings: the values set in cfg
 * (by docstore_config_load_env(), docstore_config_load_dotenv(),
 * docstore_config_set()), else their defaults.  The settings are those of
 * provider "migrate" in the schema (docstore_config_setting_at():
 * DATABASE_URL, DOCSTORE_MIGRATE_SCHEMA, DOCSTORE_MIGRATE_TABLE_*,
 * DOCSTORE_MIGRATE_COL_*, DOCSTORE_MIGRATE_LEASE_SECONDS,
 * DOCSTORE_MIGRATE_WORKER_NAME), and legacy_root from
 * DOCSTORE_LEGACY_ROOT, else LOCAL_STORAGE_PATH (the local store's root,
 * "encrypted_files/" by default).  Strings are borrowed from cfg: keep it,
 * unchanged, while the options are in use.  Thread-safe on an unchanging
 * configuration.
 * @param opts the options to complete (version 2 or later).
 * @param cfg  the configuration.
 * @return 0, #DOCSTORE_EINVAL (NULL argument, options version 1).
 * @since 0.4.0
 */
DOCSTORE_EXTERN int
docstore_migrate_options_from_config(docstore_migrate_options *opts,
                                     const docstore_config *cfg);

/* ------------------------------------------------------------- report */

/**
 * The result of a run.  Opaque, read-only, safe to read from several
 * threads.
 * @since 0.1.0
 */
typedef struct docstore_migrate_report docstore_migrate_report;

/**
 * Current version of #docstore_migrate_counts.
 * @since 0.1.0
 */
#define DOCSTORE_MIGRATE_COUNTS_VERSION 1

/**
 * Counts of a run.  Set `version` before docstore_migrate_report_counts().
 * total = successful + failed + skipped + not_attempted.
 * @since 0.1.0
 */
typedef struct docstore_migrate_counts {
  unsigned int version; /**< #DOCSTORE_MIGRATE_COUNTS_VERSION, set by caller */
  int mode;             /**< #docstore_migrate_mode */
  int dry_run;          /**< 1 for a dry run */
  uint64_t total;       /**< rows seen */
  uint64_t successful;  /**< migrated (dry run: would be) / verified */
  uint64_t failed;      /**< rows that failed */
  uint64_t skipped;     /**< already on the target, or not selected */
  uint64_t recovered;   /**< of successful: object was already there
                             with the same hash (interrupted run) */
  uint64_t not_attempted;  /**< left when the run stopped early */
  uint64_t source_deleted; /**< sources removed (delete_source) */
  uint64_t bytes;          /**< bytes of the documents moved or checked */
  double elapsed_seconds;  /**< duration of the run */
  /** 0, or why the run stopped before the end (DOCSTORE_ECANCELED, the
   *  failing store's or database's code after max_consecutive_failures,
   *  or DOCSTORE_EDATABASE when the reading connection was lost). */
  int stop_code;
} docstore_migrate_counts;

/**
 * Current version of #docstore_migrate_error.
 * @since 0.1.0
 */
#define DOCSTORE_MIGRATE_ERROR_VERSION 1

/**
 * One failure of a run.  Strings are owned by the report and valid until
 * it is freed.
 * @since 0.1.0
 */
typedef struct docstore_migrate_error {
  unsigned int version; /**< set by the caller */
  int code;             /**< DOCSTORE_E* */
  const char *table;    /**< table name; NULL for a run-level entry */
  const char *row_id;   /**< the row's id as text; NULL: run-level */
  /** The report line without its "- ": "File not found: /x/y.json",
   *  "Attachment 456: Connection timeout".  Control characters of
   *  database values are shown as '?'. */
  const char *message;
} docstore_migrate_error;

/**
 * Counts of a report.  Thread-safe.
 * @param report the report.
 * @param out    receives the counts; out->version must be
 *               #DOCSTORE_MIGRATE_COUNTS_VERSION.
 * @return 0, #DOCSTORE_EINVAL (NULL argument, or out->version unknown).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_migrate_report_counts(const docstore_migrate_report *report,
                               docstore_migrate_counts *out);

/**
 * Number of failures kept in the report (at most max_errors; a run-level
 * entry is added when more were left out).  Thread-safe.
 * @param report the report (NULL gives 0).
 * @return the number of entries docstore_migrate_report_error_at() gives.
 * @since 0.1.0
 */
DOCSTORE_EXTERN size_t
docstore_migrate_report_error_count(const docstore_migrate_report *report);

/**
 * Failure number `index` (0-based, in the order they happened).
 * Thread-safe.
 * @param report the report.
 * @param out    receives the entry; out->version must be
 *               #DOCSTORE_MIGRATE_ERROR_VERSION.  Its strings are borrowed
 *               from the report.
 * @param index  0 to docstore_migrate_report_error_count() - 1.
 * @return 0, #DOCSTORE_EINVAL (NULL argument, bad version, index out of
 *         range).
 * @since 0.1.0; 0.2.0 takes out before index (was (report, index, out))
 */
DOCSTORE_EXTERN int
docstore_migrate_report_error_at(const docstore_migrate_report *report,
                                 docstore_migrate_error *out, size_t index);

/**
 * The report as the seed's text (UTF-8, lines ending in '\n'):
 * @code{.unparsed}
 *   ==================================================
 *   📋 MIGRATION REPORT        (📋 VERIFICATION REPORT for a verification;
 *                               " (DRY RUN)" appended for a dry run)
 *   ==================================================
 *   Total files: 1523
 *   ✅ Successful: 1521
 *   ❌ Failed: 2
 *   ⏭️ Skipped: 0
 *   ❌ Errors:                 (only when there are errors)
 *   - File not found: /path/to/missing_file.json
 *   - Attachment 456: Connection timeout
 *   ==================================================
 * @endcode
 * Thread-safe.
 * @param report the report.
 * @param out    receives the text, library-owned (docstore_free()); NULL
 *               on failure.
 * @return 0, #DOCSTORE_EINVAL (NULL argument), #DOCSTORE_ENOMEM.
 * @since 0.1.0; 0.2.0 takes the report first (was (out, report))
 */
DOCSTORE_EXTERN int
docstore_migrate_report_text(const docstore_migrate_report *report, char **out);

/**
 * The report as a JSON object: {"mode" ("migrate" or "verify"), "dry_run",
 * "source_type", "target_type", "verify_type", "worker" (0.4.0: the run's
 * worker_name, "host:pid" by default), "tables", "total",
 * "successful", "failed", "skipped", "recovered", "not_attempted",
 * "source_deleted", "bytes", "elapsed_seconds", "files_per_second",
 * "stop_code", "errors": [{"table", "id", "code", "message"}...]}, codes
 * as symbolic names ("DOCSTORE_ENOTFOUND") or null.  Described in
 * docs/MIGRATION.md.  Thread-safe.
 * @param report the report.
 * @param out    receives the JSON text, library-owned (docstore_free());
 *               NULL on failure.
 * @return 0, #DOCSTORE_EINVAL (NULL argument), #DOCSTORE_ENOMEM.
 * @since 0.1.0; 0.2.0 takes the report first (was (out, report))
 */
DOCSTORE_EXTERN int
docstore_migrate_report_json(const docstore_migrate_report *report, char **out);

/**
 * Free a report.  No other thread may still read it.
 * @param report the report, or NULL (no-op).
 * @since 0.1.0
 */
DOCSTORE_EXTERN void
docstore_migrate_report_free(docstore_migrate_report *report);

/* ----------------------------------------------------------------- runs */

/**
 * Migrate every selected row on opts->source_type to opts->target.
 * Rows are claimed in batches (0.4.0; before: read by keyset pagination)
 * in id order, at most twice opts->jobs at a time, each for lease_seconds
 * (renewed every third of it while the run goes on), and transferred by
 * opts->jobs worker threads, each with its own database connection; memory
 * does not grow with the table.  Other runs, on this host or others, may
 * work on the same tables at once: they take other rows.  A row's claim is
 * deleted once it is switched; the run deletes its remaining claims (rows
 * that failed: this run does not try them twice) when it ends.  Per row: read
 * the source, check it is an envelope (and decrypts, with a keyring), compute
 * the target path; if an object is already there with the same SHA-256, just
 * switch the row; if a different object is there, fail the row (it is never
 * overwritten); else write it, read it back, compare, and switch the row and
 * record its hash in one statement.  A row that changed in the database
 * meanwhile is not switched.  Rows not on source_type are skipped, and so are,
 * in the report's counts, the rows other runs handled.  A dry run claims
 * nothing and reads every row.
 *
 * @param out  receives the report (docstore_migrate_report_free()) on 0
 *             and also when the run stopped part way (DOCSTORE_ECANCELED,
 *             target down, database lost); NULL when nothing was done.
 * @param opts the options (borrowed for the call).
 * @param errbuf optional buffer for the reason of a non-zero return.
 * @param errbuf_len size of errbuf.
 * @return 0 when every selected row was processed (look at the report's
 *         `failed` count: rows can fail while the run succeeds);
 *         DOCSTORE_EINVAL (NULL, bad version, a needed provider missing,
 *         batch_size/jobs out of range, source_type equal to target_type);
 *         DOCSTORE_EDATABASE (cannot connect, a table or column is missing
 *         - the message says to apply the schema -, or the connection was
 *         lost for good: a broken connection is opened again once);
 *         DOCSTORE_EBUSY (a verification, a schema change or a 0.3
 *         migration holds the lock: the message says so, with its server
 *         pid);
 *         DOCSTORE_ECANCELED (the progress callback asked to stop); the
 *         failing store's or database's code (e.g. DOCSTORE_ECONNECT)
 *         after max_consecutive_failures documents failed in a row on it;
 *         DOCSTORE_ENOMEM.
 * Thread-safety: may be called from any thread; the providers are used
 * from several threads at once (the built-in ones allow it).  Two runs in
 * one process share the migration like any two (give them different
 * worker_name values when you set one).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_migrate_run(docstore_migrate_report **out,
                                         const docstore_migrate_options *opts,
                                         char *errbuf, size_t errbuf_len);

/**
 * Verify the objects of the selected rows on opts->verify_type (NULL: on
 * source_type and target_type; rows on source_type are read from
 * opts->source or their legacy file, rows on target_type from
 * opts->target).  A row fails when its object is missing ("File not found:
 * <path>"), differs from the hash the migration ledger recorded for it,
 * does not parse as an envelope, or (with a keyring) does not decrypt.
 * Writes nothing.  Verifications may run together, not beside a
 * migration (DOCSTORE_EBUSY).
 * @param out        as in docstore_migrate_run().
 * @param opts       the options (borrowed for the call).
 * @param errbuf     optional buffer for the reason of a non-zero return.
 * @param errbuf_len size of errbuf.
 * @return as docstore_migrate_run() (EINVAL also when neither a source nor
 *         a target provider is given, or verify_type names a storage
 *         without its provider); successful counts verified rows.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_migrate_verify(docstore_migrate_report **out,
                        const docstore_migrate_options *opts, char *errbuf,
                        size_t errbuf_len);

/**
 * The SQL that docstore_migrate_schema_apply() runs, for the options'
 * schema, tables and column names (with the defaults: sql/001 to sql/003
 * of the source tree).  Providers are not needed.  Thread-safe.
 * @param out  receives the SQL text, library-owned (docstore_free()); NULL
 *             on failure.
 * @param opts the options (schema, tables and column names are read).
 * @return 0, #DOCSTORE_EINVAL (NULL argument, bad version, invalid names),
 *         #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_migrate_schema_sql(char **out, const docstore_migrate_options *opts);

/**
 * Apply the schema change in one transaction: add storage_path
 * VARCHAR(500) and storage_type VARCHAR(50) DEFAULT 'local' to the
 * selected tables when missing, and create the migration ledger table when
 * missing, and (0.4.0) the claims table docstore_migration_claim.
 * Idempotent: safe to run twice, and on tables that already have the
 * columns.  Takes the migration lock exclusively (DOCSTORE_EBUSY while a
 * migration or verification runs).
 * @param opts       the options (database_url, schema, tables and column
 *                   names are read; providers are not needed).
 * @param errbuf     optional buffer for the reason of a non-zero return.
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (NULL, bad version, invalid names),
 *         #DOCSTORE_EDATABASE (cannot connect, or the server's message,
 *         e.g. a missing table), #DOCSTORE_EBUSY, #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_migrate_schema_apply(const docstore_migrate_options *opts,
                              char *errbuf, size_t errbuf_len);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_MIGRATE_H */
