// SPDX-License-Identifier: MIT
/*
 * The NUMA map (include/mm/numa.h): read from the device tree as Linux's
 * drivers/of/of_numa.c and drivers/base/arch_numa.c read it, kept once
 * the boot hart sets it, then only read.
 */
#include <libfdt.h>
#include <mm/numa.h>
#include <mm/port.h>
#include <string.h>

/* ---- reading the device tree ----------------------------------------------------- */

void numa_map_single(struct numa_map *n)
{
	memset(n, 0, sizeof(*n));
	n->nr_nodes = 1;
	n->distance[0][0] = NUMA_LOCAL_DISTANCE;
}

/* 1 and *id: node has a numa-node-id; 0: it has none; -EINVAL: a bad one. */
static int node_id(const void *fdt, int node, unsigned int *id, struct dt_error *err)
{
	char path[128];
	int len;
	const fdt32_t *v = fdt_getprop(fdt, node, "numa-node-id", &len);

	if (!v)
		return 0;
	if (len != 4) {
		dt_error_set(err, "%s: numa-node-id is %d bytes long, want 4",
			     dt_node_path(fdt, node, path, sizeof(path)), len);
		return -EINVAL;
	}
	*id = fdt32_to_cpu(*v);
	if (*id >= NUMA_MAX_NODES) {
		dt_error_set(err, "%s: numa-node-id %u: nodes are numbered below %d (NUMA_MAX_NODES)",
			     dt_node_path(fdt, node, path, sizeof(path)), *id, NUMA_MAX_NODES);
		return -EINVAL;
	}
	return 1;
}

static int add_range(struct numa_map *n, uint64_t base, uint64_t size, unsigned int node,
		     const char *path, struct dt_error *err)
{
	unsigned int i = n->nr_ranges;

	if (n->nr_ranges == MEMMAP_MAX_REGIONS) {
		dt_error_set(err, "%s: more than %d ranges of RAM in NUMA nodes", path,
			     MEMMAP_MAX_REGIONS);
		return -ENOSPC;
	}
	while (i > 0 && n->range[i - 1].base > base) {
		n->range[i] = n->range[i - 1];
		i--;
	}
	n->range[i] = (struct numa_range){ .base = base, .size = size, .node = node };
	n->nr_ranges++;
	/* the same bytes in two nodes (or twice in one) say nothing usable */
	if ((i > 0 && n->range[i - 1].base + n->range[i - 1].size > base) ||
	    (i + 1 < n->nr_ranges && base + size > n->range[i + 1].base)) {
		dt_error_set(err, "%s: RAM at 0x%llx overlaps another NUMA range", path,
			     (unsigned long long)base);
		return -EINVAL;
	}
	return 0;
}

/* Every memory node's ranges with its node ID; *named: whether any has one. */
static int scan_memory(struct numa_map *n, const void *fdt, bool *named, struct dt_error *err)
{
	int ac = dt_addr_cells(fdt, 0, 2, err), sc = dt_size_cells(fdt, 0, 1, err), node;
	char path[128];

	if (ac < 0 || sc < 0)
		return -EINVAL;
	fdt_for_each_subnode(node, fdt, 0) {
		const char *prop = fdt_getprop(fdt, node, "linux,usable-memory", NULL)
					   ? "linux,usable-memory" : "reg";
		uint64_t base, size;
		unsigned int id;
		int r;

		if (!dt_device_type_is(fdt, node, "memory") || !dt_node_is_available(fdt, node))
			continue;
		r = node_id(fdt, node, &id, err);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue; /* its RAM, if any, is then in no node: numa_covers() says so */
		}
		*named = true;
		dt_node_path(fdt, node, path, sizeof(path));
		for (int idx = 0; (r = dt_prop_pair(fdt, node, prop, ac, sc, idx, &base, &size,
						    err)) == 0; idx++)
			if (size && (r = add_range(n, base, size, id, path, err)) < 0)
				return r;
		if (r != -ENOENT)
			return r;
		n->nr_nodes = MAX(n->nr_nodes, id + 1);
	}
	return 0;
}

