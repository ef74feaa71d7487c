/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * docstore_bench: prints throughput figures of the library beside those of
 * `openssl speed` (local mode) or of boto3 (S3 mode), measured on the same
 * machine in the same run, as ratios (ours / reference).  It is a program
 * that prints figures, not a test: nothing here asserts a speed.
 *
 *   docstore_bench [--quick] [--json] [--dir DIR]
 *   docstore_bench --s3 [--quick] [--json] [--size-mib N]
 *                  [--reference bench/s3_reference.py] [--python PATH]
 *
 * Local mode: envelope seal/open throughput for 4 KiB, 1 MiB and 64 MiB
 * documents (RSA-2048 keyring), RSA-OAEP wrap/unwrap rate (seal/open of an
 * empty document), store+retrieve of 4 KiB envelopes through the service on
 * the local provider; beside `openssl speed -evp aes-256-gcm` and
 * `openssl speed rsa2048`.
 *
 * S3 mode (the S3_* / AWS_* environment, as the factory reads it): store +
 * retrieve of 4 KiB envelopes (ops/s, client CPU per op) and a large
 * upload/download (MB/s, peak RSS), beside bench/s3_reference.py doing the
 * same with boto3 against the same server.
 *
 * Every figure is time-bounded (about 1.5 s each, 0.25 s with --quick).
 * MB means 10^6 bytes, as in `openssl speed`.  Uses the public API only.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <docstore/docstore.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define BENCH_SLOTS 64 /* documents cycled through by store+retrieve */
#define BENCH_MAX_ROWS 32

/* ------------------------------------------------------------ options */

typedef struct bench_opts {
  int quick;
  int json;
  int s3;
  double seconds;        /* per figure */
  const char *dir;       /* parent of the local provider's temp root */
  size_t large_mib;      /* S3 upload/download size */
  const char *reference; /* bench/s3_reference.py */
  const char *python;    /* interpreter for the reference */
  const char *openssl;   /* openssl binary */
} bench_opts;

/* ---------------------------------------------------------- results */

/*
 * One printed row.  `value` is the figure in `unit`; `ref` the reference
 * program's figure in the same unit (0: not available); `model` a second
 * reference (openssl AES + RSA cost for one envelope), 0 when none.
 */
typedef struct bench_row {
  const char *section;
  char label[64];
  const char *unit;
  double value;
  double ops_per_s;
  double cpu_us_per_op; /* 0: not measured */
  double peak_rss_mib;  /* 0: not measured */
  size_t iterations;
  size_t bytes_per_op;   /* 0: not a throughput row */
  int per_cpu_second;    /* 1: rates per CPU-second, else per wall second */
  double wall_ops_per_s; /* ops per wall-clock second, always */
  double ref;
  double ref_cpu_us_per_op;
  double ref_peak_rss_mib;
  const char *ref_name;
  double model;
} bench_row;

typedef struct bench_report {
  bench_row rows[BENCH_MAX_ROWS];
  size_t nrows;
  char openssl_version[128];
  double ossl_aes_4k;     /* bytes/s, AES-256-GCM on 4096-byte blocks */
  double ossl_aes_1m;     /* bytes/s, on 1 MiB blocks */
  double ossl_rsa_sign;   /* RSA-2048 private ops/s */
  double ossl_rsa_verify; /* RSA-2048 public ops/s */
  double keygen_ms;
  char loadavg[16]; /* 1-minute load average when the run started */
} bench_report;

static bench_row *report_add(bench_report *r, const char *section,
                             const char *unit) {
  bench_row *row;

  if (r->nrows == BENCH_MAX_ROWS) {
    fprintf(stderr, "docstore_bench: too many rows\n");
    exit(1);
  }
  row = &r->rows[r->nrows++];
  memset(row, 0, sizeof(*row));
  row->section = section;
  row->unit = unit;
  return row;
}

/* ------------------------------------------------------------ timing */

