/* SPDX-License-Identifier: MIT */
#ifndef TESTS_BENCH_BENCH_HOST_H
#define TESTS_BENCH_BENCH_HOST_H

/*
 * What the host benchmarks share: callgrind's client requests (no-ops
 * where valgrind's header is missing), a monotonic clock, and a failure
 * exit. Each measurement zeroes callgrind's counters before it and dumps
 * them after it with a label NAME/OPS/UNIT/LOOP-FUNCTION, which
 * tests/bench/run-host.sh reads.
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(label) ((void)(label))
#define RUNNING_ON_VALGRIND 0
#endif

static inline __attribute__((noreturn)) void bench_fail(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s failed\n", prog, what);
	exit(1);
}

/*
 * Ends a measurement: a callgrind dump labelled NAME/OPS/UNIT/LOOP-FUNCTION,
 * or, run alone, nanoseconds per unit.
 */
static inline void bench_report_host(const char *name, unsigned long long ops, const char *unit,
				     const char *fn, double ns)
{
	char label[160];

	snprintf(label, sizeof(label), "%s/%llu/%s/%s", name, ops, unit, fn);
	CALLGRIND_DUMP_STATS_AT(label);
	if (!RUNNING_ON_VALGRIND)
		printf("native: %s: %.1f ns/%s (%llu %ss)\n", name, ns / ops, unit, ops, unit);
}

static inline double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#endif
