// SPDX-License-Identifier: MIT
/*
 * The page mapper's host benchmark, in both PTE formats: the mm/ sources
 * built with -O2 and no sanitizers, page tables from the buddy of the fake
 * machine of tests/host/arena.c (the mapped physical addresses are never
 * touched, so they need not be RAM of the arena).
 *
 * Measured, each as instructions per 4 KiB page of the range:
 * - 1 GiB of 4 KiB pages (MMU_NO_BLOCKS) mapped in one call and unmapped in
 *   one call; then mapped and unmapped one 4 KiB call at a time, as a
 *   kernel heap does;
 * - 1 GiB with blocks: 512 2 MiB blocks (pa congruent modulo 2 MiB only),
 *   and one 1 GiB block;
 * - a direct map of 4 GiB of RAM at the kernel's layout (Sv39: VA =
 *   0xffffffc000000000 + pa, RAM from 0x80000000; arm64: VA =
 *   0xffff000000000000 + pa in the TTBR1 tree, RAM from 0x40000000), whole,
 *   and with reserved holes whose edges are 4 KiB but not 2 MiB aligned.
 *
 * Under callgrind (tests/bench/run-host.sh) each measurement is one dump
 * labelled NAME/OPS/UNIT/LOOP-FUNCTION (bench_host.h); run alone it
 * prints nanoseconds per page.
 */
#include <kernel/compiler.h>
#include <mm/buddy.h>
#include <mm/mmu.h>
#include <stdio.h>
#include <string.h>

#include "../host/arena.h"
#include "bench_host.h"

#define ARENA_BASE  0x80000000ULL
#define ARENA_SIZE  (64ULL << 20) /* table pages only: 1 GiB of 4 KiB pages takes ~2 MiB */
#define RANGE	    SZ_1G
#define RANGE_PAGES (RANGE / SZ_4K)
#define VA_LOW	    SZ_1G	    /* where the 1 GiB ranges go (lower half) */
#define PA_FAR	    0x1000000000ULL /* 64 GiB: 1 GiB aligned, never touched */
#define DIRECT_SIZE (4 * SZ_1G)
#define RW	    (MMU_PROT_READ | MMU_PROT_WRITE)

static struct memmap m;
static struct mmu_space space;
static const struct pte_format *fmt;

#define fail(what) bench_fail("bench_mmu", what)

/* Runs fn() between a counter reset and a dump labelled NAME/OPS/page/FN (see bench_host.h). */
#define measure(name, ops, fn) measure_fn(name, ops, fn, #fn)
static void measure_fn(const char *what, uint64_t ops, void (*fn)(void), const char *fn_name)
{
	char name[96], label[160];
	double t0, ns;

	snprintf(name, sizeof(name), "mmu-%s-%s", fmt->name, what);
	CALLGRIND_ZERO_STATS;
	t0 = bench_now_ns();
	fn();
	ns = bench_now_ns() - t0;
	snprintf(label, sizeof(label), "%s/%llu/page/%s", name, (unsigned long long)ops, fn_name);
	CALLGRIND_DUMP_STATS_AT(label);
	if (!RUNNING_ON_VALGRIND)
		printf("native: %s: %.2f ns/page (%llu pages)\n", name, ns / ops,
		       (unsigned long long)ops);
}

static void new_space(unsigned int flags)
{
	memset(&space, 0, sizeof(space));
	if (mmu_space_init(&space, fmt, NULL, flags))
		fail("mmu_space_init");
}

/* ---- 1 GiB ranges ------------------------------------------------------------- */

static __attribute__((noinline)) void map_pages_one_call(void)
{
	if (mmu_map(&space, VA_LOW, PA_FAR, RANGE, RW, MMU_NO_BLOCKS))
		fail("map 4 KiB pages");
}

static __attribute__((noinline)) void unmap_one_call(void)
{
	if (mmu_unmap(&space, VA_LOW, RANGE))
		fail("unmap");
}

static __attribute__((noinline)) void map_page_by_page(void)
{
	for (uint64_t off = 0; off < RANGE; off += SZ_4K) {
		if (unlikely(mmu_map(&space, VA_LOW + off, PA_FAR + off, SZ_4K, RW, 0)))
			fail("map one page");
	}
}

