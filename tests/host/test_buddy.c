// SPDX-License-Identifier: MIT
/*
 * The buddy allocator on a fake machine with holes: three RAM ranges, one
 * starting and one ending off any block boundary, one across 4 GiB, one high
 * above it; firmware, kernel, a no-map region with partial pages and a DTB
 * reserved; boot allocations made before the takeover. Every case starts
 * from a fresh takeover and ends with the invariant checker.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "dtb_load.h"

#define RAM_A 0x80000000ULL	/* 48 MiB + 12 KiB */
#define RAM_A_END 0x83003000ULL
#define RAM_B 0xff805000ULL	/* across 4 GiB */
#define RAM_B_END 0x100800000ULL
#define RAM_C 0x240001000ULL	/* 20 MiB, off any large boundary */
#define RAM_C_END 0x241401000ULL
#define FOUR_G 0x100000000ULL

static const struct mem_range holes_ram[] = {
	{ RAM_A, RAM_A_END - RAM_A },
	{ RAM_B, RAM_B_END - RAM_B },
	{ RAM_C, RAM_C_END - RAM_C },
};

static struct memmap m;
static phys_addr_t early_a, early_b; /* boot allocations before the takeover */
static struct arena_block *initial;
static size_t nr_initial;
static uint64_t initial_free;

#define MAX_HELD 200000
static phys_addr_t held[MAX_HELD];

static uint64_t frames_of(uint64_t bytes)
{
	return bytes / PAGE_SIZE;
}

static void holes_machine(void)
{
	arena_machine(&m, holes_ram, 3);
	bootmem_reserve(&m, RAM_A, 0x80000, RESV_RESERVED, "mmode_resv0");
	bootmem_reserve(&m, RAM_A + 0x200000, 0x1a800, RESV_KERNEL, "kernel");
	bootmem_reserve(&m, RAM_A + 0x2000800, 0x2000, RESV_NOMAP, "nomap"); /* 3 partial pages */
	bootmem_reserve(&m, RAM_C + 0x800000, 0x1234, RESV_DTB, "dtb");
	bootmem_alloc(&m, 3 * PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &early_a);
	bootmem_alloc(&m, 2 * PAGE_SIZE, 0x10000, FOUR_G, &early_b);
}

static int fresh(struct ktest *t)
{
	holes_machine();
	if (buddy_init(&m) < 0) {
		ktest_log(t, "buddy_init failed");
		return -1;
	}
	free(initial);
	nr_initial = arena_free_blocks(&initial);
	initial_free = buddy_free_frames();
	return 0;
}

/* Every case ends here: the checker finds nothing and, if asked, the free lists are as at boot. */
static void expect_clean(struct ktest *t, bool back_to_initial)
{
	struct arena_block *now;
	size_t n;

	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	if (!back_to_initial)
		return;
	buddy_drain_caches();
	KT_EXPECT_EQ(t, buddy_free_frames(), initial_free);
	n = arena_free_blocks(&now);
	KT_EXPECT(t, arena_blocks_equal(now, n, initial, nr_initial));
	free(now);
}

static void done(struct ktest *t)
{
	(void)t;
	buddy_set_misuse_handler(NULL);
	arena_set_hart(0);
}

/* ---- takeover ---- */

static void takes_over_every_frame(struct ktest *t)
{
	struct buddy_stats s;
	struct buddy_census c;
	uint64_t ram = 0;

	for (unsigned int i = 0; i < 3; i++)
		ram += frames_of(holes_ram[i].size);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.nr_banks, 4); /* B is cut at 4 GiB */
	KT_EXPECT_EQ(t, s.total, ram);
	KT_EXPECT_EQ(t, s.free, frames_of(memmap_total_usable(&m)));
	KT_EXPECT_EQ(t, s.early, frames_of(bootmem_allocated(&m))); /* incl. the metadata */
	KT_EXPECT_EQ(t, s.cached, 0);
	KT_EXPECT_EQ(t, s.allocated, 0);
	KT_EXPECT_EQ(t, s.free + s.early + s.reserved, s.total);
	/* fw 128 + kernel 27 (partial last page) + no-map 3 (partial pages) + dtb 2 */
	KT_EXPECT_EQ(t, s.reserved, 128 + 27 + 3 + 2);
	KT_ASSERT_EQ(t, buddy_check(&c), 0);
	KT_EXPECT_EQ(t, c.frames[FRAME_FREE], s.free);
	KT_EXPECT_EQ(t, c.frames[FRAME_EARLY], s.early);
	KT_EXPECT_EQ(t, c.frames[FRAME_RESERVED], s.reserved);
	/* 16 bytes per frame, per bank rounded up to a page */
	KT_EXPECT_LE(t, s.metadata_bytes, ram * 16 + 4 * PAGE_SIZE);
	KT_EXPECT_GE(t, s.metadata_bytes, ram * 16);
}

