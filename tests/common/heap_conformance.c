// SPDX-License-Identifier: MIT
/*
 * The heap conformance suite (heap_conformance.h): what kmalloc promises,
 * whichever strategy serves it. Every case starts from a settled heap and
 * must leave it as it found it: the same blocks live, the buddy's free
 * frames back at the start's count, nothing reported unless the case
 * misused the heap on purpose (then exactly one report per misuse).
 */
#include <kernel/errno.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/phys.h>
#include <string.h>

#include "../../mm/heap/heap_harden.h"
#include "heap_conformance.h"
#include "heap_stress.h"
#include "heap_sweep.h"

#define env (&heap_conf_env)

/* ---- helpers --------------------------------------------------------------------- */

/* Free frames count those the vmap took for its records as free: it keeps them for the next
 * mapping. */
struct baseline {
	uint64_t free_frames, blocks, misuses;
};

static struct baseline settled(void)
{
	struct heap_usage u;

	env->settle();
	heap_usage(&u);
	return (struct baseline){buddy_free_frames() + env->backend_frames(), u.blocks,
				 heap_misuses()};
}

/* Everything freed: the heap holds what it held at b, and nothing was reported since. */
static void expect_back_at(struct ktest *t, const struct baseline *b)
{
	struct baseline now = settled();

	KT_EXPECT_EQ(t, now.blocks, b->blocks);
	KT_EXPECT_EQ(t, now.free_frames, b->free_frames);
	KT_EXPECT_EQ(t, now.misuses, b->misuses);
}

static uint8_t pattern_byte(const void *origin, size_t i)
{
	uintptr_t a = (uintptr_t)origin + i;

	return (uint8_t)((a >> 3) * 0x9d ^ (a >> 11) ^ i);
}

static void fill(void *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		((uint8_t *)p)[i] = pattern_byte(p, i);
}

/* Whether p holds the pattern fill() wrote at origin, for n bytes. */
static bool holds(const void *p, const void *origin, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != pattern_byte(origin, i))
			return false;
	return true;
}

/* Sizes around every boundary any strategy has: classes, bins, levels, pages. */
static size_t boundary_size(unsigned int i)
{
	static const size_t odd[] = {24,    40,	   48,	       96,    100,   192,   320,  1000,
				     1500,  3000,  3072,       4040,  4041,  6000,  8136, 8137,
				     12288, 16320, 16384 - 64, 20000, 65472, 100000};

	if (i <= 72)
		return i; /* 0 .. 72: every small size */
	i -= 73;
	if (i < 3 * 14) /* 2^k - 1, 2^k, 2^k + 1 for k = 7 .. 20 */
		return ((size_t)1 << (7 + i / 3)) + i % 3 - 1;
	i -= 3 * 14;
	return i < ARRAY_SIZE(odd) ? odd[i] : 0;
}
#define NR_BOUNDARY_SIZES (73 + 3 * 14 + 22)

static void *blocks[NR_BOUNDARY_SIZES];

/* ---- cases ----------------------------------------------------------------------- */

/* Every size at once: aligned as promised, ksize at least the size, no two blocks overlapping. */
static void sizes_across_boundaries(struct ktest *t)
{
	struct baseline b = settled();
	unsigned int bad_align = 0, bad_size = 0, bad_data = 0, failed = 0;

	for (unsigned int i = 0; i < NR_BOUNDARY_SIZES; i++) {
		size_t size = boundary_size(i);

		blocks[i] = kmalloc(size);
		if (!blocks[i]) {
			failed++;
			continue;
		}
		bad_align += !IS_ALIGNED((uintptr_t)blocks[i], heap_promised_align(size));
		bad_size += ksize(blocks[i]) < size;
		fill(blocks[i], size);
	}
	for (unsigned int i = 0; i < NR_BOUNDARY_SIZES; i++) {
		if (blocks[i])
			bad_data += !holds(blocks[i], blocks[i], boundary_size(i));
		kfree(blocks[i]);
	}
	KT_EXPECT_EQ(t, failed, 0);
	KT_EXPECT_EQ(t, bad_align, 0);
	KT_EXPECT_EQ(t, bad_size, 0);
	KT_EXPECT_EQ(t, bad_data, 0);
	expect_back_at(t, &b);
}

