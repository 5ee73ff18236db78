// SPDX-License-Identifier: MIT
/*
 * KTAP version 1 output for host and in-kernel tests: one document, each suite
 * a subtest indented four spaces, each case a leaf test.
 */
#include <kernel/arch.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>
#include <stdarg.h>
#include <string.h>

/* Enough diagnostics to see what broke without flooding a serial console. */
#define MAX_DIAGS_PER_CASE 8

static void diag(struct ktest *t, const char *fmt, ...) __printf(2, 3);
static void diag(struct ktest *t, const char *fmt, ...)
{
	char line[240];
	va_list ap;

	if (t->failures > MAX_DIAGS_PER_CASE)
		return;
	va_start(ap, fmt);
	kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printk("    # %s: %s\n", t->name, line);
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

bool ktest_check(struct ktest *t, bool ok, const char *file, int line, const char *expr)
{
	t->checks++;
	if (!ok) {
		t->failures++;
		diag(t, "%s:%d: expected %s", basename_of(file), line, expr);
	}
	return ok;
}

bool ktest_check_u64(struct ktest *t, bool ok, unsigned long long a, unsigned long long b,
		     const char *op, const char *file, int line, const char *ea, const char *eb)
{
	t->checks++;
	if (!ok) {
		t->failures++;
		diag(t, "%s:%d: expected %s %s %s, got 0x%llx (%lld) vs 0x%llx (%lld)",
		     basename_of(file), line, ea, op, eb, a, (long long)a, b, (long long)b);
	}
	return ok;
}

bool ktest_check_str(struct ktest *t, const char *a, const char *b, const char *file, int line,
		     const char *ea, const char *eb)
{
	bool ok = a && b && strcmp(a, b) == 0;

	t->checks++;
	if (!ok) {
		t->failures++;
		diag(t, "%s:%d: expected %s == %s, got \"%s\" vs \"%s\"", basename_of(file), line,
		     ea, eb, a ? a : "(null)", b ? b : "(null)");
	}
	return ok;
}

void ktest_skip(struct ktest *t, const char *fmt, ...)
{
	va_list ap;

	t->skipped = true;
	va_start(ap, fmt);
	kvsnprintf(t->skip_reason, sizeof(t->skip_reason), fmt, ap);
	va_end(ap);
}

void ktest_log(struct ktest *t, const char *fmt, ...)
{
	char line[240];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printk("    # %s: %s\n", t->name, line);
}

static unsigned int count_cases(const struct ktest_suite *s)
{
	unsigned int n = 0;

	while (s->cases[n].run)
		n++;
	return n;
}

/* A case that evaluated no expectation and did not skip proves nothing: fail it. */
static void run_case(const struct ktest_suite *s, const struct ktest_case *c, unsigned int num,
		     struct ktest_totals *sum)
{
	struct ktest t = { .name = c->name };

	if (s->init && s->init(&t) != 0) {
		t.failures++;
		diag(&t, "suite init failed");
	} else {
		if (!t.skipped) /* an init may skip the case */
			c->run(&t);
		if (s->exit)
			s->exit(&t);
		if (!t.skipped && t.checks == 0) {
			t.failures++;
			diag(&t, "the case checked nothing");
		}
	}
	if (t.failures) {
		sum->failed++;
		printk("    not ok %u %s\n", num, c->name);
	} else if (t.skipped) {
		sum->skipped++;
		printk("    ok %u %s # SKIP %s\n", num, c->name, t.skip_reason);
	} else {
		sum->passed++;
		printk("    ok %u %s\n", num, c->name);
	}
}

uint64_t ktest_deadline(unsigned int harts, unsigned int seconds)
{
	if (harts <= KTEST_DEADLINE_HARTS)
		return KTEST_NO_DEADLINE;
	return arch_read_time() + seconds * arch_time_hz();
}

bool ktest_past(uint64_t deadline)
{
	return arch_read_time() > deadline;
}

void ktest_begin(struct ktest_run *run, unsigned int nr_suites)
{
	*run = (struct ktest_run){ .planned = nr_suites };
	printk("KTAP version 1\n1..%u\n", nr_suites);
}

void ktest_run_suite(struct ktest_run *run, const struct ktest_suite *s)
{
	unsigned int nr = count_cases(s);
	struct ktest_totals sum = { 0 };
	uint64_t start = arch_read_time();

	printk("    KTAP version 1\n    # Subtest: %s\n    1..%u\n", s->name, nr);
	for (unsigned int c = 0; c < nr; c++)
		run_case(s, &s->cases[c], c + 1, &sum);
	/* The time, so a boot that nears its limit says which suite took it. */
	printk("    # %s: pass:%u fail:%u skip:%u total:%u, %llu ms\n", s->name, sum.passed,
	       sum.failed, sum.skipped, nr,
	       (unsigned long long)((arch_read_time() - start) * 1000 / arch_time_hz()));
	printk("%s %u %s\n", sum.failed ? "not ok" : "ok", ++run->done, s->name);
	run->sum.passed += sum.passed;
	run->sum.failed += sum.failed;
	run->sum.skipped += sum.skipped;
}

void ktest_skip_suite(struct ktest_run *run, const struct ktest_suite *s, const char *why)
{
	unsigned int nr = count_cases(s);

	printk("ok %u %s # SKIP %s\n", ++run->done, s->name, why);
	run->sum.skipped += nr;
}

unsigned int ktest_run_all(const struct ktest_suite *const *suites, unsigned int n,
			   struct ktest_totals *totals)
{
	struct ktest_run run;

	ktest_begin(&run, n);
	for (unsigned int i = 0; i < n; i++)
		ktest_run_suite(&run, suites[i]);
	if (totals)
		*totals = run.sum;
	return run.sum.failed;
}
