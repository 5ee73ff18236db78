/* SPDX-License-Identifier: MIT */
#ifndef MM_BUDDY_H
#define MM_BUDDY_H

/*
 * The buddy frame allocator: every 4 KiB frame of RAM, in naturally aligned
 * blocks of 2^0 .. 2^BUDDY_MAX_ORDER frames. A free block sits on its bank's
 * list for its order (doubly linked through the frame metadata, so a buddy
 * leaves its list in O(1)); allocation splits a larger block, a free merges
 * the block with its buddy for as long as the buddy is free: O(1) per order.
 *
 * Banks: each RAM range of the boot memory map, cut at 4 GiB (so "below
 * 4 GiB" is a whole-bank decision), where the NUMA node changes (so a bank
 * is one node's: include/mm/numa.h) and into pieces of at most 2^31
 * frames. Allocation tries the calling hart's node first, then the other
 * nodes nearest first; in a node, the highest bank first, keeping low
 * memory for requests that need it.
 *
 * Order 0 goes through a page cache per hart (this_hart_index()): a hart
 * takes and gives back frames in batches of BUDDY_CACHE_BATCH, and touches
 * the global lock only then. A frame of another node than the hart's is
 * freed straight to its bank, so a cache holds only frames it may hand
 * out. An allocation that finds nothing drains every hart's cache and
 * tries again before it fails.
 *
 * Memory: 16 bytes of metadata per frame (FRAME_META_BYTES, one array per
 * bank from the boot allocator, or from the start of a hot-added range:
 * 0.39 % of RAM); statically, one struct buddy_bank per bank and a 1 KiB
 * cache per hart. The buddy never touches the frames themselves.
 *
 * For a host that hands out memory on demand (a process over a reserved
 * address range, a VM), the buddy can grow and give back: memory added
 * above every bank (buddy_add_memory), a hook that adds some when an
 * allocation finds none (buddy_set_grow_hook), and free page reporting of
 * the largest free blocks (buddy_set_reporter). The kernel uses none of
 * them; without them nothing changes.
 *
 * Misuse (double free, a frame the buddy does not own, the wrong order, the
 * middle of a block, a range that does not match its blocks) is reported
 * with the address through buddy_misuse(), which panics in the kernel;
 * with a handler installed (tests) the call returns -EINVAL and nothing
 * has changed.
 */

#include <mm/frame.h>
#include <mm/memmap.h>
#include <mm/port.h>

#ifdef CONFIG_BUDDY_MAX_ORDER
#define BUDDY_MAX_ORDER CONFIG_BUDDY_MAX_ORDER
#else
#define BUDDY_MAX_ORDER 10 /* 4 MiB blocks */
#endif
#define BUDDY_NR_ORDERS (BUDDY_MAX_ORDER + 1)
_Static_assert(BUDDY_MAX_ORDER >= 1 && BUDDY_MAX_ORDER <= 24, "BUDDY_MAX_ORDER out of range");

/*
 * Banks: every RAM range the boot memory map holds (MEMMAP_MAX_REGIONS,
 * mm/Kconfig: the one knob for both), the one range cut at 4 GiB, and as
 * many again for memory added later (buddy_add_memory()). So no RAM of the
 * map is ever left out for want of a bank.
 */
#define BUDDY_MAX_BANKS (2 * MEMMAP_MAX_REGIONS + 1)
#define BUDDY_CACHE_SIZE 62  /* frames a hart's cache holds at most (1 KiB with its lock) */
#define BUDDY_CACHE_BATCH 32 /* frames moved per refill or drain */

/* The highest address, not 0: with RAM at physical 0, 0 is an address like any other. */
#define BUDDY_NO_LIMIT (~(phys_addr_t)0)

/* buddy_alloc_ex() / buddy_free_ex() flags */
#define BUDDY_NOCACHE 0x1 /* order 0: straight to the free lists, not through the hart's cache */

/*
 * Takes over m: allocates the metadata with bootmem_alloc() (RESV_EARLY, so
 * it ends up tagged FRAME_EARLY), then every usable frame becomes free,
 * every RESV_EARLY frame a FRAME_EARLY block, every other frame inside RAM a
 * FRAME_RESERVED block. Linear in RAM: a memset of the metadata and one
 * write per block. Do not use the boot allocator on m afterwards.
 * -ENOMEM when the metadata does not fit. RAM ranges beyond
 * BUDDY_MAX_BANKS banks are left out with a warning (buddy_stats().ignored).
 * Calling it again starts over (tests).
 */
int buddy_init(struct memmap *m);

