// SPDX-License-Identifier: MIT
/*
 * Threads as harts. mm/ keys per-hart data (the per-hart heaps, the buddy's
 * page caches) by this_hart_index() and counts on a hart never running on
 * two CPUs at once. Here a thread takes a hart at its first call and gives
 * it back when it exits, and every call into mm/ holds its hart's lock:
 *
 * - More threads than harts (SHIM_HARTS): a new thread takes a free hart
 *   if there is one, else shares the hart with the fewest threads. The
 *   lock makes a shared hart one hart at a time, as a CPU time-sliced
 *   between threads is. Why not more harts instead: a hart's heap keeps
 *   pages for reuse, so memory would grow with the number of threads, and
 *   every heap-wide walk (trim, reclaim, cache drains) with the harts.
 * - Thread exit (a pthread key's destructor): the last thread of a hart
 *   trims it as that hart (takes its queue of frees from other harts,
 *   gives empty pages back) and drains its page cache. A call the thread
 *   makes after that (a later destructor, glibc's own clean-up) borrows a
 *   hart for the call alone.
 * - fork(): the prepare handler takes every hart's lock, so no thread is
 *   inside mm/ when the address space is copied and the child inherits
 *   consistent heaps (glibc locks its arenas the same way); in the child
 *   every hart but the forking thread's is free again.
 * - Reclaim (an allocation about to fail): frees queued for a hart whose
 *   thread is idle or gone wait in its queue; we take each such hart whose
 *   lock is free and drain its queue as that hart.
 *
 * Uncontended, a call pays one atomic add and one store for its lock (a
 * ticket lock, so that fork's prepare handler gets its turn between the
 * calls of a thread that allocates without pause).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <mm/buddy.h>
#include <mm/kmalloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memcore.h"

static struct hart_slot slots[SHIM_HARTS];
static spinlock_t attach_lock = SPINLOCK_INIT; /* picking a hart; fork */

__thread struct hart_slot *shim_cur TLS_IE;
__thread const char *shim_op TLS_IE;
__thread bool shim_borrowing TLS_IE;
static __thread struct hart_slot *own TLS_IE; /* the hart this thread is attached to */
static __thread bool exited TLS_IE;	      /* its key's destructor has run */

static pthread_key_t exit_key;
static bool have_exit_key;

void **hart_mm_slot(unsigned int index)
{
	return &slots[index].local.mm;
}

/* ---- booting once ------------------------------------------------------------- */

enum { BOOT_NONE, BOOT_RUNNING, BOOT_HEAPS_UP, BOOT_DONE };
static unsigned int boot_state;
static __thread bool booting TLS_IE;

static void thread_exit(void *arg);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);
static void reclaim_idle_harts(void);
static void drain_queues(bool only_free);

/*
 * The heaps first, then what may allocate (a pthread key, the fork
 * handlers): a call those make on this thread finds the heaps up and
 * borrows a hart. Other threads wait for the whole boot.
 */
static void boot(void)
{
	unsigned int s = BOOT_NONE;

	if (__atomic_compare_exchange_n(&boot_state, &s, BOOT_RUNNING, false, __ATOMIC_ACQUIRE,
					__ATOMIC_ACQUIRE)) {
		booting = true;
		for (unsigned int i = 0; i < SHIM_HARTS; i++)
			slots[i].local.index = i;
		/* the boot runs on hart 0, as the kernel's does */
		shim_cur = &slots[0];
		spin_lock(&slots[0].lock);
		shim_arena_boot();
		heap_set_reclaim_hook(reclaim_idle_harts);
		spin_unlock(&slots[0].lock);
		shim_cur = NULL;
		__atomic_store_n(&boot_state, BOOT_HEAPS_UP, __ATOMIC_RELEASE);
		have_exit_key = pthread_key_create(&exit_key, thread_exit) == 0;
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		shim_stats_at_exit();
		booting = false;
		__atomic_store_n(&boot_state, BOOT_DONE, __ATOMIC_RELEASE);
		return;
	}
	if (booting) {
		if (s == BOOT_RUNNING) {
			shim_print(
			    "memcore: malloc called while the heap boots: cannot serve it\n");
			abort();
		}
		return;
	}
	while (__atomic_load_n(&boot_state, __ATOMIC_ACQUIRE) != BOOT_DONE)
		cpu_relax();
}

/* ---- attaching --------------------------------------------------------------- */

/* A free hart, else the one with the fewest threads; with attach_lock held. */
static struct hart_slot *pick(void)
{
	struct hart_slot *best = &slots[0];

