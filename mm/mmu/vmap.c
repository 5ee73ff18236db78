// SPDX-License-Identifier: MIT
/*
 * vmap: ranges of a virtual window, mapped page by page to any frames.
 * Free VA is a sorted list of extents, allocated first fit; a mapping is
 * known from the page tables alone (see include/mm/vmap.h).
 */
#include <mm/buddy.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <mm/vmap.h>
#include <string.h>

#define VMAP_PROT (MMU_PROT_READ | MMU_PROT_WRITE | MMU_PROT_GLOBAL)
#define UNMAP_BATCH 32 /* frames handed back per unmap call: a small stack array */

#define RECORDS_PER_FRAME ((PAGE_SIZE - sizeof(phys_addr_t)) / sizeof(struct vmap_extent))

int vmap_init(struct vmap *v, struct mmu_space *space, uint64_t base, uint64_t size)
{
	if (!IS_ALIGNED(base, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) || size < 3 * PAGE_SIZE ||
	    base + size < base)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	spin_lock_init(&v->lock);
	v->space = space;
	v->base = base;
	v->size = size;
	return 0;
}

static struct vmap_extent *record_get(struct vmap *v)
{
	struct vmap_extent *e = v->spare;

	v->spare = e->next;
	return e;
}

static void record_put(struct vmap *v, struct vmap_extent *e)
{
	e->next = v->spare;
	v->spare = e;
}

/*
 * Free extents never outnumber mappings + 1 (they are the gaps between
 * them), so with nr_mappings + 2 records one more mapping and any later
 * unmap always find one: an unmap never fails for want of memory.
 */
static int records_reserve(struct vmap *v)
{
	phys_addr_t pa;
	struct vmap_extent *e;

	if (v->nr_records >= v->nr_mappings + 2)
		return 0;
	if (buddy_alloc(0, &pa) < 0)
		return -ENOMEM;
	*(phys_addr_t *)phys_to_virt(pa) = v->record_frames;
	v->record_frames = pa;
	e = (struct vmap_extent *)((char *)phys_to_virt(pa) + sizeof(phys_addr_t));
	for (unsigned int i = 0; i < RECORDS_PER_FRAME; i++)
		record_put(v, &e[i]);
	if (v->nr_records == 0) { /* the first: the whole window but its first page is free */
		struct vmap_extent *all = record_get(v);

		*all = (struct vmap_extent){ v->base + PAGE_SIZE, v->base + v->size, NULL };
		v->free = all;
	}
	v->nr_records += RECORDS_PER_FRAME;
	return 0;
}

uint64_t vmap_record_frame_count(const struct vmap *v)
{
	return __atomic_load_n(&v->nr_records, __ATOMIC_RELAXED) / RECORDS_PER_FRAME;
}

int vmap_destroy(struct vmap *v)
{
	spin_lock(&v->lock);
	if (v->nr_mappings) {
		spin_unlock(&v->lock);
		return -EBUSY;
	}
	while (v->record_frames) {
		phys_addr_t pa = v->record_frames;

		v->record_frames = *(phys_addr_t *)phys_to_virt(pa);
		buddy_free(pa, 0);
	}
	v->free = v->spare = NULL;
	v->nr_records = 0;
	spin_unlock(&v->lock);
	return 0;
}

/* Takes [va, va + len) for a mapping and its guard, first fit; false if the window is full. */
static bool range_take(struct vmap *v, uint64_t len, uint64_t align, uint64_t *va)
{
	for (struct vmap_extent **pp = &v->free, *e; (e = *pp); pp = &e->next) {
		uint64_t s = ALIGN_UP(e->start, align);

		if (s < e->start || s > e->end || e->end - s < len)
			continue;
		if (s + len < e->end && s > e->start) { /* from the middle: two extents remain */
			struct vmap_extent *back = record_get(v);

			*back = (struct vmap_extent){ s + len, e->end, e->next };
			e->end = s;
			e->next = back;
		} else if (s > e->start) {
			e->end = s;
		} else if (s + len < e->end) {
			e->start = s + len;
		} else {
			*pp = e->next;
			record_put(v, e);
		}
		*va = s;
		return true;
	}
	return false;
}

