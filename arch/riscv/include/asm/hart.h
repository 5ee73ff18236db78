/* SPDX-License-Identifier: MIT */
#ifndef ASM_HART_H
#define ASM_HART_H

/*
 * Only the boot hart runs until the harts are started, and it has index 0.
 * SMP bring-up makes this a read of the hart's own per-hart pointer (tp).
 */
static inline unsigned int this_hart_index(void)
{
	return 0;
}

#endif
