/*
 * Unit tests: the ObjectStorageService facade (src/service/service.c) and
 * the process-wide default service (src/service/default.c), over the fake
 * provider and over the local provider.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "docstore/docstore.h"
#include "helpers/fake_provider.h"
#include "provider/fsio.h"

/* One RSA key pair for the whole run (generation is slow). */
static char *pub_pem, *priv_pem;
static char tmpdir[64];

/* ------------------------------------------------------- log capture */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[65536];
static size_t loglen;

static void capture(void *payload, int level, const char *message) {
  (void)payload;
  pthread_mutex_lock(&log_lock);
  int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%d:%s\n", level,
                   message);
  if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
    loglen += (size_t)n;
  pthread_mutex_unlock(&log_lock);
}

static void log_reset(int level) {
  pthread_mutex_lock(&log_lock);
  loglen = 0;
  logbuf[0] = '\0';
  pthread_mutex_unlock(&log_lock);
  docstore_set_log_callback(capture, NULL, level);
}

static int logged(const char *needle) {
  pthread_mutex_lock(&log_lock);
  int found = strstr(logbuf, needle) != NULL;
  pthread_mutex_unlock(&log_lock);
  return found;
}

/* ------------------------------------------------------- fixtures */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static int group_setup(void **state) {
  (void)state;
  if (docstore_keygen(&pub_pem, &priv_pem, 2048, NULL) != 0)
    return -1;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/docstore-svc-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  docstore_free(pub_pem);
  docstore_free(priv_pem);
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  docstore_set_log_callback(NULL, NULL, 0);
  return 0;
}

static docstore_keyring *make_keyring(void) {
  docstore_keyring *kr = NULL;
  assert_int_equal(docstore_keyring_new(&kr, NULL, 0), 0);
  assert_int_equal(docstore_keyring_add_private_pem(kr, NULL, priv_pem,
                                                    strlen(priv_pem), NULL),
                   0);
  return kr;
}

typedef struct fixture {
  docstore_service *svc;
  fake_provider *fp; /* NULL with the local provider */
  char legacy[PATH_MAX];
  char root[PATH_MAX];
} fixture;

static int fixture_count;

static fixture *fixture_new(void) {
  fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  snprintf(f->legacy, sizeof(f->legacy), "%s/legacy%d", tmpdir, fixture_count);
  snprintf(f->root, sizeof(f->root), "%s/root%d", tmpdir, fixture_count);
  fixture_count++;
  assert_int_equal(mkdir(f->legacy, 0700), 0);
  return f;
}

static void service_over(fixture *f, docstore_provider *p, int validate) {
  docstore_service_options o = DOCSTORE_SERVICE_OPTIONS_INIT;
  char errbuf[256];
  o.legacy_root = f->legacy;
  o.validate_envelopes = validate;
  assert_int_equal(docstore_service_new(&f->svc, p, make_keyring(), &o, errbuf,
                                        sizeof(errbuf)),
                   0);
}

static int setup_fake(void **state) {
  fixture *f = fixture_new();
  docstore_provider *p = NULL;
  assert_int_equal(fake_provider_new(&p, &f->fp, 0), 0);
  service_over(f, p, 1);
  log_reset(DOCSTORE_LOG_INFO);
  *state = f;
  return 0;
}

static int setup_local(void **state) {
  fixture *f = fixture_new();
  docstore_provider *p = NULL;
  docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
  lo.root = f->root;
  assert_int_equal(docstore_local_provider_new(&p, &lo, NULL, 0), 0);
  service_over(f, p, 1);
  log_reset(DOCSTORE_LOG_INFO);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  docstore_service_free(f->svc);
  free(f);
  return 0;
}

/* ------------------------------------------------------- helpers */

static docstore_op_stats stats(docstore_service *svc, int op) {
  docstore_op_stats s = {DOCSTORE_OP_STATS_VERSION, 0, 0, 0, 0, 0, 0};
  assert_int_equal(docstore_service_stats(svc, &s, op), 0);
  return s;
}

/* A real envelope for a document. */
static char *seal(const char *text, const char *file_id, const char *user_id,
                  size_t *len) {
  docstore_keyring *kr = make_keyring();
  docstore_doc_id doc = {file_id, user_id};
  char *env = NULL;
  assert_int_equal(docstore_envelope_seal(&env, len, kr, (const uint8_t *)text,
                                          strlen(text), &doc),
                   0);
  docstore_keyring_free(kr);
  return env;
}

/* The path a store made now should have: today's date in UTC, checked
 * against the date before and after the call (a store may straddle
 * midnight). */
static void assert_stored_path(const char *got, int64_t before,
                               const char *file_id, const char *filename,
                               const char *user_id) {
  char *a = NULL, *b = NULL;
  assert_int_equal(
      docstore_storage_path(&a, file_id, filename, user_id, before), 0);
  assert_int_equal(docstore_storage_path(&b, file_id, filename, user_id,
                                         (int64_t)time(NULL)),
                   0);
  if (strcmp(got, a) != 0 && strcmp(got, b) != 0)
    fail_msg("stored at %s, expected %s", got, b);
  docstore_free(a);
  docstore_free(b);
}

static void write_text(const char *path, const char *text) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
  assert_int_equal(fclose(fp), 0);
}

/* ------------------------------------------------------- construction */

