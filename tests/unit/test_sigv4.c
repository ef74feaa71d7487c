/*
 * Tests for the SigV4 signer (src/s3/sigv4.c).
 * SPDX-License-Identifier: Apache-2.0
 *
 * 1. Every case of the AWS SigV4 test suite found at run time under
 *    DOCSTORE_TEST_DATA_DIR/aws-sigv4-test-suite, in header and query form.
 * 2. S3 specifics, AWS documentation examples, key cache, bad input.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "docstore/common.h"
#include "s3/sigv4.h"

#ifndef DOCSTORE_TEST_DATA_DIR
#define DOCSTORE_TEST_DATA_DIR "tests/data"
#endif
#define SUITE_DIR DOCSTORE_TEST_DATA_DIR "/aws-sigv4-test-suite"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char *xstrndup(const char *s, size_t n) {
  char *p = malloc(n + 1);

  assert_non_null(p);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

/* Reads a whole file; returns NULL if it does not exist. */
static char *read_file(const char *dir, const char *name, size_t *len_out) {
  char path[1024];
  FILE *f;
  char *buf = NULL;
  size_t len = 0;
  size_t cap = 0;

  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  for (;;) {
    size_t n;

    if (cap - len < 4096) {
      cap = cap ? cap * 2 : 8192;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0)
      break;
  }
  assert_int_equal(ferror(f), 0);
  fclose(f);
  buf[len] = '\0';
  if (len_out != NULL)
    *len_out = len;
  return buf;
}

static char *must_read(const char *dir, const char *name) {
  char *s = read_file(dir, name, NULL);

  if (s == NULL)
    fail_msg("missing %s/%s", dir, name);
  return s;
}

/* Appends to a malloc'd string. */
static void cat(char **dst, const char *s) {
  size_t a = *dst ? strlen(*dst) : 0;
  size_t b = strlen(s);
  char *p = realloc(*dst, a + b + 1);

  assert_non_null(p);
  memcpy(p + a, s, b + 1);
  *dst = p;
}

/* ------------------------------------------------------------------------ */
/* request.txt / context.json parsing                                       */
/* ------------------------------------------------------------------------ */

#define MAX_HDRS 32

typedef struct parsed_request {
  char *method;
  char *target;
  char *version;
  docstore__sigv4_header hdrs[MAX_HDRS];
  size_t nhdrs;
  char *header_block; /* raw header lines, each ending with '\n' */
  char *body;
  size_t body_len;
} parsed_request;

static void parsed_request_free(parsed_request *r) {
  size_t i;

  free(r->method);
  free(r->target);
  free(r->version);
  for (i = 0; i < r->nhdrs; i++) {
    free((char *)r->hdrs[i].name);
    free((char *)r->hdrs[i].value);
  }
  free(r->header_block);
  free(r->body);
  memset(r, 0, sizeof *r);
}

/* "METHOD target HTTP/1.1", header lines (continuation lines start with
 * SP/HT), blank line, body. The target may contain spaces. */
static void parse_request(const char *text, size_t len, parsed_request *r) {
  const char *p = text;
  const char *end = text + len;
  const char *eol;
  const char *sp1;
  const char *sp2;

  memset(r, 0, sizeof *r);
  eol = memchr(p, '\n', (size_t)(end - p));
  if (eol == NULL)
    eol = end;
  sp1 = memchr(p, ' ', (size_t)(eol - p));
  assert_non_null(sp1);
  sp2 = eol;
  while (sp2 > sp1 && *(sp2 - 1) != ' ')
    sp2--;
  assert_true(sp2 - 1 > sp1);
  r->method = xstrndup(p, (size_t)(sp1 - p));
  r->target = xstrndup(sp1 + 1, (size_t)(sp2 - 1 - (sp1 + 1)));
  r->version = xstrndup(sp2, (size_t)(eol - sp2));
  r->header_block = xstrdup("");
  p = eol < end ? eol + 1 : end;

  while (p < end) {
    const char *colon;
    char *line;

    eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL)
      eol = end;
    if (eol == p) { /* blank line: body follows */
      p = eol + 1;
      break;
    }
    line = xstrndup(p, (size_t)(eol - p));
    cat(&r->header_block, line);
    cat(&r->header_block, "\n");
    if (line[0] == ' ' || line[0] == '\t') {
      char *v;

      assert_true(r->nhdrs > 0);
      v = (char *)r->hdrs[r->nhdrs - 1].value;
      cat(&v, "\n");
      cat(&v, line);
      r->hdrs[r->nhdrs - 1].value = v;
    } else {
      colon = strchr(line, ':');
      assert_non_null(colon);
      assert_true(r->nhdrs < MAX_HDRS);
      r->hdrs[r->nhdrs].name = xstrndup(line, (size_t)(colon - line));
      r->hdrs[r->nhdrs].value = xstrdup(colon + 1);
      r->nhdrs++;
    }
    free(line);
    p = eol < end ? eol + 1 : end;
  }
  if (p > end)
    p = end;
  r->body_len = (size_t)(end - p);
  r->body = xstrndup(p, r->body_len);
}

typedef struct test_context {
  char *access_key;
  char *secret;
  char *token;
  char *region;
  char *service;
  char amz_date[DOCSTORE__SIGV4_AMZ_DATE_LEN];
  int normalize;
  int sign_body;
  long expires;
  int omit_session_token;
} test_context;

static void test_context_free(test_context *c) {
  free(c->access_key);
  free(c->secret);
  free(c->token);
  free(c->region);
  free(c->service);
  memset(c, 0, sizeof *c);
}

static char *json_str(const cJSON *obj, const char *key, int required) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

  if (!cJSON_IsString(it)) {
    if (required)
      fail_msg("context.json: missing string %s", key);
    return NULL;
  }
  return xstrdup(it->valuestring);
}

