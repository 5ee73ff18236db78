// SPDX-License-Identifier: MIT
/* The per-hart heaps' counters and their slabinfo-style dump. */
#include <mm/port.h>
#include <string.h>

#include "heap_hart.h"

int heap_hart_stats(unsigned int hart, struct heap_hart_stats *s)
{
	struct heap *h = &heaps[hart];

	if (hart >= heap_nr_harts)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		const struct heap_class *k = &h->cls[c];
		/*
		 * No count on the fast paths but allocs (CONFIG_HEAP_STATS): a
		 * free is what left the objects in use.
		 */
		uint64_t in_use = h->cls_objs[c] - cache_count(k);

		s->cls[c] = (struct heap_class_stats){
		    .size = slab_geom[c].size,
		    .per_page = slab_geom[c].nr_objs,
		    .in_use = in_use,
		    .pages = h->cls_pages[c],
		    .allocs = HEAP_COUNT_ALLOCS ? k->allocs : 0,
		    .frees = HEAP_COUNT_ALLOCS ? k->allocs - in_use : 0,
		    .remote_frees = h->cls_remote_frees[c],
		};
	}
	hart_mid_stats(h, s->mid);
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
		if (HEAP_COUNT_ALLOCS)
			printk("heap: %4u %6u %5u %10llu %6llu %10llu %10llu %8llu\n", hart,
			       k->size, k->per_page, (unsigned long long)k->in_use,
			       (unsigned long long)k->pages, (unsigned long long)k->allocs,
			       (unsigned long long)k->frees, (unsigned long long)k->remote_frees);
		else /* not counted */
			printk("heap: %4u %6u %5u %10llu %6llu %10s %10s %8llu\n", hart, k->size,
			       k->per_page, (unsigned long long)k->in_use,
			       (unsigned long long)k->pages, "-", "-",
			       (unsigned long long)k->remote_frees);
	}
	for (unsigned int c = 0; c < HEAP_MID_CLASSES; c++) {
		const struct heap_mid_stats *m = &s.mid[c];

		if (m->blocks)
			printk("heap: %4u %6u %5u %10llu %6llu (mid: 32 KiB blocks)\n", hart,
			       m->size, m->per_block, (unsigned long long)m->in_use,
			       (unsigned long long)m->blocks);
	}
	printk("heap: %4u empty pages %llu, from buddy %llu, to buddy %llu, stolen %llu, "
	       "reused %llu\n",
	       hart, (unsigned long long)s.empty_pages, (unsigned long long)s.pages_from_buddy,
	       (unsigned long long)s.pages_to_buddy, (unsigned long long)s.pages_stolen,
	       (unsigned long long)s.pages_reused);
}

void heap_dump(void)
{
	printk("heap: hart   size /page     in-use  pages     allocs      frees   remote\n");
	for (unsigned int h = 0; h < heap_nr_harts; h++)
		dump_hart(h);
	heap_dump_large_early();
}

void heap_strategy_usage(struct heap_usage *u)
{
	u->per_hart_heaps = heap_nr_harts;
	for (unsigned int hart = 0; hart < heap_nr_harts; hart++) {
		struct heap_hart_stats s;

		heap_hart_stats(hart, &s);
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
			u->blocks += s.cls[c].in_use;
			u->bytes += s.cls[c].in_use * s.cls[c].size;
			u->frames += s.cls[c].pages << SLAB_ORDER;
		}
		for (unsigned int c = 0; c < HEAP_MID_CLASSES; c++) {
			u->blocks += s.mid[c].in_use;
			u->bytes += s.mid[c].in_use * s.mid[c].size;
			u->frames += s.mid[c].blocks << HART_MID_ORDER;
		}
		u->frames += s.empty_pages << SLAB_ORDER;
		u->frames += __atomic_load_n(&heaps[hart].block_frames, __ATOMIC_RELAXED);
	}
}
