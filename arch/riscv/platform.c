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

/* QEMU virt's, and the common one; used only when the DT does not say. */
#define DEFAULT_TIMEBASE_HZ 10000000

static uintptr_t finisher_base;
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
	sbi_shutdown(success);
	printk("poweroff: no finisher device and SBI shutdown failed; halting\n");
	arch_wait_forever();
}