static double now_s(void) {
  struct timespec ts;

  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0.0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (all threads, user + system). */
static double cpu_s(void) {
  struct timespec ts;
  struct rusage ru;

  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0.0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef int (*bench_op_fn)(void *ctx, size_t iteration);

typedef struct bench_timing {
  size_t iterations;
  double wall_s;
  double cpu_s;
} bench_timing;

/* Call fn until `seconds` have passed and at least min_iters calls ran. */
static int bench_run(bench_timing *out, bench_op_fn fn, void *ctx,
                     double seconds, size_t min_iters) {
  double t0 = now_s(), c0 = cpu_s();
  size_t i = 0;
  int rc;

  do {
    if ((rc = fn(ctx, i)) < 0)
      return rc;
    i++;
  } while (i < min_iters || now_s() - t0 < seconds);
  out->iterations = i;
  out->wall_s = now_s() - t0;
  out->cpu_s = cpu_s() - c0;
  if (out->wall_s <= 0.0)
    out->wall_s = 1e-9;
  if (out->cpu_s <= 0.0)
    out->cpu_s = 1e-9;
  return 0;
}

/* What is being measured, on a terminal only (stderr). */
static void progress(const char *what) {
  if (isatty(STDERR_FILENO))
    fprintf(stderr, "docstore_bench: measuring %s...\n", what);
}

static int fail(const char *what, int rc, const char *detail) {
  fprintf(stderr, "docstore_bench: %s failed: %s (%s)%s%s\n", what,
          docstore_strerror(rc), docstore_error_name(rc),
          detail && *detail ? ": " : "", detail ? detail : "");
  return rc < 0 ? rc : DOCSTORE_EIO;
}

/* Deterministic filler (xorshift64): documents need not be secret here. */
static void fill(uint8_t *buf, size_t len, uint64_t seed) {
  uint64_t x = seed | 1;
  size_t i;

  for (i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[i] = (uint8_t)x;
  }
}

static const char *size_name(size_t size, char *buf, size_t len) {
  if (size >= MIB && size % MIB == 0)
    snprintf(buf, len, "%zu MiB", size / MIB);
  else if (size >= KIB && size % KIB == 0)
    snprintf(buf, len, "%zu KiB", size / KIB);
  else
    snprintf(buf, len, "%zu B", size);
  return buf;
}

/* ------------------------------------------------------- peak memory */

/* Reset the kernel's peak-RSS mark (Linux >= 4.0); 0 on success. */
static int peak_rss_reset(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = write(fd, "5", 1);
  close(fd);
  return n == 1 ? 0 : -1;
}

/* Peak RSS in MiB since the last reset (VmHWM), else since start. */
static double peak_rss_mib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  struct rusage ru;

  if (f) {
    while (fgets(line, sizeof(line), f))
      if (strncmp(line, "VmHWM:", 6) == 0) {
        kib = strtol(line + 6, NULL, 10);
        break;
      }
    fclose(f);
  }
  if (kib < 0 && getrusage(RUSAGE_SELF, &ru) == 0)
    kib = ru.ru_maxrss;
  return kib < 0 ? 0.0 : (double)kib / 1024.0;
}

/* ------------------------------------------------- openssl reference */

/* Run a command and return its whole stdout (malloc'd), NULL on failure. */
static char *run_capture(const char *cmd) {
  FILE *p = popen(cmd, "r");
  char *buf = NULL, *tmp;
  size_t len = 0, cap = 0, n;
  int status;

  if (!p)
    return NULL;
  for (;;) {
    if (cap - len < 4096) {
      cap = cap ? cap * 2 : 8192;
      if (!(tmp = realloc(buf, cap))) {
        free(buf);
        pclose(p);
        return NULL;
      }
      buf = tmp;
    }
    n = fread(buf + len, 1, cap - len - 1, p);
    if (n == 0)
      break;
    len += n;
  }
  buf[len] = '\0';
  status = pclose(p);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* `openssl speed -mr` AES line: "+F:<n>:AES-256-GCM:<bytes per second>". */
static double parse_ossl_aes(const char *out) {
  const char *line = out;

  while (line && *line) {
    if (strncmp(line, "+F:", 3) == 0) {
      const char *end = strchr(line, '\n');
      const char *colon = NULL, *q;
      for (q = line; *q && q != end; q++)
        if (*q == ':')
          colon = q;
      if (colon)
        return strtod(colon + 1, NULL);
    }
    line = strchr(line, '\n');
    if (line)
      line++;
  }
  return 0.0;
}

/* RSA line: "+F2:<n>:<bits>:<sign/s>:<verify/s>". */
static void parse_ossl_rsa(const char *out, double *sign, double *verify) {
  const char *line = strstr(out, "+F2:");
  char *end;
  int field;

  *sign = *verify = 0.0;
  if (!line)
    return;
  for (field = 0; field < 3; field++) {
    line = strchr(line, ':');
    if (!line)
      return;
    line++;
  }
  *sign = strtod(line, &end);
  if (*end == ':')
    *verify = strtod(end + 1, NULL);
}

static void openssl_reference(bench_report *r, const bench_opts *o) {
  char cmd[512];
  char *out;
  int secs = o->quick ? 1 : 2;
  size_t n;

  snprintf(cmd, sizeof(cmd), "%s version 2>/dev/null", o->openssl);
  if ((out = run_capture(cmd)) != NULL) {
    n = strcspn(out, "\n");
    if (n >= sizeof(r->openssl_version))
      n = sizeof(r->openssl_version) - 1;
    memcpy(r->openssl_version, out, n);
    r->openssl_version[n] = '\0';
    free(out);
  }
  progress("openssl speed -evp aes-256-gcm");
  snprintf(cmd, sizeof(cmd),
           "%s speed -mr -seconds %d -bytes 4096 -evp aes-256-gcm 2>/dev/null",
           o->openssl, secs);
  if ((out = run_capture(cmd)) != NULL) {
    r->ossl_aes_4k = parse_ossl_aes(out);
    free(out);
  }
  snprintf(cmd, sizeof(cmd),
           "%s speed -mr -seconds %d -bytes 1048576 -evp aes-256-gcm "
           "2>/dev/null",
           o->openssl, secs);
  if ((out = run_capture(cmd)) != NULL) {
    r->ossl_aes_1m = parse_ossl_aes(out);
    free(out);
  }
  progress("openssl speed rsa2048");
  snprintf(cmd, sizeof(cmd), "%s speed -mr -seconds %d rsa2048 2>/dev/null",
           o->openssl, secs);
  if ((out = run_capture(cmd)) != NULL) {
    parse_ossl_rsa(out, &r->ossl_rsa_sign, &r->ossl_rsa_verify);
    free(out);
  }
}

/* Fill in the openssl columns of the local-mode rows. */
static void openssl_attach(bench_report *r) {
  size_t i;

  for (i = 0; i < r->nrows; i++) {
    bench_row *row = &r->rows[i];
    if (strcmp(row->section, "envelope") == 0) {
      double bytes = (double)row->bytes_per_op;
      double aes = bytes <= 4096.0 ? r->ossl_aes_4k : r->ossl_aes_1m;
      double rsa = strncmp(row->label, "decrypt", 7) == 0 ? r->ossl_rsa_sign
                                                          : r->ossl_rsa_verify;
      row->ref_name = "openssl AES-256-GCM";
      row->ref = aes / 1e6;
      /* model: one AES pass plus one RSA operation per envelope */
      if (aes > 0 && rsa > 0)
        row->model = bytes / (bytes / aes + 1.0 / rsa) / 1e6;
    } else if (strcmp(row->section, "rsa") == 0) {
      int unwrap = strncmp(row->label, "unwrap", 6) == 0;
      row->ref_name =
          unwrap ? "openssl rsa2048 sign/s" : "openssl rsa2048 verify/s";
      row->ref = unwrap ? r->ossl_rsa_sign : r->ossl_rsa_verify;
    }
  }
}

/* ------------------------------------------------------ local mode */

typedef struct envelope_ctx {
  const docstore_keyring *kr;
  const uint8_t *plaintext;
  size_t len;
  const char *envelope;
  size_t envelope_len;
  docstore_doc_id doc;
} envelope_ctx;

static int op_seal(void *vctx, size_t i) {
  envelope_ctx *c = vctx;
  char *env = NULL;
  size_t env_len = 0;
  int rc;

  (void)i;
  rc = docstore_envelope_seal(&env, &env_len, c->kr, c->plaintext, c->len,
                              &c->doc);
  if (rc < 0)
    return fail("docstore_envelope_seal", rc, docstore_last_errmsg());
  docstore_free(env);
  return 0;
}

static int op_open(void *vctx, size_t i) {
  envelope_ctx *c = vctx;
  uint8_t *pt = NULL;
  size_t pt_len = 0;
  int rc;

  (void)i;
  rc = docstore_envelope_open(&pt, &pt_len, c->kr, c->envelope, c->envelope_len,
                              &c->doc);
  if (rc < 0)
    return fail("docstore_envelope_open", rc, docstore_last_errmsg());
  if (pt_len != c->len || (pt_len && memcmp(pt, c->plaintext, pt_len) != 0)) {
    docstore_free(pt);
    return fail("docstore_envelope_open", DOCSTORE_EINTEGRITY,
                "decrypted bytes differ from the sealed ones");
  }
  docstore_free(pt);
  return 0;
}

/*
 * Add a row from a timing: ops/s, and MB/s when bytes_per_op > 0.
 * Pure computation (the "envelope" and "rsa" sections) is counted per
 * CPU-second of this process, as `openssl speed` counts its figures, so
 * that a busy machine does not skew the ratios; whatever waits for I/O or
 * a server is counted per wall-clock second.
 */
static bench_row *add_timed_row(bench_report *r, const char *section,
                                const bench_timing *t, size_t bytes_per_op,
                                const char *label) {
  bench_row *row = report_add(r, section, bytes_per_op ? "MB/s" : "ops/s");
  int per_cpu = strcmp(section, "envelope") == 0 || strcmp(section, "rsa") == 0;

  snprintf(row->label, sizeof(row->label), "%s", label);
  row->ops_per_s = (double)t->iterations / (per_cpu ? t->cpu_s : t->wall_s);
  row->wall_ops_per_s = (double)t->iterations / t->wall_s;
  row->value = bytes_per_op ? (double)bytes_per_op * row->ops_per_s / 1e6
                            : row->ops_per_s;
  row->cpu_us_per_op = t->cpu_s * 1e6 / (double)t->iterations;
  row->iterations = t->iterations;
  row->bytes_per_op = bytes_per_op;
  row->per_cpu_second = per_cpu;
  return row;
}

/*
 * Seal and open documents of one size; adds two rows.  size 0 measures the
 * RSA key wrap (section "rsa", rows in ops/s), else the envelope
 * throughput (section "envelope", rows in MB/s).
 */
static int bench_envelope_size(bench_report *r, const bench_opts *o,
                               const docstore_keyring *kr, size_t size) {
  const int rsa = size == 0;
  const char *section = rsa ? "rsa" : "envelope";
  envelope_ctx c;
  bench_timing t;
  uint8_t *pt = NULL;
  char *env = NULL;
  char name[32], label[64];
  size_t env_len = 0;
  size_t min_iters = size >= 16 * MIB && !o->quick ? 3 : 1;
  int rc;

  memset(&c, 0, sizeof(c));
  c.kr = kr;
  c.doc.file_id = "bench";
  c.doc.user_id = "bench";
  c.len = size;
  /* size 0: a 1-byte allocation keeps the pointer valid */
  if (!(pt = malloc(size ? size : 1)))
    return fail("malloc", DOCSTORE_ENOMEM, NULL);
  fill(pt, size, size);
  c.plaintext = pt;
  size_name(size, name, sizeof(name));

  snprintf(label, sizeof(label), rsa ? "wrap (seal)" : "encrypt %s", name);
  progress(label);
  if ((rc = bench_run(&t, op_seal, &c, o->seconds, min_iters)) < 0)
    goto done;
  add_timed_row(r, section, &t, size, label);

  /* one envelope to open repeatedly */
  rc = docstore_envelope_seal(&env, &env_len, kr, pt, size, &c.doc);
  if (rc < 0) {
    rc = fail("docstore_envelope_seal", rc, docstore_last_errmsg());
    goto done;
  }
  c.envelope = env;
  c.envelope_len = env_len;
  snprintf(label, sizeof(label), rsa ? "unwrap (open)" : "decrypt %s", name);
  progress(label);
  if ((rc = bench_run(&t, op_open, &c, o->seconds, min_iters)) < 0)
    goto done;
  add_timed_row(r, section, &t, size, label);

done:
  docstore_free(env);
  free(pt);
  return rc;
}

/*
 * store_encrypted + retrieve_encrypted of 4 KiB envelopes, cycling over
 * BENCH_SLOTS documents ("bench<slot>" of user "bench"), each sealed
 * beforehand for its own identity (the service refuses an envelope bound
 * to another document).
 */
typedef struct store_ctx {
  docstore_service *svc;
  char *envelopes[BENCH_SLOTS];
  size_t envelope_lens[BENCH_SLOTS];
  char *paths[BENCH_SLOTS];
} store_ctx;

#define BENCH_USER "bench"

/* Seal one 4 KiB document per slot under kr; the service is set later. */
static int store_ctx_init(store_ctx *c, const docstore_keyring *kr) {
  uint8_t pt[4096];
  char file_id[32];
  docstore_doc_id doc;
  size_t i;
  int rc;

  memset(c, 0, sizeof(*c));
  fill(pt, sizeof(pt), 4096);
  doc.file_id = file_id;
  doc.user_id = BENCH_USER;
  for (i = 0; i < BENCH_SLOTS; i++) {
    snprintf(file_id, sizeof(file_id), "bench%zu", i);
    rc = docstore_envelope_seal(&c->envelopes[i], &c->envelope_lens[i], kr, pt,
                                sizeof(pt), &doc);
    if (rc < 0)
      return fail("docstore_envelope_seal", rc, docstore_last_errmsg());
  }
  return 0;
}

static int op_store_retrieve(void *vctx, size_t i) {
  store_ctx *c = vctx;
  size_t slot = i % BENCH_SLOTS;
  char file_id[32];
  char *path = NULL, *back = NULL;
  size_t back_len = 0;
  int rc;

  snprintf(file_id, sizeof(file_id), "bench%zu", slot);
  rc = docstore_service_store_encrypted(c->svc, &path, file_id, "doc.bin",
                                        c->envelopes[slot],
                                        c->envelope_lens[slot], BENCH_USER);
  if (rc < 0)
    return fail("docstore_service_store_encrypted", rc,
                docstore_service_errmsg(c->svc));
  rc = docstore_service_retrieve_encrypted(c->svc, &back, &back_len, path);
  if (rc < 0) {
    docstore_free(path);
    return fail("docstore_service_retrieve_encrypted", rc,
                docstore_service_errmsg(c->svc));
  }
  if (back_len != c->envelope_lens[slot] ||
      memcmp(back, c->envelopes[slot], back_len) != 0) {
    docstore_free(path);
    docstore_free(back);
    return fail("docstore_service_retrieve_encrypted", DOCSTORE_EINTEGRITY,
                "read back different bytes");
  }
  docstore_free(back);
  docstore_free(c->paths[slot]);
  c->paths[slot] = path;
  return 0;
}

/* Delete what op_store_retrieve left and free the envelopes; returns the
 * first failure. */
static int store_ctx_cleanup(store_ctx *c) {
  int rc = 0, r;
  size_t i;

  for (i = 0; i < BENCH_SLOTS; i++) {
    if (c->paths[i] && c->svc &&
        (r = docstore_service_delete(c->svc, c->paths[i])) < 0 && rc == 0)
      rc = fail("docstore_service_delete", r, docstore_service_errmsg(c->svc));
    docstore_free(c->paths[i]);
    docstore_free(c->envelopes[i]);
    c->paths[i] = c->envelopes[i] = NULL;
  }
  return rc;
}

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  if (remove(path) != 0)
    fprintf(stderr, "docstore_bench: cannot remove %s: %s\n", path,
            strerror(errno));
  return 0;
}

static int bench_local_store(bench_report *r, const bench_opts *o,
                             docstore_keyring *kr, int fsync_on) {
  docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
  docstore_provider *prov = NULL;
  store_ctx c;
  bench_timing t;
  char root[PATH_MAX], errbuf[256];
  int rc;

  snprintf(root, sizeof(root), "%s/docstore-bench-XXXXXX", o->dir);
  if (!mkdtemp(root))
    return fail("mkdtemp", DOCSTORE_EIO, strerror(errno));
  if ((rc = store_ctx_init(&c, kr)) < 0)
    goto done;
  lo.root = root;
  lo.fsync = fsync_on;
  if ((rc = docstore_local_provider_new(&prov, &lo, errbuf, sizeof(errbuf))) <
      0) {
    rc = fail("docstore_local_provider_new", rc, errbuf);
    goto done;
  }
  /* the service takes the provider; the keyring stays ours (NULL here) */
  rc = docstore_service_new(&c.svc, prov, NULL, NULL, errbuf, sizeof(errbuf));
  prov = NULL;
  if (rc < 0) {
    rc = fail("docstore_service_new", rc, errbuf);
    goto done;
  }
  progress(fsync_on ? "local store+retrieve (fsync on)"
                    : "local store+retrieve (fsync off)");
  if ((rc = bench_run(&t, op_store_retrieve, &c, o->seconds, 1)) < 0)
    goto done;
  add_timed_row(r, "local", &t, 0,
                fsync_on ? "store+retrieve 4 KiB, fsync on"
                         : "store+retrieve 4 KiB, fsync off");

done:
  if (store_ctx_cleanup(&c) < 0 && rc == 0)
    rc = DOCSTORE_EIO;
  docstore_service_free(c.svc);
  nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return rc;
}

static int make_keyring(bench_report *r, docstore_keyring **out) {
  char *pub = NULL, *priv = NULL;
  char errbuf[256];
  docstore_keyring *kr = NULL;
  double t0 = now_s();
  int rc;

  *out = NULL;
  if ((rc = docstore_keygen(&pub, &priv, 2048, NULL)) < 0)
    return fail("docstore_keygen", rc, docstore_last_errmsg());
  r->keygen_ms = (now_s() - t0) * 1e3;
  if ((rc = docstore_keyring_new(&kr, errbuf, sizeof(errbuf))) < 0) {
    rc = fail("docstore_keyring_new", rc, errbuf);
    goto done;
  }
  if ((rc = docstore_keyring_add_private_pem(kr, NULL, priv, strlen(priv),
                                             NULL)) < 0) {
    rc = fail("docstore_keyring_add_private_pem", rc,
              docstore_keyring_errmsg(kr));
    goto done;
  }
  *out = kr;
  kr = NULL;
done:
  docstore_keyring_free(kr);
  docstore_free(pub);
  docstore_free(priv);
  return rc;
}

static int bench_local(bench_report *r, const bench_opts *o) {
  static const size_t sizes[] = {4 * KIB, 1 * MIB, 64 * MIB};
  docstore_keyring *kr = NULL;
  size_t i;
  int rc;

  progress("RSA-2048 key generation");
  if ((rc = make_keyring(r, &kr)) < 0)
    return rc;
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    if ((rc = bench_envelope_size(r, o, kr, sizes[i])) < 0)
      goto done;
  if ((rc = bench_envelope_size(r, o, kr, 0)) < 0)
    goto done;
  if ((rc = bench_local_store(r, o, kr, 1)) < 0)
    goto done;
  if ((rc = bench_local_store(r, o, kr, 0)) < 0)
    goto done;
  openssl_reference(r, o);
  openssl_attach(r);
done:
  docstore_keyring_free(kr);
  return rc;
}

/* ---------------------------------------------------------- S3 mode */

/* Number after "key": in a flat JSON object; 0 when absent or null. */
static double json_number(const char *json, const char *key) {
  char pat[80];
  const char *p;

  snprintf(pat, sizeof(pat), "\"%s\":", key);
  if (!(p = strstr(json, pat)))
    return 0.0;
  p += strlen(pat);
  while (*p == ' ')
    p++;
  return strtod(p, NULL);
}

static const char *find_reference(const bench_opts *o, char *buf, size_t len) {
  static const char *const rel[] = {"../bench/s3_reference.py",
                                    "../../bench/s3_reference.py",
                                    "../share/docstore/s3_reference.py"};
  const char *env = getenv("DOCSTORE_BENCH_S3_REFERENCE");
  char exe[PATH_MAX];
  ssize_t n;
  char *slash;
  size_t i;

  if (o->reference)
    return o->reference;
  if (env && *env)
    return env;
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) != NULL)
      *slash = '\0';
    for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
      int n2 = snprintf(buf, len, "%s/%s", exe, rel[i]);
      if (n2 > 0 && (size_t)n2 < len && access(buf, R_OK) == 0)
        return buf;
    }
  }
  if (access("bench/s3_reference.py", R_OK) == 0)
    return "bench/s3_reference.py";
  return NULL;
}

