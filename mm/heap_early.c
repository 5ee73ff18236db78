// SPDX-License-Identifier: MIT
/*
 * The early heap (Theseus's heap + block_allocator): one region from the
 * boot allocator, before any other allocator exists.
 *
 * Sizes up to 2048 bytes are fixed-size blocks of 8, 16, ..., 2048 bytes,
 * each size with a free list; a size whose list is empty takes a whole
 * page from the fallback and cuts it up, and its blocks never go back
 * (as in Theseus). Everything else goes to the fallback: a first-fit list
 * of free chunks in address order, merged with their neighbours when
 * freed, each allocation with a 16-byte header that holds its size.
 *
 * The region starts with its metadata: a byte per page (0: the fallback's,
 * else 1 + the fixed size it was given to) and a bit per 8 bytes, set where
 * a block handed out starts. kfree() needs no size (the page says which
 * kind of block it is), and a pointer that starts no live block (a double
 * free, the middle of a block, a stray pointer) is caught by its bit.
 *
 * After the switch to per-hart heaps it only takes frees; its frames'
 * blocks then carry HEAP_EARLY_FRAME_MARK, which is how kfree() finds it.
 */
#include <kernel/errno.h>
#include <mm/bootmem.h>
#include <mm/frame.h>
#include <string.h>

#include "heap_internal.h"

#define NR_SIZES HEAP_EARLY_NR_SIZES /* fixed-size blocks of 8 << 0 .. 8 << 8 bytes */
#define MAX_BLOCK 2048
#define CHUNK_ALIGN 16
#define CHUNK_MAGIC 0xea71c4e5u

struct chunk { /* a free chunk */
	uint64_t size;
	struct chunk *next;
};

struct chunk_hdr { /* in front of a fallback allocation */
	uint64_t size; /* the whole chunk, this header included */
	uint32_t magic;
	uint32_t unused;
};
_Static_assert(sizeof(struct chunk_hdr) == CHUNK_ALIGN, "the header keeps 16-byte alignment");

static struct {
	spinlock_t lock;
	phys_addr_t pa;
	uint64_t size;
	char *base, *heap, *end; /* the region; heap..end is handed out */
	uint8_t *pagemap;
	uint64_t *starts;
	struct chunk *free;
	void *blocks[NR_SIZES];
	uint64_t nr_blocks, bytes, pages[NR_SIZES];
	bool ready, adopted;
} early;

/* ---- the fallback ---------------------------------------------------------- */

/*
 * Takes need bytes whose byte hdr is aligned to align, first fit; the rest
 * of the chunk stays free on either side. Everything is a multiple of 16,
 * so a leftover is always big enough to be a free chunk.
 */
static char *chunk_take(uint64_t need, uint64_t align, uint64_t hdr)
{
	for (struct chunk **pp = &early.free, *c; (c = *pp); pp = &c->next) {
		uintptr_t cs = (uintptr_t)c, ce = cs + c->size;
		uintptr_t start = ALIGN_UP(cs + hdr, (uintptr_t)align) - hdr;
		struct chunk *next = c->next, **link = pp;

		if (start < cs || start > ce || ce - start < need)
			continue;
		if (start > cs) {
			c->size = start - cs;
			link = &c->next;
		}
		if (ce > start + need) {
			struct chunk *back = (struct chunk *)(start + need);

			*back = (struct chunk){ ce - (start + need), next };
			*link = back;
		} else {
			*link = next;
		}
		return (char *)start;
	}
	return NULL;
}

/* Gives [p, p + size) back, merged with the free chunks it touches. */
static void chunk_give(char *p, uint64_t size)
{
	struct chunk **pp = &early.free, *prev = NULL, *c;
	struct chunk *n = (struct chunk *)p;

	while ((c = *pp) && (char *)c < p) {
		prev = c;
		pp = &c->next;
	}
	*n = (struct chunk){ size, c };
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
}

/* ---- blocks ------------------------------------------------------------------ */

static uint64_t offset(const void *p)
{
	return (uint64_t)((const char *)p - early.base);
}

