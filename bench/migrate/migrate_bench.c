/*
 * libdocstore - migration benchmark (docstore_migrate_bench).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Migrates COUNT encrypted documents of SIZE bytes from local files to the
 * S3 server of the environment, driven by PostgreSQL rows, with
 * docstore_migrate_run() at each job count of --jobs, then runs the
 * sequential Python reference (bench/migrate_reference.py: boto3 +
 * psycopg2) on the same documents, and prints files per second and the
 * client's CPU time per file (getrusage: this process for the library,
 * the Python child for the reference) side by side.  Not a test: CTest
 * only runs a small smoke of it.
 *
 * With --procs 1,2,4,8: also migrates the documents with that many
 * processes at once, each a docstore_migrate_run() with the first --jobs
 * value, sharing the rows through claims as runs on several hosts do, and
 * prints the throughput of each process count beside one process's.
 *
 *   docstore_migrate_bench [--count 10000] [--size 4096] [--jobs 1,4,16]
 *       [--procs 1,2,4,8] [--batch 500]
 *       [--reference bench/migrate_reference.py]
 *       [--python /usr/bin/python3] [--no-reference] [--workdir DIR]
 *
 * Needs DATABASE_URL (or PG*) and S3_* (as `docstore` reads them).  Each
 * run gets a schema of its own (docstore_bench_<pid>_<n>) with distinct
 * ids, so no run finds another's objects; the schemas are dropped and the
 * objects deleted at the end.  Public API and libpq only.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <docstore/docstore.h>

#define MAX_RUNS 8

typedef struct bench {
  unsigned long count, size, batch;
  unsigned int jobs[MAX_RUNS];
  size_t njobs;
  unsigned int procs[MAX_RUNS];
  size_t nprocs;
  const char *reference, *python, *workdir;
  char legacy[4096];
  PGconn *db;
  docstore_service *local, *s3;
} bench;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(PGconn *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("docstore_migrate_bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sql(PGconn *db, const char *fmt, ...) {
  char q[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(q, sizeof(q), fmt, ap);
  va_end(ap);
  PGresult *r = PQexec(db, q);
  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK)
    die("%s: %s", q, PQerrorMessage(db));
  PQclear(r);
}

/* ------------------------------------------------------------ fixture */

static docstore_service *service(const char *type, const char *root) {
  docstore_config *cfg = NULL;
  docstore_service *svc = NULL;
  char err[1024] = "";
  if (docstore_config_new(&cfg) < 0 || docstore_config_load_env(cfg) < 0 ||
      docstore_config_set(cfg, "STORAGE_TYPE", type) < 0 ||
      (root && docstore_config_set(cfg, "LOCAL_STORAGE_PATH", root) < 0))
    die("configuration: %s", docstore_last_errmsg());
  if (docstore_service_from_config(&svc, cfg, err, sizeof(err)) < 0)
    die("%s storage: %s", type, err);
  docstore_config_free(cfg);
  return svc;
}

/* COUNT envelopes of SIZE random bytes, sealed under a fresh key, as
 * legacy files <i>.json under b->legacy (shared by every run). */
static void make_documents(bench *b) {
  char *pub = NULL, *priv = NULL;
  docstore_keyring *kr = NULL;
  char err[256];
  if (docstore_keygen(&pub, &priv, 2048, NULL) < 0 ||
      docstore_keyring_new(&kr, err, sizeof(err)) < 0 ||
      docstore_keyring_add_public_pem(kr, NULL, pub, strlen(pub)) < 0)
    die("keys: %s", docstore_last_errmsg());
  uint8_t *plain = malloc(b->size ? b->size : 1);
  if (!plain)
    die("out of memory");
  FILE *rnd = fopen("/dev/urandom", "rb");
  if (!rnd || fread(plain, 1, b->size, rnd) != b->size)
    die("/dev/urandom: %s", strerror(errno));
  fclose(rnd);
  for (unsigned long i = 0; i < b->count; i++) {
    char *env = NULL, path[4200];
    size_t len = 0;
    plain[0] = (uint8_t)i; /* every document differs */
    if (docstore_envelope_seal(&env, &len, kr, plain, b->size, NULL) < 0)
      die("seal: %s", docstore_last_errmsg());
    snprintf(path, sizeof(path), "%s/%lu.json", b->legacy, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(env, 1, len, f) != len || fclose(f) != 0)
      die("%s: %s", path, strerror(errno));
    docstore_free(env);
  }
  free(plain);
  docstore_keyring_free(kr);
  docstore_free(pub);
  docstore_free(priv);
}

