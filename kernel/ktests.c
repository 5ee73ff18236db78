// SPDX-License-Identifier: MIT
/* The in-kernel test suites, run once the boot map and hart table exist. */
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/panic.h>
#include <string.h>
#include <kernel/compiler.h>
#include <kernel/ktest.h>
#include <kernel/printk.h>

extern const struct ktest_suite printf_suite, cmdline_suite;
extern const struct ktest_suite boot_memmap_suite, bootmem_suite, boot_harts_suite,
	boot_console_suite;

static const struct ktest_suite *const kernel_suites[] = {
	&printf_suite,	    &cmdline_suite,    &boot_console_suite,
	&boot_memmap_suite, &bootmem_suite,    &boot_harts_suite,
};

/*
 * test.crash=fault|panic: the runner checks that a fault or a panic is
 * reported clearly and powers off with a failure status, never a hang.
 */
static void crash_if_asked(void)
{
	char what[16];

	if (!cmdline_get("test.crash", what, sizeof(what)))
		return;
	printk("test.crash=%s: crashing on purpose\n", what);
	if (strcmp(what, "fault") == 0)
		__asm__ volatile(".word 0"); /* an undefined instruction on both arches */
	panic("test.crash=%s asked for a panic", what);
}

bool run_kernel_tests(void)
{
	struct ktest_totals sum;

	crash_if_asked();

	ktest_run_all(kernel_suites, ARRAY_SIZE(kernel_suites), &sum);
	printk("# kernel tests: %u passed, %u failed, %u skipped\n", sum.passed, sum.failed,
	       sum.skipped);
	return sum.failed == 0;
}
