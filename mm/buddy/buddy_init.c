// SPDX-License-Identifier: MIT
/*
 * Taking over from the boot memory map. Banks come from the RAM ranges; the
 * metadata arrays come from the boot allocator; then each bank is cut, in
 * address order, into the maximal aligned blocks of its usable runs (free)
 * and of what lies between them (early or reserved). One memset and one
 * write per block: linear in RAM with a small constant.
 */
#include <mm/bootmem.h>
#include <mm/port.h>
#include <string.h>

#include "buddy_internal.h"

static void add_bank(uint64_t pfn, uint64_t end)
{
	struct buddy_bank *b;

	if (buddy_pool.nr_banks == BUDDY_MAX_BANKS) {
		buddy_pool.ignored_bytes += pfn_to_pa(end - pfn);
		return;
	}
	b = &buddy_pool.bank[buddy_pool.nr_banks++];
	b->base_pfn = pfn;
	b->nr_frames = (uint32_t)(end - pfn);
	b->node = numa_node_of(pfn_to_pa(pfn));
}

/* A RAM range's whole frames, as banks (bank_cut() says where they end). */
static void plan_banks(const struct mem_range *r)
{
	uint64_t pfn = pa_to_pfn(ALIGN_UP(r->base, PAGE_SIZE));
	uint64_t end = pa_to_pfn(r->base + r->size);

	while (pfn < end) {
		uint64_t cut = bank_cut(pfn, end);

		add_bank(pfn, cut);
		pfn = cut;
	}
}

/* The bank's metadata, from the bank itself if it has room (it then lives near its frames). */
static int alloc_metadata(struct memmap *m, struct buddy_bank *b)
{
	uint64_t bytes = (uint64_t)b->nr_frames * sizeof(struct frame);
	phys_addr_t pa;

	if (bootmem_alloc(m, bytes, PAGE_SIZE, pfn_to_pa(bank_end_pfn(b)), &pa) < 0 &&
	    bootmem_alloc(m, bytes, PAGE_SIZE, BOOTMEM_NO_LIMIT, &pa) < 0) {
		printk("buddy: no room for %llu bytes of frame metadata\n", (unsigned long long)bytes);
		return -ENOMEM;
	}
	b->frames = phys_to_virt(pa);
	b->meta_bytes = ALIGN_UP(bytes, PAGE_SIZE);
	memset(b->frames, 0, bytes); /* every frame a tail until its block is laid down */
	return 0;
}

static void tag_owned(struct buddy_bank *b, uint64_t from, uint64_t to, unsigned int tag)
{
	if (from >= to)
		return;
	bank_tag_blocks(b, (uint32_t)(from - b->base_pfn), (uint32_t)(to - b->base_pfn), tag);
	if (tag == FRAME_EARLY)
		b->early_frames += to - from;
	else
		b->reserved_frames += to - from;
}

/* [from, to) is RAM but not usable: early where boot allocations lie, reserved elsewhere. */
static void tag_unusable(const struct memmap *m, struct buddy_bank *b, uint64_t from, uint64_t to)
{
	for (unsigned int n = 0; n < m->nr_resv && from < to; n++) {
		const struct resv_region *r = &m->resv[n];
		uint64_t es = pa_to_pfn(r->base);
		uint64_t ee = pa_to_pfn(ALIGN_UP(r->base + r->size, PAGE_SIZE));

		if (r->kind != RESV_EARLY || ee <= from || es >= to)
			continue;
		es = MAX(es, from);
		ee = MIN(ee, to);
		tag_owned(b, from, es, FRAME_RESERVED);
		tag_owned(b, es, ee, FRAME_EARLY);
		from = ee;
	}
	tag_owned(b, from, to, FRAME_RESERVED);
}

/*
 * Free runs go on the lists as maximal aligned blocks without looking for
 * buddies: two blocks cut greedily from one run are never buddies below the
 * largest order, and runs are separated by owned frames. reported: the
 * largest blocks go on their list as reported (see buddy_add_memory()).
 */
static void add_free_run(struct buddy_bank *b, uint64_t from, uint64_t to, bool reported)
{
	while (from < to) {
		unsigned int k = block_order_at(from, to);

		if (reported && k == BUDDY_MAX_ORDER)
			bank_list_push_reported(b, (uint32_t)(from - b->base_pfn));
		else
			bank_list_push(b, (uint32_t)(from - b->base_pfn), k);
		from += 1ULL << k;
	}
}

static void take_over_bank(const struct memmap *m, struct buddy_bank *b)
{
	uint64_t lo = b->base_pfn, hi = bank_end_pfn(b), done = lo;

	bank_reset(b);
	for (unsigned int n = 0; n < m->nr_usable; n++) {
		uint64_t us = MAX(pa_to_pfn(m->usable[n].base), lo);
		uint64_t ue = MIN(pa_to_pfn(m->usable[n].base + m->usable[n].size), hi);

		if (us >= ue)
			continue;
		tag_unusable(m, b, done, us);
		add_free_run(b, us, ue, false);
		done = ue;
	}
	tag_unusable(m, b, done, hi);
}

