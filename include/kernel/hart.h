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

#include <kernel/harts.h>

#if __has_include(<asm/hart.h>)
/* The kernel: inline, it sits on every allocator's fast path. */
#include <asm/hart.h>
#else
unsigned int this_hart_index(void);
#endif

#endif
