// SPDX-License-Identifier: MIT
/* Sv39 for the kernel: satp and sfence.vma (this hart only until there are others). */
#include <kernel/arch.h>
#include <mm/mmu.h>
#include <mm/pte.h>

#define SATP_MODE_SV39 (8UL << 60)
#define SATP_PPN_MASK ((1UL << 44) - 1)

static void riscv_flush_page(struct mmu_space *s, uint64_t va)
{
	(void)s;
	__asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory");
}

static void riscv_flush_all(struct mmu_space *s)
{
	(void)s;
	__asm__ volatile("sfence.vma" ::: "memory");
}

const struct pte_format *const arch_kernel_pte_format = &pte_format_sv39;
const unsigned int arch_kernel_space_flags = 0;
const struct mmu_tlb_ops arch_kernel_tlb_ops = {
	.flush_page = riscv_flush_page,
	.flush_all = riscv_flush_all,
	/* A hart may have cached "invalid" for a new entry: a fresh mapping needs a fence too. */
	.sync = riscv_flush_all,
};

void arch_mmu_load(phys_addr_t root)
{
	__asm__ volatile("sfence.vma\n\tcsrw satp, %0\n\tsfence.vma"
			 ::"r"(SATP_MODE_SV39 | (root >> 12)) : "memory");
}

phys_addr_t arch_mmu_root(void)
{
	unsigned long satp;

	__asm__ volatile("csrr %0, satp" : "=r"(satp));
	return (satp & SATP_PPN_MASK) << 12;
}