/* Gives [va, va + len) back, merged with the free extents it touches. */
static void range_give(struct vmap *v, uint64_t va, uint64_t len)
{
	struct vmap_extent **pp = &v->free, *prev = NULL, *e;

	while ((e = *pp) && e->start < va) {
		prev = e;
		pp = &e->next;
	}
	if (prev && prev->end == va) {
		prev->end += len;
		if (e && e->start == prev->end) {
			prev->end = e->end;
			prev->next = e->next;
			record_put(v, e);
		}
	} else if (e && e->start == va + len) {
		e->start = va;
	} else {
		struct vmap_extent *n = record_get(v);

		*n = (struct vmap_extent){ va, va + len, e };
		*pp = n;
	}
}

static bool mapped(struct vmap *v, uint64_t va, phys_addr_t *pa)
{
	return vmap_contains(v, va) && mmu_translate(v->space, va, pa, NULL, NULL) == 0;
}

/* Maps frames[0..nr) at va, a run of physically consecutive frames per call. */
static int map_frames(struct vmap *v, uint64_t va, const phys_addr_t *frames, size_t nr)
{
	size_t i = 0;

	while (i < nr) {
		size_t n = 1;
		int err;

		while (i + n < nr && frames[i + n] == frames[i] + n * PAGE_SIZE)
			n++;
		err = mmu_map(v->space, va + i * PAGE_SIZE, frames[i], n * PAGE_SIZE, VMAP_PROT,
			      MMU_NO_BLOCKS);
		if (err) {
			if (i)
				mmu_unmap(v->space, va, i * PAGE_SIZE); /* 4 KiB leaves: cannot fail */
			return err;
		}
		i += n;
	}
	return 0;
}

int vmap_map(struct vmap *v, const phys_addr_t *frames, size_t nr, uint64_t align,
	     uint64_t *va)
{
	uint64_t len = ((uint64_t)nr + 1) * PAGE_SIZE; /* and its guard page */
	int err;

	if (nr == 0 || nr >= v->size / PAGE_SIZE || (align & (align - 1)))
		return -EINVAL;
	for (size_t i = 0; i < nr; i++) {
		if (!IS_ALIGNED(frames[i], PAGE_SIZE))
			return -EINVAL;
	}
	align = MAX(align, PAGE_SIZE);
	spin_lock(&v->lock);
	err = records_reserve(v);
	if (!err && !range_take(v, len, align, va))
		err = -ENOMEM;
	if (!err) {
		err = map_frames(v, *va, frames, nr);
		if (err)
			range_give(v, *va, len);
	}
	if (!err) {
		v->nr_mappings++;
		v->nr_pages += nr;
	}
	spin_unlock(&v->lock);
	return err;
}

/* Whether va starts a mapping: mapped, with the page below unmapped. With the lock held. */
static bool is_start(struct vmap *v, uint64_t va, phys_addr_t *first)
{
	return IS_ALIGNED(va, PAGE_SIZE) && mapped(v, va, first) && !mapped(v, va - PAGE_SIZE, NULL);
}

static uint64_t mapping_pages(struct vmap *v, uint64_t va)
{
	uint64_t n = 1;

	while (mapped(v, va + n * PAGE_SIZE, NULL))
		n++;
	return n;
}

int vmap_lookup(struct vmap *v, uint64_t va, phys_addr_t *first, uint64_t *nr_pages)
{
	int err = -EINVAL;

	spin_lock(&v->lock);
	if (is_start(v, va, first)) {
		if (nr_pages)
			*nr_pages = mapping_pages(v, va);
		err = 0;
	}
	spin_unlock(&v->lock);
	return err;
}

