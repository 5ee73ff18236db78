/* SPDX-License-Identifier: MIT */
#ifndef ASM_HART_H
#define ASM_HART_H

#include <kernel/smp.h>

/* TPIDR_EL1 points at the hart's struct hart_local (kernel/smp.h); kernel/hart.h reads it. */
static inline struct hart_local *this_hart_local(void)
{
	struct hart_local *local;

	__asm__("mrs %0, tpidr_el1" : "=r"(local));
	return local;
}

#endif
