/*
 * libdocstore - S3 replies: XML parsing (libxml2) and error mapping.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Replies are parsed without network access, DTD loading or entity
 * substitution (no XXE), and only up to DOCSTORE__S3_MAX_XML_BODY bytes.
 * Element names are compared by local name, so the S3 namespace (or its
 * absence, as Swift and MinIO sometimes send) does not matter.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3/s3_internal.h"
#include "util/date.h"
#include "util/hex.h"

#define XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* libxml2 reports some failures (a body that looks like EBCDIC or UCS-4
 * and does not convert, I/O) outside the parser context, through the
 * thread's generic error handler, which prints to stderr whatever
 * XML_PARSE_NOERROR says.  The handler is silenced during a parse and put
 * back after (it is per thread, and may be the application's). */
static void xml_silent(void *ctx, const char *msg, ...) {
  (void)ctx;
  (void)msg;
}

static xmlDocPtr parse_doc(const char *body, size_t len) {
  if (!body || len == 0 || len > DOCSTORE__S3_MAX_XML_BODY || len > INT_MAX)
    return NULL;
  xmlGenericErrorFunc handler = xmlGenericError;
  void *handler_ctx = xmlGenericErrorContext;
  xmlSetGenericErrorFunc(NULL, xml_silent);
  xmlDocPtr doc =
      xmlReadMemory(body, (int)len, "s3-reply.xml", NULL, XML_OPTIONS);
  xmlSetGenericErrorFunc(handler_ctx, handler);
  return doc;
}

static int is_elem(const xmlNode *n, const char *name) {
  return n && n->type == XML_ELEMENT_NODE &&
         xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNodePtr child_elem(const xmlNode *parent, const char *name) {
  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
    if (is_elem(c, name))
      return c;
  return NULL;
}

/* Text of an element (entities such as &quot; decoded), library-owned.
 * A missing element gives NULL and 0; only allocation fails. */
static int text_dup(const xmlNode *n, char **out) {
  *out = NULL;
  if (!n)
    return 0;
  xmlChar *t = xmlNodeGetContent(n);
  if (!t)
    return DOCSTORE_ENOMEM;
  *out = docstore__strdup((const char *)t);
  xmlFree(t);
  return *out ? 0 : DOCSTORE_ENOMEM;
}

/* Text of an element into a fixed buffer (cut if long; "" if missing). */
static void text_copy(const xmlNode *n, char *dst, size_t cap) {
  dst[0] = '\0';
  if (!n)
    return;
  xmlChar *t = xmlNodeGetContent(n);
  if (!t)
    return;
  docstore__strlcpy(dst, (const char *)t, cap);
  xmlFree(t);
}

int docstore__s3_xml_is_error(const char *body, size_t len) {
  xmlDocPtr doc = parse_doc(body, len);
  if (!doc)
    return 0;
  int yes = is_elem(xmlDocGetRootElement(doc), "Error");
  xmlFreeDoc(doc);
  return yes;
}

int docstore__s3_xml_parse_error(const char *body, size_t len,
                                 docstore__s3_error *out) {
  memset(out, 0, sizeof(*out));
  xmlDocPtr doc = parse_doc(body, len);
  if (!doc)
    return DOCSTORE_EFORMAT;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!is_elem(root, "Error")) {
    xmlFreeDoc(doc);
    return DOCSTORE_EFORMAT;
  }
  text_copy(child_elem(root, "Code"), out->code, sizeof(out->code));
  text_copy(child_elem(root, "Message"), out->message, sizeof(out->message));
  text_copy(child_elem(root, "RequestId"), out->request_id,
            sizeof(out->request_id));
  text_copy(child_elem(root, "Region"), out->region, sizeof(out->region));
  text_copy(child_elem(root, "Endpoint"), out->endpoint, sizeof(out->endpoint));
  xmlFreeDoc(doc);
  return 0;
}

/* ------------------------------------------------------------ helpers */

