/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_H
#define MM_HEAP_H

/*
 * The kernel heap behind kmalloc() (include/mm/kmalloc.h), in two stages,
 * after Theseus's heap, block_allocator and multiple_heaps:
 *
 * 1. The early heap, from the first lines of C: a fixed region from the
 *    boot allocator, fixed-size blocks of 8 .. 2048 bytes on a free list
 *    per size, carved from whole pages, and a first-fit list with
 *    coalescing for everything else (mm/heap/heap_early.c).
 *
 * 2. switch_to_multiple_heaps(): once the buddy, the mapper and the harts
 *    are up, kmalloc() goes to one heap per hart (this_hart_index()), each
 *    with 12 size classes in 8 KiB slab pages whose trailer names the heap
 *    and the class (mm/heap/hart/heap_hart_slab.c, mm/heap/hart/heap_hart.c). Beyond the largest
 *    class, frames from the buddy are mapped at fresh virtual addresses
 *    (mm/heap/heap_large.c, through vmap in the kernel).
 *
 * kfree() needs no size and works across the switch: a block from the
 * early heap freed afterwards goes back to it, found by its frame's owner
 * metadata (FRAME_EARLY with HEAP_EARLY_FRAME_MARK in aux), like slab
 * pages (FRAME_SLAB) and large allocations (FRAME_LARGE).
 *
 * Harts: each hart's heap is its own, without locks, so kmalloc() and
 * kfree() must not be called from interrupt handlers (nothing does yet)
 * and a hart index must never run on two CPUs at once.
 */

#include <mm/frame.h>
#include <mm/harts.h>
#include <mm/memmap.h>
#include <mm/port.h>

struct mmu_space;

/*
 * The early heap's frames, once the buddy has them: FRAME_EARLY blocks (a
 * boot allocation is what they are) whose owner's word aux says whose.
 * Not a tag of our own: frame_set_owner() on a FRAME_EARLY block leaves
 * the buddy's count of early frames behind (buddy_check() reports it).
 */
#define HEAP_EARLY_FRAME_MARK 0x4ea9ea9eu

/* ---- the early heap -------------------------------------------------------- */

#ifdef CONFIG_HEAP_EARLY_SIZE_KB
#define HEAP_EARLY_SIZE ((uint64_t)CONFIG_HEAP_EARLY_SIZE_KB << 10)
#else
#define HEAP_EARLY_SIZE (256ULL << 10)
#endif

/*
 * Takes [pa, pa + size) (page aligned, at least 16 KiB, reachable through
 * phys_to_virt()) as the early heap and makes kmalloc() use it; its
 * metadata comes out of it (1/64 of it, plus a byte per page). -EINVAL,
 * or -EBUSY if there is one already (tests start over with heap_reset()).
 */
int heap_early_init(phys_addr_t pa, uint64_t size);

/*
 * Forgets every layer of the heap, the top first (the debug tier's
 * quarantine, the strategy, large allocations, the early heap) without
 * touching their memory: for tests that start over on a fresh machine,
 * never for a running kernel. kmalloc() then fails until
 * heap_early_init().
 */
void heap_reset(void);

/*
 * heap_early_init() on size bytes from the boot allocator, placed with one
 * reserved guard page on either side. Why: the boot allocator merges
 * allocations that touch, and the buddy tags each merged run as maximal
 * blocks, which could straddle the heap's edge; between guards the
 * heap's frames are whole blocks of their own, which heap_early_adopt()
 * can mark. Costs the two guard pages. -ENOMEM, -EINVAL, or -EBUSY (as
 * heap_early_init(), with nothing reserved).
 */
int heap_early_init_bootmem(struct memmap *m, uint64_t size);

/*
 * Once buddy_init() has taken over the boot map: marks the early heap's
 * blocks (FRAME_EARLY after the takeover) with HEAP_EARLY_FRAME_MARK.
 * switch_to_multiple_heaps() does it if nobody did. 0, or -EINVAL if a
 * block holding them reaches outside the heap (a region not from
 * heap_early_init_bootmem() that touched another boot allocation) or is
 * not FRAME_EARLY.
 */
int heap_early_adopt(void);

#define HEAP_EARLY_NR_SIZES 9 /* the early heap's fixed block sizes: 8, 16, ..., 2048 */

struct heap_early_stats {
	uint64_t size;	     /* the region */
	uint64_t blocks;     /* handed out and not freed */
	uint64_t bytes;	     /* their usable sizes */
	uint64_t free_bytes; /* in the fallback's free list */
	uint64_t pages[HEAP_EARLY_NR_SIZES]; /* pages given to the fixed sizes 8 .. 2048 */
};
void heap_early_stats(struct heap_early_stats *s);

