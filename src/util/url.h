/*
 * libdocstore - strict URL parsing (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 *   scheme "://" host [":" port] [path] ["?" query]
 *
 * scheme: a letter, then letters, digits, '+', '-', '.'.  host: a DNS name
 * or IPv4 address (labels of [A-Za-z0-9_-], 1-63 bytes, 253 at most, no
 * empty label, no label starting or ending with '-'), or an IPv6 literal
 * in brackets (checked with inet_pton).  port: 1-65535, digits only.
 * Refused always: user information ("user:password@": it would be a
 * secret in a setting that is logged), a fragment ('#'), space, control
 * characters, and bytes above 0x7E (encode them).  The parts are cursors
 * into the input: nothing is copied or decoded.
 */
#ifndef DOCSTORE_UTIL_URL_H
#define DOCSTORE_UTIL_URL_H

#include <stdint.h>

#include "util/cursor.h"

typedef struct docstore__url {
  docstore__cursor scheme; /* as written ("HTTPS" stays so) */
  docstore__cursor host;   /* without the brackets of an IPv6 literal */
  int host_is_ipv6;        /* 1 for "[...]" */
  unsigned port;           /* 0 when the URL has none */
  docstore__cursor path;   /* "" or starting with '/' */
  docstore__cursor query;  /* after '?', "" when none */
} docstore__url;

/* Only scheme, host and port, with at most a lone trailing "/" (an
 * endpoint URL such as S3_ENDPOINT_URL). */
#define DOCSTORE__URL_ORIGIN_ONLY 0x1u

/* Parse `s` into *out.  0, or DOCSTORE_EINVAL with the reason in err
 * ("URL must start with scheme://", "URL must not contain a user name or
 * password", ...).  The message never repeats the URL, which may hold a
 * secret: callers add a shown form of their own. */
int docstore__url_parse(docstore__url *out, const char *s, unsigned flags,
                        docstore__err *err);

/* The default port of http (80) and https (443), 0 for another scheme. */
unsigned docstore__url_default_port(const docstore__url *u);

#endif /* DOCSTORE_UTIL_URL_H */
