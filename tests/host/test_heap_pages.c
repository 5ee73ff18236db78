// SPDX-License-Identifier: MIT
/*
 * Where the heaps' pages come from and go: reuse by another class, stealing
 * between heaps, giving back to the buddy with hysteresis, frees queued
 * between harts; large allocations through the real vmap; out of memory.
 * One thread plays every hart in turn (arena_set_hart()).
 */
#include <mm/heap_hart.h>
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <stdlib.h>
#include <string.h>

#include "../../mm/heap/heap_internal.h"
#include "../common/heap_hart_classes.h"
#include "arena.h"
#include "heap_host.h"

#define NR_HARTS 4
#define RAM (64ULL << 20)
#define EARLY_SIZE (128ULL << 10)

static int boot(struct ktest *t)
{
	heap_host_boot(RAM, EARLY_SIZE);
	return heap_host_ready(t, NR_HARTS) ? 0 : -1;
}

static struct heap_hart_stats stats(unsigned int hart)
{
	struct heap_hart_stats s;

	heap_hart_stats(hart, &s);
	return s;
}

static phys_addr_t page_of(const void *p)
{
	return ALIGN_DOWN(virt_to_phys(p), (phys_addr_t)HEAP_SLAB_SIZE);
}

/*
 * A class keeps the first page that empties (its spare); a second empty
 * page goes to the heap's empty list, from which another class takes it.
 */
static void empty_page_goes_to_another_class(struct ktest *t)
{
	unsigned int per_page = stats(0).cls[3].per_page, n = per_page + 1;
	void **v = calloc(n, sizeof(*v)), *q;
	struct frame_owner o;
	phys_addr_t second;

	KT_ASSERT(t, v != NULL);
	for (unsigned int i = 0; i < n; i++)
		KT_ASSERT(t, (v[i] = kmalloc(64)) != NULL);
	second = page_of(v[per_page]);
	KT_EXPECT(t, page_of(v[0]) != second);
	for (unsigned int i = 0; i < n; i++)
		kfree(v[i]);
	free(v);
	heap_flush(); /* the hart's cache lets the objects go: the pages empty */
	KT_EXPECT_EQ(t, stats(0).cls[3].pages, 1);
	KT_EXPECT_EQ(t, stats(0).empty_pages, 1);
	q = kmalloc(1024);
	KT_ASSERT(t, q != NULL);
	KT_EXPECT_EQ(t, page_of(q), second);
	KT_EXPECT_EQ(t, stats(0).pages_reused, 1);
	KT_EXPECT_EQ(t, stats(0).pages_from_buddy, 2);
	KT_ASSERT_EQ(t, frame_owner(second, &o), 0);
	KT_EXPECT(t, o.tag == FRAME_SLAB && o.heap == 0 &&
			 o.aux == HEAP_SLAB_FRAME_AUX(HEAP_HART_CLASS_1024));
	kfree(q);
	heap_host_expect_baseline(t, NR_HARTS);
}

/* An allocation and a free that empty and refill one page over and over touch no list, no buddy. */
static void a_page_at_the_boundary_stays_in_its_class(struct ktest *t)
{
	void *p = kmalloc(64);
	phys_addr_t page = page_of(p);

	KT_ASSERT(t, p != NULL);
	for (int i = 0; i < 1000; i++) {
		kfree(p);
		KT_ASSERT(t, (p = kmalloc(64)) != NULL);
		KT_EXPECT_EQ(t, page_of(p), page);
	}
	KT_EXPECT_EQ(t, stats(0).pages_from_buddy, 1);
	KT_EXPECT_EQ(t, stats(0).pages_to_buddy, 0);
	KT_EXPECT_EQ(t, stats(0).pages_reused, 0);
	KT_EXPECT_EQ(t, stats(0).empty_pages, 0);
	kfree(p);
	KT_EXPECT_EQ(t, stats(0).cls[3].pages, 1); /* kept ... */
	heap_trim();
	KT_EXPECT_EQ(t, stats(0).cls[3].pages, 0); /* ... until a trim */
	KT_EXPECT_EQ(t, stats(0).pages_to_buddy, 1);
	heap_host_expect_baseline(t, NR_HARTS);
}

