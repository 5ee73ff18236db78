/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_HART_H
#define KERNEL_HART_H

/*
 * The running hart's dense index (0 <= index < MAX_HARTS, the boot hart is
 * 0) and its word for mm/, as this kernel provides them to mm/'s port
 * (include/mm/port.h, kernel/port/mm_port.h): read from the hart's struct
 * hart_local (kernel/smp.h), which arch code points a register at. Inline:
 * every kmalloc() reads them.
 */

#include <asm/hart.h>

static inline unsigned int this_hart_index(void)
{
	return this_hart_local()->index;
}

static inline void **this_hart_mm_slot(void)
{
	return &this_hart_local()->mm;
}

static inline void **hart_mm_slot(unsigned int index)
{
	return &hart_locals[index].mm;
}

#endif