/*
 * The n pages mapped from va unmapped, batch by batch: the frames of a
 * batch are read from the tables and the batch unmapped with the lock
 * held, then the lock is let go for the TLB shootdown (with many harts, a
 * remote fence is long, and every other vmap call would queue behind it),
 * and only after it are the frames handed to give, so no hart can still
 * reach one through a stale entry once it is reused. The caller holds
 * the lock and keeps the range taken until this returns, so nothing else
 * is mapped there meanwhile.
 */
static void unmap_pages(struct vmap *v, uint64_t va, uint64_t n, vmap_give_fn give, void *arg)
{
	phys_addr_t batch[UNMAP_BATCH];
	struct mmu_deferred d;

	for (uint64_t done = 0; done < n;) {
		unsigned int k = (unsigned int)MIN(n - done, UNMAP_BATCH);
		uint64_t at = va + done * PAGE_SIZE;

		for (unsigned int i = 0; i < k; i++)
			mmu_translate(v->space, at + i * PAGE_SIZE, &batch[i], NULL, NULL);
		mmu_unmap_deferred(v->space, at, k * PAGE_SIZE, &d); /* 4 KiB leaves: cannot fail */
		spin_unlock(&v->lock);
		mmu_finish(&d);
		for (unsigned int i = 0; give && i < k; i++)
			give(batch[i], arg);
		done += k;
		spin_lock(&v->lock);
	}
}

/* A second unmap of the same va finds its first page gone and is refused. */
long vmap_unmap(struct vmap *v, uint64_t va, uint64_t expect_pages, vmap_give_fn give, void *arg)
{
	uint64_t n;

	spin_lock(&v->lock);
	if (!is_start(v, va, NULL)) {
		spin_unlock(&v->lock);
		return -EINVAL;
	}
	n = mapping_pages(v, va);
	if (expect_pages && n != expect_pages) {
		spin_unlock(&v->lock);
		return -EINVAL;
	}
	unmap_pages(v, va, n, give, arg);
	range_give(v, va, (n + 1) * PAGE_SIZE);
	v->nr_mappings--;
	v->nr_pages -= n;
	spin_unlock(&v->lock);
	return (long)n;
}

/*
 * Takes [va, va + len) out of the free extent that starts at va, if one
 * does and is long enough (growing a mapping in place: its guard page
 * moves to the end of what it takes).
 */
static bool range_take_at(struct vmap *v, uint64_t va, uint64_t len)
{
	for (struct vmap_extent **pp = &v->free, *e; (e = *pp) && e->start <= va; pp = &e->next) {
		if (e->start != va || e->end - va < len)
			continue;
		if (e->end - va == len) {
			*pp = e->next;
			record_put(v, e);
		} else {
			e->start = va + len;
		}
		return true;
	}
	return false;
}

/*
 * The nr frames mapped from va, mapped again from to (the old mapping
 * stays): a batch read from the tables at a time. On error nothing new
 * stays mapped.
 */
static int map_copy(struct vmap *v, uint64_t va, uint64_t nr, uint64_t to)
{
	phys_addr_t batch[UNMAP_BATCH];

	for (uint64_t done = 0; done < nr;) {
		unsigned int k = (unsigned int)MIN(nr - done, UNMAP_BATCH);
		int err;

		for (unsigned int i = 0; i < k; i++)
			mmu_translate(v->space, va + (done + i) * PAGE_SIZE, &batch[i], NULL, NULL);
		err = map_frames(v, to + done * PAGE_SIZE, batch, k);
		if (err) {
			if (done)
				mmu_unmap(v->space, to, done * PAGE_SIZE); /* 4 KiB leaves */
			return err;
		}
		done += k;
	}
	return 0;
}

