/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_HART_INTERNAL_H
#define MM_HEAP_HART_INTERNAL_H

/* The per-hart slab heaps (mm/heap/hart/): what their files share. */

#include "../heap_harden.h"
#include "../heap_internal.h"
#include <mm/heap_hart.h>
#include <mm/tas_lock.h>

/*
 * A relaxed load or store of a word others may access at once, for the
 * fast paths: a volatile access, as Linux's READ_ONCE() and WRITE_ONCE(),
 * which the compiler may address with an offset (an atomic load it keeps
 * to a bare base register on arm64) and makes a plain store (an atomic
 * store is an amoswap on riscv64 with GCC 12); ThreadSanitizer sees
 * atomics.
 */
#ifdef __SANITIZE_THREAD__
#define HEAP_READ_ONCE(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define HEAP_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#else
#define HEAP_READ_ONCE(x)     (*(const volatile __typeof__(x) *)&(x))
#define HEAP_WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#endif

#define SLAB_ORDER 1	  /* 8 KiB: two frames */
#define SLAB_NO_CLASS 0xff /* trailer's class while the page is empty and in no class */
#define SLAB_MAGIC 0x51ab7a11u

/*
 * A slab page's trailer, the last bytes of the page:
 *
 *   [ objects ][ gap ][ canary ][ alloc bitmap ][ pending bitmap ][ struct slab ]
 *                        8 bytes   words * 8        words * 8          32 bytes
 *
 * The canary (slab_canary()) stands right before the bitmaps. In the
 * classes of 8, 968, 1992, 4040 and 8136 bytes the last object ends where
 * it starts, so an overflow past that object hits the canary first; in the others a
 * gap of 8 bytes or more comes first, and 8 bytes too many land there,
 * harmless. The page's bitmaps are not trusted without it: every
 * allocation from the page's bitmap and every misuse the owner's bitmaps
 * seem to show look at it first (slab_check()), so the overflow is
 * reported, naming the page's last object, where a corrupted bitmap would
 * hand an object out twice or report a free of a live one as a double
 * free. A page that empties and leaves its class is formatted again,
 * trailer and all, before it is used again, so what the overflow hit is
 * never trusted, and it is not reported; the class's spare is checked at
 * its next allocation. The fast paths, which work on the hart's cache,
 * never look.
 *
 * alloc has a bit set per allocated object (and for the bits past nr_objs,
 * so a scan never finds them); only the owning hart writes it, others read
 * it to check a free. pending is set by another hart's free that has
 * committed (heap_free_remote_at()), until the owner takes the free from
 * its queue: the drain and a page's release look at it, and it tells a
 * queued free's link from its user's data. Both are accessed atomically
 * (the owner's stores to alloc as HEAP_WRITE_ONCE(), plain and whole).
 * Which of two frees of an object goes on is decided in the object's first
 * word: the free tags below ("The hart's cache").
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
	uint8_t frame_cls;	  /* its last class, which its frame names (see HEAP_NO_CLASS) */
	uint8_t shift;		  /* object i is at i << shift (the one-object class: 0) */
	uint32_t magic;		  /* SLAB_MAGIC ^ the page's frame number: a trailer, of this page */
};
_Static_assert(sizeof(struct slab) == 32, "the trailer's fixed part grew");

/*
 * Each class's size and the log2 of its stride (heap_hart_slab.c): 8 << c
 * up to 512, then beside each power of two from 1024 up the shrunk class
 * that gives its page one object more (the last one ends where the
 * trailer starts), and the largest (stride 0: one object). A list, so
 * that what is sized by the classes (the caches' slots) is known when
 * compiling.
 */
// clang-format off
#define HEAP_CLASS_SHAPES(X) \
	X(8, 3) X(16, 4) X(32, 5) X(64, 6) X(128, 7) X(256, 8) X(512, 9) \
	X(HEAP_SLAB_1K_SIZE, 10) X(1024, 10) X(HEAP_SLAB_2K_SIZE, 11) X(2048, 11) \
	X(HEAP_SLAB_HALF_SIZE, 12) X(4096, 12) X(HEAP_SLAB_MAX_SIZE, 0)
// clang-format on
#define HEAP_CLASS_SHAPE_ONE(size, shift) +1
_Static_assert((0 HEAP_CLASS_SHAPES(HEAP_CLASS_SHAPE_ONE)) == HEAP_NR_CLASSES,
	       "a class shape for every class, no more");

/* A class's shape in a slab page. */
struct slab_geom {
	uint32_t size;
	uint16_t nr_objs;
	uint8_t words;
	uint8_t shift; /* log2 of the objects' stride; 0 for the last class (one object) */
};

extern struct slab_geom slab_geom[HEAP_NR_CLASSES];
extern uint8_t slab_class_of_8[HEAP_SLAB_MAX_SIZE / 8 + 1]; /* class of (size + 7) / 8 */