/* kmalloc_aligned(): every power of two up to 1 MiB with small, odd and large sizes; anything else
 * refused. */
static void aligned(struct ktest *t)
{
	static const size_t sizes[] = {1, 24, 100, 1025, 4096, 5000, 70000};
	struct baseline b = settled();
	unsigned int bad = 0, failed = 0;

	for (unsigned int k = 0; k <= 20; k++)
		for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
			size_t align = (size_t)1 << k;
			void *p = kmalloc_aligned(sizes[i], align);

			if (!p) {
				failed++;
				continue;
			}
			bad += !IS_ALIGNED((uintptr_t)p, MAX(align, heap_promised_align(sizes[i])));
			bad += ksize(p) < sizes[i];
			fill(p, sizes[i]);
			bad += !holds(p, p, sizes[i]);
			kfree(p);
		}
	KT_EXPECT_EQ(t, failed, 0);
	KT_EXPECT_EQ(t, bad, 0);
	KT_EXPECT(t, kmalloc_aligned(64, 24) == NULL);
	KT_EXPECT(t, kmalloc_aligned(64, 3) == NULL);
	expect_back_at(t, &b);
}

/*
 * Every size 0 .. 3 pages with every alignment 1 .. 1 MiB: once size 0 with
 * a page's alignment came back as the first byte of the next chunk.
 */
static void every_size_with_every_alignment(struct ktest *t)
{
	struct baseline b = settled();
	struct heap_sweep r;

	heap_sweep_aligned((size_t)1 << 20, SIZE_MAX, env->sweep_stride ? env->sweep_stride : 1, &r);
	KT_EXPECT_GT(t, r.allocs, 21 * (HEAP_SWEEP_EVERY + 150));
	KT_EXPECT_EQ(t, r.failed, 0);
	KT_EXPECT_EQ(t, r.misaligned, 0);
	KT_EXPECT_EQ(t, r.short_size, 0);
	KT_EXPECT_EQ(t, r.clobbered, 0);
	expect_back_at(t, &b);
}

/* kzalloc/kcalloc zero what a previous user dirtied; impossible sizes are NULL with nothing taken.
 */
static void zeroing_and_impossible_sizes(struct ktest *t)
{
	static const size_t sizes[] = {8, 72, 640, 2048, 5000, 40000};
	struct baseline b = settled();
	unsigned int dirty = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (int round = 0; round < 2; round++) {
			uint8_t *p = round ? kcalloc(sizes[i] / 8, 8) : kzalloc(sizes[i]);

			KT_ASSERT(t, p != NULL);
			for (size_t j = 0; j < sizes[i]; j++)
				dirty += p[j] != 0;
			memset(p, 0xa5, sizes[i]);
			kfree(p);
		}
	}
	KT_EXPECT_EQ(t, dirty, 0);
	KT_EXPECT(t, kcalloc(SIZE_MAX / 2, 3) == NULL);
	KT_EXPECT(t, kcalloc(3, SIZE_MAX / 2) == NULL);
	KT_EXPECT(t, kmalloc(SIZE_MAX) == NULL);
	KT_EXPECT(t, kmalloc(SIZE_MAX / 2) == NULL);
	KT_EXPECT(t, kmalloc_aligned(SIZE_MAX - 4095, 4096) == NULL);
	KT_EXPECT(t, kzalloc(SIZE_MAX - 7) == NULL);
	for (unsigned int k = 40; k < 64; k++) /* alignments no window has room for */
		KT_EXPECT(t, kmalloc_aligned(8, (size_t)1 << k) == NULL);
	expect_back_at(t, &b);
}

