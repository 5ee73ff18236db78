// SPDX-License-Identifier: MIT
/*
 * The debug hardening tier (HEAP_HARDEN_DEBUG, mm/heap/heap_harden.h): one
 * layer above whichever strategy is linked in and the early heap, as
 * Linux's slab_debug=FZPU is above SLUB. kmalloc.c sends every call here
 * in that tier, and nowhere else; this file asks kmalloc.c's *_inner
 * functions (what kmalloc() is in the other tiers) for the memory.
 *
 * An object, inside a block of the heap below:
 *
 *   [ pad | header (48) | redzone (16) ][ object: size bytes ][ redzone (16..31) ]
 *   ^ block                             ^ p, aligned as kmalloc() promises
 *
 * An object aligned beyond a page would waste its alignment in front of
 * it: it is a large allocation of its own instead, with the object at its
 * start (the guard in front of every mapping is its front redzone), the
 * header in the last 48 bytes of its last page and redzone in between:
 *
 *   [ object: size bytes ][ redzone (16 bytes up to the header) | header (48) ]
 *   ^ p, the mapping's start
 *
 * The header says how big the object is (ksize() is exactly that, so
 * p[ksize(p)] is in the redzone behind), where the block starts, whether
 * the object is live, in the quarantine or freed, and the call sites that
 * allocated and freed it; a check word over its address, size and offset
 * tells a header of ours from whatever else lies before a pointer.
 *
 * kfree(): the redzones are checked (a write past either end is reported
 * with the object, its size and how many bytes were hit), the object is
 * poisoned and joins the quarantine, a FIFO bounded in bytes
 * (HEAP_QUARANTINE_BYTES); a free of an object in the quarantine (a
 * double free, or a stale pointer's free after the memory would have been
 * reused) is reported with both call sites. An object leaves the
 * quarantine when newer ones push it out, or at heap_quarantine_flush();
 * then its poison and redzones are checked (a write after free is
 * reported), and its block goes back to the heap below. Objects larger
 * than the quarantine are checked and freed at once, unpoisoned.
 *
 * A pointer that does not have one of our headers in front (a foreign
 * one, the middle of an object, one of a block long gone) goes to the heap
 * below unchanged, which reports it as it always did. Before a header is
 * read, its memory is known to be there: RAM (the direct map, the early
 * heap) or the first page of a live large allocation.
 *
 * Every report is one heap_misuse() call, with the object's address and a
 * message that holds the rest. Harts: the states and the quarantine
 * change under one lock, never held across a call to the heap below or a
 * report.
 */
#include <mm/heap_hart.h>
#include <mm/kmalloc.h>
#include <mm/port.h>
#include <string.h>

#include "heap_internal.h"

const char *heap_hardening(void)
{
	return HEAP_HARDEN_NAME;
}

#if HEAP_HARDEN != HEAP_HARDEN_DEBUG

void heap_quarantine_flush(void)
{
}

void debug_reset(void)
{
}

/* Never called in these tiers (HEAP_HARDEN is a constant); here for builds without optimisation. */
void *debug_alloc(size_t size, size_t align, const void *caller)
{
	(void)caller;
	return kmalloc_inner(size, align);
}

void debug_free(void *p, const void *caller)
{
	(void)caller;
	kfree_inner(p);
}

size_t debug_size(const void *p)
{
	return ksize_inner(p);
}

void *debug_realloc(void *p, size_t size, const void *caller)
{
	return krealloc_caller(p, size, caller);
}

void debug_quarantined(uint64_t *blocks, uint64_t *bytes)
{
	*blocks = *bytes = 0;
}

#else

#define DBG_RZ	    16 /* the redzone in front; the one behind is 16 .. 31 bytes */
#define DBG_META    64 /* header and front redzone: p - DBG_META is the header */
#define RZ_BYTE	    0xfb
#define POISON_BYTE 0x6b

#define ST_LIVE	       0x11fe0b1eu
#define ST_QUARANTINED 0x9aa7a1edu
#define ST_FREED       0xf7eedf7eu

