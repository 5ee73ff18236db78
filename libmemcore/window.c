// SPDX-License-Identifier: MIT
/*
 * Large allocations: the kernel's path (heap_large.c takes single frames
 * from the buddy, vmap maps them at fresh addresses of a window of an Sv39
 * page table built by the real mapper, a free finds the first frame by
 * walking that table), with the process's own address space as the MMU.
 *
 * A process cannot make its private frames appear at a second address,
 * and one OS mapping per allocation would run into vm.max_map_count
 * (65530; sqlite on the slab + pages strategy keeps 300 000 such blocks).
 * So the window is one reservation of the process's address space, laid
 * over the table's window page for page (window VA V is host address
 * window + V - WINDOW_VA): the table and vmap say which VA is whose and
 * which frames an allocation owns, and the data lives at the host address
 * of the VA. The frames are the allocation's accounting: the buddy hands
 * them out, the heap tags them, a free gives them back, but nothing
 * writes them (they cost the OS nothing until reused for something else).
 * Guard pages exist in the table but not on the host: a run past a large
 * allocation does not fault here as it does in the kernel.
 *
 * The window is made writable from its bottom up as mappings reach
 * higher (vmap takes the lowest free range first), in WINDOW_STEP pieces
 * that merge into one OS mapping. A freed mapping up to PURGE_KEEP (and
 * a realloc()'s tail or small move's old place) stays resident for the
 * next allocation there, as a heap's free blocks do, until what those
 * left resident passes PURGE_KEEP and a sweep gives it back to the OS (a
 * fresh mapping laid over each free part, under vmap's lock), or
 * shim_window_purge() (malloc_trim()); a larger one is given back at
 * once, inside vmap_unmap() while it holds the range, before vmap can
 * hand it out again.
 * realloc() moves a large block's pages rather than its bytes where it
 * can (window_moved()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <kernel/errno.h>
#include <mm/mmu.h>
#include <mm/vmap.h>
#include <string.h>
#include <sys/mman.h>

#include "memcore.h"

#define WINDOW_VA	0xffffffc000000000ULL /* the bottom of Sv39's upper half */
#define WINDOW_SIZE_MAX (128ULL << 30)	      /* the largest allocation is below this */
#define WINDOW_SIZE_MIN (32ULL << 20)
#define WINDOW_STEP	(64ULL << 20)
#define PURGE_MIN	(1ULL << 20)
/* freed mappings left resident, at most: glibc's largest mmap threshold */
#define PURGE_KEEP (32ULL << 20)

static struct mmu_space space;
static struct vmap vmap;
static char *window; /* host address of WINDOW_VA */
static uint64_t window_size;
static uint64_t reached; /* [window, window + reached) is writable; grows under reach_lock */
static uint64_t purged_bytes;
static spinlock_t reach_lock = SPINLOCK_INIT;

/*
 * What freed mappings from PURGE_MIN up left resident, less what was
 * mapped there again since: their ranges of PURGE_MIN or more, and the
 * pieces below that which a new mapping cut from them, as one span and
 * a count of their bytes (a range that finds no room in the list joins
 * them too). A sweep purges the free parts of these and nothing else. A
 * count of the bytes freed alone would sweep a buffer freed and
 * allocated again over and over, never more than one resident. What
 * races here only moves a sweep, which vmap's lock makes safe whenever
 * it comes (it purges only what is free then).
 */
#define KEPT_RANGES 32
struct kept_range {
	uint64_t start, end;
};
struct kept {
	struct kept_range r[KEPT_RANGES + 1]; /* + the one freed last, in a sweep's copy */
	unsigned int n;
	uint64_t cut_lo, cut_hi, cut_bytes;
};
static struct kept kept = {.cut_lo = UINT64_MAX};
static spinlock_t kept_lock = SPINLOCK_INIT;

static void kept_clear(void)
{
	__atomic_store_n(&kept.n, 0, __ATOMIC_RELAXED);
	kept.cut_lo = UINT64_MAX;
	kept.cut_hi = kept.cut_bytes = 0;
}

/* [s, e) resident and free, noted (kept_lock held). */
static void kept_note(uint64_t s, uint64_t e)
{
	if (e - s >= PURGE_MIN && kept.n < KEPT_RANGES) {
		kept.r[kept.n] = (struct kept_range){s, e};
		__atomic_store_n(&kept.n, kept.n + 1, __ATOMIC_RELAXED);
	} else {
		kept.cut_lo = MIN(kept.cut_lo, s);
		kept.cut_hi = MAX(kept.cut_hi, e);
		kept.cut_bytes += e - s;
	}
}

