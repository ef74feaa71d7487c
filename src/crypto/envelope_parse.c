/*
 * libdocstore - envelope parser: JSON text to a checked docstore__envelope.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The rules are those of docs/FORMAT.md, section 7 ("Reading"), steps 1
 * to 5, in that order: the first failing step decides the error.
 *
 * The JSON reader is our own, not a general-purpose library, because the
 * format needs exactly RFC 8259 and no leniency (no byte-order mark, only
 * the four JSON whitespace bytes, no raw control character, valid UTF-8
 * in every string, no lone surrogate escape, numbers by the grammar), plus
 * the format's own rules (a nesting limit, duplicate member names refused
 * after unescaping in every object, U+0000 noted), and because the
 * ciphertext is most of the text: a string without escapes is used in
 * place, never copied.  Only the members of the envelope object are kept;
 * everything else is checked and skipped.
 */
#include <string.h>

#include "crypto_internal.h"
#include "util/hex.h"

static const char *const member_names[DOCSTORE__M_COUNT] = {
    "format", "version", "alg",        "key_alg",
    "kid",    "file_id", "user_id",    "wrapped_key",
    "nonce",  "tag",     "ciphertext", "enc_session_key"};

/* The v1 writer's exact opening bytes, up to the version number. */
static const char v1_prefix[] =
    "{\"format\":\"docstore-envelope\",\"version\":";

void docstore__aad_build(char out[DOCSTORE__AAD_MAX], size_t *out_len,
                         const char *file_id, const char *user_id) {
  int n =
      snprintf(out, DOCSTORE__AAD_MAX,
               DOCSTORE__FORMAT_NAME "\nversion=1\nalg=" DOCSTORE__ALG_AES256GCM
                                     "\nfile_id=%s\nuser_id=%s\n",
               file_id ? file_id : "", user_id ? user_id : "");
  /* Identity values are at most 64 characters: never truncated. */
  *out_len = n > 0 ? (size_t)n : 0;
}

/* ------------------------------------------------------------- JSON */

/* A member name seen in an open object: bytes [off, off + len) of
 * jreader.names (after unescaping). */
typedef struct jname {
  size_t off, len;
} jname;

typedef struct jreader {
  const unsigned char *t;
  size_t len, i;
  int depth;
  int has_nul; /* a string (name or value) holds U+0000 */
  int nomem;
  const char *why; /* first error, at byte `at` */
  size_t at;
  size_t names_total;
  docstore__buf names; /* jname records */
  docstore__buf name_bytes;
  docstore__envelope *env;
} jreader;

static int jfail(jreader *r, const char *why) {
  if (!r->why) {
    r->why = why;
    r->at = r->i;
  }
  return -1;
}

static int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(jreader *r) {
  while (r->i < r->len && is_ws(r->t[r->i]))
    r->i++;
}

/* Length of the UTF-8 sequence (RFC 3629) at p, or 0 when it is not one:
 * no overlong form, no surrogate, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0xC2 || c > 0xF4)
    return 0;
  if (c < 0xE0)
    return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
        (c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
      return 0;
    return 3;
  }
  if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
      (p[3] & 0xC0) != 0x80 || (c == 0xF0 && p[1] < 0x90) ||
      (c == 0xF4 && p[1] > 0x8F))
    return 0;
  return 4;
}

static int hex4(const unsigned char *p, unsigned *v) {
  *v = 0;
  for (int k = 0; k < 4; k++) {
    int d = docstore__hex_digit(p[k]);
    if (d < 0)
      return 0;
    *v = *v << 4 | (unsigned)d;
  }
  return 1;
}

/* Check the string whose opening quote is at r->i; on success r->i is
 * past the closing quote, [*s, *e) is the raw content and *escaped tells
 * whether it holds an escape.  On failure [*s, *e) is empty: every output
 * is defined on every path, so no caller depends on reading the return
 * code first. */
