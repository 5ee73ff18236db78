// SPDX-License-Identifier: MIT
/*
 * Sampled guard pages in the kernel (CONFIG_HEAP_GUARD, mm/heap/heap_guard.c,
 * the pool mapped by kernel/heap.c): sampling every allocation for the
 * suite, each object is placed at its page's end, and a probe past it,
 * before it, or into it once freed faults (the probe survives through the
 * exception table). heap_guard_fault(), which the trap handler calls
 * before it panics, is then called on the recorded fault's address with a
 * recording misuse handler: it must name the object. Skipped without
 * CONFIG_HEAP_GUARD. With test.guard_crash on the command line, last, a
 * real overflow that is no probe: the trap handler must panic naming the
 * object (boot-matrix.sh's guard-crash boot).
 */
#include <kernel/cmdline.h>
#include <kernel/errno.h>
#include <kernel/fault.h>
#include <kernel/ktest.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <string.h>

static const void *misuse_at;
static const char *misuse_what;
static unsigned int misuse_reports;

static void record_misuse(const char *what, const void *p)
{
	misuse_at = p;
	misuse_what = what;
	misuse_reports++;
}

/* Exactly one report since the last look, about p, saying both phrases. */
static void expect_report(struct ktest *t, const void *p, const char *says, const char *also)
{
	unsigned int n = misuse_reports;

	misuse_reports = 0;
	if (!KT_EXPECT_EQ(t, n, 1))
		return;
	ktest_log(t, "reported: %s", misuse_what);
	KT_EXPECT(t, misuse_at == p);
	KT_EXPECT(t, strstr(misuse_what, says) != NULL);
	KT_EXPECT(t, strstr(misuse_what, also) != NULL);
}

/*
 * The probe faulted, once, at addr, and what the trap handler would report
 * for it names p, saying both phrases.
 */
static void expect_guard_fault(struct ktest *t, int ret, unsigned long before, uintptr_t addr,
			       const void *p, const char *says, const char *also)
{
	const struct fault_info *f = fault_last();

	KT_EXPECT_EQ(t, ret, -EFAULT);
	KT_ASSERT_EQ(t, fault_count(), before + 1);
	KT_EXPECT_EQ(t, f->addr, addr);
	KT_EXPECT(t, heap_guard_fault(f->addr, f->access == FAULT_WRITE ? "write" : "read", f->pc));
	expect_report(t, p, says, also);
}

static uint64_t sampled(void)
{
	struct heap_guard_stats s;

	heap_guard_stats(&s);
	return s.allocs;
}

static void placed_at_page_end(struct ktest *t)
{
	static const size_t sizes[] = {1, 8, 24, 100, 128, 1000, 4096};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t n = sampled();
		uint8_t *p = kmalloc(sizes[i]);
		uintptr_t end = (uintptr_t)p + sizes[i];

		KT_ASSERT(t, p != NULL);
		KT_EXPECT_EQ(t, sampled(), n + 1);
		KT_EXPECT_LT(t, ALIGN_UP(end, PAGE_SIZE) - end, 16);
		KT_EXPECT_EQ(t, ksize(p), sizes[i]);
		memset(p, 0x5a, sizes[i]);
		kfree(p);
	}
	KT_EXPECT_EQ(t, misuse_reports, 0);
}

static void overflow_and_underflow_fault(struct ktest *t)
{
	uint8_t *p = kmalloc(128), *q = kmalloc(PAGE_SIZE);
	unsigned long n = fault_count();
	uint64_t v;

	KT_ASSERT(t, p && q);
	KT_EXPECT_EQ(t, probe_write((uintptr_t)p + 120, 1), 0); /* its last word */
	expect_guard_fault(t, probe_write((uintptr_t)p + 128, 1), n, (uintptr_t)p + 128, p,
			   "out-of-bounds write", "1 byte(s) after the end of live object");
	expect_guard_fault(t, probe_read((uintptr_t)q - 8, &v), n + 1, (uintptr_t)q - 8, q,
			   "out-of-bounds read", "8 byte(s) before live object");
	kfree(p);
	kfree(q);
	KT_EXPECT_EQ(t, misuse_reports, 0);
}

static void freed_object_faults(struct ktest *t)
{
	uint8_t *p = kmalloc(64);
	unsigned long n = fault_count();
	uint64_t v;

	KT_ASSERT(t, p != NULL);
	KT_EXPECT_EQ(t, probe_read((uintptr_t)p, &v), 0);
	kfree(p);
	expect_guard_fault(t, probe_read((uintptr_t)p + 16, &v), n, (uintptr_t)p + 16, p,
			   "use-after-free read", "+16 into freed object");
	expect_guard_fault(t, probe_write((uintptr_t)p, 0), n + 1, (uintptr_t)p, p,
			   "use-after-free write", "(size 64, at +0)");
}

static void misuse_at_free_reported(struct ktest *t)
{
	uint8_t *p = kmalloc(100);

	KT_ASSERT(t, p != NULL);
	p[100] = 0; /* 16-aligned: inside its page, no fault */
	kfree(p);
	expect_report(t, p, "1 byte(s) after object", "overwritten, from +100");
	kfree(p);
	expect_report(t, p, "a double free", "(size 100)");
	KT_EXPECT(t, !heap_guard_fault((uintptr_t)&misuse_reports, "read", 0)); /* not the pool's */
	KT_EXPECT_EQ(t, misuse_reports, 0);
}

static void overflow_panics(struct ktest *t)
{
	volatile uint8_t *p;

	if (!cmdline_has(cmdline(), "test.guard_crash"))
		KT_SKIP(t, "only with test.guard_crash: it ends the boot");
	heap_set_misuse_handler(NULL); /* the default: a panic */
	p = kmalloc(128);
	KT_ASSERT(t, p != NULL);
	p[128] = 1; /* faults: the trap handler panics naming p */
	KT_EXPECT(t, false);
}

static const struct ktest_case cases[] = {
    KTEST_CASE(placed_at_page_end),  KTEST_CASE(overflow_and_underflow_fault),
    KTEST_CASE(freed_object_faults), KTEST_CASE(misuse_at_free_reported),
    KTEST_CASE(overflow_panics),     {0},
};

static heap_misuse_fn old_handler;

static int setup(struct ktest *t)
{
	struct heap_guard_stats s;

	heap_guard_stats(&s);
	if (!s.slots) {
		ktest_skip(t, "no guard pool (CONFIG_HEAP_GUARD is off)");
		return 0;
	}
	heap_guard_set_rate(1);
	misuse_reports = 0;
	old_handler = heap_set_misuse_handler(record_misuse);
	return 0;
}

static void teardown(struct ktest *t)
{
	(void)t;
#ifdef CONFIG_HEAP_GUARD
	heap_set_misuse_handler(old_handler);
	heap_guard_set_rate(CONFIG_HEAP_GUARD_RATE);
#endif
}

const struct ktest_suite heap_guard_suite = {"heap_guard", cases, setup, teardown};
