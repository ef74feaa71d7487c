/*
 * Unit tests: the streaming writer and reader of the service
 * (src/service/stream.c), over the local provider in a temporary folder
 * (streaming natively) and over the fake provider (a version 1 custom
 * provider: the buffering adapter), and the whole-buffer calls that wrap
 * them.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "docstore/docstore.h"
#include "helpers/crypto_helpers.h"
#include "helpers/fake_provider.h"

static char tmpdir[64];
static int fixture_count;

/* ------------------------------------------------------- fixtures */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/docstore-stream-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return th_group_teardown(state);
}

typedef struct fixture {
  docstore_service *svc;
  fake_provider *fp; /* NULL over the local provider */
  char root[PATH_MAX];
} fixture;

/* A service over key 0 (public and private) with these envelope options. */
static fixture *fixture_new(int fake, unsigned int version, int level,
                            unsigned int segment_size) {
  fixture *f = calloc(1, sizeof(*f));
  docstore_provider *p = NULL;
  assert_non_null(f);
  snprintf(f->root, sizeof(f->root), "%s/root%d", tmpdir, fixture_count++);
  if (fake) {
    assert_int_equal(fake_provider_new(&p, &f->fp, 0), 0);
  } else {
    docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
    lo.root = f->root;
    lo.fsync = 0;
    assert_int_equal(docstore_local_provider_new(&p, &lo, NULL, 0), 0);
  }
  docstore_service_options o = DOCSTORE_SERVICE_OPTIONS_INIT;
  o.envelope_version = version;
  o.compression_level = level;
  o.segment_size = segment_size;
  char errbuf[256];
  assert_int_equal(docstore_service_new(&f->svc, p, th_keyring(1, 1), &o,
                                        errbuf, sizeof(errbuf)),
                   0);
  return f;
}

static int setup_local(void **state) {
  *state = fixture_new(0, 0, 0, 0);
  return 0;
}

/* 4 KiB segments: ranges cross many of them with small documents. */
static int setup_local_small_segments(void **state) {
  *state = fixture_new(0, 0, 0, 4096);
  return 0;
}

static int setup_fake(void **state) {
  *state = fixture_new(1, 0, 0, 4096);
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  docstore_service_free(f->svc);
  free(f);
  return 0;
}

/* ------------------------------------------------------- helpers */

/* Regular files below a folder (temporaries included). */
static int count_cb_n;
static int count_cb(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)p, (void)st, (void)ftw;
  if (flag == FTW_F)
    count_cb_n++;
  return 0;
}

static int files_below(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0)
    return 0;
  count_cb_n = 0;
  assert_int_equal(nftw(dir, count_cb, 16, FTW_PHYS), 0);
  return count_cb_n;
}

/* Write data in chunks of the sizes given (cycled), commit. */
static char *write_chunked(docstore_service *svc, const char *file_id,
                           const char *user_id, const uint8_t *data, size_t len,
                           const size_t *chunks, size_t nchunks,
                           const docstore_write_options *o) {
  docstore_writer *w = NULL;
  char *path = NULL;
  assert_int_equal(
      docstore_writer_begin(&w, svc, file_id, "Report 2026.PDF", user_id, o),
      0);
  size_t off = 0;
  for (size_t i = 0; off < len; i++) {
    size_t n = chunks[i % nchunks];
    if (n > len - off)
      n = len - off;
    assert_int_equal(docstore_writer_write(w, data + off, n), 0);
    off += n;
  }
  assert_int_equal(docstore_writer_commit(w, &path), 0);
  assert_non_null(path);
  uint64_t plain = 0, stored = 0;
  docstore_writer_stats(w, &plain, &stored);
  assert_int_equal(plain, len);
  assert_true(stored > 0); /* less than len when compressed */
  docstore_writer_free(w);
  return path;
}

static char *write_all(docstore_service *svc, const uint8_t *data, size_t len,
                       const docstore_write_options *o) {
  static const size_t one[] = {SIZE_MAX};
  return write_chunked(svc, "42", "123", data, len, one, 1, o);
}

/* Read a whole (range of a) document in reads of at most cap bytes;
 * returns the code of the first failure, or 0; *out (malloc) and *out_len
 * receive what was released. */
static int read_range(docstore_service *svc, const char *path,
                      const docstore_doc_id *expect,
                      const docstore_read_options *o, size_t cap, uint8_t **out,
                      size_t *out_len) {
  docstore_reader *r = NULL;
  size_t len = 0, room = 1 << 16;
  uint8_t *all = malloc(room), *buf = malloc(cap);
  int rc;
  assert_non_null(all);
  assert_non_null(buf);
  rc = docstore_reader_open(&r, svc, path, expect, o);
  if (rc == 0) {
    for (;;) {
      size_t got = 99;
      rc = docstore_reader_read(r, buf, cap, &got);
      if (rc < 0) {
        assert_int_equal(got, 0);
        /* dead for good: the same code again */
        assert_int_equal(docstore_reader_read(r, buf, cap, &got), rc);
        break;
      }
      if (got == 0)
        break;
      assert_true(got <= cap);
      if (len + got > room) {
        room = 2 * (len + got);
        all = realloc(all, room);
        assert_non_null(all);
      }
      memcpy(all + len, buf, got);
      len += got;
    }
    if (rc == 0) { /* the end stays the end */
      size_t got = 99;
      assert_int_equal(docstore_reader_read(r, buf, cap, &got), 0);
      assert_int_equal(got, 0);
    }
    docstore_reader_close(r);
  } else {
    assert_null(r);
  }
  free(buf);
  *out = all;
  *out_len = len;
  return rc;
}

static int read_all(docstore_service *svc, const char *path,
                    const docstore_doc_id *expect, size_t cap, uint8_t **out,
                    size_t *out_len) {
  return read_range(svc, path, expect, NULL, cap, out, out_len);
}

static void assert_reads_back(docstore_service *svc, const char *path,
                              const uint8_t *data, size_t len, size_t cap) {
  docstore_doc_id id = {"42", "123"};
  uint8_t *back = NULL;
  size_t back_len = 0;
  assert_int_equal(read_all(svc, path, &id, cap, &back, &back_len), 0);
  assert_int_equal(back_len, len);
  if (len)
    assert_memory_equal(back, data, len);
  free(back);
}

static docstore_op_stats stats(docstore_service *svc, int op) {
  docstore_op_stats s = {DOCSTORE_OP_STATS_VERSION, 0, 0, 0, 0, 0, 0};
  assert_int_equal(docstore_service_stats(svc, &s, op), 0);
  return s;
}

