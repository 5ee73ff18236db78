// SPDX-License-Identifier: MIT
/* Buddy allocator benchmarks (command line "bench"): run before the buddy takes over for real. */
#include <kernel/bench.h>
#include <kernel/boot.h>
#include <kernel/panic.h>
#include <mm/buddy.h>

#define PAIRS 20000

/* One buddy_init() over a copy of the boot map, per GiB of RAM. */
static void bench_init(void)
{
	static struct memmap copy;
	uint64_t gib = memmap_total_ram(&boot_info.memmap) >> 30;

	copy = boot_info.memmap;
	struct bench_sample s = bench_now();
	if (buddy_init(&copy) < 0)
		panic("bench: buddy_init failed");
	bench_report("buddy-init", s, bench_now(), gib ? gib : 1, "GiB");
}

/* The order-0 fast path as callers use it: through this hart's cache. */
static void frame_pairs(void)
{
	phys_addr_t pa;

	if (buddy_alloc_frame(&pa) < 0 || buddy_free_frame(pa) < 0)
		panic("bench: buddy_alloc_frame failed");
	struct bench_sample s = bench_now();
	for (unsigned int i = 0; i < PAIRS; i++) {
		buddy_alloc_frame(&pa);
		buddy_free_frame(pa);
	}
	bench_report("buddy-frame-cached", s, bench_now(), PAIRS, "pair");
}

static void pairs(const char *name, unsigned int order, unsigned int flags)
{
	phys_addr_t pa;

	/* the first pair fills the hart's cache: not what is measured */
	if (buddy_alloc_ex(order, 0, BUDDY_NO_LIMIT, flags, &pa) < 0 ||
	    buddy_free_ex(pa, order, flags) < 0)
		panic("bench: %s failed", name);
	struct bench_sample s = bench_now();
	for (unsigned int i = 0; i < PAIRS; i++) {
		buddy_alloc_ex(order, 0, BUDDY_NO_LIMIT, flags, &pa);
		buddy_free_ex(pa, order, flags);
	}
	bench_report(name, s, bench_now(), PAIRS, "pair");
}

void bench_buddy(void)
{
	/* the real map last, so the live allocator is the one measured */
	bench_init();
	if (buddy_init(&boot_info.memmap) < 0)
		panic("bench: buddy_init failed");
	frame_pairs();
	pairs("buddy-order0-cached", 0, 0);
	pairs("buddy-order0-nocache", 0, BUDDY_NOCACHE);
	pairs("buddy-order3", 3, 0);
	pairs("buddy-order9", 9, 0);
}
