// SPDX-License-Identifier: MIT
/*
 * The misuse suite of a hardening tier (mm/heap/heap_harden.h), linked once per
 * strategy and tier (build/host/test_heap_misuse_<strategy>_<tier>): every
 * misuse the tiers know of, each on a freshly booted machine, once after
 * the switch (the strategy) and once before it (the early heap). A case
 * the tier promises to catch must be reported exactly once, naming the
 * right object (and in the debug tier, with the size and both call sites
 * in the message); a case it does not promise is skipped with the reason,
 * unless it is safe to run anyway (a write after free: no tier may crash).
 */
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/phys.h>
#include <stdio.h>
#include <string.h>

#include "../../../mm/heap/heap_harden.h"
#include "../arena.h"
#include "../heap_host.h"

#define HARTS 2
#define DEBUG (HEAP_HARDEN == HEAP_HARDEN_DEBUG)

static bool early; /* the suite running: on the early heap, before the switch */

static int boot(struct ktest *t)
{
	heap_host_boot(64ULL << 20, 512 << 10);
	if (early)
		return 0;
	return KT_EXPECT_EQ(t, heap_host_switch(HARTS), 0) ? 0 : -1;
}

/* Whose memory the objects are: the early heap's block allocator, or a strategy's. */
static bool is(const char *strategy)
{
	return !early && !strcmp(heap_strategy(), strategy);
}

static bool block_allocator(void)
{
	return early || is("block");
}

/* Whether the message's "NAME 0x..." is an address inside the function at fn (a call site). */
static bool site_in(const char *msg, const char *name, const void *fn)
{
	const char *s = strstr(msg, name);
	unsigned long long a;

	if (!s || sscanf(s + strlen(name), " %llx", &a) != 1)
		return false;
	return a > (uintptr_t)fn && a < (uintptr_t)fn + 4096;
}

/*
 * Exactly one report since the last look, naming p; in the debug tier its
 * message also gives the size, the allocation site and (with freed) the
 * free site, both in the case's function fn.
 */
static void expect_report(struct ktest *t, const void *p, size_t size, const void *fn, bool freed)
{
	const void *at;
	const char *what;
	unsigned int n = heap_host_misuses(&at, &what);
	char sz[32];

	if (!KT_EXPECT_EQ(t, n, 1))
		return;
	ktest_log(t, "reported: %s", what);
	KT_EXPECT(t, at == p);
	if (!DEBUG || !size)
		return;
	snprintf(sz, sizeof(sz), "(size %zu)", size);
	KT_EXPECT(t, strstr(what, sz) != NULL);
	KT_EXPECT(t, site_in(what, "allocated at", fn));
	if (freed)
		KT_EXPECT(t, site_in(what, "freed at", fn));
}

static void expect_none(struct ktest *t)
{
	const char *what;

	if (!KT_EXPECT_EQ(t, heap_host_misuses(NULL, &what), 0))
		ktest_log(t, "reported: %s", what);
}

/* ---- writes out of bounds ------------------------------------------------------------ */

static void overflow_at_ksize(struct ktest *t)
{
	uint8_t *p;

	if (!DEBUG)
		KT_SKIP(t,
			"not promised in the %s tier: no redzone, p[ksize(p)] is another block's",
			HEAP_HARDEN_NAME);
	p = kmalloc(100);
	KT_ASSERT(t, p != NULL);
	p[ksize(p)] = 0x55; /* the bug under test */
	expect_none(t);
	kfree(p);
	expect_report(t, p, 100, (void *)overflow_at_ksize, true);
	heap_quarantine_flush();
	expect_none(t);
}

static void write_before(struct ktest *t)
{
	uint8_t *p;

	if (!DEBUG)
		KT_SKIP(t,
			"not promised in the %s tier: no redzone, p[-1] is a header's or another "
			"block's",
			HEAP_HARDEN_NAME);
	p = kmalloc(48);
	KT_ASSERT(t, p != NULL);
	p[-3] = 0x55; /* the bug under test */
	kfree(p);
	expect_report(t, p, 48, (void *)write_before, true);
	heap_quarantine_flush();
	expect_none(t);
}

