// SPDX-License-Identifier: MIT
/*
 * What a C library's malloc must do, checked through the preloaded
 * library: errno and the return values glibc documents, 16-byte alignment
 * and malloc_usable_size() >= the request for every size, no two blocks
 * overlapping, zeroing, realloc()'s contract, the aligned allocators,
 * fork() (also while other threads allocate), threads coming and going,
 * more threads than harts, growth to gigabytes and memory given back.
 *
 * usage: LD_PRELOAD=libmemcore-<strategy>.so conformance   (prints KTAP)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim_test.h"

#define MiB (1024UL * 1024)

static void preloaded(void)
{
	CHECK(shim_is_preloaded(), "malloc is not libmemcore's: run with LD_PRELOAD");
}

/* Sizes nothing can satisfy: NULL and ENOMEM, and what was there stays. */
static void enomem(void)
{
	volatile size_t max = SIZE_MAX; /* the compiler would refuse the constants */
	void *p, *q;

	errno = 0;
	CHECK(malloc(max) == NULL && errno == ENOMEM, "malloc(SIZE_MAX): errno %d", errno);
	errno = 0;
	CHECK(malloc(max / 2 + 1) == NULL && errno == ENOMEM, "errno %d", errno);
	errno = 0;
	CHECK(calloc(max / 2, 3) == NULL && errno == ENOMEM, "calloc overflow: errno %d", errno);
	errno = 0;
	CHECK(calloc(max >> 24, 1UL << 30) == NULL && errno == ENOMEM, "errno %d", errno);
	errno = 0;
	CHECK(pvalloc(max) == NULL && errno == ENOMEM, "pvalloc(max): errno %d", errno);
	errno = 0;
	CHECK(aligned_alloc(64, max - 32) == NULL && errno == ENOMEM, "errno %d", errno);
	errno = 0;
	CHECK(memalign(4096, max / 2) == NULL && errno == ENOMEM, "errno %d", errno);

	p = malloc(100);
	shim_fill(p, 100, 7);
	errno = 0;
	q = realloc(p, max - 4096);
	CHECK(q == NULL && errno == ENOMEM, "realloc to SIZE_MAX: %p errno %d", q, errno);
	errno = 0;
	q = reallocarray(p, max / 4, 8);
	CHECK(q == NULL && errno == ENOMEM, "reallocarray overflow: %p errno %d", q, errno);
	CHECK(shim_check(p, 100, 7), "a failed realloc changed the block");
	free(p);

	/* posix_memalign returns the error and leaves errno and *out alone */
	p = (void *)0x1234;
	errno = EBADF;
	CHECK(posix_memalign(&p, 64, max - 64) == ENOMEM, "posix_memalign huge");
	CHECK(errno == EBADF && p == (void *)0x1234, "errno %d, out %p", errno, p);
}

static void bad_alignment(void)
{
	static const size_t bad_posix[] = {0, 1, 2, 4, 12, 24, 48, 100, 3 << 20};
	static const size_t bad_pow2[] = {0, 3, 24, 48, 100, 4095, (3 << 20)};
	void *p;

	for (size_t i = 0; i < sizeof(bad_posix) / sizeof(*bad_posix); i++) {
		p = (void *)0x1234;
		errno = EBADF;
		CHECK(posix_memalign(&p, bad_posix[i], 64) == EINVAL, "posix_memalign(%zu)",
		      bad_posix[i]);
		CHECK(errno == EBADF && p == (void *)0x1234, "alignment %zu: errno %d, out %p",
		      bad_posix[i], errno, p);
	}
	for (size_t i = 0; i < sizeof(bad_pow2) / sizeof(*bad_pow2); i++) {
		errno = 0;
		p = aligned_alloc(bad_pow2[i], 64);
		CHECK(!p && errno == EINVAL, "aligned_alloc(%zu): %p errno %d", bad_pow2[i], p,
		      errno);
		free(p);
		if (bad_pow2[i] <= 16)
			continue; /* memalign takes these as malloc, as glibc does */
		/* and rounds the others up to a power of two, as glibc does */
		p = memalign(bad_pow2[i], 64);
		CHECK(p &&
			  !((uintptr_t)p & (((size_t)2 << (63 - __builtin_clzl(bad_pow2[i]))) - 1)),
		      "memalign(%zu): %p", bad_pow2[i], p);
		free(p);
	}
	errno = 0;
	p = memalign(SIZE_MAX / 2 + 2, 64);
	CHECK(!p && errno == EINVAL, "memalign(SIZE_MAX / 2 + 2): %p errno %d", p, errno);
	for (size_t a = 0; a <= 16; a++) {
		p = memalign(a, 40);
		CHECK(p && ((uintptr_t)p & 15) == 0, "memalign(%zu, 40) = %p", a, p);
		free(p);
	}
}

