// SPDX-License-Identifier: MIT
/*
 * Device-tree helpers over libfdt, shared by the memory map, the hart table
 * and the drivers.
 *
 * dt_check_blob() is the gate: it walks the whole blob once, so every libfdt
 * lookup made afterwards stays inside it. libfdt 1.6 (Linux 6.1) has no
 * fdt_check_full(), and its own checks are not enough on their own: a
 * misaligned block makes it load words through misaligned pointers, and a
 * huge property length overflows its int offsets.
 */
#include <libfdt.h>
#include <mm/dt.h>
#include <mm/port.h>
#include <stdarg.h>
#include <string.h>

void dt_error_set(struct dt_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	kvsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* ---- the structural check ---------------------------------------------- */

/* What the structure walk needs to know about the blob. */
struct blob {
	const uint8_t *base;
	uint32_t totalsize;
	uint32_t struct_off, struct_size;
	uint32_t strings_off, strings_size;
};

static bool block_inside(uint32_t off, uint32_t size, uint32_t hdrsize, uint32_t total)
{
	return off >= hdrsize && off <= total && size <= total - off;
}

/* Is this a device tree we can read, and is all of it there? */
static int check_identity(const void *fdt, size_t blob_size, struct dt_error *err)
{
	uint32_t version, total;

	if ((uintptr_t)fdt & 7) {
		dt_error_set(err, "blob at %p is not 8-byte aligned", fdt);
		return -EINVAL;
	}
	if (blob_size && blob_size < FDT_V17_SIZE) {
		dt_error_set(err, "truncated: %zu bytes, smaller than a device tree header (%u)",
			     blob_size, (unsigned int)FDT_V17_SIZE);
		return -EINVAL;
	}
	if (fdt_magic(fdt) != FDT_MAGIC) {
		dt_error_set(err, "bad magic 0x%08x at offset 0 (want 0x%08x): not a device tree",
			     fdt_magic(fdt), FDT_MAGIC);
		return -EINVAL;
	}
	version = fdt_version(fdt);
	if (version < 16 || fdt_last_comp_version(fdt) > 17) {
		dt_error_set(err, "header: unsupported version %u (last compatible %u), need 16 or 17",
			     version, fdt_last_comp_version(fdt));
		return -EINVAL;
	}
	total = fdt_totalsize(fdt);
	if (blob_size && total > blob_size) {
		dt_error_set(err, "truncated: header totalsize is %u bytes but only %zu are there",
			     total, blob_size);
		return -EINVAL;
	}
	if (total < (version >= 17 ? FDT_V17_SIZE : FDT_V16_SIZE) || total > INT32_MAX) {
		dt_error_set(err, "header: totalsize %u is absurd", total);
		return -EINVAL;
	}
	return 0;
}

/* The three blocks lie inside the blob, aligned as libfdt will load them. */
static int check_blocks(const void *fdt, struct blob *b, struct dt_error *err)
{
	uint32_t total = fdt_totalsize(fdt), rsvmap = fdt_off_mem_rsvmap(fdt);
	uint32_t hdrsize = fdt_version(fdt) >= 17 ? FDT_V17_SIZE : FDT_V16_SIZE;

	b->base = fdt;
	b->totalsize = total;
	b->struct_off = fdt_off_dt_struct(fdt);
	/* version 16 has no size_dt_struct: the block may run to the end */
	if (fdt_version(fdt) >= 17)
		b->struct_size = fdt_size_dt_struct(fdt);
	else
		b->struct_size = b->struct_off <= total ? total - b->struct_off : 0;
	b->strings_off = fdt_off_dt_strings(fdt);
	b->strings_size = fdt_size_dt_strings(fdt);

	if (!block_inside(b->struct_off, b->struct_size, hdrsize, total)) {
		dt_error_set(err, "header: structure block 0x%x+0x%x lies outside the blob (totalsize 0x%x)",
			     b->struct_off, b->struct_size, total);
		return -EINVAL;
	}
	if (!block_inside(b->strings_off, b->strings_size, hdrsize, total)) {
		dt_error_set(err, "header: strings block 0x%x+0x%x lies outside the blob (totalsize 0x%x)",
			     b->strings_off, b->strings_size, total);
		return -EINVAL;
	}
	if (!block_inside(rsvmap, 0, hdrsize, total)) {
		dt_error_set(err, "header: memory reservation block at 0x%x lies outside the blob (totalsize 0x%x)",
			     rsvmap, total);
		return -EINVAL;
	}
	if (b->struct_off % FDT_TAGSIZE || b->struct_size % FDT_TAGSIZE) {
		dt_error_set(err, "header: structure block 0x%x+0x%x is not 4-byte aligned",
			     b->struct_off, b->struct_size);
		return -EINVAL;
	}
	if (rsvmap % 8) {
		dt_error_set(err, "header: memory reservation block at 0x%x is not 8-byte aligned",
			     rsvmap);
		return -EINVAL;
	}
	/* libfdt's own view of the header must agree with ours */
	int r = fdt_check_header(fdt);
	if (r < 0) {
		dt_error_set(err, "header: %s", fdt_strerror(r));
		return -EINVAL;
	}
	return 0;
}

/* The /memreserve/ list ends with an entry of size 0 (as libfdt reads it). */
static int check_memreserve(const void *fdt, const struct blob *b, struct dt_error *err)
{
	uint32_t off = fdt_off_mem_rsvmap(fdt);
	const uint32_t entry = sizeof(struct fdt_reserve_entry);

	for (unsigned int n = 0;; n++, off += entry) {
		if (entry > b->totalsize - off) {
			dt_error_set(err, "/memreserve/ entry %u at 0x%x runs past the blob "
				     "(no terminating entry)", n, off);
			return -EINVAL;
		}
		if (fdt64_ld((const fdt64_t *)(b->base + off + 8)) == 0)
			return 0;
	}
}

static bool read_tag(const struct blob *b, uint32_t off, uint32_t *val)
{
	if (off > b->struct_size || b->struct_size - off < 4)
		return false;
	*val = fdt32_ld((const fdt32_t *)(b->base + b->struct_off + off));
	return true;
}

/* Walk state: where we are and the innermost node's name, for messages. */
struct walk {
	uint32_t off;
	int depth;
	bool root_done;
	const char *node;
};

static int walk_begin_node(const struct blob *b, struct walk *w, struct dt_error *err)
{
	const char *name = (const char *)b->base + b->struct_off + w->off + 4;
	uint32_t room = b->struct_size - w->off - 4;
	size_t len = strnlen(name, room);

	if (len == room) {
		dt_error_set(err, "structure block 0x%x: node name runs past the block", w->off);
		return -EINVAL;
	}
	if (w->root_done) {
		dt_error_set(err, "structure block 0x%x: node %s after the root node ended",
			     w->off, name);
		return -EINVAL;
	}
	w->depth++;
	w->node = w->depth == 1 ? "/" : name;
	w->off += 4 + (uint32_t)ALIGN_UP(len + 1, FDT_TAGSIZE);
	return 0;
}

static int walk_prop(const struct blob *b, struct walk *w, struct dt_error *err)
{
	uint32_t len, nameoff;

	if (w->depth == 0) {
		dt_error_set(err, "structure block 0x%x: property outside any node", w->off);
		return -EINVAL;
	}
	if (!read_tag(b, w->off + 4, &len) || !read_tag(b, w->off + 8, &nameoff) ||
	    len > b->struct_size - w->off - 12) {
		dt_error_set(err, "node %s: property at 0x%x runs past the structure block",
			     w->node, w->off);
		return -EINVAL;
	}
	if (nameoff >= b->strings_size ||
	    !memchr(b->base + b->strings_off + nameoff, '\0', b->strings_size - nameoff)) {
		dt_error_set(err, "node %s: property at 0x%x has its name (0x%x) outside the strings block",
			     w->node, w->off, nameoff);
		return -EINVAL;
	}
	w->off += 12 + ALIGN_UP(len, FDT_TAGSIZE);
	return 0;
}

static int walk_struct(const struct blob *b, struct dt_error *err)
{
	struct walk w = { .off = 0, .depth = 0, .node = "(none)" };
	uint32_t tag;
	int r = 0;

	while (r == 0) {
		if (!read_tag(b, w.off, &tag)) {
			dt_error_set(err, "structure block ends at 0x%x without FDT_END (in node %s)",
				     w.off, w.node);
			return -EINVAL;
		}
		switch (tag) {
		case FDT_BEGIN_NODE:
			r = walk_begin_node(b, &w, err);
			break;
		case FDT_PROP:
			r = walk_prop(b, &w, err);
			break;
		case FDT_END_NODE:
			if (w.depth == 0) {
				dt_error_set(err, "structure block 0x%x: FDT_END_NODE outside any node",
					     w.off);
				return -EINVAL;
			}
			if (--w.depth == 0)
				w.root_done = true;
			w.off += 4;
			break;
		case FDT_NOP:
			w.off += 4;
			break;
		case FDT_END:
			if (!w.root_done) {
				dt_error_set(err, "structure block 0x%x: FDT_END inside node %s",
					     w.off, w.node);
				return -EINVAL;
			}
			return 0;
		default:
			dt_error_set(err, "structure block 0x%x: unknown tag 0x%x (in node %s)",
				     w.off, tag, w.node);
			return -EINVAL;
		}
	}
	return r;
}

int dt_check_blob(const void *fdt, size_t blob_size, struct dt_error *err)
{
	struct blob b;
	uint32_t first;
	int r;

	r = check_identity(fdt, blob_size, err);
	if (r == 0)
		r = check_blocks(fdt, &b, err);
	if (r < 0)
		return r;
	r = check_memreserve(fdt, &b, err);
	if (r < 0)
		return r;
	if (!read_tag(&b, 0, &first) || first != FDT_BEGIN_NODE) {
		dt_error_set(err, "structure block does not start with the root node");
		return -EINVAL;
	}
	return walk_struct(&b, err);
}

/* ---- properties and cells ---------------------------------------------- */

/* A string property equal to want (the value must hold its terminating NUL). */
static bool prop_is(const void *fdt, int node, const char *prop, const char *want)
{
	int len;
	const char *v = fdt_getprop(fdt, node, prop, &len);

	return v && len > 0 && (size_t)len == strlen(want) + 1 && memcmp(v, want, len) == 0;
}

bool dt_node_is_available(const void *fdt, int node)
{
	if (!fdt_getprop(fdt, node, "status", NULL))
		return true;
	return prop_is(fdt, node, "status", "okay") || prop_is(fdt, node, "status", "ok");
}

bool dt_device_type_is(const void *fdt, int node, const char *type)
{
	return prop_is(fdt, node, "device_type", type);
}

static bool plain_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '\\';
}

