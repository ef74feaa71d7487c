/*
 * Unit tests: library-owned memory and byte buffers (src/common/alloc.c):
 * which blocks are wiped when released or grown, the buffer's growth
 * policy (an exact first block, then doubling), size reservation through a
 * sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* What docstore_free() released last: a copy of the block as it was after
 * the wipe (and before free()). */
static struct {
  int calls;
  const void *ptr;
  size_t size;
  unsigned int flags;
  uint8_t bytes[4096];
  size_t copied;
} released;

static void on_release(const void *p, size_t n, unsigned int flags) {
  released.calls++;
  released.ptr = p;
  released.size = n;
  released.flags = flags;
  released.copied = n < sizeof(released.bytes) ? n : sizeof(released.bytes);
  memcpy(released.bytes, p, released.copied);
}

static int hook_setup(void **state) {
  (void)state;
  memset(&released, 0, sizeof(released));
  docstore__alloc_release_hook = on_release;
  return 0;
}

static int hook_teardown(void **state) {
  (void)state;
  docstore__alloc_release_hook = NULL;
  return 0;
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

/* ------------------------------------------------------------- blocks */

static void test_secret_block_wiped(void **state) {
  (void)state;
  uint8_t *p = docstore__alloc(100);
  assert_non_null(p);
  assert_true(all_zero(p, 100)); /* docstore__alloc() zeroes */
  assert_int_equal(docstore__alloc_flags(p), 0);
  assert_int_equal(docstore__alloc_size(p), 100);
  memset(p, 0xA5, 100);
  docstore_free(p);
  assert_int_equal(released.calls, 1);
  assert_ptr_equal(released.ptr, p);
  assert_int_equal(released.size, 100);
  assert_true(all_zero(released.bytes, 100));

  /* docstore_malloc() (public API) blocks are secret too. */
  p = docstore_malloc(33);
  assert_non_null(p);
  memset(p, 0x5A, 33);
  docstore_free(p);
  assert_int_equal(released.calls, 2);
  assert_int_equal(released.flags, 0);
  assert_true(all_zero(released.bytes, 33));
}

static void test_public_block_not_wiped(void **state) {
  (void)state;
  uint8_t *p = docstore__alloc_ex(64, DOCSTORE__MEM_PUBLIC);
  assert_non_null(p);
  assert_true(all_zero(p, 64)); /* zeroed unless UNINIT is asked */
  assert_int_equal(docstore__alloc_flags(p), DOCSTORE__MEM_PUBLIC);
  memset(p, 0x42, 64);
  docstore_free(p);
  assert_int_equal(released.calls, 1);
  assert_int_equal(released.flags, DOCSTORE__MEM_PUBLIC);
  for (size_t i = 0; i < 64; i++)
    assert_int_equal(released.bytes[i], 0x42);

  /* UNINIT is not kept as a flag; a secret UNINIT block is still wiped. */
  p = docstore__alloc_ex(40, DOCSTORE__MEM_UNINIT);
  assert_non_null(p);
  assert_int_equal(docstore__alloc_flags(p), 0);
  assert_int_equal(docstore__alloc_size(p), 40);
  memset(p, 0x11, 40);
  docstore_free(p);
  assert_true(all_zero(released.bytes, 40));

  /* NULL: no flags, no size, free is a no-op. */
  assert_int_equal(docstore__alloc_flags(NULL), 0);
  assert_int_equal(docstore__alloc_size(NULL), 0);
  released.calls = 0;
  docstore_free(NULL);
  assert_int_equal(released.calls, 0);

  /* A size that cannot carry a header. */
  assert_null(docstore__alloc_ex(SIZE_MAX, DOCSTORE__MEM_PUBLIC));
  assert_null(docstore__alloc(SIZE_MAX - 4));
}

static void test_block_resize(void **state) {
  (void)state;
  /* Secret: a new block, the old one wiped, the added bytes zero. */
  uint8_t *p = docstore__alloc(16);
  assert_non_null(p);
  memset(p, 0x77, 16);
  uint8_t *old = p;
  p = docstore__realloc(p, 48);
  assert_non_null(p);
  assert_int_equal(released.calls, 1);
  assert_ptr_equal(released.ptr, old);
  assert_true(all_zero(released.bytes, 16));
  for (size_t i = 0; i < 16; i++)
    assert_int_equal(p[i], 0x77);
  assert_true(all_zero(p + 16, 32));
  assert_int_equal(docstore__alloc_flags(p), 0);
  /* Shrinking keeps the prefix. */
  p = docstore__realloc(p, 8);
  assert_non_null(p);
  assert_int_equal(docstore__alloc_size(p), 8);
  assert_int_equal(p[7], 0x77);
  docstore_free(p);

  /* Public: realloc() keeps the flag and the bytes, zeroes what is added,
   * and nothing is wiped on the way. */
  released.calls = 0;
  p = docstore__alloc_ex(16, DOCSTORE__MEM_PUBLIC);
  assert_non_null(p);
  memset(p, 0x66, 16);
  p = docstore__realloc(p, 100000);
  assert_non_null(p);
  assert_int_equal(released.calls, 0);
  assert_int_equal(docstore__alloc_flags(p), DOCSTORE__MEM_PUBLIC);
  assert_int_equal(docstore__alloc_size(p), 100000);
  for (size_t i = 0; i < 16; i++)
    assert_int_equal(p[i], 0x66);
  assert_true(all_zero(p + 16, 100000 - 16));
  docstore_free(p);

  /* NULL allocates; an impossible size fails and keeps the block. */
  p = docstore__realloc(NULL, 10);
  assert_non_null(p);
  assert_true(all_zero(p, 10));
  assert_null(docstore__realloc(p, SIZE_MAX));
  assert_int_equal(docstore__alloc_size(p), 10);
  docstore_free(p);
}

/* ------------------------------------------------------------ buffers */

static void test_buf_exact_reserve(void **state) {
  (void)state;
  docstore__buf b = DOCSTORE__BUF_INIT_PUBLIC;
  const size_t total = 1000000;
  assert_int_equal(docstore__buf_reserve(&b, total), 0);
  assert_int_equal(b.cap, total + 1);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.data[0], '\0');
  uint8_t *first = b.data;
  uint8_t piece[1000];
  memset(piece, 'x', sizeof(piece));
  for (size_t i = 0; i < total / sizeof(piece); i++)
    assert_int_equal(docstore__buf_append(&b, piece, sizeof(piece)), 0);
  /* Filled to the byte, never moved. */
  assert_ptr_equal(b.data, first);
  assert_int_equal(b.cap, total + 1);
  assert_int_equal(b.len, total);
  assert_int_equal(b.data[total], '\0');
  /* Reserving nothing more, or what is left, changes nothing. */
  assert_int_equal(docstore__buf_reserve(&b, 0), 0);
  assert_ptr_equal(b.data, first);
  docstore__buf_free(&b);
  assert_null(b.data);
  assert_int_equal(b.cap, 0);
}

