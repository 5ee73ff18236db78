// SPDX-License-Identifier: MIT
/*
 * The C allocation API, with glibc's documented semantics (malloc(3),
 * posix_memalign(3), malloc_usable_size(3), malloc_trim(3)), on kmalloc():
 *
 * - every pointer is aligned to 16 (max_align_t): kmalloc() aligns sizes
 *   of 16 or more to at least 16, so smaller requests are made 16;
 * - failure: NULL with errno ENOMEM (sizes beyond what can exist, n * size
 *   overflowing, no memory); posix_memalign() returns the error instead and
 *   leaves errno alone; a bad alignment is EINVAL;
 * - calloc() of 128 KiB or more has the OS zero a large block's pages
 *   (madvise(MADV_DONTNEED)) instead of writing them: untouched, they cost
 *   nothing, as glibc's fresh mmap() chunks do;
 * - malloc(0) is a unique pointer; realloc(p, 0) frees p and returns NULL
 *   (glibc's choice); realloc(NULL, n) is malloc(n); a failed realloc()
 *   leaves p as it was;
 * - memalign(): an alignment of 16 or less is malloc() (0 included, as in
 *   glibc), another is rounded up to a power of two, as glibc does (EINVAL
 *   beyond SIZE_MAX / 2 + 1); aligned_alloc() wants a power of two
 *   (EINVAL for 0 and others, as glibc 2.38 and C17);
 *   valloc() and pvalloc() align to the page, pvalloc() rounds the size up
 *   to whole pages;
 * - free() of a pointer the heap did not hand out, a double free, or
 *   malloc_usable_size()/realloc() of a freed block: reported on stderr
 *   with the address, then abort().
 * - with the debug hardening tier (libmemcore-debug.so), every object has
 *   redzones, is poisoned and quarantined when freed (mm/heap/heap_debug.c), and
 *   the call sites a report gives are the program's: each API function
 *   passes its return address down.
 *
 * C++'s operator new and delete reach these through libstdc++. glibc's
 * own names for them (__libc_malloc() and the rest, which some programs
 * and libraries call) are ours too, so no pointer of ours reaches glibc's
 * free() nor one of glibc's ours; mallinfo2(), mallinfo(), malloc_stats()
 * and mallopt() (accepted, ignored) answer for our heap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <mm/buddy.h>
#include <mm/kmalloc.h>
#include <string.h>
#include <unistd.h>

#include "../mm/heap/heap_harden.h"
#include "../mm/heap/heap_internal.h"
#include "memcore.h"
#ifdef CONFIG_HEAP_PER_HART_SLAB /* build.mk: this object is the per-hart heaps' library's */
#include "../mm/heap/hart/heap_hart.h"
#endif

#define DEBUG_TIER (HEAP_HARDEN == HEAP_HARDEN_DEBUG)
#define CALLER	   __builtin_return_address(0)

struct frame; /* mm/'s, for the per-hart heaps' inline free (below) */

/* From here on calloc() has the OS zero a large block (cheaper than writing it). */
#define CALLOC_DROP_MIN (128UL << 10)

static inline size_t shim_size(size_t size)
{
	return size < SHIM_MIN_ALIGN ? SHIM_MIN_ALIGN : size;
}

/* Out of line: its errno call would make the fast paths keep the result in a saved register. */
static __attribute__((noinline, cold)) void *nomem(void)
{
	errno = ENOMEM;
	return NULL;
}

/*
 * The exported functions call these, not each other: no call through the
 * PLT inside. caller: the program's call site (the debug tier records it).
 */
static __attribute__((noinline)) void *malloc_slow(size_t size, const void *caller);
static __attribute__((noinline)) void free_slow(void *p, const void *caller);

/*
 * The per-hart heaps' fast paths inline (heap_hart.h), with the heap read
 * from the hart the bias gave: no call, one thread-local read. They do the
 * whole job or nothing; kmalloc() and kfree() do the rest. The hart has
 * its heap: every hart gets one at the boot (which aborts if the switch
 * fails), and a thread gets a bias only after it (attach()).
 */
#if defined(CONFIG_HEAP_PER_HART_SLAB) && HEAP_FRONT_EMPTY
#define SHIM_INLINE_HEAP 1
/*
 * The heap's class of each size as malloc() asks it: the heap's own, with
 * 16 bytes at least (the alignment every pointer has), so that the fast
 * path needs no rounding. Set at the boot, before any thread has a bias.
 */
static uint8_t class_of_size[HEAP_FAST_MAX_SIZE + 1];

void shim_malloc_boot(void)
{
	for (size_t size = 0; size <= HEAP_FAST_MAX_SIZE; size++)
		class_of_size[size] = (uint8_t)slab_class_fast(shim_size(size));
}

static inline void *malloc_cached(struct hart_slot *h, size_t size)
{
	if (likely(size <= HEAP_FAST_MAX_SIZE))
		return heap_kmalloc_cached_class(h->local.mm, class_of_size[size]);
	return NULL;
}

static inline bool free_cached(struct hart_slot *h, void *p, const struct frame **other)
{
	return heap_kfree_cached(h->local.mm, p, other);
}

