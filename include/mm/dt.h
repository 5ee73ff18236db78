/* SPDX-License-Identifier: MIT */
#ifndef MM_DT_H
#define MM_DT_H

/*
 * Device-tree helpers over libfdt that the memory map, the hart table and the
 * console share. Every function that can meet bad input fills a dt_error with
 * one line saying what is wrong and where (node path, property, offset).
 */

#include <mm/port.h>

struct dt_error {
	char msg[200];
};

void dt_error_set(struct dt_error *err, const char *fmt, ...) __printf(2, 3);

/*
 * Checks the header and walks the whole structure block once, so later
 * lookups cannot run outside the blob. blob_size is the number of bytes the
 * caller really has (0: trust the header's totalsize).
 */
int dt_check_blob(const void *fdt, size_t blob_size, struct dt_error *err);

/* status absent, "okay" or "ok" */
bool dt_node_is_available(const void *fdt, int node);

/* device_type is exactly type */
bool dt_device_type_is(const void *fdt, int node, const char *type);

/*
 * Reads #address-cells / #size-cells of node; when node lacks it, the nearest
 * ancestor's (as Linux does), and dflt when no ancestor has it either.
 * -EINVAL if absurd: address cells must be 1..2, size cells 0..2.
 */
int dt_addr_cells(const void *fdt, int node, int dflt, struct dt_error *err);
int dt_size_cells(const void *fdt, int node, int dflt, struct dt_error *err);

/* Big-endian cell array -> number (cells is 0, 1 or 2). */
uint64_t dt_read_number(const void *cells, int count);

/*
 * The idx-th (address, size) pair of property prop of node, decoded with the
 * given cells (no translation): -ENOENT when the property is absent or has no
 * such pair, -EINVAL when its length is not a multiple of the pair size,
 * -EOVERFLOW when address + size does not fit in 64 bits (err filled for both).
 */
int dt_prop_pair(const void *fdt, int node, const char *prop, int ac, int sc, int idx,
		 uint64_t *addr, uint64_t *size, struct dt_error *err);

/*
 * A string from a DT is data: src (up to srclen bytes or its NUL) into dst
 * (size bytes, NUL-terminated) with printable ASCII but space and backslash
 * kept and every other byte as \xNN, so that no name can forge a line or a
 * field of what prints it; cut whole where dst ends. Returns its length.
 */
size_t dt_escape(char *dst, size_t size, const char *src, size_t srclen);

/* The node's full path into buf (for messages), escaped (dt_escape()); returns buf. */
const char *dt_node_path(const void *fdt, int node, char *buf, size_t len);

/*
 * The idx-th (address, size) pair of node's "reg", decoded with the parent's
 * cells and translated through the parents' "ranges" to a CPU physical address
 * (an empty or missing "ranges" maps one to one). -ENOENT when there is no
 * such pair; err is filled for every failure.
 */
int dt_reg(const void *fdt, int node, int idx, uint64_t *addr, uint64_t *size,
	   struct dt_error *err);

/*
 * Whether [base, base + size) overlaps the RAM an available memory node
 * lists (its "reg"): an address a UART cannot be at. Nodes whose reg
 * cannot be read are skipped.
 */
bool dt_range_is_memory(const void *fdt, uint64_t base, uint64_t size);

/*
 * The write an available "syscon-poweroff" node asks for (Linux's binding):
 * the 32-bit register at *pa (its regmap's reg plus offset) gets value
 * under mask (value alone: mask all ones; mask alone: the value is the
 * mask). 0, -ENOENT when there is no such node, -EINVAL (err filled) when
 * it is malformed.
 */
int dt_syscon_poweroff(const void *fdt, uint64_t *pa, uint32_t *value, uint32_t *mask,
		       struct dt_error *err);

#endif
