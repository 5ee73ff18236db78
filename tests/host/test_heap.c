// SPDX-License-Identifier: MIT
/*
 * The heap on one thread: the slab classes and their trailer, alignment,
 * krealloc/kcalloc, and misuse reports. Every case ends with the heaps empty and the buddy back to
 * its baseline (test_heap_early.c has the early heap, test_heap_pages.c page movement, large
 * allocations and out-of-memory, test_heap_smp.c threads).
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/harts.h>
#include <mm/heap.h>
#include <mm/heap_hart.h>
#include <mm/kmalloc.h>
#include <mm/phys.h>
#include <stdlib.h>
#include <string.h>

#include "../../mm/heap/hart/heap_hart.h"

#include "../common/heap_hart_classes.h"
#include "arena.h"
#include "heap_host.h"

#define NR_HARTS   4
#define RAM	   (64ULL << 20)
#define EARLY_SIZE (256ULL << 10)

static int boot(struct ktest *t)
{
	heap_host_boot(RAM, EARLY_SIZE);
	return heap_host_ready(t, NR_HARTS) ? 0 : -1;
}

/* Frames the switch to nr_harts heaps takes from the buddy, on a fresh machine. */
static uint64_t switch_cost(struct ktest *t, unsigned int nr_harts)
{
	struct buddy_stats before, after;

	heap_host_boot(RAM, EARLY_SIZE);
	buddy_stats(&before);
	KT_EXPECT_EQ(t, heap_host_switch(nr_harts), 0);
	buddy_stats(&after);
	return (before.free + before.cached) - (after.free + after.cached);
}

/* The per-hart heaps are as many as the harts the switch names, not MAX_HARTS, statically. */
static void heaps_for_the_harts_named(struct ktest *t)
{
	uint64_t one = switch_cost(t, 1), eight = switch_cost(t, 8);

	KT_EXPECT_GT(t, eight, one);
	KT_EXPECT_LE(t, eight, one + 8 * 8); /* about 8 KiB a heap: at most 2 frames each */
	KT_EXPECT_EQ(t, heap_host_switch(MAX_HARTS + 1), -EINVAL);
}

#define class_size heap_hart_class_size

/* The canary, two bitmaps of a bit per object in whole words, and struct slab. */
static unsigned int trailer_bytes(unsigned int n)
{
	return 8 + 2 * 8 * ((n + 63) / 64) + 32;
}

/* Each class fills its page as far as a trailer sized for it allows, far past Theseus's 512. */
static void slab_geometry(struct ktest *t)
{
	struct heap_hart_stats s;

	KT_ASSERT_EQ(t, heap_hart_stats(0, &s), 0);
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		unsigned int n = s.cls[c].per_page, size = s.cls[c].size;
		unsigned int stride = heap_hart_classes[c].stride;

		KT_EXPECT_EQ(t, size, class_size(c));
		KT_EXPECT_EQ(t, n, heap_hart_classes[c].per_page);
		/* the last object and the trailer fit; one more object would not */
		KT_EXPECT_LE(t, (n - 1) * stride + size + trailer_bytes(n), HEAP_SLAB_SIZE);
		KT_EXPECT_GT(t, n * stride + size + trailer_bytes(n + 1), HEAP_SLAB_SIZE);
		ktest_log(t, "class %5u: %4u objects, %4u bytes of the page hold none", size, n,
			  HEAP_SLAB_SIZE - n * size);
	}
	KT_EXPECT_GT(t, s.cls[0].per_page, 512 + 400);
}

/*
 * kmalloc()'s class for every size (a table of its own up to 4 KiB): the
 * smallest that fits, a mid class's from 4097 bytes on.
 */
