// SPDX-License-Identifier: MIT
/*
 * vmap over a host page table, in both PTE formats at the kernel's own
 * windows: every page translated, guards unmapped, frames handed back in
 * order, VA reused first fit and merged, a full window or missing table
 * pages refused with nothing changed, and afterwards the buddy exactly as
 * before (table pages and record frames included).
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <mm/vmap.h>
#include <string.h>

#include "arena.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (64ULL << 20)

struct window {
	const struct pte_format *fmt;
	unsigned int flags;
	uint64_t base, size;
};

/* The kernel's vmap windows (asm/layout.h of each architecture). */
static const struct window sv39 = { &pte_format_sv39, 0, 0xfffffffc00000000ULL, 0x340000000ULL };
static const struct window arm64 = { &pte_format_arm64, MMU_SPACE_UPPER, 0xffff800000000000ULL,
				     0x10000000000ULL };

static const struct window *win;
static struct memmap m;
static struct mmu_space space;
static struct vmap v;
static uint64_t free0;
static long tables_left = -1; /* table allocations that still succeed; -1: all */

static int counted_alloc(struct mmu_space *s, phys_addr_t *pa)
{
	(void)s;
	if (tables_left == 0 || buddy_alloc(0, pa) < 0)
		return -ENOMEM;
	if (tables_left > 0)
		tables_left--;
	frame_set_owner(*pa, 0, FRAME_PAGETABLE, 0, 0);
	return 0;
}

static void counted_free(struct mmu_space *s, phys_addr_t pa)
{
	(void)s;
	buddy_free(pa, 0);
}

static int setup(struct ktest *t, uint64_t size)
{
	const struct mem_range bank = { RAM_BASE, RAM_SIZE };

	arena_use_memfd(false);
	arena_machine(&m, &bank, 1);
	if (!KT_EXPECT_EQ(t, buddy_init(&m), 0))
		return -1;
	free0 = buddy_free_frames();
	memset(&space, 0, sizeof(space));
	space.alloc_table = counted_alloc;
	space.free_table = counted_free;
	tables_left = -1;
	if (!KT_EXPECT_EQ(t, mmu_space_init(&space, win->fmt, NULL, win->flags), 0))
		return -1;
	return KT_EXPECT_EQ(t, vmap_init(&v, &space, win->base, size), 0) ? 0 : -1;
}

static int init_sv39(struct ktest *t)
{
	win = &sv39;
	return setup(t, win->size);
}

static int init_arm64(struct ktest *t)
{
	win = &arm64;
	return setup(t, win->size);
}

