/*
 * Tests for the S3 reply layer (src/s3/s3_xml.c, s3_retry.c): XML parsing
 * of error, list and multipart replies, error mapping to DOCSTORE_E*
 * codes and messages, the retry policy and backoff.  No network.
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
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "s3/s3_internal.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* ------------------------------------------------------------- errors */

static void test_error_parse(void **state) {
  (void)state;
  docstore__s3_error e;
  assert_int_equal(
      docstore__s3_xml_parse_error(
          S("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Error><Code>NoSuchKey</Code><Message>The specified key does "
            "not exist.</Message><Key>a/b</Key>"
            "<RequestId>tx123</RequestId></Error>"),
          &e),
      0);
  assert_string_equal(e.code, "NoSuchKey");
  assert_string_equal(e.message, "The specified key does not exist.");
  assert_string_equal(e.request_id, "tx123");
  assert_string_equal(e.region, "");
  assert_string_equal(e.endpoint, "");
}

static void test_error_parse_namespace_and_entities(void **state) {
  (void)state;
  docstore__s3_error e;
  assert_int_equal(
      docstore__s3_xml_parse_error(
          S("<Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Code>AuthorizationHeaderMalformed</Code>"
            "<Message>the region &apos;us-east-1&apos; is &quot;wrong&quot; "
            "&amp; more</Message><Region>eu-west-1</Region>"
            "<Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint></Error>"),
          &e),
      0);
  assert_string_equal(e.code, "AuthorizationHeaderMalformed");
  assert_string_equal(e.message, "the region 'us-east-1' is \"wrong\" & more");
  assert_string_equal(e.region, "eu-west-1");
  assert_string_equal(e.endpoint, "b.s3.eu-west-1.amazonaws.com");
}

static void test_error_parse_bad(void **state) {
  (void)state;
  docstore__s3_error e;
  assert_int_equal(docstore__s3_xml_parse_error(NULL, 0, &e), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_error(S(""), &e), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_error(S("not xml at all"), &e),
                   DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_error(S("<Error><Code>X</Cod"), &e),
                   DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_error(
                       S("<ListBucketResult></ListBucketResult>"), &e),
                   DOCSTORE_EFORMAT);
  assert_string_equal(e.code, "");
  /* Missing fields are empty, not an error. */
  assert_int_equal(docstore__s3_xml_parse_error(S("<Error/>"), &e), 0);
  assert_string_equal(e.code, "");
}

/* An application's handler, which must be back after each parse. */
static int app_handler_calls;
static void app_handler(void *ctx, const char *msg, ...) {
  (void)ctx;
  (void)msg;
  app_handler_calls++;
}

/* A body libxml2 takes for EBCDIC, UCS-4 or UTF-16 and cannot convert:
 * libxml2 reports that outside the parser context, to stderr unless told
 * otherwise.  A library prints nothing. */
static void test_parse_prints_nothing(void **state) {
  (void)state;
  static const char *const bodies[] = {
      "\x4c\x6f\xa7\x94<Error><Code>A</Code></Error>",
      ("\x00\x00\x00<\x00\x00\x00"
       "E\xff\xff"), /* "\x00E" would read as one escape */
      "\xfe\xff\xd8\x00<Error/>",
  };
  static const size_t lens[] = {33, 10, 12};
  char path[] = "/tmp/docstore-test-stderr-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  assert_true(saved >= 0);
  assert_int_equal(dup2(fd, 2), 2);
  xmlSetGenericErrorFunc(NULL, app_handler);
  for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    docstore__s3_error e;
    docstore__s3_list_page page;
    char *id = (char *)"x";
    assert_int_equal(docstore__s3_xml_is_error(bodies[i], lens[i]), 0);
    assert_int_equal(docstore__s3_xml_parse_error(bodies[i], lens[i], &e),
                     DOCSTORE_EFORMAT);
    assert_int_equal(docstore__s3_xml_parse_list(bodies[i], lens[i], &page),
                     DOCSTORE_EFORMAT);
    assert_int_equal(docstore__s3_xml_parse_upload_id(bodies[i], lens[i], &id),
                     DOCSTORE_EFORMAT);
    assert_null(id);
    assert_ptr_equal(xmlGenericError, app_handler);
  }
  xmlSetGenericErrorFunc(NULL, NULL);
  fflush(stderr);
  assert_int_equal(dup2(saved, 2), 2);
  close(saved);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  close(fd);
  unlink(path);
  assert_int_equal(st.st_size, 0);
  assert_int_equal(app_handler_calls, 0);
}

static void test_error_parse_no_external_entities(void **state) {
  (void)state;
  docstore__s3_error e;
  /* An external entity must never be fetched or expanded. */
  int rc = docstore__s3_xml_parse_error(
      S("<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY x SYSTEM "
        "\"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>"),
      &e);
  if (rc == 0)
    assert_null(strstr(e.code, "root:"));
  else
    assert_int_equal(rc, DOCSTORE_EFORMAT);
}

