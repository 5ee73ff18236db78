// SPDX-License-Identifier: MIT
/*
 * Host test program entry: runs the suites of the test file it is linked with
 * and prints one KTAP document. Exit status 1 if any case failed.
 */
#include <kernel/ktest.h>
#include <stdio.h>

extern const struct ktest_suite *const test_suites[];
extern const unsigned int test_nr_suites;

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return ktest_run_all(test_suites, test_nr_suites, NULL) ? 1 : 0;
}
