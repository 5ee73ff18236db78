// SPDX-License-Identifier: MIT
/*
 * The per-hart heaps' mid blocks: objects of 4097 to HEAP_MID_MAX_SIZE bytes,
 * several to a 32 KiB block of the buddy, in three classes (7 objects of
 * 4672 bytes, 6 of 5440, 5 of 6528). An 8 KiB slab page holds one object
 * above 4068 bytes (two do not fit beside its trailer), so without these a
 * program's 4 KiB buffers with a header each (sqlite3's page cache: 4104
 * and 4368 bytes) took twice their size; jemalloc's classes between 4 and
 * 8 KiB (5, 6, 7 KiB) exist for the same reason.
 *
 * These sizes are rare next to small objects, so a class of each hart's
 * heap has a lock, taken by the owner's allocations from its blocks and by
 * every free into them, whichever hart frees (the block's header names
 * the owner). In front of the blocks the owner keeps a few objects it
 * freed (HART_MID_CACHE a class) for its next allocations, without the
 * lock, as a slab class's cache: to its block a cached object stays
 * allocated, and holds its free tag (heap_hart.h) in the tiers with them,
 * so that ksize() of it from anywhere is reported. A cached object's
 * second free is found in the cache.
 *
 * The block's head frame says what it is (FRAME_HEAP, HART_MID_HEAP_ID,
 * HART_MID_MARK | class), out of the block's reach; its first 64 bytes
 * are a header (owner, which objects are free, the class's list of blocks
 * with a free object), changed only under the owner's lock and checked
 * under it before each use: a magic of its address first, and last,
 * where an underflow of the first object reaches first, a canary keyed
 * like a slab page's (heap_tag_key). A header found written over is
 * reported and its block left alone (lost, never followed). A class keeps one empty block for its
 * next allocation; another that empties goes back to the buddy, and the kept one too when the hart
 * trims (heap_trim(), heap_idle(), short of memory).
 */
#include <mm/buddy.h>

#include "../../buddy/buddy_internal.h"
#include "heap_hart.h"

#define HART_MID_HEAP_ID 0xa9e7
#define HART_MID_MARK	 0x3d1db000u /* | the class */
#define HART_MID_MAGIC	 0x6d6964626c6f636bULL
#define HART_MID_HEADER	 64

struct mid_block {
	uint64_t magic;		       /* mid_magic() of its address */
	struct mid_block *next, *prev; /* the class's blocks with a free object */
	uint32_t owner;		       /* the heap's id */
	uint32_t free; /* bit i: object i is free (a word: riscv64 has no byte-wide atomics) */
	uint8_t cls;
	uint8_t unused[HART_MID_HEADER - 41];
	uint64_t canary; /* mid_canary(): next to the first object */
};
_Static_assert(sizeof(struct mid_block) == HART_MID_HEADER, "the mid block's header");

static const struct {
	uint16_t size;
	uint8_t per_block;
} mid_geom[HEAP_MID_CLASSES] = {
    {4672, 7},
    {5440, 6},
    {6528, 5},
};
_Static_assert(6528 == HEAP_MID_MAX_SIZE, "HEAP_MID_MAX_SIZE is the largest class");
_Static_assert(HART_MID_HEADER + 7 * 4672 <= HART_MID_BLOCK &&
		   HART_MID_HEADER + 6 * 5440 <= HART_MID_BLOCK &&
		   HART_MID_HEADER + 5 * 6528 <= HART_MID_BLOCK,
	       "a class's objects fit in a block");
_Static_assert(4672 % HART_MID_ALIGN == 0 && 5440 % HART_MID_ALIGN == 0 &&
		   6528 % HART_MID_ALIGN == 0 && HART_MID_HEADER % HART_MID_ALIGN == 0,
	       "objects aligned to HART_MID_ALIGN");

static uint64_t mid_magic(const struct mid_block *b)
{
	return HART_MID_MAGIC ^ (uintptr_t)b >> 15;
}

static uint64_t mid_canary(const struct mid_block *b)
{
	return ~(heap_tag_key ^ (uintptr_t)&b->canary);
}

static unsigned int mid_class(size_t size)
{
	unsigned int c = 0;

	while (c < HEAP_MID_CLASSES && size > mid_geom[c].size)
		c++;
	return c;
}