static void test_error_parse_long_fields_cut(void **state) {
  (void)state;
  char doc[2048];
  char msg[1001];
  memset(msg, 'm', 1000);
  msg[1000] = '\0';
  snprintf(doc, sizeof(doc),
           "<Error><Code>SlowDown</Code><Message>%s</Message></Error>", msg);
  docstore__s3_error e;
  assert_int_equal(docstore__s3_xml_parse_error(doc, strlen(doc), &e), 0);
  assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
}

static void test_is_error(void **state) {
  (void)state;
  assert_true(docstore__s3_xml_is_error(
      S("<?xml version=\"1.0\"?>\n\n<Error><Code>InternalError</Code>"
        "</Error>")));
  assert_false(docstore__s3_xml_is_error(
      S("<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag>"
        "</CompleteMultipartUploadResult>")));
  assert_false(docstore__s3_xml_is_error(S("")));
  assert_false(docstore__s3_xml_is_error(S("garbage")));
}

/* --------------------------------------------------------------- list */

static void test_list_url_encoded(void **state) {
  (void)state;
  docstore__s3_list_page p;
  assert_int_equal(
      docstore__s3_xml_parse_list(
          S("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            "<ListBucketResult "
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Name>b</Name><Prefix>d%2F</Prefix><KeyCount>3</KeyCount>"
            "<MaxKeys>3</MaxKeys><EncodingType>url</EncodingType>"
            "<IsTruncated>true</IsTruncated>"
            "<NextContinuationToken>tok+/=</NextContinuationToken>"
            "<Contents><Key>d/a%20b%2Bc%25d.txt</Key>"
            "<LastModified>2024-01-15T10:20:30.000Z</LastModified>"
            "<ETag>&quot;abc&quot;</ETag><Size>11</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            "<Contents><Key>d/%C3%A9t%C3%A9+x</Key>"
            "<LastModified>2024-01-15T10:20:30Z</LastModified>"
            "<ETag>\"def-2\"</ETag><Size>0</Size></Contents>"
            "<Contents><Key>d//x</Key><Size>18446744073709551615</Size>"
            "</Contents>"
            "</ListBucketResult>"),
          &p),
      0);
  assert_int_equal(p.count, 3);
  assert_true(p.truncated);
  assert_string_equal(p.next_token, "tok+/=");
  assert_string_equal(p.entries[0].key, "d/a b+c%d.txt");
  assert_int_equal(p.entries[0].size, 11);
  assert_int_equal(p.entries[0].mtime, 1705314030);
  assert_string_equal(p.entries[0].etag, "\"abc\"");
  assert_string_equal(p.entries[1].key, "d/\xc3\xa9t\xc3\xa9 x");
  assert_int_equal(p.entries[1].size, 0);
  assert_string_equal(p.entries[1].etag, "\"def-2\"");
  assert_string_equal(p.entries[2].key, "d//x");
  assert_true(p.entries[2].size == UINT64_MAX);
  assert_int_equal(p.entries[2].mtime, 0);
  assert_null(p.entries[2].etag);
  docstore__s3_list_page_free(&p);
  assert_null(p.entries);
}

static void test_list_not_encoded_keys_verbatim(void **state) {
  (void)state;
  docstore__s3_list_page p;
  assert_int_equal(docstore__s3_xml_parse_list(
                       S("<ListBucketResult><IsTruncated>false</IsTruncated>"
                         "<Contents><Key>a+b%20c</Key><Size>1</Size>"
                         "</Contents></ListBucketResult>"),
                       &p),
                   0);
  assert_int_equal(p.count, 1);
  assert_false(p.truncated);
  assert_null(p.next_token);
  assert_string_equal(p.entries[0].key, "a+b%20c");
  docstore__s3_list_page_free(&p);
}

static void test_list_empty(void **state) {
  (void)state;
  docstore__s3_list_page p;
  assert_int_equal(
      docstore__s3_xml_parse_list(
          S("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>"), &p),
      0);
  assert_int_equal(p.count, 0);
  assert_false(p.truncated);
  docstore__s3_list_page_free(&p);
}

