// SPDX-License-Identifier: MIT
/*
 * The boot allocator over hand-made maps (so every expected address can be
 * worked out by reading the test) and over one built from a DTB.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/bootmem.h>
#include <stdlib.h>
#include <string.h>

#include "dtb_load.h"

static struct memmap m, before;

#define BANK0 0x80000000ULL /* 16 MiB */
#define BANK1 0x100000000ULL /* 8 MiB */
#define TOP (BANK1 + 0x800000)

/* RAM = usable = two banks, nothing reserved. */
static int fresh_map(struct ktest *t)
{
	memset(&m, 0, sizeof(m));
	m.ram[0] = m.usable[0] = (struct mem_range){ BANK0, 0x1000000 };
	m.ram[1] = m.usable[1] = (struct mem_range){ BANK1, 0x800000 };
	m.nr_ram = m.nr_usable = 2;
	(void)t;
	return 0;
}

static unsigned int count_kind(uint32_t kind)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < m.nr_resv; i++)
		n += m.resv[i].kind == kind;
	return n;
}

static bool usable_has(uint64_t base, uint64_t size)
{
	for (unsigned int i = 0; i < m.nr_usable; i++) {
		if (m.usable[i].base == base && m.usable[i].size == size)
			return true;
	}
	return false;
}

static void allocates_top_down(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, TOP - PAGE_SIZE);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, 2 * PAGE_SIZE, PAGE_SIZE, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, TOP - 3 * PAGE_SIZE);
	KT_EXPECT_EQ(t, bootmem_allocated(&m), 3 * PAGE_SIZE);
	KT_EXPECT(t, usable_has(BANK1, 0x800000 - 3 * PAGE_SIZE));
	KT_EXPECT_EQ(t, m.nr_usable, 2);
	/* the two allocations touch: one early region */
	KT_ASSERT_EQ(t, m.nr_resv, 1);
	KT_EXPECT_EQ(t, m.resv[0].kind, RESV_EARLY);
	KT_EXPECT_EQ(t, m.resv[0].base, TOP - 3 * PAGE_SIZE);
	KT_EXPECT_EQ(t, m.resv[0].size, 3 * PAGE_SIZE);
	KT_EXPECT_STREQ(t, m.resv[0].name, "early");
}

static void size_rounds_up_to_pages(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, bootmem_alloc(&m, 1, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, TOP - PAGE_SIZE);
	KT_EXPECT_EQ(t, bootmem_allocated(&m), PAGE_SIZE);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE + 1, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, TOP - 3 * PAGE_SIZE);
	KT_EXPECT_EQ(t, bootmem_allocated(&m), 3 * PAGE_SIZE);
}

static void alignment_and_early_regions_merging(struct ktest *t)
{
	phys_addr_t a, b, c;

	/* 2 MiB aligned: the highest such spot leaves a gap above it */
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, SZ_2M, BOOTMEM_NO_LIMIT, &a), 0);
	KT_EXPECT_EQ(t, a, TOP - SZ_2M);
	KT_EXPECT(t, usable_has(a + PAGE_SIZE, SZ_2M - PAGE_SIZE));
	KT_EXPECT_EQ(t, m.nr_usable, 3);
	/* next one comes from that gap's top: not adjacent, two early regions */
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &b), 0);
	KT_EXPECT_EQ(t, b, TOP - PAGE_SIZE);
	KT_EXPECT_EQ(t, count_kind(RESV_EARLY), 2);
	/* filling the gap exactly joins all three into one */
	KT_ASSERT_EQ(t, bootmem_alloc(&m, SZ_2M - 2 * PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &c), 0);
	KT_EXPECT_EQ(t, c, a + PAGE_SIZE);
	KT_ASSERT_EQ(t, count_kind(RESV_EARLY), 1);
	KT_EXPECT_EQ(t, m.resv[0].base, TOP - SZ_2M);
	KT_EXPECT_EQ(t, m.resv[0].size, SZ_2M);
	KT_EXPECT_EQ(t, m.nr_usable, 2);
	KT_EXPECT_EQ(t, bootmem_allocated(&m), SZ_2M);

	/* an alignment bigger than any range fits nowhere but at a range start */
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, SZ_1G, BOOTMEM_NO_LIMIT, &a), 0);
	KT_EXPECT_EQ(t, a, BANK1);
}