static void test_options_and_new(void **state) {
  (void)state;
  docstore_service_options o;
  memset(&o, 0x33, sizeof(o));
  assert_int_equal(docstore_service_options_init(&o, 2), 0);
  assert_int_equal(o.version, 2);
  assert_null(o.legacy_root);
  assert_int_equal(o.validate_envelopes, 1);
  assert_int_equal(o.legacy_allow_outside_root, 0);
  /* Version 1 (before legacy_allow_outside_root): that field untouched. */
  memset(&o, 0x33, sizeof(o));
  assert_int_equal(docstore_service_options_init(&o, 1), 0);
  assert_int_equal(o.version, 1);
  assert_null(o.legacy_root);
  assert_int_equal(o.validate_envelopes, 1);
  assert_int_equal(o.legacy_allow_outside_root, 0x33333333);
  /* Version 2 (before the envelope fields): those untouched. */
  memset(&o, 0x33, sizeof(o));
  assert_int_equal(docstore_service_options_init(&o, 2), 0);
  assert_int_equal(o.legacy_allow_outside_root, 0);
  assert_int_equal(o.envelope_version, 0x33333333u);
  assert_int_equal(docstore_service_options_init(&o, 3), 0);
  assert_int_equal(o.version, 3);
  assert_int_equal(o.envelope_version, 0);
  assert_int_equal(o.compression_level, 0);
  assert_int_equal(o.segment_size, 0);
  assert_int_equal(docstore_service_options_init(&o, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_options_init(&o, 4), DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_options_init(NULL, 1), DOCSTORE_EINVAL);

  /* Ownership is taken also on failure. */
  docstore_service *svc = (docstore_service *)0x1;
  docstore_provider *p = NULL;
  fake_provider *fp = NULL;
  int freed = 0;
  char errbuf[256];
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  fake_provider_watch_free(fp, &freed);
  o.version = 7;
  assert_int_equal(
      docstore_service_new(&svc, p, make_keyring(), &o, errbuf, sizeof(errbuf)),
      DOCSTORE_EINVAL);
  assert_null(svc);
  assert_int_equal(freed, 1);
  assert_non_null(strstr(errbuf, "version"));

  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  freed = 0;
  fake_provider_watch_free(fp, &freed);
  assert_int_equal(docstore_service_new(NULL, p, NULL, NULL, NULL, 0),
                   DOCSTORE_EINVAL);
  assert_int_equal(freed, 1);
  assert_int_equal(docstore_service_new(&svc, NULL, make_keyring(), NULL,
                                        errbuf, sizeof(errbuf)),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(errbuf, "provider"));

  /* Version 3: the envelope fields follow the settings' rules. */
  assert_int_equal(docstore_service_options_init(&o, 3), 0);
  o.segment_size = 5000;
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  assert_int_equal(
      docstore_service_new(&svc, p, make_keyring(), &o, errbuf, sizeof(errbuf)),
      DOCSTORE_EINVAL);
  assert_non_null(strstr(errbuf, "DOCSTORE_SEGMENT_SIZE"));
  o.segment_size = 4096;
  o.compression_level = 20;
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  assert_int_equal(
      docstore_service_new(&svc, p, make_keyring(), &o, errbuf, sizeof(errbuf)),
      DOCSTORE_EINVAL);
  assert_non_null(strstr(errbuf, "DOCSTORE_COMPRESSION"));
  o.compression_level = 19;
  o.envelope_version = 1;
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  assert_int_equal(
      docstore_service_new(&svc, p, make_keyring(), &o, errbuf, sizeof(errbuf)),
      0);
  docstore_service_free(svc);

  /* Defaults (opts NULL), accessors. */
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  assert_int_equal(docstore_service_new(&svc, p, NULL, NULL, NULL, 0), 0);
  assert_string_equal(docstore_service_storage_type(svc), "fake");
  assert_ptr_equal(docstore_service_provider(svc), p);
  assert_null(docstore_service_keyring(svc));
  assert_string_equal(docstore_service_errmsg(svc), "");
  docstore_service_free(svc);
  docstore_service_free(NULL);
  assert_non_null(docstore_service_errmsg(NULL));
  assert_non_null(docstore_service_storage_type(NULL));
}

/* ------------------------------------------------------- store/retrieve */

static void test_store_and_retrieve(void **state) {
  fixture *f = *state;
  size_t env_len;
  char *env = seal("PASSPORT", "1", "123", &env_len);
  char *path = NULL;
  int64_t before = (int64_t)time(NULL);
  assert_int_equal(docstore_service_store_encrypted(
                       f->svc, &path, "1", "passport.pdf", env, env_len, "123"),
                   0);
  assert_stored_path(path, before, "1", "passport.pdf", "123");
  assert_non_null(strstr(path, "/1_passport.pdf_pdf.json"));
  assert_int_equal(fake_provider_count(f->fp), 1);
  size_t stored_len = 0;
  uint8_t *stored = fake_provider_lookup(f->fp, path, &stored_len);
  assert_non_null(stored);
  assert_int_equal(stored_len, env_len);
  assert_memory_equal(stored, env, env_len);
  free(stored);
  char line[512];
  snprintf(line, sizeof(line), "2:File uploaded to fake: %s\n", path);
  assert_true(logged(line));

  char *back = NULL;
  size_t back_len = 0;
  assert_int_equal(
      docstore_service_retrieve_encrypted(f->svc, &back, &back_len, path), 0);
  assert_int_equal(back_len, env_len);
  assert_memory_equal(back, env, env_len);
  assert_int_equal(back[back_len], '\0');
  snprintf(line, sizeof(line), "2:File downloaded from fake: %s\n", path);
  assert_true(logged(line));
  docstore_free(back);

  /* System document. */
  char *sys_path = NULL;
  char *sys_env = seal("TEMPLATE", "5", NULL, &env_len);
  assert_int_equal(docstore_service_store_encrypted(f->svc, &sys_path, "5",
                                                    "template.pdf", sys_env,
                                                    env_len, NULL),
                   0);
  assert_true(strncmp(sys_path, "documents/system/", 17) == 0);

  assert_int_equal(stats(f->svc, DOCSTORE_OP_PUT).successes, 2);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_GET).successes, 1);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_GET).bytes, back_len);
  docstore_free(sys_path);
  docstore_free(sys_env);
  docstore_free(path);
  docstore_free(env);
}

static void test_store_refuses_bad_input(void **state) {
  fixture *f = *state;
  char *path = (char *)0x1;
  const char *junk = "{\"not\": \"an envelope\"}";
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "1", "a.pdf",
                                                    junk, strlen(junk), "1"),
                   DOCSTORE_EFORMAT);
  assert_null(path);
  assert_non_null(
      strstr(docstore_service_errmsg(f->svc), "not a valid envelope"));
  assert_int_equal(docstore_last_errcode(), DOCSTORE_EFORMAT);
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "1", "a.pdf",
                                                    "garbage", 7, "1"),
                   DOCSTORE_EFORMAT);

  size_t env_len;
  char *env = seal("x", "1", "1", &env_len);
  static const char *const bad_ids[] = {"", "../1", "1/2", "a b"};
  for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
    assert_int_equal(docstore_service_store_encrypted(
                         f->svc, &path, bad_ids[i], "a.pdf", env, env_len, "1"),
                     DOCSTORE_EINVAL);
    assert_non_null(strstr(docstore_service_errmsg(f->svc), "file_id"));
    assert_int_equal(docstore_service_store_encrypted(
                         f->svc, &path, "1", "a.pdf", env, env_len, bad_ids[i]),
                     DOCSTORE_EINVAL);
    assert_non_null(strstr(docstore_service_errmsg(f->svc), "user_id"));
  }
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "1", NULL,
                                                    env, env_len, "1"),
                   DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_service_store_encrypted(f->svc, &path, "1", "a", env, 0, "1"),
      DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_store_encrypted(f->svc, NULL, "1", "a", env,
                                                    env_len, "1"),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_store_encrypted(NULL, &path, "1", "a", env,
                                                    env_len, "1"),
                   DOCSTORE_EINVAL);
  /* Nothing reached the provider. */
  assert_int_equal(fake_provider_calls(f->fp, FAKE_PUT), 0);
  docstore_free(env);
}

