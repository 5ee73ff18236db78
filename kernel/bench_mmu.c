// SPDX-License-Identifier: MIT
/*
 * Page mapper benchmarks (command line "bench"), in the kernel's own PTE
 * format, on a private tree: its own root, no TLB hooks (it is never
 * loaded), table pages from the buddy. The mapped physical addresses are
 * never touched.
 *
 * - 1 GiB of 4 KiB pages (MMU_NO_BLOCKS) mapped in one call and unmapped
 *   in one call, then one 4 KiB call at a time as a kernel heap does: per
 *   page;
 * - 1 GiB of 2 MiB blocks, and one 1 GiB block: per block;
 * - a direct map of 4 GiB of RAM at the kernel's layout (RAM from
 *   0x80000000 at 0xffffffc000000000 + pa on Sv39; from 0x40000000 at
 *   0xffff000000000000 + pa in the TTBR1 tree on arm64), whole and with
 *   reserved holes whose edges are 4 KiB but not 2 MiB aligned: per build.
 */
#include <kernel/bench.h>
#include <kernel/boot.h>
#include <kernel/compiler.h>
#include <kernel/panic.h>
#include <mm/buddy.h>
#include <mm/mmu.h>

#ifdef CONFIG_RISCV
#define BENCH_PTE_FORMAT pte_format_sv39
#define DM_RAM_BASE	 0x80000000ULL
#define DM_VA_BASE	 0xffffffc000000000ULL
#else
#define BENCH_PTE_FORMAT pte_format_arm64
#define DM_RAM_BASE	 0x40000000ULL
#define DM_VA_BASE	 0xffff000000000000ULL
#endif

#define RANGE	    SZ_1G
#define RANGE_PAGES (RANGE / SZ_4K)
#define VA_LOW	    SZ_1G	    /* the 1 GiB ranges, in the lower half */
#define PA_FAR	    0x1000000000ULL /* 64 GiB: 1 GiB aligned */
#define DM_SIZE	    (4 * SZ_1G)
#define RW	    (MMU_PROT_READ | MMU_PROT_WRITE)
#define DM_PROT	    (RW | MMU_PROT_GLOBAL)

static struct mmu_space space;

static void new_space(unsigned int flags)
{
	space = (struct mmu_space){ 0 };
	if (mmu_space_init(&space, &BENCH_PTE_FORMAT, NULL, flags) < 0)
		panic("bench: mmu_space_init failed");
}

static void check(int err, const char *what)
{
	if (err)
		panic("bench: mmu: %s failed (%d)", what, err);
}

static void one_call(const char *name, int (*op)(void), uint64_t ops, const char *unit)
{
	struct bench_sample s = bench_now();
	int err = op();
	struct bench_sample e = bench_now();

	check(err, name);
	bench_report(name, s, e, ops, unit);
}

static int map_pages(void)
{
	return mmu_map(&space, VA_LOW, PA_FAR, RANGE, RW, MMU_NO_BLOCKS);
}

static int map_2m_blocks(void)
{
	return mmu_map(&space, VA_LOW, PA_FAR + SZ_2M, RANGE, RW, 0); /* congruent mod 2 MiB only */
}

static int map_1g_block(void)
{
	return mmu_map(&space, VA_LOW, PA_FAR, RANGE, RW, 0);
}

static int unmap_range(void)
{
	return mmu_unmap(&space, VA_LOW, RANGE);
}

static void page_by_page(void)
{
	struct bench_sample s = bench_now();

	for (uint64_t off = 0; off < RANGE; off += SZ_4K)
		if (unlikely(mmu_map(&space, VA_LOW + off, PA_FAR + off, SZ_4K, RW, 0)))
			check(-1, "map one page");
	bench_report("mmu-map-4k-page-by-page", s, bench_now(), RANGE_PAGES, "page");
	s = bench_now();
	for (uint64_t off = 0; off < RANGE; off += SZ_4K)
		if (unlikely(mmu_unmap(&space, VA_LOW + off, SZ_4K)))
			check(-1, "unmap one page");
	bench_report("mmu-unmap-4k-page-by-page", s, bench_now(), RANGE_PAGES, "page");
}

/* Reserved holes in the direct-mapped RAM (offsets from its base), sorted. */
static const struct {
	uint64_t off, size;
} holes[] = {
	{ 0, 0x80000 },				/* firmware at the start */
	{ 0x200000 + 0x37000, 0x3000 },		/* the DTB, say */
	{ SZ_1G + 0x1ff000, 0x2000 },		/* across a 2 MiB boundary */
	{ 3 * SZ_1G - 0x5000, 0x9000 + SZ_2M }, /* across a 1 GiB boundary */
	{ DM_SIZE - 0x100000, 0x100000 },	/* the top 1 MiB */
};

static int direct_map(void)
{
	return mmu_map(&space, DM_VA_BASE + DM_RAM_BASE, DM_RAM_BASE, DM_SIZE, DM_PROT, 0);
}

static int direct_map_holes(void)
{
	uint64_t at = 0;

	for (size_t i = 0; i <= ARRAY_SIZE(holes); i++) {
		uint64_t end = i < ARRAY_SIZE(holes) ? holes[i].off : DM_SIZE;
		uint64_t pa = DM_RAM_BASE + at;
		int err = 0;

		if (end > at)
			err = mmu_map(&space, DM_VA_BASE + pa, pa, end - at, DM_PROT, 0);
		if (err)
			return err;
		if (i < ARRAY_SIZE(holes))
			at = holes[i].off + holes[i].size;
	}
	return 0;
}

void bench_mmu(void)
{
	unsigned int dm_flags = BENCH_PTE_FORMAT.split_halves ? MMU_SPACE_UPPER : 0;

	/* bench_buddy leaves the buddy up over the boot map; on its own, this brings it up */
	if (!buddy_free_frames() && buddy_init(&boot_info.memmap) < 0)
		panic("bench: buddy_init failed");
	new_space(0);
	one_call("mmu-map-4k-pages-1GiB-one-call", map_pages, RANGE_PAGES, "page");
	one_call("mmu-unmap-4k-pages-1GiB-one-call", unmap_range, RANGE_PAGES, "page");
	page_by_page();
	one_call("mmu-map-2M-blocks-1GiB", map_2m_blocks, RANGE / SZ_2M, "2M-block");
	one_call("mmu-unmap-2M-blocks-1GiB", unmap_range, RANGE / SZ_2M, "2M-block");
	one_call("mmu-map-1G-block", map_1g_block, 1, "1G-block");
	one_call("mmu-unmap-1G-block", unmap_range, 1, "1G-block");
	mmu_space_destroy(&space);

	new_space(dm_flags);
	one_call("mmu-direct-map-4GiB", direct_map, 1, "build");
	mmu_space_destroy(&space);
	new_space(dm_flags);
	one_call("mmu-direct-map-4GiB-with-holes", direct_map_holes, 1, "build");
	mmu_space_destroy(&space);
}