struct dbg_hdr {
	struct dbg_hdr *next; /* in the quarantine */
	const void *alloc_site, *free_site;
	size_t size; /* asked for (0 counts as 1) */
	size_t pre;  /* from the block's start to the object; TRAILER | from the object to here */
	uint32_t state;
	uint32_t check; /* of the header's place, size, pre, and next while in the quarantine */
};
_Static_assert(sizeof(struct dbg_hdr) + DBG_RZ == DBG_META, "header + redzone before p");

static spinlock_t lock = SPINLOCK_INIT;
static struct {
	struct dbg_hdr *head, *tail; /* oldest first */
	uint64_t bytes, blocks;	     /* what the quarantine holds (its blocks' requests) */
} q;

#define TRAILER ((size_t)1 << (8 * sizeof(size_t) - 1)) /* pre: the header is behind */

static inline size_t rear(size_t size)
{
	return ALIGN_UP(size, (size_t)16) - size + 16;
}

static inline uint8_t *obj(const struct dbg_hdr *h)
{
	return h->pre & TRAILER ? (uint8_t *)h - (h->pre & ~TRAILER) : (uint8_t *)h + DBG_META;
}

/* The block of the heap below that holds the object. */
static inline uint8_t *block_of(const struct dbg_hdr *h)
{
	return h->pre & TRAILER ? obj(h) : obj(h) - h->pre;
}

static inline size_t front_len(const struct dbg_hdr *h)
{
	return h->pre & TRAILER ? 0 : DBG_RZ;
}

static inline size_t rear_len(const struct dbg_hdr *h)
{
	return h->pre & TRAILER ? (h->pre & ~TRAILER) - h->size : rear(h->size);
}

static inline size_t block_bytes(const struct dbg_hdr *h)
{
	return h->pre & TRAILER ? (h->pre & ~TRAILER) + sizeof(*h)
				: h->pre + h->size + rear(h->size);
}

/*
 * The link counts only in the quarantine, where it is followed: once
 * freed, the heap below may write over it (the block's first word) and the
 * header must still say whose it was.
 */
static uint32_t check_of(const struct dbg_hdr *h)
{
	uintptr_t next =
	    __atomic_load_n(&h->state, __ATOMIC_RELAXED) == ST_QUARANTINED ? (uintptr_t)h->next : 0;
	uint64_t x = ((uintptr_t)h ^ h->size * 0x9e3779b97f4a7c15ULL ^ h->pre << 17 ^
		      next * 0xc2b2ae3d27d4eb4fULL) *
		     0xff51afd7ed558ccdULL;

	return (uint32_t)(x >> 32) ^ 0x5afe4ea9u;
}

/* ---- reports ---------------------------------------------------------------------- */

/* Whether all n bytes at b are want: word by word (the poison of large objects). */
static bool all_are(const uint8_t *b, size_t n, uint8_t want)
{
	const uint64_t w = want * 0x0101010101010101ULL;
	size_t i = 0;

	for (; i < n && !IS_ALIGNED((uintptr_t)(b + i), 8); i++)
		if (b[i] != want)
			return false;
	for (; i + 8 <= n; i += 8)
		if (*(const uint64_t *)(b + i) != w)
			return false;
	for (; i < n; i++)
		if (b[i] != want)
			return false;
	return true;
}

/* How many of n bytes at b are not want; *first the offset of the first. */
static size_t count_hit(const uint8_t *b, size_t n, uint8_t want, size_t *first)
{
	size_t hit = 0;

	if (all_are(b, n, want))
		return 0;
	for (size_t i = n; i-- > 0;) {
		if (b[i] != want) {
			hit++;
			*first = i;
		}
	}
	return hit;
}

