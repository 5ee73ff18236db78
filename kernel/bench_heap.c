// SPDX-License-Identifier: MIT
/*
 * Kernel heap benchmarks (command line "bench", run once the per-hart heaps
 * are up):
 *
 * - heap-PATTERN-SIZE: kmalloc+kfree pairs on one hart in the pair, ring
 *   and batch patterns (tests/common/heap_patterns.h), per pair, and net
 *   of the same loop around two empty functions (heap-loop-baseline); the
 *   mixed-size trace the same way; the memory held per live byte after a
 *   fragmenting workload; the instructions heap_kernel_init() took;
 * - with "bench=smp" (two harts, QEMU without -icount and with MTTCG, so
 *   that the cycle counter is time and the harts run at once): the cycles
 *   of a kfree of a 64-byte block this hart allocated and of one another
 *   hart allocated (queued for it), and of the owner's draining of the
 *   queue, per free; then 64-byte pairs on one hart and on two and four at
 *   once (as many as are online), and the throughput ratios.
 */
#include <kernel/heap.h>
#include <kernel/bench.h>
#include <kernel/cmdline.h>
#include <kernel/hart.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <string.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>

#include "../tests/common/heap_patterns.h"

#define PAIRS (32UL * HEAP_RING)

static void *nop_alloc(size_t size)
{
	static void *word[1];

	__asm__ volatile("" : : "r"(size) : "memory");
	return word;
}

static void nop_free(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static const struct heap_bench_alloc heap_alloc_ops = { "heap", kmalloc, kfree };
static const struct heap_bench_alloc null_alloc_ops = { "loop", nop_alloc, nop_free };

/* Instructions of n pairs of pattern pat through a; a warm-up run first. */
static uint64_t run_pattern(const struct heap_pattern *pat, const struct heap_bench_alloc *a,
			    size_t size, unsigned long n)
{
	struct bench_sample s;

	if (pat->live)
		heap_patterns_fill(a, size);
	pat->run(a, size, 4 * HEAP_RING);
	s = bench_now();
	pat->run(a, size, n);
	uint64_t used = bench_now().instret - s.instret;
	if (pat->live)
		heap_patterns_drain(a);
	return used;
}

static void print_per(const char *name, uint64_t x, const char *what, uint64_t n, const char *unit)
{
	uint64_t tenths = (x * 10 + n / 2) / n;

	printk("bench: %s: %llu.%llu %s/%s (%llu %ss)\n", name, (unsigned long long)(tenths / 10),
	       (unsigned long long)(tenths % 10), what, unit, (unsigned long long)n, unit);
}

static void patterns(void)
{
	for (size_t k = 0; k < ARRAY_SIZE(heap_patterns); k++) {
		const struct heap_pattern *pat = &heap_patterns[k];
		uint64_t loop = run_pattern(pat, &null_alloc_ops, 16, PAIRS);
		char name[48];

		ksnprintf(name, sizeof(name), "heap-loop-baseline-%s", pat->name);
		print_per(name, loop, "instructions", PAIRS, "pair");
		for (size_t s = 0; s < ARRAY_SIZE(heap_bench_sizes); s++) {
			size_t size = heap_bench_sizes[s];
			uint64_t used = run_pattern(pat, &heap_alloc_ops, size, PAIRS);

			ksnprintf(name, sizeof(name), "heap-%s-%zu", pat->name, size);
			print_per(name, used, "instructions", PAIRS, "pair");
			ksnprintf(name, sizeof(name), "heap-%s-%zu-net", pat->name, size);
			print_per(name, used > loop ? used - loop : 0, "instructions", PAIRS, "pair");
		}
	}
}

/* The mixed-size trace, net of its loop (the same random sequence through the empty functions). */
static void mixed(void)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL, loop, used;
	struct bench_sample s;

	heap_mixed_fill(&null_alloc_ops, &rng);
	s = bench_now();
	pattern_mixed(&null_alloc_ops, PAIRS, &rng);
	loop = bench_now().instret - s.instret;
	rng = 0x9e3779b97f4a7c15ULL;
	heap_mixed_fill(&heap_alloc_ops, &rng);
	pattern_mixed(&heap_alloc_ops, 4 * HEAP_RING, &rng); /* warm-up */
	s = bench_now();
	pattern_mixed(&heap_alloc_ops, PAIRS, &rng);
	used = bench_now().instret - s.instret;
	heap_patterns_drain(&heap_alloc_ops);
	print_per("heap-mixed", used, "instructions", PAIRS, "pair");
	print_per("heap-mixed-net", used > loop ? used - loop : 0, "instructions", PAIRS, "pair");
}

