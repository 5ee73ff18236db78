// SPDX-License-Identifier: MIT
/*
 * The page mapper, in both PTE formats (one suite each, the same cases),
 * on an arena machine whose buddy supplies the table pages. Results are
 * read back with the independent reference walker (ptwalk_ref.c), never
 * only with the mapper's own translate.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ptwalk_ref.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (128ULL << 20)
#define PA_FAKE 0x1000000000ULL /* mapped PAs are never touched: any address will do */

static const struct mem_range ram[] = { { RAM_BASE, RAM_SIZE } };
static struct memmap m;
static const struct pte_format *fmt;
static enum ref_fmt rfmt;
static uint64_t free0; /* buddy_free_frames() after the takeover */

/* ---- hooks: table allocation that fails on demand, a TLB log ---------------- */

static long fail_after = -1; /* allocations that still succeed; -1: all */
static unsigned long nr_allocs;

/*
 * Table pages come with garbage in them, entries that read as leaves (or as
 * malformed where a block cannot be): whatever the mapper does not zero or
 * write shows up in the reference walk.
 */
static void poison_page(phys_addr_t pa)
{
	pte_t junk = fmt->leaf(PA_FAKE, MMU_PROT_READ, fmt->levels - 2);
	pte_t *p = phys_to_virt(pa);

	for (unsigned int i = 0; i < PTE_PER_TABLE; i++)
		p[i] = junk + i * fmt->leaf_step * PTE_PER_TABLE;
}

static int test_alloc(struct mmu_space *s, phys_addr_t *pa)
{
	(void)s;
	if (fail_after == 0)
		return -ENOMEM;
	if (fail_after > 0)
		fail_after--;
	if (buddy_alloc(0, pa))
		return -ENOMEM;
	frame_set_owner(*pa, 0, FRAME_PAGETABLE, 0, 0);
	poison_page(*pa);
	nr_allocs++;
	return 0;
}

static void test_free(struct mmu_space *s, phys_addr_t pa)
{
	(void)s;
	buddy_free(pa, 0);
}

struct tlb_log {
	unsigned int pages, alls, syncs;
	unsigned int invalid_at_flush; /* flush_page while ref_walk(va) saw no mapping */
	uint64_t last_va;
};
static struct tlb_log tlb_log;

static void log_flush_page(struct mmu_space *s, uint64_t va)
{
	struct ref_leaf l;

	tlb_log.pages++;
	tlb_log.last_va = va;
	if (ref_walk(rfmt, s->root, va, &l, NULL) == REF_UNMAPPED)
		tlb_log.invalid_at_flush++;
}

static void log_flush_all(struct mmu_space *s)
{
	(void)s;
	tlb_log.alls++;
}

static void log_sync(struct mmu_space *s)
{
	(void)s;
	tlb_log.syncs++;
}

static const struct mmu_tlb_ops log_tlb = {
	.flush_page = log_flush_page,
	.flush_all = log_flush_all,
	.sync = log_sync,
};

static void log_reset(void)
{
	memset(&tlb_log, 0, sizeof(tlb_log));
}

static int new_space(struct ktest *t, struct mmu_space *s, unsigned int flags)
{
	memset(s, 0, sizeof(*s));
	s->alloc_table = test_alloc;
	s->free_table = test_free;
	fail_after = -1;
	log_reset();
	if (mmu_space_init(s, fmt, &log_tlb, flags)) {
		ktest_log(t, "mmu_space_init failed");
		return -1;
	}
	return 0;
}

/* The tree's table pages as the reference walker finds them, and the buddy's count agree. */
static void expect_accounting(struct ktest *t, struct mmu_space *s)
{
	struct ref_dump d;

	ref_dump_tables(rfmt, s->root, &d);
	KT_EXPECT_EQ(t, d.nr, s->nr_tables);
	KT_EXPECT_EQ(t, free0 - buddy_free_frames(), s->nr_tables);
	ref_dump_free(&d);
}

static void destroy_space(struct ktest *t, struct mmu_space *s)
{
	mmu_space_destroy(s);
	KT_EXPECT_EQ(t, buddy_free_frames(), free0);
}

/* Whether va maps to pa with prot, per the reference walker and per mmu_translate. */
static bool maps(struct mmu_space *s, uint64_t va, uint64_t pa, unsigned int prot)
{
	struct ref_leaf l;
	phys_addr_t tpa;
	unsigned int tprot;

	if (ref_walk(rfmt, s->root, va, &l, NULL) || l.pa != pa || l.prot != (prot & fmt->prot_mask))
		return false;
	return !mmu_translate(s, va, &tpa, &tprot, NULL) && tpa == pa && tprot == l.prot;
}

static bool unmapped(struct mmu_space *s, uint64_t va)
{
	struct ref_leaf l;

	return ref_walk(rfmt, s->root, va, &l, NULL) == REF_UNMAPPED &&
	       mmu_translate(s, va, NULL, NULL, NULL) == -ENOENT;
}

static uint64_t leaf_size_at(struct mmu_space *s, uint64_t va)
{
	struct ref_leaf l;

	return ref_walk(rfmt, s->root, va, &l, NULL) ? 0 : l.size;
}

struct leaf_counts {
	unsigned long n4k, n2m, n1g;
};

static int count_leaf(uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot, void *arg)
{
	struct leaf_counts *c = arg;

	(void)va, (void)pa, (void)prot;
	if (size == SZ_4K)
		c->n4k++;
	else if (size == SZ_2M)
		c->n2m++;
	else if (size == SZ_1G)
		c->n1g++;
	return 0;
}

static struct leaf_counts leaves(struct mmu_space *s)
{
	struct leaf_counts c = { 0 };

	mmu_iterate(s, count_leaf, &c);
	return c;
}

#define RW (MMU_PROT_READ | MMU_PROT_WRITE)
#define RX (MMU_PROT_READ | MMU_PROT_EXEC)
#define RO MMU_PROT_READ

/* ---- cases -------------------------------------------------------------------- */

static void map_translate_unmap(struct ktest *t)
{
	struct mmu_space s;
	uint64_t va = 0x12345000ULL;

	if (new_space(t, &s, 0))
		return;
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE + 0x7000, 3 * SZ_4K, RW | MMU_PROT_GLOBAL, 0), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 3 * SZ_4K, PA_FAKE, SZ_4K, RX | MMU_PROT_USER, 0), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 4 * SZ_4K, PA_FAKE, SZ_4K, RO | MMU_PROT_DEVICE, 0), 0);
	for (int i = 0; i < 3; i++)
		KT_EXPECT(t, maps(&s, va + i * SZ_4K + 0x123, PA_FAKE + 0x7123 + i * SZ_4K,
				  RW | MMU_PROT_GLOBAL));
	KT_EXPECT(t, maps(&s, va + 3 * SZ_4K, PA_FAKE, RX | MMU_PROT_USER));
	KT_EXPECT(t, maps(&s, va + 4 * SZ_4K, PA_FAKE, RO | MMU_PROT_DEVICE));
	KT_EXPECT(t, unmapped(&s, va - SZ_4K));
	KT_EXPECT(t, unmapped(&s, va + 5 * SZ_4K));
	KT_EXPECT_EQ(t, leaf_size_at(&s, va), SZ_4K);
	expect_accounting(t, &s);

	KT_EXPECT_EQ(t, mmu_unmap(&s, va + SZ_4K, SZ_4K), 0);
	KT_EXPECT(t, unmapped(&s, va + SZ_4K));
	KT_EXPECT(t, maps(&s, va, PA_FAKE + 0x7000, RW | MMU_PROT_GLOBAL));
	KT_EXPECT_EQ(t, mmu_unmap(&s, 0, SZ_1G), 0); /* holes are fine */
	KT_EXPECT(t, unmapped(&s, va));
	KT_EXPECT_EQ(t, s.nr_tables, 1);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

