// SPDX-License-Identifier: MIT
/*
 * dt-memmap: the boot memory map the kernel would build from a DTB.
 *
 *   dt-memmap [--harts[=BOOT_HART_ID]] FILE.dtb
 *   dt-memmap --help
 *
 * Its usage text below says what it prints. Names from the DTB are escaped
 * (dt_escape()): no byte of a blob can forge a line or a field.
 */
#include <errno.h>
#include <mm/harts.h>
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
		printf("hart 0x%llx index %u\n", (unsigned long long)t->id[i], i);
	if (t->nr_ignored)
		printf("harts-ignored %u (MAX_HARTS %d)\n", t->nr_ignored, MAX_HARTS);
}

static const char usage_text[] =
	"usage: %s [--harts[=BOOT_HART_ID]] FILE.dtb\n"
	"       %s --help\n"
	"\n"
	"The boot memory map the kernel builds from a device tree blob, one line a\n"
	"range, addresses as 0x and 16 hex digits, the end inclusive:\n"
	"  memory   START-END               RAM (memory nodes, merged)\n"
	"  reserved START-END KIND NAME     KIND: no-map, reusable, reserved,\n"
	"                                   memreserve, dynamic (placed here)\n"
	"  usable   START-END               RAM less every reservation, whole pages\n"
	"With --harts, the hart table too (boot hart: BOOT_HART_ID, else the first\n"
	"available cpu, which gets index 0):\n"
	"  hart ID index INDEX              one an available cpu node\n"
	"  harts-ignored N (MAX_HARTS M)    cpus beyond the table\n"
	"Names from the blob are escaped (\\xNN for any byte but printable ASCII).\n"
	"Warnings go to stderr. Exit 0; 2 with one line on stderr for a blob the\n"
	"kernel would refuse.\n";

static __noreturn void usage(FILE *f, int status)
{
	fprintf(f, usage_text, prog, prog);
	exit(status);
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
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout, 0);
		} else if (strcmp(argv[i], "--harts") == 0) {
			harts = true;
		} else if (strncmp(argv[i], "--harts=", 8) == 0) {
			harts = true;
			boot_arg = argv[i] + 8;
		} else if (argv[i][0] == '-' || file) {
			usage(stderr, 2);
		} else {
			file = argv[i];
		}
	}
	if (!file)
		usage(stderr, 2);

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
