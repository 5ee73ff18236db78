// SPDX-License-Identifier: MIT
/*
 * mm/dt/dt.c on the host: the structural check against blobs broken in every
 * way we could think of (each built in C from a valid one, in an exactly-sized
 * buffer so ASan sees any read past it), and the property helpers.
 */
#include <mm/dt.h>
#include <kernel/errno.h>
#include <mm/harts.h>
#include <kernel/ktest.h>
#include <libfdt.h>
#include <mm/memmap.h>
#include <stdlib.h>
#include <string.h>

#include "dtb_load.h"

#define FIXTURE "memmap-reserved"

static void *load(struct ktest *t, const char *name, size_t *size)
{
	void *blob = dtb_load(name, size);

	if (!blob)
		ktest_log(t, "cannot load %s.dtb (DTB_DIR?)", name);
	return blob;
}

/* rc is -EINVAL and the message mentions want. */
static void expect_bad(struct ktest *t, int rc, const struct dt_error *err, const char *want)
{
	KT_EXPECT_EQ(t, rc, -EINVAL);
	if (!KT_EXPECT(t, strstr(err->msg, want) != NULL))
		ktest_log(t, "message \"%s\" lacks \"%s\"", err->msg, want);
}

/* Checks a broken copy both ways: the bare check and the whole map builder. */
static void expect_blob_bad(struct ktest *t, const void *blob, size_t size, const char *want)
{
	static struct memmap m;
	struct dt_error err = { "" };

	expect_bad(t, dt_check_blob(blob, size, &err), &err, want);
	memset(&err, 0, sizeof(err));
	expect_bad(t, memmap_from_fdt(&m, blob, size, NULL, 0, 0, &err), &err, want);
	KT_EXPECT_EQ(t, m.nr_ram + m.nr_resv + m.nr_usable, 0);
}

static void valid_blob_passes(struct ktest *t)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = load(t, FIXTURE, &size);

	KT_ASSERT(t, blob);
	KT_EXPECT_EQ(t, dt_check_blob(blob, size, &err), 0);
	KT_EXPECT_EQ(t, dt_check_blob(blob, 0, &err), 0); /* 0: trust totalsize */
	free(blob);
}

/* Each case: a copy of the fixture with one thing broken. */
typedef void (*breaker)(void *blob, size_t *size);

static void bad_magic(void *blob, size_t *size)
{
	(void)size;
	fdt_set_magic(blob, 0xfeedd00d);
}

static void totalsize_past_buffer(void *blob, size_t *size)
{
	fdt_set_totalsize(blob, *size + 16);
}

static void buffer_cut_short(void *blob, size_t *size)
{
	(void)blob;
	*size -= 1;
}

static void smaller_than_header(void *blob, size_t *size)
{
	(void)blob;
	*size = 20;
}

static void struct_outside(void *blob, size_t *size)
{
	fdt_set_off_dt_struct(blob, *size + 0x100);
}

static void struct_size_too_big(void *blob, size_t *size)
{
	(void)size;
	fdt_set_size_dt_struct(blob, fdt_size_dt_struct(blob) + 0x1000);
}

static void struct_misaligned(void *blob, size_t *size)
{
	(void)size;
	fdt_set_off_dt_struct(blob, fdt_off_dt_struct(blob) + 2);
}

static void strings_outside(void *blob, size_t *size)
{
	fdt_set_off_dt_strings(blob, *size - 2);
}

static void memrsv_outside(void *blob, size_t *size)
{
	fdt_set_off_mem_rsvmap(blob, *size + 8);
}

static void memrsv_unterminated(void *blob, size_t *size)
{
	fdt_set_off_mem_rsvmap(blob, ALIGN_DOWN(*size - 8, 8));
	memset((char *)blob + ALIGN_DOWN(*size - 8, 8), 0xff, *size - ALIGN_DOWN(*size - 8, 8));
}

static void old_version(void *blob, size_t *size)
{
	(void)size;
	fdt_set_version(blob, 1);
	fdt_set_last_comp_version(blob, 1);
}

static uint8_t *struct_at(void *blob, int off)
{
	return (uint8_t *)blob + fdt_off_dt_struct(blob) + off;
}

