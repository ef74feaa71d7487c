/*
 * libdocstore - the migration engine's database connections and lock.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "migrate_internal.h"

/* The server's message on one line, without its "ERROR:  " prefix. */
static void one_line(char *dst, size_t len, const char *msg) {
  if (!msg || !*msg)
    msg = "unknown database error";
  if (strncmp(msg, "ERROR:  ", 8) == 0)
    msg += 8;
  docstore__strlcpy(dst, msg, len);
  size_t n = strlen(dst);
  while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
    dst[--n] = '\0';
  for (char *p = dst; *p; p++)
    if (*p == '\n' || *p == '\t')
      *p = ' ';
  docstore__mig_sanitize(dst);
}

int docstore__mig_db_err(docstore__err *err, PGconn *c, const PGresult *res,
                         const char *what) {
  char line[DOCSTORE__ERRMSG_MAX];
  const char *msg = res ? PQresultErrorMessage(res) : NULL;
  if (!msg || !*msg)
    msg = c ? PQerrorMessage(c) : NULL;
  one_line(line, sizeof(line), msg);
  return docstore__err_set(err, DOCSTORE_EDATABASE, "%s: %s", what, line);
}

int docstore__mig_connect(PGconn **out, const char *url, docstore__err *err) {
  const char *keys[] = {"dbname", "fallback_application_name", NULL};
  const char *vals[] = {url, "docstore-migrate", NULL};
  *out = NULL;
  /* libpq's complaints about a malformed connection string quote it
   * ('invalid percent-encoded token: "pa%zzss"', 'missing "=" after
   * "..."'): the password may be what they quote.  Check it first, as
   * libpq reads it (a connection string when it has '=' or a URI prefix,
   * else a database name), and say only that it is malformed. */
  int expanded = strchr(url, '=') || strncmp(url, "postgresql://", 13) == 0 ||
                 strncmp(url, "postgres://", 11) == 0;
  char *perr = NULL;
  PQconninfoOption *parsed = expanded ? PQconninfoParse(url, &perr) : NULL;
  if (expanded && !parsed) {
    int nomem = !perr;
    PQfreemem(perr);
    if (nomem)
      return docstore__err_set(err, DOCSTORE_ENOMEM,
                               "out of memory parsing the database URL");
    return docstore__err_set(err, DOCSTORE_EDATABASE,
                             "cannot connect to the database: the database "
                             "URL (DATABASE_URL) is not a valid "
                             "connection string or postgresql:// URI (not "
                             "shown: it may hold a password)");
  }
  PQconninfoFree(parsed);
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (!c)
    return docstore__err_set(err, DOCSTORE_ENOMEM,
                             "cannot allocate a database connection");
  if (PQstatus(c) != CONNECTION_OK) {
    int rc =
        docstore__mig_db_err(err, c, NULL, "cannot connect to the database");
    PQfinish(c);
    return rc;
  }
  *out = c;
  return 0;
}

int docstore__mig_exec(PGconn *c, const char *sql, const char *what,
                       docstore__err *err) {
  PGresult *res = PQexec(c, sql);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  int rc = 0;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    rc = docstore__mig_db_err(err, c, res, what);
  PQclear(res);
  return rc;
}

/* Who holds advisory lock `key`, for the message: "another migration is
 * running (server pid N, app)" or "a verification is running (...)". */
static void describe_holder(PGconn *c, int64_t key, char *dst, size_t len) {
  static const char sql[] =
      "SELECT l.pid::text, COALESCE(a.application_name, ''), l.mode "
      "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted "
      "AND l.database = (SELECT oid FROM pg_database "
      "WHERE datname = current_database()) "
      "AND l.classid::bigint = ($1::bigint >> 32) "
      "AND l.objid::bigint = ($1::bigint & 4294967295) AND l.objsubid = 1 "
      "AND l.pid <> pg_backend_pid() LIMIT 1";
  char keytxt[32];
  snprintf(keytxt, sizeof(keytxt), "%lld", (long long)key);
  const char *params[1] = {keytxt};
  PGresult *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
  dst[0] = '\0';
  if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    const char *app = PQgetvalue(res, 0, 1);
    /* The base key held shared: a 0.3 verification. */
    int verifying = key == DOCSTORE__MIG_LOCK_VERIFYING ||
                    (key == DOCSTORE__MIG_LOCK_KEY &&
                     strcmp(PQgetvalue(res, 0, 2), "ShareLock") == 0);
    snprintf(dst, len, "%s is running (server pid %s%s%s)",
             verifying ? "a verification" : "another migration",
             PQgetvalue(res, 0, 0), *app ? ", " : "", app);
    docstore__mig_sanitize(dst);
  } else
    docstore__strlcpy(dst,
                      key == DOCSTORE__MIG_LOCK_VERIFYING
                          ? "a verification is running"
                          : "another migration is running",
                      len);
  PQclear(res);
}

