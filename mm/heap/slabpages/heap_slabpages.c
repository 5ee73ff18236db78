// SPDX-License-Identifier: MIT
/*
 * The slab + pages heap strategy (heap_internal.h), after vystem's
 * "shelter" kernel heap: one heap for all harts, under one lock, as
 * vystem's is one structure.
 *
 * - Objects up to 1024 bytes: slab caches of 8 levels, 8, 16, ..., 1024
 *   bytes. A request takes the level of MAX(size, align).
 * - Anything larger, or aligned beyond 1024 (a slab object is aligned only
 *   to its level's size): whole pages, the nearest count, mapped at fresh
 *   addresses of the heap's page range (large_alloc(), the window). A
 *   radix tree maps a page of the range to the allocation's size in pages
 *   (vystem's alloc_size_tree), so a free needs no size and a pointer that
 *   starts no allocation there is refused.
 * - Any other pointer is not ours: kmalloc.c then looks at the early heap.
 *
 * Our adaptation: vystem gives each level a huge virtual range of its
 * own, and the range a pointer falls in names its level. Mapping slabs
 * would cost a page-table walk and a TLB entry per slab here, for nothing
 * the direct map does not already give: so slab memory stays in the direct
 * map, each slab a naturally aligned 16 KiB buddy block (order 2) tagged
 * FRAME_HEAP with our heap id and the level in aux. The frame's owner tag
 * then names the level, as vystem's address range does: O(1), no size.
 *
 * A slab: a header at its start, the objects after it from an offset
 * aligned to the object size (so each object is aligned to its size):
 *
 *   [ struct sp_slab | bitmap: a bit per object ][ pad ][ obj 0 ][ obj 1 ] ...
 *
 * The header's magic includes the slab's frame number, so a header that
 * was overwritten, or belongs to another slab, is caught; the bitmap
 * catches double frees and pointers into an object. The header starts
 * with a canary: a slab's last object ends at the slab's end, so an
 * overflow past it lands in the next block, which may be another slab,
 * whose list links it would otherwise bend. Every allocation from a slab
 * and every free into one checks it first (but in the off tier), and the
 * overflow is reported naming the last object of the slab before
 * (sp_check()). A level keeps a list
 * of partial slabs (allocation takes from the first); full slabs are on no
 * list; of the slabs that empty it keeps one spare and gives the rest back
 * to the buddy; heap_trim() gives back the spares too.
 */
#include <mm/buddy.h>
#include <mm/port.h>
#include <string.h>

#include "../heap_internal.h"
#include "heap_slabpages_radix.h"

const char heap_strategy_name[] = "slab + pages";

#define SP_HEAP_ID    0x5a9e /* our frames' heap id: slabs (aux = level) and radix nodes */
#define SP_SLAB_ORDER 2	     /* a slab: 4 frames */
#define SP_SLAB_SIZE  (PAGE_SIZE << SP_SLAB_ORDER)
#define SP_LEVELS     8
#define SP_MAX_OBJ    1024u /* the largest level; larger goes to pages */
#define SP_MAGIC      0x5ab9a6e5u
#define SP_CANARY     0xa5461a9b5ab9a6e5ull /* no pointer, no small number, no text */

const size_t heap_strategy_large_above = SP_MAX_OBJ;

struct sp_slab {
	uint64_t canary; /* SP_CANARY: what an overflow from the block before hits first */
	struct sp_slab *next, *prev; /* the level's partial list */
	uint32_t magic;		     /* SP_MAGIC ^ the slab's frame number */
	uint16_t in_use;
	uint8_t level;
	uint8_t hint;	/* no free object in the bitmap words below it */
	uint64_t map[]; /* a bit per allocated object, and for those past nr */
};

