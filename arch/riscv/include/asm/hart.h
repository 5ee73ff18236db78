/* SPDX-License-Identifier: MIT */
#ifndef ASM_HART_H
#define ASM_HART_H

#include <kernel/smp.h>

/*
 * tp points at the hart's struct hart_local (kernel/smp.h); kernel/hart.h
 * reads it. A global register variable (as Linux's riscv current): a load
 * through it is one instruction, with no copy of tp first.
 */
register struct hart_local *riscv_hart_local __asm__("tp");

static inline struct hart_local *this_hart_local(void)
{
	return riscv_hart_local;
}

#endif