void slab_geom_init(void);

static inline size_t slab_class(size_t size)
{
	return slab_class_of_8[(size + 7) >> 3];
}

/*
 * The same for the sizes kmalloc()'s fast path serves, a byte a size: one
 * load, no rounding (4 KiB of table).
 */
#define HEAP_FAST_MAX_SIZE 4096
extern uint8_t slab_class_of_size[HEAP_FAST_MAX_SIZE + 1];

static inline size_t slab_class_fast(size_t size)
{
	return slab_class_of_size[size];
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

/* heap_hart_slab.c: one page */
void slab_format(struct slab *s, unsigned int heap, unsigned int cls);
bool slab_pending_empty(const struct slab *s);

/*
 * The per-object operations, inline: they are the fast paths. Others read
 * alloc while the owner writes it, hence HEAP_WRITE_ONCE() (a plain store
 * the compiler may not tear or merge); the owner's own reads need none.
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

	HEAP_WRITE_ONCE(alloc[w], a | 1ULL << b);
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
	RACE_OWNER_CHECKED, /* the owner has swapped its tag in (tier off: taken the pending bit) */
	RACE_REMOTE_READ,   /* a remote free has read the first word, not yet swapped it */
	RACE_REMOTE_CLAIMED,  /* ... and has swapped its mark in, no more */
	RACE_REMOTE_CHECKED,  /* ... and holds the pending bit, the allocation bit checked */
	RACE_REMOTE_RESERVED, /* ... and has reserved an inbox slot, not yet filled it */
	RACE_REMOTE_LINKED,   /* ... or, the inbox full, has linked it, not yet pushed it */
	RACE_DRAIN_CLEARED,   /* the drain or the flush cleared the allocation bit, no more */
	RACE_DRAIN_TAGGED, /* the drain wrote the tag of an object bound for the cache, no more */
	RACE_MID_OWNER_CHECKED, /* the owner found a mid object allocated, its tag not yet in */
	RACE_MID_OWNER_TAGGED,	/* the owner swapped a mid object's tag in, its bit not yet read */
	RACE_MID_REMOTE_SET, /* a free into a mid block set the object's bit, its word not read */
};
extern void (*heap_race_hook)(enum heap_race_point pt, const void *obj);
extern bool heap_race_no_inbox; /* set: remote frees take the stack of links, as if it were full */
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
 * The claim to free object (w, bit) of s in the tier without free tags
 * (HEAP_FREE_TAGS): false if the object is free already, or another hart's
 * free of it is queued or under way: a remote free takes the pending bit
 * too, once it has committed (heap_free_remote_at()), so of the two only
 * one gets it. Holding the bit, the owner clears the allocation bit (only
 * the owner writes that word), then lets the pending bit go.
 */
