/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_KMAP_H
#define KERNEL_KMAP_H

/*
 * The kernel's own address space (the higher half). head.S enters C with
 * boot tables: the image at its link address, read+write+execute, and a
 * provisional direct map of physical memory (asm/layout.h). kmap_init()
 * then builds and loads the final tables with the portable mapper:
 *
 *   text        read+execute          rodata      read-only
 *   data, bss   read+write            direct map  every RAM page (no-map
 *                                                 regions left out) read+write,
 *                                                 the image's text and rodata
 *                                                 read-only there too
 *   MMIO        device memory, read+write, only what ioremap() was asked for
 *
 * Nothing is ever writable and executable at once (unless the debug option
 * CONFIG_MMU_DEBUG_ALLOW_WX says so).
 */

#include <kernel/types.h>
#include <mm/memmap.h>
#include <mm/mmu.h>

/* Where head.S found the image in physical memory (its first byte, _start). */
extern phys_addr_t kernel_phys_base;

/* The final tables, once kmap_init() has loaded them. */
extern struct mmu_space kernel_space;
extern bool kmap_live;

/* The physical address of a byte of the kernel image. */
phys_addr_t kimage_to_phys(const void *p);

/*
 * Device registers at [pa, pa + size), mapped as device memory; the pointer
 * to use, or NULL (with a message) when that cannot be mapped. Callable from
 * the very first line of C: before kmap_init() the region is only recorded
 * (the boot tables already reach it) and kmap_init() maps it.
 */
void *ioremap(phys_addr_t pa, uint64_t size);

/*
 * Builds the final tables from the boot memory map (table pages from the
 * buddy allocator, which must be up), switches to them and prints the
 * layout; panics if it cannot (the boot cannot go on without them).
 */
void kmap_init(const struct memmap *m, phys_addr_t fdt_pa, uint64_t fdt_size);

/* Prints how va is mapped in the kernel space ("not mapped", the region, the protection). */
void kmap_describe(uintptr_t va);

#endif
