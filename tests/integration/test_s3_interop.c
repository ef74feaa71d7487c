/*
 * Interop with boto3 (Debian's python3-boto3, /usr/bin/python3) on the
 * same Swift s3api server: boto3 reads what the library wrote (also
 * listing the odd keys back), the library reads what boto3 wrote (a plain
 * put and a boto3 multipart upload), and a presigned URL the library made
 * is accepted where botocore's is.  Label `s3`; needs the S3_* variables
 * (FAILS without them).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docstore/docstore.h"
#include "s3_itest.h"

#ifndef DOCSTORE_S3_ITEST_DIR
#define DOCSTORE_S3_ITEST_DIR "tests/integration"
#endif
#define PY "/usr/bin/python3 " DOCSTORE_S3_ITEST_DIR "/s3_interop.py"

static itest_env env;
static char *workdir;

static int group_setup(void **state) {
  (void)state;
  if (itest_env_load(&env) < 0)
    return -1;
  char *out = NULL;
  int st = 0;
  if (itest_run("/usr/bin/python3 -c 'import boto3' 2>&1", &out, &st) != 0 ||
      st != 0) {
    fprintf(stderr,
            "FAIL: /usr/bin/python3 cannot import boto3 (install "
            "python3-boto3): %s\n",
            out ? out : "");
    free(out);
    return -1;
  }
  free(out);
  workdir = itest_tmpdir();
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (workdir) {
    itest_rmtree(workdir);
    free(workdir);
  }
  return 0;
}

/* Runs s3_interop.py with args (already quoted); returns stdout. */
/* noinline: see seal() in tests/unit/test_envelope.c (gcc Release
 * -Wdangling-pointer on the inlined local `out`). */
__attribute__((noinline)) static char *py(const char *args) {
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), PY " %s", args);
  char *out = NULL;
  int st = 0;
  assert_int_equal(itest_run(cmd, &out, &st), 0);
  if (st != 0)
    fail_msg("%s: exit %d: %s", cmd, st, out);
  return out;
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65]) {
  assert_int_equal(docstore__sigv4_sha256_hex(data, len, out), 0);
}

static char *write_file(const char *name, const uint8_t *data, size_t len) {
  char *path = malloc(strlen(workdir) + strlen(name) + 2);
  assert_non_null(path);
  sprintf(path, "%s/%s", workdir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return path;
}

static docstore_provider *open_provider(void) {
  docstore_s3_options o = itest_options(&env);
  docstore_provider *p = NULL;
  char errbuf[512];
  if (docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)) != 0)
    fail_msg("provider: %s", errbuf);
  return p;
}

static void test_boto3_reads_library_objects(void **state) {
  (void)state;
  docstore_provider *p = open_provider();
  const char *prefix = itest_prefix();
  static const char *const names[] = {"plain.bin", "a b+c%d.bin",
                                      "\xc3\xa9t\xc3\xa9/\xe6\x96\x87.bin"};
  size_t size = 100000;
  uint8_t *data = malloc(size);
  assert_non_null(data);
  for (size_t i = 0; i < 3; i++) {
    char key[256];
    snprintf(key, sizeof(key), "%s%s", prefix, names[i]);
    itest_fill(data, size, 100 + i);
    assert_int_equal(docstore_provider_put(p, key, data, size), 0);
    char want[65];
    sha256_hex(data, size, want);
    char *q = itest_shell_quote(key);
    char args[600];
    snprintf(args, sizeof(args), "sha256 %s", q);
    free(q);
    char *got = py(args);
    assert_int_equal(strncmp(got, want, 64), 0);
    free(got);
  }
  /* boto3's listing shows the same keys. */
  char *q = itest_shell_quote(prefix);
  char args[600];
  snprintf(args, sizeof(args), "list %s", q);
  free(q);
  char *listing = py(args);
  for (size_t i = 0; i < 3; i++) {
    char line[300];
    snprintf(line, sizeof(line), "%s%s\n", prefix, names[i]);
    assert_non_null(strstr(listing, line));
  }
  free(listing);
  for (size_t i = 0; i < 3; i++) {
    char key[256];
    snprintf(key, sizeof(key), "%s%s", prefix, names[i]);
    assert_int_equal(docstore_provider_delete(p, key), 0);
  }
  free(data);
  docstore_provider_free(p);
}

