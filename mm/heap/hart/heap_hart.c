// SPDX-License-Identifier: MIT
/*
 * The per-hart heaps (Theseus's multiple_heaps with zone allocators).
 *
 * A hart allocates and frees in its own heap without locks: a class's
 * partial list, the page's bitmap and counts are its own. A hart freeing an
 * object of another heap's page swaps its mark into the object's first
 * word (heap_hart.h: which also catches a second free of it), marks the
 * object in the page's pending bitmap (one atomic OR) and puts it in that
 * heap's inbox, a ring of objects (a compare-and-swap of its tail, then a
 * store); the inbox full, it pushes it on the heap's remote stack (a
 * compare-and-swap). The owner takes the inbox in order and the whole
 * stack with one exchange (drain()) when a cache of it runs dry, at a
 * free that misses its fast paths, when it goes idle (heap_idle()) or
 * when a class runs short, and frees each object as its own: into its
 * class's cache while that has room when a cache ran dry or a free took
 * the queue (the next allocations hand it out from there), else, and
 * always when idle, trimming or short of pages, into its page. Its fast
 * paths do not look. Pushes only and a take-all never meet the ABA
 * problem of a lock-free pop.
 *
 * In front of the pages, each class has the hart's cache of free objects,
 * a stack of them (heap_hart.h says how it keeps every double free
 * reported): allocations
 * take from it and the owner's frees go to it; it is refilled from the
 * first partial page a bitmap word at a time (cache_fill()), and a free
 * that finds it full goes to the page (heap_free_own()).
 *
 * Pages: a class keeps the first of its pages to empty (its spare), so
 * that an allocation and a free that empty and refill one page over and
 * over touch nothing but that page; another page whose last object is
 * freed leaves its class for the heap's list of empty pages (a
 * test-and-set lock, taken per page, never per object). A class short of
 * pages takes, in order: an empty page of its own heap (from any class,
 * reformatted), one stolen from another hart's empty list, a new one from
 * the buddy; out of memory, its heap's spares and the frees waiting in
 * other harts' queues (heap_reclaim()). A page changes heap only from an
 * empty list, with no object allocated and no free queued. Above
 * HEAP_EMPTY_HIGH empty pages, a heap gives pages back to the buddy until
 * HEAP_EMPTY_LOW remain.
 *
 * Frees of one object compete for its first word, each with an atomic
 * swap (the owner's an exchange, tag_claim(); a remote one a
 * compare-and-swap from what it read, heap_free_remote_at()): of two
 * racing frees exactly one goes on, the other is reported.
 */
#include <mm/buddy.h>
#include <mm/port.h>
#include <string.h>

#include "../../buddy/buddy_internal.h"
#include "heap_hart.h"

struct heap *heaps;
unsigned int heap_nr_harts;
uintptr_t heap_tag_key;

/*
 * A class's cache holds up to 64 objects and HEAP_CACHE_BYTES (32 KiB by
 * default), at least 4: enough that a burst of frees and allocations of a
 * few dozen objects stays in it, little enough that a hart's caches hold
 * at most ~285 KiB (CONFIG_HEAP_CACHE_KB says what more buys).
 */
static uint32_t cache_max(unsigned int cls)
{
	return HEAP_CACHE_MAX(slab_geom[cls].size);
}

/*
 * kfree()'s fast path looks frames up in one bank's direct-map window:
 * bank b's slab pages (8 KiB heads, two frames) at [win_lo, win_lo +
 * win_size), the head of pointer a's page at frame_bias + (a >> 13 << 5).
 * It follows the bank of the last page formatted outside it (banks stay
 * once added); a pointer outside it goes the slow way.
 */
static void heap_set_window(struct heap *h, const struct buddy_bank *b)
{
	uint64_t first = ALIGN_UP(b->base_pfn, 2), end = b->base_pfn + b->nr_frames;
	uintptr_t va0 = (uintptr_t)phys_to_virt(pfn_to_pa(b->base_pfn));

	_Static_assert(HEAP_SLAB_SIZE == 2 * PAGE_SIZE && sizeof(struct frame) == 16,
		       "free_fast()'s frame arithmetic");
	h->win_lo = first < end ? (uintptr_t)phys_to_virt(pfn_to_pa(first)) : 0;
	h->win_size = first < end ? (uintptr_t)(end - first) << PAGE_SHIFT : 0;
	h->frame_bias = (uintptr_t)b->frames - (va0 >> PAGE_SHIFT) * sizeof(struct frame);
}

static void *const no_cache[2]; /* its bottom, and the NULL past it: full (cache_full()) */

/* splitmix64's finaliser */
static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * The heaps that have empty pages, a bit each: a hart that steals reads
 * these words, not the empty count of every heap (512 cache lines at 512
 * harts, each written by its owner). A bit may be stale either way for a
 * moment; it is a hint, and the heap's lock decides.
 */
static uint64_t heaps_with_empty[(MAX_HARTS + 63) / 64];

/*
 * One heap per hart the switch names, not per hart there could be
 * (MAX_HARTS: about 13 KiB each with the default Kconfig), in pages of the buddy's. A reset forgets
 * them: the kernel switches once, and a test's next machine has a buddy of its own (the old one's
 * memory went with its arena).
 */
static struct heap *heaps_alloc(unsigned int nr_harts)
{
	uint64_t frames = ((uint64_t)nr_harts * sizeof(struct heap) + PAGE_SIZE - 1) >> PAGE_SHIFT;
	phys_addr_t pa;

	if (buddy_alloc_range(frames, 0, BUDDY_NO_LIMIT, &pa) < 0)
		return NULL;
	return phys_to_virt(pa);
}

