/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_INTERNAL_H
#define MM_HEAP_INTERNAL_H

/* What the heap_*.c files and kmalloc.c share; not for other users. */

#include <kernel/hart.h>
#include <kernel/spinlock.h>
#include <mm/heap.h>
#include <mm/phys.h>

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
 * it to check a free. pending has a bit set per object that another hart
 * has freed and queued for the owner: set by that hart, cleared by the
 * owner when it takes the free. Both are accessed atomically.
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
	uint16_t frame_cls;	  /* the class the frame metadata names (it changes lazily) */
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
unsigned int slab_take(struct slab *s);
bool slab_bit(const uint64_t *map, unsigned int i);
void slab_clear_alloc(struct slab *s, unsigned int i);
bool slab_pending_empty(const struct slab *s);
int slab_index(const struct slab *s, uintptr_t off, unsigned int *idx);

/* heap_hart.c: the per-hart heaps */
struct heap_class {
	struct slab *partial; /* pages with a free object; allocation takes from the first */
	uint64_t pages, in_use, allocs, frees, remote_frees;
};

struct heap {
	/* the owner's alone */
	struct heap_class cls[HEAP_NR_CLASSES];
	uint64_t pages_from_buddy, pages_stolen, pages_reused;
	unsigned int id;
	/* frees from other harts: they push (a compare-and-swap), the owner takes the lot */
	void *remote __aligned(64);
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
void heap_drain_remote(struct heap *h);

/*
 * The running hart's heap, or NULL on a hart without one. The index goes
 * through int: the RISC-V ABI returns it sign-extended (see buddy_cache.c).
 */
static inline struct heap *this_heap(void)
{
	unsigned int i = (unsigned int)(int)this_hart_index();

	return likely(i < heap_nr_harts) ? &heaps[i] : NULL;
}

/* heap_large.c */
extern const struct heap_large_ops *heap_large;
void *large_alloc(size_t size, size_t align);
bool large_owns(const void *p);
void large_free(void *p);
size_t large_size(const void *p);
void large_reset(const struct heap_large_ops *ops); /* NULL: none */

/* heap_early.c */
void *early_alloc(size_t size, size_t align);
void early_free(void *p);
size_t early_size(const void *p);

/* kmalloc.c: which heap kmalloc() uses, written once by the switch */
#define HEAP_MODE_EARLY 0
#define HEAP_MODE_HARTS 1
extern unsigned int heap_mode;

#endif
