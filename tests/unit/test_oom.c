/*
 * Unit tests: out of memory.  Every allocation of library memory goes
 * through src/common/alloc.c, whose test hook (docstore__alloc_fail_hook)
 * makes the Nth allocation fail; cJSON's (and, with DOCSTORE_OOM_OPENSSL=1,
 * OpenSSL's) allocations are counted and failed the same way through their
 * own hooks, which this program may set (the library does not: HACKING.md).
 * For each public call below, after one warm-up run, N runs from 1 until
 * the call no longer reaches its Nth allocation, and each time:
 *  - the call returns 0 (it survived the failure; its result is checked)
 *    or a negative code: DOCSTORE_ENOMEM, or the code HACKING.md documents
 *    for a failure inside cJSON or OpenSSL;
 *  - a failing call sets an error message;
 *  - no library block is left behind (blocks allocated minus blocks
 *    released by docstore_free(), counted through the hooks);
 *  - the handle the call worked on is still usable: the same call without
 *    injection succeeds on it.
 * Leaks of other memory are found by the sanitizer build's leak checker
 * (label oom and unit) and valgrind/test_oom.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <cmocka.h>

#include "docstore/docstore.h"
#include "helpers/crypto_helpers.h"
#include "helpers/fake_provider.h"
#include "internal.h"
#include "provider/provider_internal.h"

/* ------------------------------------------------------------ the hook */

static long attempts; /* allocations asked for since the call started */
static long fail_nth; /* the one to fail (1-based); 0: none */
static int failed;    /* the injected failure happened (2: in cJSON, 3: in
                        OpenSSL) */
static long live;     /* library blocks alive */

static int fail_hook(size_t n, int new_block) {
  (void)n;
  if (fail_nth && ++attempts == fail_nth) {
    failed = 1;
    return 1;
  }
  if (new_block)
    live++;
  return 0;
}

static void on_release(const void *p, size_t n, unsigned int flags) {
  (void)p;
  (void)n;
  (void)flags;
  live--;
}

/* cJSON's allocations (envelopes, stats, config dump) fail in turn too:
 * the library leaves cJSON's global hooks alone (they belong to the
 * program), but this test program may set them. */
static void *cjson_malloc(size_t n) {
  if (fail_hook(n, 0)) {
    failed = 2;
    return NULL;
  }
  return malloc(n);
}

/* With DOCSTORE_OOM_OPENSSL=1 (the test oom/test_oom_openssl, far
 * longer), OpenSSL's allocations fail in turn too, set up the same way
 * (before OpenSSL's first allocation: in main()), in the cases that set
 * ossl_case: loading keys, sealing, opening, rewrapping, storing and
 * reading.  The opening ones make sure that a failure inside RSA-OAEP
 * decryption does not outlive the call: OpenSSL 3.0 left the key's
 * blinding values broken after a failure while renewing them, and the same
 * keyring failed every later open (src/crypto/oaep.c, HACKING.md). */
static int ossl_case;
static void *ossl_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  if (ossl_case && fail_hook(n, 0)) {
    failed = 3;
    return NULL;
  }
  return malloc(n);
}
static void *ossl_realloc(void *p, size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  if (ossl_case && fail_hook(n, 0)) {
    failed = 3;
    return NULL;
  }
  return realloc(p, n);
}
static void ossl_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  free(p);
}

static char tmpdir[64];

static int group_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/docstore-oom-XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  th_public_pem(0); /* generate the test keys before counting */
  docstore__alloc_fail_hook = fail_hook;
  docstore__alloc_release_hook = on_release;
  cJSON_Hooks hooks = {cjson_malloc, free};
  cJSON_InitHooks(&hooks);
  return 0;
}

static int group_teardown(void **state) {
  docstore__alloc_fail_hook = NULL;
  docstore__alloc_release_hook = NULL;
  cJSON_InitHooks(NULL);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  assert_int_equal(system(cmd), 0);
  return th_group_teardown(state);
}