/* Everything given back: nothing mapped, the buddy as at the start. */
static void expect_clean(struct ktest *t)
{
	KT_EXPECT_EQ(t, v.nr_mappings, 0);
	KT_EXPECT_EQ(t, v.nr_pages, 0);
	KT_EXPECT_EQ(t, space.nr_tables, 1); /* the root only: empty tables went back */
	KT_EXPECT_EQ(t, vmap_destroy(&v), 0);
	mmu_space_destroy(&space);
	buddy_drain_caches();
	KT_EXPECT_EQ(t, buddy_free_frames(), free0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/* n frames, none next to the one before: every other one of 2n taken in a row. */
static bool scattered_frames(phys_addr_t *f, size_t n)
{
	phys_addr_t gap[8];

	for (size_t i = 0; i < n; i++) {
		if (buddy_alloc(0, &f[i]) < 0 || buddy_alloc(0, &gap[i]) < 0)
			return false;
	}
	for (size_t i = 0; i < n; i++)
		buddy_free(gap[i], 0);
	for (size_t i = 1; i < n; i++) {
		if (f[i] == f[i - 1] + PAGE_SIZE)
			return false;
	}
	return true;
}

struct given {
	phys_addr_t pa[1024];
	size_t n;
};

static void record_and_free(phys_addr_t pa, void *arg)
{
	struct given *g = arg;

	g->pa[g->n++] = pa;
	buddy_free(pa, 0);
}

static bool mapped_as(uint64_t va, phys_addr_t want)
{
	phys_addr_t pa;
	unsigned int prot;
	uint64_t leaf;

	return mmu_translate(&space, va, &pa, &prot, &leaf) == 0 && pa == want &&
	       prot == (MMU_PROT_READ | MMU_PROT_WRITE | MMU_PROT_GLOBAL) && leaf == PAGE_SIZE;
}

static bool unmapped(uint64_t va)
{
	return mmu_translate(&space, va, NULL, NULL, NULL) != 0;
}

static void map_translate_unmap(struct ktest *t)
{
	phys_addr_t f[5], first;
	struct given g = { .n = 0 };
	uint64_t va, n;
	unsigned int bad = 0;

	KT_ASSERT(t, scattered_frames(f, 5));
	KT_ASSERT_EQ(t, vmap_map(&v, f, 5, 0, &va), 0);
	KT_EXPECT_EQ(t, va, win->base + PAGE_SIZE); /* the window's first page is never used */
	for (int i = 0; i < 5; i++)
		bad += !mapped_as(va + i * PAGE_SIZE, f[i]);
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT(t, unmapped(va - PAGE_SIZE) && unmapped(va + 5 * PAGE_SIZE));
	KT_EXPECT_EQ(t, vmap_lookup(&v, va, &first, &n), 0);
	KT_EXPECT(t, first == f[0] && n == 5);
	KT_EXPECT_EQ(t, vmap_lookup(&v, va + PAGE_SIZE, &first, NULL), -EINVAL); /* the middle */
	KT_EXPECT_EQ(t, vmap_lookup(&v, va + 8, &first, NULL), -EINVAL);
	KT_EXPECT_EQ(t, vmap_lookup(&v, win->base, &first, NULL), -EINVAL);
	KT_EXPECT_EQ(t, vmap_lookup(&v, win->base - PAGE_SIZE, &first, NULL), -EINVAL);
	KT_EXPECT(t, vmap_contains(&v, va) && !vmap_contains(&v, win->base + win->size));

	/* refused: the middle, a wrong length; nothing changes */
	KT_EXPECT_EQ(t, vmap_unmap(&v, va + PAGE_SIZE, 0, record_and_free, &g), -EINVAL);
	KT_EXPECT_EQ(t, vmap_unmap(&v, va, 4, record_and_free, &g), -EINVAL);
	KT_EXPECT_EQ(t, g.n, 0);
	KT_EXPECT(t, mapped_as(va, f[0]) && mapped_as(va + 4 * PAGE_SIZE, f[4]));
	KT_EXPECT_EQ(t, vmap_destroy(&v), -EBUSY);

	KT_EXPECT_EQ(t, vmap_unmap(&v, va, 5, record_and_free, &g), 5);
	KT_ASSERT_EQ(t, g.n, 5);
	for (int i = 0; i < 5; i++) {
		bad += g.pa[i] != f[i]; /* in order */
		bad += !unmapped(va + i * PAGE_SIZE);
	}
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, vmap_unmap(&v, va, 0, record_and_free, &g), -EINVAL); /* twice */
	expect_clean(t);
}

static void bad_arguments(struct ktest *t)
{
	phys_addr_t f[2] = { RAM_BASE + 0x100000, RAM_BASE + 0x100001 };
	uint64_t va;
	struct vmap w;

	KT_EXPECT_EQ(t, vmap_map(&v, f, 0, 0, &va), -EINVAL);
	KT_EXPECT_EQ(t, vmap_map(&v, f, 2, 0, &va), -EINVAL); /* a frame not page aligned */
	KT_EXPECT_EQ(t, vmap_map(&v, f, 1, 3 * PAGE_SIZE, &va), -EINVAL);
	KT_EXPECT_EQ(t, vmap_init(&w, &space, win->base + 1, win->size), -EINVAL);
	KT_EXPECT_EQ(t, vmap_init(&w, &space, win->base, 2 * PAGE_SIZE), -EINVAL);
	KT_EXPECT_EQ(t, v.nr_mappings, 0);
	expect_clean(t);
}

/* Contiguous, 2 MiB aligned frames still get 4 KiB leaves, and the VA its alignment. */
static void pages_only_and_alignment(struct ktest *t)
{
	phys_addr_t base, f[512];
	uint64_t va, va2;
	unsigned int bad = 0;

	KT_ASSERT_EQ(t, buddy_alloc(9, &base), 0);
	for (int i = 0; i < 512; i++)
		f[i] = base + i * PAGE_SIZE;
	KT_ASSERT_EQ(t, vmap_map(&v, f, 512, 2 << 20, &va), 0);
	KT_EXPECT(t, IS_ALIGNED(va, 2 << 20));
	for (int i = 0; i < 512; i++)
		bad += !mapped_as(va + i * PAGE_SIZE, f[i]);
	KT_EXPECT_EQ(t, bad, 0);
	KT_ASSERT_EQ(t, vmap_map(&v, f, 3, 64 << 10, &va2), 0); /* the same frames again: allowed */
	/* first fit: in the gap the 2 MiB alignment left in front of the first mapping */
	KT_EXPECT(t, IS_ALIGNED(va2, 64 << 10) && va2 + 4 * PAGE_SIZE <= va);
	KT_EXPECT_EQ(t, vmap_unmap(&v, va2, 3, NULL, NULL), 3);
	KT_EXPECT_EQ(t, vmap_unmap(&v, va, 512, NULL, NULL), 512);
	buddy_free(base, 9);
	expect_clean(t);
}

static uint64_t map_n(struct ktest *t, size_t n)
{
	phys_addr_t f[16];
	uint64_t va = 0;

	for (size_t i = 0; i < n; i++)
		f[i] = RAM_BASE + (i + 1) * PAGE_SIZE; /* never touched: any frame will do */
	KT_EXPECT_EQ(t, vmap_map(&v, f, n, 0, &va), 0);
	return va;
}

static void first_fit_reuse_and_merge(struct ktest *t)
{
	uint64_t a = map_n(t, 3), b = map_n(t, 5), c = map_n(t, 2), d, e;

	KT_EXPECT_EQ(t, b, a + 4 * PAGE_SIZE); /* 3 pages and a guard */
	KT_EXPECT_EQ(t, c, b + 6 * PAGE_SIZE);
	KT_EXPECT_EQ(t, vmap_unmap(&v, b, 5, NULL, NULL), 5);
	d = map_n(t, 5);
	KT_EXPECT_EQ(t, d, b); /* the hole, first fit */
	KT_EXPECT_EQ(t, vmap_unmap(&v, d, 5, NULL, NULL), 5);
	e = map_n(t, 6);
	KT_EXPECT_EQ(t, e, c + 3 * PAGE_SIZE); /* too big for the hole: after c */
	KT_EXPECT_EQ(t, vmap_unmap(&v, a, 3, NULL, NULL), 3);
	d = map_n(t, 9); /* a's range and b's hole merged: 10 pages */
	KT_EXPECT_EQ(t, d, a);
	KT_EXPECT_EQ(t, vmap_unmap(&v, d, 9, NULL, NULL), 9);
	KT_EXPECT_EQ(t, vmap_unmap(&v, c, 2, NULL, NULL), 2);
	KT_EXPECT_EQ(t, vmap_unmap(&v, e, 6, NULL, NULL), 6);
	KT_EXPECT(t, v.free && !v.free->next); /* one extent again */
	expect_clean(t);
}

/* Every page of [va, va + n pages) mapped to f[0..n), the page after it unmapped. */
static bool maps_exactly(uint64_t va, const phys_addr_t *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!mapped_as(va + i * PAGE_SIZE, f[i]))
			return false;
	}
	return unmapped(va + n * PAGE_SIZE) && unmapped(va - PAGE_SIZE);
}

