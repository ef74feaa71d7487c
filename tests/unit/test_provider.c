/*
 * Unit tests: provider dispatch layer (src/provider/provider.c) and
 * docstore_key_check().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "docstore/docstore.h"
#include "docstore/sys/provider.h"
#include "helpers/fake_provider.h"
#include "helpers/stream_helpers.h"
#include "provider/provider_internal.h"

/* ------------------------------------------------------------ keys */

static void test_key_check_accepts(void **state) {
  (void)state;
  static const char *const good[] = {
      "a",
      "documents/user_123/2024/01/15/1_passport.pdf_pdf.json",
      "documents/system/2024/01/15/5_template.pdf_pdf.json",
      "a/b/c",
      ".hidden",    /* a segment may start with a dot */
      "a/...",      /* three dots is a name, not a traversal */
      "a/..b/c.",   /* dots inside names */
      "with space", /* legal in S3 keys */
      "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.pdf", /* UTF-8 */
      "\xf0\x9f\x93\x84",                               /* U+1F4C4 */
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_int_equal(docstore_key_check(good[i]), 0);
  char max[1025];
  memset(max, 'k', 1024);
  max[1024] = '\0';
  assert_int_equal(docstore_key_check(max), 0);
}

static void test_key_check_refuses(void **state) {
  (void)state;
  static const struct {
    const char *key;
    const char *reason; /* part of the message */
  } bad[] = {
      {"", "empty"},
      {"/abs", "start with '/'"},
      {"/", "start with '/'"},
      {"..", "'..'"},
      {".", "'.'"},
      {"../etc/passwd", "'..'"},
      {"a/../../etc", "'..'"},
      {"a/./b", "'.'"},
      {"a/..", "'..'"},
      {"a//b", "empty path segment"},
      {"a/", "empty path segment"},
      {"a\\b", "backslash"},
      {"..\\..\\windows", "backslash"},
      {"a\nb", "control character"},
      {"a\tb", "control character"},
      {"a\x1b[31mred", "control character"},
      {"del\x7f", "control character"},
      {"c1\xc2\x85", "control character"}, /* U+0085 NEL */
      {"bad\xff", "UTF-8"},
      {"trunc\xc3", "UTF-8"},
      {"over\xc0\xaf", "UTF-8"},        /* overlong '/' */
      {"surr\xed\xa0\x80", "UTF-8"},    /* U+D800 */
      {"big\xf4\x90\x80\x80", "UTF-8"}, /* > U+10FFFF */
      {"lone\x80", "UTF-8"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(docstore_key_check(bad[i].key), DOCSTORE_EINVAL);
    if (!strstr(docstore_last_errmsg(), bad[i].reason))
      fail_msg("key #%zu: message \"%s\" lacks \"%s\"", i,
               docstore_last_errmsg(), bad[i].reason);
  }
  assert_int_equal(docstore_key_check(NULL), DOCSTORE_EINVAL);
  char *huge = malloc(2001);
  assert_non_null(huge);
  memset(huge, 'k', 2000);
  huge[2000] = '\0';
  assert_int_equal(docstore_key_check(huge), DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_last_errmsg(), "2000 bytes"));
  huge[1025] = '\0';
  assert_int_equal(docstore_key_check(huge), DOCSTORE_EINVAL);
  free(huge);
}

static void test_prefix_check(void **state) {
  (void)state;
  docstore__err err;
  assert_int_equal(docstore__prefix_check("", &err), 0);
  assert_int_equal(docstore__prefix_check("documents/", &err), 0);
  assert_int_equal(docstore__prefix_check("documents/user_1", &err), 0);
  assert_int_equal(docstore__prefix_check("../", &err), DOCSTORE_EINVAL);
  assert_int_equal(docstore__prefix_check("/documents", &err), DOCSTORE_EINVAL);
  assert_int_equal(docstore__prefix_check("a//", &err), DOCSTORE_EINVAL);
  assert_int_equal(docstore__prefix_check("a/..", &err), DOCSTORE_EINVAL);
}

/* ------------------------------------------------------------ handle */

static int freed;
static int stub_put(void *p, const char *k, const uint8_t *d, size_t n,
                    docstore_errinfo *e) {
  return 0;
}
static int stub_get(void *p, const char *k, docstore_sink_cb s, void *sp,
                    docstore_errinfo *e) {
  return s(sp, (const uint8_t *)"xyz", 3);
}
static int stub_head(void *p, const char *k, docstore_object_info *i,
                     docstore_errinfo *e) {
  return 0;
}
static int stub_del(void *p, const char *k, docstore_errinfo *e) { return 0; }
static void stub_free(void *p) { freed++; }

static docstore_provider_ops stub_ops(void) {
  docstore_provider_ops ops;
  /* ops_init of version 1 writes the version 1 fields only; a test that
   * raises the version reads the later ones, zero here. */
  memset(&ops, 0, sizeof(ops));
  assert_int_equal(docstore_provider_ops_init(&ops, 1), 0);
  ops.name = "stub";
  ops.put = stub_put;
  ops.get = stub_get;
  ops.head = stub_head;
  ops.del = stub_del;
  ops.free = stub_free;
  return ops;
}

static void test_ops_init(void **state) {
  (void)state;
  docstore_provider_ops ops;
  memset(&ops, 0x5A, sizeof(ops));
  assert_int_equal(docstore_provider_ops_init(&ops, 1), 0);
  assert_int_equal(ops.version, 1);
  assert_null(ops.put);
  assert_null(ops.free);
  /* Version 1: nothing past `free` is written (the caller's table may be
   * the shorter version 1 struct). */
  const uint8_t *tail = (const uint8_t *)&ops.put_begin;
  for (size_t i = 0;
       i < sizeof(ops) - offsetof(docstore_provider_ops, put_begin); i++)
    assert_int_equal(tail[i], 0x5A);
  assert_int_equal(docstore_provider_ops_init(&ops, 2), 0);
  assert_int_equal(ops.version, 2);
  assert_null(ops.put_begin);
  assert_null(ops.get_close);
  assert_int_equal(docstore_provider_ops_init(&ops, 0), DOCSTORE_EINVAL);
  assert_int_equal(
      docstore_provider_ops_init(&ops, DOCSTORE_PROVIDER_OPS_VERSION + 1),
      DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_ops_init(NULL, 1), DOCSTORE_EINVAL);
}

static void test_new_refuses_and_frees_payload(void **state) {
  (void)state;
  docstore_provider *p = (docstore_provider *)0x1;
  docstore_provider_ops ops = stub_ops();

  assert_int_equal(docstore_provider_new(&p, NULL, NULL), DOCSTORE_EINVAL);
  assert_null(p);

  freed = 0;
  ops.version = 0;
  assert_int_equal(docstore_provider_new(&p, &ops, NULL), DOCSTORE_EINVAL);
  assert_int_equal(freed, 1);
  assert_non_null(strstr(docstore_last_errmsg(), "version"));

  for (int which = 0; which < 4; which++) {
    ops = stub_ops();
    switch (which) {
    case 0:
      ops.put = NULL;
      break;
    case 1:
      ops.get = NULL;
      break;
    case 2:
      ops.head = NULL;
      break;
    default:
      ops.del = NULL;
      break;
    }
    freed = 0;
    assert_int_equal(docstore_provider_new(&p, &ops, NULL), DOCSTORE_EINVAL);
    assert_null(p);
    assert_int_equal(freed, 1);
    assert_non_null(strstr(docstore_last_errmsg(), "stub"));
  }

  ops = stub_ops();
  ops.free = NULL; /* cannot be called, but must be refused */
  assert_int_equal(docstore_provider_new(&p, &ops, NULL), DOCSTORE_EINVAL);

  ops = stub_ops();
  freed = 0;
  assert_int_equal(docstore_provider_new(NULL, &ops, NULL), DOCSTORE_EINVAL);
  assert_int_equal(freed, 1);
}

static void test_new_accepts_newer_version_and_names(void **state) {
  (void)state;
  docstore_provider *p = NULL;
  docstore_provider_ops ops = stub_ops();
  ops.version = DOCSTORE_PROVIDER_OPS_VERSION + 1;
  freed = 0;
  assert_int_equal(docstore_provider_new(&p, &ops, NULL), 0);
  assert_string_equal(docstore_provider_name(p), "stub");
  /* The table was copied: changing ours does not change the provider. */
  ops.get = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  assert_int_equal(docstore_provider_get(p, &data, &len, "k"), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(data, "xyz", 3);
  docstore_free(data);
  /* Defaults until a built-in provider sets them. */
  assert_string_equal(docstore__provider_display_name(p), "stub");
  assert_string_equal(docstore__provider_location(p), "");
  assert_int_equal(docstore__provider_set_location(p, "mem://x/"), 0);
  assert_int_equal(docstore__provider_set_display_name(p, "Stub store"), 0);
  assert_string_equal(docstore__provider_location(p), "mem://x/");
  assert_string_equal(docstore__provider_display_name(p), "Stub store");
  assert_int_equal(docstore__provider_set_location(p, NULL), DOCSTORE_EINVAL);
  docstore_provider_free(p);
  assert_int_equal(freed, 1);

  ops = stub_ops();
  ops.name = NULL;
  assert_int_equal(docstore_provider_new(&p, &ops, NULL), 0);
  assert_string_equal(docstore_provider_name(p), "custom");
  docstore_provider_free(p);

  docstore_provider_free(NULL);
  assert_non_null(docstore_provider_name(NULL));
  assert_non_null(docstore_provider_errmsg(NULL));
}

/* ------------------------------------------------------------ dispatch */

typedef struct fixture {
  docstore_provider *p;
  fake_provider *fp;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || fake_provider_new(&f->p, &f->fp, 0) != 0)
    return -1;
  *state = f;
  return 0;
}

static int setup_minimal(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f ||
      fake_provider_new(&f->p, &f->fp,
                        FAKE_NO_LIST | FAKE_NO_PRESIGN | FAKE_NO_CHECK) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  docstore_provider_free(f->p);
  free(f);
  return 0;
}

static docstore_op_stats stats(docstore_provider *p, int op) {
  docstore_op_stats s = {DOCSTORE_OP_STATS_VERSION, 0, 0, 0, 0, 0, 0};
  assert_int_equal(docstore__metrics_get(docstore__provider_metrics(p), op, &s),
                   0);
  return s;
}

static void test_invalid_keys_never_reach_provider(void **state) {
  fixture *f = *state;
  static const char *const bad[] = {"../x",  "/abs", "a//b", "a/",
                                    "a\x01", "\xff", ""};
  uint8_t *data;
  size_t len;
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  char *url;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(
        docstore_provider_put(f->p, bad[i], (const uint8_t *)"x", 1),
        DOCSTORE_EINVAL);
    assert_non_null(strstr(docstore_provider_errmsg(f->p), "put: key"));
    assert_int_equal(docstore_provider_get(f->p, &data, &len, bad[i]),
                     DOCSTORE_EINVAL);
    assert_null(data);
    assert_int_equal(docstore_provider_head(f->p, &info, bad[i]),
                     DOCSTORE_EINVAL);
    assert_int_equal(docstore_provider_delete(f->p, bad[i]), DOCSTORE_EINVAL);
    assert_int_equal(docstore_provider_presign(f->p, &url, bad[i], 0, 60),
                     DOCSTORE_EINVAL);
    assert_null(url);
  }
  assert_int_equal(docstore_provider_get(f->p, &data, &len, NULL),
                   DOCSTORE_EINVAL);
  for (int op = 0; op < FAKE_OP_COUNT; op++)
    assert_int_equal(fake_provider_calls(f->fp, (fake_op)op), 0);
  /* Refused calls are counted as failures. */
  assert_int_equal(stats(f->p, DOCSTORE_OP_PUT).failures, 7);
  assert_int_equal(stats(f->p, DOCSTORE_OP_GET).failures, 8);
  /* The refused key is not echoed (it could hold terminal escapes). */
  assert_int_equal(
      docstore_provider_put(f->p, "a\x1b[2J", (const uint8_t *)"x", 1),
      DOCSTORE_EINVAL);
  assert_null(strchr(docstore_provider_errmsg(f->p), '\x1b'));
}

