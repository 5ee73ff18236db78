// SPDX-License-Identifier: MIT
/* Buddy allocator benchmarks (command line "bench"): run before the buddy takes over for real. */
#include <kernel/bench.h>
#include <kernel/boot.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
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

/* Same calls, no work: what a caller's loop costs around the allocator. */
static __attribute__((noinline)) int nop_alloc(phys_addr_t *pa)
{
	__asm__ volatile("" ::: "memory");
	*pa = 0;
	return 0;
}

static __attribute__((noinline)) int nop_free(phys_addr_t pa)
{
	__asm__ volatile("" ::"r"(pa) : "memory");
	return 0;
}

/* A loop of alloc+free pairs through fn_alloc/fn_free; instructions for all of it. */
static uint64_t frame_loop(const char *name, int (*fn_alloc)(phys_addr_t *),
			   int (*fn_free)(phys_addr_t))
{
	phys_addr_t pa;

	if (fn_alloc(&pa) < 0 || fn_free(pa) < 0)
		panic("bench: %s failed", name);
	struct bench_sample s = bench_now();
	for (unsigned int i = 0; i < PAIRS; i++) {
		fn_alloc(&pa);
		fn_free(pa);
	}
	struct bench_sample e = bench_now();
	bench_report(name, s, e, PAIRS, "pair");
	return e.instret - s.instret;
}

/*
 * The order-0 fast path as callers use it, through this hart's cache; and
 * net of the caller's loop and calls, measured the same way around empty
 * functions.
 */
static void frame_pairs(void)
{
	uint64_t calls = frame_loop("call-baseline", nop_alloc, nop_free);
	uint64_t pairs = frame_loop("buddy-frame-cached", buddy_alloc_frame, buddy_free_frame);
	uint64_t net10 = pairs > calls ? (pairs - calls) * 10 / PAIRS : 0;

	printk("bench: buddy-frame-cached-net: %llu.%llu instructions/pair "
	       "(the pair minus call-baseline)\n",
	       (unsigned long long)(net10 / 10), (unsigned long long)(net10 % 10));
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