static int json_bool(const cJSON *obj, const char *key, int dflt) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

  if (it == NULL)
    return dflt;
  assert_true(cJSON_IsBool(it));
  return cJSON_IsTrue(it) ? 1 : 0;
}

/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
static void iso_to_amz(const char *iso,
                       char out[DOCSTORE__SIGV4_AMZ_DATE_LEN]) {
  static const int pos[] = {0, 1, 2, 3, 5, 6, 8, 9, -1, 11, 12, 14, 15, 17, 18};
  size_t i;

  assert_int_equal(strlen(iso), 20);
  for (i = 0; i < sizeof pos / sizeof pos[0]; i++)
    out[i] = pos[i] < 0 ? 'T' : iso[pos[i]];
  out[15] = 'Z';
  out[16] = '\0';
}

static void load_context(const char *dir, test_context *c) {
  char *text = must_read(dir, "context.json");
  cJSON *root = cJSON_Parse(text);
  const cJSON *cred;
  const cJSON *exp;
  char *ts;

  memset(c, 0, sizeof *c);
  assert_non_null(root);
  cred = cJSON_GetObjectItemCaseSensitive(root, "credentials");
  assert_true(cJSON_IsObject(cred));
  c->access_key = json_str(cred, "access_key_id", 1);
  c->secret = json_str(cred, "secret_access_key", 1);
  c->token = json_str(cred, "token", 0);
  c->region = json_str(root, "region", 1);
  c->service = json_str(root, "service", 1);
  ts = json_str(root, "timestamp", 1);
  iso_to_amz(ts, c->amz_date);
  free(ts);
  c->normalize = json_bool(root, "normalize", 1);
  c->sign_body = json_bool(root, "sign_body", 0);
  c->omit_session_token = json_bool(root, "omit_session_token", 0);
  exp = cJSON_GetObjectItemCaseSensitive(root, "expiration_in_seconds");
  c->expires = cJSON_IsNumber(exp) ? (long)exp->valuedouble : 3600;
  cJSON_Delete(root);
  free(text);
}

/* ------------------------------------------------------------------------ */
/* AWS test suite, discovered at run time                                   */
/* ------------------------------------------------------------------------ */

typedef struct suite_case {
  char name[256];
  docstore__sigv4_form form;
  char test_name[300];
} suite_case;