/*
 * A mapping grows in place while the range after its guard is free (the
 * guard moves to the new end), else moves with its frames (none copied,
 * the old range unmapped and reused), or is refused with nothing changed.
 */
static void grow_in_place_or_moved(struct ktest *t)
{
	phys_addr_t f[12], first;
	uint64_t a, b, va, n;
	unsigned int bad = 0;

	KT_ASSERT(t, scattered_frames(f, 8));
	for (int i = 8; i < 12; i++)
		f[i] = RAM_BASE + (i + 100) * PAGE_SIZE;
	KT_ASSERT_EQ(t, vmap_map(&v, f, 3, 0, &a), 0);
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 3, &f[3], 2, 0, false, &va), 0);
	KT_EXPECT_EQ(t, va, a); /* in place */
	KT_EXPECT(t, maps_exactly(a, f, 5));
	KT_EXPECT(t, vmap_lookup(&v, a, &first, &n) == 0 && first == f[0] && n == 5);
	KT_EXPECT_EQ(t, v.nr_mappings, 1);
	KT_EXPECT_EQ(t, v.nr_pages, 5);

	b = map_n(t, 2); /* right after a's guard: a cannot grow in place any more */
	KT_EXPECT_EQ(t, b, a + 6 * PAGE_SIZE);
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 5, &f[5], 1, 0, false, &va), -ENOMEM);
	KT_EXPECT(t, maps_exactly(a, f, 5)); /* refused: as it was */
	/* refused: not a mapping's start, a wrong length, no frames, a bad frame or alignment */
	KT_EXPECT_EQ(t, vmap_grow(&v, a + PAGE_SIZE, 4, &f[5], 1, 0, true, &va), -EINVAL);
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 4, &f[5], 1, 0, true, &va), -EINVAL);
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 5, &f[5], 0, 0, true, &va), -EINVAL);
	first = f[5] + 8;
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 5, &first, 1, 0, true, &va), -EINVAL);
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 5, &f[5], 1, 3 * PAGE_SIZE, true, &va), -EINVAL);
	KT_EXPECT(t, maps_exactly(a, f, 5));

	/* moved: the same frames at a fresh range after b, a's range unmapped */
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 5, &f[5], 3, 64 << 10, true, &va), 0);
	KT_EXPECT(t, va > b && IS_ALIGNED(va, 64 << 10));
	KT_EXPECT(t, maps_exactly(va, f, 8));
	for (int i = 0; i < 6; i++)
		bad += !unmapped(a + i * PAGE_SIZE);
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, v.nr_mappings, 2);
	KT_EXPECT_EQ(t, v.nr_pages, 10);
	KT_EXPECT_EQ(t, map_n(t, 5), a); /* a's old range is free again, first fit */
	KT_EXPECT_EQ(t, vmap_unmap(&v, a, 5, NULL, NULL), 5);
	/* in place again: the range after the moved mapping is free */
	KT_EXPECT_EQ(t, vmap_grow(&v, va, 8, &f[8], 4, 0, false, &a), 0);
	KT_EXPECT(t, a == va && maps_exactly(va, f, 12));
	KT_EXPECT_EQ(t, vmap_unmap(&v, va, 12, NULL, NULL), 12);
	KT_EXPECT_EQ(t, vmap_unmap(&v, b, 2, NULL, NULL), 2);
	for (int i = 0; i < 8; i++)
		buddy_free(f[i], 0);
	KT_EXPECT(t, v.free && !v.free->next); /* one extent again */
	expect_clean(t);
}

