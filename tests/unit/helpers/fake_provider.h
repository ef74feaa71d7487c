/*
 * A fake provider for unit tests: objects live in memory, every operation
 * is counted, and failures can be injected per operation.
 *
 * The provider owns its state; the fake_provider pointer handed back by
 * fake_provider_new() stays valid until the docstore_provider is freed
 * (directly or by the service that owns it).  All functions are
 * thread-safe.
 */
#ifndef DOCSTORE_TEST_FAKE_PROVIDER_H
#define DOCSTORE_TEST_FAKE_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "docstore/provider.h"

typedef enum fake_op {
  FAKE_PUT = 0,
  FAKE_GET,
  FAKE_HEAD,
  FAKE_DEL,
  FAKE_LIST,
  FAKE_PRESIGN,
  FAKE_CHECK,
  FAKE_OP_COUNT
} fake_op;

/* Leave optional operations out of the table (flags for fake_provider_new). */
#define FAKE_NO_LIST 0x1u
#define FAKE_NO_PRESIGN 0x2u
#define FAKE_NO_CHECK 0x4u

typedef struct fake_provider fake_provider;

/* A provider named "fake".  *state receives the handle for the functions
 * below (borrowed).  Returns docstore_provider_new()'s code. */
int fake_provider_new(docstore_provider **out, fake_provider **state,
                      unsigned int flags);

/* The next `times` calls of `op` fail with `code` and `message` (message
 * NULL: the provider records no detail).  times < 0: every call from now
 * on.  times 0 clears the injection. */
void fake_provider_fail(fake_provider *fp, fake_op op, int code,
                        const char *message, int times);

/* Number of times `op` reached the provider. */
unsigned long fake_provider_calls(fake_provider *fp, fake_op op);

/* Number of objects stored. */
size_t fake_provider_count(fake_provider *fp);

/* Store an object directly (bypassing counters and injections). */
int fake_provider_seed(fake_provider *fp, const char *key, const void *data,
                       size_t len);

/* Copy of an object (malloc'd, caller free()s) or NULL if missing. */
uint8_t *fake_provider_lookup(fake_provider *fp, const char *key, size_t *len);

/* Set *flag to 1 when the provider's free op runs. */
void fake_provider_watch_free(fake_provider *fp, int *flag);

#endif
