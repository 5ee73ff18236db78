// SPDX-License-Identifier: MIT
/*
 * The per-hart heaps' page blocks: an allocation beyond the largest slab
 * class, up to HART_PAGES_MAX frames, is one run of contiguous frames of
 * the buddy (buddy_alloc_range(): a block, its tail given back) used
 * through the direct map, as Linux's kmalloc_large() uses the page
 * allocator. It needs no mapping and no TLB shootdown when freed, where
 * the large-allocation window (heap_large.c) maps every page and unmaps it
 * again, and it holds no more pages than it needs. A run the buddy cannot
 * give (fragmented memory) goes to the window instead.
 *
 * The run's head frame says what it is (FRAME_HEAP, HART_PAGES_HEAP_ID,
 * HART_PAGES_MARK and its length), out of the run's reach, so kfree()
 * needs nothing but the pointer. The debug tier keeps the window for these
 * sizes: its trailer header finds the end of an allocation through
 * large_pages_at().
 *
 * A freed block waits in its hart's cache of blocks (struct heap's
 * blocks[], by length, kept out of the blocks) for that hart's next
 * allocation of its length, as the buddy's per-hart cache keeps single
 * frames: a run split from a larger block and merged back costs the buddy
 * hundreds of instructions. While it waits, its head frame names
 * HART_PAGES_CACHED_ID instead of HART_PAGES_HEAP_ID: a free swaps one for
 * the other with a compare-and-swap, so of two frees of a block exactly
 * one goes on, and a free, ksize() or krealloc() of a cached block is
 * reported as of a freed one. heap_flush(), heap_trim() and heap_idle()
 * give the cache back to the buddy.
 */
#include <mm/buddy.h>

#include "../../buddy/buddy_internal.h"
#include "heap_hart.h"

#define HART_PAGES_HEAP_ID   0xa9e5
#define HART_PAGES_CACHED_ID 0xa9e6
#define HART_PAGES_MARK	     0xa9e5b100u /* | the run's length in frames */

/* The frames of a page block for size bytes aligned to align; 0 if none is taken for it. */
static unsigned int pages_for(size_t size, size_t align)
{
	if (HEAP_HARDEN == HEAP_HARDEN_DEBUG || size > HART_PAGES_MAX * PAGE_SIZE ||
	    align > HART_PAGES_MAX * PAGE_SIZE)
		return 0;
	return (unsigned int)((size + PAGE_SIZE - 1) / PAGE_SIZE);
}

/*
 * A block's head frame f says heap id to instead of from (a
 * compare-and-swap of its state, tag and order kept); false if it said
 * anything else. Once it is true, f's aux (the block's mark and length)
 * is the block's: it was set before the state that made it so.
 */
