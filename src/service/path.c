/*
 * libdocstore - the documents/ path layout.
 * SPDX-License-Identifier: Apache-2.0
 *
 *   documents/user_<user_id>/YYYY/MM/DD/<file_id>_<name>_<ext>.json
 *   documents/system/YYYY/MM/DD/<file_id>_<name>_<ext>.json
 * and, for the migration's staging rows, a "staging/" folder after the
 * date (docstore__storage_path_in()).
 *
 * The rules for <name> and <ext> are written down in docs/ARCHITECTURE.md,
 * "Storage paths"; keep the two in step.
 */
#include <string.h>
#include <time.h>

#include "provider/provider_internal.h"
#include "service_internal.h"
#include "util/date.h"

#define NAME_MAX_BYTES 120
#define EXT_MAX 16

static int ascii_kept(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Non-ASCII code points that are kept: everything from U+00A0 up, except
 * spaces, invisible format characters (bidi controls, zero-width
 * characters, fillers), line/paragraph separators, private use, tags and
 * noncharacters. */
static int codepoint_kept(uint32_t cp) {
  static const struct {
    uint32_t lo, hi;
  } refused[] = {
      {0x0000, 0x00A0},    /* C0, DEL, C1 controls, no-break space */
      {0x00AD, 0x00AD},    /* soft hyphen */
      {0x034F, 0x034F},    /* combining grapheme joiner */
      {0x061C, 0x061C},    /* arabic letter mark */
      {0x115F, 0x1160},    /* hangul fillers */
      {0x1680, 0x1680},    /* ogham space mark */
      {0x17B4, 0x17B5},    /* khmer invisible vowels */
      {0x180B, 0x180F},    /* mongolian selectors and vowel separator */
      {0x2000, 0x200F},    /* spaces, zero-width, LRM, RLM */
      {0x2028, 0x202F},    /* separators, bidi embeddings, narrow nbsp */
      {0x205F, 0x206F},    /* math space, word joiner, bidi isolates */
      {0x3000, 0x3000},    /* ideographic space */
      {0x3164, 0x3164},    /* hangul filler */
      {0xE000, 0xF8FF},    /* private use */
      {0xFDD0, 0xFDEF},    /* noncharacters */
      {0xFEFF, 0xFEFF},    /* zero-width no-break space (BOM) */
      {0xFFA0, 0xFFA0},    /* halfwidth hangul filler */
      {0xFFF0, 0xFFFB},    /* specials, interlinear annotation */
      {0xE0000, 0xE007F},  /* tags */
      {0xF0000, 0x10FFFF}, /* supplementary private use */
  };
  if ((cp & 0xFFFE) == 0xFFFE)
    return 0; /* U+xxFFFE and U+xxFFFF noncharacters */
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
    if (cp >= refused[i].lo && cp <= refused[i].hi)
      return 0;
  return 1;
}

/* Cut s (valid UTF-8) to at most max bytes at a character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max)
    return len;
  size_t n = max;
  while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

/* Sanitise an untrusted filename into out (capacity >= strlen(in) + 1,
 * and >= 5 for "file").  Returns the length. */
static size_t sanitise(char *out, const char *in) {
  const uint8_t *s = (const uint8_t *)in;
  size_t len = strlen(in), o = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = docstore__utf8_next(s + i, len - i, &cp);
    if (n == 0) {
      n = 1; /* one '_' per byte that is not valid UTF-8 */
      out[o++] = '_';
    } else if (n == 1 && ascii_kept(s[i])) {
      if (!(o == 0 && s[i] == '.')) /* never start with a dot */
        out[o++] = (char)s[i];
    } else if (n > 1 && codepoint_kept(cp)) {
      memcpy(out + o, s + i, n);
      o += n;
    } else {
      out[o++] = '_';
    }
    i += n;
  }
  if (o == 0) {
    memcpy(out, "file", 4);
    o = 4;
  }
  out[o] = '\0';
  if (o > NAME_MAX_BYTES) {
    /* Keep a short extension (".pdf") whole; shorten the stem. */
    const char *dot = strrchr(out, '.');
    size_t suffix = dot ? o - (size_t)(dot - out) : 0;
    if (suffix > 0 && suffix <= EXT_MAX + 1) {
      size_t stem = utf8_cut(out, o - suffix, NAME_MAX_BYTES - suffix);
      memmove(out + stem, out + o - suffix, suffix);
      o = stem + suffix;
    } else {
      o = utf8_cut(out, o, NAME_MAX_BYTES);
    }
  }
  out[o] = '\0';
  return o;
}

