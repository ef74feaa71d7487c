/*
 * libdocstore - envelope parser: JSON text to a checked docstore__envelope.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The rules are those of docs/FORMAT.md ("Reading").  The parser looks at
 * "format" and "version" before anything else, so that a newer version is
 * reported as unsupported rather than malformed.
 *
 * The ciphertext is most of the text (base64 of the whole document), and
 * cJSON would copy it, unescaping byte by byte, at a fraction of the speed
 * of everything else.  So a small scanner first locates the top-level
 * "ciphertext" string; cJSON then parses the text with that string's
 * content left out (a copy of the few hundred bytes around it), and the
 * content is used in place.  This cannot change the meaning of the text:
 * the content removed holds no quote or backslash, and decryption later
 * accepts only base64 characters in it, so the text with and without it
 * is JSON alike.  When the scanner finds no such string (escapes in it, an
 * escaped member name), cJSON parses the whole text as usual.
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

static int kid_valid(const char *s) {
  return strlen(s) == DOCSTORE__KID_LEN &&
         memcmp(s, DOCSTORE__KID_PREFIX, 7) == 0 &&
         docstore__hex_is_lower(
             docstore__cursor_from(s + 7, DOCSTORE__KID_LEN - 7));
}

/* A string member, or EFORMAT (missing, or another JSON type). */
static int member_string(const char **out, cJSON *const *m,
                         docstore__member which, docstore__err *err) {
  const cJSON *item = m[which];
  *out = NULL;
  if (!item)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: missing member \"%s\"",
                             member_names[which]);
  if (!cJSON_IsString(item) || !item->valuestring)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"%s\" must be a string",
                             member_names[which]);
  *out = item->valuestring;
  return 0;
}

int docstore__member_b64(uint8_t *out, size_t *out_len, size_t min, size_t max,
                         cJSON *const *m, docstore__member which,
                         docstore__err *err) {
  const char *s;
  size_t n;
  *out_len = 0;
  DOCSTORE__GUARD(member_string(&s, m, which, err));
  size_t len = strlen(s);
  if (docstore__b64_decoded_len(&n, s, len) < 0 ||
      docstore__b64_decode(n >= min && n <= max ? out : NULL, &n, s, len, 1) <
          0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"%s\" is not valid base64",
                             member_names[which]);
  if (n < min || n > max)
    return docstore__err_set(
        err, DOCSTORE_EFORMAT,
        min == max ? "envelope: member \"%s\" must decode to %zu bytes, not %zu"
                   : "envelope: member \"%s\" must decode to at least %zu "
                     "bytes and at most %zu, not %zu",
        member_names[which], min, max, n);
  *out_len = n;
  return 0;
}

int docstore__member_gcm(docstore__envelope *env, cJSON *const *m,
                         size_t nonce_max, int validate_ct,
                         docstore__err *err) {
  const char *s;
  size_t n, tag_len;
  DOCSTORE__GUARD(docstore__member_b64(env->nonce, &env->nonce_len,
                                       DOCSTORE__GCM_NONCE_LEN, nonce_max, m,
                                       DOCSTORE__M_NONCE, err));
  if (env->nonce_len != DOCSTORE__GCM_NONCE_LEN &&
      env->nonce_len != DOCSTORE__LEGACY_NONCE_LEN)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"nonce\" must decode to 12 or 16 "
                             "bytes");
  DOCSTORE__GUARD(
      docstore__member_b64(env->tag, &tag_len, DOCSTORE__GCM_TAG_LEN,
                           DOCSTORE__GCM_TAG_LEN, m, DOCSTORE__M_TAG, err));
  DOCSTORE__GUARD(member_string(&s, m, DOCSTORE__M_CIPHERTEXT, err));
  size_t len = strlen(s);
  if (env->ct_outside.p) {
    /* cJSON saw the member with its content cut out. */
    if (len != 0)
      return docstore__err_set(err, DOCSTORE_EFORMAT,
                               "envelope: duplicate member \"ciphertext\"");
    s = env->ct_outside.p;
    len = env->ct_outside.len;
  }
  if (docstore__b64_decoded_len(&n, s, len) < 0 ||
      (validate_ct && docstore__b64_decode(NULL, &n, s, len, 1) < 0))
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"ciphertext\" is not valid "
                             "base64");
  if (n > DOCSTORE__PLAINTEXT_MAX)
    return docstore__err_set(err, DOCSTORE_ETOOBIG,
                             "envelope: ciphertext of %zu bytes exceeds the "
                             "1 GiB limit",
                             n);
  env->nonce_b64.p = m[DOCSTORE__M_NONCE]->valuestring;
  env->nonce_b64.len = strlen(env->nonce_b64.p);
  env->tag_b64.p = m[DOCSTORE__M_TAG]->valuestring;
  env->tag_b64.len = strlen(env->tag_b64.p);
  env->ct_b64.p = s;
  env->ct_b64.len = len;
  env->ct_len = n;
  return 0;
}