static void bad_arguments_change_nothing(struct ktest *t)
{
	struct mmu_space s;
	struct ref_dump before, after;
	uint64_t va = 0x40000000ULL;
	uint64_t top = 1ULL << (fmt->va_bits - 1); /* sv39: first non-canonical; arm64: inside */

	if (new_space(t, &s, 0))
		return;
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, 16 * SZ_4K, RW, 0), 0);
	ref_dump_tables(rfmt, s.root, &before);

	KT_EXPECT_EQ(t, mmu_map(&s, va + 0x800, PA_FAKE, SZ_4K, RW, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE + 8, SZ_4K, RW, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, 100, RW, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, 0, RW, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G, PA_FAKE, SZ_4K, RW | MMU_PROT_EXEC, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G, PA_FAKE, SZ_4K, MMU_PROT_WRITE, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G, PA_FAKE, SZ_4K, RO | MMU_PROT_DEVICE | MMU_PROT_EXEC, 0),
			-EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G, PA_FAKE, SZ_4K, RO | 0x100, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G, 1ULL << fmt->pa_bits, SZ_4K, RO, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G, (1ULL << fmt->pa_bits) - SZ_4K, 2 * SZ_4K, RO, 0),
			-EINVAL);
	/* past the lower half, across its end, the wrong half, non-canonical */
	KT_EXPECT_EQ(t, mmu_map(&s, 1ULL << fmt->va_bits, PA_FAKE, SZ_4K, RO, 0), -EINVAL);
	if (fmt->split_halves) {
		KT_EXPECT_EQ(t, mmu_map(&s, (1ULL << fmt->va_bits) - SZ_4K, PA_FAKE, 2 * SZ_4K, RO, 0),
				-EINVAL);
		KT_EXPECT_EQ(t, mmu_map(&s, ~0ULL << fmt->va_bits, PA_FAKE, SZ_4K, RO, 0), -EINVAL);
	} else {
		KT_EXPECT_EQ(t, mmu_map(&s, top, PA_FAKE, SZ_4K, RO, 0), -EINVAL);
		KT_EXPECT_EQ(t, mmu_map(&s, top - SZ_4K, PA_FAKE, 2 * SZ_4K, RO, 0), -EINVAL);
		KT_EXPECT_EQ(t, mmu_map(&s, -SZ_4K, PA_FAKE, 2 * SZ_4K, RO, 0), -EINVAL);
	}
	KT_EXPECT_EQ(t, mmu_map(&s, 1ULL << 62 | 1ULL << (fmt->va_bits - 1), PA_FAKE, SZ_4K, RO, 0),
			-EINVAL);
	/* over an existing mapping, even partly */
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, SZ_4K, RW, 0), -EEXIST);
	KT_EXPECT_EQ(t, mmu_map(&s, va - 4 * SZ_4K, PA_FAKE, 5 * SZ_4K, RW, 0), -EEXIST);
	KT_EXPECT_EQ(t, mmu_map(&s, va - SZ_2M + 15 * SZ_4K, PA_FAKE, SZ_2M + SZ_4K, RW, 0), -EEXIST);
	/* re-protecting a hole, W+X */
	KT_EXPECT_EQ(t, mmu_protect(&s, va, 17 * SZ_4K, RO, 0), -ENOENT);
	KT_EXPECT_EQ(t, mmu_protect(&s, va, SZ_4K, RW | MMU_PROT_EXEC, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + 1, SZ_4K), -EINVAL);

	ref_dump_tables(rfmt, s.root, &after);
	KT_EXPECT(t, ref_dump_equal(&before, &after));
	KT_EXPECT_EQ(t, tlb_log.pages + tlb_log.alls, 0);
	ref_dump_free(&after);

	/* allowed on request */
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE + SZ_1G, 2 * SZ_4K, RO, MMU_REPLACE), 0);
	KT_EXPECT(t, maps(&s, va + SZ_4K, PA_FAKE + SZ_1G + SZ_4K, RO));
	KT_EXPECT(t, maps(&s, va + 2 * SZ_4K, PA_FAKE + 2 * SZ_4K, RW));
#ifdef CONFIG_MMU_DEBUG_ALLOW_WX
	KT_EXPECT_EQ(t, mmu_map(&s, 2 * SZ_1G, PA_FAKE, SZ_4K, RW | MMU_PROT_EXEC, MMU_ALLOW_WX), 0);
	KT_EXPECT(t, maps(&s, 2 * SZ_1G, PA_FAKE, RW | MMU_PROT_EXEC));
#else /* W^X holds unless built to debug without it: asking is not enough */
	KT_EXPECT_EQ(t, mmu_map(&s, 2 * SZ_1G, PA_FAKE, SZ_4K, RW | MMU_PROT_EXEC, MMU_ALLOW_WX),
		     -EINVAL);
	KT_EXPECT(t, !maps(&s, 2 * SZ_1G, PA_FAKE, RW | MMU_PROT_EXEC));
#endif
	ref_dump_free(&before);
	destroy_space(t, &s);
}

