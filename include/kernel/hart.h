/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_HART_H
#define KERNEL_HART_H

/*
 * The running hart's dense index (0 <= index < MAX_HARTS, the boot hart is
 * 0): per-hart data such as the buddy allocator's page caches is an array
 * indexed by it. The kernel defines it (arch code, from the hart's own
 * register once SMP exists); host programs define it with a thread-local, so
 * each thread plays one hart.
 */

#include <mm/harts.h>

/*
 * A pointer-sized word of each hart's own, for mm/ (the hart's heap, read
 * on every kmalloc()): this_hart_mm_slot() is the running hart's,
 * hart_mm_slot(index) hart index's (index < MAX_HARTS), both NULL-valued
 * until mm/ stores to them. The kernel keeps it next to the hart's index;
 * a host program per hart it lets a thread play.
 */
#if __has_include(<asm/hart.h>)
/* The kernel: inline, it sits on every allocator's fast path. */
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
#elif __has_include(<port/hart.h>)
/* A host program's own inline ones (libmemcore's). */
#include <port/hart.h>
#else
unsigned int this_hart_index(void);
void **this_hart_mm_slot(void);
void **hart_mm_slot(unsigned int index);
#endif

#endif