/*
 * A mapping cut to its first pages: the rest unmapped and handed back in
 * order, the first of them its guard now, the range after it free again.
 */
static void shrink_gives_back_the_tail(struct ktest *t)
{
	phys_addr_t f[8], first;
	struct given g = {.n = 0};
	uint64_t a, b, n;
	unsigned int bad = 0;

	KT_ASSERT(t, scattered_frames(f, 8));
	KT_ASSERT_EQ(t, vmap_map(&v, f, 8, 0, &a), 0);
	b = map_n(t, 2);
	/* refused: not a start, a wrong length, nothing or everything kept */
	KT_EXPECT_EQ(t, vmap_shrink(&v, a + PAGE_SIZE, 7, 3, record_and_free, &g), -EINVAL);
	KT_EXPECT_EQ(t, vmap_shrink(&v, a, 7, 3, record_and_free, &g), -EINVAL);
	KT_EXPECT_EQ(t, vmap_shrink(&v, a, 8, 0, record_and_free, &g), -EINVAL);
	KT_EXPECT_EQ(t, vmap_shrink(&v, a, 8, 8, record_and_free, &g), -EINVAL);
	KT_EXPECT(t, g.n == 0 && maps_exactly(a, f, 8));

	KT_EXPECT_EQ(t, vmap_shrink(&v, a, 8, 3, record_and_free, &g), 5);
	KT_EXPECT(t, maps_exactly(a, f, 3));
	KT_ASSERT_EQ(t, g.n, 5);
	for (int i = 0; i < 5; i++)
		bad += g.pa[i] != f[3 + i] || !unmapped(a + (3 + i) * PAGE_SIZE);
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT(t, vmap_lookup(&v, a, &first, &n) == 0 && first == f[0] && n == 3);
	KT_EXPECT_EQ(t, v.nr_pages, 5);
	KT_EXPECT_EQ(t, v.nr_mappings, 2);
	/* the freed range (5 pages after the new guard, up to b) is reused first fit */
	KT_EXPECT_EQ(t, map_n(t, 3), a + 4 * PAGE_SIZE);
	KT_EXPECT_EQ(t, vmap_unmap(&v, a + 4 * PAGE_SIZE, 3, NULL, NULL), 3);
	KT_EXPECT_EQ(t, vmap_unmap(&v, a, 3, record_and_free, &g), 3);
	KT_EXPECT_EQ(t, vmap_unmap(&v, b, 2, NULL, NULL), 2);
	KT_EXPECT(t, v.free && !v.free->next);
	expect_clean(t);
}