static void blocks_where_alignment_allows(struct ktest *t)
{
	struct mmu_space s;
	struct leaf_counts c;
	uint64_t va = SZ_1G, pa = 4 * SZ_1G;

	if (new_space(t, &s, 0))
		return;
	/* 4K + 2M + 1G + 2M + 8K, va and pa congruent */
	KT_ASSERT_EQ(t, mmu_map(&s, va - SZ_2M - SZ_4K, pa - SZ_2M - SZ_4K,
				SZ_4K + SZ_2M + SZ_1G + SZ_2M + 2 * SZ_4K, RW, 0), 0);
	c = leaves(&s);
	KT_EXPECT_EQ(t, c.n1g, 1);
	KT_EXPECT_EQ(t, c.n2m, 2);
	KT_EXPECT_EQ(t, c.n4k, 3);
	KT_EXPECT_EQ(t, leaf_size_at(&s, va + 12345 * SZ_4K), SZ_1G);
	KT_EXPECT(t, maps(&s, va + 0x3456789, pa + 0x3456789, RW));
	expect_accounting(t, &s);

	/* not congruent modulo 2 MiB: pages only; congruent modulo 2 MiB only: no 1G */
	KT_ASSERT_EQ(t, mmu_map(&s, 8 * SZ_1G, pa + SZ_4K, SZ_1G, RO, 0), 0);
	KT_ASSERT_EQ(t, mmu_map(&s, 16 * SZ_1G, pa + SZ_2M, SZ_1G, RO, 0), 0);
	KT_ASSERT_EQ(t, mmu_map(&s, 24 * SZ_1G, pa, SZ_1G, RO, MMU_NO_BLOCKS), 0);
	c = leaves(&s);
	KT_EXPECT_EQ(t, c.n1g, 1);
	KT_EXPECT_EQ(t, c.n2m, 2 + 512);
	KT_EXPECT_EQ(t, c.n4k, 3 + 2 * 512 * 512);
	KT_EXPECT(t, maps(&s, 8 * SZ_1G + 0x1ff000, pa + 0x200000, RO));
	expect_accounting(t, &s);
	KT_EXPECT_EQ(t, mmu_unmap(&s, 0, 32 * SZ_1G), 0);
	KT_EXPECT_EQ(t, s.nr_tables, 1);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

static void blocks_split_on_unmap_and_protect(struct ktest *t)
{
	struct mmu_space s;
	struct leaf_counts c;
	uint64_t va = SZ_1G, pa = 4 * SZ_1G, hole = va + 3 * SZ_2M + 5 * SZ_4K;

	if (new_space(t, &s, 0))
		return;
	KT_ASSERT_EQ(t, mmu_map(&s, va, pa, SZ_1G, RW | MMU_PROT_GLOBAL, 0), 0);
	KT_EXPECT_EQ(t, s.nr_tables, fmt->levels - 2);
	KT_EXPECT_EQ(t, mmu_unmap(&s, hole, SZ_4K), 0);
	c = leaves(&s);
	KT_EXPECT_EQ(t, c.n1g, 0);
	KT_EXPECT_EQ(t, c.n2m, 511);
	KT_EXPECT_EQ(t, c.n4k, 511);
	KT_EXPECT(t, unmapped(&s, hole));
	KT_EXPECT(t, maps(&s, hole - SZ_4K, pa + (hole - SZ_4K - va), RW | MMU_PROT_GLOBAL));
	KT_EXPECT(t, maps(&s, hole + SZ_4K, pa + (hole + SZ_4K - va), RW | MMU_PROT_GLOBAL));
	KT_EXPECT(t, maps(&s, va + SZ_1G - 1, pa + SZ_1G - 1, RW | MMU_PROT_GLOBAL));
	KT_EXPECT_EQ(t, s.nr_tables, fmt->levels);
	expect_accounting(t, &s);

	/* a whole 2M block re-protected in place; one page of another split out */
	KT_EXPECT_EQ(t, mmu_protect(&s, va + 10 * SZ_2M, SZ_2M, RO, 0), 0);
	KT_EXPECT_EQ(t, leaf_size_at(&s, va + 10 * SZ_2M), SZ_2M);
	KT_EXPECT(t, maps(&s, va + 10 * SZ_2M + 77, pa + 10 * SZ_2M + 77, RO));
	KT_EXPECT_EQ(t, mmu_protect(&s, va + 20 * SZ_2M + SZ_4K, SZ_4K, RX, 0), 0);
	KT_EXPECT(t, maps(&s, va + 20 * SZ_2M + SZ_4K, pa + 20 * SZ_2M + SZ_4K, RX));
	KT_EXPECT(t, maps(&s, va + 20 * SZ_2M, pa + 20 * SZ_2M, RW | MMU_PROT_GLOBAL));
	KT_EXPECT(t, maps(&s, va + 20 * SZ_2M + 2 * SZ_4K, pa + 20 * SZ_2M + 2 * SZ_4K,
			  RW | MMU_PROT_GLOBAL));
	c = leaves(&s);
	KT_EXPECT_EQ(t, c.n2m, 510);
	KT_EXPECT_EQ(t, c.n4k, 1023);
	/* a 2M block replaced by a page mapping */
	KT_EXPECT_EQ(t, mmu_map(&s, va + 30 * SZ_2M, PA_FAKE, SZ_4K, RO, MMU_REPLACE), 0);
	KT_EXPECT(t, maps(&s, va + 30 * SZ_2M, PA_FAKE, RO));
	KT_EXPECT(t, maps(&s, va + 30 * SZ_2M + SZ_4K, pa + 30 * SZ_2M + SZ_4K,
			  RW | MMU_PROT_GLOBAL));
	/* and the whole 1G mapped again as one block over everything: tables go */
	KT_EXPECT_EQ(t, mmu_map(&s, va, pa, SZ_1G, RO, MMU_REPLACE), 0);
	KT_EXPECT_EQ(t, leaf_size_at(&s, hole), SZ_1G);
	KT_EXPECT_EQ(t, s.nr_tables, fmt->levels - 2);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

static int first_va(uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot, void *arg)
{
	(void)pa, (void)size, (void)prot;
	if (!*(uint64_t *)arg)
		*(uint64_t *)arg = va;
	return 0;
}

static void upper_half(struct ktest *t)
{
	struct mmu_space s;
	uint64_t va = ~0ULL << (fmt->va_bits - (fmt->split_halves ? 0 : 1));
	uint64_t seen_va = 0;

	if (!fmt->split_halves) {
		KT_EXPECT_EQ(t, mmu_space_init(&s, fmt, NULL, MMU_SPACE_UPPER), -EINVAL);
		if (new_space(t, &s, 0))
			return;
	} else if (new_space(t, &s, MMU_SPACE_UPPER)) {
		return;
	}
	KT_EXPECT_EQ(t, mmu_map(&s, va + SZ_1G, 2 * SZ_1G, SZ_1G + SZ_2M, RW, 0), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, -SZ_4K, 0x80000000ULL, SZ_4K, RO, 0), 0);
	KT_EXPECT(t, maps(&s, va + SZ_1G + 0x1234, 2 * SZ_1G + 0x1234, RW));
	KT_EXPECT(t, maps(&s, -SZ_4K + 8, 0x80000008ULL, RO));
	KT_EXPECT_EQ(t, leaf_size_at(&s, va + SZ_1G), SZ_1G);
	KT_EXPECT_EQ(t, mmu_map(&s, va - SZ_4K, 0, SZ_4K, RO, 0), -EINVAL); /* below the half */
	if (fmt->split_halves)
		KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G, 0, SZ_4K, RO, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + SZ_1G, SZ_4K), 0);
	KT_EXPECT_EQ(t, tlb_log.last_va, va + SZ_1G);
	KT_EXPECT(t, unmapped(&s, va + SZ_1G));
	/* iterate reports full addresses */
	mmu_iterate(&s, first_va, &seen_va);
	KT_EXPECT_EQ(t, seen_va, va + SZ_1G + SZ_4K);
	destroy_space(t, &s);
}