/*
 * 8 bytes past the usable end of a block with a live block right behind
 * it: into that block's header, where the heap keeps one. The default and
 * off tiers catch it where there is a header with a check (segregated
 * fit's, the block allocator's beyond 2 KiB), at the neighbour's free;
 * the debug tier catches it in every heap, in the redzone, at the
 * overflowing object's free.
 */
static void overflow_into_neighbour(struct ktest *t)
{
	size_t size = block_allocator() ? 3000 : 1000;
	uint8_t *v[16], *victim = NULL, *next = NULL;

	if (!DEBUG && !is("segregated fit") && !block_allocator())
		KT_SKIP(
		    t,
		    "not promised in the %s tier: %s has no headers, the neighbour's data is hit",
		    HEAP_HARDEN_NAME, heap_strategy());
	for (unsigned int j = 0; j < ARRAY_SIZE(v); j++) {
		v[j] = kmalloc(size);
		KT_ASSERT(t, v[j] != NULL);
	}
	/* a block with a live one right behind it (the debug tier: the redzone is in between) */
	for (unsigned int j = 0; j < ARRAY_SIZE(v) && !victim; j++)
		for (unsigned int k = 0; k < ARRAY_SIZE(v); k++)
			if (v[k] > v[j] + ksize(v[j]) &&
			    (DEBUG || v[k] <= v[j] + ksize(v[j]) + 128)) {
				victim = v[j];
				next = v[k];
			}
	KT_ASSERT(t, victim != NULL);
	memset(victim + ksize(victim), 0xa5, 8); /* the bug under test */
	kfree(next);
	if (DEBUG) {
		expect_none(t);
		kfree(victim);
		expect_report(t, victim, size, (void *)overflow_into_neighbour, true);
	} else {
		expect_report(t, next, 0, NULL, false); /* the header overwritten is next's */
		kfree(victim);
		expect_none(t);
	}
	for (unsigned int j = 0; j < ARRAY_SIZE(v); j++)
		if (v[j] != victim && v[j] != next)
			kfree(v[j]);
	heap_quarantine_flush();
	expect_none(t);
}

/*
 * An overflow from a live object across its redzone into the header of a
 * freed neighbour waiting in the debug tier's quarantine (the header's
 * link comes first): found when the quarantine reaches that header,
 * reported once naming the neighbour, never followed (a wild link).
 */
static void overflow_into_a_quarantined_header(struct ktest *t)
{
	uint8_t *v[16], *victim = NULL, *next = NULL;

	if (!DEBUG)
		KT_SKIP(t,
			"the %s tier keeps no quarantine (overflow_into_neighbour covers the rest)",
			HEAP_HARDEN_NAME);
	for (unsigned int j = 0; j < ARRAY_SIZE(v); j++) {
		v[j] = kmalloc(100);
		KT_ASSERT(t, v[j] != NULL);
	}
	/* a block with the next one's header within 128 bytes of its end */
	for (unsigned int j = 0; j < ARRAY_SIZE(v) && !victim; j++)
		for (unsigned int k = 0; k < ARRAY_SIZE(v); k++)
			if (v[k] > v[j] + 100 + 64 && v[k] <= v[j] + 100 + 64 + 128) {
				victim = v[j];
				next = v[k];
			}
	KT_ASSERT(t, victim != NULL);
	kfree(next);
	expect_none(t);
	memset(victim + 100, 0x41, (size_t)(next - 56 - (victim + 100))); /* the bug under test */
	heap_quarantine_flush();
	expect_report(t, next, 0, NULL, false);
	kfree(victim); /* its own redzone says so too */
	expect_report(t, victim, 100, (void *)overflow_into_a_quarantined_header, true);
	for (unsigned int j = 0; j < ARRAY_SIZE(v); j++)
		if (v[j] != victim && v[j] != next)
			kfree(v[j]);
	heap_quarantine_flush();
	expect_none(t);
}

/* ---- after free ---------------------------------------------------------------------- */

