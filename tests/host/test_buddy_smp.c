// SPDX-License-Identifier: MIT
/*
 * Threads as harts: each thread has its own this_hart_index() and so its own
 * page cache. They allocate, free their own frames and each other's (a
 * shared mailbox carries blocks across), drain each other's caches, look up
 * owners, and run out of memory together. A shadow map claimed atomically
 * catches any frame handed to two owners; a signature in each frame catches
 * the allocator writing where it should not. Afterwards, with every cache
 * drained, the counts must be exact and the free lists as at boot.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/bootmem.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define THREADS 4
#define LOCAL_MAX 256
#define MAILBOX_MAX 1024

struct item {
	phys_addr_t pa;
	uint64_t nr;
	unsigned int order;
	bool range;
};

static struct {
	pthread_mutex_t lock;
	struct item items[MAILBOX_MAX];
	size_t n;
} mailbox = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct worker {
	unsigned int hart;
	unsigned long ops;
	uint64_t rng;
	struct item local[LOCAL_MAX];
	size_t n;
	/* results, read by the main thread after the join */
	unsigned long allocs, frees, foreign_frees, failed, errors;
};

static struct memmap m;
static struct arena_block *initial;
static size_t nr_initial;
static uint64_t initial_free;

static uint64_t signature(phys_addr_t pa)
{
	return pa * 0x9e3779b97f4a7c15ULL ^ 0x5a5a5a5a;
}

static void take_over(struct ktest *t, const struct mem_range *ram, unsigned int n)
{
	phys_addr_t pa;

	arena_machine(&m, ram, n);
	bootmem_reserve(&m, ram[0].base, 0x80000, RESV_RESERVED, "firmware");
	bootmem_alloc(&m, 3 * PAGE_SIZE, 0, BOOTMEM_NO_LIMIT, &pa);
	KT_ASSERT_EQ(t, buddy_init(&m), 0);
	free(initial);
	nr_initial = arena_free_blocks(&initial);
	initial_free = buddy_free_frames();
	mailbox.n = 0;
}

static void got(struct worker *w, struct item it)
{
	struct frame_owner o;

	if (!arena_shadow_claim(it.pa, it.nr))
		w->errors++; /* somebody else holds one of these frames */
	if (frame_owner(it.pa, &o) != 0 || o.tag != FRAME_ALLOCATED || (!it.range && o.head != it.pa))
		w->errors++;
	for (uint64_t i = 0; i < it.nr; i += 7)
		*(uint64_t *)phys_to_virt(it.pa + i * PAGE_SIZE) = signature(it.pa + i * PAGE_SIZE);
	w->local[w->n++] = it;
	w->allocs++;
}

static void release(struct worker *w, struct item it)
{
	int rc;

	for (uint64_t i = 0; i < it.nr; i += 7) {
		if (*(uint64_t *)phys_to_virt(it.pa + i * PAGE_SIZE) != signature(it.pa + i * PAGE_SIZE))
			w->errors++;
	}
	if (!arena_shadow_release(it.pa, it.nr))
		w->errors++;
	rc = it.range ? buddy_free_range(it.pa, it.nr) : buddy_free(it.pa, it.order);
	if (rc != 0)
		w->errors++;
	w->frees++;
}

static void try_alloc(struct worker *w)
{
	unsigned int r = test_rand(&w->rng) % 100;
	struct item it = { 0, 1, 0, false };
	int rc;

	if (r < 75) {
		rc = buddy_alloc(0, &it.pa);
	} else if (r < 92) {
		it.order = 1 + test_rand(&w->rng) % 3;
		it.nr = 1ULL << it.order;
		rc = buddy_alloc(it.order, &it.pa);
	} else {
		it.nr = 1 + test_rand(&w->rng) % 20;
		it.range = true;
		rc = buddy_alloc_range(it.nr, 0, BUDDY_NO_LIMIT, &it.pa);
	}
	if (rc == 0)
		got(w, it);
	else if (rc == -ENOMEM)
		w->failed++;
	else
		w->errors++;
}

static void post(struct worker *w)
{
	pthread_mutex_lock(&mailbox.lock);
	if (mailbox.n < MAILBOX_MAX) {
		struct item it = w->local[--w->n];

		/* the shadow follows the block: the receiver claims it again */
		if (!arena_shadow_release(it.pa, it.nr))
			w->errors++;
		mailbox.items[mailbox.n++] = it;
	}
	pthread_mutex_unlock(&mailbox.lock);
}

/* Frees a block some other hart allocated. */
static void free_foreign(struct worker *w)
{
	struct item it;
	bool have = false;

	pthread_mutex_lock(&mailbox.lock);
	if (mailbox.n) {
		it = mailbox.items[--mailbox.n];
		have = true;
	}
	pthread_mutex_unlock(&mailbox.lock);
	if (!have)
		return;
	if (!arena_shadow_claim(it.pa, it.nr))
		w->errors++;
	release(w, it);
	w->foreign_frees++;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	arena_set_hart(w->hart);
	for (unsigned long op = 0; op < w->ops; op++) {
		unsigned int r = test_rand(&w->rng) % 100;

		if (w->n == LOCAL_MAX || (w->n && r < 35)) {
			size_t i = test_rand(&w->rng) % w->n;
			struct item it = w->local[i];

			w->local[i] = w->local[--w->n];
			release(w, it);
		} else if (r < 80) {
			try_alloc(w);
		} else if (r < 88 && w->n) {
			post(w);
		} else if (r < 96) {
			free_foreign(w);
		} else if (r < 99) {
			buddy_drain_cache(test_rand(&w->rng) % THREADS);
		} else {
			phys_addr_t any = m.ram[0].base + test_rand(&w->rng) % m.ram[0].size;
			struct frame_owner o;

			if (frame_owner(any, &o) != 0 || any - o.head >= (PAGE_SIZE << o.order))
				w->errors++;
		}
	}
	while (w->n)
		release(w, w->local[--w->n]);
	return NULL;
}

