/* SPDX-License-Identifier: MIT */
#ifndef MM_MEMMAP_H
#define MM_MEMMAP_H

/*
 * The boot memory map: RAM from the device tree's memory nodes, every
 * reservation (/memreserve/, /reserved-memory static and dynamic children,
 * and what the caller adds: kernel image, DTB, initrd), and what is left
 * usable: RAM minus every reservation, trimmed to whole pages, merged, sorted.
 * Semantics follow Linux drivers/of/fdt.c and drivers/of/of_reserved_mem.c.
 *
 * Fixed-size arrays, no allocation: it is built before any allocator exists.
 */

#include <mm/dt.h>
#include <mm/port.h>

#ifdef CONFIG_MEMMAP_MAX_REGIONS
#define MEMMAP_MAX_REGIONS CONFIG_MEMMAP_MAX_REGIONS
#else
#define MEMMAP_MAX_REGIONS 128
#endif
#define MEMMAP_NAME_LEN 48
#define MEMMAP_MAX_WARNINGS 4
#define MEMMAP_WARNING_LEN 160

enum resv_kind {
	RESV_RESERVED,	 /* /reserved-memory child with reg, no flag */
	RESV_NOMAP,	 /* ... with no-map: never mapped by the kernel */
	RESV_REUSABLE,	 /* ... with reusable: a later allocator may lend it out */
	RESV_MEMRESERVE, /* an entry of the blob's /memreserve/ block */
	RESV_DYNAMIC,	 /* /reserved-memory child with size: placed by us */
	RESV_KERNEL,	 /* the kernel image */
	RESV_DTB,	 /* the device tree blob itself */
	RESV_INITRD,	 /* /chosen linux,initrd-start..end */
	RESV_EARLY,	 /* handed out by the boot allocator */
};

/* flags of a reserved region (a dynamic region keeps its no-map/reusable here) */
#define RESV_F_NOMAP 0x1
#define RESV_F_REUSABLE 0x2

struct mem_range {
	phys_addr_t base;
	uint64_t size;
};

struct resv_region {
	phys_addr_t base;
	uint64_t size;
	uint32_t kind;	/* enum resv_kind */
	uint32_t flags; /* RESV_F_* */
	char name[MEMMAP_NAME_LEN];
};

struct memmap {
	unsigned int nr_ram, nr_resv, nr_usable;
	struct mem_range ram[MEMMAP_MAX_REGIONS];	 /* sorted, merged */
	struct resv_region resv[MEMMAP_MAX_REGIONS];	 /* sorted by base */
	struct mem_range usable[MEMMAP_MAX_REGIONS];	 /* sorted, merged, page-aligned */
	/*
	 * What was skipped rather than refused, as Linux does: a dynamic
	 * reserved-memory region that fits nowhere (say a CMA pool sized for a
	 * larger variant of the board) is left out and the boot goes on.
	 */
	unsigned int nr_warnings; /* may exceed MEMMAP_MAX_WARNINGS; the first ones are kept */
	char warnings[MEMMAP_MAX_WARNINGS][MEMMAP_WARNING_LEN];
};

/* memmap_from_fdt() options */
#define MEMMAP_RESERVE_INITRD 0x1 /* reserve /chosen linux,initrd-start..end */

/*
 * Builds the map from a device tree. extra[] (may be NULL) are reservations
 * the caller knows of (kernel image, DTB); they are in place before dynamic
 * regions are placed. Returns 0, or a negative errno with err filled and m
 * zeroed: -EINVAL malformed blob or property, -ENOENT no memory, -EOVERFLOW a
 * range past 2^64, -ENOSPC more than MEMMAP_MAX_REGIONS ranges in a list.
 * A dynamic region that fits nowhere is no error: it is left out with a
 * warning in m->warnings.
 */
int memmap_from_fdt(struct memmap *m, const void *fdt, size_t blob_size,
		    const struct resv_region *extra, unsigned int nr_extra, unsigned int flags,
		    struct dt_error *err);

/* "no-map", "reusable", "reserved", "memreserve", "dynamic", "kernel", ... */
const char *resv_kind_name(uint32_t kind);

uint64_t memmap_total_ram(const struct memmap *m);
uint64_t memmap_total_usable(const struct memmap *m);

/*
 * Leaves out the RAM at and above end (RAM and usable lists; reservations
 * stay as they are): RAM a kernel cannot reach through its direct map.
 * Returns the bytes of RAM left out.
 */
uint64_t memmap_clip(struct memmap *m, phys_addr_t end);

/* Prints the map as a table through printk. */
void memmap_print(const struct memmap *m);

#endif
