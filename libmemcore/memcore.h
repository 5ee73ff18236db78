/* SPDX-License-Identifier: MIT */
#ifndef LIBMEMCORE_MEMCORE_H
#define LIBMEMCORE_MEMCORE_H

/*
 * libmemcore: mm/'s heaps as the malloc of a Linux program (LD_PRELOAD).
 * This is the host's port of mm/, what the kernel otherwise provides:
 *
 * - arena.c: physical memory. A large reservation of address space stands
 *   for RAM at fake physical addresses (phys_to_virt() is an offset); the
 *   heaps boot on it as the kernel boots (a device tree of one memory node
 *   -> boot memory map -> boot allocator -> early heap -> buddy -> switch),
 *   the buddy grows by hot-added banks as the program needs more, and
 *   frees whole 4 MiB blocks back to the OS (free page reporting).
 * - window.c: the MMU for large allocations: the real vmap and mapper
 *   over an Sv39 table keep the bookkeeping, a window of the process's
 *   address space holds the data.
 * - harts.c: threads as harts: this_hart_index(), a hart held (its lock or its bias)
 *   around every call into mm/, thread exit and fork.
 * - port.c: the console (stderr, without stdio), panic, misuse reports.
 * - malloc.c: the C allocation API on kmalloc().
 *
 * Everything here is hidden (-fvisibility=hidden and exports.map): the
 * library exports the allocation API and nothing else.
 */

#include <mm/heap.h>
#include <mm/port.h>

#define TLS_IE __attribute__((tls_model("initial-exec")))
#define API    __attribute__((visibility("default")))

/* Every pointer malloc() returns is aligned to this (glibc's max_align_t). */
#define SHIM_MIN_ALIGN 16

/* ---- arena.c --------------------------------------------------------------- */

/*
 * Boots the heaps over a fresh arena; aborts with a message if the OS
 * gives no memory. Called once, by harts.c.
 */
void shim_arena_boot(void);

/*
 * Address space from the OS, inaccessible (PROT_NONE, MAP_NORESERVE):
 * max bytes (a power of two), halved down to min until the OS agrees, the
 * start aligned to align (0: to the size itself); *size says how much.
 * NULL if not even min. Under RLIMIT_AS (ulimit -v), at most 1/share of
 * what the limit leaves is asked for, alignment slack included, so that
 * the program keeps the rest.
 */
char *shim_reserve(uint64_t max, uint64_t min, uint64_t align, uint64_t share, uint64_t *size);

/* What the arena has done, for MEMCORE_STATS and the tests. */
struct shim_arena_stats {
	uint64_t reserved; /* address space reserved for RAM */
	uint64_t ram;	   /* handed to the buddy (first bank + hot-added) */
	uint64_t grows;	   /* hot-adds */
	uint64_t reported; /* bytes of free blocks given back to the OS */
};
void shim_arena_stats(struct shim_arena_stats *s);

/* ---- window.c -------------------------------------------------------------- */

/* Sets up the window and returns the large-allocation backend over it. */
const struct heap_large_ops *shim_window_init(void);

struct shim_window_stats {
	uint64_t reserved; /* address space of the window */
	uint64_t reached;  /* how far mappings have reached into it (made writable) */
	uint64_t purged;   /* bytes of freed mappings given back to the OS */
};
void shim_window_stats(struct shim_window_stats *s);

/*
 * Zeroes bytes at p, the start of a large allocation the caller owns, by
 * having the OS drop its pages (they read as zeros, and cost nothing until
 * written); false if p is not a large allocation (or the OS said no).
 */
bool shim_window_zero(void *p, size_t bytes);

/* Gives every free part of the window below its high-water mark back to the OS. */
void shim_window_purge(void);

/* ---- harts.c --------------------------------------------------------------- */

/*
 * A hart of mm/'s, played by the threads attached to it. Whoever acts as
 * the hart holds it: its lock, or, for the one thread a hart serves alone,
 * its bias (harts.c): busy set around each call, no atomic operation.
 */
struct hart_slot {
	struct shim_hart_local local; /* first: libmemcore/include/mm_port.h */
	spinlock_t lock;    /* a futex lock (tools/port/spinlock_futex.h) */
	unsigned int users; /* threads attached (atomic) */
	unsigned int busy;  /* its bias holder is inside a call (written by that thread) */
	unsigned int revoke; /* SHIM_REVOKE_*: the bias holder must take the lock */
	bool biased;	     /* a thread holds its bias (changed under the lock) */
} __aligned(64);