/* A schema with the old tables, the schema change, and COUNT rows whose
 * ids start at base. */
static void make_schema(bench *b, const char *schema, unsigned long base) {
  char err[1024];
  sql(b->db, "CREATE SCHEMA \"%s\"", schema);
  for (int t = 0; t < 2; t++)
    sql(b->db,
        "CREATE TABLE \"%s\".%s (id BIGINT PRIMARY KEY, filename TEXT, "
        "filepath TEXT, user_id INTEGER, created_at TIMESTAMPTZ NOT NULL)",
        schema, t ? "attachment_staging" : "attachment");
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  (void)docstore_migrate_options_load_env(&o);
  o.schema = schema;
  if (docstore_migrate_schema_apply(&o, err, sizeof(err)) < 0)
    die("schema: %s", err);
  char q[256];
  snprintf(
      q, sizeof(q),
      "COPY \"%s\".attachment (id, filename, filepath, user_id, created_at) "
      "FROM STDIN",
      schema);
  PGresult *r = PQexec(b->db, q);
  if (PQresultStatus(r) != PGRES_COPY_IN)
    die("COPY: %s", PQerrorMessage(b->db));
  PQclear(r);
  for (unsigned long i = 0; i < b->count; i++) {
    char line[256];
    int n =
        snprintf(line, sizeof(line),
                 "%lu\tpassport.pdf\t%lu.json\t%lu\t2024-01-15 10:00:00+00\n",
                 base + i, i, i % 100);
    if (PQputCopyData(b->db, line, n) != 1)
      die("COPY: %s", PQerrorMessage(b->db));
  }
  if (PQputCopyEnd(b->db, NULL) != 1)
    die("COPY: %s", PQerrorMessage(b->db));
  r = PQgetResult(b->db);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    die("COPY: %s", PQerrorMessage(b->db));
  PQclear(r);
  while ((r = PQgetResult(b->db)))
    PQclear(r);
}

/* ---------------------------------------------------------------- runs */

typedef struct result {
  char label[64];
  double seconds, rate;
  double cpu; /* client CPU seconds (user + system) */
  unsigned long files;
} result;