/* The length of s escaped. */
static size_t escaped_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += plain_char((unsigned char)*s) ? 1 : 4;
	return n;
}

size_t dt_escape(char *dst, size_t size, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (size == 0)
		return 0;
	for (size_t i = 0; i < srclen && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = plain_char(c);

		if (n + (plain ? 1 : 4) > size - 1)
			break;
		if (plain) {
			dst[n++] = (char)c;
			continue;
		}
		dst[n++] = '\\';
		dst[n++] = 'x';
		dst[n++] = hex[c >> 4];
		dst[n++] = hex[c & 15];
	}
	dst[n] = '\0';
	return n;
}

const char *dt_node_path(const void *fdt, int node, char *buf, size_t len)
{
	char raw[256];

	if (len == 0)
		return buf;
	if (fdt_get_path(fdt, node, raw, sizeof(raw)) == 0 && escaped_len(raw) < len) {
		dt_escape(buf, len, raw, sizeof(raw));
		return buf;
	}
	/* too deep for buf: the node's own name still says a lot */
	const char *name = fdt_get_name(fdt, node, NULL);

	ksnprintf(raw, sizeof(raw), ".../%s", name ? name : "?");
	dt_escape(buf, len, raw, sizeof(raw));
	return buf;
}

/*
 * #address-cells / #size-cells of node; absent, the nearest ancestor's (as
 * Linux's of_n_addr_cells() does), and dflt at the root.
 */
