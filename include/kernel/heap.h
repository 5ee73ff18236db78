/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_HEAP_H
#define KERNEL_HEAP_H

/* This kernel's use of mm/'s heap (kernel/heap.c): its set-up at boot. */

#include <mm/heap.h>
#include <mm/vmap.h>

struct memmap;
struct mmu_space;

/*
 * The kernel's early heap: heap_early_init_bootmem(m, HEAP_EARLY_SIZE),
 * before buddy_init(). Panics if there is no room. With CONFIG_KTEST it
 * also leaves a few blocks there (heap_early_ktest_blocks) for the heap
 * suite to free after the switch.
 */
void heap_kernel_early_init(struct memmap *m);

#define HEAP_EARLY_KTEST_BLOCKS 3
extern void *heap_early_ktest_blocks[HEAP_EARLY_KTEST_BLOCKS];
extern const size_t heap_early_ktest_sizes[HEAP_EARLY_KTEST_BLOCKS];

/*
 * The kernel's heap set-up, once the buddy, kernel_space and the harts are
 * up: kernel_vmap over the vmap window of space (asm/layout.h) less its
 * first GiB, which is left for mappings made by hand (tests), then
 * switch_to_multiple_heaps(nr_harts) with large allocations mapped there
 * (kernel/heap.c). Panics if either fails.
 */
void heap_kernel_init(struct mmu_space *space, unsigned int nr_harts);
extern uint64_t heap_kernel_setup_instructions; /* what it took, for make bench */

/* The kernel's vmap, for the heap's large allocations: over kernel_space at HEAP_VMAP_BASE. */
extern struct vmap kernel_vmap;

#endif