struct block {
	unsigned char *p;
	size_t size, usable;
};

static int by_address(const void *a, const void *b)
{
	const struct block *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

/*
 * Blocks of every size up to 9000 (each class, bin, level and page edge of
 * every strategy) and a spread beyond, all live at once: aligned to 16,
 * usable >= asked, filled to their usable end, none overlapping another,
 * contents intact at the end.
 */
static void every_size(void)
{
	size_t n = 0, cap = 12000;
	struct block *b = calloc(cap, sizeof(*b));
	unsigned int bad = 0;

	for (size_t size = 0; size < 300000 && n < cap; size += size < 9000 ? 1 : 1237) {
		b[n].p = malloc(size);
		b[n].size = size;
		if (!b[n].p) {
			CHECK(0, "malloc(%zu) failed", size);
			break;
		}
		b[n].usable = malloc_usable_size(b[n].p);
		if ((((uintptr_t)b[n].p & 15) || b[n].usable < size) && bad++ < 5)
			CHECK(0, "malloc(%zu) = %p, usable %zu", size, b[n].p, b[n].usable);
		shim_fill(b[n].p, b[n].usable, (uintptr_t)b[n].p);
		n++;
	}
	for (size_t shift = 14; shift <= 25; shift++) {
		for (int d = -1; d <= 1 && n < cap; d++) {
			size_t size = (1UL << shift) + d;

			b[n] = (struct block){malloc(size), size, 0};
			CHECK(b[n].p && ((uintptr_t)b[n].p & 15) == 0, "malloc(%zu) = %p", size,
			      b[n].p);
			if (!b[n].p)
				continue;
			b[n].usable = malloc_usable_size(b[n].p);
			CHECK(b[n].usable >= size, "usable %zu < %zu", b[n].usable, size);
			shim_fill(b[n].p, b[n].usable, (uintptr_t)b[n].p);
			n++;
		}
	}
	qsort(b, n, sizeof(*b), by_address);
	for (size_t i = 0; i + 1 < n; i++)
		CHECK(b[i].p + b[i].usable <= b[i + 1].p, "%p+%zu overlaps %p", b[i].p, b[i].usable,
		      b[i + 1].p);
	for (size_t i = 0; i < n; i++) {
		CHECK(shim_check(b[i].p, b[i].usable, (uintptr_t)b[i].p), "block %p (%zu) changed",
		      b[i].p, b[i].size);
		free(b[i].p);
	}
	free(b);
}

/* malloc(0) and calloc(0, n): unique pointers that can be freed. */
static void zero_size(void)
{
	enum { N = 1000 };
	struct block *b = calloc(N, sizeof(*b));

	for (int i = 0; i < N; i++) {
		b[i].p = i & 1 ? malloc(0) : calloc(0, 8);
		CHECK(b[i].p != NULL, "%s(0) = NULL", i & 1 ? "malloc" : "calloc");
		b[i].usable = b[i].p ? 1 : 0;
	}
	qsort(b, N, sizeof(*b), by_address);
	for (int i = 0; i + 1 < N; i++)
		CHECK(b[i].p != b[i + 1].p, "two zero-size blocks at %p", b[i].p);
	for (int i = 0; i < N; i++)
		free(b[i].p);
	free(b);
}

/* calloc() of memory that was just dirtied and freed is zero. */
static void calloc_zeroes(void)
{
	static const size_t sizes[] = {1,    8,	   16,	 24,	100,   1000,	2048,
				       4096, 8000, 8200, 16384, 70000, 1 << 20, 5 << 20};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		for (int round = 0; round < 3; round++) {
			unsigned char *p = malloc(sizes[i]), *z;
			size_t nonzero = 0;

			memset(p, 0xa5, malloc_usable_size(p));
			free(p);
			z = calloc(1, sizes[i]);
			for (size_t k = 0; z && k < sizes[i]; k++)
				nonzero += z[k] != 0;
			CHECK(z && nonzero == 0, "calloc(%zu): %zu bytes not zero", sizes[i],
			      nonzero);
			free(z);
		}
	}
}