static void tlb_flush_policy(struct ktest *t)
{
	struct mmu_space s;
	uint64_t va = 0x200000000ULL;

	if (new_space(t, &s, 0))
		return;
	KT_ASSERT_EQ(t, mmu_map(&s, va, PA_FAKE, 200 * SZ_4K, RW, 0), 0);
	KT_ASSERT_EQ(t, mmu_map(&s, va + SZ_1G, PA_FAKE, 2 * SZ_2M, RW, 0), 0);
	KT_EXPECT_EQ(t, tlb_log.pages + tlb_log.alls, 0); /* new entries need no flush */
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + 10 * SZ_4K, 4 * SZ_4K), 0);
	KT_EXPECT_EQ(t, tlb_log.pages, 4);
	KT_EXPECT_EQ(t, tlb_log.alls, 0);
	log_reset();
	KT_EXPECT_EQ(t, mmu_protect(&s, va + 20 * SZ_4K, MMU_FLUSH_THRESHOLD * SZ_4K, RO, 0), 0);
	KT_EXPECT_EQ(t, tlb_log.pages, MMU_FLUSH_THRESHOLD);
	KT_EXPECT_EQ(t, tlb_log.alls, 0);
	log_reset();
	KT_EXPECT_EQ(t, mmu_protect(&s, va + 40 * SZ_4K, (MMU_FLUSH_THRESHOLD + 1) * SZ_4K,
				     RO | MMU_PROT_USER, 0), 0);
	KT_EXPECT_EQ(t, tlb_log.pages, 0);
	KT_EXPECT_EQ(t, tlb_log.alls, 1);
	log_reset();
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + SZ_1G, SZ_2M), 0); /* one block: one flush */
	KT_EXPECT_EQ(t, tlb_log.pages, 1);
	KT_EXPECT_EQ(t, tlb_log.alls, 0);
	log_reset();
	KT_EXPECT_EQ(t, mmu_unmap(&s, va, 10 * SZ_4K), 0);
	KT_EXPECT_EQ(t, tlb_log.pages, 10);
	log_reset();
	KT_EXPECT_EQ(t, mmu_unmap(&s, va, 200 * SZ_4K), 0); /* tables freed: full flush */
	KT_EXPECT_EQ(t, tlb_log.alls, 1);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + SZ_1G, 2 * SZ_2M), 0);
	KT_EXPECT_EQ(t, s.nr_tables, 1);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

static void break_before_make(struct ktest *t)
{
	struct mmu_space s;
	uint64_t va = 0x200000000ULL, pa = 0x40000000ULL;

	if (new_space(t, &s, 0))
		return;
	KT_ASSERT_EQ(t, mmu_map(&s, va, pa, SZ_2M, RW, 0), 0);
	/* a split: arm64 sees the block invalid at its flush, Sv39 never */
	log_reset();
	KT_EXPECT_EQ(t, mmu_protect(&s, va + SZ_4K, SZ_4K, RO, 0), 0);
	KT_EXPECT_GE(t, tlb_log.pages, 1);
	KT_EXPECT_EQ(t, tlb_log.invalid_at_flush, rfmt == REF_ARM64 ? 1 : 0);
	KT_EXPECT(t, maps(&s, va, pa, RW));
	KT_EXPECT(t, maps(&s, va + SZ_4K, pa + SZ_4K, RO));
	/* permissions only: no break */
	log_reset();
	KT_EXPECT_EQ(t, mmu_protect(&s, va, SZ_4K, RO, 0), 0);
	KT_EXPECT_EQ(t, tlb_log.pages, 1);
	KT_EXPECT_EQ(t, tlb_log.invalid_at_flush, 0);
	/* memory type or output address: break on arm64 */
	log_reset();
	KT_EXPECT_EQ(t, mmu_protect(&s, va + 2 * SZ_4K, SZ_4K, RO | MMU_PROT_DEVICE, 0), 0);
	KT_EXPECT_EQ(t, tlb_log.invalid_at_flush, rfmt == REF_ARM64 ? 1 : 0);
	log_reset();
	KT_EXPECT_EQ(t, mmu_map(&s, va + 3 * SZ_4K, PA_FAKE, SZ_4K, RO, MMU_REPLACE), 0);
	KT_EXPECT_EQ(t, tlb_log.invalid_at_flush, rfmt == REF_ARM64 ? 1 : 0);
	KT_EXPECT(t, maps(&s, va + 3 * SZ_4K, PA_FAKE, RO));
	destroy_space(t, &s);
}

/* ---- the sync hook ------------------------------------------------------------ */

static void sync_after_new_entries(struct ktest *t)
{
	struct mmu_space s;
	uint64_t va = SZ_1G - 3 * SZ_2M - 5 * SZ_4K;

	if (new_space(t, &s, 0))
		return;
	/* a fresh range across tables and levels: one sync at the end, whatever was written */
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, SZ_1G + 7 * SZ_2M + 9 * SZ_4K, RW, MMU_NO_BLOCKS),
		     0);
	KT_EXPECT_EQ(t, tlb_log.syncs, 1);
	KT_EXPECT_EQ(t, tlb_log.pages + tlb_log.alls, 0);
	log_reset();
	KT_EXPECT_EQ(t, mmu_map(&s, 8 * SZ_1G, PA_FAKE, SZ_1G + SZ_2M, RW, 0), 0); /* blocks */
	KT_EXPECT_EQ(t, tlb_log.syncs, 1);
	/* failures write nothing: no sync */
	log_reset();
	KT_EXPECT_EQ(t, mmu_map(&s, va - SZ_4K, PA_FAKE, 2 * SZ_4K, RW, 0), -EEXIST);
	KT_EXPECT_EQ(t, mmu_map(&s, 8 * SZ_1G + SZ_1G, PA_FAKE, SZ_4K, RW, 0), -EEXIST);
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, SZ_4K, RW | MMU_PROT_EXEC, 0), -EINVAL);
	KT_EXPECT_EQ(t, mmu_protect(&s, va - SZ_4K, 2 * SZ_4K, RO, 0), -ENOENT);
	fail_after = 0;
	KT_EXPECT_EQ(t, mmu_map(&s, 20 * SZ_1G, PA_FAKE, SZ_4K, RW, 0), -ENOMEM);
	KT_EXPECT_EQ(t, mmu_unmap(&s, 8 * SZ_1G + 5 * SZ_4K, SZ_4K), -ENOMEM); /* a split */
	fail_after = -1;
	KT_EXPECT_EQ(t, tlb_log.syncs, 0);
	/* nothing made valid: no sync (arm64 breaks a block it splits: that one syncs) */
	KT_EXPECT_EQ(t, mmu_protect(&s, va, 16 * SZ_4K, RO, 0), 0);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va, 16 * SZ_4K), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 16 * SZ_4K, PA_FAKE + 16 * SZ_4K, 4 * SZ_4K, RW,
				MMU_REPLACE), 0); /* the same entries again */
	KT_EXPECT_EQ(t, tlb_log.syncs, 0);
	KT_EXPECT_EQ(t, mmu_unmap(&s, 8 * SZ_1G + 5 * SZ_4K, SZ_4K), 0);
	KT_EXPECT_EQ(t, tlb_log.syncs, fmt->break_before_make ? 1 : 0);
	/* page by page, as a heap does: one each */
	log_reset();
	for (int i = 0; i < 5; i++)
		KT_EXPECT_EQ(t, mmu_map(&s, va + i * SZ_4K, PA_FAKE, SZ_4K, RO, 0), 0);
	KT_EXPECT_EQ(t, tlb_log.syncs, 5);
	/* a space without the hook, and one without TLB ops */
	destroy_space(t, &s);
	{
		static const struct mmu_tlb_ops no_sync = { .flush_page = log_flush_page,
							    .flush_all = log_flush_all };

		memset(&s, 0, sizeof(s));
		s.alloc_table = test_alloc;
		s.free_table = test_free;
		KT_ASSERT_EQ(t, mmu_space_init(&s, fmt, &no_sync, 0), 0);
		KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, SZ_2M, RW, 0), 0);
		destroy_space(t, &s);
		KT_ASSERT_EQ(t, mmu_space_init(&s, fmt, NULL, 0), 0);
		KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, SZ_2M, RW, 0), 0);
		KT_EXPECT(t, maps(&s, va + SZ_2M - SZ_4K, PA_FAKE + SZ_2M - SZ_4K, RW));
		destroy_space(t, &s);
	}
}

