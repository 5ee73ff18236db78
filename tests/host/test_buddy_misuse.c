// SPDX-License-Identifier: MIT
/*
 * Every kind of misuse the buddy must catch: each is reported once, with
 * the address, through the handler; the call returns -EINVAL; and nothing
 * has changed (the checker finds no problem, the counts are as before).
 * Without a handler a misuse panics, as it does in the kernel.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"

#define BANK0 0x80000000ULL /* 16 MiB, then a hole */
#define BANK1 0x100000000ULL /* 8 MiB */

static const struct mem_range ram[] = {
	{ BANK0, 0x1000000 },
	{ BANK1, 0x800000 },
};

static struct memmap m;
static phys_addr_t early;
static unsigned int reports;
static const char *last_what;
static phys_addr_t last_pa;

static void record(const char *what, phys_addr_t pa)
{
	reports++;
	last_what = what;
	last_pa = pa;
}

static int fresh(struct ktest *t)
{
	arena_machine(&m, ram, 2);
	bootmem_reserve(&m, BANK0, 0x80000, RESV_RESERVED, "firmware");
	bootmem_alloc(&m, 3 * PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &early);
	if (buddy_init(&m) < 0)
		return -1;
	buddy_set_misuse_handler(record);
	reports = 0;
	last_what = NULL;
	last_pa = 0;
	(void)t;
	return 0;
}

static void done(struct ktest *t)
{
	(void)t;
	buddy_set_misuse_handler(NULL);
}

static struct buddy_stats before;

static void snapshot(void)
{
	buddy_drain_caches();
	buddy_stats(&before);
}

/* The misuse was reported once, at pa, saying `what`; nothing changed. */
static void expect_report(struct ktest *t, int rc, const char *what, phys_addr_t pa)
{
	struct buddy_stats now;

	KT_EXPECT_EQ(t, rc, -EINVAL);
	KT_EXPECT_EQ(t, reports, 1);
	KT_EXPECT(t, last_what && strstr(last_what, what));
	if (last_what && !strstr(last_what, what))
		ktest_log(t, "report was \"%s\"", last_what);
	KT_EXPECT_EQ(t, last_pa, pa);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	buddy_stats(&now);
	KT_EXPECT_EQ(t, now.free + now.cached, before.free + before.cached);
	KT_EXPECT_EQ(t, now.allocated, before.allocated);
	KT_EXPECT_EQ(t, now.early, before.early);
	KT_EXPECT_EQ(t, now.misuses, before.misuses + 1);
	before = now;
	reports = 0;
}

static void double_free_order0(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	KT_ASSERT_EQ(t, buddy_free(pa, 0), 0);
	/* still in this hart's cache */
	snapshot();
	KT_ASSERT_EQ(t, buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &pa), 0);
	KT_ASSERT_EQ(t, buddy_free(pa, 0), 0);
	buddy_stats(&before);
	expect_report(t, buddy_free(pa, 0), "double free", pa);
	/* and once it is back on the free lists, merged into a bigger block */
	buddy_drain_caches();
	snapshot();
	expect_report(t, buddy_free(pa, 0), "double free", pa);
	expect_report(t, buddy_free_ex(pa, 0, BUDDY_NOCACHE), "", pa);
}

static void double_free_block(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(3, &pa), 0);
	KT_ASSERT_EQ(t, buddy_free(pa, 3), 0);
	snapshot();
	expect_report(t, buddy_free(pa, 3), "double free", pa);
}

static void free_outside_ram(struct ktest *t)
{
	snapshot();
	expect_report(t, buddy_free(BANK0 + 0x1000000, 0), "does not own", BANK0 + 0x1000000);
	expect_report(t, buddy_free(0x40000000, 2), "does not own", 0x40000000);
	expect_report(t, buddy_free_range(BANK1 + 0x800000, 1), "does not own", BANK1 + 0x800000);
}

static void free_reserved_frame(struct ktest *t)
{
	snapshot();
	expect_report(t, buddy_free(BANK0, 7), "does not own", BANK0);
	expect_report(t, buddy_free(BANK0 + 0x1000, 0), "", BANK0 + 0x1000);
	expect_report(t, buddy_free_range(BANK0 + 0x7f000, 2), "does not own", BANK0 + 0x7f000);
}

static void free_with_wrong_order(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(2, &pa), 0);
	snapshot();
	expect_report(t, buddy_free(pa, 1), "wrong order", pa);
	expect_report(t, buddy_free(pa, 3), "wrong order", pa);
	expect_report(t, buddy_free(pa, 0), "wrong order", pa);
	expect_report(t, buddy_free(pa, BUDDY_MAX_ORDER + 1), "wrong order", pa);
	KT_EXPECT_EQ(t, buddy_free(pa, 2), 0);
}

static void free_middle_of_block(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(4, &pa), 0);
	snapshot();
	expect_report(t, buddy_free(pa + 4 * PAGE_SIZE, 2), "middle of a block", pa + 4 * PAGE_SIZE);
	expect_report(t, buddy_free(pa + PAGE_SIZE, 0), "middle of a block", pa + PAGE_SIZE);
	expect_report(t, buddy_free_range(pa + 8 * PAGE_SIZE, 8), "middle of a block",
		      pa + 8 * PAGE_SIZE);
	KT_EXPECT_EQ(t, buddy_free(pa, 4), 0);
}

