/* SPDX-License-Identifier: MIT */
#ifndef ASM_HART_H
#define ASM_HART_H

#include <kernel/smp.h>

/* tp points at the hart's struct hart_local (kernel/smp.h); kernel/hart.h reads it. */
static inline struct hart_local *this_hart_local(void)
{
	struct hart_local *local;

	__asm__("mv %0, tp" : "=r"(local));
	return local;
}

#endif
