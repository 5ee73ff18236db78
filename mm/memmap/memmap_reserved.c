// SPDX-License-Identifier: MIT
/*
 * Reservations from the device tree, after Linux's of_reserved_mem.c:
 * /memreserve/ entries, static /reserved-memory children (every reg pair),
 * dynamic ones (size, alignment, alloc-ranges) placed top-down once every
 * static region is known, and the initrd named in /chosen.
 */
#include <libfdt.h>
#include <mm/port.h>
#include <string.h>

#include "memmap_internal.h"

static int add_or_complain(struct memmap *m, const void *fdt, int node, uint64_t base,
			   uint64_t size, uint32_t kind, uint32_t flags, const char *name,
			   struct dt_error *err)
{
	char path[128];

	if (resv_add(m, base, size, kind, flags, name) == 0)
		return 0;
	dt_error_set(err, "%s: more than %d reserved regions",
		     node >= 0 ? dt_node_path(fdt, node, path, sizeof(path)) : name,
		     MEMMAP_MAX_REGIONS);
	return -ENOSPC;
}

int memmap_add_memreserve(struct memmap *m, const void *fdt, struct dt_error *err)
{
	int n = fdt_num_mem_rsv(fdt);
	uint64_t base, size;

	for (int i = 0; i < n; i++) {
		if (fdt_get_mem_rsv(fdt, i, &base, &size) < 0)
			break; /* dt_check_blob() walked them all: cannot happen */
		if (size > UINT64_MAX - base) {
			dt_error_set(err, "/memreserve/ entry %d: 0x%llx + 0x%llx overflows 64 bits",
				     i, (unsigned long long)base, (unsigned long long)size);
			return -EOVERFLOW;
		}
		if (add_or_complain(m, fdt, -1, base, size, RESV_MEMRESERVE, 0, "/memreserve/",
				    err) < 0)
			return -ENOSPC;
	}
	return 0;
}

/* /reserved-memory's own cells (absent: the root's); sizes need at least one cell. */
static int resmem_cells(const void *fdt, int parent, int root_ac, int root_sc, int *ac, int *sc,
			struct dt_error *err)
{
	*ac = dt_addr_cells(fdt, parent, root_ac, err);
	if (*ac < 0)
		return *ac;
	*sc = dt_size_cells(fdt, parent, root_sc, err);
	if (*sc < 0)
		return *sc;
	if (*sc == 0) {
		dt_error_set(err, "/reserved-memory: #size-cells = 0 cannot describe regions");
		return -EINVAL;
	}
	return 0;
}

static uint32_t resv_flags(const void *fdt, int node)
{
	uint32_t flags = 0;

	if (fdt_getprop(fdt, node, "no-map", NULL))
		flags |= RESV_F_NOMAP;
	if (fdt_getprop(fdt, node, "reusable", NULL))
		flags |= RESV_F_REUSABLE;
	return flags;
}

/* no-map wins over reusable: memory the kernel may not even map cannot be lent out */
static uint32_t static_kind(uint32_t flags)
{
	if (flags & RESV_F_NOMAP)
		return RESV_NOMAP;
	return flags & RESV_F_REUSABLE ? RESV_REUSABLE : RESV_RESERVED;
}

static void node_name(const void *fdt, int node, char *name)
{
	int len;
	const char *s = fdt_get_name(fdt, node, &len);

	resv_copy_name(name, s ? s : "?", s ? (size_t)len : 1);
}

static int add_static(struct memmap *m, const void *fdt, int node, int ac, int sc,
		      struct dt_error *err)
{
	uint32_t flags = resv_flags(fdt, node);
	char name[MEMMAP_NAME_LEN];
	uint64_t base, size;

	node_name(fdt, node, name);
	for (int idx = 0;; idx++) {
		int r = dt_prop_pair(fdt, node, "reg", ac, sc, idx, &base, &size, err);
		if (r < 0)
			return r == -ENOENT ? 0 : r;
		if (size == 0)
			continue;
		r = add_or_complain(m, fdt, node, base, size, static_kind(flags), flags, name, err);
		if (r < 0)
			return r;
	}
}

/* The available children of /reserved-memory, static (reg) or dynamic (size, no reg). */
static bool is_static(const void *fdt, int node)
{
	return fdt_getprop(fdt, node, "reg", NULL) != NULL;
}

static bool is_dynamic(const void *fdt, int node)
{
	return !is_static(fdt, node) && fdt_getprop(fdt, node, "size", NULL) != NULL;
}

typedef bool (*child_filter)(const void *fdt, int node);
typedef int (*child_action)(struct memmap *m, const void *fdt, int node, int ac, int sc,
			    struct dt_error *err);

