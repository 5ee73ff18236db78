/* SPDX-License-Identifier: MIT */
#ifndef ASM_LAYOUT_H
#define ASM_LAYOUT_H

/*
 * The kernel's virtual address layout in Sv39 (the upper half is the 256 GiB
 * from 0xffffffc000000000, sign-extended from bit 38):
 *
 *   0xffffffc000000000  direct map: every page of RAM at DIRECT_MAP_BASE + pa,
 *                       for pa below DIRECT_MAP_SIZE (240 GiB)
 *   0xfffffffc00000000  vmap: pages mapped one by one (heap, tests), 13 GiB
 *   0xffffffff40000000  the harts' stacks, each above an unmapped guard page
 *   0xffffffff80000000  the kernel image (CONFIG_KERNEL_LINK_ADDR), 2 GiB
 *
 * The lower half is left to user space: nothing of the kernel is there once
 * the MMU is on.
 */
#define DIRECT_MAP_BASE 0xffffffc000000000
#define DIRECT_MAP_SIZE 0x3c00000000
#define VMAP_BASE 0xfffffffc00000000
#define VMAP_SIZE 0x340000000
#define KERNEL_VIRT_BASE CONFIG_KERNEL_LINK_ADDR
#define HART_STACKS_BASE (KERNEL_VIRT_BASE - 0x40000000)

/*
 * Before the final tables exist, head.S maps the whole direct-map window
 * with 1 GiB pages (root entries only, no table pages). On RISC-V that is
 * harmless for MMIO: cacheability and side effects come from the platform's
 * PMAs, not from the page tables.
 */
#define BOOT_DIRECT_MAP_SIZE DIRECT_MAP_SIZE

#endif
