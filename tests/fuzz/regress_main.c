/*
 * libdocstore - runs a fuzz target over files, without libFuzzer.
 * SPDX-License-Identifier: Apache-2.0
 *
 *   fuzz_<name>_regress FILE_OR_FOLDER...
 *
 * Every regular file (folders: their files, in name order, not recursing)
 * is read into a buffer of exactly its size and given to
 * LLVMFuzzerTestOneInput, as libFuzzer would.  A broken property aborts;
 * otherwise the exit status is 0 when at least one file was run.  This is
 * how the committed corpora run as ordinary tests in every build (gcc
 * included), and how a crash file is replayed under a debugger.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

/* Targets that need no setup do not define it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  uint8_t *data = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *p = realloc(data, cap);
      if (!p) {
        fprintf(stderr, "%s: out of memory\n", path);
        free(data);
        fclose(f);
        return -1;
      }
      data = p;
    }
    size_t n = fread(data + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: read error\n", path);
    free(data);
    return -1;
  }
  /* An exact-size copy, so that AddressSanitizer sees any over-read. */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) {
    free(data);
    return -1;
  }
  if (len)
    memcpy(exact, data, len);
  free(data);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count) {
  DIR *d = opendir(dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  if (!d) {
    perror(dir);
    return -1;
  }
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **p = realloc(names, cap * sizeof(*names));
      if (!p) {
        rc = -1;
        break;
      }
      names = p;
    }
    if (!(names[n] = strdup(e->d_name))) {
      rc = -1;
      break;
    }
    n++;
  }
  closedir(d);
  if (rc == 0)
    qsort(names, n, sizeof(*names), by_name);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    if (rc == 0 &&
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
            sizeof(path) &&
        stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(path) < 0)
        rc = -1;
      else
        (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  size_t count = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      if (run_dir(argv[i], &count) < 0)
        return 1;
    } else {
      if (run_file(argv[i]) < 0)
        return 1;
      count++;
    }
  }
  printf("%zu input(s) run without a broken property\n", count);
  return count > 0 ? 0 : 1;
}
