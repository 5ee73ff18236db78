// SPDX-License-Identifier: MIT
/* Theseus's block_allocator over regions (heap_block_core.h). */
#include <string.h>

#include "heap_block_core.h"

#define CHUNK_ALIGN 16
#define CHUNK_MAGIC 0xea71c4e5u

struct block_chunk { /* a free chunk */
	uint64_t size;
	struct block_chunk *next;
};

struct chunk_hdr {     /* in front of a fallback allocation */
	uint64_t size; /* the whole chunk, this header included */
	uint32_t magic;
	uint32_t check; /* of size and place: an overwritten size is caught, not trusted */
};
_Static_assert(sizeof(struct chunk_hdr) == CHUNK_ALIGN, "the header keeps 16-byte alignment");

static uint32_t hdr_check(const struct chunk_hdr *c, uint64_t size)
{
	return (uint32_t)(size >> 4) ^ (uint32_t)((uintptr_t)c >> 4) ^ 0x9e3779b9u;
}

/* ---- damage ------------------------------------------------------------------ */

/* The first damage found stays until the caller takes it. */
static void damaged(struct block_heap *h, const char *what, const void *at)
{
	if (!h->damage) {
		h->damage = what;
		h->damage_at = at;
	}
}

void block_unlock(struct block_heap *h)
{
	const char *what = h->damage;
	const void *at = h->damage_at;

	h->damage = NULL;
	spin_unlock(&h->lock);
	if (what)
		heap_misuse(what, at);
}

/* ---- the fallback ---------------------------------------------------------- */

/*
 * Takes need bytes of r whose byte hdr is aligned to align, first fit; the
 * rest of the chunk stays free on either side. Everything is a multiple of
 * 16, so a leftover is always big enough to be a free chunk.
 */
/*
 * Whether c can be a free chunk of r: inside it, aligned, its size whole
 * granules within the region, its successor beyond its end. A free chunk's
 * words are where a freed block's were, so a write after free, or an
 * overflow out of a neighbour, lands here.
 */
static inline __attribute__((always_inline)) bool chunk_sane(const struct block_region *r,
							     const struct block_chunk *c)
{
	uintptr_t cs = (uintptr_t)c;

	return cs >= (uintptr_t)r->heap && cs < (uintptr_t)r->end && IS_ALIGNED(cs, CHUNK_ALIGN) &&
	       c->size >= CHUNK_ALIGN && IS_ALIGNED(c->size, CHUNK_ALIGN) &&
	       c->size <= (uintptr_t)r->end - cs && (!c->next || (uintptr_t)c->next > cs + c->size);
}

static __attribute__((noinline)) struct block_chunk *
chunk_cut(struct block_heap *h, struct block_region *r, struct block_chunk **pp);

/*
 * *pp if it is a sane chunk; else the list is cut there (what lay beyond
 * is lost) and NULL. Inline: every step of a first-fit walk takes it.
 */
static inline __attribute__((always_inline)) struct block_chunk *
chunk_at(struct block_heap *h, struct block_region *r, struct block_chunk **pp)
{
	struct block_chunk *c = *pp;

	if (likely(!c || chunk_sane(r, c)))
		return c;
	return chunk_cut(h, r, pp);
}

static struct block_chunk *chunk_cut(struct block_heap *h, struct block_region *r,
				     struct block_chunk **pp)
{
	struct block_chunk *c = *pp;

	damaged(h, "free chunk overwritten (a write after free, or an overflow)", c);
	*pp = NULL;
	r->free_bytes = 0;
	for (c = r->free; c; c = c->next)
		r->free_bytes += c->size;
	return NULL;
}

static char *chunk_take(struct block_heap *h, struct block_region *r, uint64_t need, uint64_t align,
			uint64_t hdr)
{
	for (struct block_chunk **pp = &r->free, *c; (c = chunk_at(h, r, pp)); pp = &c->next) {
		uintptr_t cs = (uintptr_t)c, ce = cs + c->size;
		uintptr_t start = ALIGN_UP(cs + hdr, (uintptr_t)align) - hdr;
		struct block_chunk *next = c->next, **link = pp;

		if (start < cs || start > ce || ce - start < need)
			continue;
		if (start > cs) {
			c->size = start - cs;
			link = &c->next;
		}
		if (ce > start + need) {
			struct block_chunk *back = (struct block_chunk *)(start + need);

			*back = (struct block_chunk){ce - (start + need), next};
			*link = back;
		} else {
			*link = next;
		}
		r->free_bytes -= need;
		return (char *)start;
	}
	return NULL;
}

