/* SPDX-License-Identifier: MIT */
#ifndef TESTS_COMMON_HEAP_PATTERNS_H
#define TESTS_COMMON_HEAP_PATTERNS_H

/*
 * The heap benchmark's three allocation patterns, shared by the host
 * benchmark (tests/bench/bench_heap.c, counted by callgrind, also run
 * against glibc, jemalloc and mimalloc) and the kernel's (kernel/
 * bench_heap.c, counted by the hart's counters). Each runs n alloc+free
 * pairs of one size through an allocator's two functions:
 *
 * - pair:  allocate, free at once;
 * - ring:  HEAP_RING blocks live; free the oldest, allocate its successor;
 * - batch: free all HEAP_RING live blocks, then allocate HEAP_RING again.
 *
 * ring and batch start from HEAP_RING live blocks (heap_patterns_fill())
 * and leave them live (heap_patterns_drain() frees them).
 */

#include <stddef.h>

#define HEAP_RING 1024

struct heap_bench_alloc {
	const char *name;
	void *(*alloc)(size_t size);
	void (*free)(void *p);
};

static void *heap_ring[HEAP_RING];

/* A block's first word is written, as a user would, so no allocator gets away untouched. */
static inline void *heap_patterns_get(const struct heap_bench_alloc *a, size_t size)
{
	void **p = a->alloc(size);

	*(volatile void **)p = p;
	return p;
}

static __attribute__((unused)) void heap_patterns_fill(const struct heap_bench_alloc *a,
						       size_t size)
{
	for (unsigned int i = 0; i < HEAP_RING; i++)
		heap_ring[i] = heap_patterns_get(a, size);
}

static __attribute__((unused)) void heap_patterns_drain(const struct heap_bench_alloc *a)
{
	for (unsigned int i = 0; i < HEAP_RING; i++)
		a->free(heap_ring[i]);
}

static __attribute__((noinline, unused)) void pattern_pair(const struct heap_bench_alloc *a,
							   size_t size, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		a->free(heap_patterns_get(a, size));
}

static __attribute__((noinline, unused)) void pattern_ring(const struct heap_bench_alloc *a,
							   size_t size, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		void **slot = &heap_ring[i % HEAP_RING];

		a->free(*slot);
		*slot = heap_patterns_get(a, size);
	}
}

static __attribute__((noinline, unused)) void pattern_batch(const struct heap_bench_alloc *a,
							    size_t size, unsigned long n)
{
	for (unsigned long r = 0; r < n / HEAP_RING; r++) {
		for (unsigned int i = 0; i < HEAP_RING; i++)
			a->free(heap_ring[i]);
		for (unsigned int i = 0; i < HEAP_RING; i++)
			heap_ring[i] = heap_patterns_get(a, size);
	}
}

/* The sizes of the table. */
static const size_t heap_bench_sizes[] = { 16, 64, 256, 2048 };

struct heap_pattern {
	const char *name;
	void (*run)(const struct heap_bench_alloc *a, size_t size, unsigned long n);
	int live; /* starts and ends with HEAP_RING live blocks */
};

static const struct heap_pattern heap_patterns[] __attribute__((unused)) = {
	{ "pair", pattern_pair, 0 },
	{ "ring", pattern_ring, 1 },
	{ "batch", pattern_batch, 1 },
};

#endif
