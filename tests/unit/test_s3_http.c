/*
 * Tests for the request layer's integrity and condition policy
 * (src/s3/s3_http.c): what a request with a body carries under each
 * choice of S3_CHECKSUM_ALGORITHM and S3_PAYLOAD_SIGNING, that every such
 * header is signed as sent, resp->body_proven, a reply echoing another
 * checksum, If-Match / If-None-Match and their failures, extra headers;
 * and which digest a whole-object read checks (s3_verify.c).  A small
 * canned-reply HTTP server on 127.0.0.1 (a thread of this test) records
 * each request; no S3 server is needed (tests/integration/test_s3_wire.c
 * runs the same against Swift).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "s3/s3_internal.h"

/* ------------------------------------------------------ the server */

/* strcasestr() is a GNU extension. */
static const char *find_ci(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0)
      return hay;
  return NULL;
}

#define MAX_REQS 4

typedef struct server {
  int fd;
  int port;
  const char *replies[MAX_REQS]; /* whole HTTP replies, in order */
  size_t nreplies;
  char *reqs[MAX_REQS]; /* head and body of each request received */
  size_t req_len[MAX_REQS];
  size_t nreqs;
  pthread_t thread;
  atomic_int stop; /* the client is done: no more requests will come */
} server;

/* Reads one request (head, and a body of Content-Length bytes). */
static char *read_request(int c, size_t *out_len) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  size_t head_end = 0, need = 0;
  for (;;) {
    struct pollfd p = {c, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0)
      break;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
    ssize_t n = recv(c, buf + len, cap - len, 0);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
    if (!head_end) {
      char *e = strstr(buf, "\r\n\r\n");
      if (!e)
        continue;
      head_end = (size_t)(e - buf) + 4;
      const char *cl = find_ci(buf, "\r\ncontent-length:");
      need = head_end + (cl && cl < e ? strtoul(cl + 17, NULL, 10) : 0);
    }
    if (len >= need)
      break;
  }
  buf[len] = '\0';
  *out_len = len;
  return buf;
}

static void *serve(void *arg) {
  server *s = arg;
  for (size_t i = 0; i < s->nreplies; i++) {
    int ready = 0;
    for (int tick = 0; tick < 100 && !ready && !atomic_load(&s->stop); tick++) {
      struct pollfd p = {s->fd, POLLIN, 0};
      ready = poll(&p, 1, 50) > 0;
    }
    if (!ready)
      break;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      break;
    s->reqs[i] = read_request(c, &s->req_len[i]);
    s->nreqs++;
    (void)!write(c, s->replies[i], strlen(s->replies[i]));
    shutdown(c, SHUT_WR);
    char drain[256];
    while (recv(c, drain, sizeof(drain), 0) > 0) {
    }
    close(c);
  }
  return NULL;
}

static void server_start(server *s, const char *const *replies, size_t n) {
  memset(s, 0, sizeof(*s));
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t al = sizeof(a);
  assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(listen(s->fd, 8), 0);
  for (size_t i = 0; i < n; i++)
    s->replies[i] = replies[i];
  s->nreplies = n;
  atomic_init(&s->stop, 0);
  assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server *s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->thread, NULL);
  close(s->fd);
}

/* The recorded requests, once the test has looked at them. */
static void server_free(server *s) {
  for (size_t i = 0; i < s->nreqs; i++)
    free(s->reqs[i]);
  s->nreqs = 0;
}

/* The value of header `name` in a recorded request, or NULL (static). */
static const char *hdr(const char *req, const char *name) {
  static char v[512];
  char pat[96];
  snprintf(pat, sizeof(pat), "\r\n%s:", name);
  const char *h = find_ci(req, pat);
  const char *end = strstr(req, "\r\n\r\n");
  if (!h || h > end)
    return NULL;
  h += strlen(pat);
  while (*h == ' ')
    h++;
  size_t n = strcspn(h, "\r");
  snprintf(v, sizeof(v), "%.*s", (int)n, h);
  return v;
}

