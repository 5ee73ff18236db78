// SPDX-License-Identifier: MIT
/*
 * NUMA: the map read from tests/dts/numa-4.dts (and broken copies of it),
 * and the buddy serving each hart from its own node, then the nearest, on
 * an arena machine whose nodes split one RAM range.
 */
#include <kernel/errno.h>
#include <mm/harts.h>
#include <kernel/ktest.h>
#include <libfdt.h>
#include <mm/buddy.h>
#include <mm/numa.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dtb_load.h"

static struct numa_map map;
static struct memmap m;
static struct hart_table harts;

/* numa_from_fdt() on blob (freed), with the memory map and hart table read from it too. */
static int read_blob(struct ktest *t, void *blob, size_t size, struct dt_error *err)
{
	int rc;

	if (!blob) {
		ktest_log(t, "cannot load or edit the DTB (DTB_DIR?)");
		return -ENOENT;
	}
	memset(err, 0, sizeof(*err));
	rc = memmap_from_fdt(&m, blob, size, NULL, 0, 0, err);
	if (rc == 0)
		rc = harts_from_fdt(&harts, blob, 0, err);
	if (rc == 0)
		rc = numa_from_fdt(&map, blob, &harts, &m, err);
	free(blob);
	return rc;
}

static int read_dtb(struct ktest *t, const char *name, struct dt_error *err)
{
	size_t size;
	void *blob = dtb_load(name, &size);

	return read_blob(t, blob, size, err);
}

static void expect_single(struct ktest *t)
{
	KT_EXPECT_EQ(t, map.nr_nodes, 1);
	KT_EXPECT_EQ(t, map.nr_ranges, 0);
	for (unsigned int i = 0; i < harts.nr; i++)
		KT_EXPECT_EQ(t, map.hart_node[i], 0);
}

/* ---- reading the device tree ----------------------------------------------------- */

static void reads_ranges_harts_and_distances(struct ktest *t)
{
	static const struct numa_range want[] = {
		{ 0x80000000, 0x10000000, 0 },	{ 0x90000000, 0x10000000, 1 },
		{ 0xa0000000, 0x10000000, 2 },	{ 0xc0000000, 0x10000000, 3 },
		{ 0x100000000, 0x10000000, 1 },
	};
	static const unsigned int hart_nodes[] = { 0, 1, 2, 3, 0, 3 };
	struct dt_error err;

	KT_ASSERT_EQ(t, read_dtb(t, "numa-4", &err), 0);
	KT_EXPECT_EQ(t, map.nr_nodes, 4);
	KT_ASSERT_EQ(t, map.nr_ranges, ARRAY_SIZE(want));
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++) {
		KT_EXPECT_EQ(t, map.range[i].base, want[i].base);
		KT_EXPECT_EQ(t, map.range[i].size, want[i].size);
		KT_EXPECT_EQ(t, map.range[i].node, want[i].node);
	}
	KT_ASSERT_EQ(t, harts.nr, ARRAY_SIZE(hart_nodes));
	for (unsigned int i = 0; i < harts.nr; i++)
		KT_EXPECT_EQ(t, map.hart_node[i], hart_nodes[harts.id[i]]);
	/* listed one way, the other way follows */
	KT_EXPECT_EQ(t, map.distance[0][1], 20);
	KT_EXPECT_EQ(t, map.distance[1][0], 20);
	KT_EXPECT_EQ(t, map.distance[3][2], 20);
	KT_EXPECT_EQ(t, map.distance[2][1], 30);
	KT_EXPECT_EQ(t, map.distance[3][1], 40);
	for (unsigned int a = 0; a < 4; a++)
		KT_EXPECT_EQ(t, map.distance[a][a], NUMA_LOCAL_DISTANCE);
}