/* ---- large allocations ----------------------------------------------------- */

/*
 * Where large allocations are mapped: [base, base + size) of the caller's
 * address space, which the heap checks first on every free.
 * map: frames[0..nr) at fresh addresses, the start aligned to align (a
 *   power of two, at least 4 KiB): 0 and *p, or an error, nothing mapped.
 * lookup: the first frame of the mapping p starts; an error if p is none.
 * unmap: unmaps the mapping at p of nr pages and calls give() for each
 *   frame once no hart can reach it; an error (nothing done) if p is not
 *   such a mapping.
 * grow (optional, NULL: krealloc() copies): the mapping at p of nr pages
 *   with more[0..n_more) mapped after its pages, nothing copied: at p if
 *   p is aligned to align and the addresses after it are free, else (if
 *   the backend can) at fresh addresses aligned to align, p's frames
 *   first and p's range unmapped: 0 and *np; an error, nothing changed.
 * shrink (optional, NULL: krealloc() copies): the mapping at p of nr pages
 *   cut to its first keep, give() called for each frame of the rest once
 *   no hart can reach it; an error, nothing changed.
 */
struct heap_large_ops {
	uintptr_t base, size;
	int (*map)(const phys_addr_t *frames, size_t nr, size_t align, void **p);
	int (*lookup)(const void *p, phys_addr_t *first);
	int (*unmap)(void *p, size_t nr, void (*give)(phys_addr_t pa, void *arg), void *arg);
	int (*grow)(void *p, size_t nr, const phys_addr_t *more, size_t n_more, size_t align,
		    void **np);
	int (*shrink)(void *p, size_t nr, size_t keep, void (*give)(phys_addr_t pa, void *arg),
		      void *arg);
};

/* ---- the per-hart heaps ---------------------------------------------------- */

/*
 * Makes kmalloc() use one heap per hart for harts 0 .. nr_harts - 1 from
 * now on, large allocations through ops. Needs the buddy and adopts the
 * early heap's frames (heap_early_adopt()). 0, or -EINVAL (nr_harts 0 or
 * above MAX_HARTS, no ops, the adoption failed): kmalloc() then stays on
 * the early heap.
 */
int switch_to_multiple_heaps(unsigned int nr_harts, const struct heap_large_ops *ops);

/*
 * The calling hart takes the frees other harts sent it and its classes'
 * empty pages (the spares each class keeps) leave them; then every heap's
 * list of empty pages goes back to the buddy regardless of the thresholds.
 * Other harts' spares stay until they call heap_trim() or heap_idle(),
 * their cached objects and page blocks until they call one of those or
 * heap_flush() (other harts' empty mid blocks leave at once):
 * after every hart has called heap_trim() or heap_idle(), a heap with
 * nothing allocated holds no page.
 */
void heap_trim(void);

/*
 * The per-hart heaps keep each class's recently freed objects in a cache
 * of the hart's (at most 64 objects and 32 KiB a class; 4 objects of each
 * mid class, 4097 to 6528 bytes), in front of their pages, which empty
 * only when it lets them go, and a few freed page blocks (up to 32 KiB
 * each, 64 KiB a hart). heap_flush() sends the calling
 * hart's cached objects back to their pages and its page blocks back to
 * the buddy (a hart going offline calls it; heap_trim() and heap_idle() do
 * it first). The other strategies have no cache: it does nothing there.
 */
void heap_flush(void);

/*
 * A free sent from another hart waits in the owner's queue until the owner
 * next refills or flushes a cache; an idle owner would hold that memory. So:
 * heap_idle() takes the calling hart's queue and puts its classes' empty
 * pages where other harts can take them (the kernel's idle loop calls it),
 * heap_hart_has_queue() (<mm/heap_hart.h>) tells whether a hart has one
 * waiting, and the reclaim hook (NULL: none) is called once when an allocation is about to
 * fail, to have the other harts take theirs (the kernel wakes them and
 * waits a moment); the allocation is then tried again, once.
 */
void heap_idle(void);
void heap_set_reclaim_hook(void (*fn)(void));

struct heap_large_stats {
	uint64_t allocations, pages; /* live */
};
/* Large allocations live now: their count and pages. */
void heap_large_stats(struct heap_large_stats *s);