/* realloc() across every kind of boundary: contents kept, alignment kept, glibc's edge cases. */
static void realloc_contract(void)
{
	unsigned char *p = realloc(NULL, 10);
	size_t size = 10;

	CHECK(p != NULL, "realloc(NULL, 10)");
	shim_fill(p, size, 99);
	while (size < (8UL << 20)) {
		size_t next = size * 3 / 2 + 7;
		unsigned char *q = realloc(p, next);

		CHECK(q && ((uintptr_t)q & 15) == 0, "realloc to %zu = %p", next, q);
		if (!q)
			return;
		CHECK(shim_check(q, size, 99), "growing to %zu lost the contents", next);
		shim_fill(q, next, 99);
		p = q;
		size = next;
	}
	while (size > 2) {
		size_t next = size / 3 + 1;
		unsigned char *q = realloc(p, next);

		CHECK(q && ((uintptr_t)q & 15) == 0, "realloc to %zu = %p", next, q);
		if (!q)
			return;
		CHECK(shim_check(q, next, 99), "shrinking to %zu lost the contents", next);
		CHECK(malloc_usable_size(q) >= next, "usable %zu < %zu", malloc_usable_size(q),
		      next);
		p = q;
		size = next;
	}
	errno = 0;
	CHECK(realloc(p, 0) == NULL, "realloc(p, 0) frees and returns NULL (glibc)");
	p = reallocarray(NULL, 100, 3);
	CHECK(p && malloc_usable_size(p) >= 300, "reallocarray(NULL, 100, 3)");
	CHECK(reallocarray(p, 0, 3) == NULL, "reallocarray(p, 0, 3) frees");
}

/* memalign, posix_memalign, aligned_alloc, valloc, pvalloc: every alignment to 4 MiB. */
static void aligned_family(void)
{
	size_t page = (size_t)getpagesize();

	for (size_t align = 16; align <= (4UL << 20); align *= 2) {
		size_t sizes[] = {0, 1, align - 1, align, align + 1, 3 * align};

		for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
			void *p[3] = {NULL, NULL, NULL};

			CHECK(posix_memalign(&p[0], align, sizes[i]) == 0, "posix_memalign");
			p[1] = memalign(align, sizes[i]);
			p[2] = aligned_alloc(align, sizes[i]);
			for (int k = 0; k < 3; k++) {
				/* size 0 too: a unique block of at least a byte */
				CHECK(p[k] && ((uintptr_t)p[k] & (align - 1)) == 0 &&
					  malloc_usable_size(p[k]) >= (sizes[i] ? sizes[i] : 1) &&
					  p[k] != p[(k + 1) % 3],
				      "#%d: align %zu size %zu: %p", k, align, sizes[i], p[k]);
				if (p[k])
					memset(p[k], 0x5a, sizes[i]);
			}
			for (int k = 0; k < 3; k++)
				free(p[k]);
		}
	}
	for (size_t size = 0; size < 3 * page; size += page / 2 - 1) {
		void *v = valloc(size), *pv = pvalloc(size);

		CHECK(v && ((uintptr_t)v & (page - 1)) == 0 &&
			  malloc_usable_size(v) >= (size ? size : 1) && v != pv,
		      "valloc(%zu) = %p", size, v);
		CHECK(pv && ((uintptr_t)pv & (page - 1)) == 0 &&
			  malloc_usable_size(pv) >= ((size + page - 1) & ~(page - 1)),
		      "pvalloc(%zu) = %p usable %zu", size, pv, pv ? malloc_usable_size(pv) : 0);
		free(v);
		free(pv);
	}
	CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL)");
}

/* A call that succeeds leaves errno as it was, even when it had to grow the heap. */
static void errno_kept(void)
{
	void *p[8];

	errno = EBADF;
	for (int i = 0; i < 8; i++)
		p[i] = malloc((64UL << 20) + (size_t)i * 4096);
	for (int i = 0; i < 8; i++)
		free(p[i]);
	p[0] = calloc(1000, 1000);
	free(p[0]);
	CHECK(errno == EBADF, "errno changed to %d", errno);
}

/* ---- fork ------------------------------------------------------------------- */

/* The child frees its parent's blocks and allocates its own; the parent's stay as they were. */
static void fork_child_heap(void)
{
	enum { N = 2000 };
	unsigned char **b = malloc(N * sizeof(*b));
	int status;
	pid_t pid;

	for (int i = 0; i < N; i++) {
		b[i] = malloc((size_t)(i % 700) * 13 + 1);
		shim_fill(b[i], (size_t)(i % 700) * 13 + 1, (uint64_t)i);
	}
	pid = fork();
	if (pid == 0) {
		int bad = 0;

		for (int i = 0; i < N; i += 2) {
			bad += !shim_check(b[i], (size_t)(i % 700) * 13 + 1, (uint64_t)i);
			memset(b[i], 0, (size_t)(i % 700) * 13 + 1);
			free(b[i]);
			b[i] = malloc(100000);
			memset(b[i], 0xee, 100000);
		}
		for (int i = 0; i < N; i += 2)
			free(b[i]);
		_exit(bad ? 2 : 0);
	}
	CHECK(pid > 0, "fork failed");
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child status %#x", status);
	for (int i = 0; i < N; i++) {
		CHECK(shim_check(b[i], (size_t)(i % 700) * 13 + 1, (uint64_t)i), "block %d changed",
		      i);
		free(b[i]);
	}
	free(b);
}

