// SPDX-License-Identifier: MIT
/*
 * The heap on the real machine, after the switch to per-hart heaps: every
 * slab class, alignment, krealloc and kcalloc, large allocations mapped
 * through kernel_vmap (their pages translated in kernel_space and read back
 * through the direct map), blocks the early heap handed out at boot freed
 * now, misuse reported, a free sent to another hart when there is one, and
 * the mid blocks (objects of 4097 to HEAP_MID_MAX_SIZE bytes).
 * Each case ends with the heaps trimmed and the buddy's free count back
 * where it started.
 */
#include <kernel/heap.h>
#include <mm/heap_hart.h>
#include <kernel/errno.h>
#include <kernel/hart.h>
#include <kernel/kmap.h>
#include <kernel/ktest.h>
#include <kernel/smp.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/phys.h>
#include <mm/vmap.h>
#include <string.h>

#include "../../mm/heap/heap_harden.h"
#include "../common/heap_hart_classes.h"

#define DEBUG_TIER (HEAP_HARDEN == HEAP_HARDEN_DEBUG)

static uint64_t free0;

static uint64_t settled_free_frames(void)
{
	heap_quarantine_flush(); /* the debug tier's freed objects, checked and given back */
	heap_trim();
	return buddy_free_frames();
}

/* Before each case: the vmap has its record frame (a large allocation made once), the baseline. */
static int setup(struct ktest *t)
{
	void *warm = kmalloc(1 << 20); /* a large allocation with every strategy */

	if (!KT_EXPECT(t, warm != NULL))
		return -1;
	kfree(warm);
	free0 = settled_free_frames();
	return 0;
}

/*
 * The per-hart heaps' own cases: other strategies have one heap, no
 * classes, no queues; with the debug tier every object is a larger block
 * of the strategy's, and a free goes to the quarantine, not to its heap.
 */
static bool per_hart_heaps(void)
{
	struct heap_usage u;

	heap_usage(&u);
	return u.per_hart_heaps > 0;
}

#define PER_HART_ONLY(t)                                                                     \
	do {                                                                                 \
		if (!per_hart_heaps())                                                       \
			KT_SKIP(t, "strategy %s has no per-hart heaps", heap_strategy());    \
		if (DEBUG_TIER)                                                              \
			KT_SKIP(t, "debug tier: objects are wrapped, frees quarantined");    \
	} while (0)

static void expect_baseline(struct ktest *t)
{
	KT_EXPECT_EQ(t, settled_free_frames(), free0);
	KT_EXPECT_EQ(t, kernel_vmap.nr_mappings, 0);
}

#define class_size heap_hart_class_size

/* Bytes that depend on the block and the offset, so that overlapping blocks show. */
static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + seed);
}

static unsigned int check(const unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (unsigned char)(i * 131 + seed))
			return 1;
	}
	return 0;
}

static void every_class(struct ktest *t)
{
	enum { N = 40 };
	unsigned char *v[N];
	unsigned int bad = 0, me = this_hart_index();

	PER_HART_ONLY(t);
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		unsigned int size = class_size(c);

		for (unsigned int i = 0; i < N; i++) { /* more than a page's worth from 256 up */
			struct frame_owner o;

			v[i] = kmalloc(size - i % 4);
			KT_ASSERT(t, v[i] != NULL);
			bad += ksize(v[i]) != size;
			bad += frame_owner(virt_to_phys(v[i]), &o) != 0 || o.tag != FRAME_SLAB ||
			       o.heap != me || o.aux != HEAP_SLAB_FRAME_AUX(c);
			fill(v[i], size, i + c);
		}
		for (unsigned int i = 0; i < N; i++) {
			bad += check(v[i], size, i + c);
			kfree(v[i]);
		}
	}
	KT_EXPECT_EQ(t, bad, 0);
	expect_baseline(t);
}

static void alignment(struct ktest *t)
{
	unsigned int bad = 0;

	for (size_t size = 8; size <= (1u << 20); size <<= 1) {
		void *p = kmalloc(size);

		KT_ASSERT(t, p != NULL);
		bad += !IS_ALIGNED((uintptr_t)p, size);
		kfree(p);
	}
	for (size_t align = 16; align <= (64u << 10); align <<= 1) {
		void *p = kmalloc_aligned(100, align), *q = kmalloc_aligned(5000, align);

		KT_ASSERT(t, p && q);
		bad += !IS_ALIGNED((uintptr_t)p, align) || !IS_ALIGNED((uintptr_t)q, align);
		kfree(p);
		kfree(q);
	}
	KT_EXPECT_EQ(t, bad, 0);
	expect_baseline(t);
}

