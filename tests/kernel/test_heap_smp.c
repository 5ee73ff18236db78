// SPDX-License-Identifier: MIT
/*
 * The heap under every hart at once: a random mix of kmalloc, aligned
 * allocations, krealloc and kfree of slab and large sizes on each online
 * hart, with a share of the blocks posted to a mailbox and freed by
 * whichever hart takes them (a remote free, most of the time). Every block
 * carries a pattern derived from its address, checked before it is freed
 * (and, after a krealloc, against the address it came from): a block
 * handed out twice, or written by the heap while in use, shows. At the end
 * every heap is trimmed on its own hart and the buddy's free count must be
 * back at its baseline, with no misuse reported.
 *
 * test.heap_ops=N sets the operations per hart; by default 8000 in all,
 * shared among the harts, so that 8 harts on a 2-core host under TCG
 * finish in seconds like 1 does.
 */
#include <kernel/cmdline.h>
#include <kernel/hart.h>
#include <kernel/ktest.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>
#include <mm/buddy.h>
#include <mm/heap.h>
#include <mm/kmalloc.h>
#include <mm/vmap.h>
#include <string.h>

#define LOCAL_MAX 64
#define MAILBOX_MAX 256
#define CHECKED 8192 /* bytes of a block that carry the pattern, plus its last 64 */

struct block {
	unsigned char *p;
	size_t size;
};

struct worker {
	uint64_t rng, ops;
	struct block local[LOCAL_MAX];
	unsigned int n;
	unsigned long allocs, frees, posted, taken, failed, errors;
};

static struct worker workers[MAX_HARTS];
static spinlock_t mailbox_lock;
static struct block mailbox[MAILBOX_MAX];
static unsigned int mailbox_n;

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t pattern(uintptr_t a)
{
	return (a * 0x9e3779b97f4a7c15ULL) ^ (a >> 17);
}

/* The pattern over [off, off + len) of a block. */
static void fill_at(unsigned char *p, size_t off, size_t len)
{
	for (size_t i = off; i < off + len; i += 8)
		*(uint64_t *)(p + i) = pattern((uintptr_t)(p + i));
}

