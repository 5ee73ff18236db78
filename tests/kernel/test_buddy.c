// SPDX-License-Identifier: MIT
/*
 * The buddy allocator on the real machine, right after it took over from the
 * boot map: its counts against the map, the owner tags, and every free frame
 * of every bank handed out, written, read back and returned.
 */
#include <kernel/arch.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/errno.h>
#include <kernel/kmap.h>
#include <kernel/ktest.h>
#include <kernel/smp.h>
#include <mm/buddy.h>
#include <mm/phys.h>
#include <string.h>

#define SZ_4G 0x100000000ULL

static const struct memmap *map(void)
{
	return &boot_info.memmap;
}

static uint64_t whole_pages(uint64_t base, uint64_t size)
{
	uint64_t first = ALIGN_UP(base, PAGE_SIZE), end = ALIGN_DOWN(base + size, PAGE_SIZE);

	return end > first ? (end - first) / PAGE_SIZE : 0;
}

static void takeover_matches_boot_map(struct ktest *t)
{
	struct buddy_stats s;
	uint64_t ram = 0, early = 0;

	buddy_drain_caches();
	buddy_stats(&s);
	for (unsigned int i = 0; i < map()->nr_ram; i++)
		ram += whole_pages(map()->ram[i].base, map()->ram[i].size);
	for (unsigned int i = 0; i < map()->nr_resv; i++) {
		const struct resv_region *r = &map()->resv[i];
		if (r->kind == RESV_EARLY)
			early += r->size / PAGE_SIZE;
	}
	/*
	 * Since the takeover the kernel has allocated (its page tables, the
	 * harts' stacks, heap pages): all of it came out of the usable frames.
	 */
	uint64_t at_least = kernel_space.nr_tables + ((uint64_t)(smp_nr_online() - 1) << HART_STACK_ORDER);

	KT_EXPECT_EQ(t, s.total, ram);
	KT_EXPECT_EQ(t, s.free + s.allocated, memmap_total_usable(map()) / PAGE_SIZE);
	KT_EXPECT_EQ(t, s.early, early);
	KT_EXPECT_GE(t, s.allocated, at_least);
	KT_EXPECT_EQ(t, s.free + s.allocated + s.early + s.reserved, s.total);
	/* 16 bytes of metadata per frame: under 0.4 % of RAM */
	KT_EXPECT_LE(t, s.metadata_bytes, ALIGN_UP(s.total * FRAME_META_BYTES, PAGE_SIZE) +
					      s.nr_banks * PAGE_SIZE);
	KT_EXPECT_LT(t, s.metadata_bytes * 1000, s.total * PAGE_SIZE * 4);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

static void tags_follow_the_boot_map(struct ktest *t)
{
	KT_EXPECT_EQ(t, frame_tag(kimage_to_phys(_start)), FRAME_RESERVED);
	KT_EXPECT_EQ(t, frame_tag(kimage_to_phys(_end) - 1), FRAME_RESERVED);
	KT_EXPECT_EQ(t, frame_tag(boot_info.fdt_pa), FRAME_RESERVED);
	for (unsigned int i = 0; i < map()->nr_resv; i++) {
		const struct resv_region *r = &map()->resv[i];
		if (r->kind == RESV_EARLY)
			KT_EXPECT_EQ(t, frame_tag(r->base + r->size - 1), FRAME_EARLY);
	}
	/*
	 * usable frames are the buddy's: free (or in a hart's cache), or
	 * handed out since the takeover (page tables, stacks, heap pages)
	 */
	for (unsigned int i = 0; i < map()->nr_usable; i++) {
		int tag = frame_tag(map()->usable[i].base);

		KT_EXPECT(t, tag == FRAME_FREE || tag == FRAME_CACHED || tag == FRAME_PAGETABLE ||
			     tag == FRAME_ALLOCATED || tag == FRAME_SLAB || tag == FRAME_LARGE ||
			     tag == FRAME_HEAP);
	}
	/* between banks, and past the end of RAM, nothing is anybody's */
	for (unsigned int i = 0; i + 1 < map()->nr_ram; i++)
		KT_EXPECT_EQ(t, frame_tag(map()->ram[i].base + map()->ram[i].size), -ENOENT);
	const struct mem_range *last = &map()->ram[map()->nr_ram - 1];
	KT_EXPECT_EQ(t, frame_tag(last->base + last->size), -ENOENT);
}

/* Words written into every frame: its address, so no two frames agree. */
#define PATTERN(pa) ((pa) ^ 0x5a5aa5a5c3c33c3cULL)
#define WORDS_PER_FRAME (PAGE_SIZE / 8)

/* A held block's first frame keeps the list of held blocks (in words 1 and 2). */
struct held {
	phys_addr_t next;
	uint64_t order;
};

static struct held *held_of(phys_addr_t pa)
{
	return (struct held *)((uint64_t *)phys_to_virt(pa) + 1);
}

static void write_block(phys_addr_t pa, unsigned int order)
{
	for (uint64_t f = 0; f < (1ULL << order); f++) {
		uint64_t *w = phys_to_virt(pa + f * PAGE_SIZE);
		w[0] = PATTERN(pa + f * PAGE_SIZE);
		w[WORDS_PER_FRAME - 1] = ~PATTERN(pa + f * PAGE_SIZE);
	}
}

static uint64_t check_block(phys_addr_t pa, unsigned int order)
{
	uint64_t bad = 0;

	for (uint64_t f = 0; f < (1ULL << order); f++) {
		const uint64_t *w = phys_to_virt(pa + f * PAGE_SIZE);
		bad += w[0] != PATTERN(pa + f * PAGE_SIZE);
		bad += w[WORDS_PER_FRAME - 1] != ~PATTERN(pa + f * PAGE_SIZE);
	}
	return bad;
}

/* The end of a list of held blocks: not 0, a frame like any other where RAM starts at 0. */
#define NO_BLOCK (~(phys_addr_t)0)

static void every_free_frame_written_and_returned(struct ktest *t)
{
	struct buddy_stats before, after;
	phys_addr_t head = NO_BLOCK, pa;
	uint64_t frames = 0, bad = 0, blocks = 0;

	buddy_drain_caches();
	buddy_stats(&before);
	/* Biggest blocks first: every free frame, in few operations. */
	for (int order = BUDDY_MAX_ORDER; order >= 0; order--) {
		while (buddy_alloc((unsigned int)order, &pa) == 0) {
			write_block(pa, (unsigned int)order);
			*held_of(pa) = (struct held){ head, (uint64_t)order };
			head = pa;
			frames += 1ULL << order;
			blocks++;
		}
	}
	KT_EXPECT_EQ(t, frames, before.free);
	KT_EXPECT_EQ(t, buddy_free_frames(), 0);
	KT_EXPECT_EQ(t, buddy_alloc(0, &pa), -ENOMEM); /* exhausted ... */

	/* Read everything back only once all of it is held: no frame handed out twice. */
	for (phys_addr_t p = head; p != NO_BLOCK;) {
		struct held h = *held_of(p);
		/* the list words overwrote nothing the pattern uses */
		bad += check_block(p, (unsigned int)h.order);
		p = h.next;
	}
	KT_EXPECT_EQ(t, bad, 0);

	for (phys_addr_t p = head; p != NO_BLOCK;) {
		struct held h = *held_of(p);
		KT_EXPECT_EQ(t, buddy_free(p, (unsigned int)h.order), 0);
		p = h.next;
	}
	KT_ASSERT_EQ(t, buddy_alloc(0, &pa), 0); /* ... and recovered */
	KT_EXPECT_EQ(t, buddy_free(pa, 0), 0);

	buddy_drain_caches();
	buddy_stats(&after);
	KT_EXPECT_EQ(t, after.free, before.free);
	for (unsigned int o = 0; o <= BUDDY_MAX_ORDER; o++)
		KT_EXPECT_EQ(t, after.nr_free[o], before.nr_free[o]); /* coalesced back exactly */
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	ktest_log(t, "%llu frames (%llu MiB) in %llu blocks written and verified",
		  (unsigned long long)frames, (unsigned long long)(frames >> 8),
		  (unsigned long long)blocks);
}

static void limit_and_alignment(struct ktest *t)
{
	const struct mem_range *last = &map()->ram[map()->nr_ram - 1];
	phys_addr_t pa;

	KT_ASSERT_EQ(t, buddy_alloc_ex(0, SZ_2M, BUDDY_NO_LIMIT, 0, &pa), 0);
	KT_EXPECT(t, IS_ALIGNED(pa, SZ_2M));
	KT_EXPECT_EQ(t, buddy_free(pa, 0), 0);
	if (last->base + last->size <= SZ_4G)
		KT_SKIP(t, "all RAM lies below 4 GiB");
	/* DMA32-style: the highest banks are tried first, so this proves the limit */
	KT_ASSERT_EQ(t, buddy_alloc_ex(9, 0, SZ_4G, 0, &pa), 0);
	KT_EXPECT_LE(t, pa + (PAGE_SIZE << 9), SZ_4G);
	KT_EXPECT_EQ(t, buddy_free(pa, 9), 0);
	KT_ASSERT_EQ(t, buddy_alloc_ex(0, 0, BUDDY_NO_LIMIT, BUDDY_NOCACHE, &pa), 0);
	KT_EXPECT_GE(t, pa, SZ_4G);
	KT_EXPECT_EQ(t, buddy_free_ex(pa, 0, BUDDY_NOCACHE), 0);
}

static phys_addr_t misuse_pa;
static unsigned int misuse_reports;

static void record_misuse(const char *what, phys_addr_t pa)
{
	(void)what;
	misuse_pa = pa;
	misuse_reports++;
}

static void misuse_reported_with_the_address(struct ktest *t)
{
	buddy_misuse_fn old = buddy_set_misuse_handler(record_misuse);
	phys_addr_t pa;

	misuse_reports = 0;
	KT_ASSERT_EQ(t, buddy_alloc_ex(1, 0, BUDDY_NO_LIMIT, 0, &pa), 0);
	KT_EXPECT_EQ(t, buddy_free(pa + PAGE_SIZE, 0), -EINVAL); /* the middle of a block */
	KT_EXPECT_EQ(t, misuse_pa, pa + PAGE_SIZE);
	KT_EXPECT_EQ(t, buddy_free(pa, 0), -EINVAL); /* the wrong order */
	KT_EXPECT_EQ(t, buddy_free(pa, 1), 0);
	KT_EXPECT_EQ(t, buddy_free(pa, 1), -EINVAL); /* twice */
	KT_EXPECT_EQ(t, misuse_pa, pa);
	KT_EXPECT_EQ(t, buddy_free(kimage_to_phys(_start), 0), -EINVAL); /* the kernel's own frames */
	KT_EXPECT_EQ(t, misuse_reports, 4);
	buddy_set_misuse_handler(old);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

/* ---- growing and giving back, as a host would use them (the kernel sets neither) ---- */

static unsigned int grow_calls;
static uint64_t grow_asked;

static bool refuse_to_grow(uint64_t nr_frames)
{
	grow_calls++;
	grow_asked = nr_frames;
	return false;
}

static unsigned int reports;
static uint64_t reported;

#define REPORTED_MARK 0x5e9047edULL

/* The block is the reporter's while it runs: nobody else may have it. */
static void mark_report(phys_addr_t pa, uint64_t size)
{
	uint64_t *w = phys_to_virt(pa);

	reports++;
	reported += size / PAGE_SIZE;
	w[0] = REPORTED_MARK ^ pa;
}

/*
 * Every free frame taken, largest blocks first: the grow hook is asked each
 * time an order runs out, with the frames wanted, and refusing changes
 * nothing. Then the largest blocks freed with a reporter that keeps none:
 * each is reported once as it goes back, isolated (its mark is intact), and
 * one taken and freed again is reported again.
 */
static void grow_hook_and_free_page_reporting(struct ktest *t)
{
	phys_addr_t head = NO_BLOCK, pa;
	unsigned int max_blocks = 0, asked = 0;
	struct buddy_stats before, s;

	buddy_drain_caches();
	buddy_stats(&before);
	grow_calls = 0;
	buddy_set_grow_hook(refuse_to_grow);
	for (int order = BUDDY_MAX_ORDER; order >= 0; order--) {
		while (buddy_alloc((unsigned int)order, &pa) == 0) {
			*(phys_addr_t *)phys_to_virt(pa) = head; /* a list through the blocks */
			((uint64_t *)phys_to_virt(pa))[1] = (uint64_t)order;
			head = pa;
			max_blocks += order == BUDDY_MAX_ORDER;
		}
		asked++;
		KT_EXPECT_EQ(t, grow_calls, asked); /* once per order that ran out */
		KT_EXPECT_EQ(t, grow_asked, 1ULL << order);
	}
	KT_EXPECT_EQ(t, buddy_ensure_free(1), -ENOMEM);
	KT_EXPECT_EQ(t, grow_asked, 1);
	buddy_set_grow_hook(NULL);

	reports = 0;
	reported = 0;
	buddy_set_reporter(mark_report, 0);
	while (head != NO_BLOCK) {
		phys_addr_t next = *(phys_addr_t *)phys_to_virt(head);
		unsigned int order = (unsigned int)((uint64_t *)phys_to_virt(head))[1];

		KT_EXPECT_EQ(t, buddy_free(head, order), 0);
		head = next;
	}
	buddy_drain_caches();
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.free, before.free);
	KT_EXPECT_GE(t, reports, max_blocks); /* merged smaller blocks may add more */
	KT_EXPECT_EQ(t, s.reported, reported);
	KT_EXPECT_EQ(t, s.reported, s.nr_free[BUDDY_MAX_ORDER] << BUDDY_MAX_ORDER);
	KT_ASSERT_EQ(t, buddy_alloc(BUDDY_MAX_ORDER, &pa), 0);
	KT_EXPECT_EQ(t, *(uint64_t *)phys_to_virt(pa), REPORTED_MARK ^ pa);
	reports = 0;
	KT_EXPECT_EQ(t, buddy_free(pa, BUDDY_MAX_ORDER), 0);
	KT_EXPECT_EQ(t, reports, 1); /* freed again: reported again */
	buddy_set_reporter(NULL, 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
}

static const struct ktest_case buddy_cases[] = {
	KTEST_CASE(takeover_matches_boot_map),
	KTEST_CASE(tags_follow_the_boot_map),
	KTEST_CASE(every_free_frame_written_and_returned),
	KTEST_CASE(limit_and_alignment),
	KTEST_CASE(misuse_reported_with_the_address),
	KTEST_CASE(grow_hook_and_free_page_reporting),
	{ 0 },
};

const struct ktest_suite buddy_boot_suite = { .name = "buddy-boot", .cases = buddy_cases };
