// SPDX-License-Identifier: MIT
/*
 * The segregated-fit strategy: PatchworkOS's heap, one heap for all harts
 * behind one lock.
 *
 * Every block starts with a 64-byte header (so its data, and the next
 * header, stay 64-byte aligned: a block never shares a cache line with its
 * neighbour's data) holding a magic number checked on free, the block's
 * flags and usable size, its neighbours in address order (to split and to
 * coalesce) and, while free, its place on a free list. Free blocks of
 * n * 64 bytes below 4 pages sit in bin n; a bitmap of the bins that are
 * not empty finds the first one that serves a request with a
 * find-first-set per word, and any block of it does. Free blocks of 4
 * pages and more share one last bin, searched first fit. Requests above
 * 4 pages are mapped directly (heap_large.c).
 *
 * Our adaptation: PatchworkOS maps new blocks where it likes and keeps one
 * address-ordered list of them all. Here memory comes in chunks of 64 KiB,
 * buddy blocks of order 4 reached through the direct map, each tagged
 * FRAME_HEAP (heap SEGFIT_HEAP_ID, aux SEGFIT_CHUNK_MARK), so a free checks
 * that a pointer is inside one of our chunks before it reads any header.
 * The neighbour list stops at a chunk's edges: two chunks the buddy hands
 * out side by side never merge, so a chunk that becomes wholly free again
 * can go back to the buddy. One wholly free chunk is kept as a spare, so
 * a heap at a chunk's edge does not take and return a chunk each time;
 * heap_trim() returns it too. Alignment beyond a page is left to mapped
 * allocations, which align the address without a gap of wasted memory.
 */
#include <mm/buddy.h>
#include <mm/port.h>
#include <string.h>

#include "../heap_internal.h"

#define SEGFIT_ALIGN	    64
#define SEGFIT_MAGIC	    0xDEADBEEFu
#define SEGFIT_THRESHOLD    (4 * PAGE_SIZE) /* larger requests are mapped directly */
#define SEGFIT_LAST_BIN	    (SEGFIT_THRESHOLD / SEGFIT_ALIGN) /* free blocks >= the threshold */
#define SEGFIT_NR_BINS	    (SEGFIT_LAST_BIN + 1)
#define SEGFIT_BITMAP_WORDS ((SEGFIT_NR_BINS + 63) / 64)

#define CHUNK_ORDER	    4
#define CHUNK_SIZE	    (PAGE_SIZE << CHUNK_ORDER) /* 64 KiB */
#define CHUNK_FRAMES	    (1ULL << CHUNK_ORDER)
#define CHUNK_MAX_ALIGN	    PAGE_SIZE /* beyond: a front gap of a page or more; mapped instead */
#define SEGFIT_HEAP_ID	    0x5e6f
#define SEGFIT_CHUNK_MARK   0x5e6fc4a9u
#define SEGFIT_SPARE_CHUNKS 1

#define BLOCK_ALLOCATED (1u << 0)

struct block {
	uint32_t magic;
	uint32_t flags;
	uint64_t size;			     /* usable bytes behind the header, a multiple of 64 */
	struct block *prev, *next;	     /* in address order; NULL at the chunk's edges */
	struct block *free_prev, *free_next; /* its bin's list, while free */
	uint64_t unused[2];
};
_Static_assert(sizeof(struct block) == SEGFIT_ALIGN, "the header keeps data 64-byte aligned");
_Static_assert(SEGFIT_THRESHOLD + 2 * CHUNK_MAX_ALIGN + 2 * sizeof(struct block) <= CHUNK_SIZE,
	       "a fresh chunk serves every request the chunks take");

#define HDR	  ((uint64_t)sizeof(struct block))
#define MIN_SPLIT (HDR + SEGFIT_ALIGN) /* the smallest piece that can be a block of its own */

static struct {
	spinlock_t lock;
	struct block *bins[SEGFIT_NR_BINS];
	uint64_t nonempty[SEGFIT_BITMAP_WORDS]; /* bit n: bins[n] has a block */
	uint64_t chunks, spare_chunks;		/* held, and of those wholly free */
	uint64_t blocks, bytes;			/* handed out, and their usable bytes */
	uint64_t free_blocks, free_bytes;
} heap;

