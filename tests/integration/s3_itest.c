/*
 * Helpers shared by the S3 integration tests.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "s3_itest.h"

int itest_env_load(itest_env *env) {
  static const char *const names[] = {"S3_BUCKET", "S3_ACCESS_KEY",
                                      "S3_SECRET_KEY", "S3_ENDPOINT_URL"};
  int missing = 0;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    const char *v = getenv(names[i]);
    if (!v || !*v) {
      fprintf(stderr,
              "FAIL: %s is not set. The S3 integration tests need a running "
              "S3 server: run them under tools/with-test-servers.sh (CI "
              "always does).\n",
              names[i]);
      missing = 1;
    }
  }
  if (missing)
    return -1;
  env->bucket = getenv("S3_BUCKET");
  env->access_key = getenv("S3_ACCESS_KEY");
  env->secret_key = getenv("S3_SECRET_KEY");
  env->endpoint = getenv("S3_ENDPOINT_URL");
  env->region = getenv("S3_REGION");
  if (!env->region || !*env->region)
    env->region = "us-east-1";
  return 0;
}

docstore_s3_options itest_options(const itest_env *env) {
  docstore_s3_options o;
  assert_int_equal(docstore_s3_options_init(&o, DOCSTORE_S3_OPTIONS_VERSION),
                   0);
  if (env) {
    o.bucket = env->bucket;
    o.access_key = env->access_key;
    o.secret_key = env->secret_key;
    o.region = env->region;
    o.endpoint_url = env->endpoint;
  }
  o.max_attempts = 3;
  o.retry_base_ms = 10;
  o.retry_max_ms = 50;
  return o;
}

int itest_try_open(docstore_provider **out, docstore__s3 **s3,
                   const docstore_s3_options *opts,
                   const docstore__s3_tuning *tuning, char *errbuf,
                   size_t errbuf_len) {
  docstore__err err;
  docstore__err_clear(&err);
  *out = NULL;
  *s3 = NULL;
  int rc = docstore__s3_new(s3, opts, tuning, &err);
  if (rc < 0) {
    docstore__err_to_buf(&err, errbuf, errbuf_len);
    return rc;
  }
  docstore__s3 *payload = *s3;
  rc = docstore_provider_new(out, docstore__s3_ops(), payload);
  if (rc < 0) {
    *s3 = NULL;
    snprintf(errbuf, errbuf_len, "docstore_provider_new: %d", rc);
    return rc;
  }
  payload->owner = *out;
  return 0;
}

void itest_open(docstore_provider **out, docstore__s3 **s3,
                const docstore_s3_options *opts,
                const docstore__s3_tuning *tuning) {
  char errbuf[512] = "";
  int rc = itest_try_open(out, s3, opts, tuning, errbuf, sizeof(errbuf));
  if (rc != 0)
    fail_msg("cannot open the S3 provider: %d %s", rc, errbuf);
}

const char *itest_prefix(void) {
  static char prefix[96];
  static int n;
  snprintf(prefix, sizeof(prefix), "itest-%ld-%ld-%d/", (long)getpid(),
           (long)time(NULL), n++);
  return prefix;
}

char *itest_key(const char *prefix, const char *name) {
  if (!prefix)
    prefix = itest_prefix();
  size_t n = strlen(prefix) + strlen(name) + 1;
  char *k = malloc(n);
  assert_non_null(k);
  snprintf(k, n, "%s%s", prefix, name);
  return k;
}

void itest_fill(uint8_t *buf, size_t len, uint64_t seed) {
  uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[i] = (uint8_t)(x >> 24);
  }
}

int itest_listener(int backlog, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  if (backlog >= 0)
    assert_int_equal(listen(fd, backlog), 0);
  socklen_t len = sizeof(a);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

int itest_closed_port(void) {
  int port;
  close(itest_listener(-1, &port)); /* nothing listens there now */
  return port;
}

/* Reads f to its end into a malloc'd, NUL-terminated buffer. */
static char *read_all(FILE *f) {
  size_t cap = 1 << 16, len = 0, n;
  char *buf = malloc(cap);
  assert_non_null(buf);
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
  }
  buf[len] = '\0';
  return buf;
}

int itest_run(const char *cmd, char **out, int *status) {
  FILE *f = popen(cmd, "r");
  if (!f)
    return -1;
  char *buf = read_all(f);
  int st = pclose(f);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (out)
    *out = buf;
  else
    free(buf);
  return 0;
}

char *itest_shell_quote(const char *s) {
  size_t n = 2;
  for (const char *p = s; *p; p++)
    n += *p == '\'' ? 4 : 1;
  char *q = malloc(n + 1);
  assert_non_null(q);
  char *w = q;
  *w++ = '\'';
  for (const char *p = s; *p; p++) {
    if (*p == '\'') {
      memcpy(w, "'\\''", 4);
      w += 4;
    } else
      *w++ = *p;
  }
  *w++ = '\'';
  *w = '\0';
  return q;
}

int itest_curl(const char *url, const char *extra, char **body) {
  return itest_curl_n(url, extra, body, NULL);
}

