// SPDX-License-Identifier: MIT
/*
 * Contiguous ranges of any number of frames. Up to the largest block: one
 * block of the next power of two, its tail given back. Beyond, or when the
 * limit or alignment rules that out: a walk over a bank's blocks for the
 * lowest free run that fits. A range is tagged as the maximal aligned
 * blocks that tile it, so frame_head() and the checks work on it as on any
 * block, and buddy_free_range() takes it back block by block.
 */
#include <mm/port.h>

#include "buddy_internal.h"

/* Frees [from, to) as maximal aligned blocks, each merging with its buddy if it can. */
static void give_back(struct buddy_bank *b, uint32_t from, uint32_t to)
{
	while (from < to) {
		unsigned int k = block_order_at(b->base_pfn + from, b->base_pfn + to);

		bank_free_locked(b, from, k);
		from += 1u << k;
	}
}

/*
 * The lowest run of nr free frames in b that starts aligned and ends by the
 * limit. Hops from head to head, so it costs one step per block.
 */
static bool find_run(const struct buddy_bank *b, uint64_t nr, const struct buddy_req *r,
		     uint32_t *start)
{
	uint64_t align = 1ULL << r->align_order;
	uint64_t run = 0;
	bool in_run = false;

	for (uint32_t i = 0; i < b->nr_frames;) {
		uint32_t s = frame_load_state(&b->frames[i]);
		uint64_t end = i + (1ULL << frame_state_order(s));

		if (!in_run && b->base_pfn + i + nr > r->limit_pfn)
			return false;
		if (frame_state_tag(s) != FRAME_FREE) {
			in_run = false;
		} else {
			if (!in_run) {
				run = ALIGN_UP(b->base_pfn + i, align) - b->base_pfn;
				in_run = run < end;
			}
			if (in_run && end - run >= nr) {
				if (b->base_pfn + run + nr > r->limit_pfn)
					return false;
				*start = (uint32_t)run;
				return true;
			}
		}
		i = (uint32_t)end;
	}
	return false;
}

/* Takes [s, s + nr), all in free blocks, off the lists; the rest of those blocks goes back. */
static void carve_run(struct buddy_bank *b, uint32_t s, uint64_t nr)
{
	uint32_t e = (uint32_t)(s + nr);
	uint32_t i = bank_block_head(b, s);

	while (i < e) {
		unsigned int k = frame_state_order(frame_load_state(&b->frames[i]));
		uint32_t end = i + (1u << k);

		bank_list_unlink(b, i, k);
		frame_store_state(&b->frames[i], FRAME_TAIL);
		if (i < s)
			give_back(b, i, s);
		if (end > e)
			give_back(b, e, end);
		i = end;
	}
	bank_tag_blocks(b, s, e, FRAME_ALLOCATED);
}

static bool take_run_locked(uint64_t nr, const struct buddy_req *r, struct buddy_bank **bank,
			    uint32_t *index)
{
	for (unsigned int n = buddy_pool.nr_banks; n-- > 0;) {
		struct buddy_bank *b = &buddy_pool.bank[n];

		if (nr <= b->free_frames && find_run(b, nr, r, index)) {
			carve_run(b, *index, nr);
			*bank = b;
			return true;
		}
	}
	return false;
}

/* The smallest order whose blocks hold nr frames (more than the largest order if none). */
static unsigned int order_for(uint64_t nr)
{
	unsigned int k = 0;

	while (k <= BUDDY_MAX_ORDER && (1ULL << k) < nr)
		k++;
	return k;
}

static int range_alloc(uint64_t nr, struct buddy_req *r, phys_addr_t *pa)
{
	struct buddy_bank *b;
	uint32_t i;
	bool ok = false;

	r->order = order_for(nr);
	spin_lock(&buddy_pool.lock);
	if (r->order <= BUDDY_MAX_ORDER && buddy_take_locked(r, &b, &i)) {
		bank_tag_blocks(b, i, (uint32_t)(i + nr), FRAME_ALLOCATED);
		give_back(b, (uint32_t)(i + nr), i + (1u << r->order));
		ok = true;
	} else {
		ok = take_run_locked(nr, r, &b, &i);
	}
	spin_unlock(&buddy_pool.lock);
	if (!ok)
		return -ENOMEM;
	*pa = bank_pa(b, i);
	return 0;
}

