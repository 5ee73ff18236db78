/* SPDX-License-Identifier: MIT */
#ifndef EXAMPLE_HOSTED_MM_PORT_H
#define EXAMPLE_HOSTED_MM_PORT_H

/*
 * The smallest complete port of mm/ (include/mm/port.h says what each item
 * must do), for a Linux process: an mmap'd arena plays RAM, threads play
 * harts. include/mm/port.h includes this file and then checks every
 * signature below at compile time.
 *
 * Only the C headers mm/ may assume are used here, so that this file is
 * also a template for a kernel: replace the bodies, keep the names.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- types ----------------------------------------------------------------- */

typedef uint64_t phys_addr_t;

/* ---- physical memory --------------------------------------------------------- */

/*
 * The machine's RAM is [EXAMPLE_RAM_BASE, + EXAMPLE_RAM_SIZE) of fake
 * physical addresses (QEMU virt's RAM base), backed by the arena that
 * port.c maps at example_arena. So the "direct map" is an addition, as in
 * a kernel: mm/ calls these on every allocation and free, so they are
 * inline.
 */
#define EXAMPLE_RAM_BASE 0x80000000ULL
#define EXAMPLE_RAM_SIZE (64ULL << 20)

extern char *example_arena;

static inline void *phys_to_virt(phys_addr_t pa)
{
	return example_arena + (pa - EXAMPLE_RAM_BASE);
}

static inline phys_addr_t virt_to_phys(const void *p)
{
	/* integers, not pointer subtraction: p need not point into the arena */
	return EXAMPLE_RAM_BASE + ((uintptr_t)p - (uintptr_t)example_arena);
}

/* ---- harts ------------------------------------------------------------------- */

/*
 * Each thread sets example_hart once, before its first call into mm/, to
 * the dense index of the hart it plays (the boot thread is 0, the
 * thread-local's initial value). Two threads must never play one index.
 */
extern __thread unsigned int example_hart;

static inline unsigned int this_hart_index(void)
{
	return example_hart;
}

/* mm/ keeps each hart's heap in one word of the hart's; port.c has an array. */
void **hart_mm_slot(unsigned int index);

static inline void **this_hart_mm_slot(void)
{
	return hart_mm_slot(example_hart);
}

/* ---- locks ------------------------------------------------------------------- */

/*
 * A test-and-set spinlock: mm/ holds its locks for a few instructions only.
 * cpu_relax() yields the CPU (port.c): a host may run more threads than
 * CPUs, and the thread a waiter waits for may need the waiter's CPU.
 */
typedef struct {
	unsigned int locked;
} spinlock_t;

#define SPINLOCK_INIT                                                                              \
	{                                                                                          \
		0                                                                                  \
	}

void cpu_relax(void);

static inline void spin_lock_init(spinlock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELAXED);
}

static inline bool spin_trylock(spinlock_t *l)
{
	return __atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

static inline void spin_lock(spinlock_t *l)
{
	while (!spin_trylock(l)) {
		/* wait reading, not writing: the line stays shared until it is free */
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
	}
}

static inline void spin_unlock(spinlock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* ---- messages (port.c: libc's vsnprintf and stdout) ------------------------------ */

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- configuration ---------------------------------------------------------------- */

/*
 * CONFIG_* (mm/Kconfig) come from the Makefile's -D flags: this program
 * has no Kconfig. CONFIG_MAX_HARTS sizes the per-hart arrays.
 */

#endif
