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

#include <kernel/types.h>

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

/* ---- a mixed-size trace, and a fragmenting workload -------------------------------- */

static inline uint64_t heap_bench_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * A size as a kernel asks for them: mostly small objects, fewer buffers
 * (60 % 8..128 B, 25 % up to 1 KiB, 12 % up to 4 KiB, 3 % up to 16 KiB);
 * shift moves the mix towards larger sizes (a fragmenting workload's
 * later phases).
 */
static inline size_t heap_mixed_size(uint64_t *rng, unsigned int shift)
{
	uint64_t r = heap_bench_rand(rng);
	unsigned int pct = (unsigned int)(r % 100) + shift;

	r >>= 8;
	if (pct < 60)
		return 8 + r % 121;
	if (pct < 85)
		return 129 + r % 896;
	if (pct < 97)
		return 1025 + r % 3072;
	return 4097 + r % 12288;
}

/*
 * The mixed trace: HEAP_RING blocks of mixed sizes live; each step frees a
 * random one and allocates a block of a new random size in its place. The
 * same sequence for every allocator (the seed is fixed).
 */
static __attribute__((noinline, unused)) void pattern_mixed(const struct heap_bench_alloc *a,
							    unsigned long n, uint64_t *rng)
{
	for (unsigned long i = 0; i < n; i++) {
		void **slot = &heap_ring[heap_bench_rand(rng) % HEAP_RING];

		a->free(*slot);
		*slot = heap_patterns_get(a, heap_mixed_size(rng, 0));
	}
}

static __attribute__((unused)) void heap_mixed_fill(const struct heap_bench_alloc *a, uint64_t *rng)
{
	for (unsigned int i = 0; i < HEAP_RING; i++)
		heap_ring[i] = heap_patterns_get(a, heap_mixed_size(rng, 0));
}

#define HEAP_FRAG_BLOCKS 8192
static void *heap_frag_block[HEAP_FRAG_BLOCKS];
static size_t heap_frag_size[HEAP_FRAG_BLOCKS];

/*
 * A fragmenting workload: HEAP_FRAG_BLOCKS blocks of mixed sizes, then four
 * rounds that each free a random half and refill the holes with a mix
 * shifted towards larger sizes, so the old holes rarely fit. sample(live)
 * is called with the bytes asked for and live after each phase (the
 * caller measures what the heap holds then). Returns the live bytes at
 * the end; heap_fragment_free() frees everything.
 */
static __attribute__((unused)) uint64_t heap_fragment(const struct heap_bench_alloc *a,
						      void (*sample)(uint64_t live))
{
	uint64_t rng = 0x243f6a8885a308d3ULL, live = 0;

	for (unsigned int i = 0; i < HEAP_FRAG_BLOCKS; i++) {
		heap_frag_size[i] = heap_mixed_size(&rng, 0);
		heap_frag_block[i] = heap_patterns_get(a, heap_frag_size[i]);
		live += heap_frag_size[i];
	}
	sample(live);
	for (unsigned int round = 1; round <= 4; round++) {
		for (unsigned int i = 0; i < HEAP_FRAG_BLOCKS; i++) {
			if (heap_bench_rand(&rng) & 1)
				continue;
			a->free(heap_frag_block[i]);
			live -= heap_frag_size[i];
			heap_frag_size[i] = heap_mixed_size(&rng, 3 * round);
			heap_frag_block[i] = heap_patterns_get(a, heap_frag_size[i]);
			live += heap_frag_size[i];
		}
		sample(live);
	}
	return live;
}

static __attribute__((unused)) void heap_fragment_free(const struct heap_bench_alloc *a)
{
	for (unsigned int i = 0; i < HEAP_FRAG_BLOCKS; i++)
		a->free(heap_frag_block[i]);
}

#endif
