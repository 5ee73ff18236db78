// SPDX-License-Identifier: MIT
/*
 * The invariant checker: walks the metadata block by block, and the free
 * lists and caches, without trusting the counters, then holds the counters
 * against what it found. Tests run it after every step; the kernel can run
 * it at boot.
 */
#include <mm/port.h>
#include <string.h>

#include "buddy_internal.h"

#define MAX_PRINTED 8
#define CHECK_MARK (1u << FRAME_HEAP_SHIFT) /* a cached frame seen in a cache already */

struct checker {
	unsigned int problems;
	struct buddy_census census;
	uint64_t reported, unreported; /* frames in free blocks of BUDDY_MAX_ORDER */
};

static void __printf(2, 3) problem(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	if (c->problems++ >= MAX_PRINTED)
		return;
	printk("buddy_check: ");
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
}

static uint32_t state_at(const struct buddy_bank *b, uint64_t i)
{
	return frame_load_state(&b->frames[i]);
}

/* One block at i: aligned, inside the bank, tails behind its head, no free buddy left unmerged. */
static void check_block(struct checker *c, const struct buddy_bank *b, uint32_t i, uint32_t s,
			uint64_t *free_blocks)
{
	unsigned int tag = frame_state_tag(s), k = frame_state_order(s);
	uint64_t pfn = b->base_pfn + i;
	uint32_t aux = b->frames[i].aux;

	if (pfn & ((1ULL << k) - 1))
		problem(c, "block %#llx of order %u is not aligned", (unsigned long long)pfn_to_pa(pfn), k);
	for (uint64_t j = i + 1; j < i + (1ULL << k); j++) {
		if (state_at(b, j) != FRAME_TAIL) {
			problem(c, "frame %#llx inside block %#llx is not a tail (state %#x)",
				(unsigned long long)pfn_to_pa(b->base_pfn + j),
				(unsigned long long)pfn_to_pa(pfn), state_at(b, j));
			break;
		}
	}
	c->census.frames[tag < FRAME_TAG_USER ? tag : FRAME_TAG_USER] += 1ULL << k;
	if (tag == FRAME_CACHED && k != 0)
		problem(c, "cached block %#llx has order %u", (unsigned long long)pfn_to_pa(pfn), k);
	if (tag != FRAME_FREE)
		return;
	if (s != frame_state_make(FRAME_FREE, k, 0))
		problem(c, "free block %#llx has stray bits %#x", (unsigned long long)pfn_to_pa(pfn), s);
	/* only the largest blocks are ever reported */
	if (aux && (aux != FRAME_AUX_REPORTED || k != BUDDY_MAX_ORDER))
		problem(c, "free block %#llx of order %u has aux %#x",
			(unsigned long long)pfn_to_pa(pfn), k, aux);
	else if (k == BUDDY_MAX_ORDER)
		*(aux ? &c->reported : &c->unreported) += 1ULL << k;
	free_blocks[k]++;
	c->census.free_blocks[k]++;
	if (k < BUDDY_MAX_ORDER) {
		uint64_t j = (pfn ^ (1ULL << k)) - b->base_pfn;

		if (j > i && j < b->nr_frames && state_at(b, j) == s)
			problem(c, "free buddies %#llx and %#llx of order %u not merged",
				(unsigned long long)pfn_to_pa(pfn),
				(unsigned long long)pfn_to_pa(b->base_pfn + j), k);
	}
}

/* Every frame in exactly one block: hop from head to head across the bank. */
static void walk_blocks(struct checker *c, const struct buddy_bank *b, uint64_t *free_blocks,
			uint64_t *by_tag)
{
	uint32_t i = 0;

	while (i < b->nr_frames) {
		uint32_t s = state_at(b, i);
		unsigned int k = frame_state_order(s);

		if (frame_state_tag(s) == FRAME_TAIL || k > BUDDY_MAX_ORDER) {
			problem(c, "frame %#llx heads no block (state %#x)",
				(unsigned long long)bank_pa(b, i), s);
			i++;
			continue;
		}
		if ((uint64_t)i + (1ULL << k) > b->nr_frames) {
			problem(c, "block %#llx of order %u runs past its bank",
				(unsigned long long)bank_pa(b, i), k);
			break;
		}
		check_block(c, b, i, s, free_blocks);
		by_tag[frame_state_tag(s) < FRAME_TAG_USER ? frame_state_tag(s) : FRAME_TAG_USER] +=
			1ULL << k;
		i += 1u << k;
	}
}

/*
 * Each list: doubly linked, only free heads of its order, as many as the
 * walk found; the largest order's reported blocks after all the others,
 * and its tail right.
 */
