// SPDX-License-Identifier: MIT
/*
 * Sampled guard pages (include/mm/heap.h, heap_guard.h), after Linux's
 * KFENCE: a pool of HEAP_GUARD_SLOTS pages, each between two inaccessible
 * pages, whose mapping the port does (heap_guard_ops: the kernel maps and
 * unmaps frames, a host program uses mprotect). kmalloc.c sends one
 * allocation in rate here, for every strategy and tier, since it asks
 * before any of them.
 *
 *   [ guard ][ slot 0: canary | object ][ guard ][ slot 1 ] ... [ guard ]
 *
 * The object ends at its page's end, less what its alignment takes (up to
 * align - 1 bytes): a read or write past it faults on the next page at
 * once. The rest of the page is canary bytes, checked when the object is
 * freed (a write into them did not fault; it is reported then). A freed
 * slot's page is made inaccessible and the slot joins the back of a FIFO,
 * so that it stays so, and a use after free faults, for as long as
 * possible. Faults in the pool come back through heap_guard_fault(),
 * which names the object, the access and both call sites.
 *
 * Allocation and free take one lock (they are rare: one in rate), around
 * the port's open and close too. The fault report reads without it: it
 * ends the program.
 */
#include <mm/port.h>
#include <string.h>

#include "heap_guard.h"
#include "heap_internal.h"

#if !HEAP_GUARD

int heap_guard_init(const struct heap_guard_ops *ops)
{
	(void)ops;
	return 0;
}

void heap_guard_set_rate(unsigned int rate)
{
	(void)rate;
}

const char *heap_guard_fault(uintptr_t addr, const char *access, uintptr_t pc)
{
	(void)addr, (void)access, (void)pc;
	return NULL;
}

void heap_guard_stats(struct heap_guard_stats *s)
{
	*s = (struct heap_guard_stats){0};
}

#else

struct guard_countdown guard_countdown[MAX_HARTS];
struct guard_window guard_window;

enum { SLOT_UNUSED, SLOT_LIVE, SLOT_FREED };

struct slot {
	uintptr_t obj; /* the object, or the last one (freed) */
	size_t size;   /* asked for */
	const void *alloc_site, *free_site;
	unsigned int state;
};

static struct {
	spinlock_t lock;
	struct heap_guard_ops ops;
	unsigned int rate;
	struct slot slots[HEAP_GUARD_SLOTS];
	uint16_t fifo[HEAP_GUARD_SLOTS]; /* free slots, the longest free first */
	unsigned int head, nr_free;
	uint64_t allocs, frees, full;
} pool = {.lock = SPINLOCK_INIT, .rate = HEAP_GUARD_RATE};

static inline uintptr_t slot_page(unsigned int i)
{
	return guard_window.base + (2 * (uintptr_t)i + 1) * PAGE_SIZE;
}

/* The canary byte at a (KFENCE's): it differs from its neighbours, so a shifted copy shows. */
static inline uint8_t canary(uintptr_t a)
{
	return (uint8_t)(0xaa ^ (a & 7));
}

static void rearm(struct guard_countdown *c)
{
	unsigned int r = __atomic_load_n(&pool.rate, __ATOMIC_RELAXED);

	*(volatile unsigned long *)&c->left = r ? r : ~0UL;
}

