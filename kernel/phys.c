// SPDX-License-Identifier: MIT
/* Physical <-> virtual for the kernel: the direct map and the image. */
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/kmap.h>
#include <mm/phys.h>

phys_addr_t kernel_phys_base; /* written by head.S */

void *phys_to_virt(phys_addr_t pa)
{
	return (void *)(uintptr_t)(DIRECT_MAP_BASE + pa);
}

phys_addr_t virt_to_phys(const void *p)
{
	return (uintptr_t)p - DIRECT_MAP_BASE;
}

phys_addr_t kimage_to_phys(const void *p)
{
	return kernel_phys_base + ((uintptr_t)p - (uintptr_t)_start);
}
