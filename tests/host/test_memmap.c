// SPDX-License-Identifier: MIT
/*
 * The boot memory map from the DTS fixtures in tests/dts/memmap-*.dts, and
 * from blobs edited in C into every kind of bad content. Each map that
 * builds is also checked against the invariants every map must keep.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <libfdt.h>
#include <mm/memmap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtb_load.h"

static struct memmap m;

static int build(struct ktest *t, const char *name, const struct resv_region *extra,
		 unsigned int nr_extra, unsigned int flags, struct dt_error *err)
{
	size_t size;
	void *blob = dtb_load(name, &size);
	int rc;

	if (!blob) {
		ktest_log(t, "cannot load %s.dtb (DTB_DIR?)", name);
		return -ENOENT;
	}
	rc = memmap_from_fdt(&m, blob, size, extra, nr_extra, flags, err);
	if (rc < 0)
		ktest_log(t, "%s: %s", name, err->msg);
	free(blob);
	return rc;
}

static bool overlap(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
	return a < b + bs && b < a + as;
}

static bool inside_ram(const struct memmap *mm, uint64_t base, uint64_t size)
{
	for (unsigned int i = 0; i < mm->nr_ram; i++) {
		if (base >= mm->ram[i].base && base + size <= mm->ram[i].base + mm->ram[i].size)
			return true;
	}
	return false;
}

/* Every map: sorted lists, usable page-aligned, inside RAM, clear of every reservation. */
static void expect_invariants(struct ktest *t, const struct memmap *mm)
{
	for (unsigned int i = 0; i < mm->nr_ram; i++) {
		KT_EXPECT_GT(t, mm->ram[i].size, 0);
		if (i)
			KT_EXPECT_GT(t, mm->ram[i].base, mm->ram[i - 1].base + mm->ram[i - 1].size);
	}
	for (unsigned int i = 1; i < mm->nr_resv; i++)
		KT_EXPECT_GE(t, mm->resv[i].base, mm->resv[i - 1].base);
	for (unsigned int i = 0; i < mm->nr_usable; i++) {
		const struct mem_range *u = &mm->usable[i];
		KT_EXPECT(t, IS_ALIGNED(u->base, PAGE_SIZE) && IS_ALIGNED(u->size, PAGE_SIZE));
		KT_EXPECT(t, u->size > 0 && inside_ram(mm, u->base, u->size));
		if (i)
			KT_EXPECT_GT(t, u->base, mm->usable[i - 1].base + mm->usable[i - 1].size);
		for (unsigned int j = 0; j < mm->nr_resv; j++)
			KT_EXPECT(t, !overlap(u->base, u->size, mm->resv[j].base,
					      mm->resv[j].size));
	}
}

static void expect_range(struct ktest *t, const struct mem_range *r, uint64_t base, uint64_t size)
{
	KT_EXPECT_EQ(t, r->base, base);
	KT_EXPECT_EQ(t, r->size, size);
}

/* The nth reservation called name (n from 0), or NULL. */
static const struct resv_region *resv_named(const char *name, int n)
{
	for (unsigned int i = 0; i < m.nr_resv; i++) {
		if (strcmp(m.resv[i].name, name) == 0 && n-- == 0)
			return &m.resv[i];
	}
	return NULL;
}

/* Never NULL, so a missing region fails checks instead of crashing the test. */
static const struct resv_region *resv_or_empty(const char *name)
{
	static const struct resv_region empty;
	const struct resv_region *r = resv_named(name, 0);

	return r ? r : &empty;
}

static void expect_resv(struct ktest *t, const char *name, int n, uint64_t base, uint64_t size,
			uint32_t kind)
{
	const struct resv_region *r = resv_named(name, n);

	if (!KT_EXPECT(t, r != NULL)) {
		ktest_log(t, "no reservation %s #%d", name, n);
		return;
	}
	KT_EXPECT_EQ(t, r->base, base);
	KT_EXPECT_EQ(t, r->size, size);
	KT_EXPECT_STREQ(t, resv_kind_name(r->kind), resv_kind_name(kind));
}

/* ---- RAM ---- */

static void several_banks_above_4g(struct ktest *t)
{
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-banks", NULL, 0, 0, &err), 0);
	KT_ASSERT_EQ(t, m.nr_ram, 4);
	expect_range(t, &m.ram[0], 0x80000000, 0x40000000);
	expect_range(t, &m.ram[1], 0x100000000, 0x100000000);
	expect_range(t, &m.ram[2], 0x880000000, 0x10000000);
	expect_range(t, &m.ram[3], 0x900000000, 0x10000000);
	KT_EXPECT_EQ(t, memmap_total_ram(&m), 0x40000000 + 0x100000000 + 0x20000000);
	KT_EXPECT_EQ(t, m.nr_resv, 0);
	KT_EXPECT_EQ(t, m.nr_usable, 4);
	KT_EXPECT_EQ(t, memmap_total_usable(&m), memmap_total_ram(&m));
	expect_invariants(t, &m);
}

