/* SPDX-License-Identifier: MIT */
#ifndef TOOLS_PORT_MM_PORT_H
#define TOOLS_PORT_MM_PORT_H

/*
 * The port of mm/ for host programs: the unit tests, the benchmarks and
 * dt-memmap (include/mm/port.h says what each item must do). Threads play
 * harts and an mmap'd arena plays RAM; tools/host-shim.c and the tests'
 * arena (tests/host/arena.c) define the functions out of line.
 */

#include <kernel/compiler.h>
#include <kernel/errno.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/types.h>

#include "spinlock_futex.h"

/* Through the arena that stands in for RAM at the fake physical addresses. */
void *phys_to_virt(phys_addr_t pa);
phys_addr_t virt_to_phys(const void *p);

/* A thread-local: each thread plays one hart. */
unsigned int this_hart_index(void);
void **this_hart_mm_slot(void);
void **hart_mm_slot(unsigned int index);

#endif
