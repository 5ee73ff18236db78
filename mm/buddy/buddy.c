// SPDX-License-Identifier: MIT
/*
 * The buddy core: a free list per bank and order, split on allocation,
 * coalesce on free; the global (uncached) allocation and free at the
 * bottom. The list and block functions run with buddy_pool.lock held.
 */
#include <mm/port.h>
#include <string.h>

#include "buddy_internal.h"

/* What top points to before there are banks: no frame is in it. */
static struct buddy_bank no_bank;

struct buddy_pool buddy_pool = { .lock = SPINLOCK_INIT, .top = &no_bank };

struct buddy_bank *bank_of_pfn_slow(uint64_t pfn, uint32_t *index)
{
	for (unsigned int n = buddy_nr_banks_acquire(); n-- > 0;) {
		struct buddy_bank *b = &buddy_pool.bank[n];
		uint64_t i = pfn - b->base_pfn;

		if (i < b->nr_frames) {
			*index = (uint32_t)i;
			return b;
		}
	}
	return NULL;
}

void buddy_pool_reset(void)
{
	memset(&buddy_pool, 0, sizeof(buddy_pool));
	spin_lock_init(&buddy_pool.lock);
	buddy_pool.top = &no_bank;
}

void bank_reset(struct buddy_bank *b)
{
	b->avail = 0;
	for (unsigned int k = 0; k < BUDDY_NR_ORDERS; k++) {
		b->free_head[k] = NIL;
		b->nr_free[k] = 0;
	}
	b->max_tail = b->max_reported = NIL;
	b->free_frames = 0;
}

/* Block i was pushed first on the list of BUDDY_MAX_ORDER, not reported. */
void bank_max_pushed(struct buddy_bank *b, uint32_t i)
{
	if (b->frames[i].next == NIL)
		b->max_tail = i;
	pool_count(&buddy_pool.unreported_frames, 1 << BUDDY_MAX_ORDER);
}

/* Block i, just unlinked from the list of BUDDY_MAX_ORDER: its links are still as they were. */
void bank_max_unlinked(struct buddy_bank *b, uint32_t i)
{
	struct frame *f = &b->frames[i];

	if (f->next == NIL)
		b->max_tail = f->prev;
	if (i == b->max_reported)
		b->max_reported = f->next; /* reported too, or NIL */
	if (f->aux == FRAME_AUX_REPORTED)
		pool_count(&buddy_pool.reported_frames, -(1 << BUDDY_MAX_ORDER));
	else
		pool_count(&buddy_pool.unreported_frames, -(1 << BUDDY_MAX_ORDER));
	__atomic_store_n(&f->aux, 0, __ATOMIC_RELAXED);
}

/* Reported blocks go last, after every unreported one. */
void bank_list_push_reported(struct buddy_bank *b, uint32_t i)
{
	struct frame *f = &b->frames[i];
	uint32_t tail = b->max_tail;

	f->next = NIL;
	f->prev = tail;
	__atomic_store_n(&f->aux, FRAME_AUX_REPORTED, __ATOMIC_RELAXED);
	if (tail != NIL)
		b->frames[tail].next = i;
	else
		b->free_head[BUDDY_MAX_ORDER] = i;
	b->max_tail = i;
	if (b->max_reported == NIL)
		b->max_reported = i;
	b->avail |= 1u << BUDDY_MAX_ORDER;
	b->nr_free[BUDDY_MAX_ORDER]++;
	b->free_frames += 1u << BUDDY_MAX_ORDER;
	pool_count(&buddy_pool.reported_frames, 1 << BUDDY_MAX_ORDER);
	frame_store_state(f, frame_state_make(FRAME_FREE, BUDDY_MAX_ORDER, 0));
}

/*
 * Frees the block at i: while its buddy is a free block of the same order,
 * the two go on as one block of the next order. The upper head becomes a
 * tail, so no stale head is ever left inside a block (frame_head relies on it).
 */
void bank_free_locked(struct buddy_bank *b, uint32_t i, unsigned int order)
{
	while (order < BUDDY_MAX_ORDER) {
		uint64_t j = ((b->base_pfn + i) ^ (1ULL << order)) - b->base_pfn;

		if (j >= b->nr_frames ||
		    frame_load_state(&b->frames[j]) != frame_state_make(FRAME_FREE, order, 0))
			break;
		bank_list_unlink(b, (uint32_t)j, order);
		frame_store_state(&b->frames[j > i ? j : i], FRAME_TAIL);
		i = j < i ? (uint32_t)j : i;
		order++;
	}
	bank_list_push(b, i, order);
}