static void run_suite_case(void **state) {
  const suite_case *sc = (const suite_case *)*state;
  const char *px = sc->form == DOCSTORE__SIGV4_FORM_QUERY ? "query" : "header";
  char dir[1024];
  char fname[64];
  char *req_text;
  size_t req_len = 0;
  parsed_request pr;
  test_context ctx;
  docstore__sigv4_request req;
  docstore__sigv4_credentials cred;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;
  char body_hash[DOCSTORE__SIGV4_HEX_LEN];
  char *expect;
  char *signed_req = NULL;
  size_t i;
  int rc;

  snprintf(dir, sizeof dir, "%s/%s", SUITE_DIR, sc->name);
  req_text = read_file(dir, "request.txt", &req_len);
  if (req_text == NULL)
    fail_msg("missing %s/request.txt", dir);
  parse_request(req_text, req_len, &pr);
  load_context(dir, &ctx);

  memset(&req, 0, sizeof req);
  req.method = pr.method;
  req.target = pr.target;
  req.headers = pr.hdrs;
  req.header_count = pr.nhdrs;
  req.amz_date = ctx.amz_date;
  /* The suite hashes the body when sign_body is set (and then signs
   * x-amz-content-sha256 in header form); otherwise it expects the hash
   * of an empty payload (see header-canonical-request.txt). */
  if (ctx.sign_body) {
    assert_int_equal(
        docstore__sigv4_sha256_hex(pr.body, pr.body_len, body_hash), 0);
    req.payload_hash = body_hash;
  } else {
    req.payload_hash = DOCSTORE__SIGV4_EMPTY_SHA256;
  }

  memset(&cred, 0, sizeof cred);
  cred.access_key_id = ctx.access_key;
  cred.secret_access_key = ctx.secret;
  cred.session_token = ctx.token;

  docstore__sigv4_options_init_generic(&opt, sc->form);
  opt.normalize_path = ctx.normalize;
  opt.double_encode_path = 1; /* the suite's service is a generic one */
  opt.add_content_sha256_header = ctx.sign_body;
  opt.session_token_after_signing = ctx.omit_session_token;
  opt.expires_seconds = ctx.expires;

  rc = docstore__sigv4_sign(&req, &cred, ctx.region, ctx.service, &opt, NULL,
                            &res);
  assert_int_equal(rc, 0);

  snprintf(fname, sizeof fname, "%s-canonical-request.txt", px);
  expect = must_read(dir, fname);
  assert_string_equal(res.canonical_request, expect);
  free(expect);

  snprintf(fname, sizeof fname, "%s-string-to-sign.txt", px);
  expect = must_read(dir, fname);
  assert_string_equal(res.string_to_sign, expect);
  free(expect);

  snprintf(fname, sizeof fname, "%s-signature.txt", px);
  expect = must_read(dir, fname);
  assert_string_equal(res.signature, expect);
  free(expect);

  /* The whole signed request, as the suite prints it. */
  cat(&signed_req, pr.method);
  cat(&signed_req, " ");
  cat(&signed_req, pr.target);
  if (sc->form == DOCSTORE__SIGV4_FORM_QUERY) {
    assert_non_null(res.query_string);
    assert_null(res.authorization);
    assert_int_equal(res.header_count, 0);
    cat(&signed_req, strchr(pr.target, '?') ? "&" : "?");
    cat(&signed_req, res.query_string);
  } else {
    assert_null(res.query_string);
    assert_non_null(res.authorization);
  }
  cat(&signed_req, " ");
  cat(&signed_req, pr.version);
  cat(&signed_req, "\n");
  cat(&signed_req, pr.header_block);
  for (i = 0; i < res.header_count; i++) {
    cat(&signed_req, res.headers[i].name);
    cat(&signed_req, ":");
    cat(&signed_req, res.headers[i].value);
    cat(&signed_req, "\n");
  }
  cat(&signed_req, "\n");
  cat(&signed_req, pr.body);
  snprintf(fname, sizeof fname, "%s-signed-request.txt", px);
  expect = must_read(dir, fname);
  assert_string_equal(signed_req, expect);
  free(expect);
  free(signed_req);

  /* Same result through the key cache and with pre-split path/query. */
  {
    docstore__sigv4_key_cache *cache = NULL;
    docstore__sigv4_result res2;
    char *q = strchr(pr.target, '?');
    char *path =
        q ? xstrndup(pr.target, (size_t)(q - pr.target)) : xstrdup(pr.target);

    req.target = NULL;
    req.path = path;
    req.query = q ? q + 1 : NULL;
    assert_int_equal(docstore__sigv4_key_cache_new(&cache), 0);
    assert_int_equal(docstore__sigv4_sign(&req, &cred, ctx.region, ctx.service,
                                          &opt, cache, &res2),
                     0);
    assert_string_equal(res2.canonical_request, res.canonical_request);
    assert_string_equal(res2.signature, res.signature);
    docstore__sigv4_result_free(&res2);
    docstore__sigv4_key_cache_free(cache);
    free(path);
  }

  docstore__sigv4_result_free(&res);
  test_context_free(&ctx);
  parsed_request_free(&pr);
  free(req_text);
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the case folders (every sub-directory of the suite). */
static size_t list_cases(char ***names_out) {
  DIR *d = opendir(SUITE_DIR);
  struct dirent *de;
  char **names = NULL;
  size_t n = 0;

  if (d == NULL) {
    fprintf(stderr, "cannot open %s\n", SUITE_DIR);
    *names_out = NULL;
    return 0;
  }
  while ((de = readdir(d)) != NULL) {
    char path[1024];
    struct stat st;

    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", SUITE_DIR, de->d_name);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    names = realloc(names, (n + 1) * sizeof *names);
    if (names == NULL)
      abort();
    names[n] = malloc(strlen(de->d_name) + 1);
    if (names[n] == NULL)
      abort();
    strcpy(names[n], de->d_name);
    n++;
  }
  closedir(d);
  if (n > 1)
    qsort(names, n, sizeof *names, name_cmp);
  *names_out = names;
  return n;
}

/* The suite is present with its LICENSE and README, and every case holds
 * all the files the case test reads. */
static void test_suite_complete(void **state) {
  static const char *const files[] = {"context.json",
                                      "request.txt",
                                      "header-canonical-request.txt",
                                      "header-string-to-sign.txt",
                                      "header-signature.txt",
                                      "header-signed-request.txt",
                                      "query-canonical-request.txt",
                                      "query-string-to-sign.txt",
                                      "query-signature.txt",
                                      "query-signed-request.txt"};
  char **names;
  size_t n = list_cases(&names);
  size_t i;
  size_t k;
  char *s;

  (void)state;
  assert_true(n > 0);
  s = must_read(SUITE_DIR, "LICENSE");
  free(s);
  s = must_read(SUITE_DIR, "README.md");
  free(s);
  for (i = 0; i < n; i++) {
    char dir[1024];

    snprintf(dir, sizeof dir, "%s/%s", SUITE_DIR, names[i]);
    for (k = 0; k < sizeof files / sizeof files[0]; k++) {
      s = must_read(dir, files[k]);
      free(s);
    }
    free(names[i]);
  }
  free(names);
}

/* ------------------------------------------------------------------------ */
/* S3 and AWS documentation examples                                        */
/* ------------------------------------------------------------------------ */

#define DOC_AKID "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_HOST "examplebucket.s3.amazonaws.com"

static const docstore__sigv4_credentials doc_cred = {DOC_AKID, DOC_SECRET,
                                                     NULL};

/* AWS S3 docs, "Examples: Signature Calculations": GET Object with Range. */
static void test_s3_doc_get_object(void **state) {
  static const docstore__sigv4_header h[] = {{"Host", DOC_HOST},
                                             {"Range", "bytes=0-9"}};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;

  (void)state;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.path = "/test.txt";
  req.headers = h;
  req.header_count = 2;
  req.payload_hash = DOCSTORE__SIGV4_EMPTY_SHA256;
  req.amz_date = "20130524T000000Z";
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_HEADER);
  assert_int_equal(docstore__sigv4_sign(&req, &doc_cred, "us-east-1", "s3",
                                        &opt, NULL, &res),
                   0);
  assert_string_equal(
      res.canonical_request,
      "GET\n/test.txt\n\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "range:bytes=0-9\n"
      "x-amz-content-sha256:"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\n"
      "host;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_string_equal(
      res.string_to_sign,
      "AWS4-HMAC-SHA256\n20130524T000000Z\n"
      "20130524/us-east-1/s3/aws4_request\n"
      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  assert_string_equal(
      res.signature,
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  assert_string_equal(
      res.authorization,
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/"
      "s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;"
      "x-amz-date, Signature="
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  /* X-Amz-Date, x-amz-content-sha256, Authorization */
  assert_int_equal(res.header_count, 3);
  assert_string_equal(res.headers[0].name, "X-Amz-Date");
  assert_string_equal(res.headers[0].value, "20130524T000000Z");
  assert_string_equal(res.headers[1].name, "x-amz-content-sha256");
  assert_string_equal(res.headers[1].value, DOCSTORE__SIGV4_EMPTY_SHA256);
  assert_string_equal(res.headers[2].name, "Authorization");
  assert_string_equal(res.headers[2].value, res.authorization);
  docstore__sigv4_result_free(&res);
}

/* AWS S3 docs: PUT Object "test$file.text" (path encoding, body hash). */
static void test_s3_doc_put_object(void **state) {
  static const docstore__sigv4_header h[] = {
      {"Host", DOC_HOST},
      {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  static const char body[] = "Welcome to Amazon S3.";
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;
  char hash[DOCSTORE__SIGV4_HEX_LEN];
  char *path = NULL;

  (void)state;
  assert_int_equal(docstore__sigv4_sha256_hex(body, strlen(body), hash), 0);
  assert_string_equal(
      hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  assert_int_equal(docstore__sigv4_encode_path("/test$file.text", &path), 0);
  assert_string_equal(path, "/test%24file.text");

  memset(&req, 0, sizeof req);
  req.method = "PUT";
  req.path = path;
  req.headers = h;
  req.header_count = 3;
  req.payload_hash = hash;
  req.timestamp = (time_t)1369353600; /* 2013-05-24T00:00:00Z */
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_HEADER);
  assert_int_equal(docstore__sigv4_sign(&req, &doc_cred, "us-east-1", "s3",
                                        &opt, NULL, &res),
                   0);
  assert_string_equal(
      res.canonical_request,
      "PUT\n/test%24file.text\n\n"
      "date:Fri, 24 May 2013 00:00:00 GMT\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
      "x-amz-date:20130524T000000Z\n"
      "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  assert_string_equal(
      res.signature,
      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  docstore__sigv4_result_free(&res);
  docstore_free(path);
}

/* AWS S3 docs: GET ?lifecycle (empty value) and GET ?max-keys=2&prefix=J. */
static void test_s3_doc_bucket_queries(void **state) {
  static const docstore__sigv4_header h[] = {{"Host", DOC_HOST}};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;

  (void)state;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.target = "/?lifecycle";
  req.headers = h;
  req.header_count = 1;
  req.amz_date = "20130524T000000Z";
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_HEADER);
  assert_int_equal(docstore__sigv4_sign(&req, &doc_cred, "us-east-1", "s3",
                                        &opt, NULL, &res),
                   0);
  assert_non_null(strstr(res.canonical_request, "\n/\nlifecycle=\nhost:"));
  assert_string_equal(
      res.signature,
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  docstore__sigv4_result_free(&res);

  req.target = "/?prefix=J&max-keys=2";
  assert_int_equal(docstore__sigv4_sign(&req, &doc_cred, "us-east-1", "s3",
                                        &opt, NULL, &res),
                   0);
  assert_non_null(
      strstr(res.canonical_request, "\n/\nmax-keys=2&prefix=J\nhost:"));
  assert_string_equal(
      res.signature,
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  docstore__sigv4_result_free(&res);
}

/* AWS S3 docs: presigned GET (query string authentication). */
static void test_s3_doc_presigned_get(void **state) {
  static const docstore__sigv4_header h[] = {{"Host", DOC_HOST}};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;

  (void)state;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.path = "/test.txt";
  req.headers = h;
  req.header_count = 1;
  req.payload_hash = DOCSTORE__SIGV4_UNSIGNED_PAYLOAD;
  req.amz_date = "20130524T000000Z";
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_QUERY);
  opt.expires_seconds = 86400;
  assert_int_equal(docstore__sigv4_sign(&req, &doc_cred, "us-east-1", "s3",
                                        &opt, NULL, &res),
                   0);
  assert_string_equal(
      res.canonical_request,
      "GET\n/test.txt\n"
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
      "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
      "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
      "X-Amz-SignedHeaders=host\n"
      "host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD");
  assert_string_equal(
      res.signature,
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  assert_string_equal(
      res.query_string,
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
      "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
      "X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&"
      "X-Amz-Expires=86400&X-Amz-Signature="
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  assert_null(res.authorization);
  assert_int_equal(res.header_count, 0);
  docstore__sigv4_result_free(&res);
}

#define T_AKID "AKIAIOSFODNN7EXAMPLE"
#define T_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_TOKEN "FQoGZXIvYXdzEXAMPLE/token+=="
#define T_DATE "20240102T030405Z"
#define T_HOST "minio.local:9000"
/* raw key "my dir//a+b%20c<EURO SIGN>.txt" in bucket "docs" */
#define T_RAW_PATH "/docs/my dir//a+b%20c\xE2\x82\xAC.txt"
#define T_ENC_PATH "/docs/my%20dir//a%2Bb%2520c%E2%82%AC.txt"

/* S3: no normalisation, each segment encoded once, Host port kept,
 * x-amz-content-sha256 signed. Signature cross-checked with an
 * independent implementation. */
static void test_s3_special_key(void **state) {
  static const docstore__sigv4_header h[] = {
      {"Host", T_HOST}, {"Content-Type", "application/octet-stream"}};
  static const docstore__sigv4_credentials cred = {T_AKID, T_SECRET, NULL};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;
  char *path = NULL;

  (void)state;
  assert_int_equal(docstore__sigv4_encode_path(T_RAW_PATH, &path), 0);
  assert_string_equal(path, T_ENC_PATH);

  memset(&req, 0, sizeof req);
  req.method = "PUT";
  req.path = path;
  req.headers = h;
  req.header_count = 2;
  req.payload_hash = DOCSTORE__SIGV4_UNSIGNED_PAYLOAD;
  req.amz_date = T_DATE;
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_HEADER);
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, &res),
      0);
  assert_string_equal(res.canonical_request,
                      "PUT\n" T_ENC_PATH "\n\n"
                      "content-type:application/octet-stream\n"
                      "host:" T_HOST "\n"
                      "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
                      "x-amz-date:" T_DATE "\n\n"
                      "content-type;host;x-amz-content-sha256;x-amz-date\n"
                      "UNSIGNED-PAYLOAD");
  assert_string_equal(
      res.signature,
      "45c7411a753641f1ca7f8e6642931aa8ab400fe4ca1eb0b27494dbae1c6733eb");
  docstore__sigv4_result_free(&res);

  /* The raw key is refused where a wire path is expected (S3). */
  req.path = T_RAW_PATH;
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  docstore_free(path);
}

/* Session token signed in header form; query decoded and re-encoded once. */
static void test_s3_session_token_header(void **state) {
  static const docstore__sigv4_header h[] = {{"host", T_HOST}};
  static const docstore__sigv4_credentials cred = {T_AKID, T_SECRET, T_TOKEN};
  static const char *const queries[] = {"prefix=my%20dir%2F&list-type=2",
                                        "list-type=2&prefix=my dir/",
                                        "prefix=my%20dir/&&list-type=2&"};
  static const char expect_cr[] =
      "GET\n/docs\nlist-type=2&prefix=my%20dir%2F\n"
      "host:" T_HOST "\n"
      "x-amz-content-sha256:"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:" T_DATE "\n"
      "x-amz-security-token:" T_TOKEN "\n\n"
      "host;x-amz-content-sha256;x-amz-date;x-amz-security-token\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;
  size_t i;

  (void)state;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.path = "/docs";
  req.headers = h;
  req.header_count = 1;
  req.amz_date = T_DATE;
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_HEADER);
  for (i = 0; i < sizeof queries / sizeof queries[0]; i++) {
    req.query = queries[i];
    assert_int_equal(
        docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, &res),
        0);
    assert_string_equal(res.canonical_request, expect_cr);
    assert_string_equal(
        res.signature,
        "1c9b12f3e2376e950cdcbf0fa8af429c1c283aefc9260339229cf1e41d422f15");
    assert_int_equal(res.header_count, 4);
    assert_string_equal(res.headers[0].name, "X-Amz-Security-Token");
    assert_string_equal(res.headers[0].value, T_TOKEN);
    assert_string_equal(res.headers[1].name, "X-Amz-Date");
    assert_string_equal(res.headers[2].name, "x-amz-content-sha256");
    assert_string_equal(res.headers[3].name, "Authorization");
    assert_non_null(strstr(res.authorization,
                           "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                           "x-amz-security-token, Signature="));
    docstore__sigv4_result_free(&res);
  }

  /* '+' in a query is a literal plus, never a space. */
  req.query = "prefix=a+b";
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, &res),
      0);
  assert_non_null(strstr(res.canonical_request, "\nprefix=a%2Bb\n"));
  docstore__sigv4_result_free(&res);

  /* Token added after signing: not signed, still returned. */
  opt.session_token_after_signing = 1;
  req.query = NULL;
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, &res),
      0);
  assert_null(strstr(res.canonical_request, "x-amz-security-token"));
  assert_string_equal(res.signed_headers,
                      "host;x-amz-content-sha256;x-amz-date");
  assert_string_equal(res.headers[0].name, "X-Amz-Security-Token");
  assert_string_equal(res.headers[0].value, T_TOKEN);
  docstore__sigv4_result_free(&res);
}

/* S3 presigned URL with a session token and an awkward key. */
static void test_s3_presigned_with_token(void **state) {
  static const docstore__sigv4_header h[] = {{"Host", T_HOST}};
  static const docstore__sigv4_credentials cred = {T_AKID, T_SECRET, T_TOKEN};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;

  (void)state;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.path = T_ENC_PATH;
  req.headers = h;
  req.header_count = 1;
  req.payload_hash = DOCSTORE__SIGV4_UNSIGNED_PAYLOAD;
  req.amz_date = T_DATE;
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_QUERY);
  opt.expires_seconds = 900;
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, &res),
      0);
  assert_string_equal(
      res.canonical_request,
      "GET\n" T_ENC_PATH "\n"
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
      "AKIAIOSFODNN7EXAMPLE%2F20240102%2Fus-east-1%2Fs3%2Faws4_request&"
      "X-Amz-Date=" T_DATE "&X-Amz-Expires=900&"
      "X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2Ftoken%2B%3D%3D&"
      "X-Amz-SignedHeaders=host\n"
      "host:" T_HOST "\n\nhost\nUNSIGNED-PAYLOAD");
  assert_string_equal(
      res.signature,
      "4f39f03e0e84023461946417dbcee4c605a047663572fe4c3badc964c431d264");
  assert_non_null(strstr(res.query_string,
                         "&X-Amz-Expires=900&X-Amz-Security-Token="
                         "FQoGZXIvYXdzEXAMPLE%2Ftoken%2B%3D%3D&"
                         "X-Amz-Signature="));
  docstore__sigv4_result_free(&res);
}