static void start_mark(const void *p, bool set)
{
	uint64_t i = offset(p) / 8;

	if (set)
		early.starts[i / 64] |= 1ULL << (i % 64);
	else
		early.starts[i / 64] &= ~(1ULL << (i % 64));
}

static bool start_marked(const void *p)
{
	uint64_t i = offset(p) / 8;

	return early.starts[i / 64] >> (i % 64) & 1;
}

/* The fixed size for size bytes aligned to align, or -1 for the fallback. */
static int fixed_size(size_t size, size_t align)
{
	size = MAX(size, align);
	for (int k = 0; k < NR_SIZES; k++) {
		if (size <= (8u << k))
			return k;
	}
	return -1;
}

static void *block_take(int k)
{
	void *b = early.blocks[k];
	uint32_t bs = 8u << k;

	if (!b) { /* a fresh page for this size, cut into blocks on its free list */
		char *page = chunk_take(PAGE_SIZE, PAGE_SIZE, 0);

		if (!page)
			return NULL;
		early.pagemap[offset(page) / PAGE_SIZE] = (uint8_t)(1 + k);
		early.pages[k]++;
		for (uint32_t off = PAGE_SIZE; off; off -= bs) {
			*(void **)(page + off - bs) = b;
			b = page + off - bs;
		}
	}
	early.blocks[k] = *(void **)b;
	return b;
}

static void *fallback_take(size_t size, size_t align)
{
	uint64_t need = ALIGN_UP((uint64_t)size, CHUNK_ALIGN) + sizeof(struct chunk_hdr);
	struct chunk_hdr *h;

	if (size > early.size)
		return NULL;
	h = (struct chunk_hdr *)chunk_take(need, MAX(align, (size_t)CHUNK_ALIGN), sizeof(*h));
	if (!h)
		return NULL;
	*h = (struct chunk_hdr){ need, CHUNK_MAGIC, 0 };
	return h + 1;
}

/* Usable bytes of the live block at p (checked by the caller). */
static size_t block_size(const void *p)
{
	uint8_t k = early.pagemap[offset(p) / PAGE_SIZE];

	if (k)
		return 8u << (k - 1);
	return ((const struct chunk_hdr *)p - 1)->size - sizeof(struct chunk_hdr);
}

void *early_alloc(size_t size, size_t align)
{
	int k = fixed_size(MAX(size, (size_t)1), align);
	void *p;

	if (!early.ready || (align & (align - 1)) || align > PAGE_SIZE)
		return NULL;
	spin_lock(&early.lock);
	p = k >= 0 ? block_take(k) : fallback_take(size, align);
	if (p) {
		start_mark(p, true);
		early.nr_blocks++;
		early.bytes += block_size(p);
	}
	spin_unlock(&early.lock);
	return p;
}

/* Whether p starts a live block: misuse reported if not. With the lock held. */
static bool live_block(const void *p, const char *what)
{
	const char *c = p;
	uint8_t k;

	if (!early.ready || c < early.heap || c >= early.end || !IS_ALIGNED(offset(p), 8) ||
	    !start_marked(p)) {
		heap_misuse(what, p);
		return false;
	}
	k = early.pagemap[offset(p) / PAGE_SIZE];
	if (k ? !IS_ALIGNED(offset(p), 8u << (k - 1)) : ((const struct chunk_hdr *)p - 1)->magic != CHUNK_MAGIC) {
		heap_misuse("early heap block header overwritten", p);
		return false;
	}
	return true;
}

void early_free(void *p)
{
	uint8_t k;

	spin_lock(&early.lock);
	if (!live_block(p, "kfree of a pointer the heap did not hand out, or a double free")) {
		spin_unlock(&early.lock);
		return;
	}
	early.nr_blocks--;
	early.bytes -= block_size(p);
	start_mark(p, false);
	k = early.pagemap[offset(p) / PAGE_SIZE];
	if (k) {
		*(void **)p = early.blocks[k - 1];
		early.blocks[k - 1] = p;
	} else {
		struct chunk_hdr *h = (struct chunk_hdr *)p - 1;

		h->magic = 0;
		chunk_give((char *)h, h->size);
	}
	spin_unlock(&early.lock);
}