/* A move that finds no table page leaves the mapping where and as it was. */
static void grow_without_tables(struct ktest *t)
{
	phys_addr_t f[600];
	uint64_t a, b, va;

	for (int i = 0; i < 600; i++)
		f[i] = RAM_BASE + (i + 1) * PAGE_SIZE;
	KT_ASSERT_EQ(t, vmap_map(&v, f, 4, 0, &a), 0);
	b = map_n(t, 1);
	tables_left = 0; /* a move to a range 2 MiB on needs a new last-level table */
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 4, &f[4], 596, 0, true, &va), -ENOMEM);
	tables_left = -1;
	KT_EXPECT(t, maps_exactly(a, f, 4));
	KT_EXPECT_EQ(t, v.nr_pages, 5);
	KT_EXPECT_EQ(t, vmap_unmap(&v, a, 4, NULL, NULL), 4);
	KT_EXPECT_EQ(t, vmap_unmap(&v, b, 1, NULL, NULL), 1);
	KT_EXPECT(t, v.free && !v.free->next);
	expect_clean(t);
}

struct walked {
	uint64_t start[8], end[8];
	unsigned int n;
};

static void record_extent(uint64_t start, uint64_t end, void *arg)
{
	struct walked *w = arg;

	if (w->n < 8) {
		w->start[w->n] = start;
		w->end[w->n] = end;
	}
	w->n++;
}

/* vmap_walk_free() reports exactly the gaps, in order: before, between and after mappings. */
static void walk_free_ranges(struct ktest *t)
{
	uint64_t a = map_n(t, 3), b = map_n(t, 5), c = map_n(t, 2);
	struct walked w = { .n = 0 };

	KT_EXPECT_EQ(t, vmap_unmap(&v, b, 5, NULL, NULL), 5);
	vmap_walk_free(&v, record_extent, &w);
	KT_ASSERT(t, w.n == 2);
	KT_EXPECT_EQ(t, w.start[0], b); /* b's pages and its guard */
	KT_EXPECT_EQ(t, w.end[0], c);
	KT_EXPECT_EQ(t, w.start[1], c + 3 * PAGE_SIZE); /* the rest of the window */
	KT_EXPECT_EQ(t, w.end[1], v.base + v.size);
	KT_EXPECT_EQ(t, vmap_unmap(&v, a, 3, NULL, NULL), 3);
	w.n = 0;
	vmap_walk_free(&v, record_extent, &w);
	KT_EXPECT_EQ(t, w.n, 2);
	KT_EXPECT_EQ(t, w.start[0], v.base + PAGE_SIZE); /* the first page is never handed out */
	KT_EXPECT_EQ(t, w.end[0], c);
	KT_EXPECT_EQ(t, vmap_unmap(&v, c, 2, NULL, NULL), 2);
	expect_clean(t);
}