/* time_t and "YYYYMMDDTHHMMSSZ" inputs agree. */
static void test_timestamp_forms(void **state) {
  char buf[DOCSTORE__SIGV4_AMZ_DATE_LEN];

  (void)state;
  assert_int_equal(docstore__sigv4_format_amz_date((time_t)0, buf), 0);
  assert_string_equal(buf, "19700101T000000Z");
  assert_int_equal(docstore__sigv4_format_amz_date((time_t)1440938160, buf), 0);
  assert_string_equal(buf, "20150830T123600Z");
  assert_int_equal(docstore__sigv4_format_amz_date((time_t)951782400, buf), 0);
  assert_string_equal(buf, "20000229T000000Z");
  assert_int_equal(docstore__sigv4_format_amz_date((time_t)-1, buf),
                   DOCSTORE_EINVAL);
  if (sizeof(time_t) >= 8) {
    long long max = 253402300799LL; /* 9999-12-31T23:59:59Z */

    assert_int_equal(docstore__sigv4_format_amz_date((time_t)max, buf), 0);
    assert_string_equal(buf, "99991231T235959Z");
    assert_int_equal(docstore__sigv4_format_amz_date((time_t)(max + 1), buf),
                     DOCSTORE_EINVAL);
  }
  assert_int_equal(docstore__sigv4_format_amz_date((time_t)0, NULL),
                   DOCSTORE_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* key cache                                                                */
/* ------------------------------------------------------------------------ */

static void test_derive_key_known_value(void **state) {
  /* AWS docs, "derive a signing key" example (IAM, 20120215). */
  static const unsigned char expect[32] = {
      0xf4, 0x78, 0x0e, 0x2d, 0x9f, 0x65, 0xfa, 0x89, 0x5f, 0x9c, 0x67,
      0xb3, 0x2c, 0xe1, 0xba, 0xf0, 0xb0, 0xd8, 0xa4, 0x35, 0x05, 0xa0,
      0x00, 0xa1, 0xa9, 0xe0, 0x90, 0xd4, 0x14, 0xdb, 0x40, 0x4d};
  unsigned char key[DOCSTORE__SIGV4_KEY_LEN];

  (void)state;
  assert_int_equal(docstore__sigv4_derive_key(
                       NULL, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                       "20120215", "us-east-1", "iam", key),
                   0);
  assert_memory_equal(key, expect, 32);
}

static void test_key_cache_day(void **state) {
  docstore__sigv4_key_cache *c = NULL;
  unsigned char k1[32];
  unsigned char k2[32];
  unsigned char k3[32];
  unsigned char k4[32];
  unsigned char ref[32];
  unsigned long hits;
  unsigned long misses;

  (void)state;
  assert_int_equal(docstore__sigv4_key_cache_new(&c), 0);

  /* Same day: derived once, then reused. */
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240102",
                                              "us-east-1", "s3", k1),
                   0);
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240102",
                                              "us-east-1", "s3", k2),
                   0);
  assert_memory_equal(k1, k2, 32);
  docstore__sigv4_key_cache_stats(c, &hits, &misses);
  assert_int_equal(hits, 1);
  assert_int_equal(misses, 1);
  assert_int_equal(docstore__sigv4_derive_key(NULL, T_SECRET, "20240102",
                                              "us-east-1", "s3", ref),
                   0);
  assert_memory_equal(k1, ref, 32);

  /* Another secret, same day: not served from the first entry. */
  assert_int_equal(docstore__sigv4_derive_key(c, "otherSecret", "20240102",
                                              "us-east-1", "s3", k3),
                   0);
  assert_memory_not_equal(k1, k3, 32);

  /* New day: a new key; the old day's keys are gone. */
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240103",
                                              "us-east-1", "s3", k3),
                   0);
  assert_memory_not_equal(k1, k3, 32);
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240103",
                                              "us-east-1", "s3", k4),
                   0);
  assert_memory_equal(k3, k4, 32);
  docstore__sigv4_key_cache_stats(c, &hits, &misses);
  assert_int_equal(hits, 2);
  assert_int_equal(misses, 3);

  /* An older day is still computed correctly (uncached) and does not
   * evict the current day. */
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240102",
                                              "us-east-1", "s3", k2),
                   0);
  assert_memory_equal(k2, ref, 32);
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240102",
                                              "us-east-1", "s3", k2),
                   0);
  docstore__sigv4_key_cache_stats(c, &hits, &misses);
  assert_int_equal(hits, 2);
  assert_int_equal(misses, 5);
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240103",
                                              "us-east-1", "s3", k4),
                   0);
  docstore__sigv4_key_cache_stats(c, &hits, &misses);
  assert_int_equal(hits, 3);

  /* Region and service are part of the key. */
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240103",
                                              "eu-west-1", "s3", k4),
                   0);
  assert_memory_not_equal(k3, k4, 32);

  /* clear() forgets everything. */
  docstore__sigv4_key_cache_clear(c);
  assert_int_equal(docstore__sigv4_derive_key(c, T_SECRET, "20240103",
                                              "us-east-1", "s3", k4),
                   0);
  assert_memory_equal(k3, k4, 32);
  docstore__sigv4_key_cache_stats(c, &hits, &misses);
  assert_int_equal(hits, 3);
  assert_int_equal(misses, 7);

  docstore__sigv4_key_cache_free(c);
  docstore__sigv4_key_cache_free(NULL);
}

