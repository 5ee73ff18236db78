/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_HART_PUBLIC_H
#define MM_HEAP_HART_PUBLIC_H

/*
 * What the per-hart slab heaps (mm/heap/hart/, the default strategy) show
 * beyond <mm/heap.h>: their classes, the queues of frees other harts
 * send, their counters. The other strategies define the functions too
 * (mm/heap/heap_global.c): no queue, no per-hart counters.
 */

#include <mm/port.h>

/*
 * Size classes of the per-hart heaps: 8, 16, ..., 512, HEAP_SLAB_1K_SIZE,
 * 1024, HEAP_SLAB_2K_SIZE, 2048, HEAP_SLAB_HALF_SIZE, 4096, then
 * HEAP_SLAB_MAX_SIZE (the trailer: 56 bytes of a one- or two-object page,
 * its canary included). Each shrunk class lays its objects out as the
 * power of two above it does, one more to a page.
 */
#define HEAP_NR_CLASSES	    14
#define HEAP_SLAB_SIZE 8192 /* a slab page: an order-1 block from the buddy */
#define HEAP_SLAB_1K_SIZE   968	 /* eight objects 1 KiB apart, the trailer behind the last */
#define HEAP_SLAB_2K_SIZE   1992 /* four objects 2 KiB apart, the trailer behind the last */
#define HEAP_SLAB_HALF_SIZE 4040 /* two objects 4 KiB apart, the trailer behind the second */
#define HEAP_SLAB_MAX_SIZE  8136 /* the largest class: one object, the trailer behind it */
/*
 * Mid blocks: objects of 4097 to HEAP_MID_MAX_SIZE bytes, several to a
 * 32 KiB block, in HEAP_MID_CLASSES classes (mm/heap/hart/heap_hart_mid.c).
 */
#define HEAP_MID_CLASSES  3
#define HEAP_MID_MAX_SIZE 6528

/*
 * A slab page's frame (frame_owner()): tag FRAME_SLAB, heap the hart's
 * index, aux its class as the class's offset in the heap's table of them
 * (kfree()'s fast path adds it, no shift).
 */
#define HEAP_SLAB_FRAME_AUX(cls) ((uint32_t)(cls)*64)

/*
 * Whether hart has frees from other harts waiting in its queue (a hint,
 * for a reclaim that wakes it), and how many queues it has taken and
 * freed: that changes once a drain is complete.
 */
bool heap_hart_has_queue(unsigned int hart);
uint64_t heap_hart_drains(unsigned int hart);

/*
 * A heap's inbox of other harts' frees: a ring of this many objects (2
 * KiB), taken in order; frees beyond it wait on a stack of links in the
 * objects themselves (mm/heap/hart/heap_hart.c).
 */
#define HEAP_INBOX_SLOTS 256

/*
 * Empty slab pages a heap keeps for reuse: above HIGH it gives pages back
 * to the buddy until LOW remain, so allocating and freeing at a page
 * boundary never goes to the buddy each time.
 */
#ifdef CONFIG_HEAP_EMPTY_PAGES_HIGH
#define HEAP_EMPTY_HIGH CONFIG_HEAP_EMPTY_PAGES_HIGH
#else
#define HEAP_EMPTY_HIGH 8
#endif
#define HEAP_EMPTY_LOW (HEAP_EMPTY_HIGH / 2)

struct heap_class_stats {
	uint32_t size;	  /* object size */
	uint32_t per_page; /* objects in a slab page */
	uint64_t in_use;   /* objects allocated, frees still queued included */
	uint64_t pages;	   /* slab pages the class holds */
	uint64_t allocs, frees; /* 0 without CONFIG_HEAP_STATS */
	uint64_t remote_frees; /* of those frees, sent by other harts */
};

struct heap_mid_stats {
	uint32_t size, per_block; /* object size; objects in a 32 KiB block */
	uint64_t in_use, blocks;  /* objects allocated; blocks held, the empty one kept included */
};

struct heap_hart_stats {
	struct heap_class_stats cls[HEAP_NR_CLASSES];
	struct heap_mid_stats mid[HEAP_MID_CLASSES];
	uint64_t empty_pages;	   /* kept for reuse */
	uint64_t pages_from_buddy, pages_to_buddy;
	uint64_t pages_stolen;	   /* empty pages taken from other harts' heaps */
	uint64_t pages_reused;	   /* empty pages of its own given to another class */
};

/*
 * Counters, exact when the heaps are quiet (a snapshot while harts
 * allocate): -EINVAL for a hart without a heap, -ENOENT when the strategy
 * has no per-hart heaps.
 */
int heap_hart_stats(unsigned int hart, struct heap_hart_stats *s);

#endif
