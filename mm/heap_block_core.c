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
	uint32_t unused;
};
_Static_assert(sizeof(struct chunk_hdr) == CHUNK_ALIGN, "the header keeps 16-byte alignment");

/* ---- the fallback ---------------------------------------------------------- */

/*
 * Takes need bytes of r whose byte hdr is aligned to align, first fit; the
 * rest of the chunk stays free on either side. Everything is a multiple of
 * 16, so a leftover is always big enough to be a free chunk.
 */
static char *chunk_take(struct block_region *r, uint64_t need, uint64_t align, uint64_t hdr)
{
	for (struct block_chunk **pp = &r->free, *c; (c = *pp); pp = &c->next) {
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
static void chunk_give(struct block_region *r, char *p, uint64_t size)
{
	struct block_chunk **pp = &r->free, *prev = NULL, *c;
	struct block_chunk *n = (struct block_chunk *)p;

	while ((c = *pp) && (char *)c < p) {
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

static void start_mark(struct block_region *r, const void *p, bool set)
{
	uint64_t i = offset(r, p) / 8;

	if (set)
		r->starts[i / 64] |= 1ULL << (i % 64);
	else
		r->starts[i / 64] &= ~(1ULL << (i % 64));
}

static bool start_marked(const struct block_region *r, const void *p)
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
static struct block_region *region_of(struct block_heap *h, const void *p)
{
	struct block_region *r = h->last;

	if (r && region_holds(r, p))
		return r;
	if (h->find && h->nr_regions > REGION_WALK_MAX) {
		r = h->find(p);
	} else {
		for (r = h->regions; !region_holds(r, p);)
			r = r->next;
	}
	return h->last = r;
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
			if ((page = chunk_take(r, PAGE_SIZE, PAGE_SIZE, 0)))
				break;
		if (!page)
			return NULL;
		r->pagemap[offset(r, page) / PAGE_SIZE] = (uint8_t)(1 + k);
		h->pages[k]++;
		for (uint32_t off = PAGE_SIZE; off; off -= bs) {
			*(void **)(page + off - bs) = b;
			b = page + off - bs;
		}
	}
	h->blocks[k] = *(void **)b;
	return b;
}

static void *fallback_take(struct block_heap *h, size_t size, size_t align)
{
	uint64_t need = ALIGN_UP((uint64_t)size, CHUNK_ALIGN) + sizeof(struct chunk_hdr);

	for (struct block_region *r = h->regions; r; r = r->next) {
		struct chunk_hdr *c;

		if (size >= r->size || need > r->free_bytes) /* the first: need may have wrapped */
			continue;
		c = (struct chunk_hdr *)chunk_take(r, need, MAX(align, (size_t)CHUNK_ALIGN),
						   sizeof(*c));
		if (c) {
			*c = (struct chunk_hdr){need, CHUNK_MAGIC, 0};
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
	if (k ? !IS_ALIGNED(offset(r, p), 8u << (k - 1))
	      : ((const struct chunk_hdr *)p - 1)->magic != CHUNK_MAGIC)
		return "heap block header overwritten";
	return NULL;
}

void block_free(struct block_heap *h, struct block_region *r, void *p)
{
	uint8_t k = r->pagemap[offset(r, p) / PAGE_SIZE];

	h->nr_blocks--;
	h->bytes -= block_size(r, p);
	start_mark(r, p, false);
	if (k) {
		*(void **)p = h->blocks[k - 1];
		h->blocks[k - 1] = p;
	} else {
		struct chunk_hdr *c = (struct chunk_hdr *)p - 1;

		c->magic = 0;
		chunk_give(r, (char *)c, c->size);
	}
}

/* ---- trim and regions -------------------------------------------------------- */

#define PAGE_RELEASING 0xff /* pagemap: a fixed-size page on its way back to the fallback */

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
	for (int k = 0; k < BLOCK_NR_SIZES; k++)
		for (void **pp = &h->blocks[k]; *pp;) {
			struct block_region *r = region_of(h, *pp);

			if (r->pagemap[offset(r, *pp) / PAGE_SIZE] == PAGE_RELEASING)
				*pp = *(void **)*pp;
			else
				pp = (void **)*pp;
		}
	for (struct block_region *r = h->regions; r; r = r->next)
		for (uint64_t i = 0; i < r->size / PAGE_SIZE; i++)
			if (r->pagemap[i] == PAGE_RELEASING) {
				r->pagemap[i] = 0;
				chunk_give(r, r->base + i * PAGE_SIZE, PAGE_SIZE);
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
	chunk_give(r, r->heap, size - meta);
	h->regions = r;
	h->nr_regions++;
	return r;
}
