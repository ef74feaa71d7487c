/*
 * libdocstore - the migration engine's SQL.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every identifier comes from the options (names of a real deployment) and
 * goes through docstore__mig_ident(); every value is a statement parameter.
 */
#include <stdio.h>
#include <string.h>

#include "migrate_internal.h"

/* PostgreSQL's reserved key words (the "reserved" and "reserved, can be
 * function or type" classes): such a name must be quoted. */
static const char *const reserved[] = {
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
};

static int plain_ident(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
    return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return 0;
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    if (strcmp(s, reserved[i]) == 0)
      return 0;
  return 1;
}

int docstore__mig_ident(docstore__buf *b, const char *ident) {
  if (plain_ident(ident))
    return docstore__buf_puts(b, ident);
  DOCSTORE__GUARD(docstore__buf_puts(b, "\""));
  for (const char *p = ident; *p; p++) {
    if (*p == '"')
      DOCSTORE__GUARD(docstore__buf_puts(b, "\"\""));
    else
      DOCSTORE__GUARD(docstore__buf_append(b, p, 1));
  }
  return docstore__buf_puts(b, "\"");
}

/* schema.name */
static int qualified(docstore__buf *b, const char *schema, const char *name) {
  DOCSTORE__GUARD(docstore__mig_ident(b, schema));
  DOCSTORE__GUARD(docstore__buf_puts(b, "."));
  return docstore__mig_ident(b, name);
}

/* Append a template where %Q is schema-qualified table, %L the ledger,
 * %C the claims, %1..%7 the columns id, filename, filepath, user_id, created,
 * storage_path, storage_type; %% a percent sign. */
static int expand(docstore__buf *b, const docstore__mig_opts *o,
                  const char *table, const char *tpl) {
  const char *cols[8] = {
      NULL,           o->col_id,      o->col_filename,     o->col_filepath,
      o->col_user_id, o->col_created, o->col_storage_path, o->col_storage_type};
  for (const char *p = tpl; *p; p++) {
    if (*p != '%') {
      DOCSTORE__GUARD(docstore__buf_append(b, p, 1));
      continue;
    }
    p++;
    if (*p == 'Q')
      DOCSTORE__GUARD(qualified(b, o->schema, table));
    else if (*p == 'L')
      DOCSTORE__GUARD(qualified(b, o->schema, DOCSTORE__MIG_LEDGER));
    else if (*p == 'C')
      DOCSTORE__GUARD(qualified(b, o->schema, DOCSTORE__MIG_CLAIMS));
    else if (*p >= '1' && *p <= '7')
      DOCSTORE__GUARD(docstore__mig_ident(b, cols[*p - '0']));
    else if (*p == '%')
      DOCSTORE__GUARD(docstore__buf_puts(b, "%"));
    else
      return DOCSTORE_EINVAL; /* a bug in a template below */
  }
  return 0;
}

static const char schema_head[] =
    "-- libdocstore: the storage columns of the object storage integration\n"
    "-- (integration guide, \"Database Schema Changes\"), made idempotent:\n"
    "-- safe to run twice, and on tables that already have the columns.\n"
    "-- Applied by `docstore migrate schema`.\n";

static const char schema_table[] =
    "ALTER TABLE %Q ADD COLUMN IF NOT EXISTS %6 VARCHAR(500);\n"
    "ALTER TABLE %Q ADD COLUMN IF NOT EXISTS %7 VARCHAR(50) DEFAULT "
    "'local';\n";

static const char schema_ledger[] =
    "-- libdocstore: the migration ledger.  One row per document the\n"
    "-- migration switched: where its object went and the SHA-256 it had,\n"
    "-- so that `docstore migrate --verify` can tell an object that was\n"
    "-- changed behind the tool's back.  Idempotent.\n"
    "CREATE TABLE IF NOT EXISTS %L (\n"
    "    source_table VARCHAR(63) NOT NULL,\n"
    "    row_id TEXT NOT NULL,\n"
    "    storage_type VARCHAR(50) NOT NULL,\n"
    "    storage_path VARCHAR(500) NOT NULL,\n"
    "    sha256 CHAR(64) NOT NULL,\n"
    "    size BIGINT NOT NULL,\n"
    "    migrated_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
    "    PRIMARY KEY (source_table, row_id)\n"
    ");\n"
    "-- No two rows may ever share an object (0.4.0).  On a ledger where\n"
    "-- 0.3 recorded two rows for one object this fails: list them with\n"
    "-- SELECT storage_type, storage_path, count(*) FROM %L\n"
    "--   GROUP BY 1, 2 HAVING count(*) > 1;\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS docstore_migration_ledger_object\n"
    "    ON %L (storage_type, storage_path);\n";

