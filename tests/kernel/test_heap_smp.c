// SPDX-License-Identifier: MIT
/*
 * The heap under every hart at once: the random stress of
 * tests/common/heap_stress.c (kmalloc, aligned allocations, krealloc and
 * kfree of slab and large sizes, a share of the blocks freed by whichever
 * hart takes them from a mailbox, every block's pattern checked) on each
 * online hart. At the end every heap is trimmed on its own hart and the
 * buddy's free count must be back at its baseline, with no misuse
 * reported.
 *
 * test.heap_ops=N sets the operations per hart; by default 8000 in all,
 * shared among the harts, so that 8 harts on a 2-core host under TCG
 * finish in seconds like 1 does. With more than KTEST_DEADLINE_HARTS, a
 * hart stops early, after its first OPS_AT_LEAST, at a deadline: 64 vCPUs
 * on two busy host cores wait on the host's scheduler at every contended
 * lock.
 */
#include <kernel/heap.h>
#include <mm/heap_hart.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/hart.h>
#include <kernel/ktest.h>
#include <kernel/smp.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/vmap.h>
#include <string.h>

#include "../common/heap_stress.h"

static struct heap_stress_worker *workers; /* one a hart the DT lists, for the test's length */

#define OPS_AT_LEAST 100
#define STRESS_SECONDS 20

static uint64_t ops_per_hart, stress_end;

static void stress(void *arg)
{
	struct heap_stress_worker *w = arg;

	for (uint64_t i = 0; i < ops_per_hart; i++) {
		if (i >= OPS_AT_LEAST && ktest_past(stress_end))
			break;
		heap_stress_step(w);
	}
	heap_stress_release_all(w);
}

static void trim_here(void *arg)
{
	(void)arg;
	heap_trim();
}

/* Every hart takes the frees queued for it and gives its empty pages back. */
static uint64_t settled_free_frames(void)
{
	heap_quarantine_flush(); /* the debug tier's freed objects, checked and given back */
	/* All at once: one after another, 64 harts under TCG took 40 s. */
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		if (i != this_hart_index() && smp_hart_online(i))
			smp_call_async(i, trim_here, NULL);
	heap_trim();
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		if (i != this_hart_index() && smp_hart_online(i))
			smp_wait(i);
	return buddy_free_frames();
}

static uint64_t remote_frees(void)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		struct heap_hart_stats s;

		if (heap_hart_stats(i, &s) == 0)
			for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++)
				n += s.cls[c].remote_frees;
	}
	return n;
}

static void all_harts_at_once(struct ktest *t)
{
	unsigned int me = this_hart_index(), harts = 0;
	uint64_t free0, misuses = heap_misuses(), remote0 = remote_frees();
	unsigned long allocs, frees, errors, failed = 0, steps = 0;
	void *warm = kmalloc(1 << 20); /* the vmap's record frame, kept from here on */
	unsigned int n = boot_info.harts.nr;

	KT_ASSERT(t, warm != NULL);
	kfree(warm);
	workers = kcalloc(n, sizeof(*workers));
	KT_ASSERT(t, workers != NULL);
	ops_per_hart = 8000 / smp_nr_online();
	cmdline_get_size("test.heap_ops", &ops_per_hart);
	free0 = settled_free_frames();
	heap_stress_reset();
	stress_end = ktest_deadline(smp_nr_online(), STRESS_SECONDS);
	for (unsigned int i = 0; i < n; i++) {
		heap_stress_worker_init(&workers[i], i);
		if (i != me && smp_call_async(i, stress, &workers[i]))
			harts++;
	}
	stress(&workers[me]);
	harts++;
	for (unsigned int i = 0; i < n; i++)
		if (i != me && smp_hart_online(i))
			smp_wait(i);
	heap_stress_finish(workers, n, &allocs, &frees, &errors); /* the mailbox, freed here */
	for (unsigned int i = 0; i < n; i++) {
		failed += workers[i].failed;
		steps += workers[i].steps;
	}
	KT_EXPECT_EQ(t, settled_free_frames(), free0); /* the workers' block counted in both */
	kfree(workers);
	settled_free_frames(); /* its page back too: every class is empty below */
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		struct heap_hart_stats s;

		if (heap_hart_stats(i, &s) < 0)
			continue;
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
			KT_EXPECT_EQ(t, s.cls[c].in_use, 0);
			KT_EXPECT_EQ(t, s.cls[c].pages, 0);
		}
	}
	ktest_log(t, "%u harts, %lu allocations, %llu remote frees", harts, allocs,
		  (unsigned long long)(remote_frees() - remote0));
	if (steps < ops_per_hart * harts)
		ktest_log(t, "%lu of %llu operations ran in %u s", steps,
			  (unsigned long long)(ops_per_hart * harts), STRESS_SECONDS);
	KT_EXPECT_GT(t, allocs, steps / 4);
	KT_EXPECT_EQ(t, allocs, frees);
	KT_EXPECT_EQ(t, errors, 0);
	KT_EXPECT_EQ(t, failed, 0);
	KT_EXPECT_EQ(t, heap_misuses(), misuses);
	KT_EXPECT_EQ(t, kernel_vmap.nr_mappings, 0);
	if (harts > 1 && heap_hart_stats(me, &(struct heap_hart_stats){ 0 }) == 0)
		KT_EXPECT_GT(t, remote_frees() - remote0, 0);
	else if (harts > 1) /* one heap for all harts: no free is remote */
		ktest_log(t, "strategy %s: no per-hart heaps, no remote frees to count",
			  heap_strategy());
}

static const struct ktest_case cases[] = {
	KTEST_CASE(all_harts_at_once),
	{ 0 },
};

const struct ktest_suite heap_smp_suite = { "heap_smp", cases, NULL, NULL };