/*
 * Beyond 2 GiB: the large path once listed a request's frames in one buddy
 * block (4 MiB: 2 GiB of frames) and refused more (sort asks for 6.5 GB),
 * whatever memory there was. Written at its ends through the mapping.
 */
static void beyond_2_gib(struct ktest *t)
{
	const size_t size = (2UL << 30) + PAGE_SIZE;
	struct baseline b = settled();
	uint8_t *p;

	if (!env->big)
		KT_SKIP(t, "not asked for (2 GiB of mappings are slow under TCG)");
	if (buddy_free_frames() < (size + (64UL << 20)) / PAGE_SIZE)
		KT_SKIP(t, "less than 2 GiB of RAM free");
	p = kmalloc(size);
	KT_ASSERT(t, p != NULL);
	KT_EXPECT(t, IS_ALIGNED((uintptr_t)p, PAGE_SIZE));
	KT_EXPECT_GE(t, ksize(p), size);
	p[0] = 0x5a;
	p[size - 1] = 0xa5;
	KT_EXPECT(t, p[0] == 0x5a && p[size - 1] == 0xa5);
	kfree(p);
	expect_back_at(t, &b);
}

/* krealloc() keeps the contents through growth and shrinking across every kind of block. */
static void realloc_keeps_contents(struct ktest *t)
{
	struct baseline b = settled();
	uint8_t *p = krealloc(NULL, 1), *origin;
	size_t size = 1, next;
	unsigned int bad = 0;

	KT_ASSERT(t, p != NULL);
	fill(p, size);
	origin = p;
	/* growing by 3/2 and shrinking by 2/3 crosses every class, bin and page count */
	for (int dir = 0; dir < 2; dir++) {
		for (;;) {
			next = dir ? size * 2 / 3 : size * 3 / 2 + 1;
			if (dir ? next < 1 : next > (300u << 10))
				break;
			uint8_t *n = krealloc(p, next);

			KT_ASSERT(t, n != NULL);
			bad += !holds(n, origin, MIN(size, next));
			bad += !IS_ALIGNED((uintptr_t)n, heap_promised_align(next));
			/* the bytes past the kept ones: ours, written as if fill() had written them
			 * at origin */
			for (size_t i = MIN(size, next); i < next; i++)
				n[i] = pattern_byte(origin, i);
			bad += ksize(n) < next;
			p = n;
			size = next;
		}
	}
	KT_EXPECT_EQ(t, bad, 0);
	/* a size that cannot be met: NULL, and the block untouched */
	KT_EXPECT(t, krealloc(p, SIZE_MAX / 2) == NULL);
	KT_EXPECT(t, holds(p, origin, size));
	KT_EXPECT(t, krealloc(p, 0) == NULL); /* frees it */
	expect_back_at(t, &b);
}

static unsigned int reports;
static const char *last_report;

static void record(const char *what, const void *p)
{
	(void)p;
	reports++;
	last_report = what;
}

/* One misuse: exactly one report, with a message, and nothing else changed. */
static void expect_one_report(struct ktest *t, const char *what)
{
	if (!KT_EXPECT_EQ(t, reports, 1))
		ktest_log(t, "%s: %u reports", what, reports);
	else if (!KT_EXPECT(t, last_report && last_report[0]))
		ktest_log(t, "%s: an empty message", what);
	reports = 0;
}

/* A double free, a block's middle, a page the heap never handed out, ksize/krealloc of a freed
 * block. */