int itest_curl_n(const char *url, const char *extra, char **body,
                 size_t *body_len) {
  char tmpl[] = "/tmp/docstore-itest-curl-XXXXXX";
  int fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  close(fd);
  char *q = itest_shell_quote(url);
  size_t cap = strlen(q) + (extra ? strlen(extra) : 0) + 128;
  char *cmd = malloc(cap);
  assert_non_null(cmd);
  snprintf(cmd, cap, "curl -sS -g -o %s -w '%%{http_code}' %s %s", tmpl,
           extra ? extra : "", q);
  free(q);
  char *out = NULL;
  int st = 0;
  assert_int_equal(itest_run(cmd, &out, &st), 0);
  free(cmd);
  int code = atoi(out);
  free(out);
  if (body) {
    FILE *f = fopen(tmpl, "rb");
    assert_non_null(f);
    if (body_len) {
      assert_int_equal(fseek(f, 0, SEEK_END), 0);
      long n = ftell(f);
      assert_true(n >= 0);
      *body_len = (size_t)n;
      rewind(f);
    }
    char *b = read_all(f);
    fclose(f);
    *body = b;
  }
  unlink(tmpl);
  return code;
}

char *itest_tmpdir(void) {
  char tmpl[] = "/tmp/docstore-s3-itest-XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  char *copy = strdup(d);
  assert_non_null(copy);
  return copy;
}

void itest_rmtree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      char child[4096];
      snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
      struct stat st;
      if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
        itest_rmtree(child);
      else
        unlink(child);
    }
    closedir(d);
  }
  rmdir(path);
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_needle[128];
static int log_hits;

static void capture(void *payload, int level, const char *message) {
  (void)payload;
  pthread_mutex_lock(&log_lock);
  if (level <= DOCSTORE_LOG_WARN && strstr(message, log_needle))
    log_hits++;
  pthread_mutex_unlock(&log_lock);
}

void itest_capture_logs(const char *needle) {
  pthread_mutex_lock(&log_lock);
  docstore__strlcpy(log_needle, needle, sizeof(log_needle));
  log_hits = 0;
  pthread_mutex_unlock(&log_lock);
  docstore_set_log_callback(capture, NULL, DOCSTORE_LOG_WARN);
}

int itest_captured(void) {
  pthread_mutex_lock(&log_lock);
  int n = log_hits;
  pthread_mutex_unlock(&log_lock);
  return n;
}

void itest_restore_logs(void) { docstore_set_log_callback(NULL, NULL, 0); }

uint64_t itest_metric_retries(docstore_provider *p, int op) {
  docstore_op_stats st;
  memset(&st, 0, sizeof(st));
  st.version = DOCSTORE_OP_STATS_VERSION;
  assert_int_equal(
      docstore__metrics_get(docstore__provider_metrics(p), op, &st), 0);
  return st.retries;
}

char *itest_leave_upload(docstore__s3 *s3, const char *key) {
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  docstore__err err;
  char *id = NULL, *id_q = NULL;
  docstore__err_clear(&err);
  req.op = DOCSTORE_OP_PUT;
  req.method = "POST";
  req.key = key;
  req.query = "uploads";
  req.send_body = 1;
  int rc = docstore__s3_request(s3, &req, &resp, &err);
  if (rc < 0)
    fprintf(stderr, "CreateMultipartUpload: %s\n", err.msg);
  assert_int_equal(rc, 0);
  assert_int_equal(docstore__s3_xml_parse_upload_id(
                       (const char *)resp.body.data, resp.body.len, &id),
                   0);
  docstore__s3_resp_free(&resp);

  assert_int_equal(docstore__sigv4_uri_encode(id, strlen(id), 0, &id_q), 0);
  char query[512];
  snprintf(query, sizeof(query), "partNumber=1&uploadId=%s", id_q);
  static const uint8_t part[] = "a part that nobody completes";
  memset(&req, 0, sizeof(req));
  req.op = DOCSTORE_OP_PUT;
  req.method = "PUT";
  req.key = key;
  req.query = query;
  req.body = part;
  req.body_len = sizeof(part) - 1;
  req.send_body = 1;
  req.object_data = 1;
  rc = docstore__s3_request(s3, &req, &resp, &err);
  if (rc < 0)
    fprintf(stderr, "UploadPart: %s\n", err.msg);
  assert_int_equal(rc, 0);
  docstore__s3_resp_free(&resp);
  docstore_free(id_q);
  char *copy = strdup(id);
  docstore_free(id);
  return copy;
}

docstore_keyring *itest_keyring(void) {
  char *pub = NULL, *priv = NULL;
  char errbuf[512];
  assert_int_equal(docstore_keygen(&pub, &priv, 2048, NULL), 0);
  docstore_keyring *kr = NULL;
  assert_int_equal(docstore_keyring_new(&kr, errbuf, sizeof(errbuf)), 0);
  assert_int_equal(docstore_keyring_add_public_pem(kr, NULL, pub, strlen(pub)),
                   0);
  assert_int_equal(
      docstore_keyring_add_private_pem(kr, NULL, priv, strlen(priv), NULL), 0);
  docstore_free(pub);
  docstore_free(priv);
  return kr;
}