static const char schema_claim[] =
    "-- libdocstore: claims.  Several `docstore migrate` runs (on one or\n"
    "-- several hosts) share a migration: each claims the rows it works on\n"
    "-- for a lease it renews.  A claim holds while it has not expired and\n"
    "-- the run's session (holder_pid) still holds the migration lock: the\n"
    "-- rows of a run that died come back when its session ends, at the\n"
    "-- latest when the lease runs out.  Idempotent.\n"
    "CREATE TABLE IF NOT EXISTS %C (\n"
    "    source_table VARCHAR(63) NOT NULL,\n"
    "    row_id TEXT NOT NULL,\n"
    "    worker VARCHAR(200) NOT NULL,\n"
    "    run_id VARCHAR(64) NOT NULL,\n"
    "    holder_pid INTEGER NOT NULL,\n"
    "    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
    "    expires_at TIMESTAMPTZ NOT NULL,\n"
    "    PRIMARY KEY (source_table, row_id)\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS docstore_migration_claim_run ON %C "
    "(run_id);\n";

int docstore__mig_schema_sql(docstore__buf *b, const docstore__mig_opts *o) {
  DOCSTORE__GUARD(docstore__buf_puts(b, schema_head));
  for (size_t i = 0; i < 2; i++)
    if (o->tables & (1u << i))
      DOCSTORE__GUARD(expand(b, o, o->table_name[i], schema_table));
  DOCSTORE__GUARD(expand(b, o, o->table_name[0], schema_ledger));
  return expand(b, o, o->table_name[0], schema_claim);
}

/* A page of rows, joined with the ledger; $1 is the table's name in the
 * ledger, $2 (next pages) the last id seen.  Column order: the
 * DOCSTORE__MIG_C_* enum. */
static const char page_head[] =
    "SELECT t.%1::text, t.%2::text, t.%3::text, t.%4::text, "
    "floor(extract(epoch FROM t.%5))::bigint, t.%6::text, "
    "COALESCE(t.%7::text, 'local'), l.sha256::text, l.storage_type::text, "
    "l.storage_path::text FROM %Q AS t LEFT JOIN %L AS l "
    "ON l.source_table = $1::text AND l.row_id = t.%1::text ";

/* Switch a row and record its object in the ledger, atomically (one
 * statement).  Only when the row is still where it was read: storage_type
 * $5 and storage_path $6.  Returns one row when switched, none otherwise.
 *   $1 id  $2 table name  $3 new storage_path  $4 new storage_type
 *   $5 old storage_type  $6 old storage_path (or NULL)  $7 sha256  $8 size */
static const char update_tpl[] =
    "WITH u AS (UPDATE %Q AS t SET %6 = $3, %7 = $4 "
    "WHERE t.%1 = $1 AND COALESCE(t.%7::text, 'local') = $5 "
    "AND t.%6::text IS NOT DISTINCT FROM $6 RETURNING t.%1::text AS row_id) "
    "INSERT INTO %L (source_table, row_id, storage_type, storage_path, "
    "sha256, size, migrated_at) SELECT $2, u.row_id, $4, $3, $7, $8, now() "
    "FROM u ON CONFLICT (source_table, row_id) DO UPDATE SET "
    "storage_type = EXCLUDED.storage_type, storage_path = "
    "EXCLUDED.storage_path, sha256 = EXCLUDED.sha256, size = EXCLUDED.size, "
    "migrated_at = EXCLUDED.migrated_at RETURNING 1";

/* text = 25, bigint = 20 (fixed OIDs of PostgreSQL's catalog); $1 is left
 * to the server so that it takes the id column's type. */
const Oid docstore__mig_update_types[8] = {0, 25, 25, 25, 25, 25, 25, 20};

