// SPDX-License-Identifier: MIT
/*
 * Threads as harts on the heap: objects allocated on one hart and freed on
 * another, pages stolen while every hart works, a random stress of every
 * kind of allocation with blocks crossing harts, and running out of memory
 * together (tests/common/heap_stress.c: each block carries a pattern derived
 * from its address, checked when it is freed, so a block handed out twice,
 * or written by the heap while in use, shows). Afterwards every heap is
 * empty and the buddy is as before.
 *
 * Also built with ThreadSanitizer (build/host/test_heap_smp_tsan), with
 * fewer operations.
 */
#include <mm/heap_hart.h>
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/heap_stress.h"
#include "arena.h"
#include "heap_host.h"

#ifdef __SANITIZE_THREAD__
/*
 * The buddy publishes some state with plain (volatile) stores that lock-free
 * readers load atomically, Linux's WRITE_ONCE/READ_ONCE (include/mm/frame.h
 * says why: gcc makes an atomic store an AMO on riscv64). ThreadSanitizer
 * reports each such pair as a race: these two writers, and nothing else.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:frame_store_state\nrace:cache_set_count\n";
}
#endif

#define THREADS 4
#ifdef __SANITIZE_THREAD__
#define OPS 6000
#else
#define OPS 60000
#endif

static pthread_barrier_t barrier;

struct worker {
	struct heap_stress_worker s;
	unsigned int hart;
	void (*body)(struct worker *w);
};

static void *run(void *arg)
{
	struct worker *w = arg;

	arena_set_hart(w->hart);
	w->body(w);
	heap_stress_release_all(&w->s);
	return NULL;
}

static void start(struct worker *w, unsigned int n, void (*body)(struct worker *))
{
	pthread_t th[THREADS];

	heap_stress_reset();
	pthread_barrier_init(&barrier, NULL, n);
	for (unsigned int i = 0; i < n; i++) {
		heap_stress_worker_init(&w[i].s, i);
		w[i].hart = i;
		w[i].body = body;
		pthread_create(&th[i], NULL, run, &w[i]);
	}
	for (unsigned int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
}

/* Joined: what the mailbox still holds is freed here, as hart 0; the totals must add up. */
static void finish(struct ktest *t, struct worker *w, unsigned int n)
{
	struct heap_stress_worker s[THREADS];
	unsigned long allocs, frees, errors;

	arena_set_hart(0);
	for (unsigned int i = 0; i < n; i++)
		s[i] = w[i].s;
	heap_stress_finish(s, n, &allocs, &frees, &errors);
	KT_EXPECT_EQ(t, errors, 0);
	KT_EXPECT_EQ(t, allocs, frees);
	KT_EXPECT_EQ(t, heap_host_misuses(NULL, NULL), 0);
	heap_host_expect_baseline(t, THREADS);
}

static int boot(struct ktest *t)
{
	heap_host_boot(128ULL << 20, 128 << 10);
	return heap_host_ready(t, THREADS) ? 0 : -1;
}

/* ---- producers and consumers ---------------------------------------------------------- */

static unsigned int producers_done;

/* Producers allocate and post; consumers free what they take until every producer is done. */
static void produce_or_consume(struct worker *w)
{
	struct heap_stress_worker *s = &w->s;
	struct heap_stress_block b;

	if (w->hart < THREADS / 2) {
		for (unsigned int i = 0; i < OPS / 2; i++) {
			if (heap_stress_get(s, 1 + heap_stress_rand(&s->rng) % 2048, 0)) {
				b = s->local[--s->n];
				if (heap_stress_post(b))
					s->posted++;
				else
					heap_stress_release(s, b);
			}
		}
		__atomic_fetch_add(&producers_done, 1, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) < THREADS / 2) {
		if (heap_stress_take(&b)) {
			heap_stress_release(s, b);
			s->taken++;
		}
	}
}

static void cross_thread_frees(struct ktest *t)
{
	struct worker w[THREADS];
	uint64_t remote = 0, posted = 0;

	producers_done = 0;
	start(w, THREADS, produce_or_consume);
	for (unsigned int i = 0; i < THREADS; i++)
		posted += w[i].s.posted;
	finish(t, w, THREADS); /* the leftovers too: every object freed off its hart */
	for (unsigned int h = 0; h < THREADS; h++) {
		struct heap_hart_stats s;

		heap_hart_stats(h, &s);
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++)
			remote += s.cls[c].remote_frees;
	}
	/* every consumer's free was remote; of the leftovers, hart 1's (freed by hart 0) too */
	KT_EXPECT_GT(t, w[2].s.taken + w[3].s.taken, 0);
	KT_EXPECT_GE(t, remote, w[2].s.taken + w[3].s.taken);
	KT_EXPECT_LE(t, remote, posted);
}

