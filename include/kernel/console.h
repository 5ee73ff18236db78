/* SPDX-License-Identifier: MIT */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <kernel/types.h>

struct uart {
	const struct uart_driver *drv;
	uintptr_t base;		   /* the registers' virtual address (ioremap) */
	phys_addr_t phys;	   /* ... and physical */
	unsigned int reg_shift;	   /* registers are 1 << reg_shift bytes apart */
	unsigned int reg_io_width; /* 1 or 4 bytes */
};

struct uart_driver {
	const char *name;
	const char *const *compatible; /* NULL-terminated */
	/* Fills u from the DT node; 0 or a negative errno. */
	int (*probe)(struct uart *u, const void *fdt, int node);
	void (*putc)(const struct uart *u, char c);
};

/*
 * Finds /chosen/stdout-path (or linux,stdout-path), resolves aliases, and
 * switches the console to that UART. Returns 0, or a negative errno when the
 * DT names no UART we can drive (the early console, if any, stays).
 */
int console_init_from_dt(const void *fdt);

/*
 * True when /chosen/stdout-path names a device only the firmware drives
 * (spike's HTIF): its console is then the arch's early one (SBI's).
 */
bool console_stdout_is_firmware(const void *fdt);

/* The name and physical base of the console in use, for the boot log and tests. */
const char *console_name(void);
phys_addr_t console_base(void);

#endif