static void full_window_and_no_tables(struct ktest *t)
{
	phys_addr_t f[4] = { RAM_BASE + 0x10000, RAM_BASE + 0x20000, RAM_BASE + 0x30000,
			     RAM_BASE + 0x40000 };
	uint64_t a, b, c, va;

	KT_ASSERT_EQ(t, vmap_destroy(&v), 0);
	KT_ASSERT_EQ(t, vmap_init(&v, &space, win->base, 13 * PAGE_SIZE), 0);
	a = map_n(t, 3);
	b = map_n(t, 3);
	c = map_n(t, 3); /* 1 + 3 * 4 pages: the window is full */
	KT_EXPECT_EQ(t, vmap_map(&v, f, 1, 0, &va), -ENOMEM);
	KT_EXPECT_EQ(t, v.nr_mappings, 3);
	KT_EXPECT_EQ(t, vmap_unmap(&v, b, 3, NULL, NULL), 3);
	KT_EXPECT_EQ(t, vmap_map(&v, f, 4, 0, &va), -ENOMEM); /* 5 pages with the guard: no */
	KT_EXPECT_EQ(t, vmap_map(&v, f, 3, 0, &va), 0);
	KT_EXPECT_EQ(t, va, b);
	KT_EXPECT_EQ(t, vmap_unmap(&v, va, 3, NULL, NULL), 3);
	KT_EXPECT_EQ(t, vmap_unmap(&v, a, 3, NULL, NULL), 3);
	KT_EXPECT_EQ(t, vmap_unmap(&v, c, 3, NULL, NULL), 3);
	expect_clean(t);
	KT_ASSERT_EQ(t, setup(t, win->size), 0);

	/* no table page to be had: refused, nothing mapped, the VA still free */
	tables_left = 0;
	KT_EXPECT_EQ(t, vmap_map(&v, f, 4, 0, &va), -ENOMEM);
	KT_EXPECT_EQ(t, v.nr_mappings, 0);
	KT_EXPECT(t, unmapped(win->base + PAGE_SIZE));
	tables_left = -1;
	KT_ASSERT_EQ(t, vmap_map(&v, f, 4, 0, &va), 0);
	KT_EXPECT_EQ(t, va, win->base + PAGE_SIZE);
	KT_EXPECT_EQ(t, vmap_unmap(&v, va, 4, NULL, NULL), 4);
	expect_clean(t);
}

/* Beyond a frame's worth of records, more frames; vmap_destroy() gives them all back. */
static void many_mappings(struct ktest *t)
{
	enum { N = 400 };
	static uint64_t va[N];
	phys_addr_t f = RAM_BASE + 0x200000;
	unsigned int bad = 0;

	for (int i = 0; i < N; i++)
		bad += vmap_map(&v, &f, 1, 0, &va[i]) != 0;
	KT_EXPECT_GE(t, v.nr_records, N + 2);
	for (int i = 0; i < N; i += 2) /* every other one: N / 2 holes, one extent each */
		bad += vmap_unmap(&v, va[i], 1, NULL, NULL) != 1;
	for (int i = 1; i < N; i += 2)
		bad += vmap_unmap(&v, va[i], 1, NULL, NULL) != 1;
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT(t, v.free && !v.free->next);
	expect_clean(t);
}

/* What a move's shootdown saw: the lock, its old range, and another hart's map meanwhile. */
static struct {
	uint64_t old_va, map_va;
	phys_addr_t frame;
	int armed, err;
	bool locked, old_free;
} during;

static bool range_is_free(uint64_t va)
{
	for (struct vmap_extent *e = v.free; e; e = e->next) {
		if (va >= e->start && va < e->end)
			return true;
	}
	return false;
}