static uint32_t all_free(unsigned int c)
{
	return (1u << mid_geom[c].per_block) - 1;
}

static void *mid_object(struct mid_block *b, unsigned int i)
{
	return (char *)b + HART_MID_HEADER + (size_t)i * mid_geom[b->cls].size;
}

static void list_push(struct hart_mid_class *m, struct mid_block *b)
{
	b->prev = NULL;
	b->next = m->partial;
	if (b->next)
		b->next->prev = b;
	m->partial = b;
}

/*
 * The class of the mid block at base (aligned to HART_MID_BLOCK): blocks
 * are aligned to their size, physically and so in the direct map, so the
 * frame there is its head if base is one's. -1 if it is none.
 */
static int block_class(uintptr_t base)
{
	const struct frame *f = heap_page_frame(this_heap(), (void *)base);
	uint32_t aux;

	if (!f || __atomic_load_n(&f->state, __ATOMIC_RELAXED) !=
		      frame_state_make(FRAME_HEAP, HART_MID_ORDER, HART_MID_HEAP_ID))
		return -1;
	aux = __atomic_load_n(&f->aux, __ATOMIC_RELAXED);
	if ((aux & ~0xffu) != HART_MID_MARK || (aux & 0xff) >= HEAP_MID_CLASSES)
		return -1;
	return (int)(aux & 0xff);
}

/* Whether x, a link read from a header, is a block of class c (one that can be read). */
static bool block_is(const struct mid_block *x, unsigned int c)
{
	return IS_ALIGNED((uintptr_t)x, HART_MID_BLOCK) && block_class((uintptr_t)x) == (int)c;
}

/*
 * b off m's list. A header's links are in reach of a stray write: they
 * are followed only where they and the links back agree (glibc's safe
 * unlinking); false, nothing written, where they do not.
 */
static bool list_unlink(struct hart_mid_class *m, struct mid_block *b, unsigned int c)
{
	struct mid_block *p = b->prev, *n = b->next;

	if (!(p ? block_is(p, c) && p->next == b : m->partial == b) ||
	    (n && !(block_is(n, c) && n->prev == b)))
		return false;
	if (p)
		p->next = n;
	else
		m->partial = n;
	if (n)
		n->prev = p;
	return true;
}

/*
 * m's list found broken at b (its lock held): b is given up (its magic
 * cleared: a free into it is reported) and so is the list, whose links
 * are not to be followed; the class starts a new one. The caller reports
 * once the lock is let go.
 */
static void list_broken(struct hart_mid_class *m, struct mid_block *b)
{
	b->magic = 0;
	m->partial = NULL;
}

static const char mid_list_broken[] = "mid block header overwritten (an underflow of its first "
				      "object?): the block is given up";

/* A new block of class c for heap h, on no list yet; NULL if the buddy has none. */
static struct mid_block *block_new(struct heap *h, unsigned int c)
{
	struct mid_block *b;
	phys_addr_t pa;

	if (buddy_alloc(HART_MID_ORDER, &pa) < 0)
		return NULL;
	b = phys_to_virt(pa);
	*b = (struct mid_block){.owner = h->id, .cls = (uint8_t)c, .free = all_free(c)};
	b->magic = mid_magic(b);
	b->canary = mid_canary(b);
	if (frame_set_owner(pa, HART_MID_ORDER, FRAME_HEAP, HART_MID_HEAP_ID, HART_MID_MARK | c) <
	    0) {
		buddy_free(pa, HART_MID_ORDER);
		return NULL;
	}
	return b;
}

/* Whether b's header is as heap owner's class c left it (its lock held). */
static bool header_ok(const struct mid_block *b, uint32_t owner, unsigned int c)
{
	return b->magic == mid_magic(b) && b->canary == mid_canary(b) && b->owner == owner &&
	       b->cls == c && !(b->free & ~all_free(c));
}

/*
 * b, empty, leaves m (whose lock is held): its magic goes first, so that
 * a stale free that takes the lock after finds no block; the caller gives
 * it to the buddy once the lock is let go. false if m's list is broken
 * (list_broken(): b is kept, lost, and reported by the caller).
 */
