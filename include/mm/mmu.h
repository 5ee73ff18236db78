/* SPDX-License-Identifier: MIT */
#ifndef MM_MMU_H
#define MM_MMU_H

/*
 * The page mapper: one portable walker over a PTE format (mm/pte.h).
 *
 * A struct mmu_space is one page-table tree: its root, its format and the
 * TLB hooks of the harts that use it. Ranges are mapped with the largest
 * leaf that the alignment of va and pa and the size allow (4 KiB, 2 MiB,
 * 1 GiB); a block is split when part of it is unmapped, re-protected or
 * replaced.
 *
 * Every call is prepare/commit: a first pass over the range validates it
 * (-EEXIST, -ENOENT) and counts the table pages the change needs, they
 * are all allocated, and only then does a second pass write. So an error,
 * -ENOMEM included, leaves the tables exactly as they were.
 *
 * Table pages come from the buddy (tagged FRAME_PAGETABLE) and go back to
 * it when an unmap leaves them empty, after the TLB flush that covers them.
 *
 * TLB: every changed live leaf is flushed by address when an operation
 * changes at most MMU_FLUSH_THRESHOLD of them, otherwise with one full
 * flush; freeing a table page always takes a full flush (walk caches).
 * Formats with break_before_make (AArch64) change a live entry's address,
 * memory type or size (a block split) as: write invalid, flush that
 * address, write the new entry.
 *
 * Not thread-safe: the caller serialises operations on one space.
 */

#include <mm/harts.h>
#include <mm/port.h>
#include <mm/pte.h>

/* mmu_map() / mmu_protect() flags */
#define MMU_REPLACE 0x1	 /* mmu_map(): replace whatever is mapped in the range */
#define MMU_ALLOW_WX 0x2 /* accept WRITE|EXEC together: only built with CONFIG_MMU_DEBUG_ALLOW_WX */
#define MMU_NO_BLOCKS 0x4 /* mmu_map(): 4 KiB pages only */

/* mmu_space_init() flags */
#define MMU_SPACE_UPPER 0x1 /* split-halves formats: this tree serves the top half (TTBR1) */

#if !defined(MMU_FLUSH_THRESHOLD) && defined(CONFIG_MMU_FLUSH_THRESHOLD)
#define MMU_FLUSH_THRESHOLD CONFIG_MMU_FLUSH_THRESHOLD
#endif
#ifndef MMU_FLUSH_THRESHOLD
#define MMU_FLUSH_THRESHOLD 16
#endif

struct mmu_space;

/*
 * The architecture's TLB maintenance for a space, including the barriers
 * that make prior table writes visible to the walker (arm64: dsb ishst;
 * tlbi vae1is/vmalle1is; dsb ish; isb. RISC-V: sfence.vma, or SBI RFENCE
 * to the other harts in space->harts).
 *
 * sync (optional, NULL: none) makes new entries visible: it is called
 * once, at the end of an mmu_map() / mmu_protect() / mmu_unmap() that
 * wrote a valid entry where there was an absent one (a new mapping, a new
 * table, the second write of a break-before-make), after that operation's
 * flushes. Such an entry was never flushed, and a walker may have cached
 * or be about to fetch the old absent one (arm64: dsb ishst; isb. RISC-V:
 * sfence.vma, since a hart may cache invalid entries). A failed operation
 * (nothing written) never calls it.
 */
/*
 * flush_pages (optional) flushes the n pages va[] of one operation at once,
 * where per-page calls would each pay a round trip to the other harts
 * (RISC-V: an SBI remote fence); without it, flush_page is called per page.
 */
struct mmu_tlb_ops {
	void (*flush_page)(struct mmu_space *s, uint64_t va);
	void (*flush_pages)(struct mmu_space *s, const uint64_t *va, unsigned int n);
	void (*flush_all)(struct mmu_space *s);
	void (*sync)(struct mmu_space *s);
};

