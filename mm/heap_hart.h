/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_HART_H
#define MM_HEAP_HART_H

/* The per-hart slab heaps (mm/heap_hart*.c, mm/heap_slab.c): what their files share. */

#include "heap_internal.h"

#define SLAB_ORDER 1	  /* 8 KiB: two frames */
#define SLAB_NO_CLASS 0xff /* trailer's class while the page is empty and in no class */
#define SLAB_MAGIC 0x51ab7a11u

/*
 * A slab page's trailer, the last bytes of the page:
 *
 *   [ objects: nr_objs * size ][ gap ][ alloc bitmap ][ pending bitmap ][ struct slab ]
 *                                      words * 8        words * 8          32 bytes
 *
 * alloc has a bit set per allocated object (and for the bits past nr_objs,
 * so a scan never finds them); only the owning hart writes it, others read
 * it to check a free. pending is each object's claim to be freed: a hart
 * freeing the object takes its bit first (the owner's free for a moment, a
 * remote free until the owner takes it from its queue, or until it finds
 * the object free and lets go), so two frees of one object never both go
 * on. Both are accessed atomically.
 * Everything else is the owner's, or, while the page is empty and on a
 * heap's empty list, that list's lock's.
 */
struct slab {
	struct slab *next, *prev; /* the class's partial list, or the heap's empty list */
	uint16_t heap;		  /* the owning heap (a hart index) */
	uint8_t cls;		  /* size class, SLAB_NO_CLASS when empty between classes */
	uint8_t words;		  /* 64-bit words of each bitmap */
	uint16_t in_use;	  /* allocated objects, queued frees included */
	uint16_t hint;		  /* no free object in the words below it */
	uint16_t nr_objs;
	uint8_t frame_cls;	  /* the class the frame metadata names (it changes lazily) */
	uint8_t shift;		  /* object i is at i << shift (the one-object class: 0) */
	uint32_t magic;		  /* SLAB_MAGIC ^ the page's frame number: a trailer, of this page */
};
_Static_assert(sizeof(struct slab) == 32, "the trailer's fixed part grew");

/* A class's shape in a slab page. */
struct slab_geom {
	uint32_t size;
	uint16_t nr_objs;
	uint8_t words;
	uint8_t shift; /* log2(size), for the power-of-two classes; 0 for the last */
};

extern struct slab_geom slab_geom[HEAP_NR_CLASSES];
extern uint8_t slab_class_of_8[HEAP_SLAB_MAX_SIZE / 8 + 1]; /* class of (size + 7) / 8 */

void slab_geom_init(void);

static inline unsigned int slab_class(size_t size)
{
	return slab_class_of_8[(size + 7) >> 3];
}

static inline char *slab_page(const struct slab *s)
{
	return (char *)s + sizeof(*s) - HEAP_SLAB_SIZE;
}

static inline struct slab *slab_of_page(void *page)
{
	return (struct slab *)((char *)page + HEAP_SLAB_SIZE - sizeof(struct slab));
}

static inline uint64_t *slab_alloc_map(const struct slab *s)
{
	return (uint64_t *)s - 2 * s->words;
}

static inline uint64_t *slab_pending_map(const struct slab *s)
{
	return (uint64_t *)s - s->words;
}

static inline uint32_t slab_magic(phys_addr_t page_pa)
{
	return SLAB_MAGIC ^ (uint32_t)(page_pa >> 13);
}

/* heap_slab.c: one page */
void slab_format(struct slab *s, unsigned int heap, unsigned int cls);
bool slab_pending_empty(const struct slab *s);

/*
 * The per-object operations, inline: they are the fast paths. Others read
 * alloc while the owner writes it, hence the atomic stores (plain stores on
 * both architectures but for the compiler's promise); the owner's own
 * reads need none.
 */
static inline bool slab_bit(const uint64_t *map, unsigned int i)
{
	return __atomic_load_n(&map[i / 64], __ATOMIC_RELAXED) >> (i % 64) & 1;
}

/* Takes the lowest free object of s; the caller knows there is one. */
static inline unsigned int slab_take(struct slab *s)
{
	uint64_t *alloc = slab_alloc_map(s);
	unsigned int w = s->hint;
	uint64_t a;

	while ((a = alloc[w]) == ~0ULL)
		w++;
	unsigned int b = low_bit64(~a);

	__atomic_store_n(&alloc[w], a | 1ULL << b, __ATOMIC_RELAXED);
	s->hint = (uint16_t)w;
	s->in_use++;
	return w * 64 + b;
}

/*
 * Test hooks at the steps of a free where another hart's free of the same
 * object may cut in; compiled only into tests/host/races/, which stops a
 * free at each and runs the other one in between, in every order.
 */
#ifdef HEAP_RACE_HOOKS
enum heap_race_point {
	RACE_OWNER_CLAIMED,  /* the owner holds the pending bit, the allocation bit not yet read */
	RACE_REMOTE_CLAIMED, /* a remote free holds the pending bit, the allocation bit not yet read */
	RACE_REMOTE_CHECKED, /* ... and has read it, not yet queued (or let go) */
	RACE_DRAIN_CLEARED,  /* the drain cleared the allocation bit, not yet the pending bit */
};
extern void (*heap_race_hook)(enum heap_race_point pt, const void *obj);
#define HEAP_RACE(pt, obj)                          \
	do {                                        \
		if (heap_race_hook)                 \
			heap_race_hook((pt), (obj)); \
	} while (0)
#else
#define HEAP_RACE(pt, obj) \
	do {               \
	} while (0)
#endif

