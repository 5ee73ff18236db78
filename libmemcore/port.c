// SPDX-License-Identifier: MIT
/*
 * What mm/ needs from its host besides memory and harts: a console, panic,
 * and what happens on misuse. All of it goes to stderr through write(2):
 * stdio may allocate (from inside the allocator) and stdout is the
 * program's output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <mm/buddy.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "memcore.h"

void console_write(const char *s, size_t len)
{
	int saved = errno;

	while (len) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0) {
			s += n;
			len -= (size_t)n;
		}
	}
	errno = saved;
}

void shim_print(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, (size_t)MIN(n, (int)sizeof(buf) - 1));
}

void panic(const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	shim_print("memcore: PANIC: %s\n", buf);
	abort();
}

/*
 * Reported before anything changed (mm/ checks first), then abort(). The
 * hart is let go first: a SIGABRT handler that allocates (a crash
 * reporter) must not wait for it forever.
 */
void shim_misuse(const char *what, const void *p)
{
	shim_print("memcore: %s(%p): %s\n", shim_op ? shim_op : "free", p, what);
	shim_let_go();
	abort();
}

/* ---- MEMCORE_STATS=1: what the heap did, on stderr at exit ------------------- */

void shim_print_stats(void)
{
	struct shim_arena_stats a;
	struct shim_window_stats w;
	struct heap_usage u;
	struct buddy_stats b;

	shim_arena_stats(&a);
	shim_window_stats(&w);
	heap_usage(&u);
	buddy_stats(&b);
	if (shim_bias_off())
		shim_print("memcore: strategy %s, harts in use %u of %u, bias off (membarrier: "
			   "errno %d)\n",
			   u.strategy, shim_harts_in_use(), SHIM_HARTS, shim_bias_off());
	else
		shim_print("memcore: strategy %s, harts in use %u of %u, %u biased\n", u.strategy,
			   shim_harts_in_use(), SHIM_HARTS, shim_harts_biased());
	shim_print("memcore: heap %llu blocks live (%llu bytes), %llu frames held\n",
		   (unsigned long long)u.blocks, (unsigned long long)u.bytes,
		   (unsigned long long)u.frames);
	shim_print("memcore: arena %llu MiB of %llu MiB reserved, %llu hot-adds, %llu banks; "
		   "%llu MiB free, %llu MiB given back to the OS\n",
		   (unsigned long long)(a.ram >> 20), (unsigned long long)(a.reserved >> 20),
		   (unsigned long long)a.grows, (unsigned long long)b.nr_banks,
		   (unsigned long long)((b.free + b.cached) * PAGE_SIZE >> 20),
		   (unsigned long long)(a.reported >> 20));
	shim_print("memcore: window %llu MiB reached of %llu MiB, %llu MiB purged; misuses %llu\n",
		   (unsigned long long)(w.reached >> 20), (unsigned long long)(w.reserved >> 20),
		   (unsigned long long)(w.purged >> 20), (unsigned long long)heap_misuses());
}

/* At exit, holding no hart: reads counters, changes nothing. */
void shim_stats_at_exit(void)
{
	const char *v = getenv("MEMCORE_STATS");

	if (v && *v && *v != '0')
		atexit(shim_print_stats);
}