/* One large object moved by the raw provider operations. */
typedef struct transfer_ctx {
  docstore_provider *prov;
  const char *key;
  const uint8_t *data;
  size_t len;
  uint8_t *back; /* what the download got (docstore_free()) */
  size_t back_len;
} transfer_ctx;

static int op_upload(void *vctx, size_t i) {
  transfer_ctx *x = vctx;
  int rc = docstore_provider_put(x->prov, x->key, x->data, x->len);

  (void)i;
  return rc < 0 ? fail("docstore_provider_put", rc,
                       docstore_provider_errmsg(x->prov))
                : 0;
}

static int op_download(void *vctx, size_t i) {
  transfer_ctx *x = vctx;
  int rc;

  (void)i;
  docstore_free(x->back);
  x->back = NULL;
  rc = docstore_provider_get(x->prov, &x->back, &x->back_len, x->key);
  return rc < 0 ? fail("docstore_provider_get", rc,
                       docstore_provider_errmsg(x->prov))
                : 0;
}

/* One timed transfer: a row with MB/s, CPU time and peak RSS. */
static int bench_transfer(bench_report *r, bench_row **out, bench_op_fn fn,
                          transfer_ctx *x, const char *label) {
  bench_timing t;
  int rc;

  progress(label);
  peak_rss_reset();
  if ((rc = bench_run(&t, fn, x, 0.0, 1)) < 0)
    return rc;
  *out = add_timed_row(r, "s3", &t, x->len, label);
  (*out)->peak_rss_mib = peak_rss_mib();
  return 0;
}

