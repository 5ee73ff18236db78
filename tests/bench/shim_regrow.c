// SPDX-License-Identifier: MIT
/*
 * realloc() growing large blocks, for scripts/bench-shim.sh, under whatever
 * malloc the process has: 3 rounds, each a buffer grown from 64 KiB to
 * 512 MiB by doubling (every byte added written, a word of the old part
 * checked), with a 100 KB block allocated after each step, which sits
 * right after the buffer if the allocator places it there (a grow then
 * cannot be done in place). Prints
 *
 *	regrow seconds=S reallocs=N
 *
 * exits 1 on a NULL or a lost byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 3
#define FIRST  (64u << 10)
#define LAST   (512u << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void)
{
	static void *after[ROUNDS * 16];
	unsigned int nafter = 0, reallocs = 0;
	double t0 = now();

	for (int r = 0; r < ROUNDS; r++) {
		size_t n = FIRST;
		unsigned char *p = malloc(n);

		if (!p)
			return 1;
		memset(p, r + 1, n);
		while (n < LAST) {
			unsigned char *q = realloc(p, 2 * n);

			reallocs++;
			if (!q || q[0] != r + 1 || q[n / 2] != r + 1 || q[n - 1] != r + 1) {
				fprintf(stderr, "regrow: realloc to %zu: %s\n", 2 * n,
					q ? "bytes lost" : "NULL");
				return 1;
			}
			memset(q + n, r + 1, n);
			p = q;
			n *= 2;
			if (nafter < sizeof(after) / sizeof(after[0]) &&
			    (after[nafter] = malloc(100000)) != NULL)
				memset(after[nafter++], 0, 100000);
		}
		free(p);
	}
	while (nafter)
		free(after[--nafter]);
	printf("regrow seconds=%.3f reallocs=%u\n", now() - t0, reallocs);
	return 0;
}
