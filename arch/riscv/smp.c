// SPDX-License-Identifier: MIT
/* Starting RISC-V harts (SBI HSM) and waking them (SBI IPIs). */
#include <asm/csr.h>
#include <asm/sbi.h>
#include <kernel/compiler.h>
#include <kernel/errno.h>
#include <kernel/kmap.h>
#include <kernel/smp.h>

#define SIE_SSIE (1UL << 1)
#define SIP_SSIP (1UL << 1)

int arch_start_hart(uint64_t hartid, phys_addr_t entry, phys_addr_t opaque)
{
	struct sbiret r = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_START, hartid, entry, opaque, 0);

	return r.error ? -EIO : 0;
}

extern char park_for_good[]; /* head.S */

/* Started into our loop: wfi with every S-mode interrupt masked, for good. */
int arch_park_hart(uint64_t hartid)
{
	struct sbiret r = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_START, hartid,
				    kimage_to_phys(park_for_good), 0, 0);

	return r.error ? -EIO : 0;
}

/* The SBI's IPIs need nothing of a hart: sie.SSIE is set as it idles. */
void arch_hart_up(void)
{
}

void arch_kick_hart(uint64_t hartid)
{
	sbi_ecall(SBI_EXT_IPI, SBI_IPI_SEND, 1, hartid, 0, 0);
}

extern uint64_t smp_stray_call; /* head.S: read by parked harts, MMU off */

/*
 * What the SBI says of a started hart that has not come up, and a nudge.
 * Start-pending: it waits in its wfi for the wake-up the start sent, which
 * an IPI repeats. Started: OpenSBI before 1.3 may have sent it to the
 * image's entry instead (hart_start sets the state before the address),
 * where it parks: it is told where it should be, and woken.
 */
const char *arch_hart_stuck(uint64_t hartid, phys_addr_t opaque)
{
	static const char *const states[] = {"started", "stopped", "start pending",
					     "stop pending", "suspended"};
	struct sbiret r = sbi_ecall(SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS, hartid, 0, 0, 0);

	if (r.error)
		return "of unknown state";
	if (r.value == SBI_HSM_STARTED) {
		__atomic_store_n(&smp_stray_call, opaque, __ATOMIC_RELEASE);
		__asm__ volatile("fence rw, rw" ::: "memory");
	}
	if (r.value == SBI_HSM_STARTED || r.value == SBI_HSM_START_PENDING)
		arch_kick_hart(hartid);
	return (unsigned long)r.value < ARRAY_SIZE(states) ? states[r.value] : "in a state unknown";
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