static bool block_retire(struct hart_mid_class *m, struct mid_block *b, unsigned int c)
{
	if (!list_unlink(m, b, c)) {
		list_broken(m, b);
		return false;
	}
	b->magic = 0;
	m->blocks--;
	m->empty--;
	return true;
}

static void set_nr(struct heap *h, unsigned int c, unsigned int n)
{
	__atomic_store_n(&h->mid_nr[c], (uint8_t)n, __ATOMIC_RELAXED); /* the stats read it */
}

void *hart_mid_alloc(size_t size, size_t align)
{
	struct heap *h = this_heap();
	unsigned int c = mid_class(size), i;
	struct hart_mid_class *m;
	struct mid_block *b;
	void *p;

	if (!h || size <= HEAP_FAST_MAX_SIZE || c >= HEAP_MID_CLASSES || align > HART_MID_ALIGN)
		return NULL;
	if (h->mid_nr[c]) {
		p = h->mid_cache[c][h->mid_nr[c] - 1u];
		set_nr(h, c, h->mid_nr[c] - 1u);
		if (HEAP_FREE_TAGS)
			*(uintptr_t *)p = 0;
		return p;
	}
	m = &h->mid[c];
	tas_lock(&m->lock);
	while ((b = m->partial) && (!header_ok(b, h->id, c) || !b->free)) {
		list_broken(m, b);
		tas_unlock(&m->lock);
		heap_misuse(mid_list_broken, (char *)b + HART_MID_HEADER);
		tas_lock(&m->lock);
	}
	if (!b) {
		tas_unlock(
		    &m->lock); /* the buddy may take a while: frees of ours wait for nothing */
		b = block_new(h, c);
		if (!b)
			return NULL;
		tas_lock(&m->lock);
		list_push(m, b);
		m->blocks++;
		m->empty++;
	}
	if (b->free == all_free(c))
		m->empty--;
	i = low_bit64(b->free);
	__atomic_store_n(&b->free, b->free & ~(1u << i), __ATOMIC_RELAXED);
	m->objs++;
	p = mid_object(b, i);
	if (HEAP_FREE_TAGS) /* no free tag: a stale one would say it is cached */
		*(uintptr_t *)p = 0;
	if (!b->free && !list_unlink(m, b, c)) { /* full: off the list until a free */
		list_broken(m, b);
		tas_unlock(&m->lock);
		heap_misuse(mid_list_broken, (char *)b + HART_MID_HEADER);
		return p;
	}
	tas_unlock(&m->lock);
	return p;
}

/*
 * The mid block p is in, its class and p's index in it: 1; 0 if p is in
 * no mid block; -1 if p is in one but starts no object there (interior,
 * or the header), reported as what.
 */
static int mid_of(const void *p, struct mid_block **b, unsigned int *idx, unsigned int *cls,
		  const char *what)
{
	uintptr_t base = ALIGN_DOWN((uintptr_t)p, HART_MID_BLOCK), off = (uintptr_t)p - base;
	int k = block_class(base);
	unsigned int c;

	if (k < 0)
		return 0;
	c = (unsigned int)k;
	*b = (struct mid_block *)base;
	*idx = (unsigned int)((off - HART_MID_HEADER) / mid_geom[c].size);
	if (off < HART_MID_HEADER || off != HART_MID_HEADER + (uintptr_t)*idx * mid_geom[c].size ||
	    *idx >= mid_geom[c].per_block) {
		heap_misusef(p, "%s (inside a %u-byte block of a mid block)", what,
			     mid_geom[c].size);
		return -1;
	}
	*cls = c;
	return 1;
}

/*
 * The owner's class of b locked, its header checked against the frame's
 * class c: the class (NULL, reported, if the header was written over or
 * the block left since the frame was read: a stale pointer's).
 */
static struct hart_mid_class *lock_owner(struct mid_block *b, unsigned int c, const void *p)
{
	for (int tries = 0; tries < 4; tries++) {
		uint32_t owner = *(volatile uint32_t *)&b->owner;
		struct hart_mid_class *m;

		if (owner >= heap_nr_harts)
			break;
		m = &heaps[owner].mid[c];
		tas_lock(&m->lock);
		if (header_ok(b, owner, c))
			return m;
		tas_unlock(&m->lock);
		if (b->magic != mid_magic(b))
			break;
	}
	heap_misuse("mid block header overwritten, or the block freed (a stale pointer?)", p);
	return NULL;
}

