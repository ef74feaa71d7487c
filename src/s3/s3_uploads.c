/*
 * libdocstore - S3 incomplete multipart uploads: list them by age, abort
 * the stale ones (docstore_s3_incomplete_uploads), count them for the
 * check.
 * SPDX-License-Identifier: Apache-2.0
 *
 * A multipart upload that is neither completed nor aborted keeps its parts
 * (and bills them) until someone aborts it; a writer killed mid-upload, or
 * whose abort failed, leaves one.  S3 cannot tell a live upload from a
 * dead one: only its age can (docs/SECURITY.md, "S3: incomplete uploads").
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "provider/provider_internal.h"
#include "s3/s3_internal.h"
#include "util/date.h"

/* Encodes a query value (RFC 3986); *out library-owned. */
static int query_value(const char *v, char **out) {
  return docstore__sigv4_uri_encode(v, strlen(v), 0, out);
}

/* Where a listing goes next: the pair of markers, raw (as the server sent
 * them) and encoded for the query. */
typedef struct markers {
  char *key, *id;      /* raw; NULL: none */
  char *key_q, *id_q;  /* encoded */
  unsigned long pages; /* pages read */
} markers;

static void markers_free(markers *m) {
  docstore_free(m->key);
  docstore_free(m->id);
  docstore_free(m->key_q);
  docstore_free(m->id_q);
  memset(m, 0, sizeof(*m));
}

static int same(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A listing must move on: a truncated page has uploads and markers other
 * than the ones just used, and every upload is under the prefix asked
 * for (a server that breaks this would make the listing loop, or name an
 * upload this call was not asked to touch). */
static int page_check(const docstore__s3 *s3,
                      const docstore__s3_upload_page *pg, const markers *used,
                      const char *prefix, docstore__err *err) {
  if (pg->truncated &&
      (pg->count == 0 ||
       (used->pages > 0 && same(pg->next_key_marker, used->key) &&
        same(pg->next_upload_id_marker, used->id))))
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "S3 ListMultipartUploads on bucket '%s': the "
                             "listing makes no progress (a truncated page "
                             "that is empty or repeats its markers)",
                             s3->bucket);
  size_t plen = strlen(prefix);
  for (size_t i = 0; i < pg->count; i++)
    if (strncmp(pg->entries[i].key, prefix, plen) != 0)
      return docstore__err_set(err, DOCSTORE_EFORMAT,
                               "S3 ListMultipartUploads on bucket '%s': the "
                               "server listed an upload of '%.200s', outside "
                               "the prefix '%.200s'",
                               s3->bucket, pg->entries[i].key, prefix);
  return 0;
}

static int list_page(docstore__s3 *s3, const char *prefix_q, const markers *m,
                     docstore__s3_upload_page *pg, docstore__err *err) {
  char max[32] = "";
  if (s3->tuning.list_max_keys)
    snprintf(max, sizeof(max), "&max-uploads=%u", s3->tuning.list_max_keys);
  char *query = docstore__sprintf(
      "uploads&encoding-type=url&prefix=%s%s%s%s%s%s", prefix_q, max,
      m->key_q ? "&key-marker=" : "", m->key_q ? m->key_q : "",
      m->id_q ? "&upload-id-marker=" : "", m->id_q ? m->id_q : "");
  if (!query)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_LIST;
  req.method = "GET";
  req.query = query;
  int rc = docstore__s3_request(s3, &req, &resp, err);
  if (rc == 0) {
    rc = docstore__s3_xml_parse_uploads((const char *)resp.body.data,
                                        resp.body.len, pg);
    if (rc < 0)
      docstore__err_set(
          err, rc, "S3 ListMultipartUploads on bucket '%s': %s", s3->bucket,
          rc == DOCSTORE_ENOMEM ? "out of memory" : "malformed reply");
  }
  docstore__s3_resp_free(&resp);
  docstore_free(query);
  return rc;
}

/* AbortMultipartUpload.  *gone: 1 when the server no longer knew the
 * upload (completed or aborted meanwhile). */