static void every_size_gets_the_smallest_class(struct ktest *t)
{
	unsigned int wrong = 0;

	for (size_t size = 0; size <= class_size(HEAP_NR_CLASSES - 1); size++) {
		void *p = kmalloc(size);

		if (!p || ksize(p) != heap_hart_size_for(size)) {
			ktest_log(t, "kmalloc(%zu): %zu bytes, not %u", size, p ? ksize(p) : 0,
				  heap_hart_size_for(size));
			wrong++;
		}
		kfree(p);
		if (wrong > 5)
			break;
	}
	KT_EXPECT_EQ(t, wrong, 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * For each class: enough objects for three pages, of sizes from just above
 * the class below to the class size; written, checked, freed.
 */
static void every_class_alloc_free(struct ktest *t)
{
	struct heap_hart_stats s;
	unsigned int bad = 0;

	KT_ASSERT_EQ(t, heap_hart_stats(0, &s), 0);
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		unsigned int size = class_size(c), low = c ? class_size(c - 1) + 1 : 0;

		if (c == HEAP_NR_CLASSES - 1) /* below it, the mid classes */
			low = HEAP_MID_MAX_SIZE + 1;
		unsigned int n = 2 * s.cls[c].per_page + 1;
		void **v = calloc(n, sizeof(*v));

		for (unsigned int i = 0; i < n; i++) {
			size_t want = low + (size_t)i * 7919 % (size - low + 1);
			struct frame_owner o;

			v[i] = kmalloc(want);
			if (!KT_EXPECT(t, v[i] != NULL))
				break;
			bad += ksize(v[i]) != size;
			bad += frame_owner(virt_to_phys(v[i]), &o) != 0 || o.tag != FRAME_SLAB ||
			       o.heap != 0 || o.aux != HEAP_SLAB_FRAME_AUX(c) || o.order != 1;
			heap_host_fill(v[i], size);
		}
		KT_ASSERT_EQ(t, heap_hart_stats(0, &s), 0);
		KT_EXPECT_EQ(t, s.cls[c].in_use, n);
		KT_EXPECT_EQ(t, s.cls[c].pages, 3);
		for (unsigned int i = 0; i < n && v[i]; i++) {
			bad += !heap_host_check(v[i], size); /* no object overlapped another */
			kfree(v[i]);
		}
		free(v);
		heap_flush(); /* the hart's cache lets its objects go: the pages empty */
		KT_ASSERT_EQ(t, heap_hart_stats(0, &s), 0);
		KT_EXPECT_EQ(t, s.cls[c].in_use, 0);
		KT_EXPECT_EQ(t, s.cls[c].pages,
			     1); /* the class keeps one empty page until a trim */
		KT_EXPECT_EQ(t, s.cls[c].allocs, n);
		KT_EXPECT_EQ(t, s.cls[c].frees, n);
	}
	KT_EXPECT_EQ(t, bad, 0);
	void *z = kmalloc(0), *z2 = kmalloc(0); /* a unique pointer each */
	KT_EXPECT(t, z && z2 && z != z2);
	kfree(z);
	kfree(z2);
	kfree(NULL);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

static void natural_and_asked_alignment(struct ktest *t)
{
	static const size_t sizes[] = {1, 3, 100, 700, 3000, 5000, 8136, 10000, 70000};
	void *keep[64];
	unsigned int n = 0, bad = 0;

	for (size_t size = 8; size <= (1u << 20); size <<= 1) {
		void *p = kmalloc(size);

		KT_ASSERT(t, p != NULL);
		bad += !IS_ALIGNED((uintptr_t)p, size);
		keep[n++] = p;
	}
	for (size_t align = 16; align <= (64u << 10); align <<= 1) {
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
			void *p = kmalloc_aligned(sizes[i], align);

			KT_ASSERT(t, p != NULL);
			bad += !IS_ALIGNED((uintptr_t)p, align) || ksize(p) < sizes[i];
			heap_host_fill(p, sizes[i]);
			bad += !heap_host_check(p, sizes[i]);
			kfree(p);
		}
	}
	KT_EXPECT(t, kmalloc_aligned(64, 48) == NULL); /* not a power of two */
	for (unsigned int i = 0; i < n; i++)
		kfree(keep[i]);
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/* Bytes that do not depend on the address, so they can be followed across a move. */
static void fill_seq(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + seed);
}

static bool check_seq(const unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (unsigned char)(i * 131 + seed))
			return false;
	}
	return true;
}

/*
 * An object freed goes to the hart's cache and the next allocation of its
 * class takes it back, in every class (the largest, above 4096 bytes,
 * too): no page is touched.
 */
static void a_freed_object_comes_back_from_the_cache(struct ktest *t)
{
	struct heap_hart_stats before, after;

	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		size_t size = class_size(c);
		void *keep = kmalloc(size), *p = kmalloc(size), *q;

		KT_ASSERT(t, keep && p);
		KT_ASSERT_EQ(t, heap_hart_stats(0, &before), 0);
		kfree(p);
		q = kmalloc(size);
		KT_ASSERT_EQ(t, heap_hart_stats(0, &after), 0);
		KT_EXPECT(t, q == p);
		KT_EXPECT_EQ(t, after.pages_from_buddy, before.pages_from_buddy);
		KT_EXPECT_EQ(t, after.cls[c].pages, before.cls[c].pages);
		kfree(q);
		kfree(keep);
	}
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