static void stress(struct ktest *t, unsigned long ops)
{
	static struct worker workers[THREADS];
	pthread_t tid[THREADS];
	unsigned long allocs = 0, foreign = 0, failed = 0;
	struct arena_block *now;
	size_t n;

	for (unsigned int i = 0; i < THREADS; i++) {
		memset(&workers[i], 0, sizeof(workers[i]));
		workers[i] = (struct worker){ .hart = i, .ops = ops, .rng = 0x1234567ULL * (i + 1) };
		KT_ASSERT_EQ(t, pthread_create(&tid[i], NULL, work, &workers[i]), 0);
	}
	for (unsigned int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		KT_EXPECT_EQ(t, workers[i].errors, 0);
		allocs += workers[i].allocs;
		foreign += workers[i].foreign_frees;
		failed += workers[i].failed;
	}
	/* what is left in the mailbox */
	arena_set_hart(0);
	while (mailbox.n) {
		struct item it = mailbox.items[--mailbox.n];

		KT_EXPECT(t, arena_shadow_claim(it.pa, it.nr));
		KT_EXPECT(t, arena_shadow_release(it.pa, it.nr));
		KT_EXPECT_EQ(t, it.range ? buddy_free_range(it.pa, it.nr) : buddy_free(it.pa, it.order), 0);
	}
	ktest_log(t, "%u harts: %lu allocations, %lu freed by another hart, %lu out of memory",
		  THREADS, allocs, foreign, failed);
	KT_EXPECT_GT(t, foreign, 0);

	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	buddy_drain_caches();
	KT_EXPECT_EQ(t, buddy_free_frames(), initial_free);
	struct buddy_stats s;
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, 0);
	KT_EXPECT_EQ(t, s.allocated, 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	n = arena_free_blocks(&now);
	KT_EXPECT(t, arena_blocks_equal(now, n, initial, nr_initial));
	free(now);
}

/* Plenty of memory: the caches do nearly all the work. */
static void harts_with_plenty(struct ktest *t)
{
	static const struct mem_range ram[] = {
		{ 0x80000000ULL, 0x4000000 },
		{ 0x100000000ULL, 0x2003000 },
	};

	take_over(t, ram, 2);
	stress(t, 200000);
	arena_unmap();
}

/* Scarce memory: harts run out together, and drain each other's caches to go on. */
static void harts_out_of_memory(struct ktest *t)
{
	static const struct mem_range ram[] = {
		{ 0x80000000ULL, 0x100000 },
		{ 0x80200000ULL, 0x81000 },
	};

	take_over(t, ram, 2);
	stress(t, 100000);
	arena_unmap();
}

/* Two harts free the same frame at once: exactly one wins, the other is told. */
static pthread_barrier_t barrier;
static phys_addr_t contested;
static int results[2];
static unsigned int race_reports;

static void count_report(const char *what, phys_addr_t pa)
{
	if (strstr(what, "double free") && pa == contested)
		__atomic_fetch_add(&race_reports, 1, __ATOMIC_RELAXED);
}

static void *racer(void *arg)
{
	unsigned int me = (unsigned int)(uintptr_t)arg;

	arena_set_hart(me + 1);
	for (unsigned int round = 0; round < 2000; round++) {
		pthread_barrier_wait(&barrier); /* contested is set */
		results[me] = buddy_free_ex(contested, round % 3 == 2 ? 1 : 0,
					    round % 3 == 1 ? BUDDY_NOCACHE : 0);
		pthread_barrier_wait(&barrier); /* both done */
	}
	return NULL;
}

static void racing_double_free(struct ktest *t)
{
	static const struct mem_range ram[] = { { 0x80000000ULL, 0x1000000 } };
	pthread_t tid[2];
	unsigned int one_won = 0;

	take_over(t, ram, 1);
	buddy_set_misuse_handler(count_report);
	pthread_barrier_init(&barrier, NULL, 3);
	for (uintptr_t i = 0; i < 2; i++)
		KT_ASSERT_EQ(t, pthread_create(&tid[i], NULL, racer, (void *)i), 0);
	for (unsigned int round = 0; round < 2000; round++) {
		KT_ASSERT_EQ(t, buddy_alloc(round % 3 == 2 ? 1 : 0, &contested), 0);
		pthread_barrier_wait(&barrier);
		pthread_barrier_wait(&barrier);
		one_won += (results[0] == 0) + (results[1] == 0) == 1 &&
			   (results[0] == -EINVAL || results[1] == -EINVAL);
	}
	for (unsigned int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&barrier);
	buddy_set_misuse_handler(NULL);
	KT_EXPECT_EQ(t, one_won, 2000);
	KT_EXPECT_EQ(t, race_reports, 2000);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	buddy_drain_caches();
	KT_EXPECT_EQ(t, buddy_free_frames(), initial_free);
	arena_unmap();
}

static const struct ktest_case cases[] = {
	KTEST_CASE(harts_with_plenty),
	KTEST_CASE(harts_out_of_memory),
	KTEST_CASE(racing_double_free),
	{ 0 },
};

static const struct ktest_suite smp_suite = {
	.name = "buddy_smp",
	.cases = cases,
};

const struct ktest_suite *const test_suites[] = { &smp_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
