/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_BOOT_H
#define KERNEL_BOOT_H

/* What the boot hart learned while booting, for later layers and the tests. */

#include <mm/harts.h>
#include <mm/memmap.h>

struct boot_info {
	uint64_t boot_hartid;
	const void *fdt;	  /* through the direct map */
	phys_addr_t fdt_pa;
	uint32_t fdt_size;
	struct memmap memmap;	  /* the boot memory map; bootmem allocates from it */
	struct hart_table harts;
};

extern struct boot_info boot_info;

/*
 * The in-kernel KTAP suites: the boot ones before the buddy allocator takes
 * over memory, the rest after; run_mm_tests() says whether all passed.
 */
#ifdef CONFIG_KTEST
#define KTEST_BUILT_IN true
void run_boot_tests(void);
bool run_mm_tests(void);
#else
#define KTEST_BUILT_IN false
static inline void run_boot_tests(void)
{
}
static inline bool run_mm_tests(void)
{
	return true;
}
#endif

#endif
