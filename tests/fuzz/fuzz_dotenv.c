/*
 * libdocstore - fuzz target: the .env parser and configuration values.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The input is the text of a .env file.  It goes through the parser
 * itself (docstore__dotenv_parse, src/config/dotenv.c), then through
 * docstore_config_load_dotenv() from a file, which also checks every
 * known setting's value, then validate and dump.
 *
 * Properties:
 *  - every NAME=value the parser reports has a valid name (letters,
 *    digits, '_', not starting with a digit, at most 128), a line number
 *    that never goes back and does not pass the number of lines;
 *  - a syntax error is ECONFIG with a message "<origin>:<line>: ...", and
 *    the public loader fails with exactly the same message;
 *  - text the parser accepts loads, or fails with ECONFIG on a value,
 *    with the message naming the file and one of the parsed lines;
 *  - secrets (secret keys, session tokens, the key passphrase, access
 *    keys, endpoint URLs holding '@') never appear in an error message;
 *    the dump shows them as "****" (access keys: at most "AKIA****CDEF");
 *  - a successful load dumps successfully, and validate returns 0 or
 *    ECONFIG;
 *  - one schema: the provider options filled from a loaded configuration
 *    pass the providers' own option checks (S3: when it validates);
 *  - every value read can be written back: NAME="<value, with \\ \" \n
 *    \r escaped>" parses to the same value.
 */
#include <unistd.h>

#include "fuzz_common.h"

#include "config/config_internal.h"
#include "provider/local_settings.h"
#include "s3/s3_settings.h"

#define MAX_LINES 256

typedef struct seen {
  size_t count, last_line, lines;
  struct {
    char name[129];
    char *value;
    size_t line;
  } entries[MAX_LINES];
} seen;

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *dir = getenv("TMPDIR");
  snprintf(path, sizeof(path), "%s/docstore-fuzz-XXXXXX",
           dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("fuzz_dotenv: mkstemp");
    abort();
  }
  close(fd);
  return 0;
}

static void remove_file(void) {
  if (path[0])
    unlink(path);
}

static int is_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128 || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

static int on_line(void *payload, const char *name, const char *value,
                   size_t line, docstore__err *err) {
  seen *s = payload;
  (void)err;
  FUZZ_CHECK(is_name(name));
  FUZZ_CHECK(value != NULL);
  FUZZ_CHECK(line > s->last_line && line <= s->lines);
  s->last_line = line;
  if (s->count < MAX_LINES) {
    snprintf(s->entries[s->count].name, sizeof(s->entries[0].name), "%s", name);
    s->entries[s->count].value = strdup(value);
    if (!s->entries[s->count].value)
      abort();
    s->entries[s->count].line = line;
    s->count++;
  }
  return 0;
}

typedef struct one_value {
  const char *want;
  int calls;
} one_value;

static int on_written_line(void *payload, const char *name, const char *value,
                           size_t line, docstore__err *err) {
  one_value *o = payload;
  (void)name;
  (void)err;
  FUZZ_CHECK(line == 1);
  FUZZ_CHECK(strcmp(value, o->want) == 0);
  o->calls++;
  return 0;
}

/* Write NAME="value" with the escapes the parser knows, parse it back. */
static void check_written_back(const char *name, const char *value) {
  size_t n = strlen(value);
  char *line = malloc(strlen(name) + 2 * n + 5);
  FUZZ_CHECK(line != NULL);
  char *o = line + sprintf(line, "%s=\"", name);
  for (const char *p = value; *p; p++) {
    switch (*p) {
    case '\\':
      *o++ = '\\';
      *o++ = '\\';
      break;
    case '"':
      *o++ = '\\';
      *o++ = '"';
      break;
    case '\n':
      *o++ = '\\';
      *o++ = 'n';
      break;
    case '\r':
      *o++ = '\\';
      *o++ = 'r';
      break;
    default:
      *o++ = *p;
    }
  }
  *o++ = '"';
  *o = '\0';
  one_value one = {value, 0};
  docstore__err err;
  docstore__err_clear(&err);
  FUZZ_CHECK(docstore__dotenv_parse(line, (size_t)(o - line), "written",
                                    on_written_line, &one, &err) == 0);
  FUZZ_CHECK(one.calls == 1);
  free(line);
}

/* Settings whose values are never shown. */
static int is_secret(const char *name, const char *value) {
  static const char *const names[] = {"S3_SECRET_KEY",
                                      "S3_SESSION_TOKEN",
                                      "AWS_SECRET_ACCESS_KEY",
                                      "AWS_SESSION_TOKEN",
                                      "S3_ACCESS_KEY",
                                      "AWS_ACCESS_KEY_ID",
                                      "RSA_PRIVATE_KEY_PASSPHRASE"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(name, names[i]) == 0)
      return 1;
  return strcmp(name, "S3_ENDPOINT_URL") == 0 && strchr(value, '@');
}

