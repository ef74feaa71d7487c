/*
 * Test helpers for the streaming provider operations (provider ops version
 * 2) through the dispatch layer: streamed puts in chunks of varied sizes,
 * ranged streamed gets, and the ranges every provider must serve alike.
 * They fail the running cmocka test on a broken invariant.
 */
#ifndef DOCSTORE_TEST_STREAM_HELPERS_H
#define DOCSTORE_TEST_STREAM_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "docstore/docstore.h"
#include "provider/provider_internal.h"

/* n bytes of a fixed pattern (malloc'd, caller free()s). */
uint8_t *make_data(size_t n);

/* put_begin (flags, size hint n), writes of 1, 7, 4096, 65537, 13, 300
 * bytes in turn, commit.  A failed write aborts.  0 or the code (detail in
 * err). */
int stream_put(docstore_provider *p, const char *key, const uint8_t *data,
               size_t n, unsigned int flags, docstore__err *err);

/* get_open [offset, offset+length), then get_read of at most `cap` bytes
 * at a time until the end, get_close: a malloc'd copy of *len bytes, or
 * NULL with *rc < 0 (detail in err).  *size: the object's size. */
uint8_t *stream_get(docstore_provider *p, const char *key, uint64_t offset,
                    uint64_t length, size_t cap, size_t *len, uint64_t *size,
                    int *rc, docstore__err *err);

/* `key` holds data[0..size): whole, head, middle, tail, length past the
 * end, offset at the end, empty range, huge length; and an offset beyond
 * the end is DOCSTORE_EINVAL with a message naming the key. */
void check_ranges(docstore_provider *p, const char *key, const uint8_t *data,
                  size_t size);

/* The provider's counters of `op`. */
void op_stats(docstore_provider *p, int op, docstore_op_stats *s);

/* docstore_provider_get() of `key` returns exactly data[0..n). */
void expect_object(docstore_provider *p, const char *key, const void *data,
                   size_t n);

#endif