/* [start, end) mapped again: no longer kept (the pieces beside it are). */
static void kept_mapped(uint64_t start, uint64_t end)
{
	if (!__atomic_load_n(&kept.n, __ATOMIC_RELAXED))
		return;
	spin_lock(&kept_lock);
	for (unsigned int i = 0; i < kept.n; i++) {
		uint64_t s = kept.r[i].start, e = kept.r[i].end;

		if (e <= start || s >= end)
			continue;
		__atomic_store_n(&kept.n, kept.n - 1, __ATOMIC_RELAXED);
		kept.r[i--] = kept.r[kept.n];
		if (s < start)
			kept_note(s, start);
		if (e > end) /* at the list's end, where the loop skips it (it starts at end) */
			kept_note(end, e);
	}
	spin_unlock(&kept_lock);
}

/*
 * [start, end) freed, left resident: true if a sweep is due, with what
 * it is to purge copied to *sweep and the notes cleared.
 */
static bool kept_freed(uint64_t start, uint64_t end, struct kept *sweep)
{
	uint64_t bytes = end - start;
	bool due;

	spin_lock(&kept_lock);
	bytes += kept.cut_bytes;
	for (unsigned int i = 0; i < kept.n; i++)
		bytes += kept.r[i].end - kept.r[i].start;
	due = bytes > PURGE_KEEP;
	if (due) {
		*sweep = kept;
		sweep->r[sweep->n++] = (struct kept_range){start, end};
		kept_clear();
	} else {
		kept_note(start, end);
	}
	spin_unlock(&kept_lock);
	return due;
}

static char *host_of(uint64_t va)
{
	return window + (va - WINDOW_VA);
}

static uint64_t va_of(const void *p)
{
	return WINDOW_VA + (uint64_t)((const char *)p - window);
}

/* Makes the window writable up to end (a host address); false if the OS refuses. */
static bool reach(const char *end)
{
	uint64_t want = (uint64_t)(end - window);
	bool ok = true;
	int saved = errno;

	if (want <= __atomic_load_n(&reached, __ATOMIC_ACQUIRE))
		return true;
	spin_lock(&reach_lock);
	if (want > reached) {
		uint64_t to = MIN(ALIGN_UP(want, WINDOW_STEP), window_size);

		ok = mprotect(window + reached, to - reached, PROT_READ | PROT_WRITE) == 0;
		if (ok)
			__atomic_store_n(&reached, to, __ATOMIC_RELEASE);
	}
	spin_unlock(&reach_lock);
	errno = saved;
	return ok;
}

static int window_map(const phys_addr_t *frames, size_t nr, size_t align, void **p)
{
	uint64_t va;
	int err;

	err = vmap_map(&vmap, frames, nr, align, &va);
	if (err)
		return err;
	if (!reach(host_of(va) + nr * PAGE_SIZE)) {
		vmap_unmap(&vmap, va, nr, NULL, NULL);
		return -ENOMEM;
	}
	kept_mapped(va, va + nr * PAGE_SIZE);
	*p = host_of(va);
	return 0;
}

static int window_lookup(const void *p, phys_addr_t *first)
{
	return vmap_lookup(&vmap, va_of(p), first, NULL);
}

struct unmapping {
	char *host;
	uint64_t bytes;
	bool purged;
	void (*give)(phys_addr_t pa, void *arg);
	void *arg;
};

/*
 * A fresh mapping over the range rather than madvise(): the OS then merges
 * it with its neighbours again, where pages mremap() moved in
 * (window_moved()) are an OS mapping of their own, which would stay apart
 * for good (2000 moves: 3000 mappings more, towards vm.max_map_count).
 */
