/* SPDX-License-Identifier: MIT */
#ifndef MM_NUMA_H
#define MM_NUMA_H

/*
 * NUMA nodes: which node each range of RAM and each hart belongs to, and
 * how far the nodes are from each other, from the device tree's
 * numa-node-id properties (memory and cpu nodes) and its
 * numa-distance-map-v1 /distance-map, as Linux's drivers/of/of_numa.c
 * reads them. The buddy cuts its banks at node boundaries and serves a
 * hart from its own node first, then from the others nearest first.
 *
 * A device tree without numa-node-id is one node. One whose NUMA
 * description is unusable (a node ID too large, RAM no node covers, a
 * distance that breaks the binding's rules) is refused with a message
 * and the machine is one node, as Linux falls back to a dummy node.
 */

#include <mm/dt.h>
#include <mm/harts.h>
#include <mm/memmap.h>
#include <mm/port.h>

#ifdef CONFIG_NUMA_MAX_NODES
#define NUMA_MAX_NODES CONFIG_NUMA_MAX_NODES
#else
#define NUMA_MAX_NODES 16
#endif
#define NUMA_LOCAL_DISTANCE  10 /* the binding's distance of a node to itself */
#define NUMA_REMOTE_DISTANCE 20 /* between two nodes the distance map leaves out */

struct numa_range {
	phys_addr_t base;
	uint64_t size;
	unsigned int node;
};

struct numa_map {
	unsigned int nr_nodes;	/* 1 + the largest node ID named; 1 without NUMA */
	unsigned int nr_ranges; /* sorted by base, never overlapping */
	struct numa_range range[MEMMAP_MAX_REGIONS]; /* none without NUMA: all RAM is node 0 */
	uint8_t distance[NUMA_MAX_NODES][NUMA_MAX_NODES];
	uint16_t hart_node[MAX_HARTS]; /* by dense hart index (struct hart_table) */
};

/*
 * Reads the NUMA description of fdt for the harts of t and the RAM of m.
 * 0: n holds it (one node if the DT names none). -EINVAL with err
 * filled: the description is unusable, and n is one node all the same.
 */
int numa_from_fdt(struct numa_map *n, const void *fdt, const struct hart_table *t,
		  const struct memmap *m, struct dt_error *err);

/* n as one node: every hart and every byte of RAM on node 0. */
void numa_map_single(struct numa_map *n);

/*
 * Makes n the machine's map (copied), before buddy_init(); numa_map_single()
 * until called. Works out each node's fallback order: itself, then the
 * others nearest first (ties: the lower ID).
 */
void numa_set_map(const struct numa_map *n);

/* The active map's answers. The node count is read inline: a machine of one node pays nothing. */
extern unsigned int numa_nodes;

static inline unsigned int numa_nr_nodes(void)
{
	return numa_nodes;
}

unsigned int numa_node_of(phys_addr_t pa);	/* node 0 outside every range */
unsigned int numa_hart_node(unsigned int hart); /* by dense index; node 0 past the table */
unsigned int numa_distance(unsigned int a, unsigned int b);
uint64_t numa_node_ram(unsigned int node); /* bytes of RAM the map gives node (0: none named) */
/* The first address above pa where the node may change (a range's edge), or 0 if none. */
phys_addr_t numa_next_edge(phys_addr_t pa);
/* Node number rank in node's fallback order (rank 0: node itself). */
unsigned int numa_fallback(unsigned int node, unsigned int rank);

/* Prints each node: its RAM, its harts, its distances. */
void numa_print(unsigned int nr_harts);

#endif
