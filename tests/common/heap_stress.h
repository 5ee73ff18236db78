/* SPDX-License-Identifier: MIT */
#ifndef TESTS_COMMON_HEAP_STRESS_H
#define TESTS_COMMON_HEAP_STRESS_H

/*
 * The heap's random stress, shared by the host test (threads as harts,
 * tests/host/test_heap_smp.c) and the kernel's (every hart at once,
 * tests/kernel/test_heap_smp.c). Each worker (one per hart) allocates,
 * reallocates and frees blocks of random sizes and alignments, and posts a
 * share of its blocks to a mailbox from which any worker takes and frees
 * them: a free on another hart, most of the time. Every block carries a
 * pattern derived from its address, checked before it is freed (after a
 * krealloc, against the address it came from), so a block handed out
 * twice, or written by the heap while in use, shows as an error.
 */

#include <kernel/types.h>

#define HEAP_STRESS_LOCAL_MAX 64 /* blocks a worker holds */

struct heap_stress_block {
	unsigned char *p;
	size_t size;
};

struct heap_stress_worker {
	uint64_t rng;
	struct heap_stress_block local[HEAP_STRESS_LOCAL_MAX];
	unsigned int n;
	/* results */
	unsigned long steps, allocs, frees, posted, taken, failed, errors;
};

/* Empties the mailbox (its blocks are forgotten: call when it is empty, or at the start). */
void heap_stress_reset(void);

/* A worker with its own random sequence. */
void heap_stress_worker_init(struct heap_stress_worker *w, unsigned int seed);

uint64_t heap_stress_rand(uint64_t *state);

/* One random operation of the stress. */
void heap_stress_step(struct heap_stress_worker *w);

/* An allocation of size bytes (aligned to align if not 0), filled and kept: false if NULL. */
bool heap_stress_get(struct heap_stress_worker *w, size_t size, size_t align);

/* Checks and frees b. */
void heap_stress_release(struct heap_stress_worker *w, struct heap_stress_block b);

/* Frees every block the worker holds. */
void heap_stress_release_all(struct heap_stress_worker *w);

/* The mailbox: false when full / empty. Locked, for any hart. */
bool heap_stress_post(struct heap_stress_block b);
bool heap_stress_take(struct heap_stress_block *b);

/*
 * After every worker is done: frees what the mailbox still holds (checked)
 * and adds up the workers' counts. Returns the frees it did; *errors gets
 * its own errors plus the workers'.
 */
unsigned long heap_stress_finish(struct heap_stress_worker *w, unsigned int n,
				 unsigned long *allocs, unsigned long *frees, unsigned long *errors);

#endif
