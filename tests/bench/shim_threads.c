// SPDX-License-Identifier: MIT
/*
 * Multi-threaded allocation workloads for scripts/bench-shim.sh, run under
 * whatever malloc the process has (glibc's, or one preloaded). Each is a
 * fixed amount of work, not a time, and prints one line
 *
 *	WORKLOAD ops=N seconds=S mops=X
 *
 * N the objects allocated (each one also freed, all within the measured
 * part), S the wall clock (CLOCK_MONOTONIC) from before the first thread
 * is created to after the last is joined and the last object freed.
 *
 *  handoff     producer/consumer: T/2 producers malloc objects of 16..512
 *              bytes, fill them and pass them through lock-free
 *              single-producer single-consumer rings (1024 entries; a
 *              producer moves to the next consumer every 64 objects) to T/2
 *              consumers, which check and free them: every free is
 *              another thread's object.
 *  churn       thread churn: 8000 short-lived threads, T at a time (rounds
 *              of T, joined before the next round starts), each of which
 *              frees the objects the previous round's neighbour left, then
 *              mallocs 200 objects of 16..512 bytes, frees 150 of them in a
 *              random order and leaves 50 to the next round, and exits.
 *  larson      larson-style: T threads each own 1000 slots of 16..1024
 *              bytes; a step frees a random slot and mallocs a new size
 *              into it; 8 million steps in all, each thread's in 40 parts:
 *              after one (50 000 steps with T = 4) a thread hands its slots
 *              to a new thread it creates and exits (the new one joins it),
 *              so the new thread frees what the old one allocated.
 *  smallsizes  T threads each own 4000 slots of 8..256 bytes (steps of 8):
 *              a step picks a random slot and frees it when full, mallocs
 *              into it when empty (about 2000 objects live per thread); a
 *              step in 64 instead mallocs a burst of 32 into empty slots.
 *
 * Every object is filled (a byte pattern, with a word of its own at each end
 * and one in the middle) when allocated and checked before it is freed; a
 * mismatch, a NULL or a pointer that is not 16-aligned (sizes of 16 or more)
 * is reported on stderr and the program exits 1. A deterministic xorshift
 * PRNG per thread, so a run does the same work under every allocator (but
 * for the thread interleaving).
 *
 * usage: shim_threads [-t THREADS] [-s SCALE] handoff|churn|larson|smallsizes
 *        THREADS default 4 (handoff: at least 2); SCALE multiplies the work
 *        (default 1), which is shared among the threads, not per thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/test_rand.h"

static const char *workload;
static unsigned int nthreads = 4;
static double scale = 1.0;

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t rnd(uint64_t *s)
{
	return test_rand(s);
}

static uint64_t seed_for(unsigned int a, unsigned int b)
{
	uint64_t s = splitmix(((uint64_t)a << 32) ^ b ^ 0x5eed);

	return s ? s : 1;
}

static unsigned long work(unsigned long n)
{
	unsigned long v = (unsigned long)(n * scale);

	return v ? v : 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "shim_threads %s: %s\n", workload, buf);
	fflush(stderr);
	_exit(1);
}

/* The word an object of SIZE with TAG carries at offset OFF. */
static inline uint64_t pattern(uint32_t tag, uint32_t size, uint32_t off)
{
	return ((uint64_t)tag << 32 | size) * 0x9e3779b97f4a7c15ULL + off;
}

/* Fills an object: its bytes with the tag's low byte, then the words at the ends and middle. */
static inline void fill(void *p, uint32_t size, uint32_t tag)
{
	char *c = p;
	uint64_t w;

	memset(c, (int)(tag & 0xff), size);
	w = pattern(tag, size, 0);
	memcpy(c, &w, 8);
	if (size >= 16) {
		w = pattern(tag, size, size - 8);
		memcpy(c + size - 8, &w, 8);
	}
	if (size >= 32) {
		uint32_t mid = (size / 2) & ~7u;

		w = pattern(tag, size, mid);
		memcpy(c + mid, &w, 8);
	}
}

static inline void check(const void *p, uint32_t size, uint32_t tag, const char *who)
{
	const unsigned char *c = p;
	uint32_t offs[3] = {0, size - 8, (size / 2) & ~7u};
	unsigned int n = size >= 32 ? 3 : size >= 16 ? 2 : 1;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t w, want = pattern(tag, size, offs[i]);

		memcpy(&w, c + offs[i], 8);
		if (w != want)
			fail("%s: object %p of %u bytes: word at +%u is %#llx, wrote %#llx", who, p,
			     size, offs[i], (unsigned long long)w, (unsigned long long)want);
	}
	if (size > 16 && c[8] != (tag & 0xff))
		fail("%s: object %p of %u bytes: byte at +8 is %#x, wrote %#x", who, p, size, c[8],
		     tag & 0xff);
}

