// SPDX-License-Identifier: MIT
/* Starting AArch64 harts (PSCI CPU_ON) and waking them (events). */
#include <kernel/errno.h>
#include <kernel/smp.h>
#include "platform.h"

int arch_start_hart(uint64_t hartid, phys_addr_t entry, phys_addr_t opaque)
{
	return psci_cpu_on(hartid, entry, opaque) ? -EIO : 0;
}

void arch_kick_hart(uint64_t hartid)
{
	(void)hartid;
	__asm__ volatile("dsb ish\n\tsev" ::: "memory");
}

/* A started core that has not come up: an event, in case it waits for one. */
const char *arch_hart_stuck(uint64_t hartid, phys_addr_t opaque)
{
	(void)hartid;
	(void)opaque;
	__asm__ volatile("dsb ish\n\tsev" ::: "memory");
	return NULL;
}

void arch_hart_idle(void)
{
	__asm__ volatile("wfe" ::: "memory");
}

/* The started hart reads with its MMU (and caches) off: push the bytes out to memory. */
void arch_clean_for_mmu_off(const void *p, size_t size)
{
	unsigned long ctr;
	uintptr_t line, a;

	__asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
	line = 4UL << ((ctr >> 16) & 0xf); /* DminLine: log2 of words */
	for (a = (uintptr_t)p & ~(line - 1); a < (uintptr_t)p + size; a += line)
		__asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
	__asm__ volatile("dsb sy" ::: "memory");
}