static void test_store_without_validation(void **state) {
  (void)state;
  fixture *f = fixture_new();
  docstore_provider *p = NULL;
  assert_int_equal(fake_provider_new(&p, &f->fp, 0), 0);
  service_over(f, p, 0);
  char *path = NULL;
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "9", "raw",
                                                    "opaque", 6, NULL),
                   0);
  assert_int_equal(fake_provider_count(f->fp), 1);
  docstore_free(path);
  docstore_service_free(f->svc);
  free(f);
}

typedef struct listed {
  int n;
} listed;

static int count_cb(void *payload, const docstore_object_info *info) {
  (void)info;
  ((listed *)payload)->n++;
  return 0;
}

/* Provider failures surface with their code and message. */
static void test_provider_failures_surface(void **state) {
  fixture *f = *state;
  size_t env_len;
  char *env = seal("x", "1", "1", &env_len);
  char *path = NULL, *out = NULL;
  size_t out_len;

  fake_provider_fail(f->fp, FAKE_PUT, DOCSTORE_ECONNECT, "connection refused",
                     1);
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "1", "a.pdf",
                                                    env, env_len, "1"),
                   DOCSTORE_ECONNECT);
  assert_null(path);
  const char *msg = docstore_service_errmsg(f->svc);
  assert_true(strncmp(msg, "put documents/user_1/", 21) == 0);
  assert_non_null(strstr(msg, "_a.pdf_pdf.json: connection refused"));
  assert_string_equal(docstore_last_errmsg(), msg);
  assert_int_equal(docstore_last_errcode(), DOCSTORE_ECONNECT);
  assert_false(logged("File uploaded"));

  assert_int_equal(docstore_service_retrieve_encrypted(f->svc, &out, &out_len,
                                                       "documents/missing"),
                   DOCSTORE_ENOTFOUND);
  assert_null(out);
  assert_string_equal(docstore_service_errmsg(f->svc),
                      "get documents/missing: no such key");

  fake_provider_fail(f->fp, FAKE_GET, DOCSTORE_ETIMEOUT, NULL, 1);
  assert_int_equal(docstore_service_retrieve_encrypted(f->svc, &out, &out_len,
                                                       "documents/x"),
                   DOCSTORE_ETIMEOUT);
  assert_string_equal(docstore_service_errmsg(f->svc),
                      "get documents/x: timed out");

  fake_provider_fail(f->fp, FAKE_DEL, DOCSTORE_EACCESS, "AccessDenied", 1);
  assert_int_equal(docstore_service_delete(f->svc, "documents/x"),
                   DOCSTORE_EACCESS);
  assert_string_equal(docstore_service_errmsg(f->svc),
                      "delete documents/x: AccessDenied");

  fake_provider_fail(f->fp, FAKE_HEAD, DOCSTORE_ESERVER, "503 Slow Down", 1);
  int exists = 7;
  assert_int_equal(
      docstore_service_exists(f->svc, &exists, NULL, "documents/x"),
      DOCSTORE_ESERVER);
  assert_int_equal(exists, 0);

  fake_provider_fail(f->fp, FAKE_LIST, DOCSTORE_ENOBUCKET, "NoSuchBucket", 1);
  listed l = {0};
  assert_int_equal(docstore_service_list(f->svc, NULL, count_cb, &l),
                   DOCSTORE_ENOBUCKET);
  assert_string_equal(docstore_service_errmsg(f->svc),
                      "list documents/: NoSuchBucket");
  assert_int_equal(docstore_service_list(f->svc, NULL, NULL, NULL),
                   DOCSTORE_EINVAL); /* no callback */

  assert_int_equal(stats(f->svc, DOCSTORE_OP_PUT).failures, 1);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_GET).failures, 2);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_DELETE).failures, 1);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_HEAD).failures, 1);
  docstore_free(env);
}

/* ------------------------------------------------------- fallback */

static void test_fallback(void **state) {
  fixture *f = *state;
  char legacy_file[PATH_MAX + 32], abs_file[PATH_MAX + 32];
  char *out = NULL;
  size_t len = 0;
  snprintf(legacy_file, sizeof(legacy_file), "%s/old.json", f->legacy);
  write_text(legacy_file, "{\"legacy\":1}");
  assert_int_equal(fake_provider_seed(f->fp, "documents/ok", "{\"new\":1}", 9),
                   0);

  /* The object store answers: no fallback. */
  assert_int_equal(docstore_service_retrieve_fallback(
                       f->svc, &out, &len, "documents/ok", "old.json"),
                   0);
  assert_string_equal(out, "{\"new\":1}");
  docstore_free(out);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_FALLBACK).successes, 0);
  assert_false(logged("falling back"));

  /* The object store fails: relative legacy path under legacy_root. */
  fake_provider_fail(f->fp, FAKE_GET, DOCSTORE_ECONNECT, "connection refused",
                     1);
  assert_int_equal(docstore_service_retrieve_fallback(
                       f->svc, &out, &len, "documents/ok", "old.json"),
                   0);
  assert_int_equal(len, 12);
  assert_string_equal(out, "{\"legacy\":1}");
  docstore_free(out);
  assert_true(logged("1:Failed to retrieve from object storage, falling back "
                     "to local: get documents/ok: connection refused"));
  docstore_op_stats s = stats(f->svc, DOCSTORE_OP_FALLBACK);
  assert_int_equal(s.successes, 1);
  assert_int_equal(s.bytes, 12);

  /* Not found in the object store: fallback too; an absolute legacy path
   * inside the legacy root. */
  snprintf(abs_file, sizeof(abs_file), "%s/abs.json", f->legacy);
  write_text(abs_file, "ABS");
  assert_int_equal(docstore_service_retrieve_fallback(
                       f->svc, &out, &len, "documents/missing", abs_file),
                   0);
  assert_string_equal(out, "ABS");
  docstore_free(out);

  /* Never migrated (no storage path): straight to the legacy file. */
  assert_int_equal(
      docstore_service_retrieve_fallback(f->svc, &out, &len, NULL, "old.json"),
      0);
  assert_string_equal(out, "{\"legacy\":1}");
  docstore_free(out);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_FALLBACK).successes, 3);
  assert_int_equal(fake_provider_calls(f->fp, FAKE_GET), 3);
}