/* 1 if `name` (lower case) is in the Authorization's SignedHeaders. */
static int is_signed(const char *req, const char *name) {
  const char *a = hdr(req, "Authorization");
  assert_non_null(a);
  const char *sh = strstr(a, "SignedHeaders=");
  assert_non_null(sh);
  sh += 14;
  size_t n = strcspn(sh, ",");
  size_t len = strlen(name);
  for (const char *p = sh; p < sh + n;) {
    size_t m = strcspn(p, ";,");
    if (m == len && strncmp(p, name, len) == 0)
      return 1;
    p += m + 1;
  }
  return 0;
}

/* Signs the recorded request again from what was sent (method, path,
 * every signed header's value, X-Amz-Date, the payload hash) and checks
 * that the Authorization sent is that signature: every header the policy
 * adds is signed with the value on the wire. */
static void assert_signed_as_sent(const char *req, const char *secret) {
  char auth[512], method[16], path[256];
  docstore__strlcpy(auth, hdr(req, "Authorization"), sizeof(auth));
  assert_int_equal(sscanf(req, "%15s %255s", method, path), 2);
  char date[32], hash[80];
  docstore__strlcpy(date, hdr(req, "x-amz-date"), sizeof(date));
  docstore__strlcpy(hash, hdr(req, "x-amz-content-sha256"), sizeof(hash));
  const char *sh = strstr(auth, "SignedHeaders=") + 14;
  char names[512];
  snprintf(names, sizeof(names), "%.*s", (int)strcspn(sh, ","), sh);
  docstore__sigv4_header h[24];
  char values[24][256];
  size_t nh = 0;
  for (char *save = NULL, *n = strtok_r(names, ";", &save); n;
       n = strtok_r(NULL, ";", &save)) {
    if (strcmp(n, "x-amz-date") == 0 || strcmp(n, "x-amz-content-sha256") == 0)
      continue;
    const char *v = hdr(req, n);
    assert_non_null(v);
    docstore__strlcpy(values[nh], v, sizeof(values[nh]));
    h[nh] = (docstore__sigv4_header){strdup(n), values[nh]};
    nh++;
  }
  char *q = strchr(path, '?');
  if (q)
    *q++ = '\0';
  docstore__sigv4_request sr;
  memset(&sr, 0, sizeof(sr));
  sr.method = method;
  sr.path = path;
  sr.query = q;
  sr.headers = h;
  sr.header_count = nh;
  sr.payload_hash = hash;
  sr.amz_date = date;
  docstore__sigv4_credentials cred = {"AKIDEXAMPLE", secret, NULL};
  docstore__sigv4_options o;
  docstore__sigv4_options_init_s3(&o, DOCSTORE__SIGV4_FORM_HEADER);
  docstore__sigv4_result r;
  assert_int_equal(
      docstore__sigv4_sign(&sr, &cred, "us-east-1", "s3", &o, NULL, &r), 0);
  assert_string_equal(r.authorization, auth);
  docstore__sigv4_result_free(&r);
  for (size_t i = 0; i < nh; i++)
    free((char *)h[i].name);
}

/* ------------------------------------------------------ the client */

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define OK_REPLY                                                               \
  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: \"e\"\r\n"                    \
  "Connection: close\r\n\r\n"

static docstore__s3 *client(int port, int checksum, int signing) {
  docstore_s3_options o;
  assert_int_equal(docstore_s3_options_init(&o, DOCSTORE_S3_OPTIONS_VERSION),
                   0);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
  o.bucket = "bucket";
  o.access_key = "AKIDEXAMPLE";
  o.secret_key = SECRET;
  o.endpoint_url = url;
  o.checksum = checksum;
  o.payload_signing = signing;
  o.max_attempts = 2;
  o.retry_base_ms = 1;
  o.retry_max_ms = 2;
  docstore__s3 *s3 = NULL;
  docstore__err err;
  docstore__err_clear(&err);
  if (docstore__s3_new(&s3, &o, NULL, &err) != 0)
    fail_msg("docstore__s3_new: %s", err.msg);
  return s3;
}

