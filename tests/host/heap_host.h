/* SPDX-License-Identifier: MIT */
#ifndef TESTS_HOST_HEAP_HOST_H
#define TESTS_HOST_HEAP_HOST_H

/*
 * The heap tests' machine: an arena booted the way the kernel boots (early
 * heap from the boot allocator between guard pages, the buddy, then the
 * switch to per-hart heaps), and a large-allocation backend that is the
 * real vmap over a host page table (Sv39), with each mapped frame also
 * aliased (arena_alias()) at the matching place of a reserved host window,
 * so that tests can write and read large allocations.
 *
 * Misuse reports are recorded, not fatal.
 */

#include <kernel/types.h>
#include <mm/memmap.h>
#include <mm/vmap.h>

#define HEAP_HOST_RAM_BASE 0x80000000ULL
#define HEAP_HOST_VBASE 0xfffffffc00000000ULL /* the vmap window, in the Sv39 upper half */
#define HEAP_HOST_VSIZE (1ULL << 30)

extern struct memmap heap_host_map;
extern struct vmap heap_host_vmap; /* the backend's, for tests that look inside */

/*
 * A fresh machine of ram bytes with an early heap of early_size bytes,
 * the buddy up and the backend ready; kmalloc() is on the early heap.
 * Aborts if any step fails.
 */
void heap_host_boot(uint64_t ram, uint64_t early_size);

/* switch_to_multiple_heaps(nr_harts) with the aliasing vmap backend. */
int heap_host_switch(unsigned int nr_harts);

/* The recorded misuse reports: how many since the last call, and the last address. */
unsigned int heap_host_misuses(const void **last, const char **what);

/*
 * The debug tier's quarantine is flushed; every hart drains its queue of
 * frees from others (the calling thread plays each hart in turn: only when
 * no other thread runs), then heap_trim(). Afterwards a heap with nothing
 * allocated holds no page.
 */
void heap_host_quiesce(unsigned int nr_harts);

/*
 * The per-hart heaps: owner's inbox filled with frees from hart from (of
 * 8-byte objects), so that the next frees queued for owner go on its
 * stack of links; the running hart stays.
 */
void heap_host_fill_inbox(unsigned int owner, unsigned int from);

struct ktest;

/*
 * heap_host_switch(nr_harts), then one large allocation made and freed (so
 * the vmap has its record frame), then the baseline: the buddy's free
 * count with the heaps empty.
 */
bool heap_host_ready(struct ktest *t, unsigned int nr_harts);
extern uint64_t heap_host_free0;

/*
 * After heap_host_quiesce(): every class of every heap holds no object and
 * no page, and the buddy is back to heap_host_free0 and consistent.
 */
void heap_host_expect_baseline(struct ktest *t, unsigned int nr_harts);

/* A pattern for a block's bytes, derived from its address, so no two blocks agree. */
void heap_host_fill(void *p, size_t size);
bool heap_host_check(const void *p, size_t size);
/* Whether p holds the pattern heap_host_fill() wrote at origin (a block krealloc() moved). */
bool heap_host_check_as(const void *p, const void *origin, size_t size);

#endif