enum { SHIM_REVOKE_NONE, SHIM_REVOKE_PAUSE, SHIM_REVOKE_GONE };

#define SHIM_HARTS MAX_HARTS

extern __thread struct hart_slot *shim_cur TLS_IE; /* the hart this thread acts as, or NULL */
/*
 * The hart whose bias this thread holds, or, holding none, a stub whose
 * revoke is SHIM_REVOKE_GONE (every thread's first is shim_no_bias, then
 * one of its own): shim_bias_enter() refuses it as it would a revoked
 * bias, so that it needs no test for NULL.
 */
extern __thread struct hart_slot *shim_bias TLS_IE;
extern struct hart_slot shim_no_bias;
/* The API call under way, for misuse reports: set by each but free, NULL again at its end. */
extern __thread const char *shim_op TLS_IE;

/* Harts with a thread attached, and of those the ones a thread holds biased. */
unsigned int shim_harts_in_use(void);
unsigned int shim_harts_biased(void);
int shim_bias_off(void); /* 0, or the errno of membarrier(2) that rules biases out */

/* Set while fork() takes every hart: a call waits for it at the door. */
extern unsigned int shim_forking;

/*
 * A call that does not hold its hart's bias (the first of a thread, one
 * after its exit, during a fork, on a shared hart, with the bias revoked):
 * boots if needed, waits for a fork, picks the thread's hart, takes it.
 */
struct hart_slot *shim_enter_slow(void);
/* The end of such a call. */
void shim_leave_slow(struct hart_slot *h);

/*
 * Enters mm/ as this thread's hart; every API call is between these two.
 * The bias holder's way in is a plain store and a load: whoever wants the
 * hart sets revoke, then has every thread of the process pass a full
 * barrier (membarrier(2)) before it reads busy, so either it sees busy set
 * or the holder sees revoke (Dekker's handshake with one side's fence
 * paid by the rare party). The hart (its bias used), or NULL.
 */
static inline struct hart_slot *shim_bias_enter(void)
{
	struct hart_slot *h = shim_bias;

	if (!h) /* never: a stub at worst, so that the compiler tests only what this returns */
		__builtin_unreachable();
	__atomic_store_n(&h->busy, 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (likely(!__atomic_load_n(&h->revoke, __ATOMIC_ACQUIRE)))
		return h;
	__atomic_store_n(&h->busy, 0, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * The way out, with the hart shim_bias_enter() gave: kept across the call
 * by the caller, it spares reading the thread's variable again (which
 * only the thread itself changes, never inside a call).
 */
static inline void shim_bias_leave(struct hart_slot *h)
{
	__atomic_store_n(&h->busy, 0, __ATOMIC_RELEASE);
}

static inline bool shim_enter_biased(void)
{
	return shim_bias_enter() != NULL;
}

static inline void shim_leave_biased(void)
{
	shim_bias_leave(shim_bias);
}

static inline struct hart_slot *shim_enter(void)
{
	return shim_enter_biased() ? NULL : shim_enter_slow();
}

static inline void shim_leave(struct hart_slot *h)
{
	if (likely(!h))
		shim_leave_biased();
	else
		shim_leave_slow(h);
}

/* Lets go of whatever the call under way holds (a misuse is about to abort). */
void shim_let_go(void);

/* ---- port.c ---------------------------------------------------------------- */

/* Writes to stderr with write(2): stdio may allocate, and stdout is the program's. */
void shim_print(const char *fmt, ...) __printf(1, 2);
/* A misuse report, then abort(): as glibc's "free(): invalid pointer". */
void shim_misuse(const char *what, const void *p) __noreturn;
/* With MEMCORE_STATS=1 in the environment: a summary on stderr at exit. */
void shim_stats_at_exit(void);
/* That summary now (malloc_stats()): reads counters, changes nothing. */
void shim_print_stats(void);

/* ---- malloc.c -------------------------------------------------------------- */

/* What malloc()'s fast path works out once the heaps are up, before any thread has a bias. */
void shim_malloc_boot(void);

/* ---- guard.c --------------------------------------------------------------- */

/* The sampled guard pages' pool and its SIGSEGV handler (with CONFIG_HEAP_GUARD), once. */
void shim_guard_init(void);

#endif
