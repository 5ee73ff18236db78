// SPDX-License-Identifier: MIT
/*
 * The kernel's final page tables, checked from inside: the kernel runs in
 * the higher half, the image is W^X, the direct map holds every RAM page and
 * nothing else, and the faults W^X promises really happen (each is caught by
 * a probe, recorded, and the test goes on).
 */
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/errno.h>
#include <kernel/fault.h>
#include <kernel/kmap.h>
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/phys.h>

#define RW (MMU_PROT_READ | MMU_PROT_WRITE)

static uint64_t data_word = 0x1234; /* in .data */
/* a function's worth of code in .data: executing it must fault */
static uint32_t code_in_data[4] __aligned(16) = { 0 };

static unsigned int prot_of(uintptr_t va, phys_addr_t *pa)
{
	unsigned int prot;

	if (mmu_translate(&kernel_space, va, pa, &prot, NULL) < 0)
		return 0;
	return prot & (RW | MMU_PROT_EXEC);
}

static void runs_in_the_higher_half(struct ktest *t)
{
	int on_stack;

	KT_ASSERT(t, kmap_live);
	KT_EXPECT_EQ(t, arch_mmu_root(), kernel_space.root);
	KT_EXPECT_GE(t, (uintptr_t)runs_in_the_higher_half, KERNEL_VIRT_BASE);
	KT_EXPECT_GE(t, (uintptr_t)&on_stack, KERNEL_VIRT_BASE);
	KT_EXPECT_GE(t, (uintptr_t)boot_info.fdt, DIRECT_MAP_BASE);
	KT_EXPECT_EQ(t, (uintptr_t)phys_to_virt(0x1000), DIRECT_MAP_BASE + 0x1000);
}

/*
 * The hart translates in the mode of the kernel space's format, whose upper
 * half holds the direct map, below the vmap window; test.mmu=NAME (the boot
 * matrix's expectation: no5lvl, no4lvl) names that mode.
 */
static void translation_mode(struct ktest *t)
{
	const struct pte_format *f = kernel_space.fmt;
	uint64_t upper = ~0ULL << (f->va_bits - (f->split_halves ? 0 : 1));
	char want[16];

	KT_EXPECT(t, f == arch_kernel_pte_format);
#ifdef CONFIG_RISCV
	unsigned long satp;

	__asm__ volatile("csrr %0, satp" : "=r"(satp));
	KT_EXPECT_EQ(t, satp >> 60, 8 + f->levels - 3); /* Sv39 8, Sv48 9, Sv57 10 */
#endif
	KT_EXPECT_EQ(t, DIRECT_MAP_BASE & upper, upper);
	KT_EXPECT_LE(t, DIRECT_MAP_BASE + DIRECT_MAP_SIZE, VMAP_BASE);
	if (cmdline_get("test.mmu", want, sizeof(want)))
		KT_EXPECT_STREQ(t, f->name, want);
	ktest_log(t, "%s: %u levels, direct map %#llx + %#llx", f->name, f->levels,
		  (unsigned long long)DIRECT_MAP_BASE, (unsigned long long)DIRECT_MAP_SIZE);
}

static void image_is_w_xor_x(struct ktest *t)
{
	phys_addr_t pa;

	KT_EXPECT_EQ(t, prot_of((uintptr_t)_start, &pa), MMU_PROT_READ | MMU_PROT_EXEC);
	KT_EXPECT_EQ(t, pa, kernel_phys_base);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)_etext - 1, NULL), MMU_PROT_READ | MMU_PROT_EXEC);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)_etext, NULL), MMU_PROT_READ);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)&arch_ret_insn, NULL), MMU_PROT_READ);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)&data_word, &pa), RW);
	KT_EXPECT_EQ(t, pa, kimage_to_phys(&data_word));
	KT_EXPECT_EQ(t, prot_of((uintptr_t)&kernel_space, NULL), RW); /* bss */
	KT_EXPECT_EQ(t, prot_of((uintptr_t)_end - 1, NULL), RW);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)_end, NULL), 0);
	/* the image's alias in the direct map: text and rodata read-only, data read+write */
	KT_EXPECT_EQ(t, prot_of((uintptr_t)phys_to_virt(kernel_phys_base), NULL), MMU_PROT_READ);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)phys_to_virt(kimage_to_phys(_erodata) - 1), NULL),
		     MMU_PROT_READ);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)phys_to_virt(kimage_to_phys(&data_word)), NULL), RW);
}

struct wx_count {
	unsigned long leaves, wx;
};

