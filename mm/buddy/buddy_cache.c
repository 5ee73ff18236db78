// SPDX-License-Identifier: MIT
/*
 * Per-hart page caches and the order-0 fast path through them. A cache is
 * a stack of free frames (state FRAME_CACHED) that only its hart takes from
 * and gives to; the global lock is taken once per BUDDY_CACHE_BATCH frames.
 * The cache's own lock is there for buddy_drain_cache() from another hart:
 * a test-and-set lock, one atomic swap when uncontended.
 */
#include <mm/port.h>

#include "buddy_internal.h"

struct hart_cache buddy_caches[MAX_HARTS];

/*
 * count is read without the cache's lock by buddy_cached_frames(): never
 * torn. A volatile store (GCC 12 makes riscv64's relaxed atomic store an
 * amoswap); under ThreadSanitizer an atomic one, which it can see.
 */
static inline void cache_set_count(struct hart_cache *c, unsigned long n)
{
#ifdef __SANITIZE_THREAD__
	__atomic_store_n(&c->count, n, __ATOMIC_RELAXED);
#else
	*(volatile unsigned long *)&c->count = n;
#endif
}

/*
 * The running hart's cache. The index goes through int on purpose: the
 * RISC-V ABI returns 32-bit values sign-extended, so an unsigned index would
 * cost two instructions of zero-extension on every call (and it is < MAX_HARTS).
 */
static inline struct hart_cache *this_cache(void)
{
	struct hart_cache *c = &buddy_caches[(int)this_hart_index()];

	/* opaque from here: gcc would otherwise rebuild every slot address from the index */
	__asm__("" : "+r"(c));
	return c;
}

/* Fills an empty cache with up to a batch from the free lists; false if there was nothing. */
static bool cache_refill(struct hart_cache *c)
{
	static const struct buddy_req one = { .order = 0, .align_order = 0, .limit_pfn = UINT64_MAX };
	struct buddy_bank *b;
	unsigned long n = c->count;
	uint32_t i;

	spin_lock(&buddy_pool.lock);
	while (n < BUDDY_CACHE_BATCH && buddy_take_locked(&one, &b, &i)) {
		frame_store_state(&b->frames[i], frame_state_make(FRAME_CACHED, 0, 0));
		c->slot[n++] = (struct cache_slot){ bank_pa(b, i), &b->frames[i] };
	}
	spin_unlock(&buddy_pool.lock);
	/* the first taken on top: it is the nearest (a batch may run into another node) */
	for (unsigned long lo = c->count, hi = n; lo + 1 < hi; lo++, hi--) {
		struct cache_slot s = c->slot[lo];

		c->slot[lo] = c->slot[hi - 1];
		c->slot[hi - 1] = s;
	}
	cache_set_count(c, n);
	return n != 0;
}

/* Gives up to n frames from the top of the cache back to the free lists. */
static void cache_drain(struct hart_cache *c, unsigned long n)
{
	unsigned long left = c->count;

	spin_lock(&buddy_pool.lock);
	for (; n && left; n--) {
		uint32_t i;
		struct buddy_bank *b = bank_of_pfn(pa_to_pfn(c->slot[--left].pa), &i);

		if (b) /* always: only frames of a bank get cached */
			bank_free_locked(b, i, 0);
	}
	spin_unlock(&buddy_pool.lock);
	cache_set_count(c, left);
}

/*
 * buddy_alloc_frame() and buddy_free_frame() below are the fast paths:
 * everything unusual is handed by tail call to the out-of-line functions
 * here, so that little is live across a call on the way through and they
 * need few registers. alloc_locked() and free_locked() are their second
 * halves.
 */
static inline int alloc_locked(struct hart_cache *c, phys_addr_t *pa);
static inline int free_locked(struct hart_cache *c, phys_addr_t pa, struct frame *f);

/*
 * Entered with c locked and empty: refill it, or (nothing left anywhere)
 * unlock it and go the long way, which drains every cache and may call the
 * grow hook: with no lock held, so that the hook may allocate too.
 */
static __attribute__((noinline)) int alloc_refill(struct hart_cache *c, phys_addr_t *pa)
{
	if (!cache_refill(c)) {
		tas_unlock(&c->lock);
		return buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, pa);
	}
	return alloc_locked(c, pa);
}

static __attribute__((noinline)) int alloc_wait(struct hart_cache *c, phys_addr_t *pa)
{
	tas_lock_wait(&c->lock);
	return alloc_locked(c, pa);
}

/*
 * Entered with c locked and full: half of it goes back to the free lists.
 * The reporter, if those frames make it due, runs once c is unlocked.
 */
static __attribute__((noinline)) int free_drain(struct hart_cache *c, phys_addr_t pa,
						struct frame *f)
{
	int rc;

	cache_drain(c, BUDDY_CACHE_BATCH);
	rc = free_locked(c, pa, f);
	buddy_report_check();
	return rc;
}

static __attribute__((noinline)) int free_wait(struct hart_cache *c, phys_addr_t pa,
					       struct frame *f)
{
	tas_lock_wait(&c->lock);
	return free_locked(c, pa, f);
}

