/* SPDX-License-Identifier: MIT */
#ifndef MM_PHYS_H
#define MM_PHYS_H

/*
 * Physical addresses and frame numbers, and the one way portable mm/ code
 * reaches physical memory: phys_to_virt(). The kernel defines it (identity
 * while the MMU is off, the direct map later); host tests define it over an
 * mmap'd arena that stands in for RAM at the fake physical addresses.
 */

#include <kernel/compiler.h>
#include <kernel/types.h>

#define PAGE_SHIFT 12
_Static_assert((1ULL << PAGE_SHIFT) == PAGE_SIZE, "PAGE_SHIFT and PAGE_SIZE disagree");

#if __has_include(<asm/layout.h>)
/* The kernel: the direct map, inline, since the heap's free path converts every pointer. */
#include <asm/layout.h>

static inline void *phys_to_virt(phys_addr_t pa)
{
	return (void *)(uintptr_t)(DIRECT_MAP_BASE + pa);
}

static inline phys_addr_t virt_to_phys(const void *p)
{
	return (uintptr_t)p - DIRECT_MAP_BASE;
}
#else
/* A pointer through which the kernel can read and write physical address pa. */
void *phys_to_virt(phys_addr_t pa);

/* The inverse, for a pointer phys_to_virt() gave (the direct map), nothing else. */
phys_addr_t virt_to_phys(const void *p);
#endif

static inline uint64_t pa_to_pfn(phys_addr_t pa)
{
	return pa >> PAGE_SHIFT;
}

static inline phys_addr_t pfn_to_pa(uint64_t pfn)
{
	return (phys_addr_t)pfn << PAGE_SHIFT;
}

#endif