static bool check_at(const unsigned char *p, const unsigned char *origin, size_t off, size_t len)
{
	for (size_t i = off; i < off + len; i += 8) {
		if (*(const uint64_t *)(p + i) != pattern((uintptr_t)(origin + i)))
			return false;
	}
	return true;
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

static void fill(const struct block *b)
{
	fill_at(b->p, 0, head_len(b->size));
	if (tail_off(b->size))
		fill_at(b->p, tail_off(b->size), 56);
}

static bool check(const struct block *b)
{
	return check_at(b->p, b->p, 0, head_len(b->size)) &&
	       (!tail_off(b->size) || check_at(b->p, b->p, tail_off(b->size), 56));
}

static bool post(struct block b)
{
	bool ok;

	spin_lock(&mailbox_lock);
	ok = mailbox_n < MAILBOX_MAX;
	if (ok)
		mailbox[mailbox_n++] = b;
	spin_unlock(&mailbox_lock);
	return ok;
}

static bool take(struct block *b)
{
	bool ok;

	spin_lock(&mailbox_lock);
	ok = mailbox_n > 0;
	if (ok)
		*b = mailbox[--mailbox_n];
	spin_unlock(&mailbox_lock);
	return ok;
}

static void release(struct worker *w, struct block b)
{
	w->errors += !check(&b);
	kfree(b.p);
	w->frees++;
}

static size_t random_size(struct worker *w)
{
	unsigned int r = next_rand(&w->rng) % 100;

	if (r < 70)
		return next_rand(&w->rng) % 512;
	if (r < 97)
		return 512 + next_rand(&w->rng) % (HEAP_SLAB_MAX_SIZE - 511);
	return HEAP_SLAB_MAX_SIZE + 1 + next_rand(&w->rng) % (64 << 10);
}

static void get(struct worker *w, size_t size, size_t align)
{
	struct block b = { align ? kmalloc_aligned(size, align) : kmalloc(size), size };

	if (!b.p) {
		w->failed++;
		return;
	}
	w->errors += (align && !IS_ALIGNED((uintptr_t)b.p, align)) || ksize(b.p) < size;
	fill(&b);
	w->local[w->n++] = b;
	w->allocs++;
}

static void grow_or_shrink(struct worker *w)
{
	struct block *b = &w->local[next_rand(&w->rng) % w->n];
	size_t size = 8 + random_size(w);
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

static void stress(void *arg)
{
	struct worker *w = arg;
	struct block b;

	for (uint64_t i = 0; i < w->ops; i++) {
		unsigned int r = next_rand(&w->rng) % 100;

		if (r < 40 && w->n < LOCAL_MAX) {
			get(w, random_size(w), 0);
		} else if (r < 45 && w->n < LOCAL_MAX) {
			get(w, next_rand(&w->rng) % 5000, 16u << (next_rand(&w->rng) % 9));
		} else if (r < 52 && w->n) {
			grow_or_shrink(w);
		} else if (r < 72 && w->n) {
			unsigned int k = next_rand(&w->rng) % w->n;

			b = w->local[k];
			w->local[k] = w->local[--w->n];
			release(w, b);
		} else if (r < 86 && w->n) {
			if (post(w->local[w->n - 1])) {
				w->n--;
				w->posted++;
			}
		} else if (take(&b)) {
			release(w, b);
			w->taken++;
		}
	}
	while (w->n)
		release(w, w->local[--w->n]);
}

static void trim_here(void *arg)
{
	(void)arg;
	heap_trim();
}

/* Every hart takes the frees queued for it and gives its empty pages back. */
static uint64_t settled_free_frames(void)
{
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		if (i != this_hart_index() && smp_hart_online(i))
			smp_call(i, trim_here, NULL);
	heap_trim();
	return buddy_free_frames();
}

static void all_harts_at_once(struct ktest *t)
{
	unsigned int me = this_hart_index(), harts = 0;
	uint64_t ops = 8000 / smp_nr_online(), free0, misuses = heap_misuses(), remote0 = 0, remote = 0;
	unsigned long allocs = 0, frees = 0, errors = 0, failed = 0, taken = 0;
	struct block b;
	void *warm = kmalloc(3 * PAGE_SIZE); /* the vmap's record frame, kept from here on */

	KT_ASSERT(t, warm != NULL);
	kfree(warm);
	cmdline_get_size("test.heap_ops", &ops);
	free0 = settled_free_frames();
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		struct heap_hart_stats s;

		if (heap_hart_stats(i, &s) == 0)
			for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++)
				remote0 += s.cls[c].remote_frees;
	}
	spin_lock_init(&mailbox_lock);
	mailbox_n = 0;
	memset(workers, 0, sizeof(workers));
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		workers[i].rng = 0x9e3779b97f4a7c15ULL * (i + 1);
		workers[i].ops = ops;
		if (i != me && smp_call_async(i, stress, &workers[i]))
			harts++;
	}
	stress(&workers[me]);
	harts++;
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		if (i != me && smp_hart_online(i))
			smp_wait(i);
	while (take(&b)) { /* the leftovers, freed here */
		errors += !check(&b);
		kfree(b.p);
		frees++;
	}
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		struct worker *w = &workers[i];

		allocs += w->allocs;
		frees += w->frees;
		errors += w->errors;
		failed += w->failed;
		taken += w->taken;
	}
	KT_EXPECT_EQ(t, settled_free_frames(), free0);
	for (unsigned int i = 0; i < MAX_HARTS; i++) {
		struct heap_hart_stats s;

		if (heap_hart_stats(i, &s) < 0)
			continue;
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
			KT_EXPECT_EQ(t, s.cls[c].in_use, 0);
			KT_EXPECT_EQ(t, s.cls[c].pages, 0);
			remote += s.cls[c].remote_frees;
		}
	}
	ktest_log(t, "%u harts, %lu allocations, %lu blocks freed by the hart that took them, "
		     "%llu remote frees", harts, allocs, taken, (unsigned long long)(remote - remote0));
	KT_EXPECT_GT(t, allocs, ops / 4 * harts);
	KT_EXPECT_EQ(t, allocs, frees);
	KT_EXPECT_EQ(t, errors, 0);
	KT_EXPECT_EQ(t, failed, 0);
	KT_EXPECT_EQ(t, heap_misuses(), misuses);
	KT_EXPECT_EQ(t, kernel_vmap.nr_mappings, 0);
	if (harts > 1)
		KT_EXPECT_GT(t, remote - remote0, 0);
}

static const struct ktest_case cases[] = {
	KTEST_CASE(all_harts_at_once),
	{ 0 },
};

const struct ktest_suite heap_smp_suite = { "heap_smp", cases, NULL, NULL };
