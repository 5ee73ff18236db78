// SPDX-License-Identifier: MIT
/*
 * The kernel's translation mode (Sv39, Sv48 or Sv57: the widest the hart
 * takes), satp, and sfence.vma (this hart only until there are others).
 */
#include <asm/layout.h>
#include <asm/sbi.h>
#include <kernel/arch.h>
#include <kernel/cmdline.h>
#include <kernel/compiler.h>
#include <kernel/hart.h>
#include <kernel/kmap.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <libfdt.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <mm/pte.h>
#include <string.h>

#define SATP_MODE_SHIFT 60
#define SATP_MODE_SV39 8UL
#define SATP_PPN_MASK ((1UL << 44) - 1)

struct riscv_mode {
	const struct pte_format *fmt;
	unsigned long satp_mode;
	uint64_t direct_map_base, direct_map_size;
	const char *ruled_out_by[2]; /* command-line words that forbid it, as Linux's */
};

/* Widest first. Each direct map ends below the top 256 GiB that all three share. */
static const struct riscv_mode modes[] = {
	{ &pte_format_sv57, 10, 0xff00000000000000, 1ULL << 55, { "no5lvl", "no4lvl" } },
	{ &pte_format_sv48, 9, 0xffff800000000000, 1ULL << 46, { "no4lvl", NULL } },
	{ &pte_format_sv39, SATP_MODE_SV39, SV39_DIRECT_MAP_BASE, SV39_DIRECT_MAP_SIZE, { NULL } },
};

/* head.S starts in Sv39; arch_mmu_pick_mode() may move all of these on. */
uint64_t riscv_direct_map_base = SV39_DIRECT_MAP_BASE;
uint64_t riscv_direct_map_size = SV39_DIRECT_MAP_SIZE;
const struct pte_format *arch_kernel_pte_format = &pte_format_sv39;
static unsigned long satp_mode = SATP_MODE_SV39;

/* A wider mode's boot root, and Sv57's table under it for the top 512 GiB. */
static pte_t wide_root[PTE_PER_TABLE] __aligned(PAGE_SIZE);
static pte_t wide_mid[PTE_PER_TABLE] __aligned(PAGE_SIZE);

/*
 * sfence.vma reaches only this hart: the others that may cache the space's
 * entries (s->harts, dense indexes) get an SBI remote fence of [va, va +
 * size), which returns once they have all done it. One call covers every
 * hart whose ID is within 64 of the lowest not yet covered (SBI's hart
 * mask and base), so a shootdown is one round trip, not one per hart.
 */
static void remote_fence(struct mmu_space *s, uint64_t va, uint64_t size)
{
	uint64_t todo[ARRAY_SIZE(s->harts)];
	unsigned int me = this_hart_index();

	memcpy(todo, s->harts, sizeof(todo));
	todo[me / 64] &= ~(1ULL << (me % 64));
	for (;;) {
		uint64_t base = ~0ULL, mask = 0;

		for (unsigned int i = 0; i < MAX_HARTS; i++)
			if (todo[i / 64] >> (i % 64) & 1)
				base = MIN(base, hart_locals[i].hartid);
		if (base == ~0ULL)
			return;
		for (unsigned int i = 0; i < MAX_HARTS; i++) {
			uint64_t id = hart_locals[i].hartid;

			if ((todo[i / 64] >> (i % 64) & 1) && id - base < 64) {
				mask |= 1ULL << (id - base);
				todo[i / 64] &= ~(1ULL << (i % 64));
			}
		}
		sbi_ecall(SBI_EXT_RFENCE, SBI_RFENCE_SFENCE_VMA, mask, base, va, size);
	}
}

static void riscv_flush_page(struct mmu_space *s, uint64_t va)
{
	__asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory");
	remote_fence(s, va, PAGE_SIZE);
}

/* The other harts flush the span of the pages: more than asked, never less, in one call. */
static void riscv_flush_pages(struct mmu_space *s, const uint64_t *va, unsigned int n)
{
	uint64_t lo = ~0ULL, hi = 0;

	for (unsigned int i = 0; i < n; i++) {
		__asm__ volatile("sfence.vma %0, zero" ::"r"(va[i]) : "memory");
		lo = MIN(lo, va[i]);
		hi = MAX(hi, va[i]);
	}
	remote_fence(s, lo, hi - lo + PAGE_SIZE);
}

static void riscv_flush_all(struct mmu_space *s)
{
	__asm__ volatile("sfence.vma" ::: "memory");
	remote_fence(s, 0, ~0UL); /* size -1: the whole address space */
}

/* A hart may have cached "invalid" for a new entry: this one fences; others would fault and retry. */
static void riscv_sync(struct mmu_space *s)
{
	(void)s;
	__asm__ volatile("sfence.vma" ::: "memory");
}

const unsigned int arch_kernel_space_flags = 0;
const struct mmu_tlb_ops arch_kernel_tlb_ops = {
	.flush_page = riscv_flush_page,
	.flush_pages = riscv_flush_pages,
	.flush_all = riscv_flush_all,
	/* A hart may have cached "invalid" for a new entry: a fresh mapping needs a fence too. */
	.sync = riscv_sync,
};