static void cells_1_1_and_own_reserved_cells(struct ktest *t)
{
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-cells-1-1", NULL, 0, 0, &err), 0);
	KT_ASSERT_EQ(t, m.nr_ram, 2);
	expect_range(t, &m.ram[0], 0x0, 0x10000000);
	expect_range(t, &m.ram[1], 0x20000000, 0x10000000);
	/* decoded with /reserved-memory's 2/2 cells, not the root's 1/1 */
	expect_resv(t, "firmware@1000000", 0, 0x01000000, 0x00100000, RESV_RESERVED);
	expect_resv(t, "pool", 0, 0x27e00000, 0x00200000, RESV_DYNAMIC);
	KT_EXPECT_EQ(t, memmap_total_usable(&m), 0x20000000 - 0x00100000 - 0x00200000);
	expect_invariants(t, &m);
}

static void overlapping_banks_merge_and_ignored_nodes(struct ktest *t)
{
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-overlap", NULL, 0, 0, &err), 0);
	/* overlap + adjacency fold into one; zero-size, disabled, failed,
	 * non-memory and non-root nodes add nothing */
	KT_ASSERT_EQ(t, m.nr_ram, 1);
	expect_range(t, &m.ram[0], 0x80000000, 0x04000000);
	KT_ASSERT_EQ(t, m.nr_usable, 1);
	expect_range(t, &m.usable[0], 0x80000000, 0x04000000);
	expect_invariants(t, &m);
}

static void usable_memory_replaces_reg(struct ktest *t)
{
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-usable-memory", NULL, 0, 0, &err), 0);
	KT_ASSERT_EQ(t, m.nr_ram, 3);
	expect_range(t, &m.ram[0], 0x48000000, 0x08000000);
	expect_range(t, &m.ram[1], 0x60000000, 0x01000000);
	expect_range(t, &m.ram[2], 0xc0000000, 0x10000000);
	/* /reserved-memory without cells: the root's 1/1 */
	expect_resv(t, "fw@48000000", 0, 0x48000000, 0x00200000, RESV_NOMAP);
	KT_EXPECT(t, resv_named("initrd", 0) == NULL); /* only when asked for */
	expect_invariants(t, &m);
}

/* ---- static reservations ---- */

static void static_reservations_of_every_kind(struct ktest *t)
{
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-reserved", NULL, 0, 0, &err), 0);
	KT_EXPECT_EQ(t, m.nr_ram, 2);
	expect_resv(t, "/memreserve/", 0, 0x80000000, 0x10000, RESV_MEMRESERVE);
	expect_resv(t, "/memreserve/", 1, 0x8ffff000, 0x2000, RESV_MEMRESERVE);
	expect_resv(t, "mmode_resv0@80040000", 0, 0x80040000, 0x20000, RESV_NOMAP);
	expect_resv(t, "cma@84000000", 0, 0x84000000, 0x01000000, RESV_REUSABLE);
	/* every reg pair of one node, the zero-size one dropped */
	expect_resv(t, "multi@88000000", 0, 0x88000000, 0x1000, RESV_RESERVED);
	expect_resv(t, "multi@88000000", 1, 0x98000000, 0x00100000, RESV_RESERVED);
	KT_EXPECT(t, resv_named("multi@88000000", 2) == NULL);
	KT_EXPECT(t, resv_named("disabled@8a000000", 0) == NULL);
	expect_resv(t, "outside@f0000000", 0, 0xf0000000, 0x00100000, RESV_RESERVED);
	expect_resv(t, "edge@9fff0000", 0, 0x9fff0000, 0x20000, RESV_RESERVED);
	KT_EXPECT_EQ(t, m.nr_resv, 11);
	KT_EXPECT_EQ(t, resv_or_empty("cma@84000000")->flags, RESV_F_REUSABLE);
	KT_EXPECT_EQ(t, resv_or_empty("mmode_resv0@80040000")->flags, RESV_F_NOMAP);
	expect_invariants(t, &m);
}

static void usable_is_ram_minus_reservations_in_pages(struct ktest *t)
{
	static const struct mem_range want[] = {
		{ 0x80010000, 0x00030000 }, /* after /memreserve/, before mmode_resv0 */
		{ 0x80060000, 0x03fa0000 }, /* up to cma */
		{ 0x85000000, 0x01000000 }, /* up to the page holding unaligned@86000800 */
		{ 0x86001000, 0x00fff000 }, /* up to overlap-a */
		{ 0x87300000, 0x00d00000 }, /* after overlap-b, up to multi #0 */
		{ 0x88001000, 0x07ffe000 }, /* up to /memreserve/ #1, across bank 0's end */
		{ 0x90001000, 0x07fff000 }, /* bank 1, up to multi #1 */
		{ 0x98100000, 0x07ef0000 }, /* up to edge, which runs past the end of RAM */
	};
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-reserved", NULL, 0, 0, &err), 0);
	KT_ASSERT_EQ(t, m.nr_usable, ARRAY_SIZE(want));
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++)
		expect_range(t, &m.usable[i], want[i].base, want[i].size);
}