/* ---- runs of pages in one last-level table (the fast path) -------------------- */

/* The entry of the last-level table that holds va (NULL: no such table). */
static pte_t *leaf_slot(struct mmu_space *s, uint64_t va)
{
	pte_t *tbl = phys_to_virt(s->root);
	uint64_t off = va & ((1ULL << fmt->va_bits) - 1);

	for (unsigned int level = 0;; level++) {
		unsigned int shift = 12 + 9 * (fmt->levels - 1 - level);
		pte_t *p = &tbl[(off >> shift) & (PTE_PER_TABLE - 1)];

		if (level == fmt->levels - 1)
			return p;
		if (fmt->kind(*p, level) != PTE_TABLE)
			return NULL;
		tbl = phys_to_virt(fmt->addr(*p));
	}
}

static bool range_maps(struct mmu_space *s, uint64_t va, uint64_t pa, unsigned int n,
		       unsigned int prot)
{
	for (unsigned int i = 0; i < n; i++)
		if (!maps(s, va + i * SZ_4K, pa + i * SZ_4K, prot))
			return false;
	return true;
}

static bool range_unmapped(struct mmu_space *s, uint64_t va, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!unmapped(s, va + i * SZ_4K))
			return false;
	return true;
}

static void page_runs_map(struct ktest *t)
{
	struct mmu_space s;
	struct ref_dump before, after;
	uint64_t va = 5 * SZ_1G, pa = PA_FAKE + 0x123000;

	if (new_space(t, &s, 0))
		return;
	/* a page amid a leaf table, then runs that reach it: refused, nothing changes */
	KT_ASSERT_EQ(t, mmu_map(&s, va + 300 * SZ_4K, pa, SZ_4K, RO, 0), 0);
	ref_dump_tables(rfmt, s.root, &before);
	log_reset();
	KT_EXPECT_EQ(t, mmu_map(&s, va, pa, SZ_2M, RW, MMU_NO_BLOCKS), -EEXIST);
	KT_EXPECT_EQ(t, mmu_map(&s, va - SZ_1G, pa, SZ_1G + 301 * SZ_4K, RW, MMU_NO_BLOCKS),
		     -EEXIST);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 300 * SZ_4K, pa, SZ_1G, RW, MMU_NO_BLOCKS), -EEXIST);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 299 * SZ_4K, pa, 2 * SZ_4K, RW, 0), -EEXIST);
	ref_dump_tables(rfmt, s.root, &after);
	KT_EXPECT(t, ref_dump_equal(&before, &after));
	KT_EXPECT_EQ(t, tlb_log.pages + tlb_log.alls + tlb_log.syncs, 0);
	ref_dump_free(&after);
	ref_dump_free(&before);
	/* the runs beside it in the existing table, then the table is full */
	KT_EXPECT_EQ(t, mmu_map(&s, va, pa, 300 * SZ_4K, RW, 0), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 301 * SZ_4K, pa + 301 * SZ_4K, 211 * SZ_4K, RW, 0), 0);
	KT_EXPECT(t, range_maps(&s, va, pa, 300, RW));
	KT_EXPECT(t, maps(&s, va + 300 * SZ_4K, pa, RO));
	KT_EXPECT(t, range_maps(&s, va + 301 * SZ_4K, pa + 301 * SZ_4K, 211, RW));
	KT_EXPECT_EQ(t, tlb_log.pages + tlb_log.alls, 0);
	/* new tables, whole (written, never zeroed) and in part (zeroed): nothing else mapped */
	KT_EXPECT_EQ(t, mmu_map(&s, va + SZ_2M + 7 * SZ_4K, pa, 3 * SZ_2M - 9 * SZ_4K, RX, 0), 0);
	KT_EXPECT(t, range_unmapped(&s, va + SZ_2M, 7));
	KT_EXPECT(t, range_maps(&s, va + SZ_2M + 7 * SZ_4K, pa, 3 * 512 - 9, RX));
	KT_EXPECT(t, range_unmapped(&s, va + 4 * SZ_2M - 2 * SZ_4K, 2));
	KT_EXPECT_EQ(t, leaf_size_at(&s, va + 2 * SZ_2M), SZ_4K);
	expect_accounting(t, &s);
	/* replacing a run partly mapped: the holes filled, the rest replaced */
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + 100 * SZ_4K, 50 * SZ_4K), 0);
	log_reset();
	KT_EXPECT_EQ(t, mmu_map(&s, va + 80 * SZ_4K, PA_FAKE, 100 * SZ_4K, RO | MMU_PROT_USER,
				MMU_REPLACE), 0);
	KT_EXPECT(t, range_maps(&s, va + 80 * SZ_4K, PA_FAKE, 100, RO | MMU_PROT_USER));
	KT_EXPECT(t, range_maps(&s, va + 79 * SZ_4K, pa + 79 * SZ_4K, 1, RW));
	KT_EXPECT(t, range_maps(&s, va + 180 * SZ_4K, pa + 180 * SZ_4K, 1, RW));
	/* 50 live entries changed address: one full flush, or (arm64) a break and flush each */
	if (fmt->break_before_make) {
		KT_EXPECT_EQ(t, tlb_log.pages, 50);
		KT_EXPECT_EQ(t, tlb_log.invalid_at_flush, 50);
	} else {
		KT_EXPECT_EQ(t, tlb_log.alls, 1);
	}
	KT_EXPECT_EQ(t, tlb_log.syncs, 1);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

