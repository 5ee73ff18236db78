// SPDX-License-Identifier: MIT
/*
 * In-kernel checks of what boot built, against what QEMU was given. The
 * runner passes its expectations on the command line:
 *   test.ram=SIZE   total RAM (-m)           test.banks=N  memory banks (NUMA nodes)
 *   test.harts=N    harts (-smp)             test.resv=NAME:KIND,...  reservations
 * Everything else is cross-checked against the device tree itself.
 * test.harts has one meaning for every suite: the harts the DT lists as
 * usable (-smp, less any disabled), MAX_HARTS or not; of those, the first
 * MAX_HARTS come online (test_smp.c).
 */
#include <kernel/arch.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/errno.h>
#include <kernel/kmap.h>
#include <kernel/ktest.h>
#include <libfdt.h>
#include <mm/bootmem.h>
#include <mm/phys.h>
#include <string.h>

static struct memmap *map(void)
{
	return &boot_info.memmap;
}

static bool ranges_overlap(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
	return a < b + bs && b < a + as;
}

static const struct resv_region *find_resv_covering(uint32_t kind, uint64_t base, uint64_t size)
{
	for (unsigned int i = 0; i < map()->nr_resv; i++) {
		const struct resv_region *r = &map()->resv[i];
		if (r->kind == kind && r->base <= base && base + size <= r->base + r->size)
			return r;
	}
	return NULL;
}

static void ram_total_matches_qemu(struct ktest *t)
{
	uint64_t want;

	if (!cmdline_get_size("test.ram", &want))
		KT_SKIP(t, "no test.ram= on the command line");
	KT_EXPECT_EQ(t, memmap_total_ram(map()), want);
}

static void ram_banks_match_qemu(struct ktest *t)
{
	uint64_t want;

	if (!cmdline_get_size("test.banks", &want))
		KT_SKIP(t, "no test.banks= on the command line");
	KT_EXPECT_EQ(t, map()->nr_ram, want);
}

static void ram_is_sorted_and_merged(struct ktest *t)
{
	KT_ASSERT(t, map()->nr_ram > 0);
	for (unsigned int i = 0; i < map()->nr_ram; i++) {
		const struct mem_range *r = &map()->ram[i];
		KT_EXPECT_GT(t, r->size, 0);
		if (i)
			KT_EXPECT_GT(t, r->base, r[-1].base + r[-1].size); /* a gap, else merged */
	}
}

static void kernel_and_dtb_are_reserved(struct ktest *t)
{
	KT_EXPECT(t, find_resv_covering(RESV_KERNEL, kimage_to_phys(_start), (uintptr_t)(_end - _start)));
	KT_EXPECT(t, find_resv_covering(RESV_DTB, boot_info.fdt_pa, boot_info.fdt_size));
}

static bool in_ram(uint64_t base, uint64_t size)
{
	for (unsigned int i = 0; i < map()->nr_ram; i++) {
		const struct mem_range *r = &map()->ram[i];
		if (base >= r->base && base + size <= r->base + r->size)
			return true;
	}
	return false;
}

static bool page_reserved(uint64_t page)
{
	for (unsigned int i = 0; i < map()->nr_resv; i++) {
		if (ranges_overlap(page, PAGE_SIZE, map()->resv[i].base, map()->resv[i].size))
			return true;
	}
	return false;
}

static bool page_usable(uint64_t page)
{
	for (unsigned int i = 0; i < map()->nr_usable; i++) {
		const struct mem_range *u = &map()->usable[i];
		if (page >= u->base && page < u->base + u->size)
			return true;
	}
	return false;
}