static void test_fallback_failures(void **state) {
  fixture *f = *state;
  char *out = (char *)0x1;
  size_t len = 0;
  /* Both fail: the object store's code, both reasons. */
  fake_provider_fail(f->fp, FAKE_GET, DOCSTORE_ECONNECT, "connection refused",
                     -1);
  assert_int_equal(docstore_service_retrieve_fallback(
                       f->svc, &out, &len, "documents/a", "missing.json"),
                   DOCSTORE_ECONNECT);
  assert_null(out);
  const char *msg = docstore_service_errmsg(f->svc);
  assert_non_null(strstr(msg, "get documents/a: connection refused"));
  assert_non_null(strstr(msg, "local fallback failed too"));
  assert_non_null(strstr(msg, "missing.json"));
  assert_non_null(strstr(msg, "No such file or directory"));
  assert_int_equal(stats(f->svc, DOCSTORE_OP_FALLBACK).failures, 1);

  /* A folder is not a legacy document. */
  char sub[PATH_MAX + 8];
  snprintf(sub, sizeof(sub), "%s/sub", f->legacy);
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_equal(docstore_service_retrieve_fallback(f->svc, &out, &len,
                                                      "documents/a", "sub"),
                   DOCSTORE_ECONNECT);
  assert_non_null(
      strstr(docstore_service_errmsg(f->svc), "not a regular file"));
  /* Nor is the root itself. */
  assert_int_equal(
      docstore_service_retrieve_fallback(f->svc, &out, &len, NULL, "./"),
      DOCSTORE_EINVAL);

  /* No legacy path: the object store's failure as it is. */
  assert_int_equal(docstore_service_retrieve_fallback(f->svc, &out, &len,
                                                      "documents/a", NULL),
                   DOCSTORE_ECONNECT);
  assert_string_equal(docstore_service_errmsg(f->svc),
                      "get documents/a: connection refused");
  fake_provider_fail(f->fp, FAKE_GET, 0, NULL, 0);

  /* An invalid path is the caller's bug: no fallback. */
  unsigned long gets = fake_provider_calls(f->fp, FAKE_GET);
  assert_int_equal(docstore_service_retrieve_fallback(
                       f->svc, &out, &len, "../etc/passwd", "old.json"),
                   DOCSTORE_EINVAL);
  assert_int_equal(fake_provider_calls(f->fp, FAKE_GET), gets);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_FALLBACK).failures +
                       stats(f->svc, DOCSTORE_OP_FALLBACK).successes,
                   3);

  /* Not migrated, and the legacy file is missing: its own error. */
  assert_int_equal(docstore_service_retrieve_fallback(f->svc, &out, &len, NULL,
                                                      "missing.json"),
                   DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(docstore_service_errmsg(f->svc), "missing.json"));

  assert_int_equal(
      docstore_service_retrieve_fallback(f->svc, &out, &len, NULL, NULL),
      DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_retrieve_fallback(f->svc, NULL, &len,
                                                      "documents/a", "x"),
                   DOCSTORE_EINVAL);
}

/* A legacy path that would lead outside the legacy root: refused with
 * DOCSTORE_EACCESS, whether the kernel confines (openat2) or the walk
 * does; `secret` must never come back. */
static void assert_refused(docstore_service *svc, const char *legacy,
                           const char *why) {
  char *out = (char *)0x1;
  size_t len = 0;
  int rc = docstore_service_retrieve_fallback(svc, &out, &len, NULL, legacy);
  if (rc != DOCSTORE_EACCESS)
    fail_msg("%s: got %d (%s)", legacy, rc, docstore_service_errmsg(svc));
  assert_null(out);
  if (!strstr(docstore_service_errmsg(svc), why))
    fail_msg("%s: message '%s' lacks '%s'", legacy,
             docstore_service_errmsg(svc), why);
}

static void assert_reads(docstore_service *svc, const char *legacy,
                         const char *want) {
  char *out = NULL;
  size_t len = 0;
  int rc = docstore_service_retrieve_fallback(svc, &out, &len, NULL, legacy);
  if (rc != 0)
    fail_msg("%s: got %d (%s)", legacy, rc, docstore_service_errmsg(svc));
  assert_string_equal(out, want);
  docstore_free(out);
}

/* Files of the confinement tests: tmpdir/secret.txt outside the root,
 * links inside it pointing out (a file link, a folder link) and within
 * it. */
static void confinement_files(fixture *f, char *secret, size_t cap) {
  char p[PATH_MAX + 32], q[PATH_MAX + 32];
  snprintf(secret, cap, "%s/secret-%s.txt", tmpdir,
           strrchr(f->legacy, '/') + 1);
  write_text(secret, "SECRET");
  snprintf(p, sizeof(p), "%s/in.json", f->legacy);
  write_text(p, "INSIDE");
  snprintf(p, sizeof(p), "%s/deep", f->legacy);
  assert_int_equal(mkdir(p, 0700), 0);
  snprintf(p, sizeof(p), "%s/deep/doc.json", f->legacy);
  write_text(p, "DEEP");
  snprintf(p, sizeof(p), "%s/link.json", f->legacy);
  assert_int_equal(symlink(secret, p), 0);
  snprintf(p, sizeof(p), "%s/outdir", f->legacy);
  assert_int_equal(symlink(tmpdir, p), 0);
  snprintf(p, sizeof(p), "%s/inlink.json", f->legacy);
  snprintf(q, sizeof(q), "%s/in.json", f->legacy);
  assert_int_equal(symlink(q, p), 0);
}

static void confinement_checks(fixture *f, const char *secret) {
  char p[PATH_MAX + 64];
  const char *name = strrchr(secret, '/') + 1;
  /* "..": plain, in the middle, after a folder. */
  snprintf(p, sizeof(p), "../%s", name);
  assert_refused(f->svc, p, "\"..\"");
  snprintf(p, sizeof(p), "deep/../../%s", name);
  assert_refused(f->svc, p, "\"..\"");
  assert_refused(f->svc, "deep/..", "\"..\"");
  /* An absolute path outside the root, and one that only starts like it
   * ("<root>x/..."). */
  assert_refused(f->svc, secret, "outside the legacy root");
  assert_refused(f->svc, "/etc/passwd", "DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT");
  snprintf(p, sizeof(p), "%sx/in.json", f->legacy);
  assert_refused(f->svc, p, "outside the legacy root");
  /* Symbolic links: a file link out, a folder link out, even a link that
   * stays inside (links are not followed below the root). */
  assert_refused(f->svc, "link.json", "symbolic link");
  snprintf(p, sizeof(p), "outdir/%s", name);
  assert_refused(f->svc, p, "symbolic link");
  assert_refused(f->svc, "inlink.json", "symbolic link");
  /* What stays inside is read: relative, "./" and "//", absolute. */
  assert_reads(f->svc, "in.json", "INSIDE");
  assert_reads(f->svc, "./deep//doc.json", "DEEP");
  snprintf(p, sizeof(p), "%s/deep/doc.json", f->legacy);
  assert_reads(f->svc, p, "DEEP");
  /* Missing below the root: not found, as before. */
  char *out = NULL;
  size_t len = 0;
  assert_int_equal(docstore_service_retrieve_fallback(f->svc, &out, &len, NULL,
                                                      "deep/none.json"),
                   DOCSTORE_ENOTFOUND);
}