/* Another hart's object, straight to its owner's queue (kfree() would find it so again). */
static inline bool free_other(struct hart_slot *h, void *p, const struct frame *other)
{
	return heap_free_remote_window(h->local.mm, (uintptr_t)p, other);
}
#else
#define SHIM_INLINE_HEAP 0
void shim_malloc_boot(void)
{
}

static inline void *malloc_cached(struct hart_slot *h, size_t size)
{
	(void)h, (void)size;
	return NULL;
}

static inline bool free_cached(struct hart_slot *h, void *p, const struct frame **other)
{
	(void)h, (void)p;
	*other = NULL;
	return false;
}

static inline bool free_other(struct hart_slot *h, void *p, const struct frame *other)
{
	(void)h, (void)p, (void)other;
	return false;
}
#endif

/*
 * kmalloc() and kfree() for the holder of h's bias, then h let go. Out of
 * line: only they keep h across a call (in a saved register), not the
 * fast paths that call them.
 */
static __attribute__((noinline)) void *malloc_biased(struct hart_slot *h, size_t size)
{
	void *p = kmalloc(shim_size(size));

	shim_bias_leave(h);
	return likely(p) ? p : nomem();
}

static __attribute__((noinline)) void free_biased(struct hart_slot *h, void *p,
						  const struct frame *other)
{
	if (!other || !free_other(h, p, other))
		kfree(p); /* shim_op NULL: free is the default */
	shim_bias_leave(h);
}

/*
 * malloc() and free() with the bias: the cached object inline, else
 * kmalloc() or kfree() with the bias held. The rest, and every other
 * call, takes whichever way shim_enter() finds.
 */
static inline __attribute__((always_inline)) void *do_malloc(size_t size, const void *caller)
{
	struct hart_slot *h;
	void *p;

	if (DEBUG_TIER || !(h = shim_bias_enter()))
		return malloc_slow(size, caller);
	if (!SHIM_INLINE_HEAP) { /* the other strategies: kmalloc() is their fast path */
		p = kmalloc(shim_size(size));
		shim_bias_leave(h);
		return likely(p) ? p : nomem();
	}
	p = malloc_cached(h, size);
	if (unlikely(!p))
		return malloc_biased(h, size);
	shim_bias_leave(h);
	return p;
}

static inline __attribute__((always_inline)) void do_free(void *p, const void *caller)
{
	struct hart_slot *h;
	const struct frame *other;

	if (!p) /* before the bias: a signal handler's inside a call must not let it go */
		return;
	if (DEBUG_TIER || !(h = shim_bias_enter())) {
		free_slow(p, caller);
		return;
	}
	if (!SHIM_INLINE_HEAP) {
		kfree(p); /* shim_op NULL: free is the default */
		shim_bias_leave(h);
		return;
	}
	if (unlikely(!free_cached(h, p, &other))) {
		free_biased(h, p, other);
		return;
	}
	shim_bias_leave(h);
}

static __attribute__((noinline)) void *malloc_slow(size_t size, const void *caller)
{
	struct hart_slot *h = shim_enter();
	void *p;

	if (DEBUG_TIER)
		shim_op = "malloc"; /* a freed object it pushes out of the quarantine may be damaged */
	p = DEBUG_TIER ? kmalloc_caller(shim_size(size), 0, caller) : kmalloc(shim_size(size));
	if (DEBUG_TIER)
		shim_op = NULL;
	shim_leave(h);
	return likely(p) ? p : nomem();
}

static __attribute__((noinline)) void free_slow(void *p, const void *caller)
{
	struct hart_slot *h = shim_enter();

	if (DEBUG_TIER)
		kfree_caller(p, caller);
	else
		kfree(p);
	shim_leave(h);
}

static void *do_realloc(void *p, size_t size, const void *caller)
{
	struct hart_slot *h;
	void *n;

	if (!p)
		return do_malloc(size, caller);
	if (!size) {
		do_free(p, caller);
		return NULL;
	}
	h = shim_enter();
	shim_op = "realloc";
	n = DEBUG_TIER ? krealloc_caller(p, shim_size(size), caller) : krealloc(p, shim_size(size));
	shim_op = NULL;
	shim_leave(h);
	return n ? n : nomem();
}

/* align a power of two; NULL (errno untouched) if there is no memory. */
static void *do_aligned(size_t align, size_t size, const void *caller)
{
	struct hart_slot *h;
	void *p;

	if (align <= SHIM_MIN_ALIGN)
		return do_malloc(size, caller);
	h = shim_enter();
	if (DEBUG_TIER)
		shim_op = "malloc";
	p = DEBUG_TIER ? kmalloc_caller(shim_size(size), align, caller)
		       : kmalloc_aligned(shim_size(size), align);
	if (DEBUG_TIER)
		shim_op = NULL;
	shim_leave(h);
	return p ? p : nomem();
}

API void *malloc(size_t size)
{
	return do_malloc(size, CALLER);
}

API void free(void *p)
{
	do_free(p, CALLER);
}