static void limit_is_respected(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BANK0 + 0x800000, &pa), 0);
	KT_EXPECT_EQ(t, pa, BANK0 + 0x800000 - PAGE_SIZE);
	/* a limit inside a page: the allocation still ends at or below it */
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BANK0 + 0x400800, &pa), 0);
	KT_EXPECT_EQ(t, pa, BANK0 + 0x3ff000);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BANK0 + PAGE_SIZE, &pa), 0);
	KT_EXPECT_EQ(t, pa, BANK0);
	before = m;
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BANK0 + PAGE_SIZE, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BANK0 + 0xfff, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, 1, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, memcmp(&m, &before, sizeof(m)), 0);
}

/*
 * A ceiling (arm64: the 512 GiB its boot page tables map) holds for every
 * later block, under whatever limit a caller gives, until it is lifted.
 */
static void ceiling_holds_every_later_block(struct ktest *t)
{
	phys_addr_t pa;

	bootmem_set_ceiling(BANK1 + 0x100000);
	KT_EXPECT_EQ(t, bootmem_ceiling(), BANK1 + 0x100000);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, BANK1 + 0x100000 - PAGE_SIZE); /* not TOP - PAGE_SIZE */
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BANK0 + 0x10000, &pa), 0);
	KT_EXPECT_EQ(t, pa, BANK0 + 0x10000 - PAGE_SIZE); /* a lower limit still wins */
	bootmem_set_ceiling(BANK1);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, 2 * PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, BANK0 + 0x1000000 - 2 * PAGE_SIZE); /* bank 1 is above it: bank 0's top */
	bootmem_set_ceiling(BOOTMEM_NO_LIMIT);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, TOP - PAGE_SIZE);
}

/*
 * RAM at physical 0 (Raspberry Pi, ZynqMP): 0 is an address like any
 * other, as a block handed out and as a limit (which no block ends by).
 */
static void ram_at_physical_zero(struct ktest *t)
{
	phys_addr_t pa = 1;

	memset(&m, 0, sizeof(m));
	m.ram[0] = m.usable[0] = (struct mem_range){ 0, 0x100000 };
	m.nr_ram = m.nr_usable = 1;
	before = m;
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, 0, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, memcmp(&m, &before, sizeof(m)), 0);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, PAGE_SIZE, &pa), 0);
	KT_EXPECT_EQ(t, pa, 0);
	KT_EXPECT_EQ(t, bootmem_allocated(&m), PAGE_SIZE);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, 0x100000 - PAGE_SIZE);
	KT_EXPECT(t, usable_has(PAGE_SIZE, 0x100000 - 2 * PAGE_SIZE));
}

static void exhaustion_fails_cleanly(struct ktest *t)
{
	phys_addr_t pa, last = 0x1234;
	unsigned int n = 0;

	while (bootmem_alloc(&m, 0x100000, 0, BOOTMEM_NO_LIMIT, &pa) == 0) {
		KT_EXPECT(t, last == 0x1234 || pa < last);
		last = pa;
		n++;
	}
	KT_EXPECT_EQ(t, n, 24);
	KT_EXPECT_EQ(t, last, BANK0);
	KT_EXPECT_EQ(t, m.nr_usable, 0);
	KT_EXPECT_EQ(t, bootmem_allocated(&m), 24 * 0x100000);
	KT_EXPECT_EQ(t, count_kind(RESV_EARLY), 2); /* one per bank */
	before = m;
	pa = 0x1234;
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, pa, 0x1234);
	KT_EXPECT_EQ(t, memcmp(&m, &before, sizeof(m)), 0);
}

