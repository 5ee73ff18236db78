// SPDX-License-Identifier: MIT
/*
 * The early heap: its fixed-size blocks and its coalescing fallback before
 * the switch, its frames' tags, and its blocks used and freed after the
 * switch to per-hart heaps.
 */
#include <kernel/ktest.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/phys.h>
#include <string.h>

#include "arena.h"
#include "heap_host.h"
#include "../common/heap_sweep.h"

#define NR_HARTS 2
#define RAM (32ULL << 20)
#define EARLY_SIZE (256ULL << 10)

static int boot(struct ktest *t)
{
	(void)t;
	heap_host_boot(RAM, EARLY_SIZE);
	return 0;
}

/* The boot map's record of the early heap: the early region of its size. */
static const struct resv_region *early_region(void)
{
	for (unsigned int i = 0; i < heap_host_map.nr_resv; i++) {
		const struct resv_region *r = &heap_host_map.resv[i];

		if (r->kind == RESV_EARLY && r->size == EARLY_SIZE)
			return r;
	}
	return NULL;
}

static void fixed_blocks_are_reused(struct ktest *t)
{
	struct heap_early_stats s0, s;
	void *v[600];
	unsigned int bad = 0;

	heap_early_stats(&s0);
	for (int round = 0; round < 3; round++) {
		for (unsigned int i = 0; i < 600; i++) { /* two pages of 8-byte blocks */
			v[i] = kmalloc(1 + i % 8);
			KT_ASSERT(t, v[i] != NULL);
			bad += !IS_ALIGNED((uintptr_t)v[i], 8) || ksize(v[i]) != 8;
			heap_host_fill(v[i], 8);
		}
		for (unsigned int i = 0; i < 600; i++) {
			bad += !heap_host_check(v[i], 8);
			kfree(v[i]);
		}
	}
	heap_early_stats(&s);
	KT_EXPECT_EQ(t, s.pages[0], s0.pages[0] + 2); /* the same two pages every round */
	KT_EXPECT_EQ(t, s.blocks, 0);
	for (unsigned int k = 0; k < 9; k++) { /* every fixed size is naturally aligned */
		void *p = kmalloc(8u << k);

		KT_ASSERT(t, p != NULL);
		bad += !IS_ALIGNED((uintptr_t)p, 8u << k) || ksize(p) != (8u << k);
		kfree(p);
	}
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
}

static void fallback_coalesces(struct ktest *t)
{
	struct heap_early_stats s0, s;
	void *a, *b, *c, *d, *all;

	heap_early_stats(&s0);
	a = kmalloc(10000);
	b = kmalloc(20000);
	c = kmalloc_aligned(30000, 4096);
	d = kmalloc_aligned(3000, 2048);
	KT_ASSERT(t, a && b && c && d);
	KT_EXPECT(t, IS_ALIGNED((uintptr_t)c, 4096) && IS_ALIGNED((uintptr_t)d, 2048));
	heap_host_fill(a, 10000);
	heap_host_fill(b, 20000);
	heap_host_fill(c, 30000);
	heap_host_fill(d, 3000);
	KT_EXPECT(t, heap_host_check(a, 10000) && heap_host_check(b, 20000) &&
			     heap_host_check(c, 30000) && heap_host_check(d, 3000));
	kfree(b);
	kfree(a); /* merges with b's chunk behind it */
	kfree(d);
	kfree(c); /* merges on both sides */
	heap_early_stats(&s);
	KT_EXPECT_EQ(t, s.blocks, 0);
	KT_EXPECT_EQ(t, s.free_bytes, s0.free_bytes);
	/* one chunk again: all of it fits one allocation */
	all = kmalloc(s.free_bytes - 16);
	KT_EXPECT(t, all != NULL);
	KT_EXPECT(t, kmalloc(16) == NULL); /* nothing left for a page of fixed blocks */
	kfree(all);
	KT_EXPECT(t, kmalloc(EARLY_SIZE) == NULL); /* more than there is */
	heap_early_stats(&s);
	KT_EXPECT_EQ(t, s.free_bytes, s0.free_bytes);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
}

static void early_misuse_is_reported(struct ktest *t)
{
	char *a = kmalloc(5000), *b = kmalloc(24);
	const void *last;
	int local;

	KT_ASSERT(t, a && b);
	kfree(a + 16);
	KT_EXPECT_EQ(t, heap_host_misuses(&last, NULL), 1);
	KT_EXPECT(t, last == a + 16);
	kfree(b + 8);
	KT_EXPECT_EQ(t, heap_host_misuses(&last, NULL), 1);
	KT_EXPECT(t, last == b + 8);
	kfree(&local);
	KT_EXPECT_EQ(t, heap_host_misuses(&last, NULL), 1);
	KT_EXPECT(t, last == &local);
	kfree(a);
	kfree(b);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	kfree(a);
	kfree(b);
	KT_EXPECT_EQ(t, heap_host_misuses(&last, NULL), 2);
	KT_EXPECT(t, last == b);
}