/* The stored object's bytes (malloc). */
static uint8_t *stored_object(fixture *f, const char *path, size_t *len) {
  char *data = NULL;
  size_t n = 0;
  assert_int_equal(docstore_service_retrieve_encrypted(f->svc, &data, &n, path),
                   0);
  uint8_t *copy = malloc(n + 1);
  assert_non_null(copy);
  memcpy(copy, data, n);
  docstore_free(data);
  *len = n;
  return copy;
}

/* Replace the stored object with these bytes. */
static void replace_object(fixture *f, const char *path, const uint8_t *data,
                           size_t len) {
  if (f->fp) {
    assert_int_equal(fake_provider_seed(f->fp, path, data, len), 0);
    return;
  }
  char full[PATH_MAX * 2];
  snprintf(full, sizeof(full), "%s/%s", f->root, path);
  FILE *fh = fopen(full, "wb");
  assert_non_null(fh);
  assert_int_equal(fwrite(data, 1, len, fh), len);
  assert_int_equal(fclose(fh), 0);
}

static int object_exists(fixture *f, const char *path) {
  int exists = -1;
  assert_int_equal(docstore_service_exists(f->svc, &exists, NULL, path), 0);
  return exists;
}

/* ------------------------------------------------------- tests */

static void test_options_init(void **state) {
  (void)state;
  docstore_write_options w;
  docstore_read_options r;
  memset(&w, 0x55, sizeof(w));
  memset(&r, 0x55, sizeof(r));
  assert_int_equal(docstore_write_options_init(&w, 1), 0);
  assert_int_equal(w.version, DOCSTORE_WRITE_OPTIONS_VERSION);
  assert_null(w.progress);
  assert_int_equal(w.no_clobber, 0);
  assert_int_equal(w.envelope_version, 0);
  assert_int_equal(w.compression_level, -1);
  assert_null(w.recipients);
  assert_int_equal(docstore_read_options_init(&r, 1), 0);
  assert_int_equal(r.offset, 0);
  assert_int_equal(r.length, 0);
  assert_null(r.progress);
  assert_int_equal(docstore_write_options_init(&w, 2), DOCSTORE_EINVAL);
  assert_int_equal(docstore_write_options_init(NULL, 1), DOCSTORE_EINVAL);
  assert_int_equal(docstore_read_options_init(&r, 0), DOCSTORE_EINVAL);
  assert_int_equal(docstore_read_options_init(NULL, 1), DOCSTORE_EINVAL);
}

static void test_bad_arguments(void **state) {
  fixture *f = *state;
  docstore_writer *w = (docstore_writer *)0x1;
  docstore_reader *r = (docstore_reader *)0x1;
  docstore_write_options wo = DOCSTORE_WRITE_OPTIONS_INIT;
  docstore_read_options ro = DOCSTORE_READ_OPTIONS_INIT;
  assert_int_equal(docstore_writer_begin(&w, NULL, "1", "a", NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_writer_begin(NULL, f->svc, "1", "a", NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_writer_begin(&w, f->svc, "../1", "a", NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_null(w);
  assert_non_null(strstr(docstore_last_errmsg(), "file_id"));
  wo.version = 9;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "1", "a", NULL, &wo),
                   DOCSTORE_EINVAL);
  wo.version = DOCSTORE_WRITE_OPTIONS_VERSION;
  wo.envelope_version = 3;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "1", "a", NULL, &wo),
                   DOCSTORE_EINVAL);
  assert_non_null(strstr(docstore_service_errmsg(f->svc), "envelope_version"));
  wo.envelope_version = 1;
  wo.compression_level = 3;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "1", "a", NULL, &wo),
                   DOCSTORE_EUNSUPPORTED);
  wo.envelope_version = 2;
  wo.compression_level = 20;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "1", "a", NULL, &wo),
                   DOCSTORE_EINVAL);
  /* An unknown recipient. */
  static const char *const nobody[] = {
      "sha256:"
      "0000000000000000000000000000000000000000000000000000000000000000"};
  wo.compression_level = -1;
  wo.recipients = nobody;
  wo.recipients_count = 1;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "1", "a", NULL, &wo),
                   DOCSTORE_EKEY);
  assert_null(w);
  assert_int_equal(files_below(f->root), 0);

  assert_int_equal(docstore_reader_open(&r, f->svc, NULL, NULL, NULL),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_reader_open(&r, NULL, "documents/x", NULL, NULL),
                   DOCSTORE_EINVAL);
  ro.version = 2;
  assert_int_equal(docstore_reader_open(&r, f->svc, "documents/x", NULL, &ro),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_reader_open(&r, f->svc, "documents/x", NULL, NULL),
                   DOCSTORE_ENOTFOUND);
  assert_null(r);
  assert_int_equal(
      docstore_reader_open(&r, f->svc, "../etc/passwd", NULL, NULL),
      DOCSTORE_EINVAL);

  /* A service without keys: both refuse, naming the setting. */
  docstore_service *nokeys = NULL;
  docstore_provider *p = NULL;
  docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
  lo.root = f->root;
  assert_int_equal(docstore_local_provider_new(&p, &lo, NULL, 0), 0);
  assert_int_equal(docstore_service_new(&nokeys, p, NULL, NULL, NULL, 0), 0);
  assert_int_equal(docstore_writer_begin(&w, nokeys, "1", "a", NULL, NULL),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_service_errmsg(nokeys), "RSA_PUBLIC_KEY"));
  assert_int_equal(docstore_reader_open(&r, nokeys, "documents/x", NULL, NULL),
                   DOCSTORE_EKEY);
  assert_non_null(strstr(docstore_last_errmsg(), "RSA_PRIVATE_KEY"));
  docstore_service_free(nokeys);

  /* NULL handles */
  assert_int_equal(docstore_writer_write(NULL, (const uint8_t *)"x", 1),
                   DOCSTORE_EINVAL);
  assert_int_equal(docstore_writer_commit(NULL, NULL), DOCSTORE_EINVAL);
  assert_int_equal(docstore_writer_abort(NULL), DOCSTORE_EINVAL);
  docstore_writer_cancel(NULL);
  docstore_writer_free(NULL);
  uint64_t a = 7, b = 7;
  docstore_writer_stats(NULL, &a, &b);
  assert_int_equal(a + b, 0);
  assert_non_null(docstore_writer_errmsg(NULL));
  size_t got = 5;
  uint8_t buf[4];
  assert_int_equal(docstore_reader_read(NULL, buf, 4, &got), DOCSTORE_EINVAL);
  assert_int_equal(got, 0);
  uint64_t size;
  assert_int_equal(docstore_reader_size(NULL, &size), DOCSTORE_EINVAL);
  docstore_reader_cancel(NULL);
  docstore_reader_close(NULL);
  docstore_reader_stats(NULL, &a, &b);
  assert_non_null(docstore_reader_errmsg(NULL));
}

