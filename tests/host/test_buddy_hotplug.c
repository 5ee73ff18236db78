// SPDX-License-Identifier: MIT
/*
 * The buddy growing and giving back, as a process's malloc over a reserved
 * address range uses it: memory hot-added above every bank (metadata from
 * the added range itself), a grow hook that adds memory when an allocation
 * finds none, and free page reporting of the largest free blocks.
 *
 * The fake machine is one big address-space reservation (arena_reserve())
 * of which buddy_init() gets a small first piece, or nothing, and the
 * tests hand the rest to buddy_add_memory() piece by piece. Every case
 * starts from a fresh buddy and ends with the invariant checker, which
 * also checks the reporting marks and counts.
 */
#include <kernel/errno.h>
#include <kernel/ktest.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"

#define SPACE_BASE 0x80000000ULL
#define SPACE_SIZE (4 * SZ_1G) /* to 0x180000000: across 4 GiB */
#define FOUR_G 0x100000000ULL
#define BLOCK_FRAMES (1ULL << BUDDY_MAX_ORDER)
#define BLOCK_BYTES (PAGE_SIZE << BUDDY_MAX_ORDER)
#define SZ_1M (1ULL << 20)

static const struct mem_range space[] = { { SPACE_BASE, SPACE_SIZE } };

static struct memmap m;

/* What a case holds: blocks (or ranges) with their size, claimed in the shadow. */
#define MAX_HELD 100000
static struct hold {
	phys_addr_t pa;
	uint64_t nr;
	int order; /* -1: a range */
} held[MAX_HELD];
static size_t nr_held;

/* Frames of metadata a bank of nr frames takes from its own start. */
static uint64_t meta_frames(uint64_t nr)
{
	return ALIGN_UP(nr * FRAME_META_BYTES, PAGE_SIZE) / PAGE_SIZE;
}

/* A fresh buddy over the reservation: its first boot_bytes as boot RAM (none if 0). */
static void boot(struct ktest *t, uint64_t boot_bytes)
{
	nr_held = 0;
	arena_reserve(&m, space, ARRAY_SIZE(space));
	if (boot_bytes) {
		m.ram[0] = m.usable[0] = (struct mem_range){ SPACE_BASE, boot_bytes };
		m.nr_ram = m.nr_usable = 1;
	}
	KT_EXPECT_EQ(t, buddy_init(&m), 0);
}

static void done(struct ktest *t)
{
	(void)t;
	buddy_set_grow_hook(NULL);
	buddy_set_reporter(NULL, 0);
	buddy_set_misuse_handler(NULL);
	arena_set_hart(0);
	arena_unmap();
}

/* Free frames in blocks of the largest order that are not reported. */
static uint64_t unreported(void)
{
	struct buddy_stats s;

	buddy_stats(&s);
	return s.nr_free[BUDDY_MAX_ORDER] * BLOCK_FRAMES - s.reported;
}

static void hold(struct ktest *t, phys_addr_t pa, uint64_t nr, int order)
{
	KT_EXPECT(t, arena_shadow_claim(pa, nr));
	if (KT_EXPECT_LT(t, nr_held, MAX_HELD))
		held[nr_held++] = (struct hold){ pa, nr, order };
}

/* Allocates order-k blocks until it fails, and holds them; how many. */
static size_t exhaust(struct ktest *t, unsigned int order)
{
	size_t n = 0;
	phys_addr_t pa;

	while (nr_held < MAX_HELD && buddy_alloc(order, &pa) == 0) {
		hold(t, pa, 1ULL << order, (int)order);
		n++;
	}
	return n;
}

/* Frees everything held. */
static void release(struct ktest *t)
{
	while (nr_held) {
		struct hold *h = &held[--nr_held];

		KT_EXPECT(t, arena_shadow_release(h->pa, h->nr));
		KT_EXPECT_EQ(t, h->order < 0 ? buddy_free_range(h->pa, h->nr)
					     : buddy_free(h->pa, (unsigned int)h->order),
			     0);
	}
}

/*
 * What the free lists must hold with nothing allocated: the boot map's
 * usable frames and every added bank's frames past its metadata, as
 * maximal blocks (the reported marks aside).
 */
static bool lists_are_all_free_memory(struct ktest *t, unsigned int first_added_bank)
{
	static struct memmap want;
	struct arena_block *w, *got;
	size_t nw, ng;
	bool same;

	want = m;
	for (unsigned int n = first_added_bank; n < buddy_nr_banks(); n++) {
		struct buddy_bank_info b;

		KT_EXPECT_EQ(t, buddy_bank_info(n, &b), 0);
		want.usable[want.nr_usable++] = (struct mem_range){
			b.base + meta_frames(b.nr_frames) * PAGE_SIZE,
			(b.nr_frames - meta_frames(b.nr_frames)) * PAGE_SIZE
		};
	}
	buddy_drain_caches();
	nw = arena_expected_free(&want, BUDDY_MAX_ORDER, &w);
	ng = arena_free_blocks(&got);
	same = arena_blocks_equal(w, nw, got, ng);
	free(w);
	free(got);
	return same;
}

/* ---- hot-add ---- */

struct added {
	phys_addr_t pa;
	uint64_t size;
};

/* The added ranges of the first case, and the banks they must become. */
static const struct added ranges[] = {
	{ SPACE_BASE + 8 * SZ_1M, 20 * SZ_1M + 3 * PAGE_SIZE }, /* right after the boot bank */
	{ FOUR_G - 16 * SZ_1M + 5 * PAGE_SIZE, 28 * SZ_1M - 5 * PAGE_SIZE }, /* across 4 GiB */
	{ 0x140000000ULL, 16 * SZ_1M },
};
static const struct added banks[] = {
	{ SPACE_BASE + 8 * SZ_1M, 20 * SZ_1M + 3 * PAGE_SIZE },
	{ FOUR_G - 16 * SZ_1M + 5 * PAGE_SIZE, 16 * SZ_1M - 5 * PAGE_SIZE },
	{ FOUR_G, 12 * SZ_1M },
	{ 0x140000000ULL, 16 * SZ_1M },
};