static int read_cells(const void *fdt, int node, const char *prop, int dflt, int lo,
		      struct dt_error *err)
{
	char path[128];
	int len, here = node;
	const void *v;

	while (!(v = fdt_getprop(fdt, here, prop, &len)) && here > 0)
		here = fdt_parent_offset(fdt, here);
	if (!v)
		return dflt;
	if (len != 4) {
		dt_error_set(err, "%s: %s is %d bytes long, want 4",
			     dt_node_path(fdt, here, path, sizeof(path)), prop, len);
		return -EINVAL;
	}
	uint32_t n = fdt32_ld(v);
	if (n < (uint32_t)lo || n > 2) {
		dt_error_set(err, "%s: %s = %u is not supported (want %d..2)",
			     dt_node_path(fdt, here, path, sizeof(path)), prop, n, lo);
		return -EINVAL;
	}
	return (int)n;
}

int dt_addr_cells(const void *fdt, int node, int dflt, struct dt_error *err)
{
	return read_cells(fdt, node, "#address-cells", dflt, 1, err);
}

int dt_size_cells(const void *fdt, int node, int dflt, struct dt_error *err)
{
	return read_cells(fdt, node, "#size-cells", dflt, 0, err);
}

uint64_t dt_read_number(const void *cells, int count)
{
	const fdt32_t *c = cells;
	uint64_t v = 0;

	for (int i = 0; i < count; i++)
		v = (v << 32) | fdt32_ld(&c[i]);
	return v;
}

