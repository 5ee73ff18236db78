/* SPDX-License-Identifier: MIT */
#ifndef MM_FRAME_H
#define MM_FRAME_H

/*
 * Per-frame metadata: one struct frame for every 4 KiB frame of every RAM
 * bank, 16 bytes each (0.39 % of RAM), in one array per bank that the buddy
 * allocator takes from the boot allocator.
 *
 * Frames come in blocks of 2^order, naturally aligned in physical address.
 * Only a block's first frame, its head, says who owns the block (the tag),
 * how big it is (the order) and carries the owner's fields; every other frame
 * of the block is a FRAME_TAIL. So a block changes hands in O(1) whatever its
 * size, and the head of any frame is found by looking at the at most
 * BUDDY_MAX_ORDER + 1 aligned candidates below it (frame_head()).
 *
 * Every frame of a bank belongs to exactly one block, free or owned:
 * reserved RAM and the boot allocator's allocations are blocks too, tagged
 * FRAME_RESERVED and FRAME_EARLY. Holes between banks have no metadata.
 *
 * Later layers find the owner of any address through these tags: a slab heap
 * from FRAME_SLAB's heap id and size class, a large allocation from
 * FRAME_LARGE, and so on. The answer is exact for blocks the caller owns or
 * that cannot change under it; for others it is a snapshot.
 */

#include <mm/port.h>

enum frame_tag {
	FRAME_TAIL = 0, /* not a head: the head of the block holding it tells */
	FRAME_FREE,	/* head of a free block on a free list */
	FRAME_CACHED,	/* free frame in a hart's page cache, a block being freed or reported */
	FRAME_RESERVED, /* RAM never handed out: firmware, no-map, kernel image, DTB ... */
	/* owned: buddy_free() and buddy_free_range() take blocks with these tags */
	FRAME_EARLY,	 /* handed out by the boot allocator before the buddy took over */
	FRAME_ALLOCATED, /* from the buddy; no more specific owner said so yet */
	FRAME_PAGETABLE, /* a page-table page */
	FRAME_SLAB,	 /* slab pages: heap = the heap's id, aux = its class (heap_hart.h) */
	FRAME_LARGE,	 /* a large allocation (kmalloc beyond the slab classes) */
	FRAME_HEAP,	 /* memory a heap strategy carves itself: heap, aux say which and how */
	FRAME_TAG_USER,	 /* first tag callers may define for themselves, up to 255 */
};

#define FRAME_TAG_LAST 255
#define FRAME_HEAP_MAX 0xffff

struct frame {
	/*
	 * tag | order << 8 | heap << 16, one word so that a free can check and
	 * claim a block with one compare-and-swap: two harts freeing the same
	 * block cannot both succeed. First, because LR/SC and LDAXR/STLXR take
	 * no offset.
	 */
	uint32_t state;
	uint32_t aux; /* owned heads: FRAME_SLAB's class, or the owner's; free: see below */
	union {
		struct {
			uint32_t next, prev; /* FRAME_FREE heads: free list, as bank indices */
		};
		uint64_t priv;	/* owned heads: the owner's word, unused by the buddy */
	};
};

/*
 * A FRAME_FREE head's aux: a block of BUDDY_MAX_ORDER handed to the free
 * page reporter (buddy_set_reporter()) since it was last freed. Every
 * other free head has aux 0.
 */
#define FRAME_AUX_REPORTED 1u

/* The figure the docs and tests quote: metadata bytes per 4 KiB frame. */
#define FRAME_META_BYTES 16
_Static_assert(sizeof(struct frame) == FRAME_META_BYTES, "struct frame grew");

#define FRAME_ORDER_SHIFT 8
#define FRAME_HEAP_SHIFT 16

static inline uint32_t frame_state_make(unsigned int tag, unsigned int order, unsigned int heap)
{
	return tag | order << FRAME_ORDER_SHIFT | heap << FRAME_HEAP_SHIFT;
}

static inline unsigned int frame_state_tag(uint32_t s)
{
	return s & 0xff;
}

static inline unsigned int frame_state_order(uint32_t s)
{
	return (s >> FRAME_ORDER_SHIFT) & 0xff;
}

static inline unsigned int frame_state_heap(uint32_t s)
{
	return s >> FRAME_HEAP_SHIFT;
}

/*
 * state is shared with lock-free readers and claimers: always through these.
 * A store is a plain one the compiler may neither tear nor drop (Linux's
 * WRITE_ONCE): whoever stores owns the frame at that moment, and what others
 * must see in order goes through a lock or a compare-and-swap. (gcc 12 makes
 * even a relaxed __atomic store an AMO on riscv64.) Under ThreadSanitizer a
 * relaxed atomic store, which it can see: a volatile one racing with a
 * lock-free reader's load is a report.
 */
static inline uint32_t frame_load_state(const struct frame *f)
{
	return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE);
}

static inline void frame_store_state(struct frame *f, uint32_t s)
{
#ifdef __SANITIZE_THREAD__
	__atomic_store_n(&f->state, s, __ATOMIC_RELAXED);
#else
	*(volatile uint32_t *)&f->state = s;
#endif
}

static inline bool frame_tag_is_owned(unsigned int tag)
{
	return tag >= FRAME_EARLY;
}

/* What frame_owner() reports about the block holding an address. */
struct frame_owner {
	phys_addr_t head; /* the block's first byte */
	unsigned int order;
	unsigned int tag;  /* enum frame_tag or a caller's tag; never FRAME_TAIL */
	unsigned int heap; /* FRAME_SLAB: the heap's id; else the owner's */
	uint32_t aux;	   /* FRAME_SLAB: its class; FRAME_FREE: FRAME_AUX_REPORTED or 0;
			      else the owner's */
};

/* The metadata of the frame holding pa, or NULL outside every bank. */
struct frame *frame_of(phys_addr_t pa);

/* The physical address of the frame f describes (f from frame_of()). */
phys_addr_t frame_to_pa(const struct frame *f);

/* The first address of the block holding pa; -ENOENT outside every bank. */
int frame_head(phys_addr_t pa, phys_addr_t *head);

/* Who owns the block holding pa (any address inside it); -ENOENT outside every bank. */
int frame_owner(phys_addr_t pa, struct frame_owner *o);

/* The tag of the block holding pa, or -ENOENT outside every bank. */
int frame_tag(phys_addr_t pa);

/*
 * Re-tags a block the caller owns: head must be the first frame of an owned
 * block of exactly this order; tag is FRAME_ALLOCATED or above (a caller tag
 * up to FRAME_TAG_LAST), heap <= FRAME_HEAP_MAX. Anything else is a misuse
 * (reported through buddy_misuse()) and returns -EINVAL.
 */
int frame_set_owner(phys_addr_t head, unsigned int order, unsigned int tag, unsigned int heap,
		    uint32_t aux);

/* "free", "slab", ...; "user" for caller tags */
const char *frame_tag_name(unsigned int tag);

#endif
