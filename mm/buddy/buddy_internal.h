/* SPDX-License-Identifier: MIT */
#ifndef MM_BUDDY_INTERNAL_H
#define MM_BUDDY_INTERNAL_H

/* What the buddy*.c files share; not for other users. */

#include <mm/buddy.h>
#include <mm/harts.h>
#include <mm/numa.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <mm/tas_lock.h>

#define NIL UINT32_MAX		     /* end of a free list */
#define BANK_MAX_FRAMES (1u << 31)   /* frame indices stay below NIL */
#define PFN_4G (1ULL << (32 - PAGE_SHIFT))

struct buddy_bank {
	uint64_t base_pfn;
	uint32_t nr_frames;
	uint32_t avail;	      /* bit k set: free_head[k] is not empty */
	struct frame *frames; /* nr_frames entries, through phys_to_virt() */
	uint32_t free_head[BUDDY_NR_ORDERS];
	uint32_t max_tail;		   /* the last block on the list of BUDDY_MAX_ORDER */
	uint32_t max_reported;		   /* the first reported block on it (NIL: none) */
	uint32_t nr_free[BUDDY_NR_ORDERS]; /* blocks on each list */
	uint64_t free_frames;
	uint64_t reserved_frames;
	uint64_t early_frames;
	uint64_t meta_bytes;
	unsigned int node; /* its NUMA node: a bank ends where a node does (bank_cut()) */
};

/*
 * The global lock covers the free lists, every bank's counters and the state
 * of free and tail frames. The state word of an owned head is changed without
 * it, by compare-and-swap: by its owner (frame_set_owner) or by a free that
 * claims it (FRAME_CACHED) before it takes any lock.
 *
 * Banks are only ever appended (buddy_init, buddy_add_memory), each one
 * complete before nr_banks and top, stored with release, make it visible;
 * so a bank pointer stays valid for good, and readers without the lock
 * (bank_of_pfn, frame_of, frame_owner, ...) load nr_banks with acquire and
 * top through buddy_top().
 *
 * Free page reporting (buddy_report.c) marks a free block of
 * BUDDY_MAX_ORDER reported in its head's aux (FRAME_AUX_REPORTED; every
 * other free head has aux 0). A bank's list of such blocks holds the
 * unreported ones first, most recently freed first, then the reported
 * ones (max_reported is the first of them): allocation takes the ones
 * still in memory, the warmest first, and the reporter the coldest, just
 * before max_reported, in O(1). The two counts below cover the blocks on
 * the lists (a block being reported is on none); they change with the lock
 * held and are read without it.
 */
struct buddy_pool {
	spinlock_t lock;
	struct buddy_bank *top; /* the highest bank, tried first by every lookup */
	unsigned int nr_banks;
	uint64_t unreported_frames; /* in free blocks of BUDDY_MAX_ORDER not reported */
	uint64_t reported_frames;   /* in free blocks of BUDDY_MAX_ORDER reported */
	uint64_t added_bytes;	    /* by buddy_add_memory() */
	uint64_t ignored_bytes;
	uint64_t misuses;
	struct buddy_bank bank[BUDDY_MAX_BANKS];
};

extern struct buddy_pool buddy_pool;

/*
 * buddy_pool.top without the lock. A hot-add fills the bank in, then
 * stores top with release; the loads a reader makes through the pointer
 * depend on its value by address, which orders them after it on every CPU
 * we run on (as Linux's rcu_dereference()), so a plain load does: the fast
 * paths pay nothing. ThreadSanitizer knows nothing of dependencies, so for
 * it an acquire.
 */
static inline struct buddy_bank *buddy_top(void)
{
#ifdef __SANITIZE_THREAD__
	return __atomic_load_n(&buddy_pool.top, __ATOMIC_ACQUIRE);
#else
	return __atomic_load_n(&buddy_pool.top, __ATOMIC_RELAXED);
#endif
}

/* buddy_pool.nr_banks without the lock: the banks below it are complete. */
static inline unsigned int buddy_nr_banks_acquire(void)
{
	return __atomic_load_n(&buddy_pool.nr_banks, __ATOMIC_ACQUIRE);
}

/* A pool counter: written with the lock held, read without it, so never torn. */
static inline void pool_count(uint64_t *counter, int64_t delta)
{
	__atomic_store_n(counter, *counter + (uint64_t)delta, __ATOMIC_RELAXED);
}

