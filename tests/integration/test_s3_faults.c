/*
 * The S3 provider against a fault-injecting server of the tests' own
 * (s3_fault_server.py, Debian's /usr/bin/python3, on 127.0.0.1): retries
 * with backoff on 503 SlowDown and dropped connections, none on 403, a
 * resumed read after a connection lost mid-body, the stall detector, the
 * request timeout, errors inside a 200 CompleteMultipartUpload (then the
 * abort), and failing parts of a multipart upload, sent one at a time and
 * several at once; bodies that never end or announce too much, oversized
 * list and error replies (bounded memory), bit-flipped, truncated and
 * spliced objects and wrong checksums (integrity errors, also through
 * `docstore get --raw`), and listings that make no progress.  The server
 * counts the requests it sees.  Label `s3`; needs
 * no S3_* variables.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "docstore/docstore.h"
#include "s3_itest.h"

#ifndef DOCSTORE_S3_ITEST_DIR
#define DOCSTORE_S3_ITEST_DIR "tests/integration"
#endif

static pid_t server_pid;
static char endpoint[64];
static char *workdir;

static int group_setup(void **state) {
  (void)state;
  workdir = itest_tmpdir();
  char port_file[512];
  snprintf(port_file, sizeof(port_file), "%s/port", workdir);
  server_pid = fork();
  if (server_pid < 0)
    return -1;
  if (server_pid == 0) {
    execl("/usr/bin/python3", "python3",
          DOCSTORE_S3_ITEST_DIR "/s3_fault_server.py", port_file, (char *)NULL);
    _exit(127);
  }
  /* Wait (up to 20 s) for the server to write its port. */
  for (int i = 0; i < 400; i++) {
    FILE *f = fopen(port_file, "r");
    if (f) {
      int port = 0;
      int ok = fscanf(f, "%d", &port) == 1 && port > 0;
      fclose(f);
      if (ok) {
        snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
        return 0;
      }
    }
    int st;
    if (waitpid(server_pid, &st, WNOHANG) == server_pid) {
      fprintf(stderr, "FAIL: the fault server exited (status %d)\n", st);
      server_pid = 0;
      return -1;
    }
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "FAIL: the fault server did not start\n");
  return -1;
}

static int group_teardown(void **state) {
  (void)state;
  if (server_pid > 0) {
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
  }
  if (workdir) {
    itest_rmtree(workdir);
    free(workdir);
  }
  return 0;
}

typedef struct conn {
  docstore_provider *p;
  docstore__s3 *s3;
} conn;

static docstore_s3_options fault_options(void) {
  docstore_s3_options o = itest_options(NULL);
  o.bucket = "fault";
  o.access_key = "AKIDFAULT";
  o.secret_key = "fault-secret";
  o.region = "us-east-1";
  o.endpoint_url = endpoint;
  return o;
}

static conn open_fault(const docstore_s3_options *o,
                       const docstore__s3_tuning *tuning) {
  conn c;
  itest_open(&c.p, &c.s3, o, tuning);
  return c;
}

static cJSON *server_stats(void) {
  char url[128];
  snprintf(url, sizeof(url), "%s/__stats", endpoint);
  char *body = NULL;
  assert_int_equal(itest_curl(url, NULL, &body), 200);
  cJSON *j = cJSON_Parse(body);
  free(body);
  assert_non_null(j);
  return j;
}

/* How many requests of `method` for `key` the server saw. */
static int seen(const char *table, const char *method, const char *key) {
  cJSON *j = server_stats();
  char name[512];
  if (method)
    snprintf(name, sizeof(name), "%s %s", method, key);
  else
    snprintf(name, sizeof(name), "%s", key);
  cJSON *t = cJSON_GetObjectItemCaseSensitive(j, table);
  cJSON *v = cJSON_GetObjectItemCaseSensitive(t, name);
  int n = cJSON_IsNumber(v) ? v->valueint : 0;
  cJSON_Delete(j);
  return n;
}

static void test_slowdown_then_ok(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  const char *key = "slowdown-2/a.json";
  int rc = docstore_provider_put(c.p, key, (const uint8_t *)"{\"a\":1}", 7);
  if (rc != 0)
    fail_msg("put: %s", docstore_provider_errmsg(c.p));
  assert_int_equal(seen("requests", "PUT", key), 3);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_PUT), 2);
  assert_int_equal(itest_metric_retries(c.p, DOCSTORE_OP_PUT), 2);
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, key), 0);
  assert_int_equal(n, 7);
  assert_memory_equal(d, "{\"a\":1}", 7);
  docstore_free(d);
  docstore_provider_free(c.p);
}

static void test_slowdown_exhausts_attempts(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  o.max_attempts = 3;
  conn c = open_fault(&o, NULL);
  const char *key = "slowdown-9/b.json";
  assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)"{}", 2),
                   DOCSTORE_ESERVER);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "HTTP 503 SlowDown"));
  assert_non_null(strstr(msg, "Please reduce your request rate."));
  assert_non_null(strstr(msg, "RequestId: fault-"));
  assert_int_equal(seen("requests", "PUT", key), 3);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_PUT), 2);

  /* max_attempts = 1: no retry at all. */
  docstore_provider_free(c.p);
  o.max_attempts = 1;
  c = open_fault(&o, NULL);
  const char *key2 = "slowdown-9/c.json";
  assert_int_equal(docstore_provider_put(c.p, key2, (const uint8_t *)"{}", 2),
                   DOCSTORE_ESERVER);
  assert_int_equal(seen("requests", "PUT", key2), 1);
  docstore_provider_free(c.p);
}

