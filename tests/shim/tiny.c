// SPDX-License-Identifier: MIT
/*
 * A program that allocates 1 KiB: prints its peak resident memory
 * (VmHWM, KiB), so that the cost of the heap's boot can be compared with
 * the same program under glibc's malloc.
 *
 * usage: [LD_PRELOAD=libmemcore-<strategy>.so] tiny
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char line[256];
	char *p = malloc(1024);
	FILE *f;

	memset(p, 1, 1024);
	free(p);
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			printf("%ld\n", strtol(line + 6, NULL, 10));
	return f ? 0 : 1;
}
