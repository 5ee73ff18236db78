// SPDX-License-Identifier: MIT
/*
 * The hart table from /cpus. A cpu node's reg is its hart ID on RISC-V and
 * its MPIDR affinity on AArch64; either way it is just a number here, and
 * numbers can be sparse, so everything per hart is indexed densely.
 */
#include <libfdt.h>
#include <mm/harts.h>
#include <mm/port.h>
#include <string.h>

/*
 * 1: node is an available cpu and *id is its hart ID; 0: not one to count.
 * A node with several reg entries (threads) is named by the first, as Linux does.
 */
static int cpu_hartid(const void *fdt, int node, int ac, uint64_t *id, struct dt_error *err)
{
	char path[128];
	int len;
	const void *reg;

	if (!dt_device_type_is(fdt, node, "cpu") || !dt_node_is_available(fdt, node))
		return 0;
	reg = fdt_getprop(fdt, node, "reg", &len);
	if (!reg) {
		dt_error_set(err, "%s: no reg (the hart ID)",
			     dt_node_path(fdt, node, path, sizeof(path)));
		return -EINVAL;
	}
	if (len == 0 || len % (ac * 4)) {
		dt_error_set(err, "%s: reg is %d bytes long, want a multiple of %d (#address-cells %d)",
			     dt_node_path(fdt, node, path, sizeof(path)), len, ac * 4, ac);
		return -EINVAL;
	}
	*id = dt_read_number(reg, ac);
	return 1;
}

/* Hart IDs name harts: two cpu nodes with one ID would give two harts one heap. */
static int check_unique(const void *fdt, int cpus, int ac, int node, uint64_t id,
			struct dt_error *err)
{
	char path[128], other_path[128];
	uint64_t other_id;
	int other;

	fdt_for_each_subnode(other, fdt, cpus) {
		if (other == node)
			return 0;
		if (cpu_hartid(fdt, other, ac, &other_id, err) == 1 && other_id == id) {
			dt_error_set(err, "%s: hart ID 0x%llx is also %s's",
				     dt_node_path(fdt, node, path, sizeof(path)),
				     (unsigned long long)id,
				     dt_node_path(fdt, other, other_path, sizeof(other_path)));
			return -EINVAL;
		}
	}
	return 0;
}

static void table_add(struct hart_table *t, uint64_t id)
{
	if (t->nr < MAX_HARTS)
		t->id[t->nr++] = id;
	else
		t->nr_ignored++;
}

int harts_from_fdt(struct hart_table *t, const void *fdt, uint64_t boot_hartid,
		   struct dt_error *err)
{
	int cpus = fdt_path_offset(fdt, "/cpus");
	bool boot_seen = false;
	uint64_t id;
	int ac, node, r;

	memset(t, 0, sizeof(*t));
	if (cpus < 0) {
		dt_error_set(err, "/cpus: no such node");
		return -EINVAL;
	}
	ac = dt_addr_cells(fdt, cpus, 2, err);
	if (ac < 0)
		return ac;

	/* the boot hart takes index 0 before anyone else can fill the table */
	t->id[t->nr++] = boot_hartid;
	fdt_for_each_subnode(node, fdt, cpus) {
		r = cpu_hartid(fdt, node, ac, &id, err);
		if (r == 0)
			continue;
		if (r > 0)
			r = check_unique(fdt, cpus, ac, node, id, err);
		if (r < 0)
			goto fail;
		if (id == boot_hartid)
			boot_seen = true;
		else
			table_add(t, id);
	}
	if (!boot_seen) {
		dt_error_set(err, "/cpus: no available cpu node has the boot hart's ID 0x%llx",
			     (unsigned long long)boot_hartid);
		r = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	memset(t, 0, sizeof(*t));
	return r;
}

int harts_cpu_node(const void *fdt, uint64_t hartid)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), node, ac;
	struct dt_error err;
	uint64_t id;

	if (cpus < 0 || (ac = dt_addr_cells(fdt, cpus, 2, &err)) < 0)
		return -1;
	fdt_for_each_subnode(node, fdt, cpus)
		if (cpu_hartid(fdt, node, ac, &id, &err) == 1 && id == hartid)
			return node;
	return -1;
}

unsigned int harts_for_each_ignored(const void *fdt, const struct hart_table *t,
				    void (*fn)(uint64_t id, void *arg), void *arg)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), node, ac;
	struct dt_error err;
	unsigned int n = 0;
	uint64_t id;

	if (cpus < 0 || (ac = dt_addr_cells(fdt, cpus, 2, &err)) < 0)
		return 0;
	fdt_for_each_subnode(node, fdt, cpus) {
		if (cpu_hartid(fdt, node, ac, &id, &err) == 1 && hart_index(t, id) < 0) {
			fn(id, arg);
			n++;
		}
	}
	return n;
}

int hart_index(const struct hart_table *t, uint64_t hartid)
{
	for (unsigned int i = 0; i < t->nr; i++) {
		if (t->id[i] == hartid)
			return (int)i;
	}
	return -1;
}

void harts_print(const struct hart_table *t)
{
	printk("harts: %u (boot hart ID 0x%llx has index 0)", t->nr, (unsigned long long)t->id[0]);
	if (t->nr_ignored)
		printk(", %u more ignored (MAX_HARTS is %d)", t->nr_ignored, MAX_HARTS);
	printk("\n  index -> hart ID:");
	for (unsigned int i = 0; i < t->nr; i++)
		printk(" %u:0x%llx", i, (unsigned long long)t->id[i]);
	printk("\n");
}
