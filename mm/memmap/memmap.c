// SPDX-License-Identifier: MIT
/*
 * The boot memory map from the device tree: RAM from the memory nodes (as
 * Linux's early_init_dt_scan_memory() reads them), then every reservation,
 * then usable = RAM minus reservations. The order matters: dynamic
 * reserved-memory regions are placed last, around everything else.
 */
#include <libfdt.h>
#include <mm/memmap.h>
#include <mm/port.h>
#include <string.h>

#include "memmap_internal.h"

static const char *const kind_names[] = {
	[RESV_RESERVED] = "reserved",	  [RESV_NOMAP] = "no-map",   [RESV_REUSABLE] = "reusable",
	[RESV_MEMRESERVE] = "memreserve", [RESV_DYNAMIC] = "dynamic", [RESV_KERNEL] = "kernel",
	[RESV_DTB] = "dtb",		  [RESV_INITRD] = "initrd",   [RESV_EARLY] = "early",
};

const char *resv_kind_name(uint32_t kind)
{
	return kind < ARRAY_SIZE(kind_names) && kind_names[kind] ? kind_names[kind] : "?";
}

void memmap_warn(struct memmap *m, const char *fmt, ...)
{
	va_list ap;

	if (m->nr_warnings < MEMMAP_MAX_WARNINGS) {
		va_start(ap, fmt);
		kvsnprintf(m->warnings[m->nr_warnings], MEMMAP_WARNING_LEN, fmt, ap);
		va_end(ap);
	}
	m->nr_warnings++;
}

uint64_t memmap_total_ram(const struct memmap *m)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < m->nr_ram; i++)
		total += m->ram[i].size;
	return total;
}

/* A sorted list without what lies at or above end. */
static void clip_list(struct mem_range *list, unsigned int *nr, uint64_t end)
{
	while (*nr && list[*nr - 1].base >= end)
		(*nr)--;
	if (*nr && range_end(&list[*nr - 1]) > end)
		list[*nr - 1].size = end - list[*nr - 1].base;
}

uint64_t memmap_clip(struct memmap *m, phys_addr_t end)
{
	uint64_t before = memmap_total_ram(m);

	clip_list(m->ram, &m->nr_ram, end);
	clip_list(m->usable, &m->nr_usable, end);
	return before - memmap_total_ram(m);
}

uint64_t memmap_total_usable(const struct memmap *m)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < m->nr_usable; i++)
		total += m->usable[i].size;
	return total;
}

static int root_cells(const void *fdt, int *ac, int *sc, struct dt_error *err)
{
	*ac = dt_addr_cells(fdt, 0, 2, err);
	if (*ac < 0)
		return *ac;
	*sc = dt_size_cells(fdt, 0, 1, err);
	if (*sc < 0)
		return *sc;
	if (*sc == 0) {
		dt_error_set(err, "/: #size-cells = 0 cannot describe memory");
		return -EINVAL;
	}
	return 0;
}

/* Every pair of prop; zero-size ones mean nothing (firmware leaves them to fill in). */
static int add_ram(struct memmap *m, const void *fdt, int node, const char *prop, int ac, int sc,
		   struct dt_error *err)
{
	uint64_t base, size;
	char path[128];

	for (int idx = 0;; idx++) {
		int r = dt_prop_pair(fdt, node, prop, ac, sc, idx, &base, &size, err);
		if (r < 0)
			return r == -ENOENT ? 0 : r;
		if (size == 0)
			continue;
		if (ranges_insert(m->ram, &m->nr_ram, base, size) < 0) {
			dt_error_set(err, "%s: %s entry %d: more than %d memory ranges",
				     dt_node_path(fdt, node, path, sizeof(path)), prop, idx,
				     MEMMAP_MAX_REGIONS);
			return -ENOSPC;
		}
	}
}