static volatile bool stop_workers;

static void *churn(void *arg)
{
	uint64_t s = (uintptr_t)arg + 1;
	void *keep[64] = {0};

	while (!__atomic_load_n(&stop_workers, __ATOMIC_RELAXED)) {
		unsigned int i = test_rand(&s) % 64;

		free(keep[i]);
		keep[i] = malloc(test_rand(&s) % (i < 60 ? 2000 : 200000));
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	return NULL;
}

/*
 * fork() while other threads allocate and free: the child must find the
 * heap consistent and unlocked (a lock held at the fork would hang it: the
 * alarm makes that a failure, not a hang).
 */
static void fork_with_threads(void)
{
	pthread_t t[4];
	unsigned int bad = 0;

	stop_workers = false;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i);
	for (int round = 0; round < 40; round++) {
		int status;
		pid_t pid = fork();

		if (pid == 0) {
			alarm(10);
			for (int i = 0; i < 2000; i++)
				free(malloc((size_t)i * 37 % 30000));
			pthread_t c;
			pthread_create(&c, NULL, churn, NULL); /* threads work in the child too */
			stop_workers = true;
			pthread_join(c, NULL);
			_exit(0);
		}
		if ((waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		     WEXITSTATUS(status)) &&
		    bad++ < 3)
			CHECK(0, "child %d: status %#x", round, status);
	}
	__atomic_store_n(&stop_workers, true, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
}

/* ---- threads -------------------------------------------------------------------- */

static pthread_barrier_t all_alive;

/* Allocates, waits until every thread is alive, frees half, hands the rest back. */
static void *one_of_many(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	unsigned char **b = malloc(100 * sizeof(*b));

	for (int i = 0; i < 100; i++) {
		b[i] = malloc((size_t)(i * 97 % 3000) + 1);
		shim_fill(b[i], (size_t)(i * 97 % 3000) + 1, seed + (uint64_t)i);
	}
	pthread_barrier_wait(&all_alive);
	for (int i = 0; i < 100; i += 2) {
		if (!shim_check(b[i], (size_t)(i * 97 % 3000) + 1, seed + (uint64_t)i))
			return (void *)1;
		free(b[i]);
		b[i] = NULL;
	}
	return b; /* the creator frees the rest: frees of a thread that has exited */
}

/*
 * More threads alive at once than the library has harts (64), in waves,
 * each leaving blocks for the main thread to free after it exited.
 */
static void many_threads(void)
{
	enum { WAVE = 150, WAVES = 3 };
	pthread_t *t = malloc(WAVE * sizeof(*t));

	for (int w = 0; w < WAVES; w++) {
		pthread_barrier_init(&all_alive, NULL, WAVE);
		for (int i = 0; i < WAVE; i++)
			CHECK(pthread_create(&t[i], NULL, one_of_many,
					     (void *)(uintptr_t)(w * 1000 + i * 100)) == 0,
			      "pthread_create");
		for (int i = 0; i < WAVE; i++) {
			void *r;
			unsigned char **b;

			pthread_join(t[i], &r);
			CHECK(r != NULL && r != (void *)1, "thread %d: %p", i, r);
			if (r == NULL || r == (void *)1)
				continue;
			b = r;
			for (int k = 1; k < 100; k += 2) {
				CHECK(shim_check(b[k], (size_t)(k * 97 % 3000) + 1,
						 (uint64_t)(w * 1000 + i * 100 + k)),
				      "thread %d block %d", i, k);
				free(b[k]);
			}
			free(b);
		}
		pthread_barrier_destroy(&all_alive);
	}
	free(t);
}

/*
 * Calls in every state a thread's link to its hart goes through: free(NULL)
 * as a thread's first call (before it has a hart), then blocks, with more
 * threads alive than harts (some share one, holding no bias); calls from a
 * key destructor that runs after the library's own (which detached the
 * thread); and in a child forked meanwhile. Every block comes back whole.
 */
static pthread_key_t late_key;
static pthread_barrier_t states_alive;

static void late_destructor(void *v)
{
	unsigned char *p;

	free(NULL);
	p = malloc(300);
	CHECK(p != NULL, "malloc in a late key destructor");
	shim_fill(p, 300, 7);
	CHECK(shim_check(v, 64, 5) && shim_check(p, 300, 7), "blocks in a late key destructor");
	free(p);
	free(NULL);
	free(v);
}

static void *first_call_free_null(void *arg)
{
	unsigned char *v, *p[16] = {0};

	(void)arg;
	free(NULL);
	v = malloc(64);
	if (!v)
		return (void *)1;
	shim_fill(v, 64, 5);
	pthread_setspecific(late_key, v);
	pthread_barrier_wait(&states_alive);
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)(i * 37 % 700) + 1;

		if (i >= 16) {
			if (!shim_check(p[i % 16], (size_t)((i - 16) * 37 % 700) + 1,
					(uint64_t)i - 16))
				return (void *)1;
			free(p[i % 16]);
		}
		free(NULL);
		p[i % 16] = malloc(n);
		if (!p[i % 16])
			return (void *)1;
		shim_fill(p[i % 16], n, (uint64_t)i);
	}
	for (int k = 0; k < 16; k++)
		free(p[k]);
	return NULL;
}