int vmap_grow(struct vmap *v, uint64_t va, uint64_t nr, const phys_addr_t *more, size_t n_more,
	      uint64_t align, bool may_move, uint64_t *new_va)
{
	uint64_t len, to;
	struct mmu_deferred d;
	int err;

	if (n_more == 0 || n_more >= v->size / PAGE_SIZE || nr >= v->size / PAGE_SIZE - n_more ||
	    (align & (align - 1)))
		return -EINVAL;
	for (size_t i = 0; i < n_more; i++) {
		if (!IS_ALIGNED(more[i], PAGE_SIZE))
			return -EINVAL;
	}
	align = MAX(align, PAGE_SIZE);
	len = (nr + n_more + 1) * PAGE_SIZE;
	spin_lock(&v->lock);
	err = is_start(v, va, NULL) && mapping_pages(v, va) == nr ? records_reserve(v) : -EINVAL;
	if (err) {
		spin_unlock(&v->lock);
		return err;
	}
	/* in place: the range after the mapping's guard page is free */
	if (IS_ALIGNED(va, align) &&
	    range_take_at(v, va + (nr + 1) * PAGE_SIZE, n_more * PAGE_SIZE)) {
		err = map_frames(v, va + nr * PAGE_SIZE, more, n_more);
		if (err)
			range_give(v, va + (nr + 1) * PAGE_SIZE, n_more * PAGE_SIZE);
		else
			v->nr_pages += n_more;
		spin_unlock(&v->lock);
		if (!err)
			*new_va = va;
		return err;
	}
	if (!may_move || !range_take(v, len, align, &to))
		err = -ENOMEM;
	if (!err) {
		err = map_copy(v, va, nr, to);
		if (!err) {
			err = map_frames(v, to + nr * PAGE_SIZE, more, n_more);
			if (err)
				mmu_unmap(v->space, to, nr * PAGE_SIZE);
		}
		if (err)
			range_give(v, to, len);
	}
	if (err) {
		spin_unlock(&v->lock);
		return err;
	}
	/*
	 * The old range unmapped; held (as vmap_unmap() holds it) until no
	 * hart can reach it through a stale entry, and only then free VA.
	 * Counted as a mapping meanwhile: records_reserve() keeps a record for
	 * every range held, and other calls run while the lock is let go.
	 */
	mmu_unmap_deferred(v->space, va, nr * PAGE_SIZE, &d); /* 4 KiB leaves: cannot fail */
	v->nr_pages += n_more;
	v->nr_mappings++;
	spin_unlock(&v->lock);
	mmu_finish(&d);
	if (v->moved)
		v->moved(v, va, to, nr * PAGE_SIZE);
	spin_lock(&v->lock);
	range_give(v, va, (nr + 1) * PAGE_SIZE);
	v->nr_mappings--;
	spin_unlock(&v->lock);
	*new_va = to;
	return 0;
}

long vmap_shrink(struct vmap *v, uint64_t va, uint64_t nr, uint64_t keep, vmap_give_fn give,
		 void *arg)
{
	if (keep == 0 || keep >= nr)
		return -EINVAL;
	spin_lock(&v->lock);
	if (!is_start(v, va, NULL) || mapping_pages(v, va) != nr) {
		spin_unlock(&v->lock);
		return -EINVAL;
	}
	unmap_pages(v, va + keep * PAGE_SIZE, nr - keep, give, arg);
	/* the first page unmapped is the guard now: free VA after it */
	range_give(v, va + (keep + 1) * PAGE_SIZE, (nr - keep) * PAGE_SIZE);
	v->nr_pages -= nr - keep;
	spin_unlock(&v->lock);
	return (long)(nr - keep);
}

void vmap_walk_free(struct vmap *v, void (*fn)(uint64_t start, uint64_t end, void *arg),
		    void *arg)
{
	spin_lock(&v->lock);
	for (struct vmap_extent *e = v->free; e; e = e->next)
		fn(e->start, e->end, arg);
	spin_unlock(&v->lock);
}
