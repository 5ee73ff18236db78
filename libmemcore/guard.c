// SPDX-License-Identifier: MIT
/*
 * The guard pool of sampled allocations (mm/heap/heap_guard.c, compiled in with
 * CONFIG_HEAP_GUARD: libmemcore-debug.so) over the process's memory: a
 * reservation of PROT_NONE pages, a slot's page opened and closed with
 * mprotect (the OS makes that reach every thread). A SIGSEGV inside the
 * pool is reported as the kernel's trap handler reports it, naming the
 * object, on stderr, then abort(); any other SIGSEGV goes to the handler
 * that was there before (the default one: the program dies as it would
 * have). MEMCORE_GUARD_RATE=N in the environment samples one allocation
 * in N (0: none) instead of the library's default.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "../mm/heap/heap_guard.h"
#include "memcore.h"

static char *pool;
static struct sigaction before;

static int pool_open(void *page)
{
	return mprotect(page, PAGE_SIZE, PROT_READ | PROT_WRITE);
}

static void pool_close(void *page)
{
	mprotect(page, PAGE_SIZE, PROT_NONE);
}

/* The report, then abort(): no hart's lock is ours to let go here (a fault is no API call). */
static __noreturn void fault_report(const char *what, const void *p)
{
	(void)p;
	shim_print("memcore: %s\n", what);
	abort();
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr, pc = 0;
	const char *access = "access";

#if defined(__x86_64__)
	const ucontext_t *uc = ctx;

	access = uc->uc_mcontext.gregs[REG_ERR] & 2 ? "write" : "read";
	pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#endif
	if (a - (uintptr_t)pool < HEAP_GUARD_POOL_SIZE) {
		heap_set_misuse_handler(fault_report);
		heap_guard_fault(a, access, pc); /* reports: does not come back */
	}
	if (before.sa_flags & SA_SIGINFO) {
		before.sa_sigaction(sig, si, ctx);
	} else if (before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN) {
		before.sa_handler(sig);
	} else {
		sigaction(SIGSEGV, &before, NULL); /* the access runs again, and kills as before */
	}
}

void shim_guard_init(void)
{
	const char *env = getenv("MEMCORE_GUARD_RATE");
	struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
	struct heap_guard_ops ops = {0, pool_open, pool_close};
	void *r;

	if (!HEAP_GUARD)
		return;
	r = mmap(NULL, HEAP_GUARD_POOL_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (r == MAP_FAILED)
		return; /* nothing sampled */
	pool = r;
	ops.base = (uintptr_t)pool;
	if (sigaction(SIGSEGV, &sa, &before) < 0 || heap_guard_init(&ops) < 0)
		return;
	if (env && *env)
		heap_guard_set_rate((unsigned int)strtoul(env, NULL, 10));
}
