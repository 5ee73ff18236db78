// SPDX-License-Identifier: MIT
/* The kernel's final page tables: built once at boot, W^X, with a direct map of RAM. */
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/compiler.h>
#include <kernel/errno.h>
#include <kernel/kmap.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <mm/buddy.h>
#include <mm/frame.h>
#include <mm/phys.h>

struct mmu_space kernel_space;
bool kmap_live;

#ifdef CONFIG_MMU_DEBUG_ALLOW_WX
#define KMAP_FLAGS MMU_ALLOW_WX
#else
#define KMAP_FLAGS 0
#endif

#define PROT_KERNEL (MMU_PROT_READ | MMU_PROT_GLOBAL)
#define PROT_KERNEL_RW (PROT_KERNEL | MMU_PROT_WRITE)
#define PROT_MMIO (PROT_KERNEL_RW | MMU_PROT_DEVICE)

static const struct memmap *boot_map;

/* Sv39 has no memory types (the PMAs decide): MMIO is what is not RAM. */
static bool is_mmio(phys_addr_t pa, unsigned int prot)
{
	if (prot & MMU_PROT_DEVICE)
		return true;
	for (unsigned int i = 0; boot_map && i < boot_map->nr_ram; i++)
		if (pa >= boot_map->ram[i].base && pa - boot_map->ram[i].base < boot_map->ram[i].size)
			return false;
	return true;
}

/* MMIO asked for before the final tables exist: kmap_init() maps it. */
#define EARLY_MMIO_MAX 16
static struct mem_range early_mmio[EARLY_MMIO_MAX];
static unsigned int nr_early_mmio;

/* Maps [base, end) as MMIO, accepting pages some earlier ioremap() already mapped as such. */
static int map_mmio(phys_addr_t base, phys_addr_t end)
{
	int err = mmu_map(&kernel_space, DIRECT_MAP_BASE + base, base, end - base, PROT_MMIO, 0);

	if (err != -EEXIST)
		return err;
	for (phys_addr_t pa = base; pa < end; pa += PAGE_SIZE) {
		unsigned int prot;

		if (mmu_translate(&kernel_space, DIRECT_MAP_BASE + pa, NULL, &prot, NULL) < 0)
			err = mmu_map(&kernel_space, DIRECT_MAP_BASE + pa, pa, PAGE_SIZE, PROT_MMIO, 0);
		else
			err = is_mmio(pa, prot) ? 0 : -EEXIST; /* RAM is not MMIO */
		if (err)
			return err;
	}
	return 0;
}

void *ioremap(phys_addr_t pa, uint64_t size)
{
	phys_addr_t base = ALIGN_DOWN(pa, PAGE_SIZE);
	phys_addr_t end = ALIGN_UP(pa + size, PAGE_SIZE);
	uint64_t limit = kmap_live ? DIRECT_MAP_SIZE : BOOT_DIRECT_MAP_SIZE;
	int err;

	if (!size || end <= base || end > limit) {
		printk("ioremap: %#llx+%#llx is outside the %llu GiB the kernel can map\n",
		       (unsigned long long)pa, (unsigned long long)size,
		       (unsigned long long)(limit >> 30));
		return NULL;
	}
	if (!kmap_live) {
		for (unsigned int i = 0; i < nr_early_mmio; i++)
			if (early_mmio[i].base == base && early_mmio[i].size == end - base)
				return phys_to_virt(pa);
		if (nr_early_mmio == EARLY_MMIO_MAX) {
			printk("ioremap: more than %u early MMIO regions\n", EARLY_MMIO_MAX);
			return NULL;
		}
		early_mmio[nr_early_mmio++] = (struct mem_range){ base, end - base };
		return phys_to_virt(pa);
	}
	err = map_mmio(base, end);
	if (err) {
		printk("ioremap: cannot map %#llx-%#llx as MMIO (error %d%s)\n",
		       (unsigned long long)base, (unsigned long long)end, err,
		       err == -EEXIST ? ": it is RAM" : "");
		return NULL;
	}
	return phys_to_virt(pa);
}