typedef struct thread_arg {
  docstore__sigv4_key_cache *cache;
  int failures;
} thread_arg;

static void *sign_thread(void *p) {
  static const docstore__sigv4_header h[] = {{"Host", DOC_HOST},
                                             {"Range", "bytes=0-9"}};
  thread_arg *a = (thread_arg *)p;
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;
  int i;

  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.path = "/test.txt";
  req.headers = h;
  req.header_count = 2;
  req.amz_date = "20130524T000000Z";
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_HEADER);
  for (i = 0; i < 200; i++) {
    if (docstore__sigv4_sign(&req, &doc_cred, "us-east-1", "s3", &opt, a->cache,
                             &res) != 0) {
      a->failures++;
      continue;
    }
    if (strcmp(res.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170"
                              "aba48dd91039c6036bdb41") != 0)
      a->failures++;
    docstore__sigv4_result_free(&res);
  }
  return NULL;
}

static void test_key_cache_threads(void **state) {
  docstore__sigv4_key_cache *c = NULL;
  pthread_t th[4];
  thread_arg args[4];
  unsigned long hits;
  unsigned long misses;
  int i;

  (void)state;
  assert_int_equal(docstore__sigv4_key_cache_new(&c), 0);
  for (i = 0; i < 4; i++) {
    args[i].cache = c;
    args[i].failures = 0;
    assert_int_equal(pthread_create(&th[i], NULL, sign_thread, &args[i]), 0);
  }
  for (i = 0; i < 4; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(args[i].failures, 0);
  }
  docstore__sigv4_key_cache_stats(c, &hits, &misses);
  assert_int_equal(hits + misses, 800);
  assert_true(misses <= 4); /* at most one derivation per racing thread */
  docstore__sigv4_key_cache_free(c);
}