int heaps_reset(unsigned int nr_harts)
{
	struct heap *all = NULL;

	__atomic_store_n(&heap_nr_harts, 0, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < MAX_HARTS; i++)
		__atomic_store_n(hart_mm_slot(i), NULL, __ATOMIC_RELEASE);
	heaps = NULL;
	memset(heaps_with_empty, 0, sizeof(heaps_with_empty));
	if (nr_harts > MAX_HARTS || (nr_harts && !(all = heaps_alloc(nr_harts))))
		return nr_harts > MAX_HARTS ? -EINVAL : -ENOMEM;
	/* no entropy here: the key makes a stray write unlikely to forge a tag, it is no secret */
	/*
	 * Bits 54-63 of the key neither all 0 nor all 1, so that a word of 0, a
	 * small number or a pointer near the object (top bits as its own, on
	 * the host and in a kernel's upper half alike) never looks like a tag
	 * or a link to the owner's free (heap_hart.h), which would send it
	 * the slow way.
	 */
	heap_tag_key =
	    (mix64((uintptr_t)all ^ (uintptr_t)&heap_tag_key) & ~(1ULL << 61)) | 1ULL << 60;
	for (unsigned int i = 0; i < nr_harts; i++) {
		struct heap *h = &all[i];
		void **slot = h->mag;

		/*
		 * The table of classes is copied over, not cleared first (4 KiB a
		 * hart); the caches' slots are all set below (heap_hart.h says
		 * why the ones above a top must not be NULL).
		 */
		memset(h, 0, offsetof(struct heap, class_of_size));
		memset(h->blocks, 0, offsetof(struct heap, mag) - offsetof(struct heap, blocks));
		memset(h->mid, 0, sizeof(h->mid));
		memset(h->mid_nr, 0, sizeof(h->mid_nr));
		memset(h->in_slot, 0, sizeof(h->in_slot));

		h->id = i;
		h->frame_state = frame_state_make(FRAME_SLAB, SLAB_ORDER, i);
		h->tag_key = heap_tag_key;
		memcpy(h->class_of_size, slab_class_of_size, sizeof(h->class_of_size));
		heap_set_window(h, buddy_top()); /* the buddy has a bank: it gave us these */
		/* not NULL: a slot above a stack's top, which cache_full() reads */
		for (unsigned int j = 0; j < HEAP_MAG_SLOTS; j++)
			h->mag[j] = (void *)1;
		for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
			struct heap_class *k = &h->cls[c];

			k->objs_end =
			    ((uint64_t)(slab_geom[c].nr_objs - 1) << slab_geom[c].shift | 1)
			    << HEAP_OFF_SHIFT;
			*slot = NULL; /* its bottom: the cache is empty */
			k->top = k->base = slot + 1;
			k->full = k->base + cache_max(c);
			slot = k->full; /* HEAP_MAG_SLOTS counts them so: at most mag[]'s end */
			k->link_mask = slab_geom[c].shift ? (1u << slab_geom[c].shift) - 1
							  : HEAP_SLAB_SIZE - 1;
			k->shift = slab_geom[c].shift;
			k->pending_at = HEAP_SLAB_SIZE - sizeof(struct slab) - 8 * slab_geom[c].words;
			k->alloc_at = k->pending_at - 8 * slab_geom[c].words;
		}
		*slot = NULL; /* past the last stack: it is full at its end too */
		/* HEAP_NO_CLASS caches nothing: empty and full */
		h->cls[HEAP_NO_CLASS].top = h->cls[HEAP_NO_CLASS].full =
		    h->cls[HEAP_NO_CLASS].base = (void **)&no_cache[1];
	}
	/* last: this_heap() finds the heaps ready once it sees them */
	__atomic_store_n(&heaps, all, __ATOMIC_RELEASE);
	__atomic_store_n(&heap_nr_harts, nr_harts, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < nr_harts; i++)
		__atomic_store_n(hart_mm_slot(i), (void *)&heaps[i], __ATOMIC_RELEASE);
	return 0;
}

/* ---- the partial lists (the owner's) --------------------------------------- */

