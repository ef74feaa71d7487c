/*
 * Test driver for the migration engine: runs docstore_migrate_run() or
 * docstore_migrate_verify() between two stores, with faults injected by a
 * wrapping provider (include/docstore/sys/provider.h), so that the
 * integration tests can kill the process or break a store at an exact
 * point of a run.  Public API only.
 *
 *   migrate_driver [options]
 *     --source local:DIR | s3        store of rows on --source-type
 *     --target local:DIR | s3        store of rows on --target-type
 *     --source-type T (local)  --target-type T (s3)
 *     --legacy-root DIR  --jobs N  --batch N  --tables N  --max-failures N
 *     --dry-run  --delete-source  --verify [--verify-type T]
 *     --private-key FILE             decrypt check
 *     --fault SIDE.OP:N:ACTION       SIDE source|target, OP put|get|head|
 *                                    delete; on the N-th such call (1-based,
 *                                    counted over all threads):
 *         kill-before  SIGKILL before the call
 *         kill-after   SIGKILL after it returned
 *         fail         this and every later call fails (DOCSTORE_ECONNECT)
 *         exec=CMD     run CMD with system() first (once), then go on
 *     --kill-progress N              SIGKILL from the progress callback
 *                                    once N rows are done
 *   S3 settings come from the environment (S3_*, as the CLI reads them).
 *   Prints the JSON report on stdout, the text report on stderr.
 *   Exit: 0 nothing failed, 1 documents failed, 2 the run stopped early
 *   (report printed), 3 DOCSTORE_EBUSY, 4 other errors.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docstore/docstore.h>

#define MAX_FAULTS 8

enum { OP_PUT, OP_GET, OP_HEAD, OP_DELETE, OP_N };
static const char *const op_names[OP_N] = {"put", "get", "head", "delete"};

typedef struct fault {
  int side; /* 0 source, 1 target */
  int op;
  long n;
  char action[16];
  const char *cmd;
  atomic_int done;
} fault;

static fault faults[MAX_FAULTS];
static int nfaults;
static atomic_long counts[2][OP_N];
static atomic_int failing[2];

typedef struct wrap {
  docstore_provider *inner;
  int side;
} wrap;

/* Hooks of one call: before() numbers it (1-based, over all threads) and
 * returns a code to fail with, or 0; after() gets the same number. */
static int before(int side, int op, long *n_out) {
  long n = atomic_fetch_add(&counts[side][op], 1) + 1;
  *n_out = n;
  if (atomic_load(&failing[side]))
    return DOCSTORE_ECONNECT;
  for (int i = 0; i < nfaults; i++) {
    fault *f = &faults[i];
    if (f->side != side || f->op != op || n < f->n)
      continue;
    if (strcmp(f->action, "fail") == 0) {
      atomic_store(&failing[side], 1);
      return DOCSTORE_ECONNECT;
    }
    if (n != f->n)
      continue;
    if (strcmp(f->action, "kill-before") == 0)
      raise(SIGKILL);
    if (strcmp(f->action, "exec") == 0 && atomic_exchange(&f->done, 1) == 0 &&
        system(f->cmd) != 0)
      fprintf(stderr, "migrate_driver: fault command failed: %s\n", f->cmd);
  }
  return 0;
}

static void after(int side, int op, long n) {
  for (int i = 0; i < nfaults; i++)
    if (faults[i].side == side && faults[i].op == op && faults[i].n == n &&
        strcmp(faults[i].action, "kill-after") == 0)
      raise(SIGKILL);
}

static int injected(docstore_errinfo *err, int code) {
  return docstore_errinfo_set(err, code, "connection refused (injected)");
}

static int w_put(void *p, const char *key, const uint8_t *data, size_t len,
                 docstore_errinfo *err) {
  wrap *w = p;
  long n;
  int rc = before(w->side, OP_PUT, &n);
  if (rc < 0)
    return injected(err, rc);
  rc = docstore_provider_put(w->inner, key, data, len);
  after(w->side, OP_PUT, n);
  return rc < 0 ? docstore_errinfo_set(err, rc, docstore_last_errmsg()) : 0;
}

