// SPDX-License-Identifier: MIT
/*
 * The buddy allocator's host benchmark: the mm/ sources built with -O2 and
 * no sanitizers on the fake machine of tests/host/arena.c.
 *
 * Under callgrind (tests/bench/run-host.sh) every measurement zeroes the
 * counters before it and dumps them after it, labelled NAME/OPS/UNIT, so
 * each dump holds exactly the instructions of that measurement. Run alone,
 * it prints nanoseconds per operation instead.
 */
#include <kernel/compiler.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <stdio.h>
#include <string.h>

#include "../host/arena.h"
#include "bench_host.h"

#define RAM_BASE 0x80000000ULL
#define OPS 262144 /* a multiple of 256, for the bursts */

static struct memmap m;

#define fail(what) bench_fail("bench_buddy", what)

/*
 * RAM of `bytes` at 0x80000000 with OpenSBI's 512 KiB reserved, like QEMU
 * virt; in banks of at most 16 GiB, 64 GiB apart (NUMA-like), because
 * valgrind gives a program less than 100 GiB of address space in all.
 */
static void machine(uint64_t bytes)
{
	struct mem_range ram[8];
	unsigned int n = 0;

	for (uint64_t left = bytes; left; left -= ram[n++].size)
		ram[n] = (struct mem_range){ RAM_BASE + n * 64 * SZ_1G, MIN(left, 16 * SZ_1G) };
	arena_machine(&m, ram, n);
	if (bootmem_reserve(&m, RAM_BASE, 0x80000, RESV_RESERVED, "mmode_resv0") < 0)
		fail("bootmem_reserve");
}

/*
 * The label names the loop function too, so that run-host.sh can tell the
 * loop's own instructions (calls, argument set-up, checks) from those
 * spent inside what it calls.
 */
static void report(const char *name, uint64_t ops, const char *unit, const char *fn, double ns)
{
	bench_report_host(name, ops, unit, fn, ns);
}

/* Runs fn(ops) between a counter reset and a dump. */
#define measure(name, ops, unit, fn) measure_fn(name, ops, unit, fn, #fn)
static void measure_fn(const char *name, uint64_t ops, const char *unit, void (*fn)(uint64_t),
		       const char *fn_name)
{
	double t0;

	CALLGRIND_ZERO_STATS;
	t0 = bench_now_ns();
	fn(ops);
	report(name, ops, unit, fn_name, bench_now_ns() - t0);
}

/* The yardstick, as in the kernel's bench: one opaque step per iteration. */
static __attribute__((noinline)) void baseline(uint64_t n)
{
	uint64_t acc = 1;

	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" : "+r"(acc) : "r"(i));
}

static __attribute__((noinline)) void order0_cached(uint64_t n)
{
	phys_addr_t pa;

	for (uint64_t i = 0; i < n; i++) {
		if (unlikely(buddy_alloc(0, &pa) || buddy_free(pa, 0)))
			fail("order-0 pair");
	}
}

static __attribute__((noinline)) void frame_cached(uint64_t n)
{
	phys_addr_t pa;

	for (uint64_t i = 0; i < n; i++) {
		if (unlikely(buddy_alloc_frame(&pa) || buddy_free_frame(pa)))
			fail("frame pair");
	}
}

static unsigned int pair_order;

/* Straight to the free lists: order-k pairs with BUDDY_NOCACHE (which only order 0 needs). */
static __attribute__((noinline)) void uncached(uint64_t n)
{
	phys_addr_t pa;

	for (uint64_t i = 0; i < n; i++) {
		if (unlikely(buddy_alloc_ex(pair_order, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &pa) ||
			     buddy_free_ex(pa, pair_order, BUDDY_NOCACHE)))
			fail("uncached pair");
	}
}

/* The smallest order with a free block at or above k: how far a cold allocation splits. */
static unsigned int split_from(unsigned int k)
{
	struct buddy_stats s;

	buddy_stats(&s);
	while (k < BUDDY_MAX_ORDER && !s.nr_free[k])
		k++;
	return k;
}

/*
 * Allocates order-k blocks until two are buddies, keeps one, frees the rest,
 * its buddy last: that one is then first on the list of order k with an
 * allocated buddy, so an order-k pair neither splits nor merges.
 */