static void check_lists(struct checker *c, const struct buddy_bank *b, const uint64_t *free_blocks)
{
	for (unsigned int k = 0; k < BUDDY_NR_ORDERS; k++) {
		uint64_t n = 0;
		uint32_t prev = NIL, first_reported = NIL;
		bool reported = false;

		for (uint32_t i = b->free_head[k]; i != NIL; prev = i, i = b->frames[i].next) {
			if (i >= b->nr_frames || ++n > b->nr_frames) {
				problem(c, "free list %u of bank %#llx is broken", k,
					(unsigned long long)bank_pa(b, 0));
				break;
			}
			if (state_at(b, i) != frame_state_make(FRAME_FREE, k, 0))
				problem(c, "block %#llx on free list %u is not free of that order",
					(unsigned long long)bank_pa(b, i), k);
			if (b->frames[i].prev != prev)
				problem(c, "block %#llx on free list %u: bad back link",
					(unsigned long long)bank_pa(b, i), k);
			if (reported && b->frames[i].aux != FRAME_AUX_REPORTED)
				problem(c, "block %#llx on free list %u: unreported after reported",
					(unsigned long long)bank_pa(b, i), k);
			reported = b->frames[i].aux == FRAME_AUX_REPORTED;
			if (reported && first_reported == NIL)
				first_reported = i;
		}
		if (k == BUDDY_MAX_ORDER &&
		    (b->max_tail != prev || b->max_reported != first_reported))
			problem(c, "bank %#llx: largest blocks: last %u, first reported %u; "
				   "bank says %u %u",
				(unsigned long long)bank_pa(b, 0), prev, first_reported, b->max_tail,
				b->max_reported);
		if (n != free_blocks[k] || n != b->nr_free[k])
			problem(c, "bank %#llx order %u: %llu listed, %llu found, counter %u",
				(unsigned long long)bank_pa(b, 0), k, (unsigned long long)n,
				(unsigned long long)free_blocks[k], b->nr_free[k]);
		if (!!(b->avail & (1u << k)) != (b->free_head[k] != NIL))
			problem(c, "bank %#llx order %u: availability bit wrong",
				(unsigned long long)bank_pa(b, 0), k);
	}
}

static void check_bank(struct checker *c, const struct buddy_bank *b)
{
	uint64_t free_blocks[BUDDY_NR_ORDERS] = { 0 };
	uint64_t by_tag[FRAME_TAG_USER + 1] = { 0 };

	walk_blocks(c, b, free_blocks, by_tag);
	check_lists(c, b, free_blocks);
	if (by_tag[FRAME_FREE] != b->free_frames || by_tag[FRAME_RESERVED] != b->reserved_frames ||
	    by_tag[FRAME_EARLY] != b->early_frames)
		problem(c, "bank %#llx: found free %llu reserved %llu early %llu, counters say %llu %llu %llu",
			(unsigned long long)bank_pa(b, 0), (unsigned long long)by_tag[FRAME_FREE],
			(unsigned long long)by_tag[FRAME_RESERVED], (unsigned long long)by_tag[FRAME_EARLY],
			(unsigned long long)b->free_frames, (unsigned long long)b->reserved_frames,
			(unsigned long long)b->early_frames);
}

/*
 * Each cache slot: a cached frame, named by its address, in no other slot.
 * A seen frame is marked in its state's heap bits until the end.
 */
static uint64_t check_caches(struct checker *c, bool mark)
{
	uint64_t n = 0;

	for (unsigned int h = 0; h < MAX_HARTS; h++) {
		struct hart_cache *hc = &buddy_caches[h];

		if (hc->count > BUDDY_CACHE_SIZE) {
			problem(c, "hart %u cache holds %lu", h, hc->count);
			continue;
		}
		for (uint32_t i = 0; i < hc->count; i++) {
			struct frame *f = hc->slot[i].f;
			uint32_t want = frame_state_make(FRAME_CACHED, 0, 0);

			if (f != frame_lookup(hc->slot[i].pa)) {
				problem(c, "hart %u cache slot %u: frame and address disagree", h, i);
				continue;
			}
			if (!mark) {
				if (frame_load_state(f) == (want | CHECK_MARK))
					frame_store_state(f, want);
				continue;
			}
			n++;
			if (frame_load_state(f) != want)
				problem(c, "hart %u cache holds %#llx twice or in state %#x", h,
					(unsigned long long)hc->slot[i].pa, frame_load_state(f));
			else
				frame_store_state(f, want | CHECK_MARK);
		}
	}
	return n;
}

unsigned int buddy_check(struct buddy_census *census)
{
	struct checker c;
	uint64_t total = 0, found = 0, cached;

	memset(&c, 0, sizeof(c));
	for (unsigned int h = 0; h < MAX_HARTS; h++)
		tas_lock(&buddy_caches[h].lock);
	spin_lock(&buddy_pool.lock);

	cached = check_caches(&c, true);
	for (unsigned int n = 0; n < buddy_pool.nr_banks; n++) {
		check_bank(&c, &buddy_pool.bank[n]);
		total += buddy_pool.bank[n].nr_frames;
	}
	check_caches(&c, false);
	for (unsigned int t = 0; t <= FRAME_TAG_USER; t++)
		found += c.census.frames[t];
	if (found != total)
		problem(&c, "blocks cover %llu frames of %llu", (unsigned long long)found,
			(unsigned long long)total);
	if (cached != c.census.frames[FRAME_CACHED])
		problem(&c, "caches hold %llu frames, %llu frames are cached",
			(unsigned long long)cached, (unsigned long long)c.census.frames[FRAME_CACHED]);
	if (c.reported != buddy_pool.reported_frames ||
	    c.unreported != buddy_pool.unreported_frames)
		problem(&c, "largest blocks: %llu frames reported, %llu not; counters %llu %llu",
			(unsigned long long)c.reported, (unsigned long long)c.unreported,
			(unsigned long long)buddy_pool.reported_frames,
			(unsigned long long)buddy_pool.unreported_frames);

	spin_unlock(&buddy_pool.lock);
	for (unsigned int h = MAX_HARTS; h-- > 0;)
		tas_unlock(&buddy_caches[h].lock);
	if (c.problems > MAX_PRINTED)
		printk("buddy_check: ... %u problems in all\n", c.problems);
	if (census)
		*census = c.census;
	return c.problems;
}