static void adds_banks_above_a_boot_bank(struct ktest *t)
{
	struct buddy_stats before, s;
	struct buddy_census c;
	uint64_t meta = 0, frames = 0, in_largest = 0, added = 0;
	size_t n;

	boot(t, 8 * SZ_1M);
	buddy_stats(&before);
	KT_ASSERT_EQ(t, before.nr_banks, 1);
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
		KT_ASSERT_EQ(t, buddy_add_memory(ranges[i].pa, ranges[i].size), 0);
		added += ranges[i].size;
	}
	KT_ASSERT_EQ(t, buddy_nr_banks(), 1 + ARRAY_SIZE(banks));
	for (size_t i = 0; i < ARRAY_SIZE(banks); i++) {
		struct buddy_bank_info b;
		uint64_t nr = banks[i].size / PAGE_SIZE, k = meta_frames(nr);
		struct frame_owner o;
		phys_addr_t first_free = banks[i].pa + k * PAGE_SIZE;

		KT_ASSERT_EQ(t, buddy_bank_info(1 + i, &b), 0);
		KT_EXPECT_EQ(t, b.base, banks[i].pa);
		KT_EXPECT_EQ(t, b.nr_frames, nr);
		KT_EXPECT_EQ(t, b.reserved, k);
		KT_EXPECT_EQ(t, b.free, nr - k);
		/* the metadata is the range's own first frames, reserved */
		KT_EXPECT_EQ(t, (void *)frame_of(banks[i].pa), phys_to_virt(banks[i].pa));
		KT_EXPECT_EQ(t, frame_tag(banks[i].pa), FRAME_RESERVED);
		KT_EXPECT_EQ(t, frame_tag(first_free - PAGE_SIZE), FRAME_RESERVED);
		KT_EXPECT_EQ(t, frame_owner(first_free, &o), 0);
		KT_EXPECT_EQ(t, o.tag, FRAME_FREE);
		KT_EXPECT_EQ(t, o.head, first_free);
		/* claimed, so that no allocation may hand them out */
		KT_EXPECT(t, arena_shadow_claim(banks[i].pa, k));
		meta += k;
		frames += nr;
		for (uint64_t pfn = ALIGN_UP(first_free / PAGE_SIZE, BLOCK_FRAMES);
		     pfn + BLOCK_FRAMES <= (banks[i].pa + banks[i].size) / PAGE_SIZE;
		     pfn += BLOCK_FRAMES) {
			KT_EXPECT_EQ(t, frame_owner(pfn * PAGE_SIZE, &o), 0);
			/* never handed out: nothing to report */
			KT_EXPECT_EQ(t, o.aux, FRAME_AUX_REPORTED);
			in_largest += BLOCK_FRAMES;
		}
	}
	KT_EXPECT_EQ(t, frame_tag(FOUR_G - 16 * SZ_1M), -ENOENT); /* the hole before */
	KT_EXPECT_EQ(t, frame_tag(0x140000000ULL + 16 * SZ_1M), -ENOENT);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.total, before.total + frames);
	KT_EXPECT_EQ(t, s.reserved, before.reserved + meta);
	KT_EXPECT_EQ(t, s.free, before.free + frames - meta);
	KT_EXPECT_EQ(t, s.early, before.early);
	KT_EXPECT_EQ(t, s.allocated, 0);
	KT_EXPECT_EQ(t, s.metadata_bytes, before.metadata_bytes + meta * PAGE_SIZE);
	KT_EXPECT_EQ(t, s.added, added);
	KT_EXPECT_EQ(t, s.reported, in_largest);
	KT_ASSERT_EQ(t, buddy_check(&c), 0);
	KT_EXPECT_EQ(t, c.frames[FRAME_RESERVED], s.reserved);
	KT_EXPECT(t, lists_are_all_free_memory(t, 1));

	/* every frame, once: the shadow refuses a second claim (and the metadata's) */
	n = exhaust(t, 0);
	KT_EXPECT_EQ(t, n, s.free);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.free + s.cached, 0);
	KT_EXPECT_EQ(t, s.reported, 0);
	release(t);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	KT_EXPECT(t, lists_are_all_free_memory(t, 1));
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.reported, 0); /* handed out and back: no longer reported */
	KT_EXPECT_EQ(t, s.allocated, 0);
}