static void bad_arguments_change_nothing(struct ktest *t)
{
	phys_addr_t pa = 0x1234;

	before = m;
	KT_EXPECT_EQ(t, bootmem_alloc(&m, 0, 0, BOOTMEM_NO_LIMIT, &pa), -EINVAL);
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 3 * PAGE_SIZE, BOOTMEM_NO_LIMIT, &pa),
		     -EINVAL);
	KT_EXPECT_EQ(t, bootmem_alloc(&m, UINT64_MAX - 5, 0, BOOTMEM_NO_LIMIT, &pa), -EINVAL);
	KT_EXPECT_EQ(t, bootmem_alloc(&m, 0x1000001, 0, BOOTMEM_NO_LIMIT, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, bootmem_reserve(&m, BANK0, 0, RESV_RESERVED, "x"), -EINVAL);
	KT_EXPECT_EQ(t, bootmem_reserve(&m, UINT64_MAX - 0xfff, 0x2000, RESV_RESERVED, "x"),
		     -EINVAL);
	KT_EXPECT_EQ(t, pa, 0x1234);
	KT_EXPECT_EQ(t, memcmp(&m, &before, sizeof(m)), 0);
}

static void reserve_carves_whole_pages(struct ktest *t)
{
	KT_ASSERT_EQ(t, bootmem_reserve(&m, BANK0 + 0x100000, 0x1000, RESV_RESERVED, "fw"), 0);
	KT_EXPECT(t, usable_has(BANK0, 0x100000));
	KT_EXPECT(t, usable_has(BANK0 + 0x101000, 0x1000000 - 0x101000));
	/* not page-aligned: the pages it touches go */
	KT_ASSERT_EQ(t, bootmem_reserve(&m, BANK0 + 0x200800, 0x1000, RESV_KERNEL, NULL), 0);
	KT_EXPECT(t, usable_has(BANK0 + 0x101000, 0xff000));
	KT_EXPECT(t, usable_has(BANK0 + 0x202000, 0x1000000 - 0x202000));
	/* straddling the hole between the banks */
	KT_ASSERT_EQ(t, bootmem_reserve(&m, BANK0 + 0xff0000, BANK1 + 0x10000 - (BANK0 + 0xff0000),
					RESV_RESERVED, "straddle"), 0);
	KT_EXPECT(t, usable_has(BANK0 + 0x202000, 0xff0000 - 0x202000));
	KT_EXPECT(t, usable_has(BANK1 + 0x10000, 0x800000 - 0x10000));
	/* outside RAM: listed, nothing else changes */
	unsigned int nr_usable = m.nr_usable;
	KT_ASSERT_EQ(t, bootmem_reserve(&m, 0x40000000, 0x1000, RESV_RESERVED, "mmio"), 0);
	KT_EXPECT_EQ(t, m.nr_usable, nr_usable);

	KT_ASSERT_EQ(t, m.nr_resv, 4);
	KT_EXPECT_EQ(t, m.resv[0].base, 0x40000000); /* sorted by base */
	KT_EXPECT_STREQ(t, m.resv[0].name, "mmio");
	KT_EXPECT_STREQ(t, m.resv[1].name, "fw");
	KT_EXPECT_STREQ(t, m.resv[2].name, "kernel"); /* no name: the kind's */
	KT_EXPECT_EQ(t, m.resv[2].kind, RESV_KERNEL);
	KT_EXPECT_STREQ(t, m.resv[3].name, "straddle");
	KT_EXPECT_EQ(t, bootmem_allocated(&m), 0);
}

/* Fills resv[] to the brim with reservations below RAM, the last an early region at the top. */
static void fill_resv_table(void)
{
	for (unsigned int i = 0; i < MEMMAP_MAX_REGIONS - 1; i++)
		bootmem_reserve(&m, 0x10000000 + i * 0x2000, 0x1000, RESV_RESERVED, "filler");
	phys_addr_t pa;
	bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa);
}

