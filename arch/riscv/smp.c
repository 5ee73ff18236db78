// SPDX-License-Identifier: MIT
/* Starting RISC-V harts (SBI HSM) and waking them (SBI IPIs). */
#include <asm/csr.h>
#include <asm/sbi.h>
#include <kernel/errno.h>
#include <kernel/smp.h>

#define SIE_SSIE (1UL << 1)
#define SIP_SSIP (1UL << 1)

int arch_start_hart(uint64_t hartid, phys_addr_t entry, phys_addr_t opaque)
{
	struct sbiret r = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_START, hartid, entry, opaque, 0);

	return r.error ? -EIO : 0;
}

void arch_kick_hart(uint64_t hartid)
{
	sbi_ecall(SBI_EXT_IPI, SBI_IPI_SEND, 1, hartid, 0, 0);
}

/*
 * wfi returns once a software interrupt is pending and enabled in sie,
 * even with sstatus.SIE clear: the IPI wakes us without a trap.
 */
void arch_hart_idle(void)
{
	__asm__ volatile("csrs sie, %0" ::"r"(SIE_SSIE));
	__asm__ volatile("wfi");
	__asm__ volatile("csrc sip, %0" ::"r"(SIP_SSIP) : "memory");
}

/* RISC-V caches are coherent with the MMU off. */
void arch_clean_for_mmu_off(const void *p, size_t size)
{
	(void)p;
	(void)size;
	__asm__ volatile("fence rw, rw" ::: "memory");
}
