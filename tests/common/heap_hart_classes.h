/* SPDX-License-Identifier: MIT */
#ifndef TESTS_COMMON_HEAP_HART_CLASSES_H
#define TESTS_COMMON_HEAP_HART_CLASSES_H

/*
 * The per-hart heaps' size classes as the tests expect them, written out
 * rather than taken from the heap: each class's size (what ksize() says),
 * the distance between its objects in a slab page and how many a page
 * holds. The half-page class has two objects 4 KiB apart, so that a size
 * between 2 and 4 KiB other than 4096 itself takes half a page, not a
 * whole one; the classes of 968 and 1992 bytes, one object more to a
 * page than 1024 and 2048, lay theirs out as those do.
 */
#include <mm/heap_hart.h>

static const struct {
	unsigned int size, stride, per_page;
} heap_hart_classes[HEAP_NR_CLASSES] = {
    {8, 8, 987},     {16, 16, 501},   {32, 32, 252},   {64, 64, 126},	{128, 128, 63},
    {256, 256, 31},  {512, 512, 15},  {968, 1024, 8},  {1024, 1024, 7}, {1992, 2048, 4},
    {2048, 2048, 3}, {4040, 4096, 2}, {4096, 4096, 1}, {8136, 8192, 1},
};

#define HEAP_HART_CLASS_1024 8
#define HEAP_HART_CLASS_4040 11 /* two objects a page, 4 KiB apart */
#define HEAP_HART_CLASS_4096 12 /* one object per page: each allocation is a page */

static inline unsigned int heap_hart_class_size(unsigned int c)
{
	return heap_hart_classes[c].size;
}

/* The mid classes (4097 to HEAP_MID_MAX_SIZE bytes): objects in a 32 KiB block. */
static const struct {
	unsigned int size, per_block;
} heap_hart_mid_classes[HEAP_MID_CLASSES] = {{4672, 7}, {5440, 6}, {6528, 5}};

/* What ksize() says of kmalloc(size), size at most the largest slab class. */
static inline unsigned int heap_hart_size_for(size_t size)
{
	unsigned int c = 0;

	for (unsigned int m = 0; size > 4096 && m < HEAP_MID_CLASSES; m++)
		if (size <= heap_hart_mid_classes[m].size)
			return heap_hart_mid_classes[m].size;
	while (heap_hart_classes[c].size < size)
		c++;
	return heap_hart_classes[c].size;
}

#endif