struct mmu_space {
	const struct pte_format *fmt;
	const struct mmu_tlb_ops *tlb; /* NULL: no flushes (a tree not in use yet) */
	phys_addr_t root;	       /* the root table */
	unsigned int flags;	       /* MMU_SPACE_* */
	uint64_t harts[(MAX_HARTS + 63) / 64]; /* dense indexes of harts that may cache entries */
	uint64_t nr_tables;	       /* table pages in the tree, root included */
	/* table page allocation; NULL: the buddy, tagged FRAME_PAGETABLE */
	int (*alloc_table)(struct mmu_space *s, phys_addr_t *pa);
	void (*free_table)(struct mmu_space *s, phys_addr_t pa);
	void *priv; /* the hooks' own */
};

/* Hart index i may cache the space's entries: a TLB shootdown must reach it. */
static inline void mmu_space_add_hart(struct mmu_space *s, unsigned int i)
{
	s->harts[i / 64] |= 1ULL << (i % 64);
}

static inline bool mmu_space_has_hart(const struct mmu_space *s, unsigned int i)
{
	return s->harts[i / 64] >> (i % 64) & 1;
}

/*
 * An empty tree in this format; alloc_table/free_table/priv/harts may be
 * set beforehand (anything else is overwritten). 0 or -ENOMEM, -EINVAL.
 */
int mmu_space_init(struct mmu_space *s, const struct pte_format *fmt,
		   const struct mmu_tlb_ops *tlb, unsigned int flags);

/* Unmaps everything and frees every table page, the root included. */
void mmu_space_destroy(struct mmu_space *s);

/*
 * Maps [va, va + size) to [pa, pa + size) with prot (MMU_PROT_*; READ is
 * required). -EINVAL: size 0, va, pa or size not 4 KiB aligned, va not in
 * the space's half, pa beyond the format, bad prot, WRITE|EXEC without
 * MMU_ALLOW_WX, DEVICE|EXEC. -EEXIST: something already mapped there
 * (without MMU_REPLACE). -ENOMEM: no memory for tables. On error nothing
 * has changed.
 */
int mmu_map(struct mmu_space *s, uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot,
	    unsigned int flags);

/* Unmaps whatever is mapped in the range (holes are fine). -EINVAL, -ENOMEM (a split). */
int mmu_unmap(struct mmu_space *s, uint64_t va, uint64_t size);

#define MMU_DEAD_MAX 32 /* table pages waiting for the flush that lets them go */

/* What an mmu_unmap_deferred() left to do. */
struct mmu_deferred {
	struct mmu_space *s;
	uint64_t flush_va[MMU_FLUSH_THRESHOLD];
	unsigned int nr_flush;
	bool flush_all;
	phys_addr_t dead[MMU_DEAD_MAX];
	unsigned int nr_dead;
};

/*
 * mmu_unmap() but for its TLB flush (a shootdown to every hart that may
 * cache the space) and the freeing of the table pages it took out, which
 * mmu_finish(d) does later. The tree is changed at once; mmu_finish() reads
 * nothing of it, so the lock a caller serializes its mapper calls with
 * need not be held across the shootdown. Until mmu_finish() returns, the
 * range's old frames may still be reached through stale TLB entries: they
 * and the range are the caller's to hold back until then. (A range that
 * takes more than MMU_DEAD_MAX table pages out flushes some on the way.)
 */
int mmu_unmap_deferred(struct mmu_space *s, uint64_t va, uint64_t size, struct mmu_deferred *d);
void mmu_finish(struct mmu_deferred *d);

/*
 * Changes the protection of every page of the range, which must be mapped
 * entirely (-ENOENT otherwise); -EINVAL, -ENOMEM (a split) as above.
 * flags: MMU_ALLOW_WX.
 */
int mmu_protect(struct mmu_space *s, uint64_t va, uint64_t size, unsigned int prot,
		unsigned int flags);

/*
 * The mapping of va: 0 with *pa (of va itself, not the page), *prot and
 * *leaf_size (any may be NULL), or -ENOENT (unmapped) / -EINVAL (not in
 * the space).
 */
int mmu_translate(struct mmu_space *s, uint64_t va, phys_addr_t *pa, unsigned int *prot,
		  uint64_t *leaf_size);

/*
 * Calls fn for every leaf of the tree, in VA order, with its whole
 * extent; stops at (and returns) fn's first non-zero result.
 */
typedef int (*mmu_iter_fn)(uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot,
			   void *arg);
int mmu_iterate(struct mmu_space *s, mmu_iter_fn fn, void *arg);

#endif