static int w_get(void *p, const char *key, docstore_sink_cb sink,
                 void *sink_payload, docstore_errinfo *err) {
  wrap *w = p;
  uint8_t *data = NULL;
  size_t len = 0;
  long n;
  int rc = before(w->side, OP_GET, &n);
  if (rc < 0)
    return injected(err, rc);
  rc = docstore_provider_get(w->inner, &data, &len, key);
  after(w->side, OP_GET, n);
  if (rc < 0)
    return docstore_errinfo_set(err, rc, docstore_last_errmsg());
  rc = sink(sink_payload, data, len) ? DOCSTORE_ECANCELED : 0;
  docstore_free(data);
  return rc;
}

static int w_head(void *p, const char *key, docstore_object_info *info,
                  docstore_errinfo *err) {
  wrap *w = p;
  long n;
  int rc = before(w->side, OP_HEAD, &n);
  if (rc < 0)
    return injected(err, rc);
  rc = docstore_provider_head(w->inner, info, key);
  after(w->side, OP_HEAD, n);
  return rc < 0 ? docstore_errinfo_set(err, rc, docstore_last_errmsg()) : 0;
}

static int w_del(void *p, const char *key, docstore_errinfo *err) {
  wrap *w = p;
  long n;
  int rc = before(w->side, OP_DELETE, &n);
  if (rc < 0)
    return injected(err, rc);
  rc = docstore_provider_delete(w->inner, key);
  after(w->side, OP_DELETE, n);
  return rc < 0 ? docstore_errinfo_set(err, rc, docstore_last_errmsg()) : 0;
}

static void w_free(void *p) { free(p); }

static docstore_service *services[2];

/* "local:DIR" or "s3" -> a provider wrapped for faults. */
static docstore_provider *open_store(const char *spec, int side) {
  docstore_config *cfg = NULL;
  char err[1024] = "";
  int rc;
  if (docstore_config_new(&cfg) < 0 || docstore_config_load_env(cfg) < 0) {
    fprintf(stderr, "migrate_driver: config: %s\n", docstore_last_errmsg());
    exit(4);
  }
  if (strncmp(spec, "local:", 6) == 0) {
    rc = docstore_config_set(cfg, "STORAGE_TYPE", "local");
    if (rc == 0)
      rc = docstore_config_set(cfg, "LOCAL_STORAGE_PATH", spec + 6);
  } else if (strcmp(spec, "s3") == 0)
    rc = docstore_config_set(cfg, "STORAGE_TYPE", "s3");
  else {
    fprintf(stderr, "migrate_driver: bad store '%s'\n", spec);
    exit(4);
  }
  if (rc == 0)
    rc = docstore_service_from_config(&services[side], cfg, err, sizeof(err));
  docstore_config_free(cfg);
  if (rc < 0) {
    fprintf(stderr, "migrate_driver: store %s: %s\n", spec,
            err[0] ? err : docstore_last_errmsg());
    exit(4);
  }
  docstore_provider_ops ops;
  docstore_provider *p = NULL;
  wrap *w = calloc(1, sizeof(*w));
  if (!w ||
      docstore_provider_ops_init(&ops, DOCSTORE_PROVIDER_OPS_VERSION) < 0) {
    free(w);
    exit(4);
  }
  w->inner = docstore_service_provider(services[side]);
  w->side = side;
  ops.name = side ? "fault-target" : "fault-source";
  ops.put = w_put;
  ops.get = w_get;
  ops.head = w_head;
  ops.del = w_del;
  ops.free = w_free;
  if (docstore_provider_new(&p, &ops, w) < 0) {
    fprintf(stderr, "migrate_driver: %s\n", docstore_last_errmsg());
    exit(4);
  }
  return p;
}

static void parse_fault(const char *spec) {
  char side[16], op[16], action[600];
  long n;
  if (nfaults == MAX_FAULTS || sscanf(spec, "%15[a-z].%15[a-z]:%ld:%599[^\n]",
                                      side, op, &n, action) != 4) {
    fprintf(stderr, "migrate_driver: bad --fault '%s'\n", spec);
    exit(4);
  }
  fault *f = &faults[nfaults++];
  f->side = strcmp(side, "target") == 0;
  f->op = -1;
  for (int i = 0; i < OP_N; i++)
    if (strcmp(op, op_names[i]) == 0)
      f->op = i;
  f->n = n;
  if (strncmp(action, "exec=", 5) == 0) {
    strcpy(f->action, "exec");
    f->cmd = strdup(action + 5);
  } else if (strlen(action) < sizeof(f->action))
    memcpy(f->action, action, strlen(action) + 1);
  if (f->op < 0 ||
      (strcmp(side, "target") != 0 && strcmp(side, "source") != 0)) {
    fprintf(stderr, "migrate_driver: bad --fault '%s'\n", spec);
    exit(4);
  }
}