static inline void *alloc(uint32_t size, uint32_t tag, const char *who)
{
	void *p = malloc(size);

	if (!p)
		fail("%s: malloc(%u) returned NULL", who, size);
	if (size >= 16 && ((uintptr_t)p & 15))
		fail("%s: malloc(%u) returned %p, not 16-aligned", who, size, p);
	fill(p, size, tag);
	return p;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);

	if (err)
		fail("pthread_create: %s", strerror(err));
}

static void join(pthread_t t)
{
	int err = pthread_join(t, NULL);

	if (err)
		fail("pthread_join: %s", strerror(err));
}

/* A live object: where, its size and tag. */
struct obj {
	void *p;
	uint32_t size, tag;
};

static inline void release(struct obj *o, const char *who)
{
	check(o->p, o->size, o->tag, who);
	free(o->p);
	o->p = NULL;
}

/* ---- handoff ------------------------------------------------------------------ */

#define RING_SIZE   1024 /* a power of two */
#define HANDOFF_RUN 64	 /* objects to one consumer before moving to the next */

struct ring {
	_Alignas(64) _Atomic unsigned long head; /* the consumer's */
	_Alignas(64) _Atomic unsigned long tail; /* the producer's */
	_Alignas(64) struct obj e[RING_SIZE];
};

static struct ring *rings; /* [producer * consumers + consumer] */
static unsigned int producers, consumers;
static unsigned long handoff_per_producer;

/*
 * Waiting for the other side: spin a little, then yield, then sleep (on 2
 * cores and 4 threads, a thread that spins or yields without end takes
 * the time of the one it waits for).
 */
static void backoff(unsigned int *n)
{
	++*n;
	if (*n < 64) {
		__asm__ volatile("" ::: "memory");
	} else if (*n < 128) {
		sched_yield();
	} else {
		struct timespec ts = {0, 50000};

		nanosleep(&ts, NULL);
	}
}

