// SPDX-License-Identifier: MIT
/*
 * The kernel's heap set-up: the early heap from the boot map, then the
 * switch to per-hart heaps with large allocations mapped through
 * kernel_vmap (whose addresses the kernel uses as they are: the MMU is on),
 * and the reclaim hook that wakes harts with frees waiting for them.
 * With CONFIG_HEAP_GUARD, the guard pool too: frames of its own, mapped
 * and unmapped in the vmap area's last GiB, which the heap's window then
 * leaves out.
 */
#include <kernel/heap.h>
#include <mm/heap_hart.h>
#include <asm/layout.h>
#include <kernel/bench.h>
#include <kernel/hart.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/mmu.h>
#include <mm/vmap.h>

struct vmap kernel_vmap;

/* Blocks of each kind of the early heap: a fixed size, the fallback, the fallback aligned. */
void *heap_early_ktest_blocks[HEAP_EARLY_KTEST_BLOCKS];
const size_t heap_early_ktest_sizes[HEAP_EARLY_KTEST_BLOCKS] = { 24, 3000, 4096 };

void heap_kernel_early_init(struct memmap *m)
{
	if (heap_early_init_bootmem(m, HEAP_EARLY_SIZE) < 0)
		panic("heap: no room for the early heap (%llu KiB)",
		      (unsigned long long)(HEAP_EARLY_SIZE >> 10));
#ifdef CONFIG_KTEST
	for (int i = 0; i < HEAP_EARLY_KTEST_BLOCKS; i++) {
		unsigned char *p = kmalloc(heap_early_ktest_sizes[i]);

		for (size_t b = 0; p && b < heap_early_ktest_sizes[i]; b++)
			p[b] = (unsigned char)(b * 13 + i);
		heap_early_ktest_blocks[i] = p;
	}
#endif
}

static int vmap_large_map(const phys_addr_t *frames, size_t nr, size_t align, void **p)
{
	uint64_t va;
	int err = vmap_map(&kernel_vmap, frames, nr, align, &va);

	if (!err)
		*p = (void *)(uintptr_t)va;
	return err;
}

static int vmap_large_lookup(const void *p, phys_addr_t *first)
{
	return vmap_lookup(&kernel_vmap, (uintptr_t)p, first, NULL);
}

static int vmap_large_unmap(void *p, size_t nr, void (*give)(phys_addr_t pa, void *arg),
			    void *arg)
{
	long n = vmap_unmap(&kernel_vmap, (uintptr_t)p, nr, give, arg);

	return n < 0 ? (int)n : 0;
}

/* In place if it can, else moved: the frames mapped again elsewhere, nothing copied. */
static int vmap_large_grow(void *p, size_t nr, const phys_addr_t *more, size_t n_more, size_t align,
			   void **np)
{
	uint64_t va;
	int err = vmap_grow(&kernel_vmap, (uintptr_t)p, nr, more, n_more, align, true, &va);

	if (!err)
		*np = (void *)(uintptr_t)va;
	return err;
}

static int vmap_large_shrink(void *p, size_t nr, size_t keep,
			     void (*give)(phys_addr_t pa, void *arg), void *arg)
{
	long n = vmap_shrink(&kernel_vmap, (uintptr_t)p, nr, keep, give, arg);

	return n < 0 ? (int)n : 0;
}

/*
 * How long an allocation about to fail waits, in all, for the harts it
 * woke to take their queues: a time, not a count of loops, which a slow
 * vCPU (TCG) runs through before a woken hart has even been scheduled.
 */
#define RECLAIM_WAIT_MS 1000

/* Harts woken at once: what is kept of each (its drain count) stays small on the stack. */
#define RECLAIM_BATCH 32

/*
 * Wakes every other hart with frees queued for it (its idle loop takes
 * them), RECLAIM_BATCH at a time, and waits until each has taken its queue
 * (its count of drains moved: the frees are done, not only the queue
 * taken) or the time is up: a busy hart takes its queue when a cache of
 * it next runs dry or overflows, which may be later, and then into its
 * caches (an idle hart's goes to its pages, where others can take them).
 */
static void reclaim_from_idle_harts(void)
{
	unsigned int me = this_hart_index();
	uint64_t start = arch_read_time(), wait = arch_time_hz() * RECLAIM_WAIT_MS / 1000;

	for (unsigned int first = 0; first < MAX_HARTS; first += RECLAIM_BATCH) {
		unsigned int n = MIN(RECLAIM_BATCH, MAX_HARTS - first), woken[RECLAIM_BATCH],
			     nw = 0;
		uint64_t drains[RECLAIM_BATCH];

		for (unsigned int i = first; i < first + n; i++) {
			/* the count before the look: a drain from here on counts */
			uint64_t d = heap_hart_drains(i);

			if (i != me && smp_hart_online(i) && heap_hart_has_queue(i)) {
				drains[nw] = d;
				woken[nw++] = i;
				arch_kick_hart(hart_locals[i].hartid);
			}
		}
		for (unsigned int w = 0; w < nw; w++) {
			while (heap_hart_drains(woken[w]) == drains[w] &&
			       arch_read_time() - start < wait)
				cpu_relax();
		}
	}
}