/* ---- building the tables --------------------------------------------------- */

static void must_map(const char *what, uint64_t va, phys_addr_t pa, uint64_t size,
		     unsigned int prot)
{
	int err = mmu_map(&kernel_space, va, pa, size, prot, KMAP_FLAGS);

	if (err)
		panic("kmap: cannot map %s (%#llx-%#llx -> %#llx): error %d", what,
		      (unsigned long long)va, (unsigned long long)(va + size),
		      (unsigned long long)pa, err);
}

static void map_image_part(const char *what, const char *start, const char *end,
			   unsigned int prot)
{
	if (end > start)
		must_map(what, (uintptr_t)start, kimage_to_phys(start), end - start, prot);
}

static bool is_nomap(const struct resv_region *r)
{
	return r->kind == RESV_NOMAP || (r->flags & RESV_F_NOMAP);
}

static void map_ram_piece(phys_addr_t base, phys_addr_t end)
{
	if (base >= end)
		return;
	if (end > DIRECT_MAP_SIZE) {
		printk("kmap: RAM %#llx-%#llx is beyond the direct map's %llu GiB: not mapped\n",
		       (unsigned long long)MAX(base, (phys_addr_t)DIRECT_MAP_SIZE),
		       (unsigned long long)end, (unsigned long long)(DIRECT_MAP_SIZE >> 30));
		end = DIRECT_MAP_SIZE;
		if (base >= end)
			return;
	}
	must_map("the direct map", DIRECT_MAP_BASE + base, base, end - base, PROT_KERNEL_RW);
}

/* Every whole page of RAM, minus the no-map reservations (rounded out to pages). */
static void map_direct(const struct memmap *m)
{
	for (unsigned int i = 0; i < m->nr_ram; i++) {
		phys_addr_t cur = ALIGN_UP(m->ram[i].base, PAGE_SIZE);
		phys_addr_t end = ALIGN_DOWN(m->ram[i].base + m->ram[i].size, PAGE_SIZE);

		for (unsigned int j = 0; j < m->nr_resv && cur < end; j++) {
			const struct resv_region *r = &m->resv[j];
			phys_addr_t rs = ALIGN_DOWN(r->base, PAGE_SIZE);
			phys_addr_t re = ALIGN_UP(r->base + r->size, PAGE_SIZE);

			if (!is_nomap(r) || re <= cur || rs >= end)
				continue;
			map_ram_piece(cur, MIN(rs, end));
			cur = MAX(cur, re);
		}
		map_ram_piece(cur, end);
	}
}

/* The DTB stays readable after the switch even where it is not RAM (say, in flash). */
static void map_dtb(phys_addr_t pa, uint64_t size)
{
	phys_addr_t base = ALIGN_DOWN(pa, PAGE_SIZE), end = ALIGN_UP(pa + size, PAGE_SIZE);

	for (phys_addr_t p = base; p < end; p += PAGE_SIZE)
		if (mmu_translate(&kernel_space, DIRECT_MAP_BASE + p, NULL, NULL, NULL) < 0)
			must_map("the DTB", DIRECT_MAP_BASE + p, p, PAGE_SIZE, PROT_KERNEL);
}

/* ---- the layout in the boot log -------------------------------------------- */

struct kregion {
	const char *name;
	uintptr_t start, end; /* where it may be */
	uintptr_t lo, hi;     /* what is mapped there */
	uint64_t bytes;
	unsigned long leaves[3]; /* 4 KiB, 2 MiB, 1 GiB */
	unsigned int prot_or, prot_and;
};

enum { R_TEXT, R_RODATA, R_DATA, R_ALIAS, R_MMIO, R_DIRECT, R_OTHER, NR_REGIONS };

struct layout {
	struct kregion r[NR_REGIONS];
	unsigned long wx, leaves;
};

static void region(struct layout *l, int i, const char *name, uintptr_t start, uintptr_t end)
{
	struct kregion *r = &l->r[i];

	r->name = name;
	r->start = start;
	r->end = end;
	r->lo = UINTPTR_MAX;
	r->prot_and = MMU_PROT_ALL;
}