/* ---- memory held per live byte, and the set-up ---------------------------------- */

static uint64_t frag_free0, frag_peak;

static void frag_sample(uint64_t live)
{
	uint64_t held = (frag_free0 - buddy_free_frames()) * PAGE_SIZE;

	(void)live;
	frag_peak = MAX(frag_peak, held);
}

static void print_hundredths(const char *name, uint64_t a, uint64_t b, const char *what)
{
	printk("bench: %s: %llu.%02llu %s\n", name, (unsigned long long)(a / b),
	       (unsigned long long)(a % b * 100 / b), what);
}

/*
 * What the heap holds from the buddy (its pages, metadata and the large
 * allocations' page tables) per byte asked for and live, after the
 * fragmenting workload of heap_patterns.h: at the end, and the peak.
 */
static void fragmentation(void)
{
	uint64_t live, held;

	heap_trim();
	frag_free0 = buddy_free_frames();
	frag_peak = 0;
	live = heap_fragment(&heap_alloc_ops, frag_sample);
	held = (frag_free0 - buddy_free_frames()) * PAGE_SIZE;
	printk("bench: heap-fragmentation: %llu KiB held for %llu KiB live, peak %llu KiB\n",
	       (unsigned long long)(held >> 10), (unsigned long long)(live >> 10),
	       (unsigned long long)(frag_peak >> 10));
	print_hundredths("heap-held-per-live-byte", held, live, "bytes");
	print_hundredths("heap-peak-per-live-byte", frag_peak, live, "bytes");
	heap_fragment_free(&heap_alloc_ops);
	heap_trim();
}

/* ---- frees across harts ------------------------------------------------------ */

#define CROSS 1024
static void *cross[CROSS];
static uint64_t drain_cycles;

static void alloc_there(void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < CROSS; i++)
		cross[i] = kmalloc(64);
}

static int frees_done;

/*
 * Busy (so its idle loop does not take the queue) until the other hart has
 * freed everything; then it takes the queue (heap_idle(), as its idle loop
 * would): CROSS frees, timed here.
 */
static void drain_there(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&frees_done, __ATOMIC_ACQUIRE))
		;
	struct bench_sample s = bench_now();
	heap_idle();
	drain_cycles = bench_now().cycles - s.cycles;
}

static uint64_t free_all(void)
{
	struct bench_sample s = bench_now();

	for (unsigned int i = 0; i < CROSS; i++)
		kfree(cross[i]);
	return bench_now().cycles - s.cycles;
}

static void print_ratio(const char *name, uint64_t a, uint64_t b)
{
	print_hundredths(name, a, b, "");
}

/*
 * Cycles, not instructions: two harts need QEMU without -icount, where
 * the cycle counter is time. The instruction counts of the same frees are
 * the host benchmark's (callgrind).
 */
