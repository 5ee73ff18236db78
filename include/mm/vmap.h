/* SPDX-License-Identifier: MIT */
#ifndef MM_VMAP_H
#define MM_VMAP_H

/*
 * Virtually contiguous mappings of frames that need not be physically
 * contiguous, in a window [base, base + size) of one address space: the
 * kernel heap's large allocations live here.
 *
 * The window is cut into ranges of whole 4 KiB pages, each followed by one
 * unmapped guard page (and the window's first page is never handed out),
 * so a run past either end of a mapping faults. Pages are mapped one 4 KiB
 * leaf each (read+write+global, never executable), never as blocks: a
 * range can be unmapped page by page without splits.
 *
 * Bookkeeping: the free parts of the window are a list of extents sorted
 * by address (first fit, merged on unmap); a mapping itself needs no
 * record: its pages are the mapped run at its start, ended by the guard,
 * and the page below a mapping is always unmapped, which is how a start is
 * told from the middle of a mapping. Extent records live in frames from
 * the buddy (170 to a frame), taken as mappings are made (there are never
 * more free extents than mappings + 1) and given back by vmap_destroy().
 *
 * One lock per vmap serialises its calls; they are the only users of the
 * window's part of the page tables. Failures (-ENOMEM for VA, table pages
 * or records) leave the window and the tables as they were.
 */

#include <mm/mmu.h>
#include <mm/port.h>

struct vmap_extent { /* a run of free VA */
	uint64_t start, end; /* [start, end), page aligned */
	struct vmap_extent *next;
};

struct vmap {
	spinlock_t lock;
	struct mmu_space *space;
	uint64_t base, size;	    /* the window */
	struct vmap_extent *free;   /* free VA, sorted, never touching */
	struct vmap_extent *spare;  /* unused records */
	phys_addr_t record_frames;  /* frames of records, chained through their first word */
	uint64_t nr_records;	    /* records in those frames */
	uint64_t nr_mappings;	    /* live mappings and their pages */
	uint64_t nr_pages;
	/*
	 * NULL, or called by vmap_grow() when it moved a mapping of bytes from
	 * from to to: after the old range is unmapped and flushed, before it
	 * is free VA again, without the lock (a host whose bytes live at the
	 * VA, not in the frames, takes them along). Set after vmap_init().
	 */
	void (*moved)(struct vmap *v, uint64_t from, uint64_t to, uint64_t bytes);
};

/*
 * An empty window [base, base + size) of space: base and size 4 KiB
 * aligned, at least 3 pages, inside the space. Allocates nothing.
 * 0 or -EINVAL. Calling it again forgets the old window (tests).
 */
int vmap_init(struct vmap *v, struct mmu_space *space, uint64_t base, uint64_t size);

/*
 * The frames the window's records take: they stay until vmap_destroy(),
 * their number grows with the most extents the window ever had.
 */
uint64_t vmap_record_frame_count(const struct vmap *v);

/*
 * Gives back the record frames; the window must hold no mapping (-EBUSY).
 */
int vmap_destroy(struct vmap *v);

/*
 * Maps frames[0..nr) (each 4 KiB aligned, any order) at a fresh range whose
 * start is aligned to align (0 or a power of two; below 4 KiB means 4 KiB),
 * read+write+global: 0 and *va, or -EINVAL (nr 0, a bad frame or
 * alignment), -ENOMEM (no room in the window, no table page or record).
 * On error nothing is mapped.
 */
int vmap_map(struct vmap *v, const phys_addr_t *frames, size_t nr, uint64_t align,
	     uint64_t *va);

/* Called by vmap_unmap() for every frame of the mapping, once it is unmapped and flushed. */
typedef void (*vmap_give_fn)(phys_addr_t pa, void *arg);

/*
 * Unmaps the mapping that starts at va, calls give(pa, arg) for each of its
 * frames in order (give may be NULL) and frees the range. expect_pages (0:
 * any) must be its length, or nothing happens. Returns its number of
 * pages, or -EINVAL when va is not the start of a mapping (inside one,
 * unmapped, outside the window) or the length differs.
 */
long vmap_unmap(struct vmap *v, uint64_t va, uint64_t expect_pages, vmap_give_fn give,
		void *arg);

/*
 * Grows the mapping of nr pages that starts at va by more[0..n_more)
 * after its pages, nothing copied: in place if va is aligned to align and
 * the range after its guard page is free (*new_va = va), else, if
 * may_move, at a fresh range aligned to align with the same frames first,
 * the old range then unmapped (its frames kept: they are the new
 * mapping's). 0 and *new_va, or -EINVAL (va no mapping of nr pages, a bad
 * frame or alignment), -ENOMEM (no room: in place, or anywhere with
 * may_move; no table page or record). On error the mapping is as it was.
 */
int vmap_grow(struct vmap *v, uint64_t va, uint64_t nr, const phys_addr_t *more, size_t n_more,
	      uint64_t align, bool may_move, uint64_t *new_va);

/*
 * Shrinks the mapping of nr pages that starts at va to its first keep
 * (0 < keep < nr): the rest unmapped as vmap_unmap() unmaps, give(pa, arg)
 * called for each of their frames in order once flushed (give may be
 * NULL), and their range free (the first of them is the guard page now).
 * Returns the pages taken off, or -EINVAL (va no mapping of nr pages, keep
 * out of range), nothing done.
 */
long vmap_shrink(struct vmap *v, uint64_t va, uint64_t nr, uint64_t keep, vmap_give_fn give,
		 void *arg);

/*
 * The first frame and the length of the mapping that starts at va: 0, or
 * -EINVAL as for vmap_unmap(). A snapshot: the caller serialises against
 * an unmap of the same mapping.
 */
int vmap_lookup(struct vmap *v, uint64_t va, phys_addr_t *first, uint64_t *nr_pages);

/*
 * Calls fn(start, end, arg) for every free range [start, end) of the
 * window, in address order, with the vmap's lock held: fn must not call
 * the vmap (a host discards the memory behind free ranges with it).
 */
void vmap_walk_free(struct vmap *v, void (*fn)(uint64_t start, uint64_t end, void *arg),
		    void *arg);

static inline bool vmap_contains(const struct vmap *v, uint64_t va)
{
	return va - v->base < v->size;
}

#endif
