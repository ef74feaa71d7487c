/*
 * libdocstore - the settings schema: generic, table-driven checks.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Types, ranges, parsing and normalisation of setting values, the typed
 * check of an options struct, and filling one from a configuration.  No
 * setting is named here: the tables live with their providers
 * (settings.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/settings.h"
#include "util/url.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

void docstore__settings_echo(char *dst, size_t cap, const char *v) {
  size_t n = 0, i = 0;
  for (; v[i] && n + 4 < cap && i < 64; i++)
    dst[n++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
  if (v[i] && n + 4 <= cap) {
    memcpy(dst + n, "...", 3);
    n += 3;
  }
  dst[n] = '\0';
}

static int lower_eq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char c = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
    if (c != *b)
      return 0;
  }
  return *a == *b;
}

/* Index of v (case-insensitive) in a NULL-terminated list, or -1. */
static int choice(const char *v, const char *const *list) {
  for (int i = 0; list[i]; i++)
    if (lower_eq(v, list[i]))
      return i;
  return -1;
}

static const char *const bool_true[] = {"true", "1", "yes", "on", NULL};
static const char *const bool_false[] = {"false", "0", "no", "off", NULL};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits into *out; 0 on success, -1 if empty/not digits/overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  if (n == 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i]) || v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* "8388608", "8M", "8MiB", "512k": binary multiples only. */
static int parse_size(const char *s, uint64_t *out) {
  size_t n = 0;
  while (is_digit(s[n]))
    n++;
  uint64_t v, mult = 1;
  if (parse_u64(s, n, &v) < 0)
    return -1;
  const char *suffix = s + n;
  if (*suffix) {
    static const char *const names[] = {"k", "kib", "m", "mib",
                                        "g", "gib", NULL};
    static const uint64_t mults[] = {KIB, KIB, MIB, MIB, GIB, GIB};
    int i = choice(suffix, names);
    if (i < 0)
      return -1;
    mult = mults[i];
  }
  if (v > UINT64_MAX / mult)
    return -1;
  *out = v * mult;
  return 0;
}

static int has_control(const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return 1;
  return 0;
}

/* Printable ASCII without spaces. */
static int is_printable_token(const char *v) {
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f)
      return 0;
  return 1;
}

/* http(s)://host[:port][/] with a DNS name, IPv4 or [IPv6] host: util's
 * URL rule for an origin, and one of the two schemes S3 speaks.  Returns
 * 0, or -1 with the reason (no URL text in it) in why. */
static int check_url(const char *v, char *why, size_t why_cap) {
  docstore__err tmp;
  docstore__url u;
  if (strchr(v, '@')) {
    snprintf(why, why_cap,
             "must not contain user credentials (use "
             "S3_ACCESS_KEY and S3_SECRET_KEY)");
    return -1;
  }
  docstore__err_clear(&tmp);
  if (docstore__url_parse(&u, v, DOCSTORE__URL_ORIGIN_ONLY, &tmp) < 0) {
    const char *m = tmp.msg;
    if (strncmp(m, "URL ", 4) == 0) /* the label names it already */
      m += 4;
    snprintf(why, why_cap, "%s", m);
    return -1;
  }
  if (!docstore__cursor_eq_cstr_nocase(u.scheme, "http") &&
      !docstore__cursor_eq_cstr_nocase(u.scheme, "https")) {
    snprintf(why, why_cap, "must start with http:// or https://");
    return -1;
  }
  return 0;
}

/* A size for messages and docs: "5MiB", "5GiB", or plain bytes. */
static void fmt_size(char *dst, size_t cap, uint64_t v) {
  if (v && v % GIB == 0)
    snprintf(dst, cap, "%lluGiB", (unsigned long long)(v / GIB));
  else if (v && v % MIB == 0)
    snprintf(dst, cap, "%lluMiB", (unsigned long long)(v / MIB));
  else if (v && v % KIB == 0)
    snprintf(dst, cap, "%lluKiB", (unsigned long long)(v / KIB));
  else
    snprintf(dst, cap, "%llu", (unsigned long long)v);
}

