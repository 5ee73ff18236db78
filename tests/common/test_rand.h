/* SPDX-License-Identifier: MIT */
#ifndef TESTS_COMMON_TEST_RAND_H
#define TESTS_COMMON_TEST_RAND_H

/*
 * A small deterministic PRNG (xorshift64*) for the tests, so that a failure
 * replays: the host's unit tests and libmemcore's, which are plain programs
 * (nothing here needs more than <stdint.h>).
 */

#include <stdint.h>

static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