static void test_list_bad(void **state) {
  (void)state;
  docstore__s3_list_page p;
  /* Truncated without a token would loop forever. */
  assert_int_equal(docstore__s3_xml_parse_list(
                       S("<ListBucketResult><IsTruncated>true</IsTruncated>"
                         "</ListBucketResult>"),
                       &p),
                   DOCSTORE_EFORMAT);
  assert_int_equal(
      docstore__s3_xml_parse_list(S("<ListBucketResult><Contents><Size>1</Size>"
                                    "</Contents></ListBucketResult>"),
                                  &p),
      DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_list(
                       S("<ListBucketResult><Contents><Key>k</Key>"
                         "<Size>-1</Size></Contents></ListBucketResult>"),
                       &p),
                   DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_list(
                       S("<ListBucketResult><Contents><Key>k</Key>"
                         "<Size>18446744073709551616</Size></Contents>"
                         "</ListBucketResult>"),
                       &p),
                   DOCSTORE_EFORMAT);
  assert_int_equal(
      docstore__s3_xml_parse_list(S("<ListBucketResult><Contents><Key>k</Key>"
                                    "</Contents></ListBucketResult>"),
                                  &p),
      DOCSTORE_EFORMAT);
  assert_int_equal(
      docstore__s3_xml_parse_list(
          S("<ListBucketResult><EncodingType>url</EncodingType><Contents>"
            "<Key>bad%2</Key><Size>1</Size></Contents></ListBucketResult>"),
          &p),
      DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_list(
                       S("<Error><Code>AccessDenied</Code></Error>"), &p),
                   DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_list(S("<ListBucketResult>"), &p),
                   DOCSTORE_EFORMAT);
  assert_null(p.entries);
  assert_int_equal(p.count, 0);
}

/* ------------------------------------------------ incomplete uploads */

static void test_uploads_parse(void **state) {
  (void)state;
  docstore__s3_upload_page p;
  assert_int_equal(
      docstore__s3_xml_parse_uploads(
          S("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            "<ListMultipartUploadsResult "
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Bucket>b</Bucket><KeyMarker></KeyMarker>"
            "<UploadIdMarker></UploadIdMarker>"
            "<NextKeyMarker>d/%C3%A9+x</NextKeyMarker>"
            "<NextUploadIdMarker>id&amp;2</NextUploadIdMarker>"
            "<EncodingType>url</EncodingType><MaxUploads>2</MaxUploads>"
            "<IsTruncated>true</IsTruncated>"
            "<Upload><Key>d/a%20b%2Bc.json</Key><UploadId>Zm9v+/=</UploadId>"
            "<Initiator><ID>x</ID></Initiator>"
            "<StorageClass>STANDARD</StorageClass>"
            "<Initiated>2024-01-15T10:20:30.000Z</Initiated></Upload>"
            "<Upload><Key>d/%C3%A9+x</Key><UploadId>id&amp;2</UploadId>"
            "<Initiated>2024-01-15T10:20:31Z</Initiated></Upload>"
            "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"
            "</ListMultipartUploadsResult>"),
          &p),
      0);
  assert_int_equal(p.count, 2);
  assert_true(p.truncated);
  assert_string_equal(p.next_key_marker, "d/\xc3\xa9 x");
  assert_string_equal(p.next_upload_id_marker, "id&2");
  assert_string_equal(p.entries[0].key, "d/a b+c.json");
  assert_string_equal(p.entries[0].upload_id, "Zm9v+/=");
  assert_int_equal(p.entries[0].initiated, 1705314030);
  assert_string_equal(p.entries[1].key, "d/\xc3\xa9 x");
  assert_string_equal(p.entries[1].upload_id, "id&2");
  assert_int_equal(p.entries[1].initiated, 1705314031);
  docstore__s3_upload_page_free(&p);
  assert_null(p.entries);
  assert_null(p.next_key_marker);

  /* Not encoded: keys verbatim; no uploads at all; no namespace. */
  assert_int_equal(docstore__s3_xml_parse_uploads(
                       S("<ListMultipartUploadsResult><IsTruncated>false"
                         "</IsTruncated><Upload><Key>a+b%20</Key><UploadId>u"
                         "</UploadId><Initiated>1970-01-01T00:00:00Z"
                         "</Initiated></Upload></ListMultipartUploadsResult>"),
                       &p),
                   0);
  assert_int_equal(p.count, 1);
  assert_false(p.truncated);
  assert_null(p.next_key_marker);
  assert_string_equal(p.entries[0].key, "a+b%20");
  assert_int_equal(p.entries[0].initiated, 0);
  docstore__s3_upload_page_free(&p);
  assert_int_equal(
      docstore__s3_xml_parse_uploads(S("<ListMultipartUploadsResult/>"), &p),
      0);
  assert_int_equal(p.count, 0);
  assert_false(p.truncated);
  docstore__s3_upload_page_free(&p);
}

