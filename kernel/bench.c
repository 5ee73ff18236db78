// SPDX-License-Identifier: MIT
/* The in-kernel benchmark runner (command line "bench"). */
#include <kernel/bench.h>
#include <kernel/cmdline.h>
#include <kernel/compiler.h>
#include <kernel/printk.h>

/* x/n with one decimal, without floating point. */
static void per_op(uint64_t x, uint64_t n, uint64_t *whole, uint64_t *tenth)
{
	uint64_t tenths = n ? (x * 10 + n / 2) / n : 0;

	*whole = tenths / 10;
	*tenth = tenths % 10;
}

void bench_report(const char *name, struct bench_sample start, struct bench_sample end,
		  uint64_t ops, const char *unit)
{
	uint64_t iw, it, cw, ct;

	per_op(end.instret - start.instret, ops, &iw, &it);
	per_op(end.cycles - start.cycles, ops, &cw, &ct);
	printk("bench: %s: %llu.%llu instructions/%s, %llu.%llu cycles/%s (%llu %ss)\n", name,
	       (unsigned long long)iw, (unsigned long long)it, unit, (unsigned long long)cw,
	       (unsigned long long)ct, unit, (unsigned long long)ops, unit);
}

/*
 * The yardstick every other figure is read against: a loop of dependent
 * additions, one per operation, plus the loop's own branch.
 */
static void bench_baseline(void)
{
	const uint64_t n = 100000;
	uint64_t acc = 1;
	struct bench_sample s = bench_now();

	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" : "+r"(acc) : "r"(i)); /* one opaque step the compiler keeps */
	bench_report("baseline-loop", s, bench_now(), n, "iteration");
}

void bench_buddy(void);
void bench_mmu(void);
void bench_heap(void);

static const struct kbench benches[] = {
	{ "baseline", bench_baseline },
	{ "buddy", bench_buddy },
	{ "mmu", bench_mmu }, /* after buddy, which leaves the buddy up */
};

void run_kernel_benches(void)
{
	char what[16];

	arch_counters_init();
	printk("bench: start\n");
	if (cmdline_get("bench", what, sizeof(what)) && what[0])
		return; /* bench=smp: only the heap's, once the harts are up */
	for (size_t i = 0; i < ARRAY_SIZE(benches); i++)
		benches[i].run();
}

void run_heap_benches(void)
{
	bench_heap();
	printk("bench: done\n");
	arch_poweroff(true);
}