/* Claim up to $5 rows on storage type $2 for run $4 (worker $3) for $6
 * seconds, in id order: rows with no live claim that this run has not
 * claimed before (a run does not take back a row it already tried).  A
 * claim is live while it has not expired and its holder session still
 * holds the migration lock (the sessions in `live`).  The candidate rows
 * are locked FOR UPDATE SKIP LOCKED, so two runs claiming at once take
 * different rows; the INSERT's conflict rule settles the rest (a live
 * claim committed meanwhile is never taken over).  Returns the claimed
 * rows as a page (page_head follows, then claim_tail). */
static const char live_cte[] =
    "WITH live AS MATERIALIZED (SELECT l.pid FROM pg_locks AS l "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid::bigint = " DOCSTORE__MIG_LOCK_HI
    " AND l.objid::bigint = " DOCSTORE__MIG_LOCK_LO " AND l.objsubid = 1) ";
static const char claim_head[] =
    ", c AS (SELECT t.%1 AS id FROM %Q AS t "
    "WHERE COALESCE(t.%7::text, 'local') = $2::text ";
static const char claim_next_cond[] = "AND t.%1 > $7 ";
static const char claim_free[] =
    "AND NOT EXISTS (SELECT 1 FROM %C AS k WHERE k.source_table = $1::text "
    "AND k.row_id = t.%1::text AND ((k.expires_at > now() "
    "AND k.holder_pid IN (SELECT pid FROM live)) OR k.run_id = $4::text)) ";
static const char claim_mid[] =
    "ORDER BY t.%1 LIMIT $5::int FOR UPDATE OF t SKIP LOCKED), "
    "k AS (INSERT INTO %C AS k (source_table, row_id, worker, run_id, "
    "holder_pid, claimed_at, expires_at) SELECT $1::text, c.id::text, "
    "$3::text, $4::text, pg_backend_pid(), now(), now() + "
    "make_interval(secs => $6::int) FROM c "
    "ON CONFLICT (source_table, row_id) DO UPDATE SET worker = "
    "EXCLUDED.worker, run_id = EXCLUDED.run_id, holder_pid = "
    "EXCLUDED.holder_pid, claimed_at = EXCLUDED.claimed_at, expires_at = "
    "EXCLUDED.expires_at WHERE (k.expires_at <= now() OR k.holder_pid "
    "NOT IN (SELECT pid FROM live)) AND k.run_id <> EXCLUDED.run_id "
    "RETURNING k.row_id) ";
static const char claim_tail[] =
    "WHERE t.%1 IN (SELECT c.id FROM c JOIN k ON k.row_id = c.id::text) "
    "ORDER BY t.%1";

static int build(char **out, const docstore__mig_opts *o, const char *table,
                 const char *tpl, const char *tail) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc;
  DOCSTORE__GUARD_GOTO(rc, expand(&b, o, table, tpl), fail);
  if (tail)
    DOCSTORE__GUARD_GOTO(rc, expand(&b, o, table, tail), fail);
  *out = (char *)docstore__buf_detach(&b, NULL);
  return *out ? 0 : DOCSTORE_ENOMEM;
fail:
  docstore__buf_free(&b);
  return rc;
}

/* A statement made of n templates, one after the other. */
static int build_parts(char **out, const docstore__mig_opts *o,
                       const char *table, const char *const *parts, size_t n) {
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = expand(&b, o, table, parts[i]);
  if (rc == 0 && !(*out = (char *)docstore__buf_detach(&b, NULL)))
    rc = DOCSTORE_ENOMEM;
  docstore__buf_free(&b);
  return rc;
}

