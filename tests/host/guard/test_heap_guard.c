// SPDX-License-Identifier: MIT
/*
 * Sampled guard pages (mm/heap/heap_guard.c), linked once per strategy and
 * hardening tier (build/host/test_heap_guard_<strategy>[_<tier>]), with
 * the pool over host memory: reserved PROT_NONE, a slot's page opened and
 * closed with mprotect. A fault in it comes to a SIGSEGV handler that asks
 * heap_guard_fault() about it, as a kernel's trap handler does; the report
 * is recorded (heap_host.c's misuse handler) and the case goes on after
 * the access (siglongjmp). Each case on a freshly booted machine, after
 * the switch, sampling every allocation unless it says otherwise.
 */
#define _GNU_SOURCE
#include <kernel/ktest.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "../../../mm/heap/heap_harden.h"
#include "../heap_host.h"

#define HARTS 2

static uint8_t *pool; /* the pool's host memory, reserved once */

static int pool_open(void *page)
{
	return mprotect(page, PAGE_SIZE, PROT_READ | PROT_WRITE);
}

static void pool_close(void *page)
{
	mprotect(page, PAGE_SIZE, PROT_NONE);
}

static bool in_pool(const void *p)
{
	return (uintptr_t)p - (uintptr_t)pool < HEAP_GUARD_POOL_SIZE;
}

/* ---- faults: recorded, then the case goes on after the access ---------------------- */

static sigjmp_buf resume;
static volatile sig_atomic_t armed;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	const char *access = "access";
	uintptr_t pc = 0;

#if defined(__x86_64__)
	const ucontext_t *uc = ctx;

	access = uc->uc_mcontext.gregs[REG_ERR] & 2 ? "write" : "read";
	pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#else
	(void)ctx;
#endif
	if (armed && heap_guard_fault((uintptr_t)si->si_addr, access, pc)) {
		armed = 0;
		siglongjmp(resume, 1);
	}
	signal(sig, SIG_DFL); /* not ours: fault again, and die of it */
}

/* Whether a write (or read) of the byte at p faulted; the fault's report is recorded. */
static __attribute__((noinline)) bool faults(bool write, volatile uint8_t *p)
{
	if (sigsetjmp(resume, 1))
		return true;
	armed = 1;
	if (write)
		*p = 1;
	else
		(void)*p;
	armed = 0;
	return false;
}

/* ---- reports ------------------------------------------------------------------------- */

/* The address after "NAME " in a message (a call site), 0 if there is none. */
static uintptr_t site(const char *msg, const char *name)
{
	const char *at = strstr(msg, name);

	return at ? (uintptr_t)strtoull(at + strlen(name), NULL, 16) : 0;
}

/*
 * Exactly one report since the last look, about p, saying each of the
 * NULL-terminated phrases; the allocation site in fn (and the free site,
 * if freed).
 */
static void expect_report(struct ktest *t, const void *p, const void *fn, bool freed, ...)
{
	const void *at;
	const char *what, *phrase;
	unsigned int n = heap_host_misuses(&at, &what);
	va_list ap;

	if (!KT_EXPECT_EQ(t, n, 1))
		return;
	ktest_log(t, "reported: %s", what);
	KT_EXPECT(t, at == p);
	va_start(ap, freed);
	while ((phrase = va_arg(ap, const char *)))
		if (!KT_EXPECT(t, strstr(what, phrase) != NULL))
			ktest_log(t, "missing: %s", phrase);
	va_end(ap);
	/* both call sites in the case's function (under 4 KiB) */
	if (fn) {
		KT_EXPECT_LT(t, site(what, "allocated at ") - (uintptr_t)fn, 4096);
		if (freed)
			KT_EXPECT_LT(t, site(what, "freed at ") - (uintptr_t)fn, 4096);
	}
}

static void expect_none(struct ktest *t)
{
	const char *what = NULL;

	if (!KT_EXPECT_EQ(t, heap_host_misuses(NULL, &what), 0))
		ktest_log(t, "unexpected report: %s", what);
}

/* ---- placement ----------------------------------------------------------------------- */

/* What kmalloc() promises (kmalloc.h): a power of two aligned to itself, 16 from 16 up, else 8. */
static size_t promised(size_t size, size_t align)
{
	size_t a = size >= 16 ? 16 : 8;

	if (size && !(size & (size - 1)) && size > a)
		a = size;
	return align > a ? align : a;
}

