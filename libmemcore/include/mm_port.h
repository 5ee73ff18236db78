/* SPDX-License-Identifier: MIT */
#ifndef LIBMEMCORE_MM_PORT_H
#define LIBMEMCORE_MM_PORT_H

/*
 * libmemcore's port of mm/ (include/mm/port.h says what each item must
 * do). The hart's index and word are inline: a thread acts as the hart
 * its shim_cur points at (libmemcore/harts.c), whose struct hart_slot
 * starts with the part mm/ reads on every call. RAM is the arena
 * (libmemcore/arena.c); messages go to stderr (libmemcore/port.c).
 */

#include <kernel/compiler.h>
#include <kernel/errno.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/types.h>

#include <spinlock_futex.h> /* tools/port/ */

void *phys_to_virt(phys_addr_t pa);
phys_addr_t virt_to_phys(const void *p);

struct hart_slot;

struct shim_hart_local {
	void *mm;	    /* this_hart_mm_slot() */
	unsigned int index; /* this_hart_index() */
};

extern __thread struct hart_slot *shim_cur __attribute__((tls_model("initial-exec")));

static inline struct shim_hart_local *shim_hart_local(void)
{
	return (struct shim_hart_local *)shim_cur;
}

static inline unsigned int this_hart_index(void)
{
	return shim_hart_local()->index;
}

static inline void **this_hart_mm_slot(void)
{
	return &shim_hart_local()->mm;
}

void **hart_mm_slot(unsigned int index);

#endif
