/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_PORT_MM_PORT_H
#define KERNEL_PORT_MM_PORT_H

/*
 * This kernel's port of mm/ (include/mm/port.h says what each item must
 * do): the direct map and the hart's own word are inline, since every
 * kmalloc() and kfree() reads them.
 */

#include <asm/layout.h>
#include <kernel/compiler.h>
#include <kernel/errno.h>
#include <kernel/hart.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/types.h>

static inline void *phys_to_virt(phys_addr_t pa)
{
	return (void *)(uintptr_t)(DIRECT_MAP_BASE + pa);
}

static inline phys_addr_t virt_to_phys(const void *p)
{
	return (uintptr_t)p - DIRECT_MAP_BASE;
}

#endif