static void misuse_is_reported(struct ktest *t)
{
	static const size_t sizes[] = {16, 200, 1024, 3000, 100000};
	heap_misuse_fn old;
	struct baseline b = settled();
	phys_addr_t foreign_pa;
	struct heap_usage u0, u1;

	KT_ASSERT_EQ(t, buddy_alloc(0, &foreign_pa), 0);
	old = heap_set_misuse_handler(record);
	reports = 0;
	heap_usage(&u0);
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint8_t *p = kmalloc(sizes[i]), *live = kmalloc(sizes[i]);

		KT_ASSERT(t, p && live);
		kfree(live + (sizes[i] >= 128 ? 64 : 8));
		expect_one_report(t, "free of a block's middle");
		kfree(p);
		kfree(p);
		expect_one_report(t, "double free");
		KT_EXPECT_EQ(t, ksize(p), 0);
		expect_one_report(t, "ksize of a freed block");
		KT_EXPECT(t, krealloc(p, sizes[i] * 2) == NULL);
		expect_one_report(t, "krealloc of a freed block");
		KT_EXPECT_GE(t, ksize(live), sizes[i]); /* the live block is still whole */
		kfree(live);
	}
	kfree(phys_to_virt(foreign_pa));
	expect_one_report(t, "free of a page the heap never handed out");
	heap_usage(&u1);
	KT_EXPECT_EQ(t, u1.blocks, u0.blocks);
	heap_set_misuse_handler(old);
	buddy_free(foreign_pa, 0);
	b.misuses = heap_misuses(); /* the ones made on purpose */
	expect_back_at(t, &b);
}

/* Allocates blocks of size until NULL (at most max), chained through their first word. */
static void *hoard(size_t size, unsigned long max, void *chain, unsigned long *n)
{
	void *p;

	while (*n < max && (p = kmalloc(size))) {
		*(void **)p = chain;
		chain = p;
		(*n)++;
	}
	return chain;
}

/* Frees a chain hoard() made. */
static void unhoard(void *chain)
{
	while (chain) {
		void *next = *(void **)chain;

		kfree(chain);
		chain = next;
	}
}

/* Memory runs out: NULL, never a hang or a crash; all of it back afterwards, and usable again. */
static void exhaustion_and_recovery(struct ktest *t)
{
	static const size_t sizes[] = {1 << 20, 64 << 10, 4096, 1000, 64, 8};
	struct baseline b;
	void *chain = NULL;
	unsigned long n = 0;

	if (env->no_exhaust)
		KT_SKIP(t, "%s", env->no_exhaust);
	b = settled();
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++)
		chain = hoard(sizes[i], ~0UL, chain, &n);
	KT_EXPECT(t, kmalloc(8) == NULL);
	KT_EXPECT(t, kzalloc(64) == NULL);
	KT_EXPECT(t, kmalloc(2 << 20) == NULL);
	ktest_log(t, "%lu blocks until memory ran out", n);
	unhoard(chain);
	expect_back_at(t, &b);
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		void *p = kmalloc(sizes[i]);

		KT_EXPECT(t, p != NULL);
		kfree(p);
	}
	expect_back_at(t, &b);
}

/*
 * Memory all given to small blocks, then all freed: a large block can be
 * had at once, without anyone trimming the heap first (a strategy that
 * keeps what it freed gives it back before an allocation fails). The
 * rest of memory is held in 1 MiB blocks meanwhile, so that only 4 MiB
 * are cut into small blocks (all of a large machine would take minutes
 * under TCG).
 */
static void small_then_large(struct ktest *t)
{
	struct baseline b;
	void *big, *small, *p;
	unsigned long n = 0, nbig = 0;

	if (env->no_exhaust)
		KT_SKIP(t, "%s", env->no_exhaust);
	b = settled();
	big = hoard(1 << 20, ~0UL, NULL, &nbig);
	for (int i = 0; i < 4 && big; i++) {
		void *next = *(void **)big;

		kfree(big);
		big = next;
	}
	small = hoard(24, ~0UL, NULL, &n);
	KT_EXPECT(t, kmalloc(24) == NULL);
	unhoard(small);
	p = kmalloc(1 << 20);
	KT_EXPECT(t, p != NULL);
	kfree(p);
	p = kmalloc(3000);
	KT_EXPECT(t, p != NULL);
	kfree(p);
	unhoard(big);
	ktest_log(t, "%lu blocks of 24 bytes in the last 4 MiB", n);
	expect_back_at(t, &b);
}