/*
 * A hart's order-0 cache: a stack of free frames in state FRAME_CACHED.
 * Its own lock is uncontended except when another hart drains it.
 *
 * Lock order: buddy_add_memory()'s lock, then the global lock; a cache's
 * lock, then the global lock; the reporter's flag (buddy_report.c), then
 * the global lock. Never two caches' locks, never the add lock or the
 * flag with a cache's lock. The grow hook and the reporter's fn are called
 * with none of the locks held: the hook by an allocation that has let go
 * of everything (even the order-0 path unlocks its hart's cache before it
 * goes the long way), fn by a free that has let go of everything, with
 * only the flag held (a free in fn finds it taken and goes on).
 */
struct cache_slot {
	phys_addr_t pa;
	struct frame *f;
};

struct hart_cache {
	tas_lock_t lock;
	unsigned long count; /* register-sized: no extension before it indexes */
	unsigned long node;  /* the hart's NUMA node: a frame of another goes home, not here */
	struct cache_slot slot[BUDDY_CACHE_SIZE];
} __aligned(64);
_Static_assert(sizeof(struct hart_cache) == 1024, "a power of two: indexing by hart is a shift");

extern struct hart_cache buddy_caches[MAX_HARTS];

static inline uint64_t bank_end_pfn(const struct buddy_bank *b)
{
	return b->base_pfn + b->nr_frames;
}

static inline phys_addr_t bank_pa(const struct buddy_bank *b, uint32_t i)
{
	return pfn_to_pa(b->base_pfn + i);
}

/*
 * The bank holding pfn and its index there; NULL outside every bank. The
 * top bank first, inline: allocation starts there, so that is where most
 * frames come from (and with one bank, all).
 */
struct buddy_bank *bank_of_pfn_slow(uint64_t pfn, uint32_t *index);

static inline struct buddy_bank *bank_of_pfn(uint64_t pfn, uint32_t *index)
{
	struct buddy_bank *b = buddy_top();
	uint64_t i = pfn - b->base_pfn; /* wraps far above nr_frames below the bank */

	if (likely(i < b->nr_frames)) {
		*index = (uint32_t)i;
		return b;
	}
	return bank_of_pfn_slow(pfn, index);
}

/* The frame of pa if it is in the top bank (the fast paths' case), else NULL. */
static inline struct frame *frame_lookup(phys_addr_t pa)
{
	uint32_t i;
	struct buddy_bank *b = bank_of_pfn(pa_to_pfn(pa), &i);

	return b ? &b->frames[i] : NULL;
}

/*
 * Index of the lowest set bit of x, or limit if there is none below it.
 * A loop on purpose: riscv64 without Zbb makes __builtin_ctz a libgcc
 * call, and the kernel links no libgcc. Every caller bounds it by an order.
 */
static inline unsigned int low_bit(uint64_t x, unsigned int limit)
{
	unsigned int k = 0;

	while (k < limit && !(x & (1ULL << k)))
		k++;
	return k;
}

/*
 * Where a bank that starts at pfn ends, in RAM that runs to end_pfn: cut at
 * 4 GiB, so that "below 4 GiB" is a choice of banks, where the NUMA node
 * changes, so that a bank is one node's, and into pieces small enough for
 * 32-bit indices (cut at a largest-block boundary, so no block is lost to
 * the cut).
 */
static inline uint64_t bank_cut(uint64_t pfn, uint64_t end_pfn)
{
	uint64_t cut = end_pfn, edge = pa_to_pfn(numa_next_edge(pfn_to_pa(pfn)));

	if (pfn < PFN_4G && cut > PFN_4G)
		cut = PFN_4G;
	if (edge > pfn && edge < cut) /* an edge inside a frame is rounded down: never 0 frames */
		cut = edge;
	if (cut - pfn > BANK_MAX_FRAMES)
		cut = ALIGN_DOWN(pfn + BANK_MAX_FRAMES, 1ULL << BUDDY_MAX_ORDER);
	return cut;
}

/* Largest order of an aligned block that starts at pfn and ends by end_pfn (> pfn). */
static inline unsigned int block_order_at(uint64_t pfn, uint64_t end_pfn)
{
	unsigned int k = low_bit(pfn, BUDDY_MAX_ORDER);

	while ((1ULL << k) > end_pfn - pfn)
		k--;
	return k;
}