/* An identity member: a valid id string, or null when `nullable`. */
static int member_id(const char **out, cJSON *const *m, docstore__member which,
                     docstore__err *err) {
  const cJSON *item = m[which];
  *out = NULL;
  if (!item)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: missing member \"%s\"",
                             member_names[which]);
  if (cJSON_IsNull(item))
    return 0;
  if (!cJSON_IsString(item) || !docstore__id_valid(item->valuestring))
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: member \"%s\" must be null or 1 to 64 "
                             "characters from [A-Za-z0-9_-]",
                             member_names[which]);
  *out = item->valuestring;
  return 0;
}

/* "format" and "version": EUNSUPPORTED for a version other than 1. */
static int check_version(cJSON *const *m, docstore__err *err) {
  const char *format;
  DOCSTORE__GUARD(member_string(&format, m, DOCSTORE__M_FORMAT, err));
  if (strcmp(format, DOCSTORE__FORMAT_NAME) != 0)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"format\" is not \"%s\"",
                             DOCSTORE__FORMAT_NAME);
  const cJSON *v = m[DOCSTORE__M_VERSION];
  if (!v)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: missing member \"version\"");
  double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
  /* A non-negative integer; compared by value (1 and 1.0 are the same). */
  if (!(d >= 0.0 && d < 9.0e15) || (double)(long long)d != d)
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"version\" must be a non-negative "
                             "integer");
  if (d != 1.0)
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: format version %lld is not supported "
                             "(this library reads version 1)",
                             (long long)d);
  return 0;
}

static int parse_v1(docstore__envelope *env, cJSON *const *m, int validate_ct,
                    docstore__err *err) {
  const char *alg, *key_alg, *kid;
  DOCSTORE__GUARD(member_string(&alg, m, DOCSTORE__M_ALG, err));
  if (strcmp(alg, DOCSTORE__ALG_AES256GCM) == 0)
    env->alg = DOCSTORE__ALG_V1_AES256GCM;
  else if (strcmp(alg, DOCSTORE__ALG_AESGCM_NOAAD) == 0)
    env->alg = DOCSTORE__ALG_V1_NOAAD;
  else
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: algorithm \"%.64s\" is not supported",
                             alg);
  DOCSTORE__GUARD(member_string(&key_alg, m, DOCSTORE__M_KEY_ALG, err));
  if (strcmp(key_alg, DOCSTORE__KEY_ALG_OAEP256) != 0)
    return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                             "envelope: key algorithm \"%.64s\" is not "
                             "supported",
                             key_alg);
  DOCSTORE__GUARD(member_string(&kid, m, DOCSTORE__M_KID, err));
  if (!kid_valid(kid))
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope: \"kid\" must be \"sha256:\" and 64 "
                             "lowercase hex digits");
  env->kid = kid;

  DOCSTORE__GUARD(member_id(&env->file_id, m, DOCSTORE__M_FILE_ID, err));
  DOCSTORE__GUARD(member_id(&env->user_id, m, DOCSTORE__M_USER_ID, err));
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
  DOCSTORE__GUARD(docstore__member_gcm(env, m,
                                       env->alg == DOCSTORE__ALG_V1_NOAAD
                                           ? DOCSTORE__LEGACY_NONCE_LEN
                                           : DOCSTORE__GCM_NONCE_LEN,
                                       validate_ct, err));
  env->format = DOCSTORE_ENVELOPE_V1;
  return 0;
}