static const uint8_t body[] = "123456789";
#define BODY_LEN 9
/* SHA-256 of "123456789", hex and base64; its CRC-32C E3069283, CRC-32
 * CBF43926 and MD5 25f9e794323b453885f5181f1b624d0b, base64. */
#define BODY_SHA256_HEX                                                        \
  "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"
#define BODY_SHA256_B64 "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="
#define BODY_CRC32C_B64 "4waSgw=="
#define BODY_CRC32_B64 "y/Q5Jg=="
#define BODY_MD5_B64 "JfnnlDI7RTiF9RgfG2JNCw=="

typedef struct outcome {
  int rc;
  docstore__s3_resp resp;
  docstore__err err;
  server srv;
} outcome;

/* One PUT of `body` (object data or not) under a policy, answered by
 * `replies`. */
static void put_once(outcome *o, int checksum, int signing, int object_data,
                     const char *const *replies, size_t nreplies,
                     void (*tweak)(docstore__s3_req *)) {
  server_start(&o->srv, replies, nreplies);
  docstore__s3 *s3 = client(o->srv.port, checksum, signing);
  docstore__s3_req req;
  memset(&req, 0, sizeof(req));
  req.method = "PUT";
  req.key = "k";
  req.body = body;
  req.body_len = BODY_LEN;
  req.send_body = 1;
  req.object_data = object_data;
  if (tweak)
    tweak(&req);
  docstore__err_clear(&o->err);
  o->rc = docstore__s3_request(s3, &req, &o->resp, &o->err);
  docstore__s3_free(s3);
  server_stop(&o->srv);
}

static void done(outcome *o) {
  docstore__s3_resp_free(&o->resp);
  server_free(&o->srv);
}

static const char *const ok[] = {OK_REPLY};

/* ------------------------------------------------------------- tests */

/* Over http by default: the body's SHA-256 is signed, nothing else; the
 * reply proves the body (the server recomputed the hash). */
static void test_signed_no_checksum(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1, ok, 1,
           NULL);
  assert_int_equal(o.rc, 0);
  const char *r = o.srv.reqs[0];
  assert_non_null(r);
  assert_string_equal(hdr(r, "x-amz-content-sha256"), BODY_SHA256_HEX);
  assert_true(is_signed(r, "x-amz-content-sha256"));
  assert_null(hdr(r, "Content-MD5"));
  assert_null(find_ci(r, "x-amz-checksum-"));
  assert_int_equal(o.resp.body_proven, 1);
  assert_string_equal(o.resp.sent_checksum, "");
  assert_memory_equal(r + o.srv.req_len[0] - BODY_LEN, body, BODY_LEN);
  assert_signed_as_sent(r, SECRET);
  done(&o);
}

/* The https default: UNSIGNED-PAYLOAD (signed as such) and CRC-32C.  A
 * server that does not echo it proves nothing; one that echoes the same
 * value does; another value is DOCSTORE_EINTEGRITY (not retried). */
