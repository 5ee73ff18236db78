// SPDX-License-Identifier: MIT
/*
 * The in-kernel test suites, as one KTAP document in two phases: the boot
 * suites run while the boot allocator still owns memory, the memory-manager
 * suites once the buddy allocator has taken over.
 */
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/compiler.h>
#include <kernel/ktest.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <mm/heap.h>
#include <string.h>

extern const struct ktest_suite printf_suite, cmdline_suite, ktest_suite;
extern const struct ktest_suite boot_memmap_suite, bootmem_suite, boot_harts_suite,
	boot_console_suite;
extern const struct ktest_suite buddy_boot_suite, kmap_suite, smp_suite, heap_suite,
	heap_smp_suite, heap_conformance_suite, heap_guard_suite, numa_suite;

static const struct ktest_suite *const boot_suites[] = {
	&printf_suite,	    &cmdline_suite, &ktest_suite, &boot_console_suite,
	&boot_memmap_suite, &bootmem_suite, &boot_harts_suite,
};

static const struct ktest_suite *const mm_suites[] = {
	&kmap_suite,
	&smp_suite,
	&numa_suite,
	&heap_suite,
	&heap_smp_suite,
	&heap_conformance_suite,
	&heap_guard_suite,
	&buddy_boot_suite,
};

static struct ktest_run run;

/*
 * test.crash=fault|pagefault|panic: the runner checks that a fault (an
 * undefined instruction, a write to the kernel text) or a panic is reported
 * clearly and powers off with a failure status, never a hang.
 */
static void crash_if_asked(void)
{
	char what[16];

	if (!cmdline_get("test.crash", what, sizeof(what)))
		return;
	printk("test.crash=%s: crashing on purpose\n", what);
	if (strcmp(what, "fault") == 0)
		__asm__ volatile(".word 0"); /* an undefined instruction on both arches */
	if (strcmp(what, "pagefault") == 0)
		*(volatile uint32_t *)(uintptr_t)run_boot_tests = 0;
	panic("test.crash=%s asked for a panic", what);
}

void run_boot_tests(void)
{
	ktest_begin(&run, ARRAY_SIZE(boot_suites) + ARRAY_SIZE(mm_suites));
	for (size_t i = 0; i < ARRAY_SIZE(boot_suites); i++)
		ktest_run_suite(&run, boot_suites[i]);
}

/*
 * test.skip=NAME,NAME...: suites this boot leaves out (reported as
 * skipped), so that a test matrix can run a long suite on one boot of a
 * configuration rather than on each; test.skip=all leaves out every one.
 */
static bool asked_to_skip(const char *name)
{
	char list[128];
	size_t n = strlen(name);

	if (!cmdline_get("test.skip", list, sizeof(list)))
		return false;
	if (strcmp(list, "all") == 0) /* a boot whose size the suites cannot cover (300 GiB) */
		return true;
	for (const char *p = list; *p;) {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		while (*p && *p++ != ',')
			;
	}
	return false;
}

bool run_mm_tests(void)
{
	crash_if_asked(); /* with the final page tables on */
	for (size_t i = 0; i < ARRAY_SIZE(mm_suites); i++) {
		if (asked_to_skip(mm_suites[i]->name))
			ktest_skip_suite(&run, mm_suites[i], "test.skip: run on another boot");
		else
			ktest_run_suite(&run, mm_suites[i]);
	}
	heap_dump(); /* what the heaps did in all the suites, per hart and class */
	printk("# the misuses reported above are the tests' own, on purpose: each case checks "
	       "its report\n");
	printk("# kernel tests: %u passed, %u failed, %u skipped\n", run.sum.passed,
	       run.sum.failed, run.sum.skipped);
	return run.sum.failed == 0;
}
