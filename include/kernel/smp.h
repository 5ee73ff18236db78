/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

/*
 * The harts, once started. Each hart's register tp (RISC-V) or TPIDR_EL1
 * (AArch64) points at its struct hart_local, whose first word is its dense
 * index: this_hart_index() is one load. The boot hart has index 0 from its
 * first instruction of C; smp_boot() starts the others (SBI HSM hart_start,
 * PSCI CPU_ON), each on its own stack with an unmapped guard page below it,
 * in the kernel's final page tables.
 *
 * Started harts wait for work: smp_call() runs a function on one of them
 * (a mailbox, woken by an IPI on RISC-V and an event on AArch64).
 */

#define HART_STACK_SIZE 16384
#define HART_STACK_ORDER 2 /* buddy order of the stack */

/* Offsets in struct hart_local that head.S uses. */
#define HL_SELF 8
#define HL_MMU 16
#define HL_STACK 24
#define HL_HARTID 32
#define HL_ENTRY_HARTID 40

#ifndef __ASSEMBLY__
#include <kernel/types.h>

/* The part head.S reads: keep the offsets in step with HL_* below. */
struct hart_local {
	unsigned int index;  /* first: this_hart_index() reads it */
	unsigned int pad;
	uint64_t boot_self;  /* this struct's virtual address */
	uint64_t boot_mmu;   /* satp / TTBR1_EL1 to load */
	uint64_t boot_stack; /* initial sp (virtual) */
	uint64_t hartid;
	uint64_t entry_hartid; /* the ID the firmware passed at entry (RISC-V a0) */
	int online;
	void (*work)(void *arg);
	void *work_arg;
	unsigned long work_seq, done_seq;
	void *mm; /* this_hart_mm_slot() (kernel/hart.h): mm/'s own */
};

extern struct hart_local hart_locals[];

/* Starts every hart of the hart table; prints which came up. Needs the buddy and kmap. */
void smp_boot(void);

unsigned int smp_nr_online(void);
bool smp_hart_online(unsigned int index);
/* Started, but not up by the time the boot hart gave up on it: its stack stays (it may come yet).
 */
bool smp_hart_given_up(unsigned int index);
/* Harts of the table that the DT gives no way to start (arch_start_hart() said -ENODEV). */
unsigned int smp_nr_unstartable(void);

/* Runs fn(arg) on hart index (not the caller's) and waits for it; false if it is offline. */
bool smp_call(unsigned int index, void (*fn)(void *), void *arg);
/* The same without waiting; smp_wait() waits. */
bool smp_call_async(unsigned int index, void (*fn)(void *), void *arg);
void smp_wait(unsigned int index);

/* Virtual address of the lowest byte of hart index's stack (its guard page is just below). */
uintptr_t smp_stack_base(unsigned int index);

/*
 * Arch: start hartid at entry (physical) with opaque in a1 / x0; 0 (the
 * next may be started while it comes up), ARCH_START_ALONE (the next must
 * wait until it is up: what it reads on its way is shared), or a negative
 * error: -ENODEV (having printed why) when the DT gives no way to start it
 * that the arch has, so the boot goes on without it.
 */
#define ARCH_START_ALONE 1
int arch_start_hart(uint64_t hartid, phys_addr_t entry, phys_addr_t opaque);
/*
 * Arch: a started hart that has not said it is up (opaque: what
 * arch_start_hart() was given): nudge it (a lost wake-up is one cause, a
 * hart the firmware sent elsewhere another) and say what the firmware
 * knows of it (NULL: nothing).
 */
const char *arch_hart_stuck(uint64_t hartid, phys_addr_t opaque);
/*
 * Arch: on each hart once it is up (the boot hart: when smp_boot() starts,
 * kmap live), before it first idles: what it needs to be kicked.
 */
void arch_hart_up(void);
/*
 * Arch: a hart beyond MAX_HARTS, which the kernel does not use: 0 once it
 * waits in a low-power loop of ours for good (riscv64: OpenSBI 1.1's own
 * loop for a stopped hart busy-spins, its wfi returning at once), or
 * -ENODEV where it is best left where it is (arm64: off under PSCI).
 */
int arch_park_hart(uint64_t hartid);
/* Arch: wake hartid from arch_hart_idle(). */
void arch_kick_hart(uint64_t hartid);
/* Arch: wait (briefly, or until kicked) with interrupts masked. */
void arch_hart_idle(void);
/* Arch: the value the secondary entry code loads into its MMU root register. */
uint64_t arch_mmu_boot_value(phys_addr_t root);
/* Arch: make the bytes a hart starting with its MMU off will read visible to it. */
void arch_clean_for_mmu_off(const void *p, size_t size);

#endif /* __ASSEMBLY__ */

#endif