/* ---- dynamic reservations ---- */

static void dynamic_regions_placed_top_down(struct ktest *t)
{
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-dynamic", NULL, 0, 0, &err), 0);
	/* right below the static region at the top of RAM */
	expect_resv(t, "anywhere", 0, 0x9fc00000, 0x00300000, RESV_DYNAMIC);
	/* the highest 16 MiB boundary with room */
	expect_resv(t, "aligned", 0, 0x9f000000, 0x1000, RESV_DYNAMIC);
	/* first alloc-range too small; in the second, below the static blocker */
	expect_resv(t, "ranged", 0, 0x90a00000, 0x00400000, RESV_DYNAMIC);
	KT_EXPECT_EQ(t, resv_or_empty("ranged")->flags, RESV_F_NOMAP);
	/* below both the blocker and the earlier dynamic region in its range */
	expect_resv(t, "ranged-second", 0, 0x90600000, 0x00400000, RESV_DYNAMIC);
	/* alignment 16 raised to a page, size kept as given */
	expect_resv(t, "tiny-align", 0, 0x9fbff000, 0x100, RESV_DYNAMIC);
	KT_EXPECT_EQ(t, resv_or_empty("tiny-align")->flags, RESV_F_REUSABLE);
	KT_EXPECT(t, resv_named("off", 0) == NULL);
	expect_invariants(t, &m);
}

/* Checked against the node's own properties, not against numbers worked out by hand. */
static void dynamic_regions_obey_their_nodes(struct ktest *t)
{
	struct dt_error err;
	unsigned int dynamic = 0;

	KT_ASSERT_EQ(t, build(t, "memmap-dynamic", NULL, 0, 0, &err), 0);
	for (unsigned int i = 0; i < m.nr_resv; i++) {
		const struct resv_region *r = &m.resv[i];
		if (r->kind != RESV_DYNAMIC)
			continue;
		dynamic++;
		KT_EXPECT(t, IS_ALIGNED(r->base, PAGE_SIZE));
		KT_EXPECT(t, inside_ram(&m, r->base, r->size));
		for (unsigned int j = 0; j < m.nr_resv; j++) {
			if (j != i)
				KT_EXPECT(t, !overlap(r->base, r->size, m.resv[j].base,
						      m.resv[j].size));
		}
	}
	KT_EXPECT_EQ(t, dynamic, 5);
	KT_EXPECT(t, IS_ALIGNED(resv_or_empty("aligned")->base, 0x01000000));
	KT_EXPECT(t, IS_ALIGNED(resv_or_empty("ranged")->base, 0x00200000));
	static const char *const in_range[] = { "ranged", "ranged-second" };
	for (unsigned int i = 0; i < ARRAY_SIZE(in_range); i++) {
		const struct resv_region *r = resv_or_empty(in_range[i]);
		KT_EXPECT_GE(t, r->base, 0x90000000);
		KT_EXPECT_LE(t, r->base + r->size, 0x91000000);
	}
}

static void extras_and_initrd_reserved_before_dynamic(struct ktest *t)
{
	/* the kernel sits where "anywhere" would otherwise go */
	const struct resv_region extra[] = {
		{ .base = 0x9fc00000, .size = 0x00300000, .kind = RESV_KERNEL, .name = "kernel" },
		{ .base = 0x80000000, .size = 0x2345, .kind = RESV_DTB, .name = "dtb" },
		{ .base = 0x81000000, .size = 0, .kind = RESV_DTB, .name = "empty" },
	};
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "memmap-dynamic", extra, 3, MEMMAP_RESERVE_INITRD, &err), 0);
	expect_resv(t, "kernel", 0, 0x9fc00000, 0x00300000, RESV_KERNEL);
	expect_resv(t, "dtb", 0, 0x80000000, 0x2345, RESV_DTB);
	KT_EXPECT(t, resv_named("empty", 0) == NULL);
	expect_resv(t, "anywhere", 0, 0x9f900000, 0x00300000, RESV_DYNAMIC);
	KT_EXPECT_EQ(t, m.usable[0].base, 0x80003000);
	expect_invariants(t, &m);

	/* 32- and 64-bit initrd properties */
	KT_ASSERT_EQ(t, build(t, "memmap-usable-memory", NULL, 0, MEMMAP_RESERVE_INITRD, &err), 0);
	expect_resv(t, "initrd", 0, 0x4c000000, 0x123456, RESV_INITRD);
	expect_invariants(t, &m);
}

