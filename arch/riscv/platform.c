// SPDX-License-Identifier: MIT
/* RISC-V platform glue: early console, power-off, what the entry mode was. */
#include <asm/sbi.h>
#include <kernel/arch.h>
#include <kernel/compiler.h>
#include <kernel/kmap.h>
#include <kernel/dt.h>
#include <kernel/mmio.h>
#include <kernel/printk.h>
#include <libfdt.h>

/* QEMU virt's "sifive,test0" finisher: a write ends QEMU with a status. */
#define FINISHER_PASS 0x5555
#define FINISHER_FAIL 0x3333

static uintptr_t finisher_base;
static bool sbi_console_ok = true;

const char *arch_describe_entry(void)
{
	return "S-mode";
}

bool arch_early_console_write(const char *s, size_t len)
{
#ifdef CONFIG_RISCV_SBI_CONSOLE
	if (!sbi_console_ok)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			sbi_putchar('\r');
		sbi_putchar(s[i]);
	}
	return true;
#else
	(void)s;
	(void)len;
	return false;
#endif
}

void arch_init_from_dt(const void *fdt)
{
	int node = fdt_node_offset_by_compatible(fdt, -1, "sifive,test0");
	uint64_t base, size;
	struct dt_error err;

	if (node >= 0 && dt_node_is_available(fdt, node) &&
	    dt_reg(fdt, node, 0, &base, &size, &err) == 0)
		finisher_base = (uintptr_t)ioremap(base, size ? size : PAGE_SIZE);
#ifdef CONFIG_RISCV_SBI_CONSOLE
	sbi_console_ok = sbi_probe(SBI_EXT_LEGACY_PUTCHAR);
#endif
}

/* OpenSBI already lets S-mode read cycle and instret (mcounteren). */
void arch_counters_init(void)
{
}

uint64_t arch_read_instret(void)
{
	uint64_t v;

	__asm__ volatile("rdinstret %0" : "=r"(v));
	return v;
}

uint64_t arch_read_cycles(void)
{
	uint64_t v;

	__asm__ volatile("rdcycle %0" : "=r"(v));
	return v;
}

void arch_wait_forever(void)
{
	for (;;)
		__asm__ volatile("wfi");
}

void arch_poweroff(bool success)
{
	if (finisher_base)
		mmio_write32(finisher_base, success ? FINISHER_PASS : (1u << 16) | FINISHER_FAIL);
	sbi_shutdown(success);
	printk("poweroff: no finisher device and SBI shutdown failed; halting\n");
	arch_wait_forever();
}