#define CROSS_BLOCKS 200

struct cross {
	void *p[CROSS_BLOCKS];
	unsigned int bad;
};

static size_t cross_size(unsigned int i)
{
	return 1 + (i * 37) % 3000 + (i % 50 == 0 ? 20000 : 0);
}

static void cross_alloc(void *arg)
{
	struct cross *c = arg;

	for (unsigned int i = 0; i < CROSS_BLOCKS; i++) {
		c->p[i] = kmalloc(cross_size(i));
		if (c->p[i])
			fill(c->p[i], cross_size(i));
	}
}

static void cross_free(void *arg)
{
	struct cross *c = arg;

	for (unsigned int i = 0; i < CROSS_BLOCKS; i++) {
		c->bad += !c->p[i] || !holds(c->p[i], c->p[i], cross_size(i));
		kfree(c->p[i]);
	}
}

/* Blocks allocated on one hart and freed on another, both ways, then used again. */
static void cross_hart_frees(struct ktest *t)
{
	static struct cross c;
	struct baseline b;

	if (env->nr_harts < 2)
		KT_SKIP(t, "one hart: no other hart to free on");
	b = settled();
	for (int round = 0; round < 3; round++) {
		memset(&c, 0, sizeof(c));
		cross_alloc(&c);
		env->on_other_hart(1 + round % (env->nr_harts - 1), cross_free, &c);
		KT_EXPECT_EQ(t, c.bad, 0);
		memset(&c, 0, sizeof(c));
		env->on_other_hart(1 + round % (env->nr_harts - 1), cross_alloc, &c);
		cross_free(&c);
		KT_EXPECT_EQ(t, c.bad, 0);
	}
	expect_back_at(t, &b);
}

static void free_all_on(void *arg)
{
	struct cross *c = arg;

	for (unsigned int i = 0; i < CROSS_BLOCKS; i++)
		kfree(c->p[i]);
}

/*
 * Blocks freed on another hart, then handed out again untouched (whatever
 * the heap left in them is the new user's data) and freed on another hart
 * again: plain frees, never a report (a queued free's mark left in a
 * block would make the second free look like a double free).
 */
static void untouched_blocks_freed_on_other_harts(struct ktest *t)
{
	static struct cross c;
	heap_misuse_fn old;
	struct baseline b;

	if (env->nr_harts < 2)
		KT_SKIP(t, "one hart: no other hart to free on");
	b = settled();
	old = heap_set_misuse_handler(record);
	reports = 0;
	for (int round = 0; round < 4; round++) {
		for (unsigned int i = 0; i < CROSS_BLOCKS; i++)
			c.p[i] = kmalloc(48);
		env->on_other_hart(1, free_all_on, &c);
	}
	heap_set_misuse_handler(old);
	if (!KT_EXPECT_EQ(t, reports, 0))
		ktest_log(t, "reported: %s", last_report);
	reports = 0;
	expect_back_at(t, &b);
}

static struct heap_stress_worker workers[64];

static void stress_on(unsigned int hart, void *arg)
{
	struct heap_stress_worker *w = &workers[hart];

	(void)arg;
	for (unsigned long i = 0; i < env->stress_ops; i++)
		heap_stress_step(w);
	heap_stress_release_all(w);
}