int docstore__setting_parse_u64(const char *v, uint64_t *out) {
  return parse_size(v, out); /* sizes and plain integers alike */
}

/* Length of the choice starting at c (up to '|' or the end). */
static size_t seg_len(const char *c) {
  const char *bar = strchr(c, '|');
  return bar ? (size_t)(bar - c) : strlen(c);
}

/* Whether the choice c (n bytes) is a pattern "name:N". */
static int is_level_choice(const char *c, size_t n) {
  return n >= 2 && c[n - 2] == ':' && c[n - 1] == 'N';
}

/* Whether v (vlen bytes) matches the pattern choice c (n bytes): the same
 * "name:" and a decimal N in [min, max]; *level receives N. */
static int level_match(const docstore__setting *s, const char *c, size_t n,
                       const char *v, size_t vlen, uint64_t *level) {
  size_t head = n - 1; /* "name:" */
  return vlen > head && vlen - head <= 8 && strncasecmp(c, v, head) == 0 &&
         parse_u64(v + head, vlen - head, level) == 0 &&
         *level >= s->info.min && *level <= s->info.max;
}

/* Index of v among s's choices "a|b|c" (case-insensitive; a choice
 * "name:N" takes "name:" and a number in [min, max]), or -1. */
static int choice_in(const docstore__setting *s, const char *v, size_t vlen) {
  int i = 0;
  uint64_t level;
  for (const char *c = s->info.choices; c; i++) {
    size_t n = seg_len(c);
    if ((n == vlen && strncasecmp(c, v, n) == 0) ||
        (is_level_choice(c, n) && level_match(s, c, n, v, vlen, &level)))
      return i;
    c = c[n] ? c + n + 1 : NULL;
  }
  return -1;
}

/* Start of the i-th choice of s. */
static const char *choice_at(const docstore__setting *s, int i) {
  const char *c = s->info.choices;
  for (int k = 0; k < i; k++)
    c += seg_len(c) + 1;
  return c;
}

/* The choice "name:N" of s, or NULL. */
static const char *level_choice(const docstore__setting *s) {
  for (const char *c = s->info.choices; c;) {
    size_t n = seg_len(c);
    if (is_level_choice(c, n))
      return c;
    c = c[n] ? c + n + 1 : NULL;
  }
  return NULL;
}

/* v, or the target of its alias ("warning=warn,..."): *len receives its
 * length. */
static const char *unalias(const docstore__setting *s, const char *v,
                           size_t *len) {
  *len = strlen(v);
  if (choice_in(s, v, *len) >= 0)
    return v;
  for (const char *a = s->aliases; a && *a;) {
    const char *eq = strchr(a, '=');
    const char *end = strchr(a, ',');
    if ((size_t)(eq - a) == strlen(v) && strncasecmp(a, v, strlen(v)) == 0) {
      *len = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
      return eq + 1;
    }
    a = end ? end + 1 : NULL;
  }
  return v;
}

int docstore__setting_choice(const docstore__setting *s, const char *v) {
  size_t len;
  if (!s->info.choices || !v)
    return -1;
  v = unalias(s, v, &len);
  return choice_in(s, v, len);
}

int docstore__setting_level(const docstore__setting *s, const char *v) {
  size_t len;
  uint64_t level = 0;
  const char *c;
  if (!s->info.choices || !v)
    return 0;
  v = unalias(s, v, &len);
  int i = choice_in(s, v, len);
  if (i < 0)
    return 0;
  c = choice_at(s, i);
  if (!is_level_choice(c, seg_len(c)) ||
      !level_match(s, c, seg_len(c), v, len, &level))
    return 0;
  return (int)level;
}

