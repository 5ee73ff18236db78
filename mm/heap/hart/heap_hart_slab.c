// SPDX-License-Identifier: MIT
/*
 * One slab page: 8 KiB of objects of one size class, with its trailer at
 * the end (mm/heap/heap_internal.h draws it). The class shapes are computed
 * here, once: each class gets as many objects as fit beside a trailer
 * whose two bitmaps are sized for exactly that many objects, so the small
 * classes are not capped (Theseus caps a page at 512 objects, which leaves
 * half of an 8-byte class's page unused). What the trailer costs, in
 * bytes of the page that hold no object:
 *
 *   class   8: 987 objects, 296 B (3.6 %)   class  968:  8, 448 B (5.5 %)
 *   class  16: 501 objects, 176 B (2.1 %)   class 1024:  7, 1 KiB (12.5 %)
 *   class  32: 252 objects, 128 B (1.6 %)   class 1992:  4, 224 B (2.7 %)
 *   class  64: 126 objects, 128 B (1.6 %)   class 2048:  3, 2 KiB (25 %)
 *   class 128:  63 objects, 128 B (1.6 %)   class 4040:  2, 112 B (1.4 %)
 *   class 256:  31 objects, 256 B (3.1 %)   class 4096:  1, 4 KiB (50 %)
 *   class 512:  15 objects, 512 B (6.3 %)   class 8136:  1, 56 B (0.7 %)
 *
 * The trailer's canary (heap_hart.h) costs the classes of 8 to 64 bytes
 * an object each, whose pages were full to the bitmaps without it.
 * From 128 bytes up the trailer (56 bytes there) costs a whole object:
 * power-of-two objects fill the page exactly, so the last one gives way.
 * From 1 KiB up that is an eighth of the page or more, so beside each
 * power of two stands a shrunk class laid out as it is, whose last object
 * ends where the trailer starts: one object more to a page. The sizes
 * between 512 and 968 bytes so take 1 KiB of a page, not 1170 bytes, and
 * those between 1 KiB and 1992 bytes (sqlite3's 1032-byte page-cache
 * headers) 2 KiB, not 2730. The 4096 class pays half a page for being
 * naturally aligned in an 8 KiB slab, so the sizes between 2048 and 4096
 * that fit beside the trailer (all but 4041..4096) go to the half-page
 * class: two objects 4 KiB apart (the stride is still a power of two,
 * which the free's checks and the object's index rely on), the second
 * ending where the trailer's 56 bytes start. A 3000-byte object so takes
 * half a page, not a whole one, and a refill of its cache gets two
 * objects from a page.
 * The 8136 class is the one that uses the page whole.
 */
#include <string.h>

#include "heap_hart.h"

struct slab_geom slab_geom[HEAP_NR_CLASSES];
uint8_t slab_class_of_8[HEAP_SLAB_MAX_SIZE / 8 + 1];
uint8_t slab_class_of_size[HEAP_FAST_MAX_SIZE + 1];

/* Bytes the trailer needs for n objects: the canary, two bitmaps of whole words, struct slab. */
static unsigned int trailer_bytes(unsigned int n)
{
	return 8 + 2 * 8 * ((n + 63) / 64) + sizeof(struct slab);
}

/* Each class's size and the log2 of its stride (HEAP_CLASS_SHAPES()). */
#define CLASS_SHAPE(size, shift) {(size), (shift)},
static const struct {
	uint16_t size;
	uint8_t shift;
} class_shapes[HEAP_NR_CLASSES] = {HEAP_CLASS_SHAPES(CLASS_SHAPE)};

void slab_geom_init(void)
{
	unsigned int c, s = 0;

	for (c = 0; c < HEAP_NR_CLASSES; c++) {
		struct slab_geom *g = &slab_geom[c];
		unsigned int n, stride;

		g->size = class_shapes[c].size;
		g->shift = class_shapes[c].shift;
		stride = g->shift ? 1u << g->shift : HEAP_SLAB_SIZE;
		n = HEAP_SLAB_SIZE / stride;
		while ((n - 1) * stride + g->size + trailer_bytes(n) > HEAP_SLAB_SIZE)
			n--;
		g->nr_objs = (uint16_t)n;
		g->words = (uint8_t)((n + 63) / 64);
	}
	for (c = 0; c < HEAP_NR_CLASSES; c++) {
		for (; s <= HEAP_SLAB_MAX_SIZE / 8 && s * 8 <= slab_geom[c].size; s++)
			slab_class_of_8[s] = (uint8_t)c;
	}
	for (c = 0, s = 0; s <= HEAP_FAST_MAX_SIZE; s = slab_geom[c++].size + 1)
		memset(&slab_class_of_size[s], (int)c,
		       MIN(slab_geom[c].size, HEAP_FAST_MAX_SIZE) + 1 - s);
}
_Static_assert(HEAP_SLAB_MAX_SIZE + 8 + 2 * 8 + sizeof(struct slab) == HEAP_SLAB_SIZE,
	       "the largest class is what one object leaves beside its trailer");

/*
 * Makes an empty page of class cls for heap: bitmaps cleared, the bits past
 * the last object set, the canary and every object's free tag written.
 */
void slab_format(struct slab *s, unsigned int heap, unsigned int cls)
{
	const struct slab_geom *g = &slab_geom[cls];
	uint64_t *alloc;

	s->words = g->words;
	alloc = slab_alloc_map(s);
	memset(alloc, 0, 2 * 8 * g->words);
	if (g->nr_objs % 64)
		alloc[g->words - 1] = ~0ULL << (g->nr_objs % 64);
	s->next = s->prev = NULL;
	s->heap = (uint16_t)heap;
	s->cls = (uint8_t)cls;
	s->in_use = 0;
	s->hint = 0;
	s->nr_objs = g->nr_objs;
	s->shift = g->shift;
	s->magic = slab_magic(virt_to_phys(slab_page(s)));
	*slab_canary(s) = slab_canary_value(slab_canary(s));
	if (HEAP_FREE_TAGS) { /* every object free: each its tag (heap_hart.h) */
		char *page = slab_page(s);

		for (unsigned int i = 0; i < g->nr_objs; i++) {
			uintptr_t *o = (uintptr_t *)(page + ((size_t)i << g->shift));

			*o = free_tag(heap_tag_key, o);
		}
	}
}

/* Sequentially consistent: see page_settled() in heap_hart.c. */
bool slab_pending_empty(const struct slab *s)
{
	const uint64_t *pending = slab_pending_map(s);

	for (unsigned int w = 0; w < s->words; w++) {
		if (__atomic_load_n(&pending[w], __ATOMIC_SEQ_CST))
			return false;
	}
	return true;
}