static void placed_at_page_end(struct ktest *t)
{
	static const struct {
		size_t size, align;
	} c[] = {
	    {0, 0},    {1, 0},	  {7, 0},     {8, 0},	    {15, 0},   {16, 0},
	    {17, 0},   {100, 0},  {128, 0},   {1000, 0},    {2048, 0}, {4095, 0},
	    {4096, 0}, {100, 64}, {10, 4096}, {3000, 1024}, {1, 2},
	};
	struct heap_guard_stats st;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t a = promised(c[i].size, c[i].align);
		uint8_t *p =
		    c[i].align ? kmalloc_aligned(c[i].size, c[i].align) : kmalloc(c[i].size);
		uintptr_t end = ALIGN_UP((uintptr_t)p + 1, PAGE_SIZE);

		KT_ASSERT(t, p != NULL);
		KT_EXPECT(t, in_pool(p));
		KT_EXPECT_EQ(t, (uintptr_t)p % a, 0);
		/* at the page's end, short of it by less than the alignment */
		KT_EXPECT_LE(t, (uintptr_t)p + c[i].size, end);
		KT_EXPECT_LT(t, end - ((uintptr_t)p + c[i].size), c[i].size ? a : a + 1);
		KT_EXPECT_EQ(t, ksize(p), c[i].size);
		memset(p, 0x5a, c[i].size);
		kfree(p);
	}
	heap_guard_stats(&st);
	KT_EXPECT_EQ(t, st.allocs, sizeof(c) / sizeof(c[0]));
	KT_EXPECT_EQ(t, st.frees, st.allocs);
	KT_EXPECT_EQ(t, st.live, 0);
	/* beyond a page, or aligned beyond one: the usual way */
	uint8_t *big = kmalloc(PAGE_SIZE + 1), *wide = kmalloc_aligned(64, 2 * PAGE_SIZE);

	KT_EXPECT(t, big && !in_pool(big));
	KT_EXPECT(t, wide && !in_pool(wide));
	kfree(big);
	kfree(wide);
	expect_none(t);
}

static void zeroed_and_moved(struct ktest *t)
{
	uint8_t *p = kmalloc(200), *q;
	uint64_t *z;

	KT_ASSERT(t, p && in_pool(p));
	memset(p, 0xee, 200);
	kfree(p);
	z = kcalloc(25, 8); /* the same slot's page comes back with what was there */
	KT_ASSERT(t, z && in_pool(z));
	for (int i = 0; i < 25; i++)
		KT_EXPECT_EQ(t, z[i], 0);
	kfree(z);
	p = kzalloc(64);
	KT_ASSERT(t, p && in_pool(p));
	KT_EXPECT(t, p[0] == 0 && p[63] == 0);
	for (int i = 0; i < 64; i++)
		p[i] = (uint8_t)i;
	q = krealloc(p, 3000);
	KT_ASSERT(t, q && in_pool(q) && q != p);
	for (int i = 0; i < 64; i++)
		KT_EXPECT_EQ(t, q[i], i);
	KT_EXPECT(t, faults(false, p)); /* the old one was freed */
	expect_report(t, p, NULL, true, "use-after-free read", NULL);
	KT_EXPECT(t, krealloc(q, 0) == NULL);
	expect_none(t);
}

/*
 * krealloc() that allocates (from NULL, or moving an object that is not
 * sampled) samples as kmalloc() does, in every tier, and the object's
 * report names krealloc()'s caller as where it was allocated.
 */
static void realloc_sampled_names_its_caller(struct ktest *t)
{
	uint8_t *p = krealloc(NULL, 128), *big, *q;

	KT_ASSERT(t, p && in_pool(p));
	KT_EXPECT(t, faults(true, p + 128));
	expect_report(t, p, (void *)realloc_sampled_names_its_caller, false, "out-of-bounds write",
		      "(size 128, at +128)", NULL);
	kfree(p);
	big = kmalloc(3 * PAGE_SIZE); /* beyond a page: never sampled */
	KT_ASSERT(t, big && !in_pool(big));
	memset(big, 0x3c, 64);
	q = krealloc(big, 64);
	KT_ASSERT(t, q && in_pool(q));
	KT_EXPECT(t, q[0] == 0x3c && q[63] == 0x3c);
	KT_EXPECT(t, faults(true, q + 64));
	expect_report(t, q, (void *)realloc_sampled_names_its_caller, false, "out-of-bounds write",
		      "(size 64, at +64)", NULL);
	kfree(q);
	expect_none(t);
}

/* ---- faults -------------------------------------------------------------------------- */

static void overflow_faults(struct ktest *t)
{
	uint8_t *p = kmalloc(128);

	KT_ASSERT(t, p && in_pool(p));
	p[127] = 1; /* its last byte: fine */
	KT_EXPECT(t, faults(true, p + 128));
	expect_report(t, p, (void *)overflow_faults, false, "out-of-bounds write",
		      "1 byte(s) after the end of live object", "(size 128, at +128)", NULL);
	KT_EXPECT(t, faults(false, p + 228));
	expect_report(t, p, (void *)overflow_faults, false, "out-of-bounds read",
		      "101 byte(s) after", NULL);
	kfree(p);
	expect_none(t);
}

