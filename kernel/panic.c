// SPDX-License-Identifier: MIT
#include <kernel/arch.h>
#include <kernel/panic.h>
#include <kernel/printk.h>

void panic(const char *fmt, ...)
{
	static int nested;
	va_list ap;

	/* A panic while panicking (say, in the console) must still power off. */
	if (nested++)
		arch_poweroff(false);
	printk("\nPANIC: ");
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\nPANIC: powering off\n");
	arch_poweroff(false);
}