/* CPU seconds (user + system) of `who` (RUSAGE_SELF, RUSAGE_CHILDREN). */
static double cpu_s(int who) {
  struct rusage ru;
  if (getrusage(who, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int quiet_progress(void *payload, const docstore_migrate_progress *p) {
  (void)payload;
  if (p->phase == DOCSTORE_MIGRATE_PHASE_DONE || isatty(STDERR_FILENO))
    fprintf(stderr, "\r  %" PRIu64 "/%" PRIu64 " %.0f files/s%s", p->done,
            p->total, p->files_per_second,
            p->phase == DOCSTORE_MIGRATE_PHASE_DONE ? "\n" : "");
  return 0;
}

static result run_library(bench *b, const char *schema, unsigned int jobs) {
  docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
  docstore_migrate_report *rep = NULL;
  docstore_migrate_counts n = {.version = DOCSTORE_MIGRATE_COUNTS_VERSION};
  char err[1024];
  result res;
  (void)docstore_migrate_options_load_env(&o);
  o.schema = schema;
  o.source = docstore_service_provider(b->local);
  o.target = docstore_service_provider(b->s3);
  o.legacy_root = b->legacy;
  o.jobs = jobs;
  o.batch_size = (unsigned int)b->batch;
  o.tables = DOCSTORE_MIGRATE_TABLE_ATTACHMENT;
  o.progress = quiet_progress;
  o.progress_interval_ms = 1000;
  double t0 = now_s(), c0 = cpu_s(RUSAGE_SELF);
  int rc = docstore_migrate_run(&rep, &o, err, sizeof(err));
  double t = now_s() - t0;
  res.cpu = cpu_s(RUSAGE_SELF) - c0;
  if (rc < 0)
    die("migration with %u jobs: %s", jobs, err);
  if (docstore_migrate_report_counts(rep, &n) < 0 || n.failed ||
      n.successful != b->count)
    die("migration with %u jobs: %" PRIu64 " of %lu documents failed", jobs,
        n.failed, b->count);
  docstore_migrate_report_free(rep);
  /* Where the time went, per S3 operation (average latency). */
  fprintf(stderr, "  S3 average latency:");
  for (int op = DOCSTORE_OP_PUT; op <= DOCSTORE_OP_HEAD; op++) {
    docstore_op_stats st = {.version = DOCSTORE_OP_STATS_VERSION};
    if (docstore_service_stats(b->s3, &st, op) == 0)
      fprintf(stderr, " %s %.1f ms", docstore_op_name(op),
              (double)st.avg_latency_us / 1000.0);
  }
  fputc('\n', stderr);
  docstore_service_stats_reset(b->s3);
  snprintf(res.label, sizeof(res.label), "libdocstore, %u job%s", jobs,
           jobs > 1 ? "s" : "");
  res.seconds = t;
  res.files = (unsigned long)n.successful;
  res.rate = (double)n.successful / t;
  return res;
}

/* `procs` processes at once on one schema, each a run of b->jobs[0] jobs
 * with services of its own (nothing of the parent's is used after fork). */
static result run_processes(bench *b, const char *schema, unsigned int procs) {
  pid_t pids[64];
  result res;
  fflush(NULL);
  double t0 = now_s(), c0 = cpu_s(RUSAGE_CHILDREN);
  for (unsigned int i = 0; i < procs; i++) {
    pids[i] = fork();
    if (pids[i] < 0)
      die("fork: %s", strerror(errno));
    if (pids[i] > 0)
      continue;
    docstore_service *local = service("local", b->legacy);
    docstore_service *s3 = service("s3", NULL);
    docstore_migrate_options o = DOCSTORE_MIGRATE_OPTIONS_INIT;
    docstore_migrate_report *rep = NULL;
    docstore_migrate_counts n = {.version = DOCSTORE_MIGRATE_COUNTS_VERSION};
    char err[1024], name[32];
    (void)docstore_migrate_options_load_env(&o);
    snprintf(name, sizeof(name), "bench-%u", i);
    o.schema = schema;
    o.source = docstore_service_provider(local);
    o.target = docstore_service_provider(s3);
    o.legacy_root = b->legacy;
    o.jobs = b->jobs[0];
    o.batch_size = (unsigned int)b->batch;
    o.tables = DOCSTORE_MIGRATE_TABLE_ATTACHMENT;
    o.worker_name = name;
    int rc = docstore_migrate_run(&rep, &o, err, sizeof(err));
    if (rc < 0 || docstore_migrate_report_counts(rep, &n) < 0 || n.failed) {
      fprintf(stderr, "process %u: %s\n", i, rc < 0 ? err : "rows failed");
      _exit(1);
    }
    fprintf(stderr, "  process %u: %" PRIu64 " documents\n", i, n.successful);
    _exit(0);
  }
  for (unsigned int i = 0; i < procs; i++) {
    int st = 0;
    if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
      die("%u processes: process %u failed", procs, i);
  }
  double t = now_s() - t0;
  res.cpu = cpu_s(RUSAGE_CHILDREN) - c0;
  char q[256];
  snprintf(q, sizeof(q),
           "SELECT count(*) FROM \"%s\".attachment WHERE storage_type = 's3'",
           schema);
  PGresult *r = PQexec(b->db, q);
  if (PQresultStatus(r) != PGRES_TUPLES_OK ||
      strtoul(PQgetvalue(r, 0, 0), NULL, 10) != b->count)
    die("%u processes: not every row was migrated", procs);
  PQclear(r);
  snprintf(res.label, sizeof(res.label), "%u process%s x %u jobs", procs,
           procs > 1 ? "es" : "", b->jobs[0]);
  res.seconds = t;
  res.files = b->count;
  res.rate = (double)b->count / t;
  return res;
}

static result run_reference(bench *b, const char *schema) {
  char cmd[8192], out[4096] = "";
  result res;
  snprintf(cmd, sizeof(cmd),
           "'%s' '%s' --schema '%s' --legacy-root '%s' --batch %lu", b->python,
           b->reference, schema, b->legacy, b->batch);
  double c0 = cpu_s(RUSAGE_CHILDREN);
  FILE *p = popen(cmd, "r");
  if (!p)
    die("cannot run %s", cmd);
  size_t n = fread(out, 1, sizeof(out) - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  res.cpu = cpu_s(RUSAGE_CHILDREN) - c0; /* the interpreter's start too */
  double seconds = 0;
  unsigned long files = 0, failed = 0;
  const char *f = strstr(out, "\"files\": "), *s = strstr(out, "\"seconds\": "),
             *x = strstr(out, "\"failed\": ");
  if (st != 0 || !f || !s || !x || sscanf(f + 9, "%lu", &files) != 1 ||
      sscanf(s + 11, "%lf", &seconds) != 1 ||
      sscanf(x + 10, "%lu", &failed) != 1 || failed || files != b->count)
    die("the Python reference failed (status %d): %s", st, out);
  snprintf(res.label, sizeof(res.label), "Python boto3+psycopg2, sequential");
  res.seconds = seconds;
  res.files = files;
  res.rate = (double)files / seconds;
  return res;
}

/* ------------------------------------------------------------- cleanup */

typedef struct cleaner {
  docstore_provider *p;
  PGresult *keys;
  int from, step;
} cleaner;

static void *clean_some(void *arg) {
  cleaner *c = arg;
  for (int i = c->from; i < PQntuples(c->keys); i += c->step)
    (void)docstore_provider_delete(c->p, PQgetvalue(c->keys, i, 0));
  return NULL;
}

static void drop_run(bench *b, const char *schema) {
  char q[256];
  snprintf(q, sizeof(q),
           "SELECT storage_path FROM \"%s\".attachment WHERE storage_path IS "
           "NOT NULL",
           schema);
  PGresult *keys = PQexec(b->db, q);
  if (PQresultStatus(keys) == PGRES_TUPLES_OK) {
    pthread_t th[8];
    cleaner c[8];
    for (int i = 0; i < 8; i++) {
      c[i] = (cleaner){docstore_service_provider(b->s3), keys, i, 8};
      if (pthread_create(&th[i], NULL, clean_some, &c[i]) != 0)
        die("pthread_create failed");
    }
    for (int i = 0; i < 8; i++)
      pthread_join(th[i], NULL);
  }
  PQclear(keys);
  sql(b->db, "DROP SCHEMA \"%s\" CASCADE", schema);
}

/* ---------------------------------------------------------------- main */

static const char *find_reference(const char *argv0) {
  static char buf[4200];
  const char *slash = strrchr(argv0, '/');
  static const char *const rel[] = {"../../bench/migrate_reference.py",
                                    "../bench/migrate_reference.py"};
  for (size_t i = 0; slash && i < sizeof(rel) / sizeof(rel[0]); i++) {
    snprintf(buf, sizeof(buf), "%.*s/%s", (int)(slash - argv0), argv0, rel[i]);
    if (access(buf, R_OK) == 0)
      return buf;
  }
  return access("bench/migrate_reference.py", R_OK) == 0
             ? "bench/migrate_reference.py"
             : NULL;
}

/* "1,4,16": numbers from 1 to 64, at most MAX_RUNS - 1 of them. */
static size_t parse_list(const char *s, const char *what, unsigned int *out) {
  size_t n = 0;
  for (const char *p = s; *p && n < MAX_RUNS - 1;) {
    char *end;
    unsigned long j = strtoul(p, &end, 10);
    if (end == p || j < 1 || j > 64)
      die("%s takes numbers from 1 to 64 separated by commas", what);
    out[n++] = (unsigned int)j;
    p = *end == ',' ? end + 1 : end;
  }
  return n;
}

int main(int argc, char **argv) {
  bench b = {.count = 10000,
             .size = 4096,
             .batch = 500,
             .njobs = 0,
             .python = "/usr/bin/python3"};
  const char *jobs = "1,4,16", *procs = NULL;
  int no_reference = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-reference")) {
      no_reference = 1;
      continue;
    }
    if (!v)
      die("usage: %s [--count N] [--size BYTES] [--jobs 1,4,16] "
          "[--procs 1,2,4,8] [--batch N] [--reference FILE] [--python PATH] "
          "[--no-reference] [--workdir DIR]",
          argv[0]);
    i++;
    if (!strcmp(a, "--count"))
      b.count = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--size"))
      b.size = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--batch"))
      b.batch = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--jobs"))
      jobs = v;
    else if (!strcmp(a, "--procs"))
      procs = v;
    else if (!strcmp(a, "--reference"))
      b.reference = v;
    else if (!strcmp(a, "--python"))
      b.python = v;
    else if (!strcmp(a, "--workdir"))
      b.workdir = v;
    else
      die("unknown option %s", a);
  }
  b.njobs = parse_list(jobs, "--jobs", b.jobs);
  if (procs)
    b.nprocs = parse_list(procs, "--procs", b.procs);
  if (b.count < 1 || b.batch < 1)
    die("--count and --batch must be at least 1");
  if (!no_reference && !b.reference && !(b.reference = find_reference(argv[0])))
    die("bench/migrate_reference.py not found; give --reference FILE or "
        "--no-reference");

  char tmpl[] = "/tmp/docstore-migrate-bench-XXXXXX";
  const char *work = b.workdir ? b.workdir : mkdtemp(tmpl);
  if (!work)
    die("mkdtemp: %s", strerror(errno));
  snprintf(b.legacy, sizeof(b.legacy), "%s/legacy", work);
  if (mkdir(b.legacy, 0700) != 0 && errno != EEXIST)
    die("%s: %s", b.legacy, strerror(errno));

  const char *url = getenv("DATABASE_URL");
  const char *keys[] = {"dbname", NULL}, *vals[] = {url ? url : "", NULL};
  b.db = PQconnectdbParams(keys, vals, 1);
  if (PQstatus(b.db) != CONNECTION_OK)
    die("database: %s", PQerrorMessage(b.db));
  sql(b.db, "SET client_min_messages = warning");
  b.local = service("local", b.legacy);
  b.s3 = service("s3", NULL);

  fprintf(stderr, "preparing %lu documents of %lu bytes...\n", b.count, b.size);
  make_documents(&b);
  result res[MAX_RUNS];
  size_t nres = 0;
  char schema[64];
  for (size_t r = 0; r <= b.njobs; r++) {
    if (r == b.njobs && no_reference)
      break;
    snprintf(schema, sizeof(schema), "docstore_bench_%ld_%zu", (long)getpid(),
             r);
    make_schema(&b, schema, (unsigned long)(r + 1) * 100000000UL);
    fprintf(stderr, "%s...\n",
            r < b.njobs ? "libdocstore" : "Python reference");
    res[nres++] = r < b.njobs ? run_library(&b, schema, b.jobs[r])
                              : run_reference(&b, schema);
    drop_run(&b, schema);
  }

  printf(
      "Migration of %lu encrypted %lu-byte documents, local files -> S3 (%s), "
      "PostgreSQL rows switched one by one\n",
      b.count, b.size,
      getenv("S3_ENDPOINT_URL") ? getenv("S3_ENDPOINT_URL") : "AWS");
  for (size_t i = 0; i < nres; i++) {
    printf("  %-36s %9.1f files/s  (%.1f s)  %7.0f us CPU/file", res[i].label,
           res[i].rate, res[i].seconds,
           res[i].cpu * 1e6 / (double)res[i].files);
    if (i > 0)
      printf("  x%.2f of 1 job", res[i].rate / res[0].rate);
    putchar('\n');
  }
  if (!no_reference && nres > 1) {
    const result *py = &res[nres - 1];
    for (size_t i = 0; i + 1 < nres; i++)
      printf("  %s / Python: x%.2f files/s, x%.2f CPU per file\n", res[i].label,
             res[i].rate / py->rate,
             (res[i].cpu / (double)res[i].files) /
                 (py->cpu / (double)py->files));
  }
  if (b.nprocs) {
    result pres[MAX_RUNS];
    for (size_t r = 0; r < b.nprocs; r++) {
      snprintf(schema, sizeof(schema), "docstore_bench_%ld_p%zu",
               (long)getpid(), r);
      make_schema(&b, schema, (unsigned long)(r + 11) * 100000000UL);
      fprintf(stderr, "%u processes...\n", b.procs[r]);
      pres[r] = run_processes(&b, schema, b.procs[r]);
      drop_run(&b, schema);
    }
    printf("Several runs at once sharing the rows (claims), each %u jobs:\n",
           b.jobs[0]);
    for (size_t i = 0; i < b.nprocs; i++) {
      printf("  %-36s %9.1f files/s  (%.1f s)", pres[i].label, pres[i].rate,
             pres[i].seconds);
      if (i > 0)
        printf("  x%.2f of %s", pres[i].rate / pres[0].rate, pres[0].label);
      putchar('\n');
    }
  }
  docstore_service_free(b.local);
  docstore_service_free(b.s3);
  PQfinish(b.db);
  if (!b.workdir) {
    char cmd[4300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", work);
  }
  return 0;
}