static int bench_s3(bench_report *r, const bench_opts *o) {
  docstore_config *cfg = NULL;
  docstore_service *svc = NULL;
  docstore_keyring *kr = NULL;
  docstore_provider *prov;
  store_ctx c;
  bench_timing t;
  bench_row *row, *up, *down;
  char errbuf[512], key[128], cmd[PATH_MAX + 512], refbuf[PATH_MAX];
  char label[64];
  transfer_ctx xfer;
  uint8_t *big = NULL;
  size_t big_len = o->large_mib * MIB, ops_size;
  char *out = NULL;
  const char *ref;
  int rc;

  memset(&c, 0, sizeof(c));
  memset(&xfer, 0, sizeof(xfer));
  if ((rc = docstore_config_new(&cfg)) < 0)
    return fail("docstore_config_new", rc, NULL);
  if ((rc = docstore_config_load_env(cfg)) < 0 ||
      (rc = docstore_config_set(cfg, "STORAGE_TYPE", "s3")) < 0 ||
      (rc = docstore_config_validate(cfg)) < 0) {
    rc = fail("S3 configuration", rc, docstore_config_errmsg(cfg));
    goto done;
  }
  if ((rc = docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf))) <
      0) {
    rc = fail("docstore_service_from_config", rc, errbuf);
    goto done;
  }
  if ((rc = make_keyring(r, &kr)) < 0 || (rc = store_ctx_init(&c, kr)) < 0)
    goto done;

  /* 4 KiB envelopes: store + retrieve through the facade */
  c.svc = svc;
  ops_size = c.envelope_lens[0]; /* boto3 moves objects of this size */
  progress("S3 store+retrieve of 4 KiB envelopes");
  if ((rc = bench_run(&t, op_store_retrieve, &c, o->seconds, 1)) < 0)
    goto done;
  row = add_timed_row(r, "s3", &t, 0, "store+retrieve 4 KiB envelope");
  if ((rc = store_ctx_cleanup(&c)) < 0)
    goto done;

  /* large object: raw provider put/get (multipart above the threshold) */
  prov = docstore_service_provider(svc);
  if (!(big = malloc(big_len))) {
    rc = fail("malloc", DOCSTORE_ENOMEM, NULL);
    goto done;
  }
  fill(big, big_len, big_len);
  snprintf(key, sizeof(key), "bench/docstore-%ld/large.bin", (long)getpid());
  xfer.prov = prov;
  xfer.key = key;
  xfer.data = big;
  xfer.len = big_len;
  snprintf(label, sizeof(label), "upload %zu MiB", o->large_mib);
  if ((rc = bench_transfer(r, &up, op_upload, &xfer, label)) < 0)
    goto done;
  snprintf(label, sizeof(label), "download %zu MiB", o->large_mib);
  if ((rc = bench_transfer(r, &down, op_download, &xfer, label)) < 0)
    goto done;
  if (xfer.back_len != big_len || memcmp(xfer.back, big, big_len) != 0) {
    rc = fail("docstore_provider_get", DOCSTORE_EINTEGRITY,
              "downloaded bytes differ from the uploaded ones");
    goto done;
  }
  if ((rc = docstore_provider_delete(prov, key)) < 0) {
    rc = fail("docstore_provider_delete", rc, docstore_provider_errmsg(prov));
    goto done;
  }
  docstore_free(xfer.back);
  xfer.back = NULL;
  free(big);
  big = NULL;

  /* the same work with boto3, same server, same run */
  if (!(ref = find_reference(o, refbuf, sizeof(refbuf)))) {
    rc = fail("boto3 reference", DOCSTORE_ENOTFOUND,
              "bench/s3_reference.py not found; give --reference PATH");
    goto done;
  }
  progress("boto3 reference (bench/s3_reference.py)");
  snprintf(cmd, sizeof(cmd),
           "'%s' '%s' --seconds %.3f --ops-size %zu --size-mib %zu "
           "--prefix 'bench/boto3-%ld/'",
           o->python, ref, o->seconds, ops_size, o->large_mib, (long)getpid());
  if (!(out = run_capture(cmd))) {
    rc = fail("boto3 reference", DOCSTORE_EIO, cmd);
    goto done;
  }
  row->ref_name = up->ref_name = down->ref_name = "boto3";
  row->ref = json_number(out, "ops_per_s");
  row->ref_cpu_us_per_op = json_number(out, "ops_cpu_us_per_op");
  up->ref = json_number(out, "upload_mb_per_s");
  up->ref_cpu_us_per_op = json_number(out, "upload_cpu_us");
  up->ref_peak_rss_mib = json_number(out, "upload_peak_rss_mib");
  down->ref = json_number(out, "download_mb_per_s");
  down->ref_cpu_us_per_op = json_number(out, "download_cpu_us");
  down->ref_peak_rss_mib = json_number(out, "download_peak_rss_mib");
  if (row->ref <= 0 || up->ref <= 0 || down->ref <= 0) {
    rc = fail("boto3 reference", DOCSTORE_EFORMAT, out);
    goto done;
  }