static void realloc_and_calloc(struct ktest *t)
{
	static const size_t steps[] = {24, 100, 1000, 5000, 8136, 9000, 100000, 50000, 3000, 40};
	size_t have = 10;
	unsigned char *p = kmalloc(have), *q;
	unsigned int bad = 0;

	KT_ASSERT(t, p != NULL);
	fill(p, have, 7);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		q = krealloc(p, steps[i]);
		KT_ASSERT(t, q != NULL);
		bad += check(q, MIN(have, steps[i]), 7);
		have = steps[i];
		fill(q, have, 7);
		p = q;
	}
	if (DEBUG_TIER) /* the debug tier always moves an object (the old one is quarantined) */
		KT_EXPECT(t, (p = krealloc(p, 33)) != NULL);
	else
		KT_EXPECT(t, krealloc(p, 33) == p); /* the same class: it stays */
	kfree(p);
	KT_EXPECT(t, kcalloc(SIZE_MAX / 16 + 1, 16) == NULL);
	p = kmalloc(2000);
	KT_ASSERT(t, p != NULL);
	memset(p, 0xee, 2000);
	kfree(p);
	q = kcalloc(50, 40);
	KT_ASSERT(t, q != NULL);
	for (size_t i = 0; i < 2000; i++)
		bad += q[i] != 0;
	kfree(q);
	KT_EXPECT_EQ(t, bad, 0);
	expect_baseline(t);
}

/* A large allocation is a vmap mapping of kernel_space: each page a FRAME_LARGE frame. */
static void large_through_vmap(struct ktest *t)
{
	const size_t size = 300000, pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
	unsigned char *p = kmalloc(size);
	phys_addr_t pa[80];
	unsigned int bad = 0;
	uint64_t va = (uintptr_t)p;

	KT_ASSERT(t, p != NULL);
	if (DEBUG_TIER) { /* the object is 64 bytes into its mapping, behind its header */
		kfree(p);
		KT_SKIP(t, "debug tier: the object does not start its mapping");
	}
	KT_EXPECT(t, vmap_contains(&kernel_vmap, va));
	KT_EXPECT_EQ(t, ksize(p), pages * PAGE_SIZE);
	fill(p, size, 3);
	for (size_t i = 0; i < pages; i++) {
		struct frame_owner o;
		unsigned int prot;

		KT_ASSERT_EQ(t, mmu_translate(&kernel_space, va + i * PAGE_SIZE, &pa[i], &prot, NULL), 0);
		bad += !(prot & MMU_PROT_WRITE) || (prot & MMU_PROT_EXEC);
		bad += frame_owner(pa[i], &o) != 0 || o.tag != FRAME_LARGE || o.aux != (i ? 0 : pages);
		/* the same bytes through the direct map */
		bad += memcmp(phys_to_virt(pa[i]), p + i * PAGE_SIZE,
			      MIN((size_t)PAGE_SIZE, size - i * PAGE_SIZE)) != 0;
	}
	KT_EXPECT_EQ(t, mmu_translate(&kernel_space, va + pages * PAGE_SIZE, NULL, NULL, NULL), -ENOENT);
	KT_EXPECT_EQ(t, mmu_translate(&kernel_space, va - PAGE_SIZE, NULL, NULL, NULL), -ENOENT);
	bad += check(p, size, 3);
	kfree(p);
	for (size_t i = 0; i < pages; i++) {
		int tag = frame_tag(pa[i]);

		bad += mmu_translate(&kernel_space, va + i * PAGE_SIZE, NULL, NULL, NULL) != -ENOENT;
		bad += tag != FRAME_FREE && tag != FRAME_CACHED;
	}
	KT_EXPECT_EQ(t, bad, 0);
	expect_baseline(t);
}

/* The frames mapped behind the n pages at p (false if one is not mapped). */
static bool frames_behind(const void *p, size_t n, phys_addr_t *pa)
{
	for (size_t i = 0; i < n; i++) {
		if (mmu_translate(&kernel_space, (uintptr_t)p + i * PAGE_SIZE, &pa[i], NULL, NULL))
			return false;
	}
	return true;
}