/* buddy_init() of an empty map, then everything hot-added. */
static void adds_to_an_empty_buddy(struct ktest *t)
{
	struct buddy_stats s;
	phys_addr_t pa = 0x1234;
	size_t n;

	boot(t, 0);
	KT_EXPECT_EQ(t, buddy_nr_banks(), 0);
	KT_EXPECT_EQ(t, buddy_alloc(0, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc(3, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, pa, 0x1234);
	KT_EXPECT_EQ(t, frame_tag(SPACE_BASE), -ENOENT);
	KT_EXPECT_EQ(t, frame_of(SPACE_BASE), NULL);
	KT_ASSERT_EQ(t, buddy_add_memory(SPACE_BASE, 8 * SZ_1M), 0);
	KT_ASSERT_EQ(t, buddy_add_memory(SPACE_BASE + 8 * SZ_1M, 2 * PAGE_SIZE), 0); /* the least */
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.nr_banks, 2);
	KT_EXPECT_EQ(t, s.total, 2048 + 2);
	KT_EXPECT_EQ(t, s.reserved, 8 + 1);
	KT_EXPECT_EQ(t, s.free, 2048 - 8 + 1);
	KT_EXPECT_EQ(t, s.metadata_bytes, 9 * PAGE_SIZE);
	KT_EXPECT_EQ(t, frame_tag(SPACE_BASE + 8 * SZ_1M + PAGE_SIZE), FRAME_FREE);
	KT_EXPECT_EQ(t, frame_to_pa(frame_of(SPACE_BASE + 5 * SZ_1M)), SPACE_BASE + 5 * SZ_1M);
	KT_EXPECT(t, arena_shadow_claim(SPACE_BASE, 8));
	KT_EXPECT(t, arena_shadow_claim(SPACE_BASE + 8 * SZ_1M, 1));
	n = exhaust(t, 0);
	KT_EXPECT_EQ(t, n, s.free);
	release(t);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	KT_EXPECT(t, lists_are_all_free_memory(t, 0));
}

static void expect_unchanged(struct ktest *t, const struct buddy_stats *before)
{
	struct buddy_stats s;

	buddy_stats(&s);
	KT_EXPECT_EQ(t, memcmp(&s, before, sizeof(s)), 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

static void refusals(struct ktest *t)
{
	const phys_addr_t end = SPACE_BASE + 8 * SZ_1M; /* of the boot bank */
	struct buddy_stats before;

	boot(t, 8 * SZ_1M);
	buddy_stats(&before);
	KT_EXPECT_EQ(t, buddy_add_memory(end + 1, SZ_1M), -EINVAL);
	KT_EXPECT_EQ(t, buddy_add_memory(end + 0x800, SZ_1M), -EINVAL);
	KT_EXPECT_EQ(t, buddy_add_memory(end, SZ_1M + 1), -EINVAL);
	KT_EXPECT_EQ(t, buddy_add_memory(end, 0x800), -EINVAL);
	KT_EXPECT_EQ(t, buddy_add_memory(end, 0), -EINVAL);
	KT_EXPECT_EQ(t, buddy_add_memory(~0ULL - PAGE_SIZE + 1, 2 * PAGE_SIZE), -EINVAL); /* wrap */
	KT_EXPECT_EQ(t, buddy_add_memory(0xfffffffffff00000ULL, 0x100000), -EINVAL); /* to 2^64 */
	KT_EXPECT_EQ(t, buddy_add_memory(end - PAGE_SIZE, SZ_1M), -EINVAL);	    /* overlaps */
	KT_EXPECT_EQ(t, buddy_add_memory(SPACE_BASE, SZ_1M), -EINVAL);
	KT_EXPECT_EQ(t, buddy_add_memory(end, PAGE_SIZE), -EINVAL); /* its metadata and nothing */
	/* across 4 GiB with one frame below: that bank would be all metadata, so none is added */
	KT_EXPECT_EQ(t, buddy_add_memory(FOUR_G - PAGE_SIZE, 8 * SZ_1M), -EINVAL);
	expect_unchanged(t, &before);
	KT_EXPECT_EQ(t, frame_tag(FOUR_G), -ENOENT);

	KT_ASSERT_EQ(t, buddy_add_memory(0x90000000ULL, SZ_1M), 0);
	buddy_stats(&before);
	KT_EXPECT_EQ(t, buddy_add_memory(end, SZ_1M), -EINVAL); /* below the last bank */
	KT_EXPECT_EQ(t, buddy_add_memory(0x90000000ULL, SZ_1M), -EINVAL); /* again */
	KT_EXPECT_EQ(t, buddy_add_memory(0x90000000ULL + SZ_1M - PAGE_SIZE, SZ_1M), -EINVAL);
	expect_unchanged(t, &before);
	KT_EXPECT_EQ(t, buddy_add_memory(0x90000000ULL + SZ_1M, SZ_1M), 0); /* right after it */
	KT_EXPECT_EQ(t, buddy_nr_banks(), 3);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/* -ENOSPC is decided before anything is added: the banks a range needs are counted first. */
static void out_of_banks(struct ktest *t)
{
	struct buddy_stats before;
	phys_addr_t pa = SPACE_BASE + 8 * SZ_1M;

	boot(t, 8 * SZ_1M);
	while (buddy_nr_banks() < BUDDY_MAX_BANKS - 2) {
		KT_ASSERT_EQ(t, buddy_add_memory(pa, 16 * PAGE_SIZE), 0);
		pa += 16 * PAGE_SIZE;
	}
	buddy_stats(&before);
	/*
	 * 16 TiB + 4 MiB: three banks of at most 2^31 frames. Refused before
	 * any of it is touched (it is not even in the arena: touching it would
	 * abort).
	 */
	KT_EXPECT_EQ(t, buddy_add_memory(64 * SZ_1G, (1ULL << 44) + 4 * SZ_1M), -ENOSPC);
	expect_unchanged(t, &before);
	/* two banks, across 4 GiB: fits exactly */
	KT_EXPECT_EQ(t, buddy_add_memory(FOUR_G - 4 * SZ_1M, 8 * SZ_1M), 0);
	KT_EXPECT_EQ(t, buddy_nr_banks(), BUDDY_MAX_BANKS);
	buddy_stats(&before);
	KT_EXPECT_EQ(t, buddy_add_memory(FOUR_G + 8 * SZ_1M, 8 * SZ_1M), -ENOSPC);
	KT_EXPECT_EQ(t, buddy_add_memory(FOUR_G + 8 * SZ_1M, 2 * PAGE_SIZE), -ENOSPC);
	expect_unchanged(t, &before);
	KT_EXPECT_EQ(t, frame_tag(FOUR_G + 8 * SZ_1M), -ENOENT);
}

/* ---- the grow hook ---- */

/*
 * The hook: hands the next piece of the reservation to the buddy, big
 * enough for nr frames in a block of their own (metadata and alignment
 * included), in multiples of chunk. Serialised: harts may call it at once.
 */
static struct {
	pthread_mutex_t lock;
	phys_addr_t next;
	uint64_t chunk;
	uint64_t fixed; /* if set: always exactly this much, whatever nr */
	bool refuse;
	unsigned int calls, grown;
	uint64_t last_nr;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool add_piece(uint64_t size)
{
	if (g.next + size > SPACE_BASE + SPACE_SIZE || buddy_add_memory(g.next, size) != 0)
		return false;
	g.next += size;
	g.grown++;
	return true;
}

static bool grow_hook(uint64_t nr)
{
	bool ok = false;

	pthread_mutex_lock(&g.lock);
	g.calls++;
	g.last_nr = nr;
	if (!g.refuse)
		ok = add_piece(g.fixed ? g.fixed
				       : ALIGN_UP(2 * nr * PAGE_SIZE + BLOCK_BYTES, g.chunk));
	pthread_mutex_unlock(&g.lock);
	return ok;
}

static void grow_setup(struct ktest *t, uint64_t boot_bytes, uint64_t chunk)
{
	boot(t, boot_bytes);
	g.next = SPACE_BASE + ALIGN_UP(boot_bytes, chunk);
	g.chunk = chunk;
	g.fixed = 0;
	g.refuse = false;
	g.calls = g.grown = 0;
	g.last_nr = 0;
}

/* Every frame the buddy has now, held, taken without the hook; then the hook is set. */
static void take_everything(struct ktest *t)
{
	buddy_set_grow_hook(NULL);
	exhaust(t, 0);
	buddy_set_grow_hook(grow_hook);
}

static void grows_on_demand(struct ktest *t)
{
	struct buddy_stats s;
	struct buddy_bank_info b;
	phys_addr_t pa;

	grow_setup(t, 2 * SZ_1M, 4 * SZ_1M);
	take_everything(t);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.free + s.cached, 0);
	KT_EXPECT_EQ(t, g.calls, 0);

	/* order 0, through the hart's cache: one frame asked for */
	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
	hold(t, pa, 1, 0);
	KT_EXPECT_EQ(t, g.calls, 1);
	KT_EXPECT_EQ(t, g.last_nr, 1);
	KT_EXPECT_EQ(t, buddy_nr_banks(), 2);
	KT_ASSERT_EQ(t, buddy_bank_info(1, &b), 0);
	KT_EXPECT_GE(t, pa, b.base);
	/* the rest of that bank serves without growing */
	for (unsigned int i = 0; i < 100; i++) {
		KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0);
		hold(t, pa, 1, 0);
	}
	KT_EXPECT_EQ(t, g.calls, 1);

	/* order 5 */
	take_everything(t);
	KT_ASSERT_EQ(t, buddy_alloc(5, &pa), 0);
	hold(t, pa, 32, 5);
	KT_EXPECT_EQ(t, g.calls, 2);
	KT_EXPECT_EQ(t, g.last_nr, 32);
	KT_ASSERT_EQ(t, buddy_bank_info(2, &b), 0);
	KT_EXPECT_GE(t, pa, b.base);
	KT_EXPECT_EQ(t, pa & (32 * PAGE_SIZE - 1), 0);

	/* an alignment beyond the size: the hook hears of the alignment */
	take_everything(t);
	KT_ASSERT_EQ(t, buddy_alloc_ex(0, SZ_2M, BUDDY_NO_LIMIT, 0, &pa), 0);
	hold(t, pa, 1, 0);
	KT_EXPECT_EQ(t, g.calls, 3);
	KT_EXPECT_EQ(t, g.last_nr, SZ_2M / PAGE_SIZE);
	KT_EXPECT_EQ(t, pa & (SZ_2M - 1), 0);

	/* a limit below where new memory would go: the hook is not asked, nothing changes */
	take_everything(t);
	buddy_drain_caches();
	buddy_stats(&s);
	KT_EXPECT_EQ(t, buddy_alloc_ex(3, 0, SPACE_BASE + 2 * SZ_1M, 0, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_range(3, 0, g.next, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, g.calls, 3);
	expect_unchanged(t, &s);
	/* one that new memory could meet: asked */
	KT_ASSERT_EQ(t, buddy_alloc_ex(3, 0, g.next + SZ_1G, 0, &pa), 0);
	hold(t, pa, 8, 3);
	KT_EXPECT_EQ(t, g.calls, 4);

	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	release(t);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	KT_EXPECT(t, lists_are_all_free_memory(t, 1));
}

static void grows_for_a_range(struct ktest *t)
{
	const uint64_t big = 5 * BLOCK_FRAMES + 7;
	struct frame_owner o;
	phys_addr_t pa;

	grow_setup(t, 2 * SZ_1M, 4 * SZ_1M);
	take_everything(t);
	KT_ASSERT_EQ(t, buddy_alloc_range(3000, 0, BUDDY_NO_LIMIT, &pa), 0);
	hold(t, pa, 3000, -1);
	KT_EXPECT_EQ(t, g.calls, 1);
	KT_EXPECT_EQ(t, g.last_nr, 3000);
	for (uint64_t i = 0; i < 3000; i += 111) {
		KT_ASSERT_EQ(t, frame_owner(pa + i * PAGE_SIZE, &o), 0);
		KT_EXPECT_EQ(t, o.tag, FRAME_ALLOCATED);
	}
	/* more than that bank has left in one piece */
	KT_ASSERT_EQ(t, buddy_alloc_range(big, 0, BUDDY_NO_LIMIT, &pa), 0);
	hold(t, pa, big, -1);
	KT_EXPECT_EQ(t, g.calls, 2);
	KT_EXPECT_EQ(t, g.last_nr, big);
	/* a small one from what is left: no grow */
	KT_ASSERT_EQ(t, buddy_alloc_range(5, 0, BUDDY_NO_LIMIT, &pa), 0);
	hold(t, pa, 5, -1);
	KT_EXPECT_EQ(t, g.calls, 2);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	release(t);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	KT_EXPECT(t, lists_are_all_free_memory(t, 1));
}

static void ensure_free_grows(struct ktest *t)
{
	uint64_t free;

	grow_setup(t, 2 * SZ_1M, 4 * SZ_1M);
	buddy_set_grow_hook(grow_hook);
	free = buddy_free_frames();
	KT_EXPECT_EQ(t, buddy_ensure_free(free), 0);
	KT_EXPECT_EQ(t, g.calls, 0);
	KT_EXPECT_EQ(t, buddy_ensure_free(free + 100), 0);
	KT_EXPECT_EQ(t, g.calls, 1);
	KT_EXPECT_EQ(t, g.last_nr, 100); /* what was missing */
	KT_EXPECT_GE(t, buddy_free_frames(), free + 100);
	/* as many grows as it takes: 255 free frames per MiB added */
	g.fixed = SZ_1M;
	free = buddy_free_frames();
	KT_EXPECT_EQ(t, buddy_ensure_free(free + 600), 0);
	KT_EXPECT_EQ(t, g.calls, 1 + 3);
	KT_EXPECT_EQ(t, buddy_free_frames(), free + 3 * 255);
	/* more than the space holds */
	g.fixed = 0;
	KT_EXPECT_EQ(t, buddy_ensure_free(SPACE_SIZE / PAGE_SIZE), -ENOMEM);
	KT_EXPECT_EQ(t, g.calls, 1 + 3 + 1);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/* A hook that says no: every kind of allocation fails cleanly, and nothing has changed. */
static void hook_that_refuses(struct ktest *t)
{
	struct buddy_stats s;
	phys_addr_t pa = 0x1234;

	grow_setup(t, 2 * SZ_1M, 4 * SZ_1M);
	take_everything(t);
	g.refuse = true;
	buddy_stats(&s);
	KT_EXPECT_EQ(t, buddy_alloc(0, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc(4, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_alloc_range(10, 0, BUDDY_NO_LIMIT, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, buddy_ensure_free(1), -ENOMEM);
	KT_EXPECT_EQ(t, pa, 0x1234);
	KT_EXPECT_EQ(t, g.calls, 5);
	KT_EXPECT_EQ(t, g.grown, 0);
	expect_unchanged(t, &s);
	release(t);
}

/*
 * A hook that keeps adding memory that never fits the request (banks of 16
 * frames, no block of 16 in any): asked again each time, until it gives up
 * (here: out of banks), then the allocation fails.
 */
static void hook_asked_until_it_gives_up(struct ktest *t)
{
	struct buddy_stats s;
	phys_addr_t pa;

	grow_setup(t, 2 * SZ_1M, 4 * SZ_1M);
	take_everything(t);
	g.fixed = 16 * PAGE_SIZE;
	KT_EXPECT_EQ(t, buddy_alloc(4, &pa), -ENOMEM);
	KT_EXPECT_EQ(t, g.grown, BUDDY_MAX_BANKS - 1);
	KT_EXPECT_EQ(t, g.calls, BUDDY_MAX_BANKS);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.free, (BUDDY_MAX_BANKS - 1) * 15);
	KT_EXPECT_EQ(t, buddy_alloc(3, &pa), 0); /* what was added is there */
	KT_EXPECT_EQ(t, buddy_free(pa, 3), 0);
	release(t);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/* ---- harts allocating while memory is added ---- */

#define HARTS 3
#define LOCAL_MAX 300

struct item {
	phys_addr_t pa;
	uint64_t nr;
	unsigned int order;
	bool range;
};

struct worker {
	unsigned int hart;
	unsigned long ops;
	size_t live; /* blocks held at most */
	uint64_t rng;
	struct item local[LOCAL_MAX];
	size_t n;
	unsigned long allocs, failed, errors, lookups;
};

static uint64_t signature(phys_addr_t pa)
{
	return pa * 0x9e3779b97f4a7c15ULL ^ 0xa5a5a5a5;
}

static volatile uint64_t *word(phys_addr_t pa)
{
	return phys_to_virt(pa);
}

static void sign(phys_addr_t pa, uint64_t nr)
{
	for (uint64_t i = 0; i < nr; i += 5)
		*word(pa + i * PAGE_SIZE) = signature(pa + i * PAGE_SIZE);
}

static bool signed_ok(phys_addr_t pa, uint64_t nr)
{
	for (uint64_t i = 0; i < nr; i += 5) {
		if (*word(pa + i * PAGE_SIZE) != signature(pa + i * PAGE_SIZE))
			return false;
	}
	return true;
}

static void worker_free(struct worker *w, struct item it)
{
	if (!signed_ok(it.pa, it.nr) || !arena_shadow_release(it.pa, it.nr))
		w->errors++;
	if ((it.range ? buddy_free_range(it.pa, it.nr) : buddy_free(it.pa, it.order)) != 0)
		w->errors++;
}

static void worker_alloc(struct worker *w)
{
	unsigned int r = test_rand(&w->rng) % 100;
	struct item it = { 0, 1, 0, false };
	struct frame_owner o;
	int rc;

	if (r < 60) {
		rc = buddy_alloc(0, &it.pa);
	} else if (r < 85) {
		it.order = 1 + test_rand(&w->rng) % 4;
		it.nr = 1ULL << it.order;
		rc = buddy_alloc(it.order, &it.pa);
	} else if (r < 90) {
		it.order = BUDDY_MAX_ORDER;
		it.nr = BLOCK_FRAMES;
		rc = buddy_alloc(it.order, &it.pa);
	} else {
		it.nr = 1 + test_rand(&w->rng) % 40;
		it.range = true;
		rc = buddy_alloc_range(it.nr, 0, BUDDY_NO_LIMIT, &it.pa);
	}
	if (rc == -ENOMEM) {
		w->failed++;
		return;
	}
	if (rc != 0 || !arena_shadow_claim(it.pa, it.nr) || frame_owner(it.pa, &o) != 0 ||
	    o.tag != FRAME_ALLOCATED || (!it.range && o.head != it.pa)) {
		w->errors++;
		return;
	}
	sign(it.pa, it.nr);
	w->local[w->n++] = it;
	w->allocs++;
}

/* Lock-free readers while banks appear: any address of the space, added or not yet. */
static void worker_lookup(struct worker *w)
{
	phys_addr_t any = SPACE_BASE + test_rand(&w->rng) % SPACE_SIZE;
	struct frame_owner o;
	int rc = frame_owner(any, &o);

	if (rc == 0 && (any < o.head || any - o.head >= (PAGE_SIZE << o.order)))
		w->errors++;
	else if (rc != 0 && rc != -ENOENT)
		w->errors++;
	w->lookups += rc == 0;
}

static unsigned long progress; /* operations done by all workers so far */

static void *work(void *arg)
{
	struct worker *w = arg;

	arena_set_hart(w->hart);
	for (unsigned long op = 0; op < w->ops; op++) {
		unsigned int r = test_rand(&w->rng) % 100;

		__atomic_fetch_add(&progress, 1, __ATOMIC_RELAXED);
		if (w->n == w->live || (w->n && r < 40)) {
			size_t i = test_rand(&w->rng) % w->n;
			struct item it = w->local[i];

			w->local[i] = w->local[--w->n];
			worker_free(w, it);
		} else if (r < 95) {
			worker_alloc(w);
		} else {
			worker_lookup(w);
		}
	}
	while (w->n)
		worker_free(w, w->local[--w->n]);
	return NULL;
}

static void run_workers(struct ktest *t, struct worker *workers, pthread_t *tid, unsigned long ops,
			size_t live)
{
	progress = 0;
	for (unsigned int i = 0; i < HARTS; i++) {
		workers[i] = (struct worker){
			.hart = i + 1, .ops = ops, .live = live, .rng = 0x9876543ULL * (i + 7)
		};
		KT_ASSERT_EQ(t, pthread_create(&tid[i], NULL, work, &workers[i]), 0);
	}
}

static void join_workers(struct ktest *t, struct worker *workers, pthread_t *tid)
{
	unsigned long allocs = 0, failed = 0, lookups = 0;

	for (unsigned int i = 0; i < HARTS; i++) {
		pthread_join(tid[i], NULL);
		KT_EXPECT_EQ(t, workers[i].errors, 0);
		allocs += workers[i].allocs;
		failed += workers[i].failed;
		lookups += workers[i].lookups;
	}
	ktest_log(t, "%u harts: %lu allocations, %lu out of memory, %lu owners found", HARTS,
		  allocs, failed, lookups);
}

/*
 * Three harts allocate, free and look up owners while this one adds
 * banks, and while the hook adds more for harts that run short (all
 * through one lock, the hook's, so the pieces follow each other).
 */
static void adds_while_harts_allocate(struct ktest *t)
{
	static struct worker workers[HARTS];
	pthread_t tid[HARTS];
	struct buddy_stats s;

	grow_setup(t, 4 * SZ_1M, 8 * SZ_1M);
	buddy_set_grow_hook(grow_hook);
	run_workers(t, workers, tid, 60000, LOCAL_MAX);
	for (unsigned int i = 0; i < 12; i++) {
		/* spread over the workers' run */
		while (__atomic_load_n(&progress, __ATOMIC_RELAXED) < (i + 1) * HARTS * 60000 / 14)
			sched_yield();
		pthread_mutex_lock(&g.lock);
		KT_EXPECT(t, add_piece((i % 4 + 1) * 4 * SZ_1M + (i % 3) * PAGE_SIZE));
		g.next = ALIGN_UP(g.next, 8 * SZ_1M);
		pthread_mutex_unlock(&g.lock);
	}
	join_workers(t, workers, tid);
	ktest_log(t, "%u banks, %u grown by the hook when harts ran short", buddy_nr_banks(),
		  g.grown - 12);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	buddy_drain_caches();
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.allocated, 0);
	KT_EXPECT_EQ(t, s.nr_banks, 1 + g.grown);
	KT_EXPECT(t, lists_are_all_free_memory(t, 1));
}

/* ---- free page reporting ---- */

#define MAX_REPORTS 4096

static struct {
	phys_addr_t pa[MAX_REPORTS];
	unsigned int n;
	unsigned long bad; /* a block not isolated while reported, or a bad size */
	bool grab;	   /* the next report tries to allocate everything */
	uint64_t grabbed;
	bool scrub;	   /* write the block, then discard it as a process would */
} rep;

static void reset_reports(void)
{
	memset(&rep, 0, sizeof(rep));
}

/* Takes every frame there is; none may be in [pa, pa + size). */
static void grab_everything(phys_addr_t pa, uint64_t size)
{
	phys_addr_t *got = malloc(MAX_HELD * sizeof(*got));
	size_t n = 0;

	while (n < MAX_HELD && buddy_alloc(0, &got[n]) == 0) {
		if (got[n] - pa < size)
			rep.bad++;
		n++;
	}
	if (n == MAX_HELD)
		rep.bad++;
	rep.grabbed = n;
	while (n)
		buddy_free(got[--n], 0); /* each a free: they report nothing while we run */
	free(got);
}

static void reporter(phys_addr_t pa, uint64_t size)
{
	struct frame_owner o;
	unsigned int i = __atomic_fetch_add(&rep.n, 1, __ATOMIC_RELAXED);

	if (i < MAX_REPORTS)
		rep.pa[i] = pa;
	/* isolated: off the lists, its head a cached block of the largest order */
	if (size != BLOCK_BYTES || frame_owner(pa + size / 2, &o) != 0 || o.head != pa ||
	    o.tag != FRAME_CACHED || o.order != BUDDY_MAX_ORDER)
		__atomic_fetch_add(&rep.bad, 1, __ATOMIC_RELAXED);
	if (rep.grab) {
		rep.grab = false;
		grab_everything(pa, size);
	}
	if (rep.scrub) {
		/* ours alone meanwhile: nobody else may hold a frame of it */
		if (!arena_shadow_claim(pa, size / PAGE_SIZE)) {
			__atomic_fetch_add(&rep.bad, 1, __ATOMIC_RELAXED);
			return;
		}
		memset(phys_to_virt(pa), 0x5a, size);
		if (madvise(phys_to_virt(pa), size, MADV_DONTNEED) != 0 ||
		    *word(pa + size - 8) != 0)
			__atomic_fetch_add(&rep.bad, 1, __ATOMIC_RELAXED);
		arena_shadow_release(pa, size / PAGE_SIZE);
	}
}

static bool was_reported(phys_addr_t pa, unsigned int from, unsigned int to)
{
	for (unsigned int i = from; i < to; i++) {
		if (rep.pa[i] == pa)
			return true;
	}
	return false;
}

/* A reported block: free, of the largest order, marked. */
static bool is_reported_block(phys_addr_t pa)
{
	struct frame_owner o;

	return frame_owner(pa, &o) == 0 && o.head == pa && o.tag == FRAME_FREE &&
	       o.order == BUDDY_MAX_ORDER && o.aux == FRAME_AUX_REPORTED;
}

/* 64 MiB booted (not reported), reporting down to keep blocks' worth. */
static uint64_t reporting_setup(struct ktest *t, uint64_t keep_blocks)
{
	boot(t, 64 * SZ_1M);
	reset_reports();
	buddy_set_reporter(reporter, keep_blocks * BLOCK_FRAMES);
	return unreported();
}

static void reports_beyond_keep(struct ktest *t)
{
	uint64_t u0 = reporting_setup(t, 3);
	unsigned int first;
	phys_addr_t pa[4];
	struct buddy_stats s;

	KT_ASSERT(t, u0 > 5 * BLOCK_FRAMES);
	KT_EXPECT_EQ(t, rep.n, 0); /* nothing until a free */
	/* a free that leaves the count as it was still triggers it: it is above keep */
	KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER, &pa[0]), 0);
	KT_EXPECT_EQ(t, buddy_free(pa[0], BUDDY_MAX_ORDER), 0);
	KT_EXPECT_EQ(t, rep.n, u0 / BLOCK_FRAMES - 3);
	KT_EXPECT_EQ(t, rep.bad, 0);
	KT_EXPECT_EQ(t, unreported(), 3 * BLOCK_FRAMES);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.reported, (uint64_t)rep.n * BLOCK_FRAMES);
	for (unsigned int i = 0; i < rep.n; i++) {
		KT_EXPECT(t, is_reported_block(rep.pa[i]));
		KT_EXPECT(t, !was_reported(rep.pa[i], 0, i)); /* each once */
	}
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);

	/* allocation takes the unreported blocks first: the 3 kept, then a reported one */
	for (unsigned int i = 0; i < 4; i++)
		KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER, &pa[i]), 0);
	for (unsigned int i = 0; i < 3; i++)
		KT_EXPECT(t, !was_reported(pa[i], 0, rep.n));
	KT_EXPECT(t, was_reported(pa[3], 0, rep.n));
	KT_EXPECT_EQ(t, unreported(), 0);
	/*
	 * back, the one reported before first: 4 blocks are one over keep, and
	 * the one freed longest ago goes: that one, reported again now that it
	 * has been allocated and freed
	 */
	first = rep.n;
	for (unsigned int i = 4; i-- > 0;)
		KT_EXPECT_EQ(t, buddy_free(pa[i], BUDDY_MAX_ORDER), 0);
	KT_EXPECT_EQ(t, rep.n, first + 1);
	KT_EXPECT_EQ(t, rep.pa[first], pa[3]);
	KT_EXPECT_EQ(t, unreported(), 3 * BLOCK_FRAMES);

	/* a largest block split for smaller ones and merged back: counted out, then in */
	first = rep.n;
	while (unreported() == 3 * BLOCK_FRAMES) {
		KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER - 1, &pa[0]), 0);
		hold(t, pa[0], BLOCK_FRAMES / 2, BUDDY_MAX_ORDER - 1);
	}
	KT_EXPECT_EQ(t, unreported(), 2 * BLOCK_FRAMES);
	release(t);
	KT_EXPECT_EQ(t, rep.n, first);
	KT_EXPECT_EQ(t, unreported(), 3 * BLOCK_FRAMES);

	/*
	 * an owner's aux that happens to equal the mark does not survive the
	 * free: the block is unreported, and over keep
	 */
	first = rep.n;
	for (unsigned int i = 0; i < 4; i++) {
		KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER, &pa[i]), 0);
		KT_EXPECT_EQ(t, frame_set_owner(pa[i], BUDDY_MAX_ORDER, FRAME_HEAP, 7,
						FRAME_AUX_REPORTED),
			     0);
	}
	for (unsigned int i = 0; i < 4; i++)
		KT_EXPECT_EQ(t, buddy_free(pa[i], BUDDY_MAX_ORDER), 0);
	KT_EXPECT_EQ(t, rep.n, first + 1);
	KT_EXPECT_EQ(t, rep.pa[first], pa[0]); /* the first freed */
	KT_EXPECT_EQ(t, unreported(), 3 * BLOCK_FRAMES);

	/* the rest now, for malloc_trim(): exactly the 3 kept, none twice */
	first = rep.n;
	KT_EXPECT_EQ(t, buddy_report_free(), 3 * BLOCK_FRAMES);
	KT_EXPECT_EQ(t, rep.n, first + 3);
	for (unsigned int i = first; i < rep.n; i++)
		KT_EXPECT(t, !was_reported(rep.pa[i], first, i) && is_reported_block(rep.pa[i]));
	KT_EXPECT_EQ(t, buddy_report_free(), 0);
	KT_EXPECT_EQ(t, rep.n, first + 3);
	KT_EXPECT_EQ(t, unreported(), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.reported, s.nr_free[BUDDY_MAX_ORDER] * BLOCK_FRAMES);
	KT_EXPECT_EQ(t, rep.bad, 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/* Order-0 frees through the caches, and ranges, trigger it too. */
static void every_free_path_triggers(struct ktest *t)
{
	uint64_t u0 = reporting_setup(t, 0);
	phys_addr_t pa;

	buddy_set_reporter(reporter, UINT64_MAX); /* first, nothing reported on any free */
	exhaust(t, 0);
	release(t);
	buddy_drain_caches();
	KT_EXPECT_EQ(t, rep.n, 0);
	KT_EXPECT_EQ(t, unreported(), u0);
	/* the caches: a free that drains a full one, or buddy_drain_cache() */
	buddy_set_reporter(reporter, u0 - BLOCK_FRAMES);
	exhaust(t, 0);
	release(t);
	KT_EXPECT_LE(t, rep.n, 1);
	buddy_drain_caches();
	KT_EXPECT_EQ(t, rep.n, 1);
	KT_EXPECT_EQ(t, unreported(), u0 - BLOCK_FRAMES);
	/* a range: its allocation reports nothing, its free does */
	buddy_set_reporter(reporter, u0 - 2 * BLOCK_FRAMES);
	KT_ASSERT_EQ(t, buddy_alloc_range(BLOCK_FRAMES + 1, 0, BUDDY_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, rep.n, 1);
	KT_EXPECT_EQ(t, buddy_free_range(pa, BLOCK_FRAMES + 1), 0);
	KT_EXPECT_GE(t, rep.n, 2);
	KT_EXPECT_EQ(t, unreported(), u0 - 2 * BLOCK_FRAMES);
	/* and no reporter: nothing */
	buddy_set_reporter(NULL, 0);
	KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER, &pa), 0);
	KT_EXPECT_EQ(t, buddy_free(pa, BUDDY_MAX_ORDER), 0);
	KT_EXPECT_EQ(t, buddy_report_free(), 0);
	KT_EXPECT_EQ(t, unreported(), u0 - 2 * BLOCK_FRAMES + BLOCK_FRAMES * 0);
	KT_EXPECT_EQ(t, rep.bad, 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/*
 * While the reporter has a block, it is nobody else's: the first report
 * allocates every frame there is (and frees them, which reports nothing
 * then: one reporter at a time), and none may come from that block.
 */
static void reported_block_is_isolated(struct ktest *t)
{
	struct buddy_stats s;
	uint64_t free;
	phys_addr_t pa;

	reporting_setup(t, 2);
	free = buddy_free_frames();
	rep.grab = true;
	KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER, &pa), 0);
	KT_EXPECT_EQ(t, buddy_free(pa, BUDDY_MAX_ORDER), 0);
	KT_EXPECT_EQ(t, rep.bad, 0);
	KT_EXPECT_EQ(t, rep.grabbed, free - BLOCK_FRAMES); /* everything but the block */
	KT_EXPECT_LE(t, unreported(), 2 * BLOCK_FRAMES);
	buddy_drain_caches();
	KT_EXPECT_EQ(t, unreported(), 2 * BLOCK_FRAMES);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.free, free);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/* Hot-added memory starts out reported; once used and freed, it is reported like any. */
