// SPDX-License-Identifier: MIT
/*
 * The heap conformance suite (tests/common/heap_conformance.c) on the host:
 * linked once with each strategy (build/host/test_heap_conformance_<name>),
 * on a 64 MiB machine with four threads as harts.
 */
#include <kernel/ktest.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <pthread.h>
#include <stdlib.h>

#include "../../common/heap_conformance.h"
#include "../arena.h"
#include "../heap_host.h"

#define HARTS 4

struct job {
	void (*all)(unsigned int k, void *arg);
	void (*one)(void *arg);
	void *arg;
	unsigned int k;
};

static void *run(void *arg)
{
	struct job *j = arg;

	arena_set_hart(j->k);
	if (j->all)
		j->all(j->k, j->arg);
	else
		j->one(j->arg);
	return NULL;
}

static void on_all_harts(void (*fn)(unsigned int k, void *arg), void *arg)
{
	pthread_t th[HARTS];
	struct job jobs[HARTS];

	for (unsigned int k = 1; k < HARTS; k++) {
		jobs[k] = (struct job){.all = fn, .arg = arg, .k = k};
		if (pthread_create(&th[k], NULL, run, &jobs[k]))
			abort();
	}
	fn(0, arg);
	for (unsigned int k = 1; k < HARTS; k++)
		pthread_join(th[k], NULL);
}

static void on_other_hart(unsigned int k, void (*fn)(void *arg), void *arg)
{
	struct job j = {.one = fn, .arg = arg, .k = k};
	pthread_t th;

	if (pthread_create(&th, NULL, run, &j))
		abort();
	pthread_join(th, NULL);
}

static void settle(void)
{
	heap_host_quiesce(HARTS);
}

static uint64_t backend_frames(void)
{
	return vmap_record_frame_count(&heap_host_vmap);
}

/* Each case on a freshly booted machine: one case's damage cannot hide in the next. */
static int boot(struct ktest *t)
{
	heap_host_boot(64ULL << 20, 128 << 10);
	return heap_host_ready(t, HARTS) ? 0 : -1;
}

struct heap_conf_env heap_conf_env = {
    .prepare = boot,
    .nr_harts = HARTS,
    .on_all_harts = on_all_harts,
    .on_other_hart = on_other_hart,
    .settle = settle,
    .backend_frames = backend_frames,
    .stress_ops = 20000,
    .sweep_stride = 1, /* every size */
};

const struct ktest_suite *const test_suites[] = {&heap_conformance_suite};
const unsigned int test_nr_suites = 1;