static void kind_names(struct ktest *t)
{
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_RESERVED), "reserved");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_NOMAP), "no-map");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_REUSABLE), "reusable");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_MEMRESERVE), "memreserve");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_DYNAMIC), "dynamic");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_KERNEL), "kernel");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_DTB), "dtb");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_INITRD), "initrd");
	KT_EXPECT_STREQ(t, resv_kind_name(RESV_EARLY), "early");
	KT_EXPECT_STREQ(t, resv_kind_name(999), "?");
}

/* ---- bad content, edited into valid blobs ---- */

typedef int (*editor)(void *fdt);

static uint32_t cellbuf[2048];

/* Big-endian cells into a static buffer (one edit at a time). */
static const uint32_t *cells(int n, ...)
{
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		cellbuf[i] = cpu_to_fdt32(va_arg(ap, uint32_t));
	va_end(ap);
	return cellbuf;
}

/* Loads name, applies edit, and expects memmap_from_fdt() to fail with rc and want. */
static void expect_edit_fails(struct ktest *t, const char *name, editor edit, unsigned int flags,
			      int rc, const char *want)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = dtb_load_edited(name, 64 * 1024, edit, &size);

	KT_ASSERT(t, blob);
	KT_EXPECT_EQ(t, memmap_from_fdt(&m, blob, size, NULL, 0, flags, &err), rc);
	if (!KT_EXPECT(t, strstr(err.msg, want) != NULL))
		ktest_log(t, "message \"%s\" lacks \"%s\"", err.msg, want);
	KT_EXPECT_EQ(t, m.nr_ram + m.nr_resv + m.nr_usable, 0);
	free(blob);
}

static int node(void *fdt, const char *path)
{
	return fdt_path_offset(fdt, path);
}

static int reg_wrong_length(void *fdt)
{
	return fdt_setprop(fdt, node(fdt, "/memory@80000000"), "reg", cells(3, 0, 0x80000000, 0),
			   12);
}

static int addr_cells_5(void *fdt)
{
	return fdt_setprop_u32(fdt, 0, "#address-cells", 5);
}

static int size_cells_0(void *fdt)
{
	return fdt_setprop_u32(fdt, 0, "#size-cells", 0);
}

static int resmem_size_cells_3(void *fdt)
{
	return fdt_setprop_u32(fdt, node(fdt, "/reserved-memory"), "#size-cells", 3);
}

static int delete_memory_nodes(void *fdt)
{
	int n, r = 0;

	while (!r && (n = fdt_node_offset_by_prop_value(fdt, -1, "device_type", "memory", 7)) >= 0)
		r = fdt_del_node(fdt, n);
	return r;
}

static int no_memory_nodes(void *fdt)
{
	return delete_memory_nodes(fdt);
}

static int memory_device_type_wrong(void *fdt)
{
	int r = 0;
	for (int n = fdt_first_subnode(fdt, 0); n >= 0 && !r; n = fdt_next_subnode(fdt, n))
		r = fdt_setprop_string(fdt, n, "device_type", "memoryx");
	return r;
}

static int only_zero_size_memory(void *fdt)
{
	int r = delete_memory_nodes(fdt);
	int n = r ? r : fdt_add_subnode(fdt, 0, "memory@80000000");
	r = n < 0 ? n : fdt_setprop_string(fdt, n, "device_type", "memory");
	return r ? r : fdt_setprop(fdt, n, "reg", cells(8, 0, 0x80000000, 0, 0, 1, 0, 0, 0), 32);
}

static int reg_overflows(void *fdt)
{
	return fdt_setprop(fdt, node(fdt, "/memory@100000000"), "reg",
			   cells(4, 0xffffffff, 0xffff0000, 0, 0x20000), 16);
}

static int memreserve_overflows(void *fdt)
{
	return fdt_add_mem_rsv(fdt, 0xfffffffffffff000ULL, 0x2000);
}

static int too_many_memory_ranges(void *fdt)
{
	uint32_t *c = cellbuf;
	int r = delete_memory_nodes(fdt);
	int n = r ? r : fdt_add_subnode(fdt, 0, "memory@40000000");

	/* 129 disjoint 4 KiB banks, 8 KiB apart */
	for (int i = 0; i < MEMMAP_MAX_REGIONS + 1; i++, c += 4) {
		c[0] = 0;
		c[1] = cpu_to_fdt32(0x40000000 + i * 0x2000);
		c[2] = 0;
		c[3] = cpu_to_fdt32(0x1000);
	}
	r = n < 0 ? n : fdt_setprop_string(fdt, n, "device_type", "memory");
	return r ? r : fdt_setprop(fdt, n, "reg", cellbuf, (MEMMAP_MAX_REGIONS + 1) * 16);
}