/* Gives [p, p + size) back to r, merged with the free chunks it touches. */
static void chunk_give(struct block_heap *h, struct block_region *r, char *p, uint64_t size)
{
	struct block_chunk **pp = &r->free, *prev = NULL, *c;
	struct block_chunk *n = (struct block_chunk *)p;

	while ((c = chunk_at(h, r, pp)) && (char *)c < p) {
		prev = c;
		pp = &c->next;
	}
	*n = (struct block_chunk){size, c};
	if (c && p + size == (char *)c) {
		n->size += c->size;
		n->next = c->next;
	}
	if (prev && (char *)prev + prev->size == p) {
		prev->size += n->size;
		prev->next = n->next;
	} else {
		*pp = n;
	}
	r->free_bytes += size;
}

/* ---- blocks ------------------------------------------------------------------ */

static uint64_t offset(const struct block_region *r, const void *p)
{
	return (uint64_t)((const char *)p - r->base);
}

/* Inline, as the three below: the fast paths call them on every block. */
static inline __attribute__((always_inline)) void start_mark(struct block_region *r, const void *p,
							     bool set)
{
	uint64_t i = offset(r, p) / 8;

	if (set)
		r->starts[i / 64] |= 1ULL << (i % 64);
	else
		r->starts[i / 64] &= ~(1ULL << (i % 64));
}

static inline __attribute__((always_inline)) bool start_marked(const struct block_region *r,
							       const void *p)
{
	uint64_t i = offset(r, p) / 8;

	return r->starts[i / 64] >> (i % 64) & 1;
}

#define REGION_WALK_MAX 8

static bool region_holds(const struct block_region *r, const void *p)
{
	return (const char *)p >= r->heap && (const char *)p < r->end;
}

/*
 * The region holding p, which the heap handed out: on every allocation.
 * The last one found first (a free list hands back what was freed last);
 * then a walk of a few regions, or find() (O(1), but the price of a few
 * dozen steps of a walk) once there are more.
 */
static inline __attribute__((always_inline)) struct block_region *region_of(struct block_heap *h,
									    const void *p)
{
	struct block_region *r = h->last;

	if (r && region_holds(r, p))
		return r;
	if (h->find && h->nr_regions > REGION_WALK_MAX) {
		r = h->find(p);
	} else {
		for (r = h->regions; r && !region_holds(r, p);)
			r = r->next;
	}
	if (!r || !region_holds(r, p))
		return NULL; /* only a damaged free list asks about such a p */
	return h->last = r;
}

struct block_region *block_region_find(struct block_heap *h, const void *p)
{
	return region_of(h, p);
}

/* ---- the fixed sizes' free lists ------------------------------------------- */

/*
 * A link as stored in the free block at slot, and back: the same XOR (the
 * off hardening tier stores it plain; link_next() checks it either way).
 */
static void *link_code(const struct block_heap *h, const void *slot, const void *link)
{
	if (HEAP_HARDEN == HEAP_HARDEN_OFF)
		return (void *)link;
	return (void *)((uintptr_t)link ^ h->secret ^ ((uintptr_t)slot >> 4));
}

static void link_set(struct block_heap *h, void *slot, void *next)
{
	*(void **)slot = link_code(h, slot, next);
}

#define PAGE_RELEASING 0xff /* pagemap: a fixed-size page on its way back to the fallback */

/*
 * The free block after b on size k's list: NULL at the end, and also where
 * b's link decodes to no free block of that size (damage, recorded; the
 * caller cuts the list there).
 */