static void realloc_grows_and_shrinks(struct ktest *t)
{
	static const size_t steps[] = {24, 100, 1000, 5000, 8136, 9000, 100000, 50000, 3000, 40, 5};
	size_t have = 10;
	unsigned char *p = krealloc(NULL, have), *q;
	unsigned int bad = 0;

	KT_ASSERT(t, p != NULL);
	fill_seq(p, have, 7);
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		q = krealloc(p, steps[i]);
		KT_ASSERT(t, q != NULL);
		bad += !check_seq(q, MIN(have, steps[i]), 7);
		bad += ksize(q) < steps[i];
		have = steps[i];
		fill_seq(q, have, 7);
		p = q;
	}
	/* same class, or same number of pages: it stays */
	q = krealloc(p, 8);
	KT_EXPECT(t, q == p);
	kfree(q);
	p = kmalloc(100);
	KT_EXPECT(t, krealloc(p, 120) == p);
	q = krealloc(p, 64); /* a smaller class: it moves */
	KT_EXPECT(t, q != p && ksize(q) == 64);
	p = kmalloc(20000);
	KT_EXPECT(t, krealloc(p, 20400) == p); /* still 5 pages */
	kfree(krealloc(p, 30000));
	KT_EXPECT(t, krealloc(q, 0) == NULL); /* frees it */
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

