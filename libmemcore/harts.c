// SPDX-License-Identifier: MIT
/*
 * Threads as harts. mm/ keys per-hart data (the per-hart heaps, the buddy's
 * page caches) by this_hart_index() and counts on a hart never running on
 * two CPUs at once. Here a thread takes a hart at its first call and gives
 * it back when it exits, and every call into mm/ holds its hart (its lock,
 * or its bias, below):
 *
 * - More threads than harts (SHIM_HARTS): a new thread takes a free hart
 *   if there is one, else shares the hart with the fewest threads. The
 *   lock makes a shared hart one hart at a time, as a CPU time-sliced
 *   between threads is. Why not more harts instead: a hart's heap keeps
 *   pages for reuse, so memory would grow with the number of threads, and
 *   every heap-wide walk (trim, reclaim, cache drains) with the harts.
 * - Thread exit (a pthread key's destructor): the last thread of a hart
 *   trims it as that hart (takes its queue of frees from other harts,
 *   gives empty pages back) and drains its page cache; then it takes the
 *   queues of the other harts whose threads are between calls (below). A
 *   call the thread makes after that (a later destructor, glibc's own
 *   clean-up) borrows a hart for the call alone.
 * - fork(): the prepare handler takes every hart, so no thread is
 *   inside mm/ when the address space is copied and the child inherits
 *   consistent heaps (glibc locks its arenas the same way); in the child
 *   every hart but the forking thread's is free again.
 * - Reclaim (an allocation about to fail): frees queued for a hart whose
 *   thread is idle or gone wait in its queue; we take each such hart whose
 *   lock is free and whose thread is not inside a call, and drain its
 *   queue as that hart.
 * - Bias: a thread that has its hart to itself does not take the lock.
 *   It holds the hart's bias and marks each call with a plain store to
 *   busy (memcore.h). Whoever else needs the hart (fork, a second thread
 *   attaching, a borrowed call, a reclaim draining its queue) takes its
 *   lock, sets revoke, runs membarrier(2) so that the holder's store is
 *   visible, and waits until busy is clear; the holder, seeing revoke,
 *   queues for the lock. A second thread on the hart ends the bias until
 *   the hart has one thread again. Without membarrier (an old kernel, a
 *   seccomp filter) nobody holds a bias and every call takes the lock,
 *   a futex lock: a compare-and-swap in, an exchange out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <mm/buddy.h>
#include <mm/heap_hart.h>
#include <mm/kmalloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "memcore.h"

static struct hart_slot slots[SHIM_HARTS];
static spinlock_t attach_lock = SPINLOCK_INIT; /* picking a hart; fork */

__thread struct hart_slot *shim_cur TLS_IE;
/*
 * Every thread's stub until its first call that takes the slow way in
 * (written by that call, so by each thread a few times at most), then
 * each thread's own: a stub's busy is written on every call of a thread
 * that holds no bias, so it must not be a line all of them share.
 */
struct hart_slot shim_no_bias = {.revoke = SHIM_REVOKE_GONE};
static __thread struct hart_slot no_bias_mine TLS_IE;
__thread struct hart_slot *shim_bias TLS_IE = &shim_no_bias;
__thread const char *shim_op TLS_IE;
static __thread bool borrowing TLS_IE;	      /* its hart is lent for this call alone */
static __thread struct hart_slot *own TLS_IE; /* the hart this thread is attached to */
static __thread bool exited TLS_IE;	      /* its key's destructor has run */

static pthread_key_t exit_key;
static bool have_exit_key;

void **hart_mm_slot(unsigned int index)
{
	return &slots[index].local.mm;
}

/* ---- taking a hart ------------------------------------------------------------ */

/* Whether this thread holds a hart's bias (shim_bias is no stub). */
static bool holds_bias(void)
{
	return shim_bias != &shim_no_bias && shim_bias != &no_bias_mine;
}

/* This thread holds no bias any more: its own stub, which every call refuses. */
static void drop_bias(void)
{
	no_bias_mine.revoke = SHIM_REVOKE_GONE;
	shim_bias = &no_bias_mine;
}

static bool have_membarrier; /* registered for MEMBARRIER_CMD_PRIVATE_EXPEDITED */
static int membarrier_errno; /* why not */

static bool membarrier_register(void)
{
	int saved = errno;
	bool ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;

	if (!ok)
		membarrier_errno = errno;
	errno = saved; /* a malloc that succeeds leaves errno alone */
	return ok;
}

/* Every running thread of the process passes a full barrier. */
static void barrier_everywhere(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
		shim_print("memcore: membarrier failed after it was registered\n");
		abort();
	}
}