static void test_fallback_confined(void **state) {
  fixture *f = *state;
  char secret[PATH_MAX + 32];
  confinement_files(f, secret, sizeof(secret));
  confinement_checks(f, secret);
  /* The same through the walk the local provider uses (kernels without
   * openat2). */
  docstore__beneath_no_openat2 = 1;
  confinement_checks(f, secret);
  docstore__beneath_no_openat2 = 0;
  assert_int_equal(stats(f->svc, DOCSTORE_OP_FALLBACK).successes, 6);
}

/* The root given through a link (or relative): an absolute legacy path
 * through the link's target is inside it too. */
static void test_fallback_root_through_link(void **state) {
  fixture *f = *state;
  char link[PATH_MAX + 32], p[PATH_MAX + 64];
  snprintf(p, sizeof(p), "%s/in.json", f->legacy);
  write_text(p, "INSIDE");
  snprintf(link, sizeof(link), "%s-link", f->legacy);
  assert_int_equal(symlink(f->legacy, link), 0);
  docstore_provider *prov = NULL;
  assert_int_equal(fake_provider_new(&prov, NULL, 0), 0);
  docstore_service_options o = DOCSTORE_SERVICE_OPTIONS_INIT;
  o.legacy_root = link;
  docstore_service *svc = NULL;
  assert_int_equal(docstore_service_new(&svc, prov, NULL, &o, NULL, 0), 0);
  assert_reads(svc, "in.json", "INSIDE");
  assert_reads(svc, p, "INSIDE"); /* the real folder's path */
  snprintf(p, sizeof(p), "%s/in.json", link);
  assert_reads(svc, p, "INSIDE"); /* the link's path */
  docstore_service_free(svc);
}

/* legacy_allow_outside_root: the old behaviour, for databases holding
 * absolute paths elsewhere. */
static void test_fallback_allow_outside(void **state) {
  fixture *f = *state;
  char secret[PATH_MAX + 32], p[PATH_MAX + 64];
  confinement_files(f, secret, sizeof(secret));
  docstore_provider *prov = NULL;
  assert_int_equal(fake_provider_new(&prov, NULL, 0), 0);
  docstore_service_options o = DOCSTORE_SERVICE_OPTIONS_INIT;
  o.legacy_root = f->legacy;
  o.legacy_allow_outside_root = 1;
  docstore_service *svc = NULL;
  assert_int_equal(docstore_service_new(&svc, prov, NULL, &o, NULL, 0), 0);
  assert_reads(svc, secret, "SECRET");
  snprintf(p, sizeof(p), "../%s", strrchr(secret, '/') + 1);
  assert_reads(svc, p, "SECRET");
  assert_reads(svc, "link.json", "SECRET");
  assert_reads(svc, "in.json", "INSIDE");
  docstore_service_free(svc);

  /* A version 1 options struct has no such field: confined. */
  assert_int_equal(fake_provider_new(&prov, NULL, 0), 0);
  o.version = 1;
  assert_int_equal(docstore_service_new(&svc, prov, NULL, &o, NULL, 0), 0);
  assert_refused(svc, secret, "outside the legacy root");
  docstore_service_free(svc);
}

/* From the configuration: DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT. */
static void test_fallback_outside_from_config(void **state) {
  (void)state;
  fixture *f = fixture_new();
  char secret[PATH_MAX + 32];
  confinement_files(f, secret, sizeof(secret));
  for (int allow = 0; allow <= 1; allow++) {
    docstore_config *cfg = NULL;
    docstore_service *svc = NULL;
    char root[PATH_MAX + 8];
    snprintf(root, sizeof(root), "%s/store", f->legacy);
    assert_int_equal(docstore_config_new(&cfg), 0);
    assert_int_equal(docstore_config_set(cfg, "LOCAL_STORAGE_PATH", root), 0);
    assert_int_equal(
        docstore_config_set(cfg, "DOCSTORE_LEGACY_ROOT", f->legacy), 0);
    if (allow)
      assert_int_equal(
          docstore_config_set(cfg, "DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT", "1"),
          0);
    assert_int_equal(docstore_service_from_config(&svc, cfg, NULL, 0), 0);
    if (allow)
      assert_reads(svc, secret, "SECRET");
    else
      assert_refused(svc, secret, "outside the legacy root");
    docstore_service_free(svc);
    docstore_config_free(cfg);
  }
  docstore_config *cfg = NULL;
  assert_int_equal(docstore_config_new(&cfg), 0);
  assert_int_equal(
      docstore_config_set(cfg, "DOCSTORE_LEGACY_ALLOW_OUTSIDE_ROOT", "maybe"),
      DOCSTORE_ECONFIG);
  docstore_config_free(cfg);
  free(f);
}

/* ------------------------------------------------------- others */

static void test_delete_and_exists(void **state) {
  fixture *f = *state;
  int exists = -1;
  uint64_t size = 99;
  assert_int_equal(fake_provider_seed(f->fp, "documents/d", "12345", 5), 0);
  assert_int_equal(
      docstore_service_exists(f->svc, &exists, &size, "documents/d"), 0);
  assert_int_equal(exists, 1);
  assert_int_equal(size, 5);
  assert_int_equal(docstore_service_delete(f->svc, "documents/d"), 0);
  assert_true(logged("2:File deleted from fake: documents/d\n"));
  assert_int_equal(docstore_service_delete(f->svc, "documents/d"), 0);
  assert_int_equal(
      docstore_service_exists(f->svc, &exists, &size, "documents/d"), 0);
  assert_int_equal(exists, 0);
  assert_int_equal(size, 0);
  assert_int_equal(docstore_service_exists(f->svc, NULL, NULL, "documents/d"),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_delete(f->svc, "/etc/passwd"),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_service_errmsg(f->svc), "'/'"));
}