/* Runs action on every available child of /reserved-memory that filter takes, in DT order. */
static int each_reserved_child(struct memmap *m, const void *fdt, int root_ac, int root_sc,
			       child_filter filter, child_action action, struct dt_error *err)
{
	int parent = fdt_path_offset(fdt, "/reserved-memory");
	int ac, sc, node, r;

	if (parent < 0)
		return 0;
	r = resmem_cells(fdt, parent, root_ac, root_sc, &ac, &sc, err);
	if (r < 0)
		return r;
	fdt_for_each_subnode(node, fdt, parent) {
		if (!dt_node_is_available(fdt, node) || !filter(fdt, node))
			continue;
		r = action(m, fdt, node, ac, sc, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int memmap_add_reserved_static(struct memmap *m, const void *fdt, int root_ac, int root_sc,
			       struct dt_error *err)
{
	return each_reserved_child(m, fdt, root_ac, root_sc, is_static, add_static, err);
}

/* A property of exactly sc cells; *val untouched when it is absent. */
static int read_sized(const void *fdt, int node, const char *prop, int sc, uint64_t *val,
		      struct dt_error *err)
{
	char path[128];
	int len;
	const void *v = fdt_getprop(fdt, node, prop, &len);

	if (!v)
		return 0;
	if (len != sc * 4) {
		dt_error_set(err, "%s: %s is %d bytes long, want %d (#size-cells %d)",
			     dt_node_path(fdt, node, path, sizeof(path)), prop, len, sc * 4, sc);
		return -EINVAL;
	}
	*val = dt_read_number(v, sc);
	return 0;
}

/* Where a dynamic region goes: the first alloc-range it fits in, else anywhere in RAM. */
static int find_spot(const struct memmap *m, const void *fdt, int node, int ac, int sc,
		     uint64_t size, uint64_t align, phys_addr_t *base, struct dt_error *err)
{
	uint64_t lo, len;

	if (!fdt_getprop(fdt, node, "alloc-ranges", NULL))
		return memmap_find_free(m, 0, UINT64_MAX, size, align, base) ? 0 : -ENOMEM;
	for (int idx = 0;; idx++) {
		int r = dt_prop_pair(fdt, node, "alloc-ranges", ac, sc, idx, &lo, &len, err);
		if (r < 0)
			return r == -ENOENT ? -ENOMEM : r;
		if (memmap_find_free(m, lo, lo + len, size, align, base))
			return 0;
	}
}

static const char *path_of(const void *fdt, int node, char *buf)
{
	return dt_node_path(fdt, node, buf, 128);
}

static int place_one(struct memmap *m, const void *fdt, int node, int ac, int sc,
		     struct dt_error *err)
{
	uint64_t size = 0, align = 0;
	uint32_t flags = resv_flags(fdt, node);
	char name[MEMMAP_NAME_LEN], path[128];
	phys_addr_t base;
	int r;

	r = read_sized(fdt, node, "size", sc, &size, err);
	if (r == 0)
		r = read_sized(fdt, node, "alignment", sc, &align, err);
	if (r < 0)
		return r;
	if (size == 0) {
		dt_error_set(err, "%s: dynamic region of size 0", path_of(fdt, node, path));
		return -EINVAL;
	}
	if (align && !IS_POWER_OF_2(align)) {
		dt_error_set(err, "%s: alignment 0x%llx is not a power of two",
			     path_of(fdt, node, path), (unsigned long long)align);
		return -EINVAL;
	}
	align = MAX(align, PAGE_SIZE);
	r = find_spot(m, fdt, node, ac, sc, size, align, &base, err);
	if (r == -ENOMEM) {
		bool ranged = fdt_getprop(fdt, node, "alloc-ranges", NULL) != NULL;
		memmap_warn(m, "%s: cannot place dynamic region of 0x%llx bytes (alignment 0x%llx) "
			    "%s; left out", path_of(fdt, node, path), (unsigned long long)size,
			    (unsigned long long)align,
			    ranged ? "inside its alloc-ranges" : "anywhere in free RAM");
		return 0;
	}
	if (r < 0)
		return r;
	node_name(fdt, node, name);
	return add_or_complain(m, fdt, node, base, size, RESV_DYNAMIC, flags, name, err);
}

/* In DT order, each one clear of every static region and of those placed before it. */
int memmap_place_dynamic(struct memmap *m, const void *fdt, int root_ac, int root_sc,
			 struct dt_error *err)
{
	return each_reserved_child(m, fdt, root_ac, root_sc, is_dynamic, place_one, err);
}

/* linux,initrd-start/-end hold one or two cells, whatever the root's cells say. */
static int read_chosen_addr(const void *fdt, int chosen, const char *prop, uint64_t *val,
			    struct dt_error *err)
{
	int len;
	const void *v = fdt_getprop(fdt, chosen, prop, &len);

	if (!v)
		return -ENOENT;
	if (len != 4 && len != 8) {
		dt_error_set(err, "/chosen: %s is %d bytes long, want 4 or 8", prop, len);
		return -EINVAL;
	}
	*val = dt_read_number(v, len / 4);
	return 0;
}

int memmap_add_initrd(struct memmap *m, const void *fdt, struct dt_error *err)
{
	int chosen = fdt_path_offset(fdt, "/chosen");
	uint64_t start, end;
	int r;

	if (chosen < 0)
		return 0;
	r = read_chosen_addr(fdt, chosen, "linux,initrd-start", &start, err);
	if (r == 0)
		r = read_chosen_addr(fdt, chosen, "linux,initrd-end", &end, err);
	if (r == -ENOENT) /* like Linux: no initrd unless both are there */
		return 0;
	if (r < 0)
		return r;
	if (end < start) {
		dt_error_set(err, "/chosen: linux,initrd-end 0x%llx is below linux,initrd-start 0x%llx",
			     (unsigned long long)end, (unsigned long long)start);
		return -EINVAL;
	}
	if (end == start)
		return 0;
	return add_or_complain(m, fdt, chosen, start, end - start, RESV_INITRD, 0, "initrd", err);
}