static void test_dropped_connection_retried(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  const char *key = "drop-2/c.json";
  int rc = docstore_provider_put(c.p, key, (const uint8_t *)"{\"c\":3}", 7);
  if (rc != 0)
    fail_msg("put: %s", docstore_provider_errmsg(c.p));
  assert_int_equal(seen("requests", "PUT", key), 3);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_PUT), 2);

  /* Always dropped: a connection error after the last attempt.  Our 3
   * attempts; libcurl itself may send one more when the kept-alive
   * connection it reused turns out closed. */
  const char *key2 = "drop-99/d.json";
  uint64_t before = atomic_load(&c.s3->requests);
  assert_int_equal(docstore_provider_put(c.p, key2, (const uint8_t *)"{}", 2),
                   DOCSTORE_ECONNECT);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), endpoint));
  assert_int_equal(atomic_load(&c.s3->requests) - before, 3);
  int n = seen("requests", "PUT", key2);
  assert_true(n >= 3 && n <= 4);
  docstore_provider_free(c.p);
}

static void test_read_resumes_after_drop_mid_body(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  const char *key = "dropmid/e.bin";
  size_t size = 200000;
  uint8_t *data = malloc(size);
  assert_non_null(data);
  itest_fill(data, size, 11);
  assert_int_equal(docstore_provider_put(c.p, key, data, size), 0);
  uint8_t *back = NULL;
  size_t n = 0;
  int rc = docstore_provider_get(c.p, &back, &n, key);
  if (rc != 0)
    fail_msg("get: %s", docstore_provider_errmsg(c.p));
  assert_int_equal(n, size);
  assert_true(memcmp(back, data, size) == 0);
  /* The first reply's Content-Length sized the buffer; the resumed one fit
   * in it. */
  assert_int_equal(docstore__alloc_size(back), size + 1);
  docstore_free(back);
  assert_int_equal(seen("requests", "GET", key), 2);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_GET), 1);

  /* The second GET asked for the rest, of the same object. */
  cJSON *j = server_stats();
  cJSON *ranges = cJSON_GetObjectItemCaseSensitive(j, "ranges");
  int found = 0;
  cJSON *r;
  cJSON_ArrayForEach(r, ranges) {
    const char *k = cJSON_GetArrayItem(r, 0)->valuestring;
    if (k && strcmp(k, key) == 0) {
      assert_string_equal(cJSON_GetArrayItem(r, 1)->valuestring,
                          "bytes=100000-");
      assert_true(cJSON_IsString(cJSON_GetArrayItem(r, 2)));
      assert_int_equal(cJSON_GetArrayItem(r, 2)->valuestring[0], '"');
      found++;
    }
  }
  cJSON_Delete(j);
  assert_int_equal(found, 1);
  free(data);
  docstore_provider_free(c.p);
}

static void test_stall_detected(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  o.stall_timeout_ms = 2000;
  o.stall_min_bps = 1024;
  conn c = open_fault(&o, NULL);
  const char *key = "stall/f.bin";
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, key), DOCSTORE_ETIMEOUT);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "stalled"));
  assert_non_null(strstr(msg, endpoint));
  assert_non_null(strstr(msg, "2000 ms"));
  /* A stall is not retried. */
  assert_int_equal(seen("requests", "GET", key), 1);
  docstore_provider_free(c.p);
}

static void test_request_timeout(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  o.request_timeout_ms = 1000;
  conn c = open_fault(&o, NULL);
  const char *key = "slowreply/g.json";
  assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)"{}", 2),
                   DOCSTORE_ETIMEOUT);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "timed out"));
  assert_non_null(strstr(msg, endpoint));
  assert_int_equal(seen("requests", "PUT", key), 1);
  docstore_provider_free(c.p);
}

static void test_connect_timeout(void **state) {
  (void)state;
  /* A listener whose accept queue is full: the kernel drops further SYNs,
   * so a connect hangs until the client gives up. */
  int port;
  int lfd = itest_listener(0, &port);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  int fillers[3];
  for (int i = 0; i < 3; i++) {
    fillers[i] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fillers[i] >= 0);
    assert_int_equal(fcntl(fillers[i], F_SETFL, O_NONBLOCK), 0);
    (void)connect(fillers[i], (struct sockaddr *)&a, sizeof(a));
  }
  char ep[64];
  snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
  docstore_s3_options o = fault_options();
  o.endpoint_url = ep;
  o.connect_timeout_ms = 1000;
  conn c = open_fault(&o, NULL);
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, "plain/x.json"),
                   DOCSTORE_ETIMEOUT);
  char expect[128];
  snprintf(expect, sizeof(expect),
           "cannot connect to %s: timed out after "
           "1000 ms",
           ep);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), expect));
  /* A timeout is not retried. */
  assert_int_equal(atomic_load(&c.s3->requests), 1);
  docstore_provider_free(c.p);
  for (int i = 0; i < 3; i++)
    close(fillers[i]);
  close(lfd);
}