#ifdef CONFIG_HEAP_GUARD
#define GUARD_AREA SZ_1G
#else
#define GUARD_AREA 0
#endif

/*
 * The vmap window less its first GiB, which stays for mappings made by
 * hand (tests), and less the guard pool's GiB at its end: a GiB of its
 * own, so that the pool's page-table pages are the pool's alone.
 */
#define HEAP_VMAP_BASE (VMAP_BASE + SZ_1G)
#define HEAP_VMAP_SIZE (VMAP_SIZE - SZ_1G - GUARD_AREA)

#ifdef CONFIG_HEAP_GUARD
#define GUARD_BASE (VMAP_BASE + VMAP_SIZE - GUARD_AREA)
_Static_assert(HEAP_GUARD_POOL_SIZE <= GUARD_AREA, "the guard pool fits its GiB");

static struct mmu_space *guard_space;
static phys_addr_t guard_frames[HEAP_GUARD_SLOTS]; /* slot i's page, kept while unmapped */

static phys_addr_t guard_frame(void *page)
{
	return guard_frames[((uintptr_t)page - GUARD_BASE) / PAGE_SIZE / 2];
}

static int guard_open(void *page)
{
	return mmu_map(guard_space, (uintptr_t)page, guard_frame(page), PAGE_SIZE,
		       MMU_PROT_READ | MMU_PROT_WRITE | MMU_PROT_GLOBAL, 0);
}

static void guard_close(void *page)
{
	mmu_unmap(guard_space, (uintptr_t)page, PAGE_SIZE); /* a 4 KiB leaf: cannot fail */
}

/* The pool's frames, once; without them the heap works unsampled (false). */
static bool guard_init(struct mmu_space *space)
{
	static const struct heap_guard_ops ops = {
		.base = GUARD_BASE,
		.open = guard_open,
		.close = guard_close,
	};

	phys_addr_t pin;

	guard_space = space;
	for (unsigned int i = 0; i < HEAP_GUARD_SLOTS; i++) {
		if (buddy_alloc_frame(&guard_frames[i]) < 0) {
			while (i--)
				buddy_free_frame(guard_frames[i]);
			return false;
		}
	}
	/*
	 * A page mapped for good (read-only, never used) right after the
	 * pool: its page tables then stay when every slot is closed, instead
	 * of being freed and made again, zeroed, at the next sample.
	 */
	if (buddy_alloc_frame(&pin) == 0 &&
	    mmu_map(space, GUARD_BASE + HEAP_GUARD_POOL_SIZE, pin, PAGE_SIZE,
		    MMU_PROT_READ | MMU_PROT_GLOBAL, 0) < 0)
		buddy_free_frame(pin);
	return heap_guard_init(&ops) == 0;
}
#endif

uint64_t heap_kernel_setup_instructions;

void heap_kernel_init(struct mmu_space *space, unsigned int nr_harts)
{
	struct bench_sample start = bench_now();
	char guard[48] = "";
	struct heap_large_ops ops = {
	    .base = (uintptr_t)HEAP_VMAP_BASE,
	    .size = (uintptr_t)HEAP_VMAP_SIZE,
	    .map = vmap_large_map,
	    .lookup = vmap_large_lookup,
	    .unmap = vmap_large_unmap,
	    .grow = vmap_large_grow,
	    .shrink = vmap_large_shrink,
	};
	int err = vmap_init(&kernel_vmap, space, HEAP_VMAP_BASE, HEAP_VMAP_SIZE);

	if (err)
		panic("heap: vmap window %#llx+%#llx: error %d", (unsigned long long)HEAP_VMAP_BASE,
		      (unsigned long long)HEAP_VMAP_SIZE, err);
	err = switch_to_multiple_heaps(nr_harts, &ops);
	if (err)
		panic("heap: cannot switch to the %s heap for %u harts: error %d", heap_strategy(),
		      nr_harts, err);
	heap_kernel_setup_instructions = bench_now().instret - start.instret;
#ifdef CONFIG_HEAP_GUARD
	if (!guard_init(space))
		ksnprintf(guard, sizeof(guard), ", guard pages: no memory for the pool");
	else if (CONFIG_HEAP_GUARD_RATE == 0)
		ksnprintf(guard, sizeof(guard), ", guard pages: none sampled (rate 0), %u slots",
			  (unsigned int)HEAP_GUARD_SLOTS);
	else
		ksnprintf(guard, sizeof(guard), ", guard pages: 1 in %u, %u slots",
			  (unsigned int)CONFIG_HEAP_GUARD_RATE, (unsigned int)HEAP_GUARD_SLOTS);
#endif
	printk("heap: strategy %s, %u harts, hardening %s%s\n", heap_strategy(), nr_harts,
	       heap_hardening(), guard);
	heap_set_reclaim_hook(reclaim_from_idle_harts);
}