static void calls_in_every_thread_state(void)
{
	enum { N = 100 };
	pthread_t t[N];
	int status;
	pid_t pid;

	free(malloc(1)); /* the library's key first: its destructor runs before late_key's */
	CHECK(pthread_key_create(&late_key, late_destructor) == 0, "pthread_key_create");
	pthread_barrier_init(&states_alive, NULL, N + 1);
	for (int i = 0; i < N; i++)
		CHECK(pthread_create(&t[i], NULL, first_call_free_null, NULL) == 0,
		      "pthread_create");
	pthread_barrier_wait(&states_alive);
	pid = fork();
	if (pid == 0) {
		alarm(10);
		free(NULL);
		for (int i = 0; i < 1000; i++)
			free(malloc((size_t)i * 13 % 5000));
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
	      "child: status %#x", status);
	for (int i = 0; i < N; i++) {
		void *r;

		pthread_join(t[i], &r);
		CHECK(r == NULL, "thread %d: a block came back damaged or NULL", i);
	}
	pthread_barrier_destroy(&states_alive);
	pthread_key_delete(late_key);
}

/* ---- memory from and back to the OS -------------------------------------------- */

static long status_kib(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtol(line + strlen(field) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/*
 * 512 MiB of small blocks (the heap grows by hot-adding RAM) and 512 MiB
 * of large ones: all written, all freed; after malloc_trim() the process
 * holds no more than it did before, within 64 MiB.
 */
static void grow_and_give_back(void)
{
	enum { SMALL = 1 << 18, LARGE = 16 };
	long before = status_kib("VmRSS:"), peak, after;
	void **b = malloc(SMALL * sizeof(void *));

	for (int i = 0; i < SMALL; i++) {
		b[i] = malloc(2000);
		CHECK(b[i] != NULL, "small %d", i);
		if (!b[i])
			break;
		memset(b[i], i, 2000);
	}
	peak = status_kib("VmRSS:");
	for (int i = 0; i < SMALL; i++)
		free(b[i]);
	for (int i = 0; i < LARGE; i++) {
		b[i] = malloc(32UL << 20);
		CHECK(b[i] != NULL, "large %d", i);
		if (b[i])
			memset(b[i], i, 32UL << 20);
	}
	for (int i = 0; i < LARGE; i++)
		free(b[i]);
	free(b);
	malloc_trim(0);
	after = status_kib("VmRSS:");
	CHECK(peak - before > 400L * 1024, "512 MiB written, RSS grew by %ld KiB only",
	      peak - before);
	CHECK(after - before < 64L * 1024,
	      "RSS %ld KiB before, %ld at the peak, %ld after the trim", before, peak, after);
}

/*
 * Whether the preloaded library copies a large block that realloc() grows:
 * slab + pages (its records of large blocks do not follow a move) and the
 * debug tier (every realloc() moves the object, the old one quarantined).
 */
static bool copies_large_blocks(void)
{
	Dl_info info;

	return dladdr((void *)malloc, &info) && info.dli_fname &&
	       (strstr(info.dli_fname, "slabpages") || strstr(info.dli_fname, "debug"));
}

/*
 * realloc() of a large block keeps its pages: grown in place, or, with a
 * block right after it, moved by the OS (mremap()), as glibc's realloc()
 * of an mmapped chunk: the call's peak RSS stays far below the block's
 * size, where a copy would have both copies resident. Shrunk, it stays
 * where it is and its tail's pages go back to the OS.
 */
static void realloc_large_keeps_its_pages(void)
{
	const size_t size = 64 * MiB + 3 * 4096, grown = 128 * MiB + 4096;
	unsigned char *p = malloc(size), *q, *after[16];
	long before, peak;
	int n = 0, blocked = 0;
	FILE *f;

	CHECK(p != NULL, "malloc(64 MiB)");
	if (!p)
		return;
	shim_fill(p, size, 11);
	/* blocks until one lands right after p's guard page (first fit fills holes first) */
	while (n < 16 && !blocked) {
		after[n] = malloc(2 * MiB + 4096);
		CHECK(after[n] != NULL, "malloc(2 MiB)");
		blocked = after[n] == p + size + 4096;
		n++;
	}
	f = fopen("/proc/self/clear_refs", "w"); /* resets VmHWM to VmRSS (Linux 4.0) */
	CHECK(f && fputs("5", f) >= 0 && fclose(f) == 0, "resetting the peak RSS");
	before = status_kib("VmRSS:");
	q = realloc(p, grown);
	peak = status_kib("VmHWM:");
	CHECK(q != NULL, "realloc to 128 MiB");
	if (!q)
		return;
	CHECK(blocked || copies_large_blocks(),
	      "no block landed right after it: the move is not tested");
	CHECK(!blocked || q != p, "a block follows it, yet it grew in place");
	CHECK(shim_check(q, size, 11), "the contents did not follow");
	if (!copies_large_blocks())
		CHECK(peak - before < 16 * 1024, "realloc's peak RSS %ld KiB above the %ld before",
		      peak - before, before);
	shim_fill(q, grown, 12);
	CHECK(shim_check(q, grown, 12), "the grown block");
	/* shrunk where it is: the pages past its new end go back to the OS */
	before = status_kib("VmRSS:");
	p = realloc(q, size);
	CHECK(p != NULL && shim_check(p, size, 12), "realloc back to 64 MiB");
	if (!copies_large_blocks())
		CHECK(p == q && status_kib("VmRSS:") < before - 48 * 1024,
		      "shrunk from 128 to 64 MiB: moved %d, RSS %ld KiB after, %ld before", p != q,
		      status_kib("VmRSS:"), before);
	free(p ? p : q);
	while (n)
		free(after[--n]);
}

static int os_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

/*
 * Blocks moved twice by realloc() (each time with a block after it), half
 * freed at once, the rest at the end: at most a few OS mappings for each
 * block live, and those the moves split off merge back once the blocks
 * are freed (vm.max_map_count is 65530).
 */
static void realloc_moves_leave_no_mappings(void)
{
	enum { N = 300 };
	static void *grown[N], *after[N], *after2[N];
	int before = os_mappings(), live, end;

	for (int i = 0; i < N; i++) {
		size_t size = MiB + 4096 * (i % 7 + 1);
		unsigned char *p = malloc(size), *q;

		CHECK(p != NULL, "malloc %d", i);
		if (!p)
			return;
		memset(p, i, size);
		after[i] = malloc(20 * 4096);
		q = realloc(p, 2 * size);
		CHECK(q != NULL && q[0] == (unsigned char)i && q[size - 1] == (unsigned char)i,
		      "realloc %d", i);
		if (!q)
			return;
		/* and again: a block moved once spans two OS mappings */
		q[2 * size - 1] = (unsigned char)i;
		after2[i] = malloc(20 * 4096);
		p = realloc(q, 3 * size);
		CHECK(p != NULL && p[0] == (unsigned char)i && p[2 * size - 1] == (unsigned char)i,
		      "second realloc %d", i);
		if (!p)
			return;
		p[3 * size - 1] = (unsigned char)i;
		q = p;
		grown[i] = q;
		if (i % 2) {
			free(q);
			grown[i] = NULL;
		}
	}
	live = os_mappings();
	for (int i = 0; i < N; i++) {
		free(grown[i]);
		free(after[i]);
		free(after2[i]);
	}
	malloc_trim(0);
	end = os_mappings();
	CHECK(live - before < 3 * N / 2 + 16 && end - before < 16,
	      "%d OS mappings before, %d with %d blocks live, %d after", before, live, N / 2, end);
}

static volatile int mapping_stop;

static void *map_large_blocks(void *arg)
{
	void **held = arg;

	for (int i = 0; i < 40 && !mapping_stop; i++)
		held[i] = malloc(120 * MiB + 4096); /* untouched: address space, no RSS */
	mapping_stop = 1;
	return NULL;
}

/*
 * A block moved by realloc() while another thread maps blocks higher up:
 * its new place, wherever the move found it, is writable to its last byte
 * (a fault here is the test failing).
 */
static void realloc_moves_while_others_map(void)
{
	static void *held[40];
	pthread_t t;
	int moves = 0;

	mapping_stop = 0;
	CHECK(pthread_create(&t, NULL, map_large_blocks, held) == 0, "pthread_create");
	while (!mapping_stop) {
		unsigned char *p = malloc(16 * MiB + 4096), *q, *b;

		CHECK(p != NULL, "malloc(16 MiB)");
		if (!p)
			break;
		p[0] = 1;
		b = malloc(300 * 4096);
		q = realloc(p, 100 * MiB + 4096);
		CHECK(q != NULL, "realloc to 100 MiB");
		if (!q) {
			free(p);
			free(b);
			break;
		}
		q[100 * MiB + 4095] = 2;
		CHECK(q[0] == 1, "the moved block's first byte");
		moves += q != p;
		free(q);
		free(b);
	}
	mapping_stop = 1;
	pthread_join(t, NULL);
	for (int i = 0; i < 40; i++)
		free(held[i]);
	printf("    # %d of the blocks moved\n", moves);
}

/*
 * Sizes past 2 GiB (sort asks for 6.5 GB at its start; the kernel's large
 * path refused anything above 2 GiB), a power of two that must be aligned to
 * itself, and an alignment of 2 GiB: written at both ends.
 */
static void beyond_2_gib(void)
{
	static const size_t sizes[] = {3UL << 30, 4UL << 30};
	void *a = NULL;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		unsigned char *p = malloc(sizes[i]);

		CHECK(p != NULL, "malloc(%zu): errno %d", sizes[i], errno);
		if (!p)
			continue;
		CHECK(((sizes[i] & (sizes[i] - 1)) || ((uintptr_t)p & (sizes[i] - 1)) == 0) &&
			  malloc_usable_size(p) >= sizes[i],
		      "malloc(%zu) = %p", sizes[i], p);
		p[0] = 1;
		p[sizes[i] - 1] = 2;
		CHECK(p[0] == 1 && p[sizes[i] - 1] == 2, "ends of %p", p);
		free(p);
	}
	CHECK(posix_memalign(&a, 2UL << 30, 4096) == 0 && ((uintptr_t)a & ((2UL << 30) - 1)) == 0,
	      "2 GiB alignment: %p", a);
	free(a);
}

static long maps_lines(void)
{
	char line[512];
	long n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

/*
 * More live large blocks than the OS allows mappings (vm.max_map_count is
 * 65530): they share one OS mapping, so none fails and the maps stay short.
 */
static void many_large_blocks(void)
{
	enum { N = 70000, SIZE = 9000 }; /* a large allocation for per-hart slab and slab + pages */
	unsigned char **b = malloc(N * sizeof(*b));
	long before = maps_lines(), during;
	int failed = 0;

	for (int i = 0; i < N; i++) {
		b[i] = malloc(SIZE);
		failed += !b[i];
		if (b[i])
			b[i][i % SIZE] = (unsigned char)i;
	}
	during = maps_lines();
	CHECK(failed == 0, "%d of %d failed", failed, N);
	CHECK(during - before < 100, "%ld OS mappings before, %ld with %d blocks", before, during,
	      N);
	for (int i = 0; i < N; i++) {
		if (b[i] && b[i][i % SIZE] != (unsigned char)i)
			failed++;
		free(b[i]);
	}
	CHECK(failed == 0, "%d blocks changed", failed);
	free(b);
}

/* A large calloc() the program does not touch costs no memory (the OS zeroes it), as under glibc.
 */
static void calloc_untouched(void)
{
	long before = status_kib("VmRSS:"), after;
	unsigned char *p = calloc(256, 1 << 20);

	after = status_kib("VmRSS:");
	CHECK(p != NULL, "calloc(256 MiB)");
	CHECK(after - before < 16 * 1024, "RSS grew by %ld KiB", after - before);
	for (size_t i = 0; p && i < (256UL << 20); i += 4096 * 7)
		if (p[i]) {
			CHECK(0, "byte %zu is %#x", i, p[i]);
			break;
		}
	free(p);
}

static long minor_faults(void)
{
	struct rusage u;

	return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_minflt : -1;
}

/*
 * A buffer of a few MiB freed and allocated again, over and over (a
 * request's buffer): it comes back where it was with its pages still
 * resident, as glibc's heap keeps a chunk below its mmap threshold, not
 * faulted in again page by page each time (which cost 5.8 ms a MiB on
 * the machine of 2026-12-06: 190x glibc's time).
 */
static void a_freed_buffer_comes_back_resident(void)
{
	enum { ROUNDS = 64, SIZE = 4 << 20 };
	long faults = 0;

	for (int i = 0; i < ROUNDS; i++) {
		long before = minor_faults();
		unsigned char *p = malloc(SIZE);

		CHECK(p != NULL, "round %d", i);
		if (!p)
			return;
		memset(p, i, SIZE);
		free(p);
		if (i)
			faults += minor_faults() - before;
	}
	CHECK(faults < 4 * (SIZE / 4096), "%ld page faults in %d rounds of %d pages", faults,
	      ROUNDS - 1, SIZE / 4096);
}

/*
 * Written and freed, n blocks of size bytes (every other one shrunk to a
 * quarter first, with shrink) leave at most 40 MiB more resident than
 * before: what freed large blocks leave is bounded (32 MiB, glibc's
 * largest mmap threshold), without malloc_trim().
 */
static void freed_resident_bounded(int n, size_t size, bool shrink)
{
	unsigned char **b = calloc((size_t)n, sizeof(*b));
	long before, peak, after;

	CHECK(b != NULL, "the array");
	if (!b)
		return;
	malloc_trim(0); /* what earlier cases left free and resident: not where these land */
	before = status_kib("VmRSS:");
	for (int i = 0; i < n; i++) {
		b[i] = malloc(size);
		CHECK(b[i] != NULL, "block %d", i);
		if (b[i])
			memset(b[i], i, size);
	}
	peak = status_kib("VmRSS:");
	for (int i = 0; i < n; i++) {
		if (shrink && i & 1) /* the tail goes as a freed block's would */
			b[i] = realloc(b[i], size / 4);
		free(b[i]);
	}
	after = status_kib("VmRSS:");
	free(b);
	CHECK(peak - before > 80L * 1024, "%zu MiB written, RSS grew by %ld KiB only",
	      (size_t)n * size >> 20, peak - before);
	CHECK(after - before < 40L * 1024,
	      "RSS %ld KiB before, %ld at the peak, %ld after the frees", before, peak, after);
}

/* 96 MiB of 4 MiB blocks. */
static void freed_blocks_resident_are_bounded(void)
{
	freed_resident_bounded(24, 4 << 20, false);
}

/*
 * 96 MiB of 200 000-byte blocks, half of them shrunk first: large blocks
 * under a MiB and realloc()'s tails were left resident without bound.
 */
static void freed_small_large_blocks_resident_are_bounded(void)
{
	freed_resident_bounded(480, 200000, true);
}

/* glibc's internal names (not in its headers), which some programs call. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

/*
 * glibc's names for the API are ours (a block from one freed by the other
 * is no misuse, where glibc's own would abort on ours), and mallinfo2()
 * and mallopt() answer for our heap.
 */
static void glibc_names_and_queries(void)
{
	unsigned char *p = __libc_malloc(100), *q = malloc(100), *z = __libc_calloc(10, 10);
	struct mallinfo2 before = mallinfo2(), live, after;
	void *big = malloc(8 << 20);

	CHECK(p && q && z && big, "allocations");
	if (!p || !q || !z || !big)
		return;
	CHECK(!z[0] && !z[99], "__libc_calloc zeroes");
	memset(p, 1, 100);
	p = __libc_realloc(p, 5000);
	CHECK(p && p[99] == 1, "__libc_realloc keeps the bytes");
	free(p);
	__libc_free(q);
	__libc_free(z);
	p = __libc_memalign(256, 10);
	CHECK(p && !((uintptr_t)p & 255), "__libc_memalign(256): %p", (void *)p);
	free(p);
	live = mallinfo2();
	CHECK(live.hblkhd >= before.hblkhd + (8 << 20) && live.hblks >= 1,
	      "mallinfo2 with 8 MiB live: hblks %zu, hblkhd %zu (before %zu)", live.hblks,
	      live.hblkhd, before.hblkhd);
	free(big);
	after = mallinfo2();
	CHECK(after.hblkhd + (8 << 20) <= live.hblkhd, "mallinfo2 after the free: hblkhd %zu",
	      after.hblkhd);
	CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1, "mallopt");
}

int main(void)
{
	static const struct shim_case cases[] = {
	    {"preloaded", preloaded},
	    {"enomem", enomem},
	    {"bad-alignment", bad_alignment},
	    {"every-size", every_size},
	    {"zero-size", zero_size},
	    {"calloc-zeroes", calloc_zeroes},
	    {"realloc", realloc_contract},
	    {"aligned-family", aligned_family},
	    {"errno-kept", errno_kept},
	    {"fork-child-heap", fork_child_heap},
	    {"fork-with-threads", fork_with_threads},
	    {"many-threads", many_threads},
	    {"calls-in-every-thread-state", calls_in_every_thread_state},
	    {"grow-and-give-back", grow_and_give_back},
	    {"realloc-large-keeps-its-pages", realloc_large_keeps_its_pages},
	    {"realloc-moves-leave-no-mappings", realloc_moves_leave_no_mappings},
	    {"realloc-moves-while-others-map", realloc_moves_while_others_map},
	    {"calloc-untouched", calloc_untouched},
	    {"beyond-2-gib", beyond_2_gib},
	    {"many-large-blocks", many_large_blocks},
	    {"a-freed-buffer-comes-back-resident", a_freed_buffer_comes_back_resident},
	    {"freed-blocks-resident-are-bounded", freed_blocks_resident_are_bounded},
	    {"glibc-names-and-queries", glibc_names_and_queries},
	    {"freed-small-large-blocks-resident-are-bounded",
	     freed_small_large_blocks_resident_are_bounded},
	};

	return shim_run_cases("shim-conformance", cases, sizeof(cases) / sizeof(*cases));
}