/*
 * 8 bytes past the last object of a slab page, into the metadata behind it:
 * the per-hart heap's trailer (its canary stands before the bitmaps), or
 * slab + pages' next slab's header (its canary stands before the list
 * links). Every tier looks at the canary before that metadata is trusted
 * again (here: the page's other object allocated again, or a free into
 * the next slab) and reports the overflow, naming the overflowing object;
 * the debug tier reports it at that object's free, from its redzone.
 * The canary is what a longer overflow hits first too, on its way to the
 * per-hart bitmaps (a live object said free, handed out twice) or slab +
 * pages' list links (a list walk sent astray).
 */
static void overflow_past_a_slab_page(struct ktest *t)
{
	uint8_t *v[64], *a, *b = NULL, *again;

	if (!is("per-hart slab") && !is("slab + pages"))
		KT_SKIP(t, "not this heap's: %s keeps no metadata behind its slab pages",
			early ? "the early heap" : heap_strategy());
	if (DEBUG) {
		a = kmalloc(1000);
		KT_ASSERT(t, a != NULL);
		memset(a + ksize(a), 0x5a, 8); /* the bug under test */
		kfree(a);
		expect_report(t, a, 1000, (void *)overflow_past_a_slab_page, true);
		heap_quarantine_flush();
		expect_none(t);
		return;
	}
	if (is("slab + pages")) {
		if (HEAP_HARDEN == HEAP_HARDEN_OFF)
			KT_SKIP(t, "not promised in the off tier: slab + pages' check costs ~22 "
				   "instructions a pair");
		/* 16 KiB slabs of 15 1024-byte objects: one whose next block is a slab of ours */
		for (unsigned int i = 0; i < ARRAY_SIZE(v); i++)
			KT_ASSERT(t, (v[i] = kmalloc(1000)) != NULL);
		a = NULL;
		for (unsigned int i = 0; i < ARRAY_SIZE(v) && !b; i++)
			for (unsigned int j = 0; j < ARRAY_SIZE(v) && !b; j++)
				if (!((uintptr_t)(v[i] + 1024) & 16383) && v[j] > v[i] &&
				    v[j] < v[i] + 1024 + 16384)
					a = v[i], b = v[j];
		KT_ASSERT(t, b != NULL);
		memset(a + ksize(a), 0x5a, 8); /* the bug under test */
		kfree(b);
		expect_report(t, a, 0, NULL, false);
		for (unsigned int i = 0; i < ARRAY_SIZE(v); i++)
			if (v[i] != b)
				kfree(v[i]);
		expect_none(t);
		return;
	}
	a = kmalloc(4000);
	b = kmalloc(4000);
	KT_ASSERT(t, a && b);
	/* a fresh page of the 4040-byte class: the two objects, 4 KiB apart */
	KT_ASSERT(t, b == a + 4096 && ksize(b) == 4040 && ((uintptr_t)b & 8191) == 4096);
	memset(b + ksize(b), 0x5a, 8); /* the bug under test */
	kfree(a);
	heap_flush(); /* a back into its page */
	expect_none(t);
	again = kmalloc(4000); /* from that page again: its trailer is looked at */
	expect_report(t, b, 0, NULL, false);
	KT_EXPECT(t, again == a);
	kfree(again);
	kfree(b);
	heap_flush();
	expect_none(t);
}

/*
 * A write after free over the first 16 bytes (where free lists keep their
 * links), then allocations of the same size: in every tier never a crash,
 * and every block handed out whole and apart; caught in the debug tier
 * (when the object leaves the quarantine). Elsewhere a report (of the
 * damaged free list, naming the block) may come, and is not promised.
 */
