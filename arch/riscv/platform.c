// SPDX-License-Identifier: MIT
/* RISC-V platform glue: early console, power-off, what the entry mode was. */
#include <asm/sbi.h>
#include <kernel/arch.h>
#include <kernel/compiler.h>
#include <kernel/kmap.h>
#include <mm/dt.h>
#include <kernel/mmio.h>
#include <kernel/panic.h>
#include <kernel/printk.h>
#include <libfdt.h>

/* QEMU virt's "sifive,test0" finisher: a write ends QEMU with a status. */
#define FINISHER_PASS 0x5555
#define FINISHER_FAIL 0x3333

/* QEMU virt's, and the common one; used only when the DT does not say. */
#define DEFAULT_TIMEBASE_HZ 10000000

static uintptr_t finisher_base;
static uintptr_t htif_base; /* spike's host interface, at the DT's reg */

/* QEMU's spike puts fromhost first in the htif window its DT names, tohost next. */
#define HTIF_TOHOST 8
static bool firmware_can_power_off;
static uint64_t timebase_hz = DEFAULT_TIMEBASE_HZ;
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

/* The time CSR's rate: /cpus/timebase-frequency, one cell or two. */
static void read_timebase(const void *fdt)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), len = 0;
	const void *p = cpus >= 0 ? fdt_getprop(fdt, cpus, "timebase-frequency", &len) : NULL;
	uint64_t hz = (p && (len == 4 || len == 8)) ? dt_read_number(p, len / 4) : 0;

	if (hz)
		timebase_hz = hz;
	else
		printk("warning: /cpus has no usable timebase-frequency; timeouts assume %u Hz\n",
		       DEFAULT_TIMEBASE_HZ);
}

/* The first available node compatible with compat, mapped; 0 if none (or no reg). */
static uintptr_t map_compatible(const void *fdt, const char *compat)
{
	int node = fdt_node_offset_by_compatible(fdt, -1, compat);
	uint64_t base, size;
	struct dt_error err;

	while (node >= 0 && !dt_node_is_available(fdt, node))
		node = fdt_node_offset_by_compatible(fdt, node, compat);
	if (node < 0 || dt_reg(fdt, node, 0, &base, &size, &err) < 0)
		return 0;
	return (uintptr_t)ioremap(base, size ? size : PAGE_SIZE);
}

/*
 * A firmware powers off through a device, and OpenSBI, asked to when it
 * has none (QEMU's sifive_u), stops the hart for good: SBI shutdown is
 * asked only where the DT names a device some firmware powers off with.
 */
static const char *const firmware_poweroff_compat[] = {
	"sifive,test0", "sifive,test1", "syscon-poweroff", "gpio-poweroff", "ucb,htif0",
	"dlg,da9063", "sifive,fu740-c000-pmic",
};

void arch_init_from_dt(const void *fdt)
{
	finisher_base = map_compatible(fdt, "sifive,test0");
	htif_base = map_compatible(fdt, "ucb,htif0");
	for (size_t i = 0; i < ARRAY_SIZE(firmware_poweroff_compat); i++)
		if (fdt_node_offset_by_compatible(fdt, -1, firmware_poweroff_compat[i]) >= 0)
			firmware_can_power_off = true;
#ifdef CONFIG_RISCV_SBI_CONSOLE
	sbi_console_ok = sbi_probe(SBI_EXT_LEGACY_PUTCHAR);
#endif
	read_timebase(fdt);
}

uint64_t arch_read_time(void)
{
	uint64_t v;

	__asm__ volatile("rdtime %0" : "=r"(v));
	return v;
}

uint64_t arch_time_hz(void)
{
	return timebase_hz;
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
	if (htif_base) { /* tohost: device 0, command 0, payload exit code << 1 | 1 */
		mmio_write32(htif_base + HTIF_TOHOST, success ? 1 : 3);
		mmio_write32(htif_base + HTIF_TOHOST + 4, 0);
	}
	poweroff_syscon();
	if (firmware_can_power_off) {
		sbi_shutdown(success);
		printk("poweroff: SBI shutdown returned\n");
	} else {
		printk("poweroff: the DT names no power-off device, so no SBI shutdown\n");
	}
	halt(success);
}
