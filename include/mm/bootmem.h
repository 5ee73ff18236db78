/* SPDX-License-Identifier: MIT */
#ifndef MM_BOOTMEM_H
#define MM_BOOTMEM_H

/*
 * The boot allocator (a small memblock): hands out physical memory from a
 * memmap's usable ranges before the buddy allocator exists. Each allocation is
 * carved out of usable[] and recorded as a RESV_EARLY region (adjacent early
 * regions merge), so the buddy can later take usable[] as free and the early
 * regions as owned. Allocation is top-down, like Linux's memblock.
 */

#include <mm/memmap.h>

/* The highest address, not 0: with RAM at physical 0, 0 is an address like any other. */
#define BOOTMEM_NO_LIMIT (~(phys_addr_t)0)

/*
 * size bytes (rounded up to whole pages), aligned to align (a power of two,
 * at least PAGE_SIZE is used), ending at or below limit (BOOTMEM_NO_LIMIT: any).
 * Returns 0 and *pa, or -ENOMEM / -EINVAL; the map is unchanged on failure.
 */
/*
 * Every later bootmem_alloc() ends at or below end (BOOTMEM_NO_LIMIT: none):
 * where the boot page tables' direct map stops short of the final one
 * (arm64: 512 GiB of 64 TiB), the boot allocator's blocks stay reachable.
 */
void bootmem_set_ceiling(phys_addr_t end);
phys_addr_t bootmem_ceiling(void);

int bootmem_alloc(struct memmap *m, uint64_t size, uint64_t align, phys_addr_t limit,
		  phys_addr_t *pa);

/*
 * Reserves [base, base + size) that the caller found in use (e.g. a firmware
 * table): removes it from usable[] and records it with kind and name.
 * -EINVAL for size 0 or overflow, -ENOSPC when the map is full.
 */
int bootmem_reserve(struct memmap *m, phys_addr_t base, uint64_t size, uint32_t kind,
		    const char *name);

/* Bytes handed out by bootmem_alloc() so far. */
uint64_t bootmem_allocated(const struct memmap *m);

#endif