static void free_inside_a_frame(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(1, &pa), 0);
	snapshot();
	expect_report(t, buddy_free(pa + 8, 1), "inside a frame", pa + 8);
	expect_report(t, buddy_free(pa + 0x800, 0), "inside a frame", pa + 0x800);
	expect_report(t, buddy_free_range(pa + 1, 2), "inside a frame", pa + 1);
	KT_EXPECT_EQ(t, buddy_free(pa, 1), 0);
}

/* A range must be exactly the blocks it names, all of them owned. */
static void range_that_does_not_match(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc_range(6, 0, BUDDY_NO_LIMIT, &pa), 0); /* blocks of 4 and 2 */
	snapshot();
	expect_report(t, buddy_free_range(pa, 5), "ends in the middle of a block", pa + 4 * PAGE_SIZE);
	expect_report(t, buddy_free_range(pa, 3), "ends in the middle of a block", pa);
	/* one past the end is free: the whole range stays allocated */
	expect_report(t, buddy_free_range(pa, 7), "double free", pa + 6 * PAGE_SIZE);
	KT_EXPECT_EQ(t, frame_tag(pa), FRAME_ALLOCATED);
	KT_EXPECT_EQ(t, frame_tag(pa + 5 * PAGE_SIZE), FRAME_ALLOCATED);
	/* running off the end of the bank */
	expect_report(t, buddy_free_range(BANK1 + 0x7ff000, 2), "runs past its bank",
		      BANK1 + 0x7ff000);
	KT_EXPECT_EQ(t, buddy_free_range(pa, 6), 0);
	KT_EXPECT_EQ(t, buddy_free_range(pa, 0), -EINVAL); /* no frames: nothing to report */
	KT_EXPECT_EQ(t, reports, 0);
}

static void set_owner_of_what_is_not_ours(struct ktest *t)
{
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(1, &pa), 0);
	KT_ASSERT_EQ(t, buddy_free(pa, 1), 0);
	snapshot();
	expect_report(t, frame_set_owner(pa, 1, FRAME_SLAB, 1, 1), "free frame", pa);
	expect_report(t, frame_set_owner(BANK0, 7, FRAME_SLAB, 1, 1), "reserved", BANK0);
	KT_ASSERT_EQ(t, buddy_alloc(2, &pa), 0);
	snapshot();
	expect_report(t, frame_set_owner(pa, 1, FRAME_SLAB, 1, 1), "wrong order", pa);
	expect_report(t, frame_set_owner(pa + PAGE_SIZE, 0, FRAME_SLAB, 1, 1), "middle", pa + PAGE_SIZE);
	expect_report(t, frame_set_owner(0x1000, 0, FRAME_SLAB, 1, 1), "not in RAM", 0x1000);
	KT_EXPECT_EQ(t, buddy_free(pa, 2), 0);
}

/* A boot allocation given back twice. */
static void early_given_back_twice(struct ktest *t)
{
	KT_ASSERT_EQ(t, buddy_free_range(early, 2), 0);
	snapshot();
	expect_report(t, buddy_free_range(early, 3), "double free", early);
	KT_EXPECT_EQ(t, buddy_free_range(early + 2 * PAGE_SIZE, 1), 0);
	snapshot();
	expect_report(t, buddy_free(early + 2 * PAGE_SIZE, 0), "double free", early + 2 * PAGE_SIZE);
}

/* With no handler installed (the kernel's case) a misuse panics with the address. */
static void default_handler_panics(struct ktest *t)
{
	int fds[2], status;
	char msg[256] = "";
	pid_t pid;
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	KT_ASSERT_EQ(t, buddy_free(pa, 0), 0);
	KT_ASSERT_EQ(t, pipe(fds), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		buddy_set_misuse_handler(NULL);
		buddy_free(pa, 0);
		_exit(0); /* not reached */
	}
	close(fds[1]);
	for (size_t n = 0, got; n < sizeof(msg) - 1; n += got) {
		got = read(fds[0], msg + n, sizeof(msg) - 1 - n);
		if (got == 0 || got == (size_t)-1)
			break;
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	KT_EXPECT(t, WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	char want[96];
	snprintf(want, sizeof(want), "PANIC: buddy: double free: %#llx", (unsigned long long)pa);
	KT_EXPECT(t, strstr(msg, want));
	if (!strstr(msg, want))
		ktest_log(t, "child said: %s", msg);
}

static const struct ktest_case cases[] = {
	KTEST_CASE(double_free_order0),
	KTEST_CASE(double_free_block),
	KTEST_CASE(free_outside_ram),
	KTEST_CASE(free_reserved_frame),
	KTEST_CASE(free_with_wrong_order),
	KTEST_CASE(free_middle_of_block),
	KTEST_CASE(free_inside_a_frame),
	KTEST_CASE(range_that_does_not_match),
	KTEST_CASE(set_owner_of_what_is_not_ours),
	KTEST_CASE(early_given_back_twice),
	KTEST_CASE(default_handler_panics),
	{ 0 },
};

static const struct ktest_suite misuse_suite = {
	.name = "buddy_misuse",
	.cases = cases,
	.init = fresh,
	.exit = done,
};

const struct ktest_suite *const test_suites[] = { &misuse_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
