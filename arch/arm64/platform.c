// SPDX-License-Identifier: MIT
/* AArch64 platform glue: early console, power-off with a verdict, entry EL. */
#include <kernel/arch.h>
#include <kernel/pl011.h>
#include <kernel/printk.h>
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

bool arch_early_console_write(const char *s, size_t len)
{
#ifdef CONFIG_ARM64_EARLYCON_PL011
	if (CONFIG_ARM64_EARLYCON_PL011 == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			pl011_putc_at(CONFIG_ARM64_EARLYCON_PL011, '\r');
		pl011_putc_at(CONFIG_ARM64_EARLYCON_PL011, s[i]);
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
	psci_init_from_dt(fdt);
}

void arch_wait_forever(void)
{
	for (;;)
		__asm__ volatile("wfi");
}

/*
 * PSCI SYSTEM_OFF ends QEMU with status 0 whatever happened, so a failure is
 * reported through semihosting SYS_EXIT (QEMU run with -semihosting).
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

void arm64_semihosting_trap_check(void)
{
	if (!trying_semihosting)
		return;
	printk("poweroff: semihosting is off (run QEMU with -semihosting for an exit status)\n");
	psci_system_off();
	arch_wait_forever();
}

void arch_poweroff(bool success)
{
#ifdef CONFIG_ARM64_SEMIHOSTING_EXIT
	if (!success)
		semihosting_exit(1);
#endif
	psci_system_off();
	printk("poweroff: PSCI SYSTEM_OFF returned; halting\n");
	arch_wait_forever();
}
