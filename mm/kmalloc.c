// SPDX-License-Identifier: MIT
/*
 * kmalloc() and friends: which heap serves a request, and which heap a
 * pointer belongs to.
 *
 * Before the switch everything is the early heap's. After it, a pointer is
 * classified without any size from the caller: inside the large-allocation
 * window, it is a large allocation; else its frame's owner tag says, read
 * through the direct map's inverse: FRAME_SLAB (an 8 KiB slab page, whose
 * trailer gives heap, class and object), FRAME_EARLY marked
 * HEAP_EARLY_FRAME_MARK (the early heap); anything else is no pointer of ours.
 */
#include <kernel/errno.h>
#include <mm/kmalloc.h>
#include <string.h>

#include "buddy_internal.h"
#include "heap_internal.h"

unsigned int heap_mode;

/* Read on every call, written once by the switch: what the switch set up is visible with it. */
static inline bool harts_mode(void)
{
	return __atomic_load_n(&heap_mode, __ATOMIC_ACQUIRE) == HEAP_MODE_HARTS;
}

enum kind { BAD, SLAB, LARGE, EARLY };

struct kptr {
	struct slab *s;
	unsigned int idx;
};

/*
 * An object of a slab page, or BAD (reported). The frame's state is read
 * relaxed: a live object's page keeps its tag until the object is freed,
 * and what else we read is checked by the trailer's magic.
 */
static enum kind classify_slab(const void *p, phys_addr_t pa, struct kptr *k)
{
	phys_addr_t head = ALIGN_DOWN(pa, (phys_addr_t)HEAP_SLAB_SIZE);

	k->s = slab_of_page(phys_to_virt(head));
	if (k->s->magic != slab_magic(head)) {
		heap_misuse("slab page trailer overwritten", p);
		return BAD;
	}
	if (slab_index(k->s, pa - head, &k->idx) < 0) {
		heap_misuse("not the start of an allocated object (a double free?)", p);
		return BAD;
	}
	return SLAB;
}

static bool is_slab_frame(const struct frame *f)
{
	uint32_t s = __atomic_load_n(&f->state, __ATOMIC_RELAXED);

	return frame_state_tag(s) == FRAME_SLAB && frame_state_order(s) == SLAB_ORDER;
}

/* The slow half of classify(): not a slab page. */
static __attribute__((noinline)) enum kind classify_other(const void *p, phys_addr_t pa)
{
	struct frame_owner o;

	if (frame_owner(pa, &o) == 0 && o.tag == FRAME_EARLY && o.aux == HEAP_EARLY_FRAME_MARK)
		return EARLY;
	heap_misuse("not a pointer the heap handed out", p);
	return BAD;
}

static enum kind classify(const void *p, struct kptr *k)
{
	phys_addr_t pa;
	const struct frame *f;

	if (!harts_mode())
		return EARLY;
	if (large_owns(p))
		return LARGE;
	pa = virt_to_phys(p);
	f = frame_lookup(ALIGN_DOWN(pa, (phys_addr_t)HEAP_SLAB_SIZE));
	if (likely(f && is_slab_frame(f)))
		return classify_slab(p, pa, k);
	return classify_other(p, pa);
}

/* ---- allocation ------------------------------------------------------------------ */

static __attribute__((noinline)) void *kmalloc_slow(size_t size, size_t align)
{
	bool harts = harts_mode(); /* once: the switch may happen meanwhile */
	struct heap *h;
	void *p;

	if (IS_POWER_OF_2(size) && size > align) /* naturally aligned: the early heap up to a page */
		align = harts ? size : MIN(size, (size_t)PAGE_SIZE);
	if (!harts)
		return early_alloc(size, align);
	h = this_heap();
	if (!h) {
		heap_misuse("kmalloc on a hart without a heap", NULL);
		return NULL;
	}
	/* a power-of-two class is aligned to its size, the largest to the slab page */
	if (MAX(size, align) <= 4096)
		return heap_alloc(h, slab_class(MAX(size, align)));
	if (size <= HEAP_SLAB_MAX_SIZE && align <= HEAP_SLAB_SIZE)
		return heap_alloc(h, HEAP_NR_CLASSES - 1);
	p = large_alloc(size, align);
	if (!p && heap_reclaim())
		p = large_alloc(size, align);
	return p;
}

/* The slab classes are powers of two, so every slab object is naturally aligned. */
void *kmalloc(size_t size)
{
	struct heap *h = this_heap();

	if (likely(h && size <= HEAP_SLAB_MAX_SIZE)) {
		void *p = heap_alloc_fast(h, slab_class(size));

		if (likely(p))
			return p;
	}
	return kmalloc_slow(size, 0);
}