static int scan_string(jreader *r, size_t *s, size_t *e, int *escaped,
                       int *b64_chars) {
  const unsigned char *t = r->t;
  size_t i = ++r->i, n = r->len;
  *escaped = 0;
  *b64_chars = 0;
  *s = i;
  *e = i;
  /* Base64 text (the ciphertext is most of an envelope): one table lookup
   * per character, and the base64 check of step 5 is then done too. */
  i += docstore__b64_span((const char *)t + i, n - i);
  size_t pad = 0;
  while (pad < 2 && i + pad < n && t[i + pad] == '=')
    pad++;
  *b64_chars = i + pad < n && t[i + pad] == '"';
  if (*b64_chars) {
    *e = i + pad;
    r->i = i + pad + 1;
    return 0;
  }
  for (;;) {
    /* Printable ASCII other than '"' and '\\': most of the text. */
    while (i < n && t[i] >= 0x20 && t[i] < 0x80 && t[i] != '"' && t[i] != '\\')
      i++;
    r->i = i;
    if (i >= n)
      return jfail(r, "unterminated string");
    unsigned char c = t[i];
    if (c == '"')
      break;
    if (c < 0x20)
      return jfail(r, "control character in a string");
    if (c >= 0x80) {
      size_t k = utf8_seq(t + i, n - i);
      if (!k)
        return jfail(r, "invalid UTF-8");
      i += k;
      continue;
    }
    /* An escape. */
    *escaped = 1;
    if (i + 1 >= n)
      return jfail(r, "unterminated string");
    c = t[i + 1];
    if (c != 'u') {
      if (!strchr("\"\\/bfnrt", c) || c == '\0')
        return jfail(r, "invalid escape");
      i += 2;
      continue;
    }
    unsigned v, w;
    if (i + 6 > n || !hex4(t + i + 2, &v))
      return jfail(r, "invalid \\u escape");
    if (v >= 0xDC00 && v <= 0xDFFF)
      return jfail(r, "lone surrogate escape");
    if (v >= 0xD800 && v <= 0xDBFF) {
      if (i + 12 > n || t[i + 6] != '\\' || t[i + 7] != 'u' ||
          !hex4(t + i + 8, &w) || w < 0xDC00 || w > 0xDFFF)
        return jfail(r, "lone surrogate escape");
      i += 12;
      continue;
    }
    if (v == 0)
      r->has_nul = 1;
    i += 6;
  }
  *e = i;
  r->i = i + 1;
  return 0;
}

static void put_utf8(uint8_t *o, size_t *k, unsigned v) {
  if (v < 0x80) {
    o[(*k)++] = (uint8_t)v;
  } else if (v < 0x800) {
    o[(*k)++] = (uint8_t)(0xC0 | v >> 6);
    o[(*k)++] = (uint8_t)(0x80 | (v & 0x3F));
  } else if (v < 0x10000) {
    o[(*k)++] = (uint8_t)(0xE0 | v >> 12);
    o[(*k)++] = (uint8_t)(0x80 | ((v >> 6) & 0x3F));
    o[(*k)++] = (uint8_t)(0x80 | (v & 0x3F));
  } else {
    o[(*k)++] = (uint8_t)(0xF0 | v >> 18);
    o[(*k)++] = (uint8_t)(0x80 | ((v >> 12) & 0x3F));
    o[(*k)++] = (uint8_t)(0x80 | ((v >> 6) & 0x3F));
    o[(*k)++] = (uint8_t)(0x80 | (v & 0x3F));
  }
}

/* Unescape the content [s, e) that scan_string() accepted into out (room
 * for e - s bytes: unescaping never grows the text); *out_len its length. */
static void unescape(uint8_t *out, size_t *out_len, const unsigned char *t,
                     size_t s, size_t e) {
  size_t k = 0;
  for (size_t i = s; i < e;) {
    if (t[i] != '\\') {
      out[k++] = t[i++];
      continue;
    }
    unsigned char c = t[i + 1];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (c != 'u') {
      out[k++] = (uint8_t)to[strchr(from, c) - from];
      i += 2;
      continue;
    }
    unsigned v, w;
    (void)hex4(t + i + 2, &v);
    i += 6;
    if (v >= 0xD800 && v <= 0xDBFF) {
      (void)hex4(t + i + 2, &w);
      v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
      i += 6;
    }
    put_utf8(out, &k, v);
  }
  *out_len = k;
}

/* The member name at r->i: checked, unescaped into name_bytes, compared
 * with the names already seen in the same object (records from `first`).
 * *which: its envelope member, or DOCSTORE__M_COUNT. */
