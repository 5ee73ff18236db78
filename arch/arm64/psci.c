// SPDX-License-Identifier: MIT
/* PSCI calls, through the conduit the device tree's /psci node names. */
#include <mm/dt.h>
#include <libfdt.h>
#include <string.h>
#include "platform.h"

#define PSCI_0_2_FN_SYSTEM_OFF 0x84000008UL
#define PSCI_0_2_FN64_CPU_ON 0xc4000003UL

static enum psci_conduit conduit = PSCI_CONDUIT_NONE;

static unsigned long psci_call(unsigned long fn, unsigned long a1, unsigned long a2,
			       unsigned long a3)
{
	register unsigned long x0 __asm__("x0") = fn;
	register unsigned long x1 __asm__("x1") = a1;
	register unsigned long x2 __asm__("x2") = a2;
	register unsigned long x3 __asm__("x3") = a3;

	if (psci_conduit() == PSCI_CONDUIT_SMC)
		__asm__ volatile("smc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
	else
		__asm__ volatile("hvc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}

void psci_init_from_dt(const void *fdt)
{
	int node = fdt_path_offset(fdt, "/psci");
	const char *method;
	int len;

	if (node < 0 || !dt_node_is_available(fdt, node))
		return;
	method = fdt_getprop(fdt, node, "method", &len);
	if (method && len >= 4 && strncmp(method, "hvc", 4) == 0)
		conduit = PSCI_CONDUIT_HVC;
	else if (method && len >= 4 && strncmp(method, "smc", 4) == 0)
		conduit = PSCI_CONDUIT_SMC;
}

/*
 * No /psci, no PSCI: an SMC or HVC that nothing answers is undefined or
 * hangs (a Raspberry Pi has no EL3 firmware), so we never guess.
 */
enum psci_conduit psci_conduit(void)
{
	return conduit;
}

void psci_system_off(void)
{
	if (conduit != PSCI_CONDUIT_NONE)
		psci_call(PSCI_0_2_FN_SYSTEM_OFF, 0, 0, 0);
}

long psci_cpu_on(uint64_t mpidr, phys_addr_t entry, uint64_t context)
{
	if (conduit == PSCI_CONDUIT_NONE)
		return -1; /* NOT_SUPPORTED */
	return (long)psci_call(PSCI_0_2_FN64_CPU_ON, mpidr, entry, context);
}
