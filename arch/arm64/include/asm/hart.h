/* SPDX-License-Identifier: MIT */
#ifndef ASM_HART_H
#define ASM_HART_H

/* TPIDR_EL1 points at the hart's struct hart_local, whose first word is its index (kernel/smp.h). */
static inline unsigned int this_hart_index(void)
{
	const unsigned int *local;

	__asm__("mrs %0, tpidr_el1" : "=r"(local));
	return *local;
}

#endif