/* Both redzones of an object we own; damage reported (when) and repaired: one report. */
static void check_redzones(struct dbg_hdr *h, const char *when, const void *caller)
{
	uint8_t *p = obj(h);
	size_t front_at = 0, back_at = 0;
	size_t front = count_hit(p - front_len(h), front_len(h), RZ_BYTE, &front_at);
	size_t back = count_hit(p + h->size, rear_len(h), RZ_BYTE, &back_at);

	if (!front && !back)
		return;
	memset(p - front_len(h), RZ_BYTE, front_len(h));
	memset(p + h->size, RZ_BYTE, rear_len(h));
	if (front && back)
		heap_misusef(
		    p,
		    "redzones before and after object %p (size %zu) overwritten, %s: %zu bytes hit "
		    "before it from -%zu, %zu after it from +%zu; allocated at %p, freed at %p",
		    p, h->size, when, front, (size_t)DBG_RZ - front_at, back, h->size + back_at,
		    h->alloc_site, caller);
	else if (front)
		heap_misusef(
		    p,
		    "redzone before object %p (size %zu) overwritten, %s: %zu byte(s) hit from "
		    "-%zu; "
		    "allocated at %p, freed at %p",
		    p, h->size, when, front, (size_t)DBG_RZ - front_at, h->alloc_site, caller);
	else
		heap_misusef(
		    p,
		    "redzone after object %p (size %zu) overwritten, %s: %zu byte(s) hit from +%zu "
		    "(an overflow); allocated at %p, freed at %p",
		    p, h->size, when, back, h->size + back_at, h->alloc_site, caller);
}

/* ---- finding a header --------------------------------------------------------------- */

/* Whether the byte at a can be read: RAM (early heap, direct map), not a no-map reservation. */
static bool ram_at(uintptr_t a)
{
	struct frame_owner o;

	if (early_contains((const void *)a))
		return true;
	return frame_owner(virt_to_phys((const void *)a), &o) == 0 && o.tag != FRAME_RESERVED;
}

static bool valid(const struct dbg_hdr *h, const void *p)
{
	uint32_t st = __atomic_load_n(&h->state, __ATOMIC_RELAXED);

	return h->check == check_of(h) && obj(h) == p &&
	       (st == ST_LIVE || st == ST_QUARANTINED || st == ST_FREED);
}

/*
 * The header of p in the large window, if p is where one of our objects
 * would be in a live large allocation: the allocation starts on the page
 * p is on (the header in front, at offset 64, or an alignment below a
 * page), a page before it (aligned to a page), or at p (the header behind).
 */
static struct dbg_hdr *large_header(uintptr_t a)
{
	uintptr_t off = a % PAGE_SIZE;
	uint32_t n;

	if (off)
		return off >= DBG_META && large_pages_at((const void *)(a - off))
			   ? (struct dbg_hdr *)(a - DBG_META)
			   : NULL;
	n = large_pages_at((const void *)a);
	if (n)
		return (struct dbg_hdr *)(a + (size_t)n * PAGE_SIZE - sizeof(struct dbg_hdr));
	return large_pages_at((const void *)(a - PAGE_SIZE)) ? (struct dbg_hdr *)(a - DBG_META)
							     : NULL;
}

/* The header of p, if p is one of our objects in any state; NULL otherwise. */
static struct dbg_hdr *header_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct dbg_hdr *h;

	if (!IS_ALIGNED(a, 16) || a < DBG_META + PAGE_SIZE)
		return NULL;
	if (large_owns(p))
		h = large_header(a);
	else if (ram_at(a - DBG_META) && ram_at(a - 1))
		h = (struct dbg_hdr *)(a - DBG_META);
	else
		h = NULL;
	return h && valid(h, p) ? h : NULL;
}

/*
 * header_of(), again under the lock if it found nothing: a quarantined
 * header's link and check word change together under the lock (a free
 * appended after it), so a read of them racing that is retried.
 */
static struct dbg_hdr *find_header(const void *p)
{
	struct dbg_hdr *h = header_of(p);

	if (!h) {
		spin_lock(&lock);
		h = header_of(p);
		spin_unlock(&lock);
	}
	return h;
}

/* A call on an object that is not live: reported with its call sites. */
static void report_not_live(struct dbg_hdr *h, uint32_t st, const char *call, const void *caller)
{
	heap_misusef(
	    obj(h),
	    "%s of %s object %p (size %zu)%s; allocated at %p, freed at %p, now called from %p",
	    call, st == ST_QUARANTINED ? "a freed" : "a long freed", obj(h), h->size,
	    st == ST_QUARANTINED ? ", in the quarantine (a double free, or a stale pointer)" : "",
	    h->alloc_site, h->free_site, caller);
}

/* ---- the quarantine ----------------------------------------------------------------- */

