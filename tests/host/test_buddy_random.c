// SPDX-License-Identifier: MIT
/*
 * Random sequences of every buddy operation (blocks of any order, constrained
 * blocks, ranges, re-tagging, drains, four harts taking turns on one thread)
 * on layouts with holes, with the invariants checked after every step:
 * - the checker walks the metadata, lists and caches and finds nothing;
 * - no frame is handed out twice (a shadow map of the test's own, and a
 *   signature written into each allocation and checked at its free);
 * - free + cached + owned by the test + reserved + early = total;
 * - an allocation fails only when no free block could serve it.
 * At the end everything is freed and the free lists must be exactly the
 * maximal blocks they were after the takeover.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define STEPS 20000
#define MAX_HELD 4096
#define HARTS 4

struct held {
	phys_addr_t pa;
	uint64_t nr;	    /* frames */
	unsigned int order; /* blocks; ranges: none */
	bool range;
	uint64_t sig;
};

static struct held held[MAX_HELD];
static size_t nr_held;
static uint64_t owned; /* frames the test holds */
static uint64_t total, rng, lowest, highest;
static struct memmap m;
static struct arena_block *initial;
static size_t nr_initial;
static unsigned int nr_allocs, nr_frees, nr_failed; /* so the log shows what was exercised */

static void take_over(struct ktest *t, uint64_t seed)
{
	struct buddy_stats s;

	KT_ASSERT_EQ(t, buddy_init(&m), 0);
	buddy_stats(&s);
	total = s.total;
	lowest = m.ram[0].base;
	highest = m.ram[m.nr_ram - 1].base + m.ram[m.nr_ram - 1].size;
	free(initial);
	nr_initial = arena_free_blocks(&initial);
	nr_held = 0;
	owned = 0;
	nr_allocs = nr_frees = nr_failed = 0;
	rng = seed;
}

static uint64_t pick(uint64_t n)
{
	return test_rand(&rng) % n;
}

static uint64_t *sig_at(phys_addr_t pa)
{
	return phys_to_virt(pa);
}

/* Records a fresh allocation after checking it is whole, where it was asked for, and nobody's. */
static void took(struct ktest *t, phys_addr_t pa, uint64_t nr, unsigned int order, bool range,
		 uint64_t align, phys_addr_t limit)
{
	struct frame_owner o;
	struct held *h = &held[nr_held++];

	KT_EXPECT_EQ(t, pa & (PAGE_SIZE - 1), 0);
	if (!range)
		KT_EXPECT_EQ(t, pa & ((PAGE_SIZE << order) - 1), 0);
	if (align)
		KT_EXPECT_EQ(t, pa & (align - 1), 0);
	if (limit != BUDDY_NO_LIMIT)
		KT_EXPECT_LE(t, pa + nr * PAGE_SIZE, limit);
	KT_EXPECT(t, arena_shadow_claim(pa, nr));
	KT_EXPECT_EQ(t, frame_owner(pa + (nr - 1) * PAGE_SIZE, &o), 0);
	KT_EXPECT_EQ(t, o.tag, FRAME_ALLOCATED);
	if (!range)
		KT_EXPECT_EQ(t, o.head, pa);
	*h = (struct held){ pa, nr, order, range, test_rand(&rng) };
	*sig_at(pa) = h->sig;
	*sig_at(pa + (nr - 1) * PAGE_SIZE + 8) = ~h->sig;
	owned += nr;
	nr_allocs++;
}

/* No free block of min_order or more that could have served the request is left. */
static void expect_truly_out(struct ktest *t, unsigned int min_order, phys_addr_t limit,
			     uint64_t align)
{
	struct arena_block *v;
	size_t n = arena_free_blocks(&v);
	uint64_t amask = align > PAGE_SIZE ? align - 1 : 0;

	struct buddy_stats s;

	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, 0); /* a failing allocation drains every cache first */
	for (size_t i = 0; i < n; i++) {
		phys_addr_t pa = ALIGN_UP(v[i].pa, amask + 1);
		phys_addr_t end = v[i].pa + (PAGE_SIZE << v[i].order);

		if (pa + (PAGE_SIZE << min_order) <= end &&
		    (limit == BUDDY_NO_LIMIT || pa + (PAGE_SIZE << min_order) <= limit))
			KT_EXPECT(t, !"a free block could have served the failed allocation");
	}
	free(v);
}