static void test_presign(void **state) {
  fixture *f = *state;
  char *url = NULL;
  assert_int_equal(docstore_service_presign(f->svc, &url, "documents/k", 1), 0);
  assert_string_equal(url,
                      "https://fake.invalid/documents/k?method=GET&expires=1");
  assert_true(logged("2:Presigned URL generated: documents/k\n"));
  assert_false(logged("https://")); /* the signed URL is never logged */
  docstore_free(url);
  assert_int_equal(docstore_service_presign(f->svc, &url, "documents/k", 3600),
                   0);
  assert_non_null(strstr(url, "expires=3600"));
  docstore_free(url);
  assert_int_equal(docstore_service_presign(f->svc, &url, "documents/k",
                                            DOCSTORE_PRESIGN_MAX_SECONDS),
                   0);
  assert_non_null(strstr(url, "expires=604800"));
  docstore_free(url);
  /* 0 and one second over 7 days are refused before the provider is asked */
  static const uint64_t bad[] = {0, DOCSTORE_PRESIGN_MAX_SECONDS + 1,
                                 UINT64_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    url = (char *)0x1;
    assert_int_equal(
        docstore_service_presign(f->svc, &url, "documents/k", bad[i]),
        DOCSTORE_EINVAL);
    assert_null(url);
    assert_string_equal(docstore_service_errmsg(f->svc),
                        "expires_seconds must be 1..604800 (presigned URLs "
                        "last at most 7 days)");
  }
  assert_int_equal(fake_provider_calls(f->fp, FAKE_PRESIGN), 3);
  assert_int_equal(docstore_service_presign(f->svc, NULL, "documents/k", 1),
                   DOCSTORE_EINVAL);
  fake_provider_fail(f->fp, FAKE_PRESIGN, DOCSTORE_EACCESS, "expired token", 1);
  assert_int_equal(docstore_service_presign(f->svc, &url, "documents/k", 1),
                   DOCSTORE_EACCESS);
  assert_string_equal(docstore_service_errmsg(f->svc),
                      "presign documents/k: expired token");
}

/* With the local provider: "unsupported" and a message that says why. */
static void test_local_service(void **state) {
  fixture *f = *state;
  char *url = (char *)0x1;
  char *path = NULL;
  assert_int_equal(docstore_service_presign(f->svc, &url, "documents/k", 86400),
                   DOCSTORE_EUNSUPPORTED);
  assert_null(url);
  const char *msg = docstore_service_errmsg(f->svc);
  assert_non_null(strstr(msg, "S3"));
  assert_non_null(strstr(msg, "provider local does not support presigned "
                              "URLs"));
  assert_string_equal(docstore_service_storage_type(f->svc), "local");

  /* The upload log line names the place on disk. */
  size_t env_len;
  char *env = seal("x", "3", "7", &env_len);
  assert_int_equal(docstore_service_store_encrypted(
                       f->svc, &path, "3", "visa.pdf", env, env_len, "7"),
                   0);
  char *real = realpath(f->root, NULL);
  assert_non_null(real);
  char line[PATH_MAX * 2];
  snprintf(line, sizeof(line), "2:File uploaded to local storage: %s/%s\n",
           real, path);
  assert_true(logged(line));
  snprintf(line, sizeof(line), "%s/%s", real, path);
  struct stat st;
  assert_int_equal(stat(line, &st), 0);
  assert_int_equal((size_t)st.st_size, env_len);
  free(real);

  char *report = NULL;
  assert_int_equal(docstore_service_check(f->svc, &report), 0);
  assert_non_null(strstr(report, "writable: yes"));
  docstore_free(report);
  docstore_free(path);
  docstore_free(env);
}

static void test_documents_round_trip(void **state) {
  fixture *f = *state;
  const char *doc = "PASSPORT\nholder: Jane Example\n";
  char *path = NULL;
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  assert_int_equal(
      docstore_service_store_document(f->svc, &path, "42", "passport.pdf",
                                      (const uint8_t *)doc, strlen(doc), "123"),
      0);
  docstore_doc_id right = {"42", "123"};
  assert_int_equal(
      docstore_service_read_document(f->svc, &plain, &plain_len, path, &right),
      0);
  assert_int_equal(plain_len, strlen(doc));
  assert_memory_equal(plain, doc, plain_len);
  docstore_free(plain);
  assert_int_equal(
      docstore_service_read_document(f->svc, &plain, &plain_len, path, NULL),
      0);
  docstore_free(plain);

  /* Bound to another document: refused. */
  docstore_doc_id wrong = {"43", "123"};
  plain = (uint8_t *)0x1;
  assert_int_equal(
      docstore_service_read_document(f->svc, &plain, &plain_len, path, &wrong),
      DOCSTORE_EINTEGRITY);
  assert_null(plain);
  assert_non_null(strstr(docstore_service_errmsg(f->svc), "decrypt "));

  /* Tampered in storage. */
  size_t len = 0;
  uint8_t *stored = fake_provider_lookup(f->fp, path, &len);
  assert_non_null(stored);
  char *ct = strstr((char *)stored, "\"ciphertext\"");
  assert_non_null(ct);
  char *val = strchr(ct + 12, '"') + 1;
  *val = *val == 'A' ? 'B' : 'A';
  assert_int_equal(fake_provider_seed(f->fp, path, stored, len), 0);
  free(stored);
  assert_int_equal(
      docstore_service_read_document(f->svc, &plain, &plain_len, path, &right),
      DOCSTORE_EINTEGRITY);

  docstore_op_stats s = stats(f->svc, DOCSTORE_OP_ENCRYPT);
  assert_int_equal(s.successes, 1);
  assert_int_equal(s.bytes, strlen(doc));
  s = stats(f->svc, DOCSTORE_OP_DECRYPT);
  assert_int_equal(s.successes, 2);
  assert_int_equal(s.failures, 2);
  assert_int_equal(s.bytes, 2 * strlen(doc));

  /* Refused before encryption: bad id. */
  docstore_free(path);
  assert_int_equal(docstore_service_store_document(f->svc, &path, "../x", "a",
                                                   (const uint8_t *)"x", 1,
                                                   NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_ENCRYPT).successes +
                       stats(f->svc, DOCSTORE_OP_ENCRYPT).failures,
                   1);
  assert_null(path);
}

static void test_store_refuses_envelope_of_another_document(void **state) {
  fixture *f = *state;
  docstore_keyring *kr = docstore_service_keyring(f->svc);
  assert_non_null(kr);
  char *env = NULL, *path = NULL;
  size_t env_len = 0;
  docstore_doc_id bound = {"7", "123"};
  assert_int_equal(docstore_envelope_seal(&env, &env_len, kr,
                                          (const uint8_t *)"doc", 3, &bound),
                   0);
  /* Another file id, another user, a system document: refused. */
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "8", "a.pdf",
                                                    env, env_len, "123"),
                   DOCSTORE_EINTEGRITY);
  assert_null(path);
  assert_non_null(strstr(docstore_service_errmsg(f->svc), "bound to file 7"));
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "7", "a.pdf",
                                                    env, env_len, "124"),
                   DOCSTORE_EINTEGRITY);
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "7", "a.pdf",
                                                    env, env_len, NULL),
                   DOCSTORE_EINTEGRITY);
  assert_int_equal(fake_provider_count(f->fp), 0);
  /* Its own document: stored. */
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "7", "a.pdf",
                                                    env, env_len, "123"),
                   0);
  assert_non_null(path);
  docstore_free(path);
  docstore_free(env);
  /* An envelope bound to no document may be stored under any. */
  assert_int_equal(docstore_envelope_seal(&env, &env_len, kr,
                                          (const uint8_t *)"doc", 3, NULL),
                   0);
  assert_int_equal(docstore_service_store_encrypted(f->svc, &path, "9", "b.pdf",
                                                    env, env_len, NULL),
                   0);
  docstore_free(path);
  docstore_free(env);
}

