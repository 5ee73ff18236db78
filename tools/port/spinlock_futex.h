/* SPDX-License-Identifier: MIT */
#ifndef TOOLS_PORT_SPINLOCK_FUTEX_H
#define TOOLS_PORT_SPINLOCK_FUTEX_H

/*
 * spinlock_t for host programs, where threads play harts (the port's,
 * include/mm/port.h; the kernel's is include/kernel/spinlock.h).
 *
 * Host builds run more threads than CPUs: a waiter gives the CPU away
 * rather than spin out its time slice, which the thread it waits for may
 * need.
 */
#include <kernel/compiler.h>
#include <kernel/types.h>

typedef struct {
	uint32_t next;	/* 0 free, 1 held, 2 held with sleepers */
	uint32_t owner; /* unused: the kernel's ticket lock has the same shape */
} spinlock_t;

#define SPINLOCK_INIT                                                                              \
	{                                                                                          \
		0, 0                                                                               \
	}

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

#endif