/* h's bias is another thread's: have it step aside (h's lock held); then wait_out(). */
static bool pause_bias(struct hart_slot *h)
{
	if (!h->biased || h == shim_bias)
		return false;
	__atomic_store_n(&h->revoke, SHIM_REVOKE_PAUSE, __ATOMIC_RELAXED);
	return true;
}

static bool bias_busy(struct hart_slot *h)
{
	return __atomic_load_n(&h->busy, __ATOMIC_ACQUIRE);
}

static void wait_out(struct hart_slot *h)
{
	while (bias_busy(h))
		cpu_relax();
}

/* Lets h go: a pause of its bias ends with it. */
static void hart_give(struct hart_slot *h)
{
	if (__atomic_load_n(&h->revoke, __ATOMIC_RELAXED) == SHIM_REVOKE_PAUSE)
		__atomic_store_n(&h->revoke, SHIM_REVOKE_NONE, __ATOMIC_RELEASE);
	spin_unlock(&h->lock);
}

/* h, to act as it: its lock, and its bias holder out of any call. */
static void hart_take(struct hart_slot *h)
{
	spin_lock(&h->lock);
	if (pause_bias(h)) {
		barrier_everywhere();
		wait_out(h);
	}
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
static void drain_queues(bool pause_biased);
static bool pause_round_due(void);

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
		hart_take(&slots[0]);
		shim_arena_boot();
		shim_malloc_boot();
		heap_set_reclaim_hook(reclaim_idle_harts);
		hart_give(&slots[0]);
		shim_cur = NULL;
		have_membarrier = membarrier_register();
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

static void bias_again(struct hart_slot *h)
{
	h->biased = true;
	__atomic_store_n(&h->revoke, SHIM_REVOKE_NONE, __ATOMIC_RELAXED);
	shim_bias = h;
}

/* The first thread on h holds its bias; a second ends it. With attach_lock held. */
static void bias_on_attach(struct hart_slot *h, unsigned int users)
{
	hart_take(h);
	if (users == 0 && have_membarrier) {
		bias_again(h);
	} else if (h->biased) {
		h->biased = false;
		__atomic_store_n(&h->revoke, SHIM_REVOKE_GONE, __ATOMIC_RELEASE);
	}
	spin_unlock(&h->lock); /* not hart_give(): GONE stays */
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
		borrowing = true;
		return shim_cur = h;
	}
	bias_on_attach(h, __atomic_fetch_add(&h->users, 1, __ATOMIC_RELAXED));
	spin_unlock(&attach_lock);
	own = shim_cur = h;
	return h;
}

struct hart_slot *shim_enter_slow(void)
{
	struct hart_slot *h;

	wait_for_fork();
	h = shim_cur;
	if (!h) {
		h = attach();
		/* may allocate (glibc's second-level key array): that call finds shim_cur set */
		if (!borrowing)
			pthread_setspecific(exit_key, h);
	}
	hart_take(h);
	if (shim_bias == &shim_no_bias)
		drop_bias(); /* a stub of its own from now on */
	if (h == shim_bias && __atomic_load_n(&h->revoke, __ATOMIC_RELAXED) == SHIM_REVOKE_GONE)
		drop_bias(); /* a second thread came: the lock while it stays */
	/* alone on it again: an attach counts itself before it waits for h, so this is exact */
	else if (!holds_bias() && h == own && have_membarrier &&
		 __atomic_load_n(&h->users, __ATOMIC_RELAXED) == 1)
		bias_again(h);
	return h;
}

void shim_leave_slow(struct hart_slot *h)
{
	hart_give(h);
	if (unlikely(borrowing)) {
		borrowing = false;
		shim_cur = NULL;
	}
}

void shim_let_go(void)
{
	struct hart_slot *b = shim_bias;
	bool in_bias = holds_bias() && bias_busy(b);

	if (shim_cur && (shim_cur != b || !in_bias))
		spin_unlock(&shim_cur->lock);
	if (in_bias)
		__atomic_store_n(&b->busy, 0, __ATOMIC_RELEASE);
}

/* The last thread of a hart leaves nothing behind in it that others cannot use. */
static void thread_exit(void *arg)
{
	struct hart_slot *h = arg;

	hart_take(h);
	shim_cur = h;
	if (__atomic_load_n(&h->users, __ATOMIC_RELAXED) == 1) {
		heap_trim();
		buddy_drain_cache(h->local.index);
	}
	if (h == shim_bias) {
		h->biased = false;
		drop_bias();
	}
	__atomic_fetch_sub(&h->users, 1, __ATOMIC_RELEASE);
	hart_give(h);
	own = shim_cur = NULL;
	exited = true;
	/*
	 * Frees this thread sent to harts whose threads have gone, or wait (a
	 * main thread joining its workers, which free what it allocated),
	 * would wait there for those harts' next allocations: taken now.
	 */
	drain_queues(pause_round_due());
}