static int abort_upload(docstore__s3 *s3, const docstore__s3_upload_entry *e,
                        docstore__err *err) {
  char *id_q = NULL, *query = NULL;
  int rc = query_value(e->upload_id, &id_q);
  if (rc == 0 && !(query = docstore__sprintf("uploadId=%s", id_q)))
    rc = DOCSTORE_ENOMEM;
  if (rc < 0) {
    docstore_free(id_q);
    return docstore__err_set(err, rc, "out of memory");
  }
  docstore__s3_req req = {0};
  docstore__s3_resp resp;
  req.op = DOCSTORE_OP_DELETE;
  req.method = "DELETE";
  req.key = e->key;
  req.query = query;
  rc = docstore__s3_request(s3, &req, &resp, err);
  if (rc < 0 && (strcmp(resp.s3_code, "NoSuchUpload") == 0 ||
                 (resp.status == 404 && !resp.s3_code[0]))) {
    rc = 0; /* already gone: what we wanted */
    docstore__err_clear(err);
  }
  if (rc < 0)
    docstore__err_prefix(err, "cannot abort the upload %.100s of '%.200s'",
                         e->upload_id, e->key);
  else
    docstore__log(DOCSTORE_LOG_INFO,
                  "S3: aborted the incomplete upload %.100s of '%.200s' "
                  "(started %lld)",
                  e->upload_id, e->key, (long long)e->initiated);
  docstore__s3_resp_free(&resp);
  docstore_free(query);
  docstore_free(id_q);
  return rc;
}

int docstore__s3_uploads(docstore__s3 *s3, const char *prefix,
                         unsigned int flags, uint64_t min_age_seconds,
                         docstore_upload_cb cb, void *payload,
                         docstore__err *err) {
  docstore__s3_upload_page pg;
  markers m;
  char *prefix_q = NULL;
  int rc;
  memset(&pg, 0, sizeof(pg));
  memset(&m, 0, sizeof(m));
  if (!prefix)
    prefix = "";
  if (min_age_seconds == DOCSTORE_UPLOAD_AGE_CONFIGURED)
    min_age_seconds = s3->stale_upload_seconds;
  /* The precise clock, as docstore_local_temporaries(): an upload's date
   * is the server's, and requests are refused past 15 minutes of skew. */
  struct timespec ts;
  int64_t now =
      clock_gettime(CLOCK_REALTIME, &ts) == 0 ? (int64_t)ts.tv_sec : 0;
  int64_t before = min_age_seconds == 0 ? INT64_MAX
                   : min_age_seconds > (uint64_t)now
                       ? INT64_MIN
                       : now - (int64_t)min_age_seconds;

  if (query_value(prefix, &prefix_q) < 0) {
    rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    goto done;
  }
  for (;;) {
    DOCSTORE__GUARD_GOTO(rc, list_page(s3, prefix_q, &m, &pg, err), done);
    DOCSTORE__GUARD_GOTO(rc, page_check(s3, &pg, &m, prefix, err), done);
    for (size_t i = 0; i < pg.count; i++) {
      const docstore__s3_upload_entry *e = &pg.entries[i];
      int state =
          e->initiated <= before ? DOCSTORE_TEMP_STALE : DOCSTORE_TEMP_RECENT;
      if (state == DOCSTORE_TEMP_STALE && (flags & DOCSTORE_UPLOAD_ABORT)) {
        DOCSTORE__GUARD_GOTO(rc, abort_upload(s3, e, err), done);
        state = DOCSTORE_TEMP_REMOVED;
      }
      docstore_upload_info info = {DOCSTORE_UPLOAD_INFO_VERSION, e->key,
                                   e->upload_id, e->initiated, state};
      int c = cb ? cb(payload, &info) : 0;
      if (c != 0) {
        rc = c < 0 ? c : DOCSTORE_ECANCELED;
        docstore__err_set(err, rc, "stopped by the callback");
        goto done;
      }
    }
    if (!pg.truncated) {
      rc = 0;
      goto done;
    }
    /* The markers of the next page: raw (to compare) and encoded. */
    markers next;
    memset(&next, 0, sizeof(next));
    next.pages = m.pages + 1;
    next.key = pg.next_key_marker;
    next.id = pg.next_upload_id_marker;
    pg.next_key_marker = pg.next_upload_id_marker = NULL;
    if (query_value(next.key, &next.key_q) < 0 ||
        (next.id && query_value(next.id, &next.id_q) < 0)) {
      markers_free(&next);
      rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
      goto done;
    }
    markers_free(&m);
    m = next;
    docstore__s3_upload_page_free(&pg);
  }
done:
  docstore__s3_upload_page_free(&pg);
  markers_free(&m);
  docstore_free(prefix_q);
  return rc;
}