/* Uneven writes, the seed's path layout, small reads. */
static void test_write_chunks_read_small(void **state) {
  fixture *f = *state;
  size_t len = 300000 + 17;
  uint8_t *data = th_random(len);
  static const size_t chunks[] = {1, 7, 4096, 65535, 100000, 3, 65536, 65537};
  time_t before = time(NULL);
  char *path = write_chunked(f->svc, "42", "123", data, len, chunks, 8, NULL);
  time_t after = time(NULL);

  /* documents/user_123/YYYY/MM/DD/42_Report_2026_pdf.json, dated now */
  char *want1 = NULL, *want2 = NULL;
  assert_int_equal(
      docstore_storage_path(&want1, "42", "Report 2026.PDF", "123", before), 0);
  assert_int_equal(
      docstore_storage_path(&want2, "42", "Report 2026.PDF", "123", after), 0);
  assert_true(strcmp(path, want1) == 0 || strcmp(path, want2) == 0);
  assert_int_equal(strncmp(path, "documents/user_123/", 19), 0);
  docstore_free(want1);
  docstore_free(want2);

  /* one file, no temporary left; it is a v2 envelope */
  assert_int_equal(files_below(f->root), 1);
  size_t slen = 0;
  uint8_t *obj = stored_object(f, path, &slen);
  assert_int_equal(obj[0], 0x89);
  assert_memory_equal(obj + 1, "DSE", 3);
  /* v2 overhead: 16 bytes per 64 KiB segment plus the header */
  assert_true(slen > len + 5 * 16 && slen < len + 5 * 16 + 2048);
  free(obj);

  assert_reads_back(f->svc, path, data, len, 1 << 20);
  assert_reads_back(f->svc, path, data, len, 1000);
  assert_reads_back(f->svc, path, data, len, 7);

  /* reader counters and size */
  docstore_reader *r = NULL;
  assert_int_equal(docstore_reader_open(&r, f->svc, path, NULL, NULL), 0);
  uint64_t size = 0, plain = 9, stored = 0;
  assert_int_equal(docstore_reader_size(r, &size), 0);
  assert_int_equal(size, len);
  docstore_reader_stats(r, &plain, &stored);
  assert_int_equal(plain, 0); /* the header is read; no plaintext yet */
  assert_true(stored > 0);
  docstore_reader_close(r);

  /* Encryption counted once, decryption once per whole read. */
  assert_int_equal(stats(f->svc, DOCSTORE_OP_ENCRYPT).successes, 1);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_ENCRYPT).bytes, len);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_DECRYPT).successes, 3);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_DECRYPT).bytes, 3 * len);
  docstore_free(path);
  free(data);
}

static void test_empty_and_tiny_documents(void **state) {
  fixture *f = *state;
  static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 8192};
  uint8_t *data = th_random(8192);
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *path = write_all(f->svc, data, sizes[i], NULL);
    assert_reads_back(f->svc, path, data, sizes[i], 4096);
    assert_reads_back(f->svc, path, data, sizes[i], 1);
    /* the whole-buffer read agrees */
    uint8_t *back = NULL;
    size_t back_len = 99;
    assert_int_equal(
        docstore_service_read_document(f->svc, &back, &back_len, path, NULL),
        0);
    assert_int_equal(back_len, sizes[i]);
    assert_non_null(back);
    if (sizes[i])
      assert_memory_equal(back, data, sizes[i]);
    docstore_free(back);
    docstore_free(path);
  }
  free(data);
}

/* Ranges against the plaintext: across segment boundaries, at and past
 * the end. */
static void test_ranges(void **state) {
  fixture *f = *state; /* 4 KiB segments */
  size_t len = 5 * 4096 + 123;
  uint8_t *data = th_random(len);
  char *path = write_all(f->svc, data, len, NULL);
  static const uint64_t offsets[] = {0,     1,     100,   4095,  4096,
                                     4097,  8191,  8192,  12000, 20480,
                                     20603, 20604, 20605, 50000};
  static const uint64_t lengths[] = {0,    1,    2,    100,  4095,
                                     4096, 4097, 9000, 30000};
  static const size_t caps[] = {1, 333, 65536};
  for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
    for (size_t j = 0; j < sizeof(lengths) / sizeof(lengths[0]); j++) {
      docstore_read_options o = DOCSTORE_READ_OPTIONS_INIT;
      o.offset = offsets[i];
      o.length = lengths[j];
      uint64_t from = o.offset < len ? o.offset : len;
      uint64_t want = len - from;
      if (o.length && o.length < want)
        want = o.length;
      uint8_t *got = NULL;
      size_t got_len = 0;
      size_t cap = caps[(i + j) % 3];
      docstore_doc_id id = {"42", "123"};
      assert_int_equal(read_range(f->svc, path, &id, &o, cap, &got, &got_len),
                       0);
      if (got_len != want)
        fail_msg("offset %llu length %llu: %zu bytes, expected %llu",
                 (unsigned long long)o.offset, (unsigned long long)o.length,
                 got_len, (unsigned long long)want);
      if (want)
        assert_memory_equal(got, data + from, want);
      free(got);
    }
  /* reader_size is the whole document's, whatever the range */
  docstore_read_options o = DOCSTORE_READ_OPTIONS_INIT;
  o.offset = 5000;
  o.length = 10;
  docstore_reader *r = NULL;
  uint64_t size = 0;
  assert_int_equal(docstore_reader_open(&r, f->svc, path, NULL, &o), 0);
  assert_int_equal(docstore_reader_size(r, &size), 0);
  assert_int_equal(size, len);
  docstore_reader_close(r);
  docstore_free(path);
  free(data);
}

/* A ranged read of a large document fetches its header and the segments
 * of the range, not the rest. */
static void test_range_fetches_little(void **state) {
  fixture *f = *state; /* 4 KiB segments */
  size_t len = 3 << 20;
  uint8_t *data = th_random(len);
  char *path = write_all(f->svc, data, len, NULL);
  docstore_read_options o = DOCSTORE_READ_OPTIONS_INIT;
  o.offset = 2000000;
  o.length = 5000; /* two or three segments */
  docstore_reader *r = NULL;
  assert_int_equal(docstore_reader_open(&r, f->svc, path, NULL, &o), 0);
  uint8_t buf[8192];
  size_t got = 0, total = 0;
  do {
    assert_int_equal(docstore_reader_read(r, buf, sizeof(buf), &got), 0);
    assert_memory_equal(buf, data + o.offset + total, got);
    total += got;
  } while (got);
  assert_int_equal(total, 5000);
  uint64_t plain = 0, stored = 0;
  docstore_reader_stats(r, &plain, &stored);
  assert_int_equal(plain, 5000);
  assert_true(stored <= (64 << 10) + 3 * (4096 + 16) + 1);
  docstore_reader_close(r);
  docstore_free(path);
  free(data);
}