static int read_name(jreader *r, size_t first, int *which) {
  size_t s, e;
  int escaped;
  uint8_t tmp[DOCSTORE__JSON_MAX_NAME_LEN];
  size_t n;
  if (r->i >= r->len || r->t[r->i] != '"')
    return jfail(r, "expected a member name");
  size_t at = r->i;
  int b64_chars;
  if (scan_string(r, &s, &e, &escaped, &b64_chars) < 0)
    return -1;
  if (e - s > DOCSTORE__JSON_MAX_NAME_LEN * 6 ||
      ++r->names_total > DOCSTORE__JSON_MAX_NAMES) {
    r->i = at;
    return jfail(r, e - s > DOCSTORE__JSON_MAX_NAME_LEN * 6
                        ? "member name longer than 256 bytes"
                        : "more than 1024 member names");
  }
  if (escaped) {
    uint8_t *big = docstore__alloc_ex(e - s + 1, DOCSTORE__MEM_PUBLIC);
    if (!big) {
      r->nomem = 1;
      return jfail(r, "out of memory");
    }
    unescape(big, &n, r->t, s, e);
    if (n <= sizeof(tmp))
      memcpy(tmp, big, n);
    docstore_free(big);
  } else {
    n = e - s;
    if (n <= sizeof(tmp))
      memcpy(tmp, r->t + s, n);
  }
  if (n > DOCSTORE__JSON_MAX_NAME_LEN) {
    r->i = at;
    return jfail(r, "member name longer than 256 bytes");
  }
  const jname *seen = (const jname *)r->names.data;
  size_t count = r->names.len / sizeof(jname);
  for (size_t k = first; k < count; k++)
    if (seen[k].len == n &&
        memcmp(r->name_bytes.data + seen[k].off, tmp, n) == 0) {
      r->i = at;
      return jfail(r, "duplicate member name");
    }
  jname rec = {r->name_bytes.len, n};
  if (docstore__buf_append(&r->name_bytes, tmp, n) < 0 ||
      docstore__buf_append(&r->names, &rec, sizeof(rec)) < 0) {
    r->nomem = 1;
    return jfail(r, "out of memory");
  }
  *which = DOCSTORE__M_COUNT;
  if (r->depth == 1)
    for (int k = 0; k < DOCSTORE__M_COUNT; k++)
      if (strlen(member_names[k]) == n && memcmp(member_names[k], tmp, n) == 0)
        *which = k;
  return 0;
}

static int scan_number(jreader *r) {
  const unsigned char *t = r->t;
  size_t i = r->i, n = r->len;
  if (i < n && t[i] == '-')
    i++;
  if (i >= n || t[i] < '0' || t[i] > '9') {
    r->i = i;
    return jfail(r, "invalid number");
  }
  if (t[i] == '0')
    i++;
  else
    while (i < n && t[i] >= '0' && t[i] <= '9')
      i++;
  if (i < n && t[i] == '.') {
    i++;
    if (i >= n || t[i] < '0' || t[i] > '9') {
      r->i = i;
      return jfail(r, "invalid number");
    }
    while (i < n && t[i] >= '0' && t[i] <= '9')
      i++;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-'))
      i++;
    if (i >= n || t[i] < '0' || t[i] > '9') {
      r->i = i;
      return jfail(r, "invalid number");
    }
    while (i < n && t[i] >= '0' && t[i] <= '9')
      i++;
  }
  r->i = i;
  return 0;
}

static int read_value(jreader *r, docstore__jvalue *cap, int which);