static int too_many_reserved(void *fdt)
{
	uint32_t *c = cellbuf;

	for (int i = 0; i < MEMMAP_MAX_REGIONS; i++, c += 4) {
		c[0] = 0;
		c[1] = cpu_to_fdt32(0x80000000 + i * 0x2000);
		c[2] = 0;
		c[3] = cpu_to_fdt32(0x1000);
	}
	return fdt_setprop(fdt, node(fdt, "/reserved-memory/multi@88000000"), "reg", cellbuf,
			   MEMMAP_MAX_REGIONS * 16);
}

/* 128 reservations inside one bank cut it into 129 usable pieces */
static int too_many_usable(void *fdt)
{
	int r = 0;

	for (int i = 0; i < MEMMAP_MAX_REGIONS && !r; i++)
		r = fdt_add_mem_rsv(fdt, 0x80001000 + i * 0x2000, 0x1000);
	return r;
}

static int resmem_child(void *fdt, const char *name)
{
	return fdt_add_subnode(fdt, node(fdt, "/reserved-memory"), name);
}

static int dynamic_too_big(void *fdt)
{
	int n = resmem_child(fdt, "huge");
	return n < 0 ? n : fdt_setprop(fdt, n, "size", cells(2, 0x1, 0x0), 8);
}

static int dynamic_ranges_outside_ram(void *fdt)
{
	int n = resmem_child(fdt, "lost");
	int r = n < 0 ? n : fdt_setprop(fdt, n, "size", cells(2, 0, 0x1000), 8);
	return r ? r
		 : fdt_setprop(fdt, n, "alloc-ranges", cells(4, 0, 0x10000000, 0, 0x100000), 16);
}

static int dynamic_range_full(void *fdt)
{
	/* the only free spot in this range is 1 MiB; ask for 2 */
	int n = resmem_child(fdt, "squeezed");
	int r = n < 0 ? n : fdt_setprop(fdt, n, "size", cells(2, 0, 0x200000), 8);
	return r ? r
		 : fdt_setprop(fdt, n, "alloc-ranges", cells(4, 0, 0x9fe00000, 0, 0x200000), 16);
}

static int dynamic_size_wrong_length(void *fdt)
{
	int n = resmem_child(fdt, "short");
	return n < 0 ? n : fdt_setprop(fdt, n, "size", cells(1, 0x1000), 4);
}

static int dynamic_size_zero(void *fdt)
{
	int n = resmem_child(fdt, "nothing");
	return n < 0 ? n : fdt_setprop(fdt, n, "size", cells(2, 0, 0), 8);
}

static int dynamic_alignment_not_pow2(void *fdt)
{
	int n = resmem_child(fdt, "odd");
	int r = n < 0 ? n : fdt_setprop(fdt, n, "size", cells(2, 0, 0x1000), 8);
	return r ? r : fdt_setprop(fdt, n, "alignment", cells(2, 0, 0x3000), 8);
}

static int alloc_ranges_wrong_length(void *fdt)
{
	int n = resmem_child(fdt, "badranges");
	int r = n < 0 ? n : fdt_setprop(fdt, n, "size", cells(2, 0, 0x1000), 8);
	return r ? r : fdt_setprop(fdt, n, "alloc-ranges", cells(3, 0, 0x80000000, 0), 12);
}

static int resmem_reg_wrong_length(void *fdt)
{
	return fdt_setprop(fdt, node(fdt, "/reserved-memory/cma@84000000"), "reg",
			   cells(2, 0, 0x84000000), 8);
}

static int initrd_backwards(void *fdt)
{
	int c = fdt_add_subnode(fdt, 0, "chosen");
	int r = c < 0 ? c : fdt_setprop_u32(fdt, c, "linux,initrd-start", 0x88000000);
	return r ? r : fdt_setprop_u32(fdt, c, "linux,initrd-end", 0x87000000);
}

static int initrd_odd_length(void *fdt)
{
	int c = fdt_add_subnode(fdt, 0, "chosen");
	int r = c < 0 ? c : fdt_setprop(fdt, c, "linux,initrd-start", cells(3, 0, 0, 1), 12);
	return r ? r : fdt_setprop_u32(fdt, c, "linux,initrd-end", 0x87000000);
}