static void test_round_trip_and_metrics(void **state) {
  fixture *f = *state;
  const char *key = "documents/system/2024/01/15/1_a.txt_txt.json";
  assert_int_equal(
      docstore_provider_put(f->p, key, (const uint8_t *)"hello", 5), 0);
  uint8_t *data = NULL;
  size_t len = 0;
  assert_int_equal(docstore_provider_get(f->p, &data, &len, key), 0);
  assert_int_equal(len, 5);
  assert_memory_equal(data, "hello", 5);
  assert_int_equal(data[5], 0); /* NUL-terminated for convenience */
  docstore_free(data);

  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  assert_int_equal(docstore_provider_head(f->p, &info, key), 0);
  assert_int_equal(info.size, 5);
  assert_string_equal(info.etag, "\"fake-etag\"");

  assert_int_equal(docstore_provider_delete(f->p, key), 0);
  assert_int_equal(docstore_provider_delete(f->p, key), 0); /* idempotent */
  assert_int_equal(docstore_provider_get(f->p, &data, &len, key),
                   DOCSTORE_ENOTFOUND);

  docstore_op_stats s = stats(f->p, DOCSTORE_OP_PUT);
  assert_int_equal(s.successes, 1);
  assert_int_equal(s.bytes, 5);
  s = stats(f->p, DOCSTORE_OP_GET);
  assert_int_equal(s.successes, 1);
  assert_int_equal(s.failures, 1);
  assert_int_equal(s.bytes, 5);
  assert_int_equal(stats(f->p, DOCSTORE_OP_HEAD).successes, 1);
  assert_int_equal(stats(f->p, DOCSTORE_OP_DELETE).successes, 2);
}