/*
 * The owner's claim to free object (w, bit): false if the object is free
 * already, or another hart's free of it is queued or under way. Frees of
 * one object compete for its pending bit, the owner's as a remote one's
 * (heap_free_remote()): exactly one of two racing frees takes it, the
 * other sees it set and reports. Holding the bit, the owner clears the
 * allocation bit (only the owner writes that word), then lets the pending
 * bit go: a later free of the object from elsewhere sees it free.
 */
static inline bool slab_claim(struct slab *s, unsigned int w, uint64_t bit)
{
	uint64_t *alloc = &slab_alloc_map(s)[w], *pending = &slab_pending_map(s)[w];
	uint64_t a;

	if (__atomic_fetch_or(pending, bit, __ATOMIC_SEQ_CST) & bit)
		return false;
	HEAP_RACE(RACE_OWNER_CLAIMED,
		  slab_page(s) + ((size_t)(w * 64 + __builtin_ctzll(bit)) << s->shift));
	a = *alloc;
	if (likely(a & bit))
		__atomic_store_n(alloc, a & ~bit, __ATOMIC_RELAXED);
	__atomic_fetch_and(pending, ~bit, __ATOMIC_RELEASE);
	return a & bit;
}

/* The object at byte off of the page: 0 and *idx, or -1 if off starts none (or the page is empty). */
static inline int slab_index(const struct slab *s, uintptr_t off, unsigned int *idx)
{
	uintptr_t i = off >> s->shift;

	if (s->cls >= HEAP_NR_CLASSES || (i << s->shift) != off || i >= s->nr_objs)
		return -1;
	*idx = (unsigned int)i;
	return 0;
}

static inline void *slab_object(const struct slab *s, unsigned int idx)
{
	return slab_page(s) + ((size_t)idx << s->shift);
}

/* heap_hart.c: the per-hart heaps */
struct heap_class {
	struct slab *partial; /* pages with a free object; allocation takes from the first */
	struct slab *spare;   /* a page of partial kept when it emptied (it may be in use again) */
	uint64_t allocs, frees; /* objects in use: allocs - frees (queued frees count as in use) */
	uint64_t pages, remote_frees;
};

struct heap {
	/* the owner's alone */
	struct heap_class cls[HEAP_NR_CLASSES];
	uint64_t pages_from_buddy, pages_stolen, pages_reused;
	unsigned int id;
	/* frees from other harts: they push (a compare-and-swap), the owner takes the lot */
	void *remote __aligned(64);
	uint64_t drains; /* queues taken and freed, for those waiting on it */
	/* empty pages: the owner's classes take them first, then other harts steal them */
	tas_lock_t lock __aligned(64);
	struct slab *empty;
	uint64_t nr_empty, pages_to_buddy;
} __aligned(64);

extern struct heap heaps[MAX_HARTS];
extern unsigned int heap_nr_harts;

void heaps_reset(unsigned int nr_harts);
void *heap_alloc(struct heap *h, unsigned int cls);
void heap_free(struct heap *h, struct slab *s, unsigned int idx, void *p);
/* A free of object idx (p) of s, a page of another heap: queued for its owner. */
void heap_free_remote(struct slab *s, unsigned int idx, void *p);
void heap_drain_remote(struct heap *h);
bool heap_queued_object(const struct heap *h, const void *p, struct slab **s, unsigned int *idx);

/*
 * The running hart's heap, or NULL before the switch and on a hart without
 * one. The index goes through int: the RISC-V ABI returns it sign-extended
 * (see buddy_cache.c).
 */
static inline struct heap *this_heap(void)
{
	unsigned int i = (unsigned int)(int)this_hart_index();

	return likely(i < __atomic_load_n(&heap_nr_harts, __ATOMIC_ACQUIRE)) ? &heaps[i] : NULL;
}

static inline void partial_push(struct heap_class *k, struct slab *s)
{
	s->prev = NULL;
	s->next = k->partial;
	if (k->partial)
		k->partial->prev = s;
	k->partial = s;
}

/*
 * The fast paths: an object from the first partial page of a class, and an
 * owner's free that does not empty a page other than its class's spare
 * (a full page goes back on its partial list here). NULL / false: take the
 * slow path (heap_alloc(), heap_free()), which does everything.
 */
/* An object of s, the first page of k's partial list. */
static inline void *class_take(struct heap_class *k, struct slab *s)
{
	unsigned int idx = slab_take(s);

	if (unlikely(s->in_use == s->nr_objs)) { /* full: off the list until a free */
		k->partial = s->next;
		if (s->next)
			s->next->prev = NULL;
	}
	k->allocs++;
	return slab_object(s, idx);
}

static inline void *heap_alloc_fast(struct heap *h, unsigned int cls)
{
	struct heap_class *k = &h->cls[cls];
	struct slab *s = k->partial;

	if (unlikely(!s || __atomic_load_n(&h->remote, __ATOMIC_RELAXED)))
		return NULL;
	return class_take(k, s);
}

/* An owner's free of an object of word w of s, whose bits are cleared: the page's and class's counts. */
static inline void class_put(struct heap_class *k, struct slab *s, unsigned int w)
{
	if (w < s->hint)
		s->hint = (uint16_t)w;
	if (unlikely(s->in_use-- == s->nr_objs)) /* it was full: back on the list */
		partial_push(k, s);
	k->frees++;
}

static inline bool heap_free_fast(struct heap *h, struct slab *s, unsigned int idx)
{
	struct heap_class *k = &h->cls[s->cls];
	unsigned int w = idx / 64;

	if (unlikely(s->in_use == 1 && s != k->spare))
		return false; /* the page empties: it may have to leave its class */
	if (unlikely(!slab_claim(s, w, 1ULL << (idx % 64))))
		return false; /* a double free: the slow path says which */
	class_put(k, s, w);
	return true;
}

#endif
