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
 * entries (s->harts, dense indexes) get an SBI remote fence of [va, va +
 * size), which returns once they have all done it. One call covers every
 * hart whose ID is within 64 of the lowest not yet covered (SBI's hart
 * mask and base), so a shootdown is one round trip, not one per hart.
 */
static void remote_fence(struct mmu_space *s, uint64_t va, uint64_t size)
{
	uint64_t todo = s->harts & ~(1ULL << this_hart_index());

	while (todo) {
		uint64_t base = ~0ULL, mask = 0;

		for (unsigned int i = 0; i < MAX_HARTS; i++)
			if (todo >> i & 1)
				base = MIN(base, hart_locals[i].hartid);
		for (unsigned int i = 0; i < MAX_HARTS; i++) {
			uint64_t id = hart_locals[i].hartid;

			if ((todo >> i & 1) && id - base < 64) {
				mask |= 1ULL << (id - base);
				todo &= ~(1ULL << i);
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

const struct pte_format *const arch_kernel_pte_format = &pte_format_sv39;
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
	return SATP_MODE_SV39 | (root >> 12);
}

phys_addr_t arch_mmu_root(void)
{
	unsigned long satp;

	__asm__ volatile("csrr %0, satp" : "=r"(satp));
	return (satp & SATP_PPN_MASK) << 12;
}