/* "'a', 'b' or 'c'" */
static void fmt_choices(char *dst, size_t cap, const char *list) {
  size_t n = 0;
  dst[0] = '\0';
  for (const char *c = list; c && n + 1 < cap;) {
    size_t len = seg_len(c);
    const char *next = c[len] ? c + len + 1 : NULL;
    int w = snprintf(dst + n, cap - n, "%s'%.*s'",
                     n == 0 ? "" : (next ? ", " : " or "), (int)len, c);
    if (w < 0)
      break;
    n += (size_t)w;
    c = next;
  }
}

static int range_err(const docstore__setting *s, const char *label,
                     const char *shown, int parsed, uint64_t n,
                     docstore__err *err) {
  const char *where = !parsed           ? ""
                      : n < s->info.min ? " (below the minimum)"
                                        : " (above the maximum)";
  if (s->info.type == DOCSTORE_SETTING_UINT)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "%s must be an integer from %llu to %llu, "
                             "got '%s'%s",
                             label, (unsigned long long)s->info.min,
                             (unsigned long long)s->info.max, shown, where);
  char lo[32], hi[32];
  fmt_size(lo, sizeof(lo), s->info.min);
  fmt_size(hi, sizeof(hi), s->info.max);
  return docstore__err_set(err, DOCSTORE_ECONFIG,
                           "%s must be a size from %s to %s (bytes, or a "
                           "number with a K, M or G suffix, powers of 1024), "
                           "got '%s'%s",
                           label, lo, hi, shown, where);
}

int docstore__setting_check(const docstore__setting *s, const char *label,
                            const char *value, char **out, docstore__err *err) {
  char shown[80], norm_buf[64];
  const char *norm = value;
  uint64_t n = 0;

  *out = NULL;
  if (!value || !*value)
    return 0;
  if (strlen(value) > 8192)
    return docstore__err_set(err, DOCSTORE_ECONFIG,
                             "%s is too long (more than 8192 bytes)", label);
  docstore__settings_echo(shown, sizeof(shown), value);

  switch (s->info.type) {
  case DOCSTORE_SETTING_CHOICE: {
    int i = docstore__setting_choice(s, value);
    if (i < 0) {
      char list[160], range[64] = "";
      fmt_choices(list, sizeof(list), s->info.choices);
      if (level_choice(s))
        snprintf(range, sizeof(range), " (N from %llu to %llu)",
                 (unsigned long long)s->info.min,
                 (unsigned long long)s->info.max);
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be %s%s, got '%s'", label, list, range,
                               shown);
    }
    const char *c = choice_at(s, i);
    size_t clen = seg_len(c);
    if (is_level_choice(c, clen)) /* "name:" and the level, as a number */
      snprintf(norm_buf, sizeof(norm_buf), "%.*s%d", (int)(clen - 1), c,
               docstore__setting_level(s, value));
    else
      snprintf(norm_buf, sizeof(norm_buf), "%.*s", (int)clen, c);
    norm = norm_buf;
    break;
  }
  case DOCSTORE_SETTING_BOOL:
    if (choice(value, bool_true) >= 0)
      norm = "true";
    else if (choice(value, bool_false) >= 0)
      norm = "false";
    else
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be 'true' or 'false', got '%s'", label,
                               shown);
    break;
  case DOCSTORE_SETTING_UINT:
  case DOCSTORE_SETTING_SIZE: {
    int ok = (s->info.type == DOCSTORE_SETTING_UINT
                  ? parse_u64(value, strlen(value), &n)
                  : parse_size(value, &n)) == 0;
    if (!ok || n < s->info.min || n > s->info.max)
      return range_err(s, label, shown, ok, n, err);
    if ((s->iflags & DOCSTORE__S_POW2) && (n & (n - 1)) != 0)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a power of two, got '%s'", label,
                               shown);
    break;
  }
  case DOCSTORE_SETTING_REGION: {
    size_t len = strlen(value);
    int ok = len <= 64;
    for (const char *p = value; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '-';
    if (!ok)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a region name like 'us-east-1' "
                               "(lowercase letters, digits and '-'), got '%s'",
                               label, shown);
    break;
  }
  case DOCSTORE_SETTING_URL: {
    char why[DOCSTORE__ERRMSG_MAX];
    if (check_url(value, why, sizeof(why)) < 0) {
      if (strchr(value, '@')) /* may hold a password: do not echo */
        return docstore__err_set(err, DOCSTORE_ECONFIG, "%s %s", label, why);
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s %s, e.g. http://minio:9000 or "
                               "https://s3.amazonaws.com; got '%s'",
                               label, why, shown);
    }
    break;
  }
  case DOCSTORE_SETTING_BUCKET: {
    size_t len = strlen(value);
    int ok = len >= 3 && len <= 255;
    for (const char *p = value; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           is_digit(*p) || *p == '.' || *p == '-' || *p == '_';
    if (ok) {
      char first = value[0], last = value[len - 1];
      ok = first != '.' && first != '-' && last != '.' && last != '-';
    }
    if (!ok)
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a bucket name (3 to 255 letters, "
                               "digits, '.', '-' or '_', starting and ending "
                               "with a letter or digit), got '%s'",
                               label, shown);
    break;
  }
  case DOCSTORE_SETTING_PATH:
    if (has_control(value))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be a path without control characters",
                               label);
    break;
  case DOCSTORE_SETTING_TOKEN:
    if (!is_printable_token(value))
      return docstore__err_set(err, DOCSTORE_ECONFIG,
                               "%s must be printable ASCII without spaces "
                               "(value not shown)",
                               label);
    break;
  default: /* DOCSTORE_SETTING_TEXT */
    if (has_control(value))
      return docstore__err_set(
          err, DOCSTORE_ECONFIG, "%s must not contain control characters%s",
          label,
          (s->info.flags & DOCSTORE_SETTING_SECRET) ? " (value not shown)"
                                                    : "");
    break;
  }

  *out = docstore__strdup(norm);
  if (!*out)
    return docstore__err_set(err, DOCSTORE_ENOMEM, "out of memory");
  return 0;
}

