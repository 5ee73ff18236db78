/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

/*
 * Spinlocks, written with GCC's __atomic builtins only, so the same code
 * serves the host (threads as harts), riscv64 (AMOs) and arm64 (ldaxr/stlxr;
 * build with -mno-outline-atomics, or they become libgcc calls):
 * - spinlock_t, a ticket lock: harts are served in the order they arrived,
 *   so none starves under contention. For shared structures. (Host builds:
 *   a futex lock instead, see below.)
 * - tas_lock_t, a test-and-set lock: one atomic swap. For per-hart data
 *   that another hart takes only now and then.
 *
 * Taking a lock is an acquire, releasing it a release: what one holder
 * wrote is visible to the next. Interrupts are not masked: nothing takes a
 * lock from an interrupt handler yet.
 */

#include <kernel/compiler.h>
#include <kernel/types.h>

typedef struct {
	uint32_t next;	/* the ticket the next arrival draws */
	uint32_t owner; /* the ticket being served */
} spinlock_t;

#define SPINLOCK_INIT { 0, 0 }

#if __STDC_HOSTED__
/*
 * Host builds (threads as harts) run more threads than CPUs: a waiter gives
 * the CPU away rather than spin out its time slice, which the thread it
 * waits for may need.
 */
#include <sched.h>
static inline void cpu_relax(void)
{
	sched_yield();
}

/*
 * Waiting on a lock, the same holds and more: a ticket handed to a
 * descheduled thread stalls every thread behind it (100 threads on 2 CPUs
 * took 20 times as long as with this). So on the host spinlock_t is a
 * futex lock (Drepper's three states, in next: 0 free, 1 held, 2 held with
 * sleepers): it spins briefly, then sleeps in the kernel until woken.
 * Unfair, as threads tolerate; owner is unused.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void spin_lock_init(spinlock_t *l)
{
	__atomic_store_n(&l->owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->next, 0, __ATOMIC_RELEASE);
}

static __attribute__((noinline, unused)) void spin_lock_wait(spinlock_t *l)
{
	for (int spins = 0; spins < 100; spins++) {
		uint32_t free = 0;

		if (__atomic_load_n(&l->next, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&l->next, &free, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ volatile("yield");
#endif
	}
	while (__atomic_exchange_n(&l->next, 2, __ATOMIC_ACQUIRE) != 0)
		syscall(SYS_futex, &l->next, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

static inline void spin_lock(spinlock_t *l)
{
	uint32_t free = 0;

	if (unlikely(!__atomic_compare_exchange_n(&l->next, &free, 1, false, __ATOMIC_ACQUIRE,
						  __ATOMIC_RELAXED)))
		spin_lock_wait(l);
}

static inline bool spin_trylock(spinlock_t *l)
{
	uint32_t free = 0;

	return __atomic_compare_exchange_n(&l->next, &free, 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static inline void spin_unlock(spinlock_t *l)
{
	if (unlikely(__atomic_exchange_n(&l->next, 0, __ATOMIC_RELEASE) == 2))
		syscall(SYS_futex, &l->next, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline bool spin_is_locked(spinlock_t *l)
{
	return __atomic_load_n(&l->next, __ATOMIC_RELAXED) != 0;
}
#else
/* A hint that we are spinning (pause / yield); nothing needs one yet. */
static inline void cpu_relax(void)
{
}

static inline void spin_lock_init(spinlock_t *l)
{
	__atomic_store_n(&l->next, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->owner, 0, __ATOMIC_RELEASE);
}

/*
 * The waits are out of line, so that taking a free lock costs its caller no
 * registers (unused: not every file that includes this header waits).
 */
static __attribute__((noinline, unused)) void spin_lock_wait(spinlock_t *l, uint32_t ticket)
{
	while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
		cpu_relax();
}

static inline void spin_lock(spinlock_t *l)
{
	uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);

	if (unlikely(__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket))
		spin_lock_wait(l, ticket);
}

/* Takes the lock only if nobody holds or waits for it. */
static inline bool spin_trylock(spinlock_t *l)
{
	uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
	uint32_t expect = owner;

	return __atomic_compare_exchange_n(&l->next, &expect, owner + 1, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void spin_unlock(spinlock_t *l)
{
	/* Only the holder writes owner, so a plain read of it is exact. */
	__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

/* True while someone holds it: for assertions, never for decisions. */
static inline bool spin_is_locked(spinlock_t *l)
{
	return __atomic_load_n(&l->next, __ATOMIC_RELAXED) !=
	       __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
}

#endif

/*
 * A test-and-set lock, for per-hart data (the buddy's page caches): taken
 * almost always by its own hart, rarely by another that drains it, so
 * fairness does not matter and one atomic swap is the whole cost.
 */
typedef struct {
	unsigned long locked; /* register-sized: riscv64 need not sign-extend what amoswap returns */
} tas_lock_t;

#define TAS_LOCK_INIT { 0 }

static inline bool tas_trylock(tas_lock_t *l)
{
	return __atomic_exchange_n(&l->locked, 1UL, __ATOMIC_ACQUIRE) == 0;
}

static __attribute__((noinline, unused)) void tas_lock_wait(tas_lock_t *l)
{
	do {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
	} while (!tas_trylock(l));
}

static inline void tas_lock(tas_lock_t *l)
{
	if (unlikely(!tas_trylock(l)))
		tas_lock_wait(l);
}

static inline void tas_unlock(tas_lock_t *l)
{
	__atomic_store_n(&l->locked, 0UL, __ATOMIC_RELEASE);
}

#endif
