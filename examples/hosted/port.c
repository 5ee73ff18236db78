// SPDX-License-Identifier: MIT
/*
 * The out-of-line half of this program's port of mm/ (mm_port.h has the
 * inline half). Everything here is what a kernel writes once: where the
 * per-hart word lives, how to wait, how to print, how to stop.
 */
#include <mm/harts.h> /* MAX_HARTS */
#include <mm/port.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

char *example_arena;		    /* mapped by main.c before mm/ is called */
__thread unsigned int example_hart; /* 0: the boot thread plays the boot hart */

/* A kernel keeps this word in its per-CPU area; an array indexed by hart does here. */
static void *mm_slots[MAX_HARTS];

void **hart_mm_slot(unsigned int index)
{
	if (index >= MAX_HARTS)
		panic("hart_mm_slot(%u): MAX_HARTS is %d", index, MAX_HARTS);
	return &mm_slots[index];
}

void cpu_relax(void)
{
	sched_yield();
}

/*
 * stdio is safe here: mm/ may print with its locks held, and must then
 * not re-enter kmalloc(); this program's stdio uses libc's malloc, not
 * kmalloc(), so it cannot. (A malloc built on kmalloc() must print
 * through write(2), as libmemcore does.) mm/ may print one line in
 * several calls: print exactly what it gives.
 */
int vprintk(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

int printk(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return vsnprintf(buf, size, fmt, ap);
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* A broken invariant or a misuse mm/ found: say so and stop, with a core dump. */
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