static int scan_memory(struct memmap *m, const void *fdt, int ac, int sc, struct dt_error *err)
{
	int node, r;

	fdt_for_each_subnode(node, fdt, 0) {
		if (!dt_device_type_is(fdt, node, "memory") || !dt_node_is_available(fdt, node))
			continue;
		/* kdump and friends narrow a node down to what this kernel may use */
		const char *prop = fdt_getprop(fdt, node, "linux,usable-memory", NULL)
					   ? "linux,usable-memory" : "reg";
		r = add_ram(m, fdt, node, prop, ac, sc, err);
		if (r < 0)
			return r;
	}
	if (node != -FDT_ERR_NOTFOUND) {
		dt_error_set(err, "/: cannot walk the root's children: %s", fdt_strerror(node));
		return -EINVAL;
	}
	if (m->nr_ram == 0) {
		dt_error_set(err, "no memory: no available device_type = \"memory\" node "
			     "under / has a non-empty reg");
		return -ENOENT;
	}
	return 0;
}

static int add_extra(struct memmap *m, const struct resv_region *extra, unsigned int nr,
		     struct dt_error *err)
{
	for (unsigned int i = 0; i < nr; i++) {
		const struct resv_region *e = &extra[i];
		char name[MEMMAP_NAME_LEN];

		resv_copy_name(name, e->name, strnlen(e->name, sizeof(e->name)));
		if (e->size == 0)
			continue;
		if (e->size > UINT64_MAX - e->base) {
			dt_error_set(err, "reservation %s: 0x%llx + 0x%llx overflows 64 bits", name,
				     (unsigned long long)e->base, (unsigned long long)e->size);
			return -EOVERFLOW;
		}
		if (resv_add(m, e->base, e->size, e->kind, e->flags, name) < 0) {
			dt_error_set(err, "reservation %s: more than %d reserved regions", name,
				     MEMMAP_MAX_REGIONS);
			return -ENOSPC;
		}
	}
	return 0;
}

/*
 * What is legal but likely not what the DT's author meant: a second
 * /reserved-memory (Linux reads the first; so do we), and a map with no
 * usable memory left (every byte of RAM reserved).
 */
static void warn_oddities(struct memmap *m, const void *fdt)
{
	int first = fdt_path_offset(fdt, "/reserved-memory"), node;
	char path[128];

	fdt_for_each_subnode(node, fdt, 0) {
		const char *name = fdt_get_name(fdt, node, NULL);

		if (node != first && name && strncmp(name, "reserved-memory", 15) == 0 &&
		    (name[15] == '\0' || name[15] == '@'))
			memmap_warn(m, "%s: a second /reserved-memory node: left out, as Linux "
				    "leaves it (only the first is read)",
				    dt_node_path(fdt, node, path, sizeof(path)));
	}
	if (m->nr_usable == 0)
		memmap_warn(m, "no usable memory: every byte of the %llu bytes of RAM is reserved",
			    (unsigned long long)memmap_total_ram(m));
}

int memmap_from_fdt(struct memmap *m, const void *fdt, size_t blob_size,
		    const struct resv_region *extra, unsigned int nr_extra, unsigned int flags,
		    struct dt_error *err)
{
	int ac, sc, r;

	memset(m, 0, sizeof(*m));
	r = dt_check_blob(fdt, blob_size, err);
	if (r == 0)
		r = root_cells(fdt, &ac, &sc, err);
	if (r == 0)
		r = scan_memory(m, fdt, ac, sc, err);
	if (r == 0)
		r = memmap_add_memreserve(m, fdt, err);
	if (r == 0)
		r = memmap_add_reserved_static(m, fdt, ac, sc, err);
	if (r == 0)
		r = add_extra(m, extra, extra ? nr_extra : 0, err);
	if (r == 0 && (flags & MEMMAP_RESERVE_INITRD))
		r = memmap_add_initrd(m, fdt, err);
	if (r == 0)
		r = memmap_place_dynamic(m, fdt, ac, sc, err);
	if (r == 0)
		r = memmap_build_usable(m, err);
	if (r == 0)
		warn_oddities(m, fdt);
	if (r < 0)
		memset(m, 0, sizeof(*m));
	return r;
}