/* After a JSON syntax error: is this the opening of a newer version (for
 * instance a v2 header followed by binary frames)? */
static int looks_like_newer_version(const char *text, size_t len) {
  size_t p = sizeof(v1_prefix) - 1;
  if (len <= p || memcmp(text, v1_prefix, p) != 0)
    return 0;
  if (text[p] < '0' || text[p] > '9')
    return 0;
  /* "1" followed by a non-digit is version 1 (then merely malformed). */
  return !(text[p] == '1' &&
           (p + 1 >= len || text[p + 1] < '0' || text[p + 1] > '9'));
}

static int only_whitespace(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
      return 0;
  return 1;
}

/* From s (just after an opening quote), the index of the closing quote,
 * honouring backslash escapes.  0 when the string is unterminated. */
static int string_end(const char *t, size_t len, size_t s, size_t *e) {
  size_t i = s;
  while (i < len) {
    const char *q = memchr(t + i, '"', len - i);
    if (!q)
      return 0;
    size_t k = (size_t)(q - t), bs = 0;
    while (k - bs > s && t[k - 1 - bs] == '\\')
      bs++;
    if (bs % 2 == 0) {
      *e = k;
      return 1;
    }
    i = k + 1;
  }
  return 0;
}

/* The first '"' or '\\' in [p, end), or NULL.  The ciphertext is most of
 * an envelope: it is searched in pieces that stay in the CPU cache between
 * the two memchr() calls, so that it is read from memory once. */
#define SCAN_PIECE ((size_t)16 << 10)

static const char *quote_or_backslash(const char *p, const char *end) {
  while (p < end) {
    size_t n = (size_t)(end - p) < SCAN_PIECE ? (size_t)(end - p) : SCAN_PIECE;
    const char *q = memchr(p, '"', n);
    const char *b = memchr(p, '\\', q ? (size_t)(q - p) : n);
    if (b)
      return b;
    if (q)
      return q;
    p += n;
  }
  return NULL;
}

