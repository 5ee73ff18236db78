// SPDX-License-Identifier: MIT
/* The hart table from the tests/dts/harts-*.dts fixtures. */
#include <kernel/errno.h>
#include <mm/harts.h>
#include <kernel/ktest.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "dtb_load.h"

static struct hart_table h;

static int build(struct ktest *t, const char *name, uint64_t boot, struct dt_error *err)
{
	size_t size;
	void *blob = dtb_load(name, &size);
	int rc;

	if (!blob) {
		ktest_log(t, "cannot load %s.dtb (DTB_DIR?)", name);
		return -ENOENT;
	}
	memset(err, 0, sizeof(*err));
	rc = dt_check_blob(blob, size, err);
	if (rc == 0)
		rc = harts_from_fdt(&h, blob, boot, err);
	free(blob);
	return rc;
}

static void expect_ids(struct ktest *t, const uint64_t *ids, unsigned int n)
{
	KT_ASSERT_EQ(t, h.nr, n);
	for (unsigned int i = 0; i < n; i++) {
		KT_EXPECT_EQ(t, h.id[i], ids[i]);
		KT_EXPECT_EQ(t, hart_index(&h, ids[i]), i);
	}
}

static void expect_error(struct ktest *t, int rc, const struct dt_error *err, const char *want)
{
	KT_EXPECT_EQ(t, rc, -EINVAL);
	if (!KT_EXPECT(t, strstr(err->msg, want) != NULL))
		ktest_log(t, "message \"%s\" lacks \"%s\"", err->msg, want);
	KT_EXPECT_EQ(t, h.nr, 0); /* nothing half-built is left behind */
}

static void sparse_ids_dense_indices(struct ktest *t)
{
	static const uint64_t want[] = { 1, 3, 8, 0x2a };
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "harts-riscv", 1, &err), 0);
	expect_ids(t, want, ARRAY_SIZE(want));
	KT_EXPECT_EQ(t, h.nr_ignored, 0);
	/* disabled and failed harts, cpu-map and other children are not harts */
	KT_EXPECT_EQ(t, hart_index(&h, 0), -1);
	KT_EXPECT_EQ(t, hart_index(&h, 5), -1);
	KT_EXPECT_EQ(t, hart_index(&h, HART_ID_INVALID), -1);
}

static void boot_hart_not_first_gets_index_0(struct ktest *t)
{
	static const uint64_t want[] = { 8, 1, 3, 0x2a };
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "harts-riscv", 8, &err), 0);
	expect_ids(t, want, ARRAY_SIZE(want));
}

static void arm64_two_cell_mpidr(struct ktest *t)
{
	static const uint64_t want[] = { 0x100, 0x0, 0x1, 0x100000000 };
	struct dt_error err;

	KT_ASSERT_EQ(t, build(t, "harts-arm64", 0x100, &err), 0);
	expect_ids(t, want, ARRAY_SIZE(want));
}

/* A hart's own node: what its enable-method is read from (arm64's spin-table, PSCI). */
static void cpu_node_by_hart_id(struct ktest *t)
{
	size_t size;
	void *blob = dtb_load("harts-arm64", &size);

	KT_ASSERT(t, blob != NULL);
	KT_EXPECT_STREQ(t, fdt_get_name(blob, harts_cpu_node(blob, 0x100), NULL), "cpu@100");
	KT_EXPECT_STREQ(t, fdt_get_name(blob, harts_cpu_node(blob, 0x100000000), NULL),
			"cpu@10000000000");
	KT_EXPECT_STREQ(t, fdt_get_name(blob, harts_cpu_node(blob, 0), NULL), "cpu@0");
	KT_EXPECT_EQ(t, harts_cpu_node(blob, 2), -1);
	free(blob);
	blob = dtb_load("harts-riscv", &size);
	KT_ASSERT(t, blob != NULL);
	KT_EXPECT_EQ(t, harts_cpu_node(blob, 0), -1); /* listed, but disabled */
	KT_EXPECT(t, harts_cpu_node(blob, 0x2a) >= 0);
	free(blob);
}