/* A public call (or a short sequence of them) that frees what it made;
 * returns 0 or the first error.  `msg` receives the error detail. */
typedef int (*oom_call)(void *ctx, const char **msg);

static int allowed(int rc, const int *also) {
  if (rc == DOCSTORE_ENOMEM)
    return 1;
  for (; also && *also; also++)
    if (rc == *also)
      return 1;
  return 0;
}

/* The codes a failed allocation inside a dependency may give besides
 * DOCSTORE_ENOMEM, as HACKING.md documents: cJSON's parser reports it as a
 * syntax error (DOCSTORE_EFORMAT); OpenSSL often as a failure of the
 * operation (DOCSTORE_ECRYPTO, or DOCSTORE_EKEY while decoding a key), and
 * when its error queue says "malloc failure" the library returns
 * DOCSTORE_ENOMEM. */
static int third_party_code(int rc) {
  if (failed == 2)
    return rc == DOCSTORE_EFORMAT;
  /* DOCSTORE_EINTEGRITY: a failed RSA-OAEP decryption is reported as one,
   * whatever the reason (no padding oracle), an allocation failure too. */
  if (failed == 3)
    return rc == DOCSTORE_ECRYPTO || rc == DOCSTORE_EKEY ||
           rc == DOCSTORE_EINTEGRITY;
  return 0;
}

/*
 * Fail allocation 1, 2, ... of `call` until it runs to the end without
 * reaching the failing one.  `also`: codes other than DOCSTORE_ENOMEM
 * the call may return (0-terminated), or NULL.  Returns the number of
 * allocations of the successful run.
 */
static long oom_loop(const char *what, oom_call call, void *ctx,
                     const int *also) {
  /* Once without injection first: what the library sets up once per
   * process (the first time a call runs) is not a leak. */
  const char *warm_msg = NULL;
  if (call(ctx, &warm_msg) != 0)
    fail_msg("%s: fails without injection: %s", what, warm_msg ? warm_msg : "");
  for (long n = 1; n < 100000; n++) {
    long before = live;
    const char *msg = NULL;
    attempts = 0;
    failed = 0;
    fail_nth = n;
    int rc = call(ctx, &msg);
    fail_nth = 0;
    if (!failed) {
      if (rc != 0)
        fail_msg("%s: fails without injection: %d %s", what, rc,
                 msg ? msg : "");
      if (live != before)
        fail_msg("%s: %ld block(s) left after success", what, live - before);
      return n - 1;
    }
    if (live != before)
      fail_msg("%s: allocation %ld failed: %ld block(s) leaked (rc %d)", what,
               n, live - before, rc);
    if (rc == 0)
      continue; /* survived the failure; the call checked its result */
    if (rc > 0 || !(allowed(rc, also) || third_party_code(rc)))
      fail_msg("%s: allocation %ld failed: unexpected rc %d (%s)", what, n, rc,
               msg ? msg : "");
    if (rc != DOCSTORE_ENOMEM && msg && strstr(msg, "malloc failure"))
      fail_msg("%s: allocation %ld failed: rc %d for '%s'", what, n, rc, msg);
    if (!msg || !*msg)
      fail_msg("%s: allocation %ld failed: rc %d without a message", what, n,
               rc);
    /* The handle is still usable: the same call, no injection. */
    before = live;
    msg = NULL;
    rc = call(ctx, &msg);
    if (rc != 0)
      fail_msg("%s: after a failure at allocation %ld the call fails: %d %s",
               what, n, rc, msg ? msg : "");
    if (live != before)
      fail_msg("%s: retry after allocation %ld: %ld block(s) left", what, n,
               live - before);
  }
  fail_msg("%s: no end", what);
  return -1;
}

static void report(const char *what, long n) {
  print_message("  %-28s %ld allocations, each failed once\n", what, n);
  assert_true(n > 0);
}

/* ------------------------------------------------------------ config */

