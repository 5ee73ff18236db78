// SPDX-License-Identifier: MIT
/*
 * The block strategy: Theseus's heap, one block allocator for all harts
 * behind one lock (heap_block_core.c), in regions from the buddy.
 *
 * Theseus's heap is a fixed region; here it grows: when no region has
 * room, a new one is taken from the buddy, twice the last one's size up to
 * 4 MiB (or less, down to what the request needs, when the buddy has no
 * such block). Each region is one buddy block tagged FRAME_HEAP (heap
 * BLOCK_HEAP_ID), its struct at its start, so a free finds its region from
 * the frame's owner in O(1). Requests beyond BLOCK_MAX_SIZE, or aligned
 * beyond a page, are large allocations (heap_large.c), as Theseus backs
 * large allocations with mapped pages of their own.
 *
 * Theseus never returns memory; heap_trim() here gives fixed-size pages
 * none of whose blocks is live back to their region, and regions nothing
 * is handed out from back to the buddy.
 */
#include <mm/buddy.h>
#include <mm/port.h>
#include <string.h>

#include "../heap_block_core.h"

#define BLOCK_HEAP_ID	   0xb10c
#define BLOCK_REGION_MARK  0xb10c4e91u
#define REGION_ORDER_FIRST 6	       /* 256 KiB */
#define REGION_ORDER_MAX   10	       /* 4 MiB */
#define BLOCK_MAX_SIZE	   (64 * 1024) /* larger: a large allocation */

const char heap_strategy_name[] = "block";
const size_t heap_strategy_large_above = BLOCK_MAX_SIZE;

static struct block_heap heap;
static unsigned int next_order; /* of the next region */
static uint64_t region_frames;

static unsigned int region_order(const struct block_region *r)
{
	unsigned int order = 0;

	while (((uint64_t)PAGE_SIZE << order) <
	       r->size) /* no ctz: riscv64 without Zbb calls libgcc */
		order++;
	return order;
}

/* A region with room for size bytes aligned to align; false if the buddy has none. */
static bool grow(size_t size, size_t align)
{
	uint64_t need = 2 * (ALIGN_UP((uint64_t)size, PAGE_SIZE) + align) + 2 * PAGE_SIZE;
	unsigned int order = next_order, min = 0;
	phys_addr_t pa;

	/* the region it would like, down to the least that serves the request: memory in small
	 * pieces still serves */
	while (((uint64_t)PAGE_SIZE << min) < need)
		min++;
	order = MAX(order, min);
	while (buddy_alloc(order, &pa) < 0)
		if (order-- == min)
			return false;
	frame_set_owner(pa, order, FRAME_HEAP, BLOCK_HEAP_ID, BLOCK_REGION_MARK);
	block_region_init(&heap, phys_to_virt(pa), phys_to_virt(pa), pa, PAGE_SIZE << order);
	region_frames += 1ULL << order;
	next_order = MIN(order + 1, (unsigned int)REGION_ORDER_MAX);
	return true;
}

static void region_release(struct block_region *r)
{
	unsigned int order = region_order(r);

	block_region_remove(&heap, r);
	region_frames -= 1ULL << order;
	buddy_free(r->pa, order);
}

/* Empty fixed-size pages back to their regions, unused regions back to the buddy. With the lock. */
static void trim_locked(void)
{
	struct block_region *r, *next;

	block_trim(&heap);
	for (r = heap.regions; r; r = next) {
		next = r->next;
		if (block_region_unused(r))
			region_release(r);
	}
}

static void *alloc_locked(size_t size, size_t align)
{
	void *p = block_alloc(&heap, size, align);

	if (!p && grow(size, align))
		p = block_alloc(&heap, size, align);
	return p;
}

/*
 * Pages given to a fixed size stay there (as in Theseus) until a trim: so
 * before an allocation fails, the heap trims itself and tries once more.
 */
void *heap_strategy_alloc(size_t size, size_t align)
{
	bool large = size > BLOCK_MAX_SIZE || align > PAGE_SIZE;
	void *p = large ? large_alloc(size, align) : NULL;

	if (p)
		return p;
	spin_lock(&heap.lock);
	if (!large)
		p = alloc_locked(size, align);
	if (!p) {
		trim_locked();
		if (!large)
			p = alloc_locked(size, align);
	}
	block_unlock(&heap);
	return p || !large ? p : large_alloc(size, align);
}

