// SPDX-License-Identifier: MIT
/*
 * Starting AArch64 harts, by the enable-method of each one's cpu node:
 * "psci" (CPU_ON, through the conduit /psci names) or "spin-table" (the
 * firmware parks the hart reading cpu-release-addr; we write our entry
 * there and send an event), and waking them (events).
 */
#include "platform.h"
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/errno.h>
#include <kernel/kmap.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <libfdt.h>
#include <mm/harts.h>
#include <mm/mmu.h>
#include <mm/phys.h>
#include <string.h>

/*
 * What a spin-table hart runs with: it arrives at spin_table_entry (head.S)
 * with nothing of ours in a register, and reads these with its MMU and
 * caches off. One hart is released at a time (ARCH_START_ALONE: smp_boot()
 * waits for each); one that arrives late finds another's ID there and
 * waits (head.S).
 */
uint64_t spin_table_args[2] __aligned(64); /* entry, opaque */
extern char spin_table_entry[];

/*
 * test.spin_late: the second hart released reads a copy of its hart_local
 * that names no core (as one that arrives after the boot hart gave up on
 * it reads the next hart's): it must wait there for good, never run as
 * that hart. The third release says which it did.
 */
static struct hart_local spin_decoy __aligned(64);

static phys_addr_t spin_table_test_late(phys_addr_t opaque)
{
	static unsigned int released;
	static int online; /* the decoy's, as copied */
	const struct hart_local *h =
	    (const void *)((uintptr_t)hart_locals + (opaque - kimage_to_phys(hart_locals)));

	if (!cmdline_has(cmdline(), "test.spin_late"))
		return opaque;
	if (++released == 3)
		printk("smp: test.spin_late: the hart released second %s\n",
		       __atomic_load_n(&spin_decoy.online, __ATOMIC_ACQUIRE) == online
			   ? "waited, as it should"
			   : "came up as the hart it read");
	if (released != 2)
		return opaque;
	spin_decoy = *h;
	spin_decoy.hartid = ~0ULL;
	spin_decoy.boot_self = (uintptr_t)&spin_decoy; /* a hart that takes it marks it */
	online = spin_decoy.online;
	arch_clean_for_mmu_off(&spin_decoy, sizeof(spin_decoy));
	return kimage_to_phys(&spin_decoy);
}

/* The 64-bit word at pa, through the direct map where it is RAM, else ioremap(). */
static uint64_t *release_word(phys_addr_t pa)
{
	uintptr_t va = (uintptr_t)phys_to_virt(pa);
	char *page;

	if (pa < DIRECT_MAP_SIZE && mmu_translate(&kernel_space, va, NULL, NULL, NULL) == 0)
		return (uint64_t *)va;
	page = ioremap(pa & ~(phys_addr_t)(PAGE_SIZE - 1), PAGE_SIZE);
	return page ? (uint64_t *)(page + (pa & (PAGE_SIZE - 1))) : NULL;
}

static int spin_table_release(uint64_t hartid, int node, phys_addr_t entry, phys_addr_t opaque)
{
	const void *fdt = boot_info.fdt;
	int len;
	const void *p = fdt_getprop(fdt, node, "cpu-release-addr", &len);
	uint64_t pa = p && len == 8 ? dt_read_number(p, 2) : 0;
	uint64_t *word;

	if (!p || len != 8 || pa % 8) {
		printk("smp: hart %#llx: spin-table without a usable cpu-release-addr\n",
		       (unsigned long long)hartid);
		return -ENODEV;
	}
	word = release_word(pa);
	if (!word) {
		printk("smp: hart %#llx: cannot map its cpu-release-addr %#llx\n",
		       (unsigned long long)hartid, (unsigned long long)pa);
		return -ENODEV;
	}
	spin_table_args[0] = entry;
	spin_table_args[1] = spin_table_test_late(opaque);
	arch_clean_for_mmu_off(spin_table_args, sizeof(spin_table_args));
	__atomic_store_n(word, kimage_to_phys(spin_table_entry), __ATOMIC_RELEASE);
	arch_clean_for_mmu_off(word, sizeof(*word)); /* ends with dsb sy */
	__asm__ volatile("sev" ::: "memory");
	return ARCH_START_ALONE;
}

/*
 * 0, ARCH_START_ALONE (spin-table), or -ENODEV (said why) for a hart
 * nothing here can start: no method, or one we lack the means for.
 * Another negative error: the firmware refused.
 */
int arch_start_hart(uint64_t hartid, phys_addr_t entry, phys_addr_t opaque)
{
	const void *fdt = boot_info.fdt;
	int node = harts_cpu_node(fdt, hartid), len = 0;
	const char *method = node >= 0 ? fdt_getprop(fdt, node, "enable-method", &len) : NULL;

	if (method && len >= 11 && !strcmp(method, "spin-table"))
		return spin_table_release(hartid, node, entry, opaque);
	if ((!method || (len >= 5 && !strcmp(method, "psci"))) &&
	    psci_conduit() != PSCI_CONDUIT_NONE)
		return psci_cpu_on(hartid, entry, opaque) ? -EIO : 0;
	printk("smp: hart %#llx: ", (unsigned long long)hartid);
	if (!method) {
		printk("no enable-method, and no /psci\n");
	} else if (len >= 5 && !strcmp(method, "psci")) {
		printk("enable-method \"psci\", but the DT has no /psci node\n");
	} else {
		char s[64];

		dt_escape(s, sizeof(s), method, (size_t)len);
		printk("enable-method \"%s\" is none we know (psci, spin-table)\n", s);
	}
	return -ENODEV;
}

/* Off under PSCI, or in the firmware's wfe loop of a spin table: best left there. */
int arch_park_hart(uint64_t hartid)
{
	(void)hartid;
	return -ENODEV;
}

void arch_hart_up(void)
{
	gic_hart_up();
}

/* An SGI where the GIC lets us, and an event for a core that waits with wfe. */
void arch_kick_hart(uint64_t hartid)
{
	gic_kick(hartid);
	__asm__ volatile("dsb ish\n\tsev" ::: "memory");
}

/* A started core that has not come up: an event, in case it waits for one. */
const char *arch_hart_stuck(uint64_t hartid, phys_addr_t opaque)
{
	(void)hartid;
	(void)opaque;
	__asm__ volatile("dsb ish\n\tsev" ::: "memory");
	return NULL;
}

void arch_hart_idle(void)
{
	if (!gic_idle())
		__asm__ volatile("wfe" ::: "memory");
}

/* The started hart reads with its MMU (and caches) off: push the bytes out to memory. */
void arch_clean_for_mmu_off(const void *p, size_t size)
{
	unsigned long ctr;
	uintptr_t line, a;

	__asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
	line = 4UL << ((ctr >> 16) & 0xf); /* DminLine: log2 of words */
	for (a = (uintptr_t)p & ~(line - 1); a < (uintptr_t)p + size; a += line)
		__asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
	__asm__ volatile("dsb sy" ::: "memory");
}