/* ------------------------------------------------------------------------ */
/* bad input                                                                */
/* ------------------------------------------------------------------------ */

static void base_request(docstore__sigv4_request *req,
                         docstore__sigv4_options *opt,
                         const docstore__sigv4_header *h, size_t nh) {
  memset(req, 0, sizeof *req);
  req->method = "GET";
  req->path = "/b/k";
  req->headers = h;
  req->header_count = nh;
  req->amz_date = T_DATE;
  docstore__sigv4_options_init_s3(opt, DOCSTORE__SIGV4_FORM_HEADER);
}

static int sign_rc(const docstore__sigv4_request *req,
                   const docstore__sigv4_options *opt) {
  static const docstore__sigv4_credentials cred = {T_AKID, T_SECRET, NULL};
  docstore__sigv4_result res;
  int rc = docstore__sigv4_sign(req, &cred, "us-east-1", "s3", opt, NULL, &res);

  if (rc != 0) {
    /* left zeroed on error */
    assert_null(res.canonical_request);
    assert_null(res.authorization);
    assert_null(res.query_string);
    assert_int_equal(res.signature[0], '\0');
  }
  docstore__sigv4_result_free(&res);
  return rc;
}

static void test_null_args(void **state) {
  static const docstore__sigv4_header h[] = {{"Host", T_HOST}};
  static const docstore__sigv4_credentials cred = {T_AKID, T_SECRET, NULL};
  docstore__sigv4_credentials bad;
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;
  unsigned char key[32];
  char *s = NULL;

  (void)state;
  base_request(&req, &opt, h, 1);
  assert_int_equal(sign_rc(&req, &opt), 0);

  assert_int_equal(
      docstore__sigv4_sign(NULL, &cred, "us-east-1", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__sigv4_sign(&req, NULL, "us-east-1", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, NULL, "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", NULL, &opt, NULL, &res),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", NULL, NULL, &res),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, NULL),
      DOCSTORE_EINVAL);

  bad = cred;
  bad.access_key_id = NULL;
  assert_int_equal(
      docstore__sigv4_sign(&req, &bad, "us-east-1", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  bad = cred;
  bad.secret_access_key = NULL;
  assert_int_equal(
      docstore__sigv4_sign(&req, &bad, "us-east-1", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  bad = cred;
  bad.secret_access_key = "";
  assert_int_equal(
      docstore__sigv4_sign(&req, &bad, "us-east-1", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  bad = cred;
  bad.session_token = "tok\nen";
  assert_int_equal(
      docstore__sigv4_sign(&req, &bad, "us-east-1", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us/east", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "", "s3", &opt, NULL, &res),
      DOCSTORE_EINVAL);

  req.method = NULL;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.method = "G T";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.method = "GET";
  req.path = NULL;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.path = "/b/k";
  req.headers = NULL;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.header_count = 0;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL); /* no Host */

  assert_int_equal(docstore__sigv4_derive_key(NULL, NULL, "20240102",
                                              "us-east-1", "s3", key),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__sigv4_derive_key(NULL, T_SECRET, "2024010",
                                              "us-east-1", "s3", key),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__sigv4_derive_key(NULL, T_SECRET, "20240102",
                                              "us-east-1", "s3", NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore__sigv4_key_cache_new(NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore__sigv4_encode_path(NULL, &s), DOCSTORE_EINVAL);
  assert_null(s);
  assert_int_equal(docstore__sigv4_encode_path("/x", NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore__sigv4_sha256_hex(NULL, 1, NULL), DOCSTORE_EINVAL);
  docstore__sigv4_result_free(NULL);
}

static void test_invalid_timestamp(void **state) {
  static const docstore__sigv4_header h[] = {{"Host", T_HOST}};
  static const char *const bad[] = {"",
                                    "2015-08-30T12:36:00Z",
                                    "20150830T123600",
                                    "20150830T123600z",
                                    "20150830 123600Z",
                                    "20151330T123600Z",
                                    "20150230T123600Z",
                                    "20150229T123600Z", /* not a leap year */
                                    "20150800T123600Z",
                                    "20150830T243600Z",
                                    "20150830T126000Z",
                                    "20150830T123660Z",
                                    "2015083OT123600Z",
                                    "20150830T123600Z0",
                                    "19691231T235959Z"};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  size_t i;

  (void)state;
  base_request(&req, &opt, h, 1);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    req.amz_date = bad[i];
    assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  }
  req.amz_date = "20160229T235959Z"; /* leap day */
  assert_int_equal(sign_rc(&req, &opt), 0);
  req.amz_date = NULL;
  req.timestamp = (time_t)-5;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
}

static void test_expiry_limits(void **state) {
  static const docstore__sigv4_header h[] = {{"Host", T_HOST}};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;

  (void)state;
  base_request(&req, &opt, h, 1);
  docstore__sigv4_options_init_s3(&opt, DOCSTORE__SIGV4_FORM_QUERY);
  opt.expires_seconds = 604800;
  assert_int_equal(sign_rc(&req, &opt), 0);
  opt.expires_seconds = 1;
  assert_int_equal(sign_rc(&req, &opt), 0);
  opt.expires_seconds = 604801;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  opt.expires_seconds = 0;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  opt.expires_seconds = -1;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  opt.expires_seconds = 3600;
  opt.form = (docstore__sigv4_form)7;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  /* X-Amz-* parameters belong to the signer in query form. */
  opt.form = DOCSTORE__SIGV4_FORM_QUERY;
  req.query = "x-amz-signature=abc";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.query = "X-Amz-Expires=5";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.query = "uploadId=1";
  assert_int_equal(sign_rc(&req, &opt), 0);
}

static void test_bad_request_parts(void **state) {
  static const docstore__sigv4_header host[] = {{"Host", T_HOST}};
  docstore__sigv4_header h[2];
  docstore__sigv4_request req;
  docstore__sigv4_options opt;

  (void)state;
  base_request(&req, &opt, host, 1);

  /* payload hash */
  req.payload_hash = "abc";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.payload_hash =
      "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.payload_hash = "unsigned-payload";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.payload_hash =
      "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
  assert_int_equal(sign_rc(&req, &opt), 0);
  req.payload_hash = NULL;

  /* paths */
  req.path = "b/k";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.path = "";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.path = "/b/a b";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.path = "/b/a%2";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.path = "/b/a%G0";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.path = "/b/k?x=1";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.path = "/b/k";

  /* query escapes */
  req.query = "a=%zz";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.query = "a%=1";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.query = "a=%00";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  req.query = NULL;

  /* headers owned by the signer, bad names and values */
  h[0] = host[0];
  req.headers = h;
  req.header_count = 2;
  h[1].name = "Authorization";
  h[1].value = "x";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].name = "X-Amz-Date";
  h[1].value = T_DATE;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].name = "x-amz-security-token";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].name = "X-Amz-Content-SHA256";
  h[1].value = DOCSTORE__SIGV4_EMPTY_SHA256;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  opt.add_content_sha256_header = 0; /* then the caller may send it */
  assert_int_equal(sign_rc(&req, &opt), 0);
  opt.add_content_sha256_header = 1;
  h[1].name = "Bad Name";
  h[1].value = "v";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].name = "";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].name = NULL;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].name = "X-Ok";
  h[1].value = NULL;
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].value = "a\r\nInjected: 1";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].value = "a\nb";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].value = "a\x01";
  assert_int_equal(sign_rc(&req, &opt), DOCSTORE_EINVAL);
  h[1].value = "a\r\n  folded";
  assert_int_equal(sign_rc(&req, &opt), 0);
}

