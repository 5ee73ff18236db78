// SPDX-License-Identifier: MIT
/*
 * The per-hart slab heaps as kmalloc()'s strategy (heap_internal.h): which
 * heap serves a request, and which heap a pointer belongs to.
 *
 * A pointer is classified without any size from the caller: inside the
 * large-allocation window, it is a large allocation; else its frame's
 * owner tag says, read through the direct map's inverse: FRAME_SLAB of
 * order 1 is a slab page, whose trailer gives heap, class and object;
 * FRAME_HEAP with the page-block mark a page block (heap_hart_pages.c).
 * Anything else is not this strategy's (kmalloc.c looks further).
 */
#include <mm/port.h>

#include "../../buddy/buddy_internal.h"
#include "heap_hart.h"

const char heap_strategy_name[] = "per-hart slab";
const size_t heap_strategy_large_above = HEAP_SLAB_MAX_SIZE;

static bool is_slab_frame(const struct frame *f)
{
	uint32_t s = __atomic_load_n(&f->state, __ATOMIC_RELAXED);

	return frame_state_tag(s) == FRAME_SLAB && frame_state_order(s) == SLAB_ORDER;
}

/*
 * The slab page holding p and p's object in it (true), false if p is in
 * no slab page; an object that is not one (a bad trailer, an offset that
 * starts no object) is reported and *s set NULL. The frame's state is read
 * relaxed: a live object's page keeps its tag until the object is freed,
 * and what else we read is checked by the trailer's magic.
 */
static __attribute__((noinline)) void slab_misuse(const char *what, const void *p,
						  struct slab **s)
{
	heap_misuse(what, p);
	*s = NULL;
}

/* Inline: it is most of kfree()'s fast path. */
static inline __attribute__((always_inline)) bool
slab_object_of(const void *p, struct slab **s, unsigned int *idx, const char *what)
{
	phys_addr_t pa = virt_to_phys(p), head = ALIGN_DOWN(pa, (phys_addr_t)HEAP_SLAB_SIZE);
	const struct frame *f = frame_lookup(head);

	if (unlikely(!f || !is_slab_frame(f)))
		return false;
	*s = slab_of_page((void *)ALIGN_DOWN((uintptr_t)p, HEAP_SLAB_SIZE));
	if (unlikely((*s)->magic != slab_magic(head)))
		slab_misuse("slab page trailer overwritten", p, s);
	else if (unlikely(slab_index(*s, pa - head, idx) < 0))
		slab_misuse(what, p, s);
	return true;
}

/* heap_queued_object() for a p outside h's window: through the direct map's inverse. */
bool heap_queued_object_far(const struct heap *h, const void *p, struct slab **s, unsigned int *idx)
{
	phys_addr_t pa = virt_to_phys(p), head = ALIGN_DOWN(pa, (phys_addr_t)HEAP_SLAB_SIZE);
	const struct frame *f = frame_lookup(head);

	if (!f || !is_slab_frame(f))
		return false;
	*s = slab_of_page((void *)ALIGN_DOWN((uintptr_t)p, HEAP_SLAB_SIZE));
	return (*s)->magic == slab_magic(head) && (*s)->heap == h->id &&
	       slab_index(*s, pa - head, idx) == 0 && slab_bit(slab_pending_map(*s), *idx) &&
	       slab_bit(slab_alloc_map(*s), *idx);
}

/* ---- allocation ------------------------------------------------------------------ */

static __attribute__((noinline)) void *alloc_slow(size_t size, size_t align)
{
	struct heap *h = this_heap();
	void *p;

	if (!h) {
		heap_misuse("kmalloc on a hart without a heap", NULL);
		return NULL;
	}
	/* a power-of-two class is aligned to its size, the largest to the slab page */
	if (MAX(size, align) <= 4096)
		return cache_refill(h, slab_class(MAX(size, align)));
	if (size <= HEAP_MID_MAX_SIZE && (p = hart_mid_alloc(size, align)))
		return p;
	if (size <= HEAP_SLAB_MAX_SIZE && align <= HEAP_SLAB_SIZE)
		return cache_refill(h, HEAP_NR_CLASSES - 1); /* its cache first, too */
	p = hart_pages_alloc(size, align);
	if (!p)
		p = large_alloc(size, align);
	if (!p && h->block_frames) { /* out of memory: first the blocks this hart keeps */
		hart_pages_flush(h);
		p = hart_pages_alloc(size, align);
		if (!p)
			p = large_alloc(size, align);
	}
	if (!p && heap_reclaim())
		p = large_alloc(size, align);
	return p;
}

/*
 * The fast path: the first object of the hart's cache for the class. No
 * call but the slow paths', tail calls (an empty cache refilled at once),
 * so that it needs no stack frame.
 */
void *heap_strategy_alloc(size_t size, size_t align)
{
	struct heap *h = this_heap();

	/*
	 * Frees other harts queued wait for the cache to run dry (a refill
	 * takes them first) or to overflow, or for the hart to go idle: not
	 * looked for here, and taken in larger batches.
	 */
	if (likely(h && MAX(size, align) <= HEAP_FAST_MAX_SIZE)) {
		size_t cls = heap_class_fast(h, MAX(size, align));
		void *p = cache_take(&h->cls[cls]);

		return likely(p) ? p : cache_refill(h, (unsigned int)cls);
	}
	return alloc_slow(size, align);
}

