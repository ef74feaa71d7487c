/*
 * libdocstore - operation counters (internal).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Lock-free counters per docstore_op, shared by the provider dispatch layer
 * (put/get/head/delete/list/presign) and the service (encrypt/decrypt/
 * fallback).  Implemented in metrics.c with C11 atomics.
 */
#ifndef DOCSTORE_METRICS_H
#define DOCSTORE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "docstore/common.h"

typedef struct docstore__op_counters {
  atomic_uint_fast64_t successes;
  atomic_uint_fast64_t failures;
  atomic_uint_fast64_t bytes;
  atomic_uint_fast64_t total_latency_us;
  atomic_uint_fast64_t retries;
} docstore__op_counters;

typedef struct docstore__metrics {
  docstore__op_counters ops[DOCSTORE_OP_COUNT_];
} docstore__metrics;

void docstore__metrics_init(docstore__metrics *m);
/* Record one call of `op`: rc 0 = success (bytes counted), else failure. */
void docstore__metrics_record(docstore__metrics *m, int op, int rc,
                              uint64_t bytes, uint64_t latency_us);
void docstore__metrics_add_retries(docstore__metrics *m, int op, uint64_t n);
/* Add every counter of src to dst (a service merges its provider's storage
 * counters with its own encrypt/decrypt/fallback counters). */
void docstore__metrics_merge(docstore__metrics *dst,
                             const docstore__metrics *src);
/* Fill a public stats struct (honours out->version). */
int docstore__metrics_get(const docstore__metrics *m, int op,
                          docstore_op_stats *out);
/* JSON object of all ops (library-owned string). */
int docstore__metrics_json(const docstore__metrics *m, char **out);
void docstore__metrics_reset(docstore__metrics *m);

#endif
