/*
 * libdocstore - the migration run: one reader, N workers.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The calling thread holds the advisory lock on its own connection (shared:
 * several runs, on one host or several, work on one migration at once) and
 * feeds rows through a bounded queue to the workers; it also calls the
 * progress callback.  Each worker has its own database connection for the
 * row switches.
 *
 * A migration claims its rows (sql.c, "claims"): a batch at a time, in id
 * order, only as many as the queue has room for, each for lease_seconds.
 * The reader renews the run's claims every lease/3 while it runs; a worker
 * deletes a row's claim once the row is switched; a row that failed keeps
 * its claim until the run ends (so that this run does not take it again),
 * and the run deletes all its claims at the end.  A run that dies leaves
 * claims that expire: another run then takes their rows.  Correctness does
 * not rest on the lease: the switch is a compare-and-swap on the row, the
 * target key is a function of the row and an object already there is only
 * accepted with the same bytes (transfer.c).
 *
 * Verifications and dry runs write nothing and claim nothing: they read
 * the tables page by page (WHERE id > last ORDER BY id LIMIT n).
 * Memory: one page (or batch) plus the queue plus one document per worker.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "migrate_internal.h"
#include "util/hex.h"

typedef struct engine engine;

typedef struct worker {
  engine *e;
  PGconn *db;
  pthread_t thread;
  int started;
} worker;

struct engine {
  docstore__mig_opts o;
  docstore__mig_sql sql[2];
  PGconn *reader;
  int claims; /* a real migration: rows are claimed */
  int locked; /* the reader holds the lock (claims to release at the end) */
  char worker_name[256];
  char run_id[33];
  char lease_txt[16];
  uint64_t last_renew_us;
  docstore_migrate_report *report;
  docstore__mig_tally *tally;
  uint64_t t0_us;
  uint64_t last_tick_us;

  pthread_mutex_t mu;
  pthread_cond_t not_empty; /* queue has rows, or closed, or stop */
  pthread_cond_t not_full;  /* queue has room, or stop */
  pthread_cond_t changed;   /* a worker finished a row or exited */
  docstore__mig_row **q;
  size_t qcap, qhead, qlen;
  int closed;
  int stop;
  int stop_code;
  char stop_msg[DOCSTORE__ERRMSG_MAX];
  unsigned int consecutive;
  size_t running;
  char last_error[DOCSTORE__ERRMSG_MAX];

  worker *workers;
  size_t nworkers;
};

static const char *const labels[2] = {"Attachment", "Staging attachment"};

/* ------------------------------------------------------------ helpers */

/* Stop the run (first reason wins).  Caller holds mu. */
static void stop_locked(engine *e, int code, const char *msg) {
  if (!e->stop) {
    e->stop = 1;
    e->stop_code = code;
    docstore__strlcpy(e->stop_msg, msg, sizeof(e->stop_msg));
  }
  pthread_cond_broadcast(&e->not_empty);
  pthread_cond_broadcast(&e->not_full);
  pthread_cond_broadcast(&e->changed);
}

static void stop(engine *e, int code, const char *msg) {
  pthread_mutex_lock(&e->mu);
  stop_locked(e, code, msg);
  pthread_mutex_unlock(&e->mu);
}