/* The random content-checking stress on every hart at once, a share freed by other harts. */
static void stress_all_harts(struct ktest *t)
{
	unsigned int n = MIN(env->nr_harts, (unsigned int)ARRAY_SIZE(workers));
	unsigned long allocs, frees, errors, failed = 0;
	struct baseline b = settled();

	heap_stress_reset();
	for (unsigned int i = 0; i < n; i++)
		heap_stress_worker_init(&workers[i], 77 + i);
	env->on_all_harts(stress_on, NULL);
	heap_stress_finish(workers, n, &allocs, &frees, &errors);
	for (unsigned int i = 0; i < n; i++)
		failed += workers[i].failed;
	ktest_log(t, "%u harts, %lu allocations, %lu taken from another hart", n, allocs,
		  workers[0].taken + (n > 1 ? workers[1].taken : 0));
	KT_EXPECT_GE(t, allocs, env->stress_ops / 4 * n);
	KT_EXPECT_EQ(t, allocs, frees);
	KT_EXPECT_EQ(t, errors, 0);
	KT_EXPECT_EQ(t, failed, 0);
	expect_back_at(t, &b);
}

/* heap_usage() counts blocks and bytes as they come and go, and names the strategy. */
static void usage_counts(struct ktest *t)
{
	struct baseline b = settled();
	struct heap_usage u0, u1;
	void *p[100];

	heap_usage(&u0);
	ktest_log(t, "strategy: %s", heap_strategy());
	KT_EXPECT(t, u0.strategy && strcmp(u0.strategy, heap_strategy()) == 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(p); i++)
		p[i] = kmalloc(100);
	heap_usage(&u1);
	KT_EXPECT_EQ(t, u1.blocks - u0.blocks, ARRAY_SIZE(p));
	KT_EXPECT_GE(t, u1.bytes - u0.bytes, ARRAY_SIZE(p) * 100);
	KT_EXPECT_GE(t, u1.frames * PAGE_SIZE, u1.bytes);
	for (unsigned int i = 0; i < ARRAY_SIZE(p); i++)
		kfree(p[i]);
	heap_usage(&u1);
	KT_EXPECT_EQ(t, u1.blocks, u0.blocks);
	KT_EXPECT_EQ(t, u1.bytes, u0.bytes);
	expect_back_at(t, &b);
}

/*
 * A write after free over a freed block's first 16 bytes (where a heap
 * keeps its free-list links), then allocations of the same size: never a
 * crash, a block handed out twice or one overlapping another; at most one
 * report (the damage, where the heap keeps links in free blocks), exactly
 * one with the debug tier (when the block leaves the quarantine, which is
 * flushed here: the damage must be found while the test listens).
 */
static void write_after_free_never_crashes(struct ktest *t)
{
	/* small: the block's page stays the heap's (a page given back may be unmapped) */
	static const size_t sizes[] = {16, 64, 200, 1000};
	heap_misuse_fn old = heap_set_misuse_handler(record);
	unsigned int bad = 0, failed = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint8_t *live[8], *again[24];
		size_t n;

		reports = 0;
		for (unsigned int j = 0; j < ARRAY_SIZE(live); j++)
			live[j] = kmalloc(sizes[i]);
		n = ksize(live[3]);
		kfree(live[3]);
		memset(live[3], 0x41, MIN(n, (size_t)16)); /* the bug under test */
		for (unsigned int j = 0; j < ARRAY_SIZE(again); j++) {
			again[j] = kmalloc(sizes[i]);
			if (!again[j]) {
				failed++;
				continue;
			}
			fill(again[j], sizes[i]);
		}
		for (unsigned int j = 0; j < ARRAY_SIZE(live); j++)
			if (j != 3 && live[j])
				fill(live[j], sizes[i]);
		for (unsigned int j = 0; j < ARRAY_SIZE(again); j++)
			if (again[j])
				bad += !holds(again[j], again[j], sizes[i]);
		for (unsigned int j = 0; j < ARRAY_SIZE(live); j++)
			if (j != 3 && live[j])
				bad += !holds(live[j], live[j], sizes[i]);
		heap_quarantine_flush();
		if (HEAP_HARDEN == HEAP_HARDEN_DEBUG)
			KT_EXPECT_EQ(t, reports, 1);
		KT_EXPECT_LE(t, reports, 1);
		if (reports)
			ktest_log(t, "%zu bytes: reported: %s", sizes[i], last_report);
		for (unsigned int j = 0; j < ARRAY_SIZE(again); j++)
			kfree(again[j]);
		for (unsigned int j = 0; j < ARRAY_SIZE(live); j++)
			if (j != 3)
				kfree(live[j]);
	}
	heap_set_misuse_handler(old);
	reports = 0;
	KT_EXPECT_EQ(t, failed, 0);
	KT_EXPECT_EQ(t, bad, 0);
}