/* Canonical headers: trimming, folding, duplicates, case. */
static void test_header_canonicalisation(void **state) {
  static const docstore__sigv4_header h[] = {{"X-B", "  two   words\t here  "},
                                             {"host", T_HOST},
                                             {"x-a", "first"},
                                             {"X-A", "second\n   line"},
                                             {"X-Empty", "   "}};
  static const docstore__sigv4_credentials cred = {T_AKID, T_SECRET, NULL};
  docstore__sigv4_request req;
  docstore__sigv4_options opt;
  docstore__sigv4_result res;

  (void)state;
  base_request(&req, &opt, h, 5);
  opt.add_content_sha256_header = 0;
  assert_int_equal(
      docstore__sigv4_sign(&req, &cred, "us-east-1", "s3", &opt, NULL, &res),
      0);
  assert_string_equal(
      res.canonical_request,
      "GET\n/b/k\n\n"
      "host:" T_HOST "\n"
      "x-a:first,second line\n"
      "x-amz-date:" T_DATE "\n"
      "x-b:two words here\n"
      "x-empty:\n\n"
      "host;x-a;x-amz-date;x-b;x-empty\n" DOCSTORE__SIGV4_EMPTY_SHA256);
  docstore__sigv4_result_free(&res);
}

/* ------------------------------------------------------------------------ */