static phys_addr_t make_warm(unsigned int k)
{
	phys_addr_t got[16], keep = 0, partner = 0;
	unsigned int n = 0;

	while (!keep && n < ARRAY_SIZE(got)) {
		if (buddy_alloc_ex(k, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &got[n]))
			fail("warm-up alloc");
		for (unsigned int i = 0; i < n && !keep; i++) {
			if ((got[i] ^ got[n]) == PAGE_SIZE << k) {
				keep = got[i];
				partner = got[n];
			}
		}
		n++;
	}
	if (!keep)
		fail("warm-up: no buddies");
	for (unsigned int i = 0; i < n; i++) {
		if (got[i] != keep && got[i] != partner && buddy_free_ex(got[i], k, BUDDY_NOCACHE))
			fail("warm-up free");
	}
	if (buddy_free_ex(partner, k, BUDDY_NOCACHE))
		fail("warm-up free");
	return keep;
}

/*
 * Both cases of an order-k pair on the free lists:
 * - cold (if the smallest free block is bigger): every allocation splits it
 *   down and every free merges it back up;
 * - warm: a free block of order k whose buddy is allocated is taken and
 *   given back, with neither split nor merge.
 */
static void uncached_pairs(unsigned int k)
{
	char name[64];
	phys_addr_t keep;

	pair_order = k;
	if (split_from(k) > k) {
		snprintf(name, sizeof(name), "order%u-uncached-split-from-order%u", k, split_from(k));
		measure(name, OPS, "pair", uncached);
	}
	keep = make_warm(k);
	snprintf(name, sizeof(name), "order%u-uncached-no-split", k);
	measure(name, OPS, "pair", uncached);
	if (buddy_free_ex(keep, k, BUDDY_NOCACHE))
		fail("keep");
}

/* 256 frames out, 256 back: refills and drains included, amortised per pair. */
static __attribute__((noinline)) void order0_cached_bursts(uint64_t n)
{
	static phys_addr_t held[256];

	for (uint64_t i = 0; i < n; i += 256) {
		for (unsigned int j = 0; j < 256; j++) {
			if (unlikely(buddy_alloc(0, &held[j])))
				fail("order-0 burst alloc");
		}
		for (unsigned int j = 0; j < 256; j++) {
			if (unlikely(buddy_free(held[j], 0)))
				fail("order-0 burst free");
		}
	}
}

static phys_addr_t owned_block;

static __attribute__((noinline)) void owner_lookup(uint64_t n)
{
	struct frame_owner o;

	for (uint64_t i = 0; i < n; i++) {
		if (unlikely(frame_owner(owned_block + (i & 3) * PAGE_SIZE + 8, &o)))
			fail("frame_owner");
	}
}

static void pairs(void)
{
	machine(SZ_1G);
	if (buddy_init(&m) < 0)
		fail("buddy_init");
	measure("baseline-loop", OPS, "iteration", baseline);
	/* first, while the smallest free blocks are still those the takeover made */
	uncached_pairs(0);
	uncached_pairs(3);
	uncached_pairs(9);
	order0_cached(1000); /* warm: this hart's cache holds frames */
	measure("order0-alloc+free-cached", OPS, "pair", order0_cached);
	measure("buddy_alloc_frame+buddy_free_frame", OPS, "pair", frame_cached);
	measure("order0-256-out-256-back-cached", OPS, "pair", order0_cached_bursts);
	if (buddy_alloc(2, &owned_block))
		fail("order-2 alloc");
	measure("frame_owner-in-order2-block", OPS, "lookup", owner_lookup);
}

static __attribute__((noinline)) void init_gib(uint64_t gib)
{
	(void)gib;
	if (buddy_init(&m) < 0)
		fail("buddy_init");
}

static void inits(void)
{
	static const unsigned int gib[] = { 1, 4, 64 };
	char name[32];

	for (size_t i = 0; i < ARRAY_SIZE(gib); i++) {
		machine((uint64_t)gib[i] * SZ_1G);
		snprintf(name, sizeof(name), "buddy_init-%uGiB", gib[i]);
		measure(name, gib[i], "GiB", init_gib);
		arena_unmap();
	}
}

int main(int argc, char **argv)
{
	bool only_pairs = argc > 1 && strcmp(argv[1], "pairs") == 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pairs();
	if (!only_pairs)
		inits();
	return 0;
}