/* A ranged read fetches only the segments it needs: a damaged segment
 * outside the range does not matter, one inside does. */
static void test_range_reads_only_its_segments(void **state) {
  fixture *f = *state; /* 4 KiB segments */
  size_t len = 6 * 4096;
  uint8_t *data = th_random(len);
  char *path = write_all(f->svc, data, len, NULL);
  size_t slen = 0;
  uint8_t *obj = stored_object(f, path, &slen);
  /* the segments are the last 6 * (4096 + 16) bytes; damage segment 4 */
  size_t hlen = slen - 6 * (4096 + 16);
  obj[hlen + 4 * (4096 + 16) + 100] ^= 1;
  replace_object(f, path, obj, slen);
  docstore_read_options o = DOCSTORE_READ_OPTIONS_INIT;
  uint8_t *got = NULL;
  size_t got_len = 0;
  o.offset = 4096 + 10;
  o.length = 2 * 4096;
  assert_int_equal(read_range(f->svc, path, NULL, &o, 1000, &got, &got_len), 0);
  assert_int_equal(got_len, 2 * 4096);
  assert_memory_equal(got, data + o.offset, got_len);
  free(got);
  o.offset = 3 * 4096;
  o.length = 4096 + 1; /* reaches into segment 4 */
  assert_int_equal(read_range(f->svc, path, NULL, &o, 1000, &got, &got_len),
                   DOCSTORE_EINTEGRITY);
  assert_true(got_len <= 4096);
  assert_memory_equal(got, data + o.offset, got_len);
  free(got);
  free(obj);
  docstore_free(path);
  free(data);
}

/* Compressed v2: size unknown, ranges refused; v1: size known, ranges
 * refused, a length from 0 is fine. */
static void test_size_known_unknown(void **state) {
  fixture *f = *state;
  size_t len = 100000;
  uint8_t *data = calloc(1, len); /* compresses */
  assert_non_null(data);
  memcpy(data, "hello", 5);
  docstore_write_options wo = DOCSTORE_WRITE_OPTIONS_INIT;
  wo.compression_level = 3;
  char *path = write_all(f->svc, data, len, &wo);
  size_t slen = 0;
  free(stored_object(f, path, &slen));
  assert_true(slen < 5000);
  docstore_reader *r = NULL;
  uint64_t size = 0;
  assert_int_equal(docstore_reader_open(&r, f->svc, path, NULL, NULL), 0);
  assert_int_equal(docstore_reader_size(r, &size), DOCSTORE_EUNSUPPORTED);
  docstore_reader_close(r);
  assert_reads_back(f->svc, path, data, len, 4000);
  docstore_read_options ro = DOCSTORE_READ_OPTIONS_INIT;
  ro.offset = 1;
  assert_int_equal(docstore_reader_open(&r, f->svc, path, NULL, &ro),
                   DOCSTORE_EUNSUPPORTED);
  assert_null(r);
  uint8_t *got = NULL;
  size_t got_len = 0;
  ro.offset = 0;
  ro.length = 3;
  assert_int_equal(read_range(f->svc, path, NULL, &ro, 100, &got, &got_len), 0);
  assert_int_equal(got_len, 3);
  assert_memory_equal(got, "hel", 3);
  free(got);
  docstore_free(path);

  /* v1, by option */
  wo.compression_level = -1;
  wo.envelope_version = 1;
  path = write_all(f->svc, data, len, &wo);
  uint8_t *obj = stored_object(f, path, &slen);
  assert_int_equal(obj[0], '{');
  free(obj);
  assert_int_equal(docstore_reader_open(&r, f->svc, path, NULL, NULL), 0);
  assert_int_equal(docstore_reader_size(r, &size), 0);
  assert_int_equal(size, len);
  docstore_reader_close(r);
  assert_reads_back(f->svc, path, data, len, 777);
  ro.offset = 10;
  assert_int_equal(docstore_reader_open(&r, f->svc, path, NULL, &ro),
                   DOCSTORE_EUNSUPPORTED);
  ro.offset = 0;
  ro.length = 5;
  assert_int_equal(read_range(f->svc, path, NULL, &ro, 2, &got, &got_len), 0);
  assert_int_equal(got_len, 5);
  assert_memory_equal(got, "hello", 5);
  free(got);
  docstore_free(path);
  free(data);
}

/* DOCSTORE_ENVELOPE_VERSION=1 (the service option): v1 JSON documents,
 * readable by the whole-buffer calls of 0.2. */
static void test_v1_service(void **state) {
  (void)state;
  fixture *f = fixture_new(0, 1, 0, 0);
  size_t len = 70000;
  uint8_t *data = th_random(len);
  char *path = NULL;
  assert_int_equal(docstore_service_store_document(f->svc, &path, "42", "a.bin",
                                                   data, len, "123"),
                   0);
  size_t slen = 0;
  uint8_t *obj = stored_object(f, path, &slen);
  assert_int_equal(obj[0], '{');
  /* docstore_envelope_open() (the 0.2 path) opens it */
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  docstore_doc_id id = {"42", "123"};
  assert_int_equal(docstore_envelope_open(&plain, &plain_len,
                                          docstore_service_keyring(f->svc),
                                          (const char *)obj, slen, &id),
                   0);
  assert_int_equal(plain_len, len);
  assert_memory_equal(plain, data, len);
  docstore_free(plain);
  free(obj);
  assert_reads_back(f->svc, path, data, len, 1000);
  /* a v2 document by option on a v1 service */
  docstore_write_options wo = DOCSTORE_WRITE_OPTIONS_INIT;
  wo.envelope_version = 2;
  docstore_free(path);
  path = write_all(f->svc, data, len, &wo);
  obj = stored_object(f, path, &slen);
  assert_int_equal(obj[0], 0x89);
  free(obj);
  assert_reads_back(f->svc, path, data, len, 1000);
  docstore_free(path);
  free(data);
  teardown((void **)&f);
}

typedef struct progress_log {
  uint64_t done[64];
  uint64_t total[64];
  int n;
  int cancel_at; /* call number that returns non-zero, or -1 */
} progress_log;

static int on_progress(void *payload, uint64_t done, uint64_t total) {
  progress_log *p = payload;
  if (p->n < 64) {
    p->done[p->n] = done;
    p->total[p->n] = total;
  }
  return p->n++ == p->cancel_at;
}

/* A first report at 0, one every MiB or so (never more often), the last
 * at the end; the same total throughout. */