static void ring_push(struct ring *r, struct obj o)
{
	unsigned long t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned int n = 0;

	while (t - atomic_load_explicit(&r->head, memory_order_acquire) == RING_SIZE)
		backoff(&n);
	r->e[t % RING_SIZE] = o;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

/* 1 and the entry in *o if there is one. */
static int ring_pop(struct ring *r, struct obj *o)
{
	unsigned long h = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (h == atomic_load_explicit(&r->tail, memory_order_acquire))
		return 0;
	*o = r->e[h % RING_SIZE];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return 1;
}

static void *handoff_producer(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	uint64_t s = seed_for(1, id);
	unsigned int c = id % consumers;

	for (unsigned long i = 0; i < handoff_per_producer; i++) {
		struct obj o;

		if (i && i % HANDOFF_RUN == 0)
			c = (c + 1) % consumers;
		o.size = 16 + rnd(&s) % 497;
		o.tag = (uint32_t)rnd(&s);
		o.p = alloc(o.size, o.tag, "producer");
		ring_push(&rings[id * consumers + c], o);
	}
	for (c = 0; c < consumers; c++) /* the end: a NULL to each */
		ring_push(&rings[id * consumers + c], (struct obj){NULL, 0, 0});
	return NULL;
}

static void *handoff_consumer(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	unsigned int open = producers, idle = 0;
	unsigned char *done = calloc(producers, 1);

	if (!done)
		fail("consumer: calloc returned NULL");
	while (open) {
		int got = 0;

		for (unsigned int p = 0; p < producers; p++) {
			struct ring *r = &rings[p * consumers + id];
			struct obj o;

			/* a run at a time from one ring, at most the ring */
			for (unsigned int n = 0; !done[p] && n < RING_SIZE && ring_pop(r, &o);
			     n++) {
				got = 1;
				if (!o.p) {
					done[p] = 1;
					open--;
					break;
				}
				release(&o, "consumer");
			}
		}
		if (got)
			idle = 0;
		else
			backoff(&idle);
	}
	free(done);
	return NULL;
}

static unsigned long run_handoff(void)
{
	pthread_t t[2 * nthreads + 2];

	producers = nthreads / 2 ? nthreads / 2 : 1;
	consumers = nthreads - producers ? nthreads - producers : 1;
	handoff_per_producer = work(4000000) / producers;
	if (posix_memalign((void **)&rings, 64, sizeof(*rings) * producers * consumers))
		fail("posix_memalign of the rings failed");
	memset(rings, 0, sizeof(*rings) * producers * consumers);
	for (unsigned int i = 0; i < consumers; i++)
		start(&t[i], handoff_consumer, (void *)(uintptr_t)i);
	for (unsigned int i = 0; i < producers; i++)
		start(&t[consumers + i], handoff_producer, (void *)(uintptr_t)i);
	for (unsigned int i = 0; i < producers + consumers; i++)
		join(t[i]);
	free(rings);
	return handoff_per_producer * producers;
}

/* ---- churn -------------------------------------------------------------------- */

#define CHURN_ALLOCS 200
#define CHURN_KEEP   50

struct churn_arg {
	unsigned int round, index;
	struct obj *inherit; /* CHURN_KEEP of the previous round's, or NULL */
	struct obj *leave;   /* CHURN_KEEP for the next round */
};

static void *churn_thread(void *arg)
{
	struct churn_arg *a = arg;
	uint64_t s = seed_for(a->round, a->index);
	struct obj o[CHURN_ALLOCS];

	if (a->inherit)
		for (unsigned int i = 0; i < CHURN_KEEP; i++)
			release(&a->inherit[i], "churn (previous round's object)");
	for (unsigned int i = 0; i < CHURN_ALLOCS; i++) {
		o[i].size = 16 + rnd(&s) % 497;
		o[i].tag = (uint32_t)rnd(&s);
		o[i].p = alloc(o[i].size, o[i].tag, "churn");
	}
	/* a random order (Fisher-Yates), the first ones freed, the rest left */
	for (unsigned int i = CHURN_ALLOCS - 1; i > 0; i--) {
		unsigned int j = rnd(&s) % (i + 1);
		struct obj x = o[i];

		o[i] = o[j];
		o[j] = x;
	}
	for (unsigned int i = 0; i < CHURN_ALLOCS - CHURN_KEEP; i++)
		release(&o[i], "churn");
	memcpy(a->leave, &o[CHURN_ALLOCS - CHURN_KEEP], CHURN_KEEP * sizeof(*o));
	return NULL;
}

static unsigned long run_churn(void)
{
	unsigned long rounds = work(8000) / nthreads ? work(8000) / nthreads : 1;
	unsigned int n = nthreads;
	struct obj *left[2];
	struct churn_arg *a = calloc(n, sizeof(*a));
	pthread_t *t = calloc(n, sizeof(*t));

	left[0] = calloc((size_t)n * CHURN_KEEP, sizeof(struct obj));
	left[1] = calloc((size_t)n * CHURN_KEEP, sizeof(struct obj));
	if (!a || !t || !left[0] || !left[1])
		fail("calloc returned NULL");
	for (unsigned long r = 0; r < rounds; r++) {
		for (unsigned int i = 0; i < n; i++) {
			a[i] = (struct churn_arg){
			    .round = (unsigned int)r,
			    .index = i,
			    /* the neighbour's: freed on another thread than the one that made them
			     */
			    .inherit = r ? &left[(r - 1) % 2][((i + 1) % n) * CHURN_KEEP] : NULL,
			    .leave = &left[r % 2][i * CHURN_KEEP],
			};
			start(&t[i], churn_thread, &a[i]);
		}
		for (unsigned int i = 0; i < n; i++)
			join(t[i]);
	}
	for (unsigned int i = 0; i < n * CHURN_KEEP; i++)
		release(&left[(rounds - 1) % 2][i], "churn (the last round's object)");
	free(left[0]);
	free(left[1]);
	free(t);
	free(a);
	return rounds * n * CHURN_ALLOCS;
}

/* ---- larson ------------------------------------------------------------------- */

#define LARSON_SLOTS	   1000
#define LARSON_GENERATIONS 40 /* threads that run on one set of slots, one after the other */

struct larson {
	unsigned int index, generation;
	unsigned long steps; /* before it hands the slots on */
	struct obj slot[LARSON_SLOTS];
	pthread_t prev; /* the thread that handed the slots on, to join */
	int has_prev;
	pthread_t last; /* the last thread, for main to join */
	sem_t done;
};

static void *larson_thread(void *arg)
{
	struct larson *l = arg;
	uint64_t s = seed_for(3 + l->generation, l->index);

	for (unsigned long i = 0; i < l->steps; i++) {
		struct obj *o = &l->slot[rnd(&s) % LARSON_SLOTS];

		release(o, "larson");
		o->size = 16 + rnd(&s) % 1009;
		o->tag = (uint32_t)rnd(&s);
		o->p = alloc(o->size, o->tag, "larson");
	}
	if (l->has_prev)
		join(l->prev);
	if (++l->generation < LARSON_GENERATIONS) {
		pthread_t next;

		/* the next one runs on these slots; this one is done with them */
		l->prev = pthread_self();
		l->has_prev = 1;
		start(&next, larson_thread, l);
		return NULL;
	}
	for (unsigned int i = 0; i < LARSON_SLOTS; i++)
		release(&l->slot[i], "larson (end)");
	l->last = pthread_self();
	sem_post(&l->done);
	return NULL;
}

static unsigned long run_larson(void)
{
	unsigned long steps = work(8000000) / nthreads / LARSON_GENERATIONS;
	struct larson *l = calloc(nthreads, sizeof(*l));

	if (!steps)
		steps = 1;
	if (!l)
		fail("calloc returned NULL");
	/* the slots' first objects, by this thread (the steps' frees start there) */
	for (unsigned int t = 0; t < nthreads; t++) {
		uint64_t s = seed_for(2, t);

		l[t].index = t;
		l[t].steps = steps;
		sem_init(&l[t].done, 0, 0);
		for (unsigned int i = 0; i < LARSON_SLOTS; i++) {
			struct obj *o = &l[t].slot[i];

			o->size = 16 + rnd(&s) % 1009;
			o->tag = (uint32_t)rnd(&s);
			o->p = alloc(o->size, o->tag, "larson (set-up)");
		}
	}
	for (unsigned int t = 0; t < nthreads; t++) {
		pthread_t first;

		start(&first, larson_thread, &l[t]);
	}
	for (unsigned int t = 0; t < nthreads; t++) {
		while (sem_wait(&l[t].done))
			;
		join(l[t].last);
		sem_destroy(&l[t].done);
	}
	free(l);
	return nthreads * (LARSON_SLOTS + LARSON_GENERATIONS * steps);
}

/* ---- smallsizes --------------------------------------------------------------- */

#define SMALL_SLOTS 4000
#define SMALL_BURST 32

static unsigned long small_steps;
static _Atomic unsigned long small_allocs;

static void *small_thread(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	uint64_t s = seed_for(4, id);
	struct obj *slot = calloc(SMALL_SLOTS, sizeof(*slot));
	unsigned long allocs = 0;

	if (!slot)
		fail("calloc returned NULL");
	for (unsigned long i = 0; i < small_steps; i++) {
		uint64_t r = rnd(&s);
		unsigned int k = (unsigned int)(r >> 32) % SMALL_SLOTS;
		unsigned int burst = (r & 63) == 0 ? SMALL_BURST : 1;

		if (burst == 1 && slot[k].p) {
			release(&slot[k], "smallsizes");
			continue;
		}
		for (unsigned int b = 0; b < burst; b++, k = (k + 1) % SMALL_SLOTS) {
			struct obj *o = &slot[k];

			if (o->p)
				continue;
			o->size = 8 * (1 + rnd(&s) % 32);
			o->tag = (uint32_t)rnd(&s);
			o->p = alloc(o->size, o->tag, "smallsizes");
			allocs++;
		}
	}
	for (unsigned int k = 0; k < SMALL_SLOTS; k++)
		if (slot[k].p)
			release(&slot[k], "smallsizes (end)");
	free(slot);
	atomic_fetch_add(&small_allocs, allocs);
	return NULL;
}

static unsigned long run_smallsizes(void)
{
	pthread_t t[nthreads];

	small_steps = work(16000000) / nthreads;
	for (unsigned int i = 0; i < nthreads; i++)
		start(&t[i], small_thread, (void *)(uintptr_t)i);
	for (unsigned int i = 0; i < nthreads; i++)
		join(t[i]);
	return atomic_load(&small_allocs);
}

/* ---- main --------------------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned long (*run)(void);
} workloads[] = {
    {"handoff", run_handoff},
    {"churn", run_churn},
    {"larson", run_larson},
    {"smallsizes", run_smallsizes},
};

static void __attribute__((noreturn)) usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t THREADS] [-s SCALE] handoff|churn|larson|smallsizes\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "t:s:")) != -1) {
		switch (c) {
		case 't': nthreads = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 's': scale = strtod(optarg, NULL); break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc - 1 || !nthreads || nthreads > 1024 || !(scale > 0))
		usage(argv[0]);
	workload = argv[optind];
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		if (strcmp(workload, workloads[i].name))
			continue;
		double t0 = now();
		unsigned long ops = workloads[i].run();
		double t = now() - t0;

		printf("%s ops=%lu seconds=%.3f mops=%.2f\n", workload, ops, t, ops / t / 1e6);
		return 0;
	}
	usage(argv[0]);
}