/* Runs of whole 2 MiB entries: absent ones become blocks, the others go one by one. */
static void block_runs(struct ktest *t)
{
	struct mmu_space s;
	struct leaf_counts c;
	uint64_t va = 7 * SZ_1G + 64 * SZ_2M, pa = PA_FAKE + 32 * SZ_2M;
	uint64_t page = va + 5 * SZ_2M + SZ_4K;
	uint64_t tables;

	if (new_space(t, &s, 0))
		return;
	KT_ASSERT_EQ(t, mmu_map(&s, page, PA_FAKE, SZ_4K, RO, 0), 0);
	tables = s.nr_tables;
	log_reset();
	KT_EXPECT_EQ(t, mmu_map(&s, va, pa, 16 * SZ_2M, RW, 0), -EEXIST);
	KT_EXPECT_EQ(t, tlb_log.syncs, 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va, pa, 5 * SZ_2M, RW, 0), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 6 * SZ_2M, pa + 6 * SZ_2M, 10 * SZ_2M, RW, 0), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 5 * SZ_2M, pa + 5 * SZ_2M, SZ_4K, RW, 0), 0);
	c = leaves(&s);
	KT_EXPECT_EQ(t, c.n2m, 15);
	KT_EXPECT_EQ(t, c.n4k, 2);
	KT_EXPECT_EQ(t, s.nr_tables, tables);
	KT_EXPECT(t, maps(&s, va + 15 * SZ_2M + 0x1234, pa + 15 * SZ_2M + 0x1234, RW));
	KT_EXPECT(t, maps(&s, page, PA_FAKE, RO));
	/* replaced whole: blocks over blocks, a block over the table (which goes), over absent */
	log_reset();
	KT_EXPECT_EQ(t, mmu_map(&s, va, PA_FAKE, 17 * SZ_2M, RX, MMU_REPLACE), 0);
	c = leaves(&s);
	KT_EXPECT_EQ(t, c.n2m, 17);
	KT_EXPECT_EQ(t, c.n4k, 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables - 1);
	KT_EXPECT(t, maps(&s, page, PA_FAKE + 5 * SZ_2M + SZ_4K, RX));
	KT_EXPECT(t, maps(&s, va + 16 * SZ_2M, PA_FAKE + 16 * SZ_2M, RX));
	KT_EXPECT_GE(t, tlb_log.alls, 1);
	expect_accounting(t, &s);
	/* unmapped whole: blocks, a table of pages, a split block, holes: every table goes */
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + 3 * SZ_2M, SZ_2M), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, va + 3 * SZ_2M + 8 * SZ_4K, pa, 4 * SZ_4K, RW, 0), 0);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + 4 * SZ_2M + SZ_4K, SZ_4K), 0); /* a split */
	KT_EXPECT_EQ(t, s.nr_tables, tables + 1);
	log_reset();
	KT_EXPECT_EQ(t, mmu_unmap(&s, va - SZ_2M, 19 * SZ_2M), 0);
	KT_EXPECT(t, range_unmapped(&s, va + 3 * SZ_2M + 8 * SZ_4K, 4));
	KT_EXPECT(t, range_unmapped(&s, va + 4 * SZ_2M, 512));
	KT_EXPECT(t, unmapped(&s, va + 16 * SZ_2M + 0x1ff000));
	KT_EXPECT_EQ(t, s.nr_tables, 1);
	KT_EXPECT_EQ(t, tlb_log.syncs, 0);
	KT_EXPECT_EQ(t, tlb_log.alls, 1);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

static void page_runs_unmap(struct ktest *t)
{
	struct mmu_space s;
	uint64_t va = 6 * SZ_1G, pa = PA_FAKE;
	uint64_t tables;
	pte_t *slot, saved;

	if (new_space(t, &s, 0))
		return;
	KT_ASSERT_EQ(t, mmu_map(&s, va, pa, 4 * SZ_2M, RW, MMU_NO_BLOCKS), 0);
	tables = s.nr_tables;
	/* part of a table: it stays; the rest of it: it goes */
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + SZ_4K, 510 * SZ_4K), 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables);
	KT_EXPECT(t, maps(&s, va, pa, RW));
	KT_EXPECT(t, maps(&s, va + 511 * SZ_4K, pa + 511 * SZ_4K, RW));
	KT_EXPECT(t, range_unmapped(&s, va + SZ_4K, 510));
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + 511 * SZ_4K, SZ_4K), 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va, SZ_4K), 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables - 1);
	/* a malformed entry in a run is left alone, and keeps its table */
	slot = leaf_slot(&s, va + SZ_2M + 5 * SZ_4K);
	KT_ASSERT(t, slot != NULL);
	saved = *slot;
	*slot = saved & ~1ULL; /* valid bit clear in both formats, the rest kept */
	KT_EXPECT_EQ(t, fmt->kind(*slot, fmt->levels - 1), PTE_INVALID);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + SZ_2M, SZ_2M), 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables - 1);
	KT_EXPECT_EQ(t, *slot, saved & ~1ULL);
	KT_EXPECT(t, range_unmapped(&s, va + SZ_2M, 512));
	/* and a map over it takes it as absent */
	KT_EXPECT_EQ(t, mmu_map(&s, va + SZ_2M, pa, SZ_2M, RO, MMU_NO_BLOCKS), 0);
	KT_EXPECT(t, range_maps(&s, va + SZ_2M, pa, 512, RO));
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + SZ_2M, SZ_2M), 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables - 2);
	/* page by page, up and down: each table goes with its last page */
	for (unsigned int i = 0; i < 512; i++)
		KT_EXPECT_EQ(t, mmu_unmap(&s, va + 2 * SZ_2M + i * SZ_4K, SZ_4K), 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables - 3);
	for (unsigned int i = 512; i-- > 1;)
		KT_EXPECT_EQ(t, mmu_unmap(&s, va + 3 * SZ_2M + i * SZ_4K, SZ_4K), 0);
	KT_EXPECT_EQ(t, s.nr_tables, tables - 3);
	KT_EXPECT_EQ(t, mmu_unmap(&s, va + 3 * SZ_2M, SZ_4K), 0);
	KT_EXPECT_EQ(t, s.nr_tables, 1);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

/* ---- out of memory at every allocation point --------------------------------- */

typedef int (*op_fn)(struct mmu_space *s);

static int oom_map_fresh(struct mmu_space *s)
{
	/* across a 1G boundary, pa congruent mod 2M: new tables at every level */
	return mmu_map(s, 3 * SZ_1G - SZ_2M - 3 * SZ_4K, PA_FAKE - SZ_2M - 3 * SZ_4K,
		       2 * SZ_2M + 6 * SZ_4K, RW, 0);
}

static int oom_map_far(struct mmu_space *s)
{
	return mmu_map(s, (1ULL << (fmt->va_bits - 1)) - 5 * SZ_1G - 5 * SZ_4K, PA_FAKE,
		       16 * SZ_2M + 10 * SZ_4K, RO, 0);
}

static int oom_unmap_in_block(struct mmu_space *s)
{
	return mmu_unmap(s, 5 * SZ_1G + 7 * SZ_2M + 3 * SZ_4K, SZ_4K);
}

static int oom_protect_in_blocks(struct mmu_space *s)
{
	return mmu_protect(s, 5 * SZ_1G - SZ_4K, 2 * SZ_4K, RO, 0);
}

static int oom_replace(struct mmu_space *s)
{
	return mmu_map(s, 5 * SZ_1G + SZ_2M - SZ_4K, PA_FAKE, 3 * SZ_4K, RO, MMU_REPLACE);
}

static void oom_case(struct ktest *t, const char *name, op_fn op)
{
	struct mmu_space s;
	struct ref_dump before, after;
	unsigned long failures = 0;
	uint64_t tables0;
	int ret;

	if (new_space(t, &s, 0))
		return;
	/* the setting: a 1G block at 5G, pages below it, a 2M block at 4G */
	KT_ASSERT_EQ(t, mmu_map(&s, 5 * SZ_1G, 8 * SZ_1G, SZ_1G, RW, 0), 0);
	KT_ASSERT_EQ(t, mmu_map(&s, 5 * SZ_1G - 4 * SZ_4K, PA_FAKE, 4 * SZ_4K, RW, 0), 0);
	KT_ASSERT_EQ(t, mmu_map(&s, 4 * SZ_1G, 2 * SZ_1G, SZ_2M, RW, 0), 0);
	ref_dump_tables(rfmt, s.root, &before);
	tables0 = s.nr_tables;
	for (long n = 0;; n++) {
		uint64_t free_before = buddy_free_frames(), tables = s.nr_tables;

		fail_after = n;
		log_reset();
		ret = op(&s);
		fail_after = -1;
		if (ret != -ENOMEM)
			break;
		failures++;
		ref_dump_tables(rfmt, s.root, &after);
		KT_EXPECT(t, ref_dump_equal(&before, &after));
		ref_dump_free(&after);
		KT_EXPECT_EQ(t, buddy_free_frames(), free_before);
		KT_EXPECT_EQ(t, s.nr_tables, tables);
		KT_EXPECT_EQ(t, tlb_log.pages + tlb_log.alls, 0);
		if (n > 200)
			break;
	}
	KT_EXPECT_EQ(t, ret, 0);
	KT_EXPECT_GE(t, failures, 1);
	/* the dry pass counted exactly what the commit used (none of these ops frees a table) */
	KT_EXPECT_EQ(t, failures, s.nr_tables - tables0);
	ktest_log(t, "%s: %lu allocation points failed, tables unchanged each time", name,
		  failures);
	expect_accounting(t, &s);
	ref_dump_free(&before);
	destroy_space(t, &s);
}

