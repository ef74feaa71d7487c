/*
 * Helpers shared by the S3 integration tests (label `s3`).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DOCSTORE_S3_ITEST_H
#define DOCSTORE_S3_ITEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "provider/provider_internal.h"
#include "docstore/docstore.h"
#include "s3/s3_internal.h"

/* The S3_* variables that tools/with-test-servers.sh exports.  Missing
 * variables are a test FAILURE (CI always provides them), never a skip. */
typedef struct itest_env {
  const char *bucket;
  const char *access_key;
  const char *secret_key;
  const char *region;
  const char *endpoint;
} itest_env;

/* Reads the environment; prints what is missing and returns -1 if
 * anything is. */
int itest_env_load(itest_env *env);

/* Options for the test server from env (strings borrowed), with quick
 * retries (max 3 attempts, 10-50 ms) so failures stay fast. */
docstore_s3_options itest_options(const itest_env *env);

/* A provider whose payload the test can inspect: *s3 stays valid until
 * docstore_provider_free(*out).  Fails the test on error. */
void itest_open(docstore_provider **out, docstore__s3 **s3,
                const docstore_s3_options *opts,
                const docstore__s3_tuning *tuning);
/* Same, but returns the constructor's code and message. */
int itest_try_open(docstore_provider **out, docstore__s3 **s3,
                   const docstore_s3_options *opts,
                   const docstore__s3_tuning *tuning, char *errbuf,
                   size_t errbuf_len);

/* A key prefix unique to this run: "itest-<pid>-<time>-<n>/". */
const char *itest_prefix(void);
/* prefix + name, malloc'd (free() it); prefix NULL: a new itest_prefix(). */
char *itest_key(const char *prefix, const char *name);

/* Deterministic pseudo-random bytes (xorshift). */
void itest_fill(uint8_t *buf, size_t len, uint64_t seed);

/* A TCP socket bound to 127.0.0.1 on a free port (*port), listening with
 * `backlog` unless backlog < 0. */
int itest_listener(int backlog, int *port);

/* A port on 127.0.0.1 with nothing listening (bound, then closed). */
int itest_closed_port(void);

/* Runs a shell command and captures its stdout (malloc'd, NUL-terminated)
 * and exit status.  Returns 0 if the command could be run. */
int itest_run(const char *cmd, char **out, int *status);

/* Fetches url with the curl program (extra: more arguments, may be NULL);
 * returns the HTTP status and, if body is not NULL, the body (malloc'd). */
int itest_curl(const char *url, const char *extra, char **body);
/* As itest_curl(), with the body's length (bodies may hold NUL bytes). */
int itest_curl_n(const char *url, const char *extra, char **body,
                 size_t *body_len);

/* Single-quotes s for a shell command line (malloc'd). */
char *itest_shell_quote(const char *s);

/* A fresh temporary folder (malloc'd path) and its recursive removal. */
char *itest_tmpdir(void);
void itest_rmtree(const char *path);

/* Counts log lines at WARN or above that contain `needle` (set with
 * itest_capture_logs). */
void itest_capture_logs(const char *needle);
int itest_captured(void);
void itest_restore_logs(void);

/* Begins a multipart upload of key, sends one small part and leaves it
 * open, as a writer killed mid-upload does.  Returns the upload id
 * (malloc'd); fails the test on error. */
char *itest_leave_upload(docstore__s3 *s3, const char *key);

/* A keyring with a fresh 2048-bit key pair (public and private). */
docstore_keyring *itest_keyring(void);

/* The retries counter of `op` in the provider's metrics. */
uint64_t itest_metric_retries(docstore_provider *p, int op);

#endif
