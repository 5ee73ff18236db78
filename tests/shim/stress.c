// SPDX-License-Identifier: MIT
/*
 * A multi-threaded stress through the preloaded library: waves of threads
 * that are created, work and exit; each allocates (malloc, calloc,
 * posix_memalign), resizes (realloc), frees, and hands blocks to other
 * threads through a shared mailbox, so blocks are freed and resized by
 * threads that did not allocate them, also after their allocating thread
 * has exited. Every block carries its size and a seed in its first bytes
 * and a pattern after them, checked by whoever takes it next.
 *
 * usage: LD_PRELOAD=libmemcore-<strategy>.so stress   (prints KTAP)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>

#include "shim_test.h"

#define MAILBOX 512
#define LOCAL	96

/* A block's first 16 bytes say what the rest must be. */
struct head {
	uint64_t size, seed;
};

static struct head *mailbox[MAILBOX];
static uint64_t errors;

static void error(const char *what, const void *p, uint64_t size)
{
	if (__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED) < 10)
		printf("    # %s: block %p of %llu bytes\n", what, p, (unsigned long long)size);
}

static size_t random_size(uint64_t *s)
{
	uint64_t r = test_rand(s) % 100;

	if (r < 60)
		return 16 + test_rand(s) % 113;
	if (r < 87)
		return 16 + test_rand(s) % 1009;
	if (r < 99)
		return 16 + test_rand(s) % 16369;
	return 16 + test_rand(s) % 300000;
}

static void stamp(struct head *h, size_t size, uint64_t seed)
{
	h->size = size;
	h->seed = seed;
	shim_fill(h + 1, size - sizeof(*h), seed);
}

/* Checks a block's contents up to limit bytes (its whole size if limit is larger). */
static bool intact(const struct head *h, size_t limit)
{
	size_t n = h->size < limit ? h->size : limit;

	return n < sizeof(*h) || shim_check(h + 1, n - sizeof(*h), h->seed);
}

static void drop(struct head *h)
{
	if (!h)
		return;
	if (!intact(h, SIZE_MAX))
		error("changed before its free", h, h->size);
	free(h);
}

struct worker {
	pthread_t thread;
	uint64_t seed, iterations;
};

static struct head *new_block(uint64_t *s)
{
	size_t size = random_size(s);
	uint64_t r = test_rand(s) % 10;
	struct head *h = NULL;

	if (r == 0) {
		size_t align = 16UL << (test_rand(s) % 13);

		if (posix_memalign((void **)&h, align, size))
			h = NULL;
		if (h && ((uintptr_t)h & (align - 1)))
			error("misaligned posix_memalign", h, align);
	} else if (r == 1) {
		unsigned char *z = calloc(1, size);

		for (size_t i = 0; z && i < size; i++)
			if (z[i]) {
				error("calloc not zero", z, size);
				break;
			}
		h = (struct head *)z;
	} else {
		h = malloc(size);
	}
	if (!h) {
		error("allocation failed", NULL, size);
		return NULL;
	}
	if (((uintptr_t)h & 15) || malloc_usable_size(h) < size)
		error("misaligned or short", h, size);
	stamp(h, size, test_rand(s));
	return h;
}

static struct head *resize(struct head *h, uint64_t *s)
{
	size_t size = random_size(s);
	size_t old = h->size;
	uint64_t seed = h->seed;
	struct head *n = realloc(h, size);

	if (!n) {
		error("realloc failed", h, size);
		return h;
	}
	if (n->size != old || n->seed != seed || !intact(n, size))
		error("realloc lost the contents", n, size);
	stamp(n, size, test_rand(s));
	return n;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct head *local[LOCAL] = {0};
	uint64_t s = w->seed;

	for (uint64_t it = 0; it < w->iterations; it++) {
		unsigned int i = test_rand(&s) % LOCAL;
		uint64_t op = test_rand(&s) % 100;

		if (op < 45) {
			drop(local[i]);
			local[i] = new_block(&s);
		} else if (op < 60 && local[i]) {
			local[i] = resize(local[i], &s);
		} else if (op < 85) {
			/* hand ours over, take whatever another thread left there */
			struct head *mine = local[i] ? local[i] : new_block(&s);
			struct head **box = &mailbox[test_rand(&s) % MAILBOX];

			local[i] = __atomic_exchange_n(box, mine, __ATOMIC_ACQ_REL);
			if (local[i] && !intact(local[i], SIZE_MAX))
				error("changed in the mailbox", local[i], local[i]->size);
		} else {
			drop(local[i]);
			local[i] = NULL;
		}
	}
	/* half freed here, half left for others: they outlive this thread */
	for (unsigned int i = 0; i < LOCAL; i++) {
		if (i % 2 || !local[i]) {
			drop(local[i]);
			continue;
		}
		drop(__atomic_exchange_n(&mailbox[(s + i) % MAILBOX], local[i], __ATOMIC_ACQ_REL));
	}
	return NULL;
}

/* rounds waves of n threads, each thread iterations operations. */
static void waves(unsigned int rounds, unsigned int n, uint64_t iterations)
{
	struct worker *w = calloc(n, sizeof(*w));

	for (unsigned int r = 0; r < rounds; r++) {
		for (unsigned int i = 0; i < n; i++) {
			w[i].seed = (uint64_t)r * 7919 + i * 104729 + n + 1;
			w[i].iterations = iterations;
			CHECK(pthread_create(&w[i].thread, NULL, work, &w[i]) == 0,
			      "pthread_create");
		}
		for (unsigned int i = 0; i < n; i++)
			pthread_join(w[i].thread, NULL);
	}
	free(w);
	CHECK(errors == 0, "%llu errors", (unsigned long long)errors);
}

static void two_threads(void)
{
	waves(10, 2, 10000);
}

static void eight_threads(void)
{
	waves(4, 8, 6000);
}

/* More threads alive at once than the library has harts: they share them. */
static void hundred_threads(void)
{
	waves(2, 100, 800);
}

/* Everything left in the mailbox, from threads long gone, is intact and can be freed. */
static void drain(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MAILBOX; i++) {
		struct head *h = __atomic_exchange_n(&mailbox[i], NULL, __ATOMIC_ACQ_REL);

		n += h != NULL;
		drop(h);
	}
	CHECK(n > MAILBOX / 2, "only %u blocks were left in the mailbox", n);
	CHECK(errors == 0, "%llu errors", (unsigned long long)errors);
}

int main(void)
{
	static const struct shim_case cases[] = {
	    {"two-threads", two_threads},
	    {"eight-threads", eight_threads},
	    {"hundred-threads", hundred_threads},
	    {"mailbox-drained", drain},
	};

	if (!shim_is_preloaded() && !getenv("SHIM_ANY")) {
		printf("KTAP version 1\n1..1\nnot ok 1 shim-stress # malloc is not libmemcore's\n");
		return 1;
	}
	return shim_run_cases("shim-stress", cases, sizeof(cases) / sizeof(*cases));
}