static inline int alloc_locked(struct hart_cache *c, phys_addr_t *pa)
{
	unsigned long n = c->count;
	struct cache_slot *s;

	if (unlikely(n == 0))
		return alloc_refill(c, pa);
	s = &c->slot[n - 1];
	*pa = s->pa;
	frame_store_state(s->f, frame_state_make(FRAME_ALLOCATED, 0, 0));
	cache_set_count(c, n - 1);
	tas_unlock(&c->lock);
	return 0;
}

static inline int free_locked(struct hart_cache *c, phys_addr_t pa, struct frame *f)
{
	unsigned long n = c->count;

	if (unlikely(n == BUDDY_CACHE_SIZE))
		return free_drain(c, pa, f);
	c->slot[n] = (struct cache_slot){ pa, f };
	cache_set_count(c, n + 1);
	tas_unlock(&c->lock);
	return 0;
}

static inline int free_to_cache(phys_addr_t pa, struct frame *f)
{
	struct hart_cache *c = this_cache();

	if (unlikely(!tas_trylock(&c->lock)))
		return free_wait(c, pa, f);
	return free_locked(c, pa, f);
}

/*
 * An order-0 frame that was not simply FRAME_ALLOCATED: re-tagged by its
 * owner (a page-table page, say), or not ours to free at all. Owned and
 * not early, it is claimed and cached like any other; else the long way,
 * which reports the misuse or (early frames) counts them under the lock.
 */
static __attribute__((noinline)) int free_other(phys_addr_t pa, struct frame *f, uint32_t s)
{
	while (frame_state_tag(s) >= FRAME_ALLOCATED && frame_state_order(s) == 0) {
		if (__atomic_compare_exchange_n(&f->state, &s, frame_state_make(FRAME_CACHED, 0, 0),
						false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return free_to_cache(pa, f);
	}
	return buddy_free_ex(pa, 0, BUDDY_NOCACHE);
}

/*
 * A frame outside the top bank, or of another NUMA node than the hart's
 * (it goes straight home to its bank's lists, never into this cache, which
 * would hand it out here again), or an address that is no frame's.
 */
static __attribute__((noinline)) int free_elsewhere(phys_addr_t pa)
{
	uint32_t i;
	struct buddy_bank *b = bank_of_pfn(pa_to_pfn(pa), &i);

	if (!b || (pa & (PAGE_SIZE - 1)) || b->node != this_cache()->node)
		return buddy_free_ex(pa, 0, BUDDY_NOCACHE); /* reports a misuse */
	return free_other(pa, &b->frames[i], frame_load_state(&b->frames[i]));
}

int buddy_alloc_frame(phys_addr_t *pa)
{
	struct hart_cache *c = this_cache();

	if (unlikely(!tas_trylock(&c->lock)))
		return alloc_wait(c, pa);
	return alloc_locked(c, pa);
}

/*
 * The common case inline: a FRAME_ALLOCATED frame claimed with one
 * compare-and-swap, which also makes sure that of two harts freeing it only
 * one gets it into a cache.
 */
int buddy_free_frame(phys_addr_t pa)
{
	struct hart_cache *c = this_cache(); /* first: then only pa is live across the call */
	const struct buddy_bank *b = buddy_top();
	uint64_t i = pa_to_pfn(pa) - b->base_pfn;
	uint32_t s = frame_state_make(FRAME_ALLOCATED, 0, 0);
	struct frame *f;

	if (unlikely(i >= b->nr_frames || (pa & (PAGE_SIZE - 1)) || b->node != c->node))
		return free_elsewhere(pa);
	f = &b->frames[i];
	if (unlikely(!__atomic_compare_exchange_n(&f->state, &s, frame_state_make(FRAME_CACHED, 0, 0),
						  false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)))
		return free_other(pa, f, s);
	if (unlikely(!tas_trylock(&c->lock)))
		return free_wait(c, pa, f);
	return free_locked(c, pa, f);
}

int buddy_alloc(unsigned int order, phys_addr_t *pa)
{
	if (order == 0)
		return buddy_alloc_frame(pa);
	return buddy_alloc_ex(order, 0, BUDDY_NO_LIMIT, 0, pa);
}

int buddy_free(phys_addr_t pa, unsigned int order)
{
	if (order == 0)
		return buddy_free_frame(pa);
	return buddy_free_ex(pa, order, 0);
}

void buddy_drain_cache(unsigned int hart)
{
	struct hart_cache *c;

	if (hart >= MAX_HARTS)
		return;
	c = &buddy_caches[hart];
	tas_lock(&c->lock);
	cache_drain(c, BUDDY_CACHE_SIZE);
	tas_unlock(&c->lock);
	buddy_report_check();
}

void buddy_drain_caches(void)
{
	for (unsigned int h = 0; h < MAX_HARTS; h++) {
		if (__atomic_load_n(&buddy_caches[h].count, __ATOMIC_RELAXED))
			buddy_drain_cache(h);
	}
}

uint64_t buddy_cached_frames(void)
{
	uint64_t n = 0;

	for (unsigned int h = 0; h < MAX_HARTS; h++)
		n += __atomic_load_n(&buddy_caches[h].count, __ATOMIC_RELAXED);
	return n;
}
