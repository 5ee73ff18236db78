/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_BLOCK_CORE_H
#define MM_HEAP_BLOCK_CORE_H

/*
 * Theseus's block_allocator over one or more regions: the early heap
 * (mm/heap/heap_early.c, one region from the boot allocator) and the block
 * strategy (mm/heap/block/heap_block.c, regions from the buddy as it grows).
 *
 * Sizes up to 2048 bytes are fixed-size blocks of 8, 16, ..., 2048 bytes,
 * each size with one free list for the whole heap; a size whose list is
 * empty takes a whole page from a region's fallback and cuts it up.
 * Everything else goes to the fallback: per region, a first-fit list of
 * free chunks in address order, merged with their neighbours when freed,
 * each allocation with a 16-byte header that holds its size.
 *
 * A region starts with its metadata: its struct, a byte per page (0: the
 * fallback's, else 1 + the fixed size it was given to) and a bit per 8
 * bytes, set where a block handed out starts. A free needs no size (the
 * page says which kind of block it is), and a pointer that starts no live
 * block (a double free, the middle of a block, a stray pointer) is caught
 * by its bit. Every function here wants the heap's lock held.
 */

#include "heap_internal.h"

#define BLOCK_NR_SIZES	HEAP_EARLY_NR_SIZES /* 8 << 0 .. 8 << 8 bytes */
#define BLOCK_MAX_FIXED 2048

struct block_chunk;

struct block_region {
	struct block_region *next;
	phys_addr_t pa;
	uint64_t size;
	char *base, *heap, *end; /* the region; heap..end is handed out */
	uint8_t *pagemap;
	uint64_t *starts;
	struct block_chunk *free;
	uint64_t free_bytes; /* in the fallback's free list */
};

struct block_heap {
	spinlock_t lock;
	struct block_region *regions;
	unsigned int nr_regions;
	/* the region holding a block handed out, for many regions; NULL: always walk the list */
	struct block_region *(*find)(const void *p);
	struct block_region *last; /* the last one found: most allocations come from it again */
	void *blocks[BLOCK_NR_SIZES]; /* each free block's first word: the next, encoded */
	uint64_t nr_blocks, bytes, pages[BLOCK_NR_SIZES];
	uintptr_t secret; /* mixed into the free lists' links, so a stray write decodes to garbage */
	/* damage found in the free lists, reported by block_unlock() */
	const char *damage;
	const void *damage_at;
};

/*
 * Makes [base, base + size) (page aligned, physical pa) a region with its
 * metadata at base and adds it to h; r may be base itself (the struct then
 * heads the metadata) or the caller's. NULL if too small.
 */
struct block_region *block_region_init(struct block_heap *h, struct block_region *r, char *base,
				       phys_addr_t pa, uint64_t size);

/* The region of h whose blocks' area holds p, or NULL; the last one found is tried first. */
struct block_region *block_region_find(struct block_heap *h, const void *p);

/* size bytes aligned to align (a power of two up to a page), or NULL: no room. */
void *block_alloc(struct block_heap *h, size_t size, size_t align);

/*
 * NULL if p starts a live block of r; else what is wrong (what, or a
 * damaged header), for the caller to report once it has let go of the
 * heap's lock (a misuse handler may use the heap).
 */
const char *block_unlive(const struct block_region *r, const void *p, const char *what);

/*
 * A damaged free list (a write after free, or an overflow into a free
 * chunk) is found when it is walked: the list is cut before the damage,
 * whose free blocks are lost, and the damage recorded; block_unlock() lets
 * go of the heap's lock, then reports it (a misuse handler may use the
 * heap). Callers unlock with it.
 */
void block_unlock(struct block_heap *h);

/* p, checked with block_unlive(), back to h. */
void block_free(struct block_heap *h, struct block_region *r, void *p);

/* The usable bytes of p, checked with block_unlive(). */
size_t block_size(const struct block_region *r, const void *p);

/*
 * Fixed-size pages none of whose blocks is live go back to their region's
 * fallback (their blocks leave the free list). Theseus never does this;
 * heap_trim() does, so that an idle heap can give whole regions back.
 */
void block_trim(struct block_heap *h);

/* Whether nothing of r is handed out (its fallback is one chunk of all of it). */
bool block_region_unused(const struct block_region *r);

/* Takes r out of h's list. */
void block_region_remove(struct block_heap *h, struct block_region *r);

#endif