int dt_prop_pair(const void *fdt, int node, const char *prop, int ac, int sc, int idx,
		 uint64_t *addr, uint64_t *size, struct dt_error *err)
{
	char path[128];
	int len, stride = (ac + sc) * 4;
	const uint8_t *v = fdt_getprop(fdt, node, prop, &len);

	if (!v || idx < 0)
		return -ENOENT;
	if (len % stride) {
		dt_error_set(err, "%s: %s is %d bytes long, not a multiple of %d "
			     "(#address-cells %d + #size-cells %d)",
			     dt_node_path(fdt, node, path, sizeof(path)), prop, len, stride, ac,
			     sc);
		return -EINVAL;
	}
	if (idx >= len / stride)
		return -ENOENT;
	*addr = dt_read_number(v + idx * stride, ac);
	*size = dt_read_number(v + idx * stride + ac * 4, sc);
	if (*size > UINT64_MAX - *addr) {
		dt_error_set(err, "%s: %s entry %d: 0x%llx + 0x%llx overflows 64 bits",
			     dt_node_path(fdt, node, path, sizeof(path)), prop, idx,
			     (unsigned long long)*addr, (unsigned long long)*size);
		return -EOVERFLOW;
	}
	return 0;
}

/*
 * One step up: a child bus address through node's "ranges" into its parent's
 * address space. An empty "ranges" is the identity; so is a missing one,
 * which real trees often omit on simple buses (Linux would refuse those).
 */
static int translate_up(const void *fdt, int node, uint64_t *addr, struct dt_error *err)
{
	char path[128];
	int parent = fdt_parent_offset(fdt, node);
	int cac, csc, pac, len, stride;
	const uint8_t *r = fdt_getprop(fdt, node, "ranges", &len);

	if (!r || len == 0)
		return 0;
	cac = dt_addr_cells(fdt, node, 2, err);
	csc = dt_size_cells(fdt, node, 1, err);
	pac = dt_addr_cells(fdt, parent, 2, err);
	if (cac < 0 || csc < 0 || pac < 0)
		return -EINVAL;
	stride = (cac + pac + csc) * 4;
	if (len % stride) {
		dt_error_set(err, "%s: ranges is %d bytes long, not a multiple of %d",
			     dt_node_path(fdt, node, path, sizeof(path)), len, stride);
		return -EINVAL;
	}
	for (int off = 0; off < len; off += stride) {
		uint64_t cbase = dt_read_number(r + off, cac);
		uint64_t pbase = dt_read_number(r + off + cac * 4, pac);
		uint64_t size = dt_read_number(r + off + (cac + pac) * 4, csc);
		if (*addr >= cbase && *addr - cbase < size) {
			*addr = pbase + (*addr - cbase);
			return 0;
		}
	}
	dt_error_set(err, "%s: address 0x%llx is outside its ranges",
		     dt_node_path(fdt, node, path, sizeof(path)), (unsigned long long)*addr);
	return -EINVAL;
}