const char heap_strategy_name[] = "segregated fit";
const size_t heap_strategy_large_above = SEGFIT_THRESHOLD;

/* ---- blocks and bins ------------------------------------------------------------- */

static uintptr_t data_of(const struct block *b)
{
	return (uintptr_t)(b + 1);
}

static bool is_free(const struct block *b)
{
	return !(b->flags & BLOCK_ALLOCATED);
}

/* A block that is its chunk, all of it. */
static bool is_whole_chunk(const struct block *b)
{
	return !b->prev && !b->next;
}

static unsigned int bin_of(uint64_t size)
{
	return size < SEGFIT_THRESHOLD ? (unsigned int)(size / SEGFIT_ALIGN) : SEGFIT_LAST_BIN;
}

/* The first bin from `from` on with a free block, or -1. */
static int next_nonempty_bin(unsigned int from)
{
	for (unsigned int w = from / 64; w < SEGFIT_BITMAP_WORDS; w++) {
		uint64_t bits = heap.nonempty[w];

		if (w == from / 64)
			bits &= ~0ULL << (from % 64);
		if (bits)
			return (int)(w * 64 + low_bit64(bits));
	}
	return -1;
}

static void free_insert(struct block *b)
{
	unsigned int bin = bin_of(b->size);

	b->free_prev = NULL;
	b->free_next = heap.bins[bin];
	if (b->free_next)
		b->free_next->free_prev = b;
	heap.bins[bin] = b;
	heap.nonempty[bin / 64] |= 1ULL << (bin % 64);
	heap.free_blocks++;
	heap.free_bytes += b->size;
	heap.spare_chunks += is_whole_chunk(b);
}

static void free_remove(struct block *b)
{
	unsigned int bin = bin_of(b->size);

	if (b->free_prev)
		b->free_prev->free_next = b->free_next;
	else
		heap.bins[bin] = b->free_next;
	if (b->free_next)
		b->free_next->free_prev = b->free_prev;
	if (!heap.bins[bin])
		heap.nonempty[bin / 64] &= ~(1ULL << (bin % 64));
	heap.free_blocks--;
	heap.free_bytes -= b->size;
	heap.spare_chunks -= is_whole_chunk(b);
}

/* Makes [at, at + HDR + size) a block right behind prev (NULL: at its chunk's start). */
static struct block *block_insert(uintptr_t at, uint64_t size, struct block *prev,
				  struct block *next)
{
	struct block *b = (struct block *)at;

	*b = (struct block){.magic = SEGFIT_MAGIC, .size = size, .prev = prev, .next = next};
	if (prev)
		prev->next = b;
	if (next)
		next->prev = b;
	return b;
}

/* b takes in its free neighbour next, whose header stops looking like a block. */
static void absorb_next(struct block *b)
{
	struct block *next = b->next;

	b->size += HDR + next->size;
	b->next = next->next;
	if (b->next)
		b->next->prev = b;
	next->magic = 0;
}

/* ---- chunks ---------------------------------------------------------------------- */

/* A fresh chunk, one free block; false if the buddy has no 64 KiB block. */
static bool chunk_add(void)
{
	phys_addr_t pa;

	if (buddy_alloc(CHUNK_ORDER, &pa) < 0)
		return false;
	frame_set_owner(pa, CHUNK_ORDER, FRAME_HEAP, SEGFIT_HEAP_ID, SEGFIT_CHUNK_MARK);
	heap.chunks++;
	free_insert(block_insert((uintptr_t)phys_to_virt(pa), CHUNK_SIZE - HDR, NULL, NULL));
	return true;
}

/* b, a wholly free chunk on no list, back to the buddy. */
static void chunk_release(struct block *b)
{
	b->magic = 0;
	heap.chunks--;
	buddy_free(virt_to_phys(b), CHUNK_ORDER);
}

/* The start of our chunk holding p (true), or false if p is in none of them. */
static bool chunk_of(const void *p, uintptr_t *chunk)
{
	struct frame_owner o;

	if (frame_owner(virt_to_phys(p), &o) < 0 || o.tag != FRAME_HEAP ||
	    o.heap != SEGFIT_HEAP_ID || o.aux != SEGFIT_CHUNK_MARK || o.order != CHUNK_ORDER)
		return false;
	*chunk = (uintptr_t)phys_to_virt(o.head);
	return true;
}