static void underflow_faults(struct ktest *t)
{
	uint8_t *p = kmalloc(PAGE_SIZE);

	KT_ASSERT(t, p && in_pool(p));
	KT_EXPECT(t, faults(true, p - 1));
	expect_report(t, p, (void *)underflow_faults, false, "out-of-bounds write",
		      "1 byte(s) before live object", "(size 4096, at -1)", NULL);
	kfree(p);
	expect_none(t);
}

static void use_after_free_faults(struct ktest *t)
{
	uint8_t *p = kmalloc(64);

	KT_ASSERT(t, p && in_pool(p));
	kfree(p);
	KT_EXPECT(t, faults(true, p));
	expect_report(t, p, (void *)use_after_free_faults, true, "use-after-free write",
		      "+0 into freed object", "(size 64, at +0)", NULL);
	KT_EXPECT(t, faults(false, p + 10));
	expect_report(t, p, (void *)use_after_free_faults, true, "use-after-free read", "+10",
		      NULL);
	KT_EXPECT(t, faults(false, p + 64)); /* past its end: the guard page, the freed object's */
	expect_report(t, p, NULL, true, "out-of-bounds read", "freed object", NULL);
}

/* The neighbours of a guard page: the live one is named, else the nearer. */
static void nearest_object_named(struct ktest *t)
{
	uint8_t *a = kmalloc(PAGE_SIZE), *b = kmalloc(PAGE_SIZE);
	uint8_t *lo = a < b ? a : b, *hi = a < b ? b : a;

	KT_ASSERT(t, a && b && in_pool(a) && in_pool(b));
	KT_ASSERT(t, hi == lo + 2 * PAGE_SIZE); /* slots side by side, one guard between */
	KT_EXPECT(t, faults(false, lo + PAGE_SIZE + 10));
	expect_report(t, lo, NULL, false, "11 byte(s) after", NULL);
	KT_EXPECT(t, faults(false, hi - 10));
	expect_report(t, hi, NULL, false, "10 byte(s) before", NULL);
	kfree(lo);
	KT_EXPECT(t, faults(false, lo + PAGE_SIZE + 10)); /* the live one, though farther */
	expect_report(t, hi, NULL, false, "before live object", NULL);
	kfree(hi);
	KT_EXPECT(t, !heap_guard_fault((uintptr_t)pool - 1, "read", 0));
	KT_EXPECT(t, !heap_guard_fault((uintptr_t)pool + HEAP_GUARD_POOL_SIZE, "read", 0));
	expect_none(t);
}

/* ---- misuse found at the free -------------------------------------------------------- */

static void slack_overwrite_reported(struct ktest *t)
{
	uint8_t *p = kmalloc(100); /* 16-aligned: 12 bytes of canary before the guard */

	KT_ASSERT(t, p && in_pool(p));
	p[100] = 0; /* no fault: inside the page */
	p[103] = 0;
	expect_none(t);
	kfree(p);
	expect_report(t, p, (void *)slack_overwrite_reported, true, "2 byte(s) after object",
		      "(size 100) overwritten, from +100", NULL);
	p = kmalloc(64);
	KT_ASSERT(t, p && in_pool(p));
	p[-3] = 0; /* before it, on its page */
	kfree(p);
	expect_report(t, p, (void *)slack_overwrite_reported, true, "1 byte(s) before object",
		      "from -3", NULL);
}

static void double_and_interior_free_reported(struct ktest *t)
{
	uint8_t *p = kmalloc(64);

	KT_ASSERT(t, p && in_pool(p));
	kfree(p + 8);
	expect_report(t, p + 8, NULL, false, "+8 bytes from the start of live object", NULL);
	kfree(p);
	expect_none(t);
	kfree(p);
	expect_report(t, p, (void *)double_and_interior_free_reported, true, "a double free",
		      "now called from", NULL);
	KT_EXPECT_EQ(t, ksize(p), 0);
	expect_report(t, p, NULL, false, "ksize or krealloc of a freed object", NULL);
	KT_EXPECT(t, krealloc(p, 10) == NULL);
	expect_report(t, p, NULL, false, "freed object", NULL);
	kfree(pool + PAGE_SIZE / 2); /* the first guard page */
	expect_report(t, pool + PAGE_SIZE / 2, NULL, false, "no object (a guard page)", NULL);
}

/* ---- sampling ------------------------------------------------------------------------ */