int buddy_alloc_range(uint64_t nr_frames, uint64_t align, phys_addr_t limit, phys_addr_t *pa)
{
	struct buddy_req r;
	bool drained = false;
	int rc;

	if (nr_frames == 0 || nr_frames > BANK_MAX_FRAMES ||
	    buddy_make_req(0, align, limit, &r) < 0)
		return -EINVAL;
	do
		rc = range_alloc(nr_frames, &r, pa);
	while (rc == -ENOMEM && buddy_make_room(nr_frames, &r, &drained));
	return rc;
}

/*
 * Boot allocations are merged by the boot allocator and tiled as one run,
 * so a block of them may span several allocations: their owners may give
 * back any part. The early block holding frame i is re-tiled so that a block
 * starts at i. (Any other block split like this is a misuse, reported below.)
 */
static void split_early_at(struct buddy_bank *b, uint32_t i)
{
	uint32_t h = i < b->nr_frames ? bank_block_head(b, i) : NIL;
	uint32_t s = h != NIL ? frame_load_state(&b->frames[h]) : 0;

	if (h == NIL || h == i || frame_state_tag(s) != FRAME_EARLY)
		return;
	bank_tag_blocks(b, h, i, FRAME_EARLY);
	bank_tag_blocks(b, i, h + (1u << frame_state_order(s)), FRAME_EARLY);
}

/* NULL if [i, e) is tiled exactly by owned blocks; else what is wrong, at *bad. */
static const char *check_tiling(const struct buddy_bank *b, uint32_t i, uint32_t e, uint32_t *bad)
{
	*bad = i;
	while (i < e) {
		uint32_t s = frame_load_state(&b->frames[i]);
		uint32_t end = i + (1u << frame_state_order(s));

		*bad = i;
		if (!frame_tag_is_owned(frame_state_tag(s)))
			return buddy_state_problem(b, i, s, true, true);
		if (end > e)
			return "free of a range that ends in the middle of a block";
		i = end;
	}
	return NULL;
}

/*
 * Frees the checked blocks of [i, e) one by one. Their orders cannot change
 * while we hold the lock, but a buggy free on another hart can still claim
 * one of them first: that one is left to it and reported, the rest freed.
 */
static bool free_tiles(struct buddy_bank *b, uint32_t i, uint32_t e, uint32_t *raced)
{
	bool clean = true;

	while (i < e) {
		struct frame *f = &b->frames[i];
		uint32_t s = frame_load_state(f);
		unsigned int k = frame_state_order(s);

		if (frame_tag_is_owned(frame_state_tag(s)) &&
		    __atomic_compare_exchange_n(&f->state, &s, frame_state_make(FRAME_CACHED, k, 0),
						false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			if (frame_state_tag(s) == FRAME_EARLY)
				b->early_frames -= 1u << k;
			bank_free_locked(b, i, k);
		} else if (clean) {
			*raced = i;
			clean = false;
		}
		i += 1u << k;
	}
	return clean;
}

int buddy_free_range(phys_addr_t pa, uint64_t nr_frames)
{
	uint32_t i, bad;
	struct buddy_bank *b = bank_of_pfn(pa_to_pfn(pa), &i);
	const char *what;

	if (nr_frames == 0)
		return -EINVAL;
	if (!b) {
		buddy_misuse("free of a range the buddy does not own (not in RAM)", pa);
		return -EINVAL;
	}
	if ((pa & (PAGE_SIZE - 1)) || nr_frames > b->nr_frames - i) {
		buddy_misuse(pa & (PAGE_SIZE - 1) ? "free of an address inside a frame"
						  : "free of a range that runs past its bank", pa);
		return -EINVAL;
	}
	spin_lock(&buddy_pool.lock);
	split_early_at(b, i);
	split_early_at(b, (uint32_t)(i + nr_frames));
	what = check_tiling(b, i, (uint32_t)(i + nr_frames), &bad);
	if (!what && !free_tiles(b, i, (uint32_t)(i + nr_frames), &bad))
		what = "double free (racing with a free of a block in the range)";
	spin_unlock(&buddy_pool.lock);
	if (what) {
		buddy_misuse(what, bank_pa(b, bad));
		return -EINVAL;
	}
	buddy_report_check();
	return 0;
}
