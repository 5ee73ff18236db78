/* SPDX-License-Identifier: MIT */
#ifndef MM_HEAP_RADIX_H
#define MM_HEAP_RADIX_H

/*
 * A radix tree from keys of up to RADIX_KEY_BITS bits to nonzero 64-bit
 * values, shaped like a page table: RADIX_LEVELS levels of 512-entry
 * nodes, each a 4 KiB frame from the buddy. The slab + pages heap maps a
 * page of its page range to the size of the allocation starting there
 * (vystem's alloc_size_tree), so a free needs no size.
 *
 * A node is created on the first key below it and given back to the buddy
 * when its last key is cleared, so an empty tree holds no frame. Nodes are
 * tagged FRAME_HEAP with the owner's heap id and RADIX_NODE_AUX, so a
 * pointer into one is never mistaken for the owner's other memory.
 *
 * Not locked: the caller serializes every call on one tree.
 */

#include <mm/port.h>

#define RADIX_BITS     9
#define RADIX_FANOUT   (1u << RADIX_BITS) /* entries per node: 4 KiB of uint64_t */
#define RADIX_LEVELS   4
#define RADIX_KEY_BITS (RADIX_BITS * RADIX_LEVELS) /* 36: 2^36 pages, 256 TiB of 4 KiB pages */
#define RADIX_NODE_AUX 0x7ad1c0deu		   /* a node's frame aux: not a slab level */

struct radix {
	uint64_t *root;	   /* NULL while empty */
	uint64_t nodes;	   /* frames held */
	unsigned int heap; /* the owner id the nodes are tagged with */
};

/* An empty tree whose nodes will carry heap's id; any old nodes are forgotten, not freed. */
void radix_init(struct radix *r, unsigned int heap);

/*
 * key -> value (nonzero), replacing any value there: 0, -EINVAL (a key
 * beyond RADIX_KEY_BITS or value 0), or -ENOMEM when a node cannot be had
 * (the tree is then as before).
 */
int radix_set(struct radix *r, uint64_t key, uint64_t value);

/* key's value, 0 for none. */
uint64_t radix_get(const struct radix *r, uint64_t key);

/* Removes key: its old value (0: there was none, nothing changed). */
uint64_t radix_clear(struct radix *r, uint64_t key);

static inline uint64_t radix_nodes(const struct radix *r)
{
	return r->nodes;
}

#endif