static void assert_progress_sane(const progress_log *p, uint64_t len,
                                 uint64_t total) {
  assert_true(p->n >= 3);
  assert_int_equal(p->done[0], 0);
  for (int i = 0; i < p->n; i++) {
    if (i > 0) {
      assert_true(p->done[i] >= p->done[i - 1]);
      if (i < p->n - 1)
        assert_true(p->done[i] - p->done[i - 1] >= ((uint64_t)1 << 20));
    }
    assert_int_equal(p->total[i], total);
  }
  assert_int_equal(p->done[p->n - 1], len);
  assert_true((uint64_t)p->n <= len / (1 << 20) + 3);
}

static void test_progress(void **state) {
  fixture *f = *state;
  size_t len = (7 << 19) + 5; /* 3.5 MiB */
  uint8_t *data = th_random(len);
  progress_log wp = {{0}, {0}, 0, -1}, rp = {{0}, {0}, 0, -1};
  docstore_write_options wo = DOCSTORE_WRITE_OPTIONS_INIT;
  wo.progress = on_progress;
  wo.progress_payload = &wp;
  wo.size_hint = len;
  static const size_t chunks[] = {100000};
  char *path = write_chunked(f->svc, "42", "123", data, len, chunks, 1, &wo);
  assert_progress_sane(&wp, len, len);
  /* unknown size: total UINT64_MAX until the last call */
  wp.n = 0;
  wo.size_hint = 0;
  docstore_free(write_chunked(f->svc, "43", "123", data, len, chunks, 1, &wo));
  assert_progress_sane(&wp, len, UINT64_MAX);

  docstore_read_options ro = DOCSTORE_READ_OPTIONS_INIT;
  ro.progress = on_progress;
  ro.progress_payload = &rp;
  uint8_t *got = NULL;
  size_t got_len = 0;
  assert_int_equal(read_range(f->svc, path, NULL, &ro, 50000, &got, &got_len),
                   0);
  assert_int_equal(got_len, len);
  free(got);
  assert_progress_sane(&rp, len, len);
  docstore_free(path);
  free(data);
}

/* Cancelled by the callback: ECANCELED, aborted, nothing left. */
static void test_cancel_by_callback(void **state) {
  fixture *f = *state;
  size_t len = 3 << 20;
  uint8_t *data = th_random(len);
  progress_log wp = {{0}, {0}, 0, 1};
  docstore_write_options wo = DOCSTORE_WRITE_OPTIONS_INIT;
  wo.progress = on_progress;
  wo.progress_payload = &wp;
  docstore_writer *w = NULL;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "42", "a", "123", &wo), 0);
  int rc = 0;
  size_t off = 0;
  for (; off < len && rc == 0; off += 65536)
    rc = docstore_writer_write(w, data + off, 65536);
  assert_int_equal(rc, DOCSTORE_ECANCELED);
  assert_int_equal(wp.n, 2);
  assert_non_null(strstr(docstore_writer_errmsg(w), "cancel"));
  assert_non_null(strstr(docstore_service_errmsg(f->svc), "cancel"));
  assert_int_equal(docstore_last_errcode(), DOCSTORE_ECANCELED);
  char *path = (char *)0x1;
  assert_int_equal(docstore_writer_commit(w, &path), DOCSTORE_ECANCELED);
  assert_null(path);
  assert_int_equal(docstore_writer_abort(w), 0); /* no-op now */
  docstore_writer_free(w);
  assert_int_equal(files_below(f->root), 0);

  /* cancelled by the first report, before any byte */
  wp.n = 0;
  wp.cancel_at = 0;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "42", "a", "123", &wo), 0);
  assert_int_equal(docstore_writer_write(w, data, 1000), DOCSTORE_ECANCELED);
  docstore_writer_free(w);
  assert_int_equal(files_below(f->root), 0);

  /* cancelled by the last report, at commit */
  wp.n = 0;
  wp.cancel_at = 1;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "42", "a", "123", &wo), 0);
  assert_int_equal(docstore_writer_write(w, data, 1000), 0);
  assert_int_equal(docstore_writer_commit(w, &path), DOCSTORE_ECANCELED);
  docstore_writer_free(w);
  assert_int_equal(files_below(f->root), 0);

  /* a reader cancelled by its callback */
  char *doc = write_all(f->svc, data, len, NULL);
  progress_log rp = {{0}, {0}, 0, 1}; /* the report after 1 MiB */
  docstore_read_options ro = DOCSTORE_READ_OPTIONS_INIT;
  ro.progress = on_progress;
  ro.progress_payload = &rp;
  uint8_t *got = NULL;
  size_t got_len = 0;
  assert_int_equal(read_range(f->svc, doc, NULL, &ro, 65536, &got, &got_len),
                   DOCSTORE_ECANCELED);
  assert_true(got_len >= (1 << 20) && got_len < len);
  assert_memory_equal(got, data, got_len);
  free(got);
  docstore_free(doc);
  free(data);
}

typedef struct canceller {
  docstore_writer *w;
  docstore_reader *r;
  atomic_int go;
} canceller;

static void *cancel_thread(void *arg) {
  canceller *c = arg;
  while (!atomic_load(&c->go))
    usleep(100);
  if (c->w)
    docstore_writer_cancel(c->w);
  else
    docstore_reader_cancel(c->r);
  atomic_store(&c->go, 2);
  return NULL;
}

/* docstore_writer_cancel() and docstore_reader_cancel() from another
 * thread. */
static void test_cancel_from_thread(void **state) {
  fixture *f = *state;
  size_t len = 1 << 20;
  uint8_t *data = th_random(len);
  canceller c = {NULL, NULL, 0};
  pthread_t t;
  assert_int_equal(docstore_writer_begin(&c.w, f->svc, "42", "a", "123", NULL),
                   0);
  assert_int_equal(pthread_create(&t, NULL, cancel_thread, &c), 0);
  assert_int_equal(docstore_writer_write(c.w, data, len / 2), 0);
  atomic_store(&c.go, 1);
  while (atomic_load(&c.go) != 2)
    usleep(100);
  assert_int_equal(docstore_writer_write(c.w, data + len / 2, len / 2),
                   DOCSTORE_ECANCELED);
  assert_int_equal(pthread_join(t, NULL), 0);
  char *path = NULL;
  assert_int_equal(docstore_writer_commit(c.w, &path), DOCSTORE_ECANCELED);
  docstore_writer_free(c.w);
  assert_int_equal(files_below(f->root), 0);

  char *doc = write_all(f->svc, data, len, NULL);
  canceller rc = {NULL, NULL, 0};
  assert_int_equal(docstore_reader_open(&rc.r, f->svc, doc, NULL, NULL), 0);
  assert_int_equal(pthread_create(&t, NULL, cancel_thread, &rc), 0);
  uint8_t buf[4096];
  size_t got = 0;
  assert_int_equal(docstore_reader_read(rc.r, buf, sizeof(buf), &got), 0);
  assert_true(got > 0);
  atomic_store(&rc.go, 1);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(docstore_reader_read(rc.r, buf, sizeof(buf), &got),
                   DOCSTORE_ECANCELED);
  assert_int_equal(got, 0);
  docstore_reader_close(rc.r);
  docstore_free(doc);
  free(data);
}