static int count_wx(uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot, void *arg)
{
	struct wx_count *c = arg;

	(void)va, (void)pa, (void)size;
	c->leaves++;
	c->wx += (prot & MMU_PROT_WRITE) && (prot & MMU_PROT_EXEC);
	return 0;
}

static void no_mapping_is_writable_and_executable(struct ktest *t)
{
	struct wx_count c = { 0 };

	KT_EXPECT_EQ(t, mmu_iterate(&kernel_space, count_wx, &c), 0);
	KT_EXPECT_GT(t, c.leaves, 0);
	KT_EXPECT_EQ(t, c.wx, 0);
}

static bool is_nomap(const struct resv_region *r)
{
	return r->kind == RESV_NOMAP || (r->flags & RESV_F_NOMAP);
}

/* Bytes of [base, base + size) that are in RAM (or, nomap: in a no-map reservation), whole pages. */
static uint64_t overlap(phys_addr_t base, uint64_t size, bool nomap)
{
	const struct memmap *m = &boot_info.memmap;
	uint64_t n = 0;
	unsigned int nr = nomap ? m->nr_resv : m->nr_ram;

	for (unsigned int i = 0; i < nr; i++) {
		phys_addr_t rb, re;

		if (nomap && !is_nomap(&m->resv[i]))
			continue;
		rb = nomap ? m->resv[i].base : m->ram[i].base;
		re = rb + (nomap ? m->resv[i].size : m->ram[i].size);
		/* no-map rounds out to pages, RAM in */
		rb = nomap ? ALIGN_DOWN(rb, PAGE_SIZE) : ALIGN_UP(rb, PAGE_SIZE);
		re = nomap ? ALIGN_UP(re, PAGE_SIZE) : ALIGN_DOWN(re, PAGE_SIZE);
		if (re > base && rb < base + size)
			n += MIN(re, base + size) - MAX(rb, base);
	}
	return n;
}

struct direct_check {
	uint64_t ram_bytes, bad;
	uintptr_t first_bad;
};

/*
 * Every leaf of the direct-map window maps va - DIRECT_MAP_BASE, is never
 * executable and holds no no-map page.
 */
static int check_direct_leaf(uint64_t va, phys_addr_t pa, uint64_t size, unsigned int prot,
			     void *arg)
{
	struct direct_check *c = arg;

	if (va < DIRECT_MAP_BASE || va - DIRECT_MAP_BASE >= DIRECT_MAP_SIZE)
		return 0;
	if (pa != va - DIRECT_MAP_BASE || (prot & MMU_PROT_EXEC) || overlap(pa, size, true)) {
		if (!c->bad++)
			c->first_bad = va;
		return 0;
	}
	c->ram_bytes += overlap(pa, size, false);
	return 0;
}

/* The whole pages of RAM minus the no-map ones are all mapped, and nothing else of RAM. */
static void direct_map_holds_every_ram_page(struct ktest *t)
{
	const struct memmap *m = &boot_info.memmap;
	struct direct_check c = { 0 };
	uint64_t ram = 0, nomap = 0;

	for (unsigned int i = 0; i < m->nr_ram; i++) {
		phys_addr_t base = ALIGN_UP(m->ram[i].base, PAGE_SIZE);
		phys_addr_t end = ALIGN_DOWN(m->ram[i].base + m->ram[i].size, PAGE_SIZE);

		if (end > base) {
			ram += end - base;
			nomap += overlap(base, end - base, true);
		}
	}
	KT_EXPECT_EQ(t, mmu_iterate(&kernel_space, check_direct_leaf, &c), 0);
	KT_EXPECT_EQ(t, c.bad, 0);
	if (c.bad)
		ktest_log(t, "first bad leaf at %#lx", (unsigned long)c.first_bad);
	KT_EXPECT_EQ(t, c.ram_bytes, ram - nomap);
	/* and the walk agrees page by page at the edges of each usable range */
	for (unsigned int i = 0; i < m->nr_usable; i++) {
		phys_addr_t first = m->usable[i].base;
		phys_addr_t last = first + m->usable[i].size - PAGE_SIZE;
		phys_addr_t pa;

		KT_EXPECT_EQ(t, mmu_translate(&kernel_space, (uintptr_t)phys_to_virt(first), &pa, NULL, NULL), 0);
		KT_EXPECT_EQ(t, pa, first);
		KT_EXPECT_EQ(t, mmu_translate(&kernel_space, (uintptr_t)phys_to_virt(last), &pa, NULL, NULL), 0);
		KT_EXPECT_EQ(t, pa, last);
	}
	for (unsigned int i = 0; i < m->nr_resv; i++) {
		uint64_t v;

		if (!is_nomap(&m->resv[i]) || !overlap(m->resv[i].base, m->resv[i].size, false))
			continue;
		KT_EXPECT_EQ(t, probe_read((uintptr_t)phys_to_virt(m->resv[i].base), &v), -EFAULT);
	}
	ktest_log(t, "%llu MiB of RAM in the direct map, %llu KiB of no-map RAM left out",
		  (unsigned long long)((ram - nomap) >> 20), (unsigned long long)(nomap >> 10));
}

