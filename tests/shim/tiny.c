// SPDX-License-Identifier: MIT
/*
 * A program that allocates 1 KiB (and MIB MiB more, written, if given):
 * prints its peak resident memory (VmHWM, KiB), so that the cost of the
 * heap's boot can be compared with the same program under glibc's malloc;
 * exits 1 if an allocation fails.
 *
 * usage: [LD_PRELOAD=libmemcore-<strategy>.so] tiny [MIB]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t more = argc > 1 ? strtoul(argv[1], NULL, 10) << 20 : 0;
	char line[256];
	char *p = malloc(1024), *big = more ? malloc(more) : NULL;
	FILE *f;

	if (!p || (more && !big))
		return 1;
	memset(p, 1, 1024);
	free(p);
	if (big)
		memset(big, 1, more);
	free(big);
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			printf("%ld\n", strtol(line + 6, NULL, 10));
	return f ? 0 : 1;
}
