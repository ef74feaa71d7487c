/*
 * docstore_stream_ops: small-document throughput of the service, for
 * bench/stream/stream_bench.sh.  Stores and reads back N documents of SIZE
 * bytes through docstore_service_store_document() / read_document() (the
 * wrappers of the streaming writer and reader), with the service built
 * from the environment (so DOCSTORE_ENVELOPE_VERSION picks v1 or v2), and
 * prints one line:  ops_per_second=<put+get pairs per second> n=<N>
 *   docstore_stream_ops N SIZE
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <docstore/docstore.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  docstore_config *cfg = NULL;
  docstore_service *svc = NULL;
  char err[1024] = "";
  int rc;
  if (argc != 3) {
    fprintf(stderr, "usage: docstore_stream_ops N SIZE\n");
    return 2;
  }
  long n = atol(argv[1]), size = atol(argv[2]);
  if (n < 1 || size < 1 || size > (1L << 24)) {
    fprintf(stderr, "docstore_stream_ops: N >= 1, 1 <= SIZE <= 16 MiB\n");
    return 2;
  }
  if ((rc = docstore_config_new(&cfg)) < 0 ||
      (rc = docstore_config_load_env(cfg)) < 0 ||
      (rc = docstore_service_from_config(&svc, cfg, err, sizeof(err))) < 0) {
    fprintf(stderr, "docstore_stream_ops: %s\n",
            err[0] ? err : docstore_strerror(rc));
    docstore_config_free(cfg);
    return 1;
  }
  uint8_t *doc = malloc((size_t)size);
  if (!doc)
    return 1;
  for (long i = 0; i < size; i++)
    doc[i] = (uint8_t)(i * 31 + 7);
  double t0 = now();
  for (long i = 0; i < n; i++) {
    char id[32], *path = NULL;
    uint8_t *back = NULL;
    size_t back_len = 0;
    snprintf(id, sizeof(id), "ops%ld", i);
    rc = docstore_service_store_document(svc, &path, id, "doc.bin", doc,
                                         (size_t)size, "bench");
    if (rc == 0)
      rc = docstore_service_read_document(svc, &back, &back_len, path, NULL);
    if (rc == 0 && (back_len != (size_t)size || memcmp(back, doc, back_len)))
      rc = DOCSTORE_EINTEGRITY;
    if (rc == 0)
      rc = docstore_service_delete(svc, path);
    docstore_free(back);
    docstore_free(path);
    if (rc < 0) {
      fprintf(stderr, "docstore_stream_ops: %s: %s\n", docstore_strerror(rc),
              docstore_service_errmsg(svc));
      break;
    }
  }
  double dt = now() - t0;
  if (rc == 0)
    printf("ops_per_second=%.1f n=%ld\n", (double)n / dt, n);
  free(doc);
  docstore_service_free(svc);
  docstore_config_free(cfg);
  return rc == 0 ? 0 : 1;
}