done:
  if (store_ctx_cleanup(&c) < 0 && rc == 0)
    rc = DOCSTORE_ESERVER;
  free(out);
  docstore_free(xfer.back);
  free(big);
  docstore_keyring_free(kr);
  docstore_service_free(svc);
  docstore_config_free(cfg);
  return rc;
}

/* ------------------------------------------------------------ output */

static void fmt_num(char *buf, size_t len, double v) {
  if (v <= 0)
    snprintf(buf, len, "n/a");
  else if (v >= 100)
    snprintf(buf, len, "%.0f", v);
  else if (v >= 1)
    snprintf(buf, len, "%.1f", v);
  else
    snprintf(buf, len, "%.3f", v);
}

static void fmt_ratio(char *buf, size_t len, double a, double b) {
  if (a <= 0 || b <= 0)
    snprintf(buf, len, "n/a");
  else
    snprintf(buf, len, "%.2f", a / b);
}

static void print_json_num(const char *name, double v, int comma) {
  if (v > 0)
    printf("\"%s\": %.6g%s", name, v, comma ? ", " : "");
  else
    printf("\"%s\": null%s", name, comma ? ", " : "");
}

static void print_json(const bench_report *r, const bench_opts *o) {
  size_t i;

  printf("{\"version\": \"%s\", \"mode\": \"%s\", \"quick\": %s, "
         "\"loadavg\": \"%s\", ",
         docstore_version(), o->s3 ? "s3" : "local",
         o->quick ? "true" : "false", r->loadavg);
  if (!o->s3) {
    printf("\"openssl\": {\"version\": \"%s\", ", r->openssl_version);
    print_json_num("aes_256_gcm_4096_mb_per_s", r->ossl_aes_4k / 1e6, 1);
    print_json_num("aes_256_gcm_1048576_mb_per_s", r->ossl_aes_1m / 1e6, 1);
    print_json_num("rsa2048_sign_per_s", r->ossl_rsa_sign, 1);
    print_json_num("rsa2048_verify_per_s", r->ossl_rsa_verify, 0);
    printf("}, ");
  }
  print_json_num("keygen_ms", r->keygen_ms, 1);
  printf("\"rows\": [");
  for (i = 0; i < r->nrows; i++) {
    const bench_row *row = &r->rows[i];
    printf("%s\n  {\"section\": \"%s\", \"label\": \"%s\", \"unit\": \"%s\", "
           "\"iterations\": %zu, ",
           i ? "," : "", row->section, row->label, row->unit, row->iterations);
    print_json_num("value", row->value, 1);
    print_json_num("ops_per_s", row->ops_per_s, 1);
    print_json_num("wall_ops_per_s", row->wall_ops_per_s, 1);
    printf("\"per_cpu_second\": %s, ", row->per_cpu_second ? "true" : "false");
    print_json_num("cpu_us_per_op", row->cpu_us_per_op, 1);
    print_json_num("peak_rss_mib", row->peak_rss_mib, 1);
    printf("\"reference\": ");
    if (row->ref_name)
      printf("\"%s\", ", row->ref_name);
    else
      printf("null, ");
    print_json_num("reference_value", row->ref, 1);
    print_json_num("ratio", row->ref > 0 ? row->value / row->ref : 0, 1);
    print_json_num("reference_cpu_us_per_op", row->ref_cpu_us_per_op, 1);
    print_json_num("reference_peak_rss_mib", row->ref_peak_rss_mib, 1);
    print_json_num("model_value", row->model, 1);
    print_json_num("ratio_to_model",
                   row->model > 0 ? row->value / row->model : 0, 0);
    printf("}");
  }
  printf("\n]}\n");
}