/* An object or array whose opening bracket is at r->i. */
static int read_container(jreader *r) {
  int object = r->t[r->i] == '{';
  /* The text is bytes (unsigned char): compare it with a byte. */
  unsigned char close = object ? '}' : ']';
  size_t first = r->names.len / sizeof(jname);
  if (++r->depth > DOCSTORE__JSON_MAX_DEPTH)
    return jfail(r, "nested deeper than 64 levels");
  r->i++;
  skip_ws(r);
  if (r->i < r->len && r->t[r->i] == close) {
    r->i++;
    r->depth--;
    return 0;
  }
  for (;;) {
    int which = DOCSTORE__M_COUNT;
    if (object) {
      if (read_name(r, first, &which) < 0)
        return -1;
      skip_ws(r);
      if (r->i >= r->len || r->t[r->i] != ':')
        return jfail(r, "expected ':'");
      r->i++;
      skip_ws(r);
    }
    docstore__jvalue *cap =
        which < DOCSTORE__M_COUNT ? &r->env->m[which] : NULL;
    if (read_value(r, cap, which) < 0)
      return -1;
    skip_ws(r);
    if (r->i >= r->len)
      return jfail(r, "unexpected end of text");
    if (r->t[r->i] == close)
      break;
    if (r->t[r->i] != ',')
      return jfail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    r->i++;
    skip_ws(r);
  }
  r->i++;
  r->depth--;
  /* The names of this object are no longer needed. */
  if (object) {
    const jname *seen = (const jname *)r->names.data;
    if (first < r->names.len / sizeof(jname))
      r->name_bytes.len = seen[first].off;
    r->names.len = first * sizeof(jname);
  }
  return 0;
}

static int literal(jreader *r, const char *word) {
  size_t n = strlen(word);
  if (r->len - r->i < n || memcmp(r->t + r->i, word, n) != 0)
    return jfail(r, "invalid literal");
  r->i += n;
  return 0;
}

/* A value at r->i; cap (a member of the envelope object) receives its
 * kind and text. */
static int read_value(jreader *r, docstore__jvalue *cap, int which) {
  if (r->i >= r->len)
    return jfail(r, "unexpected end of text");
  size_t start = r->i;
  unsigned char c = r->t[r->i];
  docstore__jkind kind = DOCSTORE__J_OTHER;
  int rc;
  if (c == '"') {
    size_t s, e;
    int escaped, b64_chars;
    if (scan_string(r, &s, &e, &escaped, &b64_chars) < 0)
      return -1;
    if (cap) {
      cap->kind = DOCSTORE__J_STRING;
      cap->b64_chars = b64_chars;
      cap->text = docstore__cursor_from(r->t + s, e - s);
      if (escaped) {
        uint8_t *copy = docstore__alloc_ex(e - s + 1, DOCSTORE__MEM_PUBLIC);
        if (!copy) {
          r->nomem = 1;
          return jfail(r, "out of memory");
        }
        unescape(copy, &cap->text.len, r->t, s, e);
        copy[cap->text.len] = '\0';
        r->env->owned[which] = (char *)copy;
        cap->text.ptr = copy;
      }
    }
    return 0;
  }
  if (c == '{' || c == '[')
    rc = read_container(r);
  else if (c == '-' || (c >= '0' && c <= '9')) {
    rc = scan_number(r);
    kind = DOCSTORE__J_NUMBER;
  } else if (c == 'n') {
    rc = literal(r, "null");
    kind = DOCSTORE__J_NULL;
  } else if (c == 't')
    rc = literal(r, "true");
  else if (c == 'f')
    rc = literal(r, "false");
  else
    return jfail(r, c == 0xEF ? "byte-order mark or invalid byte"
                              : "invalid character");
  if (rc == 0 && cap) {
    cap->kind = kind;
    cap->text = docstore__cursor_from(r->t + start, r->i - start);
  }
  return rc;
}

/* ------------------------------------------------------------- members */

/* A string member, or EFORMAT (missing, or another JSON type). */
static int member_string(docstore__cursor *out, const docstore__jvalue *m,
                         docstore__member which, docstore__err *err) {
  *out = docstore__cursor_from(NULL, 0);
  if (m[which].kind == DOCSTORE__J_ABSENT)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: missing member \"%s\"",
                             member_names[which]);
  if (m[which].kind != DOCSTORE__J_STRING)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"%s\" must be a string",
                             member_names[which]);
  *out = m[which].text;
  return 0;
}

/* Section 3.1 for a string member; *n: its decoded length.  When the
 * reader saw only alphabet characters, the length, the padding and the
 * last quantum are all that is left to check. */