static void write_file(const char *name, const char *text) {
  char path[160];
  snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static int call_config(void *ctx, const char **msg) {
  (void)ctx;
  docstore_config *cfg = NULL;
  char *dump = NULL;
  int rc = docstore_config_new(&cfg);
  if (rc < 0) {
    *msg = docstore_last_errmsg();
    return rc;
  }
  char dotenv[160];
  snprintf(dotenv, sizeof(dotenv), "%s/oom.env", tmpdir);
  if ((rc = docstore_config_load_dotenv(cfg, dotenv)) < 0 ||
      (rc = docstore_config_set(cfg, "LOCAL_STORAGE_PATH", tmpdir)) < 0 ||
      (rc = docstore_config_set(cfg, "S3_BUCKET", "a-bucket")) < 0 ||
      (rc = docstore_config_validate(cfg)) < 0 ||
      (rc = docstore_config_dump(cfg, &dump)) < 0) {
    static char keep[512];
    snprintf(keep, sizeof(keep), "%s", docstore_config_errmsg(cfg));
    *msg = keep;
  } else {
    assert_non_null(strstr(dump, "STORAGE_TYPE=local"));
  }
  docstore_free(dump);
  docstore_config_free(cfg);
  return rc;
}

static void test_config(void **state) {
  (void)state;
  write_file("oom.env",
             "# settings\nSTORAGE_TYPE=local\nS3_REGION=eu-west-1\n");
  report("config", oom_loop("config", call_config, NULL, NULL));
}

/* ------------------------------------------------------------ keyring */

static char keyring_err[256];

static int call_keyring(void *ctx, const char **msg) {
  (void)ctx;
  docstore_keyring *kr = NULL;
  char *kid = NULL;
  int rc = docstore_keyring_new(&kr, keyring_err, sizeof(keyring_err));
  if (rc < 0) {
    *msg = keyring_err;
    return rc;
  }
  if ((rc = docstore_keyring_add_private_pem(
           kr, &kid, th_private_pem(0), strlen(th_private_pem(0)), NULL)) < 0 ||
      (rc = docstore_keyring_add_public_pem(kr, NULL, th_public_pem(1),
                                            strlen(th_public_pem(1)))) < 0 ||
      (rc = docstore_keyring_set_default(kr, th_kid(1))) < 0) {
    snprintf(keyring_err, sizeof(keyring_err), "%s",
             docstore_keyring_errmsg(kr));
    *msg = keyring_err;
  } else {
    assert_string_equal(kid, th_kid(0));
    size_t npub = 0, npriv = 0;
    docstore_keyring_count(kr, &npub, &npriv);
    assert_int_equal(npub, 2);
    assert_int_equal(npriv, 1);
  }
  docstore_free(kid);
  docstore_keyring_free(kr);
  return rc;
}

static void test_keyring(void **state) {
  (void)state;
  ossl_case = 1;
  report("keyring load", oom_loop("keyring", call_keyring, NULL, NULL));
  ossl_case = 0;
}

/* ------------------------------------------------------------ envelope */

static const uint8_t plaintext[] = "%PDF-1.4 out of memory, in a loop\n";
static const docstore_doc_id doc = {"42", "7"};

typedef struct env_ctx {
  docstore_keyring *kr;
  char *sealed;
  size_t sealed_len;
} env_ctx;

static int env_setup(void **state) {
  env_ctx *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  e->kr = th_keyring(0x3, 0x3);
  assert_int_equal(docstore_envelope_seal(&e->sealed, &e->sealed_len, e->kr,
                                          plaintext, sizeof(plaintext), &doc),
                   0);
  *state = e;
  return 0;
}

static int env_teardown(void **state) {
  env_ctx *e = *state;
  docstore_free(e->sealed);
  docstore_keyring_free(e->kr);
  free(e);
  return 0;
}

static int call_seal(void *ctx, const char **msg) {
  env_ctx *e = ctx;
  char *out = NULL;
  size_t len = 0;
  int rc = docstore_envelope_seal(&out, &len, e->kr, plaintext,
                                  sizeof(plaintext), &doc);
  *msg = docstore_last_errmsg();
  if (rc == 0)
    assert_true(len > sizeof(plaintext));
  docstore_free(out);
  return rc;
}

static int call_open(void *ctx, const char **msg) {
  env_ctx *e = ctx;
  uint8_t *out = NULL;
  size_t len = 0;
  int rc =
      docstore_envelope_open(&out, &len, e->kr, e->sealed, e->sealed_len, &doc);
  *msg = docstore_last_errmsg();
  if (rc == 0) {
    assert_int_equal(len, sizeof(plaintext));
    assert_memory_equal(out, plaintext, len);
  }
  docstore_free(out);
  return rc;
}

static int call_rewrap(void *ctx, const char **msg) {
  env_ctx *e = ctx;
  char *out = NULL;
  size_t len = 0;
  int rc = docstore_envelope_rewrap(&out, &len, e->kr, e->sealed, e->sealed_len,
                                    th_kid(1));
  *msg = docstore_last_errmsg();
  if (rc == 0)
    assert_non_null(strstr(out, th_kid(1)));
  docstore_free(out);
  return rc;
}

/* Envelope v2 through the streaming calls: seal (compressed, two
 * recipients, 4 KiB segments, small buffers), open, change recipients. */
static int call_stream_v2(void *ctx, const char **msg) {
  env_ctx *e = ctx;
  static char keep[512];
  static uint8_t doc_bytes[10000], sealed[12000], back[10000];
  const char *kids[] = {th_kid(0), th_kid(1)};
  docstore_seal_options o = DOCSTORE_SEAL_OPTIONS_INIT;
  docstore_sealer *s = NULL;
  docstore_opener *op = NULL;
  uint8_t *h = NULL;
  size_t n = 0, m = 0, got, used, off, hl, old;
  int rc;
  for (size_t i = 0; i < sizeof(doc_bytes); i++)
    doc_bytes[i] = (uint8_t)(i % 7 == 0 ? i : 'x');
  o.doc = &doc;
  o.recipients = kids;
  o.recipients_count = 2;
  o.segment_size = 4096;
  o.compression_level = 3;
  *msg = keep;
  keep[0] = '\0';
  if ((rc = docstore_sealer_new(&s, e->kr, &o)) < 0) {
    snprintf(keep, sizeof(keep), "%s", docstore_last_errmsg());
    return rc;
  }
  for (off = 0; off < sizeof(doc_bytes) && rc == 0; off += used, n += got)
    rc = docstore_sealer_update(s, sealed + n, 1000, &got, doc_bytes + off,
                                sizeof(doc_bytes) - off, &used);
  while (rc >= 0 &&
         (rc = docstore_sealer_finish(s, sealed + n, 1000, &got)) >= 0) {
    n += got;
    if (rc == 0)
      break;
  }
  if (rc < 0)
    snprintf(keep, sizeof(keep), "%s", docstore_sealer_errmsg(s));
  docstore_sealer_free(s);
  if (rc < 0)
    return rc;
  if ((rc = docstore_opener_new(&op, e->kr, &doc)) < 0) {
    snprintf(keep, sizeof(keep), "%s", docstore_last_errmsg());
    return rc;
  }
  for (off = 0; off < n && rc == 0; off += used, m += got)
    rc = docstore_opener_update(op, back + m, 777, &got, sealed + off, n - off,
                                &used);
  while (rc >= 0 &&
         (rc = docstore_opener_finish(op, back + m, 777, &got)) >= 0) {
    m += got;
    if (rc == 0)
      break;
  }
  if (rc < 0)
    snprintf(keep, sizeof(keep), "%s", docstore_opener_errmsg(op));
  docstore_opener_free(op);
  if (rc < 0)
    return rc;
  assert_int_equal(m, sizeof(doc_bytes));
  assert_memory_equal(back, doc_bytes, m);
  rc = docstore_envelope_rewrap_header(&h, &hl, &old, e->kr, sealed, n,
                                       &kids[1], 1, &kids[0], 1);
  if (rc < 0)
    snprintf(keep, sizeof(keep), "%s", docstore_last_errmsg());
  else
    assert_true(hl < old);
  docstore_free(h);
  return rc;
}

static void test_envelope(void **state) {
  ossl_case = 1;
  report("envelope v2 streams",
         oom_loop("v2 streams", call_stream_v2, *state, NULL));
  report("envelope seal", oom_loop("seal", call_seal, *state, NULL));
  report("envelope open", oom_loop("open", call_open, *state, NULL));
  report("envelope rewrap", oom_loop("rewrap", call_rewrap, *state, NULL));
  ossl_case = 0;
}

/* ------------------------------------------------------- storage path */

static int call_storage_path(void *ctx, const char **msg) {
  (void)ctx;
  char *path = NULL;
  int rc = docstore_storage_path(&path, "42", "scan.pdf", "7", 1700000000);
  *msg = docstore_last_errmsg();
  if (rc == 0)
    assert_non_null(strstr(path, "42"));
  docstore_free(path);
  return rc;
}

static void test_storage_path(void **state) {
  (void)state;
  report("storage path",
         oom_loop("storage_path", call_storage_path, NULL, NULL));
}

/* ------------------------------------------------------------ service */

typedef struct svc_ctx {
  docstore_service *svc;
  char *stored; /* a document stored before the loops */
} svc_ctx;

static char svc_err[256];

/* A keyring with key 0 (private) built through the public API. */
static int make_keyring(docstore_keyring **kr, const char **msg) {
  int rc = docstore_keyring_new(kr, svc_err, sizeof(svc_err));
  if (rc == 0 && (rc = docstore_keyring_add_private_pem(
                      *kr, NULL, th_private_pem(0), strlen(th_private_pem(0)),
                      NULL)) < 0) {
    snprintf(svc_err, sizeof(svc_err), "%s", docstore_keyring_errmsg(*kr));
    docstore_keyring_free(*kr);
    *kr = NULL;
  }
  *msg = svc_err;
  return rc;
}

/* A local provider under tmpdir (or the fake one) and a service over it. */
static int open_service(docstore_service **svc, int fake, const char **msg) {
  docstore_provider *p = NULL;
  docstore_keyring *kr = NULL;
  fake_provider *fp;
  char root[128];
  int rc;
  *svc = NULL;
  if (fake) {
    rc = fake_provider_new(&p, &fp, 0);
  } else {
    docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
    snprintf(root, sizeof(root), "%s/local", tmpdir);
    lo.root = root;
    rc = docstore_local_provider_new(&p, &lo, svc_err, sizeof(svc_err));
  }
  *msg = svc_err;
  if (rc < 0) {
    if (fake)
      snprintf(svc_err, sizeof(svc_err), "%s", docstore_last_errmsg());
    return rc;
  }
  if ((rc = make_keyring(&kr, msg)) < 0) {
    docstore_provider_free(p);
    return rc;
  }
  /* Takes ownership of both, also when it fails. */
  return docstore_service_new(svc, p, kr, NULL, svc_err, sizeof(svc_err));
}

static int call_service_new(void *ctx, const char **msg) {
  docstore_service *svc = NULL;
  int rc = open_service(&svc, ctx != NULL, msg);
  docstore_service_free(svc);
  return rc;
}

static int call_from_config(void *ctx, const char **msg) {
  (void)ctx;
  docstore_config *cfg = NULL;
  docstore_service *svc = NULL;
  char pub[160], priv[160];
  snprintf(pub, sizeof(pub), "%s/pub.pem", tmpdir);
  snprintf(priv, sizeof(priv), "%s/priv.pem", tmpdir);
  int rc = docstore_config_new(&cfg);
  *msg = docstore_last_errmsg();
  if (rc < 0)
    return rc;
  if ((rc = docstore_config_set(cfg, "STORAGE_TYPE", "local")) < 0 ||
      (rc = docstore_config_set(cfg, "LOCAL_STORAGE_PATH", tmpdir)) < 0 ||
      (rc = docstore_config_set(cfg, "RSA_PUBLIC_KEY_PATH", pub)) < 0 ||
      (rc = docstore_config_set(cfg, "RSA_PRIVATE_KEY_PATH", priv)) < 0) {
    snprintf(svc_err, sizeof(svc_err), "%s", docstore_config_errmsg(cfg));
    *msg = svc_err;
  } else {
    rc = docstore_service_from_config(&svc, cfg, svc_err, sizeof(svc_err));
    *msg = svc_err;
  }
  docstore_service_free(svc);
  docstore_config_free(cfg);
  return rc;
}

static void test_service_new(void **state) {
  (void)state;
  report("service_new (local)",
         oom_loop("service_new local", call_service_new, NULL, NULL));
  report("service_new (fake)",
         oom_loop("service_new fake", call_service_new, (void *)1, NULL));
  write_file("pub.pem", th_public_pem(0));
  write_file("priv.pem", th_private_pem(0));
  report("service_from_config",
         oom_loop("service_from_config", call_from_config, NULL, NULL));
}

static int svc_setup(svc_ctx **out, int fake) {
  svc_ctx *s = calloc(1, sizeof(*s));
  const char *msg;
  assert_non_null(s);
  assert_int_equal(open_service(&s->svc, fake, &msg), 0);
  assert_int_equal(docstore_service_store_document(s->svc, &s->stored, "9",
                                                   "stored.pdf", plaintext,
                                                   sizeof(plaintext), "7"),
                   0);
  *out = s;
  return 0;
}

static int local_setup(void **state) { return svc_setup((svc_ctx **)state, 0); }
static int fake_setup(void **state) { return svc_setup((svc_ctx **)state, 1); }

static int svc_teardown(void **state) {
  svc_ctx *s = *state;
  docstore_free(s->stored);
  docstore_service_free(s->svc);
  free(s);
  return 0;
}

static int call_store(void *ctx, const char **msg) {
  svc_ctx *s = ctx;
  char *path = NULL;
  int rc = docstore_service_store_document(s->svc, &path, "42", "scan.pdf",
                                           plaintext, sizeof(plaintext), "7");
  *msg = docstore_service_errmsg(s->svc);
  if (rc == 0) {
    int exists = 0;
    fail_nth = 0; /* checks, not under test */
    assert_int_equal(docstore_service_exists(s->svc, &exists, NULL, path), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(docstore_service_delete(s->svc, path), 0);
  }
  docstore_free(path);
  return rc;
}

static int call_read(void *ctx, const char **msg) {
  svc_ctx *s = ctx;
  const docstore_doc_id expect = {"9", "7"};
  uint8_t *out = NULL;
  size_t len = 0;
  int rc =
      docstore_service_read_document(s->svc, &out, &len, s->stored, &expect);
  *msg = docstore_service_errmsg(s->svc);
  if (rc == 0) {
    assert_int_equal(len, sizeof(plaintext));
    assert_memory_equal(out, plaintext, len);
  }
  docstore_free(out);
  return rc;
}

static int call_retrieve(void *ctx, const char **msg) {
  svc_ctx *s = ctx;
  char *out = NULL;
  size_t len = 0;
  int rc = docstore_service_retrieve_encrypted(s->svc, &out, &len, s->stored);
  *msg = docstore_service_errmsg(s->svc);
  if (rc == 0)
    /* the key id in the envelope's header (v2 is binary) */
    assert_non_null(memmem(out, len, th_kid(0), strlen(th_kid(0))));
  docstore_free(out);
  return rc;
}

static int call_stats(void *ctx, const char **msg) {
  svc_ctx *s = ctx;
  char *json = NULL;
  int rc = docstore_service_stats_json(s->svc, &json);
  *msg = docstore_service_errmsg(s->svc);
  if (rc == 0)
    assert_true(json[0] == '{');
  docstore_free(json);
  return rc;
}

static void service_calls(svc_ctx *s, const char *kind) {
  char what[64];
  static const struct {
    const char *name;
    oom_call call;
  } calls[] = {
      {"store_document", call_store},
      {"read_document", call_read},
      {"retrieve_encrypted", call_retrieve},
      {"stats_json", call_stats},
  };
  for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
    snprintf(what, sizeof(what), "%s (%s)", calls[i].name, kind);
    ossl_case = calls[i].call == call_store || calls[i].call == call_read;
    report(what, oom_loop(what, calls[i].call, s, NULL));
    ossl_case = 0;
  }
}

static void test_service_local(void **state) { service_calls(*state, "local"); }
static void test_service_fake(void **state) { service_calls(*state, "fake"); }

/* ------------------------------------------------- provider streaming */

/* A streamed put in three writes, then a ranged streamed read of it: on
 * the local provider (native) and on the fake one (the buffering
 * adapter). */
typedef struct stream_ctx {
  docstore_provider *p;
  docstore__err err;
} stream_ctx;

static int call_stream_put(void *ctx, const char **msg) {
  stream_ctx *s = ctx;
  docstore__put_txn *t = NULL;
  int rc =
      docstore__provider_put_begin(s->p, "oom/streamed", NULL, &t, &s->err);
  for (int i = 0; rc == 0 && i < 3; i++)
    rc = docstore__provider_put_write(t, plaintext, sizeof(plaintext), &s->err);
  if (rc == 0)
    rc = docstore__provider_put_commit(t, &s->err);
  else
    docstore__provider_put_abort(t);
  *msg = s->err.msg;
  return rc;
}

static int call_stream_get(void *ctx, const char **msg) {
  stream_ctx *s = ctx;
  docstore__get_stream *st = NULL;
  uint8_t buf[16], all[3 * sizeof(plaintext)];
  size_t have = 0, got = 0;
  uint64_t size = 0;
  int rc = docstore__provider_get_open(s->p, "oom/streamed", 1, UINT64_MAX, &st,
                                       &size, &s->err);
  while (rc == 0) {
    rc = docstore__provider_get_read(st, buf, sizeof(buf), &got, &s->err);
    if (rc < 0 || got == 0)
      break;
    assert_true(have + got <= sizeof(all));
    memcpy(all + have, buf, got);
    have += got;
  }
  docstore__provider_get_close(st);
  if (rc == 0) {
    assert_int_equal(size, sizeof(all));
    assert_int_equal(have, sizeof(all) - 1);
    assert_memory_equal(all, plaintext + 1, sizeof(plaintext) - 1);
  }
  *msg = s->err.msg;
  return rc;
}

static void stream_calls(docstore_provider *p, const char *kind) {
  stream_ctx s;
  char what[64];
  s.p = p;
  snprintf(what, sizeof(what), "streamed put (%s)", kind);
  report(what, oom_loop(what, call_stream_put, &s, NULL));
  snprintf(what, sizeof(what), "streamed get (%s)", kind);
  report(what, oom_loop(what, call_stream_get, &s, NULL));
  docstore_provider_free(p);
}

static void test_provider_streaming(void **state) {
  (void)state;
  docstore_provider *p = NULL;
  fake_provider *fp;
  docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
  char root[128];
  snprintf(root, sizeof(root), "%s/streams", tmpdir);
  lo.root = root;
  assert_int_equal(docstore_local_provider_new(&p, &lo, NULL, 0), 0);
  stream_calls(p, "local");
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  stream_calls(p, "adapter");
}

int main(void) {
  const char *ossl = getenv("DOCSTORE_OOM_OPENSSL");
  if (ossl && strcmp(ossl, "1") == 0 &&
      !CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
    fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_keyring),
      cmocka_unit_test_setup_teardown(test_envelope, env_setup, env_teardown),
      cmocka_unit_test(test_storage_path),
      cmocka_unit_test(test_service_new),
      cmocka_unit_test_setup_teardown(test_service_local, local_setup,
                                      svc_teardown),
      cmocka_unit_test_setup_teardown(test_service_fake, fake_setup,
                                      svc_teardown),
      cmocka_unit_test(test_provider_streaming),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