/* The claim statements of one table (migrate_internal.h). */
static int build_claims(docstore__mig_sql *s, const docstore__mig_opts *o,
                        const char *table) {
  static const char *const first[] = {live_cte,  claim_head, claim_free,
                                      claim_mid, page_head,  claim_tail};
  static const char *const next[] = {live_cte,   claim_head, claim_next_cond,
                                     claim_free, claim_mid,  page_head,
                                     claim_tail};
  /* Is a row left that this run could claim?  A claim can come back empty
   * while some are: its candidates were claimed by a run that committed
   * after it started. */
  static const char *const left[] = {live_cte, claim_head, claim_free,
                                     "LIMIT 1) SELECT count(*) FROM c"};
  DOCSTORE__GUARD(build_parts(&s->claim_first, o, table, first, 6));
  DOCSTORE__GUARD(build_parts(&s->claim_next, o, table, next, 7));
  DOCSTORE__GUARD(build_parts(&s->claim_left, o, table, left, 4));
  DOCSTORE__GUARD(build(&s->count_on, o, table,
                        "SELECT count(*), count(*) FILTER (WHERE "
                        "COALESCE(t.%7::text, 'local') = $1::text) "
                        "FROM %Q AS t",
                        NULL));
  DOCSTORE__GUARD(build(&s->renew, o, table,
                        "UPDATE %C SET expires_at = now() + "
                        "make_interval(secs => $2::int), holder_pid = "
                        "pg_backend_pid() WHERE run_id = $1::text",
                        NULL));
  DOCSTORE__GUARD(build(&s->release, o, table,
                        "DELETE FROM %C WHERE source_table = $1::text AND "
                        "row_id = $2::text AND run_id = $3::text",
                        NULL));
  /* This run's claims, and the dead ones of any run (expired, or their
   * session gone): a missing claim means the same as a dead one, and a
   * run killed after switching a row leaves its claim behind. */
  return build(&s->release_all, o, table, live_cte,
               "DELETE FROM %C AS k WHERE k.run_id = $1::text OR "
               "k.expires_at <= now() OR k.holder_pid NOT IN "
               "(SELECT pid FROM live)");
}

int docstore__mig_sql_build(docstore__mig_sql *s, const docstore__mig_opts *o,
                            const char *table) {
  char limit[64];
  int rc;
  memset(s, 0, sizeof(*s));
  snprintf(limit, sizeof(limit), "ORDER BY t.%%1 LIMIT %u", o->batch_size);
  char next_tail[96];
  snprintf(next_tail, sizeof(next_tail), "WHERE t.%%1 > $2 %s", limit);
  DOCSTORE__GUARD_GOTO(
      rc, build(&s->count, o, table, "SELECT count(*) FROM %Q", NULL), fail);
  DOCSTORE__GUARD_GOTO(rc, build(&s->page_first, o, table, page_head, limit),
                       fail);
  DOCSTORE__GUARD_GOTO(rc, build(&s->page_next, o, table, page_head, next_tail),
                       fail);
  DOCSTORE__GUARD_GOTO(rc, build(&s->update, o, table, update_tpl, NULL), fail);
  DOCSTORE__GUARD_GOTO(rc,
                       build(&s->state, o, table,
                             "SELECT COALESCE(t.%7::text, 'local'), "
                             "t.%6::text FROM %Q AS t WHERE t.%1 = $1",
                             NULL),
                       fail);
  DOCSTORE__GUARD_GOTO(rc, build_claims(s, o, table), fail);
  return 0;
fail:
  docstore__mig_sql_free(s);
  return rc;
}

void docstore__mig_sql_free(docstore__mig_sql *s) {
  if (!s)
    return;
  docstore_free(s->count);
  docstore_free(s->page_first);
  docstore_free(s->page_next);
  docstore_free(s->update);
  docstore_free(s->state);
  docstore_free(s->claim_first);
  docstore_free(s->claim_next);
  docstore_free(s->claim_left);
  docstore_free(s->count_on);
  docstore_free(s->renew);
  docstore_free(s->release);
  docstore_free(s->release_all);
  memset(s, 0, sizeof(*s));
}

int docstore_migrate_schema_sql(char **out,
                                const docstore_migrate_options *opts) {
  docstore__err err = {0, ""};
  docstore__mig_opts o;
  docstore__buf b = DOCSTORE__BUF_INIT;
  int rc;
  if (!out)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "out is NULL");
  *out = NULL;
  /* Mode -1: no provider is needed to write SQL. */
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_opts_resolve(&o, opts, -1, &err),
                       done);
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_schema_sql(&b, &o), done);
  *out = (char *)docstore__buf_detach(&b, NULL);
  rc = *out ? 0 : DOCSTORE_ENOMEM;
done:
  if (rc < 0) {
    docstore__buf_free(&b);
    if (!err.code)
      docstore__err_set(&err, rc, "cannot build the schema SQL");
    docstore__err_publish(&err);
  }
  return rc;
}