static void test_unsigned_crc32c(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_CRC32C, DOCSTORE_S3_PAYLOAD_UNSIGNED, 1, ok,
           1, NULL);
  assert_int_equal(o.rc, 0);
  const char *r = o.srv.reqs[0];
  assert_string_equal(hdr(r, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  assert_string_equal(hdr(r, "x-amz-checksum-crc32c"), BODY_CRC32C_B64);
  assert_true(is_signed(r, "x-amz-checksum-crc32c"));
  assert_null(hdr(r, "Content-MD5"));
  assert_string_equal(o.resp.sent_checksum, BODY_CRC32C_B64);
  assert_int_equal(o.resp.body_proven, 0);
  assert_signed_as_sent(r, SECRET);
  done(&o);

  static const char *const echo[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: "
      "0\r\nx-amz-checksum-crc32c: " BODY_CRC32C_B64
      "\r\nConnection: close\r\n\r\n"};
  put_once(&o, DOCSTORE_S3_CHECKSUM_CRC32C, DOCSTORE_S3_PAYLOAD_UNSIGNED, 1,
           echo, 1, NULL);
  assert_int_equal(o.rc, 0);
  assert_int_equal(o.resp.body_proven, 1);
  done(&o);

  static const char *const wrong[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-amz-checksum-crc32c: "
      "AAAAAA==\r\nConnection: close\r\n\r\n",
      OK_REPLY};
  put_once(&o, DOCSTORE_S3_CHECKSUM_CRC32C, DOCSTORE_S3_PAYLOAD_UNSIGNED, 1,
           wrong, 2, NULL);
  assert_int_equal(o.rc, DOCSTORE_EINTEGRITY);
  assert_int_equal(o.srv.nreqs, 1);
  assert_non_null(strstr(o.err.msg, "AAAAAA=="));
  assert_non_null(strstr(o.err.msg, BODY_CRC32C_B64));
  done(&o);
}

/* CRC-32 and SHA-256 flexible checksums; signed and SHA-256 together
 * hash once but send both. */
static void test_crc32_and_sha256(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_CRC32, DOCSTORE_S3_PAYLOAD_UNSIGNED, 1, ok,
           1, NULL);
  assert_int_equal(o.rc, 0);
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-checksum-crc32"),
                      BODY_CRC32_B64);
  assert_string_equal(o.resp.sent_checksum, BODY_CRC32_B64);
  done(&o);
  put_once(&o, DOCSTORE_S3_CHECKSUM_SHA256, DOCSTORE_S3_PAYLOAD_SIGNED, 1, ok,
           1, NULL);
  assert_int_equal(o.rc, 0);
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-checksum-sha256"),
                      BODY_SHA256_B64);
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-content-sha256"),
                      BODY_SHA256_HEX);
  assert_int_equal(o.resp.body_proven, 1);
  assert_signed_as_sent(o.srv.reqs[0], SECRET);
  done(&o);
  put_once(&o, DOCSTORE_S3_CHECKSUM_SHA256, DOCSTORE_S3_PAYLOAD_UNSIGNED, 1, ok,
           1, NULL);
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-checksum-sha256"),
                      BODY_SHA256_B64);
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-content-sha256"),
                      "UNSIGNED-PAYLOAD");
  done(&o);
}

/* Content-MD5 only when chosen; it proves the body (the server checks it)
 * even unsigned, and sent_checksum stays empty (not a flexible one). */
static void test_md5_only_when_chosen(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_MD5, DOCSTORE_S3_PAYLOAD_UNSIGNED, 1, ok, 1,
           NULL);
  assert_int_equal(o.rc, 0);
  assert_string_equal(hdr(o.srv.reqs[0], "Content-MD5"), BODY_MD5_B64);
  assert_true(is_signed(o.srv.reqs[0], "content-md5"));
  assert_int_equal(o.resp.body_proven, 1);
  assert_string_equal(o.resp.sent_checksum, "");
  assert_signed_as_sent(o.srv.reqs[0], SECRET);
  done(&o);
}

/* A control body (XML: object_data 0) is signed and carries no checksum,
 * whatever the policy for object data. */
static void test_control_body(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_MD5, DOCSTORE_S3_PAYLOAD_UNSIGNED, 0, ok, 1,
           NULL);
  assert_int_equal(o.rc, 0);
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-content-sha256"),
                      BODY_SHA256_HEX);
  assert_null(hdr(o.srv.reqs[0], "Content-MD5"));
  assert_null(find_ci(o.srv.reqs[0], "x-amz-checksum-"));
  assert_int_equal(o.resp.body_proven, 1);
  done(&o);
  put_once(&o, DOCSTORE_S3_CHECKSUM_CRC32C, DOCSTORE_S3_PAYLOAD_UNSIGNED, 0, ok,
           1, NULL);
  assert_null(find_ci(o.srv.reqs[0], "x-amz-checksum-"));
  assert_string_equal(o.resp.sent_checksum, "");
  done(&o);
}

static void with_if_none_match(docstore__s3_req *r) { r->if_none_match = 1; }
static void with_if_match(docstore__s3_req *r) { r->if_match = "\"abc\""; }

static const docstore__sigv4_header extras[] = {
    {"x-amz-checksum-algorithm", "CRC32C"}, {"x-amz-meta-who", "test"}};