static inline bool slab_claim(struct slab *s, unsigned int w, uint64_t bit)
{
	uint64_t *alloc = &slab_alloc_map(s)[w], *pending = &slab_pending_map(s)[w];
	uint64_t a;

	if (__atomic_fetch_or(pending, bit, __ATOMIC_SEQ_CST) & bit)
		return false;
	HEAP_RACE(RACE_OWNER_CHECKED,
		  slab_page(s) + ((size_t)(w * 64 + __builtin_ctzll(bit)) << s->shift));
	a = *alloc;
	if (likely(a & bit))
		HEAP_WRITE_ONCE(*alloc, a & ~bit);
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

/* The frame state's tag and order: a slab page of whichever heap. */
#define FRAME_HEAP_LOW_MASK ((1u << FRAME_HEAP_SHIFT) - 1)

/* heap_hart.c: the per-hart heaps */
struct heap_class {
	/*
	 * The hart's cache of the class: a stack of free objects (a magazine,
	 * struct heap's mag[]), kept out of the objects, so that no write
	 * after free can poison it. top[-1] is the object freed last; the
	 * bottom slot holds NULL, so an empty cache is found by what it holds.
	 */
	void **top;
	void **full;	     /* the end: cache_full(top), !*top, is top == full */
	void **base;	     /* the slot above the bottom one: top == base, the cache is empty */
	uint32_t link_mask;  /* an object's address has these bits clear */
	uint16_t pending_at, alloc_at; /* offsets of the bitmaps in the class's pages */
	uint8_t shift;	     /* an object's index is its offset in the page >> shift */
	uint64_t objs_end;   /* an object starts below this offset in the page, << HEAP_OFF_SHIFT */
	struct slab *partial; /* pages with a free object; allocation takes from the first */
	uint64_t allocs;      /* objects handed out, CONFIG_HEAP_STATS (frees: heap_hart_stats()) */
} __aligned(64);
/* One cache line, as a slab page's frame names it (HEAP_SLAB_FRAME_AUX()); the rest is in struct
 * heap. */
_Static_assert(sizeof(struct heap_class) == HEAP_SLAB_FRAME_AUX(1),
	       "struct heap_class outgrew a cache line");

/*
 * A slab page's frame names its class (struct frame's aux, kept out of
 * the page so no write to the page can forge it). While the page is empty
 * it names the class it had (a free into it fails its claim, which finds
 * the object free) or, in the tier that does not claim objects,
 * HEAP_NO_CLASS, whose objs_end of 0 sends every free into it to the slow
 * path, which reports it.
 */
#define HEAP_NO_CLASS HEAP_NR_CLASSES

/*
 * Page blocks (heap_hart_pages.c): up to HART_PAGES_MAX frames; a hart
 * keeps up to HART_PAGES_SLOTS freed blocks of each length for its next
 * allocations of that length, HART_PAGES_CACHED frames in all
 * (CONFIG_HEAP_PAGE_BLOCKS_KB, 64 KiB by default: 16 frames, 4 a length).
 */
#define HART_PAGES_MAX 8 /* frames: up to 32 KiB */
#ifdef CONFIG_HEAP_PAGE_BLOCKS_KB
#define HART_PAGES_CACHED (CONFIG_HEAP_PAGE_BLOCKS_KB * 1024 / PAGE_SIZE)
#else
#define HART_PAGES_CACHED 16
#endif
#define HART_PAGES_SLOTS (HART_PAGES_CACHED / 4 > 4 ? HART_PAGES_CACHED / 4 : 4)

/* Mid blocks (heap_hart_mid.c): buddy blocks of this order, objects aligned so. */
#define HART_MID_ORDER 3
#define HART_MID_BLOCK (PAGE_SIZE << HART_MID_ORDER)
#define HART_MID_ALIGN 64
/* objects a class's cache holds: up to 66 KiB a hart, which may keep 12 blocks (384 KiB) */
#define HART_MID_CACHE 4

/* A mid class of a heap: its lock is taken by every free of one of its objects. */
struct hart_mid_class {
	tas_lock_t lock;
	struct mid_block *partial; /* blocks with a free object, the empty ones included */
	uint64_t objs, blocks;	   /* objects allocated; blocks held */
	uint64_t empty;		   /* blocks of it that are empty: at most one stays */
} __aligned(64);

/*
 * A class's cache holds up to HEAP_CACHE_BYTES of objects, at least 4 and
 * at most HEAP_CACHE_SLOTS (HEAP_CACHE_MAX()); its stack has a slot more,
 * the NULL at its bottom. The stacks lie side by side in struct heap's
 * mag[], HEAP_MAG_SLOTS in all and a NULL after them, so that the slot
 * just past a full stack is a NULL (the next one's bottom) and every slot
 * from the top of one not full up to there is not (heaps_reset() fills
 * them, and only objects are stored there after): the free's fast path
 * reads the slot at the top rather than the stack's end (cache_full()).
 */
#define HEAP_CACHE_SLOTS 64
#ifdef CONFIG_HEAP_CACHE_KB
#define HEAP_CACHE_BYTES (CONFIG_HEAP_CACHE_KB * 1024u)
#else
#define HEAP_CACHE_BYTES 32768u
#endif
#define HEAP_CACHE_MAX(size)	       MIN(MAX(HEAP_CACHE_BYTES / (size), 4u), (unsigned int)HEAP_CACHE_SLOTS)
#define HEAP_MAG_SLOTS_OF(size, shift) +HEAP_CACHE_MAX(size) + 1
#define HEAP_MAG_SLOTS		       (0 HEAP_CLASS_SHAPES(HEAP_MAG_SLOTS_OF))

struct heap {
	/* the owner's alone */
	struct heap_class cls[HEAP_NR_CLASSES + 1]; /* + HEAP_NO_CLASS */
	uint32_t frame_state;	  /* what the frame of a slab page of this heap says */
	uintptr_t tag_key;	  /* heap_tag_key, next to what the fast paths load */
	/*
	 * A bank's direct-map window (buddy_bank_window()): kfree()'s fast
	 * path finds the frame of a pointer in it with a shift and an add.
	 */
	uintptr_t win_lo, win_size, frame_bias;
	uint64_t pages_from_buddy, pages_stolen, pages_reused;
	uint64_t cls_pages[HEAP_NR_CLASSES], cls_remote_frees[HEAP_NR_CLASSES];
	/* objects of the class's pages allocated: handed out, cached or their free queued */
	uint64_t cls_objs[HEAP_NR_CLASSES];
	struct slab *spare[HEAP_NR_CLASSES]; /* a page of the class kept when it emptied */
	unsigned int id;
	/*
	 * Frees from other harts: into the inbox, a ring of the objects
	 * (in_slot[], at the end); the inbox full, pushed on remote (a
	 * compare-and-swap, each object's link in its first word). The owner
	 * takes both (heap_hart.c's drain()).
	 */
	void *remote __aligned(64);
	unsigned long in_tail; /* the inbox's slots other harts reserved */
	unsigned long in_head; /* the slots the owner took: NULL again below it */
	uint64_t drains;       /* queues taken and freed, for those waiting on it */
	/* empty pages: the owner's classes take them first, then other harts steal them */
	tas_lock_t lock __aligned(64);
	struct slab *empty;
	uint64_t nr_empty, pages_to_buddy;
	/*
	 * The owner's: slab_class_of_size[], the heap's own copy, so that
	 * kmalloc()'s fast path reads its size's class at an offset from the
	 * heap it loaded anyway rather than first address a table (two
	 * instructions on riscv64, one on arm64). It starts within a load's
	 * immediate (riscv64: 2 KiB) of the heap: every field above has a
	 * size no Kconfig option changes.
	 */
	uint8_t class_of_size[HEAP_FAST_MAX_SIZE + 1] __aligned(64);
	/* page blocks freed here, by length in frames, kept for the next (heap_hart_pages.c) */
	void *blocks[HART_PAGES_MAX + 1][HART_PAGES_SLOTS];
	uint8_t nr_blocks[HART_PAGES_MAX + 1];
	unsigned int block_frames; /* their frames in all, at most HART_PAGES_CACHED */
	/* the owner's: the classes' caches, each NULL at its bottom, class 0's first */
	void *mag[HEAP_MAG_SLOTS + 1] __aligned(64);
	/* the mid blocks' classes: taken by every hart that frees one of their objects */
	struct hart_mid_class mid[HEAP_MID_CLASSES];
	/* the owner's: mid objects it freed, for its next allocations */
	void *mid_cache[HEAP_MID_CLASSES][HART_MID_CACHE];
	uint8_t mid_nr[HEAP_MID_CLASSES];
	/*
	 * The inbox's ring (HEAP_INBOX_SLOTS): each slot an object or NULL
	 * (free, or reserved and not yet filled). The owner takes it in order,
	 * the objects named out of their own reach, so that it walks no chain
	 * of links in objects other harts wrote last (a cache miss each, which
	 * the next could not overlap).
	 */
	void *in_slot[HEAP_INBOX_SLOTS] __aligned(64);
} __aligned(64);

/*
 * Whether h has frees from other harts to take: in its inbox (a slot
 * reserved counts, filled or not) or on its stack.
 */
static inline bool heap_has_queue(const struct heap *h)
{
	return __atomic_load_n(&h->remote, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&h->in_tail, __ATOMIC_RELAXED) !=
		   __atomic_load_n(&h->in_head, __ATOMIC_RELAXED);
}

_Static_assert(offsetof(struct heap, class_of_size) < 2048,
	       "kmalloc()'s table is out of a riscv64 load's reach from the heap");

/* The class of an object of size bytes, at most HEAP_FAST_MAX_SIZE, in h (slab_class_fast()). */
static inline size_t heap_class_fast(const struct heap *h, size_t size)
{
	return h->class_of_size[size];
}

/* The frame of the head of a's slab page, a inside h's window (heap_set_window()). */
static inline const struct frame *heap_window_frame(const struct heap *h, uintptr_t a)
{
	return (const struct frame *)(h->frame_bias + (a >> 13 << 5));
}

/* The frame of a's own page, a inside h's window. */
static inline struct frame *heap_window_page_frame(const struct heap *h, uintptr_t a)
{
	return (struct frame *)(h->frame_bias + (a >> PAGE_SHIFT << 4));
}

/*
 * heap_hart_pages.c: the frame of p's page, through h's window if p is in
 * it (no search of the banks), else the buddy's lookup (NULL: no RAM); h
 * may be NULL.
 */
struct frame *heap_page_frame(const struct heap *h, const void *p);

/*
 * The class a slab page's frame f names, in h's table (every heap's has
 * the same shape): read from the frame, out of the page's reach. The
 * offset is taken as a signed word, which riscv64's load extends for free
 * (it is small: either extension gives the same).
 */
static inline struct heap_class *heap_frame_class(const struct heap *h, const struct frame *f)
{
	return (struct heap_class *)((uintptr_t)h->cls + (intptr_t)(int32_t)HEAP_READ_ONCE(f->aux));
}

/*
 * Whether a starts an object in a page of class k: aligned to the class,
 * and below its end. The offset in the page is compared in the top bits
 * of the address (objs_end is kept shifted so), a shift for a mask.
 */
#define HEAP_OFF_SHIFT (64 - 13)
_Static_assert(HEAP_SLAB_SIZE == 1 << 13, "HEAP_OFF_SHIFT");

static inline bool heap_starts_object(const struct heap_class *k, uintptr_t a)
{
	return !(a & k->link_mask) && (uint64_t)a << HEAP_OFF_SHIFT < k->objs_end;
}

bool heap_queued_object_far(const struct heap *h, const void *p, struct slab **s,
			    unsigned int *idx);

/*
 * Whether p, read from a queued object's link, is an object of h's pages
 * whose free is queued (allocated, pending), and its page and index: a
 * write after free over a queued object's first word must be reported,
 * never followed. Once per object the drain takes: inline in h's window,
 * where the frame, out of the page's reach, gives owner and class.
 */
static inline bool heap_queued_object(const struct heap *h, const void *p, struct slab **s,
				      unsigned int *idx)
{
	uintptr_t a = (uintptr_t)p, off = a & (HEAP_SLAB_SIZE - 1);
	const struct heap_class *k;
	const struct frame *f;

	if (a - h->win_lo >= h->win_size)
		return heap_queued_object_far(h, p, s, idx);
	f = heap_window_frame(h, a); /* as free_fast() finds it */
	if (__atomic_load_n(&f->state, __ATOMIC_RELAXED) != h->frame_state)
		return false;
	k = heap_frame_class(h, f);
	if (!heap_starts_object(k, a))
		return false;
	*s = slab_of_page((void *)(a - off));
	*idx = (unsigned int)(off >> k->shift);
	return (*s)->cls == k - h->cls && slab_bit(slab_pending_map(*s), *idx) &&
	       slab_bit(slab_alloc_map(*s), *idx);
}

extern struct heap *heaps; /* heap_nr_harts of them */
extern unsigned int heap_nr_harts;

int heaps_reset(unsigned int nr_harts); /* 0, -ENOMEM or -EINVAL */
void *heap_alloc(struct heap *h, unsigned int cls);
void heap_free(struct heap *h, struct slab *s, unsigned int idx, void *p);
/* A free of object idx (p) of s, a page of another heap: queued for its owner. */
void heap_free_remote(struct slab *s, unsigned int idx, void *p);
/* The same for object idx of the page at page of class k (its shape) of heap owner's. */
void heap_free_remote_at(unsigned int owner, uintptr_t page, const struct heap_class *k,
			 unsigned int idx, void *p);
void heap_drain_remote(struct heap *h);

/*
 * The running hart's heap, or NULL before the switch and on a hart without
 * one: the hart's own word for mm/ (kernel/hart.h), which heaps_reset()
 * sets for every hart. It is loaded relaxed: what the switch set up before
 * it stored the pointer (release) is read through the pointer, an address
 * dependency, which both architectures keep in order (Linux's READ_ONCE of
 * a published pointer); ThreadSanitizer does not know that.
 */
static inline struct heap *this_heap(void)
{
#ifdef __SANITIZE_THREAD__
	return __atomic_load_n(this_hart_mm_slot(), __ATOMIC_ACQUIRE);
#else
	return HEAP_READ_ONCE(*this_hart_mm_slot());
#endif
}

static inline void partial_push(struct heap_class *k, struct slab *s)
{
	s->prev = NULL;
	s->next = k->partial;
	if (k->partial)
		k->partial->prev = s;
	k->partial = s;
}

/* An object of s, the first page of k's partial list. */
static inline void *class_take(struct heap_class *k, struct slab *s)
{
	unsigned int idx = slab_take(s);

	if (unlikely(s->in_use == s->nr_objs)) { /* full: off the list until a free */
		k->partial = s->next;
		if (s->next)
			s->next->prev = NULL;
	}
	return slab_object(s, idx);
}

/* An owner's free of an object of word w of s, whose bits are cleared: the page's counts. */
static inline void class_put(struct heap_class *k, struct slab *s, unsigned int w)
{
	if (w < s->hint)
		s->hint = (uint16_t)w;
	if (unlikely(s->in_use-- == s->nr_objs)) /* it was full: back on the list */
		partial_push(k, s);
}

/*
 * The hart's cache, the fast paths. A class's free objects wait on a stack
 * of its own before they go back to their pages, so that an allocation
 * and a free of the hart's own objects touch one stack slot, its top and
 * the object's first word. To its page a cached object is allocated.
 *
 * The stack lies outside the objects: a write after free over a cached
 * object changes nothing the heap follows.
 *
 * Free tags (the default and debug tiers): every object of a slab page
 * that is not its user's (cached, or free in its page) holds in its first
 * word its free tag, its address xor heap_tag_key; an allocation sets the
 * word to 0. The owner's free swaps the tag into the word (an atomic
 * exchange: one instruction, amoswap on riscv64), and what it took out
 * says whether the free goes on:
 *
 *   - the tag: the object is free already, a double free;
 *   - another hart's free of it, committed (its mark, heap_mark()) or
 *     queued (a link, heap_link(), whose pending bit is set; both decode,
 *     as the tag does, to a number below 2^HEAP_LINK_BITS): a double free
 *     too, and the mark or link goes back, a compare-and-swap from the tag
 *     (which fails, leaving the word be, if that free has written its link
 *     since); but for an object free in its page, whose remote free puts
 *     the tag back itself: there the tag stays;
 *   - anything else: the user's data, the free goes on (data that decodes
 *     below 2^HEAP_LINK_BITS by chance, 1 in 2^10 of random words, goes
 *     the slow way, which checks the bitmaps and the cache and lets it on).
 *
 * A refused free's tag is in the word for a moment: only another free or
 * a ksize() of the object can see it (the queue is the owner's to take),
 * misuses either way, reported.
 *
 * A remote free (heap_free_remote_at()) reads the word and refuses the
 * tag, a mark, or a link whose pending bit is set; otherwise it swaps in
 * its mark with a compare-and-swap from what it read, and with that it
 * has committed: it takes the pending bit (which the drain and the page's
 * release look at), checks the allocation bit and puts the object in the
 * owner's inbox, its mark left in the word until the owner takes it (or,
 * the inbox full, writes its link over its mark and pushes the object on
 * the owner's stack). Every free commits by its swap on the one
 * word and decides on what that swap took out (a compare-and-swap that
 * fails reads the word again): of two racing frees, the second to swap
 * finds the first one's tag or mark, so exactly one goes on and the other
 * is reported. A free commits at its swap and not before: a remote one
 * that had only read the word while the owner freed the object and
 * allocated it again (the word back to what it read, 0 say) frees the new
 * allocation, a stale free, as in any heap without a quarantine.
 *
 * A write after free over a queued free's mark or link is reported when
 * the owner takes the queue; the object is not freed then (lost, never
 * handed out twice, even if a double free the write let through cached
 * it). A write after free over a free object's tag leaves the heap's bitmaps
 * and stack intact; a double free that follows it is caught only if it is
 * of the object freed last (the naive check, as SLUB's); otherwise it goes
 * unseen, which the debug tier catches.
 *
 * The tier "off" keeps no tags: a cached object is simply allocated to its
 * page, and only a free of the object freed last (the top of the stack)
 * is caught as a double free.
 */
#define HEAP_FREE_TAGS (HEAP_HARDEN >= HEAP_HARDEN_DEFAULT)

/* Set at the heaps' reset: a stray write is unlikely to forge a tag or a link. */
extern uintptr_t heap_tag_key;

/* The canary, the word before the bitmaps, and what it holds: the heaps' key and its address. */
static inline uint64_t *slab_canary(const struct slab *s)
{
	return slab_alloc_map(s) - 1;
}

static inline uint64_t slab_canary_value(const uint64_t *canary)
{
	return ~(heap_tag_key ^ (uintptr_t)canary);
}

bool slab_check_slow(struct slab *s, unsigned int cls);
void slab_report(struct slab *s, const char *what, const void *p);

/*
 * Whether s's trailer is whole as a page of class cls, which the caller
 * knows from elsewhere than the trailer (else reported, naming the page's
 * last object).
 */
static inline bool slab_check(struct slab *s, unsigned int cls)
{
	const uint64_t *canary = (const uint64_t *)s - 2 * slab_geom[cls].words - 1;

	return likely(*canary == slab_canary_value(canary) && s->cls == cls) ||
	       slab_check_slow(s, cls);
}

/* A free tag or a queued free's link, decoded, is below 2^HEAP_LINK_BITS. */
#define HEAP_LINK_BITS 54

static inline uintptr_t free_tag(uintptr_t key, const void *p)
{
	return (uintptr_t)p ^ key;
}

/*
 * The first word of p, queued with next after it (NULL: last), xor p's
 * free tag: next's address in 8-byte units, its bits from 57 up dropped
 * (on every MMU we know, copies of bit 56: heap_link_next() puts them
 * back). 2 ends the queue, 1 is a remote free's mark (heap_mark()), 0 the
 * tag itself; an object is never below 24.
 */
static inline uintptr_t heap_link(const void *p, const void *next)
{
	uintptr_t n = next ? ((uintptr_t)next & ((1ULL << 57) - 1)) >> 3 : 2;

	return n ^ free_tag(heap_tag_key, p);
}

/* A remote free's mark in p's first word, from its commit to its link (in the inbox: until taken).
 */
static inline uintptr_t heap_mark(const void *p)
{
	return 1 ^ free_tag(heap_tag_key, p);
}

/* The object the link n (a first word xor the tag) names, n >= 3 and below 2^HEAP_LINK_BITS. */
static inline void *heap_link_next(uintptr_t n)
{
	return (void *)(uintptr_t)((intptr_t)(n << 10) >> 7);
}

/* How many objects k's cache holds. */
static inline unsigned int cache_count(const struct heap_class *k)
{
	return (unsigned int)(k->top - k->base);
}

/*
 * Whether the cache whose top is top is full (top == its class's full):
 * the slot there is NULL only then (mag[]), a load and a test against 0
 * where comparing with full loads full too (arm64: one instruction fewer).
 */
static inline bool cache_full(void *const *top)
{
	return !*top;
}

/* Whether the classes count their allocations (heap_hart_stats()'s allocs and frees). */
#ifdef CONFIG_HEAP_STATS
#define HEAP_COUNT_ALLOCS 1
#else
#define HEAP_COUNT_ALLOCS 0
#endif

/* The fast path's: the object k's cache got last, now allocated, or NULL (none). */
static inline void *cache_take(struct heap_class *k)
{
	void **t = k->top, *p = t[-1];

	if (unlikely(!p))
		return NULL;
	k->top = t - 1;
	if (HEAP_COUNT_ALLOCS)
		k->allocs++;
	if (HEAP_FREE_TAGS)
		*(uintptr_t *)p = 0; /* its tag: its user's free must not find one */
	return p;
}

/* p onto k's cache, which has room. */
static inline void cache_push(struct heap_class *k, void *p)
{
	*k->top++ = p;
}

/* heap_hart.c: old, swapped out for the tag, is a tag, a mark or a link; false: reported */
bool tag_claim_slow(struct heap *h, struct heap_class *k, void *p, uintptr_t old);
/*
 * ... and then p onto k's cache, if it goes on (p first, as in
 * heap_free_own(): kfree()'s fast path has it in that register already)
 */
void tag_cache_slow(void *p, struct heap *h, struct heap_class *k, uintptr_t old);
/* the object freed last freed again: reported (its tag may have been written over) */
void tag_cache_again(void *p);

/*
 * A relaxed atomic exchange, and a barrier to the compiler. On riscv64
 * GCC's own ties the new value's register to the result's, which costs a
 * move wherever the value is used again (tag_swap() checks against it):
 * amoswap takes them apart.
 */
static inline uintptr_t heap_swap_relaxed(uintptr_t *p, uintptr_t v)
{
#if defined(__riscv) && __riscv_xlen == 64 && !defined(__SANITIZE_THREAD__)
	uintptr_t old;

	__asm__ volatile("amoswap.d %0, %2, %1" : "=&r"(old), "+A"(*p) : "r"(v) : "memory");
	return old;
#else
	return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
#endif
}

/*
 * The owner's claim's common case: p's tag swapped into its first word
 * (*old: what that held), which was its user's data (nothing that decodes
 * below 2^HEAP_LINK_BITS). false otherwise, the tag in the word all the
 * same: tag_claim_slow() decides on *old and puts back a free's mark or
 * link; tag_unswap() puts back whatever it was. Relaxed: tag_claim_slow()
 * fences before it reads a link's pending bit.
 */
static inline bool tag_swap(const struct heap *h, void *p, uintptr_t *old)
{
	uintptr_t tag = free_tag(h->tag_key, p); /* kept: the swap is a barrier to the compiler */

	*old = heap_swap_relaxed((uintptr_t *)p, tag);
	HEAP_RACE(RACE_OWNER_CHECKED, p);
	return likely((*old ^ tag) >> HEAP_LINK_BITS);
}

/* old, which tag_swap() took out of p's first word, back in; unless the tag was written over. */
static inline void tag_unswap(const struct heap *h, void *p, uintptr_t old)
{
	uintptr_t tag = free_tag(h->tag_key, p);

	__atomic_compare_exchange_n((uintptr_t *)p, &tag, old, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

/*
 * The owner's claim to free p, an object of one of its pages of class k
 * (checked: p starts an object), with free tags: its tag swapped into its
 * first word, and what that held decided on. false: a double free, reported.
 */
static inline bool tag_claim(struct heap *h, struct heap_class *k, void *p)
{
	uintptr_t old;

	return tag_swap(h, p, &old) || tag_claim_slow(h, k, p, old);
}

/*
 * The same, then p onto k's cache (room in it), for kfree()'s fast path:
 * first the naive check (the object freed last, whose tag a write after
 * free may have taken); the slow way is a tail call.
 */
static inline void tag_cache(struct heap *h, struct heap_class *k, void *p)
{
	void **top = k->top; /* held across the swap, which the compiler takes for a barrier */
	uintptr_t old;

	if (unlikely(p == top[-1])) {
		tag_cache_again(p);
		return;
	}
	if (tag_swap(h, p, &old)) {
		*top = p;
		k->top = top + 1;
	} else {
		tag_cache_slow(p, h, k, old);
	}
}

/*
 * The fast paths' common cases, for a port to inline into its own entry
 * (libmemcore's malloc() and free(), which know the hart's heap already):
 * each does what kmalloc()/kfree() would, or nothing at all, and then the
 * caller calls kmalloc()/kfree(), which take every other case and report
 * every misuse. h: the running hart's heap (this_heap(), not NULL).
 *
 * heap_kmalloc_cached(): an object of size's class from h's cache, size at
 * most HEAP_FAST_MAX_SIZE; NULL if the cache is empty.
 * heap_kmalloc_cached_class(): the same for class cls, which the caller's
 * own table of sizes gave (made from slab_class_fast()).
 */
static inline void *heap_kmalloc_cached_class(struct heap *h, unsigned int cls)
{
	return cache_take(&h->cls[cls]);
}

static inline void *heap_kmalloc_cached(struct heap *h, size_t size)
{
	return heap_kmalloc_cached_class(h, (unsigned int)heap_class_fast(h, size));
}

/*
 * kfree()'s way for a, in h's window on frame f, not h's: queued for its
 * owner if it is another hart's object (a double free reported); false,
 * with nothing done, if not (heap_hart_kmalloc.c).
 */
bool heap_free_remote_window(struct heap *h, uintptr_t a, const struct frame *f);

/*
 * heap_kfree_cached(): p, an object of one of h's own slab pages in its
 * window that its user holds, into its class's cache with room (true).
 * false, with the object as it was, for anything else (the cache full, a
 * double free, something not an object: a word swapped is put back);
 * *other is then p's frame if p is in h's window but not in one of h's
 * pages: heap_free_remote_window() is the way if it is another hart's
 * object (kfree() if not), else NULL.
 */
static inline bool heap_kfree_cached(struct heap *h, void *p, const struct frame **other)
{
	uintptr_t a = (uintptr_t)p, old;
	const struct frame *f;
	struct heap_class *k;
	void **top;

	*other = NULL;
	if (a - h->win_lo >= h->win_size)
		return false;
	f = heap_window_frame(h, a);
	if (__atomic_load_n(&f->state, __ATOMIC_RELAXED) != h->frame_state) {
		*other = f;
		return false;
	}
	k = heap_frame_class(h, f);
	top = k->top;
	if (!heap_starts_object(k, a) || cache_full(top) || p == top[-1])
		return false;
	if (HEAP_FREE_TAGS && !tag_swap(h, p, &old)) {
		tag_unswap(h, p, old); /* kfree() decides */
		return false;
	}
	*top = p;
	k->top = top + 1;
	return true;
}

/* heap_hart_pages.c: allocations beyond the slab classes, as buddy blocks */
void *hart_pages_alloc(size_t size, size_t align); /* NULL: none for it, or no block */
enum hart_pages_kind {
	HART_PAGES_NONE,   /* not in a page block */
	HART_PAGES_HEAD,   /* its first byte, allocated */
	HART_PAGES_INSIDE, /* a byte after its first */
	HART_PAGES_FREED,  /* its first byte, freed (in a hart's cache of blocks) */
};
enum hart_pages_kind hart_pages_of(const void *p, unsigned int *pages);
void hart_pages_free(void *p);	       /* p: a block's first byte (HART_PAGES_HEAD) */
/* The same for p in h's window, its page's frame f: false, nothing done, if it starts no block */
bool hart_pages_free_at(struct heap *h, void *p, struct frame *f);
void hart_pages_flush(struct heap *h); /* h's cached blocks back to the buddy */
bool hart_pages_fit(size_t size, unsigned int pages);

/* heap_hart_mid.c: objects of 4097 to HEAP_MID_MAX_SIZE bytes, several to a block */
void *hart_mid_alloc(size_t size, size_t align); /* NULL: not a mid size, or no block */
bool hart_mid_free(void *p); /* false: p is in no mid block; true: freed or reported */
bool hart_mid_size(const void *p, size_t *size); /* the same; *size 0 if reported */
bool hart_mid_fit(size_t old, size_t size);	 /* whether a mid object of ksize old takes size */
void hart_mid_flush(struct heap *h);		 /* h's empty mid blocks back to the buddy */
void hart_mid_cache_flush(struct heap *h);	 /* the running hart's cached mid objects too */
void hart_mid_stats(struct heap *h, struct heap_mid_stats *s);

/* heap_hart.c: the cache's slow paths */
void cache_flush(struct heap *h, struct heap_class *k, unsigned int n);
void *cache_refill(struct heap *h, unsigned int cls);
void heap_free_own(void *p, struct heap *h, struct slab *s, unsigned int idx);

#endif