static void test_buf_growth(void **state) {
  (void)state;
  docstore__buf b = DOCSTORE__BUF_INIT;
  /* A small first block is 256 bytes. */
  assert_int_equal(docstore__buf_puts(&b, "abc"), 0);
  assert_int_equal(b.cap, 256);
  assert_string_equal((char *)b.data, "abc");
  uint8_t fill[1000];
  memset(fill, 'y', sizeof(fill));
  /* Up to 255 bytes and the NUL: no growth. */
  assert_int_equal(docstore__buf_append(&b, fill, 252), 0);
  assert_int_equal(b.cap, 256);
  assert_int_equal(released.calls, 0);
  /* One more byte doubles the capacity; the old (secret) block is wiped. */
  uint8_t *old = b.data;
  assert_int_equal(docstore__buf_append(&b, "z", 1), 0);
  assert_int_equal(b.cap, 512);
  assert_int_equal(b.len, 256);
  assert_int_equal(released.calls, 1);
  assert_ptr_equal(released.ptr, old);
  assert_int_equal(released.size, 256);
  assert_true(all_zero(released.bytes, 256));
  assert_memory_equal(b.data, "abcyyy", 6);
  assert_int_equal(b.data[255], 'z');
  assert_int_equal(b.data[256], '\0');
  /* Asking for more than double gives exactly what is asked. */
  assert_int_equal(docstore__buf_append(&b, fill, 1000), 0);
  assert_int_equal(b.cap, 256 + 1000 + 1);
  docstore__buf_free(&b);
  assert_int_equal(released.calls, 3);
  assert_true(all_zero(released.bytes, released.copied));

  /* A public buffer grows without anything being released (realloc) and
   * hands out a public block. */
  docstore__buf pb = DOCSTORE__BUF_INIT_PUBLIC;
  released.calls = 0;
  for (int i = 0; i < 100; i++)
    assert_int_equal(docstore__buf_append(&pb, fill, 999), 0);
  assert_int_equal(released.calls, 0);
  assert_int_equal(pb.len, 99900);
  for (size_t i = 0; i < pb.len; i++)
    if (pb.data[i] != 'y')
      fail_msg("byte %zu changed by growth", i);
  size_t len = 0;
  uint8_t *d = docstore__buf_detach(&pb, &len);
  assert_non_null(d);
  assert_int_equal(len, 99900);
  assert_null(pb.data);
  assert_int_equal(pb.flags,
                   DOCSTORE__MEM_PUBLIC); /* the buffer's kind stays */
  assert_int_equal(docstore__alloc_flags(d), DOCSTORE__MEM_PUBLIC);
  docstore_free(d);
  assert_int_equal(released.calls, 1);
  assert_int_equal(released.flags, DOCSTORE__MEM_PUBLIC);
  assert_int_equal(released.bytes[0], 'y'); /* not wiped */

  /* Bytes written straight into the room (as read() does) come out
   * NUL-terminated too. */
  docstore__buf rb = DOCSTORE__BUF_INIT;
  assert_int_equal(docstore__buf_reserve(&rb, 100), 0);
  memset(rb.data, 'r', 100);
  rb.len = 10;
  d = docstore__buf_detach(&rb, &len);
  assert_non_null(d);
  assert_int_equal(len, 10);
  assert_int_equal(strlen((char *)d), 10);
  docstore_free(d);

  /* An empty buffer detaches as "" (a real block, NUL-terminated). */
  docstore__buf e = DOCSTORE__BUF_INIT;
  d = docstore__buf_detach(&e, &len);
  assert_non_null(d);
  assert_int_equal(len, 0);
  assert_int_equal(d[0], '\0');
  assert_int_equal(docstore__alloc_flags(d), 0);
  docstore_free(d);
}

