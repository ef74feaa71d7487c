/*
 * libdocstore - .env file syntax.
 * SPDX-License-Identifier: Apache-2.0
 *
 * One setting per line:
 *
 *   # comment                    (and blank lines)
 *   NAME=value                   unquoted: trimmed; " #..." starts a comment
 *   export NAME=value            the shell's `export ` prefix is accepted
 *   NAME='value'                 single quotes: taken literally
 *   NAME="va\"lue\n"             double quotes: \n \t \r \" \\ escapes
 *
 * Lines end with LF or CRLF; a UTF-8 byte order mark at the start is
 * skipped.  A value cannot span lines.  Anything else is a syntax error
 * reported with its line number; values are never quoted in messages
 * (they may be secrets), nor is a line without '=' unless it reads like
 * a setting's name.
 */
#include <string.h>

#include "config_internal.h"

#define DOTENV_NAME_MAX 128

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/* A line without '=' may be the wrapped rest of a long value (a secret
 * key, a session token): its "name" is repeated in the message only when
 * it has the shape of a setting's name, uppercase letters, digits and
 * '_'. */
static int looks_like_setting(const char *name) {
  for (; *name; name++)
    if (!((*name >= 'A' && *name <= 'Z') || (*name >= '0' && *name <= '9') ||
          *name == '_'))
      return 0;
  return 1;
}

static int syntax_error(docstore__err *err, const char *origin, size_t line,
                        const char *what) {
  return docstore__err_set(err, DOCSTORE_ECONFIG, "%s:%zu: %s", origin, line,
                           what);
}

/* Decode the value that starts at p (line ends at end) into out. */
static int parse_value(const char *p, const char *end, docstore__buf *out,
                       const char *origin, size_t line, docstore__err *err) {
  out->len = 0;
  if (p < end && (*p == '"' || *p == '\'')) {
    char quote = *p++;
    int closed = 0;
    while (p < end) {
      char c = *p++;
      if (c == quote) {
        closed = 1;
        break;
      }
      if (quote == '"' && c == '\\' && p < end) {
        char e = *p++;
        switch (e) {
        case 'n':
          c = '\n';
          break;
        case 't':
          c = '\t';
          break;
        case 'r':
          c = '\r';
          break;
        case '"':
          c = '"';
          break;
        case '\\':
          c = '\\';
          break;
        default:
          /* Unknown escape: keep it as written. */
          if (docstore__buf_append(out, "\\", 1) < 0)
            return DOCSTORE_ENOMEM;
          c = e;
        }
      }
      if (docstore__buf_append(out, &c, 1) < 0)
        return DOCSTORE_ENOMEM;
    }
    if (!closed)
      return syntax_error(err, origin, line,
                          quote == '"' ? "unterminated double-quoted value"
                                       : "unterminated single-quoted value");
    while (p < end && is_blank(*p))
      p++;
    if (p < end && *p != '#')
      return syntax_error(err, origin, line,
                          "unexpected text after the closing quote");
  } else {
    /* Unquoted: up to a '#' that follows a blank, trailing blanks cut.
     * p[-1] exists: it is at least the '='. */
    const char *v = p, *stop = p;
    while (stop < end && !(*stop == '#' && is_blank(stop[-1])))
      stop++;
    while (stop > v && is_blank(stop[-1]))
      stop--;
    if (docstore__buf_append(out, v, (size_t)(stop - v)) < 0)
      return DOCSTORE_ENOMEM;
  }
  /* A C string even when empty (the buffer is reused line after line). */
  if (docstore__buf_reserve(out, 0) < 0)
    return DOCSTORE_ENOMEM;
  out->data[out->len] = '\0';
  return 0;
}

int docstore__dotenv_parse(const char *text, size_t len, const char *origin,
                           docstore__dotenv_cb cb, void *payload,
                           docstore__err *err) {
  docstore__buf value = DOCSTORE__BUF_INIT;
  char name[DOTENV_NAME_MAX + 1];
  size_t line = 0;
  int rc = 0;
  const char *p = text, *text_end = text + len;

  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  if (memchr(text, '\0', len)) {
    /* Name the line of the first NUL. */
    const char *nul = memchr(text, '\0', len);
    size_t n = 1;
    for (const char *q = text; q < nul; q++)
      n += *q == '\n';
    return syntax_error(err, origin, n, "NUL byte in file");
  }

  while (p < text_end) {
    const char *nl = memchr(p, '\n', (size_t)(text_end - p));
    const char *end = nl ? nl : text_end;
    const char *next = nl ? nl + 1 : text_end;
    line++;
    if (end > p && end[-1] == '\r')
      end--;

    while (p < end && is_blank(*p))
      p++;
    if (p == end || *p == '#') {
      p = next;
      continue;
    }
    if ((size_t)(end - p) > 7 && memcmp(p, "export", 6) == 0 &&
        is_blank(p[6])) {
      p += 7;
      while (p < end && is_blank(*p))
        p++;
    }
    if (p == end || !is_name_start(*p)) {
      rc = syntax_error(err, origin, line,
                        "expected NAME=value (a name is letters, digits "
                        "and '_', not starting with a digit)");
      goto done;
    }
    const char *n0 = p;
    while (p < end && is_name_char(*p))
      p++;
    size_t nlen = (size_t)(p - n0);
    if (nlen > DOTENV_NAME_MAX) {
      rc = syntax_error(err, origin, line, "variable name too long");
      goto done;
    }
    memcpy(name, n0, nlen);
    name[nlen] = '\0';
    while (p < end && is_blank(*p))
      p++;
    if (p == end || *p != '=') {
      rc = looks_like_setting(name)
               ? docstore__err_set(err, DOCSTORE_ECONFIG,
                                   "%s:%zu: missing '=' after %s", origin, line,
                                   name)
               : syntax_error(err, origin, line,
                              "missing '=' after the variable name");
      goto done;
    }
    p++;
    while (p < end && is_blank(*p))
      p++;
    DOCSTORE__GUARD_GOTO(rc, parse_value(p, end, &value, origin, line, err),
                         done);
    DOCSTORE__GUARD_GOTO(
        rc, cb(payload, name, (const char *)value.data, line, err), done);
    p = next;
  }

done:
  if (rc == DOCSTORE_ENOMEM && err && err->code != DOCSTORE_ENOMEM)
    docstore__err_set(err, DOCSTORE_ENOMEM, "%s:%zu: out of memory", origin,
                      line);
  docstore__buf_free(&value);
  return rc;
}
