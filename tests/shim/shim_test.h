/* SPDX-License-Identifier: MIT */
#ifndef TESTS_SHIM_SHIM_TEST_H
#define TESTS_SHIM_SHIM_TEST_H

/*
 * What the C tests of libmemcore share: a small KTAP printer and checks.
 * These programs are ordinary Linux programs, built without sanitizers
 * (which would bring their own malloc) and run with LD_PRELOAD of one of
 * the libraries; each case is a function that returns after recording
 * its failures.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/test_rand.h"

static int shim_failures; /* of the case running */

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			shim_failures++;                                                           \
			printf("    # %s:%d: %s: ", __FILE__, __LINE__, #cond);                    \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

struct shim_case {
	const char *name;
	void (*run)(void);
};

/* Runs the cases as one KTAP suite; exit status 1 if any failed. */
static inline int shim_run_cases(const char *suite, const struct shim_case *c, int n)
{
	int failed = 0;
	const char *only = getenv("SHIM_CASE"); /* one case, for debugging */

	printf("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: %s\n    1..%d\n", suite,
	       n);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		shim_failures = 0;
		if (only && strcmp(only, c[i].name)) {
			printf("    ok %d %s # SKIP not SHIM_CASE\n", i + 1, c[i].name);
			continue;
		}
		c[i].run();
		printf("    %s %d %s\n", shim_failures ? "not ok" : "ok", i + 1, c[i].name);
		fflush(stdout);
		failed += shim_failures != 0;
	}
	printf("%s 1 %s\n", failed ? "not ok" : "ok", suite);
	return failed != 0;
}

/* Whether malloc() in this process is libmemcore's (the test is meaningless otherwise). */
static inline bool shim_is_preloaded(void)
{
	Dl_info info;

	return dladdr((void *)malloc, &info) && info.dli_fname &&
	       strstr(info.dli_fname, "libmemcore");
}

/*
 * A pattern from a seed, word by word (the tail byte by byte): blocks tell
 * their own contents apart, and checking a large block stays cheap.
 */
static inline uint64_t shim_word(uint64_t seed, size_t i)
{
	return (seed + i) * 0x9e3779b97f4a7c15ULL;
}

static inline void shim_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *b = p;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w = shim_word(seed, i);

		memcpy(b + i, &w, 8);
	}
	for (; i < n; i++) /* the same bytes a whole word would have: prefixes agree */
		b[i] = (unsigned char)(shim_word(seed, i & ~(size_t)7) >> (8 * (i & 7)));
}

static inline bool shim_check(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		if (w != shim_word(seed, i))
			return false;
	}
	for (; i < n; i++)
		if (b[i] != (unsigned char)(shim_word(seed, i & ~(size_t)7) >> (8 * (i & 7))))
			return false;
	return true;
}

#endif
