// SPDX-License-Identifier: MIT
/*
 * One misuse of the allocation API, named by argv[1]. Prints "OP POINTER
 * MAIN" (the call, the pointer it will get wrong, and where main() is, so
 * that the call sites a report gives can be told to be main's) on stdout
 * first, then makes the call: the library must report it on stderr, with
 * that pointer, and abort. Returning is the failure (exit status 3).
 * overflow, write-after-free and stale-free only the debug tier promises
 * to catch (libmemcore-debug.so); guard-overflow and guard-use-after-free
 * fault at the access with sampled guard pages (libmemcore-debug.so, where
 * every allocation is sampled while the pool has room), which report the
 * object on stderr ("memcore: guard pool: ...") and abort.
 *
 * usage: LD_PRELOAD=libmemcore-<strategy>.so misuse double-free|interior|...
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char not_ours[256] __attribute__((aligned(64)));

int main(int argc, char **argv);

static void say(const char *op, const void *p)
{
	printf("%s %p %p\n", op, p, (void *)main);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	char *p;

	if (!strcmp(what, "double-free")) {
		p = malloc(64);
		say("free", p);
		free(p);
		free(p);
	} else if (!strcmp(what, "interior")) {
		p = malloc(100);
		say("free", p + 16);
		free(p + 16);
	} else if (!strcmp(what, "foreign")) {
		say("free", not_ours + 64);
		free(not_ours + 64);
	} else if (!strcmp(what, "usable-size-of-freed")) {
		p = malloc(64);
		say("malloc_usable_size", p);
		free(p);
		printf("%zu\n", malloc_usable_size(p));
	} else if (!strcmp(what, "realloc-of-freed")) {
		p = malloc(200);
		say("realloc", p);
		free(p);
		p = realloc(p, 300);
	} else if (!strcmp(what, "large-double-free")) {
		p = malloc(1 << 20);
		say("free", p);
		free(p);
		free(p);
	} else if (!strcmp(what, "large-interior")) {
		p = malloc(1 << 20);
		say("free", p + 8192);
		free(p + 8192);
	} else if (!strcmp(what, "overflow")) {
		p = malloc(100);
		say("free", p);
		p[malloc_usable_size(p)] = 1; /* the debug tier's usable size is the size asked */
		free(p);
	} else if (!strcmp(what, "write-after-free")) {
		p = malloc(64);
		say("malloc_trim", p);
		free(p);
		p[8] = 1;
		for (int i = 0; i < 100; i++)
			free(malloc(64));
		malloc_trim(0); /* the quarantine is checked and emptied */
	} else if (!strcmp(what, "stale-free")) {
		p = malloc(64);
		say("free", p);
		free(p);
		free(malloc(64)); /* without a quarantine: p again */
		free(p);
	} else if (!strcmp(what, "guard-overflow")) {
		volatile size_t n = 128; /* gcc must not see the overflow coming */

		p = malloc(128); /* sampled: its end is its page's */
		say("guard", p);
		((volatile char *)p)[n] = 1;
	} else if (!strcmp(what, "guard-use-after-free")) {
		p = malloc(64);
		say("guard", p);
		free(p);
		((volatile char *)p)[8] = 1;
	} else {
		fprintf(stderr, "misuse: unknown case '%s'\n", what);
		return 2;
	}
	return 3;
}