static bool block_swap_frame(struct frame *f, unsigned int from, unsigned int to)
{
	uint32_t s = __atomic_load_n(&f->state, __ATOMIC_RELAXED);

	return frame_state_tag(s) == FRAME_HEAP && frame_state_heap(s) == from &&
	       __atomic_compare_exchange_n(&f->state, &s,
					   (s & FRAME_HEAP_LOW_MASK) | to << FRAME_HEAP_SHIFT,
					   false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

struct frame *heap_page_frame(const struct heap *h, const void *p)
{
	if (h && (uintptr_t)p - h->win_lo < h->win_size)
		return heap_window_page_frame(h, (uintptr_t)p);
	return frame_lookup(virt_to_phys(p));
}

/* A block of n frames aligned to align from the hart's cache (the one freed last), or NULL. */
static void *cache_take_block(struct heap *h, unsigned int n, size_t align)
{
	while (h->nr_blocks[n] && !((uintptr_t)h->blocks[n][h->nr_blocks[n] - 1] & (align - 1))) {
		void *p = h->blocks[n][--h->nr_blocks[n]];
		struct frame *f = heap_page_frame(h, p);

		h->block_frames -= n;
		if (f && block_swap_frame(f, HART_PAGES_CACHED_ID, HART_PAGES_HEAP_ID))
			return p;
		/* its frame changed while it waited (a buddy_free() of it?): dropped */
		heap_misuse("cached page block changed owner", p);
	}
	return NULL;
}

void *hart_pages_alloc(size_t size, size_t align)
{
	unsigned int n = pages_for(size, align);
	struct heap *h = this_heap();
	struct frame_owner o;
	phys_addr_t pa;
	void *p;

	if (!n)
		return NULL;
	if (h && (p = cache_take_block(h, n, MAX(align, (size_t)1)))) {
		large_account(1, n);
		return p;
	}
	if (buddy_alloc_range(n, MAX(align, (size_t)PAGE_SIZE), BUDDY_NO_LIMIT, &pa) < 0)
		return NULL;
	/* the run's first block (it may be tiled by several) carries the mark */
	if (frame_owner(pa, &o) < 0 ||
	    frame_set_owner(pa, o.order, FRAME_HEAP, HART_PAGES_HEAP_ID, HART_PAGES_MARK | n) < 0) {
		buddy_free_range(pa, n);
		return NULL;
	}
	large_account(1, n);
	return phys_to_virt(pa);
}

/* Whether o is a page block's head frame, allocated or cached. */
static bool is_block_head(const struct frame_owner *o)
{
	return o->tag == FRAME_HEAP &&
	       (o->heap == HART_PAGES_HEAP_ID || o->heap == HART_PAGES_CACHED_ID) &&
	       (o->aux & ~0xffu) == HART_PAGES_MARK;
}

/*
 * What p is to the page blocks: in none, the first byte of one allocated
 * or freed (cached), or a byte inside one; *pages is then its length in
 * frames.
 */
enum hart_pages_kind hart_pages_of(const void *p, unsigned int *pages)
{
	phys_addr_t pa = virt_to_phys(p), page = ALIGN_DOWN(pa, (phys_addr_t)PAGE_SIZE);
	struct frame_owner o;

	if (frame_owner(pa, &o) < 0)
		return HART_PAGES_NONE;
	if (!is_block_head(&o)) {
		/*
		 * A run tiled by several buddy blocks marks its first alone: a
		 * page of a later one is inside the block that starts up to
		 * HART_PAGES_MAX - 1 pages before it, if one does and reaches it.
		 */
		for (unsigned int k = 1; k < HART_PAGES_MAX && page >= (phys_addr_t)k * PAGE_SIZE;
		     k++) {
			phys_addr_t at = page - (phys_addr_t)k * PAGE_SIZE;

			if (frame_owner(at, &o) < 0)
				break;
			if (is_block_head(&o) &&
			    page - o.head < (phys_addr_t)(o.aux & 0xff) * PAGE_SIZE) {
				*pages = o.aux & 0xff;
				return HART_PAGES_INSIDE;
			}
		}
		return HART_PAGES_NONE;
	}
	*pages = o.aux & 0xff;
	if (o.head != pa)
		return HART_PAGES_INSIDE;
	return o.heap == HART_PAGES_HEAP_ID ? HART_PAGES_HEAD : HART_PAGES_FREED;
}

/*
 * The block at p, its head frame f claimed (it names the cache's id now):
 * into the hart's cache of blocks, or back to the buddy. Its length is
 * read once it is claimed: what was read before may be of a block freed
 * and allocated again since (the free being a stale one).
 */
static void block_free(struct heap *h, void *p, struct frame *f)
{
	unsigned int pages = __atomic_load_n(&f->aux, __ATOMIC_RELAXED) & 0xff;

	large_account(-1, -(long)pages);
	if (h && pages <= HART_PAGES_MAX && h->nr_blocks[pages] < HART_PAGES_SLOTS &&
	    h->block_frames + pages <= HART_PAGES_CACHED) {
		h->blocks[pages][h->nr_blocks[pages]++] = p;
		h->block_frames += pages;
		return;
	}
	/* its head names the cache's id: still the heap's */
	buddy_free_range(virt_to_phys(p), pages);
}

/*
 * The block p starts freed, f its page's frame: false, with nothing done,
 * if p starts no allocated block. The claim (a compare-and-swap of the
 * head's id) decides between racing frees: the other finds it cached.
 */
bool hart_pages_free_at(struct heap *h, void *p, struct frame *f)
{
	if ((uintptr_t)p & (PAGE_SIZE - 1) ||
	    (__atomic_load_n(&f->aux, __ATOMIC_RELAXED) & ~0xffu) != HART_PAGES_MARK ||
	    !block_swap_frame(f, HART_PAGES_HEAP_ID, HART_PAGES_CACHED_ID))
		return false;
	block_free(h, p, f);
	return true;
}

/* The block p starts freed (hart_pages_of() said so): a racing free of it is reported. */
void hart_pages_free(void *p)
{
	struct heap *h = this_heap();
	struct frame *f = heap_page_frame(h, p);

	if (!f || !hart_pages_free_at(h, p, f))
		heap_misuse("double free (of a page block)", p);
}

void hart_pages_flush(struct heap *h)
{
	for (unsigned int n = 1; n <= HART_PAGES_MAX; n++) {
		while (h->nr_blocks[n]) {
			void *p = h->blocks[n][--h->nr_blocks[n]];

			h->block_frames -= n;
			buddy_free_range(virt_to_phys(p), n);
		}
	}
}

/* Whether size, ksize() of a page block of so many pages being old, keeps that block. */
bool hart_pages_fit(size_t size, unsigned int pages)
{
	return size > HEAP_SLAB_MAX_SIZE && pages_for(size, 0) == pages;
}