/*
 * krealloc() grows a large allocation with the frames it has, nothing
 * copied: in place while the range after it is free, else moved; it
 * shrinks in place (every strategy but slab + pages, whose records would
 * have to follow).
 */
static void large_krealloc_keeps_its_frames(struct ktest *t)
{
	enum { N1 = 40, N2 = 100, N3 = 300 };
	static phys_addr_t f1[N1], f2[N2], f3[N3];
	unsigned char *p, *q, *r, *blocker = NULL, *fill_in[64];
	unsigned int bad = 0, nfill = 0;

	if (strcmp(heap_strategy(), "slab + pages") == 0)
		KT_SKIP(
		    t,
		    "slab + pages copies: its records of large allocations do not follow a move");
	if (DEBUG_TIER)
		KT_SKIP(
		    t,
		    "debug tier: every krealloc() moves the object (the old one is quarantined)");
	p = kmalloc(N1 * PAGE_SIZE);
	KT_ASSERT(t, p != NULL);
	fill(p, N1 * PAGE_SIZE, 5);
	KT_ASSERT(t, frames_behind(p, N1, f1));
	q = krealloc(p, N2 * PAGE_SIZE - 100);
	KT_ASSERT(t, q != NULL);
	KT_ASSERT(t, frames_behind(q, N2, f2));
	KT_EXPECT(t, memcmp(f1, f2, sizeof(f1)) == 0); /* the same frames first */
	KT_EXPECT_EQ(t,
		     mmu_translate(&kernel_space, (uintptr_t)q + N2 * PAGE_SIZE, NULL, NULL, NULL),
		     -ENOENT); /* the guard page moved to the end */
	bad += check(q, N1 * PAGE_SIZE, 5);
	fill(q, N2 * PAGE_SIZE, 6);
	/* grown in place: a mapping right after it (first fit: holes first) makes the next one move
	 */
	for (nfill = 0; q == p && nfill < 64; nfill++) {
		blocker = kmalloc(17 * PAGE_SIZE); /* large on every strategy, no power of two */
		KT_ASSERT(t, blocker != NULL);
		if (blocker == q + (N2 + 1) * PAGE_SIZE)
			break;
		fill_in[nfill] = blocker;
		blocker = NULL;
	}
	KT_ASSERT(t, q != p || blocker != NULL);
	r = krealloc(q, N3 * PAGE_SIZE);
	KT_ASSERT(t, r != NULL);
	KT_ASSERT(t, frames_behind(r, N3, f3));
	KT_EXPECT(t, memcmp(f2, f3, sizeof(f2)) == 0);
	KT_EXPECT_EQ(t, ksize(r), N3 * PAGE_SIZE);
	bad += check(r, N2 * PAGE_SIZE, 6);
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT(t, q != p || r != q); /* one of the two moved */
	kfree(blocker);
	while (nfill)
		kfree(fill_in[--nfill]);
	/* shrunk where it is: the pages past its new end unmapped and given back */
	KT_EXPECT(t, krealloc(r, N1 * PAGE_SIZE - 50) == r);
	KT_EXPECT_EQ(t, ksize(r), N1 * PAGE_SIZE);
	KT_EXPECT(t, frames_behind(r, N1, f1) && memcmp(f1, f3, sizeof(f1)) == 0);
	KT_EXPECT_EQ(t,
		     mmu_translate(&kernel_space, (uintptr_t)r + N1 * PAGE_SIZE, NULL, NULL, NULL),
		     -ENOENT);
	for (size_t i = N1; i < N3; i++) {
		int tag = frame_tag(f3[i]);

		bad += tag != FRAME_FREE && tag != FRAME_CACHED;
	}
	bad += check(r, N1 * PAGE_SIZE, 6);
	KT_EXPECT_EQ(t, bad, 0);
	kfree(r);
	expect_baseline(t);
}

/*
 * The per-hart strategy takes 8 KiB to 32 KiB as a run of contiguous
 * frames used through the direct map (a page block): no vmap mapping, its
 * head frame tagged FRAME_HEAP, its frames back to the buddy when freed.
 */