static void test_empty_object(void **state) {
  fixture *f = *state;
  assert_int_equal(docstore_provider_put(f->p, "empty", NULL, 0), 0);
  uint8_t *data = NULL;
  size_t len = 99;
  assert_int_equal(docstore_provider_get(f->p, &data, &len, "empty"), 0);
  assert_non_null(data);
  assert_int_equal(len, 0);
  docstore_free(data);
  assert_int_equal(docstore_provider_put(f->p, "x", NULL, 3), DOCSTORE_EINVAL);
  assert_int_equal(fake_provider_calls(f->fp, FAKE_PUT), 1);
}

static void test_failure_messages(void **state) {
  fixture *f = *state;
  uint8_t *data;
  size_t len;
  /* The provider's message, prefixed with op and key; code preserved. */
  fake_provider_fail(f->fp, FAKE_GET, DOCSTORE_ECONNECT, "connection refused",
                     1);
  assert_int_equal(docstore_provider_get(f->p, &data, &len, "documents/k"),
                   DOCSTORE_ECONNECT);
  assert_string_equal(docstore_provider_errmsg(f->p),
                      "get documents/k: connection refused");
  assert_string_equal(docstore_last_errmsg(),
                      "get documents/k: connection refused");
  assert_int_equal(docstore_last_errcode(), DOCSTORE_ECONNECT);

  /* No message from the provider: the code's text. */
  fake_provider_fail(f->fp, FAKE_PUT, DOCSTORE_ETIMEOUT, NULL, 1);
  assert_int_equal(docstore_provider_put(f->p, "k", (const uint8_t *)"x", 1),
                   DOCSTORE_ETIMEOUT);
  assert_string_equal(docstore_provider_errmsg(f->p), "put k: timed out");

  /* A code this library does not know becomes DOCSTORE_EIO. */
  fake_provider_fail(f->fp, FAKE_DEL, -1000, "weird", 1);
  assert_int_equal(docstore_provider_delete(f->p, "k"), DOCSTORE_EIO);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "-1000"));

  /* Missing object from the fake. */
  assert_int_equal(docstore_provider_get(f->p, &data, &len, "nope"),
                   DOCSTORE_ENOTFOUND);
  assert_string_equal(docstore_provider_errmsg(f->p), "get nope: no such key");

  /* Injections are used up: the next call works. */
  assert_int_equal(docstore_provider_put(f->p, "k", (const uint8_t *)"x", 1),
                   0);
  assert_int_equal(stats(f->p, DOCSTORE_OP_PUT).failures, 1);
  assert_int_equal(stats(f->p, DOCSTORE_OP_DELETE).failures, 1);
}