static void fallback_is_nearest_first(struct ktest *t)
{
	static const unsigned int want[4][4] = {
		{ 0, 1, 3, 2 }, { 1, 0, 2, 3 }, { 2, 3, 1, 0 }, { 3, 2, 0, 1 },
	};
	struct dt_error err;
	struct numa_map single;

	KT_ASSERT_EQ(t, read_dtb(t, "numa-4", &err), 0);
	numa_set_map(&map);
	KT_EXPECT_EQ(t, numa_nr_nodes(), 4);
	for (unsigned int a = 0; a < 4; a++)
		for (unsigned int r = 0; r < 4; r++)
			KT_EXPECT_EQ(t, numa_fallback(a, r), want[a][r]);
	KT_EXPECT_EQ(t, numa_node_of(0x100000000 + 5), 1);
	KT_EXPECT_EQ(t, numa_node_of(0xb0000000 - 1), 2);
	KT_EXPECT_EQ(t, numa_node_of(0xb0000000), 0); /* a hole: no node's */
	KT_EXPECT_EQ(t, numa_hart_node(3), 3);
	KT_EXPECT_EQ(t, numa_hart_node(MAX_HARTS), 0);
	KT_EXPECT_EQ(t, numa_next_edge(0x80000000), 0x90000000);
	KT_EXPECT_EQ(t, numa_next_edge(0x8fffffff), 0x90000000);
	KT_EXPECT_EQ(t, numa_next_edge(0xb0000000), 0xc0000000);
	KT_EXPECT_EQ(t, numa_next_edge(0x100000000), 0x110000000);
	KT_EXPECT_EQ(t, numa_next_edge(0x110000000), 0);
	KT_EXPECT_EQ(t, numa_distance(2, 3), 20);
	numa_map_single(&single);
	numa_set_map(&single);
	KT_EXPECT_EQ(t, numa_nr_nodes(), 1);
	KT_EXPECT_EQ(t, numa_next_edge(0x80000000), 0);
}

/* numa-4.dts without a numa-node-id anywhere (its distance map stays: it names no node in use) */
static int no_node_ids(void *fdt)
{
	int node, r = 0;

	for (node = fdt_next_node(fdt, -1, NULL); node >= 0 && !r;
	     node = fdt_next_node(fdt, node, NULL))
		if (fdt_getprop(fdt, node, "numa-node-id", NULL))
			r = fdt_delprop(fdt, node, "numa-node-id");
	return r;
}

static void no_node_ids_is_one_node(struct ktest *t)
{
	struct dt_error err;
	size_t size;
	void *blob = dtb_load_edited("numa-4", 0, no_node_ids, &size);

	KT_ASSERT_EQ(t, read_blob(t, blob, size, &err), 0);
	KT_EXPECT_EQ(t, harts.nr, 6);
	expect_single(t);
	for (unsigned int a = 0; a < NUMA_MAX_NODES; a++)
		for (unsigned int b = 0; b < NUMA_MAX_NODES; b++)
			KT_EXPECT_EQ(t, map.distance[a][b], a || b ? 0 : NUMA_LOCAL_DISTANCE);
}

/* The broken copies of numa-4.dts: each edit, and the reason the map must give. */
static int set_u32(void *fdt, const char *path, const char *prop, uint32_t v)
{
	return fdt_setprop_u32(fdt, fdt_path_offset(fdt, path), prop, v);
}

static int node_id_too_large(void *fdt)
{
	return set_u32(fdt, "/memory@c0000000", "numa-node-id", 99);
}

static int cpu_node_id_too_large(void *fdt)
{
	return set_u32(fdt, "/cpus/cpu@2", "numa-node-id", NUMA_MAX_NODES);
}

static int node_id_two_cells(void *fdt)
{
	return fdt_appendprop_u32(fdt, fdt_path_offset(fdt, "/memory@a0000000"), "numa-node-id", 0);
}

static int memory_without_node(void *fdt)
{
	return fdt_delprop(fdt, fdt_path_offset(fdt, "/memory@a0000000"), "numa-node-id");
}

static int overlapping_nodes(void *fdt)
{
	fdt64_t reg[2] = { cpu_to_fdt64(0x98000000), cpu_to_fdt64(0x10000000) };

	return fdt_setprop(fdt, fdt_path_offset(fdt, "/memory@a0000000"), "reg", reg,
			   sizeof(reg));
}

static int set_distance(void *fdt, uint32_t a, uint32_t b, uint32_t d)
{
	uint32_t v[3] = { cpu_to_fdt32(a), cpu_to_fdt32(b), cpu_to_fdt32(d) };

	return fdt_setprop(fdt, fdt_path_offset(fdt, "/distance-map"), "distance-matrix", v,
			   sizeof(v));
}

static int self_distance_not_10(void *fdt)
{
	return set_distance(fdt, 0, 0, 20);
}

static int remote_distance_10(void *fdt)
{
	return set_distance(fdt, 0, 1, 10);
}

static int matrix_not_triplets(void *fdt)
{
	return fdt_setprop_u32(fdt, fdt_path_offset(fdt, "/distance-map"), "distance-matrix", 0);
}