static void write_after_free(struct ktest *t)
{
	uint8_t *live[8], *again[64], *p;
	unsigned int bad = 0, n;
	const void *at;
	const char *what;

	for (unsigned int j = 0; j < ARRAY_SIZE(live); j++) {
		live[j] = kmalloc(64);
		KT_ASSERT(t, live[j] != NULL);
	}
	p = live[3];
	kfree(p);
	memset(p, 0x41, 16); /* the bug under test */
	for (unsigned int j = 0; j < ARRAY_SIZE(again); j++) {
		again[j] = kmalloc(64);
		if (again[j])
			memset(again[j], (int)j, 64);
	}
	for (unsigned int j = 0; j < ARRAY_SIZE(again); j++) {
		bad += !again[j];
		for (unsigned int i = 0; again[j] && i < 64; i++)
			bad += again[j][i] != (uint8_t)j;
	}
	KT_EXPECT_EQ(t, bad, 0);
	for (unsigned int j = 0; j < ARRAY_SIZE(again); j++)
		kfree(again[j]);
	for (unsigned int j = 0; j < ARRAY_SIZE(live); j++)
		if (j != 3)
			kfree(live[j]);
	heap_quarantine_flush();
	if (DEBUG) {
		expect_report(t, p, 64, (void *)write_after_free, true);
		return;
	}
	n = heap_host_misuses(&at, &what);
	KT_EXPECT_LE(t, n, 1);
	if (n == 1) {
		KT_EXPECT(t, at == p);
		ktest_log(t, "reported (not promised in the %s tier): %s", HEAP_HARDEN_NAME, what);
	} else {
		ktest_log(t, "not reported (not promised in the %s tier), and nothing broke",
			  HEAP_HARDEN_NAME);
	}
}

/*
 * A stale pointer freed after its memory was allocated again: only a
 * quarantine keeps the memory from being handed out at once, so that the
 * stale free finds a freed object instead of its new owner's.
 */
static void stale_free_after_reuse(struct ktest *t)
{
	uint8_t *p, *q;

	if (!DEBUG)
		KT_SKIP(t,
			"not promised in the %s tier: no quarantine, the stale free frees the new "
			"owner's",
			HEAP_HARDEN_NAME);
	p = kmalloc(64);
	KT_ASSERT(t, p != NULL);
	kfree(p);
	q = kmalloc(64);
	KT_ASSERT(t, q != NULL);
	KT_EXPECT(t, q != p);
	kfree(p); /* the bug under test */
	expect_report(t, p, 64, (void *)stale_free_after_reuse, true);
	kfree(q);
	heap_quarantine_flush();
	expect_none(t);
}

static void double_free(struct ktest *t)
{
	uint8_t *p = kmalloc(64);

	KT_ASSERT(t, p != NULL);
	kfree(p);
	expect_none(t);
	kfree(p); /* the bug under test */
	expect_report(t, p, 64, (void *)double_free, true);
	heap_quarantine_flush();
	expect_none(t);
	if (DEBUG) { /* once out of the quarantine, its block not reused yet: still said */
		kfree(p);
		expect_report(t, p, 64, (void *)double_free, true);
	}
}

/*
 * Freed from another hart, then freed again from there after the owner
 * took that free (the per-hart heaps: its queue, taken by an allocation
 * with its cache empty, into the cache or, without free tags, the page).
 */
static void double_free_from_another_hart(struct ktest *t)
{
	uint8_t *p, *r, *q;

	if (early)
		KT_SKIP(t, "one hart before the switch");
	if (HEAP_HARDEN == HEAP_HARDEN_OFF && is("per-hart slab"))
		KT_SKIP(t,
			"no free tags in tier off: an object in its owner's cache looks allocated");
	p = kmalloc(64);
	r = kmalloc(64);
	KT_ASSERT(t, p && r);
	heap_flush(); /* hart 0's caches empty: its next allocation takes its queue */
	arena_set_hart(1);
	kfree(r);
	kfree(p);
	arena_set_hart(0);
	expect_none(t);
	q = kmalloc(64);
	KT_ASSERT(t, q != NULL);
	arena_set_hart(1);
	kfree(q == p ? r : p); /* the bug under test */
	arena_set_hart(0);
	expect_report(t, q == p ? r : p, 64, (void *)double_free_from_another_hart, true);
	kfree(q);
	heap_quarantine_flush();
	expect_none(t);
}

/*
 * The same at 4300 bytes (the per-hart heaps' mid blocks: several objects
 * to a 32 KiB block, a small cache of the owner's in front): a second
 * free of the object freed last, with the cache full, is reported, and
 * no object is handed out twice after it.
 */