static int b64_check(size_t *n, const docstore__jvalue *v) {
  const char *s = (const char *)v->text.ptr;
  size_t len = v->text.len, last;
  DOCSTORE__GUARD(docstore__b64_decoded_len(n, s, len));
  if (!v->b64_chars)
    return docstore__b64_decode(NULL, n, s, len, 1);
  return len == 0 ? 0 : docstore__b64_decode(NULL, &last, s + len - 4, 4, 1);
}

int docstore__member_b64(uint8_t *out, size_t *out_len, size_t min, size_t max,
                         const docstore__jvalue *m, docstore__member which,
                         docstore__err *err) {
  docstore__cursor s;
  size_t n;
  *out_len = 0;
  DOCSTORE__GUARD(member_string(&s, m, which, err));
  const char *p = (const char *)s.ptr;
  if (docstore__b64_decoded_len(&n, p, s.len) < 0 ||
      docstore__b64_decode(n >= min && n <= max ? out : NULL, &n, p, s.len, 1) <
          0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"%s\" is not valid base64",
                             member_names[which]);
  if (n < min || n > max) {
    if (min == max)
      return docstore__err_set(
          err, DOCSTORE_EFORMAT,
          "envelope: member \"%s\" must decode to %zu bytes, not %zu",
          member_names[which], min, n);
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"%s\" must decode to %zu to "
                             "%zu bytes, not %zu",
                             member_names[which], min, max, n);
  }
  *out_len = n;
  return 0;
}

int docstore__member_gcm(docstore__envelope *env, size_t nonce_max,
                         docstore__err *err) {
  const docstore__jvalue *m = env->m;
  docstore__cursor s;
  size_t n, tag_len;
  DOCSTORE__GUARD(docstore__member_b64(env->nonce, &env->nonce_len,
                                       DOCSTORE__GCM_NONCE_LEN, nonce_max, m,
                                       DOCSTORE__M_NONCE, err));
  if (env->nonce_len != DOCSTORE__GCM_NONCE_LEN &&
      env->nonce_len != DOCSTORE__LEGACY_NONCE_LEN)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"nonce\" must decode to 12 or "
                             "16 bytes, not %zu",
                             env->nonce_len);
  DOCSTORE__GUARD(
      docstore__member_b64(env->tag, &tag_len, DOCSTORE__GCM_TAG_LEN,
                           DOCSTORE__GCM_TAG_LEN, m, DOCSTORE__M_TAG, err));
  DOCSTORE__GUARD(member_string(&s, m, DOCSTORE__M_CIPHERTEXT, err));
  if (b64_check(&n, &m[DOCSTORE__M_CIPHERTEXT]) < 0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"ciphertext\" is not valid "
                             "base64");
  if (n > DOCSTORE__PLAINTEXT_MAX)
    return docstore__err_set(err, DOCSTORE_ETOOBIG,
                             "envelope: ciphertext of %zu bytes exceeds the "
                             "1 GiB limit",
                             n);
  env->nonce_b64 = m[DOCSTORE__M_NONCE].text;
  env->tag_b64 = m[DOCSTORE__M_TAG].text;
  env->ct_b64 = s;
  env->ct_len = n;
  return 0;
}

/* An identity member: a valid id string (copied into buf), or null. */
static int member_id(const char **out, char buf[DOCSTORE__ID_MAX + 1],
                     const docstore__jvalue *m, docstore__member which,
                     docstore__err *err) {
  const docstore__jvalue *v = &m[which];
  *out = NULL;
  if (v->kind == DOCSTORE__J_ABSENT)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: missing member \"%s\"",
                             member_names[which]);
  if (v->kind == DOCSTORE__J_NULL)
    return 0;
  if (v->kind != DOCSTORE__J_STRING ||
      !docstore__id_valid_n((const char *)v->text.ptr, v->text.len) ||
      docstore__cursor_copy_cstr(buf, DOCSTORE__ID_MAX + 1, v->text) < 0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"%s\" must be null or 1 to 64 "
                             "characters from [A-Za-z0-9_-]",
                             member_names[which]);
  *out = buf;
  return 0;
}

/* Step 4: "format" and "version"; EUNSUPPORTED for a version other than
 * 1.  The version is compared as text: an integer written without sign,
 * fraction or exponent (the JSON grammar already refuses leading zeros). */