static void test_head_needs_version(void **state) {
  fixture *f = *state;
  docstore_object_info info = {0, 0, 0, 0, 0};
  assert_int_equal(docstore_provider_head(f->p, &info, "k"), DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_head(f->p, NULL, "k"), DOCSTORE_EINVAL);
  assert_int_equal(fake_provider_calls(f->fp, FAKE_HEAD), 0);
  info.version = DOCSTORE_OBJECT_INFO_VERSION;
  info.size = 77;
  assert_int_equal(docstore_provider_head(f->p, &info, "k"),
                   DOCSTORE_ENOTFOUND);
  assert_int_equal(info.size, 0); /* cleared before the call */
}

typedef struct seen {
  int count;
  int stop_after; /* 0: never */
  int stop_value;
  uint64_t bytes;
} seen;

static int on_object(void *payload, const docstore_object_info *info) {
  seen *s = payload;
  s->count++;
  s->bytes += info->size;
  assert_int_equal(docstore_key_check(info->key), 0);
  if (s->stop_after && s->count >= s->stop_after)
    return s->stop_value;
  return 0;
}

static void test_list(void **state) {
  fixture *f = *state;
  assert_int_equal(fake_provider_seed(f->fp, "documents/a", "1", 1), 0);
  assert_int_equal(fake_provider_seed(f->fp, "documents/b", "22", 2), 0);
  assert_int_equal(fake_provider_seed(f->fp, "other/c", "333", 3), 0);
  seen s = {0, 0, 0, 0};
  assert_int_equal(docstore_provider_list(f->p, "documents/", on_object, &s),
                   0);
  assert_int_equal(s.count, 2);
  assert_int_equal(s.bytes, 3);
  memset(&s, 0, sizeof(s));
  assert_int_equal(docstore_provider_list(f->p, NULL, on_object, &s), 0);
  assert_int_equal(s.count, 3);

  /* The callback stops: not a provider failure, the caller is told. */
  s = (seen){0, 1, 1, 0};
  assert_int_equal(docstore_provider_list(f->p, "", on_object, &s),
                   DOCSTORE_ECANCELED);
  assert_int_equal(s.count, 1);
  s = (seen){0, 2, DOCSTORE_EBUSY, 0};
  assert_int_equal(docstore_provider_list(f->p, "", on_object, &s),
                   DOCSTORE_EBUSY);
  assert_int_equal(s.count, 2);
  assert_int_equal(stats(f->p, DOCSTORE_OP_LIST).failures, 0);
  assert_int_equal(stats(f->p, DOCSTORE_OP_LIST).successes, 4);

  assert_int_equal(docstore_provider_list(f->p, "../", on_object, &s),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_list(f->p, "", NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(fake_provider_calls(f->fp, FAKE_LIST), 4);

  fake_provider_fail(f->fp, FAKE_LIST, DOCSTORE_EACCESS, "denied", 1);
  assert_int_equal(docstore_provider_list(f->p, "documents/", on_object, &s),
                   DOCSTORE_EACCESS);
  assert_string_equal(docstore_provider_errmsg(f->p),
                      "list documents/: denied");
}

static void test_presign_and_check(void **state) {
  fixture *f = *state;
  char *url = NULL;
  assert_int_equal(docstore_provider_presign(f->p, &url, "documents/k",
                                             DOCSTORE_PRESIGN_GET, 3600),
                   0);
  assert_string_equal(
      url, "https://fake.invalid/documents/k?method=GET&expires=3600");
  docstore_free(url);
  assert_int_equal(docstore_provider_presign(f->p, &url, "k", 7, 60),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_presign(f->p, &url, "k", 0, 0),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_presign(f->p, NULL, "k", 0, 60),
                   DOCSTORE_EINVAL);
  assert_int_equal(fake_provider_calls(f->fp, FAKE_PRESIGN), 1);
  assert_int_equal(stats(f->p, DOCSTORE_OP_PRESIGN).successes, 1);

  char *report = NULL;
  assert_int_equal(docstore_provider_check(f->p, &report), 0);
  assert_string_equal(report, "fake: ok\n");
  docstore_free(report);
  assert_int_equal(docstore_provider_check(f->p, NULL), 0);
  /* A failing check still hands over its report. */
  fake_provider_fail(f->fp, FAKE_CHECK, DOCSTORE_ENOBUCKET, "no bucket", 1);
  assert_int_equal(docstore_provider_check(f->p, &report), DOCSTORE_ENOBUCKET);
  assert_string_equal(report, "fake: unhealthy\n");
  assert_string_equal(docstore_provider_errmsg(f->p), "check: no bucket");
  docstore_free(report);
}

static void test_missing_optional_ops(void **state) {
  fixture *f = *state;
  char *url = (char *)0x1;
  assert_int_equal(docstore_provider_presign(f->p, &url, "documents/k", 0, 60),
                   DOCSTORE_EUNSUPPORTED);
  assert_null(url);
  assert_string_equal(
      docstore_provider_errmsg(f->p),
      "presign documents/k: provider fake does not support presigned URLs");
  assert_int_equal(stats(f->p, DOCSTORE_OP_PRESIGN).failures, 1);
  seen s = {0, 0, 0, 0};
  assert_int_equal(docstore_provider_list(f->p, "", on_object, &s),
                   DOCSTORE_EUNSUPPORTED);
  assert_non_null(strstr(docstore_provider_errmsg(f->p), "listing"));
  char *report = (char *)0x1;
  assert_int_equal(docstore_provider_check(f->p, &report),
                   DOCSTORE_EUNSUPPORTED);
  assert_null(report);
}

static void test_null_provider(void **state) {
  (void)state;
  uint8_t *data;
  size_t len;
  assert_int_equal(docstore_provider_put(NULL, "k", (const uint8_t *)"x", 1),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_get(NULL, &data, &len, "k"),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_delete(NULL, "k"), DOCSTORE_EINVAL);
  assert_int_equal(docstore_provider_check(NULL, NULL), DOCSTORE_EINVAL);
}

/* ------------------------------------- streaming: the buffering adapter */

/* The version 1 layout of docstore_provider_ops, as a provider compiled
 * against a 0.1/0.2 header has it. */
typedef struct ops_v1 {
  unsigned int version;
  const char *name;
  int (*put)(void *, const char *, const uint8_t *, size_t, docstore_errinfo *);
  int (*get)(void *, const char *, docstore_sink_cb, void *,
             docstore_errinfo *);
  int (*head)(void *, const char *, docstore_object_info *, docstore_errinfo *);
  int (*del)(void *, const char *, docstore_errinfo *);
  int (*list)(void *, const char *, docstore_list_cb, void *,
              docstore_errinfo *);
  int (*presign)(void *, const char *, int, uint64_t, docstore_sink_cb, void *,
                 docstore_errinfo *);
  int (*check)(void *, docstore_sink_cb, void *, docstore_errinfo *);
  int (*get_range)(void *, const char *, uint64_t, uint64_t, docstore_sink_cb,
                   void *, docstore_errinfo *);
  void (*free)(void *);
} ops_v1;

_Static_assert(sizeof(ops_v1) == offsetof(docstore_provider_ops, put_begin),
               "a version 1 table ends where version 2 appends");

#define MEM_KEYS 4

typedef struct mem {
  char *key[MEM_KEYS];
  uint8_t *data[MEM_KEYS];
  size_t len[MEM_KEYS];
  int puts, gets, heads, ranges;
  int short_ranges;    /* get_range sends half of what is asked */
  int corrupt_puts;    /* put stores the data with its last byte flipped */
  const uint8_t *huge; /* get of "huge" sends these huge_len bytes */
  size_t huge_len;
  int *freed;
} mem;

static int mem_find(mem *m, const char *key) {
  for (int i = 0; i < MEM_KEYS; i++)
    if (m->key[i] && strcmp(m->key[i], key) == 0)
      return i;
  return -1;
}

static int mem_put(void *payload, const char *key, const uint8_t *data,
                   size_t len, docstore_errinfo *err) {
  mem *m = payload;
  m->puts++;
  int i = mem_find(m, key);
  for (int j = 0; i < 0 && j < MEM_KEYS; j++)
    if (!m->key[j]) {
      i = j;
      m->key[j] = strdup(key);
    }
  if (i < 0)
    return docstore_errinfo_set(err, DOCSTORE_EIO, "memory provider full");
  free(m->data[i]);
  m->data[i] = malloc(len ? len : 1);
  memcpy(m->data[i], data, len);
  if (m->corrupt_puts && len > 0)
    m->data[i][len - 1] ^= 0x01;
  m->len[i] = len;
  return 0;
}

static int mem_get(void *payload, const char *key, docstore_sink_cb sink,
                   void *sp, docstore_errinfo *err) {
  mem *m = payload;
  m->gets++;
  if (m->huge && strcmp(key, "huge") == 0)
    return sink(sp, m->huge, m->huge_len);
  int i = mem_find(m, key);
  if (i < 0)
    return docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such object");
  /* In pieces, as a network provider would. */
  for (size_t off = 0; off < m->len[i]; off += 10000) {
    size_t k = m->len[i] - off < 10000 ? m->len[i] - off : 10000;
    int rc = sink(sp, m->data[i] + off, k);
    if (rc)
      return rc < 0 ? rc : DOCSTORE_ECANCELED;
  }
  return 0;
}

static int mem_head(void *payload, const char *key, docstore_object_info *info,
                    docstore_errinfo *err) {
  mem *m = payload;
  m->heads++;
  int i = mem_find(m, key);
  if (i < 0)
    return docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such object");
  info->size = m->len[i];
  return 0;
}

static int mem_del(void *payload, const char *key, docstore_errinfo *err) {
  (void)err;
  mem *m = payload;
  int i = mem_find(m, key);
  if (i >= 0) {
    free(m->key[i]);
    free(m->data[i]);
    m->key[i] = NULL;
    m->data[i] = NULL;
  }
  return 0;
}

static int mem_get_range(void *payload, const char *key, uint64_t offset,
                         uint64_t length, docstore_sink_cb sink, void *sp,
                         docstore_errinfo *err) {
  mem *m = payload;
  m->ranges++;
  int i = mem_find(m, key);
  if (i < 0)
    return docstore_errinfo_set(err, DOCSTORE_ENOTFOUND, "no such object");
  if (offset > m->len[i])
    return docstore_errinfo_set(err, DOCSTORE_EINVAL, "bad range");
  uint64_t n = m->len[i] - offset < length ? m->len[i] - offset : length;
  if (m->short_ranges)
    n /= 2;
  int rc = sink(sp, m->data[i] + offset, (size_t)n);
  return rc ? (rc < 0 ? rc : DOCSTORE_ECANCELED) : 0;
}

static void mem_free(void *payload) {
  mem *m = payload;
  for (int i = 0; i < MEM_KEYS; i++) {
    free(m->key[i]);
    free(m->data[i]);
  }
  if (m->freed)
    *m->freed = 1;
  free(m);
}

/* A version 1 table placed right before an inaccessible page: reading one
 * byte past its end faults. */
typedef struct guarded {
  void *map;
  size_t page;
  ops_v1 *ops;
} guarded;

static void guarded_new(guarded *g) {
  g->page = (size_t)sysconf(_SC_PAGESIZE);
  g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(g->map != MAP_FAILED);
  assert_int_equal(mprotect((uint8_t *)g->map + g->page, g->page, PROT_NONE),
                   0);
  g->ops = (ops_v1 *)((uint8_t *)g->map + g->page - sizeof(ops_v1));
}

static void guarded_free(guarded *g) { munmap(g->map, 2 * g->page); }

static docstore_provider *mem_provider(int with_range, mem **out) {
  guarded g;
  guarded_new(&g);
  /* ops_init of version 1 writes no byte past the version 1 layout. */
  memset(g.ops, 0x5A, sizeof(*g.ops));
  assert_int_equal(
      docstore_provider_ops_init((docstore_provider_ops *)g.ops, 1), 0);
  assert_int_equal(g.ops->version, 1);
  assert_null(g.ops->get_range);
  assert_null(g.ops->free);
  g.ops->name = "memory";
  g.ops->put = mem_put;
  g.ops->get = mem_get;
  g.ops->head = mem_head;
  g.ops->del = mem_del;
  g.ops->get_range = with_range ? mem_get_range : NULL;
  g.ops->free = mem_free;
  mem *m = calloc(1, sizeof(*m));
  assert_non_null(m);
  docstore_provider *p = NULL;
  assert_int_equal(
      docstore_provider_new(&p, (const docstore_provider_ops *)g.ops, m), 0);
  guarded_free(&g); /* the table was copied */
  assert_int_equal(docstore__provider_streams_natively(p), 0);
  *out = m;
  return p;
}

/* The public whole-object calls of a version 1 provider work as before. */
static void test_v1_public_api_unchanged(void **state) {
  (void)state;
  mem *m;
  docstore_provider *p = mem_provider(0, &m);
  assert_int_equal(docstore_provider_put(p, "k", (const uint8_t *)"abc", 3), 0);
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(p, &d, &n, "k"), 0);
  assert_int_equal(n, 3);
  assert_memory_equal(d, "abc", 3);
  docstore_free(d);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, 0, 0, 0, 0};
  assert_int_equal(docstore_provider_head(p, &info, "k"), 0);
  assert_int_equal(info.size, 3);
  assert_int_equal(docstore_provider_delete(p, "k"), 0);
  assert_int_equal(docstore_provider_head(p, &info, "k"), DOCSTORE_ENOTFOUND);
  assert_int_equal(docstore_provider_list(p, "", NULL, NULL), DOCSTORE_EINVAL);
  int was_freed = 0;
  m->freed = &was_freed;
  docstore_provider_free(p);
  assert_int_equal(was_freed, 1);
}

