// SPDX-License-Identifier: MIT
/*
 * Range-list arithmetic for the boot memory map: sorted insertion with
 * merging, removal, the search for a free spot, and usable = RAM minus
 * reservations. Fixed arrays of MEMMAP_MAX_REGIONS entries, no allocation.
 */
#include <mm/port.h>
#include <string.h>

#include "memmap_internal.h"

/* Callers guarantee base + size does not overflow. */
int ranges_insert(struct mem_range *list, unsigned int *nr, uint64_t base, uint64_t size)
{
	uint64_t end = base + size;
	unsigned int i = 0, j;

	/* list[i..j) overlap or touch [base, end): they fold into one range */
	while (i < *nr && range_end(&list[i]) < base)
		i++;
	for (j = i; j < *nr && list[j].base <= end; j++) {
		base = MIN(base, list[j].base);
		end = MAX(end, range_end(&list[j]));
	}
	if (i == j) {
		if (*nr == MEMMAP_MAX_REGIONS)
			return -ENOSPC;
		memmove(&list[i + 1], &list[i], (*nr - i) * sizeof(*list));
		(*nr)++;
	} else if (j > i + 1) {
		memmove(&list[i + 1], &list[j], (*nr - j) * sizeof(*list));
		*nr -= j - i - 1;
	}
	list[i].base = base;
	list[i].size = end - base;
	return 0;
}

/*
 * Only a range strictly containing [base, end) needs a new slot, and then no
 * other range is touched: on -ENOSPC the list is unchanged.
 */
int ranges_remove(struct mem_range *list, unsigned int *nr, uint64_t base, uint64_t end)
{
	for (unsigned int i = 0; i < *nr; i++) {
		struct mem_range *r = &list[i];
		uint64_t rend = range_end(r);

		if (rend <= base || r->base >= end)
			continue;
		if (r->base < base && rend > end) {
			if (*nr == MEMMAP_MAX_REGIONS)
				return -ENOSPC;
			memmove(&list[i + 2], &list[i + 1], (*nr - i - 1) * sizeof(*list));
			(*nr)++;
			list[i + 1].base = end;
			list[i + 1].size = rend - end;
			r->size = base - r->base;
			return 0;
		}
		if (r->base < base) {
			r->size = base - r->base;
		} else if (rend > end) {
			r->base = end;
			r->size = rend - end;
		} else {
			memmove(r, r + 1, (*nr - i - 1) * sizeof(*list));
			(*nr)--;
			i--;
		}
	}
	return 0;
}

/* A name from a DT is data: escaped (dt_escape()), cut whole at MEMMAP_NAME_LEN - 1 bytes. */
void resv_copy_name(char *dst, const char *src, size_t srclen)
{
	dt_escape(dst, MEMMAP_NAME_LEN, src, srclen);
}

int resv_add(struct memmap *m, phys_addr_t base, uint64_t size, uint32_t kind, uint32_t flags,
	     const char *name)
{
	unsigned int i = m->nr_resv;

	if (m->nr_resv == MEMMAP_MAX_REGIONS)
		return -ENOSPC;
	while (i > 0 && m->resv[i - 1].base > base)
		i--;
	memmove(&m->resv[i + 1], &m->resv[i], (m->nr_resv - i) * sizeof(m->resv[0]));
	m->nr_resv++;
	m->resv[i] = (struct resv_region){
		.base = base, .size = size, .kind = kind, .flags = flags
	};
	/* name is ours, or resv_copy_name() made it safe */
	size_t n = strnlen(name, MEMMAP_NAME_LEN - 1);

	memcpy(m->resv[i].name, name, n);
	m->resv[i].name[n] = '\0';
	return 0;
}

static const struct resv_region *first_overlap(const struct memmap *m, uint64_t base,
					       uint64_t size)
{
	for (unsigned int i = 0; i < m->nr_resv; i++) {
		if (ranges_overlap(base, size, m->resv[i].base, m->resv[i].size))
			return &m->resv[i];
	}
	return NULL;
}

/*
 * Top-down like memblock. When a candidate hits a reservation the next one
 * must end at or below that reservation's base, so each reservation stops
 * the search at most once per RAM range.
 */
bool memmap_find_free(const struct memmap *m, uint64_t lo, uint64_t hi, uint64_t size,
		      uint64_t align, phys_addr_t *base)
{
	for (unsigned int i = m->nr_ram; i-- > 0;) {
		uint64_t bottom = MAX(m->ram[i].base, lo);
		uint64_t top = MIN(range_end(&m->ram[i]), hi);

		while (top > bottom && top - bottom >= size) {
			uint64_t cand = ALIGN_DOWN(top - size, align);
			const struct resv_region *r;

			if (cand < bottom)
				break;
			r = first_overlap(m, cand, size);
			if (!r) {
				*base = cand;
				return true;
			}
			top = r->base;
		}
	}
	return false;
}

/* Rounds up to a page, saturating: a reservation may end at the top of the address space. */
static uint64_t page_up(uint64_t x)
{
	return x > UINT64_MAX - (PAGE_SIZE - 1) ? UINT64_MAX : ALIGN_UP(x, PAGE_SIZE);
}

static int add_usable(struct memmap *m, uint64_t base, uint64_t end, struct dt_error *err)
{
	if (base >= end)
		return 0;
	if (ranges_insert(m->usable, &m->nr_usable, base, end - base) < 0) {
		dt_error_set(err, "more than %d usable ranges: raise MEMMAP_MAX_REGIONS",
			     MEMMAP_MAX_REGIONS);
		return -ENOSPC;
	}
	return 0;
}

/*
 * Reservations are sorted by base, so one pass per RAM range finds the holes;
 * cur is the end of everything reserved so far, so overlapping reservations
 * need no special case.
 */
int memmap_build_usable(struct memmap *m, struct dt_error *err)
{
	m->nr_usable = 0;
	for (unsigned int i = 0; i < m->nr_ram; i++) {
		uint64_t cur = page_up(m->ram[i].base);
		uint64_t end = ALIGN_DOWN(range_end(&m->ram[i]), PAGE_SIZE);

		for (unsigned int j = 0; j < m->nr_resv && cur < end; j++) {
			const struct resv_region *r = &m->resv[j];
			uint64_t rbase = ALIGN_DOWN(r->base, PAGE_SIZE);

			if (r->size == 0)
				continue;
			if (rbase >= end)
				break;
			if (add_usable(m, cur, rbase, err) < 0)
				return -ENOSPC;
			cur = MAX(cur, page_up(r->base + r->size));
		}
		if (add_usable(m, cur, end, err) < 0)
			return -ENOSPC;
	}
	return 0;
}