static void prop_len_huge(void *blob, size_t *size)
{
	(void)size;
	fdt32_st(struct_at(blob, fdt_first_property_offset(blob, 0) + 4), 0xfffffff0);
}

static void prop_len_past_block(void *blob, size_t *size)
{
	(void)size;
	fdt32_st(struct_at(blob, fdt_first_property_offset(blob, 0) + 4),
		 fdt_size_dt_struct(blob));
}

static void prop_name_outside(void *blob, size_t *size)
{
	(void)size;
	fdt32_st(struct_at(blob, fdt_first_property_offset(blob, 0) + 8),
		 fdt_size_dt_strings(blob) + 3);
}

/* the strings block ends inside a name: its NUL falls outside */
static void strings_cut(void *blob, size_t *size)
{
	(void)size;
	fdt_set_size_dt_strings(blob, fdt_size_dt_strings(blob) - 1);
}

static void unknown_tag(void *blob, size_t *size)
{
	(void)size;
	fdt32_st(struct_at(blob, fdt_first_subnode(blob, 0)), 0x7);
}

static void no_end_tag(void *blob, size_t *size)
{
	(void)size;
	fdt_set_size_dt_struct(blob, fdt_size_dt_struct(blob) - 4);
}

static void name_past_block(void *blob, size_t *size)
{
	(void)size;
	fdt_set_size_dt_struct(blob, fdt_first_subnode(blob, 0) + 8);
}

static void end_inside_node(void *blob, size_t *size)
{
	(void)size;
	/* the root's last FDT_END_NODE becomes FDT_END */
	fdt32_st(struct_at(blob, fdt_size_dt_struct(blob) - 8), FDT_END);
}

/* the root's first property becomes FDT_END_NODE + NOPs: the rest is outside any node */
static void root_closed_early(void *blob, size_t *size)
{
	(void)size;
	int off = fdt_first_property_offset(blob, 0);
	fdt32_st(struct_at(blob, off), FDT_END_NODE);
	for (int i = 4; i < 16; i += 4)
		fdt32_st(struct_at(blob, off + i), FDT_NOP);
}

/* the root holds a node after its #address-cells: close the root in between */
static void node_after_root(void *blob, size_t *size)
{
	(void)size;
	const uint8_t *p = (const uint8_t *)fdt_get_property(blob, 0, "#size-cells", NULL);
	int off = (int)(p - struct_at(blob, 0));
	fdt_nop_property(blob, 0, "#size-cells");
	fdt_nop_property(blob, 0, "#address-cells");
	fdt32_st(struct_at(blob, off), FDT_END_NODE);
}

static void first_tag_not_node(void *blob, size_t *size)
{
	(void)size;
	fdt32_st(struct_at(blob, 0), FDT_NOP);
}

static const struct {
	const char *what;
	breaker fn;
	const char *want;
} broken[] = {
	{ "bad magic", bad_magic, "bad magic 0xfeedd00d" },
	{ "totalsize past the buffer", totalsize_past_buffer, "truncated" },
	{ "buffer one byte short", buffer_cut_short, "truncated" },
	{ "buffer smaller than a header", smaller_than_header,
	  "smaller than a device tree header" },
	{ "off_dt_struct outside", struct_outside, "structure block" },
	{ "size_dt_struct too big", struct_size_too_big, "structure block" },
	{ "off_dt_struct misaligned", struct_misaligned, "not 4-byte aligned" },
	{ "strings outside", strings_outside, "strings block" },
	{ "memreserve outside", memrsv_outside, "memory reservation block" },
	{ "memreserve unterminated", memrsv_unterminated, "/memreserve/ entry" },
	{ "version 1", old_version, "unsupported version 1" },
	{ "property length huge", prop_len_huge, "runs past the structure block" },
	{ "property length past block", prop_len_past_block, "runs past the structure block" },
	{ "property name outside strings", prop_name_outside, "outside the strings block" },
	{ "strings block cut", strings_cut, "outside the strings block" },
	{ "unknown tag", unknown_tag, "unknown tag 0x7" },
	{ "no FDT_END", no_end_tag, "without FDT_END" },
	{ "node name past block", name_past_block, "node name runs past" },
	{ "FDT_END inside a node", end_inside_node, "FDT_END inside node" },
	{ "root closed early", root_closed_early, "property outside any node" },
	{ "node after the root", node_after_root,
	  "node memory@80000000 after the root node ended" },
	{ "first tag not a node", first_tag_not_node, "does not start with the root node" },
};