static void test_uploads_bad(void **state) {
  (void)state;
  docstore__s3_upload_page p;
  static const char *const bad[] = {
      /* truncated without a next key marker: it would loop */
      "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
      "<Upload><Key>k</Key><UploadId>u</UploadId><Initiated>"
      "2024-01-15T10:20:30Z</Initiated></Upload>"
      "</ListMultipartUploadsResult>",
      "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
      "<NextKeyMarker></NextKeyMarker></ListMultipartUploadsResult>",
      /* an upload without a key, an id or a date, or with a bad one */
      "<ListMultipartUploadsResult><Upload><UploadId>u</UploadId><Initiated>"
      "2024-01-15T10:20:30Z</Initiated></Upload></ListMultipartUploadsResult>",
      "<ListMultipartUploadsResult><Upload><Key></Key><UploadId>u</UploadId>"
      "<Initiated>2024-01-15T10:20:30Z</Initiated></Upload>"
      "</ListMultipartUploadsResult>",
      "<ListMultipartUploadsResult><Upload><Key>k</Key><Initiated>"
      "2024-01-15T10:20:30Z</Initiated></Upload></ListMultipartUploadsResult>",
      "<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId></UploadId>"
      "<Initiated>2024-01-15T10:20:30Z</Initiated></Upload>"
      "</ListMultipartUploadsResult>",
      "<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId>"
      "</Upload></ListMultipartUploadsResult>",
      "<ListMultipartUploadsResult><Upload><Key>k</Key><UploadId>u</UploadId>"
      "<Initiated>yesterday</Initiated></Upload></ListMultipartUploadsResult>",
      /* a bad escape in an encoded key or marker */
      "<ListMultipartUploadsResult><EncodingType>url</EncodingType><Upload>"
      "<Key>bad%2</Key><UploadId>u</UploadId><Initiated>2024-01-15T10:20:30Z"
      "</Initiated></Upload></ListMultipartUploadsResult>",
      "<ListMultipartUploadsResult><EncodingType>url</EncodingType>"
      "<IsTruncated>true</IsTruncated><NextKeyMarker>a%00b</NextKeyMarker>"
      "</ListMultipartUploadsResult>",
      /* another document */
      "<ListBucketResult></ListBucketResult>",
      "<Error><Code>AccessDenied</Code></Error>",
      "<ListMultipartUploadsResult>", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(docstore__s3_xml_parse_uploads(bad[i], strlen(bad[i]), &p),
                     DOCSTORE_EFORMAT);
    assert_null(p.entries);
    assert_int_equal(p.count, 0);
    assert_null(p.next_key_marker);
    assert_null(p.next_upload_id_marker);
  }
}

/* A page holds at most DOCSTORE__S3_MAX_UPLOADS_PAGE uploads. */
static void test_uploads_bounded(void **state) {
  (void)state;
  static const char upload[] =
      "<Upload><Key>k</Key><UploadId>u</UploadId>"
      "<Initiated>2024-01-15T10:20:30Z</Initiated></Upload>";
  docstore__buf b = DOCSTORE__BUF_INIT;
  docstore__s3_upload_page p;
  assert_int_equal(docstore__buf_puts(&b, "<ListMultipartUploadsResult>"), 0);
  for (unsigned int i = 0; i < DOCSTORE__S3_MAX_UPLOADS_PAGE; i++)
    assert_int_equal(docstore__buf_puts(&b, upload), 0);
  size_t at = b.len;
  assert_int_equal(docstore__buf_puts(&b, "</ListMultipartUploadsResult>"), 0);
  assert_int_equal(
      docstore__s3_xml_parse_uploads((const char *)b.data, b.len, &p), 0);
  assert_int_equal(p.count, DOCSTORE__S3_MAX_UPLOADS_PAGE);
  docstore__s3_upload_page_free(&p);
  b.len = at;
  assert_int_equal(docstore__buf_puts(&b, upload), 0);
  assert_int_equal(docstore__buf_puts(&b, "</ListMultipartUploadsResult>"), 0);
  assert_int_equal(
      docstore__s3_xml_parse_uploads((const char *)b.data, b.len, &p),
      DOCSTORE_EFORMAT);
  assert_null(p.entries);
  docstore__buf_free(&b);
}

/* ----------------------------------------------------------- multipart */

static void test_upload_id(void **state) {
  (void)state;
  char *id = NULL;
  assert_int_equal(docstore__s3_xml_parse_upload_id(
                       S("<InitiateMultipartUploadResult xmlns=\"x\">"
                         "<Bucket>b</Bucket><Key>k</Key>"
                         "<UploadId>Zm9v+/=</UploadId>"
                         "</InitiateMultipartUploadResult>"),
                       &id),
                   0);
  assert_string_equal(id, "Zm9v+/=");
  docstore_free(id);
  assert_int_equal(docstore__s3_xml_parse_upload_id(
                       S("<InitiateMultipartUploadResult><UploadId>"
                         "</UploadId></InitiateMultipartUploadResult>"),
                       &id),
                   DOCSTORE_EFORMAT);
  assert_null(id);
  assert_int_equal(
      docstore__s3_xml_parse_upload_id(S("<InitiateMultipartUploadResult>"
                                         "</InitiateMultipartUploadResult>"),
                                       &id),
      DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_upload_id(
                       S("<Error><UploadId>x</UploadId></Error>"), &id),
                   DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_xml_parse_upload_id(S("{}"), &id),
                   DOCSTORE_EFORMAT);
}