/*
 * The region holding p, or NULL if p is in none. With the lock: regions
 * come and go under it, so a region found is not given back meanwhile.
 */
static struct block_region *region_of(const void *p)
{
	struct frame_owner o;

	if (frame_owner(virt_to_phys(p), &o) < 0 || o.tag != FRAME_HEAP ||
	    o.heap != BLOCK_HEAP_ID || o.aux != BLOCK_REGION_MARK)
		return NULL;
	return phys_to_virt(o.head);
}

/* Whether another region than r is unused: r need not stay as the spare. */
static bool other_unused(const struct block_region *r)
{
	for (const struct block_region *o = heap.regions; o; o = o->next)
		if (o != r && block_region_unused(o))
			return true;
	return false;
}

/* Misuse is reported once the lock is let go: a handler may use the heap. */
bool heap_strategy_free(void *p)
{
	const char *bad = "kfree of a pointer the heap did not hand out, or a double free";
	struct block_region *r;

	spin_lock(&heap.lock);
	r = block_region_find(&heap, p);
	if (r && !(bad = block_unlive(r, p, bad))) {
		block_free(&heap, r, p);
		/* one unused region stays, so a heap at a region's edge does not thrash */
		if (block_region_unused(r) && other_unused(r))
			region_release(r);
	}
	block_unlock(&heap);
	if (r && bad)
		heap_misuse(bad, p);
	return r != NULL;
}

bool heap_strategy_size(const void *p, size_t *size)
{
	const char *bad = "ksize of a pointer the heap did not hand out, or one freed";
	struct block_region *r;

	*size = 0;
	spin_lock(&heap.lock);
	r = block_region_find(&heap, p);
	if (r && !(bad = block_unlive(r, p, bad)))
		*size = block_size(r, p);
	block_unlock(&heap);
	if (r && bad)
		heap_misuse(bad, p);
	return r != NULL;
}

/* A fixed size or a fallback chunk: neither larger nor under half of it. */
bool heap_strategy_fits(const void *p, size_t old, size_t size)
{
	(void)p;
	return size <= old && size > old / 2;
}

void heap_trim(void)
{
	spin_lock(&heap.lock);
	trim_locked();
	block_unlock(&heap);
}

void heap_strategy_reset(void)
{
	memset(&heap, 0, sizeof(heap));
	spin_lock_init(&heap.lock);
	heap.find = region_of; /* regions can be many: the frame's owner says which in O(1) */
	next_order = REGION_ORDER_FIRST;
	region_frames = 0;
}

void heap_strategy_usage(struct heap_usage *u)
{
	spin_lock(&heap.lock);
	u->blocks = heap.nr_blocks;
	u->bytes = heap.bytes;
	u->frames = region_frames;
	block_unlock(&heap);
}

/* A snapshot under the lock, printed after it: printk is slow, and every hart waits on the lock. */
void heap_dump(void)
{
	unsigned int nr_regions = 0;
	uint64_t free_bytes = 0, frames, blocks, bytes, pages[BLOCK_NR_SIZES];

	spin_lock(&heap.lock);
	for (const struct block_region *r = heap.regions; r; r = r->next) {
		nr_regions++;
		free_bytes += r->free_bytes;
	}
	frames = region_frames;
	blocks = heap.nr_blocks;
	bytes = heap.bytes;
	memcpy(pages, heap.pages, sizeof(pages));
	block_unlock(&heap);
	printk("heap: block: %u regions, %llu frames, %llu blocks live (%llu bytes), "
	       "%llu bytes free in the fallback\n",
	       nr_regions, (unsigned long long)frames, (unsigned long long)blocks,
	       (unsigned long long)bytes, (unsigned long long)free_bytes);
	for (int k = 0; k < BLOCK_NR_SIZES; k++)
		if (pages[k])
			printk("heap: block: %4u-byte blocks: %llu pages\n", 8u << k,
			       (unsigned long long)pages[k]);
	heap_dump_large_early();
}
