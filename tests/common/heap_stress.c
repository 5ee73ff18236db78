// SPDX-License-Identifier: MIT
/* The heap's random stress (heap_stress.h), for the host and the kernel alike. */
#include <mm/heap_hart.h>
#include <kernel/compiler.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/port.h>
#include <string.h>

#include "heap_stress.h"

#define MAILBOX_MAX 1024
#define CHECKED 8192 /* bytes of a block that carry the pattern, plus its last 64 */

static spinlock_t mailbox_lock;
static struct heap_stress_block mailbox[MAILBOX_MAX];
static unsigned int mailbox_n;

void heap_stress_reset(void)
{
	spin_lock_init(&mailbox_lock);
	mailbox_n = 0;
}

uint64_t heap_stress_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void heap_stress_worker_init(struct heap_stress_worker *w, unsigned int seed)
{
	memset(w, 0, sizeof(*w));
	w->rng = 0x9e3779b97f4a7c15ULL * (seed + 1);
}

/* ---- the pattern ------------------------------------------------------------------- */

static uint64_t pattern(uintptr_t a)
{
	return (a * 0x9e3779b97f4a7c15ULL) ^ (a >> 17);
}

/* Whole words only: the first min(size, 8 KiB) and the last 64 bytes of the block. */
static size_t head_len(size_t size)
{
	return MIN(size, (size_t)CHECKED) & ~(size_t)7;
}

static size_t tail_off(size_t size)
{
	return size > CHECKED + 64 ? (size - 64) & ~(size_t)7 : 0;
}

static void fill_at(unsigned char *p, size_t off, size_t len)
{
	for (size_t i = off; i < off + len; i += 8)
		*(uint64_t *)(p + i) = pattern((uintptr_t)(p + i));
}

/* The pattern over [off, off + len) of p, as fill_at() wrote it at origin. */
static bool check_at(const unsigned char *p, const unsigned char *origin, size_t off, size_t len)
{
	for (size_t i = off; i < off + len; i += 8) {
		if (*(const uint64_t *)(p + i) != pattern((uintptr_t)(origin + i)))
			return false;
	}
	return true;
}

static void fill(const struct heap_stress_block *b)
{
	fill_at(b->p, 0, head_len(b->size));
	if (tail_off(b->size))
		fill_at(b->p, tail_off(b->size), 56);
}

static bool check(const struct heap_stress_block *b)
{
	return check_at(b->p, b->p, 0, head_len(b->size)) &&
	       (!tail_off(b->size) || check_at(b->p, b->p, tail_off(b->size), 56));
}

/* ---- the mailbox ------------------------------------------------------------------- */

bool heap_stress_post(struct heap_stress_block b)
{
	bool ok;

	spin_lock(&mailbox_lock);
	ok = mailbox_n < MAILBOX_MAX;
	if (ok)
		mailbox[mailbox_n++] = b;
	spin_unlock(&mailbox_lock);
	return ok;
}

bool heap_stress_take(struct heap_stress_block *b)
{
	bool ok;

	spin_lock(&mailbox_lock);
	ok = mailbox_n > 0;
	if (ok)
		*b = mailbox[--mailbox_n];
	spin_unlock(&mailbox_lock);
	return ok;
}

/* ---- the operations ------------------------------------------------------------------ */

void heap_stress_release(struct heap_stress_worker *w, struct heap_stress_block b)
{
	w->errors += !check(&b);
	kfree(b.p);
	w->frees++;
}

void heap_stress_release_all(struct heap_stress_worker *w)
{
	while (w->n)
		heap_stress_release(w, w->local[--w->n]);
}

bool heap_stress_get(struct heap_stress_worker *w, size_t size, size_t align)
{
	struct heap_stress_block b = { align ? kmalloc_aligned(size, align) : kmalloc(size), size };

	if (!b.p) {
		w->failed++;
		return false;
	}
	w->errors += (align && !IS_ALIGNED((uintptr_t)b.p, align)) || ksize(b.p) < size;
	fill(&b);
	w->local[w->n++] = b;
	w->allocs++;
	return true;
}

/* Mostly small, a quarter up to the largest slab class, a few large ones. */
static size_t random_size(struct heap_stress_worker *w)
{
	unsigned int r = heap_stress_rand(&w->rng) % 100;

	if (r < 70)
		return heap_stress_rand(&w->rng) % 512;
	if (r < 97)
		return 512 + heap_stress_rand(&w->rng) % (HEAP_SLAB_MAX_SIZE - 511);
	return HEAP_SLAB_MAX_SIZE + 1 + heap_stress_rand(&w->rng) % (64 << 10);
}

static void grow_or_shrink(struct heap_stress_worker *w)
{
	struct heap_stress_block *b = &w->local[heap_stress_rand(&w->rng) % w->n];
	size_t size = 8 + random_size(w); /* not 0: krealloc(p, 0) is a free */
	unsigned char *old = b->p, *n = krealloc(old, size);

	if (!n) {
		w->failed++;
		return;
	}
	w->errors += !check_at(n, old, 0, head_len(MIN(b->size, size)));
	b->p = n;
	b->size = size;
	fill(b);
}

void heap_stress_step(struct heap_stress_worker *w)
{
	unsigned int r = heap_stress_rand(&w->rng) % 100;
	struct heap_stress_block b;

	w->steps++;
	if (r < 40 && w->n < HEAP_STRESS_LOCAL_MAX) {
		heap_stress_get(w, random_size(w), 0);
	} else if (r < 45 && w->n < HEAP_STRESS_LOCAL_MAX) {
		heap_stress_get(w, heap_stress_rand(&w->rng) % 5000,
				16u << (heap_stress_rand(&w->rng) % 9));
	} else if (r < 52 && w->n) {
		grow_or_shrink(w);
	} else if (r < 72 && w->n) {
		unsigned int k = heap_stress_rand(&w->rng) % w->n;

		b = w->local[k];
		w->local[k] = w->local[--w->n];
		heap_stress_release(w, b);
	} else if (r < 86 && w->n) {
		if (heap_stress_post(w->local[w->n - 1])) {
			w->n--;
			w->posted++;
		}
	} else if (heap_stress_take(&b)) {
		heap_stress_release(w, b);
		w->taken++;
	}
}

unsigned long heap_stress_finish(struct heap_stress_worker *w, unsigned int n,
				 unsigned long *allocs, unsigned long *frees, unsigned long *errors)
{
	struct heap_stress_block b;
	unsigned long freed = 0;

	*allocs = *frees = *errors = 0;
	while (heap_stress_take(&b)) {
		*errors += !check(&b);
		kfree(b.p);
		freed++;
	}
	for (unsigned int i = 0; i < n; i++) {
		*allocs += w[i].allocs;
		*frees += w[i].frees;
		*errors += w[i].errors;
	}
	*frees += freed;
	return freed;
}