static void banks_are_ram_cut_at_4g(struct ktest *t)
{
	struct buddy_bank_info b;
	static const phys_addr_t base[] = { RAM_A, RAM_B, FOUR_G, RAM_C };
	static const phys_addr_t end[] = { RAM_A_END, FOUR_G, RAM_B_END, RAM_C_END };

	KT_ASSERT_EQ(t, buddy_nr_banks(), 4);
	for (unsigned int i = 0; i < 4; i++) {
		KT_ASSERT_EQ(t, buddy_bank_info(i, &b), 0);
		KT_EXPECT_EQ(t, b.base, base[i]);
		KT_EXPECT_EQ(t, b.nr_frames, frames_of(end[i] - base[i]));
	}
	KT_EXPECT_EQ(t, buddy_bank_info(4, &b), -ENOENT);
}

static void tags_after_takeover(struct ktest *t)
{
	struct frame_owner o;

	KT_EXPECT_EQ(t, frame_tag(RAM_A), FRAME_RESERVED);
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x7ffff), FRAME_RESERVED);
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x80000), FRAME_FREE);
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x200000 + 0x1afff), FRAME_RESERVED);
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x21b000), FRAME_FREE);
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x2000000), FRAME_RESERVED); /* partial page of no-map */
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x2002000), FRAME_RESERVED);
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x2003000), FRAME_FREE);
	KT_EXPECT_EQ(t, frame_tag(early_a), FRAME_EARLY);
	KT_EXPECT_EQ(t, frame_tag(early_a + 2 * PAGE_SIZE + 17), FRAME_EARLY);
	KT_EXPECT_EQ(t, frame_tag(early_b + PAGE_SIZE), FRAME_EARLY);
	/* holes and what lies outside RAM have no owner */
	KT_EXPECT_EQ(t, frame_tag(RAM_A_END), -ENOENT);
	KT_EXPECT_EQ(t, frame_tag(RAM_B - 1), -ENOENT);
	KT_EXPECT_EQ(t, frame_tag(0), -ENOENT);
	KT_EXPECT_EQ(t, frame_tag(~0ULL), -ENOENT);
	/* the metadata itself is a boot allocation */
	KT_EXPECT_EQ(t, frame_owner((phys_addr_t)0x83000000, &o), 0);
	KT_EXPECT_EQ(t, frame_of(RAM_A_END), NULL);
	KT_EXPECT_EQ(t, frame_to_pa(frame_of(RAM_C + 0x5000)), RAM_C + 0x5000);
	KT_EXPECT_EQ(t, frame_to_pa(frame_of(RAM_B + 0x3000)), RAM_B + 0x3000);
}

static void free_lists_are_the_maximal_blocks(struct ktest *t)
{
	struct arena_block *want;
	size_t n = arena_expected_free(&m, BUDDY_MAX_ORDER, &want);
	unsigned int biggest = 0;

	KT_EXPECT(t, arena_blocks_equal(initial, nr_initial, want, n));
	for (size_t i = 0; i < nr_initial; i++)
		biggest = MAX(biggest, initial[i].order);
	KT_EXPECT_EQ(t, biggest, MIN(BUDDY_MAX_ORDER, 12)); /* 16 MiB at 0x81000000 */
	free(want);
}

/* ---- blocks ---- */

static void every_order_allocates_and_frees(struct ktest *t)
{
	for (unsigned int k = 0; k <= BUDDY_MAX_ORDER; k++) {
		phys_addr_t pa, head;
		struct frame_owner o;

		KT_ASSERT_EQ(t, buddy_alloc(k, &pa), 0);
		KT_EXPECT_EQ(t, pa & ((PAGE_SIZE << k) - 1), 0);
		KT_EXPECT_EQ(t, frame_owner(pa + (PAGE_SIZE << k) - 1, &o), 0);
		KT_EXPECT_EQ(t, o.head, pa);
		KT_EXPECT_EQ(t, o.order, k);
		KT_EXPECT_EQ(t, o.tag, FRAME_ALLOCATED);
		KT_EXPECT_EQ(t, frame_head(pa + (PAGE_SIZE << k) / 2 + 5, &head), 0);
		KT_EXPECT_EQ(t, head, pa);
		KT_EXPECT_EQ(t, buddy_free_frames(), initial_free - (1ULL << k));
		KT_EXPECT_EQ(t, buddy_check(NULL), 0);
		KT_EXPECT_EQ(t, buddy_free(pa, k), 0);
	}
	KT_EXPECT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER + 1, &held[0]), -EINVAL);
	expect_clean(t, true);
}