static void page_blocks_in_the_direct_map(struct ktest *t)
{
	static const size_t sizes[] = { HEAP_SLAB_MAX_SIZE + 1, 20000, 32768 };
	unsigned int bad = 0;

	/* asked at run time: a CONFIG_ symbol here would rebuild this file with every strategy switch */
	if (strcmp(heap_strategy(), "per-hart slab") != 0)
		KT_SKIP(t, "page blocks are the per-hart strategy's");
	if (DEBUG_TIER)
		KT_SKIP(t, "debug tier: these sizes stay in the vmap window");
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t pages = (sizes[i] + PAGE_SIZE - 1) / PAGE_SIZE;
		unsigned char *p = kmalloc(sizes[i]), *q;
		struct frame_owner o;
		phys_addr_t pa;

		KT_ASSERT(t, p != NULL);
		pa = virt_to_phys(p);
		KT_EXPECT(t, !vmap_contains(&kernel_vmap, (uintptr_t)p));
		KT_EXPECT(t, phys_to_virt(pa) == p);
		KT_ASSERT_EQ(t, frame_owner(pa, &o), 0);
		KT_EXPECT_EQ(t, o.tag, FRAME_HEAP);
		KT_EXPECT_EQ(t, o.head, pa);
		KT_EXPECT_EQ(t, ksize(p), pages * PAGE_SIZE);
		fill(p, pages * PAGE_SIZE, 5);
		bad += check(p, pages * PAGE_SIZE, 5);
		kfree(p);
		q = kmalloc(sizes[i]); /* the block again, from the hart's cache of them */
		KT_EXPECT(t, q == p);
		kfree(q);
		heap_flush(); /* the cache back to the buddy */
		for (size_t f = 0; f < pages; f++) {
			int tag = frame_tag(pa + f * PAGE_SIZE);

			bad += tag != FRAME_FREE && tag != FRAME_CACHED;
		}
	}
	KT_EXPECT_EQ(t, bad, 0);
	expect_baseline(t);
}

/* The blocks heap_kernel_early_init() left on the early heap at boot, freed now. */
static void early_blocks_freed_after_switch(struct ktest *t)
{
	struct heap_early_stats before, after;
	unsigned int bad = 0;

	heap_early_stats(&before);
	for (int i = 0; i < HEAP_EARLY_KTEST_BLOCKS; i++) {
		unsigned char *p = heap_early_ktest_blocks[i];
		size_t size = heap_early_ktest_sizes[i];
		struct frame_owner o;

		KT_ASSERT(t, p != NULL);
		KT_ASSERT_EQ(t, frame_owner(virt_to_phys(p), &o), 0);
		KT_EXPECT(t, o.tag == FRAME_EARLY && o.aux == HEAP_EARLY_FRAME_MARK);
		KT_EXPECT_GE(t, ksize(p), size);
		for (size_t b = 0; b < size; b++)
			bad += p[b] != (unsigned char)(b * 13 + i);
		kfree(p);
		heap_early_ktest_blocks[i] = NULL;
	}
	heap_quarantine_flush();
	heap_early_stats(&after);
	KT_EXPECT_EQ(t, after.blocks + HEAP_EARLY_KTEST_BLOCKS, before.blocks);
	KT_EXPECT_EQ(t, bad, 0);
	expect_baseline(t);
}

static const void *misuse_at;
static unsigned int misuse_reports;

static void record_misuse(const char *what, const void *p)
{
	(void)what;
	misuse_at = p;
	misuse_reports++;
}

static bool reported(const void *p)
{
	bool ok = misuse_reports == 1 && misuse_at == p;

	misuse_reports = 0;
	return ok;
}

static void misuse_is_reported(struct ktest *t)
{
	heap_misuse_fn old = heap_set_misuse_handler(record_misuse);
	unsigned char *a = kmalloc(64), *b = kmalloc(64), *l = kmalloc(20000);
	uint64_t misuses = heap_misuses();
	int local;

	KT_ASSERT(t, a && b && l);
	misuse_reports = 0;
	kfree(&local);
	KT_EXPECT(t, reported(&local));
	kfree(a + 8);
	KT_EXPECT(t, reported(a + 8));
	kfree(l + PAGE_SIZE);
	KT_EXPECT(t, reported(l + PAGE_SIZE));
	kfree(a);
	kfree(a);
	KT_EXPECT(t, reported(a));
	kfree(l);
	kfree(l);
	KT_EXPECT(t, reported(l));
	kfree(b);
	KT_EXPECT_EQ(t, misuse_reports, 0);
	KT_EXPECT_EQ(t, heap_misuses(), misuses + 5);
	heap_set_misuse_handler(old);
	expect_baseline(t);
}

