// SPDX-License-Identifier: MIT
/*
 * The early heap (Theseus's heap + block_allocator): one region from the
 * boot allocator, before any other allocator exists, run by the block
 * allocator of heap_block_core.c. Its fixed-size pages never go back to
 * the fallback (as in Theseus): nothing trims it.
 *
 * After the switch to per-hart heaps it only takes frees; its frames'
 * blocks then carry HEAP_EARLY_FRAME_MARK, which is how kfree() finds it.
 */
#include <mm/bootmem.h>
#include <mm/frame.h>
#include <mm/port.h>
#include <string.h>

#include "heap_block_core.h"

static struct {
	struct block_heap heap;
	struct block_region region;
	bool ready, adopted;
} early;

void *early_alloc(size_t size, size_t align)
{
	void *p;

	if (!early.ready)
		return NULL;
	spin_lock(&early.heap.lock);
	p = block_alloc(&early.heap, size, align);
	block_unlock(&early.heap);
	return p;
}

void early_free(void *p)
{
	const char *bad = "kfree of a pointer the heap did not hand out, or a double free";

	spin_lock(&early.heap.lock);
	if (early.ready && !(bad = block_unlive(&early.region, p, bad)))
		block_free(&early.heap, &early.region, p);
	block_unlock(&early.heap);
	if (bad)
		heap_misuse(bad, p);
}

size_t early_size(const void *p)
{
	const char *bad = "ksize of a pointer the heap did not hand out, or one freed";
	size_t n = 0;

	spin_lock(&early.heap.lock);
	if (early.ready && !(bad = block_unlive(&early.region, p, bad)))
		n = block_size(&early.region, p);
	block_unlock(&early.heap);
	if (bad)
		heap_misuse(bad, p);
	return n;
}

bool early_contains(const void *p)
{
	return early.ready && (const char *)p >= early.region.base &&
	       (const char *)p < early.region.end;
}

/* ---- set-up ------------------------------------------------------------------ */

void early_reset(void)
{
	memset(&early, 0, sizeof(early));
}

int heap_early_init(phys_addr_t pa, uint64_t size)
{
	if (early.ready)
		return -EBUSY; /* a heap is in use: heap_reset() first (tests) */
	if (!IS_ALIGNED(pa, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) || size < 4 * PAGE_SIZE)
		return -EINVAL;
	memset(&early, 0, sizeof(early));
	spin_lock_init(&early.heap.lock);
	if (!block_region_init(&early.heap, &early.region, phys_to_virt(pa), pa, size))
		return -EINVAL;
	early.ready = true;
	return 0;
}

int heap_early_init_bootmem(struct memmap *m, uint64_t size)
{
	if (early.ready)
		return -EBUSY; /* before anything is reserved for it */
	size = ALIGN_UP(size, PAGE_SIZE);
	/* the top of the highest usable range with room, as the boot allocator would */
	for (unsigned int i = m->nr_usable; i-- > 0;) {
		phys_addr_t bottom = m->usable[i].base, top = bottom + m->usable[i].size;
		phys_addr_t pa;

		top = MIN(top, bootmem_ceiling()); /* below it, as the boot allocator's blocks */
		if (top <= bottom || top - bottom < size + 2 * PAGE_SIZE)
			continue;
		pa = top - PAGE_SIZE - size;
		if (bootmem_reserve(m, pa - PAGE_SIZE, PAGE_SIZE, RESV_RESERVED, "heap guard") <
			0 ||
		    bootmem_reserve(m, pa + size, PAGE_SIZE, RESV_RESERVED, "heap guard") < 0 ||
		    bootmem_reserve(m, pa, size, RESV_EARLY, "early heap") < 0)
			return -ENOMEM;
		return heap_early_init(pa, size);
	}
	return -ENOMEM;
}

int heap_early_adopt(void)
{
	phys_addr_t pa, end = early.region.pa + early.region.size;

	if (!early.ready || early.adopted)
		return 0;
	/* all checked before anything is marked: a refusal leaves every frame as it was */
	for (int mark = 0; mark < 2; mark++) {
		for (pa = early.region.pa; pa < end;) {
			struct frame_owner o;

			if (frame_owner(pa, &o) < 0 || o.head != pa || o.tag != FRAME_EARLY ||
			    pa + (PAGE_SIZE << o.order) > end)
				return -EINVAL;
			if (mark) /* the owner's word of an owned head: ours to write */
				__atomic_store_n(&frame_of(pa)->aux, HEAP_EARLY_FRAME_MARK,
						 __ATOMIC_RELAXED);
			pa += PAGE_SIZE << o.order;
		}
	}
	early.adopted = true;
	return 0;
}

void heap_early_stats(struct heap_early_stats *s)
{
	memset(s, 0, sizeof(*s));
	spin_lock(&early.heap.lock);
	s->size = early.region.size;
	s->blocks = early.heap.nr_blocks;
	s->bytes = early.heap.bytes;
	s->free_bytes = early.region.free_bytes;
	for (int k = 0; k < BLOCK_NR_SIZES; k++)
		s->pages[k] = early.heap.pages[k];
	block_unlock(&early.heap);
}