static void bad_content_rejected(struct ktest *t)
{
	const struct {
		const char *fixture;
		editor edit;
		int rc;
		const char *want;
	} cases[] = {
		{ "memmap-banks", reg_wrong_length, -EINVAL,
		  "/memory@80000000: reg is 12 bytes long, not a multiple of 16" },
		{ "memmap-banks", addr_cells_5, -EINVAL, "/: #address-cells = 5 is not supported" },
		{ "memmap-banks", size_cells_0, -EINVAL,
		  "/: #size-cells = 0 cannot describe memory" },
		{ "memmap-reserved", resmem_size_cells_3, -EINVAL,
		  "/reserved-memory: #size-cells = 3 is not supported" },
		{ "memmap-banks", no_memory_nodes, -ENOENT, "no memory" },
		{ "memmap-overlap", memory_device_type_wrong, -ENOENT, "no memory" },
		{ "memmap-banks", only_zero_size_memory, -ENOENT, "no memory" },
		{ "memmap-banks", reg_overflows, -EOVERFLOW,
		  "/memory@100000000: reg entry 0: 0xffffffffffff0000 + 0x20000 overflows" },
		{ "memmap-banks", memreserve_overflows, -EOVERFLOW,
		  "/memreserve/ entry 0: 0xfffffffffffff000 + 0x2000 overflows" },
		{ "memmap-banks", too_many_memory_ranges, -ENOSPC,
		  "/memory@40000000: reg entry 128: more than 128 memory ranges" },
		{ "memmap-reserved", too_many_reserved, -ENOSPC,
		  "/reserved-memory/multi@88000000: more than 128 reserved regions" },
		{ "memmap-banks", too_many_usable, -ENOSPC, "more than 128 usable ranges" },
		{ "memmap-dynamic", dynamic_size_wrong_length, -EINVAL,
		  "/reserved-memory/short: size is 4 bytes long, want 8" },
		{ "memmap-dynamic", dynamic_size_zero, -EINVAL,
		  "/reserved-memory/nothing: dynamic region of size 0" },
		{ "memmap-dynamic", dynamic_alignment_not_pow2, -EINVAL,
		  "/reserved-memory/odd: alignment 0x3000 is not a power of two" },
		{ "memmap-dynamic", alloc_ranges_wrong_length, -EINVAL,
		  "/reserved-memory/badranges: alloc-ranges is 12 bytes long, "
		  "not a multiple of 16" },
		{ "memmap-reserved", resmem_reg_wrong_length, -EINVAL,
		  "/reserved-memory/cma@84000000: reg is 8 bytes long, not a multiple of 16" },
		{ "memmap-banks", initrd_backwards, -EINVAL,
		  "/chosen: linux,initrd-end 0x87000000 is below linux,initrd-start 0x88000000" },
		{ "memmap-banks", initrd_odd_length, -EINVAL,
		  "/chosen: linux,initrd-start is 12 bytes long, want 4 or 8" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned int failures = t->failures;
		expect_edit_fails(t, cases[i].fixture, cases[i].edit, MEMMAP_RESERVE_INITRD,
				  cases[i].rc, cases[i].want);
		if (t->failures != failures)
			ktest_log(t, "case %u: %s", i, cases[i].want);
	}
}

/*
 * A dynamic region that fits nowhere is left out with a warning, as Linux
 * does (a CMA pool sized for a bigger variant of a board must not stop the
 * boot); everything else in the map is still built.
 */
static void expect_edit_warns(struct ktest *t, editor edit, const char *node, const char *want)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = dtb_load_edited("memmap-dynamic", 64 * 1024, edit, &size);

	KT_ASSERT(t, blob);
	KT_EXPECT_EQ(t, memmap_from_fdt(&m, blob, size, NULL, 0, 0, &err), 0);
	KT_EXPECT_EQ(t, m.nr_warnings, 1);
	if (!KT_EXPECT(t, strstr(m.warnings[0], want) != NULL))
		ktest_log(t, "warning \"%s\" lacks \"%s\"", m.warnings[0], want);
	for (unsigned int i = 0; i < m.nr_resv; i++)
		KT_EXPECT(t, strcmp(m.resv[i].name, node) != 0);
	KT_EXPECT(t, m.nr_ram > 0 && m.nr_usable > 0);
	free(blob);
}

static void dynamic_unplaceable_left_out(struct ktest *t)
{
	expect_edit_warns(t, dynamic_too_big, "huge",
			  "/reserved-memory/huge: cannot place dynamic region of 0x100000000 bytes");
	expect_edit_warns(t, dynamic_ranges_outside_ram, "lost",
			  "/reserved-memory/lost: cannot place dynamic region of 0x1000 bytes "
			  "(alignment 0x1000) inside its alloc-ranges; left out");
	expect_edit_warns(t, dynamic_range_full, "squeezed",
			  "/reserved-memory/squeezed: cannot place");
}

/* A reserved-memory child whose name would forge a line of dt-memmap's output, and a field. */
static int forged_name(void *fdt)
{
	return fdt_set_name(fdt, fdt_path_offset(fdt, "/reserved-memory/cma@84000000"),
			    "x\nusable 0x0-0xffffffffffffffff\\");
}

