// SPDX-License-Identifier: MIT
/*
 * kmalloc() and friends, for whichever heap strategy is linked in
 * (heap_internal.h): the early heap before the switch, the strategy after
 * it; a block of the early heap freed after the switch goes back to it,
 * found by its frame's owner tag (FRAME_EARLY marked HEAP_EARLY_FRAME_MARK).
 * Natural alignment, zeroing, overflow checks and krealloc() are done here
 * once for every strategy. With the debug hardening tier every call goes
 * through mm/heap/heap_debug.c first, which wraps each object and asks the
 * functions below (the *_inner ones) for the memory; the other tiers never
 * reach it (HEAP_HARDEN is a constant). With sampled guard pages
 * (HEAP_GUARD, mm/heap/heap_guard.c) each call looks at the guard pool first,
 * before the tier and the strategy: a sampled allocation is placed there,
 * and a pointer into the pool is freed there (no strategy ever sees one).
 */
#include <mm/kmalloc.h>
#include <mm/port.h>
#include <string.h>

#include "heap_guard.h"
#include "heap_internal.h"

unsigned int heap_mode;

/* Read on every call, written once by the switch: what the switch set up is visible with it. */
static inline bool switched(void)
{
	return __atomic_load_n(&heap_mode, __ATOMIC_ACQUIRE) == HEAP_MODE_HARTS;
}

/* A power-of-two size is aligned to itself (by the early heap up to a page). */
static inline size_t natural_align(size_t size, size_t align, bool after_switch)
{
	if (IS_POWER_OF_2(size) && size > align)
		return after_switch ? size : MIN(size, (size_t)PAGE_SIZE);
	return align ? align : 1;
}

/* Whether p (not the strategy's) is a block of the early heap. */
static bool is_early(const void *p)
{
	struct frame_owner o;

	return frame_owner(virt_to_phys(p), &o) == 0 && o.tag == FRAME_EARLY &&
	       o.aux == HEAP_EARLY_FRAME_MARK;
}

size_t heap_natural_align(size_t size, size_t align)
{
	return natural_align(size, align, switched());
}

#define DEBUG_TIER (HEAP_HARDEN == HEAP_HARDEN_DEBUG)
#define CALLER	   __builtin_return_address(0)

/* ---- allocation ------------------------------------------------------------------ */

/*
 * A sampled allocation: a slot of the guard pool, aligned as kmalloc()
 * promises (kmalloc.h: natural alignment, 16 from 16 bytes up, else 8;
 * 16 before the switch), else the usual way.
 */
static __attribute__((noinline)) void *kmalloc_sampled(size_t size, size_t align,
						       const void *caller)
{
	void *p = NULL;

	if (!(align & (align - 1)))
		p = guard_alloc(
		    size, MAX(natural_align(size, align, true), size >= 16 || !switched() ? 16 : 8),
		    caller);
	if (p)
		return p;
	return DEBUG_TIER ? debug_alloc(size, align, caller) : kmalloc_inner(size, align);
}

static __attribute__((noinline)) void *kmalloc_early(size_t size, size_t align)
{
	return early_alloc(size, natural_align(size, align, false));
}

/* The strategy's own fast path may stand in for this one (heap_internal.h). */
__attribute__((weak)) void *heap_strategy_kmalloc(size_t size)
{
	if (likely(switched()))
		return heap_strategy_alloc(size, natural_align(size, 0, true));
	return kmalloc_early(size, 0);
}

__attribute__((weak)) void *kmalloc(size_t size)
{
	if (HEAP_GUARD && guard_sample())
		return kmalloc_sampled(size, 0, CALLER);
	if (DEBUG_TIER)
		return debug_alloc(size, 0, CALLER);
	return heap_strategy_kmalloc(size);
}

void *kmalloc_inner(size_t size, size_t align)
{
	if (align & (align - 1))
		return NULL;
	if (likely(switched()))
		return heap_strategy_alloc(size, natural_align(size, align, true));
	return kmalloc_early(size, align);
}