/* A level's shape: the bitmap is sized for as many objects as the slab could hold. */
#define SP_SIZE(l)	(8u << (l))
#define SP_MAP_WORDS(l) ((SP_SLAB_SIZE / SP_SIZE(l) + 63) / 64)
#define SP_FIRST(l)	ALIGN_UP(sizeof(struct sp_slab) + 8 * SP_MAP_WORDS(l), (size_t)SP_SIZE(l))
#define SP_NR(l)	((SP_SLAB_SIZE - SP_FIRST(l)) / SP_SIZE(l))
#define SP_GEOM(l)                                                                                 \
	{                                                                                          \
		.size = SP_SIZE(l), .shift = (l) + 3, .first = SP_FIRST(l), .nr = SP_NR(l),        \
		.words = (SP_NR(l) + 63) / 64                                                      \
	}

static const struct sp_geom {
	uint16_t size, first, nr;
	uint8_t shift, words;
} geom[SP_LEVELS] = {SP_GEOM(0), SP_GEOM(1), SP_GEOM(2), SP_GEOM(3),
		     SP_GEOM(4), SP_GEOM(5), SP_GEOM(6), SP_GEOM(7)};

_Static_assert(SP_SIZE(SP_LEVELS - 1) == SP_MAX_OBJ, "the last level is the largest object");
_Static_assert(SP_MAP_WORDS(0) <= 255, "a bitmap word index fits the hint");

/* The level of a size up to SP_MAX_OBJ, by (size + 7) / 8. */
static const uint8_t level_of_8[SP_MAX_OBJ / 8 + 1] = {
    [0 ... 1] = 0,  [2] = 1,	     [3 ... 4] = 2,   [5 ... 8] = 3,
    [9 ... 16] = 4, [17 ... 32] = 5, [33 ... 64] = 6, [65 ... 128] = 7,
};

static inline unsigned int level_of(size_t size)
{
	return level_of_8[(size + 7) >> 3];
}

struct sp_level {
	struct sp_slab *partial; /* slabs with free and allocated objects */
	struct sp_slab *spare;	 /* an empty slab kept for reuse, or NULL */
	uint64_t in_use, slabs;	 /* objects allocated; slabs held, the spare included */
	uint64_t allocs, frees;
};

static spinlock_t lock = SPINLOCK_INIT;
static struct sp_level levels[SP_LEVELS];
static struct radix page_sizes; /* page of the range -> pages allocated from there */

/* ---- slabs ---------------------------------------------------------------------- */

static inline uint32_t slab_magic(phys_addr_t pa)
{
	return SP_MAGIC ^ (uint32_t)pa_to_pfn(pa);
}

#define SP_CANARY_HIT "overflow into a slab's header (past the last object of the block before it)"

/*
 * sp_check() found s's canary overwritten: what to name in the report
 * (SP_CANARY_HIT, made once the lock is let go): the last object of the
 * slab right before s if there is one, whose overflow it most likely was,
 * else s's header. The canary is written back, so that one overflow is one
 * report (a kernel has panicked at it; the host's tests go on).
 */
static __attribute__((noinline)) const void *sp_canary_hit(struct sp_slab *s)
{
	phys_addr_t pa = virt_to_phys(s), before = pa - SP_SLAB_SIZE;
	const void *at = s;
	struct frame_owner o;

	if (pa >= SP_SLAB_SIZE && frame_owner(before, &o) == 0 && o.tag == FRAME_HEAP &&
	    o.heap == SP_HEAP_ID && o.order == SP_SLAB_ORDER && o.aux < SP_LEVELS &&
	    o.head == before)
		at = (char *)phys_to_virt(before) + SP_SLAB_SIZE - geom[o.aux].size;
	s->canary = SP_CANARY;
	return at;
}

/*
 * Under the lock, before s's header is trusted: NULL if its canary is
 * whole, else whom to name. Not in the tier that checks only what costs
 * nothing: here the check costs about 22 instructions a pair (354 -> 376
 * on the host), on paths that take a lock and look up a frame anyway.
 */
static inline const void *sp_check(struct sp_slab *s)
{
	if (HEAP_HARDEN == HEAP_HARDEN_OFF)
		return NULL;
	return likely(s->canary == SP_CANARY) ? NULL : sp_canary_hit(s);
}

