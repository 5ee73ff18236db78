// SPDX-License-Identifier: MIT
/* The kernel half (TTBR1) with 4 KiB granules: TLB maintenance broadcast to the inner-shareable domain. */
#include <asm/sysreg.h>
#include <kernel/arch.h>
#include <kernel/smp.h>
#include <kernel/compiler.h>
#include <mm/mmu.h>
#include <mm/pte.h>

_Static_assert(MAIR_EL1_KERNEL == PTE_ARM64_MAIR, "head.S programs MAIR for the PTE layer's indexes");

#define TTBR_BADDR_MASK 0x0000fffffffff000UL
#define TLBI_VA_MASK ((1UL << 44) - 1) /* the operand holds VA[55:12] */

static void arm64_flush_page(struct mmu_space *s, uint64_t va)
{
	(void)s;
	__asm__ volatile("dsb ishst\n\ttlbi vaae1is, %0\n\tdsb ish\n\tisb"
			 ::"r"((va >> 12) & TLBI_VA_MASK) : "memory");
}

static void arm64_flush_all(struct mmu_space *s)
{
	(void)s;
	__asm__ volatile("dsb ishst\n\ttlbi vmalle1is\n\tdsb ish\n\tisb" ::: "memory");
}

/* New entries need no TLB maintenance, only to be visible to the walker before they are used. */
static void arm64_sync(struct mmu_space *s)
{
	(void)s;
	__asm__ volatile("dsb ishst\n\tisb" ::: "memory");
}

const struct pte_format *arch_kernel_pte_format = &pte_format_arm64;
const unsigned int arch_kernel_space_flags = MMU_SPACE_UPPER;
const struct mmu_tlb_ops arch_kernel_tlb_ops = {
	.flush_page = arm64_flush_page,
	.flush_all = arm64_flush_all,
	.sync = arm64_sync,
};

/*
 * The boot tables and the final ones map the image with 4 KiB pages at the
 * same addresses, so switching under the running code needs no detour
 * through an identity map; the direct-map blocks change size, which the
 * full flush right after the switch covers before anything touches them.
 */
void arch_mmu_load(phys_addr_t root)
{
	__asm__ volatile("dsb ishst\n\tmsr ttbr1_el1, %0\n\tisb\n\ttlbi vmalle1\n\tdsb nsh\n\tisb"
			 ::"r"(root) : "memory");
}

uint64_t arch_mmu_boot_value(phys_addr_t root)
{
	return root;
}

phys_addr_t arch_mmu_root(void)
{
	return read_sysreg(ttbr1_el1) & TTBR_BADDR_MASK;
}

/* One mode: 48-bit, 4 KiB granule, four levels (52-bit VAs would need LPA2 or 64 KiB pages). */
void arch_mmu_pick_mode(const void *fdt)
{
	(void)fdt;
}