/* Takes the free block at i of order k and gives back upper halves until order remains. */
static void take_block(struct buddy_bank *b, uint32_t i, unsigned int k, unsigned int order)
{
	bank_list_unlink(b, i, k);
	while (k > order) {
		k--;
		bank_list_push(b, i + (1u << k), k);
	}
}

/* The smallest free block of min_order or more: O(1). */
static bool pick_any(const struct buddy_bank *b, unsigned int min_order, uint32_t *i,
		     unsigned int *k)
{
	uint32_t orders = min_order < 32 ? b->avail >> min_order : 0;

	if (!orders)
		return false;
	*k = min_order + low_bit(orders, 31);
	*i = b->free_head[*k];
	return true;
}

/*
 * The first block, smallest order first, that starts aligned and whose first
 * 2^order frames end by the limit. Walks the lists: only for a limit inside
 * the bank or an alignment no block size gives for free.
 */
static __attribute__((noinline)) bool pick_constrained(const struct buddy_bank *b,
						       const struct buddy_req *r, uint32_t *i,
						       unsigned int *k)
{
	uint64_t align_mask = (1ULL << r->align_order) - 1;

	for (unsigned int o = r->order; o <= BUDDY_MAX_ORDER; o++) {
		for (uint32_t j = b->free_head[o]; j != NIL; j = b->frames[j].next) {
			uint64_t pfn = b->base_pfn + j;

			if ((pfn & align_mask) == 0 && pfn + (1ULL << r->order) <= r->limit_pfn) {
				*i = j;
				*k = o;
				return true;
			}
		}
	}
	return false;
}

/*
 * Banks in the order an allocation tries them: the calling hart's NUMA
 * node's, highest first (low memory is kept for requests that need it),
 * then each other node's, nearest first. With one node, every bank
 * highest first. NULL: no bank left.
 */
struct bank_walk {
	unsigned int local, rank, n;
};

static inline struct buddy_bank *next_bank(struct bank_walk *w)
{
	if (likely(numa_nr_nodes() == 1)) /* every bank is node 0's */
		return w->n-- > 0 ? &buddy_pool.bank[w->n] : NULL;
	for (; w->rank < numa_nr_nodes(); w->rank++, w->n = buddy_pool.nr_banks) {
		unsigned int node = numa_fallback(w->local, w->rank);

		while (w->n-- > 0)
			if (buddy_pool.bank[w->n].node == node)
				return &buddy_pool.bank[w->n];
	}
	return NULL;
}

static inline struct bank_walk bank_walk_start(void)
{
	unsigned int local = numa_nr_nodes() > 1 ? numa_hart_node(this_hart_index()) : 0;

	return (struct bank_walk){ .local = local, .rank = 0, .n = buddy_pool.nr_banks };
}

/* Any block of min_order or more, bank by bank (next_bank()): O(1) per bank. */
static bool take_any(unsigned int order, unsigned int min_order, struct buddy_bank **bank,
		     uint32_t *index)
{
	struct bank_walk w = bank_walk_start();

	for (struct buddy_bank *b; (b = next_bank(&w));) {
		uint32_t i;
		unsigned int k;

		if (pick_any(b, min_order, &i, &k)) {
			take_block(b, i, k, order);
			*bank = b;
			*index = i;
			return true;
		}
	}
	return false;
}

/* With a limit, or an alignment larger blocks do not give: bank by bank, walking where needed. */
static __attribute__((noinline)) bool take_constrained(const struct buddy_req *r,
						       struct buddy_bank **bank, uint32_t *index)
{
	struct bank_walk w = bank_walk_start();

	for (struct buddy_bank *b; (b = next_bank(&w));) {
		bool whole_bank = bank_end_pfn(b) <= r->limit_pfn;
		bool found = false;
		uint32_t i;
		unsigned int k;

		if (b->base_pfn + (1ULL << r->order) > r->limit_pfn)
			continue;
		if (whole_bank && r->align_order <= BUDDY_MAX_ORDER)
			found = pick_any(b, MAX(r->order, r->align_order), &i, &k);
		/* smaller blocks may still start at an aligned address */
		if (!found && (!whole_bank || r->align_order > r->order))
			found = pick_constrained(b, r, &i, &k);
		if (found) {
			take_block(b, i, k, r->order);
			*bank = b;
			*index = i;
			return true;
		}
	}
	return false;
}