static void test_keep_alive(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  for (int i = 0; i < 10; i++) {
    char key[64];
    snprintf(key, sizeof(key), "plain/keepalive-%d.json", i);
    assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)"{}", 2),
                     0);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(docstore_provider_get(c.p, &d, &n, key), 0);
    docstore_free(d);
    assert_int_equal(docstore_provider_delete(c.p, key), 0);
  }
  /* 30 requests, one connection. */
  assert_int_equal(atomic_load(&c.s3->requests), 30);
  assert_int_equal(atomic_load(&c.s3->connects), 1);
  docstore_provider_free(c.p);
}

static void test_access_denied_not_retried(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  o.max_attempts = 5;
  conn c = open_fault(&o, NULL);
  const char *key = "denied/h.json";
  assert_int_equal(docstore_provider_put(c.p, key, (const uint8_t *)"{}", 2),
                   DOCSTORE_EACCESS);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), "AccessDenied"));
  assert_int_equal(seen("requests", "PUT", key), 1);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c.p, &info, key), DOCSTORE_EACCESS);
  assert_int_equal(seen("requests", "HEAD", key), 1);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_PUT), 0);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_HEAD), 0);
  assert_int_equal(itest_metric_retries(c.p, DOCSTORE_OP_PUT), 0);
  docstore_provider_free(c.p);
}

/* Multipart tests run with parts sent 4 at a time and one at a time:
 * state points to the concurrency; keys carry it (the server counts by
 * key). */
static unsigned int concurrency_four = 4;
static unsigned int concurrency_one = 1;

static unsigned int concurrency_of(void **state) {
  return *(unsigned int *)*state;
}

static docstore_s3_options small_multipart(docstore__s3_tuning *tuning,
                                           unsigned int concurrency) {
  docstore_s3_options o = fault_options();
  memset(tuning, 0, sizeof(*tuning)); /* every knob off, present or future */
  tuning->min_part_size = 1024;
  o.multipart_threshold = 1024;
  o.multipart_part_size = 1024;
  o.multipart_concurrency = concurrency;
  return o;
}

/* A key "<fault>/<name>-c<concurrency>.bin" in key[]. */
static void mp_key(char *key, size_t size, const char *fault, const char *name,
                   unsigned int concurrency) {
  snprintf(key, size, "%s/%s-c%u.bin", fault, name, concurrency);
}

/* The upload of key was aborted once and left nothing behind: no open
 * upload, no stored part, no object. */
static void assert_aborted(conn *c, const char *key) {
  assert_int_equal(seen("aborts", NULL, key), 1);
  assert_int_equal(seen("open_uploads", NULL, key), 0);
  assert_int_equal(seen("stored_parts", NULL, key), 0);
  docstore_object_info info = {DOCSTORE_OBJECT_INFO_VERSION, NULL, 0, 0, NULL};
  assert_int_equal(docstore_provider_head(c->p, &info, key),
                   DOCSTORE_ENOTFOUND);
}

static void test_error_inside_200_complete_retried(void **state) {
  unsigned int cc = concurrency_of(state);
  docstore__s3_tuning tuning;
  docstore_s3_options o = small_multipart(&tuning, cc);
  conn c = open_fault(&o, &tuning);
  char key[128];
  mp_key(key, sizeof(key), "mperr-1", "i", cc);
  uint8_t data[3000];
  itest_fill(data, sizeof(data), 5);
  int rc = docstore_provider_put(c.p, key, data, sizeof(data));
  if (rc != 0)
    fail_msg("put: %s", docstore_provider_errmsg(c.p));
  assert_int_equal(seen("completes", NULL, key), 2);
  assert_int_equal(seen("aborts", NULL, key), 0);
  assert_int_equal(seen("requests", "PUT", key), 3); /* 3 parts */
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_PUT), 1);
  uint8_t *back = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &back, &n, key), 0);
  assert_int_equal(n, sizeof(data));
  assert_memory_equal(back, data, n);
  docstore_free(back);
  docstore_provider_free(c.p);
}

static void test_error_inside_200_complete_aborts(void **state) {
  unsigned int cc = concurrency_of(state);
  docstore__s3_tuning tuning;
  docstore_s3_options o = small_multipart(&tuning, cc);
  conn c = open_fault(&o, &tuning);
  char key[128];
  mp_key(key, sizeof(key), "mperr-99", "j", cc);
  uint8_t data[2500];
  itest_fill(data, sizeof(data), 6);
  assert_int_equal(docstore_provider_put(c.p, key, data, sizeof(data)),
                   DOCSTORE_ESERVER);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "InternalError"));
  assert_non_null(strstr(msg, "completing the multipart upload"));
  assert_int_equal(seen("completes", NULL, key), 3);
  assert_aborted(&c, key);
  docstore_provider_free(c.p);
}

static void test_multipart_part_failure_aborts(void **state) {
  unsigned int cc = concurrency_of(state);
  docstore__s3_tuning tuning;
  docstore_s3_options o = small_multipart(&tuning, cc);
  o.max_attempts = 2;
  conn c = open_fault(&o, &tuning);
  char key[128];
  mp_key(key, sizeof(key), "partfail", "k", cc);
  uint8_t data[2500];
  itest_fill(data, sizeof(data), 8);
  assert_int_equal(docstore_provider_put(c.p, key, data, sizeof(data)),
                   DOCSTORE_ESERVER);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "part 2 of 3"));
  assert_non_null(strstr(msg, "InternalError"));
  /* Part 2 twice (one retry, counted); one at a time, part 3 is never
   * sent; 4 at a time, parts 1 and 3 go with part 2.  No Complete; the
   * upload is aborted and holds no parts. */
  assert_int_equal(seen("requests", "PUT", key), cc == 1 ? 3 : 4);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_PUT), 1);
  assert_int_equal(itest_metric_retries(c.p, DOCSTORE_OP_PUT), 1);
  assert_int_equal(seen("completes", NULL, key), 0);
  assert_aborted(&c, key);

  /* A refused Create leaves nothing to abort. */
  char key2[128];
  mp_key(key2, sizeof(key2), "slowdown-9", "k2", cc);
  assert_int_equal(docstore_provider_put(c.p, key2, data, sizeof(data)),
                   DOCSTORE_ESERVER);
  assert_int_equal(seen("requests", "POST", key2), 2);
  assert_int_equal(seen("requests", "DELETE", key2), 0);
  docstore_provider_free(c.p);
}