static int check_version(const docstore__jvalue *m, docstore__err *err) {
  docstore__cursor format;
  DOCSTORE__GUARD(member_string(&format, m, DOCSTORE__M_FORMAT, err));
  if (!docstore__cursor_eq_cstr(format, DOCSTORE__FORMAT_NAME))
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"format\" is not \"%s\"",
                             DOCSTORE__FORMAT_NAME);
  const docstore__jvalue *v = &m[DOCSTORE__M_VERSION];
  if (v->kind == DOCSTORE__J_ABSENT)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: missing member \"version\"");
  int integer = v->kind == DOCSTORE__J_NUMBER;
  for (size_t i = 0; integer && i < v->text.len; i++)
    integer = v->text.ptr[i] >= '0' && v->text.ptr[i] <= '9';
  if (!integer)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"version\" must be a non-negative "
                             "integer written with digits only");
  if (!docstore__cursor_eq_cstr(v->text, "1"))
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: format version %.*s%s is not "
                             "supported (this library reads version 1)",
                             (int)(v->text.len > 20 ? 20 : v->text.len),
                             (const char *)v->text.ptr,
                             v->text.len > 20 ? "..." : "");
  return 0;
}

static int kid_valid(docstore__cursor s) {
  return s.len == DOCSTORE__KID_LEN &&
         docstore__cursor_starts_with(s, DOCSTORE__KID_PREFIX) &&
         docstore__cursor_advance(&s, strlen(DOCSTORE__KID_PREFIX), NULL) ==
             0 &&
         docstore__hex_is_lower(s);
}

/* Step 5 for version 1, member by member in the order of FORMAT.md. */
static int parse_v1(docstore__envelope *env, docstore__err *err) {
  const docstore__jvalue *m = env->m;
  docstore__cursor alg, key_alg, kid;
  DOCSTORE__GUARD(member_string(&alg, m, DOCSTORE__M_ALG, err));
  if (docstore__cursor_eq_cstr(alg, DOCSTORE__ALG_AES256GCM))
    env->alg = DOCSTORE__ALG_V1_AES256GCM;
  else if (docstore__cursor_eq_cstr(alg, DOCSTORE__ALG_AESGCM_NOAAD))
    env->alg = DOCSTORE__ALG_V1_NOAAD;
  else
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: this \"alg\" is not supported");
  DOCSTORE__GUARD(member_string(&key_alg, m, DOCSTORE__M_KEY_ALG, err));
  if (!docstore__cursor_eq_cstr(key_alg, DOCSTORE__KEY_ALG_OAEP256))
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: this \"key_alg\" is not supported");
  DOCSTORE__GUARD(member_string(&kid, m, DOCSTORE__M_KID, err));
  if (!kid_valid(kid) ||
      docstore__cursor_copy_cstr(env->kid_buf, sizeof(env->kid_buf), kid) < 0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"kid\" must be \"sha256:\" and 64 "
                             "lowercase hex digits");
  env->kid = env->kid_buf;

  DOCSTORE__GUARD(
      member_id(&env->file_id, env->file_id_buf, m, DOCSTORE__M_FILE_ID, err));
  DOCSTORE__GUARD(
      member_id(&env->user_id, env->user_id_buf, m, DOCSTORE__M_USER_ID, err));
  if (!env->file_id && env->user_id)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"user_id\" is set but \"file_id\" is "
                             "null");
  if (env->alg == DOCSTORE__ALG_V1_NOAAD && env->file_id)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: an \"%s\" envelope binds no identity: "
                             "\"file_id\" and \"user_id\" must be null",
                             DOCSTORE__ALG_AESGCM_NOAAD);

  DOCSTORE__GUARD(docstore__member_b64(
      env->wrapped, &env->wrapped_len, DOCSTORE_RSA_MIN_BITS / 8,
      DOCSTORE__RSA_MAX_BYTES, m, DOCSTORE__M_WRAPPED_KEY, err));
  DOCSTORE__GUARD(docstore__member_gcm(env,
                                       env->alg == DOCSTORE__ALG_V1_NOAAD
                                           ? DOCSTORE__LEGACY_NONCE_LEN
                                           : DOCSTORE__GCM_NONCE_LEN,
                                       err));
  env->format = DOCSTORE_ENVELOPE_V1;
  return 0;
}