/* Usable is exactly the RAM pages no reservation touches. */
static void usable_is_ram_minus_reservations(struct ktest *t)
{
	uint64_t unusable_pages = 0;

	for (unsigned int i = 0; i < map()->nr_usable; i++) {
		const struct mem_range *u = &map()->usable[i];
		KT_EXPECT(t, IS_ALIGNED(u->base, PAGE_SIZE) && IS_ALIGNED(u->size, PAGE_SIZE));
		KT_EXPECT(t, u->size > 0 && in_ram(u->base, u->size));
		if (i)
			KT_EXPECT_GT(t, u->base, u[-1].base + u[-1].size);
		for (unsigned int j = 0; j < map()->nr_resv; j++)
			KT_EXPECT(t, !ranges_overlap(u->base, u->size, map()->resv[j].base,
						     map()->resv[j].size));
	}
	/* Every whole RAM page outside usable must be touched by a reservation. */
	for (unsigned int i = 0; i < map()->nr_ram; i++) {
		const struct mem_range *r = &map()->ram[i];
		uint64_t end = ALIGN_DOWN(r->base + r->size, PAGE_SIZE);
		for (uint64_t p = ALIGN_UP(r->base, PAGE_SIZE); p < end; p += PAGE_SIZE) {
			if (page_usable(p))
				continue;
			unusable_pages++;
			if (!KT_EXPECT(t, page_reserved(p))) {
				ktest_log(t, "page %#llx is neither usable nor reserved",
					  (unsigned long long)p);
				return;
			}
		}
	}
	ktest_log(t, "%llu usable MiB, %llu pages reserved", 
		  (unsigned long long)(memmap_total_usable(map()) >> 20),
		  (unsigned long long)unusable_pages);
}

static const char *reserved_kind_of(const char *name)
{
	for (unsigned int i = 0; i < map()->nr_resv; i++) {
		if (strcmp(map()->resv[i].name, name) == 0)
			return resv_kind_name(map()->resv[i].kind);
	}
	return NULL;
}

/* test.resv=NAME:KIND,NAME:KIND lists reservations the runner's DTB added. */
static void expected_reservations_present(struct ktest *t)
{
	char list[256], *p = list;

	if (!cmdline_get("test.resv", list, sizeof(list)))
		KT_SKIP(t, "no test.resv= on the command line");
	while (*p) {
		char *next = strchr(p, ',');
		char *colon = strchr(p, ':');
		if (next)
			*next = '\0';
		KT_ASSERT(t, colon != NULL);
		*colon = '\0';
		const char *kind = reserved_kind_of(p);
		if (!KT_EXPECT(t, kind != NULL))
			ktest_log(t, "reservation %s is missing", p);
		else
			KT_EXPECT_STREQ(t, kind, colon + 1);
		p = next ? next + 1 : p + strlen(p);
	}
}

static bool named_in_a_warning(const char *name)
{
	for (unsigned int i = 0; i < MIN(map()->nr_warnings, MEMMAP_MAX_WARNINGS); i++) {
		if (strstr(map()->warnings[i], name))
			return true;
	}
	return false;
}

/*
 * Independently of the parser: every available child of /reserved-memory
 * that has a reg or a size is in the map, or was left out with a warning.
 */
static void dt_reserved_children_listed(struct ktest *t)
{
	const void *fdt = boot_info.fdt;
	int parent = fdt_path_offset(fdt, "/reserved-memory");
	int node, seen = 0;

	if (parent < 0)
		KT_SKIP(t, "the device tree has no /reserved-memory");
	fdt_for_each_subnode(node, fdt, parent) {
		const char *name = fdt_get_name(fdt, node, NULL);
		if (!dt_node_is_available(fdt, node) ||
		    (!fdt_getprop(fdt, node, "reg", NULL) && !fdt_getprop(fdt, node, "size", NULL)))
			continue;
		seen++;
		if (!KT_EXPECT(t, reserved_kind_of(name) != NULL || named_in_a_warning(name)))
			ktest_log(t, "/reserved-memory/%s is not in the map", name);
	}
	if (!seen)
		KT_SKIP(t, "no available /reserved-memory child");
}

static void dynamic_regions_obey_their_node(struct ktest *t)
{
	const void *fdt = boot_info.fdt;
	int parent = fdt_path_offset(fdt, "/reserved-memory");
	int checked = 0;

	for (unsigned int i = 0; i < map()->nr_resv; i++) {
		const struct resv_region *r = &map()->resv[i];
		if (r->kind != RESV_DYNAMIC)
			continue;
		int node = fdt_subnode_offset(fdt, parent, r->name);
		KT_ASSERT(t, node >= 0);
		int ac = dt_addr_cells(fdt, parent, 2, NULL), sc = dt_size_cells(fdt, parent, 1, NULL);
		int len;
		const void *p = fdt_getprop(fdt, node, "alignment", &len);
		if (p && len == sc * 4)
			KT_EXPECT_EQ(t, r->base % dt_read_number(p, sc), 0);
		p = fdt_getprop(fdt, node, "size", &len);
		KT_ASSERT(t, p && len == sc * 4);
		KT_EXPECT_EQ(t, r->size, dt_read_number(p, sc));
		const uint8_t *ranges = fdt_getprop(fdt, node, "alloc-ranges", &len);
		bool inside = ranges == NULL;
		for (int off = 0; ranges && off + (ac + sc) * 4 <= len; off += (ac + sc) * 4) {
			uint64_t b = dt_read_number(ranges + off, ac);
			uint64_t s = dt_read_number(ranges + off + ac * 4, sc);
			inside |= r->base >= b && r->base + r->size <= b + s;
		}
		KT_EXPECT(t, inside);
		KT_EXPECT(t, in_ram(r->base, r->size));
		checked++;
	}
	if (!checked)
		KT_SKIP(t, "no dynamic reserved-memory region");
}