/* A fresh order-0 allocation splits the smallest block that has room, one order at a time. */
static void split_then_coalesce(struct ktest *t)
{
	struct buddy_stats before, after;
	unsigned int k = 0;
	phys_addr_t pa;

	buddy_stats(&before);
	while (!before.nr_free[k])
		k++;
	KT_ASSERT_EQ(t, buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &pa), 0);
	buddy_stats(&after);
	KT_EXPECT_EQ(t, after.nr_free[k], before.nr_free[k] - 1);
	for (unsigned int j = 0; j < k; j++)
		KT_EXPECT_EQ(t, after.nr_free[j], before.nr_free[j] + 1);
	KT_EXPECT_EQ(t, after.free, before.free - 1);
	KT_EXPECT_EQ(t, buddy_free_ex(pa, 0, BUDDY_NOCACHE), 0);
	buddy_stats(&after);
	KT_EXPECT_EQ(t, memcmp(after.nr_free, before.nr_free, sizeof(after.nr_free)), 0);
	expect_clean(t, true);
}

/* Allocates with alloc until it fails; returns how many, their addresses in held[]. */
static size_t exhaust(struct ktest *t, unsigned int order, uint64_t align, phys_addr_t limit)
{
	size_t n = 0;
	phys_addr_t pa;

	while (n < MAX_HELD && buddy_alloc_ex(order, align, limit, 0, &pa) == 0) {
		KT_EXPECT(t, arena_shadow_claim(pa, 1ULL << order));
		held[n++] = pa;
	}
	KT_EXPECT_LT(t, n, MAX_HELD);
	return n;
}

static void release(struct ktest *t, size_t n, unsigned int order)
{
	for (size_t i = 0; i < n; i++) {
		KT_EXPECT(t, arena_shadow_release(held[i], 1ULL << order));
		KT_EXPECT_EQ(t, buddy_free(held[i], order), 0);
	}
}

