// SPDX-License-Identifier: MIT
/*
 * What the strategies with one heap for all harts (block, slab + pages,
 * segregated fit) share: every hart allocates and frees under one lock, so
 * no free ever waits in a queue for another hart, and there are no
 * per-hart counters to report.
 */
#include <mm/heap_hart.h>
#include <mm/port.h>

#include "heap_internal.h"

/* kmalloc.c reset the heap just before: one heap for every hart needs nothing more. */
int heap_strategy_switch(unsigned int nr_harts, const struct heap_large_ops *ops)
{
	(void)nr_harts;
	(void)ops;
	return 0;
}

void heap_flush(void)
{
}

void heap_idle(void)
{
}

bool heap_hart_has_queue(unsigned int hart)
{
	(void)hart;
	return false;
}

uint64_t heap_hart_drains(unsigned int hart)
{
	(void)hart;
	return 0;
}

int heap_hart_stats(unsigned int hart, struct heap_hart_stats *s)
{
	(void)hart;
	(void)s;
	return -ENOENT;
}