/*
 * 2^order frames, naturally aligned, tagged FRAME_ALLOCATED: 0 and *pa, or
 * -ENOMEM (nothing changed) or -EINVAL (order > BUDDY_MAX_ORDER).
 * Order 0 comes from this hart's cache.
 */
int buddy_alloc(unsigned int order, phys_addr_t *pa);

/*
 * Frees the block at pa, which must head an owned block of exactly this
 * order. 0, or -EINVAL after a misuse report.
 */
int buddy_free(phys_addr_t pa, unsigned int order);

/* buddy_alloc(0, pa) and buddy_free(pa, 0): one frame through this hart's cache. */
int buddy_alloc_frame(phys_addr_t *pa);
int buddy_free_frame(phys_addr_t pa);

/*
 * As buddy_alloc(), constrained: aligned to align bytes (0 or a power of two;
 * larger than the block is fine, even larger than the largest block), and
 * ending at or below limit (BUDDY_NO_LIMIT: anywhere). A limit at a bank
 * boundary (4 GiB, say) costs nothing extra; one inside a bank, or an
 * alignment above 2^BUDDY_MAX_ORDER frames, walks that bank's free lists.
 */
int buddy_alloc_ex(unsigned int order, uint64_t align, phys_addr_t limit, unsigned int flags,
		   phys_addr_t *pa);
int buddy_free_ex(phys_addr_t pa, unsigned int order, unsigned int flags);

/*
 * nr_frames contiguous frames (any count), aligned and limited as for
 * buddy_alloc_ex(), tagged FRAME_ALLOCATED as the blocks that tile them.
 * Up to 2^BUDDY_MAX_ORDER frames: one block, its tail given back; beyond,
 * a walk over a bank's blocks for a free run. 0, -ENOMEM or -EINVAL.
 */
int buddy_alloc_range(uint64_t nr_frames, uint64_t align, phys_addr_t limit, phys_addr_t *pa);

/*
 * Frees [pa, pa + nr_frames * 4 KiB): it must be tiled exactly by owned
 * blocks (a range from buddy_alloc_range(), several blocks side by side),
 * except that boot allocations (FRAME_EARLY) may be given back in any
 * whole frames. 0, or -EINVAL after a misuse report, with nothing freed.
 */
int buddy_free_range(phys_addr_t pa, uint64_t nr_frames);

/*
 * Memory hot-add (Linux's add_memory() with memmap_on_memory): [pa, pa +
 * size), page aligned RAM that phys_to_virt() reaches, above every bank so
 * far, becomes one or more new banks, cut as buddy_init() cuts RAM (at
 * 4 GiB and every 2^31 frames). Each bank's metadata comes from its own
 * first frames, which become FRAME_RESERVED blocks (counted as reserved);
 * the rest is free, its blocks of BUDDY_MAX_ORDER marked reported (never
 * handed out, so nothing to report). Works with no bank yet (buddy_init()
 * of an empty map) and while other harts allocate and free: each bank is
 * complete before they can see it. Hot-adds are serialised among
 * themselves; one takes the global lock only to publish a bank.
 * 0; -EINVAL: not page aligned, size 0, past the end of the address space,
 * not above every bank, or a bank that could not hold its own metadata and
 * one frame besides; -ENOSPC: more banks than BUDDY_MAX_BANKS (nothing of
 * the range is added).
 */
int buddy_add_memory(phys_addr_t pa, uint64_t size);

/*
 * fn (NULL: none) is called when an allocation (buddy_alloc_ex(), the
 * order-0 path once its hart's cache and the free lists are empty,
 * buddy_alloc_range(), buddy_ensure_free()) finds nothing even after
 * draining every hart's cache. It may add memory with buddy_add_memory()
 * and returns true if it did; the allocation then tries again, for as
 * long as fn returns true. nr_frames is what the request needs: its size
 * in frames (or its alignment in frames, if larger), or for
 * buddy_ensure_free() what is missing. fn runs with no buddy lock held,
 * not even the calling hart's cache lock (it may allocate itself), but
 * with whatever locks the allocation's caller holds; several harts may
 * call it at once. It is not called for a request limited to end below
 * where new memory could start.
 */
void buddy_set_grow_hook(bool (*fn)(uint64_t nr_frames));

/* 0 if at least nr_frames are free (lists and caches), growing through the hook if not; -ENOMEM. */
int buddy_ensure_free(uint64_t nr_frames);

