// SPDX-License-Identifier: MIT
/*
 * Large allocations: beyond the largest slab class (or aligned beyond a
 * slab page), single frames from the buddy, not necessarily contiguous,
 * mapped at fresh virtual addresses by a backend (vmap in the kernel).
 * The first frame is tagged FRAME_LARGE with the page count in aux, the
 * others FRAME_LARGE with aux 0, so a free needs only the pointer: the
 * backend gives the first frame, its metadata the size.
 */
#include <mm/buddy.h>
#include <mm/harts.h>
#include <mm/port.h>
#include <string.h>

#include "heap_internal.h"

#define STACK_FRAMES 32 /* frame lists up to this long stay on the stack */

static struct heap_large_ops ops; /* ops.map NULL: none */
uintptr_t large_window, large_window_size;
/*
 * The allocations and pages live (these and the strategies' others,
 * large_account()), counted per hart: each hart writes its own line alone
 * (the heap is never called from interrupt handlers), a load and a store
 * no other hart contends for; heap_large_stats() adds them up. A hart's
 * count may go below 0 (it freed what another allocated): the sum does not.
 */
struct large_count {
	uint64_t allocations, pages;
} __aligned(64);
static struct large_count counts[MAX_HARTS];

void large_account(long allocs, long pages)
{
	struct large_count *c = &counts[this_hart_index()];

	__atomic_store_n(&c->allocations, c->allocations + (uint64_t)allocs, __ATOMIC_RELAXED);
	__atomic_store_n(&c->pages, c->pages + (uint64_t)pages, __ATOMIC_RELAXED);
}

void large_reset(const struct heap_large_ops *o)
{
	if (o) {
		ops = *o;
		large_window = o->base;
		large_window_size = o->size;
	} else {
		ops = (struct heap_large_ops){ 0 };
		large_window = large_window_size = 0;
	}
	memset(counts, 0, sizeof(counts));
}

static void free_frames(const phys_addr_t *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buddy_free(frames[i], 0);
}

#define LIST_ON_STACK (-1)
#define LIST_MAPPED (-2) /* a large allocation of its own */

/*
 * The frame list's memory (*order says which): the stack for a few, a
 * block of the buddy for up to 2 GiB of frames (a 4 MiB list), beyond that
 * (or with no free block that large: fragmented memory) a large
 * allocation of its own, whose list is a block (up to 1 TiB).
 * Without that last one nothing above 2 GiB could be allocated (sort asks
 * for 6.5 GB when it starts, and takes less only if refused).
 */
static phys_addr_t *frame_list(size_t nr, phys_addr_t *on_stack, int *order)
{
	phys_addr_t pa;
	int k = 0;

	*order = LIST_ON_STACK;
	if (nr <= STACK_FRAMES)
		return on_stack;
	while (((uint64_t)PAGE_SIZE << k) < nr * sizeof(phys_addr_t)) {
		if (++k > BUDDY_MAX_ORDER) {
			*order = LIST_MAPPED;
			return large_alloc(nr * sizeof(phys_addr_t), 0);
		}
	}
	if (buddy_alloc((unsigned int)k, &pa) <
	    0) { /* no block that large: single frames, mapped */
		*order = LIST_MAPPED;
		return large_alloc(nr * sizeof(phys_addr_t), 0);
	}
	*order = k;
	return phys_to_virt(pa);
}

static void frame_list_free(phys_addr_t *list, int order)
{
	if (order == LIST_MAPPED)
		large_free(list);
	else if (order >= 0)
		buddy_free(virt_to_phys(list), (unsigned int)order);
}

/*
 * nr frames, each tagged, the first as an allocation's first of total
 * pages (0: none is, the frames grow an allocation); false (none kept) if
 * the buddy runs out.
 */
static bool get_frames(phys_addr_t *frames, size_t nr, size_t total)
{
	for (size_t i = 0; i < nr; i++) {
		if (buddy_alloc(0, &frames[i]) < 0) {
			free_frames(frames, i);
			return false;
		}
		frame_set_owner(frames[i], 0, FRAME_LARGE, 0, i == 0 ? (uint32_t)total : 0);
	}
	return true;
}

static size_t pages_of(size_t size)
{
	return (size_t)(ALIGN_UP((uint64_t)MAX(size, (size_t)1), PAGE_SIZE) / PAGE_SIZE);
}

