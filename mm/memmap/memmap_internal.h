/* SPDX-License-Identifier: MIT */
#ifndef MM_MEMMAP_INTERNAL_H
#define MM_MEMMAP_INTERNAL_H

/* What the memmap*.c files and bootmem.c share; not for other users. */

#include <mm/memmap.h>

static inline uint64_t range_end(const struct mem_range *r)
{
	return r->base + r->size;
}

static inline bool ranges_overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return asize && bsize && a < b + bsize && b < a + asize;
}

/* Range lists are sorted by base and never hold overlapping or adjacent ranges. */
int ranges_insert(struct mem_range *list, unsigned int *nr, uint64_t base, uint64_t size);
int ranges_remove(struct mem_range *list, unsigned int *nr, uint64_t base, uint64_t end);

/* Adds a reservation in base order (after equal bases). -ENOSPC when full. */
int resv_add(struct memmap *m, phys_addr_t base, uint64_t size, uint32_t kind, uint32_t flags,
	     const char *name);
void resv_copy_name(char *dst, const char *src, size_t srclen);

/*
 * The highest address aligned to align (a power of two) where size bytes lie
 * inside one RAM range and inside [lo, hi), clear of every reservation.
 */
bool memmap_find_free(const struct memmap *m, uint64_t lo, uint64_t hi, uint64_t size,
		      uint64_t align, phys_addr_t *base);

/* usable[] = RAM minus every reservation, in whole pages. */
int memmap_build_usable(struct memmap *m, struct dt_error *err);

/* Records a warning in m->warnings (the first MEMMAP_MAX_WARNINGS are kept). */
void memmap_warn(struct memmap *m, const char *fmt, ...) __printf(2, 3);

/* /memreserve/, /reserved-memory (static, then dynamic), /chosen initrd */
int memmap_add_memreserve(struct memmap *m, const void *fdt, struct dt_error *err);
int memmap_add_reserved_static(struct memmap *m, const void *fdt, int root_ac, int root_sc,
			       struct dt_error *err);
int memmap_add_initrd(struct memmap *m, const void *fdt, struct dt_error *err);
int memmap_place_dynamic(struct memmap *m, const void *fdt, int root_ac, int root_sc,
			 struct dt_error *err);

#endif