static uint64_t random_align(void)
{
	return pick(3) ? 0 : PAGE_SIZE << pick(BUDDY_MAX_ORDER + 3);
}

static phys_addr_t random_limit(void)
{
	switch (pick(4)) {
	case 0:
		return 0x100000000ULL;
	case 1:
		return lowest + pick(highest - lowest);
	default:
		return BUDDY_NO_LIMIT;
	}
}

static void op_alloc_block(struct ktest *t)
{
	unsigned int order = pick(4) ? pick(3) : pick(BUDDY_MAX_ORDER + 1);
	phys_addr_t pa;
	int rc = buddy_alloc(order, &pa);

	if (rc == 0)
		took(t, pa, 1ULL << order, order, false, 0, BUDDY_NO_LIMIT);
	else if (KT_EXPECT_EQ(t, rc, -ENOMEM) && ++nr_failed)
		expect_truly_out(t, order, BUDDY_NO_LIMIT, 0);
}

static void op_alloc_constrained(struct ktest *t)
{
	unsigned int order = pick(BUDDY_MAX_ORDER + 1) / (pick(2) + 1);
	uint64_t align = random_align();
	phys_addr_t limit = random_limit(), pa;
	unsigned int flags = pick(2) ? BUDDY_NOCACHE : 0;
	int rc = buddy_alloc_ex(order, align, limit, flags, &pa);

	if (rc == 0)
		took(t, pa, 1ULL << order, order, false, align, limit);
	else if (KT_EXPECT_EQ(t, rc, -ENOMEM) && ++nr_failed)
		expect_truly_out(t, order, limit, align);
}

static void op_alloc_range(struct ktest *t)
{
	uint64_t nr = 1 + (pick(4) ? pick(40) : pick(3ULL << BUDDY_MAX_ORDER));
	uint64_t align = pick(2) ? 0 : random_align();
	phys_addr_t limit = pick(2) ? BUDDY_NO_LIMIT : random_limit(), pa;
	int rc = buddy_alloc_range(nr, align, limit, &pa);

	if (rc == 0)
		took(t, pa, nr, 0, true, align, limit);
	else if (KT_EXPECT_EQ(t, rc, -ENOMEM))
		nr_failed++;
}

static void op_free(struct ktest *t, size_t i)
{
	struct held h = held[i];
	int rc;

	KT_EXPECT_EQ(t, *sig_at(h.pa), h.sig);
	KT_EXPECT_EQ(t, *sig_at(h.pa + (h.nr - 1) * PAGE_SIZE + 8), ~h.sig);
	KT_EXPECT(t, arena_shadow_release(h.pa, h.nr));
	held[i] = held[--nr_held];
	owned -= h.nr;
	if (h.range || pick(8) == 0)
		rc = buddy_free_range(h.pa, h.nr);
	else
		rc = buddy_free_ex(h.pa, h.order, pick(4) ? 0 : BUDDY_NOCACHE);
	KT_EXPECT_EQ(t, rc, 0);
	nr_frees++;
}

static void op_retag(struct ktest *t)
{
	struct held *h = &held[pick(nr_held)];
	unsigned int tag = FRAME_ALLOCATED + pick(FRAME_TAG_USER + 3 - FRAME_ALLOCATED);
	struct frame_owner o;

	if (h->range)
		return;
	KT_EXPECT_EQ(t, frame_set_owner(h->pa, h->order, tag, pick(0x10000), (uint32_t)h->sig), 0);
	KT_EXPECT_EQ(t, frame_owner(h->pa + (h->nr - 1) * PAGE_SIZE, &o), 0);
	KT_EXPECT_EQ(t, o.tag, tag);
	KT_EXPECT_EQ(t, o.aux, (uint32_t)h->sig);
}

