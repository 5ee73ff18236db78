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
 */
#include <mm/buddy.h>

#include "heap_hart.h"

#define HART_PAGES_MAX	   8 /* frames: up to 32 KiB */
#define HART_PAGES_HEAP_ID 0xa9e5
#define HART_PAGES_MARK	   0xa9e5b100u /* | the run's length in frames */

/* The frames of a page block for size bytes aligned to align; 0 if none is taken for it. */
static unsigned int pages_for(size_t size, size_t align)
{
	if (HEAP_HARDEN == HEAP_HARDEN_DEBUG || size > HART_PAGES_MAX * PAGE_SIZE ||
	    align > HART_PAGES_MAX * PAGE_SIZE)
		return 0;
	return (unsigned int)((size + PAGE_SIZE - 1) / PAGE_SIZE);
}

void *hart_pages_alloc(size_t size, size_t align)
{
	unsigned int n = pages_for(size, align);
	struct frame_owner o;
	phys_addr_t pa;

	if (!n || buddy_alloc_range(n, MAX(align, (size_t)PAGE_SIZE), BUDDY_NO_LIMIT, &pa) < 0)
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

/*
 * Whether p is in the first block of a page block: then *pages is its
 * length in frames, and *head says whether p is its first byte (the only
 * pointer kfree() takes).
 */
bool hart_pages_of(const void *p, unsigned int *pages, bool *head)
{
	phys_addr_t pa = virt_to_phys(p);
	struct frame_owner o;

	if (frame_owner(pa, &o) < 0 || o.tag != FRAME_HEAP || o.heap != HART_PAGES_HEAP_ID ||
	    (o.aux & ~0xffu) != HART_PAGES_MARK)
		return false;
	*pages = o.aux & 0xff;
	*head = o.head == pa;
	return true;
}

/* The page block at p (its first byte, of the length hart_pages_of() gave) back to the buddy. */
void hart_pages_free(void *p, unsigned int pages)
{
	if (buddy_free_range(virt_to_phys(p), pages) ==
	    0) /* a racing free of it was reported there */
		large_account(-1, -(long)pages);
}

/* Whether size, ksize() of a page block of so many pages being old, keeps that block. */
bool hart_pages_fit(size_t size, unsigned int pages)
{
	return size > HEAP_SLAB_MAX_SIZE && pages_for(size, 0) == pages;
}