static void empty_pages_are_stolen_by_other_harts(struct ktest *t)
{
	void *v[7], *p;
	struct frame_owner o;

	arena_set_hart(1);
	for (int i = 0; i < 7; i++)
		KT_ASSERT(t, (v[i] = kmalloc(4096)) != NULL);
	for (int i = 0; i < 7; i++)
		kfree(v[i]);
	heap_flush();
	KT_EXPECT_EQ(t, stats(1).empty_pages, 6); /* and the class's spare */
	arena_set_hart(0);
	p = kmalloc(4096);
	KT_ASSERT(t, p != NULL);
	KT_EXPECT_EQ(t, stats(0).pages_stolen, 1);
	KT_EXPECT_EQ(t, stats(0).pages_from_buddy, 0);
	KT_EXPECT_EQ(t, stats(1).empty_pages, 5);
	KT_ASSERT_EQ(t, frame_owner(page_of(p), &o), 0);
	KT_EXPECT_EQ(t, o.heap, 0); /* it changed heap while empty */
	arena_set_hart(3); /* a free from elsewhere goes back to the page's new owner */
	kfree(p);
	arena_set_hart(0);
	KT_EXPECT_EQ(t, stats(0).cls[HEAP_HART_CLASS_4096].in_use, 1); /* queued ... */
	kfree(kmalloc(8)); /* ... until hart 0 next refills a cache (the 8-byte one is empty) */
	KT_EXPECT_EQ(t, stats(0).cls[HEAP_HART_CLASS_4096].in_use, 0);
	KT_EXPECT_EQ(t, stats(0).cls[HEAP_HART_CLASS_4096].remote_frees, 1);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * The walk a hart makes for heaps with empty pages (bits_next_around()):
 * up from the heap after its own, across words, round past the last heap
 * to the first, never past n, and none found when none is set.
 */
static void the_walk_for_empty_pages_wraps_and_crosses_words(struct ktest *t)
{
	uint64_t w[3] = { 0 };
	const unsigned int n = 150;

	KT_EXPECT_EQ(t, bits_next_around(w, n, 0), n);
	KT_EXPECT_EQ(t, bits_next_around(w, n, 149), n);
	w[1] = 1ULL << (100 - 64);
	KT_EXPECT_EQ(t, bits_next_around(w, n, 5), 95);
	KT_EXPECT_EQ(t, bits_next_around(w, n, 100), 0);
	KT_EXPECT_EQ(t, bits_next_around(w, n, 101), 149); /* round: 101..149, 0..100 */
	w[0] = 1ULL << 3;
	KT_EXPECT_EQ(t, bits_next_around(w, n, 101), 52); /* 149 - 101 + 1 + 3 */
	KT_EXPECT_EQ(t, bits_next_around(w, n, 140), 13);
	w[2] = ~0ULL << (150 - 128); /* bits past n are never heaps */
	KT_EXPECT_EQ(t, bits_next_around(w, n, 140), 13);
	w[2] |= 1ULL << (149 - 128);
	KT_EXPECT_EQ(t, bits_next_around(w, n, 140), 9);
	KT_EXPECT_EQ(t, bits_next_around(w, n, 4), 96);
}

/* What the thresholds predict: after each free of a page, keep it; above HIGH cut to LOW. */
static void predict(uint64_t frees, uint64_t *empty, uint64_t *to_buddy)
{
	for (uint64_t i = 0; i < frees; i++) {
		if (++*empty > HEAP_EMPTY_HIGH) {
			*to_buddy += *empty - HEAP_EMPTY_LOW;
			*empty = HEAP_EMPTY_LOW;
		}
	}
}

static void empty_pages_go_back_with_hysteresis(struct ktest *t)
{
	enum { N = 3 * HEAP_EMPTY_HIGH + 1 };
	void *v[N];
	uint64_t empty = 0, to_buddy = 0, from;

	_Static_assert(HEAP_EMPTY_LOW >= 1 && HEAP_EMPTY_LOW < HEAP_EMPTY_HIGH, "a band to test");
	for (int i = 0; i < N; i++)
		KT_ASSERT(t, (v[i] = kmalloc(4096)) != NULL);
	KT_EXPECT_EQ(t, stats(0).pages_from_buddy, N);
	for (int i = 0; i < N; i++)
		kfree(v[i]);
	heap_flush();
	predict(N - 1, &empty, &to_buddy); /* the first page freed stays as the class's spare */
	KT_EXPECT_EQ(t, stats(0).empty_pages, empty);
	KT_EXPECT_EQ(t, stats(0).pages_to_buddy, to_buddy);
	KT_EXPECT_LE(t, stats(0).empty_pages, HEAP_EMPTY_HIGH);

	/*
	 * At the threshold: HIGH pages on the empty list, the class's spare
	 * empty and one page in use (v[0], on the old spare). An allocation
	 * and a free of it over and over stay in the hart's cache: nothing
	 * moves. Its flush passes HIGH and gives pages back down to LOW.
	 */
	for (int i = 0; i <= HEAP_EMPTY_HIGH + 1; i++)
		KT_ASSERT(t, (v[i] = kmalloc(4096)) != NULL);
	for (int i = 1; i <= HEAP_EMPTY_HIGH + 1; i++)
		kfree(v[i]); /* v[1]'s page becomes the spare, the others go to the list */
	heap_flush();
	KT_EXPECT_EQ(t, stats(0).empty_pages, HEAP_EMPTY_HIGH);
	to_buddy = stats(0).pages_to_buddy;
	from = stats(0).pages_from_buddy;
	for (int round = 0; round < 1000; round++) {
		kfree(v[0]);
		KT_ASSERT(t, (v[0] = kmalloc(4096)) != NULL);
	}
	KT_EXPECT_EQ(t, stats(0).pages_to_buddy, to_buddy);
	KT_EXPECT_EQ(t, stats(0).pages_from_buddy, from);
	kfree(v[0]);
	heap_flush();
	KT_EXPECT_EQ(t, stats(0).pages_to_buddy, to_buddy + HEAP_EMPTY_HIGH + 1 - HEAP_EMPTY_LOW);
	KT_EXPECT_EQ(t, stats(0).pages_from_buddy, from);
	KT_EXPECT_EQ(t, stats(0).empty_pages, HEAP_EMPTY_LOW);
	heap_host_expect_baseline(t, NR_HARTS);
}

static void frees_from_other_harts_are_queued(struct ktest *t)
{
	void *v[100];
	struct heap_hart_stats s;

	for (int i = 0; i < 100; i++) {
		KT_ASSERT(t, (v[i] = kmalloc(32)) != NULL);
		heap_host_fill(v[i], 32);
	}
	arena_set_hart(2);
	for (int i = 0; i < 100; i++) {
		KT_EXPECT(t, heap_host_check(v[i], 32));
		kfree(v[i]);
	}
	s = stats(0);
	KT_EXPECT_EQ(t, s.cls[2].in_use, 100); /* hart 0 has not looked yet */
	KT_EXPECT_EQ(t, stats(2).cls[2].frees, 0);
	arena_set_hart(0);
	heap_idle(); /* hart 0 takes its queue */
	void *p = kmalloc(32);
	s = stats(0);
	KT_EXPECT_EQ(t, s.cls[2].in_use, 1);
	KT_EXPECT_EQ(t, s.cls[2].remote_frees, 100);
	KT_EXPECT_EQ(t, s.cls[2].frees, 100);
	kfree(p);
	heap_dump();
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * A write after free over a queued object's first word (its link in the
 * owner's stack): the drain reports the damage once and follows no
 * garbage; that object and the ones behind it stay allocated (lost: a
 * double free the write let through may have cached it).
 */
static void overwritten_queue_link_is_reported(struct ktest *t)
{
	uint8_t *a = kmalloc(64), *b = kmalloc(64), *c = kmalloc(64);
	const void *at;
	const char *what;

	KT_ASSERT(t, a && b && c);
	heap_host_fill_inbox(0, 1); /* so that a and b take the stack of links */
	arena_set_hart(1);
	kfree(a);
	kfree(b); /* the queue: b, then a */
	memset(b, 0x41, 8); /* the bug under test: b's link to a */
	arena_set_hart(0);
	kfree(c);
	heap_idle(); /* the owner takes its queue */
	KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
	KT_EXPECT(t, at == b && strstr(what, "overwritten"));
	KT_EXPECT_EQ(t, stats(0).cls[3].in_use, 2); /* a and b: lost, neither free nor handed out */
	for (int i = 0; i < 300; i++) {
		uint8_t *p = kmalloc(64);

		KT_ASSERT(t, p && p != a && p != b);
		memset(p, 0x5a, 64);
		kfree(p);
	}
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
}

/*
 * A write after free over an object's mark while its free from another
 * hart waits in the owner's inbox, then the owner's own free of it (a
 * double free the write lets through: the object goes into the cache):
 * the drain, run by an allocation that finds the cache empty, reports the
 * damage once and does not put the object into the cache again, so it is
 * handed out once.
 */
static void overwritten_inbox_mark_is_reported(struct ktest *t)
{
	uint8_t *keep = kmalloc(64), *a = kmalloc(64);
	static void *v[300];
	unsigned int seen = 0;
	const void *at;
	const char *what;

	KT_ASSERT(t, keep && a);
	arena_set_hart(1);
	kfree(a); /* in hart 0's inbox, its mark in its first word */
	arena_set_hart(0);
	memset(a, 0x41, 8); /* the bug under test */
	kfree(a);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0); /* not seen yet */
	for (int i = 0; i < 300; i++)
		seen += (v[i] = kmalloc(64)) == a;
	KT_EXPECT_EQ(t, seen, 1);
	KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
	KT_EXPECT(t, at == a && what && strstr(what, "overwritten"));
	for (int i = 0; i < 300; i++)
		kfree(v[i]);
	kfree(keep);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * Pages that fill and empty while a whole queue of another hart's frees is
 * drained (1024 frees: the inbox's HEAP_INBOX_SLOTS, the rest on the stack
 * of links): the owner's pages go from full to the partial list, one stays
 * as the spare, the others leave for the empty list, round after round.
 */
static void queued_frees_of_many_pages(struct ktest *t)
{
	enum { N = 1024 };
	static void *v[N];
	unsigned int bad = 0;

	_Static_assert(N > HEAP_INBOX_SLOTS, "both ways of the queue");
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i++) /* on hart 0, freed there */
			bad += !(v[i] = kmalloc(64));
		for (int i = 0; i < N; i++)
			kfree(v[i]);
		arena_set_hart(1); /* on hart 1, freed by hart 0, drained by hart 1 */
		for (int i = 0; i < N; i++) {
			bad += !(v[i] = kmalloc(64));
			heap_host_fill(v[i], 64);
		}
		arena_set_hart(0);
		for (int i = 0; i < N; i++) {
			bad += !heap_host_check(v[i], 64);
			kfree(v[i]);
		}
		arena_set_hart(1);
		heap_idle(); /* hart 1 takes its queue */
		arena_set_hart(0);
	}
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	KT_EXPECT_EQ(t, stats(1).cls[3].remote_frees, 5 * N);
	heap_host_expect_baseline(t, NR_HARTS);
}

