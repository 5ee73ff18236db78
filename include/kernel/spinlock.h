/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

/*
 * The kernel's spinlock_t (the port's, include/mm/port.h), written with
 * GCC's __atomic builtins only (riscv64: AMOs; arm64: ldaxr/stlxr, built
 * with -mno-outline-atomics, or they become libgcc calls): a ticket lock,
 * so harts are served in the order they arrived and none starves under
 * contention. Host programs have a futex lock instead
 * (tools/port/spinlock_futex.h).
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
