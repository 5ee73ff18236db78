// SPDX-License-Identifier: MIT
/* What every heap strategy shares: misuse reports and the reclaim hook. */
#include <mm/port.h>

#include "heap_guard.h"
#include "heap_internal.h"

static uint64_t nr_misuses;

static void misuse_panic(const char *what, const void *p)
{
	panic("heap: %s: %p", what, p);
}

static heap_misuse_fn misuse_handler = misuse_panic;

heap_misuse_fn heap_set_misuse_handler(heap_misuse_fn fn)
{
	heap_misuse_fn old = misuse_handler;

	misuse_handler = fn ? fn : misuse_panic;
	return old;
}

void heap_misuse(const char *what, const void *p)
{
	__atomic_fetch_add(&nr_misuses, 1, __ATOMIC_RELAXED);
	misuse_handler(what, p);
}

uint64_t heap_misuses(void)
{
	return __atomic_load_n(&nr_misuses, __ATOMIC_RELAXED);
}

/* A few messages in turn: a handler that returns (tests) keeps the pointer for a while. */
static char messages[4][384];
static unsigned int next_message;

const char *heap_misusef(const void *p, const char *fmt, ...)
{
	char *m = messages[__atomic_fetch_add(&next_message, 1, __ATOMIC_RELAXED) % 4];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(m, sizeof(messages[0]), fmt, ap);
	va_end(ap);
	heap_misuse(m, p);
	return m;
}

/* ---- memory held where an allocation cannot reach it ------------------------ */

static void (*reclaim_hook)(void);

void heap_set_reclaim_hook(void (*fn)(void))
{
	__atomic_store_n(&reclaim_hook, fn, __ATOMIC_RELEASE);
}

bool heap_reclaim(void)
{
	void (*fn)(void) = __atomic_load_n(&reclaim_hook, __ATOMIC_ACQUIRE);

	if (!fn)
		return false;
	fn();
	return true;
}

#if defined(__riscv) && !defined(__riscv_zbb)
const uint8_t heap_debruijn[64] = {
    0,	1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,  62, 55, 59, 36, 53, 51,
    43, 22, 45, 39, 33, 30, 24, 18, 12, 5,  63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21,
    44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,	6,
};
#endif

/* ---- what the heap holds ---------------------------------------------------- */

void heap_usage(struct heap_usage *u)
{
	struct heap_large_stats l;

	*u = (struct heap_usage){0};
	heap_strategy_usage(u);
	u->strategy = heap_strategy_name;
	heap_large_stats(&l);
	u->blocks += l.allocations;
	u->bytes += l.pages * PAGE_SIZE;
	u->frames += l.pages;
	if (HEAP_GUARD) { /* the guard pool's objects: handed out, in no strategy */
		uint64_t blocks, bytes;

		guard_usage(&blocks, &bytes);
		u->blocks += blocks;
		u->bytes += bytes;
	}
	if (HEAP_HARDEN == HEAP_HARDEN_DEBUG) { /* freed, only not given back yet */
		uint64_t blocks, bytes;

		debug_quarantined(&blocks, &bytes);
		u->blocks -= blocks;
		u->bytes -= bytes;
	}
}

/* ---- the dump's last lines --------------------------------------------------- */

void heap_dump_large_early(void)
{
	struct heap_large_stats l;
	struct heap_early_stats e;

	heap_large_stats(&l);
	printk("heap: large: %llu allocations, %llu pages\n", (unsigned long long)l.allocations,
	       (unsigned long long)l.pages);
	heap_early_stats(&e);
	printk("heap: early: %llu KiB region, %llu blocks live (%llu bytes), %llu bytes free; "
	       "misuses reported: %llu\n",
	       (unsigned long long)(e.size >> 10), (unsigned long long)e.blocks,
	       (unsigned long long)e.bytes, (unsigned long long)e.free_bytes,
	       (unsigned long long)heap_misuses());
}
