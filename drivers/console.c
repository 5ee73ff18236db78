// SPDX-License-Identifier: MIT
/*
 * The console: printk's sink. Until the device tree's UART is up, text goes
 * to the arch's early console; when there is none it is kept in a small
 * buffer and replayed once a UART exists, so early panics are not lost.
 */
#include <kernel/compiler.h>
#include <kernel/console.h>
#include <mm/dt.h>
#include <kernel/errno.h>
#include <kernel/arch.h>
#include <kernel/printk.h>
#include <libfdt.h>
#include <string.h>

extern const struct uart_driver ns16550_driver, bcm2835_aux_driver, pl011_driver,
	sifive_uart_driver;

static const struct uart_driver *const uart_drivers[] = {
#ifdef CONFIG_SERIAL_NS16550
	&ns16550_driver,
	&bcm2835_aux_driver,
#endif
#ifdef CONFIG_SERIAL_PL011
	&pl011_driver,
#endif
#ifdef CONFIG_SERIAL_SIFIVE
	&sifive_uart_driver,
#endif
};

static struct uart console_uart;
static bool console_up;

static char early_buf[2048];
static size_t early_len;

static void uart_write(const struct uart *u, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			u->drv->putc(u, '\r');
		u->drv->putc(u, s[i]);
	}
}

void console_write(const char *s, size_t len)
{
	if (console_up) {
		uart_write(&console_uart, s, len);
		return;
	}
	if (arch_early_console_write(s, len))
		return;
	size_t n = MIN(len, sizeof(early_buf) - early_len);
	memcpy(early_buf + early_len, s, n);
	early_len += n;
}

static const struct uart_driver *find_driver(const void *fdt, int node)
{
	for (size_t i = 0; i < ARRAY_SIZE(uart_drivers); i++) {
		for (const char *const *c = uart_drivers[i]->compatible; *c; c++) {
			if (fdt_node_check_compatible(fdt, node, *c) == 0)
				return uart_drivers[i];
		}
	}
	return NULL;
}

/* stdout-path is "path-or-alias[:options]"; libfdt resolves an alias itself. */
static int stdout_node(const void *fdt)
{
	int chosen = fdt_path_offset(fdt, "/chosen");
	const char *path;
	int len;

	if (chosen < 0)
		return -ENOENT;
	path = fdt_getprop(fdt, chosen, "stdout-path", &len);
	if (!path)
		path = fdt_getprop(fdt, chosen, "linux,stdout-path", &len);
	if (!path || len <= 0)
		return -ENOENT;
	const char *colon = memchr(path, ':', (size_t)len);
	int namelen = colon ? (int)(colon - path) : (int)strnlen(path, (size_t)len);
	int node = fdt_path_offset_namelen(fdt, path, namelen);
	return node < 0 ? -ENOENT : node;
}

bool console_stdout_is_firmware(const void *fdt)
{
	int node = stdout_node(fdt);

	return node >= 0 && fdt_node_check_compatible(fdt, node, "ucb,htif0") == 0;
}

int console_init_from_dt(const void *fdt)
{
	int node = stdout_node(fdt);
	struct uart u = { 0 };

	if (node < 0)
		return node;
	u.drv = find_driver(fdt, node);
	if (!u.drv || !dt_node_is_available(fdt, node))
		return -ENOENT;
	if (u.drv->probe(&u, fdt, node) < 0)
		return -EINVAL;
	console_uart = u;
	console_up = true;
	if (early_len) {
		uart_write(&console_uart, early_buf, early_len);
		if (early_len == sizeof(early_buf))
			printk("[early log truncated]\n");
		early_len = 0;
	}
	return 0;
}

const char *console_name(void)
{
	return console_up ? console_uart.drv->name : "early";
}

phys_addr_t console_base(void)
{
	return console_up ? console_uart.phys : 0;
}