size_t early_size(const void *p)
{
	size_t n = 0;

	spin_lock(&early.lock);
	if (live_block(p, "ksize of a pointer the heap did not hand out, or one freed"))
		n = block_size(p);
	spin_unlock(&early.lock);
	return n;
}

/* ---- set-up ------------------------------------------------------------------ */

int heap_early_init(phys_addr_t pa, uint64_t size)
{
	uint64_t pages = size / PAGE_SIZE, meta;

	if (!IS_ALIGNED(pa, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) || size < 4 * PAGE_SIZE)
		return -EINVAL;
	/* everything starts over: tests call this for each fresh machine */
	heap_mode = HEAP_MODE_EARLY;
	heaps_reset(0);
	large_reset(NULL);
	memset(&early, 0, sizeof(early));
	spin_lock_init(&early.lock);
	meta = ALIGN_UP(ALIGN_UP(pages, 8) + size / 64, PAGE_SIZE);
	if (meta + PAGE_SIZE > size)
		return -EINVAL;
	early.pa = pa;
	early.size = size;
	early.base = phys_to_virt(pa);
	early.pagemap = (uint8_t *)early.base;
	early.starts = (uint64_t *)(early.base + ALIGN_UP(pages, 8));
	memset(early.base, 0, meta);
	early.heap = early.base + meta;
	early.end = early.base + size;
	chunk_give(early.heap, size - meta);
	early.ready = true;
	return 0;
}

int heap_early_init_bootmem(struct memmap *m, uint64_t size)
{
	size = ALIGN_UP(size, PAGE_SIZE);
	/* the top of the highest usable range with room, as the boot allocator would */
	for (unsigned int i = m->nr_usable; i-- > 0;) {
		phys_addr_t bottom = m->usable[i].base, top = bottom + m->usable[i].size;
		phys_addr_t pa = top - PAGE_SIZE - size;

		if (m->usable[i].size < size + 2 * PAGE_SIZE)
			continue;
		if (bootmem_reserve(m, pa - PAGE_SIZE, PAGE_SIZE, RESV_RESERVED, "heap guard") < 0 ||
		    bootmem_reserve(m, pa + size, PAGE_SIZE, RESV_RESERVED, "heap guard") < 0 ||
		    bootmem_reserve(m, pa, size, RESV_EARLY, "early heap") < 0)
			return -ENOMEM;
		return heap_early_init(pa, size);
	}
	return -ENOMEM;
}

int heap_early_adopt(void)
{
	phys_addr_t pa, end = early.pa + early.size;

	if (!early.ready || early.adopted)
		return 0;
	/* all checked before anything is marked: a refusal leaves every frame as it was */
	for (int mark = 0; mark < 2; mark++) {
		for (pa = early.pa; pa < end;) {
			struct frame_owner o;

			if (frame_owner(pa, &o) < 0 || o.head != pa || o.tag != FRAME_EARLY ||
			    pa + (PAGE_SIZE << o.order) > end)
				return -EINVAL;
			if (mark) /* the owner's word of an owned head: ours to write */
				__atomic_store_n(&frame_of(pa)->aux, HEAP_EARLY_FRAME_MARK,
						 __ATOMIC_RELAXED);
			pa += PAGE_SIZE << o.order;
		}
	}
	early.adopted = true;
	return 0;
}

void heap_early_stats(struct heap_early_stats *s)
{
	struct chunk *c;

	memset(s, 0, sizeof(*s));
	spin_lock(&early.lock);
	s->size = early.size;
	s->blocks = early.nr_blocks;
	s->bytes = early.bytes;
	for (c = early.free; c; c = c->next)
		s->free_bytes += c->size;
	for (int k = 0; k < NR_SIZES; k++)
		s->pages[k] = early.pages[k];
	spin_unlock(&early.lock);
}