static void broken_blobs_rejected(struct ktest *t)
{
	size_t size;
	void *blob = load(t, FIXTURE, &size);

	KT_ASSERT(t, blob);
	for (unsigned int i = 0; i < ARRAY_SIZE(broken); i++) {
		size_t n = size;
		void *copy = dtb_copy(blob, size);
		unsigned int failures = t->failures;

		broken[i].fn(copy, &n);
		void *exact = dtb_copy(copy, n);
		expect_blob_bad(t, exact, n, broken[i].want);
		if (t->failures != failures)
			ktest_log(t, "case: %s", broken[i].what);
		free(exact);
		free(copy);
	}
	free(blob);
}

static void misaligned_blob_rejected(struct ktest *t)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = load(t, FIXTURE, &size);
	uint8_t *buf;

	KT_ASSERT(t, blob);
	buf = malloc(size + 4);
	memcpy(buf + 4, blob, size);
	expect_bad(t, dt_check_blob(buf + 4, size, &err), &err, "not 8-byte aligned");
	free(buf);
	free(blob);
}

/* What the kernel does with a blob the check accepted: everything must stay inside it. */
static int use_blob(const void *blob, size_t size, struct dt_error *err)
{
	static struct memmap m;
	static struct hart_table h;
	char path[64];
	uint64_t a, s;
	int rc = memmap_from_fdt(&m, blob, size, NULL, 0, MEMMAP_RESERVE_INITRD, err);

	if (rc < 0)
		return rc;
	harts_from_fdt(&h, blob, 1, NULL);
	/* a few nodes suffice: every node would make the test quadratic */
	int node = 0;
	for (int i = 0; i < 4 && node >= 0; i++, node = fdt_next_node(blob, node, NULL)) {
		dt_node_path(blob, node, path, sizeof(path));
		dt_reg(blob, node, 0, &a, &s, NULL);
	}
	return 0;
}

/*
 * Every truncation of valid blobs and five bit flips of their every byte: the check
 * either accepts one or explains why not, and ASan/UBSan see no stray or
 * misaligned read, in the check or in anything that uses the blob after it.
 */
static void mutated_blobs_never_read_outside(struct ktest *t)
{
	static const char *const fixtures[] = { FIXTURE, "harts-riscv", "memmap-dynamic" };
	static const uint8_t flips[] = { 0x01, 0x02, 0x10, 0x80, 0xff };

	for (unsigned int f = 0; f < ARRAY_SIZE(fixtures); f++) {
		unsigned int accepted = 0, rejected = 0, silent = 0;
		size_t size;
		void *blob = load(t, fixtures[f], &size);

		KT_ASSERT(t, blob);
		for (size_t n = 1; n < size; n++) { /* 0 would mean "trust totalsize" */
			struct dt_error err = { "" };
			void *cut = dtb_copy(blob, n);
			if (use_blob(cut, n, &err) == 0)
				accepted++;
			else
				silent += err.msg[0] == '\0';
			free(cut);
		}
		KT_EXPECT_EQ(t, accepted, 0);
		for (size_t i = 0; i < size * ARRAY_SIZE(flips); i++) {
			struct dt_error err = { "" };
			uint8_t *copy = dtb_copy(blob, size);
			copy[i / ARRAY_SIZE(flips)] ^= flips[i % ARRAY_SIZE(flips)];
			if (use_blob(copy, size, &err) == 0) {
				accepted++;
			} else {
				rejected++;
				silent += err.msg[0] == '\0';
			}
			free(copy);
		}
		KT_EXPECT_EQ(t, silent, 0);
		KT_EXPECT_GT(t, rejected, 0);
		ktest_log(t, "%s: %zu mutations, %u accepted, %u rejected", fixtures[f],
			  size * ARRAY_SIZE(flips), accepted, rejected);
		free(blob);
	}
}