/* The early heap's mark on the block holding pa, or -1 for another owner. */
static int early_mark(phys_addr_t pa)
{
	struct frame_owner o;

	if (frame_owner(pa, &o) < 0 || o.tag != FRAME_EARLY)
		return -1;
	return o.aux == HEAP_EARLY_FRAME_MARK;
}

/*
 * Blocks of every kind made before the switch: after it, their frames say
 * they are the early heap's; they can be read, sized, moved by krealloc()
 * and freed, and a double free is still caught.
 */
static void blocks_freed_after_switch(struct ktest *t)
{
	static const size_t sizes[] = { 1, 8, 24, 100, 2048, 3000, 10000, 40000 };
	const struct resv_region *r = early_region();
	void *v[ARRAY_SIZE(sizes)], *aligned, *moved, *fresh;
	struct heap_early_stats s0, s;
	unsigned int bad = 0;
	const void *last;

	KT_ASSERT(t, r != NULL);
	heap_early_stats(&s0);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		v[i] = kmalloc(sizes[i]);
		KT_ASSERT(t, v[i] != NULL);
		heap_host_fill(v[i], sizes[i]);
		bad += early_mark(virt_to_phys(v[i])) != 0; /* the buddy is up, no mark yet */
	}
	aligned = kmalloc_aligned(600, 4096);
	moved = kmalloc(700);
	KT_ASSERT(t, aligned && moved);
	for (size_t i = 0; i < 700; i++)
		((unsigned char *)moved)[i] = (unsigned char)(i * 7 + 3);

	KT_ASSERT(t, heap_host_ready(t, NR_HARTS));
	/* every frame of the region is the early heap's, the guards around it reserved */
	for (phys_addr_t pa = r->base; pa < r->base + r->size; pa += PAGE_SIZE)
		bad += early_mark(pa) != 1;
	KT_EXPECT_EQ(t, frame_tag(r->base - PAGE_SIZE), FRAME_RESERVED);
	KT_EXPECT_EQ(t, frame_tag(r->base + r->size), FRAME_RESERVED);
	fresh = kmalloc(100);
	KT_ASSERT(t, fresh != NULL);
	KT_EXPECT_EQ(t, frame_tag(virt_to_phys(fresh)), FRAME_SLAB);
	kfree(fresh);

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		bad += ksize(v[i]) < sizes[i];
		bad += !heap_host_check(v[i], sizes[i]);
	}
	/* krealloc takes an early block over to the per-hart heaps, contents and all */
	void *n = krealloc(moved, 900);
	KT_ASSERT(t, n != NULL);
	KT_EXPECT_EQ(t, frame_tag(virt_to_phys(n)), FRAME_SLAB);
	for (size_t i = 0; i < 700; i++)
		bad += ((unsigned char *)n)[i] != (unsigned char)(i * 7 + 3);
	kfree(n);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		kfree(v[i]);
	kfree(aligned);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_early_stats(&s);
	KT_EXPECT_EQ(t, s.blocks, s0.blocks);
	KT_EXPECT_EQ(t, s.bytes, s0.bytes);
	fresh = kmalloc(8); /* no longer from the early heap, whose 8-byte blocks are free */
	KT_EXPECT_EQ(t, frame_tag(virt_to_phys(fresh)), FRAME_SLAB);
	kfree(fresh);
	kfree(v[3]);
	KT_EXPECT_EQ(t, heap_host_misuses(&last, NULL), 1);
	KT_EXPECT(t, last == v[3]);
	KT_EXPECT_EQ(t, bad, 0);
	heap_host_quiesce(NR_HARTS);
}

/* The guards keep the region's frames in blocks of their own, which the switch tags. */
static void adoption_needs_whole_blocks(struct ktest *t)
{
	static struct memmap m;
	const struct mem_range bank = { HEAP_HOST_RAM_BASE, RAM };
	const struct resv_region *r = early_region();
	struct frame_owner o;
	phys_addr_t pa;

	KT_ASSERT(t, r != NULL);
	KT_EXPECT_EQ(t, early_mark(r->base), 0);
	KT_EXPECT_EQ(t, heap_early_adopt(), 0);
	KT_EXPECT_EQ(t, early_mark(r->base), 1);
	KT_EXPECT_EQ(t, early_mark(r->base - 1), -1); /* the guard */
	KT_EXPECT_EQ(t, heap_early_adopt(), 0); /* once is enough, twice is harmless */
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);

	/*
	 * Without the guards: half of one boot allocation as the heap. The
	 * buddy makes the allocation one block, which cannot be tagged as the
	 * heap's without tagging the other half too: the switch refuses.
	 */
	arena_machine(&m, &bank, 1);
	KT_ASSERT_EQ(t, bootmem_alloc(&m, 64 << 10, 64 << 10, BOOTMEM_NO_LIMIT, &pa), 0);
	heap_reset();
	KT_ASSERT_EQ(t, heap_early_init(pa, 32 << 10), 0);
	KT_ASSERT_EQ(t, buddy_init(&m), 0);
	KT_ASSERT_EQ(t, frame_owner(pa, &o), 0);
	/* whatever the cut, the block holding pa holds the whole aligned allocation */
	KT_EXPECT(t, o.tag == FRAME_EARLY && o.head <= pa &&
			     o.head + (PAGE_SIZE << o.order) >= pa + (64 << 10));
	KT_EXPECT(t, heap_early_adopt() != 0);
	KT_EXPECT(t, heap_host_switch(NR_HARTS) != 0);
	KT_EXPECT_EQ(t, early_mark(pa), 0); /* nothing marked */
	void *p = kmalloc(16); /* still the early heap */
	KT_EXPECT(t, p != NULL && virt_to_phys(p) - pa < (32 << 10));
	kfree(p);
}