/*
 * 8 bytes past the last object of a slab page, into its trailer's canary:
 * reported, naming that object, before the page's bitmap is trusted again
 * (another of its objects, freed into it, allocated again). In each class
 * whose last object ends at the canary (968, 1992 and 4040 bytes), in a
 * page whose objects are all this test's, so that the free makes it the
 * first of its class with room.
 */
static void overflow_into_the_trailer(struct ktest *t)
{
	static const unsigned int sizes[] = {900, 1500, 4000};
	heap_misuse_fn old;

	PER_HART_ONLY(t);
	old = heap_set_misuse_handler(record_misuse);
	misuse_reports = 0;
	for (unsigned int z = 0; z < ARRAY_SIZE(sizes); z++) {
		unsigned int c = 0, n = 0, held = 0;
		unsigned char *v[64], *a = NULL, *b = NULL, *again;
		uintptr_t page = 0;

		while (heap_hart_classes[c].size < sizes[z])
			c++;
		heap_flush(); /* the class's cached objects back in their pages */
		/* until one page's every object is ours */
		for (; n < ARRAY_SIZE(v) && held < heap_hart_classes[c].per_page; n++) {
			KT_ASSERT(t, (v[n] = kmalloc(sizes[z])) != NULL);
			page = ALIGN_DOWN((uintptr_t)v[n], HEAP_SLAB_SIZE);
			held = 0;
			for (unsigned int i = 0; i <= n; i++)
				held += ALIGN_DOWN((uintptr_t)v[i], HEAP_SLAB_SIZE) == page;
		}
		KT_ASSERT(t, held == heap_hart_classes[c].per_page);
		KT_EXPECT_EQ(t, ksize(v[n - 1]), heap_hart_classes[c].size);
		a = (unsigned char *)page;
		b = a + (heap_hart_classes[c].per_page - 1) * heap_hart_classes[c].stride;
		KT_EXPECT_EQ(t, b + ksize(b) + 56,
			     a + HEAP_SLAB_SIZE); /* the trailer right behind */
		heap_flush();
		memset(b + ksize(b), 0x5a, 8); /* the bug under test */
		kfree(a);
		heap_flush(); /* a back into its page */
		KT_EXPECT_EQ(t, misuse_reports, 0);
		again = kmalloc(sizes[z]);
		KT_EXPECT(t, reported(b));
		KT_EXPECT(t, again == a);
		kfree(again);
		for (unsigned int i = 0; i < n; i++)
			if (v[i] != a)
				kfree(v[i]);
		heap_flush();
		KT_EXPECT_EQ(t, misuse_reports, 0);
	}
	heap_set_misuse_handler(old);
	expect_baseline(t);
}

/* On another hart: free what hart 0 allocated (the free queues), and allocate. */
static void on_other_hart(void *arg)
{
	void **v = arg;

	kfree(v[0]);
	v[1] = kmalloc(48);
}

static void trim_there(void *arg)
{
	(void)arg;
	heap_trim();
}

static void free_from_another_hart(struct ktest *t)
{
	void *v[2] = { NULL, NULL };
	struct heap_hart_stats before, after;
	unsigned int me = this_hart_index(), other = me ? 0 : 1;
	struct frame_owner o;

	PER_HART_ONLY(t);
	if (smp_nr_online() < 2 || !smp_hart_online(other))
		KT_SKIP(t, "one hart online");
	KT_ASSERT_EQ(t, heap_hart_stats(me, &before), 0);
	v[0] = kmalloc(48);
	KT_ASSERT(t, v[0] != NULL);
	KT_ASSERT(t, smp_call(other, on_other_hart, v));
	KT_ASSERT(t, v[1] != NULL);
	KT_ASSERT_EQ(t, frame_owner(virt_to_phys(v[1]), &o), 0);
	KT_EXPECT_EQ(t, o.heap, other); /* a page of the other hart's heap */
	kfree(v[1]); /* and back: this one goes to the other hart's queue */
	heap_idle(); /* takes our queue */
	KT_ASSERT_EQ(t, heap_hart_stats(me, &after), 0);
	KT_EXPECT_EQ(t, after.cls[3].remote_frees, before.cls[3].remote_frees + 1);
	KT_EXPECT_EQ(t, after.cls[3].in_use, before.cls[3].in_use);
	KT_ASSERT(t, smp_call(other, trim_there, NULL));
	expect_baseline(t);
}

