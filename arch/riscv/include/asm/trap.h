/* SPDX-License-Identifier: MIT */
#ifndef ASM_TRAP_H
#define ASM_TRAP_H

/* Layout shared with trap_entry.S: x1..x31 in regs[1..31], then the CSRs. */
#define TF_SEPC (32 * 8)
#define TF_SSTATUS (33 * 8)
#define TF_SCAUSE (34 * 8)
#define TF_STVAL (35 * 8)
#define TF_SIZE (36 * 8)

#ifndef __ASSEMBLY__
struct trap_frame {
	unsigned long regs[32]; /* regs[0] unused (x0), regs[2] = sp at the trap */
	unsigned long sepc, sstatus, scause, stval;
};

void riscv_handle_trap(struct trap_frame *tf);
#endif

#endif
