/* SPDX-License-Identifier: MIT */
#ifndef MM_TAS_LOCK_H
#define MM_TAS_LOCK_H

#include <mm/port.h>

/*
 * mm/'s own test-and-set lock, built on the port's cpu_relax(), for
 * per-hart data (the buddy's page caches, a heap's empty pages): taken
 * almost always by its own hart, rarely by another, so fairness does not
 * matter and one atomic swap is the whole cost.
 */
typedef struct {
	/* register-sized: riscv64 need not sign-extend what amoswap returns */
	unsigned long locked;
} tas_lock_t;

#define TAS_LOCK_INIT                                                                              \
	{                                                                                          \
		0                                                                                  \
	}

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