/* Part 2 fails while other parts are on the wire: no part is started
 * after it, the others are waited for, then the upload is aborted and the
 * server holds neither the upload nor any part of it. */
static void test_part_failure_with_parts_in_flight(void **state) {
  (void)state;
  docstore__s3_tuning tuning;
  docstore_s3_options o = small_multipart(&tuning, 4);
  o.max_attempts = 1;
  conn c = open_fault(&o, &tuning);
  const char *key = "inflightfail/many-parts.bin";
  uint8_t data[16 * 1024];
  itest_fill(data, sizeof(data), 9);
  assert_int_equal(docstore_provider_put(c.p, key, data, sizeof(data)),
                   DOCSTORE_ESERVER);
  const char *msg = docstore_provider_errmsg(c.p);
  assert_non_null(strstr(msg, "part 2 of 16"));
  assert_non_null(strstr(msg, "InternalError"));
  assert_true(seen("in_flight_at_failure", NULL, key) >= 1);
  int puts = seen("requests", "PUT", key);
  assert_true(puts >= 2);
  assert_true(puts < 16); /* the failure stopped the upload */
  assert_int_equal(seen("completes", NULL, key), 0);
  assert_int_equal(seen("requests", "DELETE", key), 1);
  assert_int_equal(seen("late_parts", NULL, key), 0); /* none after the abort */
  assert_aborted(&c, key);
  docstore_provider_free(c.p);
}

static int refuse_after_first(void *payload, const uint8_t *data, size_t len) {
  (void)data;
  (void)len;
  return (*(int *)payload)++ > 0;
}

static void test_sink_stop_not_retried(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  const char *key = "plain/l.bin";
  size_t size = 300000;
  uint8_t *data = malloc(size);
  assert_non_null(data);
  itest_fill(data, size, 9);
  assert_int_equal(docstore_provider_put(c.p, key, data, size), 0);
  int calls = 0;
  docstore__err err;
  docstore__err_clear(&err);
  assert_int_equal(docstore__s3_ops()->get(c.s3, key, refuse_after_first,
                                           &calls, (docstore_errinfo *)&err),
                   DOCSTORE_ECANCELED);
  assert_int_equal(calls, 2);
  assert_int_equal(seen("requests", "GET", key), 1);
  free(data);
  docstore_provider_free(c.p);
}

static void test_service_counts_retries(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  docstore_provider *p = NULL;
  char errbuf[256];
  assert_int_equal(docstore_s3_provider_new(&p, &o, errbuf, sizeof(errbuf)), 0);
  docstore_service_options so;
  assert_int_equal(
      docstore_service_options_init(&so, DOCSTORE_SERVICE_OPTIONS_VERSION), 0);
  so.validate_envelopes = 0;
  docstore_service *svc = NULL;
  assert_int_equal(
      docstore_service_new(&svc, p, NULL, &so, errbuf, sizeof(errbuf)), 0);
  char *path = NULL;
  const char *env = "{\"not\": \"checked\"}";
  int rc = docstore_service_store_encrypted(svc, &path, "7", "x.pdf", env,
                                            strlen(env), "slowdown-2");
  if (rc != 0)
    fail_msg("store: %s", docstore_service_errmsg(svc));
  assert_non_null(strstr(path, "user_slowdown-2/"));
  docstore_op_stats st;
  memset(&st, 0, sizeof(st));
  st.version = DOCSTORE_OP_STATS_VERSION;
  assert_int_equal(docstore_service_stats(svc, &st, DOCSTORE_OP_PUT), 0);
  assert_int_equal(st.successes, 1);
  assert_int_equal(st.retries, 2);
  char *json = NULL;
  assert_int_equal(docstore_service_stats_json(svc, &json), 0);
  assert_non_null(strstr(json, "\"retries\""));
  docstore_free(json);
  docstore_free(path);
  docstore_service_free(svc);
}

/* ------------------------------------------------- bounded downloads */

typedef struct counted {
  uint64_t bytes;
} counted;

static int count_sink(void *payload, const uint8_t *data, size_t len) {
  (void)data;
  ((counted *)payload)->bytes += len;
  return 0;
}

/* The largest block released while a call runs: what the collecting
 * buffer grew to. */
static size_t largest_released;
static void on_release(const void *p, size_t n, unsigned int flags) {
  (void)p;
  (void)flags;
  if (n > largest_released)
    largest_released = n;
}

static int raw_get(conn *c, const char *key, counted *got, docstore__err *err) {
  docstore__err_clear(err);
  got->bytes = 0;
  return docstore__s3_ops()->get(c->s3, key, count_sink, got,
                                 (docstore_errinfo *)err);
}