void *large_alloc(size_t size, size_t align)
{
	phys_addr_t stack[STACK_FRAMES], *frames;
	size_t nr;
	int order;
	void *p = NULL;

	/* what can never fit is refused before any frame is taken */
	if (!ops.map || size > UINT32_MAX * PAGE_SIZE || size >= ops.size)
		return NULL;
	nr = pages_of(size);
	if (buddy_ensure_free(nr) < 0)
		return NULL;
	frames = frame_list(nr, stack, &order);
	if (!frames)
		return NULL;
	if (get_frames(frames, nr, nr)) {
		if (ops.map(frames, nr, MAX(align, (size_t)PAGE_SIZE), &p) < 0) {
			free_frames(frames, nr);
			p = NULL;
		} else {
			large_account(1, (long)nr);
		}
	}
	frame_list_free(frames, order);
	return p;
}

/* The page count of the large allocation at p, from its first frame; 0 if p is none. */
static uint32_t large_pages(const void *p, phys_addr_t *first)
{
	struct frame_owner o;

	if (ops.lookup(p, first) < 0 || frame_owner(*first, &o) < 0 || o.tag != FRAME_LARGE ||
	    o.head != *first)
		return 0;
	return o.aux; /* 0 for any frame but the first */
}

uint32_t large_pages_at(const void *p)
{
	phys_addr_t first;

	return ops.lookup && large_owns(p) ? large_pages(p, &first) : 0;
}

static void give_frame(phys_addr_t pa, void *arg)
{
	(void)arg;
	buddy_free(pa, 0);
}

void large_free(void *p)
{
	phys_addr_t first;
	uint32_t n = large_pages(p, &first);

	if (!n) {
		heap_misuse("kfree of a large allocation's middle, or one already freed", p);
		return;
	}
	if (ops.unmap(p, n, give_frame, NULL) < 0) {
		heap_misuse("kfree of a large allocation freed at the same time elsewhere", p);
		return;
	}
	large_account(-1, -(long)n);
}

/*
 * The large allocation p grown to size bytes with frames of its own, its
 * bytes where they are (the backend maps the new frames after them, or
 * all at fresh addresses): the new pointer, or NULL (nothing changed, no
 * misuse reported: krealloc() copies, or reports p).
 */
void *large_grow(void *p, size_t size, size_t align)
{
	phys_addr_t stack[STACK_FRAMES], *frames, first;
	uint32_t n = ops.grow ? large_pages(p, &first) : 0;
	size_t nr = pages_of(size), more;
	int order;
	void *np = NULL;

	if (!n || size > UINT32_MAX * PAGE_SIZE || size >= ops.size || nr <= n)
		return NULL;
	more = nr - n;
	if (buddy_ensure_free(more) < 0)
		return NULL;
	frames = frame_list(more, stack, &order);
	if (!frames)
		return NULL;
	if (get_frames(frames, more, 0)) {
		if (ops.grow(p, n, frames, more, MAX(align, (size_t)PAGE_SIZE), &np) < 0) {
			free_frames(frames, more);
			np = NULL;
		} else {
			/* the first frame says the length: a free unmaps that many */
			frame_set_owner(first, 0, FRAME_LARGE, 0, (uint32_t)nr);
			large_account(0, (long)more);
		}
	}
	frame_list_free(frames, order);
	return np;
}

void *large_shrink(void *p, size_t size)
{
	phys_addr_t first;
	uint32_t n = ops.shrink ? large_pages(p, &first) : 0;
	size_t keep = pages_of(size);

	if (!n || keep >= n || ops.shrink(p, n, keep, give_frame, NULL) < 0)
		return NULL;
	frame_set_owner(first, 0, FRAME_LARGE, 0, (uint32_t)keep);
	large_account(0, -(long)(n - keep));
	return p;
}

size_t large_size(const void *p)
{
	phys_addr_t first;
	uint32_t n = large_pages(p, &first);

	if (!n)
		heap_misuse("ksize of a large allocation's middle, or one freed", p);
	return (size_t)n * PAGE_SIZE;
}

void heap_large_stats(struct heap_large_stats *s)
{
	*s = (struct heap_large_stats){0};
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		s->allocations += __atomic_load_n(&counts[i].allocations, __ATOMIC_RELAXED);
		s->pages += __atomic_load_n(&counts[i].pages, __ATOMIC_RELAXED);
	}
}