/* ---- allocation ------------------------------------------------------------------ */

/*
 * Where data of need bytes aligned to align can start in free block b, or
 * 0 if it does not fit. A gap in front becomes a free block of its own,
 * so it is either none or room for a header and 64 bytes.
 */
static uintptr_t fit_in(const struct block *b, uint64_t need, uint64_t align)
{
	uintptr_t start = data_of(b), end = start + b->size;
	uintptr_t at = ALIGN_UP(start, (uintptr_t)align);

	if (at != start && at - start < MIN_SPLIT)
		at += align;
	return at + need <= end ? at : 0;
}

/*
 * The first free block that fits, lowest bin first, *at where its data
 * starts; NULL if none. With align up to 64 any block of a bin at or above
 * need's fits, so this is the first block of the first non-empty bin. A
 * spare chunk is taken last, so that it can go back to the buddy.
 */
static struct block *find_fit(uint64_t need, uint64_t align, uintptr_t *at)
{
	for (int bin = next_nonempty_bin(bin_of(need)); bin >= 0;
	     bin = next_nonempty_bin((unsigned int)bin + 1)) {
		struct block *spare = NULL;
		uintptr_t spare_at = 0;

		for (struct block *b = heap.bins[bin]; b; b = b->free_next) {
			uintptr_t a = fit_in(b, need, align);

			if (!a)
				continue;
			if (!is_whole_chunk(b)) {
				*at = a;
				return b;
			}
			if (!spare) {
				spare = b;
				spare_at = a;
			}
		}
		if (spare) {
			*at = spare_at;
			return spare;
		}
	}
	return NULL;
}

/*
 * Takes data [at, at + need) out of free block b: the gap in front stays
 * free as b, the rest behind becomes a free block if it can be one. Their
 * outer neighbours are in use (free neighbours are always merged), so
 * nothing needs merging.
 */
static struct block *carve(struct block *b, uintptr_t at, uint64_t need)
{
	uintptr_t end = data_of(b) + b->size;
	struct block *blk = b;

	free_remove(b);
	if (at != data_of(b)) {
		blk = block_insert(at - HDR, end - at, b, b->next);
		b->size = at - HDR - data_of(b);
		free_insert(b);
	}
	if (blk->size - need >= MIN_SPLIT) {
		free_insert(block_insert(at + need, blk->size - need - HDR, blk, blk->next));
		blk->size = need;
	}
	blk->flags = BLOCK_ALLOCATED;
	heap.blocks++;
	heap.bytes += blk->size;
	return blk;
}

void *heap_strategy_alloc(size_t size, size_t align)
{
	uint64_t need;
	struct block *b;
	uintptr_t at;

	if (size > SEGFIT_THRESHOLD || align > CHUNK_MAX_ALIGN)
		return large_alloc(size, align);
	need = MAX(ALIGN_UP((uint64_t)size, SEGFIT_ALIGN), (uint64_t)SEGFIT_ALIGN);
	spin_lock(&heap.lock);
	b = find_fit(need, align, &at);
	/* a fresh chunk serves anything that comes here (the _Static_assert above) */
	if (!b && chunk_add())
		b = find_fit(need, align, &at);
	if (b)
		b = carve(b, at, need);
	spin_unlock(&heap.lock);
	return b ? (void *)data_of(b) : NULL;
}

/* ---- free and size --------------------------------------------------------------- */

/*
 * Whether p is in one of our chunks; if so *b is the live block whose data
 * p is, or NULL with *why saying what is wrong (freed: for a block not
 * allocated). Under the lock: a chunk's blocks and tag change only under it.
 */
static bool our_block(const void *p, const char *freed, struct block **b, const char **why)
{
	struct block *h = (struct block *)p - 1;
	uintptr_t chunk;
	uint64_t off;

	*b = NULL;
	if (!chunk_of(p, &chunk))
		return false;
	off = (uintptr_t)p - chunk;
	if (off < HDR || !IS_ALIGNED(off, SEGFIT_ALIGN))
		*why = "not the start of a heap block";
	else if (h->magic != SEGFIT_MAGIC)
		*why = "heap block header overwritten, or not a block start";
	else if (is_free(h))
		*why = freed;
	else if (h->size < SEGFIT_ALIGN || !IS_ALIGNED(h->size, SEGFIT_ALIGN) ||
		 (h->next ? (uintptr_t)h->next != data_of(h) + h->size
			  : off + h->size != CHUNK_SIZE))
		*why = "heap block header size inconsistent with its chunk";
	else
		*b = h;
	return true;
}

