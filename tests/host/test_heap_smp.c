// SPDX-License-Identifier: MIT
/*
 * Threads as harts on the heap: objects allocated on one hart and freed on
 * another, pages stolen while every hart works, a random stress of every
 * kind of allocation with blocks crossing harts, and running out of memory
 * together. Each block carries a pattern derived from its address, checked
 * when it is freed: a block handed out twice, or written by the heap while
 * in use, shows. Afterwards every heap is empty and the buddy is as before.
 *
 * Also built with ThreadSanitizer (build/host/test_heap_smp_tsan), with
 * fewer operations.
 */
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
#define LOCAL_MAX 200
#define MAILBOX_MAX 4096
#ifdef __SANITIZE_THREAD__
#define OPS 6000
#else
#define OPS 60000
#endif

struct block {
	void *p;
	size_t size;
};

static struct {
	pthread_mutex_t lock;
	struct block b[MAILBOX_MAX];
	size_t n;
} mailbox = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_barrier_t barrier;

struct worker {
	unsigned int hart;
	uint64_t rng;
	void (*body)(struct worker *w);
	struct block local[LOCAL_MAX];
	size_t n;
	/* results, read after the join */
	unsigned long allocs, frees, posted, taken, failed, errors;
};

/*
 * The pattern over the first 8 KiB and the last 512 bytes or so (from an
 * offset that keeps it in step with the first part): enough to see a
 * block overlap another.
 */
static size_t tail(size_t size)
{
	return MAX((size_t)8192, (size - 512) & ~(size_t)7);
}

static void fill(const struct block *b)
{
	heap_host_fill(b->p, MIN(b->size, (size_t)8192));
	if (b->size > 8192)
		heap_host_fill((char *)b->p + tail(b->size), b->size - tail(b->size));
}

/* The whole block as fill() left it. */
static bool check(const struct block *b)
{
	bool ok = heap_host_check(b->p, MIN(b->size, (size_t)8192));

	if (b->size > 8192)
		ok &= heap_host_check((char *)b->p + tail(b->size), b->size - tail(b->size));
	return ok;
}

/* What krealloc() kept of a block filled at origin: its first size bytes (up to 8 KiB). */
static bool check_moved(const struct block *b, const void *origin, size_t size)
{
	return heap_host_check_as(b->p, origin, MIN(size, (size_t)8192));
}

static bool post(struct block b)
{
	bool ok;

	pthread_mutex_lock(&mailbox.lock);
	ok = mailbox.n < MAILBOX_MAX;
	if (ok)
		mailbox.b[mailbox.n++] = b;
	pthread_mutex_unlock(&mailbox.lock);
	return ok;
}

static bool take(struct block *b)
{
	bool ok;

	pthread_mutex_lock(&mailbox.lock);
	ok = mailbox.n > 0;
	if (ok)
		*b = mailbox.b[--mailbox.n];
	pthread_mutex_unlock(&mailbox.lock);
	return ok;
}

static void release(struct worker *w, struct block b)
{
	w->errors += !check(&b);
	kfree(b.p);
	w->frees++;
}

static void *run(void *arg)
{
	struct worker *w = arg;

	arena_set_hart(w->hart);
	w->body(w);
	while (w->n)
		release(w, w->local[--w->n]);
	return NULL;
}

