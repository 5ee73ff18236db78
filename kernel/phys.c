// SPDX-License-Identifier: MIT
/* Physical addresses of the kernel image (the direct map's are inline in mm/phys.h). */
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/kmap.h>
#include <mm/phys.h>

phys_addr_t kernel_phys_base; /* written by head.S */

phys_addr_t kimage_to_phys(const void *p)
{
	return kernel_phys_base + ((uintptr_t)p - (uintptr_t)_start);
}