/* A streamed put is held and stored with one put; without get_range a
 * streamed get is one get of the whole object. */
static void test_adapter_without_range(void **state) {
  (void)state;
  mem *m;
  docstore_provider *p = mem_provider(0, &m);
  docstore__err err;
  const size_t n = 250001;
  uint8_t *data = make_data(n);
  docstore_op_stats st;
  assert_int_equal(stream_put(p, "a/obj", data, n, 0, &err), 0);
  assert_int_equal(m->puts, 1);
  op_stats(p, DOCSTORE_OP_PUT, &st);
  assert_int_equal(st.successes, 1);
  assert_int_equal(st.bytes, n);
  expect_object(p, "a/obj", data, n);
  int gets = m->gets;
  size_t len;
  uint64_t size;
  int rc;
  uint8_t *got =
      stream_get(p, "a/obj", 0, UINT64_MAX, 7777, &len, &size, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(len, n);
  assert_memory_equal(got, data, n);
  free(got);
  assert_int_equal(m->gets, gets + 1);
  assert_int_equal(m->ranges, 0);
  check_ranges(p, "a/obj", data, n);
  /* Missing: the provider's answer, with the op and key. */
  docstore__get_stream *gs = NULL;
  assert_int_equal(
      docstore__provider_get_open(p, "nope", 0, 1, &gs, NULL, &err),
      DOCSTORE_ENOTFOUND);
  assert_string_equal(err.msg, "get nope: no such object");
  /* Abort stores nothing. */
  docstore__put_txn *t = NULL;
  int puts = m->puts;
  assert_int_equal(docstore__provider_put_begin(p, "b", NULL, &t, &err), 0);
  assert_int_equal(
      docstore__provider_put_write(t, (const uint8_t *)"xyz", 3, &err), 0);
  docstore__provider_put_abort(t);
  assert_int_equal(m->puts, puts);
  assert_int_equal(mem_find(m, "b"), -1);
  free(data);
  docstore_provider_free(p);
}

/* With get_range: the size from head, then 8 MiB windows. */
static void test_adapter_with_range(void **state) {
  (void)state;
  mem *m;
  docstore_provider *p = mem_provider(1, &m);
  docstore__err err;
  const size_t n = ((size_t)20 << 20) + 3;
  uint8_t *data = make_data(n);
  assert_int_equal(stream_put(p, "big", data, n, 0, &err), 0);
  m->gets = m->heads = m->ranges = 0;
  size_t len;
  uint64_t size;
  int rc;
  uint8_t *got =
      stream_get(p, "big", 0, UINT64_MAX, 1 << 20, &len, &size, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(size, n);
  assert_int_equal(len, n);
  assert_memory_equal(got, data, n);
  free(got);
  assert_int_equal(m->gets, 0);
  assert_int_equal(m->heads, 1);
  assert_int_equal(m->ranges, 3); /* 8 + 8 + 4 MiB */
  /* A range inside one window: one get_range. */
  m->ranges = 0;
  got = stream_get(p, "big", 12345, 100, 4096, &len, &size, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(len, 100);
  assert_memory_equal(got, data + 12345, 100);
  free(got);
  assert_int_equal(m->ranges, 1);
  /* Offset at the end: no get_range at all. */
  m->ranges = 0;
  got = stream_get(p, "big", n, UINT64_MAX, 4096, &len, &size, &rc, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(len, 0);
  free(got);
  assert_int_equal(m->ranges, 0);
  free(data);

  data = make_data(100003);
  assert_int_equal(stream_put(p, "small", data, 100003, 0, &err), 0);
  check_ranges(p, "small", data, 100003);

  /* The object shrinks between head and get_range: a clear error, one
   * failed GET, and the stream keeps failing. */
  docstore_op_stats before, after;
  op_stats(p, DOCSTORE_OP_GET, &before);
  m->short_ranges = 1;
  docstore__get_stream *gs = NULL;
  uint8_t buf[64];
  size_t g;
  assert_int_equal(
      docstore__provider_get_open(p, "small", 0, UINT64_MAX, &gs, NULL, &err),
      0);
  assert_int_equal(docstore__provider_get_read(gs, buf, sizeof(buf), &g, &err),
                   DOCSTORE_EIO);
  assert_non_null(strstr(err.msg, "get small: object shrank"));
  assert_int_equal(g, 0);
  assert_int_equal(docstore__provider_get_read(gs, buf, sizeof(buf), &g, &err),
                   DOCSTORE_EIO);
  docstore__provider_get_close(gs);
  op_stats(p, DOCSTORE_OP_GET, &after);
  assert_int_equal(after.failures, before.failures + 1);
  assert_int_equal(after.successes, before.successes);
  free(data);
  docstore_provider_free(p);
}

/* No-clobber through the adapter: head, then put. */
static void test_adapter_no_clobber(void **state) {
  (void)state;
  mem *m;
  docstore_provider *p = mem_provider(0, &m);
  docstore__err err;
  assert_int_equal(docstore_provider_put(p, "k", (const uint8_t *)"old", 3), 0);
  int puts = m->puts;
  assert_int_equal(stream_put(p, "k", (const uint8_t *)"new", 3,
                              DOCSTORE_PUT_NO_CLOBBER, &err),
                   DOCSTORE_EEXISTS);
  assert_non_null(strstr(err.msg, "put k: an object exists"));
  assert_int_equal(m->puts, puts);
  expect_object(p, "k", "old", 3);
  assert_int_equal(stream_put(p, "k2", (const uint8_t *)"new", 3,
                              DOCSTORE_PUT_NO_CLOBBER, &err),
                   0);
  expect_object(p, "k2", "new", 3);
  docstore_provider_free(p);
}

/* DOCSTORE_PUT_VERIFY through the adapter: put, then a read-back compared
 * with the held bytes; a store that keeps other bytes fails the commit. */
static void test_adapter_verify(void **state) {
  (void)state;
  mem *m;
  docstore_provider *p = mem_provider(0, &m);
  docstore__err err;
  uint8_t *data = make_data(70001);
  int gets = m->gets;
  assert_int_equal(stream_put(p, "v", data, 70001,
                              DOCSTORE_PUT_VERIFY | DOCSTORE_PUT_NO_CLOBBER,
                              &err),
                   0);
  assert_int_equal(m->gets, gets + 1); /* the read-back */
  expect_object(p, "v", data, 70001);
  /* Without the flag: no read-back. */
  gets = m->gets;
  assert_int_equal(stream_put(p, "w", data, 70001, 0, &err), 0);
  assert_int_equal(m->gets, gets);
  /* The store flips a byte: EINTEGRITY, with a message that says so. */
  m->corrupt_puts = 1;
  docstore_op_stats before, after;
  op_stats(p, DOCSTORE_OP_PUT, &before);
  assert_int_equal(stream_put(p, "x", data, 70001, DOCSTORE_PUT_VERIFY, &err),
                   DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(err.msg, "put x: the stored object differs"));
  op_stats(p, DOCSTORE_OP_PUT, &after);
  assert_int_equal(after.failures, before.failures + 1);
  /* An empty object verifies too (and a flipped byte cannot happen). */
  assert_int_equal(stream_put(p, "e", data, 0, DOCSTORE_PUT_VERIFY, &err), 0);
  /* Unknown flags are still refused. */
  assert_int_equal(stream_put(p, "u", data, 1, 4u, &err), DOCSTORE_EINVAL);
  free(data);
  docstore_provider_free(p);
}

/* The adapter holds at most DOCSTORE__OBJECT_MAX bytes, either way.  The
 * big input is reserved address space, never touched. */
static void test_adapter_cap(void **state) {
  (void)state;
  mem *m;
  docstore_provider *p = mem_provider(0, &m);
  docstore__err err;
  size_t huge_len = DOCSTORE__OBJECT_MAX + 1;
  void *huge = mmap(NULL, huge_len, PROT_READ,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  assert_true(huge != MAP_FAILED);
  docstore__put_txn *t = NULL;
  assert_int_equal(docstore__provider_put_begin(p, "cap", NULL, &t, &err), 0);
  assert_int_equal(docstore__provider_put_write(t, huge, huge_len, &err),
                   DOCSTORE_ETOOBIG);
  assert_non_null(strstr(err.msg, "put cap: object over"));
  assert_non_null(strstr(err.msg, "memory"));
  docstore__provider_put_abort(t);
  /* Just over the cap in two writes. */
  assert_int_equal(docstore__provider_put_begin(p, "cap", NULL, &t, &err), 0);
  assert_int_equal(
      docstore__provider_put_write(t, (const uint8_t *)"x", 1, &err), 0);
  assert_int_equal(
      docstore__provider_put_write(t, huge, DOCSTORE__OBJECT_MAX, &err),
      DOCSTORE_ETOOBIG);
  docstore__provider_put_abort(t);
  assert_int_equal(m->puts, 0);
  /* A get of more than the cap. */
  m->huge = huge;
  m->huge_len = huge_len;
  docstore__get_stream *gs = NULL;
  assert_int_equal(
      docstore__provider_get_open(p, "huge", 0, UINT64_MAX, &gs, NULL, &err),
      DOCSTORE_ETOOBIG);
  assert_null(gs);
  assert_non_null(strstr(err.msg, "get huge: object over"));
  m->huge = NULL;
  munmap(huge, huge_len);
  docstore_provider_free(p);
}

/* The streaming operations come in two groups (put, get), each all
 * together or not at all. */
static int v2_begin(void *pl, const char *k, const docstore_put_options *o,
                    void **t, docstore_errinfo *e) {
  (void)pl, (void)k, (void)o, (void)t, (void)e;
  return 0;
}
static int v2_write(void *pl, void *t, const uint8_t *d, size_t n,
                    docstore_errinfo *e) {
  (void)pl, (void)t, (void)d, (void)n, (void)e;
  return 0;
}
static int v2_commit(void *pl, void *t, docstore_errinfo *e) {
  (void)pl, (void)t, (void)e;
  return 0;
}
static void v2_abort(void *pl, void *t) { (void)pl, (void)t; }

static void test_v2_ops_all_or_none(void **state) {
  (void)state;
  docstore_provider_ops ops;
  assert_int_equal(docstore_provider_ops_init(&ops, 2), 0);
  assert_int_equal(ops.version, 2);
  assert_null(ops.get_close);
  ops.put = mem_put;
  ops.get = mem_get;
  ops.head = mem_head;
  ops.del = mem_del;
  ops.free = mem_free;
  ops.put_begin = v2_begin;
  mem *m = calloc(1, sizeof(*m));
  int was_freed = 0;
  m->freed = &was_freed;
  docstore_provider *p = (docstore_provider *)0x1;
  assert_int_equal(docstore_provider_new(&p, &ops, m), DOCSTORE_EINVAL);
  assert_null(p);
  assert_int_equal(was_freed, 1); /* the payload is released on failure too */
  assert_non_null(strstr(docstore_last_errmsg(), "all or none"));
  /* A version 1 table's fields past free are never looked at (here they
   * are set, yet the table is accepted and streams through the adapter). */
  ops.version = 1;
  m = calloc(1, sizeof(*m));
  assert_int_equal(docstore_provider_new(&p, &ops, m), 0);
  assert_int_equal(docstore__provider_streams_natively(p), 0);
  docstore_provider_free(p);
  /* The whole put group without the get group: accepted (gets go through
   * the adapter), but not "native" both ways. */
  ops.version = 2;
  ops.put_write = v2_write;
  ops.put_commit = v2_commit;
  ops.put_abort = v2_abort;
  m = calloc(1, sizeof(*m));
  assert_int_equal(docstore_provider_new(&p, &ops, m), 0);
  assert_int_equal(docstore__provider_streams_natively(p), 0);
  docstore_provider_free(p);
  /* Three of the put group: refused. */
  ops.put_abort = NULL;
  m = calloc(1, sizeof(*m));
  m->freed = &was_freed;
  assert_int_equal(docstore_provider_new(&p, &ops, m), DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_last_errmsg(), "3 of the 4"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_check_accepts),
      cmocka_unit_test(test_key_check_refuses),
      cmocka_unit_test(test_prefix_check),
      cmocka_unit_test(test_ops_init),
      cmocka_unit_test(test_new_refuses_and_frees_payload),
      cmocka_unit_test(test_new_accepts_newer_version_and_names),
      cmocka_unit_test_setup_teardown(test_invalid_keys_never_reach_provider,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip_and_metrics, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_empty_object, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failure_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_head_needs_version, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_presign_and_check, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_optional_ops, setup_minimal,
                                      teardown),
      cmocka_unit_test(test_null_provider),
      cmocka_unit_test(test_v1_public_api_unchanged),
      cmocka_unit_test(test_adapter_without_range),
      cmocka_unit_test(test_adapter_with_range),
      cmocka_unit_test(test_adapter_no_clobber),
      cmocka_unit_test(test_adapter_verify),
      cmocka_unit_test(test_adapter_cap),
      cmocka_unit_test(test_v2_ops_all_or_none),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