static void out_of_memory_then_recovery(struct ktest *t)
{
	size_t n = exhaust(t, 0, 0, BUDDY_NO_LIMIT);
	struct buddy_stats s;
	phys_addr_t pa = 0x1234;

	KT_EXPECT_EQ(t, n, initial_free);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.free + s.cached, 0);
	KT_EXPECT_EQ(t, s.allocated, initial_free);
	KT_EXPECT_EQ(t, buddy_alloc(0, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc(3, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_range(2, 0, BUDDY_NO_LIMIT, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, pa, 0x1234);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	/* one back, one out again */
	KT_EXPECT_EQ(t, buddy_free(held[n / 2], 0), 0);
	KT_EXPECT_EQ(t, buddy_alloc(0, &pa), 0);
	KT_EXPECT_EQ(t, pa, held[n / 2]);
	release(t, n, 0);
	expect_clean(t, true);
}

static void out_of_large_blocks(struct ktest *t)
{
	size_t n = exhaust(t, 5, 0, BUDDY_NO_LIMIT);
	struct buddy_stats s;
	phys_addr_t pa;

	KT_EXPECT_GT(t, n, 0);
	buddy_stats(&s);
	for (unsigned int k = 5; k <= BUDDY_MAX_ORDER; k++)
		KT_EXPECT_EQ(t, s.nr_free[k], 0);
	KT_EXPECT_GT(t, s.free, 0); /* the odd small blocks remain, and serve small requests */
	KT_EXPECT_EQ(t, buddy_alloc(4, &pa), s.nr_free[4] ? 0 : -ENOMEM);
	if (s.nr_free[4])
		KT_EXPECT_EQ(t, buddy_free(pa, 4), 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	release(t, n, 5);
	expect_clean(t, true);
}

/* Frames another hart cached are not lost to a hart that runs out. */
static void exhaustion_drains_other_harts_caches(struct ktest *t)
{
	struct buddy_stats s;
	size_t n;

	arena_set_hart(3);
	for (unsigned int i = 0; i < 40; i++)
		KT_ASSERT_EQ(t, buddy_alloc(0, &held[i]), 0);
	for (unsigned int i = 0; i < 40; i++)
		KT_ASSERT_EQ(t, buddy_free(held[i], 0), 0);
	buddy_stats(&s);
	KT_EXPECT_GE(t, s.cached, BUDDY_CACHE_BATCH); /* hart 3 sits on these */
	arena_set_hart(1);
	n = exhaust(t, 0, 0, BUDDY_NO_LIMIT);
	KT_EXPECT_EQ(t, n, initial_free);
	release(t, n, 0);
	/* and the same for blocks */
	arena_set_hart(3);
	for (unsigned int i = 0; i < 40; i++)
		KT_ASSERT_EQ(t, buddy_alloc(0, &held[i]), 0);
	for (unsigned int i = 0; i < 40; i++)
		KT_ASSERT_EQ(t, buddy_free(held[i], 0), 0);
	arena_set_hart(0);
	n = exhaust(t, 1, 0, BUDDY_NO_LIMIT);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, 0); /* hart 3's frames were drained and paired up */
	for (unsigned int k = 1; k <= BUDDY_MAX_ORDER; k++)
		KT_EXPECT_EQ(t, s.nr_free[k], 0);
	KT_EXPECT_EQ(t, s.free, initial_free - 2 * n);
	release(t, n, 1);
	expect_clean(t, true);
}

static void caches_refill_and_drain_in_batches(struct ktest *t)
{
	struct buddy_stats s;

	KT_ASSERT_EQ(t, buddy_alloc(0, &held[0]), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, BUDDY_CACHE_BATCH - 1);
	KT_EXPECT_EQ(t, s.free, initial_free - BUDDY_CACHE_BATCH);
	for (unsigned int i = 1; i < BUDDY_CACHE_BATCH; i++)
		KT_ASSERT_EQ(t, buddy_alloc(0, &held[i]), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, 0);
	KT_EXPECT_EQ(t, s.free, initial_free - BUDDY_CACHE_BATCH); /* no global traffic */
	for (unsigned int i = 0; i < BUDDY_CACHE_BATCH; i++)
		KT_ASSERT_EQ(t, buddy_free(held[i], 0), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, BUDDY_CACHE_BATCH);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	buddy_drain_cache(0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, 0);
	KT_EXPECT_EQ(t, s.free, initial_free);
	/* a full cache sends a batch back, not everything */
	for (unsigned int i = 0; i <= BUDDY_CACHE_SIZE; i++)
		KT_ASSERT_EQ(t, buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &held[i]), 0);
	for (unsigned int i = 0; i <= BUDDY_CACHE_SIZE; i++)
		KT_ASSERT_EQ(t, buddy_free(held[i], 0), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, BUDDY_CACHE_SIZE + 1 - BUDDY_CACHE_BATCH);
	expect_clean(t, true);
}

/* ---- limits and alignment ---- */

static uint64_t free_frames_below(phys_addr_t limit)
{
	struct arena_block *v;
	size_t n = arena_free_blocks(&v);
	uint64_t frames = 0;

	for (size_t i = 0; i < n; i++) {
		phys_addr_t end = v[i].pa + (PAGE_SIZE << v[i].order);

		if (v[i].pa < limit)
			frames += (MIN(end, limit) - v[i].pa) / PAGE_SIZE;
	}
	free(v);
	return frames;
}

static void limit_at_4g(struct ktest *t)
{
	uint64_t below = free_frames_below(FOUR_G);
	size_t n = exhaust(t, 0, 0, FOUR_G);
	phys_addr_t pa;

	KT_EXPECT_EQ(t, n, below);
	for (size_t i = 0; i < n; i++)
		KT_EXPECT_LE(t, held[i] + PAGE_SIZE, FOUR_G);
	KT_EXPECT_EQ(t, free_frames_below(FOUR_G), 0);
	/* above the limit there is plenty */
	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	KT_EXPECT_GE(t, pa, FOUR_G);
	KT_EXPECT_EQ(t, buddy_free(pa, 0), 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	release(t, n, 0);
	expect_clean(t, true);
}

/* A limit inside a bank, not even page-aligned: the walk of that bank's lists. */
static void limit_inside_a_bank(struct ktest *t)
{
	const phys_addr_t limit = RAM_A + 0x500800;
	uint64_t below = free_frames_below(ALIGN_DOWN(limit, PAGE_SIZE));
	size_t n = exhaust(t, 2, 0, limit);

	/* all of it but the one frame between the kernel and an aligned address */
	KT_EXPECT_EQ(t, n, (below - 1) / 4);
	KT_EXPECT_EQ(t, free_frames_below(ALIGN_DOWN(limit, PAGE_SIZE)), 1);
	KT_EXPECT_EQ(t, frame_tag(RAM_A + 0x21b000), FRAME_FREE);
	for (size_t i = 0; i < n; i++)
		KT_EXPECT_LE(t, held[i] + 4 * PAGE_SIZE, limit);
	release(t, n, 2);
	KT_EXPECT_EQ(t, buddy_alloc_ex(0, 0, RAM_A, 0, &held[0]), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_ex(0, 0, RAM_A + 0x80fff, 0, &held[0]), -ENOMEM); /* fw there */
	/* 0 is a limit like any other (no block ends by it), not "none": RAM may start at 0 */
	KT_EXPECT_EQ(t, buddy_alloc_ex(0, 0, 0, 0, &held[0]), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_range(1, 0, 0, &held[0]), -ENOMEM);
	expect_clean(t, true);
}

static void alignment(struct ktest *t)
{
	static const struct {
		unsigned int order;
		uint64_t align, expect;
	} cases[] = {
		{ MIN(BUDDY_MAX_ORDER, 10), SZ_1G, SZ_1G }, /* only 4 GiB has one: first */
		{ 0, SZ_2M, SZ_2M },
		{ 1, 0x10000, 0x10000 },
		{ 3, 0x2000, 0x8000 },	/* smaller than natural: natural */
		{ 0, 0, PAGE_SIZE },
		{ 2, 4 * SZ_2M, 4 * SZ_2M }, /* beyond the largest block */
	};
	phys_addr_t pa[ARRAY_SIZE(cases)];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		KT_ASSERT_EQ(t, buddy_alloc_ex(cases[i].order, cases[i].align, BUDDY_NO_LIMIT, 0, &pa[i]), 0);
		KT_EXPECT_EQ(t, pa[i] & (cases[i].expect - 1), 0);
		KT_EXPECT(t, arena_shadow_claim(pa[i], 1ULL << cases[i].order));
	}
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		KT_EXPECT(t, arena_shadow_release(pa[i], 1ULL << cases[i].order));
		KT_EXPECT_EQ(t, buddy_free(pa[i], cases[i].order), 0);
	}
	KT_EXPECT_EQ(t, buddy_alloc_ex(0, 0x3000, BUDDY_NO_LIMIT, 0, &pa[0]), -EINVAL);
	/* no 4 GiB-aligned RAM exists but 4 GiB itself */
	KT_ASSERT_EQ(t, buddy_alloc_ex(0, 4 * SZ_1G, BUDDY_NO_LIMIT, 0, &pa[0]), 0);
	KT_EXPECT_EQ(t, pa[0], FOUR_G);
	KT_EXPECT_EQ(t, buddy_alloc_ex(0, 4 * SZ_1G, BUDDY_NO_LIMIT, 0, &pa[1]), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_ex(0, 8 * SZ_1G, BUDDY_NO_LIMIT, 0, &pa[1]), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_free(pa[0], 0), 0);
	expect_clean(t, true);
}