static size_t skip_ws(const char *t, size_t len, size_t i) {
  while (i < len &&
         (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

/* 1 when the text holds a NUL, raw or written \u0000.  cJSON keeps such a
 * string cut at the NUL ("123\u0000x" reads as "123", where any other
 * JSON reader sees a string that is no identity): no envelope member
 * holds one.  Backslashes outside strings are not JSON anyway, so every
 * backslash starts an escape. */
static int has_nul(const char *t, size_t len) {
  const char *p = t, *end = t + len;
  if (memchr(t, '\0', len))
    return 1;
  while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
    if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
      return 1;
    if (end - p < 2)
      break;
    p += 2; /* the escaped character starts no escape */
  }
  return 0;
}

/* The content [*start, *end) of the first member of the top-level object
 * spelled exactly "ciphertext" whose value is a string without escapes.
 * 0 when there is none (or the text is not JSON: cJSON will say so). */
static int find_ciphertext(const char *t, size_t len, size_t *start,
                           size_t *end) {
  size_t i = skip_ws(t, len, 0);
  int depth = 0;
  if (i >= len || t[i] != '{')
    return 0;
  while (i < len) {
    char c = t[i];
    if (c == '"') {
      size_t s = i + 1, e;
      if (!string_end(t, len, s, &e))
        return 0;
      i = e + 1;
      if (depth != 1 || e - s != 10 || memcmp(t + s, "ciphertext", 10) != 0)
        continue;
      size_t j = skip_ws(t, len, i);
      if (j >= len || t[j] != ':')
        continue; /* a value, not a member name */
      j = skip_ws(t, len, j + 1);
      if (j >= len || t[j] != '"')
        return 0;
      /* Its end, when no backslash comes first. */
      const char *q = quote_or_backslash(t + j + 1, t + len);
      if (!q || *q != '"')
        return 0;
      *start = j + 1;
      *end = (size_t)(q - t);
      return 1;
    }
    if (c == '{' || c == '[')
      depth++;
    else if ((c == '}' || c == ']') && --depth <= 0)
      return 0;
    i++;
  }
  return 0;
}

int docstore__envelope_parse(docstore__envelope *env, const char *text,
                             size_t text_len, int validate_ct,
                             docstore__err *err) {
  cJSON *m[DOCSTORE__M_COUNT] = {0};
  const char *end = NULL;
  int rc;

  memset(env, 0, sizeof(*env));
  if (!text)
    return docstore__err_set(err, DOCSTORE_EINVAL, "envelope text is NULL");
  if (text_len > DOCSTORE__ENVELOPE_MAX)
    return docstore__err_set(err, DOCSTORE_ETOOBIG,
                             "envelope of %zu bytes exceeds the 1.5 GiB limit",
                             text_len);
  if (text_len == 0)
    return docstore__err_set(err, DOCSTORE_EFORMAT, "envelope is empty");

  /* Parse the text without the ciphertext's content when it can be found
   * (see the top of this file). */
  const char *json = text;
  size_t json_len = text_len, cut_at = 0, cut = 0;
  char *hollow = NULL;
  if (find_ciphertext(text, text_len, &cut_at, &cut)) {
    cut -= cut_at;
    json_len = text_len - cut;
    hollow = docstore__alloc_ex(json_len,
                                DOCSTORE__MEM_PUBLIC | DOCSTORE__MEM_UNINIT);
    if (!hollow)
      return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
    memcpy(hollow, text, cut_at);
    memcpy(hollow + cut_at, text + cut_at + cut, text_len - cut_at - cut);
    json = hollow;
    env->ct_outside.p = text + cut_at;
    env->ct_outside.len = cut;
  }
  cJSON *root = cJSON_ParseWithLengthOpts(json, json_len, &end, 0);
  /* Offsets in `json` past the cut are `cut` bytes further in `text`. */
  size_t end_off = end && end >= json ? (size_t)(end - json) : 0;
  /* In the object's text; the ciphertext cut out is checked as base64. */
  int nul = root && has_nul(json, end_off);
  if (hollow && end_off > cut_at)
    end_off += cut;
  end = text + end_off;
  docstore_free(hollow);
  if (!root) {
    if (looks_like_newer_version(text, text_len))
      return docstore__err_set(err, DOCSTORE_EUNSUPPORTED,
                               "envelope: newer format version, not "
                               "supported by this library");
    return docstore__err_set(err, DOCSTORE_EFORMAT,
                             "envelope is not valid JSON (error at byte %zu)",
                             end_off);
  }
  env->json = root;
  if (!cJSON_IsObject(root)) {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "envelope is not a JSON object");
    goto fail;
  }
  for (cJSON *c = root->child; c; c = c->next) {
    for (int i = 0; i < DOCSTORE__M_COUNT; i++) {
      if (!c->string || strcmp(c->string, member_names[i]) != 0)
        continue;
      if (m[i]) {
        rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                               "envelope: duplicate member \"%s\"",
                               member_names[i]);
        goto fail;
      }
      m[i] = c;
    }
  }

  /* The version is checked first, so that a newer version followed by
   * data this reader does not understand is "unsupported", not malformed. */
  if (m[DOCSTORE__M_FORMAT])
    DOCSTORE__GUARD_GOTO(rc, check_version(m, err), fail);
  if (!only_whitespace(end, text + text_len)) {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "envelope: data after the JSON object");
    goto fail;
  }
  if (nul) {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "envelope: NUL character (raw or \\u0000) in a "
                           "string");
    goto fail;
  }
  if (m[DOCSTORE__M_FORMAT])
    DOCSTORE__GUARD_GOTO(rc, parse_v1(env, m, validate_ct, err), fail);
  else if (m[DOCSTORE__M_ENC_SESSION_KEY])
    DOCSTORE__GUARD_GOTO(rc, docstore__legacy_parse(env, m, validate_ct, err),
                         fail);
  else {
    rc = docstore__err_set(err, DOCSTORE_EFORMAT,
                           "not an envelope: neither \"format\" nor "
                           "\"enc_session_key\" is present");
    goto fail;
  }
  return 0;

fail:
  docstore__envelope_clear(env);
  return rc;
}

void docstore__envelope_clear(docstore__envelope *env) {
  if (!env)
    return;
  cJSON_Delete(env->json);
  memset(env, 0, sizeof(*env));
}