API void *calloc(size_t n, size_t size)
{
	size_t bytes;
	void *p;

	if (__builtin_mul_overflow(n, size, &bytes))
		return nomem();
	p = do_malloc(bytes, CALLER);
	/* a large block is zeroed by the OS: pages a program never writes cost it nothing */
	if (p && (bytes < CALLOC_DROP_MIN || !shim_window_zero(p, bytes)))
		memset(p, 0, bytes);
	return p;
}

API void *realloc(void *p, size_t size)
{
	return do_realloc(p, size, CALLER);
}

API void *reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return nomem();
	return do_realloc(p, bytes, CALLER);
}

API int posix_memalign(void **out, size_t align, size_t size)
{
	int saved = errno;
	void *p;

	if (align % sizeof(void *) || !IS_POWER_OF_2(align))
		return EINVAL;
	p = do_aligned(align, size, CALLER);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

API void *aligned_alloc(size_t align, size_t size)
{
	if (!IS_POWER_OF_2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return do_aligned(align, size, CALLER);
}

API void *memalign(size_t align, size_t size)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align > SHIM_MIN_ALIGN && !IS_POWER_OF_2(align))
		align = (size_t)1 << (64 - __builtin_clzl(align)); /* the next power of two */
	return do_aligned(align, size, CALLER);
}

API void *valloc(size_t size)
{
	return do_aligned((size_t)getpagesize(), size, CALLER);
}

API void *pvalloc(size_t size)
{
	size_t page = (size_t)getpagesize();

	if (size > SIZE_MAX - (page - 1))
		return nomem();
	return do_aligned(page, ALIGN_UP(size, page), CALLER);
}

API size_t malloc_usable_size(void *p)
{
	struct hart_slot *h;
	size_t n;

	if (!p)
		return 0;
	h = shim_enter();
	shim_op = "malloc_usable_size";
	n = ksize(p);
	shim_op = NULL;
	shim_leave(h);
	return n;
}

/*
 * glibc's malloc_trim(): gives back what the heap holds without using it.
 * pad is glibc's (memory to keep at the top of its heap): ours has no top.
 */
API int malloc_trim(size_t pad)
{
	struct hart_slot *h = shim_enter();
	uint64_t before = buddy_free_frames();
	uint64_t reported;

	(void)pad;
	shim_op = "malloc_trim";
	heap_quarantine_flush();
	heap_trim();
	shim_window_purge();
	reported = buddy_report_free();
	shim_op = NULL;
	shim_leave(h);
	return buddy_free_frames() > before || reported > 0;
}

/*
 * What glibc's mallinfo2() says of its arenas, of our heap: arena the
 * memory it holds, uordblks what is allocated of it (its blocks' sizes),
 * fordblks the rest; hblks and hblkhd the large blocks and their bytes,
 * as glibc's mmapped chunks.
 */
API struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 m = {0};
	struct heap_large_stats l;
	struct heap_usage u;

	heap_usage(&u);
	heap_large_stats(&l);
	m.arena = (size_t)u.frames * PAGE_SIZE;
	m.uordblks = (size_t)u.bytes;
	m.fordblks = m.arena > m.uordblks ? m.arena - m.uordblks : 0;
	m.ordblks = 1;
	m.hblks = (size_t)l.allocations;
	m.hblkhd = (size_t)l.pages * PAGE_SIZE;
	return m;
}

/* mallinfo2() in glibc's older ints, which it clamps as glibc does (at INT_MAX). */
API struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo m = {0};

	m.arena = (int)MIN(m2.arena, (size_t)INT_MAX);
	m.uordblks = (int)MIN(m2.uordblks, (size_t)INT_MAX);
	m.fordblks = (int)MIN(m2.fordblks, (size_t)INT_MAX);
	m.ordblks = (int)m2.ordblks;
	m.hblks = (int)MIN(m2.hblks, (size_t)INT_MAX);
	m.hblkhd = (int)MIN(m2.hblkhd, (size_t)INT_MAX);
	return m;
}

/* glibc's tuning knobs have nothing to tune here: accepted (1), as tcmalloc does. */
API int mallopt(int param, int value)
{
	(void)param;
	(void)value;
	return 1;
}

/* What the heap holds, on stderr (MEMCORE_STATS=1's lines). */
API void malloc_stats(void)
{
	shim_print_stats();
}

/*
 * glibc's internal names, which some programs call: tail calls (the
 * caller's return address is the program's, for the debug tier's sites).
 */
API void *__libc_malloc(size_t size)
{
	return malloc(size);
}

API void __libc_free(void *p)
{
	free(p);
}

API void *__libc_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

API void *__libc_realloc(void *p, size_t size)
{
	return realloc(p, size);
}

API void *__libc_memalign(size_t align, size_t size)
{
	return memalign(align, size);
}

API void *__libc_valloc(size_t size)
{
	return valloc(size);
}

API void *__libc_pvalloc(size_t size)
{
	return pvalloc(size);
}

/* Boots at load time, on the main thread, before the program's first call. */
__attribute__((constructor)) static void memcore_load(void)
{
	shim_leave(shim_enter());
}