static unsigned long kill_progress;

static int on_progress(void *payload, const docstore_migrate_progress *p) {
  (void)payload;
  if (kill_progress && p->done >= kill_progress)
    raise(SIGKILL);
  return 0;
}

int main(int argc, char **argv) {
  docstore_migrate_options o;
  docstore_migrate_report *rep = NULL;
  docstore_keyring *kr = NULL;
  const char *source = NULL, *target = NULL;
  int verify = 0;
  char err[1024] = "";
  if (docstore_migrate_options_init(&o, DOCSTORE_MIGRATE_OPTIONS_VERSION) < 0)
    return 4;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VAL                                                                    \
  (v ? (i++, v) : (fprintf(stderr, "%s needs a value\n", a), exit(4), ""))
    if (!strcmp(a, "--source"))
      source = VAL;
    else if (!strcmp(a, "--target"))
      target = VAL;
    else if (!strcmp(a, "--source-type"))
      o.source_type = VAL;
    else if (!strcmp(a, "--target-type"))
      o.target_type = VAL;
    else if (!strcmp(a, "--legacy-root"))
      o.legacy_root = VAL;
    else if (!strcmp(a, "--jobs"))
      o.jobs = (unsigned)atoi(VAL);
    else if (!strcmp(a, "--batch"))
      o.batch_size = (unsigned)atoi(VAL);
    else if (!strcmp(a, "--tables"))
      o.tables = (unsigned)atoi(VAL);
    else if (!strcmp(a, "--max-failures"))
      o.max_consecutive_failures = (unsigned)atol(VAL);
    else if (!strcmp(a, "--dry-run"))
      o.dry_run = 1;
    else if (!strcmp(a, "--delete-source"))
      o.delete_source = 1;
    else if (!strcmp(a, "--verify"))
      verify = 1;
    else if (!strcmp(a, "--verify-type"))
      o.verify_type = VAL;
    else if (!strcmp(a, "--fault"))
      parse_fault(VAL);
    else if (!strcmp(a, "--kill-progress"))
      kill_progress = strtoul(VAL, NULL, 10);
    else if (!strcmp(a, "--private-key")) {
      const char *file = VAL;
      if (docstore_keyring_new(&kr, err, sizeof(err)) < 0 ||
          docstore_keyring_add_private_file(kr, NULL, file, NULL) < 0) {
        fprintf(stderr, "migrate_driver: key: %s\n", docstore_last_errmsg());
        return 4;
      }
      o.keyring = kr;
    } else {
      fprintf(stderr, "migrate_driver: unknown argument '%s'\n", a);
      return 4;
    }
#undef VAL
  }
  if (docstore_migrate_options_load_env(&o) < 0)
    return 4;
  if (source)
    o.source = open_store(source, 0);
  if (target)
    o.target = open_store(target, 1);
  o.progress = on_progress;
  o.progress_interval_ms = 1;

  int rc = verify ? docstore_migrate_verify(&rep, &o, err, sizeof(err))
                  : docstore_migrate_run(&rep, &o, err, sizeof(err));
  int status = 0;
  if (rep) {
    char *json = NULL, *text = NULL;
    docstore_migrate_counts n = {.version = DOCSTORE_MIGRATE_COUNTS_VERSION};
    if (docstore_migrate_report_json(rep, &json) < 0 ||
        docstore_migrate_report_text(rep, &text) < 0 ||
        docstore_migrate_report_counts(rep, &n) < 0)
      return 4;
    printf("%s\n", json);
    fputs(text, stderr);
    docstore_free(json);
    docstore_free(text);
    status = rc < 0 ? 2 : n.failed ? 1 : 0;
  }
  if (rc < 0) {
    fprintf(stderr, "migrate_driver: %s (%s)\n", err, docstore_error_name(rc));
    if (!rep)
      status = rc == DOCSTORE_EBUSY ? 3 : 4;
  }
  docstore_migrate_report_free(rep);
  docstore_provider_free(o.source);
  docstore_provider_free(o.target);
  docstore_service_free(services[0]);
  docstore_service_free(services[1]);
  docstore_keyring_free(kr);
  return status;
}
