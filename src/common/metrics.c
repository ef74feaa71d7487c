/*
 * libdocstore - operation counters.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every counter is an independent relaxed atomic: a reader may see a
 * success counted before its latency, never a torn value.  That is all
 * monitoring needs, and it keeps the hot path free of locks.
 */
#include <inttypes.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "metrics.h"

static const char *const op_names[DOCSTORE_OP_COUNT_] = {
    "put",     "get",     "head",    "delete",   "list",
    "presign", "encrypt", "decrypt", "fallback",
};

const char *docstore_op_name(int op) {
  if (op < 0 || op >= DOCSTORE_OP_COUNT_)
    return NULL;
  return op_names[op];
}

static int op_valid(int op) { return op >= 0 && op < DOCSTORE_OP_COUNT_; }

static uint64_t load(const atomic_uint_fast64_t *v) {
  return (uint64_t)atomic_load_explicit(v, memory_order_relaxed);
}

static void add(atomic_uint_fast64_t *v, uint64_t n) {
  atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static void store0(atomic_uint_fast64_t *v) {
  atomic_store_explicit(v, 0, memory_order_relaxed);
}

void docstore__metrics_init(docstore__metrics *m) {
  for (int i = 0; i < DOCSTORE_OP_COUNT_; i++) {
    docstore__op_counters *c = &m->ops[i];
    atomic_init(&c->successes, 0);
    atomic_init(&c->failures, 0);
    atomic_init(&c->bytes, 0);
    atomic_init(&c->total_latency_us, 0);
    atomic_init(&c->retries, 0);
  }
}

void docstore__metrics_record(docstore__metrics *m, int op, int rc,
                              uint64_t bytes, uint64_t latency_us) {
  if (!m || !op_valid(op))
    return;
  docstore__op_counters *c = &m->ops[op];
  if (rc < 0) {
    add(&c->failures, 1);
  } else {
    add(&c->successes, 1);
    add(&c->bytes, bytes);
  }
  add(&c->total_latency_us, latency_us);
}

void docstore__metrics_add_retries(docstore__metrics *m, int op, uint64_t n) {
  if (m && op_valid(op))
    add(&m->ops[op].retries, n);
}

void docstore__metrics_merge(docstore__metrics *dst,
                             const docstore__metrics *src) {
  if (!dst || !src)
    return;
  for (int i = 0; i < DOCSTORE_OP_COUNT_; i++) {
    const docstore__op_counters *s = &src->ops[i];
    docstore__op_counters *d = &dst->ops[i];
    add(&d->successes, load(&s->successes));
    add(&d->failures, load(&s->failures));
    add(&d->bytes, load(&s->bytes));
    add(&d->total_latency_us, load(&s->total_latency_us));
    add(&d->retries, load(&s->retries));
  }
}

int docstore__metrics_get(const docstore__metrics *m, int op,
                          docstore_op_stats *out) {
  if (!m || !out)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "stats: NULL argument");
  if (out->version < 1)
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "stats: out->version must be set to "
                             "DOCSTORE_OP_STATS_VERSION");
  if (!op_valid(op))
    return docstore__err_set(NULL, DOCSTORE_EINVAL,
                             "stats: unknown operation %d", op);
  const docstore__op_counters *c = &m->ops[op];
  /* Version 1 fields; a newer caller's extra fields are left untouched. */
  out->successes = load(&c->successes);
  out->failures = load(&c->failures);
  out->bytes = load(&c->bytes);
  out->total_latency_us = load(&c->total_latency_us);
  out->retries = load(&c->retries);
  uint64_t calls = out->successes + out->failures;
  out->avg_latency_us = calls ? out->total_latency_us / calls : 0;
  return 0;
}

/* Numbers go in as raw decimal text: a cJSON number is a double and would
 * round counters above 2^53. */
static int add_u64(cJSON *obj, const char *name, uint64_t v) {
  char num[24];
  snprintf(num, sizeof(num), "%" PRIu64, v);
  cJSON *item = cJSON_CreateRaw(num);
  if (!item)
    return DOCSTORE_ENOMEM;
  if (!cJSON_AddItemToObject(obj, name, item)) {
    cJSON_Delete(item);
    return DOCSTORE_ENOMEM;
  }
  return 0;
}

static int op_json(cJSON *root, const docstore__metrics *m, int op) {
  docstore_op_stats s = {DOCSTORE_OP_STATS_VERSION, 0, 0, 0, 0, 0, 0};
  DOCSTORE__GUARD(docstore__metrics_get(m, op, &s));
  cJSON *o = cJSON_AddObjectToObject(root, op_names[op]);
  if (!o)
    return DOCSTORE_ENOMEM;
  DOCSTORE__GUARD(add_u64(o, "successes", s.successes));
  DOCSTORE__GUARD(add_u64(o, "failures", s.failures));
  DOCSTORE__GUARD(add_u64(o, "bytes", s.bytes));
  DOCSTORE__GUARD(add_u64(o, "total_latency_us", s.total_latency_us));
  DOCSTORE__GUARD(add_u64(o, "avg_latency_us", s.avg_latency_us));
  DOCSTORE__GUARD(add_u64(o, "retries", s.retries));
  return 0;
}

int docstore__metrics_json(const docstore__metrics *m, char **out) {
  int rc = DOCSTORE_ENOMEM;
  char *text = NULL;
  if (!m || !out)
    return docstore__err_set(NULL, DOCSTORE_EINVAL, "stats: NULL argument");
  *out = NULL;
  cJSON *root = cJSON_CreateObject();
  if (!root)
    goto done;
  for (int op = 0; op < DOCSTORE_OP_COUNT_; op++)
    DOCSTORE__GUARD_GOTO(rc, op_json(root, m, op), done);
  rc = DOCSTORE_ENOMEM;
  text = cJSON_PrintUnformatted(root);
  if (!text)
    goto done;
  *out = docstore__strdup(text);
  if (*out)
    rc = 0;
done:
  if (text)
    cJSON_free(text);
  cJSON_Delete(root);
  if (rc == DOCSTORE_ENOMEM)
    docstore__err_set(NULL, rc, "stats: out of memory building JSON");
  return rc;
}

void docstore__metrics_reset(docstore__metrics *m) {
  if (!m)
    return;
  for (int i = 0; i < DOCSTORE_OP_COUNT_; i++) {
    docstore__op_counters *c = &m->ops[i];
    store0(&c->successes);
    store0(&c->failures);
    store0(&c->bytes);
    store0(&c->total_latency_us);
    store0(&c->retries);
  }
}