int docstore__s3_url_decode(const char *in, char **out) {
  *out = NULL;
  if (!in)
    return DOCSTORE_EINVAL;
  size_t n = strlen(in);
  char *s = docstore__alloc(n + 1);
  if (!s)
    return DOCSTORE_ENOMEM;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (in[i] == '%') {
      /* in[i + 2] is at worst the terminating NUL, which is no hex digit. */
      int hi = i + 1 < n ? docstore__hex_digit((unsigned char)in[i + 1]) : -1;
      int lo = hi >= 0 ? docstore__hex_digit((unsigned char)in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        docstore_free(s);
        return DOCSTORE_EFORMAT;
      }
      s[j++] = (char)(hi * 16 + lo);
      i += 2;
      continue;
    }
    s[j++] = in[i] == '+' ? ' ' : in[i];
  }
  s[j] = '\0';
  if (strlen(s) != j) { /* "%00" would cut the key */
    docstore_free(s);
    return DOCSTORE_EFORMAT;
  }
  *out = s;
  return 0;
}

int64_t docstore__s3_parse_iso8601(const char *s) {
  int64_t t;
  if (!s || docstore__parse_iso8601(docstore__cursor_from_cstr(s), &t) < 0)
    return -1;
  return t;
}

int docstore__s3_parse_u64(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  if (!s || n == 0)
    return DOCSTORE_EFORMAT;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return DOCSTORE_EFORMAT;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return DOCSTORE_EFORMAT;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* 1 when element n's text is `value`; 0 when it is not or n is missing;
 * DOCSTORE_ENOMEM. */
static int text_is(const xmlNode *n, const char *value) {
  char *t = NULL;
  DOCSTORE__GUARD(text_dup(n, &t));
  int yes = t && strcmp(t, value) == 0;
  docstore_free(t);
  return yes;
}

/* What every listing reply starts with: its root element `name`, whether
 * keys are URL-encoded, whether more pages follow.  0 (*doc to free),
 * DOCSTORE_EFORMAT or DOCSTORE_ENOMEM (nothing to free). */
static int list_head(const char *body, size_t len, const char *name,
                     xmlDocPtr *doc, xmlNodePtr *root, int *url_encoded,
                     int *truncated) {
  *doc = parse_doc(body, len);
  if (!*doc)
    return DOCSTORE_EFORMAT;
  *root = xmlDocGetRootElement(*doc);
  int enc = is_elem(*root, name)
                ? text_is(child_elem(*root, "EncodingType"), "url")
                : DOCSTORE_EFORMAT;
  int more = enc >= 0 ? text_is(child_elem(*root, "IsTruncated"), "true") : enc;
  if (more < 0) {
    xmlFreeDoc(*doc);
    *doc = NULL;
    return more;
  }
  *url_encoded = enc;
  *truncated = more;
  return 0;
}

/* The number of root's children called `name`. */
static size_t count_elems(const xmlNode *root, const char *name) {
  size_t n = 0;
  for (xmlNodePtr c = root->children; c; c = c->next)
    n += is_elem(c, name);
  return n;
}

/* --------------------------------------------------------------- list */

void docstore__s3_list_page_free(docstore__s3_list_page *page) {
  if (!page)
    return;
  for (size_t i = 0; i < page->count; i++) {
    docstore_free(page->entries[i].key);
    docstore_free(page->entries[i].etag);
  }
  docstore_free(page->entries);
  docstore_free(page->next_token);
  memset(page, 0, sizeof(*page));
}

static int parse_entry(xmlNodePtr c, int url_encoded,
                       docstore__s3_list_entry *e) {
  char *raw = NULL, *size = NULL, *mtime = NULL;
  int rc = text_dup(child_elem(c, "Key"), &raw);
  if (rc < 0)
    goto done;
  if (!raw) {
    rc = DOCSTORE_EFORMAT;
    goto done;
  }
  if (url_encoded) {
    DOCSTORE__GUARD_GOTO(rc, docstore__s3_url_decode(raw, &e->key), done);
  } else {
    e->key = raw;
    raw = NULL;
  }
  DOCSTORE__GUARD_GOTO(rc, text_dup(child_elem(c, "Size"), &size), done);
  if (!size || docstore__s3_parse_u64(size, strlen(size), &e->size) < 0) {
    rc = DOCSTORE_EFORMAT;
    goto done;
  }
  DOCSTORE__GUARD_GOTO(rc, text_dup(child_elem(c, "LastModified"), &mtime),
                       done);
  int64_t t = mtime ? docstore__s3_parse_iso8601(mtime) : 0;
  e->mtime = t > 0 ? t : 0;
  DOCSTORE__GUARD_GOTO(rc, text_dup(child_elem(c, "ETag"), &e->etag), done);
done:
  docstore_free(raw);
  docstore_free(size);
  docstore_free(mtime);
  return rc;
}

int docstore__s3_xml_parse_list(const char *body, size_t len,
                                docstore__s3_list_page *out) {
  xmlDocPtr doc;
  xmlNodePtr root;
  int url_encoded;
  memset(out, 0, sizeof(*out));
  int rc = list_head(body, len, "ListBucketResult", &doc, &root, &url_encoded,
                     &out->truncated);
  if (rc < 0)
    return rc;

  DOCSTORE__GUARD_GOTO(
      rc, text_dup(child_elem(root, "NextContinuationToken"), &out->next_token),
      done);
  if (out->truncated && (!out->next_token || !out->next_token[0])) {
    rc = DOCSTORE_EFORMAT;
    goto done;
  }

  size_t n = count_elems(root, "Contents");
  if (n) {
    out->entries = docstore__alloc(n * sizeof(*out->entries));
    if (!out->entries) {
      rc = DOCSTORE_ENOMEM;
      goto done;
    }
  }
  /* n of them: the bound is for the analyzer, which does not see that
   * the two walks meet the same elements. */
  for (xmlNodePtr c = root->children; c && out->count < n; c = c->next) {
    if (!is_elem(c, "Contents"))
      continue;
    docstore__s3_list_entry *e = &out->entries[out->count++];
    DOCSTORE__GUARD_GOTO(rc, parse_entry(c, url_encoded, e), done);
  }

done:
  xmlFreeDoc(doc);
  if (rc < 0)
    docstore__s3_list_page_free(out);
  return rc;
}

/* ------------------------------------------- incomplete multipart uploads */

void docstore__s3_upload_page_free(docstore__s3_upload_page *page) {
  if (!page)
    return;
  for (size_t i = 0; i < page->count; i++) {
    docstore_free(page->entries[i].key);
    docstore_free(page->entries[i].upload_id);
  }
  docstore_free(page->entries);
  docstore_free(page->next_key_marker);
  docstore_free(page->next_upload_id_marker);
  memset(page, 0, sizeof(*page));
}

/* A text that names a key: decoded when the reply says EncodingType=url.
 * *out NULL when the element is missing. */
static int key_text(xmlNodePtr n, int url_encoded, char **out) {
  char *raw = NULL;
  *out = NULL;
  DOCSTORE__GUARD(text_dup(n, &raw));
  if (!raw || !url_encoded) {
    *out = raw;
    return 0;
  }
  int rc = docstore__s3_url_decode(raw, out);
  docstore_free(raw);
  return rc;
}

static int parse_upload(xmlNodePtr c, int url_encoded,
                        docstore__s3_upload_entry *e) {
  char *date = NULL;
  int rc = key_text(child_elem(c, "Key"), url_encoded, &e->key);
  if (rc == 0)
    rc = text_dup(child_elem(c, "UploadId"), &e->upload_id);
  if (rc == 0)
    rc = text_dup(child_elem(c, "Initiated"), &date);
  if (rc == 0) {
    /* An upload is named by its key and id; its age decides whether it
     * is stale: all three are needed. */
    e->initiated = date ? docstore__s3_parse_iso8601(date) : -1;
    if (!e->key || !e->key[0] || !e->upload_id || !e->upload_id[0] ||
        e->initiated < 0)
      rc = DOCSTORE_EFORMAT;
  }
  docstore_free(date);
  return rc;
}

int docstore__s3_xml_parse_uploads(const char *body, size_t len,
                                   docstore__s3_upload_page *out) {
  xmlDocPtr doc;
  xmlNodePtr root;
  int url_encoded;
  memset(out, 0, sizeof(*out));
  int rc = list_head(body, len, "ListMultipartUploadsResult", &doc, &root,
                     &url_encoded, &out->truncated);
  if (rc < 0)
    return rc;

  DOCSTORE__GUARD_GOTO(rc,
                       key_text(child_elem(root, "NextKeyMarker"), url_encoded,
                                &out->next_key_marker),
                       done);
  DOCSTORE__GUARD_GOTO(rc,
                       text_dup(child_elem(root, "NextUploadIdMarker"),
                                &out->next_upload_id_marker),
                       done);
  /* A truncated page must say where the next one starts, or the listing
   * would ask for the first page again. */
  if (out->truncated && (!out->next_key_marker || !out->next_key_marker[0])) {
    rc = DOCSTORE_EFORMAT;
    goto done;
  }

  size_t n = count_elems(root, "Upload");
  if (n > DOCSTORE__S3_MAX_UPLOADS_PAGE) {
    rc = DOCSTORE_EFORMAT; /* more than any page may hold */
    goto done;
  }
  if (n) {
    out->entries = docstore__alloc(n * sizeof(*out->entries));
    if (!out->entries) {
      rc = DOCSTORE_ENOMEM;
      goto done;
    }
  }
  /* n of them: the bound is for the analyzer, which does not see that
   * the two walks meet the same elements. */
  for (xmlNodePtr c = root->children; c && out->count < n; c = c->next) {
    if (!is_elem(c, "Upload"))
      continue;
    docstore__s3_upload_entry *e = &out->entries[out->count++];
    DOCSTORE__GUARD_GOTO(rc, parse_upload(c, url_encoded, e), done);
  }

done:
  xmlFreeDoc(doc);
  if (rc < 0)
    docstore__s3_upload_page_free(out);
  return rc;
}

/* ----------------------------------------------------------- multipart */

int docstore__s3_xml_parse_upload_id(const char *body, size_t len, char **out) {
  *out = NULL;
  xmlDocPtr doc = parse_doc(body, len);
  if (!doc)
    return DOCSTORE_EFORMAT;
  int rc = DOCSTORE_EFORMAT;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (is_elem(root, "InitiateMultipartUploadResult")) {
    rc = text_dup(child_elem(root, "UploadId"), out);
    if (rc == 0 && (!*out || !**out)) {
      docstore_free(*out);
      *out = NULL;
      rc = DOCSTORE_EFORMAT;
    }
  }
  xmlFreeDoc(doc);
  return rc;
}

static int xml_escape_append(docstore__buf *b, const char *s) {
  for (; *s; s++) {
    int rc;
    switch (*s) {
    case '&':
      rc = docstore__buf_puts(b, "&amp;");
      break;
    case '<':
      rc = docstore__buf_puts(b, "&lt;");
      break;
    case '>':
      rc = docstore__buf_puts(b, "&gt;");
      break;
    case '"':
      rc = docstore__buf_puts(b, "&quot;");
      break;
    default:
      rc = docstore__buf_append(b, s, 1);
    }
    DOCSTORE__GUARD(rc);
  }
  return 0;
}

int docstore__s3_xml_complete_body(docstore__buf *out, char *const *etags,
                                   size_t count) {
  return docstore__s3_xml_complete_body_sums(out, etags, NULL, NULL, count);
}

int docstore__s3_xml_complete_body_sums(docstore__buf *out, char *const *etags,
                                        char *const *sums, const char *tag,
                                        size_t count) {
  if (sums && (!tag || !*tag))
    return DOCSTORE_EINVAL;
  DOCSTORE__GUARD(docstore__buf_puts(
      out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<CompleteMultipartUpload "
           "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"));
  for (size_t i = 0; i < count; i++) {
    if (!etags[i] || (sums && !sums[i]))
      return DOCSTORE_EINVAL;
    DOCSTORE__GUARD(docstore__buf_printf(
        out, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1));
    DOCSTORE__GUARD(xml_escape_append(out, etags[i]));
    DOCSTORE__GUARD(docstore__buf_puts(out, "</ETag>"));
    if (sums) {
      DOCSTORE__GUARD(docstore__buf_printf(out, "<Checksum%s>", tag));
      DOCSTORE__GUARD(xml_escape_append(out, sums[i]));
      DOCSTORE__GUARD(docstore__buf_printf(out, "</Checksum%s>", tag));
    }
    DOCSTORE__GUARD(docstore__buf_puts(out, "</Part>"));
  }
  return docstore__buf_puts(out, "</CompleteMultipartUpload>");
}

/* ------------------------------------------------------ error mapping */

/* What an error reply means.  The first row whose S3 code matches wins;
 * a reply whose code is in no row (or that has none: HEAD) is matched by
 * its status, in the order of the rows. */
enum {
  HINT_NONE,
  HINT_BUCKET,      /* the bucket is missing */
  HINT_REGION,      /* the bucket is elsewhere */
  HINT_CLOCK,       /* clock skew */
  HINT_KEY_ID,      /* unknown access key */
  HINT_SECRET,      /* wrong secret */
  HINT_ACCESS,      /* denied */
  HINT_DIGEST,      /* a body's checksum */
  HINT_BUCKET_NAME, /* a bad bucket name */
  HINT_CHANGED      /* If-Match failed */
};

/* Row conditions for status rows. */
#define ON_NO_CODE 1u      /* only when the reply names no S3 code */
#define ON_KEY 2u          /* only for a request on a key */
#define ON_BUCKET 4u       /* only for a request on the bucket */
#define ON_REGION_KNOWN 8u /* only when the bucket's region is known */

static const struct s3_code_rule {
  const char *s3_code;
  int code;
  int hint;
} code_rules[] = {
    {"NoSuchKey", DOCSTORE_ENOTFOUND, HINT_NONE},
    {"NoSuchBucket", DOCSTORE_ENOBUCKET, HINT_BUCKET},
    {"PermanentRedirect", DOCSTORE_ECONFIG, HINT_REGION},
    {"AuthorizationHeaderMalformed", DOCSTORE_ECONFIG, HINT_REGION},
    {"RequestTimeTooSkewed", DOCSTORE_ESERVER, HINT_CLOCK},
    {"InvalidAccessKeyId", DOCSTORE_EACCESS, HINT_KEY_ID},
    {"SignatureDoesNotMatch", DOCSTORE_EACCESS, HINT_SECRET},
    {"AccessDenied", DOCSTORE_EACCESS, HINT_ACCESS},
    {"AllAccessDisabled", DOCSTORE_EACCESS, HINT_ACCESS},
    {"InvalidToken", DOCSTORE_EACCESS, HINT_ACCESS},
    {"ExpiredToken", DOCSTORE_EACCESS, HINT_ACCESS},
    {"InvalidSecurity", DOCSTORE_EACCESS, HINT_ACCESS},
    {"BadDigest", DOCSTORE_EINTEGRITY, HINT_DIGEST},
    {"InvalidDigest", DOCSTORE_EINTEGRITY, HINT_DIGEST},
    {"XAmzContentSHA256Mismatch", DOCSTORE_EINTEGRITY, HINT_DIGEST},
    {"EntityTooLarge", DOCSTORE_ETOOBIG, HINT_NONE},
    {"InvalidBucketName", DOCSTORE_ECONFIG, HINT_BUCKET_NAME},
    {"InvalidRange", DOCSTORE_EINVAL, HINT_NONE},
    {"PreconditionFailed", DOCSTORE_ESERVER, HINT_CHANGED},
};

static const struct s3_status_rule {
  long status;
  unsigned int when; /* ON_* */
  int code;
  int hint;
} status_rules[] = {
    {404, ON_NO_CODE | ON_KEY, DOCSTORE_ENOTFOUND, HINT_NONE},
    {404, ON_NO_CODE | ON_BUCKET, DOCSTORE_ENOBUCKET, HINT_BUCKET},
    {301, 0, DOCSTORE_ECONFIG, HINT_REGION},
    {400, ON_NO_CODE | ON_REGION_KNOWN, DOCSTORE_ECONFIG, HINT_REGION},
    {403, ON_NO_CODE, DOCSTORE_EACCESS, HINT_ACCESS},
    {416, 0, DOCSTORE_EINVAL, HINT_NONE},
    {412, 0, DOCSTORE_ESERVER, HINT_CHANGED},
};

static int status_rule_applies(const struct s3_status_rule *r, long status,
                               const docstore__s3_error *e,
                               const docstore__s3_context *ctx,
                               const char *region_hint) {
  return r->status == status && !((r->when & ON_NO_CODE) && e) &&
         !((r->when & ON_KEY) && !ctx->key) &&
         !((r->when & ON_BUCKET) && ctx->key) &&
         !((r->when & ON_REGION_KNOWN) && !region_hint);
}

static void hint_text(char *hint, size_t cap, int kind,
                      const docstore__s3_context *ctx,
                      const docstore__s3_error *e, const char *region_hint) {
  hint[0] = '\0';
  switch (kind) {
  case HINT_BUCKET:
    snprintf(hint, cap,
             "ensure bucket '%s' exists and is accessible with the "
             "provided credentials (S3_BUCKET, S3_ENDPOINT_URL)",
             ctx->bucket);
    break;
  case HINT_REGION:
    if (region_hint && strcmp(region_hint, ctx->region) != 0)
      snprintf(hint, cap,
               "bucket '%s' is in region '%s', not '%s': set S3_REGION=%s",
               ctx->bucket, region_hint, ctx->region, region_hint);
    else if (e && e->endpoint[0])
      snprintf(hint, cap,
               "bucket '%s' must be addressed through endpoint '%.100s': check "
               "S3_REGION and S3_ENDPOINT_URL",
               ctx->bucket, e->endpoint);
    else
      snprintf(hint, cap,
               "the bucket is in another region: check S3_REGION (now '%s') "
               "and S3_ENDPOINT_URL",
               ctx->region);
    break;
  case HINT_CLOCK:
    snprintf(hint, cap,
             "this machine's clock differs from the server's by more than "
             "15 minutes: fix the clock (NTP)");
    break;
  case HINT_KEY_ID:
    snprintf(hint, cap,
             "check S3_ACCESS_KEY, and that S3_ENDPOINT_URL (%s) is the "
             "service the key belongs to",
             ctx->endpoint);
    break;
  case HINT_SECRET:
    snprintf(hint, cap,
             "check S3_SECRET_KEY for the access key, S3_REGION (now '%s') "
             "and S3_ENDPOINT_URL (%s)",
             ctx->region, ctx->endpoint);
    break;
  case HINT_ACCESS:
    snprintf(hint, cap,
             "check credentials (S3_ACCESS_KEY, S3_SECRET_KEY), the IAM "
             "permissions for bucket '%s', S3_REGION (now '%s') and "
             "S3_ENDPOINT_URL (%s)",
             ctx->bucket, ctx->region, ctx->endpoint);
    break;
  case HINT_DIGEST:
    snprintf(hint, cap,
             "the body's checksum did not match: data was corrupted in "
             "transit");
    break;
  case HINT_BUCKET_NAME:
    snprintf(hint, cap, "check S3_BUCKET ('%s')", ctx->bucket);
    break;
  case HINT_CHANGED:
    snprintf(hint, cap, "the object changed while it was read");
    break;
  default:
    break;
  }
}

/* A key shown in a message: cut so that the rest of the message fits. */
static void show_key(char *dst, size_t cap, const char *key) {
  size_t n = strlen(key);
  if (n < cap) {
    memcpy(dst, key, n + 1);
    return;
  }
  snprintf(dst, cap, "%.*s...", (int)(cap - 4), key);
}

int docstore__s3_map_error(docstore__err *err, const docstore__s3_context *ctx,
                           long status, const docstore__s3_error *e,
                           const char *bucket_region,
                           const char *header_request_id) {
  char hint[400];
  const char *region_hint =
      e && e->region[0]
          ? e->region
          : (bucket_region && bucket_region[0] ? bucket_region : NULL);
  if (e && !e->code[0])
    e = NULL;

  int code = DOCSTORE_ESERVER, kind = HINT_NONE, found = 0;
  for (size_t i = 0;
       e && !found && i < sizeof(code_rules) / sizeof(code_rules[0]); i++)
    if (strcmp(e->code, code_rules[i].s3_code) == 0) {
      code = code_rules[i].code;
      kind = code_rules[i].hint;
      found = 1;
    }
  for (size_t i = 0;
       !found && i < sizeof(status_rules) / sizeof(status_rules[0]); i++)
    if (status_rule_applies(&status_rules[i], status, e, ctx, region_hint)) {
      code = status_rules[i].code;
      kind = status_rules[i].hint;
      found = 1;
    }
  hint_text(hint, sizeof(hint), kind, ctx, e, region_hint);

  const char *rid = e && e->request_id[0]
                        ? e->request_id
                        : (header_request_id ? header_request_id : "");
  char what[160];
  if (ctx->key) {
    char shown[120];
    show_key(shown, sizeof(shown), ctx->key);
    snprintf(what, sizeof(what), "'%s'", shown);
  } else {
    snprintf(what, sizeof(what), "bucket '%s'", ctx->bucket);
  }
  return docstore__err_set(err, code, "S3 %s %s: HTTP %ld %s%s%s%s%s%s%s%s%s",
                           ctx->method, what, status,
                           e ? e->code : docstore_strerror(code),
                           e && e->message[0] ? ": " : "", e ? e->message : "",
                           rid[0] ? " (RequestId: " : "", rid,
                           rid[0] ? ")" : "", hint[0] ? " - " : "", hint, "");
}