/* The extension: the part after the last '.', lowercased, when it is 1 to
 * EXT_MAX characters of [A-Za-z0-9]; "bin" otherwise. */
static void extension(char ext[EXT_MAX + 1], const char *name) {
  const char *dot = strrchr(name, '.');
  size_t n = 0;
  if (dot) {
    for (const char *p = dot + 1; *p; p++) {
      char c = *p;
      if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
      if (n == EXT_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
        n = 0; /* not an extension */
        break;
      }
      ext[n++] = c;
    }
  }
  if (n == 0)
    memcpy(ext, "bin", n = 3);
  ext[n] = '\0';
}

/* One plain folder name: [a-z0-9_-], 1 to 32 bytes. */
static int plain_segment(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
          s[n] == '_' || s[n] == '-'))
      return 0;
  return n >= 1 && n <= 32;
}

int docstore__storage_path(char **out, const char *file_id,
                           const char *filename, const char *user_id,
                           int64_t when, docstore__err *err) {
  return docstore__storage_path_in(out, file_id, filename, user_id, when, NULL,
                                   err);
}

int docstore__storage_path_in(char **out, const char *file_id,
                              const char *filename, const char *user_id,
                              int64_t when, const char *subfolder,
                              docstore__err *err) {
  char ext[EXT_MAX + 1];
  docstore__civil day;
  char *name = NULL;
  int rc;
  if (!out)
    return docstore__err_set(err, DOCSTORE_EINVAL, "storage path: out is NULL");
  *out = NULL;
  if (subfolder && *subfolder && !plain_segment(subfolder))
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "storage path: bad folder name");
  DOCSTORE__GUARD(docstore__id_check(file_id, "file_id", err));
  if (user_id)
    DOCSTORE__GUARD(docstore__id_check(user_id, "user_id", err));
  if (!filename)
    return docstore__err_set(err, DOCSTORE_EINVAL, "filename is NULL");
  if (docstore__time_to_civil(when, &day) < 0)
    return docstore__err_set(err, DOCSTORE_EINVAL,
                             "date %lld is outside the years 0000-9999",
                             (long long)when);
  size_t len = strlen(filename);
  name = docstore__alloc(len + 5);
  if (!name)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  sanitise(name, filename);
  extension(ext, name);
  int sub = subfolder && *subfolder;
  *out = docstore__sprintf("documents/%s%s/%04d/%02d/%02d/%s%s%s_%s_%s.json",
                           user_id ? "user_" : "system", user_id ? user_id : "",
                           day.year, day.month, day.day, sub ? subfolder : "",
                           sub ? "/" : "", file_id, name, ext);
  docstore_free(name);
  if (!*out)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  /* The rules above guarantee this; refuse rather than trust them. */
  docstore__err check;
  docstore__err_clear(&check);
  if ((rc = docstore__key_check(*out, &check)) < 0) {
    docstore_free(*out);
    *out = NULL;
    return docstore__err_set(err, rc, "storage path: internal error: %s",
                             check.msg);
  }
  return 0;
}

int docstore_storage_path(char **out, const char *file_id, const char *filename,
                          const char *user_id, int64_t when) {
  return docstore__storage_path(out, file_id, filename, user_id, when, NULL);
}
