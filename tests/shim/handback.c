// SPDX-License-Identifier: MIT
/*
 * Frees for a thread that waits: main allocates BLOCKS blocks, then waits
 * for a worker that frees them all and exits. With the per-hart heaps
 * those frees are queued for main's hart, and main does not allocate
 * again; they must not stay queued until it does (a main thread blocked
 * on its workers would hold all their memory): the worker's exit takes
 * them. Prints BLOCKS; with MEMCORE_STATS=1 the library says at main's
 * exit how many blocks are live, which shim.sh checks is far fewer.
 *
 * usage: LD_PRELOAD=libmemcore-<strategy>.so MEMCORE_STATS=1 handback
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCKS 20000

static void *block[BLOCKS];

static void *free_them(void *arg)
{
	(void)arg;
	for (int i = 0; i < BLOCKS; i++)
		free(block[i]);
	return NULL;
}

int main(void)
{
	pthread_t t;
	char line[32];

	for (int i = 0; i < BLOCKS; i++) {
		block[i] = malloc(128);
		if (!block[i])
			return 1;
		memset(block[i], i, 128);
	}
	if (pthread_create(&t, NULL, free_them, NULL) || pthread_join(t, NULL))
		return 1;
	/* write(2), not stdio: its buffer would be an allocation of main's, which takes the queue */
	snprintf(line, sizeof(line), "%d\n", BLOCKS);
	return write(1, line, strlen(line)) == (ssize_t)strlen(line) ? 0 : 1;
}
