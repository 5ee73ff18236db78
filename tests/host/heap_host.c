// SPDX-License-Identifier: MIT
/* The heap tests' machine (heap_host.h). */
#include <mm/heap_hart.h>
#include <kernel/ktest.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "heap_host.h"

struct memmap heap_host_map;
struct vmap heap_host_vmap;

static struct mmu_space space;
static char *window; /* host addresses standing for [VBASE, VBASE + VSIZE) */
static pthread_mutex_t backend_lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what)
{
	fprintf(stderr, "heap_host: %s failed\n", what);
	abort();
}

/* ---- the backend: vmap for the bookkeeping, memfd aliases for the contents --- */

static char *host_of(uint64_t va)
{
	return window + (va - HEAP_HOST_VBASE);
}

static uint64_t va_of(const void *p)
{
	return HEAP_HOST_VBASE + (uint64_t)((const char *)p - window);
}

/* Gives [p, p + len) of the window back to an inaccessible reservation. */
static void unalias(char *p, uint64_t len)
{
	if (mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
		 0) != p)
		die("mmap(window)");
}

/*
 * One host lock around each backend call: the window's aliases change
 * with the vmap's bookkeeping, never between (a freed range handed out
 * again before its old aliases went would lose the new ones).
 */
static int host_map(const phys_addr_t *frames, size_t nr, size_t align, void **p)
{
	uint64_t va;
	int err;

	pthread_mutex_lock(&backend_lock);
	err = vmap_map(&heap_host_vmap, frames, nr, align, &va);
	if (!err) {
		for (size_t i = 0; i < nr; i++) {
			if (!arena_alias(host_of(va) + i * PAGE_SIZE, frames[i]))
				die("arena_alias");
		}
		*p = host_of(va);
	}
	pthread_mutex_unlock(&backend_lock);
	return err;
}

static int host_lookup(const void *p, phys_addr_t *first)
{
	int err;

	pthread_mutex_lock(&backend_lock);
	err = vmap_lookup(&heap_host_vmap, va_of(p), first, NULL);
	pthread_mutex_unlock(&backend_lock);
	return err;
}

static int host_unmap(void *p, size_t nr, void (*give)(phys_addr_t pa, void *arg), void *arg)
{
	long n;

	pthread_mutex_lock(&backend_lock);
	n = vmap_unmap(&heap_host_vmap, va_of(p), nr, give, arg);
	if (n > 0)
		unalias(p, (uint64_t)n * PAGE_SIZE);
	pthread_mutex_unlock(&backend_lock);
	return n < 0 ? (int)n : 0;
}

/* The frames mapped at va..va + nr pages aliased at their host addresses. */
static void alias_mapped(uint64_t va, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		phys_addr_t pa;

		if (mmu_translate(&space, va + i * PAGE_SIZE, &pa, NULL, NULL) < 0 ||
		    !arena_alias(host_of(va) + i * PAGE_SIZE, pa))
			die("arena_alias");
	}
}

/* As the kernel's: in place, else moved with the same frames (the aliases follow). */
static int host_grow(void *p, size_t nr, const phys_addr_t *more, size_t n_more, size_t align,
		     void **np)
{
	uint64_t va;
	int err;

	pthread_mutex_lock(&backend_lock);
	err = vmap_grow(&heap_host_vmap, va_of(p), nr, more, n_more, align, true, &va);
	if (!err && va == va_of(p)) {
		alias_mapped(va + nr * PAGE_SIZE, n_more);
	} else if (!err) {
		alias_mapped(va, nr + n_more);
		unalias(p, nr * PAGE_SIZE);
	}
	if (!err)
		*np = host_of(va);
	pthread_mutex_unlock(&backend_lock);
	return err;
}

static int host_shrink(void *p, size_t nr, size_t keep, void (*give)(phys_addr_t pa, void *arg),
		       void *arg)
{
	long n;

	pthread_mutex_lock(&backend_lock);
	n = vmap_shrink(&heap_host_vmap, va_of(p), nr, keep, give, arg);
	if (n > 0)
		unalias((char *)p + keep * PAGE_SIZE, (uint64_t)n * PAGE_SIZE);
	pthread_mutex_unlock(&backend_lock);
	return n < 0 ? (int)n : 0;
}

