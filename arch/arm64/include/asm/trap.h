/* SPDX-License-Identifier: MIT */
#ifndef ASM_TRAP_H
#define ASM_TRAP_H

/* Layout shared with vectors.S. */
#define TF_SP (31 * 8)
#define TF_ELR (32 * 8)
#define TF_SPSR (33 * 8)
#define TF_ESR (34 * 8)
#define TF_FAR (35 * 8)
#define TF_SIZE (36 * 8)

/* Which of the 16 vector entries was taken: group (current EL SP0/SPx, lower EL) and type. */
#define VEC_SYNC 0
#define VEC_IRQ 1
#define VEC_FIQ 2
#define VEC_SERROR 3

#ifndef __ASSEMBLY__
struct trap_frame {
	unsigned long regs[31]; /* x0..x30 */
	unsigned long sp, elr, spsr, esr, far;
};

void arm64_handle_trap(struct trap_frame *tf, unsigned long vector);
#endif

#endif