static void pool_full_goes_the_usual_way(struct ktest *t)
{
	enum { N = HEAP_GUARD_SLOTS + 20 };
	static uint8_t *p[N];
	struct heap_guard_stats st;
	struct heap_usage u0, u1;
	unsigned int pooled = 0, changed = 0;

	heap_usage(&u0);
	for (int i = 0; i < N; i++) {
		p[i] = kmalloc(48);
		KT_ASSERT(t, p[i] != NULL);
		memset(p[i], i, 48);
		pooled += in_pool(p[i]);
	}
	KT_EXPECT_EQ(t, pooled, HEAP_GUARD_SLOTS);
	heap_guard_stats(&st);
	KT_EXPECT_EQ(t, st.live, HEAP_GUARD_SLOTS);
	KT_EXPECT_EQ(t, st.full, N - HEAP_GUARD_SLOTS);
	heap_usage(&u1);
	KT_EXPECT_EQ(t, u1.blocks - u0.blocks, N); /* pool objects counted as any other */
	for (int i = 0; i < N; i++) {
		for (int b = 0; b < 48; b++)
			changed += p[i][b] != (uint8_t)i;
		kfree(p[i]);
	}
	KT_EXPECT_EQ(t, changed, 0);
	heap_guard_stats(&st);
	KT_EXPECT_EQ(t, st.live, 0);
	expect_none(t);
}

static void rate_counts_allocations(struct ktest *t)
{
	struct heap_guard_stats st;
	void *p;

	heap_guard_set_rate(0);
	for (int i = 0; i < 5000; i++) {
		p = kmalloc(32);
		KT_EXPECT(t, !in_pool(p));
		kfree(p);
	}
	heap_guard_stats(&st);
	KT_EXPECT_EQ(t, st.allocs, 0);
	heap_guard_set_rate(10);
	for (int i = 0; i < 1000; i++)
		kfree(i & 1 ? kmalloc(32) : kzalloc(24));
	heap_guard_stats(&st);
	KT_EXPECT_EQ(t, st.allocs, 100);
	KT_EXPECT_EQ(t, st.frees, 100);
	expect_none(t);
}

/* The pool before the switch, and its objects freed after it. */
static void before_the_switch(struct ktest *t)
{
	const struct heap_guard_ops ops = {(uintptr_t)pool, pool_open, pool_close};
	uint8_t *p;

	heap_host_boot(64ULL << 20, 512 << 10);
	KT_ASSERT_EQ(t, heap_guard_init(&ops), 0);
	heap_guard_set_rate(1);
	p = kmalloc(1); /* 16-aligned before the switch, as kmalloc.h promises, 8 after */
	KT_EXPECT(t, in_pool(p));
	KT_EXPECT_EQ(t, (uintptr_t)p % 16, 0);
	kfree(p);
	expect_none(t);
	p = kmalloc(40);
	KT_EXPECT(t, in_pool(p));
	KT_ASSERT_EQ(t, heap_host_switch(HARTS), 0);
	kfree(p);
	KT_EXPECT(t, faults(true, p));
	expect_report(t, p, (void *)before_the_switch, true, "use-after-free write", NULL);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(placed_at_page_end),
    KTEST_CASE(zeroed_and_moved),
    KTEST_CASE(realloc_sampled_names_its_caller),
    KTEST_CASE(overflow_faults),
    KTEST_CASE(underflow_faults),
    KTEST_CASE(use_after_free_faults),
    KTEST_CASE(nearest_object_named),
    KTEST_CASE(slack_overwrite_reported),
    KTEST_CASE(double_and_interior_free_reported),
    KTEST_CASE(pool_full_goes_the_usual_way),
    KTEST_CASE(rate_counts_allocations),
    KTEST_CASE(before_the_switch),
    {0},
};

static int boot(struct ktest *t)
{
	struct heap_guard_ops ops = {0, pool_open, pool_close};
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER};

	if (!pool) {
		void *r = mmap(NULL, HEAP_GUARD_POOL_SIZE, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (!KT_EXPECT(t, r != MAP_FAILED))
			return -1;
		pool = r;
	}
	ops.base = (uintptr_t)pool;
	sigaction(SIGSEGV, &sa, NULL);
	heap_host_boot(64ULL << 20, 512 << 10);
	if (!KT_EXPECT_EQ(t, heap_host_switch(HARTS), 0) ||
	    !KT_EXPECT_EQ(t, heap_guard_init(&ops), 0))
		return -1;
	heap_guard_set_rate(1);
	return 0;
}

static const struct ktest_suite suite = {"heap_guard_" HEAP_HARDEN_NAME, cases, boot, NULL};

const struct ktest_suite *const test_suites[] = {&suite};
const unsigned int test_nr_suites = 1;