static void test_complete_body(void **state) {
  (void)state;
  char *etags[] = {"\"aaa\"", "\"b&<c>\""};
  docstore__buf b = DOCSTORE__BUF_INIT;
  assert_int_equal(docstore__s3_xml_complete_body(&b, etags, 2), 0);
  const char *s = (const char *)b.data;
  assert_non_null(strstr(s, "<Part><PartNumber>1</PartNumber>"
                            "<ETag>&quot;aaa&quot;</ETag></Part>"));
  assert_non_null(strstr(s, "<Part><PartNumber>2</PartNumber>"
                            "<ETag>&quot;b&amp;&lt;c&gt;&quot;</ETag></Part>"));
  assert_non_null(strstr(s, "</CompleteMultipartUpload>"));
  docstore__buf_free(&b);

  char *missing[] = {"\"a\"", NULL};
  assert_int_equal(docstore__s3_xml_complete_body(&b, missing, 2),
                   DOCSTORE_EINVAL);
  docstore__buf_free(&b);

  /* With the parts' flexible checksums. */
  char *sums[] = {"AAAAAA==", "yZRlqg=="};
  assert_int_equal(
      docstore__s3_xml_complete_body_sums(&b, etags, sums, "CRC32C", 2), 0);
  s = (const char *)b.data;
  assert_non_null(strstr(s,
                         "<Part><PartNumber>1</PartNumber>"
                         "<ETag>&quot;aaa&quot;</ETag>"
                         "<ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part>"));
  assert_non_null(strstr(s, "<ChecksumCRC32C>yZRlqg==</ChecksumCRC32C></Part>"
                            "</CompleteMultipartUpload>"));
  docstore__buf_free(&b);
  char *no_sum[] = {"AAAAAA==", NULL};
  assert_int_equal(
      docstore__s3_xml_complete_body_sums(&b, etags, no_sum, "CRC32C", 2),
      DOCSTORE_EINVAL);
  docstore__buf_free(&b);
  assert_int_equal(docstore__s3_xml_complete_body_sums(&b, etags, sums, "", 2),
                   DOCSTORE_EINVAL);
  docstore__buf_free(&b);
}

/* ------------------------------------------------------------ helpers */

static void test_url_decode(void **state) {
  (void)state;
  char *s = NULL;
  assert_int_equal(docstore__s3_url_decode("a%20b+c%2Bd%2fe%C3%A9", &s), 0);
  assert_string_equal(s, "a b c+d/e\xc3\xa9");
  docstore_free(s);
  assert_int_equal(docstore__s3_url_decode("", &s), 0);
  assert_string_equal(s, "");
  docstore_free(s);
  assert_int_equal(docstore__s3_url_decode("a%", &s), DOCSTORE_EFORMAT);
  assert_null(s);
  assert_int_equal(docstore__s3_url_decode("a%4", &s), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_url_decode("a%zz", &s), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_url_decode("a%00b", &s), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_url_decode(NULL, &s), DOCSTORE_EINVAL);
}

/* Content-Length, Content-Range and listing sizes: digits only (tidy's
 * cert-err34-c: sscanf("%llu") took a sign and wrapped on overflow). */
