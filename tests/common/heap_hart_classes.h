/* SPDX-License-Identifier: MIT */
#ifndef TESTS_COMMON_HEAP_HART_CLASSES_H
#define TESTS_COMMON_HEAP_HART_CLASSES_H

/*
 * The per-hart heaps' size classes as the tests expect them, written out
 * rather than taken from the heap: each class's size (what ksize() says),
 * the distance between its objects in a slab page and how many a page
 * holds. The half-page class has two objects 4 KiB apart, so that a size
 * between 2 and 4 KiB other than 4096 itself takes half a page, not a
 * whole one.
 */
#include <mm/heap_hart.h>

static const struct {
	unsigned int size, stride, per_page;
} heap_hart_classes[HEAP_NR_CLASSES] = {
    {8, 8, 987},     {16, 16, 501},   {32, 32, 252},   {64, 64, 126},
    {128, 128, 63},  {256, 256, 31},  {512, 512, 15},  {1024, 1024, 7},
    {2048, 2048, 3}, {4040, 4096, 2}, {4096, 4096, 1}, {8136, 8192, 1},
};

#define HEAP_HART_CLASS_4040 9	/* two objects a page, 4 KiB apart */
#define HEAP_HART_CLASS_4096 10 /* one object per page: each allocation is a page */

static inline unsigned int heap_hart_class_size(unsigned int c)
{
	return heap_hart_classes[c].size;
}

#endif