static void more_than_max_harts_counted(struct ktest *t)
{
	struct dt_error err;

	/* the boot hart is the last in DT order, far past MAX_HARTS */
	KT_ASSERT_EQ(t, build(t, "harts-many", 11, &err), 0);
	KT_ASSERT_EQ(t, h.nr, MAX_HARTS);
	KT_EXPECT_EQ(t, h.nr_ignored, 12 - MAX_HARTS);
	KT_EXPECT_EQ(t, h.id[0], 11);
	for (unsigned int i = 1; i < MAX_HARTS; i++)
		KT_EXPECT_EQ(t, h.id[i], i - 1);
	KT_EXPECT_EQ(t, hart_index(&h, MAX_HARTS), -1); /* an ignored one */
}

static void missing_boot_hart_is_an_error(struct ktest *t)
{
	struct dt_error err;

	/* hart 0 exists but is disabled */
	expect_error(t, build(t, "harts-riscv", 0, &err), &err,
		     "/cpus: no available cpu node has the boot hart's ID 0x0");
	expect_error(t, build(t, "harts-arm64", 0x101, &err), &err, "boot hart's ID 0x101");
}

static void malformed_cpus_are_errors(struct ktest *t)
{
	struct dt_error err;

	expect_error(t, build(t, "harts-dup", 0, &err), &err,
		     "/cpus/cpu@2,1: hart ID 0x2 is also /cpus/cpu@2's");
	expect_error(t, build(t, "harts-noreg", 0, &err), &err,
		     "/cpus/cpu@1: no reg");
	expect_error(t, build(t, "memmap-banks", 0, &err), &err, "/cpus: no such node");
}

static void absurd_cpus_cells_rejected(struct ktest *t)
{
	struct dt_error err = { "" };
	size_t size;
	void *blob = dtb_load("harts-riscv", &size);
	void *ed = blob ? dtb_edit(blob, 1024) : NULL;

	free(blob);
	KT_ASSERT(t, ed);
	KT_ASSERT_EQ(t, fdt_setprop_u32(ed, fdt_path_offset(ed, "/cpus"), "#address-cells", 3), 0);
	blob = dtb_pack(ed, &size);
	KT_ASSERT(t, blob);
	expect_error(t, harts_from_fdt(&h, blob, 1, &err), &err,
		     "/cpus: #address-cells = 3 is not supported");
	free(blob);

	/* a reg of 6 bytes fits no number of cells */
	blob = dtb_load("harts-riscv", &size);
	ed = blob ? dtb_edit(blob, 1024) : NULL;
	free(blob);
	KT_ASSERT(t, ed);
	int cpu = fdt_path_offset(ed, "/cpus/cpu@3");
	KT_ASSERT_EQ(t, fdt_setprop(ed, cpu, "reg", "\0\0\0\3\0", 6), 0);
	blob = dtb_pack(ed, &size);
	KT_ASSERT(t, blob);
	expect_error(t, harts_from_fdt(&h, blob, 1, &err), &err,
		     "/cpus/cpu@3: reg is 6 bytes long, want a multiple of 4");
	free(blob);
}

static const struct ktest_case cases[] = {
	KTEST_CASE(sparse_ids_dense_indices),
	KTEST_CASE(boot_hart_not_first_gets_index_0),
	KTEST_CASE(arm64_two_cell_mpidr),
	KTEST_CASE(cpu_node_by_hart_id),
	KTEST_CASE(more_than_max_harts_counted),
	KTEST_CASE(missing_boot_hart_is_an_error),
	KTEST_CASE(malformed_cpus_are_errors),
	KTEST_CASE(absurd_cpus_cells_rejected),
	{ 0 },
};

static const struct ktest_suite harts_host_suite = { .name = "harts", .cases = cases };

const struct ktest_suite *const test_suites[] = { &harts_host_suite };
const unsigned int test_nr_suites = ARRAY_SIZE(test_suites);