static void test_documents_need_keyring(void **state) {
  (void)state;
  docstore_service *svc = NULL;
  docstore_provider *p = NULL;
  fake_provider *fp = NULL;
  char *path = NULL;
  uint8_t *plain = NULL;
  size_t len;
  assert_int_equal(fake_provider_new(&p, &fp, 0), 0);
  assert_int_equal(docstore_service_new(&svc, p, NULL, NULL, NULL, 0), 0);
  assert_int_equal(docstore_service_store_document(
                       svc, &path, "1", "a", (const uint8_t *)"x", 1, NULL),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_service_errmsg(svc), "keyring"));
  assert_int_equal(
      docstore_service_read_document(svc, &plain, &len, "documents/x", NULL),
      DOCSTORE_EKEY);
  assert_int_equal(
      fake_provider_calls(fp, FAKE_PUT) + fake_provider_calls(fp, FAKE_GET), 0);
  docstore_service_free(svc);
}

static void test_list_and_check(void **state) {
  fixture *f = *state;
  assert_int_equal(fake_provider_seed(f->fp, "documents/a", "1", 1), 0);
  assert_int_equal(fake_provider_seed(f->fp, "documents/b", "1", 1), 0);
  assert_int_equal(fake_provider_seed(f->fp, "elsewhere/c", "1", 1), 0);
  listed l = {0};
  assert_int_equal(docstore_service_list(f->svc, NULL, count_cb, &l), 0);
  assert_int_equal(l.n, 2); /* default prefix: documents/ */
  l.n = 0;
  assert_int_equal(docstore_service_list(f->svc, "", count_cb, &l), 0);
  assert_int_equal(l.n, 3);
  char *report = NULL;
  assert_int_equal(docstore_service_check(f->svc, &report), 0);
  assert_string_equal(report, "fake: ok\n");
  docstore_free(report);
  fake_provider_fail(f->fp, FAKE_CHECK, DOCSTORE_ECONNECT, "refused", 1);
  assert_int_equal(docstore_service_check(f->svc, &report), DOCSTORE_ECONNECT);
  assert_string_equal(docstore_service_errmsg(f->svc), "check: refused");
  docstore_free(report);
}

static uint64_t json_u64(const cJSON *root, const char *op, const char *f) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, op);
  assert_non_null(o);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);
  assert_true(cJSON_IsNumber(v));
  return (uint64_t)v->valuedouble;
}

static void test_stats(void **state) {
  fixture *f = *state;
  char *path = NULL, *json = NULL;
  assert_int_equal(docstore_service_store_document(f->svc, &path, "1", "a.txt",
                                                   (const uint8_t *)"abc", 3,
                                                   NULL),
                   0);
  char *out = NULL;
  size_t len;
  fake_provider_fail(f->fp, FAKE_GET, DOCSTORE_ECONNECT, NULL, 1);
  assert_int_equal(
      docstore_service_retrieve_encrypted(f->svc, &out, &len, path),
      DOCSTORE_ECONNECT);
  assert_int_equal(docstore_service_stats_json(f->svc, &json), 0);
  cJSON *root = cJSON_Parse(json);
  assert_non_null(root);
  assert_int_equal(json_u64(root, "put", "successes"), 1);
  assert_true(json_u64(root, "put", "bytes") > 3); /* the envelope */
  assert_int_equal(json_u64(root, "get", "failures"), 1);
  assert_int_equal(json_u64(root, "encrypt", "successes"), 1);
  assert_int_equal(json_u64(root, "encrypt", "bytes"), 3);
  assert_int_equal(json_u64(root, "fallback", "successes"), 0);
  for (int op = 0; op < DOCSTORE_OP_COUNT_; op++) {
    const cJSON *o =
        cJSON_GetObjectItemCaseSensitive(root, docstore_op_name(op));
    assert_non_null(o);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "avg_latency_us"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "retries"));
  }
  cJSON_Delete(root);
  docstore_free(json);

  docstore_op_stats s = {0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(docstore_service_stats(f->svc, &s, DOCSTORE_OP_PUT),
                   DOCSTORE_EINVAL);
  s.version = DOCSTORE_OP_STATS_VERSION;
  assert_int_equal(docstore_service_stats(f->svc, &s, 99), DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_stats(NULL, &s, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_service_stats_json(NULL, &json), DOCSTORE_EINVAL);

  docstore_service_stats_reset(f->svc);
  docstore_service_stats_reset(NULL);
  for (int op = 0; op < DOCSTORE_OP_COUNT_; op++) {
    s = stats(f->svc, op);
    assert_int_equal(s.successes + s.failures + s.bytes + s.total_latency_us,
                     0);
  }
  docstore_free(path);
}

/* ------------------------------------------------------- threads */

#define THREADS 8
#define ROUNDS 12

typedef struct worker {
  docstore_service *svc;
  int id;
  int errors;
  char last[128]; /* this thread's own last error after a failing call */
} worker;

static void *work(void *arg) {
  worker *w = arg;
  char file_id[32], text[64], user[16];
  snprintf(user, sizeof(user), "u%d", w->id);
  for (int i = 0; i < ROUNDS; i++) {
    snprintf(file_id, sizeof(file_id), "%d-%d", w->id, i);
    snprintf(text, sizeof(text), "document %d of thread %d", i, w->id);
    char *path = NULL;
    uint8_t *plain = NULL;
    size_t len = 0;
    if (docstore_service_store_document(w->svc, &path, file_id, "doc.pdf",
                                        (const uint8_t *)text, strlen(text),
                                        user) != 0) {
      w->errors++;
      continue;
    }
    docstore_doc_id expect = {file_id, user};
    if (docstore_service_read_document(w->svc, &plain, &len, path, &expect) ||
        len != strlen(text) || memcmp(plain, text, len) != 0)
      w->errors++;
    docstore_free(plain);
    if (docstore_service_delete(w->svc, path) != 0)
      w->errors++;
    /* A failing call: its message is this thread's own. */
    char *out = NULL;
    if (docstore_service_retrieve_encrypted(w->svc, &out, &len, path) !=
        DOCSTORE_ENOTFOUND)
      w->errors++;
    snprintf(w->last, sizeof(w->last), "%s", docstore_last_errmsg());
    if (!strstr(w->last, path))
      w->errors++;
    docstore_free(path);
  }
  return NULL;
}

static void run_threads(docstore_service *svc) {
  pthread_t t[THREADS];
  worker w[THREADS];
  docstore_service_stats_reset(svc);
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){svc, i, 0, ""};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    if (w[i].errors)
      fail_msg("thread %d: %d errors (last: %s)", i, w[i].errors, w[i].last);
  }
  const uint64_t n = THREADS * ROUNDS;
  docstore_op_stats s = stats(svc, DOCSTORE_OP_PUT);
  assert_int_equal(s.successes, n);
  assert_int_equal(s.failures, 0);
  s = stats(svc, DOCSTORE_OP_GET);
  assert_int_equal(s.successes, n);
  assert_int_equal(s.failures, n);
  assert_int_equal(stats(svc, DOCSTORE_OP_DELETE).successes, n);
  assert_int_equal(stats(svc, DOCSTORE_OP_ENCRYPT).successes, n);
  s = stats(svc, DOCSTORE_OP_DECRYPT);
  assert_int_equal(s.successes, n);
  assert_int_equal(s.bytes, stats(svc, DOCSTORE_OP_ENCRYPT).bytes);
  /* The handle holds some thread's last failure. */
  assert_non_null(strstr(docstore_service_errmsg(svc), "get documents/user_u"));
}

