/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_GUARD_H
#define MM_HEAP_GUARD_H

/*
 * Sampled guard pages (mm/Kconfig's HEAP_GUARD, include/mm/heap.h) as C
 * constants, as heap_harden.h does for the tiers, so that kmalloc.c can
 * say
 *
 *	if (HEAP_GUARD && guard_sample())
 *
 * and the compiler drops it all when the option is off. Builds without a
 * .config (the host tests, libmemcore) define CONFIG_HEAP_GUARD (and
 * CONFIG_HEAP_GUARD_RATE) themselves to have it.
 *
 * What kmalloc.c asks mm/heap/heap_guard.c, with the option on:
 * - guard_sample(): on every allocation, whether this one is sampled: a
 *   countdown of the hart's, no shared write on the hot path.
 * - guard_owns(p): on every free, whether p is in the pool (two loads
 *   and a compare), before any strategy looks at it.
 * - guard_alloc/free/size: the sampled objects themselves.
 */

#include <mm/harts.h>
#include <mm/port.h>

#ifdef CONFIG_HEAP_GUARD
#define HEAP_GUARD 1
#else
#define HEAP_GUARD 0
#endif

#ifdef CONFIG_HEAP_GUARD_RATE
#define HEAP_GUARD_RATE CONFIG_HEAP_GUARD_RATE
#else
#define HEAP_GUARD_RATE 1000
#endif

/* Allocations left before a hart's next sample; a cache line each, as each hart writes its own. */
struct guard_countdown {
	unsigned long left;
} __aligned(64);
extern struct guard_countdown guard_countdown[MAX_HARTS];

/* The pool's addresses, size 0 when there is none. */
extern struct guard_window {
	uintptr_t base, size;
} guard_window;

/*
 * A plain load and store through volatile, no read-modify-write: only the
 * hart itself counts down (heap_guard_set_rate() rearms them all, and a
 * lost rearm costs one sample early or late). Not __atomic_store_n():
 * riscv64's gcc makes a relaxed one an amoswap. Before the pool is set up
 * the count is 0: the first call goes to guard_alloc(), which rearms it.
 */
static inline bool guard_sample(void)
{
	volatile unsigned long *left = &guard_countdown[this_hart_index()].left;
	unsigned long n = *left;

	*left = n - 1;
	return unlikely(n <= 1);
}

static inline bool guard_owns(const void *p)
{
	return unlikely((uintptr_t)p - __atomic_load_n(&guard_window.base, __ATOMIC_RELAXED) <
			__atomic_load_n(&guard_window.size, __ATOMIC_RELAXED));
}

/*
 * A sampled allocation: size bytes aligned to align (what kmalloc()
 * promises, at most a page) at the end of a free slot's page, the call
 * site recorded; NULL when there is no pool, no free slot, or size or
 * align beyond a page (the allocation is then made the usual way). It
 * also rearms the hart's countdown.
 */
void *guard_alloc(size_t size, size_t align, const void *caller);

/* p in the pool: freed (misuse reported), its page made inaccessible. */
void guard_free(void *p, const void *caller);

/* p in the pool: true and *size the size asked for, or false (reported): p is no live object. */
bool guard_size(const void *p, size_t *size, const void *caller);

/* The live objects and their bytes, for heap_usage(). */
void guard_usage(uint64_t *blocks, uint64_t *bytes);

#endif
