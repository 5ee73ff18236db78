// SPDX-License-Identifier: MIT
/*
 * A program that allocates 1 KiB (and MIB MiB more, written, if given;
 * then, with GROW, a 1 MiB block after it and a realloc() of it to GROW
 * MiB, which may say NULL but must not end the program): prints its peak
 * resident memory (VmHWM, KiB), so that the cost of the heap's boot can be
 * compared with the same program under glibc's malloc; exits 1 if an
 * allocation but that realloc() fails.
 *
 * usage: [LD_PRELOAD=libmemcore-<strategy>.so] tiny [MIB [GROW]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t more = argc > 1 ? strtoul(argv[1], NULL, 10) << 20 : 0;
	size_t grow = argc > 2 ? strtoul(argv[2], NULL, 10) << 20 : 0;
	char line[256];
	char *p = malloc(1024), *big = more ? malloc(more) : NULL, *after = NULL, *n;
	FILE *f;

	if (!p || (more && !big))
		return 1;
	memset(p, 1, 1024);
	free(p);
	if (big)
		memset(big, 1, more);
	if (big && grow) {
		after = malloc(1 << 20); /* so that it cannot grow in place */
		if (!after)
			return 1;
		n = realloc(big, grow);
		if (n) {
			memset(n, 2, grow);
			big = n;
		}
	}
	free(after);
	free(big);
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			printf("%ld\n", strtol(line + 6, NULL, 10));
	return f ? 0 : 1;
}