static const struct ktest_case memmap_cases[] = {
	KTEST_CASE(ram_total_matches_qemu),
	KTEST_CASE(ram_banks_match_qemu),
	KTEST_CASE(ram_is_sorted_and_merged),
	KTEST_CASE(kernel_and_dtb_are_reserved),
	KTEST_CASE(usable_is_ram_minus_reservations),
	KTEST_CASE(expected_reservations_present),
	KTEST_CASE(dt_reserved_children_listed),
	KTEST_CASE(dynamic_regions_obey_their_node),
	{ 0 },
};

const struct ktest_suite boot_memmap_suite = { .name = "boot-memmap", .cases = memmap_cases };

/* ---- the boot allocator, on the real map and real memory ---- */

static bool inside_usable_of(const struct memmap *m, uint64_t base, uint64_t size)
{
	for (unsigned int i = 0; i < m->nr_usable; i++) {
		if (base >= m->usable[i].base &&
		    base + size <= m->usable[i].base + m->usable[i].size)
			return true;
	}
	return false;
}

static struct memmap before;

static void bootmem_allocates_usable_memory(struct ktest *t)
{
	phys_addr_t pa;
	uint64_t allocated = bootmem_allocated(map());

	before = *map();
	KT_ASSERT_EQ(t, bootmem_alloc(map(), 3 * PAGE_SIZE, PAGE_SIZE, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT(t, inside_usable_of(&before, pa, 3 * PAGE_SIZE));
	KT_EXPECT(t, !inside_usable_of(map(), pa, PAGE_SIZE));
	KT_EXPECT(t, find_resv_covering(RESV_EARLY, pa, 3 * PAGE_SIZE) != NULL);
	KT_EXPECT_EQ(t, bootmem_allocated(map()), allocated + 3 * PAGE_SIZE);
	KT_EXPECT_EQ(t, memmap_total_usable(map()), memmap_total_usable(&before) - 3 * PAGE_SIZE);

	/* The memory is really there: write a pattern over it and read it back. */
	uint64_t *w = phys_to_virt(pa);
	for (size_t i = 0; i < 3 * PAGE_SIZE / 8; i++)
		w[i] = pa + i * 0x9e3779b97f4a7c15ULL;
	size_t bad = 0;
	for (size_t i = 0; i < 3 * PAGE_SIZE / 8; i++)
		bad += w[i] != pa + i * 0x9e3779b97f4a7c15ULL;
	KT_EXPECT_EQ(t, bad, 0);
}

static void bootmem_honours_alignment_and_limit(struct ktest *t)
{
	phys_addr_t pa, limit = map()->ram[0].base + map()->ram[0].size;

	KT_ASSERT_EQ(t, bootmem_alloc(map(), PAGE_SIZE, SZ_2M, BOOTMEM_NO_LIMIT, &pa), 0);
	KT_EXPECT(t, IS_ALIGNED(pa, SZ_2M));
	KT_ASSERT_EQ(t, bootmem_alloc(map(), PAGE_SIZE, PAGE_SIZE, limit, &pa), 0);
	KT_EXPECT_LE(t, pa + PAGE_SIZE, limit);
	KT_EXPECT_GE(t, pa, map()->ram[0].base);
}

static void bootmem_failure_changes_nothing(struct ktest *t)
{
	phys_addr_t pa = 0x1234;

	before = *map();
	KT_EXPECT_EQ(t, bootmem_alloc(map(), memmap_total_ram(map()) + PAGE_SIZE, PAGE_SIZE,
				      BOOTMEM_NO_LIMIT, &pa), -ENOMEM);
	/* below the lowest RAM nothing can be found */
	KT_EXPECT_EQ(t, bootmem_alloc(map(), PAGE_SIZE, PAGE_SIZE, map()->ram[0].base, &pa),
		     -ENOMEM);
	KT_EXPECT_EQ(t, pa, 0x1234);
	KT_EXPECT_EQ(t, memcmp(&before, map(), sizeof(before)), 0);
}

static const struct ktest_case bootmem_cases[] = {
	KTEST_CASE(bootmem_allocates_usable_memory),
	KTEST_CASE(bootmem_honours_alignment_and_limit),
	KTEST_CASE(bootmem_failure_changes_nothing),
	{ 0 },
};

const struct ktest_suite bootmem_suite = { .name = "bootmem", .cases = bootmem_cases };

/* ---- harts ---- */

static void boot_hart_has_index_zero(struct ktest *t)
{
	KT_EXPECT_EQ(t, hart_index(&boot_info.harts, boot_info.boot_hartid), 0);
	KT_EXPECT_EQ(t, boot_info.harts.id[0], boot_info.boot_hartid);
}

static void hart_count_matches_qemu(struct ktest *t)
{
	uint64_t want;

	if (!cmdline_get_size("test.harts", &want))
		KT_SKIP(t, "no test.harts= on the command line");
	KT_EXPECT_EQ(t, boot_info.harts.nr + boot_info.harts.nr_ignored, want);
}

static void hart_ids_unique_and_indexed(struct ktest *t)
{
	const struct hart_table *h = &boot_info.harts;

	KT_ASSERT(t, h->nr >= 1 && h->nr <= MAX_HARTS);
	for (unsigned int i = 0; i < h->nr; i++) {
		KT_EXPECT_EQ(t, hart_index(h, h->id[i]), i);
		for (unsigned int j = 0; j < i; j++)
			KT_EXPECT_NE(t, h->id[i], h->id[j]);
	}
	KT_EXPECT_EQ(t, hart_index(h, HART_ID_INVALID), -1);
}

/*
 * The clock the hart waits use: a rate real hardware has (32 kHz to 10 GHz;
 * Armv8.6 fixes 1 GHz), and it moves on forward within a bounded spin.
 */
static void clock_ticks_at_a_plausible_rate(struct ktest *t)
{
	uint64_t t0 = arch_read_time(), t1 = t0;

	KT_EXPECT_GE(t, arch_time_hz(), 32768);
	KT_EXPECT_LE(t, arch_time_hz(), 10000000000ULL);
	for (unsigned long n = 0; n < 100000000UL && t1 == t0; n++)
		t1 = arch_read_time();
	KT_EXPECT_GT(t, t1, t0);
	KT_EXPECT_GE(t, arch_read_time(), t1);
}

static const struct ktest_case harts_cases[] = {
	KTEST_CASE(boot_hart_has_index_zero),
	KTEST_CASE(hart_count_matches_qemu),
	KTEST_CASE(hart_ids_unique_and_indexed),
	KTEST_CASE(clock_ticks_at_a_plausible_rate),
	{ 0 },
};

const struct ktest_suite boot_harts_suite = { .name = "boot-harts", .cases = harts_cases };

/* ---- console ---- */

static void console_is_the_stdout_path_uart(struct ktest *t)
{
	const void *fdt = boot_info.fdt;
	int chosen = fdt_path_offset(fdt, "/chosen");
	const char *path = chosen >= 0 ? fdt_getprop(fdt, chosen, "stdout-path", NULL) : NULL;
	uint64_t base, size;

	if (!path)
		KT_SKIP(t, "the device tree has no /chosen/stdout-path");
	const char *colon = strchr(path, ':');
	int node = fdt_path_offset_namelen(fdt, path, colon ? (int)(colon - path) : (int)strlen(path));
	KT_ASSERT(t, node >= 0);
	if (console_stdout_is_firmware(fdt)) { /* spike's HTIF: we write through the firmware */
		KT_EXPECT_STREQ(t, console_name(), "early");
		KT_EXPECT(t, arch_early_console_write("", 0));
		return;
	}
	KT_ASSERT_EQ(t, dt_reg(fdt, node, 0, &base, &size, NULL), 0);
	KT_EXPECT_EQ(t, console_base(), base);
	KT_EXPECT(t, strcmp(console_name(), "early") != 0);
}

static const struct ktest_case console_cases[] = {
	KTEST_CASE(console_is_the_stdout_path_uart),
	{ 0 },
};

const struct ktest_suite boot_console_suite = { .name = "boot-console", .cases = console_cases };