/* ---- stealing while everyone works ----------------------------------------------------- */

static void steal_body(struct worker *w)
{
	struct heap_stress_worker *s = &w->s;
	void *v[HEAP_EMPTY_HIGH + 1];

	/*
	 * Leave HIGH empty pages behind (the first page freed stays as the
	 * class's spare), then churn small objects of two classes, which
	 * take at most two of them.
	 */
	if (w->hart) {
		for (int i = 0; i <= HEAP_EMPTY_HIGH; i++)
			v[i] = kmalloc(4096);
		for (int i = 0; i <= HEAP_EMPTY_HIGH; i++)
			kfree(v[i]);
		heap_flush(); /* out of the hart's cache: the pages empty */
	}
	pthread_barrier_wait(&barrier);
	if (w->hart == 0) {
		for (int i = 0; i < 20; i++)
			heap_stress_get(s, 4096, 0);
	} else {
		for (int i = 0; i < 2000; i++) {
			if (heap_stress_get(s, 8 + i % 8, 0))
				heap_stress_release(s, s->local[--s->n]);
		}
	}
}

static void pages_stolen_under_load(struct ktest *t)
{
	struct worker w[THREADS];
	struct heap_hart_stats s;

	start(w, THREADS, steal_body);
	heap_hart_stats(0, &s);
	KT_EXPECT_GE(t, s.pages_stolen, 1);
	KT_EXPECT_EQ(t, s.pages_stolen + s.pages_from_buddy, 20);
	ktest_log(t, "hart 0 stole %llu of its 20 pages", (unsigned long long)s.pages_stolen);
	finish(t, w, THREADS);
}

/* ---- the random stress ------------------------------------------------------------------ */

static void stress_body(struct worker *w)
{
	for (unsigned int i = 0; i < OPS; i++)
		heap_stress_step(&w->s);
}

static void random_stress(struct ktest *t)
{
	struct worker w[THREADS];
	unsigned long ops = 0, taken = 0;

	start(w, THREADS, stress_body);
	for (unsigned int i = 0; i < THREADS; i++) {
		ops += w[i].s.allocs + w[i].s.frees;
		taken += w[i].s.taken;
	}
	ktest_log(t, "%lu allocations and frees, %lu blocks crossed harts", ops, taken);
	KT_EXPECT_GT(t, taken, 0);
	finish(t, w, THREADS);
}

/* ---- out of memory, together ------------------------------------------------------------ */

static void oom_body(struct worker *w)
{
	struct heap_stress_worker *s = &w->s;
	struct heap_stress_block b;

	/* everybody allocates until the heap says no, then gives half away to be freed elsewhere */
	for (int round = 0; round < 3; round++) {
		while (s->n < HEAP_STRESS_LOCAL_MAX &&
		       heap_stress_get(s, round == 1 ? 20000 : 1 + heap_stress_rand(&s->rng) % 4096, 0))
			;
		pthread_barrier_wait(&barrier);
		while (s->n > HEAP_STRESS_LOCAL_MAX / 2 && heap_stress_post(s->local[s->n - 1])) {
			s->n--;
			s->posted++;
		}
		pthread_barrier_wait(&barrier);
		while (heap_stress_take(&b))
			heap_stress_release(s, b);
		heap_stress_release_all(s);
		pthread_barrier_wait(&barrier);
	}
}

static void out_of_memory_together(struct ktest *t)
{
	struct worker w[THREADS];
	unsigned long failed = 0;

	heap_host_boot(3ULL << 20, 64 << 10);
	KT_ASSERT(t, heap_host_ready(t, THREADS));
	start(w, THREADS, oom_body);
	for (unsigned int i = 0; i < THREADS; i++)
		failed += w[i].s.failed;
	KT_EXPECT_GT(t, failed, 0); /* it did run out, and said so */
	finish(t, w, THREADS);
}

static const struct ktest_case cases[] = {
	KTEST_CASE(cross_thread_frees),
	KTEST_CASE(pages_stolen_under_load),
	KTEST_CASE(random_stress),
	KTEST_CASE(out_of_memory_together),
	{ 0 },
};

static const struct ktest_suite heap_smp_suite = { "heap_smp", cases, boot, NULL };

const struct ktest_suite *const test_suites[] = { &heap_smp_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