static void unusable_descriptions_are_one_node_with_the_reason(struct ktest *t)
{
	static const struct {
		int (*edit)(void *fdt);
		const char *want;
	} cases[] = {
		{ node_id_too_large, "/memory@c0000000: numa-node-id 99: nodes are numbered below" },
		{ cpu_node_id_too_large, "/cpus/cpu@2: numa-node-id 16" },
		{ node_id_two_cells, "/memory@a0000000: numa-node-id is 8 bytes long, want 4" },
		{ memory_without_node, "RAM at 0x00000000a0000000 is in no NUMA node" },
		{ overlapping_nodes, "/memory@a0000000: RAM at 0x98000000 overlaps another NUMA range" },
		{ self_distance_not_10, "distance from node 0 to node 0 is 20: want 10" },
		{ remote_distance_10, "distance from node 0 to node 1 is 10: want 11 to 255" },
		{ matrix_not_triplets, "/distance-map: distance-matrix is not a list of" },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		struct dt_error err;
		size_t size;
		void *blob = dtb_load_edited("numa-4", 64, cases[i].edit, &size);

		KT_EXPECT_EQ(t, read_blob(t, blob, size, &err), -EINVAL);
		if (!KT_EXPECT(t, strstr(err.msg, cases[i].want) != NULL))
			ktest_log(t, "case %u: got \"%s\", want \"%s\"", i, err.msg, cases[i].want);
		expect_single(t);
	}
}

/* ---- the buddy, node by node ----------------------------------------------------- */

/*
 * One RAM range below 4 GiB split between nodes 0 and 1, one range each
 * for nodes 2 and 3 above it; hart i on node i, hart 4 on node 0 (no node
 * named); distances as numa-4.dts's.
 */
#define RAM_LOW 0x80000000ULL
#define NODE_SIZE 0x1000000ULL /* 16 MiB */
#define RAM_2 0x100000000ULL
#define RAM_3 0x200000000ULL

static void numa_machine(struct ktest *t)
{
	static const struct mem_range ram[] = {
		{ RAM_LOW, 2 * NODE_SIZE }, { RAM_2, NODE_SIZE }, { RAM_3, NODE_SIZE },
	};
	static const uint8_t d[4][4] = {
		{ 10, 20, 40, 30 }, { 20, 10, 30, 40 }, { 40, 30, 10, 20 }, { 30, 40, 20, 10 },
	};

	arena_machine(&m, ram, ARRAY_SIZE(ram));
	numa_map_single(&map);
	map.nr_nodes = 4;
	map.nr_ranges = 4;
	map.range[0] = (struct numa_range){ RAM_LOW, NODE_SIZE, 0 };
	map.range[1] = (struct numa_range){ RAM_LOW + NODE_SIZE, NODE_SIZE, 1 };
	map.range[2] = (struct numa_range){ RAM_2, NODE_SIZE, 2 };
	map.range[3] = (struct numa_range){ RAM_3, NODE_SIZE, 3 };
	for (unsigned int a = 0; a < 4; a++) {
		map.hart_node[a] = (uint16_t)a;
		memcpy(map.distance[a], d[a], 4);
	}
	numa_set_map(&map);
	KT_ASSERT_EQ(t, buddy_init(&m), 0);
}

static void one_node_again(void)
{
	numa_map_single(&map);
	numa_set_map(&map);
	arena_set_hart(0);
}

static unsigned int rank_of(unsigned int local, unsigned int node)
{
	unsigned int r = 0;

	while (numa_fallback(local, r) != node)
		r++;
	return r;
}

static void banks_end_where_nodes_do(struct ktest *t)
{
	numa_machine(t);
	KT_EXPECT_EQ(t, buddy_nr_banks(), 4); /* the low range cut in two */
	for (unsigned int n = 0; n < 4; n++) {
		struct buddy_bank_info b;

		KT_ASSERT_EQ(t, buddy_bank_info(n, &b), 0);
		KT_EXPECT_EQ(t, b.node, n);
		KT_EXPECT_EQ(t, b.base, map.range[n].base);
		KT_EXPECT_EQ(t, b.nr_frames, NODE_SIZE / PAGE_SIZE);
	}
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	one_node_again();
}

/*
 * Every frame, one at a time, on a hart of each node: they come from its
 * node until it has none, then from the nearest, and so on (the node's rank
 * in the hart's fallback order never goes down); then all are freed.
 */