static void backend_init(void)
{
	/* aligned like the VA window, so a VA's alignment is its host address's */
	if (!window) {
		char *r = mmap(NULL, 2 * HEAP_HOST_VSIZE, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (r == MAP_FAILED)
			die("mmap(window)");
		window = (char *)ALIGN_UP((uintptr_t)r, (uintptr_t)HEAP_HOST_VSIZE);
	}
	unalias(window, HEAP_HOST_VSIZE);
	memset(&space, 0, sizeof(space));
	if (mmu_space_init(&space, &pte_format_sv39, NULL, 0) < 0)
		die("mmu_space_init");
	if (vmap_init(&heap_host_vmap, &space, HEAP_HOST_VBASE, HEAP_HOST_VSIZE) < 0)
		die("vmap_init");
}

int heap_host_switch(unsigned int nr_harts)
{
	const struct heap_large_ops ops = {
	    .base = (uintptr_t)window,
	    .size = HEAP_HOST_VSIZE,
	    .map = host_map,
	    .lookup = host_lookup,
	    .unmap = host_unmap,
	    .grow = host_grow,
	    .shrink = host_shrink,
	};

	return switch_to_multiple_heaps(nr_harts, &ops);
}

/* ---- the machine ----------------------------------------------------------------- */

static unsigned int nr_misuses;
static const void *last_misuse;
static const char *last_what;

static void record_misuse(const char *what, const void *p)
{
	__atomic_fetch_add(&nr_misuses, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&last_misuse, p, __ATOMIC_RELAXED);
	__atomic_store_n(&last_what, what, __ATOMIC_RELAXED);
}

unsigned int heap_host_misuses(const void **last, const char **what)
{
	if (last)
		*last = __atomic_load_n(&last_misuse, __ATOMIC_RELAXED);
	if (what)
		*what = __atomic_load_n(&last_what, __ATOMIC_RELAXED);
	return __atomic_exchange_n(&nr_misuses, 0, __ATOMIC_RELAXED);
}

void heap_host_boot(uint64_t ram, uint64_t early_size)
{
	const struct mem_range bank = { HEAP_HOST_RAM_BASE, ram };
	struct memmap *m = &heap_host_map;

	/* the old machine's space and vmap go with its arena: forgotten, not freed */
	arena_use_memfd(true);
	arena_machine(m, &bank, 1);
	arena_set_hart(0);
	/* as on QEMU virt: firmware at the bottom, and a boot allocation before ours */
	if (bootmem_reserve(m, HEAP_HOST_RAM_BASE, 0x80000, RESV_RESERVED, "firmware") < 0)
		die("bootmem_reserve");
	phys_addr_t pa;
	if (bootmem_alloc(m, 3 * PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa) < 0)
		die("bootmem_alloc");
	heap_reset(); /* the old machine's heap, every layer */
	if (heap_early_init_bootmem(m, early_size) < 0)
		die("heap_early_init_bootmem");
	if (buddy_init(m) < 0)
		die("buddy_init");
	heap_set_misuse_handler(record_misuse);
	heap_host_misuses(NULL, NULL);
	backend_init();
}

void heap_host_quiesce(unsigned int nr_harts)
{
	unsigned int me = this_hart_index();

	heap_quarantine_flush(); /* the debug tier's freed objects, checked and given back */
	for (unsigned int h = 0; h < nr_harts; h++) {
		arena_set_hart(h);
		heap_trim();
	}
	arena_set_hart(me);
	buddy_drain_caches();
}

void heap_host_fill_inbox(unsigned int owner, unsigned int from)
{
	static void *v[HEAP_INBOX_SLOTS];
	unsigned int me = this_hart_index();

	arena_set_hart(owner);
	for (unsigned int i = 0; i < HEAP_INBOX_SLOTS; i++)
		v[i] = kmalloc(8);
	arena_set_hart(from);
	for (unsigned int i = 0; i < HEAP_INBOX_SLOTS; i++)
		kfree(v[i]);
	arena_set_hart(me);
}

uint64_t heap_host_free0;

bool heap_host_ready(struct ktest *t, unsigned int nr_harts)
{
	void *warm;

	if (!KT_EXPECT_EQ(t, heap_host_switch(nr_harts), 0))
		return false;
	warm = kmalloc(1 << 20); /* a large allocation with every strategy */
	if (!KT_EXPECT(t, warm != NULL))
		return false;
	kfree(warm);
	heap_host_quiesce(nr_harts);
	heap_host_free0 = buddy_free_frames();
	return true;
}

void heap_host_expect_baseline(struct ktest *t, unsigned int nr_harts)
{
	struct heap_large_stats l;

	heap_host_quiesce(nr_harts);
	for (unsigned int h = 0; h < nr_harts; h++) {
		struct heap_hart_stats s;
		uint64_t objs = 0, pages = 0;

		KT_EXPECT_EQ(t, heap_hart_stats(h, &s), 0);
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
			objs += s.cls[c].in_use;
			pages += s.cls[c].pages;
		}
		for (unsigned int c = 0; c < HEAP_MID_CLASSES; c++) {
			objs += s.mid[c].in_use;
			pages += s.mid[c].blocks;
		}
		KT_EXPECT_EQ(t, objs, 0);
		KT_EXPECT_EQ(t, pages, 0);
		KT_EXPECT_EQ(t, s.empty_pages, 0);
	}
	heap_large_stats(&l);
	KT_EXPECT_EQ(t, l.allocations, 0);
	KT_EXPECT_EQ(t, heap_host_vmap.nr_mappings, 0);
	if (!KT_EXPECT_EQ(t, buddy_free_frames(), heap_host_free0))
		ktest_log(t, "vmap: %llu records, %llu table pages in its space",
			  (unsigned long long)heap_host_vmap.nr_records,
			  (unsigned long long)space.nr_tables);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

static uint64_t pattern(uintptr_t a)
{
	return (a * 0x9e3779b97f4a7c15ULL) ^ (a >> 29) ^ 0xa5a5c3c3;
}

void heap_host_fill(void *p, size_t size)
{
	unsigned char *b = p;

	for (size_t i = 0; i < size; i += 8) {
		uint64_t w = pattern((uintptr_t)(b + i));

		memcpy(b + i, &w, MIN((size_t)8, size - i));
	}
}

bool heap_host_check_as(const void *p, const void *origin, size_t size)
{
	const unsigned char *b = p, *o = origin;

	for (size_t i = 0; i < size; i += 8) {
		uint64_t w = pattern((uintptr_t)(o + i));

		if (memcmp(b + i, &w, MIN((size_t)8, size - i)))
			return false;
	}
	return true;
}

bool heap_host_check(const void *p, size_t size)
{
	return heap_host_check_as(p, p, size);
}
