// SPDX-License-Identifier: MIT
/* The boot memory map as a table on the console. */
#include <mm/memmap.h>
#include <mm/port.h>

/* 1536 -> "1.5 KiB": one decimal, truncated; enough to read a boot log. */
static const char *human_size(uint64_t n, char *buf, size_t len)
{
	static const char prefix[] = "KMGTPE";
	unsigned int u = 0;

	while (u < 6 && n >> (10 * (u + 1)))
		u++;
	if (u == 0) {
		ksnprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	uint64_t whole = n >> (10 * u);
	uint64_t tenth = ((n & ((1ULL << (10 * u)) - 1)) * 10) >> (10 * u);
	if (tenth)
		ksnprintf(buf, len, "%llu.%llu %ciB", (unsigned long long)whole,
			  (unsigned long long)tenth, prefix[u - 1]);
	else
		ksnprintf(buf, len, "%llu %ciB", (unsigned long long)whole, prefix[u - 1]);
	return buf;
}

static void print_row(uint64_t base, uint64_t size, const char *kind, const char *name)
{
	char hs[16];

	printk("  0x%016llx  0x%016llx  %10s  %-*s%s\n", (unsigned long long)base,
	       (unsigned long long)(base + size - 1), human_size(size, hs, sizeof(hs)),
	       *name ? 12 : 0, kind, name);
}

void memmap_print(const struct memmap *m)
{
	char ram[16], usable[16];

	printk("memory map: RAM %s in %u range(s), %u reservation(s), usable %s in %u range(s)\n",
	       human_size(memmap_total_ram(m), ram, sizeof(ram)), m->nr_ram, m->nr_resv,
	       human_size(memmap_total_usable(m), usable, sizeof(usable)), m->nr_usable);
	printk("  %-18s  %-18s  %10s  %-10s  %s\n", "start", "end (incl.)", "size", "kind", "name");
	for (unsigned int i = 0; i < m->nr_ram; i++)
		print_row(m->ram[i].base, m->ram[i].size, "ram", "");
	for (unsigned int i = 0; i < m->nr_resv; i++) {
		const struct resv_region *r = &m->resv[i];
		print_row(r->base, r->size, resv_kind_name(r->kind), r->name);
	}
	for (unsigned int i = 0; i < m->nr_usable; i++)
		print_row(m->usable[i].base, m->usable[i].size, "usable", "");
	for (unsigned int i = 0; i < MIN(m->nr_warnings, MEMMAP_MAX_WARNINGS); i++)
		printk("memory map: warning: %s\n", m->warnings[i]);
	if (m->nr_warnings > MEMMAP_MAX_WARNINGS)
		printk("memory map: warning: %u more warnings\n",
		       m->nr_warnings - MEMMAP_MAX_WARNINGS);
}
