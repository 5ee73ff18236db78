// SPDX-License-Identifier: MIT
/*
 * The malloc(32)/free pair of whatever malloc the process has (glibc's, or
 * one preloaded), for scripts/bench-shim.sh: N pairs in one function,
 * pairs(), which callgrind measures alone (--toggle-collect=pairs) in a run
 * of N pairs and in one of 2N; the difference over N is one pair, with the
 * process's start-up, the allocator's set-up at its first call and the
 * lazy binding of malloc and free left out. "empty" runs the same loop
 * around two empty functions, the loop's own cost.
 *
 * usage: shim_pair N [malloc|empty]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_block[32];

__attribute__((noipa)) void *empty_alloc(size_t size)
{
	(void)size;
	return empty_block;
}

__attribute__((noipa)) void empty_free(void *p)
{
	(void)p;
}

/* Not inlined, not cloned: callgrind finds it by this name. */
__attribute__((noipa)) unsigned long pairs(unsigned long n, int empty)
{
	unsigned long failed = 0;

	if (empty) {
		for (unsigned long i = 0; i < n; i++) {
			void *p = empty_alloc(32);

			failed += !p;
			__asm__ volatile("" : : "r"(p) : "memory"); /* the pair must happen */
			empty_free(p);
		}
		return failed;
	}
	for (unsigned long i = 0; i < n; i++) {
		void *p = malloc(32);

		failed += !p;
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
	return failed;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
	int empty = argc > 2 && !strcmp(argv[2], "empty");

	if (!n) {
		fprintf(stderr, "usage: %s N [malloc|empty]\n", argv[0]);
		return 2;
	}
	if (pairs(n, empty)) {
		fprintf(stderr, "%s: malloc(32) failed\n", argv[0]);
		return 1;
	}
	return 0;
}
