/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_HARDEN_H
#define MM_HEAP_HARDEN_H

/*
 * The heap hardening tier (mm/Kconfig's "Kernel heap hardening" choice) as
 * a C constant, so that code can say
 *
 *	if (HEAP_HARDEN >= HEAP_HARDEN_DEFAULT)
 *
 * and the compiler drops what a tier does not need. Builds without a
 * .config (the host tests, libmemcore) get the default tier unless they
 * define CONFIG_HEAP_HARDEN_OFF or CONFIG_HEAP_HARDEN_DEBUG themselves.
 *
 * - OFF: the fastest; only the checks that cost nothing.
 * - DEFAULT: free-list words encoded (or kept out of band) and checked on
 *   use, headers and sizes checked, double frees caught.
 * - DEBUG: mm/heap/heap_debug.c above every strategy and the early heap:
 *   redzones, poison, a quarantine, call sites in every report.
 */

#define HEAP_HARDEN_OFF	    0
#define HEAP_HARDEN_DEFAULT 1
#define HEAP_HARDEN_DEBUG   2

/* HEAP_HARDEN_NAME: the tier's name (a string literal), as the boot log and the tests print it. */
#if defined(CONFIG_HEAP_HARDEN_OFF)
#define HEAP_HARDEN	 HEAP_HARDEN_OFF
#define HEAP_HARDEN_NAME "off"
#elif defined(CONFIG_HEAP_HARDEN_DEBUG)
#define HEAP_HARDEN	 HEAP_HARDEN_DEBUG
#define HEAP_HARDEN_NAME "debug"
#else
#define HEAP_HARDEN	 HEAP_HARDEN_DEFAULT
#define HEAP_HARDEN_NAME "default"
#endif

/* The debug tier's quarantine of freed objects, in bytes. */
#ifdef CONFIG_HEAP_QUARANTINE_KB
#define HEAP_QUARANTINE_BYTES ((uint64_t)CONFIG_HEAP_QUARANTINE_KB << 10)
#else
#define HEAP_QUARANTINE_BYTES (1024ULL << 10)
#endif

#endif