/*
 * kmalloc() past the sizes of its fast path's table: naturally aligned, as
 * kmalloc_inner() would ask, straight to alloc_slow() once the hart has a
 * heap (the switch is done); the early heap's way before. Out of line, so
 * that the fast path keeps its argument where it came.
 */
static __attribute__((noinline)) void *kmalloc_beyond(size_t size)
{
	struct heap *h = this_heap();
	void *p;

	if (!h)
		return kmalloc_inner(size, 0);
	if (size > HEAP_SLAB_MAX_SIZE)
		return alloc_slow(size, IS_POWER_OF_2(size) ? size : 1);
	if (size <= HEAP_MID_MAX_SIZE && (p = hart_mid_alloc(size, 1)))
		return p;
	/* the largest class (no power of two: 8192 is beyond it), its cache first */
	_Static_assert(HEAP_SLAB_MAX_SIZE < 8192,
		       "a power of two would want its natural alignment");
	p = cache_take(&h->cls[HEAP_NR_CLASSES - 1]);
	return p ? p : cache_refill(h, HEAP_NR_CLASSES - 1);
}

/*
 * kmalloc() itself: the fast path above, for a size alone (a power-of-two
 * class is aligned to its size, so natural alignment costs nothing here).
 */
void *heap_strategy_kmalloc(size_t size)
{
	struct heap *h = this_heap();

	if (likely(h && size <= HEAP_FAST_MAX_SIZE)) {
		size_t cls = heap_class_fast(h, size);
		void *p = cache_take(&h->cls[cls]);

		return likely(p) ? p : cache_refill(h, (unsigned int)cls);
	}
	return kmalloc_beyond(size);
}

#if HEAP_FRONT_EMPTY
void *kmalloc(size_t size) __attribute__((alias("heap_strategy_kmalloc")));
#endif

/* ---- free and size --------------------------------------------------------------- */

/* Everything but the fast path's case, each misuse reported (mid: a mid object still possible). */
static __attribute__((noinline)) bool free_slow(void *p, bool mid)
{
	struct heap *h = this_heap();
	struct slab *s;
	unsigned int idx = 0; /* set when s is */
	unsigned int pages;

	if (mid && hart_mid_free(p))
		return true;
	switch (hart_pages_of(p, &pages)) {
	case HART_PAGES_HEAD: hart_pages_free(p); return true;
	case HART_PAGES_INSIDE:
		heap_misuse("kfree of a pointer inside a page block", p);
		return true;
	case HART_PAGES_FREED: heap_misuse("double free (of a page block)", p); return true;
	case HART_PAGES_NONE: break;
	}
	if (!slab_object_of(p, &s, &idx, "not the start of an allocated object (a double free?)"))
		return false;
	if (s)
		heap_free(h, s, idx, p); /* the owner's slow path, or queued for the owner */
	return true;
}

/*
 * Whether a is another hart's object of a slab page in the heap's bank
 * window, whose frame f the fast path found not h's: its owner and class
 * then (false if f is of no slab page or a starts no object). The frame's
 * state is read again here, so that the fast path keeps no copy.
 */
static inline __attribute__((always_inline)) bool remote_object(const struct heap *h, uintptr_t a,
								const struct frame *f,
								unsigned int *owner,
								const struct heap_class **k)
{
	uint32_t state = __atomic_load_n(&f->state, __ATOMIC_RELAXED);

	if (state == h->frame_state || (state ^ h->frame_state) & FRAME_HEAP_LOW_MASK)
		return false;	     /* h's after all, or no slab page */
	*k = heap_frame_class(h, f); /* its shape, whoever's page */
	*owner = frame_state_heap(state);
	return heap_starts_object(*k, a);
}

/* That object's free, queued for its owner. */
static inline __attribute__((always_inline)) void free_remote(unsigned int owner, uintptr_t a,
							      const struct heap_class *k)
{
	uintptr_t off = a & (HEAP_SLAB_SIZE - 1);

	heap_free_remote_at(owner, a - off, k, (unsigned int)(off >> k->shift), (void *)a);
}

bool heap_free_remote_window(struct heap *h, uintptr_t a, const struct frame *f)
{
	const struct heap_class *k;
	unsigned int owner;

	if (!remote_object(h, a, f, &owner, &k))
		return false;
	free_remote(owner, a, k);
	return true;
}

/*
 * kfree_remote()'s way for a in h's window that is no slab object: the
 * first byte of a page block (its page's frame found through the window
 * too), a mid block's object (heap_hart_mid.c), else a misuse of this
 * strategy's (free_slow() at once: a in the direct map is no large
 * allocation), else the early heap's or a foreign pointer (kfree_other()).
 */
static __attribute__((noinline)) void kfree_no_object(struct heap *h, uintptr_t a)
{
	if (hart_pages_free_at(h, (void *)a, heap_window_page_frame(h, a)) ||
	    hart_mid_free((void *)a))
		return;
	if (!free_slow((void *)a, false))
		kfree_other((void *)a);
}