static void calloc_zeroes_and_checks_overflow(struct ktest *t)
{
	unsigned char *p = kmalloc(4000), *q;
	unsigned int nonzero = 0;

	KT_ASSERT(t, p != NULL);
	memset(p, 0xff, 4000);
	kfree(p);
	q = kcalloc(100, 40); /* the same object again, most likely: dirty */
	KT_ASSERT(t, q != NULL);
	KT_EXPECT(t, q == p);
	for (size_t i = 0; i < 4000; i++)
		nonzero += q[i] != 0;
	kfree(q);
	q = kzalloc(300000); /* large */
	KT_ASSERT(t, q != NULL);
	for (size_t i = 0; i < 300000; i++)
		nonzero += q[i] != 0;
	kfree(q);
	KT_EXPECT_EQ(t, nonzero, 0);
	KT_EXPECT(t, kcalloc(SIZE_MAX / 8 + 1, 8) == NULL);
	KT_EXPECT(t, kcalloc(3, SIZE_MAX / 2) == NULL);
	KT_EXPECT(t, kmalloc(SIZE_MAX) == NULL);
	KT_EXPECT(t, kmalloc_aligned(SIZE_MAX - 100, 4096) == NULL);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/* Reported with the address, and nothing changed by the bad call. */
static void expect_report(struct ktest *t, const void *p, int line)
{
	const void *last;

	if (!KT_EXPECT_EQ(t, heap_host_misuses(&last, NULL), 1) || !KT_EXPECT(t, last == p))
		ktest_log(t, "the misuse at line %d", line);
}
#define EXPECT_REPORT(t, p) expect_report(t, p, __LINE__)

/* The mid blocks that hold p's class in heap h, and its objects allocated. */
static void mid_counts(unsigned int h, unsigned int m, uint64_t *blocks, uint64_t *in_use)
{
	struct heap_hart_stats s;

	heap_hart_stats(h, &s);
	*blocks = s.mid[m].blocks;
	*in_use = s.mid[m].in_use;
}

/*
 * Objects of 4097 to HEAP_MID_MAX_SIZE bytes: several to a 32 KiB block
 * (an 8 KiB slab page would hold one), no two overlapping, and freed from
 * any hart into the owner's block; a class keeps one empty block, a trim
 * gives it back. Interior, header and double frees are reported and
 * change nothing.
 */
static void mid_sizes_share_a_block(struct ktest *t)
{
	for (unsigned int m = 0; m < HEAP_MID_CLASSES; m++) {
		unsigned int size = heap_hart_mid_classes[m].size,
			     per = heap_hart_mid_classes[m].per_block;
		unsigned int low = m ? heap_hart_mid_classes[m - 1].size + 1 : 4097,
			     n = 2 * per + 1;
		uintptr_t blocks[3] = {0};
		unsigned int nr_blocks = 0, bad = 0;
		uint64_t nb, used;
		void *v[16];

		KT_ASSERT(t, n <= ARRAY_SIZE(v));
		for (unsigned int i = 0; i < n; i++) {
			size_t want = low + (size_t)i * 7919 % (size - low + 1);
			struct frame_owner o;
			uintptr_t b;
			unsigned int k;

			v[i] = kmalloc(want);
			KT_ASSERT(t, v[i] != NULL);
			bad += ksize(v[i]) != size || ((uintptr_t)v[i] & 63);
			bad += frame_owner(virt_to_phys(v[i]), &o) != 0 || o.tag != FRAME_HEAP ||
			       o.order != HART_MID_ORDER;
			b = ALIGN_DOWN((uintptr_t)v[i], HART_MID_BLOCK);
			for (k = 0; k < nr_blocks && blocks[k] != b; k++)
				;
			if (k == nr_blocks && k < ARRAY_SIZE(blocks))
				blocks[nr_blocks++] = b;
			bad += k >= ARRAY_SIZE(blocks);
			heap_host_fill(v[i], size);
		}
		KT_EXPECT_EQ(t, bad, 0);
		KT_EXPECT_EQ(t, nr_blocks, 3); /* per a block, and one more */
		mid_counts(0, m, &nb, &used);
		KT_EXPECT_EQ(t, nb, 3);
		KT_EXPECT_EQ(t, used, n);

		/* misuse: nothing changes */
		kfree((char *)v[0] + 16);
		EXPECT_REPORT(t, (char *)v[0] + 16);
		kfree((void *)blocks[0]); /* the block's header */
		EXPECT_REPORT(t, (void *)blocks[0]);
		KT_EXPECT_EQ(t, ksize((char *)v[1] + size / 2), 0);
		EXPECT_REPORT(t, (char *)v[1] + size / 2);
		mid_counts(0, m, &nb, &used);
		KT_EXPECT_EQ(t, used, n);

		/* the odd ones freed on hart 1: into hart 0's blocks */
		arena_set_hart(1);
		for (unsigned int i = 1; i < n; i += 2) {
			bad += !heap_host_check(v[i], size);
			kfree(v[i]);
		}
		arena_set_hart(0);
		mid_counts(0, m, &nb, &used);
		KT_EXPECT_EQ(t, used, n - n / 2);
		mid_counts(1, m, &nb, &used);
		KT_EXPECT_EQ(t, nb, 0);
		kfree(v[1]);
		EXPECT_REPORT(t, v[1]);
		KT_EXPECT_EQ(t, ksize(v[1]), 0);
		EXPECT_REPORT(t, v[1]);
		for (unsigned int i = 0; i < n; i += 2) {
			bad += !heap_host_check(v[i], size);
			kfree(v[i]);
		}
		KT_EXPECT_EQ(t, bad, 0);
		/* the first evens wait in hart 0's cache: a second free, from either hart */
		kfree(v[0]);
		EXPECT_REPORT(t, v[0]);
		arena_set_hart(1);
		kfree(v[2]);
		EXPECT_REPORT(t, v[2]);
		KT_EXPECT_EQ(t, ksize(v[2]), 0);
		EXPECT_REPORT(t, v[2]);
		arena_set_hart(0);
		mid_counts(0, m, &nb, &used);
		KT_EXPECT_EQ(t, used, 0);
		/* one empty block kept, and the blocks of the cached v[0], v[2], v[4], v[6] */
		KT_EXPECT_EQ(t, nb,
			     1 +
				 (ALIGN_DOWN((uintptr_t)v[0], HART_MID_BLOCK) !=
				  ALIGN_DOWN((uintptr_t)v[6], HART_MID_BLOCK)) +
				 1);
		heap_flush(); /* the cache back to the blocks: they empty */
		mid_counts(0, m, &nb, &used);
		KT_EXPECT_EQ(t, used, 0);
		KT_EXPECT_EQ(t, nb, 1); /* one empty block kept */
		kfree(v[n - 1]);	/* in the empty block kept, or one given back */
		EXPECT_REPORT(t, v[n - 1]);
		heap_trim();
		mid_counts(0, m, &nb, &used);
		KT_EXPECT_EQ(t, nb, 0);
	}
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/* A mid object resized: within its class it stays, else it moves with its bytes. */
static void mid_sizes_realloc(struct ktest *t)
{
	char *p = kmalloc(4200), *q;

	KT_ASSERT(t, p != NULL);
	heap_host_fill(p, 4200);
	q = krealloc(p, 4600);
	KT_EXPECT(t, q == p);
	q = krealloc(p, 6000); /* the 6528 class */
	KT_ASSERT(t, q != NULL);
	KT_EXPECT(t, q != p && ksize(q) == 6528);
	KT_EXPECT(t, heap_host_check_as(q, p, 4200));
	p = krealloc(q, 100);
	KT_ASSERT(t, p != NULL);
	KT_EXPECT(t, p != q && ksize(p) == 128);
	kfree(p);
	p = kmalloc_aligned(5000, 128); /* above the blocks' alignment: a slab page's object */
	KT_EXPECT(t, p && IS_ALIGNED((uintptr_t)p, 128) && ksize(p) >= 5000);
	kfree(p);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * An 8-byte underflow of a mid block's first object hits the header's
 * canary: the next free of one of its objects (the owner's cache checks
 * it too) and the next allocation from it are reported, the block given up (its header is not
 * followed), and allocations go on from a new block.
 */
static void mid_header_underflow_is_reported(struct ktest *t)
{
	char *p = kmalloc(4200), *q = kmalloc(4200), *r;
	uint64_t saved;

	KT_ASSERT(t, p && q && ALIGN_DOWN((uintptr_t)p, HART_MID_BLOCK) + 64 == (uintptr_t)p);
	memcpy(&saved, p - 8, 8);
	memset(p - 8, 0x41, 8);
	kfree(q);
	EXPECT_REPORT(t, q);
	r = kmalloc(4300);
	EXPECT_REPORT(t, p); /* the block, named by its first object */
	KT_ASSERT(t, r != NULL);
	KT_EXPECT(t, ALIGN_DOWN((uintptr_t)r, HART_MID_BLOCK) !=
			 ALIGN_DOWN((uintptr_t)p, HART_MID_BLOCK));
	heap_host_fill(r, 4672);
	kfree(r);
	kfree(p); /* the block is given up: reported, never followed */
	EXPECT_REPORT(t, p);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	memcpy(p - 8, &saved, 8); /* the test's own cleanup: the given-up block back to the buddy */
	buddy_free(virt_to_phys(p - 64), HART_MID_ORDER);
	heap_host_switch(NR_HARTS); /* its class's counts are lost with it: new heaps */
}

static void *in_handler;

/* A misuse handler that allocates and frees an object of the class that was misused. */
static void allocating_handler(const char *what, const void *p)
{
	(void)what, (void)p;
	in_handler = kmalloc(4200);
	kfree(in_handler);
}

/* A report is made with the class's lock let go: a handler may allocate from it. */
static void mid_report_lets_the_lock_go(struct ktest *t)
{
	char *p = kmalloc(4200), *q = kmalloc(4200);
	heap_misuse_fn old;

	KT_ASSERT(t, p && q);
	kfree(p);
	old = heap_set_misuse_handler(allocating_handler);
	KT_EXPECT_EQ(t, ksize(p), 0); /* a freed object: reported, the handler allocates */
	kfree(p);		      /* and a double free */
	heap_set_misuse_handler(old);
	KT_EXPECT(t, in_handler != NULL);
	kfree(q);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

static void misuse_is_reported(struct ktest *t)
{
	int local;
	unsigned char *a = kmalloc(64), *b = kmalloc(64), *l = kmalloc(20000);
	struct heap_hart_stats before, after;
	phys_addr_t pa;

	KT_ASSERT(t, a && b && l);
	heap_host_fill(a, 64);
	KT_ASSERT_EQ(t, heap_hart_stats(0, &before), 0);
	kfree(&local);
	EXPECT_REPORT(t, &local);
	kfree(a + 8); /* inside an object */
	EXPECT_REPORT(t, a + 8);
	kfree(l + PAGE_SIZE); /* inside a large allocation */
	EXPECT_REPORT(t, l + PAGE_SIZE);
	kfree(l + 16);
	EXPECT_REPORT(t, l + 16);
	KT_ASSERT_EQ(t, buddy_alloc(0, &pa),
		     0); /* a frame of the buddy's, through the direct map */
	kfree(phys_to_virt(pa));
	EXPECT_REPORT(t, phys_to_virt(pa));
	buddy_free(pa, 0);
	KT_EXPECT_EQ(t, ksize(&local), 0);
	EXPECT_REPORT(t, &local);
	KT_ASSERT_EQ(t, heap_hart_stats(0, &after), 0);
	KT_EXPECT_EQ(t, memcmp(&before, &after, sizeof(before)), 0);
	KT_EXPECT(t, heap_host_check(a, 64));

	kfree(a);
	kfree(a); /* b keeps the page in its class: the bitmap catches it */
	EXPECT_REPORT(t, a);
	KT_EXPECT_EQ(t, ksize(a), 0);
	EXPECT_REPORT(t, a);
	kfree(b);
	kfree(b); /* the page went empty, and stays as the class's spare: the bitmap again */
	EXPECT_REPORT(t, b);
	kfree(l);
	kfree(l);
	EXPECT_REPORT(t, l);

	/*
	 * A page that left its class for the heap's empty list: class 128's
	 * second page empties first and stays as the spare, so the first one,
	 * emptied next, leaves; its trailer names no class any more.
	 */
	{
		enum { CLASS_128 = 4 };
		unsigned int n = before.cls[CLASS_128].per_page + 1;
		void **v = calloc(n, sizeof(*v));

		KT_ASSERT(t, v != NULL);
		for (unsigned int i = 0; i < n; i++)
			KT_ASSERT(t, (v[i] = kmalloc(128)) != NULL);
		kfree(v[n - 1]);
		for (unsigned int i = 0; i < n - 1; i++)
			kfree(v[i]);
		heap_flush();
		KT_ASSERT_EQ(t, heap_hart_stats(0, &after), 0);
		KT_EXPECT_EQ(t, after.cls[CLASS_128].pages, 1);
		KT_EXPECT_EQ(t, after.empty_pages, 1);
		kfree(v[0]);
		EXPECT_REPORT(t, v[0]);
		free(v);
	}

	/* a free queued from another hart, then the same object freed again */
	a = kmalloc(32);
	arena_set_hart(2);
	kfree(a);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	kfree(a);
	EXPECT_REPORT(t, a);
	arena_set_hart(0);
	kfree(a); /* the owner frees it while hart 2's free is queued */
	EXPECT_REPORT(t, a);
	heap_idle(); /* takes the queue: the one real free happens */
	b = kmalloc(32);
	KT_ASSERT_EQ(t, heap_hart_stats(0, &after), 0);
	KT_EXPECT_EQ(t, after.cls[2].in_use, 1);
	KT_EXPECT_EQ(t, after.cls[2].remote_frees, 1);
	kfree(b);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);

	/* a hart without a heap may free, not allocate */
	a = kmalloc(16);
	arena_set_hart(NR_HARTS);
	KT_EXPECT(t, kmalloc(16) == NULL);
	EXPECT_REPORT(t, NULL);
	kfree(a);
	arena_set_hart(0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * Frees inside the 4040-byte class's page that start no object are
 * reported. The trailer is checked against the class the page was found
 * under, not the class the trailer says: an overflow that reaches the trailer's class
 * (here its canary and a class of "none", the bitmaps between them kept so
 * that the heap can go on) is reported at the next allocation from the
 * page, naming its last object, and the trailer is whole again after it.
 */
static void a_trailer_that_says_no_class_is_still_checked(struct ktest *t)
{
	unsigned char *a, *b, *again;
	struct slab *s;

	heap_flush(); /* the class's cached objects back in their pages: a and b from one */
	a = kmalloc(4000);
	b = kmalloc(4000);
	KT_ASSERT(t, a && b && b == a + 4096); /* a fresh page of the 4040-byte class */
	s = slab_of_page(a);
	kfree(a + 2048); /* inside the first object, on a 2 KiB boundary */
	EXPECT_REPORT(t, a + 2048);
	kfree(a + 4040); /* between the objects */
	EXPECT_REPORT(t, a + 4040);
	kfree(b + 4040); /* the canary's word */
	EXPECT_REPORT(t, b + 4040);
	KT_EXPECT_EQ(t, *slab_canary(s), slab_canary_value(slab_canary(s)));
	kfree(a);
	heap_flush(); /* a back into its page */
	*slab_canary(s) ^= 1;
	s->cls = SLAB_NO_CLASS;
	again = kmalloc(4000);
	EXPECT_REPORT(t, b);
	KT_EXPECT(t, again == a);
	KT_EXPECT_EQ(t, s->cls, HEAP_HART_CLASS_4040);
	KT_EXPECT_EQ(t, *slab_canary(s), slab_canary_value(slab_canary(s)));
	kfree(again);
	kfree(b);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * A user's first word that decodes as a free tag or a queued free's link
 * does (heap_hart.h: the tag itself, a small number xor the tag) sends
 * kfree() the slow way, which must let the free on: the object is neither
 * cached, nor free in its page, nor queued. Its true double free is still
 * reported, from its hart and from another.
 */
static void user_words_that_look_like_tags(struct ktest *t)
{
	uintptr_t *tag = kmalloc(64), *link = kmalloc(64), *remote = kmalloc(64);
	struct heap_hart_stats s;

	KT_ASSERT(t, tag && link && remote);
	if (!HEAP_FREE_TAGS)
		KT_SKIP(t, "no free tags in the %s tier", HEAP_HARDEN_NAME);
	*tag = free_tag(heap_tag_key, tag);
	*link = free_tag(heap_tag_key, link) ^ 12345;
	*remote = free_tag(heap_tag_key, remote) ^ 777;
	kfree(tag);
	kfree(link);
	arena_set_hart(1);
	kfree(remote); /* queued for hart 0 */
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	kfree(remote);
	EXPECT_REPORT(t, remote);
	arena_set_hart(0);
	kfree(tag);
	EXPECT_REPORT(t, tag);
	kfree(link);
	EXPECT_REPORT(t, link);
	kfree(remote);
	EXPECT_REPORT(t, remote);
	heap_idle(); /* takes the queue, and the cache back in the pages */
	KT_ASSERT_EQ(t, heap_hart_stats(0, &s), 0);
	KT_EXPECT_EQ(t, s.cls[3].in_use, 0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * A queued object's link forged (as only one who knows the key could) to
 * an object of the same page that is not queued, or to the object itself:
 * the drain, which checks a link into the same page by its bits alone,
 * follows neither; the damage is reported once, the object freed once,
 * the other one stays its user's.
 */
static void forged_links_in_the_same_page(struct ktest *t)
{
	uintptr_t *a = kmalloc(64), *b = kmalloc(64), *live = kmalloc(64);
	void *v[300];

	KT_ASSERT(t, a && b && live);
	if (!HEAP_FREE_TAGS)
		KT_SKIP(t, "no free tags in the %s tier: the drain goes to the pages",
			HEAP_HARDEN_NAME);
	KT_ASSERT(t, ((uintptr_t)a ^ (uintptr_t)live) < HEAP_SLAB_SIZE);
	*live = 1234;
	heap_flush(); /* hart 0's cache empty: its next allocation takes the queue into it */
	heap_host_fill_inbox(0, 1); /* so that a's free takes the stack of links */
	arena_set_hart(1);
	kfree(a);
	arena_set_hart(0);
	*a = heap_link(a, live); /* a's link: to live, allocated, not queued */
	v[0] = kmalloc(64);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 1);
	KT_EXPECT(t, v[0] == a); /* a alone was taken */
	KT_EXPECT_EQ(t, *live, 1234);
	kfree(v[0]);
	heap_flush();
	heap_host_fill_inbox(0, 1);
	arena_set_hart(1);
	kfree(b);
	arena_set_hart(0);
	*b = heap_link(b, b); /* a loop */
	v[0] = kmalloc(64);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 1);
	KT_EXPECT(t, v[0] == b);
	for (int i = 1; i < 300; i++) { /* b once */
		v[i] = kmalloc(64);
		KT_EXPECT(t, v[i] != b);
	}
	for (int i = 0; i < 300; i++)
		kfree(v[i]);
	kfree(live);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * heap_kmalloc_cached() and heap_kfree_cached(), the fast paths a port
 * inlines (libmemcore's malloc() and free()): an object of the hart's own
 * pages into its cache and out again; anything else refused with nothing
 * written or reported, for kfree() to do what it does with it, or, for
 * another hart's object, heap_free_remote_window() (its owner's queue).
 */
static void the_inlined_fast_paths_do_all_or_nothing(struct ktest *t)
{
	struct heap *h = this_heap();
	uintptr_t *a = kmalloc(64), *b = kmalloc(64), *c = kmalloc(64), *big = kmalloc(20000);
	uintptr_t *other, word;
	const struct frame *f;
	void *v[HEAP_CACHE_SLOTS + 1];
	unsigned int taken = 0, cached;
	uintptr_t local = 0;

	KT_ASSERT(t, h && a && b && c && big);
	arena_set_hart(1);
	other = kmalloc(64);
	if (HEAP_FREE_TAGS)
		kfree(c); /* queued for hart 0 */
	arena_set_hart(0);
	KT_ASSERT(t, other != NULL);
	*other = 4321;
	KT_EXPECT(t, heap_kfree_cached(h, a, &f));
	KT_EXPECT(t, heap_kmalloc_cached(h, 64) == a);
	KT_EXPECT(t, heap_kfree_cached(h, a, &f));
	word = *a;
	KT_EXPECT(t, !heap_kfree_cached(h, a, &f)); /* the object freed last */
	KT_EXPECT_EQ(t, *a, word);
	KT_EXPECT(t, heap_kfree_cached(h, b, &f));
	if (HEAP_FREE_TAGS) {
		word = *a;
		KT_EXPECT(t, !heap_kfree_cached(h, a, &f)); /* freed, its tag says so */
		KT_EXPECT_EQ(t, *a, word);
		word = *c;
		KT_EXPECT(t, !heap_kfree_cached(h, c, &f)); /* its free queued: the link stays */
		KT_EXPECT_EQ(t, *c, word);
		KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
		heap_idle(); /* takes the queue, which follows the link */
	} else {
		kfree(c); /* the tier without tags does not look for a queued free */
	}
	KT_EXPECT(t, !heap_kfree_cached(h, (char *)b + 8, &f) && !f);
	KT_EXPECT(t, !heap_kfree_cached(h, &local, &f) && !f);
	KT_EXPECT(t, !heap_kfree_cached(h, NULL, &f) && !f);
	KT_EXPECT(t, !heap_kfree_cached(h, big, &f)); /* a page block or a large allocation */
	KT_EXPECT(t, !f || !heap_free_remote_window(h, (uintptr_t)big, f));
	KT_EXPECT(t, !heap_kfree_cached(h, other, &f) && f);
	KT_EXPECT_EQ(t, *other, 4321);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	KT_EXPECT(t, heap_free_remote_window(h, (uintptr_t)other, f)); /* queued for hart 1 */
	KT_EXPECT(t, heap_free_remote_window(h, (uintptr_t)other, f));
	EXPECT_REPORT(t, other); /* a second time: reported */
	kfree(a);
	EXPECT_REPORT(t, a);
	kfree(big);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);

	heap_flush();
	KT_EXPECT(t, heap_kmalloc_cached(h, 64) == NULL); /* an empty cache */
	for (unsigned int i = 0; i < ARRAY_SIZE(v); i++)
		KT_ASSERT(t, (v[i] = kmalloc(64)) != NULL);
	cached = cache_count(&h->cls[heap_class_fast(h, 64)]); /* what the last refill left */
	while (taken < ARRAY_SIZE(v) && heap_kfree_cached(h, v[taken], &f))
		taken++;
	KT_EXPECT_EQ(t, cached + taken, HEAP_CACHE_MAX(64)); /* then full */
	/* the next class's stack, whose bottom is the slot past the full one's last: still empty */
	KT_EXPECT(t, heap_kmalloc_cached(h, 128) == NULL);
	for (unsigned int i = taken; i < ARRAY_SIZE(v); i++) {
		KT_EXPECT(t, !heap_kfree_cached(h, v[i], &f));
		kfree(v[i]);
	}
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	arena_set_hart(1);
	heap_idle(); /* takes the queue */
	arena_set_hart(0);
	heap_host_expect_baseline(t, NR_HARTS);
}

/*
 * What cache_full() rests on, for every class of h: the slot at a stack's
 * top is NULL exactly when the stack is full, its bottom's slot is NULL,
 * and below the top only objects (never heaps_reset()'s filler).
 */
static bool caches_sound(struct ktest *t, const struct heap *h)
{
	bool ok = h->cls[HEAP_NO_CLASS].top[0] == NULL && h->cls[HEAP_NO_CLASS].top[-1] == NULL;

	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		const struct heap_class *k = &h->cls[c];
		bool sound = k->base[-1] == NULL && k->top >= k->base && k->top <= k->full &&
			     (*k->top == NULL) == (k->top == k->full);

		for (void *const *s = k->base; sound && s < k->top; s++)
			sound = *s && *s != (void *)1;
		if (!sound)
			ktest_log(t,
				  "class %u (%u B): its cache stack is not as cache_full() needs",
				  c, heap_hart_class_size(c));
		ok &= sound;
	}
	return ok;
}

/* Random allocations and frees (a third from another hart), flushes and trims: the stacks stay
 * sound. */
static void cache_stacks_stay_sound(struct ktest *t)
{
	static void *v[2000];
	struct heap *h = this_heap();
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	bool sound = true;

	KT_ASSERT(t, h != NULL);
	for (unsigned int step = 0; step < 60000 && sound; step++) {
		unsigned int i;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		i = (unsigned int)(rng % ARRAY_SIZE(v));
		if (v[i]) {
			arena_set_hart(rng >> 40 & 1 && rng >> 41 & 1 ? 1 : 0);
			kfree(v[i]);
			arena_set_hart(0);
			v[i] = NULL;
		} else {
			size_t size = 1 + (rng >> 20) % (rng >> 30 & 3 ? 256 : HEAP_SLAB_MAX_SIZE);

			KT_ASSERT(t, (v[i] = kmalloc(size)) != NULL);
			memset(v[i], 0xa5, size);
		}
		if (step % 997 == 0)
			heap_flush();
		if (step % 4999 == 0)
			heap_trim();
		if (step % 50 == 0)
			sound = caches_sound(t, h);
	}
	KT_EXPECT(t, sound);
	for (unsigned int i = 0; i < ARRAY_SIZE(v); i++) {
		kfree(v[i]);
		v[i] = NULL;
	}
	KT_EXPECT(t, caches_sound(t, h));
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	arena_set_hart(1);
	heap_idle(); /* hart 1's caches, and its queue */
	arena_set_hart(0);
	heap_flush();
	heap_host_expect_baseline(t, NR_HARTS);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(heaps_for_the_harts_named),
    KTEST_CASE(slab_geometry),
    KTEST_CASE(every_size_gets_the_smallest_class),
    KTEST_CASE(every_class_alloc_free),
    KTEST_CASE(natural_and_asked_alignment),
    KTEST_CASE(a_freed_object_comes_back_from_the_cache),
    KTEST_CASE(realloc_grows_and_shrinks),
    KTEST_CASE(calloc_zeroes_and_checks_overflow),
    KTEST_CASE(mid_sizes_share_a_block),
    KTEST_CASE(mid_sizes_realloc),
    KTEST_CASE(mid_header_underflow_is_reported),
    KTEST_CASE(mid_report_lets_the_lock_go),
    KTEST_CASE(misuse_is_reported),
    KTEST_CASE(a_trailer_that_says_no_class_is_still_checked),
    KTEST_CASE(user_words_that_look_like_tags),
    KTEST_CASE(forged_links_in_the_same_page),
    KTEST_CASE(the_inlined_fast_paths_do_all_or_nothing),
    KTEST_CASE(cache_stacks_stay_sound),
    {0},
};

static const struct ktest_suite heap_suite = {"heap", cases, boot, NULL};

const struct ktest_suite *const test_suites[] = {&heap_suite};
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