	for (unsigned int i = 0; i < SHIM_HARTS; i++) {
		unsigned int users = __atomic_load_n(&slots[i].users, __ATOMIC_RELAXED);

		if (users == 0)
			return &slots[i];
		if (users < __atomic_load_n(&best->users, __ATOMIC_RELAXED))
			best = &slots[i];
	}
	return best;
}

unsigned int shim_forking;

static void wait_for_fork(void)
{
	while (__atomic_load_n(&shim_forking, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &shim_forking, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
}

static struct hart_slot *attach(void)
{
	struct hart_slot *h;

	if (__atomic_load_n(&boot_state, __ATOMIC_ACQUIRE) != BOOT_DONE)
		boot();
	spin_lock(&attach_lock);
	h = pick();
	if (exited || !have_exit_key || booting) {
		/* no destructor would give it back: a hart for this call only */
		spin_unlock(&attach_lock);
		shim_borrowing = true;
		return shim_cur = h;
	}
	__atomic_fetch_add(&h->users, 1, __ATOMIC_RELAXED);
	spin_unlock(&attach_lock);
	own = shim_cur = h;
	/* may allocate (glibc's second-level key array): that call finds shim_cur set */
	pthread_setspecific(exit_key, h);
	return h;
}

struct hart_slot *shim_enter_slow(void)
{
	wait_for_fork();
	return shim_cur ? shim_cur : attach();
}

void shim_detach_borrowed(void)
{
	shim_borrowing = false;
	shim_cur = NULL;
}

/* The last thread of a hart leaves nothing behind in it that others cannot use. */
static void thread_exit(void *arg)
{
	struct hart_slot *h = arg;

	spin_lock(&h->lock);
	shim_cur = h;
	if (__atomic_load_n(&h->users, __ATOMIC_RELAXED) == 1) {
		heap_trim();
		buddy_drain_cache(h->local.index);
	}
	__atomic_fetch_sub(&h->users, 1, __ATOMIC_RELEASE);
	spin_unlock(&h->lock);
	own = shim_cur = NULL;
	exited = true;
	/* frees sent to harts whose threads have all gone would wait there for a new thread */
	drain_queues(true);
}

/* ---- frees waiting for a hart nobody runs ---------------------------------------- */

/*
 * Takes the queue of frees of every other hart whose lock is free (its
 * threads are between calls, or it has none), acting as that hart; with
 * only_free, only of harts no thread is attached to.
 */
static void drain_queues(bool only_free)
{
	struct hart_slot *me = shim_cur;

	for (unsigned int i = 0; i < SHIM_HARTS; i++) {
		struct hart_slot *h = &slots[i];

		if (h == me || !heap_hart_has_queue(i) ||
		    (only_free && __atomic_load_n(&h->users, __ATOMIC_RELAXED)) ||
		    !spin_trylock(&h->lock))
			continue;
		shim_cur = h;
		heap_idle();
		shim_cur = me;
		spin_unlock(&h->lock);
	}
}

/* The heap's reclaim hook: an allocation is about to fail (its hart's lock is held). */
static void reclaim_idle_harts(void)
{
	drain_queues(false);
}

/* ---- fork ---------------------------------------------------------------------- */

/*
 * A thread that allocates without pause would take its hart's lock again
 * before we got it (the lock is not fair): the flag stops new calls first.
 */
static void fork_prepare(void)
{
	__atomic_store_n(&shim_forking, 1, __ATOMIC_RELAXED);
	spin_lock(&attach_lock);
	for (unsigned int i = 0; i < SHIM_HARTS; i++)
		spin_lock(&slots[i].lock);
}

static void fork_done(void)
{
	__atomic_store_n(&shim_forking, 0, __ATOMIC_RELEASE);
	syscall(SYS_futex, &shim_forking, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void fork_parent(void)
{
	for (unsigned int i = 0; i < SHIM_HARTS; i++)
		spin_unlock(&slots[i].lock);
	spin_unlock(&attach_lock);
	fork_done();
}

/* One thread lives on: its hart stays its own, every other hart is free. */
static void fork_child(void)
{
	/* reset, not unlocked: the tickets of threads that waited in the parent are in them */
	for (unsigned int i = 0; i < SHIM_HARTS; i++) {
		slots[i].users = &slots[i] == own;
		spin_lock_init(&slots[i].lock);
	}
	spin_lock_init(&attach_lock);
	shim_forking = 0; /* nobody else to wake */
}

/* ---- for the tests and MEMCORE_STATS ------------------------------------------- */

unsigned int shim_harts_in_use(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < SHIM_HARTS; i++)
		n += __atomic_load_n(&slots[i].users, __ATOMIC_RELAXED) != 0;
	return n;
}