/* Called from every logged flush: once armed, looks and maps. */
static void during_flush(struct mmu_space *s)
{
	(void)s;
	if (!during.armed)
		return;
	during.armed = 0;
	during.locked = spin_is_locked(&v.lock);
	during.old_free = range_is_free(during.old_va);
	/* from the middle of an extent: it needs a record */
	during.err = vmap_map(&v, &during.frame, 1, 16 * PAGE_SIZE, &during.map_va);
}

/* The shootdown (the TLB hooks), logged: how many, and how many with the vmap lock held. */
static struct {
	unsigned int flushes, locked, given, given_before_flush;
} shoot;

static void shoot_log(struct mmu_space *s)
{
	(void)s;
	shoot.flushes++;
	shoot.locked += spin_is_locked(&v.lock);
	during_flush(s);
}

static void shoot_page(struct mmu_space *s, uint64_t va)
{
	(void)va;
	shoot_log(s);
}

static void shoot_pages(struct mmu_space *s, const uint64_t *va, unsigned int n)
{
	(void)va;
	(void)n;
	shoot_log(s);
}

static const struct mmu_tlb_ops shoot_ops = {
	.flush_page = shoot_page, .flush_pages = shoot_pages, .flush_all = shoot_log,
};

/* The frames of batch b (32 a batch, vmap.c's UNMAP_BATCH) go back after b + 1 flushes. */
static void give_after_flush(phys_addr_t pa, void *arg)
{
	(void)arg;
	shoot.given_before_flush += shoot.flushes < shoot.given / 32 + 1;
	shoot.given++;
	buddy_free(pa, 0);
}

/*
 * The TLB shootdown of an unmap runs without the vmap lock (with many
 * harts a remote fence is long, and every vmap call would wait behind it),
 * batch by batch, and each batch's frames go back only after its flush.
 */
static void shootdown_without_the_lock(struct ktest *t)
{
	enum { N = 100 }; /* several unmap batches */
	static phys_addr_t f[N];
	uint64_t va;

	space.tlb = &shoot_ops;
	memset(&shoot, 0, sizeof(shoot));
	for (int i = 0; i < N; i++)
		KT_ASSERT_EQ(t, buddy_alloc(0, &f[i]), 0);
	KT_ASSERT_EQ(t, vmap_map(&v, f, N, 0, &va), 0);
	KT_EXPECT_EQ(t, shoot.flushes, 0); /* a new mapping needs none */
	KT_EXPECT_EQ(t, vmap_unmap(&v, va, N, give_after_flush, NULL), N);
	KT_EXPECT_GE(t, shoot.flushes, (N + 31) / 32);
	KT_EXPECT_EQ(t, shoot.locked, 0);
	KT_EXPECT_EQ(t, shoot.given_before_flush, 0);
	space.tlb = NULL;
	expect_clean(t);
}

/*
 * A move's shootdown runs without the lock, its old range held (not free
 * VA) until it is done; a map by another hart meanwhile finds a record
 * for every extent it makes: 168 mappings 16 KiB apart take every record
 * of the first frame (169 extents), and the old range counts as a mapping
 * until it is given back.
 */
