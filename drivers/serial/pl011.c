// SPDX-License-Identifier: MIT
/* ARM PL011 UART, polled. The firmware (or QEMU) has enabled it. */
#include <kernel/console.h>
#include <kernel/compiler.h>
#include <mm/dt.h>
#include <kernel/kmap.h>
#include <kernel/mmio.h>
#include <kernel/pl011.h>

static int pl011_probe(struct uart *u, const void *fdt, int node)
{
	uint64_t base, size;
	struct dt_error err;

	if (dt_reg(fdt, node, 0, &base, &size, &err) < 0)
		return -1;
	u->phys = base;
	u->base = (uintptr_t)ioremap(base, size ? size : PAGE_SIZE);
	if (!u->base)
		return -1;
	u->reg_io_width = 4;
	return 0;
}

void pl011_putc_at(uintptr_t base, char c)
{
	while (mmio_read32(base + PL011_FR) & PL011_FR_TXFF)
		;
	mmio_write32(base + PL011_DR, (uint8_t)c);
}

static void pl011_putc(const struct uart *u, char c)
{
	pl011_putc_at(u->base, c);
}

static const char *const pl011_compat[] = { "arm,pl011", "arm,sbsa-uart", NULL };

const struct uart_driver pl011_driver = {
	.name = "pl011",
	.compatible = pl011_compat,
	.probe = pl011_probe,
	.putc = pl011_putc,
};
