/* SPDX-License-Identifier: MIT */
#ifndef ASM_LAYOUT_H
#define ASM_LAYOUT_H

/*
 * The kernel's virtual address layout. Its top 256 GiB is the same in Sv39,
 * Sv48 and Sv57 (Sv39's whole upper half, sign-extended from bit 38); only
 * the direct map moves down and grows with the mode the boot hart picks
 * (arch/riscv/mmu.c, the widest the hart takes, as Linux does):
 *
 *   direct map: every page of RAM at DIRECT_MAP_BASE + pa, pa below DIRECT_MAP_SIZE
 *     Sv39  0xffffffc000000000, 240 GiB
 *     Sv48  0xffff800000000000, 64 TiB
 *     Sv57  0xff00000000000000, 32 PiB
 *   0xfffffffc00000000  vmap: pages mapped one by one (heap, tests), 13 GiB
 *   0xffffffff40000000  the harts' stacks, each above an unmapped guard page
 *   0xffffffff80000000  the kernel image (CONFIG_KERNEL_LINK_ADDR), 2 GiB
 *
 * The lower half is left to user space: nothing of the kernel is there once
 * the MMU is on.
 */
#define SV39_DIRECT_MAP_BASE 0xffffffc000000000
#define SV39_DIRECT_MAP_SIZE 0x3c00000000
#define VMAP_BASE 0xfffffffc00000000
#define VMAP_SIZE 0x340000000
#define KERNEL_VIRT_BASE CONFIG_KERNEL_LINK_ADDR
#define HART_STACKS_BASE (KERNEL_VIRT_BASE - 0x40000000)

/*
 * head.S maps the image in up to this many 2 MiB blocks of 4 KiB pages
 * (a leaf table each): enough for the per-hart arrays of MAX_HARTS 512.
 */
#define BOOT_IMAGE_TABLES 8

/*
 * Before the final tables exist, head.S maps Sv39's whole direct-map window
 * with 1 GiB pages (root entries only, no table pages), and a wider mode's
 * boot root maps its whole window with root-level pages. On RISC-V that is
 * harmless for MMIO: cacheability and side effects come from the platform's
 * PMAs, not from the page tables.
 */
#ifndef __ASSEMBLER__
#include <kernel/types.h>

extern uint64_t riscv_direct_map_base, riscv_direct_map_size;
#define DIRECT_MAP_BASE riscv_direct_map_base
#define DIRECT_MAP_SIZE riscv_direct_map_size
#define BOOT_DIRECT_MAP_SIZE DIRECT_MAP_SIZE
#endif

#endif
