// SPDX-License-Identifier: MIT
/* The heap's counters, its slabinfo-style dump, and misuse reports. */
#include <kernel/errno.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <string.h>

#include "heap_internal.h"

static uint64_t nr_misuses;

static void misuse_panic(const char *what, const void *p)
{
	panic("heap: %s: %p", what, p);
}

static heap_misuse_fn misuse_handler = misuse_panic;

heap_misuse_fn heap_set_misuse_handler(heap_misuse_fn fn)
{
	heap_misuse_fn old = misuse_handler;

	misuse_handler = fn ? fn : misuse_panic;
	return old;
}

void heap_misuse(const char *what, const void *p)
{
	__atomic_fetch_add(&nr_misuses, 1, __ATOMIC_RELAXED);
	misuse_handler(what, p);
}

uint64_t heap_misuses(void)
{
	return __atomic_load_n(&nr_misuses, __ATOMIC_RELAXED);
}

int heap_hart_stats(unsigned int hart, struct heap_hart_stats *s)
{
	struct heap *h = &heaps[hart];

	if (hart >= heap_nr_harts)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		const struct heap_class *k = &h->cls[c];

		s->cls[c] = (struct heap_class_stats){
			.size = slab_geom[c].size,
			.per_page = slab_geom[c].nr_objs,
			.in_use = k->allocs - k->frees,
			.pages = k->pages,
			.allocs = k->allocs,
			.frees = k->frees,
			.remote_frees = k->remote_frees,
		};
	}
	tas_lock(&h->lock);
	s->empty_pages = h->nr_empty;
	s->pages_to_buddy = h->pages_to_buddy;
	tas_unlock(&h->lock);
	s->pages_from_buddy = h->pages_from_buddy;
	s->pages_stolen = h->pages_stolen;
	s->pages_reused = h->pages_reused;
	return 0;
}

static void dump_hart(unsigned int hart)
{
	struct heap_hart_stats s;

	heap_hart_stats(hart, &s);
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		const struct heap_class_stats *k = &s.cls[c];

		if (!k->allocs && !k->pages)
			continue;
		printk("heap: %4u %6u %5u %10llu %6llu %10llu %10llu %8llu\n", hart, k->size,
		       k->per_page, (unsigned long long)(k->allocs - k->frees), (unsigned long long)k->pages,
		       (unsigned long long)k->allocs, (unsigned long long)k->frees,
		       (unsigned long long)k->remote_frees);
	}
	printk("heap: %4u empty pages %llu, from buddy %llu, to buddy %llu, stolen %llu, "
	       "reused %llu\n",
	       hart, (unsigned long long)s.empty_pages, (unsigned long long)s.pages_from_buddy,
	       (unsigned long long)s.pages_to_buddy, (unsigned long long)s.pages_stolen,
	       (unsigned long long)s.pages_reused);
}

void heap_dump(void)
{
	struct heap_large_stats l;
	struct heap_early_stats e;

	printk("heap: hart   size /page     in-use  pages     allocs      frees   remote\n");
	for (unsigned int h = 0; h < heap_nr_harts; h++)
		dump_hart(h);
	heap_large_stats(&l);
	printk("heap: large: %llu allocations, %llu pages\n", (unsigned long long)l.allocations,
	       (unsigned long long)l.pages);
	heap_early_stats(&e);
	printk("heap: early: %llu KiB region, %llu blocks live (%llu bytes), %llu bytes free; "
	       "misuses reported: %llu\n",
	       (unsigned long long)(e.size >> 10), (unsigned long long)e.blocks,
	       (unsigned long long)e.bytes, (unsigned long long)e.free_bytes,
	       (unsigned long long)heap_misuses());
}
