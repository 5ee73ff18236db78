/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_INTERNAL_H
#define MM_HEAP_INTERNAL_H

/* What the heap_*.c files and kmalloc.c share; not for other users. */

#include <mm/harts.h>
#include <mm/heap.h>
#include <mm/phys.h>
#include <mm/port.h>

#include "heap_guard.h"
#include "heap_harden.h"

/*
 * A heap strategy: the allocator kmalloc() uses after the switch. Exactly
 * one is linked in, chosen by the Kconfig choice (mm/Kconfig, mm/build.mk
 * lists each one's files); kmalloc.c holds what they share: the early heap
 * before the switch and its blocks after it, natural alignment, kzalloc,
 * kcalloc and krealloc on top of these.
 *
 * alloc: size bytes (0 is fine) aligned to align, a power of two (1 for
 *   none), or NULL with nothing changed.
 * free: p, if it is the strategy's (true, also when it reported misuse);
 *   false: not the strategy's, kmalloc.c looks further (the early heap).
 * size: true if p is the strategy's, with *size its usable bytes, or 0
 *   when misuse was reported (p freed, not a block start).
 * fits: whether the strategy's block p of usable size old serves size
 *   bytes where it is (krealloc() then keeps it).
 * reset: back to before any switch, forgetting everything without
 *   touching it (heap_reset(): tests start over on a fresh machine;
 *   switch_to_multiple_heaps() calls it first).
 * switch: set up for nr_harts harts (heap_global.c's for the strategies
 *   with one heap for all).
 */
extern const char heap_strategy_name[];
int heap_strategy_switch(unsigned int nr_harts, const struct heap_large_ops *ops);
void *heap_strategy_alloc(size_t size, size_t align);
bool heap_strategy_free(void *p);
bool heap_strategy_size(const void *p, size_t *size);
bool heap_strategy_fits(const void *p, size_t old, size_t size);
void heap_strategy_reset(void);
/*
 * usage: the strategy's own part of heap_usage() (its blocks, their bytes,
 * the frames its memory and metadata take, its per-hart heaps); the large
 * allocations, which every strategy makes through heap_large.c, are added
 * by heap_common.c.
 */
void heap_strategy_usage(struct heap_usage *u);
/*
 * Large allocations: every strategy makes them through heap_large.c, and
 * the front (kmalloc.c) frees and sizes a pointer of the large window
 * itself, before free and size see it; those get the strategy's own
 * blocks only. large_above: the largest size the strategy serves from
 * blocks of its own, so that krealloc() keeps a large block only for a
 * size above it that needs as many pages. A strategy that keeps records
 * of its own for its large allocations (slab + pages: vystem's size tree)
 * defines heap_strategy_large_free(), heap_strategy_large_size(),
 * heap_strategy_large_grow() and heap_strategy_large_shrink() (kmalloc.c's,
 * weak: large_free(), large_size(), large_grow() and large_shrink()).
 */
extern const size_t heap_strategy_large_above;
void heap_strategy_large_free(void *p);
size_t heap_strategy_large_size(const void *p);
void *heap_strategy_large_grow(void *p, size_t size, size_t align);
void *heap_strategy_large_shrink(void *p, size_t size);
/*
 * The rest of the contract, each strategy's own, declared in <mm/heap.h>
 * and <mm/heap_hart.h>: heap_trim(), heap_flush(), heap_idle(),
 * heap_dump(), heap_hart_has_queue(), heap_hart_drains(),
 * heap_hart_stats().
 */

/* Before an allocation fails: the reclaim hook, if any (true: try again). */
bool heap_reclaim(void);

/* heap_misuse() with a formatted message (one of a few kept in turn), which it returns. */
const char *heap_misusef(const void *p, const char *fmt, ...) __printf(2, 3);

/* heap_dump()'s last lines, the same for every strategy: large allocations, the early heap, misuses. */
void heap_dump_large_early(void);
/*
 * Index of the lowest set bit of x (not 0). riscv64 without Zbb has no
 * instruction for it and gcc would call libgcc, which the kernel does not
 * link: there, a de Bruijn multiply instead.
 */
#if defined(__riscv) && !defined(__riscv_zbb)
extern const uint8_t heap_debruijn[64];
static inline unsigned int low_bit64(uint64_t x)
{
	return heap_debruijn[((x & -x) * 0x03f79d71b4cb0a89ULL) >> 58];
}
#else
static inline unsigned int low_bit64(uint64_t x)
{
	return (unsigned int)__builtin_ctzll(x);
}
#endif