static void layout_init(struct layout *l)
{
	uintptr_t alias = DIRECT_MAP_BASE + kernel_phys_base;

	*l = (struct layout){ 0 };
	region(l, R_TEXT, "text", (uintptr_t)_start, (uintptr_t)_etext);
	region(l, R_RODATA, "rodata", (uintptr_t)_etext, (uintptr_t)_erodata);
	region(l, R_DATA, "data+bss", (uintptr_t)_erodata, (uintptr_t)_end);
	region(l, R_ALIAS, "image alias", alias, alias + (_erodata - _start));
	region(l, R_MMIO, "mmio", DIRECT_MAP_BASE, DIRECT_MAP_BASE + DIRECT_MAP_SIZE);
	region(l, R_DIRECT, "direct map", DIRECT_MAP_BASE, DIRECT_MAP_BASE + DIRECT_MAP_SIZE);
	region(l, R_OTHER, "other", 0, UINTPTR_MAX);
}

static int layout_leaf(uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot, void *arg)
{
	struct layout *l = arg;
	struct kregion *r = l->r;
	int i;

	for (i = 0; i < NR_REGIONS - 1; i++) {
		if (i == R_MMIO && !is_mmio(pa, prot))
			continue;
		if (va >= r[i].start && va < r[i].end)
			break;
	}
	r += i;
	r->lo = MIN(r->lo, va);
	r->hi = MAX(r->hi, va + size);
	r->bytes += size;
	r->leaves[size == SZ_1G ? 2 : size == SZ_2M ? 1 : 0]++;
	r->prot_or |= prot;
	r->prot_and &= prot;
	l->leaves++;
	if ((prot & MMU_PROT_WRITE) && (prot & MMU_PROT_EXEC)) {
		if (l->wx++ < 8)
			printk("kmap: W+X mapping %#llx-%#llx\n", (unsigned long long)va,
			       (unsigned long long)(va + size));
	}
	return 0;
}

static const char *prot_string(unsigned int prot, char *buf)
{
	buf[0] = (prot & MMU_PROT_READ) ? 'r' : '-';
	buf[1] = (prot & MMU_PROT_WRITE) ? 'w' : '-';
	buf[2] = (prot & MMU_PROT_EXEC) ? 'x' : '-';
	buf[3] = 0;
	return buf;
}

static void print_size(uint64_t bytes)
{
	if (bytes >= SZ_1G && IS_ALIGNED(bytes, SZ_1G / 16))
		printk("%7llu.%02llu GiB", (unsigned long long)(bytes >> 30),
		       (unsigned long long)((bytes & (SZ_1G - 1)) * 100 >> 30));
	else if (bytes >= SZ_2M)
		printk("%7llu.%02llu MiB", (unsigned long long)(bytes >> 20),
		       (unsigned long long)((bytes & (SZ_1G / 1024 - 1)) * 100 >> 20));
	else
		printk("%7llu KiB    ", (unsigned long long)(bytes >> 10));
}

static void print_layout(void)
{
	static const char *const leaf_names[3] = { "4K", "2M", "1G" };
	struct layout l;
	char p1[4], p2[4];

	layout_init(&l);
	mmu_iterate(&kernel_space, layout_leaf, &l);
	printk("kmap: kernel address space (%s, %llu table pages):\n", kernel_space.fmt->name,
	       (unsigned long long)kernel_space.nr_tables);
	for (int i = 0; i < NR_REGIONS; i++) {
		const struct kregion *r = &l.r[i];

		if (!r->bytes)
			continue;
		printk("kmap:   %-12s %016llx-%016llx ", r->name, (unsigned long long)r->lo,
		       (unsigned long long)r->hi);
		print_size(r->bytes);
		printk(" %s", prot_string(r->prot_or, p1));
		if (r->prot_or != r->prot_and)
			printk(" (some %s)", prot_string(r->prot_and, p2));
		if (r->prot_or & MMU_PROT_DEVICE)
			printk(" device");
		for (int s = 2; s >= 0; s--)
			if (r->leaves[s])
				printk(", %lu x %s", r->leaves[s], leaf_names[s]);
		printk("\n");
	}
	if (l.wx)
		printk("kmap: W^X VIOLATED: %lu of %lu leaves are writable and executable\n", l.wx,
		       l.leaves);
	else
		printk("kmap: W^X holds: none of %lu leaves is writable and executable\n", l.leaves);
#ifndef CONFIG_MMU_DEBUG_ALLOW_WX
	if (l.wx)
		panic("kmap: W+X mappings without CONFIG_MMU_DEBUG_ALLOW_WX");
#endif
}

