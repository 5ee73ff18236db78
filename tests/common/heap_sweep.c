// SPDX-License-Identifier: MIT
/* The size x alignment sweep (heap_sweep.h). */
#include <kernel/compiler.h>
#include <mm/kmalloc.h>

#include "heap_sweep.h"

#define LIVE 8 /* blocks live at once: each is checked against the writes of the others */

struct live {
	uint8_t *p;
	size_t usable;
};

/* Word i of the block at p: differs between blocks and between words (every block is 8-aligned). */
static uint64_t sweep_word(const uint8_t *p, size_t i)
{
	return ((uintptr_t)p * 0x9e3779b97f4a7c15ULL) ^ (i * 0x100000001b3ULL) ^ 0x5a;
}

/* Fills (or checks, returning whether it holds) the usable bytes of l. */
static bool sweep_fill(const struct live *l, bool check)
{
	uint64_t *w = (uint64_t *)l->p;
	size_t i, n = l->usable / 8;

	for (i = 0; i < n; i++) {
		if (check && w[i] != sweep_word(l->p, i))
			return false;
		w[i] = sweep_word(l->p, i);
	}
	for (i = n * 8; i < l->usable; i++) {
		if (check && l->p[i] != (uint8_t)sweep_word(l->p, i))
			return false;
		l->p[i] = (uint8_t)sweep_word(l->p, i);
	}
	return true;
}

static void retire(struct live *l, struct heap_sweep *r)
{
	if (!l->p)
		return;
	r->clobbered += !sweep_fill(l, true);
	kfree(l->p);
	l->p = NULL;
}

void heap_sweep_aligned(size_t max_align, size_t promise_cap, unsigned int stride,
			struct heap_sweep *r)
{
	struct live live[LIVE] = {0};
	unsigned int slot = 0;

	*r = (struct heap_sweep){0};
	for (size_t align = 1; align && align <= max_align; align <<= 1)
		for (size_t size = 0; size <= HEAP_SWEEP_MAX;
		     size += size < HEAP_SWEEP_EVERY ? 1 : stride) {
			struct live *l = &live[slot++ % LIVE];
			uint8_t *p;

			retire(l, r);
			r->allocs++;
			p = kmalloc_aligned(size, align);
			if (!p) {
				r->failed++;
				continue;
			}
			r->misaligned += ((uintptr_t)p & (align - 1)) ||
					 ((uintptr_t)p & (MIN(heap_promised_align(size), promise_cap) - 1));
			for (unsigned int i = 0; i < LIVE; i++)
				r->clobbered += live[i].p == p; /* two live blocks, one address */
			l->p = p;
			l->usable = ksize(p);
			r->short_size += l->usable < MAX(size, (size_t)1); /* size 0: a few bytes */
			sweep_fill(l, false);
		}
	for (unsigned int i = 0; i < LIVE; i++)
		retire(&live[i], r);
}