static void names_from_the_blob_are_escaped(struct ktest *t)
{
	const char *want = "x\\x0ausable\\x200x0-0xffffffffffffffff\\x5c";
	struct dt_error err = { "" };
	size_t size;
	void *blob = dtb_load_edited("memmap-reserved", 4096, forged_name, &size);
	bool found = false;
	char cut[12];

	KT_ASSERT(t, blob);
	KT_ASSERT_EQ(t, memmap_from_fdt(&m, blob, size, NULL, 0, 0, &err), 0);
	for (unsigned int i = 0; i < m.nr_resv; i++) {
		found |= strcmp(m.resv[i].name, want) == 0;
		KT_EXPECT(t, !strchr(m.resv[i].name, '\n') && !strchr(m.resv[i].name, ' '));
	}
	if (!KT_EXPECT(t, found))
		ktest_log(t, "no reservation named %s", want);
	free(blob);
	/* an escape is cut whole, never in the middle */
	KT_EXPECT_EQ(t, dt_escape(cut, sizeof(cut), "abcdefgh\n", 9), 8);
	KT_EXPECT_STREQ(t, cut, "abcdefgh");
	KT_EXPECT_EQ(t, dt_escape(cut, sizeof(cut), "a\tb", 3), 6);
	KT_EXPECT_STREQ(t, cut, "a\\x09b");
}

/*
 * Two /reserved-memory nodes: the first in the blob is read, as Linux reads
 * it, and the other is left out with a warning. (libfdt adds a node before
 * its siblings: the one added here is the first.)
 */
static int second_reserved_memory(void *fdt)
{
	int node = fdt_add_subnode(fdt, 0, "reserved-memory@90000000");
	const fdt64_t reg[2] = { cpu_to_fdt64(0x90000000), cpu_to_fdt64(0x1000) };

	if (node < 0 || (node = fdt_add_subnode(fdt, node, "added@90000000")) < 0)
		return node;
	return fdt_setprop(fdt, node, "reg", reg, sizeof(reg));
}

static void second_reserved_memory_warned(struct ktest *t)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = dtb_load_edited("memmap-reserved", 4096, second_reserved_memory, &size);
	bool added = false;

	KT_ASSERT(t, blob);
	KT_EXPECT_EQ(t, memmap_from_fdt(&m, blob, size, NULL, 0, 0, &err), 0);
	free(blob);
	KT_ASSERT_EQ(t, m.nr_warnings, 1);
	if (!KT_EXPECT(t, strstr(m.warnings[0], "/reserved-memory: a second /reserved-memory")))
		ktest_log(t, "warning: %s", m.warnings[0]);
	for (unsigned int i = 0; i < m.nr_resv; i++) {
		added |= strcmp(m.resv[i].name, "added@90000000") == 0;
		KT_EXPECT(t, strncmp(m.resv[i].name, "cma", 3) != 0); /* the other node's */
	}
	KT_EXPECT(t, added);
}

/* The same backwards initrd is no error when the initrd is not wanted (the tool's view). */
static void initrd_ignored_unless_asked(struct ktest *t)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = dtb_load_edited("memmap-banks", 4096, initrd_backwards, &size);

	KT_ASSERT(t, blob);
	KT_EXPECT_EQ(t, memmap_from_fdt(&m, blob, size, NULL, 0, 0, &err), 0);
	free(blob);
}

/* memmap_print()'s table, captured from stdout (where host printk writes). */
static char *capture_print(const struct memmap *mm)
{
	static char out[8192];
	FILE *tmp = tmpfile();
	int saved = dup(STDOUT_FILENO);
	size_t n;

	if (!tmp || saved < 0)
		return NULL;
	fflush(stdout);
	dup2(fileno(tmp), STDOUT_FILENO);
	memmap_print(mm);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static void print_shows_a_table(struct ktest *t)
{
	static const char *const want[] = {
		"memory map: RAM 511.9 MiB in 2 range(s), 11 reservation(s), "
		"usable 491.7 MiB in 8 range(s)\n",
		"  0x0000000080000000  0x000000008fffffff     256 MiB  ram\n",
		"  0x0000000084000000  0x0000000084ffffff      16 MiB  reusable    cma@84000000\n",
		"  0x0000000080040000  0x000000008005ffff     128 KiB  no-map      "
		"mmode_resv0@80040000\n",
		"  0x0000000086000800  0x00000000860008ff       256 B  reserved    "
		"unaligned@86000800\n",
		"  0x000000009fff0000  0x00000000a000ffff     128 KiB  reserved    edge@9fff0000\n",
		"  0x0000000090001000  0x0000000097ffffff   127.9 MiB  usable\n",
	};
	struct dt_error err;
	const char *out;

	KT_ASSERT_EQ(t, build(t, "memmap-reserved", NULL, 0, 0, &err), 0);
	out = capture_print(&m);
	KT_ASSERT(t, out != NULL);
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++) {
		if (!KT_EXPECT(t, strstr(out, want[i]) != NULL))
			ktest_log(t, "missing line: %s", want[i]);
	}
	/* header + one line per range */
	unsigned int lines = 0;
	for (const char *p = out; *p; p++)
		lines += *p == '\n';
	KT_EXPECT_EQ(t, lines, 2 + m.nr_ram + m.nr_resv + m.nr_usable);
}