void docstore__mig_close(PGconn *c) {
  /* Release the advisory locks before closing: the server notices a
   * closed session a moment later, and a run started right after this one
   * must not find a lock still held. */
  if (c && PQstatus(c) == CONNECTION_OK)
    PQclear(PQexec(c, "SELECT pg_advisory_unlock_all()"));
  PQfinish(c);
}

/* pg_[try_]advisory_* on key: 1 true, 0 false, or DOCSTORE_EDATABASE. */
static int advisory(PGconn *c, const char *fn, int64_t key,
                    docstore__err *err) {
  char sql[96], keytxt[32];
  snprintf(sql, sizeof(sql), "SELECT %s($1::bigint)", fn);
  snprintf(keytxt, sizeof(keytxt), "%lld", (long long)key);
  const char *params[1] = {keytxt};
  PGresult *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    int rc =
        docstore__mig_db_err(err, c, res, "cannot take the migration lock");
    PQclear(res);
    return rc;
  }
  int yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  return yes;
}

static int busy(PGconn *c, int64_t key, docstore__err *err) {
  char who[256];
  describe_holder(c, key, who, sizeof(who));
  PQclear(PQexec(c, "SELECT pg_advisory_unlock_all()"));
  return docstore__err_set(err, DOCSTORE_EBUSY,
                           "%s: this one does not start (advisory lock %lld "
                           "is held); try again when it has finished",
                           who, (long long)key);
}

/* 1 when another session holds advisory lock `key`, 0 when none does. */
static int held_by_others(PGconn *c, int64_t key, docstore__err *err) {
  static const char sql[] =
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
      "AND database = (SELECT oid FROM pg_database WHERE datname = "
      "current_database()) AND classid::bigint = ($1::bigint >> 32) "
      "AND objid::bigint = ($1::bigint & 4294967295) AND objsubid = 1 "
      "AND pid <> pg_backend_pid()";
  char keytxt[32];
  snprintf(keytxt, sizeof(keytxt), "%lld", (long long)key);
  const char *params[1] = {keytxt};
  PGresult *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    int rc =
        docstore__mig_db_err(err, c, res, "cannot take the migration lock");
    PQclear(res);
    return rc;
  }
  int held = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
  PQclear(res);
  return held;
}

/*
 * Every run holds the base key shared, so that a schema change or a 0.3
 * migration (exclusive) excludes it.  Migrations then hold their group's
 * key shared and look in pg_locks whether anybody holds the other
 * group's (the lock table, not a snapshot: a lock shows there the moment
 * it is granted).  Two runs of different kinds starting at the same
 * instant may both refuse; they can never both run: each takes its own key
 * before it looks for the other's.  Runs of one kind never refuse each
 * other.
 */
int docstore__mig_lock(PGconn *c, int kind, docstore__err *err) {
  int got;
  if (kind == DOCSTORE__MIG_LOCK_EXCLUSIVE) {
    got = advisory(c, "pg_try_advisory_lock", DOCSTORE__MIG_LOCK_KEY, err);
    if (got < 0)
      return got;
    if (!got)
      return busy(c, DOCSTORE__MIG_LOCK_KEY, err);
    /* No run of this version holds the base key without it. */
    return 0;
  }
  int64_t mine = kind == DOCSTORE__MIG_LOCK_MIGRATE
                     ? DOCSTORE__MIG_LOCK_MIGRATING
                     : DOCSTORE__MIG_LOCK_VERIFYING;
  int64_t other = kind == DOCSTORE__MIG_LOCK_MIGRATE
                      ? DOCSTORE__MIG_LOCK_VERIFYING
                      : DOCSTORE__MIG_LOCK_MIGRATING;
  got = advisory(c, "pg_try_advisory_lock_shared", DOCSTORE__MIG_LOCK_KEY, err);
  if (got <= 0)
    return got < 0 ? got : busy(c, DOCSTORE__MIG_LOCK_KEY, err);
  got = advisory(c, "pg_try_advisory_lock_shared", mine, err);
  if (got <= 0) /* nobody of this version takes it exclusively */
    return got < 0 ? got : busy(c, mine, err);
  got = held_by_others(c, other, err);
  if (got != 0)
    return got < 0 ? got : busy(c, other, err);
  return 0;
}
