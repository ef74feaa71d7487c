/*
 * libdocstore - strict URL parsing.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <string.h>

#include "util/url.h"

#define HOST_MAX 253
#define LABEL_MAX 63

static int is_alpha(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static int bad(docstore__err *err, const char *why) {
  return docstore__err_set(err, DOCSTORE_EINVAL, "URL %s", why);
}

static int parse_scheme(docstore__url *out, docstore__cursor *c,
                        docstore__err *err) {
  size_t i = 0;
  while (i < c->len && (is_alpha(c->ptr[i]) ||
                        (i > 0 && (is_digit(c->ptr[i]) || c->ptr[i] == '+' ||
                                   c->ptr[i] == '-' || c->ptr[i] == '.'))))
    i++;
  docstore__cursor rest = *c;
  docstore__cursor_advance(&rest, i, &out->scheme);
  if (i == 0 || !docstore__cursor_starts_with(rest, "://"))
    return bad(err, "must start with scheme:// (e.g. https://)");
  docstore__cursor_advance(&rest, 3, NULL);
  *c = rest;
  return 0;
}

static int check_name(docstore__cursor h, docstore__err *err) {
  if (h.len == 0)
    return bad(err, "needs a host name");
  if (h.len > HOST_MAX)
    return bad(err, "has a host name longer than 253 bytes");
  size_t label = 0;
  for (size_t i = 0; i <= h.len; i++) {
    uint8_t ch = i < h.len ? h.ptr[i] : '.';
    if (ch == '.') {
      if (label == 0)
        return bad(err, "has an empty label in its host name");
      if (h.ptr[i - 1] == '-' || h.ptr[i - label] == '-')
        return bad(err, "has a host name label starting or ending with '-'");
      label = 0;
    } else if (is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '_') {
      if (++label > LABEL_MAX)
        return bad(err, "has a host name label longer than 63 bytes");
    } else
      return bad(err, "has a character that is not allowed in a host name");
  }
  return 0;
}

static int parse_host(docstore__url *out, docstore__cursor *c,
                      docstore__err *err) {
  if (c->len > 0 && c->ptr[0] == '[') {
    size_t close = docstore__cursor_find(*c, ']');
    char text[64];
    struct in6_addr addr;
    if (close == c->len)
      return bad(err, "has an IPv6 address without its closing ']'");
    if (close - 1 == 0 || close - 1 >= sizeof(text))
      return bad(err, "has a malformed [IPv6] address");
    memcpy(text, c->ptr + 1, close - 1);
    text[close - 1] = '\0';
    if (strchr(text, '%') || inet_pton(AF_INET6, text, &addr) != 1)
      return bad(err, "has a malformed [IPv6] address");
    out->host = docstore__cursor_from(c->ptr + 1, close - 1);
    out->host_is_ipv6 = 1;
    docstore__cursor_advance(c, close + 1, NULL);
    return 0;
  }
  size_t i = 0;
  while (i < c->len && c->ptr[i] != ':' && c->ptr[i] != '/' && c->ptr[i] != '?')
    i++;
  docstore__cursor_advance(c, i, &out->host);
  return check_name(out->host, err);
}

static int parse_port(docstore__url *out, docstore__cursor *c,
                      docstore__err *err) {
  if (c->len == 0 || c->ptr[0] != ':')
    return 0;
  docstore__cursor_advance(c, 1, NULL);
  size_t i = 0;
  unsigned long v = 0;
  while (i < c->len && is_digit(c->ptr[i]) && i < 6)
    v = v * 10 + (unsigned long)(c->ptr[i++] - '0');
  if (i == 0 || i > 5 || v < 1 || v > 65535)
    return bad(err, "has a bad port (1-65535)");
  out->port = (unsigned)v;
  docstore__cursor_advance(c, i, NULL);
  return 0;
}

int docstore__url_parse(docstore__url *out, const char *s, unsigned flags,
                        docstore__err *err) {
  memset(out, 0, sizeof(*out));
  if (!s || !*s)
    return bad(err, "is empty");
  docstore__cursor c = docstore__cursor_from_cstr(s);
  for (size_t i = 0; i < c.len; i++)
    if (c.ptr[i] <= 0x20 || c.ptr[i] >= 0x7F)
      return bad(err, "has a space, control or non-ASCII character");
  if (docstore__cursor_find(c, '#') < c.len)
    return bad(err, "must not have a fragment ('#')");
  DOCSTORE__GUARD(parse_scheme(out, &c, err));
  /* The authority ends at the first '/' or '?'; an '@' in it is user
   * information. */
  size_t end = 0;
  while (end < c.len && c.ptr[end] != '/' && c.ptr[end] != '?')
    end++;
  if (end > 0 && memchr(c.ptr, '@', end))
    return bad(err, "must not contain a user name or password");
  DOCSTORE__GUARD(parse_host(out, &c, err));
  DOCSTORE__GUARD(parse_port(out, &c, err));
  if (c.len > 0 && c.ptr[0] != '/' && c.ptr[0] != '?')
    return bad(err, "has something after the host that is not a port, "
                    "path or query");
  size_t q = docstore__cursor_find(c, '?');
  docstore__cursor_advance(&c, q, &out->path);
  int has_query = c.len > 0;
  if (has_query) {
    docstore__cursor_advance(&c, 1, NULL);
    out->query = c;
  }
  if ((flags & DOCSTORE__URL_ORIGIN_ONLY) && (has_query || out->path.len > 1))
    return bad(err, "must be only scheme, host and port: no path, query or "
                    "fragment");
  return 0;
}

unsigned docstore__url_default_port(const docstore__url *u) {
  if (docstore__cursor_eq_cstr_nocase(u->scheme, "http"))
    return 80;
  if (docstore__cursor_eq_cstr_nocase(u->scheme, "https"))
    return 443;
  return 0;
}