/* Frees the odd objects of the array arg ends with NULL: another hart's frees. */
static void free_odd_there(void *arg)
{
	void **v = arg;

	for (unsigned int i = 1; v[i - 1] && v[i]; i += 2)
		kfree(v[i]);
}

/*
 * Objects of 4097 to HEAP_MID_MAX_SIZE bytes: several to a 32 KiB block of
 * the buddy, not a slab page each; half of them freed on another hart
 * (when there is one) go back to this hart's blocks.
 */
static void mid_sizes_share_a_block(struct ktest *t)
{
	unsigned int me = this_hart_index(), other = me ? 0 : 1, bad = 0;
	bool two = smp_nr_online() >= 2 && smp_hart_online(other);

	PER_HART_ONLY(t);
	for (unsigned int m = 0; m < HEAP_MID_CLASSES; m++) {
		unsigned int size = heap_hart_mid_classes[m].size;
		unsigned int per = heap_hart_mid_classes[m].per_block, n = 2 * per + 1;
		struct heap_hart_stats s;
		void *v[16] = {NULL};
		uintptr_t first;

		for (unsigned int i = 0; i < n; i++) {
			struct frame_owner o;

			v[i] = kmalloc(size - i * 40);
			KT_ASSERT(t, v[i] != NULL);
			bad += ksize(v[i]) != size;
			bad += frame_owner(virt_to_phys(v[i]), &o) != 0 || o.tag != FRAME_HEAP ||
			       o.order != 3;
			fill(v[i], size, i + m);
		}
		/* the first block's objects in it, one after another */
		first = ALIGN_DOWN((uintptr_t)v[0], 32768);
		for (unsigned int i = 1; i < per; i++)
			bad += ALIGN_DOWN((uintptr_t)v[i], 32768) != first || v[i] <= v[i - 1];
		KT_ASSERT_EQ(t, heap_hart_stats(me, &s), 0);
		KT_EXPECT_EQ(t, s.mid[m].blocks, 3);
		KT_EXPECT_EQ(t, s.mid[m].in_use, n);
		for (unsigned int i = 0; i < n; i++)
			bad += check(v[i], size, i + m);
		if (two)
			KT_ASSERT(t, smp_call(other, free_odd_there, v));
		for (unsigned int i = two ? 0 : 1; i < n; i += two ? 2 : 1)
			kfree(v[i]);
		if (!two)
			kfree(v[0]);
		KT_ASSERT_EQ(t, heap_hart_stats(me, &s), 0);
		KT_EXPECT_EQ(t, s.mid[m].in_use, 0);
		heap_flush(); /* the hart's cache of them back to their blocks, which empty */
		KT_ASSERT_EQ(t, heap_hart_stats(me, &s), 0);
		KT_EXPECT_EQ(t, s.mid[m].in_use, 0);
		KT_EXPECT_EQ(t, s.mid[m].blocks, 1); /* one empty block kept until a trim */
	}
	KT_EXPECT_EQ(t, bad, 0);
	expect_baseline(t);
}

/* ---- frees waiting for an idle hart ------------------------------------------ */

#define IDLE_OBJS 1024
static void *idle_objs[IDLE_OBJS];
static unsigned int idle_n;

/* 4096 bytes: the one-object class, a slab page each (4 MiB runs out before IDLE_OBJS) */
static void fill_there(void *arg)
{
	(void)arg;
	for (idle_n = 0; idle_n < IDLE_OBJS && (idle_objs[idle_n] = kmalloc(4096)); idle_n++)
		;
}

/*
 * Every buddy block of order 1 and up, chained through their first words
 * (the head returned), but for the first of the largest order (*aside).
 * The chain ends with NO_BLOCK and *aside is NO_BLOCK if there was none:
 * not 0, which is a block like any other where RAM starts at physical 0.
 */
#define NO_BLOCK (~(phys_addr_t)0)

static phys_addr_t hoard(phys_addr_t *aside)
{
	phys_addr_t head = NO_BLOCK, pa;

	*aside = NO_BLOCK;
	for (unsigned int order = BUDDY_MAX_ORDER; order >= 1; order--) {
		while (buddy_alloc(order, &pa) == 0) {
			if (*aside == NO_BLOCK) {
				*aside = pa;
				continue;
			}
			uint64_t *w = phys_to_virt(pa);

			w[0] = head;
			w[1] = order;
			head = pa;
		}
	}
	return head;
}