/* A secret value worth looking for in messages: at least 12 characters
 * with a lowercase letter, an uppercase letter and a digit, not part of
 * the file's path, and not also given as another setting's value (which
 * may be shown). */
static int canary(const seen *s, size_t i) {
  const char *v = s->entries[i].value;
  int lower = 0, upper = 0, digit = 0;
  if (!is_secret(s->entries[i].name, v) || strlen(v) < 12)
    return 0;
  for (const char *p = v; *p; p++) {
    lower |= *p >= 'a' && *p <= 'z';
    upper |= *p >= 'A' && *p <= 'Z';
    digit |= *p >= '0' && *p <= '9';
  }
  if (!(lower && upper && digit) || fuzz_contains(path, v))
    return 0;
  for (size_t j = 0; j < s->count; j++)
    if (!is_secret(s->entries[j].name, s->entries[j].value) &&
        fuzz_contains(s->entries[j].value, v))
      return 0;
  /* Nor a piece of another line's "NAME=value" ("ORAGE_TYPE=s3" inside
   * "STORAGE_TYPE=s3"): changing it would change that line too. */
  for (size_t j = 0; j < s->count; j++) {
    if (strcmp(s->entries[j].value, v) == 0)
      continue;
    size_t n = strlen(s->entries[j].name) + strlen(s->entries[j].value) + 2;
    char *line = malloc(n);
    FUZZ_CHECK(line != NULL);
    snprintf(line, n, "%s=%s", s->entries[j].name, s->entries[j].value);
    int inside = fuzz_contains(line, v);
    free(line);
    if (inside)
      return 0;
  }
  return 1;
}

static void write_file(const uint8_t *data, size_t size);

/* The message of loading text (stage 0), or of validating it once loaded
 * (stage 1); "" when that succeeds.  malloc'd. */
static char *message_of(const uint8_t *text, size_t len, int stage) {
  docstore_config *cfg = NULL;
  write_file(text, len);
  FUZZ_CHECK(docstore_config_new(&cfg) == 0);
  int rc = docstore_config_load_dotenv(cfg, path);
  if (rc == 0 && stage == 1)
    rc = docstore_config_validate(cfg);
  char *m = strdup(rc < 0 ? docstore_config_errmsg(cfg) : "");
  docstore_config_free(cfg);
  FUZZ_CHECK(m != NULL);
  return m;
}

/* A secret found in msg may be there by coincidence (a message's own text
 * such as "STORAGE_TYPE=s3").  Change it wherever the file has it (same
 * length, letters' case swapped, digits moved on) and look again: if it
 * is gone from the message, the message was showing text of the file
 * that holds the secret (its value, or a wrapped rest of it). */
static void check_message(const seen *s, const uint8_t *data, size_t size,
                          int stage, const char *msg) {
  for (size_t i = 0; i < s->count; i++) {
    const char *v = s->entries[i].value;
    size_t vlen = strlen(v), changed = 0;
    if (!canary(s, i) || !fuzz_contains(msg, v))
      continue;
    uint8_t *other = malloc(size);
    FUZZ_CHECK(other != NULL);
    memcpy(other, data, size);
    for (size_t at = 0; at + vlen <= size; at++) {
      if (memcmp(data + at, v, vlen) != 0)
        continue;
      for (size_t k = at; k < at + vlen; k++) {
        uint8_t c = other[k];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
          other[k] = c ^ 0x20;
        else if (c >= '0' && c <= '9')
          other[k] = (uint8_t)('0' + (c - '0' + 1) % 10);
      }
      changed++;
      at += vlen - 1;
    }
    if (changed) {
      char *again = message_of(other, size, stage);
      FUZZ_CHECK(fuzz_contains(again, v));
      free(again);
    }
    free(other);
  }
}

/* In the dump, secrets show as "****" (or not set), access keys as at
 * most "AKIA****CDEF". */
static void check_dump(const char *dump) {
  static const char *const masked[] = {
      "S3_SECRET_KEY=", "S3_SESSION_TOKEN=", "RSA_PRIVATE_KEY_PASSPHRASE="};
  for (const char *line = dump; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    const char *v = memchr(line, '=', len);
    FUZZ_CHECK(v != NULL);
    v++;
    size_t vlen = (size_t)(line + len - v);
    for (size_t k = 0; k + 3 <= vlen; k++)
      if (memcmp(v + k, "  #", 3) == 0) {
        vlen = k;
        break;
      }
    for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++)
      if (strncmp(line, masked[i], strlen(masked[i])) == 0)
        FUZZ_CHECK(vlen == 0 || (vlen == 4 && memcmp(v, "****", 4) == 0));
    if (strncmp(line, "S3_ACCESS_KEY=", 14) == 0)
      FUZZ_CHECK(vlen == 0 || (vlen == 4 && memcmp(v, "****", 4) == 0) ||
                 (vlen == 12 && memcmp(v + 4, "****", 4) == 0));
    line += len + (nl != NULL);
  }
}