/* b back to the free lists, merged with free neighbours; a chunk beyond the spare goes back. */
static void release(struct block *b)
{
	heap.blocks--;
	heap.bytes -= b->size;
	b->flags &= ~BLOCK_ALLOCATED;
	if (b->next && is_free(b->next)) {
		free_remove(b->next);
		absorb_next(b);
	}
	if (b->prev && is_free(b->prev)) {
		b = b->prev;
		free_remove(b);
		absorb_next(b);
	}
	if (is_whole_chunk(b) && heap.spare_chunks >= SEGFIT_SPARE_CHUNKS)
		chunk_release(b);
	else
		free_insert(b);
}

bool heap_strategy_free(void *p)
{
	const char *why = NULL;
	struct block *b;
	bool ours;

	spin_lock(&heap.lock);
	ours = our_block(p, "double free", &b, &why);
	if (b)
		release(b);
	spin_unlock(&heap.lock);
	if (why)
		heap_misuse(why, p);
	return ours;
}

bool heap_strategy_size(const void *p, size_t *size)
{
	const char *why = NULL;
	struct block *b;
	bool ours;

	*size = 0;
	spin_lock(&heap.lock);
	ours = our_block(p, "ksize of a freed block", &b, &why);
	if (b)
		*size = b->size;
	spin_unlock(&heap.lock);
	if (why)
		heap_misuse(why, p);
	return ours;
}

/* A chunk's block: neither larger nor under half of it. */
bool heap_strategy_fits(const void *p, size_t old, size_t size)
{
	(void)p;
	return size <= old && size > old / 2;
}

/* ---- trim, set-up, statistics ---------------------------------------------------- */

/* Every wholly free chunk back to the buddy, the spare too. */
void heap_trim(void)
{
	struct block *b, *next;

	spin_lock(&heap.lock);
	for (b = heap.bins[SEGFIT_LAST_BIN]; b; b = next) {
		next = b->free_next;
		if (is_whole_chunk(b)) {
			free_remove(b);
			chunk_release(b);
		}
	}
	spin_unlock(&heap.lock);
}

/* Forgets every chunk without touching it: tests boot a fresh machine under it. */
void heap_strategy_reset(void)
{
	memset(&heap, 0, sizeof(heap));
	spin_lock_init(&heap.lock);
}

void heap_strategy_usage(struct heap_usage *u)
{
	spin_lock(&heap.lock);
	u->blocks = heap.blocks;
	u->bytes = heap.bytes;
	u->frames = heap.chunks * CHUNK_FRAMES;
	spin_unlock(&heap.lock);
}

void heap_dump(void)
{
	unsigned int bins = 0;
	uint64_t chunks, spare, blocks, bytes, free_blocks, free_bytes;

	spin_lock(&heap.lock);
	for (unsigned int i = 0; i < SEGFIT_NR_BINS; i++)
		bins += heap.bins[i] != NULL;
	chunks = heap.chunks;
	spare = heap.spare_chunks;
	blocks = heap.blocks;
	bytes = heap.bytes;
	free_blocks = heap.free_blocks;
	free_bytes = heap.free_bytes;
	spin_unlock(&heap.lock);
	printk("heap: segregated fit: %llu chunks of %llu KiB (%llu wholly free), "
	       "%llu blocks live (%llu bytes)\n",
	       (unsigned long long)chunks, (unsigned long long)(CHUNK_SIZE >> 10),
	       (unsigned long long)spare, (unsigned long long)blocks, (unsigned long long)bytes);
	printk("heap: segregated fit: %llu free blocks (%llu bytes) in %u of %u bins\n",
	       (unsigned long long)free_blocks, (unsigned long long)free_bytes, bins,
	       (unsigned int)SEGFIT_NR_BINS);
	heap_dump_large_early();
}