static void oom_at_every_allocation(struct ktest *t)
{
	oom_case(t, "map", oom_map_fresh);
	oom_case(t, "map far", oom_map_far);
	oom_case(t, "unmap in block", oom_unmap_in_block);
	oom_case(t, "protect in blocks", oom_protect_in_blocks);
	oom_case(t, "replace in block", oom_replace);
}

static void oom_space_init(struct ktest *t)
{
	struct mmu_space s = { .alloc_table = test_alloc, .free_table = test_free };

	fail_after = 0;
	KT_EXPECT_EQ(t, mmu_space_init(&s, fmt, NULL, 0), -ENOMEM);
	fail_after = -1;
	KT_EXPECT_EQ(t, buddy_free_frames(), free0);
}

/* ---- randomized against a per-page model ------------------------------------ */

#define WIN_PAGES 4096 /* 16 MiB */
#define WIN_VA (3 * SZ_1G - 4 * SZ_2M) /* across a 1G boundary */

struct model_page {
	bool mapped;
	uint64_t pa;
	unsigned int prot;
};

static struct model_page model[WIN_PAGES], model_saved[WIN_PAGES];

static unsigned int random_prot(uint64_t *rng)
{
	static const unsigned int prots[] = {
		RO,
		RW,
		RX,
		RO | MMU_PROT_USER,
		RW | MMU_PROT_USER | MMU_PROT_GLOBAL,
		RX | MMU_PROT_USER,
		RW | MMU_PROT_DEVICE,
		RO | MMU_PROT_GLOBAL,
	};

	return prots[test_rand(rng) % ARRAY_SIZE(prots)];
}

static void random_range(uint64_t *rng, unsigned int *first, unsigned int *n)
{
	unsigned int a = test_rand(rng) % WIN_PAGES, len;

	switch (test_rand(rng) % 4) {
	case 0:
		len = 1 + test_rand(rng) % 8;
		break;
	case 1:
		len = 1 + test_rand(rng) % 1024;
		break;
	default:
		a &= ~511u;
		len = 512 * (1 + test_rand(rng) % 3) + (test_rand(rng) % 2 ? 0 : test_rand(rng) % 5);
		break;
	}
	if (a + len > WIN_PAGES)
		len = WIN_PAGES - a;
	*first = a;
	*n = len;
}

static bool model_matches(struct ktest *t, struct mmu_space *s, unsigned int step)
{
	for (unsigned int i = 0; i < WIN_PAGES; i++) {
		uint64_t va = WIN_VA + (uint64_t)i * SZ_4K;
		struct ref_leaf l;
		const char *why = "";
		int r = ref_walk(rfmt, s->root, va, &l, &why);
		bool ok = model[i].mapped ? r == 0 && l.pa == model[i].pa &&
						    l.prot == model[i].prot
					  : r == REF_UNMAPPED;

		if (!ok) {
			ktest_log(t, "step %u: page %u: model %d %#llx %#x, tables %d %#llx %#x %s",
				  step, i, model[i].mapped, (unsigned long long)model[i].pa,
				  model[i].prot, r, (unsigned long long)l.pa, l.prot, why);
			return false;
		}
	}
	return unmapped(s, WIN_VA - SZ_4K) && unmapped(s, WIN_VA + WIN_PAGES * SZ_4K);
}

/* Each leaf mmu_iterate() reports, as the reference walker sees it at both its ends. */
struct iter_check {
	struct mmu_space *s;
	uint64_t bytes, prev_end;
	unsigned long bad;
};

static int check_leaf(uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot, void *arg)
{
	struct iter_check *c = arg;
	struct ref_leaf a, b;

	if (va < c->prev_end || ref_walk(rfmt, c->s->root, va, &a, NULL) ||
	    ref_walk(rfmt, c->s->root, va + size - 1, &b, NULL) || a.pa != pa || a.size != size ||
	    a.prot != prot || b.pa != pa + size - 1)
		c->bad++;
	c->bytes += size;
	c->prev_end = va + size;
	return 0;
}