static void check_library_reads(docstore_provider *p, const char *cmd,
                                const char *name, size_t size, uint64_t seed,
                                int multipart) {
  char key[256];
  snprintf(key, sizeof(key), "%s%s", itest_prefix(), name);
  uint8_t *data = malloc(size);
  assert_non_null(data);
  itest_fill(data, size, seed);
  char *file = write_file("from-boto3.bin", data, size);
  char *qk = itest_shell_quote(key);
  char *qf = itest_shell_quote(file);
  char args[1200];
  snprintf(args, sizeof(args), "%s %s %s", cmd, qk, qf);
  free(qk);
  free(qf);
  free(py(args));

  uint8_t *back = NULL;
  size_t len = 0;
  assert_int_equal(docstore_provider_get(p, &back, &len, key), 0);
  assert_int_equal(len, size);
  assert_true(memcmp(back, data, size) == 0);
  docstore_free(back);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(p, &info, key), 0);
  assert_int_equal(info.size, size);
  assert_non_null(info.etag);
  if (multipart)
    assert_non_null(strchr(info.etag, '-'));
  else
    assert_null(strchr(info.etag, '-'));
  assert_int_equal(docstore_provider_delete(p, key), 0);
  free(file);
  free(data);
}

static void test_library_reads_boto3_objects(void **state) {
  (void)state;
  docstore_provider *p = open_provider();
  check_library_reads(p, "put", "boto3 put+%.bin", 70000, 200, 0);
  check_library_reads(p, "upload", "boto3 multipart.bin", 12u * 1024 * 1024 + 5,
                      201, 1);
  docstore_provider_free(p);
}

static void test_presigned_urls_side_by_side(void **state) {
  (void)state;
  docstore_provider *p = open_provider();
  char key[256];
  snprintf(key, sizeof(key), "%sshared url+%%.json", itest_prefix());
  const char *content = "{\"shared\": true}";
  assert_int_equal(
      docstore_provider_put(p, key, (const uint8_t *)content, strlen(content)),
      0);

  char *ours = NULL;
  assert_int_equal(
      docstore_provider_presign(p, &ours, key, DOCSTORE_PRESIGN_GET, 600), 0);
  char *q = itest_shell_quote(key);
  char args[600];
  snprintf(args, sizeof(args), "presign %s 600", q);
  free(q);
  char *theirs = py(args);
  char *nl = strchr(theirs, '\n');
  if (nl)
    *nl = '\0';

  char *b1 = NULL, *b2 = NULL;
  assert_int_equal(itest_curl(theirs, NULL, &b2), 200);
  assert_int_equal(itest_curl(ours, NULL, &b1), 200);
  assert_string_equal(b1, content);
  assert_string_equal(b2, content);
  free(b1);
  free(b2);

  /* Same path encoding and the same signed parts as botocore. */
  char *our_path = strdup(ours);
  char *their_path = strdup(theirs);
  *strchr(our_path, '?') = '\0';
  *strchr(their_path, '?') = '\0';
  assert_string_equal(our_path, their_path);
  free(our_path);
  free(their_path);
  assert_non_null(strstr(theirs, "X-Amz-SignedHeaders=host"));
  assert_non_null(strstr(ours, "X-Amz-SignedHeaders=host"));

  /* Both refuse a tampered signature. */
  char *sig = strstr(ours, "X-Amz-Signature=") + 16;
  sig[3] = sig[3] == '0' ? '1' : '0';
  sig = strstr(theirs, "X-Amz-Signature=") + 16;
  sig[3] = sig[3] == '0' ? '1' : '0';
  assert_int_equal(itest_curl(ours, NULL, NULL), 403);
  assert_int_equal(itest_curl(theirs, NULL, NULL), 403);
  docstore_free(ours);
  free(theirs);
  assert_int_equal(docstore_provider_delete(p, key), 0);
  docstore_provider_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_boto3_reads_library_objects),
      cmocka_unit_test(test_library_reads_boto3_objects),
      cmocka_unit_test(test_presigned_urls_side_by_side),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