/* The last few bytes of each bank, through the direct map (the buddy test writes every free frame). */
static void direct_map_reaches_every_bank(struct ktest *t)
{
	const struct memmap *m = &boot_info.memmap;
	unsigned int banks = 0;

	for (unsigned int i = 0; i < m->nr_usable; i++) {
		phys_addr_t last = m->usable[i].base + m->usable[i].size - sizeof(uint64_t);
		volatile uint64_t *w = phys_to_virt(last);
		uint64_t old = *w;

		*w = last ^ 0x5a5a5a5a5a5a5a5aULL;
		KT_EXPECT_EQ(t, *w, last ^ 0x5a5a5a5a5a5a5a5aULL);
		*w = old;
		banks++;
	}
	KT_EXPECT_GT(t, banks, 0);
}

/* One probe: it must fault once, with this access at this address. */
static void expect_fault(struct ktest *t, int ret, enum fault_access access, uintptr_t addr,
			 unsigned long faults_before)
{
	const struct fault_info *f = fault_last();

	KT_EXPECT_EQ(t, ret, -EFAULT);
	KT_EXPECT_EQ(t, fault_count(), faults_before + 1);
	KT_EXPECT_EQ(t, f->access, access);
	KT_EXPECT_EQ(t, f->addr, addr);
	if (access == FAULT_EXEC)
		KT_EXPECT_EQ(t, f->pc, addr);
	ktest_log(t, "%#lx: %s (cause %#lx), as expected", (unsigned long)addr, f->what, f->cause);
}

/* Writes back what is there, so a missing fault corrupts nothing. */
static void expect_write_fault(struct ktest *t, uintptr_t addr)
{
	uint64_t v = 0;
	unsigned long n = fault_count();

	KT_ASSERT_EQ(t, probe_read(addr, &v), 0);
	expect_fault(t, probe_write(addr, v), FAULT_WRITE, addr, n);
}

static void writing_kernel_text_faults(struct ktest *t)
{
	expect_write_fault(t, (uintptr_t)writing_kernel_text_faults);
	expect_write_fault(t, (uintptr_t)&arch_ret_insn); /* rodata */
	/* and through the direct map */
	expect_write_fault(t, (uintptr_t)phys_to_virt(kimage_to_phys(writing_kernel_text_faults)));
}

static void executing_data_faults(struct ktest *t)
{
	unsigned long n = fault_count();
	uint32_t *page;
	phys_addr_t pa;

	code_in_data[0] = arch_ret_insn;
	arch_sync_icache((uintptr_t)code_in_data, sizeof(code_in_data));
	expect_fault(t, probe_exec((uintptr_t)code_in_data), FAULT_EXEC, (uintptr_t)code_in_data, n);

	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	page = phys_to_virt(pa);
	page[0] = arch_ret_insn;
	arch_sync_icache((uintptr_t)page, sizeof(*page));
	n = fault_count();
	expect_fault(t, probe_exec((uintptr_t)page), FAULT_EXEC, (uintptr_t)page, n);
	buddy_free(pa, 0);

	/* and the probe itself works: executing real text returns 0 */
	KT_EXPECT_EQ(t, probe_exec((uintptr_t)&arch_sync_icache), 0);
}

static void reading_unmapped_faults(struct ktest *t)
{
	const uintptr_t addrs[] = {
		KERNEL_VIRT_BASE - PAGE_SIZE,		    /* just below the image */
		(uintptr_t)_end,			    /* just above it */
		VMAP_BASE,				    /* nothing mapped there yet */
		DIRECT_MAP_BASE + DIRECT_MAP_SIZE - PAGE_SIZE, /* no RAM up there */
		0x1000,					    /* the lower half */
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(addrs); i++) {
		unsigned long n = fault_count();
		uint64_t v;

		expect_fault(t, probe_read(addrs[i], &v), FAULT_READ, addrs[i], n);
	}
}

/*
 * A live mapping changes under a hart that has used it: without the TLB
 * maintenance the old translation would still be in QEMU's TLB and the
 * access would not fault.
 */