static void list_push(struct sp_slab **head, struct sp_slab *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
}

static void list_del(struct sp_slab **head, struct sp_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static struct sp_slab *slab_new(unsigned int level)
{
	const struct sp_geom *g = &geom[level];
	struct sp_slab *s;
	phys_addr_t pa;

	if (buddy_alloc(SP_SLAB_ORDER, &pa) < 0)
		return NULL;
	frame_set_owner(pa, SP_SLAB_ORDER, FRAME_HEAP, SP_HEAP_ID, level);
	s = phys_to_virt(pa);
	memset(s, 0, sizeof(*s) + g->words * sizeof(uint64_t));
	s->canary = SP_CANARY;
	s->magic = slab_magic(pa);
	s->level = (uint8_t)level;
	if (g->nr % 64)
		s->map[g->words - 1] = ~0ULL << (g->nr % 64); /* never found free */
	levels[level].slabs++;
	return s;
}

/* s of level (the caller's, not the header's: a spare's header is not checked) back to the buddy.
 */
static void slab_release(struct sp_slab *s, unsigned int level)
{
	levels[level].slabs--;
	s->magic = 0; /* a stale pointer into it must not find a header */
	buddy_free(virt_to_phys(s), SP_SLAB_ORDER);
}

/* Every level's spare back to the buddy: how many there were. */
static unsigned int release_spares(void)
{
	unsigned int n = 0;

	for (unsigned int l = 0; l < SP_LEVELS; l++) {
		if (levels[l].spare) {
			slab_release(levels[l].spare, l);
			levels[l].spare = NULL;
			n++;
		}
	}
	return n;
}

/* release_spares() for callers without the lock. */
static bool give_back_spares(void)
{
	unsigned int n;

	spin_lock(&lock);
	n = release_spares();
	spin_unlock(&lock);
	return n;
}

/* A slab of level with a free object, on its partial list; NULL if the buddy has none. */
static struct sp_slab *slab_with_room(unsigned int level)
{
	struct sp_level *l = &levels[level];
	struct sp_slab *s = l->partial;

	if (s)
		return s;
	s = l->spare;
	l->spare = NULL;
	if (!s)
		s = slab_new(level);
	if (!s && release_spares()) /* the other levels' idle slabs, before we fail */
		s = slab_new(level);
	if (s)
		list_push(&l->partial, s);
	return s;
}

static void *slab_alloc(unsigned int level)
{
	const struct sp_geom *g = &geom[level];
	struct sp_level *l = &levels[level];
	struct sp_slab *s;
	unsigned int w, b;
	const void *hit = NULL;
	void *p = NULL;

	spin_lock(&lock);
	s = slab_with_room(level);
	if (s) {
		hit = sp_check(s);
		for (w = s->hint; s->map[w] == ~0ULL; w++)
			;
		b = low_bit64(~s->map[w]);
		s->map[w] |= 1ULL << b;
		s->hint = (uint8_t)w;
		if (++s->in_use == g->nr)
			list_del(&l->partial, s);
		l->in_use++;
		l->allocs++;
		p = (char *)s + g->first + ((size_t)(w * 64 + b) << g->shift);
	}
	spin_unlock(&lock);
	if (hit)
		heap_misuse(SP_CANARY_HIT, hit);
	return p;
}

/*
 * Under the lock. Whether p is in one of our slabs (false: not ours); if
 * so, *s and *idx are its slab and object, or *s NULL and *what the misuse;
 * *hit is what sp_check() found of the slab's canary.
 * Under the lock the tag cannot change under us: slabs come and go only
 * with it held, and another owner's frames are refused whatever they hold.
 */
static bool slab_find(const void *p, struct sp_slab **s, unsigned int *idx, const char **what,
		      const void **hit)
{
	phys_addr_t pa = virt_to_phys(p);
	const struct sp_geom *g;
	struct sp_slab *slab;
	struct frame_owner o;
	uint64_t off;

	*s = NULL;
	if (frame_owner(pa, &o) < 0 || o.tag != FRAME_HEAP || o.heap != SP_HEAP_ID ||
	    o.order != SP_SLAB_ORDER || o.aux >= SP_LEVELS)
		return false;
	slab = phys_to_virt(o.head);
	g = &geom[o.aux];
	off = pa - o.head;
	*hit = sp_check(slab);
	if (slab->magic != slab_magic(o.head) || slab->level != o.aux)
		*what = "slab header overwritten";
	else if (off < g->first || off & (g->size - 1))
		*what = "not the start of an allocated object";
	else
		*s = slab, *idx = (unsigned int)((off - g->first) >> g->shift);
	return true;
}

static inline bool slab_bit(const struct sp_slab *s, unsigned int idx)
{
	return s->map[idx / 64] >> (idx % 64) & 1;
}

/* Under the lock: object idx of s is free again; s moves between lists as it must. */
static void slab_put(struct sp_slab *s, unsigned int idx)
{
	struct sp_level *l = &levels[s->level];

	s->map[idx / 64] &= ~(1ULL << (idx % 64));
	if (idx / 64 < s->hint)
		s->hint = (uint8_t)(idx / 64);
	if (s->in_use-- == geom[s->level].nr)
		list_push(&l->partial, s);
	l->in_use--;
	l->frees++;
	if (s->in_use)
		return;
	list_del(&l->partial, s);
	if (l->spare)
		slab_release(s, s->level);
	else
		l->spare = s;
}

static bool slab_free(void *p)
{
	const char *what = NULL;
	const void *hit = NULL;
	struct sp_slab *s;
	unsigned int idx;
	bool ours;

	spin_lock(&lock);
	ours = slab_find(p, &s, &idx, &what, &hit);
	if (s && !slab_bit(s, idx))
		what = "double free";
	else if (s)
		slab_put(s, idx);
	spin_unlock(&lock);
	if (hit)
		heap_misuse(SP_CANARY_HIT, hit);
	if (what)
		heap_misuse(what, p);
	return ours;
}

/* ---- pages ---------------------------------------------------------------------- */

static inline uint64_t page_key(const void *p)
{
	return ((uintptr_t)p - large_window) >> PAGE_SHIFT;
}

static void *pages_alloc(size_t size, size_t align)
{
	void *p = large_alloc(size, align);
	uint64_t nr;
	int err;

	if (!p && (!give_back_spares() || !(p = large_alloc(size, align))))
		return NULL;
	nr = ALIGN_UP((uint64_t)MAX(size, (size_t)1), PAGE_SIZE) / PAGE_SIZE;
	spin_lock(&lock);
	err = radix_set(&page_sizes, page_key(p), nr);
	if (err == -ENOMEM && release_spares())
		err = radix_set(&page_sizes, page_key(p), nr);
	spin_unlock(&lock);
	if (err) {
		large_free(p);
		return NULL;
	}
	return p;
}

/* The page count of the allocation starting at p, 0 if none does; clear: it is freed. */
static uint64_t pages_of(const void *p, bool clear)
{
	uint64_t nr;

	if (!IS_ALIGNED((uintptr_t)p - large_window, PAGE_SIZE))
		return 0;
	spin_lock(&lock);
	nr = clear ? radix_clear(&page_sizes, page_key(p)) : radix_get(&page_sizes, page_key(p));
	spin_unlock(&lock);
	return nr;
}

/*
 * Out of the tree first, under the lock, then unmapped: of two frees of
 * one allocation only one finds it, and the range is not handed out again
 * before large_free() gives it back.
 */
static void pages_free(void *p)
{
	if (!pages_of(p, true)) {
		heap_misuse("not the start of a page allocation (or a double free)", p);
		return;
	}
	large_free(p);
}

/* ---- the strategy --------------------------------------------------------------- */

void *heap_strategy_alloc(size_t size, size_t align)
{
	if (size <= SP_MAX_OBJ && align <= SP_MAX_OBJ)
		return slab_alloc(level_of(MAX(size, align)));
	return pages_alloc(size, align);
}

void heap_strategy_large_free(void *p)
{
	pages_free(p);
}

size_t heap_strategy_large_size(const void *p)
{
	size_t n = pages_of(p, false) * PAGE_SIZE;

	if (!n)
		heap_misuse("ksize of a freed page allocation, or not the start of one", p);
	return n;
}

/*
 * Neither grown nor shrunk in place: the tree keys each allocation's
 * length by its address, and setting the new key could fail once the
 * mapping had moved; krealloc() copies.
 */
void *heap_strategy_large_grow(void *p, size_t size, size_t align)
{
	(void)p, (void)size, (void)align;
	return NULL;
}

void *heap_strategy_large_shrink(void *p, size_t size)
{
	(void)p, (void)size;
	return NULL;
}

bool heap_strategy_free(void *p)
{
	return slab_free(p);
}

bool heap_strategy_size(const void *p, size_t *size)
{
	const char *what = NULL;
	const void *hit = NULL;
	struct sp_slab *s;
	unsigned int idx;
	bool ours;

	*size = 0;
	spin_lock(&lock);
	ours = slab_find(p, &s, &idx, &what, &hit);
	if (s && !slab_bit(s, idx))
		what = "ksize of a freed object";
	else if (s)
		*size = geom[s->level].size;
	spin_unlock(&lock);
	if (hit)
		heap_misuse(SP_CANARY_HIT, hit);
	if (what)
		heap_misuse(what, p);
	return ours;
}

/* The same level (kmalloc.c checks natural alignment and page allocations). */
bool heap_strategy_fits(const void *p, size_t old, size_t size)
{
	(void)p;
	return size <= SP_MAX_OBJ && old <= SP_MAX_OBJ && level_of(size) == level_of(old);
}

/*
 * Forgets everything; the old memory belongs to a machine that is gone
 * (tests). Called before every switch, which needs nothing more
 * (heap_global.c's). A window beyond 2^36 pages would need no change
 * either: an allocation there finds no key and fails (radix_set()).
 */
void heap_strategy_reset(void)
{
	spin_lock_init(&lock);
	memset(levels, 0, sizeof(levels));
	radix_init(&page_sizes, SP_HEAP_ID);
}

/* ---- reports -------------------------------------------------------------------- */

void heap_trim(void)
{
	give_back_spares();
}

/* The page allocations are large ones: heap_common.c counts them; the radix tree's nodes are ours.
 */
void heap_strategy_usage(struct heap_usage *u)
{
	spin_lock(&lock);
	for (unsigned int l = 0; l < SP_LEVELS; l++) {
		u->blocks += levels[l].in_use;
		u->bytes += levels[l].in_use * geom[l].size;
		u->frames += levels[l].slabs << SP_SLAB_ORDER;
	}
	u->frames += radix_nodes(&page_sizes);
	spin_unlock(&lock);
}

void heap_dump(void)
{
	struct sp_level snap[SP_LEVELS];
	uint64_t nodes;

	/* a snapshot under the lock, printed without it */
	spin_lock(&lock);
	memcpy(snap, levels, sizeof(snap));
	nodes = radix_nodes(&page_sizes);
	spin_unlock(&lock);

	printk("heap: level size /slab     in-use  slabs spare     allocs      frees\n");
	for (unsigned int l = 0; l < SP_LEVELS; l++)
		printk("heap: %5u %4u %5u %10llu %6llu %5u %10llu %10llu\n", l, geom[l].size,
		       geom[l].nr, (unsigned long long)snap[l].in_use,
		       (unsigned long long)snap[l].slabs, snap[l].spare ? 1u : 0u,
		       (unsigned long long)snap[l].allocs, (unsigned long long)snap[l].frees);
	printk("heap: pages: the radix tree has %llu nodes (the allocations: large, below)\n",
	       (unsigned long long)nodes);
	heap_dump_large_early();
}