static void test_abort_and_free(void **state) {
  fixture *f = *state;
  uint8_t *data = th_random(200000);
  docstore_writer *w = NULL;
  char *path = NULL;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "42", "a", "123", NULL),
                   0);
  assert_int_equal(docstore_writer_write(w, data, 200000), 0);
  assert_int_equal(docstore_writer_abort(w), 0);
  assert_int_equal(docstore_writer_abort(w), 0);
  assert_int_equal(docstore_writer_write(w, data, 1), DOCSTORE_EINVAL);
  assert_int_equal(docstore_writer_commit(w, &path), DOCSTORE_EINVAL);
  assert_null(path);
  docstore_writer_free(w);
  assert_int_equal(files_below(f->root), 0);

  /* free without commit = abort */
  assert_int_equal(docstore_writer_begin(&w, f->svc, "42", "a", "123", NULL),
                   0);
  assert_int_equal(docstore_writer_write(w, data, 200000), 0);
  assert_true(files_below(f->root) <= 1); /* a temporary at most */
  docstore_writer_free(w);
  assert_int_equal(files_below(f->root), 0);

  /* committed: abort refused, the object stays */
  assert_int_equal(docstore_writer_begin(&w, f->svc, "42", "a", "123", NULL),
                   0);
  assert_int_equal(docstore_writer_commit(w, &path), 0);
  assert_int_equal(docstore_writer_abort(w), DOCSTORE_EINVAL);
  assert_int_equal(docstore_writer_commit(w, NULL), DOCSTORE_EINVAL);
  docstore_writer_free(w);
  assert_int_equal(object_exists(f, path), 1);
  assert_int_equal(stats(f->svc, DOCSTORE_OP_ENCRYPT).successes, 1);
  docstore_free(path);
  free(data);
}

static void test_no_clobber(void **state) {
  fixture *f = *state;
  uint8_t *a = th_random(5000), *b = th_random(6000);
  char *first = write_all(f->svc, a, 5000, NULL);
  docstore_write_options wo = DOCSTORE_WRITE_OPTIONS_INIT;
  wo.no_clobber = 1;
  docstore_writer *w = NULL;
  char *path = NULL;
  assert_int_equal(
      docstore_writer_begin(&w, f->svc, "42", "Report 2026.PDF", "123", &wo),
      0);
  assert_int_equal(docstore_writer_write(w, b, 6000), 0);
  int rc = docstore_writer_commit(w, &path);
  docstore_writer_free(w);
  assert_int_equal(rc, DOCSTORE_EEXISTS);
  assert_null(path);
  assert_reads_back(f->svc, first, a, 5000, 4096);
  assert_int_equal(files_below(f->root), 1);
  /* without it: replaced */
  char *second = write_all(f->svc, b, 6000, NULL);
  assert_string_equal(first, second);
  assert_reads_back(f->svc, first, b, 6000, 4096);
  docstore_free(first);
  docstore_free(second);
  free(a);
  free(b);
}

/* The wrong identity is refused at open, before any byte. */
static void test_identity_mismatch(void **state) {
  fixture *f = *state;
  uint8_t *data = th_random(10000);
  char *path = write_all(f->svc, data, 10000, NULL);
  static const docstore_doc_id wrong[] = {
      {"43", "123"}, {"42", "124"}, {"42", NULL}};
  for (size_t i = 0; i < 3; i++) {
    docstore_reader *r = (docstore_reader *)0x1;
    assert_int_equal(docstore_reader_open(&r, f->svc, path, &wrong[i], NULL),
                     DOCSTORE_EINTEGRITY);
    assert_null(r);
    assert_non_null(strstr(docstore_service_errmsg(f->svc), "decrypt "));
  }
  assert_int_equal(stats(f->svc, DOCSTORE_OP_DECRYPT).failures, 3);
  /* no private key for it */
  docstore_service *other = NULL;
  docstore_provider *p = NULL;
  docstore_local_options lo = DOCSTORE_LOCAL_OPTIONS_INIT;
  lo.root = f->root;
  assert_int_equal(docstore_local_provider_new(&p, &lo, NULL, 0), 0);
  assert_int_equal(
      docstore_service_new(&other, p, th_keyring(2, 2), NULL, NULL, 0), 0);
  docstore_reader *r = NULL;
  assert_int_equal(docstore_reader_open(&r, other, path, NULL, NULL),
                   DOCSTORE_EKEY);
  docstore_service_free(other);
  docstore_free(path);
  free(data);
}

/* Damage in storage: the reader stops at the bad segment; what it
 * released came from the good ones before it. */
static void test_tampered(void **state) {
  fixture *f = *state; /* 4 KiB segments */
  size_t len = 5 * 4096 + 1000;
  uint8_t *data = th_random(len);
  char *path = write_all(f->svc, data, len, NULL);
  size_t slen = 0;
  uint8_t *obj = stored_object(f, path, &slen);
  size_t nseg = 6, wire = 4096 + 16, hlen = slen - 5 * wire - (1000 + 16);
  uint8_t *copy = malloc(slen + 1);
  assert_non_null(copy);
  uint8_t *got = NULL;
  size_t got_len = 0;

  /* a bit flipped in segment 2: segments 0 and 1 at most */
  memcpy(copy, obj, slen);
  copy[hlen + 2 * wire + 7] ^= 0x40;
  replace_object(f, path, copy, slen);
  assert_int_equal(read_all(f->svc, path, NULL, 4096, &got, &got_len),
                   DOCSTORE_EINTEGRITY);
  assert_true(got_len <= 2 * 4096);
  assert_memory_equal(got, data, got_len);
  free(got);
  /* the whole-buffer call gives nothing */
  uint8_t *plain = (uint8_t *)0x1;
  size_t plain_len = 7;
  assert_int_equal(
      docstore_service_read_document(f->svc, &plain, &plain_len, path, NULL),
      DOCSTORE_EINTEGRITY);
  assert_null(plain);
  assert_int_equal(plain_len, 0);

  /* the last segment removed: truncated, detected at the end */
  replace_object(f, path, obj, slen - (1000 + 16));
  assert_int_equal(read_all(f->svc, path, NULL, 4096, &got, &got_len),
                   DOCSTORE_EINTEGRITY);
  assert_true(got_len <= 5 * 4096);
  free(got);
  /* a byte appended */
  memcpy(copy, obj, slen);
  copy[slen] = 0;
  replace_object(f, path, copy, slen + 1);
  assert_int_equal(read_all(f->svc, path, NULL, 4096, &got, &got_len),
                   DOCSTORE_EINTEGRITY);
  assert_true(got_len < len);
  free(got);
  /* two segments swapped */
  memcpy(copy, obj, slen);
  memcpy(copy + hlen + wire, obj + hlen + 2 * wire, wire);
  memcpy(copy + hlen + 2 * wire, obj + hlen + wire, wire);
  replace_object(f, path, copy, slen);
  assert_int_equal(read_all(f->svc, path, NULL, 100, &got, &got_len),
                   DOCSTORE_EINTEGRITY);
  assert_true(got_len <= 4096);
  free(got);
  /* the header damaged: nothing at all, refused at open */
  memcpy(copy, obj, slen);
  copy[20] ^= 1;
  replace_object(f, path, copy, slen);
  docstore_reader *r = NULL;
  assert_true(docstore_reader_open(&r, f->svc, path, NULL, NULL) < 0);
  assert_null(r);
  /* restored: fine again */
  replace_object(f, path, obj, slen);
  assert_reads_back(f->svc, path, data, len, 4096);
  (void)nseg;
  free(copy);
  free(obj);
  docstore_free(path);
  free(data);
}