static void test_threads_fake(void **state) {
  fixture *f = *state;
  log_reset(DOCSTORE_LOG_WARN);
  run_threads(f->svc);
  assert_int_equal(fake_provider_count(f->fp), 0);
}

static void test_threads_local(void **state) {
  fixture *f = *state;
  log_reset(DOCSTORE_LOG_WARN);
  run_threads(f->svc);
  listed l = {0};
  assert_int_equal(docstore_service_list(f->svc, NULL, count_cb, &l), 0);
  assert_int_equal(l.n, 0);
}

/* ------------------------------------------------------- default service */

static docstore_config *local_config(const char *root) {
  docstore_config *cfg = NULL;
  assert_int_equal(docstore_config_new(&cfg), 0);
  assert_int_equal(docstore_config_set(cfg, "STORAGE_TYPE", "local"), 0);
  assert_int_equal(docstore_config_set(cfg, "LOCAL_STORAGE_PATH", root), 0);
  return cfg;
}

typedef struct racer {
  const docstore_config *cfg;
  pthread_barrier_t *start;
  int rc;
  docstore_service *seen;
} racer;

static void *race(void *arg) {
  racer *r = arg;
  pthread_barrier_wait(r->start);
  r->rc = docstore_default_init(r->cfg, NULL, 0);
  r->seen = docstore_default_get();
  return NULL;
}

static void test_default_service_races(void **state) {
  (void)state;
  char root[PATH_MAX];
  snprintf(root, sizeof(root), "%s/default", tmpdir);
  docstore_config *cfg = local_config(root);
  pthread_barrier_t start;
  pthread_t t[THREADS];
  racer r[THREADS];
  assert_null(docstore_default_get());
  for (int round = 0; round < 3; round++) {
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
      r[i] = (racer){cfg, &start, 1, NULL};
      assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    int winners = 0;
    for (int i = 0; i < THREADS; i++) {
      pthread_join(t[i], NULL);
      if (r[i].rc == 0)
        winners++;
      else
        assert_int_equal(r[i].rc, DOCSTORE_EEXISTS);
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(winners, 1);
    docstore_service *svc = docstore_default_get();
    assert_non_null(svc);
    for (int i = 0; i < THREADS; i++)
      assert_ptr_equal(r[i].seen, svc);
    assert_string_equal(docstore_service_storage_type(svc), "local");
    /* A later call keeps the first. */
    char errbuf[256];
    assert_int_equal(docstore_default_init(cfg, errbuf, sizeof(errbuf)),
                     DOCSTORE_EEXISTS);
    assert_non_null(strstr(errbuf, "already"));
    assert_ptr_equal(docstore_default_get(), svc);
    docstore_default_shutdown();
    assert_null(docstore_default_get());
  }
  docstore_default_shutdown(); /* twice: harmless */
  docstore_config_free(cfg);
}

static void test_default_service_errors_and_env(void **state) {
  (void)state;
  char file[PATH_MAX], root[PATH_MAX + 16], errbuf[512];
  snprintf(file, sizeof(file), "%s/plain", tmpdir);
  write_text(file, "x");
  snprintf(root, sizeof(root), "%s/sub", file);
  docstore_config *cfg = local_config(root);
  assert_true(docstore_default_init(cfg, errbuf, sizeof(errbuf)) < 0);
  assert_non_null(strstr(errbuf, "LOCAL_STORAGE_PATH"));
  assert_null(docstore_default_get());
  docstore_config_free(cfg);

  /* NULL: from the environment. */
  snprintf(root, sizeof(root), "%s/fromenv", tmpdir);
  setenv("STORAGE_TYPE", "local", 1);
  setenv("LOCAL_STORAGE_PATH", root, 1);
  unsetenv("RSA_PUBLIC_KEY_PATH");
  unsetenv("RSA_PRIVATE_KEY_PATH");
  assert_int_equal(docstore_default_init(NULL, errbuf, sizeof(errbuf)), 0);
  assert_non_null(docstore_default_get());
  struct stat st;
  assert_int_equal(stat(root, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  docstore_default_shutdown();
  unsetenv("STORAGE_TYPE");
  unsetenv("LOCAL_STORAGE_PATH");
}

int main(void) {
#define FAKE(fn) cmocka_unit_test_setup_teardown(fn, setup_fake, teardown)
#define LOCAL(fn) cmocka_unit_test_setup_teardown(fn, setup_local, teardown)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_and_new),
      FAKE(test_store_and_retrieve),
      FAKE(test_store_refuses_bad_input),
      cmocka_unit_test(test_store_without_validation),
      FAKE(test_provider_failures_surface),
      FAKE(test_fallback),
      FAKE(test_fallback_failures),
      FAKE(test_fallback_confined),
      FAKE(test_fallback_root_through_link),
      FAKE(test_fallback_allow_outside),
      cmocka_unit_test(test_fallback_outside_from_config),
      FAKE(test_delete_and_exists),
      FAKE(test_presign),
      LOCAL(test_local_service),
      FAKE(test_documents_round_trip),
      FAKE(test_store_refuses_envelope_of_another_document),
      cmocka_unit_test(test_documents_need_keyring),
      FAKE(test_list_and_check),
      FAKE(test_stats),
      FAKE(test_threads_fake),
      LOCAL(test_threads_local),
      cmocka_unit_test(test_default_service_races),
      cmocka_unit_test(test_default_service_errors_and_env),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
