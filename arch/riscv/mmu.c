// SPDX-License-Identifier: MIT
/* Sv39 for the kernel: satp and sfence.vma (this hart only until there are others). */
#include <asm/sbi.h>
#include <kernel/arch.h>
#include <kernel/compiler.h>
#include <kernel/hart.h>
#include <kernel/smp.h>
#include <mm/mmu.h>
#include <mm/pte.h>

#define SATP_MODE_SV39 (8UL << 60)
#define SATP_PPN_MASK ((1UL << 44) - 1)

/*
 * sfence.vma reaches only this hart: the others that may cache the space's
 * entries (s->harts, dense indexes) get an SBI remote fence, which returns
 * once they have done it.
 */
static void remote_fence(struct mmu_space *s, uint64_t va, uint64_t size)
{
	unsigned int self = this_hart_index();

	for (unsigned int i = 0; i < MAX_HARTS; i++)
		if (i != self && (s->harts >> i & 1))
			sbi_ecall(SBI_EXT_RFENCE, SBI_RFENCE_SFENCE_VMA, 1, hart_locals[i].hartid, va,
				  size);
}

static void riscv_flush_page(struct mmu_space *s, uint64_t va)
{
	__asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory");
	remote_fence(s, va, PAGE_SIZE);
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

const struct pte_format *const arch_kernel_pte_format = &pte_format_sv39;
const unsigned int arch_kernel_space_flags = 0;
const struct mmu_tlb_ops arch_kernel_tlb_ops = {
	.flush_page = riscv_flush_page,
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
	return SATP_MODE_SV39 | (root >> 12);
}

phys_addr_t arch_mmu_root(void)
{
	unsigned long satp;

	__asm__ volatile("csrr %0, satp" : "=r"(satp));
	return (satp & SATP_PPN_MASK) << 12;
}