static void start(struct worker *w, unsigned int n, void (*body)(struct worker *))
{
	pthread_t th[THREADS];

	pthread_barrier_init(&barrier, NULL, n);
	for (unsigned int i = 0; i < n; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].hart = i;
		w[i].rng = 0x1234567ULL * (i + 1);
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
	struct block b;
	unsigned long errors = 0, allocs = 0, frees = 0;

	arena_set_hart(0);
	while (take(&b)) {
		errors += !check(&b);
		kfree(b.p);
		frees++;
	}
	for (unsigned int i = 0; i < n; i++) {
		errors += w[i].errors;
		allocs += w[i].allocs;
		frees += w[i].frees;
	}
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

static bool get(struct worker *w, size_t size, size_t align)
{
	struct block b = { align ? kmalloc_aligned(size, align) : kmalloc(size), size };

	if (!b.p) {
		w->failed++;
		return false;
	}
	w->errors += align && !IS_ALIGNED((uintptr_t)b.p, align);
	w->errors += ksize(b.p) < size;
	fill(&b);
	w->local[w->n++] = b;
	w->allocs++;
	return true;
}

/* ---- producers and consumers ---------------------------------------------------------- */

static unsigned int producers_done;

/* Producers allocate and post; consumers free what they take until every producer is done. */
static void produce_or_consume(struct worker *w)
{
	struct block b;

	if (w->hart < THREADS / 2) {
		for (unsigned int i = 0; i < OPS / 2; i++) {
			if (get(w, 1 + arena_rand(&w->rng) % 2048, 0)) {
				b = w->local[--w->n];
				if (post(b))
					w->posted++;
				else
					release(w, b);
			}
		}
		__atomic_fetch_add(&producers_done, 1, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) < THREADS / 2) {
		if (take(&b)) {
			release(w, b);
			w->taken++;
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
		posted += w[i].posted;
	finish(t, w, THREADS); /* the leftovers too: every object freed off its hart */
	for (unsigned int h = 0; h < THREADS; h++) {
		struct heap_hart_stats s;

		heap_hart_stats(h, &s);
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++)
			remote += s.cls[c].remote_frees;
	}
	/* every consumer's free was remote; of the leftovers, hart 1's (freed by hart 0) too */
	KT_EXPECT_GT(t, w[2].taken + w[3].taken, 0);
	KT_EXPECT_GE(t, remote, w[2].taken + w[3].taken);
	KT_EXPECT_LE(t, remote, posted);
}

/* ---- stealing while everyone works ----------------------------------------------------- */

static void steal_body(struct worker *w)
{
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
	}
	pthread_barrier_wait(&barrier);
	if (w->hart == 0) {
		for (int i = 0; i < 20; i++)
			get(w, 4096, 0);
	} else {
		for (int i = 0; i < 2000; i++) {
			if (get(w, 8 + i % 8, 0))
				release(w, w->local[--w->n]);
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

static size_t random_size(struct worker *w)
{
	unsigned int r = arena_rand(&w->rng) % 100;

	if (r < 70)
		return arena_rand(&w->rng) % 512;
	if (r < 95)
		return 512 + arena_rand(&w->rng) % (HEAP_SLAB_MAX_SIZE - 511);
	return HEAP_SLAB_MAX_SIZE + 1 + arena_rand(&w->rng) % (200 << 10);
}

static void grow_or_shrink(struct worker *w)
{
	struct block *b = &w->local[arena_rand(&w->rng) % w->n];
	size_t size = 1 + random_size(w); /* not 0: krealloc(p, 0) is a free */
	void *old = b->p, *n;

	n = krealloc(old, size);
	if (!n) {
		w->failed++;
		return;
	}
	b->p = n;
	w->errors += !check_moved(b, old, MIN(b->size, size));
	b->size = size;
	fill(b);
}

static void stress_body(struct worker *w)
{
	for (unsigned int i = 0; i < OPS; i++) {
		unsigned int r = arena_rand(&w->rng) % 100;
		struct block b;

		if (r < 40 && w->n < LOCAL_MAX) {
			get(w, random_size(w), 0);
		} else if (r < 45 && w->n < LOCAL_MAX) {
			get(w, arena_rand(&w->rng) % 5000, 16u << (arena_rand(&w->rng) % 10));
		} else if (r < 55 && w->n) {
			grow_or_shrink(w);
		} else if (r < 75 && w->n) {
			size_t k = arena_rand(&w->rng) % w->n;

			b = w->local[k];
			w->local[k] = w->local[--w->n];
			release(w, b);
		} else if (r < 88 && w->n) {
			if (post(w->local[w->n - 1])) {
				w->n--;
				w->posted++;
			}
		} else if (take(&b)) {
			release(w, b);
			w->taken++;
		}
	}
}

static void random_stress(struct ktest *t)
{
	struct worker w[THREADS];
	unsigned long ops = 0;

	start(w, THREADS, stress_body);
	for (unsigned int i = 0; i < THREADS; i++)
		ops += w[i].allocs + w[i].frees;
	ktest_log(t, "%lu allocations and frees, %lu blocks crossed harts", ops,
		  w[0].taken + w[1].taken + w[2].taken + w[3].taken);
	finish(t, w, THREADS);
}

/* ---- out of memory, together ------------------------------------------------------------ */

static void oom_body(struct worker *w)
{
	/* everybody allocates until the heap says no, then gives half away to be freed elsewhere */
	for (int round = 0; round < 3; round++) {
		while (w->n < LOCAL_MAX && get(w, round == 1 ? 20000 : 1 + arena_rand(&w->rng) % 4096, 0))
			;
		pthread_barrier_wait(&barrier);
		while (w->n > LOCAL_MAX / 2 && post(w->local[w->n - 1])) {
			w->n--;
			w->posted++;
		}
		pthread_barrier_wait(&barrier);
		struct block b;
		while (take(&b))
			release(w, b);
		while (w->n)
			release(w, w->local[--w->n]);
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
		failed += w[i].failed;
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