static void print_header(const bench_report *r, const bench_opts *o) {
  char cpu[128] = "unknown CPU";
  char line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");

  if (f) {
    while (fgets(line, sizeof(line), f))
      if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
        snprintf(cpu, sizeof(cpu), "%s", strchr(line, ':') + 2);
        cpu[strcspn(cpu, "\n")] = '\0';
        break;
      }
    fclose(f);
  }
  printf("libdocstore %s benchmark (%s mode%s)\n", docstore_version(),
         o->s3 ? "S3" : "local", o->quick ? ", --quick" : "");
  printf("machine: %s, %ld CPUs, load average %s at the start\n", cpu,
         sysconf(_SC_NPROCESSORS_ONLN), r->loadavg);
  if (!o->s3)
    printf("openssl: %s\n",
           r->openssl_version[0] ? r->openssl_version : "not available");
  printf("each figure measured for ~%.2f s; MB = 10^6 bytes; ratio = "
         "ours / reference\n",
         o->seconds);
  if (!o->s3)
    printf("encryption figures per CPU-second of the process (as openssl "
           "speed counts); storage figures per wall-clock second\n");
  printf("RSA-2048 key generation: %.0f ms\n", r->keygen_ms);
}

static void print_table(const bench_report *r, const bench_opts *o) {
  char v[32], ref[32], ratio[32], model[32], mratio[32], cpu[32], rcpu[32],
      cratio[32], rss[32], rrss[32];
  size_t i;

  print_header(r, o);
  for (i = 0; i < r->nrows; i++) {
    const bench_row *row = &r->rows[i];
    const char *prev = i ? r->rows[i - 1].section : "";
    fmt_num(v, sizeof(v), row->value);
    fmt_num(ref, sizeof(ref), row->ref);
    fmt_ratio(ratio, sizeof(ratio), row->value, row->ref);

    if (strcmp(prev, row->section) != 0) {
      printf("\n");
      if (strcmp(row->section, "envelope") == 0) {
        printf("Envelope encryption (AES-256-GCM + RSA-2048-OAEP, JSON "
               "envelope)\n");
        printf("  %-18s %10s %10s  %12s %7s  %12s %7s\n", "operation", "MB/s",
               "ops/s", "openssl GCM", "ratio", "GCM+RSA", "ratio");
      } else if (strcmp(row->section, "rsa") == 0) {
        printf("RSA-2048 OAEP key wrap (seal/open of an empty document)\n");
        printf("  %-18s %10s  %-24s %10s %7s\n", "operation", "ops/s",
               "openssl rsa2048", "ops/s", "ratio");
      } else if (strcmp(row->section, "local") == 0) {
        printf("Local provider (service store_encrypted + "
               "retrieve_encrypted)\n");
        printf("  %-34s %10s %12s %12s\n", "operation", "ops/s", "ms/op",
               "CPU us/op");
      } else {
        printf(
            "S3 (same server; reference: boto3 via bench/s3_reference.py)\n");
        printf("  %-38s %9s %9s %6s %10s %10s %6s %8s %8s %6s\n", "operation",
               "ours", "boto3", "ratio", "CPU us", "boto3 CPU", "ratio",
               "RSS MiB", "boto3", "ratio");
      }
    }
    if (strcmp(row->section, "envelope") == 0) {
      char ops[32];
      fmt_num(ops, sizeof(ops), row->ops_per_s);
      fmt_num(model, sizeof(model), row->model);
      fmt_ratio(mratio, sizeof(mratio), row->value, row->model);
      printf("  %-18s %10s %10s  %12s %7s  %12s %7s\n", row->label, v, ops, ref,
             ratio, model, mratio);
    } else if (strcmp(row->section, "rsa") == 0) {
      printf("  %-18s %10s  %-24s %10s %7s\n", row->label, v,
             strncmp(row->label, "unwrap", 6) == 0 ? "sign (private key op)"
                                                   : "verify (public key op)",
             ref, ratio);
    } else if (strcmp(row->section, "local") == 0) {
      char ms[32];
      fmt_num(ms, sizeof(ms), row->ops_per_s > 0 ? 1e3 / row->ops_per_s : 0);
      fmt_num(cpu, sizeof(cpu), row->cpu_us_per_op);
      printf("  %-34s %10s %12s %12s\n", row->label, v, ms, cpu);
    } else {
      char label[sizeof(row->label) + 16];
      snprintf(label, sizeof(label), "%s (%s)", row->label, row->unit);
      fmt_num(cpu, sizeof(cpu), row->cpu_us_per_op);
      fmt_num(rcpu, sizeof(rcpu), row->ref_cpu_us_per_op);
      fmt_ratio(cratio, sizeof(cratio), row->cpu_us_per_op,
                row->ref_cpu_us_per_op);
      fmt_num(rss, sizeof(rss), row->peak_rss_mib);
      fmt_num(rrss, sizeof(rrss), row->ref_peak_rss_mib);
      if (row->peak_rss_mib > 0)
        fmt_ratio(mratio, sizeof(mratio), row->peak_rss_mib,
                  row->ref_peak_rss_mib);
      else
        snprintf(mratio, sizeof(mratio), "-");
      printf("  %-38s %9s %9s %6s %10s %10s %6s %8s %8s %6s\n", label, v, ref,
             ratio, cpu, rcpu, cratio, row->peak_rss_mib > 0 ? rss : "-",
             row->peak_rss_mib > 0 ? rrss : "-", mratio);
    }
  }
  printf("\n");
  if (!o->s3)
    printf("GCM+RSA: what openssl's own figures predict for one envelope "
           "(one AES-GCM pass + one RSA operation); the rest is JSON, base64 "
           "and allocation.\n");
  else
    printf("CPU us: client CPU time (user+sys) per operation; RSS: peak "
           "resident memory during the transfer; for speed a ratio > 1 is "
           "better, for CPU and RSS < 1 is better.\n");
}

