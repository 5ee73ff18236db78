// SPDX-License-Identifier: MIT
/*
 * The radix tree of heap_slabpages_radix.h. A node is a whole frame of 512 entries:
 * in the last level the values, above it the children's addresses (0:
 * none). How many entries of a node are in use is kept in its frame's
 * owner word (struct frame's priv), because the node's own 4 KiB are all
 * entries; when that count drops to 0 the node goes back to the buddy.
 */
#include <mm/buddy.h>
#include <mm/frame.h>
#include <mm/phys.h>
#include <mm/port.h>
#include <string.h>

#include "heap_slabpages_radix.h"

/* The entry of key in a node at depth (0: the root). */
static inline unsigned int slot(uint64_t key, unsigned int depth)
{
	return (unsigned int)(key >> (RADIX_BITS * (RADIX_LEVELS - 1 - depth))) &
	       (RADIX_FANOUT - 1);
}

static inline uint64_t *child(uint64_t entry)
{
	return (uint64_t *)(uintptr_t)entry;
}

static uint64_t *used(const uint64_t *node)
{
	return &frame_of(virt_to_phys(node))->priv;
}

static uint64_t *node_new(struct radix *r)
{
	phys_addr_t pa;
	uint64_t *n;

	if (buddy_alloc(0, &pa) < 0)
		return NULL;
	frame_set_owner(pa, 0, FRAME_HEAP, r->heap, RADIX_NODE_AUX);
	n = phys_to_virt(pa);
	memset(n, 0, PAGE_SIZE);
	*used(n) = 0;
	r->nodes++;
	return n;
}

/*
 * Gives back the empty nodes at the bottom of key's path (path[0 .. depth]),
 * deepest first: each one emptied leaves its parent one entry short.
 */
static void prune(struct radix *r, uint64_t *const *path, int depth, uint64_t key)
{
	for (; depth >= 0 && !*used(path[depth]); depth--) {
		buddy_free(virt_to_phys(path[depth]), 0);
		r->nodes--;
		if (depth == 0) {
			r->root = NULL;
		} else {
			path[depth - 1][slot(key, depth - 1)] = 0;
			(*used(path[depth - 1]))--;
		}
	}
}

void radix_init(struct radix *r, unsigned int heap)
{
	*r = (struct radix){.heap = heap};
}

int radix_set(struct radix *r, uint64_t key, uint64_t value)
{
	uint64_t *path[RADIX_LEVELS], *e;

	if (key >> RADIX_KEY_BITS || !value)
		return -EINVAL;
	if (!r->root && !(r->root = node_new(r)))
		return -ENOMEM;
	path[0] = r->root;
	for (unsigned int d = 0; d < RADIX_LEVELS - 1; d++) {
		e = &path[d][slot(key, d)];
		if (!*e) {
			uint64_t *c = node_new(r);

			if (!c) {
				prune(r, path, (int)d, key); /* the nodes made for this key */
				return -ENOMEM;
			}
			*e = (uintptr_t)c;
			(*used(path[d]))++;
		}
		path[d + 1] = child(*e);
	}
	e = &path[RADIX_LEVELS - 1][slot(key, RADIX_LEVELS - 1)];
	if (!*e)
		(*used(path[RADIX_LEVELS - 1]))++;
	*e = value;
	return 0;
}

uint64_t radix_get(const struct radix *r, uint64_t key)
{
	const uint64_t *n = r->root;

	if (key >> RADIX_KEY_BITS)
		return 0;
	for (unsigned int d = 0; n && d < RADIX_LEVELS - 1; d++)
		n = child(n[slot(key, d)]);
	return n ? n[slot(key, RADIX_LEVELS - 1)] : 0;
}

uint64_t radix_clear(struct radix *r, uint64_t key)
{
	uint64_t *path[RADIX_LEVELS], *e, old;

	if (key >> RADIX_KEY_BITS || !r->root)
		return 0;
	path[0] = r->root;
	for (unsigned int d = 0; d < RADIX_LEVELS - 1; d++) {
		path[d + 1] = child(path[d][slot(key, d)]);
		if (!path[d + 1])
			return 0;
	}
	e = &path[RADIX_LEVELS - 1][slot(key, RADIX_LEVELS - 1)];
	old = *e;
	if (old) {
		*e = 0;
		(*used(path[RADIX_LEVELS - 1]))--;
		prune(r, path, RADIX_LEVELS - 1, key);
	}
	return old;
}