/* Whether p is in h's cache of class c (the owner's). */
static bool mid_cached(const struct heap *h, unsigned int c, const void *p)
{
	for (unsigned int j = 0; j < h->mid_nr[c]; j++)
		if (h->mid_cache[c][j] == p)
			return true;
	return false;
}

/*
 * The owner's free of p, object i of b (class c), into its cache if it has
 * room: true once cached or reported; false for the block's way (which
 * reports a double free). The block's lock is not taken: its header is
 * checked (a block given up, or written over, takes the block's way, which
 * reports it), and p's bit says whether it is free in its block, which
 * only the lock's holders change; p's being allocated keeps the block and
 * its owner. With free tags, the tag is swapped in before the bit is read
 * and another hart's free sets the bit before it reads the word (both
 * sequentially consistent, block_free()): of two racing frees at least one
 * sees the other, and the object is never both cached and free (where
 * both do, both are reported and the object stays allocated: lost).
 */
static bool cache_free(struct heap *h, struct mid_block *b, unsigned int i, unsigned int c, void *p)
{
	uintptr_t tag = free_tag(heap_tag_key, p);

	if (b->owner != h->id || b->magic != mid_magic(b) || b->canary != mid_canary(b) ||
	    __atomic_load_n(&b->free, __ATOMIC_RELAXED) & (1u << i))
		return false;
	if (mid_cached(h, c, p)) {
		heap_misuse("double free (of a mid block's object in the hart's cache)", p);
		return true;
	}
	if (h->mid_nr[c] >= HART_MID_CACHE)
		return false;
	if (HEAP_FREE_TAGS) {
		uintptr_t old;

		HEAP_RACE(RACE_MID_OWNER_CHECKED, p);
		old = __atomic_exchange_n((uintptr_t *)p, tag, __ATOMIC_SEQ_CST);
		HEAP_RACE(RACE_MID_OWNER_TAGGED, p);
		if (__atomic_load_n(&b->free, __ATOMIC_SEQ_CST) & (1u << i)) {
			/*
			 * Another hart's free of it got there first: its word back, so
			 * that free, unless it read the tag already, goes on alone.
			 */
			__atomic_store_n((uintptr_t *)p, old, __ATOMIC_SEQ_CST);
			heap_misuse("double free (of a mid block's object, by two harts at once)",
				    p);
			return true;
		}
	}
	h->mid_cache[c][h->mid_nr[c]] = p;
	set_nr(h, c, h->mid_nr[c] + 1u);
	return true;
}

/*
 * p, object i of b (class c), back to its block under the owner's lock;
 * from the owner's cache (cached), or its user's: then holding its free
 * tag, it is in the owner's cache (a double free, reported).
 */
static void block_free(struct mid_block *b, unsigned int i, unsigned int c, void *p, bool cached)
{
	struct hart_mid_class *m;
	struct mid_block *gone = NULL;
	bool broken = false;
	uint32_t bit = 1u << i, was;

	m = lock_owner(b, c, p);
	if (!m)
		return;
	was = __atomic_fetch_or(&b->free, bit, __ATOMIC_SEQ_CST);
	HEAP_RACE(RACE_MID_REMOTE_SET, p);
	if (was & bit) {
		tas_unlock(&m->lock);
		heap_misuse("double free (of a mid block's object)", p);
		return;
	}
	/* its free tag: cached by its owner, or being so (cache_free()) */
	if (HEAP_FREE_TAGS && !cached &&
	    __atomic_load_n((const uintptr_t *)p, __ATOMIC_SEQ_CST) == free_tag(heap_tag_key, p)) {
		__atomic_fetch_and(&b->free, ~bit, __ATOMIC_RELAXED);
		tas_unlock(&m->lock);
		heap_misuse("double free (of a mid block's object in its hart's cache)", p);
		return;
	}
	if (!was)
		list_push(m, b);
	m->objs--;
	if (b->free == all_free(c) && m->empty++) { /* the class keeps one empty block */
		if (block_retire(m, b, c))
			gone = b;
		else
			broken = true;
	}
	tas_unlock(&m->lock);
	if (gone)
		buddy_free(virt_to_phys(gone), HART_MID_ORDER);
	if (broken)
		heap_misuse(mid_list_broken, (char *)b + HART_MID_HEADER);
}

