// SPDX-License-Identifier: MIT
/*
 * The heap conformance suite (tests/common/heap_conformance.c) in the
 * kernel, on whichever strategy is compiled in, with every online hart:
 * smp_call() runs the other harts' parts. test.heap_ops=N sets the
 * stress's operations per hart (by default 8000 shared among the harts,
 * so that 8 harts under TCG take as long as 1).
 */
#include <kernel/heap.h>
#include <kernel/cmdline.h>
#include <kernel/hart.h>
#include <kernel/smp.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/vmap.h>

#include "../common/heap_conformance.h"

/* Above this much free memory the exhaustion case is skipped: filling it takes too long under TCG.
 */
#define EXHAUST_MAX_FRAMES ((1ULL << 30) / PAGE_SIZE)

static unsigned int others[MAX_HARTS]; /* the k-th other online hart is others[k] */

struct job {
	void (*fn)(unsigned int k, void *arg);
	void *arg;
	unsigned int k;
};

static void run_job(void *arg)
{
	struct job *j = arg;

	j->fn(j->k, j->arg);
}

static void on_all_harts(void (*fn)(unsigned int k, void *arg), void *arg)
{
	static struct job jobs[MAX_HARTS];

	for (unsigned int k = 1; k < heap_conf_env.nr_harts; k++) {
		jobs[k] = (struct job){fn, arg, k};
		smp_call_async(others[k], run_job, &jobs[k]);
	}
	fn(0, arg);
	for (unsigned int k = 1; k < heap_conf_env.nr_harts; k++)
		smp_wait(others[k]);
}

static void on_other_hart(unsigned int k, void (*fn)(void *arg), void *arg)
{
	smp_call(others[k], fn, arg);
}

static void trim_here(void *arg)
{
	(void)arg;
	heap_trim();
}

static void settle(void)
{
	heap_quarantine_flush(); /* the debug tier's freed objects, checked and given back */
	for (unsigned int k = 1; k < heap_conf_env.nr_harts; k++)
		smp_call(others[k], trim_here, NULL);
	heap_trim();
}

static uint64_t backend_frames(void)
{
	return vmap_record_frame_count(&kernel_vmap);
}

static int count_harts(struct ktest *t)
{
	unsigned int n = 1;
	uint64_t ops = 0;

	(void)t;
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		if (i != this_hart_index() && smp_hart_online(i))
			others[n++] = i;
	heap_conf_env.nr_harts = n;
	heap_conf_env.stress_ops = 8000 / n;
	if (cmdline_get_size("test.heap_ops", &ops))
		heap_conf_env.stress_ops = ops;
	heap_conf_env.big = cmdline_has(cmdline(), "test.big"); /* ~15 s per 2 GiB under TCG */
	heap_conf_env.no_exhaust = buddy_free_frames() > EXHAUST_MAX_FRAMES
				       ? "more than 1 GiB free: filling it takes too long under TCG"
				       : NULL;
	return 0;
}

struct heap_conf_env heap_conf_env = {
    .prepare = count_harts,
    .on_all_harts = on_all_harts,
    .on_other_hart = on_other_hart,
    .settle = settle,
    .backend_frames = backend_frames,
    .sweep_stride = 61, /* every size costs about 5 s a boot under TCG: the host does them all */
};
