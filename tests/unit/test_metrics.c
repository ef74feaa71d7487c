/*
 * Unit tests: operation counters (src/common/metrics.c).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "docstore/docstore.h"
#include "internal.h"
#include "metrics.h"

static docstore_op_stats stats_of(const docstore__metrics *m, int op) {
  docstore_op_stats s;
  memset(&s, 0xAB, sizeof(s)); /* garbage the call must overwrite */
  s.version = DOCSTORE_OP_STATS_VERSION;
  assert_int_equal(docstore__metrics_get(m, op, &s), 0);
  return s;
}

static void test_starts_at_zero(void **state) {
  (void)state;
  docstore__metrics m;
  docstore__metrics_init(&m);
  for (int op = 0; op < DOCSTORE_OP_COUNT_; op++) {
    docstore_op_stats s = stats_of(&m, op);
    assert_int_equal(s.successes, 0);
    assert_int_equal(s.failures, 0);
    assert_int_equal(s.bytes, 0);
    assert_int_equal(s.total_latency_us, 0);
    assert_int_equal(s.avg_latency_us, 0);
    assert_int_equal(s.retries, 0);
  }
}

static void test_record_success_and_failure(void **state) {
  (void)state;
  docstore__metrics m;
  docstore__metrics_init(&m);
  docstore__metrics_record(&m, DOCSTORE_OP_PUT, 0, 100, 10);
  docstore__metrics_record(&m, DOCSTORE_OP_PUT, 0, 50, 20);
  /* Bytes of a failed call are not counted; its latency is. */
  docstore__metrics_record(&m, DOCSTORE_OP_PUT, DOCSTORE_EIO, 999, 30);
  docstore__metrics_add_retries(&m, DOCSTORE_OP_PUT, 3);
  docstore_op_stats s = stats_of(&m, DOCSTORE_OP_PUT);
  assert_int_equal(s.successes, 2);
  assert_int_equal(s.failures, 1);
  assert_int_equal(s.bytes, 150);
  assert_int_equal(s.total_latency_us, 60);
  assert_int_equal(s.avg_latency_us, 20);
  assert_int_equal(s.retries, 3);
  /* Other ops untouched. */
  s = stats_of(&m, DOCSTORE_OP_GET);
  assert_int_equal(s.successes + s.failures + s.bytes, 0);
}

static void test_bad_arguments(void **state) {
  (void)state;
  docstore__metrics m;
  docstore__metrics_init(&m);
  docstore_op_stats s = {DOCSTORE_OP_STATS_VERSION, 0, 0, 0, 0, 0, 0};
  assert_int_equal(docstore__metrics_get(&m, -1, &s), DOCSTORE_EINVAL);
  assert_int_equal(docstore__metrics_get(&m, DOCSTORE_OP_COUNT_, &s),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__metrics_get(&m, 0, NULL), DOCSTORE_EINVAL);
  s.version = 0;
  assert_int_equal(docstore__metrics_get(&m, 0, &s), DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_last_errmsg(), "version"));
  /* Recording an unknown op is ignored, not a crash. */
  docstore__metrics_record(&m, 99, 0, 1, 1);
  docstore__metrics_record(NULL, 0, 0, 1, 1);
  docstore__metrics_add_retries(&m, -5, 1);
  char *json = NULL;
  assert_int_equal(docstore__metrics_json(NULL, &json), DOCSTORE_EINVAL);
  assert_int_equal(docstore__metrics_json(&m, NULL), DOCSTORE_EINVAL);
}

static void test_op_names(void **state) {
  (void)state;
  assert_string_equal(docstore_op_name(DOCSTORE_OP_PUT), "put");
  assert_string_equal(docstore_op_name(DOCSTORE_OP_DELETE), "delete");
  assert_string_equal(docstore_op_name(DOCSTORE_OP_FALLBACK), "fallback");
  assert_null(docstore_op_name(-1));
  assert_null(docstore_op_name(DOCSTORE_OP_COUNT_));
}

static uint64_t json_u64(const cJSON *root, const char *op, const char *f) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, op);
  assert_non_null(o);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f);
  assert_non_null(v);
  assert_true(cJSON_IsNumber(v));
  return (uint64_t)v->valuedouble;
}