/* ------------------------------------------------- typed options struct */

static int lands_in(const docstore__setting *s, size_t opts_size) {
  size_t w = 0;
  switch (s->land) {
  case DOCSTORE__LAND_NONE:
    return 0;
  case DOCSTORE__LAND_STR:
    w = sizeof(const char *);
    break;
  case DOCSTORE__LAND_UINT:
    w = sizeof(unsigned int);
    break;
  case DOCSTORE__LAND_U64:
    w = sizeof(uint64_t);
    break;
  default:
    w = sizeof(int);
    break;
  }
  return s->offset + w <= opts_size;
}

int docstore__settings_check_opts(const docstore__setting *items, size_t n,
                                  const void *opts, size_t opts_size,
                                  docstore__err *err) {
  const unsigned char *base = opts;
  for (size_t i = 0; i < n; i++) {
    const docstore__setting *s = &items[i];
    char label[128], num[32], *norm = NULL;
    const char *value = NULL;
    if (!lands_in(s, opts_size))
      continue;
    snprintf(label, sizeof(label), "%s (setting %s)", s->info.field,
             s->info.name);
    const void *f = base + s->offset;
    switch (s->land) {
    case DOCSTORE__LAND_STR:
      memcpy(&value, f, sizeof(value));
      break;
    case DOCSTORE__LAND_UINT: {
      unsigned int u;
      memcpy(&u, f, sizeof(u));
      if (u) /* 0: the default */
        snprintf(num, sizeof(num), "%u", u), value = num;
      break;
    }
    case DOCSTORE__LAND_U64: {
      uint64_t u;
      memcpy(&u, f, sizeof(u));
      if (u)
        snprintf(num, sizeof(num), "%llu", (unsigned long long)u), value = num;
      break;
    }
    case DOCSTORE__LAND_CHOICE: {
      int c;
      memcpy(&c, f, sizeof(c));
      size_t count = 1;
      for (const char *p = s->info.choices; p && *p; p++)
        count += *p == '|';
      if (c < 0 || (size_t)c >= count)
        return docstore__err_set(err, DOCSTORE_EINVAL, "%s: unknown value %d",
                                 label, c);
      break;
    }
    case DOCSTORE__LAND_LEVEL: {
      int c;
      memcpy(&c, f, sizeof(c));
      const char *pat = level_choice(s);
      if (c != 0 && pat) { /* 0: off */
        snprintf(num, sizeof(num), "%.*s%d", (int)(seg_len(pat) - 1), pat, c);
        value = num;
      }
      break;
    }
    default: /* booleans: every int is one */
      break;
    }
    if (value) {
      DOCSTORE__GUARD(docstore__setting_check(s, label, value, &norm, err));
      docstore_free(norm);
    }
  }
  return 0;
}