int main(void) {
  static const struct CMUnitTest fixed[] = {
      cmocka_unit_test(test_suite_complete),
      cmocka_unit_test(test_s3_doc_get_object),
      cmocka_unit_test(test_s3_doc_put_object),
      cmocka_unit_test(test_s3_doc_bucket_queries),
      cmocka_unit_test(test_s3_doc_presigned_get),
      cmocka_unit_test(test_s3_special_key),
      cmocka_unit_test(test_s3_session_token_header),
      cmocka_unit_test(test_s3_presigned_with_token),
      cmocka_unit_test(test_timestamp_forms),
      cmocka_unit_test(test_derive_key_known_value),
      cmocka_unit_test(test_key_cache_day),
      cmocka_unit_test(test_key_cache_threads),
      cmocka_unit_test(test_null_args),
      cmocka_unit_test(test_invalid_timestamp),
      cmocka_unit_test(test_expiry_limits),
      cmocka_unit_test(test_bad_request_parts),
      cmocka_unit_test(test_header_canonicalisation),
  };
  const size_t nfixed = sizeof fixed / sizeof fixed[0];
  char **names = NULL;
  size_t ncases = list_cases(&names);
  size_t ntests = nfixed + 2 * ncases;
  struct CMUnitTest *tests = calloc(ntests, sizeof *tests);
  suite_case *cases = calloc(ncases ? 2 * ncases : 1, sizeof *cases);
  size_t i;
  int failed;

  if (tests == NULL || cases == NULL)
    return 1;
  memcpy(tests, fixed, sizeof fixed);
  for (i = 0; i < 2 * ncases; i++) {
    suite_case *sc = &cases[i];
    struct CMUnitTest *t = &tests[nfixed + i];

    sc->form =
        (i % 2) ? DOCSTORE__SIGV4_FORM_QUERY : DOCSTORE__SIGV4_FORM_HEADER;
    snprintf(sc->name, sizeof sc->name, "%s", names[i / 2]);
    snprintf(sc->test_name, sizeof sc->test_name, "aws_suite/%s/%s", sc->name,
             (i % 2) ? "query" : "header");
    t->name = sc->test_name;
    t->test_func = run_suite_case;
    t->initial_state = sc;
  }
  for (i = 0; i < ncases; i++)
    free(names[i]);
  free(names);

  failed = _cmocka_run_group_tests("sigv4", tests, ntests, NULL, NULL);
  free(tests);
  free(cases);
  return failed;
}
