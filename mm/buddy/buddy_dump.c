// SPDX-License-Identifier: MIT
/* Counts, per bank and in total, and a /proc/buddyinfo-style dump. */
#include <mm/port.h>
#include <string.h>

#include "buddy_internal.h"

unsigned int buddy_nr_banks(void)
{
	return buddy_nr_banks_acquire();
}

static void bank_info_locked(const struct buddy_bank *b, struct buddy_bank_info *info)
{
	info->base = pfn_to_pa(b->base_pfn);
	info->nr_frames = b->nr_frames;
	info->free = b->free_frames;
	info->reserved = b->reserved_frames;
	info->early = b->early_frames;
	info->node = b->node;
	for (unsigned int k = 0; k < BUDDY_NR_ORDERS; k++)
		info->nr_free[k] = b->nr_free[k];
}

int buddy_bank_info(unsigned int bank, struct buddy_bank_info *info)
{
	if (bank >= buddy_nr_banks_acquire())
		return -ENOENT;
	spin_lock(&buddy_pool.lock);
	bank_info_locked(&buddy_pool.bank[bank], info);
	spin_unlock(&buddy_pool.lock);
	return 0;
}

void buddy_stats(struct buddy_stats *s)
{
	uint64_t owned;

	memset(s, 0, sizeof(*s));
	spin_lock(&buddy_pool.lock);
	s->nr_banks = buddy_pool.nr_banks;
	for (unsigned int n = 0; n < buddy_pool.nr_banks; n++) {
		const struct buddy_bank *b = &buddy_pool.bank[n];

		s->total += b->nr_frames;
		s->free += b->free_frames;
		s->reserved += b->reserved_frames;
		s->early += b->early_frames;
		s->metadata_bytes += b->meta_bytes;
		for (unsigned int k = 0; k < BUDDY_NR_ORDERS; k++)
			s->nr_free[k] += b->nr_free[k];
	}
	s->reported = buddy_pool.reported_frames;
	s->added = buddy_pool.added_bytes;
	s->ignored = buddy_pool.ignored_bytes;
	s->misuses = __atomic_load_n(&buddy_pool.misuses, __ATOMIC_RELAXED);
	spin_unlock(&buddy_pool.lock);
	/* the caches move without the global lock: while harts run, this is a snapshot */
	s->cached = buddy_cached_frames();
	owned = s->free + s->cached + s->reserved + s->early;
	s->allocated = owned < s->total ? s->total - owned : 0;
}

uint64_t buddy_free_frames(void)
{
	uint64_t n = 0;

	spin_lock(&buddy_pool.lock);
	for (unsigned int b = 0; b < buddy_pool.nr_banks; b++)
		n += buddy_pool.bank[b].free_frames;
	spin_unlock(&buddy_pool.lock);
	return n + buddy_cached_frames();
}

void buddy_walk_free(void (*fn)(phys_addr_t pa, unsigned int order, void *arg), void *arg)
{
	spin_lock(&buddy_pool.lock);
	for (unsigned int n = 0; n < buddy_pool.nr_banks; n++) {
		const struct buddy_bank *b = &buddy_pool.bank[n];

		for (unsigned int k = 0; k < BUDDY_NR_ORDERS; k++) {
			for (uint32_t i = b->free_head[k]; i != NIL; i = b->frames[i].next)
				fn(bank_pa(b, i), k, arg);
		}
	}
	spin_unlock(&buddy_pool.lock);
}

static void print_counts(const char *label, const uint64_t *counts)
{
	char line[40 + 8 * BUDDY_NR_ORDERS];
	int len = ksnprintf(line, sizeof(line), "%s", label);

	for (unsigned int k = 0; k < BUDDY_NR_ORDERS && len < (int)sizeof(line); k++)
		len += ksnprintf(line + len, sizeof(line) - len, " %6llu",
				 (unsigned long long)counts[k]);
	printk("buddy: %s\n", line);
}

/*
 * Like /proc/buddyinfo: a line per bank with its free blocks of each order
 * (a block of order k is 2^k frames of 4 KiB), then the totals.
 */
void buddy_dump(void)
{
	struct buddy_stats s;
	uint64_t orders[BUDDY_NR_ORDERS];
	char label[40];

	for (unsigned int k = 0; k < BUDDY_NR_ORDERS; k++)
		orders[k] = k;
	ksnprintf(label, sizeof(label), "%4s %4s %-18s %5s", "bank", "node", "base", "order");
	print_counts(label, orders);
	for (unsigned int n = 0; n < buddy_nr_banks(); n++) {
		struct buddy_bank_info info;
		uint64_t free[BUDDY_NR_ORDERS];

		buddy_bank_info(n, &info);
		for (unsigned int k = 0; k < BUDDY_NR_ORDERS; k++)
			free[k] = info.nr_free[k];
		ksnprintf(label, sizeof(label), "%4u %4u 0x%016llx %5s", n, info.node,
			  (unsigned long long)info.base, "free");
		print_counts(label, free);
	}
	buddy_stats(&s);
	printk("buddy: %llu frames (%llu MiB) in %u banks: free %llu, cached %llu, allocated %llu, "
	       "early %llu, reserved %llu\n",
	       (unsigned long long)s.total, (unsigned long long)(s.total >> (20 - PAGE_SHIFT)),
	       s.nr_banks, (unsigned long long)s.free, (unsigned long long)s.cached,
	       (unsigned long long)s.allocated, (unsigned long long)s.early,
	       (unsigned long long)s.reserved);
	if (s.added || s.reported)
		printk("buddy: hot-added %llu KiB, %llu free frames reported\n",
		       (unsigned long long)(s.added >> 10), (unsigned long long)s.reported);
	printk("buddy: metadata %llu KiB (%u bytes per frame), largest block %llu KiB\n",
	       (unsigned long long)(s.metadata_bytes >> 10), (unsigned int)sizeof(struct frame),
	       (unsigned long long)(PAGE_SIZE << BUDDY_MAX_ORDER) >> 10);
}