/* ksize() or krealloc() of an object whose free another hart queued: a freed object. */
static void queued_free_is_a_free(struct ktest *t)
{
	void *keep = kmalloc(32), *a = kmalloc(32), *b;
	const void *at;

	KT_ASSERT(t, keep && a);
	arena_set_hart(2);
	kfree(a); /* queued for hart 0 */
	KT_EXPECT_EQ(t, ksize(a), 0);
	KT_EXPECT_EQ(t, heap_host_misuses(&at, NULL), 1);
	KT_EXPECT(t, at == a);
	arena_set_hart(0);
	KT_EXPECT(t, krealloc(a, 24) == NULL);
	KT_EXPECT_EQ(t, heap_host_misuses(&at, NULL), 1);
	kfree(a); /* hart 0's own free of it: a double free too */
	KT_EXPECT_EQ(t, heap_host_misuses(&at, NULL), 1);
	heap_idle(); /* takes the queue: a is freed once */
	b = kmalloc(32);
	KT_EXPECT(t, b != NULL);
	KT_EXPECT_EQ(t, stats(0).cls[2].remote_frees, 1);
	KT_EXPECT_EQ(t, stats(0).cls[2].in_use, 2);
	kfree(b);
	kfree(keep);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

static unsigned int reclaims;
static bool queue_seen;

/* The kernel's hook wakes the other harts; here this thread plays hart 0 taking its queue. */
static void hart0_takes_its_queue(void)
{
	unsigned int me = this_hart_index();

	reclaims++;
	queue_seen = heap_hart_has_queue(0);
	arena_set_hart(0);
	heap_idle();
	arena_set_hart(me);
}

/*
 * Memory that hart 1 freed but that waits in idle hart 0's queue: hart 1's
 * allocation that would fail calls the reclaim hook, and succeeds after it.
 */
static void frees_waiting_for_an_idle_hart_are_reclaimed(struct ktest *t)
{
	struct pile { void **v; size_t n; } all = { calloc(4096, sizeof(void *)), 0 };
	void *x;

	heap_host_boot(8ULL << 20, 64 << 10);
	KT_ASSERT(t, heap_host_ready(t, NR_HARTS) && all.v);
	while (all.n < 4096 && (all.v[all.n] = kmalloc(4000)))
		all.n++;
	KT_ASSERT(t, all.n > 100 && all.n < 4096); /* memory ran out */
	arena_set_hart(1);
	for (size_t i = 0; i < all.n; i++)
		kfree(all.v[i]); /* all queued for hart 0, which does nothing more */
	heap_trim();
	KT_EXPECT(t, heap_hart_has_queue(0));
	KT_EXPECT(t, kmalloc(4000) == NULL); /* no hook: the memory is out of reach */
	reclaims = 0;
	heap_set_reclaim_hook(hart0_takes_its_queue);
	x = kmalloc(4000);
	KT_EXPECT(t, x != NULL);
	KT_EXPECT_EQ(t, reclaims, 1);
	KT_EXPECT(t, queue_seen);
	KT_EXPECT(t, !heap_hart_has_queue(0));
	kfree(x);
	heap_set_reclaim_hook(NULL);
	arena_set_hart(0);
	free(all.v);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

static void *victim;

/* The hook: hart 1 frees one of hart 0's objects, queued for hart 0 (its allocation runs on). */
static void hart1_frees_one(void)
{
	unsigned int me = this_hart_index();

	reclaims++;
	if (victim) {
		arena_set_hart(1);
		kfree(victim);
		victim = NULL;
		arena_set_hart(me);
	}
}

/*
 * Hart 0 out of memory, its cache of the class empty: another hart's free
 * of one of its objects, queued while the allocation reclaims, is what the
 * allocation gets (its own queue taken into the pages it looks at, not
 * into a cache it has passed by).
 */
static void a_free_queued_while_out_of_memory_is_taken(struct ktest *t)
{
	size_t cap = 1 << 20, n = 0;
	void **v = calloc(cap, sizeof(void *)), *x, *want;

	heap_host_boot(8ULL << 20, 64 << 10);
	KT_ASSERT(t, heap_host_ready(t, NR_HARTS) && v);
	while (n < cap && (v[n] = kmalloc(32)))
		n++;
	KT_ASSERT(t, n > 1000 && n < cap); /* memory ran out */
	want = victim = v[n / 2];
	reclaims = 0;
	heap_set_reclaim_hook(hart1_frees_one);
	x = kmalloc(32);
	heap_set_reclaim_hook(NULL);
	KT_EXPECT(t, reclaims >= 1);
	KT_EXPECT(t, x == want);
	v[n / 2] = x;
	for (size_t i = 0; i < n; i++)
		kfree(v[i]);
	free(v);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/* ---- large allocations ------------------------------------------------------------- */

/* The frames mapped behind p (a large allocation of n pages), as the vmap's tables say. */
static bool frames_behind(const void *p, size_t n, phys_addr_t *frames)
{
	uint64_t va = HEAP_HOST_VBASE + ((uintptr_t)p - ((uintptr_t)p & ~(HEAP_HOST_VSIZE - 1)));

	for (size_t i = 0; i < n; i++) {
		if (mmu_translate(heap_host_vmap.space, va + i * PAGE_SIZE, &frames[i], NULL, NULL))
			return false;
	}
	return mmu_translate(heap_host_vmap.space, va + n * PAGE_SIZE, NULL, NULL, NULL) != 0;
}

/*
 * Every free frame of the arena taken, then those of even frame number
 * given back: no two free frames side by side. The odd ones stay in held[].
 */
static unsigned int scatter_all(phys_addr_t *held, unsigned int cap)
{
	unsigned int n = 0;
	phys_addr_t pa;

	/* else an allocation that finds nothing gets these back, and finds runs in them */
	heap_trim();
	buddy_drain_caches();
	while (n < cap && buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &pa) == 0) {
		if (pa >> PAGE_SHIFT & 1)
			held[n++] = pa;
		else
			held[n++] = pa | 1; /* marked: given back below */
	}
	for (unsigned int i = 0; i < n; i++) {
		if (held[i] & 1)
			buddy_free_ex(held[i] & ~(phys_addr_t)1, 0, BUDDY_NOCACHE);
	}
	return n;
}

/*
 * Beyond the largest slab class up to 32 KiB: a run of contiguous frames
 * in the direct map (a page block), no mapping, no more pages than it
 * needs; its head frame says so.
 */
static void page_blocks(struct ktest *t)
{
	static const size_t sizes[] = { HEAP_SLAB_MAX_SIZE + 1, 12288, 3 * PAGE_SIZE + 1, 32768 };
	const void *at;
	const char *what;

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = (sizes[i] + PAGE_SIZE - 1) / PAGE_SIZE;
		uint64_t free_before = buddy_free_frames();
		unsigned char *p = kmalloc(sizes[i]), *q;
		struct frame_owner o;

		KT_ASSERT(t, p != NULL);
		KT_EXPECT_EQ(t, heap_host_vmap.nr_mappings, 0);
		KT_EXPECT_EQ(t, free_before - buddy_free_frames(), n); /* its pages and no more */
		KT_ASSERT_EQ(t, frame_owner(virt_to_phys(p), &o), 0);
		KT_EXPECT_EQ(t, o.tag, FRAME_HEAP);
		KT_EXPECT_EQ(t, o.head, virt_to_phys(p));
		KT_EXPECT_EQ(t, ksize(p), n * PAGE_SIZE);
		heap_host_fill(p, n * PAGE_SIZE);
		q = krealloc(p, n * PAGE_SIZE - 1); /* the same pages */
		KT_EXPECT(t, q == p);
		kfree(p + 64);
		KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
		KT_EXPECT(t, at == p + 64 && what && strstr(what, "inside a page block"));
		for (size_t k = 1; k < n;
		     k++) { /* each page after the first, whichever buddy block */
			kfree(p + k * PAGE_SIZE);
			KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
			if (!KT_EXPECT(t, at == p + k * PAGE_SIZE && what &&
					      strstr(what, "inside a page block")))
				ktest_log(t, "page %zu of %zu: %s", k, n,
					  what ? what : "no report");
		}
		KT_EXPECT(t, heap_host_check(p, n * PAGE_SIZE));
		kfree(p);
		KT_EXPECT_EQ(t, free_before - buddy_free_frames(), n); /* in the hart's cache */
		kfree(p);
		KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
		KT_EXPECT(t, at == p && what && strstr(what, "double free"));
		KT_EXPECT_EQ(t, ksize(p), 0);
		KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
		KT_EXPECT(t, at == p && what && strstr(what, "freed object"));
		arena_set_hart(2); /* from another hart too */
		kfree(p);
		KT_EXPECT_EQ(t, heap_host_misuses(&at, NULL), 1);
		KT_EXPECT(t, at == p);
		arena_set_hart(0);
		heap_flush();
		KT_EXPECT_EQ(t, buddy_free_frames(), free_before);
	}
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * A freed page block waits in its hart's cache for the next allocation of
 * its length there, at most HART_PAGES_SLOTS of a length and
 * HART_PAGES_CACHED frames in all; heap_flush() gives them back.
 */
static void page_blocks_are_cached(struct ktest *t)
{
	enum { N = 8 };
	uint64_t free_before = buddy_free_frames();
	void *v[N], *p;

	for (int i = 0; i < N; i++) /* 3 frames each */
		KT_ASSERT(t, (v[i] = kmalloc(2 * PAGE_SIZE + 1)) != NULL);
	KT_EXPECT_EQ(t, free_before - buddy_free_frames(), 3 * N);
	for (int i = 0; i < N; i++)
		kfree(v[i]);
	/* 4 blocks of 3 frames kept: the slots of the length full, 12 frames of 16 */
	KT_EXPECT_EQ(t, free_before - buddy_free_frames(), 12);
	p = kmalloc(3 * PAGE_SIZE); /* the block freed last of those kept */
	KT_EXPECT(t, p == v[3]);
	KT_EXPECT_EQ(t, free_before - buddy_free_frames(), 12);
	KT_EXPECT_EQ(t, ksize(p), 3 * PAGE_SIZE);
	arena_set_hart(1); /* another hart's free of it: into that hart's cache */
	kfree(p);
	KT_EXPECT_EQ(t, free_before - buddy_free_frames(), 12);
	heap_flush();
	arena_set_hart(0);
	KT_EXPECT_EQ(t, free_before - buddy_free_frames(), 9);
	for (int i = 0; i < 3; i++) /* 5 frames each: only one more fits in 16 */
		KT_ASSERT(t, (v[i] = kmalloc(4 * PAGE_SIZE + 1)) != NULL);
	for (int i = 0; i < 3; i++)
		kfree(v[i]);
	KT_EXPECT_EQ(t, free_before - buddy_free_frames(), 14);
	heap_flush();
	KT_EXPECT_EQ(t, buddy_free_frames(), free_before);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * Out of memory, an allocation of a length the hart's cache of page blocks
 * does not hold gets the cached blocks' frames back from it (before it
 * would fail): nothing else is free.
 */
static void cached_page_blocks_given_back_when_out_of_memory(struct ktest *t)
{
	enum { N = 4, CAP = 1 << 20 };
	phys_addr_t *held = calloc(CAP, sizeof(*held));
	unsigned int nheld = 0;
	void *v[N], *p;
	phys_addr_t pa;

	KT_ASSERT(t, held != NULL);
	for (int i = 0; i < N; i++) /* 3 frames each */
		KT_ASSERT(t, (v[i] = kmalloc(2 * PAGE_SIZE + 1)) != NULL);
	for (int i = 0; i < N; i++)
		kfree(v[i]); /* all four kept: 12 frames */
	buddy_drain_caches();
	while (nheld < CAP && buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &pa) == 0)
		held[nheld++] = pa;
	KT_EXPECT_LT(t, nheld, CAP);
	p = kmalloc(4 * PAGE_SIZE + 1); /* 5 frames: no such block cached, none free */
	KT_EXPECT(t, p != NULL);
	kfree(p);
	for (unsigned int i = 0; i < nheld; i++)
		buddy_free_ex(held[i], 0, BUDDY_NOCACHE);
	free(held);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * Larger, or with no contiguous block to be had: single frames mapped in
 * the large-allocation window.
 */
static void large_allocations(struct ktest *t)
{
	static const size_t sizes[] = { 
	    HEAP_SLAB_MAX_SIZE + 1, 12288, 3 * PAGE_SIZE + 1, 32768 + 1, 1 << 20, (4 << 20) + 1 };
	phys_addr_t *held = calloc(1 << 20, sizeof(*held));
	unsigned int nheld, bad = 0, scattered = 0;

	KT_ASSERT(t, held != NULL);
	nheld = scatter_all(held, 1 << 20);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = (sizes[i] + PAGE_SIZE - 1) / PAGE_SIZE;
		phys_addr_t *frames = calloc(n, sizeof(*frames));
		unsigned char *p = kmalloc(sizes[i]);
		struct frame_owner o;

		KT_ASSERT(t, p != NULL && frames != NULL);
		KT_EXPECT_EQ(t, ksize(p), n * PAGE_SIZE);
		heap_host_fill(p, n * PAGE_SIZE);
		KT_ASSERT(t, frames_behind(p, n, frames)); /* mapped, then the guard */
		for (size_t f = 0; f < n; f++) {
			bad += frame_owner(frames[f], &o) != 0 || o.tag != FRAME_LARGE ||
			       o.aux != (f ? 0 : n);
			/* the contents went to the frames themselves */
			bad += memcmp(phys_to_virt(frames[f]), p + f * PAGE_SIZE, PAGE_SIZE) != 0;
			scattered += f && frames[f] != frames[f - 1] + PAGE_SIZE;
		}
		bad += !heap_host_check(p, n * PAGE_SIZE);
		kfree(p);
		for (size_t f = 0; f < n; f++) { /* every frame back to the buddy */
			int tag = frame_tag(frames[f]);

			bad += tag != FRAME_FREE && tag != FRAME_CACHED;
		}
		KT_EXPECT_EQ(t, heap_host_vmap.nr_mappings, 0);
		free(frames);
	}
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_GT(t, scattered, 0); /* not physically contiguous */
	for (unsigned int i = 0; i < nheld; i++) {
		if (!(held[i] & 1))
			buddy_free_ex(held[i], 0, BUDDY_NOCACHE);
	}
	free(held);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/* ---- out of memory -------------------------------------------------------------------- */

struct pile {
	void **v;
	size_t n, cap;
};

/* Allocates size-byte blocks until the heap says no; each filled. */
static size_t fill_up(struct pile *p, size_t size)
{
	size_t got = 0;
	void *b;

	while ((b = kmalloc(size))) {
		if (p->n == p->cap)
			p->v = realloc(p->v, (p->cap = p->cap ? 2 * p->cap : 1024) * sizeof(void *));
		heap_host_fill(b, MIN(size, (size_t)256));
		p->v[p->n++] = b;
		got++;
	}
	return got;
}

static size_t release_all(struct pile *p, size_t size)
{
	size_t bad = 0;

	while (p->n) {
		void *b = p->v[--p->n];

		bad += !heap_host_check(b, MIN(size, (size_t)256));
		kfree(b);
	}
	return bad;
}

static void out_of_memory_recovers(struct ktest *t)
{
	struct pile small = { 0 }, large = { 0 };
	size_t first, again, bad = 0;
	unsigned char *keep;

	heap_host_boot(8ULL << 20, 64 << 10);
	KT_ASSERT(t, heap_host_ready(t, NR_HARTS));
	keep = kmalloc(100);
	KT_ASSERT(t, keep != NULL);
	memset(keep, 0x5c, 100);

	first = fill_up(&small, 64);
	KT_EXPECT_GT(t, first, 50000);
	ktest_log(t, "8 MiB machine: %zu objects of 64 bytes at most", first);
	KT_EXPECT(t, krealloc(keep, 1 << 20) == NULL); /* fails, and keep is left as it was */
	bad += release_all(&small, 64);
	heap_host_quiesce(NR_HARTS);
	again = fill_up(&small, 64);
	KT_EXPECT_EQ(t, again, first); /* everything came back */
	bad += release_all(&small, 64);
	heap_host_quiesce(NR_HARTS);

	/* large ones until the frames (or table pages) run out, then small ones in what is left */
	first = fill_up(&large, 300000);
	KT_EXPECT_GT(t, first, 10);
	KT_EXPECT_GT(t, fill_up(&small, 3000), 0);
	bad += release_all(&large, 300000);
	bad += release_all(&small, 3000);
	heap_host_quiesce(NR_HARTS);
	again = fill_up(&large, 300000);
	KT_EXPECT_EQ(t, again, first);
	bad += release_all(&large, 300000);
	ktest_log(t, "8 MiB machine: %zu large allocations of 300000 bytes at most", first);

	for (size_t i = 0; i < 100; i++)
		bad += keep[i] != 0x5c;
	kfree(keep);
	free(small.v);
	free(large.v);
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * krealloc() grows a large allocation without copying: its frames stay
 * (mapped again, not copied), in place while the range after it is free,
 * else at a fresh range, the old one unmapped; the first frame says the
 * new length. It shrinks in place, its last frames given back, while it
 * stays large; a free gives every frame back.
 */
static void large_krealloc_keeps_its_frames(struct ktest *t)
{
	enum { N1 = 40, N2 = 100, N3 = 300 };
	static phys_addr_t f1[N1], f2[N2], f3[N3];
	unsigned char *p = kmalloc(N1 * PAGE_SIZE), *q, *r, *blocker, *fill[64];
	struct heap_large_stats ls;
	unsigned int nfill;
	struct frame_owner o;
	unsigned int bad = 0;

	KT_ASSERT(t, p != NULL);
	heap_host_fill(p, N1 * PAGE_SIZE);
	KT_ASSERT(t, frames_behind(p, N1, f1));
	q = krealloc(p, N2 * PAGE_SIZE - 100);
	KT_ASSERT(t, q != NULL);
	KT_EXPECT(t, q == p); /* nothing after it: in place */
	KT_ASSERT(t, frames_behind(q, N2, f2));
	KT_EXPECT(t, memcmp(f1, f2, sizeof(f1)) == 0);
	KT_EXPECT_EQ(t, ksize(q), N2 * PAGE_SIZE);
	KT_EXPECT(t, heap_host_check(q, N1 * PAGE_SIZE));
	heap_host_fill(q, N2 * PAGE_SIZE);

	/* large allocations until one lands right after q's guard page (first fit: holes first) */
	for (nfill = 0; nfill < 64; nfill++) {
		blocker = kmalloc(17 * PAGE_SIZE); /* no power of two: no alignment beyond a page */
		KT_ASSERT(t, blocker != NULL);
		if (blocker == q + (N2 + 1) * PAGE_SIZE)
			break;
		fill[nfill] = blocker;
	}
	KT_ASSERT(t, nfill < 64);
	r = krealloc(q, N3 * PAGE_SIZE);
	KT_ASSERT(t, r != NULL);
	KT_EXPECT(t, r > blocker); /* moved past it, with its frames */
	KT_ASSERT(t, frames_behind(r, N3, f3));
	KT_EXPECT(t, memcmp(f2, f3, sizeof(f2)) == 0);
	KT_EXPECT(t, heap_host_check_as(r, q, N2 * PAGE_SIZE));
	KT_EXPECT_EQ(t, ksize(r), N3 * PAGE_SIZE);
	KT_EXPECT(t, frame_owner(f3[0], &o) == 0 && o.tag == FRAME_LARGE && o.aux == N3);
	for (size_t f = 1; f < N3; f++)
		bad += frame_owner(f3[f], &o) != 0 || o.tag != FRAME_LARGE || o.aux != 0;
	KT_EXPECT_EQ(t, bad, 0);
	heap_large_stats(&ls);
	KT_EXPECT_EQ(t, ls.allocations, 2 + nfill);
	KT_EXPECT_EQ(t, ls.pages, N3 + 17 * (1 + nfill));
	KT_EXPECT_EQ(t, heap_host_vmap.nr_pages, N3 + 17 * (1 + nfill));
	/* q's old range is free VA again: the next mapping of its size lands there */
	p = kmalloc(N2 * PAGE_SIZE);
	KT_EXPECT(t, p == q);
	kfree(p);
	kfree(blocker);
	while (nfill)
		kfree(fill[--nfill]);

	/* shrunk where it is while it stays large: the pages past its new end go back */
	heap_host_fill(r, N1 * PAGE_SIZE);
	KT_EXPECT(t, krealloc(r, N1 * PAGE_SIZE - 50) == r);
	KT_EXPECT_EQ(t, ksize(r), N1 * PAGE_SIZE);
	KT_EXPECT(t, frames_behind(r, N1, f1) && memcmp(f1, f3, sizeof(f1)) == 0);
	KT_EXPECT(t, frame_owner(f3[0], &o) == 0 && o.aux == N1);
	for (size_t f = N1; f < N3; f++) {
		int tag = frame_tag(f3[f]);

		bad += tag != FRAME_FREE && tag != FRAME_CACHED;
	}
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT(t, heap_host_check(r, N1 * PAGE_SIZE));
	heap_large_stats(&ls);
	KT_EXPECT(t, ls.allocations == 1 && ls.pages == N1);
	KT_EXPECT_EQ(t, heap_host_vmap.nr_pages, N1);
	q = krealloc(r, 100); /* small: to a slab, copied */
	KT_ASSERT(t, q != NULL);
	KT_EXPECT(t, q != r && heap_host_check_as(q, r, 100));
	KT_EXPECT_EQ(t, heap_host_vmap.nr_mappings, 0);
	kfree(q);
	for (size_t f = 0; f < N1; f++) {
		int tag = frame_tag(f3[f]);

		bad += tag != FRAME_FREE && tag != FRAME_CACHED;
	}
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * krealloc() to a power of two keeps its promise of natural alignment
 * when it grows or shrinks a large allocation where it is: grown to
 * 1 MiB from an address that is not 1 MiB aligned, it moves to one that
 * is; shrunk to 256 KiB from a 1 MiB aligned one, it stays.
 */
static void large_krealloc_keeps_natural_alignment(struct ktest *t)
{
	unsigned char *p = kmalloc(40 * PAGE_SIZE + 100), *q, *r, *pad = NULL;

	KT_ASSERT(t, p != NULL);
	if (IS_ALIGNED((uintptr_t)p, 1 << 20)) { /* one more, so that the block is not */
		pad = p;
		p = kmalloc(40 * PAGE_SIZE + 100);
		KT_ASSERT(t, p != NULL && !IS_ALIGNED((uintptr_t)p, 1 << 20));
	}
	heap_host_fill(p, 40 * PAGE_SIZE);
	q = krealloc(p, 1 << 20);
	KT_ASSERT(t, q != NULL);
	KT_EXPECT(t, IS_ALIGNED((uintptr_t)q, 1 << 20));
	KT_EXPECT(t, heap_host_check_as(q, p, 40 * PAGE_SIZE));
	heap_host_fill(q, 1 << 20);
	r = krealloc(q, 256 << 10);
	KT_EXPECT(t, r == q && IS_ALIGNED((uintptr_t)r, 256 << 10));
	KT_EXPECT_EQ(t, ksize(r), 256 << 10);
	KT_EXPECT(t, heap_host_check(r, 256 << 10));
	kfree(r);
	kfree(pad);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(empty_page_goes_to_another_class),
    KTEST_CASE(a_page_at_the_boundary_stays_in_its_class),
    KTEST_CASE(empty_pages_are_stolen_by_other_harts),
    KTEST_CASE(the_walk_for_empty_pages_wraps_and_crosses_words),
    KTEST_CASE(empty_pages_go_back_with_hysteresis),
    KTEST_CASE(frees_from_other_harts_are_queued),
    KTEST_CASE(overwritten_queue_link_is_reported),
    KTEST_CASE(overwritten_inbox_mark_is_reported),
    KTEST_CASE(queued_frees_of_many_pages),
    KTEST_CASE(queued_free_is_a_free),
    KTEST_CASE(frees_waiting_for_an_idle_hart_are_reclaimed),
    KTEST_CASE(a_free_queued_while_out_of_memory_is_taken),
    KTEST_CASE(page_blocks),
    KTEST_CASE(page_blocks_are_cached),
    KTEST_CASE(cached_page_blocks_given_back_when_out_of_memory),
    KTEST_CASE(large_allocations),
    KTEST_CASE(large_krealloc_keeps_its_frames),
    KTEST_CASE(large_krealloc_keeps_natural_alignment),
    KTEST_CASE(out_of_memory_recovers),
    {0},
};

static const struct ktest_suite heap_pages_suite = { "heap_pages", cases, boot, NULL };

const struct ktest_suite *const test_suites[] = { &heap_pages_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