static void deadline_in(struct timespec *ts, unsigned int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* Call the progress callback (on the caller's thread), at most every
 * interval unless `force`.  Must be called without mu held. */
static void tick(engine *e, int force, int phase) {
  if (!e->o.progress)
    return;
  uint64_t now = docstore__now_us();
  if (!force &&
      now - e->last_tick_us < (uint64_t)e->o.progress_interval_ms * 1000)
    return;
  e->last_tick_us = now;
  docstore_migrate_progress p;
  char last[DOCSTORE__ERRMSG_MAX];
  memset(&p, 0, sizeof(p));
  p.version = DOCSTORE_MIGRATE_PROGRESS_VERSION;
  p.phase = phase;
  pthread_mutex_lock(&e->mu);
  p.total = e->tally->total;
  p.successful = e->tally->successful;
  p.failed = e->tally->failed;
  p.skipped = e->tally->skipped;
  p.bytes = e->tally->bytes;
  docstore__strlcpy(last, e->last_error, sizeof(last));
  pthread_mutex_unlock(&e->mu);
  p.done = p.successful + p.failed + p.skipped;
  p.elapsed_seconds = (double)(now - e->t0_us) / 1e6;
  p.files_per_second =
      p.elapsed_seconds > 0 ? (double)p.done / p.elapsed_seconds : 0.0;
  p.eta_seconds = -1;
  if (p.files_per_second > 0 && p.total >= p.done)
    p.eta_seconds = (double)(p.total - p.done) / p.files_per_second;
  p.last_error = last[0] ? last : NULL;
  if (e->o.progress(e->o.progress_payload, &p) != 0 &&
      phase != DOCSTORE_MIGRATE_PHASE_DONE)
    stop(e, DOCSTORE_ECANCELED, "Migration canceled");
}

/* ------------------------------------------------------------ workers */

static void account(engine *e, const docstore__mig_ctx *ctx,
                    const docstore__mig_row *row,
                    const docstore__mig_outcome *out) {
  const docstore__mig_opts *o = &e->o;
  pthread_mutex_lock(&e->mu);
  if (out->code == 0) {
    e->tally->successful++;
    e->tally->recovered += (uint64_t)out->recovered;
    e->tally->source_deleted += (uint64_t)out->source_deleted;
    e->tally->bytes += out->bytes;
    e->consecutive = 0;
  } else {
    e->tally->failed++;
    (void)docstore__mig_report_add(e->report, out->code, ctx->table_name,
                                   row->id, out->message);
    docstore__strlcpy(e->last_error, out->message, sizeof(e->last_error));
    if (out->infra &&
        o->max_consecutive_failures != DOCSTORE_MIGRATE_UNLIMITED &&
        ++e->consecutive >= o->max_consecutive_failures) {
      char msg[DOCSTORE__ERRMSG_MAX];
      snprintf(msg, sizeof(msg),
               "Run stopped after %u documents in a row failed on a store "
               "or the database",
               e->consecutive);
      stop_locked(e, out->code, msg);
    }
  }
  pthread_cond_signal(&e->changed);
  pthread_mutex_unlock(&e->mu);
}

/* The row is switched: its claim goes (best effort: a claim left behind
 * expires, and the run deletes all of its own at the end). */
static void release(engine *e, worker *w, const docstore__mig_row *row) {
  const char *params[3] = {e->o.table_name[row->table], row->id, e->run_id};
  for (int attempt = 0; attempt < 2; attempt++) {
    PGresult *res = PQexecParams(w->db, e->sql[row->table].release, 3, NULL,
                                 params, NULL, NULL, 0);
    int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (ok || PQstatus(w->db) != CONNECTION_BAD)
      return;
    PQreset(w->db); /* the connection broke: once more on a new one */
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  engine *e = w->e;
  for (;;) {
    pthread_mutex_lock(&e->mu);
    while (e->qlen == 0 && !e->closed && !e->stop)
      pthread_cond_wait(&e->not_empty, &e->mu);
    if (e->stop || e->qlen == 0) {
      pthread_mutex_unlock(&e->mu);
      break;
    }
    docstore__mig_row *row = e->q[e->qhead];
    e->qhead = (e->qhead + 1) % e->qcap;
    e->qlen--;
    pthread_cond_signal(&e->not_full);
    pthread_mutex_unlock(&e->mu);

    docstore__mig_ctx ctx = {
        &e->o, e->o.table_name[row->table], labels[row->table],
        w->db, e->sql[row->table].update,   e->sql[row->table].state};
    docstore__mig_outcome out;
    if (e->o.mode == DOCSTORE_MIGRATE_MODE_VERIFY)
      docstore__mig_verify_row(&ctx, row, &out);
    else
      docstore__mig_migrate_row(&ctx, row, &out);
    if (e->claims && out.code == 0)
      release(e, w, row);
    account(e, &ctx, row, &out);
    docstore__mig_row_free(row);
  }
  pthread_mutex_lock(&e->mu);
  e->running--;
  pthread_cond_broadcast(&e->changed);
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

/* ------------------------------------------------------------- reader */

static int prepare(engine *e, size_t t, docstore__err *err);

/* The reader's connection broke (server restart, network, a terminated
 * backend): connect again, take the lock again, prepare again. */
static int reader_reset(engine *e, docstore__err *err) {
  PQreset(e->reader);
  if (PQstatus(e->reader) != CONNECTION_OK)
    return docstore__mig_db_err(err, e->reader, NULL,
                                "cannot connect to the database again");
  docstore__log(DOCSTORE_LOG_WARN,
                "the database connection was lost; connected again");
  DOCSTORE__GUARD(docstore__mig_lock(e->reader,
                                     e->o.mode == DOCSTORE_MIGRATE_MODE_VERIFY
                                         ? DOCSTORE__MIG_LOCK_VERIFY
                                         : DOCSTORE__MIG_LOCK_MIGRATE,
                                     err));
  for (size_t t = 0; t < 2; t++)
    if (e->o.tables & (1u << t))
      DOCSTORE__GUARD(prepare(e, t, err));
  e->last_renew_us = 0; /* renew soon: the claims name the new session */
  return 0;
}

/* Run a statement on the reader's connection: prepared statement `name`,
 * or the text `sql` when name is NULL.  Once more after reader_reset()
 * when the connection broke.  NULL on failure (err set). */
static PGresult *reader_exec(engine *e, const char *name, const char *sql,
                             int nparams, const char *const *params,
                             const char *what, docstore__err *err) {
  for (int attempt = 0;; attempt++) {
    PGresult *res =
        name ? PQexecPrepared(e->reader, name, nparams, params, NULL, NULL, 0)
             : PQexecParams(e->reader, sql, nparams, NULL, params, NULL, NULL,
                            0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
      return res;
    docstore__mig_db_err(err, e->reader, res, what);
    PQclear(res);
    if (attempt > 0 || PQstatus(e->reader) != CONNECTION_BAD)
      return NULL;
    if (reader_reset(e, err) < 0)
      return NULL;
  }
}

/* Renew this run's claims when lease/3 has passed (reader thread). */
static void maintain(engine *e) {
  if (!e->claims || !e->locked)
    return;
  uint64_t now = docstore__now_us();
  if (now - e->last_renew_us < (uint64_t)e->o.lease_seconds * 1000000 / 3)
    return;
  e->last_renew_us = now;
  docstore__err err = {0, ""};
  size_t t = (e->o.tables & 1u) ? 0 : 1; /* the statement names no table */
  const char *params[2] = {e->run_id, e->lease_txt};
  PGresult *res = reader_exec(e, NULL, e->sql[t].renew, 2, params,
                              "renewing the claims", &err);
  if (!res)
    docstore__log(DOCSTORE_LOG_WARN,
                  "%s (the rows stay safe: another run that takes one "
                  "over finds its object or its switch done)",
                  err.msg);
  PQclear(res);
}

/* Queue a row (blocking while the queue is full, ticking meanwhile).
 * Takes ownership of row. */
static void push(engine *e, docstore__mig_row *row) {
  pthread_mutex_lock(&e->mu);
  while (e->qlen == e->qcap && !e->stop) {
    struct timespec ts;
    deadline_in(&ts, e->o.progress_interval_ms);
    (void)pthread_cond_timedwait(&e->not_full, &e->mu, &ts);
    pthread_mutex_unlock(&e->mu);
    tick(e, 0, DOCSTORE_MIGRATE_PHASE_RUNNING); /* throttled by itself */
    maintain(e);
    pthread_mutex_lock(&e->mu);
  }
  if (e->stop) {
    pthread_mutex_unlock(&e->mu);
    docstore__mig_row_free(row);
    return;
  }
  e->q[(e->qhead + e->qlen) % e->qcap] = row;
  e->qlen++;
  pthread_cond_signal(&e->not_empty);
  pthread_mutex_unlock(&e->mu);
  tick(e, 0, DOCSTORE_MIGRATE_PHASE_RUNNING);
}

static char *col_dup(const PGresult *res, int i, int c, int *oom) {
  if (PQgetisnull(res, i, c))
    return NULL;
  char *s = docstore__strdup(PQgetvalue(res, i, c));
  if (!s)
    *oom = 1;
  return s;
}

static docstore__mig_row *row_from(const PGresult *res, int i, size_t table) {
  int oom = 0;
  docstore__mig_row *r = docstore__alloc(sizeof(*r));
  if (!r)
    return NULL;
  r->table = table;
  r->id = col_dup(res, i, DOCSTORE__MIG_C_ID, &oom);
  r->filename = col_dup(res, i, DOCSTORE__MIG_C_FILENAME, &oom);
  r->filepath = col_dup(res, i, DOCSTORE__MIG_C_FILEPATH, &oom);
  r->user_id = col_dup(res, i, DOCSTORE__MIG_C_USER_ID, &oom);
  r->storage_path = col_dup(res, i, DOCSTORE__MIG_C_STORAGE_PATH, &oom);
  r->storage_type = col_dup(res, i, DOCSTORE__MIG_C_STORAGE_TYPE, &oom);
  if (!PQgetisnull(res, i, DOCSTORE__MIG_C_CREATED)) {
    r->has_created = 1;
    r->created = strtoll(PQgetvalue(res, i, DOCSTORE__MIG_C_CREATED), NULL, 10);
  }
  /* The ledger's hash only speaks for the object the row points at now. */
  if (!PQgetisnull(res, i, DOCSTORE__MIG_C_LEDGER_SHA) && r->storage_path &&
      r->storage_type &&
      strcmp(PQgetvalue(res, i, DOCSTORE__MIG_C_LEDGER_TYPE),
             r->storage_type) == 0 &&
      strcmp(PQgetvalue(res, i, DOCSTORE__MIG_C_LEDGER_PATH),
             r->storage_path) == 0)
    r->ledger_sha = col_dup(res, i, DOCSTORE__MIG_C_LEDGER_SHA, &oom);
  if (oom || !r->id || !r->storage_type) {
    docstore__mig_row_free(r);
    return NULL;
  }
  return r;
}

/* Does this run process a row on `type`? */
static int selected(const engine *e, const char *type) {
  const docstore__mig_opts *o = &e->o;
  if (o->mode == DOCSTORE_MIGRATE_MODE_MIGRATE)
    return strcmp(type, o->source_type) == 0;
  if (o->verify_type)
    return strcmp(type, o->verify_type) == 0;
  return strcmp(type, o->source_type) == 0 ||
         (o->target && strcmp(type, o->target_type) == 0);
}

static int read_table(engine *e, size_t t, docstore__err *err) {
  char *last = NULL;
  const char *table = e->o.table_name[t];
  char first_name[32], next_name[32];
  snprintf(first_name, sizeof(first_name), "docstore_mig_first_%zu", t);
  snprintf(next_name, sizeof(next_name), "docstore_mig_next_%zu", t);
  int rc = 0;
  for (;;) {
    pthread_mutex_lock(&e->mu);
    int stopped = e->stop;
    pthread_mutex_unlock(&e->mu);
    if (stopped)
      break;
    const char *params[2] = {table, last};
    PGresult *res = PQexecPrepared(e->reader, last ? next_name : first_name,
                                   last ? 2 : 1, params, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
      rc = docstore__mig_db_err(err, e->reader, res, "reading a page of rows");
      PQclear(res);
      break;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
      docstore__mig_row *row = row_from(res, i, t);
      if (!row) {
        rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
        break;
      }
      if (selected(e, row->storage_type)) {
        push(e, row);
        continue;
      }
      pthread_mutex_lock(&e->mu);
      e->tally->skipped++;
      pthread_mutex_unlock(&e->mu);
      docstore__mig_row_free(row);
    }
    docstore_free(last);
    last = n > 0 ? docstore__strdup(PQgetvalue(res, n - 1, DOCSTORE__MIG_C_ID))
                 : NULL;
    PQclear(res);
    if (rc < 0 || n < (int)e->o.batch_size)
      break;
    if (!last) {
      rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
      break;
    }
  }
  docstore_free(last);
  return rc;
}

/* Wait until the queue is at most half full; the room then (0: stop). */
static size_t wait_room(engine *e) {
  pthread_mutex_lock(&e->mu);
  while (!e->stop && e->qlen > e->qcap / 2) {
    struct timespec ts;
    deadline_in(&ts, e->o.progress_interval_ms);
    (void)pthread_cond_timedwait(&e->not_full, &e->mu, &ts);
    pthread_mutex_unlock(&e->mu);
    tick(e, 0, DOCSTORE_MIGRATE_PHASE_RUNNING);
    maintain(e);
    pthread_mutex_lock(&e->mu);
  }
  size_t room = e->stop ? 0 : e->qcap - e->qlen;
  pthread_mutex_unlock(&e->mu);
  return room;
}

/* 1 when table t still has a row this run could claim, 0 when not. */
static int rows_left(engine *e, size_t t, docstore__err *err) {
  static const Oid types[4] = {25, 25, 25, 25}; /* text */
  const char *params[4] = {e->o.table_name[t], e->o.source_type, "", e->run_id};
  PGresult *res = NULL;
  for (int attempt = 0; attempt < 2; attempt++) {
    res = PQexecParams(e->reader, e->sql[t].claim_left, 4, types, params, NULL,
                       NULL, 0);
    if ((res && PQresultStatus(res) == PGRES_TUPLES_OK) || attempt > 0 ||
        PQstatus(e->reader) != CONNECTION_BAD || reader_reset(e, err) < 0)
      break;
    PQclear(res);
    res = NULL;
  }
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    int rc = docstore__mig_db_err(err, e->reader, res, "claiming rows");
    PQclear(res);
    return rc;
  }
  int more = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
  PQclear(res);
  return more;
}

/* A migration's reader: claim batches of rows on the source type and queue
 * them, as long as some are left.  Claims go in id order from the last row
 * this run claimed; when none is left past it, once more from the start
 * (rows whose claim expired meanwhile: a run that died).  An empty claim
 * from the start ends the table only when no row is left that this run
 * could claim (rows_left(): its candidates may all have gone to a run that
 * committed its claim after this statement started). */
static int claim_table(engine *e, size_t t, docstore__err *err) {
  char *last = NULL;
  char first_name[32], next_name[32], n_txt[16];
  snprintf(first_name, sizeof(first_name), "docstore_mig_claim1_%zu", t);
  snprintf(next_name, sizeof(next_name), "docstore_mig_claim2_%zu", t);
  int rc = 0;
  for (;;) {
    size_t room = wait_room(e);
    if (room == 0)
      break;
    size_t n = room < e->o.batch_size ? room : e->o.batch_size;
    snprintf(n_txt, sizeof(n_txt), "%zu", n);
    const char *params[7] = {e->o.table_name[t],
                             e->o.source_type,
                             e->worker_name,
                             e->run_id,
                             n_txt,
                             e->lease_txt,
                             last};
    PGresult *res = reader_exec(e, last ? next_name : first_name, NULL,
                                last ? 7 : 6, params, "claiming rows", err);
    if (!res) {
      rc = DOCSTORE_EDATABASE;
      break;
    }
    int got = PQntuples(res);
    for (int i = 0; i < got && rc == 0; i++) {
      docstore__mig_row *row = row_from(res, i, t);
      if (!row)
        rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
      else
        push(e, row);
    }
    char *next =
        got > 0 ? docstore__strdup(PQgetvalue(res, got - 1, DOCSTORE__MIG_C_ID))
                : NULL;
    PQclear(res);
    if (rc == 0 && got > 0 && !next)
      rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    if (rc < 0) {
      docstore_free(next);
      break;
    }
    if (got == 0 && !last) {
      int more = rows_left(e, t, err);
      if (more < 0) {
        rc = more;
        break;
      }
      if (!more)
        break;
      usleep(10000); /* lost every candidate to another run: again */
    }
    docstore_free(last);
    last = next;
  }
  docstore_free(last);
  return rc;
}

/* -------------------------------------------------------------- setup */

static int prepare(engine *e, size_t t, docstore__err *err) {
  struct {
    const char *name, *sql;
    int nparams;
  } stmts[] = {
      {"docstore_mig_check_update_", e->sql[t].update, 8},
      {"docstore_mig_first_", e->sql[t].page_first, 1},
      {"docstore_mig_next_", e->sql[t].page_next, 2},
      {"docstore_mig_claim1_", e->sql[t].claim_first, 6},
      {"docstore_mig_claim2_", e->sql[t].claim_next, 7},
  };
  for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
    if (i > 0 && (i >= 3) != (e->claims != 0))
      continue; /* pages, or claims */
    char name[48];
    snprintf(name, sizeof(name), "%s%zu", stmts[i].name, t);
    PGresult *res = PQprepare(e->reader, name, stmts[i].sql, stmts[i].nparams,
                              i == 0 ? docstore__mig_update_types : NULL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
      char what[256];
      snprintf(what, sizeof(what), "table %s.%s", e->o.schema,
               e->o.table_name[t]);
      docstore__mig_db_err(err, e->reader, res, what);
      PQclear(res);
      docstore__err_prefix(err, "the database is not ready for the "
                                "migration (apply the schema with `docstore "
                                "migrate schema`, or map the column names)");
      return DOCSTORE_EDATABASE;
    }
    PQclear(res);
  }
  return 0;
}

/* Rows of a table; a migration also counts those not on the source as
 * skipped from the start (it never sees them). */
static int count_rows(engine *e, size_t t, docstore__err *err) {
  const char *params[1] = {e->o.source_type};
  PGresult *res = e->claims ? PQexecParams(e->reader, e->sql[t].count_on, 1,
                                           NULL, params, NULL, NULL, 0)
                            : PQexec(e->reader, e->sql[t].count);
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    int rc = docstore__mig_db_err(err, e->reader, res, "counting rows");
    PQclear(res);
    return rc;
  }
  uint64_t all = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
  e->tally->total += all;
  if (e->claims) {
    uint64_t on = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    e->tally->skipped += all > on ? all - on : 0;
  }
  PQclear(res);
  return 0;
}

static int start_workers(engine *e, docstore__err *err) {
  int need_db = e->o.mode == DOCSTORE_MIGRATE_MODE_MIGRATE && !e->o.dry_run;
  e->nworkers = e->o.jobs;
  e->workers = docstore__alloc(e->nworkers * sizeof(worker));
  if (!e->workers)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  for (size_t i = 0; i < e->nworkers; i++) {
    e->workers[i].e = e;
    if (need_db)
      DOCSTORE__GUARD(
          docstore__mig_connect(&e->workers[i].db, e->o.database_url, err));
  }
  for (size_t i = 0; i < e->nworkers; i++) {
    pthread_mutex_lock(&e->mu);
    e->running++;
    pthread_mutex_unlock(&e->mu);
    if (pthread_create(&e->workers[i].thread, NULL, worker_main,
                       &e->workers[i]) != 0) {
      pthread_mutex_lock(&e->mu);
      e->running--;
      pthread_mutex_unlock(&e->mu);
      return docstore__err_set(err, DOCSTORE_ENOMEM,
                               "cannot start a worker thread");
    }
    e->workers[i].started = 1;
  }
  return 0;
}

/* Close the queue and wait for the workers, ticking meanwhile. */
static void finish_workers(engine *e) {
  pthread_mutex_lock(&e->mu);
  e->closed = 1;
  pthread_cond_broadcast(&e->not_empty);
  while (e->running > 0) {
    struct timespec ts;
    deadline_in(&ts, e->o.progress_interval_ms);
    (void)pthread_cond_timedwait(&e->changed, &e->mu, &ts);
    pthread_mutex_unlock(&e->mu);
    tick(e, 0, DOCSTORE_MIGRATE_PHASE_RUNNING); /* throttled by itself */
    maintain(e);
    pthread_mutex_lock(&e->mu);
  }
  /* Rows left in the queue after a stop are not attempted. */
  while (e->qlen > 0) {
    docstore__mig_row_free(e->q[e->qhead]);
    e->qhead = (e->qhead + 1) % e->qcap;
    e->qlen--;
  }
  pthread_mutex_unlock(&e->mu);
  for (size_t i = 0; i < e->nworkers; i++)
    if (e->workers[i].started)
      pthread_join(e->workers[i].thread, NULL);
}

static void engine_free(engine *e) {
  if (e->workers) {
    /* Workers never started, or already joined by finish_workers(). */
    for (size_t i = 0; i < e->nworkers; i++)
      PQfinish(e->workers[i].db);
    docstore_free(e->workers);
  }
  if (e->claims && e->locked) {
    /* This run's claims: rows that failed or were not attempted. */
    docstore__err err = {0, ""};
    size_t t = (e->o.tables & 1u) ? 0 : 1;
    const char *params[1] = {e->run_id};
    PGresult *res = reader_exec(e, NULL, e->sql[t].release_all, 1, params,
                                "releasing the claims", &err);
    if (!res)
      docstore__log(DOCSTORE_LOG_WARN, "%s (they expire in %u s)", err.msg,
                    e->o.lease_seconds);
    PQclear(res);
  }
  docstore__mig_close(e->reader); /* releases the advisory lock */
  for (size_t t = 0; t < 2; t++)
    docstore__mig_sql_free(&e->sql[t]);
  docstore_free(e->q);
  docstore_migrate_report_free(e->report);
  pthread_cond_destroy(&e->not_empty);
  pthread_cond_destroy(&e->not_full);
  pthread_cond_destroy(&e->changed);
  pthread_mutex_destroy(&e->mu);
}

/* ---------------------------------------------------------------- run */

/* The run's name (worker_name, else "host:pid") and its unique id. */
static int identify(engine *e, docstore__err *err) {
  if (e->o.worker_name)
    docstore__strlcpy(e->worker_name, e->o.worker_name, sizeof(e->worker_name));
  else {
    char host[200];
    if (gethostname(host, sizeof(host)) != 0)
      docstore__strlcpy(host, "unknown", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    snprintf(e->worker_name, sizeof(e->worker_name), "%s:%ld", host,
             (long)getpid());
    docstore__mig_sanitize(e->worker_name);
  }
  e->o.worker_name = e->worker_name;
  uint8_t id[16];
  if (RAND_bytes(id, (int)sizeof(id)) != 1)
    return docstore__err_set(err, DOCSTORE_ECRYPTO,
                             "no random bytes for the run's id");
  docstore__hex_encode(e->run_id, id, sizeof(id));
  snprintf(e->lease_txt, sizeof(e->lease_txt), "%u", e->o.lease_seconds);
  return 0;
}

static int run(docstore_migrate_report **out,
               const docstore_migrate_options *opts, int mode, char *errbuf,
               size_t errbuf_len) {
  docstore__err err = {0, ""};
  engine e;
  int rc;
  memset(&e, 0, sizeof(e));
  pthread_mutex_init(&e.mu, NULL);
  pthread_cond_init(&e.not_empty, NULL);
  pthread_cond_init(&e.not_full, NULL);
  pthread_cond_init(&e.changed, NULL);
  if (out)
    *out = NULL;
  if (!out) {
    rc = docstore__err_set(&err, DOCSTORE_EINVAL, "out is NULL");
    goto done;
  }
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_opts_resolve(&e.o, opts, mode, &err),
                       done);
  e.claims = mode == DOCSTORE_MIGRATE_MODE_MIGRATE && !e.o.dry_run;
  DOCSTORE__GUARD_GOTO(rc, identify(&e, &err), done);
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_report_new(&e.report, &e.o), oom);
  e.tally = docstore__mig_report_tally(e.report);
  /* Claimed rows wait in the queue: no more than the workers will take
   * soon, so that the other runs get the rest. */
  e.qcap = e.claims ? 2 * (size_t)e.o.jobs : e.o.batch_size;
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  e.q = docstore__alloc(e.qcap * sizeof(*e.q));
  if (!e.q)
    goto oom;
  for (size_t t = 0; t < 2; t++)
    if (e.o.tables & (1u << t))
      DOCSTORE__GUARD_GOTO(
          rc, docstore__mig_sql_build(&e.sql[t], &e.o, e.o.table_name[t]), oom);

  e.t0_us = docstore__now_us();
  DOCSTORE__GUARD_GOTO(
      rc, docstore__mig_connect(&e.reader, e.o.database_url, &err), done);
  DOCSTORE__GUARD_GOTO(rc,
                       docstore__mig_lock(e.reader,
                                          mode == DOCSTORE_MIGRATE_MODE_VERIFY
                                              ? DOCSTORE__MIG_LOCK_VERIFY
                                              : DOCSTORE__MIG_LOCK_MIGRATE,
                                          &err),
                       done);
  e.locked = 1;
  e.last_renew_us = docstore__now_us();
  for (size_t t = 0; t < 2; t++) {
    if (!(e.o.tables & (1u << t)))
      continue;
    DOCSTORE__GUARD_GOTO(rc, prepare(&e, t, &err), done);
    DOCSTORE__GUARD_GOTO(rc, count_rows(&e, t, &err), done);
  }
  docstore__log(DOCSTORE_LOG_INFO, "%s %s: %llu rows, %u jobs%s",
                mode == DOCSTORE_MIGRATE_MODE_VERIFY ? "verification"
                                                     : "migration",
                e.worker_name, (unsigned long long)e.tally->total, e.o.jobs,
                e.o.dry_run ? ", dry run" : "");
  rc = start_workers(&e, &err);
  if (rc < 0) {
    stop(&e, rc, err.msg);
    finish_workers(&e);
    goto done;
  }
  tick(&e, 1, DOCSTORE_MIGRATE_PHASE_RUNNING);
  for (size_t t = 0; t < 2 && rc == 0; t++)
    if (e.o.tables & (1u << t))
      rc = e.claims ? claim_table(&e, t, &err) : read_table(&e, t, &err);
  if (rc < 0)
    stop(&e, rc, err.msg);
  finish_workers(&e);

  /* Rows on the source that this run did not handle went to other runs. */
  if (e.claims && !e.stop) {
    uint64_t mine = e.tally->successful + e.tally->failed;
    e.tally->skipped = e.tally->total > mine ? e.tally->total - mine : 0;
  }
  rc = e.stop ? e.stop_code : 0;
  if (rc < 0 && !err.code)
    docstore__err_set(&err, rc, "%s", e.stop_msg);
  if (docstore__mig_report_finish(
          e.report, (double)(docstore__now_us() - e.t0_us) / 1e6,
          e.stop ? e.stop_code : 0, e.stop ? e.stop_msg : NULL) < 0)
    goto oom;
  tick(&e, 1, DOCSTORE_MIGRATE_PHASE_DONE);
  *out = e.report;
  e.report = NULL;
  goto done;
oom:
  rc = docstore__err_set(&err, DOCSTORE_ENOMEM, "out of memory");
done:
  engine_free(&e);
  if (rc < 0) {
    docstore__err_to_buf(&err, errbuf, errbuf_len);
    docstore__err_publish(&err);
  }
  return rc;
}

int docstore_migrate_run(docstore_migrate_report **out,
                         const docstore_migrate_options *opts, char *errbuf,
                         size_t errbuf_len) {
  return run(out, opts, DOCSTORE_MIGRATE_MODE_MIGRATE, errbuf, errbuf_len);
}

int docstore_migrate_verify(docstore_migrate_report **out,
                            const docstore_migrate_options *opts, char *errbuf,
                            size_t errbuf_len) {
  return run(out, opts, DOCSTORE_MIGRATE_MODE_VERIFY, errbuf, errbuf_len);
}

int docstore_migrate_schema_apply(const docstore_migrate_options *opts,
                                  char *errbuf, size_t errbuf_len) {
  docstore__err err = {0, ""};
  docstore__mig_opts o;
  docstore__buf sql = DOCSTORE__BUF_INIT;
  PGconn *c = NULL;
  int rc;
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_opts_resolve(&o, opts, -1, &err),
                       done);
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_schema_sql(&sql, &o), done);
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_connect(&c, o.database_url, &err),
                       done);
  DOCSTORE__GUARD_GOTO(
      rc, docstore__mig_lock(c, DOCSTORE__MIG_LOCK_EXCLUSIVE, &err), done);
  /* One transaction: all of it or none.  Several statements in one
   * PQexec() run in one implicit transaction anyway; say it plainly. */
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_exec(c, "BEGIN", "BEGIN", &err), done);
  rc = docstore__mig_exec(c, (const char *)sql.data, "applying the schema",
                          &err);
  if (rc < 0) {
    PQclear(PQexec(c, "ROLLBACK"));
    goto done;
  }
  DOCSTORE__GUARD_GOTO(rc, docstore__mig_exec(c, "COMMIT", "COMMIT", &err),
                       done);
  docstore__log(DOCSTORE_LOG_INFO, "schema applied (%s)", o.schema);
done:
  if (rc < 0 && rc != DOCSTORE_ENOMEM && !err.code)
    docstore__err_set(&err, rc, "cannot apply the schema");
  else if (rc == DOCSTORE_ENOMEM && !err.code)
    docstore__err_set(&err, rc, "out of memory");
  docstore__mig_close(c);
  docstore__buf_free(&sql);
  if (rc < 0) {
    docstore__err_to_buf(&err, errbuf, errbuf_len);
    docstore__err_publish(&err);
  }
  return rc;
}
