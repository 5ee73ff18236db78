// SPDX-License-Identifier: MIT
/*
 * The kernel heap's host benchmark: kmalloc+kfree pairs of 16, 64, 256 and
 * 2048 bytes in the pair, ring and batch patterns (tests/common/
 * heap_patterns.h) on the per-hart heaps, built with -O2 and no sanitizers
 * on the fake machine of tests/host/heap_host.c; then the same loops
 * through the process's malloc and free, as the yardstick.
 *
 * tests/bench/run-host.sh runs it under callgrind three times: as it is
 * (the malloc is glibc's), and with jemalloc and with mimalloc preloaded
 * (BENCH_MALLOC names the one preloaded; kmalloc is then not measured
 * again). Each measurement is one callgrind dump labelled
 * NAME/OPS/UNIT/LOOP-FUNCTION, so "inside the calls" is the allocator's
 * own cost per pair, net of the loop.
 */
#include <kernel/compiler.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/heap_patterns.h"
#include "../host/arena.h"
#include "../host/heap_host.h"
#include "bench_host.h"

#define PAIRS (64UL * HEAP_RING)

static void *glibc_alloc(size_t size)
{
	return malloc(size);
}

static void glibc_free(void *p)
{
	free(p);
}

static void report(const char *name, uint64_t ops, const char *fn, double ns)
{
	bench_report_host(name, ops, "pair", fn, ns);
}

/* Every pattern and size through a; a warm-up run first, so no page comes from the buddy or the OS. */
static void measure_all(const struct heap_bench_alloc *a)
{
	for (size_t s = 0; s < ARRAY_SIZE(heap_bench_sizes); s++) {
		for (size_t k = 0; k < ARRAY_SIZE(heap_patterns); k++) {
			const struct heap_pattern *pat = &heap_patterns[k];
			size_t size = heap_bench_sizes[s];
			char name[96], fn[32];
			double t0;

			if (pat->live)
				heap_patterns_fill(a, size);
			pat->run(a, size, 4 * HEAP_RING);
			snprintf(name, sizeof(name), "heap %s %s %zu B", a->name, pat->name, size);
			CALLGRIND_ZERO_STATS;
			t0 = bench_now_ns();
			pat->run(a, size, PAIRS);
			snprintf(fn, sizeof(fn), "pattern_%s", pat->name);
			report(name, PAIRS, fn, bench_now_ns() - t0);
			if (pat->live)
				heap_patterns_drain(a);
		}
	}
}

/* The mixed-size trace: the same random sequence for every allocator. */
static void measure_mixed(const struct heap_bench_alloc *a)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	char name[96];
	double t0;

	heap_mixed_fill(a, &rng);
	pattern_mixed(a, 4 * HEAP_RING, &rng);
	snprintf(name, sizeof(name), "heap %s mixed", a->name);
	CALLGRIND_ZERO_STATS;
	t0 = bench_now_ns();
	pattern_mixed(a, PAIRS, &rng);
	report(name, PAIRS, "pattern_mixed", bench_now_ns() - t0);
	heap_patterns_drain(a);
}

/* ---- memory held per live byte ---------------------------------------------------- */

static uint64_t frag_free0, frag_peak;

static void frag_sample(uint64_t live)
{
	uint64_t held = (frag_free0 - buddy_free_frames()) * PAGE_SIZE;

	(void)live;
	frag_peak = MAX(frag_peak, held);
}

/* What the heap holds from the buddy per byte asked for and live, after heap_fragment(). */
static void fragmentation(const struct heap_bench_alloc *a)
{
	uint64_t live, held;

	heap_host_quiesce(2);
	frag_free0 = buddy_free_frames();
	frag_peak = 0;
	live = heap_fragment(a, frag_sample);
	held = (frag_free0 - buddy_free_frames()) * PAGE_SIZE;
	printf("host: heap %s fragmentation: %llu KiB held for %llu KiB live, peak %llu KiB: "
	       "%.2f bytes held per live byte, peak %.2f\n",
	       a->name, (unsigned long long)(held >> 10), (unsigned long long)(live >> 10),
	       (unsigned long long)(frag_peak >> 10), (double)held / live, (double)frag_peak / live);
	heap_fragment_free(a);
	heap_host_quiesce(2);
}

/* ---- a free on another hart ----------------------------------------------------- */

#define CROSS HEAP_RING
static void *cross[CROSS];

static void alloc_blocks(unsigned int hart)
{
	arena_set_hart(hart);
	for (unsigned int i = 0; i < CROSS; i++)
		cross[i] = kmalloc(64);
}

static __attribute__((noinline)) void free_blocks(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		kfree(cross[i]);
}

static __attribute__((noinline)) void drain_queue(unsigned long n)
{
	(void)n;
	heap_idle(); /* the owner takes its queue */
}

static void measure(const char *what, void (*fn)(unsigned long), const char *fn_name)
{
	char name[96];
	double t0;

	snprintf(name, sizeof(name), "heap %s %s", heap_strategy(), what);
	CALLGRIND_ZERO_STATS;
	t0 = bench_now_ns();
	fn(CROSS);
	bench_report_host(name, CROSS, "free", fn_name, bench_now_ns() - t0);
}

/*
 * 64-byte blocks of hart 1 freed by hart 0 (queued), against hart 0's own;
 * then what hart 1 spends per block taking its queue. One thread plays
 * both harts in turn, so callgrind counts each part alone.
 */
static void cross_hart(void)
{
	for (int warm = 0; warm < 2; warm++) {
		alloc_blocks(0);
		free_blocks(CROSS);
		alloc_blocks(1);
		arena_set_hart(0);
		free_blocks(CROSS);
		arena_set_hart(1);
		drain_queue(CROSS);
	}
	alloc_blocks(0);
	measure("free-local 64 B", free_blocks, "free_blocks");
	alloc_blocks(1);
	arena_set_hart(0);
	measure("free-remote 64 B", free_blocks, "free_blocks");
	arena_set_hart(1);
	measure("remote-drain 64 B", drain_queue, "drain_queue");
	arena_set_hart(0);
}

/*
 * As it is: the heap strategy it was linked with (build/host/
 * bench_heap_<name>). With BENCH_MALLOC=NAME: the process's malloc
 * instead, glibc's or the one preloaded.
 */
int main(void)
{
	const char *preloaded = getenv("BENCH_MALLOC");
	struct heap_bench_alloc libc = { preloaded, glibc_alloc, glibc_free };
	struct heap_bench_alloc ours = { NULL, kmalloc, kfree };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (preloaded) {
		measure_all(&libc);
		measure_mixed(&libc);
		return 0;
	}
	heap_host_boot(256ULL << 20, 256 << 10);
	if (heap_host_switch(2) < 0)
		bench_fail("bench_heap", "heap_host_switch");
	arena_set_hart(0);
	ours.name = heap_strategy();
	measure_all(&ours);
	measure_mixed(&ours);
	fragmentation(&ours);
	cross_hart();
	return 0;
}