static void alignment_and_limit_together(struct ktest *t)
{
	size_t n = exhaust(t, 0, SZ_2M, FOUR_G);

	/* every 2 MiB boundary below 4 GiB with a free frame there, and nothing else */
	KT_EXPECT_GT(t, n, 8);
	for (size_t i = 0; i < n; i++) {
		KT_EXPECT_EQ(t, held[i] & (SZ_2M - 1), 0);
		KT_EXPECT_LT(t, held[i], FOUR_G);
	}
	release(t, n, 0);
	expect_clean(t, true);
}

/* ---- ranges ---- */

static void range_of_three(struct ktest *t)
{
	phys_addr_t pa;
	struct frame_owner o;

	KT_ASSERT_EQ(t, buddy_alloc_range(3, 0, BUDDY_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, buddy_free_frames(), initial_free - 3);
	for (unsigned int i = 0; i < 3; i++) {
		KT_EXPECT_EQ(t, frame_owner(pa + i * PAGE_SIZE, &o), 0);
		KT_EXPECT_EQ(t, o.tag, FRAME_ALLOCATED);
	}
	KT_EXPECT_EQ(t, frame_owner(pa + 3 * PAGE_SIZE, &o), 0);
	KT_EXPECT_EQ(t, o.tag, FRAME_FREE); /* the tail went back */
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	KT_EXPECT_EQ(t, buddy_free_range(pa, 3), 0);
	expect_clean(t, true);
}

static void ranges_of_every_small_size(struct ktest *t)
{
	phys_addr_t pa[40];

	for (unsigned int n = 1; n < 40; n++) {
		KT_ASSERT_EQ(t, buddy_alloc_range(n, 0, BUDDY_NO_LIMIT, &pa[n]), 0);
		KT_EXPECT(t, arena_shadow_claim(pa[n], n));
	}
	KT_EXPECT_EQ(t, buddy_free_frames(), initial_free - 39 * 40 / 2);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	for (unsigned int n = 1; n < 40; n += 2) {
		KT_EXPECT(t, arena_shadow_release(pa[n], n));
		KT_EXPECT_EQ(t, buddy_free_range(pa[n], n), 0);
	}
	for (unsigned int n = 2; n < 40; n += 2) {
		KT_EXPECT(t, arena_shadow_release(pa[n], n));
		KT_EXPECT_EQ(t, buddy_free_range(pa[n], n), 0);
	}
	expect_clean(t, true);
}

/* Beyond the largest block: a run of free blocks side by side. */
static void range_larger_than_any_block(struct ktest *t)
{
	const uint64_t nr = (1ULL << BUDDY_MAX_ORDER) + 5;
	phys_addr_t pa;
	struct frame_owner o;

	if (BUDDY_MAX_ORDER > 12)
		KT_SKIP(t, "the test machine has no free run past a block of order %d", BUDDY_MAX_ORDER);

	KT_ASSERT_EQ(t, buddy_alloc_range(nr, 0, BUDDY_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, buddy_free_frames(), initial_free - nr);
	for (uint64_t i = 0; i < nr; i += 97) {
		KT_EXPECT_EQ(t, frame_owner(pa + i * PAGE_SIZE, &o), 0);
		KT_EXPECT_EQ(t, o.tag, FRAME_ALLOCATED);
	}
	KT_EXPECT_EQ(t, frame_tag(pa + nr * PAGE_SIZE), FRAME_FREE);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	KT_EXPECT_EQ(t, buddy_free_range(pa, nr), 0);
	/* aligned and limited: the walk has to skip the firmware and the kernel */
	KT_ASSERT_EQ(t, buddy_alloc_range(nr, SZ_2M, FOUR_G, &pa), 0);
	KT_EXPECT_EQ(t, pa & (SZ_2M - 1), 0);
	KT_EXPECT_LE(t, pa + nr * PAGE_SIZE, FOUR_G);
	KT_EXPECT_EQ(t, buddy_free_range(pa, nr), 0);
	/* more than any bank has in one piece */
	KT_EXPECT_EQ(t, buddy_alloc_range(frames_of(RAM_A_END - RAM_A), 0, BUDDY_NO_LIMIT, &pa),
		     -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_range(0, 0, BUDDY_NO_LIMIT, &pa), -EINVAL);
	expect_clean(t, true);
}

/* A boot allocation handed back: its frames join the free lists. */
static void early_region_given_back(struct ktest *t)
{
	struct buddy_stats before, after;

	buddy_stats(&before);
	KT_EXPECT_EQ(t, buddy_free_range(early_a, 3), 0);
	buddy_stats(&after);
	KT_EXPECT_EQ(t, after.early, before.early - 3);
	KT_EXPECT_EQ(t, after.free, before.free + 3);
	KT_EXPECT_EQ(t, frame_tag(early_a + PAGE_SIZE), FRAME_FREE);
	KT_EXPECT_EQ(t, buddy_free(early_b, 1), 0); /* 64 KiB-aligned pair: one order-1 block */
	buddy_stats(&after);
	KT_EXPECT_EQ(t, after.early, before.early - 5);
	expect_clean(t, false);
}

/* ---- tags for later layers ---- */

static void owners_tag_their_blocks(struct ktest *t)
{
	phys_addr_t slab, pt, user;
	struct frame_owner o;

	KT_ASSERT_EQ(t, buddy_alloc(2, &slab), 0);
	KT_ASSERT_EQ(t, buddy_alloc(0, &pt), 0);
	KT_ASSERT_EQ(t, buddy_alloc_range(5, 0, BUDDY_NO_LIMIT, &user), 0);
	KT_EXPECT_EQ(t, frame_set_owner(slab, 2, FRAME_SLAB, 3, 7), 0);
	KT_EXPECT_EQ(t, frame_set_owner(pt, 0, FRAME_PAGETABLE, 0, 0), 0);
	KT_EXPECT_EQ(t, frame_set_owner(user, 2, FRAME_TAG_USER + 100, 0xffff, 0xdeadbeef), 0);
	for (unsigned int i = 0; i < 4; i++) {
		KT_ASSERT_EQ(t, frame_owner(slab + i * PAGE_SIZE + 123, &o), 0);
		KT_EXPECT_EQ(t, o.tag, FRAME_SLAB);
		KT_EXPECT_EQ(t, o.heap, 3);
		KT_EXPECT_EQ(t, o.aux, 7);
		KT_EXPECT_EQ(t, o.head, slab);
		KT_EXPECT_EQ(t, o.order, 2);
	}
	KT_EXPECT_EQ(t, frame_tag(pt), FRAME_PAGETABLE);
	KT_ASSERT_EQ(t, frame_owner(user + 3 * PAGE_SIZE, &o), 0);
	KT_EXPECT_EQ(t, o.tag, FRAME_TAG_USER + 100);
	KT_EXPECT_EQ(t, o.heap, 0xffff);
	KT_EXPECT_EQ(t, o.aux, 0xdeadbeef);
	KT_EXPECT_EQ(t, frame_tag(user + 4 * PAGE_SIZE), FRAME_ALLOCATED); /* the range's 5th frame */
	KT_EXPECT_STREQ(t, frame_tag_name(FRAME_SLAB), "slab");
	KT_EXPECT_STREQ(t, frame_tag_name(FRAME_TAG_USER + 100), "user");
	/* not tags an owner may set */
	KT_EXPECT_EQ(t, frame_set_owner(pt, 0, FRAME_FREE, 0, 0), -EINVAL);
	KT_EXPECT_EQ(t, frame_set_owner(pt, 0, 256, 0, 0), -EINVAL);
	KT_EXPECT_EQ(t, frame_set_owner(pt, 0, FRAME_SLAB, 0x10000, 0), -EINVAL);
	KT_EXPECT_EQ(t, frame_tag(pt), FRAME_PAGETABLE);
	/* any owner tag frees */
	KT_EXPECT_EQ(t, buddy_free(slab, 2), 0);
	KT_EXPECT_EQ(t, buddy_free(pt, 0), 0);
	KT_EXPECT_EQ(t, buddy_free_range(user, 5), 0);
	expect_clean(t, true);
}

/* ---- overhead, dump, limits of the tables ---- */

/* 1 GiB + 3 GiB above 4 GiB: the real proportions (only the metadata gets touched). */
static void metadata_overhead(struct ktest *t)
{
	static const struct mem_range big[] = {
		{ 0x80000000ULL, SZ_1G },
		{ 0x200000000ULL, 3 * SZ_1G },
	};
	struct buddy_stats s;
	uint64_t ram = 4 * SZ_1G;

	arena_machine(&m, big, 2);
	KT_ASSERT_EQ(t, buddy_init(&m), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, sizeof(struct frame), FRAME_META_BYTES);
	KT_EXPECT_LE(t, FRAME_META_BYTES, 16);
	KT_EXPECT_EQ(t, s.metadata_bytes, ram / PAGE_SIZE * 16);
	/* < 0.4 % of RAM: 16 / 4096 = 0.39 % */
	KT_EXPECT_LT(t, s.metadata_bytes * 1000, ram * 4);
	KT_EXPECT_EQ(t, s.early, s.metadata_bytes / PAGE_SIZE);
	ktest_log(t, "metadata: %u bytes per frame, %llu KiB for %llu MiB of RAM (%llu.%03llu %%)",
		  FRAME_META_BYTES, (unsigned long long)(s.metadata_bytes >> 10),
		  (unsigned long long)(ram >> 20),
		  (unsigned long long)(s.metadata_bytes * 100 / ram),
		  (unsigned long long)(s.metadata_bytes * 100000 / ram % 1000));
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	arena_unmap();
}

static char *capture_dump(void)
{
	static char buf[8192];
	FILE *f = tmpfile();
	int saved = dup(1);
	size_t n;

	fflush(stdout);
	dup2(fileno(f), 1);
	buddy_dump();
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void dump_reads_like_buddyinfo(struct ktest *t)
{
	char *out, want[128];
	struct buddy_stats s;
	struct buddy_bank_info b;

	buddy_stats(&s);
	out = capture_dump();
	KT_EXPECT(t, strstr(out, "buddy: bank node base"));
	snprintf(want, sizeof(want), "%llu frames", (unsigned long long)s.total);
	KT_EXPECT(t, strstr(out, want));
	snprintf(want, sizeof(want), "free %llu, cached 0, allocated 0", (unsigned long long)s.free);
	KT_EXPECT(t, strstr(out, want));
	/* bank 3 (C): its line ends with its count of largest blocks */
	buddy_bank_info(3, &b);
	snprintf(want, sizeof(want), "   3    0 0x0000000240001000  free");
	KT_ASSERT(t, strstr(out, want));
	char *line = strstr(out, want), *eol = strchr(line, '\n');
	snprintf(want, sizeof(want), " %6llu\n", (unsigned long long)b.nr_free[BUDDY_MAX_ORDER]);
	KT_EXPECT_EQ(t, strncmp(eol - strlen(want) + 1, want, strlen(want)), 0);
	KT_EXPECT(t, strstr(out, "16 bytes per frame"));
	if (t->failures)
		ktest_log(t, "dump was:\n%s", out);
}

/*
 * As many RAM ranges as the memory map holds, one across 4 GiB (two
 * banks): every one is a bank, no byte left out (it once took 64 banks,
 * and a 100-bank board lost 360 MiB and then its early heap).
 */
static void every_range_the_map_holds_is_a_bank(struct ktest *t)
{
	static struct mem_range r[MEMMAP_MAX_REGIONS];
	struct buddy_stats s;

	_Static_assert(BUDDY_MAX_BANKS > MEMMAP_MAX_REGIONS, "a bank for every range");
	for (unsigned int i = 0; i < ARRAY_SIZE(r) - 1; i++)
		r[i] = (struct mem_range){ 0x80000000ULL + i * 0x200000ULL, 0x100000 };
	r[ARRAY_SIZE(r) - 1] = (struct mem_range){ 0x100000000ULL - 0x100000, 0x200000 };
	arena_machine(&m, r, ARRAY_SIZE(r));
	KT_ASSERT_EQ(t, buddy_init(&m), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.nr_banks, MEMMAP_MAX_REGIONS + 1);
	KT_EXPECT_EQ(t, s.ignored, 0);
	KT_EXPECT_EQ(t, frame_tag(r[ARRAY_SIZE(r) - 2].base), FRAME_FREE); /* its metadata on top */
	KT_EXPECT_EQ(t, frame_tag(0x100000000ULL + 0x80000), FRAME_FREE);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	arena_unmap();
}

/* A map built from a device tree: several banks, reserved-memory, above 4 GiB. */
static void from_a_device_tree(struct ktest *t)
{
	size_t size;
	void *blob = dtb_load("buddy-banks", &size);
	struct dt_error err;
	struct buddy_stats s;
	struct arena_block *want, *got;
	size_t nw, ng;

	KT_ASSERT(t, blob);
	KT_ASSERT_EQ(t, memmap_from_fdt(&m, blob, size, NULL, 0, 0, &err), 0);
	free(blob);
	arena_map(&m);
	KT_ASSERT_EQ(t, buddy_init(&m), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.total, frames_of(memmap_total_ram(&m)));
	KT_EXPECT_EQ(t, s.free, frames_of(memmap_total_usable(&m)));
	KT_EXPECT_EQ(t, frame_tag(0x80000000), FRAME_RESERVED);	/* mmode_resv0, no no-map */
	KT_EXPECT_EQ(t, frame_tag(0x90000000), FRAME_RESERVED);	/* no-map */
	KT_EXPECT_EQ(t, frame_tag(0x8f0000000ULL), FRAME_RESERVED); /* /memreserve/ */
	KT_EXPECT_EQ(t, frame_tag(0xa0000000), -ENOENT);		/* hole */
	nw = arena_expected_free(&m, BUDDY_MAX_ORDER, &want);
	ng = arena_free_blocks(&got);
	KT_EXPECT(t, arena_blocks_equal(got, ng, want, nw));
	free(want);
	free(got);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	arena_unmap();
}

static const struct ktest_case cases[] = {
	KTEST_CASE(takes_over_every_frame),
	KTEST_CASE(banks_are_ram_cut_at_4g),
	KTEST_CASE(tags_after_takeover),
	KTEST_CASE(free_lists_are_the_maximal_blocks),
	KTEST_CASE(every_order_allocates_and_frees),
	KTEST_CASE(split_then_coalesce),
	KTEST_CASE(out_of_memory_then_recovery),
	KTEST_CASE(out_of_large_blocks),
	KTEST_CASE(exhaustion_drains_other_harts_caches),
	KTEST_CASE(caches_refill_and_drain_in_batches),
	KTEST_CASE(limit_at_4g),
	KTEST_CASE(limit_inside_a_bank),
	KTEST_CASE(alignment),
	KTEST_CASE(alignment_and_limit_together),
	KTEST_CASE(range_of_three),
	KTEST_CASE(ranges_of_every_small_size),
	KTEST_CASE(range_larger_than_any_block),
	KTEST_CASE(early_region_given_back),
	KTEST_CASE(owners_tag_their_blocks),
	KTEST_CASE(metadata_overhead),
	KTEST_CASE(dump_reads_like_buddyinfo),
	KTEST_CASE(every_range_the_map_holds_is_a_bank),
	KTEST_CASE(from_a_device_tree),
	{ 0 },
};

static const struct ktest_suite buddy_suite = {
	.name = "buddy",
	.cases = cases,
	.init = fresh,
	.exit = done,
};

const struct ktest_suite *const test_suites[] = { &buddy_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