static void test_buf_sink_reserve(void **state) {
  (void)state;
  docstore__buf b = DOCSTORE__BUF_INIT_PUBLIC;
  /* Through the buffer sink: one block of exactly the announced size. */
  assert_int_equal(docstore__sink_reserve(docstore__buf_sink, &b, 5000), 0);
  assert_int_equal(b.cap, 5001);
  uint8_t *first = b.data;
  uint8_t chunk[500];
  memset(chunk, 'z', sizeof(chunk));
  for (int i = 0; i < 10; i++)
    assert_int_equal(docstore__buf_sink(&b, chunk, sizeof(chunk)), 0);
  assert_ptr_equal(b.data, first);
  assert_int_equal(b.len, 5000);
  /* A later announcement adds to what is there (a resumed read). */
  assert_int_equal(docstore__sink_reserve(docstore__buf_sink, &b, 100), 0);
  assert_int_equal(b.cap, 5101);
  docstore__buf_free(&b);

  /* Any other sink: ignored. */
  int other = 0;
  assert_int_equal(docstore__sink_reserve(NULL, &other, 5000), 0);
  assert_int_equal(other, 0);

  /* A size that cannot be had (it overflows; no malloc() is tried, which
   * a sanitizer would report): ENOMEM, the buffer untouched. */
  assert_int_equal(docstore__buf_append(&b, "q", 1), 0);
  first = b.data;
  assert_int_equal(
      docstore__sink_reserve(docstore__buf_sink, &b, (uint64_t)SIZE_MAX - 1),
      DOCSTORE_ENOMEM);
  assert_ptr_equal(b.data, first);
  assert_int_equal(b.len, 1);
  assert_int_equal(docstore__buf_reserve(&b, SIZE_MAX), DOCSTORE_ENOMEM);
  docstore__buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_secret_block_wiped, hook_setup,
                                      hook_teardown),
      cmocka_unit_test_setup_teardown(test_public_block_not_wiped, hook_setup,
                                      hook_teardown),
      cmocka_unit_test_setup_teardown(test_block_resize, hook_setup,
                                      hook_teardown),
      cmocka_unit_test(test_buf_exact_reserve),
      cmocka_unit_test_setup_teardown(test_buf_growth, hook_setup,
                                      hook_teardown),
      cmocka_unit_test(test_buf_sink_reserve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