/*
 * What any strategy reports (exact when the heaps are quiet): the name the
 * boot log and the benchmarks use, its per-hart heaps (0: one heap for all
 * harts), the blocks handed out and not freed since the switch (large ones
 * included, the early heap's not) and their usable bytes, and the frames
 * the strategy holds from the buddy (for its blocks and its metadata).
 */
struct heap_usage {
	const char *strategy;
	unsigned int per_hart_heaps;
	uint64_t blocks, bytes;
	uint64_t frames;
};
void heap_usage(struct heap_usage *u);

/* The name of the strategy compiled in: "per-hart slab", "block", ... */
const char *heap_strategy(void);

/*
 * A table through printk of what the strategy holds (the per-hart heaps:
 * slabinfo-style, per hart and class), then large and early.
 */
void heap_dump(void);

/* ---- misuse ---------------------------------------------------------------- */

/*
 * A free (or ksize) of a pointer the heap did not hand out, a double free,
 * a corrupt slab trailer: reported with the address. The default handler
 * panics; with a handler that returns (tests) the call does nothing.
 */
typedef void (*heap_misuse_fn)(const char *what, const void *p);
/*
 * With the debug hardening tier, what is a whole report: the kind of
 * misuse, the object (address, size, bytes hit) and its allocation and
 * free call sites; p is the object's address.
 */
heap_misuse_fn heap_set_misuse_handler(heap_misuse_fn fn);
void heap_misuse(const char *what, const void *p);
uint64_t heap_misuses(void);

/*
 * The debug hardening tier keeps freed objects in a quarantine (FIFO,
 * HEAP_QUARANTINE_BYTES) before the heap may reuse them; this checks each
 * one's poison and redzones now (reporting any damage) and gives them all
 * back. heap_usage() never counts them. Other tiers: nothing to do.
 */
void heap_quarantine_flush(void);

/* The hardening tier compiled in: "off", "default" or "debug". */
const char *heap_hardening(void);

/* ---- sampled guard pages (CONFIG_HEAP_GUARD, mm/heap/heap_guard.c) ---------------- */

/*
 * KFENCE's design: one allocation in HEAP_GUARD_RATE (up to a page, aligned
 * up to a page) is placed alone at the end of a page of a fixed pool, the
 * page after it (and before the first) inaccessible, so that an overflow
 * faults at once; a freed object's page is made inaccessible too, so a use
 * after free faults. The fault report names the object.
 *
 * The port gives the pool's address space: base is page aligned and
 * HEAP_GUARD_POOL_SIZE long (guard, slot 0, guard, slot 1, ..., guard),
 * every page inaccessible at first. open makes a slot's page readable and
 * writable (0, or an error: the allocation is made the usual way); close
 * makes it fault on any access from every hart before it returns. Both
 * are called one at a time (under the pool's lock).
 */
#ifdef CONFIG_HEAP_GUARD_SLOTS
#define HEAP_GUARD_SLOTS CONFIG_HEAP_GUARD_SLOTS
#else
#define HEAP_GUARD_SLOTS 255
#endif
#define HEAP_GUARD_POOL_SIZE ((2 * (uint64_t)HEAP_GUARD_SLOTS + 1) * PAGE_SIZE)

struct heap_guard_ops {
	uintptr_t base;
	int (*open)(void *page);
	void (*close)(void *page);
};

/*
 * Sets up the pool over ops (NULL: none, nothing is sampled), every slot
 * free; again (tests): the old pool's objects are forgotten, their pages
 * closed. 0 or -EINVAL. Does nothing without CONFIG_HEAP_GUARD.
 */
int heap_guard_init(const struct heap_guard_ops *ops);

/* One allocation in rate is sampled (0: none); HEAP_GUARD_RATE until changed. */
void heap_guard_set_rate(unsigned int rate);

/*
 * A fault at addr (access: "read", "write", ...; pc the instruction): if
 * addr is in the pool, it is reported through heap_misuse() (the object,
 * what the access was and how far from it, both call sites) and the
 * report is returned, for a handler that returned (the caller must not
 * resume the access: a kernel panics with it). NULL: not the pool's.
 */
const char *heap_guard_fault(uintptr_t addr, const char *access, uintptr_t pc);

struct heap_guard_stats {
	unsigned int rate;	  /* 0: off */
	unsigned int slots, live; /* the pool's slots, those handed out now */
	uint64_t allocs, frees;	  /* objects placed in the pool and freed */
	uint64_t full;		  /* sampled allocations the pool had no slot for */
};
void heap_guard_stats(struct heap_guard_stats *s);

#endif
