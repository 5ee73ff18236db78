// SPDX-License-Identifier: MIT
/*
 * Frame metadata: from an address to its frame and to the head of its
 * block, owner tags, and the checks every free goes through (claim and
 * misuse reports).
 */
#include <mm/port.h>

#include "buddy_internal.h"

static void misuse_panic(const char *what, phys_addr_t pa)
{
	panic("buddy: %s: %#llx", what, (unsigned long long)pa);
}

static buddy_misuse_fn misuse_handler = misuse_panic;

buddy_misuse_fn buddy_set_misuse_handler(buddy_misuse_fn fn)
{
	buddy_misuse_fn old = misuse_handler;

	misuse_handler = fn ? fn : misuse_panic;
	return old;
}

void buddy_misuse(const char *what, phys_addr_t pa)
{
	__atomic_fetch_add(&buddy_pool.misuses, 1, __ATOMIC_RELAXED);
	misuse_handler(what, pa);
}

/*
 * The head of the block holding frame i and its state, or NIL. The
 * candidates are i with its low set bits cleared one by one: each is aligned
 * to the next power of two, and the first head met is the block's (the
 * candidates between lie inside the block, so they are tails).
 */
static uint32_t block_head(const struct buddy_bank *b, uint32_t i, uint32_t *state)
{
	uint64_t pfn = b->base_pfn + i;

	for (uint64_t hp = pfn; hp >= b->base_pfn && pfn - hp < (1ULL << BUDDY_MAX_ORDER);
	     hp &= hp - 1) {
		uint32_t h = (uint32_t)(hp - b->base_pfn);
		uint32_t s = frame_load_state(&b->frames[h]);

		if (frame_state_tag(s) != FRAME_TAIL) {
			*state = s;
			return pfn - hp < (1ULL << frame_state_order(s)) ? h : NIL;
		}
		if (hp == 0)
			break;
	}
	return NIL;
}

/*
 * What is wrong with freeing (or re-tagging) frame i of b, in state s, as
 * the head of an owned block of some order. A tail is judged by its block:
 * inside a free block it is a double free, inside a reserved one not ours.
 * The block is looked up under the global lock (locked: the caller holds
 * it), since a free block may be merging right now: a double free racing
 * with the first free would otherwise look like the middle of a block.
 */
const char *buddy_state_problem(const struct buddy_bank *b, uint32_t i, uint32_t s, bool freeing,
				bool locked)
{
	unsigned int tag = frame_state_tag(s);
	uint32_t head_state;

	if (tag == FRAME_TAIL) {
		if (!locked)
			spin_lock(&buddy_pool.lock);
		if (block_head(b, i, &head_state) != NIL)
			tag = frame_state_tag(head_state);
		if (!locked)
			spin_unlock(&buddy_pool.lock);
	}
	if (frame_state_tag(s) == FRAME_TAIL && (tag == FRAME_TAIL || frame_tag_is_owned(tag)))
		return freeing ? "free of the middle of a block" : "set owner of the middle of a block";
	switch (tag) {
	case FRAME_FREE:
	case FRAME_CACHED:
		return freeing ? "double free" : "set owner of a free frame";
	case FRAME_RESERVED:
		return freeing ? "free of a reserved frame the buddy does not own"
			       : "set owner of a reserved frame";
	default:
		return freeing ? "free with the wrong order" : "set owner with the wrong order";
	}
}

/* The bank and index of pa, which must be a frame's first byte inside a bank. */
static struct buddy_bank *checked_bank(phys_addr_t pa, uint32_t *i, bool freeing)
{
	struct buddy_bank *b = bank_of_pfn(pa_to_pfn(pa), i);

	if (!b)
		buddy_misuse(freeing ? "free of a frame the buddy does not own (not in RAM)"
				     : "set owner of a frame not in RAM", pa);
	else if (pa & (PAGE_SIZE - 1))
		buddy_misuse(freeing ? "free of an address inside a frame"
				     : "set owner of an address inside a frame", pa);
	else
		return b;
	return NULL;
}

/*
 * Checks that pa heads an owned block of this order and marks it
 * FRAME_CACHED in the same compare-and-swap, so that of two harts freeing
 * one block only one gets past here. The block is then the caller's to put
 * on a list or in a cache.
 */
