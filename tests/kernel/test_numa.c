// SPDX-License-Identifier: MIT
/*
 * NUMA placement, checked on the machine: the nodes the command line
 * says (test.numa=N, default 1), and on each hart, frames, blocks and heap
 * objects of its own node while it has them, then of the nearest.
 */
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/hart.h>
#include <kernel/ktest.h>
#include <kernel/smp.h>
#include <mm/buddy.h>
#include <mm/kmalloc.h>
#include <mm/numa.h>
#include <mm/phys.h>

/*
 * The k-th node, counting only nodes with RAM, of a hart's fallback order:
 * k = 0, the node its memory should come from (its own if it has RAM);
 * k = 1, the next once that one is full.
 */
static unsigned int home_node(unsigned int hart, unsigned int k)
{
	unsigned int local = numa_hart_node(hart);

	for (unsigned int r = 0; r < numa_nr_nodes(); r++) {
		unsigned int node = numa_fallback(local, r);

		if (numa_node_ram(node) && k-- == 0)
			return node;
	}
	return NUMA_MAX_NODES;
}

static void nodes_as_the_command_line_says(struct ktest *t)
{
	uint64_t want = 1;

	cmdline_get_size("test.numa", &want);
	KT_EXPECT_EQ(t, numa_nr_nodes(), want);
	for (unsigned int i = 0; i < boot_info.harts.nr; i++)
		KT_EXPECT_LT(t, numa_hart_node(i), numa_nr_nodes());
	if (want > 1) { /* every byte of RAM in a node */
		uint64_t ram = 0;

		for (unsigned int node = 0; node < want; node++)
			ram += numa_node_ram(node);
		KT_EXPECT_EQ(t, ram, memmap_total_ram(&boot_info.memmap));
	}
}

/* ---- each hart, its own node ----------------------------------------------------- */

struct placement {
	unsigned int checked, elsewhere, failed;
};

static void check(struct placement *p, phys_addr_t pa, unsigned int want)
{
	p->checked++;
	if (numa_node_of(pa) != want)
		p->elsewhere++;
}

#define FRAMES 80 /* more than a batch of the page cache, twice */
#define OBJECTS 64

static void allocate_here(void *arg)
{
	struct placement *p = arg;
	unsigned int want = home_node(this_hart_index(), 0);
	phys_addr_t frames[FRAMES], block;
	void *obj[OBJECTS], *pages;
	unsigned int n;

	for (n = 0; n < FRAMES && buddy_alloc_frame(&frames[n]) == 0; n++)
		check(p, frames[n], want);
	p->failed += FRAMES - n;
	while (n > 0)
		buddy_free_frame(frames[--n]);
	if (buddy_alloc(2, &block) == 0) {
		check(p, block, want);
		buddy_free(block, 2);
	} else {
		p->failed++;
	}
	for (n = 0; n < OBJECTS && (obj[n] = kmalloc(256)); n++)
		check(p, virt_to_phys(obj[n]), want);
	p->failed += OBJECTS - n;
	while (n > 0)
		kfree(obj[--n]);
	pages = kmalloc(16384);
	if (pages)
		check(p, virt_to_phys(pages), want);
	else
		p->failed++;
	kfree(pages);
}

static void each_hart_allocates_from_its_node(struct ktest *t)
{
	if (numa_nr_nodes() < 2)
		KT_SKIP(t, "one node");
	for (unsigned int i = 0; i < boot_info.harts.nr; i++) {
		struct placement p = { 0 };

		if (i == this_hart_index())
			allocate_here(&p);
		else if (!smp_call(i, allocate_here, &p))
			continue;
		KT_EXPECT_EQ(t, p.failed, 0);
		KT_EXPECT_GT(t, p.checked, FRAMES);
		if (!KT_EXPECT_EQ(t, p.elsewhere, 0))
			ktest_log(t, "hart %u (node %u): %u of %u allocations from another node", i,
				  numa_hart_node(i), p.elsewhere, p.checked);
	}
}

/* ---- a full node ------------------------------------------------------------------ */

struct overflow {
	unsigned int local_blocks, first_elsewhere; /* a node, or NUMA_MAX_NODES: none */
	bool failed;
};

/*
 * Takes the largest blocks, chained through their first word, until one
 * comes from another node: its node is the answer. Then frees them all.
 */
static void fill_the_node(void *arg)
{
	struct overflow *o = arg;
	unsigned int local = home_node(this_hart_index(), 0);
	phys_addr_t head = BUDDY_NO_LIMIT, pa;

	o->first_elsewhere = NUMA_MAX_NODES;
	while (buddy_alloc(BUDDY_MAX_ORDER, &pa) == 0) {
		*(phys_addr_t *)phys_to_virt(pa) = head;
		head = pa;
		if (numa_node_of(pa) != local) {
			o->first_elsewhere = numa_node_of(pa);
			break;
		}
		o->local_blocks++;
	}
	while (head != BUDDY_NO_LIMIT) {
		pa = head;
		head = *(phys_addr_t *)phys_to_virt(pa);
		o->failed |= buddy_free(pa, BUDDY_MAX_ORDER) != 0;
	}
}

static void a_full_node_falls_back_to_the_nearest(struct ktest *t)
{
	bool node_done[NUMA_MAX_NODES] = { false };

	if (numa_nr_nodes() < 2)
		KT_SKIP(t, "one node");
	for (unsigned int i = 0; i < boot_info.harts.nr; i++) {
		unsigned int node = numa_hart_node(i);
		struct overflow o = { 0 };

		if (node_done[node] || !numa_node_ram(node))
			continue;
		if (i == this_hart_index())
			fill_the_node(&o);
		else if (!smp_call(i, fill_the_node, &o))
			continue;
		node_done[node] = true;
		KT_EXPECT(t, !o.failed);
		/* all but what the kernel, the heaps and the metadata hold */
		KT_EXPECT_GT(t, (uint64_t)o.local_blocks << (BUDDY_MAX_ORDER + PAGE_SHIFT),
			     numa_node_ram(node) / 2);
		if (!KT_EXPECT_EQ(t, o.first_elsewhere, home_node(i, 1)))
			ktest_log(t, "hart %u (node %u): after %u local blocks, one from node %u",
				  i, node, o.local_blocks, o.first_elsewhere);
	}
}

static const struct ktest_case numa_cases[] = {
	KTEST_CASE(nodes_as_the_command_line_says),
	KTEST_CASE(each_hart_allocates_from_its_node),
	KTEST_CASE(a_full_node_falls_back_to_the_nearest),
	{ 0 },
};

const struct ktest_suite numa_suite = { .name = "numa", .cases = numa_cases };