/*
 * In a bitmap of n bits (words read relaxed: another hart may change
 * them), how far from bit start the first set bit is, going up and round
 * past n - 1 to 0: d for bit (start + d) % n, or n if none. A whole word
 * at a time where it is clear.
 */
static inline unsigned int bits_next_around(const uint64_t *w, unsigned int n, unsigned int start)
{
	unsigned int d = 0;

	while (d < n) {
		unsigned int b = (start + d) % n;
		uint64_t bits = __atomic_load_n(&w[b / 64], __ATOMIC_RELAXED) >> (b % 64);

		if (bits & 1)
			return d;
		/* to the next set bit of the word, or its end, but not past bit n - 1 */
		d += MIN(bits ? low_bit64(bits) : 64 - b % 64, n - b);
	}
	return n;
}

/* heap_large.c */
extern uintptr_t large_window, large_window_size; /* the window, 0 and 0 for none */
void *large_alloc(size_t size, size_t align);

static inline bool large_owns(const void *p)
{
	return (uintptr_t)p - large_window < large_window_size;
}

void large_free(void *p);
size_t large_size(const void *p);
void *large_grow(void *p, size_t size, size_t align); /* NULL: not grown, nothing reported */
void *large_shrink(void *p, size_t size);	      /* p cut to size's pages; NULL: not */
/*
 * Counts an allocation of another kind (allocs, pages: +1/-1 and its
 * pages) in heap_large_stats(), on the running hart's own count.
 */
void large_account(long allocs, long pages);
void large_reset(const struct heap_large_ops *ops); /* NULL: none */

/* Whether p is the start of a large allocation: its page count, or 0 (nothing reported). */
uint32_t large_pages_at(const void *p);

/* heap_early.c */
void *early_alloc(size_t size, size_t align);
void early_free(void *p);
size_t early_size(const void *p);
bool early_contains(const void *p); /* whether p is inside the early heap's region */
void early_reset(void);		    /* heap_reset(): forgets the region without touching it */

/*
 * kmalloc.c: the allocator under the debug tier's layer (what kmalloc(),
 * kfree(), ksize() are in the other tiers), and the alignment kmalloc()
 * promises for size bytes asked aligned to align (0: none), before or
 * after the switch as it is now.
 */
void *kmalloc_inner(size_t size, size_t align);
void kfree_inner(void *p);
/* kfree_inner()'s last step: p is neither a large allocation nor the strategy's */
void kfree_other(void *p);
/*
 * kmalloc(size) and kfree(p) below the debug tier's layer: kmalloc.c's,
 * defined weak, unless the strategy has a fast path of its own that may go
 * first (heap_hart_kmalloc.c does), which hands whatever it does not do to
 * kmalloc_inner() and kfree_inner().
 */
void *heap_strategy_kmalloc(size_t size);
void heap_strategy_kfree(void *p);
/*
 * Whether nothing stands between kmalloc()/kfree() and those: no debug
 * tier, no guard pool. A strategy may then make them its fast paths
 * themselves (kmalloc.c's kmalloc() and kfree() are weak), saving a jump.
 */
#define HEAP_FRONT_EMPTY (HEAP_HARDEN != HEAP_HARDEN_DEBUG && !HEAP_GUARD)
size_t ksize_inner(const void *p);
size_t heap_natural_align(size_t size, size_t align);

/*
 * heap_debug.c, the debug tier (HEAP_HARDEN_DEBUG): every object wrapped
 * in a header and redzones, poisoned and quarantined when freed, each
 * misuse reported with the object, its size and its call sites.
 */
void *debug_alloc(size_t size, size_t align, const void *caller);
void debug_free(void *p, const void *caller);
size_t debug_size(const void *p);
void *debug_realloc(void *p, size_t size, const void *caller);
/* What the quarantine holds: objects freed but not given back to the heap below. */
void debug_quarantined(uint64_t *blocks, uint64_t *bytes);
void debug_reset(void); /* heap_reset(): forgets the quarantine without touching it */

/* kmalloc.c: which heap kmalloc() uses, written once by the switch */
#define HEAP_MODE_EARLY 0
#define HEAP_MODE_HARTS 1
extern unsigned int heap_mode;

#endif