void *kmalloc_aligned(size_t size, size_t align)
{
	if (HEAP_GUARD && guard_sample())
		return kmalloc_sampled(size, align, CALLER);
	if (DEBUG_TIER)
		return debug_alloc(size, align, CALLER);
	return kmalloc_inner(size, align);
}

void *kmalloc_caller(size_t size, size_t align, const void *caller)
{
	if (HEAP_GUARD && guard_sample())
		return kmalloc_sampled(size, align, caller);
	if (DEBUG_TIER)
		return debug_alloc(size, align, caller);
	(void)caller;
	return kmalloc_inner(size, align);
}

/* kzalloc() and kcalloc(): kmalloc() zeroed, on behalf of their caller. */
static inline __attribute__((always_inline)) void *zalloc(size_t size, const void *caller)
{
	void *p;

	if (HEAP_GUARD && guard_sample())
		p = kmalloc_sampled(size, 0, caller);
	else
		p = DEBUG_TIER ? debug_alloc(size, 0, caller) : heap_strategy_kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void *kzalloc(size_t size)
{
	return zalloc(size, CALLER);
}

void *kcalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return zalloc(n * size, CALLER);
}

/* ---- free and size --------------------------------------------------------------- */

__attribute__((noinline)) void kfree_other(void *p)
{
	if (!switched() || is_early(p))
		early_free(p);
	else
		heap_misuse("not a pointer the heap handed out", p);
}

__attribute__((weak)) void heap_strategy_large_free(void *p)
{
	large_free(p);
}

__attribute__((weak)) size_t heap_strategy_large_size(const void *p)
{
	return large_size(p);
}

__attribute__((weak)) void *heap_strategy_large_grow(void *p, size_t size, size_t align)
{
	return large_grow(p, size, align);
}

__attribute__((weak)) void *heap_strategy_large_shrink(void *p, size_t size)
{
	return large_shrink(p, size);
}

/* A large allocation first, whatever the strategy; then the strategy's; then the early heap's. */
void kfree_inner(void *p)
{
	if (likely(p && switched())) {
		if (large_owns(p)) {
			heap_strategy_large_free(p);
			return;
		}
		if (heap_strategy_free(p))
			return;
	}
	if (p)
		kfree_other(p);
}

__attribute__((weak)) void heap_strategy_kfree(void *p)
{
	kfree_inner(p);
}

__attribute__((weak)) void kfree(void *p)
{
	if (HEAP_GUARD && guard_owns(p)) {
		guard_free(p, CALLER);
		return;
	}
	if (DEBUG_TIER) {
		debug_free(p, CALLER);
		return;
	}
	heap_strategy_kfree(p);
}

void kfree_caller(void *p, const void *caller)
{
	if (HEAP_GUARD && guard_owns(p)) {
		guard_free(p, caller);
		return;
	}
	if (DEBUG_TIER) {
		debug_free(p, caller);
		return;
	}
	(void)caller;
	kfree_inner(p);
}

/* The usable size of p, *early set for a block of the early heap; 0 (reported) for a bad pointer.
 */
static size_t size_of(const void *p, bool *early)
{
	size_t n;

	*early = !switched();
	if (!*early && large_owns(p))
		return heap_strategy_large_size(p);
	if (!*early && heap_strategy_size(p, &n))
		return n;
	if (*early || is_early(p)) {
		*early = true;
		return early_size(p);
	}
	heap_misuse("not a pointer the heap handed out", p);
	return 0;
}

size_t ksize_inner(const void *p)
{
	bool early;

	return p ? size_of(p, &early) : 0;
}

size_t ksize(const void *p)
{
	if (HEAP_GUARD && guard_owns(p)) {
		size_t n;

		guard_size(p, &n, CALLER); /* 0 when reported */
		return n;
	}
	if (DEBUG_TIER)
		return debug_size(p);
	return ksize_inner(p);
}

/*
 * Whether p (usable size old) can stay where it is for size bytes: a
 * power-of-two size only where p is aligned to it; the strategy says for
 * its blocks; the early heap's stay before the switch if
 * neither larger nor under half, and move to the strategy at the first
 * krealloc() after it.
 */