/* RAM beyond the direct map is left out: ranges above the end dropped, the one across it cut. */
static void clip_leaves_out_what_lies_above(struct ktest *t)
{
	static struct memmap c;

	memset(&c, 0, sizeof(c));
	c.nr_ram = c.nr_usable = 3;
	c.ram[0] = c.usable[0] = (struct mem_range){ 0x80000000ULL, 0x40000000ULL };
	c.ram[1] = c.usable[1] = (struct mem_range){ 0x3b00000000ULL, 0x200000000ULL };
	c.ram[2] = c.usable[2] = (struct mem_range){ 0x4000000000ULL, 0x1000000ULL };
	KT_EXPECT_EQ(t, memmap_clip(&c, 0x3c00000000ULL), 0x100000000ULL + 0x1000000ULL);
	KT_ASSERT_EQ(t, c.nr_ram, 2);
	KT_EXPECT_EQ(t, c.ram[1].base, 0x3b00000000ULL);
	KT_EXPECT_EQ(t, c.ram[1].size, 0x100000000ULL);
	KT_ASSERT_EQ(t, c.nr_usable, 2);
	KT_EXPECT_EQ(t, c.usable[1].size, 0x100000000ULL);
	KT_EXPECT_EQ(t, memmap_clip(&c, 0x3c00000000ULL), 0); /* nothing more */
	KT_EXPECT_EQ(t, memmap_clip(&c, 0x80000000ULL), 0x40000000ULL + 0x100000000ULL);
	KT_EXPECT_EQ(t, c.nr_ram, 0);
	KT_EXPECT_EQ(t, c.nr_usable, 0);
}

/* RAM at physical 0 (Raspberry Pi, ZynqMP): its address prints as 0x0..., not as a run of zeros (%#018llx). */
static void print_shows_ram_at_zero(struct ktest *t)
{
	static struct memmap z;
	const char *out;

	memset(&z, 0, sizeof(z));
	z.nr_ram = z.nr_usable = 1;
	z.ram[0] = (struct mem_range){ .base = 0, .size = 0x40000000 };
	z.usable[0] = z.ram[0];
	out = capture_print(&z);
	KT_ASSERT(t, out != NULL);
	if (!KT_EXPECT(t, strstr(out, "  0x0000000000000000  0x000000003fffffff       1 GiB  ram\n")))
		ktest_log(t, "printed: %s", out);
	KT_EXPECT(t, strstr(out, "000000000000000000") == NULL);
}

static const struct ktest_case ram_cases[] = {
	KTEST_CASE(several_banks_above_4g),
	KTEST_CASE(cells_1_1_and_own_reserved_cells),
	KTEST_CASE(overlapping_banks_merge_and_ignored_nodes),
	KTEST_CASE(usable_memory_replaces_reg),
	{ 0 },
};

static const struct ktest_case resv_cases[] = {
	KTEST_CASE(static_reservations_of_every_kind),
	KTEST_CASE(usable_is_ram_minus_reservations_in_pages),
	KTEST_CASE(dynamic_regions_placed_top_down),
	KTEST_CASE(dynamic_regions_obey_their_nodes),
	KTEST_CASE(extras_and_initrd_reserved_before_dynamic),
	KTEST_CASE(kind_names),
	{ 0 },
};

static const struct ktest_case bad_cases[] = {
	KTEST_CASE(bad_content_rejected),
	KTEST_CASE(dynamic_unplaceable_left_out),
	KTEST_CASE(names_from_the_blob_are_escaped),
	KTEST_CASE(second_reserved_memory_warned),
	KTEST_CASE(initrd_ignored_unless_asked),
	KTEST_CASE(print_shows_a_table),
	KTEST_CASE(print_shows_ram_at_zero),
	KTEST_CASE(clip_leaves_out_what_lies_above),
	{ 0 },
};

static const struct ktest_suite ram_suite = { .name = "memmap-ram", .cases = ram_cases };
static const struct ktest_suite resv_suite = { .name = "memmap-reserved", .cases = resv_cases };
static const struct ktest_suite bad_suite = { .name = "memmap-bad-input", .cases = bad_cases };

const struct ktest_suite *const test_suites[] = { &ram_suite, &resv_suite, &bad_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