static void move_lets_the_lock_go_and_holds_its_range(struct ktest *t)
{
	enum { M = 168 };
	static uint64_t va[M];
	phys_addr_t f[8];
	uint64_t nv;

	for (int i = 0; i < 8; i++)
		f[i] = RAM_BASE + (i + 1) * PAGE_SIZE;
	for (int i = 0; i < M; i++)
		KT_ASSERT_EQ(t, vmap_map(&v, f, 1, 4 * PAGE_SIZE, &va[i]), 0);
	KT_ASSERT_EQ(t, v.nr_records, v.nr_mappings + 2);
	memset(&during, 0, sizeof(during));
	during.old_va = va[0];
	during.frame = RAM_BASE + 100 * PAGE_SIZE;
	during.armed = 1;
	space.tlb = &shoot_ops;
	KT_EXPECT_EQ(t, vmap_grow(&v, va[0], 1, &f[1], 4, 4 * PAGE_SIZE, true, &nv), 0);
	space.tlb = NULL;
	KT_EXPECT_EQ(t, during.armed, 0); /* the move flushed */
	KT_EXPECT(t, !during.locked && !during.old_free);
	KT_EXPECT_EQ(t, during.err, 0);
	KT_EXPECT(t, nv != va[0] && maps_exactly(nv, f, 5));
	KT_EXPECT(t, range_is_free(va[0]) && unmapped(va[0]));
	KT_EXPECT_EQ(t, v.nr_mappings, M + 1);
	KT_EXPECT_EQ(t, vmap_unmap(&v, during.map_va, 1, NULL, NULL), 1);
	KT_EXPECT_EQ(t, vmap_unmap(&v, nv, 5, NULL, NULL), 5);
	for (int i = 1; i < M; i++)
		KT_EXPECT_EQ(t, vmap_unmap(&v, va[i], 1, NULL, NULL), 1);
	KT_EXPECT(t, v.free && !v.free->next);
	expect_clean(t);
}

/*
 * Growing in place up to a 2 MiB boundary needs a table page; without one
 * the grow fails with the mapping and the free VA as they were.
 */
static void grow_in_place_without_tables(struct ktest *t)
{
	static phys_addr_t f[512];
	uint64_t a, pad, va;

	for (int i = 0; i < 512; i++)
		f[i] = RAM_BASE + (i + 1) * PAGE_SIZE;
	/* a mapping ending 2 pages below the first 2 MiB boundary of the window */
	KT_ASSERT_EQ(t, vmap_map(&v, f, 512 - 6, 0, &pad),
		     0);			       /* window pages 1 .. 506, guard 507 */
	KT_ASSERT_EQ(t, vmap_map(&v, f, 3, 0, &a), 0); /* 508 .. 510, guard 511 */
	KT_ASSERT_EQ(t, a, win->base + 508 * PAGE_SIZE);
	tables_left = 0;
	KT_EXPECT_EQ(t, vmap_grow(&v, a, 3, &f[3], 4, 0, false, &va), -ENOMEM);
	tables_left = -1;
	KT_EXPECT(t, maps_exactly(a, f, 3));
	KT_EXPECT(t, v.free && v.free->start == a + 4 * PAGE_SIZE); /* the range after it, whole */
	KT_EXPECT_EQ(t, v.nr_pages, 506 + 3);
	KT_EXPECT_EQ(t, map_n(t, 2), a + 4 * PAGE_SIZE);
	KT_EXPECT_EQ(t, vmap_unmap(&v, a + 4 * PAGE_SIZE, 2, NULL, NULL), 2);
	KT_EXPECT_EQ(t, vmap_unmap(&v, a, 3, NULL, NULL), 3);
	KT_EXPECT_EQ(t, vmap_unmap(&v, pad, 512 - 6, NULL, NULL), 512 - 6);
	KT_EXPECT(t, v.free && !v.free->next);
	expect_clean(t);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(map_translate_unmap),
    KTEST_CASE(bad_arguments),
    KTEST_CASE(pages_only_and_alignment),
    KTEST_CASE(first_fit_reuse_and_merge),
    KTEST_CASE(walk_free_ranges),
    KTEST_CASE(full_window_and_no_tables),
    KTEST_CASE(many_mappings),
    KTEST_CASE(shootdown_without_the_lock),
    KTEST_CASE(grow_in_place_or_moved),
    KTEST_CASE(grow_without_tables),
    KTEST_CASE(shrink_gives_back_the_tail),
    KTEST_CASE(move_lets_the_lock_go_and_holds_its_range),
    KTEST_CASE(grow_in_place_without_tables),
    {0},
};

static const struct ktest_suite vmap_sv39_suite = { "vmap_sv39", cases, init_sv39, NULL };
static const struct ktest_suite vmap_arm64_suite = { "vmap_arm64", cases, init_arm64, NULL };

const struct ktest_suite *const test_suites[] = { &vmap_sv39_suite, &vmap_arm64_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