/*
 * Every size 0 .. 3 pages with every alignment the early heap serves (to a
 * page; beyond, NULL): once size 0 with a page's alignment came back as the
 * first byte of the next chunk, which ksize() then read as a 2 KiB block.
 */
static void every_size_with_every_alignment(struct ktest *t)
{
	struct heap_sweep r;
	struct heap_early_stats s;

	heap_sweep_aligned(4096, 4096, 1, &r);
	KT_EXPECT_GT(t, r.allocs, 13 * 12000);
	KT_EXPECT_EQ(t, r.failed, 0);
	KT_EXPECT_EQ(t, r.misaligned, 0);
	KT_EXPECT_EQ(t, r.short_size, 0);
	KT_EXPECT_EQ(t, r.clobbered, 0);
	KT_EXPECT(t, kmalloc_aligned(0, 8192) == NULL);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_early_stats(&s);
	KT_EXPECT_EQ(t, s.blocks, 0);
}

/*
 * Damage the early heap must report, not trust: an 8-byte overflow into the
 * next block's header (its size), and a write after free over a fixed
 * block's free-list link; the heap goes on working after each.
 */
static void damage_is_reported_not_trusted(struct ktest *t)
{
	struct heap_early_stats s0, s;
	uint8_t *a, *b, *c, *d;
	const char *what;
	const void *at;

	heap_early_stats(&s0);
	a = kmalloc(5000);
	b = kmalloc(5000);
	KT_ASSERT(t, a && b && b == a + ksize(a) + 16); /* first fit: b's header follows a */
	memset(a + ksize(a), 0xff, 8);			/* b's size */
	kfree(b);
	KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
	KT_EXPECT(t, at == b && strstr(what, "header overwritten"));
	memset(a + ksize(a), 0, 8);
	kfree(a);

	c = kmalloc(24);
	d = kmalloc(24);
	kfree(c);
	memset(c, 0x41, 16); /* c's link, the next free 32-byte block */
	KT_EXPECT(t, kmalloc(24) == c);
	KT_EXPECT_EQ(t, heap_host_misuses(&at, &what), 1);
	KT_EXPECT(t, at == c && strstr(what, "overwritten"));
	for (int i = 0; i < 200; i++) { /* the list was cut: fresh pages, no crash */
		uint8_t *e = kmalloc(24);

		KT_ASSERT(t, e && e != c && e != d);
		memset(e, 0x5a, 24);
		kfree(e);
	}
	kfree(c);
	kfree(d);
	heap_early_stats(&s);
	KT_EXPECT_EQ(t, s.blocks, s0.blocks + 1); /* b: reported, so never freed */
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
}

/*
 * The early heap is the bottom layer: setting it up again neither resets
 * the per-hart heaps above it nor takes their place; only heap_reset()
 * forgets the layers, the top first.
 */
static void early_init_resets_nothing_above_it(struct ktest *t)
{
	const struct resv_region *r = early_region();
	void *p;

	KT_ASSERT(t, r != NULL);
	KT_EXPECT_EQ(t, heap_early_init(r->base, r->size), -EBUSY);
	KT_ASSERT_EQ(t, heap_host_switch(NR_HARTS), 0);
	p = kmalloc(64);
	KT_ASSERT(t, p != NULL);
	KT_EXPECT_EQ(t, heap_early_init(r->base, r->size), -EBUSY);
	KT_EXPECT_EQ(t, frame_tag(virt_to_phys(p)), FRAME_SLAB); /* still the per-hart heap's */
	KT_EXPECT_EQ(t, ksize(p), 64);
	kfree(p);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_reset();
	KT_EXPECT(t, kmalloc(64) == NULL); /* nothing left to allocate from */
	KT_EXPECT_EQ(t, heap_early_init(r->base, r->size), 0);
	p = kmalloc(64);
	KT_EXPECT(t, p != NULL && (uintptr_t)p - (uintptr_t)phys_to_virt(r->base) < r->size);
	kfree(p);
}

static const struct ktest_case cases[] = {
	KTEST_CASE(fixed_blocks_are_reused),
	KTEST_CASE(every_size_with_every_alignment),
	KTEST_CASE(damage_is_reported_not_trusted),
	KTEST_CASE(fallback_coalesces),
	KTEST_CASE(early_misuse_is_reported),
	KTEST_CASE(blocks_freed_after_switch),
	KTEST_CASE(adoption_needs_whole_blocks),
	KTEST_CASE(early_init_resets_nothing_above_it),
	{ 0 },
};

static const struct ktest_suite heap_early_suite = { "heap_early", cases, boot, NULL };

const struct ktest_suite *const test_suites[] = { &heap_early_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