bool hart_mid_free(void *p)
{
	struct heap *h = this_heap();
	struct mid_block *b;
	unsigned int i, c = 0;
	int r = mid_of(p, &b, &i, &c, "kfree of a pointer that starts no object");

	if (r <= 0)
		return r < 0;
	if (!h || !cache_free(h, b, i, c, p))
		block_free(b, i, c, p, false);
	return true;
}

/* The running hart's cached mid objects back to their blocks. */
void hart_mid_cache_flush(struct heap *h)
{
	for (unsigned int c = 0; c < HEAP_MID_CLASSES; c++) {
		while (h->mid_nr[c]) {
			void *p = h->mid_cache[c][h->mid_nr[c] - 1u];
			struct mid_block *b;
			unsigned int i, k;

			set_nr(h, c, h->mid_nr[c] - 1u);
			if (mid_of(p, &b, &i, &k, "cached mid object lost its block") > 0)
				block_free(b, i, k, p, true);
		}
	}
}

bool hart_mid_size(const void *p, size_t *size)
{
	struct hart_mid_class *m;
	struct mid_block *b;
	unsigned int i, c = 0;
	int r = mid_of(p, &b, &i, &c, "ksize or krealloc of a pointer that starts no object");

	*size = 0;
	if (r <= 0)
		return r < 0;
	m = lock_owner(b, c, p);
	if (!m)
		return true;
	/* cached: its tag, or in the tier without, in this hart's cache */
	if (!(b->free & (1u << i)) &&
	    !(HEAP_FREE_TAGS ? *(const uintptr_t *)p == free_tag(heap_tag_key, p)
			     : this_heap() && mid_cached(this_heap(), c, p)))
		*size = mid_geom[c].size;
	tas_unlock(&m->lock);
	if (!*size) /* reported with the lock let go: a handler may allocate */
		heap_misuse("ksize or krealloc of a freed object", p);
	return true;
}

bool hart_mid_fit(size_t old, size_t size)
{
	unsigned int c = mid_class(size);

	return size > HEAP_FAST_MAX_SIZE && c < HEAP_MID_CLASSES && mid_geom[c].size == old;
}

/* Every empty block of h's classes back to the buddy (any hart may ask: each class's lock). */
void hart_mid_flush(struct heap *h)
{
	for (unsigned int c = 0; c < HEAP_MID_CLASSES; c++) {
		struct hart_mid_class *m = &h->mid[c];
		struct mid_block *b, *next, *gone = NULL, *broken = NULL;

		tas_lock(&m->lock);
		for (b = m->partial; b && m->empty; b = next) {
			next = b->next;
			if (!header_ok(b, h->id, c) || (next && !block_is(next, c))) {
				list_broken(m, b);
				broken = b;
				break;
			}
			if (b->free != all_free(c))
				continue;
			if (!block_retire(m, b, c)) {
				broken = b;
				break;
			}
			b->next = gone;
			gone = b;
		}
		tas_unlock(&m->lock);
		if (broken)
			heap_misuse(mid_list_broken, (char *)broken + HART_MID_HEADER);
		for (; gone; gone = next) {
			next = gone->next;
			buddy_free(virt_to_phys(gone), HART_MID_ORDER);
		}
	}
}

void hart_mid_stats(struct heap *h, struct heap_mid_stats *s)
{
	for (unsigned int c = 0; c < HEAP_MID_CLASSES; c++) {
		struct hart_mid_class *m = &h->mid[c];

		tas_lock(&m->lock);
		s[c] = (struct heap_mid_stats){
		    .size = mid_geom[c].size,
		    .per_block = mid_geom[c].per_block,
		    .in_use = m->objs - __atomic_load_n(&h->mid_nr[c], __ATOMIC_RELAXED),
		    .blocks = m->blocks};
		tas_unlock(&m->lock);
	}
}
