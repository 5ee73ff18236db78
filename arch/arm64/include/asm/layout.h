/* SPDX-License-Identifier: MIT */
#ifndef ASM_LAYOUT_H
#define ASM_LAYOUT_H

/*
 * The kernel's virtual address layout with 48-bit VAs, all in the TTBR1
 * half (0xffff000000000000 up):
 *
 *   0xffff000000000000  direct map: every page of RAM at DIRECT_MAP_BASE + pa,
 *                       for pa below DIRECT_MAP_SIZE (64 TiB)
 *   0xffff800000000000  vmap: pages mapped one by one (heap, tests), 1 TiB
 *   0xffffffff40000000  the harts' stacks, each above an unmapped guard page
 *   0xffffffff80000000  the kernel image (CONFIG_KERNEL_LINK_ADDR), 2 GiB
 *
 * TTBR0 (the lower half) is used only by head.S for the instructions that
 * turn the MMU on, then switched off (TCR_EL1.EPD0).
 */
#define DIRECT_MAP_BASE 0xffff000000000000
#define DIRECT_MAP_SIZE 0x400000000000
#define VMAP_BASE 0xffff800000000000
#define VMAP_SIZE 0x10000000000
#define KERNEL_VIRT_BASE CONFIG_KERNEL_LINK_ADDR
#define HART_STACKS_BASE (KERNEL_VIRT_BASE - 0x40000000)

/*
 * head.S maps the image in up to this many 2 MiB blocks of 4 KiB pages
 * (a leaf table each): enough for the per-hart arrays of MAX_HARTS 512.
 */
#define BOOT_IMAGE_TABLES 8

/*
 * Before the final tables exist, head.S maps the first 512 GiB of physical
 * addresses in the direct-map window with 1 GiB blocks of Device memory:
 * that reaches RAM and MMIO alike without knowing which is which (the DT is
 * not read yet) and without letting the CPU speculate into MMIO. The final
 * tables map RAM as Normal memory and only the MMIO the kernel asked for.
 */
#define BOOT_DIRECT_MAP_SIZE 0x8000000000

#endif
