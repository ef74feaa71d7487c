/*
 * libdocstore - helpers shared by the fuzz targets (tests/fuzz/).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput (and, when it needs
 * setup, LLVMFuzzerInitialize).  It is linked either with libFuzzer
 * (DOCSTORE_FUZZ=ON, clang) or with regress_main.c, which feeds it the
 * committed corpus in any build.  A broken property calls abort(), which
 * both report as a failure.
 */
#ifndef DOCSTORE_FUZZ_COMMON_H
#define DOCSTORE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__,      \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* A NUL-terminated copy of the input (malloc; abort when out of memory,
 * which is not what a target looks for). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    abort();
  if (size)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* Splits an input into fields separated by NUL bytes: fuzz_field() returns
 * the next field (a C string inside the copy) or NULL when the input is
 * used up. */
typedef struct fuzz_fields {
  char *buf;
  size_t pos, len;
} fuzz_fields;

static inline void fuzz_fields_init(fuzz_fields *f, const uint8_t *data,
                                    size_t size) {
  f->buf = fuzz_cstr(data, size);
  f->pos = 0;
  f->len = size;
}

static inline const char *fuzz_field(fuzz_fields *f) {
  if (f->pos > f->len)
    return NULL;
  const char *s = f->buf + f->pos;
  f->pos += strlen(s) + 1;
  return s;
}

static inline void fuzz_fields_free(fuzz_fields *f) {
  free(f->buf);
  f->buf = NULL;
}

/* 1 when needle (n bytes, n > 0) occurs in hay.  A plain loop on purpose:
 * libFuzzer hooks memmem/strstr and would learn the needle from them. */
static inline int fuzz_contains(const char *hay, const char *needle) {
  size_t n = strlen(needle), h = strlen(hay);
  if (n == 0 || n > h)
    return 0;
  for (size_t i = 0; i + n <= h; i++) {
    size_t k = 0;
    while (k < n && hay[i + k] == needle[k])
      k++;
    if (k == n)
      return 1;
  }
  return 0;
}

#ifdef DOCSTORE_CRYPTO_H
/* The envelope targets' keyring: the test-only private key of
 * tests/interop/fixtures/format_example_key.pem (the seeds are sealed
 * under it).  Aborts when it cannot be loaded. */
#ifndef DOCSTORE_SOURCE_DIR
#error "DOCSTORE_SOURCE_DIR must name the source tree"
#endif
#define FUZZ_KEY_FILE                                                          \
  DOCSTORE_SOURCE_DIR "/tests/interop/fixtures/format_example_key.pem"
static inline void fuzz_test_keyring(docstore_keyring **kr, char **key_id,
                                     const char *target) {
  if (docstore_keyring_new(kr, NULL, 0) != 0 ||
      docstore_keyring_add_private_file(*kr, key_id, FUZZ_KEY_FILE, NULL) !=
          0) {
    fprintf(stderr, "%s: cannot load %s: %s\n", target, FUZZ_KEY_FILE,
            docstore_last_errmsg());
    abort();
  }
}
#endif

#endif /* DOCSTORE_FUZZ_COMMON_H */