/* An object leaves the quarantine: checked, then its block goes back to the heap below. */
static void release(struct dbg_hdr *h)
{
	uint8_t *p = obj(h);
	size_t at = 0, hit = count_hit(p, h->size, POISON_BYTE, &at);

	if (hit)
		heap_misusef(
		    p,
		    "write after free into object %p (size %zu): %zu byte(s) changed from +%zu "
		    "while "
		    "it was in the quarantine; allocated at %p, freed at %p",
		    p, h->size, hit, at, h->alloc_site, h->free_site);
	check_redzones(h, "after it was freed", h->free_site);
	kfree_inner(block_of(h));
}

/*
 * Whether h, a header in the quarantine, is as we left it: its check word
 * covers its link too, so an overflow from the block before it (which
 * reaches the link first) is found before the link is followed or its
 * size trusted.
 */
static bool quarantined_sound(const struct dbg_hdr *h)
{
	return h->check == check_of(h) &&
	       __atomic_load_n(&h->state, __ATOMIC_RELAXED) == ST_QUARANTINED;
}

/*
 * The quarantine given up from a header found overwritten, h (with the
 * lock held): its objects are dropped, never freed (lost, never handed
 * out twice); *bad = h, for the caller to report once the lock is let go.
 */
static void quarantine_drop(struct dbg_hdr *h, struct dbg_hdr **bad)
{
	*bad = h;
	q.head = q.tail = NULL;
	q.bytes = q.blocks = 0;
}

static void report_overwritten(struct dbg_hdr *bad)
{
	if (bad)
		heap_misusef((uint8_t *)bad + DBG_META,
			     "header of a freed object in the quarantine overwritten at %p (an "
			     "overflow from the block before it?): the quarantine's objects are "
			     "dropped, not freed",
			     (void *)bad);
}

/*
 * Takes the oldest objects off the quarantine until it holds at most max
 * bytes: a list. A header found overwritten drops the rest (*bad).
 */
static struct dbg_hdr *evict(uint64_t max, struct dbg_hdr **bad)
{
	struct dbg_hdr *out = NULL, **tail = &out;

	while (q.head && q.bytes > max) {
		struct dbg_hdr *h = q.head;

		if (!quarantined_sound(h)) {
			quarantine_drop(h, bad);
			break;
		}
		q.head = h->next;
		if (!q.head)
			q.tail = NULL;
		q.bytes -= block_bytes(h);
		q.blocks--;
		__atomic_store_n(&h->state, ST_FREED, __ATOMIC_RELAXED);
		h->next = NULL;
		h->check =
		    check_of(h); /* freed: the link no longer counts (the list below is ours) */
		*tail = h;
		tail = &h->next;
	}
	return out;
}

/* The evicted objects, checked and freed in order; then bad reported. */
static void release_all(struct dbg_hdr *h, struct dbg_hdr *bad)
{
	while (h) {
		struct dbg_hdr *next = h->next;

		release(h);
		h = next;
	}
	report_overwritten(bad);
}

void heap_quarantine_flush(void)
{
	struct dbg_hdr *out, *bad = NULL;

	spin_lock(&lock);
	out = evict(0, &bad);
	spin_unlock(&lock);
	release_all(out, bad);
}

void debug_reset(void)
{
	q.head = q.tail = NULL;
	q.bytes = q.blocks = 0;
}

void debug_quarantined(uint64_t *blocks, uint64_t *bytes)
{
	*blocks = *bytes = 0;
	spin_lock(&lock);
	for (struct dbg_hdr *h = q.head; h && quarantined_sound(h); h = h->next) {
		uint8_t *b = block_of(h);

		if (early_contains(b)) /* heap_usage() counts no block of the early heap */
			continue;
		++*blocks;
		*bytes += ksize_inner(b);
	}
	spin_unlock(&lock);
}

/* ---- the calls ---------------------------------------------------------------------- */