static void available_status(struct ktest *t)
{
	size_t size;
	void *blob = load(t, "memmap-overlap", &size);

	KT_ASSERT(t, blob);
	KT_EXPECT(t, dt_node_is_available(blob, fdt_path_offset(blob, "/memory@80000000")));
	KT_EXPECT(t, dt_node_is_available(blob, fdt_path_offset(blob, "/memory@81000000")));
	KT_EXPECT(t, dt_node_is_available(blob, fdt_path_offset(blob, "/memory@83000000")));
	KT_EXPECT(t, !dt_node_is_available(blob, fdt_path_offset(blob, "/memory@a0000000")));
	KT_EXPECT(t, !dt_node_is_available(blob, fdt_path_offset(blob, "/memory@b0000000")));
	KT_EXPECT(t, dt_device_type_is(blob, fdt_path_offset(blob, "/memory@80000000"), "memory"));
	KT_EXPECT(t, !dt_device_type_is(blob, fdt_path_offset(blob, "/sram@c0000000"), "memory"));
	KT_EXPECT(t, !dt_device_type_is(blob, fdt_path_offset(blob, "/memory@80000000"), "memor"));
	free(blob);
}

static void read_number_is_big_endian(struct ktest *t)
{
	const uint8_t cells[] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 };

	KT_EXPECT_EQ(t, dt_read_number(cells, 0), 0);
	KT_EXPECT_EQ(t, dt_read_number(cells, 1), 0x12345678);
	KT_EXPECT_EQ(t, dt_read_number(cells, 2), 0x123456789abcdef0ULL);
	KT_EXPECT_EQ(t, dt_read_number(cells + 1, 1), 0x3456789a); /* any alignment */
}

static void cells_inherit_and_default(struct ktest *t)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = load(t, "memmap-usable-memory", &size);

	KT_ASSERT(t, blob);
	int resmem = fdt_path_offset(blob, "/reserved-memory");
	/* no cells of its own: the root's 1/1, not the defaults */
	KT_EXPECT_EQ(t, dt_addr_cells(blob, resmem, 2, &err), 1);
	KT_EXPECT_EQ(t, dt_size_cells(blob, resmem, 2, &err), 1);
	free(blob);

	blob = load(t, "harts-noreg", &size);
	KT_ASSERT(t, blob);
	KT_EXPECT_EQ(t, dt_addr_cells(blob, 0, 2, &err), 2); /* nothing anywhere: dflt */
	KT_EXPECT_EQ(t, dt_size_cells(blob, 0, 1, &err), 1);
	KT_EXPECT_EQ(t, dt_size_cells(blob, fdt_path_offset(blob, "/cpus"), 1, &err), 0);
	free(blob);
}

/* A blob edited with libfdt's read-write API: one property set on one node. */
static void *with_prop(struct ktest *t, const char *path, const char *prop, const void *val,
		       int len, size_t *size)
{
	size_t n;
	void *blob = load(t, FIXTURE, &n);
	void *edit = blob ? dtb_edit(blob, 256) : NULL;

	free(blob);
	if (!edit || fdt_setprop(edit, fdt_path_offset(edit, path), prop, val, len) < 0) {
		free(edit);
		return NULL;
	}
	return dtb_pack(edit, size);
}

static void absurd_cells_rejected(struct ktest *t)
{
	const struct {
		const char *prop;
		uint32_t val[2];
		int len;
		const char *want;
	} cases[] = {
		{ "#address-cells", { cpu_to_fdt32(5) }, 4,
		  "/: #address-cells = 5 is not supported" },
		{ "#address-cells", { cpu_to_fdt32(0) }, 4, "#address-cells = 0 is not supported" },
		{ "#size-cells", { cpu_to_fdt32(3) }, 4, "/: #size-cells = 3 is not supported" },
		{ "#address-cells", { cpu_to_fdt32(1), cpu_to_fdt32(1) }, 8,
		  "#address-cells is 8 bytes long" },
		{ "#size-cells", { 0 }, 2, "/: #size-cells is 2 bytes long" },
	};
	struct dt_error err;
	size_t size;

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		void *blob = with_prop(t, "/", cases[i].prop, cases[i].val, cases[i].len, &size);
		KT_ASSERT(t, blob);
		memset(&err, 0, sizeof(err));
		int rc = cases[i].prop[1] == 'a' ? dt_addr_cells(blob, 0, 2, &err)
						 : dt_size_cells(blob, 0, 1, &err);
		expect_bad(t, rc, &err, cases[i].want);
		free(blob);
	}
}