static void with_extras(docstore__s3_req *r) {
  r->extra_headers = extras;
  r->extra_count = 2;
}
static void with_too_many(docstore__s3_req *r) {
  r->extra_headers = extras;
  r->extra_count = DOCSTORE__S3_MAX_EXTRA_HEADERS + 1;
}

/* An S3 error reply (static storage, a few at a time). */
static const char *error_reply(const char *status, const char *code) {
  static char out[4][512];
  static int next;
  char *o = out[next++ % 4];
  char xml[200];
  snprintf(xml, sizeof(xml),
           "<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>m"
           "</Message></Error>",
           code);
  snprintf(o, 512,
           "HTTP/1.1 %s\r\nContent-Type: application/xml\r\nContent-Length: "
           "%zu\r\nConnection: close\r\n\r\n%s",
           status, strlen(xml), xml);
  return o;
}

/* If-None-Match: * is sent and signed; 412 is EEXISTS, 501 NotImplemented
 * EUNSUPPORTED with s3_code for the caller's fallback (neither retried). */
static void test_if_none_match(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1, ok, 1,
           with_if_none_match);
  assert_int_equal(o.rc, 0);
  assert_string_equal(hdr(o.srv.reqs[0], "If-None-Match"), "*");
  assert_true(is_signed(o.srv.reqs[0], "if-none-match"));
  assert_signed_as_sent(o.srv.reqs[0], SECRET);
  done(&o);

  const char *r412[] = {
      error_reply("412 Precondition Failed", "PreconditionFailed"), OK_REPLY};
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1, r412,
           2, with_if_none_match);
  assert_int_equal(o.rc, DOCSTORE_EEXISTS);
  assert_int_equal(o.srv.nreqs, 1);
  assert_non_null(strstr(o.err.msg, "already exists"));
  done(&o);

  const char *r501[] = {error_reply("501 Not Implemented", "NotImplemented"),
                        OK_REPLY};
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1, r501,
           2, with_if_none_match);
  assert_int_equal(o.rc, DOCSTORE_EUNSUPPORTED);
  assert_int_equal(o.srv.nreqs, 1);
  assert_string_equal(o.resp.s3_code, "NotImplemented");
  assert_int_equal(o.resp.status, 501);
  done(&o);

  /* AWS: a concurrent conditional write of the key; retried. */
  const char *r409[] = {
      error_reply("409 Conflict", "ConditionalRequestConflict"), OK_REPLY};
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1, r409,
           2, with_if_none_match);
  assert_int_equal(o.rc, 0);
  assert_int_equal(o.srv.nreqs, 2);
  done(&o);

  /* A 412 without a condition stays a server error. */
  const char *plain412[] = {
      error_reply("412 Precondition Failed", "PreconditionFailed")};
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1,
           plain412, 1, NULL);
  assert_int_equal(o.rc, DOCSTORE_ESERVER);
  done(&o);
}

/* If-Match is sent and signed; 412 is ECHANGED. */
static void test_if_match(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1, ok, 1,
           with_if_match);
  assert_int_equal(o.rc, 0);
  assert_string_equal(hdr(o.srv.reqs[0], "If-Match"), "\"abc\"");
  assert_true(is_signed(o.srv.reqs[0], "if-match"));
  done(&o);
  const char *r412[] = {
      error_reply("412 Precondition Failed", "PreconditionFailed"), OK_REPLY};
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 1, r412,
           2, with_if_match);
  assert_int_equal(o.rc, DOCSTORE_ECHANGED);
  assert_int_equal(o.srv.nreqs, 1);
  assert_non_null(strstr(o.err.msg, "changed"));
  done(&o);
}

/* The caller's headers are sent and signed; too many are refused before
 * anything is sent. */
