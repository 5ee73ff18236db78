// SPDX-License-Identifier: MIT
/* AArch64 platform glue: early console, power-off with a verdict, entry EL. */
#include <asm/layout.h>
#include <kernel/arch.h>
#include <kernel/boot.h>
#include <kernel/compiler.h>
#include <mm/dt.h>
#include <kernel/kmap.h>
#include <kernel/panic.h>
#include <kernel/pl011.h>
#include <kernel/printk.h>
#include <libfdt.h>
#include <mm/phys.h>

#include "platform.h"

unsigned long arm64_entry_el;

#define SEMIHOSTING_SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static volatile bool trying_semihosting;

const char *arch_describe_entry(void)
{
	switch (arm64_entry_el) {
	case 1: return "EL1";
	case 2: return "EL1 (entered at EL2)";
	default: return "EL1 (entered at an unexpected EL)";
	}
}

#ifdef CONFIG_ARM64_EARLYCON_PL011
static bool earlycon_is_ram; /* said once the DT's console is up (arch_init_from_dt()) */

/*
 * Whether the early console's address is RAM by the DT the loader passed
 * (QEMU virt's UART address is RAM on other boards: mapping it as MMIO
 * would take the kernel's own memory). A DT that cannot be read yet is
 * not asked: start_kernel() reports it.
 */
static bool earlycon_over_ram(void)
{
	phys_addr_t pa = boot_info.fdt_pa;
	struct dt_error err;

	if (!pa || pa >= BOOT_DIRECT_MAP_SIZE || dt_check_blob(phys_to_virt(pa), 0, &err) < 0)
		return false;
	return dt_range_is_memory(phys_to_virt(pa), CONFIG_ARM64_EARLYCON_PL011, PAGE_SIZE);
}
#endif

bool arch_early_console_write(const char *s, size_t len)
{
#ifdef CONFIG_ARM64_EARLYCON_PL011
	static uintptr_t uart;
	static bool tried;

	if (!uart && !tried) {
		tried = true; /* ioremap() may print, which comes back here */
		earlycon_is_ram = CONFIG_ARM64_EARLYCON_PL011 && earlycon_over_ram();
		if (CONFIG_ARM64_EARLYCON_PL011 && !earlycon_is_ram)
			uart = (uintptr_t)ioremap(CONFIG_ARM64_EARLYCON_PL011, PAGE_SIZE);
	}
	if (!uart)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			pl011_putc_at(uart, '\r');
		pl011_putc_at(uart, s[i]);
	}
	return true;
#else
	(void)s;
	(void)len;
	return false;
#endif
}

/* QEMU virt's; used only when neither the firmware nor the DT says. */
#define DEFAULT_TIMER_HZ 62500000

static uint64_t timer_hz;

/*
 * Firmware must program CNTFRQ_EL0; where it did not, the timer node's
 * clock-frequency (which exists for exactly that case) stands in.
 */
static void read_timer_hz(const void *fdt)
{
	int node = fdt_node_offset_by_compatible(fdt, -1, "arm,armv8-timer"), len = 0;
	const void *p = node >= 0 ? fdt_getprop(fdt, node, "clock-frequency", &len) : NULL;

	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(timer_hz));
	timer_hz &= 0xffffffffUL;
	if (!timer_hz && p && len == 4)
		timer_hz = dt_read_number(p, 1);
	if (!timer_hz) {
		timer_hz = DEFAULT_TIMER_HZ;
		printk("warning: CNTFRQ_EL0 is 0 and the DT gives no timer clock-frequency; "
		       "timeouts assume %u Hz\n",
		       DEFAULT_TIMER_HZ);
	}
}

void arch_init_from_dt(const void *fdt)
{
#ifdef CONFIG_ARM64_EARLYCON_PL011
	if (earlycon_is_ram)
		printk("console: the early console's address %#llx is RAM here: not used, "
		       "its lines kept for the DT's console\n",
		       (unsigned long long)CONFIG_ARM64_EARLYCON_PL011);
#endif
	psci_init_from_dt(fdt);
	read_timer_hz(fdt);
}

uint64_t arch_read_time(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
	return v;
}

uint64_t arch_time_hz(void)
{
	return timer_hz ? timer_hz : DEFAULT_TIMER_HZ;
}

#define PMCR_E (1UL << 0)	    /* enable the counters */
#define PMCR_C (1UL << 2)	    /* reset the cycle counter */
#define PMCR_P (1UL << 1)	    /* reset the event counters */
#define PMU_INST_RETIRED 0x08
#define PMCNTEN_CYCLES (1UL << 31)
#define PMCNTEN_EVENT0 (1UL << 0)

/* Event counter 0 counts retired instructions; the cycle counter, cycles (at EL1). */
void arch_counters_init(void)
{
	__asm__ volatile("msr pmevtyper0_el0, %0" ::"r"((unsigned long)PMU_INST_RETIRED));
	__asm__ volatile("msr pmccfiltr_el0, xzr");
	__asm__ volatile("msr pmcntenset_el0, %0" ::"r"(PMCNTEN_CYCLES | PMCNTEN_EVENT0));
	__asm__ volatile("msr pmcr_el0, %0" ::"r"(PMCR_E | PMCR_C | PMCR_P));
	__asm__ volatile("isb");
}

uint64_t arch_read_instret(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, pmevcntr0_el0" : "=r"(v));
	return v;
}

uint64_t arch_read_cycles(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v));
	return v;
}

void arch_wait_forever(void)
{
	for (;;)
		__asm__ volatile("wfi");
}

/*
 * Semihosting SYS_EXIT ends QEMU (run with -semihosting) with the test
 * verdict as its status, which PSCI SYSTEM_OFF cannot carry. Without
 * -semihosting the hlt is undefined: the trap handler steps over it.
 */
static void semihosting_exit(unsigned long code)
{
	unsigned long block[2] = { ADP_STOPPED_APPLICATION_EXIT, code };
	register unsigned long x0 __asm__("x0") = SEMIHOSTING_SYS_EXIT;
	register unsigned long x1 __asm__("x1") = (unsigned long)block;

	trying_semihosting = true;
	__asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
	trying_semihosting = false;
}

bool arm64_semihosting_trap_check(void)
{
	if (!trying_semihosting)
		return false;
	trying_semihosting = false;
	printk("poweroff: semihosting is off (run QEMU with -semihosting for an exit status)\n");
	return true;
}

/* Every way this machine may offer, in turn; what returns did not work. */
void arch_poweroff(bool success)
{
#ifdef CONFIG_ARM64_SEMIHOSTING_EXIT
	semihosting_exit(success ? 0 : 1);
#endif
	if (psci_conduit() != PSCI_CONDUIT_NONE) {
		psci_system_off();
		printk("poweroff: PSCI SYSTEM_OFF returned\n");
	}
	poweroff_syscon();
	halt(success);
}