/*
 * An 8-byte overflow past a block's usable end, into what lies between it
 * and the live block behind it (a header, where the strategy keeps one),
 * then every block freed and as many allocated again: never a crash, at
 * most one report (the damage, where there is a header to find it in);
 * exactly one with the debug tier (the redzone, at the block's free).
 */
static void overflow_into_the_next_header(struct ktest *t)
{
	static const size_t sizes[] = {24, 100, 1000, 3000, 10000};
	heap_misuse_fn old = heap_set_misuse_handler(record);
	unsigned int tried = 0, bad = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint8_t *v[16], *victim = NULL, *next = NULL;

		reports = 0;
		for (unsigned int j = 0; j < ARRAY_SIZE(v); j++)
			v[j] = kmalloc(sizes[i]);
		/* a block with a live one right behind it: the 8 bytes land in heap memory */
		for (unsigned int j = 0; j < ARRAY_SIZE(v) && !victim; j++)
			for (unsigned int k = 0; k < ARRAY_SIZE(v); k++)
				if (v[j] && v[k] && v[k] >= v[j] + ksize(v[j]) + 8 &&
				    v[k] <= v[j] + ksize(v[j]) + 128) {
					victim = v[j];
					next = v[k];
				}
		if (victim) {
			tried++;
			memset(victim + ksize(victim), 0xa5, 8); /* the bug under test */
			fill(next, sizes[i]);
		}
		for (unsigned int j = 0; j < ARRAY_SIZE(v); j++)
			kfree(v[j]);
		for (unsigned int j = 0; j < ARRAY_SIZE(v); j++) {
			v[j] = kmalloc(sizes[i]);
			if (v[j])
				fill(v[j], sizes[i]);
		}
		for (unsigned int j = 0; j < ARRAY_SIZE(v); j++) {
			bad += !v[j] || !holds(v[j], v[j], sizes[i]);
			kfree(v[j]);
		}
		heap_quarantine_flush();
		if (HEAP_HARDEN == HEAP_HARDEN_DEBUG && victim)
			KT_EXPECT_EQ(t, reports, 1);
		KT_EXPECT_LE(t, reports, 1);
		if (reports)
			ktest_log(t, "%zu bytes: reported: %s", sizes[i], last_report);
	}
	heap_set_misuse_handler(old);
	reports = 0;
	if (!tried)
		ktest_log(t, "no block had a live neighbour right behind it");
	KT_EXPECT_EQ(t, bad, 0);
}

static int prepare(struct ktest *t)
{
	return env->prepare ? env->prepare(t) : 0;
}

static const struct ktest_case cases[] = {
    KTEST_CASE(usage_counts),
    KTEST_CASE(sizes_across_boundaries),
    KTEST_CASE(aligned),
    KTEST_CASE(every_size_with_every_alignment),
    KTEST_CASE(zeroing_and_impossible_sizes),
    KTEST_CASE(beyond_2_gib),
    KTEST_CASE(realloc_keeps_contents),
    KTEST_CASE(misuse_is_reported),
    KTEST_CASE(write_after_free_never_crashes),
    KTEST_CASE(overflow_into_the_next_header),
    KTEST_CASE(cross_hart_frees),
    KTEST_CASE(untouched_blocks_freed_on_other_harts),
    KTEST_CASE(stress_all_harts),
    KTEST_CASE(exhaustion_and_recovery),
    KTEST_CASE(small_then_large),
    {0},
};

const struct ktest_suite heap_conformance_suite = {"heap_conformance", cases, prepare, NULL};