static void cross_hart(void)
{
	uint64_t local = ~0ULL, remote = ~0ULL, drain = ~0ULL;

	for (int round = 0; round < 5; round++) { /* the best of five: time is noisy */
		uint64_t t;

		alloc_there(NULL);
		t = free_all(); /* not inside MIN(), which evaluates an argument twice */
		local = MIN(local, t);
		smp_call(1, alloc_there, NULL);
		__atomic_store_n(&frees_done, 0, __ATOMIC_RELAXED);
		smp_call_async(1, drain_there, NULL);
		t = free_all();
		__atomic_store_n(&frees_done, 1, __ATOMIC_RELEASE);
		smp_wait(1);
		remote = MIN(remote, t);
		drain = MIN(drain, drain_cycles);
	}
	print_per("heap-free-local", local, "cycles", CROSS, "free");
	print_per("heap-free-remote", remote, "cycles", CROSS, "free");
	print_per("heap-remote-drain", drain, "cycles", CROSS, "free");
	print_ratio("heap-free-remote/local", remote, local);
	print_ratio("heap-free-remote+drain/local", remote + drain, local);
}

/* ---- scaling -------------------------------------------------------------------- */

/*
 * Per hart and round: small enough that a strategy with one lock, its
 * harts spinning on it while the host runs more vCPUs than it has cores
 * (a lock holder's vCPU descheduled), still ends in seconds.
 */
#define SCALING_PAIRS (16UL * HEAP_RING)
static uint64_t spent[MAX_HARTS];

/* The pair pattern: the ring and batch ones share one array of blocks. */
static void pairs_here(void *arg)
{
	(void)arg;
	struct bench_sample s = bench_now();
	pattern_pair(&heap_alloc_ops, 64, SCALING_PAIRS);
	spent[this_hart_index()] = bench_now().cycles - s.cycles;
}

static void pairs_on(unsigned int harts)
{
	for (unsigned int i = 1; i < harts; i++)
		smp_call_async(i, pairs_here, NULL);
	pairs_here(NULL);
	for (unsigned int i = 1; i < harts; i++)
		smp_wait(i);
}

static void counters_there(void *arg)
{
	(void)arg;
	arch_counters_init();
}

/*
 * 64-byte pairs on 1, 2 and 4 harts at once (as many as are online), each
 * hart the same number: throughput relative to one hart. The best of three
 * of each, alternated: time under QEMU on a shared host is noisy, and the
 * best run is the one the least disturbed.
 */
static void scaling(void)
{
	static const unsigned int harts[] = { 1, 2, 4 };
	uint64_t best[ARRAY_SIZE(harts)];

	for (size_t h = 0; h < ARRAY_SIZE(harts); h++)
		best[h] = ~0ULL;
	for (int round = 0; round < 3; round++)
		for (size_t h = 0; h < ARRAY_SIZE(harts) && harts[h] <= smp_nr_online(); h++) {
			uint64_t slowest = 0;

			pairs_on(harts[h]);
			for (unsigned int i = 0; i < harts[h]; i++)
				slowest = MAX(slowest, spent[i]);
			best[h] = MIN(best[h], slowest);
		}
	for (size_t h = 1; h < ARRAY_SIZE(harts) && harts[h] <= smp_nr_online(); h++) {
		char name[48];

		printk("bench: heap-scaling: 1 hart %llu cycles, %u harts %llu cycles for %u times the pairs\n",
		       (unsigned long long)best[0], harts[h], (unsigned long long)best[h], harts[h]);
		ksnprintf(name, sizeof(name), "heap-throughput-%u-harts/1", harts[h]);
		print_ratio(name, harts[h] * best[0], best[h]);
	}
}

void bench_heap(void)
{
	char what[16];

	if (cmdline_get("bench", what, sizeof(what)) && !strcmp(what, "smp")) {
		if (smp_nr_online() < 2) {
			printk("bench: bench=smp needs two harts: not measured\n");
			return;
		}
		for (unsigned int i = 1; i < MAX_HARTS; i++)
			if (smp_hart_online(i))
				smp_call(i, counters_there, NULL);
		cross_hart();
		scaling();
		return;
	}
	printk("bench: heap-strategy: %s\n", heap_strategy());
	printk("bench: heap-setup: %llu instructions\n",
	       (unsigned long long)heap_kernel_setup_instructions);
	patterns();
	mixed();
	fragmentation();
}