static void double_free_of_a_mid_size(struct ktest *t)
{
	uint8_t *a[7], *x[7];

	for (unsigned int i = 0; i < 7; i++)
		KT_ASSERT(t, (a[i] = kmalloc(4300)) != NULL);
	for (unsigned int i = 0; i < 4; i++)
		kfree(a[i]);
	expect_none(t);
	kfree(a[3]); /* the bug under test */
	expect_report(t, a[3], 4300, (void *)double_free_of_a_mid_size, true);
	for (unsigned int i = 4; i < 7; i++)
		kfree(a[i]);
	heap_quarantine_flush();
	expect_none(t);
	for (unsigned int i = 0; i < 7; i++) {
		KT_ASSERT(t, (x[i] = kmalloc(4300)) != NULL);
		for (unsigned int j = 0; j < i; j++)
			KT_EXPECT(t, x[j] != x[i]);
	}
	for (unsigned int i = 0; i < 7; i++)
		kfree(x[i]);
	heap_quarantine_flush();
	expect_none(t);
}

/* A 4300-byte object freed by its owner (into its cache), then again from another hart. */
static void double_free_of_a_mid_size_from_another_hart(struct ktest *t)
{
	uint8_t *p, *q, *r;

	if (early)
		KT_SKIP(t, "one hart before the switch");
	if (HEAP_HARDEN == HEAP_HARDEN_OFF && is("per-hart slab"))
		KT_SKIP(t,
			"no free tags in tier off: an object in its owner's cache looks allocated");
	p = kmalloc(4300);
	KT_ASSERT(t, p != NULL);
	kfree(p);
	arena_set_hart(1);
	kfree(p); /* the bug under test */
	arena_set_hart(0);
	expect_report(t, p, 4300, (void *)double_free_of_a_mid_size_from_another_hart, true);
	q = kmalloc(4300);
	r = kmalloc(4300);
	KT_EXPECT(t, q && r && q != r);
	kfree(q);
	kfree(r);
	heap_quarantine_flush();
	expect_none(t);
}

/* ---- pointers the heap never handed out ---------------------------------------------- */

static void interior_free(struct ktest *t)
{
	uint8_t *p = kmalloc(200);

	KT_ASSERT(t, p != NULL);
	kfree(p + 16); /* the bug under test */
	expect_report(t, p + 16, 0, NULL, false);
	kfree(p);
	heap_quarantine_flush();
	expect_none(t);
}

static void foreign_free(struct ktest *t)
{
	static uint8_t not_ours[256] __attribute__((aligned(64)));
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	kfree(phys_to_virt(pa) + 64); /* the bug under test: a page the heap never had */
	expect_report(t, phys_to_virt(pa) + 64, 0, NULL, false);
	buddy_free(pa, 0);
	kfree(not_ours + 64); /* and memory that is no RAM at all */
	expect_report(t, not_ours + 64, 0, NULL, false);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(overflow_at_ksize),
    KTEST_CASE(write_before),
    KTEST_CASE(overflow_into_neighbour),
    KTEST_CASE(overflow_into_a_quarantined_header),
    KTEST_CASE(overflow_past_a_slab_page),
    KTEST_CASE(write_after_free),
    KTEST_CASE(stale_free_after_reuse),
    KTEST_CASE(double_free),
    KTEST_CASE(double_free_from_another_hart),
    KTEST_CASE(double_free_of_a_mid_size),
    KTEST_CASE(double_free_of_a_mid_size_from_another_hart),
    KTEST_CASE(interior_free),
    KTEST_CASE(foreign_free),
    {0},
};

static int prepare_after(struct ktest *t)
{
	early = false;
	return boot(t);
}

static int prepare_early(struct ktest *t)
{
	early = true;
	return boot(t);
}

static const struct ktest_suite after_switch = {"heap_misuse_" HEAP_HARDEN_NAME, cases,
						prepare_after, NULL};
static const struct ktest_suite early_heap = {"heap_misuse_early_" HEAP_HARDEN_NAME, cases,
					      prepare_early, NULL};

const struct ktest_suite *const test_suites[] = {&after_switch, &early_heap};
const unsigned int test_nr_suites = 2;
