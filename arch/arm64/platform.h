/* SPDX-License-Identifier: MIT */
#ifndef ARM64_PLATFORM_H
#define ARM64_PLATFORM_H

#include <kernel/types.h>

/* The EL the kernel was entered at (set by head.S). */
extern unsigned long arm64_entry_el;

enum psci_conduit { PSCI_CONDUIT_NONE, PSCI_CONDUIT_HVC, PSCI_CONDUIT_SMC };

/* From /psci "method"; none without /psci (then SYSTEM_OFF returns, CPU_ON fails). */
void psci_init_from_dt(const void *fdt);
enum psci_conduit psci_conduit(void);
void psci_system_off(void);
/* 0 or a PSCI error (negative) */
long psci_cpu_on(uint64_t mpidr, phys_addr_t entry, uint64_t context);

/*
 * gic.c: idle cores sleep in wfi, woken by an SGI, where a GICv3 lets us.
 * gic_hart_up() on each core as it comes up (the boot core first, which
 * finds the GIC); the others are false where it cannot be used (wfe, sev).
 */
void gic_hart_up(void);
bool gic_kick(uint64_t mpidr);
bool gic_idle(void);

/* True if the trap was a semihosting exit that QEMU did not take: step over it. */
bool arm64_semihosting_trap_check(void);

#endif