/*
 * Blocks of BUDDY_MAX_ORDER entering or leaving their list: the list's
 * tail, its first reported block and the reporting counts follow. Out of
 * line: only blocks that large get here.
 */
void bank_max_pushed(struct buddy_bank *b, uint32_t i);
void bank_max_unlinked(struct buddy_bank *b, uint32_t i);

/*
 * Makes frame i the head of a free block of this order, first on its list,
 * not reported (its memory may have been written since it last was).
 */
static inline void bank_list_push(struct buddy_bank *b, uint32_t i, unsigned int order)
{
	struct frame *f = &b->frames[i];
	uint32_t head = b->free_head[order];

	f->next = head;
	f->prev = NIL;
	__atomic_store_n(&f->aux, 0, __ATOMIC_RELAXED); /* frame_owner() reads it unlocked */
	if (head != NIL)
		b->frames[head].prev = i;
	b->free_head[order] = i;
	b->avail |= 1u << order;
	b->nr_free[order]++;
	b->free_frames += 1u << order;
	if (unlikely(order == BUDDY_MAX_ORDER))
		bank_max_pushed(b, i);
	frame_store_state(f, frame_state_make(FRAME_FREE, order, 0));
}

/*
 * Takes the free block at i off its list; the caller says what its head
 * becomes. Its aux is 0 afterwards (no longer reported).
 */
static inline void bank_list_unlink(struct buddy_bank *b, uint32_t i, unsigned int order)
{
	struct frame *f = &b->frames[i];

	if (f->prev != NIL)
		b->frames[f->prev].next = f->next;
	else
		b->free_head[order] = f->next;
	if (f->next != NIL)
		b->frames[f->next].prev = f->prev;
	if (b->free_head[order] == NIL)
		b->avail &= ~(1u << order);
	b->nr_free[order]--;
	b->free_frames -= 1u << order;
	if (unlikely(order == BUDDY_MAX_ORDER))
		bank_max_unlinked(b, i);
}

/* Puts the block of BUDDY_MAX_ORDER at i last on its list, reported. */
void bank_list_push_reported(struct buddy_bank *b, uint32_t i);

/* A request as the core sees it: frame counts, not bytes. */
struct buddy_req {
	unsigned int order;
	unsigned int align_order; /* log2 of the alignment in frames, may exceed BUDDY_MAX_ORDER */
	uint64_t limit_pfn;	  /* the block must end at or below it */
};

int buddy_make_req(unsigned int order, uint64_t align, phys_addr_t limit, struct buddy_req *r);

/*
 * An allocation of nr frames for r found nothing: true if it may try again,
 * because other harts' caches were drained, or (when they have been, or
 * were empty) the grow hook added memory. *drained starts false.
 */
bool buddy_make_room(uint64_t nr, const struct buddy_req *r, bool *drained);

/* buddy.c: the free lists, with the global lock held */
void buddy_pool_reset(void);
void bank_reset(struct buddy_bank *b);
void bank_free_locked(struct buddy_bank *b, uint32_t i, unsigned int order);
bool buddy_take_locked(const struct buddy_req *r, struct buddy_bank **bank, uint32_t *index);

/* buddy_frame.c */
uint32_t bank_block_head(const struct buddy_bank *b, uint32_t i);
int buddy_claim(phys_addr_t pa, unsigned int order, struct buddy_bank **bank, uint32_t *index,
		uint32_t *old_state);
const char *buddy_state_problem(const struct buddy_bank *b, uint32_t i, uint32_t s, bool freeing,
				bool locked);
void bank_tag_blocks(struct buddy_bank *b, uint32_t from, uint32_t to, unsigned int tag);

/* buddy_cache.c */
uint64_t buddy_cached_frames(void);

/*
 * buddy_report.c: after a free has let go of every buddy lock, start the
 * reporter if too many frames sit in unreported blocks. One load and
 * compare when nothing is to be done (buddy_report_keep is UINT64_MAX
 * while there is no reporter).
 */
extern uint64_t buddy_report_keep;
void buddy_report_run(void);

static inline void buddy_report_check(void)
{
	if (unlikely(__atomic_load_n(&buddy_pool.unreported_frames, __ATOMIC_RELAXED) >
		     __atomic_load_n(&buddy_report_keep, __ATOMIC_RELAXED)))
		buddy_report_run();
}

#endif
