/*
 * libdocstore - fuzz target: S3 reply parsing (src/s3/s3_xml.c).
 * SPDX-License-Identifier: Apache-2.0
 *
 * The input is a reply body, given to every reply parser: <Error>
 * replies (and their mapping to a code and message), ListObjectsV2 pages,
 * ListMultipartUploads pages, InitiateMultipartUpload replies.  The same bytes,
 * as a C string, also go to the URL decoder used for EncodingType=url keys and
 * to the ISO 8601 date parser; NUL-separated parts of it become the ETags of a
 * CompleteMultipartUpload body.
 *
 * Properties:
 *  - is_error agrees with parse_error; the fixed-size fields of an error
 *    are NUL-terminated; the mapped error is a DOCSTORE_E* code with a
 *    message "S3 <method> ...";
 *  - a list page either fails empty, or has a key for every entry, no NUL
 *    inside a key, and a continuation token when it is truncated;
 *  - an uploads page either fails empty, or has at most
 *    DOCSTORE__S3_MAX_UPLOADS_PAGE uploads, each with a non-empty key and
 *    upload id (no NUL inside) and a date, and a next key marker when it
 *    is truncated;
 *  - an upload id, when found, is not empty;
 *  - URL decoding never grows the text, and a date that parses is a real
 *    UTC date that formats back to the same text;
 *  - the CompleteMultipartUpload body is well-formed XML that gives back
 *    the ETags it was built from.
 */
#include <time.h>

#include <libxml/parser.h>

#include "fuzz_common.h"

#include "s3/s3_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  FUZZ_CHECK(docstore__s3_global_init() == 0);
  return 0;
}

static void check_error_reply(const char *body, size_t len) {
  static const long statuses[] = {0, 301, 400, 403, 404, 412, 416, 500, 503};
  docstore__s3_error e;
  docstore__err err;
  int rc = docstore__s3_xml_parse_error(body, len, &e);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EFORMAT || rc == DOCSTORE_ENOMEM);
  FUZZ_CHECK((rc == 0) == (docstore__s3_xml_is_error(body, len) == 1));
  FUZZ_CHECK(memchr(e.code, '\0', sizeof(e.code)) &&
             memchr(e.message, '\0', sizeof(e.message)) &&
             memchr(e.request_id, '\0', sizeof(e.request_id)) &&
             memchr(e.region, '\0', sizeof(e.region)) &&
             memchr(e.endpoint, '\0', sizeof(e.endpoint)));

  /* A long key makes the message cut its parts; the region is the reply's
   * own when it has one, so the hint compares two different strings. */
  docstore__s3_context ctx = {
      "GET", "fuzz-bucket",
      len % 2 ? "documents/user_1/2024/01/02/a-rather-long-file-id-for-the-"
                "message_with-an-even-longer-name-that-needs-cutting_pdf.json"
              : NULL,
      "us-east-1", "http://127.0.0.1:9000"};
  long status = statuses[len % (sizeof(statuses) / sizeof(statuses[0]))];
  docstore__err_clear(&err);
  int code = docstore__s3_map_error(&err, &ctx, status, rc == 0 ? &e : NULL,
                                    e.region[0] ? NULL : "eu-west-1",
                                    "fuzz-request-id");
  FUZZ_CHECK(code < 0 && err.code == code);
  FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)));
  FUZZ_CHECK(strncmp(err.msg, "S3 GET ", 7) == 0);
}

static void check_list(const char *body, size_t len) {
  docstore__s3_list_page page;
  int rc = docstore__s3_xml_parse_list(body, len, &page);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EFORMAT || rc == DOCSTORE_ENOMEM);
  if (rc < 0) {
    FUZZ_CHECK(page.entries == NULL && page.count == 0 &&
               page.next_token == NULL);
    return;
  }
  FUZZ_CHECK(!page.truncated || (page.next_token && page.next_token[0]));
  FUZZ_CHECK(page.count == 0 || page.entries);
  for (size_t i = 0; i < page.count; i++) {
    FUZZ_CHECK(page.entries[i].key != NULL);
    FUZZ_CHECK(page.entries[i].mtime >= 0);
    /* Keys are C strings: strlen must be the whole key (no cut). */
    FUZZ_CHECK(strlen(page.entries[i].key) <= len);
  }
  docstore__s3_list_page_free(&page);
  FUZZ_CHECK(page.entries == NULL && page.count == 0);
}