static void prop_pair_checks_length_and_overflow(struct ktest *t)
{
	const uint32_t bad_len[3] = { 0, cpu_to_fdt32(0x80000000), 0 };
	const uint32_t overflow[4] = { cpu_to_fdt32(0xffffffff), cpu_to_fdt32(0xffff0000),
					      0, cpu_to_fdt32(0x20000) };
	struct dt_error err = { "" };
	uint64_t a, s;
	size_t size;
	void *blob;
	int node;

	blob = with_prop(t, "/memory@80000000", "reg", bad_len, sizeof(bad_len), &size);
	KT_ASSERT(t, blob);
	node = fdt_path_offset(blob, "/memory@80000000");
	expect_bad(t, dt_prop_pair(blob, node, "reg", 2, 2, 0, &a, &s, &err), &err,
		   "/memory@80000000: reg is 12 bytes long, not a multiple of 16");
	free(blob);

	blob = with_prop(t, "/memory@80000000", "reg", overflow, sizeof(overflow), &size);
	KT_ASSERT(t, blob);
	node = fdt_path_offset(blob, "/memory@80000000");
	KT_EXPECT_EQ(t, dt_prop_pair(blob, node, "reg", 2, 2, 0, &a, &s, &err), -EOVERFLOW);
	KT_EXPECT(t, strstr(err.msg, "/memory@80000000: reg entry 0") != NULL);
	KT_EXPECT(t, strstr(err.msg, "overflows 64 bits") != NULL);
	KT_EXPECT_EQ(t, dt_prop_pair(blob, node, "reg", 2, 2, 1, &a, &s, &err), -ENOENT);
	KT_EXPECT_EQ(t, dt_prop_pair(blob, node, "nonesuch", 2, 2, 0, &a, &s, &err), -ENOENT);
	free(blob);
}

/* reg through a bus's ranges: the UART and the finisher are found this way */
static void reg_translates_through_ranges(struct ktest *t)
{
	const uint32_t ranges[6] = { 0, cpu_to_fdt32(0x1000), cpu_to_fdt32(0x0),
					    cpu_to_fdt32(0x10000000), 0, cpu_to_fdt32(0x1000) };
	const uint32_t reg[4] = { 0, cpu_to_fdt32(0x1100), 0, cpu_to_fdt32(0x100) };
	const uint32_t cells2 = cpu_to_fdt32(2);
	struct dt_error err = { "" };
	uint64_t a = 0, s = 0;
	size_t n, size;
	void *blob = load(t, FIXTURE, &n);
	void *edit = blob ? dtb_edit(blob, 512) : NULL;
	int bus, dev;

	free(blob);
	KT_ASSERT(t, edit);
	bus = fdt_add_subnode(edit, 0, "soc");
	fdt_setprop(edit, bus, "#address-cells", &cells2, 4);
	fdt_setprop(edit, bus, "#size-cells", &cells2, 4);
	fdt_setprop(edit, bus, "ranges", ranges, sizeof(ranges)); /* 2 + 2 + 2 cells */
	dev = fdt_add_subnode(edit, bus, "uart@1100");
	fdt_setprop(edit, dev, "reg", reg, sizeof(reg));
	blob = dtb_pack(edit, &size);
	KT_ASSERT(t, blob);

	dev = fdt_path_offset(blob, "/soc/uart@1100");
	KT_ASSERT_EQ(t, dt_reg(blob, dev, 0, &a, &s, &err), 0);
	KT_EXPECT_EQ(t, a, 0x10000100);
	KT_EXPECT_EQ(t, s, 0x100);
	KT_EXPECT_EQ(t, dt_reg(blob, dev, 1, &a, &s, &err), -ENOENT);
	/* a node directly under the root: no translation */
	dev = fdt_path_offset(blob, "/memory@80000000");
	KT_ASSERT_EQ(t, dt_reg(blob, dev, 1, &a, &s, &err), 0);
	KT_EXPECT_EQ(t, a, 0x90001000);
	KT_EXPECT_EQ(t, s, 0x0ffff000);
	free(blob);
}

