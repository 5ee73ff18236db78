// SPDX-License-Identifier: MIT
/*
 * The boot allocator: memory comes off the top of usable[] and is recorded
 * as RESV_EARLY. Every change is checked for room first, so a failure leaves
 * the map exactly as it was.
 */
#include <mm/bootmem.h>
#include <mm/port.h>
#include <string.h>

#include "../memmap/memmap_internal.h"

/* Would removing [base, end) from usable[] split a range (and need a slot)? */
static bool splits_usable(const struct memmap *m, uint64_t base, uint64_t end)
{
	for (unsigned int i = 0; i < m->nr_usable; i++) {
		if (m->usable[i].base < base && range_end(&m->usable[i]) > end)
			return true;
	}
	return false;
}

/* An early region that [base, end) touches or overlaps. */
static struct resv_region *early_neighbour(struct memmap *m, uint64_t base, uint64_t end)
{
	for (unsigned int i = 0; i < m->nr_resv; i++) {
		struct resv_region *r = &m->resv[i];
		if (r->kind == RESV_EARLY && r->base <= end && base <= r->base + r->size)
			return r;
	}
	return NULL;
}

static void resv_delete(struct memmap *m, struct resv_region *r)
{
	unsigned int i = r - m->resv;

	memmove(r, r + 1, (m->nr_resv - i - 1) * sizeof(*r));
	m->nr_resv--;
}

/* Early regions that touch fold into one, so a run of allocations is one entry. */
static void early_record(struct memmap *m, uint64_t base, uint64_t end)
{
	struct resv_region *r;

	while ((r = early_neighbour(m, base, end))) {
		base = MIN(base, r->base);
		end = MAX(end, r->base + r->size);
		resv_delete(m, r);
	}
	resv_add(m, base, end - base, RESV_EARLY, 0, "early");
}

/* Takes [base, base + size) out of usable[] and records it; m unchanged on failure. */
static int carve(struct memmap *m, phys_addr_t base, uint64_t size, uint32_t kind,
		 const char *name)
{
	uint64_t end = base + size;
	uint64_t pbase = ALIGN_DOWN(base, PAGE_SIZE);
	uint64_t pend = end > UINT64_MAX - (PAGE_SIZE - 1) ? UINT64_MAX : ALIGN_UP(end, PAGE_SIZE);
	bool merges = kind == RESV_EARLY && early_neighbour(m, base, end);

	if (splits_usable(m, pbase, pend) && m->nr_usable == MEMMAP_MAX_REGIONS)
		return -ENOSPC;
	if (!merges && m->nr_resv == MEMMAP_MAX_REGIONS)
		return -ENOSPC;
	ranges_remove(m->usable, &m->nr_usable, pbase, pend);
	if (kind == RESV_EARLY)
		early_record(m, base, end);
	else
		resv_add(m, base, size, kind, 0, name);
	return 0;
}

static phys_addr_t ceiling = BOOTMEM_NO_LIMIT;

void bootmem_set_ceiling(phys_addr_t end)
{
	ceiling = end;
}

phys_addr_t bootmem_ceiling(void)
{
	return ceiling;
}

int bootmem_alloc(struct memmap *m, uint64_t size, uint64_t align, phys_addr_t limit,
		  phys_addr_t *pa)
{
	if (size == 0 || size > UINT64_MAX - (PAGE_SIZE - 1))
		return -EINVAL;
	if (align && !IS_POWER_OF_2(align))
		return -EINVAL;
	size = ALIGN_UP(size, PAGE_SIZE);
	align = MAX(align, PAGE_SIZE);
	if (ceiling != BOOTMEM_NO_LIMIT)
		limit = MIN(limit, ceiling); /* BOOTMEM_NO_LIMIT is the largest address */

	/* usable[] is sorted and page-aligned: the first fit from the top is the highest */
	for (unsigned int i = m->nr_usable; i-- > 0;) {
		uint64_t bottom = m->usable[i].base;
		uint64_t top = range_end(&m->usable[i]);

		if (limit != BOOTMEM_NO_LIMIT)
			top = MIN(top, limit);
		if (top <= bottom || top - bottom < size)
			continue;
		uint64_t cand = ALIGN_DOWN(top - size, align);
		if (cand < bottom)
			continue;
		if (carve(m, cand, size, RESV_EARLY, "early") < 0)
			return -ENOMEM;
		*pa = cand;
		return 0;
	}
	return -ENOMEM;
}

int bootmem_reserve(struct memmap *m, phys_addr_t base, uint64_t size, uint32_t kind,
		    const char *name)
{
	if (size == 0 || size > UINT64_MAX - base)
		return -EINVAL;
	return carve(m, base, size, kind, name ? name : resv_kind_name(kind));
}

uint64_t bootmem_allocated(const struct memmap *m)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < m->nr_resv; i++) {
		if (m->resv[i].kind == RESV_EARLY)
			total += m->resv[i].size;
	}
	return total;
}
