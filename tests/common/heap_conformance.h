/* SPDX-License-Identifier: MIT */
#ifndef TESTS_COMMON_HEAP_CONFORMANCE_H
#define TESTS_COMMON_HEAP_CONFORMANCE_H

/*
 * One conformance suite for every heap strategy (mm/Kconfig's choice),
 * through the kmalloc API alone: the host links it with each strategy
 * (build/host/test_heap_conformance_<name>, threads as harts), the kernel
 * runs it on whichever is compiled in, on all its harts. The place it runs
 * in says how to reach the harts.
 */

#include <kernel/ktest.h>

struct heap_conf_env {
	/* before each case: a fresh machine (host), the harts counted (kernel); 0 or the case fails */
	int (*prepare)(struct ktest *t);
	unsigned int nr_harts; /* the caller's and nr_harts - 1 others */
	/*
	 * fn(k, arg) on every hart at once, k = 0 on the caller's, 1 ..
	 * nr_harts - 1 on the others; returns when all are done
	 */
	void (*on_all_harts)(void (*fn)(unsigned int k, void *arg), void *arg);
	/* fn(arg) on the k-th other hart (1 <= k < nr_harts); returns when it is done */
	void (*on_other_hart)(unsigned int k, void (*fn)(void *arg), void *arg);
	/* every hart trims its heap and the buddy's caches drain: an empty heap then holds nothing */
	void (*settle)(void);
	/* the frames the large allocations' backend keeps for its own records (vmap's) */
	uint64_t (*backend_frames)(void);
	unsigned long stress_ops;   /* random operations per hart in the stress */
	const char *no_exhaust;	    /* why memory cannot be exhausted here (NULL: it can) */
	bool big;		    /* try an allocation beyond 2 GiB (where RAM and time allow) */
	unsigned int sweep_stride;  /* the size x alignment sweep's step beyond its first sizes */
};

extern struct heap_conf_env heap_conf_env; /* the place's, defined there */
extern const struct ktest_suite heap_conformance_suite;

#endif