void *kmalloc_aligned(size_t size, size_t align)
{
	if (align & (align - 1))
		return NULL;
	return align <= 8 ? kmalloc(size) : kmalloc_slow(size, align);
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

void *kcalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kzalloc(n * size);
}

/* ---- free and size --------------------------------------------------------------- */

static __attribute__((noinline)) void kfree_slow(void *p)
{
	struct kptr k;

	switch (classify(p, &k)) {
	case SLAB:
		heap_free(this_heap(), k.s, k.idx, p);
		break;
	case LARGE:
		large_free(p);
		break;
	case EARLY:
		early_free(p);
		break;
	case BAD:
		break;
	}
}

/*
 * The fast path: an object of a slab page, checked as the slow path checks
 * it (the frame is a slab page, the trailer is that page's, the offset
 * starts an object); this hart's (heap_free_fast() says when), or another
 * heap's, queued for it. Anything else, NULL included, goes the slow way.
 */
void kfree(void *p)
{
	struct heap *h = this_heap();

	if (likely(h && p && !large_owns(p))) {
		phys_addr_t pa = virt_to_phys(p), head = ALIGN_DOWN(pa, (phys_addr_t)HEAP_SLAB_SIZE);
		const struct frame *f = frame_lookup(head);
		struct slab *s = slab_of_page((void *)ALIGN_DOWN((uintptr_t)p, HEAP_SLAB_SIZE));
		unsigned int idx;

		if (likely(f && is_slab_frame(f) && s->magic == slab_magic(head) &&
			   slab_index(s, pa - head, &idx) == 0)) {
			if (likely(s->heap == h->id)) {
				if (likely(heap_free_fast(h, s, idx))) {
					/* an owner that only frees takes its queue too */
					if (unlikely(__atomic_load_n(&h->remote, __ATOMIC_RELAXED)))
						heap_drain_remote(h);
					return;
				}
			} else {
				heap_free_remote(s, idx, p);
				return;
			}
		}
	}
	if (p)
		kfree_slow(p);
}

/* The usable size of p and its kind; 0 (reported) for a bad pointer. */
static size_t size_of(const void *p, enum kind *kind, struct kptr *k)
{
	*kind = classify(p, k);
	switch (*kind) {
	case SLAB: /* freed, or its free queued for its heap */
		if (!slab_bit(slab_alloc_map(k->s), k->idx) || slab_bit(slab_pending_map(k->s), k->idx)) {
			heap_misuse("ksize or krealloc of a freed object", p);
			return 0;
		}
		return slab_geom[k->s->cls].size;
	case LARGE:
		return large_size(p);
	case EARLY:
		return early_size(p);
	default:
		return 0;
	}
}

size_t ksize(const void *p)
{
	enum kind kind;
	struct kptr k;

	return p ? size_of(p, &kind, &k) : 0;
}

/*
 * Whether p (size old, of this kind) can stay where it is for size bytes:
 * the same class, the same number of pages, or in the early heap before
 * the switch, neither larger nor under half of it. An early block moves
 * to the per-hart heaps at the first krealloc() after the switch.
 */
static bool stays(enum kind kind, const struct kptr *k, size_t old, size_t size)
{
	switch (kind) {
	case SLAB:
		return size <= HEAP_SLAB_MAX_SIZE && slab_class(size) == k->s->cls;
	case LARGE:
		return size > HEAP_SLAB_MAX_SIZE && ALIGN_UP((uint64_t)size, PAGE_SIZE) == old;
	default:
		return !harts_mode() && size <= old && size > old / 2;
	}
}

void *krealloc(void *p, size_t size)
{
	enum kind kind;
	struct kptr k;
	size_t old;
	void *n;

	if (!p)
		return kmalloc(size);
	if (!size) {
		kfree(p);
		return NULL;
	}
	old = size_of(p, &kind, &k);
	if (!old)
		return NULL;
	if (stays(kind, &k, old, size))
		return p;
	n = kmalloc(size);
	if (!n)
		return NULL;
	memcpy(n, p, MIN(old, size));
	kfree(p);
	return n;
}

/* ---- the switch ------------------------------------------------------------------ */

int switch_to_multiple_heaps(unsigned int nr_harts, const struct heap_large_ops *ops)
{
	if (!nr_harts || nr_harts > MAX_HARTS || !ops || !ops->map || !ops->lookup || !ops->unmap)
		return -EINVAL;
	if (heap_early_adopt() < 0)
		return -EINVAL;
	slab_geom_init();
	heaps_reset(nr_harts);
	large_reset(ops);
	__atomic_store_n(&heap_mode, HEAP_MODE_HARTS, __ATOMIC_RELEASE);
	return 0;
}