/*
 * Until the final tables are live, a new table page is written through the
 * boot tables' direct map, which may end below RAM's (arm64: 512 GiB).
 */
static int table_alloc(struct mmu_space *s, phys_addr_t *pa)
{
	int err = buddy_alloc_ex(0, 0, kmap_live ? BUDDY_NO_LIMIT : BOOT_DIRECT_MAP_SIZE, 0, pa);

	(void)s;
	if (!err)
		frame_set_owner(*pa, 0, FRAME_PAGETABLE, 0, 0);
	return err;
}

static void table_free(struct mmu_space *s, phys_addr_t pa)
{
	(void)s;
	buddy_free(pa, 0);
}

void kmap_init(const struct memmap *m, phys_addr_t fdt_pa, uint64_t fdt_size)
{
	int err;

	kernel_space.alloc_table = table_alloc;
	kernel_space.free_table = table_free;
	err = mmu_space_init(&kernel_space, arch_kernel_pte_format, &arch_kernel_tlb_ops,
			     arch_kernel_space_flags);

	if (err)
		panic("kmap: no memory for the kernel's root table (error %d)", err);
	boot_map = m;
	map_image_part("the kernel text", _start, _etext, PROT_KERNEL | MMU_PROT_EXEC);
	map_image_part("the kernel rodata", _etext, _erodata, PROT_KERNEL);
	map_image_part("the kernel data", _erodata, _end, PROT_KERNEL_RW);
	map_direct(m);
	/* The image's code and constants are not writable through the direct map either. */
	err = mmu_protect(&kernel_space, DIRECT_MAP_BASE + kernel_phys_base, _erodata - _start,
			  PROT_KERNEL, 0);
	if (err)
		panic("kmap: cannot make the image's direct-map alias read-only: error %d", err);
	map_dtb(fdt_pa, fdt_size);
	for (unsigned int i = 0; i < nr_early_mmio; i++) {
		phys_addr_t base = early_mmio[i].base;

		err = map_mmio(base, base + early_mmio[i].size);
		if (err)
			panic("kmap: cannot map MMIO %#llx-%#llx: error %d", (unsigned long long)base,
			      (unsigned long long)(base + early_mmio[i].size), err);
	}

	arch_mmu_load(kernel_space.root);
	kmap_live = true;
	print_layout();
}

/* ---- fault reports ---------------------------------------------------------- */

void kmap_describe(uintptr_t va)
{
	struct layout l;
	phys_addr_t pa;
	unsigned int prot;
	char p[4];

	if (!kmap_live) {
		printk("  %#lx: the boot page tables are still in use\n", (unsigned long)va);
		return;
	}
	if (mmu_translate(&kernel_space, va, &pa, &prot, NULL) < 0) {
		printk("  %#lx is not mapped\n", (unsigned long)va);
		return;
	}
	layout_init(&l);
	for (int i = 0; i < NR_REGIONS; i++) {
		if (i == R_MMIO && !is_mmio(pa, prot))
			continue;
		if (va >= l.r[i].start && va < l.r[i].end) {
			printk("  %#lx is in the %s, mapped %s%s to %#llx\n", (unsigned long)va,
			       l.r[i].name, prot_string(prot, p),
			       (prot & MMU_PROT_DEVICE) ? " device" : "", (unsigned long long)pa);
			return;
		}
	}
}
