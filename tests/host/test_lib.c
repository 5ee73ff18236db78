// SPDX-License-Identifier: MIT
/* The shared lib/ suites (tests/common/test_lib.c), run on the host. */
#include <kernel/ktest.h>

extern const struct ktest_suite printf_suite, cmdline_suite, ktest_suite;

const struct ktest_suite *const test_suites[] = { &printf_suite, &cmdline_suite, &ktest_suite };
const unsigned int test_nr_suites = 3;