/* ----------------------------------------------------- filling options */

int docstore__settings_fill(const docstore__setting *items, size_t n,
                            const struct docstore_config *cfg, void *opts,
                            size_t opts_size) {
  unsigned char *base = opts;
  if (!cfg || !opts)
    return DOCSTORE_EINVAL;
  for (size_t i = 0; i < n; i++) {
    const docstore__setting *s = &items[i];
    if (!lands_in(s, opts_size))
      continue;
    const char *v = (s->iflags & DOCSTORE__S_UNSET_ZERO)
                        ? docstore__config_raw(cfg, s->info.name)
                        : docstore__config_effective(cfg, s->info.name, NULL);
    void *f = base + s->offset;
    uint64_t u = 0;
    int b;
    if (v &&
        (s->land == DOCSTORE__LAND_UINT || s->land == DOCSTORE__LAND_U64) &&
        parse_size(v, &u) < 0)
      u = 0;
    switch (s->land) {
    case DOCSTORE__LAND_STR:
      memcpy(f, &v, sizeof(v));
      break;
    case DOCSTORE__LAND_UINT: {
      unsigned int w = u > UINT32_MAX ? 0 : (unsigned int)u;
      memcpy(f, &w, sizeof(w));
      break;
    }
    case DOCSTORE__LAND_U64:
      memcpy(f, &u, sizeof(u));
      break;
    case DOCSTORE__LAND_CHOICE:
      b = v ? docstore__setting_choice(s, v) : 0;
      b = b < 0 ? 0 : b;
      memcpy(f, &b, sizeof(b));
      break;
    case DOCSTORE__LAND_LEVEL:
      b = v ? docstore__setting_level(s, v) : 0;
      memcpy(f, &b, sizeof(b));
      break;
    case DOCSTORE__LAND_BOOL:
    case DOCSTORE__LAND_NOT_BOOL:
      b = v && strcmp(v, "true") == 0;
      if (s->land == DOCSTORE__LAND_NOT_BOOL)
        b = v ? !b : 0;
      memcpy(f, &b, sizeof(b));
      break;
    default:
      break;
    }
  }
  return 0;
}

/* ----------------------------------------------------------- catalogue */

size_t docstore__catalog_count(const docstore__catalog *cat) {
  size_t n = 0;
  for (size_t t = 0; cat && t < cat->ntables; t++)
    n += cat->tables[t]->n;
  return n;
}

const docstore__setting *docstore__catalog_at(const docstore__catalog *cat,
                                              size_t index) {
  for (size_t t = 0; cat && t < cat->ntables; t++) {
    if (index < cat->tables[t]->n)
      return &cat->tables[t]->items[index];
    index -= cat->tables[t]->n;
  }
  return NULL;
}

const docstore__setting *docstore__catalog_find(const docstore__catalog *cat,
                                                const char *name,
                                                size_t *index) {
  size_t base = 0;
  for (size_t t = 0; cat && name && t < cat->ntables; t++) {
    const docstore__settings_table *tab = cat->tables[t];
    for (size_t i = 0; i < tab->n; i++)
      if (strcmp(tab->items[i].info.name, name) == 0) {
        if (index)
          *index = base + i;
        return &tab->items[i];
      }
    base += tab->n;
  }
  return NULL;
}