static void test_parse_u64(void **state) {
  (void)state;
  uint64_t v = 7;
  assert_int_equal(docstore__s3_parse_u64("123", 3, &v), 0);
  assert_true(v == 123);
  assert_int_equal(docstore__s3_parse_u64("12-3", 2, &v), 0);
  assert_true(v == 12);
  assert_int_equal(docstore__s3_parse_u64("18446744073709551615", 20, &v), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(docstore__s3_parse_u64("18446744073709551616", 20, &v),
                   DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_parse_u64("", 0, &v), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_parse_u64(NULL, 0, &v), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_parse_u64("-1", 2, &v), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_parse_u64("+1", 2, &v), DOCSTORE_EFORMAT);
  assert_int_equal(docstore__s3_parse_u64(" 1", 2, &v), DOCSTORE_EFORMAT);
  assert_true(v == UINT64_MAX); /* untouched on failure */
}

static void test_iso8601(void **state) {
  (void)state;
  assert_int_equal(docstore__s3_parse_iso8601("1970-01-01T00:00:00Z"), 0);
  assert_int_equal(docstore__s3_parse_iso8601("2024-02-29T23:59:59.123Z"),
                   1709251199);
  assert_int_equal(docstore__s3_parse_iso8601("2000-03-01T00:00:00.0Z"),
                   951868800);
  assert_int_equal(docstore__s3_parse_iso8601(NULL), -1);
  assert_int_equal(docstore__s3_parse_iso8601(""), -1);
  assert_int_equal(docstore__s3_parse_iso8601("2024-01-15 10:20:30Z"), -1);
  assert_int_equal(docstore__s3_parse_iso8601("2024-01-15T10:20:30"), -1);
  assert_int_equal(docstore__s3_parse_iso8601("2024-13-15T10:20:30Z"), -1);
  /* util's calendar: no impossible day, no leap second (both were taken
   * before S3 used it). */
  assert_int_equal(docstore__s3_parse_iso8601("2023-02-29T00:00:00Z"), -1);
  assert_int_equal(docstore__s3_parse_iso8601("2024-04-31T00:00:00Z"), -1);
  assert_int_equal(docstore__s3_parse_iso8601("2024-01-15T10:20:60Z"), -1);
  assert_int_equal(docstore__s3_parse_iso8601("2024-01-15T10:20:30.Z"), -1);
  assert_int_equal(docstore__s3_parse_iso8601("2024-01-15T10:20:30+01:00"), -1);
}

/* ------------------------------------------------------ error mapping */

static const docstore__s3_context obj_ctx = {
    "GET", "bank-documents", "documents/user_1/x.json", "us-east-1",
    "http://127.0.0.1:9000"};
static const docstore__s3_context bucket_ctx = {
    "HEAD", "bank-documents", NULL, "us-east-1", "http://127.0.0.1:9000"};

static int map(docstore__err *err, const docstore__s3_context *ctx, long status,
               const char *code, const char *message,
               const char *header_region) {
  docstore__s3_error e;
  memset(&e, 0, sizeof(e));
  if (code) {
    docstore__strlcpy(e.code, code, sizeof(e.code));
    docstore__strlcpy(e.message, message ? message : "", sizeof(e.message));
    docstore__strlcpy(e.request_id, "req-42", sizeof(e.request_id));
  }
  docstore__err_clear(err);
  return docstore__s3_map_error(err, ctx, status, code ? &e : NULL,
                                header_region, code ? NULL : "hdr-7");
}

static void test_map_not_found(void **state) {
  (void)state;
  docstore__err err;
  assert_int_equal(map(&err, &obj_ctx, 404, "NoSuchKey",
                       "The specified key does not exist.", NULL),
                   DOCSTORE_ENOTFOUND);
  assert_int_equal(err.code, DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(err.msg, "HTTP 404"));
  assert_non_null(strstr(err.msg, "NoSuchKey"));
  assert_non_null(strstr(err.msg, "The specified key does not exist."));
  assert_non_null(strstr(err.msg, "req-42"));
  assert_non_null(strstr(err.msg, "documents/user_1/x.json"));
  /* HEAD: no body, the status decides; the header's request id is used. */
  assert_int_equal(map(&err, &obj_ctx, 404, NULL, NULL, NULL),
                   DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(err.msg, "hdr-7"));
  assert_int_equal(map(&err, &bucket_ctx, 404, NULL, NULL, NULL),
                   DOCSTORE_ENOBUCKET);
}

static void test_map_no_bucket(void **state) {
  (void)state;
  docstore__err err;
  assert_int_equal(map(&err, &obj_ctx, 404, "NoSuchBucket",
                       "The specified bucket does not exist", NULL),
                   DOCSTORE_ENOBUCKET);
  assert_non_null(strstr(err.msg, "NoSuchBucket"));
  assert_non_null(strstr(err.msg, "ensure bucket 'bank-documents' exists"));
}

static void test_map_access(void **state) {
  (void)state;
  docstore__err err;
  assert_int_equal(
      map(&err, &obj_ctx, 403, "AccessDenied", "Access Denied", NULL),
      DOCSTORE_EACCESS);
  assert_non_null(strstr(err.msg, "HTTP 403 AccessDenied: Access Denied"));
  assert_non_null(strstr(err.msg, "IAM permissions"));
  assert_non_null(strstr(err.msg, "S3_REGION"));
  assert_non_null(strstr(err.msg, "http://127.0.0.1:9000"));

  assert_int_equal(
      map(&err, &obj_ctx, 403, "InvalidAccessKeyId", "no such", NULL),
      DOCSTORE_EACCESS);
  assert_non_null(strstr(err.msg, "S3_ACCESS_KEY"));

  assert_int_equal(map(&err, &obj_ctx, 403, "SignatureDoesNotMatch",
                       "The request signature we calculated does not match",
                       NULL),
                   DOCSTORE_EACCESS);
  assert_non_null(strstr(err.msg, "S3_SECRET_KEY"));

  /* HEAD 403 has no body. */
  assert_int_equal(map(&err, &bucket_ctx, 403, NULL, NULL, NULL),
                   DOCSTORE_EACCESS);
  assert_non_null(strstr(err.msg, "HTTP 403"));
  assert_non_null(strstr(err.msg, "check credentials"));
}

static void test_map_region(void **state) {
  (void)state;
  docstore__err err;
  assert_int_equal(map(&err, &bucket_ctx, 301, NULL, NULL, "eu-west-1"),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "set S3_REGION=eu-west-1"));
  assert_int_equal(map(&err, &bucket_ctx, 400, NULL, NULL, "eu-west-1"),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "S3_REGION=eu-west-1"));

  docstore__s3_error e;
  memset(&e, 0, sizeof(e));
  strcpy(e.code, "AuthorizationHeaderMalformed");
  strcpy(e.region, "ap-south-1");
  assert_int_equal(docstore__s3_map_error(&err, &obj_ctx, 400, &e, NULL, NULL),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "S3_REGION=ap-south-1"));

  memset(&e, 0, sizeof(e));
  strcpy(e.code, "PermanentRedirect");
  strcpy(e.endpoint, "bank-documents.s3.eu-central-1.amazonaws.com");
  assert_int_equal(docstore__s3_map_error(&err, &obj_ctx, 301, &e, NULL, NULL),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "eu-central-1.amazonaws.com"));
}