static void test_json(void **state) {
  (void)state;
  docstore__metrics m;
  docstore__metrics_init(&m);
  docstore__metrics_record(&m, DOCSTORE_OP_GET, 0, 4096, 7);
  docstore__metrics_record(&m, DOCSTORE_OP_GET, DOCSTORE_ENOTFOUND, 0, 3);
  docstore__metrics_add_retries(&m, DOCSTORE_OP_GET, 2);
  char *json = NULL;
  assert_int_equal(docstore__metrics_json(&m, &json), 0);
  cJSON *root = cJSON_Parse(json);
  assert_non_null(root);
  assert_int_equal(cJSON_GetArraySize(root), DOCSTORE_OP_COUNT_);
  for (int op = 0; op < DOCSTORE_OP_COUNT_; op++)
    assert_non_null(
        cJSON_GetObjectItemCaseSensitive(root, docstore_op_name(op)));
  assert_int_equal(json_u64(root, "get", "successes"), 1);
  assert_int_equal(json_u64(root, "get", "failures"), 1);
  assert_int_equal(json_u64(root, "get", "bytes"), 4096);
  assert_int_equal(json_u64(root, "get", "total_latency_us"), 10);
  assert_int_equal(json_u64(root, "get", "avg_latency_us"), 5);
  assert_int_equal(json_u64(root, "get", "retries"), 2);
  assert_int_equal(json_u64(root, "put", "successes"), 0);
  cJSON_Delete(root);
  docstore_free(json);
}

/* Counters above 2^53 must come out exactly (no trip through a double). */
static void test_json_exact_big_numbers(void **state) {
  (void)state;
  docstore__metrics m;
  docstore__metrics_init(&m);
  uint64_t big = (UINT64_C(1) << 60) + 1;
  docstore__metrics_record(&m, DOCSTORE_OP_PUT, 0, big, 0);
  char *json = NULL;
  assert_int_equal(docstore__metrics_json(&m, &json), 0);
  assert_non_null(strstr(json, "\"bytes\":1152921504606846977"));
  docstore_free(json);
}

static void test_merge_and_reset(void **state) {
  (void)state;
  docstore__metrics a, b;
  docstore__metrics_init(&a);
  docstore__metrics_init(&b);
  docstore__metrics_record(&a, DOCSTORE_OP_PUT, 0, 10, 1);
  docstore__metrics_record(&b, DOCSTORE_OP_PUT, 0, 5, 2);
  docstore__metrics_record(&b, DOCSTORE_OP_DECRYPT, DOCSTORE_EINTEGRITY, 0, 4);
  docstore__metrics_merge(&a, &b);
  docstore_op_stats s = stats_of(&a, DOCSTORE_OP_PUT);
  assert_int_equal(s.successes, 2);
  assert_int_equal(s.bytes, 15);
  s = stats_of(&a, DOCSTORE_OP_DECRYPT);
  assert_int_equal(s.failures, 1);
  docstore__metrics_reset(&a);
  s = stats_of(&a, DOCSTORE_OP_PUT);
  assert_int_equal(s.successes + s.bytes + s.total_latency_us, 0);
  /* b is not affected by resetting a. */
  s = stats_of(&b, DOCSTORE_OP_PUT);
  assert_int_equal(s.successes, 1);
}

#define THREADS 8
#define PER_THREAD 10000

static void *hammer(void *arg) {
  docstore__metrics *m = arg;
  for (int i = 0; i < PER_THREAD; i++)
    docstore__metrics_record(m, DOCSTORE_OP_GET, i % 10 == 0 ? -1 : 0, 3, 1);
  return NULL;
}

static void test_concurrent_records_add_up(void **state) {
  (void)state;
  docstore__metrics m;
  pthread_t t[THREADS];
  docstore__metrics_init(&m);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, hammer, &m), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  docstore_op_stats s = stats_of(&m, DOCSTORE_OP_GET);
  assert_int_equal(s.failures, THREADS * PER_THREAD / 10);
  assert_int_equal(s.successes, THREADS * PER_THREAD * 9 / 10);
  assert_int_equal(s.bytes, 3 * s.successes);
  assert_int_equal(s.total_latency_us, THREADS * PER_THREAD);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_starts_at_zero),
      cmocka_unit_test(test_record_success_and_failure),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_op_names),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_json_exact_big_numbers),
      cmocka_unit_test(test_merge_and_reset),
      cmocka_unit_test(test_concurrent_records_add_up),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