int docstore_s3_incomplete_uploads(docstore_provider *p, const char *prefix,
                                   unsigned int flags, uint64_t min_age_seconds,
                                   docstore_upload_cb cb, void *payload) {
  docstore__err err;
  docstore__err_clear(&err);
  if (!p)
    return docstore__err_set(&err, DOCSTORE_EINVAL,
                             "uploads: provider is NULL");
  docstore__s3 *s3 = docstore__provider_payload_of(p, docstore__s3_ops());
  int rc;
  if (!s3)
    rc = docstore__err_set(&err, DOCSTORE_EUNSUPPORTED,
                           "provider %s has no multipart uploads (S3 only)",
                           docstore_provider_name(p));
  else if (flags & ~DOCSTORE_UPLOAD_ABORT)
    rc = docstore__err_set(&err, DOCSTORE_EINVAL, "unknown flags 0x%x",
                           flags & ~DOCSTORE_UPLOAD_ABORT);
  else if (prefix && docstore__prefix_check(prefix, &err) < 0)
    rc = DOCSTORE_EINVAL;
  else
    rc = docstore__s3_uploads(s3, prefix, flags, min_age_seconds, cb, payload,
                              &err);
  return docstore__provider_finish(p, "uploads", rc, &err);
}

/* ------------------------------------------------------------ check */

/* Stale uploads named in the check's report; the rest are counted, up to
 * CHECK_MAX uploads (ten pages): a check stays one quick look, whatever
 * the bucket holds. */
#define CHECK_SHOWN 10
#define CHECK_MAX 10000

typedef struct check_tally {
  unsigned long recent, stale;
  int capped; /* stopped at CHECK_MAX */
  docstore_sink_cb sink;
  void *sp;
} check_tally;

static int check_one(void *payload, const docstore_upload_info *info) {
  check_tally *t = payload;
  if (t->recent + t->stale >= CHECK_MAX) {
    t->capped = 1;
    return 1;
  }
  if (info->state != DOCSTORE_TEMP_STALE) {
    t->recent++;
    return 0;
  }
  if (t->stale++ < CHECK_SHOWN) {
    char date[DOCSTORE__ISO8601_LEN];
    if (docstore__format_iso8601(info->initiated, date) < 0)
      docstore__strlcpy(date, "?", sizeof(date));
    docstore__s3_report(t->sink, t->sp,
                        "  stale upload: '%.300s' begun %s (upload id %.100s)",
                        info->key, date, info->upload_id);
  }
  return 0;
}

void docstore__s3_check_uploads(docstore__s3 *s3, docstore_sink_cb sink,
                                void *sp) {
  docstore__err err;
  check_tally t = {0, 0, 0, sink, sp};
  docstore__err_clear(&err);
  /* The stale ones are reported as they come, the summary after them. */
  int rc = docstore__s3_uploads(s3, "", 0, s3->stale_upload_seconds, check_one,
                                &t, &err);
  if (rc < 0 && !t.capped) {
    docstore__s3_report(sink, sp, "incomplete uploads: not checked: %s",
                        err.msg);
    return;
  }
  const char *least = t.capped ? "at least " : "";
  if (t.stale == 0) {
    docstore__s3_report(sink, sp,
                        "incomplete uploads: OK (none older than %u s%s; %s%lu "
                        "more recent)",
                        s3->stale_upload_seconds,
                        t.capped ? " among the first 10000" : "", least,
                        t.recent);
    return;
  }
  if (t.stale > CHECK_SHOWN)
    docstore__s3_report(sink, sp, "  ... and %s%lu more", least,
                        t.stale - CHECK_SHOWN);
  docstore__s3_report(
      sink, sp,
      "incomplete uploads: WARNING: %s%lu older than %u s hold storage (%s%lu "
      "more recent); abort them with `docstore check --abort-stale-uploads`, "
      "or let a lifecycle rule do it (docs/SECURITY.md, \"S3: incomplete "
      "uploads\")",
      least, t.stale, s3->stale_upload_seconds, least, t.recent);
}
