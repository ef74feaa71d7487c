/*
 * libdocstore - fuzz target: the storage path layout and its filename
 * sanitiser (docstore_storage_path, src/service/path.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * Input layout: one flag byte, eight bytes of date, then either the
 * filename (flag 2 clear; up to the first NUL) or NUL-separated file_id,
 * user_id and filename (flag 2 set).  Flag 1: a user document (else a
 * system one); flag 4: the date bytes are used as they are (else mapped
 * into the years 0000-9999).
 *
 * Properties:
 *  - with valid ids and a date in range, any filename gives a path (the
 *    filename is never a reason to fail); otherwise EINVAL;
 *  - the path passes docstore_key_check, starts with "documents/", has
 *    exactly five '/', ends with ".json", and reads
 *    documents/{user_<id>|system}/YYYY/MM/DD/<file_id>_<name>_<ext>.json
 *    with the date of `when` in UTC, a name of 1 to 120 bytes that does
 *    not start with '.', and the name's own extension (lowercased) or
 *    "bin";
 *  - sanitising is idempotent: the name given back as the filename gives
 *    the same path.
 */
#include <time.h>

#include "fuzz_common.h"

#include "docstore/service.h"
#include "docstore/sys/provider.h"

#define YEAR_0000 (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define YEAR_9999 (253402300799LL) /* 9999-12-31T23:59:59Z */

static int id_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 64)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

/* The extension the layout derives from a sanitised name. */
static void expected_ext(char out[17], const char *name, size_t len) {
  const char *dot = NULL;
  for (size_t i = 0; i < len; i++)
    if (name[i] == '.')
      dot = name + i;
  size_t n = dot ? (size_t)(name + len - dot - 1) : 0;
  int ok = n >= 1 && n <= 16;
  for (size_t i = 0; ok && i < n; i++) {
    char c = dot[1 + i];
    ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
    out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
  }
  if (!ok)
    memcpy(out, "bin", n = 3);
  out[n] = '\0';
}

static void check_path(const char *path, const char *file_id,
                       const char *user_id, int64_t when) {
  char head[160], ext[17];
  struct tm tm;
  time_t t = (time_t)when;

  FUZZ_CHECK(docstore_key_check(path) == 0);
  FUZZ_CHECK(strncmp(path, "documents/", 10) == 0);
  size_t slashes = 0, len = strlen(path);
  for (size_t i = 0; i < len; i++)
    slashes += path[i] == '/';
  FUZZ_CHECK(slashes == 5);
  FUZZ_CHECK(len > 5 && strcmp(path + len - 5, ".json") == 0);

  FUZZ_CHECK(gmtime_r(&t, &tm) != NULL);
  int n = snprintf(head, sizeof(head), "documents/%s%s/%04d/%02d/%02d/%s_",
                   user_id ? "user_" : "system", user_id ? user_id : "",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, file_id);
  FUZZ_CHECK(n > 0 && (size_t)n < sizeof(head));
  FUZZ_CHECK(strncmp(path, head, (size_t)n) == 0);

  /* <name>_<ext>.json: the extension holds no '_'. */
  const char *name = path + n;
  const char *end = path + len - 5;
  const char *us = end;
  while (us > name && us[-1] != '_')
    us--;
  FUZZ_CHECK(us > name + 1);
  size_t name_len = (size_t)(us - 1 - name);
  FUZZ_CHECK(name_len >= 1 && name_len <= 120);
  FUZZ_CHECK(name[0] != '.');
  expected_ext(ext, name, name_len);
  FUZZ_CHECK((size_t)(end - us) == strlen(ext) &&
             memcmp(us, ext, strlen(ext)) == 0);

  /* Idempotence: the sanitised name is its own sanitised form. */
  char *again = NULL;
  char *name_copy = fuzz_cstr((const uint8_t *)name, name_len);
  FUZZ_CHECK(docstore_storage_path(&again, file_id, name_copy, user_id, when) ==
             0);
  FUZZ_CHECK(strcmp(again, path) == 0);
  docstore_free(again);
  free(name_copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 9)
    return 0;
  unsigned flags = data[0];
  uint64_t raw = 0;
  for (int i = 0; i < 8; i++)
    raw |= (uint64_t)data[1 + i] << (8 * i);
  int64_t when;
  if (flags & 4)
    memcpy(&when, &raw, sizeof(when));
  else
    when = YEAR_0000 + (int64_t)(raw % (uint64_t)(YEAR_9999 - YEAR_0000 + 1));

  fuzz_fields f;
  fuzz_fields_init(&f, data + 9, size - 9);
  const char *file_id = "f-123_ABC";
  const char *user_id = flags & 1 ? "user-42" : NULL;
  const char *filename;
  if (flags & 2) {
    const char *a = fuzz_field(&f), *b = fuzz_field(&f);
    file_id = a ? a : "";
    if (flags & 1)
      user_id = b ? b : "";
    filename = fuzz_field(&f);
  } else {
    filename = fuzz_field(&f);
  }
  if (!filename)
    filename = "";

  char *path = NULL;
  int rc = docstore_storage_path(&path, file_id, filename, user_id, when);
  int valid = id_ok(file_id) && (!user_id || id_ok(user_id)) &&
              when >= YEAR_0000 && when <= YEAR_9999;
  FUZZ_CHECK(rc == (valid ? 0 : DOCSTORE_EINVAL));
  FUZZ_CHECK((rc == 0) == (path != NULL));
  if (path)
    check_path(path, file_id, user_id, when);
  docstore_free(path);
  fuzz_fields_free(&f);
  return 0;
}