static void check_invariants(struct ktest *t, size_t step)
{
	struct buddy_census c;
	struct buddy_stats s;
	uint64_t by_owner = 0;
	unsigned int problems = buddy_check(&c);

	for (unsigned int tag = FRAME_ALLOCATED; tag <= FRAME_TAG_USER; tag++)
		by_owner += c.frames[tag];
	buddy_stats(&s);
	if (!KT_EXPECT_EQ(t, problems, 0) ||
	    !KT_EXPECT_EQ(t, c.frames[FRAME_FREE] + c.frames[FRAME_CACHED] + owned +
				     c.frames[FRAME_RESERVED] + c.frames[FRAME_EARLY], total) ||
	    !KT_EXPECT_EQ(t, by_owner, owned) || !KT_EXPECT_EQ(t, s.free, c.frames[FRAME_FREE]) ||
	    !KT_EXPECT_EQ(t, s.cached, c.frames[FRAME_CACHED]) ||
	    !KT_EXPECT_EQ(t, s.allocated, owned))
		ktest_log(t, "after step %zu", step);
}

static void run(struct ktest *t, uint64_t seed)
{
	take_over(t, seed);
	for (size_t step = 0; step < STEPS && !t->failures; step++) {
		unsigned int what = pick(100);

		arena_set_hart(pick(HARTS));
		if (nr_held == MAX_HELD || (nr_held && what < 40))
			op_free(t, pick(nr_held));
		else if (what < 70)
			op_alloc_block(t);
		else if (what < 80)
			op_alloc_constrained(t);
		else if (what < 90)
			op_alloc_range(t);
		else if (what < 95 && nr_held)
			op_retag(t);
		else if (what < 97)
			buddy_drain_cache(pick(HARTS));
		else
			while (nr_held > 5)
				op_free(t, pick(nr_held));
		check_invariants(t, step);
	}
	while (nr_held)
		op_free(t, nr_held - 1);
	buddy_drain_caches();
	check_invariants(t, STEPS);

	struct arena_block *now;
	size_t n = arena_free_blocks(&now);
	KT_EXPECT(t, arena_blocks_equal(now, n, initial, nr_initial));
	free(now);
	arena_set_hart(0);
	ktest_log(t, "%u allocations, %u failed for want of memory, %u frees", nr_allocs, nr_failed,
		  nr_frees);
}

/* Three banks: one across 4 GiB, one above it starting off any block boundary. */
static void holes(struct ktest *t)
{
	static const struct mem_range ram[] = {
		{ 0x80000000ULL, 0x605000 },
		{ 0xfff00000ULL, 0x400000 },
		{ 0x300001000ULL, 0x280000 },
	};
	phys_addr_t pa;

	arena_machine(&m, ram, 3);
	bootmem_reserve(&m, 0x80000000ULL, 0x80000, RESV_RESERVED, "firmware");
	bootmem_reserve(&m, 0x80300800ULL, 0x3000, RESV_NOMAP, "nomap");
	bootmem_alloc(&m, 5 * PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa);
	bootmem_alloc(&m, PAGE_SIZE, 0, 0x100000000ULL, &pa);
	run(t, 0x9e3779b97f4a7c15ULL);
	/* the same machine again, another sequence */
	arena_machine(&m, ram, 3);
	bootmem_reserve(&m, 0x80000000ULL, 0x80000, RESV_RESERVED, "firmware");
	run(t, 42);
	arena_unmap();
}

/* One bank, neither end on a block boundary. */
static void one_odd_bank(struct ktest *t)
{
	static const struct mem_range ram[] = { { 0x80003000ULL, 0x7fa000 } };

	arena_machine(&m, ram, 1);
	run(t, 12345);
	arena_unmap();
}

/* So small that no largest block exists and allocations fail all the time. */
static void tiny(struct ktest *t)
{
	static const struct mem_range ram[] = {
		{ 0x80000000ULL, 0x100000 },
		{ 0x90000000ULL, 0x83000 },
	};

	arena_machine(&m, ram, 2);
	run(t, 777);
	arena_unmap();
}

static const struct ktest_case cases[] = {
	KTEST_CASE(holes),
	KTEST_CASE(one_odd_bank),
	KTEST_CASE(tiny),
	{ 0 },
};

static const struct ktest_suite random_suite = {
	.name = "buddy_random",
	.cases = cases,
};

const struct ktest_suite *const test_suites[] = { &random_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