static __attribute__((noinline)) void unmap_page_by_page(void)
{
	for (uint64_t off = 0; off < RANGE; off += SZ_4K) {
		if (unlikely(mmu_unmap(&space, VA_LOW + off, SZ_4K)))
			fail("unmap one page");
	}
}

static __attribute__((noinline)) void map_2m_blocks(void)
{
	if (mmu_map(&space, VA_LOW, PA_FAR + SZ_2M, RANGE, RW, 0))
		fail("map 2 MiB blocks");
}

static __attribute__((noinline)) void map_1g_block(void)
{
	if (mmu_map(&space, VA_LOW, PA_FAR, RANGE, RW, 0))
		fail("map a 1 GiB block");
}

/* ---- direct map ----------------------------------------------------------------- */

static uint64_t ram_base, dm_base;

/* Reserved holes in the RAM (offsets from its base), sorted: 4 KiB aligned, not 2 MiB. */
static const struct {
	uint64_t off, size;
} holes[] = {
	{ 0, 0x80000 },				 /* firmware at the start (OpenSBI's 512 KiB) */
	{ 0x200000 + 0x37000, 0x3000 },		 /* the DTB, say */
	{ SZ_1G + 0x1ff000, 0x2000 },		 /* across a 2 MiB boundary */
	{ 3 * SZ_1G - 0x5000, 0x9000 + SZ_2M },	 /* across a 1 GiB boundary */
	{ DIRECT_SIZE - 0x100000, 0x100000 },	 /* the top 1 MiB */
};

static uint64_t holes_bytes(void)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(holes); i++)
		n += holes[i].size;
	return n;
}

static __attribute__((noinline)) void direct_map(void)
{
	if (mmu_map(&space, dm_base + ram_base, ram_base, DIRECT_SIZE, RW | MMU_PROT_GLOBAL, 0))
		fail("direct map");
}

static __attribute__((noinline)) void direct_map_holes(void)
{
	uint64_t at = 0;

	for (size_t i = 0; i <= ARRAY_SIZE(holes); i++) {
		uint64_t end = i < ARRAY_SIZE(holes) ? holes[i].off : DIRECT_SIZE;

		if (end > at && mmu_map(&space, dm_base + ram_base + at, ram_base + at, end - at,
					RW | MMU_PROT_GLOBAL, 0))
			fail("direct map with holes");
		if (i < ARRAY_SIZE(holes))
			at = holes[i].off + holes[i].size;
	}
}

/* ---- per format --------------------------------------------------------------- */

static void run_format(const struct pte_format *f)
{
	unsigned int dm_flags = f->split_halves ? MMU_SPACE_UPPER : 0;

	fmt = f;
	arena_machine(&m, &(struct mem_range){ ARENA_BASE, ARENA_SIZE }, 1);
	if (buddy_init(&m) < 0)
		fail("buddy_init");

	new_space(0);
	measure("map-4k-pages-1GiB-one-call", RANGE_PAGES, map_pages_one_call);
	measure("unmap-4k-pages-1GiB-one-call", RANGE_PAGES, unmap_one_call);
	measure("map-4k-pages-1GiB-page-by-page", RANGE_PAGES, map_page_by_page);
	measure("unmap-4k-pages-1GiB-page-by-page", RANGE_PAGES, unmap_page_by_page);
	measure("map-2M-blocks-1GiB", RANGE_PAGES, map_2m_blocks);
	measure("unmap-2M-blocks-1GiB", RANGE_PAGES, unmap_one_call);
	measure("map-1G-block-1GiB", RANGE_PAGES, map_1g_block);
	measure("unmap-1G-block-1GiB", RANGE_PAGES, unmap_one_call);
	mmu_space_destroy(&space);

	ram_base = f->split_halves ? 0x40000000ULL : 0x80000000ULL;
	dm_base = f->split_halves ? 0xffff000000000000ULL : 0xffffffc000000000ULL;
	new_space(dm_flags);
	measure("direct-map-4GiB", DIRECT_SIZE / SZ_4K, direct_map);
	mmu_space_destroy(&space);
	new_space(dm_flags);
	measure("direct-map-4GiB-with-holes", (DIRECT_SIZE - holes_bytes()) / SZ_4K,
		direct_map_holes);
	mmu_space_destroy(&space);
	arena_unmap();
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	run_format(&pte_format_sv39);
	run_format(&pte_format_arm64);
	return 0;
}