static void unhoard(phys_addr_t head)
{
	while (head != NO_BLOCK) {
		uint64_t *w = phys_to_virt(head);
		phys_addr_t next = w[0];

		buddy_free(head, (unsigned int)w[1]);
		head = next;
	}
}

/*
 * Hart 1 takes all the slab memory there is, goes idle, and hart 0 frees it
 * all: the frees wait in hart 1's queue. Hart 0's next allocation would
 * fail, so the heap's reclaim hook wakes hart 1, whose idle loop takes the
 * queue; the allocation then succeeds with a page of hart 1's.
 */
static void frees_for_an_idle_hart_are_reclaimed(struct ktest *t)
{
	unsigned int me = this_hart_index(), other = me ? 0 : 1;
	phys_addr_t hoarded, aside;
	uint64_t drains;
	bool waiting;
	void *x;

	PER_HART_ONLY(t);
	if (smp_nr_online() < 2 || !smp_hart_online(other))
		KT_SKIP(t, "one hart online");
	for (unsigned int i = 0; i < MAX_HARTS; i++) /* no empty page left anywhere to steal */
		if (i != me && smp_hart_online(i))
			smp_call(i, trim_there, NULL);
	heap_trim();
	hoarded = hoard(&aside);
	KT_ASSERT(t, aside != NO_BLOCK);
	buddy_free(aside, BUDDY_MAX_ORDER); /* 4 MiB for the heaps, and no more */
	KT_ASSERT(t, smp_call(other, fill_there, NULL));
	KT_EXPECT_GT(t, idle_n, 0);
	KT_EXPECT_LT(t, idle_n, IDLE_OBJS); /* it ran out */
	for (unsigned int i = 0; i < idle_n; i++)
		kfree(idle_objs[i]); /* all queued for the other hart, asleep */
	waiting = heap_hart_has_queue(other);
	drains = heap_hart_drains(other);
	x = kmalloc(4096);
	KT_EXPECT(t, x != NULL);
	/*
	 * Where the page came from: hart 1 woken for its queue, or (arm64,
	 * whose WFE wakes spuriously) pages it freed by itself meanwhile.
	 */
	ktest_log(t, "%u blocks; queue %s, %s", idle_n, waiting ? "waiting" : "already taken",
		  heap_hart_drains(other) > drains ? "taken for the allocation" : "not needed");
	kfree(x);
	unhoard(hoarded);
	KT_ASSERT(t, smp_call(other, trim_there, NULL));
	expect_baseline(t);
}

static void stats_and_dump(struct ktest *t)
{
	struct heap_hart_stats s;
	unsigned int me = this_hart_index();

	PER_HART_ONLY(t);
	KT_ASSERT_EQ(t, heap_hart_stats(me, &s), 0);
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		KT_EXPECT_EQ(t, s.cls[c].in_use, 0);	 /* everything the suite allocated here is freed */
#ifdef CONFIG_HEAP_STATS
		KT_EXPECT_GE(t, s.cls[c].allocs, 40); /* every_class used every class */
		KT_EXPECT_EQ(t, s.cls[c].frees, s.cls[c].allocs);
#else /* not counted */
		KT_EXPECT_EQ(t, s.cls[c].allocs, 0);
		KT_EXPECT_EQ(t, s.cls[c].frees, 0);
#endif
		KT_EXPECT_EQ(t, s.cls[c].size, class_size(c));
	}
	KT_EXPECT_GT(t, s.cls[0].per_page, 900);
	heap_dump();
	expect_baseline(t);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(every_class),
    KTEST_CASE(alignment),
    KTEST_CASE(realloc_and_calloc),
    KTEST_CASE(large_through_vmap),
    KTEST_CASE(large_krealloc_keeps_its_frames),
    KTEST_CASE(page_blocks_in_the_direct_map),
    KTEST_CASE(early_blocks_freed_after_switch),
    KTEST_CASE(misuse_is_reported),
    KTEST_CASE(overflow_into_the_trailer),
    KTEST_CASE(free_from_another_hart),
    KTEST_CASE(mid_sizes_share_a_block),
    KTEST_CASE(frees_for_an_idle_hart_are_reclaimed),
    KTEST_CASE(stats_and_dump),
    {0},
};

const struct ktest_suite heap_suite = { "heap", cases, setup, NULL };