void arch_mmu_load(phys_addr_t root)
{
	__asm__ volatile("sfence.vma\n\tcsrw satp, %0\n\tsfence.vma"
			 ::"r"(arch_mmu_boot_value(root)) : "memory");
}

uint64_t arch_mmu_boot_value(phys_addr_t root)
{
	return satp_mode << SATP_MODE_SHIFT | (root >> 12);
}

phys_addr_t arch_mmu_root(void)
{
	unsigned long satp;

	__asm__ volatile("csrr %0, satp" : "=r"(satp));
	return (satp & SATP_PPN_MASK) << 12;
}

/*
 * Boot tables for a wider mode m, over head.S's Sv39 ones: the new window
 * in root-level pages (512 GiB in Sv48, 256 TiB in Sv57), and the top 512
 * GiB through head.S's Sv39 root, which as a level of the wider tree
 * indexes the same bits. So the image, its stack and Sv39's window stay
 * where they are, and the switch needs no jump.
 */
_Static_assert(((KERNEL_VIRT_BASE >> 30) & 511) < 511,
	       "the image's Sv39 slot is free in the wider roots");
static phys_addr_t build_wide_root(const struct riscv_mode *m, phys_addr_t sv39_root)
{
	const struct pte_format *f = m->fmt;
	unsigned int shift = PAGE_SHIFT + PTE_INDEX_BITS * (f->levels - 1);
	unsigned int first = (m->direct_map_base >> shift) % PTE_PER_TABLE;
	unsigned int image = (KERNEL_VIRT_BASE >> 30) % PTE_PER_TABLE; /* in Sv39's root */
	pte_t *top = f->levels == 5 ? wide_mid : wide_root;

	for (unsigned int i = 0; i < PTE_PER_TABLE; i++)
		wide_root[i] = wide_mid[i] = 0;
	for (uint64_t i = 0; i < m->direct_map_size >> shift; i++)
		wide_root[first + i] =
			f->leaf(i << shift, MMU_PROT_READ | MMU_PROT_WRITE | MMU_PROT_GLOBAL, 0);
	top[PTE_PER_TABLE - 1] = f->table(sv39_root);
	if (top != wide_root)
		wide_root[PTE_PER_TABLE - 1] = f->table(kimage_to_phys(wide_mid));
	/* the image as Sv39 sees it, for try_mode(); an unused slot of the wider root */
	wide_root[image] = ((const pte_t *)phys_to_virt(sv39_root))[image];
	return kimage_to_phys(wide_root);
}

/*
 * satp ignores a write of a mode the hart lacks (the privileged spec): the
 * read-back tells. Some harts take its root anyway, against the spec, and
 * go on in the old mode over the new root: that root maps the image as the
 * old one did (build_wide_root()), and the old value goes straight back.
 */
static bool try_mode(const struct riscv_mode *m, phys_addr_t root)
{
	unsigned long want = m->satp_mode << SATP_MODE_SHIFT | root >> PAGE_SHIFT, got, old;

	__asm__ volatile("csrr %0, satp" : "=r"(old));
	__asm__ volatile("sfence.vma\n\t"
			 "csrw satp, %[want]\n\t"
			 "csrr %[got], satp\n\t"
			 "beq %[got], %[want], 1f\n\t"
			 "csrw satp, %[old]\n"
			 "1:\tsfence.vma"
			 : [got] "=&r"(got)
			 : [want] "r"(want), [old] "r"(old)
			 : "memory");
	return got == want;
}

static const char *ruled_out(const struct riscv_mode *m, const char *bootargs)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(m->ruled_out_by) && m->ruled_out_by[i]; i++)
		if (bootargs && cmdline_has(bootargs, m->ruled_out_by[i]))
			return m->ruled_out_by[i];
	return NULL;
}

void arch_mmu_pick_mode(const void *fdt)
{
	int chosen = fdt_path_offset(fdt, "/chosen"), len;
	const char *args = chosen >= 0 ? fdt_getprop(fdt, chosen, "bootargs", &len) : NULL;
	phys_addr_t sv39_root = arch_mmu_root();
	const struct riscv_mode *m = modes;
	const char *why = NULL;
	unsigned int unit = 3; /* GiB, or larger while it divides the size */

	if (args && (len < 1 || args[len - 1] != '\0'))
		args = NULL; /* cmdline_init() says so later */
	for (; m->satp_mode != SATP_MODE_SV39; m++) {
		why = ruled_out(m, args);
		if (!why && try_mode(m, build_wide_root(m, sv39_root)))
			break;
		if (!why)
			why = "the hart lacks it";
		printk("mmu: not %s: %s\n", m->fmt->name, why);
	}
	satp_mode = m->satp_mode;
	arch_kernel_pte_format = m->fmt;
	riscv_direct_map_base = m->direct_map_base;
	riscv_direct_map_size = m->direct_map_size;
	while (unit < 5 && !(m->direct_map_size & ((1ULL << (unit + 1) * 10) - 1)))
		unit++;
	printk("mmu: %s, %u levels: the direct map is %llu %ciB at %#llx\n", m->fmt->name,
	       m->fmt->levels, (unsigned long long)(m->direct_map_size >> unit * 10), "BKMGTP"[unit],
	       (unsigned long long)m->direct_map_base);
}