static void test_map_others(void **state) {
  (void)state;
  docstore__err err;
  assert_int_equal(map(&err, &obj_ctx, 500, "InternalError",
                       "We encountered an internal error.", NULL),
                   DOCSTORE_ESERVER);
  assert_non_null(strstr(err.msg, "HTTP 500 InternalError"));
  assert_int_equal(map(&err, &obj_ctx, 503, NULL, NULL, NULL),
                   DOCSTORE_ESERVER);
  assert_int_equal(map(&err, &obj_ctx, 400, "BadDigest", "md5", NULL),
                   DOCSTORE_EINTEGRITY);
  assert_int_equal(
      map(&err, &obj_ctx, 400, "XAmzContentSHA256Mismatch", "sha", NULL),
      DOCSTORE_EINTEGRITY);
  assert_int_equal(map(&err, &obj_ctx, 400, "EntityTooLarge", "big", NULL),
                   DOCSTORE_ETOOBIG);
  assert_int_equal(map(&err, &obj_ctx, 416, "InvalidRange", "range", NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(
      map(&err, &obj_ctx, 403, "RequestTimeTooSkewed", "skew", NULL),
      DOCSTORE_ESERVER);
  assert_non_null(strstr(err.msg, "clock"));
  assert_int_equal(map(&err, &obj_ctx, 409, "OperationAborted", "x", NULL),
                   DOCSTORE_ESERVER);
  /* A HEAD's 412 (no body), and a named PreconditionFailed. */
  assert_int_equal(map(&err, &obj_ctx, 412, NULL, NULL, NULL),
                   DOCSTORE_ESERVER);
  assert_non_null(strstr(err.msg, "changed while it was read"));
  assert_int_equal(map(&err, &obj_ctx, 412, "PreconditionFailed", "x", NULL),
                   DOCSTORE_ESERVER);
  assert_non_null(strstr(err.msg, "changed while it was read"));
  assert_int_equal(map(&err, &bucket_ctx, 400, "InvalidBucketName", "x", NULL),
                   DOCSTORE_ECONFIG);
  assert_non_null(strstr(err.msg, "check S3_BUCKET"));
  /* A named code the table does not know is not read from the status:
   * a 404 or a 403 with an unknown code stays a server error. */
  assert_int_equal(map(&err, &obj_ctx, 404, "SomethingNew", "x", NULL),
                   DOCSTORE_ESERVER);
  assert_int_equal(map(&err, &obj_ctx, 403, "SomethingNew", "x", NULL),
                   DOCSTORE_ESERVER);
  /* 416 without a body. */
  assert_int_equal(map(&err, &obj_ctx, 416, NULL, NULL, NULL), DOCSTORE_EINVAL);
}

static void test_map_long_key_fits(void **state) {
  (void)state;
  char key[1025];
  memset(key, 'k', 1024);
  key[1024] = '\0';
  docstore__s3_context ctx = obj_ctx;
  ctx.key = key;
  docstore__err err;
  assert_int_equal(map(&err, &ctx, 404, "NoSuchKey", "gone", NULL),
                   DOCSTORE_ENOTFOUND);
  assert_true(strlen(err.msg) < sizeof(err.msg));
  assert_non_null(strstr(err.msg, "..."));
  assert_non_null(strstr(err.msg, "NoSuchKey"));
}

/* ------------------------------------------------------------ retries */

static void test_retryable_reply(void **state) {
  (void)state;
  assert_true(docstore__s3_retryable_reply(503, "SlowDown"));
  assert_true(docstore__s3_retryable_reply(503, ""));
  assert_true(docstore__s3_retryable_reply(500, "InternalError"));
  assert_true(docstore__s3_retryable_reply(502, NULL));
  assert_true(docstore__s3_retryable_reply(504, NULL));
  assert_true(docstore__s3_retryable_reply(400, "RequestTimeout"));
  assert_true(docstore__s3_retryable_reply(403, "RequestTimeTooSkewed"));
  /* InternalError inside a 200 (CompleteMultipartUpload). */
  assert_true(docstore__s3_retryable_reply(200, "InternalError"));
  assert_false(docstore__s3_retryable_reply(501, "NotImplemented"));
  assert_false(docstore__s3_retryable_reply(403, "AccessDenied"));
  assert_false(docstore__s3_retryable_reply(403, "SignatureDoesNotMatch"));
  assert_false(docstore__s3_retryable_reply(403, "InvalidAccessKeyId"));
  assert_false(docstore__s3_retryable_reply(403, NULL));
  assert_false(docstore__s3_retryable_reply(401, NULL));
  assert_false(docstore__s3_retryable_reply(404, "NoSuchKey"));
  assert_false(docstore__s3_retryable_reply(400, "BadDigest"));
  assert_false(docstore__s3_retryable_reply(301, NULL));
}

static void test_retryable_curl(void **state) {
  (void)state;
  assert_true(docstore__s3_retryable_curl(CURLE_COULDNT_CONNECT));
  assert_true(docstore__s3_retryable_curl(CURLE_RECV_ERROR));
  assert_true(docstore__s3_retryable_curl(CURLE_SEND_ERROR));
  assert_true(docstore__s3_retryable_curl(CURLE_GOT_NOTHING));
  assert_true(docstore__s3_retryable_curl(CURLE_PARTIAL_FILE));
  assert_false(docstore__s3_retryable_curl(CURLE_OK));
  assert_false(docstore__s3_retryable_curl(CURLE_OPERATION_TIMEDOUT));
  assert_false(docstore__s3_retryable_curl(CURLE_PEER_FAILED_VERIFICATION));
  assert_false(docstore__s3_retryable_curl(CURLE_COULDNT_RESOLVE_HOST));
  assert_false(docstore__s3_retryable_curl(CURLE_WRITE_ERROR));
}

static void test_backoff(void **state) {
  (void)state;
  assert_int_equal(docstore__s3_backoff_ms(1, 100, 5000, 0.0), 0);
  assert_int_equal(docstore__s3_backoff_ms(1, 100, 5000, 1.0), 100);
  assert_int_equal(docstore__s3_backoff_ms(2, 100, 5000, 1.0), 200);
  assert_int_equal(docstore__s3_backoff_ms(3, 100, 5000, 1.0), 400);
  assert_int_equal(docstore__s3_backoff_ms(3, 100, 5000, 0.5), 200);
  assert_int_equal(docstore__s3_backoff_ms(7, 100, 5000, 1.0), 5000);
  assert_int_equal(docstore__s3_backoff_ms(4000000000u, 100, 5000, 1.0), 5000);
  assert_int_equal(docstore__s3_backoff_ms(0, 100, 5000, 1.0), 100);
  assert_int_equal(docstore__s3_backoff_ms(2, 100, 5000, 7.0), 200);
  assert_int_equal(docstore__s3_backoff_ms(2, 100, 5000, -1.0), 0);
  for (int i = 0; i < 1000; i++) {
    double r = docstore__s3_random01();
    assert_true(r >= 0.0 && r <= 1.0);
    unsigned int d = docstore__s3_backoff_ms(3, 100, 5000, r);
    assert_true(d <= 400);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_parse),
      cmocka_unit_test(test_error_parse_namespace_and_entities),
      cmocka_unit_test(test_error_parse_bad),
      cmocka_unit_test(test_error_parse_no_external_entities),
      cmocka_unit_test(test_parse_prints_nothing),
      cmocka_unit_test(test_error_parse_long_fields_cut),
      cmocka_unit_test(test_is_error),
      cmocka_unit_test(test_list_url_encoded),
      cmocka_unit_test(test_list_not_encoded_keys_verbatim),
      cmocka_unit_test(test_list_empty),
      cmocka_unit_test(test_list_bad),
      cmocka_unit_test(test_uploads_parse),
      cmocka_unit_test(test_uploads_bad),
      cmocka_unit_test(test_uploads_bounded),
      cmocka_unit_test(test_upload_id),
      cmocka_unit_test(test_complete_body),
      cmocka_unit_test(test_url_decode),
      cmocka_unit_test(test_iso8601),
      cmocka_unit_test(test_map_not_found),
      cmocka_unit_test(test_map_no_bucket),
      cmocka_unit_test(test_map_access),
      cmocka_unit_test(test_map_region),
      cmocka_unit_test(test_map_others),
      cmocka_unit_test(test_map_long_key_fits),
      cmocka_unit_test(test_retryable_reply),
      cmocka_unit_test(test_retryable_curl),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_parse_u64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
