// SPDX-License-Identifier: MIT
#include <mm/phys.h>

/* The MMU is off: physical addresses are the kernel's addresses. */
void *phys_to_virt(phys_addr_t pa)
{
	return (void *)(uintptr_t)pa;
}
