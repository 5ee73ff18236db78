/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_FAULT_H
#define KERNEL_FAULT_H

/*
 * Memory-access faults the kernel expects and survives. A probe (below)
 * is an access that may fault: its instruction is listed in the exception
 * table (section __ex_table) with the address to resume at, so the arch trap
 * handler, through fault_fixup(), records the fault and resumes there.
 * Any other fault is reported and the machine powers off.
 */

#ifdef __ASSEMBLY__
/* Lists insn in __ex_table: a fault there resumes at fixup. */
.macro extable insn, fixup
	.pushsection __ex_table, "a"
	.balign	8
	.quad	\insn, \fixup
	.popsection
.endm
#else

#include <kernel/types.h>

enum fault_access { FAULT_READ, FAULT_WRITE, FAULT_EXEC };

struct fault_info {
	enum fault_access access;
	uintptr_t addr;	     /* the address accessed (stval / FAR) */
	uintptr_t pc;	     /* the faulting instruction */
	unsigned long cause; /* the raw cause: scause, or ESR_EL1 */
	const char *what;    /* the arch's name for it: "store/AMO page fault", ... */
};

/* One entry of __ex_table: a faulting instruction and where to resume. */
struct extable_entry {
	uintptr_t insn, fixup;
};

/*
 * Called by the arch trap handler for a memory-access fault: the pc to
 * resume at (the fault is then recorded for fault_last()), or 0 when the
 * fault was not expected.
 */
uintptr_t fault_fixup(const struct fault_info *f);

/* The last fault a probe survived, and how many so far. */
const struct fault_info *fault_last(void);
unsigned long fault_count(void);

/*
 * Probes: 0, or -EFAULT when the access faulted (then fault_last() says how).
 * probe_exec() calls a function at addr (that returns at once).
 */
int probe_read(uintptr_t addr, uint64_t *val);
int probe_write(uintptr_t addr, uint64_t val);
int probe_exec(uintptr_t addr);

/* The instruction that returns at once, for probe_exec() targets. */
extern const uint32_t arch_ret_insn;

/* Makes instructions written through the data side visible to instruction fetch. */
void arch_sync_icache(uintptr_t va, uint64_t size);

#endif /* __ASSEMBLY__ */

#endif