/* Takes a block for r, local node first (next_bank()); its head's state is the caller's to set. */
bool buddy_take_locked(const struct buddy_req *r, struct buddy_bank **bank, uint32_t *index)
{
	if (r->limit_pfn == UINT64_MAX && r->align_order <= r->order)
		return take_any(r->order, r->order, bank, index);
	return take_constrained(r, bank, index);
}

int buddy_make_req(unsigned int order, uint64_t align, phys_addr_t limit, struct buddy_req *r)
{
	if (align & (align - 1))
		return -EINVAL;
	r->order = order;
	r->align_order = align > PAGE_SIZE ? low_bit(align, 63) - PAGE_SHIFT : 0;
	r->limit_pfn = limit == BUDDY_NO_LIMIT ? UINT64_MAX : pa_to_pfn(limit);
	return 0;
}

static int alloc_global(const struct buddy_req *r, phys_addr_t *pa)
{
	struct buddy_bank *b;
	uint32_t i;
	bool ok;

	spin_lock(&buddy_pool.lock);
	ok = buddy_take_locked(r, &b, &i);
	if (ok)
		frame_store_state(&b->frames[i], frame_state_make(FRAME_ALLOCATED, r->order, 0));
	spin_unlock(&buddy_pool.lock);
	if (!ok)
		return -ENOMEM;
	*pa = bank_pa(b, i);
	return 0;
}

static bool (*grow_hook)(uint64_t nr_frames);

void buddy_set_grow_hook(bool (*fn)(uint64_t nr_frames))
{
	__atomic_store_n(&grow_hook, fn, __ATOMIC_RELEASE);
}

/*
 * Asks the hook for nr more frames. New memory lies above every bank, so
 * it is of no use to a request that must end below the top bank's end
 * plus nr: the hook is not asked then, and the request fails as it would
 * without one.
 */
static bool grow(uint64_t nr, uint64_t limit_pfn)
{
	bool (*fn)(uint64_t) = __atomic_load_n(&grow_hook, __ATOMIC_ACQUIRE);

	if (!fn || limit_pfn < bank_end_pfn(buddy_top()) + nr)
		return false;
	return fn(nr);
}

bool buddy_make_room(uint64_t nr, const struct buddy_req *r, bool *drained)
{
	/* other harts' caches may hold what we need */
	if (!*drained && buddy_cached_frames()) {
		buddy_drain_caches();
		*drained = true;
		return true;
	}
	*drained = false; /* after a grow, harts may have cached some of the new frames */
	return grow(MAX(nr, 1ULL << r->align_order), r->limit_pfn);
}

int buddy_ensure_free(uint64_t nr_frames)
{
	uint64_t have;

	while ((have = buddy_free_frames()) < nr_frames) {
		if (!grow(nr_frames - have, UINT64_MAX))
			return -ENOMEM;
	}
	return 0;
}

int buddy_alloc_ex(unsigned int order, uint64_t align, phys_addr_t limit, unsigned int flags,
		   phys_addr_t *pa)
{
	struct buddy_req r;
	bool drained = false;
	int rc;

	if (order == 0 && align <= PAGE_SIZE && !(align & (align - 1)) && limit == BUDDY_NO_LIMIT &&
	    !(flags & BUDDY_NOCACHE))
		return buddy_alloc_frame(pa);
	if (order > BUDDY_MAX_ORDER || buddy_make_req(order, align, limit, &r) < 0)
		return -EINVAL;
	do
		rc = alloc_global(&r, pa);
	while (rc == -ENOMEM && buddy_make_room(1ULL << order, &r, &drained));
	return rc;
}

int buddy_free_ex(phys_addr_t pa, unsigned int order, unsigned int flags)
{
	struct buddy_bank *b;
	uint32_t i, old;

	if (order == 0 && !(flags & BUDDY_NOCACHE))
		return buddy_free_frame(pa);
	if (buddy_claim(pa, order, &b, &i, &old) < 0)
		return -EINVAL;
	spin_lock(&buddy_pool.lock);
	if (frame_state_tag(old) == FRAME_EARLY)
		b->early_frames -= 1u << order;
	bank_free_locked(b, i, order);
	spin_unlock(&buddy_pool.lock);
	buddy_report_check();
	return 0;
}
