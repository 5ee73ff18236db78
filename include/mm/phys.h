/* SPDX-License-Identifier: MIT */
#ifndef MM_PHYS_H
#define MM_PHYS_H

/*
 * Physical addresses and frame numbers. mm/ reaches physical memory only
 * through the port's phys_to_virt() (include/mm/port.h): the kernel's
 * direct map, or for host programs an mmap'd arena that stands in for RAM
 * at the fake physical addresses.
 */

#include <mm/port.h>

#define PAGE_SHIFT 12
_Static_assert((1ULL << PAGE_SHIFT) == PAGE_SIZE, "PAGE_SHIFT and PAGE_SIZE disagree");

static inline uint64_t pa_to_pfn(phys_addr_t pa)
{
	return pa >> PAGE_SHIFT;
}

static inline phys_addr_t pfn_to_pa(uint64_t pfn)
{
	return (phys_addr_t)pfn << PAGE_SHIFT;
}

#endif