static void added_memory_starts_reported(struct ktest *t)
{
	const phys_addr_t base = SPACE_BASE + 64 * SZ_1M;
	uint64_t u0 = reporting_setup(t, 0);
	struct buddy_stats s;
	phys_addr_t pa;

	buddy_set_reporter(reporter, u0);
	KT_ASSERT_EQ(t, buddy_add_memory(base, 16 * SZ_1M), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.reported, 3 * BLOCK_FRAMES); /* the first block holds the metadata */
	KT_EXPECT_EQ(t, unreported(), u0);
	KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER, &pa), 0); /* the top bank first */
	KT_EXPECT_GE(t, pa, base);
	KT_EXPECT_EQ(t, buddy_free(pa, BUDDY_MAX_ORDER), 0);
	KT_EXPECT_EQ(t, rep.n, 1);
	KT_EXPECT_LT(t, rep.pa[0], base); /* the lowest bank's first */
	KT_EXPECT_NE(t, rep.pa[0], pa);
	KT_EXPECT_EQ(t, unreported(), u0);
	KT_EXPECT_EQ(t, buddy_report_free(), u0);
	KT_EXPECT(t, was_reported(pa, 0, rep.n));
	KT_EXPECT_EQ(t, rep.bad, 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/*
 * Harts allocate and free (blocks of every size, signed and claimed in the
 * shadow) while the reporter writes each block it gets and throws its
 * memory away: no hart may lose a byte, the reporter may never find a
 * frame of its block in use.
 */
static void reporter_discards_while_harts_allocate(struct ktest *t)
{
	static struct worker workers[HARTS];
	pthread_t tid[HARTS];
	struct buddy_stats s;
	uint64_t left;

	reporting_setup(t, 0); /* every largest block as soon as it forms */
	rep.scrub = true;
	run_workers(t, workers, tid, 60000, 20); /* few held: largest blocks form and break up */
	join_workers(t, workers, tid);
	ktest_log(t, "%u blocks reported meanwhile", rep.n);
	KT_EXPECT_GT(t, rep.n, 0);
	KT_EXPECT_EQ(t, rep.bad, 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	buddy_drain_caches();
	KT_EXPECT_EQ(t, unreported(), 0);
	left = unreported();
	KT_EXPECT_EQ(t, buddy_report_free(), left);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.allocated, 0);
	KT_EXPECT_EQ(t, s.reported, s.nr_free[BUDDY_MAX_ORDER] * BLOCK_FRAMES);
	KT_EXPECT_EQ(t, rep.bad, 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

static const struct ktest_case cases[] = {
	KTEST_CASE(adds_banks_above_a_boot_bank),
	KTEST_CASE(adds_to_an_empty_buddy),
	KTEST_CASE(refusals),
	KTEST_CASE(out_of_banks),
	KTEST_CASE(grows_on_demand),
	KTEST_CASE(grows_for_a_range),
	KTEST_CASE(ensure_free_grows),
	KTEST_CASE(hook_that_refuses),
	KTEST_CASE(hook_asked_until_it_gives_up),
	KTEST_CASE(adds_while_harts_allocate),
	KTEST_CASE(reports_beyond_keep),
	KTEST_CASE(every_free_path_triggers),
	KTEST_CASE(reported_block_is_isolated),
	KTEST_CASE(added_memory_starts_reported),
	KTEST_CASE(reporter_discards_while_harts_allocate),
	{ 0 },
};

static const struct ktest_suite hotplug_suite = {
	.name = "buddy_hotplug",
	.cases = cases,
	.exit = done,
};

const struct ktest_suite *const test_suites[] = { &hotplug_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