/* msg starts with "<path>:<line>: " for one of the lines parsed. */
static int names_parsed_line(const seen *s, const char *msg) {
  char prefix[96];
  for (size_t i = 0; i < s->count; i++) {
    snprintf(prefix, sizeof(prefix), "%s:%zu: ", path, s->entries[i].line);
    if (strncmp(msg, prefix, strlen(prefix)) == 0)
      return 1;
  }
  return s->count == MAX_LINES; /* later lines were not recorded */
}

static void write_file(const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror("fuzz_dotenv: cannot write the input file");
    abort();
  }
}

/* One schema: options filled from a configuration that validates pass
 * the providers' own checks, so a C caller and a .env file can never be
 * held to different rules. */
static void check_schema_agrees(const docstore_config *cfg, int vrc) {
  docstore__err e;
  docstore__err_clear(&e);
  docstore_local_options lo;
  FUZZ_CHECK(docstore__local_options_from_config(cfg, &lo) == 0);
  FUZZ_CHECK(docstore__local_options_check(&lo, &e) == 0);
  const char *type = docstore__config_effective(cfg, "STORAGE_TYPE", NULL);
  if (vrc != 0 || strcmp(type, "s3") != 0)
    return;
  docstore_s3_options so;
  FUZZ_CHECK(docstore__s3_options_from_config(cfg, &so) == 0);
  if (docstore__s3_options_check(&so, NULL, &e) != 0) {
    fprintf(stderr, "fuzz_dotenv: provider refuses a valid config: %s\n",
            e.msg);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int registered;
  static seen s;
  docstore__err err;
  docstore_config *cfg = NULL;
  const char *text = size ? (const char *)data : "";
  char prefix[96];

  if (!registered) {
    atexit(remove_file);
    registered = 1;
  }
  memset(&s, 0, sizeof(s));
  s.lines = 1;
  for (size_t i = 0; i < size; i++)
    s.lines += data[i] == '\n';
  docstore__err_clear(&err);

  int prc = docstore__dotenv_parse(text, size, path, on_line, &s, &err);
  FUZZ_CHECK(prc == 0 || prc == DOCSTORE_ECONFIG);
  if (prc < 0) {
    int n = snprintf(prefix, sizeof(prefix), "%s:", path);
    FUZZ_CHECK(err.code == prc);
    FUZZ_CHECK(strncmp(err.msg, prefix, (size_t)n) == 0);
  }

  for (size_t i = 0; i < s.count; i++)
    check_written_back(s.entries[i].name, s.entries[i].value);

  write_file(data, size);
  FUZZ_CHECK(docstore_config_new(&cfg) == 0);
  int lrc = docstore_config_load_dotenv(cfg, path);
  /* A copy: the message is in a per-thread buffer shared by handles. */
  char *msg = strdup(docstore_config_errmsg(cfg));
  FUZZ_CHECK(msg != NULL);
  /* Values are checked line by line as the text is parsed: the load stops
   * at the syntax error, or at a bad value on a line before it. */
  if (prc < 0)
    FUZZ_CHECK(lrc < 0);
  if (lrc < 0) {
    FUZZ_CHECK(lrc == DOCSTORE_ECONFIG);
    FUZZ_CHECK((prc < 0 && strcmp(msg, err.msg) == 0) ||
               names_parsed_line(&s, msg));
  }

  if (lrc == 0) {
    char *dump = NULL;
    int vrc = docstore_config_validate(cfg);
    FUZZ_CHECK(vrc == 0 || vrc == DOCSTORE_ECONFIG);
    FUZZ_CHECK(docstore_config_dump(cfg, &dump) == 0 && dump);
    check_dump(dump);
    docstore_free(dump);
    check_schema_agrees(cfg, vrc);
    if (vrc < 0) {
      free(msg);
      msg = strdup(docstore_config_errmsg(cfg));
      FUZZ_CHECK(msg != NULL);
    }
  }
  docstore_config_free(cfg);
  /* Last: it loads other texts from the same file. */
  check_message(&s, data, size, lrc == 0, msg);
  free(msg);
  for (size_t i = 0; i < s.count; i++)
    free(s.entries[i].value);
  return 0;
}