int buddy_init(struct memmap *m)
{
	buddy_pool_reset();
	memset(buddy_caches, 0, sizeof(buddy_caches));
	for (unsigned int h = 0; h < MAX_HARTS; h++)
		buddy_caches[h].node = numa_hart_node(h);
	for (unsigned int n = 0; n < m->nr_ram; n++)
		plan_banks(&m->ram[n]);
	if (buddy_pool.ignored_bytes)
		printk("buddy: more than %u banks: %llu bytes of RAM left out\n", BUDDY_MAX_BANKS,
		       (unsigned long long)buddy_pool.ignored_bytes);

	/* all metadata first: every allocation changes usable[], which the takeover reads */
	for (unsigned int n = 0; n < buddy_pool.nr_banks; n++) {
		if (alloc_metadata(m, &buddy_pool.bank[n]) < 0) {
			buddy_pool_reset();
			return -ENOMEM;
		}
	}
	for (unsigned int n = 0; n < buddy_pool.nr_banks; n++)
		take_over_bank(m, &buddy_pool.bank[n]);
	if (buddy_pool.nr_banks)
		buddy_pool.top = &buddy_pool.bank[buddy_pool.nr_banks - 1];
	return 0;
}

/* ---- memory hot-add ---- */

/* Serialises hot-adds: only they (and buddy_init) write a bank slot, nr_banks and top. */
static spinlock_t add_lock = SPINLOCK_INIT;

/* Frames of metadata a bank of nr frames needs: its array, in whole frames. */
static uint64_t meta_frames(uint64_t nr)
{
	return ALIGN_UP(nr * sizeof(struct frame), PAGE_SIZE) / PAGE_SIZE;
}

/*
 * How many banks [pfn, end) becomes, cut as buddy_init() cuts RAM; 0 if
 * one of them could not hold its own metadata and a frame besides.
 */
static unsigned int count_banks(uint64_t pfn, uint64_t end)
{
	unsigned int n = 0;

	for (uint64_t cut; pfn < end; pfn = cut, n++) {
		cut = bank_cut(pfn, end);
		if (cut - pfn <= meta_frames(cut - pfn))
			return 0;
	}
	return n;
}

/*
 * Adds the bank [pfn, end) in the next slot. All of it is written while
 * nobody can see the slot; only the free blocks need the lock, for the
 * pool's reporting counts. Then nr_banks and top make it visible, with
 * release: whoever reads them sees the bank complete.
 */
static void add_one_bank(uint64_t pfn, uint64_t end)
{
	unsigned int n = buddy_pool.nr_banks;
	struct buddy_bank *b = &buddy_pool.bank[n];
	uint32_t meta;

	memset(b, 0, sizeof(*b));
	b->base_pfn = pfn;
	b->nr_frames = (uint32_t)(end - pfn);
	b->node = numa_node_of(pfn_to_pa(pfn));
	meta = (uint32_t)meta_frames(b->nr_frames);
	b->frames = phys_to_virt(pfn_to_pa(pfn));
	b->meta_bytes = (uint64_t)meta * PAGE_SIZE;
	memset(b->frames, 0, (size_t)b->nr_frames * sizeof(struct frame)); /* all tails */
	bank_reset(b);
	bank_tag_blocks(b, 0, meta, FRAME_RESERVED);
	b->reserved_frames = meta;

	spin_lock(&buddy_pool.lock);
	add_free_run(b, pfn + meta, end, true);
	buddy_pool.added_bytes += pfn_to_pa(end - pfn);
	__atomic_store_n(&buddy_pool.nr_banks, n + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&buddy_pool.top, b, __ATOMIC_RELEASE);
	spin_unlock(&buddy_pool.lock);
}

/*
 * The added range's largest blocks go on the lists as reported: the
 * buddy has never handed them out, so there is nothing in them to give
 * back (in a process, they have not even been touched).
 */
int buddy_add_memory(phys_addr_t pa, uint64_t size)
{
	uint64_t pfn = pa_to_pfn(pa), end = pa_to_pfn(pa + size);
	unsigned int need;
	int rc = 0;

	if (!size || ((pa | size) & (PAGE_SIZE - 1)) || pa + size < pa)
		return -EINVAL;
	spin_lock(&add_lock);
	need = count_banks(pfn, end);
	if (!need || (buddy_pool.nr_banks && pfn < bank_end_pfn(buddy_top())))
		rc = -EINVAL; /* too small, or not above every bank */
	else if (buddy_pool.nr_banks + need > BUDDY_MAX_BANKS)
		rc = -ENOSPC;
	for (uint64_t cut; !rc && pfn < end; pfn = cut) {
		cut = bank_cut(pfn, end);
		add_one_bank(pfn, cut);
	}
	spin_unlock(&add_lock);
	return rc;
}
