// SPDX-License-Identifier: MIT
/*
 * The SiFive UART (FU540, FU740; QEMU's sifive_u), polled. The firmware has
 * set the divisor and enabled the transmitter (txctrl.txen).
 */
#include <kernel/console.h>
#include <mm/dt.h>
#include <kernel/kmap.h>
#include <kernel/mmio.h>
#include <libfdt.h>

#define SIFIVE_TXDATA 0x00
#define TXDATA_FULL (1u << 31) /* reads 1 while the FIFO cannot take a byte */

static int sifive_probe(struct uart *u, const void *fdt, int node)
{
	uint64_t base, size;
	struct dt_error err;

	if (dt_reg(fdt, node, 0, &base, &size, &err) < 0)
		return -1;
	u->phys = base;
	u->base = (uintptr_t)ioremap(base, size ? size : PAGE_SIZE);
	return u->base ? 0 : -1;
}

static void sifive_putc(const struct uart *u, char c)
{
	while (mmio_read32(u->base + SIFIVE_TXDATA) & TXDATA_FULL)
		;
	mmio_write32(u->base + SIFIVE_TXDATA, (uint8_t)c);
}

static const char *const sifive_compat[] = { "sifive,uart0", "sifive,fu540-c000-uart",
					     "sifive,fu740-c000-uart", NULL };

const struct uart_driver sifive_uart_driver = {
	.name = "sifive-uart",
	.compatible = sifive_compat,
	.probe = sifive_probe,
	.putc = sifive_putc,
};