static void live_changes_reach_the_tlb(struct ktest *t)
{
	const uintptr_t va = VMAP_BASE + 16 * PAGE_SIZE;
	unsigned long n;
	phys_addr_t pa;
	uint64_t v;

	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	KT_ASSERT_EQ(t, mmu_map(&kernel_space, va, pa, PAGE_SIZE, RW | MMU_PROT_GLOBAL, 0), 0);
	KT_EXPECT_EQ(t, probe_write(va, 0xfeedULL), 0);
	KT_EXPECT_EQ(t, *(uint64_t *)phys_to_virt(pa), 0xfeedULL);

	KT_EXPECT_EQ(t, mmu_protect(&kernel_space, va, PAGE_SIZE, MMU_PROT_READ | MMU_PROT_GLOBAL, 0), 0);
	n = fault_count();
	expect_fault(t, probe_write(va, 1), FAULT_WRITE, va, n);
	KT_EXPECT_EQ(t, probe_read(va, &v), 0);
	KT_EXPECT_EQ(t, v, 0xfeedULL);

	KT_EXPECT_EQ(t, mmu_protect(&kernel_space, va, PAGE_SIZE, RW | MMU_PROT_GLOBAL, 0), 0);
	KT_EXPECT_EQ(t, probe_write(va, 2), 0);

	KT_EXPECT_EQ(t, mmu_unmap(&kernel_space, va, PAGE_SIZE), 0);
	n = fault_count();
	expect_fault(t, probe_read(va, &v), FAULT_READ, va, n);
	KT_EXPECT_EQ(t, *(uint64_t *)phys_to_virt(pa), 2);
	buddy_free(pa, 0);
}

static void write_and_execute_refused(struct ktest *t)
{
	phys_addr_t pa;
	int want = -EINVAL;

#ifdef CONFIG_MMU_DEBUG_ALLOW_WX
	KT_SKIP(t, "CONFIG_MMU_DEBUG_ALLOW_WX=y lets W+X through");
#endif
	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	KT_EXPECT_EQ(t, mmu_map(&kernel_space, VMAP_BASE, pa, PAGE_SIZE, RW | MMU_PROT_EXEC, 0), want);
	KT_EXPECT_EQ(t, mmu_translate(&kernel_space, VMAP_BASE, NULL, NULL, NULL), -ENOENT);
	KT_EXPECT_EQ(t, mmu_protect(&kernel_space, (uintptr_t)&data_word, PAGE_SIZE,
				    RW | MMU_PROT_EXEC | MMU_PROT_GLOBAL, 0), want);
	KT_EXPECT_EQ(t, prot_of((uintptr_t)&data_word, NULL), RW);
	buddy_free(pa, 0);
}

static void ioremap_maps_device_memory(struct ktest *t)
{
	phys_addr_t uart = console_base();
	unsigned int prot;
	void *p;

	if (!uart)
		KT_SKIP(t, "no DT console");
	p = ioremap(uart, 8);
	KT_EXPECT_EQ(t, (uintptr_t)p, (uintptr_t)phys_to_virt(uart));
	KT_ASSERT_EQ(t, mmu_translate(&kernel_space, (uintptr_t)p, NULL, &prot, NULL), 0);
	KT_EXPECT(t, !(prot & MMU_PROT_EXEC));
	if (kernel_space.fmt->prot_mask & MMU_PROT_DEVICE)
		KT_EXPECT(t, prot & MMU_PROT_DEVICE);
	/* RAM is not MMIO */
	ktest_log(t, "ioremap of RAM and beyond the direct map: refused, as expected:");
	KT_EXPECT(t, ioremap(boot_info.memmap.usable[0].base, PAGE_SIZE) == NULL);
	KT_EXPECT(t, ioremap(DIRECT_MAP_SIZE, PAGE_SIZE) == NULL);
}

static const struct ktest_case kmap_cases[] = {
	KTEST_CASE(runs_in_the_higher_half),
	KTEST_CASE(translation_mode),
	KTEST_CASE(image_is_w_xor_x),
	KTEST_CASE(no_mapping_is_writable_and_executable),
	KTEST_CASE(direct_map_holds_every_ram_page),
	KTEST_CASE(direct_map_reaches_every_bank),
	KTEST_CASE(writing_kernel_text_faults),
	KTEST_CASE(executing_data_faults),
	KTEST_CASE(reading_unmapped_faults),
	KTEST_CASE(live_changes_reach_the_tlb),
	KTEST_CASE(write_and_execute_refused),
	KTEST_CASE(ioremap_maps_device_memory),
	{ 0 },
};

const struct ktest_suite kmap_suite = { .name = "kmap", .cases = kmap_cases };