static void random_against_model(struct ktest *t)
{
	struct mmu_space s;
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ fmt->levels;
	unsigned long blocks_seen = 0, ok_ops = 0, ooms = 0;

	if (new_space(t, &s, 0))
		return;
	memset(model, 0, sizeof(model));
	for (unsigned int step = 0; step < 1500; step++) {
		unsigned int first, n, prot = random_prot(&rng), op = test_rand(&rng) % 3;
		uint64_t va;
		bool any_mapped = false, all_mapped = true;
		bool inject = test_rand(&rng) % 8 == 0;
		struct ref_dump before;
		int ret, want;

		/* now and then, a table allocation fails part-way: nothing may change */
		if (inject) {
			ref_dump_tables(rfmt, s.root, &before);
			memcpy(model_saved, model, sizeof(model));
			fail_after = test_rand(&rng) % 3;
		}
		random_range(&rng, &first, &n);
		va = WIN_VA + (uint64_t)first * SZ_4K;
		for (unsigned int i = first; i < first + n; i++) {
			any_mapped |= model[i].mapped;
			all_mapped &= model[i].mapped;
		}
		log_reset();
		if (op == 0) {
			bool replace = test_rand(&rng) % 3 == 0;
			/* congruent with va mod 2M most of the time, so blocks happen */
			uint64_t pa = PA_FAKE + (test_rand(&rng) % 64) * SZ_2M +
				      (va & (SZ_2M - 1)) +
				      (test_rand(&rng) % 4 == 0 ? SZ_4K : 0);
			unsigned int flags = (replace ? MMU_REPLACE : 0) |
					     (test_rand(&rng) % 4 == 0 ? MMU_NO_BLOCKS : 0);

			ret = mmu_map(&s, va, pa, (uint64_t)n * SZ_4K, prot, flags);
			want = any_mapped && !replace ? -EEXIST : 0;
			if (!want)
				for (unsigned int i = 0; i < n; i++)
					model[first + i] = (struct model_page){
						true, pa + (uint64_t)i * SZ_4K, prot & fmt->prot_mask
					};
		} else if (op == 1) {
			ret = mmu_unmap(&s, va, (uint64_t)n * SZ_4K);
			want = 0;
			for (unsigned int i = first; i < first + n; i++)
				model[i].mapped = false;
		} else {
			ret = mmu_protect(&s, va, (uint64_t)n * SZ_4K, prot, 0);
			want = all_mapped ? 0 : -ENOENT;
			if (!want)
				for (unsigned int i = first; i < first + n; i++)
					model[i].prot = prot & fmt->prot_mask;
		}
		fail_after = -1;
		if (inject) {
			if (ret == -ENOMEM && !want) {
				struct ref_dump after;

				ref_dump_tables(rfmt, s.root, &after);
				KT_EXPECT(t, ref_dump_equal(&before, &after));
				ref_dump_free(&after);
				memcpy(model, model_saved, sizeof(model));
				want = -ENOMEM;
				ooms++;
			}
			ref_dump_free(&before);
		}
		if (ret != want) {
			ktest_log(t, "step %u: op %u [%u, +%u) returned %d, expected %d", step, op,
				  first, n, ret, want);
			KT_EXPECT_EQ(t, ret, want);
			break;
		}
		/*
		 * A map that filled a hole made it visible: with the sync, or with
		 * the flush of the live entry it replaced (a table by a block).
		 * None after a failure; otherwise only a break-before-make makes an
		 * entry valid again.
		 */
		if (!ret && op == 0 && !all_mapped)
			KT_EXPECT(t, tlb_log.syncs == 1 || tlb_log.pages + tlb_log.alls > 0);
		else if (ret || !fmt->break_before_make)
			KT_EXPECT_EQ(t, tlb_log.syncs, 0);
		KT_EXPECT_LE(t, tlb_log.syncs, 1);
		ok_ops += !ret;
		if (ret == -ENOMEM)
			expect_accounting(t, &s);
		if (!model_matches(t, &s, step)) {
			KT_EXPECT(t, false);
			break;
		}
		for (unsigned int i = 0; i < WIN_PAGES; i += 512)
			blocks_seen += leaf_size_at(&s, WIN_VA + (uint64_t)i * SZ_4K) == SZ_2M;
	}
	expect_accounting(t, &s);
	{
		struct iter_check c = { .s = &s };
		uint64_t model_bytes = 0;

		for (unsigned int i = 0; i < WIN_PAGES; i++)
			model_bytes += model[i].mapped ? SZ_4K : 0;
		KT_EXPECT_EQ(t, mmu_iterate(&s, check_leaf, &c), 0);
		KT_EXPECT_EQ(t, c.bad, 0);
		KT_EXPECT_EQ(t, c.bytes, model_bytes);
	}
	ktest_log(t, "%lu operations succeeded, %lu failed for want of table pages (nothing changed),"
		  " %lu 2M block sightings", ok_ops, ooms, blocks_seen);
	KT_EXPECT_GT(t, ooms, 0);
	KT_EXPECT_GT(t, blocks_seen, 0);
	KT_EXPECT_EQ(t, mmu_unmap(&s, WIN_VA, WIN_PAGES * SZ_4K), 0);
	KT_EXPECT_EQ(t, s.nr_tables, 1);
	expect_accounting(t, &s);
	destroy_space(t, &s);
}

static void tables_return_to_buddy(struct ktest *t)
{
	struct mmu_space s;
	uint64_t rng = 12345;

	if (new_space(t, &s, 0))
		return;
	for (int i = 0; i < 200; i++) {
		uint64_t va = (test_rand(&rng) % (1ULL << (fmt->va_bits - 13))) * SZ_4K;

		mmu_map(&s, va, PA_FAKE, SZ_4K * (1 + i % 3), RO, MMU_REPLACE);
	}
	KT_EXPECT_GT(t, s.nr_tables, 100);
	expect_accounting(t, &s);
	rng = 12345;
	for (int i = 0; i < 200; i++) {
		uint64_t va = (test_rand(&rng) % (1ULL << (fmt->va_bits - 13))) * SZ_4K;

		KT_EXPECT_EQ(t, mmu_unmap(&s, va, SZ_4K * (1 + i % 3)), 0);
	}
	KT_EXPECT_EQ(t, s.nr_tables, 1);
	KT_EXPECT_EQ(t, buddy_free_frames(), free0 - 1);
	mmu_space_destroy(&s);
	KT_EXPECT_EQ(t, buddy_free_frames(), free0);
	/* destroy with everything still mapped frees it all too */
	if (new_space(t, &s, 0))
		return;
	KT_EXPECT_EQ(t, mmu_map(&s, SZ_1G + SZ_4K, PA_FAKE, 3 * SZ_2M, RW, 0), 0);
	KT_EXPECT_EQ(t, mmu_map(&s, 40 * SZ_1G, PA_FAKE, SZ_4K, RW, 0), 0);
	destroy_space(t, &s);
}

/* ---- suites ------------------------------------------------------------------- */

static int fresh(struct ktest *t)
{
	arena_machine(&m, ram, 1);
	if (buddy_init(&m) < 0) {
		ktest_log(t, "buddy_init failed");
		return -1;
	}
	free0 = buddy_free_frames();
	return 0;
}

static int fresh_sv39(struct ktest *t)
{
	fmt = &pte_format_sv39;
	rfmt = REF_SV39;
	return fresh(t);
}

static int fresh_sv48(struct ktest *t)
{
	fmt = &pte_format_sv48;
	rfmt = REF_SV48;
	return fresh(t);
}

static int fresh_sv57(struct ktest *t)
{
	fmt = &pte_format_sv57;
	rfmt = REF_SV57;
	return fresh(t);
}

static int fresh_arm64(struct ktest *t)
{
	fmt = &pte_format_arm64;
	rfmt = REF_ARM64;
	return fresh(t);
}

static void done(struct ktest *t)
{
	KT_EXPECT_EQ(t, buddy_free_frames(), free0);
	arena_unmap();
}

static const struct ktest_case cases[] = {
	KTEST_CASE(map_translate_unmap),
	KTEST_CASE(bad_arguments_change_nothing),
	KTEST_CASE(blocks_where_alignment_allows),
	KTEST_CASE(blocks_split_on_unmap_and_protect),
	KTEST_CASE(upper_half),
	KTEST_CASE(tlb_flush_policy),
	KTEST_CASE(break_before_make),
	KTEST_CASE(sync_after_new_entries),
	KTEST_CASE(page_runs_map),
	KTEST_CASE(block_runs),
	KTEST_CASE(page_runs_unmap),
	KTEST_CASE(oom_at_every_allocation),
	KTEST_CASE(oom_space_init),
	KTEST_CASE(random_against_model),
	KTEST_CASE(tables_return_to_buddy),
	{ 0 },
};

static const struct ktest_suite sv39_suite = {
	.name = "mmu_sv39", .cases = cases, .init = fresh_sv39, .exit = done,
};
static const struct ktest_suite sv48_suite = {
	.name = "mmu_sv48", .cases = cases, .init = fresh_sv48, .exit = done,
};
static const struct ktest_suite sv57_suite = {
	.name = "mmu_sv57", .cases = cases, .init = fresh_sv57, .exit = done,
};
static const struct ktest_suite arm64_suite = {
	.name = "mmu_arm64", .cases = cases, .init = fresh_arm64, .exit = done,
};

const struct ktest_suite *const test_suites[] = { &sv39_suite, &sv48_suite, &sv57_suite,
						    &arm64_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