static inline __attribute__((always_inline)) void *link_next(struct block_heap *h, unsigned int k,
							     void *b, bool releasing_ok)
{
	void *n = link_code(h, b, *(void **)b);
	struct block_region *r;
	uint8_t kind;

	if (!n)
		return NULL;
	r = region_of(h, n);
	if (r && (char *)n >= r->heap && IS_ALIGNED(offset(r, n), 8u << k) && !start_marked(r, n)) {
		kind = r->pagemap[offset(r, n) / PAGE_SIZE];
		if (kind == 1 + k || (releasing_ok && kind == PAGE_RELEASING))
			return n;
	}
	damaged(h, "free block overwritten (a write after free?)", b);
	return NULL;
}

/* The fixed size for size bytes aligned to align, or -1 for the fallback. */
static int fixed_size(size_t size, size_t align)
{
	size = MAX(size, align);
	for (int k = 0; k < BLOCK_NR_SIZES; k++) {
		if (size <= (8u << k))
			return k;
	}
	return -1;
}

static void *fixed_take(struct block_heap *h, int k)
{
	void *b = h->blocks[k];
	uint32_t bs = 8u << k;

	if (!b) { /* a fresh page for this size, cut into blocks on its free list */
		struct block_region *r;
		char *page = NULL;

		for (r = h->regions; r; r = r->next)
			if ((page = chunk_take(h, r, PAGE_SIZE, PAGE_SIZE, 0)))
				break;
		if (!page)
			return NULL;
		r->pagemap[offset(r, page) / PAGE_SIZE] = (uint8_t)(1 + k);
		h->pages[k]++;
		for (uint32_t off = PAGE_SIZE; off; off -= bs) {
			link_set(h, page + off - bs, b);
			b = page + off - bs;
		}
	}
	h->blocks[k] = link_next(h, (unsigned int)k, b, false);
	return b;
}

static void *fallback_take(struct block_heap *h, size_t size, size_t align)
{
	uint64_t need = ALIGN_UP((uint64_t)size, CHUNK_ALIGN) + sizeof(struct chunk_hdr);

	for (struct block_region *r = h->regions; r; r = r->next) {
		struct chunk_hdr *c;

		if (size >= r->size || need > r->free_bytes) /* the first: need may have wrapped */
			continue;
		c = (struct chunk_hdr *)chunk_take(h, r, need, MAX(align, (size_t)CHUNK_ALIGN),
						   sizeof(*c));
		if (c) {
			*c = (struct chunk_hdr){need, CHUNK_MAGIC, hdr_check(c, need)};
			return c + 1;
		}
	}
	return NULL;
}

size_t block_size(const struct block_region *r, const void *p)
{
	uint8_t k = r->pagemap[offset(r, p) / PAGE_SIZE];

	if (k)
		return 8u << (k - 1);
	return ((const struct chunk_hdr *)p - 1)->size - sizeof(struct chunk_hdr);
}

void *block_alloc(struct block_heap *h, size_t size, size_t align)
{
	int k;
	void *p;

	/*
	 * Size 0 is a block of one byte on both paths: a header-only fallback
	 * chunk would hand out the first byte of the next chunk.
	 */
	size = MAX(size, (size_t)1);
	k = fixed_size(size, align);
	if ((align & (align - 1)) || align > PAGE_SIZE || !h->regions)
		return NULL;
	p = k >= 0 ? fixed_take(h, k) : fallback_take(h, size, align);
	if (p) {
		struct block_region *r = region_of(h, p);

		start_mark(r, p, true);
		h->nr_blocks++;
		h->bytes += block_size(r, p);
	}
	return p;
}

const char *block_unlive(const struct block_region *r, const void *p, const char *what)
{
	const char *c = p;
	uint8_t k;

	if (c < r->heap || c >= r->end || !IS_ALIGNED(offset(r, p), 8) || !start_marked(r, p))
		return what;
	k = r->pagemap[offset(r, p) / PAGE_SIZE];
	if (k)
		return IS_ALIGNED(offset(r, p), 8u << (k - 1)) ? NULL
							       : "heap block header overwritten";
	const struct chunk_hdr *h = (const struct chunk_hdr *)p - 1;

	if (h->magic != CHUNK_MAGIC || h->check != hdr_check(h, h->size) ||
	    h->size < 2 * CHUNK_ALIGN || !IS_ALIGNED(h->size, CHUNK_ALIGN) ||
	    h->size > (uint64_t)(r->end - (const char *)h))
		return "heap block header overwritten (an overflow out of the block before?)";
	return NULL;
}