static void test_extra_headers(void **state) {
  (void)state;
  outcome o;
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 0, ok, 1,
           with_extras);
  assert_int_equal(o.rc, 0);
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-checksum-algorithm"), "CRC32C");
  assert_string_equal(hdr(o.srv.reqs[0], "x-amz-meta-who"), "test");
  assert_true(is_signed(o.srv.reqs[0], "x-amz-checksum-algorithm"));
  assert_true(is_signed(o.srv.reqs[0], "x-amz-meta-who"));
  assert_signed_as_sent(o.srv.reqs[0], SECRET);
  done(&o);
  put_once(&o, DOCSTORE_S3_CHECKSUM_NONE, DOCSTORE_S3_PAYLOAD_SIGNED, 0, ok, 0,
           with_too_many);
  assert_int_equal(o.rc, DOCSTORE_EINVAL);
  done(&o);
}

/* The policy function alone, on an empty body. */
static void test_policy_empty_body(void **state) {
  (void)state;
  docstore__s3 *s3 =
      client(1, DOCSTORE_S3_CHECKSUM_CRC32C, DOCSTORE_S3_PAYLOAD_SIGNED);
  docstore__s3_req req;
  memset(&req, 0, sizeof(req));
  req.send_body = 1;
  req.object_data = 1;
  docstore__s3_body_policy p;
  assert_int_equal(docstore__s3_body_policy_for(s3, &req, &p), 0);
  assert_string_equal(p.payload_hash, DOCSTORE__SIGV4_EMPTY_SHA256);
  assert_string_equal(p.sum_header, "x-amz-checksum-crc32c");
  assert_string_equal(p.sum_value, "AAAAAA==");
  docstore__s3_free(s3);
}

/* A whole-object read checks a full-object checksum when the reply has
 * one, and then not the ETag's MD5; a composite checksum falls back on
 * the MD5. */
static void test_verify_prefers_checksum(void **state) {
  (void)state;
  docstore__s3_resp r;
  memset(&r, 0, sizeof(r));
  r.status = 200;
  r.has_content_length = 1;
  r.content_length = BODY_LEN;
  /* An ETag that looks like an MD5 but is not the body's. */
  docstore__strlcpy(r.etag, "\"00000000000000000000000000000000\"",
                    sizeof(r.etag));
  docstore__strlcpy(r.checksum_algo, "crc32c", sizeof(r.checksum_algo));
  docstore__strlcpy(r.checksum, BODY_CRC32C_B64, sizeof(r.checksum));
  docstore__err err;
  docstore__err_clear(&err);
  docstore__s3_verify v;
  memset(&v, 0, sizeof(v));
  assert_int_equal(docstore__s3_verify_begin(&v, &r), 0);
  assert_null(v.md5);
  assert_int_equal(docstore__s3_verify_update(&v, body, BODY_LEN), 0);
  assert_int_equal(docstore__s3_verify_end(&v, "'k'", &err), 0);
  docstore__s3_verify_free(&v);

  docstore__strlcpy(r.checksum, "AAAAAA==", sizeof(r.checksum));
  assert_int_equal(docstore__s3_verify_begin(&v, &r), 0);
  assert_int_equal(docstore__s3_verify_update(&v, body, BODY_LEN), 0);
  assert_int_equal(docstore__s3_verify_end(&v, "'k'", &err),
                   DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(err.msg, "x-amz-checksum-crc32c"));
  docstore__s3_verify_free(&v);

  docstore__strlcpy(r.checksum, "AAAAAA==-3", sizeof(r.checksum));
  assert_int_equal(docstore__s3_verify_begin(&v, &r), 0);
  assert_non_null(v.md5);
  assert_int_equal(docstore__s3_verify_update(&v, body, BODY_LEN), 0);
  assert_int_equal(docstore__s3_verify_end(&v, "'k'", &err),
                   DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(err.msg, "MD5"));
  docstore__s3_verify_free(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signed_no_checksum),
      cmocka_unit_test(test_unsigned_crc32c),
      cmocka_unit_test(test_crc32_and_sha256),
      cmocka_unit_test(test_md5_only_when_chosen),
      cmocka_unit_test(test_control_body),
      cmocka_unit_test(test_if_none_match),
      cmocka_unit_test(test_if_match),
      cmocka_unit_test(test_extra_headers),
      cmocka_unit_test(test_policy_empty_body),
      cmocka_unit_test(test_verify_prefers_checksum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
