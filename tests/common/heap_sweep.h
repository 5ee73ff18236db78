/* SPDX-License-Identifier: MIT */
#ifndef TESTS_COMMON_HEAP_SWEEP_H
#define TESTS_COMMON_HEAP_SWEEP_H

/*
 * kmalloc_aligned() over every size from 0 to a few pages (each size to
 * HEAP_SWEEP_EVERY, then a step of stride: 1 for every size, an odd one
 * meets every remainder mod 16) with every power-of-two alignment up to
 * max_align, a few blocks live at once, each filled to its ksize() and
 * checked before it is freed: a block that reaches into another, or its
 * header, shows as clobbered. Run where kmalloc is live, before or after
 * the switch.
 */

#include <kernel/types.h>

/* The alignment kmalloc promises for size: itself for a power of two, else 16 from 16 up, else 8.
 */
static inline size_t heap_promised_align(size_t size)
{
	return (size && !(size & (size - 1))) ? size : size >= 16 ? 16 : 8;
}

#define HEAP_SWEEP_EVERY 64
#define HEAP_SWEEP_MAX	 (3 * 4096 + HEAP_SWEEP_EVERY)

struct heap_sweep {
	unsigned long allocs;	  /* blocks asked for */
	unsigned long failed;	  /* of those, NULL */
	unsigned long misaligned; /* not aligned to the alignment asked for or the size's promise */
	unsigned long short_size; /* ksize() below the size (below 1 for size 0) */
	unsigned long
	    clobbered; /* a block's bytes changed while it was live, or two at one address */
};

/* promise_cap: where a power-of-two size's alignment promise stops (4096 before the switch) */
void heap_sweep_aligned(size_t max_align, size_t promise_cap, unsigned int stride,
			struct heap_sweep *r);

#endif