void block_free(struct block_heap *h, struct block_region *r, void *p)
{
	uint8_t k = r->pagemap[offset(r, p) / PAGE_SIZE];

	h->nr_blocks--;
	h->bytes -= block_size(r, p);
	start_mark(r, p, false);
	if (k) {
		link_set(h, p, h->blocks[k - 1]);
		h->blocks[k - 1] = p;
	} else {
		struct chunk_hdr *c = (struct chunk_hdr *)p - 1;

		c->magic = 0;
		chunk_give(h, r, (char *)c, c->size);
	}
}

/* ---- trim and regions -------------------------------------------------------- */

/* Whether no block of r's page i is live: its 512 start bits are clear. */
static bool page_unused(const struct block_region *r, uint64_t i)
{
	const uint64_t *w = &r->starts[i * (PAGE_SIZE / 8 / 64)];

	for (unsigned int j = 0; j < PAGE_SIZE / 8 / 64; j++)
		if (w[j])
			return false;
	return true;
}

void block_trim(struct block_heap *h)
{
	bool any = false;

	for (struct block_region *r = h->regions; r; r = r->next)
		for (uint64_t i = offset(r, r->heap) / PAGE_SIZE; i < r->size / PAGE_SIZE; i++)
			if (r->pagemap[i] && page_unused(r, i)) {
				h->pages[r->pagemap[i] - 1]--;
				r->pagemap[i] = PAGE_RELEASING;
				any = true;
			}
	if (!any)
		return;
	/* the blocks of releasing pages leave the lists (prev: the last kept, NULL: none yet) */
	for (unsigned int k = 0; k < BLOCK_NR_SIZES; k++) {
		void *prev = NULL, *b = h->blocks[k];

		while (b) {
			struct block_region *r = region_of(h, b);
			void *next = link_next(h, k, b, true);

			if (r->pagemap[offset(r, b) / PAGE_SIZE] != PAGE_RELEASING) {
				if (prev)
					link_set(h, prev, b);
				else
					h->blocks[k] = b;
				prev = b;
			}
			b = next;
		}
		if (prev)
			link_set(h, prev, NULL);
		else
			h->blocks[k] = NULL;
	}
	for (struct block_region *r = h->regions; r; r = r->next)
		for (uint64_t i = 0; i < r->size / PAGE_SIZE; i++)
			if (r->pagemap[i] == PAGE_RELEASING) {
				r->pagemap[i] = 0;
				chunk_give(h, r, r->base + i * PAGE_SIZE, PAGE_SIZE);
			}
}

bool block_region_unused(const struct block_region *r)
{
	return r->free_bytes == (uint64_t)(r->end - r->heap);
}

void block_region_remove(struct block_heap *h, struct block_region *r)
{
	struct block_region **pp = &h->regions;

	if (h->last == r)
		h->last = NULL;
	h->nr_regions--;
	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
}

struct block_region *block_region_init(struct block_heap *h, struct block_region *r, char *base,
				       phys_addr_t pa, uint64_t size)
{
	uint64_t pages = size / PAGE_SIZE;
	uint64_t head = (char *)r == base ? ALIGN_UP(sizeof(*r), 8) : 0;
	uint64_t meta = ALIGN_UP(head + ALIGN_UP(pages, 8) + size / 64, PAGE_SIZE);

	if (!IS_ALIGNED(size, PAGE_SIZE) || meta + PAGE_SIZE > size)
		return NULL;
	memset(base, 0, meta);
	*r = (struct block_region){
	    .next = h->regions,
	    .pa = pa,
	    .size = size,
	    .base = base,
	    .heap = base + meta,
	    .end = base + size,
	    .pagemap = (uint8_t *)base + head,
	    .starts = (uint64_t *)(base + head + ALIGN_UP(pages, 8)),
	};
	/* no entropy here: a stray write decodes to garbage, but the links are not secret */
	if (!h->secret)
		h->secret = ((uintptr_t)h * 0x9e3779b97f4a7c15ULL) | 1;
	chunk_give(h, r, r->heap, size - meta);
	h->regions = r;
	h->nr_regions++;
	return r;
}
