// SPDX-License-Identifier: MIT
/* What the portable code needs from the kernel, for host programs (tools, tests). */
#include <kernel/arch.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void console_write(const char *s, size_t len)
{
	fwrite(s, 1, len, stdout);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("PANIC: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

uint64_t arch_read_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t arch_time_hz(void)
{
	return 1000000000u;
}