void heap_guard_set_rate(unsigned int rate)
{
	__atomic_store_n(&pool.rate, rate, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		rearm(&guard_countdown[i]);
}

int heap_guard_init(const struct heap_guard_ops *ops)
{
	if (ops && (!IS_ALIGNED(ops->base, PAGE_SIZE) || !ops->open || !ops->close))
		return -EINVAL;
	spin_lock(&pool.lock);
	for (unsigned int i = 0; guard_window.size && i < HEAP_GUARD_SLOTS; i++)
		if (pool.slots[i].state == SLOT_LIVE)
			pool.ops.close((void *)slot_page(i));
	__atomic_store_n(&guard_window.size, 0, __ATOMIC_RELAXED);
	memset(pool.slots, 0, sizeof(pool.slots));
	for (unsigned int i = 0; i < HEAP_GUARD_SLOTS; i++)
		pool.fifo[i] = (uint16_t)i;
	pool.head = 0;
	pool.nr_free = HEAP_GUARD_SLOTS;
	pool.allocs = pool.frees = pool.full = 0;
	if (ops) {
		pool.ops = *ops;
		__atomic_store_n(&guard_window.base, ops->base, __ATOMIC_RELAXED);
		__atomic_store_n(&guard_window.size, (uintptr_t)HEAP_GUARD_POOL_SIZE,
				 __ATOMIC_RELEASE);
	}
	spin_unlock(&pool.lock);
	heap_guard_set_rate(pool.rate);
	return 0;
}

void heap_guard_stats(struct heap_guard_stats *s)
{
	spin_lock(&pool.lock);
	*s = (struct heap_guard_stats){
	    .rate = pool.rate,
	    .slots = guard_window.size ? HEAP_GUARD_SLOTS : 0,
	    .live = guard_window.size ? HEAP_GUARD_SLOTS - pool.nr_free : 0,
	    .allocs = pool.allocs,
	    .frees = pool.frees,
	    .full = pool.full,
	};
	spin_unlock(&pool.lock);
}

void guard_usage(uint64_t *blocks, uint64_t *bytes)
{
	*blocks = *bytes = 0;
	spin_lock(&pool.lock);
	for (unsigned int i = 0; guard_window.size && i < HEAP_GUARD_SLOTS; i++) {
		if (pool.slots[i].state == SLOT_LIVE) {
			++*blocks;
			*bytes += pool.slots[i].size;
		}
	}
	spin_unlock(&pool.lock);
}

/* ---- reports ---------------------------------------------------------------------- */

/* A call (kfree, ksize, krealloc) on p, which is in the pool but no live object's start. */
static void report_bad_call(uintptr_t a, const char *call, const void *caller)
{
	uintptr_t off = a - guard_window.base;
	const struct slot *s = &pool.slots[off / PAGE_SIZE / 2];

	if (!(off / PAGE_SIZE & 1) || s->state == SLOT_UNUSED)
		heap_misusef(
		    (void *)a,
		    "guard pool: %s of %#lx, which is no object (a %s page); called from %p", call,
		    (unsigned long)a, off / PAGE_SIZE & 1 ? "free slot's" : "guard", caller);
	else if (s->state == SLOT_FREED && s->obj == a)
		heap_misusef(
		    (void *)a,
		    "guard pool: %s of a freed object %p (size %zu)%s; allocated at %p, freed at "
		    "%p, now called from %p",
		    call, (void *)a, s->size, !strcmp(call, "kfree") ? ": a double free" : "",
		    s->alloc_site, s->free_site, caller);
	else
		heap_misusef(
		    (void *)a,
		    "guard pool: %s of %#lx, %+ld bytes from the start of %s object %p (size "
		    "%zu), not its start; allocated at %p, called from %p",
		    call, (unsigned long)a, (long)(a - s->obj),
		    s->state == SLOT_LIVE ? "live" : "a freed", (void *)s->obj, s->size,
		    s->alloc_site, caller);
}

/* canary() of 8 bytes from an 8-aligned address: the same word everywhere. */
static inline uint64_t canary_word(void)
{
	uint8_t b[8];
	uint64_t w;

	for (unsigned int i = 0; i < 8; i++)
		b[i] = canary(i);
	memcpy(&w, b, sizeof(w));
	return w;
}

/*
 * Word by word where it can, as a page of bytes one at a time would cost
 * a sampled allocation some 20000 instructions more.
 */
static void canary_fill(uintptr_t a, uintptr_t end)
{
	for (; a < end && !IS_ALIGNED(a, 8); a++)
		*(uint8_t *)a = canary(a);
	for (; a + 8 <= end; a += 8)
		*(uint64_t *)a = canary_word();
	for (; a < end; a++)
		*(uint8_t *)a = canary(a);
}

static bool canary_intact(uintptr_t a, uintptr_t end)
{
	for (; a < end && !IS_ALIGNED(a, 8); a++)
		if (*(const uint8_t *)a != canary(a))
			return false;
	for (; a + 8 <= end; a += 8)
		if (*(const uint64_t *)a != canary_word())
			return false;
	for (; a < end; a++)
		if (*(const uint8_t *)a != canary(a))
			return false;
	return true;
}

/* How many canary bytes of [a, end) are overwritten; *first the address of the first. */
static size_t canary_hits(uintptr_t a, uintptr_t end, uintptr_t *first)
{
	size_t hit = 0;

	if (canary_intact(a, end))
		return 0;
	for (; a < end; a++) {
		if (*(const uint8_t *)a != canary(a) && !hit++)
			*first = a;
	}
	return hit;
}

/* ---- the calls ---------------------------------------------------------------------- */

void *guard_alloc(size_t size, size_t align, const void *caller)
{
	unsigned int i;
	uintptr_t page, obj;
	struct slot *s;

	rearm(&guard_countdown[this_hart_index()]);
	if (!__atomic_load_n(&guard_window.size, __ATOMIC_ACQUIRE) || size > PAGE_SIZE ||
	    align > PAGE_SIZE)
		return NULL;
	spin_lock(&pool.lock);
	if (!pool.nr_free) {
		pool.full++;
		spin_unlock(&pool.lock);
		return NULL;
	}
	i = pool.fifo[pool.head];
	page = slot_page(i);
	if (pool.ops.open((void *)page)) {
		spin_unlock(&pool.lock);
		return NULL;
	}
	pool.head = (pool.head + 1) % HEAP_GUARD_SLOTS;
	pool.nr_free--;
	pool.allocs++;
	/* size 0 is a unique pointer still: one byte's place, so that it is inside the page */
	obj = ALIGN_DOWN(page + PAGE_SIZE - MAX(size, (size_t)1), (uintptr_t)align);
	canary_fill(page, obj);
	canary_fill(obj + size, page + PAGE_SIZE);
	s = &pool.slots[i];
	*s = (struct slot){.obj = obj, .size = size, .alloc_site = caller};
	__atomic_store_n(&s->state, SLOT_LIVE, __ATOMIC_RELEASE);
	spin_unlock(&pool.lock);
	return (void *)obj;
}

/* The live slot whose object starts at a, or NULL. */
static struct slot *live_slot(uintptr_t a)
{
	uintptr_t off = a - guard_window.base;
	struct slot *s = &pool.slots[off / PAGE_SIZE / 2];

	if (!(off / PAGE_SIZE & 1) || s->state != SLOT_LIVE || s->obj != a)
		return NULL;
	return s;
}

void guard_free(void *p, const void *caller)
{
	uintptr_t a = (uintptr_t)p, page = ALIGN_DOWN(a, PAGE_SIZE), before = 0, after = 0;
	size_t hit_before, hit_after;
	struct slot *s, was;

	spin_lock(&pool.lock);
	s = live_slot(a);
	if (!s) {
		spin_unlock(&pool.lock);
		report_bad_call(a, "kfree", caller);
		return;
	}
	was = *s; /* for the reports: the slot may be reused once the lock is let go */
	hit_before = canary_hits(page, a, &before);
	hit_after = canary_hits(a + s->size, page + PAGE_SIZE, &after);
	s->free_site = caller;
	__atomic_store_n(&s->state, SLOT_FREED, __ATOMIC_RELEASE);
	pool.ops.close((void *)page);
	pool.fifo[(pool.head + pool.nr_free++) % HEAP_GUARD_SLOTS] =
	    (uint16_t)((a - guard_window.base) / PAGE_SIZE / 2);
	pool.frees++;
	spin_unlock(&pool.lock);
	/* the page is gone: a report reads none of it, and the slot waits at the back */
	if (hit_after)
		heap_misusef(
		    p,
		    "guard pool: %zu byte(s) after object %p (size %zu) overwritten, from +%lu "
		    "(an overflow into its page's slack, found at its kfree); allocated at %p, "
		    "freed at %p",
		    hit_after, p, was.size, (unsigned long)(after - a), was.alloc_site, caller);
	if (hit_before)
		heap_misusef(
		    p,
		    "guard pool: %zu byte(s) before object %p (size %zu) overwritten, from -%lu "
		    "(found at its kfree); allocated at %p, freed at %p",
		    hit_before, p, was.size, (unsigned long)(a - before), was.alloc_site, caller);
}

bool guard_size(const void *p, size_t *size, const void *caller)
{
	struct slot *s = live_slot((uintptr_t)p);

	*size = s ? s->size : 0;
	if (!s)
		report_bad_call((uintptr_t)p, "ksize or krealloc", caller);
	return s;
}

/* ---- faults ------------------------------------------------------------------------- */

/*
 * The object a fault at a is about: on a slot's page, its object (the
 * page is inaccessible: a use after free, or a slot never used); on a
 * guard page, the object before it (an overflow) or after it (an
 * underflow): the live one if only one is, else the nearer.
 */
static const struct slot *culprit(uintptr_t a)
{
	uintptr_t pg = (a - guard_window.base) / PAGE_SIZE;
	const struct slot *l, *r;

	if (pg & 1)
		return &pool.slots[pg / 2];
	l = pg ? &pool.slots[pg / 2 - 1] : NULL;
	r = pg / 2 < HEAP_GUARD_SLOTS ? &pool.slots[pg / 2] : NULL;
	if (l && l->state == SLOT_UNUSED)
		l = NULL;
	if (r && r->state == SLOT_UNUSED)
		r = NULL;
	if (!l || !r)
		return l ? l : r;
	if ((l->state == SLOT_LIVE) != (r->state == SLOT_LIVE))
		return l->state == SLOT_LIVE ? l : r;
	return a - (l->obj + l->size) <= r->obj - a ? l : r;
}

const char *heap_guard_fault(uintptr_t addr, const char *access, uintptr_t pc)
{
	const struct slot *s;
	char where[48], freed[32];
	uintptr_t end;

	if (!guard_owns((void *)addr))
		return NULL;
	s = culprit(addr);
	if (!s || s->state == SLOT_UNUSED)
		return heap_misusef((void *)addr,
				    "guard pool: %s at %#lx, no object near it (pc %#lx)", access,
				    (unsigned long)addr, (unsigned long)pc);
	end = s->obj + s->size;
	if (addr >= end)
		ksnprintf(where, sizeof(where), "%lu byte(s) after the end of",
			  (unsigned long)(addr - end + 1));
	else if (addr < s->obj)
		ksnprintf(where, sizeof(where), "%lu byte(s) before",
			  (unsigned long)(s->obj - addr));
	else
		ksnprintf(where, sizeof(where), "+%lu into", (unsigned long)(addr - s->obj));
	if (s->state == SLOT_LIVE)
		ksnprintf(freed, sizeof(freed), "not freed");
	else
		ksnprintf(freed, sizeof(freed), "freed at %p", s->free_site);
	/* on the object's own page, which is closed: it was freed */
	return heap_misusef(
	    (void *)s->obj,
	    "guard pool: %s %s at %#lx, %s %s object %p (size %zu, at %+ld); allocated at "
	    "%p, %s, pc %#lx",
	    ALIGN_DOWN(addr, PAGE_SIZE) == ALIGN_DOWN(s->obj, PAGE_SIZE) ? "use-after-free"
									 : "out-of-bounds",
	    access, (unsigned long)addr, where, s->state == SLOT_LIVE ? "live" : "freed",
	    (void *)s->obj, s->size, (long)(addr - s->obj), s->alloc_site, freed,
	    (unsigned long)pc);
}

#endif