/*
 * Free page reporting (Linux's page_reporting, virtio-balloon free page
 * hinting). fn (NULL: none) is called for each free block of
 * BUDDY_MAX_ORDER not reported since it was last freed, whenever more than
 * keep_frames frames sit in such blocks, until no more than keep_frames do
 * (so fewer than keep_frames + 2^BUDDY_MAX_ORDER right after any free):
 * lowest bank first, the least recently freed first, so that what stays is
 * what allocation takes next. It runs after a free (buddy_free_ex(), a
 * cache drain, buddy_free_range()) has let go of every buddy lock, on the
 * freeing hart, with whatever locks that free's caller holds; one reporter
 * at a time (a free that finds one at work leaves it the job). While fn
 * runs, the block is off the free lists (its head FRAME_CACHED, so nobody
 * allocates or merges it) and no buddy lock is held: fn may discard its
 * contents (madvise(MADV_DONTNEED)), and allocate and free (a free made in
 * fn reports nothing itself). Then the block goes back, last on its list,
 * marked reported (FRAME_AUX_REPORTED in its head's aux); allocation takes
 * unreported blocks first (the most recently freed first), and a reported
 * block is reported again only once it has been allocated and freed.
 * keep_frames UINT64_MAX: report only through buddy_report_free().
 */
void buddy_set_reporter(void (*fn)(phys_addr_t pa, uint64_t size), uint64_t keep_frames);

/*
 * Reports every unreported free block of BUDDY_MAX_ORDER now (malloc_trim()),
 * waiting for a reporter at work to finish first; the frames it reported.
 * 0 without a reporter. Not from the reporter's fn.
 */
uint64_t buddy_report_free(void);

/* Gives every cached frame of one hart, or of all harts, back to the free lists. */
void buddy_drain_cache(unsigned int hart);
void buddy_drain_caches(void);

/* Frames free: on the free lists plus in harts' caches. */
uint64_t buddy_free_frames(void);

struct buddy_bank_info {
	phys_addr_t base;    /* first byte */
	uint64_t nr_frames;  /* every frame of the bank, owned or free */
	uint64_t free;	     /* frames on its free lists */
	uint64_t reserved;   /* FRAME_RESERVED frames */
	uint64_t early;	     /* FRAME_EARLY frames not given back yet */
	uint64_t nr_free[BUDDY_NR_ORDERS]; /* free blocks per order */
	unsigned int node;   /* its NUMA node (include/mm/numa.h) */
};

struct buddy_stats {
	unsigned int nr_banks;
	uint64_t total;	    /* frames in all banks */
	uint64_t free;	    /* on the free lists */
	uint64_t cached;    /* in harts' caches */
	uint64_t reserved;
	uint64_t early;
	uint64_t allocated; /* handed out by the buddy: total - all the above */
	uint64_t nr_free[BUDDY_NR_ORDERS]; /* free blocks per order, all banks */
	uint64_t reported;	 /* free, in blocks handed to the reporter since they were freed */
	uint64_t metadata_bytes; /* the per-frame arrays, as allocated */
	uint64_t added;		 /* bytes hot-added (buddy_add_memory()), metadata included */
	uint64_t ignored;	 /* bytes of RAM beyond BUDDY_MAX_BANKS banks */
	uint64_t misuses;	 /* reports so far */
};

unsigned int buddy_nr_banks(void);
int buddy_bank_info(unsigned int bank, struct buddy_bank_info *info); /* -ENOENT */
void buddy_stats(struct buddy_stats *s);

/* /proc/buddyinfo through printk: free blocks per order for each bank, then totals. */
void buddy_dump(void);

/* Calls fn for every block on the free lists, bank by bank, order by order, under the lock. */
void buddy_walk_free(void (*fn)(phys_addr_t pa, unsigned int order, void *arg), void *arg);

/*
 * Walks every bank's metadata and free lists and the harts' caches, and
 * checks them against each other and the counters: every frame in one block,
 * blocks aligned and inside their bank, free blocks exactly the listed ones,
 * no two free buddies (full coalescing), cached frames exactly the caches'
 * contents, free + cached + owned = total. Prints each problem (the first
 * few) and returns how many there were. Exact only while nothing allocates
 * or frees. census (may be NULL) receives frames per tag (caller tags all
 * counted under FRAME_TAG_USER).
 */
struct buddy_census {
	uint64_t frames[FRAME_TAG_USER + 1];
	uint64_t free_blocks[BUDDY_NR_ORDERS];
};
unsigned int buddy_check(struct buddy_census *census);

/*
 * Misuse reports: buddy_misuse() calls the handler with what went wrong and
 * the address. The default handler panics. buddy_set_misuse_handler()
 * installs one that returns (NULL: back to the default) and returns the
 * previous one.
 */
typedef void (*buddy_misuse_fn)(const char *what, phys_addr_t pa);
buddy_misuse_fn buddy_set_misuse_handler(buddy_misuse_fn fn);
void buddy_misuse(const char *what, phys_addr_t pa);

#endif