/* -------------------------------------------------------------- main */

/* The 1-minute load average: figures taken on a busy machine are low. */
/* -------------------------------------------------------- stream mode */

/* Streaming seal and open of a large document through the sealer/opener
 * into reused 1 MiB caller buffers (envelope v2, 64 KiB segments, no
 * compression), one core: the plaintext 1 MiB block is fed again and
 * again, each sealed chunk goes straight into the opener, and the time of
 * each side's CPU time is summed separately (per CPU-second, as `openssl
 * speed` counts).  Beside `openssl speed -evp aes-256-gcm` on 16 KiB
 * blocks, run by this program in the same run. */
typedef struct stream_fig {
  double seal_s, open_s;           /* CPU seconds */
  double seal_wall_s, open_wall_s; /* wall-clock seconds */
  uint64_t bytes;
} stream_fig;

static int stream_pass(stream_fig *f, docstore_keyring *kr, size_t total) {
  docstore_sealer *s = NULL;
  docstore_opener *op = NULL;
  uint8_t *pt = malloc(MIB), *ct = malloc(MIB), *back = malloc(MIB);
  size_t fed = 0, got, used, ct_len, ct_off;
  uint64_t opened = 0;
  int rc = 0, mismatch = 0, done_seal = 0;
  double t, w;

  memset(f, 0, sizeof(*f));
  if (!pt || !ct || !back) {
    rc = fail("stream", DOCSTORE_ENOMEM, "out of memory");
    goto done;
  }
  fill(pt, MIB, 7);
  if ((rc = docstore_sealer_new(&s, kr, NULL)) < 0 ||
      (rc = docstore_opener_new(&op, kr, NULL)) < 0) {
    rc = fail("docstore_sealer_new/opener_new", rc, docstore_last_errmsg());
    goto done;
  }
  while (!done_seal) {
    /* Seal: fill ct (1 MiB) from the plaintext block. */
    t = cpu_s();
    w = now_s();
    if (fed < total) {
      size_t off = fed % MIB, n = MIB - off;
      if (n > total - fed)
        n = total - fed;
      rc = docstore_sealer_update(s, ct, MIB, &ct_len, pt + off, n, &used);
      fed += used;
    } else {
      rc = docstore_sealer_finish(s, ct, MIB, &ct_len);
      done_seal = rc == 0;
    }
    f->seal_s += cpu_s() - t;
    f->seal_wall_s += now_s() - w;
    if (rc < 0) {
      rc = fail("docstore_sealer_*", rc, docstore_sealer_errmsg(s));
      goto done;
    }
    /* Open all of ct into back (1 MiB, reused); once the sealer is done,
     * finish the opener too. */
    for (ct_off = 0;;) {
      int fin = ct_off >= ct_len;
      if (fin && !done_seal)
        break;
      t = cpu_s();
      w = now_s();
      if (!fin)
        rc = docstore_opener_update(op, back, MIB, &got, ct + ct_off,
                                    ct_len - ct_off, &used);
      else
        rc = docstore_opener_finish(op, back, MIB, &got);
      f->open_s += cpu_s() - t;
      f->open_wall_s += now_s() - w;
      if (rc < 0) {
        rc = fail("docstore_opener_*", rc, docstore_opener_errmsg(op));
        goto done;
      }
      if (!fin)
        ct_off += used;
      /* The plaintext is the block again and again: sample it (untimed). */
      for (size_t k = 0; k < got; k += 4093)
        if (back[k] != pt[(opened + k) % MIB])
          mismatch = 1;
      if (got && back[got - 1] != pt[(opened + got - 1) % MIB])
        mismatch = 1;
      opened += got;
      if (fin && rc == 0)
        break;
    }
  }
  if (mismatch || opened != total) {
    rc = fail("stream", DOCSTORE_EINTEGRITY,
              "the opened document differs from the sealed one");
    goto done;
  }
  f->bytes = total;
done:
  docstore_sealer_free(s);
  docstore_opener_free(op);
  free(pt);
  free(ct);
  free(back);
  return rc;
}

