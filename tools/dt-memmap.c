// SPDX-License-Identifier: MIT
/*
 * dt-memmap: the boot memory map the kernel would build from a DTB.
 *
 *   dt-memmap [--harts[=BOOT_HART_ID]] FILE.dtb
 *
 * One line per range, addresses 0x + 16 hex digits, end inclusive:
 *   memory 0x...-0x...
 *   reserved 0x...-0x... <no-map|reusable|reserved|memreserve|dynamic> <name>
 *   usable 0x...-0x...
 * With --harts also "hart <id> <index>" lines (boot hart: the given ID, else
 * the first available cpu). Exit 0, or 2 with one line on stderr.
 */
#include <errno.h>
#include <kernel/harts.h>
#include <libfdt.h>
#include <mm/memmap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *prog = "dt-memmap";

static __noreturn void die(const char *file, const char *msg)
{
	fprintf(stderr, "%s: %s: %s\n", prog, file, msg);
	exit(2);
}

/* The whole file in a buffer of exactly its size, so a stray read is caught by ASan. */
static void *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	void *buf;

	if (!f || fstat(fileno(f), &st) < 0)
		die(path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		die(path, "not a regular file");
	if (st.st_size == 0)
		die(path, "empty file");
	if (st.st_size > INT32_MAX)
		die(path, "too big for a device tree blob");
	buf = malloc(st.st_size);
	if (!buf)
		die(path, "out of memory");
	if (fread(buf, 1, st.st_size, f) != (size_t)st.st_size)
		die(path, ferror(f) ? strerror(errno) : "short read");
	fclose(f);
	*size = st.st_size;
	return buf;
}

static void print_range(const char *what, uint64_t base, uint64_t size)
{
	printf("%s 0x%016llx-0x%016llx", what, (unsigned long long)base,
	       (unsigned long long)(base + size - 1));
}

static void print_map(const struct memmap *m)
{
	for (unsigned int i = 0; i < m->nr_ram; i++) {
		print_range("memory", m->ram[i].base, m->ram[i].size);
		putchar('\n');
	}
	for (unsigned int i = 0; i < m->nr_resv; i++) {
		const struct resv_region *r = &m->resv[i];
		print_range("reserved", r->base, r->size);
		printf(" %s %s\n", resv_kind_name(r->kind), r->name);
	}
	for (unsigned int i = 0; i < m->nr_usable; i++) {
		print_range("usable", m->usable[i].base, m->usable[i].size);
		putchar('\n');
	}
}

/* The tool has no boot hart of its own: take the first available cpu's ID. */
static int first_hartid(const void *fdt, uint64_t *id)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), node, len;
	int ac = dt_addr_cells(fdt, cpus, 2, NULL);

	if (cpus < 0 || ac < 0)
		return -1;
	fdt_for_each_subnode(node, fdt, cpus) {
		const void *reg = fdt_getprop(fdt, node, "reg", &len);
		if (dt_device_type_is(fdt, node, "cpu") && dt_node_is_available(fdt, node) &&
		    reg && len >= ac * 4) {
			*id = dt_read_number(reg, ac);
			return 0;
		}
	}
	return -1;
}

static void build_harts(const char *file, const void *fdt, const char *boot_arg,
			struct hart_table *t)
{
	struct dt_error err;
	uint64_t boot;

	if (boot_arg) {
		char *end;
		errno = 0;
		boot = strtoull(boot_arg, &end, 0);
		if (*boot_arg == '\0' || *end != '\0' || errno)
			die(file, "--harts=ID: ID is not a number");
	} else if (first_hartid(fdt, &boot) < 0) {
		die(file, "/cpus: no available cpu node with a reg");
	}
	if (harts_from_fdt(t, fdt, boot, &err) < 0)
		die(file, err.msg);
}

static void print_harts(const struct hart_table *t)
{
	for (unsigned int i = 0; i < t->nr; i++)
		printf("hart 0x%llx %u\n", (unsigned long long)t->id[i], i);
	if (t->nr_ignored)
		printf("harts-ignored %u\n", t->nr_ignored);
}

static __noreturn void usage(void)
{
	fprintf(stderr, "usage: %s [--harts[=BOOT_HART_ID]] FILE.dtb\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct memmap m;
	static struct hart_table t;
	const char *file = NULL, *boot_arg = NULL;
	bool harts = false;
	struct dt_error err;
	size_t size;
	void *fdt;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--harts") == 0) {
			harts = true;
		} else if (strncmp(argv[i], "--harts=", 8) == 0) {
			harts = true;
			boot_arg = argv[i] + 8;
		} else if (argv[i][0] == '-' || file) {
			usage();
		} else {
			file = argv[i];
		}
	}
	if (!file)
		usage();

	/* everything is checked before anything is printed */
	fdt = read_file(file, &size);
	if (memmap_from_fdt(&m, fdt, size, NULL, 0, 0, &err) < 0)
		die(file, err.msg);
	if (harts)
		build_harts(file, fdt, boot_arg, &t);
	for (unsigned int i = 0; i < m.nr_warnings && i < MEMMAP_MAX_WARNINGS; i++)
		fprintf(stderr, "%s: %s: warning: %s\n", prog, file, m.warnings[i]);
	print_map(&m);
	if (harts)
		print_harts(&t);
	if (fflush(stdout) == EOF)
		die(file, "cannot write the output");
	free(fdt);
	return 0;
}