static void check_uploads(const char *body, size_t len) {
  docstore__s3_upload_page page;
  int rc = docstore__s3_xml_parse_uploads(body, len, &page);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EFORMAT || rc == DOCSTORE_ENOMEM);
  if (rc < 0) {
    FUZZ_CHECK(page.entries == NULL && page.count == 0 &&
               page.next_key_marker == NULL &&
               page.next_upload_id_marker == NULL);
    return;
  }
  FUZZ_CHECK(page.count <= DOCSTORE__S3_MAX_UPLOADS_PAGE);
  FUZZ_CHECK(!page.truncated ||
             (page.next_key_marker && page.next_key_marker[0]));
  FUZZ_CHECK(page.count == 0 || page.entries);
  for (size_t i = 0; i < page.count; i++) {
    const docstore__s3_upload_entry *e = &page.entries[i];
    FUZZ_CHECK(e->key && e->key[0] && strlen(e->key) <= len);
    FUZZ_CHECK(e->upload_id && e->upload_id[0] && strlen(e->upload_id) <= len);
    FUZZ_CHECK(e->initiated >= 0);
  }
  docstore__s3_upload_page_free(&page);
  FUZZ_CHECK(page.entries == NULL && page.count == 0);
}

static void check_upload_id(const char *body, size_t len) {
  char *id = NULL;
  int rc = docstore__s3_xml_parse_upload_id(body, len, &id);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EFORMAT || rc == DOCSTORE_ENOMEM);
  FUZZ_CHECK((rc == 0) == (id != NULL));
  FUZZ_CHECK(!id || id[0]);
  docstore_free(id);
}

static int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

static void check_text_helpers(const char *s) {
  char *dec = NULL;
  int rc = docstore__s3_url_decode(s, &dec);
  FUZZ_CHECK(rc == 0 || rc == DOCSTORE_EFORMAT || rc == DOCSTORE_ENOMEM);
  FUZZ_CHECK((rc == 0) == (dec != NULL));
  if (dec)
    FUZZ_CHECK(strlen(dec) <= strlen(s));
  docstore_free(dec);

  int64_t t = docstore__s3_parse_iso8601(s);
  if (t < 0)
    return;
  /* The parser takes any day up to 31 and second 60 (and normalises
   * them); a real date must format back to itself. */
  int y = atoi(s), mo = atoi(s + 5), d = atoi(s + 8), se = atoi(s + 17);
  FUZZ_CHECK(y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
  if (d > days_in_month(y, mo) || se > 59)
    return;
  time_t tt = (time_t)t;
  struct tm tm;
  char back[32];
  FUZZ_CHECK(gmtime_r(&tt, &tm) != NULL);
  FUZZ_CHECK(strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%S", &tm) == 19);
  FUZZ_CHECK(memcmp(back, s, 19) == 0);
}

/* Text of the n-th element called `name` below root, or NULL. */
static xmlChar *nth_text(xmlNodePtr root, const char *name, size_t n) {
  for (xmlNodePtr part = root ? root->children : NULL; part;
       part = part->next) {
    if (part->type != XML_ELEMENT_NODE ||
        xmlStrcmp(part->name, (const xmlChar *)"Part") != 0)
      continue;
    if (n-- > 0)
      continue;
    for (xmlNodePtr c = part->children; c; c = c->next)
      if (c->type == XML_ELEMENT_NODE &&
          xmlStrcmp(c->name, (const xmlChar *)name) == 0)
        return xmlNodeGetContent(c);
    return NULL;
  }
  return NULL;
}

static int printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
      return 0;
  return 1;
}

static void check_complete_body(const uint8_t *data, size_t size) {
  fuzz_fields f;
  char *etags[8];
  size_t n = 0;
  const char *field;
  docstore__buf b = DOCSTORE__BUF_INIT;

  fuzz_fields_init(&f, data, size);
  while (n < 8 && (field = fuzz_field(&f)) != NULL) {
    if (!printable(field))
      break;
    etags[n++] = (char *)field;
  }
  FUZZ_CHECK(docstore__s3_xml_complete_body(&b, etags, n) == 0);
  xmlDocPtr doc =
      xmlReadMemory((const char *)b.data, (int)b.len, "c.xml", NULL,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  FUZZ_CHECK(doc != NULL);
  xmlNodePtr root = xmlDocGetRootElement(doc);
  for (size_t i = 0; i < n; i++) {
    char num[24];
    xmlChar *etag = nth_text(root, "ETag", i);
    xmlChar *part = nth_text(root, "PartNumber", i);
    snprintf(num, sizeof(num), "%zu", i + 1);
    FUZZ_CHECK(etag && strcmp((const char *)etag, etags[i]) == 0);
    FUZZ_CHECK(part && strcmp((const char *)part, num) == 0);
    xmlFree(etag);
    xmlFree(part);
  }
  FUZZ_CHECK(nth_text(root, "ETag", n) == NULL);
  xmlFreeDoc(doc);
  docstore__buf_free(&b);
  fuzz_fields_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *body = size ? (const char *)data : "";
  char *s = fuzz_cstr(data, size);

  check_error_reply(body, size);
  check_list(body, size);
  check_uploads(body, size);
  check_upload_id(body, size);
  check_text_helpers(s);
  check_complete_body(data, size);
  free(s);
  return 0;
}