static void frames_come_from_the_local_node_then_the_nearest(struct ktest *t)
{
	const uint64_t nr = 4 * NODE_SIZE / PAGE_SIZE;
	phys_addr_t *pa = malloc(nr * sizeof(*pa));

	KT_ASSERT(t, pa != NULL);
	for (unsigned int hart = 0; hart < 5; hart++) {
		unsigned int local = hart == 4 ? 0 : hart, last = 0, seen[4] = { 0 };
		uint64_t n = 0;
		bool ordered = true;

		numa_machine(t);
		arena_set_hart(hart);
		while (n < nr && buddy_alloc_frame(&pa[n]) == 0) {
			unsigned int r = rank_of(local, numa_node_of(pa[n]));

			if (r < last && ordered)
				ktest_log(t, "frame %llu at %#llx: rank %u after %u", (unsigned long long)n,
					  (unsigned long long)pa[n], r, last);
			ordered &= r >= last;
			last = r;
			seen[numa_node_of(pa[n])]++;
			n++;
		}
		if (!KT_EXPECT(t, ordered))
			ktest_log(t, "hart %u: a frame of a farther node came before a nearer one's",
				  hart);
		KT_EXPECT_EQ(t, numa_node_of(pa[0]), local);
		for (unsigned int node = 0; node < 4; node++)
			KT_EXPECT(t, seen[node] > NODE_SIZE / PAGE_SIZE / 2); /* every node's, all but metadata */
		while (n > 0)
			KT_EXPECT_EQ(t, buddy_free_frame(pa[--n]), 0);
		KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	}
	free(pa);
	one_node_again();
}

/* A frame of another node freed on a hart goes home, not into the hart's cache. */
static void another_nodes_frame_is_not_cached(struct ktest *t)
{
	phys_addr_t far, next;
	struct buddy_stats s;

	numa_machine(t);
	arena_set_hart(1);
	KT_ASSERT_EQ(t, buddy_alloc_frame(&far), 0);
	KT_EXPECT_EQ(t, numa_node_of(far), 1);
	buddy_drain_caches();
	arena_set_hart(0);
	KT_EXPECT_EQ(t, buddy_free_frame(far), 0);
	buddy_stats(&s);
	KT_EXPECT_EQ(t, s.cached, 0);
	KT_ASSERT_EQ(t, buddy_alloc_frame(&next), 0);
	KT_EXPECT_EQ(t, numa_node_of(next), 0);
	KT_EXPECT_EQ(t, buddy_free_frame(next), 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	one_node_again();
}

/* Blocks and limits: a limit below 4 GiB on node 3's hart takes node 0 (nearer than 1). */
static void constrained_requests_keep_the_order(struct ktest *t)
{
	phys_addr_t pa;

	numa_machine(t);
	arena_set_hart(3);
	KT_ASSERT_EQ(t, buddy_alloc(3, &pa), 0);
	KT_EXPECT_EQ(t, numa_node_of(pa), 3);
	KT_EXPECT_EQ(t, buddy_free(pa, 3), 0);
	KT_ASSERT_EQ(t, buddy_alloc_ex(3, 0, 0x100000000, 0, &pa), 0);
	KT_EXPECT_EQ(t, numa_node_of(pa), 0);
	KT_EXPECT_EQ(t, buddy_free(pa, 3), 0);
	KT_ASSERT_EQ(t, buddy_alloc_range(1000, 0, BUDDY_NO_LIMIT, &pa), 0);
	KT_EXPECT_EQ(t, numa_node_of(pa), 3);
	KT_EXPECT_EQ(t, buddy_free_range(pa, 1000), 0);
	arena_set_hart(2);
	KT_ASSERT_EQ(t, buddy_alloc_ex(3, 0, 0x100000000, 0, &pa), 0);
	KT_EXPECT_EQ(t, numa_node_of(pa), 1);
	KT_EXPECT_EQ(t, buddy_free(pa, 3), 0);
	KT_EXPECT_EQ(t, buddy_check(NULL), 0);
	one_node_again();
}

static const struct ktest_case cases[] = {
	KTEST_CASE(reads_ranges_harts_and_distances),
	KTEST_CASE(fallback_is_nearest_first),
	KTEST_CASE(no_node_ids_is_one_node),
	KTEST_CASE(unusable_descriptions_are_one_node_with_the_reason),
	KTEST_CASE(banks_end_where_nodes_do),
	KTEST_CASE(frames_come_from_the_local_node_then_the_nearest),
	KTEST_CASE(another_nodes_frame_is_not_cached),
	KTEST_CASE(constrained_requests_keep_the_order),
	{ 0 },
};

static const struct ktest_suite numa_host_suite = { .name = "numa", .cases = cases };

const struct ktest_suite *const test_suites[] = { &numa_host_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
