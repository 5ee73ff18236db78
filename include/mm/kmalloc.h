/* SPDX-License-Identifier: MIT */
#ifndef MM_KMALLOC_H
#define MM_KMALLOC_H

/*
 * The kernel's allocator (mm/heap.h says how it works inside).
 *
 * - kmalloc(size): at least size bytes, or NULL. Any size is fine, 0
 *   included (a unique pointer of a few bytes). A power-of-two size is
 *   aligned to itself (before the switch to per-hart heaps: up to 4 KiB),
 *   a size of 16 or more to at least 16 bytes (C's max_align_t: a malloc
 *   on top needs nothing more), anything else to at least 8 (16 before
 *   the switch).
 * - kmalloc_aligned(size, align): align a power of two (NULL otherwise);
 *   any alignment after the switch (beyond 8 KiB from the large path),
 *   up to 4 KiB before it.
 * - kzalloc, kcalloc (NULL if n * size overflows): zeroed.
 * - krealloc(p, size): the contents up to the smaller size are kept; p
 *   NULL is kmalloc(); size 0 frees p and returns NULL; on failure NULL
 *   and p untouched. A block may move even when shrinking (into a smaller
 *   class); the alignment kept is that of the new size.
 * - kfree(p): p from any of these (or NULL), on any hart, before or after
 *   the switch to per-hart heaps. A pointer the heap never handed out, or
 *   one already freed, is reported (heap_misuse(): a panic).
 * - ksize(p): the bytes usable at p (at least what was asked for; with
 *   the debug hardening tier exactly what was asked for, so that p[ksize(p)]
 *   is in the redzone behind the object).
 * - kmalloc_caller(), kfree_caller(), krealloc_caller(): the same calls on
 *   behalf of a caller, whose address (a return address) the debug tier
 *   records as the object's allocation or free site; a malloc built on
 *   kmalloc passes its own caller's. The other tiers ignore it.
 */

#include <mm/port.h>

void *kmalloc(size_t size);
void *kmalloc_aligned(size_t size, size_t align);
void *kzalloc(size_t size);
void *kcalloc(size_t n, size_t size);
void *krealloc(void *p, size_t size);
void kfree(void *p);
size_t ksize(const void *p);
void *kmalloc_caller(size_t size, size_t align, const void *caller);
void kfree_caller(void *p, const void *caller);
void *krealloc_caller(void *p, size_t size, const void *caller);

#endif