/*
 * RAM by the memory nodes' reg (0x80000000-0x8fffffff and 0x90001000-
 * 0x9fffffff here): where an early console's address must not be.
 */
static void range_is_memory_by_the_memory_nodes(struct ktest *t)
{
	size_t n;
	void *blob = load(t, FIXTURE, &n);

	KT_ASSERT(t, blob);
	KT_EXPECT(t, dt_range_is_memory(blob, 0x80000000, 0x1000));
	KT_EXPECT(t, dt_range_is_memory(blob, 0x8ffff000, 0x1000));
	KT_EXPECT(t, dt_range_is_memory(blob, 0x7ffff000, 0x2000)); /* straddles the start */
	KT_EXPECT(t, dt_range_is_memory(blob, 0x9fff0000, 0x1000)); /* the second pair */
	KT_EXPECT(t, !dt_range_is_memory(blob, 0x7ffff000, 0x1000)); /* ends where RAM starts */
	KT_EXPECT(t, !dt_range_is_memory(blob, 0x90000000, 0x1000)); /* the hole between */
	KT_EXPECT(t, !dt_range_is_memory(blob, 0x09000000, 0x1000)); /* QEMU virt's UART */
	KT_EXPECT(t, !dt_range_is_memory(blob, 0xa0000000, 0x1000));
	free(blob);
}

/* syscon-poweroff: the register through its regmap's bus, value and mask, what is malformed. */
static void syscon_poweroff_write(struct ktest *t)
{
	struct dt_error err = { "" };
	size_t n, size;
	void *blob = load(t, "poweroff-syscon", &n), *copy;
	uint32_t value, mask, v = cpu_to_fdt32(0xf0), big = cpu_to_fdt32(0x100);
	uint64_t pa;
	int node;

	KT_ASSERT(t, blob);
	KT_ASSERT_EQ(t, dt_syscon_poweroff(blob, &pa, &value, &mask, &err), 0);
	KT_EXPECT_EQ(t, pa, 0x10004010); /* 0x4000 through the soc's ranges, + offset 0x10 */
	KT_EXPECT_EQ(t, value, 0x5555);
	KT_EXPECT_EQ(t, mask, 0xffffffff);

	size = n + 256;
	copy = malloc(size);
	KT_ASSERT(t, copy && fdt_open_into(blob, copy, (int)size) == 0);
	node = fdt_path_offset(copy, "/poweroff");
	KT_ASSERT(t, node >= 0);
	/* mask alone: the value is the mask */
	KT_ASSERT_EQ(t, fdt_delprop(copy, node, "value"), 0);
	KT_ASSERT_EQ(t, fdt_setprop(copy, node, "mask", &v, 4), 0);
	node = fdt_path_offset(copy, "/poweroff");
	KT_ASSERT_EQ(t, dt_syscon_poweroff(copy, &pa, &value, &mask, &err), 0);
	KT_EXPECT(t, value == 0xf0 && mask == 0xf0);
	/* past the regmap's 0x100 bytes */
	KT_ASSERT_EQ(t, fdt_setprop(copy, node, "offset", &big, 4), 0);
	expect_bad(t, dt_syscon_poweroff(copy, &pa, &value, &mask, &err), &err,
		   "outside its regmap");
	/* a regmap naming nothing */
	node = fdt_path_offset(copy, "/poweroff");
	KT_ASSERT_EQ(t, fdt_setprop(copy, node, "regmap", &big, 4), 0);
	expect_bad(t, dt_syscon_poweroff(copy, &pa, &value, &mask, &err), &err,
		   "regmap names no node");
	/* none available: no such method */
	node = fdt_path_offset(copy, "/poweroff");
	KT_ASSERT_EQ(t, fdt_setprop_string(copy, node, "status", "disabled"), 0);
	KT_EXPECT_EQ(t, dt_syscon_poweroff(copy, &pa, &value, &mask, &err), -ENOENT);
	free(copy);
	free(blob);
}