int buddy_claim(phys_addr_t pa, unsigned int order, struct buddy_bank **bank, uint32_t *index,
		uint32_t *old_state)
{
	uint32_t i, s;
	struct buddy_bank *b = checked_bank(pa, &i, true);
	struct frame *f;

	if (!b)
		return -EINVAL;
	f = &b->frames[i];
	s = frame_load_state(f);
	do {
		if (!frame_tag_is_owned(frame_state_tag(s)) || frame_state_order(s) != order) {
			buddy_misuse(buddy_state_problem(b, i, s, true, false), pa);
			return -EINVAL;
		}
	} while (!__atomic_compare_exchange_n(&f->state, &s, frame_state_make(FRAME_CACHED, order, 0),
					      false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	*bank = b;
	*index = i;
	*old_state = s;
	return 0;
}

uint32_t bank_block_head(const struct buddy_bank *b, uint32_t i)
{
	uint32_t s;

	return block_head(b, i, &s);
}

/*
 * Without the lock a free block can merge under our feet and the walk can
 * miss; owned blocks never move, so the lock-free answer is the rule and
 * the locked one only a retry.
 */
static uint32_t stable_block_head(struct buddy_bank *b, uint32_t i, uint32_t *state)
{
	uint32_t h = block_head(b, i, state);

	if (h == NIL) {
		spin_lock(&buddy_pool.lock);
		h = block_head(b, i, state);
		spin_unlock(&buddy_pool.lock);
	}
	return h;
}

struct frame *frame_of(phys_addr_t pa)
{
	return frame_lookup(pa);
}

phys_addr_t frame_to_pa(const struct frame *f)
{
	for (unsigned int n = 0, nr = buddy_nr_banks_acquire(); n < nr; n++) {
		const struct buddy_bank *b = &buddy_pool.bank[n];

		if (f >= b->frames && f < b->frames + b->nr_frames)
			return bank_pa(b, (uint32_t)(f - b->frames));
	}
	return ~(phys_addr_t)0;
}

int frame_head(phys_addr_t pa, phys_addr_t *head)
{
	struct frame_owner o;
	int rc = frame_owner(pa, &o);

	if (rc == 0)
		*head = o.head;
	return rc;
}

int frame_owner(phys_addr_t pa, struct frame_owner *o)
{
	uint32_t i, h, s;
	struct buddy_bank *b = bank_of_pfn(pa_to_pfn(pa), &i);

	if (!b)
		return -ENOENT;
	h = stable_block_head(b, i, &s);
	if (h == NIL)
		return -EFAULT; /* metadata broken: buddy_check() says where */
	o->head = bank_pa(b, h);
	o->order = frame_state_order(s);
	o->tag = frame_state_tag(s);
	o->heap = frame_state_heap(s);
	o->aux = __atomic_load_n(&b->frames[h].aux, __ATOMIC_RELAXED);
	return 0;
}

int frame_tag(phys_addr_t pa)
{
	struct frame_owner o;
	int rc = frame_owner(pa, &o);

	return rc < 0 ? rc : (int)o.tag;
}

int frame_set_owner(phys_addr_t head, unsigned int order, unsigned int tag, unsigned int heap,
		    uint32_t aux)
{
	uint32_t i, s;
	struct buddy_bank *b;
	struct frame *f;

	if (tag < FRAME_ALLOCATED || tag > FRAME_TAG_LAST || heap > FRAME_HEAP_MAX)
		return -EINVAL;
	b = checked_bank(head, &i, false);
	if (!b)
		return -EINVAL;
	f = &b->frames[i];
	s = frame_load_state(f);
	do {
		if (!frame_tag_is_owned(frame_state_tag(s)) || frame_state_order(s) != order) {
			buddy_misuse(buddy_state_problem(b, i, s, false, false), head);
			return -EINVAL;
		}
		/*
		 * aux before the state that makes it the new owner's, and only
		 * once the block is known to be owned: a free head's aux is the
		 * buddy's (FRAME_AUX_REPORTED).
		 */
		__atomic_store_n(&f->aux, aux, __ATOMIC_RELAXED);
	} while (!__atomic_compare_exchange_n(&f->state, &s, frame_state_make(tag, order, heap),
					      false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 0;
}

/* Makes [from, to) a run of maximal aligned blocks with this tag; their frames are tails. */
void bank_tag_blocks(struct buddy_bank *b, uint32_t from, uint32_t to, unsigned int tag)
{
	while (from < to) {
		unsigned int k = block_order_at(b->base_pfn + from, b->base_pfn + to);

		frame_store_state(&b->frames[from], frame_state_make(tag, k, 0));
		from += 1u << k;
	}
}

const char *frame_tag_name(unsigned int tag)
{
	static const char *const names[] = {
		[FRAME_TAIL] = "tail",		[FRAME_FREE] = "free",
		[FRAME_CACHED] = "cached",	[FRAME_RESERVED] = "reserved",
		[FRAME_EARLY] = "early",	[FRAME_ALLOCATED] = "allocated",
		[FRAME_PAGETABLE] = "page-table", [FRAME_SLAB] = "slab",
		[FRAME_LARGE] = "large",
		[FRAME_HEAP] = "heap",
	};

	return tag < FRAME_TAG_USER ? names[tag] : "user";
}
