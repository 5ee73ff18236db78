/* SPDX-License-Identifier: MIT */
#ifndef MM_PORT_H
#define MM_PORT_H

/*
 * The port: everything mm/ needs from the kernel (or program) that hosts
 * it, and nothing else. mm/ reaches outside itself only through this
 * header (and <libfdt.h>, a library of its own); a kernel that takes mm/
 * writes one header, <mm_port.h>, and puts its directory on the include
 * path. Which port a build gets is decided by that path alone: this
 * project's kernel has kernel/port/mm_port.h, its host tests and tools
 * tools/port/mm_port.h, libmemcore libmemcore/include/mm_port.h, and
 * examples/hosted/mm_port.h is the smallest complete one (docs/porting.md).
 *
 * <mm_port.h> must provide, as functions or static inline functions (the
 * checks at the end of this file hold every port to these signatures):
 *
 * Types
 *   phys_addr_t             an unsigned 64-bit integer: a physical address.
 *
 * Physical memory (called on every allocation and free: make them inline)
 *   void *phys_to_virt(phys_addr_t pa)
 *                           a pointer through which pa can be read and
 *                           written (the direct map). mm/ calls it only for
 *                           RAM the memory map listed, the page tables it
 *                           builds included. It keeps alignment up to 32
 *                           KiB at least (the heaps round pointers down to
 *                           a slab page's or a mid block's head), and is
 *                           never NULL: a direct map that would put RAM at
 *                           address 0 (identity mapped, RAM at physical 0)
 *                           must leave that page out of the memory map, or
 *                           an object there would be NULL.
 *   phys_addr_t virt_to_phys(const void *p)
 *                           its inverse, for pointers phys_to_virt() gave.
 *                           kfree() also calls it on a pointer the heap
 *                           never handed out, to report the misuse: for
 *                           any pointer it must return, with an address
 *                           that is no RAM (a direct map's subtraction
 *                           does).
 *
 * Harts (called on every allocation: make them inline)
 *   unsigned int this_hart_index(void)
 *                           the running hart's dense index, 0 for the boot
 *                           hart, below MAX_HARTS (<mm/harts.h>: the index
 *                           of its hart ID in the hart table). Constant for
 *                           a thread of execution: mm/ calls it with
 *                           preemption (migration) ruled out by the caller.
 *   void **this_hart_mm_slot(void)
 *   void **hart_mm_slot(unsigned int index)
 *                           a pointer-sized word of the running hart's (of
 *                           hart index's), NULL until mm/ stores to it; mm/
 *                           keeps the hart's heap there. Every index below
 *                           MAX_HARTS needs one: the heap's set-up clears
 *                           them all.
 *
 * Locks (any context mm/ runs in; interrupts are not masked by mm/, so a
 *   kernel that allocates from interrupt handlers must mask them around
 *   its calls or make these locks do it)
 *   spinlock_t, SPINLOCK_INIT, spin_lock_init(), spin_lock(),
 *   spin_trylock() (true: taken), spin_unlock()
 *                           mutual exclusion; taking is an acquire,
 *                           releasing a release. Held for short sections
 *                           only, sometimes several at once (in a fixed
 *                           order); any port function may be called with
 *                           one held, so none may wait for one of mm/'s.
 *   cpu_relax()             a hint inside busy-wait loops (may be empty;
 *                           a hosted port may yield the CPU).
 *
 * Messages (may be called with mm/'s locks held: must not allocate with
 *   kmalloc, must not take those locks)
 *   int printk(const char *fmt, ...), int vprintk(const char *, va_list)
 *                           print exactly what fmt gives, adding
 *                           nothing: one line may take several calls (a
 *                           table's row); each ends in '\n'. The formats
 *                           used are C99's %d %u %x with the l and ll
 *                           lengths, %zu %s %p %c, and their flags,
 *                           width and precision (%-*s included).
 *   int ksnprintf(char *, size_t, const char *fmt, ...)
 *   int kvsnprintf(char *, size_t, const char *fmt, va_list)
 *                           C99 snprintf/vsnprintf semantics.
 *   void panic(const char *fmt, ...)
 *                           never returns. mm/ calls it for a broken
 *                           invariant and for a misuse the hardening tier
 *                           reports (a double free, an overflow found).
 *
 * The C library (freestanding subset)
 *   <string.h>'s memcpy, memmove, memset, memcmp, memchr, strlen, strnlen,
 *   strncmp, strcmp; GCC's __atomic builtins (arm64: -mno-outline-atomics,
 *   or link the helpers they call) and __builtin_ctz/ctzll/expect/
 *   return_address. (libfdt, which mm/dt and mm/memmap use, needs its own few.)
 *
 * Configuration (macros, optional): CONFIG_MAX_HARTS (<mm/harts.h>, 8 if
 *   unset) and mm/Kconfig's options (CONFIG_BUDDY_MAX_ORDER,
 *   CONFIG_MEMMAP_MAX_REGIONS, CONFIG_HEAP_*, ...), each with a default
 *   when unset: a port without Kconfig defines the ones it wants on the
 *   command line (-D). The heap strategy is not a macro: it is which of
 *   mm/heap/'s strategy folders is compiled (docs/porting.md).
 *
 * Defined here when <mm_port.h> did not: the usual helpers (ALIGN_UP,
 * MIN, likely, ...) and the errno values mm/ returns negated.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mm_port.h>

#include <mm/port_defaults.h>

/* The contract, checked: a port that differs fails to compile here, with the name. */
#define MM_PORT_HAS(fn, type)                                                                      \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&(fn)), type),                      \
		       "<mm_port.h>: " #fn " must be " #type)

_Static_assert(sizeof(phys_addr_t) == 8 && (phys_addr_t)-1 > 0,
	       "<mm_port.h>: phys_addr_t must be an unsigned 64-bit integer");
_Static_assert(PAGE_SIZE == 4096, "mm/ manages 4 KiB pages");
MM_PORT_HAS(phys_to_virt, void *(*)(phys_addr_t));
MM_PORT_HAS(virt_to_phys, phys_addr_t (*)(const void *));
MM_PORT_HAS(this_hart_index, unsigned int (*)(void));
MM_PORT_HAS(this_hart_mm_slot, void **(*)(void));
MM_PORT_HAS(hart_mm_slot, void **(*)(unsigned int));
MM_PORT_HAS(spin_lock_init, void (*)(spinlock_t *));
MM_PORT_HAS(spin_lock, void (*)(spinlock_t *));
MM_PORT_HAS(spin_trylock, bool (*)(spinlock_t *));
MM_PORT_HAS(spin_unlock, void (*)(spinlock_t *));
MM_PORT_HAS(cpu_relax, void (*)(void));
MM_PORT_HAS(printk, int (*)(const char *, ...));
MM_PORT_HAS(vprintk, int (*)(const char *, va_list));
MM_PORT_HAS(ksnprintf, int (*)(char *, size_t, const char *, ...));
MM_PORT_HAS(kvsnprintf, int (*)(char *, size_t, const char *, va_list));
/* a redeclaration: it must be, and is from here on, noreturn */
__noreturn void panic(const char *fmt, ...) __printf(1, 2);

#endif