static void reg_outside_ranges_rejected(struct ktest *t)
{
	/* 1 child cell, 2 parent cells (the root's), 1 size cell */
	const uint32_t ranges[4] = { 0, 0, cpu_to_fdt32(0x10000000), cpu_to_fdt32(0x1000) };
	const uint32_t reg[2] = { cpu_to_fdt32(0x2000), cpu_to_fdt32(0x100) };
	const uint32_t one = cpu_to_fdt32(1);
	struct dt_error err = { "" };
	uint64_t a, s;
	size_t n, size;
	void *blob = load(t, FIXTURE, &n);
	void *edit = blob ? dtb_edit(blob, 512) : NULL;
	int bus, dev;

	free(blob);
	KT_ASSERT(t, edit);
	bus = fdt_add_subnode(edit, 0, "bus");
	fdt_setprop(edit, bus, "#address-cells", &one, 4);
	fdt_setprop(edit, bus, "#size-cells", &one, 4);
	fdt_setprop(edit, bus, "ranges", ranges, sizeof(ranges));
	dev = fdt_add_subnode(edit, bus, "dev@2000");
	fdt_setprop(edit, dev, "reg", reg, sizeof(reg));
	blob = dtb_pack(edit, &size);
	KT_ASSERT(t, blob);
	expect_bad(t, dt_reg(blob, fdt_path_offset(blob, "/bus/dev@2000"), 0, &a, &s, &err), &err,
		   "/bus: address 0x2000 is outside its ranges");
	free(blob);
}

static void node_path_fits_or_abbreviates(struct ktest *t)
{
	char buf[64], tiny[8];
	size_t size;
	void *blob = load(t, FIXTURE, &size);

	KT_ASSERT(t, blob);
	int node = fdt_path_offset(blob, "/reserved-memory/mmode_resv0@80040000");
	KT_EXPECT_STREQ(t, dt_node_path(blob, node, buf, sizeof(buf)),
			"/reserved-memory/mmode_resv0@80040000");
	KT_EXPECT_STREQ(t, dt_node_path(blob, node, tiny, sizeof(tiny)), ".../mmo");
	free(blob);
}

static void error_set_tolerates_null(struct ktest *t)
{
	struct dt_error err;

	dt_error_set(NULL, "nothing %d", 1);
	dt_error_set(&err, "%s %d", "x", 42);
	KT_EXPECT_STREQ(t, err.msg, "x 42");
}

static const struct ktest_case check_cases[] = {
	KTEST_CASE(valid_blob_passes),
	KTEST_CASE(broken_blobs_rejected),
	KTEST_CASE(misaligned_blob_rejected),
	KTEST_CASE(mutated_blobs_never_read_outside),
	{ 0 },
};

static const struct ktest_case helper_cases[] = {
	KTEST_CASE(available_status),
	KTEST_CASE(read_number_is_big_endian),
	KTEST_CASE(cells_inherit_and_default),
	KTEST_CASE(absurd_cells_rejected),
	KTEST_CASE(prop_pair_checks_length_and_overflow),
	KTEST_CASE(reg_translates_through_ranges),
	KTEST_CASE(reg_outside_ranges_rejected),
	KTEST_CASE(range_is_memory_by_the_memory_nodes),
	KTEST_CASE(syscon_poweroff_write),
	KTEST_CASE(node_path_fits_or_abbreviates),
	KTEST_CASE(error_set_tolerates_null),
	{ 0 },
};

static const struct ktest_suite dt_check_suite = { .name = "dt-check", .cases = check_cases };
static const struct ktest_suite dt_helpers_suite = { .name = "dt-helpers", .cases = helper_cases };

const struct ktest_suite *const test_suites[] = { &dt_check_suite, &dt_helpers_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