int dt_reg(const void *fdt, int node, int idx, uint64_t *addr, uint64_t *size,
	   struct dt_error *err)
{
	int parent = fdt_parent_offset(fdt, node);
	int ac, sc, r;

	if (parent < 0) {
		dt_error_set(err, "node at offset %d has no parent", node);
		return -EINVAL;
	}
	ac = dt_addr_cells(fdt, parent, 2, err);
	sc = dt_size_cells(fdt, parent, 1, err);
	if (ac < 0 || sc < 0)
		return -EINVAL;
	r = dt_prop_pair(fdt, node, "reg", ac, sc, idx, addr, size, err);
	if (r == -ENOENT) {
		char path[128];
		dt_error_set(err, "%s: no reg entry %d",
			     dt_node_path(fdt, node, path, sizeof(path)), idx);
	}
	for (int bus = parent; r == 0 && bus > 0; bus = fdt_parent_offset(fdt, bus))
		r = translate_up(fdt, bus, addr, err);
	return r;
}

bool dt_range_is_memory(const void *fdt, uint64_t base, uint64_t size)
{
	struct dt_error err;
	int node;

	fdt_for_each_subnode(node, fdt, 0) {
		uint64_t a, n;

		if (!dt_device_type_is(fdt, node, "memory") || !dt_node_is_available(fdt, node))
			continue;
		for (int i = 0; dt_reg(fdt, node, i, &a, &n, &err) == 0; i++) {
			if (n && base < a + n && a < base + size)
				return true;
		}
	}
	return false;
}

static bool prop_u32(const void *fdt, int node, const char *name, uint32_t *v)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	if (!p || len != 4)
		return false;
	*v = fdt32_to_cpu(*p);
	return true;
}

int dt_syscon_poweroff(const void *fdt, uint64_t *pa, uint32_t *value, uint32_t *mask,
		       struct dt_error *err)
{
	int node = fdt_node_offset_by_compatible(fdt, -1, "syscon-poweroff"), syscon;
	uint32_t phandle, offset;
	bool has_value, has_mask;
	uint64_t base, size;
	char path[128];

	while (node >= 0 && !dt_node_is_available(fdt, node))
		node = fdt_node_offset_by_compatible(fdt, node, "syscon-poweroff");
	if (node < 0)
		return -ENOENT;
	dt_node_path(fdt, node, path, sizeof(path));
	if (!prop_u32(fdt, node, "regmap", &phandle) ||
	    (syscon = fdt_node_offset_by_phandle(fdt, phandle)) < 0) {
		dt_error_set(err, "%s: regmap names no node", path);
		return -EINVAL;
	}
	if (!prop_u32(fdt, node, "offset", &offset)) {
		dt_error_set(err, "%s: no 4-byte offset", path);
		return -EINVAL;
	}
	has_value = prop_u32(fdt, node, "value", value);
	has_mask = prop_u32(fdt, node, "mask", mask);
	if (!has_value && !has_mask) {
		dt_error_set(err, "%s: neither value nor mask", path);
		return -EINVAL;
	}
	if (!has_value)
		*value = *mask;
	if (!has_mask)
		*mask = ~0u;
	if (dt_reg(fdt, syscon, 0, &base, &size, err) < 0)
		return -EINVAL;
	if (offset % 4 || (size && (uint64_t)offset + 4 > size)) {
		dt_error_set(err, "%s: offset 0x%x is outside its regmap's 0x%llx bytes", path,
			     offset, (unsigned long long)size);
		return -EINVAL;
	}
	*pa = base + offset;
	return 0;
}
