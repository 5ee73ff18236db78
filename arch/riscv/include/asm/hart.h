/* SPDX-License-Identifier: MIT */
#ifndef ASM_HART_H
#define ASM_HART_H

/* tp points at the hart's struct hart_local, whose first word is its index (kernel/smp.h). */
static inline unsigned int this_hart_index(void)
{
	const unsigned int *local;

	__asm__("mv %0, tp" : "=r"(local));
	return *local;
}

#endif