static void test_endless_body_stops_at_limit(void **state) {
  (void)state;
  docstore__s3_tuning tuning = {.max_object = 1024 * 1024};
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, &tuning);
  counted got;
  docstore__err err;
  assert_int_equal(raw_get(&c, "endless/a.bin", &got, &err), DOCSTORE_ETOOBIG);
  assert_non_null(strstr(err.msg, "limit of 1048576 bytes for an object"));
  assert_non_null(strstr(err.msg, "stopped reading"));
  assert_true(got.bytes <= 1024 * 1024);
  assert_true(got.bytes > 0);
  /* Not retried. */
  assert_int_equal(seen("requests", "GET", "endless/a.bin"), 1);

  /* Collected into a buffer (retrieve, get --raw, a migration's read-back
   * all come this way): the buffer never grows past the limit. */
  uint8_t *d = NULL;
  size_t n = 0;
  largest_released = 0;
  docstore__alloc_release_hook = on_release;
  int rc = docstore_provider_get(c.p, &d, &n, "endless/b.bin");
  docstore__alloc_release_hook = NULL;
  assert_int_equal(rc, DOCSTORE_ETOOBIG);
  assert_null(d);
  assert_true(largest_released > 512 * 1024);
  assert_true(largest_released <= 1024 * 1024 + 64);
  docstore_provider_free(c.p);
}

static void test_huge_content_length_refused(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL); /* the default limit */
  counted got;
  docstore__err err;
  uint64_t t0 = (docstore__now_us() / 1000);
  assert_int_equal(raw_get(&c, "hugelen/a.bin", &got, &err), DOCSTORE_ETOOBIG);
  char expect[160];
  snprintf(expect, sizeof(expect),
           "announces 10995116277760 bytes, over the limit of %llu bytes",
           (unsigned long long)DOCSTORE__OBJECT_MAX);
  assert_non_null(strstr(err.msg, expect));
  assert_non_null(strstr(err.msg, "refused before reading"));
  assert_int_equal(got.bytes, 0);
  assert_true((docstore__now_us() / 1000) - t0 < 5000);
  uint8_t *d = NULL;
  size_t n = 0;
  assert_int_equal(docstore_provider_get(c.p, &d, &n, "hugelen/b.bin"),
                   DOCSTORE_ETOOBIG);
  docstore_provider_free(c.p);
}

static int count_entry(void *payload, const docstore_object_info *info) {
  (void)info;
  (*(int *)payload)++;
  return 0;
}

static void test_oversized_list_reply(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  int entries = 0;
  largest_released = 0;
  docstore__alloc_release_hook = on_release;
  int rc = docstore_provider_list(c.p, "biglist/", count_entry, &entries);
  docstore__alloc_release_hook = NULL;
  assert_int_equal(rc, DOCSTORE_ETOOBIG);
  assert_non_null(strstr(docstore_provider_errmsg(c.p), "an XML reply"));
  assert_non_null(strstr(docstore_provider_errmsg(c.p), "stopped reading"));
  assert_true(largest_released <= DOCSTORE__S3_MAX_XML_BODY + 64);
  assert_int_equal(entries, 0);

  assert_int_equal(
      docstore_provider_list(c.p, "hugelist/", count_entry, &entries),
      DOCSTORE_ETOOBIG);
  assert_non_null(
      strstr(docstore_provider_errmsg(c.p), "refused before reading"));
  docstore_provider_free(c.p);
}

static void test_oversized_error_body(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err err;
  docstore__err_clear(&err);
  req.op = DOCSTORE_OP_GET;
  req.method = "GET";
  req.key = "bigerror/a.json";
  uint64_t t0 = (docstore__now_us() / 1000);
  assert_int_equal(docstore__s3_request(c.s3, &req, &resp, &err),
                   DOCSTORE_ESERVER);
  assert_int_equal(resp.status, 400);
  assert_true(resp.body.len <= DOCSTORE__S3_MAX_ERROR_BODY);
  assert_true(resp.body.cap <= DOCSTORE__S3_MAX_ERROR_BODY + 1);
  assert_non_null(strstr(err.msg, "HTTP 400"));
  assert_true((docstore__now_us() / 1000) - t0 < 5000);
  docstore__s3_resp_free(&resp);

  /* The same through the provider, for a PUT (an error to a body sent). */
  assert_int_equal(
      docstore_provider_put(c.p, "bigerror/b.json", (const uint8_t *)"{}", 2),
      DOCSTORE_ESERVER);
  docstore_provider_free(c.p);
}

/* ----------------------------------------------- corrupted downloads */

static void put_object(conn *c, const char *key, size_t size, int seed,
                       uint8_t **data) {
  *data = malloc(size);
  assert_non_null(*data);
  itest_fill(*data, size, seed);
  int rc = docstore_provider_put(c->p, key, *data, size);
  if (rc != 0)
    fail_msg("put %s: %s", key, docstore_provider_errmsg(c->p));
}

/* A GET of key fails as corrupt, its message naming `why`. */
static void assert_corrupt(conn *c, const char *key, const char *why) {
  uint8_t *d = NULL;
  size_t n = 0;
  int rc = docstore_provider_get(c->p, &d, &n, key);
  if (rc != DOCSTORE_EINTEGRITY)
    fail_msg("get %s: %d %s", key, rc, docstore_provider_errmsg(c->p));
  assert_null(d);
  const char *msg = docstore_provider_errmsg(c->p);
  if (!strstr(msg, why) || !strstr(msg, "refused as corrupt"))
    fail_msg("get %s: unexpected message: %s", key, msg);
}