static bool fresh(char *p, uint64_t bytes)
{
	return mmap(p, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == p;
}

/*
 * A failed MAP_FIXED may have unmapped the range already (kernels before
 * 6.12 unmap first): madvise() then fails too, and the range is tried
 * again, since a hole left in the reached window would fault the next
 * mapping placed there.
 */
static void purge(char *p, uint64_t bytes)
{
	int saved = errno;

	if (fresh(p, bytes) || madvise(p, bytes, MADV_DONTNEED) == 0 || fresh(p, bytes))
		__atomic_fetch_add(&purged_bytes, bytes, __ATOMIC_RELAXED);
	else
		shim_misuse("the OS took back part of the large-allocation window", p);
	errno = saved;
}

/* vmap calls give while it holds the range, before it frees it: the moment to purge it. */
static void give_purged(phys_addr_t pa, void *arg)
{
	struct unmapping *u = arg;

	if (!u->purged) {
		purge(u->host, u->bytes);
		u->purged = true;
	}
	u->give(pa, u->arg);
}

static void sweep(const struct kept *k);

/* [start, end) of the window freed and left resident: noted, and a sweep made if one is due. */
static void left_resident(uint64_t start, uint64_t end)
{
	struct kept k;

	if (kept_freed(start, end, &k))
		sweep(&k);
}

/*
 * A freed mapping up to PURGE_KEEP stays resident, for the next mapping
 * there (vmap takes the lowest free range first: a buffer freed and
 * allocated again lands where it was, and its pages do not fault in
 * again, at a page fault each); once what those left resident passes
 * PURGE_KEEP, a sweep purges it. So at most about PURGE_KEEP of them stays
 * resident, as glibc keeps a freed chunk below its mmap threshold in its
 * heap. A larger one is purged at once.
 */
static int window_unmap(void *p, size_t nr, void (*give)(phys_addr_t pa, void *arg), void *arg)
{
	uint64_t bytes = (uint64_t)nr * PAGE_SIZE;
	bool keep = bytes <= PURGE_KEEP;
	struct unmapping u = {p, bytes, keep, give, arg};
	long n = vmap_unmap(&vmap, va_of(p), nr, give_purged, &u);

	if (n >= 0 && keep)
		left_resident(va_of(p), va_of(p) + bytes);
	return n < 0 ? (int)n : 0;
}

/*
 * vmap_grow() moved a mapping: its bytes, which live at the host address
 * of its VA, follow it. From PURGE_MIN up the OS moves the pages
 * (mremap(), the old range left mapped and empty, as glibc's realloc()
 * of an mmapped chunk does): nothing copied, nothing resident twice.
 * Smaller ones, or where the OS cannot (a range over two OS mappings
 * before Linux 6.16, a kernel before 5.7), are copied. The old range is
 * not free VA yet.
 */
static void window_moved(struct vmap *v, uint64_t from, uint64_t to, uint64_t bytes)
{
	char *src = host_of(from), *dst = host_of(to);
	int saved = errno;

	(void)v;
	if (!reach(dst + bytes))
		shim_misuse("the OS refuses the memory a growing allocation moves to", src);
	/*
	 * A failed mremap() may have unmapped dst already (kernels before 6.16
	 * unmap it before they refuse a source over two OS mappings, which a
	 * block moved once is): laid over fresh for the copy.
	 */
	if (bytes < PURGE_MIN ||
	    mremap(src, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst) !=
		dst) {
		if (bytes >= PURGE_MIN && !fresh(dst, bytes))
			shim_misuse("the OS refuses the memory a growing allocation moves to", src);
		memcpy(dst, src, bytes);
	}
	if (bytes >= PURGE_MIN)
		purge(src, bytes); /* emptied or copied: fresh, to merge with its neighbours */
	else /* copied, left resident: noted (a sweep now finds it not free yet, and leaves it) */
		left_resident(from, from + bytes);
	errno = saved;
}

/*
 * In place if it can, else moved (window_moved() takes the bytes along).
 * Wherever vmap puts it (its first fit), the block ends below the reached
 * part's end plus a guard page, its alignment and its length: that much is
 * made writable first, so that an OS that refuses (ulimit -d, strict
 * overcommit) makes it -ENOMEM, realloc()'s NULL, before anything moved.
 * After that, a refusal (the OS out of mappings) would leave a block that
 * faults where its caller writes, so it is reported.
 */
static int window_grow(void *p, size_t nr, const phys_addr_t *more, size_t n_more, size_t align,
		       void **np)
{
	uint64_t bound = __atomic_load_n(&reached, __ATOMIC_ACQUIRE) + PAGE_SIZE +
			 (align > PAGE_SIZE ? align : 0) + (uint64_t)(nr + n_more) * PAGE_SIZE;
	uint64_t va;
	int err;

	if (!reach(window + MIN(bound, window_size)))
		return -ENOMEM;
	err = vmap_grow(&vmap, va_of(p), nr, more, n_more, align, true, &va);
	if (err)
		return err;
	if (!reach(host_of(va) + (nr + n_more) * PAGE_SIZE))
		shim_misuse("the OS refuses the memory of a growing allocation", p);
	kept_mapped(va, va + (nr + n_more) * PAGE_SIZE);
	*np = host_of(va);
	return 0;
}

/*
 * The tail's bytes, at the host addresses past the new end, are discarded
 * as a freed mapping's are (from PURGE_MIN up; smaller tails stay resident
 * for the next mapping there), before vmap frees their range.
 */
static int window_shrink(void *p, size_t nr, size_t keep, void (*give)(phys_addr_t pa, void *arg),
			 void *arg)
{
	uint64_t bytes = (uint64_t)(nr - keep) * PAGE_SIZE, tail = va_of(p) + keep * PAGE_SIZE;
	struct unmapping u = {(char *)p + keep * PAGE_SIZE, bytes, bytes < PURGE_MIN, give, arg};
	long n = vmap_shrink(&vmap, va_of(p), nr, keep, give_purged, &u);

	if (n >= 0 && bytes < PURGE_MIN)
		left_resident(tail, tail + bytes);
	return n < 0 ? (int)n : 0;
}

bool shim_window_zero(void *p, size_t bytes)
{
	uint64_t off = (uint64_t)((char *)p - window);
	int saved = errno;
	bool done;

	if (off >= window_size || !IS_ALIGNED(off, PAGE_SIZE))
		return false;
	done = madvise(p, ALIGN_UP(bytes, PAGE_SIZE), MADV_DONTNEED) == 0;
	errno = saved;
	return done;
}

struct sweep {
	uint64_t top;	      /* the window's reached part ends here */
	const struct kept *k; /* the parts to purge; NULL: every free range */
};

static void purge_part(uint64_t start, uint64_t end, uint64_t s, uint64_t e)
{
	s = MAX(s, start);
	e = MIN(e, end);
	if (s < e)
		purge(host_of(s), e - s);
}

static void purge_free(uint64_t start, uint64_t end, void *arg)
{
	const struct sweep *s = arg;

	end = MIN(end, s->top);
	if (start >= end)
		return;
	if (!s->k) {
		purge(host_of(start), end - start);
		return;
	}
	for (unsigned int i = 0; i < s->k->n; i++)
		purge_part(start, end, s->k->r[i].start, s->k->r[i].end);
	purge_part(start, end, s->k->cut_lo, s->k->cut_hi);
}

/* The free parts of k (NULL: every free range) back to the OS, under vmap's lock (none mapped). */
static void sweep(const struct kept *k)
{
	struct sweep s = {WINDOW_VA + __atomic_load_n(&reached, __ATOMIC_ACQUIRE), k};

	vmap_walk_free(&vmap, purge_free, &s);
}

void shim_window_purge(void)
{
	spin_lock(&kept_lock);
	kept_clear();
	spin_unlock(&kept_lock);
	sweep(NULL);
}

void shim_window_stats(struct shim_window_stats *s)
{
	s->reserved = window_size;
	s->reached = __atomic_load_n(&reached, __ATOMIC_ACQUIRE);
	s->purged = __atomic_load_n(&purged_bytes, __ATOMIC_RELAXED);
}

const struct heap_large_ops *shim_window_init(void)
{
	static struct heap_large_ops ops = {
	    .map = window_map,
	    .lookup = window_lookup,
	    .unmap = window_unmap,
	    .grow = window_grow,
	    .shrink = window_shrink,
	};

	/*
	 * Aligned to its size, as WINDOW_VA is (to 2^38): a host address keeps
	 * every alignment its VA has (a power-of-two size is aligned to
	 * itself: malloc(8 GiB) wants 8 GiB)
	 */
	window = shim_reserve(WINDOW_SIZE_MAX, WINDOW_SIZE_MIN, 0, 2, &window_size);
	if (!window)
		return NULL;
	if (mmu_space_init(&space, &pte_format_sv39, NULL, 0) < 0 ||
	    vmap_init(&vmap, &space, WINDOW_VA, window_size) < 0)
		return NULL;
	vmap.moved = window_moved;
	ops.base = (uintptr_t)window;
	ops.size = window_size;
	return &ops;
}