void *debug_alloc(size_t size, size_t align, const void *caller)
{
	size_t ua, pre, total;
	struct dbg_hdr *h;
	uint8_t *b;

	if (align & (align - 1))
		return NULL;
	ua = MAX(heap_natural_align(size, align), (size_t)16);
	size = MAX(size, (size_t)1);
	pre = ua > PAGE_SIZE ? 0 : ALIGN_UP((size_t)DBG_META, ua);
	if (size > SIZE_MAX / 4 - pre)
		return NULL;
	total = pre + size + rear(size);
	if (!pre) /* the header behind, in a large allocation (beyond the largest slab) */
		total = MAX(total + sizeof(*h), (size_t)HEAP_SLAB_SIZE + 16);
	b = kmalloc_inner(total, ua);
	if (!b && __atomic_load_n(&q.blocks, __ATOMIC_RELAXED)) {
		heap_quarantine_flush(); /* memory is short: what the quarantine holds first */
		b = kmalloc_inner(total, ua);
	}
	if (!b)
		return NULL;
	if (pre) {
		h = (struct dbg_hdr *)(b + pre - DBG_META);
	} else {
		size_t end = (size_t)large_pages_at(b) * PAGE_SIZE;

		if (end < total) { /* not a large allocation: cannot happen with these sizes */
			kfree_inner(b);
			return NULL;
		}
		h = (struct dbg_hdr *)(b + end - sizeof(*h));
		pre = TRAILER | (end - sizeof(*h));
	}
	*h = (struct dbg_hdr){.alloc_site = caller, .size = size, .pre = pre, .state = ST_LIVE};
	h->check = check_of(h);
	memset(obj(h) - front_len(h), RZ_BYTE, front_len(h));
	memset(obj(h) + size, RZ_BYTE, rear_len(h));
	return obj(h);
}

void debug_free(void *p, const void *caller)
{
	struct dbg_hdr *h, *out = NULL, *bad = NULL;
	uint32_t st;

	if (!p)
		return;
	h = find_header(p);
	if (!h) { /* not ours: the heap below reports it as it always did */
		kfree_inner(p);
		return;
	}
	spin_lock(&lock);
	st = h->state;
	if (st == ST_LIVE) {
		__atomic_store_n(&h->state, ST_QUARANTINED, __ATOMIC_RELAXED);
		h->free_site = caller;
	}
	spin_unlock(&lock);
	if (st != ST_LIVE) {
		report_not_live(h, st, "kfree", caller);
		return;
	}
	check_redzones(h, "found at its kfree", caller);
	if (block_bytes(h) > HEAP_QUARANTINE_BYTES) { /* too big to keep: checked, freed now */
		__atomic_store_n(&h->state, ST_FREED, __ATOMIC_RELAXED);
		kfree_inner(block_of(h));
		return;
	}
	memset(p, POISON_BYTE, h->size);
	spin_lock(&lock); /* h->next is NULL: its check word, which covers it, said so */
	/* the tail's header checked before its link is written (and its check word made anew) */
	if (q.tail && !quarantined_sound(q.tail))
		quarantine_drop(q.tail, &bad);
	if (q.tail) {
		q.tail->next = h;
		q.tail->check = check_of(q.tail);
	} else {
		q.head = h;
	}
	q.tail = h;
	q.bytes += block_bytes(h);
	q.blocks++;
	out = evict(HEAP_QUARANTINE_BYTES, &bad);
	spin_unlock(&lock);
	release_all(out, bad);
}

size_t debug_size(const void *p)
{
	struct dbg_hdr *h;
	uint32_t st;

	if (!p)
		return 0;
	h = find_header(p);
	if (!h)
		return ksize_inner(p); /* reported below, or a block we did not wrap */
	st = __atomic_load_n(&h->state, __ATOMIC_RELAXED);
	if (st != ST_LIVE) {
		report_not_live(h, st, "ksize", __builtin_return_address(0));
		return 0;
	}
	return h->size;
}

void *debug_realloc(void *p, size_t size, const void *caller)
{
	struct dbg_hdr *h;
	uint32_t st;
	void *n;

	/* kmalloc_caller(): sampled for the guard pool, as any allocation (else debug_alloc()) */
	if (!p)
		return kmalloc_caller(size, 0, caller);
	if (!size) {
		debug_free(p, caller);
		return NULL;
	}
	h = find_header(p);
	if (!h) {
		(void)ksize_inner(p); /* reported below */
		return NULL;
	}
	st = __atomic_load_n(&h->state, __ATOMIC_RELAXED);
	if (st != ST_LIVE) {
		report_not_live(h, st, "krealloc", caller);
		return NULL;
	}
	n = kmalloc_caller(size, 0, caller);
	if (!n)
		return NULL;
	memcpy(n, p, MIN(h->size, size));
	debug_free(p, caller);
	return n;
}

#endif