static int bench_stream(const bench_opts *o) {
  docstore_keyring *kr = NULL;
  bench_report *r = calloc(1, sizeof(*r));
  stream_fig f;
  char cmd[512], *out;
  double ossl = 0;
  size_t total = (o->large_mib ? o->large_mib : 1024) * MIB;
  int rc;

  if (!r)
    return fail("stream", DOCSTORE_ENOMEM, "out of memory");
  if ((rc = make_keyring(r, &kr)) < 0)
    goto done;
  progress("streaming seal and open");
  if ((rc = stream_pass(&f, kr, total)) < 0)
    goto done;
  progress("openssl speed -evp aes-256-gcm (16 KiB blocks)");
  snprintf(cmd, sizeof(cmd),
           "%s speed -mr -seconds %d -bytes 16384 -evp aes-256-gcm "
           "2>/dev/null",
           o->openssl, o->quick ? 1 : 3);
  if ((out = run_capture(cmd)) != NULL) {
    ossl = parse_ossl_aes(out);
    free(out);
  }
  double seal = (double)f.bytes / f.seal_s / 1e6;
  double open = (double)f.bytes / f.open_s / 1e6;
  printf("streaming envelope v2, %zu MiB through 1 MiB caller buffers, 64 KiB "
         "segments, one core (MB/s per CPU-second)\n",
         total / MIB);
  printf("  seal   %9.1f MB/s", seal);
  if (ossl > 0)
    printf("   ratio %.2f", seal / (ossl / 1e6));
  printf("   (wall clock %.1f MB/s)", (double)f.bytes / f.seal_wall_s / 1e6);
  printf("\n  open   %9.1f MB/s", open);
  if (ossl > 0)
    printf("   ratio %.2f", open / (ossl / 1e6));
  printf("   (wall clock %.1f MB/s)", (double)f.bytes / f.open_wall_s / 1e6);
  printf("\n  openssl speed -evp aes-256-gcm, 16 KiB blocks: ");
  if (ossl > 0)
    printf("%.1f MB/s\n", ossl / 1e6);
  else
    printf("not available\n");
done:
  docstore_keyring_free(kr);
  free(r);
  return rc;
}

static void read_loadavg(char *buf, size_t len) {
  FILE *f = fopen("/proc/loadavg", "r");

  snprintf(buf, len, "?");
  if (f) {
    if (fscanf(f, "%15s", buf) != 1)
      snprintf(buf, len, "?");
    fclose(f);
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: docstore_bench [--quick] [--json] [--dir DIR]\n"
          "       docstore_bench --stream [--quick] [--size-mib N]\n"
          "       docstore_bench --s3 [--quick] [--json] [--size-mib N]\n"
          "                      [--reference PATH] [--python PATH]\n"
          "  --quick       short measurements (CI smoke run)\n"
          "  --json        machine-readable output on stdout\n"
          "  --dir DIR     where the local provider's temporary root goes "
          "[$TMPDIR or /tmp]\n"
          "  --s3          S3 mode: uses STORAGE_TYPE=s3 with the S3_* "
          "environment\n"
          "  --stream      streaming seal/open of one large document beside "
          "openssl speed\n"
          "  --size-mib N  S3 upload/download size [256; 32 with --quick];\n"
          "                --stream: document size [1024; 64 with --quick]\n"
          "  --reference   boto3 reference script [bench/s3_reference.py]\n"
          "  --python      interpreter for it [/usr/bin/python3]\n"
          "environment: OPENSSL (openssl binary for the reference figures)\n");
}

int main(int argc, char **argv) {
  bench_opts o;
  static bench_report report;
  const char *tmp = getenv("TMPDIR");
  const char *ossl = getenv("OPENSSL");
  long size = -1;
  int i, rc, stream = 0;

  memset(&o, 0, sizeof(o));
  o.dir = tmp && *tmp ? tmp : "/tmp";
  o.python = "/usr/bin/python3";
  o.openssl = ossl && *ossl ? ossl : "openssl";
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      o.quick = 1;
    else if (strcmp(argv[i], "--json") == 0)
      o.json = 1;
    else if (strcmp(argv[i], "--s3") == 0)
      o.s3 = 1;
    else if (strcmp(argv[i], "--stream") == 0)
      stream = 1;
    else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      o.dir = argv[++i];
    else if (strcmp(argv[i], "--reference") == 0 && i + 1 < argc)
      o.reference = argv[++i];
    else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc)
      o.python = argv[++i];
    else if (strcmp(argv[i], "--size-mib") == 0 && i + 1 < argc) {
      char *end;
      size = strtol(argv[++i], &end, 10);
      if (*end || size < 1 || size > 4096) {
        fprintf(stderr, "docstore_bench: --size-mib takes 1 to 4096\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  o.seconds = o.quick ? 0.25 : 1.5;
  read_loadavg(report.loadavg, sizeof(report.loadavg));
  o.large_mib = size > 0 ? (size_t)size : (o.quick ? 32 : 256);
  if (stream) {
    o.large_mib = size > 0 ? (size_t)size : (o.quick ? 64 : 1024);
    return bench_stream(&o) < 0 ? 1 : 0;
  }

  rc = o.s3 ? bench_s3(&report, &o) : bench_local(&report, &o);
  if (rc < 0)
    return 1;
  if (o.json)
    print_json(&report, &o);
  else
    print_table(&report, &o);
  return fflush(stdout) == 0 ? 0 : 1;
}
