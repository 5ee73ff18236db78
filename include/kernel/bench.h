/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_BENCH_H
#define KERNEL_BENCH_H

/*
 * In-kernel benchmarks, run instead of the tests when the command line says
 * "bench". Figures are the hart's retired-instruction counter (exact under
 * QEMU -icount shift=0) and cycle counter, per operation. Each line reads
 *   bench: NAME: X.Y instructions/UNIT, Z.W cycles/UNIT (N UNITs)
 */

#include <kernel/arch.h>
#include <kernel/types.h>

struct bench_sample {
	uint64_t instret, cycles;
};

static inline struct bench_sample bench_now(void)
{
	struct bench_sample s = { arch_read_instret(), arch_read_cycles() };
	return s;
}

void bench_report(const char *name, struct bench_sample start, struct bench_sample end,
		  uint64_t ops, const char *unit);

struct kbench {
	const char *name;
	void (*run)(void); /* measures and calls bench_report() */
};

/*
 * run_kernel_benches() runs those that need no more than the boot map (the
 * buddy's take over, the mapper) and returns; the boot goes on without the
 * tests, and run_heap_benches() runs once the heaps are up, then powers off.
 */
void run_kernel_benches(void);
void run_heap_benches(void) __noreturn;

#endif