/* Whether every byte of m's RAM lies in a NUMA range (else which does not, in err). */
static bool numa_covers(const struct numa_map *n, const struct memmap *m, struct dt_error *err)
{
	for (unsigned int k = 0; k < m->nr_ram; k++) {
		phys_addr_t at = m->ram[k].base, end = at + m->ram[k].size;

		for (unsigned int i = 0; i < n->nr_ranges && at < end; i++) {
			const struct numa_range *r = &n->range[i];

			if (r->base <= at && at - r->base < r->size)
				at = r->base + r->size;
		}
		if (at < end) {
			dt_error_set(err, "RAM at 0x%016llx is in no NUMA node (its memory node "
				     "has no numa-node-id)", (unsigned long long)at);
			return false;
		}
	}
	return true;
}

/* The dense index of the hart a cpu node is (its first reg cell group), or -1. */
static int cpu_index(const void *fdt, int node, int ac, const struct hart_table *t)
{
	int len;
	const void *reg = fdt_getprop(fdt, node, "reg", &len);
	uint64_t id;

	if (!reg || len < ac * 4 || !dt_device_type_is(fdt, node, "cpu") ||
	    !dt_node_is_available(fdt, node))
		return -1;
	id = dt_read_number(reg, ac);
	for (unsigned int i = 0; i < t->nr; i++)
		if (t->id[i] == id)
			return (int)i;
	return -1;
}

/* Each hart's node; a hart without numa-node-id is on node 0, as in Linux. */
static int scan_harts(struct numa_map *n, const void *fdt, const struct hart_table *t,
		      bool *named, struct dt_error *err)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), ac, node;

	if (cpus < 0 || (ac = dt_addr_cells(fdt, cpus, 2, err)) < 0)
		return 0; /* the hart table read /cpus already: nothing to add */
	fdt_for_each_subnode(node, fdt, cpus) {
		int i = cpu_index(fdt, node, ac, t), r;
		unsigned int id;

		if (i < 0)
			continue;
		r = node_id(fdt, node, &id, err);
		if (r < 0)
			return r;
		if (r > 0) {
			n->hart_node[i] = (uint16_t)id;
			n->nr_nodes = MAX(n->nr_nodes, id + 1);
			*named = true;
		}
	}
	return 0;
}

/*
 * The numa-distance-map-v1 binding: (a, b, distance) triplets, 10 from a
 * node to itself and more between two; an entry sets b -> a as well where
 * b > a, as Linux does, so a map may list one direction only. Entries
 * naming a node beyond the ones in use are left out, as Linux leaves
 * them out.
 */
static int scan_distances(struct numa_map *n, const void *fdt, struct dt_error *err)
{
	int node = fdt_node_offset_by_compatible(fdt, -1, "numa-distance-map-v1"), len;
	const fdt32_t *v;
	char path[128];

	for (unsigned int a = 0; a < NUMA_MAX_NODES; a++)
		for (unsigned int b = 0; b < NUMA_MAX_NODES; b++)
			n->distance[a][b] = a == b ? NUMA_LOCAL_DISTANCE : NUMA_REMOTE_DISTANCE;
	if (node < 0)
		return 0;
	dt_node_path(fdt, node, path, sizeof(path));
	v = fdt_getprop(fdt, node, "distance-matrix", &len);
	if (!v || len % 12) {
		dt_error_set(err, "%s: distance-matrix %s", path,
			     v ? "is not a list of (node, node, distance) triplets" : "is missing");
		return -EINVAL;
	}
	for (int i = 0; i < len / 4; i += 3) {
		uint32_t a = fdt32_to_cpu(v[i]), b = fdt32_to_cpu(v[i + 1]);
		uint32_t d = fdt32_to_cpu(v[i + 2]);

		if ((a == b && d != NUMA_LOCAL_DISTANCE) || (a != b && d <= NUMA_LOCAL_DISTANCE) ||
		    d > 255) {
			dt_error_set(err, "%s: distance from node %u to node %u is %u: want %s", path,
				     a, b, d, a == b ? "10" : "11 to 255");
			return -EINVAL;
		}
		if (a >= n->nr_nodes || b >= n->nr_nodes)
			continue;
		n->distance[a][b] = (uint8_t)d;
		if (b > a)
			n->distance[b][a] = (uint8_t)d;
	}
	return 0;
}

int numa_from_fdt(struct numa_map *n, const void *fdt, const struct hart_table *t,
		  const struct memmap *m, struct dt_error *err)
{
	bool mem_named = false, harts_named = false;
	int r;

	memset(n, 0, sizeof(*n));
	r = scan_memory(n, fdt, &mem_named, err);
	if (!r)
		r = scan_harts(n, fdt, t, &harts_named, err);
	if (!r && !mem_named && !harts_named) {
		numa_map_single(n);
		return 0;
	}
	if (!r && !numa_covers(n, m, err))
		r = -EINVAL;
	if (!r)
		r = scan_distances(n, fdt, err);
	if (r < 0) {
		numa_map_single(n);
		return -EINVAL;
	}
	return 0;
}

