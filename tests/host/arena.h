/* SPDX-License-Identifier: MIT */
#ifndef TESTS_HOST_ARENA_H
#define TESTS_HOST_ARENA_H

/*
 * A fake machine for host programs that run mm/ code: RAM banks at fake
 * physical addresses (0x80000000, above 4 GiB, with holes), each backed by
 * an mmap'd region that only takes real memory where it is touched, so
 * phys_to_virt() and virt_to_phys() work as in the kernel; and threads as
 * harts, each with its own this_hart_index().
 *
 * Optionally (arena_use_memfd()) the banks come from memfds, so that a
 * frame can be seen at a second address too (arena_alias()): the heap
 * tests' stand-in for the kernel's vmap.
 *
 * For the buddy tests it also keeps a shadow of who owns which frame (one
 * byte per frame, atomic, so threads can use it) and computes, on its own,
 * the free blocks a takeover must produce.
 */

#include <kernel/types.h>
#include <mm/memmap.h>

#include "../common/test_rand.h"

/*
 * m = exactly these RAM ranges (sorted, not touching), all usable, nothing
 * reserved; maps them (replacing any previous arena). Aborts if the address
 * space cannot be had.
 */
void arena_machine(struct memmap *m, const struct mem_range *ram, unsigned int n);

/*
 * Address space for hot-add tests: maps these ranges (sorted, not
 * touching) as arena_machine() does, but m gets no RAM at all, so that
 * buddy_init(m) starts with no bank (or with what the test puts in m) and
 * the test hands the rest to buddy_add_memory() piece by piece. Nothing
 * is paid for until it is touched; the arena's banks do not change while
 * the buddy grows, so threads may run meanwhile.
 */
void arena_reserve(struct memmap *m, const struct mem_range *space, unsigned int n);

/* Maps m's RAM as it is (a map built from a device tree, say). */
void arena_map(const struct memmap *m);

/* Unmaps everything. */
void arena_unmap(void);

/*
 * Banks mapped from now on are sparse memfds mapped shared (true), or
 * anonymous private memory (false, the default).
 */
void arena_use_memfd(bool on);

/*
 * Maps the frame at pa (of a memfd bank) at addr (4 KiB aligned) as well,
 * replacing whatever was mapped there; false if it cannot.
 */
bool arena_alias(void *addr, phys_addr_t pa);

/* What virt_to_phys() returns for a pointer outside every bank: no RAM there. */
#define ARENA_NOT_RAM 0xfff0000000000000ULL

/* This thread's hart index (threads start as hart 0). */
void arena_set_hart(unsigned int index);

/* The shadow: false if a frame of the range was already claimed (or released). */
bool arena_shadow_claim(phys_addr_t pa, uint64_t nr_frames);
bool arena_shadow_release(phys_addr_t pa, uint64_t nr_frames);

/* A free block, as buddy_walk_free() reports them. */
struct arena_block {
	phys_addr_t pa;
	unsigned int order;
};

/*
 * The maximal aligned blocks (order <= max_order) of m's usable ranges,
 * sorted by address: what the free lists must hold right after a takeover
 * and after everything has been freed again. Returns the count; *blocks is
 * malloc'd.
 */
size_t arena_expected_free(const struct memmap *m, unsigned int max_order,
			   struct arena_block **blocks);

/* The buddy's free blocks now, sorted by address; *blocks is malloc'd. */
size_t arena_free_blocks(struct arena_block **blocks);

/* Whether two block lists are the same. */
bool arena_blocks_equal(const struct arena_block *a, size_t na, const struct arena_block *b,
			size_t nb);

#endif