/* The whole-buffer calls go through the writer and reader. */
static void test_whole_buffer_wrappers(void **state) {
  fixture *f = *state;
  size_t len = 150000;
  uint8_t *data = th_random(len);
  char *path = NULL;
  assert_int_equal(docstore_service_store_document(f->svc, &path, "42",
                                                   "Report 2026.PDF", data, len,
                                                   "123"),
                   0);
  size_t slen = 0;
  uint8_t *obj = stored_object(f, path, &slen);
  assert_int_equal(obj[0], 0x89); /* v2 by default */
  assert_reads_back(f->svc, path, data, len, 10000);
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  docstore_doc_id id = {"42", "123"};
  assert_int_equal(
      docstore_service_read_document(f->svc, &plain, &plain_len, path, &id), 0);
  assert_int_equal(plain_len, len);
  assert_memory_equal(plain, data, len);
  docstore_free(plain);

  /* store_encrypted validates v2 envelopes: identity as for v1 */
  char *p2 = NULL;
  assert_int_equal(docstore_service_store_encrypted(f->svc, &p2, "42", "b.pdf",
                                                    (const char *)obj, slen,
                                                    "123"),
                   0);
  assert_reads_back(f->svc, p2, data, len, 10000);
  docstore_free(p2);
  assert_int_equal(docstore_service_store_encrypted(f->svc, &p2, "44", "b.pdf",
                                                    (const char *)obj, slen,
                                                    "123"),
                   DOCSTORE_EINTEGRITY);
  assert_non_null(strstr(docstore_service_errmsg(f->svc), "bound to file 42"));
  obj[9] = 0x77; /* unknown suite */
  assert_true(docstore_service_store_encrypted(f->svc, &p2, "42", "b.pdf",
                                               (const char *)obj, slen,
                                               "123") < 0);
  assert_null(p2);
  free(obj);
  docstore_free(path);
  free(data);
}

/* A version 1 custom provider (no streaming ops): the adapter. */
static void test_v1_custom_provider(void **state) {
  fixture *f = *state; /* fake provider, 4 KiB segments */
  size_t len = 3 * 4096 + 5;
  uint8_t *data = th_random(len);
  static const size_t chunks[] = {1000, 3};
  char *path = write_chunked(f->svc, "42", "123", data, len, chunks, 2, NULL);
  assert_int_equal(fake_provider_count(f->fp), 1);
  assert_reads_back(f->svc, path, data, len, 100);
  docstore_read_options o = DOCSTORE_READ_OPTIONS_INIT;
  o.offset = 4100;
  o.length = 5000;
  uint8_t *got = NULL;
  size_t got_len = 0;
  assert_int_equal(read_range(f->svc, path, NULL, &o, 999, &got, &got_len), 0);
  assert_int_equal(got_len, 5000);
  assert_memory_equal(got, data + 4100, 5000);
  free(got);
  /* an aborted writer leaves nothing */
  docstore_writer *w = NULL;
  assert_int_equal(docstore_writer_begin(&w, f->svc, "43", "a", "123", NULL),
                   0);
  assert_int_equal(docstore_writer_write(w, data, len), 0);
  docstore_writer_free(w);
  assert_int_equal(fake_provider_count(f->fp), 1);
  /* a provider failure at commit: the writer's error, nothing stored */
  fake_provider_fail(f->fp, FAKE_PUT, DOCSTORE_EIO, "disk on fire", 1);
  assert_int_equal(docstore_writer_begin(&w, f->svc, "44", "a", "123", NULL),
                   0);
  assert_int_equal(docstore_writer_write(w, data, 10), 0);
  assert_int_equal(docstore_writer_commit(w, NULL), DOCSTORE_EIO);
  assert_true(docstore_writer_errmsg(w)[0] != '\0');
  docstore_writer_free(w);
  assert_int_equal(fake_provider_count(f->fp), 1);
  docstore_free(path);
  free(data);
}

/* DOCSTORE_RECIPIENT_KEYS: every new v2 document opens with either key. */
static void write_file(const char *path, const char *text) {
  FILE *fh = fopen(path, "w");
  assert_non_null(fh);
  assert_int_equal(fputs(text, fh) >= 0, 1);
  assert_int_equal(fclose(fh), 0);
}

