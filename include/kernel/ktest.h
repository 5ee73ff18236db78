/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

/*
 * A small KTAP (version 1) test harness shared by the host test programs and
 * the in-kernel tests, so one test source runs in both places.
 *
 *   static void test_foo(struct ktest *t) { KT_EXPECT_EQ(t, 1 + 1, 2); }
 *   static const struct ktest_case cases[] = { KTEST_CASE(test_foo), {0} };
 *   const struct ktest_suite foo_suite = { "foo", cases };
 *
 * Output goes through printk(), which the host build routes to stdout.
 */

#include <kernel/compiler.h>
#include <kernel/types.h>

struct ktest {
	const char *name;
	unsigned int checks;	/* how many expectations were evaluated */
	unsigned int failures;
	bool skipped;
	char skip_reason[96];
	void *priv;		/* for the suite's own use */
};

struct ktest_case {
	const char *name;
	void (*run)(struct ktest *t);
};

struct ktest_suite {
	const char *name;
	const struct ktest_case *cases;	/* terminated by an entry with run == NULL */
	/* Optional: run before/after each case; a non-zero init fails the case. */
	int (*init)(struct ktest *t);
	void (*exit)(struct ktest *t);
};

#define KTEST_CASE(fn) { #fn, fn }

struct ktest_totals {
	unsigned int passed, failed, skipped;
};

/* Runs the suites as one KTAP document; returns the number of failed cases. */
unsigned int ktest_run_all(const struct ktest_suite *const *suites, unsigned int n,
			   struct ktest_totals *totals);

/*
 * The same document in steps, for a kernel that runs some suites before a
 * layer comes up and the rest after it: begin with the number of suites
 * to come, then run them one by one.
 */
struct ktest_run {
	unsigned int planned, done;
	struct ktest_totals sum;
};
void ktest_begin(struct ktest_run *run, unsigned int nr_suites);
void ktest_run_suite(struct ktest_run *run, const struct ktest_suite *s);
/* s, not run: one line saying why, its cases counted as skipped. */
void ktest_skip_suite(struct ktest_run *run, const struct ktest_suite *s, const char *why);

bool ktest_check(struct ktest *t, bool ok, const char *file, int line, const char *expr);
bool ktest_check_u64(struct ktest *t, bool ok, unsigned long long a, unsigned long long b,
		     const char *op, const char *file, int line, const char *ea, const char *eb);
bool ktest_check_str(struct ktest *t, const char *a, const char *b, const char *file, int line,
		     const char *ea, const char *eb);
void ktest_skip(struct ktest *t, const char *fmt, ...) __printf(2, 3);
/* A diagnostic line inside the current case's output. */
void ktest_log(struct ktest *t, const char *fmt, ...) __printf(2, 3);

/*
 * Work shared by many harts under TCG waits on the host's scheduler: with
 * many more vCPUs than host cores, a lock hand-off can take a tenth of a
 * second. A test that checks an invariant (not a count) may stop early
 * when more than KTEST_DEADLINE_HARTS harts share the work (up to that,
 * it runs whole, as a 2-core host manages): for work shared by harts
 * harts, a deadline seconds from now, or KTEST_NO_DEADLINE (never) when
 * they are few enough; and whether it has passed.
 */
#define KTEST_DEADLINE_HARTS 8
#define KTEST_NO_DEADLINE    UINT64_MAX
uint64_t ktest_deadline(unsigned int harts, unsigned int seconds);
bool ktest_past(uint64_t deadline);

#define KT_EXPECT(t, cond) ktest_check((t), !!(cond), __FILE__, __LINE__, #cond)
#define KT_EXPECT_OP_(t, a, op, b)                                                             \
	({                                                                                    \
		unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
		ktest_check_u64((t), a_ op b_, a_, b_, #op, __FILE__, __LINE__, #a, #b);       \
	})
#define KT_EXPECT_EQ(t, a, b) KT_EXPECT_OP_(t, a, ==, b)
#define KT_EXPECT_NE(t, a, b) KT_EXPECT_OP_(t, a, !=, b)
#define KT_EXPECT_LT(t, a, b) KT_EXPECT_OP_(t, a, <, b)
#define KT_EXPECT_LE(t, a, b) KT_EXPECT_OP_(t, a, <=, b)
#define KT_EXPECT_GT(t, a, b) KT_EXPECT_OP_(t, a, >, b)
#define KT_EXPECT_GE(t, a, b) KT_EXPECT_OP_(t, a, >=, b)
#define KT_EXPECT_STREQ(t, a, b) ktest_check_str((t), (a), (b), __FILE__, __LINE__, #a, #b)

/* The ASSERT forms end the case when they fail. */
#define KT_ASSERT(t, cond)                 \
	do {                               \
		if (!KT_EXPECT(t, cond))   \
			return;            \
	} while (0)
#define KT_ASSERT_EQ(t, a, b)                 \
	do {                                  \
		if (!KT_EXPECT_EQ(t, a, b))   \
			return;               \
	} while (0)

#define KT_SKIP(t, ...)                         \
	do {                                    \
		ktest_skip((t), __VA_ARGS__);   \
		return;                         \
	} while (0)

#endif