static void partial_unlink(struct heap_class *k, struct slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		k->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* ---- empty pages ------------------------------------------------------------ */

static phys_addr_t page_pa(struct slab *s)
{
	return virt_to_phys(slab_page(s));
}

/* h->nr_empty changed (h's lock held): its bit follows whether it is 0. */
static void empty_mark(struct heap *h)
{
	uint64_t *w = &heaps_with_empty[h->id / 64], bit = 1ULL << (h->id % 64);
	bool set = __atomic_load_n(w, __ATOMIC_RELAXED) & bit;

	if (h->nr_empty && !set)
		__atomic_fetch_or(w, bit, __ATOMIC_RELAXED);
	else if (!h->nr_empty && set)
		__atomic_fetch_and(w, ~bit, __ATOMIC_RELAXED);
}

static struct slab *empty_pop(struct heap *h)
{
	struct slab *s;

	tas_lock(&h->lock);
	s = h->empty;
	if (s) {
		h->empty = s->next;
		__atomic_store_n(&h->nr_empty, h->nr_empty - 1, __ATOMIC_RELAXED);
		empty_mark(h);
	}
	tas_unlock(&h->lock);
	return s;
}

/* Takes pages off h's empty list until keep remain; returns them chained. */
static struct slab *empty_cut(struct heap *h, uint64_t keep)
{
	struct slab *cut = NULL;

	while (h->nr_empty > keep) {
		struct slab *s = h->empty;

		h->empty = s->next;
		s->next = cut;
		cut = s;
		__atomic_store_n(&h->nr_empty, h->nr_empty - 1, __ATOMIC_RELAXED);
		h->pages_to_buddy++;
	}
	empty_mark(h);
	return cut;
}

static void give_to_buddy(struct slab *list)
{
	while (list) {
		struct slab *next = list->next;

		buddy_free(page_pa(list), SLAB_ORDER);
		list = next;
	}
}

/* A page of h's with no object left: onto the empty list, and the excess to the buddy. */
static void empty_push(struct heap *h, struct slab *s)
{
	struct slab *excess = NULL;

	s->cls = SLAB_NO_CLASS; /* a free into it now is a double free */
	if (!HEAP_FREE_TAGS)	/* the tier without free tags keeps frees out here */
		frame_set_owner(page_pa(s), SLAB_ORDER, FRAME_SLAB, h->id,
				HEAP_SLAB_FRAME_AUX(HEAP_NO_CLASS));
	tas_lock(&h->lock);
	s->next = h->empty;
	h->empty = s;
	__atomic_store_n(&h->nr_empty, h->nr_empty + 1, __ATOMIC_RELAXED);
	if (h->nr_empty > HEAP_EMPTY_HIGH)
		excess = empty_cut(h, HEAP_EMPTY_LOW);
	else
		empty_mark(h);
	tas_unlock(&h->lock);
	give_to_buddy(excess);
}

static void release_empty(struct heap *h);
static void drain_to_pages(struct heap *h);

/* ---- the trailer's check ------------------------------------------------------ */

/*
 * slab_check() found s's trailer not as a page of class cls has it (the
 * class the caller knows from the frame or from how it found the page,
 * out of the page's reach: an overflow long enough reaches the trailer's
 * own class). The overflow is reported, naming the page's last object.
 * The report is a panic in a kernel and an abort in libmemcore; the host's
 * tests go on after it, so the trailer's fixed fields and canary are
 * written back from the class's shape, which makes an overflow that
 * stopped in the canary one report and no damage. One that went on into
 * the bitmaps has done damage that nothing here can undo.
 */
__attribute__((noinline)) bool slab_check_slow(struct slab *s, unsigned int cls)
{
	const struct slab_geom *g = &slab_geom[cls];
	uint64_t *canary = (uint64_t *)s - 2 * g->words - 1;
	char *page = slab_page(s);

	if (*canary == slab_canary_value(canary) && s->cls == cls && s->words == g->words)
		return true;
	heap_misuse("overflow into its slab page's trailer (past the page's last object)",
		    page + ((size_t)(g->nr_objs - 1) << g->shift));
	s->cls = (uint8_t)cls;
	s->words = g->words;
	s->nr_objs = g->nr_objs;
	s->shift = g->shift;
	s->magic = slab_magic(virt_to_phys(page));
	*canary = slab_canary_value(canary);
	return false;
}

/*
 * A misuse the bitmaps of s seem to show, what about p: reported, unless
 * the trailer holding them is overwritten, which is reported instead. Only
 * the owner looks (another hart's free may race with the owner formatting
 * the page again, and must not write to it): the owner's next allocation
 * from the page finds an overflow anyway.
 */
__attribute__((noinline)) void slab_report(struct slab *s, const char *what, const void *p)
{
	const struct heap *h = this_heap();

	if (h && s->heap == h->id && s->cls < HEAP_NR_CLASSES && !slab_check(s, s->cls))
		return;
	heap_misuse(what, p);
}

/* ---- getting a page for a class -------------------------------------------- */

/* Formats s for (h, cls) and makes the frame metadata say so, if it said otherwise. */
static void page_assign(struct heap *h, struct slab *s, unsigned int cls, bool new_owner)
{
	uintptr_t page = (uintptr_t)slab_page(s);

	slab_format(s, h->id, cls);
	if (page - h->win_lo >= h->win_size) {
		uint32_t i;
		const struct buddy_bank *b = bank_of_pfn(pa_to_pfn(page_pa(s)), &i);

		if (b)
			heap_set_window(h, b);
	}
	/*
	 * The frame names the page's last class while the page is empty
	 * (a free into it finds a free tag), or none (tier off).
	 */
	if (new_owner || s->frame_cls != cls || !HEAP_FREE_TAGS)
		frame_set_owner(page_pa(s), SLAB_ORDER, FRAME_SLAB, h->id,
				HEAP_SLAB_FRAME_AUX(cls));
	s->frame_cls = (uint8_t)cls;
}

/*
 * Whether a heap but h may have empty pages: a load per 64 heaps, where
 * steal()'s round costs a division per word it looks at. When none has
 * (one hart allocates, the others are idle or trimmed), every page that
 * hart takes from the buddy would otherwise pay for that round first.
 */
static bool others_have_empty(const struct heap *h, unsigned int n)
{
	for (unsigned int w = 0; w < (n + 63) / 64; w++) {
		uint64_t bits = __atomic_load_n(&heaps_with_empty[w], __ATOMIC_RELAXED);

		if (w == h->id / 64)
			bits &= ~(1ULL << (h->id % 64));
		if (bits)
			return true;
	}
	return false;
}

/*
 * An empty page of another heap on h's NUMA node (near), or on another
 * node (!near): a page of a far heap is taken only once the buddy has
 * nothing, not even on the other nodes.
 */
static struct slab *steal(struct heap *h, bool near)
{
	unsigned int node = numa_hart_node(h->id), n = heap_nr_harts;

	if (n < 2 || !others_have_empty(h, n))
		return NULL;
	for (unsigned int i = 1; i < n; i++) {
		unsigned int id;
		struct slab *s;

		i += bits_next_around(heaps_with_empty, n, (h->id + i) % n);
		if (i >= n) /* round to h itself */
			break;
		id = (h->id + i) % n;
		if ((numa_hart_node(id) == node) != near)
			continue;
		s = empty_pop(&heaps[id]);
		if (s) {
			h->pages_stolen++;
			return s;
		}
	}
	return NULL;
}

static struct slab *from_buddy(struct heap *h, unsigned int cls)
{
	phys_addr_t pa;
	struct slab *s;

	if (buddy_alloc(SLAB_ORDER, &pa) < 0)
		return NULL;
	s = slab_of_page(phys_to_virt(pa));
	page_assign(h, s, cls, true);
	h->pages_from_buddy++;
	return s;
}

/* Class cls has no page with a free object: find one, or NULL. */
static __attribute__((noinline)) struct slab *class_refill(struct heap *h, unsigned int cls)
{
	struct heap_class *k = &h->cls[cls];
	struct slab *s;

	/*
	 * Frees other harts queued may give this class room, or empty pages:
	 * into the pages, where this looks (not the cache, which an
	 * allocation short of memory would pass by).
	 */
	if (heap_has_queue(h)) {
		drain_to_pages(h);
		if (k->partial)
			return k->partial;
	}
	s = empty_pop(h);
	if (s) {
		if (s->frame_cls != cls)
			h->pages_reused++;
		page_assign(h, s, cls, false);
	} else if ((s = steal(h, true))) {
		page_assign(h, s, cls, true);
	} else if ((s = from_buddy(h, cls))) {
		;
	} else if (numa_nr_nodes() > 1 && (s = steal(h, false))) {
		page_assign(h, s, cls, true);
	} else {
		return NULL;
	}
	h->cls_pages[cls]++;
	partial_push(k, s);
	return s;
}

/*
 * Up to n more free objects of s, the first page of k's partial list, into
 * k's cache, a word of the bitmap at a time. Their free tags stay: a
 * remote free of one reads the tag and is refused.
 */
static void cache_fill(struct heap *h, struct heap_class *k, struct slab *s, unsigned int n)
{
	uint64_t *alloc = slab_alloc_map(s);

	for (unsigned int w = s->hint; n && w < s->words; w++) {
		uint64_t f = ~alloc[w]; /* the word's free objects, the lowest n of them taken */
		unsigned int got = 0;
		void **top = k->top;

		for (; f && got < n; f &= f - 1, got++)
			*top++ = slab_object(s, w * 64 + low_bit64(f));
		if (!got)
			continue;
		HEAP_WRITE_ONCE(alloc[w], ~f);
		k->top = top;
		s->hint = (uint16_t)w;
		s->in_use = (uint16_t)(s->in_use + got);
		h->cls_objs[k - h->cls] += got;
		n -= got;
	}
	if (s->in_use == s->nr_objs) { /* full: off the list until a free */
		k->partial = s->next;
		if (s->next)
			s->next->prev = NULL;
	}
}

/* An object of class cls, the cache refilled with half as many again as it holds at most. */
void *heap_alloc(struct heap *h, unsigned int cls)
{
	struct heap_class *k = &h->cls[cls];
	struct slab *s;
	void *p;

	if (unlikely(heap_has_queue(h)))
		drain_to_pages(h); /* the class's cache is empty: its pages are what is taken */
	s = k->partial;
	if (unlikely(!s)) {
		s = class_refill(h, cls);
		if (!s) { /* out of memory: first this heap's spares, then other harts' queues */
			release_empty(h);
			s = class_refill(h, cls);
		}
		if (!s && heap_reclaim())
			s = class_refill(h, cls);
		if (!s)
			return NULL;
	}
	slab_check(s, cls); /* before its bitmap says which objects are free */
	p = class_take(k, s);
	if (HEAP_FREE_TAGS)
		*(uintptr_t *)p = 0; /* its tag, as cache_take() */
	h->cls_objs[cls]++;
	if (HEAP_COUNT_ALLOCS)
		k->allocs++;
	if (k->partial && cache_count(k) < cache_max(cls) / 2 &&
	    (k->partial == s || slab_check(k->partial, cls)))
		cache_fill(h, k, k->partial, cache_max(cls) / 2 - cache_count(k));
	return p;
}

/* ---- frees ------------------------------------------------------------------ */

/*
 * Whether the empty page s may leave its heap: no other hart's free of one
 * of its objects still queued. A free racing with ours (a double free) may
 * have set a pending bit that its queue still holds: such a page must stay
 * until that entry is taken. heap_free_remote() sets the pending bit and then
 * reads the alloc bit, both sequentially consistent; here each alloc word
 * we cleared is touched by a sequentially consistent no-op RMW before the
 * pending bits are read (a fence would do, but ThreadSanitizer cannot see
 * fences). So either that hart sees the cleared bit and queues nothing,
 * or we see its pending bit.
 */
static bool page_settled(struct slab *s)
{
	for (unsigned int w = 0; w < s->words; w++)
		__atomic_fetch_or(&slab_alloc_map(s)[w], 0, __ATOMIC_SEQ_CST);
	return slab_pending_empty(s);
}

/* s, empty and settled, leaves class k for the heap's empty list. */
static void page_release(struct heap *h, struct heap_class *k, struct slab *s)
{
	partial_unlink(k, s);
	h->cls_pages[k - h->cls]--;
	empty_push(h, s);
}

/*
 * The last object of s went. A class keeps one empty page (its spare) on
 * its partial list, so that an allocation and a free that empty and refill
 * a page over and over touch nothing but the page; a second empty page
 * leaves for the heap's empty list, where other classes and harts find it.
 */
static void page_emptied(struct heap *h, struct heap_class *k, struct slab *s)
{
	if (s == h->spare[k - h->cls])
		return;
	if (!h->spare[k - h->cls] || h->spare[k - h->cls]->in_use) {
		h->spare[k - h->cls] = s;
		return;
	}
	if (page_settled(s))
		page_release(h, k, s);
}

/*
 * A free of object idx of s (p) into its page, by the owner:
 * - FREE_OWN: the owner's free, claimed here (tag_claim(), or slab_claim()
 *   in the tier without free tags);
 * - FREE_QUEUED: another hart's, taken from the queue, holding the
 *   pending bit: the allocation bit is cleared first, then the object
 *   gets its free tag, then the pending bit goes, so that a further free
 *   of the object from elsewhere sees one or the other and is reported;
 * - FREE_CACHED: from the cache, whose objects have their tags already;
 * - FREE_OWN_CACHED: from the cache of the tier without tags, claimed here;
 * - FREE_CLAIMED: the owner's free whose tag the caller swapped in.
 */
enum free_kind {
	FREE_OWN,
	FREE_QUEUED,
	FREE_CACHED,
	FREE_OWN_CACHED,
	FREE_CLAIMED,
};

/* Inline: each caller's kind is a constant, and the drain's loop runs it for every queued free. */
static inline __attribute__((always_inline)) void
local_free(struct heap *h, struct slab *s, unsigned int idx, void *p, enum free_kind kind)
{
	/*
	 * FREE_CLAIMED's caller found s in a class; for the others a page
	 * between classes (SLAB_NO_CLASS) has no k: slab_claim() finds
	 * nothing allocated.
	 */
	struct heap_class *k = &h->cls[kind == FREE_CLAIMED ? s->cls : MIN(s->cls, HEAP_NO_CLASS)];
	unsigned int w = idx / 64;
	uint64_t bit = 1ULL << (idx % 64), *alloc = &slab_alloc_map(s)[w], a;
	bool tagged = kind == FREE_OWN && HEAP_FREE_TAGS && s->cls < HEAP_NR_CLASSES;

	if (kind != FREE_CLAIMED &&
	    unlikely(s->cls >= HEAP_NR_CLASSES && s->cls != SLAB_NO_CLASS)) {
		heap_misuse("slab page trailer overwritten", slab_page(s));
		return;
	}
	if (tagged && !tag_claim(h, k, p))
		return;
	if (kind == FREE_QUEUED || kind == FREE_CACHED || kind == FREE_CLAIMED || tagged) {
		a = *alloc;
		HEAP_WRITE_ONCE(*alloc, a & ~bit);
		HEAP_RACE(RACE_DRAIN_CLEARED, p);
		if (kind == FREE_QUEUED) {
			/* tier off: 0, not the inbox's mark, which a later free would refuse */
			*(uintptr_t *)p = HEAP_FREE_TAGS ? free_tag(heap_tag_key, p) : 0;
			__atomic_fetch_and(&slab_pending_map(s)[w], ~bit, __ATOMIC_RELEASE);
		}
		if (!(a & bit)) { /* its tag was written over (a write after free), or a queue's */
			slab_report(s,
				    kind == FREE_QUEUED ? "queued free of an object already free"
							: "double free",
				    p);
			return;
		}
		if (kind == FREE_QUEUED)
			h->cls_remote_frees[s->cls]++;
	} else if (!slab_claim(s, w, bit)) {
		slab_report(s,
			    slab_bit(slab_alloc_map(s), idx)
				? "double free (it is in the hart's cache, or another hart's free "
				  "of it is queued or under way)"
				: "double free",
			    p);
		return;
	}
	h->cls_objs[s->cls]--;
	class_put(k, s, w);
	if (s->in_use == 0)
		page_emptied(h, k, s);
}

/* Whether p is in k's cache (the owner's slow paths). */
static bool cached(const struct heap_class *k, const void *p)
{
	for (void *const *t = k->base; t < k->top; t++)
		if (*t == p)
			return true;
	return false;
}

/*
 * tag_swap() took old out of p's first word, putting p's tag in, and old
 * decodes below 2^HEAP_LINK_BITS: decide on the bitmaps and the cache. The
 * tag: p is free in its page or in the cache (a double free), or else its
 * user wrote the tag. A remote free's mark: that free has committed (ours
 * is the double free). A link with p's pending bit set: a remote free of p
 * is queued. Refused for those two, the word gets old back (but for an
 * object free in its page). Anything else is its user's data, and the tag
 * stays.
 */
bool tag_claim_slow(struct heap *h, struct heap_class *k, void *p, uintptr_t old)
{
	uintptr_t a = (uintptr_t)p, page = ALIGN_DOWN(a, HEAP_SLAB_SIZE);
	uintptr_t idx = (a - page) >> k->shift, d = old ^ free_tag(h->tag_key, p);
	uint64_t bit = 1ULL << (idx % 64);
	const uint64_t *alloc = (const uint64_t *)(page + k->alloc_at) + idx / 64;
	const uint64_t *pending = (const uint64_t *)(page + k->pending_at) + idx / 64;

	/* acquire, for the word read relaxed: a queued free's link seen, its pending bit is too */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (d == 0) {
		if (!(__atomic_load_n(alloc, __ATOMIC_RELAXED) & bit))
			slab_report(slab_of_page((void *)page), "double free", p);
		else if (cached(k, p))
			heap_misuse("double free (it is in the hart's cache)", p);
		else
			return true; /* its user wrote the tag: it stays */
		return false;
	}
	if (d == 1 || __atomic_load_n(pending, __ATOMIC_ACQUIRE) & bit) {
		/*
		 * The mark or link back, unless the object is free in its page
		 * (only the owner clears its bit): that free then finds it so,
		 * puts the tag back itself and is reported, and the tag stays.
		 */
		if (__atomic_load_n(alloc, __ATOMIC_RELAXED) & bit)
			tag_unswap(h, p, old);
		slab_report(slab_of_page((void *)page),
			    "double free (another hart's free of it is queued or under way)", p);
		return false;
	}
	return true;
}

void tag_cache_slow(void *p, struct heap *h, struct heap_class *k, uintptr_t old)
{
	if (tag_claim_slow(h, k, p, old))
		cache_push(k, p);
}

void tag_cache_again(void *p)
{
	heap_misuse("double free (of the object freed last)", p);
}

#ifdef HEAP_RACE_HOOKS
bool heap_race_no_inbox; /* the race tests' way to the stack of links */
#else
#define heap_race_no_inbox false
#endif

/*
 * p, a committed remote free (its mark in, its pending bit held), into a
 * slot of h's inbox: false if the inbox is full. The slot is reserved with
 * a compare-and-swap of the tail, then filled: the owner stops at a
 * reserved slot it finds empty, and takes it at a later drain.
 */
static bool inbox_put(struct heap *h, void *p)
{
	unsigned long t = __atomic_load_n(&h->in_tail, __ATOMIC_RELAXED);

	if (heap_race_no_inbox)
		return false;
	do {
		/* a t already old may be behind the head: the swap fails and reads it anew */
		if ((long)(t - __atomic_load_n(&h->in_head, __ATOMIC_ACQUIRE)) >= HEAP_INBOX_SLOTS)
			return false;
	} while (!__atomic_compare_exchange_n(&h->in_tail, &t, t + 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	HEAP_RACE(RACE_REMOTE_RESERVED, p);
	/* release: its pending bit and mark, seen with it */
	__atomic_store_n(&h->in_slot[t % HEAP_INBOX_SLOTS], p, __ATOMIC_RELEASE);
	return true;
}

/*
 * Another hart's free of object idx (p) of the page at page, of class k
 * (its shape) of heap owner's: the object's first word read and, unless it
 * says the object is free or freed already, swapped for the remote mark
 * (heap_hart.h: this is where the free commits); then the pending bit
 * taken, the allocation bit checked, the object linked and pushed.
 */
void heap_free_remote_at(unsigned int owner, uintptr_t page, const struct heap_class *k,
			 unsigned int idx, void *p)
{
	uint64_t bit = 1ULL << (idx % 64);
	uint64_t *pending = (uint64_t *)(page + k->pending_at) + idx / 64;
	uint64_t *alloc = (uint64_t *)(page + k->alloc_at) + idx / 64;
	uintptr_t *word = p, tag = free_tag(heap_tag_key, p), mark = heap_mark(p), old, d;
	struct heap *h;
	void *head;

	if (owner >= heap_nr_harts) {
		heap_misuse("kfree: slab page of no heap", p);
		return;
	}
	/* acquire: a queued free's link seen, its pending bit is too */
	old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	do {
		d = old ^ tag;
		if (d == 0 || d == 1 ||
		    (!(d >> HEAP_LINK_BITS) && __atomic_load_n(pending, __ATOMIC_ACQUIRE) & bit)) {
			slab_report(slab_of_page((void *)page),
				    d == 0
					? "double free (it is in its hart's cache, or free)"
					: "double free (another free of it is queued or under way)",
				    p);
			return;
		}
		HEAP_RACE(RACE_REMOTE_READ, p);
	} while (!__atomic_compare_exchange_n(word, &old, mark, false, __ATOMIC_ACQUIRE,
					      __ATOMIC_ACQUIRE));
	HEAP_RACE(RACE_REMOTE_CLAIMED, p);
	/*
	 * committed: the mark stays until this free writes over it (a refused
	 * owner's free swaps its tag in for a moment and puts the mark back)
	 */
	if (__atomic_fetch_or(pending, bit, __ATOMIC_SEQ_CST) & bit) {
		__atomic_store_n(word, old, __ATOMIC_RELAXED); /* only a broken bitmap gets here */
		slab_report(slab_of_page((void *)page),
			    "double free (another free of it is queued or under way)", p);
		return;
	}
	h = &heaps[owner];
	if (!(__atomic_load_n(alloc, __ATOMIC_SEQ_CST) & bit)) {
		/* free in its page, its tag written over after the free: the tag back */
		__atomic_store_n(word, tag, __ATOMIC_RELAXED);
		__atomic_fetch_and(pending, ~bit, __ATOMIC_RELEASE);
		slab_report(slab_of_page((void *)page), "double free", p);
		return;
	}
	HEAP_RACE(RACE_REMOTE_CHECKED, p);
	if (inbox_put(h, p))
		return; /* its mark stays in its first word until the owner takes it */
	head = __atomic_load_n(&h->remote, __ATOMIC_RELAXED);
	__atomic_store_n(word, heap_link(p, head), __ATOMIC_RELEASE);
	HEAP_RACE(RACE_REMOTE_LINKED, p);
	while (!__atomic_compare_exchange_n(&h->remote, &head, p, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		__atomic_store_n(word, heap_link(p, head), __ATOMIC_RELEASE);
}

void heap_free_remote(struct slab *s, unsigned int idx, void *p)
{
	/* a class's shape is every heap's: heap 0's gives the bitmaps' places */
	heap_free_remote_at(s->heap, (uintptr_t)slab_page(s), &heaps[0].cls[s->cls], idx, p);
}

void heap_free(struct heap *h, struct slab *s, unsigned int idx, void *p)
{
	if (likely(h && s->heap == h->id)) {
		struct heap_class *k = &h->cls[s->cls];

		if (s->cls >= HEAP_NR_CLASSES || cache_full(k->top))
			local_free(h, s, idx, p, FREE_OWN); /* it reports what is wrong */
		else if (!HEAP_FREE_TAGS && p == k->top[-1])
			heap_misuse("double free (of the object freed last)", p);
		else if (!HEAP_FREE_TAGS || tag_claim(h, k, p))
			cache_push(k, p);
		if (unlikely(heap_has_queue(h)))
			heap_drain_remote(h);
	} else {
		heap_free_remote(s, idx, p);
	}
}

/* heap_free_own()'s way for all but its common case. */
static __attribute__((noinline)) void free_own_slow(struct heap *h, struct slab *s,
						    unsigned int idx, void *p)
{
	local_free(h, s, idx, p, FREE_OWN);
}

/*
 * The owner's free of object idx (p) of s when its class's cache is full:
 * straight into its page (a burst of frees passes the cache by, rather
 * than pushing it out). It leaves the queue to the next allocation that
 * refills a cache (its frees would go to the pages too, the cache being
 * full). Its common case (a tagged object, claimed at once) is a leaf but
 * for the tail calls of its rare ends (a report, a page emptied): a burst
 * of frees saves no registers.
 */
void heap_free_own(void *p, struct heap *h, struct slab *s, unsigned int idx)
{
	uintptr_t old;

	if (HEAP_FREE_TAGS && likely(s->cls < HEAP_NR_CLASSES)) {
		if (likely(tag_swap(h, p, &old))) {
			local_free(h, s, idx, p, FREE_CLAIMED);
			return;
		}
		tag_unswap(h, p, old); /* the claim again, the slow way */
	}
	free_own_slow(h, s, idx, p);
}

/*
 * A queued free the drain took, as local_free(FREE_QUEUED) but into the
 * class's cache while it has room: the owner's next allocations hand it
 * out from there, and neither the free nor the allocation touches the
 * page's bitmap or counts (the object stays allocated to its page, as a
 * cached one is). Its tag goes in before its pending bit goes, so that a
 * further free from elsewhere sees one or the other and is reported.
 */
static inline __attribute__((always_inline)) void queued_free(struct heap *h, struct slab *s,
							      unsigned int idx, void *p)
{
	struct heap_class *k = &h->cls[s->cls];
	uint64_t bit = 1ULL << (idx % 64);

	/*
	 * Without free tags (tier off) the object would keep the queue's link
	 * or the inbox's mark in the cache, which a second remote free reads
	 * as its user's data or as a free under way: there only its page,
	 * which clears the word (local_free()) and whose cleared allocation
	 * bit that free finds.
	 */
	if (!HEAP_FREE_TAGS || unlikely(s->cls >= HEAP_NR_CLASSES || cache_full(k->top))) {
		local_free(h, s, idx, p, FREE_QUEUED);
		return;
	}
	/* taken twice (a link forged to loop): the first time let the bit go */
	if (unlikely(!(__atomic_load_n(&slab_pending_map(s)[idx / 64], __ATOMIC_RELAXED) & bit))) {
		slab_report(s, "queued free of an object not queued (its queue loops?)", p);
		return;
	}
	*(uintptr_t *)p = free_tag(heap_tag_key, p);
	HEAP_RACE(RACE_DRAIN_TAGGED, p);
	__atomic_fetch_and(&slab_pending_map(s)[idx / 64], ~bit, __ATOMIC_RELEASE);
	if (unlikely(!(slab_alloc_map(s)[idx / 64] & bit))) {
		slab_report(s, "queued free of an object already free", p);
		return;
	}
	h->cls_remote_frees[s->cls]++;
	cache_push(k, p);
}

/*
 * The object after p in a queue (NULL: none), from p's link; false if the
 * link is neither a link nor the end (written over after the free).
 */
static bool queue_next(const void *p, void **next)
{
	uintptr_t n = *(const uintptr_t *)p ^ free_tag(heap_tag_key, p);

	*next = n >= 3 && !(n >> HEAP_LINK_BITS) ? heap_link_next(n) : NULL;
	return n == 2 || *next;
}

/*
 * heap_queued_object() for next, the link read from p, a queued object of
 * s: in p's page, what p's check found in the frame and the trailer still
 * holds (p's pending bit keeps the page in its class), so only where
 * next starts and its bits are looked at; elsewhere, the whole check.
 */
static inline __attribute__((always_inline)) bool
queued_next_object(const struct heap *h, const void *p, struct slab *s, const void *next,
		   struct slab **ns, unsigned int *nidx)
{
	uintptr_t a = (uintptr_t)next;
	const struct heap_class *k = &h->cls[s->cls];

	if (((uintptr_t)p ^ a) >= HEAP_SLAB_SIZE)
		return heap_queued_object(h, next, ns, nidx);
	if (a == (uintptr_t)p || !heap_starts_object(k, a)) /* p's pending bit is still set */
		return false;
	*ns = s;
	*nidx = (unsigned int)((a & (HEAP_SLAB_SIZE - 1)) >> k->shift);
	return slab_bit(slab_pending_map(s), *nidx) && slab_bit(slab_alloc_map(s), *nidx);
}

/* A queued free taken, p: into its class's cache (to_cache, while it has room), else its page. */
static inline __attribute__((always_inline)) void
drain_one(struct heap *h, struct slab *s, unsigned int idx, void *p, bool to_cache)
{
	if (to_cache)
		queued_free(h, s, idx, p);
	else
		local_free(h, s, idx, p, FREE_QUEUED);
}

/* Objects the drain takes from the inbox at a time, before it frees them. */
#define INBOX_BATCH 32

/*
 * A queued object of s (idx) whose first word no longer holds its free's
 * mark or link: written after its free. The owner's free of it is refused
 * while the word holds them, but not once a write after free took them:
 * such a double free may have cached the object, or it may have been
 * handed out again since. So it is not freed: its pending bit goes, and it
 * stays allocated (lost, never handed out twice).
 */
static __attribute__((noinline)) void queue_overwritten(struct slab *s, unsigned int idx, void *p)
{
	__atomic_fetch_and(&slab_pending_map(s)[idx / 64], ~(1ULL << (idx % 64)), __ATOMIC_RELEASE);
	slab_report(s, "queued free overwritten (a write after free?)", p);
}

/*
 * The inbox's frees, a batch at a time: the slots read in order and
 * emptied, the head moved past them, then the objects freed (so that a
 * report's handler that comes back here finds the inbox as it is). A slot
 * reserved and not yet filled ends the take; it is taken at a later drain.
 * An object is checked as the first of the stack is (the slots are out of
 * its reach, not of every stray write), and its mark must still be in its
 * first word. At most a ring's worth, so that harts that keep freeing
 * cannot keep the owner here. false: a slot not yet filled was left.
 */
static inline __attribute__((always_inline)) bool inbox_take(struct heap *h, bool to_cache)
{
	void *batch[INBOX_BATCH];

	for (unsigned int taken = 0; taken < HEAP_INBOX_SLOTS;) {
		unsigned long hd = h->in_head, t = __atomic_load_n(&h->in_tail, __ATOMIC_ACQUIRE);
		unsigned int n = 0;

		for (; hd != t && n < INBOX_BATCH; hd++) {
			void **slot = &h->in_slot[hd % HEAP_INBOX_SLOTS];
			void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

			if (!p)
				break;
			__atomic_store_n(slot, NULL, __ATOMIC_RELAXED);
			batch[n++] = p;
		}
		if (!n)
			return hd == t;
		/* release: a hart that sees the head sees its slots emptied */
		__atomic_store_n(&h->in_head, hd, __ATOMIC_RELEASE);
		taken += n;
		for (unsigned int i = 0; i < n; i++) {
			struct slab *s = NULL;
			unsigned int idx = 0;
			void *p = batch[i];

			if (!heap_queued_object(h, p, &s, &idx))
				heap_misuse("queued free lost its slab page", p);
			else if (unlikely(__atomic_load_n((const uintptr_t *)p, __ATOMIC_RELAXED) !=
					  heap_mark(p)))
				queue_overwritten(s, idx, p);
			else
				drain_one(h, s, idx, p, to_cache);
		}
	}
	return true;
}

/*
 * Takes every free other harts queued for h and frees each as the owner:
 * into its class's cache while that has room (to_cache, queued_free()),
 * else into its page. The inbox first (inbox_take()), then the stack.
 * The stack's first object was checked when it was queued; each link after it
 * lives in a freed object, where a write after free may have changed it,
 * so it is checked before it is followed. A bad link ends the walk (the
 * objects behind it stay allocated: lost, not handed out twice); a word
 * that is no link at all loses its object too (queue_overwritten()).
 */
static inline __attribute__((always_inline)) void drain(struct heap *h, bool to_cache)
{
	struct slab *s = NULL;
	unsigned int idx = 0;
	bool whole = inbox_take(h, to_cache);
	void *p;

	p = __atomic_exchange_n(&h->remote, NULL, __ATOMIC_ACQUIRE);
	if (p && !heap_queued_object(h, p, &s, &idx)) {
		heap_misuse("queued free lost its slab page", p);
		p = NULL;
	}
	while (p) {
		void *next, *at = p;
		struct slab *ns = NULL;
		unsigned int nidx = 0;

		if (!queue_next(p, &next)) {
			queue_overwritten(s, idx, p); /* p's own word: p is lost too */
			break;
		}
		if (next && !queued_next_object(h, p, s, next, &ns, &nidx)) {
			/* p's word is a link (a free of p was refused): reported after p's free */
			next = NULL;
		} else {
			at = NULL;
		}
		drain_one(h, s, idx, p, to_cache);
		if (at)
			heap_misuse("queued free overwritten (a write after free?)", at);
		p = next;
		s = ns;
		idx = nidx;
	}
	/* counted once it is whole: a reclaim waiting on it may count on the frees being done */
	if (whole)
		__atomic_fetch_add(&h->drains, 1, __ATOMIC_RELEASE);
}

void heap_drain_remote(struct heap *h)
{
	drain(h, true);
}

/* For a hart about to flush its caches (idle, trim): the queue straight to the pages. */
static void drain_to_pages(struct heap *h)
{
	drain(h, false);
}

/* ---- the cache's slow paths --------------------------------------------------- */

/* The n objects k's cache got last back to their pages. */
void cache_flush(struct heap *h, struct heap_class *k, unsigned int n)
{
	while (n-- && k->top[-1]) {
		void *p = *--k->top;
		struct slab *s = slab_of_page((void *)ALIGN_DOWN((uintptr_t)p, HEAP_SLAB_SIZE));
		unsigned int idx = (unsigned int)(((uintptr_t)p & (HEAP_SLAB_SIZE - 1)) >> k->shift);

		local_free(h, s, idx, p, HEAP_FREE_TAGS ? FREE_CACHED : FREE_OWN_CACHED);
	}
}

/*
 * cache_take() found nothing it could hand out, or the fast path was not
 * taken: the queue taken first, then a cached object or a new one
 * (heap_alloc() refills the cache); NULL if there is no memory.
 */
void *cache_refill(struct heap *h, unsigned int cls)
{
	void *p;

	if (heap_has_queue(h))
		heap_drain_remote(h);
	p = cache_take(&h->cls[cls]);
	return p ? p : heap_alloc(h, cls);
}

/* ---- trimming ------------------------------------------------------------- */

/*
 * Every empty page of h's classes leaves them, spares included (and a page
 * that stayed because a racing double free had marked it pending), and its
 * cached page blocks go back to the buddy.
 */
static void release_empty(struct heap *h)
{
	hart_pages_flush(h);
	hart_mid_cache_flush(h);
	hart_mid_flush(h);
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++) {
		struct heap_class *k = &h->cls[c];
		struct slab *s, *next;

		cache_flush(h, k, HEAP_CACHE_SLOTS);
		for (s = k->partial; s; s = next) {
			next = s->next;
			if (s->in_use || !page_settled(s))
				continue;
			if (s == h->spare[k - h->cls])
				h->spare[k - h->cls] = NULL;
			page_release(h, k, s);
		}
	}
}

void heap_trim(void)
{
	struct heap *me = this_heap();

	if (me) {
		drain_to_pages(me);
		release_empty(me);
	}
	for (unsigned int i = 0; i < heap_nr_harts; i++) {
		struct slab *all;

		hart_mid_flush(&heaps[i]);
		tas_lock(&heaps[i].lock);
		all = empty_cut(&heaps[i], 0);
		tas_unlock(&heaps[i].lock);
		give_to_buddy(all);
	}
}

void heap_flush(void)
{
	struct heap *h = this_heap();

	if (!h)
		return;
	for (unsigned int c = 0; c < HEAP_NR_CLASSES; c++)
		cache_flush(h, &h->cls[c], HEAP_CACHE_SLOTS);
	hart_pages_flush(h);
	hart_mid_cache_flush(h);
}

/* ---- frees waiting for an idle hart ------------------------------------------ */

/* An idle hart's memory is of most use to the others: its queue taken, its empty pages stealable. */
void heap_idle(void)
{
	struct heap *h = this_heap();

	if (!h)
		return;
	if (heap_has_queue(h))
		drain_to_pages(h);
	release_empty(h);
}

bool heap_hart_has_queue(unsigned int hart)
{
	return hart < heap_nr_harts && heap_has_queue(&heaps[hart]);
}

uint64_t heap_hart_drains(unsigned int hart)
{
	return hart < heap_nr_harts ? __atomic_load_n(&heaps[hart].drains, __ATOMIC_ACQUIRE) : 0;
}