/* ---- frees waiting for a hart nobody runs ---------------------------------------- */

/*
 * Takes the queue of frees of every other hart whose lock is free (its
 * threads are between calls, or it has none), acting as that hart. Its
 * caches go back to its pages too (heap_idle()): the thread, if any, is
 * not allocating. A hart whose one thread holds its bias is taken only
 * with pause_biased: its pause costs a barrier on every CPU the process
 * runs on, one for all the harts paused at once (as fork_prepare()). It
 * never waits (a lock taken or a holder inside a call: that hart is left
 * alone): the caller may be inside a call of its own, and two could wait
 * for each other.
 */
static void drain_queues(bool pause_biased)
{
	struct hart_slot *me = shim_cur;
	bool held[SHIM_HARTS], paused = false;

	for (unsigned int i = 0; i < SHIM_HARTS; i++) {
		struct hart_slot *h = &slots[i];

		held[i] = h != me && heap_hart_has_queue(i) && spin_trylock(&h->lock);
		if (!held[i] || !h->biased || h == shim_bias)
			continue;
		if (pause_biased) {
			paused |= pause_bias(h);
		} else {
			hart_give(h);
			held[i] = false;
		}
	}
	if (paused)
		barrier_everywhere();
	for (unsigned int i = 0; i < SHIM_HARTS; i++) {
		struct hart_slot *h = &slots[i];

		if (!held[i])
			continue;
		if (!bias_busy(h)) { /* its holder, if paused, is out of any call */
			shim_cur = h;
			heap_idle();
			shim_cur = me;
		}
		hart_give(h);
	}
}

/*
 * Whether a thread's exit may pause biased harts to take their queues: at
 * most once a millisecond in the process (thread churn would otherwise
 * make a barrier on every CPU per exit); exits in between take only the
 * queues of harts that need no pause.
 */
static bool pause_round_due(void)
{
	static uint64_t last;
	uint64_t prev = __atomic_load_n(&last, __ATOMIC_RELAXED), now;
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return false;
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return now - prev >= 1000000 &&
	       __atomic_compare_exchange_n(&last, &prev, now, false, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/* The heap's reclaim hook: an allocation is about to fail (its hart is held). */
static void reclaim_idle_harts(void)
{
	drain_queues(true);
}

/* ---- fork ---------------------------------------------------------------------- */

/*
 * A thread that allocates without pause would take its hart's lock again
 * before we got it (the lock is not fair): the flag stops new calls first.
 */
static void fork_prepare(void)
{
	bool paused = false;

	__atomic_store_n(&shim_forking, 1, __ATOMIC_RELAXED);
	spin_lock(&attach_lock);
	for (unsigned int i = 0; i < SHIM_HARTS; i++) {
		spin_lock(&slots[i].lock);
		paused |= pause_bias(&slots[i]);
	}
	if (!paused)
		return;
	barrier_everywhere(); /* once for all the harts */
	for (unsigned int i = 0; i < SHIM_HARTS; i++)
		wait_out(&slots[i]);
}

static void fork_done(void)
{
	__atomic_store_n(&shim_forking, 0, __ATOMIC_RELEASE);
	syscall(SYS_futex, &shim_forking, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void fork_parent(void)
{
	for (unsigned int i = 0; i < SHIM_HARTS; i++)
		hart_give(&slots[i]);
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
		slots[i].busy = 0;
		slots[i].revoke = SHIM_REVOKE_NONE;
		slots[i].biased = false;
	}
	spin_lock_init(&attach_lock);
	shim_forking = 0; /* nobody else to wake */
	/* the only thread: its hart its own, biased if the child may use membarrier */
	have_membarrier = have_membarrier && membarrier_register();
	if (own && have_membarrier) {
		shim_bias = own;
		own->biased = true;
	} else {
		drop_bias();
	}
}

/* ---- for the tests and MEMCORE_STATS ------------------------------------------- */

unsigned int shim_harts_in_use(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < SHIM_HARTS; i++)
		n += __atomic_load_n(&slots[i].users, __ATOMIC_RELAXED) != 0;
	return n;
}

/* 0, or why no hart can be biased (membarrier's errno). */
int shim_bias_off(void)
{
	return have_membarrier ? 0 : membarrier_errno;
}

unsigned int shim_harts_biased(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < SHIM_HARTS; i++)
		n += __atomic_load_n(&slots[i].biased, __ATOMIC_RELAXED);
	return n;
}