/* ---- the machine's map ----------------------------------------------------------- */

static struct numa_map numa = { .nr_nodes = 1, .distance = { { NUMA_LOCAL_DISTANCE } } };
static uint8_t fallback[NUMA_MAX_NODES][NUMA_MAX_NODES];
unsigned int numa_nodes = 1; /* numa.nr_nodes */

void numa_set_map(const struct numa_map *n)
{
	numa = *n;
	numa_nodes = numa.nr_nodes;
	for (unsigned int a = 0; a < numa.nr_nodes; a++) {
		unsigned int k = 0;

		/* nearest first; an insertion sort, stable, so ties keep the lower ID first */
		for (unsigned int b = 0; b < numa.nr_nodes; b++, k++) {
			unsigned int j = k;

			while (j > 0 && numa.distance[a][fallback[a][j - 1]] > numa.distance[a][b]) {
				fallback[a][j] = fallback[a][j - 1];
				j--;
			}
			fallback[a][j] = (uint8_t)b;
		}
	}
}

unsigned int numa_node_of(phys_addr_t pa)
{
	for (unsigned int i = 0; i < numa.nr_ranges; i++)
		if (pa - numa.range[i].base < numa.range[i].size)
			return numa.range[i].node;
	return 0;
}

unsigned int numa_hart_node(unsigned int hart)
{
	return hart < MAX_HARTS ? numa.hart_node[hart] : 0;
}

unsigned int numa_distance(unsigned int a, unsigned int b)
{
	if (a >= numa.nr_nodes || b >= numa.nr_nodes)
		return a == b ? NUMA_LOCAL_DISTANCE : NUMA_REMOTE_DISTANCE;
	return numa.distance[a][b];
}

uint64_t numa_node_ram(unsigned int node)
{
	uint64_t bytes = 0;

	for (unsigned int i = 0; i < numa.nr_ranges; i++)
		if (numa.range[i].node == node)
			bytes += numa.range[i].size;
	return bytes;
}

phys_addr_t numa_next_edge(phys_addr_t pa)
{
	for (unsigned int i = 0; i < numa.nr_ranges; i++) {
		const struct numa_range *r = &numa.range[i];
		phys_addr_t end = r->base + r->size; /* 0: it runs to the top, no edge after */

		if (r->base > pa)
			return r->base;
		if (end > pa)
			return end;
	}
	return 0;
}

unsigned int numa_fallback(unsigned int node, unsigned int rank)
{
	if (numa.nr_nodes == 1)
		return 0;
	return fallback[node][rank];
}

/* ---- the boot log ---------------------------------------------------------------- */

/* Harts of node as index ranges: " 0-3 8 10-11". */
static void print_harts(unsigned int node, unsigned int nr_harts)
{
	unsigned int shown = 0;

	for (unsigned int i = 0; i < nr_harts; i++) {
		unsigned int j = i;

		if (numa_hart_node(i) != node)
			continue;
		while (j + 1 < nr_harts && numa_hart_node(j + 1) == node)
			j++;
		printk(j > i ? " %u-%u" : " %u", i, j);
		shown += j - i + 1;
		i = j;
	}
	if (!shown)
		printk(" none");
}

void numa_print(unsigned int nr_harts)
{
	if (numa.nr_nodes == 1 && !numa.nr_ranges) {
		printk("numa: one node (the device tree names none)\n");
		return;
	}
	printk("numa: %u node(s)\n", numa.nr_nodes);
	for (unsigned int node = 0; node < numa.nr_nodes; node++) {
		printk("  node %u: %llu MiB", node, (unsigned long long)(numa_node_ram(node) >> 20));
		for (unsigned int i = 0; i < numa.nr_ranges; i++)
			if (numa.range[i].node == node)
				printk(" [0x%016llx-0x%016llx]", (unsigned long long)numa.range[i].base,
				       (unsigned long long)(numa.range[i].base + numa.range[i].size - 1));
		printk("; harts");
		print_harts(node, nr_harts);
		printk("; distances");
		for (unsigned int b = 0; b < numa.nr_nodes; b++)
			printk(" %u", numa.distance[node][b]);
		printk("\n");
	}
}
