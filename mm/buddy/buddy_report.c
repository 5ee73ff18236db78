// SPDX-License-Identifier: MIT
/*
 * Free page reporting: free blocks of BUDDY_MAX_ORDER are handed to a
 * callback (a hypervisor's balloon, or madvise(MADV_DONTNEED) in a
 * process) so that what backs them can be taken away, then go back on
 * their list marked reported, until they are allocated again.
 *
 * The callback runs with no buddy lock held, while the block is off the
 * lists (isolated) and its head is FRAME_CACHED, so nobody can allocate,
 * merge or free it meanwhile. One reporter at a time: whoever finds the
 * flag taken leaves the work to its holder, who looks again before it
 * lets go.
 */
#include "buddy_internal.h"

static void (*report_fn)(phys_addr_t pa, uint64_t size);
uint64_t buddy_report_keep = UINT64_MAX; /* no reporter: never exceeded */
static unsigned long reporting;		 /* 1 while a reporter runs */

void buddy_set_reporter(void (*fn)(phys_addr_t pa, uint64_t size), uint64_t keep_frames)
{
	/* keep first when there is none, fn first when there is: no trigger starts without fn */
	if (!fn)
		__atomic_store_n(&buddy_report_keep, UINT64_MAX, __ATOMIC_RELEASE);
	__atomic_store_n(&report_fn, fn, __ATOMIC_RELEASE);
	if (fn)
		__atomic_store_n(&buddy_report_keep, keep_frames, __ATOMIC_RELEASE);
}

/*
 * An unreported block of BUDDY_MAX_ORDER, if any: in the lowest bank that
 * has one (allocation, highest bank first, reaches it last), the one freed
 * longest ago (allocation takes the most recent first): the last before
 * the reported ones.
 */
static bool pick_unreported(struct buddy_bank **bank, uint32_t *index)
{
	for (unsigned int n = 0; n < buddy_pool.nr_banks; n++) {
		struct buddy_bank *b = &buddy_pool.bank[n];
		uint32_t i = b->max_reported != NIL ? b->frames[b->max_reported].prev : b->max_tail;

		if (i != NIL) {
			*bank = b;
			*index = i;
			return true;
		}
	}
	return false;
}

/*
 * Reports blocks, one at a time, until at most target frames are left
 * unreported, and adds their frames to *done. False if no block was left
 * to report before that (the counts would be wrong: buddy_check() says).
 */
static bool report_down_to(void (*fn)(phys_addr_t, uint64_t), uint64_t target, uint64_t *done)
{
	struct buddy_bank *b;
	uint32_t i;

	for (;;) {
		spin_lock(&buddy_pool.lock);
		if (buddy_pool.unreported_frames <= target || !pick_unreported(&b, &i)) {
			bool there = buddy_pool.unreported_frames <= target;

			spin_unlock(&buddy_pool.lock);
			return there;
		}
		bank_list_unlink(b, i, BUDDY_MAX_ORDER);
		frame_store_state(&b->frames[i],
				  frame_state_make(FRAME_CACHED, BUDDY_MAX_ORDER, 0));
		spin_unlock(&buddy_pool.lock);

		fn(bank_pa(b, i), PAGE_SIZE << BUDDY_MAX_ORDER);

		spin_lock(&buddy_pool.lock);
		bank_list_push_reported(b, i);
		spin_unlock(&buddy_pool.lock);
		*done += 1u << BUDDY_MAX_ORDER;
	}
}

/*
 * Letting go of the flag is a read-modify-write, not a plain store: a free
 * that found it taken did so with a read-modify-write that came before
 * ours, so ours then sees that free's count, and we go round again.
 */
static void report_unlock(void)
{
	__atomic_exchange_n(&reporting, 0UL, __ATOMIC_ACQ_REL);
}

static uint64_t keep(void)
{
	return __atomic_load_n(&buddy_report_keep, __ATOMIC_ACQUIRE);
}

static bool over_keep(void)
{
	return __atomic_load_n(&buddy_pool.unreported_frames, __ATOMIC_RELAXED) > keep();
}

void buddy_report_run(void)
{
	void (*fn)(phys_addr_t, uint64_t);
	uint64_t done = 0;
	bool there;

	do {
		if (__atomic_exchange_n(&reporting, 1UL, __ATOMIC_ACQ_REL))
			return; /* its holder will look again */
		fn = __atomic_load_n(&report_fn, __ATOMIC_ACQUIRE);
		there = fn && report_down_to(fn, keep(), &done);
		report_unlock();
	} while (there && over_keep());
}

uint64_t buddy_report_free(void)
{
	void (*fn)(phys_addr_t, uint64_t) = __atomic_load_n(&report_fn, __ATOMIC_ACQUIRE);
	uint64_t done = 0;

	if (!fn)
		return 0;
	while (__atomic_exchange_n(&reporting, 1UL, __ATOMIC_ACQ_REL))
		cpu_relax(); /* a reporter is at work: wait, then report what it left */
	report_down_to(fn, 0, &done);
	report_unlock();
	return done;
}