static void test_corrupted_bodies_refused(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  /* A bit flipped, a body cut short with a Content-Length to match, and a
   * resumed range from another object, under the real ETag (caught by the
   * MD5) and under the other object's (caught at once).  Every reader
   * (retrieve, get --raw, a migration's read-back) comes this way. */
  static const struct {
    const char *key;
    size_t size;
    const char *why;
  } cases[] = {
      {"bitflip/a.bin", 100000, "differs from its ETag"},
      {"truncate/a.bin", 100000, "differs from its ETag"},
      {"empty/a.bin", 100000, "differs from its ETag"},
      {"splice/a.bin", 200000, "differs from its ETag"},
      {"splicetag/a.bin", 200000, "is not the first reply's"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t *data;
    put_object(&c, cases[i].key, cases[i].size, 21 + (int)i, &data);
    assert_corrupt(&c, cases[i].key, cases[i].why);
    free(data);
  }
  docstore_provider_free(c.p);
}

static void test_checksums_checked(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  static const char *const algos[] = {"crc32", "crc32c", "sha1", "sha256"};
  for (size_t i = 0; i < 4; i++) {
    char key[64], expect[64];
    uint8_t *data, *back = NULL;
    size_t n = 0;
    snprintf(key, sizeof(key), "sum-%s/a.bin", algos[i]);
    put_object(&c, key, 70000, 30 + (int)i, &data);
    int rc = docstore_provider_get(c.p, &back, &n, key);
    if (rc != 0)
      fail_msg("get %s: %s", key, docstore_provider_errmsg(c.p));
    assert_int_equal(n, 70000);
    assert_memory_equal(back, data, n);
    docstore_free(back);
    free(data);
    snprintf(key, sizeof(key), "badsum-%s/a.bin", algos[i]);
    snprintf(expect, sizeof(expect), "x-amz-checksum-%s says", algos[i]);
    put_object(&c, key, 70000, 40 + (int)i, &data);
    assert_corrupt(&c, key, expect);
    free(data);
  }
  /* SSE-KMS: the ETag is not the MD5, and is not held against the body. */
  uint8_t *data, *back = NULL;
  size_t n = 0;
  put_object(&c, "kms/a.bin", 5000, 50, &data);
  assert_int_equal(docstore_provider_get(c.p, &back, &n, "kms/a.bin"), 0);
  assert_int_equal(n, 5000);
  docstore_free(back);
  free(data);
  docstore_provider_free(c.p);
}

#ifdef DOCSTORE_CLI_PATH
/* Runs `docstore get --raw KEY <workdir>/FILE` against the fault server;
 * the exit status, with the output in *out (malloc'd). */
static int cli_get_raw(const char *key, const char *file, char **out) {
  char cmd[2048];
  int status = -1;
  snprintf(cmd, sizeof(cmd),
           "env -i PATH=/usr/bin:/bin HOME=%s STORAGE_TYPE=s3 "
           "S3_ENDPOINT_URL=%s S3_BUCKET=fault S3_ACCESS_KEY=AKIDFAULT "
           "S3_SECRET_KEY=fault-secret S3_REGION=us-east-1 " DOCSTORE_CLI_PATH
           " get --raw %s %s/%s 2>&1",
           workdir, endpoint, key, workdir, file);
  assert_int_equal(itest_run(cmd, out, &status), 0);
  return status;
}

/* `docstore get --raw` (which does not decrypt) refuses a bit-flipped
 * object with the integrity exit status (5) and writes no file; a good
 * object still comes out whole. */
static void test_cli_get_raw_refuses_corrupt(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  uint8_t *data;
  put_object(&c, "bitflip/cli.bin", 5000, 60, &data);
  free(data);
  put_object(&c, "plain/cli.bin", 5000, 61, &data);
  char *out = NULL;
  assert_int_equal(cli_get_raw("bitflip/cli.bin", "flipped.bin", &out), 5);
  assert_non_null(strstr(out, "DOCSTORE_EINTEGRITY"));
  free(out);
  char path[600];
  snprintf(path, sizeof(path), "%s/flipped.bin", workdir);
  assert_int_equal(access(path, F_OK), -1);

  assert_int_equal(cli_get_raw("plain/cli.bin", "good.bin", &out), 0);
  free(out);
  snprintf(path, sizeof(path), "%s/good.bin", workdir);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  uint8_t back[6000];
  assert_int_equal(fread(back, 1, sizeof(back), f), 5000);
  fclose(f);
  assert_memory_equal(back, data, 5000);
  free(data);
  docstore_provider_free(c.p);
}
#endif

/* ------------------------------------------------- streamed reads */

/* A streamed read (s3_download.c) of all of key, in windows of `part`
 * bytes, `concurrency` at a time: a malloc'd copy of *len bytes, or NULL
 * with the code in *rc and the detail in err. */
static uint8_t *stream_all(conn *c, const char *key, uint64_t part,
                           unsigned int concurrency, size_t *len, int *rc,
                           docstore__err *err) {
  c->s3->download_part_size = part;
  c->s3->download_concurrency = concurrency;
  docstore__get_stream *st = NULL;
  uint64_t size = 0;
  *len = 0;
  if ((*rc = docstore__provider_get_open(c->p, key, 0, UINT64_MAX, &st, &size,
                                         err)) < 0)
    return NULL;
  uint8_t *out = malloc(size + 1);
  assert_non_null(out);
  size_t got = 0;
  do {
    *rc = docstore__provider_get_read(
        st, out + *len, 7000 < size + 1 - *len ? 7000 : size + 1 - *len, &got,
        err);
    *len += got;
  } while (*rc == 0 && got > 0);
  docstore__provider_get_close(st);
  if (*rc < 0) {
    free(out);
    return NULL;
  }
  return out;
}

/* A window cut mid-body resumes where it stopped, under If-Match; every
 * window after the first insists on the first reply's ETag. */
static void test_stream_window_cut_resumes(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  const char *key = "cutwin/s.bin";
  uint8_t *data;
  put_object(&c, key, 300000, 70, &data);
  size_t len = 0;
  int rc;
  docstore__err err;
  uint8_t *back = stream_all(&c, key, 65536, 3, &len, &rc, &err);
  if (rc != 0)
    fail_msg("streamed get: %s", err.msg);
  assert_int_equal(len, 300000);
  assert_memory_equal(back, data, len);
  free(back);
  assert_int_equal(docstore__s3_retry_count(c.s3, DOCSTORE_OP_GET), 1);

  cJSON *j = server_stats();
  cJSON *ranges = cJSON_GetObjectItemCaseSensitive(j, "ranges");
  int windows = 0, resumed = 0;
  cJSON *r;
  cJSON_ArrayForEach(r, ranges) {
    const char *k = cJSON_GetArrayItem(r, 0)->valuestring;
    if (!k || strcmp(k, key) != 0)
      continue;
    const char *range = cJSON_GetArrayItem(r, 1)->valuestring;
    cJSON *im = cJSON_GetArrayItem(r, 2);
    unsigned long long a = 0, b = 0;
    assert_int_equal(sscanf(range, "bytes=%llu-%llu", &a, &b), 2);
    if (a == 0) {
      assert_true(cJSON_IsNull(im)); /* the first learns the ETag */
      assert_int_equal(b, 65535);
    } else {
      assert_true(cJSON_IsString(im));
      assert_int_equal(im->valuestring[0], '"');
    }
    if (a % 65536 == 0) {
      windows++;
      assert_int_equal(b, a + 65535 < 299999 ? a + 65535 : 299999);
    } else {
      resumed++; /* the rest of the cut window: half of it was there */
      assert_int_equal(a % 65536, 32768);
    }
  }
  cJSON_Delete(j);
  assert_int_equal(windows, 5);
  assert_int_equal(resumed, 1);
  free(data);
  docstore_provider_free(c.p);
}

/* A flipped byte: the streamed read does not check the ETag MD5 (it may
 * start anywhere); the envelope's segment tags catch it at the service. */
static void test_stream_flipped_byte_caught_by_service(void **state) {
  (void)state;
  char errbuf[512];
  docstore_keyring *kr = itest_keyring();
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  c.s3->download_part_size = 65536;
  docstore_service *svc = NULL;
  assert_int_equal(
      docstore_service_new(&svc, c.p, kr, NULL, errbuf, sizeof(errbuf)), 0);
  const size_t n = 400000;
  uint8_t *doc = malloc(n);
  assert_non_null(doc);
  itest_fill(doc, n, 71);
  char *path = NULL;
  if (docstore_service_store_document(svc, &path, "9", "f.bin", doc, n,
                                      "rangeflip") != 0)
    fail_msg("store: %s", docstore_service_errmsg(svc));
  assert_non_null(strstr(path, "user_rangeflip/"));

  /* The provider hands the bytes over as the server sent them. */
  size_t len = 0;
  int rc;
  docstore__err err;
  uint8_t *raw = stream_all(&c, path, 65536, 4, &len, &rc, &err);
  assert_int_equal(rc, 0);
  free(raw);

  docstore_reader *r = NULL;
  uint8_t buf[65536];
  size_t got = 0, plain = 0;
  rc = docstore_reader_open(&r, svc, path, NULL, NULL);
  while (rc == 0) {
    rc = docstore_reader_read(r, buf, sizeof(buf), &got);
    if (rc == 0 && got == 0)
      break;
    if (rc == 0)
      assert_memory_equal(buf, doc + plain, got);
    plain += got;
  }
  assert_int_equal(rc, DOCSTORE_EINTEGRITY);
  assert_true(plain < n / 2 + 65536);
  docstore_reader_close(r);
  docstore_free(path);
  free(doc);
  docstore_service_free(svc);
}

/* Closing a stream stops its window threads at once, also in the middle
 * of slow replies (slowwin: 1 KiB every 100 ms, a window would take
 * minutes). */
static void test_stream_close_stops_windows(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  const char *key = "slowwin/c.bin";
  uint8_t *data;
  put_object(&c, key, 4 << 20, 72, &data);
  c.s3->download_part_size = 1 << 20;
  c.s3->download_concurrency = 4;
  docstore__err err;
  docstore__get_stream *st = NULL;
  assert_int_equal(
      docstore__provider_get_open(c.p, key, 0, UINT64_MAX, &st, NULL, &err), 0);
  uint8_t buf[4096];
  size_t got = 0;
  assert_int_equal(
      docstore__provider_get_read(st, buf, sizeof(buf), &got, &err), 0);
  assert_memory_equal(buf, data, got);
  /* Let the three window threads get into their replies. */
  struct timespec pause = {0, 500 * 1000000L};
  nanosleep(&pause, NULL);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  docstore__provider_get_close(st);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (secs > 3.0)
    fail_msg("closing the stream took %.1f s", secs);
  assert_true(seen("requests", "GET", key) >= 2);
  free(data);
  docstore_provider_free(c.p);
}

/* ------------------------------------------------- endless listings */

static void assert_list_stops(conn *c, const char *prefix, const char *why) {
  int entries = 0;
  assert_int_equal(docstore_provider_list(c->p, prefix, count_entry, &entries),
                   DOCSTORE_EFORMAT);
  const char *msg = docstore_provider_errmsg(c->p);
  if (!strstr(msg, why) || !strstr(msg, "makes no progress"))
    fail_msg("list %s: unexpected message: %s", prefix, msg);
  assert_true(entries <= 2);
}

static void test_listing_without_progress(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  conn c = open_fault(&o, NULL);
  assert_list_stops(&c, "looptoken/", "same continuation token");
  assert_list_stops(&c, "emptypage/", "empty page");
  assert_list_stops(&c, "cycle/", "'cycle/1' comes again or out of order");
  /* A listing that moves on still works. */
  uint8_t *data;
  put_object(&c, "plain/list/1", 10, 1, &data);
  free(data);
  put_object(&c, "plain/list/2", 10, 2, &data);
  free(data);
  int entries = 0;
  assert_int_equal(
      docstore_provider_list(c.p, "plain/list/", count_entry, &entries), 0);
  assert_int_equal(entries, 2);
  docstore_provider_free(c.p);
}

/* Against a server that checks and echoes flexible checksums (as AWS
 * does; Swift does neither): an unsigned upload with CRC-32C is proven by
 * the echo, and a body corrupted on the way is refused (BadDigest). */
static void test_checksum_echo_proves_upload(void **state) {
  (void)state;
  docstore_s3_options o = fault_options();
  o.checksum = DOCSTORE_S3_CHECKSUM_CRC32C;
  o.payload_signing = DOCSTORE_S3_PAYLOAD_UNSIGNED;
  for (int corrupt = 0; corrupt < 2; corrupt++) {
    docstore__s3_tuning tuning = {.corrupt_body_at = corrupt ? 5 : 0};
    conn c = open_fault(&o, &tuning);
    docstore__s3_req req;
    memset(&req, 0, sizeof(req));
    req.op = DOCSTORE_OP_PUT;
    req.method = "PUT";
    req.key = "echo/a.bin";
    req.body = (const uint8_t *)"0123456789";
    req.body_len = 10;
    req.send_body = 1;
    req.object_data = 1;
    docstore__s3_resp resp;
    docstore__err err;
    docstore__err_clear(&err);
    int rc = docstore__s3_request(c.s3, &req, &resp, &err);
    if (corrupt) {
      assert_int_equal(rc, DOCSTORE_EINTEGRITY);
      assert_non_null(strstr(err.msg, "BadDigest"));
    } else {
      if (rc != 0)
        fail_msg("put: %s", err.msg);
      assert_int_equal(resp.body_proven, 1);
      /* CRC-32C of "0123456789" is 0x280C069E */
      assert_string_equal(resp.sent_checksum, "KAwGng==");
    }
    docstore__s3_resp_free(&resp);
    docstore_provider_free(c.p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_checksum_echo_proves_upload),
      cmocka_unit_test(test_slowdown_then_ok),
      cmocka_unit_test(test_slowdown_exhausts_attempts),
      cmocka_unit_test(test_dropped_connection_retried),
      cmocka_unit_test(test_read_resumes_after_drop_mid_body),
      cmocka_unit_test(test_stall_detected),
      cmocka_unit_test(test_request_timeout),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_access_denied_not_retried),
      cmocka_unit_test_prestate(test_error_inside_200_complete_retried,
                                &concurrency_four),
      cmocka_unit_test_prestate(test_error_inside_200_complete_retried,
                                &concurrency_one),
      cmocka_unit_test_prestate(test_error_inside_200_complete_aborts,
                                &concurrency_four),
      cmocka_unit_test_prestate(test_error_inside_200_complete_aborts,
                                &concurrency_one),
      cmocka_unit_test_prestate(test_multipart_part_failure_aborts,
                                &concurrency_four),
      cmocka_unit_test_prestate(test_multipart_part_failure_aborts,
                                &concurrency_one),
      cmocka_unit_test(test_part_failure_with_parts_in_flight),
      cmocka_unit_test(test_sink_stop_not_retried),
      cmocka_unit_test(test_service_counts_retries),
      cmocka_unit_test(test_endless_body_stops_at_limit),
      cmocka_unit_test(test_huge_content_length_refused),
      cmocka_unit_test(test_oversized_list_reply),
      cmocka_unit_test(test_oversized_error_body),
      cmocka_unit_test(test_corrupted_bodies_refused),
      cmocka_unit_test(test_checksums_checked),
      cmocka_unit_test(test_listing_without_progress),
      cmocka_unit_test(test_stream_window_cut_resumes),
      cmocka_unit_test(test_stream_flipped_byte_caught_by_service),
      cmocka_unit_test(test_stream_close_stops_windows),
#ifdef DOCSTORE_CLI_PATH
      cmocka_unit_test(test_cli_get_raw_refuses_corrupt),
#endif
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