/* After step 2 failed: does the text begin with the v1 writer's prefix and
 * an integer version other than 1 (a newer version, for instance a v2
 * header followed by binary frames)?  The integer is the longest run of
 * digits after the prefix; it must be "0" or start with 1-9, and must not
 * be followed by '.', 'e' or 'E' (then it is no integer). */
static int looks_like_newer_version(const char *text, size_t len) {
  size_t p = sizeof(v1_prefix) - 1, q;
  if (len <= p || memcmp(text, v1_prefix, p) != 0)
    return 0;
  for (q = p; q < len && text[q] >= '0' && text[q] <= '9'; q++)
    ;
  if (q == p || (text[p] == '0' && q - p > 1))
    return 0;
  if (q < len && (text[q] == '.' || text[q] == 'e' || text[q] == 'E'))
    return 0;
  return !(q - p == 1 && text[p] == '1');
}

int docstore__envelope_parse(docstore__envelope *env, const char *text,
                             size_t text_len, docstore__err *err) {
  int rc;

  memset(env, 0, sizeof(*env));
  if (!text)
    return docstore__err_set(err, DOCSTORE_EINVAL, "envelope text is NULL");
  /* Step 1. */
  if (text_len > DOCSTORE__ENVELOPE_MAX)
    return docstore__err_set(err, DOCSTORE_ETOOBIG,
                             "envelope of %zu bytes exceeds the 1.5 GiB limit",
                             text_len);

  /* Step 2: one JSON object, after optional whitespace. */
  jreader r = {.t = (const unsigned char *)text,
               .len = text_len,
               .names = DOCSTORE__BUF_INIT_PUBLIC,
               .name_bytes = DOCSTORE__BUF_INIT_PUBLIC,
               .env = env};
  skip_ws(&r);
  int jrc;
  if (r.i < r.len && r.t[r.i] == '{')
    jrc = read_value(&r, NULL, DOCSTORE__M_COUNT);
  else if (r.i >= r.len)
    jrc = jfail(&r, text_len ? "no JSON value" : "empty text");
  else
    jrc = read_value(&r, NULL, DOCSTORE__M_COUNT) < 0
              ? -1
              : (r.i = 0, jfail(&r, "not a JSON object"));
  docstore__buf_free(&r.names);
  docstore__buf_free(&r.name_bytes);
  if (jrc < 0) {
    if (r.nomem)
      rc = docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    else if (looks_like_newer_version(text, text_len))
      rc = docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: newer format version, not "
                             "supported by this library");
    else
      rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope is not valid JSON (%s, at byte %zu)",
                             r.why, r.at);
    goto fail;
  }
  size_t end = r.i;

  /* Step 3: the kind. */
  const docstore__jvalue *m = env->m;
  int v1 = m[DOCSTORE__M_FORMAT].kind != DOCSTORE__J_ABSENT;
  if (!v1 && m[DOCSTORE__M_ENC_SESSION_KEY].kind == DOCSTORE__J_ABSENT) {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "not an envelope: neither \"format\" nor "
                           "\"enc_session_key\" is present");
    goto fail;
  }
  /* Step 4: the version (v1 only), then the text checks (both kinds). */
  if (v1)
    DOCSTORE__GUARD_GOTO(rc, check_version(m, err), fail);
  r.i = end;
  skip_ws(&r);
  if (r.i < r.len) {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "envelope: data after the JSON object (at byte "
                           "%zu)",
                           r.i);
    goto fail;
  }
  if (r.has_nul) {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "envelope: NUL character (\\u0000) in a string");
    goto fail;
  }
  /* Step 5: the members. */
  if (v1)
    DOCSTORE__GUARD_GOTO(rc, parse_v1(env, err), fail);
  else
    DOCSTORE__GUARD_GOTO(rc, docstore__legacy_parse(env, err), fail);
  return 0;

fail:
  docstore__envelope_clear(env);
  return rc;
}

void docstore__envelope_clear(docstore__envelope *env) {
  if (!env)
    return;
  for (int i = 0; i < DOCSTORE__M_COUNT; i++)
    docstore_free(env->owned[i]);
  memset(env, 0, sizeof(*env));
}
