// SPDX-License-Identifier: MIT
/*
 * NS16550A-compatible UART, polled. The firmware has set the baud rate.
 * Also the Raspberry Pi's mini UART (BCM2835 AUX), a 16550 subset whose
 * registers are 32 bits wide, 4 bytes apart, as Linux's 8250_bcm2835aux
 * drives it: the Pi 3's stdout-path names it.
 */
#include <kernel/console.h>
#include <kernel/compiler.h>
#include <mm/dt.h>
#include <kernel/kmap.h>
#include <kernel/mmio.h>
#include <libfdt.h>

#define UART_THR 0 /* transmit holding register */
#define UART_LSR 5 /* line status register */
#define LSR_THRE 0x20

static uint32_t prop_u32(const void *fdt, int node, const char *name, uint32_t dflt)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	return p && len == 4 ? fdt32_to_cpu(*p) : dflt;
}

static int probe_regs(struct uart *u, const void *fdt, int node, uint32_t shift, uint32_t width)
{
	uint64_t base, size;
	struct dt_error err;

	if (dt_reg(fdt, node, 0, &base, &size, &err) < 0)
		return -1;
	u->phys = base;
	u->base = (uintptr_t)ioremap(base, size ? size : PAGE_SIZE);
	if (!u->base)
		return -1;
	u->reg_shift = prop_u32(fdt, node, "reg-shift", shift);
	u->reg_io_width = prop_u32(fdt, node, "reg-io-width", width);
	return u->reg_shift <= 3 && (u->reg_io_width == 1 || u->reg_io_width == 4) ? 0 : -1;
}

static int ns16550_probe(struct uart *u, const void *fdt, int node)
{
	return probe_regs(u, fdt, node, 0, 1);
}

static int bcm2835_aux_probe(struct uart *u, const void *fdt, int node)
{
	return probe_regs(u, fdt, node, 2, 4);
}

static uint32_t reg_read(const struct uart *u, unsigned int reg)
{
	uintptr_t a = u->base + (reg << u->reg_shift);

	return u->reg_io_width == 4 ? mmio_read32(a) : mmio_read8(a);
}

static void reg_write(const struct uart *u, unsigned int reg, uint32_t v)
{
	uintptr_t a = u->base + (reg << u->reg_shift);

	if (u->reg_io_width == 4)
		mmio_write32(a, v);
	else
		mmio_write8(a, (uint8_t)v);
}

static void ns16550_putc(const struct uart *u, char c)
{
	while (!(reg_read(u, UART_LSR) & LSR_THRE))
		;
	reg_write(u, UART_THR, (uint8_t)c);
}

static const char *const ns16550_compat[] = { "ns16550a", "ns16550", "ns16450",
					      "snps,dw-apb-uart", NULL };

const struct uart_driver ns16550_driver = {
	.name = "ns16550a",
	.compatible = ns16550_compat,
	.probe = ns16550_probe,
	.putc = ns16550_putc,
};

static const char *const bcm2835_aux_compat[] = { "brcm,bcm2835-aux-uart", NULL };

const struct uart_driver bcm2835_aux_driver = {
	.name = "bcm2835-aux",
	.compatible = bcm2835_aux_compat,
	.probe = bcm2835_aux_probe,
	.putc = ns16550_putc,
};