static bool stays(void *p, bool early, size_t old, size_t size)
{
	if (IS_POWER_OF_2(size) && !IS_ALIGNED((uintptr_t)p, natural_align(size, 0, !early)))
		return false; /* the block fits, but not the alignment the new size promises */
	if (early)
		return !switched() && size <= old && size > old / 2;
	if (large_owns(p))
		return size > heap_strategy_large_above && ALIGN_UP((uint64_t)size, PAGE_SIZE) == old;
	return heap_strategy_fits(p, old, size);
}

/* A pool object always moves: to a fresh slot if sampled again, else the usual way. */
static __attribute__((noinline)) void *krealloc_guarded(void *p, size_t size, const void *caller)
{
	size_t old;
	void *n;

	if (!guard_size(p, &old, caller))
		return NULL; /* reported */
	if (!size) {
		guard_free(p, caller);
		return NULL;
	}
	n = kmalloc_caller(size, 0, caller);
	if (n) {
		memcpy(n, p, MIN(old, size));
		guard_free(p, caller);
	}
	return n;
}

/* caller: whose call it is, for a sampled allocation's report (kmalloc_caller()) */
static void *krealloc_inner(void *p, size_t size, const void *caller)
{
	bool early;
	size_t old;
	void *n;

	if (!p)
		return kmalloc_caller(size, 0, caller);
	if (!size) {
		kfree_caller(p, caller);
		return NULL;
	}
	old = size_of(p, &early);
	if (!old)
		return NULL;
	if (stays(p, early, old, size))
		return p;
	/*
	 * A large allocation grows where its bytes are (no copy, no second
	 * copy held) and shrinks where it is while it stays large (the pages
	 * past its new end given back).
	 */
	if (!early && size > heap_strategy_large_above && large_owns(p)) {
		size_t align = natural_align(size, 0, true);

		if (size > old && (n = heap_strategy_large_grow(p, size, align)))
			return n;
		if (size < old && IS_ALIGNED((uintptr_t)p, align) &&
		    heap_strategy_large_shrink(p, size))
			return p;
	}
	n = kmalloc_caller(size, 0, caller);
	if (!n)
		return NULL;
	memcpy(n, p, MIN(old, size));
	kfree_caller(p, caller);
	return n;
}

void *krealloc(void *p, size_t size)
{
	if (HEAP_GUARD && guard_owns(p))
		return krealloc_guarded(p, size, CALLER);
	if (DEBUG_TIER)
		return debug_realloc(p, size, CALLER);
	return krealloc_inner(p, size, CALLER);
}

void *krealloc_caller(void *p, size_t size, const void *caller)
{
	if (HEAP_GUARD && guard_owns(p))
		return krealloc_guarded(p, size, caller);
	if (DEBUG_TIER)
		return debug_realloc(p, size, caller);
	return krealloc_inner(p, size, caller);
}

/* ---- the switch ------------------------------------------------------------------ */

const char *heap_strategy(void)
{
	return heap_strategy_name;
}

/* Each layer forgets itself, the top first: nothing below resets what is above it. */
void heap_reset(void)
{
	__atomic_store_n(&heap_mode, HEAP_MODE_EARLY, __ATOMIC_RELEASE);
	debug_reset();
	heap_strategy_reset();
	large_reset(NULL);
	early_reset();
}

int switch_to_multiple_heaps(unsigned int nr_harts, const struct heap_large_ops *ops)
{
	int err;

	if (!nr_harts || nr_harts > MAX_HARTS || !ops || !ops->map || !ops->lookup || !ops->unmap)
		return -EINVAL;
	if (heap_early_adopt() < 0)
		return -EINVAL;
	large_reset(ops);
	heap_strategy_reset();
	err = heap_strategy_switch(nr_harts, ops);
	if (err) {
		large_reset(NULL);
		return err;
	}
	__atomic_store_n(&heap_mode, HEAP_MODE_HARTS, __ATOMIC_RELEASE);
	return 0;
}