/*
 * kfree()'s way for a p in the window whose frame is not of h's slab
 * pages: another hart's object, queued for its owner, else
 * kfree_no_object(); tail calls both, so that a remote free sets up no
 * stack frame here.
 */
static __attribute__((noinline)) void kfree_remote(uintptr_t a, struct heap *h,
						   const struct frame *f)
{
	const struct heap_class *k;
	unsigned int owner;

	if (remote_object(h, a, f, &owner, &k))
		free_remote(owner, a, k);
	else
		kfree_no_object(h, a);
}

/*
 * The fast path: an object of one of the hart's own slab pages in the
 * heap's bank window, into its cache (or its page, the cache being full).
 * The page's frame says whose page it is and of which class, both out of
 * the page's reach; the class says where objects start. Another hart's
 * object in the window is queued for its owner from here, with the frame
 * found (heap_free_remote_window(); for kfree() a tail call, kfree_remote()). false,
 * with nothing done, for anything else (a large allocation, a misuse: the
 * slow way, which says what it is); true once the free is done or
 * reported (a double free found by its free tag, heap_hart.h).
 */
static inline __attribute__((always_inline)) bool free_fast(void *p, bool for_kfree)
{
	struct heap *h = this_heap();
	uintptr_t a = (uintptr_t)p, off = a & (HEAP_SLAB_SIZE - 1);
	const struct frame *f;
	struct heap_class *k;

	if (unlikely(!h || a - h->win_lo >= h->win_size))
		return false;
	f = heap_window_frame(h, a);
	if (unlikely(__atomic_load_n(&f->state, __ATOMIC_RELAXED) != h->frame_state)) {
		if (!for_kfree)
			return heap_free_remote_window(h, a, f);
		kfree_remote(a, h, f);
		return true;
	}
	k = heap_frame_class(h, f);
	if (unlikely(!heap_starts_object(k, a)))
		return false;
	if (unlikely(cache_full(k->top))) {
		heap_free_own(p, h, slab_of_page((void *)(a - off)),
			      (unsigned int)(off >> k->shift));
		return true;
	}
	if (HEAP_FREE_TAGS) {
		tag_cache(h, k, p);
		return true;
	}
	if (unlikely(p == k->top[-1]))
		return false; /* the object freed last: the slow way reports it */
	cache_push(k, p);
	return true;
}

bool heap_strategy_free(void *p)
{
	return free_fast(p, false) || free_slow(p, true);
}

/* kfree() itself, the fast path first (no call but a tail call in between). */
void heap_strategy_kfree(void *p)
{
	if (likely(free_fast(p, true)))
		return;
	kfree_inner(p);
}

#if HEAP_FRONT_EMPTY
void kfree(void *p) __attribute__((alias("heap_strategy_kfree")));
#endif

bool heap_strategy_size(const void *p, size_t *size)
{
	struct slab *s;
	unsigned int idx = 0; /* set when s is */
	unsigned int pages;

	if (hart_mid_size(p, size))
		return true;
	*size = 0;
	switch (hart_pages_of(p, &pages)) {
	case HART_PAGES_HEAD: *size = (size_t)pages * PAGE_SIZE; return true;
	case HART_PAGES_INSIDE:
		heap_misuse("ksize of a pointer inside a page block", p);
		return true;
	case HART_PAGES_FREED: heap_misuse("ksize or krealloc of a freed object", p); return true;
	case HART_PAGES_NONE: break;
	}
	if (!slab_object_of(p, &s, &idx, "not the start of an allocated object (a double free?)"))
		return false;
	/* freed, its free queued or cached (tier off: the cache's top only) */
	if (s && (!slab_bit(slab_alloc_map(s), idx) || slab_bit(slab_pending_map(s), idx) ||
		  (HEAP_FREE_TAGS && *(const uintptr_t *)p == free_tag(heap_tag_key, p)) ||
		  (!HEAP_FREE_TAGS && this_heap() && p == this_heap()->cls[s->cls].top[-1])))
		slab_report(s, "ksize or krealloc of a freed object", p);
	else if (s)
		*size = slab_geom[s->cls].size;
	return true;
}

/* The same class, the same page block, or the same number of pages. */
bool heap_strategy_fits(const void *p, size_t old, size_t size)
{
	unsigned int pages;

	if (old > HEAP_FAST_MAX_SIZE && old <= HEAP_MID_MAX_SIZE) /* only a mid class's ksize() */
		return hart_mid_fit(old, size);
	if (hart_pages_of(p, &pages) != HART_PAGES_NONE)
		return hart_pages_fit(size, pages);
	return size <= HEAP_SLAB_MAX_SIZE && slab_class(size) == slab_class(old);
}

/* ---- the switch ------------------------------------------------------------------ */

int heap_strategy_switch(unsigned int nr_harts, const struct heap_large_ops *ops)
{
	(void)ops;
	slab_geom_init();
	return heaps_reset(nr_harts);
}

void heap_strategy_reset(void)
{
	heaps_reset(0);
}