static void full_tables_fail_cleanly(struct ktest *t)
{
	phys_addr_t pa = 0x1234;

	fill_resv_table();
	KT_ASSERT_EQ(t, m.nr_resv, MEMMAP_MAX_REGIONS);
	/* merging into the early region needs no new entry */
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, pa, TOP - 2 * PAGE_SIZE);
	KT_EXPECT_EQ(t, m.nr_resv, MEMMAP_MAX_REGIONS);
	/* but a separate one does */
	before = m;
	pa = 0x1234;
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, SZ_2M, BOOTMEM_NO_LIMIT, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, bootmem_reserve(&m, BANK0, PAGE_SIZE, RESV_RESERVED, "x"), -ENOSPC);
	KT_EXPECT_EQ(t, pa, 0x1234);
	KT_EXPECT_EQ(t, memcmp(&m, &before, sizeof(m)), 0);

	/* usable[] full: an allocation that would split a range fails too */
	memset(&m, 0, sizeof(m));
	for (unsigned int i = 0; i < MEMMAP_MAX_REGIONS; i++)
		m.ram[i] = m.usable[i] = (struct mem_range){ 0x80001000 + i * 0x10000, 0x3000 };
	m.nr_ram = m.nr_usable = MEMMAP_MAX_REGIONS;
	before = m;
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0x2000, BOOTMEM_NO_LIMIT, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, memcmp(&m, &before, sizeof(m)), 0);
	/* taking a range's top page needs no split */
	KT_EXPECT_EQ(t, bootmem_alloc(&m, PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa), 0);
}

/* On a real map: allocations land in usable memory, never on a reservation. */
static void on_a_device_tree_map(struct ktest *t)
{
	struct dt_error err;
	size_t size;
	void *blob = dtb_load("memmap-reserved", &size);
	phys_addr_t pa;

	KT_ASSERT(t, blob);
	KT_ASSERT_EQ(t, memmap_from_fdt(&m, blob, size, NULL, 0, 0, &err), 0);
	free(blob);
	before = m;
	/* below 0x84000000 only 0x80060000..0x83ffffff is free (just under 64 MiB) */
	KT_ASSERT_EQ(t, bootmem_alloc(&m, 0x3000000, SZ_2M, 0x84000000, &pa), 0);
	KT_EXPECT_EQ(t, pa, 0x81000000);
	KT_EXPECT_EQ(t, bootmem_alloc(&m, 0x4000000, 0, 0x84000000, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, memmap_total_usable(&m), memmap_total_usable(&before) - 0x3000000);
	for (unsigned int i = 0; i < m.nr_resv; i++) {
		const struct resv_region *r = &m.resv[i];
		if (r->kind != RESV_EARLY)
			KT_EXPECT(t, r->base + r->size <= 0x81000000 || r->base >= 0x84000000);
	}
	KT_EXPECT_EQ(t, m.nr_resv, before.nr_resv + 1);
}

static const struct ktest_case cases[] = {
	KTEST_CASE(allocates_top_down),
	KTEST_CASE(size_rounds_up_to_pages),
	KTEST_CASE(alignment_and_early_regions_merging),
	KTEST_CASE(limit_is_respected),
	KTEST_CASE(ceiling_holds_every_later_block),
	KTEST_CASE(ram_at_physical_zero),
	KTEST_CASE(exhaustion_fails_cleanly),
	KTEST_CASE(bad_arguments_change_nothing),
	KTEST_CASE(reserve_carves_whole_pages),
	KTEST_CASE(full_tables_fail_cleanly),
	KTEST_CASE(on_a_device_tree_map),
	{ 0 },
};

static const struct ktest_suite bootmem_host_suite = {
	.name = "bootmem",
	.cases = cases,
	.init = fresh_map,
};

const struct ktest_suite *const test_suites[] = { &bootmem_host_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