static void test_recipient_keys(void **state) {
  (void)state;
  char pub0[PATH_MAX], priv0[PATH_MAX], pub1[PATH_MAX], pub2[PATH_MAX],
      root[PATH_MAX], list[4 * PATH_MAX + 8];
  snprintf(pub0, sizeof(pub0), "%s/pub0.pem", tmpdir);
  snprintf(priv0, sizeof(priv0), "%s/priv0.pem", tmpdir);
  snprintf(pub1, sizeof(pub1), "%s/pub1.pem", tmpdir);
  snprintf(pub2, sizeof(pub2), "%s/pub2.pem", tmpdir);
  snprintf(root, sizeof(root), "%s/recipients", tmpdir);
  write_file(pub0, th_public_pem(0));
  write_file(priv0, th_private_pem(0));
  write_file(pub1, th_public_pem(1));
  write_file(pub2, th_public_pem(2));
  snprintf(list, sizeof(list), "%s:%s::%s", pub1, pub2, pub1);
  docstore_config *cfg = NULL;
  assert_int_equal(docstore_config_new(&cfg), 0);
  assert_int_equal(docstore_config_set(cfg, "LOCAL_STORAGE_PATH", root), 0);
  assert_int_equal(docstore_config_set(cfg, "RSA_PUBLIC_KEY_PATH", pub0), 0);
  assert_int_equal(docstore_config_set(cfg, "RSA_PRIVATE_KEY_PATH", priv0), 0);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_RECIPIENT_KEYS", list),
                   0);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_SEGMENT_SIZE", "8K"), 0);
  docstore_service *svc = NULL;
  char errbuf[512];
  assert_int_equal(
      docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf)), 0);
  uint8_t *data = th_random(20000);
  char *path = NULL;
  assert_int_equal(docstore_service_store_document(svc, &path, "42", "a", data,
                                                   20000, "123"),
                   0);
  char *env = NULL;
  size_t env_len = 0;
  assert_int_equal(
      docstore_service_retrieve_encrypted(svc, &env, &env_len, path), 0);
  docstore_envelope_info info = DOCSTORE_ENVELOPE_INFO_INIT;
  assert_int_equal(docstore_envelope_info_get(&info, env, env_len), 0);
  assert_int_equal(info.format, DOCSTORE_ENVELOPE_V2);
  assert_int_equal(info.recipients_count, 3);
  assert_int_equal(info.segment_size, 8192);
  assert_string_equal(info.key_id, th_kid(0)); /* the sealing key first */
  docstore_envelope_info_clear(&info);
  /* key 1's or key 2's private key alone opens it */
  for (unsigned k = 1; k <= 2; k++) {
    docstore_keyring *kr = th_keyring(0, 1u << k);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal(
        docstore_envelope_open(&plain, &plain_len, kr, env, env_len, NULL), 0);
    assert_int_equal(plain_len, 20000);
    assert_memory_equal(plain, data, 20000);
    docstore_free(plain);
    docstore_keyring_free(kr);
  }
  docstore_free(env);
  docstore_free(path);
  docstore_service_free(svc);

  /* a missing file is named */
  snprintf(list, sizeof(list), "%s:%s/missing.pem", pub1, tmpdir);
  assert_int_equal(docstore_config_set(cfg, "DOCSTORE_RECIPIENT_KEYS", list),
                   0);
  assert_int_equal(
      docstore_service_from_config(&svc, cfg, errbuf, sizeof(errbuf)),
      DOCSTORE_ENOTFOUND);
  assert_non_null(strstr(errbuf, "DOCSTORE_RECIPIENT_KEYS"));
  assert_non_null(strstr(errbuf, "missing.pem"));
  assert_null(svc);
  docstore_config_free(cfg);
  free(data);
}

/* DOCSTORE_ENVELOPE_VERSION and DOCSTORE_COMPRESSION from a
 * configuration reach the documents. */
static void test_envelope_settings_from_config(void **state) {
  (void)state;
  char priv[PATH_MAX], root[PATH_MAX];
  snprintf(priv, sizeof(priv), "%s/cfg-priv0.pem", tmpdir);
  snprintf(root, sizeof(root), "%s/cfg-root", tmpdir);
  write_file(priv, th_private_pem(0));
  static const struct {
    const char *version, *compression;
    uint8_t first;
    int compressed;
  } cases[] = {{"1", NULL, '{', 0},
               {NULL, NULL, 0x89, 0},
               {"2", "zstd", 0x89, 1},
               {NULL, "zstd:19", 0x89, 1}};
  uint8_t *data = calloc(1, 100000); /* compresses */
  assert_non_null(data);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    docstore_config *cfg = NULL;
    docstore_service *svc = NULL;
    assert_int_equal(docstore_config_new(&cfg), 0);
    assert_int_equal(docstore_config_set(cfg, "LOCAL_STORAGE_PATH", root), 0);
    assert_int_equal(docstore_config_set(cfg, "RSA_PRIVATE_KEY_PATH", priv), 0);
    assert_int_equal(
        docstore_config_set(cfg, "DOCSTORE_ENVELOPE_VERSION", cases[i].version),
        0);
    assert_int_equal(
        docstore_config_set(cfg, "DOCSTORE_COMPRESSION", cases[i].compression),
        0);
    assert_int_equal(docstore_service_from_config(&svc, cfg, NULL, 0), 0);
    docstore_config_free(cfg);
    char *path = NULL, *env = NULL;
    size_t env_len = 0;
    assert_int_equal(docstore_service_store_document(svc, &path, "42", "a",
                                                     data, 100000, "123"),
                     0);
    assert_int_equal(
        docstore_service_retrieve_encrypted(svc, &env, &env_len, path), 0);
    assert_int_equal((uint8_t)env[0], cases[i].first);
    assert_true(cases[i].compressed ? env_len < 2000 : env_len > 100000);
    assert_reads_back(svc, path, data, 100000, 3000);
    docstore_free(env);
    docstore_free(path);
    docstore_service_free(svc);
  }
  free(data);
}

/* A document larger than the writer's buffer many times over, through
 * both paths, with the reader's input and the writer's output bounded. */
static void test_larger_document(void **state) {
  fixture *f = *state;
  size_t len = (9 << 20) + 12345;
  uint8_t *data = th_random(len);
  static const size_t chunks[] = {1 << 20, 12345, 300000};
  char *path = write_chunked(f->svc, "42", "123", data, len, chunks, 3, NULL);
  assert_reads_back(f->svc, path, data, len, 1 << 16);
  docstore_free(path);
  free(data);
}

int main(void) {
#define LOCAL(fn) cmocka_unit_test_setup_teardown(fn, setup_local, teardown)
#define SMALL(fn)                                                              \
  cmocka_unit_test_setup_teardown(fn, setup_local_small_segments, teardown)
#define FAKE(fn) cmocka_unit_test_setup_teardown(fn, setup_fake, teardown)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_init),
      LOCAL(test_bad_arguments),
      LOCAL(test_write_chunks_read_small),
      SMALL(test_empty_and_tiny_documents),
      SMALL(test_ranges),
      SMALL(test_range_reads_only_its_segments),
      SMALL(test_range_fetches_little),
      LOCAL(test_size_known_unknown),
      cmocka_unit_test(test_v1_service),
      LOCAL(test_progress),
      LOCAL(test_cancel_by_callback),
      LOCAL(test_cancel_from_thread),
      LOCAL(test_abort_and_free),
      LOCAL(test_no_clobber),
      LOCAL(test_identity_mismatch),
      SMALL(test_tampered),
      LOCAL(test_whole_buffer_wrappers),
      FAKE(test_v1_custom_provider),
      cmocka_unit_test(test_recipient_keys),
      cmocka_unit_test(test_envelope_settings_from_config),
      LOCAL(test_larger_document),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
