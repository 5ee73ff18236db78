// SPDX-License-Identifier: MIT
/*
 * The ways off a machine that the DT describes and no firmware is needed
 * for (syscon-poweroff), shared by the architectures' arch_poweroff(), and
 * the end when none works.
 */
#include <kernel/arch.h>
#include <mm/dt.h>
#include <kernel/errno.h>
#include <kernel/kmap.h>
#include <kernel/mmio.h>
#include <kernel/panic.h>
#include <kernel/printk.h>

/* Mapped at boot: a panic may come before the final page tables, or with them broken. */
static uintptr_t syscon_reg;
static uint64_t syscon_pa;
static uint32_t syscon_value, syscon_mask;

void poweroff_init_from_dt(const void *fdt)
{
	struct dt_error err;
	char *page;
	int r = dt_syscon_poweroff(fdt, &syscon_pa, &syscon_value, &syscon_mask, &err);

	if (r == -EINVAL)
		printk("warning: syscon-poweroff not used: %s\n", err.msg);
	if (r < 0)
		return;
	page = ioremap(syscon_pa & ~(uint64_t)(PAGE_SIZE - 1), PAGE_SIZE);
	if (page)
		syscon_reg = (uintptr_t)page + (syscon_pa & (PAGE_SIZE - 1));
}

void poweroff_syscon(void)
{
	uint32_t v = syscon_value;

	if (!syscon_reg)
		return;
	printk("poweroff: syscon-poweroff, %#x at %#llx\n", syscon_value,
	       (unsigned long long)syscon_pa);
	if (syscon_mask != ~0u)
		v = (mmio_read32(syscon_reg) & ~syscon_mask) | (syscon_value & syscon_mask);
	mmio_write32(syscon_reg, v);
}

void halt(bool success)
{
	printk("memcore: halted (exit status %d): nothing here powers this machine off\n",
	       success ? 0 : 1);
	arch_wait_forever();
}
